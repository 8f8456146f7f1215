/*
 * proc.h - processes of an earlier supervisor: who they are (start time,
 * boot) and stopping the ones still alive without ever signalling a pid
 * the kernel has given to somebody else since.
 *
 * A pid names a process only together with its start time (clock ticks
 * after boot, field 22 of /proc/PID/stat) and the boot (the kernel's
 * boot_id): the agent rows keep all three.
 */
#ifndef SMITHERS_SUP_PROC_H
#define SMITHERS_SUP_PROC_H

#include <stdint.h>
#include <sys/types.h>

#include "common/procstat.h"

/* The fields of /proc/PID/stat are read by common/procstat.h, the one
 * reader. */

/* Start time of PID in ticks after boot; -1 when there is no such process
 * or it is a zombie (it has ended: only its exit status is left). */
int64_t sup_proc_start(pid_t pid);

/* Call FN for each live process (not a zombie) with its fields, until it
 * returns non-zero; that value, or 0, or -1 if /proc cannot be read. */
int sup_proc_each(int (*fn)(pid_t pid, const struct cm_proc_stat *st,
			    void *arg),
		  void *arg);

/* The command line of PID into BUF (its arguments each ended by a NUL,
 * cut at SIZE bytes); its length, or -1 when there is no such process.
 * A kernel thread's is empty. */
ssize_t sup_proc_cmdline(pid_t pid, char *buf, size_t size);

/* The kernel's boot id into OUT (37 bytes); "" if unknown. */
void sup_boot_id(char out[37]);

/*
 * Stop the process group led by PID with SIGKILL if it is still the one
 * that started at START (ticks after boot; 0: unknown, then nothing is
 * signalled). A group whose leader has ended is killed too: its id cannot
 * be another's while it has members. Returns 1 when something was
 * signalled, 0 when nothing was left (or the pid is now another
 * process's).
 */
int sup_proc_kill_group(pid_t pid, int64_t start);

/* Wait up to TIMEOUT_MS for the group PGID to have no live member; 0 when
 * it has none, -1 when some are still there. */
int sup_proc_wait_group(pid_t pgid, int timeout_ms);

#endif /* SMITHERS_SUP_PROC_H */
