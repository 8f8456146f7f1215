/*
 * frame.c - framing, the bottom layer of the protocol codec: the frame
 * format, its limits, the decoder's input buffer, the byte buffers frames
 * are encoded into, and the error record every layer of the codec shares.
 * What a frame holds is proto.c's business (message types and fields) and
 * msgjson.c's (values as JSON text); this file calls neither and does not
 * include msgpack.h.
 *
 * Format (docs/PROTOCOL.md): a frame is a 4-byte big-endian length N, then
 * N bytes holding exactly one msgpack map with string keys; "t" names the
 * message type and "seq" numbers it. 1 <= N <= the stream's frame limit;
 * the header is not counted.
 *
 * Invariants (the decoder faces untrusted bytes and is fuzzed):
 * - a frame's length is checked against the limit before its body is
 *   waited for or buffered;
 * - a body is walked once by wrk_frame_check() before msgpack-c sees it:
 *   it must be one msgpack value, nested at most WRK_DEPTH_MAX deep, whose
 *   every declared array, map, string or binary length fits in the bytes
 *   left. msgpack-c allocates room for a container's declared count up
 *   front, so this bounds its memory by a small multiple of the frame.
 *
 * A struct wrk_buf holds its LEN bytes at DATA, OFF bytes into its memory,
 * with room for CAP bytes from DATA. Consuming bytes advances DATA; the
 * bytes left are moved to the front only once the consumed ones are at
 * least as many (OFF >= LEN), so a writer that drains a large buffer in
 * small steps moves fewer bytes than it writes.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "worker/frame.h"

/* ---- byte buffers ---------------------------------------------------- */

int wrk_buf_grow(struct wrk_buf *b, size_t n)
{
	size_t cap;
	char *p;

	if (b->cap - b->len >= n)
		return 0;
	if (n > SIZE_MAX / 2 - b->len - b->off) {
		errno = ENOMEM;
		return -1;
	}
	cap = b->cap ? b->cap : 256;
	while (cap < b->len + n)
		cap *= 2;
	p = realloc(b->data ? b->data - b->off : NULL, b->off + cap);
	if (!p) {
		errno = ENOMEM;
		return -1;
	}
	b->data = p + b->off;
	b->cap = cap;
	return 0;
}

/* Give B's consumed bytes back to its room: DATA at its memory's start. */
static void buf_rewind(struct wrk_buf *b)
{
	if (!b->off)
		return;
	b->data -= b->off;
	b->cap += b->off;
	b->off = 0;
}

void wrk_buf_consume(struct wrk_buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		buf_rewind(b);
		return;
	}
	b->data += n;
	b->cap -= n;
	b->off += n;
	b->len -= n;
	if (b->off >= b->len) {
		/* Moves LEN <= OFF bytes, OFF being all those consumed since
		 * the last move: linear in the bytes consumed. */
		memmove(b->data - b->off, b->data, b->len);
		buf_rewind(b);
	}
}

void wrk_buf_release(struct wrk_buf *b)
{
	if (b->data)
		free(b->data - b->off);
	b->data = NULL;
	b->len = b->cap = b->off = 0;
}

/* ---- errors ---------------------------------------------------------- */

int wrk_vfail(struct wrk_err *e, int err, const char *fmt, va_list ap)
{
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	e->code = err;
	errno = err;
	return -1;
}

int wrk_fail(struct wrk_err *e, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	wrk_vfail(e, err, fmt, ap);
	va_end(ap);
	return -1;
}

const char *wrk_quote(char *out, size_t size, const char *s, size_t n)
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

/* ---- frames in ------------------------------------------------------- */

void wrk_frames_init(struct wrk_frames *f, size_t frame_max)
{
	f->frame_max = frame_max ? frame_max : WRK_FRAME_MAX;
	if (f->frame_max > UINT32_MAX)
		f->frame_max = UINT32_MAX;
}

void wrk_frames_release(struct wrk_frames *f)
{
	free(f->buf);
	f->buf = NULL;
	f->off = f->len = f->cap = 0;
}

size_t wrk_frames_pending(const struct wrk_frames *f)
{
	return f->len - f->off;
}

int wrk_frames_unread(struct wrk_frames *f)
{
	if (!f->can_unread)
		return -1;
	f->off = f->prev_off;
	f->len = f->prev_len;
	f->can_unread = 0;
	return 0;
}

int wrk_frames_feed(struct wrk_frames *f, const void *data, size_t len)
{
	size_t need, cap;
	char *p;

	f->can_unread = 0; /* the bytes may move */
	if (f->cap - f->len < len && f->off) {
		memmove(f->buf, f->buf + f->off, f->len - f->off);
		f->len -= f->off;
		f->off = 0;
	}
	if (f->cap - f->len < len) {
		if (len > SIZE_MAX / 2 - f->len) {
			errno = ENOMEM;
			return -1;
		}
		need = f->len + len;
		cap = f->cap ? f->cap : 4096;
		while (cap < need)
			cap *= 2;
		p = realloc(f->buf, cap);
		if (!p) {
			errno = ENOMEM;
			return -1;
		}
		f->buf = p;
		f->cap = cap;
	}
	memcpy(f->buf + f->len, data, len);
	f->len += len;
	return 0;
}

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

int wrk_frames_next(struct wrk_frames *f, struct wrk_err *e, const char **body,
		    size_t *len)
{
	const unsigned char *h;
	size_t avail = f->len - f->off;
	uint32_t n;
	char q[32];

	if (avail < WRK_HEADER_LEN)
		return 0;
	h = (const unsigned char *)f->buf + f->off;
	n = be32(h);
	if (!n)
		return wrk_fail(e, EBADMSG, "frame of length 0");
	if (n > f->frame_max) {
		bool text = true;

		for (int i = 0; i < WRK_HEADER_LEN; i++)
			text = text && h[i] >= 0x20 && h[i] < 0x7f;
		return wrk_fail(
			e, ERANGE,
			"frame of %" PRIu32
			" bytes exceeds the limit of %zu bytes%s%s%s",
			n, f->frame_max,
			text ? " (the stream starts with text '" : "",
			text ? wrk_quote(q, sizeof(q), (const char *)h, 4) : "",
			text ? "': not the smithers protocol?)" : "");
	}
	if (avail - WRK_HEADER_LEN < n)
		return 0;
	f->prev_off = f->off;
	f->prev_len = f->len;
	f->can_unread = 1;
	*body = f->buf + f->off + WRK_HEADER_LEN;
	*len = n;
	/* The bytes stay where they are until the next feed. */
	f->off += WRK_HEADER_LEN + n;
	if (f->off == f->len)
		f->off = f->len = 0;
	return 1;
}

/* ---- the shape of a body ------------------------------------------------ */

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
static int scan_value(struct wrk_err *e, const unsigned char **pp,
		      const unsigned char *end, const unsigned char *start,
		      unsigned depth)
{
	const unsigned char *p = *pp;
	uint64_t n = 0, i, items = 0, skip = 0;
	size_t left, lenbytes = 0;
	unsigned char c;

	if (p >= end)
		return wrk_fail(e, EBADMSG,
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
			return wrk_fail(e, EBADMSG,
					"frame body is not msgpack: byte "
					"0x%02x at offset %zu",
					c, (size_t)(p - 1 - start));
		}
		if (lenbytes) {
			if (left < lenbytes)
				return wrk_fail(e, EBADMSG,
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
			return wrk_fail(e, ERANGE,
					"values are nested deeper than %d "
					"levels",
					WRK_DEPTH_MAX);
		if (items > left)
			return wrk_fail(
				e, EBADMSG,
				"frame body is not one msgpack value: a "
				"container of %" PRIu64 " items at byte %zu "
				"does not fit in the frame",
				(c >= 0xde || c <= 0x8f) ? items / 2 : items,
				(size_t)(*pp - start));
		*pp = p;
		for (i = 0; i < items; i++)
			if (scan_value(e, pp, end, start, depth + 1) < 0)
				return -1;
		return 0;
	}
	if (skip > left)
		return wrk_fail(e, EBADMSG,
				"frame body is not one msgpack value: it ends "
				"inside one, at byte %zu",
				(size_t)(end - start));
	*pp = p + skip;
	return 0;
}

int wrk_frame_check(const char *body, size_t n, struct wrk_err *e)
{
	const unsigned char *start = (const unsigned char *)body;
	const unsigned char *p = start, *end = start + n;

	if (scan_value(e, &p, end, start, 0) < 0)
		return -1;
	if (p != end)
		return wrk_fail(e, EBADMSG,
				"frame body holds %zu bytes after its msgpack "
				"value",
				(size_t)(end - p));
	return 0;
}

/* ---- frames out ------------------------------------------------------ */

int wrk_frame_open(struct wrk_buf *b, size_t *start)
{
	if (wrk_buf_reserve(b, WRK_HEADER_LEN) < 0)
		return -1;
	*start = b->len;
	b->len += WRK_HEADER_LEN;
	return 0;
}

int wrk_frame_close(struct wrk_buf *b, size_t start)
{
	size_t n = b->len - start - WRK_HEADER_LEN;
	unsigned char *h;

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
}
