/*
 * testutil.c - helpers of the wal/ unit tests; see testutil.h. Everything
 * here either succeeds or fails the current cmocka test.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "tests/unit/testutil.h"

static char *xstrdup(const char *s)
{
	char *p;

	if (!s)
		return NULL;
	p = strdup(s);
	assert_non_null(p);
	return p;
}

int tu_collect(const struct wal_row *row, void *arg)
{
	struct tu_rows *r = arg;
	struct tu_row *nr;
	int i;

	r->rows = realloc(r->rows, (size_t)(r->n + 1) * sizeof(*r->rows));
	assert_non_null(r->rows);
	nr = &r->rows[r->n++];
	nr->ncols = row->ncols;
	nr->names = calloc((size_t)row->ncols + 1, sizeof(char *));
	nr->values = calloc((size_t)row->ncols + 1, sizeof(char *));
	nr->types = calloc((size_t)row->ncols + 1, sizeof(enum wal_type));
	assert_non_null(nr->names);
	assert_non_null(nr->values);
	assert_non_null(nr->types);
	for (i = 0; i < row->ncols; i++) {
		nr->names[i] = xstrdup(row->names[i]);
		nr->values[i] = xstrdup(row->values[i]);
		nr->types[i] = row->types[i];
	}
	return 0;
}

void tu_rows_free(struct tu_rows *r)
{
	int i, j;

	for (i = 0; i < r->n; i++) {
		for (j = 0; j < r->rows[i].ncols; j++) {
			free(r->rows[i].names[j]);
			free(r->rows[i].values[j]);
		}
		free(r->rows[i].names);
		free(r->rows[i].values);
		free(r->rows[i].types);
	}
	free(r->rows);
	r->rows = NULL;
	r->n = 0;
}

int tu_col(const struct tu_rows *r, int i, const char *col)
{
	int j;

	if (i < 0 || i >= r->n)
		return -1;
	for (j = 0; j < r->rows[i].ncols; j++)
		if (r->rows[i].names[j] && !strcmp(r->rows[i].names[j], col))
			return j;
	return -1;
}

const char *tu_val(const struct tu_rows *r, int i, const char *col)
{
	int j;

	if (i < 0 || i >= r->n)
		fail_msg("no row %d (%d rows) for column '%s'", i, r->n, col);
	j = tu_col(r, i, col);
	if (j < 0)
		fail_msg("no column '%s' in row %d", col, i);
	return r->rows[i].values[j];
}

int64_t tu_int(const struct tu_rows *r, int i, const char *col)
{
	const char *v = tu_val(r, i, col);

	if (!v)
		fail_msg("column '%s' of row %d is NULL", col, i);
	return strtoll(v, NULL, 10);
}

int tu_find(const struct tu_rows *r, const char *col, const char *value)
{
	int i, j;

	for (i = 0; i < r->n; i++) {
		j = tu_col(r, i, col);
		if (j >= 0 && r->rows[i].values[j] &&
		    !strcmp(r->rows[i].values[j], value))
			return i;
	}
	return -1;
}

char *tu_mkdtemp(void)
{
	const char *tmp = getenv("TMPDIR");
	char *path;

	if (!tmp || !*tmp)
		tmp = "/tmp";
	path = tu_path("%s/smithers-unit-XXXXXX", tmp);
	if (!mkdtemp(path))
		fail_msg("mkdtemp '%s': %s", path, strerror(errno));
	return path;
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP || flag == FTW_D)
		return rmdir(path) < 0 && errno != ENOENT ? -1 : 0;
	return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
}

void tu_rmrf(const char *path)
{
	struct stat st;

	if (!path || lstat(path, &st) < 0)
		return;
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

char *tu_path(const char *fmt, ...)
{
	va_list ap;
	char *p;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&p, fmt, ap);
	va_end(ap);
	assert_true(n >= 0);
	return p;
}

void tu_write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	const char *p = data;

	if (fd < 0)
		fail_msg("cannot create '%s': %s", path, strerror(errno));
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		assert_true(n > 0);
		p += n;
		len -= (size_t)n;
	}
	assert_int_equal(close(fd), 0);
}

char *tu_read_file(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t cap = 4096, n = 0;
	char *buf;

	*len = 0;
	if (fd < 0)
		return NULL;
	buf = malloc(cap + 1);
	assert_non_null(buf);
	for (;;) {
		ssize_t k;

		if (n == cap) {
			cap *= 2;
			buf = realloc(buf, cap + 1);
			assert_non_null(buf);
		}
		k = read(fd, buf + n, cap - n);
		if (k < 0 && errno == EINTR)
			continue;
		assert_true(k >= 0);
		if (k == 0)
			break;
		n += (size_t)k;
	}
	close(fd);
	buf[n] = '\0';
	*len = n;
	return buf;
}

static int counted;

static int count_one(const char *path, const struct stat *st, int flag,
		     struct FTW *ftw)
{
	(void)path;
	(void)ftw;
	if (flag == FTW_F && S_ISREG(st->st_mode))
		counted++;
	return 0;
}

int tu_count_files(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return 0;
	counted = 0;
	nftw(path, count_one, 16, FTW_PHYS);
	return counted;
}

int tu_setup_dir(void **state)
{
	struct tu_fx *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	fx->dir = tu_mkdtemp();
	*state = fx;
	return 0;
}

int tu_setup(void **state)
{
	struct wal_options o = {.create = 1};
	struct tu_fx *fx;

	tu_setup_dir(state);
	fx = *state;
	if (wal_open(fx->dir, &o, &fx->w) < 0) {
		/* No teardown follows a failed setup: clean up here. */
		print_message("# wal_open '%s': %s\n", fx->dir,
			      fx->w ? wal_errmsg(fx->w) : "(no handle)");
		tu_teardown(state);
		return -1;
	}
	return 0;
}

int tu_teardown(void **state)
{
	struct tu_fx *fx = *state;

	if (!fx)
		return 0;
	wal_close(fx->w);
	tu_rmrf(fx->dir);
	free(fx->dir);
	free(fx);
	*state = NULL;
	return 0;
}

struct wal *tu_open(const char *dir, const struct wal_options *opt)
{
	struct wal *w = NULL;

	if (wal_open(dir, opt, &w) < 0) {
		char msg[1200];

		snprintf(msg, sizeof(msg), "wal_open '%s': %s (errno %d)", dir,
			 w ? wal_errmsg(w) : "(no handle)", errno);
		wal_close(w);
		fail_msg("%s", msg);
	}
	assert_non_null(w);
	return w;
}

struct wal *tu_open_create(const char *dir)
{
	struct wal_options o = {.create = 1};

	return tu_open(dir, &o);
}

struct first {
	int seen;
	char *value;
};

static int first_fn(const struct wal_row *row, void *arg)
{
	struct first *f = arg;

	if (!f->seen && row->ncols > 0) {
		f->seen = 1;
		f->value = xstrdup(row->values[0]);
	}
	return 0;
}

static char *vquery1(struct wal *w, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

static char *vquery1(struct wal *w, const char *fmt, va_list ap)
{
	struct first f = {0, NULL};
	char *sql;
	int rc;

	assert_true(vasprintf(&sql, fmt, ap) >= 0);
	rc = wal_query(w, sql, first_fn, &f);
	if (rc != 0) {
		char msg[1500];

		snprintf(msg, sizeof(msg), "wal_query '%s' = %d: %s", sql, rc,
			 wal_errmsg(w));
		free(sql);
		free(f.value);
		fail_msg("%s", msg);
	}
	free(sql);
	return f.value;
}

char *tu_query1(struct wal *w, const char *fmt, ...)
{
	va_list ap;
	char *v;

	va_start(ap, fmt);
	v = vquery1(w, fmt, ap);
	va_end(ap);
	return v;
}

int64_t tu_query_int(struct wal *w, const char *fmt, ...)
{
	va_list ap;
	char *v;
	int64_t n;

	va_start(ap, fmt);
	v = vquery1(w, fmt, ap);
	va_end(ap);
	if (!v)
		fail_msg("query '%s' gave NULL or no row", fmt);
	n = strtoll(v, NULL, 10);
	free(v);
	return n;
}

void tu_sqlite_exec(const char *db, const char *sql)
{
	sqlite3 *s = NULL;
	char *err = NULL;
	int rc;

	rc = sqlite3_open_v2(db, &s, SQLITE_OPEN_READWRITE, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(s, sql, NULL, NULL, &err);
	if (rc != SQLITE_OK) {
		char msg[1024];

		snprintf(msg, sizeof(msg), "sqlite '%s' on '%s': %s", sql, db,
			 err ? err : sqlite3_errmsg(s));
		sqlite3_free(err);
		sqlite3_close(s);
		fail_msg("%s", msg);
	}
	sqlite3_close(s);
}

int64_t tu_sqlite_int(const char *db, const char *sql)
{
	sqlite3 *s = NULL;
	sqlite3_stmt *st = NULL;
	int64_t v = -1;
	int rc;

	rc = sqlite3_open_v2(db, &s, SQLITE_OPEN_READONLY, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(s, sql, -1, &st, NULL);
	if (rc != SQLITE_OK) {
		char msg[1024];

		snprintf(msg, sizeof(msg), "sqlite '%s' on '%s': %s", sql, db,
			 sqlite3_errmsg(s));
		sqlite3_close(s);
		fail_msg("%s", msg);
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(s);
	assert_true(rc == SQLITE_ROW || rc == SQLITE_DONE);
	return v;
}

const char *tu_git(void)
{
	const char *g = getenv("GIT");

	return g && *g ? g : "git";
}

int tu_run(const char *fmt, ...)
{
	va_list ap;
	char *cmd;
	int st;

	va_start(ap, fmt);
	assert_true(vasprintf(&cmd, fmt, ap) >= 0);
	va_end(ap);
	st = system(cmd);
	free(cmd);
	if (st < 0 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

static void read_oid(const char *cmd, char out[WAL_OID_HEXLEN + 1])
{
	char line[128] = "";
	FILE *p = popen(cmd, "r");
	size_t n;

	if (!p)
		fail_msg("cannot run '%s'", cmd);
	if (!fgets(line, sizeof(line), p))
		line[0] = '\0';
	assert_int_equal(pclose(p), 0);
	n = strcspn(line, "\r\n");
	line[n] = '\0';
	if (n != WAL_OID_HEXLEN)
		fail_msg("'%s' printed '%s'", cmd, line);
	memcpy(out, line, WAL_OID_HEXLEN + 1);
}

void tu_git_hash_file(const char *path, char out[WAL_OID_HEXLEN + 1])
{
	char *cmd = tu_path("'%s' hash-object -- '%s'", tu_git(), path);

	read_oid(cmd, out);
	free(cmd);
}

void tu_git_head(const char *repo, char out[WAL_OID_HEXLEN + 1])
{
	char *cmd = tu_path("'%s' -C '%s' rev-parse HEAD", tu_git(), repo);

	read_oid(cmd, out);
	free(cmd);
}

void tu_assert_time(const char *s)
{
	static const char pat[] = "dddd-dd-ddTdd:dd:dd.dddZ";
	size_t i;

	if (!s)
		fail_msg("time is NULL");
	if (strlen(s) != sizeof(pat) - 1)
		fail_msg("time '%s' is not like 2026-11-26T15:22:17.123Z", s);
	for (i = 0; i < sizeof(pat) - 1; i++) {
		int ok = pat[i] == 'd' ? isdigit((unsigned char)s[i])
				       : s[i] == pat[i];

		if (!ok)
			fail_msg("time '%s' is not like "
				 "2026-11-26T15:22:17.123Z",
				 s);
	}
}
