/*
 * db-store.c - the one message of a `smithers db` subcommand for a read of
 * the store that failed (db.h). Below cmd-db.c and every db-*.c, calling
 * none of them. (The lock a write takes first is cmd_lock_store(), cli.h.)
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
