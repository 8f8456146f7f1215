/*
 * bench-shm.c - what a read of the shared-memory mirror costs, against a
 * plain read of the same bytes from private memory and a point read of the
 * same key from the database (a prepared SELECT on the store's state
 * table), all in the same run.
 *
 * Each loop reads one of KEYS keys (100-byte values) in turn, READS times;
 * the figure is nanoseconds a read, best of ROUNDS. usage: bench-shm
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "shm/shm.h"
#include "tests/bench/benchlib.h"
#include "wal/wal.h"

#define KEYS   1000
#define READS  2000000L
#define ROUNDS 5

static char keys[KEYS][32];
static volatile size_t sink; /* keeps every read from being optimised away */

static double shm_ns(const struct shm_reader *r)
{
	char buf[SHM_VALUE_LEN + 1];
	double t0 = bench_now_s();

	for (long i = 0; i < READS; i++)
		sink += (size_t)shm_read_key(r, keys[i % KEYS], buf,
					     sizeof(buf));
	return (bench_now_s() - t0) / READS * 1e9;
}

static double memory_ns(char (*values)[101])
{
	char buf[SHM_VALUE_LEN + 1];
	double t0 = bench_now_s();

	for (long i = 0; i < READS; i++) {
		memcpy(buf, values[i % KEYS], 101);
		sink += (size_t)buf[i % 100];
	}
	return (bench_now_s() - t0) / READS * 1e9;
}

static double sqlite_ns(sqlite3_stmt *st, long reads)
{
	double t0 = bench_now_s();

	for (long i = 0; i < reads; i++) {
		sqlite3_bind_text(st, 1, keys[i % KEYS], -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_ROW)
			bench_die("sqlite", "no row");
		sink += (size_t)sqlite3_column_bytes(st, 0);
		sqlite3_reset(st);
	}
	return (bench_now_s() - t0) / reads * 1e9;
}

int main(void)
{
	char *dir = bench_make_dir(), *state, *path, err[256];
	char (*values)[101] = calloc(KEYS, sizeof(*values));
	struct wal *w = bench_open_store(dir, 0);
	struct shm_writer *sw;
	struct shm_reader *r;
	sqlite3 *db;
	sqlite3_stmt *st;
	double best_shm = 1e9, best_mem = 1e9, best_sql = 1e9, t;

	if (!values || asprintf(&state, "%s/.smithers", dir) < 0 ||
	    asprintf(&path, "%s/smithers.db", state) < 0)
		bench_die("bench-shm", "out of memory");
	sw = shm_writer_create(state, NULL, err, sizeof(err));
	if (!sw)
		bench_die("shm_writer_create", err);
	wal_batch_begin(w);
	for (int i = 0; i < KEYS; i++) {
		snprintf(keys[i], sizeof(keys[i]), "agent%d.key-%d", i % 8, i);
		snprintf(values[i], sizeof(values[i]), "\"%098d\"", i);
		if (wal_state_set(w, keys[i], values[i], "bench", 0) < 0)
			bench_die("wal_state_set", wal_errmsg(w));
		shm_key_set(sw, keys[i], values[i], strlen(values[i]));
	}
	if (wal_batch_commit(w) < 0)
		bench_die("commit", wal_errmsg(w));
	r = shm_reader_open(dir, err, sizeof(err));
	if (!r)
		bench_die("shm_reader_open", err);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) !=
		    SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT value FROM state WHERE key = ?1",
			       -1, &st, NULL) != SQLITE_OK)
		bench_die("sqlite", sqlite3_errmsg(db));
	for (int round = 0; round < ROUNDS; round++) {
		t = memory_ns(values);
		best_mem = t < best_mem ? t : best_mem;
		t = shm_ns(r);
		best_shm = t < best_shm ? t : best_shm;
		t = sqlite_ns(st, READS / 10);
		best_sql = t < best_sql ? t : best_sql;
	}
	printf("read of a 100-byte value, %d keys, best of %d rounds\n", KEYS,
	       ROUNDS);
	printf("%-28s %10.1f ns\n", "private memory (memcpy)", best_mem);
	printf("%-28s %10.1f ns = %.1fx memory\n", "shm_read_key", best_shm,
	       best_shm / best_mem);
	printf("%-28s %10.1f ns = %.1fx shm\n", "SQLite point read", best_sql,
	       best_sql / best_shm);
	sqlite3_finalize(st);
	sqlite3_close(db);
	shm_reader_close(r);
	shm_writer_close(sw, 1);
	wal_close(w);
	bench_remove_dir(dir);
	free(dir);
	free(state);
	free(path);
	free(values);
	return 0;
}
