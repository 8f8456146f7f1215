/*
 * cgroup.h - containment: the state dir's cgroup, one cgroup per agent
 * attempt, the limits written into it, the figures read from it.
 *
 * Layout (C: the cgroup the supervisor started in; H: a 16-hex-digit hash
 * of the state dir's real path):
 *   v2:  C/smithers-H/               (no process of its own)
 *        C/smithers-H/supervisor/    (the supervisor and its workers)
 *        C/smithers-H/agent-ID-ATTEMPT/   (one agent attempt: its whole
 *                                          process tree, nothing else)
 *   v1 (hybrid hosts, for the controllers v2 does not have): the same
 *        agent-ID-ATTEMPT directories under smithers-H in the memory, pids
 *        and cpu hierarchies, below the v1 cgroup we run in; only agents
 *        go there.
 * The paths of smithers-H in each hierarchy are kept in STATE_DIR/cgroups
 * (one per line): the next supervisor of the state dir kills and removes
 * what a supervisor that died left there, wherever it ran.
 */
#ifndef SMITHERS_SUP_CGROUP_H
#define SMITHERS_SUP_CGROUP_H

#include <stddef.h>
#include <stdint.h>

#include "supervisor/workflow.h"

/* The controllers a limit or a figure needs. */
enum {
	SUP_CG_MEMORY = 1 << 0,
	SUP_CG_PIDS = 1 << 1,
	SUP_CG_CPU = 1 << 2,
};

/* The controllers limits L need (SUP_CG_* bits). */
unsigned sup_cg_needs(const struct sup_limits *l);

struct sup_cg; /* the state dir's cgroups */

/*
 * Kill and remove what a supervisor of STATE_DIR left (STATE_DIR/cgroups),
 * then make the state dir's cgroups under the ones we run in, move
 * ourselves into its supervisor leaf, and turn on in v2 the controllers of
 * NEEDS (SUP_CG_*) that v2 has, plus memory and pids when it has them (for
 * the figures). *LEFTOVERS: the number of agent cgroups killed (logged by
 * the caller).
 * NULL with the reason in ERR when cgroups cannot be made here ("cannot
 * create '/sys/fs/cgroup/x/smithers-...': Permission denied", "no cgroup2
 * file system is mounted"); leftovers are still killed when they can be.
 */
struct sup_cg *sup_cg_open(const char *state_dir, unsigned needs,
			   int *leftovers, char *err, size_t errlen);

/* Whether a supervisor of STATE_DIR left cgroups (STATE_DIR/cgroups
 * exists): a run without cgroups opens and closes them to kill those. */
int sup_cg_left(const char *state_dir);

/* Whether the host enforces limits L with CG (NULL: no cgroups): 0, or -1
 * with the first reason in ERR, naming the key: "memory_max needs the
 * memory controller, not available here (WHY)", "memory_high needs the
 * cgroup v2 memory controller (this host has it on v1 only)",
 * "memory_max needs cgroups, not available here" (CG NULL: the caller
 * says why there are none). */
int sup_cg_check(const struct sup_cg *cg, const struct sup_limits *l,
		 char *err, size_t errlen);

/* One line for the log and the execution's row: "cgroup v2 at PATH;
 * memory, pids, cpu on v1" / "cgroup v2 at PATH (memory, pids, cpu)". */
const char *sup_cg_describe(const struct sup_cg *cg);

/* Kill every agent cgroup left, remove them and ours, move back to the
 * cgroup we started in; free CG. NULL is a no-op. */
void sup_cg_close(struct sup_cg *cg);

struct sup_cg_agent; /* one agent attempt's cgroup */

/* Make the cgroup agent-ID-ATTEMPT with limits L in each hierarchy. NULL
 * with the reason in ERR. */
struct sup_cg_agent *sup_cg_agent_new(struct sup_cg *cg, int64_t id,
				      int attempt, const struct sup_limits *l,
				      char *err, size_t errlen);

/* Its v2 directory (the worker's --cgroup), and its v1 directories (the
 * worker's --cgroup-v1, *N of them). Borrowed. */
const char *sup_cg_agent_dir(const struct sup_cg_agent *a);
const char *const *sup_cg_agent_v1(const struct sup_cg_agent *a, size_t *n);

/* What an agent's cgroup says of its whole process tree. -1: unknown (the
 * host has no counter for it). */
struct sup_cg_usage {
	int64_t mem_peak;	/* memory at its peak */
	int64_t cpu_usec;	/* CPU time, user + system */
	int64_t oom_kills;	/* processes the OOM killer killed in it */
	int64_t pids_refused;	/* forks refused by pids_max */
};

/* Read A's figures into *U, once, at its end. The live ones (memory and
 * processes now) are for readers to take from the cgroup: the supervisor
 * reads nothing while its agents run. */
void sup_cg_agent_read(struct sup_cg_agent *a, struct sup_cg_usage *u);

/* SIGKILL every process of A (cm_cg_kill); 0 or -1 with errno. */
int sup_cg_agent_kill(struct sup_cg_agent *a);

/* Remove A's directories and free A. Its processes must be gone: one
 * still dying is killed and waited for (up to a second); a directory that
 * cannot be removed is logged and left for the next supervisor. NULL is
 * a no-op. */
void sup_cg_agent_free(struct sup_cg_agent *a);

#endif /* SMITHERS_SUP_CGROUP_H */
