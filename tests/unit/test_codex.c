/*
 * test_codex.c - the Codex CLI parser (worker/codex.c) on the adapter
 * layer (worker/adapter.c): every frame it makes is decoded back with the
 * supervisor's decoder, so a test also proves the supervisor would accept
 * the stream. The lines are written by hand after `codex exec --json`'s
 * events (codex-rs/exec/src/exec_events.rs); the streams the real CLI
 * wrote, tests/fixtures/codex/, are replayed when they are there.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "worker/adapter.h"
#include "worker/codex.h"
#include "worker/proto.h"
#include "tests/unit/frames.h"

/* The frames of TEXT (LEN bytes) fed in pieces of CHUNK bytes (0: at
 * once), ended with STATUS, into OUT. */
static void frames(const char *text, size_t len, size_t chunk, size_t line_max,
		   size_t frame_max, int status, struct wrk_buf *out)
{
	struct wrk_parser *p =
		wrk_parser_new(WRK_ADAPTER_CODEX, line_max, frame_max);
	size_t at = 0;

	assert_non_null(p);
	assert_int_equal(wrk_parser_hello(p, 4242, out), 0);
	while (at < len) {
		size_t n = chunk && chunk < len - at ? chunk : len - at;

		assert_int_equal(wrk_parser_feed(p, text + at, n, out), 0);
		at += n;
	}
	assert_int_equal(wrk_parser_end(p, status, out), 0);
	assert_int_equal(wrk_parser_feed(p, "x", 1, out), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(wrk_parser_end(p, status, out), -1);
	wrk_parser_free(p);
}

static void parse_opts(const char *text, size_t chunk, size_t line_max,
		       size_t frame_max, int status, struct run *run)
{
	struct wrk_buf out = {0};

	frames(text, strlen(text), chunk, line_max, frame_max, status, &out);
	decode_all(&out, frame_max, run);
	wrk_buf_release(&out);
	assert_true(run->n >= 1);
	assert_int_equal(run->r[0].type, WRK_HELLO);
	assert_int_equal(run->r[0].pid, 4242);
}

static void parse(const char *text, struct run *run)
{
	parse_opts(text, 0, 0, 0, 0, run);
}

/* A log at LEVEL whose text holds WHAT; fails when there is none. */
static void has_log(const struct run *run, const char *level, const char *what)
{
	for (size_t i = 0; i < run->n; i++)
		if (run->r[i].type == WRK_LOG &&
		    !strcmp(run->r[i].level, level) &&
		    strstr(run->r[i].text, what))
			return;
	fail_msg("no %s log with '%s'", level, what);
}

/* The lines of the CLI, written as it writes them. */
/* clang-format off */
#define THREAD                                                                 \
	"{\"type\":\"thread.started\","                                        \
	"\"thread_id\":\"0199a213-81c0-7800-8aa1-bbab2a035a53\"}\n"
#define TURN "{\"type\":\"turn.started\"}\n"
#define STARTED(item) "{\"type\":\"item.started\",\"item\":" item "}\n"
#define UPDATED(item) "{\"type\":\"item.updated\",\"item\":" item "}\n"
#define COMPLETED(item) "{\"type\":\"item.completed\",\"item\":" item "}\n"
#define CMD(id, command, output, exit, status)                                 \
	"{\"id\":\"" id "\",\"type\":\"command_execution\",\"command\":\""     \
	command "\",\"aggregated_output\":\"" output "\",\"exit_code\":"      \
	exit ",\"status\":\"" status "\"}"
#define MESSAGE(id, text)                                                      \
	"{\"id\":\"" id "\",\"type\":\"agent_message\",\"text\":\"" text "\"}"
#define REASONING(id)                                                          \
	"{\"id\":\"" id "\",\"type\":\"reasoning\",\"text\":\"**Thinking**\"}"
#define DONE(in, cached, out, reasoning)                                       \
	"{\"type\":\"turn.completed\",\"usage\":{\"input_tokens\":" #in       \
	",\"cached_input_tokens\":" #cached ",\"output_tokens\":" #out        \
	",\"reasoning_output_tokens\":" #reasoning "}}\n"
#define STREAM                                                                 \
	THREAD TURN                                                            \
	COMPLETED(REASONING("item_0"))                                         \
	STARTED(CMD("item_1", "bash -lc ls", "", "null", "in_progress"))       \
	COMPLETED(CMD("item_1", "bash -lc ls", "README\\nsrc\\n", "0",         \
		      "completed"))                                            \
	COMPLETED(MESSAGE("item_2", "Listed."))                                \
	DONE(1200, 1000, 80, 64)
/* clang-format on */

static void test_session(void **state)
{
	struct run run;

	(void)state;
	parse(THREAD, &run);
	assert_string_equal(nth(&run, WRK_SESSION, 0)->session_id,
			    "0199a213-81c0-7800-8aa1-bbab2a035a53");
	assert_int_equal(nth(&run, WRK_SESSION, 0)->seq, 2);
	run_free(&run);
	/* Without its id: a log, no session. */
	parse("{\"type\":\"thread.started\"}\n" DONE(1, 0, 1, 0), &run);
	assert_int_equal(count(&run, WRK_SESSION), 0);
	has_log(&run, "warn", "has no thread_id");
	run_free(&run);
	assert_string_equal(wrk_adapter_name(WRK_ADAPTER_CODEX), "codex");
	assert_string_equal(wrk_adapter_name(WRK_ADAPTER_CLAUDE), "claude");
	assert_null(wrk_parser_new(WRK_ADAPTER_NONE, 0, 0));
	assert_int_equal(errno, EINVAL);
}

/* The whole of a run: its messages in order. */
static void test_run(void **state)
{
	static const enum wrk_type want[] = {
		WRK_HELLO,	   WRK_SESSION, WRK_TOOL_START,
		WRK_TOOL_COMPLETE, WRK_USAGE,	WRK_RESULT,
	};
	const struct rec *r;
	struct run run;

	(void)state;
	parse(STREAM, &run);
	assert_int_equal(run.n, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < run.n; i++) {
		assert_int_equal(run.r[i].type, want[i]);
		assert_int_equal(run.r[i].seq, i + 1);
	}
	r = nth(&run, WRK_TOOL_START, 0);
	assert_int_equal(r->call, 1);
	assert_int_equal(r->parent, 0);
	assert_string_equal(r->tool, "shell");
	assert_string_equal(r->ref, "item_1");
	assert_string_equal(r->json, "{\"command\":\"bash -lc ls\"}");
	r = nth(&run, WRK_TOOL_COMPLETE, 0);
	assert_int_equal(r->call, 1);
	assert_string_equal(r->status, "completed");
	assert_string_equal(r->output, "README\nsrc\n");
	assert_null(r->error);
	r = nth(&run, WRK_USAGE, 0);
	assert_int_equal(r->tokens_in, 1200);
	assert_int_equal(r->cache_read, 1000);
	assert_int_equal(r->tokens_out, 80);
	assert_int_equal(r->reasoning, 64);
	assert_int_equal(r->cache_write, 0);
	assert_int_equal(r->has_cost, 0);
	/* The thread's totals: a resumed thread counts its earlier runs. */
	assert_int_equal(r->total, 1);
	r = nth(&run, WRK_RESULT, 0);
	assert_string_equal(r->text, "Listed.");
	assert_string_equal(r->json,
			    "{\"thread_id\":\"0199a213-81c0-7800-8aa1-"
			    "bbab2a035a53\",\"status\":\"completed\"}");
	run_free(&run);
}

/* A command that exits non-zero, or is declined or fails without an exit
 * code, fails with that. */
static void test_shell_failed(void **state)
{
	const struct rec *r;
	struct run run;

	(void)state;
	parse(STARTED(CMD("c1", "false", "", "null", "in_progress")) COMPLETED(
		      CMD("c1", "false", "oops\\n", "2", "failed"))
		      COMPLETED(CMD("c2", "rm -rf /", "", "null", "declined"))
			      COMPLETED(CMD("c3", "x", "", "null", "failed"))
				      DONE(1, 0, 1, 0),
	      &run);
	r = nth(&run, WRK_TOOL_COMPLETE, 0);
	assert_string_equal(r->status, "failed");
	assert_string_equal(r->error, "exit 2");
	assert_string_equal(r->output, "oops\n");
	r = nth(&run, WRK_TOOL_COMPLETE, 1);
	assert_string_equal(r->status, "failed");
	assert_string_equal(r->error, "declined");
	assert_null(r->output);
	r = nth(&run, WRK_TOOL_COMPLETE, 2);
	assert_string_equal(r->error, "failed");
	assert_int_equal(count(&run, WRK_FAIL), 0);
	run_free(&run);
}

static void test_file_change(void **state)
{
	const struct rec *r;
	struct run run;

	(void)state;
	parse(COMPLETED("{\"id\":\"f1\",\"type\":\"file_change\",\"changes\":"
			"[{\"path\":\"src/a.c\",\"kind\":\"update\"},"
			"{\"path\":\"NEW\",\"kind\":\"add\"}],"
			"\"status\":\"completed\"}")
		      COMPLETED("{\"id\":\"f2\",\"type\":\"file_change\","
				"\"changes\":[{\"path\":\"b\",\"kind\":"
				"\"delete\"}],\"status\":\"failed\"}")
			      DONE(1, 0, 1, 0),
	      &run);
	r = nth(&run, WRK_TOOL_START, 0);
	assert_string_equal(r->tool, "file_change");
	assert_string_equal(r->ref, "f1");
	assert_string_equal(r->json, "[{\"path\":\"src/a.c\",\"kind\":"
				     "\"update\"},{\"path\":\"NEW\","
				     "\"kind\":\"add\"}]");
	r = nth(&run, WRK_TOOL_COMPLETE, 0);
	assert_string_equal(r->status, "completed");
	assert_string_equal(r->output, "src/a.c\nNEW");
	r = nth(&run, WRK_TOOL_COMPLETE, 1);
	assert_string_equal(r->status, "failed");
	assert_string_equal(r->error, "patch failed");
	assert_string_equal(r->output, "b");
	run_free(&run);
}

/* clang-format off */
#define MCP(id, rest)                                                          \
	"{\"id\":\"" id "\",\"type\":\"mcp_tool_call\",\"server\":\"docs\","   \
	"\"tool\":\"search\",\"arguments\":{\"q\":\"frames\",\"n\":2}," rest "}"
/* clang-format on */

static void test_mcp_tool_call(void **state)
{
	const struct rec *r;
	struct run run;

	(void)state;
	parse(STARTED(MCP("m1", "\"result\":null,\"error\":null,"
				"\"status\":\"in_progress\""))
		      COMPLETED(MCP("m1", "\"result\":{\"content\":[{\"type\":"
					  "\"text\",\"text\":\"one\"},{"
					  "\"type\":\"image\",\"data\":\"x\"},"
					  "{\"type\":\"text\",\"text\":"
					  "\"two\"}],\"structured_content\":"
					  "null},\"error\":null,\"status\":"
					  "\"completed\""))
			      COMPLETED(MCP("m2",
					    "\"result\":null,\"error\":{"
					    "\"message\":\"server gone\\n"
					    "details\"},\"status\":\"failed\""))
				      DONE(1, 0, 1, 0),
	      &run);
	r = nth(&run, WRK_TOOL_START, 0);
	assert_string_equal(r->tool, "docs.search");
	assert_string_equal(r->json, "{\"q\":\"frames\",\"n\":2}");
	r = nth(&run, WRK_TOOL_COMPLETE, 0);
	assert_string_equal(r->status, "completed");
	assert_string_equal(r->output, "one\ntwo");
	r = nth(&run, WRK_TOOL_COMPLETE, 1);
	assert_int_equal(r->call, 2);
	assert_string_equal(r->status, "failed");
	assert_string_equal(r->error, "server gone");
	assert_null(r->output);
	run_free(&run);
}

static void test_web_search(void **state)
{
	const struct rec *r;
	struct run run;

	(void)state;
	parse(STARTED("{\"id\":\"w1\",\"type\":\"web_search\",\"query\":"
		      "\"\"}")
		      COMPLETED("{\"id\":\"w1\",\"type\":\"web_search\","
				"\"query\":\"libevent bufferevent\"}")
			      DONE(1, 0, 1, 0),
	      &run);
	r = nth(&run, WRK_TOOL_START, 0);
	assert_string_equal(r->tool, "web_search");
	assert_string_equal(r->json, "{\"query\":\"\"}");
	r = nth(&run, WRK_TOOL_COMPLETE, 0);
	assert_string_equal(r->status, "completed");
	assert_null(r->output);
	run_free(&run);
}

/* Items that are no calls make none; item.updated changes nothing; the
 * last agent message is the result. */
static void test_not_calls(void **state)
{
	struct run run;

	(void)state;
	parse(COMPLETED(REASONING("r0")) STARTED(
		      "{\"id\":\"t0\",\"type\":\"todo_list\",\"items\":[]}")
		      UPDATED("{\"id\":\"t0\",\"type\":\"todo_list\","
			      "\"items\":[{\"text\":\"a\",\"completed\":"
			      "true}]}") UPDATED(CMD("nope", "ls", "", "null",
						     "in_progress"))
			      COMPLETED(MESSAGE("a1", "first"))
				      COMPLETED(MESSAGE("a2", "second"))
					      COMPLETED("{\"id\":\"e1\","
							"\"type\":\"error\","
							"\"message\":\"model "
							"fell back\"}")
						      DONE(1, 0, 1, 0),
	      &run);
	assert_int_equal(count(&run, WRK_TOOL_START), 0);
	assert_int_equal(count(&run, WRK_TOOL_COMPLETE), 0);
	assert_string_equal(nth(&run, WRK_RESULT, 0)->text, "second");
	has_log(&run, "warn", "codex: model fell back");
	run_free(&run);
}

/* An item completed whose start never came starts and completes at once;
 * one completed again, or without an id, is ignored with a log. */
static void test_completed_without_start(void **state)
{
	struct run run;

	(void)state;
	parse(COMPLETED(CMD("c9", "pwd", "/w\\n", "0", "completed"))
		      COMPLETED(CMD("c9", "pwd", "/w\\n", "0", "completed"))
			      COMPLETED("{\"type\":\"command_execution\","
					"\"command\":\"ls\"}") DONE(1, 0, 1, 0),
	      &run);
	assert_int_equal(count(&run, WRK_TOOL_START), 1);
	assert_int_equal(count(&run, WRK_TOOL_COMPLETE), 1);
	assert_string_equal(nth(&run, WRK_TOOL_START, 0)->ref, "c9");
	assert_string_equal(nth(&run, WRK_TOOL_COMPLETE, 0)->output, "/w\n");
	has_log(&run, "warn", "line 1: item 'c9' completed without a start");
	has_log(&run, "warn", "line 2: item 'c9' completed again: ignored");
	has_log(&run, "warn", "line 3: command_execution item without an id");
	run_free(&run);
}

/* Calls still running at the end fail, "interrupted", in their order;
 * a start seen twice is one call. */
static void test_interrupted(void **state)
{
	const struct rec *r;
	struct run run;

	(void)state;
	parse(STARTED(CMD("a", "sleep 9", "", "null", "in_progress")) STARTED(
		      CMD("b", "sleep 8", "", "null", "in_progress"))
		      STARTED(CMD("a", "sleep 9", "", "null", "in_progress"))
			      COMPLETED(CMD("b", "sleep 8", "", "0",
					    "completed")),
	      &run);
	assert_int_equal(count(&run, WRK_TOOL_START), 2);
	assert_int_equal(count(&run, WRK_TOOL_COMPLETE), 2);
	r = nth(&run, WRK_TOOL_COMPLETE, 1);
	assert_int_equal(r->call, 1);
	assert_string_equal(r->status, "failed");
	assert_string_equal(r->error, "interrupted");
	/* and the turn never completed */
	assert_string_equal(nth(&run, WRK_FAIL, 0)->error,
			    "ended without completing its turn (exit status "
			    "0)");
	run_free(&run);
}

/* Without turn.completed: fail, saying how the CLI ended and the last
 * thing it printed that was not JSON (its stderr). */
static void test_ended_without_turn(void **state)
{
	const struct rec *r;
	struct run run;

	(void)state;
	parse_opts(THREAD TURN "warning: no sandbox\n"
			       "Error: stream disconnected\n" COMPLETED(
				       MESSAGE("a", "half")),
		   0, 0, 0, 1 << 8, &run);
	assert_int_equal(count(&run, WRK_RESULT), 0);
	r = nth(&run, WRK_FAIL, 0);
	assert_string_equal(r->error, "ended without completing its turn "
				      "(exit status 1): Error: stream "
				      "disconnected");
	has_log(&run, "warn", "not JSON: warning: no sandbox");
	assert_int_equal(run.r[run.n - 1].type, WRK_FAIL);
	run_free(&run);
	parse_opts(THREAD, 0, 0, 0, SIGKILL, &run);
	r = nth(&run, WRK_FAIL, 0);
	assert_non_null(strstr(r->error, "ended without completing its turn "
					 "(killed by signal "));
	assert_non_null(strstr(r->error, "KILL)"));
	run_free(&run);
	/* A last line without its newline, cut short. */
	parse_opts(THREAD "{\"type\":\"turn.compl", 0, 0, 0, 0, &run);
	has_log(&run, "warn", "last line cut short: {\"type\":\"turn.compl");
	assert_non_null(strstr(nth(&run, WRK_FAIL, 0)->error,
			       "(exit status 0): {\"type\":\"turn.compl"));
	run_free(&run);
}

static void test_turn_failed(void **state)
{
	const struct rec *r;
	struct run run;

	(void)state;
	parse_opts(THREAD TURN COMPLETED(MESSAGE(
			   "a", "trying")) "{\"type\":\"error\",\"message\":"
					   "\"unexpected "
					   "status 401 Unauthorized\"}\n"
					   "{\"type\":\"turn.failed\","
					   "\"error\":{\"message\":"
					   "\"unexpected status 401 "
					   "Unauthorized\\nmore\"}}\n",
		   0, 0, 0, 1 << 8, &run);
	r = nth(&run, WRK_RESULT, 0);
	assert_string_equal(r->text, "trying");
	assert_non_null(strstr(r->json, "\"status\":\"failed\""));
	assert_non_null(strstr(r->json, "\"error\":\"unexpected status 401 "
					"Unauthorized\""));
	assert_int_equal(count(&run, WRK_FAIL), 1);
	assert_string_equal(nth(&run, WRK_FAIL, 0)->error,
			    "unexpected status 401 Unauthorized");
	has_log(&run, "error", "codex: unexpected status 401");
	assert_int_equal(run.r[run.n - 1].type, WRK_FAIL);
	run_free(&run);
}

/* Reconnecting is only a log; another error fails the run unless a
 * turn.completed follows it. */
static void test_errors(void **state)
{
	struct run run;

	(void)state;
	parse(THREAD "{\"type\":\"error\",\"message\":\"Reconnecting... 1/5 "
		     "(stream disconnected before completion)\"}\n"
		     "{\"type\":\"error\",\"message\":\"stream error; "
		     "retrying 2/5\"}\n" DONE(5, 0, 5, 0),
	      &run);
	has_log(&run, "warn", "codex: Reconnecting... 1/5");
	has_log(&run, "warn", "codex: stream error; retrying");
	assert_int_equal(count(&run, WRK_FAIL), 0);
	assert_int_equal(count(&run, WRK_RESULT), 1);
	run_free(&run);
	/* An error, then the turn completes: it passed. */
	parse(THREAD "{\"type\":\"error\",\"message\":\"quota low\"}\n" DONE(
		      1, 0, 1, 0),
	      &run);
	has_log(&run, "error", "codex: quota low");
	assert_int_equal(count(&run, WRK_FAIL), 0);
	run_free(&run);
	/* An error and no turn.completed: the fail says it. */
	parse(THREAD "{\"type\":\"error\",\"message\":\"quota exceeded\"}\n",
	      &run);
	assert_string_equal(nth(&run, WRK_FAIL, 0)->error,
			    "ended without completing its turn (exit status "
			    "0); last error: quota exceeded");
	run_free(&run);
	/* An error after the turn completed, none after it: it fails. */
	parse(THREAD DONE(1, 0, 1, 0) "{\"type\":\"error\",\"message\":"
				      "\"cannot save the rollout\"}\n",
	      &run);
	assert_int_equal(count(&run, WRK_RESULT), 1);
	assert_string_equal(nth(&run, WRK_FAIL, 0)->error,
			    "cannot save the rollout");
	run_free(&run);
}

/* Garbage is logged, unknown events and values are ignored; the run goes
 * on. */
static void test_garbage_and_unknown(void **state)
{
	struct run run;

	(void)state;
	parse("\n  \r\n"
	      "WARNING: proceeding, even though we could not update PATH\n"
	      "\xff\xfe not utf-8\n"
	      "[1,2]\n\"str\"\n{}\n{\"type\":7}\n"
	      "{\"type\":\"item.plan.delta\",\"item_id\":\"x\"}\n"
	      "{\"type\":\"item.started\"}\n"
	      "{\"type\":\"item.completed\",\"item\":[]}\n"
	      "{\"type\":\"turn.completed\"}\n",
	      &run);
	has_log(&run, "warn", "not JSON: WARNING: proceeding");
	has_log(&run, "warn", "not JSON: ?? not utf-8");
	has_log(&run, "warn", "not JSON: \"str\""); /* not an object */
	assert_int_equal(count(&run, WRK_LOG), 3);
	assert_int_equal(count(&run, WRK_USAGE), 0); /* no usage: none */
	assert_int_equal(count(&run, WRK_RESULT), 1);
	assert_null(nth(&run, WRK_RESULT, 0)->text);
	assert_int_equal(count(&run, WRK_FAIL), 0);
	run_free(&run);
}

/* A line longer than line_max is skipped with a log; the next is read. */
static void test_line_max(void **state)
{
	char *text = malloc(8192);
	struct run run;
	int n;

	(void)state;
	assert_non_null(text);
	n = snprintf(text, 8192,
		     "%s{\"type\":\"item.completed\",\"item\":", THREAD);
	memset(text + n, ' ', 3000);
	n += 3000;
	snprintf(text + n, (size_t)(8192 - n), "%s}\n%s", MESSAGE("a", "x"),
		 DONE(1, 0, 1, 0));
	for (size_t chunk = 0; chunk < 5; chunk += 4) {
		parse_opts(text, chunk, 1024, 0, 0, &run);
		has_log(&run, "error",
			"line 2 longer than 1024 bytes: skipped");
		assert_int_equal(count(&run, WRK_RESULT), 1);
		assert_null(nth(&run, WRK_RESULT, 0)->text);
		run_free(&run);
	}
	/* At the cap exactly, it is read. */
	parse_opts(text, 0, 8192, 0, 0, &run);
	assert_string_equal(nth(&run, WRK_RESULT, 0)->text, "x");
	run_free(&run);
	free(text);
}

/* A command's output longer than a frame is cut, with a note. */
static void test_frame_max(void **state)
{
	char *text = malloc(16384);
	const struct rec *r;
	struct run run;
	int n;

	(void)state;
	assert_non_null(text);
	n = snprintf(text, 16384,
		     "{\"type\":\"item.completed\",\"item\":{\"id\":\"c\","
		     "\"type\":\"command_execution\",\"command\":\"yes\","
		     "\"aggregated_output\":\"");
	memset(text + n, 'y', 10000);
	n += 10000;
	snprintf(text + n, (size_t)(16384 - n),
		 "\",\"exit_code\":0,\"status\":\"completed\"}}\n");
	parse_opts(text, 0, 0, 4096, 0, &run);
	r = nth(&run, WRK_TOOL_COMPLETE, 0);
	assert_string_equal(r->status, "completed");
	assert_true(strlen(r->output) < 4096);
	assert_non_null(strstr(r->output, "[smithers: output truncated: "));
	assert_non_null(strstr(r->output, "of 10000 bytes kept"));
	run_free(&run);
	free(text);
}

/* Whatever the cuts of the feeds, the same bytes. */
static void test_cuts(void **state)
{
	const char *text = STREAM "garbage\n" COMPLETED(
		MESSAGE("z", "\xc3\xa9t\xc3\xa9")) "{\"type\":\"error\"";
	size_t len = strlen(text);
	struct wrk_buf whole = {0};

	(void)state;
	frames(text, len, 0, 0, 0, 0, &whole);
	for (size_t chunk = 1; chunk <= 7; chunk++) {
		struct wrk_buf cut = {0};

		frames(text, len, chunk, 0, 0, 0, &cut);
		assert_int_equal(cut.len, whole.len);
		assert_memory_equal(cut.data, whole.data, whole.len);
		wrk_buf_release(&cut);
	}
	/* Two feeds, cut at every byte. */
	for (size_t at = 0; at <= len; at++) {
		struct wrk_parser *p = wrk_parser_new(WRK_ADAPTER_CODEX, 0, 0);
		struct wrk_buf cut = {0};

		assert_non_null(p);
		assert_int_equal(wrk_parser_hello(p, 4242, &cut), 0);
		assert_int_equal(wrk_parser_feed(p, text, at, &cut), 0);
		assert_int_equal(wrk_parser_feed(p, text + at, len - at, &cut),
				 0);
		assert_int_equal(wrk_parser_end(p, 0, &cut), 0);
		wrk_parser_free(p);
		assert_int_equal(cut.len, whole.len);
		assert_memory_equal(cut.data, whole.data, whole.len);
		wrk_buf_release(&cut);
	}
	wrk_buf_release(&whole);
}

/* The hello: once, with the pid, or without one before a first feed. */
static void test_hello(void **state)
{
	struct wrk_parser *p = wrk_codex_new(0, 0);
	struct wrk_buf out = {0};
	struct run run;

	(void)state;
	assert_non_null(p);
	assert_int_equal(wrk_parser_feed(p, THREAD, strlen(THREAD), &out), 0);
	assert_int_equal(wrk_parser_hello(p, 1, &out), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(wrk_parser_end(p, 0, &out), 0);
	wrk_parser_free(p);
	wrk_parser_free(NULL);
	decode_all(&out, 0, &run);
	assert_int_equal(run.r[0].type, WRK_HELLO);
	assert_int_equal(run.r[0].pid, 0);
	assert_int_equal(run.r[1].type, WRK_SESSION);
	run_free(&run);
	wrk_buf_release(&out);
}

/* ---- the real CLI's streams ------------------------------------------- */

/* The fixture NAME (tests/fixtures/codex/NAME under top_srcdir), NUL-
 * terminated, in *LEN bytes; NULL when it is not there. */
static char *fixture(const char *name, size_t *len)
{
	const char *top = getenv("top_srcdir");
	char *path, *data = NULL;
	FILE *f;
	long n;

	assert_true(asprintf(&path, "%s/tests/fixtures/codex/%s",
			     top ? top : "..", name) > 0);
	f = fopen(path, "rb");
	free(path);
	if (!f)
		return NULL;
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	data = malloc((size_t)n + 1);
	assert_non_null(data);
	assert_int_equal(fread(data, 1, (size_t)n, f), (size_t)n);
	data[n] = '\0';
	*len = (size_t)n;
	fclose(f);
	return data;
}

/* The wait status the CLI ended with in the capture of STREAM (its line in
 * exit-status.txt: "NAME CODE"); an exit of 0 when it says nothing. */
static int fixture_status(const char *stream)
{
	char *list, *line, name[128];
	size_t len, n = strcspn(stream, ".");
	int code = 0;

	list = fixture("exit-status.txt", &len);
	if (!list)
		return 0;
	for (line = list; line && *line; line = strchr(line, '\n')) {
		line += *line == '\n';
		if (sscanf(line, "%127s %d", name, &code) == 2 &&
		    strlen(name) == n && !strncmp(name, stream, n))
			break;
		code = 0;
	}
	free(list);
	return code << 8;
}

/* Parse the fixture NAME whole and cut in 3-byte pieces, with its exit
 * status: the same bytes, which decode into RUN. False when it is not
 * there. */
static bool replay(const char *name, struct run *run)
{
	struct wrk_buf whole = {0}, cut = {0};
	int status = fixture_status(name);
	size_t len;
	char *text = fixture(name, &len);

	if (!text)
		return false;
	frames(text, len, 0, 0, 0, status, &whole);
	frames(text, len, 3, 0, 0, status, &cut);
	assert_int_equal(cut.len, whole.len);
	assert_memory_equal(cut.data, whole.data, whole.len);
	decode_all(&whole, 0, run);
	wrk_buf_release(&whole);
	wrk_buf_release(&cut);
	free(text);
	return true;
}

/* Every stream captured: each call started completes once, the run ends
 * with a result or a fail, nothing is garbage. */
static void test_fixtures_all(void **state)
{
	const char *top = getenv("top_srcdir");
	struct dirent *e;
	char *path;
	DIR *d;
	int n = 0;

	(void)state;
	assert_true(asprintf(&path, "%s/tests/fixtures/codex",
			     top ? top : "..") > 0);
	d = opendir(path);
	free(path);
	if (!d)
		return; /* not captured here (cmocka's TAP skip is a FAIL) */
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		struct run run;
		int done = 0;

		if (len < 7 || strcmp(e->d_name + len - 6, ".jsonl"))
			continue;
		assert_true(replay(e->d_name, &run));
		for (size_t i = 0; i < run.n; i++) {
			const struct rec *r = &run.r[i];

			if (r->type == WRK_LOG)
				assert_null(strstr(r->text, "not JSON"));
			if (r->type == WRK_TOOL_START)
				assert_int_equal(r->call, ++done);
		}
		assert_int_equal(count(&run, WRK_TOOL_COMPLETE),
				 count(&run, WRK_TOOL_START));
		if (len > 6 && fixture_status(e->d_name) == 0 &&
		    strncmp(e->d_name, "unknown-resume", 14))
			assert_int_equal(count(&run, WRK_RESULT), 1);
		assert_true(count(&run, WRK_RESULT) + count(&run, WRK_FAIL) >
			    0);
		run_free(&run);
		n++;
	}
	closedir(d);
	assert_true(n > 0);
}

/* What some of them say, in detail. */
static void test_fixtures_named(void **state)
{
	const struct rec *r;
	struct run run;
	int seen = 0;

	(void)state;
	if (replay("one-command.jsonl", &run)) {
		seen++;
		r = nth(&run, WRK_TOOL_START, 0);
		assert_string_equal(r->tool, "shell");
		assert_string_equal(
			r->json, "{\"command\":\"/bin/bash -lc 'echo hi'\"}");
		assert_string_equal(nth(&run, WRK_TOOL_COMPLETE, 0)->output,
				    "hi\n");
		r = nth(&run, WRK_USAGE, 0);
		assert_int_equal(r->tokens_in, 250);
		assert_int_equal(r->cache_read, 140);
		assert_int_equal(r->tokens_out, 27);
		assert_int_equal(r->reasoning, 5);
		assert_int_equal(r->has_cost, 0);
		assert_string_equal(nth(&run, WRK_RESULT, 0)->text,
				    "The command printed hi.");
		assert_int_equal(count(&run, WRK_FAIL), 0);
		run_free(&run);
	}
	if (replay("command-error.jsonl", &run)) {
		seen++;
		r = nth(&run, WRK_TOOL_COMPLETE, 0);
		assert_string_equal(r->status, "failed");
		assert_string_equal(r->error, "exit 3");
		assert_string_equal(r->output, "partial\noops\n");
		assert_int_equal(count(&run, WRK_FAIL), 0);
		run_free(&run);
	}
	if (replay("api-error.jsonl", &run)) {
		seen++;
		has_log(&run, "warn", "codex: Reconnecting... 2/2");
		assert_int_equal(count(&run, WRK_FAIL), 1);
		assert_non_null(strstr(nth(&run, WRK_FAIL, 0)->error,
				       "experiencing high demand"));
		run_free(&run);
	}
	if (replay("retry.jsonl", &run)) {
		seen++;
		assert_int_equal(count(&run, WRK_FAIL), 0);
		assert_string_equal(nth(&run, WRK_RESULT, 0)->text,
				    "Answered on the third attempt.");
		run_free(&run);
	}
	if (replay("sigterm.jsonl", &run)) {
		seen++;
		assert_string_equal(nth(&run, WRK_FAIL, 0)->error,
				    "ended without completing its turn (exit "
				    "status 143)");
		run_free(&run);
	}
	if (replay("unfinished-command.jsonl", &run)) {
		seen++;
		r = nth(&run, WRK_TOOL_COMPLETE, 0);
		assert_string_equal(r->error, "interrupted");
		assert_int_equal(count(&run, WRK_FAIL), 0);
		run_free(&run);
	}
	if (replay("file-change.jsonl", &run)) {
		seen++;
		assert_string_equal(nth(&run, WRK_TOOL_START, 1)->tool,
				    "file_change");
		assert_string_equal(nth(&run, WRK_TOOL_COMPLETE, 1)->output,
				    "/tmp/codex-fixture/work/hello.txt\n"
				    "/tmp/codex-fixture/work/old.txt");
		run_free(&run);
	}
	if (replay("web-search.jsonl", &run)) {
		seen++;
		r = nth(&run, WRK_TOOL_START, 0);
		assert_string_equal(r->tool, "web_search");
		assert_string_equal(r->json,
				    "{\"query\":\"smithers supervisor\"}");
		run_free(&run);
	}
	(void)seen; /* none captured here: nothing to check */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_session),
		cmocka_unit_test(test_run),
		cmocka_unit_test(test_shell_failed),
		cmocka_unit_test(test_file_change),
		cmocka_unit_test(test_mcp_tool_call),
		cmocka_unit_test(test_web_search),
		cmocka_unit_test(test_not_calls),
		cmocka_unit_test(test_completed_without_start),
		cmocka_unit_test(test_interrupted),
		cmocka_unit_test(test_ended_without_turn),
		cmocka_unit_test(test_turn_failed),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_garbage_and_unknown),
		cmocka_unit_test(test_line_max),
		cmocka_unit_test(test_frame_max),
		cmocka_unit_test(test_cuts),
		cmocka_unit_test(test_hello),
		cmocka_unit_test(test_fixtures_all),
		cmocka_unit_test(test_fixtures_named),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
