/*
 * stream.c - protocol peers (stream.h): read, decode, dispatch, ack.
 *
 * A stream is read at most READ_MAX bytes per turn, so a flooding peer cannot starve the others. Every decoded message
 * goes to the dispatch hook; what it processed is acked after the commit,
 * and with a syncer only after the sync of that commit: each stream keeps
 * at most two commits waiting for their syncs (a third joins the second,
 * since a later sync covers an earlier one).
 *
 * Writes never block: the queue of error frames is bounded (OUT_MAX) and
 * the ack is the last thing queued, coalesced to the newest durable seq.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "supervisor/stream.h"
#include "wal/wal.h"
#include "worker/proto.h"

#define READ_MAX (256 * 1024) /* per stream per turn */
#define OUT_MAX (256 * 1024)  /* queued error frames per stream */

struct sup_stream {
	struct sup_streams *set;
	void *owner;	   /* the agent; NULL on a socket until its hello */
	int in_fd, out_fd; /* equal for a socket */
	struct event *rev, *wev;
	struct wrk_decoder *dec;
	struct wrk_buf out; /* frames not yet written */
	uint64_t processed; /* highest seq handled in this batch or before */
	uint64_t durable;   /* highest seq committed and synced: ackable */
	uint64_t acked;	    /* highest seq we put in an ack */
	/* Committed, waiting for the sync of their ticket (oldest first). */
	uint64_t pend_seq[2], pend_ticket[2];
	int npend;
	int dead; /* protocol error: no more reading */
	int eof;
	int parked; /* its next message waits for disk space */
	struct sup_stream *prev, *next;
};

struct sup_streams {
	struct event_base *base;
	size_t frame_max;
	const struct sup_stream_hooks *h;
	void *arg;
	struct sup_stream *head;
	size_t ended; /* streams at their EOF or failed, not freed yet */
	int held, stopping, retrying;
	uint64_t messages, bytes, rejected;
};

static void stream_flush(struct sup_stream *s);

/* S is at its EOF, or failed (DEAD): it goes once all it sent is acked
 * (sup_streams_reap), which looks at the streams only while one has
 * ended. */
static void stream_ended(struct sup_stream *s, int dead)
{
	if (!s->eof && !s->dead)
		s->set->ended++;
	if (dead)
		s->dead = 1;
	else
		s->eof = 1;
}

static void stream_write_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	stream_flush(arg);
}

static void stream_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sup_stream *s = arg;

	(void)fd;
	(void)what;
	sup_stream_drain(s, READ_MAX);
	/* A stream that is done is freed after the turn's commit. */
	if (s->eof || s->dead)
		event_del(s->rev);
}

struct sup_streams *sup_streams_new(struct event_base *base, size_t frame_max,
				    const struct sup_stream_hooks *h, void *arg)
{
	struct sup_streams *set = calloc(1, sizeof(*set));

	if (!set)
		return NULL;
	set->base = base;
	set->frame_max = frame_max;
	set->h = h;
	set->arg = arg;
	return set;
}

static void stream_free(struct sup_stream *s)
{
	struct sup_streams *set = s->set;

	if (s->eof || s->dead)
		set->ended--;
	if (set->h->freed)
		set->h->freed(s, set->arg);
	if (s->prev)
		s->prev->next = s->next;
	else
		set->head = s->next;
	if (s->next)
		s->next->prev = s->prev;
	event_free(s->rev);
	event_free(s->wev);
	close(s->in_fd);
	if (s->out_fd != s->in_fd)
		close(s->out_fd);
	wrk_decoder_free(s->dec);
	wrk_buf_release(&s->out);
	free(s);
}

void sup_streams_free(struct sup_streams *set)
{
	if (!set)
		return;
	while (set->head)
		stream_free(set->head);
	free(set);
}

struct sup_stream *sup_stream_new(struct sup_streams *set, int in_fd,
				  int out_fd, void *owner)
{
	struct sup_stream *s = calloc(1, sizeof(*s));

	if (s) {
		s->set = set;
		s->owner = owner;
		s->in_fd = in_fd;
		s->out_fd = out_fd;
		s->dec = wrk_decoder_new(set->frame_max);
		s->rev = event_new(set->base, in_fd, EV_READ | EV_PERSIST,
				   stream_read_cb, s);
		s->wev = event_new(set->base, out_fd, EV_WRITE,
				   stream_write_cb, s);
	}
	if (!s || !s->dec || !s->rev || !s->wev) {
		if (s) {
			wrk_decoder_free(s->dec);
			if (s->rev)
				event_free(s->rev);
			if (s->wev)
				event_free(s->wev);
			free(s);
		}
		close(in_fd);
		if (out_fd != in_fd)
			close(out_fd);
		return NULL;
	}
	evutil_make_socket_nonblocking(in_fd);
	evutil_make_socket_nonblocking(out_fd);
	if (!set->held) /* else sup_streams_hold(set, 0) reads it */
		event_add(s->rev, NULL);
	s->next = set->head;
	if (set->head)
		set->head->prev = s;
	set->head = s;
	return s;
}

void *sup_stream_owner(const struct sup_stream *s)
{
	return s->owner;
}

void sup_stream_set_owner(struct sup_stream *s, void *owner)
{
	s->owner = owner;
}

/* Write what is queued; queue the ack last, coalesced to the newest durable
 * seq (never one of a batch not yet committed, or not yet synced). */
static void stream_flush(struct sup_stream *s)
{
	if (s->durable > s->acked && s->out.len < OUT_MAX) {
		struct wrk_msg ack = {.type = WRK_ACK, .seq = s->durable};

		if (wrk_encode(&s->out, &ack) == 0)
			s->acked = s->durable;
	}
	while (s->out.len > 0) {
		ssize_t n = write(s->out_fd, s->out.data, s->out.len);

		if (n > 0) {
			wrk_buf_consume(&s->out, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			event_add(s->wev, NULL);
			return;
		}
		/* The peer closed its ack pipe: nothing more to say. */
		wrk_buf_consume(&s->out, s->out.len);
		return;
	}
	/* An ack owed while the queue was full goes out now. */
	if (s->durable > s->acked)
		stream_flush(s);
}

void sup_stream_error(struct sup_stream *s, uint64_t seq, const char *reason,
		      int fatal)
{
	struct wrk_msg err = {.type = WRK_ERROR,
			      .seq = seq,
			      .reason = reason,
			      .fatal = fatal};

	s->set->rejected++;
	if (s->out.len < OUT_MAX)
		wrk_encode(&s->out, &err);
	stream_flush(s);
}

int sup_stream_send(struct sup_stream *s, const struct wrk_msg *m)
{
	if (s->out.len >= OUT_MAX || wrk_encode(&s->out, m) < 0)
		return -1;
	stream_flush(s);
	return 0;
}

void sup_stream_fail(struct sup_stream *s, uint64_t seq, const char *reason)
{
	stream_ended(s, 1);
	event_del(s->rev);
	sup_stream_error(s, seq, reason, 1);
	s->set->h->broken(s, reason, s->set->arg);
}

int sup_stream_park(struct sup_stream *s)
{
	if (wrk_decoder_unread(s->dec) < 0)
		return -1;
	s->parked = 1;
	return 0;
}

/* Dispatch what S's decoder holds: 0, or -1 when S died or a message of it
 * has to wait for disk space (parked). */
static int stream_decode(struct sup_stream *s)
{
	struct wrk_msg m;
	int rc;

	while (!s->parked && (rc = wrk_decoder_next(s->dec, &m)) == 1) {
		s->set->messages++;
		if (s->set->h->dispatch(s, &m, s->set->arg) && !s->parked)
			s->processed = m.seq;
		wal_failpoint("mid-batch");
		if (s->dead)
			return -1;
	}
	if (s->parked)
		return -1;
	if (rc < 0) {
		sup_stream_fail(s, wrk_decoder_last_seq(s->dec) + 1,
				wrk_decoder_errmsg(s->dec));
		return -1;
	}
	return 0;
}

void sup_stream_drain(struct sup_stream *s, size_t budget)
{
	struct sup_streams *set = s->set;
	char buf[65536];
	size_t got = 0;

	if (s->dead || (set->held && !set->stopping && !set->retrying))
		return;
	/* A message parked when the disk filled up comes first. */
	if (stream_decode(s) < 0)
		return;
	while (!s->eof && got < budget) {
		ssize_t n = read(s->in_fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			stream_ended(s, 0);
			break;
		}
		got += (size_t)n;
		set->bytes += (uint64_t)n;
		if (wrk_decoder_feed(s->dec, buf, (size_t)n) < 0) {
			sup_stream_fail(s, 0, "out of memory");
			return;
		}
		if (stream_decode(s) < 0)
			return;
	}
	if (s->eof && wrk_decoder_pending(s->dec) > 0 && !s->dead) {
		char why[128];

		snprintf(why, sizeof(why),
			 "the stream ended inside a frame (%zu bytes of it "
			 "were sent)",
			 wrk_decoder_pending(s->dec));
		sup_stream_fail(s, wrk_decoder_last_seq(s->dec) + 1, why);
	}
}

void sup_stream_finish(struct sup_stream *s)
{
	sup_stream_drain(s, SIZE_MAX);
	event_del(s->rev);
	stream_ended(s, 0);
}

/* The highest seq of S committed so far, synced or not. */
static uint64_t stream_committed(const struct sup_stream *s)
{
	return s->npend ? s->pend_seq[s->npend - 1] : s->durable;
}

void sup_streams_committed(struct sup_streams *set, uint64_t ticket)
{
	for (struct sup_stream *s = set->head; s; s = s->next) {
		if (s->processed <= stream_committed(s))
			continue;
		if (!ticket) {
			wal_failpoint("after-commit-before-ack");
			s->durable = s->processed;
			stream_flush(s);
			continue;
		}
		if (s->npend == 2)
			s->npend = 1;
		s->pend_seq[s->npend] = s->processed;
		s->pend_ticket[s->npend] = ticket;
		s->npend++;
	}
}

void sup_streams_synced(struct sup_streams *set, uint64_t done)
{
	for (struct sup_stream *s = set->head; s; s = s->next) {
		while (s->npend > 0 && s->pend_ticket[0] <= done) {
			s->durable = s->pend_seq[0];
			s->pend_seq[0] = s->pend_seq[1];
			s->pend_ticket[0] = s->pend_ticket[1];
			s->npend--;
		}
		if (s->durable > s->acked)
			stream_flush(s);
	}
}

int sup_streams_uncommitted(const struct sup_streams *set)
{
	for (const struct sup_stream *s = set->head; s; s = s->next)
		if (s->processed > stream_committed(s))
			return 1;
	return 0;
}

void sup_streams_hold(struct sup_streams *set, int hold)
{
	set->held = hold;
	for (struct sup_stream *s = set->head; s; s = s->next)
		if (hold)
			event_del(s->rev);
		else if (!s->eof && !s->dead)
			event_add(s->rev, NULL);
}

void sup_streams_stopping(struct sup_streams *set)
{
	set->stopping = 1;
}

int sup_streams_retry_parked(struct sup_streams *set)
{
	int parked = 0;

	set->retrying = 1;
	for (struct sup_stream *s = set->head; s; s = s->next) {
		if (!s->parked)
			continue;
		s->parked = 0;
		sup_stream_drain(s, READ_MAX);
		parked |= s->parked;
	}
	set->retrying = 0;
	return parked;
}

void sup_streams_reap(struct sup_streams *set)
{
	struct sup_stream *s = set->head, *next;

	/* Each turn: a walk of every agent's stream would cost an idle run
	 * a wake's worth of cache misses each second. */
	if (!set->ended)
		return;
	for (; s; s = next) {
		next = s->next;
		if ((s->eof || s->dead) && s->out.len == 0 &&
		    s->processed <= s->acked)
			stream_free(s);
	}
}

void sup_streams_take_counts(struct sup_streams *set, uint64_t *messages,
			     uint64_t *bytes, uint64_t *rejected)
{
	*messages = set->messages;
	*bytes = set->bytes;
	*rejected = set->rejected;
	set->messages = set->bytes = set->rejected = 0;
}
