/*
 * test_wal_gc.c - the retention policy (wal_gc): which executions go under
 * --keep, --older-than and both, that running and pending ones never do,
 * the rows that go with them, a dry run counting exactly what a real run
 * drops and changing nothing, objects (shared by a kept and a dropped
 * execution, unique, orphan) and agent log dirs, the chains of transitions
 * after links were dropped (history and replay on what remains), the
 * integrity of the database and of its FTS5 index, VACUUM shrinking the
 * file, and what shipping to a fleet holds back. Every check reads the real database and the real files.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/testutil.h"

/* An execution with one phase and one agent. */
struct ex {
	int64_t id, phase, agent;
};

static struct ex ex_start(struct wal *w, const char *name)
{
	struct wal_agent_spec spec = {.name = "worker"};
	struct ex e;

	e.id = wal_execution_start(w, name, "flow.ini", NULL);
	assert_true(e.id > 0);
	e.phase = wal_phase_start(w, e.id, "work", 0);
	assert_true(e.phase > 0);
	e.agent = wal_agent_start(w, e.id, e.phase, &spec);
	assert_true(e.agent > 0);
	return e;
}

static void ex_end(struct wal *w, const struct ex *e)
{
	assert_int_equal(wal_agent_complete(w, e->agent, "ok", NULL, 0), 0);
	assert_int_equal(wal_phase_complete(w, e->phase), 0);
	assert_int_equal(wal_execution_complete(w, e->id, NULL), 0);
}

/* A tool call of agent E with OUTPUT (LEN bytes); returns its id. */
static int64_t tool(struct wal *w, const struct ex *e, const char *output,
		    size_t len)
{
	int64_t id = wal_tool_start(w, e->agent, "bash", NULL);

	assert_true(id > 0);
	assert_int_equal(
		wal_tool_complete(w, id, output, len, NULL, NULL, NULL), 0);
	return id;
}

/* LEN bytes of output made of FILL: large enough to spill when > 1 KiB. */
static char *output(char fill, size_t len)
{
	char *s = malloc(len + 1);

	assert_non_null(s);
	for (size_t i = 0; i < len; i++)
		s[i] = i % 64 == 63 ? '\n' : fill;
	s[len] = '\0';
	return s;
}

/* Set KEY as if by EXECUTION (0: none; < 0: the handle's own). */
static void set(struct wal *w, int64_t execution, const char *key,
		const char *json)
{
	if (execution >= 0)
		wal_set_execution(w, execution);
	assert_int_equal(wal_state_set(w, key, json, "test", 0), 0);
}

static void del(struct wal *w, int64_t execution, const char *key)
{
	wal_set_execution(w, execution);
	assert_int_equal(wal_state_delete(w, key, "test", 0), 1);
}

/* Say execution ID ended at now + MODIFIER ("-10 days"), from outside. */
static void ended(struct wal *w, int64_t id, const char *modifier)
{
	char *sql = tu_path("UPDATE executions SET ended_at = strftime("
			    "'%%Y-%%m-%%dT%%H:%%M:%%fZ', 'now', '%s')"
			    " WHERE id = %lld",
			    modifier, (long long)id);

	tu_sqlite_exec(wal_db_path(w), sql);
	free(sql);
}

/* KEY's value is WANT (NULL: absent). */
static void assert_value(struct wal *w, const char *key, const char *want)
{
	char *v;

	errno = 0;
	v = wal_state_get(w, key);
	if (!want && v)
		fail_msg("key '%s' is '%s', expected absent", key, v);
	if (!want) {
		assert_int_equal(errno, ENOENT);
		return;
	}
	if (!v)
		fail_msg("key '%s' absent, expected '%s'", key, want);
	assert_string_equal(v, want);
	free(v);
}

static int64_t count(struct wal *w, const char *table)
{
	return tu_query_int(w, "SELECT count(*) FROM %s", table);
}

/* The ids of the remaining executions, "1,4,5". */
static char *exec_ids(struct wal *w)
{
	char *ids = tu_query1(w, "SELECT group_concat(id, ',') FROM"
				 " (SELECT id FROM executions ORDER BY id)");

	return ids ? ids : strdup("");
}

static void assert_exec_ids(struct wal *w, const char *want)
{
	char *ids = exec_ids(w);

	if (strcmp(ids, want))
		fail_msg("executions left: '%s', expected '%s'", ids, want);
	free(ids);
}

static struct wal_gc_options rules(int64_t keep, int64_t older_than_s)
{
	struct wal_gc_options o = {keep, older_than_s, 0};

	return o;
}

static struct wal_gc_result gc(struct wal *w, int64_t keep,
			       int64_t older_than_s, int dry_run)
{
	struct wal_gc_options o = rules(keep, older_than_s);
	struct wal_gc_result r;

	o.dry_run = dry_run;
	if (wal_gc(w, &o, &r) < 0)
		fail_msg("wal_gc: %s", wal_errmsg(w));
	return r;
}

/*
 * The chains are exactly what the remaining rows make: each transition's
 * prev_id is the newest older transition of its key, each head the newest
 * of its key, the newest of a live key holds its value, and the deleted
 * keys with history left, and only those, keep a tombstone on a delete.
 */
static void assert_chains_exact(struct wal *w)
{
	assert_int_equal(
		tu_query_int(w, "SELECT count(*) FROM transitions AS t"
				" WHERE t.prev_id IS NOT (SELECT max(p.id)"
				"  FROM transitions AS p WHERE p.key = t.key"
				"  AND p.id < t.id)"),
		0);
	assert_int_equal(
		tu_query_int(w, "SELECT count(*) FROM state AS s"
				" WHERE s.head IS NOT (SELECT max(id)"
				"  FROM transitions WHERE key = s.key)"
				" OR s.value IS NOT (SELECT new_value FROM"
				"  transitions WHERE id = s.head)"),
		0);
	assert_int_equal(tu_query_int(w,
				      "SELECT count(*) FROM deleted_state AS d"
				      " WHERE d.head IS NOT (SELECT max(id)"
				      "  FROM transitions WHERE key = d.key)"
				      " OR (SELECT new_value FROM transitions"
				      "  WHERE id = d.head) IS NOT NULL"
				      " OR d.key IN (SELECT key FROM state)"),
			 0);
	assert_int_equal(count(w, "deleted_state"),
			 tu_query_int(w, "SELECT count(DISTINCT key) FROM"
					 " transitions WHERE key NOT IN"
					 " (SELECT key FROM state)"));
}

/* Replaying the newest transition changes nothing. */
static void assert_replay_newest_is_noop(struct wal *w)
{
	int64_t newest = tu_query_int(w, "SELECT max(id) FROM transitions");

	assert_int_equal(wal_state_replay(w, newest), 0);
}

/* The history of KEY: ids newest first, "9,7,3". */
static char *history(struct wal *w, const char *key)
{
	struct tu_rows r = {0};
	char *s = calloc(1, 512);

	assert_non_null(s);
	assert_int_equal(wal_state_history(w, key, 0, tu_collect, &r), 0);
	for (int i = 0; i < r.n; i++)
		snprintf(s + strlen(s), 512 - strlen(s), "%s%s", i ? "," : "",
			 tu_val(&r, i, "id"));
	tu_rows_free(&r);
	return s;
}

static void assert_history(struct wal *w, const char *key, const char *want)
{
	char *h = history(w, key);

	if (strcmp(h, want))
		fail_msg("history of '%s' is '%s', expected '%s'", key, h,
			 want);
	free(h);
}

static int exists(const char *path)
{
	struct stat sb;

	return lstat(path, &sb) == 0;
}

static char *object_path(struct wal *w, const char *content, size_t len)
{
	char hex[WAL_OID_HEXLEN + 1];

	assert_int_equal(wal_blob_hash(content, len, hex), 0);
	return tu_path("%s/logs/objects/%.2s/%s", wal_state_dir(w), hex,
		       hex + 2);
}

/* ---- which executions go -------------------------------------------- */

/* Five executions, each with a tool call, an artifact, its own key and a
 * change of a shared one; keep 2 drops the 3 oldest with all they own. */
static void test_keep(void **state)
{
	struct tu_fx *fx = *state;
	struct wal_gc_result r;
	char key[16], value[16];
	char *file = tu_path("%s/report.txt", fx->dir);

	tu_write_file(file, "a\nb\n", 4);
	for (int i = 1; i <= 5; i++) {
		struct ex e = ex_start(fx->w, "run");

		tool(fx->w, &e, "small", 5);
		assert_true(wal_artifact_add(fx->w, e.agent, "report", NULL,
					     file, NULL, NULL) > 0);
		snprintf(key, sizeof(key), "own.%d", i);
		snprintf(value, sizeof(value), "%d", i);
		set(fx->w, e.id, key, value);
		set(fx->w, e.id, "shared", value);
		ex_end(fx->w, &e);
	}
	r = gc(fx->w, 2, WAL_GC_NO_RULE, 0);
	assert_exec_ids(fx->w, "4,5");
	assert_int_equal(r.executions, 3);
	assert_int_equal(r.phases, 3);
	assert_int_equal(r.agents, 3);
	assert_int_equal(r.tool_calls, 3);
	assert_int_equal(r.artifacts, 3);
	/* shared's three oldest go; own.1-3 are their keys' newest: kept. */
	assert_int_equal(r.transitions, 3);
	assert_int_equal(r.heads_kept, 3);
	assert_int_equal(r.tombstones, 0);
	assert_int_equal(count(fx->w, "phases"), 2);
	assert_int_equal(count(fx->w, "agents"), 2);
	assert_int_equal(count(fx->w, "tool_calls"), 2);
	assert_int_equal(count(fx->w, "artifacts"), 2);
	assert_int_equal(count(fx->w, "transitions"), 7);
	assert_int_equal(count(fx->w, "state"), 6);
	assert_int_equal(tu_query_int(fx->w, "SELECT count(*) FROM transitions"
					     " WHERE execution_id IS NULL"),
			 3);
	/* Everything left belongs to what is left. */
	assert_int_equal(tu_query_int(fx->w, "SELECT count(*) FROM tool_calls"
					     " WHERE execution_id < 4"),
			 0);
	assert_history(fx->w, "own.2", "3");
	assert_history(fx->w, "shared", "10,8");
	assert_chains_exact(fx->w);
	assert_replay_newest_is_noop(fx->w);

	/* Again: nothing more to drop. */
	r = gc(fx->w, 2, WAL_GC_NO_RULE, 0);
	assert_int_equal(r.executions, 0);
	assert_int_equal(r.transitions, 0);
	assert_int_equal(r.heads_kept, 0);
	assert_exec_ids(fx->w, "4,5");
	free(file);
}

static void four_ended(struct wal *w)
{
	static const char *const ago[] = {"-10 days", "-6 days", "-4 days",
					  "-1 days"};

	for (int i = 0; i < 4; i++) {
		struct ex e = ex_start(w, "run");

		ex_end(w, &e);
		ended(w, e.id, ago[i]);
	}
}

static void test_older_than(void **state)
{
	struct tu_fx *fx = *state;
	struct wal_gc_result r;
	struct ex e;

	four_ended(fx->w);
	/* Failed long ago, but with no end time: never "ended before". */
	e = ex_start(fx->w, "no end");
	assert_int_equal(wal_execution_fail(fx->w, e.id, "boom"), 0);
	tu_sqlite_exec(wal_db_path(fx->w),
		       "UPDATE executions SET ended_at = NULL,"
		       " started_at = '2001-01-01T00:00:00.000Z' WHERE id = 5");

	r = gc(fx->w, WAL_GC_NO_RULE, 5 * 86400, 0);
	assert_int_equal(r.executions, 2);
	assert_exec_ids(fx->w, "3,4,5");
	r = gc(fx->w, WAL_GC_NO_RULE, 7 * 86400, 0);
	assert_int_equal(r.executions, 0);
	r = gc(fx->w, WAL_GC_NO_RULE, 0, 0);
	assert_int_equal(r.executions, 2);
	assert_exec_ids(fx->w, "5");
	/* --keep alone does not look at times. */
	r = gc(fx->w, 0, WAL_GC_NO_RULE, 0);
	assert_int_equal(r.executions, 1);
	assert_exec_ids(fx->w, "");
}

/* Both rules: an execution goes only when both allow it. */
static void test_keep_and_older_than(void **state)
{
	struct tu_fx *fx = *state;
	struct wal_gc_result r;

	four_ended(fx->w);
	/* Keep 3 protects 2-4; older than 3 days would take 1-3. */
	r = gc(fx->w, 3, 3 * 86400, 0);
	assert_int_equal(r.executions, 1);
	assert_exec_ids(fx->w, "2,3,4");
	/* Keep 1 would take 2-3; older than 5 days only 2. */
	r = gc(fx->w, 1, 5 * 86400, 0);
	assert_int_equal(r.executions, 1);
	assert_exec_ids(fx->w, "3,4");
	r = gc(fx->w, 0, 0, 0);
	assert_int_equal(r.executions, 2);
	assert_exec_ids(fx->w, "");
}

/* Running and pending executions stay, whatever their age and rank. */
static void test_running_and_pending_kept(void **state)
{
	struct tu_fx *fx = *state;
	struct wal_gc_result r;
	struct ex e1 = ex_start(fx->w, "running");
	struct ex e2 = ex_start(fx->w, "pending");
	struct ex e3 = ex_start(fx->w, "completed");
	struct ex e4 = ex_start(fx->w, "interrupted");
	struct ex e5 = ex_start(fx->w, "cancelled");

	tool(fx->w, &e1, "live", 4);
	set(fx->w, e1.id, "live", "1");
	tu_sqlite_exec(wal_db_path(fx->w),
		       "UPDATE executions SET status = 'pending' WHERE id = 2;"
		       "UPDATE executions SET started_at ="
		       " '2001-01-01T00:00:00.000Z',"
		       " ended_at = '2001-01-01T00:00:00.000Z' WHERE id <= 2");
	ex_end(fx->w, &e3);
	assert_int_equal(wal_execution_interrupt(fx->w, e4.id), 0);
	assert_int_equal(wal_execution_cancel(fx->w, e5.id), 0);
	(void)e2;

	/* The oldest and the latest to end, by both rules. */
	r = gc(fx->w, 0, 3600, 0);
	assert_int_equal(r.executions, 0);
	tu_sqlite_exec(wal_db_path(fx->w),
		       "UPDATE executions SET ended_at ="
		       " '2002-01-01T00:00:00.000Z' WHERE id > 2");
	r = gc(fx->w, 0, 3600, 0);
	assert_int_equal(r.executions, 3);
	assert_exec_ids(fx->w, "1,2");
	assert_int_equal(count(fx->w, "tool_calls"), 1);
	assert_int_equal(count(fx->w, "agents"), 2);
	assert_int_equal(wal_execution_current(fx->w), 2);
	assert_history(fx->w, "live", "1");
	assert_int_equal(tu_query_int(fx->w, "SELECT execution_id FROM"
					     " transitions WHERE id = 1"),
			 1);
}

/* ---- dry run ------------------------------------------------------------ */

/* Counts of every table and of the files under logs. */
static void snapshot(struct tu_fx *fx, int64_t out[10])
{
	static const char *const tables[] = {
		"executions",  "phases",    "agents",	"tool_calls",
		"transitions", "artifacts", "memories", "deleted_state"};
	char *logs = tu_path("%s/.smithers/logs", fx->dir);

	for (int i = 0; i < 8; i++)
		out[i] = count(fx->w, tables[i]);
	out[8] = tu_count_files(logs);
	out[9] = tu_query_int(fx->w, "SELECT count(*) FROM transitions"
				     " WHERE execution_id IS NULL");
	free(logs);
}

/* Old executions with spilled outputs, an orphan object, agent logs and
 * a deleted key; the newest execution shares one output. */
static void mixed_dataset(struct tu_fx *fx)
{
	char *big = output('a', 3000), *mine = output('b', 2000);
	char *logdir, *log;

	for (int i = 1; i <= 3; i++) {
		struct ex e = ex_start(fx->w, "run");
		char *own = output((char)('c' + i), 1500 + (size_t)i);

		tool(fx->w, &e, big, 3000);
		tool(fx->w, &e, own, strlen(own));
		set(fx->w, e.id, "shared", "1");
		set(fx->w, e.id, "tmp", "1");
		del(fx->w, e.id, "tmp");
		logdir = tu_path("%s/.smithers/logs/agents/%lld", fx->dir,
				 (long long)e.id);
		assert_int_equal(tu_run("mkdir -p '%s'", logdir), 0);
		log = tu_path("%s/worker.log", logdir);
		tu_write_file(log, "hello\n", 6);
		free(log);
		free(logdir);
		free(own);
		ex_end(fx->w, &e);
	}
	tool(fx->w, &(struct ex){0, 0, 3}, mine, 2000); /* agent 3 */
	free(big);
	free(mine);
}

/* A dry run reports exactly what the real run then drops, and changes
 * nothing in the database or under logs. */
static void test_dry_run(void **state)
{
	struct tu_fx *fx = *state;
	struct wal_gc_result dry, real;
	int64_t before[10], after[10];
	char *orphan;

	mixed_dataset(fx);
	assert_int_equal(
		tu_run("mkdir -p '%s/.smithers/logs/objects/ee'", fx->dir), 0);
	orphan = tu_path("%s/.smithers/logs/objects/ee/%038d", fx->dir, 0);
	tu_write_file(orphan, "orphan", 6);

	snapshot(fx, before);
	dry = gc(fx->w, 1, WAL_GC_NO_RULE, 1);
	snapshot(fx, after);
	assert_memory_equal(before, after, sizeof(before));
	assert_true(exists(orphan));
	assert_int_equal(dry.db_bytes_after, dry.db_bytes_before);
	assert_int_equal(dry.committed, 0);
	assert_int_equal(dry.executions, 2);
	assert_int_equal(dry.tool_calls, 4);
	/* Two own outputs and the orphan; the shared one stays. */
	assert_int_equal(dry.objects, 3);
	assert_int_equal(dry.object_bytes, 1501 + 1502 + 6);
	assert_int_equal(dry.log_dirs, 2);
	assert_int_equal(dry.log_bytes, 12);
	assert_int_equal(dry.tombstones, 0);

	real = gc(fx->w, 1, WAL_GC_NO_RULE, 0);
	assert_int_equal(real.committed, 1);
	assert_int_equal(real.executions, dry.executions);
	assert_int_equal(real.phases, dry.phases);
	assert_int_equal(real.agents, dry.agents);
	assert_int_equal(real.tool_calls, dry.tool_calls);
	assert_int_equal(real.transitions, dry.transitions);
	assert_int_equal(real.artifacts, dry.artifacts);
	assert_int_equal(real.heads_kept, dry.heads_kept);
	assert_int_equal(real.tombstones, dry.tombstones);
	assert_int_equal(real.objects, dry.objects);
	assert_int_equal(real.object_bytes, dry.object_bytes);
	assert_int_equal(real.log_dirs, dry.log_dirs);
	assert_int_equal(real.log_bytes, dry.log_bytes);
	assert_false(exists(orphan));
	snapshot(fx, after);
	assert_int_equal(after[0], before[0] - 2);
	assert_int_equal(after[3], before[3] - 4);
	free(orphan);
}

/* ---- files ---------------------------------------------------------------
 */

static void test_objects(void **state)
{
	struct tu_fx *fx = *state;
	char *shared = output('s', 4000), *unique = output('u', 1800);
	char *shared_path, *unique_path, *orphan, *tmp, *fan;
	struct wal_gc_result r;
	struct ex e1, e2;

	e1 = ex_start(fx->w, "old");
	tool(fx->w, &e1, shared, 4000);
	tool(fx->w, &e1, unique, 1800);
	ex_end(fx->w, &e1);
	e2 = ex_start(fx->w, "new");
	tool(fx->w, &e2, shared, 4000);
	ex_end(fx->w, &e2);
	shared_path = object_path(fx->w, shared, 4000);
	unique_path = object_path(fx->w, unique, 1800);
	assert_true(exists(shared_path));
	assert_true(exists(unique_path));

	/* An orphan (a rolled-back row left it), a writer's temporary file
	 * and a file that is no object, in a fan-out dir of their own. */
	fan = tu_path("%s/.smithers/logs/objects/00", fx->dir);
	assert_int_equal(tu_run("mkdir -p '%s'", fan), 0);
	orphan =
		tu_path("%s/%s", fan, "11111111111111111111111111111111111111");
	tu_write_file(orphan, "lost output", 11);
	tmp = tu_path("%s/.tmp-123-%s", fan,
		      "22222222222222222222222222222222222222");
	tu_write_file(tmp, "being written", 13);

	r = gc(fx->w, 1, WAL_GC_NO_RULE, 0);
	assert_int_equal(r.executions, 1);
	assert_int_equal(r.objects, 2);
	assert_int_equal(r.object_bytes, 1800 + 11);
	assert_true(exists(shared_path));
	assert_false(exists(unique_path));
	assert_false(exists(orphan));
	assert_true(exists(tmp));
	/* The kept row still reads its output. */
	assert_int_equal(tu_query_int(fx->w, "SELECT output_size FROM"
					     " tool_calls WHERE execution_id"
					     " = 2"),
			 4000);

	/* Once nothing names the shared object either, it goes too; an
	 * emptied fan-out dir goes with its last object. */
	unlink(tmp);
	r = gc(fx->w, 0, WAL_GC_NO_RULE, 0);
	assert_int_equal(r.objects, 1);
	assert_int_equal(r.object_bytes, 4000);
	assert_false(exists(shared_path));
	*strrchr(shared_path, '/') = '\0';
	assert_false(exists(shared_path));
	assert_true(exists(fan)); /* emptied by hand, not by the gc */
	free(shared);
	free(unique);
	free(shared_path);
	free(unique_path);
	free(orphan);
	free(tmp);
	free(fan);
}

static void test_agent_log_dirs(void **state)
{
	struct tu_fx *fx = *state;
	static const char *const dirs[] = {"1", "2", "99", "notes", "007"};
	char *path[5];
	struct wal_gc_result r;

	for (int i = 0; i < 2; i++) {
		struct ex e = ex_start(fx->w, "run");

		ex_end(fx->w, &e);
	}
	for (int i = 0; i < 5; i++) {
		char *f;

		path[i] = tu_path("%s/.smithers/logs/agents/%s", fx->dir,
				  dirs[i]);
		assert_int_equal(tu_run("mkdir -p '%s/sub'", path[i]), 0);
		f = tu_path("%s/sub/a.log", path[i]);
		tu_write_file(f, "0123456789", 10);
		free(f);
		f = tu_path("%s/b.log.1", path[i]);
		tu_write_file(f, "01234", 5);
		free(f);
	}
	r = gc(fx->w, 1, WAL_GC_NO_RULE, 0);
	assert_int_equal(r.executions, 1);
	/* Execution 1's, and 99's whose execution is gone already. */
	assert_int_equal(r.log_dirs, 2);
	assert_int_equal(r.log_bytes, 30);
	assert_false(exists(path[0]));
	assert_true(exists(path[1]));
	assert_false(exists(path[2]));
	assert_true(exists(path[3]));
	assert_true(exists(path[4]));
	for (int i = 0; i < 5; i++)
		free(path[i]);
}

/* ---- chains of transitions ----------------------------------------------
 */

/*
 * Two executions whose changes interleave, and changes outside any
 * execution; the older execution goes. Ids in comments.
 */
static void test_chains(void **state)
{
	struct tu_fx *fx = *state;
	struct wal *w = fx->w;
	struct wal_gc_result r;
	struct ex e1 = ex_start(w, "old"), e2 = ex_start(w, "new");
	struct tu_rows rows = {0};

	set(w, e1.id, "a", "1");    /* 1 */
	set(w, e2.id, "a", "2");    /* 2 */
	set(w, e1.id, "a", "3");    /* 3: a's newest, kept */
	set(w, e1.id, "b", "1");    /* 4: b's only one, kept */
	set(w, e1.id, "gone", "1"); /* 5 */
	del(w, e1.id, "gone");	    /* 6: all of gone's history goes */
	set(w, e2.id, "del2", "1"); /* 7 */
	del(w, e1.id, "del2");	    /* 8: kept, 7 still says del2 was 1 */
	set(w, e1.id, "c", "1");    /* 9 */
	set(w, e2.id, "c", "2");    /* 10 */
	set(w, e1.id, "c", "3");    /* 11 */
	set(w, e2.id, "c", "4");    /* 12 */
	set(w, 0, "n", "1");	    /* 13: no execution, never dropped */
	set(w, e1.id, "n", "2");    /* 14 */
	set(w, e1.id, "n", "3");    /* 15: kept */
	ex_end(w, &e1);
	ex_end(w, &e2);
	assert_int_equal(count(w, "deleted_state"), 2);

	r = gc(w, 1, WAL_GC_NO_RULE, 0);
	assert_int_equal(r.executions, 1);
	assert_int_equal(r.transitions, 6); /* 1, 5, 6, 9, 11, 14 */
	assert_int_equal(r.heads_kept, 4);  /* 3, 4, 8, 15 */
	assert_int_equal(r.tombstones, 1);  /* gone */
	assert_history(w, "a", "3,2");
	assert_history(w, "b", "4");
	assert_history(w, "gone", "");
	assert_history(w, "del2", "8,7");
	assert_history(w, "c", "12,10");
	assert_history(w, "n", "15,13");
	assert_int_equal(tu_query_int(w, "SELECT count(*) FROM deleted_state"
					 " WHERE key = 'del2' AND head = 8"),
			 1);
	assert_chains_exact(w);
	assert_replay_newest_is_noop(w);

	/* The handle's execution (the last set() named e1) is forgotten: a
	 * write naming it would fail. */
	set(w, -1, "after", "1");
	assert_null(tu_query1(w, "SELECT execution_id FROM transitions"
				 " WHERE key = 'after'"));
	assert_int_equal(wal_state_delete(w, "after", NULL, 0), 1);

	/* Replay on what remains: as of 7, a was 3 (3), b 1 (4), del2 1
	 * (7); c (first set by 9) and n (by 13) did not exist. */
	assert_int_equal(wal_state_replay(w, 7), 3);
	assert_value(w, "a", "3");
	assert_value(w, "b", "1");
	assert_value(w, "del2", "1");
	assert_value(w, "c", NULL);
	assert_value(w, "n", NULL);
	/* And back to the newest. */
	assert_int_equal(wal_state_replay(w, 15), 3);
	assert_value(w, "c", "4");
	assert_value(w, "n", "3");
	assert_value(w, "del2", NULL);
	assert_value(w, "gone", NULL);
	/* A dropped transition is no more. */
	assert_int_equal(wal_state_replay(w, 1), -1);
	assert_int_equal(errno, ENOENT);
	assert_chains_exact(w);

	/* The whole history listed newest first is what remains. */
	assert_int_equal(wal_state_history(w, NULL, 0, tu_collect, &rows), 0);
	assert_int_equal(rows.n, count(w, "transitions"));
	tu_rows_free(&rows);
}

/*
 * A dropped newest transition gives its id to the next insert (SQLite
 * reuses the largest rowid): that row must start a chain of its own, not
 * continue the dropped key's.
 */
static void test_reused_ids_start_fresh_chains(void **state)
{
	struct tu_fx *fx = *state;
	struct wal *w = fx->w;
	struct ex e1 = ex_start(w, "keep"), e2;
	struct wal_gc_result r;
	int64_t max;

	set(w, e1.id, "kept", "1");
	ex_end(w, &e1);
	e2 = ex_start(w, "drop");
	set(w, e2.id, "x", "1");
	set(w, e2.id, "y", "1");
	set(w, e2.id, "y", "2");
	del(w, e2.id, "y");
	del(w, e2.id, "x");
	ex_end(w, &e2);
	max = tu_query_int(w, "SELECT max(id) FROM transitions");
	assert_int_equal(max, 6);

	r = gc(w, 0, WAL_GC_NO_RULE, 0);
	assert_int_equal(r.executions, 2);
	assert_int_equal(r.transitions, 5);
	assert_int_equal(r.heads_kept, 1);
	assert_int_equal(r.tombstones, 2);
	assert_int_equal(count(w, "deleted_state"), 0);

	/* New keys and the old ones again, in the same ids: each starts a
	 * chain of its own (a tombstone left of y would make y's new first
	 * transition point at 5, the id w gets next). */
	set(w, 0, "z", "1");
	set(w, 0, "y", "9");
	set(w, 0, "x", "9");
	set(w, 0, "w", "1");
	set(w, 0, "w", "2");
	assert_int_equal(tu_query_int(w, "SELECT max(id) FROM transitions"), 6);
	assert_history(w, "z", "2");
	assert_history(w, "y", "3");
	assert_history(w, "x", "4");
	assert_history(w, "w", "6,5");
	assert_history(w, "kept", "1");
	assert_chains_exact(w);
}

/*
 * Readers never trip on a chain that points at a missing row (what any
 * tool deleting transitions by hand leaves): the chain ends there, and
 * replay and the next write work.
 */
static void test_dangling_links_end_the_chain(void **state)
{
	struct tu_fx *fx = *state;
	struct wal *w = fx->w;

	set(w, 0, "k", "1");	/* 1 */
	set(w, 0, "k", "2");	/* 2 */
	set(w, 0, "k", "3");	/* 3 */
	set(w, 0, "gone", "1"); /* 4 */
	del(w, 0, "gone");	/* 5 */
	tu_sqlite_exec(wal_db_path(w), "DELETE FROM transitions WHERE id = 2");
	assert_history(w, "k", "3");
	assert_int_equal(wal_state_replay(w, 1), 1); /* 6 */
	assert_value(w, "k", "1");
	assert_history(w, "k", "6,3");

	/* A tombstone pointing nowhere: no history, and the key goes on
	 * (its new first transition points at the missing 5). */
	tu_sqlite_exec(wal_db_path(w), "DELETE FROM transitions WHERE id = 5");
	assert_history(w, "gone", "");
	set(w, 0, "gone", "7"); /* 7 */
	assert_history(w, "gone", "7");
	/* And a head pointing nowhere. */
	tu_sqlite_exec(wal_db_path(w), "DELETE FROM transitions WHERE id = 6");
	assert_history(w, "k", "");
	assert_value(w, "k", "1");

	/* A gc mends them all, with no execution to drop. */
	gc(w, 0, WAL_GC_NO_RULE, 0);
	assert_int_equal(tu_query_int(w, "SELECT count(*) FROM transitions AS t"
					 " WHERE t.prev_id IS NOT NULL AND"
					 " t.prev_id NOT IN (SELECT id FROM"
					 " transitions)"),
			 0);
	assert_int_equal(tu_query_int(w, "SELECT count(*) FROM state WHERE"
					 " head NOT IN (SELECT id FROM"
					 " transitions)"),
			 0);
	assert_history(w, "k", "3,1");
	assert_history(w, "gone", "7,4");
}

/* ---- the database ------------------------------------------------------- */

static void test_integrity_after(void **state)
{
	struct tu_fx *fx = *state;
	struct wal_memory m = {"fact", "global", "lang", "written in C",
			       1.0,    "test",	 0,	 NULL};
	struct tu_rows rows = {0};
	char *v;

	mixed_dataset(fx);
	m.source_execution_id = 1;
	assert_true(wal_memory_add(fx->w, &m) > 0);
	m.key = "build";
	m.content = "autotools and make";
	m.source_execution_id = 3;
	assert_true(wal_memory_add(fx->w, &m) > 0);

	gc(fx->w, 1, WAL_GC_NO_RULE, 0);
	v = tu_query1(fx->w, "PRAGMA integrity_check");
	assert_string_equal(v, "ok");
	free(v);
	assert_null(tu_query1(fx->w, "PRAGMA foreign_key_check"));
	/* FTS5's own check fails the statement if the index is wrong. */
	tu_sqlite_exec(wal_db_path(fx->w),
		       "INSERT INTO memories_fts(memories_fts)"
		       " VALUES ('integrity-check')");
	/* Memories stay, their dropped execution forgotten. */
	assert_int_equal(count(fx->w, "memories"), 2);
	assert_int_equal(tu_query_int(fx->w, "SELECT count(*) FROM memories"
					     " WHERE source_execution_id"
					     " IS NULL"),
			 1);
	assert_int_equal(wal_memory_search(fx->w, "autotools", NULL, 0,
					   tu_collect, &rows),
			 0);
	assert_int_equal(rows.n, 1);
	tu_rows_free(&rows);
	assert_chains_exact(fx->w);
}

/* VACUUM gives the space back: the files shrink, the WAL is emptied. */
static void test_vacuum_shrinks(void **state)
{
	struct tu_fx *fx = *state;
	char *blob = output('v', 1000), *wal;
	struct wal_gc_result r;
	struct stat sb;

	for (int i = 0; i < 6; i++) {
		struct ex e = ex_start(fx->w, "big");

		assert_int_equal(wal_batch_begin(fx->w), 0);
		for (int j = 0; j < 400; j++)
			tool(fx->w, &e, blob, 1000);
		assert_int_equal(wal_batch_commit(fx->w), 0);
		ex_end(fx->w, &e);
	}
	r = gc(fx->w, 1, WAL_GC_NO_RULE, 0);
	assert_int_equal(r.tool_calls, 2000);
	assert_true(r.db_bytes_before > 2000 * 1000);
	assert_true(r.db_bytes_after < r.db_bytes_before / 3);
	wal = tu_path("%s-wal", wal_db_path(fx->w));
	assert_int_equal(stat(wal_db_path(fx->w), &sb), 0);
	assert_int_equal(r.db_bytes_after,
			 (int64_t)sb.st_size +
				 (stat(wal, &sb) == 0 ? sb.st_size : 0));
	assert_int_equal(tu_query_int(fx->w, "PRAGMA freelist_count"), 0);
	assert_int_equal(count(fx->w, "tool_calls"), 400);
	free(wal);
	free(blob);
}

/* ---- refusals and the connection afterwards ------------------------------
 */

static void test_refusals(void **state)
{
	struct tu_fx *fx = *state;
	struct wal_gc_options o = rules(WAL_GC_NO_RULE, WAL_GC_NO_RULE);
	struct wal_options ro = {.readonly = 1};
	struct wal_gc_result r;
	struct wal *reader;
	struct ex e = ex_start(fx->w, "run");

	ex_end(fx->w, &e);
	assert_int_equal(wal_gc(fx->w, &o, &r), -1);
	assert_int_equal(errno, EINVAL);

	o = rules(0, WAL_GC_NO_RULE);
	assert_int_equal(wal_batch_begin(fx->w), 0);
	assert_int_equal(wal_gc(fx->w, &o, &r), -1);
	assert_int_equal(errno, EBUSY);
	assert_non_null(strstr(wal_errmsg(fx->w), "transaction"));
	assert_int_equal(wal_batch_rollback(fx->w), 0);

	reader = tu_open(fx->dir, &ro);
	assert_int_equal(wal_gc(reader, &o, &r), -1);
	assert_int_equal(errno, EROFS);
	wal_close(reader);
	assert_int_equal(count(fx->w, "executions"), 1);
}

/* The handle keeps its own settings, and works on as before. */
static void test_handle_settings_restored(void **state)
{
	struct tu_fx *fx = *state;
	struct wal_options normal = {.synchronous = WAL_SYNC_NORMAL};
	struct wal *w;
	struct ex e;

	wal_close(fx->w);
	fx->w = NULL;
	w = tu_open(fx->dir, &normal);
	e = ex_start(w, "run");
	set(w, e.id, "k", "1");
	ex_end(w, &e);
	assert_int_equal(tu_query_int(w, "PRAGMA synchronous"), 1);
	assert_int_equal(tu_query_int(w, "PRAGMA temp_store"), 2);
	gc(w, 0, WAL_GC_NO_RULE, 0);
	gc(w, 0, WAL_GC_NO_RULE, 1);
	assert_int_equal(tu_query_int(w, "PRAGMA synchronous"), 1);
	assert_int_equal(tu_query_int(w, "PRAGMA temp_store"), 2);
	assert_int_equal(tu_query_int(w, "PRAGMA foreign_keys"), 1);
	set(w, 0, "k", "2");
	assert_history(w, "k", "2,1");
	assert_int_equal(wal_batch_begin(w), 0);
	set(w, 0, "k", "3");
	assert_int_equal(wal_batch_commit(w), 0);
	wal_close(w);
}

/*
 * While shipping is on (wal/fleet.c), an execution with a row not shipped
 * is kept, whatever the rules say; once all is shipped it goes, and the
 * newest transition stays (detached), so that the next one gets a new id
 * above the cursor rather than the dropped one's.
 */
static void test_fleet_holds_unshipped(void **state)
{
	struct tu_fx *fx = *state;
	struct wal_gc_result r;
	struct ex e1 = ex_start(fx->w, "one"), e2;
	int64_t newest, t;

	set(fx->w, e1.id, "a", "1");
	ex_end(fx->w, &e1);
	ended(fx->w, e1.id, "-10 days");
	/* Seeded in table order: the first execution's rows, its agent
	 * last, then the second's as they are written. */
	assert_int_equal(wal_fleet_enable(fx->w), 1);
	e2 = ex_start(fx->w, "two");
	set(fx->w, e2.id, "b", "1");
	ex_end(fx->w, &e2);
	ended(fx->w, e2.id, "-10 days");

	r = gc(fx->w, 0, WAL_GC_NO_RULE, 0);
	assert_int_equal(r.executions, 0);
	assert_int_equal(r.held, 2);
	assert_exec_ids(fx->w, "1,2");

	/* The transitions shipped, not the other rows: still held. */
	newest = tu_query_int(fx->w, "SELECT max(id) FROM transitions");
	assert_int_equal(wal_fleet_shipped(fx->w, 0, newest), 0);
	r = gc(fx->w, 0, WAL_GC_NO_RULE, 0);
	assert_int_equal(r.held, 2);

	/* Everything up to the first execution's agent: the second is
	 * held alone. */
	assert_int_equal(
		wal_fleet_shipped(fx->w,
				  tu_query_int(fx->w,
					       "SELECT id FROM fleet_outbox"
					       " WHERE tbl = 'agents'"
					       " AND row_id = %lld",
					       (long long)e1.agent),
				  newest),
		0);
	r = gc(fx->w, 0, WAL_GC_NO_RULE, 0);
	assert_int_equal(r.held, 1);
	assert_int_equal(r.executions, 1);
	assert_exec_ids(fx->w, "2");

	assert_int_equal(
		wal_fleet_shipped(fx->w,
				  tu_query_int(fx->w, "SELECT max(id)"
						      " FROM fleet_outbox"),
				  newest),
		0);
	r = gc(fx->w, 0, WAL_GC_NO_RULE, 0);
	assert_int_equal(r.held, 0);
	assert_int_equal(r.executions, 1);
	assert_int_equal(tu_query_int(fx->w, "SELECT max(id) FROM transitions"
					     " WHERE execution_id IS NULL"),
			 newest);
	set(fx->w, 0, "c", "1");
	t = tu_query_int(fx->w, "SELECT max(id) FROM transitions");
	assert_true(t > newest);

	/* Shipping off: the rules alone decide again. */
	assert_int_equal(wal_fleet_off(fx->w), 0);
	e1 = ex_start(fx->w, "three");
	ex_end(fx->w, &e1);
	ended(fx->w, e1.id, "-10 days");
	r = gc(fx->w, 0, WAL_GC_NO_RULE, 0);
	assert_int_equal(r.held, 0);
	assert_int_equal(r.executions, 1);
}

#define T(f) cmocka_unit_test_setup_teardown(f, tu_setup, tu_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_keep),
		T(test_older_than),
		T(test_keep_and_older_than),
		T(test_running_and_pending_kept),
		T(test_dry_run),
		T(test_objects),
		T(test_agent_log_dirs),
		T(test_chains),
		T(test_reused_ids_start_fresh_chains),
		T(test_dangling_links_end_the_chain),
		T(test_integrity_after),
		T(test_vacuum_shrinks),
		T(test_refusals),
		T(test_handle_settings_restored),
		T(test_fleet_holds_unshipped),
	};

	return cmocka_run_group_tests_name("wal_gc", tests, NULL, NULL);
}
