#!/bin/sh
# The sink (`smithers fleet sink`, docs/FLEET.md), between a real 3-server
# JetStream cluster and a real PostgreSQL (fleet-lib.sh):
# - started before anything was shipped: it says once that it waits for
#   the stream, then writes what a run ships; the fleet view then holds
#   exactly the machine's rows (every table, every column, checked row by
#   row by fleet-compare.py), with the local store's columns;
# - two machines and two sinks at once: exactly each machine's rows;
# - messages on our subjects that are not ours (not JSON, an unknown
#   table, a machine or table other than the subject's, a wrong type, an
#   id other than the row's): skipped, counted, said, never written;
# - a sink SIGKILLed while it writes, then started again: exactly the rows;
# - PostgreSQL stopped under a sink: it says why once, acks nothing, and
#   writes all once PostgreSQL is back; PostgreSQL unreachable from the
#   start, refusing to create the fleet view (a role without the right),
#   or with a fleet view newer than ours: it says why, once, and never
#   acks (the next sink gets every message);
# - an older version of a row, sent again, changes nothing.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/fleet-lib.sh"
. "$top_srcdir/tests/integration/sink-lib.sh"
need_nats
need_pg

nats_cluster_start
wait_until 30 nats_leader
pg_start
# ---- a sink before anything ships, then a run ---------------------------
sink s1
wait_until 20 grep -q "no JetStream stream 'SMITHERS' yet" s1.err
M1=$T/m1
mkdir "$M1"
flow "$M1/flow.ini" m1 30 0
run "$SMITHERS" --dir "$M1" run "$M1/flow.ini"
expect_rc 0
DB1=$M1/.smithers/smithers.db
same "$DB1" m1
$COMPARE --columns "$DB1" m1 >compare.out || fail "$(cat compare.out)"
[ "$(grep -c "no JetStream stream" s1.err)" -eq 1 ] ||
	fail "the missing stream said more than once: $(cat s1.err)"
grep -q "consuming the stream 'SMITHERS' again" s1.err ||
	fail "no line once the stream is there: $(cat s1.err)"
# What the fleet view is made of.
[ "$(pg_sql "SELECT version FROM smithers.schema_version")" = 1 ] ||
	fail "schema version not 1"
rows_in m1 tool_calls 1 || fail "the tool call is not in the fleet view"
rows_in m1 artifacts 1 || fail "the artifact is not in the fleet view"
[ "$(pg_sql "SELECT cost_usd FROM smithers.agents
	WHERE machine = 'm1' AND name = 'a'")" = 0.012345 ] ||
	fail "the cost is not in the fleet view"
[ "$(pg_sql "SELECT new_value->>'s' FROM smithers.transitions
	WHERE machine = 'm1' AND key = 'a1'")" = x ] ||
	fail "a JSON value is not JSON in the fleet view"

# ---- two machines, two sinks ------------------------------------------------
sink s2
M2=$T/m2
mkdir "$M2"
flow "$M2/flow.ini" m2 60 0.01
flow "$M1/flow.ini" m1 60 0.01
"$SMITHERS" --dir "$M1" run "$M1/flow.ini" >m1.out 2>m1.err &
p1=$!
"$SMITHERS" --dir "$M2" run "$M2/flow.ini" >m2.out 2>m2.err &
p2=$!
wait "$p1" || fail "m1 failed: $(cat m1.err)"
wait "$p2" || fail "m2 failed: $(cat m2.err)"
DB2=$M2/.smithers/smithers.db
same "$DB1" m1 "$DB2" m2

# ---- messages that are not ours ---------------------------------------------
pub() { $NATS "$NATS_URLS" pub "$1" "$2" >/dev/null || fail "cannot publish"; }
row='{"id": 7, "name": "x", "status": "running", "created_at": "t"}'
pub smithers.m9.executions 'not json'
pub smithers.m9.nosuch "{\"machine\": \"m9\", \"table\": \"nosuch\", \"id\": 7, \"version\": 1, \"row\": $row}"
pub smithers.m9.executions "{\"machine\": \"m8\", \"table\": \"executions\", \"id\": 7, \"version\": 1, \"row\": $row}"
pub smithers.m9.executions "{\"machine\": \"m9\", \"table\": \"agents\", \"id\": 7, \"version\": 1, \"row\": $row}"
pub smithers.m9.executions "{\"machine\": \"m9\", \"table\": \"executions\", \"id\": 8, \"version\": 1, \"row\": $row}"
pub smithers.m9.executions "{\"machine\": \"m9\", \"table\": \"executions\", \"id\": 7, \"version\": 1, \"row\": {\"id\": 7, \"tokens_in\": \"many\"}}"
pub smithers.m9.executions "{\"machine\": \"m9\", \"table\": \"executions\", \"id\": 7, \"version\": 0, \"row\": $row}"
pub smithers.m9 '{}'
pub smithers.m9.executions '{"machine": "m9", "table": "executions", "id": 7, "version": 1, "row": {"id": 7, "error": "a\u0000b"}}'
# And one of ours, after them: once it is in, they were all seen.
pub smithers.m9.executions "{\"machine\": \"m9\", \"table\": \"executions\", \"id\": 7, \"version\": 5, \"row\": $row}"
wait_until 20 rows_in m9 executions 1
stop_sink s1
stop_sink s2
cat s1.err s2.err >sinks.err
skipped=$(sed -n 's/.*stopped: .* \([0-9]*\) messages skipped;.*/\1/p' \
	sinks.err | awk '{n += $1} END {print n}')
[ "$skipped" -eq 9 ] ||
	fail "not 9 messages skipped but $skipped: $(cat sinks.err)"
grep -q "skipped .* on our subjects that .* not smithers rows (the last: subject 'smithers\.m9" \
	sinks.err || fail "the skipped messages are not said: $(cat sinks.err)"
[ "$(pg_sql "SELECT count(*) FROM smithers.executions
	WHERE machine IN ('m8', 'm9')")" = 1 ] ||
	fail "a message that is not ours was written"
# An older version of a row, once more: nothing changes.
pub smithers.m9.executions "{\"machine\": \"m9\", \"table\": \"executions\", \"id\": 7, \"version\": 4, \"row\": {\"id\": 7, \"name\": \"older\", \"status\": \"failed\", \"created_at\": \"t\"}}"
pub smithers.m9.executions "{\"machine\": \"m9\", \"table\": \"executions\", \"id\": 7, \"version\": 6, \"row\": {\"id\": 7, \"name\": \"newer\", \"status\": \"failed\", \"created_at\": \"t\"}}"
pub smithers.m9.executions "{\"machine\": \"m9\", \"table\": \"executions\", \"id\": 7, \"version\": 5, \"row\": {\"id\": 7, \"name\": \"older\", \"status\": \"failed\", \"created_at\": \"t\"}}"
sink s3
newer() {
	[ "$(pg_sql "SELECT name || ' ' || version FROM smithers.executions
		WHERE machine = 'm9'")" = "newer 6" ]
}
wait_until 20 newer
sleep 1
newer || fail "an older version replaced a newer one"
pg_sql "DELETE FROM smithers.executions WHERE machine = 'm9'"

# ---- a sink SIGKILLed while it writes ---------------------------------------
flow "$M1/flow.ini" m1 200 0
"$SMITHERS" --dir "$M1" run "$M1/flow.ini" >m1.out 2>m1.err &
p1=$!
some_in() {
	[ "$(pg_sql "SELECT count(*) FROM smithers.transitions
		WHERE machine = 'm1'")" -gt 320 ]
}
wait_until 60 some_in
kill -9 "$(sink_pid s3)"
wait "$(sink_pid s3)" 2>/dev/null || :
wait "$p1" || fail "m1 failed: $(cat m1.err)"
sink s4
same "$DB1" m1 "$DB2" m2

# ---- PostgreSQL stopped under the sink ---------------------------------------
pg_stop
flow "$M2/flow.ini" m2 30 0
run "$SMITHERS" --dir "$M2" run "$M2/flow.ini"
expect_rc 0
wait_until 20 grep -q "cannot connect to PostgreSQL\|cannot begin\|cannot commit\|server closed the connection\|terminating connection" s4.err
sleep 2
pg_start
same "$DB1" m1 "$DB2" m2
grep -q "writing to PostgreSQL again" s4.err ||
	fail "no line once PostgreSQL is back: $(cat s4.err)"
[ "$(grep -c "trying again until it works" s4.err)" -eq 1 ] ||
	fail "PostgreSQL down said more than once: $(cat s4.err)"
stop_sink s4

# ---- PostgreSQL unreachable, refusing, or with a newer fleet view ---------
flow "$M2/flow.ini" m2 10 0
run "$SMITHERS" --dir "$M2" run "$M2/flow.ini"
expect_rc 0
# refused CONNINFO WHY: a sink on CONNINFO says WHY (a pattern) once,
# however often it retries, and exits 0 on SIGTERM.
refused() {
	"$SMITHERS" fleet sink --nats "$NATS_URLS" --postgres "$1" \
		>bad.out 2>bad.err &
	bad=$!
	wait_until 20 grep -q "$2" bad.err
	sleep 2
	kill -TERM "$bad"
	wait "$bad" || fail "the sink exited $? on SIGTERM"
	[ "$(grep -c "$2" bad.err)" -eq 1 ] ||
		fail "a sink said '$2' more than once: $(cat bad.err)"
}
refused "host=127.0.0.1 port=$(free_ports 1) dbname=postgres" \
	"cannot connect to PostgreSQL"
# A role that may not create the fleet view.
pg_sql "CREATE DATABASE weakdb"
pg_sql "CREATE ROLE weak LOGIN"
refused "${PG_CONNINFO%user=smithers dbname=postgres}user=weak dbname=weakdb" \
	"cannot create the schema smithers: .*permission denied"
# A fleet view newer than ours.
pg_sql "CREATE DATABASE newer"
"$PG_BIN/psql" -X -q -d "${PG_CONNINFO%dbname=postgres}dbname=newer" -c \
	"CREATE SCHEMA smithers; CREATE TABLE smithers.schema_version
	(version integer); INSERT INTO smithers.schema_version VALUES (99)" ||
	fail "cannot make the newer fleet view"
refused "${PG_CONNINFO%dbname=postgres}dbname=newer" \
	"the fleet view has schema version 99, newer than this smithers knows (1): upgrade smithers"
# Nothing was acked: the next sink writes it all.
sink s5
same "$DB1" m1 "$DB2" m2
stop_sink s5
