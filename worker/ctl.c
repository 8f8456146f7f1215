/*
 * ctl.c - the supervisor <-> worker contract (ctl.h): the worker's command
 * line, built by the supervisor and parsed by the worker from one table of
 * flags, the control lines, and the marker recovery looks for.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/io.h"
#include "common/units.h"
#include "worker/ctl.h"

/* The flags, in the order the supervisor passes them. */
enum flag {
	F_LOG,
	F_LOG_MAX,
	F_LOG_KEEP,
	F_STOP_SIGNAL,
	F_STOP_GRACE,
	F_CWD,
	F_PARENT,
	F_CLAUDE,
	F_CODEX,
	F_LINE_MAX,
	F_FRAME_MAX,
	F_CGROUP,
	F_CGROUP_V1, /* repeated: one per v1 hierarchy */
	F_AWAIT,
	F_HELP,
	F_CRASH_ROTATION, /* builds with failpoints only */
	NFLAGS
};

static const struct option options[] = {
	[F_LOG] = {"log", required_argument, NULL, F_LOG},
	[F_LOG_MAX] = {"log-max", required_argument, NULL, F_LOG_MAX},
	[F_LOG_KEEP] = {"log-keep", required_argument, NULL, F_LOG_KEEP},
	[F_STOP_SIGNAL] = {"stop-signal", required_argument, NULL,
			   F_STOP_SIGNAL},
	[F_STOP_GRACE] = {"stop-grace", required_argument, NULL, F_STOP_GRACE},
	[F_CWD] = {"cwd", required_argument, NULL, F_CWD},
	[F_PARENT] = {"parent", required_argument, NULL, F_PARENT},
	[F_CLAUDE] = {"claude", no_argument, NULL, F_CLAUDE},
	[F_CODEX] = {"codex", no_argument, NULL, F_CODEX},
	[F_LINE_MAX] = {"line-max", required_argument, NULL, F_LINE_MAX},
	[F_FRAME_MAX] = {"frame-max", required_argument, NULL, F_FRAME_MAX},
	[F_CGROUP] = {"cgroup", required_argument, NULL, F_CGROUP},
	[F_CGROUP_V1] = {"cgroup-v1", required_argument, NULL, F_CGROUP_V1},
	[F_AWAIT] = {"await", no_argument, NULL, F_AWAIT},
	[F_HELP] = {"help", no_argument, NULL, F_HELP},
#ifdef SMITHERS_FAILPOINTS
	[F_CRASH_ROTATION] = {"crash-at-rotation", required_argument, NULL,
			      F_CRASH_ROTATION},
#endif
	/* Without failpoints, F_CRASH_ROTATION's empty entry ends it. */
	[NFLAGS] = {NULL, 0, NULL, 0},
};

const char wrk_ctl_usage[] =
	"usage: smithers-worker [--log PATH] [--log-max BYTES] "
	"[--log-keep N]\n"
	"                       [--stop-signal N] [--stop-grace MS] "
	"[--cwd DIR]\n"
	"                       [--parent PID] [--claude | --codex] "
	"[--line-max BYTES]\n"
	"                       [--frame-max BYTES] [--cgroup DIR] "
	"[--cgroup-v1 DIR]...\n"
	"                       [--await]"
#ifdef SMITHERS_FAILPOINTS
	" [--crash-at-rotation N]"
#endif
	" -- COMMAND [ARG...]\n"
	"Started by the smithers supervisor with the agent's protocol "
	"pipes at\nfds 3 and 4 and its control socket at fd 5; not meant "
	"to be run by hand.\n"
	"--claude: the agent is a Claude Code CLI printing stream-json; "
	"--codex: a\nCodex CLI printing `codex exec --json`. The worker "
	"speaks the protocol for\nit on fds 3 and 4, reading lines of at "
	"most --line-max bytes (0: 64 MiB)\nand sending frames of at most "
	"--frame-max bytes (0: 1 MiB).\n"
	"--cgroup: the agent's cgroup v2 directory, entered before exec; "
	"stopping or\nending the agent kills every process in it. "
	"--cgroup-v1 (at most 4): a\ncgroup v1 directory the agent enters "
	"too (limits on a hybrid host).\n"
	"--await: when the agent ended, say \"ended STATUS\" on fd 5 and "
	"wait there for\nthe supervisor's next attempt, or for the "
	"socket's end.\n";

_Static_assert(WRK_FD_UP == 3 && WRK_FD_DOWN == 4 && WRK_FD_CTL == 5,
	       "wrk_ctl_usage names the fds");

void wrk_ctl_args_init(struct wrk_ctl_args *a)
{
	memset(a, 0, sizeof(*a));
	a->log_max = 10 * 1024 * 1024;
	a->log_keep = 3;
	a->stop_signal = SIGTERM;
	a->stop_grace_ms = 10000;
}

void wrk_ctl_argv_free(char **argv)
{
	for (char **p = argv; p && *p; p++)
		free(*p);
	free(argv);
}

/* Append a copy of S (a NULL S: a failure already) to V at *N. */
static int put(char **v, size_t *n, char *s)
{
	if (!s)
		return -1;
	v[(*n)++] = s;
	return 0;
}

static char *flag(enum flag f)
{
	char *s;

	return asprintf(&s, "--%s", options[f].name) < 0 ? NULL : s;
}

static char *number(int64_t v)
{
	char *s;

	return asprintf(&s, "%" PRId64, v) < 0 ? NULL : s;
}

char **wrk_ctl_argv(const char *worker, const struct wrk_ctl_args *a)
{
	size_t ncmd = 0, n = 0;
	char **v;
	int rc = 0;

	while (a->command && a->command[ncmd])
		ncmd++;
	/* Two slots a flag, WRK_CGROUP_V1_MAX for the repeated one. */
	v = calloc(2 * (NFLAGS + WRK_CGROUP_V1_MAX) + ncmd + 3, sizeof(*v));
	if (!v)
		return NULL;
	rc |= put(v, &n, strdup(worker));
	if (a->log) {
		rc |= put(v, &n, flag(F_LOG));
		rc |= put(v, &n, strdup(a->log));
	}
	rc |= put(v, &n, flag(F_LOG_MAX));
	rc |= put(v, &n, number(a->log_max));
	rc |= put(v, &n, flag(F_LOG_KEEP));
	rc |= put(v, &n, number(a->log_keep));
	rc |= put(v, &n, flag(F_STOP_SIGNAL));
	rc |= put(v, &n, number(a->stop_signal));
	rc |= put(v, &n, flag(F_STOP_GRACE));
	rc |= put(v, &n, number(a->stop_grace_ms));
	if (a->cwd) {
		rc |= put(v, &n, flag(F_CWD));
		rc |= put(v, &n, strdup(a->cwd));
	}
	if (a->parent) {
		rc |= put(v, &n, flag(F_PARENT));
		rc |= put(v, &n, number(a->parent));
	}
	if (a->adapter == WRK_ADAPTER_CLAUDE)
		rc |= put(v, &n, flag(F_CLAUDE));
	else if (a->adapter == WRK_ADAPTER_CODEX)
		rc |= put(v, &n, flag(F_CODEX));
	if (a->line_max) {
		rc |= put(v, &n, flag(F_LINE_MAX));
		rc |= put(v, &n, number(a->line_max));
	}
	if (a->frame_max) {
		rc |= put(v, &n, flag(F_FRAME_MAX));
		rc |= put(v, &n, number(a->frame_max));
	}
	if (a->cgroup) {
		rc |= put(v, &n, flag(F_CGROUP));
		rc |= put(v, &n, strdup(a->cgroup));
	}
	for (int i = 0; i < a->ncgroup_v1 && i < WRK_CGROUP_V1_MAX; i++) {
		rc |= put(v, &n, flag(F_CGROUP_V1));
		rc |= put(v, &n, strdup(a->cgroup_v1[i]));
	}
	if (a->await)
		rc |= put(v, &n, flag(F_AWAIT));
#ifdef SMITHERS_FAILPOINTS
	if (a->crash_rotation) {
		rc |= put(v, &n, flag(F_CRASH_ROTATION));
		rc |= put(v, &n, number(a->crash_rotation));
	}
#endif
	rc |= put(v, &n, strdup("--"));
	for (size_t i = 0; i < ncmd; i++)
		rc |= put(v, &n, strdup(a->command[i]));
	if (rc) {
		wrk_ctl_argv_free(v);
		errno = ENOMEM;
		return NULL;
	}
	return v;
}

/* The value of flag F into A: 0, or -1 when it is out of its range. */
static int set(struct wrk_ctl_args *a, enum flag f, char *arg)
{
	int64_t v;

	switch (f) {
	case F_LOG:
		a->log = arg;
		return 0;
	case F_LOG_MAX:
		return cm_parse_int(arg, 0, INT64_MAX, &a->log_max);
	case F_LOG_KEEP:
		if (cm_parse_int(arg, 0, 100, &v) < 0)
			return -1;
		a->log_keep = (int)v;
		return 0;
	case F_STOP_SIGNAL:
		if (cm_parse_int(arg, 1, NSIG - 1, &v) < 0)
			return -1;
		a->stop_signal = (int)v;
		return 0;
	case F_STOP_GRACE:
		return cm_parse_int(arg, 0, INT64_MAX / 2, &a->stop_grace_ms);
	case F_CWD:
		a->cwd = arg;
		return 0;
	case F_PARENT:
		if (cm_parse_int(arg, 1, INT32_MAX, &v) < 0)
			return -1;
		a->parent = (pid_t)v;
		return 0;
	case F_CLAUDE:
	case F_CODEX:
		/* One adapter: a second flag is a mistake, not a choice. */
		if (a->adapter != WRK_ADAPTER_NONE)
			return -1;
		a->adapter =
			f == F_CLAUDE ? WRK_ADAPTER_CLAUDE : WRK_ADAPTER_CODEX;
		return 0;
	case F_LINE_MAX:
		return cm_parse_int(arg, 0, INT64_MAX, &a->line_max);
	case F_FRAME_MAX:
		return cm_parse_int(arg, 0, INT64_MAX, &a->frame_max);
	case F_CGROUP:
		if (!*arg)
			return -1;
		a->cgroup = arg;
		return 0;
	case F_CGROUP_V1:
		if (!*arg || a->ncgroup_v1 >= WRK_CGROUP_V1_MAX)
			return -1;
		a->cgroup_v1[a->ncgroup_v1++] = arg;
		return 0;
	case F_AWAIT:
		a->await = 1;
		return 0;
#ifdef SMITHERS_FAILPOINTS
	case F_CRASH_ROTATION:
		return cm_parse_int(arg, 1, INT64_MAX, &a->crash_rotation);
#endif
	default:
		return -1;
	}
}

int wrk_ctl_parse(int argc, char **argv, struct wrk_ctl_args *a, char *err,
		  size_t errlen)
{
	int c;

	wrk_ctl_args_init(a);
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+", options, NULL)) != -1) {
		if (c == F_HELP)
			return 1;
		if (c < 0 || c >= NFLAGS) {
			snprintf(err, errlen, "unknown option '%s'",
				 argv[optind - 1]);
			return -1;
		}
		if (set(a, (enum flag)c, optarg) < 0) {
			if (c == F_CGROUP_V1 && *optarg)
				snprintf(err, errlen,
					 "--%s: at most %d directories",
					 options[c].name, WRK_CGROUP_V1_MAX);
			else if (optarg)
				snprintf(err, errlen, "invalid --%s '%s'",
					 options[c].name, optarg);
			else
				snprintf(err, errlen,
					 "--%s: one of --claude and --codex "
					 "only",
					 options[c].name);
			return -1;
		}
	}
	if (optind >= argc) {
		snprintf(err, errlen, "no command given after '--'");
		return -1;
	}
	a->command = argv + optind;
	return 0;
}

size_t wrk_ctl_format(char *buf, size_t len, enum wrk_ctl_line kind,
		      long value)
{
	int n;

	switch (kind) {
	case WRK_CTL_AGENT:
		n = snprintf(buf, len, "agent %ld\n", value);
		break;
	case WRK_CTL_ENDED:
		n = snprintf(buf, len, "ended %ld\n", value);
		break;
	case WRK_CTL_DONE:
		n = snprintf(buf, len, "done\n");
		break;
	case WRK_CTL_TRANSIENT:
		n = snprintf(buf, len, "transient\n");
		break;
	default:
		n = 0;
		break;
	}
	if (n < 0)
		return 0;
	return (size_t)n < len ? (size_t)n : len ? len - 1 : 0;
}

enum wrk_ctl_line wrk_ctl_parse_line(const char *line, long *value)
{
	long v;
	char end;

	if (sscanf(line, "agent %ld%c", &v, &end) == 1 && v > 0 &&
	    v <= INT32_MAX) {
		*value = v;
		return WRK_CTL_AGENT;
	}
	if (sscanf(line, "ended %ld%c", &v, &end) == 1 && v >= 0 &&
	    v <= INT32_MAX) {
		*value = v;
		return WRK_CTL_ENDED;
	}
	if (!strcmp(line, "done"))
		return WRK_CTL_DONE;
	if (!strcmp(line, "transient"))
		return WRK_CTL_TRANSIENT;
	return WRK_CTL_OTHER;
}

size_t wrk_ctl_format_spawned(char *buf, size_t len, pid_t pid, int err)
{
	int n = pid > 0 ? snprintf(buf, len, "worker %ld\n", (long)pid)
			: snprintf(buf, len, "failed %d\n", err);

	return n < 0 ? 0 : (size_t)n < len ? (size_t)n : len - 1;
}

/* The number after PREFIX in LINE (and nothing else): > 0, or -1. */
static long number_after(const char *line, const char *prefix)
{
	size_t n = strlen(prefix);
	char *end;
	long v;

	if (strncmp(line, prefix, n) || line[n] < '1' || line[n] > '9')
		return -1;
	errno = 0;
	v = strtol(line + n, &end, 10);
	if (errno || *end || v <= 0 || v > INT32_MAX)
		return -1;
	return v;
}

pid_t wrk_ctl_parse_spawned(const char *line, int *err)
{
	long v = number_after(line, "worker ");

	*err = 0;
	if (v > 0)
		return (pid_t)v;
	v = number_after(line, "failed ");
	if (v > 0)
		*err = (int)v;
	return -1;
}

const char *wrk_ctl_worker_of(const char *cmdline, size_t len,
			      const char *state_dir)
{
	const char *end = cmdline + len, *name = strrchr(cmdline, '/');
	const char *log = NULL;
	size_t dlen = strlen(state_dir);
	static const char logs[] = "/logs/agents/";

	if (!len || strcmp(name ? name + 1 : cmdline, WRK_PROGRAM))
		return NULL;
	/* A zygote, and every worker it forked: its DIR. */
	name = cmdline + strlen(cmdline) + 1;
	if (name < end && !strcmp(name, WRK_CTL_ZYGOTE)) {
		log = name + strlen(name) + 1;
		if (log >= end)
			return NULL;
		goto check;
	}
	for (const char *a = cmdline; a < end; a += strlen(a) + 1) {
		const char *v = a + strlen(a) + 1;

		if (!strcmp(a, "--"))
			break;
		if (v < end && !strncmp(a, "--", 2) &&
		    !strcmp(a + 2, options[F_LOG].name)) {
			log = v;
			break;
		}
	}
check:
	if (!log || strncmp(log, state_dir, dlen) ||
	    strncmp(log + dlen, logs, sizeof(logs) - 1))
		return NULL;
	return log;
}

/* The next attempt's header; the strings follow. */
struct next_header {
	uint32_t magic, argc, envc, len;
};

static size_t strings_len(char *const *v, uint32_t *count)
{
	size_t len = 0;

	*count = 0;
	for (; v && *v; v++, (*count)++)
		len += strlen(*v) + 1;
	return len;
}

static char *put_strings(char *p, char *const *v)
{
	for (; v && *v; v++) {
		size_t n = strlen(*v) + 1;

		memcpy(p, *v, n);
		p += n;
	}
	return p;
}

/* The message MAGIC: ARGV and ENV, and the NFDS fds FDS passed along;
 * FLAGS for sendmsg (MSG_DONTWAIT or none). */
static int send_msg(int fd, uint32_t magic, char *const *argv,
		    char *const *env, const int *fds, size_t nfds, int flags)
{
	struct next_header h = {.magic = magic};
	size_t len = strings_len(argv, &h.argc);
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(3 * sizeof(int))];
	} u;
	struct msghdr msg = {0};
	struct cmsghdr *cm;
	struct iovec iov;
	char *buf;
	ssize_t n;

	if (nfds < 1 || nfds > 3) {
		errno = EINVAL;
		return -1;
	}

	len += strings_len(env, &h.envc);
	if (len > WRK_CTL_NEXT_MAX) {
		errno = E2BIG;
		return -1;
	}
	h.len = (uint32_t)len;
	buf = malloc(sizeof(h) + len);
	if (!buf)
		return -1;
	memcpy(buf, &h, sizeof(h));
	put_strings(put_strings(buf + sizeof(h), argv), env);
	iov.iov_base = buf;
	iov.iov_len = sizeof(h) + len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	memset(&u, 0, sizeof(u));
	msg.msg_control = u.buf;
	msg.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(nfds * sizeof(int));
	memcpy(CMSG_DATA(cm), fds, nfds * sizeof(int));
	do
		n = sendmsg(fd, &msg, flags | MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	free(buf);
	if (n < 0)
		return -1;
	if ((size_t)n != iov.iov_len) {
		errno = EAGAIN; /* a part only: the rest would block */
		return -1;
	}
	return 0;
}

int wrk_ctl_send_next(int fd, char *const *argv, char *const *env, int up,
		      int down)
{
	int fds[2] = {up, down};

	return send_msg(fd, WRK_CTL_NEXT_MAGIC, argv, env, fds, 2,
			MSG_DONTWAIT);
}

int wrk_ctl_send_spawn(int fd, char *const *argv, char *const *env, int up,
		       int down, int ctl)
{
	int fds[3] = {up, down, ctl};

	/* Whole, however long the zygote takes to read it (it reads
	 * nothing else). */
	return send_msg(fd, WRK_CTL_SPAWN_MAGIC, argv, env, fds, 3, 0);
}

void wrk_ctl_next_free(struct wrk_ctl_next *n)
{
	if (n->up >= 0)
		close(n->up);
	if (n->down >= 0)
		close(n->down);
	if (n->ctl >= 0)
		close(n->ctl);
	free(n->mem);
	memset(n, 0, sizeof(*n));
	n->up = n->down = n->ctl = -1;
}

/* LEN bytes of FD into BUF: 0, or -1 (EPROTO at an early end). */
static int read_full(int fd, void *buf, size_t len)
{
	if (cm_read_all(fd, buf, len) == 0)
		return 0;
	if (errno == ENODATA)
		errno = EPROTO;
	return -1;
}

/* The COUNT strings of P (LEN bytes) into V, NULL-terminated; the bytes
 * they took. */
static size_t split(char *p, size_t len, uint32_t count, char **v)
{
	size_t off = 0;

	for (uint32_t i = 0; i < count; i++) {
		v[i] = off < len ? p + off : NULL; /* NULL: missing */
		if (v[i])
			off += strlen(p + off) + 1;
	}
	v[count] = NULL;
	return off;
}

/* A message MAGIC with NFDS fds (2: up, down; 3: and ctl) into *OUT. */
static int recv_msg(int fd, uint32_t magic, int want, struct wrk_ctl_next *out)
{
	struct next_header h;
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(4 * sizeof(int))];
	} u;
	struct msghdr msg = {0};
	struct iovec iov = {.iov_base = &h, .iov_len = sizeof(h)};
	struct wrk_ctl_next n = {.up = -1, .down = -1, .ctl = -1};
	size_t vec;
	char *strings;
	ssize_t got;
	int nfds = 0, fds[4];

	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = u.buf;
	msg.msg_controllen = sizeof(u.buf);
	do
		got = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
	while (got < 0 && errno == EINTR);
	if (got <= 0)
		return (int)got;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm;
	     cm = CMSG_NXTHDR(&msg, cm))
		if (cm->cmsg_level == SOL_SOCKET &&
		    cm->cmsg_type == SCM_RIGHTS) {
			size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			for (size_t i = 0; i < k; i++) {
				int f;

				memcpy(&f, CMSG_DATA(cm) + i * sizeof(int),
				       sizeof(f));
				if (nfds < 4)
					fds[nfds++] = f;
				else
					close(f);
			}
		}
	if (nfds == want) {
		n.up = fds[0];
		n.down = fds[1];
		if (want == 3)
			n.ctl = fds[2];
	} else {
		for (int i = 0; i < nfds; i++)
			close(fds[i]);
	}
	if (nfds != want || (msg.msg_flags & MSG_CTRUNC) ||
	    ((size_t)got < sizeof(h) &&
	     read_full(fd, (char *)&h + got, sizeof(h) - (size_t)got) < 0) ||
	    h.magic != magic || h.len > WRK_CTL_NEXT_MAX ||
	    h.argc < 1 || h.argc > h.len || h.envc > h.len)
		goto bad;
	vec = ((size_t)h.argc + 1 + h.envc + 1) * sizeof(char *);
	n.mem = malloc(vec + h.len + 1);
	if (!n.mem)
		goto fail;
	n.argv = n.mem;
	n.env = n.argv + h.argc + 1;
	strings = (char *)n.mem + vec;
	if (read_full(fd, strings, h.len) < 0)
		goto fail;
	/* Every string ends in the message, and they fill it. */
	strings[h.len] = '\0';
	if (h.len == 0 || strings[h.len - 1] != '\0')
		goto bad;
	vec = split(strings, h.len, h.argc, n.argv);
	if (split(strings + vec, h.len - vec, h.envc, n.env) + vec != h.len)
		goto bad;
	for (uint32_t i = 0; i < h.argc; i++)
		if (!n.argv[i])
			goto bad;
	for (uint32_t i = 0; i < h.envc; i++)
		if (!n.env[i])
			goto bad;
	n.argc = (int)h.argc;
	*out = n;
	return 1;
bad:
	errno = EPROTO;
fail:
	wrk_ctl_next_free(&n);
	return -1;
}

int wrk_ctl_recv_next(int fd, struct wrk_ctl_next *n)
{
	return recv_msg(fd, WRK_CTL_NEXT_MAGIC, 2, n);
}

int wrk_ctl_recv_spawn(int fd, struct wrk_ctl_next *n)
{
	return recv_msg(fd, WRK_CTL_SPAWN_MAGIC, 3, n);
}
