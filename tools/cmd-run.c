/*
 * cmd-run.c - `smithers run WORKFLOW`: load the workflow file and run the
 * supervisor in the foreground (supervisor/supervisor.h).
 *
 * The smithers-worker program is looked for in this order: $SMITHERS_WORKER;
 * beside this smithers; ../worker/ beside it (a build tree); the configured
 * libexec directory.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "supervisor/supervisor.h"
#include "supervisor/workflow.h"
#include "tools/cli.h"

static int cmd_run_exec(struct cmd_ctx *ctx, int argc, char **argv);

const struct cmd_entry cmd_run_entry = {
	.name = "run",
	.args = "WORKFLOW",
	.summary = "run a workflow under the supervisor, in the foreground",
	.help = "Load WORKFLOW (an INI file, see smithers.ini(5)) and run it:\n"
		"one supervisor per state dir (it holds\n"
		"DIR/.smithers/supervisor.lock), every agent of a phase in\n"
		"parallel under a smithers-worker of its own, every state\n"
		"change committed before it is acknowledged. Logs go to\n"
		"stderr and DIR/.smithers/supervisor.log; the agents' output\n"
		"to DIR/.smithers/logs/agents/EXECUTION/AGENT.log.\n"
		"An execution left running by a supervisor that died (a crash,\n"
		"SIGKILL, a reboot) is resumed: what is left of its processes\n"
		"is killed (each pid checked by its start time), its completed\n"
		"agents are kept, the others of its phase iteration restart\n"
		"with attempt + 1 and SMITHERS_RESUME=1 ('smithers db\n"
		"recovery' shows the plan).\n"
		"SIGINT or SIGTERM stops the agents (stop_signal, then "
		"SIGKILL\n"
		"after stop_grace), commits what they sent and marks the\n"
		"execution cancelled; a second one kills them at once. SIGHUP\n"
		"reopens the log file.\n"
		"\n"
		"Exit status: 0 completed, 1 failed, 2 the workflow could not\n"
		"start, 3 another supervisor runs in DIR, 130/143 cancelled\n"
		"by SIGINT/SIGTERM.\n"
		"\n"
		"Options:\n"
		"  --dir DIR       the state dir's parent (default: "
		"$SMITHERS_DIR,\n"
		"                  else .); created if needed\n"
		"  --synchronous normal\n"
		"                  commit with synchronous=NORMAL (survives a\n"
		"                  crash of smithers, not of the machine)\n"
		"  --no-resume     mark interrupted executions interrupted and\n"
		"                  start afresh instead of resuming\n"
		"  -v, --verbose   debug lines in the log",
	.exec = cmd_run_exec,
};

enum { OPT_SYNCHRONOUS = 0x200, OPT_NO_RESUME };

static const struct option run_options[] = {
	CMD_COMMON_OPTIONS,
	{"synchronous", required_argument, NULL, OPT_SYNCHRONOUS},
	{"no-resume", no_argument, NULL, OPT_NO_RESUME},
	{"verbose", no_argument, NULL, 'v'},
	{NULL, 0, NULL, 0},
};

/* DIR/NAME when it is executable, in a new string; else NULL. */
static char *executable_in(const char *dir, const char *name)
{
	char *p = NULL;

	if (asprintf(&p, "%s/%s", dir, name) < 0)
		return NULL;
	if (access(p, X_OK) == 0)
		return p;
	free(p);
	return NULL;
}

static char *find_worker(const char *self_dir)
{
	const char *env = getenv("SMITHERS_WORKER");
	char *p;

	if (env && *env)
		return xstrdup(env);
	if ((p = executable_in(self_dir, "smithers-worker")))
		return p;
	if ((p = executable_in(self_dir, "../worker/smithers-worker")))
		return p;
	/* If it is not there either, sup_run() says so. */
	return xstrdup(PKGLIBEXECDIR "/smithers-worker");
}

static int cmd_run_exec(struct cmd_ctx *ctx, int argc, char **argv)
{
	struct sup_options opt = {0};
	struct sup_workflow *wf;
	char self[PATH_MAX], err[1024], *slash, *worker;
	ssize_t n;
	int c, r, rc;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hv", run_options, NULL)) != -1) {
		r = cmd_common_option(ctx, c, optarg);
		if (r < 0)
			return cmd_usage(&cmd_run_entry);
		if (r > 0)
			continue;
		switch (c) {
		case 'h':
			cmd_print_help(stdout, &cmd_run_entry);
			return EXIT_OK;
		case 'v':
			opt.verbose = 1;
			break;
		case OPT_NO_RESUME:
			opt.no_resume = 1;
			break;
		case OPT_SYNCHRONOUS:
			if (!strcmp(optarg, "normal")) {
				opt.synchronous_normal = 1;
			} else if (strcmp(optarg, "full")) {
				fprintf(stderr,
					"smithers: --synchronous is full or "
					"normal, not '%s'\n",
					optarg);
				return cmd_usage(&cmd_run_entry);
			}
			break;
		default:
			cmd_option_error(argv, c);
			return cmd_usage(&cmd_run_entry);
		}
	}
	if (argc - optind != 1) {
		fputs("smithers: 'run' takes one workflow file\n", stderr);
		return cmd_usage(&cmd_run_entry);
	}
	wf = sup_workflow_load(argv[optind], err, sizeof(err));
	if (!wf) {
		fprintf(stderr, "smithers: %s\n", err);
		return EXIT_USAGE;
	}
	/* The state dir's [fleet] keys, for those the workflow left out. */
	snprintf(self, sizeof(self), "%s/.smithers/fleet.ini",
		 ctx->dir ? ctx->dir : ".");
	if (sup_fleet_merge_file(&wf->fleet, self, err, sizeof(err)) < 0) {
		fprintf(stderr, "smithers: %s\n", err);
		sup_workflow_free(wf);
		return EXIT_USAGE;
	}

	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0) {
		fprintf(stderr, "smithers: cannot find myself: %s\n",
			strerror(errno));
		sup_workflow_free(wf);
		return EXIT_FAIL;
	}
	self[n] = '\0';
	opt.smithers = self;
	slash = strrchr(self, '/');
	*slash = '\0';
	worker = find_worker(self);
	*slash = '/';
	opt.worker = worker;
	opt.dir = ctx->dir;
	rc = sup_run(wf, &opt);
	free(worker);
	sup_workflow_free(wf);
	return rc;
}
