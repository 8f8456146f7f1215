/*
 * sql.c - the SQL helpers every file of wal/ runs its statements with:
 * errors recorded on the handle (SQLite's codes as errnos), the table of
 * statements prepared once per handle, one-off statements with bound
 * arguments, and the generic reads that turn rows into struct wal_row.
 *
 * It knows the handle's fields it needs (db, path, st, errmsg) and nothing
 * of opening, transactions or migrations: those (wal.c, schema.c) call
 * here, never the other way round.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wal/wal-int.h"

static const char *const stmt_sql[ST_COUNT] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_SAVEPOINT] = "SAVEPOINT op",
	[ST_RELEASE] = "RELEASE op",
	[ST_ROLLBACK_TO] = "ROLLBACK TO op",
	[ST_STATE_GET] = "SELECT value FROM state WHERE key = ?1",
	/* What the store knows of a key before it sets it (keys.c): always
	 * one row, NULLs for a key that has none. */
	[ST_STATE_FIND] =
		"SELECT s.rowid, s.value, COALESCE(s.head,"
		" (SELECT head FROM deleted_state WHERE key = ?1))"
		" FROM (SELECT 1) LEFT JOIN state AS s ON s.key = ?1",
	[ST_STATE_INSERT] =
		"INSERT INTO state(key, value, updated_at, updated_by, head)"
		" VALUES (?1, ?2, ?3, ?4, ?5)",
	[ST_STATE_UPDATE] =
		"UPDATE state SET value = ?2, updated_at = ?3,"
		" updated_by = ?4, head = ?5 WHERE rowid = ?1",
	[ST_STATE_DELETE] = "DELETE FROM state WHERE key = ?1",
	[ST_STATE_TOMBSTONE] =
		"INSERT OR REPLACE INTO deleted_state(key, head)"
		" VALUES (?1, ?2)",
	/* The old value (?7) and the previous transition (?8) are known. */
	[ST_TRANSITION_SET] =
		"INSERT INTO transitions(execution_id, key, old_value,"
		" new_value, trigger, agent_id, created_at, prev_id) VALUES ("
		"COALESCE((SELECT execution_id FROM agents WHERE id = ?5), ?1),"
		" ?2, ?7, ?3, ?4, ?5, ?6, ?8)",
	[ST_TRANSITION_DELETE] =
		"INSERT INTO transitions(execution_id, key, old_value,"
		" new_value, trigger, agent_id, created_at, prev_id) SELECT"
		" COALESCE((SELECT execution_id FROM agents WHERE id = ?5), "
		"?1),"
		" key, value, NULL, ?4, ?5, ?6, head FROM state WHERE key = ?2",
	[ST_TRANSITION_UNDO] = "DELETE FROM transitions WHERE id = ?1",
};

int wal_fail(struct wal *w, int err, const char *fmt, ...)
{
	va_list ap;

	if (w) {
		va_start(ap, fmt);
		vsnprintf(w->errmsg, sizeof(w->errmsg), fmt, ap);
		va_end(ap);
	}
	errno = err;
	return -1;
}

int wal_errno(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_CONSTRAINT:
	case SQLITE_MISMATCH:
	case SQLITE_RANGE:
	case SQLITE_TOOBIG:
		return EINVAL;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return EBUSY;
	case SQLITE_NOMEM:
		return ENOMEM;
	case SQLITE_READONLY:
		return EROFS;
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return EACCES;
	case SQLITE_FULL:
		return ENOSPC;
	case SQLITE_CANTOPEN: /* the file exists (checked first): -shm, perms */
		return EACCES;
	case SQLITE_ERROR:
		return EINVAL;
	default: /* NOTADB, CORRUPT, IOERR, PROTOCOL, ... */
		return EIO;
	}
}

int wal_sqlfail(struct wal *w, int rc, const char *what)
{
	const char *msg = w->db ? sqlite3_errmsg(w->db) : sqlite3_errstr(rc);

	if ((rc & 0xff) == SQLITE_NOTADB || (rc & 0xff) == SQLITE_CORRUPT)
		return wal_fail(w, EIO, "%s: '%s': %s", what, w->path, msg);
	return wal_fail(w, wal_errno(rc), "%s: %s", what, msg);
}

void wal_now(char buf[WAL_TIME_LEN])
{
	/* Formatting the date is most of the cost; it changes once a second. */
	static __thread time_t last_sec = -1;
	static __thread char last[WAL_TIME_LEN];
	struct timespec ts;
	struct tm tm;
	int ms;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (ts.tv_sec != last_sec) {
		gmtime_r(&ts.tv_sec, &tm);
		strftime(last, sizeof(last), "%Y-%m-%dT%H:%M:%S", &tm);
		last_sec = ts.tv_sec;
	}
	ms = (int)(ts.tv_nsec / 1000000);
	memcpy(buf, last, 19);
	buf[19] = '.';
	buf[20] = (char)('0' + ms / 100);
	buf[21] = (char)('0' + ms / 10 % 10);
	buf[22] = (char)('0' + ms % 10);
	buf[23] = 'Z';
	buf[24] = '\0';
}

int wal_bind_text(sqlite3_stmt *st, int i, const char *text)
{
	if (!text)
		return sqlite3_bind_null(st, i);
	return sqlite3_bind_text(st, i, text, -1, SQLITE_TRANSIENT);
}

int wal_bind_id(sqlite3_stmt *st, int i, int64_t id)
{
	if (id <= 0)
		return sqlite3_bind_null(st, i);
	return sqlite3_bind_int64(st, i, id);
}

sqlite3_stmt *wal_stmt(struct wal *w, enum wal_stmt_id id)
{
	sqlite3_stmt *st = w->st[id];
	int rc;

	if (st) {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		return st;
	}
	rc = sqlite3_prepare_v3(w->db, stmt_sql[id], -1,
				SQLITE_PREPARE_PERSISTENT, &w->st[id], NULL);
	if (rc != SQLITE_OK) {
		wal_sqlfail(w, rc, "cannot prepare statement");
		return NULL;
	}
	return w->st[id];
}

sqlite3_stmt *wal_prepare(struct wal *w, const char *sql)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(w->db, sql, -1, &st, NULL);

	if (rc != SQLITE_OK) {
		wal_sqlfail(w, rc, "cannot prepare statement");
		sqlite3_finalize(st);
		return NULL;
	}
	return st;
}

int wal_exec(struct wal *w, const char *sql, const char *what)
{
	char *err = NULL;
	int rc = sqlite3_exec(w->db, sql, NULL, NULL, &err);

	if (rc != SQLITE_OK) {
		wal_fail(w, wal_errno(rc), "%s: %s", what,
			 err ? err : sqlite3_errstr(rc));
		if ((rc & 0xff) == SQLITE_NOTADB ||
		    (rc & 0xff) == SQLITE_CORRUPT)
			wal_fail(w, EIO, "%s: '%s': %s", what, w->path,
				 err ? err : sqlite3_errstr(rc));
		sqlite3_free(err);
		return -1;
	}
	return 0;
}

int wal_step_done(struct wal *w, sqlite3_stmt *st, const char *what)
{
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	if (rc != SQLITE_DONE) {
		wal_sqlfail(w, rc, what);
		sqlite3_reset(st);
		return -1;
	}
	sqlite3_reset(st);
	return 0;
}

/*
 * The statement of SQL, prepared the first time and kept: the write paths
 * run the same few statements for every message, and preparing one costs
 * more than running it. A slot is found by the address of the text (the
 * callers pass literals) and the text is compared too, so that a text
 * built at run time is never taken for another. Probes 4 slots; a full
 * neighbourhood gives its first slot up.
 */
static sqlite3_stmt *run_stmt(struct wal *w, const char *sql)
{
	size_t h = ((uintptr_t)sql >> 4) % WAL_RUN_CACHE, slot = h;
	sqlite3_stmt *st;

	for (size_t i = 0; i < 4; i++) {
		size_t k = (h + i) % WAL_RUN_CACHE;

		if (w->run_cache[k].sql == sql &&
		    !strcmp(sqlite3_sql(w->run_cache[k].st), sql))
			return w->run_cache[k].st;
		if (!w->run_cache[k].st && slot == h)
			slot = k;
	}
	if (sqlite3_prepare_v3(w->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st,
			       NULL) != SQLITE_OK) {
		wal_sqlfail(w, sqlite3_errcode(w->db), "cannot prepare "
						       "statement");
		sqlite3_finalize(st);
		return NULL;
	}
	sqlite3_finalize(w->run_cache[slot].st);
	w->run_cache[slot].sql = sql;
	w->run_cache[slot].st = st;
	return st;
}

sqlite3_stmt *wal_cached(struct wal *w, const char *sql)
{
	return run_stmt(w, sql);
}

int64_t wal_vrun(struct wal *w, const char *what, const char *sql,
		 const char *fmt, va_list ap)
{
	sqlite3_stmt *st = run_stmt(w, sql);
	int i = 1, rc;

	if (!st)
		return -1;
	for (const char *f = fmt; *f; f++, i++) {
		switch (*f) {
		case 'i':
			wal_bind_id(st, i, va_arg(ap, int64_t));
			break;
		case 'I':
			sqlite3_bind_int64(st, i, va_arg(ap, int64_t));
			break;
		case 'n': {
			int64_t v = va_arg(ap, int64_t);

			if (v < 0)
				sqlite3_bind_null(st, i);
			else
				sqlite3_bind_int64(st, i, v);
			break;
		}
		case 't':
			wal_bind_text(st, i, va_arg(ap, const char *));
			break;
		case 'd':
			sqlite3_bind_double(st, i, va_arg(ap, double));
			break;
		}
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	/* The message first: a reset may say another thing. */
	if (rc != SQLITE_DONE)
		wal_sqlfail(w, rc, what);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE)
		return -1;
	return sqlite3_changes64(w->db);
}

int64_t wal_run(struct wal *w, const char *what, const char *sql,
		const char *fmt, ...)
{
	va_list ap;
	int64_t r;

	va_start(ap, fmt);
	r = wal_vrun(w, what, sql, fmt, ap);
	va_end(ap);
	return r;
}

int64_t wal_need_row(struct wal *w, int64_t changed, const char *what,
		     int64_t id)
{
	if (changed == 0)
		return wal_fail(w, ENOENT, "no %s %" PRId64, what, id);
	return changed;
}

/* ---- generic reads ------------------------------------------------------ */

static enum wal_type column_type(sqlite3_stmt *st, int i)
{
	const char *decl;

	switch (sqlite3_column_type(st, i)) {
	case SQLITE_NULL:
		return WAL_NULL;
	case SQLITE_INTEGER:
		return WAL_INTEGER;
	case SQLITE_FLOAT:
		return WAL_REAL;
	default:
		decl = sqlite3_column_decltype(st, i);
		if (decl && strncmp(decl, "JSON", 4) == 0)
			return WAL_JSON;
		return WAL_TEXT;
	}
}

/* A blob as x'hex' text, in a new string. */
static char *blob_text(sqlite3_stmt *st, int i)
{
	const unsigned char *b = sqlite3_column_blob(st, i);
	int n = sqlite3_column_bytes(st, i);
	char *s = malloc((size_t)n * 2 + 4);

	if (!s)
		return NULL;
	s[0] = 'x';
	s[1] = '\'';
	for (int k = 0; k < n; k++)
		sprintf(s + 2 + 2 * k, "%02x", b[k]);
	strcpy(s + 2 + 2 * n, "'");
	return s;
}

int wal_rows(struct wal *w, sqlite3_stmt *st, wal_row_fn *fn, void *arg)
{
	int n = sqlite3_column_count(st), rc, ret = 0;
	const char **names = calloc((size_t)n + 1, sizeof(*names));
	const char **values = calloc((size_t)n + 1, sizeof(*values));
	char **blobs = calloc((size_t)n + 1, sizeof(*blobs));
	enum wal_type *types = calloc((size_t)n + 1, sizeof(*types));
	struct wal_row row = {n, names, values, types};

	if (!names || !values || !types || !blobs) {
		ret = wal_fail(w, ENOMEM, "out of memory");
		goto out;
	}
	for (int i = 0; i < n; i++)
		names[i] = sqlite3_column_name(st, i);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		for (int i = 0; i < n; i++) {
			types[i] = column_type(st, i);
			if (sqlite3_column_type(st, i) == SQLITE_BLOB) {
				free(blobs[i]);
				blobs[i] = blob_text(st, i);
				values[i] = blobs[i];
				types[i] = WAL_TEXT;
			} else {
				values[i] = (const char *)sqlite3_column_text(
					st, i);
			}
		}
		if (!fn)
			continue;
		ret = fn(&row, arg);
		if (ret)
			goto out;
	}
	if (rc != SQLITE_DONE)
		ret = wal_sqlfail(w, rc, "cannot read");
out:
	if (blobs)
		for (int i = 0; i < n; i++)
			free(blobs[i]);
	free(blobs);
	free(names);
	free(values);
	free(types);
	sqlite3_reset(st);
	return ret;
}

int wal_list(struct wal *w, const char *sql, int64_t num, const char *text,
	     int64_t limit, wal_row_fn *fn, void *arg)
{
	sqlite3_stmt *st = wal_prepare(w, sql);
	int ret;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, num);
	wal_bind_text(st, 2, text);
	sqlite3_bind_int64(st, 3, limit > 0 ? limit : -1);
	ret = wal_rows(w, st, fn, arg);
	sqlite3_finalize(st);
	return ret;
}

int wal_count_row(const struct wal_row *row, void *counter)
{
	struct wal_counter *c = counter;

	c->rows++;
	return c->fn ? c->fn(row, c->arg) : 0;
}

int wal_query(struct wal *w, const char *sql, wal_row_fn *fn, void *arg)
{
	sqlite3_stmt **list = NULL, **grown;
	size_t n = 0, cap = 0;
	const char *tail = sql;
	int rc, ret = 0;

	/* Prepare everything first: nothing runs unless all of it reads. */
	while (tail && *tail) {
		sqlite3_stmt *st = NULL;

		rc = sqlite3_prepare_v2(w->db, tail, -1, &st, &tail);
		if (rc != SQLITE_OK) {
			ret = wal_sqlfail(w, rc, "invalid query");
			goto out;
		}
		if (!st) /* whitespace or a comment */
			continue;
		if (!sqlite3_stmt_readonly(st)) {
			const char *text = sqlite3_sql(st);

			while (*text == ' ' || *text == '\t' || *text == '\n')
				text++;
			wal_fail(w, EPERM,
				 "refusing a statement that writes: %s", text);
			sqlite3_finalize(st);
			ret = -1;
			goto out;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 4;
			grown = realloc(list, cap * sizeof(*list));
			if (!grown) {
				sqlite3_finalize(st);
				ret = wal_fail(w, ENOMEM, "out of memory");
				goto out;
			}
			list = grown;
		}
		list[n++] = st;
	}
	for (size_t i = 0; i < n && ret == 0; i++)
		ret = wal_rows(w, list[i], fn, arg);
out:
	for (size_t i = 0; i < n; i++)
		sqlite3_finalize(list[i]);
	free(list);
	return ret;
}

const char *wal_row_value(const struct wal_row *row, const char *name)
{
	for (int i = 0; i < row->ncols; i++)
		if (row->names[i] && !strcmp(row->names[i], name))
			return row->values[i];
	return NULL;
}

int wal_read_int(struct wal *w, const char *sql, int64_t *out)
{
	sqlite3_stmt *st = wal_prepare(w, sql);
	int rc;

	if (!st)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*out = sqlite3_column_int64(st, 0);
		rc = SQLITE_DONE;
	}
	if (rc != SQLITE_DONE) {
		wal_sqlfail(w, rc, "cannot read database");
		sqlite3_finalize(st);
		return -1;
	}
	sqlite3_finalize(st);
	return 0;
}
