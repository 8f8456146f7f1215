/*
 * test_wal_fleet.c - the outbox of a state dir that ships to a fleet
 * (wal/fleet.c): off until turned on, and then every row there is seeded
 * once in table order; a row written or changed gets one entry whose
 * version only grows, however the change was made (through the store, by
 * another connection, under an outer OR IGNORE or OR REPLACE); transitions
 * stay out of it; the cursors only go forward and take the shipped entries
 * with them; the lag counts both; off empties it all; a read-only handle
 * changes nothing; what is to ship reads back as JSON rows, in order, from
 * the cursors; while verifying is on, an entry stays until it is shipped
 * and verified, and what is to verify lists the rows still there. Every
 * check reads the real database file.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/unit/testutil.h"

/* An execution with one phase and one agent; the agent's id. */
static int64_t agent(struct wal *w, int64_t *execution)
{
	struct wal_agent_spec spec = {.name = "worker"};
	int64_t e = wal_execution_start(w, "run", "flow.ini", NULL), p, a;

	assert_true(e > 0);
	p = wal_phase_start(w, e, "work", 0);
	assert_true(p > 0);
	a = wal_agent_start(w, e, p, &spec);
	assert_true(a > 0);
	if (execution)
		*execution = e;
	return a;
}

static int64_t entries(struct wal *w, const char *table)
{
	return tu_query_int(w,
			    "SELECT count(*) FROM fleet_outbox WHERE tbl = '%s'",
			    table);
}

/* The version of ROW of TABLE: its entry's id; -1 when it has none. */
static int64_t version(struct wal *w, const char *table, int64_t row)
{
	char *v = tu_query1(w,
			    "SELECT id FROM fleet_outbox"
			    " WHERE tbl = '%s' AND row_id = %lld",
			    table, (long long)row);
	int64_t n = v ? strtoll(v, NULL, 10) : -1;

	free(v);
	return n;
}

static int64_t newest(struct wal *w, const char *table)
{
	char *v = tu_query1(w, "SELECT max(id) FROM %s", table);
	int64_t n = v ? strtoll(v, NULL, 10) : 0;

	free(v);
	return n;
}

static struct wal_fleet_lag lag(struct wal *w)
{
	struct wal_fleet_lag l;

	if (wal_fleet_lag(w, &l) < 0)
		fail_msg("wal_fleet_lag: %s", wal_errmsg(w));
	return l;
}

static void test_off_until_turned_on(void **state)
{
	struct tu_fx *fx = *state;
	struct wal_fleet_lag l;

	assert_int_equal(wal_fleet_enabled(fx->w), 0);
	agent(fx->w, NULL);
	assert_int_equal(wal_state_set(fx->w, "k", "1", "test", 0), 0);
	assert_int_equal(tu_query_int(fx->w, "SELECT count(*) FROM"
					     " fleet_outbox"),
			 0);
	l = lag(fx->w);
	assert_int_equal(l.on, 0);
	assert_int_equal(l.rows, 0);
}

static void test_seeded_once_in_table_order(void **state)
{
	struct tu_fx *fx = *state;
	struct wal_memory m = {.category = "fact", .key = "k", .content = "c"};
	struct wal_fleet_lag l;
	int64_t e, a = agent(fx->w, &e);

	assert_true(wal_memory_add(fx->w, &m) > 0);
	assert_int_equal(wal_state_set(fx->w, "k", "1", "test", a), 0);
	assert_int_equal(wal_fleet_enable(fx->w), 1);
	assert_int_equal(wal_fleet_enabled(fx->w), 1);
	assert_int_equal(entries(fx->w, "executions"), 1);
	assert_int_equal(entries(fx->w, "phases"), 1);
	assert_int_equal(entries(fx->w, "agents"), 1);
	assert_int_equal(entries(fx->w, "memories"), 1);
	assert_int_equal(tu_query_int(fx->w, "SELECT count(*) FROM"
					     " fleet_outbox"),
			 4);
	assert_true(version(fx->w, "executions", e) <
		    version(fx->w, "agents", a));
	assert_true(version(fx->w, "agents", a) <
		    version(fx->w, "memories", 1));
	l = lag(fx->w);
	assert_int_equal(l.on, 1);
	assert_int_equal(l.outbox_cursor, 0);
	assert_int_equal(l.transitions_cursor, 0);
	assert_int_equal(l.rows, 4 + newest(fx->w, "transitions"));
	assert_true(l.oldest_ms > 0);

	/* Again: nothing more. */
	assert_int_equal(wal_fleet_enable(fx->w), 0);
	assert_int_equal(tu_query_int(fx->w, "SELECT count(*) FROM"
					     " fleet_outbox"),
			 4);
}

static void test_versions_grow_and_coalesce(void **state)
{
	struct tu_fx *fx = *state;
	struct wal_memory m = {.category = "fact", .key = "k", .content = "c"};
	int64_t e, a, v, before, total;
	char *sql;

	assert_int_equal(wal_fleet_enable(fx->w), 1);
	a = agent(fx->w, &e);
	v = version(fx->w, "agents", a);
	assert_true(v > 0);
	total = tu_query_int(fx->w, "SELECT count(*) FROM fleet_outbox");

	/* Through the store, twice: one entry, a newer version each time. */
	assert_int_equal(wal_agent_usage(fx->w, a, 10, 20), 0);
	before = v;
	v = version(fx->w, "agents", a);
	assert_true(v > before);
	assert_int_equal(wal_agent_usage(fx->w, a, 1, 2), 0);
	assert_true(version(fx->w, "agents", a) > v);
	assert_int_equal(entries(fx->w, "agents"), 1);
	/* The usage went to the execution too: its entry moved, not added. */
	assert_int_equal(tu_query_int(fx->w, "SELECT count(*) FROM"
					     " fleet_outbox"),
			 total);

	/* Another connection, under an outer OR IGNORE, then an outer
	 * OR REPLACE: the triggers are the database's, and the version still
	 * grows (a REPLACE in the trigger would give way to the IGNORE). */
	v = version(fx->w, "agents", a);
	sql = tu_path("UPDATE OR IGNORE agents SET model = 'm' WHERE id = %lld",
		      (long long)a);
	tu_sqlite_exec(wal_db_path(fx->w), sql);
	free(sql);
	assert_true(version(fx->w, "agents", a) > v);
	assert_true(wal_memory_add(fx->w, &m) > 0);
	v = version(fx->w, "memories", 1);
	tu_sqlite_exec(wal_db_path(fx->w),
		       "INSERT OR REPLACE INTO memories (id, category, scope,"
		       " key, content, created_at, updated_at) VALUES (1,"
		       " 'fact', 'global', 'k', 'd', 'x', 'x')");
	assert_true(version(fx->w, "memories", 1) > v);
	assert_int_equal(entries(fx->w, "memories"), 1);

	/* Versions never go back, even once the newest entries are gone. */
	v = newest(fx->w, "fleet_outbox");
	tu_sqlite_exec(wal_db_path(fx->w), "DELETE FROM fleet_outbox");
	assert_int_equal(wal_agent_usage(fx->w, a, 1, 1), 0);
	assert_true(version(fx->w, "agents", a) > v);
}

static void test_transitions_by_cursor(void **state)
{
	struct tu_fx *fx = *state;
	struct wal_fleet_lag l;
	int64_t t;

	assert_int_equal(wal_fleet_enable(fx->w), 1);
	for (int i = 0; i < 5; i++)
		assert_int_equal(wal_state_set(fx->w, "k", "1", "test", 0), 0);
	assert_int_equal(tu_query_int(fx->w, "SELECT count(*) FROM"
					     " fleet_outbox"),
			 0);
	t = newest(fx->w, "transitions");
	assert_int_equal(lag(fx->w).rows, t);
	assert_int_equal(wal_fleet_shipped(fx->w, 0, t - 2), 0);
	l = lag(fx->w);
	assert_int_equal(l.rows, 2);
	assert_int_equal(l.transitions_cursor, t - 2);
	assert_true(l.oldest_ms > 0);
	assert_int_equal(wal_fleet_shipped(fx->w, 0, t), 0);
	l = lag(fx->w);
	assert_int_equal(l.rows, 0);
	assert_int_equal(l.oldest_ms, 0);
}

/* The shipper's cursors count when they are ahead of the store's, never
 * when behind. */
static void test_lag_after_own_cursors(void **state)
{
	struct tu_fx *fx = *state;
	struct wal_fleet_lag l;
	int64_t t;

	assert_int_equal(wal_fleet_enable(fx->w), 1);
	for (int i = 0; i < 4; i++)
		assert_int_equal(wal_state_set(fx->w, "k", "1", "test", 0), 0);
	t = newest(fx->w, "transitions");
	assert_int_equal(wal_fleet_lag_after(fx->w, 0, t - 1, &l), 0);
	assert_int_equal(l.on, 1);
	assert_int_equal(l.rows, 1);
	assert_int_equal(l.transitions_cursor, t - 1);
	assert_true(l.oldest_ms > 0);
	assert_int_equal(wal_fleet_shipped(fx->w, 0, t), 0);
	assert_int_equal(wal_fleet_lag_after(fx->w, 0, 1, &l), 0);
	assert_int_equal(l.rows, 0);
	assert_int_equal(l.transitions_cursor, t);
	assert_int_equal(l.oldest_ms, 0);
}

static void test_cursors_go_forward(void **state)
{
	struct tu_fx *fx = *state;
	struct wal_fleet_lag l;
	int64_t a, v, now_ms;

	assert_int_equal(wal_fleet_enable(fx->w), 1);
	a = agent(fx->w, NULL);
	/* Up to the agent: the execution and the phase it counted in
	 * changed after it. */
	assert_int_equal(wal_fleet_shipped(fx->w, version(fx->w, "agents", a),
					   0),
			 0);
	assert_int_equal(lag(fx->w).rows, 2);
	assert_int_equal(version(fx->w, "agents", a), -1);
	v = newest(fx->w, "fleet_outbox");
	assert_int_equal(wal_fleet_shipped(fx->w, v, 0), 0);
	/* The entries shipped are gone. */
	assert_int_equal(tu_query_int(fx->w, "SELECT count(*) FROM"
					     " fleet_outbox"),
			 0);
	l = lag(fx->w);
	assert_int_equal(l.outbox_cursor, v);
	assert_int_equal(l.rows, 0);

	/* Back: nothing changes. */
	assert_int_equal(wal_fleet_shipped(fx->w, 1, 0), 0);
	assert_int_equal(lag(fx->w).outbox_cursor, v);
	assert_int_equal(wal_fleet_shipped(fx->w, -1, 0), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(lag(fx->w).outbox_cursor, v);

	/* A change after: one row, changed just now. */
	assert_int_equal(wal_agent_usage(fx->w, a, 1, 1), 0);
	l = lag(fx->w);
	now_ms = (int64_t)time(NULL) * 1000;
	assert_int_equal(l.rows, 2); /* the agent and its execution */
	assert_true(l.oldest_ms > now_ms - 60000 && l.oldest_ms < now_ms + 60000);
}

static void test_off_empties(void **state)
{
	struct tu_fx *fx = *state;
	int64_t a;

	assert_int_equal(wal_fleet_enable(fx->w), 1);
	a = agent(fx->w, NULL);
	assert_int_equal(wal_fleet_shipped(fx->w, 1, 0), 0);
	assert_int_equal(wal_fleet_off(fx->w), 0);
	assert_int_equal(wal_fleet_enabled(fx->w), 0);
	assert_int_equal(tu_query_int(fx->w, "SELECT count(*) FROM"
					     " fleet_outbox"),
			 0);
	assert_int_equal(tu_query_int(fx->w, "SELECT count(*) FROM"
					     " fleet_cursor"),
			 0);
	assert_int_equal(wal_agent_usage(fx->w, a, 1, 1), 0);
	assert_int_equal(tu_query_int(fx->w, "SELECT count(*) FROM"
					     " fleet_outbox"),
			 0);
	assert_int_equal(lag(fx->w).on, 0);
	/* On again: seeded afresh, from cursors at 0. */
	assert_int_equal(wal_fleet_enable(fx->w), 1);
	assert_int_equal(entries(fx->w, "agents"), 1);
	assert_int_equal(lag(fx->w).outbox_cursor, 0);
}

static void test_read_only_changes_nothing(void **state)
{
	struct tu_fx *fx = *state;
	struct wal_options ro = {.readonly = 1};
	struct wal *r;

	assert_int_equal(wal_fleet_enable(fx->w), 1);
	r = tu_open(fx->dir, &ro);
	assert_int_equal(wal_fleet_enabled(r), 1);
	assert_int_equal(lag(r).on, 1);
	assert_int_equal(wal_fleet_off(r), -1);
	assert_int_equal(errno, EROFS);
	assert_int_equal(wal_fleet_shipped(r, 1, 1), -1);
	assert_int_equal(errno, EROFS);
	wal_close(r);
	assert_int_equal(wal_fleet_enabled(fx->w), 1);
	assert_int_equal(lag(fx->w).outbox_cursor, 0);
}

/* In a batch, a shipping turned on goes with the batch: a rollback leaves
 * it off and the outbox empty. */
static void test_in_a_batch(void **state)
{
	struct tu_fx *fx = *state;

	agent(fx->w, NULL);
	assert_int_equal(wal_batch_begin(fx->w), 0);
	assert_int_equal(wal_fleet_enable(fx->w), 1);
	wal_batch_rollback(fx->w);
	assert_int_equal(wal_fleet_enabled(fx->w), 0);
	assert_int_equal(tu_query_int(fx->w, "SELECT count(*) FROM"
					     " fleet_outbox"),
			 0);
	assert_int_equal(wal_batch_begin(fx->w), 0);
	assert_int_equal(wal_fleet_enable(fx->w), 1);
	assert_int_equal(wal_batch_commit(fx->w), 0);
	assert_int_equal(wal_fleet_enabled(fx->w), 1);
	assert_int_equal(entries(fx->w, "agents"), 1);
}

/* What wal_fleet_next() gave: "table id version json" lines. */
struct got {
	char lines[64][640];
	int n, stop_at;
};

static int got_row(const char *table, int64_t id, int64_t version,
		   const char *json, void *arg)
{
	struct got *g = arg;

	assert_true(g->n < 64);
	snprintf(g->lines[g->n], sizeof(g->lines[0]), "%s %lld %lld %s",
		 table, (long long)id, (long long)version,
		 json ? json : "(gone)");
	g->n++;
	return g->stop_at && g->n == g->stop_at;
}

static struct got next(struct wal *w, int64_t after_v, int64_t after_t,
		       int limit)
{
	struct got g = {.n = 0};
	int64_t n = wal_fleet_next(w, after_v, after_t, limit, got_row, &g);

	if (n < 0)
		fail_msg("wal_fleet_next: %s", wal_errmsg(w));
	assert_int_equal(n, g.n);
	return g;
}

static void assert_has(const struct got *g, int i, const char *want)
{
	assert_true(i < g->n);
	if (!strstr(g->lines[i], want))
		fail_msg("row %d is '%s', without '%s'", i, g->lines[i], want);
}

/* The index of the one row of TABLE in G; fails unless there is one. */
static int row_of(const struct got *g, const char *table)
{
	size_t len = strlen(table);
	int at = -1;

	for (int i = 0; i < g->n; i++)
		if (!strncmp(g->lines[i], table, len) &&
		    g->lines[i][len] == ' ') {
			if (at >= 0)
				fail_msg("two rows of %s", table);
			at = i;
		}
	if (at < 0)
		fail_msg("no row of %s", table);
	return at;
}

/* The versions of G's rows, from I on, grow. */
static void assert_versions_grow(const struct got *g, int i)
{
	long long last = 0, v;

	for (; i < g->n; i++) {
		assert_int_equal(sscanf(g->lines[i], "%*s %*s %lld", &v), 1);
		assert_true(v > last);
		last = v;
	}
}

static void test_next_rows_as_json(void **state)
{
	struct tu_fx *fx = *state;
	struct wal_agent_spec spec = {.name = "w"};
	struct wal_options ro = {.readonly = 1};
	struct got g;
	struct wal *r;
	int64_t e, p, a, t, v;

	e = wal_execution_start(fx->w, "run", "flow.ini", "{\"a\":[1,2]}");
	assert_true(e > 0);
	assert_int_equal(wal_fleet_enable(fx->w), 1);
	p = wal_phase_start(fx->w, e, "work", 0);
	a = wal_agent_start(fx->w, e, p, &spec);
	assert_true(a > 0);
	assert_int_equal(wal_state_set(fx->w, "k", "{\"x\":\"y\"}", "t", a),
			 0);
	t = newest(fx->w, "transitions");

	g = next(fx->w, 0, 0, 100);
	/* The transition first, then the entries by version. */
	assert_int_equal(g.n, 4);
	assert_int_equal(row_of(&g, "transitions"), 0);
	assert_has(&g, 0, " 1 {\"id\":");
	assert_has(&g, 0, "\"new_value\":{\"x\":\"y\"}");
	assert_has(&g, 0, "\"old_value\":null");
	assert_has(&g, row_of(&g, "agents"), "\"name\":\"w\"");
	assert_has(&g, row_of(&g, "executions"),
		   "\"config\":{\"a\":[1,2]}");
	assert_has(&g, row_of(&g, "phases"), "\"name\":\"work\"");
	assert_versions_grow(&g, 1);
	v = newest(fx->w, "fleet_outbox");

	/* The limit applies to each; the cursors start after. */
	g = next(fx->w, 0, 0, 1);
	assert_int_equal(g.n, 2);
	g = next(fx->w, v - 1, t, 100);
	assert_int_equal(g.n, 1);
	assert_has(&g, 0, " 1 "); /* id 1 of whichever table came last */
	assert_int_equal(next(fx->w, v, t, 100).n, 0);

	/* FN stops it. */
	g.stop_at = 2;
	g.n = 0;
	assert_int_equal(wal_fleet_next(fx->w, 0, 0, 100, got_row, &g), 2);

	/* A row gone after it changed: its version, no JSON. */
	assert_int_equal(wal_agent_usage(fx->w, a, 1, 1), 0);
	tu_sqlite_exec(wal_db_path(fx->w), "PRAGMA foreign_keys = OFF;"
					   " DELETE FROM agents");
	g = next(fx->w, v, t, 100);
	assert_int_equal(g.n, 2);
	assert_has(&g, 0, "agents ");
	assert_has(&g, 0, "(gone)");

	/* A read-only handle reads the same. */
	r = tu_open(fx->dir, &ro);
	g.n = 0;
	g.stop_at = 0;
	assert_int_equal(wal_fleet_next(r, 0, 0, 100, got_row, &g), 4);
	assert_int_equal(wal_fleet_next(r, 0, 0, 0, got_row, &g), -1);
	assert_int_equal(errno, EINVAL);
	wal_close(r);
}

/* What wal_fleet_unverified gives, one "TABLE ID VERSION" each. */
struct keys {
	int n;
	char line[16][64];
};

static int got_key(const char *table, int64_t id, int64_t version,
		   void *arg)
{
	struct keys *k = arg;

	if (k->n < 16)
		snprintf(k->line[k->n], sizeof(k->line[0]), "%s %lld %lld",
			 table, (long long)id, (long long)version);
	k->n++;
	return 0;
}

static struct keys unverified(struct wal *w, int outbox, int64_t after,
			      int64_t upto, int limit)
{
	struct keys k = {0};
	int64_t n = wal_fleet_unverified(w, outbox, after, upto, limit,
					 got_key, &k);

	assert_int_equal(n, k.n);
	return k;
}

static void test_verify_keeps_entries(void **state)
{
	struct tu_fx *fx = *state;
	struct wal_fleet_lag l;
	struct keys k;
	int64_t e, a, v, t, first;
	char want[64];

	assert_int_equal(wal_fleet_enable(fx->w), 1);
	a = agent(fx->w, &e);
	assert_int_equal(wal_state_set(fx->w, "k", "1", "t", a), 0);
	t = newest(fx->w, "transitions");
	v = newest(fx->w, "fleet_outbox");
	assert_int_equal(lag(fx->w).verifying, 0);
	/* Off: nothing to record. */
	assert_int_equal(wal_fleet_verified(fx->w, 1, 1), -1);
	assert_int_equal(errno, ENOENT);

	assert_int_equal(wal_fleet_verify(fx->w, 1), 0);
	l = lag(fx->w);
	assert_int_equal(l.verifying, 1);
	assert_int_equal(l.outbox_verified, 0);
	assert_int_equal(l.transitions_verified, 0);
	/* Shipped, not verified: the entries stay, out of the lag. */
	assert_int_equal(wal_fleet_shipped(fx->w, v, t), 0);
	assert_int_equal(tu_query_int(fx->w, "SELECT count(*) FROM"
					     " fleet_outbox"),
			 3);
	assert_int_equal(lag(fx->w).rows, 0);
	/* Three entries and the transition wait to be verified. */
	assert_int_equal(wal_fleet_unverified_rows(fx->w), 4);

	/* What to verify: each row shipped, at its version, by version. */
	k = unverified(fx->w, 1, 0, v, 100);
	assert_int_equal(k.n, 3);
	snprintf(want, sizeof(want), "agents %lld %lld", (long long)a,
		 (long long)version(fx->w, "agents", a));
	assert_true(!strcmp(k.line[0], want) || !strcmp(k.line[1], want) ||
		    !strcmp(k.line[2], want));
	first = strtoll(strrchr(k.line[0], ' ') + 1, NULL, 10);
	assert_true(first < strtoll(strrchr(k.line[1], ' ') + 1, NULL, 10));
	assert_int_equal(strtoll(strrchr(k.line[2], ' ') + 1, NULL, 10), v);
	k = unverified(fx->w, 0, 0, t, 100);
	assert_int_equal(k.n, 1);
	snprintf(want, sizeof(want), "transitions %lld 1", (long long)t);
	assert_string_equal(k.line[0], want);
	/* The limit, and the range's ends. */
	assert_int_equal(unverified(fx->w, 1, 0, v, 2).n, 2);
	assert_int_equal(unverified(fx->w, 1, 0, v - 1, 100).n, 2);
	assert_int_equal(unverified(fx->w, 1, v - 1, v, 100).n, 1);
	assert_int_equal(wal_fleet_unverified(fx->w, 1, 0, v, 0, got_key, &k),
			 -1);
	assert_int_equal(errno, EINVAL);

	/* Verified up to the first entry: it goes, the others stay. */
	assert_int_equal(wal_fleet_verified(fx->w, first, 0), 0);
	assert_int_equal(tu_query_int(fx->w, "SELECT count(*) FROM"
					     " fleet_outbox"),
			 2);
	assert_int_equal(wal_fleet_verified(fx->w, 0, 0), 0); /* not back */
	assert_int_equal(lag(fx->w).outbox_verified, first);
	assert_int_equal(wal_fleet_unverified_rows(fx->w), 3);

	/* A row gone is not to verify: nothing to send again. The last
	 * one's, here. */
	k = unverified(fx->w, 1, 0, v, 100);
	assert_int_equal(k.n, 2);
	{
		char tbl[32], sql[128];
		long long id;

		assert_int_equal(sscanf(k.line[1], "%31s %lld", tbl, &id), 2);
		snprintf(sql, sizeof(sql),
			 "PRAGMA foreign_keys = OFF; DELETE FROM %s"
			 " WHERE id = %lld",
			 tbl, id);
		tu_sqlite_exec(wal_db_path(fx->w), sql);
	}
	assert_int_equal(unverified(fx->w, 1, 0, v, 100).n, 1);
	(void)e;

	/* Verified past what was shipped: only the shipped ones go. */
	assert_int_equal(wal_state_set(fx->w, "k", "2", "t", 0), 0);
	assert_int_equal(wal_fleet_verified(fx->w, v + 100, t), 0);
	assert_int_equal(tu_query_int(fx->w, "SELECT count(*) FROM"
					     " fleet_outbox"),
			 tu_query_int(fx->w, "SELECT count(*) FROM fleet_outbox"
					     " WHERE id > %lld",
				      (long long)v));
	l = lag(fx->w);
	assert_int_equal(l.transitions_verified, t);

	/* Off: the entries shipped go at once; on again, it starts from
	 * the shipping cursors. */
	assert_int_equal(wal_fleet_shipped(fx->w, v, t), 0);
	assert_int_equal(wal_fleet_verify(fx->w, 0), 0);
	assert_int_equal(lag(fx->w).verifying, 0);
	assert_int_equal(wal_fleet_verify(fx->w, 1), 0);
	l = lag(fx->w);
	assert_int_equal(l.outbox_verified, v);
	assert_int_equal(l.transitions_verified, t);
	/* fleet off forgets it. */
	assert_int_equal(wal_fleet_off(fx->w), 0);
	assert_int_equal(tu_query_int(fx->w, "SELECT count(*) FROM"
					     " fleet_verified"),
			 0);
}

static void test_row_as_it_is(void **state)
{
	struct tu_fx *fx = *state;
	struct got g = {0};
	int64_t a;

	a = agent(fx->w, NULL);
	assert_int_equal(wal_fleet_row(fx->w, "agents", a, 7, got_row, &g), 0);
	assert_int_equal(g.n, 1);
	assert_has(&g, 0, " 7 {\"id\":");
	assert_has(&g, 0, "\"name\":\"worker\"");
	assert_int_equal(wal_fleet_row(fx->w, "agents", a + 1, 8, got_row, &g),
			 0);
	assert_has(&g, 1, "(gone)");
	assert_int_equal(wal_fleet_row(fx->w, "nope", 1, 1, got_row, &g), -1);
	assert_int_equal(errno, ENOENT);
}

#define T(f) cmocka_unit_test_setup_teardown(f, tu_setup, tu_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_off_until_turned_on),
		T(test_seeded_once_in_table_order),
		T(test_versions_grow_and_coalesce),
		T(test_transitions_by_cursor),
		T(test_lag_after_own_cursors),
		T(test_cursors_go_forward),
		T(test_off_empties),
		T(test_read_only_changes_nothing),
		T(test_in_a_batch),
		T(test_next_rows_as_json),
		T(test_verify_keeps_entries),
		T(test_row_as_it_is),
	};

	return cmocka_run_group_tests_name("wal_fleet", tests, NULL, NULL);
}
