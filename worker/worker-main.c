/*
 * worker-main.c - smithers-worker: the small process that stands between
 * the supervisor and one agent.
 *
 * The contract with the supervisor (fds, flags, control lines) is
 * worker/ctl.h. The supervisor forks, puts the agent's protocol pipes at
 * fds 3 (up) and 4 (down) and the worker's control socket at fd 5, and
 * execs us right away, so we inherit none of its memory. We then:
 *  - ask the kernel for SIGUSR2 when the supervisor dies (PR_SET_PDEATHSIG),
 *    checking getppid() after, for the race where it died first;
 *  - start the agent command in a new process group (and, with --cgroup,
 *    in the agent's cgroup v2 directory, born in it by clone3 where the
 *    kernel can, and each --cgroup-v1 one, entered by the child before it
 *    execs, so that no process of the agent ever runs outside them), its
 *    stdin /dev/null,
 *    its stdout and stderr into a pipe of ours, fds 3 and 4 passed on
 *    (with an adapter, --claude or --codex: kept, the agent gets neither,
 *    nor SMITHERS_FD and SMITHERS_ACK_FD in its environment);
 *  - announce "agent PID\n" on fd 5, then keep the agent's output in the log
 *    file, rotated by size at line boundaries (LOG, LOG.1 ... LOG.KEEP);
 *  - with an adapter, the agent is a CLI printing JSON lines (a Claude
 *    Code CLI's stream-json, `codex exec --json`): its output also goes
 *    to the adapter's parser (worker/adapter.h), whose frames we
 *    write to fd 3 without blocking, while reading fd 4 (acks, and errors
 *    told on stderr) so that the supervisor never blocks on us. Past
 *    UP_HIGH bytes of frames unsent we stop reading the agent's output: it
 *    blocks on its writes, as it would on a full disk, while signals and
 *    fd 4 are still served. When it ended, the frames left go out (for
 *    FLUSH_MS at most, or until the supervisor closed fd 3) before "done";
 *  - on SIGTERM (the supervisor stopping the agent): the stop signal to the
 *    agent's group, then SIGKILL after the grace period;
 *  - on SIGINT (the supervisor stopping it gently, a budget spent): SIGINT
 *    to the agent's group, the stop signal after the grace period, SIGKILL
 *    after another (a SIGTERM meanwhile skips to the stop signal);
 *  - on SIGUSR2 or SIGHUP (the supervisor died): SIGKILL to the agent's
 *    group at once;
 *  - when the agent ends: SIGKILL to whatever is left of its group (before
 *    reaping it, so its pid cannot be recycled meanwhile), "done\n" on fd 5,
 *    and exit with the agent's status: its exit code, or death by the same
 *    signal;
 *  - with --await, instead: "ended STATUS\n" on fd 5 (a socket then), and
 *    wait there for the supervisor's next attempt (ctl.h), its command
 *    line, environment and protocol pipes, which we run as if just
 *    exec'd with them; at the socket's end (or a stop, or the supervisor's
 *    death) exit as the agent did.
 * With --cgroup, "the agent's group" above is its cgroup: a stop signal goes
 * to every process in it (a setsid daemon too, so that it may clean up), once
 * each (not to the group as well: a second SIGINT is no gentle stop); each
 * SIGKILL goes to the group and kills the cgroup (cgroup.kill), and "done"
 * waits until the cgroup is empty (CG_EMPTY_MS at most; past it, a
 * complaint on fd 5 first). The --cgroup-v1 directories are only entered:
 * the v2 one holds every process of the agent, and the supervisor removes
 * them all after "done".
 *
 * Exit status of the worker itself when it cannot start the agent: 127 (as
 * a shell for a command not found), with the reason on fd 5 and stderr
 * ("cannot enter cgroup 'DIR': ..." when the child could not join one,
 * "cannot run 'COMMAND' in 'DIR': ..." when it could not exec);
 * then "transient\n" on fd 5 when the start may succeed later (no fork or
 * pipe for want of processes, memory or fds), so that the supervisor tries
 * again whatever the agent's restart policy.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/sched.h>

#include "common/cgroup.h"
#include "common/clock.h"
#include "common/io.h"
#include "worker/adapter.h"
#include "worker/ctl.h"
#include "worker/proto.h"
#include "worker/worker-int.h"


void say(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	/* Best effort: the supervisor logs what arrives on fd 5. */
	if (write(CTL_FD, buf, (size_t)n) < 0) {
		/* nothing more to do */
	}
	if (write(STDERR_FILENO, "smithers-worker: ", 17) < 0 ||
	    write(STDERR_FILENO, buf, (size_t)n) < 0) {
		/* nothing more to do */
	}
}

/* After the complaint about a failed start: "transient" on fd 5 if ERR may
 * pass. */
static void say_transient(int err)
{
	char line[16];
	size_t n;

	if (!wrk_transient_errno(err))
		return;
	n = wrk_ctl_format(line, sizeof(line), WRK_CTL_TRANSIENT, 0);
	if (write(CTL_FD, line, n) < 0) {
		/* the supervisor is gone */
	}
}

/* What the agent's child tells the parent on its error pipe when it could
 * not exec: which cgroup it failed to enter (0: --cgroup, 1 + I:
 * --cgroup-v1 I) or -1 (a redirection, the chdir or the exec), and the
 * errno. */
struct start_error {
	int cgroup;
	int err;
};

/* What the agent's child needs, set up by the parent before the clone: the
 * child of a vfork-style clone shares our memory, so it changes none of
 * it. */
struct agent_child {
	const struct worker *wk;
	int born_in; /* clone3 put it in its v2 cgroup */
	int out_fd, err_pipe;
	char **argv, **envp;
};

/* The agent's child side of the clone: never returns. Async-signal-safe
 * calls only until the exec, and no write to memory but its own stack's:
 * with CLONE_VM it runs in ours. Not instrumented by AddressSanitizer,
 * whose bookkeeping of a stack it does not know (the vfork child's) would
 * be ours. */
__attribute__((no_sanitize_address)) static void
exec_agent(const struct agent_child *c)
{
	const struct worker *wk = c->wk;
	struct start_error e = {.cgroup = -1};
	sigset_t none;
	int null_fd;

	/* The cgroups first: every process the agent starts is born in
	 * them (the v2 one it was born in, when clone3 could). */
	if (wk->cgroup && !c->born_in && cm_cg_enter(wk->cgroup) < 0) {
		e.cgroup = 0;
		goto fail;
	}
	for (int i = 0; i < wk->ncgroup_v1; i++)
		if (cm_cg_enter(wk->cgroup_v1[i]) < 0) {
			e.cgroup = 1 + i;
			goto fail;
		}
	setpgid(0, 0);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* The exec sets caught signals back to the default; of the ignored
	 * ones, which it keeps, we have SIGPIPE only (main). Our signal
	 * dispositions are the child's own (no CLONE_SIGHAND). */
	signal(SIGPIPE, SIG_DFL);
	null_fd = open("/dev/null", O_RDONLY);
	if (null_fd < 0 || dup2(null_fd, STDIN_FILENO) < 0 ||
	    dup2(c->out_fd, STDOUT_FILENO) < 0 ||
	    dup2(c->out_fd, STDERR_FILENO) < 0)
		goto fail;
	close(CTL_FD); /* the agent does not talk to us */
	if (wk->cwd && chdir(wk->cwd) < 0)
		goto fail;
	/* PATH searched in our environment, as execvp does. */
	execvpe(c->argv[0], c->argv, c->envp);
fail:
	e.err = errno;
	if (write(c->err_pipe, &e, sizeof(e)) < 0) {
		/* the parent sees EOF and an unknown failure */
	}
	_exit(127);
}

/* The agent's environment: ours, but with an adapter (fds 3 and 4 are
 * ours then, close-on-exec) without SMITHERS_FD and SMITHERS_ACK_FD: what
 * the CLI runs that speaks the protocol uses the socket instead. NULL
 * when out of memory. */
static char **agent_env(const struct worker *wk)
{
	size_t n = 0, k = 0;
	char **env;

	if (!wk->parser)
		return environ;
	while (environ[n])
		n++;
	env = malloc((n + 1) * sizeof(*env));
	if (!env)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "SMITHERS_FD=", 12) != 0 &&
		    strncmp(environ[i], "SMITHERS_ACK_FD=", 16) != 0)
			env[k++] = environ[i];
	env[k] = NULL;
	return env;
}

#if defined(__x86_64__) && defined(SYS_clone3)
#define HAVE_VFORK_INTO 1
/* The vfork child's stack (it runs no deeper than exec_agent and the
 * libc's execvpe; we wait, so one will do). */
static char child_stack[64 * 1024] __attribute__((aligned(16)));

__attribute__((no_sanitize_address)) static void
vfork_child(const struct agent_child *c)
{
	exec_agent(c);
}

/*
 * clone3(CLONE_VM | CLONE_VFORK), into CGFD (CLONE_INTO_CGROUP) unless -1:
 * the child borrows our address space until its exec, instead of a copy of
 * our page tables made for it and torn down at its exec (on a machine
 * whose page tables go through a hypervisor, most of the cost of a
 * restart). It runs vfork_child(C) on child_stack, never on ours, while
 * we wait in the kernel for its exec or exit. The syscall and the call are
 * one asm block: no C code runs in the child between them (the kernel
 * starts it at the instruction after the syscall, on the new stack).
 * Returns the child's pid, or -1 with errno.
 */
static pid_t vfork_into(int cgfd, struct agent_child *c)
{
	struct clone_args args = {
		.flags = CLONE_VM | CLONE_VFORK,
		.exit_signal = SIGCHLD,
		.stack = (uint64_t)(uintptr_t)child_stack,
		.stack_size = sizeof(child_stack),
	};
	long ret;

	/* Before: the child reads it. */
	c->born_in = cgfd >= 0;
	if (cgfd >= 0) {
		args.flags |= CLONE_INTO_CGROUP;
		args.cgroup = (uint64_t)cgfd;
	}
	/* rcx and r11 are the syscall's; rax, rdi and rsi its number and
	 * arguments; fn and arg survive it in the child (the kernel copies
	 * our registers, whichever the compiler chose for them: none of
	 * those five), and the child calls fn(arg) and never comes back
	 * from it (hlt: a fault if it did). */
	__asm__ volatile("syscall\n\t"
			 "test %%rax, %%rax\n\t"
			 "jnz 1f\n\t"
			 "mov %[arg], %%rdi\n\t"
			 "call *%[fn]\n\t"
			 "hlt\n"
			 "1:"
			 : "=a"(ret)
			 : "0"((long)SYS_clone3), "D"(&args),
			   "S"(sizeof(args)), [fn] "r"(vfork_child),
			   [arg] "r"(c)
			 : "rcx", "r11", "memory");
	if (ret < 0) {
		c->born_in = 0;
		errno = (int)-ret;
		return -1;
	}
	return (pid_t)ret;
}
#endif

#ifdef SMITHERS_FAILPOINTS
/* Test builds only: SMITHERS_SPAWN makes fork_into() take a way this
 * kernel never needs, and say on stderr which way it took: "outside" (the
 * vfork-style clone, the child entering its cgroup itself), "clone3" (a
 * clone3 that copies us), "fork"; any other value, the usual way. */
static int spawn_is(const char *way)
{
	const char *v = getenv("SMITHERS_SPAWN");

	return v && !strcmp(v, way);
}

static void spawn_said(const char *way)
{
	if (getenv("SMITHERS_SPAWN"))
		fprintf(stderr, "smithers-worker: spawned by %s\n", way);
}
#else
#define spawn_is(way) 0
#define spawn_said(way) ((void)0)
#endif

/*
 * Start the agent's child, born in its v2 cgroup where the kernel can
 * (clone3(CLONE_INTO_CGROUP), Linux 5.7): moving a process into a cgroup
 * (a write to cgroup.procs) waits for an RCU grace period, milliseconds
 * at each start. On x86-64 a vfork-style clone3 (vfork_into); where the
 * kernel refuses it, a clone3 that copies us, and else a fork: the child
 * then enters its cgroup itself (exec_agent), saying why if it cannot.
 */
static pid_t fork_into(struct worker *wk, struct agent_child *c)
{
	pid_t pid = -1;
#if defined(SYS_clone3) && defined(CLONE_INTO_CGROUP)
	int fd = wk->cgroup && !spawn_is("outside")
			 ? open(wk->cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
			 : -1;

#ifdef HAVE_VFORK_INTO
	if (!spawn_is("clone3") && !spawn_is("fork")) {
		pid = vfork_into(fd, c);
		if (pid < 0 && fd >= 0)
			pid = vfork_into(-1, c); /* no CLONE_INTO_CGROUP */
		if (pid > 0)
			spawn_said(c->born_in ? "vfork into" : "vfork outside");
	}
#endif
	if (pid < 0 && fd >= 0 && !spawn_is("fork")) {
		struct clone_args args = {
			.flags = CLONE_INTO_CGROUP,
			.exit_signal = SIGCHLD,
			.cgroup = (uint64_t)fd,
		};

		pid = (pid_t)syscall(SYS_clone3, &args, sizeof(args));
		if (pid == 0) {
			c->born_in = 1;
			exec_agent(c);
		}
		if (pid > 0)
			spawn_said("clone3 into");
	}
	if (fd >= 0)
		close(fd);
	if (pid > 0)
		return pid;
#endif
	(void)wk;
	pid = fork();
	if (pid == 0)
		exec_agent(c);
	if (pid > 0)
		spawn_said("fork");
	return pid;
}

static int start_agent(struct worker *wk, char **argv, int *out_fd)
{
	struct agent_child child = {.born_in = 0};
	struct start_error e;
	int out[2], errp[2], err = 0;
	ssize_t n;
	char line[64];

	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
		err = errno;
		say("cannot make a pipe: %s", strerror(err));
		say_transient(err);
		return -1;
	}
	/* A bigger pipe: fewer reads and fewer wakeups of both sides when
	 * the agent writes fast. 64 pages of the user's pipe budget
	 * (fs.pipe-user-pages-soft: 16384); refused, the default stays. */
	(void)fcntl(out[0], F_SETPIPE_SZ, AGENT_PIPE_SIZE);
	child.wk = wk;
	child.out_fd = out[1];
	child.err_pipe = errp[1];
	child.argv = argv;
	child.envp = agent_env(wk);
	if (!child.envp) {
		err = errno;
		wk->agent = -1;
	} else {
		wk->agent = fork_into(wk, &child);
		err = errno;
		if (child.envp != environ)
			free(child.envp);
	}
	if (wk->agent < 0) {
		say("cannot fork the agent: %s", strerror(err));
		say_transient(err);
		close(out[0]);
		close(out[1]);
		close(errp[0]);
		close(errp[1]);
		return -1;
	}
	/* Also from here, so the group exists before we signal it. */
	setpgid(wk->agent, wk->agent);
	if (wk->cgroup) {
		char path[PATH_MAX];

		snprintf(path, sizeof(path), "%s/cgroup.events", wk->cgroup);
		wk->cg_events = open(path, O_RDONLY | O_CLOEXEC);
	}
	close(out[1]);
	close(errp[1]);
	/* The protocol pipes belong to the agent now, or to us with an
	 * adapter (close-on-exec: the agent never had them). */
	if (!wk->parser) {
		close(WRK_FD_UP);
		close(WRK_FD_DOWN);
	}
	do
		n = read(errp[0], &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	close(errp[0]);
	if (n == (ssize_t)sizeof(e)) {
		if (e.cgroup == 0)
			say("cannot enter cgroup '%s': %s", wk->cgroup,
			    strerror(e.err));
		else if (e.cgroup > 0 && e.cgroup <= wk->ncgroup_v1)
			say("cannot enter cgroup '%s': %s",
			    wk->cgroup_v1[e.cgroup - 1], strerror(e.err));
		else
			say("cannot run '%s' in '%s': %s", argv[0],
			    wk->cwd ? wk->cwd : ".", strerror(e.err));
		waitpid(wk->agent, NULL, 0);
		close(out[0]);
		if (wk->cg_events >= 0)
			close(wk->cg_events);
		wk->cg_events = -1;
		return -1;
	}
	if (cm_write_all(CTL_FD, line,
		      wrk_ctl_format(line, sizeof(line), WRK_CTL_AGENT,
				     wk->agent)) < 0) {
		/* the supervisor is gone: SIGUSR2 follows */
	}
	*out_fd = out[0];
	return 0;
}

/* SIG to the agent's processes: its group, or with --cgroup every process
 * of its cgroup (each once: the group's are all in it); SIGKILL to both,
 * the cgroup whole (cgroup.kill), so that nothing escapes by a fork. */
static void signal_agent(struct worker *wk, int sig)
{
	if (sig == SIGKILL || !wk->cgroup ||
	    cm_cg_signal(wk->cgroup, sig, 0) < 0)
		kill(-wk->agent, sig);
	if (sig != SIGKILL || !wk->cgroup)
		return;
	if (cm_cg_kill(wk->cgroup) == 0)
		wk->cg_killed = 1;
	else
		say("cannot kill cgroup '%s': %s", wk->cgroup, strerror(errno));
}

/* The agent ended (a zombie now): kill the rest of its group, reap it. */
static void agent_ended(struct worker *wk)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, (id_t)wk->agent, &si, WEXITED | WNOHANG | WNOWAIT) <
		    0 ||
	    si.si_pid != wk->agent)
		return;
	/* Its cgroup empty (a zombie has left it): nothing in it lives to
	 * fork, so there is nothing to kill or wait for but the group. */
	if (wk->cg_events >= 0 &&
	    cm_cg_pread_key(wk->cg_events, "populated") == 0) {
		kill(-wk->agent, SIGKILL);
		wk->cg_killed = wk->cg_empty = 1;
	} else {
		signal_agent(wk, SIGKILL);
	}
	if (waitpid(wk->agent, &wk->status, 0) == wk->agent)
		wk->ended = 1;
}

static void handle_signal(struct worker *wk, int sig)
{
	switch (sig) {
	case SIGCHLD:
		/* The agent is our only child (its own children are
		 * reparented to the supervisor): never reap it blindly, or its
		 * status would be lost. */
		if (!wk->ended)
			agent_ended(wk);
		break;
	case SIGTERM:
		if (!wk->ended && !wk->kill_at_ms) {
			signal_agent(wk, wk->stop_signal);
			wk->kill_at_ms = cm_mono_ms() + wk->stop_grace_ms;
			wk->term_at_ms = 0;
		}
		break;
	case SIGINT:
		if (!wk->ended && !wk->kill_at_ms && !wk->term_at_ms) {
			signal_agent(wk, SIGINT);
			wk->term_at_ms = cm_mono_ms() + wk->stop_grace_ms;
		}
		break;
	case SIGUSR2: /* the supervisor died */
	case SIGHUP:
		wk->orphaned = 1;
		if (!wk->ended) {
			signal_agent(wk, SIGKILL);
			wk->kill_at_ms = cm_mono_ms();
			wk->term_at_ms = 0;
		}
		break;
	}
}

/* Exit as the agent did. */
__attribute__((noreturn)) static void exit_like(int status)
{
	struct rlimit none = {0, 0};
	int sig;

	if (WIFEXITED(status))
		exit(WEXITSTATUS(status));
	sig = WTERMSIG(status);
	setrlimit(RLIMIT_CORE, &none); /* the agent dumped its own core */
	signal(sig, SIG_DFL);
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, sig);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	raise(sig);
	exit(128 + sig); /* a signal that does not kill (e.g. ignored) */
}

/* The stop timers: the stop signal after a SIGINT's grace, the SIGKILL
 * after the stop signal's. The poll timeout until the next one; -1. */
static int stop_timers(struct worker *wk)
{
	int64_t now = cm_mono_ms(), next = INT64_MAX;

	if (wk->ended)
		return -1;
	if (wk->term_at_ms && !wk->kill_at_ms) {
		if (now >= wk->term_at_ms) {
			signal_agent(wk, wk->stop_signal);
			wk->kill_at_ms = now + wk->stop_grace_ms;
			wk->term_at_ms = 0;
		} else {
			next = wk->term_at_ms;
		}
	}
	if (wk->kill_at_ms && wk->kill_at_ms != INT64_MAX) {
		if (now >= wk->kill_at_ms) {
			signal_agent(wk, SIGKILL);
			wk->kill_at_ms = INT64_MAX;
		} else if (wk->kill_at_ms < next) {
			next = wk->kill_at_ms;
		}
	}
	if (next == INT64_MAX)
		return -1;
	return next - now > INT32_MAX ? INT32_MAX : (int)(next - now);
}

/* Until the agent ended and its output is drained: its output into the log
 * (and with an adapter to its parser, its frames to fd 3, fd 4 read),
 * signals (the supervisor's stop, its death, the agent's end) as they
 * come, the stop signal and SIGKILL of a stop whose grace ran out. */
static void watch(struct worker *wk, int sfd, int out_fd)
{
	struct pollfd pfd[4];
	static char buf[AGENT_PIPE_SIZE];

	pfd[0].fd = sfd;
	pfd[0].events = POLLIN;
	pfd[1].fd = out_fd;
	pfd[1].events = POLLIN;
	pfd[2].events = POLLOUT;
	pfd[3].events = POLLIN;
	/* Run until the agent ended and its output is drained. */
	while (!wk->ended || out_fd >= 0) {
		int timeout = stop_timers(wk);

		/* Back-pressure: the agent's output waits for the frames. */
		pfd[1].fd = wk->up.len > UP_HIGH ? -1 : out_fd;
		pfd[2].fd = wk->up.len > 0 ? wk->up_fd : -1;
		pfd[3].fd = wk->down_fd;
		if (poll(pfd, 4, timeout) < 0) {
			if (errno == EINTR)
				continue;
			say("poll: %s", strerror(errno));
			break;
		}
		if (pfd[0].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == sizeof(si))
				handle_signal(wk, (int)si.ssi_signo);
		}
		if (pfd[3].fd >= 0 && pfd[3].revents)
			read_down(wk);
		if (pfd[1].fd >= 0 && (pfd[1].revents & (POLLIN | POLLHUP))) {
			ssize_t n = read(out_fd, buf, sizeof(buf));

			if (n > 0) {
				log_output(wk, buf, (size_t)n);
				if (wk->parser)
					adapter_feed(wk, buf, (size_t)n);
			} else if (n == 0 || errno != EINTR) {
				close(out_fd);
				out_fd = -1;
			}
		}
		if (wk->up.len > 0)
			flush_up(wk);
		/* Output closed while a grandchild still runs: the agent
		 * has ended; nothing more to log. */
		if (out_fd < 0 && !wk->ended) {
			siginfo_t si;

			memset(&si, 0, sizeof(si));
			if (waitid(P_PID, (id_t)wk->agent, &si,
				   WEXITED | WNOHANG | WNOWAIT) == 0 &&
			    si.si_pid == wk->agent)
				agent_ended(wk);
		}
	}
}

/* Run one attempt of the agent (ARGS) to its end: its wait status, or -1
 * when it could not be started (said on fd 5). */
static int run_attempt(struct worker *wk, const struct wrk_ctl_args *args,
		       int sfd)
{
	int out_fd = -1;

	wk->log_path = args->log;
	wk->log_max = args->log_max;
	wk->log_keep = args->log_keep;
	wk->stop_signal = args->stop_signal;
	wk->stop_grace_ms = args->stop_grace_ms;
	wk->cwd = args->cwd;
	wk->cgroup = args->cgroup;
	wk->cgroup_v1 = args->cgroup_v1;
	wk->ncgroup_v1 = args->ncgroup_v1;
	wk->parent = args->parent;
	wk->line_max = args->line_max;
	wk->frame_max = args->frame_max;
#ifdef SMITHERS_FAILPOINTS
	wk->crash_rotation = args->crash_rotation;
#endif
	if (wk->log_path && open_log(wk) < 0)
		return -1;
	wk->adapter = args->adapter;
	if (wk->adapter != WRK_ADAPTER_NONE)
		adapter_start(wk);
	if (start_agent(wk, args->command, &out_fd) < 0) {
		wrk_parser_free(wk->parser);
		wrk_decoder_free(wk->down);
		if (wk->log_fd >= 0)
			close(wk->log_fd);
		return -1;
	}
	if (wk->parser &&
	    wrk_parser_hello(wk->parser, (int64_t)wk->agent, &wk->up) < 0)
		complain("cannot say hello: %s", strerror(errno));

	watch(wk, sfd, out_fd);
	if (wk->parser)
		adapter_finish(wk, sfd);
	if (wk->log_fd >= 0)
		close(wk->log_fd);
	wk->log_fd = -1;
	if (wk->cg_events >= 0)
		close(wk->cg_events);
	wk->cg_events = -1;
	/* The cgroup was found empty or killed when the agent ended
	 * (cgroup.kill, or every member signalled until none was left:
	 * nothing forks past either); killed here only if that could not be
	 * done (the group is not signalled: the agent was reaped, its pid may
	 * be anyone's). Then its processes take a moment to exit. */
	if (wk->cgroup && !wk->cg_empty) {
		if (!wk->cg_killed && cm_cg_kill(wk->cgroup) < 0)
			say("cannot kill cgroup '%s': %s", wk->cgroup,
			    strerror(errno));
		if (cm_cg_wait_empty(wk->cgroup, CG_EMPTY_MS) < 0)
			say("cgroup '%s' not empty after %d ms: %s", wk->cgroup,
			    CG_EMPTY_MS, strerror(errno));
	}
	return wk->status;
}

/*
 * After "ended" (--await): the next attempt into *N (1), or none (0: the
 * supervisor closed fd 5, died, or a stop came for an agent that is not
 * there), or -1 (said on fd 5). A SIGCHLD left from the last agent is
 * nothing; a stop the supervisor sent that last agent cannot be pending
 * here (ctl.h: it does not reuse such a worker).
 */
static int await_next(int sfd, struct wrk_ctl_next *n)
{
	for (;;) {
		struct pollfd pfd[2] = {
			{.fd = sfd, .events = POLLIN},
			{.fd = CTL_FD, .events = POLLIN},
		};
		struct signalfd_siginfo si;
		int rc;

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			say("poll: %s", strerror(errno));
			return -1;
		}
		if ((pfd[0].revents & POLLIN) &&
		    read(sfd, &si, sizeof(si)) == sizeof(si) &&
		    si.ssi_signo != SIGCHLD)
			return 0;
		if (!pfd[1].revents)
			continue;
		rc = wrk_ctl_recv_next(CTL_FD, n);
		if (rc < 0)
			say("cannot read the next attempt: %s", strerror(errno));
		return rc;
	}
}

/* N's protocol pipes to fds 3 and 4, as at our start (not close-on-exec).
 * 0, or -1 with errno. */
static int place_pipes(struct wrk_ctl_next *n)
{
	int up = fcntl(n->up, F_DUPFD_CLOEXEC, 10);
	int down = fcntl(n->down, F_DUPFD_CLOEXEC, 10);
	int rc = -1;

	if (up >= 0 && down >= 0) {
		close(n->up);
		close(n->down);
		n->up = n->down = -1;
		rc = dup2(up, WRK_FD_UP) < 0 || dup2(down, WRK_FD_DOWN) < 0
			     ? -1
			     : 0;
	}
	if (up >= 0)
		close(up);
	if (down >= 0)
		close(down);
	return rc;
}

/* The attempt the supervisor sent last: its arguments and environment are
 * in use until the next one. */
static struct wrk_ctl_next current = {.up = -1, .down = -1, .ctl = -1};

static int worker_main(int argc, char **argv)
{
	extern char **environ;
	struct wrk_ctl_args args;
	sigset_t mask;
	int sfd, status;
	char buf[64], err[256];
	size_t len;

	switch (wrk_ctl_parse(argc, argv, &args, err, sizeof(err))) {
	case 1:
		fputs(wrk_ctl_usage, stdout);
		return 0;
	case -1:
		fprintf(stderr, "smithers-worker: %s\n%s", err, wrk_ctl_usage);
		return 2;
	}
	if (fcntl(CTL_FD, F_GETFD) < 0 || fcntl(WRK_FD_UP, F_GETFD) < 0 ||
	    fcntl(WRK_FD_DOWN, F_GETFD) < 0) {
		fputs("smithers-worker: fds 3, 4 and 5 must be open (run by "
		      "the smithers supervisor)\n",
		      stderr);
		return 2;
	}
	fcntl(CTL_FD, F_SETFD, FD_CLOEXEC);

	/* Signals arrive through a signalfd, never in a handler. The mask is
	 * set whole: the supervisor starts us with every signal blocked
	 * (ctl.h). */
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGUSR2);
	sigprocmask(SIG_SETMASK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sfd < 0) {
		say("cannot make a signalfd: %s", strerror(errno));
		return 127;
	}
	prctl(PR_SET_PDEATHSIG, SIGUSR2);
	if (args.parent && getppid() != args.parent)
		return 127; /* the supervisor died before we got here */
	/* Signals ignored where we were started are not ignored by the
	 * agents (an exec keeps them ignored), once here rather than at each
	 * attempt's start; SIGPIPE, ours, each child sets back itself. */
	for (int sig = 1; sig < NSIG; sig++) {
		struct sigaction sa;

		if (sigaction(sig, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN)
			signal(sig, SIG_DFL);
	}
	signal(SIGPIPE, SIG_IGN);

	for (;;) {
		struct worker wk = {.log_fd = -1,
				    .up_fd = -1,
				    .down_fd = -1,
				    .cg_events = -1};
		struct wrk_ctl_next next;

		status = run_attempt(&wk, &args, sfd);
		if (status < 0)
			return 127;
		if (!args.await || wk.orphaned)
			break;
		/* Nothing of the agent is left (run_attempt saw its cgroup
		 * empty); we stay for the next attempt, which then costs no
		 * new process. */
		len = wrk_ctl_format(buf, sizeof(buf), WRK_CTL_ENDED, status);
		if (cm_write_all(CTL_FD, buf, len) < 0 ||
		    await_next(sfd, &next) <= 0)
			exit_like(status);
		if (wrk_ctl_parse(next.argc, next.argv, &args, err,
				  sizeof(err)) != 0) {
			say("the next attempt: %s", err);
			wrk_ctl_next_free(&next);
			return 127;
		}
		if (place_pipes(&next) < 0) {
			say("cannot place the next attempt's pipes: %s",
			    strerror(errno));
			wrk_ctl_next_free(&next);
			return 127;
		}
		environ = next.env;
		wrk_ctl_next_free(&current);
		current = next;
	}
	/* Nothing of the agent's group (or cgroup) is left: the supervisor
	 * need not (and must not, its pid may be anyone's now) signal it. */
	len = wrk_ctl_format(buf, sizeof(buf), WRK_CTL_DONE, 0);
	if (cm_write_all(CTL_FD, buf, len) < 0) {
		/* the supervisor is gone */
	}
	exit_like(status);
}

int main(int argc, char **argv)
{
	extern char **environ;

	if (argc > 1 && !strcmp(argv[1], WRK_CTL_ZYGOTE)) {
		zygote(argc, argv, &current);
		environ = current.env;
		return worker_main(current.argc, current.argv);
	}
	return worker_main(argc, argv);
}
