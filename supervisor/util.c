/*
 * util.c - the supervisor's small helpers: strings that cannot fail (out of
 * memory ends the supervisor, logged), time values for libevent, random
 * bytes and session ids, the argv of a CLI.
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

int cli_session_id(char out[SUP_SESSION_LEN + 1])
{
	unsigned char b[16];

	if (sup_random(b, sizeof(b)) < 0)
		return -1;
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	snprintf(out, SUP_SESSION_LEN + 1,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		 "%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
		 b[10], b[11], b[12], b[13], b[14], b[15]);
	return 0;
}

void argv_add(struct argv *a, const char *s)
{
	if (a->n + 2 > a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 32;
		char **grown = realloc(a->v, cap * sizeof(*grown));

		if (!grown) {
			sup_log(SUP_ERROR, "out of memory");
			abort();
		}
		a->v = grown;
		a->cap = cap;
	}
	a->v[a->n++] = xasprintf("%s", s);
	a->v[a->n] = NULL;
}

void argv_add_all(struct argv *a, char *const *list)
{
	for (; list && *list; list++)
		argv_add(a, *list);
}

void free_strv(char **v)
{
	for (char **p = v; p && *p; p++)
		free(*p);
	free(v);
}

/* Shell builtins with no program of the same name on PATH (and words that
 * only a shell gives a meaning): a command that starts with one needs it. */
static const char *const shell_only[] = {
	".",	  ":",	     "alias",  "bg",	    "break", "builtin", "cd",
	"command", "continue", "eval",   "exit",    "export", "fg",     "getopts",
	"hash",	  "jobs",    "local",  "read",	    "readonly", "return", "set",
	"shift",   "source",  "times",  "trap",	    "type",  "ulimit",  "umask",
	"unalias", "unset",   "wait",   NULL,
};

char **command_words(const char *command)
{
	struct argv words = {0};
	const char *p = command;

	/* Anything a shell would interpret: quotes, expansions, globs,
	 * redirections, pipes, lists, comments, escapes, line breaks. */
	if (command[strcspn(command, "'\"\\$`*?[]~|&;<>(){}#!\n\t\r")])
		return NULL;
	while (*p) {
		size_t n;
		char *w;

		p += strspn(p, " ");
		n = strcspn(p, " ");
		if (!n)
			break;
		w = xasprintf("%.*s", (int)n, p);
		/* `exec CMD` is CMD; `VAR=value CMD` sets the environment. */
		if (!words.n && !strcmp(w, "exec")) {
			free(w);
			p += n;
			continue;
		}
		argv_add(&words, w);
		free(w);
		p += n;
	}
	if (!words.n || strchr(words.v[0], '=')) {
		free_strv(words.v);
		return NULL;
	}
	for (const char *const *b = shell_only; *b; b++)
		if (!strcmp(words.v[0], *b)) {
			free_strv(words.v);
			return NULL;
		}
	return words.v;
}
