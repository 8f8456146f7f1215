/*
 * object.c - content that lives beside the database, named by git blob id:
 * large tool outputs and the files artifacts point at.
 *
 * A tool output larger than WAL_INLINE_MAX is written once to
 * .smithers/logs/objects/<2 hex>/<38 hex>, named by its git blob id (equal to
 * `git hash-object`), so identical outputs share one file. The file is
 * written to a temporary name and renamed; it and its directory are synced
 * once per transaction, by the commit, before the COMMIT that can make a row
 * naming it durable (wal_objects_sync()): a committed row never points at a
 * missing or partial object, and a batch of many outputs pays one sync per
 * file and one per directory, not two per output inside each operation.
 * An object whose row was rolled back is an orphan for `smithers db gc`.
 *
 * The ids of the objects known to be there (durable, or to be synced by
 * this transaction's commit) are kept in memory, so that an output seen
 * before costs no stat(). A rollback or a gc forgets them all.
 *
 * Artifacts store the file's blob id and the HEAD commit of the repository
 * holding it (libgit2), never the content.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <git2.h>

#include "common/io.h"
#include "wal/objset.h"
#include "wal/wal-int.h"

/* The blob id of DATA into OID and, as hex, OUT; libgit2 being
 * initialised. */
static int hash_blob(const void *data, size_t len, git_oid *oid,
		     char out[WAL_OID_HEXLEN + 1])
{
	if (git_odb_hash(oid, data ? data : "", len, GIT_OBJECT_BLOB) < 0) {
		errno = EIO;
		return -1;
	}
	git_oid_tostr(out, WAL_OID_HEXLEN + 1, oid);
	return 0;
}

int wal_blob_hash(const void *data, size_t len, char out[WAL_OID_HEXLEN + 1])
{
	git_oid oid;
	int rc, err;

	if (git_libgit2_init() < 0) {
		errno = EIO;
		return -1;
	}
	rc = hash_blob(data, len, &oid, out);
	err = errno;
	git_libgit2_shutdown();
	errno = err;
	return rc;
}

/* Make DIR; a new one is synced (its entry in its parent) with the
 * objects. */
static int make_dir(struct wal *w, const char *dir)
{
	if (mkdir(dir, 0700) == 0) {
		w->objects->sync_parents = 1;
		return 0;
	}
	if (errno != EEXIST)
		return wal_fail(w, errno, "cannot create '%s': %s", dir,
				strerror(errno));
	return 0;
}

/* Store DATA under its blob id ID (HEX); REL gets its path relative to the
 * state dir. Writes nothing when an object of that id is already there;
 * either way the file is synced by the transaction's commit. */
static int store_object(struct wal *w, const void *data, size_t len,
			const git_oid *id, const char *hex, char rel[PATH_MAX])
{
	char dir[PATH_MAX], path[PATH_MAX], tmp[PATH_MAX];
	struct stat sb;
	int fd, err;

	snprintf(rel, PATH_MAX, "logs/objects/%.2s/%s", hex, hex + 2);
	if (!wal_objects_of(w))
		return -1;
	if (wal_objects_known(w->objects, id))
		return 0;
	snprintf(path, sizeof(path), "%s/%s", w->dir, rel);
	if (stat(path, &sb) == 0 && (size_t)sb.st_size == len) {
		/* There already, but maybe never synced (its writer died
		 * before its commit): synced with this transaction. */
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return wal_fail(w, errno, "cannot open '%s': %s", path,
					strerror(errno));
		if (wal_objects_pend(w, fd, hex) < 0)
			return -1;
		wal_objects_add(w->objects, id);
		return 0;
	}

	snprintf(dir, sizeof(dir), "%s/logs", w->dir);
	if (make_dir(w, dir) < 0)
		return -1;
	snprintf(dir, sizeof(dir), "%s/logs/objects", w->dir);
	if (make_dir(w, dir) < 0)
		return -1;
	snprintf(dir, sizeof(dir), "%s/logs/objects/%.2s", w->dir, hex);
	if (make_dir(w, dir) < 0)
		return -1;
	snprintf(tmp, sizeof(tmp), "%s/.tmp-%ld-%s", dir, (long)getpid(),
		 hex + 2);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return wal_fail(w, errno, "cannot create '%s': %s", tmp,
				strerror(errno));
	if (cm_write_all(fd, data, len) < 0) {
		err = errno;
		close(fd);
		unlink(tmp);
		return wal_fail(w, err, "cannot write '%s': %s", tmp,
				strerror(err));
	}
	if (rename(tmp, path) < 0) {
		err = errno;
		close(fd);
		unlink(tmp);
		return wal_fail(w, err, "cannot store '%s': %s", path,
				strerror(err));
	}
	if (wal_objects_pend(w, fd, hex) < 0)
		return -1;
	wal_objects_add(w->objects, id);
	return 0;
}

/* A one-line summary of a spilled output: its first line, shortened. */
static void default_summary(const char *data, size_t len, char *out,
			    size_t outlen)
{
	size_t n = 0;

	while (n < len && n < 120 && data[n] != '\n' && data[n] != '\0')
		n++;
	snprintf(out, outlen, "%.*s%s (%zu bytes)", (int)n, data,
		 n < len ? "..." : "", len);
}

static int64_t tool_complete(struct wal *w, int64_t id, const void *output,
			     size_t len, const char *summary,
			     const char *status, const char *error)
{
	char hex[WAL_OID_HEXLEN + 1], rel[PATH_MAX], now[WAL_TIME_LEN];
	char auto_summary[200];
	int spill = output && len > WAL_INLINE_MAX;
	git_oid oid;
	int64_t r;

	if (!status)
		status = "completed";
	if (strcmp(status, "completed") && strcmp(status, "failed"))
		return wal_fail(w, EINVAL,
				"tool call status must be completed or "
				"failed, not '%s'",
				status);
	if (spill) {
		if (wal_git_init(w) < 0)
			return -1;
		if (hash_blob(output, len, &oid, hex) < 0)
			return wal_fail(w, EIO, "cannot hash tool output");
		if (store_object(w, output, len, &oid, hex, rel) < 0)
			return -1;
		if (!summary) {
			default_summary(output, len, auto_summary,
					sizeof(auto_summary));
			summary = auto_summary;
		}
	}
	wal_now(now);
	sqlite3_stmt *st = wal_cached(
		w, "UPDATE tool_calls SET status = ?2, output_inline = ?3,"
		   " output_path = ?4, output_hash = ?5, output_size = ?6,"
		   " summary = ?7, error = ?8, ended_at = ?9,"
		   " duration_ms = " WAL_DURATION_MS("?9") " WHERE id = ?1");
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, status, -1, SQLITE_STATIC);
	if (output && !spill)
		sqlite3_bind_text(st, 3, output, (int)len, SQLITE_STATIC);
	if (spill) {
		sqlite3_bind_text(st, 4, rel, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, hex, -1, SQLITE_STATIC);
	}
	if (output)
		sqlite3_bind_int64(st, 6, (int64_t)len);
	wal_bind_text(st, 7, summary);
	wal_bind_text(st, 8, error);
	sqlite3_bind_text(st, 9, now, -1, SQLITE_STATIC);
	r = wal_step_done(w, st, "cannot record tool output");
	sqlite3_clear_bindings(st); /* nothing borrowed stays bound */
	if (r < 0)
		return -1;
	return wal_need_row(w, sqlite3_changes64(w->db), "tool call", id);
}

int wal_tool_complete(struct wal *w, int64_t id, const void *output, size_t len,
		      const char *summary, const char *status,
		      const char *error)
{
	if (len > INT_MAX)
		return wal_fail(w, EINVAL, "tool output too large (%zu bytes)",
				len);
	/* One statement: the update (the object is a file). */
	return wal_status(WAL_OP1(
		w, tool_complete(w, id, output, len, summary, status, error)));
}

/* ---- artifacts ------------------------------------------------------------
 */

/* Size and line count of the file at PATH. */
static int measure(struct wal *w, const char *path, int64_t *size,
		   int64_t *lines)
{
	char buf[65536];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC), err;
	char last = '\n';

	if (fd < 0)
		return wal_fail(w, errno, "cannot read artifact '%s': %s", path,
				strerror(errno));
	*size = 0;
	*lines = 0;
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = errno;
			close(fd);
			return wal_fail(w, err, "cannot read artifact '%s': %s",
					path, strerror(err));
		}
		for (ssize_t i = 0; i < n; i++)
			*lines += buf[i] == '\n';
		*size += n;
		last = buf[n - 1];
	}
	close(fd);
	if (last != '\n') /* a last line without its newline still counts */
		(*lines)++;
	return 0;
}

/* HEAD of the repository holding PATH into HEX; "" outside one or when the
 * repository has no commit yet. */
static void head_commit(const char *path, char hex[WAL_OID_HEXLEN + 1])
{
	git_repository *repo = NULL;
	git_oid oid;
	char dir[PATH_MAX], *slash;

	hex[0] = '\0';
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	if (git_repository_open_ext(&repo, dir, 0, NULL) < 0)
		return;
	if (git_reference_name_to_id(&oid, repo, "HEAD") == 0)
		git_oid_tostr(hex, WAL_OID_HEXLEN + 1, &oid);
	git_repository_free(repo);
}

static int64_t artifact_add(struct wal *w, int64_t agent_id, const char *name,
			    const char *type, const char *path,
			    const char *summary, const char *metadata)
{
	char real[PATH_MAX], blob[WAL_OID_HEXLEN + 1],
		commit[WAL_OID_HEXLEN + 1];
	char now[WAL_TIME_LEN];
	int64_t size, lines;
	struct stat sb;
	git_oid oid;

	if (!name || !*name || !path || !*path)
		return wal_fail(w, EINVAL,
				"an artifact needs a name and a path");
	if (!realpath(path, real) || stat(real, &sb) < 0)
		return wal_fail(w, errno, "cannot read artifact '%s': %s", path,
				strerror(errno));
	if (!S_ISREG(sb.st_mode))
		return wal_fail(w, EINVAL,
				"artifact '%s' is not a regular file", path);
	if (measure(w, real, &size, &lines) < 0 || wal_git_init(w) < 0)
		return -1;
	if (git_odb_hashfile(&oid, real, GIT_OBJECT_BLOB) < 0)
		return wal_fail(w, EIO, "cannot hash artifact '%s': %s", path,
				git_error_last() ? git_error_last()->message
						 : "unknown error");
	git_oid_tostr(blob, sizeof(blob), &oid);
	head_commit(real, commit);
	wal_now(now);
	if (wal_run(w, "cannot record artifact",
		    "INSERT INTO artifacts(execution_id, agent_id, name, type,"
		    " file_path, git_hash, git_commit, summary, line_count,"
		    " byte_size, metadata, created_at) VALUES ("
		    " COALESCE((SELECT execution_id FROM agents WHERE id = ?1),"
		    " ?2), ?1, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
		    "iittttttIItt", agent_id, w->execution_id, name, type, real,
		    blob, commit[0] ? commit : NULL, summary, lines, size,
		    metadata, now) < 0) {
		if (errno == EINVAL)
			return wal_fail(w, EINVAL,
					"cannot record artifact '%s': no agent "
					"%" PRId64 " or metadata not JSON",
					name, agent_id);
		return -1;
	}
	return sqlite3_last_insert_rowid(w->db);
}

int64_t wal_artifact_add(struct wal *w, int64_t agent_id, const char *name,
			 const char *type, const char *path,
			 const char *summary, const char *metadata_json)
{
	return WAL_OP(w, artifact_add(w, agent_id, name, type, path, summary,
				      metadata_json));
}
