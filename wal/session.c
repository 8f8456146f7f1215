/*
 * session.c - what an agent's CLI reports about its agent, and what it
 * costs: the CLI's session (id, model, version, tools), the attempts that
 * resumed it, the usage counters (tokens, cache and reasoning tokens,
 * cost) an agent and its execution keep, the execution's budget and
 * what it spent, and what an agent's process tree used (peak memory, CPU
 * time), as its cgroup counted it.
 *
 * Increments may be negative: a stream's final totals correct what its
 * increments added, and the agent's and the execution's counters move
 * together, in one savepoint.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>

#include "wal/wal-int.h"

/* The counters of an agent and of its execution; wal_run() keeps both
 * prepared. A cost is added only when it is known (?8): NULL, unknown,
 * plus a known cost is that cost. */
static const char agent_usage_sql[] =
	"UPDATE agents SET tokens_in = tokens_in + ?2,"
	" tokens_out = tokens_out + ?3,"
	" cache_read_tokens = cache_read_tokens + ?4,"
	" cache_write_tokens = cache_write_tokens + ?5,"
	" cost_usd = CASE WHEN ?8 THEN coalesce(cost_usd, 0) + ?6"
	"  ELSE cost_usd END,"
	" tool_call_count = tool_call_count + ?7,"
	" reasoning_tokens = reasoning_tokens + ?9 WHERE id = ?1";
static const char execution_usage_sql[] =
	"UPDATE executions SET tokens_in = tokens_in + ?2,"
	" tokens_out = tokens_out + ?3,"
	" cache_read_tokens = cache_read_tokens + ?4,"
	" cache_write_tokens = cache_write_tokens + ?5,"
	" cost_usd = CASE WHEN ?8 THEN coalesce(cost_usd, 0) + ?6"
	"  ELSE cost_usd END,"
	" total_tool_calls = total_tool_calls + ?7,"
	" reasoning_tokens = reasoning_tokens + ?9"
	" WHERE id = (SELECT execution_id FROM agents WHERE id = ?1)";

/* Run the usage statement SQL for AGENT and U: rows changed, or -1. */
static int64_t run_usage(struct wal *w, const char *sql, int64_t agent,
			 const struct wal_usage *u)
{
	return wal_run(w, "cannot record usage", sql, "IIIIIdIII", agent,
		       u->tokens_in, u->tokens_out, u->cache_read,
		       u->cache_write, u->has_cost ? u->cost_usd : 0.0,
		       u->tool_calls, (int64_t)(u->has_cost != 0),
		       u->reasoning);
}

static int64_t add_usage(struct wal *w, int64_t agent,
			 const struct wal_usage *u)
{
	if (!u)
		return wal_fail(w, EINVAL, "no usage to record");
	/* SQLite would store NaN as NULL, and infinities stick forever. */
	if (u->has_cost && !isfinite(u->cost_usd))
		return wal_fail(w, EINVAL,
				"agent %" PRId64 ": cost is not a number",
				agent);
	if (wal_need_row(w, run_usage(w, agent_usage_sql, agent, u), "agent",
			 agent) < 0)
		return -1;
	return run_usage(w, execution_usage_sql, agent, u);
}

int wal_agent_add_usage(struct wal *w, int64_t agent_id,
			const struct wal_usage *u)
{
	return wal_status(WAL_OP(w, add_usage(w, agent_id, u)));
}

int wal_agent_usage(struct wal *w, int64_t agent_id, int64_t tokens_in,
		    int64_t tokens_out)
{
	struct wal_usage u = {.tokens_in = tokens_in, .tokens_out = tokens_out};

	/* The protocol's usage message counts up; only a stream corrects. */
	if (tokens_in < 0 || tokens_out < 0)
		return wal_fail(w, EINVAL, "token counts cannot be negative");
	return wal_agent_add_usage(w, agent_id, &u);
}

static int64_t agent_session(struct wal *w, int64_t id, const char *session,
			     const char *model, const char *version,
			     const char *tools)
{
	int64_t r;

	r = wal_run(w, "cannot record session",
		    "UPDATE agents SET session_id = coalesce(?2, session_id),"
		    " model = coalesce(?3, model),"
		    " cli_version = coalesce(?4, cli_version),"
		    " tools = coalesce(?5, tools) WHERE id = ?1",
		    "Itttt", id, session, model, version, tools);
	/* Only the tools' CHECK can fail a constraint here. */
	if (r < 0 && errno == EINVAL)
		return wal_fail(w, EINVAL,
				"agent %" PRId64 ": tools are not valid JSON",
				id);
	return wal_need_row(w, r, "agent", id);
}

int wal_agent_session(struct wal *w, int64_t agent_id, const char *session_id,
		      const char *model, const char *cli_version,
		      const char *tools_json)
{
	return wal_status(
		WAL_OP(w, agent_session(w, agent_id, session_id, model,
					cli_version, tools_json)));
}

int wal_agent_resume(struct wal *w, int64_t agent_id, const char *prompt)
{
	return wal_update_one(w, "agent", agent_id,
			      "UPDATE agents SET resume_prompt = ?2,"
			      " resumes = resumes + (?2 IS NOT NULL)"
			      " WHERE id = ?1",
			      "It", agent_id, prompt);
}

int wal_agent_resources(struct wal *w, int64_t agent_id, int64_t mem_peak,
			int64_t cpu_usec)
{
	return wal_update_one(w, "agent", agent_id,
			      "UPDATE agents SET mem_peak = ?2, cpu_usec = ?3"
			      " WHERE id = ?1",
			      "Inn", agent_id, mem_peak, cpu_usec);
}

int wal_execution_budget(struct wal *w, int64_t id, double max_cost_usd)
{
	if (isnan(max_cost_usd) || max_cost_usd == INFINITY)
		return wal_fail(w, EINVAL,
				"execution %" PRId64
				": budget is not a finite number",
				id);
	if (max_cost_usd < 0)
		return wal_update_one(
			w, "execution", id,
			"UPDATE executions SET max_cost_usd = NULL"
			" WHERE id = ?1",
			"I", id);
	return wal_update_one(w, "execution", id,
			      "UPDATE executions SET max_cost_usd = ?2"
			      " WHERE id = ?1",
			      "Id", id, max_cost_usd);
}
