/*
 * workflow-int.h - what the files of the workflow loader share and nobody
 * else sees: the parser's state, the keys, and the calls between the INI
 * glue (workflow.c: lines, sections, the whole file), the key setters
 * (workflow-keys.c: one key's value checked into the structs) and the
 * helpers below both (workflow-util.c). Calls go glue -> keys -> util.
 */
#ifndef SMITHERS_SUP_WORKFLOW_INT_H
#define SMITHERS_SUP_WORKFLOW_INT_H

#include <stddef.h>

#include "supervisor/workflow.h"

enum sec_type {
	SEC_NONE,
	SEC_WORKFLOW,
	SEC_SHM,
	SEC_FLEET,
	SEC_PHASE,
	SEC_AGENT
};

enum key_id {
	K_NAME,
	K_MAX_PARALLEL,
	K_SYNCHRONOUS,
	K_LOG_MAX_BYTES,
	K_LOG_KEEP,
	K_FRAME_MAX,
	K_SHM_MODE,
	K_STOP_GRACE,
	K_CGROUPS,
	/* The limits, in sup_limits' order ([workflow] and [agent]). */
	K_MEMORY_MAX,
	K_MEMORY_HIGH,
	K_PIDS_MAX,
	K_CPU_WEIGHT,
	K_CPU_MAX,
	K_SHM_ENABLED,
	K_SHM_KEYS,
	K_SHM_AGENTS,
	K_SHM_KEY_SLOTS,
	/* [fleet] */
	K_FLEET_NATS,
	K_FLEET_MACHINE,
	K_FLEET_SUBJECT_PREFIX,
	K_FLEET_CREDENTIALS,
	K_FLEET_STREAM,
	K_FLEET_REPLICAS,
	K_FLEET_DUPLICATE_WINDOW,
	K_FLEET_SHIP_WAIT,
	K_FLEET_VERIFY,
	K_MAX_ITERATIONS,
	K_UNTIL,
	K_ON_FAILURE,
	K_PHASE,
	K_COMMAND,
	K_MODEL,
	K_PROMPT,
	K_PROMPT_FILE,
	K_SYSTEM_PROMPT,
	K_CWD,
	K_ENV,
	K_RESTART,
	K_MAX_RESTARTS,
	K_BACKOFF,
	K_STARTSECS,
	K_TIMEOUT,
	K_STOP_SIGNAL,
	K_KIND,
	/* Only the agents of a CLI's kind take the keys from here on
	 * (sup_wf_key_kinds() says which kinds). */
	K_MAX_COST_USD,
	K_MAX_TOKENS,
	K_RESUME_PROMPT,
	K_SESSION,
	K_LINE_MAX,
	K_ALLOWED_TOOLS,
	K_DISALLOWED_TOOLS,
	K_PERMISSION_MODE,
	K_MAX_TURNS,
	K_CLAUDE_ARGS,
	K_CLAUDE_COMMAND,
	K_SANDBOX,
	K_CODEX_ARGS,
	K_CODEX_COMMAND,
	K_PRICE_INPUT,
	K_PRICE_CACHED_INPUT,
	K_PRICE_OUTPUT,
	K_COUNT
};

/* The limit keys: K_MEMORY_MAX + i for i < N_LIMIT_KEYS. */
#define N_LIMIT_KEYS (K_CPU_MAX - K_MEMORY_MAX + 1)

/* May be set more than once (env). */
#define F_REPEAT 1u
/* Indented lines that follow continue the value, joined with "\n". */
#define F_LINES 2u
/* An empty value means "not set". */
#define F_EMPTY_OK 4u

struct keydef {
	const char *name;
	enum sec_type sec;
	enum key_id id;
	unsigned flags;
};

/* What an agent needs until the whole file is read. */
struct agent_extra {
	char *phase;	/* name as written */
	int phase_line; /* 0: no phase key */
	int stop_grace_set;
	int limit_line[N_LIMIT_KEYS]; /* line of each of its limit keys; 0 */
};

struct parser {
	const char *path;	       /* for messages */
	const char *pos;	       /* the next line */
	int line;		       /* of the line being read */
	int indented;		       /* that line starts with whitespace */
	const struct keydef *prev_key; /* the section's last key, or NULL */
	int failed;
	int saved_errno;
	char *err;
	size_t errlen;

	struct sup_workflow *wf;
	size_t phase_cap, agent_cap;
	struct agent_extra *extra; /* one per agent */

	enum sec_type sec;
	size_t idx;	   /* of the current phase or agent */
	int sec_line;	   /* of its header */
	int seen[K_COUNT]; /* line each key was set on in this section */
	int workflow_line; /* of [workflow], 0 if none yet */
	int shm_line;	   /* of [shm], 0 if none yet */
	int fleet_line;	   /* of [fleet], 0 if none yet */
	int fleet_only;	   /* a fleet.ini: [fleet] and nothing else */
	int cgroups_line;  /* of [workflow] cgroups, 0 if not set */
	int limit_line[N_LIMIT_KEYS]; /* of [workflow]'s limit keys; 0 */
};

/* Record the first error (at LINE; 0 for none) and fail with EINVAL;
 * returns -1. Later errors are dropped: the first one is the message. */
int sup_wf_err(struct parser *ps, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Record "out of memory" (errno ENOMEM) unless an error came first; -1. */
int sup_wf_nomem(struct parser *ps);

/* Read the file PATH whole, at most MAX bytes (else EFBIG), into a new
 * NUL-terminated string; *LEN gets its length. NULL with errno. */
char *sup_wf_slurp(const char *path, size_t max, size_t *len);
/* Line number (from 1) of byte OFF of TEXT. */
int sup_wf_line_of(const char *text, size_t off);

/* ---- the table of keys and the grammar of values (workflow-values.c) ---
 * The sup_wf_set_* parsers read VALUE, the value of key ID (its name for
 * the messages) on the current line, into *OUT: 0, or -1 with the error
 * recorded in PS, *OUT untouched. */

/* A whole number in [MIN, MAX]. */
int sup_wf_set_count(struct parser *ps, enum key_id id, const char *value,
		     int64_t min, int64_t max, int *out);
/* A size (common/units.h) in [MIN, MAX] bytes. */
int sup_wf_set_size(struct parser *ps, enum key_id id, const char *value,
		    int64_t min, int64_t max, int64_t *out);
/* A duration of at most a year; WHAT names the key in the messages. */
int sup_wf_duration(struct parser *ps, const char *what, const char *value,
		    int64_t *out);
/* A budget in US dollars (max_cost_usd): above 0. */
int sup_wf_set_cost(struct parser *ps, const char *value, double *out);
/* A price in US dollars per million tokens: 0 or more. */
int sup_wf_set_price(struct parser *ps, enum key_id id, const char *value,
		     double *out);
/* A budget of tokens (max_tokens): above 0. */
int sup_wf_set_tokens(struct parser *ps, const char *value, int64_t *out);
/* Words (COMMAS 0) or comma-separated names, replacing *OUT. */
int sup_wf_set_list(struct parser *ps, enum key_id id, const char *value,
		    int commas, char ***out);
/* A share of cores (cpu_max), 0.01 to 1024. */
int sup_wf_set_cores(struct parser *ps, const char *value, double *out);
/* ASCII letters and digits only: the locale must not change a name. */
int sup_wf_is_alnum(char c);
/* Whether the N bytes at S are an environment variable's name. */
int sup_wf_valid_env_name(const char *s, size_t n);
/* Whether the N bytes at S are one NATS subject token (machine, a token of
 * subject_prefix) or, with STREAM, a JetStream stream's name. */
int sup_wf_valid_token(const char *s, size_t n, int stream);
/* Whether the N bytes at S are one server of [fleet] nats:
 * nats://HOST:PORT or tls://HOST:PORT. */
int sup_wf_valid_server(const char *s, size_t n);

/* The key NAME of a section of type SEC (borrowed, static), or NULL. */
const struct keydef *sup_wf_find_key(enum sec_type sec, const char *name);
/* The name of key ID (the first section's that has it). */
const char *sup_wf_key_name(enum key_id id);
/* The kinds of agent that take the agent key ID, as bits 1 << SUP_KIND_*;
 * every kind for the keys before K_KIND. */
unsigned sup_wf_key_kinds(enum key_id id);
/* "claude", "codex", "claude or codex": the kinds of KINDS (bits). */
const char *sup_wf_kinds_text(unsigned kinds);
/* F's defaults (workflow.h), where F has nothing yet: 0, or -1 with
 * errno ENOMEM. */
/* workflow-check.c: the checks once a section or the file is read. Prices
 * are all three or none (_set: all; _any: at least one). */
int sup_wf_prices_set(const struct sup_prices *p);
int sup_wf_prices_any(const struct sup_prices *p);
/* Agent A's prices: its own or the workflow's, all three or none. */
int sup_wf_finish_prices(struct parser *ps, struct sup_agent *a);
/* Limits L of SECTION (each key set at its LINES) are ones the kernel
 * takes. */
int sup_wf_check_limits(struct parser *ps, const char *section,
			const struct sup_limits *l, const int *lines);
/* Agent I's limits over the [workflow] defaults, then checked. */
int sup_wf_finish_limits(struct parser *ps, size_t i);

/* Set the [fleet] key ID to VALUE (workflow-fleet.c): 0, or -1 with the
 * error recorded. */
int sup_wf_set_fleet_key(struct parser *ps, enum key_id id, const char *value);
int sup_wf_fleet_defaults(struct sup_fleet *f);
/* The keys of SRC that DST was not given, moved into DST (and given). */
void sup_wf_fleet_take(struct sup_fleet *dst, struct sup_fleet *src);
/* Set key KD of the current section (PS->sec, PS->idx) to VALUE: 0, or -1
 * with the error recorded in PS. */
int sup_wf_set_key(struct parser *ps, const struct keydef *kd,
		   const char *value);
/* VALUE continues key KD (env, or a key with F_LINES) of the current
 * agent on an indented line: 0, or -1 with the error recorded in PS. */
int sup_wf_continue_key(struct parser *ps, const struct keydef *kd,
			const char *value);

/* S split into words at blanks, '...' and "..." quoting (a backslash in
 * "..." quotes the next character): a new NULL-terminated list, or NULL
 * with errno EINVAL (an unclosed quote; S empty) or ENOMEM. */
char **sup_wf_words(const char *s);
/* S split at commas, each item trimmed of blanks: as sup_wf_words(). */
char **sup_wf_items(const char *s);
/* Free such a list; NULL is a no-op. */
void sup_wf_free_words(char **v);

/* Whether S is a valid workflow, phase or agent name. */
int sup_wf_valid_name(const char *s);
/* REL made absolute from DIR (new string, ".", "//" and a trailing "/"
 * removed), or NULL (ENOMEM). */
char *sup_wf_abs_path(const char *dir, const char *rel);

#endif /* SMITHERS_SUP_WORKFLOW_INT_H */
