/*
 * test_wal_concurrency.c - a writer process and a reader process on one
 * store. The writer commits state changes (single ones and batches, with
 * failing operations inside them) for a bounded time; the reader, on its own
 * read-only handle, reads state and transitions in one statement (one read
 * transaction) over and over, and must never see a state row without the
 * transition that made it, or the reverse.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/unit/testutil.h"

#define NKEYS	      16
#define WRITE_SECONDS 2.0

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One random change: a set most of the time, else a delete. 0 or -1. */
static int change(struct wal *w, unsigned *seed, long n)
{
	char key[16], val[64];

	snprintf(key, sizeof(key), "k%d", (int)(rand_r(seed) % NKEYS));
	if (rand_r(seed) % 5 == 0)
		return wal_state_delete(w, key, "test", 0) < 0 ? -1 : 0;
	snprintf(val, sizeof(val), "{\"n\":%ld,\"s\":\"v%ld\"}", n, n);
	return wal_state_set(w, key, val, "test", 0);
}

/* The writer process: returns its exit status (no cmocka here). */
static int writer(const char *dir, int fd)
{
	struct wal_options o = {.synchronous = WAL_SYNC_NORMAL};
	struct wal *w = NULL;
	unsigned seed = 12345;
	double end = now_s() + WRITE_SECONDS;
	long n = 0, commits = 0;
	int i;

	if (wal_open(dir, &o, &w) < 0) {
		fprintf(stderr, "# writer: %s\n", wal_errmsg(w));
		wal_close(w);
		return 10;
	}
	while (now_s() < end) {
		if (n % 3 == 0) {
			if (wal_batch_begin(w) < 0)
				return 11;
			for (i = 0; i < 8; i++)
				if (change(w, &seed, n++) < 0)
					return 12;
			/* A failing op undoes itself only. */
			if (wal_state_set(w, "k0", "{broken", "test", 0) != -1)
				return 13;
			if (wal_batch_commit(w) < 0)
				return 14;
		} else if (change(w, &seed, n++) < 0) {
			return 15;
		}
		commits++;
	}
	wal_close(w);
	if (write(fd, &commits, sizeof(commits)) != sizeof(commits))
		return 16;
	return 0;
}

struct check {
	int64_t bad_state, missing_state, nstate, ntrans;
	int rows;
};

static int check_fn(const struct wal_row *row, void *arg)
{
	struct check *c = arg;
	int i;

	c->rows++;
	for (i = 0; i < row->ncols; i++) {
		int64_t v =
			row->values[i] ? strtoll(row->values[i], NULL, 10) : -1;

		if (!strcmp(row->names[i], "bad_state"))
			c->bad_state = v;
		else if (!strcmp(row->names[i], "missing_state"))
			c->missing_state = v;
		else if (!strcmp(row->names[i], "nstate"))
			c->nstate = v;
		else if (!strcmp(row->names[i], "ntrans"))
			c->ntrans = v;
	}
	return 0;
}

/* One statement, so one snapshot: every state row's value is the new value
 * of its key's latest transition, which is the row's head; and every key
 * whose latest transition set it has a state row. One grouped scan of the
 * transitions, so a read costs what the history holds, no more. */
static const char check_sql[] =
	"WITH latest(key, id) AS (SELECT key, max(id) FROM transitions"
	"  GROUP BY key)"
	"SELECT"
	" (SELECT count(*) FROM state AS s"
	"  LEFT JOIN latest AS l ON l.key = s.key"
	"  LEFT JOIN transitions AS t ON t.id = l.id"
	"  WHERE s.value IS NOT t.new_value OR s.head IS NOT l.id)"
	"  AS bad_state,"
	" (SELECT count(*) FROM latest AS l"
	"  JOIN transitions AS t ON t.id = l.id"
	"  WHERE t.new_value IS NOT NULL"
	"  AND NOT EXISTS (SELECT 1 FROM state AS s WHERE s.key = l.key))"
	"  AS missing_state,"
	" (SELECT count(*) FROM state) AS nstate,"
	" (SELECT count(*) FROM transitions) AS ntrans";

static void test_reader_sees_consistent_state(void **state)
{
	struct tu_fx *fx = *state;
	struct wal_options ro = {.readonly = 1};
	struct wal *r;
	int64_t last = -1, commits = 0;
	long reads = 0, progress = 0;
	double deadline;
	int fds[2], st = 0, done = 0;
	pid_t pid;

	/* No SQLite connection may cross the fork. */
	wal_close(fx->w);
	fx->w = NULL;
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		_exit(writer(fx->dir, fds[1]));
	}
	close(fds[1]);

	r = tu_open(fx->dir, &ro);
	deadline = now_s() + WRITE_SECONDS + 30;
	while (!done) {
		struct check c = {-1, -1, -1, -1, 0};
		int rc = wal_query(r, check_sql, check_fn, &c);

		if (rc != 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			fail_msg("read %ld failed: %s", reads, wal_errmsg(r));
		}
		assert_int_equal(c.rows, 1);
		if (c.bad_state != 0 || c.missing_state != 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			fail_msg("read %ld: %lld state rows without their "
				 "transition, %lld keys missing",
				 reads, (long long)c.bad_state,
				 (long long)c.missing_state);
		}
		/* History only grows. */
		assert_true(c.ntrans >= last);
		if (c.ntrans > last)
			progress++;
		last = c.ntrans;
		reads++;
		if (waitpid(pid, &st, WNOHANG) == pid)
			done = 1;
		else if (now_s() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			fail_msg("the writer did not finish");
		}
	}
	assert_true(WIFEXITED(st));
	if (WEXITSTATUS(st) != 0)
		fail_msg("writer failed with status %d", WEXITSTATUS(st));
	assert_int_equal(read(fds[0], &commits, sizeof(commits)),
			 sizeof(commits));
	close(fds[0]);
	print_message("# %ld reads, %ld saw progress, %lld commits\n", reads,
		      progress, (long long)commits);
	assert_true(commits > 100);
	assert_true(reads > 100);
	/* The reader ran while the writer wrote, not just after it. */
	assert_true(progress > 10);
	wal_close(r);

	/* Final state, read by a fresh writable handle. */
	fx->w = tu_open(fx->dir, NULL);
	assert_int_equal(
		tu_query_int(fx->w, "SELECT bad_state FROM (%s)", check_sql),
		0);
	assert_int_equal(tu_query_int(fx->w, "SELECT missing_state FROM (%s)",
				      check_sql),
			 0);
	assert_true(tu_query_int(fx->w, "SELECT count(*) FROM transitions") >=
		    commits);
}

/* A batch held open by one handle neither blocks a reader nor shows it
 * anything, until it commits. */
static void test_open_batch_is_invisible(void **state)
{
	struct tu_fx *fx = *state;
	struct wal_options ro = {.readonly = 1};
	struct wal *r = tu_open(fx->dir, &ro);
	char *v;

	assert_int_equal(wal_state_set(fx->w, "k", "1", NULL, 0), 0);
	assert_int_equal(wal_batch_begin(fx->w), 0);
	assert_int_equal(wal_state_set(fx->w, "k", "2", NULL, 0), 0);
	assert_int_equal(wal_state_set(fx->w, "new", "3", NULL, 0), 0);
	v = wal_state_get(r, "k");
	assert_string_equal(v, "1");
	free(v);
	assert_int_equal(tu_query_int(r, "SELECT count(*) FROM transitions"),
			 1);
	assert_int_equal(wal_batch_commit(fx->w), 0);
	v = wal_state_get(r, "k");
	assert_string_equal(v, "2");
	free(v);
	v = wal_state_get(r, "new");
	assert_string_equal(v, "3");
	free(v);
	assert_int_equal(tu_query_int(r, "SELECT count(*) FROM transitions"),
			 3);
	wal_close(r);
}

#define T(f) cmocka_unit_test_setup_teardown(f, tu_setup, tu_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_reader_sees_consistent_state),
		T(test_open_batch_is_invisible),
	};

	return cmocka_run_group_tests_name("wal_concurrency", tests, NULL,
					   NULL);
}
