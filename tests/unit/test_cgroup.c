/*
 * test_cgroup.c - containment (supervisor/cgroup.c) on the host's real
 * cgroups: the state dir's layout and our move into its supervisor leaf,
 * an agent's limits in the files the host enforces them with, its
 * figures, what sup_cg_check() refuses, and the agents a supervisor that
 * died left behind. Needs root and a cgroup2 mount, else skipped (77).
 *
 * The test process moves itself between cgroups: every test ends where
 * the program started (checked after each).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/cgroup.h"
#include "supervisor/cgroup.h"

#define NCTL_MAX 3 /* memory, pids, cpu: v1 directories an agent may have */

static char start_cg[PATH_MAX]; /* our v2 cgroup when the program began */
static char start_all[4096];	/* the whole /proc/self/cgroup then */
static int v2_memory;		/* the host has memory on v2 */

static void read_text(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, len - 1, f);
	buf[n] = '\0';
	fclose(f);
}

static int64_t read_num(const char *dir, const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return cm_cg_read_int(path);
}

static int exists(const char *path)
{
	return access(path, F_OK) == 0;
}

/* A fresh state dir (a real path) for one test. */
static int setup(void **state)
{
	char tmpl[] = "/tmp/smithers-cgtest-XXXXXX";
	char *dir = mkdtemp(tmpl);

	if (!dir)
		return -1;
	*state = realpath(dir, NULL);
	return *state ? 0 : -1;
}

/* The test left us where we started, with nothing of its cgroups left;
 * when a failure did not, the leftovers' way (open and close in the same
 * state dir) cleans up, so that the next tests run from a clean slate. */
static int teardown(void **state)
{
	char path[PATH_MAX], now[4096], err[512];
	int leftovers, clean;
	struct sup_cg *cg;

	read_text("/proc/self/cgroup", now, sizeof(now));
	clean = !strcmp(now, start_all);
	snprintf(path, sizeof(path), "%s/cgroups", (char *)*state);
	if (!clean || exists(path)) {
		cg = sup_cg_open(*state, 0, &leftovers, err, sizeof(err));
		sup_cg_close(cg);
		clean = 0;
	}
	unlink(path);
	rmdir(*state);
	free(*state);
	read_text("/proc/self/cgroup", now, sizeof(now));
	assert_string_equal(now, start_all);
	assert_true(clean);
	return 0;
}

/* The lines of STATE/cgroups into LINES (at most 8); their number. */
static int state_lines(const char *state, char lines[8][PATH_MAX])
{
	char path[PATH_MAX], buf[8 * PATH_MAX], *p, *nl;
	int n = 0;

	snprintf(path, sizeof(path), "%s/cgroups", state);
	read_text(path, buf, sizeof(buf));
	for (p = buf; n < 8 && (nl = strchr(p, '\n')); p = nl + 1) {
		*nl = '\0';
		snprintf(lines[n++], PATH_MAX, "%s", p);
	}
	return n;
}

/* Fork a child that enters A's cgroups (v2 and v1), says so on a pipe and
 * sleeps until killed. Its pid, once it is in. */
static pid_t child_in(const struct sup_cg_agent *a)
{
	size_t nv1;
	const char *const *v1 = sup_cg_agent_v1(a, &nv1);
	int fds[2];
	char c = 0;
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		c = cm_cg_enter(sup_cg_agent_dir(a)) == 0;
		for (size_t i = 0; i < nv1; i++)
			c = c && cm_cg_enter(v1[i]) == 0;
		if (write(fds[1], &c, 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], &c, 1), 1);
	close(fds[0]);
	assert_int_equal(c, 1);
	return pid;
}

/* The file NAME in A's v2 directory or in one of its v1 ones; NULL. */
static const char *dir_with(const struct sup_cg_agent *a, const char *name,
			    char *path)
{
	size_t nv1;
	const char *const *v1 = sup_cg_agent_v1(a, &nv1);

	snprintf(path, PATH_MAX, "%s/%s", sup_cg_agent_dir(a), name);
	if (exists(path))
		return sup_cg_agent_dir(a);
	for (size_t i = 0; i < nv1; i++) {
		snprintf(path, PATH_MAX, "%s/%s", v1[i], name);
		if (exists(path))
			return v1[i];
	}
	return NULL;
}

/* ---- the layout ---------------------------------------------------------- */

static void test_layout(void **state)
{
	char err[512], leaf[PATH_MAX], base[PATH_MAX], lines[8][PATH_MAX];
	int leftovers = -1, n;
	struct sup_cg *cg =
		sup_cg_open(*state, 0, &leftovers, err, sizeof(err));
	char *slash;

	assert_non_null(cg);
	assert_int_equal(leftovers, 0);
	assert_non_null(strstr(sup_cg_describe(cg), "cgroup v2 at "));

	/* We are in START/smithers-H/supervisor. */
	assert_int_equal(cm_cg_of_pid(0, leaf, sizeof(leaf)), 0);
	slash = strrchr(leaf, '/');
	assert_string_equal(slash, "/supervisor");
	snprintf(base, sizeof(base), "%.*s", (int)(slash - leaf), leaf);
	slash = strrchr(base, '/');
	assert_int_equal(strncmp(slash, "/smithers-", 10), 0);
	assert_int_equal(strlen(slash), strlen("/smithers-") + 16);
	assert_int_equal((size_t)(slash - base), strlen(start_cg));
	assert_int_equal(strncmp(base, start_cg, strlen(start_cg)), 0);

	/* The state file: our v2 base first, then v1 bases, all there. */
	n = state_lines(*state, lines);
	assert_true(n >= 1);
	assert_string_equal(lines[0], base);
	for (int i = 0; i < n; i++)
		assert_true(exists(lines[i]));
	if (!v2_memory) /* hybrid: at least the memory hierarchy */
		assert_true(n >= 2);

	sup_cg_close(cg);
	for (int i = 0; i < n; i++)
		assert_false(exists(lines[i]));
	assert_false(exists(leaf));
	snprintf(leaf, sizeof(leaf), "%s/cgroups", (char *)*state);
	assert_false(exists(leaf));
}

/* ---- an agent: limits, figures, kill, free ------------------------------- */

static void test_agent(void **state)
{
	char err[512], path[PATH_MAX], dir[PATH_MAX];
	int leftovers, status;
	struct sup_limits l = {.memory_max = 64 << 20, .pids_max = 16};
	struct sup_cg *cg = sup_cg_open(*state, sup_cg_needs(&l), &leftovers,
					err, sizeof(err));
	struct sup_cg_agent *a;
	struct sup_cg_usage u;
	const char *in;
	size_t nv1;
	pid_t pid;

	assert_non_null(cg);
	assert_int_equal(sup_cg_check(cg, &l, err, sizeof(err)), 0);
	a = sup_cg_agent_new(cg, 7, 1, &l, err, sizeof(err));
	if (!a)
		fail_msg("%s", err);
	snprintf(dir, sizeof(dir), "%s", sup_cg_agent_dir(a));
	assert_string_equal(strrchr(dir, '/'), "/agent-7-1");
	assert_true(exists(dir));

	/* The limits, in the files this host enforces them with. */
	in = dir_with(a, v2_memory ? "memory.max" : "memory.limit_in_bytes",
		      path);
	assert_non_null(in);
	assert_int_equal(cm_cg_read_int(path), 64 << 20);
	if (!v2_memory)
		assert_string_not_equal(in, dir); /* v1 */
	in = dir_with(a, "pids.max", path);
	assert_non_null(in);
	assert_int_equal(cm_cg_read_int(path), 16);

	/* Figures, with one process in it. */
	pid = child_in(a);
	sup_cg_agent_read(a, &u);
	assert_true(u.cpu_usec >= 0);
	assert_true(u.mem_peak >= 0);
	assert_int_equal(u.oom_kills, 0);
	assert_int_equal(u.pids_refused, 0);

	/* Kill: the child dies of SIGKILL; free removes every directory. */
	assert_int_equal(sup_cg_agent_kill(a), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	{
		const char *const *v1 = sup_cg_agent_v1(a, &nv1);
		char v1dirs[NCTL_MAX][PATH_MAX];

		assert_true(nv1 <= NCTL_MAX);
		for (size_t i = 0; i < nv1; i++)
			snprintf(v1dirs[i], PATH_MAX, "%s", v1[i]);
		sup_cg_agent_free(a);
		for (size_t i = 0; i < nv1; i++)
			assert_false(exists(v1dirs[i]));
	}
	assert_false(exists(dir));
	sup_cg_close(cg);
}

/* CPU limits: v2's cpu.weight and cpu.max, or v1's shares and quota. */
static void test_cpu_limits(void **state)
{
	char err[512], path[PATH_MAX];
	int leftovers;
	struct sup_limits l = {.cpu_weight = 50, .cpu_max = 0.5};
	struct sup_cg *cg = sup_cg_open(*state, sup_cg_needs(&l), &leftovers,
					err, sizeof(err));
	struct sup_cg_agent *a;
	const char *in;

	assert_non_null(cg);
	if (sup_cg_check(cg, &l, err, sizeof(err)) < 0) {
		/* Then agent_new refuses it too, with the same reason. */
		char err2[512];

		assert_null(sup_cg_agent_new(cg, 1, 1, &l, err2, sizeof(err2)));
		assert_string_equal(err, err2);
		sup_cg_close(cg);
		skip();
	}
	a = sup_cg_agent_new(cg, 1, 1, &l, err, sizeof(err));
	if (!a)
		fail_msg("%s", err);
	if ((in = dir_with(a, "cpu.weight", path))) {
		assert_int_equal(read_num(in, "cpu.weight"), 50);
		snprintf(path, sizeof(path), "%s/cpu.max", in);
		read_text(path, err, sizeof(err));
		assert_string_equal(err, "50000 100000\n");
	} else {
		in = dir_with(a, "cpu.shares", path);
		assert_non_null(in);
		assert_int_equal(read_num(in, "cpu.shares"), 512);
		assert_int_equal(read_num(in, "cpu.cfs_period_us"), 100000);
		assert_int_equal(read_num(in, "cpu.cfs_quota_us"), 50000);
	}
	sup_cg_agent_free(a);
	sup_cg_close(cg);
}

/* pids_max: a fork past it is refused and counted. */
static void test_pids_refused(void **state)
{
	char err[512];
	int leftovers, status;
	struct sup_limits l = {.pids_max = 1};
	struct sup_cg *cg = sup_cg_open(*state, sup_cg_needs(&l), &leftovers,
					err, sizeof(err));
	struct sup_cg_agent *a;
	struct sup_cg_usage u;
	pid_t pid;

	assert_non_null(cg);
	a = sup_cg_agent_new(cg, 2, 1, &l, err, sizeof(err));
	if (!a)
		fail_msg("%s", err);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		size_t nv1;
		const char *const *v1 = sup_cg_agent_v1(a, &nv1);
		pid_t c;

		if (cm_cg_enter(sup_cg_agent_dir(a)) < 0)
			_exit(2);
		for (size_t i = 0; i < nv1; i++)
			if (cm_cg_enter(v1[i]) < 0)
				_exit(2);
		c = fork(); /* the second process: refused */
		if (c == 0)
			_exit(0);
		_exit(c < 0 && errno == EAGAIN ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	sup_cg_agent_read(a, &u);
	assert_int_equal(u.pids_refused, 1);
	sup_cg_agent_free(a);
	sup_cg_close(cg);
}

/* ---- what the host cannot enforce ---------------------------------------- */

static void test_check(void **state)
{
	char err[512];
	int leftovers;
	struct sup_limits none = {0}, high = {.memory_high = 1 << 30};
	struct sup_limits pids = {.pids_max = 10};
	struct sup_limits all = {.memory_max = 1,
				 .memory_high = 1,
				 .pids_max = 1,
				 .cpu_weight = 1,
				 .cpu_max = 1};
	struct sup_cg *cg;

	assert_int_equal(sup_cg_needs(&none), 0);
	assert_int_equal(sup_cg_needs(&high), SUP_CG_MEMORY);
	assert_int_equal(sup_cg_needs(&pids), SUP_CG_PIDS);
	assert_int_equal(sup_cg_needs(&all),
			 SUP_CG_MEMORY | SUP_CG_PIDS | SUP_CG_CPU);

	/* No cgroups: any key is refused, by name; no key is fine. */
	assert_int_equal(sup_cg_check(NULL, &none, err, sizeof(err)), 0);
	assert_int_equal(sup_cg_check(NULL, &pids, err, sizeof(err)), -1);
	assert_string_equal(err, "pids_max needs cgroups, not available here");
	assert_int_equal(sup_cg_check(NULL, &all, err, sizeof(err)), -1);
	assert_string_equal(err,
			    "memory_max needs cgroups, not available here");

	cg = sup_cg_open(*state, SUP_CG_MEMORY, &leftovers, err, sizeof(err));
	assert_non_null(cg);
	assert_int_equal(sup_cg_check(cg, &none, err, sizeof(err)), 0);
	if (v2_memory) {
		assert_int_equal(sup_cg_check(cg, &high, err, sizeof(err)), 0);
	} else {
		/* Hybrid: memory is on v1, which has no memory.high. */
		assert_int_equal(sup_cg_check(cg, &high, err, sizeof(err)), -1);
		assert_string_equal(err, "memory_high needs the cgroup v2 "
					 "memory controller (this host has it "
					 "on v1 only)");
		assert_null(
			sup_cg_agent_new(cg, 1, 1, &high, err, sizeof(err)));
		assert_non_null(strstr(err, "memory_high"));
	}
	sup_cg_close(cg);
}

/* ---- leftovers of a supervisor that died --------------------------------- */

struct crashed {
	pid_t sleeper;
	char dir[PATH_MAX];
};

/* In a child: open STATE, make agent-3-2 with a sleeping process in it,
 * report both on FD and die without closing anything. */
static void crash(const char *state, int fd)
{
	char err[512];
	int leftovers;
	struct sup_limits l = {.memory_max = 64 << 20, .pids_max = 16};
	struct sup_cg *cg = sup_cg_open(state, sup_cg_needs(&l), &leftovers,
					err, sizeof(err));
	struct sup_cg_agent *a =
		cg ? sup_cg_agent_new(cg, 3, 2, &l, err, sizeof(err)) : NULL;
	struct crashed c = {0};

	if (a) {
		c.sleeper = child_in(a);
		snprintf(c.dir, sizeof(c.dir), "%s", sup_cg_agent_dir(a));
	}
	if (write(fd, &c, sizeof(c)) != (ssize_t)sizeof(c))
		_exit(1);
	_exit(0);
}

static void test_leftovers(void **state)
{
	char err[512], lines[8][PATH_MAX], path[PATH_MAX];
	int fds[2], status, leftovers = -1, n;
	struct sup_limits l = {0};
	struct crashed c;
	struct sup_cg *cg;
	struct sup_cg_agent *a;
	pid_t pid;

	/* The sleeper is reparented to us when its supervisor dies. */
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		crash(*state, fds[1]);
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], &c, sizeof(c)), sizeof(c));
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(c.sleeper > 0);
	assert_int_equal(kill(c.sleeper, 0), 0);
	assert_true(exists(c.dir));
	n = state_lines(*state, lines);
	assert_true(n >= 1);

	cg = sup_cg_open(*state, 0, &leftovers, err, sizeof(err));
	if (!cg)
		fail_msg("%s", err);
	assert_int_equal(leftovers, 1);
	assert_int_equal(waitpid(c.sleeper, &status, 0), c.sleeper);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	assert_false(exists(c.dir));
	/* Its v1 directories went too. */
	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/agent-3-2", lines[i]);
		assert_false(exists(path));
	}

	/* An agent left at close is killed and removed with the rest. */
	a = sup_cg_agent_new(cg, 4, 1, &l, err, sizeof(err));
	assert_non_null(a);
	c.sleeper = child_in(a);
	snprintf(c.dir, sizeof(c.dir), "%s", sup_cg_agent_dir(a));
	n = state_lines(*state, lines);
	sup_cg_close(cg);
	assert_int_equal(waitpid(c.sleeper, &status, 0), c.sleeper);
	assert_true(WIFSIGNALED(status));
	assert_false(exists(c.dir));
	for (int i = 0; i < n; i++)
		assert_false(exists(lines[i]));
	snprintf(path, sizeof(path), "%s/cgroups", (char *)*state);
	assert_false(exists(path));
	/* Its handle, freed late, finds its directories gone: no harm. */
	sup_cg_agent_free(a);
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_layout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_agent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cpu_limits, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_pids_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_check, setup, teardown),
		cmocka_unit_test_setup_teardown(test_leftovers, setup,
						teardown),
	};
	char mnt[PATH_MAX], path[PATH_MAX + 32], ctl[256] = "";
	FILE *f;

	if (geteuid() != 0) {
		printf("test_cgroup: skipped: cgroups need root\n");
		return 77;
	}
	if (cm_cg_v2_mount(mnt, sizeof(mnt)) < 0) {
		printf("test_cgroup: skipped: no cgroup2 file system is "
		       "mounted\n");
		return 77;
	}
	if (cm_cg_of_pid(0, start_cg, sizeof(start_cg)) < 0) {
		printf("test_cgroup: skipped: cannot find our cgroup v2\n");
		return 77;
	}
	snprintf(path, sizeof(path), "%s/cgroup.controllers", start_cg);
	f = fopen(path, "re");
	if (f) {
		if (!fgets(ctl, sizeof(ctl), f))
			*ctl = '\0';
		fclose(f);
	}
	v2_memory = strstr(ctl, "memory") != NULL;
	f = fopen("/proc/self/cgroup", "re");
	if (f) {
		size_t n = fread(start_all, 1, sizeof(start_all) - 1, f);

		start_all[n] = '\0';
		fclose(f);
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
