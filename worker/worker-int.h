/*
 * worker-int.h - what smithers-worker's files share: the worker's state,
 * its complaints, and the agent's output (worker-io.c): the log, rotated
 * by size, and with an adapter (--claude, --codex) the frames it makes of
 * that output, written to fd 3 while fd 4 is read.
 */
#ifndef SMITHERS_WORKER_INT_H
#define SMITHERS_WORKER_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "worker/adapter.h"
#include "worker/ctl.h"
#include "worker/proto.h"

#define CTL_FD WRK_FD_CTL
/* An adapter: frames unsent past which the agent's output waits. */
#define UP_HIGH (4 * 1024 * 1024)
/* The agent's stdout pipe, and the most read from it at once. */
#define AGENT_PIPE_SIZE (256 * 1024)
/* An adapter: longest wait for the last frames to leave, in ms. */
#define FLUSH_MS 30000
/* With --cgroup: longest wait for the killed cgroup to empty before "done",
 * in ms. */
#define CG_EMPTY_MS 2000

struct worker {
	const char *log_path;
	int64_t log_max; /* rotate past this many bytes; 0: never */
	int log_keep;
	int stop_signal;
	int64_t stop_grace_ms;
	pid_t parent;
#ifdef SMITHERS_FAILPOINTS
	int64_t crash_rotation; /* the rotation that crashes (testing); 0 */
#endif
	const char *cwd;
	const char *cgroup; /* the agent's cgroup v2 directory; NULL: none */
	const char *const *cgroup_v1; /* entered only, NCGROUP_V1 of them */
	int ncgroup_v1;
	int born_in; /* the agent's child: clone3 put it in its v2 cgroup */
	int cg_killed; /* a cm_cg_kill() of the cgroup succeeded: nothing in
			* it can fork again, none need follow */
	int cg_events; /* its cgroup.events, open while it runs; -1 */
	int cg_empty;  /* nothing was left in it when the agent ended */
	int log_fd;
	int64_t log_size;
	int at_line_start; /* the log's last byte is a newline (or it is empty)
			    */
	pid_t agent;
	int status; /* the agent's wait status, once it ended */
	int ended;
	int64_t kill_at_ms; /* SIGKILL the group then; 0: not stopping */
	int64_t term_at_ms; /* after SIGINT: the stop signal then; 0: none */
	int orphaned;	    /* the supervisor died */
	/* An adapter (parser NULL without one) */
	enum wrk_adapter adapter;
	struct wrk_parser *parser;
	int64_t line_max, frame_max;
	struct wrk_buf up;	  /* frames not written to fd 3 yet */
	int up_fd, down_fd;	  /* -1: closed */
	struct wrk_decoder *down; /* what the supervisor says on fd 4 */
};

/* smithers-worker --zygote (zygote.c): returns only in a worker forked
 * from it, with the spawn it is to run in *OUT (its fds placed), which
 * main() then runs as its command line and environment. */
void zygote(int argc, char **argv, struct wrk_ctl_next *out);

/* A line on fd 5 (for the supervisor's log) and on stderr. */
void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A note on stderr only: the supervisor hears of the stream itself. */
void complain(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The log: opened at LOG_PATH (0, or -1 said on fd 5), and the agent's
 * output BUF (LEN bytes) written to it, rotated by size at line
 * boundaries. */
int open_log(struct worker *wk);
void log_output(struct worker *wk, const char *buf, size_t len);

/* An adapter: started (fds 3 and 4 kept, the parser made), the agent's
 * output fed to it, frames written to fd 3 as it takes them, fd 4 read,
 * and at the end the last frames sent (SFD: our signalfd, for the
 * supervisor's death meanwhile). */
void adapter_start(struct worker *wk);
void adapter_feed(struct worker *wk, const char *buf, size_t n);
void flush_up(struct worker *wk);
void read_down(struct worker *wk);
void adapter_finish(struct worker *wk, int sfd);

#endif /* SMITHERS_WORKER_INT_H */
