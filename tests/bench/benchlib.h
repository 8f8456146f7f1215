/*
 * benchlib.h - what the benchmarks share (benchlib.c).
 */
#ifndef SMITHERS_BENCHLIB_H
#define SMITHERS_BENCHLIB_H

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

#endif /* SMITHERS_BENCHLIB_H */
