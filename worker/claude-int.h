/*
 * claude-int.h - the insides of the Claude Code parser, private to
 * worker/: shared by claude.c (the API, and the lines as jansson reads
 * them) and claude-scan.c (the fast path, the big lines read by jscan).
 * Both make a line's frames through the same functions, those of the
 * adapter layer (adapter-int.h) and these (claude-calls.c, below both),
 * so that both paths make the same bytes.
 */
#ifndef SMITHERS_WORKER_CLAUDE_INT_H
#define SMITHERS_WORKER_CLAUDE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "worker/adapter-int.h"
#include "worker/claude.h"
#include "worker/proto.h"

struct json_t;

struct wrk_claude {
	struct wrk_parser p; /* first: the layer's (lines, frames, calls) */
	bool result_seen;
	bool slow;	     /* no fast path: jansson reads every line whole */
	struct wrk_buf slim; /* a line without the members never read */
	struct json_t *messages; /* message id -> its output tokens counted */
	char api_error[160];	 /* the last API error retried; "": none */
};

/* A tool_use block with the id REF and the name TOOL (may be NULL) starts
 * a call: false, with a log, when it lacks them, or when it was seen. */
bool wrk_claude_call_new(struct wrk_claude *c, const char *ref,
			 const char *tool);

/* The call that the tool_result for REF (may be NULL) completes; 0, and a
 * log saying why, when none is running. */
uint64_t wrk_claude_result_call(struct wrk_claude *c, const char *ref);

/* The call CALL of REF completed with the output TEXT (NUL-terminated;
 * emptied and released here), failed when IS_ERROR. */
void wrk_claude_result_emit(struct wrk_claude *c, const char *ref,
			    uint64_t call, struct wrk_buf *text, bool is_error);

/* A stream_event line, J (borrowed), as jansson parsed it. */
void wrk_claude_on_stream_event(struct wrk_claude *c, const struct json_t *j);

/* The line S (N bytes, from its first non-blank) through the fast path
 * (claude-scan.c): 1 when done, 0 when jansson must read it whole. */
int wrk_claude_parse_fast(struct wrk_claude *c, const char *s, size_t n);

#endif /* SMITHERS_WORKER_CLAUDE_INT_H */
