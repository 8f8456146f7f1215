/*
 * zygote.c - the worker processes: forked by the zygote (worker/ctl.h), or
 * exec'd here; and the ones let go, which the run waits for.
 *
 * The zygote is started at the first worker a run needs. Sent each new
 * worker's command line, environment and fds, it answers with the worker's
 * pid: the worker is our child (CLONE_PARENT), reaped and signalled as one
 * we exec'd. The wait for the answer blocks the loop, as the vfork of an
 * exec'd worker did, for less: a fork of a small process, not an exec; the
 * workers share the zygote's pages. A zygote that cannot be started, dies,
 * or answers anything but a pid or a failed fork's errno is let go, and
 * the run's workers are exec'd from then on: the zygote makes a start
 * cheaper, never possible. The zygote takes our resource limits (but
 * RLIMIT_NOFILE) before each fork, as an exec'd worker would have them.
 *
 * An exec'd worker is started by vfork(2): the supervisor's memory is not
 * copied, and the child, which runs on that memory until it execs, does as
 * little as it can: its own process group (so the terminal's ^C is for the
 * supervisor alone), the fds placed, the open files limit lowered. Every
 * signal is blocked around the vfork and stays blocked through the exec,
 * so that no handler of the supervisor ever runs in the child; the exec
 * sets the handlers back to the default, and the worker sets its own mask
 * (worker/ctl.h). Everything else (argv, environment) is built before.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "supervisor/slog.h"
#include "supervisor/sup-int.h"
#include "supervisor/supervisor.h"
#include "worker/ctl.h"

#if defined(__SANITIZE_ADDRESS__)
#define SUP_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SUP_SANITIZED 1
#endif
#endif
#ifndef SUP_SANITIZED
#define SUP_SANITIZED 0
#endif

/* Move FD to TARGET in a child about to exec (clearing close-on-exec). */
static int place_fd(int fd, int target)
{
	if (fd == target)
		return fcntl(fd, F_SETFD, 0);
	return dup2(fd, target) < 0 ? -1 : 0;
}

/* In the vforked child, every signal blocked (and left so: the worker
 * sets its mask): the ends placed at the contract's fds (-1: none), the
 * open files limit back to NOFILE, and exec. Nothing here writes the
 * parent's memory but errno. */
static void exec_worker(char **argv, char **env, const int ends[3],
			const struct rlimit *nofile)
{
	static const int at[3] = {WRK_FD_UP, WRK_FD_DOWN, WRK_FD_CTL};
	int hi[3], low = 0;

	/* Our own group: the terminal's ^C is for the supervisor. */
	setpgid(0, 0);
	/* Ends above the contract's fds go straight to their places; moving
	 * them out of the way first would take fds that a supervisor at its
	 * RLIMIT_NOFILE does not have. */
	for (int i = 0; i < 3; i++)
		if (ends[i] >= 0 && ends[i] <= WRK_FD_CTL)
			low = 1;
	for (int i = 0; i < 3; i++)
		hi[i] = ends[i] < 0 || !low
				? ends[i]
				: fcntl(ends[i], F_DUPFD_CLOEXEC, 10);
	for (int i = 0; i < 3; i++)
		if (ends[i] >= 0 && (hi[i] < 0 || place_fd(hi[i], at[i]) < 0))
			_exit(127);
	setrlimit(RLIMIT_NOFILE, nofile);
	execve(argv[0], argv, env);
	_exit(127);
}

/* Exec a worker (zygote.c's header; -1 for an end: none). Its pid, or -1
 * with errno. An ASan build forks: its runtime is not made to run in a
 * vforked child. */
static pid_t start_worker(char **argv, char **env, int up, int down, int ctl,
		   const struct rlimit *nofile)
{
	const int ends[3] = {up, down, ctl};
	sigset_t all, old;
	pid_t pid;
	int err;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
#if SUP_SANITIZED
	pid = fork();
#else
	pid = vfork();
#endif
	if (pid == 0)
		exec_worker(argv, env, ends, nofile);
	err = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = err;
	return pid;
}

void keep_released(struct run *r, pid_t pid)
{
	if (r->released.n == r->released.cap) {
		size_t cap = r->released.cap ? 2 * r->released.cap : 16;
		pid_t *v = realloc(r->released.v, cap * sizeof(*v));

		if (!v) {
			sup_log(SUP_ERROR, "out of memory");
			abort();
		}
		r->released.v = v;
		r->released.cap = cap;
	}
	r->released.v[r->released.n++] = pid;
}

int forget_released(struct run *r, pid_t pid)
{
	for (size_t i = 0; i < r->released.n; i++)
		if (r->released.v[i] == pid) {
			r->released.v[i] = r->released.v[--r->released.n];
			return 1;
		}
	return 0;
}

/* Let the zygote go, for WHY (NULL: the run ended): its socket closed, it
 * exits, and is reaped as a released worker (unless REAPED already). */
static void zygote_drop(struct run *r, const char *why, int reaped)
{
	if (why)
		sup_log(SUP_WARN,
			"the zygote (pid %ld) %s; workers are exec'd from "
			"now on",
			(long)r->zygote.pid, why);
	if (r->zygote.pid > 0) {
		close(r->zygote.fd);
		if (!reaped)
			keep_released(r, r->zygote.pid);
	}
	r->zygote.pid = 0;
	r->zygote.off = 1;
}

static int zygote_start(struct run *r)
{
	char *dir = xasprintf("%s/logs/agents/", r->state_dir);
	char *parent = xasprintf("%ld", (long)getpid());
	char *argv[] = {(char *)r->opt->worker, WRK_CTL_ZYGOTE, dir, parent,
			NULL};
	extern char **environ;
	int sv[2];
	pid_t pid = -1;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0) {
		pid = start_worker(argv, environ, -1, -1, sv[1], &r->nofile);
		close(sv[1]);
		if (pid < 0)
			close(sv[0]);
	}
	if (pid < 0) {
		sup_log(SUP_WARN,
			"cannot start the zygote (%s); workers are exec'd",
			strerror(errno));
		r->zygote.off = 1;
	} else {
		setpgid(pid, pid);
		r->zygote.pid = pid;
		r->zygote.fd = sv[0];
	}
	free(dir);
	free(parent);
	return pid < 0 ? -1 : 0;
}

/* The zygote's answer, one line: the worker's pid; or -1 with errno, the
 * fork's; or -2 (the zygote is dropped). */
static pid_t answer(struct run *r)
{
	char line[256];
	size_t len = 0;
	pid_t pid;
	int err;

	for (;;) {
		ssize_t n = read(r->zygote.fd, line + len,
				 sizeof(line) - 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			zygote_drop(r, n ? "cannot be read" : "is gone", 0);
			return -2;
		}
		len += (size_t)n;
		if (line[len - 1] == '\n' || len == sizeof(line) - 1)
			break;
	}
	line[len] = '\0';
	line[strcspn(line, "\n")] = '\0';
	pid = wrk_ctl_parse_spawned(line, &err);
	if (pid < 0 && err > 0) {
		errno = err;
		return -1;
	}
	if (pid < 0) {
		char *why = xasprintf("said '%s'", line);

		zygote_drop(r, why, 0);
		free(why);
		return -2;
	}
	return pid;
}

/* A worker from the zygote: its pid, -1 with errno (its fork failed), or
 * -2: no zygote (now). */
static pid_t zygote_spawn(struct run *r, char **argv, char **env, int up,
			  int down, int ctl)
{
	if (r->zygote.off || (!r->zygote.pid && zygote_start(r) < 0))
		return -2;
	if (wrk_ctl_send_spawn(r->zygote.fd, argv, env, up, down, ctl) < 0) {
		/* Past the most a message holds, nothing was sent: this
		 * worker is exec'd, the zygote stays. Else the zygote is gone
		 * (EPIPE), or a part may have gone: it is of no more use. */
		if (errno != E2BIG) {
			char *why = xasprintf("cannot be sent a spawn (%s)",
					      strerror(errno));

			zygote_drop(r, why, 0);
			free(why);
		}
		return -2;
	}
	return answer(r);
}

pid_t new_process(struct run *r, char **argv, char **env, int up, int down,
		  int ctl)
{
	pid_t pid = zygote_spawn(r, argv, env, up, down, ctl);

	if (pid == -2)
		pid = start_worker(argv, env, up, down, ctl, &r->nofile);
	return pid;
}

int zygote_reaped(struct run *r, pid_t pid)
{
	if (r->zygote.pid <= 0 || pid != r->zygote.pid)
		return 0;
	zygote_drop(r, "died", 1);
	return 1;
}

void zygote_stop(struct run *r)
{
	if (r->zygote.pid > 0)
		zygote_drop(r, NULL, 0);
	r->zygote.off = 1;
}
