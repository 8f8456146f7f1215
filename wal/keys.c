/*
 * keys.c - what the writer knows of the state keys it set: each one's
 * value, newest transition (its head) and row. With them a set writes its
 * transition and its row straight away; it reads neither back first.
 *
 * Invariant: an entry says what the database says, as this connection sees
 * it. So everything is forgotten whenever that may no longer hold: a
 * transaction or a savepoint rolled back, another connection committed
 * (PRAGMA data_version, read once the write lock is held, at the start of
 * each transaction), gc relinked the heads. A set or a delete keeps its own
 * key's entry up to date in the same call as its writes.
 *
 * It is bounded: past KEYS_BYTES it starts over, and a value bigger than
 * VALUE_MAX is never kept: its entry stays, marked unknown, and a set of
 * its key reads the row, as for a key not known at all. Entries are never
 * removed one by one, so the table needs no tombstones.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wal/wal-int.h"

#define KEYS_BYTES (16 << 20) /* keys, values and slots in all */
#define VALUE_MAX  (64 << 10)
#define MIN_SLOTS  64

struct wal_keys {
	struct wal_key *slot; /* open addressing, linear probing */
	size_t cap;	      /* a power of two */
	size_t used;
	size_t bytes;
	int64_t data_version; /* of the last transaction's start; -1: none */
};

static uint64_t hash_of(const char *key)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return h ? h : 1; /* 0 marks a free slot */
}

static struct wal_keys *keys_of(struct wal *w)
{
	if (!w->keys) {
		w->keys = calloc(1, sizeof(*w->keys));
		if (w->keys)
			w->keys->data_version = -1;
	}
	return w->keys;
}

void wal_keys_forget(struct wal *w)
{
	struct wal_keys *k = w->keys;

	if (!k)
		return;
	for (size_t i = 0; i < k->cap; i++) {
		free(k->slot[i].key);
		free(k->slot[i].value);
	}
	free(k->slot);
	k->slot = NULL;
	k->cap = k->used = k->bytes = 0;
}

void wal_keys_free(struct wal *w)
{
	wal_keys_forget(w);
	free(w->keys);
	w->keys = NULL;
}

void wal_keys_check(struct wal *w)
{
	static const char sql[] = "PRAGMA data_version";
	struct wal_keys *k = keys_of(w);
	int64_t version = -1; /* unknown: nothing known can be trusted */
	char keep[sizeof(w->errmsg)];
	sqlite3_stmt *st;

	if (!k)
		return;
	memcpy(keep, w->errmsg, sizeof(keep));
	st = wal_cached(w, sql); /* each transaction: prepared once */
	if (st && sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int64(st, 0);
	if (st)
		sqlite3_reset(st);
	memcpy(w->errmsg, keep, sizeof(keep));
	if (version < 0 || version != k->data_version)
		wal_keys_forget(w);
	k->data_version = version;
}

/* KEY's entry in K, or the free slot where it goes (hash 0). K has slots. */
static struct wal_key *probe(struct wal_keys *k, const char *key, uint64_t h)
{
	for (size_t i = h & (k->cap - 1);; i = (i + 1) & (k->cap - 1)) {
		struct wal_key *e = &k->slot[i];

		if (!e->hash || (e->hash == h && !strcmp(e->key, key)))
			return e;
	}
}

struct wal_key *wal_key_find(struct wal *w, const char *key)
{
	struct wal_key *e;

	if (!w->keys || !w->keys->used)
		return NULL;
	e = probe(w->keys, key, hash_of(key));
	return e->hash ? e : NULL;
}

/* Twice the slots, every entry moved; -1 when there is no memory. */
static int grow(struct wal_keys *k)
{
	size_t cap = k->cap ? k->cap * 2 : MIN_SLOTS;
	struct wal_key *slot = calloc(cap, sizeof(*slot));

	if (!slot)
		return -1;
	for (size_t i = 0; i < k->cap; i++) {
		struct wal_key *e = &k->slot[i];
		size_t j = e->hash & (cap - 1);

		if (!e->hash)
			continue;
		while (slot[j].hash)
			j = (j + 1) & (cap - 1);
		slot[j] = *e;
	}
	k->bytes += (cap - k->cap) * sizeof(*slot);
	free(k->slot);
	k->slot = slot;
	k->cap = cap;
	return 0;
}

void wal_key_set(struct wal *w, struct wal_key *e, const char *value,
		 int64_t rowid, int64_t head)
{
	struct wal_keys *k = w->keys;
	size_t len = value ? strlen(value) + 1 : 0;

	if (len > VALUE_MAX) {
		/* Too big to keep: the key's next set reads it. */
		k->bytes -= e->value_cap;
		free(e->value);
		e->value = NULL;
		e->value_cap = 0;
		e->known = 0;
		return;
	}
	if (len > e->value_cap) {
		char *grown;

		if (k->bytes + len - e->value_cap > KEYS_BYTES ||
		    !(grown = realloc(e->value, len))) {
			wal_keys_forget(w);
			return;
		}
		k->bytes += len - e->value_cap;
		e->value = grown;
		e->value_cap = len;
	}
	if (value)
		memcpy(e->value, value, len);
	e->rowid = rowid;
	e->head = head;
	e->known = 1;
}

void wal_key_keep(struct wal *w, const char *key, const char *value,
		  int64_t rowid, int64_t head)
{
	struct wal_keys *k = keys_of(w);
	size_t klen = strlen(key) + 1;
	struct wal_key *e;
	uint64_t h = hash_of(key);

	if (!k)
		return;
	if (k->bytes + klen + (value ? strlen(value) + 1 : 0) > KEYS_BYTES)
		wal_keys_forget(w);
	if ((k->used + 1) * 4 > k->cap * 3 && grow(k) < 0)
		return;
	e = probe(k, key, h);
	if (!e->hash) {
		e->key = malloc(klen);
		if (!e->key)
			return;
		memcpy(e->key, key, klen);
		e->hash = h;
		k->used++;
		k->bytes += klen;
	}
	wal_key_set(w, e, value, rowid, head);
}
