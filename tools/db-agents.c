/*
 * db-agents.c - the `smithers db` subcommands about what agents did: agents
 * (with their CLI sessions, usage and cost) and tool calls (as a tree: a
 * call under the call it ran inside), and how text shows usage.
 *
 * Text shows a cost (any column named *cost_usd) with four decimals, an
 * unknown one (a NULL cost_usd: no agent reported one) as "-", as it
 * does an unknown peak memory or CPU time (mem_peak, cpu_usec: the agent
 * ran in no cgroup) and an unrecorded containment, and a
 * session id by its first SESSION_SHORT characters; JSON has every column
 * as the store holds it (an unknown cost is null). A tool-call tree is drawn in text only: JSON is
 * the flat list, each call naming its parent_id.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/db.h"
#include "tools/output.h"
#include "wal/wal.h"

/* Characters of a session id that text shows (a UUID's first group). */
#define SESSION_SHORT 8
/* Room for one shown value: "%.4f" of any double, or a short session. */
#define SHOWN_LEN 512
/* Columns of indentation per level of a tool-call tree. */
#define TREE_INDENT 2

static const char *const agent_cols[] = {"id",
					 "name",
					 "kind",
					 "status",
					 "attempt",
					 "session_id",
					 "turns",
					 "tokens_in",
					 "tokens_out",
					 "reasoning_tokens",
					 "cache_read_tokens",
					 "cache_write_tokens",
					 "cost_usd",
					 "mem_peak",
					 "cpu_usec",
					 "tool_call_count",
					 "error",
					 NULL};
static const char *const tool_cols[] = {
	"id",	       "agent",		"tool_name",   "status", "input",
	"output_size", "output_inline", "output_path", "error",	 NULL};

/* ---- usage as text ------------------------------------------------------ */

/* Columns whose NULL says "unknown" (or "not recorded"): text shows "-". */
static int null_is_unknown(const char *name)
{
	return !strcmp(name, "cost_usd") || !strcmp(name, "mem_peak") ||
	       !strcmp(name, "cpu_usec") || !strcmp(name, "containment");
}

static int ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), m = strlen(tail);

	return n >= m && !strcmp(s + n - m, tail);
}

/* A row with its values rewritten for text (db_text_row). */
struct shown {
	struct wal_row row;
	const char **names, **values;
	enum wal_type *types;
	char (*bufs)[SHOWN_LEN];
};

/* ROW as text shows it, in S (free it with shown_release()); DROP_UNSET
 * leaves out an unset budget (a NULL max_cost_usd). */
static void shown_init(struct shown *s, const struct wal_row *row,
		       int drop_unset)
{
	size_t n = (size_t)row->ncols + 1;
	int i, k = 0;

	s->names = xmalloc(n * sizeof(*s->names));
	s->values = xmalloc(n * sizeof(*s->values));
	s->types = xmalloc(n * sizeof(*s->types));
	s->bufs = xmalloc(n * sizeof(*s->bufs));
	for (i = 0; i < row->ncols; i++) {
		const char *name = row->names[i] ? row->names[i] : "";
		const char *v = row->values[i];

		if (drop_unset && !v && !strcmp(name, "max_cost_usd"))
			continue;
		s->names[k] = row->names[i];
		s->types[k] = row->types[i];
		s->values[k] = v;
		if (!v && null_is_unknown(name)) {
			/* A value not known: a number aligned as the others. */
			s->values[k] = "-";
			s->types[k] = strcmp(name, "containment") ? WAL_REAL
								  : WAL_TEXT;
		} else if (v && ends_with(name, "cost_usd")) {
			snprintf(s->bufs[k], SHOWN_LEN, "%.4f",
				 strtod(v, NULL));
			s->values[k] = s->bufs[k];
		} else if (v && !strcmp(name, "session_id") &&
			   strlen(v) > SESSION_SHORT) {
			snprintf(s->bufs[k], SHOWN_LEN, "%.*s", SESSION_SHORT,
				 v);
			s->values[k] = s->bufs[k];
		}
		k++;
	}
	s->row.ncols = k;
	s->row.names = s->names;
	s->row.values = s->values;
	s->row.types = s->types;
}

static void shown_release(struct shown *s)
{
	free(s->names);
	free(s->values);
	free(s->types);
	free(s->bufs);
}

int db_text_row(const struct wal_row *row, void *arg)
{
	struct db_run *r = arg;
	struct shown s;
	int rc;

	if (r->ctx->json)
		return out_row(row, r->out);
	shown_init(&s, row, 0);
	rc = out_row(&s.row, r->out);
	shown_release(&s);
	return rc;
}

void db_text_object(struct db_run *r, const struct wal_row *row)
{
	struct shown s;

	if (r->ctx->json) {
		out_object_begin(r->out, row);
		return;
	}
	shown_init(&s, row, 1);
	out_object_begin(r->out, &s.row);
	shown_release(&s);
}

/* ---- agents ---------------------------------------------------------- */

static int newest_id(const struct wal_row *row, void *arg)
{
	const char *v = wal_row_value(row, "id");

	*(long long *)arg = v ? strtoll(v, NULL, 10) : 0;
	return 1;
}

static int db_agents(struct db_run *r)
{
	long long id = 0;
	int rc;

	if (r->nargs == 1) {
		if (cmd_parse_int64(r->args[0], 1, INT64_MAX, &id) < 0) {
			fprintf(stderr,
				"smithers: '%s' is not an execution id (a "
				"number from 1)\n",
				r->args[0]);
			return EXIT_USAGE;
		}
		rc = wal_execution_get(r->w, id, NULL, NULL);
		if (rc < 0 && errno == ENOENT) {
			fprintf(stderr, "smithers: no execution %lld\n", id);
			return EXIT_FAIL;
		}
		if (rc < 0)
			return db_fail(r, "executions");
	} else if (wal_execution_list(r->w, 1, newest_id, &id) < 0) {
		return db_fail(r, "executions");
	}
	out_list_begin(r->out, NULL, agent_cols);
	/* No execution at all: the empty list (0 would list every agent). */
	rc = id > 0 ? wal_agent_list(r->w, id, db_text_row, r) : 0;
	if (rc < 0)
		return db_fail(r, "agents");
	out_list_end(r->out);
	return EXIT_OK;
}

const struct db_sub db_sub_agents = {
	"agents", "[EXECUTION_ID]", "the agents of an execution",
	"List the agents of execution EXECUTION_ID (default: the newest\n"
	"execution), in start order: kind (command, claude for a Claude\n"
	"Code agent, codex for a Codex one), status, attempt, the CLI's\n"
	"session id (its first 8 characters; --json has it whole), turns,\n"
	"tokens in and out, reasoning tokens (a part of tokens out), cache\n"
	"tokens read and written, cost in US dollars ('-' when unknown: the\n"
	"agent reported none; null in --json), the peak memory of its\n"
	"process tree in bytes and its CPU time in microseconds, over its\n"
	"attempts ('-', null, when it ran in no cgroup), tool calls and the last\n"
	"error. --json has every column: model, prompts, CLI version and\n"
	"tools, resume_prompt and resumes, results, processes, times.\n"
	"Exit status 1 if there is no such execution.",
	0, 0, 1, DB_READ, db_agents,
};

/* ---- tool calls as a tree ------------------------------------------------ */

/* One tool call, copied from its row for drawing the tree. */
struct call {
	int64_t id, parent;
	char **values;
	enum wal_type *types;
	size_t first_child, next_sibling; /* indexes + 1; 0: none */
	size_t last_child;
};

struct calls {
	struct db_run *r;
	int ncols;
	const char **names;
	struct call *v;
	size_t n, cap;
};

static int64_t id_value(const char *v)
{
	return v ? strtoll(v, NULL, 10) : 0;
}

/* A wal_row_fn keeping each row in the struct calls ARG. */
static int keep_call(const struct wal_row *row, void *arg)
{
	struct calls *c = arg;
	struct call *k;
	int i;

	if (!c->names) {
		c->ncols = row->ncols;
		c->names = xmalloc(sizeof(char *) * ((size_t)row->ncols + 1));
		for (i = 0; i < row->ncols; i++)
			c->names[i] =
				xstrdup(row->names[i] ? row->names[i] : "");
	}
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 64;
		c->v = xrealloc(c->v, c->cap * sizeof(*c->v));
	}
	k = &c->v[c->n++];
	memset(k, 0, sizeof(*k));
	k->id = id_value(wal_row_value(row, "id"));
	k->parent = id_value(wal_row_value(row, "parent_id"));
	k->values = xmalloc(sizeof(char *) * ((size_t)row->ncols + 1));
	k->types = xmalloc(sizeof(*k->types) * ((size_t)row->ncols + 1));
	for (i = 0; i < row->ncols; i++) {
		k->values[i] = row->values[i] ? xstrdup(row->values[i]) : NULL;
		k->types[i] = row->types[i];
	}
	return 0;
}

static void calls_release(struct calls *c)
{
	size_t i;
	int k;

	for (i = 0; i < c->n; i++) {
		for (k = 0; k < c->ncols; k++)
			free(c->v[i].values[k]);
		free(c->v[i].values);
		free(c->v[i].types);
	}
	for (k = 0; k < c->ncols; k++)
		free((char *)c->names[k]);
	free(c->names);
	free(c->v);
}

static int by_id(const void *a, const void *b)
{
	const struct call *const *x = a, *const *y = b;

	return ((*x)->id > (*y)->id) - ((*x)->id < (*y)->id);
}

/* Print call I of C at DEPTH: its tool name indented. */
static int put_call(struct calls *c, size_t i, size_t depth)
{
	struct wal_row row = {c->ncols, c->names, NULL, c->v[i].types};
	const char **values = xmalloc(sizeof(char *) * ((size_t)c->ncols + 1));
	char *name = NULL;
	int k, rc;

	for (k = 0; k < c->ncols; k++) {
		values[k] = c->v[i].values[k];
		if (depth && values[k] && !strcmp(c->names[k], "tool_name")) {
			size_t pad = depth * TREE_INDENT;

			name = xmalloc(pad + strlen(values[k]) + 1);
			memset(name, ' ', pad);
			strcpy(name + pad, values[k]);
			values[k] = name;
		}
	}
	row.values = values;
	rc = db_text_row(&row, c->r);
	free(name);
	free(values);
	return rc;
}

/*
 * Print the calls of C as a tree: each call after its parent, one level
 * deeper; siblings, and the roots, in the order listed. A call whose parent
 * is not listed (cut by -n or --agent) is a root.
 */
static int put_tree(struct calls *c)
{
	struct call **sorted = xmalloc(sizeof(*sorted) * (c->n + 1));
	size_t *stack = xmalloc(sizeof(*stack) * (c->n + 1));
	size_t *depth = xmalloc(sizeof(*depth) * (c->n + 1));
	size_t i, top = 0, roots = 0, last_root = 0;
	int rc = 0;

	for (i = 0; i < c->n; i++)
		sorted[i] = &c->v[i];
	qsort(sorted, c->n, sizeof(*sorted), by_id);
	/* Link each call to its parent's children, in the order listed. */
	for (i = 0; i < c->n; i++) {
		struct call key = {.id = c->v[i].parent}, *kp = &key, **found;

		found = c->v[i].parent > 0 ? bsearch(&kp, sorted, c->n,
						     sizeof(*sorted), by_id)
					   : NULL;
		if (!found || *found == &c->v[i]) {
			if (last_root)
				c->v[last_root - 1].next_sibling = i + 1;
			else
				roots = i + 1;
			last_root = i + 1;
			continue;
		}
		if ((*found)->last_child)
			c->v[(*found)->last_child - 1].next_sibling = i + 1;
		else
			(*found)->first_child = i + 1;
		(*found)->last_child = i + 1;
	}
	/* Depth first, without recursion: the stack holds what is next at
	 * each level. */
	if (roots) {
		stack[top] = roots;
		depth[top++] = 0;
	}
	while (top && rc == 0) {
		size_t at = stack[--top], d = depth[top];
		struct call *k = &c->v[at - 1];

		rc = put_call(c, at - 1, d);
		if (k->next_sibling) {
			stack[top] = k->next_sibling;
			depth[top++] = d;
		}
		if (k->first_child) {
			stack[top] = k->first_child;
			depth[top++] = d + 1;
		}
	}
	free(sorted);
	free(stack);
	free(depth);
	return rc;
}

static int db_tools(struct db_run *r)
{
	struct calls c;
	int rc;

	out_list_begin(r->out, NULL, tool_cols);
	if (r->ctx->json)
		rc = wal_tool_list(r->w, r->agent, (int)r->limit, out_row,
				   r->out);
	else {
		memset(&c, 0, sizeof(c));
		c.r = r;
		rc = wal_tool_list(r->w, r->agent, (int)r->limit, keep_call,
				   &c);
		if (rc == 0)
			rc = put_tree(&c);
		calls_release(&c);
	}
	if (rc < 0)
		return db_fail(r, "tool calls");
	out_list_end(r->out);
	return EXIT_OK;
}

const struct db_sub db_sub_tools = {
	"tools", "", "tool calls, newest first",
	"List tool calls, newest first. A call made inside another (a\n"
	"subagent's calls inside its Task call) is listed under it, its\n"
	"tool name indented; --json lists them flat, with parent_id and the\n"
	"agent's own id of each call (external_id). An output larger than\n"
	"1 KiB is not inline: OUTPUT_PATH names its file in .smithers\n"
	"(under logs/objects), named by its git blob hash (OUTPUT_HASH).\n"
	"\n"
	"  --agent ID   only the tool calls of agent ID\n"
	"  -n N         at most N tool calls (0: all)",
	DB_OPT_AGENT | DB_OPT_N, 0, 0, DB_READ, db_tools,
};
