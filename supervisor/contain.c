/*
 * contain.c - the run's containment: the state dir's cgroups made (or why
 * not, said once), each agent attempt's cgroup made before its worker is
 * forked, and at its end its figures kept in its row and the mirror, with
 * what the cgroup says of the end (the OOM killer, forks refused), before
 * it is killed and removed. While it runs nothing is read: a reader
 * (smithers-top) takes its live figures from its cgroup itself.
 *
 * supervisor/cgroup.c does the cgroups themselves; this file decides when.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "common/clock.h"
#include "common/units.h"
#include "supervisor/cgroup.h"
#include "supervisor/mirror.h"
#include "supervisor/slog.h"
#include "supervisor/sup-int.h"
#include "wal/wal.h"
#include "worker/ctl.h"

/* Every limit the workflow's agents have, checked against what the host
 * enforces: 0, or -1 with the first one it cannot (logged). */
static int check_limits(struct run *r)
{
	const struct sup_workflow *wf = r->wf;
	char err[512];

	for (size_t i = 0; i < wf->nagents; i++)
		if (sup_cg_check(r->cg, &wf->agents[i].limits, err,
				 sizeof(err)) < 0) {
			sup_log(SUP_ERROR, "%s: agent '%s': %s%s%s", wf->path,
				wf->agents[i].name, err,
				r->cg ? "" : ": ",
				r->cg ? "" : r->containment);
			return -1;
		}
	return 0;
}

int contain_open(struct run *r)
{
	const struct sup_workflow *wf = r->wf;
	const char *env = getenv("SMITHERS_CGROUPS");
	unsigned needs = 0;
	int leftovers = 0;
	char err[512];

	for (size_t i = 0; i < wf->nagents; i++)
		needs |= sup_cg_needs(&wf->agents[i].limits);
	if (wf->cgroups == SUP_CGROUPS_OFF)
		r->containment = xasprintf("process groups (cgroups = off)");
	/* The test suite's second run, without cgroups (smithers(1)). */
	else if (wf->cgroups == SUP_CGROUPS_AUTO && env && !strcmp(env, "off"))
		r->containment =
			xasprintf("process groups (SMITHERS_CGROUPS=off)");
	else
		r->cg = sup_cg_open(r->state_dir, needs, &leftovers, err,
				    sizeof(err));
	/* Without cgroups of our own, those a supervisor that died left
	 * are killed and removed all the same. */
	if (r->containment && sup_cg_left(r->state_dir))
		sup_cg_close(sup_cg_open(r->state_dir, 0, &leftovers, err,
					 sizeof(err)));
	if (leftovers > 0)
		sup_log(SUP_WARN, "killed and removed %d agent cgroup%s left "
			"by a supervisor that died", leftovers,
			leftovers == 1 ? "" : "s");
	if (r->containment)
		return check_limits(r);
	if (!r->cg && wf->cgroups == SUP_CGROUPS_REQUIRED) {
		sup_log(SUP_ERROR, "%s: cgroups = required, but %s", wf->path,
			err);
		return -1;
	}
	if (!r->cg) {
		/* Said once, here and on the execution's row. */
		r->containment = xasprintf("process groups: %s", err);
		sup_log(SUP_WARN, "agents run in process groups, not cgroups: "
			"%s", err);
	} else {
		r->containment = xasprintf("%s", sup_cg_describe(r->cg));
		sup_log(SUP_INFO, "agents run in cgroups: %s", r->containment);
	}
	return check_limits(r);
}

void contain_record(struct run *r)
{
	if (r->containment &&
	    wal_execution_containment(r->w, r->p.exec_id, r->containment) < 0)
		sup_log(SUP_WARN, "cannot record the containment: %s",
			wal_errmsg(r->w));
}

int contain_agent(struct agent *a, struct wrk_ctl_args *args, char *err,
		  size_t len)
{
	const char *const *v1;
	size_t n;

	if (!a->run->cg)
		return 0;
	a->cg = sup_cg_agent_new(a->run->cg, a->id, a->attempt,
				 &a->spec->limits, err, len);
	if (!a->cg)
		return -1;
	args->cgroup = sup_cg_agent_dir(a->cg);
	v1 = sup_cg_agent_v1(a->cg, &n);
	for (size_t i = 0; i < n && i < WRK_CGROUP_V1_MAX; i++)
		args->cgroup_v1[args->ncgroup_v1++] = v1[i];
	return 0;
}

/* What the cgroup says of an end with STATUS (the worker's), or NULL. */
static char *end_note(const struct agent *a, const struct sup_cg_usage *u,
		      int status)
{
	const struct sup_limits *l = &a->spec->limits;
	char size[24];
	int failed = !WIFEXITED(status) || WEXITSTATUS(status) != 0;

	/* The agent's own process, or the one its shell waited for (sh -c
	 * exits 128 + 9 then). */
	if (u->oom_kills > 0 &&
	    ((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) ||
	     (WIFEXITED(status) && WEXITSTATUS(status) == 128 + SIGKILL)))
		return l->memory_max > 0
			       ? xasprintf("killed by the OOM killer "
					   "(memory_max %s)",
					   cm_format_size(l->memory_max, size,
							  sizeof(size)))
			       : xasprintf("killed by the OOM killer");
	if (u->oom_kills > 0 && failed)
		return xasprintf("%s after the OOM killer killed %" PRId64
				 " of its processes (memory_max %s)",
				 WIFEXITED(status) ? "failed" : "killed",
				 u->oom_kills,
				 cm_format_size(l->memory_max, size,
						sizeof(size)));
	if (u->pids_refused > 0 && failed)
		return xasprintf("failed after pids_max %" PRId64
				 " refused %" PRId64 " forks",
				 l->pids_max, u->pids_refused);
	return NULL;
}

/* What attempt's end U adds to A's row: its CPU time, its peak if the
 * highest yet. */
static void add_figures(struct agent *a, const struct sup_cg_usage *u)
{
	if (u->cpu_usec >= 0)
		a->figures.cpu_usec =
			(a->figures.cpu_usec > 0 ? a->figures.cpu_usec : 0) +
			u->cpu_usec;
	if (u->mem_peak > a->figures.mem_peak)
		a->figures.mem_peak = u->mem_peak;
}

char *contain_end(struct agent *a, int status)
{
	struct sup_cg_usage u;

	if (!a->cg)
		return NULL;
	sup_cg_agent_read(a->cg, &u);
	/* Whatever the worker could not kill (it was killed itself). */
	if (!a->end.worker_done)
		sup_cg_agent_kill(a->cg);
	sup_cg_agent_free(a->cg);
	a->cg = NULL;
	add_figures(a, &u);
	if ((a->figures.mem_peak >= 0 || a->figures.cpu_usec >= 0) &&
	    batch(a->run) == 0 &&
	    wal_agent_resources(a->run->w, a->id, a->figures.mem_peak,
				a->figures.cpu_usec) < 0)
		sup_log(SUP_WARN, "agent '%s': %s", a->spec->name,
			wal_errmsg(a->run->w));
	sup_mirror_resources(a->run->mirror, a->index, a->figures.mem_peak,
			     a->figures.cpu_usec);
	if (u.oom_kills > 0)
		sup_log(SUP_WARN, "agent '%s': the OOM killer killed %" PRId64
			" of its processes", a->spec->name, u.oom_kills);
	if (u.pids_refused > 0)
		sup_log(SUP_WARN, "agent '%s': pids_max %" PRId64 " refused %"
			PRId64 " forks", a->spec->name, a->spec->limits.pids_max,
			u.pids_refused);
	return end_note(a, &u, status);
}

void contain_close(struct run *r)
{
	/* Every agent's cgroup is gone by now, but one whose worker was
	 * never reaped (a failed run_open); sup_cg_close kills what is
	 * left. */
	for (size_t i = 0; r->agents && i < r->wf->nagents; i++) {
		sup_cg_agent_free(r->agents[i].cg);
		r->agents[i].cg = NULL;
	}
	sup_cg_close(r->cg);
	r->cg = NULL;
	free(r->containment);
	r->containment = NULL;
}
