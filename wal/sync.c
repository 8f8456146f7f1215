/*
 * sync.c - making the writer's commits durable off its thread.
 *
 * With synchronous = FULL a WAL commit returns after fdatasync() of the
 * WAL: the writer's thread waits out the disk on every commit, although
 * nothing in the next transaction depends on it. The syncer lets the writer
 * commit with synchronous = NORMAL (the frames are written, not yet synced)
 * and go on, while this thread fdatasync()s the WAL file when asked. A
 * commit is durable, exactly as under FULL, once a sync asked for after it
 * has completed: fdatasync covers every frame written to the file before
 * the call, commit frames included. The caller holds back what it promised
 * (the supervisor's acks) until then.
 *
 * Why this is as safe as FULL: SQLite in WAL mode with NORMAL keeps the
 * database consistent across power loss and may only lose the newest
 * commits, those not synced yet, which nobody was told of. A checkpoint
 * still syncs the WAL before copying it. The WAL file is the same inode for
 * as long as the writer's connection is open (SQLite deletes it only when
 * the last connection closes), so one descriptor of our own serves, and the
 * directory is synced once, for the WAL file's own entry.
 *
 * Requests and completions are counted ("tickets"); the writer's thread
 * asks, the sync thread completes and signals an eventfd the writer's loop
 * polls. Shared fields are guarded by the mutex.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "wal/wal-int.h"

struct wal_syncer {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	char *wal_path;
	const char *dir_path; /* the writer's, not ours */
	int wal_fd;  /* opened at the start, or at the first sync */
	int done_fd; /* eventfd: written at each completed sync */
	uint64_t requested, done;
	int stop, failed;
	char errmsg[256];
};

/* fsync the directory holding the WAL, for the file's own entry. */
static int sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* Open the WAL, with its directory synced for the file's entry; the
 * descriptor stays -1 on failure, with errno set. */
static void open_wal(struct wal_syncer *s)
{
	int err;

	s->wal_fd = open(s->wal_path, O_RDONLY | O_CLOEXEC);
	if (s->wal_fd >= 0 && sync_dir(s->dir_path) < 0) {
		err = errno;
		close(s->wal_fd);
		s->wal_fd = -1;
		errno = err;
	}
}

/* One sync of the WAL (opened first if it is not yet); 0, or -1 with the
 * reason in ERR. */
static int sync_wal(struct wal_syncer *s, char *err, size_t errlen)
{
	if (s->wal_fd < 0)
		open_wal(s);
	if (s->wal_fd < 0 || fdatasync(s->wal_fd) < 0) {
		snprintf(err, errlen, "cannot sync '%s': %s", s->wal_path,
			 strerror(errno));
		return -1;
	}
	return 0;
}

static void *run(void *arg)
{
	struct wal_syncer *s = arg;
	uint64_t one = 1, target;
	char err[sizeof(s->errmsg)];
	int rc;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		while (!s->stop && !s->failed && s->requested == s->done)
			pthread_cond_wait(&s->wake, &s->lock);
		if (s->failed || (s->stop && s->requested == s->done))
			break;
		/* One sync covers every commit asked for so far. */
		target = s->requested;
		pthread_mutex_unlock(&s->lock);
		rc = sync_wal(s, err, sizeof(err));
		pthread_mutex_lock(&s->lock);
		if (rc < 0) {
			s->failed = 1;
			memcpy(s->errmsg, err, sizeof(err));
		} else {
			s->done = target;
		}
		/* Fails only when the counter is full: woken anyway. */
		(void)!write(s->done_fd, &one, sizeof(one));
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

struct wal_syncer *wal_syncer_start(struct wal *w)
{
	struct wal_syncer *s = calloc(1, sizeof(*s));
	int rc;

	if (!s) {
		wal_fail(w, ENOMEM, "out of memory");
		return NULL;
	}
	s->wal_fd = -1;
	s->done_fd = -1;
	s->dir_path = w->dir; /* the database's directory; W outlives S */
	if (asprintf(&s->wal_path, "%s-wal", w->path) < 0) {
		s->wal_path = NULL;
		wal_fail(w, ENOMEM, "out of memory");
		goto fail;
	}
	s->done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->done_fd < 0) {
		wal_fail(w, errno, "cannot make an eventfd: %s",
			 strerror(errno));
		goto fail;
	}
	/* The WAL's descriptor now, while there are descriptors to be had: a
	 * run that uses them all before its first sync still syncs. (The WAL
	 * is there once the writer has read the database; if it is not, the
	 * first sync opens it.) */
	open_wal(s);
	if (wal_exec(w, "PRAGMA synchronous = NORMAL",
		     "cannot defer syncs") < 0)
		goto fail;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->wake, NULL);
	rc = pthread_create(&s->thread, NULL, run, s);
	if (rc) {
		pthread_mutex_destroy(&s->lock);
		pthread_cond_destroy(&s->wake);
		wal_exec(w, "PRAGMA synchronous = FULL", "cannot sync");
		wal_fail(w, rc, "cannot start a thread: %s", strerror(rc));
		goto fail;
	}
	return s;
fail:
	rc = errno;
	if (s->wal_fd >= 0)
		close(s->wal_fd);
	if (s->done_fd >= 0)
		close(s->done_fd);
	free(s->wal_path);
	free(s);
	errno = rc;
	return NULL;
}

uint64_t wal_syncer_request(struct wal_syncer *s)
{
	uint64_t ticket;

	pthread_mutex_lock(&s->lock);
	ticket = ++s->requested;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
	return ticket;
}

int wal_syncer_fd(const struct wal_syncer *s)
{
	return s->done_fd;
}

int wal_syncer_done(struct wal_syncer *s, uint64_t *done, char *err,
		    size_t errlen)
{
	uint64_t count;
	int failed;

	while (read(s->done_fd, &count, sizeof(count)) > 0)
		;
	pthread_mutex_lock(&s->lock);
	*done = s->done;
	failed = s->failed;
	if (failed && err)
		snprintf(err, errlen, "%s", s->errmsg);
	pthread_mutex_unlock(&s->lock);
	return failed ? -1 : 0;
}

int wal_syncer_stop(struct wal_syncer *s, char *err, size_t errlen)
{
	uint64_t done;
	int rc;

	if (!s)
		return 0;
	/* Whatever was committed is synced before the thread ends. */
	wal_syncer_request(s);
	pthread_mutex_lock(&s->lock);
	s->stop = 1;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thread, NULL);
	rc = wal_syncer_done(s, &done, err, errlen);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->wake);
	if (s->wal_fd >= 0)
		close(s->wal_fd);
	close(s->done_fd);
	free(s->wal_path);
	free(s);
	return rc;
}
