/*
 * text.h - the text of an agent's stream made fit for a frame, private to
 * worker/ and shared by every adapter (worker/adapter.h): valid UTF-8, no
 * control characters, bounded. Pure functions.
 */
#ifndef SMITHERS_WORKER_TEXT_H
#define SMITHERS_WORKER_TEXT_H

#include <stddef.h>

/* Longest error message made of the stream's text (a tool's output, a
 * result), in bytes. */
#define WRK_TEXT_ERROR_MAX 1000

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
 * at most WRK_TEXT_ERROR_MAX bytes, in a new string (the caller frees
 * it); NULL when it is empty or memory is short. */
char *wrk_text_first_line(const char *s, size_t n);

#endif /* SMITHERS_WORKER_TEXT_H */
