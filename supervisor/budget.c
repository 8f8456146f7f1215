/*
 * budget.c - what the agents' usage costs, and the budgets: an agent's
 * max_cost_usd and the workflow's. An unattended run must never overspend
 * silently, so crossing a budget stops the agents it covers (SIGINT first,
 * so that the CLI ends its turn cleanly, then the stop signal after the
 * grace), fails them with "budget exceeded: $X of $Y", records the stop as
 * a change of the state key "smithers.budget" (trigger "budget") and fails
 * the execution.
 *
 * The counts an agent reports are increments, except for a report marked
 * total: the totals of the agent's session so far (the CLI's result line:
 * a resumed CLI counts every run of its session), which replace what the
 * session reported before. So the store gets the difference.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "supervisor/mirror.h"
#include "supervisor/slog.h"
#include "supervisor/sup-int.h"
#include "wal/wal.h"

/* Record the stop in "smithers.budget": who crossed which budget. */
static void record_stop(struct agent *a, const char *scope, double spent,
			double limit)
{
	struct run *r = a->run;
	json_t *v = json_pack("{s:s, s:s, s:f, s:f}", "scope", scope, "agent",
			      a->spec->name, "spent_usd", spent, "limit_usd",
			      limit);
	char *text = v ? json_dumps(v, JSON_COMPACT) : NULL;

	if (!text || wal_state_set(r->w, "smithers.budget", text, "budget",
				   a->id) < 0)
		sup_log(SUP_WARN, "cannot record the budget's stop: %s",
			text ? wal_errmsg(r->w) : "out of memory");
	else
		sup_mirror_key(r->mirror, "smithers.budget", text);
	free(text);
	json_decref(v);
}

/* A crossed its own budget, or (WHOLE) the execution's: SPENT of LIMIT. */
static void over(struct agent *a, int whole, double spent, double limit)
{
	struct run *r = a->run;
	char *why = xasprintf("budget exceeded: $%.4f of $%.2f%s", spent,
			      limit, whole ? " (the execution's)" : "");

	sup_log(SUP_WARN, "agent '%s': %s", a->spec->name, why);
	record_stop(a, whole ? "execution" : "agent", spent, limit);
	if (!r->p.failure)
		r->p.failure = xasprintf("%s", why);
	if (!whole) {
		agent_over_budget(a, why);
	} else {
		for (size_t i = 0; i < r->wf->nagents; i++)
			if (r->agents[i].state != A_IDLE)
				agent_over_budget(&r->agents[i], why);
	}
	free(why);
}

static void check(struct agent *a)
{
	struct run *r = a->run;
	double mine = a->spec->claude.max_cost_usd;
	double all = r->wf->max_cost_usd;

	if (mine > 0 && a->session.cost >= mine && !a->end.over_budget)
		over(a, 0, a->session.cost, mine);
	if (all > 0 && r->p.cost >= all && !r->p.over_budget) {
		r->p.over_budget = 1;
		over(a, 1, r->p.cost, all);
	}
}

int budget_usage(struct agent *a, const struct usage *u, int total)
{
	struct run *r = a->run;
	struct usage *run = &a->session.sum;
	struct usage d = *u;

	if (total) {
		d.in -= run->in;
		d.out -= run->out;
		d.cache_read -= run->cache_read;
		d.cache_write -= run->cache_write;
		d.cost -= run->cost;
	}
	if (tally_add(a, &d, 0) < 0)
		return -1;
	run->in += d.in;
	run->out += d.out;
	run->cache_read += d.cache_read;
	run->cache_write += d.cache_write;
	run->cost += d.cost;
	a->session.cost += d.cost;
	r->p.cost += d.cost;
	sup_mirror_agent_usage(r->mirror, a->index, d.in, d.out, d.cache_read,
			       d.cache_write, d.cost);
	check(a);
	return 0;
}
