/*
 * objset.h - what a store handle knows of the object files beside the
 * database (wal/object.c writes them): the ids known to be there, and the
 * files and directories its open transaction wrote and must sync before it
 * commits. objset.c keeps the set; object.c fills it; the handle's batch
 * (wal.c) syncs or drops it. It calls nothing of either.
 */
#ifndef SMITHERS_WAL_OBJSET_H
#define SMITHERS_WAL_OBJSET_H

#include <stddef.h>

#include <git2.h>

struct wal;

/* The objects a handle knows are there, and those its open transaction
 * wrote (or found) and must sync before it commits. */
struct wal_objects {
	git_oid *known; /* open addressing; zero: a free slot */
	size_t nknown, capknown;
	int *fds; /* files to sync */
	size_t nfds, capfds;
	unsigned char fans[256]; /* logs/objects/<xx> dirs to sync */
	int nfans;		 /* how many of them are set */
	int sync_parents;	 /* logs/objects, logs, .smithers too */
};

/* Files a transaction keeps open for its commit's sync; past this many,
 * they are synced at once. */
#define PENDING_MAX 256

/* W's set, made on first use; NULL (the failure recorded) out of memory. */
struct wal_objects *wal_objects_of(struct wal *w);
/* Whether the object ID is known to be there. */
int wal_objects_known(const struct wal_objects *o, const git_oid *id);
/* Remember ID as there; forgetting it (no memory) only costs a stat. */
void wal_objects_add(struct wal_objects *o, const git_oid *id);
/* Keep FD (of an object in fan-out dir FAN, two hex digits) for the
 * commit's sync; 0, or -1 (FD closed, the failure recorded). */
int wal_objects_pend(struct wal *w, int fd, const char *fan);

#endif /* SMITHERS_WAL_OBJSET_H */
