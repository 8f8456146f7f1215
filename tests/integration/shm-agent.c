/*
 * shm-agent - an agent (run under `smithers run`) that checks the shared
 * memory mirror: after each acked write it reads its key back from the
 * segment and finds the value the database holds, and it finds itself
 * running in the agent table and the execution running in the header.
 *
 * usage: shm-agent COUNT   (exit 0 when every check held; 1 and why on
 * stderr otherwise)
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "shm/shm.h"
#include "wal/wal.h"
#include "worker/smithers.h"

static int die(const char *what, const char *why)
{
	fprintf(stderr, "shm-agent: %s: %s\n", what, why);
	exit(1);
}

int main(int argc, char **argv)
{
	const char *dir = getenv("SMITHERS_DIR"), *me = getenv("SMITHERS_AGENT");
	struct wal_options ro = {.readonly = 1};
	struct shm_header_snap h;
	struct smithers *s;
	struct shm_reader *r;
	struct shm_agent a;
	struct wal *w = NULL;
	char key[64], value[64], got[SHM_VALUE_LEN + 1], err[256];
	int count = argc > 1 ? atoi(argv[1]) : 0, found = 0;

	if (count < 1 || !dir || !me)
		die("usage", "shm-agent COUNT, under smithers run");
	s = smithers_open();
	if (!s)
		die("smithers_open", smithers_strerror_last());
	r = shm_reader_open(dir, err, sizeof(err));
	if (!r)
		die("shm_reader_open", err);
	if (wal_open(dir, &ro, &w) < 0)
		die("wal_open", wal_errmsg(w));
	for (int i = 0; i < count; i++) {
		char *db;

		snprintf(key, sizeof(key), "%s.k%d", me, i % 10);
		snprintf(value, sizeof(value), "{\"i\":%d,\"who\":\"%s\"}", i,
			 me);
		if (smithers_state_set(s, key, value, "shm") < 0 ||
		    smithers_sync(s, 30000) < 0)
			die("state_set", smithers_errmsg(s));
		/* Acked: the mirror has it, as the database does. */
		if (shm_read_key(r, key, got, sizeof(got)) < 0)
			die(key, "not in the mirror after its ack");
		db = wal_state_get(w, key);
		if (!db || strcmp(db, got) != 0) {
			fprintf(stderr, "shm-agent: %s: mirror '%s', db '%s'\n",
				key, got, db ? db : "(none)");
			return 1;
		}
		free(db);
		db = smithers_state_get(s, key);
		if (!db || strcmp(db, got) != 0)
			die(key, "smithers_state_get disagrees");
		free(db);
	}
	shm_read_header(r, &h);
	if (strcmp(h.status, "running") != 0 || h.execution_id < 1 ||
	    h.commits < 1 || h.messages < (uint64_t)count)
		die("header", "not a running execution with our messages");
	for (uint32_t i = 0; i < h.agent_capacity; i++)
		if (shm_read_agent(r, i, &a) == 1 && !strcmp(a.name, me)) {
			found = 1;
			if (strcmp(a.status, "running") != 0 || a.pid <= 0 ||
			    strncmp(a.last_key, me, strlen(me)) != 0)
				die("agent slot", "not running, or no pid or "
						  "last key");
		}
	if (!found)
		die("agent slot", "not found");
	if (!shm_writer_alive(r, 5000))
		die("writer", "not alive");
	/* An idle supervisor still beats at least every 2 s (its wake,
	 * WAKE_MS), and a turn's slack on a busy machine. */
	for (int i = 0; i < 30; i++) {
		struct timespec ts;
		int64_t now;

		usleep(150 * 1000);
		shm_read_header(r, &h);
		clock_gettime(CLOCK_REALTIME, &ts);
		now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
		if (now - h.heartbeat_ms > 2500)
			die("heartbeat", "older than 2.5 s");
	}
	shm_reader_close(r);
	wal_close(w);
	smithers_close(s);
	return 0;
}
