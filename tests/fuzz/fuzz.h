/*
 * fuzz.h - what the fuzz targets of tests/fuzz share. Each target defines
 * libFuzzer's entry point, LLVMFuzzerTestOneInput(), and builds two ways:
 * linked with libFuzzer (configure CC=clang --enable-fuzzing) to explore
 * inputs, and linked with replay.c in every build, so that `make check`
 * runs the seed corpus and every saved crash through the same code.
 *
 * A target checks more than "no crash": a broken promise of the code under
 * test (a header's contract, a round trip) aborts through FUZZ_CHECK(), and
 * libFuzzer saves the input like any other crash.
 */
#ifndef SMITHERS_TESTS_FUZZ_H
#define SMITHERS_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Run one input (borrowed); returns 0, as libFuzzer wants. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static inline void fuzz_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "%s:%d: check failed: %s\n", file, line, what);
	abort();
}

/* Whether FUZZ_VERBOSE is set: the targets then say on stderr what each
 * input did (decoded, loaded or refused, and why), to check new seeds. */
static inline int fuzz_verbose(void)
{
	static int verbose = -1;

	if (verbose < 0)
		verbose = getenv("FUZZ_VERBOSE") != NULL;
	return verbose;
}

/* A seed drawn from the input (FNV-1a), never 0: the same input is cut
 * the same way in every run. */
static inline uint64_t fuzz_seed(const uint8_t *data, size_t size)
{
	uint64_t h = 0xcbf29ce484222325u;

	for (size_t i = 0; i < size; i++)
		h = (h ^ data[i]) * 0x100000001b3u;
	return h | 1;
}

/* The length of the next piece (1 to 64 bytes, at most LEFT) of an input
 * fed in pieces, from the xorshift64 state *X. */
static inline size_t fuzz_piece(uint64_t *x, size_t left)
{
	size_t n;

	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	n = 1 + *x % 64;
	return n > left ? left : n;
}

/* Abort, naming the check, unless COND holds; on in every build. */
#define FUZZ_CHECK(cond)                                                       \
	((cond) ? (void)0 : fuzz_fail(__FILE__, __LINE__, #cond))

#endif /* SMITHERS_TESTS_FUZZ_H */
