/*
 * cond.h - the `until` conditions of a workflow's phases: a test on one key
 * of the state that ends a phase's Ralph loop when it holds.
 *
 *	KEY == JSON	the key exists and its value equals JSON
 *	KEY != JSON	the key is absent, or its value differs from JSON
 *	exists KEY	the key exists (whatever its value, null included)
 *	not exists KEY	the key is absent
 *
 * KEY is a state key as agents write it: non-empty, no whitespace, no
 * control characters, ending at the first "==" or "!=" ("a==1" works).
 * Values are compared as JSON values, not as text: numbers by value
 * (1 == 1.0 == 10e-1), strings after unescaping ("\u0041" == "A"), objects
 * whatever the order of their members, arrays element by element. JSON is
 * RFC 8259 as jansson reads it: text is UTF-8, an object repeats no key.
 *
 * Errors: parsing returns NULL with errno set and a message in the caller's
 * buffer; nothing here prints or exits.
 */
#ifndef SMITHERS_SUP_COND_H
#define SMITHERS_SUP_COND_H

#include <stddef.h>

/* Deepest nesting of arrays and objects a JSON value may have. */
#define SUP_JSON_DEPTH_MAX 64

enum sup_cond_op {
	SUP_COND_EQ,	     /* KEY == JSON */
	SUP_COND_NE,	     /* KEY != JSON */
	SUP_COND_EXISTS,     /* exists KEY */
	SUP_COND_NOT_EXISTS, /* not exists KEY */
};

struct sup_cond;

/*
 * Parse the condition TEXT. Returns a new condition (free it with
 * sup_cond_free()), or NULL with errno EINVAL (or ENOMEM) and a message in
 * ERR (ERRLEN bytes; ERR may be NULL), e.g.
 * "expected '==' or '!=' after key 'x'".
 */
struct sup_cond *sup_cond_parse(const char *text, char *err, size_t errlen);

/* Free C; NULL is a no-op. */
void sup_cond_free(struct sup_cond *c);

/* The key C tests (borrowed, lives as long as C). */
const char *sup_cond_key(const struct sup_cond *c);

/* The operator of C. */
enum sup_cond_op sup_cond_op(const struct sup_cond *c);

/* The JSON value C compares with, as written (borrowed), or NULL for the
 * exists forms. */
const char *sup_cond_json(const struct sup_cond *c);

/*
 * Whether C holds when the key's current value is the JSON text CURRENT
 * (NULL: the key is absent). A CURRENT that is not valid JSON equals
 * nothing. Returns 1 (holds), 0 (does not), or -1 with errno ENOMEM.
 */
int sup_cond_eval(const struct sup_cond *c, const char *current);

/*
 * Compare the JSON texts A and B as values (the comparison of ==).
 * Returns 1 if both are valid and equal, 0 if not (an invalid text equals
 * nothing), -1 with errno ENOMEM.
 */
int sup_json_equal(const char *a, const char *b);

/*
 * Check that TEXT is one valid JSON value (surrounding whitespace allowed).
 * Returns 0, or -1 with errno EINVAL (and a message naming the problem and
 * the text near it in ERR, e.g. "unexpected token near '}'") or ENOMEM.
 */
int sup_json_check(const char *text, char *err, size_t errlen);

#endif /* SMITHERS_SUP_COND_H */
