/*
 * agent.c - an agent's life: one table of state x event -> next state and
 * action, in the manner of s6-supervise. agent_fire() is the only place
 * that assigns an agent's state; it assigns it before the action runs, so
 * an action may fire further events (a woken agent is started at once).
 *
 * Restarts: every failure counts toward max_restarts (no hole for crashes
 * after startsecs, unlike supervisord); the backoff doubles with each
 * consecutive failure and starts again from its minimum after a run that
 * lasted at least startsecs. A start that failed for want of processes,
 * memory or fds (ours or the worker's) is a failed attempt too, retried
 * whatever the restart policy (start_failed).
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <event2/event.h>

#include "common/clock.h"
#include "supervisor/cgroup.h"
#include "supervisor/mirror.h"
#include "supervisor/slog.h"
#include "supervisor/stream.h"
#include "supervisor/sup-int.h"
#include "wal/wal.h"
#include "worker/ctl.h"

/* What an event carries for the records: why (NULL: nothing to say), the
 * worker's exit status (-1: none) or signal, the backoff of a retry. */
struct agent_ev {
	const char *why;
	int code, sig;
	int64_t delay_ms;
};

typedef void action_fn(struct agent *a, const struct agent_ev *x);

/* Whether the store can take A's records now (the error is logged). */
static int can_record(struct agent *a)
{
	return a->id && batch(a->run) == 0;
}

/* AE_BEGIN: the phase iteration about to run; its first attempt. */
static void act_reset(struct agent *a, const struct agent_ev *x)
{
	(void)x;
	a->id = 0;
	a->attempt = 1;
	a->figures.mem_peak = a->figures.cpu_usec = -1;
	a->resume = 0;
	/* A Ralph loop's next iteration talks in a new session, unless it
	 * goes on with the one the last iteration had (session = continue). */
	if (a->spec->cli.session != SUP_SESSION_CONTINUE ||
	    !a->session.live) {
		a->session.id[0] = '\0';
		a->session.live = 0;
		a->session.sum = (struct usage){0};
	}
	a->session.cost = 0;
	a->session.tokens = 0;
	a->failures = 0;
	a->consecutive = 0;
	a->calls.n = 0;
	a->parents.n = 0;
}

static void act_spawned(struct agent *a, const struct agent_ev *x)
{
	const struct sup_agent *sp = a->spec;

	(void)x;
	a->started_ms = cm_mono_ms();
	set_text(&a->end.why, NULL);
	set_text(&a->end.fail_text, NULL);
	set_text(&a->end.result_text, NULL);
	set_text(&a->end.result_json, NULL);
	set_text(&a->end.over_budget, NULL);
	set_text(&a->end.cgroup_note, NULL);
	a->end.interrupt = 0;
	a->end.timed_out = a->end.proto_error = 0;
	a->end.worker_done = a->end.transient = 0;
	a->end.ended = 0;
	a->run->running++;
	if (sp->timeout_ms > 0) {
		struct timeval tv = tv_ms(sp->timeout_ms);

		evtimer_add(a->timer, &tv);
	}
	sup_log(SUP_INFO, "agent '%s' started (attempt %d, worker %ld)",
		sp->name, a->attempt, (long)a->worker);
}

static void act_stop(struct agent *a, const struct agent_ev *x)
{
	const char *why = x ? x->why : NULL;
	/* SIGINT asks the worker for SIGINT, then the stop signal after the
	 * grace, then SIGKILL after another (worker/ctl.h). */
	int64_t grace = a->spec->stop_grace_ms * (a->end.interrupt ? 2 : 1);
	struct timeval tv = tv_ms(grace + KILL_SLACK_MS);

	if (why && !a->end.why)
		set_text(&a->end.why, why);
	sup_log(SUP_INFO, "stopping agent '%s'%s%s", a->spec->name,
		why ? ": " : "", why ? why : "");
	kill(a->worker, a->end.interrupt ? SIGINT : SIGTERM);
	evtimer_del(a->timer);
	evtimer_add(a->timer, &tv);
}

static void act_timeout(struct agent *a, const struct agent_ev *x)
{
	struct agent_ev t = {.why = "timeout"};

	(void)x;
	a->end.timed_out = 1;
	act_stop(a, &t);
}

void agent_kill(struct agent *a)
{
	kill(a->worker, SIGKILL);
	if (a->pid > 0)
		kill(-a->pid, SIGKILL);
	if (a->cg)
		sup_cg_agent_kill(a->cg);
}

/* The worker did not end in time. */
static void act_kill(struct agent *a, const struct agent_ev *x)
{
	(void)x;
	sup_log(SUP_WARN, "agent '%s': worker %ld did not stop; killing",
		a->spec->name, (long)a->worker);
	agent_kill(a);
}

static void act_backoff(struct agent *a, const struct agent_ev *x)
{
	struct timeval tv = tv_ms(x->delay_ms);

	a->attempt++;
	if (can_record(a) && wal_agent_restart(a->run->w, a->id, a->attempt,
					       x->why, x->code, x->sig) < 0)
		sup_log(SUP_WARN, "%s", wal_errmsg(a->run->w));
	evtimer_add(a->timer, &tv);
}

/* Out of backoff: a slot of max_parallel, like any start. */
static void act_wake(struct agent *a, const struct agent_ev *x)
{
	(void)x;
	schedule(a->run);
}

static void act_fail(struct agent *a, const struct agent_ev *x)
{
	evtimer_del(a->timer);
	if (can_record(a) &&
	    wal_agent_fail(a->run->w, a->id, x->why, x->code, x->sig) < 0)
		sup_log(SUP_WARN, "%s", wal_errmsg(a->run->w));
}

static void act_complete(struct agent *a, const struct agent_ev *x)
{
	struct wal *w = a->run->w;

	(void)x;
	if (can_record(a) && wal_agent_complete(w, a->id, a->end.result_text,
						a->end.result_json, 0) < 0) {
		sup_log(SUP_WARN, "agent '%s': %s", a->spec->name,
			wal_errmsg(w));
		/* e.g. a structured result that is not JSON */
		wal_agent_complete(w, a->id, a->end.result_text, NULL, 0);
	}
}

static void act_cancel(struct agent *a, const struct agent_ev *x)
{
	const char *why = x && x->why ? x->why : "stopped";

	evtimer_del(a->timer);
	if (can_record(a) && wal_agent_cancel(a->run->w, a->id, why,
					      x ? x->code : -1,
					      x ? x->sig : 0) < 0)
		sup_log(SUP_WARN, "%s", wal_errmsg(a->run->w));
}

/*
 * The table. An empty entry (next 0, which is A_IDLE, with no action and
 * not marked) means the event changes nothing in that state; entries are
 * marked with `ok` so that A_IDLE can be a destination.
 */
static const struct transition {
	unsigned char ok, next;
	action_fn *act;
} table[A_NSTATES][AE_NEVENTS] = {
	[A_IDLE] = {
		[AE_BEGIN] = {1, A_PENDING, act_reset},
		[AE_LEAVE] = {1, A_IDLE, NULL},
	},
	[A_PENDING] = {
		[AE_SKIP] = {1, A_DONE, NULL},
		[AE_SPAWNED] = {1, A_RUNNING, act_spawned},
		[AE_RETRY] = {1, A_BACKOFF, act_backoff},
		[AE_GIVE_UP] = {1, A_FAILED, act_fail},
		[AE_CANCEL] = {1, A_CANCELLED, act_cancel},
	},
	[A_RUNNING] = {
		[AE_STOP] = {1, A_STOPPING, act_stop},
		[AE_TIMER] = {1, A_STOPPING, act_timeout},
		[AE_RETRY] = {1, A_BACKOFF, act_backoff},
		[AE_GIVE_UP] = {1, A_FAILED, act_fail},
		[AE_DONE] = {1, A_DONE, act_complete},
		[AE_CANCEL] = {1, A_CANCELLED, act_cancel},
	},
	[A_STOPPING] = {
		[AE_TIMER] = {1, A_STOPPING, act_kill},
		[AE_RETRY] = {1, A_BACKOFF, act_backoff},
		[AE_GIVE_UP] = {1, A_FAILED, act_fail},
		[AE_DONE] = {1, A_DONE, act_complete},
		[AE_CANCEL] = {1, A_CANCELLED, act_cancel},
	},
	[A_BACKOFF] = {
		[AE_TIMER] = {1, A_PENDING, act_wake},
		[AE_GIVE_UP] = {1, A_FAILED, act_fail},
		[AE_CANCEL] = {1, A_CANCELLED, act_cancel},
	},
	[A_DONE] = {
		[AE_BEGIN] = {1, A_PENDING, act_reset},
		[AE_LEAVE] = {1, A_IDLE, NULL},
	},
	[A_FAILED] = {
		[AE_BEGIN] = {1, A_PENDING, act_reset},
		[AE_LEAVE] = {1, A_IDLE, NULL},
	},
	[A_CANCELLED] = {
		[AE_BEGIN] = {1, A_PENDING, act_reset},
		[AE_LEAVE] = {1, A_IDLE, NULL},
	},
};

static const char *const state_names[A_NSTATES] = {
	[A_IDLE] = "idle",	   [A_PENDING] = "pending",
	[A_RUNNING] = "running",   [A_STOPPING] = "stopping",
	[A_BACKOFF] = "backoff",   [A_DONE] = "done",
	[A_FAILED] = "failed",	   [A_CANCELLED] = "cancelled",
};

const char *agent_state_name(enum agent_state st)
{
	return (unsigned)st < A_NSTATES ? state_names[st] : "?";
}

int agent_next(enum agent_state st, enum agent_event ev)
{
	if ((unsigned)st >= A_NSTATES || (unsigned)ev >= AE_NEVENTS ||
	    !table[st][ev].ok)
		return -1;
	return table[st][ev].next;
}

static void fire(struct agent *a, enum agent_event ev,
		 const struct agent_ev *x)
{
	const struct transition *t = &table[a->state][ev];

	if (!t->ok)
		return;
	a->state = (enum agent_state)t->next;
	/* What the mirror shows of it (state, attempt, row) may change. */
	a->run->agents_dirty = 1;
	if (t->act)
		t->act(a, x);
}

void agent_fire(struct agent *a, enum agent_event ev)
{
	fire(a, ev, NULL);
}

void stop_agent(struct agent *a, const char *why)
{
	struct agent_ev x = {.why = why};

	fire(a, AE_STOP, &x);
}

void agent_over_budget(struct agent *a, const char *why)
{
	struct agent_ev x = {.why = why, .code = -1};

	set_text(&a->end.over_budget, why);
	switch (a->state) {
	case A_RUNNING:
		a->end.interrupt = 1;
		fire(a, AE_STOP, &x);
		break;
	case A_PENDING:
	case A_BACKOFF:
		fire(a, AE_GIVE_UP, &x);
		break;
	default:
		break; /* stopping already, or ended */
	}
}

int64_t backoff_ms(int64_t min_ms, int64_t max_ms, int consecutive)
{
	int64_t d = min_ms;

	for (int i = 1; i < consecutive && d < max_ms; i++)
		d *= 2;
	return d > max_ms ? max_ms : d;
}

static int64_t agent_backoff(const struct agent *a)
{
	return backoff_ms(a->spec->backoff_min_ms, a->spec->backoff_max_ms,
			  a->consecutive);
}

enum agent_event agent_verdict(const struct sup_agent *spec, int attempt,
			       int ok, int stopping, int proto_error)
{
	int restart;

	if (stopping && !ok)
		return AE_CANCEL;
	restart = !stopping && !proto_error &&
		  ((ok && spec->restart == SUP_RESTART_ALWAYS) ||
		   (!ok && spec->restart != SUP_RESTART_NEVER));
	/* max_restarts counts restarts, whatever caused them. */
	if (restart && attempt - 1 < spec->max_restarts)
		return AE_RETRY;
	return ok ? AE_DONE : AE_GIVE_UP;
}

/*
 * A could not be started, WHY (its error), CODE the exit status of a worker
 * that ran (-1: none). A start that may succeed later (TRANSIENT: short of
 * processes, memory or fds) is an attempt that failed: A tries again after
 * its backoff, whatever its restart policy, until max_restarts. Any other
 * fails A at once.
 */
static void start_failed(struct agent *a, const char *why, int transient,
			 int code)
{
	const struct sup_agent *sp = a->spec;
	struct agent_ev x = {.why = why, .code = code};

	a->failures++;
	a->consecutive++;
	if (transient && a->attempt - 1 < sp->max_restarts) {
		x.delay_ms = agent_backoff(a);
		fire(a, AE_RETRY, &x);
		sup_log(SUP_ERROR,
			"agent '%s': %s; retrying in %" PRId64
			" ms (attempt %d)",
			sp->name, why, x.delay_ms, a->attempt);
		return;
	}
	if (transient)
		sup_log(SUP_ERROR,
			"agent '%s': %s; giving up after %d attempts", sp->name,
			why, a->attempt);
	else
		sup_log(SUP_ERROR, "agent '%s': %s", sp->name, why);
	fire(a, AE_GIVE_UP, &x);
}

/* Why the run of A that ended with CODE or SIG failed; NULL if it did not. */
static char *why_ended(const struct agent *a, int code, int sig)
{
	const struct outcome *e = &a->end;
	const struct adapter *ad = adapter_of(a->spec->kind);

	if (e->over_budget)
		return xasprintf("%s", e->over_budget);
	if (e->timed_out)
		return xasprintf("timed out after %" PRId64 " ms",
				 a->spec->timeout_ms);
	if (e->proto_error)
		return xasprintf("%s", e->why ? e->why : "protocol error");
	if (e->fail_text)
		return xasprintf("%s", e->fail_text);
	if (e->cgroup_note)
		return xasprintf("%s", e->cgroup_note);
	if (sig)
		return xasprintf("killed by signal %d (%s)", sig,
				 strsignal(sig));
	if (code == 127 && e->why && ad)
		return xasprintf("%s (%s_command '%s': install the CLI with "
				 "'npm install -g %s', or set %s_command to "
				 "its path)",
				 e->why, sup_kind_name(ad->kind),
				 a->spec->cli.command ? a->spec->cli.command[0]
						      : ad->program,
				 ad->package, sup_kind_name(ad->kind));
	if (code == 127 && e->why)
		return xasprintf("%s", e->why);
	if (code != 0)
		return xasprintf("exited with status %d", code);
	return NULL;
}

/*
 * A CLI agent's worker numbers the CLI's calls afresh at each run, so
 * they end with the run: one still open (the worker died before it could
 * say so) fails as interrupted, and none is remembered as a parent.
 */
static void end_calls(struct agent *a)
{
	struct run *r = a->run;

	for (size_t i = 0; i < a->calls.n && can_record(a); i++)
		if (wal_tool_complete(r->w, a->calls.v[i].id, NULL, 0, NULL,
				      "failed", "interrupted") < 0)
			sup_log(SUP_WARN, "agent '%s': %s", a->spec->name,
				wal_errmsg(r->w));
	a->calls.n = 0;
	a->parents.n = 0;
}

/* The attempt of A ended with STATUS (its worker's, or the one a living
 * worker said, ALIVE): decide what comes next. */
static void agent_exited(struct agent *a, int status, int alive)
{
	struct run *r = a->run;
	const struct sup_agent *sp = a->spec;
	struct agent_ev x = {.code = -1};
	enum agent_event ev;
	char *why = NULL;
	int ok, now = 0;

	/* Its lines written after a restart in this turn was sent. */
	sup_log_hold();
	r->running--;
	evtimer_del(a->timer);
	ctl_drain(a);
	/*
	 * A worker that died before saying "done" (SIGKILLed, crashed) may
	 * have left its agent's group alive: kill it. Its members are ours
	 * now (we are their subreaper) and not reaped yet, so the group id
	 * cannot have been recycled.
	 */
	if (a->pid > 0 && !a->end.worker_done)
		kill(-a->pid, SIGKILL);
	a->end.cgroup_note = contain_end(a, status);
	/* A worker that lives on may run the next attempt, unless we sent it
	 * a stop for this one (it may still be pending: worker/ctl.h). */
	if (alive) {
		a->idle = 1;
		if (a->state != A_RUNNING)
			release_worker(a);
	} else {
		ctl_close(a);
	}
	/* The agent is dead, so its pipe holds all it will ever send. */
	if (a->pipes)
		sup_stream_finish(a->pipes);
	if (WIFEXITED(status))
		x.code = WEXITSTATUS(status);
	else if (WIFSIGNALED(status))
		x.sig = WTERMSIG(status);
	/* The worker ran but could not start the agent, for now. */
	if (a->end.transient && !a->pid && !r->p.stopping) {
		start_failed(a, a->end.why ? a->end.why
					   : "cannot start the agent",
			     1, x.code);
		goto out;
	}
	ok = x.code == 0 && !a->end.fail_text && !a->end.proto_error &&
	     !a->end.timed_out && !a->end.over_budget;
	x.why = why = why_ended(a, x.code, x.sig);
	sup_log(ok ? SUP_INFO : SUP_WARN, "agent '%s' ended: %s", sp->name,
		why ? why : "exited with status 0");
	/* Without a transaction the rows cannot be updated (the error is in
	 * the log), but the agent ended all the same. */
	batch(r);
	if (adapter_of(sp->kind))
		end_calls(a);
	/* Neither a protocol error nor a budget is cured by a restart. */
	ev = agent_verdict(sp, a->attempt, ok, r->p.stopping != 0,
			   a->end.proto_error || a->end.over_budget);
	if (ev != AE_CANCEL) {
		if (cm_mono_ms() - a->started_ms >= sp->startsecs_ms)
			a->consecutive = 0;
		if (!ok)
			a->failures++, a->consecutive++;
	}
	if (ev == AE_RETRY)
		x.delay_ms = ok ? 0 : agent_backoff(a);
	fire(a, ev, &x);
	if (ev == AE_RETRY)
		sup_log(SUP_INFO,
			"agent '%s' restarts in %" PRId64 " ms (attempt %d)",
			sp->name, x.delay_ms, a->attempt);
	else if (ev == AE_GIVE_UP && !r->p.stopping && !a->end.proto_error &&
		 !a->end.over_budget &&
		 sp->restart != SUP_RESTART_NEVER)
		sup_log(SUP_WARN, "agent '%s' failed %d times: giving up",
			sp->name, a->failures);
	now = ev == AE_RETRY && x.delay_ms == 0;
out:
	free(why);
	schedule(r); /* the loop checks the phase after the turn */
	/* No backoff: the replacement starts in this turn, before the turn's
	 * commit (which then covers its row too), not after it; after the
	 * agents that waited for a slot, as when a backoff ends. */
	if (now && a->state == A_BACKOFF) {
		evtimer_del(a->timer);
		fire(a, AE_TIMER, NULL);
		sup_log_flush(); /* sent: now the lines */
		if (a->state == A_RUNNING)
			wal_failpoint("restart-before-commit");
	}
	/* Not taken by a restart now: it goes. */
	release_worker(a);
	sup_log_flush();
}

void agents_ended(struct run *r)
{
	if (!r->ended_pending || (disk_is_full(r) && !r->p.stopping))
		return; /* as reap() */
	r->ended_pending = 0;
	for (size_t i = 0; i < r->wf->nagents; i++) {
		struct agent *a = &r->agents[i];

		if (a->end.ended &&
		    (a->state == A_RUNNING || a->state == A_STOPPING))
			agent_exited(a, a->end.ended_status, 1);
	}
}

static struct agent *agent_of_worker(struct run *r, pid_t pid)
{
	for (size_t i = 0; i < r->wf->nagents; i++)
		if (r->agents[i].worker == pid &&
		    (r->agents[i].state == A_RUNNING ||
		     r->agents[i].state == A_STOPPING))
			return &r->agents[i];
	return NULL;
}

void reap(struct run *r)
{
	int status;
	pid_t pid;

	if (disk_is_full(r) && !r->p.stopping)
		return; /* commit.c reaps when there is space again */
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		struct agent *a = agent_of_worker(r, pid);

		/* A worker that died after it said "ended" told the
		 * agent's own status. */
		if (a)
			agent_exited(a, a->end.ended ? a->end.ended_status
						     : status,
				     0);
		else if (!forget_released(r, pid) && !zygote_reaped(r, pid))
			sup_log(SUP_DEBUG, "reaped orphan %ld", (long)pid);
	}
}

/* Start A, or see to what its failure calls for (start_failed). */
static void start(struct agent *a)
{
	const char *what;
	char *why;
	int err;

	if (spawn(a, &what) == 0) {
		fire(a, AE_SPAWNED, NULL);
		return;
	}
	err = errno;
	if (!what) {
		struct agent_ev x = {.why = "cannot start its worker",
				     .code = -1};

		fire(a, AE_GIVE_UP, &x);
		return;
	}
	why = xasprintf("cannot %s: %s", what, strerror(err));
	start_failed(a, why, wrk_transient_errno(err), -1);
	free(why);
}

void schedule(struct run *r)
{
	size_t limit = r->wf->max_parallel > 0 ? (size_t)r->wf->max_parallel
					       : SIZE_MAX;

	if (r->p.stopping || disk_is_full(r))
		return;
	for (size_t i = 0; i < r->wf->nagents && (size_t)r->running < limit;
	     i++) {
		struct agent *a = &r->agents[i];

		if (a->state == A_PENDING)
			start(a);
	}
}

static void agent_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct agent *a = arg;

	(void)fd;
	(void)what;
	/* Out of backoff while the run stops: it does not run again. */
	if (a->state == A_BACKOFF && a->run->p.stopping)
		agent_fire(a, AE_CANCEL);
	else
		agent_fire(a, AE_TIMER);
}

void agents_to_mirror(struct run *r)
{
	/* A turn that changed no agent walks none: an idle run's wakes
	 * cost nothing per agent. */
	if (!r->agents_dirty)
		return;
	r->agents_dirty = 0;
	for (size_t i = 0; r->mirror && i < r->wf->nagents; i++) {
		struct agent *a = &r->agents[i];
		struct sup_mirror_agent m = {
			.id = a->id,
			.name = a->spec->name,
			.phase = r->wf->phases[a->spec->phase].name,
			.status = agent_state_name(a->state),
			.pid = a->pid,
			.attempt = a->attempt,
			.iteration = r->p.iteration,
			.started_ms = -1,
		};

		sup_mirror_agent(r->mirror, i, &m);
	}
}

int agent_init(struct run *r, struct agent *a, size_t index)
{
	a->run = r;
	a->spec = &r->wf->agents[index];
	a->index = index;
	a->ctl.fd = -1;
	if (a->spec->command)
		a->words = command_words(a->spec->command);
	a->timer = evtimer_new(r->base, agent_timer_cb, a);
	return a->timer ? 0 : -1;
}

void agent_release(struct agent *a)
{
	if (!a->run)
		return; /* never set up */
	ctl_close(a);
	if (a->timer)
		event_free(a->timer);
	a->timer = NULL;
	free(a->end.why);
	free(a->end.fail_text);
	free(a->end.result_text);
	free(a->end.result_json);
	free(a->end.over_budget);
	free(a->end.cgroup_note);
	free_strv(a->words);
	free(a->calls.v);
	free(a->parents.v);
}
