/*
 * workflow-keys.c - the keys of a workflow file (smithers.ini(5)): which
 * section takes which key, and each value checked and stored into the
 * workflow's structs (workflow.h), with the file's messages. The lines and
 * sections around them are workflow.c's; the units (durations, sizes,
 * counts, signals) are common/units.c's grammar.
 *
 * A setter records at most one error (sup_wf_err) and returns -1; what it
 * allocated before failing belongs to the workflow, freed with it.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/units.h"
#include "supervisor/workflow-int.h"

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
#define LINE_MAX_MIN	  ((int64_t)64 * 1024)
#define LINE_MAX_MAX	  ((int64_t)1 << 32)
#define TURNS_MAX	  100000
#define COST_MAX	  1000000.0 /* USD */
/* The limits (cgroup v2's files). Less than a MiB holds no process; a
 * cpu.max quota under 1ms of each 100ms period is refused by the kernel. */
#define MEMORY_MIN     ((int64_t)1 << 20)
#define MEMORY_MAX     ((int64_t)1 << 50)
#define PIDS_MAX       4194304 /* the kernel's PID_MAX_LIMIT */
#define CPU_WEIGHT_MAX 10000
#define CPU_MIN	       0.01 /* cores */
#define CPU_MAX	       1024.0

static const struct keydef keys[] = {
	{"name", SEC_WORKFLOW, K_NAME, 0},
	{"max_parallel", SEC_WORKFLOW, K_MAX_PARALLEL, 0},
	{"synchronous", SEC_WORKFLOW, K_SYNCHRONOUS, 0},
	{"log_max_bytes", SEC_WORKFLOW, K_LOG_MAX_BYTES, 0},
	{"log_keep", SEC_WORKFLOW, K_LOG_KEEP, 0},
	{"frame_max", SEC_WORKFLOW, K_FRAME_MAX, 0},
	{"shm_mode", SEC_WORKFLOW, K_SHM_MODE, 0},
	{"stop_grace", SEC_WORKFLOW, K_STOP_GRACE, 0},
	{"cgroups", SEC_WORKFLOW, K_CGROUPS, 0},
	{"memory_max", SEC_WORKFLOW, K_MEMORY_MAX, 0},
	{"memory_high", SEC_WORKFLOW, K_MEMORY_HIGH, 0},
	{"pids_max", SEC_WORKFLOW, K_PIDS_MAX, 0},
	{"cpu_weight", SEC_WORKFLOW, K_CPU_WEIGHT, 0},
	{"cpu_max", SEC_WORKFLOW, K_CPU_MAX, 0},
	{"max_cost_usd", SEC_WORKFLOW, K_MAX_COST_USD, 0},
	{"max_tokens", SEC_WORKFLOW, K_MAX_TOKENS, 0},
	{"price_input", SEC_WORKFLOW, K_PRICE_INPUT, 0},
	{"price_cached_input", SEC_WORKFLOW, K_PRICE_CACHED_INPUT, 0},
	{"price_output", SEC_WORKFLOW, K_PRICE_OUTPUT, 0},
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
	{"memory_max", SEC_AGENT, K_MEMORY_MAX, 0},
	{"memory_high", SEC_AGENT, K_MEMORY_HIGH, 0},
	{"pids_max", SEC_AGENT, K_PIDS_MAX, 0},
	{"cpu_weight", SEC_AGENT, K_CPU_WEIGHT, 0},
	{"cpu_max", SEC_AGENT, K_CPU_MAX, 0},
	{"kind", SEC_AGENT, K_KIND, 0},
	/* kind = claude or codex */
	{"max_cost_usd", SEC_AGENT, K_MAX_COST_USD, 0},
	{"max_tokens", SEC_AGENT, K_MAX_TOKENS, 0},
	{"resume_prompt", SEC_AGENT, K_RESUME_PROMPT, F_LINES},
	{"session", SEC_AGENT, K_SESSION, 0},
	{"line_max", SEC_AGENT, K_LINE_MAX, 0},
	/* kind = claude */
	{"allowed_tools", SEC_AGENT, K_ALLOWED_TOOLS, 0},
	{"disallowed_tools", SEC_AGENT, K_DISALLOWED_TOOLS, 0},
	{"permission_mode", SEC_AGENT, K_PERMISSION_MODE, 0},
	{"max_turns", SEC_AGENT, K_MAX_TURNS, 0},
	{"claude_args", SEC_AGENT, K_CLAUDE_ARGS, 0},
	{"claude_command", SEC_AGENT, K_CLAUDE_COMMAND, 0},
	/* kind = codex */
	{"sandbox", SEC_AGENT, K_SANDBOX, 0},
	{"codex_args", SEC_AGENT, K_CODEX_ARGS, 0},
	{"codex_command", SEC_AGENT, K_CODEX_COMMAND, 0},
	{"price_input", SEC_AGENT, K_PRICE_INPUT, 0},
	{"price_cached_input", SEC_AGENT, K_PRICE_CACHED_INPUT, 0},
	{"price_output", SEC_AGENT, K_PRICE_OUTPUT, 0},
};

#define KIND_BIT(k) (1u << (k))
#define CLI_KINDS   (KIND_BIT(SUP_KIND_CLAUDE) | KIND_BIT(SUP_KIND_CODEX))

/* The sandbox modes of `codex exec --sandbox`. */
static const char *const sandboxes[] = {
	"read-only",
	"workspace-write",
	"danger-full-access",
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

/* The signals stop_signal takes (supervisord's): a signal that stops a
 * process for good, never STOP or a core dump. */
static const int stop_signals[] = {
	SIGTERM, SIGINT, SIGHUP, SIGKILL, SIGUSR1, SIGUSR2, SIGQUIT,
};

/* Values of the keys. */

const char *sup_wf_key_name(enum key_id id)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if (keys[i].id == id)
			return keys[i].name;
	return "?";
}

unsigned sup_wf_key_kinds(enum key_id id)
{
	if (id <= K_KIND)
		return CLI_KINDS | KIND_BIT(SUP_KIND_COMMAND);
	if (id < K_ALLOWED_TOOLS)
		return CLI_KINDS;
	if (id < K_SANDBOX)
		return KIND_BIT(SUP_KIND_CLAUDE);
	return KIND_BIT(SUP_KIND_CODEX);
}

const char *sup_wf_kinds_text(unsigned kinds)
{
	if (kinds == CLI_KINDS)
		return "claude or codex";
	return kinds == KIND_BIT(SUP_KIND_CODEX) ? "codex" : "claude";
}

static int set_count(struct parser *ps, enum key_id id, const char *value,
		     int64_t min, int64_t max, int *out)
{
	int64_t v;

	if (cm_parse_int(value, min, max, &v) == 0) {
		*out = (int)v;
		return 0;
	}
	if (errno == ERANGE)
		return sup_wf_err(
			ps, ps->line, "%s '%s' out of range (%lld to %lld)",
			sup_wf_key_name(id), value, (long long)min, (long long)max);
	return sup_wf_err(ps, ps->line,
			  "invalid %s '%s': expected a whole number",
			  sup_wf_key_name(id), value);
}

static int set_size(struct parser *ps, enum key_id id, const char *value,
		    int64_t min, int64_t max, int64_t *out)
{
	int64_t v;

	if (cm_parse_size(value, &v) < 0) {
		if (errno == ERANGE)
			goto range;
		return sup_wf_err(ps, ps->line,
				  "invalid %s '%s': expected a size in bytes, "
				  "with an optional K, M or G",
				  sup_wf_key_name(id), value);
	}
	if (v < min || v > max)
		goto range;
	*out = v;
	return 0;
range:
	return sup_wf_err(ps, ps->line,
			  "%s '%s' out of range (%lld bytes to %lld bytes)",
			  sup_wf_key_name(id), value, (long long)min, (long long)max);
}

/* A duration for key WHAT (a name for messages) into *OUT. */
static int get_duration(struct parser *ps, const char *what, const char *value,
			int64_t *out)
{
	if (cm_parse_duration(value, out) < 0) {
		if (errno == ERANGE)
			goto range;
		return sup_wf_err(
			ps, ps->line,
			"invalid %s '%s': expected a duration such as "
			"'250ms', '1.5s', '2m' or '1h' (a bare number is "
			"seconds)",
			what, value);
	}
	if (*out > DURATION_MAX)
		goto range;
	return 0;
range:
	return sup_wf_err(ps, ps->line, "%s '%s' out of range (at most 8760h)",
			  what, value);
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
			return sup_wf_nomem(ps);
		rc = get_duration(ps, "backoff minimum", first, &min);
		free(first);
		if (rc < 0 ||
		    get_duration(ps, "backoff maximum", dots + 2, &max) < 0)
			return -1;
		if (min > max)
			return sup_wf_err(
				ps, ps->line,
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

int sup_wf_valid_name(const char *s)
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

static int set_prompt_file(struct parser *ps, struct sup_agent *a,
			   const char *value)
{
	size_t len;

	a->prompt_file = sup_wf_abs_path(ps->wf->dir, value);
	if (!a->prompt_file)
		return sup_wf_nomem(ps);
	a->prompt = sup_wf_slurp(a->prompt_file, SUP_PROMPT_MAX, &len);
	if (!a->prompt) {
		if (errno == ENOMEM)
			return sup_wf_nomem(ps);
		if (errno == EFBIG)
			return sup_wf_err(
				ps, ps->line,
				"prompt_file '%s' is larger than %d bytes",
				a->prompt_file, SUP_PROMPT_MAX);
		return sup_wf_err(ps, ps->line,
				  "cannot read prompt_file '%s': %s",
				  a->prompt_file, strerror(errno));
	}
	if (memchr(a->prompt, '\0', len))
		return sup_wf_err(
			ps, ps->line,
			"prompt_file '%s' contains a NUL byte (line %d)",
			a->prompt_file,
			sup_wf_line_of(
				a->prompt,
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
		return sup_wf_err(
			ps, ps->line,
			"invalid env '%s': expected NAME=VALUE, NAME "
			"made of letters, digits and '_', not starting "
			"with a digit",
			value);
	if (n >= 9 && !strncmp(value, "SMITHERS_", 9))
		return sup_wf_err(ps, ps->line,
				  "env '%.*s' is reserved: smithers sets the "
				  "SMITHERS_* variables",
				  (int)n, value);
	for (i = 0; i < a->nenv; i++)
		if (!strncmp(a->env[i], value, n + 1))
			return sup_wf_err(ps, ps->line,
					  "env '%.*s' is set twice", (int)n,
					  value);
	env = realloc(a->env, (a->nenv + 2) * sizeof(*env));
	if (!env)
		return sup_wf_nomem(ps);
	a->env = env;
	env[a->nenv] = strdup(value);
	if (!env[a->nenv])
		return sup_wf_nomem(ps);
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
	case K_RESUME_PROMPT:
		return &a->cli.resume_prompt;
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
		return sup_wf_err(ps, ps->line, "%s is longer than %d bytes",
				  sup_wf_key_name(id), SUP_PROMPT_MAX);
	if (!old) {
		free(*field);
		*field = strdup(value);
		return *field ? 0 : sup_wf_nomem(ps);
	}
	s = realloc(*field, old + 1 + n + 1);
	if (!s)
		return sup_wf_nomem(ps);
	s[old] = '\n';
	memcpy(s + old + 1, value, n + 1);
	*field = s;
	return 0;
}

/* A budget in US dollars ("2.50", "0.1"): positive, at most COST_MAX. */
static int set_cost(struct parser *ps, const char *value, double *out)
{
	const char *p = value[0] == '$' ? value + 1 : value;
	char *end;
	double v;

	errno = 0;
	v = strtod(p, &end);
	if (end == p || *end || errno || !(v > 0) || v > COST_MAX ||
	    strspn(p, "0123456789.") != strlen(p))
		return sup_wf_err(ps, ps->line,
				  "invalid max_cost_usd '%s': expected an "
				  "amount in US dollars above 0 and at most "
				  "%.0f, such as 2.50",
				  value, COST_MAX);
	*out = v;
	return 0;
}

/* A price in US dollars per million tokens ("1.25"): 0 or more, at most
 * COST_MAX. */
static int set_price(struct parser *ps, enum key_id id, const char *value,
		     double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(value, &end);
	if (end == value || *end || errno || !(v >= 0) || v > COST_MAX ||
	    strspn(value, "0123456789.") != strlen(value))
		return sup_wf_err(ps, ps->line,
				  "invalid %s '%s': expected US dollars per "
				  "million tokens, 0 or more, such as 1.25",
				  sup_wf_key_name(id), value);
	*out = v;
	return 0;
}

/* The price key ID of P. */
static double *price_of(struct sup_prices *p, enum key_id id)
{
	switch (id) {
	case K_PRICE_INPUT:
		return &p->input;
	case K_PRICE_CACHED_INPUT:
		return &p->cached_input;
	default:
		return &p->output;
	}
}

/* A budget of tokens: a count above 0. */
static int set_tokens(struct parser *ps, const char *value, int64_t *out)
{
	if (cm_parse_int(value, 1, INT64_MAX / 4, out) == 0)
		return 0;
	return sup_wf_err(ps, ps->line,
			  "invalid max_tokens '%s': expected a count of "
			  "tokens above 0, such as 2000000",
			  value);
}

/* A word list (claude_args, claude_command) or a comma-separated one
 * (allowed_tools, disallowed_tools) into *OUT. */
static int set_list(struct parser *ps, enum key_id id, const char *value,
		    int commas, char ***out)
{
	char **v = commas ? sup_wf_items(value) : sup_wf_words(value);

	if (!v) {
		if (errno == ENOMEM)
			return sup_wf_nomem(ps);
		return sup_wf_err(ps, ps->line,
				  commas ? "invalid %s '%s': expected names "
					   "separated by commas"
					 : "invalid %s '%s': expected words, "
					   "quoted with '...' or \"...\"",
				  sup_wf_key_name(id), value);
	}
	sup_wf_free_words(*out);
	*out = v;
	return 0;
}

/* A share of cores for cpu_max ("0.5", "1.5", "4"). */
static int set_cores(struct parser *ps, const char *value, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(value, &end);
	if (end == value || *end || errno || !(v >= CPU_MIN) || v > CPU_MAX ||
	    strspn(value, "0123456789.") != strlen(value))
		return sup_wf_err(ps, ps->line,
				  "invalid cpu_max '%s': expected a number of "
				  "cores from %g to %g, such as 0.5, 1.5 or 4",
				  value, CPU_MIN, CPU_MAX);
	*out = v;
	return 0;
}

/* A limit key of [workflow] or [agent] into L; its line into LINES, by
 * which workflow.c finds the keys cgroups = off refuses. 0 stays "no
 * limit": every value taken here is above it. */
static int set_limit(struct parser *ps, struct sup_limits *l, int *lines,
		     enum key_id id, const char *value)
{
	int n;

	lines[id - K_MEMORY_MAX] = ps->line;
	switch (id) {
	case K_MEMORY_MAX:
		return set_size(ps, id, value, MEMORY_MIN, MEMORY_MAX,
				&l->memory_max);
	case K_MEMORY_HIGH:
		return set_size(ps, id, value, MEMORY_MIN, MEMORY_MAX,
				&l->memory_high);
	case K_PIDS_MAX:
		if (set_count(ps, id, value, 1, PIDS_MAX, &n) < 0)
			return -1;
		l->pids_max = n;
		return 0;
	case K_CPU_WEIGHT:
		return set_count(ps, id, value, 1, CPU_WEIGHT_MAX,
				 &l->cpu_weight);
	default:
		return set_cores(ps, value, &l->cpu_max);
	}
}

static int set_workflow_key(struct parser *ps, enum key_id id,
			    const char *value)
{
	struct sup_workflow *wf = ps->wf;
	int64_t v;

	switch (id) {
	case K_NAME:
		if (!sup_wf_valid_name(value))
			return sup_wf_err(
				ps, ps->line,
				"invalid name '%s': use letters, digits, "
				"'.', '_' and '-', at most %d",
				value, SUP_NAME_MAX);
		wf->name = strdup(value);
		return wf->name ? 0 : sup_wf_nomem(ps);
	case K_MAX_PARALLEL:
		return set_count(ps, id, value, 0, COUNT_MAX,
				 &wf->max_parallel);
	case K_SYNCHRONOUS:
		if (!strcmp(value, "full"))
			wf->synchronous = SUP_SYNC_FULL;
		else if (!strcmp(value, "normal"))
			wf->synchronous = SUP_SYNC_NORMAL;
		else
			return sup_wf_err(
				ps, ps->line,
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
			return sup_wf_err(
				ps, ps->line,
				"invalid shm_mode '%s': expected octal "
				"permissions such as 0600 or 0640",
				value);
		v = strtol(value, NULL, 8);
		if (v > 0777)
			return sup_wf_err(
				ps, ps->line,
				"shm_mode '%s' out of range (0 to 0777)",
				value);
		wf->shm_mode = (mode_t)v;
		return 0;
	case K_STOP_GRACE:
		return get_duration(ps, "stop_grace", value,
				    &wf->stop_grace_ms);
	case K_CGROUPS:
		ps->cgroups_line = ps->line;
		if (!strcmp(value, "auto"))
			wf->cgroups = SUP_CGROUPS_AUTO;
		else if (!strcmp(value, "required"))
			wf->cgroups = SUP_CGROUPS_REQUIRED;
		else if (!strcmp(value, "off"))
			wf->cgroups = SUP_CGROUPS_OFF;
		else
			return sup_wf_err(
				ps, ps->line,
				"invalid cgroups '%s': expected auto, "
				"required or off",
				value);
		return 0;
	case K_MEMORY_MAX:
	case K_MEMORY_HIGH:
	case K_PIDS_MAX:
	case K_CPU_WEIGHT:
	case K_CPU_MAX:
		return set_limit(ps, &wf->limits, ps->limit_line, id, value);
	case K_MAX_COST_USD:
		return set_cost(ps, value, &wf->max_cost_usd);
	case K_MAX_TOKENS:
		return set_tokens(ps, value, &wf->max_tokens);
	case K_PRICE_INPUT:
	case K_PRICE_CACHED_INPUT:
	case K_PRICE_OUTPUT:
		return set_price(ps, id, value, price_of(&wf->prices, id));
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
			return sup_wf_err(
				ps, ps->line,
				"invalid keys '%s': expected globs of 1 to "
				"%d bytes separated by commas",
				value, SUP_SHM_KEY_MAX);
		grown = realloc(wf->shm_keys,
				(wf->nshm_keys + 2) * sizeof(*grown));
		if (!grown)
			return sup_wf_nomem(ps);
		wf->shm_keys = grown;
		wf->shm_keys[wf->nshm_keys] = strndup(p, n);
		if (!wf->shm_keys[wf->nshm_keys])
			return sup_wf_nomem(ps);
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
			return sup_wf_err(
				ps, ps->line,
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
			return errno == ENOMEM ? sup_wf_nomem(ps)
					       : sup_wf_err(ps, ps->line,
							    "until: %s", msg);
		ph->until_text = strdup(value);
		return ph->until_text ? 0 : sup_wf_nomem(ps);
	case K_ON_FAILURE:
		if (!strcmp(value, "stop"))
			ph->on_failure = SUP_ON_FAILURE_STOP;
		else if (!strcmp(value, "continue"))
			ph->on_failure = SUP_ON_FAILURE_CONTINUE;
		else
			return sup_wf_err(
				ps, ps->line,
				"invalid on_failure '%s': expected stop or "
				"continue",
				value);
		return 0;
	default:
		return 0;
	}
}

/* The keys of the CLIs' kinds (workflow.c checks they go with the
 * agent's). */
static int set_cli_key(struct parser *ps, struct sup_cli *c, enum key_id id,
		       const char *value)
{
	size_t i;

	switch (id) {
	case K_MAX_COST_USD:
		return set_cost(ps, value, &c->max_cost_usd);
	case K_MAX_TOKENS:
		return set_tokens(ps, value, &c->max_tokens);
	case K_ALLOWED_TOOLS:
		return set_list(ps, id, value, 1, &c->allowed_tools);
	case K_DISALLOWED_TOOLS:
		return set_list(ps, id, value, 1, &c->disallowed_tools);
	case K_CLAUDE_ARGS:
	case K_CODEX_ARGS:
		return set_list(ps, id, value, 0, &c->args);
	case K_CLAUDE_COMMAND:
	case K_CODEX_COMMAND:
		return set_list(ps, id, value, 0, &c->command);
	case K_PERMISSION_MODE:
		for (const char *p = value; *p; p++)
			if (!is_alnum(*p))
				return sup_wf_err(
					ps, ps->line,
					"invalid permission_mode '%s': "
					"expected one of the CLI's modes, "
					"such as acceptEdits or plan",
					value);
		free(c->permission_mode);
		c->permission_mode = strdup(value);
		return c->permission_mode ? 0 : sup_wf_nomem(ps);
	case K_SANDBOX:
		for (i = 0; i < sizeof(sandboxes) / sizeof(*sandboxes); i++)
			if (!strcmp(value, sandboxes[i]))
				break;
		if (i == sizeof(sandboxes) / sizeof(*sandboxes))
			return sup_wf_err(ps, ps->line,
					  "invalid sandbox '%s': expected "
					  "read-only, workspace-write or "
					  "danger-full-access",
					  value);
		free(c->sandbox);
		c->sandbox = strdup(value);
		return c->sandbox ? 0 : sup_wf_nomem(ps);
	case K_PRICE_INPUT:
	case K_PRICE_CACHED_INPUT:
	case K_PRICE_OUTPUT:
		return set_price(ps, id, value, price_of(&c->prices, id));
	case K_MAX_TURNS:
		return set_count(ps, id, value, 1, TURNS_MAX, &c->max_turns);
	case K_RESUME_PROMPT:
		free(c->resume_prompt);
		c->resume_prompt = NULL;
		return append_line(ps, id, &c->resume_prompt, value);
	case K_SESSION:
		if (!strcmp(value, "fresh"))
			c->session = SUP_SESSION_FRESH;
		else if (!strcmp(value, "continue"))
			c->session = SUP_SESSION_CONTINUE;
		else
			return sup_wf_err(ps, ps->line,
					  "invalid session '%s': expected "
					  "fresh or continue",
					  value);
		return 0;
	case K_LINE_MAX:
		return set_size(ps, id, value, LINE_MAX_MIN, LINE_MAX_MAX,
				&c->line_max);
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
		return x->phase ? 0 : sup_wf_nomem(ps);
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
		a->cwd = sup_wf_abs_path(ps->wf->dir, value);
		return a->cwd ? 0 : sup_wf_nomem(ps);
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
			return sup_wf_err(
				ps, ps->line,
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
		sig = sup_parse_stop_signal(value);
		if (sig < 0)
			return sup_wf_err(
				ps, ps->line,
				"invalid stop_signal '%s': expected TERM, "
				"INT, HUP, KILL, USR1, USR2 or QUIT",
				value);
		a->stop_signal = sig;
		return 0;
	case K_STOP_GRACE:
		x->stop_grace_set = 1;
		return get_duration(ps, "stop_grace", value, &a->stop_grace_ms);
	case K_MEMORY_MAX:
	case K_MEMORY_HIGH:
	case K_PIDS_MAX:
	case K_CPU_WEIGHT:
	case K_CPU_MAX:
		return set_limit(ps, &a->limits, x->limit_line, id, value);
	case K_KIND:
		if (!strcmp(value, "command"))
			a->kind = SUP_KIND_COMMAND;
		else if (!strcmp(value, "claude"))
			a->kind = SUP_KIND_CLAUDE;
		else if (!strcmp(value, "codex"))
			a->kind = SUP_KIND_CODEX;
		else
			return sup_wf_err(ps, ps->line,
					  "invalid kind '%s': expected "
					  "command, claude or codex",
					  value);
		return 0;
	default:
		return set_cli_key(ps, &a->cli, id, value);
	}
both_prompts:
	return sup_wf_err(
		ps, ps->line,
		"[agent %s] sets both prompt and prompt_file (keep one)",
		a->name);
}

/* What the INI glue (workflow.c) calls. */

const struct keydef *sup_wf_find_key(enum sec_type sec, const char *name)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if (keys[i].sec == sec && !strcmp(keys[i].name, name))
			return &keys[i];
	return NULL;
}

int sup_wf_set_key(struct parser *ps, const struct keydef *kd,
		   const char *value)
{
	switch (ps->sec) {
	case SEC_WORKFLOW:
		return set_workflow_key(ps, kd->id, value);
	case SEC_SHM:
		return set_shm_key(ps, kd->id, value);
	case SEC_PHASE:
		return set_phase_key(ps, kd->id, value);
	default:
		return set_agent_key(ps, kd->id, value);
	}
}

int sup_wf_continue_key(struct parser *ps, const struct keydef *kd,
			const char *value)
{
	struct sup_agent *a = &ps->wf->agents[ps->idx];

	if (kd->id == K_ENV)
		return add_env(ps, a, value);
	return append_line(ps, kd->id, text_field(a, kd->id), value);
}

int sup_parse_stop_signal(const char *text)
{
	int sig = cm_signal_number(text);
	size_t i;

	for (i = 0; sig > 0 && i < sizeof(stop_signals) / sizeof(*stop_signals);
	     i++)
		if (sig == stop_signals[i])
			return sig;
	errno = EINVAL;
	return -1;
}

/* The names of the values, as in the file. */

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

const char *sup_kind_name(enum sup_kind k)
{
	switch (k) {
	case SUP_KIND_CLAUDE:
		return "claude";
	case SUP_KIND_CODEX:
		return "codex";
	default:
		return "command";
	}
}

const char *sup_on_failure_name(enum sup_on_failure f)
{
	return f == SUP_ON_FAILURE_CONTINUE ? "continue" : "stop";
}

const char *sup_synchronous_name(enum sup_synchronous s)
{
	return s == SUP_SYNC_NORMAL ? "normal" : "full";
}
