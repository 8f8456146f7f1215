/*
 * adapter-int.h - what every adapter's parser is made of, private to
 * worker/: the state they share (struct wrk_parser, the first member of
 * each parser's own struct) and the frames they make through
 * worker/adapter.c. A parser gives its lines (struct wrk_adapter_ops) and
 * says what they mean with the calls below; the layer assembles the lines,
 * numbers the frames, keeps the calls, and ends the stream.
 *
 * Layering: adapter.c calls the parsers only through their ops; the
 * parsers (claude*.c, codex.c) call adapter.c; adapters.c, above them
 * all, makes a parser by name.
 */
#ifndef SMITHERS_WORKER_ADAPTER_INT_H
#define SMITHERS_WORKER_ADAPTER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "worker/adapter.h"
#include "worker/proto.h"

struct json_t;

/* Bytes of a line that is not JSON shown in its log message. */
#define SHOWN_MAX 200

/* What a parser adds to the layer. */
struct wrk_adapter_ops {
	/* The names of a line that starts a call and of one that completes
	 * it, in the layer's logs ("tool_use", "tool_result"). */
	const char *start_noun, *complete_noun;
	/* One whole line, S (N bytes, no newline, not blank): true when it
	 * was JSON (whatever it said), false when not (the layer logs it). */
	bool (*line)(struct wrk_parser *p, const char *s, size_t n);
	/* The output ended: the last line was parsed and the calls still
	 * running failed. Say how the run ended (a `fail`, when the CLI's
	 * final event never came: wrk_adapter_ended()). */
	void (*end)(struct wrk_parser *p, int status);
	/* Free what the parser holds beyond struct wrk_parser (not P). */
	void (*release)(struct wrk_parser *p);
};

struct wrk_parser {
	const struct wrk_adapter_ops *ops;
	size_t line_max, frame_max;
	uint64_t seq;	     /* of the last frame made */
	uint64_t last_call;  /* the last call id given */
	uint64_t lines;	     /* newlines seen */
	struct wrk_buf line; /* the current line, when it spans feeds */
	bool skipping;	     /* the current line is too long: to its newline */
	bool hello_sent, ended;
	struct json_t *calls; /* the CLI's id of a call -> call: all started */
	struct json_t *open;  /* the same, of those still running */
	/* The last line that was not JSON (the CLI's stderr shares the
	 * pipe), printable: what a CLI that ended early said. */
	char said[SHOWN_MAX + 8];
	/* During one call of the API: */
	struct wrk_buf *out;
	int err; /* the errno that lost a message (ENOMEM) */
};

/* Set up P (zeroed by the caller) for a parser of OPS: 0, or -1 ENOMEM
 * (then wrk_parser_free() still frees it). */
int wrk_adapter_init(struct wrk_parser *p, const struct wrk_adapter_ops *ops,
		     size_t line_max, size_t frame_max);

/* Append M with the next seq: 0, 1 when it does not fit in a frame (OUT
 * unchanged), -1 when it cannot be encoded (p->err set). */
int wrk_adapter_emit(struct wrk_parser *p, struct wrk_msg *m);

/* A `log` message at LEVEL ("warn", "error"), cut to 511 bytes. */
void wrk_adapter_log(struct wrk_parser *p, const char *level, const char *fmt,
		     ...) __attribute__((format(printf, 3, 4)));

/*
 * Append M, whose member *SLOT holds LEN bytes (*LENP too, for an output),
 * cut at a UTF-8 boundary with a note saying so when the whole does not fit
 * in a frame; WHAT names it in the note. 0, 1 when even the note does not
 * fit (nothing appended), -1 on error.
 */
int wrk_adapter_emit_cut(struct wrk_parser *p, struct wrk_msg *m,
			 const char **slot, size_t *lenp, size_t len,
			 const char *what);

/* The call that the CLI's id REF (may be NULL) started in MAP (p->calls,
 * p->open); 0: none. */
uint64_t wrk_adapter_call_of(struct json_t *map, const char *ref);

/* Start the call REF of TOOL with the input INPUT (compact JSON; NULL:
 * none), inside the call PARENT (0: none): `tool.start`. */
void wrk_adapter_call_start(struct wrk_parser *p, const char *ref,
			    const char *tool, const char *input,
			    uint64_t parent);

/* The call CALL of REF completed with the output TEXT (NUL-terminated;
 * emptied and released here), failed with ERROR when not NULL:
 * `tool.complete`. */
void wrk_adapter_call_complete(struct wrk_parser *p, const char *ref,
			       uint64_t call, struct wrk_buf *text,
			       const char *error);

/* The `fail` of a stream that ended without the CLI's final event: "WHAT
 * (exit status N)" or "(killed by signal S)", the last line the agent
 * printed that was not JSON, and NOTE (may be NULL: "; NOTE"). */
void wrk_adapter_ended(struct wrk_parser *p, int status, const char *what,
		       const char *note);

/* The string member KEY of O (NULL: none, or not a string). */
const char *wrk_json_str(const struct json_t *o, const char *key);
/* The token count KEY of O: a non-negative integer, else 0. */
uint64_t wrk_json_count(const struct json_t *o, const char *key);
/* A + B, at most INT64_MAX (what the protocol takes). */
uint64_t wrk_count_add(uint64_t a, uint64_t b);

#endif /* SMITHERS_WORKER_ADAPTER_INT_H */
