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

/* FLAG followed by the items of LIST, when there are any. */
static void add_list(struct argv *a, const char *flag, char *const *list)
{
	if (!list || !*list)
		return;
	argv_add(a, flag);
	argv_add_all(a, list);
}

char **claude_argv(const struct sup_agent *sp, const char *session,
		   int resume, const char *prompt, double budget)
{
	const struct sup_cli *c = &sp->cli;
	struct argv a = {0};
	char num[64];

	if (c->command)
		argv_add_all(&a, c->command);
	else
		argv_add(&a, "claude");
	argv_add(&a, "-p");
	argv_add(&a, "--output-format");
	argv_add(&a, "stream-json");
	argv_add(&a, "--verbose");
	argv_add(&a, resume ? "--resume" : "--session-id");
	argv_add(&a, session);
	if (sp->model) {
		argv_add(&a, "--model");
		argv_add(&a, sp->model);
	}
	if (sp->system_prompt) {
		argv_add(&a, "--append-system-prompt");
		argv_add(&a, sp->system_prompt);
	}
	/* A list's items run up to the next flag. */
	add_list(&a, "--allowedTools", c->allowed_tools);
	add_list(&a, "--disallowedTools", c->disallowed_tools);
	if (c->permission_mode) {
		argv_add(&a, "--permission-mode");
		argv_add(&a, c->permission_mode);
	}
	if (c->max_turns > 0) {
		snprintf(num, sizeof(num), "%d", c->max_turns);
		argv_add(&a, "--max-turns");
		argv_add(&a, num);
	}
	if (budget > 0) {
		snprintf(num, sizeof(num), "%.6f", budget);
		argv_add(&a, "--max-budget-usd");
		argv_add(&a, num);
	}
	argv_add_all(&a, c->args);
	argv_add(&a, "--");
	argv_add(&a, prompt);
	return a.v;
}
