/*
 * commit.c - group commit and acks: the turn's batch, its commit, the
 * syncer (with synchronous=FULL, the fdatasync of each commit runs in a
 * thread and the acks wait for it, the next turn does not), the mirror's
 * turn, the heartbeat, and a full disk.
 *
 * Order of a turn's end (the invariant readers and agents rely on): commit,
 * then the mirror, then the acks. A commit that fails is never acked.
 *
 * A full disk: when the disk cannot hold the next commit (wal_reserve())
 * or a change (its statement ran out of space), nothing is lost and nothing
 * is acked: the turn's batch stays open, the change that did not fit is put
 * back in its stream (parked), and no stream is read any more, so that the
 * agents block on their full pipes (back-pressure). No worker is reaped and
 * no agent started meanwhile: their records would need space too. Each turn
 * (at least every WAKE_MS) tries again; once the space is there the batch
 * commits, is acked, and everything carries on where it stopped.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/clock.h"
#include "supervisor/mirror.h"
#include "supervisor/slog.h"
#include "supervisor/stream.h"
#include "supervisor/sup-int.h"
#include "supervisor/supervisor.h"
#include "wal/wal.h"
#include "worker/proto.h"

/* How often the checkpointer moves the WAL into the database. */
#define CHECKPOINT_MS 100

struct commit {
	int in_batch;
	int hellos; /* this turn processed a hello, which writes nothing */
	struct wal_syncer *syncer; /* NULL: a commit is durable as it returns */
	struct event *sync_ev;
	struct wal_checkpointer *checkpointer;
	int64_t last_heartbeat_ms;
	int64_t last_file_check_ms;
	/* The disk is full: the open batch waits, nothing is read. */
	int disk_full;
	int64_t disk_full_ms; /* since when (wall clock) */
	int db_lost;	      /* the database file was deleted under us */
	int failed;	      /* the store failed: the loop stops the run */
	int space_back;	      /* the loop reaps and schedules again */
	/* A gc a control connection asked for (gcreq.c), served between two
	 * commits; FROM NULL: none. */
	struct sup_stream *gc_from;
	uint64_t gc_seq;
	struct wal_gc_options gc;
};

int batch(struct run *r)
{
	if (r->c->in_batch)
		return 0;
	if (wal_batch_begin(r->w) < 0) {
		sup_log(SUP_ERROR, "cannot begin a transaction: %s",
			wal_errmsg(r->w));
		return -1;
	}
	r->c->in_batch = 1;
	return 0;
}

int in_batch(const struct run *r)
{
	return r->c->in_batch;
}

void commit_hello(struct run *r)
{
	r->c->hellos = 1;
}

int disk_is_full(const struct run *r)
{
	return r->c && r->c->disk_full;
}

int gc_wanted(const struct run *r)
{
	return r->c->gc_from && !r->c->in_batch;
}

int gc_ask(struct run *r, struct sup_stream *s, const struct wrk_msg *m)
{
	struct commit *c = r->c;

	if (c->gc_from)
		return -1;
	c->gc_from = s;
	c->gc_seq = m->seq;
	c->gc.keep = m->keep;
	c->gc.older_than_s = m->older_than_s;
	c->gc.dry_run = m->dry_run;
	return 0;
}

void gc_forget(struct run *r, struct sup_stream *s)
{
	if (r->c && r->c->gc_from == s)
		r->c->gc_from = NULL;
}

/* A sync completed: ack what it made durable. */
static void sync_cb(evutil_socket_t fd, short what, void *arg)
{
	struct run *r = arg;
	char err[256];
	uint64_t done;

	(void)fd;
	(void)what;
	if (wal_syncer_done(r->c->syncer, &done, err, sizeof(err)) < 0) {
		/* Nothing since the last completed sync is acked, ever. */
		sup_log(SUP_ERROR, "%s", err);
		event_del(r->c->sync_ev);
		r->c->failed = 1;
		r->p.exit_status = 1;
		return;
	}
	wal_failpoint("after-commit-before-ack");
	sup_streams_synced(r->streams, done);
}

struct commit *commit_new(struct run *r, int full)
{
	struct commit *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	r->c = c;
	/* Checkpoints run beside the loop, never inside a commit. */
	c->checkpointer = wal_checkpointer_start(r->dir, CHECKPOINT_MS, NULL, 0);
	if (c->checkpointer)
		wal_trim(r->w, WAL_TRIM_PAGES); /* automatic ones off */
	/* With FULL, the fdatasync of each commit moves to a thread too; acks
	 * wait for it (sync_cb), the next turn does not. */
	if (full) {
		c->syncer = wal_syncer_start(r->w);
		if (!c->syncer)
			sup_log(SUP_WARN, "%s; each commit syncs instead",
				wal_errmsg(r->w));
	}
	if (c->syncer) {
		c->sync_ev = event_new(r->base, wal_syncer_fd(c->syncer),
				       EV_READ | EV_PERSIST, sync_cb, r);
		if (!c->sync_ev || event_add(c->sync_ev, NULL) < 0)
			return NULL; /* commit_end() frees it */
	}
	c->last_heartbeat_ms = c->last_file_check_ms = cm_mono_ms();
	return c;
}

int commit_end(struct run *r)
{
	struct commit *c = r->c;
	char err[256];
	int rc = 0;

	if (!c)
		return 0;
	if (c->sync_ev)
		event_free(c->sync_ev);
	/* Rows without their counts are not committed (nor were they acked). */
	if (c->in_batch && tally_flush(r) < 0) {
		sup_log(SUP_ERROR, "cannot record the agents' counters: %s",
			wal_errmsg(r->w));
		wal_batch_rollback(r->w);
		rc = -1;
	} else if (c->in_batch && wal_batch_commit(r->w) < 0) {
		sup_log(SUP_ERROR, "cannot commit: %s", wal_errmsg(r->w));
		rc = -1;
	}
	if (wal_syncer_stop(c->syncer, err, sizeof(err)) < 0) {
		sup_log(SUP_ERROR, "%s", err);
		rc = -1;
	}
	wal_checkpointer_stop(c->checkpointer);
	if (c->db_lost) {
		char *to = xasprintf("%s/smithers.db.rescued", r->state_dir);

		if (wal_rescue(r->w, to) < 0)
			sup_log(SUP_ERROR, "%s", wal_errmsg(r->w));
		else
			sup_log(SUP_ERROR,
				"the database was lost: everything it held is "
				"in '%s'; move it to '%s/smithers.db' (with no "
				"supervisor running) to go on",
				to, r->state_dir);
		free(to);
	}
	free(c);
	r->c = NULL;
	return rc;
}

/* After a commit: what each stream processed is durable at once, or once
 * the sync asked for now completes (sync_cb). */
static void after_commit(struct run *r)
{
	uint64_t ticket = 0;

	if (r->c->syncer && sup_streams_uncommitted(r->streams))
		ticket = wal_syncer_request(r->c->syncer);
	sup_streams_committed(r->streams, ticket);
}

/* The mirror gets the turn: after its commit (COMMIT_US; -1: none), before
 * any of its acks. */
static void mirror_turn(struct run *r, int64_t commit_us)
{
	uint64_t messages, bytes, rejected;

	if (!r->mirror)
		return;
	sup_streams_take_counts(r->streams, &messages, &bytes, &rejected);
	sup_mirror_count(r->mirror, messages, bytes, rejected);
	sup_mirror_publish(r->mirror, commit_us);
}

void disk_full(struct run *r, const char *why)
{
	struct commit *c = r->c;

	if (c->disk_full)
		return;
	c->disk_full = 1;
	c->disk_full_ms = cm_wall_ms();
	sup_log(SUP_ERROR,
		"%s: the disk is full; holding the changes not yet "
		"committed, reading no more from the agents until there is "
		"space again",
		why);
	sup_streams_hold(r->streams, 1);
	sup_mirror_execution(r->mirror, r->p.exec_id, r->wf->name,
			     "disk full");
	sup_mirror_publish(r->mirror, -1);
}

/* The held batch committed. The changes that did not fit go first: if one
 * still does not, the disk is still full. Else record the episode, read
 * again, catch up. */
static void disk_back(struct run *r)
{
	struct commit *c = r->c;
	int64_t secs = (cm_wall_ms() - c->disk_full_ms + 500) / 1000;
	char *value;

	if (sup_streams_retry_parked(r->streams))
		return;
	c->disk_full = 0;
	sup_log(SUP_INFO, "there is space again after %" PRId64 " s: "
		"committed what was held; reading from the agents again",
		secs);
	sup_mirror_execution(r->mirror, r->p.exec_id, r->wf->name,
			     "running");
	value = xasprintf("{\"error\":\"disk full\",\"seconds\":%" PRId64
			  ",\"since_ms\":%" PRId64 "}",
			  secs, c->disk_full_ms);
	if (batch(r) == 0 &&
	    wal_state_set(r->w, "smithers.disk_full", value, "storage", 0) < 0)
		sup_log(SUP_WARN, "%s", wal_errmsg(r->w));
	free(value);
	sup_streams_hold(r->streams, 0);
	c->space_back = 1; /* the loop reaps what ended meanwhile */
}

/* Every HEARTBEAT_MS: the database still ours (when the turn commits, or
 * every FILE_CHECK_IDLE_MS), and, in a turn that commits anyway, the
 * execution's heartbeat. A turn with nothing to commit writes nothing: an
 * idle run neither writes nor syncs the disk. Readers tell a live
 * supervisor by its lock and by the mirror's heartbeat. */
static void heartbeat(struct run *r, int64_t now)
{
	struct commit *c = r->c;
	int check = c->in_batch ||
		    now - c->last_file_check_ms >= FILE_CHECK_IDLE_MS;

	if (check)
		c->last_file_check_ms = now;
	/* Deleted or replaced under us: what we commit goes to a file
	 * nobody else sees. Stop; it is copied out at the end. */
	if (check && !c->db_lost && wal_check_file(r->w) < 0) {
		c->db_lost = 1;
		sup_log(SUP_ERROR,
			"%s: stopping the execution; everything committed "
			"will be copied to '%s/smithers.db.rescued'",
			wal_errmsg(r->w), r->state_dir);
		c->failed = 1;
		r->p.exit_status = 1;
	}
	if (c->in_batch &&
	    wal_execution_heartbeat(r->w, r->p.exec_id) < 0)
		sup_log(SUP_WARN, "cannot record heartbeat: %s",
			wal_errmsg(r->w));
}

/* What the loop has to do, once. */
static int turn_result(struct commit *c)
{
	int what = (c->failed ? TURN_STOP : 0) |
		   (c->space_back ? TURN_RESUME : 0);

	c->failed = c->space_back = 0;
	return what;
}

int commit_turn(struct run *r)
{
	struct commit *c = r->c;
	int64_t now = cm_mono_ms(), t0;

	if (r->p.exec_id && now - c->last_heartbeat_ms >= HEARTBEAT_MS) {
		heartbeat(r, now);
		c->last_heartbeat_ms = now;
	}
	if (!c->in_batch) {
		mirror_turn(r, -1);
		if (c->hellos)
			after_commit(r); /* nothing to commit: ack them */
		c->hellos = 0;
		return turn_result(c);
	}
	c->hellos = 0;
	/* The counters the turn's messages added go in with them. */
	if (tally_flush(r) < 0) {
		if ((errno == ENOSPC || errno == EDQUOT) &&
		    !(r->p.finished && r->running == 0)) {
			disk_full(r, wal_errmsg(r->w));
			return turn_result(c);
		}
		sup_log(SUP_ERROR, "cannot record the agents' counters: %s",
			wal_errmsg(r->w));
		c->in_batch = 0;
		wal_batch_rollback(r->w);
		sup_mirror_discard(r->mirror);
		c->failed = 1;
		r->p.exit_status = 1;
		return turn_result(c);
	}
	/* A commit that cannot fail for space, or none yet - but at the very
	 * end, a last try. */
	if (wal_reserve(r->w) < 0 && !(r->p.finished && r->running == 0)) {
		disk_full(r, wal_errmsg(r->w));
		return turn_result(c);
	}
	c->in_batch = 0;
	t0 = cm_mono_us();
	if (wal_batch_commit(r->w) < 0) {
		/* Nothing of this turn is durable, so nothing is acked. */
		sup_log(SUP_ERROR, "cannot commit: %s", wal_errmsg(r->w));
		sup_mirror_discard(r->mirror);
		c->failed = 1;
		r->p.exit_status = 1;
		return turn_result(c);
	}
	t0 = cm_mono_us() - t0;
	wal_failpoint("after-commit-before-sync");
	mirror_turn(r, t0);
	after_commit(r);
	wal_checkpointer_poke(c->checkpointer);
	if (c->checkpointer && wal_trim(r->w, WAL_TRIM_PAGES) < 0)
		sup_log(SUP_WARN, "%s", wal_errmsg(r->w));
	if (c->disk_full)
		disk_back(r);
	return turn_result(c);
}

/* Between two commits: the gc `smithers db gc --via-supervisor` asked for,
 * answered on its connection. The agents wait meanwhile (VACUUM rewrites
 * the whole database). */
void serve_gc(struct run *r)
{
	struct commit *c = r->c;
	struct wrk_msg reply = {.type = WRK_REPLY, .seq = c->gc_seq};
	struct wal_gc_result g = {0};
	int64_t t0 = cm_mono_ms();
	int status;
	char *text;

	sup_log(SUP_INFO, "gc asked for: running it");
	status = wal_gc(r->w, &c->gc, &g) < 0;
	if (status)
		sup_log(SUP_WARN, "gc: %s", wal_errmsg(r->w));
	else
		sup_log(SUP_INFO, "gc done in %" PRId64 " ms", cm_mono_ms() - t0);
	text = sup_gc_answer(&g, status, status ? wal_errmsg(r->w) : NULL);
	reply.text = text;
	if (!text || sup_stream_send(c->gc_from, &reply) < 0)
		sup_log(SUP_WARN, "gc: cannot answer its requester");
	free(text);
	c->gc_from = NULL;
}
