/*
 * workflow-values.c - what the keys of a workflow file are and what their
 * values may be (smithers.ini(5)): the table of keys (which section takes
 * which key, for which kinds of agent), and the grammar of the values the
 * setters of workflow-keys.c share (counts, sizes, durations, costs,
 * prices, token budgets, word lists, cores, names), each refused with the
 * file's message. The units themselves are common/units.c's grammar.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/units.h"
#include "supervisor/workflow-int.h"

/* Longest duration anywhere in the file: a year. */
#define DURATION_MAX ((int64_t)8760 * 3600 * 1000)
#define COST_MAX     1000000.0 /* USD */
#define CPU_MIN	     0.01      /* cores */
#define CPU_MAX	     1024.0
/* Longest subject token or stream name in [fleet]. */
#define FLEET_TOKEN_MAX 64

#define KIND_BIT(k) (1u << (k))
#define CLI_KINDS   (KIND_BIT(SUP_KIND_CLAUDE) | KIND_BIT(SUP_KIND_CODEX))

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
	{"nats", SEC_FLEET, K_FLEET_NATS, 0},
	{"machine", SEC_FLEET, K_FLEET_MACHINE, 0},
	{"subject_prefix", SEC_FLEET, K_FLEET_SUBJECT_PREFIX, 0},
	{"credentials", SEC_FLEET, K_FLEET_CREDENTIALS, 0},
	{"stream", SEC_FLEET, K_FLEET_STREAM, 0},
	{"replicas", SEC_FLEET, K_FLEET_REPLICAS, 0},
	{"duplicate_window", SEC_FLEET, K_FLEET_DUPLICATE_WINDOW, 0},
	{"ship_wait", SEC_FLEET, K_FLEET_SHIP_WAIT, 0},
	{"verify", SEC_FLEET, K_FLEET_VERIFY, 0},
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

/* The signals stop_signal takes (supervisord's): a signal that stops a
 * process for good, never STOP or a core dump. */
static const int stop_signals[] = {
	SIGTERM, SIGINT, SIGHUP, SIGKILL, SIGUSR1, SIGUSR2, SIGQUIT,
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

int sup_wf_set_count(struct parser *ps, enum key_id id, const char *value,
		     int64_t min, int64_t max, int *out)
{
	int64_t v;

	if (cm_parse_int(value, min, max, &v) == 0) {
		*out = (int)v;
		return 0;
	}
	if (errno == ERANGE)
		return sup_wf_err(ps, ps->line,
				  "%s '%s' out of range (%lld to %lld)",
				  sup_wf_key_name(id), value, (long long)min,
				  (long long)max);
	return sup_wf_err(ps, ps->line,
			  "invalid %s '%s': expected a whole number",
			  sup_wf_key_name(id), value);
}

int sup_wf_set_size(struct parser *ps, enum key_id id, const char *value,
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
	return sup_wf_err(
		ps, ps->line, "%s '%s' out of range (%lld bytes to %lld bytes)",
		sup_wf_key_name(id), value, (long long)min, (long long)max);
}

/* A duration for key WHAT (a name for messages) into *OUT. */
int sup_wf_duration(struct parser *ps, const char *what, const char *value,
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

/* ASCII only: the locale must not change what a name may hold. */
int sup_wf_is_alnum(char c)
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
		if (!sup_wf_is_alnum(s[n]) && s[n] != '.' && s[n] != '_' &&
		    s[n] != '-')
			return 0;
	return n > 0 && n <= SUP_NAME_MAX;
}

int sup_wf_valid_env_name(const char *s, size_t n)
{
	size_t i;

	if (!n || (s[0] >= '0' && s[0] <= '9'))
		return 0;
	for (i = 0; i < n; i++)
		if (!sup_wf_is_alnum(s[i]) && s[i] != '_')
			return 0;
	return 1;
}

/* NATS refuses these in a subject token, JetStream in a stream's name
 * too, with '/' and '\\' (the name is a directory of the server's store).
 * Bytes past ASCII are UTF-8 to NATS, and welcome. */
int sup_wf_valid_token(const char *s, size_t n, int stream)
{
	size_t i;

	if (!n || n > FLEET_TOKEN_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= ' ' || c == 0x7f || c == '.' || c == '*' || c == '>' ||
		    (stream && (c == '/' || c == '\\')))
			return 0;
	}
	return 1;
}

/* A host name or an IPv4 address: letters, digits, '.', '-' and '_'; an
 * IPv6 address in brackets. No user or password: those go in the
 * credentials file, never in the workflow. */
static int valid_host(const char *s, size_t n)
{
	size_t i;

	if (n >= 3 && s[0] == '[' && s[n - 1] == ']') {
		for (i = 1; i < n - 1; i++)
			if (!strchr("0123456789abcdefABCDEF:.", s[i]))
				return 0;
		return 1;
	}
	for (i = 0; i < n; i++)
		if (!sup_wf_is_alnum(s[i]) && s[i] != '.' && s[i] != '-' &&
		    s[i] != '_')
			return 0;
	return n > 0;
}

int sup_wf_valid_server(const char *s, size_t n)
{
	const char *host, *colon, *end = s + n;
	char port[8];
	size_t plen;
	int64_t v;

	if (n > 7 && !strncmp(s, "nats://", 7))
		host = s + 7;
	else if (n > 6 && !strncmp(s, "tls://", 6))
		host = s + 6;
	else
		return 0;
	for (colon = end - 1; colon > host && *colon != ':'; colon--)
		;
	plen = (size_t)(end - colon - 1);
	if (colon == host || plen >= sizeof(port))
		return 0;
	memcpy(port, colon + 1, plen);
	port[plen] = '\0';
	return valid_host(host, (size_t)(colon - host)) &&
	       cm_parse_int(port, 1, 65535, &v) == 0;
}

/* A budget in US dollars ("2.50", "0.1"): positive, at most COST_MAX. */
int sup_wf_set_cost(struct parser *ps, const char *value, double *out)
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
int sup_wf_set_price(struct parser *ps, enum key_id id, const char *value,
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

/* A budget of tokens: a count above 0. */
int sup_wf_set_tokens(struct parser *ps, const char *value, int64_t *out)
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
int sup_wf_set_list(struct parser *ps, enum key_id id, const char *value,
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
int sup_wf_set_cores(struct parser *ps, const char *value, double *out)
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

const struct keydef *sup_wf_find_key(enum sec_type sec, const char *name)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if (keys[i].sec == sec && !strcmp(keys[i].name, name))
			return &keys[i];
	return NULL;
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
