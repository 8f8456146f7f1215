/*
 * claude-text.h - the words of the Claude Code parser (claude.c), private
 * to worker/: why a run failed, from its result line. The stream's text
 * is made fit for a frame by worker/text.h. jansson's json_t is only
 * named here.
 */
#ifndef SMITHERS_WORKER_CLAUDE_TEXT_H
#define SMITHERS_WORKER_CLAUDE_TEXT_H

#include <stddef.h>

#include "worker/text.h"

struct json_t;

/* Longest error message made of the stream's text, in bytes. */
#define WRK_CLAUDE_ERROR_MAX WRK_TEXT_ERROR_MAX

/* Why the run that RESULT (a `result` line, borrowed) describes failed,
 * short and clear, into BUF (SIZE bytes): "reached max turns (3)", "API
 * error: overloaded (529)", ... Valid UTF-8, NUL-terminated. */
void wrk_claude_fail_reason(const struct json_t *result, char *buf,
			    size_t size);

#endif /* SMITHERS_WORKER_CLAUDE_TEXT_H */
