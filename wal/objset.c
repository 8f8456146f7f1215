/*
 * objset.c - the object files a store handle knows and those its open
 * transaction must sync before it commits (objset.h): object.c fills the
 * set as it writes outputs; the batch (wal.c) syncs it before its COMMIT,
 * or drops it on a rollback; a gc forgets what it knew.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wal/objset.h"
#include "wal/wal-int.h"

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

struct wal_objects *wal_objects_of(struct wal *w)
{
	if (!w->objects)
		w->objects = calloc(1, sizeof(*w->objects));
	if (!w->objects)
		wal_fail(w, ENOMEM, "out of memory");
	return w->objects;
}

static size_t known_slot(const struct wal_objects *o, const git_oid *id)
{
	size_t h;

	memcpy(&h, id->id, sizeof(h)); /* a hash already */
	return h & (o->capknown - 1);
}

int wal_objects_known(const struct wal_objects *o, const git_oid *id)
{
	static const git_oid none;

	if (!o->capknown)
		return 0;
	for (size_t i = known_slot(o, id);; i = (i + 1) & (o->capknown - 1)) {
		if (!memcmp(&o->known[i], id, sizeof(*id)))
			return 1;
		if (!memcmp(&o->known[i], &none, sizeof(none)))
			return 0;
	}
}

static void put_known(struct wal_objects *o, const git_oid *id)
{
	static const git_oid none;
	size_t i;

	for (i = known_slot(o, id); memcmp(&o->known[i], &none, sizeof(none));
	     i = (i + 1) & (o->capknown - 1))
		if (!memcmp(&o->known[i], id, sizeof(*id)))
			return;
	o->known[i] = *id;
	o->nknown++;
}

/* Remember ID as there; forgetting it (no memory) only costs a stat. */
void wal_objects_add(struct wal_objects *o, const git_oid *id)
{
	static const git_oid none;

	if (!memcmp(id, &none, sizeof(none)))
		return;
	if ((o->nknown + 1) * 2 > o->capknown) {
		size_t cap = o->capknown ? o->capknown * 2 : 1024;
		git_oid *old = o->known, *grown = calloc(cap, sizeof(*grown));
		size_t oldcap = o->capknown;

		if (!grown)
			return;
		o->known = grown;
		o->capknown = cap;
		o->nknown = 0;
		for (size_t i = 0; i < oldcap; i++)
			if (memcmp(&old[i], &none, sizeof(none)))
				put_known(o, &old[i]);
		free(old);
	}
	put_known(o, id);
}

void wal_objects_forget(struct wal *w)
{
	struct wal_objects *o = w->objects;

	if (!o)
		return;
	free(o->known);
	o->known = NULL;
	o->nknown = o->capknown = 0;
}

/* Keep FD (of an object in fan-out dir FAN) for the commit's sync. */
int wal_objects_pend(struct wal *w, int fd, const char *fan)
{
	struct wal_objects *o = w->objects;
	unsigned long f;

	if (o->nfds == PENDING_MAX && wal_objects_sync(w) < 0) {
		close(fd);
		return -1;
	}
	if (o->nfds == o->capfds) {
		size_t cap = o->capfds ? o->capfds * 2 : 16;
		int *grown = realloc(o->fds, cap * sizeof(*grown));

		if (!grown) {
			close(fd);
			return wal_fail(w, ENOMEM, "out of memory");
		}
		o->fds = grown;
		o->capfds = cap;
	}
	o->fds[o->nfds++] = fd;
	f = strtoul((char[3]){fan[0], fan[1], 0}, NULL, 16) & 0xff;
	if (!o->fans[f]) {
		o->fans[f] = 1;
		o->nfans++;
	}
	return 0;
}

int wal_objects_sync(struct wal *w)
{
	struct wal_objects *o = w->objects;
	char dir[PATH_MAX];
	int rc = 0, err = 0;

	if (!o || (!o->nfds && !o->nfans && !o->sync_parents))
		return 0;
	for (size_t i = 0; i < o->nfds; i++) {
		if (fdatasync(o->fds[i]) < 0 && !err)
			err = errno;
		close(o->fds[i]);
	}
	o->nfds = 0;
	o->nfans = 0;
	for (int f = 0; f < 256; f++) {
		if (!o->fans[f])
			continue;
		o->fans[f] = 0;
		snprintf(dir, sizeof(dir), "%s/logs/objects/%02x", w->dir, f);
		if (fsync_dir(dir) < 0 && !err)
			err = errno;
	}
	if (o->sync_parents) {
		o->sync_parents = 0;
		snprintf(dir, sizeof(dir), "%s/logs/objects", w->dir);
		if (fsync_dir(dir) < 0 && !err)
			err = errno;
		snprintf(dir, sizeof(dir), "%s/logs", w->dir);
		if (fsync_dir(dir) < 0 && !err)
			err = errno;
		if (fsync_dir(w->dir) < 0 && !err)
			err = errno;
	}
	if (err) {
		/* What was not synced may be lost: not known any more. */
		wal_objects_forget(w);
		rc = wal_fail(w, err,
			      "cannot sync the tool outputs under "
			      "'%s/logs/objects': %s",
			      w->dir, strerror(err));
	}
	return rc;
}

void wal_objects_drop(struct wal *w)
{
	struct wal_objects *o = w->objects;
	int err = errno; /* called on failure paths: theirs is kept */

	if (!o || (!o->nfds && !o->nfans))
		return;
	for (size_t i = 0; i < o->nfds; i++)
		close(o->fds[i]);
	o->nfds = 0;
	o->nfans = 0;
	memset(o->fans, 0, sizeof(o->fans));
	/* Written, never synced: a later commit must not take them as
	 * durable. The directories made stay (sync_parents is kept): the
	 * next commit syncs their entries, for the files stored in them. */
	wal_objects_forget(w);
	errno = err;
}

void wal_objects_free(struct wal *w)
{
	struct wal_objects *o = w->objects;

	if (!o)
		return;
	for (size_t i = 0; i < o->nfds; i++)
		close(o->fds[i]);
	free(o->fds);
	free(o->known);
	free(o);
	w->objects = NULL;
}
