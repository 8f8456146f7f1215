/*
 * memory.c - memories: what agents learn and want to find again.
 *
 * A memory is unique by (category, scope, key); adding one that exists
 * replaces its content. The FTS5 table memories_fts indexes key and content;
 * triggers keep it in step with every insert, update and delete (schema.c),
 * and searches rank by bm25 (lower is better, so best first is ascending).
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "wal/wal-int.h"

static int one_of(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(s, *list))
			return 1;
	return 0;
}

static const char *const categories[] = {"fact",    "learning", "preference",
					 "context", "skill",	NULL};
static const char *const scopes[] = {"global", "project", "session", NULL};

static int check_category(struct wal *w, const char *c)
{
	if (c && !one_of(c, categories))
		return wal_fail(w, EINVAL,
				"unknown memory category '%s' (fact, learning,"
				" preference, context or skill)",
				c);
	return 0;
}

static int check_scope(struct wal *w, const char *s)
{
	if (s && !one_of(s, scopes))
		return wal_fail(w, EINVAL,
				"unknown memory scope '%s' (global, project or"
				" session)",
				s);
	return 0;
}

static int64_t memory_add(struct wal *w, const struct wal_memory *m)
{
	const char *scope = m->scope ? m->scope : "global";
	char now[WAL_TIME_LEN];
	sqlite3_stmt *st;
	int64_t id = -1;
	int rc;

	if (!m->category)
		return wal_fail(w, EINVAL, "a memory needs a category");
	if (check_category(w, m->category) < 0 || check_scope(w, scope) < 0)
		return -1;
	if (!m->key || !*m->key || !m->content)
		return wal_fail(w, EINVAL, "a memory needs a key and content");
	if (!(m->confidence >= 0.0 && m->confidence <= 1.0))
		return wal_fail(w, EINVAL,
				"memory confidence must be between 0 and 1");
	wal_now(now);
	st = wal_prepare(w,
			 "INSERT INTO memories(category, scope, key, content,"
			 " confidence, source, source_execution_id, created_at,"
			 " updated_at, expires_at)"
			 " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9)"
			 " ON CONFLICT(category, scope, key) DO UPDATE SET"
			 " content = excluded.content,"
			 " confidence = excluded.confidence,"
			 " source = excluded.source,"
			 " source_execution_id = excluded.source_execution_id,"
			 " updated_at = excluded.updated_at,"
			 " expires_at = excluded.expires_at"
			 " RETURNING id");
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, m->category, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, scope, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, m->key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, m->content, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 5, m->confidence);
	wal_bind_text(st, 6, m->source);
	wal_bind_id(st, 7, m->source_execution_id);
	sqlite3_bind_text(st, 8, now, -1, SQLITE_STATIC);
	wal_bind_text(st, 9, m->expires_at);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		id = sqlite3_column_int64(st, 0);
		rc = sqlite3_step(st);
	}
	if (rc != SQLITE_DONE) {
		if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
			wal_fail(w, EINVAL, "no execution %" PRId64,
				 m->source_execution_id);
		else
			wal_sqlfail(w, rc, "cannot record memory");
		id = -1;
	}
	sqlite3_finalize(st);
	return id;
}

int64_t wal_memory_add(struct wal *w, const struct wal_memory *m)
{
	return WAL_OP(w, memory_add(w, m));
}

#define MEMORY_COLUMNS                                                         \
	"m.id, m.category, m.scope, m.key, m.content, m.confidence,"           \
	" m.source, m.source_execution_id, m.created_at, m.updated_at,"        \
	" m.accessed_at, m.expires_at"

int wal_memory_get(struct wal *w, const char *category, const char *scope,
		   const char *key, wal_row_fn *fn, void *arg)
{
	struct wal_counter seen = {fn, arg, 0};
	char now[WAL_TIME_LEN];
	sqlite3_stmt *st;
	int ret;

	if (!scope)
		scope = "global";
	if (!category || !key)
		return wal_fail(w, EINVAL,
				"a memory is found by category and key");
	if (check_category(w, category) < 0 || check_scope(w, scope) < 0)
		return -1;
	if (!w->readonly) {
		wal_now(now);
		if (WAL_OP(w, wal_run(w, "cannot record access",
				      "UPDATE memories SET accessed_at = ?4"
				      " WHERE category = ?1 AND scope = ?2"
				      " AND key = ?3",
				      "tttt", category, scope, key, now)) < 0)
			return -1;
	}
	st = wal_prepare(w, "SELECT " MEMORY_COLUMNS " FROM memories AS m"
			    " WHERE category = ?1 AND scope = ?2 AND key = ?3");
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, category, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, scope, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, key, -1, SQLITE_STATIC);
	ret = wal_rows(w, st, wal_count_row, &seen);
	sqlite3_finalize(st);
	if (ret == 0 && seen.rows == 0)
		return wal_fail(w, ENOENT, "no memory %s/%s/%s", category,
				scope, key);
	return ret;
}

int wal_memory_search(struct wal *w, const char *query, const char *category,
		      int limit, wal_row_fn *fn, void *arg)
{
	sqlite3_stmt *st;
	int ret;

	if (!query || !*query)
		return wal_fail(w, EINVAL, "empty search query");
	if (check_category(w, category) < 0)
		return -1;
	st = wal_prepare(w, "SELECT " MEMORY_COLUMNS ", bm25(memories_fts)"
			    " AS rank FROM memories_fts"
			    " JOIN memories AS m ON m.id = memories_fts.rowid"
			    " WHERE memories_fts MATCH ?1"
			    " AND (?2 IS NULL OR m.category = ?2)"
			    " ORDER BY rank, m.id LIMIT ?3");
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, query, -1, SQLITE_STATIC);
	wal_bind_text(st, 2, category);
	sqlite3_bind_int(st, 3, limit > 0 ? limit : -1);
	ret = wal_rows(w, st, fn, arg);
	sqlite3_finalize(st);
	if (ret < 0 && errno == EINVAL)
		return wal_fail(w, EINVAL, "invalid search query '%s': %s",
				query, sqlite3_errmsg(w->db));
	return ret;
}

int wal_memory_list(struct wal *w, const char *category, const char *scope,
		    int limit, wal_row_fn *fn, void *arg)
{
	sqlite3_stmt *st;
	int ret;

	if (check_category(w, category) < 0 || check_scope(w, scope) < 0)
		return -1;
	st = wal_prepare(w, "SELECT " MEMORY_COLUMNS " FROM memories AS m"
			    " WHERE (?1 IS NULL OR category = ?1)"
			    " AND (?2 IS NULL OR scope = ?2)"
			    " ORDER BY updated_at DESC, id DESC LIMIT ?3");
	if (!st)
		return -1;
	wal_bind_text(st, 1, category);
	wal_bind_text(st, 2, scope);
	sqlite3_bind_int(st, 3, limit > 0 ? limit : -1);
	ret = wal_rows(w, st, fn, arg);
	sqlite3_finalize(st);
	return ret;
}

int wal_memory_update(struct wal *w, int64_t id, const char *content,
		      double confidence)
{
	static const char sql[] =
		"UPDATE memories SET content = COALESCE(?2, content),"
		" confidence = CASE WHEN ?3 < 0 THEN confidence ELSE ?3 END,"
		" updated_at = ?4 WHERE id = ?1";
	char now[WAL_TIME_LEN];

	if (confidence > 1.0)
		return wal_fail(w, EINVAL,
				"memory confidence must be between 0 and 1");
	wal_now(now);
	return wal_update_one(w, "memory", id, sql, "Itdt", id, content,
			      confidence, now);
}

int wal_memory_delete(struct wal *w, int64_t id)
{
	int64_t r = WAL_OP(w, wal_run(w, "cannot delete memory",
				      "DELETE FROM memories WHERE id = ?1", "I",
				      id));

	return r < 0 ? -1 : r > 0;
}
