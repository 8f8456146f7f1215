/*
 * workflow.h - a workflow file (smithers.ini(5)) loaded and checked: its
 * settings, its phases in file order and its agents, every default applied,
 * every path absolute.
 *
 * The structs are spelled out (they are read-only descriptions that the
 * supervisor walks, not a cross-process layout). A loaded workflow is
 * immutable; everything it points to belongs to it and goes with
 * sup_workflow_free().
 *
 * Errors: loading stops at the first problem and returns NULL with errno
 * set (EINVAL for an invalid file, else the errno of the failed call) and
 * one message, "FILE:LINE: problem", in the caller's buffer. Nothing here
 * prints or exits.
 */
#ifndef SMITHERS_SUP_WORKFLOW_H
#define SMITHERS_SUP_WORKFLOW_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "supervisor/cond.h"

/* Longest name of a workflow, phase or agent. */
#define SUP_NAME_MAX 64
/* Largest prompt (prompt or prompt_file), in bytes: the agent gets it in
 * its environment, where Linux caps one string at 128 KiB. */
#define SUP_PROMPT_MAX (64 * 1024)
/* Largest workflow file sup_workflow_load() reads. */
#define SUP_WORKFLOW_FILE_MAX (4 * 1024 * 1024)

/* Defaults. */
#define SUP_DEFAULT_LOG_MAX_BYTES (10 * 1024 * 1024)
#define SUP_DEFAULT_LOG_KEEP	  3
#define SUP_DEFAULT_FRAME_MAX	  (1024 * 1024)
#define SUP_DEFAULT_SHM_MODE	  0600
#define SUP_DEFAULT_SHM_AGENTS	  1024 /* agent slots in the segment */
#define SUP_DEFAULT_SHM_KEYS	  4096 /* key slots in the segment */
#define SUP_SHM_KEY_MAX	  128  /* longest mirrored key (and glob) */
#define SUP_DEFAULT_MAX_RESTARTS  3
#define SUP_DEFAULT_BACKOFF_MIN	  1000	/* ms */
#define SUP_DEFAULT_BACKOFF_MAX	  60000 /* ms */
#define SUP_DEFAULT_STARTSECS	  1000	/* ms */
#define SUP_DEFAULT_STOP_GRACE	  10000 /* ms */
#define SUP_DEFAULT_LINE_MAX	  (64 * 1024 * 1024) /* a CLI's kind */
#define SUP_DEFAULT_RESUME_PROMPT "Continue where you left off."
#define SUP_DEFAULT_FLEET_PREFIX  "smithers"
#define SUP_DEFAULT_FLEET_STREAM  "SMITHERS"
#define SUP_DEFAULT_FLEET_WINDOW  3600000 /* ms */
#define SUP_DEFAULT_SHIP_WAIT	  10000 /* ms */
#define SUP_DEFAULT_FLEET_VERIFY  60000 /* ms */

enum sup_synchronous {
	SUP_SYNC_FULL,	 /* an acked change survives power loss */
	SUP_SYNC_NORMAL, /* an acked change survives a crash */
};

enum sup_on_failure {
	SUP_ON_FAILURE_STOP,	 /* a failed phase ends the execution */
	SUP_ON_FAILURE_CONTINUE, /* the next phase runs anyway */
};

/* What runs: a command of the user's, or an agent CLI smithers knows
 * (Claude Code, Codex), whose command line smithers builds and whose
 * stream its worker records. */
enum sup_kind {
	SUP_KIND_COMMAND,
	SUP_KIND_CLAUDE,
	SUP_KIND_CODEX,
};

/* What a Ralph loop's next iteration of a CLI agent talks in. */
enum sup_session {
	SUP_SESSION_FRESH,    /* a new session */
	SUP_SESSION_CONTINUE, /* the previous iteration's, resumed */
};

/* US dollars per million tokens, for a CLI that reports no cost (codex);
 * each < 0 when not set. */
struct sup_prices {
	double input, cached_input, output;
};

/* The keys of an agent that runs a CLI (kind = claude or codex; NULL-
 * terminated word lists, NULL when not set). */
struct sup_cli {
	char **command;		/* claude_command, codex_command in words;
				   NULL: the CLI's name on PATH */
	char **args;		/* claude_args, codex_args in words */
	char *resume_prompt;	/* never NULL once loaded */
	enum sup_session session;
	int64_t line_max;	/* longest stream line recorded */
	double max_cost_usd;	/* < 0: no budget */
	int64_t max_tokens;	/* 0: no budget */
	struct sup_prices prices; /* codex: the agent's, else the workflow's */
	/* kind = claude */
	char **allowed_tools;	/* allowed_tools, split at commas */
	char **disallowed_tools;
	char *permission_mode;	/* NULL: the CLI's default */
	int max_turns;		/* 0: the CLI's default */
	/* kind = codex */
	char *sandbox;		/* NULL: the CLI's default */
};

/* Per agent, with [workflow] defaults: what its cgroup allows its whole
 * process tree (supervisor/cgroup.h). 0: no limit. */
struct sup_limits {
	int64_t memory_max;  /* bytes: the OOM killer past it */
	int64_t memory_high; /* bytes: throttled past it */
	int64_t pids_max;    /* processes (and threads) at once */
	int cpu_weight;	     /* 1..10000, the share under contention */
	double cpu_max;	     /* cores, e.g. 1.5 */
};

/* [workflow] cgroups: whether agents run in cgroups of their own. */
enum sup_cgroups {
	SUP_CGROUPS_AUTO,     /* where they can be made; else process groups,
				 said once */
	SUP_CGROUPS_REQUIRED, /* refuse to start without */
	SUP_CGROUPS_OFF,      /* process groups only */
};

enum sup_restart {
	SUP_RESTART_NEVER,
	SUP_RESTART_ON_FAILURE,
	SUP_RESTART_ALWAYS,
};

struct sup_phase {
	char *name;
	int line;		/* of its [phase NAME] header */
	int max_iterations;	/* >= 1 */
	struct sup_cond *until; /* NULL: no condition */
	char *until_text;	/* as written; NULL with until */
	enum sup_on_failure on_failure;
	size_t *agents; /* indexes into sup_workflow.agents, in file order */
	size_t nagents; /* >= 1 */
};

struct sup_agent {
	char *name;
	int line;	     /* of its [agent NAME] header */
	size_t phase;	     /* index into sup_workflow.phases */
	enum sup_kind kind;
	char *command;	     /* run by /bin/sh -c, or as its words without
				shell syntax (command_words()); may span
				lines; NULL
				for a CLI's kind */
	char *model;	     /* NULL if not set */
	char *prompt;	     /* prompt, or the contents of prompt_file; NULL */
	char *prompt_file;   /* absolute path it came from; NULL */
	char *system_prompt; /* NULL if not set */
	char *cwd;	     /* absolute */
	char **env;	     /* "NAME=VALUE", NULL-terminated */
	size_t nenv;
	enum sup_restart restart;
	int max_restarts;
	int64_t backoff_min_ms; /* first delay, doubled at each restart */
	int64_t backoff_max_ms; /* cap, >= backoff_min_ms */
	int64_t startsecs_ms;	/* an end sooner than this is a failed start */
	int64_t timeout_ms;	/* 0: none */
	int stop_signal;	/* SIGTERM, ... */
	int64_t stop_grace_ms;	/* from the stop signal to SIGKILL */
	struct sup_cli cli;  /* kind = claude, codex */
	struct sup_limits limits; /* its own keys over [workflow]'s */
};

/* [fleet]: shipping every commit to NATS JetStream (docs/FLEET.md). The
 * same keys may come from a state dir's fleet.ini (sup_fleet_merge_file()),
 * the workflow's winning key by key. Loaded, every value is checked and
 * every default filled in, whether shipping is on (nats) or not. */
struct sup_fleet {
	char *nats;	      /* "nats://HOST:PORT[,nats://HOST:PORT...]";
				 NULL: no shipping (the other keys unused) */
	char *machine;	      /* one subject token; default: the host name */
	char *subject_prefix; /* default "smithers" */
	char *credentials;    /* a .creds file, absolute (relative to the
				 file that named it); NULL: none */
	char *stream;	      /* the stream's name; default "SMITHERS" */
	int replicas;	      /* 1..5; 0: not given (1, or 3 when nats names
				 three servers or more: decided by the user of
				 it, not here) */
	int64_t duplicate_window_ms; /* default 1 h; > 0 */
	int64_t ship_wait_ms;	     /* at the end of a run, how long to wait
					for the rest to ship; default 10 s;
					0: not at all */
	int64_t verify_ms;	     /* how often what was shipped is checked
					against the fleet view; default 60 s;
					0: never */
	unsigned given;	      /* bit per key given (SUP_FLEET_*), for merging */
};

/* The bits of sup_fleet.given: the keys a file set. */
#define SUP_FLEET_NATS		   1u
#define SUP_FLEET_MACHINE	   2u
#define SUP_FLEET_SUBJECT_PREFIX   4u
#define SUP_FLEET_CREDENTIALS	   8u
#define SUP_FLEET_STREAM	   16u
#define SUP_FLEET_REPLICAS	   32u
#define SUP_FLEET_DUPLICATE_WINDOW 64u
#define SUP_FLEET_SHIP_WAIT	   128u
#define SUP_FLEET_VERIFY	   256u

struct sup_workflow {
	char *name;
	char *path;	  /* as given, for messages */
	char *dir;	  /* absolute directory relative paths start from */
	int max_parallel; /* 0: no limit */
	enum sup_synchronous synchronous;
	int64_t log_max_bytes;	  /* agent logs rotate at this size */
	int log_keep;		  /* rotated logs kept per agent */
	int64_t frame_max;	  /* largest frame an agent may send */
	mode_t shm_mode;	  /* permissions of the shm segment */
	int shm_enabled;	  /* [shm] enabled: publish the segment */
	int shm_agents;		  /* [shm] agents: agent slots */
	int shm_key_slots;	  /* [shm] key_slots: mirrored keys at most */
	char **shm_keys;	  /* [shm] keys: globs, NULL-terminated;
				   * NULL: every key */
	size_t nshm_keys;
	int64_t stop_grace_ms;	  /* the agents' default */
	double max_cost_usd;	  /* the execution's budget; < 0: none */
	int64_t max_tokens;	  /* the execution's tokens; 0: no budget */
	struct sup_prices prices; /* the codex agents' default prices */
	enum sup_cgroups cgroups;
	struct sup_limits limits; /* the agents' defaults */
	struct sup_phase *phases; /* in file order */
	size_t nphases;		  /* >= 1 */
	struct sup_agent *agents; /* in file order */
	size_t nagents;
	struct sup_fleet fleet;	  /* [fleet], defaults filled in */
};

/*
 * Read and check the workflow file PATH; relative paths in it start from
 * its directory. Returns a new workflow (free with sup_workflow_free()), or
 * NULL with errno and a message in ERR (ERRLEN bytes), e.g.
 * "flow.ini:12: unknown key 'comand' in [agent scout]" or
 * "cannot open 'flow.ini': No such file or directory".
 */
struct sup_workflow *sup_workflow_load(const char *path, char *err,
				       size_t errlen);

/*
 * Check the workflow TEXT as if read from PATH (used in messages and for the
 * default name; may be NULL), relative paths starting from BASE_DIR (NULL:
 * the current directory; made absolute). The same results as
 * sup_workflow_load().
 */
struct sup_workflow *sup_workflow_parse(const char *text, const char *path,
					const char *base_dir, char *err,
					size_t errlen);

/* Free WF and everything it holds (its fleet too); NULL is a no-op. */
void sup_workflow_free(struct sup_workflow *wf);

/*
 * Read the [fleet] keys of the file PATH (a state dir's fleet.ini: only a
 * [fleet] section is allowed in it) into F for each key F was not given
 * (the workflow's keys win, key by key); the keys taken are then given in
 * F too. F is a loaded workflow's fleet, or zeroed (then it gets the
 * defaults of the keys neither gives). A relative credentials starts from
 * PATH's directory. A missing file is no error (0). Returns 0, or -1 with
 * errno (EINVAL for an invalid file) and a message in ERR like the
 * loader's ("fleet.ini:3: ..."); F is unchanged by a file refused. Either
 * way F is the caller's, to free with sup_fleet_free().
 */
int sup_fleet_merge_file(struct sup_fleet *f, const char *path, char *err,
			 size_t errlen);
/* Free what F holds (not F), leaving it zeroed; NULL is a no-op. */
void sup_fleet_free(struct sup_fleet *f);

/* The J-th agent (in file order) of phase PHASE, or NULL past the last one
 * or for a phase that does not exist (borrowed). */
const struct sup_agent *sup_workflow_phase_agent(const struct sup_workflow *wf,
						 size_t phase, size_t j);

/* Index of the phase or agent named NAME, or -1. */
ssize_t sup_workflow_find_phase(const struct sup_workflow *wf,
				const char *name);
ssize_t sup_workflow_find_agent(const struct sup_workflow *wf,
				const char *name);

/*
 * A stop_signal value: the name (as common/units.h reads it: "TERM",
 * "SIGTERM", "term") of TERM, INT, HUP, KILL, USR1, USR2 or QUIT. Its
 * number, or -1 with errno EINVAL. Durations, sizes and counts of the file
 * are common/units.h's cm_parse_duration(), cm_parse_size(),
 * cm_parse_int().
 */
int sup_parse_stop_signal(const char *text);

/* "never", "on-failure", "always"; and the others' names as in the file. */
const char *sup_restart_name(enum sup_restart r);
const char *sup_kind_name(enum sup_kind k);
const char *sup_on_failure_name(enum sup_on_failure f);
const char *sup_synchronous_name(enum sup_synchronous s);

#endif /* SMITHERS_SUP_WORKFLOW_H */
