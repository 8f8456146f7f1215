/*
 * test_claude.c - the Claude Code stream-json parser (worker/claude.c):
 * every frame it makes is decoded back with the supervisor's decoder, so
 * a test also proves the supervisor would accept the stream. Synthetic
 * lines are modelled on the CLI 2.1's; the real streams captured in
 * tests/fixtures/claude/ are replayed when they are there. The fast path
 * (worker/jscan.c) is checked against jansson: the same frames, byte for
 * byte, for every fixture, every fuzz seed and a list of odd lines.
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
#include <jansson.h>

#include "worker/claude.h"
#include "worker/jscan.h"
#include "worker/proto.h"
#include "tests/unit/frames.h"

/* Parse TEXT (LEN bytes) fed in pieces of CHUNK bytes (0: at once), end
 * with STATUS, and decode what came out. */
static void parse_opts(const char *text, size_t len, size_t chunk,
		       size_t line_max, size_t frame_max, int status,
		       struct run *run)
{
	struct wrk_claude *c = wrk_claude_new(line_max, frame_max);
	struct wrk_buf out = {0};
	size_t at = 0;

	assert_non_null(c);
	assert_int_equal(wrk_claude_hello(c, 4242, &out), 0);
	while (at < len) {
		size_t n = chunk && chunk < len - at ? chunk : len - at;

		assert_int_equal(wrk_claude_feed(c, text + at, n, &out), 0);
		at += n;
	}
	assert_int_equal(wrk_claude_end(c, status, &out), 0);
	assert_int_equal(wrk_claude_feed(c, "x", 1, &out), -1);
	assert_int_equal(errno, EINVAL);
	decode_all(&out, frame_max, run);
	wrk_buf_release(&out);
	wrk_claude_free(c);
	assert_true(run->n >= 1);
	assert_int_equal(run->r[0].type, WRK_HELLO);
	assert_int_equal(run->r[0].pid, 4242);
}

static void parse(const char *text, struct run *run)
{
	parse_opts(text, strlen(text), 0, 0, 0, 0, run);
}

/* The lines of the CLI, written as it writes them. */
/* clang-format off */
#define INIT                                                                   \
	"{\"type\":\"system\",\"subtype\":\"init\",\"cwd\":\"/w\","          \
	"\"session_id\":\"s-1\",\"tools\":[\"Bash\",\"Read\",\"Task\"],"     \
	"\"model\":\"claude-sonnet-4-5\",\"permissionMode\":\"default\","    \
	"\"claude_code_version\":\"2.1.332\"}\n"

#define USAGE(in, out)                                                         \
	"\"usage\":{\"input_tokens\":" #in ",\"output_tokens\":" #out         \
	",\"cache_read_input_tokens\":100,"                                    \
	"\"cache_creation_input_tokens\":20}"

#define TOOL_USE(id, name, input)                                              \
	"{\"type\":\"tool_use\",\"id\":\"" id "\",\"name\":\"" name           \
	"\",\"input\":" input "}"

#define ASSISTANT(msg, parent, content)                                        \
	"{\"type\":\"assistant\",\"message\":{\"id\":\"" msg                  \
	"\",\"model\":\"m\",\"content\":[" content "]," USAGE(3, 7)          \
	"},\"parent_tool_use_id\":" parent ",\"session_id\":\"s-1\"}\n"

#define RESULT_OF(id, text, err)                                               \
	"{\"type\":\"tool_result\",\"tool_use_id\":\"" id                     \
	"\",\"content\":" text ",\"is_error\":" err "}"

#define USER(content)                                                          \
	"{\"type\":\"user\",\"message\":{\"role\":\"user\",\"content\":["     \
	content "]},\"parent_tool_use_id\":null,\"session_id\":\"s-1\"}\n"

#define RESULT                                                                 \
	"{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,"   \
	"\"num_turns\":2,\"result\":\"all done\",\"session_id\":\"s-1\","    \
	"\"total_cost_usd\":0.0425,\"duration_ms\":1200,"                    \
	"\"duration_api_ms\":900,\"stop_reason\":null,"                      \
	"\"terminal_reason\":\"completed\",\"api_error_status\":null,"       \
	"\"permission_denials\":[],"                                           \
	"\"usage\":{\"input_tokens\":1,\"output_tokens\":2,"                  \
	"\"cache_read_input_tokens\":3,\"cache_creation_input_tokens\":4},"  \
	"\"modelUsage\":{\"a\":{\"inputTokens\":10,\"outputTokens\":20,"      \
	"\"cacheReadInputTokens\":30,\"cacheCreationInputTokens\":40,"       \
	"\"costUSD\":0.04},\"b\":{\"inputTokens\":1,\"outputTokens\":2,"      \
	"\"cacheReadInputTokens\":3,\"cacheCreationInputTokens\":4}}}\n"
/* clang-format on */

static void test_session(void **state)
{
	struct run run;
	const struct rec *s;

	(void)state;
	/* clang-format off */
	parse(INIT RESULT, &run);
	/* clang-format on */
	assert_int_equal(run.r[1].type, WRK_SESSION);
	s = &run.r[1];
	assert_string_equal(s->session_id, "s-1");
	assert_string_equal(s->model, "claude-sonnet-4-5");
	assert_string_equal(s->agent_version, "2.1.332");
	assert_string_equal(s->json, "[\"Bash\",\"Read\",\"Task\"]");
	for (size_t i = 0; i < run.n; i++)
		assert_int_equal(run.r[i].seq, i + 1);
	run_free(&run);
}

/* One call: one start, one complete; the message's usage counted once
 * though it came on two lines. */
static void test_one_tool(void **state)
{
	struct run run;
	const struct rec *r;

	(void)state;
	/* clang-format off */
	parse(INIT ASSISTANT("msg_1", "null",
			     "{\"type\":\"text\",\"text\":\"let me look\"}")
		      ASSISTANT("msg_1", "null",
				TOOL_USE("toolu_1", "Bash",
					 "{\"command\":\"ls\"}"))
			      USER(RESULT_OF("toolu_1", "\"a\\nb\\n\"",
					     "false")) RESULT,
	      &run);
	/* clang-format on */
	assert_int_equal(count(&run, WRK_TOOL_START), 1);
	assert_int_equal(count(&run, WRK_TOOL_COMPLETE), 1);
	r = nth(&run, WRK_TOOL_START, 0);
	assert_int_equal(r->call, 1);
	assert_string_equal(r->tool, "Bash");
	assert_string_equal(r->json, "{\"command\":\"ls\"}");
	assert_string_equal(r->ref, "toolu_1");
	assert_int_equal(r->parent, 0);
	r = nth(&run, WRK_TOOL_COMPLETE, 0);
	assert_int_equal(r->call, 1);
	assert_string_equal(r->output, "a\nb\n");
	assert_string_equal(r->status, "completed");
	assert_null(r->error);

	assert_int_equal(count(&run, WRK_USAGE), 2);
	r = nth(&run, WRK_USAGE, 0);
	assert_int_equal(r->tokens_in, 3);
	assert_int_equal(r->tokens_out, 7);
	assert_int_equal(r->cache_read, 100);
	assert_int_equal(r->cache_write, 20);
	assert_int_equal(r->total, 0);
	assert_int_equal(r->has_cost, 0);
	/* The result's totals: modelUsage summed, not usage. */
	r = nth(&run, WRK_USAGE, 1);
	assert_int_equal(r->total, 1);
	assert_int_equal(r->tokens_in, 11);
	assert_int_equal(r->tokens_out, 22);
	assert_int_equal(r->cache_read, 33);
	assert_int_equal(r->cache_write, 44);
	assert_int_equal(r->has_cost, 1);
	assert_true(r->cost == 0.0425);

	r = nth(&run, WRK_RESULT, 0);
	assert_string_equal(r->text, "all done");
	assert_string_equal(r->json,
			    "{\"subtype\":\"success\",\"is_error\":false,"
			    "\"num_turns\":2,\"duration_ms\":1200,"
			    "\"duration_api_ms\":900,\"terminal_reason\":"
			    "\"completed\",\"permission_denials\":[],"
			    "\"session_id\":\"s-1\"}");
	assert_int_equal(count(&run, WRK_FAIL), 0);
	assert_int_equal(count(&run, WRK_LOG), 0);
	/* The usage total comes before the result. */
	assert_true(nth(&run, WRK_USAGE, 1) < nth(&run, WRK_RESULT, 0));
	run_free(&run);
}

/* A message_delta (--include-partial-messages) adds the output tokens
 * its message's first line lacked, once; an unknown message is left. */
static void test_stream_event(void **state)
{
	static const char text[] =
		"{\"type\":\"assistant\",\"message\":{\"id\":\"m1\","
		"\"content\":[],\"usage\":{\"input_tokens\":5,"
		"\"output_tokens\":1}}}\n"
		"{\"type\":\"stream_event\",\"api_message_id\":\"m1\","
		"\"event\":{\"type\":\"message_delta\",\"usage\":"
		"{\"output_tokens\":9}}}\n"
		"{\"type\":\"stream_event\",\"api_message_id\":\"m1\","
		"\"event\":{\"type\":\"message_delta\",\"usage\":"
		"{\"output_tokens\":9}}}\n"
		"{\"type\":\"stream_event\",\"api_message_id\":\"m2\","
		"\"event\":{\"type\":\"message_delta\",\"usage\":"
		"{\"output_tokens\":4}}}\n"
		"{\"type\":\"stream_event\",\"api_message_id\":\"m1\","
		"\"event\":{\"type\":\"message_start\"}}\n";
	struct run run;

	(void)state;
	parse(text, &run);
	assert_int_equal(count(&run, WRK_USAGE), 2);
	assert_int_equal(nth(&run, WRK_USAGE, 0)->tokens_out, 1);
	assert_int_equal(nth(&run, WRK_USAGE, 1)->tokens_in, 0);
	assert_int_equal(nth(&run, WRK_USAGE, 1)->tokens_out, 8);
	run_free(&run);
}

/* Calls made at once and completed in another order, some on one line. */
static void test_parallel_tools(void **state)
{
	struct run run;
	const struct rec *r;

	(void)state;
	/* clang-format off */
	parse(ASSISTANT("msg_1", "null",
			TOOL_USE("t_a", "Read", "{\"file_path\":\"a\"}") ","
			TOOL_USE("t_b", "Read", "{\"file_path\":\"b\"}"))
		ASSISTANT("msg_1", "null",
			  TOOL_USE("t_c", "Grep", "{\"pattern\":\"x\"}"))
			USER(RESULT_OF("t_c", "\"C\"", "false") ","
			     RESULT_OF("t_a", "\"A\"", "false"))
				USER(RESULT_OF("t_b", "\"B\"", "false")),
	      &run);
	/* clang-format on */
	assert_int_equal(count(&run, WRK_TOOL_START), 3);
	assert_int_equal(count(&run, WRK_TOOL_COMPLETE), 3);
	assert_int_equal(count(&run, WRK_USAGE), 1);
	r = nth(&run, WRK_TOOL_COMPLETE, 0);
	assert_int_equal(r->call, 3);
	assert_string_equal(r->output, "C");
	r = nth(&run, WRK_TOOL_COMPLETE, 1);
	assert_int_equal(r->call, 1);
	assert_string_equal(r->output, "A");
	r = nth(&run, WRK_TOOL_COMPLETE, 2);
	assert_int_equal(r->call, 2);
	assert_string_equal(r->output, "B");
	/* No result line: the run fails, saying how it ended. */
	r = nth(&run, WRK_FAIL, 0);
	assert_string_equal(r->error, "ended without a result (exit status 0)");
	run_free(&run);
}

/* A subagent's calls run inside its Task call. */
static void test_subagent(void **state)
{
	struct run run;
	const struct rec *r;

	(void)state;
	/* clang-format off */
	parse(ASSISTANT("msg_1", "null",
			TOOL_USE("t_task", "Task",
				 "{\"description\":\"look\",\"prompt\":\"p\"}"))
		ASSISTANT("msg_2", "\"t_task\"",
			  TOOL_USE("t_sub", "Glob", "{\"pattern\":\"*\"}"))
			ASSISTANT("msg_3", "\"t_unknown\"",
				  TOOL_USE("t_orphan", "Glob", "{}")),
	      &run);
	/* clang-format on */
	r = nth(&run, WRK_TOOL_START, 1);
	assert_string_equal(r->ref, "t_sub");
	assert_int_equal(r->parent, nth(&run, WRK_TOOL_START, 0)->call);
	assert_int_equal(nth(&run, WRK_TOOL_START, 2)->parent, 0);
	/* Each message's usage counts: subagents spend tokens too. */
	assert_int_equal(count(&run, WRK_USAGE), 3);
	/* All three were running at the end, in the order they started. */
	for (int i = 0; i < 3; i++) {
		r = nth(&run, WRK_TOOL_COMPLETE, i);
		assert_int_equal(r->call, (uint64_t)i + 1);
		assert_string_equal(r->status, "failed");
		assert_string_equal(r->error, "interrupted");
	}
	run_free(&run);
}

static void test_tool_errors(void **state)
{
	struct run run;
	const struct rec *r;

	(void)state;
	/* clang-format off */
	parse(ASSISTANT("msg_1", "null",
			TOOL_USE("t1", "Bash", "{}") "," TOOL_USE("t2", "Bash",
								  "[1]") ","
			TOOL_USE("t3", "Read", "\"x\""))
		USER(RESULT_OF(
			"t1",
			"[{\"type\":\"text\",\"text\":\"\\nExit code 2\\r\\n"
			"more\"},{\"type\":\"image\"},{\"type\":\"text\","
			"\"text\":\"tail\"}]",
			"true") "," RESULT_OF("t2", "\"\"", "true") ","
					       RESULT_OF("t_nope", "\"?\"",
							 "false"))
			USER(RESULT_OF("t1", "\"again\"", "false")),
	      &run);
	/* clang-format on */
	r = nth(&run, WRK_TOOL_COMPLETE, 0);
	assert_string_equal(r->status, "failed");
	assert_string_equal(r->error, "Exit code 2");
	assert_string_equal(r->output, "\nExit code 2\r\nmore\ntail");
	r = nth(&run, WRK_TOOL_COMPLETE, 1);
	assert_string_equal(r->status, "failed");
	assert_string_equal(r->error, "tool error");
	assert_null(r->output);
	assert_string_equal(nth(&run, WRK_TOOL_START, 1)->json, "[1]");
	assert_string_equal(nth(&run, WRK_TOOL_START, 2)->json, "\"x\"");
	r = nth(&run, WRK_LOG, 0);
	assert_string_equal(r->level, "warn");
	assert_non_null(strstr(r->text, "unknown tool_use_id 't_nope'"));
	r = nth(&run, WRK_LOG, 1);
	assert_non_null(strstr(r->text, "completed tool_use_id 't1'"));
	/* t3 still ran at the end; no other complete was sent. */
	assert_int_equal(count(&run, WRK_TOOL_COMPLETE), 3);
	run_free(&run);
}

/* The ways a run fails, as the result line says them. */
static void test_failures(void **state)
{
	static const struct {
		const char *line, *want;
	} cases[] = {
		{"{\"type\":\"result\",\"subtype\":\"error_max_turns\","
		 "\"is_error\":false,\"num_turns\":3}",
		 "reached max turns (3)"},
		{"{\"type\":\"result\",\"subtype\":\"error_max_budget_usd\","
		 "\"total_cost_usd\":0.5012}",
		 "reached max budget ($0.5012)"},
		{"{\"type\":\"result\",\"subtype\":\"error_max_budget_usd\","
		 "\"total_cost_usd\":2}",
		 "reached max budget ($2.00)"},
		{"{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":"
		 "true,"
		 "\"api_error_status\":529,\"result\":\"API Error: 529 "
		 "{\\\"type\\\":\\\"error\\\",\\\"error\\\":{\\\"type\\\":"
		 "\\\"overloaded_error\\\",\\\"message\\\":\\\"Overloaded\\\"}}"
		 "\"}",
		 "API error: overloaded (529)"},
		{"{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":"
		 "true,"
		 "\"api_error_status\":401,\"result\":\"API Error: 401 "
		 "Invalid API key\"}",
		 "API error: Invalid API key (401)"},
		{"{\"type\":\"result\",\"subtype\":\"error_during_execution\","
		 "\"errors\":[\"tool crashed\\nstack\"]}",
		 "error during execution: tool crashed"},
		{"{\"type\":\"result\",\"subtype\":\"error_during_execution\"}",
		 "error during execution"},
		{"{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":"
		 "true,"
		 "\"result\":\"Credit balance is too low\"}",
		 "Credit balance is too low"},
		{"{\"type\":\"result\",\"subtype\":\"error_new\"}",
		 "the run ended with 'error_new'"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct run run;
		char line[1024];

		snprintf(line, sizeof(line), "%s\n", cases[i].line);
		parse(line, &run);
		assert_int_equal(count(&run, WRK_RESULT), 1);
		assert_int_equal(count(&run, WRK_FAIL), 1);
		assert_string_equal(nth(&run, WRK_FAIL, 0)->error,
				    cases[i].want);
		run_free(&run);
	}

	/* A reason cut by its buffer is cut between characters. */
	char line[1024], *p = line, want[300];
	struct run run;

	p += sprintf(p, "{\"type\":\"result\",\"is_error\":true,"
			"\"api_error_status\":500,\"result\":\"API Error: ");
	for (int i = 0; i < 300; i++)
		p += sprintf(p, "\xc3\xa9");
	sprintf(p, "\"}\n");
	parse(line, &run); /* decodes: valid UTF-8 */
	p = want + sprintf(want, "API error: ");
	for (int i = 0; i < 127; i++)
		p += sprintf(p, "\xc3\xa9");
	sprintf(p, " (500)");
	assert_string_equal(nth(&run, WRK_FAIL, 0)->error, want);
	run_free(&run);
}

static void test_end_without_result(void **state)
{
	struct run run;
	const char *text = ASSISTANT("m", "null", TOOL_USE("t", "Bash", "{}"));

	(void)state;
	parse_opts(text, strlen(text), 0, 0, 0, SIGKILL, &run);
	assert_string_equal(nth(&run, WRK_TOOL_COMPLETE, 0)->error,
			    "interrupted");
	assert_string_equal(nth(&run, WRK_FAIL, 0)->error,
			    "ended without a result (killed by signal KILL)");
	run_free(&run);
	parse_opts(RESULT, strlen(RESULT), 0, 0, 0, 1 << 8, &run);
	assert_int_equal(count(&run, WRK_FAIL), 0); /* the result said */
	run_free(&run);

	/* The API failing until the CLI gives up or is stopped. */
	text = "{\"type\":\"system\",\"subtype\":\"api_retry\",\"attempt\":1,"
	       "\"max_retries\":10,\"error_status\":529,\"error\":"
	       "\"overloaded\"}\n"
	       "{\"type\":\"system\",\"subtype\":\"api_retry\",\"attempt\":2,"
	       "\"error_status\":null,\"error\":\"unknown\"}\n";
	parse_opts(text, strlen(text), 0, 0, 0, 143 << 8, &run);
	assert_string_equal(nth(&run, WRK_LOG, 0)->text,
			    "API error: overloaded (529); retry 1 of 10");
	assert_string_equal(nth(&run, WRK_LOG, 1)->level, "warn");
	assert_string_equal(nth(&run, WRK_FAIL, 0)->error,
			    "ended without a result (exit status 143); last "
			    "API error: unknown");
	run_free(&run);
}

/* What is not JSON, or cut short, is logged; the stream goes on. */
static void test_not_json(void **state)
{
	static const char text[] = "Error: something \xff\x01 on stderr\n"
				   "\xee\x90s\n"
				   "\n   \r\n"
				   "[1,2]\n"
				   "{\"type\":\"stream_event\"}\n"
				   "{\"no\":\"type\"}\n" INIT "{\"type\":\"res";
	struct run run;
	const struct rec *r;

	(void)state;
	parse_opts(text, sizeof(text) - 1, 0, 0, 0, 0, &run);
	assert_int_equal(count(&run, WRK_LOG), 3);
	r = nth(&run, WRK_LOG, 0);
	assert_string_equal(r->level, "warn");
	assert_string_equal(r->text, "not JSON: Error: something ?? on stderr");
	/* A sequence cut short: its lead byte and its continuation. */
	assert_string_equal(nth(&run, WRK_LOG, 1)->text, "not JSON: ??s");
	r = nth(&run, WRK_LOG, 2);
	assert_string_equal(r->text, "last line cut short: {\"type\":\"res");
	assert_int_equal(count(&run, WRK_SESSION), 1);
	run_free(&run);

	/* A whole last line without its newline still counts. */
	parse_opts(RESULT, strlen(RESULT) - 1, 0, 0, 0, 0, &run);
	assert_int_equal(count(&run, WRK_RESULT), 1);
	assert_int_equal(count(&run, WRK_FAIL), 0);
	run_free(&run);

	/* A long line that is not JSON: 200 bytes shown, then "...". */
	char *big = malloc(5001);

	memset(big, 'x', 5000);
	big[4999] = '\n';
	big[5000] = '\0';
	parse(big, &run);
	r = nth(&run, WRK_LOG, 0);
	assert_int_equal(strlen(r->text), strlen("not JSON: ") + 200 + 3);
	free(big);
	run_free(&run);
}

/* Lines past line_max are skipped and logged, whatever the feeds. */
static void test_line_max(void **state)
{
	char text[4096];
	struct run run;
	const struct rec *r;

	(void)state;
	snprintf(text, sizeof(text),
		 "%s{\"type\":\"user\",\"pad\":\"%0300d\"}\n%s", INIT, 0,
		 RESULT);
	/* INIT is 183 bytes, the padded line 331, RESULT 595. */
	for (size_t chunk = 0; chunk < 40; chunk += 7) {
		parse_opts(text, strlen(text), chunk, 300, 0, 0, &run);
		r = nth(&run, WRK_LOG, 0);
		assert_string_equal(r->level, "error");
		assert_string_equal(r->text, "line 2 longer than 300 bytes: "
					     "skipped");
		assert_int_equal(count(&run, WRK_LOG), 2);
		assert_string_equal(nth(&run, WRK_LOG, 1)->text,
				    "line 3 longer than 300 bytes: skipped");
		assert_int_equal(count(&run, WRK_SESSION), 1);
		assert_int_equal(count(&run, WRK_RESULT), 0);
		run_free(&run);
		parse_opts(text, strlen(text), chunk, 1000, 0, 0, &run);
		assert_int_equal(count(&run, WRK_LOG), 0);
		assert_int_equal(count(&run, WRK_SESSION), 1);
		assert_int_equal(count(&run, WRK_RESULT), 1);
		run_free(&run);
	}
}

/* An output too long for a frame is cut at a character, with a note. */
static void test_truncation(void **state)
{
	size_t big = 10000, frame_max = 4096;
	struct run run;
	const struct rec *r;
	char *text, *p;

	(void)state;
	text = malloc(3 * big);
	assert_non_null(text);
	p = text;
	p += sprintf(p, "%s",
		     ASSISTANT("m", "null", TOOL_USE("t", "Bash", "{}")));
	p += sprintf(p, "{\"type\":\"user\",\"message\":{\"content\":[{"
			"\"type\":\"tool_result\",\"tool_use_id\":\"t\","
			"\"content\":\"");
	for (size_t i = 0; i < big / 2; i++)
		p += sprintf(p, "\xc3\xa9"); /* two bytes each */
	p += sprintf(p, "\"}]}}\n{\"type\":\"result\",\"subtype\":"
			"\"success\",\"result\":\"");
	memset(p, 'r', big);
	p += big;
	p += sprintf(p, "\"}\n");
	parse_opts(text, (size_t)(p - text), 0, 0, frame_max, 0, &run);
	r = nth(&run, WRK_TOOL_COMPLETE, 0);
	assert_true(r->output_len < frame_max);
	assert_non_null(strstr(r->output, "\n[smithers: output truncated: "));
	assert_non_null(strstr(r->output, "of 10000 bytes kept; the whole "
					  "stream is in the agent's log]"));
	assert_memory_equal(r->output, "\xc3\xa9\xc3\xa9", 4);
	r = nth(&run, WRK_RESULT, 0);
	assert_non_null(strstr(r->text, "[smithers: result truncated: "));
	free(text);
	run_free(&run);
}

/* Wrong types everywhere: no crash, nothing the decoder refuses. */
static void test_malformed(void **state)
{
	static const char *const lines[] = {
		"{\"type\":1}",
		"{\"type\":\"system\",\"subtype\":\"init\"}",
		"{\"type\":\"system\",\"subtype\":\"init\",\"session_id\":1,"
		"\"tools\":{}}",
		"{\"type\":\"system\",\"subtype\":\"init\",\"session_id\":"
		"\"s\","
		"\"model\":[],\"claude_code_version\":2,\"tools\":\"x\"}",
		"{\"type\":\"assistant\"}",
		"{\"type\":\"assistant\",\"message\":[]}",
		"{\"type\":\"assistant\",\"message\":{\"content\":{}}}",
		"{\"type\":\"assistant\",\"message\":{\"content\":[1,null,{}]}"
		"}",
		"{\"type\":\"assistant\",\"message\":{\"content\":[{\"type\":"
		"\"tool_use\"},{\"type\":\"tool_use\",\"id\":5,\"name\":\"x\"}]"
		",\"id\":7,\"usage\":{\"input_tokens\":-5,\"output_tokens\":"
		"1e3,\"cache_read_input_tokens\":\"9\"}},"
		"\"parent_tool_use_id\":{}}",
		"{\"type\":\"assistant\",\"message\":{\"usage\":[]}}",
		"{\"type\":\"assistant\",\"message\":{\"content\":[{\"type\":"
		"\"tool_use\",\"id\":\"u\",\"name\":\"n\"}],\"id\":\"x\","
		"\"usage\":{\"input_tokens\":9223372036854775807,"
		"\"output_tokens\":9223372036854775807}}}",
		"{\"type\":\"user\",\"message\":{\"content\":\"text\"}}",
		"{\"type\":\"user\",\"message\":{\"content\":[{\"type\":"
		"\"tool_result\"},{\"type\":\"tool_result\",\"tool_use_id\":"
		"[]},{\"type\":\"tool_result\",\"tool_use_id\":\"u\","
		"\"content\":[1,{\"type\":\"text\",\"text\":2}],\"is_error\":"
		"\"yes\"}]}}",
		"{\"type\":\"result\"}",
		"{\"type\":\"result\",\"subtype\":7,\"is_error\":1,\"result\":["
		"],"
		"\"num_turns\":\"3\",\"usage\":5,\"modelUsage\":{\"a\":3,"
		"\"b\":{\"inputTokens\":9223372036854775807},\"c\":{"
		"\"inputTokens\":9223372036854775807}},\"total_cost_usd\":\"1\""
		",\"api_error_status\":{}}",
		"{\"type\":\"result\",\"subtype\":\"error_max_turns\","
		"\"num_turns\":-1,\"api_error_status\":\"x\",\"result\":\"{\"}",
		"{\"type\":\"result\",\"subtype\":\"error_max_budget_usd\","
		"\"total_cost_usd\":1e300}",
		"{\"type\":\"result\",\"is_error\":true,\"api_error_status\":1,"
		"\"result\":\"{\\\"error\\\":{\\\"type\\\":\\\"_error\\\"}}\"}",
		"{\"type\":\"result\",\"is_error\":true,\"api_error_status\":1,"
		"\"result\":\"API Error: 5\"}",
		"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]"
		"]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
		"{\"type\":\"user\",\"message\":{\"content\":[{\"type\":"
		"\"tool_result\",\"tool_use_id\":\"\\u00e9\\u0001\"}]}}",
		"{\"a\":\"\\u0000\"}",
		"\xc3",
		"{\"type\":\"result\",\"result\":\"\xff\"}",
	};
	struct wrk_buf all = {0};
	struct run run;

	(void)state;
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		size_t n = strlen(lines[i]);

		parse_opts(lines[i], n, 0, 0, 0, 0, &run);
		run_free(&run);
		parse_opts(lines[i], n, 1, 0, 0, 0, &run);
		run_free(&run);
		all.data = realloc(all.data, all.len + n + 1);
		memcpy(all.data + all.len, lines[i], n);
		all.len += n;
		all.data[all.len++] = '\n';
	}
	parse_opts(all.data, all.len, 0, 0, 0, 0, &run);
	/* Counts of the wrong type are none (no usage for them); the big
	 * ones stay in the protocol's range. */
	assert_int_equal(nth(&run, WRK_USAGE, 0)->tokens_in, INT64_MAX);
	assert_int_equal(nth(&run, WRK_USAGE, 0)->tokens_out, INT64_MAX);
	run_free(&run);
	free(all.data);
}

/* Any cut of the stream gives the same frames as one feed. */
static void test_any_cut(void **state)
{
	/* clang-format off */
	static const char text[] =
		INIT ASSISTANT("msg_1", "null", TOOL_USE("t", "Bash", "{}"))
			USER(RESULT_OF("t", "\"ok\"", "false")) RESULT;
	/* clang-format on */
	size_t len = sizeof(text) - 1;
	struct wrk_buf whole = {0};
	struct wrk_claude *c;

	(void)state;
	c = wrk_claude_new(0, 0);
	assert_int_equal(wrk_claude_feed(c, text, len, &whole), 0);
	assert_int_equal(wrk_claude_end(c, 0, &whole), 0);
	wrk_claude_free(c);
	for (size_t k = 0; k <= len; k += 3) {
		struct wrk_buf b = {0};

		c = wrk_claude_new(0, 0);
		assert_int_equal(wrk_claude_feed(c, text, k, &b), 0);
		assert_int_equal(wrk_claude_feed(c, text + k, len - k, &b), 0);
		assert_int_equal(wrk_claude_end(c, 0, &b), 0);
		assert_int_equal(wrk_claude_end(c, 0, &b), -1);
		assert_int_equal(b.len, whole.len);
		assert_memory_equal(b.data, whole.data, b.len);
		wrk_buf_release(&b);
		wrk_claude_free(c);
	}
	wrk_buf_release(&whole);
}

/* ---- the real CLI's streams ------------------------------------------ */

static char *fixture_path(const char *name)
{
	const char *top = getenv("top_srcdir");
	char *path;

	if (asprintf(&path, "%s/tests/fixtures/claude/%s", top ? top : "..",
		     name) < 0)
		return NULL;
	return path;
}

/* The exit status the CLI ended with when NAME was captured (the capture's
 * exit-status.txt: "NAME STATUS" lines), as a wait status. */
static int fixture_status(const char *name)
{
	char *path = fixture_path("exit-status.txt");
	FILE *f = path ? fopen(path, "r") : NULL;
	char line[256], want[128];
	int code = 0;

	free(path);
	snprintf(want, sizeof(want), "%.*s ", (int)(strlen(name) - 6), name);
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, want, strlen(want)))
			code = atoi(line + strlen(want));
	if (f)
		fclose(f);
	return (code & 0xff) << 8;
}

/* The fixture NAME parsed into RUN; 0 when it is not there (skipped). */
static int parse_fixture(const char *name, struct run *run)
{
	char *path = fixture_path(name);
	FILE *f = path ? fopen(path, "rb") : NULL;
	char *text = NULL;
	size_t len = 0;

	free(path);
	if (!f)
		return 0;
	fseek(f, 0, SEEK_END);
	len = (size_t)ftell(f);
	fseek(f, 0, SEEK_SET);
	text = malloc(len + 1);
	assert_non_null(text);
	assert_int_equal(fread(text, 1, len, f), len);
	fclose(f);
	parse_opts(text, len, 4093, 0, 0, fixture_status(name), run);
	free(text);
	return 1;
}

#define FIXTURE(name, run)                                                     \
	do {                                                                   \
		if (!parse_fixture(name, run))                                 \
			skip();                                                \
	} while (0)

/* The start of the call whose tool_use id is REF. */
static const struct rec *start_of(const struct run *run, const char *ref)
{
	for (size_t i = 0; i < run->n; i++)
		if (run->r[i].type == WRK_TOOL_START &&
		    !strcmp(run->r[i].ref, ref))
			return &run->r[i];
	fail_msg("no tool.start of '%s'", ref);
	return NULL;
}

static void test_fixture_one_tool(void **state)
{
	struct run run;
	const struct rec *r;

	(void)state;
	FIXTURE("one-tool.jsonl", &run);
	assert_int_equal(count(&run, WRK_TOOL_START), 1);
	assert_int_equal(count(&run, WRK_TOOL_COMPLETE), 1);
	r = start_of(&run, "toolu_fake_echo");
	assert_string_equal(r->tool, "Bash");
	r = nth(&run, WRK_TOOL_COMPLETE, 0);
	assert_int_equal(r->call, start_of(&run, "toolu_fake_echo")->call);
	assert_string_equal(r->status, "completed");
	assert_string_equal(r->output, "hi");
	assert_string_equal(nth(&run, WRK_RESULT, 0)->text,
			    "The command printed hi.");
	assert_int_equal(count(&run, WRK_FAIL), 0);
	assert_int_equal(count(&run, WRK_LOG), 0);
	/* Two API responses, one increment each; then the totals. */
	assert_int_equal(count(&run, WRK_USAGE), 3);
	assert_int_equal(nth(&run, WRK_USAGE, 2)->total, 1);
	run_free(&run);
}

static void test_fixture_parallel(void **state)
{
	struct run run;

	(void)state;
	FIXTURE("parallel-tools.jsonl", &run);
	assert_int_equal(count(&run, WRK_TOOL_START), 3);
	assert_int_equal(nth(&run, WRK_TOOL_COMPLETE, 0)->call,
			 start_of(&run, "toolu_fake_read")->call);
	assert_int_equal(nth(&run, WRK_TOOL_COMPLETE, 1)->call,
			 start_of(&run, "toolu_fake_bash2")->call);
	assert_string_equal(nth(&run, WRK_TOOL_COMPLETE, 1)->output, "second");
	assert_int_equal(nth(&run, WRK_TOOL_COMPLETE, 2)->call,
			 start_of(&run, "toolu_fake_bash")->call);
	assert_string_equal(nth(&run, WRK_TOOL_COMPLETE, 2)->output,
			    "from-bash");
	assert_int_equal(count(&run, WRK_FAIL), 0);
	run_free(&run);
}

static void test_fixture_subagents(void **state)
{
	static const char *const names[] = {"subagent.jsonl",
					    "subagent-background.jsonl"};
	struct run run;

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		FIXTURE(names[i], &run);
		assert_int_not_equal(start_of(&run, "toolu_fake_agent")->call,
				     0);
		assert_int_equal(start_of(&run, "toolu_fake_agent")->parent, 0);
		assert_int_equal(start_of(&run, "toolu_fake_subbash")->parent,
				 start_of(&run, "toolu_fake_agent")->call);
		assert_int_equal(count(&run, WRK_TOOL_COMPLETE), 2);
		assert_int_equal(count(&run, WRK_FAIL), 0);
		run_free(&run);
	}
}

static void test_fixture_failures(void **state)
{
	static const struct {
		const char *name, *error;
	} cases[] = {
		{"max-turns.jsonl", "reached max turns (1)"},
		{"max-budget.jsonl", "reached max budget ($0.10)"},
		{"unknown-resume.jsonl",
		 "error during execution: No conversation found with session "
		 "ID: "},
		{"overloaded.jsonl", "API error: overloaded (529)"},
		{"sigint.jsonl", "error during execution: aborted_streaming"},
		{"sigterm.jsonl", "ended without a result (exit status 143)"},
	};
	struct run run;
	int seen = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (!parse_fixture(cases[i].name, &run))
			continue;
		seen++;
		assert_int_equal(count(&run, WRK_FAIL), 1);
		if (strncmp(nth(&run, WRK_FAIL, 0)->error, cases[i].error,
			    strlen(cases[i].error)))
			fail_msg("%s: '%s', not '%s...'", cases[i].name,
				 nth(&run, WRK_FAIL, 0)->error, cases[i].error);
		run_free(&run);
	}
	if (!seen)
		skip();
}

static void test_fixture_tool_errors(void **state)
{
	struct run run;
	const struct rec *r;

	(void)state;
	FIXTURE("tool-error.jsonl", &run);
	r = nth(&run, WRK_TOOL_COMPLETE, 0);
	assert_string_equal(r->status, "failed");
	assert_string_equal(r->error, "Exit code 3");
	assert_int_equal(count(&run, WRK_FAIL), 0);
	run_free(&run);
	FIXTURE("permission-denied.jsonl", &run);
	assert_string_equal(nth(&run, WRK_TOOL_COMPLETE, 0)->status, "failed");
	assert_non_null(strstr(nth(&run, WRK_RESULT, 0)->json,
			       "\"permission_denials\":[{"));
	run_free(&run);
}

/* With --include-partial-messages the increments add up to the totals;
 * a retried API error is logged and the run goes on. */
static void test_fixture_usage(void **state)
{
	uint64_t in = 0, out = 0;
	const struct rec *total;
	struct run run;
	int n;

	(void)state;
	FIXTURE("partial.jsonl", &run);
	n = count(&run, WRK_USAGE);
	for (int i = 0; i < n - 1; i++) {
		assert_int_equal(nth(&run, WRK_USAGE, i)->total, 0);
		in += nth(&run, WRK_USAGE, i)->tokens_in;
		out += nth(&run, WRK_USAGE, i)->tokens_out;
	}
	total = nth(&run, WRK_USAGE, n - 1);
	assert_int_equal(total->total, 1);
	assert_int_equal(in, total->tokens_in);
	assert_int_equal(out, total->tokens_out);
	assert_int_equal(count(&run, WRK_TOOL_START), 1);
	run_free(&run);

	FIXTURE("retry.jsonl", &run);
	assert_int_equal(count(&run, WRK_LOG), 3);
	assert_string_equal(nth(&run, WRK_LOG, 2)->text,
			    "API error: server_error (500); retry 3 of 10");
	assert_int_equal(count(&run, WRK_FAIL), 0);
	run_free(&run);

	/* The CLI's own error message counts no tokens: no usage. */
	FIXTURE("overloaded.jsonl", &run);
	assert_int_equal(count(&run, WRK_USAGE), 1);
	assert_int_equal(nth(&run, WRK_USAGE, 0)->total, 1);
	run_free(&run);
}

/* Every fixture: decodable, every call ended once, a session (but where
 * the CLI refused to start). */
static void test_fixtures_all(void **state)
{
	char *dir_path = fixture_path("");
	DIR *dir = dir_path ? opendir(dir_path) : NULL;
	struct dirent *e;
	int seen = 0;

	(void)state;
	free(dir_path);
	if (!dir)
		skip();
	while ((e = readdir(dir))) {
		size_t n = strlen(e->d_name);
		struct run run;

		if (n < 6 || strcmp(e->d_name + n - 6, ".jsonl"))
			continue;
		assert_int_equal(parse_fixture(e->d_name, &run), 1);
		seen++;
		if (strcmp(e->d_name, "unknown-resume.jsonl"))
			assert_true(count(&run, WRK_SESSION) >= 1);
		assert_int_equal(count(&run, WRK_TOOL_START),
				 count(&run, WRK_TOOL_COMPLETE));
		run_free(&run);
	}
	closedir(dir);
	if (!seen)
		skip();
}

/* ---- the fast path against jansson ----------------------------------- */

/* The frames of TEXT (LEN bytes) fed whole, FAST path or not. */
static void frames_of(const char *text, size_t len, bool fast, int status,
		      struct wrk_buf *out)
{
	struct wrk_claude *c = wrk_claude_new(0, 0);

	assert_non_null(c);
	wrk_claude_set_fast(c, fast);
	assert_int_equal(wrk_claude_hello(c, 42, out), 0);
	assert_int_equal(wrk_claude_feed(c, text, len, out), 0);
	assert_int_equal(wrk_claude_end(c, status, out), 0);
	wrk_claude_free(c);
}

/* TEXT makes the same frames through both paths; WHAT names it. */
static void same_frames(const char *what, const char *text, size_t len,
			int status)
{
	struct wrk_buf fast = {0}, slow = {0};
	size_t i;

	frames_of(text, len, true, status, &fast);
	frames_of(text, len, false, status, &slow);
	for (i = 0; i < fast.len && i < slow.len; i++)
		if (fast.data[i] != slow.data[i])
			break;
	if (fast.len != slow.len || i < fast.len)
		fail_msg("%s: the fast path differs from jansson at byte %zu "
			 "(%zu and %zu bytes)",
			 what, i, fast.len, slow.len);
	wrk_buf_release(&fast);
	wrk_buf_release(&slow);
}

/* Every file of the directory PATH (relative to top_srcdir) through both
 * paths; how many. */
static int same_frames_dir(const char *path)
{
	const char *top = getenv("top_srcdir");
	char *dir_path, *file;
	struct dirent *e;
	int seen = 0;
	DIR *dir;

	assert_true(asprintf(&dir_path, "%s/%s", top ? top : "..", path) > 0);
	dir = opendir(dir_path);
	while (dir && (e = readdir(dir))) {
		FILE *f;
		char *text;
		long len;

		if (e->d_name[0] == '.')
			continue;
		assert_true(asprintf(&file, "%s/%s", dir_path, e->d_name) > 0);
		f = fopen(file, "rb");
		assert_non_null(f);
		fseek(f, 0, SEEK_END);
		len = ftell(f);
		fseek(f, 0, SEEK_SET);
		text = malloc((size_t)len + 1);
		assert_non_null(text);
		assert_int_equal(fread(text, 1, (size_t)len, f), (size_t)len);
		fclose(f);
		same_frames(file, text, (size_t)len, 0);
		same_frames(file, text, (size_t)len, 9 << 8);
		free(text);
		free(file);
		seen++;
	}
	if (dir)
		closedir(dir);
	free(dir_path);
	return seen;
}

static void test_fast_corpora(void **state)
{
	(void)state;
	if (!same_frames_dir("tests/fixtures/claude"))
		skip();
	assert_true(same_frames_dir("tests/fuzz/corpus/claude") > 0);
	same_frames_dir("tests/fuzz/regressions/claude");
}

/* The message of a user line completing call "a". */
#define USER_A                                                                 \
	"\"message\":{\"content\":[{\"type\":\"tool_result\","                 \
	"\"tool_use_id\":\"a\",\"content\":\"out\"}]}"

/* An assistant line starting call "c" with the input IN. */
#define ASSISTANT_IN(in)                                                       \
	"{\"type\":\"assistant\",\"message\":{\"content\":[{\"type\":"         \
	"\"tool_use\",\"id\":\"c\",\"name\":\"Bash\",\"input\":" in "}]}}"

/* Lines where a shortcut would go wrong, each after the start of calls
 * "a" and "b", so that their results count. */
static void test_fast_odd_lines(void **state)
{
	/* clang-format off */
	static const char *const lines[] = {
		/* what is not read is still checked */
		"{\"type\":\"user\",\"tool_use_result\":\"\\u0000\"," USER_A "}",
		"{\"type\":\"user\",\"tool_use_result\":\"\\ud800\"," USER_A "}",
		"{\"type\":\"user\",\"tool_use_result\":\"\\udc00x\"," USER_A "}",
		"{\"type\":\"user\",\"tool_use_result\":\"\\ud800\\u0041\"," USER_A "}",
		"{\"type\":\"user\",\"tool_use_result\":\"\\ud83d\\ude00\"," USER_A "}",
		"{\"type\":\"user\",\"tool_use_result\":\"\\x\"," USER_A "}",
		"{\"type\":\"user\",\"tool_use_result\":\"\xc3\x28\"," USER_A "}",
		"{\"type\":\"user\",\"tool_use_result\":\"\xed\xa0\x80\"," USER_A "}",
		"{\"type\":\"user\",\"tool_use_result\":\"\xf4\x90\x80\x80\"," USER_A "}",
		"{\"type\":\"user\",\"tool_use_result\":\"\xe0\x80\xaf\"," USER_A "}",
		"{\"type\":\"user\",\"tool_use_result\":\"a\tb\"," USER_A "}",
		"{\"type\":\"user\",\"tool_use_result\":123456789012345678901," USER_A "}",
		"{\"type\":\"user\",\"tool_use_result\":-9223372036854775809," USER_A "}",
		"{\"type\":\"user\",\"tool_use_result\":1e999," USER_A "}",
		"{\"type\":\"user\",\"tool_use_result\":1.5e-999," USER_A "}",
		"{\"type\":\"user\",\"tool_use_result\":[01]," USER_A "}",
		"{\"type\":\"user\",\"tool_use_result\":[1.]," USER_A "}",
		"{\"type\":\"user\",\"tool_use_result\":[-]," USER_A "}",
		"{\"type\":\"user\",\"tool_use_result\":[1,]," USER_A "}",
		"{\"type\":\"user\",\"tool_use_result\":{\"a\":1,}," USER_A "}",
		"{\"type\":\"user\",\"tool_use_result\":[truex]," USER_A "}",
		"{\"type\":\"user\",\"tool_use_result\":[nul]," USER_A "}",
		"{\"type\":\"user\",\"tool_use_result\":{\"\\u0000\":1}," USER_A "}",
		"{\"type\":\"user\"," USER_A "} x",
		"{\"type\":\"user\"," USER_A "}\t \r",
		" \t{\"type\":\"user\"," USER_A "}",
		"{\"type\":\"user\"," USER_A "}\f",
		/* keys and types spelled with escapes, given twice */
		"{\"t\\u0079pe\":\"\\u0075ser\"," USER_A "}",
		"{\"type\":\"assistant\",\"type\":\"user\"," USER_A "}",
		"{\"type\":\"user\",\"type\":\"system\"," USER_A "}",
		"{\"type\":\"user\",\"type\":1," USER_A "}",
		"{\"type\":\"user\",\"message\":{\"content\":[{\"type\":"
		"\"tool_result\",\"tool_use_id\":\"b\",\"content\":\"x\"}]},"
		"\"mess\\u0061ge\":{\"content\":[{\"type\":\"tool_result\","
		"\"tool_use_id\":\"a\",\"content\":\"y\"}]}}",
		"{\"type\":\"user\",\"message\":{\"content\":[{\"type\":"
		"\"tool_result\",\"tool_use_id\":\"a\",\"tool_use_id\":\"b\","
		"\"content\":[{\"type\":\"text\",\"text\":\"one\\n\\u00e9\"},"
		"{\"type\":\"image\",\"text\":\"no\"},{\"text\":\"no\"},"
		"{\"type\":\"text\",\"text\":\"two\",\"type\":\"x\"},\"s\",7,"
		"{\"type\":\"text\",\"text\":\"\\ud83d\\ude00 \\\"\\/\\b\\f\\r\\t\"}],"
		"\"is_error\":true}]}}",
		"{\"type\":\"user\",\"message\":{\"content\":[{\"type\":"
		"\"tool_result\",\"tool_use_id\":\"a\",\"content\":\"e\","
		"\"is_error\":\"true\"},{\"type\":\"tool_result\","
		"\"tool_use_id\":\"b\",\"is_error\":false,\"content\":null}]}}",
		/* members found by walking text checked before: quotes
		 * after runs of backslashes, odd and even, in keys and
		 * values; numbers and words that end a member */
		"{\"type\":\"user\",\"message\":{\"content\":[{\"x\\\\\":"
		"\"\\\\\\\"\",\"type\":\"tool_result\",\"n\":-1.5e3,\"t\":"
		"true,\"tool_use_id\":\"a\",\"content\":\"q\\\"\\\\\\\\\\\"\\\\\","
		"\"is_error\":false}]}}",
		"{\"type\":\"user\",\"message\":{\"content\":[{\"type\":"
		"\"tool_result\",\"tool_use_id\":\"a\",\"content\":[{\"text\":"
		"\"\\\\\",\"type\":\"text\"},{\"type\":\"text\",\"text\":"
		"\"}\\\"]\"}],\"is_error\":null}] , \"k\" : [ {} , [ ] ] }}",
		"{\"type\":\"user\",\"message\":{\"content\":\"text\"}}",
		"{\"type\":\"user\",\"message\":[1,2]}",
		"{\"type\":\"user\",\"message\":{\"content\":[{\"type\":"
		"\"tool_result\",\"tool_use_id\":7,\"content\":\"x\"}]}}",
		"{\"type\":\"user\",\"message\":{\"content\":[{\"type\":"
		"\"tool_result\",\"tool_use_id\":\"zz\",\"content\":\"x\"}]}}",
		/* system lines: ignored or not */
		"{\"type\":\"system\",\"subtype\":\"hook_response\",\"x\":[1]}",
		"{\"type\":\"system\",\"subtype\":\"api_\\u0072etry\","
		"\"error\":\"e\",\"attempt\":1,\"max_retries\":3}",
		"{\"type\":\"system\",\"subtype\":\"api_retry\","
		"\"subtype\":\"other\",\"error\":\"e\"}",
		"{\"type\":\"system\",\"subtype\":\"init\"}",
		"{\"type\":\"system\"}",
		"{\"type\":\"unknown\",\"message\":{}}",
		"{\"message\":{}}",
		"[1,2]",
		"\"user\"",
		"{}",
		"{\"type\":\"assistant\",\"message\":{\"id\":\"m\",\"content\":"
		"[{\"type\":\"tool_use\",\"id\":\"c\",\"name\":\"Bash\","
		"\"input\":{ \"b\" : 1.50, \"a\":[\"\\u00e9\\/\"] }}],"
		"\"usage\":{\"input_tokens\":3,\"output_tokens\":-1}},"
		"\"parent_tool_use_id\":\"a\",\"session_id\":\"s\"}",
		/* tool_use inputs: sent as they are, or rewritten */
		ASSISTANT_IN("{\"a\":\"x\\ny\\\"\\\\\\t\\b\\f\\r\"}"),
		ASSISTANT_IN("{\"a\":\"x\\/y\"}"),
		ASSISTANT_IN("{\"a\":\"\\u001b[0m\"}"),
		ASSISTANT_IN("{\"a\":\"\\u001B\\u00e9\"}"),
		ASSISTANT_IN("{\"a\":-0,\"b\":[0,-1,12]}"),
		ASSISTANT_IN("{\"a\":1.5}"),
		ASSISTANT_IN("{\"a\":1e2}"),
		ASSISTANT_IN("{\"a\":1,\"a\":2}"),
		ASSISTANT_IN("{\"a\":{\"b\":1,\"c\":{\"b\":1,\"b\":[]}}}"),
		ASSISTANT_IN("{\"a\":1,\"\\u0061\":2}"),
		ASSISTANT_IN("{\"a\":[{},[],null,true,false,\"\"]}"),
		ASSISTANT_IN("{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,"
			     "\"f\":6,\"g\":7,\"h\":8,\"i\":9,\"j\":10,"
			     "\"k\":11,\"l\":12,\"m\":13,\"n\":14,\"o\":15,"
			     "\"p\":16,\"q\":17}"),
		ASSISTANT_IN("\"just a string\""),
		ASSISTANT_IN("null"),
		ASSISTANT_IN("[1, 2]"),
		ASSISTANT_IN("\"\u00e9Ã©\""),
		"{\"type\":\"assistant\",\"message\":{\"id\":\"m2\",\"content\":"
		"[{\"type\":\"tool_use\",\"id\":\"c\",\"input\":{}},"
		"{\"type\":\"tool_use\",\"name\":\"X\"},"
		"{\"type\":\"tool_use\",\"id\":\"a\",\"name\":\"X\"},"
		"{\"type\":\"tool_use\",\"id\":\"d\",\"name\":\"X\"},"
		"{\"type\":\"tool_use\",\"id\":\"d\",\"name\":\"Y\"},"
		"{\"type\":\"tool_use\",\"id\":\"e\",\"id\":\"f\","
		"\"name\":\"X\",\"input\":1,\"input\":[2]},"
		"\"tool_use\",{\"type\":\"text\",\"text\":\"hi\"}],"
		"\"usage\":{\"input_tokens\":2.5,\"output_tokens\":1e1,"
		"\"cache_read_input_tokens\":-0,"
		"\"cache_creation_input_tokens\":7,\"input_tokens\":4}},"
		"\"parent_tool_use_id\":\"b\",\"parent_tool_use_id\":\"zz\"}",
		"{\"type\":\"assistant\",\"message\":{\"id\":\"m\",\"usage\":"
		"{\"input_tokens\":5}}}",
		"{\"type\":\"assistant\",\"message\":{\"usage\":"
		"{\"input_tokens\":5}}}",
		"{\"type\":\"assistant\",\"message\":{\"id\":7,\"usage\":[1]}}",
		"{\"type\":\"assistant\",\"message\":\"m\",\"message\":"
		"{\"id\":\"m3\",\"usage\":{\"output_tokens\":5}}}",
		"{\"type\":\"assistant\",\"message\":[]}",
		"{\"type\":\"stream_event\",\"api_message_id\":\"m\",\"event\":"
		"{\"type\":\"message_delta\",\"usage\":{\"output_tokens\":9}}}",
	};
	/* clang-format on */
	static const char start[] =
		"{\"type\":\"assistant\",\"message\":{\"id\":\"m\",\"content\":"
		"[{\"type\":\"tool_use\",\"id\":\"a\",\"name\":\"Bash\","
		"\"input\":{}},{\"type\":\"tool_use\",\"id\":\"b\",\"name\":"
		"\"Read\",\"input\":{}}],\"usage\":{\"output_tokens\":1}}}\n";
	size_t i, n;
	char *text;

	(void)state;
	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		n = strlen(start) + strlen(lines[i]) + 1;
		text = malloc(n + 1);
		assert_non_null(text);
		snprintf(text, n + 1, "%s%s\n", start, lines[i]);
		same_frames(lines[i], text, n, 0);
		same_frames(lines[i], text, n - 1, 0); /* the last line */
		free(text);
	}
}

/* jscan_decode() gives what jansson gives, and refuses what it refuses. */
static void test_jscan_strings(void **state)
{
	static const char *const texts[] = {
		"",
		"plain ascii, long enough to take words",
		"\\\"\\\\\\/",
		"\\b\\f\\n\\r\\t",
		"\\u00e9\\u00E9\\u20ac",
		"\\ud83d\\ude00",
		"\\uD83D\\uDE00x",
		"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",
		"\\u0000",
		"\\ud800",
		"\\udc00",
		"\\ud800\\ud800",
		"\\ud800\\u0041",
		"\\ud800x",
		"\\u12",
		"\\u12g4",
		"\\x",
		"\\",
		"a\"b",
		"\x01",
		"\x7f",
		"\xc0\x80",
		"\xc2",
		"\xe0\x80\x80",
		"\xed\xa0\x80",
		"\xf4\x90\x80\x80",
		"\xf5\x80\x80\x80",
		"\xff",
		/* One string, cut so that \xa9 ends its escape. */
		("12345678\\n12345678\xc3\xa9"
		 "12345678"),
	};
	size_t i, len;

	(void)state;
	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		size_t n = strlen(texts[i]);
		char *doc = malloc(n + 5), *buf = malloc(n + 1);
		json_t *j;
		int r;

		assert_non_null(doc);
		assert_non_null(buf);
		snprintf(doc, n + 5, "[\"%s\"]", texts[i]);
		j = json_loadb(doc, n + 4, 0, NULL);
		r = jscan_decode((struct jscan_slice){texts[i], n}, buf, &len);
		if (!j) {
			if (r == 0)
				fail_msg("jscan takes '%s', jansson not",
					 texts[i]);
		} else {
			if (r != 0)
				fail_msg("jansson takes '%s', jscan not",
					 texts[i]);
			assert_int_equal(
				len, json_string_length(json_array_get(j, 0)));
			assert_memory_equal(
				buf, json_string_value(json_array_get(j, 0)),
				len);
		}
		json_decref(j);
		free(doc);
		free(buf);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_session),
		cmocka_unit_test(test_one_tool),
		cmocka_unit_test(test_stream_event),
		cmocka_unit_test(test_parallel_tools),
		cmocka_unit_test(test_subagent),
		cmocka_unit_test(test_tool_errors),
		cmocka_unit_test(test_failures),
		cmocka_unit_test(test_end_without_result),
		cmocka_unit_test(test_not_json),
		cmocka_unit_test(test_line_max),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_any_cut),
		cmocka_unit_test(test_fixture_one_tool),
		cmocka_unit_test(test_fixture_parallel),
		cmocka_unit_test(test_fixture_subagents),
		cmocka_unit_test(test_fixture_failures),
		cmocka_unit_test(test_fixture_tool_errors),
		cmocka_unit_test(test_fixture_usage),
		cmocka_unit_test(test_fixtures_all),
		cmocka_unit_test(test_fast_corpora),
		cmocka_unit_test(test_fast_odd_lines),
		cmocka_unit_test(test_jscan_strings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
