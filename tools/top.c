/*
 * top.c - smithers-top's sampler: snapshots of a running supervisor's
 * shared-memory segment (shm/shm.h) with /proc figures for each agent's
 * process, the rates between two snapshots, sorting, and the renderings
 * both the screen (top-ui.c) and the printed outputs (top-print.c) use.
 * It calls neither of them: they call it.
 *
 * An agent in a cgroup has its whole process tree's figures there, read
 * by top-proc.c: its memory now, and its CPU time, whose growth between
 * two samples over the time between them is its CPU%. Those are shown
 * where they are known; elsewhere, and for the first sample of a CPU%,
 * the process group leader's from /proc.
 *
 * Everything live comes from the segment and from /proc, never from the
 * database: reading the segment takes no lock and makes no system call,
 * so watching a supervisor costs it nothing. A segment whose writer is
 * gone still holds its last values: they are shown, under a
 * "SUPERVISOR NOT RUNNING" banner, until a new supervisor on the same
 * state dir replaces the segment; each sample looks for that first.
 */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/clock.h"
#include "tools/cli.h"
#include "tools/top.h"

/* The heartbeat is written at least every 2 s (the supervisor's WAKE_MS):
 * a supervisor whose pid lives but whose heartbeat is twice that old is
 * wedged, shown as not running. A gone pid is seen at once. */
#define ALIVE_MS 4000

const char *const top_col_names[COL_COUNT] = {
	[COL_AGENT] = "AGENT",	 [COL_PHASE] = "PHASE",
	[COL_STATUS] = "STATUS", [COL_KIND] = "KIND",
	[COL_PID] = "PID",	 [COL_CPU] = "CPU%",
	[COL_MEM] = "MEM",	 [COL_PEAK] = "PEAK",
	[COL_TIME] = "TIME",	 [COL_RESTARTS] = "RESTARTS",
	[COL_TOOLS] = "TOOLS",	 [COL_COST] = "COST",
	[COL_IN] = "IN",	 [COL_OUT] = "OUT",
	[COL_CACHE] = "CACHE",	 [COL_LAST] = "LAST",
	[COL_AGE] = "AGE",	 [COL_RUNNING] = "RUNNING",
};

static double mono_s(void)
{
	return (double)cm_mono_us() / 1e6;
}

/* ---- snapshots ------------------------------------------------------------- */

/* The statuses whose process should exist: only those are sampled, so
 * that the pid of a finished agent, maybe reused, is not shown. */
static int status_has_process(const char *st)
{
	return !strcmp(st, "running") || !strcmp(st, "stopping");
}

static void count_status(struct top_snap *s, const char *st)
{
	if (status_has_process(st))
		s->running++;
	else if (!strcmp(st, "done") || !strcmp(st, "completed"))
		s->done++;
	else if (!strcmp(st, "failed"))
		s->failed++;
	else if (!strcmp(st, "backoff") || !strcmp(st, "restarting"))
		s->restarting++;
}

static size_t text_add(struct top_snap *s, const char *p, size_t n)
{
	size_t at = s->text_len;

	if (s->text_len + n + 1 > s->text_cap) {
		s->text_cap = (s->text_len + n + 1) * 2;
		s->text = xrealloc(s->text, s->text_cap);
	}
	memcpy(s->text + at, p, n);
	s->text[at + n] = '\0';
	s->text_len += n + 1;
	return at;
}

static int add_key(const char *key, const char *value, size_t len,
		   int truncated, void *arg)
{
	struct top_snap *s = arg;
	struct top_key *k;

	if (s->nkeys == s->keys_cap) {
		s->keys_cap = s->keys_cap ? 2 * s->keys_cap : 64;
		s->keys = xrealloc(s->keys, s->keys_cap * sizeof(*s->keys));
	}
	k = &s->keys[s->nkeys++];
	k->key = text_add(s, key, strlen(key));
	k->value = text_add(s, value, len);
	k->len = len;
	k->truncated = truncated;
	return 0;
}

static int key_cmp(const void *a, const void *b, void *arg)
{
	const struct top_snap *s = arg;

	return strcmp(top_key_name(s, a), top_key_name(s, b));
}

/* A running agent's figures: its leader's from /proc, its tree's from its
 * cgroup over them where it has one, added to what its ended attempts
 * used (the segment's). */
static void sample_tree(struct top *t, struct top_agent *ta)
{
	struct top_tree tr;
	double cpu;

	top_procs_sample(t->procs, ta->a.pid, &ta->cpu, &ta->rss, &tr);
	ta->mem = ta->rss;
	ta->nprocs = tr.nprocs;
	if (tr.mem >= 0) {
		ta->mem = tr.mem;
		ta->tree = 1;
	}
	if (tr.peak > ta->peak)
		ta->peak = tr.peak;
	if (tr.cpu_usec < 0)
		return;
	ta->cpu_usec = tr.cpu_usec + (ta->a.cpu_usec > 0 ? ta->a.cpu_usec : 0);
	cpu = top_procs_tree(t->procs, ta->a.id, ta->cpu_usec);
	if (cpu >= 0)
		ta->cpu = cpu;
}

/*
 * A supervisor started since the segment was opened (a resume after a
 * crash) replaced it with its own: open that one, or the dead one's values
 * would show for ever. One still being made is tried at the next sample;
 * while there is none, the old values stay, under the banner.
 */
static void reattach(struct top *t)
{
	struct shm_reader *r;

	if (shm_reader_changed(t->r) != SHM_REPLACED)
		return;
	r = shm_reader_open(t->dir, NULL, 0);
	if (!r)
		return;
	shm_reader_close(t->r);
	t->r = r;
	t->reattached++;
	/* New counters: no rate against the old ones. */
	t->have_prev = 0;
	top_procs_forget_trees(t->procs);
	t->prev_messages = t->prev_commits = 0;
}

void top_sample(struct top *t, int keys)
{
	struct top_snap *s = &t->snap;
	struct shm_agent a;
	struct stat st;
	double now, secs;
	uint32_t i, cap;
	size_t used;

	reattach(t);
	shm_read_header(t->r, &s->h);
	s->now_ms = cm_wall_ms();
	now = mono_s();
	s->alive = shm_writer_alive(t->r, ALIVE_MS) == 1;
	s->wal_bytes = stat(t->wal_path, &st) ? -1 : (long long)st.st_size;

	/* Rates between two samples; the first one gets the average over
	 * the writer's life (started to last heartbeat). */
	if (t->have_prev && now > t->prev_time) {
		secs = now - t->prev_time;
		s->msg_rate = (double)(s->h.messages - t->prev_messages) / secs;
		s->commit_rate = (double)(s->h.commits - t->prev_commits) / secs;
	} else if (s->h.heartbeat_ms > s->h.started_ms) {
		secs = (double)(s->h.heartbeat_ms - s->h.started_ms) / 1000.0;
		s->msg_rate = (double)s->h.messages / secs;
		s->commit_rate = (double)s->h.commits / secs;
	} else {
		s->msg_rate = s->commit_rate = -1;
	}
	/* A restarted writer starts its counters again. */
	if (s->h.messages < t->prev_messages || s->h.commits < t->prev_commits)
		s->msg_rate = s->commit_rate = -1;
	t->have_prev = 1;
	t->prev_messages = s->h.messages;
	t->prev_commits = s->h.commits;
	t->prev_time = now;

	/* agents_used bounds the scan when the slots are packed, and
	 * costs nothing when they are not. */
	s->nagents = 0;
	s->running = s->done = s->failed = s->restarting = 0;
	cap = s->h.agent_capacity;
	top_procs_begin(t->procs);
	for (i = 0, used = 0; i < cap && used < s->h.agents_used; i++) {
		struct top_agent *ta;

		if (shm_read_agent(t->r, i, &a) != 1)
			continue;
		used++;
		if (s->nagents == s->agents_cap) {
			s->agents_cap = s->agents_cap ? 2 * s->agents_cap : 64;
			s->agents = xrealloc(s->agents, s->agents_cap *
							       sizeof(*s->agents));
		}
		ta = &s->agents[s->nagents++];
		ta->a = a;
		/* The writer's strings are NUL-padded; be sure anyway. */
		ta->a.name[sizeof(a.name) - 1] = '\0';
		ta->a.phase[sizeof(a.phase) - 1] = '\0';
		ta->a.status[sizeof(a.status) - 1] = '\0';
		ta->a.last_tool[sizeof(a.last_tool) - 1] = '\0';
		ta->a.last_key[sizeof(a.last_key) - 1] = '\0';
		ta->a.running_tool[sizeof(a.running_tool) - 1] = '\0';
		ta->cpu = -1;
		ta->rss = -1;
		ta->mem = -1;
		ta->tree = 0;
		ta->peak = ta->a.mem_peak;
		ta->cpu_usec = ta->a.cpu_usec;
		ta->nprocs = -1;
		if (status_has_process(ta->a.status))
			sample_tree(t, ta);
		count_status(s, ta->a.status);
	}
	top_procs_end(t->procs);
	s->h.execution[sizeof(s->h.execution) - 1] = '\0';
	s->h.status[sizeof(s->h.status) - 1] = '\0';
	s->h.phase[sizeof(s->h.phase) - 1] = '\0';

	s->nkeys = 0;
	s->text_len = 0;
	s->have_keys = keys;
	if (keys) {
		shm_read_keys(t->r, add_key, s);
		/* No key, no array: qsort_r() must not be given NULL. */
		if (s->nkeys)
			qsort_r(s->keys, s->nkeys, sizeof(*s->keys), key_cmp,
				s);
	}
}

/* ---- sorting ----------------------------------------------------------------- */

/* Digits compare as numbers, so that agent-9 comes before agent-10. */
static int natural_cmp(const char *a, const char *b)
{
	while (*a && *b) {
		if (*a >= '0' && *a <= '9' && *b >= '0' && *b <= '9') {
			const char *x = a, *y = b;
			size_t nx, ny;
			int c;

			while (*x == '0')
				x++;
			while (*y == '0')
				y++;
			for (a = x; *a >= '0' && *a <= '9'; a++)
				;
			for (b = y; *b >= '0' && *b <= '9'; b++)
				;
			nx = (size_t)(a - x);
			ny = (size_t)(b - y);
			if (nx != ny)
				return nx < ny ? -1 : 1;
			c = memcmp(x, y, nx);
			if (c)
				return c;
			continue;
		}
		if (*a != *b)
			return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
		a++;
		b++;
	}
	return (unsigned char)*a - (unsigned char)*b;
}

#define CMP(x, y) (((x) > (y)) - ((x) < (y)))

const char *top_agent_last(const struct shm_agent *a)
{
	return a->last_tool[0] ? a->last_tool : a->last_key;
}

int top_cost_known(const struct top_snap *s, const struct shm_agent *a)
{
	return s->h.minor < 2 || a->cost_known;
}

int top_total_cost_known(const struct top_snap *s)
{
	return s->h.minor < 2 || s->h.cost_known;
}

const char *top_agent_kind(const struct shm_agent *a)
{
	return a->kind[0] ? a->kind : "-";
}

struct sort_by {
	enum top_col col;
	int reverse;
	const struct top_snap *s;
};

static int agent_cmp(const void *pa, const void *pb, void *arg)
{
	const struct top_agent *x = pa, *y = pb;
	const struct sort_by *by = arg;
	int c = 0;

	switch (by->col) {
	case COL_AGENT:
		break;
	case COL_PHASE:
		c = natural_cmp(x->a.phase, y->a.phase);
		break;
	case COL_STATUS:
		c = strcmp(x->a.status, y->a.status);
		break;
	case COL_KIND:
		c = strcmp(x->a.kind, y->a.kind);
		break;
	case COL_PID:
		c = CMP(x->a.pid, y->a.pid);
		break;
	case COL_CPU:
		c = CMP(x->cpu, y->cpu);
		break;
	case COL_MEM:
		c = CMP(x->mem, y->mem);
		break;
	case COL_PEAK:
		c = CMP(x->peak, y->peak);
		break;
	case COL_TIME:
		c = CMP(x->cpu_usec, y->cpu_usec);
		break;
	case COL_RESTARTS:
		c = CMP(x->a.restarts, y->a.restarts);
		break;
	case COL_TOOLS:
		c = CMP(x->a.tool_calls, y->a.tool_calls);
		break;
	case COL_COST:
		/* An unknown cost before any known one. */
		c = CMP(top_cost_known(by->s, &x->a),
			top_cost_known(by->s, &y->a));
		if (!c)
			c = CMP(x->a.cost_micro_usd, y->a.cost_micro_usd);
		break;
	case COL_IN:
		c = CMP(x->a.tokens_in, y->a.tokens_in);
		break;
	case COL_OUT:
		c = CMP(x->a.tokens_out, y->a.tokens_out);
		break;
	case COL_CACHE:
		c = CMP(x->a.cache_read + x->a.cache_write,
			y->a.cache_read + y->a.cache_write);
		break;
	case COL_RUNNING:
		c = natural_cmp(x->a.running_tool, y->a.running_tool);
		break;
	case COL_LAST:
		c = natural_cmp(top_agent_last(&x->a), top_agent_last(&y->a));
		break;
	case COL_AGE:
		/* Older first: an earlier start is a greater age. */
		c = CMP(y->a.started_ms, x->a.started_ms);
		break;
	case COL_COUNT:
		break;
	}
	if (!c)
		c = natural_cmp(x->a.name, y->a.name);
	if (!c)
		c = CMP(x->a.id, y->a.id);
	return by->reverse ? -c : c;
}

void top_sort(struct top_snap *s, enum top_col col, int reverse)
{
	struct sort_by by = {col, reverse, s};

	if (s->nagents)
		qsort_r(s->agents, s->nagents, sizeof(*s->agents), agent_cmp,
			&by);
}

/* ---- rendering ------------------------------------------------------------- */

char *top_fmt_bytes(char *buf, size_t len, long long bytes)
{
	static const char units[] = "KMGTP";
	double v;
	int u;

	if (bytes < 0) {
		snprintf(buf, len, "-");
		return buf;
	}
	if (bytes < 1024) {
		snprintf(buf, len, "%lldB", bytes);
		return buf;
	}
	v = (double)bytes / 1024;
	for (u = 0; v >= 1024 && units[u + 1]; u++)
		v /= 1024;
	snprintf(buf, len, v < 10 ? "%.1f%c" : "%.0f%c", v, units[u]);
	return buf;
}

char *top_fmt_cpu_time(char *buf, size_t len, int64_t usec)
{
	return top_fmt_duration(buf, len, usec < 0 ? -1 : usec / 1000);
}

char *top_fmt_cpu(char *buf, size_t len, double cpu)
{
	if (cpu < 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.1f", cpu);
	return buf;
}

char *top_fmt_count(char *buf, size_t len, long long n)
{
	if (n < 0)
		snprintf(buf, len, "-");
	else if (n < 100000)
		snprintf(buf, len, "%lld", n);
	else if (n < 10000000)
		snprintf(buf, len, "%.1fk", (double)n / 1e3);
	else if (n < 10000000000LL)
		snprintf(buf, len, "%.1fM", (double)n / 1e6);
	else
		snprintf(buf, len, "%.1fG", (double)n / 1e9);
	return buf;
}

char *top_fmt_duration(char *buf, size_t len, int64_t ms)
{
	int64_t s = ms / 1000;

	if (ms < 0)
		snprintf(buf, len, "-");
	else if (s < 3600)
		snprintf(buf, len, "%d:%02d", (int)(s / 60), (int)(s % 60));
	else if (s < 86400)
		snprintf(buf, len, "%d:%02d:%02d", (int)(s / 3600),
			 (int)(s / 60 % 60), (int)(s % 60));
	else
		snprintf(buf, len, "%dd%02dh", (int)(s / 86400),
			 (int)(s / 3600 % 24));
	return buf;
}

char *top_fmt_tokens(char *buf, size_t len, long long n)
{
	/* Each unit up to where its rounding would print 1000.0. */
	if (n < 0)
		snprintf(buf, len, "-");
	else if (n < 1000)
		snprintf(buf, len, "%lld", n);
	else if (n < 999950)
		snprintf(buf, len, "%.1fk", (double)n / 1e3);
	else if (n < 999950000)
		snprintf(buf, len, "%.1fM", (double)n / 1e6);
	else
		snprintf(buf, len, "%.1fG", (double)n / 1e9);
	return buf;
}

char *top_fmt_cost_known(char *buf, size_t len, int64_t micro_usd, int known)
{
	if (!known) {
		snprintf(buf, len, "-");
		return buf;
	}
	return top_fmt_cost(buf, len, micro_usd);
}

char *top_fmt_cost(char *buf, size_t len, int64_t micro_usd)
{
	double usd = (double)micro_usd / 1e6;

	if (micro_usd < 99999950 && micro_usd > -99999950)
		snprintf(buf, len, "$%.4f", usd);
	else
		snprintf(buf, len, "$%.2f", usd);
	return buf;
}

/* An elapsed time, short: 12s, 3m04s, 2h05m. */
static char *fmt_elapsed(char *buf, size_t len, int64_t ms)
{
	int64_t s = ms < 0 ? 0 : ms / 1000;

	if (s < 60)
		snprintf(buf, len, "%ds", (int)s);
	else if (s < 3600)
		snprintf(buf, len, "%dm%02ds", (int)(s / 60), (int)(s % 60));
	else
		snprintf(buf, len, "%dh%02dm", (int)(s / 3600),
			 (int)(s / 60 % 60));
	return buf;
}

char *top_fmt_running(char *buf, size_t len, const struct shm_agent *a,
		      int64_t now_ms, int width)
{
	char tail[64], name[256];
	int room;

	if (!a->running_tool[0]) {
		snprintf(buf, len, "%s", "");
		return buf;
	}
	fmt_elapsed(tail, sizeof(tail), now_ms - a->running_since_ms);
	if (a->running_calls > 1) {
		size_t n = strlen(tail);

		snprintf(tail + n, sizeof(tail) - n, " +%d",
			 (int)a->running_calls - 1);
	}
	room = width - 1 - (int)strlen(tail);
	top_fit(name, sizeof(name), a->running_tool, room > 1 ? room : 1);
	snprintf(buf, len, "%s %s", name, tail);
	return buf;
}

char *top_fit(char *buf, size_t len, const char *s, int width)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0, n;
	int w = 0;

	if (!len)
		return buf;
	while (*p && w < width) {
		if (*p < 0x80) {
			n = 1;
		} else {
			/* Keep a UTF-8 sequence whole: its continuation
			 * bytes are 10xxxxxx. */
			for (n = 1; n < 4 && (p[n] & 0xc0) == 0x80; n++)
				;
		}
		if (o + n >= len)
			break;
		if (*p < 0x20 || *p == 0x7f)
			buf[o] = '?';
		else
			memcpy(buf + o, p, n);
		o += *p < 0x20 || *p == 0x7f ? 1 : n;
		p += n;
		w++;
	}
	if (*p && o > 0) {
		/* Cut: the last column says so. */
		while (o > 0 && ((unsigned char)buf[o - 1] & 0xc0) == 0x80)
			o--;
		buf[o - 1] = '~';
	}
	buf[o] = '\0';
	return buf;
}

static char *fmt_rate(char *buf, size_t len, double r)
{
	if (r < 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.1f", r);
	return buf;
}

static char *fmt_age(char *buf, size_t len, int64_t ms)
{
	if (ms < 0)
		ms = 0;
	if (ms < 60000)
		snprintf(buf, len, "%.1fs", (double)ms / 1000);
	else
		top_fmt_duration(buf, len, ms);
	return buf;
}

/* Seconds as "45s", "12m05s", "3h07m", "2d04h". */
static char *fmt_secs(char *buf, size_t len, int64_t s)
{
	if (s < 0)
		s = 0;
	if (s < 60)
		snprintf(buf, len, "%ds", (int)s);
	else if (s < 3600)
		snprintf(buf, len, "%dm%02ds", (int)(s / 60), (int)(s % 60));
	else if (s < 86400)
		snprintf(buf, len, "%dh%02dm", (int)(s / 3600),
			 (int)(s / 60 % 60));
	else
		snprintf(buf, len, "%dd%02dh", (int)(s / 86400),
			 (int)(s / 3600 % 24));
	return buf;
}

int64_t top_fleet_lag_s(const struct top_snap *s)
{
	const struct shm_header_snap *h = &s->h;

	if (h->fleet == SHM_FLEET_OFF || h->fleet_unshipped < 0)
		return -1;
	if (h->fleet_unshipped == 0 || h->fleet_oldest_ms <= 0 ||
	    s->now_ms < h->fleet_oldest_ms)
		return 0;
	return (s->now_ms - h->fleet_oldest_ms) / 1000;
}

const char *top_fleet_state(const struct top_snap *s)
{
	switch (s->h.fleet) {
	case SHM_FLEET_OFF:
		return NULL;
	case SHM_FLEET_SHIPPING:
		return "shipping";
	case SHM_FLEET_FAILING:
		return "failing";
	case SHM_FLEET_STOPPED:
		return "stopped";
	}
	return "unknown"; /* a newer writer's */
}

/* The ship line into LINE: how far shipping to the fleet is behind. */
static void ship_line(const struct top_snap *s, char *line, size_t len)
{
	const struct shm_header_snap *h = &s->h;
	const char *how = "";
	char lag[64], t[32];

	if (h->fleet_unshipped < 0)
		snprintf(lag, sizeof(lag), "not counted yet");
	else if (h->fleet_unshipped == 0)
		snprintf(lag, sizeof(lag), "up to date");
	else
		snprintf(lag, sizeof(lag), "%" PRId64 " row%s, %s behind",
			 h->fleet_unshipped, h->fleet_unshipped == 1 ? "" : "s",
			 fmt_secs(t, sizeof(t), top_fleet_lag_s(s)));
	if (h->fleet == SHM_FLEET_FAILING)
		how = "; NATS failing, retrying";
	else if (h->fleet == SHM_FLEET_STOPPED)
		how = "; stopped (the supervisor's log says why)";
	else if (h->fleet != SHM_FLEET_SHIPPING)
		how = "; state unknown";
	snprintf(line, len, "ship: %s%s", lag, how);
}

int top_header(const struct top_snap *s, char lines[][256], int width,
	       int *banner)
{
	const struct shm_header_snap *h = &s->h;
	char line[512], a[32], b[32], c[32], d[32], e[32], f[64], g[32];
	int n = 0;

	if (width > 255)
		width = 255;
	snprintf(line, sizeof(line),
		 "execution %s (#%" PRId64 ") %s, phase %s, iteration %d, "
		 "up %s",
		 h->execution[0] ? h->execution : "-", h->execution_id,
		 h->status[0] ? h->status : "-", h->phase[0] ? h->phase : "-",
		 (int)h->iteration,
		 top_fmt_duration(a, sizeof(a),
				  h->started_ms ? s->now_ms - h->started_ms
						: -1));
	top_fit(lines[n++], 256, line, width);
	snprintf(line, sizeof(line),
		 "agents %zu: %u running, %u done, %u failed, %u restarting, "
		 "%zu other",
		 s->nagents, s->running, s->done, s->failed, s->restarting,
		 s->nagents - s->running - s->done - s->failed -
			 s->restarting);
	top_fit(lines[n++], 256, line, width);
	/* The cost of the agents that reported one; "-" if none did. Out
	 * includes the reasoning tokens, said when there are any. */
	f[0] = '\0';
	if (h->reasoning > 0)
		snprintf(f, sizeof(f), " (%s reasoning)",
			 top_fmt_tokens(g, sizeof(g), h->reasoning));
	snprintf(line, sizeof(line),
		 "cost %s, tokens in %s, out %s%s, cache read %s, cache "
		 "written %s",
		 top_fmt_cost_known(a, sizeof(a), h->cost_micro_usd,
				    top_total_cost_known(s)),
		 top_fmt_tokens(b, sizeof(b), h->tokens_in),
		 top_fmt_tokens(c, sizeof(c), h->tokens_out), f,
		 top_fmt_tokens(d, sizeof(d), h->cache_read),
		 top_fmt_tokens(e, sizeof(e), h->cache_write));
	top_fit(lines[n++], 256, line, width);
	snprintf(line, sizeof(line),
		 "messages %" PRIu64 " (%s/s), commits %" PRIu64
		 " (%s/s), rejected %" PRIu64 ", restarts %" PRIu64
		 ", last commit %" PRIu64 "us",
		 h->messages, fmt_rate(a, sizeof(a), s->msg_rate), h->commits,
		 fmt_rate(b, sizeof(b), s->commit_rate), h->rejected,
		 h->restarts, h->last_commit_us);
	top_fit(lines[n++], 256, line, width);
	snprintf(line, sizeof(line),
		 "wal %s, keys %u/%u (%" PRIu64 " not mirrored), "
		 "heartbeat %s ago, supervisor pid %d",
		 top_fmt_bytes(a, sizeof(a), s->wal_bytes), h->keys_used,
		 h->key_capacity, h->keys_overflow,
		 fmt_age(b, sizeof(b), s->now_ms - h->heartbeat_ms),
		 (int)h->writer_pid);
	top_fit(lines[n++], 256, line, width);
	/* Shipping to a fleet: nothing when it is off. */
	if (h->fleet != SHM_FLEET_OFF) {
		ship_line(s, line, sizeof(line));
		top_fit(lines[n++], 256, line, width);
	}
	*banner = -1;
	if (!s->alive) {
		snprintf(line, sizeof(line),
			 "SUPERVISOR NOT RUNNING (pid %d, last heartbeat %s "
			 "ago): its last published values",
			 (int)h->writer_pid,
			 fmt_age(c, sizeof(c), s->now_ms - h->heartbeat_ms));
		*banner = n;
		top_fit(lines[n++], 256, line, width);
	}
	return n;
}
