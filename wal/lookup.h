/*
 * lookup.h - one state value read from a state dir's database, read-only:
 * what the agents' library (smithers_state_get() in worker/client.c) asks
 * when the shared-memory mirror does not have a key.
 *
 * It needs SQLite alone. The store's handle (wal.h) is the writer's, with
 * its migrations, gc and libgit2: libsmithers links this instead, and none
 * of those.
 *
 * Errors: -1 or NULL with errno set and a message in the handle
 * (wal_lookup_errmsg()); nothing here prints, exits or aborts.
 */
#ifndef SMITHERS_WAL_LOOKUP_H
#define SMITHERS_WAL_LOOKUP_H

struct wal_lookup;

/*
 * Open the database of the state dir DIR (DIR/.smithers/smithers.db)
 * read-only. Returns 0, or -1 with errno: ENOENT (no smithers state in
 * DIR), EPROTO (a schema newer than this build, or not a smithers
 * database), EIO, EACCES, ENOMEM. Except for ENOMEM, *out is set even on
 * failure, for wal_lookup_errmsg(): wal_lookup_close() it in both cases.
 */
int wal_lookup_open(const char *dir, struct wal_lookup **out);

/* The JSON value of KEY in a new string (caller frees), or NULL with errno
 * ENOENT when the key is absent (or another errno on failure). */
char *wal_lookup_get(struct wal_lookup *l, const char *key);

/* Message of the last failure on L (borrowed, valid until the next call). */
const char *wal_lookup_errmsg(const struct wal_lookup *l);

/* Close the connection; NULL is a no-op. */
void wal_lookup_close(struct wal_lookup *l);

#endif /* SMITHERS_WAL_LOOKUP_H */
