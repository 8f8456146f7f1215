/*
 * stream.h - one protocol peer of the supervisor (an agent's pipe pair or a
 * socket connection), and the set of them a run has: reading with a budget,
 * decoding, handing each message to a dispatch hook, and the acks.
 *
 * Acks (the invariant): a stream is acked only up to what was committed and,
 * with a syncer, synced. The run tells the set after each commit
 * (sup_streams_committed) and after each sync (sup_streams_synced); an ack
 * names the newest durable seq, coalesced, and never blocks: a peer that
 * does not read keeps one pending ack.
 *
 * The structs are private to stream.c; the run sees a stream through its
 * owner pointer (the agent, or NULL on a socket before its hello).
 */
#ifndef SMITHERS_SUP_STREAM_H
#define SMITHERS_SUP_STREAM_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct wrk_msg;
struct sup_stream;
struct sup_streams;

struct sup_stream_hooks {
	/* Apply M (borrowed, for the call only) read from S. Returns 1 when
	 * M counts as processed (acked once committed), 0 when it does not
	 * (refused before the store, parked, or S failed). */
	int (*dispatch)(struct sup_stream *s, const struct wrk_msg *m,
			void *arg);
	/* S broke the protocol (REASON); the peer has been told. */
	void (*broken)(struct sup_stream *s, const char *reason, void *arg);
	/* S is about to be freed. */
	void (*freed)(struct sup_stream *s, void *arg);
};

/* A set of streams on BASE, frames up to FRAME_MAX, hooks H with ARG (both
 * borrowed). NULL when out of memory. */
struct sup_streams *sup_streams_new(struct event_base *base, size_t frame_max,
				    const struct sup_stream_hooks *h,
				    void *arg);
/* Free every stream, then the set. NULL: no-op. */
void sup_streams_free(struct sup_streams *set);

/* A stream reading IN_FD and writing OUT_FD (equal for a socket; both owned
 * by it from now on, even when this fails), for OWNER (borrowed, may be
 * NULL). NULL when out of memory. */
struct sup_stream *sup_stream_new(struct sup_streams *set, int in_fd,
				  int out_fd, void *owner);
void *sup_stream_owner(const struct sup_stream *s);
void sup_stream_set_owner(struct sup_stream *s, void *owner);

/* Read what is there (at most BUDGET bytes), decode it and dispatch each
 * message. Nothing while the set is held, unless it is stopping. */
void sup_stream_drain(struct sup_stream *s, size_t budget);
/* The peer is dead: dispatch all it sent, then stop reading. */
void sup_stream_finish(struct sup_stream *s);

/* Tell the peer that SEQ was refused (REASON); FATAL ends the stream. */
void sup_stream_error(struct sup_stream *s, uint64_t seq, const char *reason,
		      int fatal);
/* Send M (borrowed) to the peer, after what is queued: 0, or -1 when the
 * queue is full or M cannot be encoded. */
int sup_stream_send(struct sup_stream *s, const struct wrk_msg *m);
/* The peer broke the protocol at SEQ: tell it, stop reading, call the
 * broken hook. */
void sup_stream_fail(struct sup_stream *s, uint64_t seq, const char *reason);
/* Inside dispatch: the message waits for disk space and is decoded again
 * by the next drain. 0, or -1 when it cannot be put back. */
int sup_stream_park(struct sup_stream *s);

/* After a commit: what each stream processed is durable at once (TICKET
 * 0: acked now) or once the sync TICKET completes. */
void sup_streams_committed(struct sup_streams *set, uint64_t ticket);
/* Every sync up to DONE completed: ack what it made durable. */
void sup_streams_synced(struct sup_streams *set, uint64_t done);
/* Whether a stream processed something not yet committed. */
int sup_streams_uncommitted(const struct sup_streams *set);

/* Hold (the disk is full: read nothing, so that the peers block) or let
 * go. */
void sup_streams_hold(struct sup_streams *set, int hold);
/* Held, a stopping run still reads what its dying agents sent. */
void sup_streams_stopping(struct sup_streams *set);
/* Held: dispatch the parked messages again. 1 when one still waits. */
int sup_streams_retry_parked(struct sup_streams *set);

/* Free the streams that ended and have nothing left to say. */
void sup_streams_reap(struct sup_streams *set);
/* The counters since the last call: messages decoded, bytes read,
 * messages refused. */
void sup_streams_take_counts(struct sup_streams *set, uint64_t *messages,
			     uint64_t *bytes, uint64_t *rejected);

#endif /* SMITHERS_SUP_STREAM_H */
