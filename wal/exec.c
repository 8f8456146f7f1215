/*
 * exec.c - executions, their phase iterations, agents and tool calls, and the
 * lists the command line and a resuming supervisor read.
 *
 * Counters are kept where they are read: an execution counts its phase
 * iterations, agents, tool calls and tokens; a phase its agents; an agent its
 * tool calls and tokens (session.c adds usage to both). Each operation
 * updates them in its own savepoint, so a counter never disagrees with the
 * rows it counts.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wal/wal-int.h"

/* ---- executions ------------------------------------------------------- */

static int64_t execution_start(struct wal *w, const char *name,
			       const char *workflow, const char *config)
{
	char now[WAL_TIME_LEN];

	if (!name || !*name)
		return wal_fail(w, EINVAL, "an execution needs a name");
	wal_now(now);
	if (wal_run(w, "cannot record execution",
		    "INSERT INTO executions(name, workflow, status, config,"
		    " created_at, started_at, heartbeat_at, supervisor_pid)"
		    " VALUES (?1, ?2, 'running', ?3, ?4, ?4, ?4, ?5)",
		    "tttti", name, workflow, config, now,
		    (int64_t)getpid()) < 0) {
		if (errno == EINVAL)
			return wal_fail(w, EINVAL,
					"execution config is not valid JSON");
		return -1;
	}
	return sqlite3_last_insert_rowid(w->db);
}

int64_t wal_execution_start(struct wal *w, const char *name,
			    const char *workflow, const char *config_json)
{
	int64_t id = WAL_OP(w, execution_start(w, name, workflow, config_json));

	if (id > 0)
		w->execution_id = id;
	return id;
}

/* End execution ID with STATUS, RESULT and ERROR. */
static int end_execution(struct wal *w, int64_t id, const char *status,
			 const char *result, const char *error)
{
	static const char sql[] =
		"UPDATE executions SET status = ?2, result = ?3, error = ?4,"
		" ended_at = ?5, heartbeat_at = ?5,"
		" duration_ms = " WAL_DURATION_MS("?5") " WHERE id = ?1";
	char now[WAL_TIME_LEN];

	wal_now(now);
	return wal_update_one(w, "execution", id, sql, "Itttt", id, status,
			      result, error, now);
}

int wal_execution_complete(struct wal *w, int64_t id, const char *result_json)
{
	return end_execution(w, id, "completed", result_json, NULL);
}

int wal_execution_fail(struct wal *w, int64_t id, const char *error)
{
	return end_execution(w, id, "failed", NULL, error);
}

int wal_execution_cancel(struct wal *w, int64_t id)
{
	return end_execution(w, id, "cancelled", NULL, NULL);
}

/* Tool calls of execution ID still running when its supervisor died will
 * never complete: failed. */
static int64_t end_open_tool_calls(struct wal *w, int64_t id, const char *now)
{
	return wal_run(w, "cannot end tool calls",
		       "UPDATE tool_calls SET status = 'failed',"
		       " error = 'interrupted: the supervisor stopped',"
		       " ended_at = ?2,"
		       " duration_ms = " WAL_DURATION_MS("?2")
		       " WHERE execution_id = ?1 AND status = 'running'",
		       "It", id, now);
}

/* The execution, its unfinished phase iterations and agents: interrupted. */
static int64_t interrupt_execution(struct wal *w, int64_t id)
{
	char now[WAL_TIME_LEN];

	wal_now(now);
	if (end_open_tool_calls(w, id, now) < 0 ||
	    wal_run(w, "cannot interrupt phases",
		    "UPDATE phases SET status = 'interrupted', ended_at = ?2,"
		    " duration_ms = " WAL_DURATION_MS("?2")
		    " WHERE execution_id = ?1"
		    " AND status IN ('running', 'pending')",
		    "It", id, now) < 0 ||
	    wal_run(w, "cannot interrupt agents",
		    "UPDATE agents SET status = 'interrupted', ended_at = ?2,"
		    " duration_ms = " WAL_DURATION_MS("?2") ","
		    " error = coalesce(error, 'interrupted')"
		    " WHERE execution_id = ?1"
		    " AND status IN ('running', 'restarting', 'pending')",
		    "It", id, now) < 0)
		return -1;
	return wal_need_row(
		w,
		wal_run(w, "cannot interrupt execution",
			"UPDATE executions SET status = 'interrupted',"
			" ended_at = ?2, heartbeat_at = ?2,"
			" duration_ms = " WAL_DURATION_MS("?2") " WHERE id = ?1",
			"It", id, now),
		"execution", id);
}

int wal_execution_interrupt(struct wal *w, int64_t id)
{
	return wal_status(WAL_OP(w, interrupt_execution(w, id)));
}

static int64_t resume_execution(struct wal *w, int64_t id,
				const char *boot_id)
{
	char now[WAL_TIME_LEN];

	wal_now(now);
	if (end_open_tool_calls(w, id, now) < 0)
		return -1;
	return wal_need_row(
		w,
		wal_run(w, "cannot resume execution",
			"UPDATE executions SET status = 'running',"
			" ended_at = NULL, duration_ms = NULL, error = NULL,"
			" supervisor_pid = ?2, boot_id = ?3, heartbeat_at = ?4,"
			" recovered_at = ?4, recoveries = recoveries + 1"
			" WHERE id = ?1",
			"Iitt", id, (int64_t)getpid(), boot_id, now),
		"execution", id);
}

int wal_execution_resume(struct wal *w, int64_t id, const char *boot_id)
{
	if (WAL_OP(w, resume_execution(w, id, boot_id)) < 0)
		return -1;
	w->execution_id = id;
	return 0;
}

int wal_execution_boot(struct wal *w, int64_t id, const char *boot_id)
{
	return wal_update_one(w, "execution", id,
			      "UPDATE executions SET boot_id = ?2 WHERE id = ?1",
			      "It", id, boot_id);
}

int wal_execution_containment(struct wal *w, int64_t id, const char *text)
{
	return wal_update_one(w, "execution", id,
			      "UPDATE executions SET containment = ?2"
			      " WHERE id = ?1",
			      "It", id, text);
}

int wal_execution_heartbeat(struct wal *w, int64_t id)
{
	static const char sql[] =
		"UPDATE executions SET heartbeat_at = ?2 WHERE id = ?1";
	char now[WAL_TIME_LEN];

	wal_now(now);
	return wal_update_one(w, "execution", id, sql, "It", id, now);
}

static int first_id(const struct wal_row *row, void *arg)
{
	*(int64_t *)arg =
		row->values[0] ? strtoll(row->values[0], NULL, 10) : 0;
	return 1;
}

int64_t wal_execution_current(struct wal *w)
{
	sqlite3_stmt *st = wal_prepare(
		w, "SELECT id FROM executions WHERE status IN"
		   " ('running', 'pending') ORDER BY id DESC LIMIT 1");
	int64_t id = 0;
	int rc;

	if (!st)
		return -1;
	rc = wal_rows(w, st, first_id, &id);
	sqlite3_finalize(st);
	return rc < 0 ? -1 : id;
}

int wal_execution_get(struct wal *w, int64_t id, wal_row_fn *fn, void *arg)
{
	struct wal_counter c = {fn, arg, 0};
	int ret = wal_list(w, "SELECT * FROM executions WHERE id = ?1", id,
			   NULL, 0, wal_count_row, &c);

	if (ret == 0 && c.rows == 0)
		return wal_fail(w, ENOENT, "no execution %" PRId64, id);
	return ret;
}

int wal_execution_list(struct wal *w, int limit, wal_row_fn *fn, void *arg)
{
	return wal_list(w, "SELECT * FROM executions ORDER BY id DESC LIMIT ?3",
			0, NULL, limit, fn, arg);
}

int wal_execution_find_incomplete(struct wal *w, wal_row_fn *fn, void *arg)
{
	return wal_list(w,
			"SELECT * FROM executions WHERE status IN"
			" ('running', 'pending') ORDER BY id",
			0, NULL, 0, fn, arg);
}

int wal_recovery_plan(struct wal *w, wal_row_fn *fn, void *arg)
{
	return wal_list(
		w,
		"SELECT e.id AS execution_id, e.name AS execution,"
		" p.id AS phase_id, p.name AS phase, p.iteration,"
		" a.id AS agent_id, a.name AS agent, a.status, a.attempt,"
		" CASE WHEN a.id IS NULL THEN NULL"
		/* One execution is resumed: the newest. */
		"  WHEN e.id < (SELECT max(id) FROM executions"
		"   WHERE status IN ('running', 'pending')) THEN 'interrupt'"
		"  WHEN a.status = 'completed' THEN 'skip'"
		"  ELSE 'resume' END AS action"
		" FROM executions AS e"
		" LEFT JOIN phases AS p ON p.id = (SELECT max(id)"
		"  FROM phases WHERE execution_id = e.id)"
		" LEFT JOIN agents AS a ON a.phase_id = p.id"
		" WHERE e.status IN ('running', 'pending')"
		" ORDER BY e.id, a.id",
		0, NULL, 0, fn, arg);
}

int wal_recovery_agents(struct wal *w, int64_t execution_id, wal_row_fn *fn,
			void *arg)
{
	return wal_list(w,
			"SELECT p.id AS phase_id, p.name AS phase, p.iteration,"
			" p.status AS phase_status, a.id AS agent_id,"
			" a.name AS agent, a.status, a.attempt, a.kind,"
			" a.session_id, a.cli_version, a.cost_usd,"
			" a.tokens_in, a.tokens_out, a.cache_read_tokens,"
			" a.cache_write_tokens, a.reasoning_tokens,"
			" a.mem_peak, a.cpu_usec"
			" FROM phases AS p"
			" LEFT JOIN agents AS a ON a.phase_id = p.id"
			" WHERE p.id = (SELECT max(id) FROM phases"
			"  WHERE execution_id = ?1)"
			" ORDER BY a.id",
			execution_id, NULL, 0, fn, arg);
}

/* ---- phases -------------------------------------------------------------- */

static int64_t phase_start(struct wal *w, int64_t execution_id,
			   const char *name, int iteration)
{
	char now[WAL_TIME_LEN];

	if (!name || !*name)
		return wal_fail(w, EINVAL, "a phase needs a name");
	if (iteration < 0)
		return wal_fail(w, EINVAL, "a phase iteration counts from 0");
	wal_now(now);
	if (wal_run(w, "cannot record phase",
		    "INSERT INTO phases(execution_id, name, iteration, status,"
		    " started_at) VALUES (?1, ?2, ?3, 'running', ?4)",
		    "ItIt", execution_id, name, (int64_t)iteration, now) < 0) {
		if (errno == EINVAL)
			return wal_fail(w, EINVAL, "no execution %" PRId64,
					execution_id);
		return -1;
	}
	int64_t id = sqlite3_last_insert_rowid(w->db);

	if (wal_run(w, "cannot count iteration",
		    "UPDATE executions SET"
		    " total_iterations = total_iterations + 1 WHERE id = ?1",
		    "I", execution_id) < 0)
		return -1;
	return id;
}

int64_t wal_phase_start(struct wal *w, int64_t execution_id, const char *name,
			int iteration)
{
	return WAL_OP(w, phase_start(w, execution_id, name, iteration));
}

static int end_phase(struct wal *w, int64_t id, const char *status)
{
	static const char sql[] =
		"UPDATE phases SET status = ?2, ended_at = ?3,"
		" duration_ms = " WAL_DURATION_MS("?3") " WHERE id = ?1";
	char now[WAL_TIME_LEN];

	wal_now(now);
	return wal_update_one(w, "phase", id, sql, "Itt", id, status, now);
}

int wal_phase_resume(struct wal *w, int64_t phase_id)
{
	return wal_update_one(w, "phase", phase_id,
			      "UPDATE phases SET status = 'running',"
			      " ended_at = NULL, duration_ms = NULL"
			      " WHERE id = ?1",
			      "I", phase_id);
}

int wal_phase_complete(struct wal *w, int64_t phase_id)
{
	return end_phase(w, phase_id, "completed");
}

int wal_phase_fail(struct wal *w, int64_t phase_id)
{
	return end_phase(w, phase_id, "failed");
}

int wal_phase_list(struct wal *w, int64_t execution_id, wal_row_fn *fn,
		   void *arg)
{
	return wal_list(
		w, "SELECT * FROM phases WHERE execution_id = ?1 ORDER BY id",
		execution_id, NULL, 0, fn, arg);
}

/* ---- agents -------------------------------------------------------------- */

static int64_t agent_start(struct wal *w, int64_t execution_id,
			   int64_t phase_id, const struct wal_agent_spec *s)
{
	char now[WAL_TIME_LEN];
	const char *kind;
	int64_t id;

	if (!s || !s->name || !*s->name)
		return wal_fail(w, EINVAL, "an agent needs a name");
	kind = s->kind ? s->kind : "command";
	if (strcmp(kind, "command") && strcmp(kind, "claude") &&
	    strcmp(kind, "codex"))
		return wal_fail(w, EINVAL,
				"agent '%s': unknown kind '%s' (command,"
				" claude or codex)",
				s->name, kind);
	wal_now(now);
	if (wal_run(w, "cannot record agent",
		    "INSERT INTO agents(execution_id, phase_id, name, model,"
		    " system_prompt, prompt, log_path, attempt, pid, status,"
		    " started_at, kind, session_id) VALUES (?1, ?2, ?3, ?4,"
		    " ?5, ?6, ?7, ?8, ?9, 'running', ?10, ?11, ?12)",
		    "IitttttIittt", execution_id, phase_id, s->name, s->model,
		    s->system_prompt, s->prompt, s->log_path,
		    (int64_t)(s->attempt > 0 ? s->attempt : 1), (int64_t)s->pid,
		    now, kind, s->session_id) < 0) {
		if (errno == EINVAL)
			return wal_fail(w, EINVAL,
					"cannot record agent '%s': no execution"
					" %" PRId64 " or phase %" PRId64,
					s->name, execution_id, phase_id);
		return -1;
	}
	id = sqlite3_last_insert_rowid(w->db);
	if (wal_run(w, "cannot count agent",
		    "UPDATE executions SET total_agents = total_agents + 1"
		    " WHERE id = ?1",
		    "I", execution_id) < 0 ||
	    wal_run(w, "cannot count agent",
		    "UPDATE phases SET agent_count = agent_count + 1"
		    " WHERE id = ?1",
		    "I", phase_id) < 0)
		return -1;
	return id;
}

int64_t wal_agent_start(struct wal *w, int64_t execution_id, int64_t phase_id,
			const struct wal_agent_spec *spec)
{
	return WAL_OP(w, agent_start(w, execution_id, phase_id, spec));
}

static int64_t end_agent(struct wal *w, int64_t id, const char *status,
			 const char *result, const char *structured,
			 const char *error, int exit_code, int exit_signal)
{
	static const char sql[] =
		"UPDATE agents SET status = ?2, result = ?3,"
		" structured_result = ?4, error = ?5, exit_code = ?6,"
		" exit_signal = ?7, ended_at = ?8,"
		" duration_ms = " WAL_DURATION_MS("?8") " WHERE id = ?1";
	char now[WAL_TIME_LEN];
	int64_t r;

	wal_now(now);
	r = wal_run(w, "cannot end agent", sql, "Ittttnit", id, status, result,
		    structured, error, (int64_t)exit_code, (int64_t)exit_signal,
		    now);
	if (r < 0 && errno == EINVAL)
		return wal_fail(w, EINVAL,
				"agent %" PRId64
				": structured result is not valid JSON",
				id);
	return wal_need_row(w, r, "agent", id);
}

int wal_agent_complete(struct wal *w, int64_t agent_id, const char *result,
		       const char *structured_json, int exit_code)
{
	return wal_status(
		WAL_OP(w, end_agent(w, agent_id, "completed", result,
				    structured_json, NULL, exit_code, 0)));
}

int wal_agent_fail(struct wal *w, int64_t agent_id, const char *error,
		   int exit_code, int exit_signal)
{
	return wal_status(WAL_OP(w, end_agent(w, agent_id, "failed", NULL, NULL,
					      error, exit_code, exit_signal)));
}

int wal_agent_running(struct wal *w, int64_t agent_id, pid_t pid)
{
	static const char sql[] =
		"UPDATE agents SET status = 'running', pid = ?2 WHERE id = ?1";

	return wal_update_one(w, "agent", agent_id, sql, "Ii", agent_id,
			      (int64_t)pid);
}

int wal_agent_started(struct wal *w, int64_t agent_id,
		      const struct wal_procs *p)
{
	static const char sql[] =
		"UPDATE agents SET status = 'running', pid = ?2,"
		" pid_start = ?3, worker_pid = ?4, worker_start = ?5"
		" WHERE id = ?1";

	return wal_update_one(w, "agent", agent_id, sql, "Iiiii", agent_id,
			      (int64_t)p->pid, p->pid_start,
			      (int64_t)p->worker, p->worker_start);
}

int wal_agent_restart(struct wal *w, int64_t agent_id, int attempt,
		      const char *error, int exit_code, int exit_signal)
{
	static const char sql[] =
		"UPDATE agents SET status = 'restarting', attempt = ?2,"
		" error = ?3, exit_code = ?4, exit_signal = ?5, pid = NULL,"
		" pid_start = NULL, worker_pid = NULL, worker_start = NULL"
		" WHERE id = ?1";

	return wal_update_one(w, "agent", agent_id, sql, "IItni", agent_id,
			      (int64_t)attempt, error, (int64_t)exit_code,
			      (int64_t)exit_signal);
}

int wal_agent_cancel(struct wal *w, int64_t agent_id, const char *error,
		     int exit_code, int exit_signal)
{
	return wal_status(
		WAL_OP(w, end_agent(w, agent_id, "cancelled", NULL, NULL, error,
				    exit_code, exit_signal)));
}

int wal_agent_list(struct wal *w, int64_t execution_id, wal_row_fn *fn,
		   void *arg)
{
	return wal_list(
		w,
		"SELECT a.id, a.execution_id, a.phase_id, p.name AS phase,"
		" p.iteration, a.name, a.model, a.status, a.pid,"
		" a.attempt, a.exit_code, a.exit_signal, a.error,"
		" a.tokens_in, a.tokens_out, a.tool_call_count,"
		" a.started_at, a.ended_at, a.duration_ms, a.log_path,"
		" a.result, a.structured_result, a.pid_start, a.worker_pid,"
		" a.worker_start, a.kind, a.session_id, a.cli_version,"
		" a.tools, a.cache_read_tokens, a.cache_write_tokens,"
		" a.cost_usd, a.resume_prompt, a.resumes, a.reasoning_tokens,"
		" a.mem_peak, a.cpu_usec,"
		" json_extract(a.structured_result, '$.num_turns') AS turns"
		" FROM agents AS a LEFT JOIN phases AS p"
		" ON p.id = a.phase_id"
		" WHERE ?1 <= 0 OR a.execution_id = ?1 ORDER BY a.id",
		execution_id, NULL, 0, fn, arg);
}

/* ---- tool calls ------------------------------------------------------------
 */

/* A call inside another goes with it, so PARENT must belong to the
 * execution of agent AGENT: the insert checks it in the same statement
 * (a primary-key lookup) and inserts nothing when it does not. */
static int64_t tool_start(struct wal *w, int64_t agent_id, const char *tool,
			  const char *input, const char *ref, int64_t parent,
			  int count)
{
	char now[WAL_TIME_LEN];
	int64_t id, n;

	if (!tool || !*tool)
		return wal_fail(w, EINVAL, "a tool call needs a tool name");
	if (parent < 0)
		return wal_fail(w, EINVAL, "no tool call %" PRId64, parent);
	wal_now(now);
	if (parent == 0) /* most calls: the plain insert is the cheaper */
		n = wal_run(w, "cannot record tool call",
			    "INSERT INTO tool_calls(agent_id, execution_id,"
			    " tool_name, input, started_at, external_id)"
			    " VALUES (?1, (SELECT execution_id FROM agents"
			    " WHERE id = ?1), ?2, ?3, ?4, ?5)",
			    "Itttt", agent_id, tool, input, now, ref);
	else
		n = wal_run(w, "cannot record tool call",
			    "INSERT INTO tool_calls(agent_id, execution_id,"
			    " tool_name, input, started_at, external_id,"
			    " parent_id) SELECT ?1, e.id, ?2, ?3, ?4, ?5, ?6"
			    " FROM (SELECT (SELECT execution_id FROM agents"
			    " WHERE id = ?1) AS id) AS e WHERE EXISTS (SELECT"
			    " 1 FROM tool_calls AS p WHERE p.id = ?6 AND"
			    " p.execution_id = e.id)",
			    "Itttti", agent_id, tool, input, now, ref, parent);
	if (n < 0) {
		if (errno == EINVAL)
			return wal_fail(w, EINVAL,
					"cannot record tool call '%s': no "
					"agent %" PRId64 " or input not JSON",
					tool, agent_id);
		return -1;
	}
	if (n == 0)
		return wal_fail(w, EINVAL,
				"no tool call %" PRId64 " in the execution of"
				" agent %" PRId64,
				parent, agent_id);
	id = sqlite3_last_insert_rowid(w->db);
	if (!count)
		return id;
	if (wal_need_row(w,
			 wal_run(w, "cannot count tool call",
				 "UPDATE agents SET tool_call_count ="
				 " tool_call_count + 1 WHERE id = ?1",
				 "I", agent_id),
			 "agent", agent_id) < 0 ||
	    wal_run(w, "cannot count tool call",
		    "UPDATE executions SET total_tool_calls = total_tool_calls "
		    "+ 1"
		    " WHERE id = (SELECT execution_id FROM agents WHERE id = "
		    "?1)",
		    "I", agent_id) < 0)
		return -1;
	return id;
}

int64_t wal_tool_start(struct wal *w, int64_t agent_id, const char *tool,
		       const char *input_json)
{
	return WAL_OP(w,
		      tool_start(w, agent_id, tool, input_json, NULL, 0, 1));
}

int64_t wal_tool_start_ref(struct wal *w, int64_t agent_id, const char *tool,
			   const char *input_json, const char *ref,
			   int64_t parent_id)
{
	return WAL_OP(w, tool_start(w, agent_id, tool, input_json, ref,
				    parent_id, 1));
}

int64_t wal_tool_record(struct wal *w, int64_t agent_id, const char *tool,
			const char *input_json, const char *ref,
			int64_t parent_id)
{
	/* One statement: the insert. */
	return WAL_OP1(w, tool_start(w, agent_id, tool, input_json, ref,
				     parent_id, 0));
}

int wal_tool_list(struct wal *w, int64_t agent_id, int limit, wal_row_fn *fn,
		  void *arg)
{
	return wal_list(
		w,
		"SELECT t.id, t.agent_id, a.name AS agent, t.execution_id,"
		" t.tool_name, t.input, t.status, t.output_inline,"
		" t.output_path, t.output_hash, t.output_size, t.summary,"
		" t.error, t.started_at, t.ended_at, t.duration_ms,"
		" t.external_id, t.parent_id"
		" FROM tool_calls AS t LEFT JOIN agents AS a"
		" ON a.id = t.agent_id"
		" WHERE ?1 <= 0 OR t.agent_id = ?1"
		" ORDER BY t.id DESC LIMIT ?3",
		agent_id, NULL, limit, fn, arg);
}

int wal_artifact_list(struct wal *w, int limit, wal_row_fn *fn, void *arg)
{
	return wal_list(
		w,
		"SELECT r.id, r.execution_id, r.agent_id, a.name AS agent,"
		" r.name, r.type, r.file_path, r.git_hash, r.git_commit,"
		" r.summary, r.line_count, r.byte_size, r.metadata,"
		" r.created_at FROM artifacts AS r LEFT JOIN agents AS a"
		" ON a.id = r.agent_id ORDER BY r.id DESC LIMIT ?3",
		0, NULL, limit, fn, arg);
}
