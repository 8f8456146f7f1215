/*
 * fleet-query.c - the readers of the fleet view: `smithers fleet
 * executions|agents|costs|top`. They read PostgreSQL only (fleet-pg.c),
 * never a local store, never write, and never create the schema: without
 * a fleet view they say to start the sink.
 *
 * Times in the fleet view are the local store's text: UTC ISO-8601 with
 * milliseconds, "2026-11-26T09:30:00.123Z". Such strings order as the
 * times do, so a window (--since, the last hour, today) is a string of
 * that format that PostgreSQL makes from its now(), compared as text (and
 * the started_at indexes serve), and a day is the first ten characters.
 * sunk_at, a timestamptz, is shown in the same format.
 *
 * Each query returns the columns of one struct col list, in its order;
 * the list gives the renderer (output.c) each column's type and says which
 * part of the output it belongs to. Filters are parameters that are NULL
 * when not given, so that each query is one static string.
 *
 * Text shows a cost with four decimals and an unknown one (no agent
 * reported one) as "-", as `smithers db` does; JSON has the number or
 * null. Sums of costs are rounded to six decimals (no float noise).
 */
#include "config.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/fleet.h"
#include "tools/output.h"

/* Running executions `fleet top` lists without -n. */
#define TOP_RUNNING 20
/* The most columns a query returns. */
#define MAX_COLS 24
/* Room for a shown cost ("%.4f" of any double). */
#define COST_LEN 330

/* clang-format off */
#define S FLEET_PG_SCHEMA "."
#define TIME_FMT "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'"
/* The timestamptz TS as the store's text. */
#define STAMP(ts) "to_char((" ts ") AT TIME ZONE 'UTC', " TIME_FMT ")"
/* The store's text of the time SECS (an SQL bigint) seconds ago. */
#define AGO(secs) STAMP("now() - (" secs ") * interval '1 second'")
/* The first instant of today (UTC), as text that compares with ours. */
#define TODAY "to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
/* A sum of dollars, without float noise. */
#define DOLLARS(x) "round((" x ")::numeric, 6)::float8"

/* The filters shared by executions, agents and costs: $1 machine, $2
 * workflow (its name or its file), $3 status, $4 --since in seconds. M is
 * the alias of the table filtered, E of its executions. */
#define FILTERS(m, e)                                                          \
	" ($1::text IS NULL OR " m ".machine = $1)"                            \
	" AND ($2::text IS NULL OR " e ".name = $2 OR " e ".workflow = $2)"    \
	" AND ($3::text IS NULL OR " m ".status = $3)"                         \
	" AND ($4::bigint IS NULL OR " m ".started_at >= " AGO("$4::bigint") ")"
/* clang-format on */

/* Which part of the output a column belongs to. */
enum {
	C_ROWS = 1,  /* the rows of a list only */
	C_TOTAL = 2, /* the total (costs) or the summary (top) only */
	C_COST = 4,  /* dollars: "%.4f" in text, "-" when unknown */
};

struct col {
	const char *name;
	enum wal_type type;
	unsigned flags;
};

#define NCOLS(a) ((int)(sizeof(a) / sizeof((a)[0])))

static const char *const execution_statuses[] = {
	"pending",   "running",	    "completed", "failed",
	"cancelled", "interrupted", NULL};
static const char *const agent_statuses[] = {
	"pending", "running",	"restarting",  "completed",
	"failed",  "cancelled", "interrupted", NULL};

/* ---- rows ------------------------------------------------------------ */

/* A row of PostgreSQL's as the renderer takes it. */
struct shown {
	struct wal_row row;
	const char *names[MAX_COLS], *values[MAX_COLS];
	enum wal_type types[MAX_COLS];
	char costs[MAX_COLS][COST_LEN];
};

/*
 * VALUES, the columns COLS (NCOLS of them) of a row, into S: the columns
 * not marked SKIP, shown for text when TEXT. KEY, when not NULL, renames
 * the first column. Borrows VALUES.
 */
static void show(struct shown *s, const struct col *cols, int ncols,
		 const char *const *values, unsigned skip, int text,
		 const char *key)
{
	int i, k = 0;

	for (i = 0; i < ncols; i++) {
		const char *v = values[i];

		if (cols[i].flags & skip)
			continue;
		s->names[k] = i == 0 && key ? key : cols[i].name;
		s->types[k] = cols[i].type;
		s->values[k] = v;
		if (text && (cols[i].flags & C_COST)) {
			if (v)
				snprintf(s->costs[k], COST_LEN, "%.4f",
					 strtod(v, NULL));
			s->values[k] = v ? s->costs[k] : "-";
		}
		k++;
	}
	s->row.ncols = k;
	s->row.names = s->names;
	s->row.values = s->values;
	s->row.types = s->types;
}

/* One query's rows on their way to the renderer. */
struct reader {
	struct fleet_run *r;
	const struct col *cols;
	int ncols;
	unsigned skip;	 /* the columns the list leaves out (C_ROWS...) */
	const char *key; /* the first column's name, when an option says */
	int nrows;
	/* costs: the total (the first row), shown as the text's last line */
	char *total[MAX_COLS];
};

static void reader_init(struct reader *rd, struct fleet_run *r,
			const struct col *cols, int ncols, unsigned skip)
{
	assert(ncols <= MAX_COLS);
	memset(rd, 0, sizeof(*rd));
	rd->r = r;
	rd->cols = cols;
	rd->ncols = ncols;
	rd->skip = skip;
}

static void reader_release(struct reader *rd)
{
	int i;

	for (i = 0; i < rd->ncols; i++)
		free(rd->total[i]);
}

/* The query returned the columns of RD's list, in that order: anything
 * else is a mistake in this file. */
static void check_columns(const struct reader *rd, int ncol,
			  const char *const *names)
{
	int i;

	assert(ncol == rd->ncols);
	for (i = 0; i < ncol && i < rd->ncols; i++)
		assert(!strcmp(names[i], rd->cols[i].name));
	(void)names;
}

/* A fleet_pg_row_fn: the row into the open list. */
static int list_row(int ncol, const char *const *names,
		    const char *const *values, void *arg)
{
	struct reader *rd = arg;
	struct shown s;

	check_columns(rd, ncol, names);
	show(&s, rd->cols, ncol, values, rd->skip, !rd->r->ctx->json, rd->key);
	rd->nrows++;
	return out_row(&s.row, rd->r->out);
}

/* ---- the connection and the options ------------------------------------ */

/* The fleet view, or NULL after saying why. */
static struct pg_conn *view_open(struct fleet_run *r)
{
	char err[FLEET_ERR_MAX];
	struct pg_conn *c = fleet_pg_open(r->postgres, 0, err);

	if (!c)
		fprintf(stderr, "smithers: %s\n", err);
	return c;
}

/* Run SQL with PARAMS into FN; EXIT_OK, or EXIT_FAIL after saying why. */
static int view_query(struct pg_conn *c, const char *sql, int n,
		      const char *const *params, fleet_pg_row_fn *fn, void *arg)
{
	char err[FLEET_ERR_MAX];

	if (fleet_pg_query(c, sql, n, params, fn, arg, err) < 0) {
		fprintf(stderr, "smithers: %s\n", err);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

/*
 * The parameters of FILTERS(), $1 to $4, into P, and -n as $5 (NULL: all);
 * numbers are written in BUF. STATUSES lists the statuses --status takes
 * ("all" too: no filter); DEF is the status without --status (NULL: all).
 * 0, or -1 after saying that --status is bad.
 */
static int filter_params(const struct fleet_run *r, const char *const *statuses,
			 const char *def, const char *p[5], char buf[2][24])
{
	const char *st = r->status ? r->status : def;
	int i;

	if (st && !strcmp(st, "all"))
		st = NULL;
	for (i = 0; st && statuses[i]; i++)
		if (!strcmp(st, statuses[i]))
			break;
	if (st && !statuses[i]) {
		fprintf(stderr, "smithers: bad --status '%s' (want all", st);
		for (i = 0; statuses[i]; i++)
			fprintf(stderr, ", %s", statuses[i]);
		fputs(")\n", stderr);
		return -1;
	}
	p[0] = r->machine;
	p[1] = r->workflow;
	p[2] = st;
	p[3] = NULL;
	p[4] = NULL;
	if (r->since >= 0) {
		snprintf(buf[0], 24, "%lld", r->since);
		p[3] = buf[0];
	}
	if (r->limit > 0) {
		snprintf(buf[1], 24, "%lld", r->limit);
		p[4] = buf[1];
	}
	return 0;
}

/* The end of a reader: the output flushed, the connection closed. */
static int view_done(struct pg_conn *c, int rc)
{
	fleet_pg_close(c);
	if (rc != EXIT_OK)
		return rc;
	return cmd_flush_stdout();
}

/* ---- executions ------------------------------------------------------- */

static const struct col execution_cols[] = {
	{"machine", WAL_TEXT, 0},
	{"id", WAL_INTEGER, 0},
	{"name", WAL_TEXT, 0},
	{"workflow", WAL_TEXT, 0},
	{"status", WAL_TEXT, 0},
	{"started_at", WAL_TEXT, 0},
	{"ended_at", WAL_TEXT, 0},
	{"duration_ms", WAL_INTEGER, 0},
	{"total_agents", WAL_INTEGER, 0},
	{"total_tool_calls", WAL_INTEGER, 0},
	{"tokens_in", WAL_INTEGER, 0},
	{"tokens_out", WAL_INTEGER, 0},
	{"reasoning_tokens", WAL_INTEGER, 0},
	{"cache_read_tokens", WAL_INTEGER, 0},
	{"cache_write_tokens", WAL_INTEGER, 0},
	{"cost_usd", WAL_REAL, C_COST},
	{"sunk_at", WAL_TEXT, 0},
};

static const char *const execution_text[] = {
	"machine",     "id",	       "name",
	"workflow",    "status",       "started_at",
	"duration_ms", "total_agents", "total_tool_calls",
	"tokens_in",   "tokens_out",   "cost_usd",
	NULL};

/* The store gives every execution its started_at when it makes it: plain
 * DESC, so that the index on started_at serves -n. */
/* clang-format off */
static const char execution_sql[] =
	"SELECT e.machine, e.id, e.name, e.workflow, e.status, e.started_at,"
	" e.ended_at, e.duration_ms, e.total_agents, e.total_tool_calls,"
	" e.tokens_in, e.tokens_out, e.reasoning_tokens, e.cache_read_tokens,"
	" e.cache_write_tokens, e.cost_usd, " STAMP("e.sunk_at") " AS sunk_at"
	" FROM " S "executions e WHERE" FILTERS("e", "e")
	" ORDER BY e.started_at DESC, e.machine, e.id DESC"
	" LIMIT $5::bigint";
/* clang-format on */

/* A list of rows (executions, agents): STATUSES and DEFAULT_STATUS for
 * --status, the query SQL of the columns COLS[0..NCOL-1], TEXT the
 * columns text shows. */
static int list_cmd(struct fleet_run *r, const char *const *statuses,
		    const char *default_status, const struct col *cols,
		    int ncol, const char *const *text, const char *sql)
{
	const char *p[5];
	char buf[2][24];
	struct reader rd;
	struct pg_conn *c;
	int rc;

	if (filter_params(r, statuses, default_status, p, buf) < 0)
		return fleet_usage(r->sub);
	c = view_open(r);
	if (!c)
		return EXIT_FAIL;
	reader_init(&rd, r, cols, ncol, 0);
	out_list_begin(r->out, NULL, text);
	rc = view_query(c, sql, 5, p, list_row, &rd);
	if (rc == EXIT_OK)
		out_list_end(r->out);
	return view_done(c, rc);
}

static int fleet_executions(struct fleet_run *r)
{
	return list_cmd(r, execution_statuses, NULL, execution_cols,
			NCOLS(execution_cols), execution_text, execution_sql);
}

/* clang-format off */
const struct fleet_sub fleet_sub_executions = {
	"executions", "", "every machine's executions, newest first",
	"List the executions of every machine in the fleet view, newest\n"
	"first (by started_at), with MACHINE, ID, NAME (the workflow's\n"
	"name), WORKFLOW (its file), STATUS, STARTED_AT, DURATION_MS,\n"
	"TOTAL_AGENTS, TOTAL_TOOL_CALLS, TOKENS_IN, TOKENS_OUT and COST_USD\n"
	"(US dollars, '-' when unknown). --json adds ended_at,\n"
	"reasoning_tokens, cache_read_tokens, cache_write_tokens and sunk_at\n"
	"(when the sink wrote the row).\n"
	"\n"
	"  --postgres CONNINFO  the database, as libpq takes it (default:\n"
	"                       libpq's PG* variables)\n"
	"  --machine M          M's executions only\n"
	"  --workflow W         the executions of workflow W (its name or\n"
	"                       its file)\n"
	"  --status S           pending, running, completed, failed,\n"
	"                       cancelled, interrupted, or all (default)\n"
	"  --since D            started in the last D (30m, 2h, 1d, 2w)\n"
	"  -n N                 at most N executions (default: all)",
	FLEET_OPT_POSTGRES | FLEET_OPT_FILTER | FLEET_OPT_N, 0, 0,
	fleet_executions,
};
/* clang-format on */

/* ---- agents ----------------------------------------------------------- */

static const struct col agent_cols[] = {
	{"machine", WAL_TEXT, 0},
	{"id", WAL_INTEGER, 0},
	{"execution_id", WAL_INTEGER, 0},
	{"execution", WAL_TEXT, 0},
	{"name", WAL_TEXT, 0},
	{"kind", WAL_TEXT, 0},
	{"model", WAL_TEXT, 0},
	{"status", WAL_TEXT, 0},
	{"attempt", WAL_INTEGER, 0},
	{"tokens_in", WAL_INTEGER, 0},
	{"tokens_out", WAL_INTEGER, 0},
	{"reasoning_tokens", WAL_INTEGER, 0},
	{"cache_read_tokens", WAL_INTEGER, 0},
	{"cache_write_tokens", WAL_INTEGER, 0},
	{"cost_usd", WAL_REAL, C_COST},
	{"tool_call_count", WAL_INTEGER, 0},
	{"started_at", WAL_TEXT, 0},
	{"ended_at", WAL_TEXT, 0},
	{"sunk_at", WAL_TEXT, 0},
};

static const char *const agent_text[] = {
	"machine",    "execution_id", "execution",	 "name",
	"kind",	      "model",	      "status",		 "tokens_in",
	"tokens_out", "cost_usd",     "tool_call_count", "started_at",
	NULL};

/* An agent's execution may not have arrived yet: a left join. An agent
 * not started yet has no started_at: last. */
/* clang-format off */
static const char agent_sql[] =
	"SELECT a.machine, a.id, a.execution_id, e.name AS execution, a.name,"
	" a.kind, a.model, a.status, a.attempt, a.tokens_in, a.tokens_out,"
	" a.reasoning_tokens, a.cache_read_tokens, a.cache_write_tokens,"
	" a.cost_usd, a.tool_call_count, a.started_at, a.ended_at, "
	STAMP("a.sunk_at") " AS sunk_at"
	" FROM " S "agents a LEFT JOIN " S "executions e"
	" ON e.machine = a.machine AND e.id = a.execution_id"
	" WHERE" FILTERS("a", "e")
	" ORDER BY a.started_at DESC NULLS LAST, a.machine, a.id DESC"
	" LIMIT $5::bigint";
/* clang-format on */

static int fleet_agents(struct fleet_run *r)
{
	return list_cmd(r, agent_statuses, "running", agent_cols,
			NCOLS(agent_cols), agent_text, agent_sql);
}

/* clang-format off */
const struct fleet_sub fleet_sub_agents = {
	"agents", "", "every machine's agents (the running ones by default)",
	"List the agents of every machine in the fleet view, newest first\n"
	"(by started_at): by default the running ones, --status all for\n"
	"every one. Columns: MACHINE, EXECUTION_ID, EXECUTION (its\n"
	"workflow's name; empty while the execution's row has not arrived),\n"
	"NAME, KIND, MODEL, STATUS, TOKENS_IN, TOKENS_OUT, COST_USD (US\n"
	"dollars, '-' when unknown), TOOL_CALL_COUNT and STARTED_AT. --json\n"
	"adds id, attempt, reasoning_tokens, cache_read_tokens,\n"
	"cache_write_tokens, ended_at and sunk_at.\n"
	"\n"
	"  --postgres CONNINFO  the database, as libpq takes it (default:\n"
	"                       libpq's PG* variables)\n"
	"  --machine M          M's agents only\n"
	"  --workflow W         the agents of workflow W's executions (its\n"
	"                       name or its file)\n"
	"  --status S           running (default), pending, restarting,\n"
	"                       completed, failed, cancelled, interrupted,\n"
	"                       or all\n"
	"  --since D            started in the last D (30m, 2h, 1d, 2w)\n"
	"  -n N                 at most N agents (default: all)",
	FLEET_OPT_POSTGRES | FLEET_OPT_FILTER | FLEET_OPT_N, 0, 0, fleet_agents,
};
/* clang-format on */

/* ---- costs ------------------------------------------------------------ */

/* The first column, "key", is named by --by. */
static const struct col cost_cols[] = {
	{"key", WAL_TEXT, 0},
	{"executions", WAL_INTEGER, 0},
	{"tokens_in", WAL_INTEGER, 0},
	{"tokens_out", WAL_INTEGER, 0},
	{"cache_read_tokens", WAL_INTEGER, 0},
	{"cache_write_tokens", WAL_INTEGER, 0},
	{"cost_usd", WAL_REAL, C_COST},
};

/* The total (ROLLUP's empty grouping set, there even without a row)
 * comes first; then the groups by key. $5 is --by. */
/* clang-format off */
static const char cost_sql[] =
	"SELECT k AS key, count(*) AS executions,"
	" coalesce(sum(tokens_in), 0)::bigint AS tokens_in,"
	" coalesce(sum(tokens_out), 0)::bigint AS tokens_out,"
	" coalesce(sum(cache_read_tokens), 0)::bigint AS cache_read_tokens,"
	" coalesce(sum(cache_write_tokens), 0)::bigint AS cache_write_tokens,"
	" " DOLLARS("sum(cost_usd)") " AS cost_usd"
	" FROM (SELECT CASE $5::text WHEN 'workflow' THEN e.name"
	"  WHEN 'day' THEN left(e.started_at, 10) ELSE e.machine END AS k,"
	"  e.tokens_in, e.tokens_out, e.cache_read_tokens,"
	"  e.cache_write_tokens, e.cost_usd"
	"  FROM " S "executions e WHERE" FILTERS("e", "e") ") s"
	" GROUP BY ROLLUP (k) ORDER BY grouping(k) DESC, k";
/* clang-format on */

/*
 * A fleet_pg_row_fn: the first row is the total. JSON: an object, the
 * total's columns with "by", holding the groups; text: the groups' table
 * with the total as its last line (kept until then).
 */
static int cost_row(int ncol, const char *const *names,
		    const char *const *values, void *arg)
{
	struct reader *rd = arg;
	struct fleet_run *r = rd->r;
	struct shown s;
	int i;

	check_columns(rd, ncol, names);
	if (rd->nrows)
		return list_row(ncol, names, values, arg);
	rd->nrows++;
	if (r->ctx->json) {
		show(&s, rd->cols, ncol, values, 0, 0, "by");
		s.values[0] = r->by;
		out_object_begin(r->out, &s.row);
		out_list_begin(r->out, "groups", NULL);
		return 0;
	}
	for (i = 0; i < ncol; i++)
		rd->total[i] = values[i] ? xstrdup(values[i]) : NULL;
	out_list_begin(r->out, NULL, NULL);
	return 0;
}

static int fleet_costs(struct fleet_run *r)
{
	const char *p[5];
	char buf[2][24];
	struct reader rd;
	struct shown s;
	struct pg_conn *c;
	int rc;

	if (!r->by)
		r->by = "machine";
	if (filter_params(r, execution_statuses, NULL, p, buf) < 0)
		return fleet_usage(r->sub);
	p[4] = r->by;
	c = view_open(r);
	if (!c)
		return EXIT_FAIL;
	reader_init(&rd, r, cost_cols, NCOLS(cost_cols), 0);
	rd.key = r->by;
	rc = view_query(c, cost_sql, 5, p, cost_row, &rd);
	if (rc == EXIT_OK && !rd.nrows) {
		fputs("smithers: the fleet view gave no total\n", stderr);
		rc = EXIT_FAIL;
	}
	if (rc == EXIT_OK && r->ctx->json) {
		out_list_end(r->out);
		out_object_end(r->out);
	} else if (rc == EXIT_OK) {
		show(&s, rd.cols, rd.ncols, (const char *const *)rd.total, 0, 1,
		     r->by);
		s.values[0] = "total";
		out_row(&s.row, r->out);
		out_list_end(r->out);
	}
	reader_release(&rd);
	return view_done(c, rc);
}

/* clang-format off */
const struct fleet_sub fleet_sub_costs = {
	"costs", "", "tokens and cost per machine, workflow or day",
	"Sum the tokens and the cost of the executions in the fleet view,\n"
	"per machine (default), per workflow (by name) or per day (UTC, of\n"
	"started_at), ordered by that key, with a last line 'total'.\n"
	"Columns: MACHINE, WORKFLOW or DAY, EXECUTIONS, TOKENS_IN,\n"
	"TOKENS_OUT, CACHE_READ_TOKENS, CACHE_WRITE_TOKENS and COST_USD (US\n"
	"dollars: the sum of the costs known, '-' when none is). --json\n"
	"prints one object, the total with \"by\", holding the groups in\n"
	"\"groups\".\n"
	"\n"
	"  --postgres CONNINFO  the database, as libpq takes it (default:\n"
	"                       libpq's PG* variables)\n"
	"  --by K               machine (default), workflow or day\n"
	"  --machine M          M's executions only\n"
	"  --workflow W         the executions of workflow W (its name or\n"
	"                       its file)\n"
	"  --status S           pending, running, completed, failed,\n"
	"                       cancelled, interrupted, or all (default)\n"
	"  --since D            started in the last D (30m, 2h, 1d, 2w)",
	FLEET_OPT_POSTGRES | FLEET_OPT_FILTER | FLEET_OPT_BY, 0, 0, fleet_costs,
};
/* clang-format on */

/* ---- top -------------------------------------------------------------- */

/* The summary (the first row, C_TOTAL) and one row per machine. */
static const struct col machine_cols[] = {
	{"machine", WAL_TEXT, C_ROWS},
	{"at", WAL_TEXT, C_TOTAL},
	{"machine_count", WAL_INTEGER, C_TOTAL},
	{"executions_running", WAL_INTEGER, 0},
	{"agents_running", WAL_INTEGER, 0},
	{"tokens_1h", WAL_INTEGER, 0},
	{"cost_1h", WAL_REAL, C_COST},
	{"tokens_today", WAL_INTEGER, 0},
	{"cost_today", WAL_REAL, C_COST},
	{"last_sunk_at", WAL_TEXT, 0},
	{"lag_s", WAL_INTEGER, 0},
};

static const struct col running_cols[] = {
	{"machine", WAL_TEXT, 0},
	{"id", WAL_INTEGER, 0},
	{"name", WAL_TEXT, 0},
	{"started_at", WAL_TEXT, 0},
	{"agents_running", WAL_INTEGER, 0},
	{"tokens_in", WAL_INTEGER, 0},
	{"tokens_out", WAL_INTEGER, 0},
	{"cost_usd", WAL_REAL, C_COST},
};

/* Each machine's newest row, of any table: the union is made from
 * fleet_tables[] (top_sql()), between these two halves. */
static const char top_sql_head[] =
	"WITH sunk AS (SELECT machine, max(at) AS at FROM (";
/*
 * Tokens and costs of the last hour and of today are those of the
 * executions started then (as `fleet costs --by day` counts them): the
 * fleet view has each execution's totals, not when each token was spent.
 * A window with no execution costs 0; one whose costs are all unknown,
 * NULL.
 */
/* clang-format off */
#define WINDOW(name, since)                                                    \
	" count(*) FILTER (WHERE started_at >= " since ") AS n_" name ","      \
	" sum(coalesce(tokens_in, 0) + coalesce(tokens_out, 0))"               \
	"  FILTER (WHERE started_at >= " since ") AS tokens_" name ","         \
	" sum(cost_usd) FILTER (WHERE started_at >= " since ") AS cost_" name
#define WINDOW_COST(name)                                                      \
	" CASE WHEN coalesce(e.n_" name ", 0) = 0 THEN 0"                      \
	"  ELSE e.cost_" name " END AS cost_" name ","                         \
	" coalesce(e.tokens_" name ", 0) AS tokens_" name
/* The machines' costs: 0 without a machine. */
#define SUM_COST(c) "CASE WHEN count(*) = 0 THEN 0 ELSE sum(" c ") END"
#define LAG(at) "floor(extract(epoch FROM now() - " at "))::bigint"
static const char top_sql_tail[] =
	") u GROUP BY machine),"
	" e AS (SELECT machine,"
	"  count(*) FILTER (WHERE status = 'running') AS running,"
	WINDOW("1h", AGO("3600")) "," WINDOW("today", TODAY)
	"  FROM " S "executions GROUP BY machine),"
	" a AS (SELECT machine, count(*) AS running FROM " S "agents"
	"  WHERE status = 'running' GROUP BY machine),"
	" m AS (SELECT s.machine, s.at,"
	"  coalesce(e.running, 0) AS executions_running,"
	"  coalesce(a.running, 0) AS agents_running,"
	WINDOW_COST("1h") "," WINDOW_COST("today")
	"  FROM sunk s LEFT JOIN e ON e.machine = s.machine"
	"  LEFT JOIN a ON a.machine = s.machine)"
	" SELECT machine, NULL AS at, NULL::bigint AS machine_count,"
	"  executions_running, agents_running, tokens_1h::bigint AS tokens_1h,"
	"  " DOLLARS("cost_1h") " AS cost_1h,"
	"  tokens_today::bigint AS tokens_today,"
	"  " DOLLARS("cost_today") " AS cost_today,"
	"  " STAMP("at") " AS last_sunk_at, " LAG("at") " AS lag_s"
	" FROM m"
	" UNION ALL"
	" SELECT NULL, " STAMP("now()") ", count(*),"
	"  coalesce(sum(executions_running), 0)::bigint,"
	"  coalesce(sum(agents_running), 0)::bigint,"
	"  coalesce(sum(tokens_1h), 0)::bigint,"
	"  " DOLLARS(SUM_COST("cost_1h")) ","
	"  coalesce(sum(tokens_today), 0)::bigint, "
	DOLLARS(SUM_COST("cost_today")) ","
	"  " STAMP("max(at)") ", " LAG("max(at)")
	" FROM m"
	" ORDER BY machine NULLS FIRST";
/* clang-format on */

/* clang-format off */
static const char running_sql[] =
	"SELECT e.machine, e.id, e.name, e.started_at,"
	" (SELECT count(*) FROM " S "agents a WHERE a.machine = e.machine"
	"  AND a.execution_id = e.id AND a.status = 'running')"
	"  AS agents_running,"
	" e.tokens_in, e.tokens_out, e.cost_usd"
	" FROM " S "executions e WHERE e.status = 'running'"
	" ORDER BY e.started_at DESC, e.machine, e.id DESC"
	" LIMIT $1::bigint";
/* clang-format on */

/* The query of the summary and the machines, in a new string. */
static char *top_sql(void)
{
	size_t len = sizeof(top_sql_head) + sizeof(top_sql_tail);
	char *sql, *p;
	int i;

	for (i = 0; i < fleet_ntables; i++)
		len += 96 + strlen(fleet_tables[i].name);
	sql = xmalloc(len);
	p = sql + sprintf(sql, "%s", top_sql_head);
	for (i = 0; i < fleet_ntables; i++)
		p += sprintf(p,
			     "%sSELECT machine, max(sunk_at) AS at FROM " S
			     "%s GROUP BY machine",
			     i ? " UNION ALL " : "", fleet_tables[i].name);
	sprintf(p, "%s", top_sql_tail);
	return sql;
}

/* A fleet_pg_row_fn: the summary (the first row) as an object holding
 * the machines' list, then each machine into it. */
static int top_row(int ncol, const char *const *names,
		   const char *const *values, void *arg)
{
	struct reader *rd = arg;
	struct shown s;

	check_columns(rd, ncol, names);
	if (rd->nrows)
		return list_row(ncol, names, values, arg);
	rd->nrows++;
	show(&s, rd->cols, ncol, values, C_ROWS, !rd->r->ctx->json, NULL);
	out_object_begin(rd->r->out, &s.row);
	out_list_begin(rd->r->out, "machines", NULL);
	return 0;
}

static int fleet_top(struct fleet_run *r)
{
	char n[24], err[FLEET_ERR_MAX];
	const char *p[1] = {n};
	struct reader rd;
	struct pg_conn *c;
	char *sql;
	int rc;

	snprintf(n, sizeof(n), "%lld", r->limit > 0 ? r->limit : TOP_RUNNING);
	c = view_open(r);
	if (!c)
		return EXIT_FAIL;
	/* One snapshot for both queries: the list agrees with the counts. */
	if (fleet_pg_snapshot(c, err) < 0) {
		fprintf(stderr, "smithers: %s\n", err);
		return view_done(c, EXIT_FAIL);
	}
	sql = top_sql();
	reader_init(&rd, r, machine_cols, NCOLS(machine_cols), C_TOTAL);
	rc = view_query(c, sql, 0, NULL, top_row, &rd);
	free(sql);
	if (rc == EXIT_OK && !rd.nrows) {
		fputs("smithers: the fleet view gave no summary\n", stderr);
		rc = EXIT_FAIL;
	}
	if (rc != EXIT_OK)
		return view_done(c, rc);
	out_list_end(r->out);
	reader_init(&rd, r, running_cols, NCOLS(running_cols), 0);
	out_list_begin(r->out, "running", NULL);
	rc = view_query(c, running_sql, 1, p, list_row, &rd);
	if (rc == EXIT_OK) {
		out_list_end(r->out);
		out_object_end(r->out);
	}
	return view_done(c, rc);
}

/* clang-format off */
const struct fleet_sub fleet_sub_top = {
	"top", "", "the fleet now: each machine's running work and freshness",
	"One snapshot of the fleet view, like 'top -b -n1': a summary (AT,\n"
	"the database's time; MACHINE_COUNT; and the sums of the columns\n"
	"below), then one line per machine: MACHINE, EXECUTIONS_RUNNING,\n"
	"AGENTS_RUNNING, TOKENS_1H and COST_1H (tokens in and out, and US\n"
	"dollars, of the executions started in the last hour),\n"
	"TOKENS_TODAY and COST_TODAY (started today, UTC), LAST_SUNK_AT\n"
	"(the newest row the sink wrote for the machine, of any table) and\n"
	"LAG_S (its age in seconds: how fresh the machine's data is); then\n"
	"the running executions, newest first: MACHINE, ID, NAME,\n"
	"STARTED_AT, AGENTS_RUNNING, TOKENS_IN, TOKENS_OUT, COST_USD.\n"
	"--json prints one object, the summary, with the lists \"machines\"\n"
	"and \"running\".\n"
	"\n"
	"  --postgres CONNINFO  the database, as libpq takes it (default:\n"
	"                       libpq's PG* variables)\n"
	"  -n N                 at most N running executions (default 20)",
	FLEET_OPT_POSTGRES | FLEET_OPT_N, 0, 0, fleet_top,
};
/* clang-format on */
