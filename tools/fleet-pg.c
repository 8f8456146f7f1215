/*
 * fleet-pg.c - the fleet view in PostgreSQL: its tables (fleet_tables[],
 * the one list of their columns), its versioned schema, and the writes
 * and reads of `smithers fleet`. The only file that includes libpq.
 *
 * The schema lives in its own namespace, "smithers", so that it never
 * meets a table of the database's other users. smithers.schema_version
 * holds one row, the version; migrations run in one transaction under an
 * advisory lock, so that sinks started together migrate once. No foreign
 * keys: rows of different tables arrive in any order, from any machine.
 *
 * A row is written by one statement built from the table's columns:
 *
 *   INSERT INTO smithers.T (machine, version, sunk_at, c1, ...)
 *   SELECT $1, $2, clock_timestamp(), r.c1, ...
 *     FROM jsonb_populate_record(NULL::smithers.T, $3::jsonb) AS r
 *   ON CONFLICT (machine, id) DO UPDATE SET version = EXCLUDED.version, ...
 *   WHERE T.version < EXCLUDED.version
 *
 * so a redelivered or older version changes nothing, and a key of the row
 * that the table does not have (a newer smithers) is left out. The same
 * with jsonb_populate_recordset() writes a batch's rows of T in one
 * statement, each row's machine and version among its keys.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "tools/fleet.h"

/* Bump with a new migration below. */
#define FLEET_PG_VERSION 1

/* The longest a connection may take, in seconds (connect_pg). */
#define FLEET_PG_CONNECT_S "10"

/* ---- the tables ----------------------------------------------------------- */

#define T(name, ...)                                                           \
	static const struct fleet_col name##_cols[] = {__VA_ARGS__}

T(executions, {"id", FT_INT}, {"name", FT_TEXT}, {"workflow", FT_TEXT},
  {"status", FT_TEXT}, {"config", FT_JSON}, {"result", FT_JSON},
  {"error", FT_TEXT}, {"created_at", FT_TEXT}, {"started_at", FT_TEXT},
  {"ended_at", FT_TEXT}, {"duration_ms", FT_INT}, {"supervisor_pid", FT_INT},
  {"heartbeat_at", FT_TEXT}, {"total_iterations", FT_INT},
  {"total_agents", FT_INT}, {"total_tool_calls", FT_INT},
  {"tokens_in", FT_INT}, {"tokens_out", FT_INT}, {"boot_id", FT_TEXT},
  {"recoveries", FT_INT}, {"recovered_at", FT_TEXT},
  {"cache_read_tokens", FT_INT}, {"cache_write_tokens", FT_INT},
  {"cost_usd", FT_REAL}, {"max_cost_usd", FT_REAL},
  {"reasoning_tokens", FT_INT}, {"containment", FT_TEXT});

T(phases, {"id", FT_INT}, {"execution_id", FT_INT}, {"name", FT_TEXT},
  {"iteration", FT_INT}, {"status", FT_TEXT}, {"started_at", FT_TEXT},
  {"ended_at", FT_TEXT}, {"duration_ms", FT_INT}, {"agent_count", FT_INT});

T(agents, {"id", FT_INT}, {"execution_id", FT_INT}, {"phase_id", FT_INT},
  {"name", FT_TEXT}, {"model", FT_TEXT}, {"system_prompt", FT_TEXT},
  {"prompt", FT_TEXT}, {"status", FT_TEXT}, {"pid", FT_INT},
  {"attempt", FT_INT}, {"result", FT_TEXT}, {"structured_result", FT_JSON},
  {"error", FT_TEXT}, {"exit_code", FT_INT}, {"exit_signal", FT_INT},
  {"tokens_in", FT_INT}, {"tokens_out", FT_INT}, {"tool_call_count", FT_INT},
  {"started_at", FT_TEXT}, {"ended_at", FT_TEXT}, {"duration_ms", FT_INT},
  {"log_path", FT_TEXT}, {"pid_start", FT_INT}, {"worker_pid", FT_INT},
  {"worker_start", FT_INT}, {"kind", FT_TEXT}, {"session_id", FT_TEXT},
  {"cli_version", FT_TEXT}, {"tools", FT_JSON},
  {"cache_read_tokens", FT_INT}, {"cache_write_tokens", FT_INT},
  {"cost_usd", FT_REAL}, {"resume_prompt", FT_TEXT}, {"resumes", FT_INT},
  {"reasoning_tokens", FT_INT}, {"mem_peak", FT_INT}, {"cpu_usec", FT_INT});

T(tool_calls, {"id", FT_INT}, {"agent_id", FT_INT}, {"execution_id", FT_INT},
  {"tool_name", FT_TEXT}, {"input", FT_JSON}, {"output_inline", FT_TEXT},
  {"output_path", FT_TEXT}, {"output_hash", FT_TEXT},
  {"output_size", FT_INT}, {"summary", FT_TEXT}, {"status", FT_TEXT},
  {"error", FT_TEXT}, {"started_at", FT_TEXT}, {"ended_at", FT_TEXT},
  {"duration_ms", FT_INT}, {"external_id", FT_TEXT}, {"parent_id", FT_INT});

T(transitions, {"id", FT_INT}, {"execution_id", FT_INT}, {"key", FT_TEXT},
  {"old_value", FT_JSON}, {"new_value", FT_JSON}, {"trigger", FT_TEXT},
  {"agent_id", FT_INT}, {"created_at", FT_TEXT}, {"prev_id", FT_INT});

T(memories, {"id", FT_INT}, {"category", FT_TEXT}, {"scope", FT_TEXT},
  {"key", FT_TEXT}, {"content", FT_TEXT}, {"confidence", FT_REAL},
  {"source", FT_TEXT}, {"source_execution_id", FT_INT},
  {"created_at", FT_TEXT}, {"updated_at", FT_TEXT}, {"accessed_at", FT_TEXT},
  {"expires_at", FT_TEXT});

T(artifacts, {"id", FT_INT}, {"execution_id", FT_INT}, {"agent_id", FT_INT},
  {"name", FT_TEXT}, {"type", FT_TEXT}, {"file_path", FT_TEXT},
  {"git_hash", FT_TEXT}, {"git_commit", FT_TEXT}, {"summary", FT_TEXT},
  {"line_count", FT_INT}, {"byte_size", FT_INT}, {"metadata", FT_JSON},
  {"created_at", FT_TEXT});

#undef T

#define TABLE(name)                                                            \
	{                                                                      \
		#name, name##_cols,                                            \
			(int)(sizeof(name##_cols) / sizeof(name##_cols[0]))    \
	}

const struct fleet_table fleet_tables[] = {
	TABLE(executions), TABLE(phases),   TABLE(agents),    TABLE(tool_calls),
	TABLE(transitions), TABLE(memories), TABLE(artifacts),
};

#undef TABLE

const int fleet_ntables = (int)(sizeof(fleet_tables) / sizeof(fleet_tables[0]));

const struct fleet_table *fleet_table_find(const char *name)
{
	int i;

	for (i = 0; i < fleet_ntables; i++)
		if (!strcmp(fleet_tables[i].name, name))
			return &fleet_tables[i];
	return NULL;
}

/* ---- a growing string ----------------------------------------------------- */

struct sbuf {
	char *s;
	size_t len, cap;
};

static void sb_add(struct sbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void sb_add(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->s ? b->s + b->len : NULL,
			      b->s ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0)
			n = 0;
		if (b->s && b->len + (size_t)n < b->cap)
			break;
		b->cap = (b->cap + (size_t)n + 1) * 2;
		b->s = xrealloc(b->s, b->cap);
	}
	b->len += (size_t)n;
}

/* ---- connection ----------------------------------------------------------- */

struct pg_conn {
	PGconn *pg;
	int version;
	int prepared; /* the upserts are prepared on this connection */
};

/* ERR = WHAT: PostgreSQL's message (its first line). */
static void pg_err(char *err, const char *what, const char *msg)
{
	size_t n;

	snprintf(err, FLEET_ERR_MAX, "%s: %s", what,
		 msg && *msg ? msg : "unknown error");
	n = strcspn(err, "\n");
	err[n] = '\0';
}

/* Run SQL with no result rows; 0, or -1 with ERR. */
static int pg_exec(struct pg_conn *c, const char *sql, const char *what,
		   char *err)
{
	PGresult *res = PQexec(c->pg, sql);
	ExecStatusType st = PQresultStatus(res);
	int rc = 0;

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		pg_err(err, what, PQresultErrorMessage(res));
		rc = -1;
	}
	PQclear(res);
	return rc;
}

static const char *type_sql(enum fleet_type t)
{
	switch (t) {
	case FT_INT:
		return "bigint";
	case FT_REAL:
		return "double precision";
	case FT_TEXT:
		return "text";
	case FT_JSON:
		return "jsonb";
	}
	return "text";
}

/* Migration 1: every table, keyed by (machine, id), and the indexes of
 * the readers. */
static char *migration_1(void)
{
	struct sbuf b = {0};
	int i, j;

	sb_add(&b, "CREATE TABLE " FLEET_PG_SCHEMA ".schema_version ("
		   " version integer NOT NULL);"
		   "INSERT INTO " FLEET_PG_SCHEMA ".schema_version VALUES (0);");
	for (i = 0; i < fleet_ntables; i++) {
		const struct fleet_table *t = &fleet_tables[i];

		sb_add(&b,
		       "CREATE TABLE " FLEET_PG_SCHEMA ".%s ("
		       " machine text NOT NULL,"
		       " version bigint NOT NULL,"
		       " sunk_at timestamptz NOT NULL,",
		       t->name);
		for (j = 0; j < t->ncols; j++)
			sb_add(&b, " %s %s%s,", t->cols[j].name,
			       type_sql(t->cols[j].type),
			       j ? "" : " NOT NULL");
		sb_add(&b, " PRIMARY KEY (machine, id));");
	}
	sb_add(&b,
	       "CREATE INDEX executions_status ON " FLEET_PG_SCHEMA
	       ".executions (status);"
	       "CREATE INDEX executions_started ON " FLEET_PG_SCHEMA
	       ".executions (started_at);"
	       "CREATE INDEX agents_status ON " FLEET_PG_SCHEMA
	       ".agents (status);"
	       "CREATE INDEX agents_execution ON " FLEET_PG_SCHEMA
	       ".agents (machine, execution_id);");
	return b.s;
}

/* Bring the schema to FLEET_PG_VERSION, in one transaction. */
static int migrate(struct pg_conn *c, char *err)
{
	PGresult *res;
	char *sql;
	int have;

	if (pg_exec(c,
		    "BEGIN;"
		    "SELECT pg_advisory_xact_lock(hashtext('smithers fleet'));"
		    "CREATE SCHEMA IF NOT EXISTS " FLEET_PG_SCHEMA ";",
		    "cannot create the schema " FLEET_PG_SCHEMA, err) < 0)
		goto fail;
	res = PQexec(c->pg,
		     "SELECT to_regclass('" FLEET_PG_SCHEMA
		     ".schema_version') IS NOT NULL");
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		pg_err(err, "cannot read the schema version",
		       PQresultErrorMessage(res));
		PQclear(res);
		goto fail;
	}
	have = !strcmp(PQgetvalue(res, 0, 0), "t");
	PQclear(res);
	if (!have) {
		sql = migration_1();
		if (pg_exec(c, sql, "cannot create the fleet view", err) < 0) {
			free(sql);
			goto fail;
		}
		free(sql);
		if (pg_exec(c,
			    "UPDATE " FLEET_PG_SCHEMA
			    ".schema_version SET version = 1",
			    "cannot set the schema version", err) < 0)
			goto fail;
	}
	/* Migrations 2 and up go here, each from the version before it. */
	return pg_exec(c, "COMMIT", "cannot commit the schema", err);
fail:
	PQclear(PQexec(c->pg, "ROLLBACK"));
	return -1;
}

static int prepare(struct pg_conn *c, char *err);

/* C->version from the database: -1 with ERR when there is no fleet view. */
static int read_version(struct pg_conn *c, char *err)
{
	PGresult *res;

	res = PQexec(c->pg, "SELECT to_regclass('" FLEET_PG_SCHEMA
			    ".schema_version') IS NOT NULL");
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		pg_err(err, "cannot read the schema version",
		       PQresultErrorMessage(res));
		PQclear(res);
		return -1;
	}
	if (strcmp(PQgetvalue(res, 0, 0), "t")) {
		PQclear(res);
		snprintf(err, FLEET_ERR_MAX,
			 "no fleet view in this database (schema '"
			 FLEET_PG_SCHEMA "'): start 'smithers fleet sink' "
			 "first");
		return -1;
	}
	PQclear(res);
	res = PQexec(c->pg, "SELECT max(version) FROM " FLEET_PG_SCHEMA
			    ".schema_version");
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 ||
	    PQgetisnull(res, 0, 0)) {
		pg_err(err, "cannot read the schema version",
		       PQresultErrorMessage(res));
		PQclear(res);
		return -1;
	}
	c->version = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	if (c->version > FLEET_PG_VERSION) {
		snprintf(err, FLEET_ERR_MAX,
			 "the fleet view has schema version %d, newer than "
			 "this smithers knows (%d): upgrade smithers",
			 c->version, FLEET_PG_VERSION);
		return -1;
	}
	if (c->version < FLEET_PG_VERSION) {
		snprintf(err, FLEET_ERR_MAX,
			 "the fleet view has schema version %d, older than "
			 "this smithers (%d): run 'smithers fleet sink' to "
			 "migrate it",
			 c->version, FLEET_PG_VERSION);
		return -1;
	}
	return 0;
}

/* libpq waits for a server that never answers for ever, unless told: so
 * FLEET_PG_CONNECT_S, unless PGCONNECT_TIMEOUT or CONNINFO says otherwise
 * (CONNINFO, expanded after it, wins). */
static PGconn *connect_pg(const char *conninfo)
{
	const char *keys[] = {"connect_timeout", "dbname", NULL};
	const char *values[] = {FLEET_PG_CONNECT_S, conninfo ? conninfo : "",
				NULL};
	int skip = getenv("PGCONNECT_TIMEOUT") != NULL;

	return PQconnectdbParams(keys + skip, values + skip, 1);
}

struct pg_conn *fleet_pg_open(const char *conninfo, int migrate_it,
			      char *err)
{
	struct pg_conn *c = xmalloc(sizeof(*c));

	memset(c, 0, sizeof(*c));
	c->pg = connect_pg(conninfo);
	if (PQstatus(c->pg) != CONNECTION_OK) {
		pg_err(err, "cannot connect to PostgreSQL",
		       PQerrorMessage(c->pg));
		goto fail;
	}
	/* Our messages stay out of the way; a notice is not an error. */
	PQsetNoticeProcessor(c->pg, NULL, NULL);
	if (pg_exec(c, "SET client_min_messages = warning", "cannot set up",
		    err) < 0)
		goto fail;
	if (migrate_it && migrate(c, err) < 0)
		goto fail;
	if (read_version(c, err) < 0)
		goto fail;
	if (migrate_it && prepare(c, err) < 0)
		goto fail;
	return c;
fail:
	fleet_pg_close(c);
	return NULL;
}

void fleet_pg_close(struct pg_conn *c)
{
	if (!c)
		return;
	PQfinish(c->pg);
	free(c);
}

int fleet_pg_version(const struct pg_conn *c)
{
	return c->version;
}

/* ---- the sink's writes ---------------------------------------------------- */

int fleet_pg_begin(struct pg_conn *c, char *err)
{
	return pg_exec(c, "BEGIN", "cannot begin", err);
}

int fleet_pg_commit(struct pg_conn *c, char *err)
{
	return pg_exec(c, "COMMIT", "cannot commit", err);
}

void fleet_pg_rollback(struct pg_conn *c)
{
	PQclear(PQexec(c->pg, "ROLLBACK"));
}

int fleet_pg_savepoint(struct pg_conn *c, int release, int rollback,
		       char *err)
{
	const char *sql = rollback  ? "ROLLBACK TO SAVEPOINT row"
			  : release ? "RELEASE SAVEPOINT row"
				    : "SAVEPOINT row";

	return pg_exec(c, sql, "cannot use a savepoint", err);
}

/* The upsert of T, as in the comment at the top; MANY: of every row of
 * the JSON array $1, each with its "machine" and "version". */
static char *upsert_sql(const struct fleet_table *t, int many)
{
	struct sbuf b = {0};
	int j;

	sb_add(&b, "INSERT INTO " FLEET_PG_SCHEMA ".%s (machine, version,"
		   " sunk_at", t->name);
	for (j = 0; j < t->ncols; j++)
		sb_add(&b, ", %s", t->cols[j].name);
	if (many)
		sb_add(&b, ") SELECT r.machine, r.version, clock_timestamp()");
	else
		sb_add(&b, ") SELECT $1, $2, clock_timestamp()");
	for (j = 0; j < t->ncols; j++)
		sb_add(&b, ", r.%s", t->cols[j].name);
	if (many)
		sb_add(&b,
		       " FROM jsonb_populate_recordset(NULL::" FLEET_PG_SCHEMA
		       ".%s, $1::jsonb) AS r",
		       t->name);
	else
		sb_add(&b,
		       " FROM jsonb_populate_record(NULL::" FLEET_PG_SCHEMA
		       ".%s, $3::jsonb) AS r",
		       t->name);
	sb_add(&b,
	       " ON CONFLICT (machine, id) DO UPDATE SET"
	       " version = EXCLUDED.version, sunk_at = EXCLUDED.sunk_at");
	for (j = 1; j < t->ncols; j++)
		sb_add(&b, ", %s = EXCLUDED.%s", t->cols[j].name,
		       t->cols[j].name);
	sb_add(&b, " WHERE %s.version < EXCLUDED.version", t->name);
	return b.s;
}

static int prepare(struct pg_conn *c, char *err)
{
	int i;

	for (i = 0; i < 2 * fleet_ntables; i++) {
		const struct fleet_table *t = &fleet_tables[i / 2];
		int many = i % 2;
		char *sql = upsert_sql(t, many), name[80];
		PGresult *res;
		int ok;

		snprintf(name, sizeof(name), "%s%s", t->name,
			 many ? "_set" : "");
		res = PQprepare(c->pg, name, sql, many ? 1 : 3, NULL);
		ok = PQresultStatus(res) == PGRES_COMMAND_OK;
		if (!ok)
			pg_err(err, "cannot prepare the writes",
			       PQresultErrorMessage(res));
		PQclear(res);
		free(sql);
		if (!ok)
			return -1;
	}
	c->prepared = 1;
	return 0;
}

int fleet_pg_upsert(struct pg_conn *c, const struct fleet_table *t,
		    const char *machine, int64_t version, const char *row,
		    int *data, char *err)
{
	char v[24];
	const char *params[3] = {machine, v, row};
	PGresult *res;
	const char *state;
	int rc = 0;

	*data = 0;
	if (!c->prepared) {
		snprintf(err, FLEET_ERR_MAX, "the writes are not prepared");
		return -1;
	}
	snprintf(v, sizeof(v), "%lld", (long long)version);
	res = PQexecPrepared(c->pg, t->name, 3, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		/* Class 22 (data exception) and 23 (integrity): this row
		 * will never go in. Anything else is PostgreSQL's trouble. */
		if (state && (!strncmp(state, "22", 2) ||
			      !strncmp(state, "23", 2)))
			*data = 1;
		pg_err(err, t->name, PQresultErrorMessage(res));
		rc = -1;
	} else {
		rc = !strcmp(PQcmdTuples(res), "1");
	}
	PQclear(res);
	return rc;
}

int fleet_pg_upsert_set(struct pg_conn *c, const struct fleet_table *t,
			const char *rows, int *data, char *err)
{
	const char *params[1] = {rows};
	char name[80];
	PGresult *res;
	const char *state;
	int rc;

	*data = 0;
	if (!c->prepared) {
		snprintf(err, FLEET_ERR_MAX, "the writes are not prepared");
		return -1;
	}
	snprintf(name, sizeof(name), "%s_set", t->name);
	res = PQexecPrepared(c->pg, name, 1, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		if (state && (!strncmp(state, "22", 2) ||
			      !strncmp(state, "23", 2) ||
			      !strcmp(state, "21000")))
			*data = 1;
		pg_err(err, t->name, PQresultErrorMessage(res));
		rc = -1;
	} else {
		rc = atoi(PQcmdTuples(res));
	}
	PQclear(res);
	return rc;
}

/* ---- the readers ---------------------------------------------------------- */

int fleet_pg_query(struct pg_conn *c, const char *sql, int n,
		   const char *const *params, fleet_pg_row_fn *fn, void *arg,
		   char *err)
{
	PGresult *res;
	const char **names = NULL, **values = NULL;
	int i, j, nc, nr, rc = 0;

	res = PQexecParams(c->pg, sql, n, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		pg_err(err, "cannot read the fleet view",
		       PQresultErrorMessage(res));
		PQclear(res);
		return -1;
	}
	nc = PQnfields(res);
	nr = PQntuples(res);
	names = xmalloc(sizeof(*names) * (size_t)(nc ? nc : 1));
	values = xmalloc(sizeof(*values) * (size_t)(nc ? nc : 1));
	for (j = 0; j < nc; j++)
		names[j] = PQfname(res, j);
	for (i = 0; i < nr && !rc; i++) {
		for (j = 0; j < nc; j++)
			values[j] = PQgetisnull(res, i, j)
					    ? NULL
					    : PQgetvalue(res, i, j);
		rc = fn(nc, names, values, arg);
	}
	free(names);
	free(values);
	PQclear(res);
	return rc;
}

int fleet_pg_snapshot(struct pg_conn *c, char *err)
{
	return pg_exec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
		       "cannot begin a snapshot", err);
}
