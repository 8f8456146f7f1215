/*
 * workflow.c - the workflow file loader (workflow.h, smithers.ini(5)): the
 * INI glue. It reads the file, cuts it into lines and sections, hands each
 * key = value to the key setters (workflow-keys.c), and checks the whole
 * file at the end.
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
 * agents, defaults taken from [workflow], the agents' limits) run after the
 * last line, in file order.
 *
 * A state dir's fleet.ini goes through the same glue with fleet_only set:
 * a [fleet] section and nothing else, its keys merged under the
 * workflow's (sup_fleet_merge_file()).
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
#include <unistd.h>

#include <ini.h>

#include "supervisor/workflow-int.h"

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
	case SEC_FLEET:
		snprintf(buf, len, "[fleet]");
		break;
	default:
		snprintf(buf, len, "[workflow]");
		break;
	}
	return buf;
}

/* An agent of a CLI's kind: smithers builds its command line. */
static int end_cli(struct parser *ps, struct sup_agent *a)
{
	const char *kind = sup_kind_name(a->kind);

	if (ps->seen[K_COMMAND])
		return sup_wf_err(ps, ps->seen[K_COMMAND],
				  "[agent %s] has kind = %s: smithers runs "
				  "the CLI itself, so 'command' does not go "
				  "with it (see %s_command and %s_args)",
				  a->name, kind, kind, kind);
	if (a->kind == SUP_KIND_CODEX && ps->seen[K_SYSTEM_PROMPT])
		return sup_wf_err(ps, ps->seen[K_SYSTEM_PROMPT],
				  "[agent %s] has kind = codex, whose CLI "
				  "takes no system prompt: put it in the "
				  "prompt",
				  a->name);
	if (!a->prompt || !*a->prompt)
		return sup_wf_err(ps, ps->sec_line,
				  "[agent %s] has kind = %s but no 'prompt' "
				  "or 'prompt_file' (required)",
				  a->name, kind);
	if (!a->cli.resume_prompt) {
		a->cli.resume_prompt = strdup(SUP_DEFAULT_RESUME_PROMPT);
		if (!a->cli.resume_prompt)
			return sup_wf_nomem(ps);
	}
	return 0;
}

/* Checks of the section that ends (before the next header, or at the end
 * of the file). */
static int end_section(struct parser *ps)
{
	struct sup_agent *a;
	unsigned mine;

	if (ps->sec != SEC_AGENT)
		return 0;
	a = &ps->wf->agents[ps->idx];
	if (!ps->seen[K_PHASE])
		return sup_wf_err(ps, ps->sec_line,
				  "[agent %s] has no 'phase' (required)",
				  a->name);
	mine = 1u << a->kind;
	for (int k = K_KIND + 1; k < K_COUNT; k++) {
		unsigned takes = sup_wf_key_kinds((enum key_id)k);

		if (!ps->seen[k] || (takes & mine))
			continue;
		if (a->kind == SUP_KIND_COMMAND)
			return sup_wf_err(ps, ps->seen[k],
					  "'%s' is for kind = %s only "
					  "([agent %s] runs a command)",
					  sup_wf_key_name((enum key_id)k),
					  sup_wf_kinds_text(takes), a->name);
		return sup_wf_err(ps, ps->seen[k],
				  "'%s' is for kind = %s only ([agent %s] "
				  "is kind = %s)",
				  sup_wf_key_name((enum key_id)k),
				  sup_wf_kinds_text(takes), a->name,
				  sup_kind_name(a->kind));
	}
	if (a->kind != SUP_KIND_COMMAND)
		return end_cli(ps, a);
	if (!ps->seen[K_COMMAND])
		return sup_wf_err(ps, ps->sec_line,
				  "[agent %s] has no 'command' (required)",
				  a->name);
	return 0;
}

static int begin_phase(struct parser *ps, const char *name)
{
	struct sup_workflow *wf = ps->wf;
	struct sup_phase *ph;
	ssize_t dup = sup_workflow_find_phase(wf, name);

	if (dup >= 0)
		return sup_wf_err(
			ps, ps->line,
			"duplicate section [phase %s] (first at line %d)", name,
			wf->phases[dup].line);
	if (wf->nphases == ps->phase_cap) {
		size_t cap = ps->phase_cap ? ps->phase_cap * 2 : 8;

		ph = realloc(wf->phases, cap * sizeof(*ph));
		if (!ph)
			return sup_wf_nomem(ps);
		wf->phases = ph;
		ps->phase_cap = cap;
	}
	ph = &wf->phases[wf->nphases];
	memset(ph, 0, sizeof(*ph));
	ph->name = strdup(name);
	if (!ph->name)
		return sup_wf_nomem(ps);
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
		return sup_wf_err(
			ps, ps->line,
			"duplicate section [agent %s] (first at line %d)", name,
			wf->agents[dup].line);
	if (wf->nagents == ps->agent_cap) {
		size_t cap = ps->agent_cap ? ps->agent_cap * 2 : 8;

		a = realloc(wf->agents, cap * sizeof(*a));
		if (!a)
			return sup_wf_nomem(ps);
		wf->agents = a;
		x = realloc(ps->extra, cap * sizeof(*x));
		if (!x)
			return sup_wf_nomem(ps);
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
		return sup_wf_nomem(ps);
	a->line = ps->line;
	a->restart = SUP_RESTART_ON_FAILURE;
	a->max_restarts = SUP_DEFAULT_MAX_RESTARTS;
	a->backoff_min_ms = SUP_DEFAULT_BACKOFF_MIN;
	a->backoff_max_ms = SUP_DEFAULT_BACKOFF_MAX;
	a->startsecs_ms = SUP_DEFAULT_STARTSECS;
	a->stop_signal = SIGTERM;
	a->stop_grace_ms = SUP_DEFAULT_STOP_GRACE;
	a->cli.max_cost_usd = -1;
	a->cli.line_max = SUP_DEFAULT_LINE_MAX;
	a->cli.prices = (struct sup_prices){-1, -1, -1};
	ps->idx = wf->nagents - 1;
	return 0;
}

/* A section that takes no name and comes once ([shm], [fleet]): LABEL,
 * with NLEN bytes of name; the line of its first header in *FIRST. */
static int begin_once(struct parser *ps, const char *label, size_t nlen,
		      int *first, enum sec_type sec)
{
	if (nlen)
		return sup_wf_err(ps, ps->line, "%s takes no name", label);
	if (*first)
		return sup_wf_err(ps, ps->line,
				  "duplicate section %s (first at line %d)",
				  label, *first);
	*first = ps->line;
	ps->sec = sec;
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

	ps->prev_key = NULL;
	memset(ps->seen, 0, sizeof(ps->seen));
	ps->sec_line = ps->line;
	if (tlen == 5 && !strncmp(type, "fleet", 5))
		return begin_once(ps, "[fleet]", nlen, &ps->fleet_line,
				  SEC_FLEET);
	if (ps->fleet_only) {
		ps->sec = SEC_NONE;
		return sup_wf_err(ps, ps->line,
				  "section [%.*s] does not go in this file: "
				  "it takes [fleet] only",
				  (int)(e - s), s);
	}
	if (tlen == 8 && !strncmp(type, "workflow", 8)) {
		if (nlen)
			return sup_wf_err(
				ps, ps->line,
				"[workflow] takes no name (set 'name = "
				"%.*s' in it)",
				(int)nlen, name);
		if (ps->workflow_line)
			return sup_wf_err(
				ps, ps->line,
				"duplicate section [workflow] (first at "
				"line %d)",
				ps->workflow_line);
		ps->workflow_line = ps->line;
		ps->sec = SEC_WORKFLOW;
		return 0;
	}
	if (tlen == 3 && !strncmp(type, "shm", 3))
		return begin_once(ps, "[shm]", nlen, &ps->shm_line, SEC_SHM);
	if ((tlen == 5 && !strncmp(type, "phase", 5)) ||
	    (tlen == 5 && !strncmp(type, "agent", 5))) {
		const char *what = type[0] == 'p' ? "phase" : "agent";

		if (!nlen)
			return sup_wf_err(
				ps, ps->line,
				"section [%s] needs a name: [%s NAME]", what,
				what);
		if (nlen > SUP_NAME_MAX || !sup_wf_valid_name(buf))
			return sup_wf_err(
				ps, ps->line,
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
	return sup_wf_err(ps, ps->line, "unknown section [%.*s]", (int)(e - s),
			  s);
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
	if (indented && ps->prev_key) {
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
			return sup_wf_err(
				ps, ps->line,
				"expected ']' to close the section header");
		if (begin_section(ps, s + 1, p) < 0)
			return -1;
		for (p++; isspace((unsigned char)*p); p++)
			;
		if (*p && *p != ';' && *p != '#')
			return sup_wf_err(ps, ps->line,
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
		return sup_wf_err(
			ps, ps->line,
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
		sup_wf_err(
			ps, ps->line,
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
	const struct keydef *kd = ps->prev_key;
	char *v, *p;
	int was_space = 0, rc;

	if (ps->sec != SEC_AGENT || (kd->id != K_ENV && !(kd->flags & F_LINES)))
		return sup_wf_err(
			ps, ps->line,
			"indented line continues '%s', which takes one "
			"line (remove the indentation)",
			kd->name);
	v = strdup(value);
	if (!v)
		return sup_wf_nomem(ps);
	for (p = v; *p; p++) {
		if (was_space && *p == ';') {
			*p = '\0';
			break;
		}
		was_space = isspace((unsigned char)*p);
	}
	while (p > v && isspace((unsigned char)p[-1]))
		*--p = '\0';
	rc = sup_wf_continue_key(ps, kd, v);
	free(v);
	return rc;
}

/* inih's handler: one key = value of the current line. */
static int on_pair(void *arg, const char *section, const char *name,
		   const char *value)
{
	struct parser *ps = arg;
	const struct keydef *kd;
	char label[SUP_NAME_MAX + 16];

	(void)section; /* cut at 49 bytes; ours is whole */
	if (ps->failed)
		return 0;
	if (ps->indented)
		return continue_key(ps, value) == 0;
	if (!*name)
		return sup_wf_err(ps, ps->line,
				  "missing key name before '='") == 0;
	if (ps->sec == SEC_NONE)
		return sup_wf_err(ps, ps->line,
				  "key '%s' outside any section (start with "
				  "%s)",
				  name,
				  ps->fleet_only ? "[fleet]"
						 : "[workflow], [phase NAME] "
						   "or [agent NAME]") == 0;
	kd = sup_wf_find_key(ps->sec, name);
	if (!kd)
		return sup_wf_err(ps, ps->line, "unknown key '%s' in %s", name,
				  sec_label(ps, label, sizeof(label))) == 0;
	if (ps->seen[kd->id] && !(kd->flags & F_REPEAT))
		return sup_wf_err(ps, ps->line,
				  "duplicate key '%s' in %s (first set at line "
				  "%d)",
				  name, sec_label(ps, label, sizeof(label)),
				  ps->seen[kd->id]) == 0;
	ps->prev_key = kd;
	ps->seen[kd->id] = ps->line;
	if (!*value && !(kd->flags & F_EMPTY_OK))
		return sup_wf_err(ps, ps->line, "empty value for '%s'", name) ==
		       0;
	return sup_wf_set_key(ps, kd, value) == 0;
}

/* inih over the text of PS, line by line; the first error recorded. */
static void run_ini(struct parser *ps)
{
	int rc = ini_parse_stream(read_line, ps, on_pair, ps);

	if (!ps->failed && rc == -2)
		sup_wf_nomem(ps);
	else if (!ps->failed && rc)
		sup_wf_err(ps, rc > 0 ? rc : 0, "syntax error");
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
	if (sup_wf_check_limits(ps, "[workflow]", &wf->limits, ps->limit_line) < 0)
		return -1;
	for (i = 0; i < wf->nagents; i++) {
		k = sup_workflow_find_phase(wf, ps->extra[i].phase);
		if (k < 0)
			return sup_wf_err(
				ps, ps->extra[i].phase_line,
				"agent '%s' names phase '%s' which is not "
				"defined",
				wf->agents[i].name, ps->extra[i].phase);
		wf->agents[i].phase = (size_t)k;
		if (!ps->extra[i].stop_grace_set)
			wf->agents[i].stop_grace_ms = wf->stop_grace_ms;
		if (sup_wf_finish_prices(ps, &wf->agents[i]) < 0 ||
		    sup_wf_finish_limits(ps, i) < 0)
			return -1;
	}
	if (sup_wf_prices_any(&wf->prices) && !sup_wf_prices_set(&wf->prices))
		return sup_wf_err(ps, 0,
				  "[workflow] has some prices but not all: "
				  "set price_input, price_cached_input and "
				  "price_output");
	if (!wf->nphases)
		return sup_wf_err(ps, 0,
				  "no [phase NAME] section: a workflow needs "
				  "at least one phase");
	/* Count, check, then list each phase's agents. */
	for (i = 0; i < wf->nagents; i++)
		wf->phases[wf->agents[i].phase].nagents++;
	for (i = 0; i < wf->nphases; i++) {
		ph = &wf->phases[i];
		if (!ph->nagents)
			return sup_wf_err(ps, ph->line,
					  "phase '%s' has no agents", ph->name);
		ph->agents = calloc(ph->nagents, sizeof(*ph->agents));
		if (!ph->agents)
			return sup_wf_nomem(ps);
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
	if (!sup_wf_valid_name(name))
		return sup_wf_err(ps, 0,
				  "'%s' (from the file name) is not a valid "
				  "workflow name: set 'name' in [workflow]",
				  name);
	wf->name = strdup(name);
	return wf->name ? 0 : sup_wf_nomem(ps);
}

struct sup_workflow *sup_workflow_parse(const char *text, const char *path,
					const char *base_dir, char *err,
					size_t errlen)
{
	struct parser ps;
	struct sup_workflow *wf;
	char *cwd = NULL;
	size_t i;

	memset(&ps, 0, sizeof(ps));
	ps.path = path ? path : "workflow";
	ps.pos = text ? text : "";
	ps.prev_key = NULL;
	ps.err = err;
	ps.errlen = errlen;
	if (err && errlen)
		err[0] = '\0';

	wf = calloc(1, sizeof(*wf));
	if (!wf) {
		sup_wf_nomem(&ps);
		goto out;
	}
	ps.wf = wf;
	wf->synchronous = SUP_SYNC_FULL;
	wf->log_max_bytes = SUP_DEFAULT_LOG_MAX_BYTES;
	wf->log_keep = SUP_DEFAULT_LOG_KEEP;
	wf->frame_max = SUP_DEFAULT_FRAME_MAX;
	wf->max_cost_usd = -1;
	wf->prices = (struct sup_prices){-1, -1, -1};
	wf->shm_mode = SUP_DEFAULT_SHM_MODE;
	wf->shm_enabled = 1;
	wf->shm_agents = SUP_DEFAULT_SHM_AGENTS;
	wf->shm_key_slots = SUP_DEFAULT_SHM_KEYS;
	wf->stop_grace_ms = SUP_DEFAULT_STOP_GRACE;
	wf->cgroups = SUP_CGROUPS_AUTO;
	if (sup_wf_fleet_defaults(&wf->fleet) < 0) {
		sup_wf_nomem(&ps);
		goto out;
	}
	wf->path = strdup(ps.path);
	if (!base_dir || base_dir[0] != '/') {
		cwd = getcwd(NULL, 0);
		if (!cwd) {
			int saved = errno;

			sup_wf_err(&ps, 0,
				   "cannot get the current directory: %s",
				   strerror(saved));
			ps.saved_errno = saved;
			goto out;
		}
	}
	wf->dir = sup_wf_abs_path(cwd ? cwd : "/", base_dir ? base_dir : ".");
	if (!wf->path || !wf->dir) {
		sup_wf_nomem(&ps);
		goto out;
	}

	run_ini(&ps);
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

/* The file PATH to parse: its text into *TEXT and the real path of its
 * directory (where its relative paths start) into *DIR, both new. 0, or
 * -1 with errno and the message in ERR. */
static int read_file(const char *path, char **text, char **dir, char *err,
		     size_t errlen)
{
	char *parent = NULL, *nul;
	const char *slash;
	size_t len;
	int saved;

	*dir = NULL;
	*text = sup_wf_slurp(path, SUP_WORKFLOW_FILE_MAX, &len);
	if (!*text) {
		saved = errno;
		if (err && errlen && saved == EFBIG)
			snprintf(err, errlen, "%s: larger than %d bytes", path,
				 SUP_WORKFLOW_FILE_MAX);
		else if (err && errlen)
			snprintf(err, errlen, "cannot open '%s': %s", path,
				 strerror(saved));
		errno = saved;
		return -1;
	}
	nul = memchr(*text, '\0', len);
	if (nul) {
		if (err && errlen)
			snprintf(err, errlen, "%s:%d: NUL byte in the file",
				 path,
				 sup_wf_line_of(*text, (size_t)(nul - *text)));
		errno = EINVAL;
		goto fail;
	}
	slash = strrchr(path, '/');
	if (!slash)
		parent = strdup(".");
	else if (slash == path)
		parent = strdup("/");
	else
		parent = strndup(path, (size_t)(slash - path));
	if (!parent) {
		if (err && errlen)
			snprintf(err, errlen, "out of memory");
		errno = ENOMEM;
		goto fail;
	}
	*dir = realpath(parent, NULL);
	if (!*dir) {
		saved = errno;
		if (err && errlen)
			snprintf(err, errlen, "cannot resolve '%s': %s", parent,
				 strerror(saved));
		errno = saved;
		goto fail;
	}
	free(parent);
	return 0;
fail:
	saved = errno;
	free(*text);
	*text = NULL;
	free(parent);
	errno = saved;
	return -1;
}

struct sup_workflow *sup_workflow_load(const char *path, char *err,
				       size_t errlen)
{
	struct sup_workflow *wf = NULL;
	char *text, *dir;
	int saved;

	if (read_file(path, &text, &dir, err, errlen) < 0)
		return NULL;
	wf = sup_workflow_parse(text, path, dir, err, errlen);
	saved = errno;
	free(text);
	free(dir);
	errno = saved;
	return wf;
}

int sup_fleet_merge_file(struct sup_fleet *f, const char *path, char *err,
			 size_t errlen)
{
	struct sup_workflow file;
	struct parser ps;
	char *text = NULL;

	if (err && errlen)
		err[0] = '\0';
	memset(&file, 0, sizeof(file));
	memset(&ps, 0, sizeof(ps));
	ps.path = path;
	ps.err = err;
	ps.errlen = errlen;
	ps.wf = &file;
	ps.fleet_only = 1;
	if (read_file(path, &text, &file.dir, err, errlen) < 0) {
		if (errno != ENOENT)
			return -1;
		/* No such file: nothing to merge. */
		if (err && errlen)
			err[0] = '\0';
	} else {
		ps.pos = text;
		run_ini(&ps);
	}
	if (!ps.failed) {
		sup_wf_fleet_take(f, &file.fleet);
		if (sup_wf_fleet_defaults(f) < 0)
			sup_wf_nomem(&ps);
	}
	sup_fleet_free(&file.fleet);
	free(file.dir);
	free(text);
	if (!ps.failed)
		return 0;
	errno = ps.saved_errno;
	return -1;
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
		sup_wf_free_words(a->cli.command);
		sup_wf_free_words(a->cli.allowed_tools);
		sup_wf_free_words(a->cli.disallowed_tools);
		sup_wf_free_words(a->cli.args);
		free(a->cli.permission_mode);
		free(a->cli.resume_prompt);
		free(a->cli.sandbox);
	}
	free(wf->phases);
	free(wf->agents);
	sup_fleet_free(&wf->fleet);
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
