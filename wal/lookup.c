/*
 * lookup.c - the agents' read-only lookup of one state value (lookup.h).
 *
 * One read-only SQLite connection to DIR/.smithers/smithers.db and one
 * prepared statement. It reads while the supervisor writes (WAL mode) and
 * never writes: no migration, no pragma that changes the file, no libgit2,
 * so that libsmithers links SQLite and nothing of the store's writer.
 *
 * Any schema from version 1 to WAL_SCHEMA_VERSION is read as it is: the
 * state table's key and value have not changed since version 1, and a
 * reader must not migrate. A newer schema is refused (EPROTO), as by
 * wal_open(). Version 0 is a database not created yet: no state.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "wal/lookup.h"
#include "wal/wal.h"

struct wal_lookup {
	sqlite3 *db;
	sqlite3_stmt *get; /* the value of key ?1 */
	char errmsg[512];
};

static int fail(struct wal_lookup *l, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct wal_lookup *l, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(l->errmsg, sizeof(l->errmsg), fmt, ap);
	va_end(ap);
	errno = err;
	return -1;
}

/* The errno for SQLite's result code RC (a subset of wal's: a reader
 * meets no constraint and no full disk). */
static int sql_errno(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return EBUSY;
	case SQLITE_NOMEM:
		return ENOMEM;
	case SQLITE_PERM:
	case SQLITE_AUTH:
	case SQLITE_CANTOPEN:
		return EACCES;
	default: /* NOTADB, CORRUPT, IOERR, ... */
		return EIO;
	}
}

/* PRAGMA user_version, or -1 with SQLite's code in *RC. */
static int schema_version(sqlite3 *db, int *rc)
{
	sqlite3_stmt *st = NULL;
	int version = -1;

	*rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
	if (*rc == SQLITE_OK) {
		*rc = sqlite3_step(st);
		if (*rc == SQLITE_ROW)
			version = sqlite3_column_int(st, 0);
	}
	sqlite3_finalize(st);
	return version;
}

int wal_lookup_open(const char *dir, struct wal_lookup **out)
{
	struct wal_lookup *l;
	struct stat sb;
	char path[4096];
	int rc, version;

	*out = NULL;
	l = calloc(1, sizeof(*l));
	if (!l) {
		errno = ENOMEM;
		return -1;
	}
	*out = l;
	if ((size_t)snprintf(path, sizeof(path), "%s/.smithers/smithers.db",
			     dir) >= sizeof(path))
		return fail(l, ENAMETOOLONG, "cannot open '%s': path too long",
			    dir);
	if (stat(path, &sb) < 0) {
		if (errno == ENOENT)
			return fail(l, ENOENT, "no smithers state in '%s'",
				    dir);
		return fail(l, errno, "cannot open '%s': %s", path,
			    strerror(errno));
	}
	if (!S_ISREG(sb.st_mode))
		return fail(l, EIO, "cannot open '%s': not a regular file",
			    path);
	rc = sqlite3_open_v2(path, &l->db,
			     SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK)
		return fail(l, sql_errno(rc), "cannot open '%s': %s", path,
			    l->db ? sqlite3_errmsg(l->db) : sqlite3_errstr(rc));
	sqlite3_extended_result_codes(l->db, 1);
	/* Before the first read: the supervisor may hold the database for a
	 * moment (creating it, or resetting the WAL). */
	sqlite3_busy_timeout(l->db, 5000);

	version = schema_version(l->db, &rc);
	if (version < 0)
		return fail(l, sql_errno(rc), "cannot open '%s': %s", path,
			    sqlite3_errmsg(l->db));
	if (version == 0)
		return fail(l, ENOENT, "no smithers state in '%s'", dir);
	if (version > WAL_SCHEMA_VERSION)
		return fail(l, EPROTO,
			    "cannot open '%s': its schema version %d is newer "
			    "than this smithers knows (%d); upgrade smithers",
			    path, version, WAL_SCHEMA_VERSION);
	rc = sqlite3_prepare_v3(l->db, "SELECT value FROM state WHERE key = ?1",
				-1, SQLITE_PREPARE_PERSISTENT, &l->get, NULL);
	if (rc != SQLITE_OK) {
		/* SQLITE_ERROR: no state table, not a database of ours. */
		int err = (rc & 0xff) == SQLITE_ERROR ? EPROTO : sql_errno(rc);

		return fail(l, err, "cannot read '%s': %s", path,
			    sqlite3_errmsg(l->db));
	}
	l->errmsg[0] = '\0';
	return 0;
}

char *wal_lookup_get(struct wal_lookup *l, const char *key)
{
	char *value = NULL;
	int rc, err;

	rc = sqlite3_bind_text(l->get, 1, key, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(l->get);
	if (rc == SQLITE_ROW) {
		value = strdup((const char *)sqlite3_column_text(l->get, 0));
		if (!value)
			fail(l, ENOMEM, "out of memory");
	} else if (rc == SQLITE_DONE) {
		fail(l, ENOENT, "no state key '%s'", key);
	} else {
		fail(l, sql_errno(rc), "cannot read state key '%s': %s", key,
		     sqlite3_errmsg(l->db));
	}
	/* Resetting may make system calls: keep the errno of the failure. */
	err = errno;
	sqlite3_reset(l->get);
	sqlite3_clear_bindings(l->get);
	errno = err;
	return value;
}

const char *wal_lookup_errmsg(const struct wal_lookup *l)
{
	if (!l)
		return "out of memory";
	return l->errmsg[0] ? l->errmsg : "no error";
}

void wal_lookup_close(struct wal_lookup *l)
{
	if (!l)
		return;
	sqlite3_finalize(l->get);
	sqlite3_close(l->db);
	free(l);
}
