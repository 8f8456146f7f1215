/*
 * fleet-int.h - what the files of the shipper share and nobody else
 * sees: the thread's state (struct fleet), its reports to the loop, and
 * the helpers they use. fleet.c is the thread's loop (connect, ship a
 * batch, wait for its acks) and the loop's side (start, stop);
 * fleet-verify.c asks a sink whether the fleet view holds what was
 * shipped, and sends again what it lacks (docs/FLEET.md, "Verifying");
 * fleet-report.c carries the reports between the thread and the loop.
 * Calls go one way: fleet.c -> fleet-verify.c -> fleet-report.c (and
 * fleet-nats.c, for the connection and a row's message).
 */
#ifndef SMITHERS_SUP_FLEET_INT_H
#define SMITHERS_SUP_FLEET_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <nats/nats.h>

struct event;
struct held;
struct run;
struct sup_fleet;
struct wal;

#define SHIP_BATCH 512 /* rows read and published at a time */

enum report_kind {
	REPORT_SHIPPED,
	REPORT_VERIFIED,
	REPORT_INFO,
	REPORT_WARN,
	REPORT_ERROR
};

/* One write of the thread, one read of the loop. */
struct report {
	int kind;
	int64_t outbox, transitions; /* REPORT_SHIPPED, _VERIFIED: cursors */
	char text[400];		     /* the others: a line for the log */
};

/* A batch's rows of one cursor, in the order published (keys rising):
 * transition ids, or outbox versions. */
struct sent {
	int n;
	int64_t key[SHIP_BATCH];
	unsigned char acked[SHIP_BATCH];
};

/* The shipper: its thread's state, and what the loop and the thread
 * share (the atomics, the pipes, MU). */
struct fleet {
	const struct sup_fleet *cfg;
	char *dir; /* the project dir, for the thread's own handle */
	pthread_t thread;
	int started;
	int alone;     /* no run: `smithers fleet ship` (fleet-ship.c) */
	int wake[2];   /* loop -> thread */
	int report[2]; /* thread -> loop */
	struct event *report_ev;
	atomic_int stop;
	atomic_int gave_up; /* the stream is not ours: nothing will ship */
	atomic_int poked;   /* a wake is in the pipe, not yet read */
	/* The lag, for the mirror: the thread writes, the loop reads. */
	atomic_int lag_state;	    /* enum shm_fleet_state */
	atomic_llong lag_rows;	    /* -1: not counted yet */
	atomic_llong lag_oldest_ms; /* wall clock; 0: none */
	/* The end of the run: verify now (the loop sets it); done (the
	 * thread: verified all, or no sink can say). */
	atomic_int verify_now, verify_done;

	/* The thread's alone. */
	struct wal *ro;
	natsConnection *nc;
	jsCtx *js;
	int stream_ok;
	int64_t cur_outbox, cur_transitions; /* shipped, as far as it knows */
	/* The batch: the thread adds, the acks (the library's thread) mark;
	 * under MU, as an ack from an earlier batch may come late. */
	pthread_mutex_t mu;
	struct sent sent_transitions, sent_outbox;
	struct held *held; /* the batch's rows, read, to publish (fleet.c) */
	int nheld;
	atomic_int batch_failed; /* an ack said no (the library's thread) */
	int published;		 /* since connected (the library's pending
				    list does not exist before) */
	int failing;		 /* warned; says when it works again */
	int64_t backoff_ms;
	int64_t lag_at_ms; /* monotonic: when the lag was last counted */
	/* Verifying. */
	char *verify_subject;		     /* NULL: off */
	int64_t ver_outbox, ver_transitions; /* verified, as far as it knows */
	int64_t verify_due_ms;		     /* monotonic */
	uint64_t stream_seq; /* the stream's newest sequence we know of: the
				acks' (under MU), or the stream's */
	int64_t tried_at;    /* the chunk sent again, from this key */
	int tries;
	unsigned quiet;	     /* QUIET_*: said once, until verifying works */
};

/* What the thread said once about verifying (struct fleet's quiet). */
#define QUIET_NO_SINK (1u << 0)  /* no sink answers */
#define QUIET_ERROR (1u << 1)	 /* a sink cannot verify */
#define QUIET_NOT_SINK (1u << 2) /* an answer that is not a sink's */

/* ---- fleet-report.c ------------------------------------------------------ */

/* The thread: a line for the loop's log (REPORT_INFO, _WARN, _ERROR). */
void fleet_say(struct fleet *f, int kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The thread: a report for the loop, one write, whole. */
void fleet_tell(struct fleet *f, const struct report *rep);
/* The loop: read the reports there are and apply them (the pipe's read end
 * is non-blocking). Cursors go in the turn's batch while IN_LOOP, else in a
 * transaction of their own. */
void fleet_read_reports(struct run *r, int in_loop);
/*
 * The loop is done: read the thread's reports and publish the mirror,
 * until DONE(R, ARG) says so, or UNTIL (monotonic ms) passes. 1 when DONE
 * said so.
 */
int fleet_await(struct run *r, int64_t until,
		int (*done)(struct run *r, void *arg), void *arg);

/* ---- fleet-verify.c ------------------------------------------------------ */

/* The thread: verify when it is due, every [fleet] verify, and at the end
 * of the run once CAUGHT_UP (shipped all there is). 1 when more is due at
 * once (a burst was cut short: ship a batch, then come back). */
int fleet_verify_due(struct fleet *f, int caught_up);
/* The loop, at the end of the run, all shipped: verify it, until UNTIL at
 * most; say what is left unverified. */
void fleet_verify_rest(struct run *r, int64_t until);

#endif /* SMITHERS_SUP_FLEET_INT_H */
