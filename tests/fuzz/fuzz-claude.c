/*
 * fuzz-claude.c - the Claude Code stream-json parser (worker/claude.c)
 * against any bytes, as smithers-worker --claude meets them on an agent's
 * stdout.
 *
 * The input is the agent's output, parsed twice: fed whole, then in chunks
 * of 1 to 64 bytes whose sizes come from a hash of the input; the line
 * limit (256 to 4351 bytes), the frame limit (2 to 10 KiB) and the exit
 * status come from the hash too, so that long lines and cut outputs are
 * reached. Checked, beyond what the sanitizers see:
 * - both cuts make the same bytes;
 * - the fast path (worker/jscan.c) makes the same bytes as jansson alone
 *   (wrk_claude_set_fast(c, false)), fed whole;
 * - every frame decodes with the supervisor's decoder, within the frame
 *   limit: hello first, seq increasing, every field well typed;
 * - every call started is completed exactly once, and only after it
 *   started.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <string.h>

#include "tests/fuzz/fuzz.h"
#include "worker/claude.h"
#include "worker/proto.h"

/* The calls seen: started[i] for call i + 1, and how often completed. */
struct calls {
	unsigned char *state; /* 0 unknown, 1 running, 2 completed */
	size_t n;
};

static void check_frames(const struct wrk_buf *b, size_t frame_max)
{
	struct wrk_decoder *d = wrk_decoder_new(frame_max);
	struct calls calls = {0};
	struct wrk_msg m;
	uint64_t seq = 0;
	int rc;

	FUZZ_CHECK(d != NULL);
	FUZZ_CHECK(wrk_decoder_feed(d, b->data, b->len) == 0);
	while ((rc = wrk_decoder_next(d, &m)) == 1) {
		FUZZ_CHECK(m.seq == ++seq);
		FUZZ_CHECK((m.type == WRK_HELLO) == (seq == 1));
		if (m.type == WRK_TOOL_START) {
			/* Fresh ids, in order. */
			FUZZ_CHECK(m.call == calls.n + 1);
			calls.state = realloc(calls.state, calls.n + 1);
			FUZZ_CHECK(calls.state != NULL);
			calls.state[calls.n++] = 1;
			FUZZ_CHECK(m.parent < m.call);
		} else if (m.type == WRK_TOOL_COMPLETE) {
			FUZZ_CHECK(m.call >= 1 && m.call <= calls.n);
			FUZZ_CHECK(calls.state[m.call - 1] == 1);
			calls.state[m.call - 1] = 2;
		}
	}
	if (rc < 0) {
		fprintf(stderr, "frame %" PRIu64 " refused: %s\n", seq + 1,
			wrk_decoder_errmsg(d));
		FUZZ_CHECK(!"every frame decodes");
	}
	FUZZ_CHECK(wrk_decoder_pending(d) == 0);
	for (size_t i = 0; i < calls.n; i++)
		FUZZ_CHECK(calls.state[i] == 2);
	if (fuzz_verbose())
		fprintf(stderr, "%" PRIu64 " messages, %zu calls\n", seq,
			calls.n);
	free(calls.state);
	wrk_decoder_free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t x = fuzz_seed(data, size);
	size_t line_max = 256 + x % 4096;
	size_t frame_max = 2048 + (x >> 12) % 8192;
	int status = (int)((x >> 25) % 3 == 0 ? (x >> 27) % 64 + 1
					      : ((x >> 27) % 256) << 8);
	struct wrk_buf whole = {0}, cut = {0}, slow = {0};
	struct wrk_claude *c;
	size_t off, n;

	c = wrk_claude_new(line_max, frame_max);
	FUZZ_CHECK(c != NULL);
	FUZZ_CHECK(wrk_claude_hello(c, 42, &whole) == 0);
	FUZZ_CHECK(wrk_claude_feed(c, data, size, &whole) == 0);
	FUZZ_CHECK(wrk_claude_end(c, status, &whole) == 0);
	wrk_claude_free(c);

	c = wrk_claude_new(line_max, frame_max);
	FUZZ_CHECK(c != NULL);
	wrk_claude_set_fast(c, false);
	FUZZ_CHECK(wrk_claude_hello(c, 42, &slow) == 0);
	FUZZ_CHECK(wrk_claude_feed(c, data, size, &slow) == 0);
	FUZZ_CHECK(wrk_claude_end(c, status, &slow) == 0);
	wrk_claude_free(c);

	c = wrk_claude_new(line_max, frame_max);
	FUZZ_CHECK(c != NULL);
	FUZZ_CHECK(wrk_claude_hello(c, 42, &cut) == 0);
	for (off = 0; off < size; off += n) {
		n = fuzz_piece(&x, size - off);
		FUZZ_CHECK(wrk_claude_feed(c, data + off, n, &cut) == 0);
	}
	FUZZ_CHECK(wrk_claude_end(c, status, &cut) == 0);
	wrk_claude_free(c);

	FUZZ_CHECK(whole.len == cut.len);
	FUZZ_CHECK(!whole.len || !memcmp(whole.data, cut.data, whole.len));
	FUZZ_CHECK(whole.len == slow.len);
	FUZZ_CHECK(!whole.len || !memcmp(whole.data, slow.data, whole.len));
	check_frames(&whole, frame_max);
	wrk_buf_release(&whole);
	wrk_buf_release(&cut);
	wrk_buf_release(&slow);
	return 0;
}
