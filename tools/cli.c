/*
 * cli.c - what the command line programs (smithers, smithers-top) share:
 * allocation that cannot fail, paths below a dir, integer options, and the
 * final flush of standard output.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/cli.h"

const char *cmd_prog = "smithers";

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p) {
		fprintf(stderr, "%s: out of memory\n", cmd_prog);
		exit(EXIT_FAIL);
	}
	return p;
}

void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (!q) {
		fprintf(stderr, "%s: out of memory\n", cmd_prog);
		exit(EXIT_FAIL);
	}
	return q;
}

char *xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;

	return memcpy(xmalloc(n), s, n);
}

char *cmd_path(const char *dir, const char *rel)
{
	size_t n;
	char *p;

	if (!strcmp(dir, "."))
		return xstrdup(rel);
	n = strlen(dir);
	p = xmalloc(n + strlen(rel) + 2);
	strcpy(p, dir);
	if (n && dir[n - 1] != '/')
		strcat(p, "/");
	strcat(p, rel);
	return p;
}

int cmd_parse_int64(const char *s, long long min, long long max, long long *out)
{
	char *end;
	long long v;

	if (!*s || *s == ' ' || *s == '+')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int cmd_flush_stdout(void)
{
	if (fflush(stdout) == EOF || ferror(stdout)) {
		fprintf(stderr, "%s: cannot write output: %s\n", cmd_prog,
			strerror(errno));
		return EXIT_FAIL;
	}
	return EXIT_OK;
}
