/*
 * cmd-help.c - `smithers help [COMMAND [SUBCOMMAND]]`: the help of the
 * program, of one command, or of one `db` subcommand, on stdout.
 */
#include "config.h"

#include <string.h>

#include "tools/cli.h"

static int cmd_help_exec(struct cmd_ctx *ctx, int argc, char **argv);

const struct cmd_entry cmd_help_entry = {
	.name = "help",
	.args = "[COMMAND [SUBCOMMAND]]",
	.summary = "show the help of smithers or of a command",
	.help = "Show the help of smithers, of COMMAND, or of a subcommand\n"
		"('smithers help db state'). 'smithers COMMAND --help' does\n"
		"the same.",
	.exec = cmd_help_exec,
};

static int cmd_help_exec(struct cmd_ctx *ctx, int argc, char **argv)
{
	const struct cmd_entry *e;
	char *sub[4];

	if (argc > 1 &&
	    (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		cmd_print_help(stdout, &cmd_help_entry);
		return EXIT_OK;
	}
	if (argc < 2) {
		cmd_print_main_help(stdout);
		return EXIT_OK;
	}
	e = cmd_find(argv[1]);
	if (!e) {
		fprintf(stderr, "smithers: unknown command '%s'\n", argv[1]);
		return cmd_usage(&cmd_help_entry);
	}
	if (argc > 3 || (argc == 3 && e != &cmd_db_entry &&
				  e != &cmd_fleet_entry)) {
		fputs("smithers: too many arguments\n", stderr);
		return cmd_usage(&cmd_help_entry);
	}
	/* A command's help is what its --help prints. */
	sub[0] = argv[1];
	sub[1] = argc == 3 ? argv[2] : (char *)"--help";
	sub[2] = argc == 3 ? (char *)"--help" : NULL;
	sub[3] = NULL;
	return e->exec(ctx, argc, sub);
}
