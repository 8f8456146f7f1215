/*
 * db-gc.c - `smithers db gc`: its options, and the retention policy
 * (wal_gc) run either here, under the supervisor lock, or through the
 * running supervisor (--via-supervisor, supervisor/gcreq.c).
 *
 * It writes, dry run included (it counts by doing the work in a
 * transaction it rolls back), so it takes the supervisor lock first; with
 * a supervisor running it is refused with DB_EXIT_LOCKED unless sent
 * through it. The store is closed before the lock is let go.
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "supervisor/supervisor.h"
#include "common/units.h"
#include "tools/db.h"
#include "tools/output.h"
#include "wal/wal.h"

/* How long --via-supervisor waits for the supervisor's answer. */
#define DB_GC_VIA_TIMEOUT_S SUP_GC_REQUEST_MAX_AGE_S

/* gc's rule when no rule is given. */
#define DB_GC_KEEP 100

/* A duration such as 45s, 90m, 12h, 30d or 2w (common/units.h), in whole
 * seconds rounded up; -1 if S is not one. The unit is required here: a
 * bare number of seconds would too easily be meant as days. */
static long long parse_duration(const char *s)
{
	size_t n = strlen(s);
	int64_t ms;

	if (!n || (s[n - 1] >= '0' && s[n - 1] <= '9') ||
	    cm_parse_duration(s, &ms) < 0)
		return -1;
	return ms / 1000 + (ms % 1000 != 0);
}

int db_gc_option(struct db_run *r, int c, const char *arg)
{
	switch (c) {
	case OPT_KEEP:
		if (cmd_parse_int64(arg, 0, INT64_MAX, &r->keep) < 0) {
			fprintf(stderr,
				"smithers: '--keep' needs a count of "
				"executions (0 or more), not '%s'\n",
				arg);
			return -1;
		}
		return 0;
	case OPT_OLDER_THAN:
		r->older_than = parse_duration(arg);
		if (r->older_than < 0) {
			fprintf(stderr,
				"smithers: '--older-than' needs a "
				"duration such as 45s, 90m, 12h, 30d "
				"or 2w, not '%s'\n",
				arg);
			return -1;
		}
		return 0;
	case OPT_DRY_RUN:
		r->dry_run = 1;
		return 0;
	case OPT_VIA_SUPERVISOR:
		r->via_supervisor = 1;
		return 0;
	}
	assert(!"not an option of gc");
	return -1;
}

/* "3 executions", "1 execution". */
static const char *count_of(char *buf, size_t len, int64_t n, const char *what)
{
	snprintf(buf, len, "%lld %s%s", (long long)n, what, n == 1 ? "" : "s");
	return buf;
}

static void gc_print_text(const struct wal_gc_result *g, int dry)
{
	char b[6][48];

	printf("%s %s, %s, %s, %s, %s, %s\n", dry ? "would drop" : "dropped",
	       count_of(b[0], sizeof(b[0]), g->executions, "execution"),
	       count_of(b[1], sizeof(b[1]), g->phases, "phase"),
	       count_of(b[2], sizeof(b[2]), g->agents, "agent"),
	       count_of(b[3], sizeof(b[3]), g->tool_calls, "tool call"),
	       count_of(b[4], sizeof(b[4]), g->transitions, "transition"),
	       count_of(b[5], sizeof(b[5]), g->artifacts, "artifact"));
	printf("%s %s as the newest of their keys; %s %s\n",
	       dry ? "would keep" : "kept",
	       count_of(b[0], sizeof(b[0]), g->heads_kept, "transition"),
	       dry ? "would prune" : "pruned",
	       count_of(b[1], sizeof(b[1]), g->tombstones, "deleted key"));
	if (g->held)
		printf("%s %s that %s not shipped to the fleet yet\n",
		       dry ? "would keep" : "kept",
		       count_of(b[0], sizeof(b[0]), g->held, "execution"),
		       g->held == 1 ? "is" : "are");
	printf("%s %s (%lld bytes) and %s (%lld bytes)\n",
	       dry ? "would delete" : "deleted",
	       count_of(b[0], sizeof(b[0]), g->objects, "object"),
	       (long long)g->object_bytes,
	       count_of(b[1], sizeof(b[1]), g->log_dirs, "agent log dir"),
	       (long long)g->log_bytes);
	if (dry)
		puts("dry run: nothing was changed");
	else
		printf("database: %lld -> %lld bytes (%lld reclaimed)\n",
		       (long long)g->db_bytes_before,
		       (long long)g->db_bytes_after,
		       (long long)(g->db_bytes_before - g->db_bytes_after));
}

static void gc_print_json(struct out *out, const struct wal_gc_result *g,
			  int dry)
{
	enum { NGC = 17 };
	static const char *const names[NGC] = {
		"dry_run",	  "executions",	     "phases",
		"agents",	  "tool_calls",	     "transitions",
		"artifacts",	  "heads_kept",	     "tombstones",
		"objects",	  "object_bytes",    "log_dirs",
		"log_bytes",	  "db_bytes_before", "db_bytes_after",
		"reclaimed_bytes", "held"};
	const int64_t nums[NGC - 1] = {g->executions,
				       g->phases,
				       g->agents,
				       g->tool_calls,
				       g->transitions,
				       g->artifacts,
				       g->heads_kept,
				       g->tombstones,
				       g->objects,
				       g->object_bytes,
				       g->log_dirs,
				       g->log_bytes,
				       g->db_bytes_before,
				       g->db_bytes_after,
				       g->db_bytes_before - g->db_bytes_after,
				       g->held};
	char buf[NGC][24];
	const char *values[NGC];
	enum wal_type types[NGC];
	struct wal_row row = {NGC, names, values, types};

	values[0] = dry ? "true" : "false";
	types[0] = WAL_JSON;
	for (int i = 1; i < NGC; i++) {
		snprintf(buf[i], sizeof(buf[i]), "%lld",
			 (long long)nums[i - 1]);
		values[i] = buf[i];
		types[i] = WAL_INTEGER;
	}
	out_object_begin(out, &row);
	out_object_end(out);
}

/* gc sent through the supervisor HOLDER (supervisor/gcreq.c). */
static int db_gc_via(struct db_run *r, pid_t holder,
		     const struct wal_gc_options *o)
{
	struct wal_gc_result g;
	char err[1024], *state;
	int rc;

	if (asprintf(&state, "%s/.smithers", r->ctx->dir) < 0)
		return EXIT_FAIL;
	rc = sup_gc_request(state, holder, o, DB_GC_VIA_TIMEOUT_S, &g, err,
			    sizeof(err));
	free(state);
	if (rc < 0) {
		if (g.committed && !r->ctx->json)
			gc_print_text(&g, 0);
		fprintf(stderr, "smithers: %s through the supervisor (pid %ld): "
			"%s\n",
			g.committed ? "gc incomplete" : "cannot gc",
			(long)holder, err);
		return EXIT_FAIL;
	}
	if (r->ctx->json)
		gc_print_json(r->out, &g, r->dry_run);
	else
		gc_print_text(&g, r->dry_run);
	return EXIT_OK;
}

static int db_gc(struct db_run *r)
{
	struct wal_gc_options o = {r->keep, r->older_than, r->dry_run};
	struct wal_gc_result g;
	int fd = -1, rc;

	if (o.keep < 0 && o.older_than_s < 0)
		o.keep = DB_GC_KEEP;
	if (r->via_supervisor) {
		pid_t holder = wal_lock_holder(r->ctx->dir);

		if (holder > 0)
			return db_gc_via(r, holder, &o);
	}
	rc = cmd_lock_store(r->ctx, "gc", DB_EXIT_LOCKED, &fd);
	if (rc == DB_EXIT_LOCKED)
		fputs("smithers: or have it run the gc: smithers db gc "
		      "--via-supervisor\n",
		      stderr);
	if (rc != EXIT_OK)
		return rc;
	rc = cmd_open_store(r->ctx, 0, &r->w);
	if (rc != EXIT_OK)
		goto out;
	if (wal_gc(r->w, &o, &g) < 0) {
		/* What went before a later step failed is gone all the same. */
		if (g.committed && !r->ctx->json)
			gc_print_text(&g, 0);
		fprintf(stderr, "smithers: %s: %s\n",
			g.committed ? "gc incomplete" : "cannot gc",
			wal_errmsg(r->w));
		rc = EXIT_FAIL;
		goto out;
	}
	if (r->ctx->json)
		gc_print_json(r->out, &g, r->dry_run);
	else
		gc_print_text(&g, r->dry_run);
out:
	/* Close the store before the lock: nobody may write in between. */
	wal_close(r->w);
	r->w = NULL;
	close(fd);
	return rc;
}

const struct db_sub db_sub_gc = {
	"gc", "", "drop old executions, orphan files; vacuum",
	"Drop old executions with their phases, agents, tool calls,\n"
	"transitions and artifacts; delete the stored tool outputs\n"
	"(logs/objects) that no remaining tool call names and the agent\n"
	"logs (logs/agents/ID) of executions that are gone; then VACUUM\n"
	"the database. Print what went and the bytes reclaimed.\n"
	"Running and pending executions are never dropped. The state is\n"
	"never touched, and each key keeps its newest transition.\n"
	"\n"
	"  --keep N           keep the N newest executions\n"
	"  --older-than D     drop only executions that ended more than D\n"
	"                     ago: 45s, 90m, 12h, 30d, 2w\n"
	"  --dry-run          print what would go; change nothing\n"
	"  --via-supervisor   if a supervisor runs on the state dir, have\n"
	"                     it run the gc between two of its commits\n"
	"                     (its agents wait meanwhile)\n"
	"\n"
	"With both, an execution goes only if both let it; with neither,\n"
	"--keep 100. This writes, dry run included: it takes the\n"
	"supervisor lock, and is refused (exit status 3) while a\n"
	"supervisor runs on the state dir, unless sent through it with\n"
	"--via-supervisor.",
	DB_OPT_GC, 0, 0, DB_SELF, db_gc,
};
