/*
 * test_wal_state.c - state keys and their transitions: set/get/delete/all,
 * the transition written in the same transaction as the change (also inside
 * batches), attribution to agents and executions, history, and replay,
 * whose expected result is computed here by walking the history.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/testutil.h"

static int64_t count(struct wal *w, const char *table)
{
	return tu_query_int(w, "SELECT count(*) FROM %s", table);
}

static void assert_value(struct wal *w, const char *key, const char *want)
{
	char *v;

	errno = 0;
	v = wal_state_get(w, key);
	if (!want) {
		if (v)
			fail_msg("key '%s' is '%s', expected absent", key, v);
		assert_int_equal(errno, ENOENT);
		return;
	}
	if (!v)
		fail_msg("key '%s' absent (errno %d), expected '%s'", key,
			 errno, want);
	assert_string_equal(v, want);
	free(v);
}

static void assert_null_or_zero(const char *v)
{
	if (v && strcmp(v, "0"))
		fail_msg("'%s' where NULL (none) was expected", v);
}

static void test_set_get_delete(void **state)
{
	static const char *const values[] = {
		"1",
		"-2.5",
		"\"text\"",
		"true",
		"null",
		"[1,2,{\"a\":[]}]",
		"{\"x\":1,\"y\":\"z\"}",
	};
	struct tu_fx *fx = *state;
	size_t i;

	assert_value(fx->w, "k", NULL);
	for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		assert_int_equal(wal_state_set(fx->w, "k", values[i], NULL, 0),
				 0);
		assert_value(fx->w, "k", values[i]);
	}
	assert_int_equal(count(fx->w, "transitions"),
			 (int64_t)(sizeof(values) / sizeof(values[0])));
	/* Keys are arbitrary text. */
	assert_int_equal(wal_state_set(fx->w, "a/b c.d:é", "2", NULL, 0), 0);
	assert_value(fx->w, "a/b c.d:é", "2");

	assert_int_equal(wal_state_delete(fx->w, "k", "bye", 0), 1);
	assert_value(fx->w, "k", NULL);
	assert_int_equal(count(fx->w, "transitions"),
			 (int64_t)(sizeof(values) / sizeof(values[0])) + 2);
	/* Deleting an absent key records nothing. */
	assert_int_equal(wal_state_delete(fx->w, "k", "bye", 0), 0);
	assert_int_equal(wal_state_delete(fx->w, "never", NULL, 0), 0);
	assert_int_equal(count(fx->w, "transitions"),
			 (int64_t)(sizeof(values) / sizeof(values[0])) + 2);
	assert_value(fx->w, "a/b c.d:é", "2");
}

static int stop_fn(const struct wal_row *row, void *arg)
{
	int *calls = arg;

	(void)row;
	return ++*calls == 2 ? 9 : 0;
}

static void test_state_all(void **state)
{
	struct tu_fx *fx = *state;
	struct tu_rows r = {0};
	int calls = 0, i;

	assert_int_equal(wal_state_all(fx->w, tu_collect, &r), 0);
	assert_int_equal(r.n, 0);
	assert_int_equal(wal_state_set(fx->w, "c", "3", NULL, 0), 0);
	assert_int_equal(wal_state_set(fx->w, "a", "1", NULL, 0), 0);
	assert_int_equal(wal_state_set(fx->w, "b", "2", NULL, 0), 0);
	assert_int_equal(wal_state_set(fx->w, "d", "4", NULL, 0), 0);
	assert_int_equal(wal_state_delete(fx->w, "d", NULL, 0), 1);
	assert_int_equal(wal_state_all(fx->w, tu_collect, &r), 0);
	assert_int_equal(r.n, 3);
	for (i = 0; i < 3; i++) {
		char key[2] = {(char)('a' + i), 0},
		     val[2] = {(char)('1' + i), 0};

		assert_string_equal(tu_val(&r, i, "key"), key);
		assert_string_equal(tu_val(&r, i, "value"), val);
		tu_assert_time(tu_val(&r, i, "updated_at"));
		assert_true(tu_col(&r, i, "updated_by") >= 0);
	}
	tu_rows_free(&r);
	assert_int_equal(wal_state_all(fx->w, stop_fn, &calls), 9);
	assert_int_equal(calls, 2);
}

static void test_invalid_writes_leave_nothing(void **state)
{
	struct tu_fx *fx = *state;

	errno = 0;
	assert_int_equal(wal_state_set(fx->w, "", "1", "t", 0), -1);
	assert_int_equal(errno, EINVAL);
	assert_true(strlen(wal_errmsg(fx->w)) > 0);
	errno = 0;
	assert_int_equal(wal_state_set(fx->w, "k", "{\"a\":", "t", 0), -1);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(wal_state_set(fx->w, "k", "", "t", 0), -1);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(wal_state_set(fx->w, "k", "bare words", "t", 0), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(count(fx->w, "state"), 0);
	assert_int_equal(count(fx->w, "transitions"), 0);

	/* A bad write over an existing key keeps the old value and adds
	 * no transition. */
	assert_int_equal(wal_state_set(fx->w, "k", "1", "t", 0), 0);
	errno = 0;
	assert_int_equal(wal_state_set(fx->w, "k", "[1,", "t", 0), -1);
	assert_int_equal(errno, EINVAL);
	assert_value(fx->w, "k", "1");
	assert_int_equal(count(fx->w, "transitions"), 1);
}

static void test_history(void **state)
{
	struct tu_fx *fx = *state;
	struct tu_rows r = {0};
	int i;

	assert_int_equal(wal_state_set(fx->w, "k", "1", "t1", 0), 0);
	assert_int_equal(wal_state_set(fx->w, "other", "true", "o", 0), 0);
	assert_int_equal(wal_state_set(fx->w, "k", "{\"v\":2}", "t2", 0), 0);
	assert_int_equal(wal_state_delete(fx->w, "k", "t3", 0), 1);

	assert_int_equal(wal_state_history(fx->w, "k", 0, tu_collect, &r), 0);
	assert_int_equal(r.n, 3);
	/* Newest first. */
	assert_string_equal(tu_val(&r, 0, "trigger"), "t3");
	assert_string_equal(tu_val(&r, 0, "old_value"), "{\"v\":2}");
	assert_null(tu_val(&r, 0, "new_value"));
	assert_string_equal(tu_val(&r, 1, "trigger"), "t2");
	assert_string_equal(tu_val(&r, 1, "old_value"), "1");
	assert_string_equal(tu_val(&r, 1, "new_value"), "{\"v\":2}");
	assert_string_equal(tu_val(&r, 2, "trigger"), "t1");
	assert_null(tu_val(&r, 2, "old_value"));
	assert_string_equal(tu_val(&r, 2, "new_value"), "1");
	for (i = 0; i < 3; i++) {
		assert_string_equal(tu_val(&r, i, "key"), "k");
		tu_assert_time(tu_val(&r, i, "created_at"));
		assert_null_or_zero(tu_val(&r, i, "agent_id"));
		assert_null_or_zero(tu_val(&r, i, "execution_id"));
		if (i > 0)
			assert_true(tu_int(&r, i - 1, "id") >
				    tu_int(&r, i, "id"));
	}
	tu_rows_free(&r);

	assert_int_equal(wal_state_history(fx->w, NULL, 0, tu_collect, &r), 0);
	assert_int_equal(r.n, 4);
	assert_string_equal(tu_val(&r, 2, "key"), "other");
	tu_rows_free(&r);
	assert_int_equal(wal_state_history(fx->w, NULL, 2, tu_collect, &r), 0);
	assert_int_equal(r.n, 2);
	assert_string_equal(tu_val(&r, 0, "trigger"), "t3");
	assert_string_equal(tu_val(&r, 1, "trigger"), "t2");
	tu_rows_free(&r);
	assert_int_equal(wal_state_history(fx->w, "none", 0, tu_collect, &r),
			 0);
	assert_int_equal(r.n, 0);

	/* A key set again after its delete goes on with the same history;
	 * a limit keeps the newest. */
	assert_int_equal(tu_query_int(fx->w, "SELECT count(*) FROM"
					     " deleted_state WHERE key = 'k'"),
			 1);
	assert_int_equal(wal_state_set(fx->w, "k", "5", "t4", 0), 0);
	assert_int_equal(tu_query_int(fx->w, "SELECT count(*) FROM"
					     " deleted_state"),
			 0);
	assert_int_equal(wal_state_history(fx->w, "k", 2, tu_collect, &r), 0);
	assert_int_equal(r.n, 2);
	assert_string_equal(tu_val(&r, 0, "trigger"), "t4");
	assert_string_equal(tu_val(&r, 1, "trigger"), "t3");
	tu_rows_free(&r);
	assert_int_equal(wal_state_history(fx->w, "k", 0, tu_collect, &r), 0);
	assert_int_equal(r.n, 4);
	tu_rows_free(&r);
}

/* Each key's chain holds exactly the transitions of that key, in order,
 * after many interleaved sets and deletes. */
static void test_history_chain_matches_scan(void **state)
{
	struct tu_fx *fx = *state;
	struct tu_rows r = {0};
	unsigned seed = 7;
	char key[16];

	for (int i = 0; i < 2000; i++) {
		seed = seed * 1103515245u + 12345u;
		snprintf(key, sizeof(key), "k%u", (seed >> 16) % 37);
		if ((seed >> 8) % 5 == 0)
			assert_true(wal_state_delete(fx->w, key, "d", 0) >= 0);
		else
			assert_int_equal(
				wal_state_set(fx->w, key, "1", "s", 0), 0);
	}
	for (int k = 0; k < 37; k++) {
		int64_t n;

		snprintf(key, sizeof(key), "k%d", k);
		n = tu_query_int(fx->w,
				 "SELECT count(*) FROM transitions"
				 " WHERE key = '%s'",
				 key);
		assert_int_equal(
			wal_state_history(fx->w, key, 0, tu_collect, &r), 0);
		assert_int_equal(r.n, n);
		for (int i = 1; i < r.n; i++)
			assert_true(tu_int(&r, i - 1, "id") >
				    tu_int(&r, i, "id"));
		for (int i = 0; i < r.n; i++)
			assert_string_equal(tu_val(&r, i, "key"), key);
		tu_rows_free(&r);
	}
	/* Every deleted key, and only those, keeps a tombstone. */
	assert_int_equal(
		tu_query_int(fx->w,
			     "SELECT count(*) FROM deleted_state AS d"
			     " WHERE d.head = (SELECT max(id) FROM transitions"
			     "  WHERE key = d.key AND new_value IS NULL)"
			     " AND d.key NOT IN (SELECT key FROM state)"),
		tu_query_int(fx->w, "SELECT count(DISTINCT key) FROM"
				    " transitions WHERE key NOT IN"
				    " (SELECT key FROM state)"));
}

static void test_attribution(void **state)
{
	struct tu_fx *fx = *state;
	struct wal_agent_spec spec = {.name = "writer"};
	struct tu_rows r = {0};
	int64_t e1, e2, a1;

	e1 = wal_execution_start(fx->w, "one", NULL, NULL);
	assert_true(e1 > 0);
	a1 = wal_agent_start(fx->w, e1, 0, &spec);
	assert_true(a1 > 0);
	e2 = wal_execution_start(fx->w, "two", NULL, NULL);
	assert_true(e2 > e1);

	/* An agent's change belongs to the agent's execution ... */
	assert_int_equal(wal_state_set(fx->w, "k1", "1", "tool:write", a1), 0);
	/* ... an agent-less one to the handle's (the last started). */
	assert_int_equal(wal_state_set(fx->w, "k2", "2", "supervisor", 0), 0);
	wal_set_execution(fx->w, 0);
	assert_int_equal(wal_state_set(fx->w, "k3", "3", NULL, 0), 0);
	wal_set_execution(fx->w, e1);
	assert_int_equal(wal_state_delete(fx->w, "k2", "cleanup", 0), 1);
	assert_int_equal(wal_state_set(fx->w, "k4", "4", NULL, a1), 0);

	assert_int_equal(wal_state_history(fx->w, NULL, 0, tu_collect, &r), 0);
	assert_int_equal(r.n, 5);
	/* k4 by a1 */
	assert_string_equal(tu_val(&r, 0, "key"), "k4");
	assert_int_equal(tu_int(&r, 0, "agent_id"), a1);
	assert_int_equal(tu_int(&r, 0, "execution_id"), e1);
	assert_null(tu_val(&r, 0, "trigger"));
	/* delete k2, execution set by hand */
	assert_string_equal(tu_val(&r, 1, "key"), "k2");
	assert_string_equal(tu_val(&r, 1, "trigger"), "cleanup");
	assert_int_equal(tu_int(&r, 1, "execution_id"), e1);
	assert_null_or_zero(tu_val(&r, 1, "agent_id"));
	/* k3: no execution */
	assert_string_equal(tu_val(&r, 2, "key"), "k3");
	assert_null_or_zero(tu_val(&r, 2, "execution_id"));
	/* k2: the current execution, e2 */
	assert_string_equal(tu_val(&r, 3, "key"), "k2");
	assert_string_equal(tu_val(&r, 3, "trigger"), "supervisor");
	assert_int_equal(tu_int(&r, 3, "execution_id"), e2);
	assert_null_or_zero(tu_val(&r, 3, "agent_id"));
	/* k1: the agent's execution e1, although e2 is current */
	assert_string_equal(tu_val(&r, 4, "key"), "k1");
	assert_string_equal(tu_val(&r, 4, "trigger"), "tool:write");
	assert_int_equal(tu_int(&r, 4, "agent_id"), a1);
	assert_int_equal(tu_int(&r, 4, "execution_id"), e1);
	tu_rows_free(&r);
}

static void test_batch_failing_op_keeps_neighbours(void **state)
{
	struct tu_fx *fx = *state;
	struct tu_rows r = {0};

	assert_int_equal(wal_batch_begin(fx->w), 0);
	assert_int_equal(wal_state_set(fx->w, "a", "1", NULL, 0), 0);
	errno = 0;
	assert_int_equal(wal_state_set(fx->w, "b", "{bad", NULL, 0), -1);
	assert_int_equal(errno, EINVAL);
	assert_true(wal_in_batch(fx->w));
	errno = 0;
	assert_int_equal(wal_state_set(fx->w, "", "1", NULL, 0), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(wal_state_set(fx->w, "c", "3", NULL, 0), 0);
	/* A failure on a key changed earlier in the batch undoes only
	 * itself. */
	assert_int_equal(wal_state_set(fx->w, "a", "[", NULL, 0), -1);
	assert_true(wal_in_batch(fx->w));
	assert_int_equal(wal_batch_commit(fx->w), 0);

	assert_value(fx->w, "a", "1");
	assert_value(fx->w, "b", NULL);
	assert_value(fx->w, "c", "3");
	assert_int_equal(count(fx->w, "state"), 2);
	assert_int_equal(wal_state_history(fx->w, NULL, 0, tu_collect, &r), 0);
	assert_int_equal(r.n, 2);
	assert_string_equal(tu_val(&r, 0, "key"), "c");
	assert_string_equal(tu_val(&r, 1, "key"), "a");
	assert_string_equal(tu_val(&r, 1, "new_value"), "1");
	tu_rows_free(&r);
}

static void test_batch_rollback_loses_transitions(void **state)
{
	struct tu_fx *fx = *state;
	struct tu_rows r = {0};

	assert_int_equal(wal_state_set(fx->w, "base", "1", "t", 0), 0);
	assert_int_equal(wal_batch_begin(fx->w), 0);
	assert_int_equal(wal_state_set(fx->w, "x", "1", "t", 0), 0);
	assert_int_equal(wal_state_set(fx->w, "base", "2", "t", 0), 0);
	assert_int_equal(wal_state_delete(fx->w, "base", "t", 0), 1);
	assert_int_equal(count(fx->w, "transitions"), 4);
	assert_int_equal(wal_batch_rollback(fx->w), 0);

	assert_value(fx->w, "base", "1");
	assert_value(fx->w, "x", NULL);
	assert_int_equal(count(fx->w, "state"), 1);
	assert_int_equal(count(fx->w, "transitions"), 1);
	assert_int_equal(wal_state_history(fx->w, NULL, 0, tu_collect, &r), 0);
	assert_int_equal(r.n, 1);
	assert_string_equal(tu_val(&r, 0, "new_value"), "1");
	tu_rows_free(&r);
}

/* ---- what the writer knows of its keys (wal/keys.c) ------------------ */

/* Every transition names its key's previous one and (those after SINCE,
 * gc drops some) that one's new value as its old value; every row holds its
 * key's newest transition's value. */
static void assert_chains(struct wal *w, int64_t since)
{
	assert_int_equal(
		tu_query_int(w, "SELECT count(*) FROM transitions AS t WHERE"
				" t.prev_id IS NOT (SELECT max(id) FROM"
				" transitions WHERE key = t.key AND id < t.id)"),
		0);
	assert_int_equal(
		tu_query_int(w,
			     "SELECT count(*) FROM transitions AS t WHERE"
			     " t.id > %" PRId64 " AND t.old_value IS NOT"
			     " (SELECT new_value FROM transitions WHERE"
			     " id = t.prev_id)",
			     since),
		0);
	assert_int_equal(
		tu_query_int(w, "SELECT count(*) FROM state AS s WHERE"
				" s.head IS NOT (SELECT max(id) FROM"
				" transitions WHERE key = s.key) OR s.value IS"
				" NOT (SELECT new_value FROM transitions WHERE"
				" id = s.head)"),
		0);
	assert_int_equal(
		tu_query_int(w, "SELECT count(DISTINCT key) FROM transitions"
				" AS t WHERE (SELECT new_value FROM transitions"
				" WHERE id = (SELECT max(id) FROM transitions"
				" WHERE key = t.key)) IS NOT NULL"),
		count(w, "state"));
}

/* A value of N bytes, bigger than any the store keeps (64 KiB) when N is. */
static char *big_value(size_t n, int tag)
{
	char *v = malloc(n + 1);

	assert_non_null(v);
	memset(v, 'x', n);
	v[0] = '"';
	v[1] = (char)('a' + tag % 26);
	v[n - 1] = '"';
	v[n] = '\0';
	return v;
}

/* Sets, deletes and rollbacks from two handles in turn, with values too big
 * to keep among them: whatever one handle knew of a key, a change of it by
 * the other, a rollback or a gc must not leave a wrong old value or a broken
 * chain behind. */
static void test_known_keys_follow_the_database(void **state)
{
	struct tu_fx *fx = *state;
	struct wal *other = tu_open(fx->dir, &(struct wal_options){0});
	struct wal_gc_options gco = {.keep = 1,
				     .older_than_s = WAL_GC_NO_RULE};
	struct wal_gc_result gcr;
	unsigned seed = 11;
	char key[16], value[32];
	int64_t e, since, mark;
	char db[4096];

	/* The other handle changes a key this one knows. */
	assert_int_equal(wal_state_set(fx->w, "k", "1", "a", 0), 0);
	assert_int_equal(wal_state_set(other, "k", "2", "b", 0), 0);
	assert_int_equal(wal_state_set(fx->w, "k", "3", "a", 0), 0);
	assert_int_equal(wal_state_delete(other, "k", "b", 0), 1);
	assert_int_equal(wal_state_set(fx->w, "k", "4", "a", 0), 0);
	assert_int_equal(
		tu_query_int(fx->w, "SELECT count(*) FROM transitions"
				    " WHERE key = 'k' AND old_value IS NULL"),
		2);
	assert_chains(fx->w, 0);

	/* A rolled back batch leaves what this handle knew behind it. */
	assert_int_equal(wal_batch_begin(fx->w), 0);
	assert_int_equal(wal_state_set(fx->w, "k", "5", "a", 0), 0);
	assert_int_equal(wal_state_delete(fx->w, "k", "a", 0), 1);
	assert_int_equal(wal_state_set(fx->w, "k", "6", "a", 0), 0);
	assert_int_equal(wal_batch_rollback(fx->w), 0);
	assert_int_equal(wal_state_set(fx->w, "k", "7", "a", 0), 0);
	assert_int_equal(tu_query_int(fx->w, "SELECT old_value FROM"
					     " transitions WHERE new_value = 7"),
			 4);
	/* An operation undone inside a batch: the sets before it stay. */
	assert_int_equal(wal_batch_begin(fx->w), 0);
	assert_int_equal(wal_state_set(fx->w, "k", "8", "a", 0), 0);
	assert_true(wal_state_replay(fx->w, 999999) < 0);
	assert_int_equal(wal_state_set(fx->w, "k", "9", "a", 0), 0);
	assert_int_equal(wal_batch_commit(fx->w), 0);
	assert_chains(fx->w, 0);
	/* One that fails after it set a key: the key is back as it was. */
	assert_int_equal(wal_state_set(fx->w, "z-boom", "1", "a", 0), 0);
	mark = tu_query_int(fx->w, "SELECT max(id) FROM transitions");
	assert_int_equal(wal_state_set(fx->w, "z-boom", "2", "a", 0), 0);
	snprintf(db, sizeof(db), "%s/.smithers/smithers.db", fx->dir);
	tu_sqlite_exec(db, "CREATE TRIGGER boom BEFORE INSERT ON transitions"
			   " WHEN new.key = 'z-boom' BEGIN"
			   " SELECT RAISE(ABORT, 'boom'); END");
	assert_int_equal(wal_batch_begin(fx->w), 0);
	assert_int_equal(wal_state_set(fx->w, "k", "10", "a", 0), 0);
	assert_true(wal_state_replay(fx->w, mark) < 0); /* k, then z-boom */
	assert_int_equal(wal_state_set(fx->w, "k", "11", "a", 0), 0);
	assert_int_equal(wal_batch_commit(fx->w), 0);
	assert_int_equal(tu_query_int(fx->w, "SELECT old_value FROM"
					     " transitions WHERE new_value = 11"),
			 10);
	tu_sqlite_exec(db, "DROP TRIGGER boom");
	assert_chains(fx->w, 0);
	/* A batch SQLite rolls back whole by itself, as on a full disk. */
	tu_sqlite_exec(db, "CREATE TRIGGER rollback BEFORE INSERT ON"
			   " transitions WHEN new.key = 'z-rollback' BEGIN"
			   " SELECT RAISE(ROLLBACK, 'rolled back'); END");
	mark = tu_query_int(fx->w, "SELECT max(id) FROM transitions");
	assert_int_equal(wal_state_set(fx->w, "k", "115", "a", 0), 0);
	assert_int_equal(wal_batch_begin(fx->w), 0);
	assert_int_equal(wal_state_set(fx->w, "k", "12", "a", 0), 0);
	assert_true(wal_state_set(fx->w, "z-rollback", "1", "a", 0) < 0);
	/* An operation (k back to 11), then a set, after it. */
	assert_int_equal(wal_state_replay(fx->w, mark), 1);
	assert_int_equal(wal_state_set(fx->w, "k", "13", "a", 0), 0);
	assert_true(wal_batch_commit(fx->w) < 0);
	assert_int_equal(tu_query_int(fx->w, "SELECT old_value FROM"
					     " transitions WHERE new_value = 13"),
			 11);
	tu_sqlite_exec(db, "DROP TRIGGER rollback");
	assert_chains(fx->w, 0);

	/* Many keys (the table grows), big values, both handles. */
	for (int i = 0; i < 3000; i++) {
		struct wal *w = (seed >> 20) % 50 == 0 ? other : fx->w;
		int in_batch = 0;

		seed = seed * 1103515245u + 12345u;
		if (w == fx->w && (seed >> 10) % 50 == 0) {
			assert_int_equal(wal_batch_begin(w), 0);
			in_batch = 1;
		}
		for (int j = 0; j < (in_batch ? 20 : 1); j++) {
			seed = seed * 1103515245u + 12345u;
			snprintf(key, sizeof(key), "k%u", (seed >> 16) % 100);
			if ((seed >> 8) % 9 == 0) {
				assert_true(wal_state_delete(w, key, "d", 0) >=
					    0);
			} else if ((seed >> 8) % 9 == 1) {
				char *v = big_value(70 * 1024, i);

				assert_int_equal(
					wal_state_set(w, key, v, "big", 0), 0);
				free(v);
			} else {
				snprintf(value, sizeof(value), "%d", i);
				assert_int_equal(
					wal_state_set(w, key, value, "s", 0), 0);
			}
		}
		if (in_batch && (seed >> 12) % 3 == 0)
			assert_int_equal(wal_batch_rollback(w), 0);
		else if (in_batch)
			assert_int_equal(wal_batch_commit(w), 0);
	}
	assert_chains(fx->w, 0);

	/* More than the store keeps in all (16 MiB): it starts over. */
	assert_int_equal(wal_batch_begin(fx->w), 0);
	for (int i = 0; i < 600; i++) {
		char *v = big_value(60 * 1024, i);

		snprintf(key, sizeof(key), "m%d", i % 300);
		assert_int_equal(wal_state_set(fx->w, key, v, "many", 0), 0);
		free(v);
	}
	assert_int_equal(wal_batch_commit(fx->w), 0);
	assert_chains(fx->w, 0);

	/* gc drops an execution's transitions and relinks the chains: sets
	 * after it follow the new links. */
	e = wal_execution_start(fx->w, "old", NULL, NULL);
	assert_true(e > 0);
	/* A key whose whole history goes: its tombstone goes too. */
	assert_int_equal(wal_state_set(fx->w, "gone", "1", "s", 0), 0);
	assert_int_equal(wal_state_delete(fx->w, "gone", "s", 0), 1);
	for (int i = 0; i < 400; i += 2) {
		snprintf(key, sizeof(key), "k%d", i);
		assert_int_equal(wal_state_set(fx->w, key, "1", "s", 0), 0);
		assert_int_equal(wal_state_set(fx->w, key, "2", "s", 0), 0);
	}
	assert_int_equal(wal_execution_complete(fx->w, e, NULL), 0);
	assert_true(wal_execution_start(fx->w, "new", NULL, NULL) > e);
	assert_int_equal(wal_gc(fx->w, &gco, &gcr), 0);
	assert_true(gcr.transitions > 0);
	assert_int_equal(gcr.tombstones, 1);
	assert_int_equal(wal_state_set(fx->w, "gone", "2", "s", 0), 0);
	since = tu_query_int(fx->w, "SELECT max(id) FROM transitions");
	for (int i = 0; i < 400; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		assert_int_equal(wal_state_set(fx->w, key, "0", "after", 0),
				 0);
	}
	assert_chains(fx->w, since);
	wal_close(other);
}

/* ---- replay --------------------------------------------------------- */

#define MAXKEYS 16

/* A state as a small map: key -> value (no NULL values). */
struct smap {
	int n;
	const char *key[MAXKEYS];
	const char *val[MAXKEYS];
};

static int smap_find(const struct smap *m, const char *key)
{
	int i;

	for (i = 0; i < m->n; i++)
		if (!strcmp(m->key[i], key))
			return i;
	return -1;
}

static void smap_put(struct smap *m, const char *key, const char *val)
{
	int i = smap_find(m, key);

	if (i < 0 && !val)
		return;
	if (i < 0) {
		assert_true(m->n < MAXKEYS);
		i = m->n++;
		m->key[i] = key;
	}
	if (val) {
		m->val[i] = val;
		return;
	}
	m->n--;
	m->key[i] = m->key[m->n];
	m->val[i] = m->val[m->n];
}

static const char *smap_get(const struct smap *m, const char *key)
{
	int i = smap_find(m, key);

	return i < 0 ? NULL : m->val[i];
}

/* The state as of transition ID, by applying the history (newest first in
 * H) from the oldest transition up to ID included. */
static void state_as_of(const struct tu_rows *h, int64_t id, struct smap *m)
{
	int i;

	m->n = 0;
	for (i = h->n - 1; i >= 0; i--)
		if (tu_int(h, i, "id") <= id)
			smap_put(m, tu_val(h, i, "key"),
				 tu_val(h, i, "new_value"));
}

/* The state as wal_state_all() reports it (borrowing from R). */
static void state_now(struct wal *w, struct tu_rows *r, struct smap *m)
{
	int i;

	tu_rows_free(r);
	assert_int_equal(wal_state_all(w, tu_collect, r), 0);
	m->n = 0;
	for (i = 0; i < r->n; i++)
		smap_put(m, tu_val(r, i, "key"), tu_val(r, i, "value"));
}

static int smap_diff(const struct smap *a, const struct smap *b)
{
	int i, n = 0;

	for (i = 0; i < a->n; i++) {
		const char *v = smap_get(b, a->key[i]);

		if (!v || strcmp(v, a->val[i]))
			n++;
	}
	for (i = 0; i < b->n; i++)
		if (!smap_get(a, b->key[i]))
			n++;
	return n;
}

static int same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

/* Replay to ID and check everything the header promises about it. */
static void replay_and_check(struct wal *w, int64_t id)
{
	static const char *const cols[] = {
		"id",	     "execution_id", "key",	 "old_value",
		"new_value", "trigger",	     "agent_id", "created_at",
	};
	struct tu_rows before = {0}, after = {0}, now = {0}, now2 = {0};
	struct smap cur, want, got;
	char trig[64];
	int i, n, changes;
	size_t c;

	assert_int_equal(wal_state_history(w, NULL, 0, tu_collect, &before), 0);
	state_now(w, &now, &cur);
	state_as_of(&before, id, &want);
	changes = smap_diff(&cur, &want);

	n = wal_state_replay(w, id);
	if (n != changes)
		fail_msg("replay(%lld) returned %d, %d keys differ",
			 (long long)id, n, changes);

	state_now(w, &now2, &got);
	if (smap_diff(&got, &want) != 0) {
		for (i = 0; i < want.n; i++)
			print_message("# want %s=%s\n", want.key[i],
				      want.val[i]);
		for (i = 0; i < got.n; i++)
			print_message("# got  %s=%s\n", got.key[i], got.val[i]);
		fail_msg("state after replay(%lld) differs", (long long)id);
	}

	/* History is never rewritten: the old rows are all still there,
	 * unchanged, and the new ones come after them. */
	assert_int_equal(wal_state_history(w, NULL, 0, tu_collect, &after), 0);
	assert_int_equal(after.n, before.n + changes);
	for (i = 0; i < before.n; i++)
		for (c = 0; c < sizeof(cols) / sizeof(cols[0]); c++)
			assert_true(same(tu_val(&before, i, cols[c]),
					 tu_val(&after, i + changes, cols[c])));
	snprintf(trig, sizeof(trig), "replay:%lld", (long long)id);
	for (i = 0; i < changes; i++) {
		const char *key = tu_val(&after, i, "key");

		if (before.n)
			assert_true(tu_int(&after, i, "id") >
				    tu_int(&before, 0, "id"));
		assert_string_equal(tu_val(&after, i, "trigger"), trig);
		assert_true(same(tu_val(&after, i, "old_value"),
				 smap_get(&cur, key)));
		assert_true(same(tu_val(&after, i, "new_value"),
				 smap_get(&want, key)));
		/* Each changed key is recorded once. */
		assert_int_equal(tu_find(&after, "key", key), i);
	}
	tu_rows_free(&before);
	tu_rows_free(&after);
	tu_rows_free(&now);
	tu_rows_free(&now2);
}

static void test_replay(void **state)
{
	struct tu_fx *fx = *state;
	struct tu_rows h = {0};
	int64_t t[9], last;
	int i;

	assert_int_equal(wal_state_set(fx->w, "a", "1", "s", 0), 0);
	assert_int_equal(wal_state_set(fx->w, "b", "\"one\"", "s", 0), 0);
	assert_int_equal(wal_state_set(fx->w, "a", "2", "s", 0), 0);
	assert_int_equal(wal_state_delete(fx->w, "b", "s", 0), 1);
	assert_int_equal(wal_state_set(fx->w, "c", "{\"c\":1}", "s", 0), 0);
	assert_int_equal(wal_state_set(fx->w, "a", "3", "s", 0), 0);
	assert_int_equal(wal_state_set(fx->w, "b", "[2]", "s", 0), 0);
	assert_int_equal(wal_state_delete(fx->w, "c", "s", 0), 1);
	assert_int_equal(wal_state_set(fx->w, "d", "null", "s", 0), 0);
	assert_int_equal(wal_state_history(fx->w, NULL, 0, tu_collect, &h), 0);
	assert_int_equal(h.n, 9);
	for (i = 0; i < 9; i++)
		t[i] = tu_int(&h, 8 - i, "id");
	tu_rows_free(&h);

	/* As of t[3]: a=2 only; b deleted there, c and d not yet born. */
	replay_and_check(fx->w, t[3]);
	assert_value(fx->w, "a", "2");
	assert_value(fx->w, "b", NULL);
	assert_value(fx->w, "c", NULL);
	assert_value(fx->w, "d", NULL);
	/* Back to the start, to the middle (c comes back), to the end. */
	replay_and_check(fx->w, t[0]);
	assert_value(fx->w, "a", "1");
	assert_value(fx->w, "b", NULL);
	replay_and_check(fx->w, t[4]);
	assert_value(fx->w, "c", "{\"c\":1}");
	replay_and_check(fx->w, t[8]);
	assert_value(fx->w, "a", "3");
	assert_value(fx->w, "b", "[2]");
	assert_value(fx->w, "c", NULL);
	assert_value(fx->w, "d", "null");
	/* Into the middle of a replay's own transitions. */
	assert_int_equal(wal_state_history(fx->w, NULL, 0, tu_collect, &h), 0);
	for (i = h.n - 1; i >= 0; i--)
		if (tu_int(&h, i, "id") > t[8])
			break;
	assert_true(i >= 0);
	assert_non_null(strstr(tu_val(&h, i, "trigger"), "replay:"));
	replay_and_check(fx->w, tu_int(&h, i, "id"));
	tu_rows_free(&h);
	/* Replaying to the newest transition changes nothing. */
	assert_int_equal(wal_state_history(fx->w, NULL, 1, tu_collect, &h), 0);
	last = tu_int(&h, 0, "id");
	tu_rows_free(&h);
	assert_int_equal(wal_state_replay(fx->w, last), 0);
	assert_int_equal(wal_state_history(fx->w, NULL, 1, tu_collect, &h), 0);
	assert_int_equal(tu_int(&h, 0, "id"), last);
	tu_rows_free(&h);
}

static void test_replay_missing(void **state)
{
	struct tu_fx *fx = *state;
	int64_t n;

	errno = 0;
	assert_int_equal(wal_state_replay(fx->w, 1), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(wal_state_set(fx->w, "a", "1", NULL, 0), 0);
	n = count(fx->w, "transitions");
	errno = 0;
	assert_int_equal(wal_state_replay(fx->w, 424242), -1);
	assert_int_equal(errno, ENOENT);
	assert_true(strlen(wal_errmsg(fx->w)) > 0);
	assert_int_equal(count(fx->w, "transitions"), n);
	assert_value(fx->w, "a", "1");
}

static void test_replay_in_batch(void **state)
{
	struct tu_fx *fx = *state;
	struct tu_rows h = {0};
	int64_t first;

	assert_int_equal(wal_state_set(fx->w, "a", "1", NULL, 0), 0);
	assert_int_equal(wal_state_history(fx->w, NULL, 1, tu_collect, &h), 0);
	first = tu_int(&h, 0, "id");
	tu_rows_free(&h);
	assert_int_equal(wal_state_set(fx->w, "a", "2", NULL, 0), 0);
	assert_int_equal(wal_state_set(fx->w, "b", "2", NULL, 0), 0);

	/* Rolled back with its batch: state and transitions alike. */
	assert_int_equal(wal_batch_begin(fx->w), 0);
	assert_int_equal(wal_state_replay(fx->w, first), 2);
	assert_value(fx->w, "b", NULL);
	assert_int_equal(wal_batch_rollback(fx->w), 0);
	assert_value(fx->w, "a", "2");
	assert_value(fx->w, "b", "2");
	assert_int_equal(count(fx->w, "transitions"), 3);
	/* A failing replay in a batch does not lose its neighbours. */
	assert_int_equal(wal_batch_begin(fx->w), 0);
	assert_int_equal(wal_state_set(fx->w, "c", "3", NULL, 0), 0);
	assert_int_equal(wal_state_replay(fx->w, 999999), -1);
	assert_int_equal(wal_batch_commit(fx->w), 0);
	assert_value(fx->w, "c", "3");
	assert_int_equal(count(fx->w, "transitions"), 4);
}

#define T(f) cmocka_unit_test_setup_teardown(f, tu_setup, tu_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_set_get_delete),
		T(test_state_all),
		T(test_invalid_writes_leave_nothing),
		T(test_history),
		T(test_history_chain_matches_scan),
		T(test_attribution),
		T(test_batch_failing_op_keeps_neighbours),
		T(test_batch_rollback_loses_transitions),
		T(test_known_keys_follow_the_database),
		T(test_replay),
		T(test_replay_missing),
		T(test_replay_in_batch),
	};

	return cmocka_run_group_tests_name("wal_state", tests, NULL, NULL);
}
