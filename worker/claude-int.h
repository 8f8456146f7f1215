/*
 * claude-int.h - the insides of the Claude Code parser, private to
 * worker/: shared by claude.c (the API, and the lines as jansson reads
 * them) and claude-scan.c (the fast path, the big lines read by jscan).
 * Both make a line's frames through the same functions, so that both
 * paths make the same bytes.
 */
#ifndef SMITHERS_WORKER_CLAUDE_INT_H
#define SMITHERS_WORKER_CLAUDE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "worker/claude.h"
#include "worker/proto.h"

struct json_t;

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
	bool slow;	      /* no fast path: jansson reads every line whole */
	struct wrk_buf slim;  /* a line without the members never read */
	struct json_t *calls; /* tool_use id -> call: every call started */
	struct json_t *open;  /* tool_use id -> call: those still running */
	struct json_t *messages; /* message id -> its output tokens counted */
	char api_error[160];	 /* the last API error retried; "": none */
	/* The last line that was not JSON (the CLI's stderr shares the
	 * pipe), printable: what a CLI that ended without a result said. */
	char said[SHOWN_MAX + 8];
	/* During one call of the API: */
	struct wrk_buf *out;
	int err; /* the errno that lost a message (ENOMEM) */
};

/* Append M with the next seq: 0, 1 when it does not fit in a frame (OUT
 * unchanged), -1 when it cannot be encoded (c->err set). */
int wrk_claude_emit(struct wrk_claude *c, struct wrk_msg *m);

/* The call that tool_use id REF (may be NULL) started in MAP; 0: none. */
uint64_t wrk_claude_call_of(struct json_t *map, const char *ref);

/* A tool_use block with the id REF and the name TOOL (may be NULL) starts
 * a call: false, with a log, when it lacks them, or when it was seen. */
bool wrk_claude_call_new(struct wrk_claude *c, const char *ref,
			 const char *tool);

/* Start the call REF of TOOL with the input INPUT (compact JSON; NULL:
 * none), inside the call PARENT (0: none). */
void wrk_claude_call_emit(struct wrk_claude *c, const char *ref,
			  const char *tool, const char *input, uint64_t parent);

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
