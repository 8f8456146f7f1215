/*
 * sup-int.h - the supervisor's private structs and the functions its files
 * share. Nothing outside supervisor/ (and its unit tests) includes this.
 *
 * The rooms (one file each):
 *   loop.c      open the store and the lock, the turn loop, teardown,
 *               signals, the socket listener (sup_run)
 *   commit.c    group commit and acks: the batch, the syncer, disk full and
 *               back, the mirror's turn
 *   stream.c    one protocol peer: read, decode, dispatch hook, acks
 *               (stream.h)
 *   dispatch.c  a decoded message -> store and mirror calls
 *   spawn.c     an agent's worker: its command line, the agent's
 *               environment, the socket token, the control socket, a
 *               waiting worker's next attempt
 *   budget.c    the cost an agent's usage adds up to, and the stop of
 *               the agents a budget covers once it is crossed
 *   tally.c     an agent's counters (usage, tool calls), summed over the
 *               turn and written once, before its commit
 *   agent.c     an agent's life: ONE table of state x event -> action
 *   adapter.c   what smithers knows of each agent CLI (claude, codex)
 *   claude.c    the command line of a kind = claude agent
 *   codex.c     the command line of a kind = codex agent
 *   phase.c     phases, Ralph loops and `until`, the end of the execution
 *   recover.c   what a dead supervisor left: stale and stray processes,
 *               the resume plan
 *   contain.c   the agents' cgroups: when they are made, read, removed
 *   zygote.c    worker processes: forked by the zygote, or exec'd; the
 *               ones let go
 *   fleet.c     the shipper: a thread that sends what is committed to
 *               NATS JetStream, and the cursors it reports
 *   fleet-verify.c  the shipper asking a sink whether the fleet view
 *               holds what was shipped; sending again what it lacks
 *   fleet-ship.c  the shipper without a run (`smithers fleet ship`)
 *   fleet-report.c  the shipper's reports: from its thread to the loop
 *   fleet-nats.c  the fleet's NATS connection, a row's message
 *
 * One turn of the loop (event_base_loop(EVLOOP_ONCE)) runs every callback
 * that is ready; every decoded message is applied inside one batch, which
 * commits at the end of the turn, and only then are the streams acked:
 * acked means durable.
 *
 * Calls go one way, down this list: loop -> recover, dispatch -> phase ->
 * agent -> spawn -> zygote, fleet -> commit -> stream, util. What a lower
 * room needs done above it, it says: commit_turn() returns TURN_* bits,
 * the stream calls its hooks, and the loop checks the phase after every
 * turn.
 */
#ifndef SMITHERS_SUP_INT_H
#define SMITHERS_SUP_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>

#include "supervisor/workflow.h"

struct event;
struct event_base;
struct sup_cg;
struct sup_cg_agent;
struct sup_mirror;
struct sup_options;
struct sup_stream;
struct sup_streams;
struct wal;
struct wal_checkpointer;
struct wal_syncer;
struct wrk_ctl_args;
struct wrk_msg;

/* Every this often: the database file checked (still ours), and the
 * execution's heartbeat written if the turn commits anyway: while it
 * commits, never more than twice this behind its last commit. */
#define HEARTBEAT_MS 500
/* A turn with nothing to commit checks the database file only this often
 * (at the first wake past it: within 10 s): nothing is written that a
 * deleted file would hide, and the path's lookup was a third or more of an
 * idle wake's CPU. */
#define FILE_CHECK_IDLE_MS (10000 - WAKE_MS)
/* The loop wakes at least this often: the mirror's heartbeat (written at
 * most every 100 ms) is then never older than this plus a turn. Readers
 * (smithers-top: ALIVE_MS) take a supervisor whose pid is gone for dead at
 * once; the heartbeat's age tells one that is wedged. Every 2 s: an idle
 * supervisor's cost is its wakes (on a guest whose context switches go
 * through the hypervisor, 0.2-0.4 ms each), and nothing else needs them. */
#define WAKE_MS 2000
/* How big the WAL may grow (pages) before the writer completes a
 * checkpoint itself so that it starts again from the beginning. */
#define WAL_TRIM_PAGES 4096
/* After stop_grace, how long the worker has before we SIGKILL it. */
#define KILL_SLACK_MS 2000

/*
 * An agent's life (agent.c holds the table; nothing else assigns a state):
 * IDLE (not in the running phase) -> PENDING (waiting for a slot) ->
 * RUNNING -> STOPPING (asked to stop) -> ended; then BACKOFF (restart
 * timer) -> PENDING, or DONE / FAILED / CANCELLED.
 */
enum agent_state {
	A_IDLE,
	A_PENDING,
	A_RUNNING,
	A_STOPPING,
	A_BACKOFF,
	A_DONE,
	A_FAILED,
	A_CANCELLED,
	A_NSTATES
};

enum agent_event {
	AE_BEGIN,   /* its phase iteration begins: pending, first attempt */
	AE_LEAVE,   /* the phase that runs is not its own */
	AE_SKIP,    /* resumed: it had completed before the crash */
	AE_SPAWNED, /* its worker was forked */
	AE_RETRY,   /* to run again after its backoff */
	AE_GIVE_UP, /* failed for good */
	AE_DONE,    /* ended well, not to run again */
	AE_STOP,    /* asked to stop (protocol error, shutdown) */
	AE_TIMER,   /* its timer fired */
	AE_CANCEL,  /* the run stops: it will not run (again) */
	AE_NEVENTS
};

/* A tool call the agent numbered CALL, recorded as row ID. */
struct call {
	uint64_t call;
	int64_t id;
};

/* The control socket on which the worker speaks, and on which it is sent
 * its next attempt (spawn.c, worker/ctl.h). */
struct ctl_conn {
	int fd;
	struct event *ev;
	char buf[512];
	size_t len;
};

/* What one run of an agent came to. */
struct outcome {
	char *why;	 /* why we stopped it, or what the worker said */
	char *fail_text; /* from a "fail" message */
	char *result_text, *result_json; /* from a "result" message */
	int proto_error, timed_out;
	char *over_budget; /* "budget exceeded: ...": failed for good */
	int interrupt;	   /* stopped with SIGINT first (a budget) */
	int worker_done; /* the worker said its agent's group is gone */
	int ended;	 /* it said "ended": it lives on, waiting */
	int ended_status; /* the agent's wait status it said then */
	int transient;	 /* the worker could not start it, for now */
	char *cgroup_note; /* what its cgroup says: the OOM killer, ... */
};

/* Tool calls started and not completed, by the agent's number: per agent,
 * since `smithers emit` starts and completes a call from two different
 * connections (dispatch.c). */
struct calls {
	struct call *v;
	size_t n, cap;
};

/* Token counts and cost, as the store adds them (wal_usage). */
struct usage {
	int64_t in, out, cache_read, cache_write;
	int64_t reasoning; /* of out, which counts them already */
	double cost;
	int has_cost; /* cost is known (reported, or from prices) */
};

/* What an agent's messages added to the counters of its row ROW (and its
 * execution) this turn, not yet written (tally.c). */
struct tally {
	int64_t row;
	struct usage u;
	int64_t tool_calls;
};

/* Length of a session id: a UUID, 8-4-4-4-12 hex digits. */
#define SUP_SESSION_LEN 36

/* A kind = claude agent's session. */
struct session {
	char id[SUP_SESSION_LEN + 1]; /* "": none drawn yet */
	int live;    /* the CLI reported it: it can be resumed */
	/* What the store got for this session, every run of it (a resumed
	 * CLI reports the whole session's totals). */
	struct usage sum;
	double cost; /* the agent's cost, every attempt of its row */
	int64_t tokens; /* its input and output tokens, the same way */
};

struct agent {
	struct run *run;
	const struct sup_agent *spec;
	size_t index;
	enum agent_state state; /* assigned by agent_fire() alone */
	int64_t id; /* row of the current phase iteration; 0: none yet */
	pid_t worker, pid;
	int64_t worker_start; /* the worker's start time (proc.h) */
	/* The worker lives on after its agent ended, waiting on its socket
	 * (ctl) for the next attempt: until the end of the turn, which lets
	 * it go unless an immediate restart took it (spawn). */
	int idle;
	struct sup_stream *pipes;
	struct event *timer;
	struct ctl_conn ctl;
	char token[33];
	int attempt;	 /* 1 for the first run */
	int resume;	 /* it ran under a supervisor that died */
	int failures;	 /* counted toward max_restarts */
	int consecutive; /* failures since the last run that lasted */
	int64_t started_ms;
	struct outcome end;
	struct calls calls;
	struct calls parents; /* ended calls, kept for their children */
	struct session session;
	struct tally tally;
	struct sup_cg_agent *cg; /* its attempt's cgroup; NULL: none */
	char **words; /* its command exec'd as words; NULL: by /bin/sh -c */
	/* What its row's attempts used, from their cgroups (contain.c). */
	struct {
		int64_t mem_peak, cpu_usec; /* -1: unknown */
	} figures;
};

/* Where the execution stands. */
struct progress {
	int64_t exec_id, phase_id;
	size_t phase;
	int iteration;
	int any_phase_failed;
	int stopping; /* shutting down: signal number, or -1 for a failure */
	int finished; /* the loop ends */
	int exit_status;
	char *failure; /* why the execution failed, when not a phase */
	int over_budget; /* the execution's budget was crossed */
	double cost;   /* the execution's, in USD */
	int64_t tokens; /* the execution's input and output tokens */
	struct usage before; /* what a resumed execution had used */
};

struct run {
	const struct sup_workflow *wf;
	const struct sup_options *opt;
	struct event_base *base;
	struct wal *w;
	char *dir; /* project dir, absolute */
	char *state_dir, *sock_path, *log_dir;
	struct progress p;
	struct agent *agents;
	int running; /* workers alive */
	struct sup_streams *streams;
	struct sup_mirror *mirror; /* NULL: no shared memory segment */
	struct commit *c;	   /* group commit (commit.c) */
	struct loop *loop;	   /* events and the listener (loop.c) */
	char **env_base; /* what every agent's environment starts with */
	size_t nenv_base;
	char boot_id[37];
	/* The Nth log rotation of a worker crashes it with us (the failpoint
	 * "during-log-rotation:N"); 0: none. */
	int64_t crash_rotation;
	struct sup_cg *cg;  /* the state dir's cgroups; NULL: none */
	struct fleet *fleet; /* the shipper (fleet.c); NULL: none */
	char *containment;  /* how agents are contained, for the records */
	struct rlimit nofile; /* RLIMIT_NOFILE as we started: the workers' */
	int agents_dirty; /* an agent changed since the mirror was told */
	int ended_pending; /* a worker said "ended" (agents_ended) */
	/* Workers let go (release_worker), not reaped yet: the run ends
	 * after them. */
	struct {
		pid_t *v;
		size_t n, cap;
	} released;
	/* The process new workers are forked from (zygote.c); pid 0: none
	 * (yet, or OFF: no more in this run). */
	struct {
		pid_t pid;
		int fd;
		int off;
	} zygote;
};

/* ---- small helpers (util.c) --------------------------------------------- */

/* Like asprintf, but out of memory is fatal (logged, abort). */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Replace *SLOT by a copy of TEXT (NULL: none). */
void set_text(char **slot, const char *text);
struct timeval tv_ms(int64_t ms);
/* N random bytes from the kernel into BUF: 0, or -1 with errno. */
int sup_random(void *buf, size_t n);
/* A fresh session id (a UUID v4) into OUT: 0, or -1 with errno. */
int cli_session_id(char out[SUP_SESSION_LEN + 1]);
/* A NULL-terminated argv, grown one copy at a time (out of memory is
 * fatal); its v is freed with free_strv(). */
struct argv {
	char **v;
	size_t n, cap;
};
void argv_add(struct argv *a, const char *s);
void argv_add_all(struct argv *a, char *const *list);
/* Free a NULL-terminated argv of copies; NULL is a no-op. */
void free_strv(char **v);
/* COMMAND's words when it has no shell syntax (no quote, expansion, glob,
 * redirection, pipe, list, comment, assignment, nor a builtin first), to
 * exec without a shell: "exec sleep 60" -> {"sleep", "60"}. NULL when it
 * needs /bin/sh -c. Free with free_strv(). */
char **command_words(const char *command);

/* ---- commit.c ------------------------------------------------------------ */

/* Start group commit for R (FULL: synchronous=FULL, with the syncer);
 * NULL when out of memory (commit_end() frees what was made). */
struct commit *commit_new(struct run *r, int full);
/* Commit what is left, stop the syncer and checkpointer, rescue a lost
 * database: 0, or -1 when something could not be made durable. */
int commit_end(struct run *r);
/* Open the turn's batch if it is not: 0, or -1 (logged). */
int batch(struct run *r);
/* Whether a batch is open. */
int in_batch(const struct run *r);
/* This turn processed a hello, which writes nothing but is acked. */
void commit_hello(struct run *r);
/* What the loop must do after a turn (commit.c calls nothing above it). */
#define TURN_STOP 1   /* the store failed: stop the run */
#define TURN_RESUME 2 /* there is space again: reap and schedule */
/* Commit the turn's batch, then ack (or wait for the sync): TURN_* bits. */
int commit_turn(struct run *r);
/* The disk cannot hold the next change (WHY): hold everything. */
void disk_full(struct run *r, const char *why);
/* Whether the run holds its changes for want of space. */
int disk_is_full(const struct run *r);
/* A control connection S asks for the gc M: 0, or -1 when one waits
 * already. */
int gc_ask(struct run *r, struct sup_stream *s, const struct wrk_msg *m);
/* S is gone: nobody waits for its answer. */
void gc_forget(struct run *r, struct sup_stream *s);
/* Whether a gc waits to be served now (between two commits). */
int gc_wanted(const struct run *r);
/* Run it, answer its connection. */
void serve_gc(struct run *r);

/* ---- dispatch.c ---------------------------------------------------------- */

extern const struct sup_stream_hooks dispatch_hooks;

/* ---- contain.c ----------------------------------------------------------- */

/* The state dir's cgroups as [workflow] cgroups asks, and every agent's
 * limits checked against the host: 0, or -1 (logged) when the run cannot
 * start. */
int contain_open(struct run *r);
/* Record on the execution's row how its agents are contained. */
void contain_record(struct run *r);
/* Make A's attempt cgroup and put it in the worker's ARGS: 0, or -1 with
 * errno and the reason in ERR (LEN bytes). Nothing without cgroups. */
int contain_agent(struct agent *a, struct wrk_ctl_args *args, char *err,
		  size_t len);
/* A's worker ended with STATUS: its cgroup's figures into its row and the
 * mirror, the cgroup killed and removed. What the cgroup says of the end
 * ("killed by the OOM killer (memory_max 2G)"; owned), or NULL. */
char *contain_end(struct agent *a, int status);
/* Kill and remove every cgroup left; back to where we started. */
void contain_close(struct run *r);

/* ---- spawn.c ------------------------------------------------------------- */

/*
 * Start A's worker. Returns 0, or -1 with errno and, in *WHAT,
 * what could not be done ("fork the worker"); *WHAT is NULL when the
 * failure was the store's (already logged).
 */
int spawn(struct agent *a, const char **what);
/* Read what the worker said on the control socket. */
void ctl_drain(struct agent *a);
/* Let A's idle worker go: its socket closed, it exits (as its agent did),
 * and is reaped as one of R->released. */
void release_worker(struct agent *a);
/* Close A's control socket. */
void ctl_close(struct agent *a);
/* A fresh socket token (32 hex digits) into OUT: 0, or -1 with errno. */
int sup_token(char out[33]);
/* The environment every agent of R starts with. */
void shared_environment(struct run *r);

/* ---- zygote.c ------------------------------------------------------------ */

/* A worker process with ARGV and ENV, the fds UP, DOWN and CTL (borrowed)
 * placed at the worker contract's: forked by R's zygote (started at the
 * first call), or exec'd. Its pid, or -1 with errno. */
pid_t new_process(struct run *r, char **argv, char **env, int up, int down,
		  int ctl);
/* PID, a child let go: the run ends after it is reaped. */
void keep_released(struct run *r, pid_t pid);
/* Whether PID was a released worker (forgotten now). */
int forget_released(struct run *r, pid_t pid);
/* Whether PID was R's zygote, which died (then none is used any more). */
int zygote_reaped(struct run *r, pid_t pid);
/* The run ended: the zygote is let go (and none started any more). */
void zygote_stop(struct run *r);

/* ---- budget.c ------------------------------------------------------------ */

/*
 * Add the usage U that agent A reported (TOTAL: U is its session's totals
 * so far, replacing its earlier reports) to the store and the mirror, then
 * check the budgets: 0, or -1 with the store's error.
 */
int budget_usage(struct agent *a, const struct usage *u, int total);

/* ---- tally.c ------------------------------------------------------------- */

/* Count the usage D (may be NULL) and TOOL_CALLS new tool calls toward
 * agent A's current row, to be written by tally_flush(): 0, or -1 with the
 * store's error (a cost that is not a number, refused at once). */
int tally_add(struct agent *a, const struct usage *d, int64_t tool_calls);
/* Write every agent's pending counts into the open batch: 0, or -1 with
 * the store's error (what could not be written stays pending). */
int tally_flush(struct run *r);

/* ---- adapter.c, claude.c, codex.c --------------------------------------- */

/* The command line of a CLI agent SP in session SESSION ("": none yet), a
 * new one or (RESUME) one to go on, with PROMPT; BUDGET the dollars it may
 * spend (<= 0: no limit), for a CLI that takes one. NULL-terminated, to
 * free with free_strv(). */
typedef char **cli_argv_fn(const struct sup_agent *sp, const char *session,
			   int resume, const char *prompt, double budget);

/* What smithers knows of one agent CLI: the rest is the same for all. */
struct adapter {
	enum sup_kind kind;
	const char *program; /* on PATH, when its _command is not set */
	const char *package; /* npm package, for the error when missing */
	int names_session;   /* smithers draws the session id before the
				start; else the CLI says it (codex) */
	int takes_budget;    /* the CLI stops itself at a dollar budget */
	int reports_cost;    /* its usage has a cost, known from the first
				report (Claude Code's comes with its result:
				0 until then) */
	int links_calls;     /* calls inside calls (subagents) */
	int worker;	     /* the worker's parser (WRK_ADAPTER_*) */
	cli_argv_fn *argv;
};

/* The adapter of KIND; NULL for kind = command. */
const struct adapter *adapter_of(enum sup_kind kind);
cli_argv_fn claude_argv;
cli_argv_fn codex_argv;

/* ---- agent.c ------------------------------------------------------------- */

/* The state a A_* state goes to on EV, or -1 when EV means nothing there
 * (the table, for tests). */
int agent_next(enum agent_state st, enum agent_event ev);
/* Move A by EV through the table, running its action. */
void agent_fire(struct agent *a, enum agent_event ev);
const char *agent_state_name(enum agent_state st);
/* The n-th consecutive failure waits this long (n >= 1). */
int64_t backoff_ms(int64_t min_ms, int64_t max_ms, int consecutive);
/* How a run that ended goes on: AE_DONE, AE_RETRY, AE_GIVE_UP or AE_CANCEL,
 * for an agent of SPEC at ATTEMPT that ended OK (or not), the run STOPPING,
 * after a PROTO_ERROR. */
enum agent_event agent_verdict(const struct sup_agent *spec, int attempt,
			       int ok, int stopping, int proto_error);
/* SIGKILL A's worker and its agent's group, now. */
void agent_kill(struct agent *a);
/* Ask A to stop (WHY); only a running agent is. */
void stop_agent(struct agent *a, const char *why);
/* A crossed a budget (WHY): SIGINT first so that the CLI ends its turn,
 * then its stop signal; failed for good. One not running yet is failed
 * without a start. */
void agent_over_budget(struct agent *a, const char *why);
/* Reap the workers that ended. */
void reap(struct run *r);
/* The attempts whose workers said "ended" (and wait): decide what comes
 * next, as reap() does for a worker that exited. */
void agents_ended(struct run *r);
/* Start pending agents while there are free slots. */
void schedule(struct run *r);
/* Set A up as agent INDEX of R's workflow: 0, or -1 out of memory. */
int agent_init(struct run *r, struct agent *a, size_t index);
/* Tell the mirror of every agent (it writes the ones that changed, after
 * the turn's commit). */
void agents_to_mirror(struct run *r);
/* Free what A holds. */
void agent_release(struct agent *a);

/* ---- phase.c ------------------------------------------------------------- */

enum phase_step {
	STEP_REPEAT,	  /* the phase's next iteration */
	STEP_NEXT,	  /* the next phase */
	STEP_NEXT_FAILED, /* the phase failed: on to the next */
	STEP_STOP,	  /* the phase failed: the execution fails */
	STEP_ERROR,	  /* `until` could not be read: the execution fails */
};
/* What comes after iteration ITERATION of PH whose agents all ended
 * (FAILED: one failed or was cancelled), HOLDS being its `until` (1, 0, or
 * -1 when it could not be read; 1 without one). */
enum phase_step phase_next(const struct sup_phase *ph, int iteration,
			   int failed, int holds);
void phase_start(struct run *r);
/* If every agent of the phase ended, end the iteration and go on. */
void phase_check(struct run *r);
/* Record how the execution ended; the loop stops after this turn. */
void finish(struct run *r);
/* Stop every agent: WHY is the signal that asked, or -1 for a failure. */
void stop_all(struct run *r, int why);

/* ---- recover.c ----------------------------------------------------------- */

/*
 * Look for executions a dead supervisor left, stop their processes, and
 * either resume the newest (r->p.exec_id set; 1 with its phase's agents set
 * up, 2 when it had not begun a phase) or mark them interrupted (0: start
 * afresh). -1 when the run cannot start (r->p.exit_status says why).
 */
int recover(struct run *r);

/* ---- fleet.c ------------------------------------------------------------- */

/*
 * With [fleet] nats set: turn shipping on for the state dir (the store's
 * outbox) and start the shipper thread. 0 (also without nats), or -1 when
 * the store cannot turn it on or the thread cannot start.
 */
int fleet_start(struct run *r);
/* After a turn (and its commit): there may be more to ship. */
void fleet_poke(struct run *r);
/* Tell the mirror the lag the shipper last counted, and how shipping
 * goes (nothing without a shipper: the mirror says off). Reads atomics
 * only: once a turn costs nothing. */
void fleet_to_mirror(struct run *r);
/* At the end of the run: let the rest ship for ship_wait at most, then
 * stop the thread. The loop must be done (no batch open). */
void fleet_stop(struct run *r);

#endif /* SMITHERS_SUP_INT_H */
