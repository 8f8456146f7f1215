/*
 * cgroup-int.h - what the two files of containment share and nobody else
 * sees: the state dir's cgroups (struct sup_cg), the controllers' indexes
 * and the helpers both use. cgroup.c makes and removes the state dir's
 * cgroups and defines the helpers; cgroup-agent.c makes one agent
 * attempt's cgroup under them. Calls go cgroup-agent.c -> cgroup.c.
 */
#ifndef SMITHERS_SUP_CGROUP_INT_H
#define SMITHERS_SUP_CGROUP_INT_H

#include <limits.h>
#include <stddef.h>

#include "supervisor/cgroup.h"

/* The controllers, indexed so that 1u << i is their SUP_CG_* bit. */
enum { CTL_MEMORY, CTL_PIDS, CTL_CPU, NCTL };

_Static_assert(SUP_CG_MEMORY == 1u << CTL_MEMORY, "SUP_CG_MEMORY");
_Static_assert(SUP_CG_PIDS == 1u << CTL_PIDS, "SUP_CG_PIDS");
_Static_assert(SUP_CG_CPU == 1u << CTL_CPU, "SUP_CG_CPU");

struct sup_cg {
	char start[PATH_MAX]; /* C: the v2 cgroup we started in */
	char base[PATH_MAX];  /* C/smithers-H */
	char leaf[PATH_MAX];  /* C/smithers-H/supervisor */
	char *v1[NCTL];	      /* smithers-H in the v1 hierarchy of a
			       * controller v2 does not give; NULL: none */
	char **stale;	      /* a dead supervisor's, not removable */
	size_t nstale, stale_cap;
	char hash[17];
	char file[PATH_MAX]; /* STATE_DIR/cgroups */
	unsigned v2;	     /* SUP_CG_* enabled in smithers-H */
	unsigned in_c;	     /* SUP_CG_* we enabled in C's subtree_control */
	int made_base, made_leaf, entered;
	char why[NCTL][PATH_MAX + 128]; /* why a controller is missing */
	char desc[PATH_MAX + 64];
};

/* FMT... into ERR (LEN bytes); nothing when ERR is NULL. */
void cg_say(char *err, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* FMT... into OUT (a PATH_MAX buffer); -1 (ENAMETOOLONG) past it. */
int cg_pathf(char *out, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Kill whatever DIR holds and remove it, waiting up to MS in all for its
 * processes to be gone. A v2 directory is killed at once (cgroup.kill);
 * a v1 one has no such file: its processes are signalled while rmdir(2)
 * says it is busy. 0 (removed, or already gone), or -1 with errno. */
int cg_kill_remove(const char *dir, int ms);

#endif /* SMITHERS_SUP_CGROUP_INT_H */
