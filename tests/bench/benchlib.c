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

#include <sys/prctl.h>

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
	const char *tmp = getenv("TMPDIR");
	char tmpl[512];
	char *d;

	/* $TMPDIR, as mkdtemp(1) does: a tmpfs there takes the disk out. */
	snprintf(tmpl, sizeof(tmpl), "%s/smithers-bench-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	d = mkdtemp(tmpl);
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

/* The raw loop: its connection and statements in a store of its own. */
struct raw {
	char *dir;
	sqlite3 *db;
	sqlite3_stmt *begin, *commit, *trans, *upsert;
};

static void raw_open(struct raw *r, int normal)
{
	struct wal *w;
	char path[512];

	r->dir = bench_make_dir();
	w = bench_open_store(r->dir, normal); /* the schema */
	wal_close(w);
	snprintf(path, sizeof(path), "%s/.smithers/smithers.db", r->dir);
	if (sqlite3_open(path, &r->db) != SQLITE_OK)
		bench_die("open", sqlite3_errmsg(r->db));
	sqlite3_exec(r->db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL);
	sqlite3_exec(r->db,
		     normal ? "PRAGMA synchronous = NORMAL"
			    : "PRAGMA synchronous = FULL",
		     NULL, NULL, NULL);
	r->begin = prep(r->db, "BEGIN IMMEDIATE");
	r->commit = prep(r->db, "COMMIT");
	/* The old value and the key's previous transition (its history
	 * chain) come from the state row; no key is ever deleted here. */
	r->trans = prep(r->db, "INSERT INTO transitions(execution_id, key,"
			       " old_value, new_value, trigger, agent_id,"
			       " created_at, prev_id) SELECT ?5, ?1, s.value,"
			       " ?2, ?3, ?6, ?4, s.head FROM (SELECT 1)"
			       " LEFT JOIN state AS s ON s.key = ?1");
	r->upsert = prep(r->db, "INSERT INTO state(key, value, updated_at,"
				" updated_by, head) VALUES (?1, ?2, ?3, ?4, ?5)"
				" ON CONFLICT(key) DO UPDATE SET"
				" value = excluded.value,"
				" updated_at = excluded.updated_at,"
				" updated_by = excluded.updated_by,"
				" head = excluded.head");
}

/* Change number N, inside a transaction. */
static void raw_change(struct raw *r, int n)
{
	char key[32], value[64], now[32];
	struct timespec ts;
	struct tm tm;

	/* The store formats a timestamp per change too. */
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(now + 19, sizeof(now) - 19, ".%03dZ",
		 (int)(ts.tv_nsec / 1000000));
	snprintf(key, sizeof(key), "key-%d", n % KEYS);
	snprintf(value, sizeof(value), "{\"n\": %d}", n);
	sqlite3_bind_text(r->trans, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(r->trans, 2, value, -1, SQLITE_STATIC);
	sqlite3_bind_text(r->trans, 3, "bench", -1, SQLITE_STATIC);
	sqlite3_bind_text(r->trans, 4, now, -1, SQLITE_STATIC);
	sqlite3_bind_null(r->trans, 5); /* no execution, no agent */
	sqlite3_bind_null(r->trans, 6);
	step(r->db, r->trans);
	sqlite3_bind_text(r->upsert, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(r->upsert, 2, value, -1, SQLITE_STATIC);
	sqlite3_bind_text(r->upsert, 3, now, -1, SQLITE_STATIC);
	sqlite3_bind_null(r->upsert, 4);
	sqlite3_bind_int64(r->upsert, 5, sqlite3_last_insert_rowid(r->db));
	step(r->db, r->upsert);
}

static void raw_close(struct raw *r)
{
	sqlite3_finalize(r->begin);
	sqlite3_finalize(r->commit);
	sqlite3_finalize(r->trans);
	sqlite3_finalize(r->upsert);
	sqlite3_close(r->db);
	bench_remove_dir(r->dir);
	free(r->dir);
}

double bench_raw_rate(int batch, int ops, int normal)
{
	struct raw r;
	double t0, dt;

	raw_open(&r, normal);
	t0 = bench_now_s();
	for (int done = 0; done < ops;) {
		step(r.db, r.begin);
		for (int i = 0; i < batch && done < ops; i++, done++)
			raw_change(&r, done);
		step(r.db, r.commit);
	}
	dt = bench_now_s() - t0;
	raw_close(&r);
	return ops / dt;
}

int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The nearest-rank percentile P (0..1) of the N sorted values V. */
static double percentile(const double *v, int64_t n, double p)
{
	int64_t rank = (int64_t)(p * (double)n + 0.999999999);

	if (rank < 1)
		rank = 1;
	return v[rank > n ? n - 1 : rank - 1];
}

void bench_latency_of(double *v, int64_t n, struct bench_latency *out)
{
	qsort(v, (size_t)n, sizeof(*v), bench_cmp_double);
	out->count = n;
	out->p50 = percentile(v, n, 0.50);
	out->p99 = percentile(v, n, 0.99);
	out->max = v[n - 1];
}

void bench_raw_paced(double rate, int ms, int normal, double tick,
		     struct bench_latency *out, struct bench_latency *tick_out)
{
	int64_t count = (int64_t)(rate * ms / 1000.0), next = 0;
	double *lat = calloc((size_t)count, sizeof(*lat)), start, now;
	double *from_tick = calloc((size_t)count, sizeof(*from_tick));
	struct raw r;
	int slack = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);

	if (!lat || !from_tick || count < 1)
		bench_die("raw paced loop", "nothing to measure");
	/* Wake up when asked to, as the paced agents do; only here: what
	 * this process forks later (the next supervisor) inherits it. */
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	raw_open(&r, normal);
	start = bench_now_s();
	while (next < count) {
		int64_t first = next;
		double t;

		now = bench_now_s();
		if (now < start + next / rate) {
			double wait = start + next / rate - now;
			struct timespec ts = {(time_t)wait,
					      (long)((wait - (time_t)wait) *
						     1e9)};

			nanosleep(&ts, NULL);
			continue;
		}
		/* What is due goes in one transaction, as a tick of the
		 * paced agents goes in one write. */
		step(r.db, r.begin);
		while (next < count && now >= start + next / rate)
			raw_change(&r, (int)next++);
		step(r.db, r.commit);
		t = bench_now_s();
		/* From when it was due: a change that fell due while a commit
		 * stalled waited for it, as a paced agent's does. */
		for (int64_t i = first; i < next; i++) {
			lat[i] = t - (start + (double)i / rate);
			from_tick[i] = t - now;
		}
		/* At most one transaction a tick. */
		if (bench_now_s() < now + tick) {
			double wait = now + tick - bench_now_s();
			struct timespec ts = {0, (long)(wait * 1e9)};

			nanosleep(&ts, NULL);
		}
	}
	raw_close(&r);
	if (slack > 0)
		prctl(PR_SET_TIMERSLACK, (unsigned long)slack, 0, 0, 0);
	bench_latency_of(lat, count, out);
	bench_latency_of(from_tick, count, tick_out);
	free(lat);
	free(from_tick);
}
