/*
 * worker-io.c - smithers-worker's side of the agent's output
 * (worker-int.h): the log, rotated by size at line boundaries, and with an
 * adapter the protocol spoken for the agent from that output.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/io.h"
#include "worker/worker-int.h"

int open_log(struct worker *wk)
{
	struct stat sb;

	wk->log_fd = open(wk->log_path,
			  O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (wk->log_fd < 0) {
		say("cannot open log '%s': %s", wk->log_path, strerror(errno));
		return -1;
	}
	wk->log_size = fstat(wk->log_fd, &sb) == 0 ? sb.st_size : 0;
	wk->at_line_start = 1; /* an appended-to log starts our first line */
	return 0;
}

/* LOG.(KEEP-1) -> LOG.KEEP, ..., LOG -> LOG.1, then a new LOG. */
static void rotate_log(struct worker *wk)
{
	char from[PATH_MAX], to[PATH_MAX];

	close(wk->log_fd);
	wk->log_fd = -1;
	/* The oldest goes first, so that no rename below replaces a file:
	 * ext4 starts writing a file renamed over another out at once (its
	 * auto_da_alloc), which every rotation paid for. */
	if (wk->log_keep > 0) {
		snprintf(to, sizeof(to), "%s.%d", wk->log_path, wk->log_keep);
		if (unlink(to) < 0 && errno != ENOENT)
			say("cannot remove '%s': %s", to, strerror(errno));
	}
	for (int i = wk->log_keep; i >= 1; i--) {
		if (i == 1)
			snprintf(from, sizeof(from), "%s", wk->log_path);
		else
			snprintf(from, sizeof(from), "%s.%d", wk->log_path,
				 i - 1);
		snprintf(to, sizeof(to), "%s.%d", wk->log_path, i);
		if (rename(from, to) < 0 && errno != ENOENT)
			say("cannot rotate '%s': %s", from, strerror(errno));
	}
#ifdef SMITHERS_FAILPOINTS
	/* The supervisor's failpoint "during-log-rotation": the whole tree
	 * dies with the log renamed away and no new one open yet. */
	if (wk->crash_rotation > 0 && --wk->crash_rotation == 0) {
		say("failpoint during-log-rotation reached");
		if (wk->parent > 1)
			kill(wk->parent, SIGKILL);
		raise(SIGKILL);
	}
#endif
	if (wk->log_keep == 0)
		unlink(wk->log_path);
	open_log(wk);
}

/*
 * Write BUF to the log, rotating by size at line boundaries: a file stops
 * at the last whole line that fits in log_max bytes; only a line longer
 * than log_max, or one that began in an earlier read, takes it past. The
 * current file always holds the newest output; lines are never cut in two.
 */
void log_output(struct worker *wk, const char *buf, size_t len)
{
	while (len > 0) {
		const char *nl;
		size_t n = len;

		if (wk->log_max > 0) {
			int64_t room;

			if (wk->log_size >= wk->log_max && wk->at_line_start)
				rotate_log(wk);
			room = wk->log_max - wk->log_size;
			if (room > 0 && (int64_t)n > room) {
				nl = memrchr(buf, '\n', (size_t)room);
				/* A whole line that does not fit: next file. */
				if (!nl && wk->at_line_start &&
				    wk->log_size > 0) {
					wk->log_size = wk->log_max;
					continue;
				}
				if (!nl)
					nl = memchr(buf + room, '\n',
						    len - (size_t)room);
				n = nl ? (size_t)(nl - buf) + 1 : len;
			} else if (room <= 0) {
				nl = memchr(buf, '\n', len);
				n = nl ? (size_t)(nl - buf) + 1 : len;
			}
		}
		if (wk->log_fd < 0)
			return;
		if (cm_write_all(wk->log_fd, buf, n) < 0) {
			say("cannot write log '%s': %s", wk->log_path,
			    strerror(errno));
			return;
		}
		wk->log_size += (int64_t)n;
		wk->at_line_start = buf[n - 1] == '\n';
		buf += n;
		len -= n;
	}
}


/* ---- an adapter: the protocol spoken for the agent -------------------- */

/* A note on stderr only: the supervisor hears of the stream itself. */
void complain(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("smithers-worker: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* Keep fds 3 and 4 from the agent (close-on-exec), non-blocking; make the
 * parser, whose hello follows once the agent's pid is known. */
void adapter_start(struct worker *wk)
{
	wk->up_fd = WRK_FD_UP;
	wk->down_fd = WRK_FD_DOWN;
	fcntl(wk->up_fd, F_SETFD, FD_CLOEXEC);
	fcntl(wk->down_fd, F_SETFD, FD_CLOEXEC);
	fcntl(wk->up_fd, F_SETFL, fcntl(wk->up_fd, F_GETFL) | O_NONBLOCK);
	fcntl(wk->down_fd, F_SETFL, fcntl(wk->down_fd, F_GETFL) | O_NONBLOCK);
	wk->parser = wrk_parser_new(wk->adapter, (size_t)wk->line_max,
				    (size_t)wk->frame_max);
	wk->down = wrk_decoder_new(0);
	if (!wk->parser || !wk->down) {
		say("cannot start the %s parser: %s",
		    wrk_adapter_name(wk->adapter), strerror(errno));
		exit(127);
	}
}

/* Write to fd 3 what it takes now. */
void flush_up(struct worker *wk)
{
	while (wk->up_fd >= 0 && wk->up.len > 0) {
		ssize_t n = write(wk->up_fd, wk->up.data, wk->up.len);

		if (n > 0) {
			wrk_buf_consume(&wk->up, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		/* EPIPE: the supervisor closed the stream (it said why on
		 * fd 4); nobody will read what is left. */
		if (errno != EPIPE)
			complain("cannot write frames: %s", strerror(errno));
		close(wk->up_fd);
		wk->up_fd = -1;
		wrk_buf_release(&wk->up);
	}
}

/* Read what fd 4 holds: acks, and errors told on stderr. */
void read_down(struct worker *wk)
{
	char buf[4096];
	struct wrk_msg m;
	ssize_t n;
	int rc;

	n = read(wk->down_fd, buf, sizeof(buf));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		close(wk->down_fd);
		wk->down_fd = -1;
		return;
	}
	if (!wk->down || wrk_decoder_feed(wk->down, buf, (size_t)n) < 0)
		return; /* read and dropped: the supervisor must not block */
	while ((rc = wrk_decoder_next(wk->down, &m)) == 1)
		if (m.type == WRK_ERROR)
			complain("the supervisor refused seq %" PRIu64 "%s: %s",
				 m.seq, m.fatal ? " (fatal)" : "", m.reason);
	if (rc < 0) {
		complain("fd 4: %s", wrk_decoder_errmsg(wk->down));
		wrk_decoder_free(wk->down);
		wk->down = NULL;
	}
}

/* The agent's output BUF (N bytes) to the parser. */
void adapter_feed(struct worker *wk, const char *buf, size_t n)
{
	if (wk->up_fd < 0)
		return; /* nobody listens */
	if (wrk_parser_feed(wk->parser, buf, n, &wk->up) < 0)
		complain("frames lost: %s", strerror(errno));
}

/* The agent ended: the last frames out, for FLUSH_MS at most, unless the
 * supervisor dies meanwhile. Then fds 3 and 4 are closed. */
void adapter_finish(struct worker *wk, int sfd)
{
	int64_t deadline = cm_mono_ms() + FLUSH_MS;

	if (wk->up_fd >= 0 &&
	    wrk_parser_end(wk->parser, wk->status, &wk->up) < 0)
		complain("frames lost: %s", strerror(errno));
	flush_up(wk);
	while (!wk->orphaned && wk->up_fd >= 0 && wk->up.len > 0) {
		struct pollfd pfd[3] = {
			{.fd = sfd, .events = POLLIN},
			{.fd = wk->up_fd, .events = POLLOUT},
			{.fd = wk->down_fd, .events = POLLIN},
		};
		int64_t left = deadline - cm_mono_ms();
		struct signalfd_siginfo si;

		if (left <= 0) {
			say("gave up sending the last %zu bytes of frames",
			    wk->up.len);
			break;
		}
		if (poll(pfd, 3, (int)left) < 0 && errno != EINTR)
			break;
		if ((pfd[0].revents & POLLIN) &&
		    read(sfd, &si, sizeof(si)) == sizeof(si) &&
		    (si.ssi_signo == SIGUSR2 || si.ssi_signo == SIGHUP))
			break; /* the supervisor died */
		if (wk->down_fd >= 0 && pfd[2].revents)
			read_down(wk);
		flush_up(wk);
	}
	if (wk->up_fd >= 0)
		close(wk->up_fd);
	if (wk->down_fd >= 0)
		close(wk->down_fd);
	wk->up_fd = wk->down_fd = -1;
	wrk_buf_release(&wk->up);
	wrk_parser_free(wk->parser);
	wrk_decoder_free(wk->down);
	wk->parser = NULL;
	wk->down = NULL;
}
