/*
 * slog.c - the supervisor's log lines, to stderr and to the log file.
 *
 * A line is written with one write(2) per destination, so lines of the
 * supervisor never interleave mid-line with anything else appending there.
 * Between sup_log_hold() and sup_log_flush(), lines below an error are
 * kept (up to PIPE_BUF bytes, so a write of them is still whole on a
 * pipe) and written together at the flush: a restart decided in the turn
 * its agent ended is sent before its log lines are written, since an
 * append to a file may wait for the journal of the disk the store syncs.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "supervisor/slog.h"

static int log_fd = -1;
static char *log_path;
static enum sup_level min_level = SUP_INFO;
static char held[4096]; /* PIPE_BUF */
static size_t nheld;
static int holding;

static void emit(const char *buf, size_t n)
{
	if (write(STDERR_FILENO, buf, n) < 0) {
		/* stderr closed: the file still has it */
	}
	if (log_fd >= 0 && write(log_fd, buf, n) < 0) {
		/* a full disk must not stop the supervisor */
	}
}

void sup_log_hold(void)
{
	holding = 1;
}

void sup_log_flush(void)
{
	holding = 0;
	if (nheld)
		emit(held, nheld);
	nheld = 0;
}

int sup_log_open(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

	if (fd < 0)
		return -1;
	if (log_fd >= 0)
		close(log_fd);
	log_fd = fd;
	if (path != log_path) {
		free(log_path);
		log_path = strdup(path);
	}
	return 0;
}

int sup_log_reopen(void)
{
	sup_log_flush();
	if (!log_path)
		return 0;
	return sup_log_open(log_path);
}

void sup_log_close(void)
{
	sup_log_flush();
	if (log_fd >= 0)
		close(log_fd);
	log_fd = -1;
	free(log_path);
	log_path = NULL;
}

void sup_log_level(enum sup_level level)
{
	min_level = level;
}

void sup_log(enum sup_level level, const char *fmt, ...)
{
	static const char *const names[] = {"debug", "info", "warning",
					    "error"};
	char line[2048], stamp[32];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	int n, m;

	if (level < min_level)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(line, sizeof(line), "%s.%03ldZ smithers[%ld]: %s: ", stamp,
		     ts.tv_nsec / 1000000, (long)getpid(), names[level]);
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	n += m;
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	if (holding && level < SUP_ERROR) {
		if (nheld + (size_t)n > sizeof(held)) {
			emit(held, nheld);
			nheld = 0;
		}
		if ((size_t)n <= sizeof(held)) {
			memcpy(held + nheld, line, (size_t)n);
			nheld += (size_t)n;
			return;
		}
	}
	/* An error (an abort may follow) goes out at once, after what was
	 * held. */
	if (nheld)
		emit(held, nheld);
	nheld = 0;
	emit(line, (size_t)n);
}
