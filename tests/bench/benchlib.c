/*
 * benchlib.c - what the benchmarks share: temporary state dirs, the clock,
 * and the raw SQLite baseline every ratio is measured against.
 *
 * The raw loop writes state changes to the store's own schema (made by
 * wal_open) in WAL mode with the given synchronous level, one transaction
 * per batch, with the least SQL that keeps the store's invariant - every
 * state write has its transition: one prepared transition insert reading
 * the old value and the key's previous transition, one prepared upsert,
 * the same columns as the store.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "tests/bench/benchlib.h"
#include "wal/wal.h"

#define KEYS 1000 /* distinct keys: most sets update an existing row */

double bench_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

void bench_die(const char *what, const char *msg)
{
	fprintf(stderr, "bench: %s: %s\n", what, msg);
	exit(1);
}

char *bench_make_dir(void)
{
	char tmpl[] = "/tmp/smithers-bench-XXXXXX";
	char *d = mkdtemp(tmpl);

	if (!d)
		bench_die("mkdtemp", "failed");
	return strdup(d);
}

void bench_remove_dir(const char *dir)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "bench: cannot remove %s\n", dir);
}

struct wal *bench_open_store(const char *dir, int normal)
{
	struct wal_options opt = {.create = 1};
	struct wal *w;

	opt.synchronous = normal ? WAL_SYNC_NORMAL : WAL_SYNC_FULL;
	if (wal_open(dir, &opt, &w) < 0)
		bench_die("wal_open", wal_errmsg(w));
	return w;
}

static sqlite3_stmt *prep(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st,
			       NULL) != SQLITE_OK)
		bench_die("prepare", sqlite3_errmsg(db));
	return st;
}

static void step(sqlite3 *db, sqlite3_stmt *st)
{
	if (sqlite3_step(st) != SQLITE_DONE)
		bench_die("step", sqlite3_errmsg(db));
	sqlite3_reset(st);
}

double bench_raw_rate(int batch, int ops, int normal)
{
	char *dir = bench_make_dir(), key[32], value[64], now[32], path[512];
	struct wal *w = bench_open_store(dir, normal); /* the schema */
	sqlite3 *db;
	sqlite3_stmt *begin, *commit, *trans, *upsert;
	double t0, dt;

	wal_close(w);
	snprintf(path, sizeof(path), "%s/.smithers/smithers.db", dir);
	if (sqlite3_open(path, &db) != SQLITE_OK)
		bench_die("open", sqlite3_errmsg(db));
	sqlite3_exec(db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL);
	sqlite3_exec(db,
		     normal ? "PRAGMA synchronous = NORMAL"
			    : "PRAGMA synchronous = FULL",
		     NULL, NULL, NULL);
	begin = prep(db, "BEGIN IMMEDIATE");
	commit = prep(db, "COMMIT");
	/* The old value and the key's previous transition (its history
	 * chain) come from the state row; no key is ever deleted here. */
	trans = prep(db, "INSERT INTO transitions(execution_id, key,"
			 " old_value, new_value, trigger, agent_id,"
			 " created_at, prev_id) SELECT ?5, ?1, s.value, ?2,"
			 " ?3, ?6, ?4, s.head FROM (SELECT 1)"
			 " LEFT JOIN state AS s ON s.key = ?1");
	upsert = prep(db, "INSERT INTO state(key, value, updated_at,"
			  " updated_by, head) VALUES (?1, ?2, ?3, ?4, ?5)"
			  " ON CONFLICT(key) DO UPDATE SET"
			  " value = excluded.value,"
			  " updated_at = excluded.updated_at,"
			  " updated_by = excluded.updated_by,"
			  " head = excluded.head");
	t0 = bench_now_s();
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
			sqlite3_bind_int64(upsert, 5,
					   sqlite3_last_insert_rowid(db));
			step(db, upsert);
		}
		step(db, commit);
	}
	dt = bench_now_s() - t0;
	sqlite3_finalize(begin);
	sqlite3_finalize(commit);
	sqlite3_finalize(trans);
	sqlite3_finalize(upsert);
	sqlite3_close(db);
	bench_remove_dir(dir);
	free(dir);
	return ops / dt;
}
