/*
 * record.c - a tiny program that records one small execution through the
 * store API, the way the supervisor will: an execution, a phase iteration,
 * two agents with tool calls (one output large enough to spill to
 * .smithers/logs/objects), state changes with their transitions, a memory
 * and an artifact.
 *
 * usage: smithers-example-record DIR [FILE]
 * DIR must hold a state dir (smithers init DIR); FILE, if given, is recorded
 * as an artifact (e.g. a file of a git repository).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wal/wal.h"

static int fail(struct wal *w, const char *what)
{
	fprintf(stderr, "smithers-example-record: %s: %s\n", what,
		wal_errmsg(w));
	return 1;
}

int main(int argc, char **argv)
{
	struct wal_agent_spec scout = {.name = "scout", .model = "none"};
	struct wal_agent_spec counter = {.name = "counter", .model = "none"};
	struct wal_memory fact = {
		.category = "fact",
		.scope = "project",
		.key = "example",
		.content = "the example run records state, tools and memories",
		.confidence = 0.9,
		.source = "smithers-example-record",
	};
	struct wal_options opt = {0};
	char big[4096];
	struct wal *w = NULL;
	int64_t exec, phase, a, b, tool;
	int ret = 1;

	if (argc < 2 || !strcmp(argv[1], "--help")) {
		fprintf(argc < 2 ? stderr : stdout,
			"usage: smithers-example-record DIR [FILE]\n");
		return argc < 2 ? 2 : 0;
	}
	if (wal_open(argv[1], &opt, &w) < 0) {
		ret = fail(w, "cannot open the store");
		goto out;
	}
	exec = wal_execution_start(w, "example", "example.ini",
				   "{\"agents\": 2}");
	if (exec < 0 || (phase = wal_phase_start(w, exec, "survey", 0)) < 0 ||
	    (a = wal_agent_start(w, exec, phase, &scout)) < 0 ||
	    (b = wal_agent_start(w, exec, phase, &counter)) < 0) {
		ret = fail(w, "cannot record the execution");
		goto out;
	}

	/* One batch: what the supervisor does with a turn's messages. */
	for (size_t i = 0; i < sizeof(big) - 1; i++)
		big[i] = "0123456789abcdef\n"[i % 17];
	big[sizeof(big) - 1] = '\0';
	if (wal_batch_begin(w) < 0 ||
	    wal_state_set(w, "phase", "\"survey\"", "start", a) < 0 ||
	    (tool = wal_tool_start(w, a, "ls", "{\"path\": \".\"}")) < 0 ||
	    wal_tool_complete(w, tool, big, strlen(big), NULL, NULL, NULL) <
		    0 ||
	    wal_state_set(w, "files", "{\"count\": 42}", "ls-done", a) < 0 ||
	    (tool = wal_tool_start(w, b, "wc", NULL)) < 0 ||
	    wal_tool_complete(w, tool, "17 lines", 8, NULL, NULL, NULL) < 0 ||
	    wal_agent_usage(w, b, 120, 30) < 0 ||
	    wal_memory_add(w, &fact) < 0 || wal_batch_commit(w) < 0) {
		ret = fail(w, "cannot record the agents' work");
		goto out;
	}
	if (argc > 2 &&
	    wal_artifact_add(w, b, "input", "file", argv[2], NULL, NULL) < 0) {
		ret = fail(w, "cannot record the artifact");
		goto out;
	}
	if (wal_state_set(w, "phase", "\"done\"", "finish", a) < 0 ||
	    wal_agent_complete(w, a, "listed the files", "{\"files\": 42}", 0) <
		    0 ||
	    wal_agent_complete(w, b, "counted lines", NULL, 0) < 0 ||
	    wal_phase_complete(w, phase) < 0 ||
	    wal_execution_complete(w, exec, "{\"ok\": true}") < 0) {
		ret = fail(w, "cannot finish the execution");
		goto out;
	}
	printf("recorded execution %lld\n", (long long)exec);
	ret = 0;
out:
	wal_close(w);
	return ret;
}
