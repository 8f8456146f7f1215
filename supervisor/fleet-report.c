/*
 * fleet-report.c - what the shipper's thread and the loop tell each other
 * (fleet-int.h): the thread's reports (a log line, or how far the cursors
 * went) written to the report pipe, read and applied on the loop's side,
 * the lag copied to the mirror, and the wait for them once the loop is
 * done. Below fleet.c and fleet-verify.c, which both report; it calls
 * neither.
 */
#include "config.h"

#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

#include "common/clock.h"
#include "supervisor/fleet-int.h"
#include "supervisor/mirror.h"
#include "supervisor/slog.h"
#include "supervisor/sup-int.h"
#include "wal/wal.h"

#define AWAIT_MS 200 /* fleet_await looks again at least this often */

/* ---- the thread ----------------------------------------------------------- */

void fleet_tell(struct fleet *f, const struct report *rep)
{
	if (write(f->report[1], rep, sizeof(*rep)) < 0) {
		/* The loop is gone: nobody to tell. */
	}
}

void fleet_say(struct fleet *f, int kind, const char *fmt, ...)
{
	struct report rep = {.kind = kind};
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rep.text, sizeof(rep.text), fmt, ap);
	va_end(ap);
	fleet_tell(f, &rep);
}

/* ---- the loop's side ------------------------------------------------------ */

/* A report from the thread. The cursors go in the turn's batch, or, once
 * the loop is done (!IN_LOOP), in a transaction of their own. */
static void handle(struct run *r, const struct report *rep, int in_loop)
{
	switch (rep->kind) {
	case REPORT_SHIPPED:
		if ((!in_loop || batch(r) == 0) &&
		    wal_fleet_shipped(r->w, rep->outbox, rep->transitions) < 0)
			sup_log(SUP_WARN,
				"fleet: cannot record what was shipped: %s",
				wal_errmsg(r->w));
		break;
	case REPORT_VERIFIED:
		if ((!in_loop || batch(r) == 0) &&
		    wal_fleet_verified(r->w, rep->outbox, rep->transitions) < 0)
			sup_log(SUP_WARN,
				"fleet: cannot record what was verified: %s",
				wal_errmsg(r->w));
		break;
	case REPORT_INFO:
		sup_log(SUP_INFO, "%s", rep->text);
		break;
	case REPORT_WARN:
		sup_log(SUP_WARN, "%s", rep->text);
		break;
	default:
		sup_log(SUP_ERROR, "%s", rep->text);
		break;
	}
}

void fleet_read_reports(struct run *r, int in_loop)
{
	struct report rep;

	while (read(r->fleet->report[0], &rep, sizeof(rep)) ==
	       (ssize_t)sizeof(rep))
		handle(r, &rep, in_loop);
}

void fleet_to_mirror(struct run *r)
{
	struct fleet *f = r->fleet;

	if (f)
		sup_mirror_fleet(r->mirror, atomic_load(&f->lag_state),
				 atomic_load(&f->lag_rows),
				 atomic_load(&f->lag_oldest_ms));
}

int fleet_await(struct run *r, int64_t until,
		int (*done)(struct run *r, void *arg), void *arg)
{
	struct fleet *f = r->fleet;

	for (;;) {
		struct pollfd p = {.fd = f->report[0], .events = POLLIN};
		int64_t left;

		fleet_read_reports(r, 0);
		if (done(r, arg)) {
			/* What was written before it was done. */
			fleet_read_reports(r, 0);
			return 1;
		}
		left = until - cm_mono_ms();
		if (left <= 0)
			return 0;
		/* A report wakes us; DONE may change without one. */
		(void)poll(&p, 1, left < AWAIT_MS ? (int)left : AWAIT_MS);
		/* No more turns: smithers-top sees the rest ship here. */
		fleet_to_mirror(r);
		sup_mirror_publish(r->mirror, -1);
	}
}
