/*
 * test_supervisor.c - the supervisor's decisions, tested alone: the agent
 * table (every state x event), the backoff schedule, what follows an
 * agent's end, what follows a phase iteration, and the acks of a stream
 * (real pipes, a real event base, frames encoded by the codec).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "supervisor/slog.h"
#include "supervisor/stream.h"
#include "supervisor/sup-int.h"
#include "worker/proto.h"

/* ---- the agent table ------------------------------------------------------ */

/* What each state does with each event, written out here independently of
 * agent.c: -1 where the event means nothing. */
static const int expected[A_NSTATES][AE_NEVENTS] = {
	/*            BEGIN      LEAVE   SKIP    SPAWNED    RETRY      GIVE_UP
	 *            DONE    STOP        TIMER       CANCEL */
	[A_IDLE] = {A_PENDING, A_IDLE, -1, -1, -1, -1, -1, -1, -1, -1},
	[A_PENDING] = {-1, -1, A_DONE, A_RUNNING, A_BACKOFF, A_FAILED, -1, -1,
		       -1, A_CANCELLED},
	[A_RUNNING] = {-1, -1, -1, -1, A_BACKOFF, A_FAILED, A_DONE, A_STOPPING,
		       A_STOPPING, A_CANCELLED},
	[A_STOPPING] = {-1, -1, -1, -1, A_BACKOFF, A_FAILED, A_DONE, -1,
			A_STOPPING, A_CANCELLED},
	/* GIVE_UP in backoff: a budget crossed meanwhile. */
	[A_BACKOFF] = {-1, -1, -1, -1, -1, A_FAILED, -1, -1, A_PENDING,
		       A_CANCELLED},
	[A_DONE] = {A_PENDING, A_IDLE, -1, -1, -1, -1, -1, -1, -1, -1},
	[A_FAILED] = {A_PENDING, A_IDLE, -1, -1, -1, -1, -1, -1, -1, -1},
	[A_CANCELLED] = {A_PENDING, A_IDLE, -1, -1, -1, -1, -1, -1, -1, -1},
};

/* A command with no shell syntax is exec'd as its words; anything a shell
 * would interpret keeps /bin/sh -c. */
static void test_command_words(void **state)
{
	static const char *const shell[] = {
		"echo $HOME",	  "a | b",	 "a && b",	"a; b",
		"a > f",	  "echo 'x y'",	 "echo \"x\"",	"ls *.c",
		"cd /tmp",	  "VAR=1 prog",	 "exec",	"",
		"   ",		  "a\nb",	 "echo ~",	"a # c",
		"export X",	  ". ./env",	 "(a)",		"a\\ b",
	};
	char **w;

	(void)state;
	w = command_words("exec sleep 60");
	assert_non_null(w);
	assert_string_equal(w[0], "sleep");
	assert_string_equal(w[1], "60");
	assert_null(w[2]);
	free_strv(w);
	w = command_words("  /usr/bin/python3 agent.py --n=3  x,y@z+1 ");
	assert_non_null(w);
	assert_string_equal(w[0], "/usr/bin/python3");
	assert_string_equal(w[1], "agent.py");
	assert_string_equal(w[2], "--n=3");
	assert_string_equal(w[3], "x,y@z+1");
	assert_null(w[4]);
	free_strv(w);
	for (size_t i = 0; i < sizeof(shell) / sizeof(shell[0]); i++)
		if (command_words(shell[i]))
			fail_msg("'%s' would run without a shell", shell[i]);
}

/* The command lines of the CLIs smithers runs: every key its own argv
 * entries, the prompt last after "--", a resume through the CLI's own
 * way. */
static void test_cli_argv(void **state)
{
	const char *fresh[] = {"codex", "exec", "--json",
			       "--skip-git-repo-check", "--model", "m",
			       "--sandbox", "read-only", "--oss", "--",
			       "-fix it", NULL};
	const char *resumed[] = {"codex", "exec", "--json",
				 "--skip-git-repo-check", "--model", "m",
				 "--sandbox", "read-only", "--oss", "resume",
				 "t-1", "--", "go on", NULL};
	char err[256], **v;
	struct sup_workflow *wf;
	size_t i;

	(void)state;
	wf = sup_workflow_parse("[phase p]\n[agent x]\nphase = p\n"
				"kind = codex\nprompt = -fix it\nmodel = m\n"
				"sandbox = read-only\ncodex_args = --oss\n",
				"flow.ini", "/tmp", err, sizeof(err));
	assert_non_null(wf);
	assert_ptr_equal(adapter_of(SUP_KIND_CODEX)->argv, codex_argv);
	assert_null(adapter_of(SUP_KIND_COMMAND));
	v = codex_argv(&wf->agents[0], "", 0, "-fix it", 0);
	for (i = 0; fresh[i]; i++)
		assert_string_equal(v[i], fresh[i]);
	assert_null(v[i]);
	free_strv(v);
	v = codex_argv(&wf->agents[0], "t-1", 1, "go on", 0);
	for (i = 0; resumed[i]; i++)
		assert_string_equal(v[i], resumed[i]);
	assert_null(v[i]);
	free_strv(v);
	sup_workflow_free(wf);
}

static void test_agent_table(void **state)
{
	(void)state;
	for (int st = 0; st < A_NSTATES; st++)
		for (int ev = 0; ev < AE_NEVENTS; ev++) {
			int got = agent_next((enum agent_state)st,
					     (enum agent_event)ev);

			if (got != expected[st][ev])
				fail_msg("state %s, event %d: %d, expected %d",
					 agent_state_name((enum agent_state)st),
					 ev, got, expected[st][ev]);
		}
	/* Out of range is refused, not read past the table. */
	assert_int_equal(agent_next(A_NSTATES, AE_BEGIN), -1);
	assert_int_equal(agent_next(A_IDLE, AE_NEVENTS), -1);
	assert_string_equal(agent_state_name(A_BACKOFF), "backoff");
	assert_string_equal(agent_state_name(A_NSTATES), "?");
}

/* An ended agent can only be reset for a new iteration: no event brings
 * it back to life otherwise (a late timer, a stray stop). */
static void test_ended_agents_stay_ended(void **state)
{
	static const enum agent_state ended[] = {A_DONE, A_FAILED,
						 A_CANCELLED};

	(void)state;
	for (size_t i = 0; i < sizeof(ended) / sizeof(*ended); i++)
		for (int ev = 0; ev < AE_NEVENTS; ev++)
			if (ev != AE_BEGIN && ev != AE_LEAVE)
				assert_int_equal(
					agent_next(ended[i],
						   (enum agent_event)ev),
					-1);
}

/* ---- backoff and verdicts ----------------------------------------------- */

static void test_backoff_schedule(void **state)
{
	(void)state;
	/* 100 ms doubling up to 1 s: 100, 200, 400, 800, 1000, 1000. */
	assert_int_equal(backoff_ms(100, 1000, 0), 100);
	assert_int_equal(backoff_ms(100, 1000, 1), 100);
	assert_int_equal(backoff_ms(100, 1000, 2), 200);
	assert_int_equal(backoff_ms(100, 1000, 3), 400);
	assert_int_equal(backoff_ms(100, 1000, 4), 800);
	assert_int_equal(backoff_ms(100, 1000, 5), 1000);
	assert_int_equal(backoff_ms(100, 1000, 60), 1000);
	/* No overflow however many failures. */
	assert_int_equal(backoff_ms(1, INT64_MAX / 2, 1000000),
			 INT64_MAX / 2);
	/* A fixed backoff. */
	assert_int_equal(backoff_ms(250, 250, 7), 250);
	assert_int_equal(backoff_ms(0, 0, 3), 0);
}

static void test_verdict(void **state)
{
	struct sup_agent a = {.max_restarts = 2};

	(void)state;
	a.restart = SUP_RESTART_ON_FAILURE;
	assert_int_equal(agent_verdict(&a, 1, 1, 0, 0), AE_DONE);
	assert_int_equal(agent_verdict(&a, 1, 0, 0, 0), AE_RETRY);
	assert_int_equal(agent_verdict(&a, 2, 0, 0, 0), AE_RETRY);
	/* max_restarts restarts, then it fails. */
	assert_int_equal(agent_verdict(&a, 3, 0, 0, 0), AE_GIVE_UP);
	/* A protocol error is never restarted. */
	assert_int_equal(agent_verdict(&a, 1, 0, 0, 1), AE_GIVE_UP);
	/* Stopping: a failure is a cancellation, a success stays one. */
	assert_int_equal(agent_verdict(&a, 1, 0, 1, 0), AE_CANCEL);
	assert_int_equal(agent_verdict(&a, 1, 1, 1, 0), AE_DONE);

	a.restart = SUP_RESTART_ALWAYS;
	assert_int_equal(agent_verdict(&a, 1, 1, 0, 0), AE_RETRY);
	assert_int_equal(agent_verdict(&a, 3, 1, 0, 0), AE_DONE);
	assert_int_equal(agent_verdict(&a, 1, 0, 0, 0), AE_RETRY);

	a.restart = SUP_RESTART_NEVER;
	assert_int_equal(agent_verdict(&a, 1, 0, 0, 0), AE_GIVE_UP);
	assert_int_equal(agent_verdict(&a, 1, 1, 0, 0), AE_DONE);
}

/* ---- phases ----------------------------------------------------------------- */

static void test_phase_next(void **state)
{
	struct sup_cond *some = (struct sup_cond *)&state; /* only non-NULL */
	struct sup_phase once = {.max_iterations = 1,
				 .on_failure = SUP_ON_FAILURE_STOP};
	struct sup_phase loop = {.max_iterations = 3,
				 .on_failure = SUP_ON_FAILURE_CONTINUE};
	struct sup_phase until = {.max_iterations = 3,
				  .until = some,
				  .on_failure = SUP_ON_FAILURE_STOP};

	assert_int_equal(phase_next(&once, 0, 0, 1), STEP_NEXT);
	assert_int_equal(phase_next(&once, 0, 1, 1), STEP_STOP);
	/* Without until, a loop runs its iterations, failed ones aside. */
	assert_int_equal(phase_next(&loop, 0, 0, 1), STEP_REPEAT);
	assert_int_equal(phase_next(&loop, 1, 0, 1), STEP_REPEAT);
	assert_int_equal(phase_next(&loop, 2, 0, 1), STEP_NEXT);
	assert_int_equal(phase_next(&loop, 0, 1, 1), STEP_NEXT_FAILED);
	/* With until: repeat while it does not hold, fail when it never
	 * does, go on as soon as it does. */
	assert_int_equal(phase_next(&until, 0, 0, 0), STEP_REPEAT);
	assert_int_equal(phase_next(&until, 1, 0, 0), STEP_REPEAT);
	assert_int_equal(phase_next(&until, 2, 0, 0), STEP_STOP);
	assert_int_equal(phase_next(&until, 0, 0, 1), STEP_NEXT);
	assert_int_equal(phase_next(&until, 0, 0, -1), STEP_ERROR);
	assert_int_equal(phase_next(&until, 0, 1, 0), STEP_STOP);
	until.on_failure = SUP_ON_FAILURE_CONTINUE;
	assert_int_equal(phase_next(&until, 2, 0, 0), STEP_NEXT_FAILED);
}

/* ---- the acks of a stream --------------------------------------------------- */

struct peer {
	struct event_base *base;
	struct sup_streams *set;
	struct sup_stream *s;
	int up[2], down[2];
	int owner;
	uint64_t seen[64];
	int nseen;
	int refuse;  /* dispatch answers "not processed" to this seq */
	int broken;
	int freed;
};

static int t_dispatch(struct sup_stream *s, const struct wrk_msg *m,
		      void *arg)
{
	struct peer *p = arg;

	assert_ptr_equal(sup_stream_owner(s), &p->owner);
	if (p->nseen < 64)
		p->seen[p->nseen++] = m->seq;
	if (m->type == WRK_FAIL) {
		sup_stream_fail(s, m->seq, "not here");
		return 0;
	}
	return (int)m->seq != p->refuse;
}

static void t_broken(struct sup_stream *s, const char *reason, void *arg)
{
	struct peer *p = arg;

	(void)s;
	assert_string_equal(reason, "not here");
	p->broken++;
}

static void t_freed(struct sup_stream *s, void *arg)
{
	struct peer *p = arg;

	(void)s;
	p->freed++;
}

static const struct sup_stream_hooks hooks = {t_dispatch, t_broken, t_freed};

static int peer_setup(void **state)
{
	struct peer *p = calloc(1, sizeof(*p));

	assert_non_null(p);
	assert_int_equal(pipe2(p->up, O_CLOEXEC), 0);
	assert_int_equal(pipe2(p->down, O_CLOEXEC), 0);
	p->base = event_base_new();
	p->set = sup_streams_new(p->base, 0, &hooks, p);
	p->s = sup_stream_new(p->set, p->up[0], p->down[1], &p->owner);
	assert_non_null(p->s);
	fcntl(p->down[0], F_SETFL, O_NONBLOCK);
	*state = p;
	return 0;
}

static int peer_teardown(void **state)
{
	struct peer *p = *state;

	sup_streams_free(p->set);
	event_base_free(p->base);
	close(p->up[1]);
	close(p->down[0]);
	free(p);
	return 0;
}

/* The peer sends messages FIRST..LAST (a hello first when FIRST is 1). */
static void send_range(struct peer *p, uint64_t first, uint64_t last)
{
	struct wrk_buf b = {0};

	for (uint64_t seq = first; seq <= last; seq++) {
		struct wrk_msg m = {.seq = seq};

		if (seq == 1) {
			m.type = WRK_HELLO;
			m.version = WRK_PROTO_VERSION;
		} else {
			m.type = WRK_STATE_SET;
			m.key = "k";
			m.json = "1";
		}
		assert_int_equal(wrk_encode(&b, &m), 0);
	}
	assert_int_equal(write(p->up[1], b.data, b.len), (ssize_t)b.len);
	wrk_buf_release(&b);
}

/* The acks the peer received since the last call: their seqs, in order. */
static int read_acks(struct peer *p, uint64_t *acks, int max)
{
	struct wrk_decoder *d = wrk_decoder_new(0);
	struct wrk_msg m;
	char buf[4096];
	ssize_t n;
	int got = 0;

	/* A down stream: acks and errors, no hello. */
	while ((n = read(p->down[0], buf, sizeof(buf))) > 0)
		assert_int_equal(wrk_decoder_feed(d, buf, (size_t)n), 0);
	while (wrk_decoder_next(d, &m) == 1)
		if (m.type == WRK_ACK && got < max)
			acks[got++] = m.seq;
		else if (m.type == WRK_ERROR && got < max)
			acks[got++] = 1000 + m.seq; /* an error, told apart */
	wrk_decoder_free(d);
	return got;
}

/* No ack before the commit; one ack, for the newest, after it. */
static void test_ack_after_commit(void **state)
{
	struct peer *p = *state;
	uint64_t acks[8];

	send_range(p, 1, 5);
	sup_stream_drain(p->s, SIZE_MAX);
	assert_int_equal(p->nseen, 5);
	assert_true(sup_streams_uncommitted(p->set));
	assert_int_equal(read_acks(p, acks, 8), 0);
	sup_streams_committed(p->set, 0);
	assert_false(sup_streams_uncommitted(p->set));
	assert_int_equal(read_acks(p, acks, 8), 1);
	assert_int_equal(acks[0], 5);
	/* Nothing new: no second ack. */
	sup_streams_committed(p->set, 0);
	assert_int_equal(read_acks(p, acks, 8), 0);
}

/* With a syncer: acked only once the commit's sync completed; a third
 * commit before the first sync joins the second. */
static void test_ack_waits_for_sync(void **state)
{
	struct peer *p = *state;
	uint64_t acks[8];

	send_range(p, 1, 2);
	sup_stream_drain(p->s, SIZE_MAX);
	sup_streams_committed(p->set, 1); /* ticket 1: seq 2 */
	send_range(p, 3, 4);
	sup_stream_drain(p->s, SIZE_MAX);
	sup_streams_committed(p->set, 2); /* ticket 2: seq 4 */
	send_range(p, 5, 6);
	sup_stream_drain(p->s, SIZE_MAX);
	sup_streams_committed(p->set, 3); /* ticket 3: seq 6, joins */
	assert_int_equal(read_acks(p, acks, 8), 0);
	sup_streams_synced(p->set, 1);
	assert_int_equal(read_acks(p, acks, 8), 1);
	assert_int_equal(acks[0], 2);
	/* Ticket 2's sync is not enough for seq 6 (committed with 3). */
	sup_streams_synced(p->set, 2);
	assert_int_equal(read_acks(p, acks, 8), 0);
	sup_streams_synced(p->set, 3);
	assert_int_equal(read_acks(p, acks, 8), 1);
	assert_int_equal(acks[0], 6);
}

/* A message the dispatcher did not process is not acked by itself; the
 * next one processed covers it. */
static void test_unprocessed_not_acked(void **state)
{
	struct peer *p = *state;
	uint64_t acks[8];

	p->refuse = 3;
	send_range(p, 1, 3);
	sup_stream_drain(p->s, SIZE_MAX);
	sup_streams_committed(p->set, 0);
	assert_int_equal(read_acks(p, acks, 8), 1);
	assert_int_equal(acks[0], 2);
}

/* A held set reads nothing (back-pressure); let go, it reads again. */
static void test_hold(void **state)
{
	struct peer *p = *state;

	sup_streams_hold(p->set, 1);
	send_range(p, 1, 3);
	sup_stream_drain(p->s, SIZE_MAX);
	assert_int_equal(p->nseen, 0);
	sup_streams_stopping(p->set); /* a stopping run still reads */
	sup_stream_drain(p->s, SIZE_MAX);
	assert_int_equal(p->nseen, 3);
}

/* A protocol error: the peer is told (fatal), the hook called, nothing
 * more read; the stream is freed once it has nothing left to say. */
static void test_broken_stream(void **state)
{
	struct peer *p = *state;
	struct wrk_buf b = {0};
	struct wrk_msg hello = {.type = WRK_HELLO,
				.seq = 1,
				.version = WRK_PROTO_VERSION};
	struct wrk_msg fail = {.type = WRK_FAIL, .seq = 2, .error = "x"};
	uint64_t acks[8];

	assert_int_equal(wrk_encode(&b, &hello), 0);
	assert_int_equal(wrk_encode(&b, &fail), 0);
	assert_int_equal(write(p->up[1], b.data, b.len), (ssize_t)b.len);
	wrk_buf_release(&b);
	send_range(p, 3, 3);
	sup_stream_drain(p->s, SIZE_MAX);
	assert_int_equal(p->broken, 1);
	assert_int_equal(p->nseen, 2); /* seq 3 was never read */
	assert_int_equal(read_acks(p, acks, 8), 1);
	assert_int_equal(acks[0], 1000 + 2);
	sup_streams_committed(p->set, 0); /* acks the hello */
	sup_streams_reap(p->set);
	assert_int_equal(p->freed, 1);
}

/* A stream at its EOF is freed by the reap of the turn after its last
 * messages were committed and acked, not before; one still open never. */
static void test_ended_stream(void **state)
{
	struct peer *p = *state;

	send_range(p, 1, 3);
	sup_stream_drain(p->s, SIZE_MAX);
	sup_streams_committed(p->set, 0);
	sup_streams_reap(p->set);
	assert_int_equal(p->freed, 0); /* open */
	send_range(p, 4, 5);
	close(p->up[1]);
	p->up[1] = -1;
	sup_stream_drain(p->s, SIZE_MAX);
	assert_int_equal(p->nseen, 5);
	sup_streams_reap(p->set);
	assert_int_equal(p->freed, 0); /* 4 and 5 not acked yet */
	sup_streams_committed(p->set, 0);
	sup_streams_reap(p->set);
	assert_int_equal(p->freed, 1);
}

/* The counters a turn hands the mirror. */
static void test_counts(void **state)
{
	struct peer *p = *state;
	uint64_t messages, bytes, rejected;

	send_range(p, 1, 4);
	sup_stream_drain(p->s, SIZE_MAX);
	sup_stream_error(p->s, 4, "refused", 0);
	sup_streams_take_counts(p->set, &messages, &bytes, &rejected);
	assert_int_equal(messages, 4);
	assert_true(bytes > 4 * 4);
	assert_int_equal(rejected, 1);
	sup_streams_take_counts(p->set, &messages, &bytes, &rejected);
	assert_int_equal(messages + bytes + rejected, 0);
}

/* ---- the log's held lines ------------------------------------------------ */

/* The log file at PATH, whole, into BUF (NUL-ended). */
static const char *log_text(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	assert_true(fd >= 0);
	n = read(fd, buf, size - 1);
	assert_true(n >= 0);
	buf[n] = '\0';
	close(fd);
	return buf;
}

/* Held lines reach the file at the flush, in order; an error line writes
 * them before itself at once; past PIPE_BUF bytes they go out whole. */
static void test_log_hold(void **state)
{
	char path[] = "/tmp/smithers-slog-XXXXXX", buf[65536];
	int fd = mkstemp(path), stderr_copy = dup(STDERR_FILENO);
	const char *t, *one, *two;

	(void)state;
	assert_true(fd >= 0 && stderr_copy >= 0);
	close(fd);
	/* stderr to /dev/null for the test: the file says it all. */
	fd = open("/dev/null", O_WRONLY);
	dup2(fd, STDERR_FILENO);
	close(fd);
	assert_int_equal(sup_log_open(path), 0);
	sup_log(SUP_INFO, "before");
	sup_log_hold();
	sup_log(SUP_INFO, "one");
	sup_log(SUP_WARN, "two");
	t = log_text(path, buf, sizeof(buf));
	assert_non_null(strstr(t, "before"));
	assert_null(strstr(t, "one"));
	sup_log_flush();
	t = log_text(path, buf, sizeof(buf));
	one = strstr(t, "info: one\n");
	two = strstr(t, "warning: two\n");
	assert_true(one && two && one < two);
	sup_log_hold();
	sup_log(SUP_INFO, "three");
	sup_log(SUP_ERROR, "four");
	t = log_text(path, buf, sizeof(buf));
	one = strstr(t, "info: three\n");
	two = strstr(t, "error: four\n");
	assert_true(one && two && one < two);
	for (int i = 0; i < 100; i++)
		sup_log(SUP_INFO, "line %03d %0100d", i, 0);
	t = log_text(path, buf, sizeof(buf));
	assert_non_null(strstr(t, "line 000"));	 /* past 4096 bytes */
	assert_null(strstr(t, "line 099"));
	sup_log_flush();
	t = log_text(path, buf, sizeof(buf));
	assert_non_null(strstr(t, "line 099 "));
	sup_log(SUP_INFO, "after");
	t = log_text(path, buf, sizeof(buf));
	assert_non_null(strstr(t, "info: after\n"));
	sup_log_close();
	dup2(stderr_copy, STDERR_FILENO);
	close(stderr_copy);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_log_hold),
		cmocka_unit_test(test_cli_argv),
		cmocka_unit_test(test_command_words),
		cmocka_unit_test(test_agent_table),
		cmocka_unit_test(test_ended_agents_stay_ended),
		cmocka_unit_test(test_backoff_schedule),
		cmocka_unit_test(test_verdict),
		cmocka_unit_test(test_phase_next),
		cmocka_unit_test_setup_teardown(test_ack_after_commit,
						peer_setup, peer_teardown),
		cmocka_unit_test_setup_teardown(test_ack_waits_for_sync,
						peer_setup, peer_teardown),
		cmocka_unit_test_setup_teardown(test_unprocessed_not_acked,
						peer_setup, peer_teardown),
		cmocka_unit_test_setup_teardown(test_hold, peer_setup,
						peer_teardown),
		cmocka_unit_test_setup_teardown(test_ended_stream, peer_setup,
						peer_teardown),
		cmocka_unit_test_setup_teardown(test_broken_stream,
						peer_setup, peer_teardown),
		cmocka_unit_test_setup_teardown(test_counts, peer_setup,
						peer_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
