/*
 * cgroup-agent.c - one agent attempt's cgroup (cgroup.h): its directories
 * under the state dir's cgroups (cgroup.c), the limits written into them,
 * the figures read from them, the kill, their removal.
 *
 * Invariants:
 * - Each controller is used where cgroup.c found it: v2 when it is
 *   enabled in smithers-H, else the v1 hierarchy that has it. v1's pids
 *   and cpu directories are made only for a limit.
 * - The supervisor reads an agent's figures once, at its end: its live
 *   ones are for readers to take (smithers-top), so that nothing is read
 *   every second for nobody.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cgroup.h"
#include "supervisor/cgroup-int.h"
#include "supervisor/cgroup.h"
#include "supervisor/slog.h"

#define CPU_PERIOD   100000 /* microseconds, of cpu.max and cfs_period_us */
#define FREE_WAIT_MS 1000

struct sup_cg_agent {
	char *dir;	/* v2 */
	char *v1[NCTL]; /* distinct v1 directories, nv1 of them */
	size_t nv1;
	const char *of[NCTL]; /* the v1 directory of each controller, or NULL
			       * (borrowed from v1[]) */
	/* Where its end figures are: the peak, the OOM kills, the forks
	 * refused */
	const char *mem_dir, *pids_dir; /* NULL: no such controller */
	int mem_v2;
};

/* Make DIR, removing a leftover of the same name first. */
static int make_fresh(const char *dir, char *err, size_t errlen)
{
	if (mkdir(dir, 0755) == 0)
		return 0;
	if (errno == EEXIST) {
		if (cg_kill_remove(dir, FREE_WAIT_MS) < 0) {
			cg_say(err, errlen,
			       "cannot remove the leftover '%s': %s", dir,
			       strerror(errno));
			return -1;
		}
		if (mkdir(dir, 0755) == 0)
			return 0;
	}
	cg_say(err, errlen, "cannot create '%s': %s", dir, strerror(errno));
	return -1;
}

/* Write the value FMT... to DIR/NAME; the reason in ERR. */
static int limit(const char *dir, const char *name, char *err, size_t errlen,
		 const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int limit(const char *dir, const char *name, char *err, size_t errlen,
		 const char *fmt, ...)
{
	char value[64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(value, sizeof(value), fmt, ap);
	va_end(ap);
	if (cm_cg_write(dir, name, value) == 0)
		return 0;
	cg_say(err, errlen, "cannot write '%s' to '%s/%s': %s", value, dir,
	       name, strerror(errno));
	return -1;
}

static int write_limits(const struct sup_cg *cg, const struct sup_cg_agent *a,
			const struct sup_limits *l, char *err, size_t errlen)
{
	const char *mem = (cg->v2 & SUP_CG_MEMORY) ? a->dir : a->of[CTL_MEMORY];
	const char *pids = (cg->v2 & SUP_CG_PIDS) ? a->dir : a->of[CTL_PIDS];
	long long quota = (long long)(l->cpu_max * CPU_PERIOD + 0.5);
	int v2cpu = (cg->v2 & SUP_CG_CPU) != 0;
	const char *cpu = v2cpu ? a->dir : a->of[CTL_CPU];

	if (quota < 1000)
		quota = 1000; /* the kernel's least: a millisecond */
	if (l->memory_max > 0 &&
	    limit(mem, mem == a->dir ? "memory.max" : "memory.limit_in_bytes",
		  err, errlen, "%" PRId64, l->memory_max) < 0)
		return -1;
	if (l->memory_high > 0 && limit(mem, "memory.high", err, errlen,
					"%" PRId64, l->memory_high) < 0)
		return -1;
	if (l->pids_max > 0 &&
	    limit(pids, "pids.max", err, errlen, "%" PRId64, l->pids_max) < 0)
		return -1;
	if (l->cpu_weight > 0) {
		int shares = l->cpu_weight * 1024 / 100;

		if (v2cpu ? limit(cpu, "cpu.weight", err, errlen, "%d",
				  l->cpu_weight) < 0
			  : limit(cpu, "cpu.shares", err, errlen, "%d",
				  shares < 2 ? 2 : shares) < 0)
			return -1;
	}
	if (l->cpu_max <= 0)
		return 0;
	if (v2cpu)
		return limit(cpu, "cpu.max", err, errlen, "%lld %d", quota,
			     CPU_PERIOD);
	if (limit(cpu, "cpu.cfs_period_us", err, errlen, "%d", CPU_PERIOD) < 0)
		return -1;
	return limit(cpu, "cpu.cfs_quota_us", err, errlen, "%lld", quota);
}

/* KEY of DIR/NAME ("KEY N" lines), or the number it holds when KEY is
 * NULL; -1 when DIR is NULL or the file is missing. */
static int64_t figure(const char *dir, const char *name, const char *key)
{
	char path[PATH_MAX];

	if (!dir || cg_pathf(path, "%s/%s", dir, name) < 0)
		return -1;
	return key ? cm_cg_read_key(path, key) : cm_cg_read_int(path);
}

struct sup_cg_agent *sup_cg_agent_new(struct sup_cg *cg, int64_t id,
				      int attempt, const struct sup_limits *l,
				      char *err, size_t errlen)
{
	struct sup_cg_agent *a;
	char name[64], path[PATH_MAX];
	int cpu_limit = l->cpu_weight > 0 || l->cpu_max > 0;

	if (!cg) {
		cg_say(err, errlen, "no cgroups");
		errno = EINVAL;
		return NULL;
	}
	if (sup_cg_check(cg, l, err, errlen) < 0)
		return NULL;
	a = calloc(1, sizeof(*a));
	if (!a) {
		cg_say(err, errlen, "out of memory");
		return NULL;
	}
	snprintf(name, sizeof(name), "agent-%" PRId64 "-%d", id, attempt);
	if (cg_pathf(path, "%s/%s", cg->base, name) < 0 ||
	    !(a->dir = strdup(path))) {
		cg_say(err, errlen,
		       "cannot name the cgroup of agent %" PRId64 ": %s", id,
		       strerror(errno));
		goto fail;
	}
	if (make_fresh(a->dir, err, errlen) < 0) {
		free(a->dir);
		a->dir = NULL;
		goto fail;
	}
	for (int i = 0; i < NCTL; i++) {
		size_t j;

		/* A v1 directory only for a limit: v2 counts the
		 * processes (cgroup.procs) and the CPU time, and the
		 * worker's clone3 puts the agent in v2 at its birth, while
		 * entering a v1 one is a migration that waits for an RCU
		 * grace period (ms) at each start. */
		if (!cg->v1[i] || (i == CTL_CPU && !cpu_limit) ||
		    (i == CTL_PIDS && !l->pids_max) ||
		    (i == CTL_MEMORY && !l->memory_max && !l->memory_high))
			continue;
		if (cg_pathf(path, "%s/%s", cg->v1[i], name) < 0) {
			cg_say(err, errlen, "cgroup path too long under '%s'",
			       cg->v1[i]);
			goto fail;
		}
		for (j = 0; j < a->nv1 && strcmp(a->v1[j], path); j++)
			;
		if (j == a->nv1) {
			if (make_fresh(path, err, errlen) < 0)
				goto fail;
			a->v1[j] = strdup(path);
			if (!a->v1[j]) {
				rmdir(path);
				cg_say(err, errlen, "out of memory");
				goto fail;
			}
			a->nv1++;
		}
		a->of[i] = a->v1[j];
	}
	if (write_limits(cg, a, l, err, errlen) < 0)
		goto fail;
	a->mem_v2 = (cg->v2 & SUP_CG_MEMORY) != 0;
	a->mem_dir = a->mem_v2 ? a->dir : a->of[CTL_MEMORY];
	a->pids_dir = (cg->v2 & SUP_CG_PIDS) ? a->dir : a->of[CTL_PIDS];
	return a;
fail:
	sup_cg_agent_free(a);
	return NULL;
}

const char *sup_cg_agent_dir(const struct sup_cg_agent *a)
{
	return a->dir;
}

const char *const *sup_cg_agent_v1(const struct sup_cg_agent *a, size_t *n)
{
	*n = a->nv1;
	return (const char *const *)a->v1;
}

void sup_cg_agent_read(struct sup_cg_agent *a, struct sup_cg_usage *u)
{
	u->cpu_usec = figure(a->dir, "cpu.stat", "usage_usec");
	u->mem_peak = figure(a->mem_dir,
			     a->mem_v2 ? "memory.peak"
				       : "memory.max_usage_in_bytes",
			     NULL);
	u->oom_kills = figure(a->mem_dir,
			      a->mem_v2 ? "memory.events" : "memory.oom_control",
			      "oom_kill");
	u->pids_refused = figure(a->pids_dir, "pids.events", "max");
}

int sup_cg_agent_kill(struct sup_cg_agent *a)
{
	return cm_cg_kill(a->dir);
}

void sup_cg_agent_free(struct sup_cg_agent *a)
{
	if (!a)
		return;
	/* v2 first: it kills them all; v1's are then empty. */
	if (a->dir && cg_kill_remove(a->dir, FREE_WAIT_MS) < 0)
		sup_log(SUP_WARN, "cannot remove cgroup '%s': %s", a->dir,
			strerror(errno));
	for (size_t i = 0; i < a->nv1; i++) {
		if (cg_kill_remove(a->v1[i], FREE_WAIT_MS) < 0)
			sup_log(SUP_WARN, "cannot remove cgroup '%s': %s",
				a->v1[i], strerror(errno));
		free(a->v1[i]);
	}
	free(a->dir);
	free(a);
}
