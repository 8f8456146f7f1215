/*
 * top-print.c - smithers-top's two outputs for programs: batch text (-b,
 * like top -b: the header lines, then one row per agent, widths from the
 * data) and one JSON object (--json: every field of the snapshot).
 *
 * Both print a snapshot the sampler (top.c) took; nothing here reads the
 * segment.
 */
#include "config.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tools/output.h"
#include "tools/top.h"

/* ---- batch text ------------------------------------------------------------- */

void top_print_batch(const struct top_snap *s, FILE *fp)
{
	char lines[TOP_HEADER_LINES][256], name[256], phase[256], last[256];
	char cpu[16], mem[16], peak[16], cputime[16], tools[16], age[16];
	char running[256];
	char cost[32], in[16], out[16], cache[16];
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
	/* RUNNING is "TOOL TIME" (two words) or "-". */
	fprintf(fp,
		"%-*s %-*s %-10s %-7s %7s %6s %7s %7s %8s %8s %6s %9s %7s %7s "
		"%7s %8s %-16s %s\n",
		wname, "AGENT", wphase, "PHASE", "STATUS", "KIND", "PID",
		"CPU%", "MEM", "PEAK", "TIME", "RESTARTS", "TOOLS", "COST", "IN", "OUT",
		"CACHE", "AGE", "RUNNING", "LAST");
	for (j = 0; j < s->nagents; j++) {
		const struct top_agent *ta = &s->agents[j];
		char pid[16];

		if (ta->a.pid > 0)
			snprintf(pid, sizeof(pid), "%d", (int)ta->a.pid);
		else
			snprintf(pid, sizeof(pid), "-");
		top_fit(last, sizeof(last), top_agent_last(&ta->a), 64);
		top_fmt_running(running, sizeof(running), &ta->a, s->now_ms,
				64);
		fprintf(fp,
			"%-*s %-*s %-10s %-7s %7s %6s %7s %7s %8s %8d %6s %9s "
			"%7s %7s %7s %8s %-16s %s\n",
			wname, top_fit(name, sizeof(name), ta->a.name, 64),
			wphase, top_fit(phase, sizeof(phase), ta->a.phase, 64),
			ta->a.status, top_agent_kind(&ta->a), pid,
			top_fmt_cpu(cpu, sizeof(cpu), ta->cpu),
			top_fmt_bytes(mem, sizeof(mem), ta->mem),
			top_fmt_bytes(peak, sizeof(peak), ta->peak),
			top_fmt_cpu_time(cputime, sizeof(cputime), ta->cpu_usec),
			(int)ta->a.restarts,
			top_fmt_count(tools, sizeof(tools), ta->a.tool_calls),
			top_fmt_cost_known(cost, sizeof(cost),
					   ta->a.cost_micro_usd,
					   top_cost_known(s, &ta->a)),
			top_fmt_tokens(in, sizeof(in), ta->a.tokens_in),
			top_fmt_tokens(out, sizeof(out), ta->a.tokens_out),
			top_fmt_tokens(cache, sizeof(cache),
				       ta->a.cache_read + ta->a.cache_write),
			top_fmt_duration(age, sizeof(age),
					 ta->a.started_ms
						 ? s->now_ms - ta->a.started_ms
						 : -1),
			running[0] ? running : "-", last[0] ? last : "-");
	}
}

/* ---- JSON -------------------------------------------------------------------- */

static void json_member(FILE *fp, const char *name, const char *value,
			int comma)
{
	fprintf(fp, "%s\"%s\":", comma ? "," : "", name);
	out_json_string(fp, value);
}

/* Millionths of a dollar as a JSON number of dollars, exactly. */
static void json_usd(FILE *fp, const char *name, int64_t micro)
{
	uint64_t m = micro < 0 ? -(uint64_t)micro : (uint64_t)micro;

	fprintf(fp, ",\"%s\":%s%" PRIu64 ".%06" PRIu64, name,
		micro < 0 ? "-" : "", m / 1000000, m % 1000000);
}

/* The same, or null when the cost is not KNOWN. */
static void json_cost(FILE *fp, const char *name, int64_t micro, int known)
{
	if (known)
		json_usd(fp, name, micro);
	else
		fprintf(fp, ",\"%s\":null", name);
}

static void json_double(FILE *fp, const char *name, double v)
{
	if (v < 0 || !isfinite(v))
		fprintf(fp, ",\"%s\":null", name);
	else
		fprintf(fp, ",\"%s\":%.2f", name, v);
}

/* A count or size, null when unknown (< 0). */
static void json_int(FILE *fp, const char *name, long long v)
{
	if (v < 0)
		fprintf(fp, ",\"%s\":null", name);
	else
		fprintf(fp, ",\"%s\":%lld", name, v);
}

/* Shipping to a fleet: null when off; the rows not shipped and how many
 * seconds behind (0: up to date), each null until counted. */
static void json_fleet(FILE *fp, const struct top_snap *s)
{
	const struct shm_header_snap *h = &s->h;
	const char *state = top_fleet_state(s);

	if (!state) {
		fputs(",\"fleet\":null", fp);
		return;
	}
	fprintf(fp, ",\"fleet\":{\"state\":\"%s\"", state);
	json_int(fp, "unshipped", h->fleet_unshipped);
	json_int(fp, "lag_s", top_fleet_lag_s(s));
	json_int(fp, "oldest_ms",
		 h->fleet_unshipped > 0 && h->fleet_oldest_ms > 0
			 ? h->fleet_oldest_ms
			 : -1);
	fputc('}', fp);
}

/* One agent of the --json output; COMMA: one came before. */
static void json_agent(FILE *fp, const struct top_snap *s,
		       const struct top_agent *sa, int comma)
{
	const struct shm_agent *a = &sa->a;

	fprintf(fp, "%s{\"id\":%" PRId64, comma ? "," : "", a->id);
	json_member(fp, "name", a->name, 1);
	json_member(fp, "phase", a->phase, 1);
	json_member(fp, "status", a->status, 1);
	if (a->kind[0])
		json_member(fp, "kind", a->kind, 1);
	else
		fputs(",\"kind\":null", fp);
	fprintf(fp,
		",\"pid\":%d,\"attempt\":%d,\"restarts\":%d"
		",\"iteration\":%d,\"tool_calls\":%" PRId64
		",\"tokens_in\":%" PRId64 ",\"tokens_out\":%" PRId64,
		(int)a->pid, (int)a->attempt, (int)a->restarts,
		(int)a->iteration, a->tool_calls, a->tokens_in,
		a->tokens_out);
	fprintf(fp,
		",\"reasoning_tokens\":%" PRId64 ",\"cache_read\":%" PRId64
		",\"cache_write\":%" PRId64,
		a->reasoning, a->cache_read, a->cache_write);
	json_cost(fp, "cost_usd", a->cost_micro_usd, top_cost_known(s, a));
	json_member(fp, "last_tool", a->last_tool, 1);
	json_member(fp, "last_key", a->last_key, 1);
	/* The call started last among those running, if any. */
	fprintf(fp, ",\"running_calls\":%d", (int)a->running_calls);
	if (a->running_tool[0]) {
		json_member(fp, "running_tool", a->running_tool, 1);
		fprintf(fp,
			",\"running_since_ms\":%" PRId64
			",\"running_ms\":%" PRId64,
			a->running_since_ms,
			s->now_ms - a->running_since_ms);
	} else {
		fputs(",\"running_tool\":null,\"running_since_ms\":null"
		      ",\"running_ms\":null",
		      fp);
	}
	fprintf(fp,
		",\"started_ms\":%" PRId64 ",\"updated_ms\":%" PRId64,
		a->started_ms, a->updated_ms);
	if (a->started_ms)
		fprintf(fp, ",\"age_ms\":%" PRId64,
			s->now_ms - a->started_ms);
	else
		fputs(",\"age_ms\":null", fp);
	json_double(fp, "cpu", sa->cpu);
	json_int(fp, "mem", sa->mem);
	fprintf(fp, ",\"tree\":%s", sa->tree ? "true" : "false");
	json_int(fp, "mem_bytes", sa->tree ? sa->mem : -1);
	json_int(fp, "mem_peak", sa->peak);
	json_int(fp, "cpu_usec", sa->cpu_usec);
	json_int(fp, "nprocs", sa->nprocs);
	json_int(fp, "rss", sa->rss);
	fputc('}', fp);
}

void top_print_json(const struct top_snap *s, FILE *fp)
{
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
	fputs(",\"counters\":{", fp);
#define COUNTER(name, meaning) \
	fprintf(fp, "\"%s\":%" PRIu64 ",", #name, h->name);
	SHM_COUNTERS(COUNTER)
#undef COUNTER
	fprintf(fp, "\"last_commit_us\":%" PRIu64 "}", h->last_commit_us);
	fprintf(fp,
		",\"usage\":{\"tokens_in\":%" PRId64 ",\"tokens_out\":%" PRId64
		",\"reasoning_tokens\":%" PRId64 ",\"cache_read\":%" PRId64
		",\"cache_write\":%" PRId64,
		h->tokens_in, h->tokens_out, h->reasoning, h->cache_read,
		h->cache_write);
	json_cost(fp, "cost_usd", h->cost_micro_usd, top_total_cost_known(s));
	fputc('}', fp);
	json_double(fp, "messages_per_s", s->msg_rate);
	json_double(fp, "commits_per_s", s->commit_rate);
	if (s->wal_bytes < 0)
		fputs(",\"wal_bytes\":null", fp);
	else
		fprintf(fp, ",\"wal_bytes\":%lld", s->wal_bytes);
	json_fleet(fp, s);
	fprintf(fp,
		",\"agent_counts\":{\"total\":%zu,\"running\":%u,\"done\":%u"
		",\"failed\":%u,\"restarting\":%u}",
		s->nagents, s->running, s->done, s->failed, s->restarting);

	fputs(",\"agents\":[", fp);
	for (i = 0; i < s->nagents; i++)
		json_agent(fp, s, &s->agents[i], i > 0);
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
