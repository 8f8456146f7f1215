/*
 * wal-int.h - what the files of wal/ share and nobody else sees: the handle's
 * body, the prepared-statement table and the helpers every operation uses.
 */
#ifndef SMITHERS_WAL_INT_H
#define SMITHERS_WAL_INT_H

#include <stdarg.h>

#include <pthread.h>

#include <sqlite3.h>
#include <sys/types.h>

#include "wal/wal.h"

/* "2026-11-26T15:22:17.123Z" plus NUL. */
#define WAL_TIME_LEN 32

/* Statements prepared once per handle, on first use. */
/* Slots of wal_run()'s statement cache. */
#define WAL_RUN_CACHE 128

enum wal_stmt_id {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_SAVEPOINT,
	ST_RELEASE,
	ST_ROLLBACK_TO,
	ST_STATE_GET,
	ST_STATE_FIND,
	ST_STATE_INSERT,
	ST_STATE_UPDATE,
	ST_STATE_DELETE,
	ST_STATE_TOMBSTONE,
	ST_TRANSITION_SET,
	ST_TRANSITION_DELETE,
	ST_TRANSITION_UNDO,
	ST_COUNT
};

struct wal {
	sqlite3 *db;
	char *dir;  /* the state dir, DIR/.smithers */
	char *path; /* DIR/.smithers/smithers.db */
	int readonly;
	int in_batch;
	int git_initialised;
	int git_warming;	  /* wal_git_warm()'s thread runs */
	int git_warm_rc;	  /* its git_libgit2_init()'s */
	pthread_t git_thread;
	int counting_frames; /* wal_trim's hook is installed */
	int wal_frames;      /* frames in the WAL after the last commit */
	int wal_fd, shm_fd;  /* wal_reserve()'s, -1 until it opens them */
	int64_t reserve_margin; /* bytes a commit may add to the WAL; 0 */
	int64_t reserve_page;	/* the page size it was computed for */
	int reserve_off;	/* the file system cannot preallocate */
	dev_t file_dev;		/* the database file opened, for */
	ino_t file_ino;		/* wal_check_file() */
	int64_t execution_id; /* attribution of agent-less transitions */
	struct wal_objects *objects; /* object.c: known and pending objects */
	struct wal_keys *keys;	     /* keys.c: the state keys set */
	sqlite3_stmt *st[ST_COUNT];
	/* wal_run()'s statements, prepared once: by the address of their
	 * SQL text (a literal), checked against the text itself. */
	struct {
		const char *sql;
		sqlite3_stmt *st;
	} run_cache[WAL_RUN_CACHE];
	char errmsg[1024];
};

/* keys.c: a state key as the database holds it. */
struct wal_key {
	char *key;
	char *value; /* its value, when it has a row */
	size_t value_cap;
	uint64_t hash; /* 0: a free slot */
	int64_t rowid; /* its state row; 0: none (never set, or deleted) */
	int64_t head;  /* its newest transition; 0: none */
	int known;     /* 0: the rest is not kept (the value is too big) */
};

/* KEY's entry, or NULL when there is none (an entry may be unknown). */
struct wal_key *wal_key_find(struct wal *w, const char *key);
/* Remember KEY as the database now holds it (VALUE NULL: no row), in its
 * entry or a new one. Best effort: what cannot be kept is simply not
 * known. */
void wal_key_keep(struct wal *w, const char *key, const char *value,
		  int64_t rowid, int64_t head);
/* E's key now holds VALUE (NULL: no row) in ROWID, its newest transition
 * HEAD. Best effort too: E may become unknown, or everything forgotten. */
void wal_key_set(struct wal *w, struct wal_key *e, const char *value,
		 int64_t rowid, int64_t head);
/* Forget everything. */
void wal_keys_forget(struct wal *w);
/* At a transaction's start, write lock held: forget everything when
 * another connection committed since the last one. */
void wal_keys_check(struct wal *w);
void wal_keys_free(struct wal *w);

/* Record a failure: message from FMT, errno ERR; returns -1. */
int wal_fail(struct wal *w, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The errno that stands for SQLite's result code RC. */
int wal_errno(int rc);
/* Record SQLite's failure RC while doing WHAT; returns -1. */
int wal_sqlfail(struct wal *w, int rc, const char *what);

/* The prepared statement ID, reset and with its bindings cleared; NULL (and
 * the failure recorded) if it cannot be prepared. */
sqlite3_stmt *wal_stmt(struct wal *w, enum wal_stmt_id id);

/* Run a statement made of no parameters, returning no rows. */
int wal_exec(struct wal *w, const char *sql, const char *what);

/* Step ST to its end; 0 or -1 (recorded as WHAT). Resets ST. */
int wal_step_done(struct wal *w, sqlite3_stmt *st, const char *what);

/* Prepare SQL for a one-off read or write (caller finalizes); NULL on error. */
sqlite3_stmt *wal_prepare(struct wal *w, const char *sql);

/* The statement of SQL (a literal), prepared on first use and kept with
 * the handle, as wal_run() keeps its own: borrowed, reset, no bindings.
 * For the hot paths that bind what wal_run() cannot. NULL on error. */
sqlite3_stmt *wal_cached(struct wal *w, const char *sql);

/* Run SQL, a read of one integer: the first column of its first row into
 * *OUT (unchanged when there is no row). Returns 0 or -1. */
int wal_read_int(struct wal *w, const char *sql, int64_t *out);

/*
 * Every write operation runs between wal_op_begin() and wal_op_end(): in a
 * batch, one savepoint; outside one, its own transaction. wal_op_end(w, 0)
 * undoes the operation alone. Both return 0 or -1.
 */
int wal_op_begin(struct wal *w);
int wal_op_end(struct wal *w, int ok);

/*
 * Prepare SQL (one-off: for operations that are not hot), bind the variable
 * arguments as FMT says - 'i' an id (NULL when <= 0), 'I' an int64_t, 'n' an
 * int64_t or NULL when < 0, 't' text or NULL, 'd' a double - and run it to its
 * end. Returns the number of rows changed, or -1 with the failure recorded as
 * WHAT.
 */
int64_t wal_run(struct wal *w, const char *what, const char *sql,
		const char *fmt, ...);

/* wal_run() with the arguments as a va_list. */
int64_t wal_vrun(struct wal *w, const char *what, const char *sql,
		 const char *fmt, va_list ap);

/*
 * wal_run() as one whole operation that must change exactly one row: -1
 * ENOENT "no NOUN ID" when none matched. Returns 0 or -1.
 */
int wal_update_one(struct wal *w, const char *noun, int64_t id, const char *sql,
		   const char *fmt, ...);

/* SQL for the milliseconds from started_at to the time in parameter END. */
#define WAL_DURATION_MS(end)                                                   \
	"CAST(round((julianday(" end ") - julianday(started_at)) * 86400000)"  \
	" AS INTEGER)"

/* 0 for an id or count, -1 for a failure. */
static inline int wal_status(int64_t r)
{
	return r < 0 ? -1 : 0;
}

/* CHANGED, or -1 ENOENT "no WHAT ID" when it is 0. */
int64_t wal_need_row(struct wal *w, int64_t changed, const char *what,
		     int64_t id);

/*
 * An operation that changes the database with ONE statement needs no
 * savepoint in a batch: a statement that fails undoes itself. These two
 * stand for wal_op_begin() and wal_op_end() there (outside a batch, they
 * are the same).
 */
int wal_op1_begin(struct wal *w);
int wal_op1_end(struct wal *w, int ok);

/* Evaluate BODY (an int64_t, < 0 on failure) as one operation. */
#define WAL_OP(w, body)                                                        \
	({                                                                     \
		int64_t op_r_ = -1;                                            \
		if (wal_op_begin(w) == 0) {                                    \
			op_r_ = (body);                                        \
			if (wal_op_end(w, op_r_ >= 0) < 0)                     \
				op_r_ = -1;                                    \
		}                                                              \
		op_r_;                                                         \
	})

/* WAL_OP() for a BODY that writes with one statement (wal_op1_begin()). */
#define WAL_OP1(w, body)                                                       \
	({                                                                     \
		int64_t op_r_ = -1;                                            \
		if (wal_op1_begin(w) == 0) {                                   \
			op_r_ = (body);                                        \
			if (wal_op1_end(w, op_r_ >= 0) < 0)                    \
				op_r_ = -1;                                    \
		}                                                              \
		op_r_;                                                         \
	})

/* Refuse writes on a read-only handle (EROFS). */
int wal_writable(struct wal *w);

/* Step ST, calling FN for each row; finalizes nothing. Returns 0, -1 or
 * what FN returned to stop. */
int wal_rows(struct wal *w, sqlite3_stmt *st, wal_row_fn *fn, void *arg);

/* A wal_row_fn wrapper that counts the rows it passes on to FN. */
struct wal_counter {
	wal_row_fn *fn;
	void *arg;
	int64_t rows;
};
int wal_count_row(const struct wal_row *row, void *counter);

/*
 * Run the read SQL with ?1 bound to the integer NUM, ?2 to TEXT (NULL
 * binds NULL) and ?3 to LIMIT (<= 0: no limit, -1), calling FN for each
 * row: the shape of every listing. Returns as wal_rows().
 */
int wal_list(struct wal *w, const char *sql, int64_t num, const char *text,
	     int64_t limit, wal_row_fn *fn, void *arg);

/* UTC now as ISO-8601 with milliseconds. */
void wal_now(char buf[WAL_TIME_LEN]);

/* Bind TEXT or NULL; bind an id or NULL when it is 0. */
int wal_bind_text(sqlite3_stmt *st, int i, const char *text);
int wal_bind_id(sqlite3_stmt *st, int i, int64_t id);

/* fleet.c, for gc: keep in temp.gc_exec only what is shipped (wal/fleet.c).
 */
int64_t wal_fleet_gc_hold(struct wal *w);

/* Apply migrations up to TARGET and the custom schema; see schema.c (which
 * uses sql.c's helpers alone: wal.c calls it, never the reverse). */
int wal_schema_migrate(struct wal *w, int target);
int wal_schema_custom(struct wal *w, const char *sql);

/* Set or delete KEY with its transition; the caller holds the op. */
int wal_state_set_locked(struct wal *w, const char *key, const char *json,
			 const char *trigger, int64_t agent_id);
int wal_state_delete_locked(struct wal *w, const char *key, const char *trigger,
			    int64_t agent_id);

/* The tool outputs written (or found) since the last sync: make them and
 * their directories durable - before every COMMIT that may name them.
 * 0, or -1 recorded (the transaction must not commit). */
int wal_objects_sync(struct wal *w);
/* The transaction rolled back: its objects are not synced, and no object
 * is taken as there any more. */
void wal_objects_drop(struct wal *w);
/* Files of logs/objects may be gone (gc): take none as there. */
void wal_objects_forget(struct wal *w);
/* At close: what is pending is dropped. */
void wal_objects_free(struct wal *w);

/* libgit2 is initialised once per handle that needs it. */
int wal_git_init(struct wal *w);

#endif /* SMITHERS_WAL_INT_H */
