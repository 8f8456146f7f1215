/*
 * fleet.c - the shipper (docs/FLEET.md): every row the store commits goes
 * to a NATS JetStream stream, from a thread of its own, so that a slow or
 * absent NATS never slows the loop.
 *
 * The thread reads a batch of what is to ship from its own read-only
 * handle (wal_fleet_next) into memory, in a read that ends before
 * anything is published (an open snapshot would hold the loop's
 * checkpoints back while the thread waits). It publishes each row with a
 * message id that makes a re-send harmless (JetStream drops a duplicate
 * id inside the stream's window), waits for the acks of the whole batch,
 * and only then tells the loop how far it got: each cursor passes the
 * rows JetStream acked from the batch's start, up to the first it did not
 * (a failed batch is sent again from there, not whole: every re-send is
 * one more duplicate for the stream to drop). The loop writes the cursors
 * in its next commit (the store has one writer), so a cursor only ever
 * says what JetStream holds; a crash before that commit makes the next
 * run publish the batch again.
 *
 * The thread never logs: its lines go to the loop through the report pipe,
 * as do the cursors, in records of one write each (under PIPE_BUF: whole).
 * The loop wakes it after each commit through the wake pipe; it also reads
 * once a second.
 *
 * The lag (rows above the thread's cursors, and when the oldest of them
 * changed) is counted by the thread on its own handle, after a batch and
 * while it backs off, once a second at most; a read that finds nothing to
 * ship says 0 without a count. The thread leaves it in atomics, with how
 * shipping goes, and the loop copies them to the mirror each turn: the
 * loop never counts, and never waits for the thread.
 *
 * Verifying what was shipped (a sink asked whether the fleet view holds
 * it, and what it lacks sent again) is fleet-verify.c's; the thread calls
 * it between batches, and fleet_stop at the end of the run. The reports
 * (fleet_say, fleet_tell, fleet_read_reports) are fleet-report.c's, a
 * row's message fleet-nats.c's. The state they share is in fleet-int.h.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <event2/event.h>
#include <nats/nats.h>

#include "common/clock.h"
#include "shm/shm.h"
#include "supervisor/fleet-int.h"
#include "supervisor/fleet-nats.h"
#include "supervisor/slog.h"
#include "supervisor/sup-int.h"
#include "supervisor/workflow.h"
#include "wal/wal.h"

#define ACK_WAIT_MS 5000    /* for the acks of a batch */
#define IDLE_MS 1000	    /* a read at least this often */
#define SHIP_NICE 10	    /* the thread's nice, above the loop's */
#define BACKOFF_MIN_MS 100  /* after a failure, doubling */
#define BACKOFF_MAX_MS 5000 /* up to this: back soon after an outage */

/* ---- the thread ----------------------------------------------------------- */

/* Wait up to MS for a wake from the loop (or the stop); drain it. 1 when
 * woken, 0 when the time ran out. */
static int nap(struct fleet *f, int64_t ms)
{
	struct pollfd p = {.fd = f->wake[0], .events = POLLIN};
	char buf[64];

	if (atomic_load(&f->stop))
		return 1;
	if (poll(&p, 1, (int)ms) <= 0)
		return 0;
	while (read(f->wake[0], buf, sizeof(buf)) > 0)
		;
	return 1;
}

/* The lag is ROWS, the oldest changed at OLDEST_MS: for the loop. */
static void tell_lag(struct fleet *f, int64_t rows, int64_t oldest_ms)
{
	atomic_store(&f->lag_oldest_ms, oldest_ms);
	atomic_store(&f->lag_rows, rows);
}

/* Count the lag from our cursors, unless it was counted less than a
 * second ago: a count reads the outbox, which grows while NATS is away. */
static void count_lag(struct fleet *f)
{
	struct wal_fleet_lag lag;
	int64_t now = cm_mono_ms();

	if (f->lag_at_ms && now - f->lag_at_ms < IDLE_MS)
		return;
	f->lag_at_ms = now;
	/* A failed count leaves the last figures: the next one may work. */
	if (wal_fleet_lag_after(f->ro, f->cur_outbox, f->cur_transitions,
				&lag) == 0)
		tell_lag(f, lag.rows, lag.oldest_ms);
}

/* Wait MS, less if woken, counting the lag meanwhile: while shipping
 * fails, rows pile up, and the mirror shows them. */
static void rest(struct fleet *f, int64_t ms)
{
	int64_t until = cm_mono_ms() + ms, left;

	for (;;) {
		count_lag(f);
		left = until - cm_mono_ms();
		if (left <= 0 || nap(f, left < IDLE_MS ? left : IDLE_MS))
			return;
	}
}

/* A failure: warn once (until it works again), then wait a while, longer
 * each time. */
static void failed(struct fleet *f, const char *what, const char *why)
{
	if (!f->failing)
		fleet_say(f, REPORT_WARN,
			  "fleet: %s: %s; %sshipping is retried until it"
			  " works",
			  what, why, f->alone ? "" : "the run goes on, and ");
	f->failing = 1;
	atomic_store(&f->lag_state, SHM_FLEET_FAILING);
	f->backoff_ms = f->backoff_ms ? f->backoff_ms * 2 : BACKOFF_MIN_MS;
	if (f->backoff_ms > BACKOFF_MAX_MS)
		f->backoff_ms = BACKOFF_MAX_MS;
	rest(f, f->backoff_ms);
}

static void worked(struct fleet *f)
{
	if (f->failing)
		fleet_say(f, REPORT_INFO,
			  "fleet: shipping to NATS works again");
	f->failing = 0;
	atomic_store(&f->lag_state, SHM_FLEET_SHIPPING);
	f->backoff_ms = 0;
}

static struct sent *sent_of(struct fleet *f, const char *table)
{
	return strcmp(table, "transitions") ? &f->sent_outbox
					    : &f->sent_transitions;
}

/* KEY of L (rising) was acked. */
static void mark(struct sent *l, int64_t key)
{
	int lo = 0, hi = l->n;

	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;

		if (l->key[mid] < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < l->n && l->key[lo] == key)
		l->acked[lo] = 1;
}

/* An ack, or a refusal, of a message (the library's thread; the message is
 * ours to free). Its row is known by its id, MACHINE:TABLE:ID:VERSION; an
 * ack of an earlier batch's send marks the same row again, truly: it is in
 * the stream. */
static void acked(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae,
		  void *arg)
{
	struct fleet *f = arg;
	const char *subject = natsMsg_GetSubject(msg), *id = NULL, *table;
	const char *v = NULL, *t;

	(void)js;
	table = subject ? strrchr(subject, '.') : NULL;
	if (natsMsgHeader_Get(msg, "Nats-Msg-Id", &id) == NATS_OK)
		v = strrchr(id, ':');
	/* A duplicate without a sequence: the server has the id but cannot
	 * say where its message is (a server may stage an id before the
	 * message is stored): not known to be in the stream. */
	if (pae || !pa || (pa->Duplicate && pa->Sequence == 0) || !table ||
	    !v || v == id) {
		atomic_store(&f->batch_failed, 1);
		natsMsg_Destroy(msg);
		return;
	}
	for (t = v - 1; t > id && *t != ':'; t--)
		;
	pthread_mutex_lock(&f->mu);
	if (pa->Sequence > f->stream_seq)
		f->stream_seq = pa->Sequence;
	if (!strcmp(table + 1, "transitions"))
		mark(&f->sent_transitions, strtoll(t + 1, NULL, 10));
	else
		mark(&f->sent_outbox, strtoll(v + 1, NULL, 10));
	pthread_mutex_unlock(&f->mu);
	natsMsg_Destroy(msg);
}

static void disconnect(struct fleet *f)
{
	jsCtx_Destroy(f->js);
	f->js = NULL;
	natsConnection_Destroy(f->nc);
	f->nc = NULL;
	f->stream_ok = 0;
	f->published = 0;
}

static int connect_nats(struct fleet *f)
{
	natsStatus s;
	jsOptions jo;

	s = fleet_nats_connect(f->cfg->nats, f->cfg->credentials, &f->nc);
	if (s == NATS_OK) {
		jsOptions_Init(&jo);
		jo.Wait = ACK_WAIT_MS;
		jo.PublishAsync.AckHandler = acked;
		jo.PublishAsync.AckHandlerClosure = f;
		/* A batch never waits for room: it is two lists of SHIP_BATCH
		 * at most. */
		jo.PublishAsync.MaxPending = 2 * SHIP_BATCH;
		s = natsConnection_JetStream(&f->js, f->nc, &jo);
	}
	if (s != NATS_OK) {
		failed(f, "cannot reach NATS", natsStatus_GetText(s));
		disconnect(f);
		return -1;
	}
	return 0;
}

static int count_urls(const char *list)
{
	int n = 1;

	for (; *list; list++)
		n += *list == ',';
	return n;
}

/* The stream: made as ours if missing; if there, with our settings, or a
 * clear error naming the difference. 0, -1 (try again), -2 (never). */
static int ensure_stream(struct fleet *f)
{
	const struct sup_fleet *c = f->cfg;
	jsStreamConfig sc;
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	natsStatus s;
	char subj[300];
	const char *subjects[1] = {subj};
	int64_t dup_ns = c->duplicate_window_ms * 1000000;
	int64_t replicas = c->replicas;

	snprintf(subj, sizeof(subj), "%s.>", c->subject_prefix);
	if (replicas == 0) /* 3 when there are three servers to hold them */
		replicas = count_urls(c->nats) >= 3 ? 3 : 1;
	s = js_GetStreamInfo(&si, f->js, c->stream, NULL, &jerr);
	if (s == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr) {
		jsStreamConfig_Init(&sc);
		sc.Name = c->stream;
		sc.Subjects = subjects;
		sc.SubjectsLen = 1;
		sc.Storage = js_FileStorage;
		sc.Retention = js_LimitsPolicy;
		sc.Replicas = replicas;
		sc.Duplicates = dup_ns;
		s = js_AddStream(&si, f->js, &sc, NULL, &jerr);
		if (s != NATS_OK) {
			failed(f, "cannot create the JetStream stream",
			       natsStatus_GetText(s));
			return -1;
		}
		fleet_say(f, REPORT_INFO,
			  "fleet: created the JetStream stream '%s'"
			  " (subjects %s, %" PRId64 " replica%s)",
			  c->stream, subj, replicas, replicas == 1 ? "" : "s");
	} else if (s != NATS_OK) {
		failed(f, "cannot look up the JetStream stream",
		       natsStatus_GetText(s));
		return -1;
	} else {
		const jsStreamConfig *have = si->Config;
		const char *diff = NULL;
		int covers = 0;

		for (int i = 0; i < have->SubjectsLen; i++)
			if (!strcmp(have->Subjects[i], subj))
				covers = 1;
		if (!covers)
			diff = "its subjects do not include ours";
		else if (have->Storage != js_FileStorage)
			diff = "its storage is memory, not file";
		else if (have->Retention != js_LimitsPolicy)
			diff = "its retention is not 'limits'";
		else if (have->Duplicates < dup_ns)
			diff = "its duplicate window is shorter than ours";
		if (diff) {
			fleet_say(f, REPORT_ERROR,
				  "fleet: the JetStream stream '%s' has other"
				  " settings than ours: %s (we need subjects"
				  " %s, file storage, limits retention, a"
				  " duplicate window of %" PRId64 " ms at"
				  " least); nothing is shipped",
				  c->stream, diff, subj,
				  c->duplicate_window_ms);
			jsStreamInfo_Destroy(si);
			return -2;
		}
	}
	pthread_mutex_lock(&f->mu);
	if (si->State.LastSeq > f->stream_seq)
		f->stream_seq = si->State.LastSeq;
	pthread_mutex_unlock(&f->mu);
	jsStreamInfo_Destroy(si);
	f->stream_ok = 1;
	return 0;
}

/*
 * A row of the batch, read and not published yet. The batch is read
 * whole, then published: the read's snapshot is held while reading only.
 * A reader held up with its snapshot open (this thread runs behind the
 * loop for the CPU, and publishing waits on the network) keeps the loop's
 * checkpoints from passing it, and then every commit of the loop tries
 * one again.
 */
struct held {
	char table[16];
	int64_t id, version;
	char *json; /* NULL: the row is gone */
};

/* wal_fleet_next gives LIMIT transitions, then LIMIT outbox entries. */
#define HELD_MAX (2 * SHIP_BATCH)

/* Keep one row of the batch (wal_fleet_fn). */
static int hold(const char *table, int64_t id, int64_t version,
		const char *json, void *arg)
{
	struct fleet *f = arg;
	struct held *h = &f->held[f->nheld];

	if (f->nheld == HELD_MAX || strlen(table) >= sizeof(h->table))
		return 1;
	h->json = json ? strdup(json) : NULL;
	if (json && !h->json)
		return 1; /* out of memory: what is held ships */
	memcpy(h->table, table, strlen(table) + 1);
	h->id = id;
	h->version = version;
	f->nheld++;
	return 0;
}

static void drop_held(struct fleet *f)
{
	for (int i = 0; i < f->nheld; i++)
		free(f->held[i].json);
	f->nheld = 0;
}

/* Publish one row. */
static int publish(const char *table, int64_t id, int64_t version,
		   const char *json, void *arg)
{
	struct fleet *f = arg;
	natsMsg *msg = NULL;
	struct sent *l = sent_of(f, table);
	natsStatus s;

	if (l->n == SHIP_BATCH)
		return 1; /* full: wal_fleet_next gives no more than that */
	/* Listed before it is sent: its ack may come at once. */
	pthread_mutex_lock(&f->mu);
	l->key[l->n] = l == &f->sent_transitions ? id : version;
	l->acked[l->n] = !json; /* gone: nothing to ship, the cursor passes */
	l->n++;
	pthread_mutex_unlock(&f->mu);
	if (!json)
		return 0;
	s = fleet_row_msg(f->cfg, &msg, table, id, version, json, NULL);
	if (s == NATS_OK) {
		f->published = 1;
		s = js_PublishMsgAsync(f->js, &msg, NULL);
	}
	natsMsg_Destroy(msg);
	if (s != NATS_OK) {
		atomic_store(&f->batch_failed, 1);
		return 1;
	}
	return 0;
}

/* Drop what is still waiting for an ack: the batch is sent again. */
static void drop_pending(struct fleet *f)
{
	natsMsgList pending;

	if (f->published &&
	    js_PublishAsyncGetPendingList(&pending, f->js) == NATS_OK)
		natsMsgList_Destroy(&pending);
}

/* How far L's rows were acked from its start, from CUR. */
static int64_t acked_to(const struct sent *l, int64_t cur)
{
	for (int i = 0; i < l->n && l->acked[i]; i++)
		cur = l->key[i];
	return cur;
}

/* Whether every row of L was acked. */
static int all_acked(const struct sent *l)
{
	return l->n == 0 || acked_to(l, -1) == l->key[l->n - 1];
}

/* One batch: 1 shipped something, 0 nothing to ship, -1 failed. */
static int ship_batch(struct fleet *f)
{
	jsPubOptions po;
	natsStatus s;
	int64_t n, to_outbox, to_transitions;
	int whole, refused;

	/* A commit from now on wakes us again: the read below may miss it. */
	atomic_store(&f->poked, 0);
	pthread_mutex_lock(&f->mu);
	f->sent_outbox.n = f->sent_transitions.n = 0;
	pthread_mutex_unlock(&f->mu);
	atomic_store(&f->batch_failed, 0);
	n = wal_fleet_next(f->ro, f->cur_outbox, f->cur_transitions,
			   SHIP_BATCH, hold, f);
	if (n < 0) {
		drop_held(f);
		failed(f, "cannot read what is to ship", wal_errmsg(f->ro));
		return -1;
	}
	for (int i = 0; i < f->nheld; i++) {
		const struct held *h = &f->held[i];

		if (publish(h->table, h->id, h->version, h->json, f) != 0)
			break;
	}
	drop_held(f);
	if (n == 0)
		return 0;
	jsPubOptions_Init(&po);
	po.MaxWait = ACK_WAIT_MS;
	s = js_PublishAsyncComplete(f->js, &po);
	refused = atomic_load(&f->batch_failed);
	if (s != NATS_OK || refused)
		drop_pending(f);
	pthread_mutex_lock(&f->mu);
	to_outbox = acked_to(&f->sent_outbox, f->cur_outbox);
	to_transitions = acked_to(&f->sent_transitions, f->cur_transitions);
	whole = all_acked(&f->sent_outbox) && all_acked(&f->sent_transitions);
	pthread_mutex_unlock(&f->mu);
	if (to_outbox != f->cur_outbox || to_transitions != f->cur_transitions) {
		struct report rep = {.kind = REPORT_SHIPPED,
				     .outbox = to_outbox,
				     .transitions = to_transitions};

		f->cur_outbox = to_outbox;
		f->cur_transitions = to_transitions;
		fleet_tell(f, &rep);
	}
	if (s != NATS_OK || refused || !whole) {
		/* !whole alone: every ack came and said yes, and yet a row has
		 * none; sent again all the same. */
		failed(f, "JetStream did not take what was published",
		       s != NATS_OK ? natsStatus_GetText(s)
		       : refused    ? "a publish was refused"
				    : "fewer acks than messages");
		/* The stream may be gone: look again. */
		f->stream_ok = 0;
		return -1;
	}
	worked(f);
	return 1;
}


static void *shipper(void *arg)
{
	struct fleet *f = arg;
	struct wal_options ro = {.readonly = 1};
	struct wal_fleet_lag lag;
	int prio;

	/* Behind the loop for the CPU: a shipper catching up must not slow
	 * the run (Linux's nice is per thread; the client library's threads,
	 * started from this one, inherit it). */
	errno = 0;
	prio = getpriority(PRIO_PROCESS, 0);
	if (errno == 0)
		(void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid),
				  prio + SHIP_NICE > 19 ? 19 : prio + SHIP_NICE);
	f->held = calloc(HELD_MAX, sizeof(*f->held));
	if (!f->held || wal_open(f->dir, &ro, &f->ro) < 0 ||
	    wal_fleet_lag(f->ro, &lag) < 0) {
		fleet_say(f, REPORT_ERROR, "fleet: cannot read the store: %s",
			  f->ro ? wal_errmsg(f->ro) : strerror(errno));
		free(f->held);
		f->held = NULL;
		atomic_store(&f->lag_state, SHM_FLEET_STOPPED);
		wal_close(f->ro);
		f->ro = NULL;
		return NULL;
	}
	f->cur_outbox = lag.outbox_cursor;
	f->cur_transitions = lag.transitions_cursor;
	f->ver_outbox = lag.outbox_verified;
	f->ver_transitions = lag.transitions_verified;
	if (lag.verifying && f->cfg->verify_ms > 0 &&
	    asprintf(&f->verify_subject, "%s-verify.%s", f->cfg->subject_prefix,
		     f->cfg->machine) < 0)
		f->verify_subject = NULL;
	/* The first verification once shipping is under way. */
	f->verify_due_ms = cm_mono_ms() + IDLE_MS;
	tell_lag(f, lag.rows, lag.oldest_ms);
	f->lag_at_ms = cm_mono_ms();
	while (!atomic_load(&f->stop)) {
		int rc;

		if (!f->js && connect_nats(f) < 0)
			continue;
		if (!f->stream_ok) {
			rc = ensure_stream(f);
			if (rc == -2) {
				/* Not ours to change: wait to be stopped. */
				atomic_store(&f->gave_up, 1);
				atomic_store(&f->lag_state, SHM_FLEET_STOPPED);
				while (!atomic_load(&f->stop)) {
					count_lag(f);
					nap(f, IDLE_MS);
				}
				break;
			}
			if (rc < 0)
				continue;
		}
		rc = ship_batch(f);
		if (rc == 0) {
			/* Connected, and nothing above our cursors: all is
			 * well, and no count is needed. */
			worked(f);
			tell_lag(f, 0, 0);
			if (!fleet_verify_due(f, 1))
				nap(f, IDLE_MS);
		} else if (rc > 0) {
			count_lag(f);
			fleet_verify_due(f, 0);
		}
	}
	/* Nothing more will be verified. */
	atomic_store(&f->verify_done, 1);
	if (f->js)
		drop_pending(f);
	disconnect(f);
	wal_close(f->ro);
	f->ro = NULL;
	free(f->held);
	f->held = NULL;
	return NULL;
}

/* ---- the loop's side ------------------------------------------------------ */

static void report_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	fleet_read_reports(arg, 1);
}

int fleet_start(struct run *r)
{
	const struct sup_fleet *c = &r->wf->fleet;
	sigset_t all, old;
	struct fleet *f;
	int rc;

	if (!c->nats)
		return 0;
	rc = wal_fleet_enable(r->w);
	if (rc < 0) {
		sup_log(SUP_ERROR, "fleet: cannot turn shipping on: %s",
			wal_errmsg(r->w));
		return -1;
	}
	if (rc == 1)
		sup_log(SUP_INFO, "fleet: shipping turned on for this state"
				  " dir: every row there is will be shipped");
	if (wal_fleet_verify(r->w, c->verify_ms > 0) < 0)
		sup_log(SUP_WARN, "fleet: cannot turn verifying %s: %s",
			c->verify_ms > 0 ? "on" : "off", wal_errmsg(r->w));
	f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	f->cfg = c;
	f->alone = !r->opt;
	pthread_mutex_init(&f->mu, NULL);
	f->wake[0] = f->wake[1] = f->report[0] = f->report[1] = -1;
	atomic_init(&f->lag_state, SHM_FLEET_SHIPPING);
	atomic_init(&f->lag_rows, -1);
	atomic_init(&f->lag_oldest_ms, 0);
	f->dir = strdup(r->dir);
	if (!f->dir || pipe2(f->wake, O_CLOEXEC | O_NONBLOCK) < 0 ||
	    pipe2(f->report, O_CLOEXEC) < 0 ||
	    fcntl(f->report[0], F_SETFL, O_NONBLOCK) < 0)
		goto fail;
	f->report_ev = event_new(r->base, f->report[0], EV_READ | EV_PERSIST,
				 report_cb, r);
	if (!f->report_ev || event_add(f->report_ev, NULL) < 0)
		goto fail;
	r->fleet = f;
	/* Signals are the loop's: the thread, and the threads of the NATS
	 * library it starts, take none. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&f->thread, NULL, shipper, f);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		r->fleet = NULL;
		errno = rc;
		goto fail;
	}
	f->started = 1;
	sup_log(SUP_INFO, "fleet: shipping to %s as '%s' (stream '%s',"
			  " subjects %s.%s.*)",
		c->nats, c->machine, c->stream, c->subject_prefix, c->machine);
	return 0;
fail:
	sup_log(SUP_ERROR, "fleet: cannot start the shipper: %s",
		strerror(errno));
	if (f->report_ev)
		event_free(f->report_ev);
	for (int i = 0; i < 2; i++) {
		if (f->wake[i] >= 0)
			close(f->wake[i]);
		if (f->report[i] >= 0)
			close(f->report[i]);
	}
	pthread_mutex_destroy(&f->mu);
	free(f->dir);
	free(f);
	return -1;
}

/* One wake in the pipe at a time: a busy loop turns thousands of times a
 * second, and one read after the last of them ships them all. */
void fleet_poke(struct run *r)
{
	if (r->fleet && !atomic_exchange(&r->fleet->poked, 1) &&
	    write(r->fleet->wake[1], "", 1) < 0) {
		/* Full: a wake is pending already. */
	}
}

/* fleet_await's: all is shipped, or nothing will be (LAG: the last count). */
static int shipped_all(struct run *r, void *lag)
{
	return wal_fleet_lag(r->w, lag) != 0 ||
	       ((struct wal_fleet_lag *)lag)->rows == 0 ||
	       atomic_load(&r->fleet->gave_up);
}

void fleet_stop(struct run *r)
{
	struct fleet *f = r->fleet;
	struct wal_fleet_lag lag = {0};
	int64_t until;

	if (!f)
		return;
	/* The rest ships, for ship_wait at most: cursors are written here,
	 * each in its own transaction, the loop being done. */
	until = cm_mono_ms() + f->cfg->ship_wait_ms;
	fleet_poke(r);
	fleet_await(r, until, shipped_all, &lag);
	if (lag.rows > 0)
		sup_log(SUP_WARN,
			"fleet: %" PRId64 " rows not shipped yet; the next run"
			" of this state dir%s ships them",
			lag.rows, f->alone ? " (or fleet ship)" : "");
	else
		fleet_verify_rest(r, until);
	atomic_store(&f->stop, 1);
	if (write(f->wake[1], "", 1) < 0) {
		/* Full: it wakes all the same. */
	}
	pthread_join(f->thread, NULL);
	fleet_read_reports(r, 0);
	event_free(f->report_ev);
	for (int i = 0; i < 2; i++) {
		close(f->wake[i]);
		close(f->report[i]);
	}
	r->fleet = NULL;
	/* The library's own threads and memory; then F, which an ack that
	 * came late may still have been given. */
	nats_CloseAndWait(2000);
	pthread_mutex_destroy(&f->mu);
	free(f->verify_subject);
	free(f->dir);
	free(f);
}
