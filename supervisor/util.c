/*
 * util.c - the supervisor's small helpers: strings that cannot fail (out of
 * memory ends the supervisor, logged) and time values for libevent.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
