/*
 * top.h - what the files of smithers-top share: one snapshot of the
 * segment (header, agents with their /proc figures, keys), the sampler
 * that takes it, its outputs, and the /proc reader.
 *
 * Calls go one way, down: top-main.c (options) runs the screen (top-ui.c)
 * or the printed outputs (top-print.c); both show what the sampler
 * (top.c) takes; the sampler reads the segment and /proc (top-proc.c).
 * Nothing here touches the database: every live figure comes from the
 * segment or from /proc.
 */
#ifndef SMITHERS_TOOLS_TOP_H
#define SMITHERS_TOOLS_TOP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "shm/shm.h"

/* ---- /proc (top-proc.c) ---------------------------------------------------- */

struct top_procs;

/* A sampler remembering each process' CPU ticks between rounds. NULL on
 * ENOMEM. */
struct top_procs *top_procs_new(void);
void top_procs_free(struct top_procs *p);

/* Start a round of samples: one per process, all at about the same time. */
void top_procs_begin(struct top_procs *p);
/* An agent's whole process tree, from its cgroup: memory now and at its
 * peak (bytes), CPU time (microseconds), processes; each -1 when unknown
 * (no agent cgroup, or no such counter on this host). */
struct top_tree {
	long long mem, peak;
	int64_t cpu_usec;
	long long nprocs;
};

/*
 * Sample process group leader PID: *CPU its percent of one core since the
 * last round (since it started, the first time it is seen), *RSS its
 * resident bytes, *TREE what its cgroup says when it is an agent's. 0, or
 * -1 when PID is gone or is not a group leader (a reused pid): all are
 * then -1.
 */
int top_procs_sample(struct top_procs *p, pid_t pid, double *cpu,
		     long long *rss, struct top_tree *tree);
/* In the same round, agent ID in a cgroup whose whole tree has used
 * CPU_USEC: its percent of one core since the last round, or -1 (not
 * sampled then, or unknown). */
double top_procs_tree(struct top_procs *p, int64_t id, int64_t cpu_usec);
/* End the round: forget the processes it did not sample. */
void top_procs_end(struct top_procs *p);
/* Forget the trees' last round: a new segment's CPU times start again
 * (the processes' stay: a pid and its start time name one process). */
void top_procs_forget_trees(struct top_procs *p);

/* ---- snapshots (top.c) ----------------------------------------------------- */

/* What the table shows of an agent's CPU and memory: its whole process
 * tree's, read from its cgroup (top-proc.c), where it runs in one, else
 * its process group leader's from /proc; its peak and CPU time over its
 * attempts: the ended ones' from the segment (1.3) and the running one's
 * from its cgroup. */
struct top_agent {
	struct shm_agent a;
	double cpu;    /* percent of one core; < 0: unknown */
	long long mem; /* bytes now; < 0: unknown */
	long long rss; /* the leader's resident bytes (/proc); < 0: unknown */
	int tree;      /* mem (and cpu, from a second sample) is the
			  cgroup's */
	long long peak;	   /* bytes; < 0: unknown */
	int64_t cpu_usec;  /* its tree's CPU time; < 0: unknown */
	long long nprocs;  /* processes in its cgroup now; < 0: unknown */
};

struct top_key {
	size_t key, value; /* offsets in top_snap.text */
	size_t len;	   /* of the value */
	int truncated;	   /* the mirror holds only a prefix */
};

struct top_snap {
	struct shm_header_snap h;
	int alive;	  /* shm_writer_alive() */
	int64_t now_ms;	  /* wall clock when taken */
	double msg_rate;  /* messages per second; < 0: unknown */
	double commit_rate;
	long long wal_bytes; /* size of the -wal file; < 0: none */
	unsigned running, done, failed, restarting;
	struct top_agent *agents;
	size_t nagents, agents_cap;
	struct top_key *keys; /* sorted by key; only when asked for */
	size_t nkeys, keys_cap;
	int have_keys;
	char *text; /* the keys' strings */
	size_t text_len, text_cap;
};

struct top {
	const char *dir;
	char *wal_path;
	struct shm_reader *r;
	struct top_procs *procs;
	struct top_snap snap;
	unsigned reattached; /* times a new segment replaced the old one */
	/* The counters at the last sample, for the rates. */
	int have_prev;
	uint64_t prev_messages, prev_commits;
	double prev_time; /* monotonic seconds */
};

/* The key K of S. */
static inline const char *top_key_name(const struct top_snap *s,
				       const struct top_key *k)
{
	return s->text + k->key;
}

static inline const char *top_key_value(const struct top_snap *s,
					const struct top_key *k)
{
	return s->text + k->value;
}

/* Take a new snapshot into T->snap; with KEYS, the mirrored keys too.
 * When a new supervisor has replaced the segment, T->r is first that
 * one's (T->reattached counts it). */
void top_sample(struct top *t, int keys);

/* The sort columns, in the order of the table. */
enum top_col {
	COL_AGENT,
	COL_PHASE,
	COL_STATUS,
	COL_KIND,
	COL_PID,
	COL_CPU,
	COL_MEM,
	COL_PEAK,
	COL_TIME,
	COL_RESTARTS,
	COL_TOOLS,
	COL_COST,
	COL_IN,
	COL_OUT,
	COL_CACHE,
	COL_LAST,
	COL_AGE,
	COL_RUNNING,
	COL_COUNT
};

extern const char *const top_col_names[COL_COUNT];

/* Sort the agents of S by COL (REVERSE: descending), ties by name. */
void top_sort(struct top_snap *s, enum top_col col, int reverse);

/* Whether A's cost in S is known: an agent reported one (a segment
 * older than 1.2 does not say: its costs are known). */
int top_cost_known(const struct top_snap *s, const struct shm_agent *a);
/* Whether the execution's cost in S is known: some agent reported one. */
int top_total_cost_known(const struct top_snap *s);
/* What KIND shows for A: command, claude, codex; "-" when the segment
 * does not say (older than 1.2). */
const char *top_agent_kind(const struct shm_agent *a);

/* What LAST shows for A: its last tool, else its last key. */
const char *top_agent_last(const struct shm_agent *a);

/* Compact renderings into BUF (LEN bytes); each returns BUF. "-" when
 * unknown. */
char *top_fmt_bytes(char *buf, size_t len, long long bytes);
/* CPU time in microseconds as a duration (top_fmt_duration()). */
char *top_fmt_cpu_time(char *buf, size_t len, int64_t usec);
/* CPU% as the table shows it: 12.5, "-" when unknown. */
char *top_fmt_cpu(char *buf, size_t len, double cpu);
char *top_fmt_count(char *buf, size_t len, long long n);
char *top_fmt_duration(char *buf, size_t len, int64_t ms);
/* Tokens: exact below 1000, then 12.3k, 4.5M, 1.2G. */
char *top_fmt_tokens(char *buf, size_t len, long long n);
/* A cost in millionths of a dollar: $0.4312 (cents only from $100);
 * "-" when it is not KNOWN. */
char *top_fmt_cost_known(char *buf, size_t len, int64_t micro_usd,
			 int known);
/* A cost in millionths of a dollar: $0.4312 (cents only from $100). */
char *top_fmt_cost(char *buf, size_t len, int64_t micro_usd);
/* What RUNNING shows for A at NOW_MS (wall clock), in at most WIDTH
 * columns: the tool of the call it started last among those running and
 * for how long ("Bash 12s"), " +N" for N more running; "" when none. The
 * time stays whole: a long tool name is cut instead. */
char *top_fmt_running(char *buf, size_t len, const struct shm_agent *a,
		      int64_t now_ms, int width);

/*
 * Copy S into BUF (LEN bytes) fitting in at most WIDTH columns: control
 * characters become '?', a UTF-8 sequence counts as one column and is
 * never cut, and a cut shows as a final '~'. Returns BUF.
 */
char *top_fit(char *buf, size_t len, const char *s, int width);

/* Shipping to a fleet (segment 1.4): its state as a word ("shipping",
 * "failing", "stopped"), NULL when it is off; how many seconds behind it
 * is (the oldest row not shipped), 0 up to date, -1 off or not counted. */
const char *top_fleet_state(const struct top_snap *s);
int64_t top_fleet_lag_s(const struct top_snap *s);

/* Lines top_header() writes at most. */
#define TOP_HEADER_LINES 7

/* The header lines (without newlines) of S into LINES (up to
 * TOP_HEADER_LINES, each WIDTH columns at most); returns how many. With
 * shipping to a fleet on, one of them says how far behind it is. The
 * not-running banner, if any, is the last one and *BANNER is set to its
 * index (else -1). */
int top_header(const struct top_snap *s, char lines[][256], int width,
	       int *banner);

/* ---- output for programs (top-print.c) -------------------------------------- */

/* S as batch text (the header lines, a blank line, the agent table). */
void top_print_batch(const struct top_snap *s, FILE *fp);
/* S as one JSON object on one line. */
void top_print_json(const struct top_snap *s, FILE *fp);

/* ---- the screen (top-ui.c) -------------------------------------------------- */

struct top_ui_options {
	int delay_ms;
	int sort;
	int reverse;
};

/* Run the interactive monitor until q; returns the exit status. */
int top_ui(struct top *t, const struct top_ui_options *opt);

#endif /* SMITHERS_TOOLS_TOP_H */
