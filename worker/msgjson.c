/*
 * msgjson.c - the hot path of the protocol codec: msgpack values written as
 * JSON text, byte for byte as docs/PROTOCOL.md (section 5) says, and the
 * UTF-8 check every string of a message goes through.
 *
 * Invariants:
 * - the text is exact and the same whatever the locale: integers in full
 *   64-bit range, floats with the fewest digits that read back as the same
 *   value and always a fraction or an exponent, strings escaped the one
 *   way; tests/unit/test_proto.c pins the bytes;
 * - a value JSON cannot hold (binary, an extension, a map key that is not
 *   a string, NaN, an infinity, a string that is not UTF-8) is refused,
 *   never approximated;
 * - the recursion is bounded by the nesting wrk_frame_check() allowed.
 *
 * It writes into a struct wrk_buf through frame.h and calls nothing else
 * of the codec.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <locale.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "worker/msgjson.h"

/* Where the text goes, and what names the value in an error. */
struct writer {
	struct wrk_buf *b;
	struct wrk_err *e;
	const char *field, *type;
};

/* ---- UTF-8 ----------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at P (at most N bytes), 0 if none:
 * overlong forms, surrogates and code points above U+10FFFF are invalid. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
	uint32_t cp;
	size_t len, i;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4, cp = p[0] & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

bool wrk_utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, k;

	while (i < n) {
		k = utf8_seq(p + i, n - i);
		if (!k)
			return false;
		i += k;
	}
	return true;
}

/* ---- msgpack as JSON ------------------------------------------------ */

const char *wrk_msgpack_kind(const struct msgpack_object *o)
{
	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		return "nil";
	case MSGPACK_OBJECT_BOOLEAN:
		return "a boolean";
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		return "a positive integer";
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		return "a negative integer";
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		return "a float";
	case MSGPACK_OBJECT_STR:
		return "a string";
	case MSGPACK_OBJECT_BIN:
		return "binary data";
	case MSGPACK_OBJECT_ARRAY:
		return "an array";
	case MSGPACK_OBJECT_MAP:
		return "a map";
	case MSGPACK_OBJECT_EXT:
		return "an extension";
	}
	return "an unknown object";
}

/* Append the JSON string of S (N bytes, checked to be UTF-8). */
static int json_string(const struct writer *w, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	struct wrk_buf *b = w->b;
	size_t i, run = 0;
	char esc[7];

	if (wrk_buf_reserve(b, n + 2) < 0 || wrk_buf_addc(b, '"') < 0)
		return -1;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		if (wrk_buf_add(b, s + run, i - run) < 0)
			return -1;
		run = i + 1;
		esc[0] = '\\';
		esc[2] = '\0';
		switch (c) {
		case '"':
		case '\\':
			esc[1] = (char)c;
			break;
		case '\b':
			esc[1] = 'b';
			break;
		case '\f':
			esc[1] = 'f';
			break;
		case '\n':
			esc[1] = 'n';
			break;
		case '\r':
			esc[1] = 'r';
			break;
		case '\t':
			esc[1] = 't';
			break;
		default:
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			esc[6] = '\0';
		}
		if (wrk_buf_adds(b, esc) < 0)
			return -1;
	}
	if (wrk_buf_add(b, s + run, n - run) < 0 || wrk_buf_addc(b, '"') < 0)
		return -1;
	return 0;
}

/*
 * Format V with the fewest significant digits that read back as the same
 * value (as a float when IS32), in JSON syntax whatever the locale, with a
 * fraction or exponent so that it stays a float.
 */
static void format_double(char *out, size_t size, double v, bool is32)
{
	const char *dp = localeconv()->decimal_point;
	size_t dplen = dp && *dp ? strlen(dp) : 1;
	char tmp[64], *s;
	int prec, first = is32 ? 6 : 15, last = is32 ? 9 : 17;
	size_t o = 0;
	bool frac = false;

	for (prec = first; prec <= last; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
		if (is32 ? strtof(tmp, NULL) == (float)v
			 : strtod(tmp, NULL) == v)
			break;
	}
	for (s = tmp; *s && o + 3 < size;) {
		if (dp && *dp && !strncmp(s, dp, dplen)) {
			out[o++] = '.';
			s += dplen;
			frac = true;
			continue;
		}
		if (*s == 'e' || *s == 'E' || *s == '.')
			frac = true;
		out[o++] = *s++;
	}
	if (!frac) {
		out[o++] = '.';
		out[o++] = '0';
	}
	out[o] = '\0';
}

/* Append O as JSON to W's buffer. */
static int to_json(const struct writer *w, const msgpack_object *o)
{
	struct wrk_buf *b = w->b;
	char num[64];
	uint32_t i;

	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		return wrk_buf_adds(b, "null");
	case MSGPACK_OBJECT_BOOLEAN:
		return wrk_buf_adds(b, o->via.boolean ? "true" : "false");
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		snprintf(num, sizeof(num), "%" PRIu64, o->via.u64);
		return wrk_buf_adds(b, num);
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		snprintf(num, sizeof(num), "%" PRId64, o->via.i64);
		return wrk_buf_adds(b, num);
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		if (!isfinite(o->via.f64))
			return wrk_fail(
				w->e, EBADMSG,
				"field '%s' of '%s' holds %s, which JSON "
				"cannot represent",
				w->field, w->type,
				isnan(o->via.f64) ? "NaN" : "an infinity");
		format_double(num, sizeof(num), o->via.f64,
			      o->type == MSGPACK_OBJECT_FLOAT32);
		return wrk_buf_adds(b, num);
	case MSGPACK_OBJECT_STR:
		if (!wrk_utf8_valid(o->via.str.ptr, o->via.str.size))
			return wrk_fail(
				w->e, EBADMSG,
				"field '%s' of '%s' holds a string that "
				"is not valid UTF-8",
				w->field, w->type);
		return json_string(w, o->via.str.ptr, o->via.str.size);
	case MSGPACK_OBJECT_ARRAY:
		if (wrk_buf_addc(b, '[') < 0)
			return -1;
		for (i = 0; i < o->via.array.size; i++) {
			if (i && wrk_buf_addc(b, ',') < 0)
				return -1;
			if (to_json(w, &o->via.array.ptr[i]) < 0)
				return -1;
		}
		return wrk_buf_addc(b, ']');
	case MSGPACK_OBJECT_MAP:
		if (wrk_buf_addc(b, '{') < 0)
			return -1;
		for (i = 0; i < o->via.map.size; i++) {
			const msgpack_object_kv *kv = &o->via.map.ptr[i];

			if (kv->key.type != MSGPACK_OBJECT_STR)
				return wrk_fail(
					w->e, EBADMSG,
					"field '%s' of '%s' holds a map "
					"whose key is %s: JSON needs "
					"string keys",
					w->field, w->type,
					wrk_msgpack_kind(&kv->key));
			if (i && wrk_buf_addc(b, ',') < 0)
				return -1;
			if (to_json(w, &kv->key) < 0 ||
			    wrk_buf_addc(b, ':') < 0 ||
			    to_json(w, &kv->val) < 0)
				return -1;
		}
		return wrk_buf_addc(b, '}');
	case MSGPACK_OBJECT_BIN:
	case MSGPACK_OBJECT_EXT:
		break;
	}
	return wrk_fail(
		w->e, EBADMSG,
		"field '%s' of '%s' holds %s, which JSON cannot represent "
		"(send text, or base64 in a string)",
		w->field, w->type, wrk_msgpack_kind(o));
}

int wrk_msgpack_to_json(struct wrk_buf *out, const struct msgpack_object *o,
			struct wrk_err *e, const char *field, const char *type)
{
	const struct writer w = {out, e, field, type};

	return to_json(&w, o);
}
