/*
 * state.c - the key/value state, its transition log and replay.
 *
 * Invariant: a state row never changes without a transitions row in the same
 * transaction, and the newest transition of a key holds the key's current
 * value (NULL when the key is deleted).
 *
 * The hot path (set) needs no savepoint: the transition is inserted first,
 * and it carries every check that input can fail (key, JSON, agent), so if it
 * fails nothing has changed; the row's write after it can only fail on I/O,
 * where SQLite rolls the whole transaction back, or we remove the transition
 * again. Neither reads the key first when the store knows it (keys.c): the
 * old value and the previous transition are bound, and the row is updated by
 * its rowid.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wal/wal-int.h"

static int check_key(struct wal *w, const char *key)
{
	if (!key || !*key)
		return wal_fail(w, EINVAL, "a state key cannot be empty");
	return 0;
}

/* Why a transition insert failed, in the user's terms. */
static int transition_fail(struct wal *w, int rc, const char *key)
{
	if ((rc & 0xff) == SQLITE_CONSTRAINT) {
		if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
			return wal_fail(w, EINVAL,
					"cannot set '%s': no such agent", key);
		return wal_fail(w, EINVAL,
				"cannot set '%s': the value is not valid JSON",
				key);
	}
	return wal_sqlfail(w, rc, "cannot record transition");
}

/* The transition statement ID with everything but the new value bound. */
static sqlite3_stmt *transition(struct wal *w, enum wal_stmt_id id,
				const char *key, const char *trigger,
				int64_t agent_id, const char *now)
{
	sqlite3_stmt *st = wal_stmt(w, id);

	if (!st)
		return NULL;
	wal_bind_id(st, 1, w->execution_id);
	sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
	wal_bind_text(st, 4, trigger);
	wal_bind_id(st, 5, agent_id);
	sqlite3_bind_text(st, 6, now, -1, SQLITE_STATIC);
	return st;
}

/* KEY as known (E, its entry), else read from the database into *TMP (the
 * caller frees TMP->value). NULL on failure. */
static struct wal_key *key_of(struct wal *w, const char *key,
			      struct wal_key *e, struct wal_key *tmp)
{
	sqlite3_stmt *st;
	const char *value;
	int rc;

	if (e && e->known)
		return e;
	st = wal_stmt(w, ST_STATE_FIND);
	if (!st)
		return NULL;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(st);
		wal_sqlfail(w, rc, "cannot read state");
		return NULL;
	}
	tmp->rowid = sqlite3_column_int64(st, 0);
	tmp->head = sqlite3_column_int64(st, 2);
	value = (const char *)sqlite3_column_text(st, 1);
	if (value && !(tmp->value = strdup(value))) {
		sqlite3_reset(st);
		wal_fail(w, ENOMEM, "out of memory");
		return NULL;
	}
	sqlite3_reset(st);
	return tmp;
}

int wal_state_set_locked(struct wal *w, const char *key, const char *json,
			 const char *trigger, int64_t agent_id)
{
	struct wal_key tmp = {0}, *e, *k;
	char now[WAL_TIME_LEN];
	sqlite3_stmt *st;
	int64_t tid, rowid;
	int rc;

	if (check_key(w, key) < 0)
		return -1;
	if (!json)
		return wal_fail(w, EINVAL, "cannot set '%s': no value", key);
	/* A batch SQLite rolled back by itself (I/O, a full disk) took what
	 * was known of it along. */
	if (w->in_batch && sqlite3_get_autocommit(w->db))
		wal_keys_forget(w);
	e = wal_key_find(w, key);
	k = key_of(w, key, e, &tmp);
	if (!k)
		return -1;
	wal_now(now);
	st = transition(w, ST_TRANSITION_SET, key, trigger, agent_id, now);
	if (!st)
		goto fail;
	sqlite3_bind_text(st, 3, json, -1, SQLITE_STATIC);
	if (k->rowid)
		sqlite3_bind_text(st, 7, k->value, -1, SQLITE_STATIC);
	wal_bind_id(st, 8, k->head);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		transition_fail(w, rc, key);
		goto fail;
	}
	tid = sqlite3_last_insert_rowid(w->db);

	/* The key's row: known, so no conflict to look for. */
	st = wal_stmt(w, k->rowid ? ST_STATE_UPDATE : ST_STATE_INSERT);
	if (!st)
		goto undo;
	if (k->rowid)
		sqlite3_bind_int64(st, 1, k->rowid);
	else
		sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, json, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, now, -1, SQLITE_STATIC);
	wal_bind_id(st, 4, agent_id);
	sqlite3_bind_int64(st, 5, tid);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		wal_sqlfail(w, rc, "cannot set state");
		goto undo;
	}
	if (k->rowid && sqlite3_changes(w->db) != 1) {
		wal_fail(w, EIO, "cannot set '%s': its row changed under the "
				 "store", key);
		goto undo;
	}
	rowid = k->rowid ? k->rowid : sqlite3_last_insert_rowid(w->db);
	if (e)
		wal_key_set(w, e, json, rowid, tid);
	else
		wal_key_keep(w, key, json, rowid, tid);
	free(tmp.value);
	return 0;
undo:
	wal_keys_forget(w);
	if (!sqlite3_get_autocommit(w->db)) {
		char keep[sizeof(w->errmsg)];
		int err = errno;

		memcpy(keep, w->errmsg, sizeof(keep));
		st = wal_stmt(w, ST_TRANSITION_UNDO);
		if (st) {
			sqlite3_bind_int64(st, 1, tid);
			sqlite3_step(st);
			sqlite3_reset(st);
		}
		memcpy(w->errmsg, keep, sizeof(keep));
		errno = err;
	}
fail:
	free(tmp.value);
	return -1;
}

int wal_state_delete_locked(struct wal *w, const char *key, const char *trigger,
			    int64_t agent_id)
{
	char now[WAL_TIME_LEN];
	sqlite3_stmt *st;
	int64_t tid;
	int rc;

	if (check_key(w, key) < 0)
		return -1;
	wal_now(now);
	st = transition(w, ST_TRANSITION_DELETE, key, trigger, agent_id, now);
	if (!st)
		return -1;
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return transition_fail(w, rc, key);
	if (sqlite3_changes(w->db) == 0)
		return 0;
	tid = sqlite3_last_insert_rowid(w->db);
	/* The key's history goes on from its delete when it is set again. */
	st = wal_stmt(w, ST_STATE_TOMBSTONE);
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, tid);
	if (wal_step_done(w, st, "cannot delete state") < 0)
		return -1;
	st = wal_stmt(w, ST_STATE_DELETE);
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if (wal_step_done(w, st, "cannot delete state") < 0)
		return -1;
	wal_key_keep(w, key, NULL, 0, tid);
	return 1;
}

int wal_state_set(struct wal *w, const char *key, const char *json,
		  const char *trigger, int64_t agent_id)
{
	int rc;

	if (wal_writable(w) < 0)
		return -1;
	/* In a batch the statement order above makes a savepoint needless. */
	if (w->in_batch)
		return wal_state_set_locked(w, key, json, trigger, agent_id);
	if (wal_op_begin(w) < 0)
		return -1;
	rc = wal_state_set_locked(w, key, json, trigger, agent_id);
	if (wal_op_end(w, rc == 0) < 0)
		return -1;
	return 0;
}

int wal_state_delete(struct wal *w, const char *key, const char *trigger,
		     int64_t agent_id)
{
	int rc;

	if (wal_op_begin(w) < 0)
		return -1;
	rc = wal_state_delete_locked(w, key, trigger, agent_id);
	if (wal_op_end(w, rc >= 0) < 0)
		return -1;
	return rc;
}

char *wal_state_get(struct wal *w, const char *key)
{
	sqlite3_stmt *st = wal_stmt(w, ST_STATE_GET);
	char *value = NULL;
	int rc;

	if (!st)
		return NULL;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		value = strdup((const char *)sqlite3_column_text(st, 0));
		if (!value)
			wal_fail(w, ENOMEM, "out of memory");
	} else if (rc == SQLITE_DONE) {
		wal_fail(w, ENOENT, "no state key '%s'", key);
	} else {
		wal_sqlfail(w, rc, "cannot read state");
	}
	sqlite3_reset(st);
	if (!value && errno == 0)
		errno = EIO;
	return value;
}

int wal_state_all(struct wal *w, wal_row_fn *fn, void *arg)
{
	return wal_list(w,
			"SELECT key, value, updated_at, updated_by FROM state"
			" ORDER BY key",
			0, NULL, 0, fn, arg);
}

int wal_state_history(struct wal *w, const char *key, int limit, wal_row_fn *fn,
		      void *arg)
{
	/* One key's: follow its chain back from its newest transition. */
	if (key)
		return wal_list(
			w,
			"WITH RECURSIVE chain(id) AS ("
			" SELECT COALESCE((SELECT head FROM state WHERE key = ?2),"
			"  (SELECT head FROM deleted_state WHERE key = ?2))"
			" UNION ALL SELECT t.prev_id FROM transitions AS t"
			"  JOIN chain ON t.id = chain.id"
			"  WHERE t.prev_id IS NOT NULL LIMIT ?3)"
			" SELECT id, execution_id, key, old_value, new_value,"
			" trigger, agent_id, created_at FROM transitions"
			" WHERE id IN chain ORDER BY id DESC",
			0, key, limit, fn, arg);
	return wal_list(w,
			"SELECT id, execution_id, key, old_value, new_value,"
			" trigger, agent_id, created_at FROM transitions"
			" ORDER BY id DESC LIMIT ?3",
			0, NULL, limit, fn, arg);
}

/* One key to put back: its value as of the transition, NULL to delete. */
struct change {
	char *key;
	char *value;
};

int wal_state_replay(struct wal *w, int64_t transition_id)
{
	static const char plan_sql[] =
		/* Each key's newest transition up to ?1, in one scan. */
		"WITH past(key, value) AS (SELECT t.key, t.new_value"
		"  FROM transitions AS t JOIN (SELECT max(id) AS id"
		"   FROM transitions WHERE id <= ?1 GROUP BY key) AS m"
		"  ON t.id = m.id)"
		" SELECT k.key, s.value, past.value"
		" FROM (SELECT key FROM state UNION SELECT key FROM past)"
		" AS k LEFT JOIN state AS s ON s.key = k.key"
		" LEFT JOIN past ON past.key = k.key ORDER BY k.key";
	struct change *list = NULL, *grown;
	size_t n = 0, cap = 0;
	sqlite3_stmt *st = NULL;
	char trigger[64];
	int rc, ret = -1, opened = 0;

	if (wal_op_begin(w) < 0)
		return -1;
	opened = 1;
	st = wal_prepare(w, "SELECT 1 FROM transitions WHERE id = ?1");
	if (!st)
		goto out;
	sqlite3_bind_int64(st, 1, transition_id);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	st = NULL;
	if (rc == SQLITE_DONE) {
		wal_fail(w, ENOENT, "no transition %" PRId64, transition_id);
		goto out;
	}
	if (rc != SQLITE_ROW) {
		wal_sqlfail(w, rc, "cannot read transitions");
		goto out;
	}

	/* Work out every change first, then apply them. */
	st = wal_prepare(w, plan_sql);
	if (!st)
		goto out;
	sqlite3_bind_int64(st, 1, transition_id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *key = (const char *)sqlite3_column_text(st, 0);
		const char *now = (const char *)sqlite3_column_text(st, 1);
		const char *then = (const char *)sqlite3_column_text(st, 2);

		if ((!now && !then) || (now && then && !strcmp(now, then)))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			grown = realloc(list, cap * sizeof(*list));
			if (!grown) {
				wal_fail(w, ENOMEM, "out of memory");
				goto out;
			}
			list = grown;
		}
		list[n].key = strdup(key);
		list[n].value = then ? strdup(then) : NULL;
		n++;
		if (!list[n - 1].key || (then && !list[n - 1].value)) {
			wal_fail(w, ENOMEM, "out of memory");
			goto out;
		}
	}
	if (rc != SQLITE_DONE) {
		wal_sqlfail(w, rc, "cannot read state");
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;

	snprintf(trigger, sizeof(trigger), "replay:%" PRId64, transition_id);
	for (size_t i = 0; i < n; i++) {
		if (list[i].value)
			rc = wal_state_set_locked(w, list[i].key, list[i].value,
						  trigger, 0);
		else
			rc = wal_state_delete_locked(w, list[i].key, trigger,
						     0);
		if (rc < 0)
			goto out;
	}
	ret = (int)n;
out:
	sqlite3_finalize(st);
	for (size_t i = 0; i < n; i++) {
		free(list[i].key);
		free(list[i].value);
	}
	free(list);
	if (opened && wal_op_end(w, ret >= 0) < 0)
		return -1;
	return ret;
}
