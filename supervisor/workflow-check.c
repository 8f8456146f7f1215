/*
 * workflow-check.c - the checks a workflow file needs once a section, or
 * the whole file, is read (smithers.ini(5)): an agent's prices are all
 * three or none, and its limits, its own over the [workflow] defaults,
 * are ones the kernel can take. The keys themselves are
 * workflow-keys.c's; the sections around them workflow.c's.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "supervisor/workflow-int.h"

/* Prices are all three or none. */
int sup_wf_prices_set(const struct sup_prices *p)
{
	return p->input >= 0 && p->cached_input >= 0 && p->output >= 0;
}

int sup_wf_prices_any(const struct sup_prices *p)
{
	return p->input >= 0 || p->cached_input >= 0 || p->output >= 0;
}

/* A codex agent's prices (its own, else the workflow's), and the cost
 * budgets that need them: Codex reports tokens, never a cost. */
int sup_wf_finish_prices(struct parser *ps, struct sup_agent *a)
{
	const struct sup_workflow *wf = ps->wf;
	struct sup_prices *p = &a->cli.prices;

	if (a->kind != SUP_KIND_CODEX)
		return 0;
	if (p->input < 0)
		p->input = wf->prices.input;
	if (p->cached_input < 0)
		p->cached_input = wf->prices.cached_input;
	if (p->output < 0)
		p->output = wf->prices.output;
	if (sup_wf_prices_any(p) && !sup_wf_prices_set(p))
		return sup_wf_err(ps, a->line,
				  "[agent %s] has some prices but not all: "
				  "set price_input, price_cached_input and "
				  "price_output (here or in [workflow])",
				  a->name);
	if (sup_wf_prices_set(p))
		return 0;
	if (a->cli.max_cost_usd > 0)
		return sup_wf_err(ps, a->line,
				  "[agent %s] has kind = codex, which reports "
				  "no cost: max_cost_usd needs price_input, "
				  "price_cached_input and price_output (here "
				  "or in [workflow]), or use max_tokens",
				  a->name);
	if (wf->max_cost_usd > 0)
		return sup_wf_err(ps, a->line,
				  "[workflow] max_cost_usd cannot cover "
				  "[agent %s]: kind = codex reports no cost, "
				  "so set price_input, price_cached_input and "
				  "price_output, or use max_tokens",
				  a->name);
	return 0;
}

/* A size as the file would write it: "2G", "1536M", "64K", "1000". */
static const char *size_text(int64_t v, char *buf, size_t len)
{
	static const char units[] = "GMK";

	for (int i = 0; i < 3; i++) {
		int64_t unit = (int64_t)1 << (10 * (3 - i));

		if (v % unit == 0) {
			snprintf(buf, len, "%lld%c", (long long)(v / unit),
				 units[i]);
			return buf;
		}
	}
	snprintf(buf, len, "%lld", (long long)v);
	return buf;
}

/* The limits L of SECTION ("[workflow]", "[agent a]"), whose own limit
 * keys are on LINES (0: inherited or not set): none with cgroups = off,
 * and memory_high no higher than memory_max. Whether the host can enforce
 * them is the supervisor's question (supervisor/cgroup.h), not the
 * file's. */
int sup_wf_check_limits(struct parser *ps, const char *section,
			const struct sup_limits *l, const int *lines)
{
	const char *from_wf = " (from [workflow])";
	int max_line = lines[K_MEMORY_MAX - K_MEMORY_MAX];
	int high_line = lines[K_MEMORY_HIGH - K_MEMORY_MAX];
	char max[32], high[32];
	int first = -1;

	for (int i = 0; i < N_LIMIT_KEYS; i++)
		if (lines[i] && (first < 0 || lines[i] < lines[first]))
			first = i;
	if (first >= 0 && ps->wf->cgroups == SUP_CGROUPS_OFF)
		return sup_wf_err(
			ps, lines[first],
			"%s needs cgroups, but [workflow] cgroups = off (line "
			"%d): remove the limit, or set cgroups to auto or "
			"required",
			sup_wf_key_name((enum key_id)(K_MEMORY_MAX + first)),
			ps->cgroups_line);
	if (!l->memory_max || !l->memory_high ||
	    l->memory_high <= l->memory_max)
		return 0;
	return sup_wf_err(ps, high_line ? high_line : max_line,
			  "%s has memory_high %s%s above memory_max %s%s: "
			  "lower memory_high or raise memory_max",
			  section,
			  size_text(l->memory_high, high, sizeof(high)),
			  high_line ? "" : from_wf,
			  size_text(l->memory_max, max, sizeof(max)),
			  max_line ? "" : from_wf);
}

/* Agent I's limits: its own keys over [workflow]'s, then checked. */
int sup_wf_finish_limits(struct parser *ps, size_t i)
{
	struct sup_agent *a = &ps->wf->agents[i];
	const struct sup_limits *d = &ps->wf->limits;
	struct sup_limits *l = &a->limits;
	char section[SUP_NAME_MAX + 16];

	if (!l->memory_max)
		l->memory_max = d->memory_max;
	if (!l->memory_high)
		l->memory_high = d->memory_high;
	if (!l->pids_max)
		l->pids_max = d->pids_max;
	if (!l->cpu_weight)
		l->cpu_weight = d->cpu_weight;
	if (!(l->cpu_max > 0))
		l->cpu_max = d->cpu_max;
	snprintf(section, sizeof(section), "[agent %s]", a->name);
	return sup_wf_check_limits(ps, section, l, ps->extra[i].limit_line);
}

