/*
 * fuzz-codex.c - the Codex CLI parser (worker/codex.c, on the adapter
 * layer of worker/adapter.c) against any bytes, as smithers-worker --codex
 * meets them on an agent's stdout.
 *
 * The input is the agent's output, parsed twice: fed whole, then in chunks
 * of 1 to 64 bytes whose sizes come from a hash of the input; the line
 * limit (256 to 4351 bytes), the frame limit (2 to 10 KiB) and the exit
 * status come from the hash too. Checked, beyond what the sanitizers see:
 * - both cuts make the same bytes;
 * - every frame decodes with the supervisor's decoder, within the frame
 *   limit: hello first, seq increasing, every field well typed;
 * - every call started is completed exactly once, and only after it
 *   started;
 * - the stream ends with a result or a fail: one or the other is sent.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <string.h>

#include "tests/fuzz/fuzz.h"
#include "worker/codex.h"
#include "worker/proto.h"

static void check_frames(const struct wrk_buf *b, size_t frame_max)
{
	struct wrk_decoder *d = wrk_decoder_new(frame_max);
	unsigned char *state = NULL; /* of call i + 1: 1 running, 2 done */
	size_t ncalls = 0;
	bool ended = false;
	struct wrk_msg m;
	uint64_t seq = 0;
	int rc;

	FUZZ_CHECK(d != NULL);
	FUZZ_CHECK(wrk_decoder_feed(d, b->data, b->len) == 0);
	while ((rc = wrk_decoder_next(d, &m)) == 1) {
		FUZZ_CHECK(m.seq == ++seq);
		FUZZ_CHECK((m.type == WRK_HELLO) == (seq == 1));
		if (m.type == WRK_TOOL_START) {
			FUZZ_CHECK(m.call == ncalls + 1);
			FUZZ_CHECK(m.parent == 0);
			state = realloc(state, ncalls + 1);
			FUZZ_CHECK(state != NULL);
			state[ncalls++] = 1;
		} else if (m.type == WRK_TOOL_COMPLETE) {
			FUZZ_CHECK(m.call >= 1 && m.call <= ncalls);
			FUZZ_CHECK(state[m.call - 1] == 1);
			state[m.call - 1] = 2;
		} else if (m.type == WRK_USAGE) {
			FUZZ_CHECK(!m.has_cost && m.total); /* the thread's */
		}
		ended |= m.type == WRK_RESULT || m.type == WRK_FAIL;
	}
	if (rc < 0) {
		fprintf(stderr, "frame %" PRIu64 " refused: %s\n", seq + 1,
			wrk_decoder_errmsg(d));
		FUZZ_CHECK(!"every frame decodes");
	}
	FUZZ_CHECK(wrk_decoder_pending(d) == 0);
	for (size_t i = 0; i < ncalls; i++)
		FUZZ_CHECK(state[i] == 2);
	FUZZ_CHECK(ended);
	if (fuzz_verbose())
		fprintf(stderr, "%" PRIu64 " messages, %zu calls\n", seq,
			ncalls);
	free(state);
	wrk_decoder_free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t x = fuzz_seed(data, size);
	size_t line_max = 256 + x % 4096;
	size_t frame_max = 2048 + (x >> 12) % 8192;
	int status = (int)((x >> 25) % 3 == 0 ? (x >> 27) % 64 + 1
					      : ((x >> 27) % 256) << 8);
	struct wrk_buf whole = {0}, cut = {0};
	struct wrk_parser *p;
	size_t off, n;

	p = wrk_codex_new(line_max, frame_max);
	FUZZ_CHECK(p != NULL);
	FUZZ_CHECK(wrk_parser_hello(p, 42, &whole) == 0);
	FUZZ_CHECK(wrk_parser_feed(p, data, size, &whole) == 0);
	FUZZ_CHECK(wrk_parser_end(p, status, &whole) == 0);
	wrk_parser_free(p);

	p = wrk_codex_new(line_max, frame_max);
	FUZZ_CHECK(p != NULL);
	FUZZ_CHECK(wrk_parser_hello(p, 42, &cut) == 0);
	for (off = 0; off < size; off += n) {
		n = fuzz_piece(&x, size - off);
		FUZZ_CHECK(wrk_parser_feed(p, data + off, n, &cut) == 0);
	}
	FUZZ_CHECK(wrk_parser_end(p, status, &cut) == 0);
	wrk_parser_free(p);

	FUZZ_CHECK(whole.len == cut.len);
	FUZZ_CHECK(!whole.len || !memcmp(whole.data, cut.data, whole.len));
	check_frames(&whole, frame_max);
	wrk_buf_release(&whole);
	wrk_buf_release(&cut);
	return 0;
}
