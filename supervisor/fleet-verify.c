/*
 * fleet-verify.c - the shipper's verifying (docs/FLEET.md): an ack says
 * the stream has a message, not that every replica keeps it, nor that a
 * sink wrote it. Every [fleet] verify, and at the end of the run, the
 * thread asks a sink (a request on PREFIX-verify.MACHINE, outside the
 * stream) whether the fleet view holds the rows shipped since the last
 * verification, at their versions, VERIFY_CHUNK at a time, VERIFY_BURST
 * chunks before a batch is shipped again. The sink answers with those it
 * lacks, or that it is still behind the stream (a row not written yet is
 * not lost); the thread sends the missing ones again under new message
 * ids, and asks again soon. A chunk found whole moves the verified
 * cursors, which the loop writes as it writes the shipped ones; a chunk
 * still lacking after VERIFY_TRIES resends is let go, with a warning.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <nats/nats.h>

#include "common/clock.h"
#include "supervisor/fleet-int.h"
#include "supervisor/fleet-nats.h"
#include "supervisor/slog.h"
#include "supervisor/sup-int.h"
#include "supervisor/workflow.h"
#include "wal/wal.h"

#define VERIFY_CHUNK 1024   /* rows asked about in one request */
#define VERIFY_WAIT_MS 3000 /* for a sink's answer */
#define VERIFY_SOON_MS 1000 /* again after a sink was behind, or a resend */
#define VERIFY_TRIES 3	    /* resends of one chunk before it is let go */
#define VERIFY_BURST 2	    /* chunks at a time: shipping goes on between */

/* One chunk to ask a sink about: [[TABLE, ID, VERSION], ...], and its last
 * key (a transition's id, or an outbox version). */
struct chunk {
	json_t *rows;
	int64_t last;
};

static int add_key(const char *table, int64_t id, int64_t version, void *arg)
{
	struct chunk *c = arg;

	c->last = strcmp(table, "transitions") ? version : id;
	return json_array_append_new(c->rows,
				     json_pack("[sII]", table, (json_int_t)id,
					       (json_int_t)version)) < 0;
}

/* The chunk is done with: a verified cursor passes TO, for the loop. */
static void verified(struct fleet *f, int outbox, int64_t to)
{
	struct report rep = {.kind = REPORT_VERIFIED};

	*(outbox ? &f->ver_outbox : &f->ver_transitions) = to;
	f->tries = 0;
	rep.outbox = f->ver_outbox;
	rep.transitions = f->ver_transitions;
	if (write(f->report[1], &rep, sizeof(rep)) < 0) {
		/* The loop is gone. */
	}
}

/* A resend's state (wal_fleet_fn). */
struct again {
	struct fleet *f;
	char suffix[40];
	natsStatus s;
	int sent;
};

/* Publish one row again, and wait for its ack. */
static int again_one(const char *table, int64_t id, int64_t version,
		     const char *json, void *arg)
{
	struct again *a = arg;
	natsMsg *msg = NULL;
	jsPubAck *pa = NULL;
	jsErrCode jerr = 0;

	if (!json)
		return 0; /* gone since: nothing to send */
	a->s = fleet_row_msg(a->f->cfg, &msg, table, id, version, json, a->suffix);
	if (a->s == NATS_OK)
		a->s = js_PublishMsg(&pa, a->f->js, msg, NULL, &jerr);
	jsPubAck_Destroy(pa);
	natsMsg_Destroy(msg);
	a->sent += a->s == NATS_OK;
	return a->s != NATS_OK;
}

/*
 * A sink's answer to a chunk: 1 the fleet view holds it all, 2 it lacked
 * rows, sent again now, 0 the sinks are behind the stream (asked again
 * soon), -1 a wrong answer, or rows that cannot be sent again.
 */
static int answer(struct fleet *f, const char *data, int len)
{
	json_t *reply = json_loadb(data, (size_t)len, 0, NULL), *missing, *m;
	struct again a = {.f = f, .s = NATS_OK};
	const char *table = NULL, *err;
	json_int_t id = 0, version;
	size_t i;
	int rc = -1;

	missing = json_object_get(reply, "missing");
	if (json_is_string(json_object_get(reply, "behind"))) {
		/* The sinks have not written all the stream holds yet. */
		f->verify_due_ms = cm_mono_ms() + VERIFY_SOON_MS;
		rc = 0;
	} else if ((err = json_string_value(json_object_get(reply, "error")))) {
		if (!(f->quiet & QUIET_ERROR))
			fleet_say(f, REPORT_WARN,
				  "fleet: a sink cannot verify what was"
				  " shipped: %s; it is asked again in %" PRId64
				  " s",
				  err, f->cfg->verify_ms / 1000);
		f->quiet |= QUIET_ERROR;
	} else if (!json_is_array(missing)) {
		if (!(f->quiet & QUIET_NOT_SINK))
			fleet_say(f, REPORT_WARN,
				  "fleet: an answer on %s that is not a sink's;"
				  " verifying is retried in %" PRId64 " s",
				  f->verify_subject, f->cfg->verify_ms / 1000);
		f->quiet |= QUIET_NOT_SINK;
	} else if (json_array_size(missing) == 0) {
		rc = 1;
	} else {
		snprintf(a.suffix, sizeof(a.suffix), ":again-%" PRId64,
			 cm_wall_ms());
		json_array_foreach(missing, i, m)
		{
			if (json_unpack(m, "[sII]", &table, &id, &version) <
				    0 ||
			    wal_fleet_row(f->ro, table, id, version, again_one,
					  &a) != 0)
				break;
		}
		if (i < json_array_size(missing)) {
			fleet_say(f, REPORT_WARN,
				  "fleet: cannot send again what the fleet view"
				  " lacks: %s; it is verified again in %" PRId64
				  " s",
				  a.s != NATS_OK ? natsStatus_GetText(a.s)
				  : table	  ? wal_errmsg(f->ro)
				  : "an answer that is not a sink's",
				  f->cfg->verify_ms / 1000);
		} else {
			json_unpack(json_array_get(missing, 0), "[sI*]",
				    &table, &id);
			fleet_say(f, REPORT_WARN,
				  "fleet: the fleet view lacked %zu row%s that"
				  " JetStream had acked (the first: %s %" PRId64
				  "); %d sent again",
				  json_array_size(missing),
				  json_array_size(missing) == 1 ? "" : "s",
				  table, (int64_t)id, a.sent);
			f->verify_due_ms = cm_mono_ms() + VERIFY_SOON_MS;
			rc = 2;
		}
	}
	json_decref(reply);
	return rc;
}

/* Ask a sink about C: as answer(). */
static int ask(struct fleet *f, struct chunk *c)
{
	natsMsg *reply = NULL;
	natsStatus s;
	json_t *req;
	char *body;
	uint64_t seq;
	int rc;

	pthread_mutex_lock(&f->mu);
	seq = f->stream_seq;
	pthread_mutex_unlock(&f->mu);
	req = json_pack("{sssIsO}", "machine", f->cfg->machine, "seq",
			(json_int_t)seq, "rows", c->rows);
	body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (!body)
		return -1;
	s = natsConnection_RequestString(&reply, f->nc, f->verify_subject,
					 body, VERIFY_WAIT_MS);
	free(body);
	if (s != NATS_OK) {
		if (!(f->quiet & QUIET_NO_SINK))
			fleet_say(f, REPORT_INFO,
				  "fleet: no sink answers on %s (%s): what was"
				  " shipped is verified once one does",
				  f->verify_subject, natsStatus_GetText(s));
		f->quiet |= QUIET_NO_SINK;
		return -1;
	}
	rc = answer(f, natsMsg_GetData(reply), natsMsg_GetDataLength(reply));
	natsMsg_Destroy(reply);
	if (rc == 1 && f->quiet) {
		fleet_say(f, REPORT_INFO,
			  "fleet: a sink verifies what was shipped again");
		f->quiet = 0;
	}
	return rc;
}

/*
 * Verify what was shipped and not verified yet, a chunk at a time, up to
 * VERIFY_BURST chunks (then it is due again at once, after a batch): 1 all
 * of it is, 0 not now (a sink is behind, or rows were sent again: soon;
 * or the burst is over), -1 no sink can say (at the next [fleet] verify).
 */
static int verify(struct fleet *f)
{
	int asked = 0;

	for (int outbox = 0; outbox < 2; outbox++) {
		int64_t *ver = outbox ? &f->ver_outbox : &f->ver_transitions;
		int64_t upto = outbox ? f->cur_outbox : f->cur_transitions;

		while (*ver < upto && !atomic_load(&f->stop)) {
			struct chunk c = {.last = *ver};
			int64_t n;
			int rc = 1;

			if (asked++ == VERIFY_BURST) {
				f->verify_due_ms = 0;
				return 0;
			}
			c.rows = json_array();

			n = c.rows ? wal_fleet_unverified(f->ro, outbox, *ver,
							  upto, VERIFY_CHUNK,
							  add_key, &c)
				   : -1;
			if (n < 0) {
				fleet_say(f, REPORT_WARN,
					  "fleet: cannot read what to verify:"
					  " %s",
					  c.rows ? wal_errmsg(f->ro)
						 : strerror(ENOMEM));
				json_decref(c.rows);
				return -1;
			}
			if (n > 0)
				rc = ask(f, &c);
			json_decref(c.rows);
			if (rc == 2) {
				/* Sent again: asked again soon, a few
				 * times; a row still lacking then is one
				 * the sinks will not write (their log says
				 * which): let go. */
				if (f->tried_at != *ver)
					f->tries = 0;
				f->tried_at = *ver;
				if (++f->tries < VERIFY_TRIES)
					return 0;
				f->tries = 0;
				fleet_say(f, REPORT_WARN,
					  "fleet: rows sent again %d times"
					  " are still not in the fleet view"
					  " (a sink's log says why); let go",
					  VERIFY_TRIES);
				rc = 1;
			}
			if (rc <= 0)
				return rc;
			verified(f, outbox, n < VERIFY_CHUNK ? upto : c.last);
		}
	}
	return 1;
}

/* Verify when it is time: every [fleet] verify, and at the end of the run
 * (the loop asks) once CAUGHT_UP, until it is done. 1 when more is due at
 * once. */
int fleet_verify_due(struct fleet *f, int caught_up)
{
	int asked = atomic_load(&f->verify_now), rc;

	if (!f->verify_subject || (asked && !caught_up))
		return 0;
	if (asked == 1) {
		atomic_store(&f->verify_now, 2);
		f->verify_due_ms = 0;
	}
	if (cm_mono_ms() < f->verify_due_ms)
		return 0;
	f->verify_due_ms = cm_mono_ms() + f->cfg->verify_ms;
	rc = verify(f);
	if (rc != 0 && asked)
		atomic_store(&f->verify_done, 1);
	return rc == 0 && f->verify_due_ms == 0;
}

/* ---- the loop's side ------------------------------------------------------ */

/* fleet_await's: the thread verified all, or no sink can say. */
static int verified_all(struct run *r, void *arg)
{
	(void)arg;
	return atomic_load(&r->fleet->verify_done);
}

void fleet_verify_rest(struct run *r, int64_t until)
{
	struct fleet *f = r->fleet;
	struct wal_fleet_lag lag;

	if (atomic_load(&f->gave_up) || f->cfg->verify_ms <= 0)
		return;
	atomic_store(&f->verify_now, 1);
	if (write(f->wake[1], "", 1) < 0) {
		/* Full: it wakes all the same. */
	}
	fleet_await(r, until, verified_all, NULL);
	if (wal_fleet_lag(r->w, &lag) == 0 && lag.verifying &&
	    (lag.outbox_verified < lag.outbox_cursor ||
	     lag.transitions_verified < lag.transitions_cursor))
		sup_log(SUP_INFO,
			"fleet: what was shipped after transition %" PRId64
			" and version %" PRId64 " is not verified yet; the"
			" next run of this state dir verifies it",
			lag.transitions_verified, lag.outbox_verified);
}
