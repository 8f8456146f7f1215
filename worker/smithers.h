/*
 * smithers.h - the C API for agents run by a smithers supervisor: record
 * state, memories, tool calls, artifacts, usage and the result in the
 * supervisor's database, and wait until what was sent is durable.
 *
 * Link with -lsmithers (pkg-config smithers). The wire protocol behind it is
 * docs/PROTOCOL.md; agents in other languages speak it directly.
 *
 * Sends are buffered and do not block: each appends one message and tries
 * one non-blocking write. Only when more than the send buffer (1 MiB by
 * default, SMITHERS_SEND_BUFFER or smithers_set_send_buffer()) is waiting
 * does a send block until the supervisor has read enough (back-pressure).
 * Every send returns the message's sequence number (> 0), or -1 with errno
 * set and a message in smithers_errmsg(). A message is durable once the
 * supervisor acked it: smithers_sync() waits for that.
 *
 * JSON arguments are JSON text ("\"review\"", "{\"n\": 3}"); the supervisor
 * validates them and refuses a message whose JSON is invalid.
 *
 * A handle is one stream and is not thread-safe: use one per thread, or
 * lock around it.
 */
#ifndef SMITHERS_H
#define SMITHERS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct smithers;

/*
 * Connect to the supervisor running this agent, from the environment:
 * the pipe pair SMITHERS_FD / SMITHERS_ACK_FD when they name open pipes not
 * in use by another handle of this process, else a new connection to the
 * socket SMITHERS_SOCKET (with SMITHERS_AGENT_ID and SMITHERS_TOKEN). Sends
 * hello first. NULL with errno ENOENT when not run by a supervisor (none of
 * them set), or ECONNREFUSED, ENAMETOOLONG, EINVAL, ENOMEM...; the reason
 * is in smithers_strerror_last().
 */
struct smithers *smithers_open(void);

/*
 * Always a new connection to SMITHERS_SOCKET: its own stream, with its own
 * sequence numbers and acks, independent of every other handle (what
 * `smithers emit` uses). NULL as smithers_open().
 */
struct smithers *smithers_open_socket(void);

/* Why the last smithers_open*() of this thread failed (borrowed). */
const char *smithers_strerror_last(void);

/*
 * Write everything queued, waiting at most TIMEOUT_MS (< 0: no limit); does
 * not wait for acks. 0, or -1 with errno ETIMEDOUT, EPIPE, EPROTO.
 */
int smithers_flush(struct smithers *s, int timeout_ms);

/*
 * Send what is buffered (waiting up to 5 seconds for the supervisor to read
 * it), then close the stream and free S. Does not wait for acks: call
 * smithers_sync() first to know that everything is durable.
 * smithers_close(NULL) is a no-op.
 */
void smithers_close(struct smithers *s);

/* Why the last call on S failed, or the supervisor's last error (borrowed;
 * "" if none). */
const char *smithers_errmsg(const struct smithers *s);

/* Largest number of unsent bytes before a send blocks (minimum 4096). */
void smithers_set_send_buffer(struct smithers *s, size_t bytes);

/* ---- messages: each returns its seq (> 0), or -1 ----------------------- */

/* Set state KEY to the JSON text JSON; TRIGGER (may be NULL) says why. */
int64_t smithers_state_set(struct smithers *s, const char *key,
			   const char *json, const char *trigger);
/* Delete state KEY. */
int64_t smithers_state_delete(struct smithers *s, const char *key,
			      const char *trigger);
/*
 * Add a memory (or replace the one with the same category, scope and key).
 * CATEGORY: fact, learning, preference, context or skill; SCOPE: global,
 * project or session (NULL: global); CONFIDENCE in 0..1 (< 0: default);
 * SOURCE may be NULL.
 */
int64_t smithers_memory_add(struct smithers *s, const char *category,
			    const char *scope, const char *key,
			    const char *content, double confidence,
			    const char *source);
/*
 * Record the start of a call of TOOL with input INPUT_JSON (may be NULL).
 * Returns the call's id (> 0, below 2^52, random: unique among the agent's
 * calls whatever process or stream completes it) for
 * smithers_tool_complete(), or -1.
 */
int64_t smithers_tool_start(struct smithers *s, const char *tool,
			    const char *input_json);
/*
 * Record the end of call CALL: OUTPUT of LEN bytes (any bytes; NULL: none),
 * SUMMARY, STATUS ("completed" or "failed"; NULL: completed) and ERROR, each
 * may be NULL. Returns the message's seq.
 */
int64_t smithers_tool_complete(struct smithers *s, int64_t call,
			       const void *output, size_t len,
			       const char *summary, const char *status,
			       const char *error);
/* Record the file PATH as artifact NAME; TYPE, SUMMARY and METADATA_JSON may
 * be NULL. */
int64_t smithers_artifact_add(struct smithers *s, const char *name,
			      const char *path, const char *type,
			      const char *summary, const char *metadata_json);
/* Add token counts and cost (any may be 0) to the agent's totals. */
int64_t smithers_usage(struct smithers *s, uint64_t tokens_in,
		       uint64_t tokens_out, double cost);
/* A line for the supervisor's log; LEVEL may be NULL ("info"). */
int64_t smithers_log(struct smithers *s, const char *level,
		     const char *message);
/* The agent's result: plain TEXT and/or structured JSON (either NULL). */
int64_t smithers_result(struct smithers *s, const char *text, const char *json);
/* The agent failed, because of ERROR. */
int64_t smithers_fail(struct smithers *s, const char *error);

/* ---- acknowledgements ------------------------------------------------- */

/*
 * Send everything and wait until the supervisor acked all of it, at most
 * TIMEOUT_MS milliseconds (< 0: no limit). 0, or -1 with errno ETIMEDOUT,
 * EPIPE (the supervisor went away), EPROTO (the supervisor refused a
 * message since the last sync, or stopped the stream: its reason is in
 * smithers_errmsg()).
 */
int smithers_sync(struct smithers *s, int timeout_ms);

/* Seq of the last message sent (queued) on S; 0 if none. */
uint64_t smithers_last_seq(const struct smithers *s);
/* Highest seq the supervisor acked so far (read without blocking). */
uint64_t smithers_acked(struct smithers *s);
/* Bytes queued and not yet written to the supervisor. */
size_t smithers_unsent(const struct smithers *s);

/* ---- reading state ---------------------------------------------------- */

/*
 * The JSON text of state KEY as committed (caller frees): from the running
 * supervisor's shared-memory mirror when it holds the key (no system call),
 * else from the database of SMITHERS_DIR through a read-only connection;
 * NULL with errno ENOENT when there is no such key (or no SMITHERS_DIR).
 * To read your own writes, smithers_sync() first: the mirror is written
 * before the ack. For the mirror itself (the agent table, the header,
 * whether the supervisor is alive), see <smithers/shm.h>.
 */
char *smithers_state_get(struct smithers *s, const char *key);

#ifdef __cplusplus
}
#endif
#endif /* SMITHERS_H */
