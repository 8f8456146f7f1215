/*
 * workflow.c - the workflow file loader (workflow.h, smithers.ini(5)).
 *
 * The file is INI, read with Debian's inih through ini_parse_stream() and a
 * reader of our own (read_line), because that build of inih
 * (INI_HANDLER_LINENO=0, INI_CALL_HANDLER_ON_NEW_SECTION=0, fixed
 * INI_MAX_LINE) tells the handler neither the line number nor about a
 * section without keys, and silently cuts long lines and long section
 * names. So the reader:
 * - counts lines, and refuses a line that would not fit in inih's buffer
 *   (its size is the NUM inih passes) instead of letting inih cut it;
 * - recognises section headers itself, with inih's rules, and keeps the
 *   current section: the handler ignores inih's (possibly cut) copy;
 * - catches the lines inih would reject (no '=' or ':', no ']'), so that
 *   every error has our message and its line;
 * - notes whether the line is indented: inih hands an indented line after a
 *   key to the handler as a continuation of that key's value. Text keys
 *   (command, prompt, system_prompt) join continuation lines with "\n",
 *   env takes one more NAME=VALUE from each, other keys refuse them.
 *
 * Loading stops at the first error (one message, "FILE:LINE: problem"):
 * the reader returns NULL once an error is recorded, which ends inih's loop.
 * Checks that need the whole file (references to phases, phases without
 * agents, defaults taken from [workflow]) run after the last line, in file
 * order.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>

#include "supervisor/workflow.h"

/* Longest duration anywhere in the file: a year. */
#define DURATION_MAX ((int64_t)8760 * 3600 * 1000)
/* Ranges of the counts and sizes. */
#define COUNT_MAX	  1000000
#define SHM_SLOTS_MAX	  (1 << 20) /* slots of one kind in the segment */
#define LOG_KEEP_MAX	  1000
#define LOG_MAX_BYTES_MIN ((int64_t)1024)
#define LOG_MAX_BYTES_MAX ((int64_t)1 << 40)
#define FRAME_MAX_MIN	  ((int64_t)1024)
#define FRAME_MAX_MAX	  ((int64_t)1 << 30)

enum sec_type { SEC_NONE, SEC_WORKFLOW, SEC_SHM, SEC_PHASE, SEC_AGENT };

enum key_id {
	K_NAME,
	K_MAX_PARALLEL,
	K_SYNCHRONOUS,
	K_LOG_MAX_BYTES,
	K_LOG_KEEP,
	K_FRAME_MAX,
	K_SHM_MODE,
	K_STOP_GRACE,
	K_SHM_ENABLED,
	K_SHM_KEYS,
	K_SHM_AGENTS,
	K_SHM_KEY_SLOTS,
	K_MAX_ITERATIONS,
	K_UNTIL,
	K_ON_FAILURE,
	K_PHASE,
	K_COMMAND,
	K_MODEL,
	K_PROMPT,
	K_PROMPT_FILE,
	K_SYSTEM_PROMPT,
	K_CWD,
	K_ENV,
	K_RESTART,
	K_MAX_RESTARTS,
	K_BACKOFF,
	K_STARTSECS,
	K_TIMEOUT,
	K_STOP_SIGNAL,
	K_COUNT
};

/* May be set more than once (env). */
#define F_REPEAT 1u
/* Indented lines that follow continue the value, joined with "\n". */
#define F_LINES 2u
/* An empty value means "not set". */
#define F_EMPTY_OK 4u

struct keydef {
	const char *name;
	enum sec_type sec;
	enum key_id id;
	unsigned flags;
};

static const struct keydef keys[] = {
	{"name", SEC_WORKFLOW, K_NAME, 0},
	{"max_parallel", SEC_WORKFLOW, K_MAX_PARALLEL, 0},
	{"synchronous", SEC_WORKFLOW, K_SYNCHRONOUS, 0},
	{"log_max_bytes", SEC_WORKFLOW, K_LOG_MAX_BYTES, 0},
	{"log_keep", SEC_WORKFLOW, K_LOG_KEEP, 0},
	{"frame_max", SEC_WORKFLOW, K_FRAME_MAX, 0},
	{"shm_mode", SEC_WORKFLOW, K_SHM_MODE, 0},
	{"stop_grace", SEC_WORKFLOW, K_STOP_GRACE, 0},
	{"enabled", SEC_SHM, K_SHM_ENABLED, 0},
	{"keys", SEC_SHM, K_SHM_KEYS, 0},
	{"agents", SEC_SHM, K_SHM_AGENTS, 0},
	{"key_slots", SEC_SHM, K_SHM_KEY_SLOTS, 0},
	{"max_iterations", SEC_PHASE, K_MAX_ITERATIONS, 0},
	{"until", SEC_PHASE, K_UNTIL, 0},
	{"on_failure", SEC_PHASE, K_ON_FAILURE, 0},
	{"phase", SEC_AGENT, K_PHASE, 0},
	{"command", SEC_AGENT, K_COMMAND, F_LINES},
	{"model", SEC_AGENT, K_MODEL, F_EMPTY_OK},
	{"prompt", SEC_AGENT, K_PROMPT, F_LINES | F_EMPTY_OK},
	{"prompt_file", SEC_AGENT, K_PROMPT_FILE, 0},
	{"system_prompt", SEC_AGENT, K_SYSTEM_PROMPT, F_LINES | F_EMPTY_OK},
	{"cwd", SEC_AGENT, K_CWD, 0},
	{"env", SEC_AGENT, K_ENV, F_REPEAT},
	{"restart", SEC_AGENT, K_RESTART, 0},
	{"max_restarts", SEC_AGENT, K_MAX_RESTARTS, 0},
	{"backoff", SEC_AGENT, K_BACKOFF, 0},
	{"startsecs", SEC_AGENT, K_STARTSECS, 0},
	{"timeout", SEC_AGENT, K_TIMEOUT, 0},
	{"stop_signal", SEC_AGENT, K_STOP_SIGNAL, 0},
	{"stop_grace", SEC_AGENT, K_STOP_GRACE, 0},
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

/* What an agent needs until the whole file is read. */
struct agent_extra {
	char *phase;	/* name as written */
	int phase_line; /* 0: no phase key */
	int stop_grace_set;
};

struct parser {
	const char *path; /* for messages */
	const char *pos;  /* the next line */
	int line;	  /* of the line being read */
	int indented;	  /* that line starts with whitespace */
	int prev_key;	  /* keys[] index of the section's last key, or -1 */
	int failed;
	int saved_errno;
	char *err;
	size_t errlen;

	struct sup_workflow *wf;
	size_t phase_cap, agent_cap;
	struct agent_extra *extra; /* one per agent */

	enum sec_type sec;
	size_t idx;	   /* of the current phase or agent */
	int sec_line;	   /* of its header */
	int seen[K_COUNT]; /* line each key was set on in this section */
	int workflow_line; /* of [workflow], 0 if none yet */
	int shm_line;	   /* of [shm], 0 if none yet */
};

static const struct {
	const char *name;
	int sig;
} signals[] = {
	{"TERM", SIGTERM}, {"INT", SIGINT},   {"HUP", SIGHUP},
	{"KILL", SIGKILL}, {"USR1", SIGUSR1}, {"USR2", SIGUSR2},
	{"QUIT", SIGQUIT},
};

static int perr(struct parser *ps, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Record the first error (at LINE; 0 for none) and fail with EINVAL. */
static int perr(struct parser *ps, int line, const char *fmt, ...)
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

static int nomem(struct parser *ps)
{
	if (ps->failed)
		return -1;
	perr(ps, 0, "out of memory");
	ps->saved_errno = ENOMEM;
	return -1;
}

/* Numbers and units. */

struct unit {
	const char *name;
	int64_t mult;
};

static const struct unit duration_units[] = {
	{"", 1000},   {"ms", 1},      {"s", 1000},
	{"m", 60000}, {"h", 3600000}, {NULL, 0},
};

static const struct unit size_units[] = {
	{"", 1},
	{"K", (int64_t)1 << 10},
	{"KiB", (int64_t)1 << 10},
	{"M", (int64_t)1 << 20},
	{"MiB", (int64_t)1 << 20},
	{"G", (int64_t)1 << 30},
	{"GiB", (int64_t)1 << 30},
	{NULL, 0},
};

/*
 * "DIGITS[.DIGITS][ ]UNIT" into *OUT, exactly: a value that is not a whole
 * number of the base unit ("0.0001s", "1.3K") is EINVAL. At most 9
 * significant decimals, so that FRAC * MULT stays within int64.
 */
static int parse_scaled(const char *text, const struct unit *units, int nocase,
			int64_t *out)
{
	const char *p = text;
	int64_t ip = 0, frac = 0, scale = 1, v;
	int ndig = 0, nfrac = 0;
	size_t ulen;

	for (; *p >= '0' && *p <= '9'; p++, ndig++) {
		if (ip > (INT64_MAX - 9) / 10) {
			errno = ERANGE;
			return -1;
		}
		ip = ip * 10 + (*p - '0');
	}
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++, nfrac++) {
			if (nfrac < 9) {
				frac = frac * 10 + (*p - '0');
				scale *= 10;
			} else if (*p != '0') {
				errno = EINVAL;
				return -1;
			}
		}
		if (!nfrac) {
			errno = EINVAL;
			return -1;
		}
	}
	if (!ndig) {
		errno = EINVAL;
		return -1;
	}
	while (*p == ' ' || *p == '\t')
		p++;
	ulen = strlen(p);
	for (; units->name; units++) {
		if (strlen(units->name) != ulen ||
		    (nocase ? strcasecmp(units->name, p)
			    : strcmp(units->name, p)))
			continue;
		if (ip > INT64_MAX / units->mult) {
			errno = ERANGE;
			return -1;
		}
		v = ip * units->mult;
		if ((frac * units->mult) % scale) {
			errno = EINVAL;
			return -1;
		}
		if (v > INT64_MAX - frac * units->mult / scale) {
			errno = ERANGE;
			return -1;
		}
		*out = v + frac * units->mult / scale;
		return 0;
	}
	errno = EINVAL;
	return -1;
}

int sup_parse_duration(const char *text, int64_t *ms)
{
	return parse_scaled(text, duration_units, 0, ms);
}

int sup_parse_size(const char *text, int64_t *bytes)
{
	return parse_scaled(text, size_units, 1, bytes);
}

int sup_parse_signal(const char *text)
{
	size_t i;

	if (!strncasecmp(text, "SIG", 3))
		text += 3;
	for (i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
		if (!strcasecmp(text, signals[i].name))
			return signals[i].sig;
	errno = EINVAL;
	return -1;
}

/* A whole number in [MIN, MAX] into *OUT; -1 with errno EINVAL or ERANGE. */
static int parse_count(const char *text, int64_t min, int64_t max, int64_t *out)
{
	const char *p = text;
	int64_t v = 0;
	int neg = 0;

	if (*p == '-') {
		neg = 1;
		p++;
	}
	if (!*p) {
		errno = EINVAL;
		return -1;
	}
	for (; *p; p++) {
		if (*p < '0' || *p > '9') {
			errno = EINVAL;
			return -1;
		}
		if (v <= (INT64_MAX - 9) / 10)
			v = v * 10 + (*p - '0');
		else
			v = INT64_MAX;
	}
	if (neg)
		v = -v;
	if (v < min || v > max) {
		errno = ERANGE;
		return -1;
	}
	*out = v;
	return 0;
}

/* Values of the keys. */

static const char *key_name(enum key_id id)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if (keys[i].id == id)
			return keys[i].name;
	return "?";
}

static int set_count(struct parser *ps, enum key_id id, const char *value,
		     int64_t min, int64_t max, int *out)
{
	int64_t v;

	if (parse_count(value, min, max, &v) == 0) {
		*out = (int)v;
		return 0;
	}
	if (errno == ERANGE)
		return perr(ps, ps->line, "%s '%s' out of range (%lld to %lld)",
			    key_name(id), value, (long long)min,
			    (long long)max);
	return perr(ps, ps->line, "invalid %s '%s': expected a whole number",
		    key_name(id), value);
}

static int set_size(struct parser *ps, enum key_id id, const char *value,
		    int64_t min, int64_t max, int64_t *out)
{
	int64_t v;

	if (sup_parse_size(value, &v) < 0) {
		if (errno == ERANGE)
			goto range;
		return perr(ps, ps->line,
			    "invalid %s '%s': expected a size in bytes, "
			    "with an optional K, M or G",
			    key_name(id), value);
	}
	if (v < min || v > max)
		goto range;
	*out = v;
	return 0;
range:
	return perr(ps, ps->line,
		    "%s '%s' out of range (%lld bytes to %lld bytes)",
		    key_name(id), value, (long long)min, (long long)max);
}

/* A duration for key WHAT (a name for messages) into *OUT. */
static int get_duration(struct parser *ps, const char *what, const char *value,
			int64_t *out)
{
	if (sup_parse_duration(value, out) < 0) {
		if (errno == ERANGE)
			goto range;
		return perr(ps, ps->line,
			    "invalid %s '%s': expected a duration such as "
			    "'250ms', '1.5s', '2m' or '1h' (a bare number is "
			    "seconds)",
			    what, value);
	}
	if (*out > DURATION_MAX)
		goto range;
	return 0;
range:
	return perr(ps, ps->line, "%s '%s' out of range (at most 8760h)", what,
		    value);
}

static int set_backoff(struct parser *ps, struct sup_agent *a,
		       const char *value)
{
	const char *dots = strstr(value, "..");
	int64_t min, max;
	char *first;
	int rc;

	if (!dots) {
		if (get_duration(ps, "backoff", value, &min) < 0)
			return -1;
		max = min > SUP_DEFAULT_BACKOFF_MAX ? min
						    : SUP_DEFAULT_BACKOFF_MAX;
	} else {
		first = strndup(value, (size_t)(dots - value));
		if (!first)
			return nomem(ps);
		rc = get_duration(ps, "backoff minimum", first, &min);
		free(first);
		if (rc < 0 ||
		    get_duration(ps, "backoff maximum", dots + 2, &max) < 0)
			return -1;
		if (min > max)
			return perr(ps, ps->line,
				    "invalid backoff '%s': the minimum is "
				    "above the maximum",
				    value);
	}
	a->backoff_min_ms = min;
	a->backoff_max_ms = max;
	return 0;
}

/* ASCII only: the locale must not change what a name may hold. */
static int is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

static int valid_name(const char *s)
{
	size_t n = 0;

	if (!strcmp(s, ".") || !strcmp(s, ".."))
		return 0;
	for (; s[n]; n++)
		if (!is_alnum(s[n]) && s[n] != '.' && s[n] != '_' &&
		    s[n] != '-')
			return 0;
	return n > 0 && n <= SUP_NAME_MAX;
}

static int valid_env_name(const char *s, size_t n)
{
	size_t i;

	if (!n || (s[0] >= '0' && s[0] <= '9'))
		return 0;
	for (i = 0; i < n; i++)
		if (!is_alnum(s[i]) && s[i] != '_')
			return 0;
	return 1;
}

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

/* REL made absolute from DIR (new string), or NULL (ENOMEM). */
static char *abs_path(const char *dir, const char *rel)
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

/* Read the file PATH whole, at most MAX bytes (else EFBIG), into a new
 * NUL-terminated string; *LEN gets its length. */
static char *slurp(const char *path, size_t max, size_t *len)
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

/* Line number (from 1) of byte OFF of TEXT. */
static int line_of(const char *text, size_t off)
{
	int line = 1;
	size_t i;

	for (i = 0; i < off; i++)
		if (text[i] == '\n')
			line++;
	return line;
}

static int set_prompt_file(struct parser *ps, struct sup_agent *a,
			   const char *value)
{
	size_t len;

	a->prompt_file = abs_path(ps->wf->dir, value);
	if (!a->prompt_file)
		return nomem(ps);
	a->prompt = slurp(a->prompt_file, SUP_PROMPT_MAX, &len);
	if (!a->prompt) {
		if (errno == ENOMEM)
			return nomem(ps);
		if (errno == EFBIG)
			return perr(ps, ps->line,
				    "prompt_file '%s' is larger than %d bytes",
				    a->prompt_file, SUP_PROMPT_MAX);
		return perr(ps, ps->line, "cannot read prompt_file '%s': %s",
			    a->prompt_file, strerror(errno));
	}
	if (memchr(a->prompt, '\0', len))
		return perr(
			ps, ps->line,
			"prompt_file '%s' contains a NUL byte (line %d)",
			a->prompt_file,
			line_of(a->prompt,
				(size_t)((char *)memchr(a->prompt, '\0', len) -
					 a->prompt)));
	return 0;
}

static int add_env(struct parser *ps, struct sup_agent *a, const char *value)
{
	const char *eq = strchr(value, '=');
	size_t n = eq ? (size_t)(eq - value) : 0;
	char **env;
	size_t i;

	if (!eq || !valid_env_name(value, n))
		return perr(ps, ps->line,
			    "invalid env '%s': expected NAME=VALUE, NAME "
			    "made of letters, digits and '_', not starting "
			    "with a digit",
			    value);
	if (n >= 9 && !strncmp(value, "SMITHERS_", 9))
		return perr(ps, ps->line,
			    "env '%.*s' is reserved: smithers sets the "
			    "SMITHERS_* variables",
			    (int)n, value);
	for (i = 0; i < a->nenv; i++)
		if (!strncmp(a->env[i], value, n + 1))
			return perr(ps, ps->line, "env '%.*s' is set twice",
				    (int)n, value);
	env = realloc(a->env, (a->nenv + 2) * sizeof(*env));
	if (!env)
		return nomem(ps);
	a->env = env;
	env[a->nenv] = strdup(value);
	if (!env[a->nenv])
		return nomem(ps);
	env[++a->nenv] = NULL;
	return 0;
}

/* The text field of agent A that key ID sets. */
static char **text_field(struct sup_agent *a, enum key_id id)
{
	switch (id) {
	case K_COMMAND:
		return &a->command;
	case K_MODEL:
		return &a->model;
	case K_PROMPT:
		return &a->prompt;
	case K_SYSTEM_PROMPT:
		return &a->system_prompt;
	default:
		return NULL;
	}
}

/* Add a continuation line to *FIELD. */
static int append_line(struct parser *ps, enum key_id id, char **field,
		       const char *value)
{
	size_t old = *field ? strlen(*field) : 0, n = strlen(value);
	char *s;

	if (old + 1 + n > SUP_PROMPT_MAX)
		return perr(ps, ps->line, "%s is longer than %d bytes",
			    key_name(id), SUP_PROMPT_MAX);
	if (!old) {
		free(*field);
		*field = strdup(value);
		return *field ? 0 : nomem(ps);
	}
	s = realloc(*field, old + 1 + n + 1);
	if (!s)
		return nomem(ps);
	s[old] = '\n';
	memcpy(s + old + 1, value, n + 1);
	*field = s;
	return 0;
}

static int set_workflow_key(struct parser *ps, enum key_id id,
			    const char *value)
{
	struct sup_workflow *wf = ps->wf;
	int64_t v;

	switch (id) {
	case K_NAME:
		if (!valid_name(value))
			return perr(ps, ps->line,
				    "invalid name '%s': use letters, digits, "
				    "'.', '_' and '-', at most %d",
				    value, SUP_NAME_MAX);
		wf->name = strdup(value);
		return wf->name ? 0 : nomem(ps);
	case K_MAX_PARALLEL:
		return set_count(ps, id, value, 0, COUNT_MAX,
				 &wf->max_parallel);
	case K_SYNCHRONOUS:
		if (!strcmp(value, "full"))
			wf->synchronous = SUP_SYNC_FULL;
		else if (!strcmp(value, "normal"))
			wf->synchronous = SUP_SYNC_NORMAL;
		else
			return perr(ps, ps->line,
				    "invalid synchronous '%s': expected full "
				    "or normal",
				    value);
		return 0;
	case K_LOG_MAX_BYTES:
		return set_size(ps, id, value, LOG_MAX_BYTES_MIN,
				LOG_MAX_BYTES_MAX, &wf->log_max_bytes);
	case K_LOG_KEEP:
		return set_count(ps, id, value, 0, LOG_KEEP_MAX, &wf->log_keep);
	case K_FRAME_MAX:
		return set_size(ps, id, value, FRAME_MAX_MIN, FRAME_MAX_MAX,
				&wf->frame_max);
	case K_SHM_MODE:
		if (strspn(value, "01234567") != strlen(value) ||
		    strlen(value) > 4)
			return perr(ps, ps->line,
				    "invalid shm_mode '%s': expected octal "
				    "permissions such as 0600 or 0640",
				    value);
		v = strtol(value, NULL, 8);
		if (v > 0777)
			return perr(ps, ps->line,
				    "shm_mode '%s' out of range (0 to 0777)",
				    value);
		wf->shm_mode = (mode_t)v;
		return 0;
	case K_STOP_GRACE:
		return get_duration(ps, "stop_grace", value,
				    &wf->stop_grace_ms);
	default:
		return 0;
	}
}

/* [shm] keys: a comma-separated list of globs, each made of what a state
 * key may hold (the glob characters * ? [ ] included). */
static int set_shm_globs(struct parser *ps, const char *value)
{
	struct sup_workflow *wf = ps->wf;
	const char *p = value;

	while (*p) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		char **grown;

		while (n && isspace((unsigned char)*p))
			p++, n--;
		while (n && isspace((unsigned char)p[n - 1]))
			n--;
		if (!n || n > SUP_SHM_KEY_MAX)
			return perr(ps, ps->line,
				    "invalid keys '%s': expected globs of 1 to "
				    "%d bytes separated by commas",
				    value, SUP_SHM_KEY_MAX);
		grown = realloc(wf->shm_keys,
				(wf->nshm_keys + 2) * sizeof(*grown));
		if (!grown)
			return nomem(ps);
		wf->shm_keys = grown;
		wf->shm_keys[wf->nshm_keys] = strndup(p, n);
		if (!wf->shm_keys[wf->nshm_keys])
			return nomem(ps);
		wf->shm_keys[++wf->nshm_keys] = NULL;
		if (!end)
			break;
		p = end + 1;
	}
	return 0;
}

static int set_shm_key(struct parser *ps, enum key_id id, const char *value)
{
	struct sup_workflow *wf = ps->wf;

	switch (id) {
	case K_SHM_ENABLED:
		if (!strcmp(value, "yes") || !strcmp(value, "true"))
			wf->shm_enabled = 1;
		else if (!strcmp(value, "no") || !strcmp(value, "false"))
			wf->shm_enabled = 0;
		else
			return perr(ps, ps->line,
				    "invalid enabled '%s': expected yes or no",
				    value);
		return 0;
	case K_SHM_KEYS:
		return set_shm_globs(ps, value);
	case K_SHM_AGENTS:
		return set_count(ps, id, value, 1, SHM_SLOTS_MAX,
				 &wf->shm_agents);
	case K_SHM_KEY_SLOTS:
		return set_count(ps, id, value, 1, SHM_SLOTS_MAX,
				 &wf->shm_key_slots);
	default:
		return 0;
	}
}

static int set_phase_key(struct parser *ps, enum key_id id, const char *value)
{
	struct sup_phase *ph = &ps->wf->phases[ps->idx];
	char msg[400];

	switch (id) {
	case K_MAX_ITERATIONS:
		return set_count(ps, id, value, 1, COUNT_MAX,
				 &ph->max_iterations);
	case K_UNTIL:
		ph->until = sup_cond_parse(value, msg, sizeof(msg));
		if (!ph->until)
			return errno == ENOMEM
				       ? nomem(ps)
				       : perr(ps, ps->line, "until: %s", msg);
		ph->until_text = strdup(value);
		return ph->until_text ? 0 : nomem(ps);
	case K_ON_FAILURE:
		if (!strcmp(value, "stop"))
			ph->on_failure = SUP_ON_FAILURE_STOP;
		else if (!strcmp(value, "continue"))
			ph->on_failure = SUP_ON_FAILURE_CONTINUE;
		else
			return perr(ps, ps->line,
				    "invalid on_failure '%s': expected stop or "
				    "continue",
				    value);
		return 0;
	default:
		return 0;
	}
}

static int set_agent_key(struct parser *ps, enum key_id id, const char *value)
{
	struct sup_agent *a = &ps->wf->agents[ps->idx];
	struct agent_extra *x = &ps->extra[ps->idx];
	char **field;
	int sig;

	switch (id) {
	case K_PHASE:
		x->phase = strdup(value);
		x->phase_line = ps->line;
		return x->phase ? 0 : nomem(ps);
	case K_COMMAND:
	case K_MODEL:
	case K_PROMPT:
	case K_SYSTEM_PROMPT:
		if (id == K_PROMPT && *value && a->prompt_file)
			goto both_prompts;
		field = text_field(a, id);
		if (!*value)
			return 0;
		return append_line(ps, id, field, value);
	case K_PROMPT_FILE:
		if (a->prompt)
			goto both_prompts;
		return set_prompt_file(ps, a, value);
	case K_CWD:
		free(a->cwd);
		a->cwd = abs_path(ps->wf->dir, value);
		return a->cwd ? 0 : nomem(ps);
	case K_ENV:
		return add_env(ps, a, value);
	case K_RESTART:
		if (!strcmp(value, "never"))
			a->restart = SUP_RESTART_NEVER;
		else if (!strcmp(value, "on-failure"))
			a->restart = SUP_RESTART_ON_FAILURE;
		else if (!strcmp(value, "always"))
			a->restart = SUP_RESTART_ALWAYS;
		else
			return perr(ps, ps->line,
				    "invalid restart '%s': expected never, "
				    "on-failure or always",
				    value);
		return 0;
	case K_MAX_RESTARTS:
		return set_count(ps, id, value, 0, COUNT_MAX, &a->max_restarts);
	case K_BACKOFF:
		return set_backoff(ps, a, value);
	case K_STARTSECS:
		return get_duration(ps, "startsecs", value, &a->startsecs_ms);
	case K_TIMEOUT:
		return get_duration(ps, "timeout", value, &a->timeout_ms);
	case K_STOP_SIGNAL:
		sig = sup_parse_signal(value);
		if (sig < 0)
			return perr(ps, ps->line,
				    "invalid stop_signal '%s': expected TERM, "
				    "INT, HUP, KILL, USR1, USR2 or QUIT",
				    value);
		a->stop_signal = sig;
		return 0;
	case K_STOP_GRACE:
		x->stop_grace_set = 1;
		return get_duration(ps, "stop_grace", value, &a->stop_grace_ms);
	default:
		return 0;
	}
both_prompts:
	return perr(ps, ps->line,
		    "[agent %s] sets both prompt and prompt_file (keep one)",
		    a->name);
}

/* Sections. */

/* "[workflow]", "[phase NAME]" or "[agent NAME]" of the current section,
 * into BUF. */
static const char *sec_label(struct parser *ps, char *buf, size_t len)
{
	switch (ps->sec) {
	case SEC_PHASE:
		snprintf(buf, len, "[phase %s]", ps->wf->phases[ps->idx].name);
		break;
	case SEC_AGENT:
		snprintf(buf, len, "[agent %s]", ps->wf->agents[ps->idx].name);
		break;
	case SEC_SHM:
		snprintf(buf, len, "[shm]");
		break;
	default:
		snprintf(buf, len, "[workflow]");
		break;
	}
	return buf;
}

/* Checks of the section that ends (before the next header, or at the end
 * of the file). */
static int end_section(struct parser *ps)
{
	struct sup_agent *a;

	if (ps->sec != SEC_AGENT)
		return 0;
	a = &ps->wf->agents[ps->idx];
	if (!ps->seen[K_PHASE])
		return perr(ps, ps->sec_line,
			    "[agent %s] has no 'phase' (required)", a->name);
	if (!ps->seen[K_COMMAND])
		return perr(ps, ps->sec_line,
			    "[agent %s] has no 'command' (required)", a->name);
	return 0;
}

static int begin_phase(struct parser *ps, const char *name)
{
	struct sup_workflow *wf = ps->wf;
	struct sup_phase *ph;
	ssize_t dup = sup_workflow_find_phase(wf, name);

	if (dup >= 0)
		return perr(ps, ps->line,
			    "duplicate section [phase %s] (first at line %d)",
			    name, wf->phases[dup].line);
	if (wf->nphases == ps->phase_cap) {
		size_t cap = ps->phase_cap ? ps->phase_cap * 2 : 8;

		ph = realloc(wf->phases, cap * sizeof(*ph));
		if (!ph)
			return nomem(ps);
		wf->phases = ph;
		ps->phase_cap = cap;
	}
	ph = &wf->phases[wf->nphases];
	memset(ph, 0, sizeof(*ph));
	ph->name = strdup(name);
	if (!ph->name)
		return nomem(ps);
	wf->nphases++;
	ph->line = ps->line;
	ph->max_iterations = 1;
	ph->on_failure = SUP_ON_FAILURE_STOP;
	ps->idx = wf->nphases - 1;
	return 0;
}

static int begin_agent(struct parser *ps, const char *name)
{
	struct sup_workflow *wf = ps->wf;
	struct sup_agent *a;
	struct agent_extra *x;
	ssize_t dup = sup_workflow_find_agent(wf, name);

	if (dup >= 0)
		return perr(ps, ps->line,
			    "duplicate section [agent %s] (first at line %d)",
			    name, wf->agents[dup].line);
	if (wf->nagents == ps->agent_cap) {
		size_t cap = ps->agent_cap ? ps->agent_cap * 2 : 8;

		a = realloc(wf->agents, cap * sizeof(*a));
		if (!a)
			return nomem(ps);
		wf->agents = a;
		x = realloc(ps->extra, cap * sizeof(*x));
		if (!x)
			return nomem(ps);
		ps->extra = x;
		ps->agent_cap = cap;
	}
	a = &wf->agents[wf->nagents];
	x = &ps->extra[wf->nagents];
	memset(a, 0, sizeof(*a));
	memset(x, 0, sizeof(*x));
	wf->nagents++;
	a->name = strdup(name);
	a->cwd = strdup(wf->dir);
	a->env = calloc(1, sizeof(*a->env));
	if (!a->name || !a->cwd || !a->env)
		return nomem(ps);
	a->line = ps->line;
	a->restart = SUP_RESTART_ON_FAILURE;
	a->max_restarts = SUP_DEFAULT_MAX_RESTARTS;
	a->backoff_min_ms = SUP_DEFAULT_BACKOFF_MIN;
	a->backoff_max_ms = SUP_DEFAULT_BACKOFF_MAX;
	a->startsecs_ms = SUP_DEFAULT_STARTSECS;
	a->stop_signal = SIGTERM;
	a->stop_grace_ms = SUP_DEFAULT_STOP_GRACE;
	ps->idx = wf->nagents - 1;
	return 0;
}

/* The section header whose text (between the brackets) is [S, E). */
static int begin_section(struct parser *ps, const char *s, const char *e)
{
	const char *type, *type_end, *name;
	char buf[SUP_NAME_MAX + 1];
	size_t tlen, nlen;
	int rc;

	if (end_section(ps) < 0)
		return -1;
	while (s < e && isspace((unsigned char)*s))
		s++;
	while (e > s && isspace((unsigned char)e[-1]))
		e--;
	type = s;
	for (type_end = s; type_end < e && !isspace((unsigned char)*type_end);
	     type_end++)
		;
	tlen = (size_t)(type_end - type);
	for (name = type_end; name < e && isspace((unsigned char)*name); name++)
		;
	nlen = (size_t)(e - name);
	/* Too long to be valid: kept short enough to be named. */
	snprintf(buf, sizeof(buf), "%.*s", (int)nlen, name);

	ps->prev_key = -1;
	memset(ps->seen, 0, sizeof(ps->seen));
	ps->sec_line = ps->line;
	if (tlen == 8 && !strncmp(type, "workflow", 8)) {
		if (nlen)
			return perr(ps, ps->line,
				    "[workflow] takes no name (set 'name = "
				    "%.*s' in it)",
				    (int)nlen, name);
		if (ps->workflow_line)
			return perr(ps, ps->line,
				    "duplicate section [workflow] (first at "
				    "line %d)",
				    ps->workflow_line);
		ps->workflow_line = ps->line;
		ps->sec = SEC_WORKFLOW;
		return 0;
	}
	if (tlen == 3 && !strncmp(type, "shm", 3)) {
		if (nlen)
			return perr(ps, ps->line, "[shm] takes no name");
		if (ps->shm_line)
			return perr(ps, ps->line,
				    "duplicate section [shm] (first at line %d)",
				    ps->shm_line);
		ps->shm_line = ps->line;
		ps->sec = SEC_SHM;
		return 0;
	}
	if ((tlen == 5 && !strncmp(type, "phase", 5)) ||
	    (tlen == 5 && !strncmp(type, "agent", 5))) {
		const char *what = type[0] == 'p' ? "phase" : "agent";

		if (!nlen)
			return perr(ps, ps->line,
				    "section [%s] needs a name: [%s NAME]",
				    what, what);
		if (nlen > SUP_NAME_MAX || !valid_name(buf))
			return perr(ps, ps->line,
				    "invalid %s name '%.*s': use letters, "
				    "digits, '.', '_' and '-', at most %d",
				    what, (int)nlen, name, SUP_NAME_MAX);
		if (type[0] == 'p') {
			ps->sec = SEC_PHASE;
			rc = begin_phase(ps, buf);
		} else {
			ps->sec = SEC_AGENT;
			rc = begin_agent(ps, buf);
		}
		return rc;
	}
	ps->sec = SEC_NONE;
	return perr(ps, ps->line, "unknown section [%.*s]", (int)(e - s), s);
}

/* Lines: what inih will make of LINE, with its rules (see the top). */
static int classify(struct parser *ps, const char *line)
{
	const char *s = line, *p;
	int was_space = 0, indented;

	if (ps->line == 1 && !strncmp(s, "\xef\xbb\xbf", 3))
		s += 3;
	indented = isspace((unsigned char)*s);
	while (isspace((unsigned char)*s))
		s++;
	ps->indented = 0;
	if (!*s || *s == ';' || *s == '#')
		return 0;
	if (indented && ps->prev_key >= 0) {
		ps->indented = 1;
		return 0;
	}
	if (*s == '[') {
		for (p = s + 1; *p && *p != ']'; p++) {
			if (was_space && *p == ';')
				break;
			was_space = isspace((unsigned char)*p);
		}
		if (*p != ']')
			return perr(ps, ps->line,
				    "expected ']' to close the section header");
		if (begin_section(ps, s + 1, p) < 0)
			return -1;
		for (p++; isspace((unsigned char)*p); p++)
			;
		if (*p && *p != ';' && *p != '#')
			return perr(ps, ps->line,
				    "unexpected text after the section "
				    "header");
		return 0;
	}
	for (p = s; *p && *p != '=' && *p != ':'; p++) {
		if (was_space && *p == ';')
			break;
		was_space = isspace((unsigned char)*p);
	}
	if (*p != '=' && *p != ':')
		return perr(ps, ps->line,
			    "expected 'key = value', a [section] header or a "
			    "comment");
	return 0;
}

/* inih's reader: the next line of the text into BUF (NUM bytes). */
static char *read_line(char *buf, int num, void *arg)
{
	struct parser *ps = arg;
	const char *p = ps->pos, *nl;
	size_t len, content;

	if (ps->failed || !*p)
		return NULL;
	nl = strchr(p, '\n');
	len = nl ? (size_t)(nl - p) + 1 : strlen(p);
	content = nl ? len - 1 : len;
	ps->line++;
	if (num < 3 || content > (size_t)num - 2) {
		perr(ps, ps->line,
		     "line too long (%zu characters; at most %d: continue a "
		     "long value on indented lines, or use prompt_file)",
		     content, num < 3 ? 0 : num - 2);
		return NULL;
	}
	memcpy(buf, p, len);
	buf[len] = '\0';
	ps->pos = p + len;
	if (classify(ps, buf) < 0)
		return NULL;
	return buf;
}

/* A continuation line: VALUE goes on with the section's last key. inih
 * leaves inline comments in continuation lines: they go here, so that " ;"
 * means the same on every line. */
static int continue_key(struct parser *ps, const char *value)
{
	const struct keydef *kd = &keys[ps->prev_key];
	struct sup_agent *a;
	char *v, *p;
	int was_space = 0, rc;

	if (ps->sec != SEC_AGENT || (kd->id != K_ENV && !(kd->flags & F_LINES)))
		return perr(ps, ps->line,
			    "indented line continues '%s', which takes one "
			    "line (remove the indentation)",
			    kd->name);
	v = strdup(value);
	if (!v)
		return nomem(ps);
	for (p = v; *p; p++) {
		if (was_space && *p == ';') {
			*p = '\0';
			break;
		}
		was_space = isspace((unsigned char)*p);
	}
	while (p > v && isspace((unsigned char)p[-1]))
		*--p = '\0';
	a = &ps->wf->agents[ps->idx];
	if (kd->id == K_ENV)
		rc = add_env(ps, a, v);
	else
		rc = append_line(ps, kd->id, text_field(a, kd->id), v);
	free(v);
	return rc;
}

/* inih's handler: one key = value of the current line. */
static int on_pair(void *arg, const char *section, const char *name,
		   const char *value)
{
	struct parser *ps = arg;
	const struct keydef *kd = NULL;
	char label[SUP_NAME_MAX + 16];
	size_t i;
	int rc;

	(void)section; /* cut at 49 bytes; ours is whole */
	if (ps->failed)
		return 0;
	if (ps->indented)
		return continue_key(ps, value) == 0;
	if (!*name)
		return perr(ps, ps->line, "missing key name before '='") == 0;
	if (ps->sec == SEC_NONE)
		return perr(ps, ps->line,
			    "key '%s' outside any section (start with "
			    "[workflow], [phase NAME] or [agent NAME])",
			    name) == 0;
	for (i = 0; i < NKEYS; i++) {
		if (keys[i].sec == ps->sec && !strcmp(keys[i].name, name)) {
			kd = &keys[i];
			break;
		}
	}
	if (!kd)
		return perr(ps, ps->line, "unknown key '%s' in %s", name,
			    sec_label(ps, label, sizeof(label))) == 0;
	if (ps->seen[kd->id] && !(kd->flags & F_REPEAT))
		return perr(ps, ps->line,
			    "duplicate key '%s' in %s (first set at line %d)",
			    name, sec_label(ps, label, sizeof(label)),
			    ps->seen[kd->id]) == 0;
	ps->prev_key = (int)i;
	ps->seen[kd->id] = ps->line;
	if (!*value && !(kd->flags & F_EMPTY_OK))
		return perr(ps, ps->line, "empty value for '%s'", name) == 0;
	switch (ps->sec) {
	case SEC_WORKFLOW:
		rc = set_workflow_key(ps, kd->id, value);
		break;
	case SEC_SHM:
		rc = set_shm_key(ps, kd->id, value);
		break;
	case SEC_PHASE:
		rc = set_phase_key(ps, kd->id, value);
		break;
	default:
		rc = set_agent_key(ps, kd->id, value);
		break;
	}
	return rc == 0;
}

/* The whole file read: references, defaults, phases' agents. */
static int finish(struct parser *ps)
{
	struct sup_workflow *wf = ps->wf;
	const char *base, *dot;
	char name[PATH_MAX];
	struct sup_phase *ph;
	ssize_t k;
	size_t i;

	if (end_section(ps) < 0)
		return -1;
	for (i = 0; i < wf->nagents; i++) {
		k = sup_workflow_find_phase(wf, ps->extra[i].phase);
		if (k < 0)
			return perr(ps, ps->extra[i].phase_line,
				    "agent '%s' names phase '%s' which is not "
				    "defined",
				    wf->agents[i].name, ps->extra[i].phase);
		wf->agents[i].phase = (size_t)k;
		if (!ps->extra[i].stop_grace_set)
			wf->agents[i].stop_grace_ms = wf->stop_grace_ms;
	}
	if (!wf->nphases)
		return perr(ps, 0,
			    "no [phase NAME] section: a workflow needs "
			    "at least one phase");
	/* Count, check, then list each phase's agents. */
	for (i = 0; i < wf->nagents; i++)
		wf->phases[wf->agents[i].phase].nagents++;
	for (i = 0; i < wf->nphases; i++) {
		ph = &wf->phases[i];
		if (!ph->nagents)
			return perr(ps, ph->line, "phase '%s' has no agents",
				    ph->name);
		ph->agents = calloc(ph->nagents, sizeof(*ph->agents));
		if (!ph->agents)
			return nomem(ps);
		ph->nagents = 0;
	}
	for (i = 0; i < wf->nagents; i++) {
		ph = &wf->phases[wf->agents[i].phase];
		ph->agents[ph->nagents++] = i;
	}
	if (wf->name)
		return 0;
	base = strrchr(ps->path, '/');
	base = base ? base + 1 : ps->path;
	dot = strrchr(base, '.');
	if (!dot || strcmp(dot, ".ini"))
		dot = base + strlen(base);
	snprintf(name, sizeof(name), "%.*s", (int)(dot - base), base);
	if (!valid_name(name))
		return perr(ps, 0,
			    "'%s' (from the file name) is not a valid "
			    "workflow name: set 'name' in [workflow]",
			    name);
	wf->name = strdup(name);
	return wf->name ? 0 : nomem(ps);
}

struct sup_workflow *sup_workflow_parse(const char *text, const char *path,
					const char *base_dir, char *err,
					size_t errlen)
{
	struct parser ps;
	struct sup_workflow *wf;
	char *cwd = NULL;
	size_t i;
	int rc;

	memset(&ps, 0, sizeof(ps));
	ps.path = path ? path : "workflow";
	ps.pos = text ? text : "";
	ps.prev_key = -1;
	ps.err = err;
	ps.errlen = errlen;
	if (err && errlen)
		err[0] = '\0';

	wf = calloc(1, sizeof(*wf));
	if (!wf) {
		nomem(&ps);
		goto out;
	}
	ps.wf = wf;
	wf->synchronous = SUP_SYNC_FULL;
	wf->log_max_bytes = SUP_DEFAULT_LOG_MAX_BYTES;
	wf->log_keep = SUP_DEFAULT_LOG_KEEP;
	wf->frame_max = SUP_DEFAULT_FRAME_MAX;
	wf->shm_mode = SUP_DEFAULT_SHM_MODE;
	wf->shm_enabled = 1;
	wf->shm_agents = SUP_DEFAULT_SHM_AGENTS;
	wf->shm_key_slots = SUP_DEFAULT_SHM_KEYS;
	wf->stop_grace_ms = SUP_DEFAULT_STOP_GRACE;
	wf->path = strdup(ps.path);
	if (!base_dir || base_dir[0] != '/') {
		cwd = getcwd(NULL, 0);
		if (!cwd) {
			int saved = errno;

			perr(&ps, 0, "cannot get the current directory: %s",
			     strerror(saved));
			ps.saved_errno = saved;
			goto out;
		}
	}
	wf->dir = abs_path(cwd ? cwd : "/", base_dir ? base_dir : ".");
	if (!wf->path || !wf->dir) {
		nomem(&ps);
		goto out;
	}

	rc = ini_parse_stream(read_line, &ps, on_pair, &ps);
	if (!ps.failed && rc == -2)
		nomem(&ps);
	else if (!ps.failed && rc)
		perr(&ps, rc > 0 ? rc : 0, "syntax error");
	if (!ps.failed)
		finish(&ps);
out:
	if (ps.extra)
		for (i = 0; i < wf->nagents; i++)
			free(ps.extra[i].phase);
	free(ps.extra);
	free(cwd);
	if (ps.failed) {
		sup_workflow_free(wf);
		errno = ps.saved_errno;
		return NULL;
	}
	return wf;
}

struct sup_workflow *sup_workflow_load(const char *path, char *err,
				       size_t errlen)
{
	struct sup_workflow *wf = NULL;
	char *text = NULL, *dir = NULL, *real = NULL, *nul;
	const char *slash;
	size_t len;
	int saved;

	text = slurp(path, SUP_WORKFLOW_FILE_MAX, &len);
	if (!text) {
		saved = errno;
		if (err && errlen && saved == EFBIG)
			snprintf(err, errlen, "%s: larger than %d bytes", path,
				 SUP_WORKFLOW_FILE_MAX);
		else if (err && errlen)
			snprintf(err, errlen, "cannot open '%s': %s", path,
				 strerror(saved));
		errno = saved;
		goto out;
	}
	nul = memchr(text, '\0', len);
	if (nul) {
		if (err && errlen)
			snprintf(err, errlen, "%s:%d: NUL byte in the file",
				 path, line_of(text, (size_t)(nul - text)));
		errno = EINVAL;
		goto out;
	}
	slash = strrchr(path, '/');
	if (!slash)
		dir = strdup(".");
	else if (slash == path)
		dir = strdup("/");
	else
		dir = strndup(path, (size_t)(slash - path));
	if (!dir) {
		if (err && errlen)
			snprintf(err, errlen, "out of memory");
		goto out;
	}
	real = realpath(dir, NULL);
	if (!real) {
		saved = errno;
		if (err && errlen)
			snprintf(err, errlen, "cannot resolve '%s': %s", dir,
				 strerror(saved));
		errno = saved;
		goto out;
	}
	wf = sup_workflow_parse(text, path, real, err, errlen);
out:
	saved = errno;
	free(text);
	free(dir);
	free(real);
	errno = saved;
	return wf;
}

void sup_workflow_free(struct sup_workflow *wf)
{
	struct sup_agent *a;
	size_t i, j;

	if (!wf)
		return;
	for (i = 0; i < wf->nphases; i++) {
		free(wf->phases[i].name);
		sup_cond_free(wf->phases[i].until);
		free(wf->phases[i].until_text);
		free(wf->phases[i].agents);
	}
	for (i = 0; i < wf->nshm_keys; i++)
		free(wf->shm_keys[i]);
	free(wf->shm_keys);
	for (i = 0; i < wf->nagents; i++) {
		a = &wf->agents[i];
		free(a->name);
		free(a->command);
		free(a->model);
		free(a->prompt);
		free(a->prompt_file);
		free(a->system_prompt);
		free(a->cwd);
		for (j = 0; a->env && j < a->nenv; j++)
			free(a->env[j]);
		free(a->env);
	}
	free(wf->phases);
	free(wf->agents);
	free(wf->name);
	free(wf->path);
	free(wf->dir);
	free(wf);
}

const struct sup_agent *sup_workflow_phase_agent(const struct sup_workflow *wf,
						 size_t phase, size_t j)
{
	if (phase >= wf->nphases || j >= wf->phases[phase].nagents)
		return NULL;
	return &wf->agents[wf->phases[phase].agents[j]];
}

ssize_t sup_workflow_find_phase(const struct sup_workflow *wf, const char *name)
{
	size_t i;

	for (i = 0; i < wf->nphases; i++)
		if (!strcmp(wf->phases[i].name, name))
			return (ssize_t)i;
	return -1;
}

ssize_t sup_workflow_find_agent(const struct sup_workflow *wf, const char *name)
{
	size_t i;

	for (i = 0; i < wf->nagents; i++)
		if (!strcmp(wf->agents[i].name, name))
			return (ssize_t)i;
	return -1;
}

const char *sup_restart_name(enum sup_restart r)
{
	switch (r) {
	case SUP_RESTART_NEVER:
		return "never";
	case SUP_RESTART_ON_FAILURE:
		return "on-failure";
	case SUP_RESTART_ALWAYS:
		return "always";
	}
	return "?";
}

const char *sup_on_failure_name(enum sup_on_failure f)
{
	return f == SUP_ON_FAILURE_CONTINUE ? "continue" : "stop";
}

const char *sup_synchronous_name(enum sup_synchronous s)
{
	return s == SUP_SYNC_NORMAL ? "normal" : "full";
}
