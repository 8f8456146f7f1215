/*
 * bench-json.c - whether the protocol codec keeps its own msgpack -> JSON
 * writer (worker/msgjson.c) or hands that work to jansson, the project's
 * JSON library. The writer runs for every state.set an agent sends with a
 * msgpack value, on the supervisor's event loop.
 *
 * For a few values typical of agents, in the same run, nanoseconds a value:
 * - writer: wrk_msgpack_to_json() on the unpacked value, into a buffer
 *   reused from one value to the next, as the decoder does;
 * - jansson: the same work with jansson: build a json_t from the unpacked
 *   value, json_dumps() it compact, free both;
 * - decode: the whole of wrk_decoder_next() on a state.set frame holding
 *   the value (unpacking, checks, the writer), for scale.
 * Each figure is the best of ROUNDS (20), FRAMES values a round. It also
 * says whether jansson's text is the writer's, byte for byte.
 *
 * usage: bench-json [ROUNDS [VALUE]] - VALUE, a row number from 1, runs
 * that value alone (for valgrind --tool=callgrind: compare writer_ns()
 * and jansson_ns(), inclusive).
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <msgpack.h>

#include "tests/bench/benchlib.h"
#include "worker/msgjson.h"
#include "worker/proto.h"

#define FRAMES 2000

static volatile size_t sink; /* keeps the work from being optimised away */

struct value {
	const char *name;
	const char *json;
};

/* Pack V (from jansson) as msgpack, as an agent's library would. */
static void pack_json(msgpack_packer *pk, json_t *v)
{
	const char *key;
	void *it;
	size_t i;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		msgpack_pack_map(pk, json_object_size(v));
		for (it = json_object_iter(v); it;
		     it = json_object_iter_next(v, it)) {
			key = json_object_iter_key(it);
			msgpack_pack_str(pk, strlen(key));
			msgpack_pack_str_body(pk, key, strlen(key));
			pack_json(pk, json_object_iter_value(it));
		}
		break;
	case JSON_ARRAY:
		msgpack_pack_array(pk, json_array_size(v));
		for (i = 0; i < json_array_size(v); i++)
			pack_json(pk, json_array_get(v, i));
		break;
	case JSON_STRING:
		msgpack_pack_str(pk, json_string_length(v));
		msgpack_pack_str_body(pk, json_string_value(v),
				      json_string_length(v));
		break;
	case JSON_INTEGER:
		msgpack_pack_int64(pk, json_integer_value(v));
		break;
	case JSON_REAL:
		msgpack_pack_double(pk, json_real_value(v));
		break;
	case JSON_TRUE:
		msgpack_pack_true(pk);
		break;
	case JSON_FALSE:
		msgpack_pack_false(pk);
		break;
	case JSON_NULL:
		msgpack_pack_nil(pk);
		break;
	}
}

/* The msgpack value O as jansson would build it for the writer. */
static json_t *to_jansson(const msgpack_object *o)
{
	json_t *v;
	uint32_t i;

	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		return json_null();
	case MSGPACK_OBJECT_BOOLEAN:
		return json_boolean(o->via.boolean);
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		/* jansson has no integer past INT64_MAX: proto has. */
		return json_integer((json_int_t)o->via.u64);
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		return json_integer(o->via.i64);
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		return json_real(o->via.f64);
	case MSGPACK_OBJECT_STR:
		return json_stringn(o->via.str.ptr, o->via.str.size);
	case MSGPACK_OBJECT_ARRAY:
		v = json_array();
		for (i = 0; i < o->via.array.size; i++)
			json_array_append_new(v,
					      to_jansson(&o->via.array.ptr[i]));
		return v;
	case MSGPACK_OBJECT_MAP:
		v = json_object();
		for (i = 0; i < o->via.map.size; i++) {
			const msgpack_object_kv *kv = &o->via.map.ptr[i];
#if JANSSON_VERSION_HEX >= 0x020e00
			json_object_setn_new(v, kv->key.via.str.ptr,
					     kv->key.via.str.size,
					     to_jansson(&kv->val));
#else
			/* Before 2.14 a key must end in a NUL. */
			char *key = strndup(kv->key.via.str.ptr,
					    kv->key.via.str.size);

			json_object_set_new(v, key, to_jansson(&kv->val));
			free(key);
#endif
		}
		return v;
	default:
		bench_die("to_jansson", "a type the values do not hold");
	}
}

static void pack_str(msgpack_packer *pk, const char *s)
{
	msgpack_pack_str(pk, strlen(s));
	msgpack_pack_str_body(pk, s, strlen(s));
}

/* Append to B a frame: state.set of key "k" with sequence number SEQ and
 * the value PACKED (msgpack). */
static void add_frame(struct wrk_buf *b, uint64_t seq,
		      const msgpack_sbuffer *packed)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	unsigned char len[4];

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 4);
	pack_str(&pk, "t");
	pack_str(&pk, "state.set");
	pack_str(&pk, "seq");
	msgpack_pack_uint64(&pk, seq);
	pack_str(&pk, "key");
	pack_str(&pk, "k");
	pack_str(&pk, "value");
	msgpack_sbuffer_write(&sb, packed->data, packed->size);
	len[0] = (unsigned char)(sb.size >> 24);
	len[1] = (unsigned char)(sb.size >> 16);
	len[2] = (unsigned char)(sb.size >> 8);
	len[3] = (unsigned char)sb.size;
	b->data = realloc(b->data, b->len + 4 + sb.size);
	if (!b->data)
		bench_die("add_frame", "out of memory");
	memcpy(b->data + b->len, len, 4);
	memcpy(b->data + b->len + 4, sb.data, sb.size);
	b->len += 4 + sb.size;
	b->cap = b->len;
	msgpack_sbuffer_destroy(&sb);
}

/* Decode HELLO then the FRAMES frames of BATCH with a new decoder. ns a
 * frame. */
static double decode_ns(const struct wrk_buf *hello,
			const struct wrk_buf *batch)
{
	struct wrk_decoder *d = wrk_decoder_new(0);
	struct wrk_msg msg;
	double t0 = bench_now_s();
	int n = 0, rc;

	if (!d || wrk_decoder_feed(d, hello->data, hello->len) < 0 ||
	    wrk_decoder_next(d, &msg) != 1 ||
	    wrk_decoder_feed(d, batch->data, batch->len) < 0)
		bench_die("decoder", "cannot start");
	while ((rc = wrk_decoder_next(d, &msg)) == 1) {
		sink += strlen(msg.json);
		n++;
	}
	t0 = bench_now_s() - t0;
	if (rc < 0 || n != FRAMES)
		bench_die("wrk_decoder_next", wrk_decoder_errmsg(d));
	wrk_decoder_free(d);
	return t0 / FRAMES * 1e9;
}

/* The writer's work with jansson on the unpacked value O, FRAMES times;
 * its text of O into *TEXT (when not NULL). ns a value. */
static double jansson_ns(const msgpack_object *o, char **text)
{
	double t0 = bench_now_s();
	json_t *v;
	char *s;

	for (int i = 0; i < FRAMES; i++) {
		v = to_jansson(o);
		s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		if (!s)
			bench_die("json_dumps", "failed");
		sink += strlen(s);
		if (text && i == FRAMES - 1)
			*text = s;
		else
			free(s);
		json_decref(v);
	}
	return (bench_now_s() - t0) / FRAMES * 1e9;
}

/* The codec's writer on the unpacked value O, FRAMES times; its text of O
 * into *TEXT (when not NULL). ns a value. */
static double writer_ns(const msgpack_object *o, char **text)
{
	struct wrk_buf b = {0};
	struct wrk_err e = {0};
	double t0 = bench_now_s();

	for (int i = 0; i < FRAMES; i++) {
		b.len = 0;
		if (wrk_msgpack_to_json(&b, o, &e, "value", "state.set") < 0)
			bench_die("wrk_msgpack_to_json", e.msg);
		sink += b.len;
	}
	t0 = bench_now_s() - t0;
	if (text) {
		*text = strndup(b.data, b.len);
		if (!*text)
			bench_die("writer", "out of memory");
	}
	wrk_buf_release(&b);
	return t0 / FRAMES * 1e9;
}

static double min(double a, double b)
{
	return a < b ? a : b;
}

int main(int argc, char **argv)
{
	static struct value values[] = {
		{"integer", "42"},
		{"short string", "\"done\""},
		{"small object",
		 "{\"status\":\"ok\",\"count\":3,\"ratio\":0.25,"
		 "\"tags\":[\"a\",\"b\",\"c\"],\"done\":true,\"note\":null}"},
		{"tool output",
		 "{\"tool\":\"Bash\",\"input\":{\"command\":\"ls -la && echo "
		 "\\\"ok\\\"\",\"timeout\":120000},\"output\":\"total 48\\n"
		 "drwxr-xr-x  5 agent agent 4096 Dec  4 10:00 .\\n"
		 "-rw-r--r--  1 agent agent  812 Dec  4 10:00 caf\\u00e9.md\\n"
		 "-rw-r--r--  1 agent agent 1290 Dec  4 10:00 notes.txt\\n"
		 "\\t\\\"ok\\\"\\n\",\"exit\":0,\"seconds\":0.031}"},
		{"floats", "[0.1,1.5,1e-7,3.14159,-2.5e300]"},
		{"20 small objects", NULL},
	};
	const size_t nvalues = sizeof(values) / sizeof(values[0]);
	const struct wrk_msg hello_msg = {
		.type = WRK_HELLO, .seq = 1, .version = WRK_PROTO_VERSION};
	struct wrk_buf hello = {0};
	char *many;
	int rounds = argc > 1 && atoi(argv[1]) > 0 ? atoi(argv[1]) : 20;
	size_t i, only = argc > 2 ? (size_t)atoi(argv[2]) : 0;

	/* The last value: the small object 20 times in an array. */
	many = malloc(20 * (strlen(values[2].json) + 1) + 2);
	if (!many)
		bench_die("bench-json", "out of memory");
	strcpy(many, "[");
	for (i = 0; i < 20; i++) {
		strcat(many, i ? "," : "");
		strcat(many, values[2].json);
	}
	strcat(many, "]");
	values[nvalues - 1].json = many;
	if (wrk_encode(&hello, &hello_msg) < 0)
		bench_die("wrk_encode", "hello");

	printf("state.set value -> JSON text, ns a value, best of %d rounds "
	       "of %d\n",
	       rounds, FRAMES);
	printf("%-17s %6s %8s %8s %8s %8s %8s %5s\n", "value", "bytes",
	       "writer", "jansson", "jan/wr", "decode", "decode'", "same");
	for (i = 0; i < nvalues; i++) {
		struct value *v = &values[i];
		double dec = 1e18, wr = 1e18, jan = 1e18;
		struct wrk_buf frames = {0};
		msgpack_sbuffer packed;
		msgpack_unpacked up;
		msgpack_packer pk;
		char *ours, *theirs;
		json_t *parsed;
		int round, same;

		if (only && i + 1 != only)
			continue;
		parsed = json_loads(v->json, JSON_DECODE_ANY, NULL);
		if (!parsed)
			bench_die("json_loads", v->name);
		msgpack_sbuffer_init(&packed);
		msgpack_packer_init(&pk, &packed, msgpack_sbuffer_write);
		pack_json(&pk, parsed);
		json_decref(parsed);
		/* Sequence numbers after the hello's 1. */
		for (uint64_t seq = 2; seq <= FRAMES + 1; seq++)
			add_frame(&frames, seq, &packed);
		msgpack_unpacked_init(&up);
		if (msgpack_unpack_next(&up, packed.data, packed.size, NULL) !=
		    MSGPACK_UNPACK_SUCCESS)
			bench_die("msgpack_unpack_next", v->name);
		writer_ns(&up.data, &ours);
		jansson_ns(&up.data, &theirs);
		same = !strcmp(ours, theirs);

		for (round = 0; round < rounds; round++) {
			wr = min(wr, writer_ns(&up.data, NULL));
			jan = min(jan, jansson_ns(&up.data, NULL));
			dec = min(dec, decode_ns(&hello, &frames));
		}
		printf("%-17s %6zu %8.0f %8.0f %7.1fx %8.0f %7.2fx %5s\n",
		       v->name, strlen(ours), wr, jan, jan / wr, dec,
		       (dec - wr + jan) / dec, same ? "yes" : "no");
		if (!same && only)
			printf("  writer:  %s\n  jansson: %s\n", ours, theirs);
		free(ours);
		free(theirs);
		msgpack_unpacked_destroy(&up);
		msgpack_sbuffer_destroy(&packed);
		wrk_buf_release(&frames);
	}
	printf("jan/wr = jansson / writer; decode: wrk_decoder_next() of a "
	       "state.set holding\nthe value; decode' = decode with jansson "
	       "as the writer, against decode;\nsame: jansson's text is the "
	       "writer's\n");
	wrk_buf_release(&hello);
	free(many);
	return 0;
}
