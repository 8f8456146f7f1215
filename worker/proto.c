/*
 * proto.c - the top layer of the protocol codec: messages. The table of
 * message types and their fields that both the encoder and the decoder
 * read, the decoding of a frame's msgpack map into a struct wrk_msg (every
 * field type-checked, the per-type rules, the order of a stream), and the
 * encoding of a struct wrk_msg into a frame. One of the two files that
 * include msgpack.h (msgjson.c is the other); below it, frame.c cuts and
 * writes frames (the format is described there) and msgjson.c turns
 * values into JSON text. Neither calls back up here.
 *
 * Invariants of the decoder (it faces untrusted bytes and is fuzzed):
 * - msgpack-c sees a body only after wrk_frame_check() found it to be one
 *   value of bounded nesting and lengths that fit (see frame.c);
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
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "worker/frame.h"
#include "worker/msgjson.h"
#include "worker/proto.h"

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
	FIELD("role", F_STR, 0, role),
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
	FIELD("ref", F_STR, 0, ref),
	FIELD("parent", F_UINT, 0, parent),
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
	{"cost", F_NUM, 0, offsetof(struct wrk_msg, cost),
	 offsetof(struct wrk_msg, has_cost)},
	FIELD("cache_read", F_COUNT, 0, cache_read),
	FIELD("cache_write", F_COUNT, 0, cache_write),
	FIELD("reasoning", F_COUNT, 0, reasoning),
	FIELD("total", F_BOOL, 0, total),
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
static const struct field session_fields[] = {
	FIELD("id", F_STR, 1, session_id),
	FIELD("model", F_STR, 0, model),
	FIELD("version", F_STR, 0, agent_version),
	FIELD("tools", F_ANY, 0, json),
	FIELD("tools_json", F_JSON, 0, json),
};
static const struct field error_fields[] = {
	FIELD("reason", F_STR, 1, reason),
	FIELD("fatal", F_BOOL, 1, fatal),
};
static const struct field gc_fields[] = {
	FIELD("keep", F_INT, 1, keep),
	FIELD("older_than", F_INT, 1, older_than_s),
	FIELD("dry_run", F_BOOL, 1, dry_run),
};
static const struct field reply_fields[] = {
	FIELD("text", F_STR, 1, text),
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
	[WRK_SESSION] = SPEC("session", session_fields, false),
	[WRK_ACK] = {"ack", NULL, 0, true},
	[WRK_ERROR] = SPEC("error", error_fields, true),
	[WRK_GC] = SPEC("gc", gc_fields, false),
	[WRK_REPLY] = SPEC("reply", reply_fields, true),
};

const char *wrk_type_name(enum wrk_type t)
{
	if ((unsigned)t >= WRK_TYPE_COUNT)
		return "?";
	return specs[t].name;
}

/* ---- the decoder ---------------------------------------------------- */

enum direction { DIR_UNKNOWN, DIR_UP, DIR_DOWN };

/* Where the string of one member of the message lies in the text buffer. */
struct fixup {
	unsigned short off;
	size_t at;
};

struct wrk_decoder {
	struct wrk_frames in;
	uint64_t last_seq;
	uint64_t prev_seq; /* last_seq before the last message, for unread */
	enum direction dir;
	struct wrk_err err; /* err.code: the errno that killed the stream */
	msgpack_unpacked unp;
	struct wrk_buf text; /* the strings of the current message */
	struct fixup fix[MAX_FIELDS + 2];
	unsigned nfix;
	const char *tname; /* type of the message being decoded */
};

struct wrk_decoder *wrk_decoder_new(size_t frame_max)
{
	struct wrk_decoder *d = calloc(1, sizeof(*d));

	if (!d) {
		errno = ENOMEM;
		return NULL;
	}
	wrk_frames_init(&d->in, frame_max);
	msgpack_unpacked_init(&d->unp);
	return d;
}

void wrk_decoder_free(struct wrk_decoder *d)
{
	if (!d)
		return;
	msgpack_unpacked_destroy(&d->unp);
	wrk_buf_release(&d->text);
	wrk_frames_release(&d->in);
	free(d);
}

const char *wrk_decoder_errmsg(const struct wrk_decoder *d)
{
	return d->err.msg;
}

uint64_t wrk_decoder_last_seq(const struct wrk_decoder *d)
{
	return d->last_seq;
}

size_t wrk_decoder_pending(const struct wrk_decoder *d)
{
	return wrk_frames_pending(&d->in);
}

int wrk_decoder_unread(struct wrk_decoder *d)
{
	if (d->err.code || wrk_frames_unread(&d->in) < 0) {
		errno = EINVAL;
		return -1;
	}
	d->last_seq = d->prev_seq;
	return 0;
}

int wrk_decoder_feed(struct wrk_decoder *d, const void *data, size_t len)
{
	if (d->err.code || !len)
		return 0;
	return wrk_frames_feed(&d->in, data, len);
}

/* Kill the stream with errno ERR and the message FMT. Returns -1. */
__attribute__((format(printf, 3, 4))) static int
fail(struct wrk_decoder *d, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	wrk_vfail(&d->err, err, fmt, ap);
	va_end(ap);
	return -1;
}

/* Record that member OFF is the string starting at AT in the text. */
static void add_fixup(struct wrk_decoder *d, unsigned short off, size_t at)
{
	d->fix[d->nfix].off = off;
	d->fix[d->nfix].at = at;
	d->nfix++;
}

static int wrong_type(struct wrk_decoder *d, const struct field *f,
		      const msgpack_object *o, const char *want)
{
	return fail(d, EBADMSG, "field '%s' of '%s' must be %s, not %s",
		    f->name, d->tname, want, wrk_msgpack_kind(o));
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
				    wrk_quote(q, sizeof(q), s, n), n,
				    WRK_KEY_MAX);
	}
	if (f->kind != F_OUTPUT) {
		if (!wrk_utf8_valid(s, n))
			return fail(d, EBADMSG,
				    "field '%s' of '%s' is not valid UTF-8: "
				    "'%s'",
				    f->name, d->tname,
				    wrk_quote(q, sizeof(q), s, n));
		if (memchr(s, '\0', n))
			return fail(d, EBADMSG,
				    "field '%s' of '%s' holds a NUL byte: "
				    "'%s'",
				    f->name, d->tname,
				    wrk_quote(q, sizeof(q), s, n));
	}
	if (f->kind == F_STATUS && !(n == 9 && !memcmp(s, "completed", 9)) &&
	    !(n == 6 && !memcmp(s, "failed", 6)))
		return fail(d, EBADMSG,
			    "field 'status' of '%s' must be 'completed' or "
			    "'failed', not '%s'",
			    d->tname, wrk_quote(q, sizeof(q), s, n));
	at = d->text.len;
	if (wrk_buf_add(&d->text, s, n) < 0 || wrk_buf_addc(&d->text, '\0') < 0)
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
		if (wrk_msgpack_to_json(&d->text, o, &d->err, f->name,
					d->tname) < 0 ||
		    wrk_buf_addc(&d->text, '\0') < 0)
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
				    wrk_msgpack_kind(&kv->key));
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
			    wrk_msgpack_kind(t));
	for (type = 0; type < WRK_TYPE_COUNT; type++)
		if (key_is(t, specs[type].name))
			break;
	if (type == WRK_TYPE_COUNT)
		return fail(d, EPROTO, "unknown message type '%s'",
			    wrk_quote(q, sizeof(q), t->via.str.ptr,
				      t->via.str.size));
	sp = &specs[type];
	d->tname = sp->name;
	msg->type = (enum wrk_type)type;
	if (!seq)
		return fail(d, EBADMSG, "'%s' message has no 'seq'", sp->name);
	if (seq->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return fail(d, EBADMSG,
			    "field 'seq' of '%s' must be an unsigned integer, "
			    "not %s",
			    sp->name, wrk_msgpack_kind(seq));
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
	const msgpack_object *map;
	size_t off = 0;
	unsigned i;
	int rc = -1;

	d->tname = "?";
	d->nfix = 0;
	d->text.len = 0;
	if (wrk_frame_check(body, n, &d->err) < 0)
		return -1;
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
		     wrk_msgpack_kind(map));
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
		if (!d->err.code)
			fail(d, ENOMEM, "out of memory decoding a frame");
		errno = d->err.code;
	}
	return rc;
}

int wrk_decoder_next(struct wrk_decoder *d, struct wrk_msg *msg)
{
	const char *body;
	size_t n;
	int rc;

	memset(msg, 0, sizeof(*msg));
	if (d->err.code) {
		errno = d->err.code;
		return -1;
	}
	if (d->text.cap > 4 * (size_t)WRK_FRAME_MAX)
		wrk_buf_release(&d->text); /* after a huge message */
	rc = wrk_frames_next(&d->in, &d->err, &body, &n);
	if (rc <= 0)
		return rc;
	d->prev_seq = d->last_seq;
	return decode_frame(d, body, n, msg);
}

/* ---- the encoder ---------------------------------------------------- */

static int pack_write(void *data, const char *buf, size_t len)
{
	return wrk_buf_add(data, buf, len);
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
		return true;
	case F_BOOL:
		return f->req || *(const int *)(m + f->off);
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
		if (wrk_utf8_valid(s, msg->output_len))
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
	struct wrk_msg given;
	msgpack_packer pk;
	size_t start = b->len;
	unsigned j, count = 2;

	if ((unsigned)msg->type >= WRK_TYPE_COUNT) {
		errno = EINVAL;
		return -1;
	}
	if (msg->type == WRK_USAGE && !msg->has_cost && msg->cost != 0) {
		/* Callers from before has_cost set only a non-zero cost. */
		given = *msg;
		given.has_cost = 1;
		msg = &given;
	}
	sp = &specs[msg->type];
	if (!encodable(sp, msg)) {
		errno = EINVAL;
		return -1;
	}
	for (j = 0; j < sp->nfields; j++)
		count += field_present(&sp->fields[j], msg);
	if (wrk_frame_open(b, &start) < 0)
		return -1;
	msgpack_packer_init(&pk, b, pack_write);
	if (msgpack_pack_map(&pk, count) || pack_cstr(&pk, "t") ||
	    pack_cstr(&pk, sp->name) || pack_cstr(&pk, "seq") ||
	    msgpack_pack_uint64(&pk, msg->seq))
		goto nomem;
	for (j = 0; j < sp->nfields; j++)
		if (field_present(&sp->fields[j], msg) &&
		    pack_field(&pk, &sp->fields[j], msg))
			goto nomem;
	return wrk_frame_close(b, start);
nomem:
	b->len = start;
	errno = ENOMEM;
	return -1;
}
