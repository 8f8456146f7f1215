/*
 * checkpoint.c - moving the WAL's pages into the database off the writer's
 * path.
 *
 * SQLite checkpoints in the commit that takes the WAL past
 * wal_autocheckpoint pages, so one commit in a few pays for copying pages
 * and an fsync of the database: the acks of that turn wait for it. The
 * supervisor turns that off and runs this thread instead: its own
 * connection runs PRAGMA wal_checkpoint(PASSIVE) every interval while
 * commits come (each pokes it), and sleeps while none does. A passive
 * checkpoint copies what no reader still needs and never blocks the writer,
 * and SQLite restarts the WAL from its start at the writer's next
 * transaction once a checkpoint was complete (journal_size_limit truncates
 * it back).
 *
 * Under a continuous load that never happens by itself: while the thread
 * copies, the writer appends, so no checkpoint of the thread's is ever
 * complete and the WAL grows without end (hundreds of MB a minute here).
 * wal_trim is the writer's half: between two transactions, once the WAL is
 * big, the writer runs one passive checkpoint itself, which has only the
 * frames the thread has not copied yet to copy, and is complete.
 *
 * The thread shares nothing with the writer but the files; its stop flag
 * and counters are guarded by its mutex.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wal/wal-int.h"

struct wal_checkpointer {
	struct wal *w;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	int stop;
	int pending; /* a commit since the last checkpoint */
	int interval_ms;
	int64_t runs, full;
};

static void checkpoint_once(struct wal_checkpointer *c)
{
	sqlite3_stmt *st = wal_prepare(c->w, "PRAGMA wal_checkpoint(PASSIVE)");
	int full = 0;

	if (!st)
		return;
	/* One row: busy, WAL frames, frames checkpointed. */
	if (sqlite3_step(st) == SQLITE_ROW)
		full = sqlite3_column_int(st, 0) == 0 &&
		       sqlite3_column_int(st, 1) == sqlite3_column_int(st, 2);
	sqlite3_finalize(st);
	pthread_mutex_lock(&c->lock);
	c->runs++;
	c->full += full;
	pthread_mutex_unlock(&c->lock);
}

/* Idle until a commit pokes it (an idle store is never touched), then a
 * checkpoint every interval while commits go on. */
static void *run(void *arg)
{
	struct wal_checkpointer *c = arg;
	struct timespec until;
	int stop;

	pthread_mutex_lock(&c->lock);
	for (;;) {
		while (!c->stop && !c->pending)
			pthread_cond_wait(&c->wake, &c->lock);
		/* The commits of the next interval go in the same one. */
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += c->interval_ms / 1000;
		until.tv_nsec += (long)(c->interval_ms % 1000) * 1000000;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		while (!c->stop &&
		       pthread_cond_timedwait(&c->wake, &c->lock, &until) == 0)
			;
		stop = c->stop;
		c->pending = 0;
		pthread_mutex_unlock(&c->lock);
		checkpoint_once(c);
		pthread_mutex_lock(&c->lock);
		if (stop)
			break;
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

void wal_checkpointer_poke(struct wal_checkpointer *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	if (!c->pending) {
		c->pending = 1;
		pthread_cond_signal(&c->wake);
	}
	pthread_mutex_unlock(&c->lock);
}

struct wal_checkpointer *wal_checkpointer_start(const char *dir,
						int interval_ms, char *err,
						size_t errlen)
{
	struct wal_checkpointer *c = calloc(1, sizeof(*c));
	struct wal_options opt = {0};
	int rc;

	if (!c) {
		if (err)
			snprintf(err, errlen, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	c->interval_ms = interval_ms > 0 ? interval_ms : 1000;
	if (wal_open(dir, &opt, &c->w) < 0) {
		if (err)
			snprintf(err, errlen, "%s", wal_errmsg(c->w));
		rc = errno;
		wal_close(c->w);
		free(c);
		errno = rc;
		return NULL;
	}
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->wake, NULL);
	rc = pthread_create(&c->thread, NULL, run, c);
	if (rc) {
		if (err)
			snprintf(err, errlen, "cannot start a thread: %s",
				 strerror(rc));
		pthread_mutex_destroy(&c->lock);
		pthread_cond_destroy(&c->wake);
		wal_close(c->w);
		free(c);
		errno = rc;
		return NULL;
	}
	return c;
}

void wal_checkpointer_stop(struct wal_checkpointer *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	c->stop = 1;
	pthread_cond_signal(&c->wake);
	pthread_mutex_unlock(&c->lock);
	pthread_join(c->thread, NULL);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->wake);
	wal_close(c->w);
	free(c);
}

void wal_checkpointer_counts(struct wal_checkpointer *c, int64_t *runs,
			     int64_t *full)
{
	pthread_mutex_lock(&c->lock);
	*runs = c->runs;
	*full = c->full;
	pthread_mutex_unlock(&c->lock);
}

int wal_autocheckpoint(struct wal *w, int pages)
{
	char sql[64];

	snprintf(sql, sizeof(sql), "PRAGMA wal_autocheckpoint = %d",
		 pages < 0 ? 0 : pages);
	return wal_exec(w, sql, "cannot set wal_autocheckpoint");
}

/* After each commit of the writer: how many frames the WAL holds. */
static int count_frames(void *arg, sqlite3 *db, const char *name, int frames)
{
	(void)db;
	(void)name;
	((struct wal *)arg)->wal_frames = frames;
	return SQLITE_OK;
}

int wal_trim(struct wal *w, int pages)
{
	int frames = 0, copied = 0, rc;

	if (!w->counting_frames) {
		/* Replaces SQLite's own hook: automatic checkpoints stop. */
		sqlite3_wal_hook(w->db, count_frames, w);
		w->counting_frames = 1;
		return 0;
	}
	if (w->in_batch || w->wal_frames <= pages)
		return 0;
	rc = sqlite3_wal_checkpoint_v2(w->db, NULL, SQLITE_CHECKPOINT_PASSIVE,
				       &frames, &copied);
	if (rc == SQLITE_BUSY)
		return 0; /* the thread is at it; next time */
	if (rc != SQLITE_OK)
		return wal_sqlfail(w, rc, "cannot checkpoint");
	w->wal_frames = 0;
	return frames == copied ? 1 : 0;
}
