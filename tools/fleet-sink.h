/*
 * fleet-sink.h - what the two files of `smithers fleet sink` share and
 * nobody else sees: the sink's state (struct sink) and how its lines
 * begin. fleet-sink.c consumes the stream into PostgreSQL; fleet-answer.c
 * answers the supervisors' requests to verify what they shipped
 * (docs/FLEET.md, "Verifying"). Calls go one way: fleet-sink.c calls
 * fleet-answer.c between batches.
 */
#ifndef SMITHERS_TOOLS_FLEET_SINK_H
#define SMITHERS_TOOLS_FLEET_SINK_H

#include <stddef.h>
#include <stdint.h>

#include <nats/nats.h>

#include "tools/fleet.h"

struct sink {
	struct fleet_run *r;
	int sigfd;
	int stop;

	natsConnection *nc;
	jsCtx *js;
	natsSubscription *sub;
	natsSubscription *vsub; /* PREFIX-verify.*: the supervisors ask */
	char *filter;		/* PREFIX.> */
	char *vsubject;		/* PREFIX-verify.* */
	size_t prefix_len;

	struct pg_conn *pg;

	/* Failing: a line when it starts and one when it ends. */
	int nats_failing, pg_failing, stream_missing;
	int64_t backoff_ms;

	long long written, unchanged, skipped;
	long long verified, lacked; /* rows asked about, found lacking */
	long long skipped_logged;   /* skipped at the last line about them */
	int64_t skip_log_ms;
	char last_skip[300];
};

/* What begins each line the sink writes on stderr. */
#define SINK_SAYS "smithers fleet sink: "

/* Answer the requests waiting on K's vsub (fleet-answer.c). */
void sink_answer_all(struct sink *k);

#endif /* SMITHERS_TOOLS_FLEET_SINK_H */
