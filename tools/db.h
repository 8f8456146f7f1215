/*
 * db.h - what the files of `smithers db` share (private to tools/): the
 * subcommand entry each db-*.c exports, one invocation's parsed options,
 * and the two ways a subcommand reaches the store.
 *
 * cmd-db.c parses the options and dispatches; db-read.c and db-agents.c
 * hold the subcommands that read (a read-only connection, opened before run()),
 * db-replay.c and db-gc.c the two that write (they take the supervisor
 * lock with cmd_lock_store(), then open the store themselves).
 */
#ifndef SMITHERS_TOOLS_DB_H
#define SMITHERS_TOOLS_DB_H

#include "tools/cli.h"

struct out;
struct wal_row;

/* The options a subcommand takes, beyond --dir, --json and --help. */
#define DB_OPT_N	(1u << 0)
#define DB_OPT_KEY	(1u << 1)
#define DB_OPT_SEARCH	(1u << 2)
#define DB_OPT_CATEGORY (1u << 3)
#define DB_OPT_SCOPE	(1u << 4)
#define DB_OPT_AGENT	(1u << 5)
#define DB_OPT_GC	(1u << 6) /* --keep, --older-than, --dry-run, ... */

/* getopt_long values of gc's options (after cli.h's OPT_*). */
enum { OPT_KEEP = 0x300, OPT_OLDER_THAN, OPT_DRY_RUN, OPT_VIA_SUPERVISOR };

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

/* The subcommands, in the order of `smithers db --help`. */
extern const struct db_sub db_sub_state, db_sub_transitions,
	db_sub_executions, db_sub_execution, db_sub_current, db_sub_memories,
	db_sub_artifacts, db_sub_stats, db_sub_recovery,
	db_sub_query;			/* db-read.c */
extern const struct db_sub db_sub_agents, db_sub_tools; /* db-agents.c */
extern const struct db_sub db_sub_replay; /* db-replay.c */
extern const struct db_sub db_sub_gc;	  /* db-gc.c */

/* A wal_row_fn adding ROW to R's list (ARG is the struct db_run), as text
 * shows it: costs (columns named *cost_usd) with four decimals, session ids
 * by their first characters; JSON as it is. */
int db_text_row(const struct wal_row *row, void *arg);
/* out_object_begin() with ROW as text shows it (an unset budget left out).
 */
void db_text_object(struct db_run *r, const struct wal_row *row);

/* Report a failed read of WHAT from R's store; returns EXIT_FAIL. */
int db_fail(struct db_run *r, const char *what);

/* Apply gc's option C (OPT_KEEP ... OPT_VIA_SUPERVISOR) with ARG to R:
 * 0, or -1 after saying why ARG is bad (db-gc.c). */
int db_gc_option(struct db_run *r, int c, const char *arg);

#endif /* SMITHERS_TOOLS_DB_H */
