/*
 * test_wal_memory.c - memories: add (and replace on category/scope/key),
 * get (which marks them accessed), list filters, update, delete, argument
 * checks, and the full-text index: bm25 order, kept in sync on update and
 * delete, malformed queries refused.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/unit/testutil.h"

static int64_t add(struct wal *w, const char *category, const char *scope,
		   const char *key, const char *content)
{
	struct wal_memory m = {.category = category,
			       .scope = scope,
			       .key = key,
			       .content = content,
			       .confidence = 0.5};
	int64_t id = wal_memory_add(w, &m);

	if (id <= 0)
		fail_msg("memory_add '%s': %s", key, wal_errmsg(w));
	return id;
}

static int nmatch(struct wal *w, const char *query)
{
	struct tu_rows r = {0};
	int n;

	if (wal_memory_search(w, query, NULL, 0, tu_collect, &r) != 0)
		fail_msg("search '%s': %s", query, wal_errmsg(w));
	n = r.n;
	tu_rows_free(&r);
	return n;
}

static void test_add_get(void **state)
{
	struct tu_fx *fx = *state;
	struct wal_memory m = {.category = "preference",
			       .scope = "project",
			       .key = "style",
			       .content = "tabs, 80 columns",
			       .confidence = 0.9,
			       .source = "user",
			       .expires_at = "2030-01-01T00:00:00.000Z"};
	struct tu_rows r = {0};
	int64_t e, id;
	char *v;

	e = wal_execution_start(fx->w, "e", NULL, NULL);
	assert_true(e > 0);
	m.source_execution_id = e;
	id = wal_memory_add(fx->w, &m);
	assert_true(id > 0);

	assert_int_equal(wal_memory_get(fx->w, "preference", "project", "style",
					tu_collect, &r),
			 0);
	assert_int_equal(r.n, 1);
	assert_int_equal(tu_int(&r, 0, "id"), id);
	assert_string_equal(tu_val(&r, 0, "category"), "preference");
	assert_string_equal(tu_val(&r, 0, "scope"), "project");
	assert_string_equal(tu_val(&r, 0, "key"), "style");
	assert_string_equal(tu_val(&r, 0, "content"), "tabs, 80 columns");
	assert_float_equal(atof(tu_val(&r, 0, "confidence")), 0.9, 1e-9);
	assert_string_equal(tu_val(&r, 0, "source"), "user");
	assert_int_equal(tu_int(&r, 0, "source_execution_id"), e);
	tu_assert_time(tu_val(&r, 0, "created_at"));
	tu_assert_time(tu_val(&r, 0, "updated_at"));
	assert_true(tu_col(&r, 0, "accessed_at") >= 0);
	assert_string_equal(tu_val(&r, 0, "expires_at"),
			    "2030-01-01T00:00:00.000Z");
	tu_rows_free(&r);
	/* The get marked it accessed. */
	v = tu_query1(fx->w, "SELECT accessed_at FROM memories WHERE id = %lld",
		      (long long)id);
	tu_assert_time(v);
	free(v);

	/* Absent: wrong key, wrong scope, wrong category. */
	errno = 0;
	assert_int_equal(wal_memory_get(fx->w, "preference", "project", "nope",
					tu_collect, &r),
			 -1);
	assert_int_equal(errno, ENOENT);
	errno = 0;
	assert_int_equal(wal_memory_get(fx->w, "preference", "session", "style",
					tu_collect, &r),
			 -1);
	assert_int_equal(errno, ENOENT);
	errno = 0;
	assert_int_equal(wal_memory_get(fx->w, "fact", "project", "style",
					tu_collect, &r),
			 -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(r.n, 0);
}

static void test_scope_defaults_to_global(void **state)
{
	struct tu_fx *fx = *state;
	struct tu_rows r = {0};
	int64_t id = add(fx->w, "fact", NULL, "k", "global one");

	assert_int_equal(
		wal_memory_get(fx->w, "fact", "global", "k", tu_collect, &r),
		0);
	assert_int_equal(r.n, 1);
	assert_int_equal(tu_int(&r, 0, "id"), id);
	assert_string_equal(tu_val(&r, 0, "scope"), "global");
	tu_rows_free(&r);
}

static void test_accessed_at(void **state)
{
	struct tu_fx *fx = *state;
	struct wal_options ro = {.readonly = 1};
	struct tu_rows r = {0};
	char *before, *after, *q;
	struct wal *rd;
	int64_t id;

	id = add(fx->w, "context", "session", "k", "c");
	q = tu_path("SELECT coalesce(accessed_at, 'never') FROM memories "
		    "WHERE id = %lld",
		    (long long)id);
	/* A read-only handle reads without marking. */
	before = tu_query1(fx->w, "%s", q);
	usleep(5000);
	rd = tu_open(fx->dir, &ro);
	assert_int_equal(
		wal_memory_get(rd, "context", "session", "k", tu_collect, &r),
		0);
	assert_int_equal(r.n, 1);
	tu_rows_free(&r);
	wal_close(rd);
	after = tu_query1(fx->w, "%s", q);
	assert_string_equal(before, after);
	free(after);
	/* A writable one marks it, with a newer time each time. */
	assert_int_equal(wal_memory_get(fx->w, "context", "session", "k",
					tu_collect, &r),
			 0);
	tu_rows_free(&r);
	after = tu_query1(fx->w, "%s", q);
	tu_assert_time(after);
	assert_string_not_equal(before, after);
	free(before);
	before = after;
	usleep(5000);
	assert_int_equal(wal_memory_get(fx->w, "context", "session", "k",
					tu_collect, &r),
			 0);
	tu_rows_free(&r);
	after = tu_query1(fx->w, "%s", q);
	assert_true(strcmp(after, before) > 0);
	free(before);
	free(after);
	free(q);
}

static void test_add_replaces(void **state)
{
	struct tu_fx *fx = *state;
	struct tu_rows r = {0};

	add(fx->w, "fact", "project", "db", "uses postgres");
	add(fx->w, "fact", "session", "db", "uses mysql here");
	add(fx->w, "fact", "project", "db", "uses sqlite");
	assert_int_equal(tu_query_int(fx->w, "SELECT count(*) FROM memories"),
			 2);
	assert_int_equal(
		wal_memory_get(fx->w, "fact", "project", "db", tu_collect, &r),
		0);
	assert_int_equal(r.n, 1);
	assert_string_equal(tu_val(&r, 0, "content"), "uses sqlite");
	tu_rows_free(&r);
	/* The index follows the replacement. */
	assert_int_equal(nmatch(fx->w, "postgres"), 0);
	assert_int_equal(nmatch(fx->w, "sqlite"), 1);
	assert_int_equal(nmatch(fx->w, "mysql"), 1);
	assert_int_equal(nmatch(fx->w, "uses"), 2);
}

static void test_invalid_arguments(void **state)
{
	struct tu_fx *fx = *state;
	struct wal_memory m = {.category = "fact",
			       .scope = "global",
			       .key = "k",
			       .content = "c",
			       .confidence = 0.5};
	struct wal_memory bad;

	bad = m;
	bad.category = "rumour";
	errno = 0;
	assert_int_equal(wal_memory_add(fx->w, &bad), -1);
	assert_int_equal(errno, EINVAL);
	assert_true(strlen(wal_errmsg(fx->w)) > 0);
	bad = m;
	bad.scope = "team";
	errno = 0;
	assert_int_equal(wal_memory_add(fx->w, &bad), -1);
	assert_int_equal(errno, EINVAL);
	bad = m;
	bad.confidence = 1.5;
	errno = 0;
	assert_int_equal(wal_memory_add(fx->w, &bad), -1);
	assert_int_equal(errno, EINVAL);
	bad = m;
	bad.confidence = -0.1;
	errno = 0;
	assert_int_equal(wal_memory_add(fx->w, &bad), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(tu_query_int(fx->w, "SELECT count(*) FROM memories"),
			 0);

	/* The bounds and every category and scope are fine. */
	{
		static const char *const cats[] = {
			"fact", "learning", "preference", "context", "skill"};
		static const char *const scopes[] = {"global", "project",
						     "session"};
		size_t c, s;

		for (c = 0; c < 5; c++)
			for (s = 0; s < 3; s++) {
				bad = m;
				bad.category = cats[c];
				bad.scope = scopes[s];
				bad.confidence = (c + s) % 2 ? 0.0 : 1.0;
				assert_true(wal_memory_add(fx->w, &bad) > 0);
			}
	}
	assert_int_equal(tu_query_int(fx->w, "SELECT count(*) FROM memories"),
			 15);
}

static void test_list(void **state)
{
	struct tu_fx *fx = *state;
	struct tu_rows r = {0};
	int64_t id[5];
	int i;

	id[0] = add(fx->w, "fact", "global", "f1", "a");
	usleep(3000);
	id[1] = add(fx->w, "fact", "project", "f2", "b");
	usleep(3000);
	id[2] = add(fx->w, "skill", "project", "s1", "c");
	usleep(3000);
	id[3] = add(fx->w, "fact", "session", "f3", "d");
	usleep(3000);
	id[4] = add(fx->w, "learning", "session", "l1", "e");

	assert_int_equal(wal_memory_list(fx->w, NULL, NULL, 0, tu_collect, &r),
			 0);
	assert_int_equal(r.n, 5);
	for (i = 0; i < 5; i++) /* newest first */
		assert_int_equal(tu_int(&r, i, "id"), id[4 - i]);
	tu_rows_free(&r);

	assert_int_equal(
		wal_memory_list(fx->w, "fact", NULL, 0, tu_collect, &r), 0);
	assert_int_equal(r.n, 3);
	assert_int_equal(tu_int(&r, 0, "id"), id[3]);
	assert_int_equal(tu_int(&r, 1, "id"), id[1]);
	assert_int_equal(tu_int(&r, 2, "id"), id[0]);
	tu_rows_free(&r);

	assert_int_equal(
		wal_memory_list(fx->w, NULL, "project", 0, tu_collect, &r), 0);
	assert_int_equal(r.n, 2);
	assert_int_equal(tu_int(&r, 0, "id"), id[2]);
	assert_int_equal(tu_int(&r, 1, "id"), id[1]);
	tu_rows_free(&r);

	assert_int_equal(
		wal_memory_list(fx->w, "fact", "session", 0, tu_collect, &r),
		0);
	assert_int_equal(r.n, 1);
	assert_int_equal(tu_int(&r, 0, "id"), id[3]);
	tu_rows_free(&r);

	assert_int_equal(wal_memory_list(fx->w, NULL, NULL, 2, tu_collect, &r),
			 0);
	assert_int_equal(r.n, 2);
	assert_int_equal(tu_int(&r, 0, "id"), id[4]);
	assert_int_equal(tu_int(&r, 1, "id"), id[3]);
	tu_rows_free(&r);

	assert_int_equal(
		wal_memory_list(fx->w, "context", NULL, 0, tu_collect, &r), 0);
	assert_int_equal(r.n, 0);
}

static void test_update(void **state)
{
	struct tu_fx *fx = *state;
	struct tu_rows r = {0};
	int64_t id = add(fx->w, "learning", "project", "k", "alpha beta");

	assert_int_equal(nmatch(fx->w, "alpha"), 1);
	assert_int_equal(wal_memory_update(fx->w, id, "gamma delta", -1), 0);
	assert_int_equal(wal_memory_get(fx->w, "learning", "project", "k",
					tu_collect, &r),
			 0);
	assert_string_equal(tu_val(&r, 0, "content"), "gamma delta");
	assert_float_equal(atof(tu_val(&r, 0, "confidence")), 0.5, 1e-9);
	tu_rows_free(&r);
	/* The index follows: old words gone, new ones found. */
	assert_int_equal(nmatch(fx->w, "alpha"), 0);
	assert_int_equal(nmatch(fx->w, "beta"), 0);
	assert_int_equal(nmatch(fx->w, "gamma"), 1);
	assert_int_equal(nmatch(fx->w, "delta"), 1);

	/* Confidence alone; content kept. */
	assert_int_equal(wal_memory_update(fx->w, id, NULL, 0.25), 0);
	assert_int_equal(wal_memory_get(fx->w, "learning", "project", "k",
					tu_collect, &r),
			 0);
	assert_string_equal(tu_val(&r, 0, "content"), "gamma delta");
	assert_float_equal(atof(tu_val(&r, 0, "confidence")), 0.25, 1e-9);
	tu_rows_free(&r);
	assert_int_equal(nmatch(fx->w, "gamma"), 1);

	errno = 0;
	assert_int_equal(wal_memory_update(fx->w, id + 1000, "x", -1), -1);
	assert_int_equal(errno, ENOENT);
}

static void test_delete(void **state)
{
	struct tu_fx *fx = *state;
	struct tu_rows r = {0};
	int64_t id = add(fx->w, "skill", "global", "k", "juggling torches");
	int64_t keep = add(fx->w, "skill", "global", "k2", "juggling balls");

	assert_int_equal(nmatch(fx->w, "juggling"), 2);
	assert_int_equal(wal_memory_delete(fx->w, id), 1);
	assert_int_equal(wal_memory_delete(fx->w, id), 0);
	errno = 0;
	assert_int_equal(
		wal_memory_get(fx->w, "skill", "global", "k", tu_collect, &r),
		-1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(nmatch(fx->w, "torches"), 0);
	assert_int_equal(
		wal_memory_search(fx->w, "juggling", NULL, 0, tu_collect, &r),
		0);
	assert_int_equal(r.n, 1);
	assert_int_equal(tu_int(&r, 0, "id"), keep);
	tu_rows_free(&r);
	assert_int_equal(wal_memory_delete(fx->w, keep), 1);
	assert_int_equal(nmatch(fx->w, "juggling"), 0);
}

static void test_search_ranking(void **state)
{
	struct tu_fx *fx = *state;
	struct tu_rows r = {0};
	int64_t often, once_long, shorter, longer, bykey;

	once_long = add(fx->w, "fact", "global", "k1",
			"the parser is one part of a long pipeline with many "
			"other stages that are described here at some length");
	often = add(fx->w, "fact", "global", "k2",
		    "parser parser parser handles tokens and more words");
	add(fx->w, "fact", "global", "k3", "unrelated text about gardens");
	longer = add(fx->w, "learning", "global", "k4",
		     "a lexer appears once in this rather long and winding "
		     "sentence that keeps going on and on about other things");
	shorter = add(fx->w, "learning", "global", "k5", "lexer rules");
	bykey = add(fx->w, "skill", "global", "giraffe", "tall animal");

	/* More occurrences at a similar length rank first. */
	assert_int_equal(
		wal_memory_search(fx->w, "parser", NULL, 0, tu_collect, &r), 0);
	assert_int_equal(r.n, 2);
	assert_int_equal(tu_int(&r, 0, "id"), often);
	assert_int_equal(tu_int(&r, 1, "id"), once_long);
	assert_true(atof(tu_val(&r, 0, "rank")) <= atof(tu_val(&r, 1, "rank")));
	assert_string_equal(tu_val(&r, 0, "content"),
			    "parser parser parser handles tokens and more "
			    "words");
	tu_rows_free(&r);
	/* One occurrence in a shorter text ranks first. */
	assert_int_equal(
		wal_memory_search(fx->w, "lexer", NULL, 0, tu_collect, &r), 0);
	assert_int_equal(r.n, 2);
	assert_int_equal(tu_int(&r, 0, "id"), shorter);
	assert_int_equal(tu_int(&r, 1, "id"), longer);
	tu_rows_free(&r);
	/* The key is indexed too. */
	assert_int_equal(
		wal_memory_search(fx->w, "giraffe", NULL, 0, tu_collect, &r),
		0);
	assert_int_equal(r.n, 1);
	assert_int_equal(tu_int(&r, 0, "id"), bykey);
	tu_rows_free(&r);
	/* Category filter, limit, FTS5 syntax. */
	assert_int_equal(wal_memory_search(fx->w, "parser OR lexer", "learning",
					   0, tu_collect, &r),
			 0);
	assert_int_equal(r.n, 2);
	assert_string_equal(tu_val(&r, 0, "category"), "learning");
	assert_string_equal(tu_val(&r, 1, "category"), "learning");
	tu_rows_free(&r);
	assert_int_equal(wal_memory_search(fx->w, "parser OR lexer", NULL, 1,
					   tu_collect, &r),
			 0);
	assert_int_equal(r.n, 1);
	tu_rows_free(&r);
	assert_int_equal(nmatch(fx->w, "pars*"), 2);
	assert_int_equal(nmatch(fx->w, "\"parser handles\""), 1);
	assert_int_equal(nmatch(fx->w, "nothinglikethis"), 0);
}

static void test_search_malformed(void **state)
{
	static const char *const bad[] = {
		"\"unterminated", "(parser",	 "parser AND", "AND",
		"NEAR(",	  "nocolumn: x",
	};
	struct tu_fx *fx = *state;
	struct tu_rows r = {0};
	size_t i;

	add(fx->w, "fact", "global", "k", "parser text");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		if (wal_memory_search(fx->w, bad[i], NULL, 0, tu_collect, &r) !=
		    -1)
			fail_msg("query '%s' was accepted", bad[i]);
		if (errno != EINVAL)
			fail_msg("query '%s': errno %d, not EINVAL", bad[i],
				 errno);
		assert_true(strlen(wal_errmsg(fx->w)) > 0);
		tu_rows_free(&r);
	}
	/* The handle is fine afterwards. */
	assert_int_equal(nmatch(fx->w, "parser"), 1);
}

static void test_memory_in_batch(void **state)
{
	struct tu_fx *fx = *state;
	struct wal_memory bad = {
		.category = "nope", .key = "x", .content = "y"};

	assert_int_equal(wal_batch_begin(fx->w), 0);
	add(fx->w, "fact", "global", "a", "kept words");
	assert_int_equal(wal_memory_add(fx->w, &bad), -1);
	add(fx->w, "fact", "global", "b", "more kept words");
	assert_int_equal(wal_batch_commit(fx->w), 0);
	assert_int_equal(nmatch(fx->w, "kept"), 2);

	assert_int_equal(wal_batch_begin(fx->w), 0);
	add(fx->w, "fact", "global", "c", "rolled back words");
	assert_int_equal(wal_batch_rollback(fx->w), 0);
	assert_int_equal(nmatch(fx->w, "rolled"), 0);
	assert_int_equal(tu_query_int(fx->w, "SELECT count(*) FROM memories"),
			 2);
}

#define T(f) cmocka_unit_test_setup_teardown(f, tu_setup, tu_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_add_get),
		T(test_scope_defaults_to_global),
		T(test_accessed_at),
		T(test_add_replaces),
		T(test_invalid_arguments),
		T(test_list),
		T(test_update),
		T(test_delete),
		T(test_search_ranking),
		T(test_search_malformed),
		T(test_memory_in_batch),
	};

	return cmocka_run_group_tests_name("wal_memory", tests, NULL, NULL);
}
