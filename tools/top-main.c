/*
 * top-main.c - the `smithers-top` program: its options, and which output
 * it runs: the curses screen (top-ui.c), batch text or JSON
 * (top-print.c), each fed by the sampler (top.c).
 *
 * Exit status: 0, 1 no segment or an unreadable one (the reader's
 * message), 2 usage.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/units.h"
#include "tools/cli.h"
#include "tools/output.h"
#include "tools/top.h"

#define PROG "smithers-top"
#define DELAY_MIN_MS 100
#define DELAY_MAX_MS 3600000

static void usage(FILE *fp)
{
	fputs("usage: " PROG " [-b] [-n N] [-d SECONDS] [--json] [--dir DIR]\n"
	      "\n"
	      "Watch a running smithers supervisor: its execution, counters\n"
	      "and agents, from the shared memory segment it publishes (never\n"
	      "from the database).\n"
	      "\n"
	      "Options:\n"
	      "  -d, --delay SECONDS   time between refreshes (default 1,\n"
	      "                        at least 0.1)\n"
	      "  -b, --batch           plain text, one snapshot per\n"
	      "                        iteration, for a pipe or a file\n"
	      "  -n, --iterations N    snapshots in batch mode (default 1)\n"
	      "  --json                one snapshot as a JSON object\n"
	      "  --dir DIR             the directory holding .smithers\n"
	      "                        (default: $SMITHERS_DIR or .)\n"
	      "  -h, --help            show this help\n"
	      "  -V, --version         show the version\n"
	      "\n"
	      "Keys: q quit, ? help, < > sort column, I invert, / filter,\n"
	      "Z pause, + - delay, k signal an agent, K or Tab keys pane.\n",
	      fp);
}

static int bad_usage(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static int bad_usage(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, PROG ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nrun '" PROG " --help' for help\n", stderr);
	return EXIT_USAGE;
}

/* -d: a duration (common/units.h; a bare number is seconds), 0.1 s to an
 * hour. */
static int parse_delay(const char *s, int *ms)
{
	int64_t v;

	if (cm_parse_duration(s, &v) < 0 || v < DELAY_MIN_MS ||
	    v > DELAY_MAX_MS)
		return -1;
	*ms = (int)v;
	return 0;
}

enum { O_JSON = 0x100, O_DIR };

static const struct option options[] = {
	{"delay", required_argument, NULL, 'd'},
	{"batch", no_argument, NULL, 'b'},
	{"iterations", required_argument, NULL, 'n'},
	{"json", no_argument, NULL, O_JSON},
	{"dir", required_argument, NULL, O_DIR},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{NULL, 0, NULL, 0},
};

int main(int argc, char **argv)
{
	struct top t = {0};
	struct top_ui_options uo = {.delay_ms = 1000, .sort = COL_AGENT};
	int c, batch = 0, json = 0, rc = EXIT_OK;
	long long iterations = -1;
	char err[256];
	const char *env;

	cmd_prog = PROG;
	out_init_locale();
	env = getenv("SMITHERS_DIR");
	t.dir = env && *env ? env : ".";
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":d:bn:hV", options, NULL)) != -1) {
		switch (c) {
		case 'd':
			if (parse_delay(optarg, &uo.delay_ms) < 0)
				return bad_usage("'-d' needs a delay of 0.1 to "
						 "3600 seconds, not '%s'",
						 optarg);
			break;
		case 'b':
			batch = 1;
			break;
		case 'n':
			if (cmd_parse_int64(optarg, 1, INT32_MAX,
					    &iterations) < 0)
				return bad_usage("'-n' needs a positive number "
						 "of iterations, not '%s'",
						 optarg);
			break;
		case O_JSON:
			json = 1;
			break;
		case O_DIR:
			if (!*optarg)
				return bad_usage("'--dir' needs a directory, "
						 "not '%s'",
						 optarg);
			t.dir = optarg;
			break;
		case 'h':
			usage(stdout);
			return cmd_flush_stdout();
		case 'V':
			puts(PROG " " PACKAGE_VERSION);
			return cmd_flush_stdout();
		case ':':
			return bad_usage("option '%s' needs an argument",
					 argv[optind - 1]);
		default:
			return bad_usage("unknown option '%s'",
					 argv[optind - 1]);
		}
	}
	if (optind < argc)
		return bad_usage("unexpected argument '%s'", argv[optind]);
	if (iterations > 0 && !batch)
		return bad_usage("%s", "'-n' is for batch mode (-b)");
	if (!batch && !json && (!isatty(STDIN_FILENO) ||
				!isatty(STDOUT_FILENO))) {
		fputs(PROG ": not a terminal: use -b (batch) or --json\n",
		      stderr);
		return EXIT_USAGE;
	}

	t.r = shm_reader_open(t.dir, err, sizeof(err));
	if (!t.r) {
		if (errno == ENOENT)
			fprintf(stderr,
				PROG ": no supervisor has run in %s (no shared "
				     "memory segment)\n",
				t.dir);
		else
			fprintf(stderr, PROG ": %s\n", err);
		return EXIT_FAIL;
	}
	t.procs = top_procs_new();
	if (!t.procs) {
		fputs(PROG ": out of memory\n", stderr);
		shm_reader_close(t.r);
		return EXIT_FAIL;
	}
	t.wal_path = cmd_path(t.dir, ".smithers/smithers.db-wal");

	if (json) {
		top_sample(&t, 1);
		top_sort(&t.snap, uo.sort, 0);
		top_print_json(&t.snap, stdout);
		rc = cmd_flush_stdout();
	} else if (batch) {
		if (iterations < 0)
			iterations = 1;
		for (long long i = 0; i < iterations && rc == EXIT_OK; i++) {
			if (i) {
				fputc('\n', stdout);
				fflush(stdout);
				usleep((useconds_t)uo.delay_ms * 1000);
			}
			top_sample(&t, 0);
			top_sort(&t.snap, uo.sort, 0);
			top_print_batch(&t.snap, stdout);
			rc = cmd_flush_stdout();
		}
	} else {
		rc = top_ui(&t, &uo);
	}

	free(t.snap.agents);
	free(t.snap.keys);
	free(t.snap.text);
	free(t.wal_path);
	top_procs_free(t.procs);
	shm_reader_close(t.r);
	return rc;
}
