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
 * The samples of a round go into a new array sorted by key; the last
 * round's is searched with bsearch, and dropped at the end of the round,
 * so processes that went away are forgotten without bookkeeping. A pid
 * whose start time changed is a new process (a reused pid); one that is
 * not its own process group leader is not an agent (every agent leads its
 * group), and is not reported.
 *
 * An agent in a cgroup has its whole tree's CPU time in the segment: the
 * same rounds, keyed by its row id, give its CPU% (top_procs_tree).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "supervisor/proc.h"
#include "tools/top.h"

/* One sample: KEY (a pid, or an agent's row id), STAMP (what tells a
 * reused key from the same one: a start time), COUNT (a counter that only
 * grows: CPU ticks, microseconds). */
struct entry {
	int64_t key;
	unsigned long long stamp, count;
};

/* This round's samples, and the last round's sorted by key. */
struct round {
	struct entry *last, *cur;
	size_t nlast, cap_last, ncur, cap_cur;
};

struct top_procs {
	struct round procs; /* by pid: ticks */
	struct round trees; /* by agent id: the cgroup's CPU microseconds */
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
	free(p->procs.last);
	free(p->procs.cur);
	free(p->trees.last);
	free(p->trees.cur);
	free(p);
}

void top_procs_begin(struct top_procs *p)
{
	p->procs.ncur = p->trees.ncur = 0;
	p->now = clock_s(CLOCK_MONOTONIC);
	p->boot = clock_s(CLOCK_BOOTTIME);
}

static int entry_cmp(const void *a, const void *b)
{
	int64_t x = ((const struct entry *)a)->key;
	int64_t y = ((const struct entry *)b)->key;

	return (x > y) - (x < y);
}

/* Add KEY's sample to R's round; the last round's of the same KEY and
 * STAMP with a COUNT no greater, or NULL (none: first seen, reused, or a
 * counter that went back). -1 in *FULL when out of memory. */
static const struct entry *round_put(struct round *r, int64_t key,
				     unsigned long long stamp,
				     unsigned long long count, int *full)
{
	struct entry k = {.key = key}, *e;
	const struct entry *old;

	*full = 0;
	if (r->ncur == r->cap_cur) {
		size_t cap = r->cap_cur ? 2 * r->cap_cur : 64;

		e = realloc(r->cur, cap * sizeof(*e));
		if (!e) {
			*full = 1;
			return NULL;
		}
		r->cur = e;
		r->cap_cur = cap;
	}
	r->cur[r->ncur++] = (struct entry){key, stamp, count};
	old = r->nlast ? bsearch(&k, r->last, r->nlast, sizeof(*old),
				 entry_cmp)
		       : NULL;
	return old && old->stamp == stamp && count >= old->count ? old : NULL;
}

/* This round becomes the last one (the arrays swapped, not copied). */
static void round_end(struct round *r)
{
	struct entry *t = r->last;
	size_t cap = r->cap_last;

	if (r->ncur > 1)
		qsort(r->cur, r->ncur, sizeof(*r->cur), entry_cmp);
	r->last = r->cur;
	r->nlast = r->ncur;
	r->cap_last = r->cap_cur;
	r->cur = t;
	r->cap_cur = cap;
	r->ncur = 0;
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
	const struct entry *old;
	unsigned long long ticks, start;
	long long pgrp, pages;
	double secs;
	int full;

	*cpu = -1;
	*rss = -1;
	if (pid <= 0 || read_stat(pid, &pgrp, &ticks, &start, &pages) < 0 ||
	    pgrp != pid)
		return -1;
	old = round_put(&p->procs, pid, start, ticks, &full);
	if (full)
		return -1;
	if (old && p->then > 0) {
		secs = p->now - p->then;
		ticks -= old->count;
	} else {
		secs = p->boot - (double)start / (double)p->hz;
	}
	*cpu = secs > 0 ? (double)ticks / (double)p->hz / secs * 100.0 : 0.0;
	*rss = pages * p->page;
	return 0;
}

double top_procs_tree(struct top_procs *p, int64_t id, int64_t cpu_usec)
{
	const struct entry *old;
	int full;

	if (id <= 0 || cpu_usec < 0)
		return -1;
	old = round_put(&p->trees, id, 0, (unsigned long long)cpu_usec, &full);
	if (!old || p->then <= 0 || p->now <= p->then)
		return -1;
	return (double)((unsigned long long)cpu_usec - old->count) / 1e6 /
	       (p->now - p->then) * 100.0;
}

void top_procs_end(struct top_procs *p)
{
	round_end(&p->procs);
	round_end(&p->trees);
	p->then = p->now;
}

void top_procs_forget_trees(struct top_procs *p)
{
	p->trees.nlast = 0;
}
