/*
 * supervisor.h - `smithers run`: one supervisor per state dir, running a
 * workflow's phases and agents in the foreground until the workflow ends or
 * it is told to stop.
 *
 * Exit status (a contract, documented in smithers(1)):
 *   0    the execution completed
 *   1    the execution failed (an agent or phase failed, a store error)
 *   2    the workflow could not be started (bad file, no worker program)
 *   3    another supervisor holds the state dir's lock
 *   130  cancelled by SIGINT, 143 by SIGTERM
 */
#ifndef SMITHERS_SUP_SUPERVISOR_H
#define SMITHERS_SUP_SUPERVISOR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct sup_fleet;
struct sup_workflow;
struct wal;
struct wal_gc_options;
struct wal_gc_result;

/* The supervisor's socket in the state dir: agents' `smithers emit` and
 * control connections (gcreq.c) reach it there. */
#define SUP_SOCKET "supervisor.sock"

struct sup_options {
	const char *dir;	/* the project dir holding .smithers */
	const char *worker;	/* path of smithers-worker */
	const char *smithers;	/* path of smithers (agents call emit) */
	int synchronous_normal; /* override the workflow: NORMAL */
	int verbose;		/* debug lines in the log */
	int no_resume;		/* mark interrupted executions so, do not
				   resume them */
};

/* Run WF (borrowed) in OPT->dir; returns the exit status above. */
int sup_run(const struct sup_workflow *wf, const struct sup_options *opt);

/*
 * `smithers fleet ship`: the shipper of a run without the run. Ship what
 * the store of DIR holds to ship, and verify it, as the end of a run does,
 * for WAIT_MS at most (FLEET's ship_wait is not used); FLEET (borrowed)
 * has nats. Turns shipping on for the state dir if it was off. The caller
 * holds DIR's lock and opened W (borrowed) writable. Logs as a run does.
 * Returns the rows left to ship (0: none), or -1 when the shipper could
 * not start or the store could not be read (logged).
 */
int64_t sup_fleet_ship(struct wal *w, const char *dir,
		       const struct sup_fleet *fleet, int64_t wait_ms);

/* How long a gc sent through the supervisor may take before its requester
 * gives up waiting (the gc itself goes on). */
#define SUP_GC_REQUEST_MAX_AGE_S 600

/*
 * Ask the supervisor SUPERVISOR, which holds STATE_DIR (DIR/.smithers), to
 * run wal_gc() with O between two of its commits, over its socket, and wait
 * for its answer (at most TIMEOUT_S seconds; 0: no limit). Returns 0 with
 * OUT filled; -1 with the reason in ERR (ERRLEN bytes), OUT filled as far
 * as the gc went (see wal_gc_result.committed). A supervisor that cannot
 * answer (it ended, or does not know the request) is an error too.
 */
int sup_gc_request(const char *state_dir, pid_t supervisor,
		   const struct wal_gc_options *o, int timeout_s,
		   struct wal_gc_result *out, char *err, size_t errlen);
/* The supervisor's side: the text of the reply to a gc that came to G,
 * STATUS non-zero with the error ERR when it failed. Owned by the caller;
 * NULL when out of memory. */
char *sup_gc_answer(const struct wal_gc_result *g, int status,
		    const char *err);

#endif /* SMITHERS_SUP_SUPERVISOR_H */
