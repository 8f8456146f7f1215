/*
 * test_wal_exec.c - executions, phases, agents, tool calls and artifacts:
 * statuses, end times and durations, the counters kept on executions,
 * phases and agents, the recovery plan, inline and spilled tool outputs
 * (checked against `git hash-object`), and artifacts' blob hash and HEAD
 * commit (checked against a real git repository).
 *
 * Column names of the rows are the schema's (the header lists only those of
 * the recovery plan).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/testutil.h"

/* Column COL of execution ID. */
static int64_t exec_int(struct wal *w, int64_t id, const char *col)
{
	struct tu_rows r = {0};
	int64_t v;

	assert_int_equal(wal_execution_get(w, id, tu_collect, &r), 0);
	assert_int_equal(r.n, 1);
	v = tu_int(&r, 0, col);
	tu_rows_free(&r);
	return v;
}

static char *exec_str(struct wal *w, int64_t id, const char *col)
{
	struct tu_rows r = {0};
	const char *v;
	char *s;

	assert_int_equal(wal_execution_get(w, id, tu_collect, &r), 0);
	assert_int_equal(r.n, 1);
	v = tu_val(&r, 0, col);
	s = v ? strdup(v) : NULL;
	tu_rows_free(&r);
	return s;
}

static void assert_exec_str(struct wal *w, int64_t id, const char *col,
			    const char *want)
{
	char *v = exec_str(w, id, col);

	if (!want && v)
		fail_msg("execution %lld %s = '%s', expected NULL",
			 (long long)id, col, v);
	if (want && (!v || strcmp(v, want)))
		fail_msg("execution %lld %s = '%s', expected '%s'",
			 (long long)id, col, v ? v : "NULL", want);
	free(v);
}

/* The ended execution ID has an end time after its start, and a duration
 * of at least MIN_MS. */
static void assert_exec_ended(struct wal *w, int64_t id, int64_t min_ms)
{
	struct tu_rows r = {0};
	int64_t d;

	assert_int_equal(wal_execution_get(w, id, tu_collect, &r), 0);
	tu_assert_time(tu_val(&r, 0, "started_at"));
	tu_assert_time(tu_val(&r, 0, "ended_at"));
	assert_true(strcmp(tu_val(&r, 0, "ended_at"),
			   tu_val(&r, 0, "started_at")) >= 0);
	d = tu_int(&r, 0, "duration_ms");
	assert_true(d >= min_ms && d < 60000);
	tu_rows_free(&r);
}

static int64_t agent_int(struct wal *w, int64_t exec, int64_t id,
			 const char *col)
{
	struct tu_rows r = {0};
	char ids[32];
	int64_t v;
	int i;

	assert_int_equal(wal_agent_list(w, exec, tu_collect, &r), 0);
	snprintf(ids, sizeof(ids), "%lld", (long long)id);
	i = tu_find(&r, "id", ids);
	assert_true(i >= 0);
	v = tu_int(&r, i, col);
	tu_rows_free(&r);
	return v;
}

static int64_t phase_int(struct wal *w, int64_t exec, int64_t id,
			 const char *col)
{
	struct tu_rows r = {0};
	char ids[32];
	int64_t v;
	int i;

	assert_int_equal(wal_phase_list(w, exec, tu_collect, &r), 0);
	snprintf(ids, sizeof(ids), "%lld", (long long)id);
	i = tu_find(&r, "id", ids);
	assert_true(i >= 0);
	v = tu_int(&r, i, col);
	tu_rows_free(&r);
	return v;
}

/* ---- executions -------------------------------------------------------- */

static void test_execution_start_complete(void **state)
{
	struct tu_fx *fx = *state;
	struct tu_rows r = {0};
	char *hb1, *hb2;
	int64_t e, n;

	e = wal_execution_start(fx->w, "build", "wf.ini", "{\"a\":1}");
	assert_true(e > 0);
	assert_int_equal(wal_execution_current(fx->w), e);
	assert_int_equal(wal_execution_get(fx->w, e, tu_collect, &r), 0);
	assert_int_equal(r.n, 1);
	assert_int_equal(tu_int(&r, 0, "id"), e);
	assert_string_equal(tu_val(&r, 0, "name"), "build");
	assert_string_equal(tu_val(&r, 0, "workflow"), "wf.ini");
	assert_string_equal(tu_val(&r, 0, "status"), "running");
	assert_string_equal(tu_val(&r, 0, "config"), "{\"a\":1}");
	assert_int_equal(tu_int(&r, 0, "supervisor_pid"), getpid());
	tu_assert_time(tu_val(&r, 0, "started_at"));
	assert_null(tu_val(&r, 0, "ended_at"));
	assert_null(tu_val(&r, 0, "duration_ms"));
	tu_rows_free(&r);

	/* Heartbeats move forward. */
	assert_int_equal(wal_execution_heartbeat(fx->w, e), 0);
	hb1 = exec_str(fx->w, e, "heartbeat_at");
	tu_assert_time(hb1);
	usleep(20000);
	assert_int_equal(wal_execution_heartbeat(fx->w, e), 0);
	hb2 = exec_str(fx->w, e, "heartbeat_at");
	assert_true(strcmp(hb2, hb1) > 0);
	free(hb1);
	free(hb2);

	/* Bad JSON is refused and changes nothing. */
	n = tu_query_int(fx->w, "SELECT count(*) FROM executions");
	errno = 0;
	assert_int_equal(wal_execution_start(fx->w, "x", NULL, "{bad"), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(tu_query_int(fx->w, "SELECT count(*) FROM executions"),
			 n);
	assert_int_equal(wal_execution_current(fx->w), e);
	errno = 0;
	assert_int_equal(wal_execution_complete(fx->w, e, "{bad"), -1);
	assert_int_equal(errno, EINVAL);
	assert_exec_str(fx->w, e, "status", "running");

	assert_int_equal(wal_execution_complete(fx->w, e, "{\"ok\":true}"), 0);
	assert_exec_str(fx->w, e, "status", "completed");
	assert_exec_str(fx->w, e, "result", "{\"ok\":true}");
	assert_exec_ended(fx->w, e, 15);
	assert_int_equal(wal_execution_current(fx->w), 0);

	errno = 0;
	assert_int_equal(wal_execution_get(fx->w, e + 100, tu_collect, &r), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(r.n, 0);
}

static void test_execution_end_states(void **state)
{
	struct tu_fx *fx = *state;
	struct tu_rows r = {0};
	int64_t e[6];
	int i;

	for (i = 0; i < 4; i++) {
		char name[8];

		snprintf(name, sizeof(name), "e%d", i);
		e[i] = wal_execution_start(fx->w, name, NULL, NULL);
		assert_true(e[i] > 0);
	}
	assert_int_equal(wal_execution_fail(fx->w, e[0], "boom"), 0);
	assert_int_equal(wal_execution_cancel(fx->w, e[1]), 0);
	assert_int_equal(wal_execution_interrupt(fx->w, e[2]), 0);
	assert_exec_str(fx->w, e[0], "status", "failed");
	assert_exec_str(fx->w, e[0], "error", "boom");
	assert_exec_str(fx->w, e[1], "status", "cancelled");
	assert_exec_str(fx->w, e[2], "status", "interrupted");
	assert_exec_str(fx->w, e[3], "status", "running");
	for (i = 0; i < 3; i++)
		assert_exec_ended(fx->w, e[i], 0);
	assert_int_equal(wal_execution_current(fx->w), e[3]);

	/* The newest running one is current; when it ends, the older. */
	e[4] = wal_execution_start(fx->w, "e4", NULL, NULL);
	assert_int_equal(wal_execution_current(fx->w), e[4]);
	e[5] = wal_execution_start(fx->w, "e5", NULL, NULL);
	assert_int_equal(wal_execution_complete(fx->w, e[5], NULL), 0);
	assert_int_equal(wal_execution_current(fx->w), e[4]);

	assert_int_equal(wal_execution_find_incomplete(fx->w, tu_collect, &r),
			 0);
	assert_int_equal(r.n, 2);
	assert_int_equal(tu_int(&r, 0, "id"), e[3]);
	assert_int_equal(tu_int(&r, 1, "id"), e[4]);
	tu_rows_free(&r);

	assert_int_equal(wal_execution_list(fx->w, 0, tu_collect, &r), 0);
	assert_int_equal(r.n, 6);
	for (i = 0; i < 6; i++)
		assert_int_equal(tu_int(&r, i, "id"), e[5 - i]);
	tu_rows_free(&r);
	assert_int_equal(wal_execution_list(fx->w, 2, tu_collect, &r), 0);
	assert_int_equal(r.n, 2);
	assert_int_equal(tu_int(&r, 0, "id"), e[5]);
	assert_int_equal(tu_int(&r, 1, "id"), e[4]);
	tu_rows_free(&r);

	assert_int_equal(wal_execution_interrupt(fx->w, e[3]), 0);
	assert_int_equal(wal_execution_interrupt(fx->w, e[4]), 0);
	assert_int_equal(wal_execution_current(fx->w), 0);
	assert_int_equal(wal_execution_find_incomplete(fx->w, tu_collect, &r),
			 0);
	assert_int_equal(r.n, 0);
}

/* ---- phases and agents -------------------------------------------------- */

static void test_phases(void **state)
{
	struct tu_fx *fx = *state;
	struct wal_agent_spec spec = {.name = "a"};
	struct tu_rows r = {0};
	int64_t e, other, p0, p1, p2;

	e = wal_execution_start(fx->w, "e", NULL, NULL);
	other = wal_execution_start(fx->w, "other", NULL, NULL);
	p0 = wal_phase_start(fx->w, e, "plan", 0);
	assert_true(p0 > 0);
	assert_true(wal_phase_start(fx->w, other, "x", 0) > 0);
	p1 = wal_phase_start(fx->w, e, "plan", 1);
	p2 = wal_phase_start(fx->w, e, "build", 0);
	assert_true(p1 > p0 && p2 > p1);
	assert_int_equal(exec_int(fx->w, e, "total_iterations"), 3);
	assert_int_equal(exec_int(fx->w, other, "total_iterations"), 1);

	assert_int_equal(wal_phase_list(fx->w, e, tu_collect, &r), 0);
	assert_int_equal(r.n, 3);
	assert_int_equal(tu_int(&r, 0, "id"), p0);
	assert_int_equal(tu_int(&r, 1, "id"), p1);
	assert_int_equal(tu_int(&r, 2, "id"), p2);
	assert_string_equal(tu_val(&r, 1, "name"), "plan");
	assert_int_equal(tu_int(&r, 1, "iteration"), 1);
	assert_string_equal(tu_val(&r, 2, "name"), "build");
	assert_int_equal(tu_int(&r, 2, "iteration"), 0);
	assert_string_equal(tu_val(&r, 0, "status"), "running");
	tu_assert_time(tu_val(&r, 0, "started_at"));
	assert_null(tu_val(&r, 0, "ended_at"));
	assert_int_equal(tu_int(&r, 0, "execution_id"), e);
	tu_rows_free(&r);

	usleep(10000);
	assert_int_equal(wal_phase_complete(fx->w, p0), 0);
	assert_int_equal(wal_phase_fail(fx->w, p1), 0);
	assert_int_equal(wal_phase_list(fx->w, e, tu_collect, &r), 0);
	assert_string_equal(tu_val(&r, 0, "status"), "completed");
	assert_string_equal(tu_val(&r, 1, "status"), "failed");
	assert_string_equal(tu_val(&r, 2, "status"), "running");
	tu_assert_time(tu_val(&r, 0, "ended_at"));
	tu_assert_time(tu_val(&r, 1, "ended_at"));
	assert_true(tu_int(&r, 0, "duration_ms") >= 5);
	assert_true(tu_int(&r, 1, "duration_ms") >= 0);
	tu_rows_free(&r);

	/* Agents count toward their phase. */
	assert_true(wal_agent_start(fx->w, e, p2, &spec) > 0);
	assert_true(wal_agent_start(fx->w, e, p2, &spec) > 0);
	assert_true(wal_agent_start(fx->w, e, 0, &spec) > 0);
	assert_int_equal(phase_int(fx->w, e, p2, "agent_count"), 2);
	assert_int_equal(phase_int(fx->w, e, p0, "agent_count"), 0);
	assert_int_equal(exec_int(fx->w, e, "total_agents"), 3);
	assert_int_equal(exec_int(fx->w, other, "total_agents"), 0);

	/* A phase of no execution is refused. */
	assert_int_equal(wal_phase_start(fx->w, e + other + 100, "p", 0), -1);
}

static void test_agents(void **state)
{
	struct tu_fx *fx = *state;
	struct wal_agent_spec full = {.name = "coder",
				      .model = "model-x",
				      .system_prompt = "be brief",
				      .prompt = "write the parser",
				      .log_path = "/var/log/coder.log",
				      .attempt = 3,
				      .pid = 4242};
	struct wal_agent_spec solo = {.name = "solo"};
	struct wal_agent_spec noname = {.model = "m"};
	struct tu_rows r = {0};
	int64_t e, e2, p, a1, a2, a3, a4;
	char *v;

	e = wal_execution_start(fx->w, "e", NULL, NULL);
	p = wal_phase_start(fx->w, e, "work", 0);
	a1 = wal_agent_start(fx->w, e, p, &full);
	a2 = wal_agent_start(fx->w, e, 0, &solo);
	a3 = wal_agent_start(fx->w, e, p, &solo);
	assert_true(a1 > 0 && a2 > a1 && a3 > a2);
	errno = 0;
	assert_int_equal(wal_agent_start(fx->w, e, p, &noname), -1);
	assert_int_equal(errno, EINVAL);
	e2 = wal_execution_start(fx->w, "e2", NULL, NULL);
	a4 = wal_agent_start(fx->w, e2, 0, &solo);
	assert_true(a4 > 0);

	assert_int_equal(wal_agent_list(fx->w, e, tu_collect, &r), 0);
	assert_int_equal(r.n, 3);
	assert_int_equal(tu_int(&r, 0, "id"), a1);
	assert_int_equal(tu_int(&r, 1, "id"), a2);
	assert_int_equal(tu_int(&r, 2, "id"), a3);
	assert_string_equal(tu_val(&r, 0, "name"), "coder");
	assert_string_equal(tu_val(&r, 0, "model"), "model-x");
	assert_string_equal(tu_val(&r, 0, "log_path"), "/var/log/coder.log");
	assert_int_equal(tu_int(&r, 0, "attempt"), 3);
	assert_int_equal(tu_int(&r, 0, "pid"), 4242);
	assert_string_equal(tu_val(&r, 0, "status"), "running");
	assert_int_equal(tu_int(&r, 0, "execution_id"), e);
	assert_int_equal(tu_int(&r, 0, "phase_id"), p);
	tu_assert_time(tu_val(&r, 0, "started_at"));
	assert_null(tu_val(&r, 0, "ended_at"));
	assert_int_equal(tu_int(&r, 1, "attempt"), 1);
	assert_null(tu_val(&r, 1, "phase_id"));
	assert_null(tu_val(&r, 1, "model"));
	tu_rows_free(&r);
	assert_int_equal(wal_agent_list(fx->w, 0, tu_collect, &r), 0);
	assert_int_equal(r.n, 4);
	assert_int_equal(tu_int(&r, 3, "id"), a4);
	tu_rows_free(&r);
	/* The prompts are kept, although the listing leaves them out. */
	v = tu_query1(fx->w,
		      "SELECT system_prompt || '|' || prompt FROM "
		      "agents WHERE id = %lld",
		      (long long)a1);
	assert_string_equal(v, "be brief|write the parser");
	free(v);
	assert_int_equal(exec_int(fx->w, e, "total_agents"), 3);
	assert_int_equal(exec_int(fx->w, e2, "total_agents"), 1);

	usleep(10000);
	errno = 0;
	assert_int_equal(wal_agent_complete(fx->w, a1, "x", "{oops", 0), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(
		wal_agent_complete(fx->w, a1, "done text", "{\"files\":2}", 0),
		0);
	assert_int_equal(wal_agent_fail(fx->w, a2, "crashed", 137, 9), 0);
	assert_int_equal(wal_agent_complete(fx->w, a3, NULL, NULL, 3), 0);

	assert_int_equal(wal_agent_list(fx->w, e, tu_collect, &r), 0);
	assert_string_equal(tu_val(&r, 0, "status"), "completed");
	assert_string_equal(tu_val(&r, 0, "result"), "done text");
	assert_string_equal(tu_val(&r, 0, "structured_result"),
			    "{\"files\":2}");
	assert_int_equal(tu_int(&r, 0, "exit_code"), 0);
	tu_assert_time(tu_val(&r, 0, "ended_at"));
	assert_true(tu_int(&r, 0, "duration_ms") >= 5);
	assert_string_equal(tu_val(&r, 1, "status"), "failed");
	assert_string_equal(tu_val(&r, 1, "error"), "crashed");
	assert_int_equal(tu_int(&r, 1, "exit_code"), 137);
	assert_int_equal(tu_int(&r, 1, "exit_signal"), 9);
	tu_assert_time(tu_val(&r, 1, "ended_at"));
	assert_true(tu_int(&r, 1, "duration_ms") >= 0);
	assert_string_equal(tu_val(&r, 2, "status"), "completed");
	assert_null(tu_val(&r, 2, "result"));
	assert_int_equal(tu_int(&r, 2, "exit_code"), 3);
	tu_rows_free(&r);

	/* Token usage adds up on the agent and on its execution. */
	assert_int_equal(wal_agent_usage(fx->w, a1, 100, 20), 0);
	assert_int_equal(wal_agent_usage(fx->w, a1, 5, 1), 0);
	assert_int_equal(wal_agent_usage(fx->w, a2, 1000, 300), 0);
	assert_int_equal(wal_agent_usage(fx->w, a4, 7, 7), 0);
	assert_int_equal(agent_int(fx->w, e, a1, "tokens_in"), 105);
	assert_int_equal(agent_int(fx->w, e, a1, "tokens_out"), 21);
	assert_int_equal(agent_int(fx->w, e, a2, "tokens_in"), 1000);
	assert_int_equal(agent_int(fx->w, e, a2, "tokens_out"), 300);
	assert_int_equal(exec_int(fx->w, e, "tokens_in"), 1105);
	assert_int_equal(exec_int(fx->w, e, "tokens_out"), 321);
	assert_int_equal(exec_int(fx->w, e2, "tokens_in"), 7);
}

static int plan_row(const struct tu_rows *r, int64_t agent)
{
	char ids[32];

	snprintf(ids, sizeof(ids), "%lld", (long long)agent);
	return tu_find(r, "agent_id", ids);
}

static void test_recovery_plan(void **state)
{
	struct tu_fx *fx = *state;
	struct wal_agent_spec sa = {.name = "A"},
			      sb = {.name = "B", .attempt = 2},
			      sc = {.name = "C"}, sx = {.name = "X"};
	struct tu_rows r = {0};
	int64_t e1, e2, e3, p0, p1, pd, a, b, c, d, x;
	int i;

	e1 = wal_execution_start(fx->w, "first", NULL, NULL);
	p0 = wal_phase_start(fx->w, e1, "loop", 0);
	x = wal_agent_start(fx->w, e1, p0, &sx);
	assert_int_equal(wal_agent_fail(fx->w, x, "old", 1, 0), 0);
	assert_int_equal(wal_phase_complete(fx->w, p0), 0);
	p1 = wal_phase_start(fx->w, e1, "loop", 1);
	a = wal_agent_start(fx->w, e1, p1, &sa);
	b = wal_agent_start(fx->w, e1, p1, &sb);
	c = wal_agent_start(fx->w, e1, p1, &sc);
	assert_int_equal(wal_agent_complete(fx->w, a, "ok", NULL, 0), 0);
	assert_int_equal(wal_agent_fail(fx->w, c, "bad", 2, 0), 0);

	/* Finished executions have nothing to resume. */
	e2 = wal_execution_start(fx->w, "done", NULL, NULL);
	pd = wal_phase_start(fx->w, e2, "p", 0);
	assert_true(wal_agent_start(fx->w, e2, pd, &sa) > 0);
	assert_int_equal(wal_execution_complete(fx->w, e2, NULL), 0);

	e3 = wal_execution_start(fx->w, "second", NULL, NULL);
	pd = wal_phase_start(fx->w, e3, "q", 0);
	d = wal_agent_start(fx->w, e3, pd, &sx);

	assert_int_equal(wal_recovery_plan(fx->w, tu_collect, &r), 0);
	assert_int_equal(r.n, 4);
	assert_int_equal(plan_row(&r, x), -1);
	i = plan_row(&r, a);
	assert_true(i >= 0);
	assert_int_equal(tu_int(&r, i, "execution_id"), e1);
	assert_string_equal(tu_val(&r, i, "execution"), "first");
	assert_int_equal(tu_int(&r, i, "phase_id"), p1);
	assert_string_equal(tu_val(&r, i, "phase"), "loop");
	assert_int_equal(tu_int(&r, i, "iteration"), 1);
	assert_string_equal(tu_val(&r, i, "agent"), "A");
	assert_string_equal(tu_val(&r, i, "status"), "completed");
	assert_int_equal(tu_int(&r, i, "attempt"), 1);
	/* Only the newest is resumed: the older one is interrupted. */
	assert_string_equal(tu_val(&r, i, "action"), "interrupt");
	i = plan_row(&r, b);
	assert_true(i >= 0);
	assert_string_equal(tu_val(&r, i, "status"), "running");
	assert_int_equal(tu_int(&r, i, "attempt"), 2);
	assert_string_equal(tu_val(&r, i, "action"), "interrupt");
	i = plan_row(&r, c);
	assert_true(i >= 0);
	assert_string_equal(tu_val(&r, i, "status"), "failed");
	assert_string_equal(tu_val(&r, i, "action"), "interrupt");
	i = plan_row(&r, d);
	assert_true(i >= 0);
	assert_int_equal(tu_int(&r, i, "execution_id"), e3);
	assert_string_equal(tu_val(&r, i, "phase"), "q");
	assert_int_equal(tu_int(&r, i, "iteration"), 0);
	assert_string_equal(tu_val(&r, i, "action"), "resume");
	tu_rows_free(&r);

	/* Alone, the older one would be resumed: the skip and the resumes. */
	assert_int_equal(wal_execution_cancel(fx->w, e3), 0);
	assert_int_equal(wal_recovery_plan(fx->w, tu_collect, &r), 0);
	assert_int_equal(r.n, 3);
	assert_string_equal(tu_val(&r, plan_row(&r, a), "action"), "skip");
	assert_string_equal(tu_val(&r, plan_row(&r, b), "action"), "resume");
	assert_string_equal(tu_val(&r, plan_row(&r, c), "action"), "resume");
	tu_rows_free(&r);

	/* Once they have ended, there is nothing left to resume. */
	assert_int_equal(wal_execution_cancel(fx->w, e1), 0);
	assert_int_equal(wal_recovery_plan(fx->w, tu_collect, &r), 0);
	assert_int_equal(r.n, 0);
}

/*
 * What a resuming supervisor records: the processes with their start times,
 * the newest phase iteration with its agents, the resume itself (pid, boot,
 * count; tool calls left running end failed) - and, with --no-resume, the
 * execution with its unfinished phases and agents interrupted.
 */
static void test_resume_records(void **state)
{
	struct tu_fx *fx = *state;
	struct wal_agent_spec sa = {.name = "A"}, sb = {.name = "B"};
	struct wal_procs procs = {.pid = 4242,
				  .pid_start = 777,
				  .worker = 4241,
				  .worker_start = 0};
	struct tu_rows r = {0};
	int64_t e, p0, p1, a, b, t;

	e = wal_execution_start(fx->w, "resumable", NULL, NULL);
	assert_int_equal(wal_execution_boot(fx->w, e, "boot-1"), 0);
	p0 = wal_phase_start(fx->w, e, "p", 0);
	assert_int_equal(wal_phase_complete(fx->w, p0), 0);
	p1 = wal_phase_start(fx->w, e, "p", 1);
	a = wal_agent_start(fx->w, e, p1, &sa);
	b = wal_agent_start(fx->w, e, p1, &sb);
	assert_int_equal(wal_agent_started(fx->w, b, &procs), 0);
	assert_int_equal(wal_agent_complete(fx->w, a, "ok", NULL, 0), 0);
	t = wal_tool_start(fx->w, b, "edit", NULL);
	assert_true(t > 0);

	assert_int_equal(wal_agent_list(fx->w, e, tu_collect, &r), 0);
	assert_int_equal(tu_int(&r, 1, "pid"), 4242);
	assert_int_equal(tu_int(&r, 1, "pid_start"), 777);
	assert_int_equal(tu_int(&r, 1, "worker_pid"), 4241);
	assert_null(tu_val(&r, 1, "worker_start")); /* 0: unknown */
	assert_string_equal(tu_val(&r, 1, "status"), "running");
	tu_rows_free(&r);

	assert_int_equal(wal_recovery_agents(fx->w, e, tu_collect, &r), 0);
	assert_int_equal(r.n, 2);
	assert_int_equal(tu_int(&r, 0, "phase_id"), p1);
	assert_int_equal(tu_int(&r, 0, "iteration"), 1);
	assert_string_equal(tu_val(&r, 0, "phase_status"), "running");
	assert_string_equal(tu_val(&r, 0, "agent"), "A");
	assert_string_equal(tu_val(&r, 1, "status"), "running");
	tu_rows_free(&r);

	assert_int_equal(wal_execution_resume(fx->w, e, "boot-2"), 0);
	assert_int_equal(wal_execution_resume(fx->w, e, "boot-3"), 0);
	assert_exec_str(fx->w, e, "status", "running");
	assert_exec_str(fx->w, e, "boot_id", "boot-3");
	assert_int_equal(exec_int(fx->w, e, "recoveries"), 2);
	assert_int_equal(exec_int(fx->w, e, "supervisor_pid"), getpid());
	assert_int_equal(tu_query_int(fx->w, "SELECT count(*) FROM executions"
					     " WHERE recovered_at IS NOT NULL"),
			 1);
	assert_int_equal(tu_query_int(fx->w, "SELECT count(*) FROM tool_calls"
					     " WHERE status = 'failed' AND"
					     " error LIKE 'interrupted%%'"),
			 1);
	/* Restarting clears the processes: they are gone. */
	assert_int_equal(wal_agent_restart(fx->w, b, 2, "interrupted", -1, 0),
			 0);
	assert_int_equal(tu_query_int(fx->w, "SELECT count(*) FROM agents"
					     " WHERE pid IS NULL AND"
					     " pid_start IS NULL AND"
					     " worker_pid IS NULL"),
			 2);
	assert_int_equal(wal_phase_fail(fx->w, p1), 0);
	assert_int_equal(wal_phase_resume(fx->w, p1), 0);
	assert_int_equal(tu_query_int(fx->w, "SELECT count(*) FROM phases"
					     " WHERE status = 'running' AND"
					     " ended_at IS NULL"),
			 1);

	assert_int_equal(wal_execution_interrupt(fx->w, e), 0);
	assert_exec_str(fx->w, e, "status", "interrupted");
	assert_int_equal(tu_query_int(fx->w, "SELECT count(*) FROM phases"
					     " WHERE status = 'interrupted'"),
			 1);
	assert_int_equal(tu_query_int(fx->w, "SELECT count(*) FROM agents"
					     " WHERE status = 'interrupted'"),
			 1);
	assert_int_equal(tu_query_int(fx->w, "SELECT count(*) FROM agents"
					     " WHERE status = 'completed'"),
			 1);
	assert_int_equal(wal_execution_resume(fx->w, 999, NULL), -1);
	assert_int_equal(errno, ENOENT);
}

/* In a batch, a failing operation is undone with the counters it would have
 * moved; its neighbours and their counters commit. */
static void test_counters_in_batch(void **state)
{
	struct tu_fx *fx = *state;
	struct wal_agent_spec ok = {.name = "ok"}, noname = {.model = "m"};
	int64_t e, p, a;

	assert_int_equal(wal_batch_begin(fx->w), 0);
	e = wal_execution_start(fx->w, "batched", NULL, NULL);
	p = wal_phase_start(fx->w, e, "p", 0);
	a = wal_agent_start(fx->w, e, p, &ok);
	assert_true(e > 0 && p > 0 && a > 0);
	assert_int_equal(wal_agent_start(fx->w, e, p, &noname), -1);
	assert_int_equal(wal_tool_start(fx->w, a, "t", "{bad"), -1);
	assert_true(wal_tool_start(fx->w, a, "t", NULL) > 0);
	assert_int_equal(wal_agent_usage(fx->w, a, 3, 4), 0);
	assert_int_equal(wal_execution_complete(fx->w, e, "[oops"), -1);
	assert_true(wal_in_batch(fx->w));
	assert_int_equal(wal_batch_commit(fx->w), 0);

	assert_exec_str(fx->w, e, "status", "running");
	assert_int_equal(exec_int(fx->w, e, "total_iterations"), 1);
	assert_int_equal(exec_int(fx->w, e, "total_agents"), 1);
	assert_int_equal(exec_int(fx->w, e, "total_tool_calls"), 1);
	assert_int_equal(exec_int(fx->w, e, "tokens_in"), 3);
	assert_int_equal(exec_int(fx->w, e, "tokens_out"), 4);
	assert_int_equal(phase_int(fx->w, e, p, "agent_count"), 1);
	assert_int_equal(agent_int(fx->w, e, a, "tool_call_count"), 1);
	assert_int_equal(tu_query_int(fx->w, "SELECT count(*) FROM agents"), 1);
	assert_int_equal(tu_query_int(fx->w, "SELECT count(*) FROM tool_calls"),
			 1);

	/* A rolled back batch takes its rows and counters with it. */
	assert_int_equal(wal_batch_begin(fx->w), 0);
	assert_true(wal_agent_start(fx->w, e, p, &ok) > 0);
	assert_true(wal_phase_start(fx->w, e, "p", 1) > 0);
	assert_int_equal(wal_batch_rollback(fx->w), 0);
	assert_int_equal(exec_int(fx->w, e, "total_iterations"), 1);
	assert_int_equal(exec_int(fx->w, e, "total_agents"), 1);
	assert_int_equal(phase_int(fx->w, e, p, "agent_count"), 1);
}

/* ---- tool calls ---------------------------------------------------------- */

struct tool_fx {
	int64_t e, a;
};

static void start_agent(struct wal *w, struct tool_fx *t)
{
	struct wal_agent_spec spec = {.name = "tooluser"};

	t->e = wal_execution_start(w, "e", NULL, NULL);
	t->a = wal_agent_start(w, t->e, 0, &spec);
	assert_true(t->e > 0 && t->a > 0);
}

/* The tool call ID's row. */
static void tool_row(struct wal *w, int64_t id, struct tu_rows *r)
{
	char ids[32];
	int i;

	tu_rows_free(r);
	assert_int_equal(wal_tool_list(w, 0, 0, tu_collect, r), 0);
	snprintf(ids, sizeof(ids), "%lld", (long long)id);
	i = tu_find(r, "id", ids);
	assert_true(i >= 0);
	if (i > 0) { /* keep only row i, as row 0 */
		struct tu_row tmp = r->rows[0];

		r->rows[0] = r->rows[i];
		r->rows[i] = tmp;
	}
}

static char *objects_dir(const char *dir)
{
	return tu_path("%s/.smithers/logs/objects", dir);
}

static void test_tool_inline(void **state)
{
	struct tu_fx *fx = *state;
	struct tool_fx t;
	struct tu_rows r = {0};
	char out[WAL_INLINE_MAX + 1];
	char *objs = objects_dir(fx->dir);
	int64_t id, id2;

	start_agent(fx->w, &t);
	id = wal_tool_start(fx->w, t.a, "bash", "{\"cmd\":\"ls\"}");
	assert_true(id > 0);
	assert_int_equal(agent_int(fx->w, t.e, t.a, "tool_call_count"), 1);
	assert_int_equal(exec_int(fx->w, t.e, "total_tool_calls"), 1);
	tool_row(fx->w, id, &r);
	assert_string_equal(tu_val(&r, 0, "tool_name"), "bash");
	assert_string_equal(tu_val(&r, 0, "input"), "{\"cmd\":\"ls\"}");
	assert_string_equal(tu_val(&r, 0, "status"), "running");
	assert_int_equal(tu_int(&r, 0, "agent_id"), t.a);
	tu_assert_time(tu_val(&r, 0, "started_at"));

	/* Exactly WAL_INLINE_MAX bytes stay in the row. */
	memset(out, 'x', WAL_INLINE_MAX);
	out[0] = '<';
	out[WAL_INLINE_MAX - 1] = '>';
	out[WAL_INLINE_MAX] = '\0';
	assert_int_equal(wal_tool_complete(fx->w, id, out, WAL_INLINE_MAX,
					   "listed", NULL, NULL),
			 0);
	tool_row(fx->w, id, &r);
	assert_string_equal(tu_val(&r, 0, "output_inline"), out);
	assert_null(tu_val(&r, 0, "output_path"));
	assert_string_equal(tu_val(&r, 0, "summary"), "listed");
	assert_string_equal(tu_val(&r, 0, "status"), "completed");
	tu_assert_time(tu_val(&r, 0, "ended_at"));
	assert_int_equal(tu_count_files(objs), 0);

	/* A failure, with no output at all. */
	id2 = wal_tool_start(fx->w, t.a, "grep", NULL);
	assert_true(id2 > id);
	assert_int_equal(wal_tool_complete(fx->w, id2, NULL, 0, NULL, "failed",
					   "exit status 2"),
			 0);
	tool_row(fx->w, id2, &r);
	assert_string_equal(tu_val(&r, 0, "status"), "failed");
	assert_string_equal(tu_val(&r, 0, "error"), "exit status 2");
	assert_null(tu_val(&r, 0, "input"));
	assert_null(tu_val(&r, 0, "output_path"));
	tu_rows_free(&r);
	assert_int_equal(agent_int(fx->w, t.e, t.a, "tool_call_count"), 2);
	assert_int_equal(exec_int(fx->w, t.e, "total_tool_calls"), 2);

	/* Newest first, per agent or all, with a limit. */
	assert_int_equal(wal_tool_list(fx->w, t.a, 1, tu_collect, &r), 0);
	assert_int_equal(r.n, 1);
	assert_int_equal(tu_int(&r, 0, "id"), id2);
	tu_rows_free(&r);
	assert_int_equal(wal_tool_list(fx->w, t.a + 1000, 0, tu_collect, &r),
			 0);
	assert_int_equal(r.n, 0);

	/* A status other than completed or failed is refused. */
	id2 = wal_tool_start(fx->w, t.a, "ls", NULL);
	errno = 0;
	assert_int_equal(
		wal_tool_complete(fx->w, id2, "x", 1, NULL, "weird", NULL), -1);
	assert_int_equal(errno, EINVAL);
	tool_row(fx->w, id2, &r);
	assert_string_equal(tu_val(&r, 0, "status"), "running");
	assert_null(tu_val(&r, 0, "output_inline"));
	tu_rows_free(&r);

	errno = 0;
	assert_int_equal(wal_tool_start(fx->w, t.a, "bash", "{nope"), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(agent_int(fx->w, t.e, t.a, "tool_call_count"), 3);
	free(objs);
}

static void check_spilled(struct tu_fx *fx, int64_t id, const char *data,
			  size_t len)
{
	char hash[WAL_OID_HEXLEN + 1], git[WAL_OID_HEXLEN + 1];
	char *tmp = tu_path("%s/expected.bin", fx->dir);
	char *file, *want_tail, *back;
	const char *path;
	struct tu_rows r = {0};
	size_t blen, plen, tlen;

	tu_write_file(tmp, data, len);
	tu_git_hash_file(tmp, git);
	assert_int_equal(wal_blob_hash(data, len, hash), 0);
	assert_string_equal(hash, git);

	tool_row(fx->w, id, &r);
	assert_null(tu_val(&r, 0, "output_inline"));
	assert_string_equal(tu_val(&r, 0, "output_hash"), git);
	assert_int_equal(tu_int(&r, 0, "output_size"), (int64_t)len);
	path = tu_val(&r, 0, "output_path");
	assert_non_null(path);
	want_tail = tu_path("logs/objects/%.2s/%s", git, git + 2);
	plen = strlen(path);
	tlen = strlen(want_tail);
	assert_true(plen >= tlen);
	assert_string_equal(path + plen - tlen, want_tail);

	file = tu_path("%s/.smithers/%s", fx->dir, want_tail);
	back = tu_read_file(file, &blen);
	if (!back)
		fail_msg("no object file '%s'", file);
	assert_int_equal(blen, len);
	assert_memory_equal(back, data, len);
	free(back);
	free(file);
	free(want_tail);
	unlink(tmp);
	free(tmp);
	tu_rows_free(&r);
}

static void test_tool_spill(void **state)
{
	struct tu_fx *fx = *state;
	char *objs = objects_dir(fx->dir);
	struct tool_fx t;
	struct tu_rows r = {0};
	size_t len = WAL_INLINE_MAX + 1, i;
	char *big, *other;
	int64_t id1, id2, id3;

	/* Binary, with NUL bytes: stored as bytes, hashed as bytes. */
	big = malloc(len);
	other = malloc(3 * len);
	assert_non_null(big);
	assert_non_null(other);
	for (i = 0; i < len; i++)
		big[i] = (char)(i * 7 % 256);
	for (i = 0; i < 3 * len; i++)
		other[i] = "large output line\n"[i % 18];

	start_agent(fx->w, &t);
	id1 = wal_tool_start(fx->w, t.a, "cat", NULL);
	assert_int_equal(wal_tool_complete(fx->w, id1, big, len, "bytes",
					   "completed", NULL),
			 0);
	check_spilled(fx, id1, big, len);
	assert_int_equal(tu_count_files(objs), 1);

	/* The same output again shares the file. */
	id2 = wal_tool_start(fx->w, t.a, "cat", NULL);
	assert_int_equal(
		wal_tool_complete(fx->w, id2, big, len, NULL, NULL, NULL), 0);
	check_spilled(fx, id2, big, len);
	assert_int_equal(tu_count_files(objs), 1);
	tool_row(fx->w, id2, &r);
	assert_string_equal(tu_val(&r, 0, "status"), "completed");
	tu_rows_free(&r);

	id3 = wal_tool_start(fx->w, t.a, "log", NULL);
	assert_int_equal(
		wal_tool_complete(fx->w, id3, other, 3 * len, NULL, NULL, NULL),
		0);
	check_spilled(fx, id3, other, 3 * len);
	assert_int_equal(tu_count_files(objs), 2);
	assert_int_equal(agent_int(fx->w, t.e, t.a, "tool_call_count"), 3);
	assert_int_equal(exec_int(fx->w, t.e, "total_tool_calls"), 3);
	free(big);
	free(other);
	free(objs);
}

/* The store remembers which objects are there, so as not to stat them
 * again: a rolled back batch, and a gc, make it forget. Else a row would
 * name a file that is gone (or was never synced). */
static void test_tool_spill_forgotten(void **state)
{
	struct tu_fx *fx = *state;
	struct wal_gc_options all = {.keep = 0, .older_than_s = WAL_GC_NO_RULE};
	struct wal_gc_result res;
	char *objs = objects_dir(fx->dir);
	size_t len = 3 * WAL_INLINE_MAX, i;
	char *big = malloc(len);
	struct tool_fx t;
	int64_t id;

	assert_non_null(big);
	for (i = 0; i < len; i++)
		big[i] = "spilled, then gone\n"[i % 19];
	start_agent(fx->w, &t);

	/* Written in a batch that rolls back: an orphan, which goes. */
	assert_int_equal(wal_batch_begin(fx->w), 0);
	id = wal_tool_start(fx->w, t.a, "cat", NULL);
	assert_int_equal(
		wal_tool_complete(fx->w, id, big, len, NULL, NULL, NULL), 0);
	assert_int_equal(tu_count_files(objs), 1);
	assert_int_equal(wal_batch_rollback(fx->w), 0);
	tu_rmrf(objs);

	/* The next batch writes it again, and the commit names it. */
	assert_int_equal(wal_batch_begin(fx->w), 0);
	id = wal_tool_start(fx->w, t.a, "cat", NULL);
	assert_int_equal(
		wal_tool_complete(fx->w, id, big, len, NULL, NULL, NULL), 0);
	assert_int_equal(wal_batch_commit(fx->w), 0);
	check_spilled(fx, id, big, len);

	/* The same output twice in one batch: one file. */
	assert_int_equal(wal_batch_begin(fx->w), 0);
	for (i = 0; i < 2; i++) {
		id = wal_tool_start(fx->w, t.a, "cat", NULL);
		assert_int_equal(wal_tool_complete(fx->w, id, big, len, NULL,
						   NULL, NULL),
				 0);
	}
	assert_int_equal(wal_batch_commit(fx->w), 0);
	check_spilled(fx, id, big, len);
	assert_int_equal(tu_count_files(objs), 1);

	/* gc deletes it with its execution; when the output comes back, so
	 * does its file. */
	assert_int_equal(wal_execution_complete(fx->w, t.e, NULL), 0);
	assert_int_equal(wal_gc(fx->w, &all, &res), 0);
	assert_int_equal(res.objects, 1);
	assert_int_equal(tu_count_files(objs), 0);
	start_agent(fx->w, &t);
	id = wal_tool_start(fx->w, t.a, "cat", NULL);
	assert_int_equal(
		wal_tool_complete(fx->w, id, big, len, NULL, NULL, NULL), 0);
	check_spilled(fx, id, big, len);
	free(big);
	free(objs);
}

/* wal_tool_record() counts nothing: the caller adds the calls with the
 * usage, in the same batch. In a batch it runs without a savepoint of its
 * own; one that fails still leaves nothing and its neighbours commit. */
static void test_tool_record(void **state)
{
	struct tu_fx *fx = *state;
	struct wal_usage two = {.tool_calls = 2, .tokens_in = 5};
	struct tool_fx t;
	int64_t id, id2, parent;

	start_agent(fx->w, &t);
	assert_int_equal(wal_batch_begin(fx->w), 0);
	id = wal_tool_record(fx->w, t.a, "Read", "{\"p\":1}", "toolu_1", 0);
	assert_true(id > 0);
	assert_int_equal(wal_tool_record(fx->w, t.a, "Read", "{bad", NULL, 0),
			 -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(wal_tool_record(fx->w, t.a, "Read", NULL, NULL, 999),
			 -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(
		wal_tool_complete(fx->w, id + 100, "x", 1, NULL, NULL, NULL),
		-1);
	assert_int_equal(errno, ENOENT);
	id2 = wal_tool_record(fx->w, t.a, "Glob", NULL, NULL, id);
	assert_true(id2 > 0);
	assert_int_equal(
		wal_tool_complete(fx->w, id2, "ok", 2, NULL, NULL, NULL), 0);
	assert_true(wal_in_batch(fx->w));
	assert_int_equal(agent_int(fx->w, t.e, t.a, "tool_call_count"), 0);
	assert_int_equal(wal_agent_add_usage(fx->w, t.a, &two), 0);
	assert_int_equal(wal_batch_commit(fx->w), 0);

	assert_int_equal(tu_query_int(fx->w, "SELECT count(*) FROM tool_calls"),
			 2);
	assert_int_equal(agent_int(fx->w, t.e, t.a, "tool_call_count"), 2);
	assert_int_equal(exec_int(fx->w, t.e, "total_tool_calls"), 2);
	assert_int_equal(exec_int(fx->w, t.e, "tokens_in"), 5);
	parent = tu_query_int(fx->w,
			      "SELECT parent_id FROM tool_calls"
			      " WHERE id = %lld",
			      (long long)id2);
	assert_int_equal(parent, id);
	/* Outside a batch, each is its own transaction. */
	assert_true(wal_tool_record(fx->w, t.a, "Bash", NULL, NULL, 0) > 0);
	assert_int_equal(tu_query_int(fx->w, "SELECT count(*) FROM tool_calls"),
			 3);
}

static void test_blob_hash(void **state)
{
	struct tu_fx *fx = *state;
	char h[WAL_OID_HEXLEN + 1], git[WAL_OID_HEXLEN + 1];
	char *tmp = tu_path("%s/blob", fx->dir);
	char data[5000];
	size_t i;

	assert_int_equal(wal_blob_hash("", 0, h), 0);
	assert_string_equal(h, "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");
	assert_int_equal(wal_blob_hash("hello\n", 6, h), 0);
	assert_string_equal(h, "ce013625030ba8dba906f756967f9e9ca394464a");
	for (i = 0; i < sizeof(data); i++)
		data[i] = (char)(i * 31 % 251);
	tu_write_file(tmp, data, sizeof(data));
	tu_git_hash_file(tmp, git);
	assert_int_equal(wal_blob_hash(data, sizeof(data), h), 0);
	assert_string_equal(h, git);
	free(tmp);
}

/* ---- artifacts ----------------------------------------------------------- */

static void test_artifact_outside_repo(void **state)
{
	struct tu_fx *fx = *state;
	struct tool_fx t;
	char git[WAL_OID_HEXLEN + 1];
	char *file = tu_path("%s/out.txt", fx->dir);
	char *missing = tu_path("%s/missing.txt", fx->dir);
	struct tu_rows r = {0};
	int64_t id, id2;

	start_agent(fx->w, &t);
	tu_write_file(file, "one\ntwo\nthree\n", 14);
	tu_git_hash_file(file, git);
	id = wal_artifact_add(fx->w, t.a, "report", "text", file, "three lines",
			      "{\"k\":\"v\"}");
	assert_true(id > 0);
	assert_int_equal(wal_artifact_list(fx->w, 0, tu_collect, &r), 0);
	assert_int_equal(r.n, 1);
	assert_int_equal(tu_int(&r, 0, "id"), id);
	assert_string_equal(tu_val(&r, 0, "name"), "report");
	assert_string_equal(tu_val(&r, 0, "type"), "text");
	assert_non_null(strstr(tu_val(&r, 0, "file_path"), "out.txt"));
	assert_string_equal(tu_val(&r, 0, "git_hash"), git);
	assert_null(tu_val(&r, 0, "git_commit"));
	assert_int_equal(tu_int(&r, 0, "byte_size"), 14);
	assert_int_equal(tu_int(&r, 0, "line_count"), 3);
	assert_string_equal(tu_val(&r, 0, "summary"), "three lines");
	assert_string_equal(tu_val(&r, 0, "metadata"), "{\"k\":\"v\"}");
	assert_int_equal(tu_int(&r, 0, "agent_id"), t.a);
	tu_assert_time(tu_val(&r, 0, "created_at"));
	tu_rows_free(&r);

	/* Never its content: changing the file changes nothing stored. */
	tu_write_file(file, "changed\n", 8);
	id2 = wal_artifact_add(fx->w, 0, "again", NULL, file, NULL, NULL);
	assert_true(id2 > id);
	assert_int_equal(wal_artifact_list(fx->w, 0, tu_collect, &r), 0);
	assert_int_equal(r.n, 2);
	assert_int_equal(tu_int(&r, 0, "id"), id2);
	assert_int_equal(tu_int(&r, 0, "byte_size"), 8);
	assert_int_equal(tu_int(&r, 0, "line_count"), 1);
	assert_null(tu_val(&r, 0, "type"));
	assert_string_equal(tu_val(&r, 1, "git_hash"), git);
	tu_rows_free(&r);
	assert_int_equal(wal_artifact_list(fx->w, 1, tu_collect, &r), 0);
	assert_int_equal(r.n, 1);
	assert_int_equal(tu_int(&r, 0, "id"), id2);
	tu_rows_free(&r);

	errno = 0;
	assert_int_equal(
		wal_artifact_add(fx->w, t.a, "gone", NULL, missing, NULL, NULL),
		-1);
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(wal_errmsg(fx->w), "missing.txt"));
	errno = 0;
	assert_int_equal(
		wal_artifact_add(fx->w, t.a, "bad", NULL, file, NULL, "{bad"),
		-1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(tu_query_int(fx->w, "SELECT count(*) FROM artifacts"),
			 2);
	free(file);
	free(missing);
}

static void test_artifact_in_repo(void **state)
{
	struct tu_fx *fx = *state;
	char hash[WAL_OID_HEXLEN + 1], head[WAL_OID_HEXLEN + 1];
	char *repo = tu_path("%s/repo", fx->dir);
	char *sub = tu_path("%s/repo/src", fx->dir);
	char *file = tu_path("%s/repo/src/main.c", fx->dir);
	const char *src = "int main(void)\n{\n\treturn 0;\n}\n";
	struct tu_rows r = {0};
	int64_t id;

	assert_int_equal(tu_run("'%s' init -q '%s'", tu_git(), repo), 0);
	assert_int_equal(mkdir(sub, 0755), 0);
	tu_write_file(file, src, strlen(src));
	assert_int_equal(tu_run("cd '%s' && '%s' add src/main.c && "
				"'%s' -c user.name=t -c user.email=t@t "
				"commit -q -m init",
				repo, tu_git(), tu_git()),
			 0);
	tu_git_head(repo, head);
	/* A modified, uncommitted file: hash of what is on disk now. */
	tu_write_file(file, "int x;\n", 7);
	tu_git_hash_file(file, hash);

	id = wal_artifact_add(fx->w, 0, "main", "source", file, NULL, NULL);
	if (id <= 0)
		fail_msg("artifact_add: %s", wal_errmsg(fx->w));
	assert_int_equal(wal_artifact_list(fx->w, 0, tu_collect, &r), 0);
	assert_int_equal(r.n, 1);
	assert_string_equal(tu_val(&r, 0, "git_commit"), head);
	assert_string_equal(tu_val(&r, 0, "git_hash"), hash);
	assert_int_equal(tu_int(&r, 0, "byte_size"), 7);
	assert_int_equal(tu_int(&r, 0, "line_count"), 1);
	tu_rows_free(&r);
	free(repo);
	free(sub);
	free(file);
}

/* Column COL of agent ID as a new string (NULL for SQL NULL). */
static char *agent_str(struct wal *w, int64_t id, const char *col)
{
	return tu_query1(w, "SELECT %s FROM agents WHERE id = %lld", col,
			 (long long)id);
}

static void assert_agent_str(struct wal *w, int64_t id, const char *col,
			     const char *want)
{
	char *v = agent_str(w, id, col);

	if (!want && v)
		fail_msg("agent %lld %s = '%s', expected NULL", (long long)id,
			 col, v);
	if (want && (!v || strcmp(v, want)))
		fail_msg("agent %lld %s = '%s', expected '%s'", (long long)id,
			 col, v ? v : "NULL", want);
	free(v);
}

/*
 * A Claude Code agent: its kind and session from the start, the session as
 * the CLI reports it (NULL keeps a column), the attempts that resume it,
 * and what wal_recovery_agents() hands a resuming supervisor.
 */
static void test_claude_session(void **state)
{
	struct tu_fx *fx = *state;
	struct wal_agent_spec cc = {.name = "coder",
				    .kind = "claude",
				    .session_id = "6f1c0a2e-session"};
	struct wal_agent_spec plain = {.name = "plain"};
	struct wal_agent_spec odd = {.name = "odd", .kind = "codex-ish"};
	struct tu_rows r = {0};
	int64_t e, p, a, b;

	e = wal_execution_start(fx->w, "cc", NULL, NULL);
	p = wal_phase_start(fx->w, e, "code", 0);
	a = wal_agent_start(fx->w, e, p, &cc);
	b = wal_agent_start(fx->w, e, p, &plain);
	assert_true(a > 0 && b > 0);
	assert_int_equal(wal_agent_start(fx->w, e, p, &odd), -1);
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(wal_errmsg(fx->w), "codex-ish"));
	assert_agent_str(fx->w, a, "kind", "claude");
	assert_agent_str(fx->w, a, "session_id", "6f1c0a2e-session");
	assert_agent_str(fx->w, b, "kind", "command");
	assert_agent_str(fx->w, b, "session_id", NULL);

	/* Not reported yet: no cli_version, nothing to resume. */
	assert_int_equal(wal_recovery_agents(fx->w, e, tu_collect, &r), 0);
	assert_int_equal(r.n, 2);
	assert_string_equal(tu_val(&r, 0, "kind"), "claude");
	assert_string_equal(tu_val(&r, 0, "session_id"), "6f1c0a2e-session");
	assert_null(tu_val(&r, 0, "cli_version"));
	assert_string_equal(tu_val(&r, 1, "kind"), "command");
	tu_rows_free(&r);

	assert_int_equal(wal_agent_session(fx->w, a, "6f1c0a2e-session",
					   "claude-opus-4-1", "2.0.14",
					   "[\"Bash\",\"Read\",\"Task\"]"),
			 0);
	assert_agent_str(fx->w, a, "model", "claude-opus-4-1");
	assert_agent_str(fx->w, a, "cli_version", "2.0.14");
	assert_agent_str(fx->w, a, "tools", "[\"Bash\",\"Read\",\"Task\"]");
	/* NULL keeps what is there. */
	assert_int_equal(wal_agent_session(fx->w, a, NULL, NULL, "2.0.15",
					   NULL),
			 0);
	assert_agent_str(fx->w, a, "session_id", "6f1c0a2e-session");
	assert_agent_str(fx->w, a, "model", "claude-opus-4-1");
	assert_agent_str(fx->w, a, "cli_version", "2.0.15");
	assert_agent_str(fx->w, a, "tools", "[\"Bash\",\"Read\",\"Task\"]");
	/* Tools that are not JSON change nothing, not even the rest. */
	assert_int_equal(wal_agent_session(fx->w, a, "other", NULL, NULL,
					   "[\"Bash\""),
			 -1);
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(wal_errmsg(fx->w), "not valid JSON"));
	assert_agent_str(fx->w, a, "session_id", "6f1c0a2e-session");
	assert_int_equal(wal_agent_session(fx->w, 999, "s", NULL, NULL, NULL),
			 -1);
	assert_int_equal(errno, ENOENT);

	assert_int_equal(wal_recovery_agents(fx->w, e, tu_collect, &r), 0);
	assert_string_equal(tu_val(&r, 0, "cli_version"), "2.0.15");
	tu_rows_free(&r);

	/* Attempts: fresh, resumed twice, fresh again. */
	assert_int_equal(tu_query_int(fx->w, "SELECT resumes FROM agents"
					     " WHERE id = %lld",
				      (long long)a),
			 0);
	assert_int_equal(wal_agent_resume(fx->w, a, "go on"), 0);
	assert_int_equal(wal_agent_resume(fx->w, a, "finish the tests"), 0);
	assert_agent_str(fx->w, a, "resume_prompt", "finish the tests");
	assert_int_equal(tu_query_int(fx->w, "SELECT resumes FROM agents"
					     " WHERE id = %lld",
				      (long long)a),
			 2);
	assert_int_equal(wal_agent_resume(fx->w, a, NULL), 0);
	assert_agent_str(fx->w, a, "resume_prompt", NULL);
	assert_int_equal(tu_query_int(fx->w, "SELECT resumes FROM agents"
					     " WHERE id = %lld",
				      (long long)a),
			 2);
	assert_int_equal(wal_agent_resume(fx->w, 999, "x"), -1);
	assert_int_equal(errno, ENOENT);

	/* The listing has it all, and the turns of the structured result. */
	assert_int_equal(wal_agent_complete(fx->w, a, "done",
					    "{\"num_turns\":7,\"is_error\":"
					    "false}",
					    0),
			 0);
	assert_int_equal(wal_agent_list(fx->w, e, tu_collect, &r), 0);
	assert_int_equal(tu_int(&r, 0, "turns"), 7);
	assert_null(tu_val(&r, 1, "turns"));
	assert_string_equal(tu_val(&r, 0, "cli_version"), "2.0.15");
	assert_int_equal(tu_int(&r, 0, "resumes"), 2);
	assert_string_equal(tu_val(&r, 1, "kind"), "command");
	tu_rows_free(&r);
}

/*
 * Usage: tokens, cache tokens and cost add up on the agent and on its
 * execution, a negative correction included; a bad one changes nothing,
 * also inside a batch, where its neighbours still commit.
 */
static void test_usage_cost(void **state)
{
	struct tu_fx *fx = *state;
	struct wal_agent_spec sa = {.name = "a", .kind = "claude"},
			      sb = {.name = "b"};
	struct wal_usage u1 = {100, 20, 3000, 400, 0.0125, 0, 0, 1};
	struct wal_usage u2 = {50, 5, 1000, 0, 0.5, 0, 0, 1};
	struct wal_usage fix = {-10, 0, -1000, 0, -0.0125, 0, 0, 1};
	struct wal_usage nan_cost = {1, 1, 1, 1, NAN, 0, 0, 1};
	char *v;
	int64_t e, a, b;

	e = wal_execution_start(fx->w, "usage", NULL, NULL);
	a = wal_agent_start(fx->w, e, 0, &sa);
	b = wal_agent_start(fx->w, e, 0, &sb);
	assert_int_equal(wal_agent_add_usage(fx->w, a, &u1), 0);
	assert_int_equal(wal_agent_add_usage(fx->w, b, &u2), 0);
	assert_int_equal(wal_agent_add_usage(fx->w, a, &fix), 0);
	/* The old call adds tokens alone. */
	assert_int_equal(wal_agent_usage(fx->w, b, 1, 2), 0);
	assert_int_equal(wal_agent_usage(fx->w, b, -1, 2), -1);
	assert_int_equal(errno, EINVAL);

	assert_int_equal(agent_int(fx->w, e, a, "tokens_in"), 90);
	assert_int_equal(agent_int(fx->w, e, a, "tokens_out"), 20);
	assert_int_equal(agent_int(fx->w, e, a, "cache_read_tokens"), 2000);
	assert_int_equal(agent_int(fx->w, e, a, "cache_write_tokens"), 400);
	assert_int_equal(agent_int(fx->w, e, b, "tokens_in"), 51);
	assert_int_equal(agent_int(fx->w, e, b, "cache_read_tokens"), 1000);
	assert_int_equal(exec_int(fx->w, e, "tokens_in"), 141);
	assert_int_equal(exec_int(fx->w, e, "tokens_out"), 27);
	assert_int_equal(exec_int(fx->w, e, "cache_read_tokens"), 3000);
	assert_int_equal(exec_int(fx->w, e, "cache_write_tokens"), 400);
	v = tu_query1(fx->w, "SELECT printf('%%.4f', cost_usd) FROM agents"
			     " WHERE id = %lld",
		      (long long)a);
	assert_string_equal(v, "0.0000");
	free(v);
	v = tu_query1(fx->w, "SELECT printf('%%.4f', cost_usd)"
			     " FROM executions WHERE id = %lld",
		      (long long)e);
	assert_string_equal(v, "0.5000");
	free(v);

	/* In a batch: a cost that is no number, an unknown agent. */
	assert_int_equal(wal_batch_begin(fx->w), 0);
	assert_int_equal(wal_agent_add_usage(fx->w, a, &nan_cost), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(wal_agent_add_usage(fx->w, 999, &u1), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(wal_agent_add_usage(fx->w, a, &u2), 0);
	assert_int_equal(wal_agent_add_usage(fx->w, a, NULL), -1);
	assert_int_equal(wal_batch_commit(fx->w), 0);
	assert_int_equal(agent_int(fx->w, e, a, "tokens_in"), 140);
	assert_int_equal(exec_int(fx->w, e, "tokens_in"), 191);
	assert_int_equal(exec_int(fx->w, e, "cache_read_tokens"), 4000);
	v = tu_query1(fx->w, "SELECT printf('%%.4f', cost_usd)"
			     " FROM executions WHERE id = %lld",
		      (long long)e);
	assert_string_equal(v, "1.0000");
	free(v);

	/* The budget: none, set, cleared. */
	assert_null(exec_str(fx->w, e, "max_cost_usd"));
	assert_int_equal(wal_execution_budget(fx->w, e, 2.5), 0);
	assert_exec_str(fx->w, e, "max_cost_usd", "2.5");
	assert_int_equal(wal_execution_budget(fx->w, e, NAN), -1);
	assert_int_equal(errno, EINVAL);
	assert_exec_str(fx->w, e, "max_cost_usd", "2.5");
	assert_int_equal(wal_execution_budget(fx->w, e, -1), 0);
	assert_null(exec_str(fx->w, e, "max_cost_usd"));
	assert_int_equal(wal_execution_budget(fx->w, 999, 1), -1);
	assert_int_equal(errno, ENOENT);
}

/*
 * A cost unknown: an agent that never reported one (a codex agent, a
 * command) has none, NULL, and neither has an execution none of whose
 * agents has; a known cost is added to NULL as to 0; usage without a cost
 * leaves the cost as it is, and a garbage cost without has_cost is not
 * looked at. Reasoning tokens add up like the others.
 */
static void test_usage_unknown_cost(void **state)
{
	struct tu_fx *fx = *state;
	struct wal_agent_spec sc = {.name = "codex", .kind = "codex"},
			      sl = {.name = "claude", .kind = "claude"},
			      bad = {.name = "x", .kind = "gemini"};
	struct wal_usage tokens = {.tokens_in = 100,
				   .tokens_out = 40,
				   .reasoning = 25,
				   .cost_usd = NAN};
	struct wal_usage cost = {.tokens_in = 1, .cost_usd = 0.25,
				 .has_cost = 1};
	int64_t e, c, l;

	e = wal_execution_start(fx->w, "codex", NULL, NULL);
	c = wal_agent_start(fx->w, e, 0, &sc);
	assert_true(c > 0);
	assert_int_equal(wal_agent_start(fx->w, e, 0, &bad), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(wal_agent_add_usage(fx->w, c, &tokens), 0);
	assert_int_equal(wal_agent_add_usage(fx->w, c, &tokens), 0);
	assert_int_equal(agent_int(fx->w, e, c, "reasoning_tokens"), 50);
	assert_int_equal(agent_int(fx->w, e, c, "tokens_out"), 80);
	assert_int_equal(exec_int(fx->w, e, "reasoning_tokens"), 50);
	assert_int_equal(tu_query_int(fx->w, "SELECT cost_usd IS NULL"
					     " FROM agents WHERE id = %lld",
				      (long long)c),
			 1);
	assert_exec_str(fx->w, e, "cost_usd", NULL);
	assert_int_equal(exec_int(fx->w, e, "tokens_in") +
				 exec_int(fx->w, e, "tokens_out"),
			 280);
	assert_exec_str(fx->w, e, "max_cost_usd", NULL);

	/* A claude agent's cost: known, on it and on the execution; the
	 * codex agent's stays unknown. */
	l = wal_agent_start(fx->w, e, 0, &sl);
	assert_int_equal(wal_agent_add_usage(fx->w, l, &cost), 0);
	assert_int_equal(wal_agent_add_usage(fx->w, l, &tokens), 0);
	assert_int_equal(tu_query_int(fx->w, "SELECT cost_usd IS NULL"
					     " FROM agents WHERE id = %lld",
				      (long long)c),
			 1);
	assert_exec_str(fx->w, e, "cost_usd", "0.25");
	assert_int_equal(wal_execution_budget(fx->w, e, 1.5), 0);
	assert_int_equal(exec_int(fx->w, e, "tokens_in") +
				 exec_int(fx->w, e, "tokens_out"),
			 421);
	assert_int_equal(exec_int(fx->w, e, "reasoning_tokens"), 75);
	assert_exec_str(fx->w, e, "max_cost_usd", "1.5");
	/* A cost reported later by the codex agent is its first. */
	assert_int_equal(wal_agent_add_usage(fx->w, c, &cost), 0);
	assert_int_equal(tu_query_int(fx->w, "SELECT cost_usd * 100"
					     " FROM agents WHERE id = %lld",
				      (long long)c),
			 25);
	assert_exec_str(fx->w, e, "cost_usd", "0.5");

}

/*
 * What an agent's process tree used and how an execution's agents are
 * contained: unknown (NULL) until set; set, not added; a negative value
 * is NULL again; an unknown id is ENOENT.
 */
static void test_resources_containment(void **state)
{
	struct tu_fx *fx = *state;
	struct wal_agent_spec spec = {.name = "tree"};
	struct tu_rows r = {0};
	int64_t e, a;

	e = wal_execution_start(fx->w, "contained", NULL, NULL);
	a = wal_agent_start(fx->w, e, 0, &spec);
	assert_true(a > 0);
	assert_int_equal(wal_agent_list(fx->w, e, tu_collect, &r), 0);
	assert_null(tu_val(&r, 0, "mem_peak"));
	assert_null(tu_val(&r, 0, "cpu_usec"));
	tu_rows_free(&r);
	assert_exec_str(fx->w, e, "containment", NULL);

	assert_int_equal(wal_agent_resources(fx->w, a, 340 << 20, 1500000), 0);
	assert_int_equal(agent_int(fx->w, e, a, "mem_peak"), 340 << 20);
	assert_int_equal(agent_int(fx->w, e, a, "cpu_usec"), 1500000);
	/* Set, not added: the caller accumulates. */
	assert_int_equal(wal_agent_resources(fx->w, a, 1000, 2500000), 0);
	assert_int_equal(agent_int(fx->w, e, a, "mem_peak"), 1000);
	assert_int_equal(agent_int(fx->w, e, a, "cpu_usec"), 2500000);
	/* Each one unknown by itself. */
	assert_int_equal(wal_agent_resources(fx->w, a, -1, 7), 0);
	assert_int_equal(wal_agent_list(fx->w, e, tu_collect, &r), 0);
	assert_int_equal(r.n, 1);
	assert_null(tu_val(&r, 0, "mem_peak"));
	assert_int_equal(tu_int(&r, 0, "cpu_usec"), 7);
	tu_rows_free(&r);
	assert_int_equal(wal_agent_resources(fx->w, a, 0, -1), 0);
	assert_int_equal(agent_int(fx->w, e, a, "mem_peak"), 0);
	assert_int_equal(tu_query_int(fx->w, "SELECT cpu_usec IS NULL"
					     " FROM agents WHERE id = %lld",
				      (long long)a),
			 1);
	assert_int_equal(wal_agent_resources(fx->w, a + 100, 1, 1), -1);
	assert_int_equal(errno, ENOENT);

	assert_int_equal(wal_execution_containment(fx->w, e, "cgroup"), 0);
	assert_exec_str(fx->w, e, "containment", "cgroup");
	assert_int_equal(wal_execution_containment(
				 fx->w, e, "process group: no delegated cgroup"),
			 0);
	assert_exec_str(fx->w, e, "containment",
			"process group: no delegated cgroup");
	assert_int_equal(wal_execution_containment(fx->w, e, NULL), 0);
	assert_exec_str(fx->w, e, "containment", NULL);
	assert_int_equal(wal_execution_containment(fx->w, e + 100, "cgroup"),
			 -1);
	assert_int_equal(errno, ENOENT);
}

/*
 * Tool calls inside others: the agent's id of each, its parent, both in
 * the listing; a parent must be a call of the same execution; a call goes
 * with its parent, and gc drops a tree with its execution.
 */
static void test_tool_tree(void **state)
{
	struct tu_fx *fx = *state;
	struct wal_agent_spec sa = {.name = "a", .kind = "claude"};
	struct wal_gc_options keep1 = {.keep = 1,
				       .older_than_s = WAL_GC_NO_RULE};
	struct wal_gc_result res;
	struct tu_rows r = {0};
	int64_t e, e2, a, a2, task, c1, c2, other;

	e = wal_execution_start(fx->w, "tree", NULL, NULL);
	a = wal_agent_start(fx->w, e, 0, &sa);
	task = wal_tool_start_ref(fx->w, a, "Task",
				  "{\"description\":\"look around\"}",
				  "toolu_01", 0);
	c1 = wal_tool_start_ref(fx->w, a, "Glob", NULL, "toolu_02", task);
	c2 = wal_tool_start_ref(fx->w, a, "Read", NULL, NULL, task);
	assert_true(task > 0 && c1 > 0 && c2 > 0);
	assert_int_equal(wal_tool_start_ref(fx->w, a, "Read", NULL, NULL, 999),
			 -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(agent_int(fx->w, e, a, "tool_call_count"), 3);
	assert_int_equal(exec_int(fx->w, e, "total_tool_calls"), 3);

	assert_int_equal(wal_tool_list(fx->w, a, 0, tu_collect, &r), 0);
	assert_int_equal(r.n, 3);
	assert_int_equal(tu_int(&r, 2, "id"), task);
	assert_string_equal(tu_val(&r, 2, "external_id"), "toolu_01");
	assert_null(tu_val(&r, 2, "parent_id"));
	assert_string_equal(tu_val(&r, 1, "external_id"), "toolu_02");
	assert_int_equal(tu_int(&r, 1, "parent_id"), task);
	assert_null(tu_val(&r, 0, "external_id"));
	assert_int_equal(tu_int(&r, 0, "parent_id"), task);
	tu_rows_free(&r);

	/* Another execution's agent cannot nest under this tree. */
	e2 = wal_execution_start(fx->w, "other", NULL, NULL);
	a2 = wal_agent_start(fx->w, e2, 0, &sa);
	assert_int_equal(wal_tool_start_ref(fx->w, a2, "Bash", NULL, NULL,
					    task),
			 -1);
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(wal_errmsg(fx->w), "no tool call"));
	other = wal_tool_start(fx->w, a2, "Bash", NULL);
	assert_true(other > 0);
	assert_int_equal(exec_int(fx->w, e2, "total_tool_calls"), 1);

	/* gc drops the first execution with its whole tree. */
	assert_int_equal(wal_execution_complete(fx->w, e, NULL), 0);
	assert_int_equal(wal_execution_complete(fx->w, e2, NULL), 0);
	assert_int_equal(wal_gc(fx->w, &keep1, &res), 0);
	assert_int_equal(res.executions, 1);
	assert_int_equal(res.tool_calls, 3);
	assert_int_equal(tu_query_int(fx->w, "SELECT count(*) FROM tool_calls"),
			 1);
}

#define T(f) cmocka_unit_test_setup_teardown(f, tu_setup, tu_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_execution_start_complete),
		T(test_execution_end_states),
		T(test_phases),
		T(test_agents),
		T(test_recovery_plan),
		T(test_resume_records),
		T(test_counters_in_batch),
		T(test_tool_inline),
		T(test_tool_spill),
		T(test_tool_spill_forgotten),
		T(test_tool_record),
		T(test_blob_hash),
		T(test_artifact_outside_repo),
		T(test_artifact_in_repo),
		T(test_claude_session),
		T(test_usage_cost),
		T(test_usage_unknown_cost),
		T(test_resources_containment),
		T(test_tool_tree),
	};

	return cmocka_run_group_tests_name("wal_exec", tests, NULL, NULL);
}
