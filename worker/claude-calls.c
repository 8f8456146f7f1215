/*
 * claude-calls.c - what both readings of a Claude Code line (claude.c's
 * jansson, claude-scan.c's fast path) make of it through the same
 * functions, below both of them: the calls a tool_use block starts and a
 * tool_result completes, and the output tokens a stream_event adds. The
 * frames go out through the adapter layer (worker/adapter.c).
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "worker/claude-int.h"
#include "worker/text.h"

/* A tool_use block with the id REF and the name TOOL (may be NULL) starts
 * a call: false, with a log, when it lacks them, or when it was seen. */
bool wrk_claude_call_new(struct wrk_claude *c, const char *ref,
			 const char *tool)
{
	if (!ref || !tool) {
		wrk_adapter_log(&c->p, "warn",
				"line %" PRIu64
				": tool_use without an id or a name: "
				"ignored",
				c->p.lines + 1);
		return false;
	}
	return !json_object_get(c->p.calls, ref); /* the same block again */
}

/* The call that the tool_result for REF (may be NULL) completes; 0, and a
 * log saying why, when none is running. */
uint64_t wrk_claude_result_call(struct wrk_claude *c, const char *ref)
{
	char shown[SHOWN_MAX + 8];
	uint64_t call = wrk_adapter_call_of(c->p.open, ref);

	if (call)
		return call;
	wrk_text_printable(shown, SHOWN_MAX, ref ? ref : "",
			   ref ? strlen(ref) : 0);
	wrk_adapter_log(&c->p, "warn",
			"line %" PRIu64
			": tool_result for %s tool_use_id '%s': "
			"ignored",
			c->p.lines + 1,
			wrk_adapter_call_of(c->p.calls, ref) ? "a completed"
							     : "an unknown",
			shown);
	return 0;
}

/* The call CALL of REF completed with the output TEXT (NUL-terminated;
 * emptied and released here), failed when IS_ERROR: with the output's
 * first line as its error. */
void wrk_claude_result_emit(struct wrk_claude *c, const char *ref,
			    uint64_t call, struct wrk_buf *text, bool is_error)
{
	char *error = NULL;

	if (is_error)
		error = wrk_text_first_line(text->data, text->len - 1);
	wrk_adapter_call_complete(&c->p, ref, call, text,
				  !is_error ? NULL
				  : error   ? error
					    : "tool error");
	free(error);
}

/* With --include-partial-messages: the final output tokens of a message
 * whose first figure (message_start's) was counted; the difference. */
void wrk_claude_on_stream_event(struct wrk_claude *c, const json_t *j)
{
	const json_t *event = json_object_get(j, "event");
	const char *type = wrk_json_str(event, "type");
	const char *id = wrk_json_str(j, "api_message_id");
	uint64_t out = wrk_json_count(json_object_get(event, "usage"),
				      "output_tokens");
	uint64_t counted = wrk_adapter_call_of(c->messages, id);
	struct wrk_msg m = {.type = WRK_USAGE};

	if (!type || strcmp(type, "message_delta") || !id ||
	    !json_object_get(c->messages, id) || out <= counted)
		return;
	if (json_object_set_new(c->messages, id,
				json_integer((json_int_t)out)) < 0) {
		c->p.err = ENOMEM;
		return;
	}
	m.tokens_out = out - counted;
	wrk_adapter_emit(&c->p, &m);
}
