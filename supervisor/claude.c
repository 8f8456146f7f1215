/*
 * claude.c - the command line of a kind = claude agent: the Claude Code CLI
 * in print mode, its stream as JSON lines on stdout (which the worker
 * records, worker/claude.h), in a session whose id smithers draws before
 * the start so that it is recorded before any output.
 *
 * No shell: every key becomes its own argv entries, and the prompt comes
 * last, after "--", so that a prompt starting with '-' is still a prompt.
 * Nothing in the CLI's own files (~/.claude) is ours to edit: a session is
 * resumed with --resume alone.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor/slog.h"
#include "supervisor/sup-int.h"

int claude_session_id(char out[SUP_SESSION_LEN + 1])
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

struct argv {
	char **v;
	size_t n, cap;
};

static void add(struct argv *a, const char *s)
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

static void add_all(struct argv *a, char *const *list)
{
	for (; list && *list; list++)
		add(a, *list);
}

/* FLAG followed by the items of LIST, when there are any. */
static void add_list(struct argv *a, const char *flag, char *const *list)
{
	if (!list || !*list)
		return;
	add(a, flag);
	add_all(a, list);
}

char **claude_argv(const struct sup_agent *sp, const char *session,
		   int resume, const char *prompt, double budget)
{
	const struct sup_claude *c = &sp->claude;
	struct argv a = {0};
	char num[64];

	if (c->command)
		add_all(&a, c->command);
	else
		add(&a, "claude");
	add(&a, "-p");
	add(&a, "--output-format");
	add(&a, "stream-json");
	add(&a, "--verbose");
	add(&a, resume ? "--resume" : "--session-id");
	add(&a, session);
	if (sp->model) {
		add(&a, "--model");
		add(&a, sp->model);
	}
	if (sp->system_prompt) {
		add(&a, "--append-system-prompt");
		add(&a, sp->system_prompt);
	}
	/* A list's items run up to the next flag. */
	add_list(&a, "--allowedTools", c->allowed_tools);
	add_list(&a, "--disallowedTools", c->disallowed_tools);
	if (c->permission_mode) {
		add(&a, "--permission-mode");
		add(&a, c->permission_mode);
	}
	if (c->max_turns > 0) {
		snprintf(num, sizeof(num), "%d", c->max_turns);
		add(&a, "--max-turns");
		add(&a, num);
	}
	if (budget > 0) {
		snprintf(num, sizeof(num), "%.6f", budget);
		add(&a, "--max-budget-usd");
		add(&a, num);
	}
	add_all(&a, c->args);
	add(&a, "--");
	add(&a, prompt);
	return a.v;
}
