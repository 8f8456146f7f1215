/*
 * shm.c - the shared-memory segment (shm.h): its layout, the supervisor's
 * writer and the lock-free readers.
 *
 * Every region (the header's live part, each agent slot, each key slot)
 * starts with a 32-bit sequence counter. The writer makes it odd, writes,
 * and makes it even again (release); a reader loads it (acquire), copies,
 * and loads it again after an acquire fence: equal and even, the copy is
 * whole; otherwise it tries again. One writer, so the writer needs no lock.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/procstat.h"
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
_Static_assert(sizeof(struct seg_header) == 368, "layout");
_Static_assert(offsetof(struct seg_agent, a) == 8, "layout");
_Static_assert(offsetof(struct shm_agent, cache_read) == 408, "layout");
_Static_assert(offsetof(struct shm_agent, running_since_ms) == 432, "layout");
_Static_assert(offsetof(struct shm_agent, running_tool) == 448, "layout");
_Static_assert(sizeof(struct shm_agent) == 512, "layout");
_Static_assert(offsetof(struct seg_key, key) == 32, "layout");
_Static_assert(offsetof(struct seg_key, value) == 32 + SHM_KEY_LEN, "layout");
_Static_assert(sizeof(atomic_uint) == 4 && ATOMIC_INT_LOCK_FREE == 2,
	       "lock-free 32-bit atomics");

/* Slot sizes round up to 64 bytes (a cache line each). */
#define ROUND64(n) (((n) + 63u) & ~(size_t)63u)
#define HEADER_SIZE ROUND64(sizeof(struct seg_header))
#define AGENT_SLOT  ROUND64(sizeof(struct seg_agent))
#define KEY_SLOT    ROUND64(sizeof(struct seg_key))

/* What version 1.0 had of the header and of an agent: a segment of that
 * minor holds nothing past them (readers give 0 for the rest). */
#define HEADER_1_0 offsetof(struct seg_header, tokens_in)
#define AGENT_1_0  offsetof(struct shm_agent, cache_read)

/* ---- seqlocks ------------------------------------------------------------ */

static void write_begin(_Atomic uint32_t *seq)
{
	uint32_t s = atomic_load_explicit(seq, memory_order_relaxed);

	atomic_store_explicit(seq, s + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
}

static void write_end(_Atomic uint32_t *seq)
{
	uint32_t s = atomic_load_explicit(seq, memory_order_relaxed);

	atomic_store_explicit(seq, s + 1, memory_order_release);
}

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

/* ---- names and clocks ---------------------------------------------------- */

/* "/smithers-<dev>-<ino>" of the state dir STATE_DIR. */
static int segment_name(const char *state_dir, char *name, size_t len)
{
	struct stat st;

	if (stat(state_dir, &st) < 0)
		return -1;
	snprintf(name, len, "/smithers-%llx-%llx",
		 (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
	return 0;
}

/* The start time of PID in clock ticks after boot (a zombie's too); 0 if
 * there is no such process. */
static uint64_t start_time(pid_t pid)
{
	struct cm_proc_stat st;

	return cm_proc_stat(pid, &st) == 0 ? (uint64_t)st.start : 0;
}

static uint32_t hash_key(const char *key)
{
	uint32_t h = 2166136261u;

	for (; *key; key++)
		h = (h ^ (unsigned char)*key) * 16777619u;
	return h;
}

static void put_text(char *dst, size_t len, const char *src)
{
	if (src)
		snprintf(dst, len, "%s", src);
}

/* ---- the writer ---------------------------------------------------------- */

struct shm_writer {
	char name[96];
	char *name_file; /* STATE_DIR/shm.name */
	struct seg_header *h;
	unsigned char *base;
	size_t size;
	char **globs; /* NULL: every key */
};

static struct seg_agent *agent_at(unsigned char *base,
				  const struct seg_header *h, uint32_t i)
{
	return (struct seg_agent *)(base + h->agents_offset +
				    (size_t)i * h->agent_slot_size);
}

static struct seg_key *key_at(unsigned char *base, const struct seg_header *h,
			      uint32_t i)
{
	return (struct seg_key *)(base + h->keys_offset +
				  (size_t)i * h->key_slot_size);
}

/* The message FMT (callers pass strerror(errno) where it says why) into
 * ERR; errno kept; -1. */
static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	int e = errno;
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	errno = e;
	return -1;
}

/* Write NAME to PATH through a file renamed into place. */
static int write_name_file(const char *path, const char *name)
{
	char tmp[PATH_MAX];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		return -1;
	if (fprintf(f, "%s\n", name) < 0 || fclose(f) != 0) {
		unlink(tmp);
		return -1;
	}
	return rename(tmp, path);
}

struct shm_writer *shm_writer_create(const char *state_dir,
				     const struct shm_writer_options *opt,
				     char *err, size_t errlen)
{
	struct shm_writer_options none = {0};
	struct shm_writer *w = calloc(1, sizeof(*w));
	uint32_t agents, keys;
	size_t n = 0;
	int fd = -1;

	if (!opt)
		opt = &none;
	agents = opt->agent_capacity ? opt->agent_capacity : SHM_DEFAULT_AGENTS;
	keys = opt->key_capacity ? opt->key_capacity : SHM_DEFAULT_KEYS;
	if (!w || asprintf(&w->name_file, "%s/shm.name", state_dir) < 0) {
		errno = ENOMEM;
		fail(err, errlen, "%s%s", "", strerror(errno));
		goto fail;
	}
	for (; opt->keys && opt->keys[n]; n++)
		;
	if (opt->keys) {
		w->globs = calloc(n + 1, sizeof(*w->globs));
		for (size_t i = 0; w->globs && i < n; i++)
			if (!(w->globs[i] = strdup(opt->keys[i])))
				goto nomem;
		if (!w->globs)
			goto nomem;
	}
	if (segment_name(state_dir, w->name, sizeof(w->name)) < 0) {
		fail(err, errlen, "cannot use '%s': %s", state_dir, strerror(errno));
		goto fail;
	}
	/* A segment left by a crashed supervisor is replaced. */
	shm_unlink(w->name);
	fd = shm_open(w->name, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0) {
		fail(err, errlen, "cannot create shared memory '%s': %s",
		     w->name, strerror(errno));
		goto fail;
	}
	if (fchmod(fd, opt->mode ? opt->mode : 0600) < 0) {
		fail(err, errlen, "cannot set the mode of '%s': %s", w->name, strerror(errno));
		goto fail;
	}
	w->size = HEADER_SIZE + (size_t)agents * AGENT_SLOT +
		  (size_t)keys * KEY_SLOT;
	if (ftruncate(fd, (off_t)w->size) < 0) {
		fail(err, errlen, "cannot size shared memory '%s': %s",
		     w->name, strerror(errno));
		goto fail;
	}
	w->base = mmap(NULL, w->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (w->base == MAP_FAILED) {
		w->base = NULL;
		fail(err, errlen, "cannot map shared memory '%s': %s", w->name, strerror(errno));
		goto fail;
	}
	close(fd);
	fd = -1;
	w->h = (struct seg_header *)w->base;
	w->h->major = SHM_MAJOR;
	w->h->minor = SHM_MINOR;
	w->h->header_size = (uint32_t)HEADER_SIZE;
	w->h->agent_slot_size = (uint32_t)AGENT_SLOT;
	w->h->agent_capacity = agents;
	w->h->key_slot_size = (uint32_t)KEY_SLOT;
	w->h->key_capacity = keys;
	w->h->agents_offset = HEADER_SIZE;
	w->h->keys_offset = HEADER_SIZE + (size_t)agents * AGENT_SLOT;
	w->h->total_size = w->size;
	w->h->writer_pid = (int32_t)getpid();
	w->h->writer_start = start_time(getpid());
	w->h->started_ms = cm_wall_ms();
	atomic_store_explicit(&w->h->heartbeat_ms, cm_wall_ms(),
			      memory_order_relaxed);
	/* Readers check the magic last: the rest is there before it. */
	atomic_thread_fence(memory_order_release);
	w->h->magic = SHM_MAGIC;
	if (write_name_file(w->name_file, w->name) < 0) {
		fail(err, errlen, "cannot write '%s': %s", w->name_file, strerror(errno));
		goto fail;
	}
	return w;
nomem:
	errno = ENOMEM;
	fail(err, errlen, "%s%s", "", strerror(errno));
fail:
	if (fd >= 0)
		close(fd);
	if (w) {
		int e = errno;

		if (w->base) {
			munmap(w->base, w->size);
			shm_unlink(w->name);
		}
		for (size_t i = 0; w->globs && w->globs[i]; i++)
			free(w->globs[i]);
		free(w->globs);
		free(w->name_file);
		free(w);
		errno = e;
	}
	return NULL;
}

void shm_writer_close(struct shm_writer *w, int remove)
{
	if (!w)
		return;
	munmap(w->base, w->size);
	if (remove) {
		shm_unlink(w->name);
		unlink(w->name_file);
	}
	for (size_t i = 0; w->globs && w->globs[i]; i++)
		free(w->globs[i]);
	free(w->globs);
	free(w->name_file);
	free(w);
}

/* Change the header's live part: between begin and end. */
static void header_begin(struct shm_writer *w)
{
	write_begin(&w->h->seq);
}

static void header_end(struct shm_writer *w)
{
	atomic_fetch_add_explicit(&w->h->generation, 1, memory_order_relaxed);
	write_end(&w->h->seq);
}

void shm_set_execution(struct shm_writer *w, int64_t id, const char *name,
		       const char *status)
{
	header_begin(w);
	w->h->execution_id = id;
	put_text(w->h->execution, sizeof(w->h->execution), name);
	put_text(w->h->status, sizeof(w->h->status), status);
	header_end(w);
}

void shm_set_phase(struct shm_writer *w, const char *phase, int iteration)
{
	header_begin(w);
	put_text(w->h->phase, sizeof(w->h->phase), phase);
	w->h->iteration = iteration;
	header_end(w);
}

void shm_count(struct shm_writer *w, const struct shm_counters *add,
	       int64_t commit_us)
{
	uint64_t any = 0;

#define ANY(name, meaning) any |= add->name;
	SHM_COUNTERS(ANY)
#undef ANY
	if (!any && commit_us < 0)
		return;
	header_begin(w);
#define ADD(name, meaning) w->h->name += add->name;
	SHM_COUNTERS(ADD)
#undef ADD
	if (commit_us >= 0)
		w->h->last_commit_us = (uint64_t)commit_us;
	header_end(w);
}

void shm_set_usage(struct shm_writer *w, const struct shm_usage *u)
{
	header_begin(w);
	w->h->tokens_in = u->tokens_in;
	w->h->tokens_out = u->tokens_out;
	w->h->cache_read = u->cache_read;
	w->h->cache_write = u->cache_write;
	w->h->cost_micro_usd = u->cost_micro_usd;
	header_end(w);
}

void shm_heartbeat(struct shm_writer *w)
{
	atomic_store_explicit(&w->h->heartbeat_ms, cm_wall_ms(),
			      memory_order_release);
}

int shm_agent_put(struct shm_writer *w, uint32_t index,
		  const struct shm_agent *a)
{
	struct seg_agent *s;
	int was_used;

	if (index >= w->h->agent_capacity)
		return -1;
	s = agent_at(w->base, w->h, index);
	was_used = s->a.id != 0 || s->a.name[0];
	write_begin(&s->seq);
	s->a = *a;
	write_end(&s->seq);
	if (!was_used && (a->id != 0 || a->name[0])) {
		header_begin(w);
		w->h->agents_used++;
		header_end(w);
	} else {
		atomic_fetch_add_explicit(&w->h->generation, 1,
					  memory_order_relaxed);
	}
	return 0;
}

static int wanted(const struct shm_writer *w, const char *key)
{
	if (!w->globs)
		return 1;
	for (size_t i = 0; w->globs[i]; i++)
		if (fnmatch(w->globs[i], key, 0) == 0)
			return 1;
	return 0;
}

/* KEY's slot, or where it would go (the first tombstone on its way, else
 * the free slot that ends it); NULL when neither exists (full). *FOUND
 * says which. Only the writer probes, so plain reads suffice. */
static struct seg_key *probe(struct shm_writer *w, const char *key,
			     uint32_t hash, int *found)
{
	uint32_t cap = w->h->key_capacity;
	struct seg_key *reuse = NULL;

	*found = 0;
	for (uint32_t i = 0, at = hash % cap; i < cap;
	     i++, at = at + 1 == cap ? 0 : at + 1) {
		struct seg_key *k = key_at(w->base, w->h, at);

		if (k->state == KEY_FREE)
			return reuse ? reuse : k;
		if (k->state == KEY_GONE) {
			if (!reuse)
				reuse = k;
			continue;
		}
		if (k->hash == hash && !strcmp(k->key, key)) {
			*found = 1;
			return k;
		}
	}
	return reuse;
}

int shm_key_set(struct shm_writer *w, const char *key, const char *json,
		size_t len)
{
	size_t klen = strlen(key);
	uint32_t hash;
	struct seg_key *k;
	int found;

	if (klen == 0 || klen >= SHM_KEY_LEN || !wanted(w, key))
		return 0;
	hash = hash_key(key);
	k = probe(w, key, hash, &found);
	if (!k) {
		header_begin(w);
		w->h->keys_overflow++;
		header_end(w);
		return 0;
	}
	write_begin(&k->seq);
	if (!found) {
		memcpy(k->key, key, klen + 1);
		k->hash = hash;
		k->state = KEY_USED;
	}
	/* A value too long keeps nothing: readers go to the database. */
	k->truncated = len > SHM_VALUE_LEN;
	k->value_len = k->truncated ? 0 : (uint32_t)len;
	if (!k->truncated)
		memcpy(k->value, json, len);
	k->updated_ms = cm_wall_ms();
	write_end(&k->seq);
	if (!found) {
		header_begin(w);
		w->h->keys_used++;
		header_end(w);
	} else {
		atomic_fetch_add_explicit(&w->h->generation, 1,
					  memory_order_relaxed);
	}
	return 1;
}

void shm_key_delete(struct shm_writer *w, const char *key)
{
	size_t klen = strlen(key);
	struct seg_key *k;
	int found;

	if (klen == 0 || klen >= SHM_KEY_LEN)
		return;
	k = probe(w, key, hash_key(key), &found);
	if (!k || !found)
		return;
	write_begin(&k->seq);
	k->state = KEY_GONE;
	write_end(&k->seq);
	header_begin(w);
	w->h->keys_used--;
	header_end(w);
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
	if (segment_name(state_dir, name, sizeof(name)) < 0) {
		fail(err, errlen, "no smithers state dir in '%s': %s", dir, strerror(errno));
		return NULL;
	}
	fd = shm_open(name, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0) {
		fail(err, errlen,
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
		fail(err, errlen, "'%s' is not a smithers segment (%s)", name, strerror(errno));
		return NULL;
	}
	base = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (base == MAP_FAILED) {
		fail(err, errlen, "cannot map '%s': %s", name, strerror(errno));
		return NULL;
	}
	h = base;
	if (h->magic != SHM_MAGIC) {
		munmap(base, (size_t)st.st_size);
		errno = EPROTO;
		fail(err, errlen, "'%s' is not a smithers segment (%s)", name, strerror(errno));
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
		fail(err, errlen, "the segment '%s' is damaged (%s)", name, strerror(errno));
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		munmap(base, (size_t)st.st_size);
		errno = ENOMEM;
		fail(err, errlen, "%s%s", "", strerror(errno));
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

	if (segment_name(r->state_dir, name, sizeof(name)) < 0)
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
	out->name[sizeof(out->name) - 1] = '\0';
	out->phase[sizeof(out->phase) - 1] = '\0';
	out->status[sizeof(out->status) - 1] = '\0';
	out->last_tool[sizeof(out->last_tool) - 1] = '\0';
	out->last_key[sizeof(out->last_key) - 1] = '\0';
	out->running_tool[sizeof(out->running_tool) - 1] = '\0';
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
	uint32_t hash = hash_key(key), cap = r->key_capacity;

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
	if (start_time(r->pid) != r->start)
		return 0; /* the pid was recycled */
	return cm_wall_ms() - beat < max_age_ms;
}
