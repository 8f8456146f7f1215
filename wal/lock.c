/*
 * lock.c - the state dir's supervisor lock, DIR/.smithers/supervisor.lock.
 *
 * Whoever writes the database while others may run - the supervisor, or a
 * command such as `smithers db replay` - holds an exclusive flock(2) on this
 * file for as long as it writes, and keeps its pid in it ("PID\n") so that a
 * refused caller can be told who holds it. The kernel drops the lock when the
 * holder dies, so a stale file never blocks anyone.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "wal/wal.h"

static int lock_path(const char *dir, char *buf, size_t len)
{
	struct stat sb;

	snprintf(buf, len, "%s/.smithers", dir);
	if (stat(buf, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
		errno = ENOENT;
		return -1;
	}
	snprintf(buf, len, "%s/.smithers/supervisor.lock", dir);
	return 0;
}

/* The pid written in the lock file; the holder writes it right after
 * locking, so wait a moment for it when the file is still empty. */
static pid_t read_pid(int fd)
{
	struct timespec pause = {0, 5 * 1000 * 1000};
	char buf[32];

	for (int tries = 0; tries < 40; tries++) {
		ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

		if (n > 0) {
			buf[n] = '\0';
			long pid = strtol(buf, NULL, 10);

			if (pid > 0)
				return (pid_t)pid;
		}
		nanosleep(&pause, NULL);
	}
	return 0;
}

int wal_lock_acquire(const char *dir, pid_t *holder)
{
	char path[4096], buf[32];
	int fd, n, err;

	if (holder)
		*holder = 0;
	if (lock_path(dir, path, sizeof(path)) < 0)
		return -1;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	/* wal_lock_holder() probes with a shared lock held for a moment:
	 * do not mistake a prober for a holder. */
	for (int tries = 0; flock(fd, LOCK_EX | LOCK_NB) < 0; tries++) {
		struct timespec pause = {0, 2 * 1000 * 1000};

		err = errno;
		if (err == EWOULDBLOCK && tries < 25) {
			nanosleep(&pause, NULL);
			continue;
		}
		if (err == EWOULDBLOCK && holder)
			*holder = read_pid(fd);
		close(fd);
		errno = err;
		return -1;
	}
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)n, 0) != n) {
		err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

pid_t wal_lock_holder(const char *dir)
{
	char path[4096];
	pid_t pid;
	int fd;

	if (lock_path(dir, path, sizeof(path)) < 0)
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
		close(fd);
		return 0;
	}
	if (errno != EWOULDBLOCK) {
		close(fd);
		return -1;
	}
	pid = read_pid(fd);
	close(fd);
	if (pid == 0) {
		errno = EAGAIN;
		return -1;
	}
	return pid;
}
