/*
 * adapter.c - what smithers knows of each agent CLI it runs itself. The
 * rest is the same for all of them and lives once: the keys (workflow.h's
 * struct sup_cli), the session and its resume (spawn.c), the budgets
 * (budget.c), the recording of the stream (the worker's adapter layer,
 * worker/adapter.h), recovery (recover.c).
 */
#include "config.h"

#include <stddef.h>

#include "supervisor/sup-int.h"
#include "worker/ctl.h"

static const struct adapter adapters[] = {
	{
		.kind = SUP_KIND_CLAUDE,
		.program = "claude",
		.package = "@anthropic-ai/claude-code",
		.names_session = 1,
		.takes_budget = 1,
		.reports_cost = 1,
		.links_calls = 1,
		.worker = WRK_ADAPTER_CLAUDE,
		.argv = claude_argv,
	},
	{
		.kind = SUP_KIND_CODEX,
		.program = "codex",
		.package = "@openai/codex",
		.names_session = 0,
		.takes_budget = 0,
		.reports_cost = 0,
		.links_calls = 0,
		.worker = WRK_ADAPTER_CODEX,
		.argv = codex_argv,
	},
};

const struct adapter *adapter_of(enum sup_kind kind)
{
	for (size_t i = 0; i < sizeof(adapters) / sizeof(*adapters); i++)
		if (adapters[i].kind == kind)
			return &adapters[i];
	return NULL;
}
