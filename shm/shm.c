/*
 * shm.c - the shared-memory segment (shm.h): the supervisor's writer, and
 * the helpers its readers share (shm-int.h; the readers are shm-read.c).
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
#include "shm/shm-int.h"

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

/* ---- names and clocks ---------------------------------------------------- */

/* "/smithers-<dev>-<ino>" of the state dir STATE_DIR. */
int shm_segment_name(const char *state_dir, char *name, size_t len)
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
uint64_t shm_start_time(pid_t pid)
{
	struct cm_proc_stat st;

	return cm_proc_stat(pid, &st) == 0 ? (uint64_t)st.start : 0;
}

uint32_t shm_hash_key(const char *key)
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

int shm_fail(char *err, size_t errlen, const char *fmt, ...)
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
		shm_fail(err, errlen, "%s%s", "", strerror(errno));
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
	if (shm_segment_name(state_dir, w->name, sizeof(w->name)) < 0) {
		shm_fail(err, errlen, "cannot use '%s': %s", state_dir, strerror(errno));
		goto fail;
	}
	/* A segment left by a crashed supervisor is replaced. */
	shm_unlink(w->name);
	fd = shm_open(w->name, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0) {
		shm_fail(err, errlen, "cannot create shared memory '%s': %s",
		     w->name, strerror(errno));
		goto fail;
	}
	if (fchmod(fd, opt->mode ? opt->mode : 0600) < 0) {
		shm_fail(err, errlen, "cannot set the mode of '%s': %s", w->name, strerror(errno));
		goto fail;
	}
	w->size = HEADER_SIZE + (size_t)agents * AGENT_SLOT +
		  (size_t)keys * KEY_SLOT;
	if (ftruncate(fd, (off_t)w->size) < 0) {
		shm_fail(err, errlen, "cannot size shared memory '%s': %s",
		     w->name, strerror(errno));
		goto fail;
	}
	w->base = mmap(NULL, w->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (w->base == MAP_FAILED) {
		w->base = NULL;
		shm_fail(err, errlen, "cannot map shared memory '%s': %s", w->name, strerror(errno));
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
	w->h->writer_start = shm_start_time(getpid());
	w->h->started_ms = cm_wall_ms();
	atomic_store_explicit(&w->h->heartbeat_ms, cm_wall_ms(),
			      memory_order_relaxed);
	/* Readers check the magic last: the rest is there before it. */
	atomic_thread_fence(memory_order_release);
	w->h->magic = SHM_MAGIC;
	if (write_name_file(w->name_file, w->name) < 0) {
		shm_fail(err, errlen, "cannot write '%s': %s", w->name_file, strerror(errno));
		goto fail;
	}
	return w;
nomem:
	errno = ENOMEM;
	shm_fail(err, errlen, "%s%s", "", strerror(errno));
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
	w->h->reasoning = u->reasoning;
	w->h->cost_known = u->cost_known != 0;
	header_end(w);
}

void shm_set_fleet(struct shm_writer *w, int state, int64_t unshipped,
		   int64_t oldest_ms)
{
	header_begin(w);
	w->h->fleet = state;
	w->h->fleet_unshipped = state == SHM_FLEET_OFF ? 0 : unshipped;
	w->h->fleet_oldest_ms = state == SHM_FLEET_OFF ? 0 : oldest_ms;
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
	hash = shm_hash_key(key);
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
	k = probe(w, key, shm_hash_key(key), &found);
	if (!k || !found)
		return;
	write_begin(&k->seq);
	k->state = KEY_GONE;
	write_end(&k->seq);
	header_begin(w);
	w->h->keys_used--;
	header_end(w);
}
