/*
 * phase.c - phases and their Ralph loops: starting an iteration, deciding
 * what follows it once every agent of it ended (phase_next, with the
 * phase's `until` condition read from the store), and the end of the
 * execution.
 *
 * A phase iteration ends when none of its agents is pending, running,
 * stopping or in backoff. A failed iteration either stops the execution
 * (on_failure = stop) or goes on to the next phase. Without `until`, a
 * phase runs max_iterations times; with it, until it holds, and a loop
 * that reaches max_iterations without it holding has failed.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include "supervisor/cond.h"
#include "supervisor/mirror.h"
#include "supervisor/slog.h"
#include "supervisor/stream.h"
#include "supervisor/sup-int.h"
#include "wal/wal.h"

enum phase_step phase_next(const struct sup_phase *ph, int iteration,
			   int failed, int holds)
{
	int more = iteration + 1 < ph->max_iterations;

	if (failed)
		return ph->on_failure == SUP_ON_FAILURE_STOP ? STEP_STOP
							     : STEP_NEXT_FAILED;
	if (holds < 0)
		return STEP_ERROR;
	if (!holds) {
		if (more)
			return STEP_REPEAT;
		return ph->on_failure == SUP_ON_FAILURE_STOP ? STEP_STOP
							     : STEP_NEXT_FAILED;
	}
	return !ph->until && more ? STEP_REPEAT : STEP_NEXT;
}

void phase_start(struct run *r)
{
	struct progress *p = &r->p;
	const struct sup_phase *ph = &r->wf->phases[p->phase];

	if (batch(r) < 0) {
		finish(r);
		return;
	}
	p->phase_id = wal_phase_start(r->w, p->exec_id, ph->name, p->iteration);
	if (p->phase_id < 0) {
		sup_log(SUP_ERROR, "cannot record phase '%s': %s", ph->name,
			wal_errmsg(r->w));
		p->exit_status = 1;
		finish(r);
		return;
	}
	sup_log(SUP_INFO, "phase '%s' iteration %d", ph->name, p->iteration);
	sup_mirror_phase(r->mirror, ph->name, p->iteration);
	for (size_t i = 0; i < r->wf->nagents; i++) {
		struct agent *a = &r->agents[i];

		agent_fire(a, a->spec->phase == p->phase ? AE_BEGIN : AE_LEAVE);
	}
	schedule(r);
	phase_check(r);
}

/* Whether the phase's until condition holds now: 1, 0, or -1 when the
 * key cannot be read (an absent key is an answer; a store error is not). */
static int until_holds(struct run *r, const struct sup_phase *ph)
{
	const char *key = sup_cond_key(ph->until);
	char *value;
	int holds;

	errno = 0;
	value = wal_state_get(r->w, key);
	if (!value && errno != ENOENT) {
		sup_log(SUP_ERROR, "phase '%s': cannot read '%s': %s", ph->name,
			key, wal_errmsg(r->w));
		return -1;
	}
	holds = sup_cond_eval(ph->until, value);
	free(value);
	return holds;
}

/* Record the end of the phase iteration (FAILED or not): 0, or -1. */
static int phase_record(struct run *r, int failed)
{
	int rc = failed ? wal_phase_fail(r->w, r->p.phase_id)
			: wal_phase_complete(r->w, r->p.phase_id);

	if (rc < 0)
		sup_log(SUP_ERROR, "cannot record the end of phase '%s': %s",
			r->wf->phases[r->p.phase].name, wal_errmsg(r->w));
	return rc;
}

void phase_check(struct run *r)
{
	struct progress *p = &r->p;
	const struct sup_phase *ph;
	int failed = 0, holds = 1;

	if (p->finished || !p->exec_id || p->phase >= r->wf->nphases)
		return;
	for (size_t i = 0; i < r->wf->nagents; i++) {
		enum agent_state st = r->agents[i].state;

		if (st == A_PENDING || st == A_RUNNING || st == A_STOPPING ||
		    st == A_BACKOFF)
			return;
		failed |= st == A_FAILED || st == A_CANCELLED;
	}
	ph = &r->wf->phases[p->phase];
	if (batch(r) < 0) {
		/* The store is failing: nothing more can be recorded. */
		p->exit_status = 1;
		p->finished = 1;
		return;
	}
	if (p->stopping) {
		phase_record(r, 1);
		finish(r);
		return;
	}
	if (failed) {
		sup_log(SUP_WARN, "phase '%s' iteration %d failed", ph->name,
			p->iteration);
	} else if (ph->until) {
		holds = until_holds(r, ph);
	}
	if (phase_record(r, failed) < 0 || p->failure) {
		/* A budget crossed fails the execution, whatever on_failure
		 * says: nothing more may be spent. */
		p->exit_status = 1;
		finish(r);
		return;
	}
	switch (phase_next(ph, p->iteration, failed, holds)) {
	case STEP_REPEAT:
		p->iteration++;
		phase_start(r);
		return;
	case STEP_ERROR:
		p->exit_status = 1;
		finish(r);
		return;
	case STEP_STOP:
	case STEP_NEXT_FAILED:
		p->any_phase_failed = 1;
		if (!failed)
			sup_log(SUP_WARN,
				"phase '%s': '%s' still does not hold after "
				"%d iterations",
				ph->name, ph->until_text, ph->max_iterations);
		if (ph->on_failure == SUP_ON_FAILURE_STOP) {
			p->exit_status = 1;
			finish(r);
			return;
		}
		break;
	case STEP_NEXT:
		break;
	}
	p->phase++;
	p->iteration = 0;
	if (p->phase < r->wf->nphases) {
		phase_start(r);
		return;
	}
	if (p->any_phase_failed)
		p->exit_status = 1;
	finish(r);
}

void finish(struct run *r)
{
	struct progress *p = &r->p;
	const char *status;
	int rc;

	if (p->finished)
		return;
	p->finished = 1;
	if (batch(r) < 0) {
		p->exit_status = p->stopping > 0 ? 128 + p->stopping : 1;
		return;
	}
	if (p->stopping > 0) {
		rc = wal_execution_cancel(r->w, p->exec_id);
		p->exit_status = 128 + p->stopping;
	} else if (p->exit_status || p->stopping < 0) {
		if (!p->exit_status)
			p->exit_status = 1;
		rc = wal_execution_fail(
			r->w, p->exec_id,
			p->failure ? p->failure
				   : "a phase failed (see the agents' errors)");
	} else {
		rc = wal_execution_complete(r->w, p->exec_id, NULL);
	}
	if (rc < 0)
		sup_log(SUP_ERROR,
			"cannot record the end of execution %" PRId64 ": %s",
			p->exec_id, wal_errmsg(r->w));
	status = p->stopping > 0      ? "cancelled"
		 : p->exit_status == 0 ? "completed"
				       : "failed";
	sup_log(SUP_INFO, "execution %" PRId64 " %s", p->exec_id, status);
	sup_mirror_execution(r->mirror, p->exec_id, r->wf->name, status);
}

void stop_all(struct run *r, int why)
{
	r->p.stopping = why;
	if (r->streams)
		sup_streams_stopping(r->streams);
	for (size_t i = 0; i < r->wf->nagents; i++) {
		struct agent *a = &r->agents[i];

		if (a->state == A_PENDING || a->state == A_BACKOFF)
			agent_fire(a, AE_CANCEL);
		else
			stop_agent(a, why > 0 ? "the supervisor is stopping"
					      : "the execution failed");
	}
	phase_check(r);
}
