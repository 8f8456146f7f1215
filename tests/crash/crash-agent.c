/*
 * crash-agent - the agent of the crash torture test (tests/crash/torture.py).
 *
 * usage: crash-agent COUNT SIDEDIR
 *
 * It writes the state keys c.EXECUTION.AGENT.N = N for N = 1 .. COUNT, a
 * few at a time, and after each smithers_sync() (every write acked, so
 * durable) appends the acked Ns to SIDEDIR/EXECUTION.AGENT.acked and
 * fsyncs that file (every 25th write also replaces a memory, for the
 * full-text index): what the torture test then requires to be in the
 * database exactly once, whatever crashed meanwhile. Each write also
 * records a tool call, every third one with an output too large to be
 * inline (four contents in turn, so that calls share object files), and
 * some usage: the counters must match the rows after any crash.
 *
 * Started again (a resumed or restarted run), it goes on after the last N
 * in its side file, first taking the Ns whose keys are in the store
 * already - committed before a crash, but never acked - as done (added to
 * the side file, not written again), as an agent that records its work
 * should, so that none is written twice. It prints a line
 * for each write, for the log rotation to have something to rotate.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "worker/smithers.h"

static void die(const char *what, const char *why)
{
	fprintf(stderr, "crash-agent: %s: %s\n", what, why);
	exit(1);
}

/* A tool call for write N, with its usage. */
static void tool_call(struct smithers *s, long n)
{
	char out[2048];
	size_t len = n % 3 ? 100 : 1500 + (size_t)(n % 4);
	int64_t call;

	for (size_t i = 0; i < len; i++)
		out[i] = "0123456789abcdef\n"[(i + (size_t)(n % 4)) % 17];
	call = smithers_tool_start(s, "write", NULL);
	if (call < 0 ||
	    smithers_tool_complete(s, call, out, len, NULL, NULL, NULL) < 0 ||
	    smithers_usage(s, 10, 1, 0.001) < 0)
		die("tool call", smithers_errmsg(s));
}

/* The highest N in the side file at PATH, 0 if none. */
static long last_acked(const char *path)
{
	FILE *f = fopen(path, "re");
	long n, last = 0;

	if (!f) {
		if (errno != ENOENT)
			die(path, strerror(errno));
		return 0;
	}
	/* A crash may cut the last line short: it was never fsync'd, and
	 * its writes are found in the store instead. */
	while (fscanf(f, "%ld\n", &n) == 1)
		if (n > last)
			last = n;
	fclose(f);
	return last;
}

int main(int argc, char **argv)
{
	const char *me = getenv("SMITHERS_AGENT");
	const char *exec = getenv("SMITHERS_EXECUTION_ID");
	struct smithers *s;
	char path[4096], key[256], value[32], line[64];
	long count, n, first;
	int fd;

	if (argc != 3 || !me || !exec)
		die("usage", "crash-agent COUNT SIDEDIR, under smithers run");
	count = strtol(argv[1], NULL, 10);
	snprintf(path, sizeof(path), "%s/%s.%s.acked", argv[2], exec, me);
	s = smithers_open();
	if (!s)
		die("smithers_open", smithers_strerror_last());
	srand((unsigned)getpid());
	n = last_acked(path) + 1;
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		die(path, strerror(errno));
	/* Committed before the crash, never acked: in the store, so ours. */
	for (;;) {
		char *v;
		int len;

		snprintf(key, sizeof(key), "c.%s.%s.%ld", exec, me, n);
		v = smithers_state_get(s, key);
		if (!v)
			break;
		free(v);
		len = snprintf(line, sizeof(line), "%ld\n", n);
		if (write(fd, line, (size_t)len) != len)
			die("write", strerror(errno));
		n++;
	}
	while (n <= count) {
		int batch = 1 + rand() % 4;

		first = n;
		for (int i = 0; i < batch && n <= count; i++, n++) {
			snprintf(key, sizeof(key), "c.%s.%s.%ld", exec, me, n);
			snprintf(value, sizeof(value), "%ld", n);
			if (smithers_state_set(s, key, value, "crash") < 0)
				die("state_set", smithers_errmsg(s));
			printf("%s wrote %s\n", me, key);
			tool_call(s, n);
			/* Now and then a memory, replacing the last one: the
			 * full-text index changes under the crashes too. */
			if (n % 25 == 0) {
				char text[128];

				snprintf(text, sizeof(text),
					 "agent %s reached write %ld of "
					 "execution %s",
					 me, n, exec);
				if (smithers_memory_add(s, "context", "session",
							me, text, -1,
							NULL) < 0)
					die("memory_add", smithers_errmsg(s));
			}
		}
		fflush(stdout);
		if (smithers_sync(s, 60000) < 0)
			die("sync", smithers_errmsg(s));
		for (long k = first; k < n; k++) {
			int len = snprintf(line, sizeof(line), "%ld\n", k);

			if (write(fd, line, (size_t)len) != len)
				die("write", strerror(errno));
		}
		if (fsync(fd) < 0)
			die("fsync", strerror(errno));
	}
	close(fd);
	smithers_close(s);
	return 0;
}
