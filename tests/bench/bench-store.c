/*
 * bench-store.c - state-set throughput through the store API against a raw
 * SQLite loop doing the minimal equivalent SQL, in the same run.
 *
 * Both sides write the same schema (made by wal_open), in WAL mode with the
 * same synchronous level, one transaction per batch. The raw loop runs two
 * prepared statements per change - the transition insert (reading the old
 * value) and the state upsert - which is the least SQL that keeps the
 * invariant "every state write has its transition", and writes the same
 * columns the store writes (execution, agent, trigger, millisecond times). Each
 * configuration runs ROUNDS times alternating raw and store; the best round of
 * each counts, so a noisy neighbour slows both rather than one.
 *
 * usage: bench-store [--quick] [--normal] [--only raw|store]
 * Prints, per batch size, ops/s of both and store/raw (1.0 = as fast as raw).
 * --only runs one side (for profilers: perf stat, callgrind).
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/bench/benchlib.h"
#include "wal/wal.h"

#define KEYS 1000 /* distinct keys: most sets update an existing row */

static double run_store(int batch, int ops, int normal)
{
	char *dir = bench_make_dir(), key[32], value[64];
	struct wal *w = bench_open_store(dir, normal);
	double t0 = bench_now_s(), dt;

	for (int done = 0; done < ops;) {
		if (wal_batch_begin(w) < 0)
			bench_die("begin", wal_errmsg(w));
		for (int i = 0; i < batch && done < ops; i++, done++) {
			snprintf(key, sizeof(key), "key-%d", done % KEYS);
			snprintf(value, sizeof(value), "{\"n\": %d}", done);
			if (wal_state_set(w, key, value, "bench", 0) < 0)
				bench_die("set", wal_errmsg(w));
		}
		if (wal_batch_commit(w) < 0)
			bench_die("commit", wal_errmsg(w));
	}
	dt = bench_now_s() - t0;
	wal_close(w);
	bench_remove_dir(dir);
	free(dir);
	return ops / dt;
}

int main(int argc, char **argv)
{
	static const int batches[] = {1, 100, 1000};
	int quick = 0, normal = 0, rounds, do_raw = 1, do_store = 1;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick"))
			quick = 1;
		else if (!strcmp(argv[i], "--normal"))
			normal = 1;
		else if (!strcmp(argv[i], "--only") && i + 1 < argc &&
			 (!strcmp(argv[i + 1], "raw") ||
			  !strcmp(argv[i + 1], "store"))) {
			i++;
			do_raw = !strcmp(argv[i], "raw");
			do_store = !strcmp(argv[i], "store");
		} else {
			fprintf(stderr,
				"usage: bench-store [--quick] [--normal]"
				" [--only raw|store]\n");
			return 2;
		}
	}
	rounds = quick ? 1 : 5;
	printf("state.set throughput, synchronous=%s, best of %d rounds\n",
	       normal ? "NORMAL" : "FULL", rounds);
	printf("%-6s %14s %14s %8s\n", "batch", "raw ops/s", "store ops/s",
	       "store/raw");
	for (size_t b = 0; b < sizeof(batches) / sizeof(*batches); b++) {
		int batch = batches[b];
		/* Enough work for a second or so per round at each size. */
		int ops = batch == 1 ? (quick ? 300 : 1000)
			  : quick    ? 20000
				     : 100000;
		double raw = 0, store = 0, r;

		for (int i = 0; i < rounds; i++) {
			r = do_raw ? bench_raw_rate(batch, ops, normal) : 0;
			raw = r > raw ? r : raw;
			r = do_store ? run_store(batch, ops, normal) : 0;
			store = r > store ? r : store;
		}
		printf("%-6d %14.0f %14.0f %8.2f\n", batch, raw, store,
		       raw > 0 ? store / raw : 0);
	}
	return 0;
}
