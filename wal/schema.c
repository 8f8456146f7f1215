/*
 * schema.c - the database's tables and their forward migrations.
 *
 * PRAGMA user_version is the schema version. Migration N takes a database at
 * version N-1 to N; all pending migrations run in one transaction with the
 * version bump, so a database is always at exactly one known version.
 * Migrations are append-only: never edit a released one, add the next.
 *
 * Column types: JSON values are declared "JSON TEXT" (text affinity, and the
 * declared type tells readers the text is JSON) and checked by json_valid().
 * Times are ISO-8601 UTC text with milliseconds; durations integer ms.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "wal/wal-int.h"

/* Version 1: the tables of the original design. */
static const char migration_1[] =
	"CREATE TABLE executions ("
	" id INTEGER PRIMARY KEY,"
	" name TEXT NOT NULL,"
	" workflow TEXT,"
	" status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN"
	"  ('pending', 'running', 'completed', 'failed', 'cancelled',"
	"   'interrupted')),"
	" config JSON TEXT CHECK (config IS NULL OR json_valid(config)),"
	" result JSON TEXT CHECK (result IS NULL OR json_valid(result)),"
	" error TEXT,"
	" created_at TEXT NOT NULL,"
	" started_at TEXT,"
	" ended_at TEXT,"
	" duration_ms INTEGER,"
	" supervisor_pid INTEGER,"
	" heartbeat_at TEXT,"
	" total_iterations INTEGER NOT NULL DEFAULT 0,"
	" total_agents INTEGER NOT NULL DEFAULT 0,"
	" total_tool_calls INTEGER NOT NULL DEFAULT 0,"
	" tokens_in INTEGER NOT NULL DEFAULT 0,"
	" tokens_out INTEGER NOT NULL DEFAULT 0);"

	"CREATE TABLE phases ("
	" id INTEGER PRIMARY KEY,"
	" execution_id INTEGER NOT NULL REFERENCES executions(id)"
	"  ON DELETE CASCADE,"
	" name TEXT NOT NULL,"
	" iteration INTEGER NOT NULL DEFAULT 0 CHECK (iteration >= 0),"
	" status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN"
	"  ('pending', 'running', 'completed', 'failed', 'cancelled',"
	"   'interrupted')),"
	" started_at TEXT,"
	" ended_at TEXT,"
	" duration_ms INTEGER,"
	" agent_count INTEGER NOT NULL DEFAULT 0);"

	"CREATE TABLE agents ("
	" id INTEGER PRIMARY KEY,"
	" execution_id INTEGER NOT NULL REFERENCES executions(id)"
	"  ON DELETE CASCADE,"
	" phase_id INTEGER REFERENCES phases(id) ON DELETE CASCADE,"
	" name TEXT NOT NULL,"
	" model TEXT,"
	" system_prompt TEXT,"
	" prompt TEXT,"
	" status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN"
	"  ('pending', 'running', 'restarting', 'completed', 'failed',"
	"   'cancelled', 'interrupted')),"
	" pid INTEGER,"
	" attempt INTEGER NOT NULL DEFAULT 1,"
	" result TEXT,"
	" structured_result JSON TEXT CHECK (structured_result IS NULL"
	"  OR json_valid(structured_result)),"
	" error TEXT,"
	" exit_code INTEGER,"
	" exit_signal INTEGER,"
	" tokens_in INTEGER NOT NULL DEFAULT 0,"
	" tokens_out INTEGER NOT NULL DEFAULT 0,"
	" tool_call_count INTEGER NOT NULL DEFAULT 0,"
	" started_at TEXT,"
	" ended_at TEXT,"
	" duration_ms INTEGER,"
	" log_path TEXT);"

	"CREATE TABLE tool_calls ("
	" id INTEGER PRIMARY KEY,"
	" agent_id INTEGER REFERENCES agents(id) ON DELETE CASCADE,"
	" execution_id INTEGER REFERENCES executions(id) ON DELETE CASCADE,"
	" tool_name TEXT NOT NULL,"
	" input JSON TEXT CHECK (input IS NULL OR json_valid(input)),"
	" output_inline TEXT,"
	" output_path TEXT,"
	" output_hash TEXT,"
	" output_size INTEGER,"
	" summary TEXT,"
	" status TEXT NOT NULL DEFAULT 'running' CHECK (status IN"
	"  ('running', 'completed', 'failed')),"
	" error TEXT,"
	" started_at TEXT NOT NULL,"
	" ended_at TEXT,"
	" duration_ms INTEGER);"

	"CREATE TABLE state ("
	" key TEXT PRIMARY KEY CHECK (length(key) > 0),"
	" value JSON TEXT NOT NULL CHECK (json_valid(value)),"
	" updated_at TEXT NOT NULL,"
	" updated_by INTEGER REFERENCES agents(id) ON DELETE SET NULL);"

	"CREATE TABLE transitions ("
	" id INTEGER PRIMARY KEY,"
	" execution_id INTEGER REFERENCES executions(id) ON DELETE CASCADE,"
	" key TEXT NOT NULL CHECK (length(key) > 0),"
	" old_value JSON TEXT CHECK (old_value IS NULL"
	"  OR json_valid(old_value)),"
	" new_value JSON TEXT CHECK (new_value IS NULL"
	"  OR json_valid(new_value)),"
	" trigger TEXT,"
	" agent_id INTEGER REFERENCES agents(id) ON DELETE SET NULL,"
	" created_at TEXT NOT NULL);"

	"CREATE TABLE memories ("
	" id INTEGER PRIMARY KEY,"
	" category TEXT NOT NULL CHECK (category IN"
	"  ('fact', 'learning', 'preference', 'context', 'skill')),"
	" scope TEXT NOT NULL DEFAULT 'global' CHECK (scope IN"
	"  ('global', 'project', 'session')),"
	" key TEXT NOT NULL,"
	" content TEXT NOT NULL,"
	" confidence REAL NOT NULL DEFAULT 1.0"
	"  CHECK (confidence >= 0 AND confidence <= 1),"
	" source TEXT,"
	" source_execution_id INTEGER REFERENCES executions(id)"
	"  ON DELETE SET NULL,"
	" created_at TEXT NOT NULL,"
	" updated_at TEXT NOT NULL,"
	" accessed_at TEXT,"
	" expires_at TEXT,"
	" UNIQUE (category, scope, key));"

	"CREATE TABLE artifacts ("
	" id INTEGER PRIMARY KEY,"
	" execution_id INTEGER REFERENCES executions(id) ON DELETE CASCADE,"
	" agent_id INTEGER REFERENCES agents(id) ON DELETE SET NULL,"
	" name TEXT NOT NULL,"
	" type TEXT,"
	" file_path TEXT NOT NULL,"
	" git_hash TEXT,"
	" git_commit TEXT,"
	" summary TEXT,"
	" line_count INTEGER,"
	" byte_size INTEGER,"
	" metadata JSON TEXT CHECK (metadata IS NULL OR json_valid(metadata)),"
	" created_at TEXT NOT NULL);";

/*
 * Version 2: indexes for every lookup the command line and the supervisor
 * make (foreign keys, statuses, a key's history, time), and the full-text
 * index over memories, kept in sync by triggers and built from the rows
 * that are already there.
 */
static const char migration_2[] =
	"CREATE INDEX executions_status ON executions(status, id);"
	"CREATE INDEX executions_started ON executions(started_at);"
	"CREATE INDEX phases_execution ON phases(execution_id, iteration);"
	"CREATE INDEX agents_execution ON agents(execution_id, status);"
	"CREATE INDEX agents_phase ON agents(phase_id);"
	"CREATE INDEX agents_status ON agents(status);"
	"CREATE INDEX tool_calls_agent ON tool_calls(agent_id);"
	"CREATE INDEX tool_calls_execution ON tool_calls(execution_id);"
	"CREATE INDEX tool_calls_hash ON tool_calls(output_hash)"
	" WHERE output_hash IS NOT NULL;"
	"CREATE INDEX state_updated_by ON state(updated_by);"
	"CREATE INDEX transitions_key ON transitions(key, id);"
	"CREATE INDEX transitions_execution ON transitions(execution_id);"
	"CREATE INDEX transitions_agent ON transitions(agent_id);"
	"CREATE INDEX transitions_created ON transitions(created_at);"
	"CREATE INDEX memories_category ON memories(category, scope);"
	"CREATE INDEX memories_execution ON memories(source_execution_id);"
	"CREATE INDEX artifacts_execution ON artifacts(execution_id);"
	"CREATE INDEX artifacts_agent ON artifacts(agent_id);"
	"CREATE INDEX artifacts_hash ON artifacts(git_hash);"

	"CREATE VIRTUAL TABLE memories_fts USING fts5(key, content,"
	" content = 'memories', content_rowid = 'id');"
	"CREATE TRIGGER memories_fts_insert AFTER INSERT ON memories BEGIN"
	" INSERT INTO memories_fts(rowid, key, content)"
	"  VALUES (new.id, new.key, new.content);"
	"END;"
	"CREATE TRIGGER memories_fts_delete AFTER DELETE ON memories BEGIN"
	" INSERT INTO memories_fts(memories_fts, rowid, key, content)"
	"  VALUES ('delete', old.id, old.key, old.content);"
	"END;"
	"CREATE TRIGGER memories_fts_update AFTER UPDATE OF key, content"
	" ON memories BEGIN"
	" INSERT INTO memories_fts(memories_fts, rowid, key, content)"
	"  VALUES ('delete', old.id, old.key, old.content);"
	" INSERT INTO memories_fts(rowid, key, content)"
	"  VALUES (new.id, new.key, new.content);"
	"END;"
	"INSERT INTO memories_fts(memories_fts) VALUES ('rebuild');";

/*
 * Version 3: a key's history as a chain instead of the transitions(key, id)
 * index. That index took one random leaf page per changed key into every
 * commit, so a commit's size grew with the number of keys it touched and
 * every change cost about twice what it does without it (docs/BENCHMARKS.md).
 * Now each transition names the key's previous one (prev_id), a state row
 * names its key's newest (head), and a deleted key keeps its newest in
 * deleted_state until it is set again. All three are filled in from the
 * index before it is dropped. transitions_created goes too (below).
 */
static const char migration_3[] =
	"ALTER TABLE transitions ADD COLUMN prev_id INTEGER;"
	"ALTER TABLE state ADD COLUMN head INTEGER;"
	"CREATE TABLE deleted_state ("
	" key TEXT PRIMARY KEY,"
	" head INTEGER NOT NULL) WITHOUT ROWID;"
	"UPDATE transitions SET prev_id = (SELECT max(p.id) FROM transitions"
	" AS p WHERE p.key = transitions.key AND p.id < transitions.id);"
	"UPDATE state SET head = (SELECT max(id) FROM transitions"
	" WHERE key = state.key);"
	"INSERT INTO deleted_state(key, head) SELECT key, max(id)"
	" FROM transitions WHERE key NOT IN (SELECT key FROM state)"
	" GROUP BY key;"
	"DROP INDEX transitions_key;"
	/* Nothing looks transitions up by time, and ids are in commit order
	 * (one writer), so a time range is an id range: the index only cost
	 * every change an insert into one more b-tree. */
	"DROP INDEX transitions_created;"
	/* A key set again is no longer deleted. */
	"CREATE TRIGGER state_revive AFTER INSERT ON state BEGIN"
	" DELETE FROM deleted_state WHERE key = new.key;"
	"END;";

/*
 * Version 4: what a resuming supervisor needs. An agent row keeps the start
 * times (in clock ticks since boot, from /proc/PID/stat) of its agent and
 * of its worker, so that a later supervisor signals a recorded pid only
 * while it still names the same process; an execution keeps the boot it
 * ran in (after a reboot none of its processes can be alive) and how often
 * it was resumed.
 */
static const char migration_4[] =
	"ALTER TABLE agents ADD COLUMN pid_start INTEGER;"
	"ALTER TABLE agents ADD COLUMN worker_pid INTEGER;"
	"ALTER TABLE agents ADD COLUMN worker_start INTEGER;"
	"ALTER TABLE executions ADD COLUMN boot_id TEXT;"
	"ALTER TABLE executions ADD COLUMN recoveries INTEGER NOT NULL"
	" DEFAULT 0;"
	"ALTER TABLE executions ADD COLUMN recovered_at TEXT;";

/*
 * Version 5: agents driven through a known agent CLI (kind 'claude'), whose
 * worker reads the CLI's own stream. An agent keeps its CLI session (id,
 * version, tools) so that a restart continues it rather than starting over,
 * the prompt the current attempt resumed it with, and the cache tokens and
 * cost the CLI reports; an execution sums them and may have a budget. A
 * tool call keeps the CLI's id of it (external_id) and the call it ran
 * inside (parent_id: a subagent's calls inside its Task call), which goes
 * with its parent. Existing rows get the defaults: agents of kind
 * 'command', nothing cached, nothing spent, no budget.
 */
static const char migration_5[] =
	"ALTER TABLE agents ADD COLUMN kind TEXT NOT NULL DEFAULT 'command';"
	"ALTER TABLE agents ADD COLUMN session_id TEXT;"
	"ALTER TABLE agents ADD COLUMN cli_version TEXT;"
	"ALTER TABLE agents ADD COLUMN tools JSON TEXT"
	" CHECK (tools IS NULL OR json_valid(tools));"
	"ALTER TABLE agents ADD COLUMN cache_read_tokens INTEGER NOT NULL"
	" DEFAULT 0;"
	"ALTER TABLE agents ADD COLUMN cache_write_tokens INTEGER NOT NULL"
	" DEFAULT 0;"
	"ALTER TABLE agents ADD COLUMN cost_usd REAL NOT NULL DEFAULT 0;"
	"ALTER TABLE agents ADD COLUMN resume_prompt TEXT;"
	"ALTER TABLE agents ADD COLUMN resumes INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE executions ADD COLUMN cache_read_tokens INTEGER NOT NULL"
	" DEFAULT 0;"
	"ALTER TABLE executions ADD COLUMN cache_write_tokens INTEGER NOT NULL"
	" DEFAULT 0;"
	"ALTER TABLE executions ADD COLUMN cost_usd REAL NOT NULL DEFAULT 0;"
	"ALTER TABLE executions ADD COLUMN max_cost_usd REAL;"
	"ALTER TABLE tool_calls ADD COLUMN external_id TEXT;"
	"ALTER TABLE tool_calls ADD COLUMN parent_id INTEGER"
	" REFERENCES tool_calls(id) ON DELETE CASCADE;"
	"CREATE INDEX tool_calls_parent ON tool_calls(parent_id)"
	" WHERE parent_id IS NOT NULL;";

/*
 * Version 6: agents of other CLIs (kind 'codex'), which report tokens but
 * no cost, and reasoning tokens. A cost nobody reported is unknown, NULL,
 * not 0: agents.cost_usd and executions.cost_usd lose their NOT NULL, which
 * ALTER TABLE cannot do, so both tables are built again the way SQLite
 * documents it (a new table, the rows copied, the old one dropped, the new
 * one renamed, its indexes created again). wal_schema_migrate() runs it
 * with foreign keys off - dropping a table would otherwise delete or unlink
 * the rows that refer to it - and checks them all before it commits; the
 * other tables' references name the table, and so the renamed one. An
 * agent of kind 'command' never reported a cost: its 0 becomes NULL, and
 * an execution none of whose agents has a cost has none either.
 */
static const char migration_6[] =
	"CREATE TABLE agents_6 ("
	" id INTEGER PRIMARY KEY,"
	" execution_id INTEGER NOT NULL REFERENCES executions(id)"
	"  ON DELETE CASCADE,"
	" phase_id INTEGER REFERENCES phases(id) ON DELETE CASCADE,"
	" name TEXT NOT NULL,"
	" model TEXT,"
	" system_prompt TEXT,"
	" prompt TEXT,"
	" status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN"
	"  ('pending', 'running', 'restarting', 'completed', 'failed',"
	"   'cancelled', 'interrupted')),"
	" pid INTEGER,"
	" attempt INTEGER NOT NULL DEFAULT 1,"
	" result TEXT,"
	" structured_result JSON TEXT CHECK (structured_result IS NULL"
	"  OR json_valid(structured_result)),"
	" error TEXT,"
	" exit_code INTEGER,"
	" exit_signal INTEGER,"
	" tokens_in INTEGER NOT NULL DEFAULT 0,"
	" tokens_out INTEGER NOT NULL DEFAULT 0,"
	" tool_call_count INTEGER NOT NULL DEFAULT 0,"
	" started_at TEXT,"
	" ended_at TEXT,"
	" duration_ms INTEGER,"
	" log_path TEXT,"
	" pid_start INTEGER,"
	" worker_pid INTEGER,"
	" worker_start INTEGER,"
	" kind TEXT NOT NULL DEFAULT 'command',"
	" session_id TEXT,"
	" cli_version TEXT,"
	" tools JSON TEXT CHECK (tools IS NULL OR json_valid(tools)),"
	" cache_read_tokens INTEGER NOT NULL DEFAULT 0,"
	" cache_write_tokens INTEGER NOT NULL DEFAULT 0,"
	" cost_usd REAL,"
	" resume_prompt TEXT,"
	" resumes INTEGER NOT NULL DEFAULT 0,"
	" reasoning_tokens INTEGER NOT NULL DEFAULT 0);"
	"INSERT INTO agents_6 SELECT id, execution_id, phase_id, name, model,"
	" system_prompt, prompt, status, pid, attempt, result,"
	" structured_result, error, exit_code, exit_signal, tokens_in,"
	" tokens_out, tool_call_count, started_at, ended_at, duration_ms,"
	" log_path, pid_start, worker_pid, worker_start, kind, session_id,"
	" cli_version, tools, cache_read_tokens, cache_write_tokens,"
	" CASE WHEN kind = 'command' AND cost_usd = 0 THEN NULL"
	"  ELSE cost_usd END,"
	" resume_prompt, resumes, 0 FROM agents;"
	"DROP TABLE agents;"
	"ALTER TABLE agents_6 RENAME TO agents;"
	"CREATE INDEX agents_execution ON agents(execution_id, status);"
	"CREATE INDEX agents_phase ON agents(phase_id);"
	"CREATE INDEX agents_status ON agents(status);"

	"CREATE TABLE executions_6 ("
	" id INTEGER PRIMARY KEY,"
	" name TEXT NOT NULL,"
	" workflow TEXT,"
	" status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN"
	"  ('pending', 'running', 'completed', 'failed', 'cancelled',"
	"   'interrupted')),"
	" config JSON TEXT CHECK (config IS NULL OR json_valid(config)),"
	" result JSON TEXT CHECK (result IS NULL OR json_valid(result)),"
	" error TEXT,"
	" created_at TEXT NOT NULL,"
	" started_at TEXT,"
	" ended_at TEXT,"
	" duration_ms INTEGER,"
	" supervisor_pid INTEGER,"
	" heartbeat_at TEXT,"
	" total_iterations INTEGER NOT NULL DEFAULT 0,"
	" total_agents INTEGER NOT NULL DEFAULT 0,"
	" total_tool_calls INTEGER NOT NULL DEFAULT 0,"
	" tokens_in INTEGER NOT NULL DEFAULT 0,"
	" tokens_out INTEGER NOT NULL DEFAULT 0,"
	" boot_id TEXT,"
	" recoveries INTEGER NOT NULL DEFAULT 0,"
	" recovered_at TEXT,"
	" cache_read_tokens INTEGER NOT NULL DEFAULT 0,"
	" cache_write_tokens INTEGER NOT NULL DEFAULT 0,"
	" cost_usd REAL,"
	" max_cost_usd REAL,"
	" reasoning_tokens INTEGER NOT NULL DEFAULT 0);"
	"INSERT INTO executions_6 SELECT id, name, workflow, status, config,"
	" result, error, created_at, started_at, ended_at, duration_ms,"
	" supervisor_pid, heartbeat_at, total_iterations, total_agents,"
	" total_tool_calls, tokens_in, tokens_out, boot_id, recoveries,"
	" recovered_at, cache_read_tokens, cache_write_tokens,"
	" CASE WHEN EXISTS (SELECT 1 FROM agents AS a"
	"  WHERE a.execution_id = e.id AND a.cost_usd IS NOT NULL)"
	"  THEN e.cost_usd END,"
	" max_cost_usd, 0 FROM executions AS e;"
	"DROP TABLE executions;"
	"ALTER TABLE executions_6 RENAME TO executions;"
	"CREATE INDEX executions_status ON executions(status, id);"
	"CREATE INDEX executions_started ON executions(started_at);";

/*
 * Version 7: containment (one cgroup per agent). An execution records how
 * its agents were contained ("cgroup" and where, or the process group it
 * fell back to, and why); an agent, what its whole process tree used over
 * its attempts: the peak of its memory in bytes and its CPU time in
 * microseconds. Existing rows get NULL: not recorded, unknown.
 */
static const char migration_7[] =
	"ALTER TABLE executions ADD COLUMN containment TEXT;"
	"ALTER TABLE agents ADD COLUMN mem_peak INTEGER;"
	"ALTER TABLE agents ADD COLUMN cpu_usec INTEGER;";

/*
 * Version 8: the outbox of a state dir that ships its commits to a fleet
 * (wal/fleet.c, docs/FLEET.md). Empty and untouched until shipping is
 * turned on: the triggers that fill it are made then, not here. An
 * entry's id is the version of its row: AUTOINCREMENT, so that it never
 * goes back, even once the newest entries were deleted.
 */
static const char migration_8[] =
	"CREATE TABLE fleet_outbox ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" tbl TEXT NOT NULL,"
	" row_id INTEGER NOT NULL,"
	" at_ms INTEGER NOT NULL,"
	" UNIQUE (tbl, row_id));"
	"CREATE TABLE fleet_cursor ("
	" name TEXT PRIMARY KEY CHECK (name IN ('outbox', 'transitions')),"
	" shipped INTEGER NOT NULL CHECK (shipped >= 0));";

/*
 * Version 9: how far what was shipped is verified against the fleet view
 * (docs/FLEET.md, "Verifying"). A row per cursor while verifying is on:
 * the outbox keeps each entry until it is shipped and verified, so that a
 * row JetStream acked and then lost can still be found and sent again.
 */
static const char migration_9[] =
	"CREATE TABLE fleet_verified ("
	" name TEXT PRIMARY KEY CHECK (name IN ('outbox', 'transitions')),"
	" verified INTEGER NOT NULL CHECK (verified >= 0));";

static const char *const migrations[WAL_SCHEMA_VERSION + 1] = {
	[1] = migration_1,
	[2] = migration_2,
	[3] = migration_3,
	[4] = migration_4,
	[5] = migration_5,
	[6] = migration_6,
	[7] = migration_7,
	[8] = migration_8,
	[9] = migration_9,
};

int wal_schema_version(struct wal *w)
{
	int64_t v;

	if (wal_read_int(w, "PRAGMA user_version", &v) < 0)
		return -1;
	return (int)v;
}

/* Run the migrations from VERSION + 1 to TARGET in the open transaction,
 * and check every foreign key they may have left dangling. */
static int migrate(struct wal *w, int version, int target)
{
	char sql[64];
	int64_t bad = 0;

	for (int v = version + 1; v <= target; v++)
		if (wal_exec(w, migrations[v], "cannot migrate") < 0) {
			snprintf(sql, sizeof(sql), " (to version %d)", v);
			strncat(w->errmsg, sql,
				sizeof(w->errmsg) - strlen(w->errmsg) - 1);
			return -1;
		}
	if (target <= version)
		return 0;
	if (wal_read_int(w, "SELECT count(*) FROM pragma_foreign_key_check",
			 &bad) < 0)
		return -1;
	if (bad)
		return wal_fail(w, EIO,
				"cannot migrate to version %d: %" PRId64
				" rows would break a foreign key",
				target, bad);
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", target);
	return wal_exec(w, sql, "cannot migrate");
}

/*
 * Foreign keys are off while the migrations run (outside the transaction:
 * the pragma cannot change inside one), so that a table built again can be
 * dropped without its ON DELETE actions deleting or unlinking the rows that
 * refer to it; they are checked before the commit instead, and put back as
 * they were after it.
 */
int wal_schema_migrate(struct wal *w, int target)
{
	int64_t fk = 0;
	int version, err;

	if (wal_read_int(w, "PRAGMA foreign_keys", &fk) < 0 ||
	    wal_exec(w, "PRAGMA foreign_keys = OFF", "cannot migrate") < 0)
		return -1;
	if (wal_exec(w, "BEGIN EXCLUSIVE", "cannot migrate") < 0)
		goto fail;
	/* Read again under the lock: another writer may have migrated. */
	version = wal_schema_version(w);
	if (version < 0 || migrate(w, version, target) < 0 ||
	    wal_exec(w, "COMMIT", "cannot migrate") < 0)
		goto fail;
	if (fk)
		return wal_exec(w, "PRAGMA foreign_keys = ON",
				"cannot migrate");
	return 0;
fail:
	err = errno;
	if (!sqlite3_get_autocommit(w->db))
		sqlite3_exec(w->db, "ROLLBACK", NULL, NULL, NULL);
	if (fk)
		sqlite3_exec(w->db, "PRAGMA foreign_keys = ON", NULL, NULL,
			     NULL);
	errno = err;
	return -1;
}

int wal_schema_custom(struct wal *w, const char *sql)
{
	int err;

	if (wal_exec(w, "SAVEPOINT custom_schema", "custom schema") < 0)
		return -1;
	if (wal_exec(w, sql, "custom schema") < 0) {
		err = errno;
		sqlite3_exec(w->db,
			     "ROLLBACK TO custom_schema; RELEASE custom_schema",
			     NULL, NULL, NULL);
		errno = err;
		return -1;
	}
	return wal_exec(w, "RELEASE custom_schema", "custom schema");
}
