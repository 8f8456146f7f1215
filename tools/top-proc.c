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

#include "supervisor/proc.h"
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

/* The fields of /proc/PID/stat we need (supervisor/proc.c reads them);
 * -1 for a process that is gone or a zombie. */
static int read_stat(pid_t pid, long long *pgrp, unsigned long long *ticks,
		     unsigned long long *start, long long *rss)
{
	struct cm_proc_stat st;

	if (cm_proc_stat(pid, &st) < 0 || st.state == 'Z' || st.state == 'X')
		return -1;
	*pgrp = st.pgrp;
	*ticks = st.ticks;
	*start = (unsigned long long)st.start;
	*rss = st.rss_pages;
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
