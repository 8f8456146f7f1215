/*
 * shm.h - the shared-memory mirror of a running supervisor: one segment,
 * written by the supervisor alone, read by anyone (smithers-top, agents)
 * without touching the database or the supervisor.
 *
 * The segment is named after the state dir's device and inode,
 * "/smithers-<dev hex>-<ino hex>" (shm_open(3); under /dev/shm on Linux),
 * and that name is also written to DIR/.smithers/shm.name. The supervisor
 * creates it mode 0600 (or the workflow's shm_mode), sizes it once, and
 * removes it on a clean exit; a segment left by a crashed supervisor is
 * replaced at the next start (a reader still mapping the old one can tell:
 * shm_reader_changed()). Readers open it O_RDONLY and map it PROT_READ: a
 * reader cannot write to it.
 *
 * Layout (every field fixed-width, every offset _Static_assert'ed in
 * shm.c): one header at offset 0, then agent_capacity agent slots of
 * agent_slot_size bytes at agents_offset, then key_capacity key slots of
 * key_slot_size bytes at keys_offset. A reader uses the sizes and offsets
 * the header gives, never its own, so a reader of an older minor version
 * reads a newer segment (fields it does not know are past the end of its
 * structs); a different major version is refused. A minor version only
 * appends fields at the end of the header and of struct shm_agent; a
 * reader gives the fields a segment of an older minor lacks as 0, or as
 * the value that field documents for "unknown" (-1 for those of 1.3,
 * "off" for those of 1.4).
 *
 * Versions: 1.0 the first; 1.1 adds the agents' cache tokens, cost and
 * running tool call, and the execution's totals in the header; 1.2 adds
 * each agent's kind (command, claude, codex), reasoning tokens and
 * whether its cost is known (a CLI may report tokens and no cost), and
 * the same totals in the header; 1.3 adds what each agent's whole process
 * tree used in its attempts that ended, as their cgroups counted it: its
 * peak memory and its CPU time (-1: unknown, as in an older segment);
 * 1.4 adds in the header the shipping to a fleet (docs/FLEET.md): whether
 * it is on and how it goes, the rows not shipped yet and when the oldest
 * of them changed.
 *
 * Torn reads are impossible: the header and every slot carry a sequence
 * counter, odd while the writer changes them. A reader copies the fields,
 * then checks the counter did not move (C11 atomics and fences); it
 * retries otherwise. Readers never take a lock and make no system call.
 */
#ifndef SMITHERS_SHM_H
#define SMITHERS_SHM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SHM_MAGIC 0x534d5348u /* "SMSH" */
#define SHM_MAJOR 1
#define SHM_MINOR 4

#define SHM_NAME_LEN  64   /* agent, phase, execution names (with NUL) */
#define SHM_STATUS_LEN 16  /* status words (with NUL) */
#define SHM_KIND_LEN  16   /* an agent's kind (with NUL) */
#define SHM_KEY_LEN   129  /* a key of up to 128 bytes, with NUL */
#define SHM_VALUE_LEN 1024 /* a JSON value of up to 1 KiB (no NUL) */

#define SHM_DEFAULT_AGENTS 1024
#define SHM_DEFAULT_KEYS   4096

/*
 * The supervisor's counters, declared once: X(name, meaning), each a
 * uint64_t that only grows while one writer lives, in their order in the
 * segment. The segment's header (shm.c), the copy readers get (struct
 * shm_header_snap), what the writer adds (struct shm_counters) and the
 * programs that print them expand this list; nothing names them one by
 * one. The list sits between keys_overflow and last_commit_us in the
 * segment: a counter added to it moves what follows, so SHM_MAJOR goes up
 * with it.
 */
#define SHM_COUNTERS(X)                                                        \
	X(messages, "protocol messages applied")                               \
	X(commits, "transactions committed")                                   \
	X(bytes, "protocol bytes read")                                        \
	X(rejected, "messages refused")                                        \
	X(restarts, "agent restarts")

/* SHM_COUNTERS(SHM_COUNTER_FIELD): the counters as struct members. */
#define SHM_COUNTER_FIELD(name, meaning) uint64_t name;

/* Shipping to a fleet (the header's fleet, since 1.4). */
enum shm_fleet_state {
	SHM_FLEET_OFF = 0,	/* no [fleet] nats (or a segment before 1.4) */
	SHM_FLEET_SHIPPING = 1, /* shipping, or waiting for rows to ship */
	SHM_FLEET_FAILING = 2,	/* NATS unreachable or refusing: retried */
	SHM_FLEET_STOPPED = 3,	/* the stream is not ours: nothing ships */
};

/* What a reader gets of the header: a consistent copy. */
struct shm_header_snap {
	uint16_t major, minor;
	int32_t writer_pid;
	uint64_t writer_start; /* the writer's start time, in clock ticks
				* since boot (/proc/PID/stat field 22) */
	int64_t started_ms;    /* wall clock, ms since the epoch */
	int64_t heartbeat_ms;  /* wall clock; updated at least every 2 s */
	uint64_t generation;   /* bumped by every change to the segment */
	int64_t execution_id;
	char execution[SHM_NAME_LEN];
	char status[SHM_STATUS_LEN]; /* running, completed, failed, ... */
	char phase[SHM_NAME_LEN];
	int32_t iteration;
	uint32_t agent_capacity, agents_used;
	uint32_t key_capacity, keys_used;
	uint64_t keys_overflow;	 /* keys not mirrored: the table was full */
	SHM_COUNTERS(SHM_COUNTER_FIELD)
	uint64_t last_commit_us; /* how long the last commit took */
	/* Since 1.1: what the execution's agents used, in all (tokens;
	 * cost in millionths of a US dollar). */
	int64_t tokens_in, tokens_out, cache_read, cache_write;
	int64_t cost_micro_usd;
	/* Since 1.2 (0 in an older segment): reasoning tokens (a part of
	 * tokens_out), and whether cost_micro_usd is a cost some agent
	 * reported (0: unknown, whatever cost_micro_usd says). */
	int64_t reasoning;
	int32_t cost_known;
	/* Since 1.4 (SHM_FLEET_OFF in an older segment). Shipping to a
	 * fleet: an enum shm_fleet_state; the rows changed and not shipped
	 * yet (-1: not counted yet); when the oldest of them changed (wall
	 * clock, ms; 0: none). Off, the other two are 0. */
	int32_t fleet;
	int64_t fleet_unshipped;
	int64_t fleet_oldest_ms;
};

/* One agent's slot. */
struct shm_agent {
	int64_t id; /* the agents row; 0: slot unused */
	char name[SHM_NAME_LEN];
	char phase[SHM_NAME_LEN];
	char status[SHM_STATUS_LEN]; /* pending, running, backoff, done, ... */
	int32_t pid;		     /* the agent's (its process group) */
	int32_t attempt;
	int32_t restarts;
	int32_t iteration;
	int64_t tool_calls;
	int64_t tokens_in, tokens_out;
	char last_tool[SHM_NAME_LEN];
	char last_key[SHM_KEY_LEN];
	int64_t started_ms, updated_ms; /* wall clock */
	/* Since 1.1. Cache tokens read and written; the cost in millionths
	 * of a US dollar (an integer: it adds up exactly). */
	int64_t cache_read, cache_write;
	int64_t cost_micro_usd;
	/* The tool calls started and not ended, and of those the one
	 * started last: its tool and when it started (wall clock); "" and 0
	 * when none runs. */
	int64_t running_since_ms;
	int32_t running_calls;
	uint32_t pad;
	char running_tool[SHM_NAME_LEN];
	/* Since 1.2 ("" and 0 in an older segment). What runs: "command",
	 * "claude", "codex"; its reasoning tokens (a part of tokens_out);
	 * whether cost_micro_usd is a cost it reported (0: unknown). */
	char kind[SHM_KIND_LEN];
	int64_t reasoning;
	int32_t cost_known;
	uint32_t pad2;
	/* Since 1.3 (-1 in an older segment). What the agent's whole
	 * process tree used in the attempts that ended, as their cgroups
	 * counted it, -1 when unknown (no cgroup, none ended yet): its
	 * memory at its peak, in bytes; its CPU time, in microseconds. The
	 * running attempt's figures are not here: a reader takes them from
	 * the agent's cgroup (smithers-top does), so that an idle supervisor
	 * reads nothing for nobody. */
	int64_t mem_peak;
	int64_t cpu_usec;
};

/* ---- the writer (the supervisor only) ------------------------------------ */

/* Declared for smithers' own code alone (its build defines
 * SMITHERS_SHM_WRITER): the writer is not in libsmithers, and the header
 * `make install` puts down is the readers'. */
#ifdef SMITHERS_SHM_WRITER

struct shm_writer;

struct shm_writer_options {
	mode_t mode;		 /* 0: 0600 */
	uint32_t agent_capacity; /* 0: SHM_DEFAULT_AGENTS */
	uint32_t key_capacity;	 /* 0: SHM_DEFAULT_KEYS */
	/* Which state keys are mirrored: NULL-terminated fnmatch(3) globs;
	 * NULL: all of them, until the table is full. */
	const char *const *keys;
};

/* Create (or replace a stale) segment for the state dir STATE_DIR (the
 * DIR/.smithers folder) and write its name to STATE_DIR/shm.name. NULL
 * with errno and a message in ERR (ERRLEN bytes) on failure. */
struct shm_writer *shm_writer_create(const char *state_dir,
				     const struct shm_writer_options *opt,
				     char *err, size_t errlen);
/* Unmap; with REMOVE, also unlink the segment and shm.name (clean exit).
 * NULL is a no-op. */
void shm_writer_close(struct shm_writer *w, int remove);

/* Header fields. Strings are truncated to fit. */
void shm_set_execution(struct shm_writer *w, int64_t id, const char *name,
		       const char *status);
void shm_set_phase(struct shm_writer *w, const char *phase, int iteration);
/* Amounts to add to the counters (any may be 0). */
struct shm_counters {
	SHM_COUNTERS(SHM_COUNTER_FIELD)
};

/* Add ADD (borrowed) to the counters, and set last_commit_us when
 * COMMIT_US >= 0; with nothing to add and no COMMIT_US, change nothing. */
void shm_count(struct shm_writer *w, const struct shm_counters *add,
	       int64_t commit_us);
/* The execution's totals (header fields since 1.1; reasoning and
 * cost_known since 1.2), replacing the last. */
struct shm_usage {
	int64_t tokens_in, tokens_out, cache_read, cache_write;
	int64_t cost_micro_usd;
	int64_t reasoning;
	int cost_known; /* some agent reported a cost */
};
void shm_set_usage(struct shm_writer *w, const struct shm_usage *u);
/* The shipping to a fleet (header fields since 1.4), replacing the last:
 * STATE an enum shm_fleet_state, UNSHIPPED rows (-1: not counted yet),
 * OLDEST_MS when the oldest of them changed (0: none). */
void shm_set_fleet(struct shm_writer *w, int state, int64_t unshipped,
		   int64_t oldest_ms);
/* Write the heartbeat (now). */
void shm_heartbeat(struct shm_writer *w);

/* Put agent A in slot INDEX (0 .. agent_capacity-1); -1 if out of range. */
int shm_agent_put(struct shm_writer *w, uint32_t index,
		  const struct shm_agent *a);

/* Mirror KEY = JSON (LEN bytes). A key the globs leave out is ignored (0);
 * a value over SHM_VALUE_LEN is stored marked truncated (readers then go to
 * the database); a full table counts keys_overflow and returns 0. A key
 * longer than 128 bytes is not mirrored. Returns 1 if mirrored. */
int shm_key_set(struct shm_writer *w, const char *key, const char *json,
		size_t len);
/* The key is gone (deleted in the database). */
void shm_key_delete(struct shm_writer *w, const char *key);

#endif /* SMITHERS_SHM_WRITER */

/* ---- readers --------------------------------------------------------------- */

struct shm_reader;

/* Open the segment of the state dir DIR (the project dir holding
 * .smithers, as for smithers --dir), read-only. NULL with errno and a
 * message in ERR (ERR may be NULL): ENOENT no segment (no supervisor ran here, or it exited
 * cleanly), EPROTO a different major version or not a segment of ours. */
struct shm_reader *shm_reader_open(const char *dir, char *err, size_t errlen);
/* NULL is a no-op. */
void shm_reader_close(struct shm_reader *r);
/* The mapped segment, read-only (for tests and diagnostics). */
const void *shm_reader_base(const struct shm_reader *r);

/*
 * Is R still reading the segment of its state dir? A supervisor started
 * after R opened (a restart, a resume) replaces the segment with a new one
 * under the same name; R keeps the old mapping, whose writer is gone, and
 * sees none of the new values until it is opened again.
 */
enum shm_change {
	SHM_SAME,     /* R maps the state dir's segment */
	SHM_REPLACED, /* another segment (another writer) stands there now:
		       * shm_reader_open() it (it may still be being made:
		       * then try again later) */
	SHM_GONE,     /* none does: its writer exited cleanly, or the state
		       * dir is gone; R still holds the last values */
};
/* Compare the segment now named after R's state dir with R's (its inode,
 * its writer's pid and start time). -1 with errno when it cannot be told
 * (EACCES, ...). A few system calls: once per refresh, not per read. */
int shm_reader_changed(const struct shm_reader *r);

/*
 * A reader waits for a region the writer is changing, but not for ever: a
 * writer killed in the middle of a write leaves it so for good. After tens
 * of milliseconds a read of such a region gives up (below).
 */

/* A consistent copy of the header (if the writer died in the middle of a
 * header change, the last attempt, which may mix the two). */
void shm_read_header(const struct shm_reader *r, struct shm_header_snap *out);

/* Copy the agent in slot INDEX into OUT: 1, 0 if the slot is unused, -1 if
 * INDEX is past the capacity (errno EINVAL) or the slot was left in the
 * middle of a write (EAGAIN). */
int shm_read_agent(const struct shm_reader *r, uint32_t index,
		   struct shm_agent *out);

/* Copy KEY's value into BUF (LEN bytes), NUL-terminated. Returns the
 * value's length; -1 with errno ENOENT if the key is not mirrored, E2BIG
 * if the mirrored value was truncated (read the database instead), ENOSPC
 * if BUF is too small, EAGAIN if its slot was left in the middle of a
 * write (the database has it). */
ssize_t shm_read_key(const struct shm_reader *r, const char *key, char *buf,
		     size_t len);

/* Iterate the mirrored keys: FN(key, value, value_len, truncated, ARG) for
 * each (a copy: safe to keep until the next call); stops when FN returns
 * non-zero and returns that. */
typedef int shm_key_fn(const char *key, const char *value, size_t len,
		       int truncated, void *arg);
int shm_read_keys(const struct shm_reader *r, shm_key_fn *fn, void *arg);

/* Is the writer alive? 1 if its pid exists with the same start time and
 * its heartbeat is younger than MAX_AGE_MS; 0 otherwise (its last values
 * are still readable). Reads /proc: not for the hot path. */
int shm_writer_alive(const struct shm_reader *r, int64_t max_age_ms);

#endif /* SMITHERS_SHM_H */
