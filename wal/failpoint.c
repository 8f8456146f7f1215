/*
 * failpoint.c - crashes on purpose, where a test asks for them (wal.h).
 * Compiled only into a build configured with --enable-failpoints: a
 * library or program that can be made to raise(SIGKILL) by its
 * environment is for tests, never for an install.
 *
 * SMITHERS_FAILPOINT="NAME[:N]" names one point and which pass of it kills
 * the process (SIGKILL: nothing runs after it, as with a power cut of this
 * process alone). The variable is read once; a program that never names
 * a point pays one load and compare per pass.
 *
 * "during-checkpoint" cannot be reached from our code: SQLite copies the
 * WAL into the database inside one call. A VFS in front of the default one
 * sees every write to a database file - in WAL mode only checkpoints write
 * there - and passes the point on each. It is registered only when that
 * point is named.
 */
#include "config.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wal/wal-int.h"

#ifndef SMITHERS_FAILPOINTS
#error "failpoint.c is built only with --enable-failpoints (wal/include.am)"
#endif

static char fp_name[64];
static atomic_long fp_left = -1; /* passes until the crash; -1: none */
static atomic_int fp_loaded;

static void fp_load(void)
{
	const char *env = getenv("SMITHERS_FAILPOINT");
	const char *colon;
	long n = 1;
	size_t len;

	if (atomic_exchange(&fp_loaded, 1))
		return;
	if (!env || !*env)
		return;
	colon = strchr(env, ':');
	len = colon ? (size_t)(colon - env) : strlen(env);
	if (len >= sizeof(fp_name))
		return;
	if (colon) {
		char *end;

		n = strtol(colon + 1, &end, 10);
		if (*end || n < 1) {
			fprintf(stderr,
				"smithers: SMITHERS_FAILPOINT '%s': N must "
				"be a count from 1\n",
				env);
			return;
		}
	}
	memcpy(fp_name, env, len);
	fp_name[len] = '\0';
	atomic_store(&fp_left, n);
}

void wal_failpoint(const char *name)
{
	if (!atomic_load_explicit(&fp_loaded, memory_order_relaxed))
		fp_load();
	if (atomic_load_explicit(&fp_left, memory_order_relaxed) <= 0 ||
	    strcmp(name, fp_name))
		return;
	if (atomic_fetch_sub(&fp_left, 1) == 1) {
		/* Said before the kill: a test can tell this crash from
		 * another. stderr is unbuffered. */
		fprintf(stderr, "smithers: failpoint %s reached\n", name);
		raise(SIGKILL);
	}
}

long wal_failpoint_armed(const char *name)
{
	long left;

	if (!atomic_load(&fp_loaded))
		fp_load();
	left = atomic_load(&fp_left);
	return left > 0 && !strcmp(name, fp_name) ? left : 0;
}

/* ---- the VFS in front of the default one ------------------------------- */

struct fp_file {
	sqlite3_file base;
	sqlite3_file *real; /* right after this struct */
	int main_db;
};

static sqlite3_vfs *fp_real;

#define REAL(f) (((struct fp_file *)(f))->real)

static int fp_close(sqlite3_file *f)
{
	return REAL(f)->pMethods->xClose(REAL(f));
}

static int fp_read(sqlite3_file *f, void *buf, int n, sqlite3_int64 off)
{
	return REAL(f)->pMethods->xRead(REAL(f), buf, n, off);
}

static int fp_write(sqlite3_file *f, const void *buf, int n,
		    sqlite3_int64 off)
{
	if (((struct fp_file *)f)->main_db)
		wal_failpoint("during-checkpoint");
	return REAL(f)->pMethods->xWrite(REAL(f), buf, n, off);
}

static int fp_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	return REAL(f)->pMethods->xTruncate(REAL(f), size);
}

static int fp_sync(sqlite3_file *f, int flags)
{
	return REAL(f)->pMethods->xSync(REAL(f), flags);
}

static int fp_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
	return REAL(f)->pMethods->xFileSize(REAL(f), size);
}

static int fp_lock(sqlite3_file *f, int level)
{
	return REAL(f)->pMethods->xLock(REAL(f), level);
}

static int fp_unlock(sqlite3_file *f, int level)
{
	return REAL(f)->pMethods->xUnlock(REAL(f), level);
}

static int fp_check_lock(sqlite3_file *f, int *out)
{
	return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}

static int fp_file_control(sqlite3_file *f, int op, void *arg)
{
	return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}

static int fp_sector_size(sqlite3_file *f)
{
	return REAL(f)->pMethods->xSectorSize(REAL(f));
}

static int fp_device(sqlite3_file *f)
{
	return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}

static int fp_shm_map(sqlite3_file *f, int pg, int pgsz, int extend,
		      void volatile **out)
{
	return REAL(f)->pMethods->xShmMap(REAL(f), pg, pgsz, extend, out);
}

static int fp_shm_lock(sqlite3_file *f, int off, int n, int flags)
{
	return REAL(f)->pMethods->xShmLock(REAL(f), off, n, flags);
}

static void fp_shm_barrier(sqlite3_file *f)
{
	REAL(f)->pMethods->xShmBarrier(REAL(f));
}

static int fp_shm_unmap(sqlite3_file *f, int delete_flag)
{
	return REAL(f)->pMethods->xShmUnmap(REAL(f), delete_flag);
}

static int fp_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **out)
{
	if (REAL(f)->pMethods->iVersion < 3) {
		*out = NULL; /* no memory map: SQLite reads instead */
		return SQLITE_OK;
	}
	return REAL(f)->pMethods->xFetch(REAL(f), off, n, out);
}

static int fp_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
	if (REAL(f)->pMethods->iVersion < 3)
		return SQLITE_OK;
	return REAL(f)->pMethods->xUnfetch(REAL(f), off, p);
}

static const sqlite3_io_methods fp_methods = {
	.iVersion = 3,
	.xClose = fp_close,
	.xRead = fp_read,
	.xWrite = fp_write,
	.xTruncate = fp_truncate,
	.xSync = fp_sync,
	.xFileSize = fp_file_size,
	.xLock = fp_lock,
	.xUnlock = fp_unlock,
	.xCheckReservedLock = fp_check_lock,
	.xFileControl = fp_file_control,
	.xSectorSize = fp_sector_size,
	.xDeviceCharacteristics = fp_device,
	.xShmMap = fp_shm_map,
	.xShmLock = fp_shm_lock,
	.xShmBarrier = fp_shm_barrier,
	.xShmUnmap = fp_shm_unmap,
	.xFetch = fp_fetch,
	.xUnfetch = fp_unfetch,
};

static int fp_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file,
		   int flags, int *out_flags)
{
	struct fp_file *f = (struct fp_file *)file;
	int rc;

	(void)vfs;
	f->real = (sqlite3_file *)(f + 1);
	f->main_db = (flags & SQLITE_OPEN_MAIN_DB) != 0;
	rc = fp_real->xOpen(fp_real, name, f->real, flags, out_flags);
	/* Without methods, SQLite does not close what did not open. */
	f->base.pMethods = rc == SQLITE_OK && f->real->pMethods ? &fp_methods
								 : NULL;
	return rc;
}

static sqlite3_vfs fp_vfs;

int wal_failpoint_setup(void)
{
	int rc;

	if (!atomic_load(&fp_loaded))
		fp_load();
	if (atomic_load(&fp_left) <= 0 || strcmp(fp_name, "during-checkpoint"))
		return 0;
	if (fp_real)
		return 0;
	fp_real = sqlite3_vfs_find(NULL);
	if (!fp_real || fp_real->iVersion < 1)
		return -1;
	fp_vfs = *fp_real;
	fp_vfs.zName = "smithers-failpoint";
	fp_vfs.szOsFile = (int)sizeof(struct fp_file) + fp_real->szOsFile;
	fp_vfs.xOpen = fp_open;
	rc = sqlite3_vfs_register(&fp_vfs, 1);
	return rc == SQLITE_OK ? 0 : -1;
}
