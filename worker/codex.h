/*
 * codex.h - the smithers protocol spoken on behalf of an unmodified Codex
 * CLI: the output of `codex exec --json` (one JSON event a line) turned
 * into protocol frames. An adapter of the layer of worker/adapter.h,
 * which says how every adapter's stream goes; what each event becomes is
 * described in codex.c. Pure: no I/O, no clock. Nothing here prints or
 * exits; the stream never makes the parser fail.
 */
#ifndef SMITHERS_WORKER_CODEX_H
#define SMITHERS_WORKER_CODEX_H

#include <stddef.h>

#include "worker/adapter.h"

/*
 * A parser of `codex exec --json` whose lines hold at most LINE_MAX bytes
 * (0: WRK_LINE_MAX) and whose frames hold at most FRAME_MAX body bytes (0:
 * WRK_FRAME_MAX). Driven and freed through the layer: wrk_parser_hello(),
 * wrk_parser_feed(), wrk_parser_end(), wrk_parser_free(). NULL with errno
 * ENOMEM.
 */
struct wrk_parser *wrk_codex_new(size_t line_max, size_t frame_max);

#endif /* SMITHERS_WORKER_CODEX_H */
