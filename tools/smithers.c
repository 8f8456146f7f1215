/*
 * smithers.c - the `smithers` program: global options, the command table
 * and dispatch, and what the commands share (opening the store, option
 * errors, exit status).
 *
 * `smithers [--dir DIR] [--json] COMMAND [ARGS]`: global options stop at the
 * first word that is not one; the rest belongs to COMMAND, whose entry
 * (cmd-NAME.c) parses it again, global options included, so that they may
 * come after it too. Exit status: 0 success, 1 failure, 2 usage or no
 * state (cli.h, smithers(1)).
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "tools/output.h"
#include "tools/cli.h"
#include "wal/wal.h"

const struct cmd_entry *const cmd_table[] = {
	&cmd_init_entry,
	&cmd_run_entry,
	&cmd_db_entry,
	&cmd_emit_entry,
	&cmd_fleet_entry,
	&cmd_help_entry,
	NULL,
};

static const struct option main_options[] = {
	CMD_COMMON_OPTIONS,
	{"version", no_argument, NULL, 'V'},
	{NULL, 0, NULL, 0},
};

const struct cmd_entry *cmd_find(const char *name)
{
	const struct cmd_entry *const *e;

	for (e = cmd_table; *e; e++)
		if (!strcmp((*e)->name, name))
			return *e;
	return NULL;
}

void cmd_print_main_help(FILE *fp)
{
	const struct cmd_entry *const *e;
	char syn[64];

	fputs("usage: smithers [--dir DIR] [--json] COMMAND [ARGS]\n"
	      "\n"
	      "Keep every piece of state of parallel AI agents in one SQLite\n"
	      "database, DIR/.smithers/smithers.db.\n"
	      "\n"
	      "Commands:\n",
	      fp);
	for (e = cmd_table; *e; e++) {
		snprintf(syn, sizeof(syn), "%s %s", (*e)->name, (*e)->args);
		fprintf(fp, "  %-28s %s\n", syn, (*e)->summary);
	}
	fputs("\n"
	      "Options:\n"
	      "  --dir DIR                    the directory holding .smithers\n"
	      "                               (default: $SMITHERS_DIR or .)\n"
	      "  --json                       machine-readable output\n"
	      "  -h, --help                   show this help\n"
	      "  -V, --version                show the version\n"
	      "\n"
	      "Run 'smithers help COMMAND' for the help of a command.\n",
	      fp);
}

void cmd_print_help(FILE *fp, const struct cmd_entry *e)
{
	fprintf(fp, "usage: smithers %s %s\n\n%s\n", e->name, e->args, e->help);
}

int cmd_usage(const struct cmd_entry *e)
{
	if (!e) {
		fputs("usage: smithers [--dir DIR] [--json] COMMAND [ARGS]\n"
		      "commands:",
		      stderr);
		for (const struct cmd_entry *const *p = cmd_table; *p; p++)
			fprintf(stderr, " %s", (*p)->name);
		fputs("\nrun 'smithers --help' for help\n", stderr);
		return EXIT_USAGE;
	}
	fprintf(stderr,
		"usage: smithers %s %s\n"
		"run 'smithers help %s' for help\n",
		e->name, e->args, e->name);
	return EXIT_USAGE;
}

void cmd_option_error(char *const *argv, int c)
{
	const char *arg = optind > 0 ? argv[optind - 1] : "";

	if (c == ':') {
		if (optopt && optopt < 0x100)
			fprintf(stderr,
				"smithers: option '-%c' needs an argument\n",
				optopt);
		else
			fprintf(stderr,
				"smithers: option '%s' needs an argument\n",
				arg);
	} else if (optopt && optopt < 0x100) {
		fprintf(stderr, "smithers: unknown option '-%c'\n", optopt);
	} else {
		fprintf(stderr, "smithers: unknown option '%s'\n", arg);
	}
}

int cmd_common_option(struct cmd_ctx *ctx, int c, const char *arg)
{
	switch (c) {
	case OPT_DIR:
		if (!*arg) {
			fputs("smithers: '--dir' needs a directory, not ''\n",
			      stderr);
			return -1;
		}
		ctx->dir = arg;
		return 1;
	case OPT_JSON:
		ctx->json = 1;
		return 1;
	default:
		return 0;
	}
}

int cmd_open_store(const struct cmd_ctx *ctx, int readonly, struct wal **out)
{
	struct wal_options opt;
	struct wal *w = NULL;
	char *path = cmd_path(ctx->dir, ".smithers/smithers.db");
	const char *msg;
	int rc = EXIT_FAIL, err;

	memset(&opt, 0, sizeof(opt));
	opt.readonly = readonly;
	if (wal_open(ctx->dir, &opt, &w) == 0) {
		/* SQLite reads lazily: make sure the file is a database. */
		if (wal_schema_version(w) >= 0) {
			*out = w;
			w = NULL;
			rc = EXIT_OK;
			goto out;
		}
		errno = EIO;
	}
	err = errno;
	if (err == ENOENT) {
		fprintf(stderr,
			"smithers: no smithers state in '%s' (run 'smithers "
			"init')\n",
			ctx->dir);
		rc = EXIT_USAGE;
		goto out;
	}
	msg = w ? wal_errmsg(w) : NULL;
	if (!msg || !*msg)
		msg = strerror(err);
	if (strstr(msg, path) || (w && strstr(msg, wal_db_path(w))))
		fprintf(stderr, "smithers: %s\n", msg);
	else
		fprintf(stderr, "smithers: cannot open '%s': %s\n", path, msg);
out:
	wal_close(w);
	free(path);
	return rc;
}

int cmd_lock_store(const struct cmd_ctx *ctx, const char *verb, int busy,
		   int *fd)
{
	size_t dlen = strlen(ctx->dir);
	char *lock = xmalloc(dlen + sizeof("/.smithers/supervisor.lock"));
	struct wal *w = NULL;
	pid_t holder = 0;
	int rc = EXIT_FAIL;

	/* DIR as given, even ".": the path the user can act on. */
	sprintf(lock, "%s%s.smithers/supervisor.lock", ctx->dir,
		dlen && ctx->dir[dlen - 1] == '/' ? "" : "/");
	*fd = wal_lock_acquire(ctx->dir, &holder);
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
		rc = cmd_open_store(ctx, 1, &w);
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

int main(int argc, char **argv)
{
	struct cmd_ctx ctx;
	const struct cmd_entry *e;
	const char *env;
	int c, rc;

	out_init_locale();
	memset(&ctx, 0, sizeof(ctx));
	env = getenv("SMITHERS_DIR");
	ctx.dir = env && *env ? env : ".";
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:hV", main_options, NULL)) !=
	       -1) {
		rc = cmd_common_option(&ctx, c, optarg);
		if (rc < 0)
			return cmd_usage(NULL);
		if (rc > 0)
			continue;
		switch (c) {
		case 'h':
			cmd_print_main_help(stdout);
			return cmd_flush_stdout();
		case 'V':
			printf("smithers %s\n", PACKAGE_VERSION);
			return cmd_flush_stdout();
		default:
			cmd_option_error(argv, c);
			return cmd_usage(NULL);
		}
	}
	if (optind >= argc) {
		fputs("smithers: no command given\n", stderr);
		return cmd_usage(NULL);
	}
	e = cmd_find(argv[optind]);
	if (!e) {
		fprintf(stderr, "smithers: unknown command '%s'\n",
			argv[optind]);
		return cmd_usage(NULL);
	}
	rc = e->exec(&ctx, argc - optind, argv + optind);
	if (rc == EXIT_OK)
		rc = cmd_flush_stdout();
	return rc;
}
