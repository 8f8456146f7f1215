/*
 * db-store.c - how a `smithers db` subcommand reaches the store (db.h):
 * the supervisor lock a write takes first, and the one message for a read
 * that failed. Below cmd-db.c and every db-*.c, calling none of them.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/db.h"
#include "wal/wal.h"

int db_fail(struct db_run *r, const char *what)
{
	const char *msg = wal_errmsg(r->w), *path = wal_db_path(r->w);

	/* Name the file once: the store's message may name it already. */
	if (strstr(msg, path))
		fprintf(stderr, "smithers: cannot read %s: %s\n", what, msg);
	else
		fprintf(stderr, "smithers: cannot read %s from '%s': %s\n",
			what, path, msg);
	return EXIT_FAIL;
}

int db_lock(struct db_run *r, const char *verb, int busy, int *fd)
{
	size_t dlen = strlen(r->ctx->dir);
	char *lock = xmalloc(dlen + sizeof("/.smithers/supervisor.lock"));
	struct wal *w = NULL;
	pid_t holder = 0;
	int rc = EXIT_FAIL;

	/* DIR as given, even ".": the path the user can act on. */
	sprintf(lock, "%s%s.smithers/supervisor.lock", r->ctx->dir,
		dlen && r->ctx->dir[dlen - 1] == '/' ? "" : "/");
	*fd = wal_lock_acquire(r->ctx->dir, &holder);
	if (*fd >= 0) {
		rc = EXIT_OK;
	} else if (errno == EWOULDBLOCK) {
		if (holder > 0)
			fprintf(stderr,
				"smithers: cannot %s: a supervisor (pid %ld) "
				"holds '%s'; stop it first\n",
				verb, (long)holder, lock);
		else
			fprintf(stderr,
				"smithers: cannot %s: a supervisor holds "
				"'%s'; stop it first\n",
				verb, lock);
		rc = busy;
	} else if (errno == ENOENT) {
		rc = cmd_open_store(r->ctx, 1, &w);
		wal_close(w);
		if (rc == EXIT_OK) { /* the state appeared meanwhile */
			fprintf(stderr,
				"smithers: cannot %s: '%s' appeared while it "
				"was being locked; try again\n",
				verb, lock);
			rc = EXIT_FAIL;
		}
	} else {
		fprintf(stderr, "smithers: cannot lock '%s': %s\n", lock,
			strerror(errno));
	}
	free(lock);
	return rc;
}
