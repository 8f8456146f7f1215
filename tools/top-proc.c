/*
 * top-proc.c - the CPU and memory of the agents, from /proc/PID/stat.
 *
 * CPU% is htop's: the process' utime + stime ticks gained since the last
 * round, over the seconds between the rounds, over the clock tick rate,
 * times 100 (100% is one core busy). A process seen for the first time has
 * no last round: it gets its average since it started (ps' %CPU), from
 * its start time (ticks since boot) and CLOCK_BOOTTIME, so that a single
 * snapshot (--json, -b -n 1) still has a figure.
 *
 * RSS is the resident pages times the page size. /proc/PID/stat carries
 * the same resident count as the first two fields of /proc/PID/statm (both
 * are the kernel's get_mm_rss()), so one file per process and round is
 * enough: that keeps 256 agents at a 1 s refresh far below 1% of a core.
 *
 * The samples of a round go into a new array sorted by pid; the last
 * round's is searched with bsearch, and dropped at the end of the round,
 * so processes that went away are forgotten without bookkeeping. A pid
 * whose start time changed is a new process (a reused pid); one that is
 * not its own process group leader is not an agent (every agent leads its
 * group), and is not reported.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tools/top.h"

struct proc_entry {
	pid_t pid;
	unsigned long long start; /* ticks since boot */
	unsigned long long ticks; /* utime + stime */
};

struct top_procs {
	struct proc_entry *last, *cur;
	size_t nlast, cap_last, ncur, cap_cur;
	double now;  /* monotonic seconds at the start of this round */
	double then; /* and of the last round; 0: none */
	double boot; /* CLOCK_BOOTTIME seconds at the start of this round */
	long hz, page;
};

static double clock_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct top_procs *top_procs_new(void)
{
	struct top_procs *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->hz = sysconf(_SC_CLK_TCK);
	p->page = sysconf(_SC_PAGESIZE);
	if (p->hz <= 0)
		p->hz = 100;
	if (p->page <= 0)
		p->page = 4096;
	return p;
}

void top_procs_free(struct top_procs *p)
{
	if (!p)
		return;
	free(p->last);
	free(p->cur);
	free(p);
}

void top_procs_begin(struct top_procs *p)
{
	p->ncur = 0;
	p->now = clock_s(CLOCK_MONOTONIC);
	p->boot = clock_s(CLOCK_BOOTTIME);
}

static int entry_cmp(const void *a, const void *b)
{
	pid_t x = ((const struct proc_entry *)a)->pid;
	pid_t y = ((const struct proc_entry *)b)->pid;

	return (x > y) - (x < y);
}

/*
 * Read the fields of /proc/PID/stat we need. The command name (field 2)
 * may hold spaces and parentheses: the fields that follow start after the
 * last ')'.
 */
static int read_stat(pid_t pid, long long *pgrp, unsigned long long *ticks,
		     unsigned long long *start, long long *rss)
{
	char path[32], buf[1024], *s, *end;
	unsigned long long v[22]; /* fields 3 to 24; v[0] is the state */
	ssize_t n;
	int fd, i;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	s = strrchr(buf, ')');
	if (!s || s[1] != ' ')
		return -1;
	s += 2;
	/* The state is a letter; every field after it is a number. */
	if (*s == 'Z' || *s == 'X')
		return -1;
	v[0] = 0;
	s = strchr(s, ' ');
	/* Not further: field 25 (rsslim) is often 2^64 - 1, past strtoll. */
	for (i = 1; i < 22 && s; i++) {
		errno = 0;
		/* pgrp and the like may be negative; read them signed. */
		v[i] = (unsigned long long)strtoll(s, &end, 10);
		if (end == s || errno)
			return -1;
		s = end;
	}
	if (i < 22)
		return -1;
	*pgrp = (long long)v[2];     /* field 5 */
	*ticks = v[11] + v[12];	     /* fields 14 and 15 */
	*start = v[19];		     /* field 22 */
	*rss = (long long)v[21];     /* field 24, in pages */
	return 0;
}

int top_procs_sample(struct top_procs *p, pid_t pid, double *cpu,
		     long long *rss)
{
	struct proc_entry key = {.pid = pid}, *old, *e;
	unsigned long long ticks, start;
	long long pgrp, pages;
	double secs;

	*cpu = -1;
	*rss = -1;
	if (pid <= 0 || read_stat(pid, &pgrp, &ticks, &start, &pages) < 0 ||
	    pgrp != pid)
		return -1;
	if (p->ncur == p->cap_cur) {
		size_t cap = p->cap_cur ? 2 * p->cap_cur : 64;
		e = realloc(p->cur, cap * sizeof(*e));
		if (!e)
			return -1;
		p->cur = e;
		p->cap_cur = cap;
	}
	e = &p->cur[p->ncur++];
	e->pid = pid;
	e->start = start;
	e->ticks = ticks;

	old = p->nlast ? bsearch(&key, p->last, p->nlast, sizeof(*old),
				 entry_cmp)
		       : NULL;
	if (old && old->start == start && p->then > 0 && ticks >= old->ticks) {
		secs = p->now - p->then;
		ticks -= old->ticks;
	} else {
		secs = p->boot - (double)start / (double)p->hz;
	}
	*cpu = secs > 0 ? (double)ticks / (double)p->hz / secs * 100.0 : 0.0;
	*rss = pages * p->page;
	return 0;
}

void top_procs_end(struct top_procs *p)
{
	struct proc_entry *t = p->last;
	size_t cap = p->cap_last;

	if (p->ncur > 1)
		qsort(p->cur, p->ncur, sizeof(*p->cur), entry_cmp);
	/* Swap the arrays: this round becomes the last one. */
	p->last = p->cur;
	p->nlast = p->ncur;
	p->cap_last = p->cap_cur;
	p->cur = t;
	p->cap_cur = cap;
	p->ncur = 0;
	p->then = p->now;
}
