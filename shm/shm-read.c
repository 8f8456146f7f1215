/*
 * shm-read.c - the lock-free readers of the segment (shm.h).
 *
 * Every region (the header's live part, each agent slot, each key slot)
 * starts with a 32-bit sequence counter that the writer makes odd while it
 * writes (shm.c). A reader loads it (acquire), copies, and loads it again
 * after an acquire fence: equal and even, the copy is whole; otherwise it
 * tries again.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/clock.h"
#include "shm/shm-int.h"

/*
 * How many rounds a reader waits for a region to be whole. A live writer
 * holds one for about a hundred nanoseconds (longer only if it is preempted
 * right there); a writer killed in the middle of a write leaves the counter
 * odd for ever, and its readers must not spin with it: after this many
 * rounds (tens of milliseconds) they give up on that region.
 */
#define SPIN_MAX (1u << 24)

static inline void spin_pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/* Copy LEN bytes at SRC guarded by SEQ into DST, whole: 0; -1 (EAGAIN)
 * when it never was whole within SPIN_MAX rounds (DST then holds the last
 * attempt). */
static int read_whole(const _Atomic uint32_t *seq, void *dst,
		      const void *src, size_t len)
{
	uint32_t s1, s2;

	for (uint32_t round = 0; round < SPIN_MAX; round++) {
		s1 = atomic_load_explicit(seq, memory_order_acquire);
		if (s1 & 1) {
			spin_pause();
			continue;
		}
		memcpy(dst, src, len);
		atomic_thread_fence(memory_order_acquire);
		s2 = atomic_load_explicit(seq, memory_order_relaxed);
		if (s1 == s2)
			return 0;
	}
	memcpy(dst, src, len);
	errno = EAGAIN;
	return -1;
}

/* ---- readers ------------------------------------------------------------- */

struct shm_reader {
	const unsigned char *base;
	size_t size;
	const struct seg_header *h;
	/* From the header, checked once at open. */
	uint32_t agent_capacity, agent_slot, key_capacity, key_slot;
	uint64_t agents_offset, keys_offset;
	/* How much of the header and of an agent the segment's minor has
	 * and this reader knows: the copies stop there. */
	size_t header_len, agent_len;
	pid_t pid;
	uint64_t start;
	/* Which segment this is, to tell when another replaces it. */
	char state_dir[PATH_MAX];
	dev_t dev;
	ino_t ino;
};

struct shm_reader *shm_reader_open(const char *dir, char *err, size_t errlen)
{
	char state_dir[PATH_MAX], name[96];
	struct shm_reader *r;
	const struct seg_header *h;
	size_t header_len, agent_len;
	struct stat st;
	void *base;
	int fd;

	snprintf(state_dir, sizeof(state_dir), "%s/.smithers", dir);
	if (shm_segment_name(state_dir, name, sizeof(name)) < 0) {
		shm_fail(err, errlen, "no smithers state dir in '%s': %s", dir, strerror(errno));
		return NULL;
	}
	fd = shm_open(name, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0) {
		shm_fail(err, errlen,
		     errno == ENOENT ? "no supervisor is running in '%s' (no "
				       "shared memory segment: %s)"
				     : "cannot open the shared memory of '%s': "
				       "%s",
		     dir, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0 || st.st_size < (off_t)sizeof(*h)) {
		close(fd);
		errno = EPROTO;
		shm_fail(err, errlen, "'%s' is not a smithers segment (%s)", name, strerror(errno));
		return NULL;
	}
	base = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (base == MAP_FAILED) {
		shm_fail(err, errlen, "cannot map '%s': %s", name, strerror(errno));
		return NULL;
	}
	h = base;
	if (h->magic != SHM_MAGIC) {
		munmap(base, (size_t)st.st_size);
		errno = EPROTO;
		shm_fail(err, errlen, "'%s' is not a smithers segment (%s)", name, strerror(errno));
		return NULL;
	}
	atomic_thread_fence(memory_order_acquire);
	if (h->major != SHM_MAJOR) {
		if (err && errlen)
			snprintf(err, errlen,
				 "the segment of '%s' has layout version %u.%u; "
				 "this program reads version %d.x: use the "
				 "smithers that is running",
				 dir, h->major, h->minor, SHM_MAJOR);
		munmap(base, (size_t)st.st_size);
		errno = EPROTO;
		return NULL;
	}
	/* A newer minor may have larger parts; never smaller ones. An
	 * older one has what its version had. */
	if (h->minor >= SHM_MINOR) {
		header_len = sizeof(struct seg_header);
		agent_len = sizeof(struct shm_agent);
	} else if (h->minor == 3) {
		header_len = HEADER_1_3;
		agent_len = sizeof(struct shm_agent);
	} else if (h->minor == 2) {
		header_len = HEADER_1_3;
		agent_len = AGENT_1_2;
	} else if (h->minor == 1) {
		header_len = HEADER_1_1;
		agent_len = AGENT_1_1;
	} else {
		header_len = HEADER_1_0;
		agent_len = AGENT_1_0;
	}
	if (h->header_size < header_len ||
	    h->agent_slot_size < offsetof(struct seg_agent, a) + agent_len ||
	    h->key_slot_size < sizeof(struct seg_key) ||
	    h->agents_offset + (uint64_t)h->agent_capacity * h->agent_slot_size >
		    (uint64_t)st.st_size ||
	    h->keys_offset + (uint64_t)h->key_capacity * h->key_slot_size >
		    (uint64_t)st.st_size ||
	    h->key_capacity == 0) {
		munmap(base, (size_t)st.st_size);
		errno = EPROTO;
		shm_fail(err, errlen, "the segment '%s' is damaged (%s)", name, strerror(errno));
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		munmap(base, (size_t)st.st_size);
		errno = ENOMEM;
		shm_fail(err, errlen, "%s%s", "", strerror(errno));
		return NULL;
	}
	r->base = base;
	r->size = (size_t)st.st_size;
	r->h = h;
	r->agent_capacity = h->agent_capacity;
	r->agent_slot = h->agent_slot_size;
	r->key_capacity = h->key_capacity;
	r->key_slot = h->key_slot_size;
	r->agents_offset = h->agents_offset;
	r->keys_offset = h->keys_offset;
	r->header_len = header_len;
	r->agent_len = agent_len;
	r->pid = h->writer_pid;
	r->start = h->writer_start;
	memcpy(r->state_dir, state_dir, sizeof(r->state_dir));
	r->dev = st.st_dev;
	r->ino = st.st_ino;
	return r;
}

void shm_reader_close(struct shm_reader *r)
{
	if (!r)
		return;
	munmap((void *)r->base, r->size);
	free(r);
}

const void *shm_reader_base(const struct shm_reader *r)
{
	return r->base;
}

/*
 * The writer makes a new segment with O_EXCL after unlinking the old
 * one: a new inode. The writer's pid and start time are compared too, as
 * they never change in a segment once made: together they name one
 * writer, as Varnish's VSM_Status() does. A segment made so recently
 * that its header is not there yet is another one all the same.
 */
int shm_reader_changed(const struct shm_reader *r)
{
	char name[96];
	struct stat st;
	int32_t pid;
	uint64_t start;
	int fd, same;

	if (shm_segment_name(r->state_dir, name, sizeof(name)) < 0)
		return errno == ENOENT ? SHM_GONE : -1;
	fd = shm_open(name, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return errno == ENOENT ? SHM_GONE : -1;
	same = fstat(fd, &st) == 0 && st.st_dev == r->dev &&
	       st.st_ino == r->ino &&
	       pread(fd, &pid, sizeof(pid),
		     offsetof(struct seg_header, writer_pid)) ==
		       (ssize_t)sizeof(pid) &&
	       pread(fd, &start, sizeof(start),
		     offsetof(struct seg_header, writer_start)) ==
		       (ssize_t)sizeof(start) &&
	       pid == r->pid && start == r->start;
	close(fd);
	return same ? SHM_SAME : SHM_REPLACED;
}

void shm_read_header(const struct shm_reader *r, struct shm_header_snap *out)
{
	const struct seg_header *h = r->h;
	struct seg_header copy;
	size_t live = offsetof(struct seg_header, seq);

	/* A writer that died mid-write leaves the last attempt: better than
	 * nothing for a monitor showing what it left. */
	memset(&copy, 0, sizeof(copy));
	(void)read_whole(&h->seq, (char *)&copy + live, (const char *)h + live,
			 r->header_len - live);
	memset(out, 0, sizeof(*out));
	out->major = h->major;
	out->minor = h->minor;
	out->writer_pid = r->pid;
	out->writer_start = r->start;
	out->started_ms = h->started_ms;
	out->heartbeat_ms =
		atomic_load_explicit(&h->heartbeat_ms, memory_order_acquire);
	out->generation = copy.generation;
	out->execution_id = copy.execution_id;
	memcpy(out->execution, copy.execution, sizeof(out->execution));
	memcpy(out->status, copy.status, sizeof(out->status));
	memcpy(out->phase, copy.phase, sizeof(out->phase));
	out->execution[sizeof(out->execution) - 1] = '\0';
	out->status[sizeof(out->status) - 1] = '\0';
	out->phase[sizeof(out->phase) - 1] = '\0';
	out->iteration = copy.iteration;
	out->agent_capacity = r->agent_capacity;
	out->agents_used = copy.agents_used;
	out->key_capacity = r->key_capacity;
	out->keys_used = copy.keys_used;
	out->keys_overflow = copy.keys_overflow;
#define COPY(name, meaning) out->name = copy.name;
	SHM_COUNTERS(COPY)
#undef COPY
	out->last_commit_us = copy.last_commit_us;
	out->tokens_in = copy.tokens_in;
	out->tokens_out = copy.tokens_out;
	out->cache_read = copy.cache_read;
	out->cache_write = copy.cache_write;
	out->cost_micro_usd = copy.cost_micro_usd;
	out->reasoning = copy.reasoning;
	out->cost_known = copy.cost_known;
	/* Before 1.4 the copy stops short of these: 0, off. */
	out->fleet = copy.fleet;
	out->fleet_unshipped = copy.fleet_unshipped;
	out->fleet_oldest_ms = copy.fleet_oldest_ms;
}

int shm_read_agent(const struct shm_reader *r, uint32_t index,
		   struct shm_agent *out)
{
	const struct seg_agent *s;

	if (index >= r->agent_capacity) {
		errno = EINVAL;
		return -1;
	}
	s = (const struct seg_agent *)(r->base + r->agents_offset +
				       (size_t)index * r->agent_slot);
	/* A slot of an older minor ends earlier: the rest is 0. */
	memset((char *)out + r->agent_len, 0, sizeof(*out) - r->agent_len);
	if (read_whole(&s->seq, out, &s->a, r->agent_len) < 0)
		return -1;
	/* Nor does it count its agents' process trees: unknown. */
	if (r->agent_len <= AGENT_1_2) {
		out->mem_peak = -1;
		out->cpu_usec = -1;
	}
	out->name[sizeof(out->name) - 1] = '\0';
	out->phase[sizeof(out->phase) - 1] = '\0';
	out->status[sizeof(out->status) - 1] = '\0';
	out->last_tool[sizeof(out->last_tool) - 1] = '\0';
	out->last_key[sizeof(out->last_key) - 1] = '\0';
	out->running_tool[sizeof(out->running_tool) - 1] = '\0';
	out->kind[sizeof(out->kind) - 1] = '\0';
	return out->id != 0 || out->name[0] ? 1 : 0;
}

static const struct seg_key *reader_key(const struct shm_reader *r,
					uint32_t i)
{
	return (const struct seg_key *)(r->base + r->keys_offset +
					(size_t)i * r->key_slot);
}

ssize_t shm_read_key(const struct shm_reader *r, const char *key, char *buf,
		     size_t len)
{
	size_t klen = strlen(key);
	uint32_t hash = shm_hash_key(key), cap = r->key_capacity;

	if (klen == 0 || klen >= SHM_KEY_LEN) {
		errno = ENOENT;
		return -1;
	}
	for (uint32_t i = 0, at = hash % cap; i < cap;
	     i++, at = at + 1 == cap ? 0 : at + 1) {
		const struct seg_key *k = reader_key(r, at);
		uint32_t s1, state, vlen = 0, truncated = 0, round = 0;
		int match;

		/* One window of the slot's counter: look, and copy only the
		 * value (not the whole slot) when it is ours. */
		for (;; round++) {
			if (round == SPIN_MAX) {
				errno = EAGAIN; /* a writer died mid-write */
				return -1;
			}
			s1 = atomic_load_explicit(&k->seq,
						  memory_order_acquire);
			if (s1 & 1) {
				spin_pause();
				continue;
			}
			state = k->state;
			match = state == KEY_USED && k->hash == hash &&
				!memcmp(k->key, key, klen + 1);
			if (match) {
				truncated = k->truncated;
				vlen = k->value_len;
				if (!truncated && vlen <= SHM_VALUE_LEN &&
				    vlen < len)
					memcpy(buf, k->value, vlen);
			}
			atomic_thread_fence(memory_order_acquire);
			if (atomic_load_explicit(&k->seq,
						 memory_order_relaxed) == s1)
				break;
		}
		if (state == KEY_FREE)
			break;
		if (!match)
			continue;
		if (truncated) {
			errno = E2BIG;
			return -1;
		}
		if (vlen > SHM_VALUE_LEN)
			break;
		if (vlen >= len) {
			errno = ENOSPC;
			return -1;
		}
		buf[vlen] = '\0';
		return (ssize_t)vlen;
	}
	errno = ENOENT;
	return -1;
}

int shm_read_keys(const struct shm_reader *r, shm_key_fn *fn, void *arg)
{
	struct seg_key copy;
	char value[SHM_VALUE_LEN + 1];
	int rc;

	for (uint32_t i = 0; i < r->key_capacity; i++) {
		/* A slot left mid-write by a dead writer is skipped. */
		if (read_whole(&reader_key(r, i)->seq, &copy, reader_key(r, i),
			       sizeof(copy)) < 0 ||
		    copy.state != KEY_USED)
			continue;
		copy.key[SHM_KEY_LEN - 1] = '\0';
		if (copy.value_len > SHM_VALUE_LEN)
			continue;
		memcpy(value, copy.value, copy.value_len);
		value[copy.value_len] = '\0';
		rc = fn(copy.key, value, copy.value_len, (int)copy.truncated,
			arg);
		if (rc)
			return rc;
	}
	return 0;
}

int shm_writer_alive(const struct shm_reader *r, int64_t max_age_ms)
{
	int64_t beat =
		atomic_load_explicit(&r->h->heartbeat_ms, memory_order_acquire);

	if (r->pid <= 0 || (kill(r->pid, 0) < 0 && errno == ESRCH))
		return 0;
	if (shm_start_time(r->pid) != r->start)
		return 0; /* the pid was recycled */
	return cm_wall_ms() - beat < max_age_ms;
}
