/*
 * codex.c - the command line of a kind = codex agent: OpenAI's Codex CLI
 * run non-interactively (`codex exec`), its events as JSON lines on stdout
 * (which the worker records, worker/codex.h). Its thread id is the CLI's
 * to choose: it says it first (thread.started), and a later run goes on
 * with it through `codex exec resume`.
 *
 * No shell: every key becomes its own argv entries, and the prompt comes
 * last, after "--", so that a prompt starting with '-' is still a prompt.
 * The CLI gets /dev/null for its input (the worker gives every agent
 * that): with a pipe there, `codex exec` would wait to read more prompt.
 */
#include "config.h"

#include "supervisor/sup-int.h"

char **codex_argv(const struct sup_agent *sp, const char *session, int resume,
		  const char *prompt, double budget)
{
	const struct sup_cli *c = &sp->cli;
	struct argv a = {0};

	(void)budget; /* the CLI takes none: the supervisor keeps it */
	if (c->command)
		argv_add_all(&a, c->command);
	else
		argv_add(&a, "codex");
	argv_add(&a, "exec");
	argv_add(&a, "--json");
	argv_add(&a, "--skip-git-repo-check");
	if (sp->model) {
		argv_add(&a, "--model");
		argv_add(&a, sp->model);
	}
	if (c->sandbox) {
		argv_add(&a, "--sandbox");
		argv_add(&a, c->sandbox);
	}
	argv_add_all(&a, c->args);
	if (resume) {
		argv_add(&a, "resume");
		argv_add(&a, session);
	}
	argv_add(&a, "--");
	argv_add(&a, prompt);
	return a.v;
}
