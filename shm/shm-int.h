/*
 * shm-int.h - what the writer (shm.c) and the readers (shm-read.c) of the
 * segment share: its layout, checked at compile time, and a few helpers.
 * Nothing outside shm/ includes it.
 */
#ifndef SMITHERS_SHM_INT_H
#define SMITHERS_SHM_INT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "shm/shm.h"

/* ---- the layout -------------------------------------------------------- */

/* The header: what never changes after creation, then the live part. */
struct seg_header {
	uint32_t magic;
	uint16_t major, minor;
	uint32_t header_size;
	uint32_t agent_slot_size, agent_capacity;
	uint32_t key_slot_size, key_capacity;
	uint32_t pad0;
	uint64_t agents_offset, keys_offset, total_size;
	int32_t writer_pid;
	uint32_t pad1;
	uint64_t writer_start;
	int64_t started_ms;
	/* Live, under seq. */
	_Atomic uint32_t seq;
	uint32_t pad2;
	_Atomic uint64_t generation;
	_Atomic int64_t heartbeat_ms; /* alone: written without seq */
	int64_t execution_id;
	char execution[SHM_NAME_LEN];
	char status[SHM_STATUS_LEN];
	char phase[SHM_NAME_LEN];
	int32_t iteration;
	uint32_t agents_used, keys_used;
	uint32_t pad3;
	uint64_t keys_overflow;
	SHM_COUNTERS(SHM_COUNTER_FIELD)
	uint64_t last_commit_us;
	/* Since 1.1. */
	int64_t tokens_in, tokens_out, cache_read, cache_write;
	int64_t cost_micro_usd;
	/* Since 1.2. */
	int64_t reasoning;
	int32_t cost_known;
	uint32_t pad4;
	/* Since 1.4. */
	int32_t fleet;
	uint32_t pad5;
	int64_t fleet_unshipped, fleet_oldest_ms;
};

struct seg_agent {
	_Atomic uint32_t seq;
	uint32_t pad;
	struct shm_agent a;
};

enum { KEY_FREE = 0, KEY_USED = 1, KEY_GONE = 2 /* a tombstone */ };

struct seg_key {
	_Atomic uint32_t seq;
	uint32_t state;	     /* KEY_* */
	uint32_t hash;	     /* of the key, to skip most compares */
	uint32_t truncated;  /* the value was longer than SHM_VALUE_LEN */
	uint32_t value_len;  /* bytes in value */
	uint32_t pad;
	int64_t updated_ms;
	char key[SHM_KEY_LEN];
	char value[SHM_VALUE_LEN];
};

_Static_assert(offsetof(struct seg_header, magic) == 0, "layout");
_Static_assert(offsetof(struct seg_header, major) == 4, "layout");
_Static_assert(offsetof(struct seg_header, header_size) == 8, "layout");
_Static_assert(offsetof(struct seg_header, agents_offset) == 32, "layout");
_Static_assert(offsetof(struct seg_header, writer_pid) == 56, "layout");
_Static_assert(offsetof(struct seg_header, writer_start) == 64, "layout");
_Static_assert(offsetof(struct seg_header, seq) == 80, "layout");
_Static_assert(offsetof(struct seg_header, generation) == 88, "layout");
_Static_assert(offsetof(struct seg_header, heartbeat_ms) == 96, "layout");
_Static_assert(offsetof(struct seg_header, execution_id) == 104, "layout");
_Static_assert(offsetof(struct seg_header, execution) == 112, "layout");
_Static_assert(offsetof(struct seg_header, iteration) == 256, "layout");
_Static_assert(offsetof(struct seg_header, keys_overflow) == 272, "layout");
_Static_assert(offsetof(struct seg_header, messages) == 280, "layout");
_Static_assert(offsetof(struct seg_header, last_commit_us) == 320, "layout");
_Static_assert(offsetof(struct seg_header, tokens_in) == 328, "layout");
_Static_assert(offsetof(struct seg_header, cost_micro_usd) == 360, "layout");
_Static_assert(offsetof(struct seg_header, reasoning) == 368, "layout");
_Static_assert(offsetof(struct seg_header, cost_known) == 376, "layout");
_Static_assert(offsetof(struct seg_header, fleet) == 384, "layout");
_Static_assert(offsetof(struct seg_header, fleet_unshipped) == 392, "layout");
_Static_assert(offsetof(struct seg_header, fleet_oldest_ms) == 400, "layout");
_Static_assert(sizeof(struct seg_header) == 408, "layout");
_Static_assert(offsetof(struct seg_agent, a) == 8, "layout");
_Static_assert(offsetof(struct shm_agent, cache_read) == 408, "layout");
_Static_assert(offsetof(struct shm_agent, running_since_ms) == 432, "layout");
_Static_assert(offsetof(struct shm_agent, running_tool) == 448, "layout");
_Static_assert(offsetof(struct shm_agent, kind) == 512, "layout");
_Static_assert(offsetof(struct shm_agent, reasoning) == 528, "layout");
_Static_assert(offsetof(struct shm_agent, cost_known) == 536, "layout");
_Static_assert(offsetof(struct shm_agent, mem_peak) == 544, "layout");
_Static_assert(offsetof(struct shm_agent, cpu_usec) == 552, "layout");
_Static_assert(sizeof(struct shm_agent) == 560, "layout");
_Static_assert(offsetof(struct seg_key, key) == 32, "layout");
_Static_assert(offsetof(struct seg_key, value) == 32 + SHM_KEY_LEN, "layout");
_Static_assert(sizeof(atomic_uint) == 4 && ATOMIC_INT_LOCK_FREE == 2,
	       "lock-free 32-bit atomics");

/* Slot sizes round up to 64 bytes (a cache line each). */
#define ROUND64(n) (((n) + 63u) & ~(size_t)63u)
#define HEADER_SIZE ROUND64(sizeof(struct seg_header))
#define AGENT_SLOT  ROUND64(sizeof(struct seg_agent))
#define KEY_SLOT    ROUND64(sizeof(struct seg_key))

/* What versions 1.0 to 1.3 had of the header and of an agent: a segment
 * of that minor holds nothing past them (readers give 0 for the rest, -1
 * for the fields of 1.3, SHM_FLEET_OFF for those of 1.4). 1.3 changed no
 * header, 1.4 no agent. */
#define HEADER_1_0 offsetof(struct seg_header, tokens_in)
#define AGENT_1_0  offsetof(struct shm_agent, cache_read)
#define HEADER_1_1 offsetof(struct seg_header, reasoning)
#define AGENT_1_1  offsetof(struct shm_agent, kind)
#define AGENT_1_2  offsetof(struct shm_agent, mem_peak)
#define HEADER_1_3 offsetof(struct seg_header, fleet)

/* ---- helpers (shm.c) ------------------------------------------------------ */

/* "/smithers-<dev>-<ino>" of the state dir STATE_DIR into NAME (LEN
 * bytes): 0, or -1 with errno of stat(). */
int shm_segment_name(const char *state_dir, char *name, size_t len);
/* The start time of PID in clock ticks after boot (a zombie's too); 0 if
 * there is no such process. */
uint64_t shm_start_time(pid_t pid);
/* The hash of a key, as its slot keeps it. */
uint32_t shm_hash_key(const char *key);
/* The message FMT (callers pass strerror(errno) where it says why) into
 * ERR; errno kept; -1. */
int shm_fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif /* SMITHERS_SHM_INT_H */
