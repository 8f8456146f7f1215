/*
 * cmd-db.c - `smithers db SUBCOMMAND`: reading the store from the command
 * line, and the one write it allows (replay).
 *
 * Each subcommand is one entry of db_table: its synopsis, help, the options
 * it takes (DB_OPT_* bits) and how many arguments, and how it needs the
 * store. Reads open a read-only connection, so they never wait for nor
 * disturb a running supervisor. `replay` writes, so it first takes the
 * supervisor lock, exactly as a supervisor would: while one runs, nothing
 * else may write. `gc` (wal_gc) too, dry run included: it counts by doing
 * the work in a transaction it rolls back.
 *
 * Text output shows the columns a person wants (the *_cols lists); --json
 * shows every column the store returns.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/units.h"
#include "supervisor/supervisor.h"
#include "tools/output.h"
#include "tools/cli.h"
#include "wal/wal.h"

#define DB_OPT_N	(1u << 0)
#define DB_OPT_KEY	(1u << 1)
#define DB_OPT_SEARCH	(1u << 2)
#define DB_OPT_CATEGORY (1u << 3)
#define DB_OPT_SCOPE	(1u << 4)
#define DB_OPT_AGENT	(1u << 5)
#define DB_OPT_GC	(1u << 6) /* --keep, --older-than, --dry-run */

/* getopt_long values of gc's options. */
enum { OPT_KEEP = 0x300, OPT_OLDER_THAN, OPT_DRY_RUN, OPT_VIA_SUPERVISOR };
/* How long --via-supervisor waits for the supervisor's answer. */
#define DB_GC_VIA_TIMEOUT_S SUP_GC_REQUEST_MAX_AGE_S

/* gc's rule when no rule is given. */
#define DB_GC_KEEP 100
/* Exit status of a write refused because a supervisor runs (as `run`). */
#define DB_EXIT_LOCKED 3

enum db_open {
	DB_READ, /* a read-only connection, before run() */
	DB_SELF, /* run() opens the store itself */
};

struct db_run;

struct db_sub {
	const char *name;
	const char *args; /* synopsis of the arguments, "" if none */
	const char *summary;
	const char *help;
	unsigned opts;		/* DB_OPT_* */
	int min_args, max_args; /* max -1: no limit */
	enum db_open open;
	int (*run)(struct db_run *r);
};

/* One invocation of a subcommand. */
struct db_run {
	const struct db_sub *sub;
	struct cmd_ctx *ctx;
	struct wal *w;
	struct out *out;
	int nargs;
	char **args;
	long long limit; /* -n; 0: all */
	const char *key, *search, *category, *scope;
	long long agent;      /* --agent; 0: all */
	long long keep;	      /* --keep; -1: not given */
	long long older_than; /* --older-than, in seconds; -1: not given */
	int dry_run;	      /* --dry-run */
	int via_supervisor;   /* --via-supervisor */
};

static const char *const state_cols[] = {"key", "value", "updated_at",
					 "updated_by", NULL};
static const char *const transition_cols[] = {
	"id",	   "key",      "old_value",  "new_value",
	"trigger", "agent_id", "created_at", NULL};
static const char *const execution_cols[] = {"id",
					     "name",
					     "workflow",
					     "status",
					     "started_at",
					     "duration_ms",
					     "total_iterations",
					     "total_agents",
					     "total_tool_calls",
					     NULL};
static const char *const phase_cols[] = {
	"id",	      "name",	     "iteration",   "status",
	"started_at", "duration_ms", "agent_count", NULL};
static const char *const agent_cols[] = {
	"id",	       "phase",		  "iteration", "name",
	"status",      "attempt",	  "pid",       "exit_code",
	"exit_signal", "tool_call_count", "error",     NULL};
static const char *const memory_cols[] = {
	"id",	      "category",   "scope", "key", "content",
	"confidence", "updated_at", "rank",  NULL};
static const char *const tool_cols[] = {
	"id",	       "agent",		"tool_name",   "status", "input",
	"output_size", "output_inline", "output_path", "error",	 NULL};
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

/* Report a failed read of WHAT; returns EXIT_FAIL. */
static int db_fail(struct db_run *r, const char *what)
{
	const char *msg = wal_errmsg(r->w), *path = wal_db_path(r->w);

	/* Name the file once: the store's message may name it already. */
	if (strstr(msg, path))
		fprintf(stderr, "smithers: cannot read %s: %s\n", what, msg);
	else
		fprintf(stderr, "smithers: cannot read %s from '%s': %s\n",
			what, path, msg);
	return EXIT_FAIL;
}

/* ---- lists ------------------------------------------------------------- */

static int db_state(struct db_run *r);
static int db_transitions(struct db_run *r);
static int db_executions(struct db_run *r);
static int db_execution(struct db_run *r);
static int db_current(struct db_run *r);
static int db_memories(struct db_run *r);
static int db_tools(struct db_run *r);
static int db_artifacts(struct db_run *r);
static int db_stats(struct db_run *r);
static int db_recovery(struct db_run *r);
static int db_replay(struct db_run *r);
static int db_query(struct db_run *r);
static int db_gc(struct db_run *r);

static const struct db_sub db_table[] = {
	{"state", "[KEY]", "state keys and their JSON values",
	 "Without KEY, list every state key with its value, when and by\n"
	 "which agent it was last set. With KEY, print its JSON value alone\n"
	 "(with --json: the key's row as one object); exit status 1 if\n"
	 "there is no such key.",
	 0, 0, 1, DB_READ, db_state},
	{"transitions", "", "the history of state changes, newest first",
	 "List state transitions, newest first: key, old and new value,\n"
	 "trigger and agent. A deletion has a null new value.\n"
	 "\n"
	 "  --key KEY   only the transitions of KEY\n"
	 "  -n N        at most N transitions (0: all)",
	 DB_OPT_KEY | DB_OPT_N, 0, 0, DB_READ, db_transitions},
	{"executions", "", "workflow executions, newest first",
	 "List executions, newest first, with their status and counters.\n"
	 "\n"
	 "  -n N        at most N executions (0: all)",
	 DB_OPT_N, 0, 0, DB_READ, db_executions},
	{"execution", "ID", "one execution with its phases and agents",
	 "Show execution ID: every column, then its phase iterations and\n"
	 "its agents. Exit status 1 if there is no such execution.",
	 0, 1, 1, DB_READ, db_execution},
	{"current", "", "the running execution",
	 "Show the newest execution that is running or pending, as\n"
	 "'execution ID' does; 'no execution is running' (JSON: null)\n"
	 "when there is none.",
	 0, 0, 0, DB_READ, db_current},
	{"memories", "", "memories, newest first or by relevance",
	 "List memories, newest first; with --search, the best matches of\n"
	 "a full-text query (FTS5 syntax) over key and content first.\n"
	 "\n"
	 "  --search Q     full-text query\n"
	 "  --category C   fact, learning, preference, context or skill\n"
	 "  --scope S      global, project or session\n"
	 "  -n N           at most N memories (0: all)",
	 DB_OPT_SEARCH | DB_OPT_CATEGORY | DB_OPT_SCOPE | DB_OPT_N, 0, 0,
	 DB_READ, db_memories},
	{"tools", "", "tool calls, newest first",
	 "List tool calls, newest first. An output larger than 1 KiB is\n"
	 "not inline: OUTPUT_PATH names its file in .smithers (under\n"
	 "logs/objects), named by its git blob hash (OUTPUT_HASH).\n"
	 "\n"
	 "  --agent ID   only the tool calls of agent ID\n"
	 "  -n N         at most N tool calls (0: all)",
	 DB_OPT_AGENT | DB_OPT_N, 0, 0, DB_READ, db_tools},
	{"artifacts", "", "recorded artifacts, newest first",
	 "List artifacts: file path, git blob hash, the HEAD commit of the\n"
	 "repository holding the file, size and line count.\n"
	 "\n"
	 "  -n N         at most N artifacts (0: all)",
	 DB_OPT_N, 0, 0, DB_READ, db_artifacts},
	{"stats", "", "row counts and database size",
	 "Show the row count of every table, the size of the database and\n"
	 "of its WAL, page count and size, free pages, journal mode, the\n"
	 "schema version and the pid of the running supervisor (if any).",
	 0, 0, 0, DB_READ, db_stats},
	{"recovery", "", "what a restarted supervisor would resume",
	 "For each execution left running or pending, the newest phase\n"
	 "iteration and each of its agents: ACTION is 'skip' for a\n"
	 "completed agent and 'resume' for the others. While a supervisor\n"
	 "runs, its executions are live, not interrupted: a note says so.",
	 0, 0, 0, DB_READ, db_recovery},
	{"replay", "ID", "restore every key as of transition ID",
	 "Restore every state key, set or deleted, to its value as of\n"
	 "transition ID, and print how many keys changed. The restoration\n"
	 "is recorded as new transitions with trigger 'replay:ID': history\n"
	 "is never rewritten. This writes: it is refused while a supervisor\n"
	 "runs on the state dir. Exit status 1 if there is no transition ID.",
	 0, 1, 1, DB_SELF, db_replay},
	{"query", "SQL", "run read-only SQL",
	 "Run SQL (several words are joined by spaces; several statements\n"
	 "may be separated by ';') and print the rows. The connection is\n"
	 "read-only: a statement that would write is refused before\n"
	 "anything runs.",
	 0, 1, -1, DB_READ, db_query},
	{"gc", "", "drop old executions, orphan files; vacuum",
	 "Drop old executions with their phases, agents, tool calls,\n"
	 "transitions and artifacts; delete the stored tool outputs\n"
	 "(logs/objects) that no remaining tool call names and the agent\n"
	 "logs (logs/agents/ID) of executions that are gone; then VACUUM\n"
	 "the database. Print what went and the bytes reclaimed.\n"
	 "Running and pending executions are never dropped. The state is\n"
	 "never touched, and each key keeps its newest transition.\n"
	 "\n"
	 "  --keep N           keep the N newest executions\n"
	 "  --older-than D     drop only executions that ended more than D\n"
	 "                     ago: 45s, 90m, 12h, 30d, 2w\n"
	 "  --dry-run          print what would go; change nothing\n"
	 "  --via-supervisor   if a supervisor runs on the state dir, have\n"
	 "                     it run the gc between two of its commits\n"
	 "                     (its agents wait meanwhile)\n"
	 "\n"
	 "With both, an execution goes only if both let it; with neither,\n"
	 "--keep 100. This writes, dry run included: it takes the\n"
	 "supervisor lock, and is refused (exit status 3) while a\n"
	 "supervisor runs on the state dir, unless sent through it with\n"
	 "--via-supervisor.",
	 DB_OPT_GC, 0, 0, DB_SELF, db_gc},
};

#define DB_NSUB (sizeof(db_table) / sizeof(db_table[0]))

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

static int db_transitions(struct db_run *r)
{
	out_list_begin(r->out, NULL, transition_cols);
	return db_list_end(
		r,
		wal_state_history(r->w, r->key, (int)r->limit, out_row, r->out),
		"transitions");
}

static int db_executions(struct db_run *r)
{
	out_list_begin(r->out, NULL, execution_cols);
	return db_list_end(
		r, wal_execution_list(r->w, (int)r->limit, out_row, r->out),
		"executions");
}

struct found {
	struct out *out;
	int found;
};

static int object_row(const struct wal_row *row, void *arg)
{
	struct found *f = arg;

	out_object_begin(f->out, row);
	f->found = 1;
	return 1;
}

/* Execution ID with its phases and agents. */
static int show_execution(struct db_run *r, long long id)
{
	struct found f = {r->out, 0};
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
	rc = wal_agent_list(r->w, id, out_row, r->out);
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

static int db_tools(struct db_run *r)
{
	out_list_begin(r->out, NULL, tool_cols);
	return db_list_end(
		r,
		wal_tool_list(r->w, r->agent, (int)r->limit, out_row, r->out),
		"tool calls");
}

static int db_artifacts(struct db_run *r)
{
	out_list_begin(r->out, NULL, artifact_cols);
	return db_list_end(
		r, wal_artifact_list(r->w, (int)r->limit, out_row, r->out),
		"artifacts");
}

static int db_stats(struct db_run *r)
{
	enum { NSTAT = 17 };
	static const char *const names[NSTAT] = {
		"database",	 "schema_version", "journal_mode", "page_size",
		"page_count",	 "freelist_count", "db_bytes",	   "wal_bytes",
		"executions",	 "phases",	   "agents",	   "tool_calls",
		"state",	 "transitions",	   "memories",	   "artifacts",
		"supervisor_pid"};
	char buf[NSTAT][24];
	const char *values[NSTAT];
	enum wal_type types[NSTAT];
	struct wal_stats st;
	struct wal_row row = {NSTAT, names, values, types};
	int64_t nums[NSTAT - 4];
	pid_t holder;
	int i;

	if (wal_stats(r->w, &st) < 0)
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
	for (i = 3; i < NSTAT - 1; i++) {
		snprintf(buf[i], sizeof(buf[i]), "%lld",
			 (long long)nums[i - 3]);
		values[i] = buf[i];
		types[i] = WAL_INTEGER;
	}
	snprintf(buf[NSTAT - 1], sizeof(buf[0]), "%ld", (long)holder);
	values[NSTAT - 1] = holder > 0 ? buf[NSTAT - 1] : NULL;
	types[NSTAT - 1] = holder > 0 ? WAL_INTEGER : WAL_NULL;
	out_object_begin(r->out, &row);
	out_object_end(r->out);
	return EXIT_OK;
}

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

/*
 * Take the supervisor lock of the state dir for a subcommand that writes
 * (VERB, for messages): *FD gets the lock's fd. Returns EXIT_OK, or the
 * exit status after saying why: BUSY when a supervisor holds the lock,
 * EXIT_USAGE when there is no state, else EXIT_FAIL.
 */
static int db_lock(struct db_run *r, const char *verb, int busy, int *fd)
{
	size_t dlen = strlen(r->ctx->dir);
	char *lock = xmalloc(dlen + sizeof("/.smithers/supervisor.lock"));
	struct wal *w = NULL;
	pid_t holder = 0;
	int rc = EXIT_FAIL;

	/* DIR as given, even ".": the path the user can act on. */
	sprintf(lock, "%s%s.smithers/supervisor.lock", r->ctx->dir,
		dlen && r->ctx->dir[dlen - 1] == '/' ? "" : "/");
	*fd = wal_lock_acquire(r->ctx->dir, &holder);
	if (*fd >= 0) {
		rc = EXIT_OK;
	} else if (errno == EWOULDBLOCK) {
		if (holder > 0)
			fprintf(stderr,
				"smithers: cannot %s: a supervisor (pid %ld) "
				"holds '%s'; stop it first\n",
				verb, (long)holder, lock);
		else
			fprintf(stderr,
				"smithers: cannot %s: a supervisor holds "
				"'%s'; stop it first\n",
				verb, lock);
		rc = busy;
	} else if (errno == ENOENT) {
		rc = cmd_open_store(r->ctx, 1, &w);
		wal_close(w);
		if (rc == EXIT_OK) { /* the state appeared meanwhile */
			fprintf(stderr,
				"smithers: cannot %s: '%s' appeared while it "
				"was being locked; try again\n",
				verb, lock);
			rc = EXIT_FAIL;
		}
	} else {
		fprintf(stderr, "smithers: cannot lock '%s': %s\n", lock,
			strerror(errno));
	}
	free(lock);
	return rc;
}

static int db_replay(struct db_run *r)
{
	const char *names[] = {"transition", "changed"};
	enum wal_type types[] = {WAL_INTEGER, WAL_INTEGER};
	const char *values[2];
	struct wal_row row = {2, names, values, types};
	char idbuf[24], nbuf[24];
	long long id;
	int fd = -1, rc, n;

	if (cmd_parse_int64(r->args[0], 1, INT64_MAX, &id) < 0) {
		fprintf(stderr,
			"smithers: '%s' is not a transition id (a number "
			"from 1)\n",
			r->args[0]);
		return EXIT_USAGE;
	}
	rc = db_lock(r, "replay", EXIT_FAIL, &fd);
	if (rc != EXIT_OK)
		return rc;
	rc = cmd_open_store(r->ctx, 0, &r->w);
	if (rc != EXIT_OK)
		goto out;
	n = wal_state_replay(r->w, id);
	if (n < 0) {
		if (errno == ENOENT)
			fprintf(stderr, "smithers: no transition %lld\n", id);
		else
			fprintf(stderr, "smithers: cannot replay: %s\n",
				wal_errmsg(r->w));
		rc = EXIT_FAIL;
		goto out;
	}
	if (r->ctx->json) {
		snprintf(idbuf, sizeof(idbuf), "%lld", id);
		snprintf(nbuf, sizeof(nbuf), "%d", n);
		values[0] = idbuf;
		values[1] = nbuf;
		out_object_begin(r->out, &row);
		out_object_end(r->out);
	} else {
		printf("replayed transition %lld: %d key%s changed\n", id, n,
		       n == 1 ? "" : "s");
	}
	rc = EXIT_OK;
out:
	/* Close the store before the lock: nobody may write in between. */
	wal_close(r->w);
	r->w = NULL;
	close(fd);
	return rc;
}

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

/* ---- gc ------------------------------------------------------------------ */

/* A duration such as 45s, 90m, 12h, 30d or 2w (common/units.h), in whole
 * seconds rounded up; -1 if S is not one. The unit is required here: a
 * bare number of seconds would too easily be meant as days. */
static long long parse_duration(const char *s)
{
	size_t n = strlen(s);
	int64_t ms;

	if (!n || (s[n - 1] >= '0' && s[n - 1] <= '9') ||
	    cm_parse_duration(s, &ms) < 0)
		return -1;
	return ms / 1000 + (ms % 1000 != 0);
}

/* "3 executions", "1 execution". */
static const char *count_of(char *buf, size_t len, int64_t n, const char *what)
{
	snprintf(buf, len, "%lld %s%s", (long long)n, what, n == 1 ? "" : "s");
	return buf;
}

static void gc_print_text(const struct wal_gc_result *g, int dry)
{
	char b[6][48];

	printf("%s %s, %s, %s, %s, %s, %s\n", dry ? "would drop" : "dropped",
	       count_of(b[0], sizeof(b[0]), g->executions, "execution"),
	       count_of(b[1], sizeof(b[1]), g->phases, "phase"),
	       count_of(b[2], sizeof(b[2]), g->agents, "agent"),
	       count_of(b[3], sizeof(b[3]), g->tool_calls, "tool call"),
	       count_of(b[4], sizeof(b[4]), g->transitions, "transition"),
	       count_of(b[5], sizeof(b[5]), g->artifacts, "artifact"));
	printf("%s %s as the newest of their keys; %s %s\n",
	       dry ? "would keep" : "kept",
	       count_of(b[0], sizeof(b[0]), g->heads_kept, "transition"),
	       dry ? "would prune" : "pruned",
	       count_of(b[1], sizeof(b[1]), g->tombstones, "deleted key"));
	printf("%s %s (%lld bytes) and %s (%lld bytes)\n",
	       dry ? "would delete" : "deleted",
	       count_of(b[0], sizeof(b[0]), g->objects, "object"),
	       (long long)g->object_bytes,
	       count_of(b[1], sizeof(b[1]), g->log_dirs, "agent log dir"),
	       (long long)g->log_bytes);
	if (dry)
		puts("dry run: nothing was changed");
	else
		printf("database: %lld -> %lld bytes (%lld reclaimed)\n",
		       (long long)g->db_bytes_before,
		       (long long)g->db_bytes_after,
		       (long long)(g->db_bytes_before - g->db_bytes_after));
}

static void gc_print_json(struct out *out, const struct wal_gc_result *g,
			  int dry)
{
	enum { NGC = 16 };
	static const char *const names[NGC] = {
		"dry_run",	  "executions",	     "phases",
		"agents",	  "tool_calls",	     "transitions",
		"artifacts",	  "heads_kept",	     "tombstones",
		"objects",	  "object_bytes",    "log_dirs",
		"log_bytes",	  "db_bytes_before", "db_bytes_after",
		"reclaimed_bytes"};
	const int64_t nums[NGC - 1] = {g->executions,
				       g->phases,
				       g->agents,
				       g->tool_calls,
				       g->transitions,
				       g->artifacts,
				       g->heads_kept,
				       g->tombstones,
				       g->objects,
				       g->object_bytes,
				       g->log_dirs,
				       g->log_bytes,
				       g->db_bytes_before,
				       g->db_bytes_after,
				       g->db_bytes_before - g->db_bytes_after};
	char buf[NGC][24];
	const char *values[NGC];
	enum wal_type types[NGC];
	struct wal_row row = {NGC, names, values, types};

	values[0] = dry ? "true" : "false";
	types[0] = WAL_JSON;
	for (int i = 1; i < NGC; i++) {
		snprintf(buf[i], sizeof(buf[i]), "%lld",
			 (long long)nums[i - 1]);
		values[i] = buf[i];
		types[i] = WAL_INTEGER;
	}
	out_object_begin(out, &row);
	out_object_end(out);
}

/* gc sent through the supervisor HOLDER (supervisor/gcreq.c). */
static int db_gc_via(struct db_run *r, pid_t holder,
		     const struct wal_gc_options *o)
{
	struct wal_gc_result g;
	char err[1024], *state;
	int rc;

	if (asprintf(&state, "%s/.smithers", r->ctx->dir) < 0)
		return EXIT_FAIL;
	rc = sup_gc_request(state, holder, o, DB_GC_VIA_TIMEOUT_S, &g, err,
			    sizeof(err));
	free(state);
	if (rc < 0) {
		if (g.committed && !r->ctx->json)
			gc_print_text(&g, 0);
		fprintf(stderr, "smithers: %s through the supervisor (pid %ld): "
			"%s\n",
			g.committed ? "gc incomplete" : "cannot gc",
			(long)holder, err);
		return EXIT_FAIL;
	}
	if (r->ctx->json)
		gc_print_json(r->out, &g, r->dry_run);
	else
		gc_print_text(&g, r->dry_run);
	return EXIT_OK;
}

static int db_gc(struct db_run *r)
{
	struct wal_gc_options o = {r->keep, r->older_than, r->dry_run};
	struct wal_gc_result g;
	int fd = -1, rc;

	if (o.keep < 0 && o.older_than_s < 0)
		o.keep = DB_GC_KEEP;
	if (r->via_supervisor) {
		pid_t holder = wal_lock_holder(r->ctx->dir);

		if (holder > 0)
			return db_gc_via(r, holder, &o);
	}
	rc = db_lock(r, "gc", DB_EXIT_LOCKED, &fd);
	if (rc == DB_EXIT_LOCKED)
		fputs("smithers: or have it run the gc: smithers db gc "
		      "--via-supervisor\n",
		      stderr);
	if (rc != EXIT_OK)
		return rc;
	rc = cmd_open_store(r->ctx, 0, &r->w);
	if (rc != EXIT_OK)
		goto out;
	if (wal_gc(r->w, &o, &g) < 0) {
		/* What went before a later step failed is gone all the same. */
		if (g.committed && !r->ctx->json)
			gc_print_text(&g, 0);
		fprintf(stderr, "smithers: %s: %s\n",
			g.committed ? "gc incomplete" : "cannot gc",
			wal_errmsg(r->w));
		rc = EXIT_FAIL;
		goto out;
	}
	if (r->ctx->json)
		gc_print_json(r->out, &g, r->dry_run);
	else
		gc_print_text(&g, r->dry_run);
out:
	/* Close the store before the lock: nobody may write in between. */
	wal_close(r->w);
	r->w = NULL;
	close(fd);
	return rc;
}

/* ---- dispatch ------------------------------------------------------------ */

static const struct option db_options[] = {
	CMD_COMMON_OPTIONS,
	{"key", required_argument, NULL, OPT_KEY},
	{"search", required_argument, NULL, OPT_SEARCH},
	{"category", required_argument, NULL, OPT_CATEGORY},
	{"scope", required_argument, NULL, OPT_SCOPE},
	{"agent", required_argument, NULL, OPT_AGENT},
	{"keep", required_argument, NULL, OPT_KEEP},
	{"older-than", required_argument, NULL, OPT_OLDER_THAN},
	{"dry-run", no_argument, NULL, OPT_DRY_RUN},
	{"via-supervisor", no_argument, NULL, OPT_VIA_SUPERVISOR},
	{NULL, 0, NULL, 0},
};

static const struct db_sub *db_find(const char *name)
{
	size_t i;

	for (i = 0; i < DB_NSUB; i++)
		if (!strcmp(db_table[i].name, name))
			return &db_table[i];
	return NULL;
}

static void db_print_synopsis(FILE *fp, const struct db_sub *s)
{
	fprintf(fp, "smithers db %s", s->name);
	if (*s->args)
		fprintf(fp, " %s", s->args);
	if (s->opts & DB_OPT_KEY)
		fputs(" [--key KEY]", fp);
	if (s->opts & DB_OPT_SEARCH)
		fputs(" [--search Q]", fp);
	if (s->opts & DB_OPT_CATEGORY)
		fputs(" [--category C]", fp);
	if (s->opts & DB_OPT_SCOPE)
		fputs(" [--scope S]", fp);
	if (s->opts & DB_OPT_AGENT)
		fputs(" [--agent ID]", fp);
	if (s->opts & DB_OPT_GC)
		fputs(" [--keep N] [--older-than D] [--dry-run]"
		      " [--via-supervisor]",
		      fp);
	if (s->opts & DB_OPT_N)
		fputs(" [-n N]", fp);
	fputs(" [--json] [--dir DIR]\n", fp);
}

static void db_print_help(FILE *fp)
{
	size_t i;

	fputs("usage: smithers db [--dir DIR] [--json] SUBCOMMAND [ARGS]\n"
	      "\n"
	      "Read the store of a state dir, DIR/.smithers/smithers.db,\n"
	      "through a read-only connection: safe while a supervisor runs.\n"
	      "replay and gc write: they take the supervisor lock first.\n"
	      "\n"
	      "Subcommands:\n",
	      fp);
	for (i = 0; i < DB_NSUB; i++) {
		char syn[40];

		snprintf(syn, sizeof(syn), "%s %s", db_table[i].name,
			 db_table[i].args);
		fprintf(fp, "  %-18s %s\n", syn, db_table[i].summary);
	}
	fputs("\n"
	      "Options (also after the subcommand):\n"
	      "  --dir DIR          the directory holding .smithers\n"
	      "                     (default: $SMITHERS_DIR, else .)\n"
	      "  --json             machine-readable output\n"
	      "  -h, --help         show this help\n"
	      "\n"
	      "Run 'smithers db SUBCOMMAND --help' for the help of one.\n",
	      fp);
}

static int db_usage(const struct db_sub *s)
{
	size_t i;

	fputs("usage: ", stderr);
	if (s) {
		db_print_synopsis(stderr, s);
		fprintf(stderr, "run 'smithers db %s --help' for help\n",
			s->name);
		return EXIT_USAGE;
	}
	fputs("smithers db [--dir DIR] [--json] SUBCOMMAND [ARGS]\n"
	      "subcommands:",
	      stderr);
	for (i = 0; i < DB_NSUB; i++)
		fprintf(stderr, " %s", db_table[i].name);
	fputs("\nrun 'smithers db --help' for help\n", stderr);
	return EXIT_USAGE;
}

/* Whether sub S takes option NAME (its DB_OPT_* BIT); else complain. */
static int db_opt_allowed(const struct db_sub *s, unsigned bit,
			  const char *name)
{
	if (s->opts & bit)
		return 1;
	fprintf(stderr, "smithers: 'db %s' has no option '%s'\n", s->name,
		name);
	return 0;
}

static int db_sub_exec(struct cmd_ctx *ctx, const struct db_sub *s, int argc,
		       char **argv)
{
	struct db_run r;
	int c, rc;

	memset(&r, 0, sizeof(r));
	r.keep = -1;
	r.older_than = -1;
	r.sub = s;
	r.ctx = ctx;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hn:", db_options, NULL)) != -1) {
		rc = cmd_common_option(ctx, c, optarg);
		if (rc < 0)
			return db_usage(s);
		if (rc > 0)
			continue;
		switch (c) {
		case 'h':
			fputs("usage: ", stdout);
			db_print_synopsis(stdout, s);
			printf("\n%s\n", s->help);
			return EXIT_OK;
		case 'n':
			if (!db_opt_allowed(s, DB_OPT_N, "-n"))
				return db_usage(s);
			if (cmd_parse_int64(optarg, 0, INT_MAX, &r.limit) < 0) {
				fprintf(stderr,
					"smithers: '-n' needs a count, not "
					"'%s'\n",
					optarg);
				return db_usage(s);
			}
			break;
		case OPT_KEY:
			if (!db_opt_allowed(s, DB_OPT_KEY, "--key"))
				return db_usage(s);
			r.key = optarg;
			break;
		case OPT_SEARCH:
			if (!db_opt_allowed(s, DB_OPT_SEARCH, "--search"))
				return db_usage(s);
			r.search = optarg;
			break;
		case OPT_CATEGORY:
			if (!db_opt_allowed(s, DB_OPT_CATEGORY, "--category"))
				return db_usage(s);
			r.category = optarg;
			break;
		case OPT_SCOPE:
			if (!db_opt_allowed(s, DB_OPT_SCOPE, "--scope"))
				return db_usage(s);
			r.scope = optarg;
			break;
		case OPT_AGENT:
			if (!db_opt_allowed(s, DB_OPT_AGENT, "--agent"))
				return db_usage(s);
			if (cmd_parse_int64(optarg, 1, INT64_MAX, &r.agent) <
			    0) {
				fprintf(stderr,
					"smithers: '--agent' needs an agent "
					"id, not '%s'\n",
					optarg);
				return db_usage(s);
			}
			break;
		case OPT_KEEP:
			if (!db_opt_allowed(s, DB_OPT_GC, "--keep"))
				return db_usage(s);
			if (cmd_parse_int64(optarg, 0, INT64_MAX, &r.keep) <
			    0) {
				fprintf(stderr,
					"smithers: '--keep' needs a count of "
					"executions (0 or more), not '%s'\n",
					optarg);
				return db_usage(s);
			}
			break;
		case OPT_OLDER_THAN:
			if (!db_opt_allowed(s, DB_OPT_GC, "--older-than"))
				return db_usage(s);
			r.older_than = parse_duration(optarg);
			if (r.older_than < 0) {
				fprintf(stderr,
					"smithers: '--older-than' needs a "
					"duration such as 45s, 90m, 12h, 30d "
					"or 2w, not '%s'\n",
					optarg);
				return db_usage(s);
			}
			break;
		case OPT_DRY_RUN:
			if (!db_opt_allowed(s, DB_OPT_GC, "--dry-run"))
				return db_usage(s);
			r.dry_run = 1;
			break;
		case OPT_VIA_SUPERVISOR:
			if (!db_opt_allowed(s, DB_OPT_GC, "--via-supervisor"))
				return db_usage(s);
			r.via_supervisor = 1;
			break;
		default:
			cmd_option_error(argv, c);
			return db_usage(s);
		}
	}
	r.nargs = argc - optind;
	r.args = argv + optind;
	if (r.nargs < s->min_args) {
		fprintf(stderr, "smithers: 'db %s' needs %s\n", s->name,
			s->args);
		return db_usage(s);
	}
	if (s->max_args >= 0 && r.nargs > s->max_args) {
		fprintf(stderr, "smithers: too many arguments for 'db %s'\n",
			s->name);
		return db_usage(s);
	}
	r.out = out_new(stdout, ctx->json);
	if (!r.out) {
		fputs("smithers: out of memory\n", stderr);
		return EXIT_FAIL;
	}
	rc = EXIT_OK;
	if (s->open == DB_READ)
		rc = cmd_open_store(ctx, 1, &r.w);
	if (rc == EXIT_OK)
		rc = s->run(&r);
	wal_close(r.w);
	out_free(r.out);
	return rc;
}

static int cmd_db_exec(struct cmd_ctx *ctx, int argc, char **argv)
{
	const struct db_sub *s;
	int c, rc;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:h", db_options, NULL)) != -1) {
		rc = cmd_common_option(ctx, c, optarg);
		if (rc < 0)
			return db_usage(NULL);
		if (rc > 0)
			continue;
		if (c == 'h') {
			db_print_help(stdout);
			return EXIT_OK;
		}
		if (c == '?' || c == ':')
			cmd_option_error(argv, c);
		else
			fprintf(stderr,
				"smithers: '%s' goes after the subcommand\n",
				argv[optind - 1]);
		return db_usage(NULL);
	}
	if (optind >= argc) {
		fputs("smithers: 'db' needs a subcommand\n", stderr);
		return db_usage(NULL);
	}
	s = db_find(argv[optind]);
	if (!s) {
		fprintf(stderr, "smithers: unknown subcommand 'db %s'\n",
			argv[optind]);
		return db_usage(NULL);
	}
	return db_sub_exec(ctx, s, argc - optind, argv + optind);
}

const struct cmd_entry cmd_db_entry = {
	.name = "db",
	.args = "SUBCOMMAND [ARGS]",
	.summary = "read the store: state, executions, memories, ...",
	.help = NULL, /* db_print_help() */
	.exec = cmd_db_exec,
};
