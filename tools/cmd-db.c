/*
 * cmd-db.c - `smithers db SUBCOMMAND`: the subcommand table, the options,
 * the help, and the dispatch. The subcommands themselves are in
 * db-read.c (reading the store), db-replay.c and db-gc.c (the two writes
 * it allows); db.h is what they share.
 *
 * Each subcommand is one entry (struct db_sub): its synopsis, help, the
 * options it takes (DB_OPT_* bits) and how many arguments, and how it
 * needs the store. Reads get a read-only connection opened here, so they
 * never wait for nor disturb a running supervisor. A write opens the
 * store itself once it holds the supervisor lock (cmd_lock_store, in
 * smithers.c), exactly as a supervisor would: while one runs, nothing
 * else may write.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tools/db.h"
#include "tools/output.h"
#include "wal/wal.h"

static const struct db_sub *const db_table[] = {
	&db_sub_state,	   &db_sub_transitions, &db_sub_executions,
	&db_sub_execution, &db_sub_current,	&db_sub_agents,
	&db_sub_memories,  &db_sub_tools,	&db_sub_artifacts,
	&db_sub_stats,	   &db_sub_recovery,	&db_sub_replay,
	&db_sub_query,	   &db_sub_gc,
};

#define DB_NSUB (sizeof(db_table) / sizeof(db_table[0]))

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
		if (!strcmp(db_table[i]->name, name))
			return db_table[i];
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
	int w = 18; /* the synopsis column: at least as wide as the options' */

	for (i = 0; i < DB_NSUB; i++) {
		int n = (int)(strlen(db_table[i]->name) +
			      strlen(db_table[i]->args) + 1);

		if (n >= w)
			w = n + 1;
	}

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

		snprintf(syn, sizeof(syn), "%s %s", db_table[i]->name,
			 db_table[i]->args);
		fprintf(fp, "  %-*s %s\n", w, syn, db_table[i]->summary);
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
		fprintf(stderr, " %s", db_table[i]->name);
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
			if (!db_opt_allowed(s, DB_OPT_GC, "--keep") ||
			    db_gc_option(&r, c, optarg) < 0)
				return db_usage(s);
			break;
		case OPT_OLDER_THAN:
			if (!db_opt_allowed(s, DB_OPT_GC, "--older-than") ||
			    db_gc_option(&r, c, optarg) < 0)
				return db_usage(s);
			break;
		case OPT_DRY_RUN:
			if (!db_opt_allowed(s, DB_OPT_GC, "--dry-run") ||
			    db_gc_option(&r, c, optarg) < 0)
				return db_usage(s);
			break;
		case OPT_VIA_SUPERVISOR:
			if (!db_opt_allowed(s, DB_OPT_GC, "--via-supervisor") ||
			    db_gc_option(&r, c, optarg) < 0)
				return db_usage(s);
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
