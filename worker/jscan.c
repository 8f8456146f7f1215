/*
 * jscan.c - the strict JSON scanner of jscan.h: RFC 8259 as jansson reads
 * it (json_loadb without flags), walked in place.
 *
 * Strings are checked as jansson checks them: no control character, only
 * the escapes " \ / b f n r t uXXXX, \u0000 refused, a \uD800-\uDBFF only
 * followed by a \uDC00-\uDFFF and never a lone one of those, raw bytes
 * valid UTF-8 (no overlong form, no surrogate, nothing past U+10FFFF).
 * Plain ASCII is skipped eight bytes at a time: a word is looked at byte
 * by byte only when one of its bytes is a quote, a backslash, a control
 * character or above 0x7f. Numbers follow the JSON grammar; those jansson
 * could refuse as out of range are refused here without asking (an
 * integer of more than 18 digits, a real that might overflow a double).
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "worker/jscan.h"

static const char *skip_value(const char *p, const char *end, int depth);

static const char *skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

bool jscan_blank(const char *s, size_t n)
{
	return skip_ws(s, s + n) == s + n;
}

#define ONES  0x0101010101010101u
#define HIGHS 0x8080808080808080u

/* Not 0 when a byte of X is a quote, a backslash, below 0x20 or above
 * 0x7f (a byte above a true one may be flagged too: no matter). */
static inline uint64_t special(uint64_t x)
{
	uint64_t q = x ^ (ONES * '"'), b = x ^ (ONES * '\\');

	return (((x - ONES * 0x20) & ~x) | ((q - ONES) & ~q) |
		((b - ONES) & ~b) | x) &
	       HIGHS;
}

/* How many bytes of a word come before the first one that special()
 * flagged (X not 0): the lowest flag is exact, those above it may not be. */
static inline size_t first_flagged(uint64_t x)
{
#if defined(__GNUC__) && defined(__BYTE_ORDER__) &&                            \
	__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return (size_t)__builtin_ctzll(x) / 8;
#else
	(void)x;
	return 0; /* byte by byte from here */
#endif
}

/* Bytes of the valid UTF-8 sequence at P (its first byte above 0x7f),
 * 0 when it is not one. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
	unsigned b = p[0];
	uint32_t cp;
	size_t k, i;

	if (b < 0xc2 || b > 0xf4)
		return 0;
	k = b < 0xe0 ? 2 : b < 0xf0 ? 3 : 4;
	if ((size_t)(end - p) < k)
		return 0;
	cp = b & (0x7fu >> k);
	for (i = 1; i < k; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if (k == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)))
		return 0;
	if (k == 4 && (cp < 0x10000 || cp > 0x10ffff))
		return 0;
	return k;
}

/* The four hex digits at P, -1 when they are not. */
static long hex4(const char *p)
{
	long v = 0;
	int i, c, d;

	for (i = 0; i < 4; i++) {
		c = (unsigned char)p[i];
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			d = (c | 0x20) - 'a' + 10;
		else
			return -1;
		v = v * 16 + d;
	}
	return v;
}

static char *put_utf8(char *o, long cp)
{
	if (cp < 0x80) {
		*o++ = (char)cp;
	} else if (cp < 0x800) {
		*o++ = (char)(0xc0 | cp >> 6);
		*o++ = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		*o++ = (char)(0xe0 | cp >> 12);
		*o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
		*o++ = (char)(0x80 | (cp & 0x3f));
	} else {
		*o++ = (char)(0xf0 | cp >> 18);
		*o++ = (char)(0x80 | ((cp >> 12) & 0x3f));
		*o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
		*o++ = (char)(0x80 | (cp & 0x3f));
	}
	return o;
}

/* The escape at P (its backslash): past it, NULL when jansson refuses it;
 * its character appended at *O when O is not NULL. */
static const char *escape(const char *p, const char *end, char **o)
{
	long cp, lo;
	char c;

	if (end - p < 2)
		return NULL;
	switch (p[1]) {
	case '"':
	case '\\':
	case '/':
		c = p[1];
		break;
	case 'b':
		c = '\b';
		break;
	case 'f':
		c = '\f';
		break;
	case 'n':
		c = '\n';
		break;
	case 'r':
		c = '\r';
		break;
	case 't':
		c = '\t';
		break;
	case 'u':
		if (end - p < 6 || (cp = hex4(p + 2)) < 0)
			return NULL;
		p += 6;
		if (cp == 0 || (cp >= 0xdc00 && cp <= 0xdfff))
			return NULL;
		if (cp >= 0xd800 && cp <= 0xdbff) {
			if (end - p < 6 || p[0] != '\\' || p[1] != 'u' ||
			    (lo = hex4(p + 2)) < 0xdc00 || lo > 0xdfff)
				return NULL;
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			p += 6;
		}
		if (o)
			*o = put_utf8(*o, cp);
		return p;
	default:
		return NULL;
	}
	if (o)
		*(*o)++ = c;
	return p + 2;
}

/* What the escapes of one letter stand for, 0 for the other letters. */
static const char short_escape[256] = {
	['"'] = '"',  ['\\'] = '\\', ['/'] = '/',  ['b'] = '\b',
	['f'] = '\f', ['n'] = '\n',  ['r'] = '\r', ['t'] = '\t',
};

/*
 * The string text from P: where it stops, at its closing quote or END;
 * NULL when it is not valid. Its value is written at OUT when not NULL
 * (never more bytes than its text), its length into *OUTN.
 */
static const char *scan_string(const char *p, const char *end, char *out,
			       size_t *outn)
{
	char *o = out, c;
	uint64_t x;
	size_t k;

	while (p < end) {
		while (end - p >= 8) {
			memcpy(&x, p, 8);
			x = special(x);
			/* The plain bytes before the first special one. */
			k = x ? first_flagged(x) : 8;
			if (o) {
				memcpy(o, p, k);
				o += k;
			}
			p += k;
			if (x)
				break;
		}
		if (p == end || *p == '"')
			break;
		if (*p == '\\') {
			/* The one-letter escapes without a call: text with a
			 * newline in every few bytes is common. */
			if (end - p >= 2 && (c = short_escape[(uint8_t)p[1]])) {
				if (o)
					*o++ = c;
				p += 2;
				continue;
			}
			p = escape(p, end, o ? &o : NULL);
			if (!p)
				return NULL;
			continue;
		}
		if ((unsigned char)*p < 0x20)
			return NULL;
		k = (unsigned char)*p < 0x80
			    ? 1
			    : utf8_len((const unsigned char *)p,
				       (const unsigned char *)end);
		if (!k)
			return NULL;
		if (o) {
			memcpy(o, p, k);
			o += k;
		}
		p += k;
	}
	if (out)
		*outn = (size_t)(o - out);
	return p;
}

/* A whole string from its opening quote P: past its closing quote. */
static const char *skip_string(const char *p, const char *end)
{
	const char *q = scan_string(p + 1, end, NULL, NULL);

	return q && q < end ? q + 1 : NULL;
}

/*
 * Past the string from its opening quote P in text checked before: its
 * closing quote is the first quote after P that is not escaped, that is
 * not after an odd run of backslashes (the text is valid: a backslash
 * there is always one of an escape).
 */
static const char *pass_string(const char *p, const char *end)
{
	const char *q, *b;

	for (p++; (q = memchr(p, '"', (size_t)(end - p))); p = q + 1) {
		for (b = q; b > p && b[-1] == '\\'; b--)
			;
		if ((q - b) % 2 == 0)
			return q + 1;
	}
	return NULL;
}

/* Past the value at P in text checked before. */
static const char *pass_value(const char *p, const char *end)
{
	int depth = 0;

	if (*p != '{' && *p != '[') {
		if (*p == '"')
			return pass_string(p, end);
		/* A number, true, false or null. */
		while (p < end && *p != ',' && *p != '}' && *p != ']' &&
		       *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
			p++;
		return p;
	}
	while (p < end) {
		if (*p == '"') {
			if (!(p = pass_string(p, end)))
				return NULL;
			continue;
		}
		if (*p == '{' || *p == '[')
			depth++;
		else if ((*p == '}' || *p == ']') && --depth == 0)
			return p + 1;
		p++;
	}
	return NULL;
}

static bool is_digit(const char *p, const char *end)
{
	return p < end && *p >= '0' && *p <= '9';
}

/* A number from P: past it; NULL when it is not one, or when jansson
 * could find it out of range. */
static const char *skip_number(const char *p, const char *end)
{
	const char *q;
	size_t digits;
	long expo = 0;
	bool real = false, neg = false;

	if (p < end && *p == '-')
		p++;
	q = p;
	if (p < end && *p == '0') {
		p++;
	} else {
		if (!is_digit(p, end))
			return NULL;
		while (is_digit(p, end))
			p++;
	}
	digits = (size_t)(p - q);
	if (p < end && *p == '.') {
		real = true;
		if (!is_digit(++p, end))
			return NULL;
		while (is_digit(p, end))
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		real = true;
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			neg = *p++ == '-';
		if (!is_digit(p, end))
			return NULL;
		for (; is_digit(p, end); p++)
			if (expo < 100000)
				expo = expo * 10 + (*p - '0');
	}
	if (!real && digits > 18)
		return NULL; /* jansson: maybe "too big integer" */
	if (real && (digits > 300 || (!neg && (long)digits + expo > 300)))
		return NULL; /* jansson: maybe "real number overflow" */
	return p;
}

static const char *skip_word(const char *p, const char *end, const char *w,
			     size_t n)
{
	return (size_t)(end - p) >= n && !memcmp(p, w, n) ? p + n : NULL;
}

static const char *skip_nested(const char *p, const char *end, int depth)
{
	struct jscan_obj it = {
		.p = p + 1, .end = end, .depth = depth, .first = true};
	struct jscan_slice k, v;
	int r;

	if (depth > JSCAN_DEPTH_MAX)
		return NULL;
	if (*p == '{')
		while ((r = jscan_next(&it, &k, &v)) == 1)
			;
	else
		while ((r = jscan_next_item(&it, &v)) == 1)
			;
	return r == 0 ? it.p : NULL;
}

/* The value at P (not whitespace, before END) at DEPTH: past it, or NULL. */
static const char *skip_value(const char *p, const char *end, int depth)
{
	switch (*p) {
	case '"':
		return skip_string(p, end);
	case '{':
	case '[':
		return skip_nested(p, end, depth + 1);
	case 't':
		return skip_word(p, end, "true", 4);
	case 'f':
		return skip_word(p, end, "false", 5);
	case 'n':
		return skip_word(p, end, "null", 4);
	default:
		return skip_number(p, end);
	}
}

static int start(struct jscan_obj *it, struct jscan_slice val, char open)
{
	const char *end, *p;

	if (!val.n)
		return -1;
	end = val.p + val.n;
	p = skip_ws(val.p, end);
	if (p == end || *p != open)
		return -1;
	*it = (struct jscan_obj){
		.p = p + 1, .end = end, .depth = 1, .first = true};
	return 0;
}

int jscan_object(struct jscan_obj *it, struct jscan_slice val)
{
	return start(it, val, '{');
}

int jscan_array(struct jscan_obj *it, struct jscan_slice val)
{
	return start(it, val, '[');
}

/* start() on VAL, scanned before. */
static int enter(struct jscan_obj *it, struct jscan_slice val, char open)
{
	if (!val.n || val.p[0] != open)
		return -1;
	*it = (struct jscan_obj){.p = val.p + 1,
				 .end = val.p + val.n,
				 .depth = 1,
				 .first = true,
				 .scanned = true};
	return 0;
}

int jscan_members(struct jscan_obj *it, struct jscan_slice val)
{
	return enter(it, val, '{');
}

int jscan_items(struct jscan_obj *it, struct jscan_slice val)
{
	return enter(it, val, '[');
}

/* Before the next member or item of IT, closed by CLOSE: 1 and *P on it,
 * 0 at the end (it->p past CLOSE), -1 when the text is not JSON. */
static int before_next(struct jscan_obj *it, char close, const char **pp)
{
	const char *p = skip_ws(it->p, it->end);

	if (p == it->end)
		return -1;
	if (*p == close) {
		it->p = p + 1;
		return 0;
	}
	if (!it->first) {
		if (*p != ',')
			return -1;
		p = skip_ws(p + 1, it->end);
		if (p == it->end)
			return -1;
	}
	it->first = false;
	*pp = p;
	return 1;
}

/* Past the value at P, a member's or an item's of IT. */
static const char *next_value(const struct jscan_obj *it, const char *p)
{
	return it->scanned ? pass_value(p, it->end)
			   : skip_value(p, it->end, it->depth);
}

int jscan_next(struct jscan_obj *it, struct jscan_slice *key,
	       struct jscan_slice *val)
{
	const char *p, *q;
	int r = before_next(it, '}', &p);

	if (r <= 0)
		return r;
	if (*p != '"' || !(q = it->scanned ? pass_string(p, it->end)
					   : skip_string(p, it->end)))
		return -1;
	key->p = p + 1;
	key->n = (size_t)(q - 1 - key->p);
	p = skip_ws(q, it->end);
	if (p == it->end || *p != ':')
		return -1;
	p = skip_ws(p + 1, it->end);
	if (p == it->end || !(q = next_value(it, p)))
		return -1;
	val->p = p;
	val->n = (size_t)(q - p);
	it->p = q;
	return 1;
}

int jscan_next_item(struct jscan_obj *it, struct jscan_slice *val)
{
	const char *p, *q;
	int r = before_next(it, ']', &p);

	if (r <= 0)
		return r;
	if (!(q = next_value(it, p)))
		return -1;
	val->p = p;
	val->n = (size_t)(q - p);
	it->p = q;
	return 1;
}

bool jscan_plain(struct jscan_slice s)
{
	return !memchr(s.p, '\\', s.n);
}

int jscan_decode(struct jscan_slice s, char *buf, size_t *len)
{
	const char *q = scan_string(s.p, s.p + s.n, buf, len);

	if (q != s.p + s.n)
		return -1;
	buf[*len] = '\0';
	return 0;
}

bool jscan_equals(struct jscan_slice s, const char *name)
{
	size_t n = strlen(name), len;
	char buf[128];

	if (s.n == n && !memcmp(s.p, name, n))
		return true;
	/* An escape is 6 bytes at most for one byte of NAME. */
	if (s.n < n || s.n >= sizeof(buf) || s.n > 6 * n || jscan_plain(s) ||
	    jscan_decode(s, buf, &len) < 0)
		return false;
	return len == n && !memcmp(buf, name, n);
}

int jscan_integer(struct jscan_slice v, long long *n)
{
	const char *p, *end;
	bool neg = false;
	long long x = 0;

	if (!v.n)
		return 0; /* no value: not even a pointer */
	p = v.p;
	end = p + v.n;

	if (p < end && *p == '-') {
		neg = true;
		p++;
	}
	if (!is_digit(p, end))
		return 0;
	/* A scanned integer has at most 18 digits: no overflow. */
	for (; p < end; p++) {
		if (!is_digit(p, end))
			return 0;
		x = x * 10 + (*p - '0');
	}
	*n = neg ? -x : x;
	return 1;
}

/* Most keys of one object jscan_compact() compares. */
#define COMPACT_KEYS  16
#define COMPACT_DEPTH 64

/* The scanned value at P, compact: past it, else NULL. */
static const char *compact_value(const char *p, const char *end, int depth);

static const char *compact_string(const char *p, const char *end)
{
	for (p++; p < end; p++) {
		if (*p == '"')
			return p + 1;
		if (*p != '\\')
			continue;
		if (++p == end || !*p || !strchr("\"\\bfnrt", *p))
			return NULL;
	}
	return NULL;
}

static const char *compact_nested(const char *p, const char *end, int depth)
{
	struct jscan_slice keys[COMPACT_KEYS];
	bool object = *p == '{';
	char close = object ? '}' : ']';
	size_t n = 0, i;
	const char *q;

	if (depth > COMPACT_DEPTH)
		return NULL;
	if (++p < end && *p == close)
		return p + 1;
	while (p < end) {
		if (object) {
			if (*p != '"' || n == COMPACT_KEYS ||
			    !(q = compact_string(p, end)))
				return NULL;
			keys[n] = (struct jscan_slice){p, (size_t)(q - p)};
			/* One spelling for one key: equal slices, equal keys.
			 */
			for (i = 0; i < n; i++)
				if (keys[i].n == keys[n].n &&
				    !memcmp(keys[i].p, keys[n].p, keys[n].n))
					return NULL;
			n++;
			if (q == end || *q != ':')
				return NULL;
			p = q + 1;
		}
		if (p == end || !(p = compact_value(p, end, depth)) || p == end)
			return NULL;
		if (*p == close)
			return p + 1;
		if (*p++ != ',')
			return NULL;
	}
	return NULL;
}

static const char *compact_value(const char *p, const char *end, int depth)
{
	switch (*p) {
	case '"':
		return compact_string(p, end);
	case '{':
	case '[':
		return compact_nested(p, end, depth + 1);
	case 't':
	case 'n':
		return p + 4;
	case 'f':
		return p + 5;
	default:
		break;
	}
	if (*p == '-' && p + 1 < end && p[1] == '0')
		return NULL; /* jansson writes 0 */
	if (*p == '-')
		p++;
	while (is_digit(p, end))
		p++;
	/* A real: jansson writes it its own way (%.17g). */
	return p < end && (*p == '.' || *p == 'e' || *p == 'E') ? NULL : p;
}

bool jscan_compact(struct jscan_slice v)
{
	return v.n && compact_value(v.p, v.p + v.n, 0) == v.p + v.n;
}
