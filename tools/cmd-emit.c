/*
 * cmd-emit.c - `smithers emit TYPE ARGS...`: send one protocol message
 * (docs/PROTOCOL.md) to the supervisor running this agent, for agents
 * written in shell.
 *
 * Each run opens its own connection to SMITHERS_SOCKET
 * (smithers_open_socket()): its own stream, so that several emits of one
 * agent running at once never interleave frames or take each other's acks.
 * Values are JSON text, passed through; the supervisor validates them. By
 * default emit waits for the ack, so the write is durable when it returns.
 *
 * Arguments are parsed by hand rather than with getopt: a JSON value such
 * as -1 is an argument, not an option. Exit status: 0 acked (written, with
 * --no-wait), 1 refused by the supervisor or the stream broke, 2 usage, 3
 * not under a supervisor.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/cli.h"
#include "worker/proto.h"
#include "worker/smithers.h"

#define EXIT_NO_SUPERVISOR 3

static int cmd_emit_exec(struct cmd_ctx *ctx, int argc, char **argv);

const struct cmd_entry cmd_emit_entry = {
	.name = "emit",
	.args = "TYPE ARGS...",
	.summary = "send a message to the supervisor (for shell agents)",
	.help = "Send one message to the supervisor running this agent, on a\n"
		"connection of its own (SMITHERS_SOCKET, SMITHERS_AGENT_ID,\n"
		"SMITHERS_TOKEN, set by the supervisor), and wait until it is\n"
		"committed. JSON arguments are JSON text: '\"review\"', '3',\n"
		"'{\"n\": 1}'.\n"
		"\n"
		"Types:\n"
		"  state.set KEY JSON [--trigger T]\n"
		"  state.delete KEY [--trigger T]\n"
		"  memory.add CATEGORY KEY CONTENT [--scope S]\n"
		"             [--confidence C] [--source S]\n"
		"  tool.start TOOL [INPUT_JSON]       prints the call's id\n"
		"  tool.complete CALL [--output-file F | --output TEXT]\n"
		"             [--summary S] [--status completed|failed]\n"
		"             [--error E]\n"
		"  artifact.add NAME PATH [--type T] [--summary S]\n"
		"             [--metadata JSON]\n"
		"  usage TOKENS_IN TOKENS_OUT [--cost C]\n"
		"  log MESSAGE [--level L]\n"
		"  result [TEXT] [--json JSON]\n"
		"  fail ERROR\n"
		"\n"
		"Options:\n"
		"  --no-wait          return once the message is written,\n"
		"                     without waiting for the ack\n"
		"  --timeout SECONDS  wait at most this long for the ack\n"
		"                     (default: no limit)\n"
		"  --output-file F    the tool's output, from file F ('-':\n"
		"                     standard input)\n"
		"  --                 the rest are arguments, even if they\n"
		"                     start with '-'\n"
		"\n"
		"Exit status: 0 committed, 1 refused by the supervisor (its\n"
		"reason on standard error) or the supervisor went away, 2\n"
		"usage, 3 not running under a smithers supervisor.",
	.exec = cmd_emit_exec,
};

/* The options; a message type accepts those in its mask. */
enum {
	O_TRIGGER,
	O_SCOPE,
	O_CONFIDENCE,
	O_SOURCE,
	O_OUTPUT_FILE,
	O_OUTPUT,
	O_SUMMARY,
	O_STATUS,
	O_ERROR,
	O_TYPE,
	O_METADATA,
	O_COST,
	O_LEVEL,
	O_JSON,
	O_COUNT
};

static const char *const opt_names[O_COUNT] = {
	[O_TRIGGER] = "trigger",
	[O_SCOPE] = "scope",
	[O_CONFIDENCE] = "confidence",
	[O_SOURCE] = "source",
	[O_OUTPUT_FILE] = "output-file",
	[O_OUTPUT] = "output",
	[O_SUMMARY] = "summary",
	[O_STATUS] = "status",
	[O_ERROR] = "error",
	[O_TYPE] = "type",
	[O_METADATA] = "metadata",
	[O_COST] = "cost",
	[O_LEVEL] = "level",
	[O_JSON] = "json",
};

#define M(o) (1u << (o))

struct emit_type {
	const char *name;
	const char *args; /* for messages */
	int min, max;	  /* arguments after the type */
	unsigned opts;
};

static const struct emit_type emit_types[] = {
	{"state.set", "KEY JSON", 2, 2, M(O_TRIGGER)},
	{"state.delete", "KEY", 1, 1, M(O_TRIGGER)},
	{"memory.add", "CATEGORY KEY CONTENT", 3, 3,
	 M(O_SCOPE) | M(O_CONFIDENCE) | M(O_SOURCE)},
	{"tool.start", "TOOL [INPUT_JSON]", 1, 2, 0},
	{"tool.complete", "CALL", 1, 1,
	 M(O_OUTPUT_FILE) | M(O_OUTPUT) | M(O_SUMMARY) | M(O_STATUS) |
		 M(O_ERROR)},
	{"artifact.add", "NAME PATH", 2, 2,
	 M(O_TYPE) | M(O_SUMMARY) | M(O_METADATA)},
	{"usage", "TOKENS_IN TOKENS_OUT", 2, 2, M(O_COST)},
	{"log", "MESSAGE", 1, 1, M(O_LEVEL)},
	{"result", "[TEXT]", 0, 1, M(O_JSON)},
	{"fail", "ERROR", 1, 1, 0},
	{NULL, NULL, 0, 0, 0},
};

#define MAX_ARGS 4

struct emit_args {
	const struct emit_type *type;
	const char *arg[MAX_ARGS];
	int nargs;
	const char *opt[O_COUNT];
	int no_wait;
	int timeout_ms; /* -1: no limit */
};

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt,
							     ...)
{
	va_list ap;

	fputs("smithers: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return cmd_usage(&cmd_emit_entry);
}

/* Parse ARGV into A; EXIT_OK, else the exit status to return. */
static int parse_args(int argc, char **argv, struct emit_args *a, int *help)
{
	const char *pos[MAX_ARGS + 1];
	int npos = 0, i, o, dashdash = 0;

	memset(a, 0, sizeof(*a));
	a->timeout_ms = -1;
	for (i = 1; i < argc; i++) {
		const char *s = argv[i], *val, *eq;
		size_t len;

		if (dashdash || s[0] != '-' || !s[1] ||
		    (s[1] != '-' && s[1] != 'h')) {
			/* An argument, "-" and "-1" included. */
			if (npos > MAX_ARGS)
				return usage_error("too many arguments");
			pos[npos++] = s;
			continue;
		}
		if (!strcmp(s, "-h") || !strcmp(s, "--help")) {
			*help = 1;
			return EXIT_OK;
		}
		if (!strcmp(s, "--")) {
			dashdash = 1;
			continue;
		}
		if (s[1] != '-')
			return usage_error("unknown option '%s'", s);
		s += 2;
		eq = strchr(s, '=');
		len = eq ? (size_t)(eq - s) : strlen(s);
		if (len == 7 && !strncmp(s, "no-wait", 7) && !eq) {
			a->no_wait = 1;
			continue;
		}
		for (o = 0; o < O_COUNT; o++)
			if (strlen(opt_names[o]) == len &&
			    !strncmp(opt_names[o], s, len))
				break;
		if (o == O_COUNT && !(len == 7 && !strncmp(s, "timeout", 7)))
			return usage_error("unknown option '%.*s'",
					   (int)len + 2, argv[i]);
		if (eq) {
			val = eq + 1;
		} else if (i + 1 < argc) {
			val = argv[++i];
		} else {
			return usage_error("option '--%s' needs an argument",
					   s);
		}
		if (o == O_COUNT) { /* --timeout */
			char *end;
			double sec;

			errno = 0;
			sec = strtod(val, &end);
			if (errno || end == val || *end || !(sec >= 0) ||
			    sec > INT_MAX / 1000)
				return usage_error("'--timeout' needs seconds, "
						   "not '%s'",
						   val);
			a->timeout_ms = (int)(sec * 1000);
			continue;
		}
		a->opt[o] = val;
	}
	if (!npos)
		return usage_error("no message type given");
	for (a->type = emit_types; a->type->name; a->type++)
		if (!strcmp(a->type->name, pos[0]))
			break;
	if (!a->type->name)
		return usage_error("unknown message type '%s'", pos[0]);
	a->nargs = npos - 1;
	if (a->nargs < a->type->min || a->nargs > a->type->max)
		return usage_error("'%s' takes %s", a->type->name,
				   a->type->args);
	for (i = 1; i < npos; i++)
		a->arg[i - 1] = pos[i];
	for (o = 0; o < O_COUNT; o++)
		if (a->opt[o] && !(a->type->opts & M(o)))
			return usage_error("option '--%s' does not apply to "
					   "'%s'",
					   opt_names[o], a->type->name);
	if (a->opt[O_OUTPUT] && a->opt[O_OUTPUT_FILE])
		return usage_error("give '--output' or '--output-file', not "
				   "both");
	return EXIT_OK;
}

/* A finite number from S, for option NAME. */
static int parse_number(const char *s, const char *name, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(*out)) {
		usage_error("'--%s' needs a number, not '%s'", name, s);
		return -1;
	}
	return 0;
}

static int parse_count(const char *s, const char *what, uint64_t *out)
{
	long long v;

	if (cmd_parse_int64(s, 0, LLONG_MAX, &v) < 0) {
		usage_error("%s must be a whole number, not '%s'", what, s);
		return -1;
	}
	*out = (uint64_t)v;
	return 0;
}

/* Read the file PATH ("-": standard input) into *BUF; -1 after saying
 * why. More than a frame's worth is not read: the send would refuse it. */
static int read_output(const char *path, char **buf, size_t *len)
{
	size_t cap = 65536, n = 0;
	char *p = NULL;
	ssize_t r;
	int fd, rc = -1;

	fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : 0;
	if (fd < 0) {
		fprintf(stderr, "smithers: cannot open '%s': %s\n", path,
			strerror(errno));
		return -1;
	}
	p = xmalloc(cap);
	for (;;) {
		if (n == cap) {
			if (cap > WRK_FRAME_MAX) {
				fprintf(stderr,
					"smithers: '%s' is larger than a "
					"message may be (%d bytes): record it "
					"as an artifact\n",
					path, WRK_FRAME_MAX);
				goto out;
			}
			cap *= 2;
			p = xrealloc(p, cap);
		}
		r = read(fd, p + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			fprintf(stderr, "smithers: cannot read '%s': %s\n",
				path, strerror(errno));
			goto out;
		}
		if (!r)
			break;
		n += (size_t)r;
	}
	*buf = p;
	*len = n;
	p = NULL;
	rc = 0;
out:
	free(p);
	if (fd > 0)
		close(fd);
	return rc;
}

/* Send the message of A on S; its seq, or -1 (-2: bad argument, said). */
static int64_t send_one(struct smithers *s, const struct emit_args *a,
			int64_t *call)
{
	const char *t = a->type->name, *const *o = a->opt;
	double num = -1;
	uint64_t in, out;
	char *buf = NULL;
	size_t len = 0;
	int64_t seq;

	if (!strcmp(t, "state.set"))
		return smithers_state_set(s, a->arg[0], a->arg[1],
					  o[O_TRIGGER]);
	if (!strcmp(t, "state.delete"))
		return smithers_state_delete(s, a->arg[0], o[O_TRIGGER]);
	if (!strcmp(t, "memory.add")) {
		if (o[O_CONFIDENCE] &&
		    parse_number(o[O_CONFIDENCE], "confidence", &num) < 0)
			return -2;
		return smithers_memory_add(s, a->arg[0], o[O_SCOPE], a->arg[1],
					   a->arg[2], num, o[O_SOURCE]);
	}
	if (!strcmp(t, "tool.start")) {
		*call = smithers_tool_start(s, a->arg[0],
					    a->nargs > 1 ? a->arg[1] : NULL);
		return *call < 0 ? -1 : (int64_t)smithers_last_seq(s);
	}
	if (!strcmp(t, "tool.complete")) {
		if (parse_count(a->arg[0], "CALL", &in) < 0)
			return -2;
		if (!in) {
			usage_error("CALL must be the id printed by "
				    "'tool.start', not '%s'",
				    a->arg[0]);
			return -2;
		}
		if (o[O_STATUS] && strcmp(o[O_STATUS], "completed") &&
		    strcmp(o[O_STATUS], "failed")) {
			usage_error("'--status' is 'completed' or 'failed', "
				    "not '%s'",
				    o[O_STATUS]);
			return -2;
		}
		if (o[O_OUTPUT_FILE] &&
		    read_output(o[O_OUTPUT_FILE], &buf, &len) < 0)
			return -3;
		if (o[O_OUTPUT])
			len = strlen(o[O_OUTPUT]);
		seq = smithers_tool_complete(
			s, (int64_t)in, buf ? buf : o[O_OUTPUT], len,
			o[O_SUMMARY], o[O_STATUS], o[O_ERROR]);
		free(buf);
		return seq;
	}
	if (!strcmp(t, "artifact.add"))
		return smithers_artifact_add(s, a->arg[0], a->arg[1], o[O_TYPE],
					     o[O_SUMMARY], o[O_METADATA]);
	if (!strcmp(t, "usage")) {
		if (parse_count(a->arg[0], "TOKENS_IN", &in) < 0 ||
		    parse_count(a->arg[1], "TOKENS_OUT", &out) < 0)
			return -2;
		num = 0;
		if (o[O_COST] && parse_number(o[O_COST], "cost", &num) < 0)
			return -2;
		return smithers_usage(s, in, out, num);
	}
	if (!strcmp(t, "log"))
		return smithers_log(s, o[O_LEVEL], a->arg[0]);
	if (!strcmp(t, "result"))
		return smithers_result(s, a->nargs ? a->arg[0] : NULL,
				       o[O_JSON]);
	return smithers_fail(s, a->arg[0]);
}

static int cmd_emit_exec(struct cmd_ctx *ctx, int argc, char **argv)
{
	struct emit_args a;
	struct smithers *s = NULL;
	int64_t seq, call = 0;
	int help = 0, rc;

	(void)ctx;
	rc = parse_args(argc, argv, &a, &help);
	if (rc != EXIT_OK)
		return rc;
	if (help) {
		cmd_print_help(stdout, &cmd_emit_entry);
		return EXIT_OK;
	}
	s = smithers_open_socket();
	if (!s) {
		int err = errno; /* before fprintf, which may change it */

		fprintf(stderr, "smithers: %s\n", smithers_strerror_last());
		return err == ENOENT || err == ECONNREFUSED ? EXIT_NO_SUPERVISOR
							    : EXIT_FAIL;
	}
	rc = EXIT_FAIL;
	seq = send_one(s, &a, &call);
	if (seq == -2) {
		rc = EXIT_USAGE;
		goto out;
	}
	if (seq < 0) {
		if (seq == -1)
			fprintf(stderr, "smithers: %s: %s\n", a.type->name,
				smithers_errmsg(s));
		goto out;
	}
	if (a.no_wait
		    ? smithers_flush(s, a.timeout_ms < 0 ? 5000 : a.timeout_ms)
		    : smithers_sync(s, a.timeout_ms)) {
		fprintf(stderr, "smithers: %s: %s\n", a.type->name,
			smithers_errmsg(s));
		goto out;
	}
	if (call > 0)
		printf("%" PRId64 "\n", call);
	rc = EXIT_OK;
out:
	smithers_close(s);
	return rc;
}
