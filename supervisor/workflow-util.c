/*
 * workflow-util.c - the workflow loader's small helpers (workflow-int.h),
 * below both its INI glue (workflow.c) and its key setters
 * (workflow-keys.c), calling neither: the first error recorded, a file
 * read whole, line numbers, paths made absolute.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "supervisor/workflow-int.h"

/* Errors, and the file as text. */

int sup_wf_err(struct parser *ps, int line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (ps->failed)
		return -1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (ps->err && ps->errlen) {
		if (line > 0)
			snprintf(ps->err, ps->errlen, "%s:%d: %s", ps->path,
				 line, msg);
		else
			snprintf(ps->err, ps->errlen, "%s: %s", ps->path, msg);
	}
	ps->failed = 1;
	ps->saved_errno = EINVAL;
	return -1;
}

int sup_wf_nomem(struct parser *ps)
{
	if (ps->failed)
		return -1;
	sup_wf_err(ps, 0, "out of memory");
	ps->saved_errno = ENOMEM;
	return -1;
}

char *sup_wf_slurp(const char *path, size_t max, size_t *len)
{
	char *buf = NULL, *nbuf;
	size_t n = 0, cap = 0;
	ssize_t r;
	int fd, saved;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	for (;;) {
		if (cap - n < 4096) {
			cap = cap ? cap * 2 : 8192;
			nbuf = realloc(buf, cap + 1);
			if (!nbuf)
				goto fail;
			buf = nbuf;
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto fail;
		if (!r)
			break;
		n += (size_t)r;
		if (n > max) {
			errno = EFBIG;
			goto fail;
		}
	}
	close(fd);
	buf[n] = '\0';
	*len = n;
	return buf;
fail:
	saved = errno;
	free(buf);
	close(fd);
	errno = saved;
	return NULL;
}

int sup_wf_line_of(const char *text, size_t off)
{
	int line = 1;
	size_t i;

	for (i = 0; i < off; i++)
		if (text[i] == '\n')
			line++;
	return line;
}

/* Paths. */

/* Remove "." components, repeated and trailing slashes of the absolute
 * path P (".." stays: with symlinks, it is not a lexical matter). */
static void tidy_path(char *p)
{
	char *r = p, *w = p;

	while (*r) {
		if (*r != '/') {
			*w++ = *r++;
			continue;
		}
		while (*r == '/')
			r++;
		if (r[0] == '.' && (r[1] == '/' || !r[1])) {
			r++;
			continue;
		}
		*w++ = '/';
	}
	if (w > p + 1 && w[-1] == '/')
		w--;
	if (w == p)
		*w++ = '/';
	*w = '\0';
}

char *sup_wf_abs_path(const char *dir, const char *rel)
{
	size_t n;
	char *p;

	if (rel[0] == '/') {
		p = strdup(rel);
	} else {
		n = strlen(dir) + strlen(rel) + 2;
		p = malloc(n);
		if (p)
			snprintf(p, n, "%s/%s", dir, rel);
	}
	if (p)
		tidy_path(p);
	return p;
}


/* Word lists. */

static char **push_word(char **v, size_t *n, char *w)
{
	char **grown;

	if (!w)
		goto fail;
	grown = realloc(v, (*n + 2) * sizeof(*grown));
	if (!grown)
		goto fail;
	grown[(*n)++] = w;
	grown[*n] = NULL;
	return grown;
fail:
	free(w);
	sup_wf_free_words(v);
	errno = ENOMEM;
	return NULL;
}

static int blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* The word at *S (past any blanks) into a new string, *S moved past it;
 * NULL at the end (errno 0), or with errno EINVAL / ENOMEM. */
static char *next_word(const char **s)
{
	const char *p = *s;
	char *w, *o;
	char quote = 0;

	while (blank(*p))
		p++;
	errno = 0;
	if (!*p)
		return NULL;
	w = o = malloc(strlen(p) + 1);
	if (!w)
		return NULL;
	for (; *p && (quote || !blank(*p)); p++) {
		if (quote == '"' && *p == '\\' && p[1])
			*o++ = *++p;
		else if (quote && *p == quote)
			quote = 0;
		else if (!quote && (*p == '\'' || *p == '"'))
			quote = *p;
		else
			*o++ = *p;
	}
	*o = '\0';
	*s = p;
	if (quote) {
		free(w);
		errno = EINVAL;
		return NULL;
	}
	return w;
}

char **sup_wf_words(const char *s)
{
	char **v = NULL, *w;
	size_t n = 0;

	while ((w = next_word(&s)))
		if (!(v = push_word(v, &n, w)))
			return NULL;
	if (errno || !v) {
		if (!errno)
			errno = EINVAL;
		sup_wf_free_words(v);
		return NULL;
	}
	return v;
}

char **sup_wf_items(const char *s)
{
	char **v = NULL;
	size_t n = 0;

	for (;;) {
		const char *end = strchr(s, ',');
		size_t len = end ? (size_t)(end - s) : strlen(s);

		while (len && blank(*s))
			s++, len--;
		while (len && blank(s[len - 1]))
			len--;
		if (!len) {
			sup_wf_free_words(v);
			errno = EINVAL;
			return NULL;
		}
		if (!(v = push_word(v, &n, strndup(s, len))))
			return NULL;
		if (!end)
			return v;
		s = end + 1;
	}
}

void sup_wf_free_words(char **v)
{
	for (char **p = v; p && *p; p++)
		free(*p);
	free(v);
}
