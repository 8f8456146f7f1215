/*
 * db-replay.c - `smithers db replay ID`: restore every state key to its
 * value as of a transition (wal_state_replay), recorded as new
 * transitions.
 *
 * It writes, so it first takes the supervisor lock exactly as a
 * supervisor would (cmd_lock_store): while one runs, nothing else may write. The
 * store is closed before the lock is let go.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "tools/db.h"
#include "tools/output.h"
#include "wal/wal.h"

static int db_replay(struct db_run *r)
{
	const char *names[] = {"transition", "changed"};
	enum wal_type types[] = {WAL_INTEGER, WAL_INTEGER};
	const char *values[2];
	struct wal_row row = {2, names, values, types};
	char idbuf[24], nbuf[24];
	long long id;
	int fd = -1, rc, n;

	if (cmd_parse_int64(r->args[0], 1, INT64_MAX, &id) < 0) {
		fprintf(stderr,
			"smithers: '%s' is not a transition id (a number "
			"from 1)\n",
			r->args[0]);
		return EXIT_USAGE;
	}
	rc = cmd_lock_store(r->ctx, "replay", EXIT_FAIL, &fd);
	if (rc != EXIT_OK)
		return rc;
	rc = cmd_open_store(r->ctx, 0, &r->w);
	if (rc != EXIT_OK)
		goto out;
	n = wal_state_replay(r->w, id);
	if (n < 0) {
		if (errno == ENOENT)
			fprintf(stderr, "smithers: no transition %lld\n", id);
		else
			fprintf(stderr, "smithers: cannot replay: %s\n",
				wal_errmsg(r->w));
		rc = EXIT_FAIL;
		goto out;
	}
	if (r->ctx->json) {
		snprintf(idbuf, sizeof(idbuf), "%lld", id);
		snprintf(nbuf, sizeof(nbuf), "%d", n);
		values[0] = idbuf;
		values[1] = nbuf;
		out_object_begin(r->out, &row);
		out_object_end(r->out);
	} else {
		printf("replayed transition %lld: %d key%s changed\n", id, n,
		       n == 1 ? "" : "s");
	}
	rc = EXIT_OK;
out:
	/* Close the store before the lock: nobody may write in between. */
	wal_close(r->w);
	r->w = NULL;
	close(fd);
	return rc;
}

const struct db_sub db_sub_replay = {
	"replay", "ID", "restore every key as of transition ID",
	"Restore every state key, set or deleted, to its value as of\n"
	"transition ID, and print how many keys changed. The restoration\n"
	"is recorded as new transitions with trigger 'replay:ID': history\n"
	"is never rewritten. This writes: it is refused while a supervisor\n"
	"runs on the state dir. Exit status 1 if there is no transition ID.",
	0, 1, 1, DB_SELF, db_replay,
};
