/*
 * fuzz-frame.c - the frame decoder (worker/proto.c) against any bytes, as
 * the supervisor meets them on an agent's pipe.
 *
 * The input is one stream, decoded twice: fed whole, then fed in chunks of
 * 1 to 64 bytes whose sizes come from a hash of the input (a pipe delivers
 * what the agent wrote cut anywhere). After each feed wrk_decoder_next() is
 * called until it returns 0, as the supervisor does. Checked, beyond what
 * the sanitizers see:
 * - both cuts decode the same messages and end the same way (errno, bytes
 *   pending);
 * - a dead stream stays dead (fail closed);
 * - every decoded message re-encodes with wrk_encode(), and the frame
 *   decodes to an equal message; a second decoder reads these frames in
 *   order, so that it applies the same stream rules (hello first, seq
 *   increasing).
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "tests/fuzz/fuzz.h"
#include "worker/proto.h"

/* One decoding of the input. */
struct pass {
	struct wrk_decoder *d;	  /* the stream under test */
	struct wrk_decoder *echo; /* the messages of D, re-encoded */
	struct wrk_buf out;	  /* every frame fed to ECHO, in order */
	bool echo_off;		  /* a message was too large to re-encode */
	int err;		  /* errno that ended the stream; 0: alive */
};

static bool str_eq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return !strcmp(a, b);
}

/* Abort unless A and B are the same message, field by field. */
static void check_equal(const struct wrk_msg *a, const struct wrk_msg *b)
{
	FUZZ_CHECK(a->type == b->type);
	FUZZ_CHECK(a->seq == b->seq);
	FUZZ_CHECK(a->version == b->version);
	FUZZ_CHECK(a->agent_id == b->agent_id);
	FUZZ_CHECK(str_eq(a->token, b->token));
	FUZZ_CHECK(a->pid == b->pid);
	FUZZ_CHECK(str_eq(a->key, b->key));
	FUZZ_CHECK(str_eq(a->json, b->json));
	FUZZ_CHECK(str_eq(a->trigger, b->trigger));
	FUZZ_CHECK(str_eq(a->category, b->category));
	FUZZ_CHECK(str_eq(a->scope, b->scope));
	FUZZ_CHECK(str_eq(a->content, b->content));
	FUZZ_CHECK(str_eq(a->source, b->source));
	FUZZ_CHECK(a->has_confidence == b->has_confidence);
	FUZZ_CHECK(a->confidence == b->confidence);
	FUZZ_CHECK(a->call == b->call);
	FUZZ_CHECK(str_eq(a->tool, b->tool));
	FUZZ_CHECK(str_eq(a->ref, b->ref));
	FUZZ_CHECK(a->parent == b->parent);
	FUZZ_CHECK(!a->output == !b->output);
	FUZZ_CHECK(a->output_len == b->output_len);
	FUZZ_CHECK(!a->output || !memcmp(a->output, b->output, a->output_len));
	FUZZ_CHECK(str_eq(a->summary, b->summary));
	FUZZ_CHECK(str_eq(a->status, b->status));
	FUZZ_CHECK(str_eq(a->error, b->error));
	FUZZ_CHECK(str_eq(a->name, b->name));
	FUZZ_CHECK(str_eq(a->path, b->path));
	FUZZ_CHECK(str_eq(a->kind, b->kind));
	FUZZ_CHECK(a->tokens_in == b->tokens_in);
	FUZZ_CHECK(a->tokens_out == b->tokens_out);
	FUZZ_CHECK(a->cost == b->cost);
	FUZZ_CHECK(a->has_cost == b->has_cost);
	FUZZ_CHECK(a->cache_read == b->cache_read);
	FUZZ_CHECK(a->cache_write == b->cache_write);
	FUZZ_CHECK(a->total == b->total);
	FUZZ_CHECK(str_eq(a->session_id, b->session_id));
	FUZZ_CHECK(str_eq(a->model, b->model));
	FUZZ_CHECK(str_eq(a->agent_version, b->agent_version));
	FUZZ_CHECK(str_eq(a->level, b->level));
	FUZZ_CHECK(str_eq(a->text, b->text));
	FUZZ_CHECK(str_eq(a->reason, b->reason));
	FUZZ_CHECK(a->fatal == b->fatal);
}

/* Re-encode MSG (decoded by P->d, still valid) and decode it back. */
static void round_trip(struct pass *p, const struct wrk_msg *msg)
{
	struct wrk_msg back;
	size_t start = p->out.len;

	if (p->echo_off)
		return;
	if (wrk_encode(&p->out, msg) < 0) {
		/* JSON text can outgrow the msgpack it came from; anything
		 * else that a decoded message cannot do is a bug. */
		FUZZ_CHECK(errno == ERANGE || errno == ENOMEM);
		FUZZ_CHECK(p->out.len == start);
		p->echo_off = true;
		return;
	}
	FUZZ_CHECK(wrk_decoder_feed(p->echo, p->out.data + start,
				    p->out.len - start) == 0);
	if (wrk_decoder_next(p->echo, &back) != 1) {
		fprintf(stderr, "re-encoded '%s' does not decode: %s\n",
			wrk_type_name(msg->type), wrk_decoder_errmsg(p->echo));
		FUZZ_CHECK(!"a re-encoded message decodes");
	}
	check_equal(msg, &back);
	FUZZ_CHECK(wrk_decoder_next(p->echo, &back) == 0);
	FUZZ_CHECK(wrk_decoder_pending(p->echo) == 0);
}

/* Decode what P->d holds until it wants more bytes or dies. */
static void drain(struct pass *p)
{
	struct wrk_msg msg;
	int rc;

	while (!p->err) {
		rc = wrk_decoder_next(p->d, &msg);
		if (!rc)
			return;
		if (rc < 0) {
			p->err = errno;
			FUZZ_CHECK(p->err != 0);
			FUZZ_CHECK(wrk_decoder_errmsg(p->d)[0] != '\0');
			/* Dead: every later call fails the same way. */
			FUZZ_CHECK(wrk_decoder_next(p->d, &msg) == -1);
			FUZZ_CHECK(errno == p->err);
			return;
		}
		FUZZ_CHECK(rc == 1);
		FUZZ_CHECK(msg.seq == wrk_decoder_last_seq(p->d));
		round_trip(p, &msg);
	}
}

static void pass_init(struct pass *p)
{
	memset(p, 0, sizeof(*p));
	p->d = wrk_decoder_new(0);
	p->echo = wrk_decoder_new(0);
	FUZZ_CHECK(p->d && p->echo);
}

static void pass_release(struct pass *p)
{
	wrk_decoder_free(p->d);
	wrk_decoder_free(p->echo);
	wrk_buf_release(&p->out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pass whole, cut;
	uint64_t x = fuzz_seed(data, size);
	size_t off, n;

	pass_init(&whole);
	FUZZ_CHECK(wrk_decoder_feed(whole.d, data, size) == 0);
	drain(&whole);

	pass_init(&cut);
	for (off = 0; off < size; off += n) {
		n = fuzz_piece(&x, size - off);
		FUZZ_CHECK(wrk_decoder_feed(cut.d, data + off, n) == 0);
		drain(&cut);
	}

	FUZZ_CHECK(whole.err == cut.err);
	FUZZ_CHECK(whole.echo_off == cut.echo_off);
	FUZZ_CHECK(whole.out.len == cut.out.len);
	FUZZ_CHECK(!whole.out.len ||
		   !memcmp(whole.out.data, cut.out.data, whole.out.len));
	FUZZ_CHECK(wrk_decoder_last_seq(whole.d) ==
		   wrk_decoder_last_seq(cut.d));
	if (!whole.err)
		FUZZ_CHECK(wrk_decoder_pending(whole.d) ==
			   wrk_decoder_pending(cut.d));
	if (fuzz_verbose())
		fprintf(stderr,
			"frames: last seq %llu, %zu bytes pending; %s\n",
			(unsigned long long)wrk_decoder_last_seq(whole.d),
			wrk_decoder_pending(whole.d),
			whole.err ? wrk_decoder_errmsg(whole.d) : "no error");
	pass_release(&whole);
	pass_release(&cut);
	return 0;
}
