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
 * An agent in a cgroup of its own (agent-ID-ATTEMPT, supervisor/cgroup.h)
 * has its whole tree's figures there: memory now and at its peak, CPU
 * time, processes. They are read here, by the reader that shows them, not
 * by the supervisor: an idle supervisor reads nothing for nobody. The
 * cgroup of a process is found once (/proc/PID/cgroup) and its files kept
 * open while the process lives (preads after that). The same rounds, keyed
 * by the agent's row id, give its tree's CPU% (top_procs_tree).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "common/cgroup.h"
#include "supervisor/proc.h"
#include "tools/top.h"

/* An agent's cgroup, its files kept open (-1: the host has none); NONE:
 * the process is in no agent cgroup (looked up once all the same). */
struct top_cgroup {
	int none;
	int mem, peak, cpu, pids, procs;
};

static void cg_close(struct top_cgroup *cg)
{
	int fds[] = {cg ? cg->mem : -1, cg ? cg->peak : -1, cg ? cg->cpu : -1,
		     cg ? cg->pids : -1, cg ? cg->procs : -1};

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(cg);
}

/* One sample: KEY (a pid, or an agent's row id), STAMP (what tells a
 * reused key from the same one: a start time), COUNT (a counter that only
 * grows: CPU ticks, microseconds). */
struct entry {
	int64_t key;
	unsigned long long stamp, count;
	struct top_cgroup *cg; /* a process' (procs round); NULL: not yet */
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
	struct rlimit nofile;

	if (!p)
		return NULL;
	/* Up to four files kept open an agent: past a login shell's soft
	 * limit (1024) at 256 agents, so up to the hard one. A file that
	 * does not open is a figure unknown, nothing worse. */
	if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 &&
	    nofile.rlim_cur < nofile.rlim_max) {
		nofile.rlim_cur = nofile.rlim_max;
		setrlimit(RLIMIT_NOFILE, &nofile);
	}
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
	for (size_t i = 0; i < p->procs.nlast; i++)
		cg_close(p->procs.last[i].cg);
	for (size_t i = 0; i < p->procs.ncur; i++)
		cg_close(p->procs.cur[i].cg);
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
static struct entry *round_put(struct round *r, int64_t key,
			       unsigned long long stamp,
			       unsigned long long count, int *full)
{
	struct entry k = {.key = key}, *e, *old;

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
	r->cur[r->ncur++] = (struct entry){key, stamp, count, NULL};
	old = r->nlast ? bsearch(&k, r->last, r->nlast, sizeof(*old),
				 entry_cmp)
		       : NULL;
	return old && old->stamp == stamp && count >= old->count ? old : NULL;
}

/* This round becomes the last one (the arrays swapped, not copied); the
 * cgroups of the processes it did not see are closed. */
static void round_end(struct round *r)
{
	struct entry *t = r->last;
	size_t cap = r->cap_last;

	for (size_t i = 0; i < r->nlast; i++)
		cg_close(r->last[i].cg);
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

/* Whether DIR is an agent's cgroup: its last component agent-ID-ATTEMPT. */
static int agent_dir(const char *dir)
{
	const char *slash = strrchr(dir, '/');

	return slash && !strncmp(slash + 1, "agent-", 6);
}

static int open_in(const char *dir, const char *name)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    (int)sizeof(path))
		return -1;
	return open(path, O_RDONLY | O_CLOEXEC);
}

/* The cgroup of agent process PID: its v2 directory, and its v1 memory
 * and pids ones on a hybrid host, when each is an agent's. */
static struct top_cgroup *cg_open(pid_t pid)
{
	struct top_cgroup *cg = calloc(1, sizeof(*cg));
	char v2[PATH_MAX], v1[PATH_MAX];

	if (!cg)
		return NULL;
	cg->mem = cg->peak = cg->cpu = cg->pids = cg->procs = -1;
	if (cm_cg_of_pid(pid, v2, sizeof(v2)) < 0 || !agent_dir(v2)) {
		cg->none = 1;
		return cg;
	}
	cg->cpu = open_in(v2, "cpu.stat");
	cg->mem = open_in(v2, "memory.current");
	if (cg->mem >= 0)
		cg->peak = open_in(v2, "memory.peak");
	else if (cm_cg_v1_of_pid(pid, "memory", v1, sizeof(v1)) == 0 &&
		 agent_dir(v1)) {
		cg->mem = open_in(v1, "memory.usage_in_bytes");
		cg->peak = open_in(v1, "memory.max_usage_in_bytes");
	}
	cg->pids = open_in(v2, "pids.current");
	if (cg->pids < 0 && cm_cg_v1_of_pid(pid, "pids", v1, sizeof(v1)) == 0 &&
	    agent_dir(v1))
		cg->pids = open_in(v1, "pids.current");
	if (cg->pids < 0 || cg->mem < 0)
		cg->procs = open_in(v2, "cgroup.procs");
	return cg;
}

/* The processes of cgroup.procs FD: their number, and in *RSS (when not
 * NULL) the sum of their resident bytes (PAGE bytes a page); -1. */
static long long members(int fd, long long *rss, long page)
{
	char buf[4096];
	long long n = 0, pid = 0;
	off_t off = 0;

	if (rss)
		*rss = 0;
	for (;;) {
		ssize_t got = pread(fd, buf, sizeof(buf), off);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return -1;
		if (got == 0)
			return n;
		for (ssize_t i = 0; i < got; i++) {
			struct cm_proc_stat st;

			if (buf[i] != '\n') {
				pid = pid * 10 + (buf[i] - '0');
				continue;
			}
			n++;
			if (rss && cm_proc_stat((pid_t)pid, &st) == 0)
				*rss += st.rss_pages * page;
			pid = 0;
		}
		off += got;
	}
}

/* The tree's figures. Without a memory counter (a hybrid host, where an
 * agent without memory_max has no v1 memory cgroup), its memory is the
 * sum of its processes' resident memory. */
static void cg_read(const struct top_cgroup *cg, struct top_tree *t, long page)
{
	long long rss = -1, n = -1;

	if (cg->procs >= 0)
		n = members(cg->procs, cg->mem < 0 ? &rss : NULL, page);
	t->mem = cg->mem >= 0 ? cm_cg_pread_int(cg->mem) : rss;
	t->peak = cg->peak >= 0 ? cm_cg_pread_int(cg->peak) : -1;
	t->cpu_usec = cg->cpu >= 0 ? cm_cg_pread_key(cg->cpu, "usage_usec") : -1;
	t->nprocs = cg->pids >= 0 ? cm_cg_pread_int(cg->pids) : n;
}

int top_procs_sample(struct top_procs *p, pid_t pid, double *cpu,
		     long long *rss, struct top_tree *tree)
{
	struct entry *old, *e;
	unsigned long long ticks, start;
	long long pgrp, pages;
	double secs;
	int full;

	*cpu = -1;
	*rss = -1;
	*tree = (struct top_tree){-1, -1, -1, -1};
	if (pid <= 0 || read_stat(pid, &pgrp, &ticks, &start, &pages) < 0 ||
	    pgrp != pid)
		return -1;
	old = round_put(&p->procs, pid, start, ticks, &full);
	if (full)
		return -1;
	/* The process' cgroup goes on to this round's entry. */
	e = &p->procs.cur[p->procs.ncur - 1];
	if (old) {
		e->cg = old->cg;
		old->cg = NULL;
	}
	if (!e->cg)
		e->cg = cg_open(pid);
	if (e->cg && !e->cg->none)
		cg_read(e->cg, tree, p->page);
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
	struct entry *old;
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
