/*
 * proc.c - processes of an earlier supervisor, from /proc (proc.h). The
 * stat line itself is read by common/procstat.c.
 *
 * Why a recorded group may be killed even when its leader is gone: the
 * kernel does not hand out a pid while it is still the id of a process
 * group with members, so a live group whose id is the recorded leader's
 * pid is that leader's group (the grandchildren it left behind). A leader
 * that is alive is trusted only when its start time is the recorded one.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "supervisor/proc.h"

int64_t sup_proc_start(pid_t pid)
{
	struct cm_proc_stat f;

	if (pid <= 0 || cm_proc_stat(pid, &f) < 0 || f.state == 'Z' ||
	    f.state == 'X')
		return -1;
	return f.start;
}

int sup_proc_each(int (*fn)(pid_t pid, const struct cm_proc_stat *st,
			    void *arg),
		  void *arg)
{
	struct cm_proc_stat f;
	struct dirent *de;
	DIR *d = opendir("/proc");
	int rc = 0;

	if (!d)
		return -1;
	while (!rc && (de = readdir(d))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);

		if (*end || pid <= 0 || cm_proc_stat((pid_t)pid, &f) < 0 ||
		    f.state == 'Z' || f.state == 'X')
			continue;
		rc = fn((pid_t)pid, &f, arg);
	}
	closedir(d);
	return rc;
}

ssize_t sup_proc_cmdline(pid_t pid, char *buf, size_t size)
{
	char path[64];
	size_t got = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/cmdline", (long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	while (got < size) {
		n = read(fd, buf + got, size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	return (ssize_t)got;
}

void sup_boot_id(char out[37])
{
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");

	out[0] = '\0';
	if (!f)
		return;
	if (!fgets(out, 37, f))
		out[0] = '\0';
	out[strcspn(out, "\n")] = '\0';
	fclose(f);
}

int sup_proc_kill_group(pid_t pid, int64_t start)
{
	int64_t now;

	if (pid <= 1 || start <= 0)
		return 0;
	now = sup_proc_start(pid);
	if (now >= 0 && now != start)
		return 0; /* the pid is somebody else's now */
	if (now < 0 && kill(-pid, 0) < 0)
		return 0; /* neither the leader nor its group is left */
	kill(-pid, SIGKILL);
	if (now >= 0)
		kill(pid, SIGKILL); /* should it have left its group */
	return 1;
}

static int in_group(pid_t pid, const struct cm_proc_stat *st, void *arg)
{
	(void)pid;
	return st->pgrp == *(pid_t *)arg;
}

/* Whether some process of group PGID is alive (not a zombie). */
static int group_alive(pid_t pgid)
{
	if (kill(-pgid, 0) < 0 && errno == ESRCH)
		return 0;
	/* If /proc cannot be read, it may be. */
	return sup_proc_each(in_group, &pgid) != 0;
}

int sup_proc_wait_group(pid_t pgid, int timeout_ms)
{
	struct timespec pause = {0, 10 * 1000 * 1000};

	for (int waited = 0;; waited += 10) {
		if (!group_alive(pgid))
			return 0;
		if (waited >= timeout_ms)
			return -1;
		nanosleep(&pause, NULL);
	}
}
