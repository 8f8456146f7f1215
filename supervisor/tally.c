/*
 * tally.c - the counters an agent's messages add to its row and to its
 * execution's (tokens, cache tokens, cost, tool calls), kept in memory
 * during a turn and written once per agent, in the turn's batch, before it
 * commits.
 *
 * A CLI's stream reports usage with nearly every message and starts a tool
 * call every few: two UPDATEs each, in their own savepoint, were most of
 * what the store did for them. Here they add up, and commit_turn() writes
 * the sum (tally_flush()) just before the commit: the counters are exact at
 * every commit, and in the same transaction as the rows they count, so a
 * crash loses both or neither. What is pending belongs to one agent row
 * (a restart starts another): a report for another row writes the old one
 * first.
 */
#include "config.h"

#include <errno.h>
#include <math.h>

#include "supervisor/sup-int.h"
#include "wal/wal.h"

static int pending(const struct tally *t)
{
	return t->u.in || t->u.out || t->u.cache_read || t->u.cache_write ||
	       t->u.reasoning || t->u.cost != 0 || t->u.has_cost ||
	       t->tool_calls;
}

/* Write what A has pending; 0, or -1 with the store's error (nothing
 * written, still pending). */
static int flush_one(struct run *r, struct agent *a)
{
	struct tally *t = &a->tally;
	struct wal_usage wu = {
		.tokens_in = t->u.in,
		.tokens_out = t->u.out,
		.cache_read = t->u.cache_read,
		.cache_write = t->u.cache_write,
		.cost_usd = t->u.cost,
		.tool_calls = t->tool_calls,
		.reasoning = t->u.reasoning,
		.has_cost = t->u.has_cost,
	};

	if (!pending(t))
		return 0;
	if (wal_agent_add_usage(r->w, t->row, &wu) < 0)
		return -1;
	*t = (struct tally){0};
	return 0;
}

int tally_add(struct agent *a, const struct usage *d, int64_t tool_calls)
{
	struct tally *t = &a->tally;
	struct wal_usage bad;

	/* The store refuses a cost that is not a number, and an agent
	 * without a row: let it say so now, for this message, rather than
	 * fail the whole turn's commit. */
	if ((d && !isfinite(d->cost)) || a->id <= 0) {
		bad = (struct wal_usage){.cost_usd = d ? d->cost : 0,
					 .has_cost = 1};
		return wal_agent_add_usage(a->run->w, a->id, &bad);
	}
	if (t->row != a->id && flush_one(a->run, a) < 0)
		return -1;
	t->row = a->id;
	if (d) {
		t->u.in += d->in;
		t->u.out += d->out;
		t->u.cache_read += d->cache_read;
		t->u.cache_write += d->cache_write;
		t->u.reasoning += d->reasoning;
		t->u.cost += d->cost;
		t->u.has_cost |= d->has_cost;
	}
	t->tool_calls += tool_calls;
	return 0;
}

int tally_flush(struct run *r)
{
	for (size_t i = 0; i < r->wf->nagents; i++)
		if (flush_one(r, &r->agents[i]) < 0)
			return -1;
	return 0;
}
