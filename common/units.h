/*
 * units.h - the one grammar of values with units that every front end
 * (the workflow file, `smithers db gc`, smithers-top) reads: durations,
 * sizes, whole numbers and signals. smithers.ini(5) documents it; the
 * other manuals point there.
 *
 * Parsers take the whole string (no blanks around, no sign unless said),
 * store the value only on success, and fail with errno EINVAL (not of the
 * form) or ERANGE (of the form, but too large or out of the range asked).
 */
#ifndef SMITHERS_COMMON_UNITS_H
#define SMITHERS_COMMON_UNITS_H

#include <stddef.h>
#include <stdint.h>

/*
 * A duration into *MS: a whole or decimal number, optional blanks, and one
 * unit of ms, s, m, h, d (24h) or w (7d), or none for seconds: "250ms",
 * "1.5s", "2m", "12h", "30d", "2w", "30". It must come to a whole number
 * of milliseconds ("0.0001s" is EINVAL). 0, or -1 with EINVAL or ERANGE
 * (past INT64_MAX ms).
 */
int cm_parse_duration(const char *text, int64_t *ms);

/*
 * A size into *BYTES: a whole or decimal number, optional blanks, and
 * optionally K, M or G (or KiB, MiB, GiB; any case), multiples of 1024:
 * "512", "64K", "1.5K", "10MiB". It must come to a whole number of bytes.
 * 0, or -1 with EINVAL or ERANGE (past INT64_MAX).
 */
int cm_parse_size(const char *text, int64_t *bytes);

/* BYTES as cm_parse_size() reads it, for messages: in the largest of G,
 * M, K that divides it ("2G", "1536M"), else with one decimal of the
 * largest unit below it ("1.2G"), else in bytes ("100"). BUF: 24 bytes. */
char *cm_format_size(int64_t bytes, char *buf, size_t len);

/*
 * A decimal whole number, optionally after '-', in [MIN, MAX] into *OUT.
 * 0, or -1 with EINVAL (not one) or ERANGE (outside the range).
 */
int cm_parse_int(const char *text, int64_t min, int64_t max, int64_t *out);

/*
 * The number of the signal named NAME: "TERM", "SIGTERM", "term" (any
 * case, with or without SIG); every standard signal of the system has
 * its name. The number, or -1 with errno EINVAL.
 */
int cm_signal_number(const char *name);

/* The name of signal SIG without SIG ("TERM"; static), or NULL with errno
 * EINVAL when it has none in the table (0, realtime signals). */
const char *cm_signal_name(int sig);

/*
 * A signal given by name (as cm_signal_number()) or by its decimal number
 * from 1 to NSIG - 1. The number, or -1 with errno EINVAL (neither) or
 * ERANGE (a number outside that range).
 */
int cm_parse_signal(const char *text);

#endif /* SMITHERS_COMMON_UNITS_H */
