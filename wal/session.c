/*
 * session.c - what an agent's CLI reports about its agent, and what it
 * costs: the CLI's session (id, model, version, tools), the attempts that
 * resumed it, the usage counters (tokens, cache tokens, cost) an agent and
 * its execution keep, and the execution's budget.
 *
 * Usage arrives with nearly every message of a CLI's stream, so its two
 * statements are prepared once per handle (sql.c). Increments may be
 * negative: a stream's final totals correct what its increments added, and
 * the agent's and the execution's counters move together, in one savepoint.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>

#include "wal/wal-int.h"

/* Bind AGENT and U to the usage statement ID and run it: rows changed,
 * or -1. */
static int64_t run_usage(struct wal *w, enum wal_stmt_id id, int64_t agent,
			 const struct wal_usage *u)
{
	sqlite3_stmt *st = wal_stmt(w, id);

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, agent);
	sqlite3_bind_int64(st, 2, u->tokens_in);
	sqlite3_bind_int64(st, 3, u->tokens_out);
	sqlite3_bind_int64(st, 4, u->cache_read);
	sqlite3_bind_int64(st, 5, u->cache_write);
	sqlite3_bind_double(st, 6, u->cost_usd);
	sqlite3_bind_int64(st, 7, u->tool_calls);
	if (wal_step_done(w, st, "cannot record usage") < 0)
		return -1;
	return sqlite3_changes64(w->db);
}

static int64_t add_usage(struct wal *w, int64_t agent,
			 const struct wal_usage *u)
{
	if (!u)
		return wal_fail(w, EINVAL, "no usage to record");
	/* SQLite would store NaN as NULL, and infinities stick forever. */
	if (!isfinite(u->cost_usd))
		return wal_fail(w, EINVAL,
				"agent %" PRId64 ": cost is not a number",
				agent);
	if (wal_need_row(w, run_usage(w, ST_AGENT_USAGE, agent, u), "agent",
			 agent) < 0)
		return -1;
	return run_usage(w, ST_EXECUTION_USAGE, agent, u);
}

int wal_agent_add_usage(struct wal *w, int64_t agent_id,
			const struct wal_usage *u)
{
	return wal_status(WAL_OP(w, add_usage(w, agent_id, u)));
}

int wal_agent_usage(struct wal *w, int64_t agent_id, int64_t tokens_in,
		    int64_t tokens_out)
{
	struct wal_usage u = {tokens_in, tokens_out, 0, 0, 0.0, 0};

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
