/*
 * test_wal_lookup.c - the agents' read-only lookup of a state value
 * (wal/lookup.h): what it reads, beside a writer, and what it refuses,
 * each refusal with its errno and a message.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tests/unit/testutil.h"
#include "wal/lookup.h"

static struct wal_lookup *lookup_open(const char *dir)
{
	struct wal_lookup *l = NULL;

	if (wal_lookup_open(dir, &l) < 0)
		fail_msg("wal_lookup_open '%s': %s", dir, wal_lookup_errmsg(l));
	return l;
}

static void test_value_and_missing_key(void **state)
{
	struct tu_fx *fx = *state;
	struct wal_lookup *l;
	char *v;

	assert_int_equal(wal_state_set(fx->w, "phase", "\"review\"", NULL, 0),
			 0);
	l = lookup_open(fx->dir);
	v = wal_lookup_get(l, "phase");
	assert_non_null(v);
	assert_string_equal(v, "\"review\"");
	free(v);
	errno = 0;
	assert_null(wal_lookup_get(l, "nope"));
	assert_int_equal(errno, ENOENT);
	assert_string_equal(wal_lookup_errmsg(l), "no state key 'nope'");
	/* After a miss it reads again, and sees what was committed since. */
	assert_int_equal(wal_state_set(fx->w, "phase", "\"done\"", NULL, 0), 0);
	v = wal_lookup_get(l, "phase");
	assert_non_null(v);
	assert_string_equal(v, "\"done\"");
	free(v);
	wal_lookup_close(l);
	wal_lookup_close(NULL);
}

/* A writer in the middle of a batch neither blocks the lookup nor shows
 * it what it has not committed. */
static void test_beside_a_writer(void **state)
{
	struct tu_fx *fx = *state;
	struct wal_lookup *l;
	char *v;

	assert_int_equal(wal_state_set(fx->w, "k", "1", NULL, 0), 0);
	assert_int_equal(wal_batch_begin(fx->w), 0);
	assert_int_equal(wal_state_set(fx->w, "k", "2", NULL, 0), 0);
	assert_int_equal(wal_state_set(fx->w, "new", "3", NULL, 0), 0);
	l = lookup_open(fx->dir);
	v = wal_lookup_get(l, "k");
	assert_non_null(v);
	assert_string_equal(v, "1");
	free(v);
	errno = 0;
	assert_null(wal_lookup_get(l, "new"));
	assert_int_equal(errno, ENOENT);
	assert_int_equal(wal_batch_commit(fx->w), 0);
	v = wal_lookup_get(l, "k");
	assert_non_null(v);
	assert_string_equal(v, "2");
	free(v);
	v = wal_lookup_get(l, "new");
	assert_non_null(v);
	assert_string_equal(v, "3");
	free(v);
	wal_lookup_close(l);
}

/* EXPECTED errno from opening DIR, a message containing WHAT. */
static void assert_refused(const char *dir, int expected, const char *what)
{
	struct wal_lookup *l = NULL;

	errno = 0;
	assert_int_equal(wal_lookup_open(dir, &l), -1);
	assert_int_equal(errno, expected);
	assert_non_null(l);
	if (!strstr(wal_lookup_errmsg(l), what))
		fail_msg("'%s' does not say '%s'", wal_lookup_errmsg(l), what);
	wal_lookup_close(l);
}

static void test_no_state(void **state)
{
	struct tu_fx *fx = *state;
	char *sdir = tu_path("%s/.smithers", fx->dir);
	char *db = tu_path("%s/smithers.db", sdir);

	assert_refused(fx->dir, ENOENT, "no smithers state in");
	/* A database being created (an empty file, version 0): no state yet.
	 * It is not touched. */
	assert_int_equal(mkdir(sdir, 0700), 0);
	tu_write_file(db, "", 0);
	assert_refused(fx->dir, ENOENT, "no smithers state in");
	assert_int_equal(tu_count_files(sdir), 1);
	free(db);
	free(sdir);
}

static void test_newer_schema(void **state)
{
	struct tu_fx *fx = *state;
	char *db = tu_path("%s/.smithers/smithers.db", fx->dir);
	char sql[64];

	wal_close(fx->w);
	fx->w = NULL;
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d",
		 WAL_SCHEMA_VERSION + 1);
	tu_sqlite_exec(db, sql);
	assert_refused(fx->dir, EPROTO, "upgrade smithers");
	free(db);
}

static void test_not_ours(void **state)
{
	struct tu_fx *fx = *state;
	char *sdir = tu_path("%s/.smithers", fx->dir);
	char *db = tu_path("%s/smithers.db", sdir);
	char junk[4096];

	assert_int_equal(mkdir(sdir, 0700), 0);
	/* An SQLite database with a version but no state table. */
	tu_write_file(db, "", 0);
	tu_sqlite_exec(db, "CREATE TABLE t(x); PRAGMA user_version = 1");
	assert_refused(fx->dir, EPROTO, "no such table");
	/* Not a database at all. */
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = "this is not a database\n"[i % 23];
	tu_write_file(db, junk, sizeof(junk));
	assert_refused(fx->dir, EIO, "smithers.db");
	free(db);
	free(sdir);
}

#define T(f)  cmocka_unit_test_setup_teardown(f, tu_setup, tu_teardown)
#define TD(f) cmocka_unit_test_setup_teardown(f, tu_setup_dir, tu_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_value_and_missing_key),
		T(test_beside_a_writer),
		TD(test_no_state),
		T(test_newer_schema),
		TD(test_not_ours),
	};

	return cmocka_run_group_tests_name("wal_lookup", tests, NULL, NULL);
}
