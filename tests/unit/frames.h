/*
 * frames.h - for the unit tests of the CLI adapters (test_claude.c,
 * test_codex.c): the frames a parser made, decoded by the supervisor's own
 * decoder into records whose strings are copies, and found by type.
 * cmocka's assertions fail the test on anything that does not decode.
 */
#ifndef SMITHERS_TESTS_FRAMES_H
#define SMITHERS_TESTS_FRAMES_H

#include <stddef.h>
#include <stdint.h>

#include "worker/proto.h"

/* A decoded message, its strings copied. */
struct rec {
	enum wrk_type type;
	uint64_t seq, call, parent;
	int64_t pid;
	char *tool, *json, *ref, *output, *status, *error, *level, *text;
	char *session_id, *model, *agent_version;
	size_t output_len;
	uint64_t tokens_in, tokens_out, cache_read, cache_write, reasoning;
	double cost;
	int has_cost, total;
};

struct run {
	struct rec *r;
	size_t n;
};

/* Decode every frame of B (FRAME_MAX: the decoder's limit) into RUN. */
void decode_all(const struct wrk_buf *b, size_t frame_max, struct run *run);
void run_free(struct run *run);

/* The Nth message of type T in RUN (N from 0); fails when there is none. */
const struct rec *nth(const struct run *run, enum wrk_type t, int n);
/* How many messages of type T RUN has. */
int count(const struct run *run, enum wrk_type t);

#endif /* SMITHERS_TESTS_FRAMES_H */
