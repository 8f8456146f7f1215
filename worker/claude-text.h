/*
 * claude-text.h - the words of the Claude Code parser (claude.c), private
 * to worker/: the stream's text made fit for a frame (valid UTF-8, no
 * control characters, bounded), and why a run failed, from its result
 * line. Pure functions; jansson's json_t is only named here.
 */
#ifndef SMITHERS_WORKER_CLAUDE_TEXT_H
#define SMITHERS_WORKER_CLAUDE_TEXT_H

#include <stddef.h>

struct json_t;

/* Longest error message made of the stream's text (a tool's output, a
 * result), in bytes. */
#define WRK_CLAUDE_ERROR_MAX 1000

/* N cut back so that S[0..N) does not end inside a UTF-8 sequence; S[N]
 * is read, so S holds more than N bytes (or a NUL at S[N]). */
size_t wrk_text_cut(const char *s, size_t n);

/* Cut the NUL-terminated S before a UTF-8 sequence its end cuts short
 * (snprintf cuts by bytes). */
void wrk_text_trim(char *s);

/* Up to MAX bytes of S (N bytes) into BUF (MAX + 4 bytes at least), fit
 * for a log line: valid UTF-8 kept, other bytes and control characters as
 * '?', "..." when cut short; NUL-terminated. */
void wrk_text_printable(char *buf, size_t max, const char *s, size_t n);

/* The first line of S (N bytes, valid UTF-8) without surrounding blanks,
 * at most WRK_CLAUDE_ERROR_MAX bytes, in a new string (the caller frees
 * it); NULL when it is empty or memory is short. */
char *wrk_text_first_line(const char *s, size_t n);

/* Why the run that RESULT (a `result` line, borrowed) describes failed,
 * short and clear, into BUF (SIZE bytes): "reached max turns (3)", "API
 * error: overloaded (529)", ... Valid UTF-8, NUL-terminated. */
void wrk_claude_fail_reason(const struct json_t *result, char *buf,
			    size_t size);

#endif /* SMITHERS_WORKER_CLAUDE_TEXT_H */
