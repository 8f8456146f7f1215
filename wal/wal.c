/*
 * wal.c - the store's handle: opening DIR/.smithers/smithers.db with the
 * pragmas every connection needs, closing it, the transaction discipline
 * (batches of savepointed operations) and the statistics of the files.
 *
 * Invariants:
 *  - The state dir is created 0700 and the database 0600 (the file is made
 *    before SQLite opens it; SQLite gives -wal and -shm the same mode).
 *  - A writable handle runs journal_mode=WAL, foreign_keys=ON and the chosen
 *    synchronous level; a read-only one also sets query_only.
 *  - At most one transaction is open per handle; inside a batch each
 *    operation is one savepoint, so a failed one is undone alone.
 *
 * Its statements run through sql.c's helpers; the migrations it applies at
 * open are schema.c's. Neither calls back here.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <git2.h>

#include "wal/wal-int.h"

static char *join_path(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *p = malloc(la + lb + 2);

	if (!p)
		return NULL;
	memcpy(p, a, la);
	p[la] = '/';
	memcpy(p + la + 1, b, lb + 1);
	return p;
}

const char *wal_errmsg(const struct wal *w)
{
	if (!w)
		return "out of memory";
	return w->errmsg[0] ? w->errmsg : "no error";
}

const char *wal_db_path(const struct wal *w)
{
	return w->path;
}

const char *wal_state_dir(const struct wal *w)
{
	return w->dir;
}

/* ---- transactions ----------------------------------------------------- */

int wal_writable(struct wal *w)
{
	if (w->readonly)
		return wal_fail(w, EROFS, "the store is open read-only");
	return 0;
}

/* Run a prepared transaction-control statement. */
static int control(struct wal *w, enum wal_stmt_id id, const char *what)
{
	sqlite3_stmt *st = wal_stmt(w, id);

	if (!st)
		return -1;
	return wal_step_done(w, st, what);
}

int wal_op_begin(struct wal *w)
{
	if (wal_writable(w) < 0)
		return -1;
	if (w->in_batch) {
		/* SQLite rolled the batch back by itself (I/O, a full disk):
		 * what was known of it went too. */
		if (sqlite3_get_autocommit(w->db))
			wal_keys_forget(w);
		return control(w, ST_SAVEPOINT, "cannot open savepoint");
	}
	if (control(w, ST_BEGIN, "cannot begin transaction") < 0)
		return -1;
	wal_keys_check(w);
	return 0;
}

/* SQLite rolled the whole batch back by itself: the objects it wrote go
 * too, and the message (errmsg) says so. */
static void batch_lost(struct wal *w)
{
	char keep[sizeof(w->errmsg)];

	memcpy(keep, w->errmsg, sizeof(keep));
	wal_objects_drop(w);
	wal_keys_forget(w);
	w->in_batch = 0;
	snprintf(w->errmsg, sizeof(w->errmsg),
		 "%s (the whole batch was rolled back)", keep);
}

int wal_op_end(struct wal *w, int ok)
{
	char keep[sizeof(w->errmsg)];
	int err = errno, rc;

	if (ok) {
		if (w->in_batch)
			return control(w, ST_RELEASE,
				       "cannot release savepoint");
		if (wal_objects_sync(w) == 0 &&
		    control(w, ST_COMMIT, "cannot commit") == 0)
			return 0;
		wal_objects_drop(w);
		wal_keys_forget(w);
		/* A failed COMMIT may leave the transaction open. */
		if (!sqlite3_get_autocommit(w->db)) {
			memcpy(keep, w->errmsg, sizeof(keep));
			err = errno;
			control(w, ST_ROLLBACK, "cannot roll back");
			memcpy(w->errmsg, keep, sizeof(keep));
			errno = err;
		}
		return -1;
	}
	/* Undo, keeping the message of the failure that got us here. */
	memcpy(keep, w->errmsg, sizeof(keep));
	wal_keys_forget(w);
	if (!w->in_batch)
		wal_objects_drop(w);
	if (sqlite3_get_autocommit(w->db)) {
		/* SQLite already rolled everything back (I/O error, full). */
		if (w->in_batch) {
			batch_lost(w);
			errno = err;
			return -1;
		}
	} else if (w->in_batch) {
		rc = control(w, ST_ROLLBACK_TO, "cannot roll back savepoint");
		if (rc == 0)
			rc = control(w, ST_RELEASE, "cannot release savepoint");
	} else {
		control(w, ST_ROLLBACK, "cannot roll back");
	}
	memcpy(w->errmsg, keep, sizeof(keep));
	errno = err;
	return -1;
}

int wal_op1_begin(struct wal *w)
{
	if (!w->in_batch)
		return wal_op_begin(w);
	return wal_writable(w);
}

int wal_op1_end(struct wal *w, int ok)
{
	int err = errno;

	if (!w->in_batch)
		return wal_op_end(w, ok);
	if (ok)
		return 0;
	if (sqlite3_get_autocommit(w->db))
		batch_lost(w); /* SQLite rolled it all back (I/O error, full) */
	errno = err;
	return -1;
}

int wal_update_one(struct wal *w, const char *noun, int64_t id, const char *sql,
		   const char *fmt, ...)
{
	char what[64];
	va_list ap;
	int64_t r;

	if (wal_op_begin(w) < 0)
		return -1;
	snprintf(what, sizeof(what), "cannot update %s", noun);
	va_start(ap, fmt);
	r = wal_need_row(w, wal_vrun(w, what, sql, fmt, ap), noun, id);
	va_end(ap);
	if (wal_op_end(w, r >= 0) < 0)
		return -1;
	return wal_status(r);
}

int wal_batch_begin(struct wal *w)
{
	if (wal_writable(w) < 0)
		return -1;
	if (w->in_batch)
		return wal_fail(w, EBUSY, "a batch is already open");
	if (control(w, ST_BEGIN, "cannot begin batch") < 0)
		return -1;
	wal_keys_check(w);
	w->in_batch = 1;
	return 0;
}

int wal_batch_commit(struct wal *w)
{
	char keep[sizeof(w->errmsg)];
	int err;

	if (!w->in_batch)
		return wal_fail(w, EINVAL, "no batch is open");
	w->in_batch = 0;
	if (sqlite3_get_autocommit(w->db)) {
		wal_objects_drop(w);
		wal_keys_forget(w);
		return wal_fail(w, EIO,
				"the batch was rolled back by an "
				"earlier error");
	}
	/* The objects its rows name are durable before the rows can be. */
	if (wal_objects_sync(w) == 0 &&
	    control(w, ST_COMMIT, "cannot commit batch") == 0)
		return 0;
	wal_objects_drop(w);
	wal_keys_forget(w);
	err = errno;
	memcpy(keep, w->errmsg, sizeof(keep));
	if (!sqlite3_get_autocommit(w->db))
		control(w, ST_ROLLBACK, "cannot roll back");
	memcpy(w->errmsg, keep, sizeof(keep));
	errno = err;
	return -1;
}

int wal_batch_rollback(struct wal *w)
{
	if (!w->in_batch)
		return wal_fail(w, EINVAL, "no batch is open");
	w->in_batch = 0;
	wal_objects_drop(w);
	wal_keys_forget(w);
	if (sqlite3_get_autocommit(w->db))
		return 0;
	return control(w, ST_ROLLBACK, "cannot roll back batch");
}

int wal_in_batch(const struct wal *w)
{
	return w->in_batch;
}

void wal_set_execution(struct wal *w, int64_t execution_id)
{
	w->execution_id = execution_id;
}

/* git_libgit2_init() also starts OpenSSL and reads the system's TLS
 * certificates, which the store never uses: milliseconds of CPU. */
static void *git_warm(void *arg)
{
	struct wal *w = arg;

	w->git_warm_rc = git_libgit2_init();
	return NULL;
}

void wal_git_warm(struct wal *w)
{
	if (!w || w->git_initialised || w->git_warming)
		return;
	if (pthread_create(&w->git_thread, NULL, git_warm, w) == 0)
		w->git_warming = 1;
}

/* The warm-up's end: its init counts as the handle's own. */
static void git_warmed(struct wal *w)
{
	if (!w->git_warming)
		return;
	pthread_join(w->git_thread, NULL);
	w->git_warming = 0;
	if (w->git_warm_rc >= 0)
		w->git_initialised = 1;
}

int wal_git_init(struct wal *w)
{
	git_warmed(w);
	if (w->git_initialised)
		return 0;
	if (git_libgit2_init() < 0)
		return wal_fail(w, EIO, "cannot initialise libgit2");
	w->git_initialised = 1;
	return 0;
}

/* ---- open and close ----------------------------------------------------- */

/* Non-zero when a database at version 0 already holds tables: someone
 * else's, which we must neither migrate nor read as ours. */
static int foreign_database(struct wal *w)
{
	int64_t n = 0;

	if (wal_read_int(w, "SELECT count(*) FROM sqlite_schema", &n) < 0)
		return 0;
	return n > 0;
}

static int remove_db_files(struct wal *w)
{
	static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
	char name[4096];

	for (size_t i = 0; i < sizeof(suffix) / sizeof(*suffix); i++) {
		snprintf(name, sizeof(name), "%s%s", w->path, suffix[i]);
		if (unlink(name) < 0 && errno != ENOENT)
			return wal_fail(w, errno, "cannot remove '%s': %s",
					name, strerror(errno));
	}
	return 0;
}

/* Make the state dir and an empty 0600 database file if they are missing. */
static int create_files(struct wal *w, const char *dir)
{
	int fd;

	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return wal_fail(w, errno, "cannot create '%s': %s", dir,
				strerror(errno));
	if (mkdir(w->dir, 0700) < 0 && errno != EEXIST)
		return wal_fail(w, errno, "cannot create '%s': %s", w->dir,
				strerror(errno));
	fd = open(w->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return wal_fail(w, errno, "cannot create '%s': %s", w->path,
				strerror(errno));
	close(fd);
	return 0;
}

static int set_pragmas(struct wal *w, const struct wal_options *opt)
{
	sqlite3_stmt *st;
	const char *mode;
	int ok;

	if (w->readonly)
		return wal_exec(w, "PRAGMA query_only = ON", "cannot open");
	st = wal_prepare(w, "PRAGMA journal_mode = WAL");
	if (!st)
		return -1;
	if (sqlite3_step(st) != SQLITE_ROW) {
		wal_sqlfail(w, sqlite3_errcode(w->db), "cannot open");
		sqlite3_finalize(st);
		return -1;
	}
	mode = (const char *)sqlite3_column_text(st, 0);
	ok = mode && strcmp(mode, "wal") == 0;
	sqlite3_finalize(st);
	if (!ok)
		return wal_fail(w, EIO, "cannot put '%s' in WAL mode", w->path);
	if (wal_exec(w,
		     opt->synchronous == WAL_SYNC_NORMAL
			     ? "PRAGMA synchronous = NORMAL"
			     : "PRAGMA synchronous = FULL",
		     "cannot open") < 0)
		return -1;
	/* The WAL is truncated back to this size after a checkpoint. */
	return wal_exec(w,
			"PRAGMA foreign_keys = ON;"
			"PRAGMA journal_size_limit = 67108864;"
			"PRAGMA temp_store = MEMORY",
			"cannot open");
}

/* Before SQLite's first use in the process: no memory statistics, whose
 * global mutex every allocation of every statement step would take. If
 * SQLite was already initialised by someone else, this is refused: fine. */
static void configure_sqlite(void)
{
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

static int read_only_fs(const char *path)
{
	struct statvfs v;

	return statvfs(path, &v) == 0 && (v.f_flag & ST_RDONLY);
}

/* "file:PATH?immutable=1", with what a URI path cannot hold escaped. */
static char *immutable_uri(const char *path)
{
	size_t n = strlen(path);
	char *uri = malloc(3 * n + 32), *p;

	if (!uri)
		return NULL;
	p = uri + sprintf(uri, "file:");
	for (const char *c = path; *c; c++) {
		if (*c == '%' || *c == '?' || *c == '#')
			p += sprintf(p, "%%%02x", (unsigned char)*c);
		else
			*p++ = *c;
	}
	strcpy(p, "?immutable=1");
	return uri;
}

int wal_open(const char *dir, const struct wal_options *opt, struct wal **out)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	static const struct wal_options defaults;
	struct wal *w;
	struct stat sb;
	int flags, rc, version, target;

	*out = NULL;
	pthread_once(&once, configure_sqlite);
	if (!opt)
		opt = &defaults;
	w = calloc(1, sizeof(*w));
	if (!w) {
		errno = ENOMEM;
		return -1;
	}
	*out = w;
	w->wal_fd = w->shm_fd = -1;
	w->readonly = opt->readonly;
	w->dir = join_path(dir, ".smithers");
	w->path = w->dir ? join_path(w->dir, "smithers.db") : NULL;
	if (!w->path)
		return wal_fail(w, ENOMEM, "out of memory");

	if (!w->readonly && opt->reset && remove_db_files(w) < 0)
		return -1;
	if (!w->readonly && opt->create && create_files(w, dir) < 0)
		return -1;
	if (stat(w->path, &sb) < 0) {
		if (errno == ENOENT)
			return wal_fail(w, ENOENT, "no smithers state in '%s'",
					dir);
		return wal_fail(w, errno, "cannot open '%s': %s", w->path,
				strerror(errno));
	}
	if (!S_ISREG(sb.st_mode))
		return wal_fail(w, EIO, "cannot open '%s': not a regular file",
				w->path);
	w->file_dev = sb.st_dev;
	w->file_ino = sb.st_ino;

	flags = (w->readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) |
		SQLITE_OPEN_NOMUTEX;
	if (w->readonly && read_only_fs(w->dir)) {
		/* Nobody can change it, and SQLite could not create the WAL
		 * index a reader needs: read it as it is. */
		char *uri = immutable_uri(w->path);

		if (!uri)
			return wal_fail(w, ENOMEM, "out of memory");
		rc = sqlite3_open_v2(uri, &w->db, flags | SQLITE_OPEN_URI,
				     NULL);
		free(uri);
	} else {
		rc = sqlite3_open_v2(w->path, &w->db, flags, NULL);
	}
	if (rc != SQLITE_OK) {
		wal_fail(w, wal_errno(rc), "cannot open '%s': %s", w->path,
			 w->db ? sqlite3_errmsg(w->db) : sqlite3_errstr(rc));
		return -1;
	}
	sqlite3_extended_result_codes(w->db, 1);
	/* Before the first read: a reader of a database being created may
	 * hold it for a moment. */
	sqlite3_busy_timeout(
		w->db, opt->busy_timeout_ms > 0 ? opt->busy_timeout_ms : 5000);

	/* The first read tells a database from anything else. */
	version = wal_schema_version(w);
	if (version < 0)
		return wal_fail(w, errno, "cannot open '%s': %s", w->path,
				sqlite3_errmsg(w->db));
	if (version == 0 && foreign_database(w))
		return wal_fail(
			w, EPROTO,
			"cannot open '%s': it is an SQLite database but "
			"not a smithers one (it has tables and no schema "
			"version)",
			w->path);
	if (version > WAL_SCHEMA_VERSION)
		return wal_fail(w, EPROTO,
				"cannot open '%s': its schema version %d is "
				"newer than this smithers knows (%d); upgrade "
				"smithers",
				w->path, version, WAL_SCHEMA_VERSION);
	if (set_pragmas(w, opt) < 0)
		return -1;

	target = opt->target_version > 0 ? opt->target_version
					 : WAL_SCHEMA_VERSION;
	if (target > WAL_SCHEMA_VERSION)
		return wal_fail(w, EINVAL, "no schema version %d", target);
	if (version < target) {
		if (w->readonly) {
			if (version == 0)
				return wal_fail(w, ENOENT,
						"no smithers state in '%s'",
						dir);
			return wal_fail(w, EPROTO,
					"cannot read '%s': schema version %d "
					"needs migrating; open it once with "
					"a writer (e.g. 'smithers init')",
					w->path, version);
		}
		if (wal_schema_migrate(w, target) < 0)
			return -1;
	}
	if (opt->custom_schema && !w->readonly &&
	    wal_schema_custom(w, opt->custom_schema) < 0)
		return -1;
	w->errmsg[0] = '\0';
	return 0;
}

void wal_close(struct wal *w)
{
	if (!w)
		return;
	if (w->db) {
		if (w->in_batch && !sqlite3_get_autocommit(w->db))
			sqlite3_exec(w->db, "ROLLBACK", NULL, NULL, NULL);
		for (int i = 0; i < ST_COUNT; i++)
			sqlite3_finalize(w->st[i]);
		for (int i = 0; i < WAL_RUN_CACHE; i++)
			sqlite3_finalize(w->run_cache[i].st);
		sqlite3_close(w->db);
	}
	wal_objects_free(w);
	wal_keys_free(w);
	git_warmed(w);
	if (w->git_initialised)
		git_libgit2_shutdown();
	if (w->wal_fd >= 0)
		close(w->wal_fd);
	if (w->shm_fd >= 0)
		close(w->shm_fd);
	free(w->dir);
	free(w->path);
	free(w);
}

/* ---- statistics ---------------------------------------------------------- */

static int64_t file_size(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 ? (int64_t)sb.st_size : 0;
}

int wal_stats(struct wal *w, struct wal_stats *out)
{
	static const struct {
		const char *sql;
		size_t off;
	} counts[] = {
#define COUNT(t) {"SELECT count(*) FROM " #t, offsetof(struct wal_stats, t)}
		COUNT(executions), COUNT(phases),    COUNT(agents),
		COUNT(tool_calls), COUNT(state),     COUNT(transitions),
		COUNT(memories),   COUNT(artifacts),
#undef COUNT
	};
	char walpath[4096];
	sqlite3_stmt *st;
	const char *mode;

	memset(out, 0, sizeof(*out));
	out->schema_version = wal_schema_version(w);
	if (out->schema_version < 0)
		return -1;
	for (size_t i = 0; i < sizeof(counts) / sizeof(*counts); i++)
		if (wal_read_int(w, counts[i].sql,
				 (int64_t *)((char *)out + counts[i].off)) < 0)
			return -1;
	if (wal_read_int(w, "PRAGMA page_size", &out->page_size) < 0 ||
	    wal_read_int(w, "PRAGMA page_count", &out->page_count) < 0 ||
	    wal_read_int(w, "PRAGMA freelist_count", &out->freelist_count) < 0)
		return -1;
	st = wal_prepare(w, "PRAGMA journal_mode");
	if (!st)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW &&
	    (mode = (const char *)sqlite3_column_text(st, 0)))
		snprintf(out->journal_mode, sizeof(out->journal_mode), "%s",
			 mode);
	sqlite3_finalize(st);
	snprintf(walpath, sizeof(walpath), "%s-wal", w->path);
	out->db_bytes = file_size(w->path);
	out->wal_bytes = file_size(walpath);
	return 0;
}
