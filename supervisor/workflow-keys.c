/*
 * workflow-keys.c - the keys of a workflow file (smithers.ini(5)): each
 * value checked and stored into the workflow's structs (workflow.h), with
 * the file's messages, section by section. Which section takes which key,
 * and the grammar of the values the setters share, are workflow-values.c's;
 * the lines and sections around them are workflow.c's.
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
/* The limits (cgroup v2's files). Less than a MiB holds no process; a
 * cpu.max quota under 1ms of each 100ms period is refused by the kernel. */
#define MEMORY_MIN     ((int64_t)1 << 20)
#define MEMORY_MAX     ((int64_t)1 << 50)
#define PIDS_MAX       4194304 /* the kernel's PID_MAX_LIMIT */
#define CPU_WEIGHT_MAX 10000

/* The sandbox modes of `codex exec --sandbox`. */
static const char *const sandboxes[] = {
	"read-only",
	"workspace-write",
	"danger-full-access",
};

static int set_backoff(struct parser *ps, struct sup_agent *a,
		       const char *value)
{
	const char *dots = strstr(value, "..");
	int64_t min, max;
	char *first;
	int rc;

	if (!dots) {
		if (sup_wf_duration(ps, "backoff", value, &min) < 0)
			return -1;
		max = min > SUP_DEFAULT_BACKOFF_MAX ? min
						    : SUP_DEFAULT_BACKOFF_MAX;
	} else {
		first = strndup(value, (size_t)(dots - value));
		if (!first)
			return sup_wf_nomem(ps);
		rc = sup_wf_duration(ps, "backoff minimum", first, &min);
		free(first);
		if (rc < 0 ||
		    sup_wf_duration(ps, "backoff maximum", dots + 2, &max) < 0)
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

	if (!eq || !sup_wf_valid_env_name(value, n))
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
		return sup_wf_set_size(ps, id, value, MEMORY_MIN, MEMORY_MAX,
				       &l->memory_max);
	case K_MEMORY_HIGH:
		return sup_wf_set_size(ps, id, value, MEMORY_MIN, MEMORY_MAX,
				       &l->memory_high);
	case K_PIDS_MAX:
		if (sup_wf_set_count(ps, id, value, 1, PIDS_MAX, &n) < 0)
			return -1;
		l->pids_max = n;
		return 0;
	case K_CPU_WEIGHT:
		return sup_wf_set_count(ps, id, value, 1, CPU_WEIGHT_MAX,
					&l->cpu_weight);
	default:
		return sup_wf_set_cores(ps, value, &l->cpu_max);
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
		return sup_wf_set_count(ps, id, value, 0, COUNT_MAX,
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
		return sup_wf_set_size(ps, id, value, LOG_MAX_BYTES_MIN,
				       LOG_MAX_BYTES_MAX, &wf->log_max_bytes);
	case K_LOG_KEEP:
		return sup_wf_set_count(ps, id, value, 0, LOG_KEEP_MAX,
					&wf->log_keep);
	case K_FRAME_MAX:
		return sup_wf_set_size(ps, id, value, FRAME_MAX_MIN,
				       FRAME_MAX_MAX, &wf->frame_max);
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
		return sup_wf_duration(ps, "stop_grace", value,
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
		return sup_wf_set_cost(ps, value, &wf->max_cost_usd);
	case K_MAX_TOKENS:
		return sup_wf_set_tokens(ps, value, &wf->max_tokens);
	case K_PRICE_INPUT:
	case K_PRICE_CACHED_INPUT:
	case K_PRICE_OUTPUT:
		return sup_wf_set_price(ps, id, value,
					price_of(&wf->prices, id));
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
		return sup_wf_set_count(ps, id, value, 1, SHM_SLOTS_MAX,
					&wf->shm_agents);
	case K_SHM_KEY_SLOTS:
		return sup_wf_set_count(ps, id, value, 1, SHM_SLOTS_MAX,
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
		return sup_wf_set_count(ps, id, value, 1, COUNT_MAX,
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
		return sup_wf_set_cost(ps, value, &c->max_cost_usd);
	case K_MAX_TOKENS:
		return sup_wf_set_tokens(ps, value, &c->max_tokens);
	case K_ALLOWED_TOOLS:
		return sup_wf_set_list(ps, id, value, 1, &c->allowed_tools);
	case K_DISALLOWED_TOOLS:
		return sup_wf_set_list(ps, id, value, 1, &c->disallowed_tools);
	case K_CLAUDE_ARGS:
	case K_CODEX_ARGS:
		return sup_wf_set_list(ps, id, value, 0, &c->args);
	case K_CLAUDE_COMMAND:
	case K_CODEX_COMMAND:
		return sup_wf_set_list(ps, id, value, 0, &c->command);
	case K_PERMISSION_MODE:
		for (const char *p = value; *p; p++)
			if (!sup_wf_is_alnum(*p))
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
		return sup_wf_set_price(ps, id, value,
					price_of(&c->prices, id));
	case K_MAX_TURNS:
		return sup_wf_set_count(ps, id, value, 1, TURNS_MAX,
					&c->max_turns);
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
		return sup_wf_set_size(ps, id, value, LINE_MAX_MIN,
				       LINE_MAX_MAX, &c->line_max);
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
		return sup_wf_set_count(ps, id, value, 0, COUNT_MAX,
					&a->max_restarts);
	case K_BACKOFF:
		return set_backoff(ps, a, value);
	case K_STARTSECS:
		return sup_wf_duration(ps, "startsecs", value,
				       &a->startsecs_ms);
	case K_TIMEOUT:
		return sup_wf_duration(ps, "timeout", value, &a->timeout_ms);
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
		return sup_wf_duration(ps, "stop_grace", value,
				       &a->stop_grace_ms);
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

int sup_wf_set_key(struct parser *ps, const struct keydef *kd,
		   const char *value)
{
	switch (ps->sec) {
	case SEC_WORKFLOW:
		return set_workflow_key(ps, kd->id, value);
	case SEC_SHM:
		return set_shm_key(ps, kd->id, value);
	case SEC_FLEET:
		return sup_wf_set_fleet_key(ps, kd->id, value);
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
