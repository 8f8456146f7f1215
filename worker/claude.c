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
 * Invariants: at most line_max bytes of a line are buffered (a longer line
 * is dropped up to its newline); every frame fits in frame_max (long
 * outputs and results are cut at a UTF-8 boundary, with a note); every
 * string sent is valid UTF-8 without NUL (jansson guarantees it for what
 * it parsed, jscan for what it took, refusing what jansson refuses; raw
 * bytes are made printable first), so the supervisor's decoder never
 * refuses what we send.
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <jansson.h>

#include "common/units.h"
#include "worker/claude.h"
#include "worker/claude-text.h"
#include "worker/frame.h"
#include "worker/jscan.h"

/* Bytes of a line that is not JSON shown in its log message. */
#define SHOWN_MAX 200

struct wrk_claude {
	size_t line_max, frame_max;
	uint64_t seq;	     /* of the last frame made */
	uint64_t last_call;  /* the last call id given */
	uint64_t lines;	     /* newlines seen */
	struct wrk_buf line; /* the current line, when it spans feeds */
	bool skipping;	     /* the current line is too long: to its newline */
	bool hello_sent, ended, result_seen;
	bool slow;	     /* no fast path: jansson reads every line whole */
	struct wrk_buf slim; /* a line without the members never read */
	json_t *calls;	     /* tool_use id -> call: every call started */
	json_t *open;	     /* tool_use id -> call: those still running */
	json_t *messages;    /* message id -> its output tokens counted */
	char api_error[160]; /* the last API error retried; "": none */
	/* The last line that was not JSON (the CLI's stderr shares the
	 * pipe), printable: what a CLI that ended without a result said. */
	char said[SHOWN_MAX + 8];
	/* During one call of the API: */
	struct wrk_buf *out;
	int err; /* the errno that lost a message (ENOMEM) */
};

struct wrk_claude *wrk_claude_new(size_t line_max, size_t frame_max)
{
	struct wrk_claude *c = calloc(1, sizeof(*c));

	if (!c)
		goto nomem;
	c->line_max = line_max ? line_max : WRK_CLAUDE_LINE_MAX;
	c->frame_max = frame_max && frame_max < WRK_FRAME_MAX ? frame_max
							      : WRK_FRAME_MAX;
	c->calls = json_object();
	c->open = json_object();
	c->messages = json_object();
	if (!c->calls || !c->open || !c->messages)
		goto nomem;
	return c;
nomem:
	wrk_claude_free(c);
	errno = ENOMEM;
	return NULL;
}

void wrk_claude_free(struct wrk_claude *c)
{
	if (!c)
		return;
	json_decref(c->calls);
	json_decref(c->open);
	json_decref(c->messages);
	wrk_buf_release(&c->line);
	wrk_buf_release(&c->slim);
	free(c);
}

void wrk_claude_set_fast(struct wrk_claude *c, bool fast)
{
	c->slow = !fast;
}

/* ---- frames out ------------------------------------------------------- */

/* Append M with the next seq: 0, 1 when it does not fit in a frame (OUT
 * unchanged), -1 when it cannot be encoded (c->err set). */
static int try_emit(struct wrk_claude *c, struct wrk_msg *m)
{
	size_t start = c->out->len;

	m->seq = c->seq + 1;
	if (wrk_encode(c->out, m) < 0) {
		if (errno == ERANGE)
			return 1;
		c->err = errno;
		return -1;
	}
	if (c->out->len - start - WRK_HEADER_LEN > c->frame_max) {
		c->out->len = start;
		return 1;
	}
	c->seq++;
	return 0;
}

__attribute__((format(printf, 3, 4))) static void
emit_log(struct wrk_claude *c, const char *level, const char *fmt, ...)
{
	struct wrk_msg m = {.type = WRK_LOG, .level = level};
	char text[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(text))
		wrk_text_trim(text);
	m.text = text;
	try_emit(c, &m); /* a log that does not fit is not worth more */
}

/*
 * Append M, whose member *SLOT holds LEN bytes (*LENP too, for an output),
 * cut at a UTF-8 boundary with a note saying so when the whole does not fit
 * in a frame; WHAT names it in the note. 0, 1 when even the note does not
 * fit (nothing appended), -1 on error.
 */
static int emit_cut(struct wrk_claude *c, struct wrk_msg *m, const char **slot,
		    size_t *lenp, size_t len, const char *what)
{
	const char *whole = *slot;
	struct wrk_buf probe = {0};
	char note[200];
	size_t base, keep, n;
	char *cut;
	int r;

	r = try_emit(c, m);
	if (r != 1 || !whole)
		return r;
	/* The frame without the text, then what is left for it. */
	*slot = "";
	if (lenp)
		*lenp = 0;
	r = wrk_encode(&probe, m);
	base = probe.len - WRK_HEADER_LEN;
	wrk_buf_release(&probe);
	n = (size_t)snprintf(note, sizeof(note),
			     "\n[smithers: %s truncated: %zu of %zu bytes "
			     "kept; the whole stream is in the agent's log]",
			     what, (size_t)0, len);
	/* 5: the largest str header; 20: the note's count growing. */
	if (r < 0 || base + 5 + n + 20 > c->frame_max) {
		*slot = whole;
		return r < 0 && errno != ERANGE ? (c->err = errno, -1) : 1;
	}
	keep = c->frame_max - base - 5 - n - 20;
	keep = wrk_text_cut(whole, keep < len ? keep : len);
	n = (size_t)snprintf(note, sizeof(note),
			     "\n[smithers: %s truncated: %zu of %zu bytes "
			     "kept; the whole stream is in the agent's log]",
			     what, keep, len);
	cut = malloc(keep + n + 1);
	if (!cut) {
		*slot = whole;
		c->err = ENOMEM;
		return -1;
	}
	memcpy(cut, whole, keep);
	memcpy(cut + keep, note, n + 1);
	*slot = cut;
	if (lenp)
		*lenp = keep + n;
	r = try_emit(c, m);
	free(cut);
	*slot = whole;
	if (lenp)
		*lenp = len;
	return r;
}

/* ---- reading the JSON ------------------------------------------------- */

static const char *str_of(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* A token count: a non-negative integer, else 0. */
static uint64_t count_of(const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_integer(v) && json_integer_value(v) > 0
		       ? (uint64_t)json_integer_value(v)
		       : 0;
}

/* A + B, at most INT64_MAX (what the protocol takes). */
static uint64_t add_count(uint64_t a, uint64_t b)
{
	return b > (uint64_t)INT64_MAX - a ? (uint64_t)INT64_MAX : a + b;
}

/* The call that tool_use id REF (may be NULL) started in MAP; 0: none. */
static uint64_t call_of(json_t *map, const char *ref)
{
	json_t *v = ref ? json_object_get(map, ref) : NULL;

	return json_is_integer(v) ? (uint64_t)json_integer_value(v) : 0;
}

/* ---- what each line becomes ------------------------------------------ */

static void on_init(struct wrk_claude *c, const json_t *j)
{
	struct wrk_msg m = {.type = WRK_SESSION};
	json_t *tools = json_object_get(j, "tools");
	char *text = NULL;

	m.session_id = str_of(j, "session_id");
	if (!m.session_id) {
		emit_log(c, "warn", "init line %" PRIu64 " has no session_id",
			 c->lines + 1);
		return;
	}
	m.model = str_of(j, "model");
	m.agent_version = str_of(j, "claude_code_version");
	if (json_is_array(tools))
		text = json_dumps(tools, JSON_COMPACT);
	m.json = text;
	if (try_emit(c, &m) == 1) {
		m.json = NULL; /* a list of tools that big: keep the rest */
		if (try_emit(c, &m) == 1)
			emit_log(c, "error", "session too large for a frame");
	}
	free(text);
}

/* The CLI retries a failed API request: say so, remember the error. */
static void on_api_retry(struct wrk_claude *c, const json_t *j)
{
	const json_t *status = json_object_get(j, "error_status");
	const char *error = str_of(j, "error");
	char what[100];

	wrk_text_printable(what, sizeof(what) - 4, error ? error : "unknown",
			   error ? strlen(error) : 7);
	if (json_is_integer(status))
		snprintf(c->api_error, sizeof(c->api_error), "%s (%" PRId64 ")",
			 what, (int64_t)json_integer_value(status));
	else
		snprintf(c->api_error, sizeof(c->api_error), "%s", what);
	emit_log(
		c, "warn", "API error: %s; retry %" PRId64 " of %" PRId64,
		c->api_error,
		(int64_t)json_integer_value(json_object_get(j, "attempt")),
		(int64_t)json_integer_value(json_object_get(j, "max_retries")));
}

/* A tool_use block with the id REF and the name TOOL (may be NULL) starts
 * a call: false, with a log, when it lacks them, or when it was seen. */
static bool call_new(struct wrk_claude *c, const char *ref, const char *tool)
{
	if (!ref || !tool) {
		emit_log(c, "warn",
			 "line %" PRIu64 ": tool_use without an id or a name: "
			 "ignored",
			 c->lines + 1);
		return false;
	}
	return !json_object_get(c->calls, ref); /* the same block again */
}

/* Start the call REF of TOOL with the input INPUT (compact JSON; NULL:
 * none), inside the call PARENT (0: none). */
static void call_emit(struct wrk_claude *c, const char *ref, const char *tool,
		      const char *input, uint64_t parent)
{
	struct wrk_msg m = {.type = WRK_TOOL_START};
	char note[200];
	json_t *id;
	int r;

	m.ref = ref;
	m.tool = tool;
	m.json = input;
	m.call = c->last_call + 1;
	m.parent = parent;
	r = try_emit(c, &m);
	if (r == 1) {
		snprintf(note, sizeof(note),
			 "\"[smithers: input of %zu bytes not kept: too large "
			 "for a frame; the whole stream is in the agent's "
			 "log]\"",
			 input ? strlen(input) : 0);
		m.json = note;
		r = try_emit(c, &m);
		if (r == 1)
			emit_log(c, "error",
				 "line %" PRIu64 ": tool_use too large for a "
				 "frame: ignored",
				 c->lines + 1);
	}
	if (r != 0)
		return;
	c->last_call = m.call;
	id = json_integer((json_int_t)m.call);
	if (!id || json_object_set(c->calls, m.ref, id) < 0 ||
	    json_object_set(c->open, m.ref, id) < 0)
		c->err = ENOMEM;
	json_decref(id);
}

static void start_call(struct wrk_claude *c, const json_t *block,
		       uint64_t parent)
{
	const char *ref = str_of(block, "id"), *tool = str_of(block, "name");
	json_t *input = json_object_get(block, "input");
	char *text = NULL;

	if (!call_new(c, ref, tool))
		return;
	if (input)
		text = json_dumps(input, JSON_COMPACT | JSON_ENCODE_ANY);
	call_emit(c, ref, tool, text, parent);
	free(text);
}

static void on_assistant(struct wrk_claude *c, const json_t *j)
{
	const json_t *msg = json_object_get(j, "message");
	const json_t *content = json_object_get(msg, "content");
	const json_t *usage = json_object_get(msg, "usage");
	const char *id = str_of(msg, "id");
	uint64_t parent = call_of(c->calls, str_of(j, "parent_tool_use_id"));
	struct wrk_msg m = {.type = WRK_USAGE};
	size_t i;

	for (i = 0; i < json_array_size(content); i++) {
		const json_t *block = json_array_get(content, i);
		const char *type = str_of(block, "type");

		if (type && !strcmp(type, "tool_use"))
			start_call(c, block, parent);
	}
	if (!json_is_object(usage) || (id && json_object_get(c->messages, id)))
		return;
	m.tokens_in = count_of(usage, "input_tokens");
	m.tokens_out = count_of(usage, "output_tokens");
	if (id &&
	    json_object_set_new(c->messages, id,
				json_integer((json_int_t)m.tokens_out)) < 0) {
		c->err = ENOMEM;
		return;
	}
	m.cache_read = count_of(usage, "cache_read_input_tokens");
	m.cache_write = count_of(usage, "cache_creation_input_tokens");
	if (m.tokens_in || m.tokens_out || m.cache_read || m.cache_write)
		try_emit(c, &m); /* not the CLI's own error messages */
}

/* With --include-partial-messages: the final output tokens of a message
 * whose first figure (message_start's) was counted; the difference. */
static void on_stream_event(struct wrk_claude *c, const json_t *j)
{
	const json_t *event = json_object_get(j, "event");
	const char *type = str_of(event, "type");
	const char *id = str_of(j, "api_message_id");
	uint64_t out =
		count_of(json_object_get(event, "usage"), "output_tokens");
	uint64_t counted = call_of(c->messages, id);
	struct wrk_msg m = {.type = WRK_USAGE};

	if (!type || strcmp(type, "message_delta") || !id ||
	    !json_object_get(c->messages, id) || out <= counted)
		return;
	if (json_object_set_new(c->messages, id,
				json_integer((json_int_t)out)) < 0) {
		c->err = ENOMEM;
		return;
	}
	m.tokens_out = out - counted;
	try_emit(c, &m);
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
		const char *type = str_of(block, "type");

		if (!type || strcmp(type, "text") || !json_is_string(text))
			continue;
		if ((n++ && wrk_buf_addc(b, '\n') < 0) ||
		    wrk_buf_add(b, json_string_value(text),
				json_string_length(text)) < 0)
			return -1;
	}
	return wrk_buf_addc(b, '\0');
}

/* The call that the tool_result for REF (may be NULL) completes; 0, and a
 * log saying why, when none is running. */
static uint64_t result_call(struct wrk_claude *c, const char *ref)
{
	char shown[SHOWN_MAX + 8];
	uint64_t call = call_of(c->open, ref);

	if (call)
		return call;
	wrk_text_printable(shown, SHOWN_MAX, ref ? ref : "",
			   ref ? strlen(ref) : 0);
	emit_log(c, "warn",
		 "line %" PRIu64 ": tool_result for %s tool_use_id '%s': "
		 "ignored",
		 c->lines + 1,
		 call_of(c->calls, ref) ? "a completed" : "an unknown", shown);
	return 0;
}

/* The call CALL of REF completed with the output TEXT (NUL-terminated;
 * emptied and released here), failed when IS_ERROR. */
static void result_emit(struct wrk_claude *c, const char *ref, uint64_t call,
			struct wrk_buf *text, bool is_error)
{
	struct wrk_msg m = {.type = WRK_TOOL_COMPLETE};
	char *error = NULL;
	size_t len = text->len - 1;

	m.call = call;
	m.output = len ? text->data : NULL;
	m.output_len = len;
	m.status = "completed";
	if (is_error) {
		m.status = "failed";
		error = wrk_text_first_line(text->data, len);
		m.error = error ? error : "tool error";
	}
	if (emit_cut(c, &m, &m.output, &m.output_len, len, "output") == 1) {
		m.output = NULL;
		m.output_len = 0;
		if (try_emit(c, &m) == 1)
			emit_log(c, "error",
				 "line %" PRIu64 ": tool_result too large for "
				 "a frame: ignored",
				 c->lines + 1);
	}
	if (!c->err)
		json_object_del(c->open, ref);
	free(error);
	wrk_buf_release(text);
}

static void complete_call(struct wrk_claude *c, const json_t *block)
{
	const char *ref = str_of(block, "tool_use_id");
	struct wrk_buf text = {0};
	uint64_t call = result_call(c, ref);

	if (!call)
		return;
	if (result_text(json_object_get(block, "content"), &text) < 0) {
		c->err = ENOMEM;
		wrk_buf_release(&text);
		return;
	}
	result_emit(c, ref, call, &text,
		    json_is_true(json_object_get(block, "is_error")));
}

static void on_user(struct wrk_claude *c, const json_t *j)
{
	const json_t *content =
		json_object_get(json_object_get(j, "message"), "content");
	size_t i;

	for (i = 0; i < json_array_size(content); i++) {
		const json_t *block = json_array_get(content, i);
		const char *type = str_of(block, "type");

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
			m.tokens_in = add_count(m.tokens_in,
						count_of(v, "inputTokens"));
			m.tokens_out = add_count(m.tokens_out,
						 count_of(v, "outputTokens"));
			m.cache_read =
				add_count(m.cache_read,
					  count_of(v, "cacheReadInputTokens"));
			m.cache_write = add_count(
				m.cache_write,
				count_of(v, "cacheCreationInputTokens"));
		}
	} else if (json_is_object(usage)) {
		m.tokens_in = count_of(usage, "input_tokens");
		m.tokens_out = count_of(usage, "output_tokens");
		m.cache_read = count_of(usage, "cache_read_input_tokens");
		m.cache_write = count_of(usage, "cache_creation_input_tokens");
	} else if (!m.has_cost) {
		return; /* nothing to say: what was counted stands */
	}
	try_emit(c, &m);
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
	const char *subtype = str_of(j, "subtype");
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
	m.text = str_of(j, "result");
	m.json = json;
	r = emit_cut(c, &m, &m.text, NULL, m.text ? strlen(m.text) : 0,
		     "result");
	if (r == 1) {
		m.json = NULL; /* a huge list of permission denials */
		r = emit_cut(c, &m, &m.text, NULL, m.text ? strlen(m.text) : 0,
			     "result");
		if (r == 1)
			emit_log(c, "error", "result too large for a frame");
	}
	free(json);
	if ((subtype && strcmp(subtype, "success")) ||
	    json_is_true(json_object_get(j, "is_error"))) {
		wrk_claude_fail_reason(j, error, sizeof(error));
		m = (struct wrk_msg){.type = WRK_FAIL, .error = error};
		try_emit(c, &m);
	}
}

/* What a line of the CLI's says, parsed by jansson. */
static void on_line(struct wrk_claude *c, const json_t *j)
{
	const char *type = str_of(j, "type"), *subtype = str_of(j, "subtype");

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
		on_stream_event(c, j);
	}
}

/* ---- the fast path ---------------------------------------------------- */

/*
 * Most of the stream's bytes are members no handler reads: a user line's
 * tool_use_result (a copy of the tool's output), the other system lines.
 * jscan (strict: what it takes, jansson takes) walks the line's members:
 * - user and assistant lines, nearly all the bytes, are read by jscan
 *   alone (scan_user, scan_assistant: the same reading as on_user and
 *   on_assistant, the last of duplicate members winning as in jansson);
 * - stream_event lines: jansson parses a copy of the members their
 *   handler reads (c->slim);
 * - ignored lines (other system subtypes, other types) are not parsed.
 * A line jscan refuses, and the small rare ones (init, api_retry, result),
 * go to jansson whole: the reference, whose frames the fast path matches
 * byte for byte (tests/unit/test_claude.c and the fuzz target compare
 * them; wrk_claude_set_fast() turns the fast path off).
 */

/* The top-level members the fast path reads (type and subtype aside). */
enum kept { K_MESSAGE, K_PARENT, K_EVENT, K_API_ID, K_COUNT };

static const char *const kept_names[K_COUNT] = {
	[K_MESSAGE] = "message",
	[K_PARENT] = "parent_tool_use_id",
	[K_EVENT] = "event",
	[K_API_ID] = "api_message_id",
};

/* Members kept from one line, at most (more: the slow path). */
#define KEPT_MAX 16

/* The value V (scanned) is the string NAME. */
static bool value_is(struct jscan_slice v, const char *name)
{
	return jscan_is_string(v) &&
	       jscan_equals((struct jscan_slice){v.p + 1, v.n - 2}, name);
}

/* The members of KEPT (N of them, named by WHICH) that MASK names, as an
 * object for jansson, handed to HANDLER. 1, or 0 when jansson did not
 * take it (memory short): then the slow path. */
static int slim_parse(struct wrk_claude *c, const struct jscan_slice *key,
		      const struct jscan_slice *val, const enum kept *which,
		      size_t n, unsigned mask,
		      void (*handler)(struct wrk_claude *, const json_t *))
{
	struct wrk_buf *b = &c->slim;
	bool first = true;
	json_t *j;
	size_t i;

	b->len = 0;
	if (wrk_buf_addc(b, '{') < 0)
		return 0;
	for (i = 0; i < n; i++) {
		if (!(mask & 1u << which[i]))
			continue;
		/* The key with its quotes, as the line has it. */
		if ((!first && wrk_buf_addc(b, ',') < 0) ||
		    wrk_buf_add(b, key[i].p - 1, key[i].n + 2) < 0 ||
		    wrk_buf_addc(b, ':') < 0 ||
		    wrk_buf_add(b, val[i].p, val[i].n) < 0)
			return 0;
		first = false;
	}
	if (wrk_buf_addc(b, '}') < 0)
		return 0;
	j = json_loadb(b->data, b->len, 0, NULL);
	if (b->cap > 1024 * 1024)
		wrk_buf_release(b);
	if (!j)
		return 0;
	handler(c, j);
	json_decref(j);
	return 1;
}

/* Append the string value V (scanned: valid) to B, decoded, without its
 * NUL. 0, or -1 ENOMEM. */
static int add_string(struct wrk_buf *b, struct jscan_slice v)
{
	struct jscan_slice in = {v.p + 1, v.n - 2};
	size_t len = 0;
	int r;

	if (wrk_buf_reserve(b, in.n + 1) < 0)
		return -1;
	r = jscan_decode(in, b->data + b->len, &len);
	assert(r == 0); /* jscan took the line */
	(void)r;
	b->len += len;
	return 0;
}

/* The value of the last member KEY of the object OBJ (scanned); a slice of
 * length 0 when there is none or OBJ is not an object. */
static struct jscan_slice member(struct jscan_slice obj, const char *key)
{
	struct jscan_slice k, v, found = {0};
	struct jscan_obj it;

	if (jscan_object(&it, obj) < 0)
		return found;
	while (jscan_next(&it, &k, &v) == 1)
		if (jscan_equals(k, key))
			found = v;
	return found;
}

/* result_text() on the scanned CONTENT. */
static int scan_result_text(struct jscan_slice content, struct wrk_buf *b)
{
	struct jscan_slice block, type, text;
	struct jscan_obj it;
	size_t n = 0;

	if (jscan_is_string(content))
		return add_string(b, content) < 0 ? -1 : wrk_buf_addc(b, '\0');
	if (jscan_array(&it, content) == 0)
		while (jscan_next_item(&it, &block) == 1) {
			type = member(block, "type");
			text = member(block, "text");
			if (!value_is(type, "text") || !jscan_is_string(text))
				continue;
			if ((n++ && wrk_buf_addc(b, '\n') < 0) ||
			    add_string(b, text) < 0)
				return -1;
		}
	return wrk_buf_addc(b, '\0');
}

/* complete_call() on the scanned BLOCK, a tool_result. */
static void scan_complete_call(struct wrk_claude *c, struct jscan_slice block)
{
	struct jscan_slice k, v, id = {0}, content = {0}, is_error = {0};
	struct wrk_buf ref = {0}, text = {0};
	struct jscan_obj it;
	uint64_t call;

	if (jscan_object(&it, block) < 0)
		return;
	while (jscan_next(&it, &k, &v) == 1) {
		if (jscan_equals(k, "tool_use_id"))
			id = v;
		else if (jscan_equals(k, "content"))
			content = v;
		else if (jscan_equals(k, "is_error"))
			is_error = v;
	}
	if (jscan_is_string(id) &&
	    (add_string(&ref, id) < 0 || wrk_buf_addc(&ref, '\0') < 0)) {
		c->err = ENOMEM;
		goto out;
	}
	call = result_call(c, ref.data);
	if (!call)
		goto out;
	if (scan_result_text(content, &text) < 0) {
		c->err = ENOMEM;
		wrk_buf_release(&text);
		goto out;
	}
	result_emit(c, ref.data, call, &text, jscan_is_true(is_error));
out:
	wrk_buf_release(&ref);
}

/* on_user() on the scanned MESSAGE: no jansson at all. */
static void scan_user(struct wrk_claude *c, struct jscan_slice message)
{
	struct jscan_slice content = member(message, "content"), block;
	struct jscan_obj it;

	if (jscan_array(&it, content) < 0)
		return;
	while (jscan_next_item(&it, &block) == 1)
		if (value_is(member(block, "type"), "tool_result"))
			scan_complete_call(c, block);
}

/* The string value V (scanned; length 0: none) decoded into B, NUL-
 * terminated: B's data, or NULL when V is not a string. ENOMEM: NULL and
 * c->err set. */
static const char *scan_str(struct wrk_claude *c, struct jscan_slice v,
			    struct wrk_buf *b)
{
	if (!jscan_is_string(v))
		return NULL;
	if (add_string(b, v) < 0 || wrk_buf_addc(b, '\0') < 0) {
		c->err = ENOMEM;
		return NULL;
	}
	return b->data;
}

/* count_of() on the scanned object O. */
static uint64_t scan_count(struct jscan_slice o, const char *key)
{
	long long n;

	return jscan_integer(member(o, key), &n) && n > 0 ? (uint64_t)n : 0;
}

/* start_call() on the scanned BLOCK, a tool_use: its input sent as the
 * line has it when that is what jansson would write, else rewritten. */
static void scan_start_call(struct wrk_claude *c, struct jscan_slice block,
			    uint64_t parent)
{
	struct jscan_slice k, v, id = {0}, name = {0}, input = {0};
	struct wrk_buf ref = {0}, tool = {0}, raw = {0};
	struct jscan_obj it;
	char *text = NULL;
	json_t *j;

	if (jscan_object(&it, block) < 0)
		return;
	while (jscan_next(&it, &k, &v) == 1) {
		if (jscan_equals(k, "id"))
			id = v;
		else if (jscan_equals(k, "name"))
			name = v;
		else if (jscan_equals(k, "input"))
			input = v;
	}
	scan_str(c, id, &ref);
	scan_str(c, name, &tool);
	if (c->err || !call_new(c, ref.data, tool.data))
		goto out;
	if (jscan_compact(input)) {
		if (wrk_buf_add(&raw, input.p, input.n) < 0 ||
		    wrk_buf_addc(&raw, '\0') < 0) {
			c->err = ENOMEM;
			goto out;
		}
		text = raw.data;
	} else if (input.n) {
		j = json_loadb(input.p, input.n, JSON_DECODE_ANY, NULL);
		text = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
		json_decref(j);
	}
	call_emit(c, ref.data, tool.data, text, parent);
	if (text != raw.data)
		free(text);
out:
	wrk_buf_release(&ref);
	wrk_buf_release(&tool);
	wrk_buf_release(&raw);
}

/* on_assistant() on the scanned MESSAGE and PARENT (parent_tool_use_id). */
static void scan_assistant(struct wrk_claude *c, struct jscan_slice message,
			   struct jscan_slice parent_id)
{
	struct jscan_slice k, v, content = {0}, usage = {0}, id = {0}, block;
	struct wrk_msg m = {.type = WRK_USAGE};
	struct wrk_buf parent_ref = {0}, msg_id = {0};
	const char *mid;
	struct jscan_obj it;
	uint64_t parent;

	parent = call_of(c->calls, scan_str(c, parent_id, &parent_ref));
	wrk_buf_release(&parent_ref);
	if (c->err || jscan_object(&it, message) < 0)
		return;
	while (jscan_next(&it, &k, &v) == 1) {
		if (jscan_equals(k, "content"))
			content = v;
		else if (jscan_equals(k, "usage"))
			usage = v;
		else if (jscan_equals(k, "id"))
			id = v;
	}
	if (jscan_array(&it, content) == 0)
		while (jscan_next_item(&it, &block) == 1)
			if (value_is(member(block, "type"), "tool_use"))
				scan_start_call(c, block, parent);
	if (!usage.n || usage.p[0] != '{')
		return;
	mid = scan_str(c, id, &msg_id);
	if (c->err || (mid && json_object_get(c->messages, mid)))
		goto out;
	m.tokens_in = scan_count(usage, "input_tokens");
	m.tokens_out = scan_count(usage, "output_tokens");
	if (mid &&
	    json_object_set_new(c->messages, mid,
				json_integer((json_int_t)m.tokens_out)) < 0) {
		c->err = ENOMEM;
		goto out;
	}
	m.cache_read = scan_count(usage, "cache_read_input_tokens");
	m.cache_write = scan_count(usage, "cache_creation_input_tokens");
	if (m.tokens_in || m.tokens_out || m.cache_read || m.cache_write)
		try_emit(c, &m); /* not the CLI's own error messages */
out:
	wrk_buf_release(&msg_id);
}

/* The line S (N bytes) through the fast path: 1 when done, 0 when jansson
 * must read it whole. */
static int parse_fast(struct wrk_claude *c, const char *s, size_t n)
{
	struct jscan_slice key[KEPT_MAX], val[KEPT_MAX], k, v;
	struct jscan_slice type = {0}, subtype = {0}, message = {0};
	struct jscan_slice parent = {0};
	enum kept which[KEPT_MAX];
	struct jscan_obj it;
	size_t nkept = 0;
	unsigned i;
	int r;

	if (jscan_object(&it, (struct jscan_slice){s, n}) < 0)
		return 0;
	while ((r = jscan_next(&it, &k, &v)) == 1) {
		if (jscan_equals(k, "type")) {
			type = v; /* the last one counts, as in jansson */
			continue;
		}
		if (jscan_equals(k, "subtype")) {
			subtype = v;
			continue;
		}
		for (i = 0; i < K_COUNT; i++)
			if (jscan_equals(k, kept_names[i]))
				break;
		if (i == K_COUNT)
			continue;
		if (nkept == KEPT_MAX)
			return 0;
		if (i == K_MESSAGE)
			message = v;
		if (i == K_PARENT)
			parent = v;
		key[nkept] = k;
		val[nkept] = v;
		which[nkept++] = (enum kept)i;
	}
	if (r < 0 || !jscan_blank(it.p, (size_t)(s + n - it.p)))
		return 0;
	if (value_is(type, "system"))
		return !value_is(subtype, "init") &&
		       !value_is(subtype, "api_retry");
	if (value_is(type, "assistant")) {
		scan_assistant(c, message, parent);
		return 1;
	}
	if (value_is(type, "user")) {
		scan_user(c, message);
		return 1;
	}
	if (value_is(type, "stream_event"))
		return slim_parse(c, key, val, which, nkept,
				  1u << K_EVENT | 1u << K_API_ID,
				  on_stream_event);
	/* result: jansson; any other type, or none: ignored. */
	return !value_is(type, "result");
}

/* One whole line, S (N bytes, no newline); LAST: it had no newline. */
static void parse_line(struct wrk_claude *c, const char *s, size_t n, bool last)
{
	char shown[SHOWN_MAX + 8];
	json_t *j;
	size_t i;

	for (i = 0; i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r');)
		i++;
	if (i == n)
		return; /* a blank line */
	if (!c->slow && parse_fast(c, s + i, n - i))
		return;
	j = json_loadb(s, n, 0, NULL);
	if (!j) {
		wrk_text_printable(shown, SHOWN_MAX, s, n);
		memcpy(c->said, shown, sizeof(c->said));
		if (last)
			emit_log(c, "warn", "last line cut short: %s", shown);
		else
			emit_log(c, "warn", "not JSON: %s", shown);
		return;
	}
	on_line(c, j);
	json_decref(j);
}

/* ---- the API ---------------------------------------------------------- */

static int hello(struct wrk_claude *c, int64_t pid)
{
	struct wrk_msg m = {.type = WRK_HELLO, .version = WRK_PROTO_VERSION};

	m.pid = pid;
	if (try_emit(c, &m) != 0) {
		errno = c->err ? c->err : ERANGE;
		return -1;
	}
	c->hello_sent = true;
	return 0;
}

/* Start a call of the API appending to OUT: the hello first. */
static int begin(struct wrk_claude *c, struct wrk_buf *out)
{
	if (c->ended) {
		errno = EINVAL;
		return -1;
	}
	c->out = out;
	c->err = 0;
	return c->hello_sent ? 0 : hello(c, 0);
}

static int finish(struct wrk_claude *c)
{
	c->out = NULL;
	if (c->err) {
		errno = c->err;
		return -1;
	}
	return 0;
}

int wrk_claude_hello(struct wrk_claude *c, int64_t pid, struct wrk_buf *out)
{
	int r;

	if (c->hello_sent || c->ended) {
		errno = EINVAL;
		return -1;
	}
	c->out = out;
	c->err = 0;
	r = hello(c, pid);
	c->out = NULL;
	return r;
}

/* The current line is longer than line_max: drop it. */
static void too_long(struct wrk_claude *c)
{
	emit_log(c, "error", "line %" PRIu64 " longer than %zu bytes: skipped",
		 c->lines + 1, c->line_max);
	wrk_buf_release(&c->line);
	c->skipping = true;
}

int wrk_claude_feed(struct wrk_claude *c, const void *data, size_t len,
		    struct wrk_buf *out)
{
	const char *p = data, *end = p + len;

	if (begin(c, out) < 0)
		return -1;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

		if (c->skipping) {
			/* the rest of a line too long */
		} else if (c->line.len + n > c->line_max) {
			too_long(c);
		} else if (nl && !c->line.len) {
			parse_line(c, p, n, false); /* whole in this feed */
		} else if (wrk_buf_add(&c->line, p, n) < 0) {
			c->err = ENOMEM;
			wrk_buf_release(&c->line);
			c->skipping = true;
		} else if (nl) {
			parse_line(c, c->line.data, c->line.len, false);
			c->line.len = 0;
			if (c->line.cap > 1024 * 1024)
				wrk_buf_release(&c->line);
		}
		if (nl) {
			c->skipping = false;
			c->lines++;
		}
		p += n + (nl != NULL);
	}
	return finish(c);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Every call still running fails, in the order they started. */
static void interrupt_calls(struct wrk_claude *c)
{
	size_t n = json_object_size(c->open), i = 0;
	uint64_t *ids = calloc(n ? n : 1, sizeof(*ids));
	void *it;

	if (!ids) {
		c->err = ENOMEM;
		return;
	}
	for (it = json_object_iter(c->open); it;
	     it = json_object_iter_next(c->open, it))
		ids[i++] = (uint64_t)json_integer_value(
			json_object_iter_value(it));
	qsort(ids, n, sizeof(*ids), cmp_u64);
	for (i = 0; i < n; i++) {
		struct wrk_msg m = {.type = WRK_TOOL_COMPLETE};

		m.call = ids[i];
		m.status = "failed";
		m.error = "interrupted";
		try_emit(c, &m);
	}
	json_object_clear(c->open);
	free(ids);
}

int wrk_claude_end(struct wrk_claude *c, int status, struct wrk_buf *out)
{
	struct wrk_msg m = {.type = WRK_FAIL};
	const char *name;
	char error[128 + sizeof(c->said) + sizeof(c->api_error)];
	size_t n;

	if (begin(c, out) < 0)
		return -1;
	if (c->line.len && !c->skipping)
		parse_line(c, c->line.data, c->line.len, true);
	wrk_buf_release(&c->line);
	interrupt_calls(c);
	if (!c->result_seen) {
		if (WIFSIGNALED(status)) {
			name = cm_signal_name(WTERMSIG(status));
			if (name)
				snprintf(error, sizeof(error),
					 "ended without a result (killed by "
					 "signal %s)",
					 name);
			else
				snprintf(error, sizeof(error),
					 "ended without a result (killed by "
					 "signal %d)",
					 WTERMSIG(status));
		} else {
			snprintf(error, sizeof(error),
				 "ended without a result (exit status %d)",
				 WEXITSTATUS(status));
		}
		n = strlen(error);
		if (c->said[0] && n < sizeof(error))
			snprintf(error + n, sizeof(error) - n, ": %s",
				 c->said);
		n = strlen(error);
		if (c->api_error[0] && n < sizeof(error))
			snprintf(error + n, sizeof(error) - n,
				 "; last API error: %s", c->api_error);
		m.error = error;
		try_emit(c, &m);
	}
	c->ended = true;
	return finish(c);
}
