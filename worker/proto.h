/*
 * proto.h - the wire protocol between an agent and the supervisor: frames
 * of one msgpack map each, their limits, and the codec both sides use.
 *
 * A frame is a 4-byte big-endian length N (1 <= N <= the frame limit)
 * followed by N bytes holding exactly one msgpack map with string keys.
 * Every map has "t" (the message type) and "seq". docs/PROTOCOL.md is the
 * complete description, for agents written in any language.
 *
 * Bump WRK_PROTO_VERSION when a message changes incompatibly; adding an
 * optional field is not such a change (unknown fields are ignored).
 *
 * Errors: functions return -1 (or NULL) with errno set; the decoder keeps a
 * human message (wrk_decoder_errmsg()). Nothing here prints or exits.
 */
#ifndef SMITHERS_WORKER_PROTO_H
#define SMITHERS_WORKER_PROTO_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#define WRK_PROTO_VERSION 1
/* Default largest frame body, in bytes (the 4-byte header not counted). */
#define WRK_FRAME_MAX (1024 * 1024)
/* Longest state or memory key, in bytes (UTF-8, non-empty, no NUL). */
#define WRK_KEY_MAX 256
/* Deepest container nesting in a frame, its own map being level 1. */
#define WRK_DEPTH_MAX 32

enum wrk_type {
	WRK_HELLO,
	WRK_STATE_SET,
	WRK_STATE_DELETE,
	WRK_MEMORY_ADD,
	WRK_TOOL_START,
	WRK_TOOL_COMPLETE,
	WRK_ARTIFACT_ADD,
	WRK_USAGE,
	WRK_LOG,
	WRK_RESULT,
	WRK_FAIL,
	WRK_SESSION, /* the agent's own session: id, model, version, tools */
	WRK_ACK,     /* supervisor -> agent */
	WRK_ERROR,   /* supervisor -> agent */
	WRK_GC,	     /* control connection -> supervisor */
	WRK_REPLY,   /* supervisor -> control connection */
	WRK_TYPE_COUNT
};

/* Wire name of T ("state.set", ...); "?" for a value out of range. */
const char *wrk_type_name(enum wrk_type t);

/*
 * A message. Strings are NUL-terminated UTF-8, NULL when absent. A decoded
 * message is owned by its decoder and valid until the decoder's next call;
 * for wrk_encode() everything is borrowed from the caller.
 */
struct wrk_msg {
	enum wrk_type type;
	uint64_t seq;
	/* hello */
	uint32_t version;
	int64_t agent_id; /* 0: not given */
	const char *token;
	int64_t pid;	  /* 0: not given */
	const char *role; /* NULL: an agent; "control": a control connection */
	/* state.set, state.delete, memory.add */
	const char *key;
	/* JSON text: state.set value, tool.start input, artifact.add metadata,
	 * result value, session tools */
	const char *json;
	const char *trigger;
	/* memory.add */
	const char *category, *scope, *content, *source;
	double confidence;
	int has_confidence;
	/* tool.start, tool.complete */
	uint64_t call;
	const char *tool;
	const char *ref;    /* tool.start: the agent's own id of the call */
	uint64_t parent;    /* tool.start: the call this one runs in; 0: none */
	const char *output; /* may hold NUL bytes; NUL-terminated too */
	size_t output_len;
	const char *summary, *status, *error; /* error: also fail */
	/* artifact.add (kind is the wire's "type"); summary as above */
	const char *name, *path, *kind;
	/* usage */
	uint64_t tokens_in, tokens_out;
	uint64_t cache_read, cache_write;
	uint64_t reasoning; /* output tokens the model spent reasoning */
	double cost;
	int has_cost; /* cost was given (even if zero) */
	int total;    /* the counts are the stream's totals, not increments */
	/* log (text is the message), result (text is the plain result) */
	const char *level, *text;
	/* error (down) */
	const char *reason;
	int fatal;
	/* gc (control); its reply is in text */
	int64_t keep, older_than_s; /* -1: no such rule */
	int dry_run;
	/* session */
	const char *session_id, *model;
	/* The agent program's version (the wire's "version": hello's
	 * protocol version above already holds the name) */
	const char *agent_version;
};

struct wrk_decoder;

/* A decoder for one stream; FRAME_MAX 0 means WRK_FRAME_MAX. NULL ENOMEM. */
struct wrk_decoder *wrk_decoder_new(size_t frame_max);
/* wrk_decoder_free(NULL) is a no-op. */
void wrk_decoder_free(struct wrk_decoder *d);

/*
 * Append LEN bytes read from the stream (copied). 0, or -1 ENOMEM. Call
 * wrk_decoder_next() until it returns 0 after each feed, so that a bad
 * header is refused before its body is buffered. Bytes fed to a dead
 * decoder are dropped.
 */
int wrk_decoder_feed(struct wrk_decoder *d, const void *data, size_t len);

/*
 * Decode the next whole frame into *MSG: 1 a message, 0 more bytes needed,
 * -1 on error, with errno EBADMSG (malformed: not a frame, not msgpack,
 * missing field, wrong type, invalid UTF-8), ERANGE (a limit: frame length,
 * key length, nesting, number range), EPROTO (unknown type, version
 * mismatch, seq not increasing, hello out of place) or ENOMEM, and a
 * message in wrk_decoder_errmsg(). After -1 the stream is dead: every later
 * call returns -1 again. On -1, MSG->seq is the offending frame's seq when
 * it could be read, else 0.
 *
 * A stream is either up (agent -> supervisor: hello first, then the other
 * agent messages, seq strictly increasing) or down (ack and error only);
 * its first message decides.
 */
int wrk_decoder_next(struct wrk_decoder *d, struct wrk_msg *msg);

/* Why the last call failed (borrowed; "" if none). */
const char *wrk_decoder_errmsg(const struct wrk_decoder *d);
/* Seq of the last message decoded (0: none yet). */
uint64_t wrk_decoder_last_seq(const struct wrk_decoder *d);
/* Put the message the last wrk_decoder_next() returned back, to be decoded
 * again by the next call (the caller could not apply it yet). Only right
 * after that call, before any wrk_decoder_feed(); -1 EINVAL otherwise. */
int wrk_decoder_unread(struct wrk_decoder *d);
/* Bytes buffered that are not yet a whole frame. */
size_t wrk_decoder_pending(const struct wrk_decoder *d);

/* A growing byte buffer; zero-initialise it. DATA holds its LEN bytes,
 * with room for CAP from DATA; wrk_buf_consume() moves DATA forward, OFF
 * bytes past the start of the memory. */
struct wrk_buf {
	char *data;
	size_t len, cap;
	size_t off;
};

/*
 * Append one frame holding MSG to B. The JSON fields are sent in their text
 * forms ("json", "input_json", "metadata_json", "tools_json"); optional
 * numbers and flags only when non-zero, the cost when has_cost is set or
 * it is non-zero. Returns 0, or -1 with
 * errno ENOMEM, ERANGE (the frame would exceed WRK_FRAME_MAX) or EINVAL (a
 * required field is NULL, MSG->type out of range); B is unchanged on error.
 */
int wrk_encode(struct wrk_buf *b, const struct wrk_msg *msg);
/* Drop the first N bytes of B (all of them if N >= B->len). DATA moves;
 * the cost is linear in the bytes consumed, however small the steps. */
void wrk_buf_consume(struct wrk_buf *b, size_t n);
/* Free B's memory and zero it. */
void wrk_buf_release(struct wrk_buf *b);

#endif /* SMITHERS_WORKER_PROTO_H */
