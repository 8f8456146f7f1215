/*
 * wal.h - the smithers store: every piece of a state dir's state in one
 * SQLite database, DIR/.smithers/smithers.db.
 *
 * One handle is one connection. The supervisor holds the only writable one
 * while it runs; readers (`smithers db`, agents) open their own read-only
 * handle and read while it writes (WAL mode).
 *
 * Errors: every function returns -1 (or NULL) with errno set and a human
 * message kept in the handle (wal_errmsg()); nothing here prints, exits or
 * aborts on bad input.
 *
 * Transactions: outside a batch, each operation is its own transaction.
 * Between wal_batch_begin() and wal_batch_commit(), all operations share one
 * transaction (group commit) and each runs in its own savepoint: an operation
 * that fails is undone alone, returns -1, and its neighbours still commit.
 *
 * Values stored as JSON are checked with SQLite's json_valid(); times are
 * UTC ISO-8601 text with milliseconds ("2026-11-26T15:22:17.123Z").
 */
#ifndef SMITHERS_WAL_H
#define SMITHERS_WAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The schema version this build creates and migrates to (PRAGMA user_version).
 */
#define WAL_SCHEMA_VERSION 9
/* Tool outputs up to this many bytes are stored inline; larger ones spill. */
#define WAL_INLINE_MAX 1024
/* Length of a git object id in hex. */
#define WAL_OID_HEXLEN 40

struct wal;

enum wal_sync {
	WAL_SYNC_FULL = 0, /* default: a committed batch survives power loss */
	WAL_SYNC_NORMAL =
		1, /* survives a crash of the process, not of the OS */
};

struct wal_options {
	int create;   /* create DIR/.smithers (0700) and the database (0600) */
	int readonly; /* read-only connection; implies !create, !reset */
	int reset;    /* delete the existing database first (start empty) */
	enum wal_sync synchronous;
	/* Extra SQL applied at every open, after migrations, in one savepoint:
	 * write it idempotently (CREATE TABLE IF NOT EXISTS ...). On error the
	 * open fails with SQLite's message and the database is left as it was.
	 */
	const char *custom_schema;
	int busy_timeout_ms; /* 0: 5000 */
	int target_version;  /* tests only: migrate no further; 0: latest */
};

/*
 * Open the store of the state dir DIR/.smithers. OPT may be NULL (defaults,
 * no create). Returns 0, or -1 with errno: ENOENT (no state and !create),
 * EPROTO (schema newer than this build), EIO (not a database, corrupt),
 * EACCES, ENOMEM. Except for ENOMEM, *out is set even on failure so that
 * wal_errmsg() can say why: wal_close() it in both cases.
 */
int wal_open(const char *dir, const struct wal_options *opt, struct wal **out);

/*
 * Start libgit2 (which the store needs for its objects) on a thread of its
 * own now, so that the first tool output stored does not wait for it:
 * libgit2 starts OpenSSL and reads the TLS certificates too, milliseconds
 * of CPU. Optional; a failure to start the thread is no matter.
 */
void wal_git_warm(struct wal *w);

/* Close the connection; rolls back an open batch. wal_close(NULL) is a no-op.
 */
void wal_close(struct wal *w);

/* Message of the last failure on W (borrowed, valid until the next call). */
const char *wal_errmsg(const struct wal *w);

/* Path of the database file and of the state dir (borrowed). */
const char *wal_db_path(const struct wal *w);
const char *wal_state_dir(const struct wal *w);

/* PRAGMA user_version of the open database, or -1. */
int wal_schema_version(struct wal *w);

/* ---- rows: how lists are read -------------------------------------- */

enum wal_type {
	WAL_NULL,
	WAL_INTEGER,
	WAL_REAL,
	WAL_TEXT,
	WAL_JSON, /* text holding JSON (a column declared "JSON TEXT") */
};

/* One result row; everything in it is borrowed until the callback returns. */
struct wal_row {
	int ncols;
	const char *const *names;
	const char *const *values; /* text of each value; NULL for SQL NULL */
	const enum wal_type *types;
};

/*
 * Called once per row. Return 0 to go on; any other value stops the read
 * and is what the listing function returns.
 */
typedef int wal_row_fn(const struct wal_row *row, void *arg);

/* The text of ROW's column NAME; NULL when it is SQL NULL or not there. */
const char *wal_row_value(const struct wal_row *row, const char *name);

/*
 * Run SQL (one or more statements) and call FN for each row. A statement
 * that would write is refused with errno EPERM before it runs.
 */
int wal_query(struct wal *w, const char *sql, wal_row_fn *fn, void *arg);

/* ---- batches (group commit) ----------------------------------------- */

/* Begin a batch (BEGIN IMMEDIATE). -1 EBUSY if one is already open. */
int wal_batch_begin(struct wal *w);
/* Commit the batch. On failure everything in it is rolled back, -1. */
int wal_batch_commit(struct wal *w);
/* Roll the batch back. */
int wal_batch_rollback(struct wal *w);
/* Non-zero while a batch is open. */
int wal_in_batch(const struct wal *w);

/* ---- state and transitions ------------------------------------------ */

/*
 * Transitions are attributed to AGENT's execution, or, when AGENT is 0, to
 * the execution set here (wal_execution_start() sets it too; 0: none).
 */
void wal_set_execution(struct wal *w, int64_t execution_id);

/*
 * Set KEY to the JSON text JSON, inserting the transition (old -> new,
 * TRIGGER, AGENT; both may be NULL/0) in the same transaction. EINVAL for an
 * empty key or invalid JSON.
 */
int wal_state_set(struct wal *w, const char *key, const char *json,
		  const char *trigger, int64_t agent_id);

/* Delete KEY with its transition (new value NULL). Returns 1 if deleted, 0
 * if there was no such key (nothing recorded), -1 on error. */
int wal_state_delete(struct wal *w, const char *key, const char *trigger,
		     int64_t agent_id);

/* The JSON value of KEY in a new string (caller frees), or NULL with errno
 * ENOENT when the key is absent (or another errno on failure). */
char *wal_state_get(struct wal *w, const char *key);

/* Every key: columns key, value, updated_at, updated_by; by key. */
int wal_state_all(struct wal *w, wal_row_fn *fn, void *arg);

/* Transitions of KEY (NULL: all keys), newest first, at most LIMIT (<= 0:
 * no limit). Columns id, execution_id, key, old_value, new_value, trigger,
 * agent_id, created_at. */
int wal_state_history(struct wal *w, const char *key, int limit, wal_row_fn *fn,
		      void *arg);

/*
 * Restore every key, set or deleted, to its value as of transition ID. The
 * restoration is itself recorded as transitions with trigger "replay:ID";
 * history is never rewritten. Returns the number of keys changed, or -1
 * (ENOENT: no such transition).
 */
int wal_state_replay(struct wal *w, int64_t transition_id);

/* ---- executions, phases, agents --------------------------------------- */

/* Record a new running execution (started now, supervisor pid = getpid())
 * and make it the handle's current one. Returns its id, or -1. */
int64_t wal_execution_start(struct wal *w, const char *name,
			    const char *workflow, const char *config_json);
int wal_execution_complete(struct wal *w, int64_t id, const char *result_json);
int wal_execution_fail(struct wal *w, int64_t id, const char *error);
int wal_execution_cancel(struct wal *w, int64_t id);
/* End execution ID as interrupted (a run that will not be resumed), with
 * its unfinished phase iterations and agents. */
int wal_execution_interrupt(struct wal *w, int64_t id);
/* Set the heartbeat to now (the supervisor does it in a turn that commits
 * anyway, every half second at most: an idle run writes nothing). */
int wal_execution_heartbeat(struct wal *w, int64_t id);
/*
 * Execution ID was left running by a supervisor that died: it runs again
 * under this process (supervisor_pid), in boot BOOT_ID (may be NULL), with
 * recoveries + 1 and recovered_at now.
 */
int wal_execution_resume(struct wal *w, int64_t id, const char *boot_id);
/* Record on execution ID the boot (the kernel's boot_id) it runs in. */
int wal_execution_boot(struct wal *w, int64_t id, const char *boot_id);
/* Set execution ID's budget, max_cost_usd, in US dollars; a negative
 * MAX_COST_USD clears it (no budget). EINVAL for NaN or infinity. */
int wal_execution_budget(struct wal *w, int64_t id, double max_cost_usd);
/* Record how execution ID's agents are contained, TEXT (e.g. "cgroup
 * /sys/fs/cgroup/smithers", or the process group and why); NULL clears it
 * (not recorded). -1 ENOENT if there is no such id. */
int wal_execution_containment(struct wal *w, int64_t id, const char *text);
/* Id of the newest execution that is running or pending; 0 if none; -1. */
int64_t wal_execution_current(struct wal *w);
/* One execution, all columns; -1 ENOENT if there is no such id. */
int wal_execution_get(struct wal *w, int64_t id, wal_row_fn *fn, void *arg);
/* Executions, newest first, at most LIMIT (<= 0: all). */
int wal_execution_list(struct wal *w, int limit, wal_row_fn *fn, void *arg);
/* Executions left running or pending, oldest first. */
int wal_execution_find_incomplete(struct wal *w, wal_row_fn *fn, void *arg);
/*
 * What a resume would do: for each incomplete execution, the newest phase
 * iteration and each of its agents. Columns execution_id, execution,
 * phase_id, phase, iteration, agent_id, agent, status, attempt, action
 * ("skip" for a completed agent, "resume" for the others; "interrupt" for
 * every agent of an execution older than the newest incomplete one, which
 * alone is resumed).
 */
int wal_recovery_plan(struct wal *w, wal_row_fn *fn, void *arg);
/* The newest phase iteration of EXECUTION_ID with each of its agents (none:
 * one row with NULL agent columns; no phase: no row). Columns phase_id,
 * phase, iteration, phase_status, agent_id, agent, status, attempt, kind,
 * session_id, cli_version (non-NULL: the CLI reported its session, which
 * a resumed attempt can continue), cost_usd (NULL: unknown), tokens_in,
 * tokens_out, cache_read_tokens, cache_write_tokens, reasoning_tokens,
 * mem_peak, cpu_usec (NULL: unknown). */
int wal_recovery_agents(struct wal *w, int64_t execution_id, wal_row_fn *fn,
			void *arg);

/* Start iteration ITERATION (from 0) of phase NAME; counts toward the
 * execution's total iterations. Returns the phase id, or -1. */
int64_t wal_phase_start(struct wal *w, int64_t execution_id, const char *name,
			int iteration);
/* Phase iteration PHASE_ID runs again (a resumed execution's). */
int wal_phase_resume(struct wal *w, int64_t phase_id);
int wal_phase_complete(struct wal *w, int64_t phase_id);
int wal_phase_fail(struct wal *w, int64_t phase_id);

struct wal_agent_spec {
	const char *name; /* required */
	const char *model;
	const char *system_prompt;
	const char *prompt;
	const char *log_path;
	int attempt; /* 0: 1 */
	pid_t pid;   /* 0: unknown */
	const char *kind;	/* "command", "claude" or "codex"; NULL:
				   "command" */
	const char *session_id; /* the agent's session, assigned before it
				   starts; NULL: none */
};

/* Record a running agent of PHASE_ID (0: none) in EXECUTION_ID; counts
 * toward the execution's agents and the phase's agent count. EINVAL for an
 * unknown kind. */
int64_t wal_agent_start(struct wal *w, int64_t execution_id, int64_t phase_id,
			const struct wal_agent_spec *spec);
/* RESULT is plain text, STRUCTURED JSON (both may be NULL). */
int wal_agent_complete(struct wal *w, int64_t agent_id, const char *result,
		       const char *structured_json, int exit_code);
/* EXIT_CODE is -1 (stored as NULL) when the agent was killed by a signal;
 * EXIT_SIGNAL is 0 (stored as NULL) when it exited by itself. */
int wal_agent_fail(struct wal *w, int64_t agent_id, const char *error,
		   int exit_code, int exit_signal);
/* The agent's process started (again): status running, its PID. */
int wal_agent_running(struct wal *w, int64_t agent_id, pid_t pid);
/* The processes of a running agent, with their start times (clock ticks
 * after boot, as /proc/PID/stat; 0: unknown): a later supervisor signals a
 * recorded pid only while its start time still matches. */
struct wal_procs {
	pid_t pid;
	int64_t pid_start;
	pid_t worker;
	int64_t worker_start;
};
/* As wal_agent_running(), recording the processes P too. */
int wal_agent_started(struct wal *w, int64_t agent_id,
		      const struct wal_procs *p);
/* The agent ended and will be restarted as ATTEMPT: status restarting,
 * with why it ended (ERROR, EXIT_CODE, EXIT_SIGNAL as wal_agent_fail()). */
int wal_agent_restart(struct wal *w, int64_t agent_id, int attempt,
		      const char *error, int exit_code, int exit_signal);
/* The agent was stopped by a shutdown: status cancelled. */
int wal_agent_cancel(struct wal *w, int64_t agent_id, const char *error,
		     int exit_code, int exit_signal);
/* Add token counts (not negative: EINVAL) to the agent and its execution.
 */
int wal_agent_usage(struct wal *w, int64_t agent_id, int64_t tokens_in,
		    int64_t tokens_out);

/* What an agent used: tokens, cache tokens (read, written), reasoning
 * tokens (a part of tokens_out, as Codex reports them) and cost; and the
 * tool calls recorded with wal_tool_record(), counted here. A cost is
 * known only when HAS_COST is set: a CLI that reports none (Codex) or an
 * agent of kind "command" leaves its cost unknown, NULL. */
struct wal_usage {
	int64_t tokens_in, tokens_out, cache_read, cache_write;
	double cost_usd; /* only with has_cost */
	int64_t tool_calls;
	int64_t reasoning;
	int has_cost; /* cost_usd is known: add it */
};
/* Add U to the agent's counters and its execution's, tool calls too.
 * Values may be negative: a stream's totals correct what its increments
 * added. With U->has_cost, the cost is added to the agent's and the
 * execution's (an unknown cost, NULL, plus it is it); without, both are
 * left as they are (and cost_usd is not looked at). EINVAL for a cost
 * given that is not a finite number. */
int wal_agent_add_usage(struct wal *w, int64_t agent_id,
			const struct wal_usage *u);
/* The agent's session as its CLI reported it: SESSION_ID, MODEL,
 * CLI_VERSION, TOOLS_JSON (the tools it offers); a NULL argument leaves its
 * column as it is. EINVAL, nothing changed, when TOOLS_JSON is not JSON. A
 * non-NULL cli_version is what says the CLI has its session (resumable). */
int wal_agent_session(struct wal *w, int64_t agent_id, const char *session_id,
		      const char *model, const char *cli_version,
		      const char *tools_json);
/* Set what the agent's whole process tree used: MEM_PEAK, the peak of its
 * memory in bytes, and CPU_USEC, its CPU time in microseconds; a value < 0
 * stores NULL (unknown). It sets, it does not add: the caller accumulates
 * across attempts. -1 ENOENT if there is no such agent. */
int wal_agent_resources(struct wal *w, int64_t agent_id, int64_t mem_peak,
			int64_t cpu_usec);
/* The attempt starting now resumes the agent's session with PROMPT:
 * resume_prompt = PROMPT, resumes + 1. PROMPT NULL: the attempt starts a
 * fresh session (resume_prompt NULL, resumes unchanged). */
int wal_agent_resume(struct wal *w, int64_t agent_id, const char *prompt);

/* ---- tool calls and artifacts ------------------------------------------ */

/* Record a running tool call of AGENT_ID; INPUT_JSON may be NULL. Counts
 * toward the agent's and the execution's tool calls. Returns its id. */
int64_t wal_tool_start(struct wal *w, int64_t agent_id, const char *tool,
		       const char *input_json);
/* As wal_tool_start(), with REF, the agent's own id of the call (Claude's
 * tool_use_id; NULL: none), and PARENT_ID, the tool call of the same
 * execution it ran inside (a subagent's calls inside its Task call; 0:
 * none; EINVAL when there is no such call). A call goes with its parent. */
int64_t wal_tool_start_ref(struct wal *w, int64_t agent_id, const char *tool,
			   const char *input_json, const char *ref,
			   int64_t parent_id);
/* As wal_tool_start_ref(), without counting the call: the caller adds it
 * to the counters (wal_agent_add_usage(), .tool_calls) before its batch
 * commits - one statement per agent and batch, not two per call. */
int64_t wal_tool_record(struct wal *w, int64_t agent_id, const char *tool,
			const char *input_json, const char *ref,
			int64_t parent_id);

/*
 * End tool call ID. OUTPUT (LEN bytes, may be NULL) up to WAL_INLINE_MAX bytes
 * is stored inline; a larger one is written once to
 * .smithers/logs/objects/<2 hex>/<38 hex>, named by its git blob hash
 * (identical outputs share a file), and the row keeps path, hash and size.
 * STATUS is "completed" or "failed" (NULL: "completed"); ERROR may be NULL.
 */
int wal_tool_complete(struct wal *w, int64_t id, const void *output, size_t len,
		      const char *summary, const char *status,
		      const char *error);

/*
 * Record artifact NAME: the file PATH's git blob hash (as `git hash-object`),
 * size and line count, and the HEAD commit of the git repository holding it
 * (NULL outside one) - never its content. TYPE, SUMMARY, METADATA_JSON may be
 * NULL; AGENT_ID may be 0. Returns its id, or -1 (ENOENT: no such file).
 */
int64_t wal_artifact_add(struct wal *w, int64_t agent_id, const char *name,
			 const char *type, const char *path,
			 const char *summary, const char *metadata_json);

/* Git blob id of LEN bytes at DATA, as hex into OUT (41 bytes). */
int wal_blob_hash(const void *data, size_t len, char out[WAL_OID_HEXLEN + 1]);

/* ---- memories ---------------------------------------------------------- */

struct wal_memory {
	const char *category; /* fact, learning, preference, context, skill */
	const char *scope;    /* global, project, session; NULL: global */
	const char *key;
	const char *content;
	double confidence;	     /* 0..1 */
	const char *source;	     /* may be NULL */
	int64_t source_execution_id; /* 0: none */
	const char *expires_at;	     /* ISO-8601 UTC, or NULL */
};

/* Add a memory, or replace the one with the same (category, scope, key).
 * Returns its id, or -1 (EINVAL: unknown category or scope, confidence
 * outside 0..1). */
int64_t wal_memory_add(struct wal *w, const struct wal_memory *m);
/* The memory (category, scope, key); -1 ENOENT if absent. Columns id,
 * category, scope, key, content, confidence, source, source_execution_id,
 * created_at, updated_at, accessed_at, expires_at. A writable handle also
 * sets accessed_at. */
int wal_memory_get(struct wal *w, const char *category, const char *scope,
		   const char *key, wal_row_fn *fn, void *arg);
/* Full-text search (FTS5 query syntax) over key and content, best match
 * first (bm25); CATEGORY may be NULL; LIMIT <= 0: all. Columns as
 * wal_memory_get() plus rank. EINVAL for a malformed query. */
int wal_memory_search(struct wal *w, const char *query, const char *category,
		      int limit, wal_row_fn *fn, void *arg);
/* Memories by category, scope (either may be NULL), newest first. */
int wal_memory_list(struct wal *w, const char *category, const char *scope,
		    int limit, wal_row_fn *fn, void *arg);
/* Replace the content (NULL: keep) and confidence (< 0: keep) of memory ID.
 * -1 ENOENT if there is no such memory. */
int wal_memory_update(struct wal *w, int64_t id, const char *content,
		      double confidence);
/* Returns 1 if deleted, 0 if there was no such memory, -1 on error. */
int wal_memory_delete(struct wal *w, int64_t id);

/* ---- listing for the command line -------------------------------------- */

/* Tool calls of AGENT_ID (0: all), newest first, at most LIMIT; with
 * external_id and parent_id. */
int wal_tool_list(struct wal *w, int64_t agent_id, int limit, wal_row_fn *fn,
		  void *arg);
/* Artifacts, newest first, at most LIMIT. */
int wal_artifact_list(struct wal *w, int limit, wal_row_fn *fn, void *arg);
/* Agents of EXECUTION_ID (0: all), in start order; turns is the
 * structured result's num_turns (as Claude Code reports it), else NULL;
 * with kind, reasoning_tokens, cost_usd, mem_peak and cpu_usec (each NULL:
 * unknown). */
int wal_agent_list(struct wal *w, int64_t execution_id, wal_row_fn *fn,
		   void *arg);
/* Phases of EXECUTION_ID, in start order. */
int wal_phase_list(struct wal *w, int64_t execution_id, wal_row_fn *fn,
		   void *arg);

struct wal_stats {
	int schema_version;
	int64_t executions, phases, agents, tool_calls, state, transitions,
		memories, artifacts; /* row counts */
	int64_t page_size, page_count, freelist_count;
	int64_t db_bytes, wal_bytes; /* file sizes; 0 if absent */
	char journal_mode[16];
};
int wal_stats(struct wal *w, struct wal_stats *out);

/* ---- checkpoints -----------------------------------------------------------
 */

/*
 * Checkpoint the WAL into the database from a thread of its own, with a
 * connection of its own, INTERVAL_MS milliseconds after a commit pokes it
 * (wal_checkpointer_poke), then every INTERVAL_MS while commits go on
 * (PASSIVE: it never waits for the writer nor blocks it), so that the
 * writer's commits never pay for a checkpoint: turn the writer's automatic
 * checkpoints off with wal_autocheckpoint(w, 0). Returns NULL with errno
 * (and, when ERR is not NULL, a message in ERR of ERRLEN bytes) if it
 * cannot start.
 */
struct wal_checkpointer;
struct wal_checkpointer *wal_checkpointer_start(const char *dir,
						int interval_ms, char *err,
						size_t errlen);
/* A commit was made: a checkpoint follows within INTERVAL_MS. Without
 * one, the thread sleeps: an idle store is not touched. NULL: nothing. */
void wal_checkpointer_poke(struct wal_checkpointer *c);
/* Stop the thread (after one last checkpoint) and free C; NULL is a no-op. */
void wal_checkpointer_stop(struct wal_checkpointer *c);
/* Checkpoints the checkpointer has run, and how many completed fully. */
void wal_checkpointer_counts(struct wal_checkpointer *c, int64_t *runs,
			     int64_t *full);

/* Let W's commits checkpoint once the WAL holds PAGES pages (SQLite's
 * default 1000); 0: never. */
int wal_autocheckpoint(struct wal *w, int pages);

/*
 * Keep the WAL bounded under a continuous load, next to a checkpointer
 * (whose checkpoints cannot complete while W keeps appending): call it
 * between W's transactions. The first call starts counting the WAL's frames
 * at each commit and turns W's automatic checkpoints off; later calls, once
 * the WAL holds more than PAGES frames, run one passive checkpoint on W
 * (copying only what the checkpointer has not), after which the next
 * transaction writes the WAL from its start again. Returns 1 when that
 * checkpoint was complete, 0 when none was due or it could not complete
 * (a reader still needs old frames; it is tried again), -1 on error.
 */
int wal_trim(struct wal *w, int pages);

/* ---- durability off the writer's thread ------------------------------------
 */

/*
 * Let W commit without waiting for the disk (it switches W to synchronous =
 * NORMAL) while a thread of the syncer's fdatasync()s the WAL when asked.
 * A commit is durable - as with synchronous = FULL - once a sync asked for
 * after it has completed. Returns NULL with W's error if it cannot start
 * (W is then left with synchronous = FULL).
 */
struct wal_syncer;
struct wal_syncer *wal_syncer_start(struct wal *w);
/* Ask for a sync of everything committed so far; returns its ticket. */
uint64_t wal_syncer_request(struct wal_syncer *s);
/* Readable (an eventfd) whenever a sync has completed or failed. */
int wal_syncer_fd(const struct wal_syncer *s);
/* Drain that fd and store in DONE the newest completed ticket: every
 * ticket up to it is durable. -1 (the reason in ERR) once a sync failed:
 * nothing after the last completed ticket is, and no sync will be. */
int wal_syncer_done(struct wal_syncer *s, uint64_t *done, char *err,
		    size_t errlen);
/* Sync what was committed, stop the thread and free S (NULL: no-op); -1 (the
 * reason in ERR) if a sync failed. W must outlive S and be closed after. */
int wal_syncer_stop(struct wal_syncer *s, char *err, size_t errlen);

/* ---- the supervisor lock ------------------------------------------------ */

/*
 * Take the exclusive lock DIR/.smithers/supervisor.lock (flock) and write our
 * pid in it. Returns the lock's fd (O_CLOEXEC; closing it releases the lock),
 * or -1: EWOULDBLOCK when another process holds it (its pid in *HOLDER, 0 if
 * unknown), ENOENT when DIR has no state.
 */
int wal_lock_acquire(const char *dir, pid_t *holder);
/* The pid holding DIR's lock, 0 when nobody does, -1 on error. */
pid_t wal_lock_holder(const char *dir);

/* ---- disk space ---------------------------------------------------------- */

/*
 * Make sure the next commit of W's batch cannot fail for want of disk
 * space - a COMMIT that does is rolled back whole by SQLite: blocks are
 * allocated past the WAL's end for every page a commit can write, and for
 * the WAL's index. Call it before wal_batch_commit(); it costs one fstat()
 * when the blocks are there. Returns 0, or -1 with errno (ENOSPC, EDQUOT:
 * the disk is full) when they cannot be had: do not commit yet, keep the
 * batch open, and try again later. A file system that cannot preallocate
 * makes it a no-op.
 */
int wal_reserve(struct wal *w);

/*
 * Whether W's database file is still the one at its path: -1 with ENOENT
 * (deleted) or ESTALE (another file there now) when it is not - what is
 * committed from then on lives only in the open file.
 */
int wal_check_file(struct wal *w);
/* Copy everything committed on W, through W, into a new database at DEST
 * (replaced if it exists; mode 0600): what is left when the file at W's path
 * was deleted. Call outside a batch. */
int wal_rescue(struct wal *w, const char *dest);

/* ---- failpoints: crashes where a test wants them ------------------------ */

/*
 * Only in a build configured with --enable-failpoints (config.h defines
 * SMITHERS_FAILPOINTS). Elsewhere the calls below are constants that
 * compile to nothing: a default build cannot be made to crash by its
 * environment.
 */
#ifdef SMITHERS_FAILPOINTS
/*
 * When the environment's SMITHERS_FAILPOINT is "NAME[:N]", the Nth pass (1:
 * the first) of this process through wal_failpoint(NAME) prints
 * "smithers: failpoint NAME reached" on stderr and kills the process with
 * SIGKILL. The points are listed in smithers(1). Thread-safe.
 */
void wal_failpoint(const char *name);
/* The passes left before NAME crashes the process (N, for a point not yet
 * passed); 0 when the environment names no such point. For a point that
 * another process reaches (the worker's "during-log-rotation"). */
long wal_failpoint_armed(const char *name);
/* When the point named is "during-checkpoint": make the default SQLite VFS
 * one that passes it on every write to a database file (in WAL mode, only
 * checkpoints write there). Call before opening. -1 if it cannot. */
int wal_failpoint_setup(void);
#else
#define wal_failpoint(name) ((void)(name))
#define wal_failpoint_armed(name) ((void)(name), 0L)
#define wal_failpoint_setup() 0
#endif

/* ---- shipping to a fleet (docs/FLEET.md) ----------------------------------
 */

/* What is not shipped yet. */
struct wal_fleet_lag {
	int on;			    /* shipping is on for this state dir */
	int64_t rows;		    /* rows changed and not shipped */
	int64_t oldest_ms;	    /* when the oldest of them changed (ms since
				       the epoch); 0: none */
	int64_t outbox_cursor;	    /* versions shipped: every one up to it */
	int64_t transitions_cursor; /* transitions shipped: every one up to it */
	int verifying;		    /* what ships is verified (below) */
	int64_t outbox_verified;    /* versions verified: every one up to it */
	int64_t transitions_verified; /* transitions verified: up to it */
};

/*
 * Turn shipping on: from now on, every row of executions, phases, agents,
 * tool_calls, memories and artifacts written or changed gets an entry in
 * the outbox, whose id is the row's version, in the same transaction; and
 * every row there already is gets one now, so that the history ships too.
 * Transitions ship by id from the cursor, which starts at 0. Returns 1
 * (turned on), 0 (it was on: nothing done) or -1.
 */
int wal_fleet_enable(struct wal *w);
/* 1 when shipping is on, 0 when not, -1 on error. */
int wal_fleet_enabled(struct wal *w);
/* Turn shipping off: the outbox and the cursors are emptied. 0 or -1. */
int wal_fleet_off(struct wal *w);
/*
 * Record that every outbox version up to OUTBOX and every transition up to
 * TRANSITIONS is shipped (a cursor never goes back: a lower value changes
 * nothing); the entries shipped leave the outbox. 0, or -1 (EINVAL:
 * negative).
 */
int wal_fleet_shipped(struct wal *w, int64_t outbox, int64_t transitions);
/* Fill OUT (all 0 when shipping is off). 0 or -1. */
int wal_fleet_lag(struct wal *w, struct wal_fleet_lag *out);
/* The same, counting as shipped at least every version up to OUTBOX and
 * every transition up to TRANSITIONS (the shipper's own cursors, ahead of
 * the store's until the loop commits them). 0 or -1. */
int wal_fleet_lag_after(struct wal *w, int64_t outbox, int64_t transitions,
			struct wal_fleet_lag *out);

/*
 * Verifying: the shipper asks a sink whether the fleet view holds what was
 * shipped (a stream may lose a message it acked) and sends again what it
 * does not. While verifying is on, the outbox keeps each entry until it is
 * both shipped and verified, so that the version of every row shipped
 * since the last verification is known.
 *
 * Turn verifying on (ON 1: its cursors start at the shipping cursors, so
 * nothing shipped before is verified; nothing done when it is on) or off
 * (ON 0: the entries shipped leave the outbox). 0 or -1.
 */
int wal_fleet_verify(struct wal *w, int on);
/* Record that every outbox version up to OUTBOX and every transition up to
 * TRANSITIONS is verified (never back); the entries shipped and verified
 * leave the outbox. 0 or -1 (EINVAL: negative; ENOENT: verifying is
 * off). */
int wal_fleet_verified(struct wal *w, int64_t outbox, int64_t transitions);
/* One row to verify: TABLE's row ID at VERSION (1 for a transition). 0 to
 * go on, anything else stops. */
typedef int wal_fleet_key_fn(const char *table, int64_t id, int64_t version,
			     void *arg);
/*
 * Call FN for up to LIMIT rows to verify above AFTER and up to UPTO, in
 * order: transitions by id (!OUTBOX), or outbox entries by version
 * (OUTBOX). Rows gone from the store are left out: there is nothing to
 * send again. Returns how many FN was called for, or -1.
 */
int64_t wal_fleet_unverified(struct wal *w, int outbox, int64_t after,
			     int64_t upto, int limit, wal_fleet_key_fn *fn,
			     void *arg);
/* How many rows are shipped and not verified yet (0 when verifying is
 * off), or -1. */
int64_t wal_fleet_unverified_rows(struct wal *w);

/*
 * One row to ship: TABLE's row ID at VERSION (the outbox entry's id; 1 for
 * a transition), as a JSON object of all its columns, JSON columns nested;
 * JSON is NULL when the row is gone (collected after it changed): nothing
 * to ship, but its version is passed. Return 0 to go on, anything else to
 * stop.
 */
typedef int wal_fleet_fn(const char *table, int64_t id, int64_t version,
			 const char *json, void *arg);
/*
 * Call FN for what is to ship after the cursors AFTER_VERSION and
 * AFTER_TRANSITION: up to LIMIT transitions in id order, then up to LIMIT
 * outbox entries in version order, all read in one snapshot (a read
 * transaction of its own unless W is in one). A read-only handle will do.
 * Returns how many rows FN was called for, or -1 (EINVAL: LIMIT <= 0).
 */
int64_t wal_fleet_next(struct wal *w, int64_t after_version,
		       int64_t after_transition, int limit, wal_fleet_fn *fn,
		       void *arg);
/* Call FN for TABLE's row ID as it is now, given VERSION (JSON NULL when
 * the row is gone). What FN returned, or -1. */
int wal_fleet_row(struct wal *w, const char *table, int64_t id,
		  int64_t version, wal_fleet_fn *fn, void *arg);

/* ---- garbage collection ---------------------------------------------------
 */

/* A rule of struct wal_gc_options that is not given. */
#define WAL_GC_NO_RULE (-1)

/*
 * Which executions wal_gc() drops: those every rule given allows, and never
 * one that is running or pending, nor, while shipping is on, one with a row
 * not shipped yet (wal_gc_result.held). At least one rule must be given.
 */
struct wal_gc_options {
	int64_t keep;	      /* keep the KEEP newest (by id); or NO_RULE */
	int64_t older_than_s; /* drop only those that ended more than this
				 many seconds ago (not those without an end
				 time); or NO_RULE */
	int dry_run;	      /* count what would go; change nothing */
};

/* What wal_gc() dropped (or, for a dry run, would drop). */
struct wal_gc_result {
	/* rows, including those that went with their execution */
	int64_t executions, phases, agents, tool_calls, transitions, artifacts;
	int64_t heads_kept; /* transitions of dropped executions kept, with
			       execution_id NULL, as the newest of their key */
	int64_t tombstones; /* deleted_state rows pruned: no history left */
	int64_t held;	    /* executions chosen but kept: not all shipped */
	int64_t objects, object_bytes; /* files of logs/objects deleted */
	int64_t log_dirs, log_bytes;   /* logs/agents/ID dirs deleted */
	/* smithers.db and its -wal before and after (a dry run: equal) */
	int64_t db_bytes_before, db_bytes_after;
	int committed; /* the rows are gone (set even if a later step
			  failed); 0 for a dry run */
};

/*
 * Apply the retention policy O: drop the executions it selects with their
 * phases, agents, tool calls, transitions and artifacts in one transaction
 * (a key's newest transition stays, detached, and chains of transitions are
 * relinked past the dropped ones), then delete the files of logs/objects
 * that no remaining tool call names and the logs/agents/ID dirs of missing
 * executions, then VACUUM and checkpoint. State values are never touched
 * (updated_by forgets a dropped agent); W's execution (wal_set_execution)
 * is forgotten if it went. W must be writable and outside any transaction
 * or batch (VACUUM cannot run in one: EBUSY); its pragmas are put back.
 * The caller holds DIR's supervisor lock, or is the supervisor, so that
 * nothing else writes meanwhile. Fills OUT; returns 0, or -1 (EINVAL: no
 * rule; EROFS; EBUSY). A failure after the commit (a file that cannot be
 * removed, a failed VACUUM) returns -1 with OUT->committed set: the rows
 * are gone, and a later gc deletes what was left.
 */
int wal_gc(struct wal *w, const struct wal_gc_options *o,
	   struct wal_gc_result *out);

#ifdef __cplusplus
}
#endif
#endif /* SMITHERS_WAL_H */
