/*
 * fleet-local.c - the fleet subcommands that act on a state dir's own
 * store (docs/FLEET.md, "The outbox"), each under the supervisor lock, as
 * any write (one writer).
 *
 * The first run with [fleet] nats turns shipping on for its state dir, and
 * it stays on: the store's triggers keep an outbox of every row that
 * changes, and `smithers db gc` keeps every execution with a row not
 * shipped, whether a supervisor will ship it again or not.
 *
 * `fleet ship` ships what is left, without a run: the run's shipper
 * (sup_fleet_ship), with the [fleet] keys of a workflow and of the state
 * dir's fleet.ini, as `smithers run` takes them.
 *
 * `fleet off` drops the triggers, the outbox and the cursors. Rows not
 * shipped yet would then never reach the fleet view: it refuses to drop
 * them unless --force.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "supervisor/supervisor.h"
#include "supervisor/workflow.h"
#include "tools/fleet.h"
#include "tools/output.h"
#include "wal/wal.h"

/* The exit status when a supervisor holds the lock (as `db gc`'s). */
#define FLEET_EXIT_LOCKED 3

static void print_json(struct out *out, int was_on, int64_t unshipped,
		       int64_t unverified)
{
	static const char *const names[] = {"was_on", "unshipped",
					    "unverified"};
	char nums[2][24];
	const char *values[3];
	enum wal_type types[3] = {WAL_JSON, WAL_INTEGER, WAL_INTEGER};
	struct wal_row row = {3, names, values, types};

	snprintf(nums[0], sizeof(nums[0]), "%" PRId64, unshipped);
	snprintf(nums[1], sizeof(nums[1]), "%" PRId64, unverified);
	values[0] = was_on ? "true" : "false";
	values[1] = nums[0];
	values[2] = nums[1];
	out_object_begin(out, &row);
	out_object_end(out);
}

/* What the run's fleet.ini would turn on again: a line, if it is there. */
static void warn_fleet_ini(const char *dir)
{
	char *ini = cmd_path(dir, ".smithers/fleet.ini");

	if (access(ini, F_OK) == 0)
		fprintf(stderr,
			"smithers: note: '%s' is there: a run that finds nats"
			" in it turns shipping on again (and ships every row"
			" again)\n",
			ini);
	free(ini);
}

static int off_run(struct fleet_run *r)
{
	struct cmd_ctx *ctx = r->ctx;
	struct wal_fleet_lag lag;
	struct wal *w = NULL;
	int64_t unverified = 0;
	int fd = -1, rc, on;

	rc = cmd_lock_store(ctx, "turn shipping off", FLEET_EXIT_LOCKED, &fd);
	if (rc != EXIT_OK)
		return rc;
	rc = cmd_open_store(ctx, 0, &w);
	if (rc != EXIT_OK)
		goto out;
	rc = EXIT_FAIL;
	on = wal_fleet_enabled(w);
	if (on < 0 || wal_fleet_lag(w, &lag) < 0 ||
	    (on && (unverified = wal_fleet_unverified_rows(w)) < 0)) {
		fprintf(stderr, "smithers: cannot read what '%s' ships: %s\n",
			ctx->dir, wal_errmsg(w));
		goto out;
	}
	if (!on) {
		if (ctx->json)
			print_json(r->out, 0, 0, 0);
		else
			printf("shipping is off for '%s' already: nothing to"
			       " do\n",
			       ctx->dir);
		rc = EXIT_OK;
		goto out;
	}
	if (lag.rows > 0 && !r->force) {
		fprintf(stderr,
			"smithers: cannot turn shipping off: %" PRId64
			" row%s of '%s' %s not shipped yet (the oldest changed"
			" %" PRId64 " s ago); 'smithers fleet ship', or a run"
			" with [fleet] nats, ships them; --force drops them:"
			" the fleet view would never have them\n",
			lag.rows, lag.rows == 1 ? "" : "s", ctx->dir,
			lag.rows == 1 ? "is" : "are",
			lag.oldest_ms ? (cm_wall_ms() - lag.oldest_ms) / 1000
				      : 0);
		goto out;
	}
	if (wal_fleet_off(w) < 0) {
		fprintf(stderr, "smithers: cannot turn shipping off: %s\n",
			wal_errmsg(w));
		goto out;
	}
	if (ctx->json)
		print_json(r->out, 1, lag.rows, unverified);
	else
		printf("shipping is off for '%s': the outbox and the cursors"
		       " are gone (%" PRId64 " rows not shipped and %" PRId64
		       " not verified were dropped); gc holds nothing for"
		       " shipping\n",
		       ctx->dir, lag.rows, unverified);
	warn_fleet_ini(ctx->dir);
	rc = cmd_flush_stdout();
out:
	/* The store closed before the lock is let go. */
	wal_close(w);
	if (fd >= 0)
		close(fd);
	return rc;
}

/* ---- fleet ship --------------------------------------------------------- */

static void print_ship_json(struct out *out, int64_t left, int64_t unverified)
{
	static const char *const names[] = {"unshipped", "unverified"};
	char nums[2][24];
	const char *values[2] = {nums[0], nums[1]};
	enum wal_type types[2] = {WAL_INTEGER, WAL_INTEGER};
	struct wal_row row = {2, names, values, types};

	snprintf(nums[0], sizeof(nums[0]), "%" PRId64, left);
	snprintf(nums[1], sizeof(nums[1]), "%" PRId64, unverified);
	out_object_begin(out, &row);
	out_object_end(out);
}

static int ship_run(struct fleet_run *r)
{
	struct cmd_ctx *ctx = r->ctx;
	struct sup_workflow *wf = NULL;
	struct sup_fleet own, *f = &own;
	struct wal *w = NULL;
	char err[1024], *ini;
	int64_t left, unverified;
	int fd = -1, rc;

	memset(&own, 0, sizeof(own));
	/* The keys as `smithers run WORKFLOW` takes them: the workflow's,
	 * then the state dir's fleet.ini for those it left out. */
	if (r->nargs == 1) {
		wf = sup_workflow_load(r->args[0], err, sizeof(err));
		if (!wf) {
			fprintf(stderr, "smithers: %s\n", err);
			return EXIT_USAGE;
		}
		f = &wf->fleet;
	}
	ini = cmd_path(ctx->dir, ".smithers/fleet.ini");
	rc = sup_fleet_merge_file(f, ini, err, sizeof(err));
	if (rc < 0)
		fprintf(stderr, "smithers: %s\n", err);
	else if (!f->nats)
		fprintf(stderr,
			"smithers: 'fleet ship' has no NATS to ship to: no"
			" nats in %s%s%s'%s'\n",
			wf ? "the [fleet] section of '" : "",
			wf ? r->args[0] : "", wf ? "' nor in " : "", ini);
	free(ini);
	if (rc < 0 || !f->nats) {
		rc = EXIT_USAGE;
		goto out;
	}
	rc = cmd_lock_store(ctx, "ship", FLEET_EXIT_LOCKED, &fd);
	if (rc != EXIT_OK)
		goto out;
	rc = cmd_open_store(ctx, 0, &w);
	if (rc != EXIT_OK)
		goto out;
	rc = EXIT_FAIL;
	left = sup_fleet_ship(w, ctx->dir, f, r->wait_ms);
	unverified = left < 0 ? -1 : wal_fleet_unverified_rows(w);
	if (left < 0 || unverified < 0) {
		if (unverified < 0 && left >= 0)
			fprintf(stderr, "smithers: cannot read what '%s'"
					" ships: %s\n",
				ctx->dir, wal_errmsg(w));
		goto out;
	}
	if (ctx->json)
		print_ship_json(r->out, left, unverified);
	else if (left)
		printf("%" PRId64 " row%s of '%s' %s left to ship\n", left,
		       left == 1 ? "" : "s", ctx->dir,
		       left == 1 ? "is" : "are");
	else
		printf("nothing is left to ship in '%s' (%" PRId64
		       " row%s shipped and not verified yet)\n",
		       ctx->dir, unverified, unverified == 1 ? "" : "s");
	rc = cmd_flush_stdout();
	if (rc == EXIT_OK && left)
		rc = EXIT_FAIL;
out:
	wal_close(w);
	if (fd >= 0)
		close(fd);
	if (wf)
		sup_workflow_free(wf);
	else
		sup_fleet_free(&own);
	return rc;
}

const struct fleet_sub fleet_sub_ship = {
	.name = "ship",
	.args = "[WORKFLOW]",
	.summary = "ship what a state dir has left to ship, now",
	.help = "Ship what the state dir (--dir, SMITHERS_DIR or the\n"
		"current directory) holds to ship, and verify it, as the end\n"
		"of a run does, then exit: for rows a run left (NATS was\n"
		"away), with no run to come. The [fleet] keys are those\n"
		"'smithers run WORKFLOW' would take: WORKFLOW's [fleet]\n"
		"section, then the state dir's .smithers/fleet.ini for the\n"
		"keys it leaves out (without WORKFLOW, fleet.ini alone). It\n"
		"logs as a run does.\n"
		"\n"
		"It takes the supervisor lock: with a supervisor running in\n"
		"the state dir it is refused (exit status 3); that one\n"
		"ships. Exit status 0 when nothing is left to ship (what no\n"
		"sink verified yet is counted, and verified by the next run\n"
		"or ship), 1 when rows are left, 2 without nats.\n"
		"\n"
		"  --wait D   how long it may take at most (default 1m;\n"
		"             90s, 5m, 1h...)",
	.opts = FLEET_OPT_DIR | FLEET_OPT_WAIT,
	.min_args = 0,
	.max_args = 1,
	.run = ship_run,
};

/* ---- fleet off ---------------------------------------------------------- */

const struct fleet_sub fleet_sub_off = {
	.name = "off",
	.args = "",
	.summary = "stop keeping what a state dir would ship",
	.help = "Turn shipping off for the state dir (--dir, SMITHERS_DIR or\n"
		"the current directory): drop the store's outbox, its cursors\n"
		"and the triggers that fill it. The first run with [fleet]\n"
		"nats turned them on, and they stay on, so that what changes\n"
		"between runs ships with the next; meanwhile 'smithers db gc'\n"
		"keeps every execution with a row not shipped. The fleet view\n"
		"(PostgreSQL) is not touched.\n"
		"\n"
		"It writes, so it takes the supervisor lock: with a\n"
		"supervisor running in the state dir it is refused (exit\n"
		"status 3). Rows not shipped yet are never dropped without\n"
		"--force. A later run with [fleet] nats turns shipping on\n"
		"again, and ships every row again.\n"
		"\n"
		"  --force   drop rows that are not shipped yet, too",
	.opts = FLEET_OPT_DIR | FLEET_OPT_FORCE,
	.min_args = 0,
	.max_args = 0,
	.run = off_run,
};
