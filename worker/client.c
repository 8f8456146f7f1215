/*
 * client.c - the agent side of the protocol (smithers.h): one handle is one
 * stream to the supervisor, either the agent's pipe pair (SMITHERS_FD up,
 * SMITHERS_ACK_FD down) or a connection to the Unix socket SMITHERS_SOCKET.
 *
 * It speaks the frames of proto.h: the first message is hello, then one
 * frame per call, seq counting up from 1; the supervisor answers with ack
 * (every seq up to this one is handled) and error (this seq was refused;
 * fatal: the stream is over).
 *
 * Invariants: the fds are non-blocking and only ever waited on with poll();
 * unsent frames (out) never grow past the send buffer by more than one
 * message - a send that would leave more waits, reading acks meanwhile so
 * that the supervisor is never blocked on us; once the stream is dead
 * (dead != 0) every send fails with that errno. Writing to a pipe whose
 * reader is gone must not kill the agent: SIGPIPE is blocked around the
 * write and a signal it raised is consumed.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/random.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "shm/shm.h"
#include "wal/lookup.h"
#include "worker/proto.h"
#include "worker/smithers.h"

#define SEND_BUFFER_DEFAULT (1024 * 1024)
#define SEND_BUFFER_MIN	    4096
#define CLOSE_FLUSH_MS	    5000

struct smithers {
	int up, down;	    /* the same fd for a socket */
	bool pipes;	    /* the agent's pipe pair from the environment */
	bool up_sock;	    /* up is a socket: send() with MSG_NOSIGNAL */
	struct wrk_buf out; /* frames not written yet */
	struct wrk_decoder *dec; /* acks and errors */
	uint64_t seq;		 /* last seq queued */
	uint64_t sync_seq;	 /* last seq that needs an ack */
	uint64_t acked;		 /* highest seq acked */
	size_t cap;		 /* send buffer */
	int dead;		 /* errno once the stream is unusable */
	bool refused;		 /* an error came since the last sync */
	struct wal_lookup *db;	 /* for smithers_state_get(), lazily */
	struct shm_reader *shm;	 /* the mirror, lazily; tried once */
	bool shm_tried;
	char errmsg[512];
};

/* The pipe pair belongs to one handle at a time in a process. */
static int pipes_taken;

static __thread char open_errmsg[512];

const char *smithers_strerror_last(void)
{
	return open_errmsg;
}

__attribute__((format(printf, 2, 3))) static void
open_error(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(open_errmsg, sizeof(open_errmsg), fmt, ap);
	va_end(ap);
	errno = err;
}

/* Keep the message FMT for S, set errno to ERR; returns -1. */
__attribute__((format(printf, 3, 4))) static int
set_error(struct smithers *s, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->errmsg, sizeof(s->errmsg), fmt, ap);
	va_end(ap);
	errno = err;
	return -1;
}

/* The stream is over: every later call fails with ERR. Returns -1. */
__attribute__((format(printf, 3, 4))) static int
kill_stream(struct smithers *s, int err, const char *fmt, ...)
{
	va_list ap;

	if (!s->dead) {
		va_start(ap, fmt);
		vsnprintf(s->errmsg, sizeof(s->errmsg), fmt, ap);
		va_end(ap);
		s->dead = err;
	}
	errno = s->dead;
	return -1;
}

const char *smithers_errmsg(const struct smithers *s)
{
	return s ? s->errmsg : open_errmsg;
}

/* Parse a decimal integer in [MIN, MAX] from S; -1 if it is not one. */
static int parse_int(const char *s, long long min, long long max,
		     long long *out)
{
	char *end;
	long long v;

	if (!s || *s < '0' || *s > '9') {
		if (!s || *s != '-')
			return -1;
	}
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* ---- I/O ------------------------------------------------------------ */

/* write() to a pipe without dying of SIGPIPE when its reader is gone. */
static ssize_t pipe_write(int fd, const void *p, size_t n)
{
	static const struct timespec zero;
	sigset_t set, old, pending;
	bool was_pending;
	ssize_t r;
	int err;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	was_pending = sigpending(&pending) == 0 &&
		      sigismember(&pending, SIGPIPE) == 1;
	r = write(fd, p, n);
	err = errno;
	if (r < 0 && err == EPIPE && !was_pending)
		while (sigtimedwait(&set, NULL, &zero) < 0 && errno == EINTR)
			;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = err;
	return r;
}

/* Read what the supervisor sent, without blocking; -1 once dead. */
static int read_down(struct smithers *s)
{
	struct wrk_msg m;
	char buf[4096];
	ssize_t n;
	int rc;

	if (s->dead)
		return -1;
	for (;;) {
		n = read(s->down, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n < 0)
			return kill_stream(
				s, EPIPE, "cannot read from the supervisor: %s",
				strerror(errno));
		if (n > 0 && wrk_decoder_feed(s->dec, buf, (size_t)n) < 0)
			return kill_stream(s, ENOMEM, "out of memory");
		while ((rc = wrk_decoder_next(s->dec, &m)) > 0) {
			if (m.type == WRK_ACK) {
				if (m.seq > s->acked)
					s->acked = m.seq;
				continue;
			}
			if (m.type != WRK_ERROR)
				return kill_stream(s, EPROTO,
						   "the supervisor sent '%s'",
						   wrk_type_name(m.type));
			if (m.fatal)
				return kill_stream(s, EPROTO,
						   "stopped by the supervisor: "
						   "%s",
						   m.reason);
			snprintf(s->errmsg, sizeof(s->errmsg),
				 "refused by the supervisor: %s (seq %" PRIu64
				 ")",
				 m.reason, m.seq);
			s->refused = true;
		}
		if (rc < 0)
			return kill_stream(
				s, errno == ENOMEM ? ENOMEM : EPROTO,
				"bad message from the supervisor: %s",
				wrk_decoder_errmsg(s->dec));
		if (n == 0)
			return kill_stream(s, EPIPE,
					   "the supervisor closed the stream");
	}
	return 0;
}

/* Write what is queued until the fd is full; -1 once dead. */
static int write_up(struct smithers *s)
{
	ssize_t n;
	int err;

	if (s->dead)
		return -1;
	while (s->out.len) {
		if (s->up_sock)
			n = send(s->up, s->out.data, s->out.len,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		else
			n = pipe_write(s->up, s->out.data, s->out.len);
		if (n > 0) {
			wrk_buf_consume(&s->out, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		/* Gone: a fatal error it sent first says why. */
		err = errno;
		read_down(s);
		return kill_stream(
			s, EPIPE,
			err == EPIPE || err == ECONNRESET
				? "the supervisor closed the stream"
				: "cannot write to the supervisor: %s",
			strerror(err));
	}
	return 0;
}

/* Wait up to TIMEOUT_MS (< 0: no limit) for the fds to be ready (for
 * writing only when WRITE), then do the I/O. */
static int wait_io(struct smithers *s, bool write, int timeout_ms)
{
	struct pollfd pfd[2];
	nfds_t n = 1;

	pfd[0].fd = s->down;
	pfd[0].events = POLLIN;
	if (write && s->up == s->down) {
		pfd[0].events |= POLLOUT;
	} else if (write) {
		pfd[1].fd = s->up;
		pfd[1].events = POLLOUT;
		n = 2;
	}
	if (poll(pfd, n, timeout_ms) < 0 && errno != EINTR)
		return kill_stream(s, EIO, "poll: %s", strerror(errno));
	if (read_down(s) < 0 || write_up(s) < 0)
		return -1;
	return 0;
}

/* ---- opening ---------------------------------------------------------- */

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -1;
	return 0;
}

static size_t send_buffer_from_env(void)
{
	long long v;

	if (parse_int(getenv("SMITHERS_SEND_BUFFER"), SEND_BUFFER_MIN,
		      LLONG_MAX, &v) < 0)
		return SEND_BUFFER_DEFAULT;
	return (size_t)v;
}

static int64_t send_msg(struct smithers *s, struct wrk_msg *m);

/* A handle on fds UP and DOWN (taken over), after sending hello. */
static struct smithers *open_fds(int up, int down, bool pipes, int64_t agent_id,
				 const char *token)
{
	struct smithers *s = calloc(1, sizeof(*s));
	struct wrk_msg hello;
	struct stat st;

	if (!s) {
		open_error(ENOMEM, "out of memory");
		goto fail;
	}
	s->up = up;
	s->down = down;
	s->pipes = pipes;
	s->up_sock = fstat(up, &st) == 0 && S_ISSOCK(st.st_mode);
	s->cap = send_buffer_from_env();
	s->dec = wrk_decoder_new(0);
	if (!s->dec) {
		open_error(ENOMEM, "out of memory");
		goto fail;
	}
	if (set_nonblock(up) < 0 || set_nonblock(down) < 0) {
		open_error(errno, "cannot make the stream non-blocking: %s",
			   strerror(errno));
		goto fail;
	}
	memset(&hello, 0, sizeof(hello));
	hello.type = WRK_HELLO;
	hello.version = WRK_PROTO_VERSION;
	hello.agent_id = agent_id;
	hello.token = token;
	hello.pid = getpid();
	if (send_msg(s, &hello) < 0) {
		open_error(errno, "cannot say hello to the supervisor: %s",
			   s->errmsg);
		goto fail;
	}
	return s;
fail:
	if (s) {
		wrk_decoder_free(s->dec);
		wrk_buf_release(&s->out);
		free(s);
	}
	close(up);
	if (down != up)
		close(down);
	if (pipes)
		__atomic_store_n(&pipes_taken, 0, __ATOMIC_SEQ_CST);
	return NULL;
}

struct smithers *smithers_open_socket(void)
{
	const char *path = getenv("SMITHERS_SOCKET");
	const char *id = getenv("SMITHERS_AGENT_ID");
	const char *token = getenv("SMITHERS_TOKEN");
	struct sockaddr_un sa;
	long long agent;
	int fd;

	if (!path || !*path) {
		open_error(ENOENT, "not running under a smithers supervisor "
				   "(SMITHERS_SOCKET unset)");
		return NULL;
	}
	if (parse_int(id, 1, INT64_MAX, &agent) < 0) {
		open_error(EINVAL,
			   "SMITHERS_AGENT_ID must be the agent's id, not "
			   "'%s'",
			   id ? id : "");
		return NULL;
	}
	if (!token || !*token) {
		open_error(EINVAL, "SMITHERS_TOKEN is not set");
		return NULL;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		open_error(ENAMETOOLONG, "socket path '%s' is too long", path);
		return NULL;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		open_error(errno, "cannot create a socket: %s",
			   strerror(errno));
		return NULL;
	}
	while (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = errno;

		if (err == EINTR)
			continue;
		if (err == EISCONN)
			break;
		close(fd);
		open_error(err, "cannot connect to '%s': %s", path,
			   strerror(err));
		return NULL;
	}
	return open_fds(fd, fd, false, agent, token);
}

/* The fd named by the variable NAME if it is an open pipe or socket open
 * for WRITE (else reading); -1 if not. */
static int env_fd(const char *name, bool write)
{
	struct stat st;
	long long v;
	int fl;

	if (parse_int(getenv(name), 0, INT_MAX, &v) < 0)
		return -1;
	fl = fcntl((int)v, F_GETFL);
	if (fl < 0 || fstat((int)v, &st) < 0 ||
	    !(S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)))
		return -1;
	if ((fl & O_ACCMODE) != O_RDWR &&
	    (fl & O_ACCMODE) != (write ? O_WRONLY : O_RDONLY))
		return -1;
	return (int)v;
}

struct smithers *smithers_open(void)
{
	const char *fd_env = getenv("SMITHERS_FD");
	const char *sock = getenv("SMITHERS_SOCKET");
	long long agent = 0;
	int up, down;

	if (fd_env && *fd_env) {
		up = env_fd("SMITHERS_FD", true);
		down = env_fd("SMITHERS_ACK_FD", false);
		if (up >= 0 && down >= 0 && up != down &&
		    !__atomic_exchange_n(&pipes_taken, 1, __ATOMIC_SEQ_CST)) {
			/* Programs the agent runs must not write on its
			 * stream: theirs is the socket. */
			if (fcntl(up, F_SETFD, FD_CLOEXEC) < 0 ||
			    fcntl(down, F_SETFD, FD_CLOEXEC) < 0) {
				__atomic_store_n(&pipes_taken, 0,
						 __ATOMIC_SEQ_CST);
				open_error(errno, "SMITHERS_FD: %s",
					   strerror(errno));
				return NULL;
			}
			parse_int(getenv("SMITHERS_AGENT_ID"), 1, INT64_MAX,
				  &agent);
			return open_fds(up, down, true, agent,
					getenv("SMITHERS_TOKEN"));
		}
		if (!sock || !*sock) {
			open_error(EBADF,
				   "SMITHERS_FD=%s and SMITHERS_ACK_FD=%s are "
				   "not the open pipes of a smithers "
				   "supervisor, or another handle uses them",
				   fd_env,
				   getenv("SMITHERS_ACK_FD")
					   ? getenv("SMITHERS_ACK_FD")
					   : "");
			return NULL;
		}
	}
	if (!sock || !*sock) {
		open_error(ENOENT, "not running under a smithers supervisor "
				   "(SMITHERS_FD / SMITHERS_SOCKET unset)");
		return NULL;
	}
	return smithers_open_socket();
}

int smithers_flush(struct smithers *s, int timeout_ms)
{
	int64_t deadline = cm_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	int left = -1;

	for (;;) {
		if (write_up(s) < 0 || read_down(s) < 0)
			return -1;
		if (!s->out.len)
			return 0;
		if (timeout_ms >= 0) {
			left = (int)(deadline - cm_mono_ms());
			if (left <= 0)
				return set_error(s, ETIMEDOUT,
						 "%zu bytes still unsent after "
						 "%d ms",
						 s->out.len, timeout_ms);
		}
		if (wait_io(s, true, left) < 0)
			return -1;
	}
}

void smithers_close(struct smithers *s)
{
	if (!s)
		return;
	smithers_flush(s, CLOSE_FLUSH_MS);
	close(s->up);
	if (s->down != s->up)
		close(s->down);
	if (s->pipes)
		__atomic_store_n(&pipes_taken, 0, __ATOMIC_SEQ_CST);
	wal_lookup_close(s->db);
	if (s->shm)
		shm_reader_close(s->shm);
	wrk_decoder_free(s->dec);
	wrk_buf_release(&s->out);
	free(s);
}

void smithers_set_send_buffer(struct smithers *s, size_t bytes)
{
	s->cap = bytes < SEND_BUFFER_MIN ? SEND_BUFFER_MIN : bytes;
}

/* ---- sending ---------------------------------------------------------- */

/* Queue M with the next seq, write, and wait while too much is queued. */
static int64_t send_msg(struct smithers *s, struct wrk_msg *m)
{
	if (s->dead) {
		errno = s->dead;
		return -1;
	}
	m->seq = s->seq + 1;
	if (wrk_encode(&s->out, m) < 0) {
		if (errno == ERANGE)
			return set_error(s, ERANGE,
					 "'%s' message exceeds the frame limit "
					 "of %d bytes",
					 wrk_type_name(m->type), WRK_FRAME_MAX);
		if (errno == EINVAL)
			return set_error(s, EINVAL,
					 "'%s' message lacks a required "
					 "argument",
					 wrk_type_name(m->type));
		return set_error(s, ENOMEM, "out of memory");
	}
	s->seq++;
	if (m->type != WRK_HELLO)
		s->sync_seq = s->seq;
	if (write_up(s) < 0 || read_down(s) < 0)
		return -1;
	while (s->out.len > s->cap)
		if (wait_io(s, true, -1) < 0)
			return -1;
	return (int64_t)s->seq;
}

int64_t smithers_state_set(struct smithers *s, const char *key,
			   const char *json, const char *trigger)
{
	struct wrk_msg m = {.type = WRK_STATE_SET};

	m.key = key;
	m.json = json;
	m.trigger = trigger;
	return send_msg(s, &m);
}

int64_t smithers_state_delete(struct smithers *s, const char *key,
			      const char *trigger)
{
	struct wrk_msg m = {.type = WRK_STATE_DELETE};

	m.key = key;
	m.trigger = trigger;
	return send_msg(s, &m);
}

int64_t smithers_memory_add(struct smithers *s, const char *category,
			    const char *scope, const char *key,
			    const char *content, double confidence,
			    const char *source)
{
	struct wrk_msg m = {.type = WRK_MEMORY_ADD};

	m.category = category;
	m.scope = scope;
	m.key = key;
	m.content = content;
	m.has_confidence = confidence >= 0;
	m.confidence = confidence >= 0 ? confidence : 0;
	m.source = source;
	return send_msg(s, &m);
}

/*
 * A new tool call id. Calls are matched by (agent, call) across all of an
 * agent's streams - a `smithers emit tool.complete` finishes the call of
 * another process - so ids are random, below 2^52 so that any language
 * holds them exactly (a double in JavaScript).
 */
static uint64_t new_call_id(void)
{
	static uint64_t fallback;
	uint64_t v = 0;
	struct timespec ts;

	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != (ssize_t)sizeof(v)) {
		clock_gettime(CLOCK_REALTIME, &ts);
		v = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^
		    (uint64_t)getpid() << 32 ^
		    __atomic_add_fetch(&fallback, 1, __ATOMIC_SEQ_CST);
	}
	v &= (1ull << 52) - 1;
	return v ? v : 1;
}

int64_t smithers_tool_start(struct smithers *s, const char *tool,
			    const char *input_json)
{
	struct wrk_msg m = {.type = WRK_TOOL_START};

	m.call = new_call_id();
	m.tool = tool;
	m.json = input_json;
	if (send_msg(s, &m) < 0)
		return -1;
	return (int64_t)m.call;
}

int64_t smithers_tool_complete(struct smithers *s, int64_t call,
			       const void *output, size_t len,
			       const char *summary, const char *status,
			       const char *error)
{
	struct wrk_msg m = {.type = WRK_TOOL_COMPLETE};

	if (call <= 0)
		return set_error(s, EINVAL,
				 "tool call id %" PRId64
				 " is not one of smithers_tool_start()",
				 call);
	m.call = (uint64_t)call;
	m.output = output;
	m.output_len = output ? len : 0;
	m.summary = summary;
	m.status = status;
	m.error = error;
	return send_msg(s, &m);
}

int64_t smithers_artifact_add(struct smithers *s, const char *name,
			      const char *path, const char *type,
			      const char *summary, const char *metadata_json)
{
	struct wrk_msg m = {.type = WRK_ARTIFACT_ADD};

	m.name = name;
	m.path = path;
	m.kind = type;
	m.summary = summary;
	m.json = metadata_json;
	return send_msg(s, &m);
}

int64_t smithers_usage(struct smithers *s, uint64_t tokens_in,
		       uint64_t tokens_out, double cost)
{
	struct wrk_msg m = {.type = WRK_USAGE};

	m.tokens_in = tokens_in;
	m.tokens_out = tokens_out;
	m.cost = cost;
	return send_msg(s, &m);
}

int64_t smithers_log(struct smithers *s, const char *level, const char *message)
{
	struct wrk_msg m = {.type = WRK_LOG};

	m.level = level;
	m.text = message;
	return send_msg(s, &m);
}

int64_t smithers_result(struct smithers *s, const char *text, const char *json)
{
	struct wrk_msg m = {.type = WRK_RESULT};

	m.text = text;
	m.json = json;
	return send_msg(s, &m);
}

int64_t smithers_fail(struct smithers *s, const char *error)
{
	struct wrk_msg m = {.type = WRK_FAIL};

	m.error = error;
	return send_msg(s, &m);
}

/* ---- acks ------------------------------------------------------------- */

int smithers_sync(struct smithers *s, int timeout_ms)
{
	int64_t deadline = cm_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	int left = timeout_ms < 0 ? -1 : 0;

	for (;;) {
		write_up(s);
		read_down(s);
		if (s->acked >= s->sync_seq) {
			if (s->refused) {
				s->refused = false;
				errno = EPROTO;
				return -1; /* errmsg holds the reason */
			}
			return 0;
		}
		if (s->dead) {
			errno = s->dead;
			return -1;
		}
		if (timeout_ms >= 0) {
			left = (int)(deadline - cm_mono_ms());
			if (left <= 0)
				return set_error(
					s, ETIMEDOUT,
					"no ack for seq %" PRIu64
					" within %d ms (acked %" PRIu64 ")",
					s->sync_seq, timeout_ms, s->acked);
		}
		wait_io(s, s->out.len > 0, left);
	}
}

uint64_t smithers_last_seq(const struct smithers *s)
{
	return s->seq;
}

uint64_t smithers_acked(struct smithers *s)
{
	read_down(s);
	return s->acked;
}

size_t smithers_unsent(const struct smithers *s)
{
	return s->out.len;
}

/* ---- reading ---------------------------------------------------------- */

char *smithers_state_get(struct smithers *s, const char *key)
{
	const char *dir = getenv("SMITHERS_DIR");
	char buf[SHM_VALUE_LEN + 1];
	char *v;

	if (!dir || !*dir) {
		set_error(s, ENOENT, "SMITHERS_DIR is not set");
		return NULL;
	}
	/* The mirror first: no system call when the key is there. A key it
	 * does not hold may still exist (not mirrored, or too long a value):
	 * the database says. */
	if (!s->shm_tried) {
		s->shm_tried = true;
		s->shm = shm_reader_open(dir, NULL, 0);
	}
	if (s->shm && shm_read_key(s->shm, key, buf, sizeof(buf)) >= 0) {
		v = strdup(buf);
		if (!v)
			set_error(s, ENOMEM, "out of memory");
		return v;
	}
	if (!s->db && wal_lookup_open(dir, &s->db) < 0) {
		int err = errno;

		set_error(s, err, "%s",
			  s->db ? wal_lookup_errmsg(s->db) : strerror(err));
		wal_lookup_close(s->db);
		s->db = NULL;
		return NULL;
	}
	v = wal_lookup_get(s->db, key);
	if (!v)
		set_error(s, errno, "%s", wal_lookup_errmsg(s->db));
	return v;
}
