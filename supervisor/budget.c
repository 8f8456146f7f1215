/*
 * budget.c - what the agents' usage costs, and the budgets: an agent's
 * max_cost_usd and max_tokens, and the workflow's. An unattended run must never overspend
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

/* Record the stop in "smithers.budget": who crossed which budget, of
 * dollars or (TOKENS) of tokens. */
static void record_stop(struct agent *a, const char *scope, int tokens,
			double spent, double limit)
{
	struct run *r = a->run;
	json_t *v = tokens ? json_pack("{s:s, s:s, s:I, s:I}", "scope", scope,
				       "agent", a->spec->name, "spent_tokens",
				       (json_int_t)spent, "limit_tokens",
				       (json_int_t)limit)
			   : json_pack("{s:s, s:s, s:f, s:f}", "scope", scope,
				       "agent", a->spec->name, "spent_usd",
				       spent, "limit_usd", limit);
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

/* A crossed its own budget, or (WHOLE) the execution's: SPENT of LIMIT,
 * dollars or (TOKENS) tokens. */
static void over(struct agent *a, int whole, int tokens, double spent,
		 double limit)
{
	struct run *r = a->run;
	const char *whose = whole ? " (the execution's)" : "";
	char *why = tokens ? xasprintf("token budget exceeded: %.0f of %.0f "
				       "tokens%s",
				       spent, limit, whose)
			   : xasprintf("budget exceeded: $%.4f of $%.2f%s",
				       spent, limit, whose);

	sup_log(SUP_WARN, "agent '%s': %s", a->spec->name, why);
	record_stop(a, whole ? "execution" : "agent", tokens, spent, limit);
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
	double mine = a->spec->cli.max_cost_usd;
	double all = r->wf->max_cost_usd;
	int64_t my_tokens = a->spec->cli.max_tokens;
	int64_t all_tokens = r->wf->max_tokens;

	if (mine > 0 && a->session.cost >= mine && !a->end.over_budget)
		over(a, 0, 0, a->session.cost, mine);
	if (my_tokens > 0 && a->session.tokens >= my_tokens &&
	    !a->end.over_budget)
		over(a, 0, 1, (double)a->session.tokens, (double)my_tokens);
	if (r->p.over_budget)
		return;
	if (all > 0 && r->p.cost >= all) {
		r->p.over_budget = 1;
		over(a, 1, 0, r->p.cost, all);
	} else if (all_tokens > 0 && r->p.tokens >= all_tokens) {
		r->p.over_budget = 1;
		over(a, 1, 1, (double)r->p.tokens, (double)all_tokens);
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
		d.reasoning -= run->reasoning;
		d.cost -= run->cost;
	}
	if (tally_add(a, &d, 0) < 0)
		return -1;
	run->in += d.in;
	run->out += d.out;
	run->cache_read += d.cache_read;
	run->cache_write += d.cache_write;
	run->cost += d.cost;
	run->reasoning += d.reasoning;
	a->session.cost += d.cost;
	r->p.cost += d.cost;
	a->session.tokens += d.in + d.out;
	r->p.tokens += d.in + d.out;
	if (d.has_cost)
		sup_mirror_agent_cost_known(r->mirror, a->index);
	if (d.reasoning)
		sup_mirror_agent_reasoning(r->mirror, a->index, d.reasoning);
	sup_mirror_agent_usage(r->mirror, a->index, d.in, d.out, d.cache_read,
			       d.cache_write, d.cost);
	check(a);
	return 0;
}
