/*
 * proto.c - the protocol codec: framing, limits, and the mapping between
 * msgpack maps and struct wrk_msg. The only file that includes msgpack.h.
 *
 * Format (docs/PROTOCOL.md): a frame is a 4-byte big-endian length N, then
 * N bytes holding exactly one msgpack map with string keys; "t" names the
 * message type and "seq" numbers it. Each type's fields are described by a
 * table below that both the encoder and the decoder read.
 *
 * Invariants of the decoder (it faces untrusted bytes and is fuzzed):
 * - a frame's length is checked against the limit before its body is
 *   waited for or allocated;
 * - the body is walked once by scan_value() before msgpack-c sees it: it
 *   must be one msgpack value, nested at most WRK_DEPTH_MAX deep, whose
 *   every declared array, map, string or binary length fits in the bytes
 *   left. msgpack-c allocates room for a container's declared count up
 *   front, so this bounds its memory by a small multiple of the frame;
 * - every object is type-checked before its value is used;
 * - after an error the decoder is dead and refuses everything (fail closed).
 *
 * The strings of a decoded message live in one buffer of the decoder
 * (text), reused for the next message; msgpack values found in value,
 * input and metadata fields are converted to JSON text there.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "worker/proto.h"

#define HEADER_LEN 4

/* What a field holds, and so how it is checked and converted. */
enum kind {
	F_STR,	  /* UTF-8 string without NUL bytes */
	F_KEY,	  /* F_STR, 1..WRK_KEY_MAX bytes */
	F_JSON,	  /* F_STR holding JSON text (the supervisor validates it) */
	F_ANY,	  /* any msgpack value, converted to JSON text */
	F_OUTPUT, /* string or binary, any bytes */
	F_STATUS, /* "completed" or "failed" */
	F_U32,	  /* unsigned integer up to UINT32_MAX */
	F_UINT,	  /* unsigned integer */
	F_COUNT,  /* unsigned integer up to INT64_MAX */
	F_INT,	  /* signed integer */
	F_NUM,	  /* finite float or integer */
	F_BOOL,
};

/*
 * One field of a message type. F_ANY and F_JSON fields come in pairs that
 * fill the same member (OFF): at most one of the two may be sent, and when
 * REQ is set on them, one of the two must be.
 */
struct field {
	const char *name;
	unsigned char kind;
	unsigned char req;
	unsigned short off;  /* member of struct wrk_msg */
	unsigned short flag; /* F_NUM: its int has_ member; 0: none */
};

#define FIELD(n, k, r, m)                                                      \
	{                                                                      \
		n, k, r, offsetof(struct wrk_msg, m), 0                        \
	}

static const struct field hello_fields[] = {
	FIELD("v", F_U32, 1, version),
	FIELD("agent", F_INT, 0, agent_id),
	FIELD("token", F_STR, 0, token),
	FIELD("pid", F_INT, 0, pid),
};
static const struct field state_set_fields[] = {
	FIELD("key", F_KEY, 1, key),
	FIELD("value", F_ANY, 1, json),
	FIELD("json", F_JSON, 1, json),
	FIELD("trigger", F_STR, 0, trigger),
};
static const struct field state_delete_fields[] = {
	FIELD("key", F_KEY, 1, key),
	FIELD("trigger", F_STR, 0, trigger),
};
static const struct field memory_add_fields[] = {
	FIELD("category", F_STR, 1, category),
	FIELD("scope", F_STR, 0, scope),
	FIELD("key", F_KEY, 1, key),
	FIELD("content", F_STR, 1, content),
	{"confidence", F_NUM, 0, offsetof(struct wrk_msg, confidence),
	 offsetof(struct wrk_msg, has_confidence)},
	FIELD("source", F_STR, 0, source),
};
static const struct field tool_start_fields[] = {
	FIELD("call", F_UINT, 1, call),
	FIELD("tool", F_STR, 1, tool),
	FIELD("input", F_ANY, 0, json),
	FIELD("input_json", F_JSON, 0, json),
};
static const struct field tool_complete_fields[] = {
	FIELD("call", F_UINT, 1, call),
	FIELD("output", F_OUTPUT, 0, output),
	FIELD("summary", F_STR, 0, summary),
	FIELD("status", F_STATUS, 0, status),
	FIELD("error", F_STR, 0, error),
};
static const struct field artifact_add_fields[] = {
	FIELD("name", F_STR, 1, name),
	FIELD("path", F_STR, 1, path),
	FIELD("type", F_STR, 0, kind),
	FIELD("summary", F_STR, 0, summary),
	FIELD("metadata", F_ANY, 0, json),
	FIELD("metadata_json", F_JSON, 0, json),
};
static const struct field usage_fields[] = {
	FIELD("tokens_in", F_COUNT, 0, tokens_in),
	FIELD("tokens_out", F_COUNT, 0, tokens_out),
	FIELD("cost", F_NUM, 0, cost),
};
static const struct field log_fields[] = {
	FIELD("level", F_STR, 0, level),
	FIELD("message", F_STR, 1, text),
};
static const struct field result_fields[] = {
	FIELD("text", F_STR, 0, text),
	FIELD("value", F_ANY, 0, json),
	FIELD("json", F_JSON, 0, json),
};
static const struct field fail_fields[] = {
	FIELD("error", F_STR, 1, error),
};
static const struct field error_fields[] = {
	FIELD("reason", F_STR, 1, reason),
	FIELD("fatal", F_BOOL, 1, fatal),
};

#define MAX_FIELDS 8

struct spec {
	const char *name;
	const struct field *fields;
	unsigned nfields;
	bool down; /* sent by the supervisor */
};

#define SPEC(n, f, d)                                                          \
	{                                                                      \
		n, f, sizeof(f) / sizeof(f[0]), d                              \
	}

static const struct spec specs[WRK_TYPE_COUNT] = {
	[WRK_HELLO] = SPEC("hello", hello_fields, false),
	[WRK_STATE_SET] = SPEC("state.set", state_set_fields, false),
	[WRK_STATE_DELETE] = SPEC("state.delete", state_delete_fields, false),
	[WRK_MEMORY_ADD] = SPEC("memory.add", memory_add_fields, false),
	[WRK_TOOL_START] = SPEC("tool.start", tool_start_fields, false),
	[WRK_TOOL_COMPLETE] =
		SPEC("tool.complete", tool_complete_fields, false),
	[WRK_ARTIFACT_ADD] = SPEC("artifact.add", artifact_add_fields, false),
	[WRK_USAGE] = SPEC("usage", usage_fields, false),
	[WRK_LOG] = SPEC("log", log_fields, false),
	[WRK_RESULT] = SPEC("result", result_fields, false),
	[WRK_FAIL] = SPEC("fail", fail_fields, false),
	[WRK_ACK] = {"ack", NULL, 0, true},
	[WRK_ERROR] = SPEC("error", error_fields, true),
};

const char *wrk_type_name(enum wrk_type t)
{
	if ((unsigned)t >= WRK_TYPE_COUNT)
		return "?";
	return specs[t].name;
}

/* ---- byte buffers --------------------------------------------------- */

/* Make room for N more bytes in B. */
static int buf_reserve(struct wrk_buf *b, size_t n)
{
	size_t cap;
	char *p;

	if (b->cap - b->len >= n)
		return 0;
	if (n > SIZE_MAX / 2 - b->len) {
		errno = ENOMEM;
		return -1;
	}
	cap = b->cap ? b->cap : 256;
	while (cap < b->len + n)
		cap *= 2;
	p = realloc(b->data, cap);
	if (!p) {
		errno = ENOMEM;
		return -1;
	}
	b->data = p;
	b->cap = cap;
	return 0;
}

static int buf_add(struct wrk_buf *b, const void *p, size_t n)
{
	if (buf_reserve(b, n) < 0)
		return -1;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

static int buf_addc(struct wrk_buf *b, char c)
{
	return buf_add(b, &c, 1);
}

static int buf_adds(struct wrk_buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

void wrk_buf_consume(struct wrk_buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
}

void wrk_buf_release(struct wrk_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

/* ---- text ---------------------------------------------------------- */

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

static bool utf8_valid(const char *s, size_t n)
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

/*
 * S (N bytes) made fit for an error message into OUT: printable ASCII as
 * is, other bytes as \xHH, cut after 48 bytes with "...".
 */
static const char *quote(char *out, size_t size, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;

	for (i = 0; i < n && o + 8 < size; i++) {
		unsigned char c = (unsigned char)s[i];

		if (i == 48) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\') {
			out[o++] = (char)c;
			continue;
		}
		out[o++] = '\\';
		out[o++] = 'x';
		out[o++] = hex[c >> 4];
		out[o++] = hex[c & 15];
	}
	out[o] = '\0';
	return out;
}

/* ---- the decoder ---------------------------------------------------- */

enum direction { DIR_UNKNOWN, DIR_UP, DIR_DOWN };

/* Where the string of one member of the message lies in the text buffer. */
struct fixup {
	unsigned short off;
	size_t at;
};

struct wrk_decoder {
	char *buf; /* bytes fed: [off, len) not decoded yet */
	size_t off, len, cap;
	size_t frame_max;
	uint64_t last_seq;
	/* Where the last message's frame was, and the seq before it, for
	 * wrk_decoder_unread(); the frame's bytes stay in buf until then. */
	size_t prev_off, prev_len;
	uint64_t prev_seq;
	int can_unread;
	enum direction dir;
	int dead; /* errno of the error that killed the stream; 0: alive */
	msgpack_unpacked unp;
	struct wrk_buf text; /* the strings of the current message */
	struct fixup fix[MAX_FIELDS + 2];
	unsigned nfix;
	const char *tname; /* type of the message being decoded */
	char errmsg[512];
};

struct wrk_decoder *wrk_decoder_new(size_t frame_max)
{
	struct wrk_decoder *d = calloc(1, sizeof(*d));

	if (!d) {
		errno = ENOMEM;
		return NULL;
	}
	d->frame_max = frame_max ? frame_max : WRK_FRAME_MAX;
	if (d->frame_max > UINT32_MAX)
		d->frame_max = UINT32_MAX;
	msgpack_unpacked_init(&d->unp);
	return d;
}

void wrk_decoder_free(struct wrk_decoder *d)
{
	if (!d)
		return;
	msgpack_unpacked_destroy(&d->unp);
	wrk_buf_release(&d->text);
	free(d->buf);
	free(d);
}

const char *wrk_decoder_errmsg(const struct wrk_decoder *d)
{
	return d->errmsg;
}

uint64_t wrk_decoder_last_seq(const struct wrk_decoder *d)
{
	return d->last_seq;
}

size_t wrk_decoder_pending(const struct wrk_decoder *d)
{
	return d->len - d->off;
}

int wrk_decoder_unread(struct wrk_decoder *d)
{
	if (!d->can_unread || d->dead) {
		errno = EINVAL;
		return -1;
	}
	d->off = d->prev_off;
	d->len = d->prev_len;
	d->last_seq = d->prev_seq;
	d->can_unread = 0;
	return 0;
}

int wrk_decoder_feed(struct wrk_decoder *d, const void *data, size_t len)
{
	size_t need, cap;
	char *p;

	if (d->dead || !len)
		return 0;
	d->can_unread = 0; /* the bytes may move */
	if (d->cap - d->len < len && d->off) {
		memmove(d->buf, d->buf + d->off, d->len - d->off);
		d->len -= d->off;
		d->off = 0;
	}
	if (d->cap - d->len < len) {
		if (len > SIZE_MAX / 2 - d->len) {
			errno = ENOMEM;
			return -1;
		}
		need = d->len + len;
		cap = d->cap ? d->cap : 4096;
		while (cap < need)
			cap *= 2;
		p = realloc(d->buf, cap);
		if (!p) {
			errno = ENOMEM;
			return -1;
		}
		d->buf = p;
		d->cap = cap;
	}
	memcpy(d->buf + d->len, data, len);
	d->len += len;
	return 0;
}

/* Kill the stream with errno ERR and the message FMT. Returns -1. */
__attribute__((format(printf, 3, 4))) static int
fail(struct wrk_decoder *d, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d->errmsg, sizeof(d->errmsg), fmt, ap);
	va_end(ap);
	d->dead = err;
	errno = err;
	return -1;
}

static const char *obj_type_name(const msgpack_object *o)
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

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be_n(const unsigned char *p, size_t n)
{
	uint64_t v = 0;

	while (n--)
		v = v << 8 | *p++;
	return v;
}

/*
 * Walk the msgpack value at *PP (before END) at nesting level DEPTH,
 * leaving *PP after it; see the invariants at the top of the file.
 */
static int scan_value(struct wrk_decoder *d, const unsigned char **pp,
		      const unsigned char *end, const unsigned char *start,
		      unsigned depth)
{
	const unsigned char *p = *pp;
	uint64_t n = 0, i, items = 0, skip = 0;
	size_t left, lenbytes = 0;
	unsigned char c;

	if (p >= end)
		return fail(d, EBADMSG,
			    "frame body is not one msgpack value: it ends "
			    "inside one, at byte %zu",
			    (size_t)(p - start));
	c = *p++;
	left = (size_t)(end - p);
	if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3) {
		*pp = p;
		return 0;
	}
	if (c <= 0x8f) {
		items = 2 * (uint64_t)(c & 0x0f);
	} else if (c <= 0x9f) {
		items = c & 0x0f;
	} else if (c <= 0xbf) {
		skip = c & 0x1f;
	} else {
		switch (c) {
		case 0xc4: /* bin 8, 16, 32 */
		case 0xc5:
		case 0xc6:
			lenbytes = (size_t)1 << (c - 0xc4);
			break;
		case 0xc7: /* ext 8, 16, 32: length, then a type byte */
		case 0xc8:
		case 0xc9:
			lenbytes = (size_t)1 << (c - 0xc7);
			skip = 1;
			break;
		case 0xca: /* float 32, 64 */
			skip = 4;
			break;
		case 0xcb:
			skip = 8;
			break;
		case 0xcc: /* uint 8..64, int 8..64 */
		case 0xcd:
		case 0xce:
		case 0xcf:
			skip = (uint64_t)1 << (c - 0xcc);
			break;
		case 0xd0:
		case 0xd1:
		case 0xd2:
		case 0xd3:
			skip = (uint64_t)1 << (c - 0xd0);
			break;
		case 0xd4: /* fixext 1..16: a type byte, then the data */
		case 0xd5:
		case 0xd6:
		case 0xd7:
		case 0xd8:
			skip = 1 + ((uint64_t)1 << (c - 0xd4));
			break;
		case 0xd9: /* str 8, 16, 32 */
		case 0xda:
		case 0xdb:
			lenbytes = (size_t)1 << (c - 0xd9);
			break;
		case 0xdc: /* array 16, 32 */
		case 0xdd:
			lenbytes = (size_t)2 << (c - 0xdc);
			break;
		case 0xde: /* map 16, 32 */
		case 0xdf:
			lenbytes = (size_t)2 << (c - 0xde);
			break;
		default: /* 0xc1: never used */
			return fail(d, EBADMSG,
				    "frame body is not msgpack: byte 0x%02x at "
				    "offset %zu",
				    c, (size_t)(p - 1 - start));
		}
		if (lenbytes) {
			if (left < lenbytes)
				return fail(d, EBADMSG,
					    "frame body is not one msgpack "
					    "value: it ends inside one, at "
					    "byte %zu",
					    (size_t)(end - start));
			n = be_n(p, lenbytes);
			p += lenbytes;
			left -= lenbytes;
			if (c == 0xdc || c == 0xdd)
				items = n;
			else if (c == 0xde || c == 0xdf)
				items = 2 * n;
			else
				skip += n;
		}
	}
	if ((c >= 0x80 && c <= 0x9f) || c >= 0xdc) {
		/* A container: every item takes a byte at least. */
		if (depth + 1 > WRK_DEPTH_MAX)
			return fail(d, ERANGE,
				    "values are nested deeper than %d levels",
				    WRK_DEPTH_MAX);
		if (items > left)
			return fail(
				d, EBADMSG,
				"frame body is not one msgpack value: a "
				"container of %" PRIu64 " items at byte %zu "
				"does not fit in the frame",
				(c >= 0xde || c <= 0x8f) ? items / 2 : items,
				(size_t)(*pp - start));
		*pp = p;
		for (i = 0; i < items; i++)
			if (scan_value(d, pp, end, start, depth + 1) < 0)
				return -1;
		return 0;
	}
	if (skip > left)
		return fail(d, EBADMSG,
			    "frame body is not one msgpack value: it ends "
			    "inside one, at byte %zu",
			    (size_t)(end - start));
	*pp = p + skip;
	return 0;
}

/* Record that member OFF is the string starting at AT in the text. */
static void add_fixup(struct wrk_decoder *d, unsigned short off, size_t at)
{
	d->fix[d->nfix].off = off;
	d->fix[d->nfix].at = at;
	d->nfix++;
}

/* Append the JSON string of S (N bytes, checked to be UTF-8) to the text. */
static int json_string(struct wrk_decoder *d, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	struct wrk_buf *b = &d->text;
	size_t i, run = 0;
	char esc[7];

	if (buf_reserve(b, n + 2) < 0 || buf_addc(b, '"') < 0)
		return -1;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		if (buf_add(b, s + run, i - run) < 0)
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
		if (buf_adds(b, esc) < 0)
			return -1;
	}
	if (buf_add(b, s + run, n - run) < 0 || buf_addc(b, '"') < 0)
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

/* Append O as JSON to the text; FIELD names it in errors. */
static int to_json(struct wrk_decoder *d, const msgpack_object *o,
		   const char *field)
{
	struct wrk_buf *b = &d->text;
	char num[64];
	uint32_t i;

	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		return buf_adds(b, "null");
	case MSGPACK_OBJECT_BOOLEAN:
		return buf_adds(b, o->via.boolean ? "true" : "false");
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		snprintf(num, sizeof(num), "%" PRIu64, o->via.u64);
		return buf_adds(b, num);
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		snprintf(num, sizeof(num), "%" PRId64, o->via.i64);
		return buf_adds(b, num);
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		if (!isfinite(o->via.f64))
			return fail(d, EBADMSG,
				    "field '%s' of '%s' holds %s, which JSON "
				    "cannot represent",
				    field, d->tname,
				    isnan(o->via.f64) ? "NaN" : "an infinity");
		format_double(num, sizeof(num), o->via.f64,
			      o->type == MSGPACK_OBJECT_FLOAT32);
		return buf_adds(b, num);
	case MSGPACK_OBJECT_STR:
		if (!utf8_valid(o->via.str.ptr, o->via.str.size))
			return fail(d, EBADMSG,
				    "field '%s' of '%s' holds a string that "
				    "is not valid UTF-8",
				    field, d->tname);
		return json_string(d, o->via.str.ptr, o->via.str.size);
	case MSGPACK_OBJECT_ARRAY:
		if (buf_addc(b, '[') < 0)
			return -1;
		for (i = 0; i < o->via.array.size; i++) {
			if (i && buf_addc(b, ',') < 0)
				return -1;
			if (to_json(d, &o->via.array.ptr[i], field) < 0)
				return -1;
		}
		return buf_addc(b, ']');
	case MSGPACK_OBJECT_MAP:
		if (buf_addc(b, '{') < 0)
			return -1;
		for (i = 0; i < o->via.map.size; i++) {
			const msgpack_object_kv *kv = &o->via.map.ptr[i];

			if (kv->key.type != MSGPACK_OBJECT_STR)
				return fail(d, EBADMSG,
					    "field '%s' of '%s' holds a map "
					    "whose key is %s: JSON needs "
					    "string keys",
					    field, d->tname,
					    obj_type_name(&kv->key));
			if (i && buf_addc(b, ',') < 0)
				return -1;
			if (to_json(d, &kv->key, field) < 0 ||
			    buf_addc(b, ':') < 0 ||
			    to_json(d, &kv->val, field) < 0)
				return -1;
		}
		return buf_addc(b, '}');
	case MSGPACK_OBJECT_BIN:
	case MSGPACK_OBJECT_EXT:
		break;
	}
	return fail(d, EBADMSG,
		    "field '%s' of '%s' holds %s, which JSON cannot represent "
		    "(send text, or base64 in a string)",
		    field, d->tname, obj_type_name(o));
}

static int wrong_type(struct wrk_decoder *d, const struct field *f,
		      const msgpack_object *o, const char *want)
{
	return fail(d, EBADMSG, "field '%s' of '%s' must be %s, not %s",
		    f->name, d->tname, want, obj_type_name(o));
}

/* Check the string field F held by O and copy it to the text. */
static int take_string(struct wrk_decoder *d, const struct field *f,
		       const msgpack_object *o, struct wrk_msg *msg)
{
	const char *s = o->via.str.ptr;
	size_t n = o->via.str.size;
	char q[256];
	size_t at;

	if (o->type == MSGPACK_OBJECT_BIN && f->kind == F_OUTPUT) {
		s = o->via.bin.ptr;
		n = o->via.bin.size;
	} else if (o->type != MSGPACK_OBJECT_STR) {
		return wrong_type(d, f, o,
				  f->kind == F_OUTPUT ? "a string or binary"
						      : "a string");
	}
	if (f->kind == F_KEY) {
		if (!n)
			return fail(d, EBADMSG, "empty key in '%s'", d->tname);
		if (n > WRK_KEY_MAX)
			return fail(d, ERANGE,
				    "key '%s' of %zu bytes exceeds the limit "
				    "of %d bytes",
				    quote(q, sizeof(q), s, n), n, WRK_KEY_MAX);
	}
	if (f->kind != F_OUTPUT) {
		if (!utf8_valid(s, n))
			return fail(d, EBADMSG,
				    "field '%s' of '%s' is not valid UTF-8: "
				    "'%s'",
				    f->name, d->tname,
				    quote(q, sizeof(q), s, n));
		if (memchr(s, '\0', n))
			return fail(d, EBADMSG,
				    "field '%s' of '%s' holds a NUL byte: "
				    "'%s'",
				    f->name, d->tname,
				    quote(q, sizeof(q), s, n));
	}
	if (f->kind == F_STATUS && !(n == 9 && !memcmp(s, "completed", 9)) &&
	    !(n == 6 && !memcmp(s, "failed", 6)))
		return fail(d, EBADMSG,
			    "field 'status' of '%s' must be 'completed' or "
			    "'failed', not '%s'",
			    d->tname, quote(q, sizeof(q), s, n));
	at = d->text.len;
	if (buf_add(&d->text, s, n) < 0 || buf_addc(&d->text, '\0') < 0)
		return -1;
	add_fixup(d, f->off, at);
	if (f->kind == F_OUTPUT)
		msg->output_len = n;
	return 0;
}

/* Check the field F held by O and store it in MSG. */
static int take_field(struct wrk_decoder *d, const struct field *f,
		      const msgpack_object *o, struct wrk_msg *msg)
{
	char *m = (char *)msg;
	size_t at;
	double v;

	switch ((enum kind)f->kind) {
	case F_STR:
	case F_KEY:
	case F_JSON:
	case F_OUTPUT:
	case F_STATUS:
		return take_string(d, f, o, msg);
	case F_ANY:
		at = d->text.len;
		if (to_json(d, o, f->name) < 0 || buf_addc(&d->text, '\0') < 0)
			return -1;
		add_fixup(d, f->off, at);
		return 0;
	case F_U32:
	case F_UINT:
	case F_COUNT:
		if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
			return wrong_type(d, f, o, "an unsigned integer");
		if ((f->kind == F_U32 && o->via.u64 > UINT32_MAX) ||
		    (f->kind == F_COUNT && o->via.u64 > INT64_MAX))
			return fail(d, ERANGE,
				    "field '%s' of '%s' is out of range: "
				    "%" PRIu64,
				    f->name, d->tname, o->via.u64);
		if (f->kind == F_U32)
			*(uint32_t *)(m + f->off) = (uint32_t)o->via.u64;
		else
			*(uint64_t *)(m + f->off) = o->via.u64;
		return 0;
	case F_INT:
		if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
			*(int64_t *)(m + f->off) = o->via.i64;
			return 0;
		}
		if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
			return wrong_type(d, f, o, "an integer");
		if (o->via.u64 > INT64_MAX)
			return fail(d, ERANGE,
				    "field '%s' of '%s' is out of range: "
				    "%" PRIu64,
				    f->name, d->tname, o->via.u64);
		*(int64_t *)(m + f->off) = (int64_t)o->via.u64;
		return 0;
	case F_NUM:
		if (o->type == MSGPACK_OBJECT_FLOAT32 ||
		    o->type == MSGPACK_OBJECT_FLOAT64)
			v = o->via.f64;
		else if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
			v = (double)o->via.u64;
		else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
			v = (double)o->via.i64;
		else
			return wrong_type(d, f, o, "a number");
		if (!isfinite(v))
			return fail(d, EBADMSG,
				    "field '%s' of '%s' must be a finite "
				    "number",
				    f->name, d->tname);
		*(double *)(m + f->off) = v;
		if (f->flag)
			*(int *)(m + f->flag) = 1;
		return 0;
	case F_BOOL:
		if (o->type != MSGPACK_OBJECT_BOOLEAN)
			return wrong_type(d, f, o, "a boolean");
		*(int *)(m + f->off) = o->via.boolean;
		return 0;
	}
	return fail(d, EBADMSG, "field '%s' of '%s' has no known kind", f->name,
		    d->tname);
}

static bool key_is(const msgpack_object *k, const char *name)
{
	size_t n = strlen(name);

	return k->via.str.size == n && !memcmp(k->via.str.ptr, name, n);
}

/* Find "t" and "seq" in MAP, check them and the stream's order. */
static int decode_header(struct wrk_decoder *d, const msgpack_object *map,
			 struct wrk_msg *msg)
{
	const msgpack_object *t = NULL, *seq = NULL;
	const struct spec *sp;
	char q[256];
	uint32_t i;
	int type;

	for (i = 0; i < map->via.map.size; i++) {
		const msgpack_object_kv *kv = &map->via.map.ptr[i];

		if (kv->key.type != MSGPACK_OBJECT_STR)
			return fail(d, EBADMSG,
				    "frame holds a map whose key is %s, not a "
				    "string",
				    obj_type_name(&kv->key));
		if (key_is(&kv->key, "t")) {
			if (t)
				return fail(d, EBADMSG,
					    "duplicate field 't' in a frame");
			t = &kv->val;
		} else if (key_is(&kv->key, "seq")) {
			if (seq)
				return fail(d, EBADMSG,
					    "duplicate field 'seq' in a frame");
			seq = &kv->val;
		}
	}
	if (seq && seq->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
		msg->seq = seq->via.u64;
	if (!t)
		return fail(d, EBADMSG, "message has no type (field 't')");
	if (t->type != MSGPACK_OBJECT_STR)
		return fail(d, EBADMSG,
			    "message type (field 't') must be a string, not %s",
			    obj_type_name(t));
	for (type = 0; type < WRK_TYPE_COUNT; type++)
		if (key_is(t, specs[type].name))
			break;
	if (type == WRK_TYPE_COUNT)
		return fail(
			d, EPROTO, "unknown message type '%s'",
			quote(q, sizeof(q), t->via.str.ptr, t->via.str.size));
	sp = &specs[type];
	d->tname = sp->name;
	msg->type = (enum wrk_type)type;
	if (!seq)
		return fail(d, EBADMSG, "'%s' message has no 'seq'", sp->name);
	if (seq->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return fail(d, EBADMSG,
			    "field 'seq' of '%s' must be an unsigned integer, "
			    "not %s",
			    sp->name, obj_type_name(seq));
	if (!seq->via.u64 && type != WRK_ERROR)
		return fail(d, EBADMSG, "field 'seq' of '%s' must be positive",
			    sp->name);

	if (sp->down) {
		if (d->dir == DIR_UP)
			return fail(d, EPROTO,
				    "'%s' is a supervisor message, sent on an "
				    "agent's stream",
				    sp->name);
		d->dir = DIR_DOWN;
		return 0;
	}
	if (d->dir == DIR_DOWN)
		return fail(d, EPROTO,
			    "'%s' is an agent message, sent on a "
			    "supervisor's stream",
			    sp->name);
	if (d->dir == DIR_UNKNOWN && type != WRK_HELLO)
		return fail(d, EPROTO,
			    "the first message must be 'hello', not '%s'",
			    sp->name);
	if (d->dir == DIR_UP && type == WRK_HELLO)
		return fail(d, EPROTO, "'hello' sent twice on one stream");
	if (d->dir == DIR_UP && seq->via.u64 <= d->last_seq)
		return fail(d, EPROTO,
			    "seq %" PRIu64
			    " of '%s' is not greater than the previous "
			    "seq %" PRIu64,
			    seq->via.u64, sp->name, d->last_seq);
	d->dir = DIR_UP;
	return 0;
}

/* Decode the map MAP of type MSG->type into MSG. */
static int decode_fields(struct wrk_decoder *d, const msgpack_object *map,
			 struct wrk_msg *msg)
{
	const struct spec *sp = &specs[msg->type];
	unsigned seen = 0, j, k;
	uint32_t i;

	for (i = 0; i < map->via.map.size; i++) {
		const msgpack_object_kv *kv = &map->via.map.ptr[i];

		for (j = 0; j < sp->nfields; j++)
			if (key_is(&kv->key, sp->fields[j].name))
				break;
		if (j == sp->nfields)
			continue; /* unknown, "t" or "seq" */
		if (seen & 1u << j)
			return fail(d, EBADMSG, "duplicate field '%s' in '%s'",
				    sp->fields[j].name, sp->name);
		for (k = 0; k < sp->nfields; k++)
			if (k != j && seen & 1u << k &&
			    sp->fields[k].off == sp->fields[j].off)
				return fail(d, EBADMSG,
					    "'%s' has both '%s' and '%s': send "
					    "one",
					    sp->name, sp->fields[k].name,
					    sp->fields[j].name);
		if (take_field(d, &sp->fields[j], &kv->val, msg) < 0)
			return -1;
		seen |= 1u << j;
	}
	for (j = 0; j < sp->nfields; j++) {
		const struct field *f = &sp->fields[j];

		if (!f->req || seen & 1u << j)
			continue;
		if (f->kind != F_ANY && f->kind != F_JSON)
			return fail(d, EBADMSG, "'%s' message has no '%s'",
				    sp->name, f->name);
		for (k = 0; k < sp->nfields; k++)
			if (k != j && sp->fields[k].off == f->off)
				break;
		if (k < sp->nfields && !(seen & 1u << k))
			return fail(d, EBADMSG,
				    "'%s' message has neither '%s' nor '%s'",
				    sp->name, f->name, sp->fields[k].name);
	}
	if (msg->type == WRK_HELLO && msg->version != WRK_PROTO_VERSION)
		return fail(d, EPROTO,
			    "protocol version %" PRIu32
			    " is not supported: this side speaks version %d",
			    msg->version, WRK_PROTO_VERSION);
	return 0;
}

/* Decode the frame body BODY (N bytes) into MSG. */
static int decode_frame(struct wrk_decoder *d, const char *body, size_t n,
			struct wrk_msg *msg)
{
	const unsigned char *p = (const unsigned char *)body;
	const unsigned char *end = p + n;
	const msgpack_object *map;
	size_t off = 0;
	unsigned i;
	int rc = -1;

	d->tname = "?";
	d->nfix = 0;
	d->text.len = 0;
	if (scan_value(d, &p, end, (const unsigned char *)body, 0) < 0)
		return -1;
	if (p != end)
		return fail(d, EBADMSG,
			    "frame body holds %zu bytes after its msgpack "
			    "value",
			    (size_t)(end - p));
	switch (msgpack_unpack_next(&d->unp, body, n, &off)) {
	case MSGPACK_UNPACK_SUCCESS:
		break;
	case MSGPACK_UNPACK_NOMEM_ERROR:
		fail(d, ENOMEM, "out of memory decoding a frame");
		goto out;
	default:
		fail(d, EBADMSG, "frame body is not msgpack");
		goto out;
	}
	map = &d->unp.data;
	if (map->type != MSGPACK_OBJECT_MAP) {
		fail(d, EBADMSG, "frame holds %s, not a map",
		     obj_type_name(map));
		goto out;
	}
	if (decode_header(d, map, msg) < 0 || decode_fields(d, map, msg) < 0)
		goto out;
	for (i = 0; i < d->nfix; i++)
		*(const char **)((char *)msg + d->fix[i].off) =
			d->text.data + d->fix[i].at;
	d->last_seq = msg->seq;
	rc = 1;
out:
	/* Objects point into the frame, which is about to be dropped. */
	msgpack_unpacked_destroy(&d->unp);
	msgpack_unpacked_init(&d->unp);
	if (rc < 0) {
		/* Every failure without a message is a failed allocation. */
		if (!d->dead)
			fail(d, ENOMEM, "out of memory decoding a frame");
		errno = d->dead;
	}
	return rc;
}

int wrk_decoder_next(struct wrk_decoder *d, struct wrk_msg *msg)
{
	const unsigned char *h;
	size_t avail = d->len - d->off;
	uint32_t n;
	char q[32];
	int rc;

	memset(msg, 0, sizeof(*msg));
	if (d->dead) {
		errno = d->dead;
		return -1;
	}
	if (d->text.cap > 4 * (size_t)WRK_FRAME_MAX)
		wrk_buf_release(&d->text); /* after a huge message */
	if (avail < HEADER_LEN)
		return 0;
	h = (const unsigned char *)d->buf + d->off;
	n = be32(h);
	if (!n)
		return fail(d, EBADMSG, "frame of length 0");
	if (n > d->frame_max) {
		bool text = true;

		for (int i = 0; i < HEADER_LEN; i++)
			text = text && h[i] >= 0x20 && h[i] < 0x7f;
		return fail(d, ERANGE,
			    "frame of %" PRIu32
			    " bytes exceeds the limit of %zu bytes%s%s%s",
			    n, d->frame_max,
			    text ? " (the stream starts with text '" : "",
			    text ? quote(q, sizeof(q), (const char *)h, 4) : "",
			    text ? "': not the smithers protocol?)" : "");
	}
	if (avail - HEADER_LEN < n)
		return 0;
	d->prev_off = d->off;
	d->prev_len = d->len;
	d->prev_seq = d->last_seq;
	rc = decode_frame(d, d->buf + d->off + HEADER_LEN, n, msg);
	d->can_unread = rc == 1;
	d->off += HEADER_LEN + n;
	if (d->off == d->len)
		d->off = d->len = 0;
	return rc;
}

/* ---- the encoder ---------------------------------------------------- */

static int pack_write(void *data, const char *buf, size_t len)
{
	return buf_add(data, buf, len);
}

/* Whether field F of MSG is to be sent. */
static bool field_present(const struct field *f, const struct wrk_msg *msg)
{
	const char *m = (const char *)msg;

	switch ((enum kind)f->kind) {
	case F_ANY:
		return false; /* JSON is sent in its text form */
	case F_STR:
	case F_KEY:
	case F_JSON:
	case F_OUTPUT:
	case F_STATUS:
		return *(const char *const *)(m + f->off) != NULL;
	case F_U32:
	case F_BOOL:
		return true;
	case F_UINT:
	case F_COUNT:
		return f->req || *(const uint64_t *)(m + f->off);
	case F_INT:
		return f->req || *(const int64_t *)(m + f->off);
	case F_NUM:
		if (f->flag)
			return *(const int *)(m + f->flag) != 0;
		return *(const double *)(m + f->off) != 0;
	}
	return false;
}

static int pack_cstr(msgpack_packer *pk, const char *s)
{
	size_t n = strlen(s);

	return msgpack_pack_str(pk, n) || msgpack_pack_str_body(pk, s, n);
}

static int pack_field(msgpack_packer *pk, const struct field *f,
		      const struct wrk_msg *msg)
{
	const char *m = (const char *)msg;
	const char *s;

	if (pack_cstr(pk, f->name))
		return -1;
	switch ((enum kind)f->kind) {
	case F_STR:
	case F_KEY:
	case F_JSON:
	case F_STATUS:
		return pack_cstr(pk, *(const char *const *)(m + f->off));
	case F_OUTPUT:
		s = msg->output;
		if (utf8_valid(s, msg->output_len))
			return msgpack_pack_str(pk, msg->output_len) ||
			       msgpack_pack_str_body(pk, s, msg->output_len);
		return msgpack_pack_bin(pk, msg->output_len) ||
		       msgpack_pack_bin_body(pk, s, msg->output_len);
	case F_U32:
		return msgpack_pack_uint64(pk, *(const uint32_t *)(m + f->off));
	case F_UINT:
	case F_COUNT:
		return msgpack_pack_uint64(pk, *(const uint64_t *)(m + f->off));
	case F_INT:
		return msgpack_pack_int64(pk, *(const int64_t *)(m + f->off));
	case F_NUM:
		return msgpack_pack_double(pk, *(const double *)(m + f->off));
	case F_BOOL:
		return *(const int *)(m + f->off) ? msgpack_pack_true(pk)
						  : msgpack_pack_false(pk);
	case F_ANY:
		break;
	}
	return -1;
}

/* Whether MSG can be encoded: its required fields are there. */
static bool encodable(const struct spec *sp, const struct wrk_msg *msg)
{
	unsigned j;

	if (!msg->seq && msg->type != WRK_ERROR)
		return false;
	if (msg->type == WRK_TOOL_COMPLETE && msg->output_len && !msg->output)
		return false;
	for (j = 0; j < sp->nfields; j++) {
		const struct field *f = &sp->fields[j];

		if (f->req && f->kind != F_ANY && !field_present(f, msg))
			return false;
		if (f->kind == F_NUM && field_present(f, msg) &&
		    !isfinite(*(const double *)((const char *)msg + f->off)))
			return false;
	}
	return true;
}

int wrk_encode(struct wrk_buf *b, const struct wrk_msg *msg)
{
	const struct spec *sp;
	msgpack_packer pk;
	size_t start = b->len, n;
	unsigned j, count = 2;
	unsigned char *h;

	if ((unsigned)msg->type >= WRK_TYPE_COUNT) {
		errno = EINVAL;
		return -1;
	}
	sp = &specs[msg->type];
	if (!encodable(sp, msg)) {
		errno = EINVAL;
		return -1;
	}
	for (j = 0; j < sp->nfields; j++)
		count += field_present(&sp->fields[j], msg);
	if (buf_reserve(b, HEADER_LEN) < 0)
		return -1;
	b->len += HEADER_LEN;
	msgpack_packer_init(&pk, b, pack_write);
	if (msgpack_pack_map(&pk, count) || pack_cstr(&pk, "t") ||
	    pack_cstr(&pk, sp->name) || pack_cstr(&pk, "seq") ||
	    msgpack_pack_uint64(&pk, msg->seq))
		goto nomem;
	for (j = 0; j < sp->nfields; j++)
		if (field_present(&sp->fields[j], msg) &&
		    pack_field(&pk, &sp->fields[j], msg))
			goto nomem;
	n = b->len - start - HEADER_LEN;
	if (n > WRK_FRAME_MAX) {
		b->len = start;
		errno = ERANGE;
		return -1;
	}
	h = (unsigned char *)b->data + start;
	h[0] = (unsigned char)(n >> 24);
	h[1] = (unsigned char)(n >> 16);
	h[2] = (unsigned char)(n >> 8);
	h[3] = (unsigned char)n;
	return 0;
nomem:
	b->len = start;
	errno = ENOMEM;
	return -1;
}
