/*
 * mirror.c - the supervisor's side of the shared-memory segment (mirror.h).
 *
 * Keys changed in a turn are appended to one growing buffer (key, value,
 * lengths) rather than allocated one by one: a turn of a busy run holds
 * thousands. Agent slots are kept here too, so that a change of one field
 * rewrites the whole slot from a copy that is always complete.
 *
 * Beside each slot the mirror keeps what the slot shows only in part: the
 * agent's cost in dollars (the slot has it rounded to a millionth, so
 * that small amounts still add up) and its tool calls still running,
 * oldest first, so that when the last one started ends, the slot shows
 * the one started before it. The execution's totals are summed here and
 * written to the header at the next publish.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "shm/shm.h"
#include "supervisor/mirror.h"
#include "supervisor/slog.h"

#define NO_VALUE UINT32_MAX /* a deleted key, in the turn's buffer */
/* Running calls remembered per agent; past this many the oldest are only
 * counted (the slot shows the newest anyway). */
#define CALLS_MAX 64

/* A tool call started and not ended. */
struct open_call {
	uint64_t call; /* the agent's number for it; 0: not told */
	int64_t since_ms;
	char tool[SHM_NAME_LEN];
};

/* What the mirror keeps of an agent beside its slot. */
struct agent_more {
	double cost;		 /* dollars */
	struct open_call *calls; /* oldest first */
	size_t ncalls, cap;
};

/* The execution's totals. */
struct totals {
	int64_t in, out, cache_read, cache_write, reasoning;
	double cost;
	int cost_known; /* some agent reported a cost */
};

/* Shipping to a fleet, as the header shows it. */
struct ship {
	int state; /* enum shm_fleet_state */
	int64_t unshipped, oldest_ms;
};

struct sup_mirror {
	struct shm_writer *w;
	struct shm_agent *agents; /* what the slots hold */
	struct agent_more *more;  /* per slot */
	unsigned char *dirty;	  /* per slot: to write at the next publish */
	struct totals totals;
	int totals_dirty;
	struct ship ship;
	int ship_dirty;
	size_t nagents;
	char *held; /* the turn's keys: [klen u32][vlen u32][key][value]... */
	size_t held_len, held_cap;
	struct shm_counters counted; /* for the next publish */
	int64_t last_beat_ms;
};

static void copy(char *dst, size_t len, const char *src)
{
	if (src)
		snprintf(dst, len, "%s", src);
}

/* What an agent's slot says runs it. */
static const char *kind_name(enum sup_kind kind)
{
	switch (kind) {
	case SUP_KIND_COMMAND:
		return "command";
	case SUP_KIND_CLAUDE:
		return "claude";
	case SUP_KIND_CODEX:
		return "codex";
	}
	return "";
}

struct sup_mirror *sup_mirror_open(const char *state_dir,
				   const struct sup_workflow *wf)
{
	struct shm_writer_options opt = {
		.mode = wf->shm_mode,
		.agent_capacity = (uint32_t)wf->shm_agents,
		.key_capacity = (uint32_t)wf->shm_key_slots,
		.keys = (const char *const *)wf->shm_keys,
	};
	struct sup_mirror *m = calloc(1, sizeof(*m));
	char err[256];

	if (!m) {
		sup_log(SUP_WARN, "no shared memory mirror: out of memory");
		return NULL;
	}
	m->nagents = wf->nagents < (size_t)wf->shm_agents ? wf->nagents
							  : (size_t)wf->shm_agents;
	m->agents = calloc(m->nagents ? m->nagents : 1, sizeof(*m->agents));
	m->more = calloc(m->nagents ? m->nagents : 1, sizeof(*m->more));
	m->dirty = calloc(m->nagents ? m->nagents : 1, 1);
	if (!m->agents || !m->more || !m->dirty) {
		sup_log(SUP_WARN, "no shared memory mirror: out of memory");
		goto fail;
	}
	m->w = shm_writer_create(state_dir, &opt, err, sizeof(err));
	if (!m->w) {
		sup_log(SUP_WARN, "no shared memory mirror: %s", err);
		goto fail;
	}
	/* Slot I shows agent I of the workflow: its kind is known now; what
	 * its process tree uses is not yet. */
	for (size_t i = 0; i < m->nagents; i++) {
		copy(m->agents[i].kind, sizeof(m->agents[i].kind),
		     kind_name(wf->agents[i].kind));
		m->agents[i].mem_peak = -1;
		m->agents[i].cpu_usec = -1;
	}
	if (wf->nagents > m->nagents)
		sup_log(SUP_WARN,
			"the shared memory mirror shows %zu agents of %zu "
			"([shm] agents)",
			m->nagents, wf->nagents);
	shm_heartbeat(m->w);
	return m;
fail:
	free(m->agents);
	free(m->more);
	free(m->dirty);
	free(m);
	return NULL;
}

void sup_mirror_close(struct sup_mirror *m, int remove)
{
	if (!m)
		return;
	shm_writer_close(m->w, remove);
	for (size_t i = 0; i < m->nagents; i++)
		free(m->more[i].calls);
	free(m->more);
	free(m->agents);
	free(m->dirty);
	free(m->held);
	free(m);
}

void sup_mirror_execution(struct sup_mirror *m, int64_t id, const char *name,
			  const char *status)
{
	if (m)
		shm_set_execution(m->w, id, name, status);
}

void sup_mirror_phase(struct sup_mirror *m, const char *phase, int iteration)
{
	if (m)
		shm_set_phase(m->w, phase, iteration);
}

void sup_mirror_key(struct sup_mirror *m, const char *key, const char *json)
{
	uint32_t kl, vl;
	size_t need;

	if (!m)
		return;
	kl = (uint32_t)strlen(key);
	vl = json ? (uint32_t)strlen(json) : NO_VALUE;
	need = 8 + kl + (json ? vl : 0);
	if (m->held_len + need > m->held_cap) {
		size_t cap = m->held_cap ? m->held_cap : 4096;
		char *grown;

		while (cap < m->held_len + need)
			cap *= 2;
		grown = realloc(m->held, cap);
		if (!grown)
			return; /* the mirror misses it; readers still have the
				 * database */
		m->held = grown;
		m->held_cap = cap;
	}
	memcpy(m->held + m->held_len, &kl, 4);
	memcpy(m->held + m->held_len + 4, &vl, 4);
	memcpy(m->held + m->held_len + 8, key, kl);
	if (json)
		memcpy(m->held + m->held_len + 8 + kl, json, vl);
	m->held_len += need;
}

void sup_mirror_discard(struct sup_mirror *m)
{
	if (m)
		m->held_len = 0;
}

static struct shm_agent *slot(struct sup_mirror *m, size_t index)
{
	if (!m || index >= m->nagents)
		return NULL;
	m->dirty[index] = 1;
	return &m->agents[index];
}

/* Dollars to the millionths the segment holds, rounded. */
static int64_t micro_usd(double usd)
{
	return (int64_t)(usd * 1e6 + (usd < 0 ? -0.5 : 0.5));
}

/* Slot S shows the newest of X's running calls, or none. */
static void show_running(struct shm_agent *s, const struct agent_more *x)
{
	const struct open_call *c = x->ncalls ? &x->calls[x->ncalls - 1] : NULL;

	memset(s->running_tool, 0, sizeof(s->running_tool));
	if (c)
		memcpy(s->running_tool, c->tool, sizeof(s->running_tool));
	s->running_since_ms = c ? c->since_ms : 0;
}

/* The agent's run ended or a new one began: no call of the old one is
 * running any more (an agent killed in a call never ends it). */
static void calls_clear(struct shm_agent *s, struct agent_more *x)
{
	x->ncalls = 0;
	s->running_calls = 0;
	show_running(s, x);
}

static int status_runs(const char *status)
{
	return !strcmp(status, "running") || !strcmp(status, "stopping");
}

/* Whether A says anything of slot S that S does not hold already. */
static int agent_changed(const struct shm_agent *s,
			 const struct sup_mirror_agent *a)
{
	return !s->name[0] || (a->id >= 0 && a->id != s->id) ||
	       (a->pid >= 0 && a->pid != s->pid) ||
	       (a->attempt > 0 && a->attempt != s->attempt) ||
	       (a->iteration >= 0 && a->iteration != s->iteration) ||
	       (a->status && strncmp(a->status, s->status, sizeof(s->status)));
}

void sup_mirror_agent(struct sup_mirror *m, size_t index,
		      const struct sup_mirror_agent *a)
{
	struct shm_agent *s;
	int was_running, runs_anew, new_attempt;

	if (!m || index >= m->nagents || !agent_changed(&m->agents[index], a))
		return;
	s = slot(m, index);
	was_running = s->name[0] && !strcmp(s->status, "running");
	/* A new run: started now, unless the caller knows better. */
	new_attempt = a->attempt > 0 && s->attempt > 0 &&
		      a->attempt != s->attempt;
	runs_anew = a->status && !strcmp(a->status, "running") &&
		    (!was_running || (a->attempt > 0 && a->attempt != s->attempt));
	if (a->id >= 0)
		s->id = a->id;
	copy(s->name, sizeof(s->name), a->name);
	copy(s->phase, sizeof(s->phase), a->phase);
	copy(s->status, sizeof(s->status), a->status);
	if (a->pid >= 0)
		s->pid = a->pid;
	if (a->attempt > 0) {
		/* Each attempt after the first is a restart. */
		if (s->attempt > 0 && a->attempt > s->attempt)
			m->counted.restarts +=
				(uint64_t)(a->attempt - s->attempt);
		s->attempt = a->attempt;
		s->restarts = a->attempt - 1;
	}
	if (a->iteration >= 0)
		s->iteration = a->iteration;
	if (a->started_ms >= 0)
		s->started_ms = a->started_ms;
	else if (runs_anew)
		s->started_ms = cm_wall_ms();
	/* Not at the start of a run: its first call may be told first. */
	if (!status_runs(s->status) || new_attempt)
		calls_clear(s, &m->more[index]);
}

void sup_mirror_agent_tool_call(struct sup_mirror *m, size_t index,
				uint64_t call, const char *tool)
{
	struct shm_agent *s = slot(m, index);
	struct agent_more *x;
	struct open_call *c;

	if (!s)
		return;
	x = &m->more[index];
	s->tool_calls++;
	copy(s->last_tool, sizeof(s->last_tool), tool ? tool : "?");
	if (s->running_calls < INT32_MAX)
		s->running_calls++;
	if (x->ncalls == CALLS_MAX) {
		/* The oldest is only counted from now on. */
		memmove(x->calls, x->calls + 1,
			(x->ncalls - 1) * sizeof(*x->calls));
		x->ncalls--;
	}
	if (x->ncalls == x->cap) {
		size_t cap = x->cap ? 2 * x->cap : 4;
		struct open_call *grown =
			realloc(x->calls, cap * sizeof(*x->calls));

		if (!grown)
			return; /* counted, not shown */
		x->calls = grown;
		x->cap = cap;
	}
	c = &x->calls[x->ncalls++];
	memset(c, 0, sizeof(*c));
	c->call = call;
	c->since_ms = cm_wall_ms();
	copy(c->tool, sizeof(c->tool), tool ? tool : "?");
	show_running(s, x);
}

void sup_mirror_agent_tool(struct sup_mirror *m, size_t index,
			   const char *tool)
{
	sup_mirror_agent_tool_call(m, index, 0, tool);
}

/* Which of X's remembered calls CALL is: its own, else the newest one
 * started without a number (calls nest: an inner one ends first); -1 if
 * none. */
static ssize_t call_index(const struct agent_more *x, uint64_t call)
{
	for (size_t i = 0; call && i < x->ncalls; i++)
		if (x->calls[i].call == call)
			return (ssize_t)i;
	for (size_t i = x->ncalls; i-- > 0;)
		if (!x->calls[i].call)
			return (ssize_t)i;
	return -1;
}

void sup_mirror_agent_tool_end(struct sup_mirror *m, size_t index,
			       uint64_t call)
{
	struct agent_more *x;
	struct shm_agent *s;
	ssize_t i;

	if (!m || index >= m->nagents || m->agents[index].running_calls <= 0)
		return;
	s = slot(m, index);
	x = &m->more[index];
	i = call_index(x, call);
	if (i < 0 && (size_t)s->running_calls <= x->ncalls)
		return; /* not one of its running calls */
	/* Else, not found, it is one of those only counted. */
	s->running_calls--;
	if (i >= 0) {
		memmove(x->calls + i, x->calls + i + 1,
			(x->ncalls - (size_t)i - 1) * sizeof(*x->calls));
		x->ncalls--;
	}
	show_running(s, x);
}

void sup_mirror_agent_usage(struct sup_mirror *m, size_t index, int64_t in,
			    int64_t out, int64_t cache_read,
			    int64_t cache_write, double cost_usd)
{
	struct shm_agent *s;

	if (!m)
		return;
	sup_mirror_usage(m, in, out, cache_read, cache_write, cost_usd);
	if (!(s = slot(m, index)))
		return;
	s->tokens_in += in;
	s->tokens_out += out;
	s->cache_read += cache_read;
	s->cache_write += cache_write;
	m->more[index].cost += cost_usd;
	s->cost_micro_usd = micro_usd(m->more[index].cost);
}

void sup_mirror_agent_reasoning(struct sup_mirror *m, size_t index,
				int64_t reasoning)
{
	struct shm_agent *s;

	if (!m)
		return;
	m->totals.reasoning += reasoning;
	m->totals_dirty = 1;
	if ((s = slot(m, index)))
		s->reasoning += reasoning;
}

void sup_mirror_agent_cost_known(struct sup_mirror *m, size_t index)
{
	struct shm_agent *s;

	if (!m)
		return;
	if (!m->totals.cost_known) {
		m->totals.cost_known = 1;
		m->totals_dirty = 1;
	}
	if (index < m->nagents && !m->agents[index].cost_known &&
	    (s = slot(m, index)))
		s->cost_known = 1;
}

void sup_mirror_usage(struct sup_mirror *m, int64_t in, int64_t out,
		      int64_t cache_read, int64_t cache_write, double cost_usd)
{
	if (!m)
		return;
	m->totals.in += in;
	m->totals.out += out;
	m->totals.cache_read += cache_read;
	m->totals.cache_write += cache_write;
	m->totals.cost += cost_usd;
	if (cost_usd != 0)
		m->totals.cost_known = 1;
	m->totals_dirty = 1;
}

void sup_mirror_agent_key(struct sup_mirror *m, size_t index, const char *key)
{
	struct shm_agent *s = slot(m, index);

	if (s)
		copy(s->last_key, sizeof(s->last_key), key);
}

void sup_mirror_resources(struct sup_mirror *m, size_t index,
			  int64_t mem_peak, int64_t cpu_usec)
{
	struct shm_agent *s;

	if (!m || index >= m->nagents)
		return;
	mem_peak = mem_peak < 0 ? -1 : mem_peak;
	cpu_usec = cpu_usec < 0 ? -1 : cpu_usec;
	if (m->agents[index].mem_peak == mem_peak &&
	    m->agents[index].cpu_usec == cpu_usec)
		return;
	s = slot(m, index);
	if (!s)
		return;
	s->mem_peak = mem_peak;
	s->cpu_usec = cpu_usec;
}

void sup_mirror_fleet(struct sup_mirror *m, int state, int64_t unshipped,
		      int64_t oldest_ms)
{
	if (!m || (m->ship.state == state && m->ship.unshipped == unshipped &&
		   m->ship.oldest_ms == oldest_ms))
		return;
	m->ship.state = state;
	m->ship.unshipped = unshipped;
	m->ship.oldest_ms = oldest_ms;
	m->ship_dirty = 1;
}

void sup_mirror_count(struct sup_mirror *m, uint64_t messages, uint64_t bytes,
		      uint64_t rejected)
{
	if (!m)
		return;
	m->counted.messages += messages;
	m->counted.bytes += bytes;
	m->counted.rejected += rejected;
}

void sup_mirror_publish(struct sup_mirror *m, int64_t commit_us)
{
	int64_t now;

	if (!m)
		return;
	for (size_t at = 0; at < m->held_len;) {
		uint32_t kl, vl;
		char key[SUP_SHM_KEY_MAX + 2];

		memcpy(&kl, m->held + at, 4);
		memcpy(&vl, m->held + at + 4, 4);
		at += 8;
		/* Longer keys are never mirrored (shm_key_set). */
		if (kl < sizeof(key)) {
			memcpy(key, m->held + at, kl);
			key[kl] = '\0';
			if (vl == NO_VALUE)
				shm_key_delete(m->w, key);
			else
				shm_key_set(m->w, key, m->held + at + kl, vl);
		}
		at += kl + (vl == NO_VALUE ? 0 : vl);
	}
	m->held_len = 0;
	now = cm_wall_ms();
	for (size_t i = 0; i < m->nagents; i++)
		if (m->dirty[i]) {
			m->agents[i].updated_ms = now;
			shm_agent_put(m->w, (uint32_t)i, &m->agents[i]);
			m->dirty[i] = 0;
		}
	if (m->totals_dirty) {
		struct shm_usage u = {
			.tokens_in = m->totals.in,
			.tokens_out = m->totals.out,
			.cache_read = m->totals.cache_read,
			.cache_write = m->totals.cache_write,
			.cost_micro_usd = micro_usd(m->totals.cost),
			.reasoning = m->totals.reasoning,
			.cost_known = m->totals.cost_known,
		};

		shm_set_usage(m->w, &u);
		m->totals_dirty = 0;
	}
	if (m->ship_dirty) {
		shm_set_fleet(m->w, m->ship.state, m->ship.unshipped,
			      m->ship.oldest_ms);
		m->ship_dirty = 0;
	}
	m->counted.commits = commit_us >= 0;
	shm_count(m->w, &m->counted, commit_us);
	memset(&m->counted, 0, sizeof(m->counted));
	if (now - m->last_beat_ms >= 100) {
		shm_heartbeat(m->w);
		m->last_beat_ms = now;
	}
}
