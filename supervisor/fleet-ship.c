/*
 * fleet-ship.c - `smithers fleet ship`: the shipper of a run (fleet.c),
 * without the run. What a state dir holds to ship is shipped and verified
 * exactly as at the end of a run: the thread started, then stopped with
 * the time it may take. The caller holds the state dir's lock, as a
 * supervisor does: the store has one writer.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "supervisor/slog.h"
#include "supervisor/sup-int.h"
#include "supervisor/supervisor.h"
#include "supervisor/workflow.h"
#include "wal/wal.h"

int64_t sup_fleet_ship(struct wal *w, const char *dir,
		       const struct sup_fleet *fleet, int64_t wait_ms)
{
	struct sup_workflow wf;
	struct wal_fleet_lag lag;
	struct run r;
	int64_t left = -1;

	memset(&wf, 0, sizeof(wf));
	memset(&r, 0, sizeof(r));
	/* Borrowed: nothing of it is freed here. */
	wf.fleet = *fleet;
	wf.fleet.ship_wait_ms = wait_ms;
	r.wf = &wf; /* and no r.opt: the shipper knows it is alone */
	r.w = w;
	r.dir = strdup(dir);
	/* The reports' event is never dispatched: fleet_stop reads them. */
	r.base = event_base_new();
	if (!r.dir || !r.base) {
		sup_log(SUP_ERROR, "fleet: cannot start the shipper: %s",
			strerror(ENOMEM));
		goto out;
	}
	if (fleet_start(&r) < 0)
		goto out;
	fleet_stop(&r);
	if (wal_fleet_lag(w, &lag) < 0) {
		sup_log(SUP_ERROR,
			"fleet: cannot read what is left to ship: %s",
			wal_errmsg(w));
		goto out;
	}
	left = lag.rows;
out:
	if (r.base)
		event_base_free(r.base);
	free(r.dir);
	return left;
}
