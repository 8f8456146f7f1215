/*
 * reserve.c - a commit that cannot run out of disk (wal.h, wal_reserve()).
 *
 * When a COMMIT fails for want of space, SQLite rolls the whole transaction
 * back: the turn's changes would be gone, with the agents that sent them
 * still waiting for their acks. So a commit must never be the write that
 * finds the disk full. A commit appends at most a page cache's worth of
 * frames to the WAL (more dirty pages than the cache holds are spilled to
 * the WAL by the statements themselves, whose failure undoes only them), and
 * a few blocks to its index (-shm). Before each commit the writer makes sure
 * that many bytes past the WAL's end are allocated (fallocate, keeping the
 * size, so SQLite sees no change); the WAL is reused from its start after a
 * checkpoint, so in a steady run the blocks are there already and this is
 * one fstat(). If the disk cannot give them, the commit waits.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wal/wal-int.h"

/* The WAL index (-shm) takes a block of this size per 4096 frames. */
#define SHM_BLOCK	 32768
#define FRAME_HEADER	 24

/* Stat *FD, the file PATH-SUFFIX, into SB; opened (again) if it is not
 * open or its file was removed. -1 when there is no such file. */
static int side_file(struct wal *w, int *fd, const char *suffix,
		     struct stat *sb)
{
	char path[4096];

	if (*fd >= 0 && fstat(*fd, sb) == 0 && sb->st_nlink > 0)
		return 0;
	if (*fd >= 0)
		close(*fd);
	snprintf(path, sizeof(path), "%s%s", w->path, suffix);
	*fd = open(path, O_RDWR | O_CLOEXEC);
	return *fd < 0 || fstat(*fd, sb) < 0 ? -1 : 0;
}

/* Allocate blocks for the first BYTES of FD; -1 when the disk cannot. */
static int allocate(struct wal *w, int fd, int64_t bytes, const char *what)
{
	if (fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, (off_t)bytes) == 0)
		return 0;
	if (errno == EOPNOTSUPP || errno == ENOSYS) {
		w->reserve_off = 1;
		return 0;
	}
	return wal_fail(w, errno,
			"cannot reserve %" PRId64 " bytes for the %s in '%s': "
			"%s",
			bytes, what, w->dir, strerror(errno));
}

int wal_reserve(struct wal *w)
{
	int64_t page, need, want, shm;
	struct stat sb;

	if (w->readonly || w->reserve_off)
		return 0;
	if (!w->reserve_margin) {
		int64_t cache = 0;

		if (wal_read_int(w, "PRAGMA page_size", &page) < 0 ||
		    wal_read_int(w, "PRAGMA cache_size", &cache) < 0)
			page = 0;
		if (page <= 0)
			page = 4096;
		/* cache_size < 0 is in KiB. */
		cache = cache < 0 ? -cache * 1024 / page : cache;
		w->reserve_page = page;
		w->reserve_margin = (cache + 64) * (page + FRAME_HEADER) + 32;
		if (w->reserve_margin < 4 * 1024 * 1024)
			w->reserve_margin = 4 * 1024 * 1024;
	}
	/* No WAL yet (nothing written since the open): nothing to keep. */
	if (side_file(w, &w->wal_fd, "-wal", &sb) < 0)
		return 0;
	/* The steady state: the blocks are there (that one fstat). */
	need = sb.st_size + w->reserve_margin + 65536;
	if ((int64_t)sb.st_blocks * 512 >= need)
		return 0;
	/* Past what is needed now, so that a growing WAL asks again only
	 * every margin's worth of frames; what is needed at the least. */
	want = sb.st_size + 2 * w->reserve_margin;
	if (allocate(w, w->wal_fd, want, "WAL") < 0 &&
	    allocate(w, w->wal_fd, need, "WAL") < 0)
		return -1;
	shm = (want / (w->reserve_page + FRAME_HEADER) / 4096 + 2) *
	      (int64_t)SHM_BLOCK;
	if (side_file(w, &w->shm_fd, "-shm", &sb) < 0 ||
	    (int64_t)sb.st_blocks * 512 >= shm)
		return 0;
	return allocate(w, w->shm_fd, shm, "WAL index");
}

/* ---- the database file itself -------------------------------------------- */

int wal_check_file(struct wal *w)
{
	struct stat sb;

	if (stat(w->path, &sb) < 0) {
		if (errno == ENOENT)
			return wal_fail(w, ENOENT,
					"the database '%s' was deleted while "
					"in use",
					w->path);
		return wal_fail(w, errno, "cannot check '%s': %s", w->path,
				strerror(errno));
	}
	if (sb.st_dev != w->file_dev || sb.st_ino != w->file_ino)
		return wal_fail(w, ESTALE,
				"the database '%s' was replaced by another "
				"file while in use",
				w->path);
	return 0;
}

int wal_rescue(struct wal *w, const char *dest)
{
	sqlite3_backup *b;
	sqlite3 *to = NULL;
	int rc;

	unlink(dest);
	rc = sqlite3_open_v2(dest, &to,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc != SQLITE_OK) {
		wal_fail(w, EIO, "cannot create '%s': %s", dest,
			 to ? sqlite3_errmsg(to) : sqlite3_errstr(rc));
		sqlite3_close(to);
		return -1;
	}
	b = sqlite3_backup_init(to, "main", w->db, "main");
	if (!b) {
		wal_fail(w, EIO, "cannot copy into '%s': %s", dest,
			 sqlite3_errmsg(to));
		sqlite3_close(to);
		return -1;
	}
	rc = sqlite3_backup_step(b, -1);
	sqlite3_backup_finish(b);
	if (rc != SQLITE_DONE) {
		wal_fail(w, EIO, "cannot copy into '%s': %s", dest,
			 sqlite3_errstr(rc));
		sqlite3_close(to);
		return -1;
	}
	chmod(dest, 0600);
	return sqlite3_close(to) == SQLITE_OK ? 0 : -1;
}
