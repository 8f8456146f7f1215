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

#include <sqlite3.h>

#include "wal/wal.h"

#define KEYS 1000 /* distinct keys: most sets update an existing row */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *msg)
{
	fprintf(stderr, "bench-store: %s: %s\n", what, msg);
	exit(1);
}

static char *make_dir(void)
{
	char tmpl[] = "/tmp/smithers-bench-XXXXXX";
	char *d = mkdtemp(tmpl);

	if (!d)
		die("mkdtemp", "failed");
	return strdup(d);
}

static void remove_dir(const char *dir)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "bench-store: cannot remove %s\n", dir);
}

static struct wal *open_store(const char *dir, int normal)
{
	struct wal_options opt = {.create = 1};
	struct wal *w;

	opt.synchronous = normal ? WAL_SYNC_NORMAL : WAL_SYNC_FULL;
	if (wal_open(dir, &opt, &w) < 0)
		die("wal_open", wal_errmsg(w));
	return w;
}

static double run_store(int batch, int ops, int normal)
{
	char *dir = make_dir(), key[32], value[64];
	struct wal *w = open_store(dir, normal);
	double t0 = now_s(), dt;

	for (int done = 0; done < ops;) {
		if (wal_batch_begin(w) < 0)
			die("begin", wal_errmsg(w));
		for (int i = 0; i < batch && done < ops; i++, done++) {
			snprintf(key, sizeof(key), "key-%d", done % KEYS);
			snprintf(value, sizeof(value), "{\"n\": %d}", done);
			if (wal_state_set(w, key, value, "bench", 0) < 0)
				die("set", wal_errmsg(w));
		}
		if (wal_batch_commit(w) < 0)
			die("commit", wal_errmsg(w));
	}
	dt = now_s() - t0;
	wal_close(w);
	remove_dir(dir);
	free(dir);
	return ops / dt;
}

static sqlite3_stmt *prep(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st,
			       NULL) != SQLITE_OK)
		die("prepare", sqlite3_errmsg(db));
	return st;
}

static void step(sqlite3 *db, sqlite3_stmt *st)
{
	if (sqlite3_step(st) != SQLITE_DONE)
		die("step", sqlite3_errmsg(db));
	sqlite3_reset(st);
}

static double run_raw(int batch, int ops, int normal)
{
	char *dir = make_dir(), key[32], value[64], now[32], path[512];
	struct wal *w = open_store(dir, normal); /* the schema */
	sqlite3 *db;
	sqlite3_stmt *begin, *commit, *trans, *upsert;
	double t0, dt;

	wal_close(w);
	snprintf(path, sizeof(path), "%s/.smithers/smithers.db", dir);
	if (sqlite3_open(path, &db) != SQLITE_OK)
		die("open", sqlite3_errmsg(db));
	sqlite3_exec(db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL);
	sqlite3_exec(db,
		     normal ? "PRAGMA synchronous = NORMAL"
			    : "PRAGMA synchronous = FULL",
		     NULL, NULL, NULL);
	begin = prep(db, "BEGIN IMMEDIATE");
	commit = prep(db, "COMMIT");
	trans = prep(
		db,
		"INSERT INTO transitions(execution_id, key, old_value,"
		" new_value, trigger, agent_id, created_at) VALUES (?5, ?1,"
		" (SELECT value FROM state WHERE key = ?1), ?2, ?3, ?6, ?4)");
	upsert = prep(db, "INSERT INTO state(key, value, updated_at,"
			  " updated_by) VALUES (?1, ?2, ?3, ?4)"
			  " ON CONFLICT(key) DO UPDATE SET"
			  " value = excluded.value,"
			  " updated_at = excluded.updated_at,"
			  " updated_by = excluded.updated_by");
	t0 = now_s();
	for (int done = 0; done < ops;) {
		step(db, begin);
		for (int i = 0; i < batch && done < ops; i++, done++) {
			struct timespec ts;
			struct tm tm;

			/* The store formats a timestamp per change too. */
			clock_gettime(CLOCK_REALTIME, &ts);
			gmtime_r(&ts.tv_sec, &tm);
			strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%S", &tm);
			snprintf(now + 19, sizeof(now) - 19, ".%03dZ",
				 (int)(ts.tv_nsec / 1000000));
			snprintf(key, sizeof(key), "key-%d", done % KEYS);
			snprintf(value, sizeof(value), "{\"n\": %d}", done);
			sqlite3_bind_text(trans, 1, key, -1, SQLITE_STATIC);
			sqlite3_bind_text(trans, 2, value, -1, SQLITE_STATIC);
			sqlite3_bind_text(trans, 3, "bench", -1, SQLITE_STATIC);
			sqlite3_bind_text(trans, 4, now, -1, SQLITE_STATIC);
			sqlite3_bind_null(trans,
					  5); /* no execution, no agent */
			sqlite3_bind_null(trans, 6);
			step(db, trans);
			sqlite3_bind_text(upsert, 1, key, -1, SQLITE_STATIC);
			sqlite3_bind_text(upsert, 2, value, -1, SQLITE_STATIC);
			sqlite3_bind_text(upsert, 3, now, -1, SQLITE_STATIC);
			sqlite3_bind_null(upsert, 4);
			step(db, upsert);
		}
		step(db, commit);
	}
	dt = now_s() - t0;
	sqlite3_finalize(begin);
	sqlite3_finalize(commit);
	sqlite3_finalize(trans);
	sqlite3_finalize(upsert);
	sqlite3_close(db);
	remove_dir(dir);
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
		else if (!strcmp(argv[i], "--only") && i + 1 < argc) {
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
			r = do_raw ? run_raw(batch, ops, normal) : 0;
			raw = r > raw ? r : raw;
			r = do_store ? run_store(batch, ops, normal) : 0;
			store = r > store ? r : store;
		}
		printf("%-6d %14.0f %14.0f %8.2f\n", batch, raw, store,
		       raw > 0 ? store / raw : 0);
	}
	return 0;
}
