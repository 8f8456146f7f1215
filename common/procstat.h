/*
 * procstat.h - the one reader of /proc/PID/stat (proc(5)).
 *
 * A pid names a process only with its start time (field 22, clock ticks
 * after boot): callers that remember a pid keep both, and compare the
 * start time before trusting the pid again.
 */
#ifndef SMITHERS_COMMON_PROCSTAT_H
#define SMITHERS_COMMON_PROCSTAT_H

#include <stdint.h>
#include <sys/types.h>

/* The fields of /proc/PID/stat smithers uses. */
struct cm_proc_stat {
	char state;	   /* R, S, D, T, t, Z (a zombie), X (dead) ... */
	pid_t ppid, pgrp;  /* fields 4 and 5 */
	uint64_t ticks;	   /* user + system CPU time (14, 15), clock ticks */
	int64_t start;	   /* start time (22), in ticks after boot */
	int64_t rss_pages; /* resident pages (24) */
};

/*
 * Read the fields of process PID into *OUT (untouched on failure), a
 * zombie's included. 0, or -1 with errno ESRCH (no such process), EPROTO
 * (a line not of the proc(5) form) or open(2)'s and read(2)'s errno.
 */
int cm_proc_stat(pid_t pid, struct cm_proc_stat *out);

#endif /* SMITHERS_COMMON_PROCSTAT_H */
