/*
 * test_wal.c - the store's handle: open (files, modes, pragmas, errors),
 * reset, schema version and migrations, the custom schema, batches,
 * wal_query, read-only handles, wal_stats and the supervisor lock.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/unit/testutil.h"

static const char *const tables[] = {
	"memories",   "executions", "phases",	   "agents",
	"tool_calls", "state",	    "transitions", "artifacts",
};

static mode_t mode_of(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		fail_msg("stat '%s': %s", path, strerror(errno));
	return st.st_mode & 07777;
}

static void assert_same_file(const char *a, const char *b)
{
	char *ra = realpath(a, NULL), *rb = realpath(b, NULL);

	assert_non_null(ra);
	assert_non_null(rb);
	assert_string_equal(ra, rb);
	free(ra);
	free(rb);
}

static void assert_tables(struct wal *w)
{
	size_t i;

	for (i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
		assert_int_equal(tu_query_int(w,
					      "SELECT count(*) FROM "
					      "sqlite_master WHERE name = '%s'",
					      tables[i]),
				 1);
	/* The full-text index of the memories. */
	assert_true(tu_query_int(w, "SELECT count(*) FROM sqlite_master "
				    "WHERE sql LIKE '%%USING fts5%%'") >= 1);
}

static void test_open_creates_private_files(void **state)
{
	struct tu_fx *fx = *state;
	struct wal *w;
	char *sdir = tu_path("%s/.smithers", fx->dir);
	char *db = tu_path("%s/.smithers/smithers.db", fx->dir);
	mode_t old = umask(0);

	/* Even with a permissive umask, the store is private. */
	w = tu_open_create(fx->dir);
	umask(old);
	assert_int_equal(mode_of(sdir), 0700);
	assert_int_equal(mode_of(db), 0600);
	assert_same_file(wal_db_path(w), db);
	assert_same_file(wal_state_dir(w), sdir);
	assert_tables(w);
	wal_close(w);
	free(sdir);
	free(db);
}

static void test_open_pragmas_default(void **state)
{
	struct tu_fx *fx = *state;
	struct wal_stats st;
	char *db = tu_path("%s/.smithers/smithers.db", fx->dir);
	unsigned char hdr[100];
	size_t len;
	char *data;

	assert_int_equal(tu_query_int(fx->w, "PRAGMA synchronous"), 2);
	assert_int_equal(tu_query_int(fx->w, "PRAGMA foreign_keys"), 1);
	assert_int_equal(tu_query_int(fx->w, "PRAGMA busy_timeout"), 5000);
	memset(&st, 0, sizeof(st));
	assert_int_equal(wal_stats(fx->w, &st), 0);
	assert_string_equal(st.journal_mode, "wal");
	/* WAL mode is persistent: the file header says so (bytes 18, 19). */
	data = tu_read_file(db, &len);
	assert_non_null(data);
	assert_true(len >= sizeof(hdr));
	memcpy(hdr, data, sizeof(hdr));
	assert_int_equal(hdr[18], 2);
	assert_int_equal(hdr[19], 2);
	free(data);
	free(db);
}

static void test_open_sync_normal(void **state)
{
	struct tu_fx *fx = *state;
	struct wal_options o = {.create = 1, .synchronous = WAL_SYNC_NORMAL};
	struct wal *w = tu_open(fx->dir, &o);

	assert_int_equal(tu_query_int(w, "PRAGMA synchronous"), 1);
	assert_int_equal(tu_query_int(w, "PRAGMA foreign_keys"), 1);
	wal_close(w);
	/* The choice is per handle, not stored: the default is FULL again. */
	w = tu_open(fx->dir, NULL);
	assert_int_equal(tu_query_int(w, "PRAGMA synchronous"), 2);
	wal_close(w);
}

static void test_open_busy_timeout(void **state)
{
	struct tu_fx *fx = *state;
	struct wal_options o = {.busy_timeout_ms = 1234};
	struct wal *w = tu_open(fx->dir, &o);

	assert_int_equal(tu_query_int(w, "PRAGMA busy_timeout"), 1234);
	wal_close(w);
}

static void test_open_missing_enoent(void **state)
{
	struct tu_fx *fx = *state;
	struct wal_options ro = {.readonly = 1, .create = 1};
	char *missing = tu_path("%s/nope", fx->dir);
	char *sdir = tu_path("%s/.smithers", fx->dir);
	struct stat st;
	struct wal *w = NULL;

	/* A directory that does not exist. */
	errno = 0;
	assert_int_equal(wal_open(missing, NULL, &w), -1);
	assert_int_equal(errno, ENOENT);
	assert_non_null(w);
	wal_close(w);
	w = NULL;
	/* A directory without state, and no create. */
	errno = 0;
	assert_int_equal(wal_open(fx->dir, NULL, &w), -1);
	assert_int_equal(errno, ENOENT);
	assert_non_null(w);
	assert_true(strlen(wal_errmsg(w)) > 0);
	wal_close(w);
	w = NULL;
	/* Read-only implies no create. */
	errno = 0;
	assert_int_equal(wal_open(fx->dir, &ro, &w), -1);
	assert_int_equal(errno, ENOENT);
	wal_close(w);
	assert_int_equal(stat(sdir, &st), -1);
	free(missing);
	free(sdir);
}

static void test_open_not_a_database(void **state)
{
	struct tu_fx *fx = *state;
	struct wal_options o = {.create = 1};
	char *sdir = tu_path("%s/.smithers", fx->dir);
	char *db = tu_path("%s/smithers.db", sdir);
	char junk[4096], *back;
	struct wal *w = NULL;
	size_t i, len;
	int pass;

	for (i = 0; i < sizeof(junk); i++)
		junk[i] = "this is not a database\n"[i % 23];
	assert_int_equal(mkdir(sdir, 0700), 0);
	tu_write_file(db, junk, sizeof(junk));
	for (pass = 0; pass < 2; pass++) {
		errno = 0;
		w = NULL;
		assert_int_equal(wal_open(fx->dir, pass ? &o : NULL, &w), -1);
		assert_int_equal(errno, EIO);
		assert_non_null(w);
		assert_non_null(strstr(wal_errmsg(w), "smithers.db"));
		wal_close(w);
	}
	/* The file is not touched. */
	back = tu_read_file(db, &len);
	assert_int_equal(len, sizeof(junk));
	assert_memory_equal(back, junk, sizeof(junk));
	free(back);
	/* Unless asked to start afresh. */
	o.reset = 1;
	w = tu_open(fx->dir, &o);
	assert_int_equal(wal_schema_version(w), WAL_SCHEMA_VERSION);
	assert_int_equal(wal_state_set(w, "k", "1", NULL, 0), 0);
	wal_close(w);
	free(db);
	free(sdir);
}

static void test_open_reset(void **state)
{
	struct tu_fx *fx = *state;
	struct wal_options o = {.create = 1, .reset = 1};
	struct wal_memory m = {.category = "fact", .key = "k", .content = "x"};
	struct wal_stats st;
	struct wal *w;

	assert_int_equal(wal_state_set(fx->w, "k", "1", NULL, 0), 0);
	assert_true(wal_memory_add(fx->w, &m) > 0);
	assert_true(wal_execution_start(fx->w, "e", NULL, NULL) > 0);
	wal_close(fx->w);
	fx->w = NULL;

	w = tu_open(fx->dir, &o);
	errno = 0;
	assert_null(wal_state_get(w, "k"));
	assert_int_equal(errno, ENOENT);
	memset(&st, 0, sizeof(st));
	assert_int_equal(wal_stats(w, &st), 0);
	assert_int_equal(st.state, 0);
	assert_int_equal(st.transitions, 0);
	assert_int_equal(st.memories, 0);
	assert_int_equal(st.executions, 0);
	assert_int_equal(st.schema_version, WAL_SCHEMA_VERSION);
	assert_int_equal(wal_schema_version(w), WAL_SCHEMA_VERSION);
	assert_tables(w);
	wal_close(w);
}

static void test_schema_version(void **state)
{
	struct tu_fx *fx = *state;
	char *db = tu_path("%s/.smithers/smithers.db", fx->dir);

	assert_int_equal(wal_schema_version(fx->w), WAL_SCHEMA_VERSION);
	assert_int_equal(tu_query_int(fx->w, "PRAGMA user_version"),
			 WAL_SCHEMA_VERSION);
	assert_int_equal(tu_sqlite_int(db, "PRAGMA user_version"),
			 WAL_SCHEMA_VERSION);
	free(db);
}

static void test_migrate_empty_file(void **state)
{
	struct tu_fx *fx = *state;
	struct wal_memory m = {.category = "fact",
			       .key = "k",
			       .content = "an ocelot sleeps",
			       .confidence = 0.5};
	char *sdir = tu_path("%s/.smithers", fx->dir);
	char *db = tu_path("%s/smithers.db", sdir);
	struct tu_rows r = {0};
	struct wal *w;
	char *v;

	assert_int_equal(mkdir(sdir, 0700), 0);
	tu_write_file(db, "", 0);
	w = tu_open(fx->dir, NULL);
	assert_int_equal(wal_schema_version(w), WAL_SCHEMA_VERSION);
	assert_tables(w);
	assert_int_equal(wal_state_set(w, "k", "[1,2]", "t", 0), 0);
	v = wal_state_get(w, "k");
	assert_string_equal(v, "[1,2]");
	free(v);
	assert_true(wal_memory_add(w, &m) > 0);
	assert_int_equal(
		wal_memory_search(w, "ocelot", NULL, 0, tu_collect, &r), 0);
	assert_int_equal(r.n, 1);
	tu_rows_free(&r);
	wal_close(w);
	assert_int_equal(tu_sqlite_int(db, "PRAGMA user_version"),
			 WAL_SCHEMA_VERSION);
	free(db);
	free(sdir);
}

/* From version 2, through every migration since: each keeps what the
 * versions before it wrote. */
static void test_migrate_from_previous(void **state)
{
	struct tu_fx *fx = *state;
	struct wal_options old = {.create = 1, .target_version = 2};
	struct wal_memory m = {.category = "fact",
			       .scope = "project",
			       .key = "animal",
			       .content = "the zebra crosses the road",
			       .confidence = 0.8};
	struct wal_memory m2 = {.category = "learning",
				.key = "later",
				.content = "a zebra again",
				.confidence = 0.3};
	char *db = tu_path("%s/.smithers/smithers.db", fx->dir);
	struct tu_rows r = {0};
	int64_t exec, mem;
	struct wal *w;
	char *v;

	w = tu_open(fx->dir, &old);
	assert_int_equal(wal_schema_version(w), 2);
	exec = wal_execution_start(w, "old run", "wf.ini", "{}");
	assert_true(exec > 0);
	mem = wal_memory_add(w, &m);
	assert_true(mem > 0);
	wal_close(w);
	assert_int_equal(tu_sqlite_int(db, "PRAGMA user_version"), 2);
	/* History as version 2 wrote it: "plan" set twice, "gone" set then
	 * deleted, "plan" again; version 3 must chain each key's own. */
	tu_sqlite_exec(
		db,
		"INSERT INTO transitions(execution_id, key, old_value,"
		" new_value, trigger, created_at) VALUES"
		" (1, 'plan', NULL, '{\"step\":1}', 't', 'x'),"
		" (1, 'gone', NULL, '1', 't', 'x'),"
		" (1, 'plan', '{\"step\":1}', '{\"step\":2}', 't', 'x'),"
		" (1, 'gone', '1', NULL, 't', 'x'),"
		" (1, 'plan', '{\"step\":2}', '{\"step\":3}', 't', 'x');"
		"INSERT INTO state(key, value, updated_at)"
		" VALUES ('plan', '{\"step\":3}', 'x');");

	w = tu_open(fx->dir, NULL);
	assert_int_equal(wal_schema_version(w), WAL_SCHEMA_VERSION);
	v = wal_state_get(w, "plan");
	assert_string_equal(v, "{\"step\":3}");
	free(v);
	assert_int_equal(wal_state_history(w, "plan", 0, tu_collect, &r), 0);
	assert_int_equal(r.n, 3);
	assert_int_equal(tu_int(&r, 0, "id"), 5);
	assert_int_equal(tu_int(&r, 1, "id"), 3);
	assert_int_equal(tu_int(&r, 2, "id"), 1);
	assert_int_equal(tu_int(&r, 0, "execution_id"), exec);
	tu_rows_free(&r);
	/* A deleted key's history is found, and goes on when it is set. */
	assert_int_equal(wal_state_history(w, "gone", 0, tu_collect, &r), 0);
	assert_int_equal(r.n, 2);
	assert_int_equal(tu_int(&r, 0, "id"), 4);
	tu_rows_free(&r);
	assert_int_equal(wal_state_set(w, "gone", "2", "t", 0), 0);
	assert_int_equal(wal_state_history(w, "gone", 0, tu_collect, &r), 0);
	assert_int_equal(r.n, 3);
	assert_int_equal(tu_int(&r, 1, "id"), 4);
	tu_rows_free(&r);
	assert_int_equal(tu_query_int(w, "SELECT count(*) FROM deleted_state"),
			 0);
	assert_int_equal(wal_state_set(w, "plan", "4", "t", 0), 0);
	assert_int_equal(tu_query_int(w, "SELECT prev_id FROM transitions"
					 " WHERE new_value = '4'"),
			 5);
	assert_int_equal(wal_execution_get(w, exec, tu_collect, &r), 0);
	assert_int_equal(r.n, 1);
	/* Version 4: an execution of before was never resumed. */
	assert_int_equal(tu_int(&r, 0, "recoveries"), 0);
	assert_null(tu_val(&r, 0, "boot_id"));
	tu_rows_free(&r);
	/* A memory written before the migration is found by full-text
	 * search after it, next to one written after. */
	assert_true(wal_memory_add(w, &m2) > 0);
	assert_int_equal(wal_memory_search(w, "zebra", NULL, 0, tu_collect, &r),
			 0);
	assert_int_equal(r.n, 2);
	assert_true(tu_find(&r, "key", "animal") >= 0);
	assert_true(tu_find(&r, "key", "later") >= 0);
	tu_rows_free(&r);
	assert_int_equal(
		wal_memory_search(w, "crosses", NULL, 0, tu_collect, &r), 0);
	assert_int_equal(r.n, 1);
	assert_int_equal(tu_int(&r, 0, "id"), mem);
	tu_rows_free(&r);
	wal_close(w);
	assert_int_equal(tu_sqlite_int(db, "PRAGMA user_version"),
			 WAL_SCHEMA_VERSION);
	free(db);
}

/* A version-4 database (before agent CLIs): its rows get version 5's
 * defaults - command agents, nothing cached, no cost known (version 6), no
 * budget, tool calls outside any other - and the new columns work on them.
 */
static void test_migrate_from_4(void **state)
{
	struct tu_fx *fx = *state;
	struct wal_options old = {.create = 1, .target_version = 4};
	struct wal_usage u = {1, 2, 3, 4, 0.25, 0, 0, 1};
	char *db = tu_path("%s/.smithers/smithers.db", fx->dir);
	struct tu_rows r = {0};
	int64_t e, a, t, child;
	struct wal *w;
	char *v;

	w = tu_open(fx->dir, &old);
	assert_int_equal(wal_schema_version(w), 4);
	wal_close(w);
	/* Rows as version 4 wrote them (this build writes version 5's). */
	tu_sqlite_exec(db,
		       "INSERT INTO executions(id, name, status, created_at,"
		       " tokens_in) VALUES (1, 'old run', 'completed', 'x', 10);"
		       "INSERT INTO agents(id, execution_id, name, status,"
		       " tokens_in) VALUES (1, 1, 'old agent', 'completed', 10);"
		       "INSERT INTO tool_calls(id, agent_id, execution_id,"
		       " tool_name, started_at) VALUES (1, 1, 1, 'bash', 'x')");
	e = a = t = 1;
	assert_int_equal(tu_sqlite_int(db, "SELECT count(*) FROM"
					   " pragma_table_info('agents')"
					   " WHERE name = 'kind'"),
			 0);

	w = tu_open(fx->dir, NULL);
	assert_int_equal(wal_schema_version(w), WAL_SCHEMA_VERSION);
	assert_int_equal(wal_agent_list(w, e, tu_collect, &r), 0);
	assert_int_equal(r.n, 1);
	assert_string_equal(tu_val(&r, 0, "kind"), "command");
	assert_null(tu_val(&r, 0, "session_id"));
	assert_null(tu_val(&r, 0, "cli_version"));
	assert_null(tu_val(&r, 0, "tools"));
	assert_null(tu_val(&r, 0, "resume_prompt"));
	assert_int_equal(tu_int(&r, 0, "resumes"), 0);
	assert_int_equal(tu_int(&r, 0, "cache_read_tokens"), 0);
	assert_int_equal(tu_int(&r, 0, "cache_write_tokens"), 0);
	assert_int_equal(tu_int(&r, 0, "tokens_in"), 10);
	assert_null(tu_val(&r, 0, "cost_usd"));
	assert_int_equal(tu_int(&r, 0, "reasoning_tokens"), 0);
	tu_rows_free(&r);
	assert_int_equal(wal_execution_get(w, e, tu_collect, &r), 0);
	assert_int_equal(tu_int(&r, 0, "cache_read_tokens"), 0);
	assert_int_equal(tu_int(&r, 0, "cache_write_tokens"), 0);
	assert_null(tu_val(&r, 0, "cost_usd"));
	assert_null(tu_val(&r, 0, "max_cost_usd"));
	tu_rows_free(&r);
	assert_int_equal(wal_tool_list(w, 0, 0, tu_collect, &r), 0);
	assert_int_equal(r.n, 1);
	assert_null(tu_val(&r, 0, "external_id"));
	assert_null(tu_val(&r, 0, "parent_id"));
	tu_rows_free(&r);

	/* The old rows take the new writes. */
	assert_int_equal(wal_agent_add_usage(w, a, &u), 0);
	assert_int_equal(tu_query_int(w, "SELECT tokens_in + cache_write_tokens"
					 " FROM executions"),
			 15);
	v = tu_query1(w, "SELECT printf('%%.2f', cost_usd) FROM executions");
	assert_string_equal(v, "0.25");
	free(v);
	child = wal_tool_start_ref(w, a, "read", NULL, "ref-1", t);
	assert_true(child > 0);
	assert_int_equal(tu_query_int(w, "SELECT count(*) FROM tool_calls"
					 " WHERE parent_id = %lld",
				      (long long)t),
			 1);
	assert_int_equal(tu_query_int(w, "SELECT count(*) FROM sqlite_master"
					 " WHERE name = 'tool_calls_parent'"),
			 1);
	wal_close(w);
	assert_int_equal(tu_sqlite_int(db, "PRAGMA user_version"),
			 WAL_SCHEMA_VERSION);
	free(db);
}

/* The rows version 5 wrote, one of each kind that refers to an agent or an
 * execution: execution 1 with a claude agent that spent and a command
 * agent, execution 2 with a command agent alone. */
static const char v5_rows[] =
	"INSERT INTO executions(id, name, status, created_at, tokens_in,"
	" cost_usd, max_cost_usd) VALUES (1, 'mixed', 'completed', 'x', 30,"
	" 0.5, 2.0), (2, 'plain', 'completed', 'x', 5, 0, NULL);"
	"INSERT INTO phases(id, execution_id, name) VALUES (1, 1, 'work'),"
	" (2, 2, 'work');"
	"INSERT INTO agents(id, execution_id, phase_id, name, status, kind,"
	" tokens_in, cost_usd) VALUES"
	" (1, 1, 1, 'claude', 'completed', 'claude', 20, 0.5),"
	" (2, 1, 1, 'script', 'completed', 'command', 10, 0),"
	" (3, 2, 2, 'script', 'completed', 'command', 5, 0);"
	"INSERT INTO tool_calls(id, agent_id, execution_id, tool_name,"
	" started_at) VALUES (1, 1, 1, 'Task', 'x'), (3, 3, 2, 'bash', 'x');"
	"INSERT INTO tool_calls(id, agent_id, execution_id, tool_name,"
	" started_at, parent_id) VALUES (2, 1, 1, 'Read', 'x', 1);"
	"INSERT INTO state(key, value, updated_at, updated_by)"
	" VALUES ('k', '1', 'x', 2);"
	"INSERT INTO transitions(id, execution_id, key, new_value, agent_id,"
	" created_at) VALUES (1, 1, 'k', '1', 2, 'x');"
	"INSERT INTO artifacts(id, execution_id, agent_id, name, file_path,"
	" created_at) VALUES (1, 1, 1, 'out', 'out.txt', 'x');"
	"INSERT INTO memories(category, key, content, source_execution_id,"
	" created_at, updated_at) VALUES ('fact', 'm', 'c', 2, 'x', 'x');";

/*
 * A version-5 database: agents and executions are built again with a
 * nullable cost. A claude agent keeps its cost, a command agent's 0 is
 * unknown, and so is the cost of an execution none of whose agents has one;
 * every row that referred to them still does, the references name the new
 * tables (deleting cascades as before), and foreign keys are on again.
 */
static void test_migrate_from_5(void **state)
{
	struct tu_fx *fx = *state;
	struct wal_options old = {.create = 1, .target_version = 5};
	char *db = tu_path("%s/.smithers/smithers.db", fx->dir);
	struct tu_rows r = {0};
	struct wal *w;
	char *v;

	w = tu_open(fx->dir, &old);
	assert_int_equal(wal_schema_version(w), 5);
	wal_close(w);
	tu_sqlite_exec(db, v5_rows);

	w = tu_open(fx->dir, NULL);
	assert_int_equal(wal_schema_version(w), WAL_SCHEMA_VERSION);
	assert_int_equal(tu_query_int(w, "PRAGMA foreign_keys"), 1);
	assert_int_equal(tu_query_int(w, "SELECT count(*) FROM"
					 " pragma_foreign_key_check"),
			 0);
	assert_int_equal(tu_query_int(w, "SELECT count(*) FROM sqlite_master"
					 " WHERE name GLOB '*_6'"),
			 0);
	/* The indexes are back. */
	assert_int_equal(tu_query_int(w, "SELECT count(*) FROM sqlite_master"
					 " WHERE type = 'index' AND name IN"
					 " ('agents_execution', 'agents_phase',"
					 " 'agents_status', 'executions_status',"
					 " 'executions_started')"),
			 5);

	assert_int_equal(wal_agent_list(w, 0, tu_collect, &r), 0);
	assert_int_equal(r.n, 3);
	assert_string_equal(tu_val(&r, 0, "kind"), "claude");
	assert_string_equal(tu_val(&r, 0, "cost_usd"), "0.5");
	assert_null(tu_val(&r, 1, "cost_usd"));
	assert_null(tu_val(&r, 2, "cost_usd"));
	for (int i = 0; i < 3; i++)
		assert_int_equal(tu_int(&r, i, "reasoning_tokens"), 0);
	assert_int_equal(tu_int(&r, 0, "tokens_in"), 20);
	assert_int_equal(tu_int(&r, 0, "phase_id"), 1);
	tu_rows_free(&r);
	assert_int_equal(wal_execution_get(w, 1, tu_collect, &r), 0);
	assert_string_equal(tu_val(&r, 0, "cost_usd"), "0.5");
	assert_string_equal(tu_val(&r, 0, "max_cost_usd"), "2.0");
	assert_int_equal(tu_int(&r, 0, "tokens_in"), 30);
	assert_int_equal(tu_int(&r, 0, "reasoning_tokens"), 0);
	tu_rows_free(&r);
	assert_int_equal(wal_execution_get(w, 2, tu_collect, &r), 0);
	assert_null(tu_val(&r, 0, "cost_usd"));
	tu_rows_free(&r);
	assert_int_equal(tu_query_int(w, "SELECT tokens_in + tokens_out FROM"
					 " executions WHERE id = 2"),
			 5);

	/* What referred to them still does. */
	assert_int_equal(tu_query_int(w, "SELECT count(*) FROM tool_calls"),
			 3);
	assert_int_equal(tu_query_int(w, "SELECT updated_by FROM state"), 2);
	assert_int_equal(tu_query_int(w, "SELECT agent_id FROM transitions"),
			 2);
	assert_int_equal(tu_query_int(w, "SELECT agent_id FROM artifacts"), 1);
	assert_int_equal(tu_query_int(w, "SELECT source_execution_id"
					 " FROM memories"),
			 2);
	v = tu_query1(w, "SELECT group_concat(\"table\" || '.' || \"from\")"
			 " FROM (SELECT * FROM pragma_foreign_key_list("
			 "'tool_calls') ORDER BY \"from\")");
	assert_string_equal(v, "agents.agent_id,executions.execution_id,"
			       "tool_calls.parent_id");
	free(v);
	wal_close(w);

	/* The references act on the new tables: an execution deleted takes
	 * its agents, their tool calls, and unlinks the state's writer. */
	tu_sqlite_exec(db, "PRAGMA foreign_keys = ON;"
			   "DELETE FROM executions WHERE id = 1;");
	assert_int_equal(tu_sqlite_int(db, "SELECT count(*) FROM agents"), 1);
	assert_int_equal(tu_sqlite_int(db, "SELECT count(*) FROM tool_calls"),
			 1);
	assert_int_equal(tu_sqlite_int(db, "SELECT count(*) FROM state"
					   " WHERE updated_by IS NULL"),
			 1);
	assert_int_equal(tu_sqlite_int(db, "SELECT count(*) FROM artifacts"),
			 0);
	free(db);
}

/*
 * A version-6 database: executions gain containment, agents mem_peak and
 * cpu_usec, all NULL (not recorded) for the rows that were there; the rows
 * keep what they had.
 */
static void test_migrate_from_6(void **state)
{
	struct tu_fx *fx = *state;
	struct wal_options old = {.create = 1, .target_version = 6};
	char *db = tu_path("%s/.smithers/smithers.db", fx->dir);
	struct tu_rows r = {0};
	struct wal *w;

	w = tu_open(fx->dir, &old);
	assert_int_equal(wal_schema_version(w), 6);
	wal_close(w);
	assert_int_equal(tu_sqlite_int(db, "SELECT count(*) FROM"
					   " pragma_table_info('agents')"
					   " WHERE name IN ('mem_peak',"
					   " 'cpu_usec')"),
			 0);
	tu_sqlite_exec(db, "INSERT INTO executions(id, name, status,"
			   " created_at, cost_usd) VALUES (1, 'old',"
			   " 'completed', 'x', 0.5);"
			   "INSERT INTO agents(id, execution_id, name, status,"
			   " kind, tokens_in, cost_usd) VALUES (1, 1, 'a',"
			   " 'completed', 'claude', 20, 0.5);");

	w = tu_open(fx->dir, NULL);
	assert_int_equal(wal_schema_version(w), WAL_SCHEMA_VERSION);
	assert_int_equal(wal_agent_list(w, 0, tu_collect, &r), 0);
	assert_int_equal(r.n, 1);
	assert_null(tu_val(&r, 0, "mem_peak"));
	assert_null(tu_val(&r, 0, "cpu_usec"));
	assert_int_equal(tu_int(&r, 0, "tokens_in"), 20);
	assert_string_equal(tu_val(&r, 0, "cost_usd"), "0.5");
	tu_rows_free(&r);
	assert_int_equal(wal_execution_get(w, 1, tu_collect, &r), 0);
	assert_true(tu_find(&r, "name", "old") == 0);
	assert_null(tu_val(&r, 0, "containment"));
	tu_rows_free(&r);
	/* The new columns take values. */
	assert_int_equal(wal_agent_resources(w, 1, 4096, 99), 0);
	assert_int_equal(wal_execution_containment(w, 1, "cgroup"), 0);
	assert_int_equal(tu_query_int(w, "SELECT mem_peak + cpu_usec FROM"
					 " agents WHERE id = 1"),
			 4096 + 99);
	wal_close(w);
	free(db);
}

/*
 * A version-7 database: the fleet's outbox and cursors come, empty, and no
 * trigger with them (shipping is off); turned on, it takes the rows that
 * were there.
 */
static void test_migrate_from_7(void **state)
{
	struct tu_fx *fx = *state;
	struct wal_options old = {.create = 1, .target_version = 7};
	char *db = tu_path("%s/.smithers/smithers.db", fx->dir);
	struct wal *w;

	w = tu_open(fx->dir, &old);
	assert_int_equal(wal_schema_version(w), 7);
	assert_true(wal_execution_start(w, "old", "wf.ini", NULL) > 0);
	wal_close(w);
	assert_int_equal(tu_sqlite_int(db, "SELECT count(*) FROM sqlite_master"
					   " WHERE name LIKE 'fleet%'"),
			 0);

	w = tu_open(fx->dir, NULL);
	assert_int_equal(wal_schema_version(w), WAL_SCHEMA_VERSION);
	assert_int_equal(tu_query_int(w, "SELECT count(*) FROM sqlite_master"
					 " WHERE type = 'table'"
					 " AND name LIKE 'fleet%%'"),
			 3);
	assert_int_equal(tu_query_int(w, "SELECT count(*) FROM sqlite_master"
					 " WHERE type = 'trigger'"
					 " AND name LIKE 'fleet%%'"),
			 0);
	assert_int_equal(wal_fleet_enabled(w), 0);
	assert_true(wal_execution_start(w, "new", "wf.ini", NULL) > 0);
	assert_int_equal(tu_query_int(w, "SELECT count(*) FROM fleet_outbox"),
			 0);
	assert_int_equal(wal_fleet_enable(w), 1);
	assert_int_equal(tu_query_int(w, "SELECT count(*) FROM fleet_outbox"
					 " WHERE tbl = 'executions'"),
			 2);
	wal_close(w);
	free(db);
}

/*
 * Version 8 to 9: a store that ships keeps its outbox and cursors, and
 * gains fleet_verified, empty: verifying starts at the shipping cursors.
 */
static void test_migrate_from_8(void **state)
{
	struct tu_fx *fx = *state;
	struct wal_options old = {.create = 1, .target_version = 8};
	char *db = tu_path("%s/.smithers/smithers.db", fx->dir);
	struct wal *w;

	w = tu_open(fx->dir, &old);
	assert_int_equal(wal_schema_version(w), 8);
	wal_close(w);
	/* Shipping as version 8 left it: one entry shipped, one not. */
	tu_sqlite_exec(db, "INSERT INTO fleet_cursor (name, shipped)"
			   " VALUES ('outbox', 1), ('transitions', 0);"
			   " INSERT INTO fleet_outbox (tbl, row_id, at_ms)"
			   " VALUES ('executions', 1, 0), ('executions', 2, 0)");

	w = tu_open(fx->dir, NULL);
	assert_int_equal(wal_schema_version(w), WAL_SCHEMA_VERSION);
	assert_int_equal(tu_query_int(w, "SELECT count(*) FROM fleet_verified"),
			 0);
	assert_int_equal(tu_query_int(w, "SELECT shipped FROM fleet_cursor"
					 " WHERE name = 'outbox'"),
			 1);
	/* Verifying starts where shipping is. */
	assert_int_equal(wal_fleet_verify(w, 1), 0);
	assert_int_equal(tu_query_int(w, "SELECT verified FROM fleet_verified"
					 " WHERE name = 'outbox'"),
			 1);
	assert_int_equal(wal_fleet_verified(w, 2, 0), 0);
	assert_int_equal(tu_query_int(w, "SELECT count(*) FROM fleet_outbox"),
			 1);
	wal_close(w);
	free(db);
}

/* A migration that would leave a dangling reference is rolled back whole:
 * the database stays at its version with its rows. */
static void test_migrate_foreign_key_check(void **state)
{
	struct tu_fx *fx = *state;
	struct wal_options old = {.create = 1, .target_version = 5};
	char *db = tu_path("%s/.smithers/smithers.db", fx->dir);
	struct wal *w = NULL;

	w = tu_open(fx->dir, &old);
	wal_close(w);
	/* An agent of an execution that is not there (foreign keys off). */
	tu_sqlite_exec(db, "INSERT INTO agents(id, execution_id, name)"
			   " VALUES (1, 42, 'orphan')");
	assert_int_equal(wal_open(fx->dir, NULL, &w), -1);
	assert_int_equal(errno, EIO);
	assert_non_null(strstr(wal_errmsg(w), "foreign key"));
	wal_close(w);
	assert_int_equal(tu_sqlite_int(db, "PRAGMA user_version"), 5);
	assert_int_equal(tu_sqlite_int(db, "SELECT count(*) FROM agents"), 1);
	assert_int_equal(tu_sqlite_int(db, "SELECT count(*) FROM sqlite_master"
					   " WHERE name = 'agents_6'"),
			 0);
	free(db);
}

static void test_open_newer_schema_eproto(void **state)
{
	struct tu_fx *fx = *state;
	struct wal_options ro = {.readonly = 1};
	char *db = tu_path("%s/.smithers/smithers.db", fx->dir);
	char sql[64];
	struct wal *w = NULL;

	wal_close(fx->w);
	fx->w = NULL;
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d",
		 WAL_SCHEMA_VERSION + 1);
	tu_sqlite_exec(db, sql);

	errno = 0;
	assert_int_equal(wal_open(fx->dir, NULL, &w), -1);
	assert_int_equal(errno, EPROTO);
	assert_non_null(w);
	assert_true(strlen(wal_errmsg(w)) > 0);
	wal_close(w);
	w = NULL;
	errno = 0;
	assert_int_equal(wal_open(fx->dir, &ro, &w), -1);
	assert_int_equal(errno, EPROTO);
	wal_close(w);
	/* Not "migrated" down, not touched. */
	assert_int_equal(tu_sqlite_int(db, "PRAGMA user_version"),
			 WAL_SCHEMA_VERSION + 1);
	free(db);
}

/* Someone else's SQLite database (tables, user_version 0) in place of ours
 * is refused by writers and readers alike, and never migrated. */
static void test_open_foreign_database(void **state)
{
	struct tu_fx *fx = *state;
	struct wal_options create = {.create = 1}, ro = {.readonly = 1};
	char *sdir = tu_path("%s/.smithers", fx->dir);
	char *db = tu_path("%s/smithers.db", sdir);
	struct wal *w = NULL;

	assert_int_equal(mkdir(sdir, 0700), 0);
	tu_write_file(db, "", 0);
	tu_sqlite_exec(db,
		       "CREATE TABLE theirs(x); INSERT INTO theirs VALUES (1)");
	errno = 0;
	assert_int_equal(wal_open(fx->dir, &create, &w), -1);
	assert_int_equal(errno, EPROTO);
	assert_non_null(strstr(wal_errmsg(w), "not a smithers one"));
	wal_close(w);
	w = NULL;
	errno = 0;
	assert_int_equal(wal_open(fx->dir, &ro, &w), -1);
	assert_int_equal(errno, EPROTO);
	wal_close(w);
	assert_int_equal(
		tu_sqlite_int(db, "SELECT count(*) FROM sqlite_schema"), 1);
	assert_int_equal(tu_sqlite_int(db, "PRAGMA user_version"), 0);
	free(db);
	free(sdir);
}

static void test_custom_schema_ok(void **state)
{
	struct tu_fx *fx = *state;
	struct wal_options o = {
		.custom_schema =
			"CREATE TABLE IF NOT EXISTS extra(id INTEGER PRIMARY "
			"KEY, v TEXT);\n"
			"CREATE INDEX IF NOT EXISTS extra_v ON extra(v);"};
	char *db = tu_path("%s/.smithers/smithers.db", fx->dir);
	struct wal *w;

	wal_close(fx->w);
	fx->w = NULL;
	w = tu_open(fx->dir, &o);
	assert_int_equal(tu_query_int(w, "SELECT count(*) FROM sqlite_master "
					 "WHERE name IN ('extra', 'extra_v')"),
			 2);
	assert_int_equal(tu_query_int(w, "SELECT count(*) FROM extra"), 0);
	wal_close(w);
	tu_sqlite_exec(db, "INSERT INTO extra(v) VALUES ('kept')");
	/* Applied again at the next open: idempotent SQL is harmless. */
	w = tu_open(fx->dir, &o);
	assert_int_equal(tu_query_int(w, "SELECT count(*) FROM extra "
					 "WHERE v = 'kept'"),
			 1);
	assert_int_equal(wal_schema_version(w), WAL_SCHEMA_VERSION);
	wal_close(w);
	free(db);
}

/* Open with the custom schema SQL, which must fail with a message
 * containing WANT, and check the database was left as it was. */
static void custom_fails(struct tu_fx *fx, const char *sql, const char *want,
			 const char *table)
{
	struct wal_options o = {.custom_schema = sql};
	char *db = tu_path("%s/.smithers/smithers.db", fx->dir);
	char *q = tu_path("SELECT count(*) FROM sqlite_master WHERE name = "
			  "'%s'",
			  table);
	struct wal *w = NULL;
	char *v;

	assert_int_equal(wal_open(fx->dir, &o, &w), -1);
	assert_non_null(w);
	if (!strstr(wal_errmsg(w), want))
		fail_msg("errmsg '%s' lacks SQLite's '%s'", wal_errmsg(w),
			 want);
	wal_close(w);
	assert_int_equal(tu_sqlite_int(db, q), 0);
	assert_int_equal(tu_sqlite_int(db, "PRAGMA user_version"),
			 WAL_SCHEMA_VERSION);
	assert_int_equal(tu_sqlite_int(db, "SELECT count(*) FROM state"), 1);
	/* And the store still opens without it. */
	w = tu_open(fx->dir, NULL);
	v = wal_state_get(w, "keep");
	assert_string_equal(v, "true");
	free(v);
	wal_close(w);
	free(q);
	free(db);
}

static void test_custom_schema_syntax_error(void **state)
{
	struct tu_fx *fx = *state;

	assert_int_equal(wal_state_set(fx->w, "keep", "true", NULL, 0), 0);
	wal_close(fx->w);
	fx->w = NULL;
	/* The first statement is fine and runs before the second fails. */
	custom_fails(fx,
		     "CREATE TABLE IF NOT EXISTS good1(x);\n"
		     "CREATE TABL oops(y);",
		     "syntax error", "good1");
}

static void test_custom_schema_failing_statement(void **state)
{
	struct tu_fx *fx = *state;

	assert_int_equal(wal_state_set(fx->w, "keep", "true", NULL, 0), 0);
	wal_close(fx->w);
	fx->w = NULL;
	custom_fails(fx,
		     "CREATE TABLE IF NOT EXISTS half(x UNIQUE);\n"
		     "INSERT INTO half VALUES (1);\n"
		     "INSERT INTO half VALUES (1);",
		     "UNIQUE constraint failed", "half");
	custom_fails(fx,
		     "CREATE TABLE IF NOT EXISTS half2(x);\n"
		     "INSERT INTO nosuch VALUES (1);",
		     "no such table", "half2");
}

static void test_batch_commit(void **state)
{
	struct tu_fx *fx = *state;
	struct wal_options ro = {.readonly = 1};
	struct wal *r = tu_open(fx->dir, &ro);
	char *v;

	assert_int_equal(wal_in_batch(fx->w), 0);
	assert_int_equal(wal_batch_begin(fx->w), 0);
	assert_true(wal_in_batch(fx->w));
	errno = 0;
	assert_int_equal(wal_batch_begin(fx->w), -1);
	assert_int_equal(errno, EBUSY);
	assert_true(wal_in_batch(fx->w));
	assert_int_equal(wal_state_set(fx->w, "a", "1", NULL, 0), 0);
	assert_int_equal(wal_state_set(fx->w, "b", "2", NULL, 0), 0);
	/* Visible to the batch, not yet to another connection. */
	v = wal_state_get(fx->w, "a");
	assert_string_equal(v, "1");
	free(v);
	errno = 0;
	assert_null(wal_state_get(r, "a"));
	assert_int_equal(errno, ENOENT);
	assert_int_equal(wal_batch_commit(fx->w), 0);
	assert_int_equal(wal_in_batch(fx->w), 0);
	v = wal_state_get(r, "a");
	assert_string_equal(v, "1");
	free(v);
	v = wal_state_get(r, "b");
	assert_string_equal(v, "2");
	free(v);
	wal_close(r);
}

static void test_batch_rollback(void **state)
{
	struct tu_fx *fx = *state;
	char *v;

	assert_int_equal(wal_state_set(fx->w, "a", "1", NULL, 0), 0);
	assert_int_equal(wal_batch_begin(fx->w), 0);
	assert_int_equal(wal_state_set(fx->w, "a", "2", NULL, 0), 0);
	assert_int_equal(wal_state_set(fx->w, "c", "3", NULL, 0), 0);
	assert_int_equal(wal_batch_rollback(fx->w), 0);
	assert_int_equal(wal_in_batch(fx->w), 0);
	v = wal_state_get(fx->w, "a");
	assert_string_equal(v, "1");
	free(v);
	errno = 0;
	assert_null(wal_state_get(fx->w, "c"));
	assert_int_equal(errno, ENOENT);
	/* A new batch can start after the rollback. */
	assert_int_equal(wal_batch_begin(fx->w), 0);
	assert_int_equal(wal_state_set(fx->w, "d", "4", NULL, 0), 0);
	assert_int_equal(wal_batch_commit(fx->w), 0);
	v = wal_state_get(fx->w, "d");
	assert_string_equal(v, "4");
	free(v);
}

static void test_close_rolls_back_batch(void **state)
{
	struct tu_fx *fx = *state;

	assert_int_equal(wal_batch_begin(fx->w), 0);
	assert_int_equal(wal_state_set(fx->w, "lost", "1", NULL, 0), 0);
	wal_close(fx->w);
	fx->w = tu_open(fx->dir, NULL);
	errno = 0;
	assert_null(wal_state_get(fx->w, "lost"));
	assert_int_equal(errno, ENOENT);
	assert_int_equal(tu_query_int(fx->w, "SELECT count(*) FROM "
					     "transitions"),
			 0);
	/* close(NULL) is a no-op. */
	wal_close(NULL);
}

struct stopper {
	int calls;
	int stop_at;
};

static int stop_fn(const struct wal_row *row, void *arg)
{
	struct stopper *s = arg;

	(void)row;
	return ++s->calls == s->stop_at ? 42 : 0;
}

static void test_query_rows(void **state)
{
	struct tu_fx *fx = *state;
	struct stopper s = {0, 2};
	struct tu_rows r = {0};

	assert_int_equal(wal_query(fx->w,
				   "SELECT 7 AS i, 'txt' AS t, NULL AS n, "
				   "1.5 AS f",
				   tu_collect, &r),
			 0);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.rows[0].ncols, 4);
	assert_string_equal(r.rows[0].names[0], "i");
	assert_string_equal(r.rows[0].names[3], "f");
	assert_string_equal(tu_val(&r, 0, "i"), "7");
	assert_string_equal(tu_val(&r, 0, "t"), "txt");
	assert_null(tu_val(&r, 0, "n"));
	assert_string_equal(tu_val(&r, 0, "f"), "1.5");
	assert_int_equal(r.rows[0].types[0], WAL_INTEGER);
	assert_int_equal(r.rows[0].types[1], WAL_TEXT);
	assert_int_equal(r.rows[0].types[2], WAL_NULL);
	assert_int_equal(r.rows[0].types[3], WAL_REAL);
	tu_rows_free(&r);

	/* Several statements. */
	assert_int_equal(wal_query(fx->w, "SELECT 1 AS x; SELECT 2 AS x;",
				   tu_collect, &r),
			 0);
	assert_int_equal(r.n, 2);
	assert_string_equal(tu_val(&r, 1, "x"), "2");
	tu_rows_free(&r);

	/* The callback's non-zero value stops the read and is returned. */
	assert_int_equal(wal_query(fx->w,
				   "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL "
				   "SELECT x + 1 FROM c WHERE x < 5) "
				   "SELECT x FROM c",
				   stop_fn, &s),
			 42);
	assert_int_equal(s.calls, 2);

	/* Bad SQL fails with SQLite's message, without a crash. */
	assert_int_equal(wal_query(fx->w, "SELEC nonsense", tu_collect, &r),
			 -1);
	assert_non_null(strstr(wal_errmsg(fx->w), "syntax error"));
	assert_int_equal(r.n, 0);
}

static void test_query_refuses_writes(void **state)
{
	static const char *const writes[] = {
		"DELETE FROM state",
		"UPDATE state SET value = '2'",
		"INSERT INTO state(key, value) VALUES ('x', '1')",
		"DROP TABLE transitions",
		"CREATE TABLE evil(x)",
		"PRAGMA user_version = 99",
		"VACUUM",
		"SELECT 1; DELETE FROM state",
	};
	struct tu_fx *fx = *state;
	struct tu_rows r = {0};
	size_t i;
	char *v;

	assert_int_equal(wal_state_set(fx->w, "k", "1", NULL, 0), 0);
	for (i = 0; i < sizeof(writes) / sizeof(writes[0]); i++) {
		errno = 0;
		if (wal_query(fx->w, writes[i], tu_collect, &r) != -1)
			fail_msg("wal_query ran the write '%s'", writes[i]);
		if (errno != EPERM)
			fail_msg("'%s': errno %d, not EPERM", writes[i], errno);
		tu_rows_free(&r);
	}
	v = wal_state_get(fx->w, "k");
	assert_string_equal(v, "1");
	free(v);
	assert_int_equal(tu_query_int(fx->w, "SELECT count(*) FROM state"), 1);
	assert_int_equal(tu_query_int(fx->w, "SELECT count(*) FROM "
					     "transitions"),
			 1);
	assert_int_equal(tu_query_int(fx->w, "SELECT count(*) FROM "
					     "sqlite_master WHERE name = "
					     "'evil'"),
			 0);
	assert_int_equal(wal_schema_version(fx->w), WAL_SCHEMA_VERSION);
	/* The handle still writes through the API afterwards. */
	assert_int_equal(wal_state_set(fx->w, "k2", "2", NULL, 0), 0);
}

static void test_readonly_cannot_write(void **state)
{
	struct tu_fx *fx = *state;
	struct wal_options ro = {.readonly = 1};
	struct wal_memory m = {.category = "fact", .key = "k", .content = "c"};
	struct wal *r;
	char *v;

	assert_int_equal(wal_state_set(fx->w, "k", "1", NULL, 0), 0);
	wal_close(fx->w);
	fx->w = NULL;

	r = tu_open(fx->dir, &ro);
	v = wal_state_get(r, "k");
	assert_string_equal(v, "1");
	free(v);
	assert_int_equal(wal_schema_version(r), WAL_SCHEMA_VERSION);
	assert_int_equal(wal_state_set(r, "x", "2", NULL, 0), -1);
	assert_true(strlen(wal_errmsg(r)) > 0);
	assert_int_equal(wal_state_set(r, "k", "3", NULL, 0), -1);
	assert_int_equal(wal_state_delete(r, "k", NULL, 0), -1);
	assert_int_equal(wal_memory_add(r, &m), -1);
	assert_int_equal(wal_execution_start(r, "e", NULL, NULL), -1);
	wal_close(r);
	/* Read-only implies no reset: the data stays. */
	ro.reset = 1;
	r = tu_open(fx->dir, &ro);
	v = wal_state_get(r, "k");
	assert_string_equal(v, "1");
	free(v);
	wal_close(r);

	fx->w = tu_open(fx->dir, NULL);
	v = wal_state_get(fx->w, "k");
	assert_string_equal(v, "1");
	free(v);
	errno = 0;
	assert_null(wal_state_get(fx->w, "x"));
	assert_int_equal(errno, ENOENT);
	assert_int_equal(tu_query_int(fx->w, "SELECT count(*) FROM "
					     "transitions"),
			 1);
	assert_int_equal(tu_query_int(fx->w, "SELECT count(*) FROM "
					     "memories"),
			 0);
	assert_int_equal(tu_query_int(fx->w, "SELECT count(*) FROM "
					     "executions"),
			 0);
}

static off_t size_of(const char *path)
{
	struct stat st;

	return stat(path, &st) < 0 ? 0 : st.st_size;
}

static void test_stats(void **state)
{
	struct tu_fx *fx = *state;
	struct wal_agent_spec spec = {.name = "a"};
	struct wal_memory m = {.category = "skill", .key = "k", .content = "c"};
	char *file = tu_path("%s/notes.txt", fx->dir);
	char *db = tu_path("%s/.smithers/smithers.db", fx->dir);
	char *wal = tu_path("%s/.smithers/smithers.db-wal", fx->dir);
	struct wal_stats st;
	int64_t e, p, a;

	tu_write_file(file, "x\n", 2);
	e = wal_execution_start(fx->w, "e", NULL, NULL);
	p = wal_phase_start(fx->w, e, "p", 0);
	a = wal_agent_start(fx->w, e, p, &spec);
	assert_true(e > 0 && p > 0 && a > 0);
	assert_true(wal_tool_start(fx->w, a, "bash", NULL) > 0);
	assert_true(wal_memory_add(fx->w, &m) > 0);
	assert_true(wal_artifact_add(fx->w, a, "notes", NULL, file, NULL,
				     NULL) > 0);
	assert_int_equal(wal_state_set(fx->w, "a", "1", NULL, 0), 0);
	assert_int_equal(wal_state_set(fx->w, "b", "1", NULL, 0), 0);
	assert_int_equal(wal_state_set(fx->w, "a", "2", NULL, 0), 0);

	memset(&st, 0xff, sizeof(st));
	assert_int_equal(wal_stats(fx->w, &st), 0);
	assert_int_equal(st.schema_version, WAL_SCHEMA_VERSION);
	assert_int_equal(st.executions, 1);
	assert_int_equal(st.phases, 1);
	assert_int_equal(st.agents, 1);
	assert_int_equal(st.tool_calls, 1);
	assert_int_equal(st.state, 2);
	assert_int_equal(st.transitions, 3);
	assert_int_equal(st.memories, 1);
	assert_int_equal(st.artifacts, 1);
	assert_string_equal(st.journal_mode, "wal");
	assert_int_equal(st.page_size, tu_query_int(fx->w, "PRAGMA page_size"));
	assert_true(st.page_count > 0);
	assert_true(st.freelist_count >= 0);
	assert_int_equal(st.db_bytes, size_of(db));
	assert_int_equal(st.wal_bytes, size_of(wal));
	assert_true(st.wal_bytes > 0);
	free(file);
	free(db);
	free(wal);
}

/* In a forked child: acquire must fail, naming PARENT. Exit code says
 * which check failed (no cmocka in the child). */
static int child_expect_busy(const char *dir, pid_t parent)
{
	pid_t h = 0;
	int fd;

	errno = 0;
	fd = wal_lock_acquire(dir, &h);
	if (fd >= 0)
		return 1;
	if (errno != EWOULDBLOCK)
		return 2;
	if (h != parent)
		return 3;
	if (wal_lock_holder(dir) != parent)
		return 4;
	return 0;
}

static int child_expect_free(const char *dir)
{
	pid_t h = 0;
	int fd = wal_lock_acquire(dir, &h);

	if (fd < 0)
		return 1;
	if (wal_lock_holder(dir) != getpid())
		return 2;
	close(fd);
	return 0;
}

static int run_child(const char *dir, int busy)
{
	pid_t parent = getpid(), pid;
	int st;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(busy ? child_expect_busy(dir, parent)
			   : child_expect_free(dir));
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

/* The size of the state dir's file NAME (smithers.db, smithers.db-wal). */
static int64_t state_file_size(const struct tu_fx *fx, const char *name)
{
	char *path = tu_path("%s/.smithers/%s", fx->dir, name);
	struct stat sb;

	assert_int_equal(stat(path, &sb), 0);
	free(path);
	return (int64_t)sb.st_size;
}

/* With the writer's automatic checkpoints off, nothing reaches the database
 * file until the checkpointer thread moves the WAL's pages there; it keeps
 * doing so while the writer commits, and stops cleanly. */
static void test_checkpointer(void **state)
{
	struct tu_fx *fx = *state;
	struct wal_checkpointer *c;
	int64_t before, runs = 0, full = 0;
	char key[32], err[256];

	assert_int_equal(wal_autocheckpoint(fx->w, 0), 0);
	before = state_file_size(fx, "smithers.db");
	assert_int_equal(wal_batch_begin(fx->w), 0);
	for (int i = 0; i < 5000; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		assert_int_equal(wal_state_set(fx->w, key, "[1,2,3]", NULL, 0),
				 0);
	}
	assert_int_equal(wal_batch_commit(fx->w), 0);
	/* Committed, but all of it still in the WAL. */
	assert_int_equal(state_file_size(fx, "smithers.db"), before);

	c = wal_checkpointer_start(fx->dir, 20, err, sizeof(err));
	assert_non_null(c);
	/* Not poked: it sleeps, the store untouched. */
	usleep(100000);
	wal_checkpointer_counts(c, &runs, &full);
	assert_int_equal(runs, 0);
	assert_int_equal(state_file_size(fx, "smithers.db"), before);
	/* A commit pokes it: a checkpoint follows. */
	wal_checkpointer_poke(c);
	for (int i = 0; i < 200 && full == 0; i++) {
		usleep(10000);
		wal_checkpointer_counts(c, &runs, &full);
	}
	assert_true(full >= 1);
	assert_true(state_file_size(fx, "smithers.db") > before + 5000 * 10);
	/* The writer goes on while it runs. */
	assert_int_equal(wal_state_set(fx->w, "after", "true", NULL, 0), 0);
	wal_checkpointer_stop(c);
	wal_checkpointer_stop(NULL);
	assert_int_equal(tu_query_int(fx->w, "SELECT count(*) FROM state"),
			 5001);

	/* A missing state dir is an error, not a thread. */
	errno = 0;
	assert_null(wal_checkpointer_start("/nonexistent-dir", 20, err,
					   sizeof(err)));
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(err, "no smithers state"));
}

/* A writer that never pauses next to the checkpointer: with wal_trim
 * between its transactions the WAL starts again from its beginning and
 * stays near the limit, although far more than that is written through it
 * (without, the file holds every frame: tens of MiB here). */
static void test_wal_trim_bounds_the_wal(void **state)
{
	struct tu_fx *fx = *state;
	struct wal_checkpointer *c;
	int64_t largest = 0, runs = 0, full = 0;
	int restarted = 0;
	char key[32], value[64], err[256];

	c = wal_checkpointer_start(fx->dir, 5, err, sizeof(err));
	assert_non_null(c);
	assert_int_equal(wal_trim(fx->w, 256), 0); /* starts counting */
	for (int turn = 0; turn < 400; turn++) {
		int rc;

		assert_int_equal(wal_batch_begin(fx->w), 0);
		for (int i = 0; i < 200; i++) {
			snprintf(key, sizeof(key), "k%d", (turn * 37 + i) % 3000);
			snprintf(value, sizeof(value), "{\"turn\":%d}", turn);
			assert_int_equal(
				wal_state_set(fx->w, key, value, NULL, 0), 0);
		}
		assert_int_equal(wal_batch_commit(fx->w), 0);
		wal_checkpointer_poke(c);
		rc = wal_trim(fx->w, 256);
		assert_true(rc >= 0);
		restarted += rc;
		if (state_file_size(fx, "smithers.db-wal") > largest)
			largest = state_file_size(fx, "smithers.db-wal");
	}
	wal_checkpointer_counts(c, &runs, &full);
	wal_checkpointer_stop(c);
	assert_true(restarted > 0);
	/* 256 pages of 4 KiB, plus one turn's frames and what the writer
	 * appended before it saw the limit. */
	assert_true(largest < 4 * 1024 * 1024);
	assert_int_equal(tu_query_int(fx->w, "SELECT count(*) FROM transitions"),
			 400 * 200);
}

/* Wait until the syncer's fd says a sync ended; its done ticket. */
static int sync_wait(struct wal_syncer *s, uint64_t *done, char *err,
		     size_t errlen)
{
	struct pollfd p = {.fd = wal_syncer_fd(s), .events = POLLIN};

	assert_int_equal(poll(&p, 1, 5000), 1);
	return wal_syncer_done(s, done, err, errlen);
}

/* Commits no longer wait for the disk; a sync asked for after them
 * completes with its ticket, and stop syncs what is left. */
static void test_syncer(void **state)
{
	struct tu_fx *fx = *state;
	struct wal_syncer *s = wal_syncer_start(fx->w);
	uint64_t t1, t2, done = 0;
	char err[256];

	assert_non_null(s);
	assert_int_equal(tu_query_int(fx->w, "PRAGMA synchronous"), 1);
	assert_int_equal(wal_state_set(fx->w, "a", "1", NULL, 0), 0);
	t1 = wal_syncer_request(s);
	assert_int_equal(sync_wait(s, &done, err, sizeof(err)), 0);
	assert_true(done >= t1);
	assert_int_equal(wal_state_set(fx->w, "b", "2", NULL, 0), 0);
	t2 = wal_syncer_request(s);
	assert_true(t2 > t1);
	while (done < t2)
		assert_int_equal(sync_wait(s, &done, err, sizeof(err)), 0);
	assert_int_equal(wal_state_set(fx->w, "c", "3", NULL, 0), 0);
	assert_int_equal(wal_syncer_stop(s, err, sizeof(err)), 0);
	assert_int_equal(wal_syncer_stop(NULL, err, sizeof(err)), 0);
	assert_int_equal(tu_query_int(fx->w, "SELECT count(*) FROM state"), 3);
}

/* The syncer opens the WAL when it starts: a sync needs no descriptor
 * (a run may have used them all by its first), and the WAL it syncs is
 * the one there was then, even once its name is gone. */
static void test_syncer_opens_at_start(void **state)
{
	struct tu_fx *fx = *state;
	char *wal = tu_path("%s/.smithers/smithers.db-wal", fx->dir);
	struct wal_syncer *s;
	uint64_t t, done = 0;
	char err[256] = "";

	assert_int_equal(wal_state_set(fx->w, "a", "1", NULL, 0), 0);
	s = wal_syncer_start(fx->w);
	assert_non_null(s);
	assert_int_equal(unlink(wal), 0);
	t = wal_syncer_request(s);
	assert_int_equal(sync_wait(s, &done, err, sizeof(err)), 0);
	assert_int_equal(done, t);
	assert_int_equal(wal_syncer_stop(s, err, sizeof(err)), 0);
	free(wal);
}

/* A sync that cannot be done is reported, with the file, and sticks: no
 * later ticket completes. */
static void test_syncer_failure(void **state)
{
	struct tu_fx *fx = *state;
	char *wal = tu_path("%s/.smithers/smithers.db-wal", fx->dir);
	struct wal_syncer *s;
	uint64_t done = 0;
	char err[256] = "";

	assert_int_equal(wal_state_set(fx->w, "a", "1", NULL, 0), 0);
	/* No WAL to open at the start, nor at the first sync. */
	assert_int_equal(unlink(wal), 0);
	s = wal_syncer_start(fx->w);
	assert_non_null(s);
	wal_syncer_request(s);
	assert_int_equal(sync_wait(s, &done, err, sizeof(err)), -1);
	assert_int_equal(done, 0);
	assert_non_null(strstr(err, "cannot sync"));
	assert_non_null(strstr(err, "smithers.db-wal"));
	wal_syncer_request(s);
	assert_int_equal(wal_syncer_done(s, &done, err, sizeof(err)), -1);
	assert_int_equal(done, 0);
	assert_int_equal(wal_syncer_stop(s, err, sizeof(err)), -1);
	free(wal);
}

static void test_lock(void **state)
{
	struct tu_fx *fx = *state;
	char *lock = tu_path("%s/.smithers/supervisor.lock", fx->dir);
	pid_t holder = -1;
	size_t len;
	char *text;
	int fd;

	assert_int_equal(wal_lock_holder(fx->dir), 0);
	fd = wal_lock_acquire(fx->dir, &holder);
	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	text = tu_read_file(lock, &len);
	assert_non_null(text);
	assert_int_equal(atol(text), getpid());
	free(text);
	assert_int_equal(wal_lock_holder(fx->dir), getpid());
	assert_int_equal(run_child(fx->dir, 1), 0);

	/* Closing the fd releases it. */
	assert_int_equal(close(fd), 0);
	assert_int_equal(wal_lock_holder(fx->dir), 0);
	assert_int_equal(run_child(fx->dir, 0), 0);
	/* The child's exit released it in turn. */
	assert_int_equal(wal_lock_holder(fx->dir), 0);
	fd = wal_lock_acquire(fx->dir, &holder);
	assert_true(fd >= 0);
	assert_int_equal(close(fd), 0);
	free(lock);
}

/* A holder that dies leaves its lock file behind, and it blocks nobody. */
static void test_lock_dead_holder(void **state)
{
	struct tu_fx *fx = *state;
	int go[2], ready[2], st, fd;
	pid_t pid, holder = -1;
	char c = 0;

	assert_int_equal(pipe(go), 0);
	assert_int_equal(pipe(ready), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int lfd = wal_lock_acquire(fx->dir, NULL);

		c = lfd >= 0 ? 'y' : 'n';
		if (write(ready[1], &c, 1) != 1)
			_exit(2);
		/* Wait to be killed. */
		if (read(go[0], &c, 1) < 0)
			_exit(3);
		_exit(0);
	}
	assert_int_equal(read(ready[0], &c, 1), 1);
	assert_int_equal(c, 'y');
	assert_int_equal(wal_lock_holder(fx->dir), pid);
	errno = 0;
	assert_int_equal(wal_lock_acquire(fx->dir, &holder), -1);
	assert_int_equal(errno, EWOULDBLOCK);
	assert_int_equal(holder, pid);
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_int_equal(wal_lock_holder(fx->dir), 0);
	fd = wal_lock_acquire(fx->dir, &holder);
	assert_true(fd >= 0);
	assert_int_equal(wal_lock_holder(fx->dir), getpid());
	close(fd);
	close(go[0]);
	close(go[1]);
	close(ready[0]);
	close(ready[1]);
}

static void test_lock_no_state(void **state)
{
	struct tu_fx *fx = *state;
	char *sdir = tu_path("%s/.smithers", fx->dir);
	pid_t holder = -1;
	struct stat st;

	errno = 0;
	assert_int_equal(wal_lock_acquire(fx->dir, &holder), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(stat(sdir, &st), -1);
	free(sdir);
}

#define T(f)  cmocka_unit_test_setup_teardown(f, tu_setup, tu_teardown)
#define TD(f) cmocka_unit_test_setup_teardown(f, tu_setup_dir, tu_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		TD(test_open_creates_private_files),
		T(test_open_pragmas_default),
		TD(test_open_sync_normal),
		T(test_open_busy_timeout),
		TD(test_open_missing_enoent),
		TD(test_open_not_a_database),
		T(test_open_reset),
		T(test_schema_version),
		TD(test_migrate_from_4),
		TD(test_migrate_from_5),
		TD(test_migrate_from_6),
		TD(test_migrate_from_7),
		TD(test_migrate_from_8),
		TD(test_migrate_foreign_key_check),
		TD(test_migrate_empty_file),
		TD(test_migrate_from_previous),
		T(test_open_newer_schema_eproto),
		TD(test_open_foreign_database),
		T(test_custom_schema_ok),
		T(test_custom_schema_syntax_error),
		T(test_custom_schema_failing_statement),
		T(test_batch_commit),
		T(test_batch_rollback),
		T(test_close_rolls_back_batch),
		T(test_query_rows),
		T(test_query_refuses_writes),
		T(test_readonly_cannot_write),
		T(test_stats),
		T(test_checkpointer),
		T(test_wal_trim_bounds_the_wal),
		T(test_syncer),
		T(test_syncer_opens_at_start),
		T(test_syncer_failure),
		T(test_lock),
		T(test_lock_dead_holder),
		TD(test_lock_no_state),
	};

	return cmocka_run_group_tests_name("wal", tests, NULL, NULL);
}
