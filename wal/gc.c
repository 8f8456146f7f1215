/*
 * gc.c - the retention policy (`smithers db gc`): drop old executions with
 * everything they own, delete the files no row needs any more, then VACUUM.
 *
 * What goes:
 *  - Executions the options allow (keep the newest N, drop only those that
 *    ended more than T ago; both rules when both are given), never one that
 *    is running or pending: it belongs to a live or an interrupted run.
 *    Their phases, agents, tool calls, transitions and artifacts go with
 *    them through the schema's ON DELETE CASCADE; memories, state rows and
 *    artifacts of other executions that named them keep their row with the
 *    reference set to NULL.
 *  - Files under logs/objects/ whose blob id no remaining tool call names
 *    (tool_calls.output_hash), whatever made them orphans.
 *  - Directories logs/agents/ID/ of executions that no longer exist.
 *
 * What stays, so that a key's history and replay still tell the truth:
 *  - The state table (current values) is never touched.
 *  - A key's newest transition stays even when its execution goes: it is
 *    detached (execution_id NULL) instead. Without it, the newest remaining
 *    transition of the key would hold an older value than the key has, and
 *    replaying the newest transition would change state (or bring a deleted
 *    key back). A deleted key whose every transition goes loses its
 *    tombstone (deleted_state) too: nothing of its history is left.
 *  - Each remaining transition whose previous one (prev_id) was dropped is
 *    linked to the newest remaining older transition of its key, or to
 *    none. No pointer is left at a dropped id: SQLite gives the id of a
 *    dropped newest row to the next insert, and a pointer left there would
 *    graft another key's history onto this one's.
 *
 * Order, for crashes: the rows go in one transaction committed with
 * synchronous=FULL, and only then are files deleted; a crash in between
 * leaves orphan files, which the next gc deletes. The caller holds the
 * supervisor lock (or is the supervisor), so no row can come to name an
 * object between the check and the unlink.
 *
 * A dry run does the same work in a transaction it rolls back: its counts
 * are exactly what a real run would drop.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/grow.h"
#include "wal/wal-int.h"

/* A garbage object: its blob id; its size. */
struct gc_object {
	char hex[WAL_OID_HEXLEN + 1];
	int64_t bytes;
};

struct gc {
	struct wal *w;
	const struct wal_gc_options *o;
	struct wal_gc_result *out;
	int state_fd; /* the state dir, .smithers */
	struct gc_object *objects;
	size_t nobjects, capobjects;
	int64_t *logs; /* execution ids of the log dirs to remove */
	size_t nlogs, caplogs;
	int failed; /* a file could not be removed (the first reason kept) */
	int forget; /* the handle's execution (wal_set_execution) goes */
};

/* Keep the first reason a file could not be removed; go on with the rest. */
static void file_fail(struct gc *g, const char *rel)
{
	int err = errno;

	if (!g->failed)
		wal_fail(g->w, err, "cannot remove '%s/%s': %s", g->w->dir, rel,
			 strerror(err));
	g->failed = 1;
	errno = err;
}

/* Why the directory REL (below the state dir) cannot be read; -1. */
static int read_fail(struct gc *g, const char *rel, int err)
{
	return wal_fail(g->w, err, "cannot read '%s/%s': %s", g->w->dir, rel,
			strerror(err));
}

/* The directory NAME below the directory AT, through a symbolic link only
 * when FOLLOW. NULL with errno. */
static DIR *open_dir(int at, const char *name, int follow)
{
	int fd = openat(at, name,
			O_RDONLY | O_DIRECTORY | O_CLOEXEC |
				(follow ? 0 : O_NOFOLLOW)),
	    err;
	DIR *d;

	if (fd < 0)
		return NULL;
	d = fdopendir(fd);
	if (!d) {
		err = errno;
		close(fd);
		errno = err;
	}
	return d;
}

/* ---- rows ------------------------------------------------------------- */

static int drop_rows(struct gc *g)
{
	struct wal *w = g->w;
	struct wal_gc_result *out = g->out;
	struct wal_stats before, after;
	char sql[96];
	int64_t n;

	if (wal_stats(w, &before) < 0)
		return -1;
	out->db_bytes_before = before.db_bytes + before.wal_bytes;
	if (wal_exec(w,
		     "CREATE TEMP TABLE gc_exec(id INTEGER PRIMARY KEY);"
		     "CREATE TEMP TABLE gc_keys(key TEXT PRIMARY KEY)"
		     " WITHOUT ROWID",
		     "cannot collect garbage") < 0)
		return -1;
	/* An unparsable or missing end time compares as NULL: kept. */
	if (wal_run(w, "cannot choose executions",
		    "INSERT INTO gc_exec(id) SELECT id FROM executions"
		    " WHERE status NOT IN ('running', 'pending')"
		    " AND (?1 < 0 OR id NOT IN (SELECT id FROM executions"
		    "  ORDER BY id DESC LIMIT ?1))"
		    " AND (?2 < 0 OR julianday(ended_at) <"
		    "  julianday('now') - ?2 / 86400.0)",
		    "II", g->o->keep, g->o->older_than_s) < 0)
		return -1;
	n = wal_fleet_gc_hold(w);
	if (n < 0)
		return -1;
	out->held = n;

	/* Each key's newest transition stays, detached. */
	n = wal_run(w, "cannot keep the newest transitions",
		    "UPDATE transitions SET execution_id = NULL"
		    " WHERE id IN (SELECT head FROM state)"
		    " AND execution_id IN (SELECT id FROM gc_exec)",
		    "");
	if (n < 0)
		return -1;
	out->heads_kept = n;
	/* A deleted key's too, unless nothing else of its history stays. */
	n = wal_run(w, "cannot keep the newest transitions",
		    "UPDATE transitions SET execution_id = NULL"
		    " WHERE id IN (SELECT head FROM deleted_state)"
		    " AND execution_id IN (SELECT id FROM gc_exec)"
		    " AND key IN (SELECT key FROM transitions"
		    "  WHERE execution_id IS NULL"
		    "  OR execution_id NOT IN (SELECT id FROM gc_exec))",
		    "");
	if (n < 0)
		return -1;
	out->heads_kept += n;
	snprintf(sql, sizeof(sql),
		 "SELECT count(*) FROM gc_exec WHERE id = %" PRId64,
		 w->execution_id);
	if (wal_read_int(w, sql, &n) < 0)
		return -1;
	g->forget = n > 0;
	if (wal_run(w, "cannot drop executions",
		    "DELETE FROM executions"
		    " WHERE id IN (SELECT id FROM gc_exec)",
		    "") < 0)
		return -1;

	/* Relink each transition whose previous one is missing to the
	 * newest remaining older one of its key (a key's chain is all its
	 * transitions in id order), and each head pointing nowhere to its
	 * key's newest. Only what the drop (or anything before) broke. */
	if (wal_run(w, "cannot relink transitions",
		    "INSERT OR IGNORE INTO gc_keys SELECT key"
		    " FROM transitions AS t WHERE t.prev_id IS NOT NULL"
		    " AND NOT EXISTS (SELECT 1 FROM transitions AS p"
		    "  WHERE p.id = t.prev_id)",
		    "") < 0 ||
	    wal_run(w, "cannot relink transitions",
		    "UPDATE transitions SET prev_id = c.prev FROM"
		    " (SELECT id, lag(id) OVER (PARTITION BY key ORDER BY id)"
		    "  AS prev FROM transitions"
		    "  WHERE key IN (SELECT key FROM gc_keys)) AS c"
		    " WHERE transitions.id = c.id"
		    " AND transitions.prev_id IS NOT NULL"
		    " AND NOT EXISTS (SELECT 1 FROM transitions AS p"
		    "  WHERE p.id = transitions.prev_id)",
		    "") < 0 ||
	    wal_run(w, "cannot relink transitions",
		    "UPDATE state SET head = (SELECT max(id) FROM transitions"
		    " WHERE key = state.key) WHERE head IS NOT NULL"
		    " AND NOT EXISTS (SELECT 1 FROM transitions"
		    "  WHERE id = state.head)",
		    "") < 0)
		return -1;
	/* Tombstones whose whole chain went. */
	n = wal_run(
		w, "cannot prune deleted keys",
		"DELETE FROM deleted_state WHERE NOT EXISTS"
		" (SELECT 1 FROM transitions WHERE id = deleted_state.head)",
		"");
	if (n < 0)
		return -1;
	out->tombstones = n;

	if (wal_stats(w, &after) < 0)
		return -1;
	out->executions = before.executions - after.executions;
	out->phases = before.phases - after.phases;
	out->agents = before.agents - after.agents;
	out->tool_calls = before.tool_calls - after.tool_calls;
	out->transitions = before.transitions - after.transitions;
	out->artifacts = before.artifacts - after.artifacts;
	return 0;
}

/* ---- files ------------------------------------------------------------ */

static int is_hex(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len && s[i]; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return i == len && s[i] == '\0';
}

/* Room for item N in the array whose pointer is at V, of *CAP items of
 * SIZE bytes (cm_grow): 0, or -1 (out of memory, said in G's handle). */
static int room_for(struct gc *g, void *v, size_t *cap, size_t n, size_t size)
{
	if (cm_grow(v, cap, n, size) < 0)
		return wal_fail(g->w, ENOMEM, "out of memory");
	return 0;
}

static int add_object(struct gc *g, const char *fan, const char *rest,
		      int64_t bytes)
{
	if (room_for(g, &g->objects, &g->capobjects, g->nobjects,
		     sizeof(*g->objects)) < 0)
		return -1;
	snprintf(g->objects[g->nobjects].hex, WAL_OID_HEXLEN + 1, "%s%s", fan,
		 rest);
	g->objects[g->nobjects++].bytes = bytes;
	return 0;
}

/* The objects of fan-out directory FAN that no tool call names. */
static int find_objects_in(struct gc *g, DIR *objects, const char *fan,
			   sqlite3_stmt *named)
{
	char hex[WAL_OID_HEXLEN + 1], rel[32];
	struct dirent *e;
	struct stat sb;
	int fd, rc, ret = 0;
	DIR *d = open_dir(dirfd(objects), fan, 0);

	if (!d) {
		if (errno == ENOTDIR || errno == ELOOP)
			return 0; /* not a directory of ours */
		snprintf(rel, sizeof(rel), "logs/objects/%s", fan);
		return read_fail(g, rel, errno);
	}
	fd = dirfd(d);
	while (ret == 0 && (e = readdir(d))) {
		/* Temporary files of a writer, and anything else, stay. */
		if (!is_hex(e->d_name, WAL_OID_HEXLEN - 2) ||
		    fstatat(fd, e->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(sb.st_mode))
			continue;
		snprintf(hex, sizeof(hex), "%s%s", fan, e->d_name);
		sqlite3_bind_text(named, 1, hex, -1, SQLITE_STATIC);
		rc = sqlite3_step(named);
		sqlite3_reset(named);
		if (rc == SQLITE_DONE)
			ret = add_object(g, fan, e->d_name,
					 (int64_t)sb.st_size);
		else if (rc != SQLITE_ROW)
			ret = wal_sqlfail(g->w, rc, "cannot read tool calls");
	}
	closedir(d);
	return ret;
}

static int find_objects(struct gc *g)
{
	DIR *d = open_dir(g->state_fd, "logs/objects", 1);
	struct dirent *e;
	sqlite3_stmt *named;
	int ret = 0;

	if (!d)
		return errno == ENOENT ? 0
				       : read_fail(g, "logs/objects", errno);
	named = wal_prepare(g->w, "SELECT 1 FROM tool_calls"
				  " WHERE output_hash = ?1 LIMIT 1");
	if (!named)
		ret = -1;
	while (ret == 0 && (e = readdir(d)))
		if (is_hex(e->d_name, 2))
			ret = find_objects_in(g, d, e->d_name, named);
	sqlite3_finalize(named);
	closedir(d);
	return ret;
}

/*
 * Add up the size of the files below NAME, a directory in the directory
 * AT, and remove them and it when REMOVE. Symbolic links are removed,
 * never followed. Returns 0, or -1 with errno.
 */
static int walk_tree(int at, const char *name, int remove, int64_t *bytes)
{
	DIR *d = open_dir(at, name, 0);
	struct dirent *e;
	struct stat sb;
	int fd, ret = 0, err;

	if (!d)
		return errno == ENOENT ? 0 : -1;
	fd = dirfd(d);
	while (ret == 0 && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (fstatat(fd, e->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno != ENOENT)
				ret = -1;
			continue;
		}
		if (S_ISDIR(sb.st_mode)) {
			ret = walk_tree(fd, e->d_name, remove, bytes);
			continue;
		}
		*bytes += (int64_t)sb.st_size;
		if (remove && unlinkat(fd, e->d_name, 0) < 0 && errno != ENOENT)
			ret = -1;
	}
	err = errno;
	closedir(d);
	errno = err;
	if (ret == 0 && remove && unlinkat(at, name, AT_REMOVEDIR) < 0 &&
	    errno != ENOENT)
		ret = -1;
	return ret;
}

/* An execution id written as the supervisor names its log dir; else 0. */
static int64_t log_dir_id(const char *name)
{
	int64_t id = 0;
	size_t i;

	if (name[0] < '1' || name[0] > '9' || strlen(name) > 18)
		return 0;
	for (i = 0; name[i]; i++) {
		if (name[i] < '0' || name[i] > '9')
			return 0;
		id = id * 10 + (name[i] - '0');
	}
	return id;
}

static int add_log(struct gc *g, int64_t id)
{
	if (room_for(g, &g->logs, &g->caplogs, g->nlogs, sizeof(*g->logs)) <
	    0)
		return -1;
	g->logs[g->nlogs++] = id;
	return 0;
}

/* The agent log dirs of executions that no longer exist. */
static int find_logs(struct gc *g)
{
	DIR *d = open_dir(g->state_fd, "logs/agents", 1);
	sqlite3_stmt *exists;
	struct dirent *e;
	struct stat sb;
	int fd, rc, ret = 0;
	int64_t id;

	if (!d)
		return errno == ENOENT ? 0 : read_fail(g, "logs/agents", errno);
	fd = dirfd(d);
	exists = wal_prepare(g->w, "SELECT 1 FROM executions WHERE id = ?1");
	if (!exists)
		ret = -1;
	while (ret == 0 && (e = readdir(d))) {
		id = log_dir_id(e->d_name);
		if (!id ||
		    fstatat(fd, e->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISDIR(sb.st_mode))
			continue;
		sqlite3_bind_int64(exists, 1, id);
		rc = sqlite3_step(exists);
		sqlite3_reset(exists);
		if (rc == SQLITE_DONE)
			ret = add_log(g, id);
		else if (rc != SQLITE_ROW)
			ret = wal_sqlfail(g->w, rc, "cannot read executions");
	}
	sqlite3_finalize(exists);
	closedir(d);
	return ret;
}

/* What the files found would free (a dry run). */
static void count_files(struct gc *g)
{
	char rel[64];

	g->out->objects = (int64_t)g->nobjects;
	for (size_t i = 0; i < g->nobjects; i++)
		g->out->object_bytes += g->objects[i].bytes;
	g->out->log_dirs = (int64_t)g->nlogs;
	for (size_t i = 0; i < g->nlogs; i++) {
		snprintf(rel, sizeof(rel), "logs/agents/%" PRId64, g->logs[i]);
		walk_tree(g->state_fd, rel, 0, &g->out->log_bytes);
	}
}

/* Delete the files found; after the commit only. */
static void remove_files(struct gc *g)
{
	char rel[64];
	size_t i;

	for (i = 0; i < g->nobjects; i++) {
		const char *hex = g->objects[i].hex;

		snprintf(rel, sizeof(rel), "logs/objects/%.2s/%s", hex,
			 hex + 2);
		if (unlinkat(g->state_fd, rel, 0) < 0 && errno != ENOENT) {
			file_fail(g, rel);
			continue;
		}
		g->out->objects++;
		g->out->object_bytes += g->objects[i].bytes;
		/* The fan-out directory, once its last object went. */
		if (i + 1 == g->nobjects ||
		    strncmp(hex, g->objects[i + 1].hex, 2)) {
			snprintf(rel, sizeof(rel), "logs/objects/%.2s", hex);
			unlinkat(g->state_fd, rel, AT_REMOVEDIR);
		}
	}
	for (i = 0; i < g->nlogs; i++) {
		int64_t bytes = 0;

		snprintf(rel, sizeof(rel), "logs/agents/%" PRId64, g->logs[i]);
		if (walk_tree(g->state_fd, rel, 1, &bytes) < 0)
			file_fail(g, rel);
		else
			g->out->log_dirs++;
		g->out->log_bytes += bytes;
	}
}

/* ---- the whole ---------------------------------------------------------- */

/* The connection's pragma NAME, to put back after the gc. */
static int pragma_get(struct wal *w, const char *name, int64_t *v)
{
	char sql[64];

	snprintf(sql, sizeof(sql), "PRAGMA %s", name);
	return wal_read_int(w, sql, v);
}

static int pragma_set(struct wal *w, const char *name, int64_t v)
{
	char sql[64];

	snprintf(sql, sizeof(sql), "PRAGMA %s = %" PRId64, name, v);
	return wal_exec(w, sql, "cannot collect garbage");
}

/* Everything between BEGIN and COMMIT (or the dry run's ROLLBACK). */
static int collect(struct gc *g)
{
	struct wal *w = g->w;
	int err;

	if (wal_exec(w, "BEGIN IMMEDIATE", "cannot collect garbage") < 0)
		return -1;
	wal_keys_forget(w); /* heads are relinked, agents go */
	if (drop_rows(g) < 0 || find_objects(g) < 0 || find_logs(g) < 0 ||
	    wal_exec(w, "DROP TABLE temp.gc_exec; DROP TABLE temp.gc_keys",
		     "cannot collect garbage") < 0)
		goto undo;
	if (g->o->dry_run) {
		count_files(g);
		if (wal_exec(w, "ROLLBACK", "cannot roll back") == 0)
			return 0;
	} else if (wal_exec(w, "COMMIT", "cannot commit") == 0) {
		g->out->committed = 1;
		/* Later writes must not name an execution that is gone. */
		if (g->forget)
			w->execution_id = 0;
		return 0;
	}
undo:
	err = errno;
	if (!sqlite3_get_autocommit(w->db))
		sqlite3_exec(w->db, "ROLLBACK", NULL, NULL, NULL);
	errno = err;
	return -1;
}

int wal_gc(struct wal *w, const struct wal_gc_options *o,
	   struct wal_gc_result *out)
{
	struct gc g = {.w = w, .o = o, .out = out, .state_fd = -1};
	struct wal_stats st;
	int64_t synchronous = -1, temp_store = -1;
	char keep[sizeof(w->errmsg)];
	int ret = -1, err, restored;

	memset(out, 0, sizeof(*out));
	if (wal_writable(w) < 0)
		return -1;
	if (w->in_batch || !sqlite3_get_autocommit(w->db))
		return wal_fail(w, EBUSY,
				"cannot collect garbage inside a transaction");
	if (o->keep < 0 && o->older_than_s < 0)
		return wal_fail(w, EINVAL,
				"a gc needs a rule: keep or older than");
	wal_objects_forget(w); /* the files it deletes are not there */
	g.state_fd = open(w->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (g.state_fd < 0)
		return wal_fail(w, errno, "cannot open '%s': %s", w->dir,
				strerror(errno));
	/*
	 * The commit must be on disk before any file goes, whatever the
	 * handle's level (a syncer's handle runs NORMAL). Temporary data -
	 * VACUUM's copy of the whole database above all - goes to files, not
	 * memory. Both are put back at the end.
	 */
	if (pragma_get(w, "synchronous", &synchronous) < 0 ||
	    pragma_get(w, "temp_store", &temp_store) < 0 ||
	    pragma_set(w, "synchronous", 2) < 0 ||
	    pragma_set(w, "temp_store", 1) < 0)
		goto out;

	if (collect(&g) < 0)
		goto out;
	if (o->dry_run) {
		out->db_bytes_after = out->db_bytes_before;
		ret = 0;
		goto out;
	}
	remove_files(&g);
	/* VACUUM writes the new database through the WAL: the files shrink
	 * once the checkpoint has copied it back (not while a reader still
	 * needs old pages; a later checkpoint does it then). */
	if (wal_exec(w, "VACUUM", "cannot vacuum") < 0) {
		g.failed = 1;
	} else {
		sqlite3_wal_checkpoint_v2(
			w->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	}
	if (wal_stats(w, &st) == 0)
		out->db_bytes_after = st.db_bytes + st.wal_bytes;
	else
		g.failed = 1;
	ret = g.failed ? -1 : 0;
out:
	/* Put the pragmas back, keeping the reason of an earlier failure. */
	err = errno;
	memcpy(keep, w->errmsg, sizeof(keep));
	restored = 1;
	if (synchronous >= 0 && pragma_set(w, "synchronous", synchronous) < 0)
		restored = 0;
	if (temp_store >= 0 && pragma_set(w, "temp_store", temp_store) < 0)
		restored = 0;
	if (!restored) {
		if (ret == 0)
			err = errno;
		else
			memcpy(w->errmsg, keep, sizeof(keep));
		ret = -1;
	}
	close(g.state_fd);
	free(g.objects);
	free(g.logs);
	errno = err;
	return ret;
}
