/*
 * procstat.c - cm_proc_stat (procstat.h): /proc/PID/stat parsed.
 *
 * The line is "PID (COMM) STATE PPID PGRP ...", fields counted from 1.
 * COMM may hold anything, spaces and ')' included, so the fields after it
 * start after the last ')'. Only fields 3 to 24 are read: later ones
 * (rsslim, 25) are often 2^64 - 1, past a signed read, and some earlier
 * ones (pgrp, tty) may be negative, so they are read signed.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/procstat.h"

/* Fields 4 to 24 are read into v[1..21]; v[0] stands for the state. */
#define LAST_FIELD 24
#define NVALUES	   (LAST_FIELD - 2)

/* The text of /proc/PID/stat into BUF (SIZE bytes, NUL-terminated). */
static int read_stat(pid_t pid, char *buf, size_t size)
{
	char path[64];
	ssize_t n;
	int fd, saved;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			errno = ESRCH;
		return -1;
	}
	do
		n = read(fd, buf, size - 1);
	while (n < 0 && errno == EINTR);
	saved = errno;
	close(fd);
	if (n < 0) {
		errno = saved;
		return -1;
	}
	if (n == 0) {
		errno = ESRCH; /* it ended between the open and the read */
		return -1;
	}
	buf[n] = '\0';
	return 0;
}

int cm_proc_stat(pid_t pid, struct cm_proc_stat *out)
{
	char buf[2048], *p, *end;
	long long v[NVALUES];
	char state;
	int i;

	if (pid <= 0) {
		errno = ESRCH;
		return -1;
	}
	if (read_stat(pid, buf, sizeof(buf)) < 0)
		return -1;
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ' || !p[2] || p[3] != ' ')
		goto bad;
	state = p[2];
	p += 3;
	for (i = 1; i < NVALUES; i++) {
		errno = 0;
		v[i] = strtoll(p, &end, 10);
		if (end == p || errno || (*end != ' ' && *end != '\n'))
			goto bad;
		p = end;
	}
	out->state = state;
	out->ppid = (pid_t)v[1];			/* field 4 */
	out->pgrp = (pid_t)v[2];			/* field 5 */
	out->ticks = (uint64_t)v[11] + (uint64_t)v[12]; /* 14, 15 */
	out->start = v[19];				/* field 22 */
	out->rss_pages = v[21];				/* field 24 */
	return 0;
bad:
	errno = EPROTO;
	return -1;
}
