/*
 * test_common.c - the leaf helpers of common/: the clocks, cm_write_all
 * across a pipe with short writes and EINTR (write() is wrapped by the
 * linker, see common/include.am), array growth, the grammar of durations,
 * sizes, whole numbers and signals, and the /proc/PID/stat reader on this
 * process, a zombie, a dead pid and a command name full of parentheses.
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

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

/* Across a pipe with a slower reader: more than the pipe holds. */
static void test_write_all_pipe(void **state)
{
	enum { N = 1 << 20 };
	char *in = malloc(N), *out = malloc(N);
	size_t got = 0;
	ssize_t n;
	int fds[2], status;
	pid_t pid;

	(void)state;
	assert_non_null(in);
	assert_non_null(out);
	fill(in, N);
	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		_exit(cm_write_all(fds[1], in, N) == 0 ? 0 : 1);
	}
	close(fds[1]);
	while ((n = read(fds[0], out + got, got + 4096 < N ? 4096 : N - got)) >
	       0)
		got += (size_t)n;
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(got, N);
	assert_memory_equal(in, out, N);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_all_short),
		cmocka_unit_test(test_write_all_pipe),
		cmocka_unit_test(test_write_all_errors),
		cmocka_unit_test(test_clocks),
		cmocka_unit_test(test_grow),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_ints),
		cmocka_unit_test(test_signals),
		cmocka_unit_test(test_proc_self),
		cmocka_unit_test(test_proc_dead),
		cmocka_unit_test(test_proc_odd_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
