/*
 * zygote.c - smithers-worker --zygote DIR PARENT: the process the
 * supervisor's workers are forked from (the contract is in worker/ctl.h).
 *
 * Exec'ing a worker costs a new address space, the binary's pages faulted
 * in again and the C library's start (which asks the processor what it
 * is), for each agent; on a virtual machine whose page tables are the
 * hypervisor's, more than the fork. The zygote pays that once: it reads
 * spawns on fd 5 and forks each worker from itself, a small process whose
 * pages are already there.
 *
 * The fork is a raw clone(CLONE_PARENT): the worker is the supervisor's
 * child, as an exec'd one is, so the supervisor reaps it, its parent-death
 * signal is about the supervisor, and the zygote never waits for anything.
 * The child then is the worker main() would have been after an exec: its
 * own process group, the spawn's pipes and control socket at fds 3, 4 and
 * 5 (the zygote's socket goes), the spawn's environment; the signal mask,
 * the ignored signals, the limits and the directory are the supervisor's
 * as the zygote got them from it, which an exec would have kept too.
 *
 * The zygote is single-threaded and holds no lock when it forks, so the
 * child may use the C library as after fork(); since glibc 2.34 raise() asks
 * the kernel for the thread id, which the raw clone did not update.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/io.h"
#include "worker/ctl.h"
#include "worker/worker-int.h"

/* The spawn's ends to fds 3, 4 and 5 (not close-on-exec), the copies it
 * came with closed: 0, or -1. They may have come at 3 or 4 themselves, so
 * all go out of the way first. */
static int place_spawn(struct wrk_ctl_next *n)
{
	int *from[3] = {&n->up, &n->down, &n->ctl};
	const int to[3] = {WRK_FD_UP, WRK_FD_DOWN, WRK_FD_CTL};
	int hi[3] = {-1, -1, -1}, rc = 0;

	for (int i = 0; i < 3; i++) {
		hi[i] = fcntl(*from[i], F_DUPFD_CLOEXEC, 10);
		if (hi[i] < 0)
			rc = -1;
		close(*from[i]);
		*from[i] = -1;
	}
	for (int i = 0; i < 3 && rc == 0; i++)
		if (dup2(hi[i], to[i]) < 0)
			rc = -1;
	for (int i = 0; i < 3; i++)
		if (hi[i] >= 0)
			close(hi[i]);
	return rc;
}

/* The supervisor's resource limits, where ours differ, as a worker it
 * exec'd now would have them; but RLIMIT_NOFILE, which it raised for
 * itself alone (ours is the one its workers get). A limit we cannot take
 * (a hard one raised again) stays as it is. */
static void follow_limits(pid_t parent)
{
	for (int res = 0; res < RLIM_NLIMITS; res++) {
		struct rlimit want, have;

		if (res == RLIMIT_NOFILE ||
		    prlimit(parent, (enum __rlimit_resource)res, NULL,
			    &want) < 0 ||
		    getrlimit((enum __rlimit_resource)res, &have) < 0)
			continue;
		if (want.rlim_cur != have.rlim_cur ||
		    want.rlim_max != have.rlim_max)
			setrlimit((enum __rlimit_resource)res, &want);
	}
}

static void usage(void)
{
	fputs("usage: smithers-worker --zygote DIR PARENT\n"
	      "Started by the smithers supervisor with its control socket at "
	      "fd 5;\nnot meant to be run by hand.\n",
	      stderr);
	exit(2);
}

void zygote(int argc, char **argv, struct wrk_ctl_next *out)
{
	char line[64], *end;
	long parent;

	if (argc != 4)
		usage();
	errno = 0;
	parent = strtol(argv[3], &end, 10);
	if (errno || *end || parent <= 0 || fcntl(CTL_FD, F_GETFD) < 0)
		usage();
	fcntl(CTL_FD, F_SETFD, FD_CLOEXEC);
	/* Nothing of ours outlives the supervisor; a worker forked from us
	 * is not affected (the signal is cleared in a child). */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != (pid_t)parent)
		exit(127);
	for (;;) {
		struct wrk_ctl_next n;
		int rc = wrk_ctl_recv_spawn(CTL_FD, &n);
		long pid;

		if (rc == 0)
			exit(0);
		if (rc < 0) {
			say("cannot read a spawn: %s", strerror(errno));
			exit(127);
		}
		follow_limits((pid_t)parent);
		pid = syscall(SYS_clone, CLONE_PARENT | SIGCHLD, NULL, NULL,
			      NULL, NULL);
		if (pid == 0) {
			setpgid(0, 0);
			/* Fd 5 may still be the zygote's: not a word there. */
			if (place_spawn(&n) < 0)
				_exit(127);
			*out = n;
			return;
		}
		if (cm_write_all(CTL_FD, line,
				 wrk_ctl_format_spawned(line, sizeof(line),
							(pid_t)pid,
							errno)) < 0)
			exit(0); /* the supervisor is gone */
		wrk_ctl_next_free(&n);
	}
}
