/*
 * fleet.c - the outbox of a state dir that ships its commits to a fleet
 * (docs/FLEET.md): which rows changed since they were last shipped, and how
 * far the shipping has got.
 *
 * Shipping is on while the fleet_* triggers exist. Each of them, in the
 * writer's own transaction, gives the row it fired for a new entry in
 * fleet_outbox: the old entry of that row goes, and the new one's id, drawn
 * from an AUTOINCREMENT sequence that never goes back, is the row's version.
 * The entry is deleted and inserted rather than REPLACEd because a
 * trigger's conflict clause gives way to the firing statement's: under an
 * INSERT OR IGNORE, a REPLACE would keep the old, lower version.
 * Transitions are append-only and ordered by id: a cursor on their id is
 * all they need.
 *
 * What ships is each row as a JSON object of all its columns, read in one
 * snapshot (wal_fleet_next); a column declared JSON is nested as JSON, not
 * as the text that holds it.
 *
 * While verifying is on (a row per cursor in fleet_verified), an entry
 * stays in the outbox until it is shipped and verified: its id is the
 * version the fleet view must hold (wal_fleet_unverified).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wal/wal-int.h"

/* The tables whose rows change after they are written, parents first:
 * X(name) for each. */
#define FLEET_TABLES(X)                                                        \
	X(executions) X(phases) X(agents) X(tool_calls) X(memories) X(artifacts)
#define FLEET_NAME(t) #t,
static const char *const fleet_tables[] = {FLEET_TABLES(FLEET_NAME)};
#define FLEET_NTABLES (sizeof(fleet_tables) / sizeof(fleet_tables[0]))

/* Milliseconds since the epoch, in SQL. */
#define FLEET_NOW_MS                                                           \
	"CAST(round((julianday('now') - 2440587.5) * 86400000) AS INTEGER)"

/* The triggers of TABLE, for EVENT (INSERT or UPDATE). */
static int create_trigger(struct wal *w, const char *table, const char *event)
{
	char sql[640];

	snprintf(sql, sizeof(sql),
		 "CREATE TRIGGER fleet_%s_%s AFTER %s ON %s BEGIN"
		 " DELETE FROM fleet_outbox"
		 "  WHERE tbl = '%s' AND row_id = NEW.id;"
		 " INSERT INTO fleet_outbox (tbl, row_id, at_ms)"
		 "  VALUES ('%s', NEW.id, " FLEET_NOW_MS ");"
		 " END",
		 table, strcmp(event, "INSERT") ? "upd" : "ins", event, table,
		 table, table);
	return wal_exec(w, sql, "cannot start shipping");
}

/* Every row there is, to be shipped: an entry each, in id order. */
static int seed(struct wal *w, const char *table)
{
	char sql[320];

	snprintf(sql, sizeof(sql),
		 "INSERT INTO fleet_outbox (tbl, row_id, at_ms)"
		 " SELECT '%s', id, " FLEET_NOW_MS " FROM %s ORDER BY id",
		 table, table);
	return wal_exec(w, sql, "cannot start shipping");
}

int wal_fleet_enabled(struct wal *w)
{
	int64_t n = 0;

	if (wal_read_int(w,
			 "SELECT count(*) FROM sqlite_master"
			 " WHERE type = 'trigger' AND name = 'fleet_agents_ins'",
			 &n) < 0)
		return -1;
	return n > 0;
}

static int64_t fleet_enable(struct wal *w)
{
	int on = wal_fleet_enabled(w);

	if (on != 0)
		return on < 0 ? -1 : 0;
	/* What an earlier `fleet off` left cannot be: it empties both. */
	if (wal_exec(w,
		     "DELETE FROM fleet_outbox; DELETE FROM fleet_verified;"
		     " INSERT OR REPLACE INTO fleet_cursor (name, shipped)"
		     "  VALUES ('outbox', 0), ('transitions', 0)",
		     "cannot start shipping") < 0)
		return -1;
	for (size_t i = 0; i < FLEET_NTABLES; i++)
		if (seed(w, fleet_tables[i]) < 0 ||
		    create_trigger(w, fleet_tables[i], "INSERT") < 0 ||
		    create_trigger(w, fleet_tables[i], "UPDATE") < 0)
			return -1;
	return 1;
}

int wal_fleet_enable(struct wal *w)
{
	if (wal_writable(w) < 0)
		return -1;
	return (int)WAL_OP(w, fleet_enable(w));
}

static int64_t fleet_off(struct wal *w)
{
	char sql[96];

	for (size_t i = 0; i < FLEET_NTABLES; i++) {
		snprintf(sql, sizeof(sql),
			 "DROP TRIGGER IF EXISTS fleet_%s_ins;"
			 " DROP TRIGGER IF EXISTS fleet_%s_upd",
			 fleet_tables[i], fleet_tables[i]);
		if (wal_exec(w, sql, "cannot stop shipping") < 0)
			return -1;
	}
	return wal_exec(w,
			"DELETE FROM fleet_outbox; DELETE FROM fleet_cursor;"
			" DELETE FROM fleet_verified",
			"cannot stop shipping");
}

int wal_fleet_off(struct wal *w)
{
	if (wal_writable(w) < 0)
		return -1;
	return (int)WAL_OP(w, fleet_off(w));
}

/* The entries done with: shipped, and verified if verifying is on. */
#define FLEET_DROP_DONE                                                        \
	"DELETE FROM fleet_outbox WHERE id <= (SELECT min(c.shipped,"          \
	" coalesce(v.verified, c.shipped)) FROM fleet_cursor AS c"             \
	" LEFT JOIN fleet_verified AS v ON v.name = c.name"                    \
	" WHERE c.name = 'outbox')"

static int64_t fleet_shipped(struct wal *w, int64_t outbox,
			     int64_t transitions)
{
	static const char sql[] =
		"UPDATE fleet_cursor SET shipped = max(shipped, ?2)"
		" WHERE name = ?1";

	if (wal_run(w, "cannot record what was shipped", sql, "tI", "outbox",
		    outbox) < 0 ||
	    wal_run(w, "cannot record what was shipped", sql, "tI",
		    "transitions", transitions) < 0 ||
	    wal_run(w, "cannot record what was shipped", FLEET_DROP_DONE, "") < 0)
		return -1;
	return 0;
}

int wal_fleet_shipped(struct wal *w, int64_t outbox, int64_t transitions)
{
	if (outbox < 0 || transitions < 0)
		return wal_fail(w, EINVAL, "a cursor cannot be negative");
	if (wal_writable(w) < 0)
		return -1;
	return (int)WAL_OP(w, fleet_shipped(w, outbox, transitions));
}

static int64_t fleet_verify(struct wal *w, int on)
{
	if (on)
		return wal_exec(w,
				"INSERT OR IGNORE INTO fleet_verified"
				" (name, verified)"
				" SELECT name, shipped FROM fleet_cursor",
				"cannot start verifying");
	if (wal_exec(w, "DELETE FROM fleet_verified",
		     "cannot stop verifying") < 0 ||
	    wal_run(w, "cannot stop verifying", FLEET_DROP_DONE, "") < 0)
		return -1;
	return 0;
}

int wal_fleet_verify(struct wal *w, int on)
{
	if (wal_writable(w) < 0)
		return -1;
	return (int)WAL_OP(w, fleet_verify(w, on));
}

static int64_t fleet_verified(struct wal *w, int64_t outbox,
			      int64_t transitions)
{
	static const char sql[] =
		"UPDATE fleet_verified SET verified = max(verified, ?2)"
		" WHERE name = ?1";
	int64_t a, b;

	a = wal_run(w, "cannot record what was verified", sql, "tI", "outbox",
		    outbox);
	b = a < 0 ? -1
		  : wal_run(w, "cannot record what was verified", sql, "tI",
			    "transitions", transitions);
	if (b < 0)
		return -1;
	if (a == 0 || b == 0)
		return wal_fail(w, ENOENT, "verifying is off");
	return wal_run(w, "cannot record what was verified", FLEET_DROP_DONE,
		       "") < 0
		       ? -1
		       : 0;
}

int wal_fleet_verified(struct wal *w, int64_t outbox, int64_t transitions)
{
	if (outbox < 0 || transitions < 0)
		return wal_fail(w, EINVAL, "a cursor cannot be negative");
	if (wal_writable(w) < 0)
		return -1;
	return (int)WAL_OP(w, fleet_verified(w, outbox, transitions));
}

int wal_fleet_lag(struct wal *w, struct wal_fleet_lag *out)
{
	return wal_fleet_lag_after(w, 0, 0, out);
}

/* The cursors are the store's, or the caller's where those are further
 * (the shipper knows what JetStream holds before the loop commits it). */
int wal_fleet_lag_after(struct wal *w, int64_t outbox, int64_t transitions,
			struct wal_fleet_lag *out)
{
	static const char sql[] =
		"WITH c AS (SELECT"
		"  max(coalesce((SELECT shipped FROM fleet_cursor"
		"   WHERE name = 'outbox'), 0), ?1) AS o,"
		"  max(coalesce((SELECT shipped FROM fleet_cursor"
		"   WHERE name = 'transitions'), 0), ?2) AS t)"
		" SELECT c.o, c.t,"
		"  (SELECT count(*) FROM fleet_outbox, c WHERE id > c.o),"
		/* Above the cursor no transition is ever deleted (gc holds
		 * them) and ids come without gaps: no count of a backlog
		 * that may be millions of rows long. */
		"  max(0, coalesce((SELECT max(id) FROM transitions), 0) - c.t),"
		"  (SELECT min(at_ms) FROM fleet_outbox, c WHERE id > c.o),"
		"  (SELECT CAST(round((julianday(created_at) - 2440587.5)"
		"    * 86400000) AS INTEGER) FROM transitions, c"
		"    WHERE id > c.t ORDER BY id LIMIT 1),"
		"  (SELECT verified FROM fleet_verified WHERE name = 'outbox'),"
		"  (SELECT verified FROM fleet_verified"
		"    WHERE name = 'transitions')"
		" FROM c";
	sqlite3_stmt *st;
	int on, rc;

	memset(out, 0, sizeof(*out));
	on = wal_fleet_enabled(w);
	if (on <= 0)
		return on;
	out->on = 1;
	st = wal_cached(w, sql);
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, outbox);
	sqlite3_bind_int64(st, 2, transitions);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		int64_t a = sqlite3_column_int64(st, 4);
		int64_t b = sqlite3_column_int64(st, 5);

		out->outbox_cursor = sqlite3_column_int64(st, 0);
		out->transitions_cursor = sqlite3_column_int64(st, 1);
		out->rows = sqlite3_column_int64(st, 2) +
			    sqlite3_column_int64(st, 3);
		/* A NULL reads as 0: none there. */
		out->oldest_ms = a && (!b || a < b) ? a : b;
		out->verifying = sqlite3_column_type(st, 6) != SQLITE_NULL;
		out->outbox_verified = sqlite3_column_int64(st, 6);
		out->transitions_verified = sqlite3_column_int64(st, 7);
		rc = sqlite3_step(st);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return wal_sqlfail(w, rc, "cannot read the shipping lag");
	return 0;
}

/*
 * For gc (temp.gc_exec holds the executions it chose): keep every execution
 * with a row not shipped yet - a transition above the cursor, or an outbox
 * entry above it for the execution, or one of its phases, agents, tool
 * calls or artifacts - and detach the newest transition rather than drop
 * it: SQLite gives the id of a dropped newest row to the next insert, and
 * an id at or below the cursor would never be shipped. Returns how many
 * executions were kept, or -1.
 */
int64_t wal_fleet_gc_hold(struct wal *w)
{
	int64_t n;
	int on = wal_fleet_enabled(w);

	if (on <= 0)
		return on;
	n = wal_run(
		w, "cannot keep what is not shipped",
		"WITH c AS (SELECT"
		"  (SELECT shipped FROM fleet_cursor WHERE name = 'outbox') AS o,"
		"  (SELECT shipped FROM fleet_cursor WHERE name = 'transitions')"
		"   AS t),"
		" e AS (SELECT o.tbl, o.row_id FROM fleet_outbox AS o, c"
		"  WHERE o.id > c.o)"
		" DELETE FROM temp.gc_exec WHERE id IN ("
		"  SELECT execution_id FROM transitions, c WHERE id > c.t"
		"  UNION SELECT row_id FROM e WHERE tbl = 'executions'"
		"  UNION SELECT x.execution_id FROM e JOIN phases AS x"
		"   ON e.tbl = 'phases' AND x.id = e.row_id"
		"  UNION SELECT x.execution_id FROM e JOIN agents AS x"
		"   ON e.tbl = 'agents' AND x.id = e.row_id"
		"  UNION SELECT x.execution_id FROM e JOIN tool_calls AS x"
		"   ON e.tbl = 'tool_calls' AND x.id = e.row_id"
		"  UNION SELECT x.execution_id FROM e JOIN artifacts AS x"
		"   ON e.tbl = 'artifacts' AND x.id = e.row_id)",
		"");
	if (n < 0)
		return -1;
	if (wal_run(w, "cannot keep the newest transition",
		    "UPDATE transitions SET execution_id = NULL"
		    " WHERE id = (SELECT max(id) FROM transitions)"
		    " AND execution_id IN (SELECT id FROM temp.gc_exec)",
		    "") < 0)
		return -1;
	return n;
}

/* ---- reading what is to ship ------------------------------------------- */

/*
 * "SELECT json_object('id', id, ..., 'config', json(config), ...) FROM
 * TABLE WHERE id = ?1", from the table's columns as they are now (a later
 * migration's columns ship without a change here). Caller frees; NULL with
 * the failure recorded.
 */
static char *row_sql(struct wal *w, const char *table)
{
	sqlite3_stmt *st;
	size_t len = 0, cap = 256;
	char *sql = malloc(cap);
	int rc, n = 0;

	if (!sql) {
		wal_fail(w, ENOMEM, "out of memory");
		return NULL;
	}
	len = (size_t)snprintf(sql, cap, "SELECT json_object(");
	st = wal_prepare(w, "SELECT name, type FROM pragma_table_info(?1)"
			    " ORDER BY cid");
	if (!st)
		goto fail;
	rc = wal_bind_text(st, 1, table);
	if (rc != SQLITE_OK) {
		wal_sqlfail(w, rc, "cannot read the columns to ship");
		goto fail;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		const char *type = (const char *)sqlite3_column_text(st, 1);
		int json = type && strstr(type, "JSON");
		size_t need = 2 * strlen(name) + 32;
		int k;

		if (len + need >= cap) {
			char *more = realloc(sql, cap * 2 + need);

			if (!more) {
				wal_fail(w, ENOMEM, "out of memory");
				goto fail;
			}
			sql = more;
			cap = cap * 2 + need;
		}
		/* Our own column names: letters, digits and '_'. */
		k = snprintf(sql + len, cap - len, "%s'%s', %s%s%s",
			     n++ ? ", " : "", name, json ? "json(" : "",
			     name, json ? ")" : "");
		len += (size_t)k;
	}
	if (rc != SQLITE_DONE) {
		wal_sqlfail(w, rc, "cannot read the columns to ship");
		goto fail;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (n == 0) {
		wal_fail(w, ENOENT, "no table '%s' to ship", table);
		goto fail;
	}
	if (len + strlen(table) + 32 >= cap) {
		char *more = realloc(sql, len + strlen(table) + 32);

		if (!more) {
			wal_fail(w, ENOMEM, "out of memory");
			goto fail;
		}
		sql = more;
		cap = len + strlen(table) + 32;
	}
	snprintf(sql + len, cap - len, ") FROM %s WHERE id = ?1", table);
	return sql;
fail:
	sqlite3_finalize(st);
	free(sql);
	return NULL;
}

/* A statement per table that ships, transitions last. */
#define FLEET_NSTMT (FLEET_NTABLES + 1)

struct reader {
	struct wal *w;
	sqlite3_stmt *row[FLEET_NSTMT];
	wal_fleet_fn *fn;
	void *arg;
};

static const char *table_name(size_t i)
{
	return i < FLEET_NTABLES ? fleet_tables[i] : "transitions";
}

static int table_index(const char *table)
{
	for (size_t i = 0; i < FLEET_NSTMT; i++)
		if (!strcmp(table, table_name(i)))
			return (int)i;
	return -1;
}

/* Call the reader's FN for row ID of table I at VERSION: its JSON, or NULL
 * when the row is gone. 1 when FN said stop, 0, or -1. */
static int deliver(struct reader *r, size_t i, int64_t id, int64_t version)
{
	sqlite3_stmt *st = r->row[i];
	const char *json = NULL;
	int rc, stop;

	if (!st) {
		char *sql = row_sql(r->w, table_name(i));

		if (!sql)
			return -1;
		st = r->row[i] = wal_prepare(r->w, sql);
		free(sql);
		if (!st)
			return -1;
	}
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		json = (const char *)sqlite3_column_text(st, 0);
	else if (rc != SQLITE_DONE) {
		sqlite3_reset(st);
		return wal_sqlfail(r->w, rc, "cannot read a row to ship");
	}
	stop = r->fn(table_name(i), id, version, json, r->arg);
	sqlite3_reset(st);
	return stop != 0;
}

/*
 * Deliver the rows SQL gives (?1 the cursor, ?2 the limit): for
 * transitions (!OUTBOX) their ids; for the outbox its entries (id, tbl,
 * row_id). Adds to *N the rows delivered. 1 when FN said stop, 0, or -1.
 */
static int walk(struct reader *r, const char *sql, int outbox, int64_t after,
		int limit, int64_t *n)
{
	sqlite3_stmt *st = wal_prepare(r->w, sql);
	int rc, k = 0;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, after);
	sqlite3_bind_int(st, 2, limit);
	while (k == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0);
		const char *tbl;
		int i = FLEET_NTABLES;

		if (outbox) {
			tbl = (const char *)sqlite3_column_text(st, 1);
			i = tbl ? table_index(tbl) : -1;
			if (i < 0 || (size_t)i >= FLEET_NTABLES) {
				wal_fail(r->w, EIO,
					 "the outbox names a table '%s' that"
					 " does not ship",
					 tbl ? tbl : "");
				k = -1;
				break;
			}
			k = deliver(r, (size_t)i, sqlite3_column_int64(st, 2),
				    id);
		} else {
			k = deliver(r, (size_t)i, id, 1);
		}
		*n += k >= 0;
	}
	sqlite3_finalize(st);
	if (k)
		return k;
	if (rc != SQLITE_DONE)
		return wal_sqlfail(r->w, rc, "cannot read what is to ship");
	return 0;
}

static int64_t next_rows(struct reader *r, int64_t after_v, int64_t after_t,
			 int limit)
{
	int64_t n = 0;
	int k;

	k = walk(r,
		 "SELECT id FROM transitions WHERE id > ?1 ORDER BY id"
		 " LIMIT ?2",
		 0, after_t, limit, &n);
	if (k == 0)
		k = walk(r,
			 "SELECT id, tbl, row_id FROM fleet_outbox"
			 " WHERE id > ?1 ORDER BY id LIMIT ?2",
			 1, after_v, limit, &n);
	return k < 0 ? -1 : n;
}

int64_t wal_fleet_next(struct wal *w, int64_t after_v, int64_t after_t,
		       int limit, wal_fleet_fn *fn, void *arg)
{
	struct reader r = {.w = w, .fn = fn, .arg = arg};
	int own = sqlite3_get_autocommit(w->db);
	int64_t n;

	if (limit <= 0)
		return wal_fail(w, EINVAL, "a read of what ships needs a limit");
	/* One snapshot for both reads and every row. */
	if (own && wal_exec(w, "BEGIN", "cannot read what is to ship") < 0)
		return -1;
	n = next_rows(&r, after_v, after_t, limit);
	for (size_t i = 0; i < FLEET_NSTMT; i++)
		sqlite3_finalize(r.row[i]);
	if (own && !sqlite3_get_autocommit(w->db))
		sqlite3_exec(w->db, "COMMIT", NULL, NULL, NULL);
	return n;
}

int wal_fleet_row(struct wal *w, const char *table, int64_t id,
		  int64_t version, wal_fleet_fn *fn, void *arg)
{
	struct reader r = {.w = w, .fn = fn, .arg = arg};
	int i = table_index(table), rc;

	if (i < 0)
		return wal_fail(w, ENOENT, "no table '%s' ships", table);
	rc = deliver(&r, (size_t)i, id, version);
	sqlite3_finalize(r.row[i]);
	return rc;
}

/* ---- what to verify ---------------------------------------------------- */

/* The outbox's entries whose rows are still there (a row gone has nothing
 * to verify): for o.tbl, EXISTS (SELECT 1 FROM TABLE WHERE id = o.row_id). */
#define FLEET_EXISTS(t)                                                        \
	" WHEN '" #t "' THEN EXISTS (SELECT 1 FROM " #t " WHERE id = o.row_id)"
static const char unverified_outbox_sql[] =
	"SELECT o.row_id, o.id, o.tbl FROM fleet_outbox AS o"
	" WHERE o.id > ?1 AND o.id <= ?2"
	" AND CASE o.tbl" FLEET_TABLES(FLEET_EXISTS) " ELSE 0 END"
	" ORDER BY o.id LIMIT ?3";

int64_t wal_fleet_unverified(struct wal *w, int outbox, int64_t after,
			     int64_t upto, int limit, wal_fleet_key_fn *fn,
			     void *arg)
{
	sqlite3_stmt *st;
	int64_t n = 0;
	int rc, stop = 0;

	if (limit <= 0)
		return wal_fail(w, EINVAL, "a read of what to verify needs a"
					   " limit");
	st = wal_prepare(w, outbox ? unverified_outbox_sql
				   : "SELECT id, 1, 'transitions' FROM"
				     " transitions WHERE id > ?1 AND id <= ?2"
				     " ORDER BY id LIMIT ?3");
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, after);
	sqlite3_bind_int64(st, 2, upto);
	sqlite3_bind_int(st, 3, limit);
	while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *tbl = (const char *)sqlite3_column_text(st, 2);

		stop = fn(tbl ? tbl : "", sqlite3_column_int64(st, 0),
			  sqlite3_column_int64(st, 1), arg);
		n++;
	}
	sqlite3_finalize(st);
	if (!stop && rc != SQLITE_DONE)
		return wal_sqlfail(w, rc, "cannot read what to verify");
	return n;
}

int64_t wal_fleet_unverified_rows(struct wal *w)
{
	int64_t n = 0;

	if (wal_read_int(
		    w,
		    "WITH c AS (SELECT"
		    "  (SELECT shipped FROM fleet_cursor WHERE name = 'outbox')"
		    "   AS so,"
		    "  (SELECT shipped FROM fleet_cursor"
		    "   WHERE name = 'transitions') AS st,"
		    "  (SELECT verified FROM fleet_verified"
		    "   WHERE name = 'outbox') AS vo,"
		    "  (SELECT verified FROM fleet_verified"
		    "   WHERE name = 'transitions') AS vt)"
		    " SELECT coalesce((SELECT count(*) FROM fleet_outbox, c"
		    "   WHERE id > c.vo AND id <= c.so), 0)"
		    "  + coalesce((SELECT count(*) FROM transitions, c"
		    "   WHERE id > c.vt AND id <= c.st), 0)",
		    &n) < 0)
		return -1;
	return n;
}
