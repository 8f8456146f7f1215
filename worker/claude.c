/*
 * claude.c - the output of `claude -p --output-format stream-json --verbose`
 * turned into protocol messages, so that an unmodified Claude Code CLI is a
 * smithers agent. The worker feeds us its stdout; we never see its pipes.
 *
 * One line holds one JSON object; its "type" says what it is:
 *  - system/init: the session -> `session` {id, model, version, tools};
 *    system/api_retry: a `log` warning, and the error is remembered for
 *    the `fail` of a stream that ends without a result;
 *  - assistant: message.content[] tool_use blocks -> `tool.start` {call: a
 *    counter, tool, input, ref: the tool_use id, parent: the call of the
 *    line's parent_tool_use_id (a subagent's calls run inside its Task)};
 *    message.usage -> one `usage` increment per message.id (an API
 *    response comes as several lines with the same id and usage: that of
 *    its start, whose output tokens are not the final ones);
 *  - stream_event (--include-partial-messages): a message_delta's final
 *    output tokens add what its message's first count lacked;
 *  - user: message.content[] tool_result blocks -> `tool.complete` of the
 *    call with that tool_use_id, in whatever order they come;
 *  - result: `usage` with the totals (modelUsage, which counts subagents,
 *    over usage), `result` {text, json: what the run says of itself}, and
 *    `fail` when it did not succeed.
 * Other types are ignored; a line that is not JSON, a tool_result of an
 * unknown call, a line too long become `log` messages, never errors: the
 * agent's stream is untrusted text and the run goes on. At the end of the
 * output, calls still running fail ("interrupted") and a stream without a
 * `result` line fails saying how the agent ended.
 *
 * Lines are read as jansson parses them (the on_* functions here), or,
 * for the big ones, by the fast path of claude-scan.c, which reads the
 * same members the same way and makes the same frames through the same
 * functions (claude-int.h).
 *
 * The lines, the frames, the calls and the end of the stream are the
 * adapter layer's (worker/adapter.c): at most line_max bytes of a line
 * are buffered, every frame fits in frame_max. Every string sent is valid
 * UTF-8 without NUL (jansson guarantees it for what
 * it parsed, jscan for what it took, refusing what jansson refuses; raw
 * bytes are made printable first), so the supervisor's decoder never
 * refuses what we send.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "worker/claude-int.h"
#include "worker/claude-text.h"
#include "worker/claude.h"
#include "worker/frame.h"
#include "worker/text.h"

static bool claude_line(struct wrk_parser *p, const char *s, size_t n);
static void claude_end(struct wrk_parser *p, int status);
static void claude_release(struct wrk_parser *p);

static const struct wrk_adapter_ops claude_ops = {
	.start_noun = "tool_use",
	.complete_noun = "tool_result",
	.line = claude_line,
	.end = claude_end,
	.release = claude_release,
};

struct wrk_claude *wrk_claude_new(size_t line_max, size_t frame_max)
{
	struct wrk_claude *c = calloc(1, sizeof(*c));

	if (!c)
		goto nomem;
	if (wrk_adapter_init(&c->p, &claude_ops, line_max, frame_max) < 0)
		goto nomem;
	c->messages = json_object();
	if (!c->messages)
		goto nomem;
	return c;
nomem:
	wrk_claude_free(c);
	errno = ENOMEM;
	return NULL;
}

static void claude_release(struct wrk_parser *p)
{
	struct wrk_claude *c = (struct wrk_claude *)p;

	json_decref(c->messages);
	wrk_buf_release(&c->slim);
}

void wrk_claude_free(struct wrk_claude *c)
{
	wrk_parser_free(c ? &c->p : NULL);
}

struct wrk_parser *wrk_claude_parser(struct wrk_claude *c)
{
	return &c->p;
}

void wrk_claude_set_fast(struct wrk_claude *c, bool fast)
{
	c->slow = !fast;
}

/* ---- what each line becomes ------------------------------------------ */

static void on_init(struct wrk_claude *c, const json_t *j)
{
	struct wrk_msg m = {.type = WRK_SESSION};
	json_t *tools = json_object_get(j, "tools");
	char *text = NULL;

	m.session_id = wrk_json_str(j, "session_id");
	if (!m.session_id) {
		wrk_adapter_log(&c->p, "warn",
				"init line %" PRIu64 " has no session_id",
				c->p.lines + 1);
		return;
	}
	m.model = wrk_json_str(j, "model");
	m.agent_version = wrk_json_str(j, "claude_code_version");
	if (json_is_array(tools))
		text = json_dumps(tools, JSON_COMPACT);
	m.json = text;
	if (wrk_adapter_emit(&c->p, &m) == 1) {
		m.json = NULL; /* a list of tools that big: keep the rest */
		if (wrk_adapter_emit(&c->p, &m) == 1)
			wrk_adapter_log(&c->p, "error",
					"session too large for a frame");
	}
	free(text);
}

/* The CLI retries a failed API request: say so, remember the error. */
static void on_api_retry(struct wrk_claude *c, const json_t *j)
{
	const json_t *status = json_object_get(j, "error_status");
	const char *error = wrk_json_str(j, "error");
	char what[100];

	wrk_text_printable(what, sizeof(what) - 4, error ? error : "unknown",
			   error ? strlen(error) : 7);
	if (json_is_integer(status))
		snprintf(c->api_error, sizeof(c->api_error), "%s (%" PRId64 ")",
			 what, (int64_t)json_integer_value(status));
	else
		snprintf(c->api_error, sizeof(c->api_error), "%s", what);
	wrk_adapter_log(
		&c->p, "warn", "API error: %s; retry %" PRId64 " of %" PRId64,
		c->api_error,
		(int64_t)json_integer_value(json_object_get(j, "attempt")),
		(int64_t)json_integer_value(json_object_get(j, "max_retries")));
}

static void start_call(struct wrk_claude *c, const json_t *block,
		       uint64_t parent)
{
	const char *ref = wrk_json_str(block, "id"),
		   *tool = wrk_json_str(block, "name");
	json_t *input = json_object_get(block, "input");
	char *text = NULL;

	if (!wrk_claude_call_new(c, ref, tool))
		return;
	if (input)
		text = json_dumps(input, JSON_COMPACT | JSON_ENCODE_ANY);
	wrk_adapter_call_start(&c->p, ref, tool, text, parent);
	free(text);
}

static void on_assistant(struct wrk_claude *c, const json_t *j)
{
	const json_t *msg = json_object_get(j, "message");
	const json_t *content = json_object_get(msg, "content");
	const json_t *usage = json_object_get(msg, "usage");
	const char *id = wrk_json_str(msg, "id");
	uint64_t parent = wrk_adapter_call_of(
		c->p.calls, wrk_json_str(j, "parent_tool_use_id"));
	struct wrk_msg m = {.type = WRK_USAGE};
	size_t i;

	for (i = 0; i < json_array_size(content); i++) {
		const json_t *block = json_array_get(content, i);
		const char *type = wrk_json_str(block, "type");

		if (type && !strcmp(type, "tool_use"))
			start_call(c, block, parent);
	}
	if (!json_is_object(usage) || (id && json_object_get(c->messages, id)))
		return;
	m.tokens_in = wrk_json_count(usage, "input_tokens");
	m.tokens_out = wrk_json_count(usage, "output_tokens");
	if (id &&
	    json_object_set_new(c->messages, id,
				json_integer((json_int_t)m.tokens_out)) < 0) {
		c->p.err = ENOMEM;
		return;
	}
	m.cache_read = wrk_json_count(usage, "cache_read_input_tokens");
	m.cache_write = wrk_json_count(usage, "cache_creation_input_tokens");
	if (m.tokens_in || m.tokens_out || m.cache_read || m.cache_write)
		wrk_adapter_emit(&c->p,
				 &m); /* not the CLI's own error messages */
}

/* The text of a tool_result's content: a string, or its text blocks
 * joined with newlines, into B (NUL-terminated). 0, or -1 ENOMEM. */
static int result_text(const json_t *content, struct wrk_buf *b)
{
	size_t i, n = 0;

	if (json_is_string(content))
		return wrk_buf_add(b, json_string_value(content),
				   json_string_length(content)) < 0 ||
				       wrk_buf_addc(b, '\0') < 0
			       ? -1
			       : 0;
	for (i = 0; i < json_array_size(content); i++) {
		const json_t *block = json_array_get(content, i);
		const json_t *text = json_object_get(block, "text");
		const char *type = wrk_json_str(block, "type");

		if (!type || strcmp(type, "text") || !json_is_string(text))
			continue;
		if ((n++ && wrk_buf_addc(b, '\n') < 0) ||
		    wrk_buf_add(b, json_string_value(text),
				json_string_length(text)) < 0)
			return -1;
	}
	return wrk_buf_addc(b, '\0');
}

static void complete_call(struct wrk_claude *c, const json_t *block)
{
	const char *ref = wrk_json_str(block, "tool_use_id");
	struct wrk_buf text = {0};
	uint64_t call = wrk_claude_result_call(c, ref);

	if (!call)
		return;
	if (result_text(json_object_get(block, "content"), &text) < 0) {
		c->p.err = ENOMEM;
		wrk_buf_release(&text);
		return;
	}
	wrk_claude_result_emit(
		c, ref, call, &text,
		json_is_true(json_object_get(block, "is_error")));
}

static void on_user(struct wrk_claude *c, const json_t *j)
{
	const json_t *content =
		json_object_get(json_object_get(j, "message"), "content");
	size_t i;

	for (i = 0; i < json_array_size(content); i++) {
		const json_t *block = json_array_get(content, i);
		const char *type = wrk_json_str(block, "type");

		if (type && !strcmp(type, "tool_result"))
			complete_call(c, block);
	}
}

/* The totals of a result line: modelUsage's sums (subagents included)
 * when it has any, else its usage. */
static void result_usage(struct wrk_claude *c, const json_t *j)
{
	struct wrk_msg m = {.type = WRK_USAGE, .total = 1};
	const json_t *models = json_object_get(j, "modelUsage");
	const json_t *usage = json_object_get(j, "usage");
	const json_t *cost = json_object_get(j, "total_cost_usd");
	json_t *v;
	void *it;

	if (json_is_number(cost)) {
		m.cost = json_number_value(cost);
		m.has_cost = 1;
	}
	if (json_object_size(models) > 0) {
		for (it = json_object_iter((json_t *)models); it;
		     it = json_object_iter_next((json_t *)models, it)) {
			v = json_object_iter_value(it);
			m.tokens_in = wrk_count_add(
				m.tokens_in, wrk_json_count(v, "inputTokens"));
			m.tokens_out = wrk_count_add(
				m.tokens_out,
				wrk_json_count(v, "outputTokens"));
			m.cache_read = wrk_count_add(
				m.cache_read,
				wrk_json_count(v, "cacheReadInputTokens"));
			m.cache_write = wrk_count_add(
				m.cache_write,
				wrk_json_count(v, "cacheCreationInputTokens"));
		}
	} else if (json_is_object(usage)) {
		m.tokens_in = wrk_json_count(usage, "input_tokens");
		m.tokens_out = wrk_json_count(usage, "output_tokens");
		m.cache_read = wrk_json_count(usage, "cache_read_input_tokens");
		m.cache_write =
			wrk_json_count(usage, "cache_creation_input_tokens");
	} else if (!m.has_cost) {
		return; /* nothing to say: what was counted stands */
	}
	wrk_adapter_emit(&c->p, &m);
}

static void on_result(struct wrk_claude *c, const json_t *j)
{
	static const char *const keys[] = {
		"subtype",     "is_error",	     "num_turns",
		"duration_ms", "duration_api_ms",    "terminal_reason",
		"stop_reason", "permission_denials", "api_error_status",
		"session_id",
	};
	struct wrk_msg m = {.type = WRK_RESULT};
	const char *subtype = wrk_json_str(j, "subtype");
	json_t *summary = json_object();
	char *json = NULL, error[WRK_CLAUDE_ERROR_MAX + 128];
	size_t i;
	int r;

	c->result_seen = true;
	result_usage(c, j);
	for (i = 0; summary && i < sizeof(keys) / sizeof(keys[0]); i++) {
		json_t *v = json_object_get(j, keys[i]);

		if (v && !json_is_null(v))
			json_object_set(summary, keys[i], v);
	}
	if (summary)
		json = json_dumps(summary, JSON_COMPACT);
	json_decref(summary);
	m.text = wrk_json_str(j, "result");
	m.json = json;
	r = wrk_adapter_emit_cut(&c->p, &m, &m.text, NULL,
				 m.text ? strlen(m.text) : 0, "result");
	if (r == 1) {
		m.json = NULL; /* a huge list of permission denials */
		r = wrk_adapter_emit_cut(&c->p, &m, &m.text, NULL,
					 m.text ? strlen(m.text) : 0, "result");
		if (r == 1)
			wrk_adapter_log(&c->p, "error",
					"result too large for a frame");
	}
	free(json);
	if ((subtype && strcmp(subtype, "success")) ||
	    json_is_true(json_object_get(j, "is_error"))) {
		wrk_claude_fail_reason(j, error, sizeof(error));
		m = (struct wrk_msg){.type = WRK_FAIL, .error = error};
		wrk_adapter_emit(&c->p, &m);
	}
}

/* What a line of the CLI's says, parsed by jansson. */
static void on_line(struct wrk_claude *c, const json_t *j)
{
	const char *type = wrk_json_str(j, "type"),
		   *subtype = wrk_json_str(j, "subtype");

	if (!type) {
		/* not a message of the CLI's: ignored */
	} else if (!strcmp(type, "system")) {
		if (subtype && !strcmp(subtype, "init"))
			on_init(c, j);
		else if (subtype && !strcmp(subtype, "api_retry"))
			on_api_retry(c, j);
	} else if (!strcmp(type, "assistant")) {
		on_assistant(c, j);
	} else if (!strcmp(type, "user")) {
		on_user(c, j);
	} else if (!strcmp(type, "result")) {
		on_result(c, j);
	} else if (!strcmp(type, "stream_event")) {
		wrk_claude_on_stream_event(c, j);
	}
}

/* One whole line, S (N bytes, no newline, not blank): false when it is
 * not JSON. */
static bool claude_line(struct wrk_parser *p, const char *s, size_t n)
{
	struct wrk_claude *c = (struct wrk_claude *)p;
	json_t *j;
	size_t i;

	for (i = 0; i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r');)
		i++;
	if (!c->slow && wrk_claude_parse_fast(c, s + i, n - i))
		return true;
	j = json_loadb(s, n, 0, NULL);
	if (!j)
		return false;
	on_line(c, j);
	json_decref(j);
	return true;
}

/* Without a `result` line: `fail`, with the last API error retried. */
static void claude_end(struct wrk_parser *p, int status)
{
	struct wrk_claude *c = (struct wrk_claude *)p;
	char note[sizeof(c->api_error) + 32];

	if (c->result_seen)
		return;
	note[0] = '\0';
	if (c->api_error[0])
		snprintf(note, sizeof(note), "last API error: %s",
			 c->api_error);
	wrk_adapter_ended(p, status, "ended without a result", note);
}

/* ---- the API ---------------------------------------------------------- */

int wrk_claude_hello(struct wrk_claude *c, int64_t pid, struct wrk_buf *out)
{
	return wrk_parser_hello(&c->p, pid, out);
}

int wrk_claude_feed(struct wrk_claude *c, const void *data, size_t len,
		    struct wrk_buf *out)
{
	return wrk_parser_feed(&c->p, data, len, out);
}

int wrk_claude_end(struct wrk_claude *c, int status, struct wrk_buf *out)
{
	return wrk_parser_end(&c->p, status, out);
}
