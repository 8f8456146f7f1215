/*
 * recover.c - what a supervisor that died left behind.
 *
 * An execution left running or pending belongs to a supervisor that died
 * (we hold the lock, so none runs). What is left of its processes is
 * stopped first - each recorded pid only while its start time still
 * matches (proc.h), and the workers no row names, found by the marker of
 * the worker contract (worker/ctl.h). Then the newest such execution is
 * resumed when it is this workflow's: its newest phase iteration goes on
 * where it stopped, its completed agents are not run again, the others
 * restart with attempt + 1 and SMITHERS_RESUME=1. Older ones, or all with
 * --no-resume, are marked interrupted.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/grow.h"
#include "supervisor/proc.h"
#include "supervisor/slog.h"
#include "supervisor/sup-int.h"
#include "supervisor/supervisor.h"
#include "wal/wal.h"
#include "worker/ctl.h"

static int64_t col_int(const struct wal_row *row, const char *name)
{
	const char *v = wal_row_value(row, name);

	return v ? strtoll(v, NULL, 10) : 0;
}

struct incomplete {
	int64_t id;
	char *name;
	char *boot_id;
};

struct incompletes {
	struct incomplete *v;
	size_t n, cap;
};

static int add_incomplete(const struct wal_row *row, void *arg)
{
	struct incompletes *in = arg;
	const char *boot = wal_row_value(row, "boot_id");

	if (cm_grow(&in->v, &in->cap, in->n, sizeof(*in->v)) < 0)
		return -1;
	in->v[in->n].id = col_int(row, "id");
	in->v[in->n].name = xasprintf("%s", wal_row_value(row, "name"));
	in->v[in->n].boot_id = boot ? xasprintf("%s", boot) : NULL;
	in->n++;
	return 0;
}

struct stale {
	pid_t *groups; /* signalled, to wait for */
	size_t n, cap;
};

/* Kill the group of PID if it is still the process that started at START
 * (proc.h); 1 when it was signalled, then waited for by wait_stale(). */
static int stale_kill(struct stale *st, pid_t pid, int64_t start)
{
	if (!sup_proc_kill_group(pid, start))
		return 0;
	if (cm_grow(&st->groups, &st->cap, st->n, sizeof(*st->groups)) == 0)
		st->groups[st->n++] = pid;
	return 1;
}

static void kill_stale(struct stale *st, const char *what, const char *agent,
		       pid_t pid, int64_t start)
{
	if (stale_kill(st, pid, start))
		sup_log(SUP_WARN, "killed the %s of agent '%s' (group %ld), "
			"left by a supervisor that died",
			what, agent, (long)pid);
}

/* Wait for the groups ST signalled to be gone; free them. */
static void wait_stale(struct stale *st)
{
	for (size_t i = 0; i < st->n; i++)
		if (sup_proc_wait_group(st->groups[i], 5000) < 0)
			sup_log(SUP_WARN, "group %ld is still alive after "
				"SIGKILL", (long)st->groups[i]);
	free(st->groups);
}

static int stale_row(const struct wal_row *row, void *arg)
{
	const char *status = wal_row_value(row, "status");
	const char *name = wal_row_value(row, "name");

	if (!status || (strcmp(status, "running") &&
			strcmp(status, "restarting") &&
			strcmp(status, "pending")))
		return 0; /* ended: its processes were reaped */
	kill_stale(arg, "agent", name, (pid_t)col_int(row, "pid"),
		   col_int(row, "pid_start"));
	kill_stale(arg, "worker", name, (pid_t)col_int(row, "worker_pid"),
		   col_int(row, "worker_start"));
	return 0;
}

/* Stop what is left of the processes of execution E. */
static void stop_stale(struct run *r, const struct incomplete *e)
{
	struct stale st = {0};

	if (e->boot_id && *e->boot_id && strcmp(e->boot_id, r->boot_id))
		return; /* the machine restarted since: nothing is left */
	if (wal_agent_list(r->w, e->id, stale_row, &st) < 0)
		sup_log(SUP_WARN, "cannot list the agents of execution "
			"%" PRId64 ": %s", e->id, wal_errmsg(r->w));
	wait_stale(&st);
}

/*
 * Workers no row names: a supervisor that died between forking a worker
 * and committing its pid leaves one nobody knows of. It stops itself and
 * its agent when it sees its parent gone, unless it cannot run (stopped,
 * or wedged): then it is found by its command line, a smithers-worker
 * whose log is in this state dir (which is ours: we hold its lock, and
 * have started nothing yet).
 */
struct stray {
	pid_t pid;
	int64_t start;
	char *log;
};

struct strays {
	const char *state_dir;
	struct stray *v;
	size_t n, cap;
};

static int find_stray(pid_t pid, const struct cm_proc_stat *st, void *arg)
{
	struct strays *s = arg;
	char cmd[8192];
	ssize_t n = sup_proc_cmdline(pid, cmd, sizeof(cmd) - 1);
	const char *log;

	if (n <= 0 || pid == getpid())
		return 0;
	cmd[n] = '\0';
	log = wrk_ctl_worker_of(cmd, (size_t)n, s->state_dir);
	if (log && cm_grow(&s->v, &s->cap, s->n, sizeof(*s->v)) == 0)
		s->v[s->n++] = (struct stray){pid, st->start,
					      xasprintf("%s", log)};
	return 0;
}

/* A child of a stray worker (its agent, leading a group of its own): killed
 * with its group, which goes on the list to wait for. */
struct stray_kill {
	pid_t worker;
	struct stale *st;
	int killed;
};

static int kill_stray_child(pid_t pid, const struct cm_proc_stat *st,
			    void *arg)
{
	struct stray_kill *k = arg;

	if (st->ppid == k->worker)
		k->killed += stale_kill(k->st, pid, st->start);
	return 0;
}

static void stop_strays(struct run *r)
{
	struct strays s = {.state_dir = r->state_dir};
	struct stale st = {0};

	if (sup_proc_each(find_stray, &s) < 0)
		sup_log(SUP_WARN, "cannot read /proc: %s", strerror(errno));
	for (size_t i = 0; i < s.n; i++) {
		struct stray_kill k = {s.v[i].pid, &st, 0};

		/* The agent first: a worker whose agent dies by a signal
		 * ends itself by the same, and may be gone by now. */
		sup_proc_each(kill_stray_child, &k);
		k.killed += stale_kill(&st, s.v[i].pid, s.v[i].start);
		if (k.killed)
			sup_log(SUP_WARN, "killed worker %ld (log '%s') and "
				"its agent, left unrecorded by a supervisor "
				"that died",
				(long)s.v[i].pid, s.v[i].log);
		free(s.v[i].log);
	}
	wait_stale(&st);
	free(s.v);
}

static int cost_row(const struct wal_row *row, void *arg)
{
	struct run *r = arg;
	const char *v = wal_row_value(row, "cost_usd");

	r->p.cost = v ? strtod(v, NULL) : 0;
	r->p.tokens = col_int(row, "tokens_in") + col_int(row, "tokens_out");
	r->p.before = (struct usage){
		.in = col_int(row, "tokens_in"),
		.out = col_int(row, "tokens_out"),
		.cache_read = col_int(row, "cache_read_tokens"),
		.cache_write = col_int(row, "cache_write_tokens"),
		.cost = r->p.cost,
	};
	return 0;
}

struct resume_agent {
	int64_t id;
	char *name, *status;
	int attempt;
	/* A CLI agent's session, to go on with: its id, whether the CLI
	 * reported it (so that it exists), what the agent spent so far. */
	char session[SUP_SESSION_LEN + 1];
	int live;
	struct usage sum; /* the row's counts: its session's, as far as known */
	int64_t mem_peak, cpu_usec; /* its cgroups' so far; -1: unknown */
};

struct resume_plan {
	int64_t phase_id;
	char *phase, *phase_status;
	int iteration;
	struct resume_agent *agents;
	size_t n, cap;
};

/* Whether agents of the kind named KIND have sessions smithers names. */
static int names_session(const char *kind)
{
	for (int k = SUP_KIND_CLAUDE; k <= SUP_KIND_CODEX; k++)
		if (kind && !strcmp(kind, sup_kind_name((enum sup_kind)k)))
			return adapter_of((enum sup_kind)k)->names_session;
	return 1;
}

static int add_resume_row(const struct wal_row *row, void *arg)
{
	struct resume_plan *p = arg;
	struct resume_agent *a;
	const char *v;

	if (!p->phase) {
		p->phase_id = col_int(row, "phase_id");
		p->phase = xasprintf("%s", wal_row_value(row, "phase"));
		p->phase_status =
			xasprintf("%s", wal_row_value(row, "phase_status"));
		p->iteration = (int)col_int(row, "iteration");
	}
	if (!wal_row_value(row, "agent_id"))
		return 0;
	if (cm_grow(&p->agents, &p->cap, p->n, sizeof(*p->agents)) < 0)
		return -1;
	a = &p->agents[p->n++];
	a->id = col_int(row, "agent_id");
	a->name = xasprintf("%s", wal_row_value(row, "agent"));
	a->status = xasprintf("%s", wal_row_value(row, "status"));
	a->attempt = (int)col_int(row, "attempt");
	v = wal_row_value(row, "session_id");
	a->session[0] = '\0';
	if (v && strlen(v) == SUP_SESSION_LEN)
		memcpy(a->session, v, SUP_SESSION_LEN + 1);
	/* A session smithers named is live once the CLI reported it (with
	 * its version); one the CLI named is recorded only when it did. */
	a->live = a->session[0] &&
		  (wal_row_value(row, "cli_version") ||
		   !names_session(wal_row_value(row, "kind")));
	v = wal_row_value(row, "cost_usd");
	a->sum.cost = v ? strtod(v, NULL) : 0;
	a->sum.in = col_int(row, "tokens_in");
	a->sum.out = col_int(row, "tokens_out");
	a->sum.cache_read = col_int(row, "cache_read_tokens");
	a->sum.cache_write = col_int(row, "cache_write_tokens");
	a->mem_peak = wal_row_value(row, "mem_peak") ? col_int(row, "mem_peak")
						    : -1;
	a->cpu_usec = wal_row_value(row, "cpu_usec") ? col_int(row, "cpu_usec")
						    : -1;
	return 0;
}

static void free_resume_plan(struct resume_plan *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->agents[i].name);
		free(p->agents[i].status);
	}
	free(p->agents);
	free(p->phase);
	free(p->phase_status);
}

/* The newest row of agent NAME in the plan, or NULL. */
static const struct resume_agent *plan_agent(const struct resume_plan *p,
					     const char *name)
{
	const struct resume_agent *found = NULL;

	for (size_t i = 0; i < p->n; i++)
		if (!strcmp(p->agents[i].name, name))
			found = &p->agents[i];
	return found;
}

/*
 * Set the agents of the interrupted phase iteration of P up to go on, and
 * record the recovery as a transition of the key "smithers.recovery"
 * (trigger "recovery"). P->phase is the workflow's phase PHASE.
 */
static int resume_agents(struct run *r, const struct resume_plan *p,
			 size_t phase)
{
	char *resumed = xasprintf("%s", ""), *skipped = xasprintf("%s", "");
	char *value, *t;
	int nresumed = 0, nskipped = 0, rc = 0;

	r->p.phase = phase;
	r->p.iteration = p->iteration;
	r->p.phase_id = p->phase_id;
	if (strcmp(p->phase_status, "running") &&
	    wal_phase_resume(r->w, p->phase_id) < 0)
		rc = -1;
	for (size_t i = 0; i < r->wf->nagents; i++) {
		struct agent *a = &r->agents[i];
		const struct resume_agent *row = plan_agent(p, a->spec->name);
		char **list = &resumed;

		agent_fire(a, AE_LEAVE);
		if (a->spec->phase != phase)
			continue;
		agent_fire(a, AE_BEGIN);
		if (row && !strcmp(row->status, "completed")) {
			a->id = row->id;
			agent_fire(a, AE_SKIP);
			list = &skipped;
			nskipped++;
		} else if (row) {
			a->id = row->id;
			a->attempt = row->attempt + 1;
			a->resume = 1;
			/* A CLI agent goes on with its conversation. */
			memcpy(a->session.id, row->session,
			       sizeof(a->session.id));
			a->session.live = row->live;
			a->session.sum = row->sum;
			a->session.cost = row->sum.cost;
			a->session.tokens = row->sum.in + row->sum.out;
			/* Its attempts' figures go on adding up. */
			a->figures.mem_peak = row->mem_peak;
			a->figures.cpu_usec = row->cpu_usec;
			nresumed++;
			if (wal_agent_restart(r->w, a->id, a->attempt,
					      "interrupted: the supervisor "
					      "stopped",
					      -1, 0) < 0)
				rc = -1;
		} else {
			continue; /* never started: it starts as usual */
		}
		t = xasprintf("%s%s\"%s\"", *list, **list ? "," : "",
			      a->spec->name);
		free(*list);
		*list = t;
	}
	value = xasprintf("{\"execution\":%" PRId64 ",\"phase\":\"%s\","
			  "\"iteration\":%d,\"resumed\":[%s],"
			  "\"skipped\":[%s]}",
			  r->p.exec_id, p->phase, p->iteration, resumed,
			  skipped);
	if (wal_state_set(r->w, "smithers.recovery", value, "recovery", 0) < 0)
		rc = -1;
	sup_log(SUP_INFO,
		"resuming phase '%s' iteration %d: %d agents resumed, %d "
		"completed ones skipped",
		p->phase, p->iteration, nresumed, nskipped);
	free(value);
	free(resumed);
	free(skipped);
	return rc;
}

int recover(struct run *r)
{
	struct incompletes in = {0};
	struct resume_plan plan = {0};
	const struct incomplete *last;
	size_t phase = 0;
	int ret = 0;

	if (wal_execution_find_incomplete(r->w, add_incomplete, &in) < 0) {
		sup_log(SUP_ERROR, "cannot look for interrupted executions: "
			"%s", wal_errmsg(r->w));
		r->p.exit_status = 1;
		ret = -1;
		goto out;
	}
	if (in.n == 0)
		goto out;
	for (size_t i = 0; i < in.n; i++)
		stop_stale(r, &in.v[i]);
	stop_strays(r);
	last = &in.v[in.n - 1];
	if (!r->opt->no_resume) {
		if (strcmp(last->name, r->wf->name)) {
			sup_log(SUP_ERROR,
				"execution %" PRId64 " of workflow '%s' was "
				"interrupted: run that workflow to resume "
				"it, or pass --no-resume to mark it "
				"interrupted and start '%s' afresh",
				last->id, last->name, r->wf->name);
			r->p.exit_status = 2;
			ret = -1;
			goto out;
		}
		if (wal_recovery_agents(r->w, last->id, add_resume_row,
					&plan) < 0) {
			sup_log(SUP_ERROR, "cannot read execution %" PRId64
				": %s", last->id, wal_errmsg(r->w));
			r->p.exit_status = 1;
			ret = -1;
			goto out;
		}
		while (plan.phase && phase < r->wf->nphases &&
		       strcmp(r->wf->phases[phase].name, plan.phase))
			phase++;
		if (plan.phase && phase == r->wf->nphases) {
			sup_log(SUP_ERROR,
				"execution %" PRId64 " was interrupted in "
				"phase '%s', which '%s' no longer has: pass "
				"--no-resume to mark it interrupted and start "
				"afresh",
				last->id, plan.phase, r->wf->path);
			r->p.exit_status = 2;
			ret = -1;
			goto out;
		}
	}
	if (batch(r) < 0) {
		r->p.exit_status = 1;
		ret = -1;
		goto out;
	}
	for (size_t i = 0; i + (r->opt->no_resume ? 0 : 1) < in.n; i++) {
		if (wal_execution_interrupt(r->w, in.v[i].id) < 0)
			sup_log(SUP_WARN, "%s", wal_errmsg(r->w));
		sup_log(SUP_WARN, "execution %" PRId64 " of '%s' marked "
			"interrupted: %s", in.v[i].id, in.v[i].name,
			r->opt->no_resume ? "--no-resume"
					  : "only the newest is resumed");
	}
	if (r->opt->no_resume)
		goto out;
	if (wal_execution_resume(r->w, last->id, r->boot_id) < 0) {
		sup_log(SUP_ERROR, "cannot resume execution %" PRId64 ": %s",
			last->id, wal_errmsg(r->w));
		r->p.exit_status = 1;
		ret = -1;
		goto out;
	}
	r->p.exec_id = last->id;
	/* What it spent so far counts toward its budget. */
	if (wal_execution_get(r->w, last->id, cost_row, r) < 0)
		sup_log(SUP_WARN, "%s", wal_errmsg(r->w));
	sup_log(SUP_INFO, "resuming execution %" PRId64 " of '%s'",
		r->p.exec_id, last->name);
	if (plan.phase && resume_agents(r, &plan, phase) < 0)
		sup_log(SUP_WARN, "cannot record the recovery: %s",
			wal_errmsg(r->w));
	wal_failpoint("during-recovery");
	ret = plan.phase ? 1 : 2;
out:
	for (size_t i = 0; i < in.n; i++) {
		free(in.v[i].name);
		free(in.v[i].boot_id);
	}
	free(in.v);
	free_resume_plan(&plan);
	return ret;
}

