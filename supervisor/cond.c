/*
 * cond.c - `until` conditions (see cond.h) and the small JSON value parser
 * and comparator they need.
 *
 * The parser turns one JSON text into a tree (struct jval) and stops at the
 * first problem, remembering what it was and at which byte offset. It is
 * written for hostile input: nesting deeper than SUP_JSON_DEPTH_MAX is an
 * error (so recursion is bounded), every size comes from bytes actually
 * read, and no input makes it read past the terminating NUL.
 *
 * Normal forms, so that equal values compare equal:
 * - a number is kept exactly as sign, significant digits (no leading or
 *   trailing zeros; "" for zero, which has no sign) and a decimal exponent:
 *   value = DIGITS x 10^EXP. Two numbers are equal when these match; failing
 *   that, two numbers that are not both integers are compared as IEEE
 *   doubles, since a float that went through an encoder may come back as
 *   0.10000000000000001 for 0.1. Integers are never compared as doubles
 *   (2^53 + 1 stays different from 2^53).
 * - a string is kept unescaped (UTF-8 from \u escapes, surrogate pairs
 *   joined) with its length, as it may hold NUL bytes; a lone surrogate is
 *   an error. Raw bytes are not checked for valid UTF-8: they compare as
 *   bytes.
 * - an object's members are sorted by key; an object that repeats a key is
 *   an error (which member would count is anyone's guess).
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/grow.h"
#include "supervisor/cond.h"

enum jtype { J_NULL, J_FALSE, J_TRUE, J_NUM, J_STR, J_ARR, J_OBJ };

struct jmember;

/* One JSON value. */
struct jval {
	enum jtype type;
	/* J_STR: bytes (NUL-terminated, may contain NUL); J_NUM: digits. */
	char *s;
	/* J_STR, J_NUM: length of s; J_ARR, J_OBJ: number of elements. */
	size_t n;
	int neg;		 /* J_NUM: negative (never for zero) */
	int64_t exp;		 /* J_NUM: decimal exponent */
	struct jval *items;	 /* J_ARR */
	struct jmember *members; /* J_OBJ, sorted by key */
};

struct jmember {
	struct jval key; /* J_STR */
	struct jval val;
};

struct jparser {
	const char *start;
	const char *p;
	const char *why; /* the first problem, NULL while there is none */
	size_t at;	 /* its byte offset */
	int nomem;
};

/* A decimal exponent is clamped here: far beyond any number a double can
 * hold, yet far from overflowing when digit counts are added to it. */
#define EXP_CLAMP ((int64_t)1 << 52)

struct sup_cond {
	enum sup_cond_op op;
	char *key;
	char *json;	  /* NULL for the exists forms */
	struct jval want; /* parsed json */
};

static void jval_release(struct jval *v);

static void jmember_release(struct jmember *m)
{
	jval_release(&m->key);
	jval_release(&m->val);
}

static void jval_release(struct jval *v)
{
	size_t i;

	if (v->type == J_ARR) {
		for (i = 0; i < v->n; i++)
			jval_release(&v->items[i]);
		free(v->items);
	} else if (v->type == J_OBJ) {
		for (i = 0; i < v->n; i++)
			jmember_release(&v->members[i]);
		free(v->members);
	}
	free(v->s);
	memset(v, 0, sizeof(*v));
}

static int jfail(struct jparser *jp, const char *at, const char *why)
{
	if (!jp->why) {
		jp->why = why;
		jp->at = (size_t)(at - jp->start);
	}
	return -1;
}

static int jnomem(struct jparser *jp)
{
	jp->nomem = 1;
	return jfail(jp, jp->p, "out of memory");
}

static int is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void skip_ws(struct jparser *jp)
{
	while (is_ws(*jp->p))
		jp->p++;
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int parse_literal(struct jparser *jp, struct jval *v)
{
	static const struct {
		const char *word;
		enum jtype type;
	} words[] = {{"null", J_NULL}, {"false", J_FALSE}, {"true", J_TRUE}};
	size_t i, len;

	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		len = strlen(words[i].word);
		if (strncmp(jp->p, words[i].word, len) == 0) {
			v->type = words[i].type;
			jp->p += len;
			return 0;
		}
	}
	return jfail(jp, jp->p, "expected a value");
}

/* Read the digits of an exponent, clamped to +-EXP_CLAMP. */
static int64_t read_exponent(const char **pp)
{
	const char *p = *pp;
	int neg = 0;
	int64_t e = 0;

	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	for (; is_digit(*p); p++)
		if (e < EXP_CLAMP)
			e = e * 10 + (*p - '0');
	*pp = p;
	if (e > EXP_CLAMP)
		e = EXP_CLAMP;
	return neg ? -e : e;
}

static int parse_number(struct jparser *jp, struct jval *v)
{
	const char *p = jp->p, *int_start, *frac_start = NULL;
	size_t nint, nfrac = 0, ndig, lead, trail;
	int64_t exp = 0;
	char *d;
	size_t i;

	v->type = J_NUM;
	if (*p == '-') {
		v->neg = 1;
		p++;
	}
	int_start = p;
	if (*p == '0') {
		p++;
	} else if (is_digit(*p)) {
		while (is_digit(*p))
			p++;
	} else {
		return jfail(jp, p, "expected a digit");
	}
	nint = (size_t)(p - int_start);
	if (*p == '.') {
		p++;
		frac_start = p;
		while (is_digit(*p))
			p++;
		nfrac = (size_t)(p - frac_start);
		if (!nfrac)
			return jfail(jp, p, "expected a digit after '.'");
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if ((*p == '+' || *p == '-') ? !is_digit(p[1]) : !is_digit(*p))
			return jfail(jp, p, "expected a digit in the exponent");
		exp = read_exponent(&p);
	}
	jp->p = p;

	/* All digits in a row, then drop the zeros that carry no value. */
	ndig = nint + nfrac;
	d = malloc(ndig + 1);
	if (!d)
		return jnomem(jp);
	memcpy(d, int_start, nint);
	if (nfrac)
		memcpy(d + nint, frac_start, nfrac);
	d[ndig] = '\0';
	for (lead = 0; lead < ndig && d[lead] == '0'; lead++)
		;
	for (trail = 0; trail < ndig - lead && d[ndig - 1 - trail] == '0';
	     trail++)
		;
	ndig -= lead + trail;
	for (i = 0; i < ndig; i++)
		d[i] = d[lead + i];
	d[ndig] = '\0';
	v->s = d;
	v->n = ndig;
	if (!ndig) {
		v->neg = 0;
		v->exp = 0;
	} else {
		v->exp = exp - (int64_t)nfrac + (int64_t)trail;
	}
	return 0;
}

static int hex4(const char *p, unsigned *out)
{
	unsigned v = 0;
	int i;

	for (i = 0; i < 4; i++) {
		char c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

static size_t put_utf8(char *out, unsigned cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Decode the escape after a backslash at P into OUT (room for 4 bytes);
 * returns the bytes written and moves P past the escape, or -1. */
static int parse_escape(struct jparser *jp, const char **pp, char *out)
{
	const char *p = *pp;
	unsigned cp, lo;

	switch (*p) {
	case '"':
	case '\\':
	case '/':
		out[0] = *p;
		break;
	case 'b':
		out[0] = '\b';
		break;
	case 'f':
		out[0] = '\f';
		break;
	case 'n':
		out[0] = '\n';
		break;
	case 'r':
		out[0] = '\r';
		break;
	case 't':
		out[0] = '\t';
		break;
	case 'u':
		if (hex4(p + 1, &cp) < 0)
			return jfail(jp, p,
				     "expected 4 hex digits after '\\u'");
		p += 5;
		if (cp >= 0xdc00 && cp <= 0xdfff)
			return jfail(jp, p - 6, "lone low surrogate");
		if (cp >= 0xd800 && cp <= 0xdbff) {
			if (p[0] != '\\' || p[1] != 'u' ||
			    hex4(p + 2, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
				return jfail(jp, p - 6, "lone high surrogate");
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			p += 6;
		}
		*pp = p;
		return (int)put_utf8(out, cp);
	default:
		return jfail(jp, p - 1, "invalid escape");
	}
	*pp = p + 1;
	return 1;
}

static int parse_string(struct jparser *jp, struct jval *v)
{
	const char *p = jp->p + 1, *end;
	char *out;
	size_t n = 0;
	int k;

	/* Find the closing quote first: the text decodes to no more bytes
	 * than it spans. */
	for (end = p; *end != '"'; end++) {
		if (!*end)
			return jfail(jp, jp->p, "unterminated string");
		if ((unsigned char)*end < 0x20)
			return jfail(jp, end, "control character in string");
		if (*end == '\\' && end[1])
			end++;
	}
	out = malloc((size_t)(end - p) + 1);
	if (!out)
		return jnomem(jp);
	while (p < end) {
		if (*p != '\\') {
			out[n++] = *p++;
			continue;
		}
		p++;
		k = parse_escape(jp, &p, out + n);
		if (k < 0) {
			free(out);
			return -1;
		}
		n += (size_t)k;
	}
	out[n] = '\0';
	v->type = J_STR;
	v->s = out;
	v->n = n;
	jp->p = end + 1;
	return 0;
}

static int parse_value(struct jparser *jp, struct jval *v, int depth);

static int parse_array(struct jparser *jp, struct jval *v, int depth)
{
	size_t cap = 0;
	void *items = NULL;

	v->type = J_ARR;
	jp->p++;
	skip_ws(jp);
	if (*jp->p == ']') {
		jp->p++;
		return 0;
	}
	for (;;) {
		if (cm_grow(&items, &cap, v->n, sizeof(struct jval)) < 0) {
			v->items = items;
			return jnomem(jp);
		}
		v->items = items;
		/* Counted before it is parsed, so that a failure frees what
		 * it holds. */
		v->n++;
		if (parse_value(jp, &v->items[v->n - 1], depth + 1) < 0)
			return -1;
		skip_ws(jp);
		if (*jp->p == ']') {
			jp->p++;
			return 0;
		}
		if (*jp->p != ',')
			return jfail(jp, jp->p, "expected ',' or ']'");
		jp->p++;
	}
}

static int cmp_bytes(const struct jval *a, const struct jval *b)
{
	size_t n = a->n < b->n ? a->n : b->n;
	int c = memcmp(a->s, b->s, n);

	if (c)
		return c;
	return (a->n > b->n) - (a->n < b->n);
}

static int cmp_members(const void *a, const void *b)
{
	return cmp_bytes(&((const struct jmember *)a)->key,
			 &((const struct jmember *)b)->key);
}

static int parse_object(struct jparser *jp, struct jval *v, int depth)
{
	size_t cap = 0, i;
	void *members = NULL;
	struct jmember *m;

	v->type = J_OBJ;
	jp->p++;
	skip_ws(jp);
	if (*jp->p == '}') {
		jp->p++;
		return 0;
	}
	for (;;) {
		if (cm_grow(&members, &cap, v->n, sizeof(struct jmember)) <
		    0) {
			v->members = members;
			return jnomem(jp);
		}
		v->members = members;
		m = &v->members[v->n];
		if (*jp->p != '"')
			return jfail(jp, jp->p, "expected a string key");
		/* Count the member as soon as it owns memory, so that a
		 * failure below frees what it holds. */
		v->n++;
		if (parse_string(jp, &m->key) < 0)
			return -1;
		skip_ws(jp);
		if (*jp->p != ':')
			return jfail(jp, jp->p, "expected ':'");
		jp->p++;
		if (parse_value(jp, &m->val, depth + 1) < 0)
			return -1;
		skip_ws(jp);
		if (*jp->p == '}')
			break;
		if (*jp->p != ',')
			return jfail(jp, jp->p, "expected ',' or '}'");
		jp->p++;
		skip_ws(jp);
	}
	qsort(v->members, v->n, sizeof(struct jmember), cmp_members);
	for (i = 1; i < v->n; i++)
		if (!cmp_members(&v->members[i - 1], &v->members[i]))
			return jfail(jp, jp->p, "duplicate key in object");
	jp->p++;
	return 0;
}

static int parse_value(struct jparser *jp, struct jval *v, int depth)
{
	skip_ws(jp);
	switch (*jp->p) {
	case '{':
	case '[':
		if (depth >= SUP_JSON_DEPTH_MAX)
			return jfail(jp, jp->p, "nested too deeply");
		if (*jp->p == '{')
			return parse_object(jp, v, depth);
		return parse_array(jp, v, depth);
	case '"':
		return parse_string(jp, v);
	case '-':
	case '0':
	case '1':
	case '2':
	case '3':
	case '4':
	case '5':
	case '6':
	case '7':
	case '8':
	case '9':
		return parse_number(jp, v);
	case '\0':
		return jfail(jp, jp->p, "expected a value, found the end");
	default:
		return parse_literal(jp, v);
	}
}

/* Parse all of TEXT as one value into V (released on failure). */
static int parse_text(struct jparser *jp, const char *text, struct jval *v)
{
	memset(jp, 0, sizeof(*jp));
	memset(v, 0, sizeof(*v));
	jp->start = jp->p = text;
	if (parse_value(jp, v, 0) == 0) {
		skip_ws(jp);
		if (!*jp->p)
			return 0;
		jfail(jp, jp->p, "unexpected text after the value");
	}
	jval_release(v);
	return -1;
}

/* A number as a double, made from digits and exponent only, so that the
 * locale's decimal point never matters. Digits past the 40th cannot change
 * the nearest double but in contrived halfway cases, so they are dropped. */
static double num_double(const struct jval *v)
{
	char buf[80];
	size_t n = v->n < 40 ? v->n : 40;

	if (!v->n)
		return 0.0;
	snprintf(buf, sizeof(buf), "%s%.*se%lld", v->neg ? "-" : "", (int)n,
		 v->s, (long long)(v->exp + (int64_t)(v->n - n)));
	return strtod(buf, NULL);
}

static int num_equal(const struct jval *a, const struct jval *b)
{
	double da, db;

	if (a->neg == b->neg && a->exp == b->exp && a->n == b->n &&
	    !memcmp(a->s, b->s, a->n))
		return 1;
	/* Integers (zero included) compare exactly. */
	if ((!a->n || a->exp >= 0) && (!b->n || b->exp >= 0))
		return 0;
	da = num_double(a);
	db = num_double(b);
	/* Beyond the range of a double (overflow to infinity, underflow of
	 * a number that is not zero), only exact equality counts. */
	if (da - da != 0 || db - db != 0 || (a->n && da == 0) ||
	    (b->n && db == 0))
		return 0;
	return da == db;
}

static int jval_equal(const struct jval *a, const struct jval *b)
{
	size_t i;

	if (a->type != b->type)
		return 0;
	switch (a->type) {
	case J_NULL:
	case J_FALSE:
	case J_TRUE:
		return 1;
	case J_NUM:
		return num_equal(a, b);
	case J_STR:
		return a->n == b->n && !memcmp(a->s, b->s, a->n);
	case J_ARR:
		if (a->n != b->n)
			return 0;
		for (i = 0; i < a->n; i++)
			if (!jval_equal(&a->items[i], &b->items[i]))
				return 0;
		return 1;
	case J_OBJ:
		/* Both sorted by key, and keys are unique. */
		if (a->n != b->n)
			return 0;
		for (i = 0; i < a->n; i++)
			if (cmp_bytes(&a->members[i].key, &b->members[i].key) ||
			    !jval_equal(&a->members[i].val, &b->members[i].val))
				return 0;
		return 1;
	}
	return 0;
}

int sup_json_check(const char *text, char *err, size_t errlen)
{
	struct jparser jp;
	struct jval v;

	if (!text) {
		if (err && errlen)
			snprintf(err, errlen, "no JSON value");
		errno = EINVAL;
		return -1;
	}
	if (parse_text(&jp, text, &v) < 0) {
		if (err && errlen)
			snprintf(err, errlen, "%s at offset %zu", jp.why,
				 jp.at);
		errno = jp.nomem ? ENOMEM : EINVAL;
		return -1;
	}
	jval_release(&v);
	return 0;
}

int sup_json_equal(const char *a, const char *b)
{
	struct jparser jp;
	struct jval va, vb;
	int eq;

	if (!a || !b)
		return 0;
	if (parse_text(&jp, a, &va) < 0)
		goto invalid;
	if (parse_text(&jp, b, &vb) < 0) {
		jval_release(&va);
		goto invalid;
	}
	eq = jval_equal(&va, &vb);
	jval_release(&va);
	jval_release(&vb);
	return eq;
invalid:
	if (jp.nomem) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
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

/* KEY == JSON or KEY != JSON, the key being [P, END). */
static int parse_compare(struct sup_cond *c, const char *p, const char *end,
			 char *err, size_t errlen)
{
	struct jparser jp;
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
	if (parse_text(&jp, c->json, &c->want) < 0) {
		if (jp.nomem) {
			cond_err(err, errlen, "out of memory");
			errno = ENOMEM;
			return -1;
		}
		/* The usual slip: a string without its quotes. */
		if (is_letter(c->json[0]) && jp.at == 0)
			cond_err(err, errlen,
				 "invalid JSON value '%s': %s at offset %zu "
				 "(a string needs double quotes: \"%s\")",
				 c->json, jp.why, jp.at, c->json);
		else
			cond_err(err, errlen,
				 "invalid JSON value '%s': %s at offset %zu",
				 c->json, jp.why, jp.at);
		errno = EINVAL;
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
	jval_release(&c->want);
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
	struct jparser jp;
	struct jval v;
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
	} else if (parse_text(&jp, current, &v) < 0) {
		if (jp.nomem) {
			errno = ENOMEM;
			return -1;
		}
		eq = 0;
	} else {
		eq = jval_equal(&c->want, &v);
		jval_release(&v);
	}
	return c->op == SUP_COND_EQ ? eq : !eq;
}
