/*
 * cgroup.c - one cgroup directory's files (cgroup.h): cgroup.procs,
 * cgroup.kill, cgroup.freeze, cgroup.events and the "KEY VALUE" counter
 * files, read and written with plain system calls.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/cgroup.h"
#include "common/clock.h"

/* DIR/NAME into BUF; -1 (ENAMETOOLONG) when it does not fit. */
static int join(char *buf, size_t len, const char *dir, const char *name)
{
	size_t d = strlen(dir), n = strlen(name);

	if (d + 1 + n + 1 > len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, dir, d);
	buf[d] = '/';
	memcpy(buf + d + 1, name, n + 1);
	return 0;
}

int cm_cg_write(const char *dir, const char *name, const char *s)
{
	char path[PATH_MAX];
	size_t len = strlen(s);
	ssize_t n;
	int fd, err;

	if (join(path, sizeof(path), dir, name) < 0)
		return -1;
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	do
		n = write(fd, s, len);
	while (n < 0 && errno == EINTR);
	err = n < 0 ? errno : EIO;
	close(fd);
	if (n == (ssize_t)len)
		return 0;
	errno = err;
	return -1;
}

int cm_cg_enter(const char *dir)
{
	return cm_cg_write(dir, "cgroup.procs", "0");
}

/* The whole of the small file FD (at offset 0) into BUF, NUL-ended; its
 * length or -1. */
static ssize_t slurp(int fd, char *buf, size_t len)
{
	size_t got = 0;

	while (got + 1 < len) {
		ssize_t n = pread(fd, buf + got, len - 1 - got, (off_t)got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	return (ssize_t)got;
}

/* The number after KEY at the start of a line of TEXT; -1. */
static int64_t key_of(const char *text, const char *key)
{
	size_t klen = strlen(key);

	for (const char *p = text; *p;) {
		if (!strncmp(p, key, klen) && p[klen] == ' ')
			return strtoll(p + klen + 1, NULL, 10);
		p = strchr(p, '\n');
		if (!p)
			break;
		p++;
	}
	return -1;
}

static int64_t int_of(const char *text)
{
	char *end;
	long long v;

	if (!strncmp(text, "max", 3))
		return INT64_MAX;
	errno = 0;
	v = strtoll(text, &end, 10);
	if (end == text || errno)
		return -1;
	return v;
}

int64_t cm_cg_pread_key(int fd, const char *key)
{
	char buf[4096];

	return slurp(fd, buf, sizeof(buf)) < 0 ? -1 : key_of(buf, key);
}

int64_t cm_cg_pread_int(int fd)
{
	char buf[64];

	return slurp(fd, buf, sizeof(buf)) <= 0 ? -1 : int_of(buf);
}

int64_t cm_cg_read_key(const char *file, const char *key)
{
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	int64_t v;

	if (fd < 0)
		return -1;
	v = cm_cg_pread_key(fd, key);
	close(fd);
	return v;
}

int64_t cm_cg_read_int(const char *file)
{
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	int64_t v;

	if (fd < 0)
		return -1;
	v = cm_cg_pread_int(fd);
	close(fd);
	return v;
}

/* DIR's "KEY VALUE" file NAME's KEY; -1. */
static int64_t dir_key(const char *dir, const char *name, const char *key)
{
	char path[PATH_MAX];

	if (join(path, sizeof(path), dir, name) < 0)
		return -1;
	return cm_cg_read_key(path, key);
}

/* Freeze (1) or thaw (0) DIR; freezing waits up to a second for
 * "frozen 1". */
static int freeze(const char *dir, int on)
{
	if (cm_cg_write(dir, "cgroup.freeze", on ? "1" : "0") < 0)
		return -1;
	for (int i = 0; on && i < 1000; i++) {
		if (dir_key(dir, "cgroup.events", "frozen") == 1)
			return 0;
		cm_sleep_ms(1);
	}
	return 0;
}

/* One pass over DIR/cgroup.procs: SIG to each pid; the count signalled,
 * or -1. */
static int signal_pass(const char *dir, int sig)
{
	char path[PATH_MAX], line[32];
	FILE *f;
	int n = 0;

	if (join(path, sizeof(path), dir, "cgroup.procs") < 0)
		return -1;
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		long pid = strtol(line, NULL, 10);

		if (pid > 0 && kill((pid_t)pid, sig) == 0)
			n++;
	}
	fclose(f);
	return n;
}

int cm_cg_signal(const char *dir, int sig, int freezing)
{
	int frozen = freezing && freeze(dir, 1) == 0;
	int total = 0, n;

	/* Unfrozen, a process may fork between the read and the signal:
	 * passes go on while they find somebody (a few at most). */
	for (int pass = 0; pass < (frozen ? 1 : 8); pass++) {
		n = signal_pass(dir, sig);
		if (n < 0) {
			total = -1;
			break;
		}
		total += n;
		if (!n || sig != SIGKILL)
			break;
	}
	if (frozen) {
		int err = errno;

		freeze(dir, 0);
		errno = err;
	}
	return total;
}

int cm_cg_kill(const char *dir)
{
	if (cm_cg_write(dir, "cgroup.kill", "1") == 0)
		return 0;
	if (errno == ENOENT && access(dir, F_OK) < 0)
		return 0; /* the cgroup is gone */
	if (errno != ENOENT)
		return -1;
	/* A kernel before 5.14: no cgroup.kill. */
	return cm_cg_signal(dir, SIGKILL, 1) < 0 ? -1 : 0;
}

int cm_cg_wait_empty(const char *dir, int timeout_ms)
{
	char path[PATH_MAX];
	int64_t deadline;
	int fd, rc = -1, err = ETIMEDOUT;

	if (join(path, sizeof(path), dir, "cgroup.events") < 0)
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return access(dir, F_OK) < 0 ? 0 : -1; /* gone: empty */
	/* The kernel wakes a poll(2) on cgroup.events (POLLPRI) when
	 * "populated" changes: no sleeping in steps. */
	deadline = cm_mono_ms() + timeout_ms;
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLPRI};
		int64_t left, v = cm_cg_pread_key(fd, "populated");

		if (v == 0) {
			rc = 0;
			break;
		}
		if (v < 0) {
			err = errno ? errno : EPROTO;
			break;
		}
		left = deadline - cm_mono_ms();
		if (left <= 0)
			break;
		if (poll(&p, 1, (int)left) < 0 && errno != EINTR) {
			err = errno;
			break;
		}
	}
	close(fd);
	if (rc < 0)
		errno = err;
	return rc;
}

/*
 * The first mount in /proc/self/mountinfo of a file system of type TYPE
 * whose super options name OPTION (NULL: any): its root and its mount point
 * into ROOT and MNT (PATH_MAX each). 0, or -1 with errno (ENOENT: none).
 */
static int find_mount(const char *type, const char *option, char *root,
		      char *mnt)
{
	char line[4096];
	size_t tlen = strlen(type);
	FILE *f = fopen("/proc/self/mountinfo", "re");

	if (!f)
		return -1;
	*mnt = '\0';
	/* ID PARENT MAJ:MIN ROOT MOUNT OPTIONS [OPTIONAL...] - TYPE SRC SUPER
	 */
	while (!*mnt && fgets(line, sizeof(line), f)) {
		char *dash = strstr(line, " - "), *super, *fld[5];

		if (!dash || strncmp(dash + 3, type, tlen) ||
		    dash[3 + tlen] != ' ')
			continue;
		super = strchr(dash + 4 + tlen, ' ');
		if (!super)
			continue;
		super++;
		super[strcspn(super, "\n")] = '\0';
		if (option && !cm_cg_has_word(super, strlen(super), ",", option))
			continue;
		fld[0] = line;
		for (int i = 1; i < 5 && fld[i - 1]; i++) {
			fld[i] = strchr(fld[i - 1], ' ');
			if (fld[i])
				*fld[i]++ = '\0';
		}
		if (!fld[4])
			continue;
		fld[4][strcspn(fld[4], " ")] = '\0';
		snprintf(root, PATH_MAX, "%s", fld[3]);
		snprintf(mnt, PATH_MAX, "%s", fld[4]);
	}
	fclose(f);
	if (!*mnt) {
		errno = ENOENT;
		return -1;
	}
	return 0;
}

int cm_cg_v2_mount(char *out, size_t len)
{
	/* Looked up once: smithers-top asks for every agent it shows. */
	static char mnt[PATH_MAX];
	static int known; /* 1: found, -1: none, 0: not looked up yet */
	char root[PATH_MAX];

	if (!known)
		known = find_mount("cgroup2", NULL, root, mnt) == 0 ? 1 : -1;
	if (known < 0 || strlen(mnt) + 1 > len) {
		errno = known < 0 ? ENOENT : ENAMETOOLONG;
		return -1;
	}
	memcpy(out, mnt, strlen(mnt) + 1);
	return 0;
}

/* /proc/PID/cgroup (PID 0: ours), open for reading; NULL with errno. */
static FILE *open_cgroups(pid_t pid)
{
	char path[64];

	if (pid > 0)
		snprintf(path, sizeof(path), "/proc/%ld/cgroup", (long)pid);
	else
		snprintf(path, sizeof(path), "/proc/self/cgroup");
	return fopen(path, "re");
}

int cm_cg_of_pid(pid_t pid, char *out, size_t len)
{
	char line[PATH_MAX], mnt[PATH_MAX];
	FILE *f;
	int rc = -1;

	if (cm_cg_v2_mount(mnt, sizeof(mnt)) < 0)
		return -1;
	f = open_cgroups(pid);
	if (!f)
		return -1;
	while (rc < 0 && fgets(line, sizeof(line), f)) {
		int n;

		if (strncmp(line, "0::", 3))
			continue;
		line[strcspn(line, "\n")] = '\0';
		/* The root's "/" adds nothing to the mount point. */
		n = snprintf(out, len, "%s%s", mnt,
			     strcmp(line + 3, "/") ? line + 3 : "");
		if (n < 0 || (size_t)n >= len) {
			errno = ENAMETOOLONG;
			break;
		}
		rc = 0;
	}
	if (rc < 0 && !ferror(f) && errno != ENAMETOOLONG)
		errno = ENOENT;
	fclose(f);
	return rc;
}

int cm_cg_has_word(const char *list, size_t n, const char *seps,
		   const char *word)
{
	size_t wlen = strlen(word);

	while (n) {
		size_t k = strcspn(list, seps);

		if (k > n)
			k = n;
		if (k == wlen && !memcmp(list, word, k))
			return 1;
		if (k == n)
			break;
		list += k + 1;
		n -= k + 1;
	}
	return 0;
}

/* The root and mount point of the v1 hierarchy of controller CTL (a
 * "cgroup" mount whose options name it), looked up once for each of the
 * few controllers asked for (smithers-top asks for every agent it shows). */
static int v1_mount(const char *ctl, char *root, char *mnt)
{
	static struct {
		char ctl[16], root[PATH_MAX], mnt[PATH_MAX];
		int found;
	} seen[4];
	static size_t nseen;
	size_t i;

	for (i = 0; i < nseen && strcmp(seen[i].ctl, ctl); i++)
		;
	if (i == nseen) {
		if (nseen == sizeof(seen) / sizeof(seen[0]) ||
		    strlen(ctl) >= sizeof(seen[0].ctl))
			return find_mount("cgroup", ctl, root, mnt);
		snprintf(seen[i].ctl, sizeof(seen[i].ctl), "%s", ctl);
		seen[i].found = find_mount("cgroup", ctl, seen[i].root,
					   seen[i].mnt) == 0;
		nseen++;
	}
	if (!seen[i].found) {
		errno = ENOENT;
		return -1;
	}
	memcpy(root, seen[i].root, PATH_MAX);
	memcpy(mnt, seen[i].mnt, PATH_MAX);
	return 0;
}

int cm_cg_v1_of_pid(pid_t pid, const char *ctl, char *out, size_t len)
{
	char line[4096], root[PATH_MAX], mnt[PATH_MAX];
	FILE *f;
	int rc = -1;

	if (v1_mount(ctl, root, mnt) < 0)
		return -1;
	f = open_cgroups(pid);
	if (!f)
		return -1;
	/* N:CONTROLLERS:PATH */
	errno = ENOENT;
	while (rc < 0 && fgets(line, sizeof(line), f)) {
		char *ctls = strchr(line, ':'), *p;
		size_t rlen;
		int n;

		if (!ctls || !(p = strchr(++ctls, ':')))
			continue;
		if (!cm_cg_has_word(ctls, (size_t)(p - ctls), ",", ctl))
			continue;
		p++;
		p[strcspn(p, "\n")] = '\0';
		rlen = strcmp(root, "/") ? strlen(root) : 0;
		if (strncmp(p, root, rlen) || (p[rlen] != '/' && p[rlen] != '\0'))
			break; /* not below the mount */
		p += rlen;
		n = snprintf(out, len, "%s%s", mnt, strcmp(p, "/") ? p : "");
		if (n < 0 || (size_t)n >= len) {
			errno = ENAMETOOLONG;
			break;
		}
		rc = 0;
	}
	fclose(f);
	return rc;
}
