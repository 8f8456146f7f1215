/*
 * test_common.c - the leaf helpers of common/: the clocks, cm_write_all
 * across a pipe with short writes and EINTR (write() is wrapped by the
 * linker, see common/include.am), cm_read_all, array growth, the grammar
 * of durations, sizes, whole numbers and signals, the /proc/PID/stat
 * reader on this process, a zombie, a dead pid and a command name full of
 * parentheses, and a cgroup's files on real cgroups: a temporary directory
 * under our own cgroup v2 (skipped where none can be made: no cgroup2, not
 * root), which only our own children enter and which is removed whatever
 * the outcome.
 */
#include "config.h"

#include <ctype.h>
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
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/cgroup.h"
#include "common/clock.h"
#include "common/grow.h"
#include "common/io.h"
#include "common/procstat.h"
#include "common/units.h"

/* ---- write() under test control ---------------------------------------- */

ssize_t __real_write(int fd, const void *buf, size_t len);
ssize_t __wrap_write(int fd, const void *buf, size_t len);

static struct {
	int on;		 /* 0: write() as usual */
	size_t chunk;	 /* most bytes one call writes */
	int eintr_every; /* every Nth call fails with EINTR; 0: never */
	int zero;	 /* return 0 without writing */
	int calls, eintrs;
} wr;

ssize_t __wrap_write(int fd, const void *buf, size_t len)
{
	if (!wr.on)
		return __real_write(fd, buf, len);
	wr.calls++;
	if (wr.zero)
		return 0;
	if (wr.eintr_every && wr.calls % wr.eintr_every == 0) {
		wr.eintrs++;
		errno = EINTR;
		return -1;
	}
	return __real_write(fd, buf, len < wr.chunk ? len : wr.chunk);
}

static void fill(char *buf, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = (char)(i * 7 + i / 251);
}

static void test_write_all_short(void **state)
{
	enum { N = 20000 }; /* within a pipe's 64 KiB: no reader needed */
	static char in[N], out[N + 1];
	size_t got = 0;
	ssize_t n;
	int fds[2];

	(void)state;
	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	fill(in, N);
	memset(&wr, 0, sizeof(wr));
	wr.on = 1;
	wr.chunk = 7;
	wr.eintr_every = 3;
	assert_int_equal(cm_write_all(fds[1], in, N), 0);
	wr.on = 0;
	/* Every call either wrote 7 bytes or was interrupted. */
	assert_true(wr.eintrs > 0);
	assert_int_equal(wr.calls - wr.eintrs, (N + 6) / 7);
	close(fds[1]);
	while ((n = read(fds[0], out + got, sizeof(out) - got)) > 0)
		got += (size_t)n;
	close(fds[0]);
	assert_int_equal(got, N);
	assert_memory_equal(in, out, N);
}

/* A child that writes IN (N bytes) to a new pipe with cm_write_all, PIECE
 * bytes a call (0: all in one): its pid, the pipe's read end in *RD. */
static pid_t start_writer(const char *in, size_t n, size_t piece, int *rd)
{
	int fds[2];
	pid_t pid;

	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		if (!piece)
			piece = n;
		for (size_t off = 0; off < n; off += piece)
			if (cm_write_all(fds[1], in + off,
					 off + piece < n ? piece : n - off) < 0)
				_exit(1);
		_exit(0);
	}
	close(fds[1]);
	*rd = fds[0];
	return pid;
}

/* The writer PID exited 0. */
static void writer_done(pid_t pid)
{
	int status;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* Across a pipe with a slower reader: more than the pipe holds. */
static void test_write_all_pipe(void **state)
{
	enum { N = 1 << 20 };
	char *in = malloc(N), *out = malloc(N);
	size_t got = 0;
	ssize_t n;
	pid_t pid;
	int rd;

	(void)state;
	assert_non_null(in);
	assert_non_null(out);
	fill(in, N);
	pid = start_writer(in, N, 0, &rd);
	while ((n = read(rd, out + got, got + 4096 < N ? 4096 : N - got)) > 0)
		got += (size_t)n;
	close(rd);
	writer_done(pid);
	assert_int_equal(got, N);
	assert_memory_equal(in, out, N);
	free(in);
	free(out);
}

/* Reading a whole buffer across a pipe written to in small pieces; the
 * writer's end before it is all there is ENODATA, a bad fd read's error. */
static void test_read_all(void **state)
{
	enum { N = 1 << 20 };
	char *in = malloc(N), *out = malloc(N);
	int fds[2], rd;
	pid_t pid;

	(void)state;
	assert_non_null(in);
	assert_non_null(out);
	fill(in, N);
	pid = start_writer(in, N, 1000, &rd);
	assert_int_equal(cm_read_all(rd, out, N), 0);
	assert_memory_equal(in, out, N);
	/* The writer is gone: one byte more is not there. */
	errno = 0;
	assert_int_equal(cm_read_all(rd, out, 1), -1);
	assert_int_equal(errno, ENODATA);
	close(rd);
	writer_done(pid);

	/* A prefix, then the end. */
	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	assert_int_equal(write(fds[1], "abc", 3), 3);
	close(fds[1]);
	memset(out, 0, 8);
	errno = 0;
	assert_int_equal(cm_read_all(fds[0], out, 8), -1);
	assert_int_equal(errno, ENODATA);
	assert_memory_equal(out, "abc", 3);
	close(fds[0]);

	errno = 0;
	assert_int_equal(cm_read_all(-1, out, 1), -1);
	assert_int_equal(errno, EBADF);
	assert_int_equal(cm_read_all(-1, out, 0), 0);
	free(in);
	free(out);
}

static void test_write_all_errors(void **state)
{
	void (*old)(int) = signal(SIGPIPE, SIG_IGN);
	int fds[2];

	(void)state;
	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	close(fds[0]);
	errno = 0;
	assert_int_equal(cm_write_all(fds[1], "x", 1), -1);
	assert_int_equal(errno, EPIPE);
	close(fds[1]);
	signal(SIGPIPE, old);

	errno = 0;
	assert_int_equal(cm_write_all(-1, "x", 1), -1);
	assert_int_equal(errno, EBADF);

	/* Nothing to write: no call at all. */
	memset(&wr, 0, sizeof(wr));
	wr.on = 1;
	assert_int_equal(cm_write_all(-1, "", 0), 0);
	assert_int_equal(wr.calls, 0);
	/* A write() that writes nothing must not loop forever. */
	wr.zero = 1;
	errno = 0;
	assert_int_equal(cm_write_all(1, "x", 1), -1);
	assert_int_equal(errno, EIO);
	assert_int_equal(wr.calls, 1);
	wr.on = 0;
}

/* ---- clocks ------------------------------------------------------------- */

static void test_clocks(void **state)
{
	struct timespec pause = {0, 20 * 1000 * 1000};
	int64_t m0 = cm_mono_ms(), u0 = cm_mono_us(), m1, u1, w;

	(void)state;
	assert_true(m0 > 0);
	assert_true(u0 / 1000 >= m0);
	nanosleep(&pause, NULL);
	m1 = cm_mono_ms();
	u1 = cm_mono_us();
	assert_true(m1 - m0 >= 20);
	assert_true(u1 - u0 >= 20000);
	assert_true(m1 - m0 < 5000);
	w = cm_wall_ms();
	assert_true(llabs(w - (int64_t)time(NULL) * 1000) < 2000);
	assert_true(llabs(cm_wall_us() / 1000 - w) < 1000);
	for (int i = 0; i < 1000; i++) {
		int64_t m = cm_mono_us();

		assert_true(m >= u1);
		u1 = m;
	}
}

/* ---- growth ------------------------------------------------------------- */

struct item {
	int64_t a;
	char name[13];
};

static void test_grow(void **state)
{
	struct item *v = NULL, *before;
	size_t cap = 0, n;
	int *ints = NULL;
	size_t icap = 0;

	(void)state;
	for (n = 0; n < 1000; n++) {
		assert_int_equal(CM_GROW(v, cap, n), 0);
		assert_true(cap > n);
		/* New items come zeroed. */
		assert_int_equal(v[n].a, 0);
		assert_int_equal(v[n].name[0], 0);
		v[n].a = (int64_t)n * 3;
		snprintf(v[n].name, sizeof(v[n].name), "item%zu", n);
	}
	assert_int_equal(cap, 1024); /* 8 doubled */
	for (n = 0; n < 1000; n++)
		assert_int_equal(v[n].a, (int64_t)n * 3);
	assert_string_equal(v[999].name, "item999");
	/* Room already there: nothing moves. */
	before = v;
	assert_int_equal(CM_GROW(v, cap, 1023), 0);
	assert_ptr_equal(v, before);
	assert_int_equal(cap, 1024);
	free(v);

	/* A jump past the next doubling. */
	assert_int_equal(cm_grow(&ints, &icap, 100, sizeof(*ints)), 0);
	assert_int_equal(icap, 128);
	for (n = 0; n < icap; n++)
		assert_int_equal(ints[n], 0);
	ints[100] = 7;
	/* Too large for memory: ENOMEM, the array untouched. */
	errno = 0;
	assert_int_equal(cm_grow(&ints, &icap, SIZE_MAX / 2, sizeof(*ints)),
			 -1);
	assert_int_equal(errno, ENOMEM);
	assert_int_equal(icap, 128);
	assert_int_equal(ints[100], 7);
	errno = 0;
	assert_int_equal(cm_grow(&ints, &icap, 200, SIZE_MAX / 8), -1);
	assert_int_equal(errno, ENOMEM);
	assert_int_equal(icap, 128);
	free(ints);
}

/* ---- units -------------------------------------------------------------- */

static void test_durations(void **state)
{
	static const struct {
		const char *text;
		int64_t ms;
	} ok[] = {
		{"0", 0},
		{"30", 30000},
		{"1.5", 1500},
		{"250ms", 250},
		{"0ms", 0},
		{"1s", 1000},
		{"0.001s", 1},
		{"45s", 45000},
		{"2m", 120000},
		{"90m", 5400000},
		{"1h", 3600000},
		{"0.5h", 1800000},
		{"12h", 43200000},
		{"1d", 86400000},
		{"30d", (int64_t)30 * 86400000},
		{"1.5d", 129600000},
		{"2w", (int64_t)14 * 86400000},
		{"10 s", 10000},
		{"3\th", 10800000},
		{"1.000000000s", 1000},
		{"1.5000000000000m", 90000},
		{"0.1", 100},
	};
	static const char *const bad[] = {
		"",	 "s",
		"ms",	 "-1s",
		"+1",	 " 1",
		"1 ",	 "1s ",
		"1x",	 "1 sec",
		".5",	 "1.",
		"1.5ms", "0.0001",
		"1e3",	 "1S",
		"1H",	 "1D",
		"1W",	 "1..2",
		"0x10",	 "1 1",
		"1y",	 "1sec",
		"1mss",	 "0.0000000001s",
		"1,5s",
	};
	int64_t v;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		v = -1;
		if (cm_parse_duration(ok[i].text, &v) < 0)
			fail_msg("'%s' refused", ok[i].text);
		assert_int_equal(v, ok[i].ms);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		v = 42;
		if (cm_parse_duration(bad[i], &v) == 0)
			fail_msg("'%s' accepted", bad[i]);
		assert_int_equal(errno, EINVAL);
		assert_int_equal(v, 42); /* untouched */
	}
	/* The largest a week can be, and one past it. */
	assert_int_equal(cm_parse_duration("15250284452w", &v), 0);
	assert_int_equal(v, (int64_t)15250284452 * 604800000);
	errno = 0;
	assert_int_equal(cm_parse_duration("15250284453w", &v), -1);
	assert_int_equal(errno, ERANGE);
	errno = 0;
	assert_int_equal(cm_parse_duration("99999999999999999999", &v), -1);
	assert_int_equal(errno, ERANGE);
	errno = 0;
	assert_int_equal(cm_parse_duration("9223372036854775807h", &v), -1);
	assert_int_equal(errno, ERANGE);
	assert_int_equal(cm_parse_duration("922337203685477580ms", &v), 0);
	assert_int_equal(v, 922337203685477580);
}

static void test_sizes(void **state)
{
	static const struct {
		const char *text;
		int64_t bytes;
	} ok[] = {
		{"0", 0},
		{"512", 512},
		{"1K", 1024},
		{"1k", 1024},
		{"64KiB", 65536},
		{"64kib", 65536},
		{"10M", 10 << 20},
		{"10MiB", 10 << 20},
		{"1.5K", 1536},
		{"2G", (int64_t)2 << 30},
		{"1 G", (int64_t)1 << 30},
		{"0.5M", 1 << 19},
	};
	static const char *const bad[] = {"",	"K",	"1KB", "1T",
					  "-1", "1.3K", "0.5", "1 2",
					  "M1", "1 K ", "1B",  ".5K"};
	int64_t v;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		v = -1;
		if (cm_parse_size(ok[i].text, &v) < 0)
			fail_msg("'%s' refused", ok[i].text);
		assert_int_equal(v, ok[i].bytes);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		if (cm_parse_size(bad[i], &v) == 0)
			fail_msg("'%s' accepted", bad[i]);
		assert_int_equal(errno, EINVAL);
	}
	errno = 0;
	assert_int_equal(cm_parse_size("9999999999999G", &v), -1);
	assert_int_equal(errno, ERANGE);
}

static void test_ints(void **state)
{
	static const char *const bad[] = {"",	"-",	"+1",  " 1",  "1 ",
					  "1x", "0x10", "1.0", "--1", "1-"};
	int64_t v;
	size_t i;

	(void)state;
	assert_int_equal(cm_parse_int("0", 0, 10, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(cm_parse_int("10", 0, 10, &v), 0);
	assert_int_equal(v, 10);
	assert_int_equal(cm_parse_int("-5", -5, 5, &v), 0);
	assert_int_equal(v, -5);
	assert_int_equal(cm_parse_int("007", 0, 10, &v), 0);
	assert_int_equal(v, 7);
	assert_int_equal(cm_parse_int("9223372036854775806", 0, INT64_MAX, &v),
			 0);
	assert_int_equal(v, INT64_MAX - 1);
	errno = 0;
	v = 42;
	assert_int_equal(cm_parse_int("11", 0, 10, &v), -1);
	assert_int_equal(errno, ERANGE);
	assert_int_equal(v, 42);
	errno = 0;
	assert_int_equal(cm_parse_int("-1", 0, 10, &v), -1);
	assert_int_equal(errno, ERANGE);
	/* Past int64 either way: out of range, not wrapped round. */
	errno = 0;
	assert_int_equal(
		cm_parse_int("99999999999999999999999", 0, INT64_MAX, &v), -1);
	assert_int_equal(errno, ERANGE);
	errno = 0;
	assert_int_equal(cm_parse_int("-99999999999999999999999", -10, 10, &v),
			 -1);
	assert_int_equal(errno, ERANGE);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		if (cm_parse_int(bad[i], -100, 100, &v) == 0)
			fail_msg("'%s' accepted", bad[i]);
		assert_int_equal(errno, EINVAL);
	}
}

static void test_signals(void **state)
{
	char buf[32];
	const char *name;
	int sig, named = 0;

	(void)state;
	/* Every name goes back to its number, in every spelling. */
	for (sig = 1; sig < NSIG; sig++) {
		name = cm_signal_name(sig);
		if (!name)
			continue;
		named++;
		assert_int_equal(cm_signal_number(name), sig);
		snprintf(buf, sizeof(buf), "SIG%s", name);
		assert_int_equal(cm_signal_number(buf), sig);
		for (char *p = buf; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		assert_int_equal(cm_signal_number(buf), sig);
		snprintf(buf, sizeof(buf), "%d", sig);
		assert_int_equal(cm_parse_signal(buf), sig);
		assert_int_equal(cm_parse_signal(name), sig);
	}
	assert_true(named >= 30);
	assert_int_equal(cm_signal_number("TERM"), SIGTERM);
	assert_int_equal(cm_signal_number("sigkill"), SIGKILL);
	assert_int_equal(cm_signal_number("Stop"), SIGSTOP);
	assert_int_equal(cm_signal_number("CONT"), SIGCONT);
	assert_int_equal(cm_signal_number("WINCH"), SIGWINCH);
	assert_string_equal(cm_signal_name(SIGTERM), "TERM");
	assert_string_equal(cm_signal_name(SIGUSR2), "USR2");
	errno = 0;
	assert_null(cm_signal_name(0));
	assert_int_equal(errno, EINVAL);
	assert_null(cm_signal_name(SIGRTMIN + 1));
	assert_null(cm_signal_name(-1));
	/* Numbers: only by cm_parse_signal, in 1 .. NSIG - 1. */
	assert_int_equal(cm_signal_number("15"), -1);
	assert_int_equal(cm_parse_signal("15"), SIGTERM);
	snprintf(buf, sizeof(buf), "%d", SIGRTMIN + 1);
	assert_int_equal(cm_parse_signal(buf), SIGRTMIN + 1);
	errno = 0;
	assert_int_equal(cm_parse_signal("0"), -1);
	assert_int_equal(errno, ERANGE);
	snprintf(buf, sizeof(buf), "%d", NSIG);
	errno = 0;
	assert_int_equal(cm_parse_signal(buf), -1);
	assert_int_equal(errno, ERANGE);
	static const char *const bad[] = {
		"",    "SIG", "SIGSIGTERM", "TERM ", " TERM",
		"-15", "+15", "15x",	    "TER",   "TERMINATE"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		if (cm_parse_signal(bad[i]) != -1)
			fail_msg("'%s' accepted", bad[i]);
		assert_true(errno == EINVAL || errno == ERANGE);
	}
}

/* ---- /proc/PID/stat ----------------------------------------------------- */

static void test_proc_self(void **state)
{
	struct cm_proc_stat a, b;

	(void)state;
	assert_int_equal(cm_proc_stat(getpid(), &a), 0);
	assert_int_equal(a.state, 'R');
	assert_int_equal(a.ppid, getppid());
	assert_int_equal(a.pgrp, getpgrp());
	assert_true(a.start > 0);
	assert_true(a.rss_pages > 0);
	/* Spin a little: CPU time only goes up, the start time stays. */
	for (volatile long i = 0; i < 20000000; i++)
		;
	assert_int_equal(cm_proc_stat(getpid(), &b), 0);
	assert_int_equal(b.start, a.start);
	assert_true(b.ticks >= a.ticks);
}

/* A child that ended: a zombie until reaped, then no process at all. */
static void test_proc_dead(void **state)
{
	struct timespec pause = {0, 5 * 1000 * 1000};
	struct cm_proc_stat st;
	pid_t pid;
	int i, status;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	for (i = 0; i < 400; i++) {
		assert_int_equal(cm_proc_stat(pid, &st), 0);
		if (st.state == 'Z')
			break;
		nanosleep(&pause, NULL);
	}
	assert_int_equal(st.state, 'Z');
	assert_int_equal(st.ppid, getpid());
	assert_int_equal(waitpid(pid, &status, 0), pid);

	memset(&st, 0x5a, sizeof(st));
	errno = 0;
	assert_int_equal(cm_proc_stat(pid, &st), -1);
	assert_int_equal(errno, ESRCH);
	assert_int_equal(st.state, 0x5a); /* untouched */
	errno = 0;
	assert_int_equal(cm_proc_stat(0, &st), -1);
	assert_int_equal(errno, ESRCH);
	errno = 0;
	assert_int_equal(cm_proc_stat(-1, &st), -1);
	assert_int_equal(errno, ESRCH);
}

/* A command name with ") (" and spaces in it: the fields after it are
 * still found. */
static void test_proc_odd_name(void **state)
{
	struct cm_proc_stat st;
	int fds[2], status;
	char c;
	pid_t pid;

	(void)state;
	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[1]);
		prctl(PR_SET_NAME, "a) R 1 (b) ");
		/* Until the parent closes its end. */
		while (read(fds[0], &c, 1) > 0)
			;
		_exit(0);
	}
	close(fds[0]);
	/* Until the name is set: then the state is S (in read). */
	for (int i = 0; i < 400; i++) {
		char path[64], comm[32] = "";
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
		f = fopen(path, "re");
		if (f) {
			if (!fgets(comm, sizeof(comm), f))
				comm[0] = '\0';
			fclose(f);
		}
		if (!strncmp(comm, "a) R 1 (b) ", 11))
			break;
		usleep(5000);
	}
	assert_int_equal(cm_proc_stat(pid, &st), 0);
	assert_int_equal(st.ppid, getpid());
	assert_int_equal(st.pgrp, getpgrp());
	assert_true(st.start > 0);
	close(fds[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
}

/* ---- a cgroup's files, on a real cgroup v2 ------------------------------- */

/* What a cgroup test made, for its teardown: the directory, and the
 * processes started (reaped there if the test did not). */
struct cg_test {
	char dir[PATH_MAX]; /* "": none could be made */
	char why[PATH_MAX + 64];
	pid_t pids[4];
	int npids;
};

static struct cg_test cgt;

/* A fresh cgroup under ours, or the reason why not in cgt.why (the test
 * skips then). */
static int cg_setup(void **state)
{
	char own[PATH_MAX];
	int n;

	memset(&cgt, 0, sizeof(cgt));
	*state = &cgt;
	if (cm_cg_of_pid(0, own, sizeof(own)) < 0) {
		snprintf(cgt.why, sizeof(cgt.why), "no cgroup v2: %s",
			 strerror(errno));
		return 0;
	}
	n = snprintf(cgt.dir, sizeof(cgt.dir), "%s/smithers-test-%ld", own,
		     (long)getpid());
	assert_true(n > 0 && (size_t)n < sizeof(cgt.dir));
	if (mkdir(cgt.dir, 0755) < 0) {
		snprintf(cgt.why, sizeof(cgt.why), "cannot make '%s': %s",
			 cgt.dir, strerror(errno));
		cgt.dir[0] = '\0';
	}
	return 0;
}

/* Kill what is left in the cgroup, reap our children, remove it. */
static int cg_teardown(void **state)
{
	struct cg_test *t = *state;

	if (t->dir[0]) {
		cm_cg_kill(t->dir);
		cm_cg_wait_empty(t->dir, 2000);
	}
	for (int i = 0; i < t->npids; i++)
		if (t->pids[i] > 0)
			waitpid(t->pids[i], NULL, 0);
	prctl(PR_SET_CHILD_SUBREAPER, 0);
	if (t->dir[0] && rmdir(t->dir) < 0) {
		fprintf(stderr, "cannot remove '%s': %s\n", t->dir,
			strerror(errno));
		return -1;
	}
	return 0;
}

static void cg_need(struct cg_test *t)
{
	if (!t->dir[0]) {
		fprintf(stderr, "skipped: %s\n", t->why);
		skip();
	}
}

static void cg_file(char *buf, size_t len, const char *dir, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", dir, name);

	assert_true(n > 0 && (size_t)n < len);
}

/* In a child: enter DIR, write the errno of that (0: in) on FD, then run
 * BODY's escapees and wait to be killed. */
enum cg_body { CG_ALONE, CG_ESCAPEES };

static void cg_child(const char *dir, int fd, enum cg_body body)
{
	int err = cm_cg_enter(dir) < 0 ? errno : 0;
	pid_t p[2] = {0, 0};

	if (!err && body == CG_ESCAPEES) {
		int hop[2];
		char c;

		if (pipe(hop) < 0)
			_exit(1);
		/* A setsid grandchild: its own session and group (told once
		 * it is). */
		p[0] = fork();
		if (p[0] == 0) {
			setsid();
			if (write(hop[1], "s", 1) < 0)
				_exit(1);
			for (;;)
				pause();
		}
		if (read(hop[0], &c, 1) != 1)
			_exit(1);
		/* A double fork: its parent ended, it is nobody's child of
		 * ours. */
		if (fork() == 0) {
			pid_t g = fork();

			if (g == 0)
				for (;;)
					pause();
			if (write(hop[1], &g, sizeof(g)) < 0)
				_exit(1);
			_exit(0);
		}
		if (read(hop[0], &p[1], sizeof(p[1])) != sizeof(p[1]))
			_exit(1);
		wait(NULL); /* the middle one, so that it is no zombie */
	}
	if (write(fd, &err, sizeof(err)) < 0 || write(fd, p, sizeof(p)) < 0)
		_exit(1);
	for (;;)
		pause();
}

/* Fork a child that enters T->dir (and starts BODY); the pids of the
 * escapees into P (two, 0 with CG_ALONE). The child's pid. */
static pid_t cg_start(struct cg_test *t, enum cg_body body, pid_t p[2])
{
	int fds[2], err = -1;
	pid_t pid;

	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		cg_child(t->dir, fds[1], body);
	}
	t->pids[t->npids++] = pid;
	close(fds[1]);
	assert_int_equal(read(fds[0], &err, sizeof(err)), sizeof(err));
	assert_int_equal(read(fds[0], p, 2 * sizeof(*p)), 2 * sizeof(*p));
	close(fds[0]);
	assert_int_equal(err, 0);
	return pid;
}

/* A child enters: it is the one process there, cgroup.events says so, its
 * cgroup is the directory; waiting for the cgroup to empty times out while
 * it lives, and returns once it is killed. */
static void test_cg_enter(void **state)
{
	struct cg_test *t = *state;
	char events[PATH_MAX + 16], path[PATH_MAX + 16], of[PATH_MAX];
	pid_t pid, p[2];
	int64_t t0;
	int status;

	cg_need(t);
	cg_file(events, sizeof(events), t->dir, "cgroup.events");
	assert_int_equal(cm_cg_read_key(events, "populated"), 0);
	assert_int_equal(cm_cg_signal(t->dir, 0, 0), 0);
	assert_int_equal(cm_cg_wait_empty(t->dir, 0), 0);

	pid = cg_start(t, CG_ALONE, p);
	assert_int_equal(cm_cg_of_pid(pid, of, sizeof(of)), 0);
	assert_string_equal(of, t->dir);
	assert_int_equal(cm_cg_signal(t->dir, 0, 0), 1);
	assert_int_equal(cm_cg_read_key(events, "populated"), 1);
	assert_int_equal(cm_cg_read_key(events, "no-such-key"), -1);
	cg_file(path, sizeof(path), t->dir, "no-such-file");
	assert_int_equal(cm_cg_read_int(path), -1);
	assert_int_equal(cm_cg_read_key(path, "populated"), -1);

	t0 = cm_mono_ms();
	errno = 0;
	assert_int_equal(cm_cg_wait_empty(t->dir, 100), -1);
	assert_int_equal(errno, ETIMEDOUT);
	assert_true(cm_mono_ms() - t0 >= 100);

	assert_int_equal(cm_cg_kill(t->dir), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	t->pids[0] = 0;
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	assert_int_equal(cm_cg_wait_empty(t->dir, 2000), 0);
	assert_int_equal(cm_cg_read_key(events, "populated"), 0);
	assert_int_equal(cm_cg_signal(t->dir, 0, 0), 0);
}

/* A setsid grandchild and a double-forked one, out of the child's group
 * and (the second) of its descent: counted, killed with it by cm_cg_kill
 * (FROZEN: by cm_cg_signal(SIGKILL) in a frozen cgroup, what cm_cg_kill
 * does on a kernel without cgroup.kill), reaped here (we are their
 * subreaper). */
static void kill_escapees(struct cg_test *t, int frozen)
{
	pid_t pid, p[2];
	int status;

	/* The escapees come back to us when their parents die. */
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	pid = cg_start(t, CG_ESCAPEES, p);
	t->pids[t->npids++] = p[0];
	t->pids[t->npids++] = p[1];
	assert_true(p[0] > 0 && p[1] > 0);
	assert_int_not_equal(getpgid(p[0]), getpgid(pid));
	assert_int_equal(cm_cg_signal(t->dir, 0, 0), 3);
	errno = 0;
	assert_int_equal(cm_cg_wait_empty(t->dir, 10), -1);
	assert_int_equal(errno, ETIMEDOUT);

	if (frozen)
		assert_int_equal(cm_cg_signal(t->dir, SIGKILL, 1), 3);
	else
		assert_int_equal(cm_cg_kill(t->dir), 0);
	for (int i = 0; i < 3; i++) {
		pid_t w = i == 0 ? pid : p[i - 1];

		assert_int_equal(waitpid(w, &status, 0), w);
		t->pids[i] = 0;
		assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	}
	assert_int_equal(cm_cg_wait_empty(t->dir, 2000), 0);
	assert_int_equal(cm_cg_signal(t->dir, 0, 0), 0);
	if (frozen) {
		char events[PATH_MAX + 16];

		/* Thawed after. */
		cg_file(events, sizeof(events), t->dir, "cgroup.events");
		assert_int_equal(cm_cg_read_key(events, "frozen"), 0);
	}
}

static void test_cg_kill_escapees(void **state)
{
	cg_need(*state);
	kill_escapees(*state, 0);
}

static void test_cg_signal_frozen(void **state)
{
	cg_need(*state);
	kill_escapees(*state, 1);
}

/* A cgroup that is gone: killing it is done already, waiting for it is
 * over, signalling it is ENOENT, entering it fails. */
static void test_cg_gone(void **state)
{
	struct cg_test *t = *state;
	char gone[PATH_MAX + 16];

	cg_need(t);
	cg_file(gone, sizeof(gone), t->dir, "gone");
	assert_int_equal(cm_cg_kill(gone), 0);
	assert_int_equal(cm_cg_wait_empty(gone, 10), 0);
	errno = 0;
	assert_int_equal(cm_cg_signal(gone, 0, 0), -1);
	assert_int_equal(errno, ENOENT);
	errno = 0;
	assert_int_equal(cm_cg_enter(gone), -1);
	assert_int_equal(errno, ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_all_short),
		cmocka_unit_test(test_write_all_pipe),
		cmocka_unit_test(test_write_all_errors),
		cmocka_unit_test(test_read_all),
		cmocka_unit_test(test_clocks),
		cmocka_unit_test(test_grow),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_ints),
		cmocka_unit_test(test_signals),
		cmocka_unit_test(test_proc_self),
		cmocka_unit_test(test_proc_dead),
		cmocka_unit_test(test_proc_odd_name),
		cmocka_unit_test_setup_teardown(test_cg_enter, cg_setup,
						cg_teardown),
		cmocka_unit_test_setup_teardown(test_cg_kill_escapees, cg_setup,
						cg_teardown),
		cmocka_unit_test_setup_teardown(test_cg_signal_frozen, cg_setup,
						cg_teardown),
		cmocka_unit_test_setup_teardown(test_cg_gone, cg_setup,
						cg_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
