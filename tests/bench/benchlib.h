/*
 * benchlib.h - what the benchmarks share (benchlib.c).
 */
#ifndef SMITHERS_BENCHLIB_H
#define SMITHERS_BENCHLIB_H

#include <stdint.h>

struct wal;

/* Monotonic seconds. */
double bench_now_s(void);
/* Print "bench: WHAT: MSG" and exit 1. */
void bench_die(const char *what, const char *msg) __attribute__((noreturn));
/* A new temporary dir (caller frees the path; bench_remove_dir it). */
char *bench_make_dir(void);
void bench_remove_dir(const char *dir);
/* A created store in DIR with synchronous FULL, or NORMAL. */
struct wal *bench_open_store(const char *dir, int normal);
/* State changes per second of the raw SQLite loop: OPS changes, BATCH per
 * transaction, 1000 distinct keys, in a fresh temporary store. */
double bench_raw_rate(int batch, int ops, int normal);

/* Seconds from a change's due time to its commit, over a run. */
struct bench_latency {
	int64_t count;
	double p50, p99, max;
};
/* qsort's comparison of doubles. */
int bench_cmp_double(const void *a, const void *b);
/* Sort the N values V (seconds) and summarize them into OUT. */
void bench_latency_of(double *v, int64_t n, struct bench_latency *out);
/* The raw loop paced at RATE changes a second for MS milliseconds: what is
 * due is committed in one transaction, at most one every TICK seconds.
 * OUT: each change timed from when it was due to the end of its commit
 * (the wait behind a stalled commit counted, as a pipelining client sees
 * it); TICK_OUT: from the start of its transaction's tick (that wait not
 * counted: the changes due during a stall are timed from after it). */
void bench_raw_paced(double rate, int ms, int normal, double tick,
		     struct bench_latency *out, struct bench_latency *tick_out);

#endif /* SMITHERS_BENCHLIB_H */
