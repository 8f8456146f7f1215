/*
 * jscan.h - a small, strict JSON scanner for the hot path of the Claude
 * Code parser (claude.c): it walks a line without building anything, so
 * that the members the parser never reads cost a scan, not a parse.
 * Pure: no allocation, no I/O, private to worker/.
 *
 * It accepts a subset of what jansson (json_loadb, no flags) accepts and
 * refuses the rest: whatever it takes, jansson takes too and reads the
 * same way; what it refuses, the caller hands to jansson, which has the
 * last word. So it may refuse more than jansson does (integers of more
 * than 18 digits, reals that could overflow, nesting deeper than
 * JSCAN_DEPTH_MAX), never less.
 */
#ifndef SMITHERS_WORKER_JSCAN_H
#define SMITHERS_WORKER_JSCAN_H

#include <stdbool.h>
#include <stddef.h>

/* Deepest nesting taken (jansson's limit is 2048). */
#define JSCAN_DEPTH_MAX 512

/* A slice of the text: a string's bytes between its quotes (escapes not
 * decoded), or a whole value. */
struct jscan_slice {
	const char *p;
	size_t n;
};

/* The members of one object, in order; set up by jscan_object() or
 * jscan_members(). */
struct jscan_obj {
	const char *p, *end;
	int depth;
	bool first;
	bool scanned; /* the text was checked whole before: only walked */
};

/*
 * Start on the object VAL (a value slice from this scanner, or any text
 * whose first byte is its '{'): 0, or -1 when VAL is not an object.
 */
int jscan_object(struct jscan_obj *it, struct jscan_slice val);

/*
 * The next member of IT: its key (between the quotes) and its value
 * (valid: scanned whole). 1, 0 at the end of the object (then it->p is
 * past its '}'), -1 when the text is not JSON jscan takes.
 */
int jscan_next(struct jscan_obj *it, struct jscan_slice *key,
	       struct jscan_slice *val);

/* The items of an array, like the members of an object. */
int jscan_array(struct jscan_obj *it, struct jscan_slice val);
int jscan_next_item(struct jscan_obj *it, struct jscan_slice *val);

/*
 * Start on the object (jscan_members) or the array (jscan_items) VAL, a
 * value this scanner returned, so checked whole already: its members
 * (jscan_next) or items (jscan_next_item) are then found without checking
 * their text again, so that reading a member of a member costs a walk,
 * not a scan. 0, or -1 when VAL is not one.
 */
int jscan_members(struct jscan_obj *it, struct jscan_slice val);
int jscan_items(struct jscan_obj *it, struct jscan_slice val);

/* Nothing but JSON whitespace in S[0..N). */
bool jscan_blank(const char *s, size_t n);

/* VAL is a string, true, ... (its first byte says it: it was scanned). */
static inline bool jscan_is_string(struct jscan_slice val)
{
	return val.n && val.p[0] == '"';
}

static inline bool jscan_is_true(struct jscan_slice val)
{
	return val.n && val.p[0] == 't';
}

/* The string slice S (between its quotes, from the scanner: valid) has no
 * escape: its bytes are its value. */
bool jscan_plain(struct jscan_slice s);

/*
 * Decode the string slice S (between its quotes) into BUF (at least S.n + 1
 * bytes: a value is never longer than its text), NUL-terminated, its
 * length into *LEN: every escape, \uXXXX pairs as one character, in
 * UTF-8. 0, or -1 when S is not the text of a string jansson takes (an
 * unknown escape, a lone surrogate, \u0000, a control character, a
 * quote, bytes that are not UTF-8); BUF is then undefined.
 */
int jscan_decode(struct jscan_slice s, char *buf, size_t *len);

/* The value V (scanned) is an integer, in jansson's sense (no fraction,
 * no exponent): 1 and its value in *N, else 0. */
int jscan_integer(struct jscan_slice v, long long *n);

/*
 * The value V (scanned) is written as json_dumps(JSON_COMPACT |
 * JSON_ENCODE_ANY) writes what jansson reads from it, so that it can be
 * sent as it is: no whitespace, strings with no escape but \" \\ \b \f
 * \n \r \t, no real, no -0, no key twice in an object, nesting at most
 * 64 deep. When false, it may be so all the same.
 */
bool jscan_compact(struct jscan_slice v);

/* The string slice S (between its quotes), decoded, is NAME. */
bool jscan_equals(struct jscan_slice s, const char *name);

#endif /* SMITHERS_WORKER_JSCAN_H */
