/*
 * testutil.h - what the unit tests of wal/ share: a temporary state dir per
 * test, rows read through wal_row_fn copied into owned memory, a look at the
 * database file from outside (SQLite directly) and the real git, so that the
 * store's hashes are checked against `git hash-object` rather than against
 * themselves.
 *
 * Every helper that can fail asserts (cmocka): call them from the test
 * process only, never from a forked child.
 */
#ifndef SMITHERS_TESTUTIL_H
#define SMITHERS_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "wal/wal.h"

/* One copied row: names, values (NULL for SQL NULL) and types. */
struct tu_row {
	int ncols;
	char **names;
	char **values;
	enum wal_type *types;
};

/* Rows collected by tu_collect(); zero-initialise, release with
 * tu_rows_free(). */
struct tu_rows {
	int n;
	struct tu_row *rows;
};

/* A wal_row_fn that appends a copy of ROW to the struct tu_rows ARG. */
int tu_collect(const struct wal_row *row, void *arg);
/* Free the rows and make R empty again (reusable). */
void tu_rows_free(struct tu_rows *r);
/* Index of column COL in row I, or -1. */
int tu_col(const struct tu_rows *r, int i, const char *col);
/* Value of column COL in row I (borrowed; NULL for SQL NULL). Fails the
 * test when row I or column COL does not exist. */
const char *tu_val(const struct tu_rows *r, int i, const char *col);
/* The same as an integer; fails the test on NULL. */
int64_t tu_int(const struct tu_rows *r, int i, const char *col);
/* Row index whose column COL equals VALUE, or -1. */
int tu_find(const struct tu_rows *r, const char *col, const char *value);

/* Per-test fixture: a fresh temporary dir and (tu_setup) a created store. */
struct tu_fx {
	char *dir;
	struct wal *w;
};
int tu_setup(void **state);
int tu_setup_dir(void **state);
int tu_teardown(void **state);

/* A new private temporary directory (caller frees the path). */
char *tu_mkdtemp(void);
/* Remove PATH and everything below it. */
void tu_rmrf(const char *path);
/* A path made from FMT (caller frees). */
char *tu_path(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Write LEN bytes to PATH (created 0644, truncated). */
void tu_write_file(const char *path, const void *data, size_t len);
/* Read the whole of PATH (caller frees; *LEN set); NULL if it cannot. */
char *tu_read_file(const char *path, size_t *len);
/* Regular files below PATH (recursively); 0 if PATH is absent. */
int tu_count_files(const char *path);

/* Open the store of DIR with OPT, failing the test (with wal_errmsg) if it
 * cannot. */
struct wal *tu_open(const char *dir, const struct wal_options *opt);
/* The same with {.create = 1}. */
struct wal *tu_open_create(const char *dir);

/* First column of the first row of SQL run through wal_query (caller
 * frees; NULL for SQL NULL or no row). Fails the test if the query does. */
char *tu_query1(struct wal *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The same as an integer; fails the test on NULL. */
int64_t tu_query_int(struct wal *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Run SQL on the database file DB directly with SQLite (not through the
 * store): tu_sqlite_exec asserts success, tu_sqlite_int returns the first
 * column of the first row (-1 for no row). */
void tu_sqlite_exec(const char *db, const char *sql);
int64_t tu_sqlite_int(const char *db, const char *sql);

/* Path of git ($GIT, else "git"). */
const char *tu_git(void);
/* Run a shell command made from FMT; returns its exit status (-1 if it
 * did not exit). */
int tu_run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* `git hash-object PATH` into OUT. */
void tu_git_hash_file(const char *path, char out[WAL_OID_HEXLEN + 1]);
/* `git rev-parse HEAD` of the repository at REPO into OUT. */
void tu_git_head(const char *repo, char out[WAL_OID_HEXLEN + 1]);

/* Assert S is a time as the store writes it: "2026-11-26T15:22:17.123Z". */
void tu_assert_time(const char *s);

#endif /* SMITHERS_TESTUTIL_H */
