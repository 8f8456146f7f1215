/*
 * cmd-fleet.c - `smithers fleet SUBCOMMAND`: the subcommand table, the
 * options, the help and the dispatch. The sink is in fleet-sink.c, the
 * readers of the fleet view in fleet-query.c, PostgreSQL in fleet-pg.c,
 * what acts on a state dir's own store (ship, off) in fleet-local.c; fleet.h is
 * what they share.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/units.h"
#include "tools/fleet.h"
#include "tools/output.h"

static const struct fleet_sub *const fleet_table[] = {
	&fleet_sub_sink, &fleet_sub_executions, &fleet_sub_agents,
	&fleet_sub_costs, &fleet_sub_top, &fleet_sub_ship,
	&fleet_sub_off,
};

#define FLEET_NSUB (sizeof(fleet_table) / sizeof(fleet_table[0]))

static const struct option fleet_options[] = {
	CMD_COMMON_OPTIONS,
	{"nats", required_argument, NULL, OPT_NATS},
	{"postgres", required_argument, NULL, OPT_POSTGRES},
	{"stream", required_argument, NULL, OPT_STREAM},
	{"subject-prefix", required_argument, NULL, OPT_PREFIX},
	{"credentials", required_argument, NULL, OPT_CREDENTIALS},
	{"machine", required_argument, NULL, OPT_MACHINE},
	{"workflow", required_argument, NULL, OPT_WORKFLOW},
	{"status", required_argument, NULL, OPT_STATUS},
	{"since", required_argument, NULL, OPT_SINCE},
	{"by", required_argument, NULL, OPT_BY},
	{"force", no_argument, NULL, OPT_FORCE},
	{"wait", required_argument, NULL, OPT_WAIT},
	{NULL, 0, NULL, 0},
};

static const struct fleet_sub *fleet_find(const char *name)
{
	size_t i;

	for (i = 0; i < FLEET_NSUB; i++)
		if (!strcmp(fleet_table[i]->name, name))
			return fleet_table[i];
	return NULL;
}

static void fleet_print_synopsis(FILE *fp, const struct fleet_sub *s)
{
	fprintf(fp, "smithers fleet %s", s->name);
	if (s->opts & FLEET_OPT_DIR)
		fputs(" [--dir DIR]", fp);
	if (*s->args)
		fprintf(fp, " %s", s->args);
	if (s->opts & FLEET_OPT_NATS)
		fputs(" --nats URL[,URL...] [--stream NAME]"
		      " [--subject-prefix P] [--credentials FILE]",
		      fp);
	if (s->opts & FLEET_OPT_POSTGRES)
		fputs(" [--postgres CONNINFO]", fp);
	if (s->opts & FLEET_OPT_FILTER)
		fputs(" [--machine M] [--workflow W] [--status S]"
		      " [--since D]",
		      fp);
	if (s->opts & FLEET_OPT_BY)
		fputs(" [--by machine|workflow|day]", fp);
	if (s->opts & FLEET_OPT_N)
		fputs(" [-n N]", fp);
	if (s->opts & FLEET_OPT_FORCE)
		fputs(" [--force]", fp);
	if (s->opts & FLEET_OPT_WAIT)
		fputs(" [--wait D]", fp);
	fputs(" [--json]\n", fp);
}

static void fleet_print_help(FILE *fp)
{
	size_t i;

	fputs("usage: smithers fleet SUBCOMMAND [ARGS]\n"
	      "\n"
	      "The fleet view: what the supervisors of several machines ship\n"
	      "to NATS JetStream (the [fleet] section, smithers.ini(5)), kept\n"
	      "in PostgreSQL by a sink, and read from there; and a state\n"
	      "dir's shipping, done now or turned off.\n"
	      "\n"
	      "Subcommands:\n",
	      fp);
	for (i = 0; i < FLEET_NSUB; i++)
		fprintf(fp, "  %-12s %s\n", fleet_table[i]->name,
			fleet_table[i]->summary);
	fputs("\n"
	      "Options (after the subcommand):\n"
	      "  --nats URL[,URL...]   the NATS servers (the sink)\n"
	      "  --postgres CONNINFO   the PostgreSQL database, as libpq\n"
	      "                        takes it (default: libpq's PG*\n"
	      "                        variables)\n"
	      "  --json                machine-readable output\n"
	      "  -h, --help            show this help\n"
	      "\n"
	      "Run 'smithers fleet SUBCOMMAND --help' for the rest.\n",
	      fp);
}

static void fleet_print_sub_help(FILE *fp, const struct fleet_sub *s)
{
	fputs("usage: ", fp);
	fleet_print_synopsis(fp, s);
	fprintf(fp, "\n%s\n", s->help);
}

int fleet_usage(const struct fleet_sub *s)
{
	if (s) {
		fputs("usage: ", stderr);
		fleet_print_synopsis(stderr, s);
	} else {
		fputs("usage: smithers fleet SUBCOMMAND [ARGS]"
		      " (see 'smithers fleet --help')\n",
		      stderr);
	}
	return EXIT_USAGE;
}

/* Whether S takes the option FLAG (NAME, for the message). */
static int allowed(const struct fleet_sub *s, unsigned flag,
		   const char *name)
{
	if (s->opts & flag)
		return 1;
	fprintf(stderr, "smithers: 'fleet %s' takes no %s\n", s->name, name);
	return 0;
}

/* A duration, as everywhere (cm_parse_duration: 90s, 2h, 1.5d, 2w; a bare
 * number is seconds), in seconds rounded up; -1 when it is not one. */
static long long parse_since(const char *s)
{
	int64_t ms;

	if (cm_parse_duration(s, &ms) < 0)
		return -1;
	return ms / 1000 + (ms % 1000 != 0);
}

static int fleet_option(struct fleet_run *r, int c, const char *arg)
{
	const struct fleet_sub *s = r->sub;
	int64_t ms;

	switch (c) {
	case OPT_NATS:
		if (!allowed(s, FLEET_OPT_NATS, "--nats"))
			return -1;
		r->nats = arg;
		return 0;
	case OPT_STREAM:
		if (!allowed(s, FLEET_OPT_NATS, "--stream"))
			return -1;
		r->stream = arg;
		return 0;
	case OPT_PREFIX:
		if (!allowed(s, FLEET_OPT_NATS, "--subject-prefix"))
			return -1;
		r->prefix = arg;
		return 0;
	case OPT_CREDENTIALS:
		if (!allowed(s, FLEET_OPT_NATS, "--credentials"))
			return -1;
		r->credentials = arg;
		return 0;
	case OPT_POSTGRES:
		if (!allowed(s, FLEET_OPT_POSTGRES, "--postgres"))
			return -1;
		r->postgres = arg;
		return 0;
	case OPT_MACHINE:
		if (!allowed(s, FLEET_OPT_FILTER, "--machine"))
			return -1;
		r->machine = arg;
		return 0;
	case OPT_WORKFLOW:
		if (!allowed(s, FLEET_OPT_FILTER, "--workflow"))
			return -1;
		r->workflow = arg;
		return 0;
	case OPT_STATUS:
		if (!allowed(s, FLEET_OPT_FILTER, "--status"))
			return -1;
		r->status = arg;
		return 0;
	case OPT_SINCE:
		if (!allowed(s, FLEET_OPT_FILTER, "--since"))
			return -1;
		r->since = parse_since(arg);
		if (r->since < 0) {
			fprintf(stderr,
				"smithers: bad --since '%s' (want a duration:"
				" 90s, 30m, 2h, 1d, 2w)\n",
				arg);
			return -1;
		}
		return 0;
	case OPT_BY:
		if (!allowed(s, FLEET_OPT_BY, "--by"))
			return -1;
		if (strcmp(arg, "machine") && strcmp(arg, "workflow") &&
		    strcmp(arg, "day")) {
			fprintf(stderr,
				"smithers: bad --by '%s' (want machine, "
				"workflow or day)\n",
				arg);
			return -1;
		}
		r->by = arg;
		return 0;
	case OPT_WAIT:
		if (!allowed(s, FLEET_OPT_WAIT, "--wait"))
			return -1;
		if (cm_parse_duration(arg, &ms) < 0) {
			fprintf(stderr,
				"smithers: bad --wait '%s' (want a duration:"
				" 90s, 5m, 1h)\n",
				arg);
			return -1;
		}
		r->wait_ms = ms;
		return 0;
	case OPT_FORCE:
		if (!allowed(s, FLEET_OPT_FORCE, "--force"))
			return -1;
		r->force = 1;
		return 0;
	case 'n':
		if (!allowed(s, FLEET_OPT_N, "-n"))
			return -1;
		if (cmd_parse_int64(arg, 1, 1000000000, &r->limit) < 0) {
			fprintf(stderr, "smithers: bad -n '%s'\n", arg);
			return -1;
		}
		return 0;
	}
	return -1;
}

static int fleet_sub_exec(struct cmd_ctx *ctx, const struct fleet_sub *s,
			  int argc, char **argv)
{
	struct fleet_run r;
	int c, rc;

	memset(&r, 0, sizeof(r));
	r.sub = s;
	r.ctx = ctx;
	r.stream = "SMITHERS";
	r.prefix = "smithers";
	r.postgres = "";
	r.since = -1;
	r.wait_ms = 60 * 1000;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hn:", fleet_options, NULL)) !=
	       -1) {
		if (c == 'h') {
			fleet_print_sub_help(stdout, s);
			return EXIT_OK;
		}
		if (c == OPT_DIR && !(s->opts & FLEET_OPT_DIR)) {
			fprintf(stderr,
				"smithers: 'fleet %s' reads no state dir "
				"(--dir)\n",
				s->name);
			return fleet_usage(s);
		}
		rc = cmd_common_option(ctx, c, optarg);
		if (rc < 0)
			return fleet_usage(s);
		if (rc > 0)
			continue;
		if (c == '?' || c == ':') {
			cmd_option_error(argv, c);
			return fleet_usage(s);
		}
		if (fleet_option(&r, c, optarg) < 0)
			return fleet_usage(s);
	}
	r.nargs = argc - optind;
	r.args = argv + optind;
	if (r.nargs < s->min_args) {
		fprintf(stderr, "smithers: 'fleet %s' needs %s\n", s->name,
			s->args);
		return fleet_usage(s);
	}
	if (s->max_args >= 0 && r.nargs > s->max_args) {
		fprintf(stderr, "smithers: too many arguments for 'fleet %s'\n",
			s->name);
		return fleet_usage(s);
	}
	if ((s->opts & FLEET_OPT_NATS) && !r.nats) {
		fprintf(stderr, "smithers: 'fleet %s' needs --nats URL\n",
			s->name);
		return fleet_usage(s);
	}
	r.out = out_new(stdout, ctx->json);
	if (!r.out) {
		fputs("smithers: out of memory\n", stderr);
		return EXIT_FAIL;
	}
	rc = s->run(&r);
	out_free(r.out);
	return rc;
}

static int cmd_fleet_exec(struct cmd_ctx *ctx, int argc, char **argv)
{
	const struct fleet_sub *s;
	int c, rc;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:h", fleet_options, NULL)) !=
	       -1) {
		rc = cmd_common_option(ctx, c, optarg);
		if (rc < 0)
			return fleet_usage(NULL);
		if (rc > 0)
			continue;
		if (c == 'h') {
			fleet_print_help(stdout);
			return EXIT_OK;
		}
		if (c == '?' || c == ':')
			cmd_option_error(argv, c);
		else
			fprintf(stderr,
				"smithers: '%s' goes after the subcommand\n",
				argv[optind - 1]);
		return fleet_usage(NULL);
	}
	if (optind >= argc) {
		fputs("smithers: 'fleet' needs a subcommand\n", stderr);
		return fleet_usage(NULL);
	}
	s = fleet_find(argv[optind]);
	if (!s) {
		fprintf(stderr, "smithers: unknown subcommand 'fleet %s'\n",
			argv[optind]);
		return fleet_usage(NULL);
	}
	return fleet_sub_exec(ctx, s, argc - optind, argv + optind);
}

const struct cmd_entry cmd_fleet_entry = {
	.name = "fleet",
	.args = "SUBCOMMAND [ARGS]",
	.summary = "the fleet view: sink to PostgreSQL, read it",
	.help = NULL, /* fleet_print_help() */
	.exec = cmd_fleet_exec,
};
