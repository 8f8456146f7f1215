#!/bin/sh
# db query: read-only SQL as a table or JSON; several statements; every
# statement that would write (INSERT, UPDATE, DELETE, DROP, ...) is refused
# with a clear error before anything runs, and the database is unchanged.
. "$top_srcdir/tests/integration/lib.sh"

populate .

run "$SMITHERS" db query "select key, value from state order by key"
expect_rc 0
head -n 1 "$OUT" | grep -Eq '^KEY +VALUE$' || fail "bad query header"
grep -Eq '^survey\.files +14$' "$OUT" || fail "no survey.files row"
run "$SMITHERS" db query --json "select key, value, 1 + 1 as two,
	0.5 as half, null as empty from state where key = 'survey.files'"
expect_rc 0
json 'j == [{"key": "survey.files", "value": 14, "two": 2, "half": 0.5,
             "empty": None}]'
# JSON columns stay JSON; the same value computed is text.
run "$SMITHERS" db query --json "select config, '{}' as text from executions"
json 'j == [{"config": {"max_parallel": 2}, "text": "{}"}]'
# Several words are one statement; several statements each give rows.
run "$SMITHERS" db query select count'(*)' as n from memories
expect_rc 0
out_is "N
5"
run "$SMITHERS" db query "select 1 as a; select 'x' as b, 2 as c"
expect_rc 0
out_is "A
1

B  C
x  2"
run "$SMITHERS" db query --json "select 1 as a; select 2 as b"
json 'j == [{"a": 1}, {"b": 2}]'
run "$SMITHERS" db query "select 1 where 0"
expect_rc 0
out_is ""
run "$SMITHERS" db query --json "select 1 where 0"
out_is "[]"
# The store's JSON functions work.
run "$SMITHERS" db query --json \
	"select json_extract(config, '\$.max_parallel') as mp from executions"
json 'j == [{"mp": 2}]'

# Writes are refused, and nothing changes.
snapshot() {
	"$SMITHERS" db query --json "select
		(select count(*) from state) as state,
		(select count(*) from transitions) as transitions,
		(select count(*) from sqlite_master) as objects,
		(select group_concat(key || '=' || value) from state) as kv"
}
snapshot >"$T/before"
cksum <.smithers/smithers.db >"$T/before.db"
for sql in "INSERT INTO state(key, value, updated_at) VALUES ('k', '1', 'now')" \
	"insert into memories_fts(memories_fts) values ('rebuild')" \
	"UPDATE state SET value = '0'" \
	"update state set value = '0' where key = 'survey.files'" \
	"DELETE FROM state" \
	"delete from transitions where id = 1" \
	"DROP TABLE state" \
	"drop index transitions_agent" \
	"CREATE TABLE evil (x)" \
	"ALTER TABLE state ADD COLUMN evil" \
	"REPLACE INTO state VALUES ('k', '1', 'now', NULL, NULL)" \
	"PRAGMA user_version = 9" \
	"VACUUM" \
	"select 1; delete from state" \
	"with x as (select 1) delete from state"; do
	run "$SMITHERS" db query "$sql"
	expect_rc 1
	err_has "smithers: 'db query' is read-only: refusing a statement that writes"
	out_is ""
	run "$SMITHERS" --json db query "$sql"
	expect_rc 1
	out_is ""
done
snapshot >"$T/after"
cmp -s "$T/before" "$T/after" || fail "a refused write changed the database"
cksum <.smithers/smithers.db >"$T/after.db"
cmp -s "$T/before.db" "$T/after.db" || fail "the database file changed"
run "$SMITHERS" db state survey.files
out_is "14"

# A bad statement is an error too.
run "$SMITHERS" db query "selec 1"
expect_rc 1
err_has "smithers: query failed:"
err_has "syntax error"
exit 0
