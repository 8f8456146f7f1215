/*
 * dispatch.c - a decoded message becomes store and mirror calls, inside the
 * turn's batch (the stream hooks of a run, stream.h).
 *
 * A message the store refuses is answered with a non-fatal error and still
 * counts as processed (it is acked); a protocol error ends the stream and
 * stops its agent. A change that ran out of disk space is neither: it is
 * put back in its stream (parked) to be applied once there is space.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor/mirror.h"
#include "supervisor/slog.h"
#include "supervisor/stream.h"
#include "supervisor/sup-int.h"
#include "wal/wal.h"
#include "worker/proto.h"

static int64_t call_find(const struct calls *c, uint64_t call)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->v[i].call == call)
			return c->v[i].id;
	return 0;
}

static int call_add(struct calls *c, uint64_t call, int64_t id)
{
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 8;
		struct call *grown = realloc(c->v, cap * sizeof(*grown));

		if (!grown)
			return -1;
		c->v = grown;
		c->cap = cap;
	}
	c->v[c->n].call = call;
	c->v[c->n].id = id;
	c->n++;
	return 0;
}

static void call_remove(struct calls *c, uint64_t call)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->v[i].call == call) {
			c->v[i] = c->v[--c->n];
			return;
		}
}

/* A socket's hello names its agent and proves it with the agent's token. */
static struct agent *socket_hello(struct run *r, const struct wrk_msg *m)
{
	for (size_t i = 0; i < r->wf->nagents; i++) {
		struct agent *a = &r->agents[i];

		if (a->id == m->agent_id && a->id > 0 && m->token &&
		    a->state == A_RUNNING && strcmp(a->token, m->token) == 0)
			return a;
	}
	return NULL;
}

static char *resolve_path(const struct agent *a, const char *path)
{
	if (path[0] == '/')
		return strdup(path);
	return xasprintf("%s/%s", a->spec->cwd, path);
}

/* The tool calls: numbered by the agent, recorded as rows. A call may
 * name the call it runs inside (a subagent's, inside its Task call): that
 * one is running, or ended and remembered among the parents. */
static int tool_start(struct sup_stream *s, struct agent *a,
		      const struct wrk_msg *m)
{
	struct run *r = a->run;
	int64_t id, parent = 0;

	if (call_find(&a->calls, m->call)) {
		sup_stream_error(s, m->seq, "tool call number already in use",
				 0);
		return 0;
	}
	if (m->parent && !(parent = call_find(&a->calls, m->parent)))
		parent = call_find(&a->parents, m->parent);
	/* Counted with the turn's tally (tally.c); a tally of another row
	 * is written first, so that the count below cannot fail. */
	if (tally_add(a, NULL, 0) < 0)
		return -1;
	id = wal_tool_record(r->w, a->id, m->tool, m->json, m->ref, parent);
	if (id < 0 || tally_add(a, NULL, 1) < 0 ||
	    call_add(&a->calls, m->call, id) < 0)
		return -1;
	sup_mirror_agent_tool_call(r->mirror, a->index, m->call, m->tool);
	return 0;
}

static int tool_complete(struct sup_stream *s, struct agent *a,
			 const struct wrk_msg *m)
{
	int64_t id = call_find(&a->calls, m->call);
	char *why;

	if (!id) {
		why = xasprintf("no tool call %" PRIu64 " was started",
				m->call);
		sup_stream_error(s, m->seq, why, 0);
		free(why);
		return 0;
	}
	if (wal_tool_complete(a->run->w, id, m->output, m->output_len,
			      m->summary, m->status, m->error) < 0)
		return -1;
	call_remove(&a->calls, m->call);
	sup_mirror_agent_tool_end(a->run->mirror, a->index, m->call);
	/* Only an agent that links calls keeps the ended ones: a late
	 * child still finds its parent. */
	if (adapter_of(a->spec->kind) &&
	    adapter_of(a->spec->kind)->links_calls &&
	    call_add(&a->parents, m->call, id) < 0)
		return -1;
	return 0;
}

/* The cost of U at the agent's prices, when its CLI reports none and the
 * workflow gives them (codex): input that was not cached, cached input,
 * output (reasoning is part of it), per million tokens. */
static void priced(const struct agent *a, struct usage *u)
{
	const struct sup_prices *p = &a->spec->cli.prices;
	int64_t fresh = u->in - u->cache_read;

	if (u->has_cost || a->spec->kind != SUP_KIND_CODEX || p->input < 0 ||
	    p->cached_input < 0 || p->output < 0)
		return;
	u->cost = ((double)(fresh > 0 ? fresh : 0) * p->input +
		   (double)u->cache_read * p->cached_input +
		   (double)u->out * p->output) /
		  1e6;
	u->has_cost = 1;
}

/* The session the agent's CLI reported. */
static int session(struct agent *a, const struct wrk_msg *m)
{
	struct session *se = &a->session;

	if (wal_agent_session(a->run->w, a->id, m->session_id, m->model,
			      m->agent_version, m->json) < 0)
		return -1;
	/* Another id than ours (claude_args with --fork-session): the
	 * session to resume is the one it reported. */
	if (strlen(m->session_id) == SUP_SESSION_LEN)
		memcpy(se->id, m->session_id, SUP_SESSION_LEN + 1);
	se->live = 1;
	return 0;
}

/* Apply M of agent A: 0, or -1 with the store's error. */
static int apply(struct sup_stream *s, struct agent *a,
		 const struct wrk_msg *m)
{
	struct run *r = a->run;
	struct wal *w = r->w;
	int rc = 0;

	switch (m->type) {
	case WRK_STATE_SET:
		rc = wal_state_set(w, m->key, m->json, m->trigger, a->id);
		if (rc == 0) {
			sup_mirror_key(r->mirror, m->key, m->json);
			sup_mirror_agent_key(r->mirror, a->index, m->key);
		}
		return rc;
	case WRK_STATE_DELETE:
		rc = wal_state_delete(w, m->key, m->trigger, a->id);
		if (rc > 0) {
			sup_mirror_key(r->mirror, m->key, NULL);
			sup_mirror_agent_key(r->mirror, a->index, m->key);
		}
		return rc < 0 ? -1 : 0;
	case WRK_MEMORY_ADD: {
		struct wal_memory mem = {
			.category = m->category,
			.scope = m->scope,
			.key = m->key,
			.content = m->content,
			.confidence = m->has_confidence ? m->confidence : 1.0,
			.source = m->source ? m->source : a->spec->name,
			.source_execution_id = r->p.exec_id,
		};

		return wal_memory_add(w, &mem) < 0 ? -1 : 0;
	}
	case WRK_TOOL_START:
		return tool_start(s, a, m);
	case WRK_TOOL_COMPLETE:
		return tool_complete(s, a, m);
	case WRK_ARTIFACT_ADD: {
		char *path = resolve_path(a, m->path);

		rc = !path || wal_artifact_add(w, a->id, m->name, m->kind, path,
					       m->summary, m->json) < 0
			     ? -1
			     : 0;
		free(path);
		return rc;
	}
	case WRK_USAGE: {
		struct usage u = {
			.in = (int64_t)m->tokens_in,
			.out = (int64_t)m->tokens_out,
			.cache_read = (int64_t)m->cache_read,
			.cache_write = (int64_t)m->cache_write,
			.reasoning = (int64_t)m->reasoning,
			.cost = m->has_cost ? m->cost : 0,
			.has_cost = m->has_cost ||
				    (adapter_of(a->spec->kind) &&
				     adapter_of(a->spec->kind)->reports_cost),
		};

		priced(a, &u);
		return budget_usage(a, &u, m->total);
	}
	case WRK_SESSION:
		return session(a, m);
	case WRK_LOG:
		sup_log(SUP_INFO, "agent '%s': %s%s%s", a->spec->name,
			m->level ? m->level : "", m->level ? ": " : "",
			m->text ? m->text : "");
		return 0;
	case WRK_RESULT:
		set_text(&a->end.result_text, m->text);
		set_text(&a->end.result_json, m->json);
		return 0;
	case WRK_FAIL:
		set_text(&a->end.fail_text, m->error ? m->error : "failed");
		return 0;
	default:
		return 0;
	}
}

/* The owner of a control connection (gcreq.c): not an agent. */
static char control_peer;

/* A control connection sends only what it is for. */
static int control(struct run *r, struct sup_stream *s, const struct wrk_msg *m)
{
	if (m->type != WRK_GC) {
		sup_stream_fail(s, m->seq,
				"a control connection sends only 'gc'");
		return 0;
	}
	if (gc_ask(r, s, m) < 0) {
		sup_stream_error(s, m->seq, "a gc is running already", 0);
		return 0;
	}
	return 1;
}

static int dispatch(struct sup_stream *s, const struct wrk_msg *m, void *arg)
{
	struct run *r = arg;
	struct agent *a = sup_stream_owner(s);

	if ((void *)a == &control_peer)
		return control(r, s, m);
	/* The decoder saw to it that a stream starts with one hello. */
	if (m->type == WRK_HELLO && m->role) {
		if (a || strcmp(m->role, "control")) {
			sup_stream_fail(s, m->seq,
					"unknown role in hello (agents send "
					"none; 'control' on the socket)");
			return 0;
		}
		sup_stream_set_owner(s, &control_peer);
		commit_hello(r);
		return 1;
	}
	if (m->type == WRK_HELLO) {
		if (!a && !(a = socket_hello(r, m))) {
			sup_stream_fail(s, m->seq,
					"hello names no running agent (wrong "
					"agent id or token)");
			return 0;
		}
		sup_stream_set_owner(s, a);
		commit_hello(r);
		return 1;
	}
	if (m->type == WRK_ACK || m->type == WRK_ERROR || m->type == WRK_GC ||
	    m->type == WRK_REPLY) {
		sup_stream_fail(s, m->seq, "a message type agents do not send");
		return 0;
	}
	if (batch(r) < 0) {
		sup_stream_error(s, m->seq,
				 "the store cannot begin a transaction", 0);
		return 0;
	}
	if (apply(s, a, m) == 0)
		return 1;
	if ((errno == ENOSPC || errno == EDQUOT) && sup_stream_park(s) == 0) {
		/* Not refused: it waits for space with the rest. */
		disk_full(r, wal_errmsg(r->w));
		return 0;
	}
	sup_log(SUP_WARN, "agent '%s': %s refused: %s", a->spec->name,
		wrk_type_name(m->type), wal_errmsg(r->w));
	sup_stream_error(s, m->seq, wal_errmsg(r->w), 0);
	return 1;
}

/* The stream broke the protocol: record it, stop its agent. */
static void broken(struct sup_stream *s, const char *reason, void *arg)
{
	struct agent *a = sup_stream_owner(s);
	char *why;

	(void)arg;
	if (sup_stream_owner(s) == &control_peer) {
		sup_log(SUP_WARN, "control connection refused: %s", reason);
		return;
	}
	if (!a) {
		sup_log(SUP_WARN, "connection refused: %s", reason);
		return;
	}
	sup_log(SUP_ERROR, "agent '%s': protocol error: %s", a->spec->name,
		reason);
	a->end.proto_error = 1;
	if (a->state == A_RUNNING) {
		why = xasprintf("protocol error: %s", reason);
		stop_agent(a, why);
		free(why);
	}
}

static void freed(struct sup_stream *s, void *arg)
{
	struct agent *a = sup_stream_owner(s);

	if (sup_stream_owner(s) == &control_peer)
		gc_forget(arg, s);
	else if (a && a->pipes == s)
		a->pipes = NULL;
}

const struct sup_stream_hooks dispatch_hooks = {
	.dispatch = dispatch,
	.broken = broken,
	.freed = freed,
};
