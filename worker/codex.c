/*
 * codex.c - the output of `codex exec --json` turned into protocol
 * messages, so that an unmodified Codex CLI is a smithers agent. The
 * worker feeds us its stdout (its stderr shares the pipe); the lines, the
 * frames, the calls and the end of the stream are the adapter layer's
 * (worker/adapter.c). jansson reads every line: the CLI's lines are small
 * next to Claude Code's, no fast path is needed.
 *
 * One line holds one event; its "type" says what it is:
 *  - thread.started {thread_id} -> `session` {id: the thread id};
 *  - item.started / item.completed {item: {id, type, ...}}: the items that
 *    are calls, matched by id, -> `tool.start` {call, tool, input, ref: the
 *    item id} and `tool.complete` {output, status, error}:
 *      command_execution {command, aggregated_output, exit_code, status}:
 *        tool `shell`, input {"command": ...}, output the aggregated
 *        output, failed with "exit N" when exit_code is not 0 (or with
 *        the status, failed or declined, without one);
 *      file_change {changes: [{path, kind}], status}: tool `file_change`,
 *        input the changes, output the paths one a line, failed when the
 *        status is;
 *      mcp_tool_call {server, tool, arguments, result, error, status}:
 *        tool `SERVER.TOOL`, input the arguments, output the text blocks
 *        of result.content, failed with error.message;
 *      web_search {query}: tool `web_search`, input {"query": ...};
 *    an item completed that never started starts and completes at once
 *    (with a log); item.updated changes nothing. Other items are not
 *    calls: agent_message {text} is remembered (the last is the run's
 *    result), an error item is logged, the rest (reasoning, todo_list,
 *    ...) ignored;
 *  - turn.completed {usage} -> `usage` {tokens_in: input_tokens,
 *    cache_read: cached_input_tokens, cache_write:
 *    cache_write_input_tokens (the CLI 0.171's), tokens_out:
 *    output_tokens, reasoning: reasoning_output_tokens, total: the
 *    thread's so far, every run of it; Codex reports no cost), then
 *    `result` {text: the last agent message,
 * json: {thread_id, status}};
 *  - turn.failed {error: {message}} -> `result` (status "failed", the
 *    error) and `fail` {error: the message};
 *  - error {message}: the CLI reconnecting or retrying -> a `log` warning
 *    only; any other -> a `log` error, and remembered: without a
 *    turn.completed after it, the run fails with it.
 * Other types are ignored. A stream that ends without completing its turn
 * fails: "ended without completing its turn (exit status N)", with the
 * last line the CLI printed that was not JSON and the last error.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "worker/adapter-int.h"
#include "worker/codex.h"
#include "worker/frame.h"
#include "worker/text.h"

struct wrk_codex {
	struct wrk_parser p; /* first: the layer's (lines, frames, calls) */
	bool turn_ended;     /* a turn.completed or turn.failed came */
	bool failed;	     /* a turn.failed came: its fail was sent */
	char *thread_id;     /* of thread.started; NULL: none yet */
	char *message;	     /* the last agent message; NULL: none */
	char *error;	     /* the last error event since turn.completed */
};

/* A copy of S (may be NULL) in *SLOT, what was there freed. */
static void keep(struct wrk_codex *x, char **slot, const char *s)
{
	char *copy = s ? strdup(s) : NULL;

	if (s && !copy) {
		x->p.err = ENOMEM;
		return;
	}
	free(*slot);
	*slot = copy;
}

/* ---- items ------------------------------------------------------------ */

/* What an item that is a call is: its tool and its input (compact JSON,
 * to free; NULL: none). False when the item is no call. */
static bool call_of_item(const json_t *item, const char *type, char **tool,
			 char **input)
{
	const char *server, *name;
	json_t *j = NULL;

	*tool = NULL;
	*input = NULL;
	if (!strcmp(type, "command_execution")) {
		*tool = strdup("shell");
		j = json_pack("{s:O?}", "command",
			      json_object_get(item, "command"));
	} else if (!strcmp(type, "file_change")) {
		*tool = strdup("file_change");
		j = json_incref(json_object_get(item, "changes"));
	} else if (!strcmp(type, "mcp_tool_call")) {
		server = wrk_json_str(item, "server");
		name = wrk_json_str(item, "tool");
		if (server && name && asprintf(tool, "%s.%s", server, name) < 0)
			*tool = NULL;
		else if (!server || !name)
			*tool = strdup(name ? name : server ? server : "mcp");
		j = json_incref(json_object_get(item, "arguments"));
	} else if (!strcmp(type, "web_search")) {
		*tool = strdup("web_search");
		j = json_pack("{s:O?}", "query",
			      json_object_get(item, "query"));
	} else {
		return false;
	}
	if (j && !json_is_null(j))
		*input = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(j);
	return true;
}

/* Append the string V (when it is one) to B. 0, or -1 ENOMEM. */
static int add_str(struct wrk_buf *b, const json_t *v)
{
	return json_is_string(v) ? wrk_buf_add(b, json_string_value(v),
					       json_string_length(v))
				 : 0;
}

/* The output of the call ITEM (of TYPE) completed, into B (NUL-
 * terminated), and its error when it failed (to free; NULL: none). 0, or
 * -1 ENOMEM. */
static int outcome(const json_t *item, const char *type, struct wrk_buf *b,
		   char **error)
{
	const char *status = wrk_json_str(item, "status");
	const json_t *v, *exit_code;
	size_t i, n = 0;

	*error = NULL;
	if (!strcmp(type, "command_execution")) {
		if (add_str(b, json_object_get(item, "aggregated_output")) < 0)
			return -1;
		exit_code = json_object_get(item, "exit_code");
		if (json_is_integer(exit_code) &&
		    json_integer_value(exit_code) != 0) {
			if (asprintf(error, "exit %" PRId64,
				     (int64_t)json_integer_value(exit_code)) <
			    0)
				return -1;
		} else if (status && (!strcmp(status, "failed") ||
				      !strcmp(status, "declined"))) {
			*error = strdup(status);
		}
	} else if (!strcmp(type, "file_change")) {
		v = json_object_get(item, "changes");
		for (i = 0; i < json_array_size(v); i++) {
			const json_t *path =
				json_object_get(json_array_get(v, i), "path");

			if (!json_is_string(path))
				continue;
			if ((n++ && wrk_buf_addc(b, '\n') < 0) ||
			    add_str(b, path) < 0)
				return -1;
		}
		if (status && !strcmp(status, "failed"))
			*error = strdup("patch failed");
	} else if (!strcmp(type, "mcp_tool_call")) {
		v = json_object_get(json_object_get(item, "result"), "content");
		for (i = 0; i < json_array_size(v); i++) {
			const json_t *block = json_array_get(v, i);
			const char *btype = wrk_json_str(block, "type");
			const json_t *text = json_object_get(block, "text");

			if (!btype || strcmp(btype, "text") ||
			    !json_is_string(text))
				continue;
			if ((n++ && wrk_buf_addc(b, '\n') < 0) ||
			    add_str(b, text) < 0)
				return -1;
		}
		v = json_object_get(json_object_get(item, "error"), "message");
		if (json_is_string(v))
			*error = wrk_text_first_line(json_string_value(v),
						     json_string_length(v));
		if (!*error && ((status && !strcmp(status, "failed")) ||
				json_is_object(json_object_get(item, "error"))))
			*error = strdup("failed");
	}
	return wrk_buf_addc(b, '\0');
}

/* The call of ITEM (a call of TYPE, whose id is REF) starts. */
static void start(struct wrk_codex *x, const json_t *item, const char *type,
		  const char *ref)
{
	char *tool, *input;

	call_of_item(item, type, &tool, &input);
	if (!tool)
		x->p.err = ENOMEM;
	else
		wrk_adapter_call_start(&x->p, ref, tool, input, 0);
	free(tool);
	free(input);
}

/* An item.started (COMPLETED false) or item.completed line's ITEM. */
static void on_item(struct wrk_codex *x, const json_t *item, bool completed)
{
	const char *ref = wrk_json_str(item, "id");
	const char *type = wrk_json_str(item, "type");
	const json_t *v;
	char shown[SHOWN_MAX + 8], *tool, *input, *error;
	struct wrk_buf out = {0};
	uint64_t call;

	if (!type)
		return;
	if (!strcmp(type, "agent_message")) {
		v = json_object_get(item, "text");
		if (completed && json_is_string(v))
			keep(x, &x->message, json_string_value(v));
		return;
	}
	if (!strcmp(type, "error")) {
		v = json_object_get(item, "message");
		if (completed && json_is_string(v))
			wrk_adapter_log(&x->p, "warn", "codex: %s",
					json_string_value(v));
		return;
	}
	if (!call_of_item(item, type, &tool, &input))
		return; /* reasoning, todo_list, ...: no call */
	free(tool);
	free(input);
	if (!ref) {
		wrk_adapter_log(&x->p, "warn",
				"line %" PRIu64 ": %s item without an id: "
				"ignored",
				x->p.lines + 1, type);
		return;
	}
	wrk_text_printable(shown, SHOWN_MAX, ref, strlen(ref));
	if (!completed) {
		if (!wrk_adapter_call_of(x->p.calls, ref))
			start(x, item, type, ref);
		return;
	}
	if (!wrk_adapter_call_of(x->p.calls, ref)) {
		wrk_adapter_log(&x->p, "warn",
				"line %" PRIu64 ": item '%s' completed "
				"without a start",
				x->p.lines + 1, shown);
		start(x, item, type, ref);
	}
	call = wrk_adapter_call_of(x->p.open, ref);
	if (!call) {
		if (wrk_adapter_call_of(x->p.calls, ref))
			wrk_adapter_log(&x->p, "warn",
					"line %" PRIu64 ": item '%s' "
					"completed again: ignored",
					x->p.lines + 1, shown);
		return; /* or its start did not fit in a frame */
	}
	if (outcome(item, type, &out, &error) < 0) {
		x->p.err = ENOMEM;
		wrk_buf_release(&out);
		free(error);
		return;
	}
	wrk_adapter_call_complete(&x->p, ref, call, &out, error);
	free(error);
}

/* ---- the turn --------------------------------------------------------- */

static void on_thread_started(struct wrk_codex *x, const json_t *j)
{
	struct wrk_msg m = {.type = WRK_SESSION};

	m.session_id = wrk_json_str(j, "thread_id");
	if (!m.session_id) {
		wrk_adapter_log(&x->p, "warn",
				"thread.started line %" PRIu64
				" has no thread_id",
				x->p.lines + 1);
		return;
	}
	keep(x, &x->thread_id, m.session_id);
	if (wrk_adapter_emit(&x->p, &m) == 1)
		wrk_adapter_log(&x->p, "error",
				"session too large for a frame");
}

/* The `result` of a turn that ended: STATUS, and ERROR when it failed. */
static void result(struct wrk_codex *x, const char *status, const char *error)
{
	struct wrk_msg m = {.type = WRK_RESULT};
	json_t *summary = json_object();
	char *json = NULL;
	int r;

	if (!summary ||
	    (x->thread_id &&
	     json_object_set_new(summary, "thread_id",
				 json_string(x->thread_id)) < 0) ||
	    json_object_set_new(summary, "status", json_string(status)) < 0 ||
	    (error &&
	     json_object_set_new(summary, "error", json_string(error)) < 0) ||
	    !(json = json_dumps(summary, JSON_COMPACT))) {
		json_decref(summary);
		x->p.err = ENOMEM;
		return;
	}
	json_decref(summary);
	m.text = x->message;
	m.json = json;
	r = wrk_adapter_emit_cut(&x->p, &m, &m.text, NULL,
				 m.text ? strlen(m.text) : 0, "result");
	if (r == 1) {
		m.json = NULL; /* a thread id that big */
		r = wrk_adapter_emit_cut(&x->p, &m, &m.text, NULL,
					 m.text ? strlen(m.text) : 0, "result");
		if (r == 1)
			wrk_adapter_log(&x->p, "error",
					"result too large for a frame");
	}
	free(json);
}

/* The `usage` of a turn, from USAGE (may be NULL: none): the thread's
 * totals, as the CLI counts them (a resumed thread's turn counts every
 * run of the thread before it too), so marked total. */
static void usage(struct wrk_codex *x, const json_t *usage)
{
	struct wrk_msg m = {.type = WRK_USAGE, .total = 1};

	m.tokens_in = wrk_json_count(usage, "input_tokens");
	m.cache_read = wrk_json_count(usage, "cached_input_tokens");
	m.cache_write = wrk_json_count(usage, "cache_write_input_tokens");
	m.tokens_out = wrk_json_count(usage, "output_tokens");
	m.reasoning = wrk_json_count(usage, "reasoning_output_tokens");
	if (m.tokens_in || m.tokens_out || m.cache_read || m.cache_write ||
	    m.reasoning)
		wrk_adapter_emit(&x->p, &m);
}

static void on_turn_completed(struct wrk_codex *x, const json_t *j)
{
	x->turn_ended = true;
	keep(x, &x->error, NULL);
	usage(x, json_object_get(j, "usage"));
	result(x, "completed", NULL);
}

static void on_turn_failed(struct wrk_codex *x, const json_t *j)
{
	const json_t *v =
		json_object_get(json_object_get(j, "error"), "message");
	struct wrk_msg m = {.type = WRK_FAIL};
	char *error = NULL;

	if (json_is_string(v))
		error = wrk_text_first_line(json_string_value(v),
					    json_string_length(v));
	x->turn_ended = true;
	x->failed = true;
	usage(x, json_object_get(j, "usage"));
	result(x, "failed", error ? error : "turn failed");
	m.error = error ? error : "turn failed";
	wrk_adapter_emit(&x->p, &m);
	free(error);
}

/* The CLI says it is reconnecting or retrying: it goes on by itself. */
static bool passing(const char *message)
{
	return !strncasecmp(message, "reconnecting", 12) ||
	       strcasestr(message, "retrying");
}

static void on_error(struct wrk_codex *x, const json_t *j)
{
	const json_t *v = json_object_get(j, "message");
	const char *message = json_is_string(v) ? json_string_value(v) : NULL;
	char *line;

	if (message && passing(message)) {
		wrk_adapter_log(&x->p, "warn", "codex: %s", message);
		return;
	}
	line = message ? wrk_text_first_line(message, json_string_length(v))
		       : NULL;
	wrk_adapter_log(&x->p, "error", "codex: %s",
			line ? line : "error without a message");
	keep(x, &x->error, line ? line : "error without a message");
	free(line);
}

/* What a line of the CLI's says, parsed by jansson. */
static void on_line(struct wrk_codex *x, const json_t *j)
{
	const char *type = wrk_json_str(j, "type");

	if (!type) {
		/* not an event of the CLI's: ignored */
	} else if (!strcmp(type, "thread.started")) {
		on_thread_started(x, j);
	} else if (!strcmp(type, "item.started")) {
		on_item(x, json_object_get(j, "item"), false);
	} else if (!strcmp(type, "item.completed")) {
		on_item(x, json_object_get(j, "item"), true);
	} else if (!strcmp(type, "turn.completed")) {
		on_turn_completed(x, j);
	} else if (!strcmp(type, "turn.failed")) {
		on_turn_failed(x, j);
	} else if (!strcmp(type, "error")) {
		on_error(x, j);
	}
}

/* ---- the layer's ------------------------------------------------------ */

static bool codex_line(struct wrk_parser *p, const char *s, size_t n)
{
	json_t *j = json_loadb(s, n, 0, NULL);

	if (!j)
		return false;
	on_line((struct wrk_codex *)p, j);
	json_decref(j);
	return true;
}

/* Without turn.completed: `fail`, with the last error; after it, an error
 * that no turn.completed followed fails the run too. */
static void codex_end(struct wrk_parser *p, int status)
{
	struct wrk_codex *x = (struct wrk_codex *)p;
	struct wrk_msg m = {.type = WRK_FAIL};
	char note[WRK_TEXT_ERROR_MAX + 32];

	if (!x->turn_ended) {
		note[0] = '\0';
		if (x->error)
			snprintf(note, sizeof(note), "last error: %s",
				 x->error);
		wrk_adapter_ended(p, status,
				  "ended without completing its turn", note);
	} else if (x->error && !x->failed) {
		m.error = x->error;
		wrk_adapter_emit(p, &m);
	}
}

static void codex_release(struct wrk_parser *p)
{
	struct wrk_codex *x = (struct wrk_codex *)p;

	free(x->thread_id);
	free(x->message);
	free(x->error);
}

static const struct wrk_adapter_ops codex_ops = {
	.start_noun = "item",
	.complete_noun = "item.completed",
	.line = codex_line,
	.end = codex_end,
	.release = codex_release,
};

struct wrk_parser *wrk_codex_new(size_t line_max, size_t frame_max)
{
	struct wrk_codex *x = calloc(1, sizeof(*x));

	if (!x ||
	    wrk_adapter_init(&x->p, &codex_ops, line_max, frame_max) < 0) {
		wrk_parser_free(x ? &x->p : NULL);
		errno = ENOMEM;
		return NULL;
	}
	return &x->p;
}
