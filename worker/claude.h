/*
 * claude.h - the smithers protocol spoken on behalf of an unmodified Claude
 * Code CLI: its standard output (`--output-format stream-json --verbose`,
 * one JSON object a line) turned into protocol frames. Pure: no I/O, no
 * clock; the worker feeds it the bytes it reads and writes the frames.
 *
 * What each line becomes is described in claude.c. Nothing here prints or
 * exits; the stream may hold anything and never makes the parser fail:
 * what it cannot understand becomes a `log` message. An adapter of the
 * layer of worker/adapter.h, which says how every adapter's stream goes;
 * the functions below are those of the layer, for this one.
 */
#ifndef SMITHERS_WORKER_CLAUDE_H
#define SMITHERS_WORKER_CLAUDE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "worker/adapter.h"
#include "worker/proto.h"

/* Longest line kept by default (bytes, its newline not counted). */
#define WRK_CLAUDE_LINE_MAX WRK_LINE_MAX

struct wrk_claude;

/* A parser whose lines hold at most LINE_MAX bytes (0: the default) and
 * whose frames hold at most FRAME_MAX body bytes (0, or above
 * WRK_FRAME_MAX: WRK_FRAME_MAX). NULL with errno ENOMEM. */
struct wrk_claude *wrk_claude_new(size_t line_max, size_t frame_max);
/* wrk_claude_free(NULL) is a no-op. */
void wrk_claude_free(struct wrk_claude *c);

/* C as a parser of the layer (wrk_parser_feed(), ...): the same object,
 * which wrk_parser_free() frees. */
struct wrk_parser *wrk_claude_parser(struct wrk_claude *c);

/* With FAST false (tests), every line is parsed whole by jansson: the
 * reference the fast path (on by default) matches byte for byte. */
void wrk_claude_set_fast(struct wrk_claude *c, bool fast);

/*
 * Append the stream's `hello` (v 1, PID when not 0) to OUT. Call it first;
 * a feed or end without it sends one without a pid. 0, or -1 with errno
 * ENOMEM, or EINVAL when the hello was sent already.
 */
int wrk_claude_hello(struct wrk_claude *c, int64_t pid, struct wrk_buf *out);

/*
 * Parse LEN bytes of the agent's output (any cut: a line may span feeds)
 * and append the frames they make to OUT, seq increasing. 0, or -1 with
 * errno ENOMEM (OUT holds the frames appended until then; what failed is
 * lost) or EINVAL after wrk_claude_end().
 */
int wrk_claude_feed(struct wrk_claude *c, const void *data, size_t len,
		    struct wrk_buf *out);

/*
 * The output ended and the agent with the wait status STATUS: parse a last
 * line without a newline, fail the calls still running ("interrupted"),
 * and without a `result` line, `fail` saying how the agent ended. Appends
 * to OUT like wrk_claude_feed(); once only (-1 EINVAL after).
 */
int wrk_claude_end(struct wrk_claude *c, int status, struct wrk_buf *out);

#endif /* SMITHERS_WORKER_CLAUDE_H */
