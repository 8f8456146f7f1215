/*
 * frame.h - the bottom layer of the protocol codec, private to worker/:
 * growing byte buffers, the errors every layer records, and frames (the
 * length prefix, the limits checked before a body is buffered or handed to
 * msgpack-c, the decoder's input buffer). Knows nothing of messages and
 * does not include msgpack.h. frame.c says what a frame is.
 */
#ifndef SMITHERS_WORKER_FRAME_H
#define SMITHERS_WORKER_FRAME_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "worker/proto.h"

/* Bytes of the big-endian length that opens every frame. */
#define WRK_HEADER_LEN 4

/* ---- byte buffers (struct wrk_buf, proto.h) --------------------------- */

/* Make room for N more bytes after B's data: 0, or -1 ENOMEM. */
int wrk_buf_grow(struct wrk_buf *b, size_t n);

/* Inline: the msgpack -> JSON writer calls these for every token. */
static inline int wrk_buf_reserve(struct wrk_buf *b, size_t n)
{
	if (b->cap - b->len >= n)
		return 0;
	return wrk_buf_grow(b, n);
}

/* Append N bytes at P to B: 0, or -1 ENOMEM (B unchanged). */
static inline int wrk_buf_add(struct wrk_buf *b, const void *p, size_t n)
{
	if (wrk_buf_reserve(b, n) < 0)
		return -1;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

static inline int wrk_buf_addc(struct wrk_buf *b, char c)
{
	return wrk_buf_add(b, &c, 1);
}

static inline int wrk_buf_adds(struct wrk_buf *b, const char *s)
{
	return wrk_buf_add(b, s, strlen(s));
}

/* ---- errors ------------------------------------------------------------ */

/* Why a stream died: CODE is the errno that killed it (0: alive). */
struct wrk_err {
	int code;
	char msg[512];
};

/* Record the error ERR with the message FMT in E and set errno; returns -1. */
int wrk_fail(struct wrk_err *e, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int wrk_vfail(struct wrk_err *e, int err, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

/*
 * S (N bytes) made fit for an error message into OUT (SIZE bytes, at least
 * 9): printable ASCII as is, other bytes as \xHH, cut after 48 bytes with
 * "...". Returns OUT.
 */
const char *wrk_quote(char *out, size_t size, const char *s, size_t n);

/* ---- frames in --------------------------------------------------------- */

/* The bytes of one stream, cut into frames; zero it, then wrk_frames_init. */
struct wrk_frames {
	char *buf; /* bytes fed: [off, len) not cut into frames yet */
	size_t off, len, cap;
	size_t frame_max;
	/* Where the last frame cut was: its bytes stay in buf until the next
	 * feed, so that wrk_frames_unread() can put it back. */
	size_t prev_off, prev_len;
	int can_unread;
};

/* Frames of at most FRAME_MAX body bytes (0: WRK_FRAME_MAX). */
void wrk_frames_init(struct wrk_frames *f, size_t frame_max);
/* Free F's buffer. */
void wrk_frames_release(struct wrk_frames *f);
/* Append LEN > 0 bytes (copied): 0, or -1 ENOMEM. Moves the buffer: a body
 * returned before is no longer valid, nor can it be unread. */
int wrk_frames_feed(struct wrk_frames *f, const void *data, size_t len);
/*
 * Cut the next whole frame: 1 with *BODY, *N its body (borrowed, valid
 * until the next feed), 0 when its bytes are not all there yet, -1 with
 * errno and E set (EBADMSG length 0, ERANGE over the limit), decided from
 * the header alone, before the body is waited for.
 */
int wrk_frames_next(struct wrk_frames *f, struct wrk_err *e, const char **body,
		    size_t *n);
/* Put the frame the last wrk_frames_next() cut back; -1 if there is none
 * (a feed came since, or it was put back already). */
int wrk_frames_unread(struct wrk_frames *f);
/* Bytes buffered that are not yet a whole frame. */
size_t wrk_frames_pending(const struct wrk_frames *f);

/*
 * Check that BODY (N bytes) is exactly one msgpack value whose nesting and
 * declared lengths fit (frame.c): 0, or -1 with errno and E set (EBADMSG,
 * ERANGE for the nesting). Needed before msgpack-c sees the body.
 */
int wrk_frame_check(const char *body, size_t n, struct wrk_err *e);

/* ---- frames out -------------------------------------------------------- */

/* Open a frame at the end of B: its header's room, the frame's offset in
 * *START. 0, or -1 ENOMEM. The body is then appended to B. */
int wrk_frame_open(struct wrk_buf *b, size_t *start);
/* Close the frame opened at START: write its length. -1 ERANGE (B cut back
 * to START) when its body exceeds WRK_FRAME_MAX. */
int wrk_frame_close(struct wrk_buf *b, size_t start);

#endif /* SMITHERS_WORKER_FRAME_H */
