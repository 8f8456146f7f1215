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
 * Invariants: at most line_max bytes of a line are buffered (a longer line
 * is dropped up to its newline); every frame fits in frame_max (long
 * outputs and results are cut at a UTF-8 boundary, with a note); every
 * string sent is valid UTF-8 without NUL (jansson guarantees it for what
 * it parsed, jscan for what it took, refusing what jansson refuses; raw
 * bytes are made printable first), so the supervisor's decoder never
 * refuses what we send.
 */
#include "config.h"

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
#include "worker/claude-int.h"
#include "worker/claude-text.h"
#include "worker/frame.h"

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
int wrk_claude_emit(struct wrk_claude *c, struct wrk_msg *m)
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
	wrk_claude_emit(c, &m); /* a log that does not fit is not worth more */
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

	r = wrk_claude_emit(c, m);
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
	r = wrk_claude_emit(c, m);
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
uint64_t wrk_claude_call_of(json_t *map, const char *ref)
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
	if (wrk_claude_emit(c, &m) == 1) {
		m.json = NULL; /* a list of tools that big: keep the rest */
		if (wrk_claude_emit(c, &m) == 1)
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
bool wrk_claude_call_new(struct wrk_claude *c, const char *ref,
			 const char *tool)
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
void wrk_claude_call_emit(struct wrk_claude *c, const char *ref,
			  const char *tool, const char *input, uint64_t parent)
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
	r = wrk_claude_emit(c, &m);
	if (r == 1) {
		snprintf(note, sizeof(note),
			 "\"[smithers: input of %zu bytes not kept: too large "
			 "for a frame; the whole stream is in the agent's "
			 "log]\"",
			 input ? strlen(input) : 0);
		m.json = note;
		r = wrk_claude_emit(c, &m);
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

	if (!wrk_claude_call_new(c, ref, tool))
		return;
	if (input)
		text = json_dumps(input, JSON_COMPACT | JSON_ENCODE_ANY);
	wrk_claude_call_emit(c, ref, tool, text, parent);
	free(text);
}

static void on_assistant(struct wrk_claude *c, const json_t *j)
{
	const json_t *msg = json_object_get(j, "message");
	const json_t *content = json_object_get(msg, "content");
	const json_t *usage = json_object_get(msg, "usage");
	const char *id = str_of(msg, "id");
	uint64_t parent =
		wrk_claude_call_of(c->calls, str_of(j, "parent_tool_use_id"));
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
		wrk_claude_emit(c, &m); /* not the CLI's own error messages */
}

/* With --include-partial-messages: the final output tokens of a message
 * whose first figure (message_start's) was counted; the difference. */
void wrk_claude_on_stream_event(struct wrk_claude *c, const json_t *j)
{
	const json_t *event = json_object_get(j, "event");
	const char *type = str_of(event, "type");
	const char *id = str_of(j, "api_message_id");
	uint64_t out =
		count_of(json_object_get(event, "usage"), "output_tokens");
	uint64_t counted = wrk_claude_call_of(c->messages, id);
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
	wrk_claude_emit(c, &m);
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
uint64_t wrk_claude_result_call(struct wrk_claude *c, const char *ref)
{
	char shown[SHOWN_MAX + 8];
	uint64_t call = wrk_claude_call_of(c->open, ref);

	if (call)
		return call;
	wrk_text_printable(shown, SHOWN_MAX, ref ? ref : "",
			   ref ? strlen(ref) : 0);
	emit_log(c, "warn",
		 "line %" PRIu64 ": tool_result for %s tool_use_id '%s': "
		 "ignored",
		 c->lines + 1,
		 wrk_claude_call_of(c->calls, ref) ? "a completed"
						   : "an unknown",
		 shown);
	return 0;
}

/* The call CALL of REF completed with the output TEXT (NUL-terminated;
 * emptied and released here), failed when IS_ERROR. */
void wrk_claude_result_emit(struct wrk_claude *c, const char *ref,
			    uint64_t call, struct wrk_buf *text, bool is_error)
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
		if (wrk_claude_emit(c, &m) == 1)
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
	uint64_t call = wrk_claude_result_call(c, ref);

	if (!call)
		return;
	if (result_text(json_object_get(block, "content"), &text) < 0) {
		c->err = ENOMEM;
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
	wrk_claude_emit(c, &m);
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
		wrk_claude_emit(c, &m);
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
		wrk_claude_on_stream_event(c, j);
	}
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
	if (!c->slow && wrk_claude_parse_fast(c, s + i, n - i))
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
	if (wrk_claude_emit(c, &m) != 0) {
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
		wrk_claude_emit(c, &m);
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
		wrk_claude_emit(c, &m);
	}
	c->ended = true;
	return finish(c);
}
