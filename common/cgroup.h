/*
 * cgroup.h - the operations on one cgroup v2 directory that the worker,
 * the supervisor and smithers-top share: enter it, signal or kill every
 * process in it, wait until it is empty, read its counters, and find the
 * cgroup of a process.
 *
 * The mount points are looked up once in a process (mounts of cgroup file
 * systems do not move under a running supervisor); not for threads.
 *
 * DIR is always a directory of a mounted cgroup2 file system (e.g.
 * /sys/fs/cgroup/unified/.../agent-12-1), never a v1 hierarchy's, except
 * for cm_cg_enter() and cm_cg_read_*(), which take either. libc only.
 */
#ifndef SMITHERS_COMMON_CGROUP_H
#define SMITHERS_COMMON_CGROUP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Write S to the file DIR/NAME in one write(2), as cgroup files want. 0,
 * or -1 with errno. Async-signal-safe. */
int cm_cg_write(const char *dir, const char *name, const char *s);

/* Move the calling process into DIR (v2 or v1): "0" to DIR/cgroup.procs.
 * Async-signal-safe (open, write, close only): for a child between fork
 * and exec. 0, or -1 with errno. */
int cm_cg_enter(const char *dir);

/* Send SIG to every process in DIR (its cgroup.procs, read until no new
 * pid appears). With FREEZE, DIR is frozen first and thawed after, so
 * that no process forks past the signal. The number of processes
 * signalled, or -1 with errno (ENOENT: no such cgroup). */
int cm_cg_signal(const char *dir, int sig, int freeze);

/* SIGKILL every process in DIR: "1" to DIR/cgroup.kill where the kernel
 * has it (5.14), else cm_cg_signal(DIR, SIGKILL, 1). 0, or -1 with errno;
 * a DIR that is gone already is 0. */
int cm_cg_kill(const char *dir);

/* Wait up to TIMEOUT_MS for DIR to hold no process ("populated 0" in its
 * cgroup.events). 0 when it is empty (or gone), -1 with errno ETIMEDOUT
 * when processes are still there, or another errno. */
int cm_cg_wait_empty(const char *dir, int timeout_ms);

/* The number after KEY in FILE (lines "KEY VALUE", as cgroup.events,
 * memory.events, cpu.stat, pids.events, memory.oom_control), or -1 when
 * the file or the key is missing. */
int64_t cm_cg_read_key(const char *file, const char *key);

/* The single number FILE holds (memory.current, pids.current,
 * memory.usage_in_bytes...); "max" reads as INT64_MAX; -1 when missing. */
int64_t cm_cg_read_int(const char *file);

/* The same two from an fd kept open (pread at offset 0): the supervisor
 * reads its agents' figures every second without an open(2) each. */
int64_t cm_cg_pread_key(int fd, const char *key);
int64_t cm_cg_pread_int(int fd);

/* The cgroup2 mount point ("/sys/fs/cgroup" on a pure v2 host,
 * "/sys/fs/cgroup/unified" on a hybrid one) into OUT; 0, or -1 (ENOENT)
 * when no cgroup2 file system is mounted. */
int cm_cg_v2_mount(char *out, size_t len);

/* The directory of PID's cgroup v2 (the mount point and the "0::" line of
 * /proc/PID/cgroup; PID 0: ourselves) into OUT; 0 or -1 with errno. */
int cm_cg_of_pid(pid_t pid, char *out, size_t len);

/* The directory of PID's cgroup (PID 0: ourselves) in the v1 hierarchy of
 * controller CTL ("memory", "pids", "cpu") into OUT: the hierarchy's
 * mount point (a "cgroup" mount whose options name CTL) and the path
 * /proc/PID/cgroup gives for it, less the mount's root. 0, or -1 with
 * errno (ENOENT: no such hierarchy here, or the cgroup is not below its
 * mount). */
int cm_cg_v1_of_pid(pid_t pid, const char *ctl, char *out, size_t len);

/* Whether WORD is one of the words of LIST (its first N bytes), split at
 * any of SEPS: a controller in "memory pids", an option in "rw,cpu". */
int cm_cg_has_word(const char *list, size_t n, const char *seps,
		   const char *word);

#endif /* SMITHERS_COMMON_CGROUP_H */
