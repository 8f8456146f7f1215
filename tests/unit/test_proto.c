/*
 * test_proto.c - the protocol codec (worker/proto.c, msgjson.c, frame.c):
 * round trips of every message type, framing under any split of the bytes,
 * every error a peer can provoke, the msgpack -> JSON conversion, a frame
 * made by another implementation (Python's msgpack), and the output buffer
 * drained in small steps.
 *
 * Frames are built here byte by byte (mp_*), without msgpack-c, so that the
 * tests do not share the codec's idea of the format.
 */
#include "config.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "worker/proto.h"

/* ---- a msgpack writer for building frames by hand -------------------- */

struct mp {
	unsigned char *b;
	size_t n, cap;
	size_t start; /* of the frame being built */
};

static void mp_raw(struct mp *m, const void *p, size_t n)
{
	if (m->n + n > m->cap) {
		m->cap = (m->n + n) * 2 + 64;
		m->b = realloc(m->b, m->cap);
		assert_non_null(m->b);
	}
	memcpy(m->b + m->n, p, n);
	m->n += n;
}

static void mp_byte(struct mp *m, unsigned c)
{
	unsigned char b = (unsigned char)c;

	mp_raw(m, &b, 1);
}

static void mp_be(struct mp *m, uint64_t v, int bytes)
{
	while (bytes--)
		mp_byte(m, (unsigned)(v >> (8 * bytes)) & 0xff);
}

static void mp_uint(struct mp *m, uint64_t v)
{
	if (v < 128) {
		mp_byte(m, (unsigned)v);
	} else if (v <= 0xff) {
		mp_byte(m, 0xcc);
		mp_be(m, v, 1);
	} else if (v <= 0xffff) {
		mp_byte(m, 0xcd);
		mp_be(m, v, 2);
	} else if (v <= 0xffffffff) {
		mp_byte(m, 0xce);
		mp_be(m, v, 4);
	} else {
		mp_byte(m, 0xcf);
		mp_be(m, v, 8);
	}
}

static void mp_int(struct mp *m, int64_t v)
{
	if (v >= 0) {
		mp_uint(m, (uint64_t)v);
	} else if (v >= -32) {
		mp_byte(m, (unsigned)(v & 0xff));
	} else {
		mp_byte(m, 0xd3);
		mp_be(m, (uint64_t)v, 8);
	}
}

static void mp_strn(struct mp *m, const char *s, size_t n)
{
	if (n < 32) {
		mp_byte(m, 0xa0 | (unsigned)n);
	} else if (n <= 0xff) {
		mp_byte(m, 0xd9);
		mp_be(m, n, 1);
	} else if (n <= 0xffff) {
		mp_byte(m, 0xda);
		mp_be(m, n, 2);
	} else {
		mp_byte(m, 0xdb);
		mp_be(m, n, 4);
	}
	mp_raw(m, s, n);
}

static void mp_str(struct mp *m, const char *s)
{
	mp_strn(m, s, strlen(s));
}

static void mp_bin(struct mp *m, const void *p, size_t n)
{
	mp_byte(m, 0xc4);
	mp_be(m, n, 1);
	mp_raw(m, p, n);
}

static void mp_f64(struct mp *m, double v)
{
	uint64_t u;

	memcpy(&u, &v, 8);
	mp_byte(m, 0xcb);
	mp_be(m, u, 8);
}

static void mp_f32(struct mp *m, float v)
{
	uint32_t u;

	memcpy(&u, &v, 4);
	mp_byte(m, 0xca);
	mp_be(m, u, 4);
}

static void mp_map(struct mp *m, unsigned n)
{
	if (n < 16) {
		mp_byte(m, 0x80 | n);
	} else {
		mp_byte(m, 0xde);
		mp_be(m, n, 2);
	}
}

static void mp_arr(struct mp *m, unsigned n)
{
	if (n < 16) {
		mp_byte(m, 0x90 | n);
	} else {
		mp_byte(m, 0xdc);
		mp_be(m, n, 2);
	}
}

static void mp_nil(struct mp *m)
{
	mp_byte(m, 0xc0);
}

static void mp_bool(struct mp *m, int v)
{
	mp_byte(m, v ? 0xc3 : 0xc2);
}

/* Start a frame: room for its length. */
static void frame_begin(struct mp *m)
{
	m->start = m->n;
	mp_be(m, 0, 4);
}

/* Write the frame's length in its header. */
static void frame_end(struct mp *m)
{
	size_t len = m->n - m->start - 4;

	m->b[m->start] = (unsigned char)(len >> 24);
	m->b[m->start + 1] = (unsigned char)(len >> 16);
	m->b[m->start + 2] = (unsigned char)(len >> 8);
	m->b[m->start + 3] = (unsigned char)len;
}

/* Start a frame of a map of N + 2 entries: "t" T and "seq" SEQ first. */
static void frame_msg(struct mp *m, const char *t, uint64_t seq, unsigned n)
{
	frame_begin(m);
	mp_map(m, n + 2);
	mp_str(m, "t");
	mp_str(m, t);
	mp_str(m, "seq");
	mp_uint(m, seq);
}

static void hello_frame(struct mp *m)
{
	frame_msg(m, "hello", 1, 1);
	mp_str(m, "v");
	mp_uint(m, WRK_PROTO_VERSION);
	frame_end(m);
}

static void mp_free(struct mp *m)
{
	free(m->b);
	memset(m, 0, sizeof(*m));
}

/* ---- helpers ---------------------------------------------------------- */

/* Feed M to a new decoder that has seen hello; return the result of next(). */
static int decode_after_hello(struct wrk_decoder **dp, struct mp *m,
			      struct wrk_msg *msg)
{
	struct mp h = {0};
	struct wrk_decoder *d = wrk_decoder_new(0);

	assert_non_null(d);
	hello_frame(&h);
	assert_int_equal(wrk_decoder_feed(d, h.b, h.n), 0);
	assert_int_equal(wrk_decoder_next(d, msg), 1);
	assert_int_equal(msg->type, WRK_HELLO);
	mp_free(&h);
	assert_int_equal(wrk_decoder_feed(d, m->b, m->n), 0);
	*dp = d;
	return wrk_decoder_next(d, msg);
}

/* What the failing check was about, for its message. */
static const char *what = "";

/*
 * Decode the frame in M after a hello and check that it fails with ERR and
 * a message containing NEEDLE; the decoder then stays dead.
 */
static void expect_error(struct mp *m, int err, const char *needle)
{
	struct wrk_decoder *d;
	struct wrk_msg msg;

	int r;

	errno = 0;
	r = decode_after_hello(&d, m, &msg);
	while (r == 1) /* the frames before the bad one */
		r = wrk_decoder_next(d, &msg);
	assert_int_equal(r, -1);
	if (errno != err || !strstr(wrk_decoder_errmsg(d), needle))
		fail_msg("%s: errno %d (want %d), message '%s' (want '%s')",
			 what, errno, err, wrk_decoder_errmsg(d), needle);
	/* Fail closed: the stream stays dead. */
	assert_int_equal(wrk_decoder_feed(d, "x", 1), 0);
	assert_int_equal(wrk_decoder_next(d, &msg), -1);
	assert_int_equal(errno, err);
	wrk_decoder_free(d);
	mp_free(m);
}

/* The same for a frame that is the first of its stream. */
static void expect_error_first(struct mp *m, int err, const char *needle)
{
	struct wrk_decoder *d = wrk_decoder_new(0);
	struct wrk_msg msg;

	assert_non_null(d);
	int r;

	assert_int_equal(wrk_decoder_feed(d, m->b, m->n), 0);
	errno = 0;
	while ((r = wrk_decoder_next(d, &msg)) == 1)
		;
	assert_int_equal(r, -1);
	if (errno != err || !strstr(wrk_decoder_errmsg(d), needle))
		fail_msg("%s: errno %d (want %d), message '%s' (want '%s')",
			 what, errno, err, wrk_decoder_errmsg(d), needle);
	wrk_decoder_free(d);
	mp_free(m);
}

/* Decode a state.set whose "value" is written by FN; return its JSON. */
static char *value_json(void (*fn)(struct mp *))
{
	struct wrk_decoder *d;
	struct wrk_msg msg;
	struct mp m = {0};
	char *json;

	frame_msg(&m, "state.set", 2, 2);
	mp_str(&m, "key");
	mp_str(&m, "k");
	mp_str(&m, "value");
	fn(&m);
	frame_end(&m);
	if (decode_after_hello(&d, &m, &msg) != 1)
		fail_msg("decode failed: %s", wrk_decoder_errmsg(d));
	json = strdup(msg.json);
	wrk_decoder_free(d);
	mp_free(&m);
	return json;
}

/* ---- round trips ------------------------------------------------------ */

static const char output_bytes[] = "line 1\n\0\xff binary";

/* A message of type T with every field it has set. */
static void full_msg(struct wrk_msg *m, enum wrk_type t, uint64_t seq)
{
	memset(m, 0, sizeof(*m));
	m->type = t;
	m->seq = seq;
	switch (t) {
	case WRK_HELLO:
		m->version = WRK_PROTO_VERSION;
		m->agent_id = 42;
		m->token = "s3cret";
		m->pid = 4242;
		break;
	case WRK_STATE_SET:
		m->key = "phase";
		m->json = "{\"a\": [1, 2]}";
		m->trigger = "scout-done";
		break;
	case WRK_STATE_DELETE:
		m->key = "phase";
		m->trigger = "cleanup";
		break;
	case WRK_MEMORY_ADD:
		m->category = "fact";
		m->scope = "project";
		m->key = "build";
		m->content = "make -j2";
		m->confidence = 0.75;
		m->has_confidence = 1;
		m->source = "agent";
		break;
	case WRK_TOOL_START:
		m->call = 7;
		m->tool = "grep";
		m->json = "{\"pattern\": \"TODO\"}";
		m->ref = "toolu_01";
		m->parent = 3;
		break;
	case WRK_TOOL_COMPLETE:
		m->call = 7;
		m->output = output_bytes;
		m->output_len = sizeof(output_bytes) - 1;
		m->summary = "3 hits";
		m->status = "failed";
		m->error = "exit 2";
		break;
	case WRK_ARTIFACT_ADD:
		m->name = "report";
		m->path = "out/report.md";
		m->kind = "markdown";
		m->summary = "the report";
		m->json = "{\"pages\": 3}";
		break;
	case WRK_USAGE:
		m->tokens_in = 1000;
		m->tokens_out = (uint64_t)INT64_MAX;
		m->cost = 0.125;
		m->has_cost = 1;
		m->cache_read = 70000;
		m->cache_write = 512;
		m->reasoning = 333;
		m->total = 1;
		break;
	case WRK_LOG:
		m->level = "warn";
		m->text = "disk \xc3\xa9 almost full";
		break;
	case WRK_RESULT:
		m->text = "done";
		m->json = "[true]";
		break;
	case WRK_FAIL:
		m->error = "cannot clone";
		break;
	case WRK_SESSION:
		m->session_id = "5b0c2a9e-0000-4000-8000-000000000001";
		m->model = "claude-opus-4-1";
		m->agent_version = "2.1.332";
		m->json = "[\"Bash\",\"Read\"]";
		break;
	case WRK_ACK:
		break;
	case WRK_ERROR:
		m->reason = "invalid JSON in 'value'";
		m->fatal = 1;
		break;
	case WRK_GC:
		m->keep = 3;
		m->older_than_s = -1;
		m->dry_run = 1;
		break;
	case WRK_REPLY:
		m->text = "0 1 2 3\n\n";
		break;
	case WRK_TYPE_COUNT:
		break;
	}
}

static void assert_str_eq(const char *a, const char *b)
{
	if (!a || !b)
		assert_ptr_equal(a, b);
	else
		assert_string_equal(a, b);
}

static void assert_msg_eq(const struct wrk_msg *a, const struct wrk_msg *b)
{
	assert_int_equal(a->type, b->type);
	assert_int_equal(a->seq, b->seq);
	assert_int_equal(a->version, b->version);
	assert_int_equal(a->agent_id, b->agent_id);
	assert_str_eq(a->token, b->token);
	assert_int_equal(a->pid, b->pid);
	assert_str_eq(a->key, b->key);
	assert_str_eq(a->json, b->json);
	assert_str_eq(a->trigger, b->trigger);
	assert_str_eq(a->category, b->category);
	assert_str_eq(a->scope, b->scope);
	assert_str_eq(a->content, b->content);
	assert_str_eq(a->source, b->source);
	assert_true(a->confidence == b->confidence);
	assert_int_equal(a->has_confidence, b->has_confidence);
	assert_int_equal(a->call, b->call);
	assert_str_eq(a->tool, b->tool);
	assert_str_eq(a->ref, b->ref);
	assert_int_equal(a->parent, b->parent);
	assert_int_equal(a->output_len, b->output_len);
	if (a->output_len)
		assert_memory_equal(a->output, b->output, a->output_len);
	assert_true(!a->output == !b->output);
	assert_str_eq(a->summary, b->summary);
	assert_str_eq(a->status, b->status);
	assert_str_eq(a->error, b->error);
	assert_str_eq(a->name, b->name);
	assert_str_eq(a->path, b->path);
	assert_str_eq(a->kind, b->kind);
	assert_int_equal(a->tokens_in, b->tokens_in);
	assert_int_equal(a->tokens_out, b->tokens_out);
	assert_true(a->cost == b->cost);
	assert_int_equal(a->has_cost, b->has_cost);
	assert_int_equal(a->cache_read, b->cache_read);
	assert_int_equal(a->cache_write, b->cache_write);
	assert_int_equal(a->reasoning, b->reasoning);
	assert_int_equal(a->total, b->total);
	assert_str_eq(a->session_id, b->session_id);
	assert_str_eq(a->model, b->model);
	assert_str_eq(a->agent_version, b->agent_version);
	assert_str_eq(a->level, b->level);
	assert_str_eq(a->text, b->text);
	assert_str_eq(a->reason, b->reason);
	assert_int_equal(a->fatal, b->fatal);
	assert_str_eq(a->role, b->role);
	assert_int_equal(a->keep, b->keep);
	assert_int_equal(a->older_than_s, b->older_than_s);
	assert_int_equal(a->dry_run, b->dry_run);
}

static void test_type_names(void **state)
{
	static const char *const want[WRK_TYPE_COUNT] = {
		"hello",      "state.set",     "state.delete", "memory.add",
		"tool.start", "tool.complete", "artifact.add", "usage",
		"log",	      "result",	       "fail",	       "session",
		"ack",	      "error",	       "gc",	       "reply",
	};

	(void)state;
	for (int t = 0; t < WRK_TYPE_COUNT; t++)
		assert_string_equal(wrk_type_name((enum wrk_type)t), want[t]);
	assert_string_equal(wrk_type_name(WRK_TYPE_COUNT), "?");
}

static void test_round_trip_up(void **state)
{
	struct wrk_buf b = {0};
	struct wrk_decoder *d = wrk_decoder_new(0);
	struct wrk_msg in, out;
	int t;

	(void)state;
	assert_non_null(d);
	for (t = WRK_HELLO; t <= WRK_SESSION; t++) {
		full_msg(&in, (enum wrk_type)t, (uint64_t)t * 10 + 1);
		assert_int_equal(wrk_encode(&b, &in), 0);
	}
	assert_int_equal(wrk_decoder_feed(d, b.data, b.len), 0);
	for (t = WRK_HELLO; t <= WRK_SESSION; t++) {
		full_msg(&in, (enum wrk_type)t, (uint64_t)t * 10 + 1);
		assert_int_equal(wrk_decoder_next(d, &out), 1);
		assert_msg_eq(&in, &out);
		assert_int_equal(wrk_decoder_last_seq(d), in.seq);
	}
	assert_int_equal(wrk_decoder_next(d, &out), 0);
	assert_int_equal(wrk_decoder_pending(d), 0);
	wrk_decoder_free(d);
	wrk_buf_release(&b);
}

/* A control connection: a hello with its role, then a gc request. */
static void test_round_trip_control(void **state)
{
	struct wrk_buf b = {0};
	struct wrk_decoder *d = wrk_decoder_new(0);
	struct wrk_msg in, out;

	(void)state;
	memset(&in, 0, sizeof(in));
	in.type = WRK_HELLO;
	in.seq = 1;
	in.version = WRK_PROTO_VERSION;
	in.role = "control";
	assert_int_equal(wrk_encode(&b, &in), 0);
	full_msg(&in, WRK_GC, 2);
	assert_int_equal(wrk_encode(&b, &in), 0);
	assert_int_equal(wrk_decoder_feed(d, b.data, b.len), 0);
	assert_int_equal(wrk_decoder_next(d, &out), 1);
	assert_string_equal(out.role, "control");
	assert_int_equal(wrk_decoder_next(d, &out), 1);
	assert_msg_eq(&in, &out);
	/* A reply is the supervisor's: refused on an up stream. */
	wrk_buf_consume(&b, b.len);
	full_msg(&in, WRK_REPLY, 3);
	assert_int_equal(wrk_encode(&b, &in), 0);
	assert_int_equal(wrk_decoder_feed(d, b.data, b.len), 0);
	assert_int_equal(wrk_decoder_next(d, &out), -1);
	assert_int_equal(errno, EPROTO);
	wrk_decoder_free(d);
	wrk_buf_release(&b);
}

static void test_round_trip_down(void **state)
{
	struct wrk_buf b = {0};
	struct wrk_decoder *d = wrk_decoder_new(0);
	struct wrk_msg in, out;

	(void)state;
	full_msg(&in, WRK_ACK, 5);
	assert_int_equal(wrk_encode(&b, &in), 0);
	full_msg(&in, WRK_ERROR, 0); /* seq unknown */
	assert_int_equal(wrk_encode(&b, &in), 0);
	full_msg(&in, WRK_ERROR, 3);
	in.fatal = 0;
	assert_int_equal(wrk_encode(&b, &in), 0);
	full_msg(&in, WRK_REPLY, 4);
	assert_int_equal(wrk_encode(&b, &in), 0);
	assert_int_equal(wrk_decoder_feed(d, b.data, b.len), 0);

	full_msg(&in, WRK_ACK, 5);
	assert_int_equal(wrk_decoder_next(d, &out), 1);
	assert_msg_eq(&in, &out);
	full_msg(&in, WRK_ERROR, 0);
	assert_int_equal(wrk_decoder_next(d, &out), 1);
	assert_msg_eq(&in, &out);
	assert_int_equal(wrk_decoder_next(d, &out), 1);
	assert_int_equal(out.seq, 3);
	assert_int_equal(out.fatal, 0);
	full_msg(&in, WRK_REPLY, 4);
	assert_int_equal(wrk_decoder_next(d, &out), 1);
	assert_msg_eq(&in, &out);
	assert_int_equal(wrk_decoder_next(d, &out), 0);
	wrk_decoder_free(d);
	wrk_buf_release(&b);
}

/* Optional fields left out are absent after decoding, not empty. */
static void test_round_trip_minimal(void **state)
{
	struct wrk_buf b = {0};
	struct wrk_decoder *d = wrk_decoder_new(0);
	struct wrk_msg in, out;

	(void)state;
	memset(&in, 0, sizeof(in));
	in.type = WRK_HELLO;
	in.seq = 1;
	in.version = WRK_PROTO_VERSION;
	assert_int_equal(wrk_encode(&b, &in), 0);
	memset(&in, 0, sizeof(in));
	in.type = WRK_TOOL_COMPLETE;
	in.seq = 2;
	in.call = 0;
	assert_int_equal(wrk_encode(&b, &in), 0);
	memset(&in, 0, sizeof(in));
	in.type = WRK_USAGE;
	in.seq = 3;
	assert_int_equal(wrk_encode(&b, &in), 0);
	memset(&in, 0, sizeof(in));
	in.type = WRK_MEMORY_ADD;
	in.seq = 4;
	in.category = "fact";
	in.key = "k";
	in.content = "";
	assert_int_equal(wrk_encode(&b, &in), 0);
	assert_int_equal(wrk_decoder_feed(d, b.data, b.len), 0);

	assert_int_equal(wrk_decoder_next(d, &out), 1);
	assert_int_equal(out.agent_id, 0);
	assert_null(out.token);
	assert_int_equal(wrk_decoder_next(d, &out), 1);
	assert_int_equal(out.type, WRK_TOOL_COMPLETE);
	assert_null(out.output);
	assert_null(out.status);
	assert_int_equal(wrk_decoder_next(d, &out), 1);
	assert_int_equal(out.type, WRK_USAGE);
	assert_int_equal(out.tokens_in, 0);
	assert_int_equal(wrk_decoder_next(d, &out), 1);
	assert_int_equal(out.has_confidence, 0);
	assert_null(out.scope);
	assert_string_equal(out.content, "");
	wrk_decoder_free(d);
	wrk_buf_release(&b);
}

/* The encoder's bytes for a hello are the documented ones. */
static void test_encode_bytes(void **state)
{
	static const unsigned char want[] = {
		0x00, 0x00, 0x00, 0x11, 0x83, 0xa1, 0x74,
		0xa5, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0xa3,
		0x73, 0x65, 0x71, 0x01, 0xa1, 0x76, 0x01,
	};
	static const unsigned char ack[] = {
		0x00, 0x00, 0x00, 0x0c, 0x82, 0xa1, 0x74, 0xa3,
		0x61, 0x63, 0x6b, 0xa3, 0x73, 0x65, 0x71, 0x07,
	};
	struct wrk_buf b = {0};
	struct wrk_msg m;

	(void)state;
	memset(&m, 0, sizeof(m));
	m.type = WRK_HELLO;
	m.seq = 1;
	m.version = 1;
	assert_int_equal(wrk_encode(&b, &m), 0);
	assert_int_equal(b.len, sizeof(want));
	assert_memory_equal(b.data, want, sizeof(want));
	wrk_buf_consume(&b, b.len);
	memset(&m, 0, sizeof(m));
	m.type = WRK_ACK;
	m.seq = 7;
	assert_int_equal(wrk_encode(&b, &m), 0);
	assert_int_equal(b.len, sizeof(ack));
	assert_memory_equal(b.data, ack, sizeof(ack));
	wrk_buf_release(&b);
}

static void test_encode_errors(void **state)
{
	struct wrk_buf b = {0};
	struct wrk_msg m;
	char *big;

	(void)state;
	memset(&m, 0, sizeof(m));
	m.type = WRK_STATE_SET;
	m.seq = 2;
	m.json = "1";
	errno = 0;
	assert_int_equal(wrk_encode(&b, &m), -1); /* no key */
	assert_int_equal(errno, EINVAL);
	assert_int_equal(b.len, 0);

	m.key = "k";
	m.seq = 0;
	assert_int_equal(wrk_encode(&b, &m), -1); /* no seq */
	assert_int_equal(errno, EINVAL);

	m.seq = 2;
	assert_int_equal(wrk_encode(&b, &m), 0);
	size_t len = b.len;

	big = malloc(WRK_FRAME_MAX + 1);
	assert_non_null(big);
	memset(big, 'x', WRK_FRAME_MAX);
	big[0] = '"';
	big[WRK_FRAME_MAX - 1] = '"';
	big[WRK_FRAME_MAX] = '\0';
	m.json = big;
	errno = 0;
	assert_int_equal(wrk_encode(&b, &m), -1);
	assert_int_equal(errno, ERANGE);
	assert_int_equal(b.len, len); /* unchanged */
	free(big);

	m.type = WRK_TYPE_COUNT;
	assert_int_equal(wrk_encode(&b, &m), -1);
	assert_int_equal(errno, EINVAL);

	memset(&m, 0, sizeof(m));
	m.type = WRK_USAGE;
	m.seq = 3;
	m.cost = NAN;
	assert_int_equal(wrk_encode(&b, &m), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(b.len, len);
	wrk_buf_release(&b);
}

/* ---- framing ---------------------------------------------------------- */

/* Hello plus one message of every other up type, encoded. */
static void encode_stream(struct wrk_buf *b)
{
	struct wrk_msg m;

	for (int t = WRK_HELLO; t <= WRK_SESSION; t++) {
		full_msg(&m, (enum wrk_type)t, (uint64_t)t + 1);
		assert_int_equal(wrk_encode(b, &m), 0);
	}
}

static void test_split_every_offset(void **state)
{
	struct wrk_buf b = {0};
	struct wrk_msg in, out;
	size_t k, i;
	int n, r;

	(void)state;
	encode_stream(&b);
	for (k = 0; k <= b.len; k++) {
		struct wrk_decoder *d = wrk_decoder_new(0);

		n = 0;
		assert_int_equal(wrk_decoder_feed(d, b.data, k), 0);
		while ((r = wrk_decoder_next(d, &out)) == 1) {
			full_msg(&in, (enum wrk_type)n, (uint64_t)n + 1);
			assert_msg_eq(&in, &out);
			n++;
		}
		assert_int_equal(r, 0);
		assert_int_equal(wrk_decoder_feed(d, b.data + k, b.len - k), 0);
		while ((r = wrk_decoder_next(d, &out)) == 1) {
			full_msg(&in, (enum wrk_type)n, (uint64_t)n + 1);
			assert_msg_eq(&in, &out);
			n++;
		}
		assert_int_equal(r, 0);
		assert_int_equal(n, WRK_SESSION + 1);
		assert_int_equal(wrk_decoder_pending(d), 0);
		wrk_decoder_free(d);
	}

	/* One byte at a time: a message appears exactly at each frame end. */
	struct wrk_decoder *d = wrk_decoder_new(0);

	n = 0;
	for (i = 0; i < b.len; i++) {
		assert_int_equal(wrk_decoder_feed(d, b.data + i, 1), 0);
		r = wrk_decoder_next(d, &out);
		assert_true(r == 0 || r == 1);
		if (r == 1) {
			full_msg(&in, (enum wrk_type)n, (uint64_t)n + 1);
			assert_msg_eq(&in, &out);
			n++;
		} else {
			assert_int_not_equal(wrk_decoder_pending(d), 0);
		}
	}
	assert_int_equal(n, WRK_SESSION + 1);
	wrk_decoder_free(d);
	wrk_buf_release(&b);
}

static void test_many_frames_one_feed(void **state)
{
	struct wrk_decoder *d = wrk_decoder_new(0);
	struct wrk_buf b = {0};
	struct wrk_msg m;
	char key[32];
	uint64_t i;

	(void)state;
	full_msg(&m, WRK_HELLO, 1);
	assert_int_equal(wrk_encode(&b, &m), 0);
	for (i = 2; i <= 5001; i++) {
		memset(&m, 0, sizeof(m));
		m.type = WRK_STATE_SET;
		m.seq = i;
		snprintf(key, sizeof(key), "key-%llu", (unsigned long long)i);
		m.key = key;
		m.json = "[1,2,3]";
		assert_int_equal(wrk_encode(&b, &m), 0);
	}
	assert_int_equal(wrk_decoder_feed(d, b.data, b.len), 0);
	assert_int_equal(wrk_decoder_next(d, &m), 1);
	for (i = 2; i <= 5001; i++) {
		assert_int_equal(wrk_decoder_next(d, &m), 1);
		assert_int_equal(m.seq, i);
		snprintf(key, sizeof(key), "key-%llu", (unsigned long long)i);
		assert_string_equal(m.key, key);
	}
	assert_int_equal(wrk_decoder_next(d, &m), 0);
	assert_int_equal(wrk_decoder_last_seq(d), 5001);
	wrk_decoder_free(d);
	wrk_buf_release(&b);
}

/* A message put back is decoded again, the last of a buffer included; not
 * after a feed, nor twice. */
static void test_unread(void **state)
{
	struct wrk_decoder *d = wrk_decoder_new(0);
	struct wrk_buf b = {0};
	struct wrk_msg m;

	(void)state;
	full_msg(&m, WRK_HELLO, 1);
	assert_int_equal(wrk_encode(&b, &m), 0);
	for (uint64_t i = 2; i <= 3; i++) {
		memset(&m, 0, sizeof(m));
		m.type = WRK_STATE_SET;
		m.seq = i;
		m.key = i == 2 ? "two" : "three";
		m.json = "1";
		assert_int_equal(wrk_encode(&b, &m), 0);
	}
	assert_int_equal(wrk_decoder_unread(d), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(wrk_decoder_feed(d, b.data, b.len), 0);
	assert_int_equal(wrk_decoder_next(d, &m), 1);
	assert_int_equal(wrk_decoder_next(d, &m), 1);
	assert_string_equal(m.key, "two");
	assert_int_equal(wrk_decoder_unread(d), 0);
	assert_int_equal(wrk_decoder_unread(d), -1);
	assert_int_equal(wrk_decoder_last_seq(d), 1);
	assert_int_equal(wrk_decoder_next(d, &m), 1);
	assert_string_equal(m.key, "two");
	assert_int_equal(wrk_decoder_next(d, &m), 1);
	assert_string_equal(m.key, "three");
	assert_int_equal(wrk_decoder_pending(d), 0);
	assert_int_equal(wrk_decoder_unread(d), 0);
	assert_int_equal(wrk_decoder_next(d, &m), 1);
	assert_int_equal(m.seq, 3);
	assert_int_equal(wrk_decoder_next(d, &m), 0);
	assert_int_equal(wrk_decoder_last_seq(d), 3);
	/* After a feed the bytes may have moved: no unread. */
	assert_int_equal(wrk_decoder_feed(d, b.data, 4), 0);
	assert_int_equal(wrk_decoder_unread(d), -1);
	wrk_decoder_free(d);
	wrk_buf_release(&b);
}

/* ---- errors of framing ------------------------------------------------ */

static void test_not_a_frame(void **state)
{
	struct mp m = {0};

	(void)state;
	mp_raw(&m, "hello world\n", 12);
	expect_error_first(&m, ERANGE, "starts with text 'hell'");

	/* A plausible length, then bytes that are not msgpack. */
	frame_begin(&m);
	mp_byte(&m, 0xc1);
	frame_end(&m);
	expect_error_first(&m, EBADMSG, "not msgpack: byte 0xc1");

	/* Two values in one frame. */
	frame_begin(&m);
	mp_map(&m, 0);
	mp_nil(&m);
	frame_end(&m);
	expect_error_first(&m, EBADMSG, "1 bytes after its msgpack value");

	/* A value cut short by the frame's end. */
	frame_begin(&m);
	mp_map(&m, 1);
	mp_str(&m, "t");
	frame_end(&m);
	expect_error_first(&m, EBADMSG, "ends inside one, at byte 3");

	frame_begin(&m);
	mp_byte(&m, 0xdb); /* str 32 of 2^32-1 bytes */
	mp_be(&m, 0xffffffff, 4);
	mp_raw(&m, "abc", 3);
	frame_end(&m);
	expect_error_first(&m, EBADMSG, "ends inside one");

	/* Not a map. */
	frame_begin(&m);
	mp_arr(&m, 1);
	mp_str(&m, "hello");
	frame_end(&m);
	expect_error_first(&m, EBADMSG, "frame holds an array, not a map");
}

/* A container claiming 4 billion items in a small frame is refused before
 * msgpack-c would allocate room for them. */
static void test_huge_count(void **state)
{
	struct mp m = {0};

	(void)state;
	frame_begin(&m);
	mp_byte(&m, 0xdd);
	mp_be(&m, 0xffffffff, 4);
	mp_nil(&m);
	frame_end(&m);
	expect_error_first(&m, EBADMSG, "container of 4294967295 items");

	frame_begin(&m);
	mp_byte(&m, 0xdf);
	mp_be(&m, 0x80000000, 4);
	mp_nil(&m);
	mp_nil(&m);
	frame_end(&m);
	expect_error_first(&m, EBADMSG, "container of 2147483648 items");
}

static void test_length_zero(void **state)
{
	struct mp m = {0};

	(void)state;
	mp_be(&m, 0, 4);
	expect_error_first(&m, EBADMSG, "frame of length 0");
}

static void test_oversized_header_only(void **state)
{
	struct wrk_decoder *d = wrk_decoder_new(0);
	static const unsigned char h[] = {0x00, 0x10, 0x00, 0x01};
	struct wrk_msg msg;

	(void)state;
	/* Only the header: refused before any of the body arrives. */
	assert_int_equal(wrk_decoder_feed(d, h, 3), 0);
	assert_int_equal(wrk_decoder_next(d, &msg), 0);
	assert_int_equal(wrk_decoder_feed(d, h + 3, 1), 0);
	errno = 0;
	assert_int_equal(wrk_decoder_next(d, &msg), -1);
	assert_int_equal(errno, ERANGE);
	assert_non_null(strstr(wrk_decoder_errmsg(d),
			       "frame of 1048577 bytes exceeds the limit of "
			       "1048576 bytes"));
	wrk_decoder_free(d);

	/* A configured limit: 64 bytes pass, 65 do not. */
	struct mp m = {0};

	d = wrk_decoder_new(64);
	frame_msg(&m, "hello", 1, 2);
	mp_str(&m, "v");
	mp_uint(&m, 1);
	mp_str(&m, "token");
	mp_strn(&m, "0123456789012345678901234567890123456789",
		64 - (m.n - 4) - 2);
	frame_end(&m);
	assert_int_equal(m.n, 4 + 64);
	assert_int_equal(wrk_decoder_feed(d, m.b, m.n), 0);
	assert_int_equal(wrk_decoder_next(d, &msg), 1);
	mp_free(&m);
	mp_be(&m, 65, 4);
	assert_int_equal(wrk_decoder_feed(d, m.b, m.n), 0);
	assert_int_equal(wrk_decoder_next(d, &msg), -1);
	assert_int_equal(errno, ERANGE);
	assert_non_null(strstr(wrk_decoder_errmsg(d), "limit of 64 bytes"));
	wrk_decoder_free(d);
	mp_free(&m);
}

/* ---- errors of messages ----------------------------------------------- */

static void test_map_without_t(void **state)
{
	struct mp m = {0};

	(void)state;
	frame_begin(&m);
	mp_map(&m, 1);
	mp_str(&m, "seq");
	mp_uint(&m, 2);
	frame_end(&m);
	expect_error(&m, EBADMSG, "message has no type (field 't')");

	frame_begin(&m);
	mp_map(&m, 2);
	mp_str(&m, "t");
	mp_uint(&m, 3);
	mp_str(&m, "seq");
	mp_uint(&m, 2);
	frame_end(&m);
	expect_error(&m, EBADMSG, "must be a string, not a positive integer");

	frame_begin(&m);
	mp_map(&m, 1);
	mp_uint(&m, 1);
	mp_str(&m, "x");
	frame_end(&m);
	expect_error(&m, EBADMSG, "key is a positive integer, not a string");
}

static void test_unknown_t(void **state)
{
	struct mp m = {0};
	struct wrk_decoder *d;
	struct wrk_msg msg;

	(void)state;
	frame_msg(&m, "state.frobnicate", 9, 0);
	frame_end(&m);
	assert_int_equal(decode_after_hello(&d, &m, &msg), -1);
	assert_int_equal(errno, EPROTO);
	assert_string_equal(wrk_decoder_errmsg(d),
			    "unknown message type 'state.frobnicate'");
	assert_int_equal(msg.seq, 9); /* the offending seq */
	wrk_decoder_free(d);
	mp_free(&m);

	/* The type is quoted harmlessly in the message. */
	frame_msg(&m, "x'\n\xff", 2, 0);
	frame_end(&m);
	expect_error(&m, EPROTO, "unknown message type 'x\\x27\\x0a\\xff'");
}

static void test_seq_rules(void **state)
{
	struct mp m = {0};

	(void)state;
	frame_begin(&m);
	mp_map(&m, 1);
	mp_str(&m, "t");
	mp_str(&m, "fail");
	frame_end(&m);
	expect_error(&m, EBADMSG, "'fail' message has no 'seq'");

	frame_msg(&m, "fail", 0, 1);
	mp_str(&m, "error");
	mp_str(&m, "x");
	frame_end(&m);
	expect_error(&m, EBADMSG, "'seq' of 'fail' must be positive");

	frame_begin(&m);
	mp_map(&m, 3);
	mp_str(&m, "t");
	mp_str(&m, "fail");
	mp_str(&m, "seq");
	mp_int(&m, -4);
	mp_str(&m, "error");
	mp_str(&m, "x");
	frame_end(&m);
	expect_error(&m, EBADMSG, "not a negative integer");

	/* Equal to the previous one (hello is seq 1), then lower. */
	frame_msg(&m, "fail", 1, 1);
	mp_str(&m, "error");
	mp_str(&m, "x");
	frame_end(&m);
	expect_error(&m, EPROTO,
		     "seq 1 of 'fail' is not greater than the previous seq 1");

	frame_msg(&m, "log", 5, 1);
	mp_str(&m, "message");
	mp_str(&m, "a");
	frame_end(&m);
	frame_msg(&m, "log", 4, 1);
	mp_str(&m, "message");
	mp_str(&m, "b");
	frame_end(&m);
	expect_error(&m, EPROTO,
		     "seq 4 of 'log' is not greater than the "
		     "previous seq 5");

	/* Gaps are allowed. */
	struct wrk_decoder *d;
	struct wrk_msg msg;

	frame_msg(&m, "log", 100, 1);
	mp_str(&m, "message");
	mp_str(&m, "a");
	frame_end(&m);
	assert_int_equal(decode_after_hello(&d, &m, &msg), 1);
	assert_int_equal(wrk_decoder_last_seq(d), 100);
	wrk_decoder_free(d);
	mp_free(&m);
}

static void test_hello_rules(void **state)
{
	struct mp m = {0};

	(void)state;
	frame_msg(&m, "state.delete", 1, 1);
	mp_str(&m, "key");
	mp_str(&m, "k");
	frame_end(&m);
	expect_error_first(&m, EPROTO,
			   "the first message must be 'hello', not "
			   "'state.delete'");

	frame_msg(&m, "hello", 2, 1);
	mp_str(&m, "v");
	mp_uint(&m, 1);
	frame_end(&m);
	expect_error(&m, EPROTO, "'hello' sent twice");

	frame_msg(&m, "hello", 1, 1);
	mp_str(&m, "v");
	mp_uint(&m, 2);
	frame_end(&m);
	expect_error_first(&m, EPROTO,
			   "protocol version 2 is not supported: this side "
			   "speaks version 1");

	frame_msg(&m, "hello", 1, 0);
	frame_end(&m);
	expect_error_first(&m, EBADMSG, "'hello' message has no 'v'");

	/* Directions do not mix. */
	frame_msg(&m, "ack", 2, 0);
	frame_end(&m);
	expect_error(&m, EPROTO, "'ack' is a supervisor message");

	frame_msg(&m, "ack", 2, 0);
	frame_end(&m);
	hello_frame(&m);
	expect_error_first(&m, EPROTO, "'hello' is an agent message");

	frame_msg(&m, "ack", 0, 0);
	frame_end(&m);
	expect_error_first(&m, EBADMSG, "'seq' of 'ack' must be positive");
}

/* One frame of type T, seq 2, whose field NAME is written by VALUE. */
struct bad_field {
	const char *t;
	const char *name;
	void (*value)(struct mp *);
	const char *need; /* another required field, "" if none */
	int err;
	const char *msg;
};

static void v_int(struct mp *m)
{
	mp_uint(m, 5);
}
static void v_neg(struct mp *m)
{
	mp_int(m, -1);
}
static void v_str(struct mp *m)
{
	mp_str(m, "x");
}
static void v_float(struct mp *m)
{
	mp_f64(m, 1.5);
}
static void v_nan(struct mp *m)
{
	mp_f64(m, NAN);
}
static void v_inf(struct mp *m)
{
	mp_f64(m, -INFINITY);
}
static void v_arr(struct mp *m)
{
	mp_arr(m, 0);
}
static void v_map(struct mp *m)
{
	mp_map(m, 0);
}
static void v_nil(struct mp *m)
{
	mp_nil(m);
}
static void v_true(struct mp *m)
{
	mp_bool(m, 1);
}
static void v_bin(struct mp *m)
{
	mp_bin(m, "ab", 2);
}
static void v_big32(struct mp *m)
{
	mp_uint(m, (uint64_t)UINT32_MAX + 1);
}
static void v_big63(struct mp *m)
{
	mp_uint(m, (uint64_t)INT64_MAX + 1);
}
static void v_bad_status(struct mp *m)
{
	mp_str(m, "done");
}
static void v_bad_utf8(struct mp *m)
{
	mp_strn(m, "a\xc0\xafz", 4); /* an overlong '/' */
}
static void v_surrogate(struct mp *m)
{
	mp_strn(m, "\xed\xa0\x80", 3);
}
static void v_nul(struct mp *m)
{
	mp_strn(m, "a\0b", 3);
}

static void test_wrong_field_types(void **state)
{
	static const struct bad_field cases[] = {
		/* hello: unsigned 32-bit, signed integers, strings */
		{"hello", "v", v_big32, "", ERANGE,
		 "field 'v' of 'hello' is out of range: 4294967296"},
		{"hello", "v", v_str, "", EBADMSG,
		 "'v' of 'hello' must be an unsigned integer, not a string"},
		{"hello", "agent", v_str, "v", EBADMSG,
		 "field 'agent' of 'hello' must be an integer, not a string"},
		{"hello", "pid", v_big63, "v", ERANGE,
		 "field 'pid' of 'hello' is out of range"},
		{"hello", "token", v_int, "v", EBADMSG,
		 "'token' of 'hello' must be a string"},
		/* string fields */
		{"log", "message", v_int, "", EBADMSG,
		 "field 'message' of 'log' must be a string, not a positive "
		 "integer"},
		{"log", "level", v_nil, "message", EBADMSG,
		 "'level' of 'log' must be a string, not nil"},
		{"fail", "error", v_bin, "", EBADMSG,
		 "must be a string, not binary data"},
		{"log", "message", v_bad_utf8, "", EBADMSG,
		 "'message' of 'log' is not valid UTF-8: 'a\\xc0\\xafz'"},
		{"log", "message", v_surrogate, "", EBADMSG,
		 "is not valid UTF-8"},
		{"log", "message", v_nul, "", EBADMSG, "holds a NUL byte"},
		/* keys */
		{"state.delete", "key", v_arr, "", EBADMSG,
		 "'key' of 'state.delete' must be a string, not an array"},
		/* JSON text */
		{"state.set", "json", v_map, "key", EBADMSG,
		 "'json' of 'state.set' must be a string, not a map"},
		{"artifact.add", "metadata_json", v_true, "name", EBADMSG,
		 "must be a string, not a boolean"},
		/* output */
		{"tool.complete", "output", v_int, "call", EBADMSG,
		 "'output' of 'tool.complete' must be a string or binary"},
		{"tool.complete", "status", v_bad_status, "call", EBADMSG,
		 "must be 'completed' or 'failed', not 'done'"},
		{"tool.complete", "status", v_int, "call", EBADMSG,
		 "'status' of 'tool.complete' must be a string"},
		/* unsigned integers */
		{"tool.start", "call", v_neg, "tool", EBADMSG,
		 "'call' of 'tool.start' must be an unsigned integer, not a "
		 "negative integer"},
		{"tool.start", "call", v_float, "tool", EBADMSG,
		 "must be an unsigned integer, not a float"},
		{"tool.start", "call", v_str, "tool", EBADMSG,
		 "must be an unsigned integer, not a string"},
		{"usage", "tokens_in", v_big63, "", ERANGE,
		 "'tokens_in' of 'usage' is out of range: "
		 "9223372036854775808"},
		{"usage", "tokens_out", v_neg, "", EBADMSG,
		 "must be an unsigned integer"},
		{"usage", "reasoning", v_big63, "", ERANGE,
		 "'reasoning' of 'usage' is out of range: "
		 "9223372036854775808"},
		{"usage", "reasoning", v_str, "", EBADMSG,
		 "'reasoning' of 'usage' must be an unsigned integer"},
		/* numbers */
		{"usage", "cost", v_str, "", EBADMSG,
		 "'cost' of 'usage' must be a number, not a string"},
		{"usage", "cost", v_nan, "", EBADMSG,
		 "'cost' of 'usage' must be a finite number"},
		{"memory.add", "confidence", v_inf, "category", EBADMSG,
		 "must be a finite number"},
		{"memory.add", "confidence", v_nil, "category", EBADMSG,
		 "must be a number, not nil"},
		/* booleans */
		{"error", "fatal", v_int, "reason", EBADMSG,
		 "'fatal' of 'error' must be a boolean, not a positive "
		 "integer"},
		/* values converted to JSON */
		{"state.set", "value", v_bin, "key", EBADMSG,
		 "'value' of 'state.set' holds binary data, which JSON "
		 "cannot represent"},
		{"state.set", "value", v_nan, "key", EBADMSG,
		 "holds NaN, which JSON cannot represent"},
		{"result", "value", v_inf, "", EBADMSG,
		 "holds an infinity, which JSON cannot represent"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct bad_field *c = &cases[i];
		struct mp m = {0};
		int first = !strcmp(c->t, "error") || !strcmp(c->t, "hello");
		unsigned extra = 0;

		/* The other fields the type requires, valid. */
		if (!strcmp(c->t, "memory.add"))
			extra = 3;
		else if (!strcmp(c->t, "artifact.add"))
			extra = 2;
		else if (*c->need)
			extra = 1;
		frame_msg(&m, c->t, first ? 1 : 2, extra + 1);
		if (!strcmp(c->t, "memory.add")) {
			mp_str(&m, "category");
			mp_str(&m, "fact");
			mp_str(&m, "key");
			mp_str(&m, "k");
			mp_str(&m, "content");
			mp_str(&m, "c");
		} else if (!strcmp(c->t, "artifact.add")) {
			mp_str(&m, "name");
			mp_str(&m, "n");
			mp_str(&m, "path");
			mp_str(&m, "p");
		} else if (!strcmp(c->need, "call")) {
			mp_str(&m, "call");
			mp_uint(&m, 1);
		} else if (!strcmp(c->need, "v")) {
			mp_str(&m, "v");
			mp_uint(&m, 1);
		} else if (!strcmp(c->need, "reason")) {
			mp_str(&m, "reason");
			mp_str(&m, "r");
		} else if (*c->need) {
			mp_str(&m, c->need);
			mp_str(&m, c->need);
		}
		mp_str(&m, c->name);
		c->value(&m);
		frame_end(&m);
		what = c->name;
		if (first)
			expect_error_first(&m, c->err, c->msg);
		else
			expect_error(&m, c->err, c->msg);
	}
	what = "";
}

static void test_missing_and_conflicting_fields(void **state)
{
	struct mp m = {0};

	(void)state;
	frame_msg(&m, "state.set", 2, 1);
	mp_str(&m, "key");
	mp_str(&m, "k");
	frame_end(&m);
	expect_error(&m, EBADMSG,
		     "'state.set' message has neither 'value' nor 'json'");

	frame_msg(&m, "state.set", 2, 3);
	mp_str(&m, "key");
	mp_str(&m, "k");
	mp_str(&m, "json");
	mp_str(&m, "1");
	mp_str(&m, "value");
	mp_uint(&m, 1);
	frame_end(&m);
	expect_error(&m, EBADMSG, "'state.set' has both 'json' and 'value'");

	frame_msg(&m, "memory.add", 2, 2);
	mp_str(&m, "category");
	mp_str(&m, "fact");
	mp_str(&m, "key");
	mp_str(&m, "k");
	frame_end(&m);
	expect_error(&m, EBADMSG, "'memory.add' message has no 'content'");

	frame_msg(&m, "log", 2, 2);
	mp_str(&m, "message");
	mp_str(&m, "a");
	mp_str(&m, "message");
	mp_str(&m, "b");
	frame_end(&m);
	expect_error(&m, EBADMSG, "duplicate field 'message' in 'log'");

	frame_begin(&m);
	mp_map(&m, 3);
	mp_str(&m, "t");
	mp_str(&m, "ack");
	mp_str(&m, "t");
	mp_str(&m, "ack");
	mp_str(&m, "seq");
	mp_uint(&m, 1);
	frame_end(&m);
	expect_error_first(&m, EBADMSG, "duplicate field 't'");

	frame_msg(&m, "error", 0, 1);
	mp_str(&m, "fatal");
	mp_bool(&m, 1);
	frame_end(&m);
	expect_error_first(&m, EBADMSG, "'error' message has no 'reason'");
}

/* The fields a supervisor learns from an uninstrumented agent: session,
 * the agent's own id and parent of a call, cache tokens, totals. */
static void test_agent_fields(void **state)
{
	struct wrk_decoder *d;
	struct wrk_msg msg;
	struct mp m = {0};

	(void)state;
	frame_msg(&m, "session", 2, 3);
	mp_str(&m, "id");
	mp_str(&m, "sess-1");
	mp_str(&m, "model");
	mp_str(&m, "claude-sonnet");
	mp_str(&m, "tools");
	mp_arr(&m, 2);
	mp_str(&m, "Bash");
	mp_str(&m, "Task");
	frame_end(&m);
	frame_msg(&m, "usage", 3, 2);
	mp_str(&m, "tokens_in");
	mp_uint(&m, 5);
	mp_str(&m, "cost");
	mp_uint(&m, 0);
	frame_end(&m);
	frame_msg(&m, "usage", 4, 1);
	mp_str(&m, "tokens_out");
	mp_uint(&m, 6);
	frame_end(&m);
	assert_int_equal(decode_after_hello(&d, &m, &msg), 1);
	assert_int_equal(msg.type, WRK_SESSION);
	assert_string_equal(msg.session_id, "sess-1");
	assert_string_equal(msg.model, "claude-sonnet");
	assert_null(msg.agent_version);
	assert_string_equal(msg.json, "[\"Bash\",\"Task\"]");
	assert_int_equal(wrk_decoder_next(d, &msg), 1);
	assert_int_equal(msg.type, WRK_USAGE);
	assert_int_equal(msg.has_cost, 1); /* given, though zero */
	assert_true(msg.cost == 0);
	assert_int_equal(msg.total, 0);
	assert_int_equal(wrk_decoder_next(d, &msg), 1);
	assert_int_equal(msg.has_cost, 0);
	assert_int_equal(msg.tokens_out, 6);
	wrk_decoder_free(d);
	mp_free(&m);

	frame_msg(&m, "session", 2, 1);
	mp_str(&m, "model");
	mp_str(&m, "x");
	frame_end(&m);
	expect_error(&m, EBADMSG, "'session' message has no 'id'");
	frame_msg(&m, "session", 2, 3);
	mp_str(&m, "id");
	mp_str(&m, "s");
	mp_str(&m, "tools");
	mp_nil(&m);
	mp_str(&m, "tools_json");
	mp_str(&m, "null");
	frame_end(&m);
	expect_error(&m, EBADMSG,
		     "'session' has both 'tools' and 'tools_json'");
	frame_msg(&m, "tool.start", 2, 3);
	mp_str(&m, "call");
	mp_uint(&m, 1);
	mp_str(&m, "tool");
	mp_str(&m, "Read");
	mp_str(&m, "parent");
	mp_int(&m, -1);
	frame_end(&m);
	expect_error(&m, EBADMSG, "field 'parent' of 'tool.start' must be");
	frame_msg(&m, "usage", 2, 1);
	mp_str(&m, "total");
	mp_uint(&m, 1);
	frame_end(&m);
	expect_error(&m, EBADMSG, "field 'total' of 'usage' must be a boolean");
	frame_msg(&m, "usage", 2, 1);
	mp_str(&m, "cache_read");
	mp_uint(&m, (uint64_t)INT64_MAX + 1);
	frame_end(&m);
	expect_error(&m, ERANGE, "field 'cache_read' of 'usage' is out of");
}

/* The encoder sends a zero cost when told it was given, and no cost, no
 * total, no ref nor parent when they are not. */
static void test_encode_optional(void **state)
{
	struct wrk_buf b = {0};
	struct wrk_buf b2 = {0};
	struct wrk_msg in;

	(void)state;
	memset(&in, 0, sizeof(in));
	in.type = WRK_USAGE;
	in.seq = 2;
	in.tokens_in = 1;
	assert_int_equal(wrk_encode(&b, &in), 0);
	/* fixmap of 3: t, seq, tokens_in */
	assert_int_equal((unsigned char)b.data[4], 0x83);
	in.has_cost = 1;
	assert_int_equal(wrk_encode(&b2, &in), 0);
	assert_int_equal((unsigned char)b2.data[4], 0x84);
	wrk_buf_release(&b);
	wrk_buf_release(&b2);
	/* reasoning: only when not 0 */
	in.reasoning = 7;
	assert_int_equal(wrk_encode(&b, &in), 0);
	assert_int_equal((unsigned char)b.data[4], 0x85);
	assert_non_null(memmem(b.data, b.len, "\xa9reasoning\x07", 11));
	wrk_buf_release(&b);
	memset(&in, 0, sizeof(in));
	in.type = WRK_TOOL_START;
	in.seq = 2;
	in.call = 1;
	in.tool = "x";
	assert_int_equal(wrk_encode(&b, &in), 0);
	assert_int_equal((unsigned char)b.data[4], 0x84);
	wrk_buf_release(&b);
	memset(&in, 0, sizeof(in));
	in.type = WRK_SESSION;
	in.seq = 2;
	assert_int_equal(wrk_encode(&b, &in), -1);
	assert_int_equal(errno, EINVAL);
	wrk_buf_release(&b);
}

/* Unknown fields are skipped whatever they hold. */
static void test_unknown_fields_ignored(void **state)
{
	struct wrk_decoder *d;
	struct wrk_msg msg;
	struct mp m = {0};

	(void)state;
	frame_msg(&m, "state.delete", 2, 4);
	mp_str(&m, "future");
	mp_bin(&m, "\x00\x01", 2);
	mp_str(&m, "key");
	mp_str(&m, "k");
	mp_str(&m, "also");
	mp_map(&m, 1);
	mp_uint(&m, 1); /* a non-string key, deep inside: not our business */
	mp_f64(&m, NAN);
	mp_str(&m, "x");
	mp_byte(&m, 0xd4); /* fixext 1 */
	mp_byte(&m, 1);
	mp_byte(&m, 2);
	frame_end(&m);
	assert_int_equal(decode_after_hello(&d, &m, &msg), 1);
	assert_int_equal(msg.type, WRK_STATE_DELETE);
	assert_string_equal(msg.key, "k");
	assert_null(msg.trigger);
	wrk_decoder_free(d);
	mp_free(&m);
}

/* ---- limits ----------------------------------------------------------- */

static void key_frame(struct mp *m, const char *key, size_t n)
{
	frame_msg(m, "state.delete", 2, 1);
	mp_str(m, "key");
	mp_strn(m, key, n);
	frame_end(m);
}

static void test_keys(void **state)
{
	struct wrk_decoder *d;
	struct wrk_msg msg;
	struct mp m = {0};
	char key[WRK_KEY_MAX + 2];

	(void)state;
	memset(key, 'k', sizeof(key));

	key_frame(&m, key, WRK_KEY_MAX);
	assert_int_equal(decode_after_hello(&d, &m, &msg), 1);
	assert_int_equal(strlen(msg.key), WRK_KEY_MAX);
	wrk_decoder_free(d);
	mp_free(&m);

	key_frame(&m, key, WRK_KEY_MAX + 1);
	expect_error(&m, ERANGE, "of 257 bytes exceeds the limit of 256 bytes");

	key_frame(&m, "", 0);
	expect_error(&m, EBADMSG, "empty key in 'state.delete'");

	key_frame(&m, "caf\xe9", 4); /* Latin-1, not UTF-8 */
	expect_error(&m, EBADMSG,
		     "field 'key' of 'state.delete' is not valid UTF-8: "
		     "'caf\\xe9'");

	key_frame(&m, "a\0b", 3);
	expect_error(&m, EBADMSG, "'key' of 'state.delete' holds a NUL byte");

	key_frame(&m, "\xf4\x90\x80\x80", 4); /* above U+10FFFF */
	expect_error(&m, EBADMSG, "is not valid UTF-8");

	key_frame(&m, "\xe2\x82", 2); /* cut */
	expect_error(&m, EBADMSG, "is not valid UTF-8");

	/* Valid multi-byte UTF-8 passes, up to U+10FFFF. */
	key_frame(&m, "\xc3\xa9\xe2\x82\xac\xf4\x8f\xbf\xbf", 9);
	assert_int_equal(decode_after_hello(&d, &m, &msg), 1);
	assert_string_equal(msg.key, "\xc3\xa9\xe2\x82\xac\xf4\x8f\xbf\xbf");
	wrk_decoder_free(d);
	mp_free(&m);
}

/* A state.set whose value is LEVELS arrays nested in each other. */
static void nested_frame(struct mp *m, int levels)
{
	frame_msg(m, "state.set", 2, 2);
	mp_str(m, "key");
	mp_str(m, "k");
	mp_str(m, "value");
	for (int i = 0; i < levels; i++)
		mp_arr(m, i == levels - 1 ? 0 : 1);
}

static void test_depth(void **state)
{
	struct wrk_decoder *d;
	struct wrk_msg msg;
	struct mp m = {0};

	(void)state;
	/* The frame's map is level 1: 31 more levels are allowed. */
	nested_frame(&m, WRK_DEPTH_MAX - 1);
	frame_end(&m);
	assert_int_equal(decode_after_hello(&d, &m, &msg), 1);
	assert_int_equal(strlen(msg.json), 2 * (WRK_DEPTH_MAX - 1));
	assert_int_equal(msg.json[WRK_DEPTH_MAX - 2], '[');
	wrk_decoder_free(d);
	mp_free(&m);

	nested_frame(&m, WRK_DEPTH_MAX);
	frame_end(&m);
	expect_error(&m, ERANGE, "nested deeper than 32 levels");

	/* Maps count as well, even in an ignored field. */
	frame_msg(&m, "log", 2, 2);
	mp_str(&m, "message");
	mp_str(&m, "m");
	mp_str(&m, "ignored");
	for (int i = 0; i < 1000; i++) {
		mp_map(&m, 1);
		mp_str(&m, "a");
	}
	mp_nil(&m);
	frame_end(&m);
	expect_error(&m, ERANGE, "nested deeper than 32 levels");
}

static void v_ext(struct mp *m)
{
	mp_byte(m, 0xc7);
	mp_byte(m, 1);
	mp_byte(m, 5);
	mp_byte(m, 0);
}

static void v_int_key(struct mp *m)
{
	mp_map(m, 1);
	mp_int(m, -3);
	mp_nil(m);
}

static void v_deep_bin(struct mp *m)
{
	mp_arr(m, 2);
	mp_nil(m);
	mp_map(m, 1);
	mp_str(m, "b");
	mp_bin(m, "z", 1);
}

static void test_bad_values(void **state)
{
	struct mp m = {0};

	(void)state;
	frame_msg(&m, "state.set", 2, 2);
	mp_str(&m, "key");
	mp_str(&m, "k");
	mp_str(&m, "value");
	v_ext(&m);
	frame_end(&m);
	expect_error(&m, EBADMSG, "holds an extension, which JSON cannot");

	frame_msg(&m, "tool.start", 2, 3);
	mp_str(&m, "call");
	mp_uint(&m, 1);
	mp_str(&m, "tool");
	mp_str(&m, "t");
	mp_str(&m, "input");
	v_int_key(&m);
	frame_end(&m);
	expect_error(&m, EBADMSG,
		     "'input' of 'tool.start' holds a map whose key is a "
		     "negative integer: JSON needs string keys");

	frame_msg(&m, "artifact.add", 2, 3);
	mp_str(&m, "name");
	mp_str(&m, "n");
	mp_str(&m, "path");
	mp_str(&m, "p");
	mp_str(&m, "metadata");
	v_deep_bin(&m);
	frame_end(&m);
	expect_error(&m, EBADMSG, "'metadata' of 'artifact.add' holds binary");

	frame_msg(&m, "state.set", 2, 2);
	mp_str(&m, "key");
	mp_str(&m, "k");
	mp_str(&m, "value");
	mp_strn(&m, "\xff", 1);
	frame_end(&m);
	expect_error(&m, EBADMSG, "holds a string that is not valid UTF-8");
}

/* ---- JSON ------------------------------------------------------------- */

static void j_strings(struct mp *m)
{
	mp_arr(m, 4);
	mp_strn(m, "\"\\/\b\f\n\r\t\x01\x1f\x7f", 11);
	mp_str(m, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
	mp_strn(m, "nul\0x", 5);
	mp_str(m, "");
}

static void j_ints(struct mp *m)
{
	mp_arr(m, 9);
	mp_uint(m, 0);
	mp_uint(m, 127);
	mp_uint(m, 128);
	mp_uint(m, 65536);
	mp_int(m, -1);
	mp_int(m, -32);
	mp_int(m, -33);
	mp_int(m, INT64_MIN);
	mp_uint(m, UINT64_MAX);
}

static void j_floats(struct mp *m)
{
	mp_arr(m, 10);
	mp_f64(m, 0.1);
	mp_f64(m, 1.0);
	mp_f64(m, -0.0);
	mp_f64(m, 1e300);
	mp_f64(m, 5e-324);
	mp_f64(m, 1.0 / 3.0);
	mp_f64(m, 123456789012345680.0);
	mp_f32(m, 0.1f);
	mp_f32(m, 2.5f);
	mp_f32(m, 16777216.0f);
}

static void j_nested(struct mp *m)
{
	mp_map(m, 4);
	mp_str(m, "a\"b");
	mp_arr(m, 3);
	mp_nil(m);
	mp_bool(m, 1);
	mp_bool(m, 0);
	mp_str(m, "empty");
	mp_map(m, 0);
	mp_str(m, "list");
	mp_arr(m, 0);
	mp_str(m, "");
	mp_map(m, 1);
	mp_str(m, "x");
	mp_str(m, "y");
}

static void test_json_conversion(void **state)
{
	static const struct {
		void (*fn)(struct mp *);
		const char *want;
	} cases[] = {
		{j_strings, "[\"\\\"\\\\/\\b\\f\\n\\r\\t\\u0001\\u001f\x7f\","
			    "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\","
			    "\"nul\\u0000x\",\"\"]"},
		{j_ints, "[0,127,128,65536,-1,-32,-33,-9223372036854775808,"
			 "18446744073709551615]"},
		{j_floats, "[0.1,1.0,-0.0,1e+300,4.94065645841247e-324,"
			   "0.3333333333333333,1.2345678901234568e+17,0.1,"
			   "2.5,16777216.0]"},
		{j_nested, "{\"a\\\"b\":[null,true,false],\"empty\":{},"
			   "\"list\":[],\"\":{\"x\":\"y\"}}"},
		{v_nil, "null"},
		{v_str, "\"x\""},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *json = value_json(cases[i].fn);

		assert_string_equal(json, cases[i].want);
		free(json);
	}
}

/* Floats read back from the JSON are the very doubles that were sent. */
static void test_json_floats_round_trip(void **state)
{
	static const double values[] = {
		0.1,
		0.2 + 0.1,
		1e-310,
		2.2250738585072014e-308,
		1.7976931348623157e308,
		-123.456,
		9007199254740993.0,
		3.141592653589793,
	};
	struct wrk_decoder *d;
	struct wrk_msg msg;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		struct mp m = {0};

		frame_msg(&m, "result", 2, 1);
		mp_str(&m, "value");
		mp_f64(&m, values[i]);
		frame_end(&m);
		assert_int_equal(decode_after_hello(&d, &m, &msg), 1);
		assert_true(strtod(msg.json, NULL) == values[i]);
		wrk_decoder_free(d);
		mp_free(&m);
	}
}

/* ---- another implementation's bytes --------------------------------- */

/*
 * Produced by /usr/bin/python3 with Debian's python3-msgpack 1.0.3:
 *
 *   import msgpack, struct
 *   def frame(m):
 *       b = msgpack.packb(m, use_bin_type=True)
 *       return struct.pack(">I", len(b)) + b
 *   frame({"t": "hello", "seq": 1, "v": 1, "pid": 4242}).hex()
 *   frame({"t": "state.set", "seq": 2, "key": "phase",
 *          "value": {"n": [1, -2, 2.5, None, True], "s": "é\n\"x\""},
 *          "trigger": "scout-done", "future": [1, 2]}).hex()
 *
 *   0000001884a174a568656c6c6fa373657101a17601a3706964cd1092
 *   0000005986a174a973746174652e736574a373657102a36b6579a57068617365a576
 *   616c756582a16e9501fecb4004000000000000c0c3a173a6c3a90a227822a7747269
 *   67676572aa73636f75742d646f6e65a6667574757265920102
 */
static const unsigned char python_frames[] = {
	0x00, 0x00, 0x00, 0x18, 0x84, 0xa1, 0x74, 0xa5, 0x68, 0x65, 0x6c, 0x6c,
	0x6f, 0xa3, 0x73, 0x65, 0x71, 0x01, 0xa1, 0x76, 0x01, 0xa3, 0x70, 0x69,
	0x64, 0xcd, 0x10, 0x92,

	0x00, 0x00, 0x00, 0x59, 0x86, 0xa1, 0x74, 0xa9, 0x73, 0x74, 0x61, 0x74,
	0x65, 0x2e, 0x73, 0x65, 0x74, 0xa3, 0x73, 0x65, 0x71, 0x02, 0xa3, 0x6b,
	0x65, 0x79, 0xa5, 0x70, 0x68, 0x61, 0x73, 0x65, 0xa5, 0x76, 0x61, 0x6c,
	0x75, 0x65, 0x82, 0xa1, 0x6e, 0x95, 0x01, 0xfe, 0xcb, 0x40, 0x04, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0xc3, 0xa1, 0x73, 0xa6, 0xc3, 0xa9,
	0x0a, 0x22, 0x78, 0x22, 0xa7, 0x74, 0x72, 0x69, 0x67, 0x67, 0x65, 0x72,
	0xaa, 0x73, 0x63, 0x6f, 0x75, 0x74, 0x2d, 0x64, 0x6f, 0x6e, 0x65, 0xa6,
	0x66, 0x75, 0x74, 0x75, 0x72, 0x65, 0x92, 0x01, 0x02,
};

static void test_python_frames(void **state)
{
	struct wrk_decoder *d = wrk_decoder_new(0);
	struct wrk_msg m;

	(void)state;
	assert_int_equal(sizeof(python_frames), 28 + 93);
	assert_int_equal(
		wrk_decoder_feed(d, python_frames, sizeof(python_frames)), 0);
	assert_int_equal(wrk_decoder_next(d, &m), 1);
	assert_int_equal(m.type, WRK_HELLO);
	assert_int_equal(m.seq, 1);
	assert_int_equal(m.version, 1);
	assert_int_equal(m.pid, 4242);
	assert_int_equal(m.agent_id, 0);
	assert_null(m.token);
	assert_int_equal(wrk_decoder_next(d, &m), 1);
	assert_int_equal(m.type, WRK_STATE_SET);
	assert_int_equal(m.seq, 2);
	assert_string_equal(m.key, "phase");
	assert_string_equal(m.json, "{\"n\":[1,-2,2.5,null,true],"
				    "\"s\":\"\xc3\xa9\\n\\\"x\\\"\"}");
	assert_string_equal(m.trigger, "scout-done");
	assert_int_equal(wrk_decoder_next(d, &m), 0);
	wrk_decoder_free(d);
}

/* Tool output may be binary, with NUL bytes; it stays NUL-terminated. */
static void test_output_bytes(void **state)
{
	struct wrk_decoder *d;
	struct wrk_msg msg;
	struct mp m = {0};

	(void)state;
	frame_msg(&m, "tool.complete", 2, 2);
	mp_str(&m, "call");
	mp_uint(&m, 3);
	mp_str(&m, "output");
	mp_bin(&m, "a\0\xff", 3);
	frame_end(&m);
	assert_int_equal(decode_after_hello(&d, &m, &msg), 1);
	assert_int_equal(msg.output_len, 3);
	assert_memory_equal(msg.output, "a\0\xff", 4);
	wrk_decoder_free(d);
	mp_free(&m);

	/* A string that is not UTF-8 is accepted there too. */
	frame_msg(&m, "tool.complete", 2, 2);
	mp_str(&m, "call");
	mp_uint(&m, 3);
	mp_str(&m, "output");
	mp_strn(&m, "\xff\xfe", 2);
	frame_end(&m);
	assert_int_equal(decode_after_hello(&d, &m, &msg), 1);
	assert_int_equal(msg.output_len, 2);
	wrk_decoder_free(d);
	mp_free(&m);
}

/* Arbitrary bytes never crash the decoder (a small in-test fuzz). */
static void test_random_bytes(void **state)
{
	struct wrk_buf b = {0};
	uint32_t x = 12345;
	struct wrk_msg m;
	size_t i;
	int r, round;

	(void)state;
	encode_stream(&b);
	for (round = 0; round < 3000; round++) {
		struct wrk_decoder *d = wrk_decoder_new(round % 2 ? 256 : 0);
		char *copy = malloc(b.len);

		memcpy(copy, b.data, b.len);
		/* Flip a few bytes of a valid stream, or make it all noise. */
		for (i = 0; i < (round % 7 ? 3 : b.len); i++) {
			x = x * 1103515245 + 12345;
			copy[(x >> 8) % b.len] = (char)(x >> 16);
		}
		for (i = 0; i < b.len;) {
			x = x * 1103515245 + 12345;
			size_t n = 1 + (x >> 8) % 64;

			if (n > b.len - i)
				n = b.len - i;
			assert_int_equal(wrk_decoder_feed(d, copy + i, n), 0);
			i += n;
			while ((r = wrk_decoder_next(d, &m)) == 1)
				;
			if (r < 0)
				assert_true(errno == EBADMSG ||
					    errno == ERANGE || errno == EPROTO);
		}
		wrk_decoder_free(d);
		free(copy);
	}
	wrk_buf_release(&b);
}

static void test_buf(void **state)
{
	struct wrk_buf b = {0};
	struct wrk_msg m;
	size_t one;

	(void)state;
	full_msg(&m, WRK_ACK, 1);
	assert_int_equal(wrk_encode(&b, &m), 0);
	one = b.len;
	assert_int_equal(wrk_encode(&b, &m), 0);
	assert_int_equal(b.len, 2 * one);
	wrk_buf_consume(&b, 3);
	assert_int_equal(b.len, 2 * one - 3);
	assert_int_equal((unsigned char)b.data[one - 3], 0);
	wrk_buf_consume(&b, 1000);
	assert_int_equal(b.len, 0);
	wrk_buf_release(&b);
	assert_null(b.data);
	assert_int_equal(b.cap, 0);
	wrk_decoder_free(NULL);
}

/*
 * A writer under back-pressure drains a large buffer in small steps while
 * it appends more: every byte comes out once, in order, and the bytes
 * wrk_buf_consume() moves stay fewer than those consumed (linear cost;
 * moving all that is left on every step is quadratic).
 */
static void test_buf_consume_steps(void **state)
{
	struct wrk_buf want = {0}, b = {0};
	struct wrk_msg m;
	char text[64];
	size_t done = 0, moved = 0, in, step, before, i, frames = 6000, added;
	const char *p;

	(void)state;
	for (i = 0; i < frames; i++) {
		full_msg(&m, WRK_LOG, i + 1);
		snprintf(text, sizeof(text), "line %zu of the log", i);
		m.text = text;
		assert_int_equal(wrk_encode(&want, &m), 0);
		if (i < frames / 2)
			assert_int_equal(wrk_encode(&b, &m), 0);
	}
	added = frames / 2;
	in = b.len;
	for (i = 0; b.len; i++) {
		step = 1 + i % 13;
		p = b.data;
		before = b.len;
		wrk_buf_consume(&b, step);
		if (step >= before) {
			assert_int_equal(b.len, 0);
			done += before;
		} else {
			assert_int_equal(b.len, before - step);
			done += step;
			if (b.data != p + step)
				moved += b.len; /* the bytes left were moved */
		}
		assert_true(b.off == 0 || b.off < b.len);
		if (i % 3 == 0 && added < frames) {
			full_msg(&m, WRK_LOG, added + 1);
			snprintf(text, sizeof(text), "line %zu of the log",
				 added);
			m.text = text;
			before = b.len;
			assert_int_equal(wrk_encode(&b, &m), 0);
			in += b.len - before;
			added++;
		}
		assert_int_equal(done + b.len, in);
		if (b.len)
			assert_memory_equal(b.data, want.data + done,
					    i % 500 ? (b.len < 16 ? b.len : 16)
						    : b.len);
	}
	assert_int_equal(added, frames);
	assert_int_equal(done, want.len);
	assert_true(moved <= done);
	wrk_buf_release(&b);
	wrk_buf_release(&want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_type_names),
		cmocka_unit_test(test_round_trip_up),
		cmocka_unit_test(test_unread),
		cmocka_unit_test(test_round_trip_down),
		cmocka_unit_test(test_round_trip_control),
		cmocka_unit_test(test_round_trip_minimal),
		cmocka_unit_test(test_encode_bytes),
		cmocka_unit_test(test_encode_errors),
		cmocka_unit_test(test_split_every_offset),
		cmocka_unit_test(test_many_frames_one_feed),
		cmocka_unit_test(test_not_a_frame),
		cmocka_unit_test(test_huge_count),
		cmocka_unit_test(test_length_zero),
		cmocka_unit_test(test_oversized_header_only),
		cmocka_unit_test(test_map_without_t),
		cmocka_unit_test(test_unknown_t),
		cmocka_unit_test(test_seq_rules),
		cmocka_unit_test(test_hello_rules),
		cmocka_unit_test(test_wrong_field_types),
		cmocka_unit_test(test_missing_and_conflicting_fields),
		cmocka_unit_test(test_unknown_fields_ignored),
		cmocka_unit_test(test_agent_fields),
		cmocka_unit_test(test_encode_optional),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_json_conversion),
		cmocka_unit_test(test_json_floats_round_trip),
		cmocka_unit_test(test_python_frames),
		cmocka_unit_test(test_output_bytes),
		cmocka_unit_test(test_random_bytes),
		cmocka_unit_test(test_buf),
		cmocka_unit_test(test_buf_consume_steps),
	};

	return cmocka_run_group_tests_name("proto", tests, NULL, NULL);
}
