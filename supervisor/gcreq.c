/*
 * gcreq.c - `smithers db gc --via-supervisor`: a gc sent through the
 * supervisor that holds the state dir, which alone may write it
 * (supervisor.h), over its socket: the one control channel.
 *
 * The requester connects to STATE/supervisor.sock and speaks the protocol
 * (docs/PROTOCOL.md) as a control connection: a hello with role "control",
 * then one "gc" message. Between two of its commits the supervisor runs
 * wal_gc() on its own connection and answers with a "reply" whose text is
 *   STATUS COMMITTED and the fourteen counts of struct wal_gc_result
 *   the error message (empty when STATUS is 0)
 * The socket is in the state dir, the owner's alone (0700): whoever can
 * connect may ask, as whoever can write there could run gc itself.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/clock.h"
#include "supervisor/supervisor.h"
#include "wal/wal.h"
#include "worker/proto.h"

#define NCOUNTS 14

/* The counts of G, in the order of the answer. */
static void counts(struct wal_gc_result *g, int64_t *v[NCOUNTS])
{
	int64_t *p[NCOUNTS] = {
		&g->executions,	     &g->phases,	 &g->agents,
		&g->tool_calls,	     &g->transitions,	 &g->artifacts,
		&g->heads_kept,	     &g->tombstones,	 &g->objects,
		&g->object_bytes,    &g->log_dirs,	 &g->log_bytes,
		&g->db_bytes_before, &g->db_bytes_after,
	};

	memcpy(v, p, sizeof(p));
}

char *sup_gc_answer(const struct wal_gc_result *g, int status,
		    const char *err)
{
	struct wal_gc_result copy = *g;
	int64_t *v[NCOUNTS];
	char *text = NULL;
	size_t len = 0;
	FILE *t = open_memstream(&text, &len);

	if (!t)
		return NULL;
	fprintf(t, "%d %d", status, g->committed);
	counts(&copy, v);
	for (int i = 0; i < NCOUNTS; i++)
		fprintf(t, " %" PRId64, *v[i]);
	fprintf(t, "\n%s\n", status && err ? err : "");
	if (fclose(t) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

/* Read the answer TEXT into OUT, the error into ERR: 0 (STATUS 0), -1. */
static int parse_answer(const char *text, struct wal_gc_result *out,
			char *err, size_t errlen)
{
	int64_t *v[NCOUNTS];
	const char *p = text, *nl;
	int status, committed, used;

	if (sscanf(p, "%d %d%n", &status, &committed, &used) != 2)
		goto cut;
	p += used;
	counts(out, v);
	for (int i = 0; i < NCOUNTS; i++) {
		if (sscanf(p, " %" SCNd64 "%n", v[i], &used) != 1)
			goto cut;
		p += used;
	}
	out->committed = committed;
	err[0] = '\0';
	if (*p == '\n') {
		p++;
		nl = strchr(p, '\n');
		snprintf(err, errlen, "%.*s",
			 (int)(nl ? (size_t)(nl - p) : strlen(p)), p);
	}
	if (status && !err[0])
		snprintf(err, errlen, "the gc failed");
	return status ? -1 : 0;
cut:
	snprintf(err, errlen, "the supervisor's answer is cut");
	return -1;
}

/* Connect to STATE_DIR's socket: the fd, or -1 with ERR said. */
static int connect_to(const char *state_dir, pid_t supervisor, char *err,
		      size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path),
			     "%s/" SUP_SOCKET, state_dir) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen,
			 "the supervisor's socket path in '%s' is too long",
			 state_dir);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		snprintf(err, errlen,
			 "cannot reach the supervisor (pid %ld) at '%s': %s",
			 (long)supervisor, sa.sun_path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int send_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		/* No SIGPIPE if the supervisor is gone: an error. */
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Wait on FD for the reply to the gc: 0 with OUT filled, -1 with ERR. */
static int await_reply(int fd, pid_t supervisor, int timeout_s,
		       struct wal_gc_result *out, char *err, size_t errlen)
{
	struct wrk_decoder *d = wrk_decoder_new(0);
	int64_t until = timeout_s > 0 ? cm_mono_ms() + timeout_s * 1000LL : 0;
	struct wrk_msg m;
	char buf[4096];
	int rc = -1;

	if (!d) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int64_t left = until ? until - cm_mono_ms() : -1;
		ssize_t n;
		int got;

		while ((got = wrk_decoder_next(d, &m)) == 1) {
			if (m.type == WRK_REPLY) {
				rc = parse_answer(m.text, out, err, errlen);
				goto out;
			}
			if (m.type == WRK_ERROR) {
				snprintf(err, errlen, "the supervisor refused: %s",
					 m.reason);
				goto out;
			}
		}
		if (got < 0) {
			snprintf(err, errlen, "the supervisor's answer: %s",
				 wrk_decoder_errmsg(d));
			goto out;
		}
		if (until && left <= 0) {
			snprintf(err, errlen,
				 "no answer from the supervisor (pid %ld) in "
				 "%d s",
				 (long)supervisor, timeout_s);
			goto out;
		}
		if (poll(&p, 1, left > INT32_MAX ? INT32_MAX : (int)left) < 0 &&
		    errno != EINTR) {
			snprintf(err, errlen, "poll: %s", strerror(errno));
			goto out;
		}
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0) {
			snprintf(err, errlen,
				 "the supervisor (pid %ld) ended before it "
				 "answered",
				 (long)supervisor);
			goto out;
		}
		if (wrk_decoder_feed(d, buf, (size_t)n) < 0) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
	}
out:
	wrk_decoder_free(d);
	return rc;
}

int sup_gc_request(const char *state_dir, pid_t supervisor,
		   const struct wal_gc_options *o, int timeout_s,
		   struct wal_gc_result *out, char *err, size_t errlen)
{
	struct wrk_msg hello = {.type = WRK_HELLO,
				.seq = 1,
				.version = WRK_PROTO_VERSION,
				.pid = getpid(),
				.role = "control"};
	struct wrk_msg gc = {.type = WRK_GC,
			     .seq = 2,
			     .keep = o->keep,
			     .older_than_s = o->older_than_s,
			     .dry_run = o->dry_run};
	struct wrk_buf b = {0};
	int fd, rc = -1;

	memset(out, 0, sizeof(*out));
	fd = connect_to(state_dir, supervisor, err, errlen);
	if (fd < 0)
		return -1;
	if (wrk_encode(&b, &hello) < 0 || wrk_encode(&b, &gc) < 0) {
		snprintf(err, errlen, "cannot encode the request: %s",
			 strerror(errno));
		goto out;
	}
	if (send_all(fd, b.data, b.len) < 0) {
		snprintf(err, errlen, "cannot send the request: %s",
			 strerror(errno));
		goto out;
	}
	rc = await_reply(fd, supervisor, timeout_s, out, err, errlen);
out:
	wrk_buf_release(&b);
	close(fd);
	return rc;
}
