/*
 * cond.c - `until` conditions (see cond.h) and the comparison of JSON values
 * they need.
 *
 * jansson parses the JSON texts, and the comparison walks the values it
 * builds. Numbers, though, are taken from the text: to jansson an integer
 * past 64 bits or a real past a double's range is an error, 9007199254740993.0
 * becomes 2^53, and json_equal() holds 1 and 1.0 different. So:
 * - before jansson sees a text, every number outside its strings is copied
 *   aside in an exact form (sign, significant digits without leading or
 *   trailing zeros, "" for zero, and a decimal exponent: DIGITS x 10^EXP)
 *   and overwritten with a 0 and spaces. jansson never refuses a number
 *   then, and an error it reports is where it is in the text as written.
 *   What the JSON grammar refuses ("01", "1.", "-") is not overwritten, or
 *   not wholly, and jansson refuses it as it stands. A number keeps what
 *   comes before and after it (a 0 glued to a stray '-' would be "-0":
 *   masking stops at one);
 * - walking the parsed value in text order (jansson keeps an object's
 *   members in the order they came), each 0 is set to the index of its
 *   number. Nesting deeper than SUP_JSON_DEPTH_MAX is refused there.
 *
 * Equality, so that equal values compare equal:
 * - two numbers are equal when their exact forms match; failing that, two
 *   numbers that are not both integers are compared as IEEE doubles, since
 *   a float that went through an encoder may come back as
 *   0.10000000000000001 for 0.1. Integers are never compared as doubles
 *   (2^53 + 1 stays different from 2^53);
 * - strings compare as bytes after unescaping (surrogate pairs joined, a
 *   lone surrogate refused, \u0000 kept); raw bytes must be UTF-8;
 * - objects whatever the order of their members; one that repeats a key is
 *   refused (which member would count is anyone's guess), and so is a key
 *   holding a NUL.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "supervisor/cond.h"

/* SUP_JSON_DEPTH_MAX in words, for a message that is a constant. */
#define TEXT_OF(x)     #x
#define TEXT_OF_MAX(x) TEXT_OF(x)
#define DEPTH_MAX_TEXT TEXT_OF_MAX(SUP_JSON_DEPTH_MAX)

#define JSON_FLAGS (JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL)

/* A decimal exponent is clamped here: far beyond any number a double can
 * hold, yet far from overflowing when digit counts are added to it. */
#define EXP_CLAMP ((int64_t)1 << 52)

/* A number in its exact form; its digits are in the text's digits buffer. */
struct jnum {
	size_t at, n; /* where its digits start, how many */
	int neg;      /* negative (never for zero) */
	int64_t exp;
};

/* One JSON text, parsed. */
struct jdoc {
	json_t *root; /* each number holds the index of its jnum */
	char *digits; /* the significant digits of every number */
	size_t ndigits;
	struct jnum *nums; /* in text order */
	size_t nnums, cap;
};

struct sup_cond {
	enum sup_cond_op op;
	char *key;
	char *json;	  /* NULL for the exists forms */
	struct jdoc want; /* parsed json */
};

static void jdoc_release(struct jdoc *doc)
{
	json_decref(doc->root);
	free(doc->digits);
	free(doc->nums);
	memset(doc, 0, sizeof(*doc));
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* The length of the JSON number at S (as much of it as the grammar takes),
 * 0 when none starts there. */
static size_t number_len(const char *s)
{
	const char *p = s, *q;

	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (is_digit(*p))
		while (is_digit(*p))
			p++;
	else
		return 0;
	if (*p == '.' && is_digit(p[1]))
		for (p++; is_digit(*p); p++)
			;
	if (*p == 'e' || *p == 'E') {
		q = p + 1;
		if (*q == '+' || *q == '-')
			q++;
		if (is_digit(*q))
			for (p = q; is_digit(*p); p++)
				;
	}
	return (size_t)(p - s);
}

/* Read the digits of an exponent, clamped to +-EXP_CLAMP. */
static int64_t read_exponent(const char *p, const char *end)
{
	int neg = 0;
	int64_t e = 0;

	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	for (; p < end; p++)
		if (e < EXP_CLAMP)
			e = e * 10 + (*p - '0');
	if (e > EXP_CLAMP)
		e = EXP_CLAMP;
	return neg ? -e : e;
}

/* Add the number of LEN bytes at S (which number_len() took) to DOC. */
static int add_number(struct jdoc *doc, const char *s, size_t len)
{
	const char *p = s, *end = s + len;
	char *d = doc->digits + doc->ndigits;
	size_t n = 0, nfrac = 0, trail = 0;
	struct jnum *num;
	int frac = 0;
	int64_t exp = 0;

	if (doc->nnums == doc->cap) {
		size_t cap = doc->cap ? 2 * doc->cap : 8;
		struct jnum *nums = realloc(doc->nums, cap * sizeof(*nums));

		if (!nums)
			return -1;
		doc->nums = nums;
		doc->cap = cap;
	}
	num = &doc->nums[doc->nnums++];
	num->neg = *p == '-';
	if (num->neg)
		p++;
	/* The digits in a row, less the leading zeros. */
	for (; p < end && *p != 'e' && *p != 'E'; p++) {
		if (*p == '.') {
			frac = 1;
			continue;
		}
		nfrac += frac;
		if (n || *p != '0')
			d[n++] = *p;
	}
	if (p < end)
		exp = read_exponent(p + 1, end);
	while (trail < n && d[n - 1 - trail] == '0')
		trail++;
	n -= trail;
	num->at = doc->ndigits;
	num->n = n;
	doc->ndigits += n;
	if (!n) {
		num->neg = 0;
		num->exp = 0;
	} else {
		num->exp = exp - (int64_t)nfrac + (int64_t)trail;
	}
	return 0;
}

/*
 * Copy TEXT into MASKED (as long) with every number outside its strings
 * added to DOC and overwritten with a 0 and spaces. Returns -1 on ENOMEM.
 */
static int mask_numbers(struct jdoc *doc, const char *text, char *masked)
{
	const char *p = text;
	size_t len;

	while (*p) {
		if (*p == '"') {
			for (p++; *p && *p != '"'; p++)
				if (*p == '\\' && p[1])
					p++;
			if (*p)
				p++;
			continue;
		}
		len = number_len(p);
		/* A '-' that starts no number is refused by jansson as it
		 * stands; masking on would turn "--1" into a valid "-0". */
		if (!len && *p == '-')
			break;
		if (!len) {
			p++;
			continue;
		}
		if (add_number(doc, p, len) < 0)
			return -1;
		masked[p - text] = '0';
		memset(masked + (p - text) + 1, ' ', len - 1);
		p += len;
	}
	return 0;
}

/* Give each number of V, in text order from *NEXT, the index of its jnum.
 * Returns NULL, or why V cannot be taken. */
static const char *number_walk(struct jdoc *doc, json_t *v, int depth,
			       size_t *next)
{
	const char *why;
	void *it;
	size_t i;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
	case JSON_ARRAY:
		if (depth >= SUP_JSON_DEPTH_MAX)
			return "nested deeper than " DEPTH_MAX_TEXT " levels";
		/* Of the two loops, the one for V's kind runs: the other
		 * finds no items. */
		for (i = 0; i < json_array_size(v); i++) {
			why = number_walk(doc, json_array_get(v, i), depth + 1,
					  next);
			if (why)
				return why;
		}
		for (it = json_object_iter(v); it;
		     it = json_object_iter_next(v, it)) {
			why = number_walk(doc, json_object_iter_value(it),
					  depth + 1, next);
			if (why)
				return why;
		}
		return NULL;
	case JSON_INTEGER:
	case JSON_REAL:
		/* Every number was masked to a 0: anything else is a bug of
		 * mask_numbers(), and fails closed. */
		if (*next >= doc->nnums || !json_is_integer(v))
			return "numbers out of step";
		json_integer_set(v, (json_int_t)(*next)++);
		return NULL;
	default:
		return NULL;
	}
}

/*
 * Parse TEXT into DOC. Returns 0, or -1 with errno EINVAL (and why in ERR)
 * or ENOMEM; DOC holds nothing then.
 */
static int jdoc_parse(struct jdoc *doc, const char *text, char *err,
		      size_t errlen)
{
	json_error_t e, e2;
	const char *why;
	char *masked;
	json_t *v;
	size_t next = 0;

	memset(doc, 0, sizeof(*doc));
	masked = strdup(text);
	doc->digits = malloc(strlen(text) + 1);
	if (!masked || !doc->digits || mask_numbers(doc, text, masked) < 0)
		goto nomem;
	doc->root = json_loads(masked, JSON_FLAGS, &e);
	free(masked);
	masked = NULL;
	if (!doc->root) {
		if (json_error_code(&e) == json_error_out_of_memory)
			goto nomem;
		/* The text as written names the token, not its 0, unless it
		 * was refused for a number that had to be masked. */
		v = json_loads(text, JSON_FLAGS, &e2);
		if (!v && json_error_code(&e2) != json_error_numeric_overflow &&
		    json_error_code(&e2) != json_error_out_of_memory)
			e = e2;
		json_decref(v);
		why = e.text;
		goto invalid;
	}
	why = number_walk(doc, doc->root, 0, &next);
	if (!why && next != doc->nnums)
		why = "numbers out of step";
	if (why)
		goto invalid;
	return 0;
invalid:
	if (err && errlen)
		snprintf(err, errlen, "%s", why);
	jdoc_release(doc);
	errno = EINVAL;
	return -1;
nomem:
	if (err && errlen)
		snprintf(err, errlen, "out of memory");
	free(masked);
	jdoc_release(doc);
	errno = ENOMEM;
	return -1;
}

/* A number as a double, made from digits and exponent only, so that the
 * locale's decimal point never matters. Digits past the 40th cannot change
 * the nearest double but in contrived halfway cases, so they are dropped. */
static double num_double(const struct jdoc *doc, const struct jnum *v)
{
	char buf[80];
	size_t n = v->n < 40 ? v->n : 40;

	if (!v->n)
		return 0.0;
	snprintf(buf, sizeof(buf), "%s%.*se%lld", v->neg ? "-" : "", (int)n,
		 doc->digits + v->at,
		 (long long)(v->exp + (int64_t)(v->n - n)));
	return strtod(buf, NULL);
}

static int num_equal(const struct jdoc *da, const struct jnum *a,
		     const struct jdoc *db, const struct jnum *b)
{
	double xa, xb;

	if (a->neg == b->neg && a->exp == b->exp && a->n == b->n &&
	    !memcmp(da->digits + a->at, db->digits + b->at, a->n))
		return 1;
	/* Integers (zero included) compare exactly. */
	if ((!a->n || a->exp >= 0) && (!b->n || b->exp >= 0))
		return 0;
	xa = num_double(da, a);
	xb = num_double(db, b);
	/* Beyond the range of a double (overflow to infinity, underflow of
	 * a number that is not zero), only exact equality counts. */
	if (xa - xa != 0 || xb - xb != 0 || (a->n && xa == 0) ||
	    (b->n && xb == 0))
		return 0;
	return xa == xb;
}

static int value_equal(const struct jdoc *da, json_t *a, const struct jdoc *db,
		       json_t *b)
{
	void *it;
	size_t i;

	if (json_typeof(a) != json_typeof(b))
		return 0;
	switch (json_typeof(a)) {
	case JSON_OBJECT:
		if (json_object_size(a) != json_object_size(b))
			return 0;
		for (it = json_object_iter(a); it;
		     it = json_object_iter_next(a, it)) {
			json_t *other =
				json_object_get(b, json_object_iter_key(it));

			if (!other ||
			    !value_equal(da, json_object_iter_value(it), db,
					 other))
				return 0;
		}
		return 1;
	case JSON_ARRAY:
		if (json_array_size(a) != json_array_size(b))
			return 0;
		for (i = 0; i < json_array_size(a); i++)
			if (!value_equal(da, json_array_get(a, i), db,
					 json_array_get(b, i)))
				return 0;
		return 1;
	case JSON_STRING:
		return json_string_length(a) == json_string_length(b) &&
		       !memcmp(json_string_value(a), json_string_value(b),
			       json_string_length(a));
	case JSON_INTEGER:
		return num_equal(da, &da->nums[(size_t)json_integer_value(a)],
				 db, &db->nums[(size_t)json_integer_value(b)]);
	default: /* null, true, false (a real cannot be: see the top) */
		return 1;
	}
}

int sup_json_check(const char *text, char *err, size_t errlen)
{
	struct jdoc doc;

	if (!text) {
		if (err && errlen)
			snprintf(err, errlen, "no JSON value");
		errno = EINVAL;
		return -1;
	}
	if (jdoc_parse(&doc, text, err, errlen) < 0)
		return -1;
	jdoc_release(&doc);
	return 0;
}

int sup_json_equal(const char *a, const char *b)
{
	struct jdoc da, db;
	int eq;

	if (!a || !b)
		return 0;
	if (jdoc_parse(&da, a, NULL, 0) < 0)
		goto invalid;
	if (jdoc_parse(&db, b, NULL, 0) < 0) {
		jdoc_release(&da);
		goto invalid;
	}
	eq = value_equal(&da, da.root, &db, db.root);
	jdoc_release(&da);
	jdoc_release(&db);
	return eq;
invalid:
	return errno == ENOMEM ? -1 : 0;
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
	       c == '\f';
}

static const char *skip_space(const char *p)
{
	while (is_space(*p))
		p++;
	return p;
}

static int is_operator(const char *p)
{
	return (p[0] == '=' || p[0] == '!') && p[1] == '=';
}

/* The end of the word at P: whitespace, an operator or the end. */
static const char *word_end(const char *p)
{
	while (*p && !is_space(*p) && !is_operator(p))
		p++;
	return p;
}

static int word_is(const char *p, const char *end, const char *word)
{
	size_t n = strlen(word);

	return (size_t)(end - p) == n && !strncmp(p, word, n);
}

/* Whether the word [P, END) is followed by an operator (and so is a key). */
static int before_operator(const char *end)
{
	return is_operator(skip_space(end));
}

static void cond_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void cond_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Copy the key [P, END) into C after checking it. */
static int take_key(struct sup_cond *c, const char *p, const char *end,
		    char *err, size_t errlen)
{
	const char *q;

	for (q = p; q < end; q++) {
		if ((unsigned char)*q < 0x20 || *q == 0x7f) {
			cond_err(err, errlen, "control character in key '%.*s'",
				 (int)(end - p), p);
			errno = EINVAL;
			return -1;
		}
	}
	c->key = strndup(p, (size_t)(end - p));
	if (!c->key) {
		cond_err(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* The exists forms: a key at P, then nothing. WHAT names what came before
 * the key, for messages. */
static int parse_exists(struct sup_cond *c, const char *p, const char *what,
			char *err, size_t errlen)
{
	const char *end;

	p = skip_space(p);
	end = word_end(p);
	if (end == p) {
		cond_err(err, errlen, "expected a key after '%s'", what);
		errno = EINVAL;
		return -1;
	}
	if (take_key(c, p, end, err, errlen) < 0)
		return -1;
	p = skip_space(end);
	if (*p) {
		cond_err(err, errlen, "unexpected '%s' after key '%s'", p,
			 c->key);
		errno = EINVAL;
		return -1;
	}
	return 0;
}

static int is_letter(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Whether TEXT starts with a word that is no JSON literal: a string
 * without its double quotes, the usual slip. */
static int unquoted_word(const char *text)
{
	static const char *const literals[] = {"null", "true", "false"};
	size_t n = 0, i;

	while (is_letter(text[n]))
		n++;
	if (!n)
		return 0;
	for (i = 0; i < sizeof(literals) / sizeof(literals[0]); i++)
		if (strlen(literals[i]) == n && !strncmp(text, literals[i], n))
			return 0;
	return 1;
}

/* KEY == JSON or KEY != JSON, the key being [P, END). */
static int parse_compare(struct sup_cond *c, const char *p, const char *end,
			 char *err, size_t errlen)
{
	char why[256];
	const char *q;
	size_t len;

	if (take_key(c, p, end, err, errlen) < 0)
		return -1;
	q = skip_space(end);
	if (!is_operator(q)) {
		cond_err(err, errlen, "expected '==' or '!=' after key '%s'",
			 c->key);
		errno = EINVAL;
		return -1;
	}
	c->op = q[0] == '=' ? SUP_COND_EQ : SUP_COND_NE;
	q = skip_space(q + 2);
	len = strlen(q);
	while (len && is_space(q[len - 1]))
		len--;
	if (!len) {
		cond_err(err, errlen, "expected a JSON value after '%s %s'",
			 c->key, c->op == SUP_COND_EQ ? "==" : "!=");
		errno = EINVAL;
		return -1;
	}
	c->json = strndup(q, len);
	if (!c->json) {
		cond_err(err, errlen, "out of memory");
		return -1;
	}
	if (jdoc_parse(&c->want, c->json, why, sizeof(why)) < 0) {
		if (errno == ENOMEM)
			cond_err(err, errlen, "out of memory");
		else if (unquoted_word(c->json))
			cond_err(err, errlen,
				 "invalid JSON value '%s': %s (a string needs "
				 "double quotes: \"%s\")",
				 c->json, why, c->json);
		else
			cond_err(err, errlen, "invalid JSON value '%s': %s",
				 c->json, why);
		return -1;
	}
	return 0;
}

struct sup_cond *sup_cond_parse(const char *text, char *err, size_t errlen)
{
	struct sup_cond *c;
	const char *p, *end, *q, *qend;
	int rc;

	if (!text || !*skip_space(text)) {
		cond_err(err, errlen,
			 "empty condition: expected 'KEY == JSON', "
			 "'KEY != JSON', 'exists KEY' or 'not exists KEY'");
		errno = EINVAL;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		cond_err(err, errlen, "out of memory");
		return NULL;
	}
	p = skip_space(text);
	end = word_end(p);
	if (end == p) {
		/* Text starting with an operator. */
		cond_err(err, errlen, "expected a key before '%.2s'", p);
		errno = EINVAL;
		rc = -1;
	} else if (word_is(p, end, "exists") && !before_operator(end)) {
		c->op = SUP_COND_EXISTS;
		rc = parse_exists(c, end, "exists", err, errlen);
	} else if (word_is(p, end, "not") && !before_operator(end)) {
		q = skip_space(end);
		qend = word_end(q);
		if (!word_is(q, qend, "exists")) {
			cond_err(err, errlen, "expected 'exists' after 'not'");
			errno = EINVAL;
			rc = -1;
		} else {
			c->op = SUP_COND_NOT_EXISTS;
			rc = parse_exists(c, qend, "not exists", err, errlen);
		}
	} else {
		rc = parse_compare(c, p, end, err, errlen);
	}
	if (rc < 0) {
		int saved = errno;

		sup_cond_free(c);
		errno = saved;
		return NULL;
	}
	return c;
}

void sup_cond_free(struct sup_cond *c)
{
	if (!c)
		return;
	jdoc_release(&c->want);
	free(c->key);
	free(c->json);
	free(c);
}

const char *sup_cond_key(const struct sup_cond *c)
{
	return c->key;
}

enum sup_cond_op sup_cond_op(const struct sup_cond *c)
{
	return c->op;
}

const char *sup_cond_json(const struct sup_cond *c)
{
	return c->json;
}

int sup_cond_eval(const struct sup_cond *c, const char *current)
{
	struct jdoc doc;
	int eq;

	switch (c->op) {
	case SUP_COND_EXISTS:
		return current != NULL;
	case SUP_COND_NOT_EXISTS:
		return current == NULL;
	case SUP_COND_EQ:
	case SUP_COND_NE:
		break;
	}
	if (!current) {
		eq = 0;
	} else if (jdoc_parse(&doc, current, NULL, 0) < 0) {
		if (errno == ENOMEM)
			return -1;
		eq = 0;
	} else {
		eq = value_equal(&c->want, c->want.root, &doc, doc.root);
		jdoc_release(&doc);
	}
	return c->op == SUP_COND_EQ ? eq : !eq;
}
