/*
 * top.c - the `smithers-top` program: options, snapshots of a running
 * supervisor's shared-memory segment (shm/shm.h), and the two outputs for
 * programs: batch text (-b, like top -b) and one JSON object (--json). The
 * curses screen is top-ui.c.
 *
 * Everything live comes from the segment and from /proc, never from the
 * database: reading the segment takes no lock and makes no system call,
 * so watching a supervisor costs it nothing. A segment whose writer is
 * gone still holds its last values: they are shown, under a
 * "SUPERVISOR NOT RUNNING" banner.
 *
 * Exit status: 0, 1 no segment or an unreadable one (the reader's
 * message), 2 usage.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/units.h"
#include "tools/cli.h"
#include "tools/output.h"
#include "tools/top.h"

#define PROG "smithers-top"
/* The heartbeat is written at least every 500 ms: four missed is dead. */
#define ALIVE_MS 2000
#define DELAY_MIN_MS 100
#define DELAY_MAX_MS 3600000

const char *const top_col_names[COL_COUNT] = {
	[COL_AGENT] = "AGENT",	   [COL_PHASE] = "PHASE",
	[COL_STATUS] = "STATUS",   [COL_PID] = "PID",
	[COL_CPU] = "CPU%",	   [COL_RSS] = "RSS",
	[COL_RESTARTS] = "RESTARTS", [COL_TOOLS] = "TOOLS",
	[COL_TOKENS] = "TOKENS",   [COL_LAST] = "LAST",
	[COL_AGE] = "AGE",
};

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
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

void top_sample(struct top *t, int keys)
{
	struct top_snap *s = &t->snap;
	struct shm_agent a;
	struct stat st;
	double now, secs;
	uint32_t i, cap;
	size_t used;

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
		ta->cpu = -1;
		ta->rss = -1;
		if (status_has_process(ta->a.status))
			top_procs_sample(t->procs, ta->a.pid, &ta->cpu,
					 &ta->rss);
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
		qsort_r(s->keys, s->nkeys, sizeof(*s->keys), key_cmp, s);
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

struct sort_by {
	enum top_col col;
	int reverse;
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
	case COL_PID:
		c = CMP(x->a.pid, y->a.pid);
		break;
	case COL_CPU:
		c = CMP(x->cpu, y->cpu);
		break;
	case COL_RSS:
		c = CMP(x->rss, y->rss);
		break;
	case COL_RESTARTS:
		c = CMP(x->a.restarts, y->a.restarts);
		break;
	case COL_TOOLS:
		c = CMP(x->a.tool_calls, y->a.tool_calls);
		break;
	case COL_TOKENS:
		c = CMP(x->a.tokens_in + x->a.tokens_out,
			y->a.tokens_in + y->a.tokens_out);
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
	struct sort_by by = {col, reverse};

	qsort_r(s->agents, s->nagents, sizeof(*s->agents), agent_cmp, &by);
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

int top_header(const struct top_snap *s, char lines[][256], int width,
	       int *banner)
{
	const struct shm_header_snap *h = &s->h;
	char line[512], a[32], b[32], c[32];
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

/* ---- batch text ------------------------------------------------------------- */

static void print_batch(const struct top *t, FILE *fp)
{
	const struct top_snap *s = &t->snap;
	char lines[5][256], name[256], phase[256], last[256];
	char cpu[16], rss[16], tools[16], tok[16], age[16];
	int n, i, banner, wname = 5, wphase = 5;
	size_t j;

	n = top_header(s, lines, 255, &banner);
	for (i = 0; i < n; i++)
		fprintf(fp, "%s\n", lines[i]);
	fputc('\n', fp);
	/* Widths from the data: batch output is for reading and grepping,
	 * not for a screen. */
	for (j = 0; j < s->nagents; j++) {
		int l = (int)strlen(top_fit(name, sizeof(name),
					    s->agents[j].a.name, 64));
		if (l > wname)
			wname = l;
		l = (int)strlen(top_fit(phase, sizeof(phase),
					s->agents[j].a.phase, 64));
		if (l > wphase)
			wphase = l;
	}
	fprintf(fp, "%-*s %-*s %-10s %7s %6s %7s %8s %6s %8s %8s %s\n", wname,
		"AGENT", wphase, "PHASE", "STATUS", "PID", "CPU%", "RSS",
		"RESTARTS", "TOOLS", "TOKENS", "AGE", "LAST");
	for (j = 0; j < s->nagents; j++) {
		const struct top_agent *ta = &s->agents[j];
		char pid[16];

		if (ta->cpu < 0)
			snprintf(cpu, sizeof(cpu), "-");
		else
			snprintf(cpu, sizeof(cpu), "%.1f", ta->cpu);
		if (ta->a.pid > 0)
			snprintf(pid, sizeof(pid), "%d", (int)ta->a.pid);
		else
			snprintf(pid, sizeof(pid), "-");
		top_fit(last, sizeof(last), top_agent_last(&ta->a), 64);
		fprintf(fp, "%-*s %-*s %-10s %7s %6s %7s %8d %6s %8s %8s %s\n",
			wname, top_fit(name, sizeof(name), ta->a.name, 64),
			wphase, top_fit(phase, sizeof(phase), ta->a.phase, 64),
			ta->a.status, pid, cpu,
			top_fmt_bytes(rss, sizeof(rss), ta->rss),
			(int)ta->a.restarts,
			top_fmt_count(tools, sizeof(tools), ta->a.tool_calls),
			top_fmt_count(tok, sizeof(tok),
				      ta->a.tokens_in + ta->a.tokens_out),
			top_fmt_duration(age, sizeof(age),
					 ta->a.started_ms
						 ? s->now_ms - ta->a.started_ms
						 : -1),
			last[0] ? last : "-");
	}
}

/* ---- JSON -------------------------------------------------------------------- */

static void json_member(FILE *fp, const char *name, const char *value,
			int comma)
{
	fprintf(fp, "%s\"%s\":", comma ? "," : "", name);
	out_json_string(fp, value);
}

static void json_double(FILE *fp, const char *name, double v)
{
	if (v < 0 || !isfinite(v))
		fprintf(fp, ",\"%s\":null", name);
	else
		fprintf(fp, ",\"%s\":%.2f", name, v);
}

static void print_json(const struct top *t, FILE *fp)
{
	const struct top_snap *s = &t->snap;
	const struct shm_header_snap *h = &s->h;
	size_t i;
	int first;

	fprintf(fp, "{\"version\":\"%u.%u\"", h->major, h->minor);
	fprintf(fp, ",\"alive\":%s", s->alive ? "true" : "false");
	fprintf(fp, ",\"writer_pid\":%d", (int)h->writer_pid);
	fprintf(fp, ",\"now_ms\":%" PRId64, s->now_ms);
	fprintf(fp, ",\"started_ms\":%" PRId64, h->started_ms);
	fprintf(fp, ",\"heartbeat_ms\":%" PRId64, h->heartbeat_ms);
	fprintf(fp, ",\"heartbeat_age_ms\":%" PRId64,
		s->now_ms - h->heartbeat_ms);
	fprintf(fp, ",\"uptime_ms\":%" PRId64,
		h->started_ms ? s->now_ms - h->started_ms : 0);
	fprintf(fp, ",\"generation\":%" PRIu64, h->generation);
	fprintf(fp, ",\"execution_id\":%" PRId64, h->execution_id);
	json_member(fp, "execution", h->execution, 1);
	json_member(fp, "status", h->status, 1);
	json_member(fp, "phase", h->phase, 1);
	fprintf(fp, ",\"iteration\":%d", (int)h->iteration);
	fprintf(fp,
		",\"agent_capacity\":%u,\"agents_used\":%u"
		",\"key_capacity\":%u,\"keys_used\":%u"
		",\"keys_overflow\":%" PRIu64,
		h->agent_capacity, h->agents_used, h->key_capacity,
		h->keys_used, h->keys_overflow);
	fprintf(fp,
		",\"counters\":{\"messages\":%" PRIu64 ",\"commits\":%" PRIu64
		",\"bytes\":%" PRIu64 ",\"rejected\":%" PRIu64
		",\"restarts\":%" PRIu64 ",\"last_commit_us\":%" PRIu64 "}",
		h->messages, h->commits, h->bytes, h->rejected, h->restarts,
		h->last_commit_us);
	json_double(fp, "messages_per_s", s->msg_rate);
	json_double(fp, "commits_per_s", s->commit_rate);
	if (s->wal_bytes < 0)
		fputs(",\"wal_bytes\":null", fp);
	else
		fprintf(fp, ",\"wal_bytes\":%lld", s->wal_bytes);
	fprintf(fp,
		",\"agent_counts\":{\"total\":%zu,\"running\":%u,\"done\":%u"
		",\"failed\":%u,\"restarting\":%u}",
		s->nagents, s->running, s->done, s->failed, s->restarting);

	fputs(",\"agents\":[", fp);
	for (i = 0; i < s->nagents; i++) {
		const struct shm_agent *a = &s->agents[i].a;

		fprintf(fp, "%s{\"id\":%" PRId64, i ? "," : "", a->id);
		json_member(fp, "name", a->name, 1);
		json_member(fp, "phase", a->phase, 1);
		json_member(fp, "status", a->status, 1);
		fprintf(fp,
			",\"pid\":%d,\"attempt\":%d,\"restarts\":%d"
			",\"iteration\":%d,\"tool_calls\":%" PRId64
			",\"tokens_in\":%" PRId64 ",\"tokens_out\":%" PRId64,
			(int)a->pid, (int)a->attempt, (int)a->restarts,
			(int)a->iteration, a->tool_calls, a->tokens_in,
			a->tokens_out);
		json_member(fp, "last_tool", a->last_tool, 1);
		json_member(fp, "last_key", a->last_key, 1);
		fprintf(fp,
			",\"started_ms\":%" PRId64 ",\"updated_ms\":%" PRId64,
			a->started_ms, a->updated_ms);
		if (a->started_ms)
			fprintf(fp, ",\"age_ms\":%" PRId64,
				s->now_ms - a->started_ms);
		else
			fputs(",\"age_ms\":null", fp);
		json_double(fp, "cpu", s->agents[i].cpu);
		if (s->agents[i].rss < 0)
			fputs(",\"rss\":null}", fp);
		else
			fprintf(fp, ",\"rss\":%lld}", s->agents[i].rss);
	}
	fputs("]", fp);

	/* A value is JSON text, embedded as it is; one the mirror cut (or
	 * that is not JSON) is null here, and named in keys_truncated. */
	fputs(",\"keys\":{", fp);
	for (i = 0; i < s->nkeys; i++) {
		const struct top_key *k = &s->keys[i];
		const char *v = top_key_value(s, k);

		if (i)
			fputc(',', fp);
		out_json_string(fp, top_key_name(s, k));
		fputc(':', fp);
		if (!k->truncated && strlen(v) == k->len && out_json_valid(v))
			fputs(v, fp);
		else
			fputs("null", fp);
	}
	fputs("},\"keys_truncated\":[", fp);
	for (i = 0, first = 1; i < s->nkeys; i++) {
		const struct top_key *k = &s->keys[i];

		if (!k->truncated)
			continue;
		if (!first)
			fputc(',', fp);
		first = 0;
		out_json_string(fp, top_key_name(s, k));
	}
	fputs("]}\n", fp);
}

/* ---- main ----------------------------------------------------------------- */

static void usage(FILE *fp)
{
	fputs("usage: " PROG " [-b] [-n N] [-d SECONDS] [--json] [--dir DIR]\n"
	      "\n"
	      "Watch a running smithers supervisor: its execution, counters\n"
	      "and agents, from the shared memory segment it publishes (never\n"
	      "from the database).\n"
	      "\n"
	      "Options:\n"
	      "  -d, --delay SECONDS   time between refreshes (default 1,\n"
	      "                        at least 0.1)\n"
	      "  -b, --batch           plain text, one snapshot per\n"
	      "                        iteration, for a pipe or a file\n"
	      "  -n, --iterations N    snapshots in batch mode (default 1)\n"
	      "  --json                one snapshot as a JSON object\n"
	      "  --dir DIR             the directory holding .smithers\n"
	      "                        (default: $SMITHERS_DIR or .)\n"
	      "  -h, --help            show this help\n"
	      "  -V, --version         show the version\n"
	      "\n"
	      "Keys: q quit, ? help, < > sort column, I invert, / filter,\n"
	      "Z pause, + - delay, k signal an agent, K or Tab keys pane.\n",
	      fp);
}

static int bad_usage(const char *fmt, const char *arg)
{
	fprintf(stderr, PROG ": ");
	fprintf(stderr, fmt, arg);
	fputs("\nrun '" PROG " --help' for help\n", stderr);
	return EXIT_USAGE;
}

/* -d: a duration (common/units.h; a bare number is seconds), 0.1 s to an
 * hour. */
static int parse_delay(const char *s, int *ms)
{
	int64_t v;

	if (cm_parse_duration(s, &v) < 0 || v < DELAY_MIN_MS ||
	    v > DELAY_MAX_MS)
		return -1;
	*ms = (int)v;
	return 0;
}

enum { O_JSON = 0x100, O_DIR };

static const struct option options[] = {
	{"delay", required_argument, NULL, 'd'},
	{"batch", no_argument, NULL, 'b'},
	{"iterations", required_argument, NULL, 'n'},
	{"json", no_argument, NULL, O_JSON},
	{"dir", required_argument, NULL, O_DIR},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{NULL, 0, NULL, 0},
};

int main(int argc, char **argv)
{
	struct top t = {0};
	struct top_ui_options uo = {.delay_ms = 1000, .sort = COL_AGENT};
	int c, batch = 0, json = 0, rc = EXIT_OK;
	long long iterations = -1;
	char err[256];
	const char *env;

	cmd_prog = PROG;
	out_init_locale();
	env = getenv("SMITHERS_DIR");
	t.dir = env && *env ? env : ".";
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":d:bn:hV", options, NULL)) != -1) {
		switch (c) {
		case 'd':
			if (parse_delay(optarg, &uo.delay_ms) < 0)
				return bad_usage("'-d' needs a delay of 0.1 to "
						 "3600 seconds, not '%s'",
						 optarg);
			break;
		case 'b':
			batch = 1;
			break;
		case 'n':
			if (cmd_parse_int64(optarg, 1, INT32_MAX,
					    &iterations) < 0)
				return bad_usage("'-n' needs a positive number "
						 "of iterations, not '%s'",
						 optarg);
			break;
		case O_JSON:
			json = 1;
			break;
		case O_DIR:
			if (!*optarg)
				return bad_usage("'--dir' needs a directory, "
						 "not '%s'",
						 optarg);
			t.dir = optarg;
			break;
		case 'h':
			usage(stdout);
			return cmd_flush_stdout();
		case 'V':
			puts(PROG " " PACKAGE_VERSION);
			return cmd_flush_stdout();
		case ':':
			return bad_usage("option '%s' needs an argument",
					 argv[optind - 1]);
		default:
			return bad_usage("unknown option '%s'",
					 argv[optind - 1]);
		}
	}
	if (optind < argc)
		return bad_usage("unexpected argument '%s'", argv[optind]);
	if (iterations > 0 && !batch)
		return bad_usage("%s", "'-n' is for batch mode (-b)");
	if (!batch && !json && (!isatty(STDIN_FILENO) ||
				!isatty(STDOUT_FILENO))) {
		fputs(PROG ": not a terminal: use -b (batch) or --json\n",
		      stderr);
		return EXIT_USAGE;
	}

	t.r = shm_reader_open(t.dir, err, sizeof(err));
	if (!t.r) {
		if (errno == ENOENT)
			fprintf(stderr,
				PROG ": no supervisor has run in %s (no shared "
				     "memory segment)\n",
				t.dir);
		else
			fprintf(stderr, PROG ": %s\n", err);
		return EXIT_FAIL;
	}
	t.procs = top_procs_new();
	if (!t.procs) {
		fputs(PROG ": out of memory\n", stderr);
		shm_reader_close(t.r);
		return EXIT_FAIL;
	}
	t.wal_path = cmd_path(t.dir, ".smithers/smithers.db-wal");

	if (json) {
		top_sample(&t, 1);
		top_sort(&t.snap, uo.sort, 0);
		print_json(&t, stdout);
		rc = cmd_flush_stdout();
	} else if (batch) {
		if (iterations < 0)
			iterations = 1;
		for (long long i = 0; i < iterations && rc == EXIT_OK; i++) {
			if (i) {
				fputc('\n', stdout);
				fflush(stdout);
				usleep((useconds_t)uo.delay_ms * 1000);
			}
			top_sample(&t, 0);
			top_sort(&t.snap, uo.sort, 0);
			print_batch(&t, stdout);
			rc = cmd_flush_stdout();
		}
	} else {
		rc = top_ui(&t, &uo);
	}

	free(t.snap.agents);
	free(t.snap.keys);
	free(t.snap.text);
	free(t.wal_path);
	top_procs_free(t.procs);
	shm_reader_close(t.r);
	return rc;
}
