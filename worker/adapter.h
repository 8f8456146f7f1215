/*
 * adapter.h - the smithers protocol spoken on behalf of an unmodified agent
 * CLI (an adapter: --claude, --codex), from what it prints on its standard
 * output, one JSON object a line. The worker knows the adapters by name
 * (enum wrk_adapter, worker/ctl.h) and drives them all through this API.
 * Pure: no I/O, no clock; the worker feeds the bytes it reads and writes
 * the frames.
 *
 * Every adapter makes the same stream: `hello` first, seq increasing,
 * every frame at most frame_max bytes; a line longer than line_max and a
 * line that is not JSON become `log` messages; calls still running at the
 * end fail ("interrupted"); a stream that ends without the CLI's final
 * event fails saying how the agent ended. What each CLI's lines become is
 * described in its parser (worker/claude.c, worker/codex.c). Nothing here
 * prints or exits; the stream never makes the parser fail.
 */
#ifndef SMITHERS_WORKER_ADAPTER_H
#define SMITHERS_WORKER_ADAPTER_H

#include <stddef.h>
#include <stdint.h>

#include "worker/ctl.h"
#include "worker/proto.h"

/* Longest line kept by default (bytes, its newline not counted). */
#define WRK_LINE_MAX ((size_t)64 * 1024 * 1024)

struct wrk_parser;

/* The CLI's name of adapter A ("claude", "codex"); "none" or "?". */
const char *wrk_adapter_name(enum wrk_adapter a);

/*
 * A parser of adapter A whose lines hold at most LINE_MAX bytes (0: the
 * default) and whose frames hold at most FRAME_MAX body bytes (0, or above
 * WRK_FRAME_MAX: WRK_FRAME_MAX). NULL with errno ENOMEM, or EINVAL when A
 * is no adapter.
 */
struct wrk_parser *wrk_parser_new(enum wrk_adapter a, size_t line_max,
				  size_t frame_max);
/* wrk_parser_free(NULL) is a no-op. */
void wrk_parser_free(struct wrk_parser *p);

/*
 * Append the stream's `hello` (v 1, PID when not 0) to OUT. Call it first;
 * a feed or end without it sends one without a pid. 0, or -1 with errno
 * ENOMEM, or EINVAL when the hello was sent already.
 */
int wrk_parser_hello(struct wrk_parser *p, int64_t pid, struct wrk_buf *out);

/*
 * Parse LEN bytes of the agent's output (any cut: a line may span feeds)
 * and append the frames they make to OUT, seq increasing. 0, or -1 with
 * errno ENOMEM (OUT holds the frames appended until then; what failed is
 * lost) or EINVAL after wrk_parser_end().
 */
int wrk_parser_feed(struct wrk_parser *p, const void *data, size_t len,
		    struct wrk_buf *out);

/*
 * The output ended and the agent with the wait status STATUS: parse a last
 * line without a newline, fail the calls still running ("interrupted"),
 * and without the CLI's final event, `fail` saying how the agent ended.
 * Appends to OUT like wrk_parser_feed(); once only (-1 EINVAL after).
 */
int wrk_parser_end(struct wrk_parser *p, int status, struct wrk_buf *out);

#endif /* SMITHERS_WORKER_ADAPTER_H */
