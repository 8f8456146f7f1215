/*
 * util.c - the supervisor's small helpers: strings that cannot fail (out of
 * memory ends the supervisor, logged), time values for libevent, random
 * bytes.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "supervisor/slog.h"
#include "supervisor/sup-int.h"

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0) {
		sup_log(SUP_ERROR, "out of memory");
		abort();
	}
	va_end(ap);
	return s;
}

void set_text(char **slot, const char *text)
{
	free(*slot);
	*slot = text ? strdup(text) : NULL;
}

struct timeval tv_ms(int64_t ms)
{
	struct timeval tv = {(time_t)(ms / 1000),
			     (suseconds_t)(ms % 1000) * 1000};

	return tv;
}

int sup_random(void *buf, size_t n)
{
	ssize_t got;

	do
		got = getrandom(buf, n, 0);
	while (got < 0 && errno == EINTR);
	if (got != (ssize_t)n) {
		if (got >= 0)
			errno = EIO;
		return -1;
	}
	return 0;
}
