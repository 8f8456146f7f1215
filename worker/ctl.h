/*
 * ctl.h - the contract between the supervisor and smithers-worker: the fds
 * the worker is started with, its command line (built and parsed here, so
 * that no flag or position is spelled twice), the lines it says on its
 * control socket and the next attempts it may be sent there, the errnos
 * that make a failed start worth retrying, and the marker by which a later
 * supervisor recognises a worker of its state dir.
 *
 * Bump nothing here without changing both sides: both include this file.
 */
#ifndef SMITHERS_WORKER_CTL_H
#define SMITHERS_WORKER_CTL_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The fds the worker finds open when it starts; it passes the first two on
 * to the agent (SMITHERS_FD and SMITHERS_ACK_FD), unless started with an
 * adapter (--claude, --codex): then it keeps them and speaks the protocol
 * itself. */
#define WRK_FD_UP 3   /* agent -> supervisor frames */
#define WRK_FD_DOWN 4 /* supervisor -> agent acks */
#define WRK_FD_CTL 5  /* control socket: lines up, next attempts down */

/* The signal mask the worker starts with is not its own: the supervisor
 * starts it with every signal blocked (no handler of the supervisor's can
 * run between its vfork and its exec), and the worker sets its whole mask
 * itself, first thing; its agent starts with none blocked. */

/* The program's name: recovery looks for processes of this name. */
#define WRK_PROGRAM "smithers-worker"

/*
 * Stopping. The supervisor signals the worker, never the agent:
 *  - SIGTERM: stop_signal to the agent's group, SIGKILL after
 *    stop_grace_ms;
 *  - SIGINT (a budget ran out: let the agent end its turn, as Ctrl-C
 *    would): SIGINT to the agent's group, stop_signal after stop_grace_ms,
 *    SIGKILL after stop_grace_ms more; a SIGTERM meanwhile goes straight
 *    to the stop_signal step;
 *  - SIGUSR2 or SIGHUP (the supervisor died): SIGKILL at once.
 * With --cgroup, every signal of a stop goes to each process of the agent's
 * cgroup as well as to its group, and each SIGKILL kills the whole cgroup
 * (cgroup.kill): a setsid daemon of the agent goes with it.
 */

/* The most --cgroup-v1 directories one worker is given: memory, pids, cpu
 * (and one to spare). */
#define WRK_CGROUP_V1_MAX 4

/* The CLI the worker speaks the protocol for, from its output (the
 * parsers of worker/adapter.h); NONE: the agent speaks it itself. */
enum wrk_adapter {
	WRK_ADAPTER_NONE = 0,
	WRK_ADAPTER_CLAUDE, /* --claude: `claude -p --output-format stream-json
			       --verbose` */
	WRK_ADAPTER_CODEX,  /* --codex: `codex exec --json` */
};

/* What the worker is told on its command line. */
struct wrk_ctl_args {
	/* The agent's log: STATE_DIR/logs/agents/EXECUTION/NAME.log. Also
	 * the marker: a worker whose log is under a state dir is that state
	 * dir's (wrk_ctl_worker_of). */
	const char *log;
	int64_t log_max; /* rotate past this many bytes; 0: never */
	int log_keep;	 /* rotated files kept */
	int stop_signal;
	int64_t stop_grace_ms;
	const char *cwd; /* NULL: stay where started */
	pid_t parent;	 /* the supervisor; 0: unknown */
	/* The agent is a CLI whose output the worker parses (not NONE):
	 * it speaks for it on fds 3 and 4, which the agent does not get
	 * (nor SMITHERS_FD and SMITHERS_ACK_FD in its environment). */
	enum wrk_adapter adapter;
	int64_t line_max;  /* adapter: longest stdout line; 0: 64 MiB */
	int64_t frame_max; /* adapter: largest frame body; 0: 1 MiB */
	/* The agent's cgroup v2 directory, entered before exec and killed
	 * whole when the agent ends or is stopped; NULL: its process group
	 * only. The supervisor made it, and removes it after "done". */
	const char *cgroup;
	/* On a hybrid host, the agent's directories in the v1 hierarchies
	 * that hold the limits (memory, pids, cpu): entered before exec,
	 * never signalled (the v2 one has every process). */
	const char *cgroup_v1[WRK_CGROUP_V1_MAX];
	int ncgroup_v1;
	int64_t crash_rotation; /* the rotation that crashes: builds with
				   --enable-failpoints only; 0 */
	/* --await: when the agent ended, say "ended STATUS" (not "done")
	 * and wait on fd 5 for the next attempt (wrk_ctl_send_next) or for
	 * its end (then exit as the agent did). */
	int await;
	char **command;		/* the agent's argv, NULL-terminated */
};

/* The defaults of a worker started without the flags. */
void wrk_ctl_args_init(struct wrk_ctl_args *a);

/* The argv to exec WORKER with A (borrowed); NULL-terminated, owned by the
 * caller (wrk_ctl_argv_free). NULL with errno ENOMEM. */
char **wrk_ctl_argv(const char *worker, const struct wrk_ctl_args *a);
void wrk_ctl_argv_free(char **argv);

/* Parse the worker's ARGC/ARGV into A (its strings borrowed from ARGV).
 * Returns 1 when --help was asked, 0 when A is complete, -1 with a message
 * in ERR (ERRLEN bytes) when the command line is wrong. */
int wrk_ctl_parse(int argc, char **argv, struct wrk_ctl_args *a, char *err,
		  size_t errlen);
/* One line per flag, for the worker's --help. */
extern const char wrk_ctl_usage[];

/* Lines on the control socket, worker -> supervisor. Anything else the
 * worker says there is a complaint, logged by the supervisor. */
enum wrk_ctl_line {
	WRK_CTL_AGENT,	   /* "agent PID": the agent was started */
	WRK_CTL_DONE,	   /* "done": the agent's group (and cgroup) is
			      gone */
	WRK_CTL_ENDED,	   /* "ended STATUS": "done", by a worker started
			      with --await, which waits for the next
			      attempt; STATUS is the agent's wait status */
	WRK_CTL_TRANSIENT, /* "transient": the failed start may pass */
	WRK_CTL_OTHER,	   /* a complaint, for the log */
};
/* Format the line KIND (VALUE: the pid for WRK_CTL_AGENT, the status for
 * WRK_CTL_ENDED) with its newline into BUF; its length. */
size_t wrk_ctl_format(char *buf, size_t len, enum wrk_ctl_line kind,
		      long value);
/* What LINE (without its newline) is; *VALUE for WRK_CTL_AGENT (a pid)
 * and WRK_CTL_ENDED (a wait status). */
enum wrk_ctl_line wrk_ctl_parse_line(const char *line, long *value);

/*
 * The next attempt, supervisor -> worker, on fd 5 (a unix stream socket),
 * to a worker started with --await once it said "ended": the worker's whole
 * command line (as wrk_ctl_argv makes it, the worker's path first), the
 * environment the agent gets, and the ends of the attempt's protocol pipes
 * (fds 3 and 4 to be), passed along (SCM_RIGHTS). The worker then runs the
 * attempt as if it had just been exec'd with them: a restart costs no
 * process of ours. The message is a header (magic, argument and
 * environment counts, the strings' length), then the strings, each ended
 * by a NUL.
 *
 * The supervisor never sends the next attempt to a worker it sent a stop
 * (a signal) during the last one: that stop may still be pending, and
 * would reach the next attempt. It lets that worker go and starts a new
 * one.
 */
#define WRK_CTL_NEXT_MAGIC 0x534d4e58u /* 'SMNX' as a number */
#define WRK_CTL_NEXT_MAX (1024 * 1024) /* the strings' bytes, at most */

struct wrk_ctl_next {
	int argc;
	char **argv; /* NULL-terminated, like ENV; both point into MEM */
	char **env;
	int up, down; /* close-on-exec; -1: none */
	int ctl;      /* a spawn's control socket (fd 5 to be); -1: none */
	void *mem;
};

/* Send the next attempt (ARGV, ENV, UP, DOWN; all borrowed) on FD, whole,
 * without blocking: 0, or -1 with errno (EAGAIN: the socket's buffer
 * cannot take it now, E2BIG: past WRK_CTL_NEXT_MAX). A part may have been
 * sent: after a failure the socket is of no more use. */
int wrk_ctl_send_next(int fd, char *const *argv, char *const *env, int up,
		      int down);
/* Read the next attempt from FD (blocking) into *N: 1, or 0 at the
 * socket's end (the supervisor let the worker go), or -1 with errno
 * (EPROTO: not a whole message of ours). Free it with wrk_ctl_next_free. */
int wrk_ctl_recv_next(int fd, struct wrk_ctl_next *n);
/* The memory and the fds still held by N. */
void wrk_ctl_next_free(struct wrk_ctl_next *n);

/*
 * The zygote: a worker started as `smithers-worker --zygote DIR PARENT`
 * (DIR: the state dir's logs/agents/, the marker; PARENT: the supervisor)
 * with a control socket at fd 5 and nothing at fds 3 and 4. It starts no
 * agent: for each spawn read on fd 5 it forks a worker, a child of the
 * supervisor (CLONE_PARENT), which runs the spawn's command line and
 * environment as if it had been exec'd with them, its pipes and its own
 * control socket at fds 3, 4 and 5. A start of many agents then costs no
 * exec of ours but the zygote's. Before each fork the zygote takes the
 * supervisor's resource limits (but RLIMIT_NOFILE, which the supervisor
 * raised for itself alone). It answers each spawn with one line on fd 5:
 * "worker PID", "failed ERRNO" (its fork failed), or a complaint (the
 * supervisor then execs its workers itself), and exits 0 at the socket's end
 * (or 127 after a message that is not ours, said first), or when the
 * supervisor dies. A spawn is the next attempt's message (magic
 * WRK_CTL_SPAWN_MAGIC) with a third fd, the worker's control socket.
 */
#define WRK_CTL_SPAWN_MAGIC 0x534d5a53u /* 'SMZS' */
#define WRK_CTL_ZYGOTE "--zygote" /* its first argument */
/* Send a spawn on FD, blocking until it is sent whole: 0, or -1 with
 * errno (E2BIG: past WRK_CTL_NEXT_MAX, nothing sent). */
int wrk_ctl_send_spawn(int fd, char *const *argv, char *const *env, int up,
		       int down, int ctl);
/* As wrk_ctl_recv_next, for a spawn (N->ctl set). */
int wrk_ctl_recv_spawn(int fd, struct wrk_ctl_next *n);
/* Format the zygote's answer into BUF: "worker PID\n" for PID > 0, else
 * "failed ERR\n" (the fork's errno); its length. What LINE (without its
 * newline) says: the pid, or -1 with *ERR the errno of a failed fork, or 0
 * for anything else (a complaint). */
size_t wrk_ctl_format_spawned(char *buf, size_t len, pid_t pid, int err);
pid_t wrk_ctl_parse_spawned(const char *line, int *err);

/* Whether a start that failed with ERR may succeed later: short of
 * processes, memory or fds. The worker says "transient", the supervisor
 * retries whatever the restart policy. */
static inline int wrk_transient_errno(int err)
{
	return err == EAGAIN || err == ENOMEM || err == EMFILE || err == ENFILE;
}

/*
 * The marker: CMDLINE (LEN bytes of /proc/PID/cmdline: arguments each ended
 * by a NUL, and a NUL at CMDLINE[LEN]) is a smithers-worker whose log is
 * under STATE_DIR/logs/agents/, or a zygote of that dir, or a worker it
 * forked (which has its command line). Returns that log or dir (pointing
 * into CMDLINE) or NULL.
 */
const char *wrk_ctl_worker_of(const char *cmdline, size_t len,
			      const char *state_dir);

#endif /* SMITHERS_WORKER_CTL_H */
