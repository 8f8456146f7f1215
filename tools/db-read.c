/*
 * db-read.c - the `smithers db` subcommands that read the store: state,
 * transitions, executions, memories, artifacts, statistics, the recovery
 * plan and read-only SQL (agents and tool calls: db-agents.c).
 *
 * Each runs on the read-only connection cmd-db.c opened before it, so it
 * never waits for nor disturbs a running supervisor. Text output shows the
 * columns a person wants (the *_cols lists); --json shows every column the
 * store returns.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "tools/db.h"
#include "tools/output.h"
#include "wal/wal.h"

static const char *const state_cols[] = {"key", "value", "updated_at",
					 "updated_by", NULL};
static const char *const transition_cols[] = {
	"id",	   "key",      "old_value",  "new_value",
	"trigger", "agent_id", "created_at", NULL};
/* With the budget column when an execution has a budget. */
static const char *const execution_cols[] = {"id",
					     "name",
					     "workflow",
					     "status",
					     "started_at",
					     "duration_ms",
					     "total_iterations",
					     "total_agents",
					     "total_tool_calls",
					     "tokens_in",
					     "tokens_out",
					     "reasoning_tokens",
					     "cache_read_tokens",
					     "cache_write_tokens",
					     "cost_usd",
					     "max_cost_usd",
					     NULL};
#define EXECUTION_NCOLS (sizeof(execution_cols) / sizeof(*execution_cols))
static const char *const phase_cols[] = {
	"id",	      "name",	     "iteration",   "status",
	"started_at", "duration_ms", "agent_count", NULL};
static const char *const agent_cols[] = {
	"id",	    "phase",	       "iteration", "name",	 "kind",
	"status",   "attempt",	       "pid",	    "exit_code", "exit_signal",
	"cost_usd", "tool_call_count", "error",	    NULL};
static const char *const memory_cols[] = {
	"id",	      "category",   "scope", "key", "content",
	"confidence", "updated_at", "rank",  NULL};
static const char *const artifact_cols[] = {
	"id",	    "agent",	  "name",	"type",	     "file_path",
	"git_hash", "git_commit", "line_count", "byte_size", NULL};
static const char *const recovery_cols[] = {
	"execution_id", "execution", "phase_id", "phase",
	"iteration",	"agent_id",  "agent",	 "status",
	"attempt",	"action",    NULL};

static const char *const categories[] = {"fact",    "learning", "preference",
					 "context", "skill",	NULL};
static const char *const scopes[] = {"global", "project", "session", NULL};

static int db_list_end(struct db_run *r, int rc, const char *what)
{
	if (rc < 0)
		return db_fail(r, what);
	out_list_end(r->out);
	return EXIT_OK;
}

/* Print the row of the state key wanted (ARG is the db_run). */
static int state_key_row(const struct wal_row *row, void *arg)
{
	struct db_run *r = arg;
	const char *k = wal_row_value(row, "key");
	const char *v = wal_row_value(row, "value");

	if (!k || strcmp(k, r->args[0]))
		return 0;
	if (r->ctx->json) {
		out_object_begin(r->out, row);
		out_object_end(r->out);
	} else {
		printf("%s\n", v ? v : "null");
	}
	return 1;
}

static int db_state(struct db_run *r)
{
	int rc;

	if (r->nargs == 1) {
		rc = wal_state_all(r->w, state_key_row, r);
		if (rc < 0)
			return db_fail(r, "state");
		if (rc == 0) {
			fprintf(stderr, "smithers: no state key '%s'\n",
				r->args[0]);
			return EXIT_FAIL;
		}
		return EXIT_OK;
	}
	out_list_begin(r->out, NULL, state_cols);
	rc = wal_state_all(r->w, out_row, r->out);
	return db_list_end(r, rc, "state");
}

const struct db_sub db_sub_state = {
	"state", "[KEY]", "state keys and their JSON values",
	"Without KEY, list every state key with its value, when and by\n"
	"which agent it was last set. With KEY, print its JSON value alone\n"
	"(with --json: the key's row as one object); exit status 1 if\n"
	"there is no such key.",
	0, 0, 1, DB_READ, db_state,
};

static int db_transitions(struct db_run *r)
{
	out_list_begin(r->out, NULL, transition_cols);
	return db_list_end(
		r,
		wal_state_history(r->w, r->key, (int)r->limit, out_row, r->out),
		"transitions");
}

const struct db_sub db_sub_transitions = {
	"transitions", "", "the history of state changes, newest first",
	"List state transitions, newest first: key, old and new value,\n"
	"trigger and agent. A deletion has a null new value.\n"
	"\n"
	"  --key KEY   only the transitions of KEY\n"
	"  -n N        at most N transitions (0: all)",
	DB_OPT_KEY | DB_OPT_N, 0, 0, DB_READ, db_transitions,
};

static int any_row(const struct wal_row *row, void *arg)
{
	(void)row;
	*(int *)arg = 1;
	return 1;
}

static int db_executions(struct db_run *r)
{
	const char *cols[EXECUTION_NCOLS];
	int budget = 0;

	memcpy(cols, execution_cols, sizeof(cols));
	if (wal_query(r->w,
		      "SELECT 1 FROM executions WHERE max_cost_usd IS NOT NULL"
		      " LIMIT 1",
		      any_row, &budget) < 0)
		return db_fail(r, "executions");
	if (!budget) /* the column before the NULL */
		cols[EXECUTION_NCOLS - 2] = NULL;
	out_list_begin(r->out, NULL, cols);
	return db_list_end(
		r, wal_execution_list(r->w, (int)r->limit, db_text_row, r),
		"executions");
}

const struct db_sub db_sub_executions = {
	"executions", "", "workflow executions, newest first",
	"List executions, newest first, with their status and counters:\n"
	"tokens in and out, reasoning tokens (a part of tokens out), cache\n"
	"tokens read and written, cost in US dollars ('-' when unknown: no\n"
	"agent reported one; null in --json), and the budget (MAX_COST_USD)\n"
	"when an execution has one.\n"
	"\n"
	"  -n N        at most N executions (0: all)",
	DB_OPT_N, 0, 0, DB_READ, db_executions,
};

struct found {
	struct db_run *r;
	int found;
};

static int object_row(const struct wal_row *row, void *arg)
{
	struct found *f = arg;

	db_text_object(f->r, row);
	f->found = 1;
	return 1;
}

/* Execution ID with its phases and agents. */
static int show_execution(struct db_run *r, long long id)
{
	struct found f = {r, 0};
	int rc;

	rc = wal_execution_get(r->w, id, object_row, &f);
	if (!f.found) {
		if (rc < 0 && errno != ENOENT)
			return db_fail(r, "executions");
		fprintf(stderr, "smithers: no execution %lld\n", id);
		return EXIT_FAIL;
	}
	out_list_begin(r->out, "phases", phase_cols);
	rc = wal_phase_list(r->w, id, out_row, r->out);
	if (rc < 0)
		return db_fail(r, "phases");
	out_list_end(r->out);
	out_list_begin(r->out, "agents", agent_cols);
	rc = wal_agent_list(r->w, id, db_text_row, r);
	if (rc < 0)
		return db_fail(r, "agents");
	out_list_end(r->out);
	out_object_end(r->out);
	return EXIT_OK;
}

static int db_execution(struct db_run *r)
{
	long long id;

	if (cmd_parse_int64(r->args[0], 1, INT64_MAX, &id) < 0) {
		fprintf(stderr,
			"smithers: '%s' is not an execution id (a number "
			"from 1)\n",
			r->args[0]);
		return EXIT_USAGE;
	}
	return show_execution(r, id);
}

const struct db_sub db_sub_execution = {
	"execution", "ID", "one execution with its phases and agents",
	"Show execution ID: every column (the budget, max_cost_usd, when it\n"
	"has one; costs in US dollars, '-' when unknown; containment, how its\n"
	"agents were contained, '-' when not recorded), then its phase\n"
	"iterations and its agents, with their kind and cost ('db agents\n"
	"ID' shows their sessions and usage). Exit\n"
	"status 1 if there is no such execution.",
	0, 1, 1, DB_READ, db_execution,
};

static int db_current(struct db_run *r)
{
	int64_t id = wal_execution_current(r->w);

	if (id < 0)
		return db_fail(r, "executions");
	if (id > 0)
		return show_execution(r, id);
	if (r->ctx->json)
		out_json_null(r->out);
	else
		puts("no execution is running");
	return EXIT_OK;
}

const struct db_sub db_sub_current = {
	"current", "", "the running execution",
	"Show the newest execution that is running or pending, as\n"
	"'execution ID' does; 'no execution is running' (JSON: null)\n"
	"when there is none.",
	0, 0, 0, DB_READ, db_current,
};

static int one_of(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(s, *list))
			return 1;
	return 0;
}

struct scope_filter {
	struct db_run *r;
	long long rows;
};

/* Search has no scope: drop the rows of other scopes, count the limit. */
static int scope_row(const struct wal_row *row, void *arg)
{
	struct scope_filter *f = arg;
	const char *s = wal_row_value(row, "scope");

	if (s && strcmp(s, f->r->scope))
		return 0;
	if (f->r->limit > 0 && f->rows >= f->r->limit)
		return 2; /* stop: enough rows */
	f->rows++;
	return out_row(row, f->r->out);
}

static int db_memories(struct db_run *r)
{
	struct scope_filter f = {r, 0};
	int rc;

	if (r->category && !one_of(r->category, categories)) {
		fprintf(stderr,
			"smithers: unknown category '%s' (fact, learning, "
			"preference, context or skill)\n",
			r->category);
		return EXIT_USAGE;
	}
	if (r->scope && !one_of(r->scope, scopes)) {
		fprintf(stderr,
			"smithers: unknown scope '%s' (global, project or "
			"session)\n",
			r->scope);
		return EXIT_USAGE;
	}
	out_list_begin(r->out, NULL, memory_cols);
	if (!r->search)
		rc = wal_memory_list(r->w, r->category, r->scope, (int)r->limit,
				     out_row, r->out);
	else if (r->scope)
		rc = wal_memory_search(r->w, r->search, r->category, 0,
				       scope_row, &f);
	else
		rc = wal_memory_search(r->w, r->search, r->category,
				       (int)r->limit, out_row, r->out);
	if (rc < 0 && r->search && errno == EINVAL) {
		fprintf(stderr, "smithers: %s\n", wal_errmsg(r->w));
		return EXIT_FAIL;
	}
	return db_list_end(r, rc, "memories");
}

const struct db_sub db_sub_memories = {
	"memories", "", "memories, newest first or by relevance",
	"List memories, newest first; with --search, the best matches of\n"
	"a full-text query (FTS5 syntax) over key and content first.\n"
	"\n"
	"  --search Q     full-text query\n"
	"  --category C   fact, learning, preference, context or skill\n"
	"  --scope S      global, project or session\n"
	"  -n N           at most N memories (0: all)",
	DB_OPT_SEARCH | DB_OPT_CATEGORY | DB_OPT_SCOPE | DB_OPT_N,
	0, 0, DB_READ, db_memories,
};

static int db_artifacts(struct db_run *r)
{
	out_list_begin(r->out, NULL, artifact_cols);
	return db_list_end(
		r, wal_artifact_list(r->w, (int)r->limit, out_row, r->out),
		"artifacts");
}

const struct db_sub db_sub_artifacts = {
	"artifacts", "", "recorded artifacts, newest first",
	"List artifacts: file path, git blob hash, the HEAD commit of the\n"
	"repository holding the file, size and line count.\n"
	"\n"
	"  -n N         at most N artifacts (0: all)",
	DB_OPT_N, 0, 0, DB_READ, db_artifacts,
};

static int db_stats(struct db_run *r)
{
	enum { NSTAT = 20 };
	static const char *const names[NSTAT] = {
		"database",	 "schema_version", "journal_mode", "page_size",
		"page_count",	 "freelist_count", "db_bytes",	   "wal_bytes",
		"executions",	 "phases",	   "agents",	   "tool_calls",
		"state",	 "transitions",	   "memories",	   "artifacts",
		"supervisor_pid", "fleet_unshipped", "fleet_lag_s",
		"fleet_unverified"};
	char buf[NSTAT][24];
	const char *values[NSTAT];
	enum wal_type types[NSTAT];
	struct wal_stats st;
	struct wal_fleet_lag lag;
	struct wal_row row = {NSTAT, names, values, types};
	int64_t nums[NSTAT - 7], unverified = 0;
	pid_t holder;
	int i;

	if (wal_stats(r->w, &st) < 0 || wal_fleet_lag(r->w, &lag) < 0 ||
	    (lag.verifying &&
	     (unverified = wal_fleet_unverified_rows(r->w)) < 0))
		return db_fail(r, "statistics");
	holder = wal_lock_holder(r->ctx->dir);
	nums[0] = st.page_size;
	nums[1] = st.page_count;
	nums[2] = st.freelist_count;
	nums[3] = st.db_bytes;
	nums[4] = st.wal_bytes;
	nums[5] = st.executions;
	nums[6] = st.phases;
	nums[7] = st.agents;
	nums[8] = st.tool_calls;
	nums[9] = st.state;
	nums[10] = st.transitions;
	nums[11] = st.memories;
	nums[12] = st.artifacts;
	values[0] = wal_db_path(r->w);
	types[0] = WAL_TEXT;
	snprintf(buf[1], sizeof(buf[1]), "%d", st.schema_version);
	values[1] = buf[1];
	types[1] = WAL_INTEGER;
	values[2] = st.journal_mode;
	types[2] = WAL_TEXT;
	for (i = 3; i < NSTAT - 4; i++) {
		snprintf(buf[i], sizeof(buf[i]), "%lld",
			 (long long)nums[i - 3]);
		values[i] = buf[i];
		types[i] = WAL_INTEGER;
	}
	i = NSTAT - 4;
	snprintf(buf[i], sizeof(buf[0]), "%ld", (long)holder);
	values[i] = holder > 0 ? buf[i] : NULL;
	types[i] = holder > 0 ? WAL_INTEGER : WAL_NULL;
	/* Shipping to a fleet: rows not shipped, and how long the oldest of
	 * them has waited (whole seconds); null when it is off, the age
	 * null when nothing waits. */
	i = NSTAT - 3;
	snprintf(buf[i], sizeof(buf[0]), "%lld", (long long)lag.rows);
	values[i] = lag.on ? buf[i] : NULL;
	types[i] = lag.on ? WAL_INTEGER : WAL_NULL;
	i = NSTAT - 2;
	snprintf(buf[i], sizeof(buf[0]), "%lld",
		 (long long)(lag.oldest_ms
				     ? (cm_wall_ms() - lag.oldest_ms) / 1000
				     : 0));
	values[i] = lag.on && lag.oldest_ms ? buf[i] : NULL;
	types[i] = lag.on && lag.oldest_ms ? WAL_INTEGER : WAL_NULL;
	/* Shipped, and not verified against the fleet view yet: null when
	 * it is not verified. */
	i = NSTAT - 1;
	snprintf(buf[i], sizeof(buf[0]), "%lld", (long long)unverified);
	values[i] = lag.on && lag.verifying ? buf[i] : NULL;
	types[i] = lag.on && lag.verifying ? WAL_INTEGER : WAL_NULL;
	out_object_begin(r->out, &row);
	out_object_end(r->out);
	return EXIT_OK;
}

const struct db_sub db_sub_stats = {
	"stats", "", "row counts and database size",
	"Show the row count of every table, the size of the database and\n"
	"of its WAL, page count and size, free pages, journal mode, the\n"
	"schema version, the pid of the running supervisor (if any), and\n"
	"what is not shipped to the fleet yet (if it ships).",
	0, 0, 0, DB_READ, db_stats,
};

static int db_recovery(struct db_run *r)
{
	pid_t holder = wal_lock_holder(r->ctx->dir);

	if (holder > 0)
		fprintf(stderr,
			"smithers: note: a supervisor (pid %ld) is running: "
			"its executions are live, not interrupted\n",
			(long)holder);
	out_list_begin(r->out, NULL, recovery_cols);
	if (wal_recovery_plan(r->w, out_row, r->out) < 0)
		return db_fail(r, "the recovery plan");
	if (!r->ctx->json && !out_rows(r->out)) {
		puts("nothing to resume: no execution was left running");
		return EXIT_OK;
	}
	out_list_end(r->out);
	return EXIT_OK;
}

const struct db_sub db_sub_recovery = {
	"recovery", "", "what a restarted supervisor would resume",
	"For each execution left running or pending, the newest phase\n"
	"iteration and each of its agents: ACTION is 'skip' for a\n"
	"completed agent and 'resume' for the others. While a supervisor\n"
	"runs, its executions are live, not interrupted: a note says so.",
	0, 0, 0, DB_READ, db_recovery,
};
static int db_query(struct db_run *r)
{
	size_t len = 0;
	char *sql;
	int i, rc;

	for (i = 0; i < r->nargs; i++)
		len += strlen(r->args[i]) + 1;
	sql = xmalloc(len + 1);
	sql[0] = '\0';
	for (i = 0; i < r->nargs; i++) {
		if (i)
			strcat(sql, " ");
		strcat(sql, r->args[i]);
	}
	out_list_begin(r->out, NULL, NULL);
	rc = wal_query(r->w, sql, out_row, r->out);
	free(sql);
	if (rc < 0 && errno == EPERM) {
		fprintf(stderr, "smithers: 'db query' is read-only: %s\n",
			wal_errmsg(r->w));
		return EXIT_FAIL;
	}
	if (rc < 0) {
		fprintf(stderr, "smithers: query failed: %s\n",
			wal_errmsg(r->w));
		return EXIT_FAIL;
	}
	out_list_end(r->out);
	return EXIT_OK;
}

const struct db_sub db_sub_query = {
	"query", "SQL", "run read-only SQL",
	"Run SQL (several words are joined by spaces; several statements\n"
	"may be separated by ';') and print the rows. The connection is\n"
	"read-only: a statement that would write is refused before\n"
	"anything runs.",
	0, 1, -1, DB_READ, db_query,
};
