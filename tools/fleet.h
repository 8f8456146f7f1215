/*
 * fleet.h - what the files of `smithers fleet` share (private to tools/):
 * the tables of the fleet view, one invocation's options, the subcommand
 * entry each fleet-*.c exports, and the PostgreSQL side (fleet-pg.c).
 *
 * The fleet view (docs/FLEET.md) is a PostgreSQL schema, "smithers",
 * holding one table per table the supervisors ship, with the columns of
 * ours, plus:
 *   machine  text    the machine the row comes from (the key is
 *                    (machine, id));
 *   version  bigint  the row's version there: a row only ever replaces an
 *                    older version of itself;
 *   sunk_at  timestamptz  when the sink wrote it (the lag's far end).
 * fleet_tables[] is the one list of those columns: the schema, the
 * upserts and the checks of a message's row are all made from it. A
 * column added to the local store must be added here, with a migration in
 * fleet-pg.c (tests/integration/160-fleet-sink.sh compares the two).
 */
#ifndef SMITHERS_TOOLS_FLEET_H
#define SMITHERS_TOOLS_FLEET_H

#include <stdint.h>

#include "tools/cli.h"

struct out;
struct pg_conn;

/* The PostgreSQL schema (namespace) of the fleet view. */
#define FLEET_PG_SCHEMA "smithers"

/* The durable JetStream consumer the sinks share. */
#define FLEET_CONSUMER "smithers-sink"

enum fleet_type {
	FT_INT,	 /* bigint: a JSON integer */
	FT_REAL, /* double precision: a JSON number */
	FT_TEXT, /* text: a JSON string */
	FT_JSON, /* jsonb: any JSON value */
};

struct fleet_col {
	const char *name;
	enum fleet_type type;
};

struct fleet_table {
	const char *name;
	const struct fleet_col *cols; /* "id" first */
	int ncols;
};

extern const struct fleet_table fleet_tables[];
extern const int fleet_ntables;

/* The table named NAME, or NULL. */
const struct fleet_table *fleet_table_find(const char *name);

/* ---- the command --------------------------------------------------------- */

/* getopt_long values of fleet's options (after cli.h's OPT_*). */
enum {
	OPT_NATS = 0x400,
	OPT_POSTGRES,
	OPT_STREAM,
	OPT_PREFIX,
	OPT_CREDENTIALS,
	OPT_MACHINE,
	OPT_WORKFLOW,
	OPT_SINCE,
	OPT_BY,
	OPT_STATUS,
	OPT_FORCE,
	OPT_WAIT,
};

/* The options a subcommand takes, beyond --json and --help. */
#define FLEET_OPT_NATS	   (1u << 0) /* --nats, --stream, --subject-prefix,
					--credentials */
#define FLEET_OPT_POSTGRES (1u << 1) /* --postgres */
#define FLEET_OPT_FILTER   (1u << 2) /* --machine, --workflow, --status,
					--since */
#define FLEET_OPT_BY	   (1u << 3) /* --by */
#define FLEET_OPT_N	   (1u << 4) /* -n */
#define FLEET_OPT_DIR	   (1u << 5) /* --dir: a state dir */
#define FLEET_OPT_FORCE	   (1u << 6) /* --force */
#define FLEET_OPT_WAIT	   (1u << 7) /* --wait */

struct fleet_run;

struct fleet_sub {
	const char *name;
	const char *args; /* synopsis of the arguments, "" if none */
	const char *summary;
	const char *help;
	unsigned opts;		/* FLEET_OPT_* */
	int min_args, max_args; /* max -1: no limit */
	int (*run)(struct fleet_run *r);
};

/* One invocation of a subcommand. */
struct fleet_run {
	const struct fleet_sub *sub;
	struct cmd_ctx *ctx;
	struct out *out;
	int nargs;
	char **args;
	const char *nats;	 /* --nats URL[,URL...] */
	const char *postgres;	 /* --postgres CONNINFO ("": libpq's PG*) */
	const char *stream;	 /* --stream, default SMITHERS */
	const char *prefix;	 /* --subject-prefix, default smithers */
	const char *credentials; /* --credentials FILE */
	const char *machine, *workflow, *status; /* filters; NULL: all */
	long long since;			 /* --since, seconds; -1: all */
	const char *by;				 /* --by (costs) */
	long long limit;			 /* -n; 0: all */
	int force;				 /* --force */
	long long wait_ms;			 /* --wait */
};

/* Print S's usage line on stderr; returns EXIT_USAGE (cmd-fleet.c). */
int fleet_usage(const struct fleet_sub *s);

/* The subcommands, in the order of `smithers fleet --help`. */
extern const struct fleet_sub fleet_sub_sink;	    /* fleet-sink.c */
extern const struct fleet_sub fleet_sub_executions, /* fleet-query.c */
	fleet_sub_agents, fleet_sub_costs, fleet_sub_top;
extern const struct fleet_sub fleet_sub_ship, /* fleet-local.c */
	fleet_sub_off;

/* ---- PostgreSQL (fleet-pg.c) ---------------------------------------------
 *
 * struct pg_conn is one connection to the fleet view; libpq stays in
 * fleet-pg.c. Errors are written to ERR (a line, without the final
 * newline) and return -1.
 */
#define FLEET_ERR_MAX 512

/*
 * Connect to CONNINFO ("" or NULL: libpq's defaults and PG* variables),
 * bring the schema to this version (creating it if need be, under an
 * advisory lock, so several sinks may start at once) and prepare the
 * writes. NULL on failure. MIGRATE 0 (the readers): only check that the
 * schema is there at this version; never create it.
 */
struct pg_conn *fleet_pg_open(const char *conninfo, int migrate, char *err);
void fleet_pg_close(struct pg_conn *c);

/* The fleet view's schema version (after fleet_pg_open). */
int fleet_pg_version(const struct pg_conn *c);

/* BEGIN, COMMIT, ROLLBACK of one batch. */
int fleet_pg_begin(struct pg_conn *c, char *err);
int fleet_pg_commit(struct pg_conn *c, char *err);
void fleet_pg_rollback(struct pg_conn *c);

/*
 * Write ROW (a JSON object whose values have the types of T's columns) as
 * MACHINE's row of T at VERSION, unless a version as new is there. Inside
 * a batch (fleet_pg_begin). 1 when written, 0 when not newer; -1 with
 * ERR, and *DATA set to 1 when PostgreSQL refused the row itself (a value
 * it will never take) rather than failing.
 */
int fleet_pg_upsert(struct pg_conn *c, const struct fleet_table *t,
		    const char *machine, int64_t version, const char *row,
		    int *data, char *err);

/*
 * The same for many rows of T at once: ROWS is a JSON array of rows, each
 * with its "machine" and "version" among its columns, no two of them the
 * same (machine, id). The number of rows written, or -1 as above.
 */
int fleet_pg_upsert_set(struct pg_conn *c, const struct fleet_table *t,
			const char *rows, int *data, char *err);

/* A savepoint around one row, when a batch is retried row by row. */
int fleet_pg_savepoint(struct pg_conn *c, int release, int rollback,
		       char *err);

/*
 * Run SQL (parameters PARAMS[0..N-1], text) and give each row to FN as
 * NCOL column names and values (NULL for SQL NULL). FN returns 0 to go on;
 * anything else stops, and is returned. -1 with ERR when the query fails.
 * For the readers (fleet-query.c).
 */
typedef int fleet_pg_row_fn(int ncol, const char *const *names,
			    const char *const *values, void *arg);
int fleet_pg_query(struct pg_conn *c, const char *sql, int n,
		   const char *const *params, fleet_pg_row_fn *fn, void *arg,
		   char *err);

/* Begin a read-only transaction whose queries all see one snapshot
 * (REPEATABLE READ); it ends with fleet_pg_close(). For the readers. */
int fleet_pg_snapshot(struct pg_conn *c, char *err);

#endif /* SMITHERS_TOOLS_FLEET_H */
