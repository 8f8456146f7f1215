/*
 * test_ctl.c - the supervisor <-> worker contract (worker/ctl.h): the argv
 * the supervisor builds is the one the worker parses, the control lines
 * round-trip, and the marker recognises a worker of one state dir only.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "worker/ctl.h"

static int argc_of(char **v)
{
	int n = 0;

	while (v[n])
		n++;
	return n;
}

static void test_argv_round_trip(void **state)
{
	char *command[] = {"/bin/sh", "-c", "echo --log x", NULL};
	struct wrk_ctl_args in, out;
	char err[128], **argv;

	(void)state;
	wrk_ctl_args_init(&in);
	in.log = "/s/.smithers/logs/agents/1/a.log";
	in.log_max = 12345;
	in.log_keep = 7;
	in.stop_signal = SIGINT;
	in.stop_grace_ms = 2500;
	in.cwd = "/tmp";
	in.parent = 4242;
	in.crash_rotation = 3;
	in.adapter = WRK_ADAPTER_CLAUDE;
	in.line_max = 1 << 20;
	in.frame_max = 65536;
	in.await = 1;
	in.command = command;
	argv = wrk_ctl_argv("/usr/libexec/smithers/smithers-worker", &in);
	assert_non_null(argv);
	assert_int_equal(wrk_ctl_parse(argc_of(argv), argv, &out, err,
				       sizeof(err)),
			 0);
	assert_string_equal(out.log, in.log);
	assert_int_equal(out.log_max, 12345);
	assert_int_equal(out.log_keep, 7);
	assert_int_equal(out.stop_signal, SIGINT);
	assert_int_equal(out.stop_grace_ms, 2500);
	assert_string_equal(out.cwd, "/tmp");
	assert_int_equal(out.parent, 4242);
	assert_int_equal(out.adapter, WRK_ADAPTER_CLAUDE);
	assert_int_equal(out.line_max, 1 << 20);
	assert_int_equal(out.frame_max, 65536);
	assert_int_equal(out.await, 1);
#ifdef SMITHERS_FAILPOINTS
	assert_int_equal(out.crash_rotation, 3);
#else
	/* Without failpoints, the flag is not even passed. */
	for (char **p = argv; *p; p++)
		assert_null(strstr(*p, "crash"));
#endif
	assert_string_equal(out.command[0], "/bin/sh");
	assert_string_equal(out.command[2], "echo --log x");
	assert_null(out.command[3]);
	wrk_ctl_argv_free(argv);
}

/* A worker for another agent is started as before: no --claude and no
 * limits on its command line, and they default to off and 0. */
static void test_claude_flags_off(void **state)
{
	char *command[] = {"agent", NULL};
	char *bad_line_max[] = {"w", "--line-max", "-1", "--", "a", NULL};
	struct wrk_ctl_args in, out;
	char err[128], **argv;

	(void)state;
	wrk_ctl_args_init(&in);
	in.command = command;
	argv = wrk_ctl_argv("w", &in);
	assert_non_null(argv);
	for (char **p = argv; *p; p++) {
		assert_null(strstr(*p, "claude"));
		assert_null(strstr(*p, "codex"));
		assert_null(strstr(*p, "line-max"));
		assert_null(strstr(*p, "frame-max"));
	}
	assert_int_equal(wrk_ctl_parse(argc_of(argv), argv, &out, err,
				       sizeof(err)),
			 0);
	assert_int_equal(out.adapter, WRK_ADAPTER_NONE);
	assert_int_equal(out.line_max, 0);
	assert_int_equal(out.frame_max, 0);
	wrk_ctl_argv_free(argv);
	assert_int_equal(wrk_ctl_parse(5, bad_line_max, &out, err, sizeof(err)),
			 -1);
	assert_string_equal(err, "invalid --line-max '-1'");
}

/* --codex round-trips like --claude; the two together are refused. */
static void test_codex_flag(void **state)
{
	char *command[] = {"codex", "exec", "--json", "hi", NULL};
	char *both[] = {"w", "--claude", "--codex", "--", "a", NULL};
	char *twice[] = {"w", "--codex", "--codex", "--", "a", NULL};
	struct wrk_ctl_args in, out;
	char err[128], **argv;
	int seen = 0;

	(void)state;
	wrk_ctl_args_init(&in);
	in.adapter = WRK_ADAPTER_CODEX;
	in.line_max = 4096;
	in.command = command;
	argv = wrk_ctl_argv("w", &in);
	assert_non_null(argv);
	for (char **p = argv; *p && strcmp(*p, "--"); p++) {
		assert_null(strstr(*p, "claude"));
		seen += !strcmp(*p, "--codex");
	}
	assert_int_equal(seen, 1);
	assert_int_equal(wrk_ctl_parse(argc_of(argv), argv, &out, err,
				       sizeof(err)),
			 0);
	assert_int_equal(out.adapter, WRK_ADAPTER_CODEX);
	assert_int_equal(out.line_max, 4096);
	assert_string_equal(out.command[3], "hi");
	wrk_ctl_argv_free(argv);
	assert_int_equal(wrk_ctl_parse(5, both, &out, err, sizeof(err)), -1);
	assert_string_equal(err, "--codex: one of --claude and --codex only");
	assert_int_equal(wrk_ctl_parse(5, twice, &out, err, sizeof(err)), -1);
	assert_non_null(strstr(wrk_ctl_usage, "--codex"));
}

/* --cgroup and up to WRK_CGROUP_V1_MAX --cgroup-v1 round-trip, in order;
 * without them, none is passed; a fifth --cgroup-v1 and an empty
 * directory are refused. */
static void test_cgroup_flags(void **state)
{
	char *command[] = {"agent", NULL};
	char *five[] = {"w", "--cgroup-v1", "/a", "--cgroup-v1", "/b",
			"--cgroup-v1", "/c", "--cgroup-v1", "/d",
			"--cgroup-v1", "/e", "--", "a", NULL};
	char *empty[] = {"w", "--cgroup", "", "--", "a", NULL};
	struct wrk_ctl_args in, out;
	char err[128], **argv;

	(void)state;
	wrk_ctl_args_init(&in);
	in.command = command;
	argv = wrk_ctl_argv("w", &in);
	assert_non_null(argv);
	for (char **p = argv; *p; p++)
		assert_null(strstr(*p, "cgroup"));
	assert_int_equal(wrk_ctl_parse(argc_of(argv), argv, &out, err,
				       sizeof(err)),
			 0);
	assert_null(out.cgroup);
	assert_int_equal(out.ncgroup_v1, 0);
	wrk_ctl_argv_free(argv);

	in.cgroup = "/sys/fs/cgroup/unified/smithers/agent-3-1";
	in.cgroup_v1[0] = "/sys/fs/cgroup/memory/smithers/agent-3-1";
	in.cgroup_v1[1] = "/sys/fs/cgroup/pids/smithers/agent-3-1";
	in.cgroup_v1[2] = "/sys/fs/cgroup/cpu/smithers/agent-3-1";
	in.cgroup_v1[3] = "/sys/fs/cgroup/blkio/smithers/agent-3-1";
	in.ncgroup_v1 = WRK_CGROUP_V1_MAX;
	argv = wrk_ctl_argv("w", &in);
	assert_non_null(argv);
	assert_int_equal(wrk_ctl_parse(argc_of(argv), argv, &out, err,
				       sizeof(err)),
			 0);
	assert_string_equal(out.cgroup, in.cgroup);
	assert_int_equal(out.ncgroup_v1, WRK_CGROUP_V1_MAX);
	for (int i = 0; i < WRK_CGROUP_V1_MAX; i++)
		assert_string_equal(out.cgroup_v1[i], in.cgroup_v1[i]);
	assert_string_equal(out.command[0], "agent");
	wrk_ctl_argv_free(argv);

	assert_int_equal(wrk_ctl_parse(argc_of(five), five, &out, err,
				       sizeof(err)),
			 -1);
	assert_string_equal(err, "--cgroup-v1: at most 4 directories");
	assert_int_equal(wrk_ctl_parse(5, empty, &out, err, sizeof(err)), -1);
	assert_string_equal(err, "invalid --cgroup ''");
	assert_non_null(strstr(wrk_ctl_usage, "--cgroup-v1"));
}

static void test_parse_errors(void **state)
{
	char *bad_flag[] = {"w", "--nope", "--", "true", NULL};
	char *bad_value[] = {"w", "--log-keep", "101", "--", "true", NULL};
	char *no_command[] = {"w", "--log", "x", NULL};
	char *help[] = {"w", "--help", NULL};
	struct wrk_ctl_args a;
	char err[128];

	(void)state;
	assert_int_equal(wrk_ctl_parse(4, bad_flag, &a, err, sizeof(err)), -1);
	assert_string_equal(err, "unknown option '--nope'");
	assert_int_equal(wrk_ctl_parse(5, bad_value, &a, err, sizeof(err)),
			 -1);
	assert_string_equal(err, "invalid --log-keep '101'");
	assert_int_equal(wrk_ctl_parse(3, no_command, &a, err, sizeof(err)),
			 -1);
	assert_int_equal(wrk_ctl_parse(2, help, &a, err, sizeof(err)), 1);
}

static void test_lines(void **state)
{
	char buf[64];
	long pid = 0;
	size_t n;

	(void)state;
	n = wrk_ctl_format(buf, sizeof(buf), WRK_CTL_AGENT, 31337);
	assert_int_equal(n, strlen("agent 31337\n"));
	buf[n - 1] = '\0';
	assert_int_equal(wrk_ctl_parse_line(buf, &pid), WRK_CTL_AGENT);
	assert_int_equal(pid, 31337);
	n = wrk_ctl_format(buf, sizeof(buf), WRK_CTL_DONE, 0);
	buf[n - 1] = '\0';
	assert_int_equal(wrk_ctl_parse_line(buf, &pid), WRK_CTL_DONE);
	n = wrk_ctl_format(buf, sizeof(buf), WRK_CTL_TRANSIENT, 0);
	buf[n - 1] = '\0';
	assert_int_equal(wrk_ctl_parse_line(buf, &pid), WRK_CTL_TRANSIENT);
	/* "ended" carries a wait status, 0 included. */
	n = wrk_ctl_format(buf, sizeof(buf), WRK_CTL_ENDED, 9);
	assert_int_equal(n, strlen("ended 9\n"));
	buf[n - 1] = '\0';
	assert_int_equal(wrk_ctl_parse_line(buf, &pid), WRK_CTL_ENDED);
	assert_int_equal(pid, 9);
	assert_int_equal(wrk_ctl_parse_line("ended 0", &pid), WRK_CTL_ENDED);
	assert_int_equal(pid, 0);
	assert_int_equal(wrk_ctl_parse_line("ended -1", &pid), WRK_CTL_OTHER);
	assert_int_equal(wrk_ctl_parse_line("ended", &pid), WRK_CTL_OTHER);
	assert_int_equal(wrk_ctl_parse_line("agent 12x", &pid), WRK_CTL_OTHER);
	assert_int_equal(wrk_ctl_parse_line("agent -1", &pid), WRK_CTL_OTHER);
	assert_int_equal(wrk_ctl_parse_line("cannot run 'x'", &pid),
			 WRK_CTL_OTHER);
	assert_true(wrk_transient_errno(EAGAIN));
	assert_false(wrk_transient_errno(ENOENT));
}

/* The inode of FD, to tell that two fds are one pipe. */
static ino_t inode(int fd)
{
	struct stat sb;

	assert_int_equal(fstat(fd, &sb), 0);
	return sb.st_ino;
}

/* The next attempt goes down a socket whole: the command line the worker
 * parses, the environment, both pipe ends, close-on-exec. */
static void test_next_round_trip(void **state)
{
	char *command[] = {"sleep", "9", NULL};
	char *env[] = {"SMITHERS_TOKEN=ab", "EMPTY=", "PATH=/bin", NULL};
	struct wrk_ctl_args in, out;
	struct wrk_ctl_next n;
	int sv[2], up[2], down[2];
	char **argv, err[128];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(pipe(up), 0);
	assert_int_equal(pipe(down), 0);
	wrk_ctl_args_init(&in);
	in.log = "/s/.smithers/logs/agents/1/a.log";
	in.cgroup = "/sys/fs/cgroup/smithers-1/a-2";
	in.await = 1;
	in.command = command;
	argv = wrk_ctl_argv("/x/smithers-worker", &in);
	assert_non_null(argv);
	assert_int_equal(wrk_ctl_send_next(sv[0], argv, env, up[1], down[0]),
			 0);
	assert_int_equal(wrk_ctl_recv_next(sv[1], &n), 1);
	assert_int_equal(n.argc, argc_of(argv));
	for (int i = 0; i < n.argc; i++)
		assert_string_equal(n.argv[i], argv[i]);
	assert_null(n.argv[n.argc]);
	for (int i = 0; i < 3; i++)
		assert_string_equal(n.env[i], env[i]);
	assert_null(n.env[3]);
	assert_int_equal(inode(n.up), inode(up[1]));
	assert_int_equal(inode(n.down), inode(down[0]));
	assert_int_equal(fcntl(n.up, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	assert_int_equal(wrk_ctl_parse(n.argc, n.argv, &out, err, sizeof(err)),
			 0);
	assert_string_equal(out.cgroup, in.cgroup);
	assert_int_equal(out.await, 1);
	assert_string_equal(out.command[0], "sleep");
	wrk_ctl_next_free(&n);
	assert_int_equal(n.up, -1);
	assert_null(n.mem);
	wrk_ctl_argv_free(argv);
	for (int i = 0; i < 2; i++) {
		close(sv[i]);
		close(up[i]);
		close(down[i]);
	}
}

/* The supervisor closed its end: no next attempt, and no error. */
static void test_next_end(void **state)
{
	struct wrk_ctl_next n;
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	close(sv[0]);
	assert_int_equal(wrk_ctl_recv_next(sv[1], &n), 0);
	close(sv[1]);
}

/* How many fds this process has open. */
static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* Write LEN bytes of MSG to a fresh socket with NFDS pipe ends, close the
 * writing end, and read it as a next attempt: what recv says, errno in
 * *ERR. No fd it received may be left open. */
static int recv_raw(const void *msg, size_t len, int nfds, int *err)
{
	struct wrk_ctl_next n = {.up = -1, .down = -1, .ctl = -1};
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(3 * sizeof(int))];
	} u;
	struct iovec iov = {.iov_base = (void *)msg, .iov_len = len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	int sv[2], p[2], fds[3], rc, before = open_fds();

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(pipe(p), 0);
	for (int i = 0; i < 3; i++)
		fds[i] = p[i % 2];
	if (nfds) {
		struct cmsghdr *cm;

		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int));
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
		memcpy(CMSG_DATA(cm), fds, (size_t)nfds * sizeof(int));
	}
	assert_int_equal(sendmsg(sv[0], &mh, 0), (ssize_t)len);
	close(sv[0]);
	close(p[0]);
	close(p[1]);
	errno = 0;
	rc = wrk_ctl_recv_next(sv[1], &n);
	*err = errno;
	if (rc == 1)
		wrk_ctl_next_free(&n);
	close(sv[1]);
	/* Every fd received was closed. */
	assert_int_equal(open_fds(), before);
	return rc;
}

struct raw_next {
	uint32_t magic, argc, envc, len;
	char strings[32];
};

/* Not ours, cut short, strings that do not fill it or overrun it, the
 * wrong number of fds: refused (EPROTO), and nothing received kept. */
static void test_next_malformed(void **state)
{
	struct raw_next good = {WRK_CTL_NEXT_MAGIC, 2, 1, 9, "w\0--\0E=1"};
	struct raw_next m;
	size_t whole = 16 + 9;
	int err;

	(void)state;
	/* The well-formed one, sent by hand, is taken. */
	assert_int_equal(recv_raw(&good, whole, 2, &err), 1);

	m = good;
	m.magic = 0x12345678;
	assert_int_equal(recv_raw(&m, whole, 2, &err), -1);
	assert_int_equal(err, EPROTO);
	/* Cut short: in the header, in the strings. */
	assert_int_equal(recv_raw(&good, 10, 2, &err), -1);
	assert_int_equal(err, EPROTO);
	assert_int_equal(recv_raw(&good, whole - 3, 2, &err), -1);
	assert_int_equal(err, EPROTO);
	/* More strings counted than sent, fewer, none at all. */
	m = good;
	m.envc = 2;
	assert_int_equal(recv_raw(&m, whole, 2, &err), -1);
	assert_int_equal(err, EPROTO);
	m = good;
	m.envc = 0;
	assert_int_equal(recv_raw(&m, whole, 2, &err), -1);
	assert_int_equal(err, EPROTO);
	m = good;
	m.argc = 0;
	m.envc = 3;
	assert_int_equal(recv_raw(&m, whole, 2, &err), -1);
	assert_int_equal(err, EPROTO);
	/* The last string not ended. */
	m = good;
	m.len = 8;
	assert_int_equal(recv_raw(&m, 16 + 8, 2, &err), -1);
	assert_int_equal(err, EPROTO);
	/* Past the bound, whatever follows. */
	m = good;
	m.len = WRK_CTL_NEXT_MAX + 1;
	assert_int_equal(recv_raw(&m, whole, 2, &err), -1);
	assert_int_equal(err, EPROTO);
	/* No fds, one, three. */
	assert_int_equal(recv_raw(&good, whole, 0, &err), -1);
	assert_int_equal(err, EPROTO);
	assert_int_equal(recv_raw(&good, whole, 1, &err), -1);
	assert_int_equal(err, EPROTO);
	assert_int_equal(recv_raw(&good, whole, 3, &err), -1);
	assert_int_equal(err, EPROTO);
}

/* Too big to send, or more than the socket takes now: refused, and said
 * so, so that the supervisor starts a new worker instead. */
static void test_next_too_big(void **state)
{
	size_t big = WRK_CTL_NEXT_MAX / 2 + 1;
	char *s = malloc(big), *argv[] = {"w", s, s, NULL};
	char *env[] = {NULL};
	int sv[2], p[2], buf = 4096;

	(void)state;
	assert_non_null(s);
	memset(s, 'x', big - 1);
	s[big - 1] = '\0';
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(wrk_ctl_send_next(sv[0], argv, env, p[0], p[1]), -1);
	assert_int_equal(errno, E2BIG);
	/* Under the bound, over the socket's buffer: a part, or nothing. */
	argv[2] = NULL;
	assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &buf,
				    sizeof(buf)),
			 0);
	assert_int_equal(wrk_ctl_send_next(sv[0], argv, env, p[0], p[1]), -1);
	assert_int_equal(errno, EAGAIN);
	free(s);
	close(p[0]);
	close(p[1]);
	close(sv[0]);
	close(sv[1]);
}

/* A spawn for the zygote: the next attempt's message with the worker's
 * control socket as a third fd. Neither reader takes the other's. */
static void test_spawn_round_trip(void **state)
{
	char *argv[] = {"/x/smithers-worker", "--", "true", NULL};
	char *env[] = {"A=1", NULL};
	struct wrk_ctl_next n;
	int sv[2], p[2], ctl[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, ctl), 0);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(
		wrk_ctl_send_spawn(sv[0], argv, env, p[1], p[0], ctl[1]), 0);
	assert_int_equal(wrk_ctl_recv_spawn(sv[1], &n), 1);
	assert_int_equal(n.argc, 3);
	assert_string_equal(n.argv[2], "true");
	assert_string_equal(n.env[0], "A=1");
	assert_int_equal(inode(n.up), inode(p[1]));
	assert_int_equal(inode(n.down), inode(p[0]));
	assert_int_equal(inode(n.ctl), inode(ctl[1]));
	assert_int_equal(fcntl(n.ctl, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	wrk_ctl_next_free(&n);
	assert_int_equal(n.ctl, -1);
	/* A spawn is no next attempt, nor the other way round. */
	assert_int_equal(
		wrk_ctl_send_spawn(sv[0], argv, env, p[1], p[0], ctl[1]), 0);
	assert_int_equal(wrk_ctl_recv_next(sv[1], &n), -1);
	assert_int_equal(errno, EPROTO);
	close(sv[0]);
	close(sv[1]);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(wrk_ctl_send_next(sv[0], argv, env, p[1], p[0]), 0);
	assert_int_equal(wrk_ctl_recv_spawn(sv[1], &n), -1);
	assert_int_equal(errno, EPROTO);
	for (int i = 0; i < 2; i++) {
		close(sv[i]);
		close(p[i]);
		close(ctl[i]);
	}
}

/* The zygote's answers. */
static void test_spawned_lines(void **state)
{
	char buf[64];
	size_t n;
	int err;

	(void)state;
	assert_int_equal(wrk_ctl_format_spawned(buf, sizeof(buf), 4321, 0),
			 12);
	assert_string_equal(buf, "worker 4321\n");
	n = wrk_ctl_format_spawned(buf, sizeof(buf), -1, EAGAIN);
	assert_int_equal(n, strlen(buf));
	assert_int_equal(buf[n - 1], '\n');
	buf[n - 1] = '\0';
	assert_int_equal(wrk_ctl_parse_spawned(buf, &err), -1);
	assert_int_equal(err, EAGAIN);
	assert_int_equal(wrk_ctl_parse_spawned("worker 4321", &err), 4321);
	assert_int_equal(err, 0);
	/* Anything else is a complaint: no pid, no errno. */
	const char *bad[] = {"worker 0",     "worker -5", "worker 12x",
			     "worker ",	     "worker 099", "failed 0",
			     "failed",	     "agent 12",  "",
			     "worker 99999999999"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		assert_int_equal(wrk_ctl_parse_spawned(bad[i], &err), -1);
		assert_int_equal(err, 0);
	}
}

/* /proc/PID/cmdline of a worker the supervisor would have started. */
static size_t cmdline(char *buf, size_t len, const char *worker,
		      const char *log)
{
	char *command[] = {"/bin/sh", "-c", "sleep 9", NULL};
	struct wrk_ctl_args a;
	char **argv;
	size_t n = 0;

	wrk_ctl_args_init(&a);
	a.log = log;
	a.command = command;
	argv = wrk_ctl_argv(worker, &a);
	for (char **p = argv; *p; p++) {
		size_t l = strlen(*p) + 1;

		assert_true(n + l < len);
		memcpy(buf + n, *p, l);
		n += l;
	}
	buf[n] = '\0';
	wrk_ctl_argv_free(argv);
	return n;
}

static void test_marker(void **state)
{
	const char *dir = "/p/.smithers";
	char buf[1024];
	size_t n;

	(void)state;
	n = cmdline(buf, sizeof(buf), "/x/smithers-worker",
		    "/p/.smithers/logs/agents/3/a.log");
	assert_string_equal(wrk_ctl_worker_of(buf, n, dir),
			    "/p/.smithers/logs/agents/3/a.log");
	/* Another state dir, one whose name only starts like ours, another
	 * program, a log elsewhere in the dir: not ours. */
	assert_null(wrk_ctl_worker_of(buf, n, "/q/.smithers"));
	n = cmdline(buf, sizeof(buf), "/x/smithers-worker",
		    "/p/.smithers2/logs/agents/3/a.log");
	assert_null(wrk_ctl_worker_of(buf, n, dir));
	n = cmdline(buf, sizeof(buf), "/x/not-a-worker",
		    "/p/.smithers/logs/agents/3/a.log");
	assert_null(wrk_ctl_worker_of(buf, n, dir));
	n = cmdline(buf, sizeof(buf), "smithers-worker",
		    "/p/.smithers/supervisor.log");
	assert_null(wrk_ctl_worker_of(buf, n, dir));
	assert_null(wrk_ctl_worker_of("", 0, dir));
	/* A zygote of the dir, and each worker it forked: ours. */
	static const char z[] = "/x/smithers-worker\0--zygote\0"
				"/p/.smithers/logs/agents/\0" "77";
	assert_string_equal(wrk_ctl_worker_of(z, sizeof(z) - 1, dir),
			    "/p/.smithers/logs/agents/");
	assert_null(wrk_ctl_worker_of(z, sizeof(z) - 1, "/q/.smithers"));
	static const char bare[] = "/x/smithers-worker\0--zygote";
	assert_null(wrk_ctl_worker_of(bare, sizeof(bare) - 1, dir));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_argv_round_trip),
		cmocka_unit_test(test_claude_flags_off),
		cmocka_unit_test(test_codex_flag),
		cmocka_unit_test(test_cgroup_flags),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_next_round_trip),
		cmocka_unit_test(test_next_end),
		cmocka_unit_test(test_next_malformed),
		cmocka_unit_test(test_next_too_big),
		cmocka_unit_test(test_spawn_round_trip),
		cmocka_unit_test(test_spawned_lines),
		cmocka_unit_test(test_marker),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
