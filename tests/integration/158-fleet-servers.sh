#!/bin/sh
# The servers of the fleet tests (fleet-lib.sh): a NATS JetStream cluster of
# three servers and a PostgreSQL cluster, as the fleet tests will use them.
# A stream of three replicas drops a message published twice with the same
# Nats-Msg-Id, keeps its messages when its leader is SIGKILLed (another is
# elected, publishing goes on with two servers, and the duplicate window
# still holds there), and takes the killed server back. A row committed in
# PostgreSQL outlives a SIGKILL of the whole server and a restart. Once
# stopped, no process of either is left.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/fleet-lib.sh"
need_nats
need_pg

# ---- NATS -------------------------------------------------------------------
nats_cluster_start
wait_until 30 nats_leader
# Creating a stream is idempotent: retried while the cluster settles.
wait_until 30 $NATS "$NATS_URLS" stream-add SHIP 'smithers.>' 3
run $NATS "$NATS_URLS" stream-info SHIP
expect_rc 0
json 'j["config"]["num_replicas"] == 3 and
	j["config"]["subjects"] == ["smithers.>"]'

run $NATS "$NATS_URLS" pub smithers.commit one id-1
expect_rc 0
json 'j["stream"] == "SHIP" and j["seq"] == 1 and not j.get("duplicate")'
run $NATS "$NATS_URLS" pub smithers.commit one id-1
expect_rc 0
json 'j["seq"] == 1 and j["duplicate"] is True'
run $NATS "$NATS_URLS" pub smithers.commit two id-2
expect_rc 0
json 'j["seq"] == 2 and not j.get("duplicate")'
run $NATS "$NATS_URLS" count SHIP
expect_rc 0
out_is 2
# Outside the stream's subjects nobody answers: an error, not a hang.
run $NATS "$NATS_URLS" pub elsewhere x
expect_rc 1
err_has "no responders"

# The stream's leader dies; a follower takes over.
wait_until 30 nats_leader SHIP
old=$(nats_leader SHIP) || fail "the stream SHIP lost its leader"
nats_kill "$old"
new_leader() {
	l=$(nats_leader SHIP) && [ "$l" != "$old" ]
}
wait_until 30 new_leader
run $NATS "$NATS_URLS" count SHIP
expect_rc 0
out_is 2
# The new leader knows the ids already published; retried while it gets
# ready to take writes.
wait_until 30 $NATS "$NATS_URLS" pub smithers.commit three id-3
run $NATS "$NATS_URLS" pub smithers.commit one id-1
expect_rc 0
json 'j["seq"] == 1 and j["duplicate"] is True'
run $NATS "$NATS_URLS" count SHIP
expect_rc 0
out_is 3

# The killed server comes back and catches up.
nats_start "$old"
caught_up() {
	$NATS --timeout 2 "$NATS_URLS" stream-info SHIP >"$T/info" &&
		"$PYTHON" -c '
import json, sys
c = json.load(open(sys.argv[1]))["cluster"]
names = [c["leader"]] + [r["name"] for r in c.get("replicas", [])
                         if r.get("current")]
sys.exit(sorted(names) != ["n1", "n2", "n3"])' "$T/info"
}
wait_until 30 caught_up

# ---- PostgreSQL --------------------------------------------------------------
pg_start
got=$(pg_sql "SELECT 1") || fail "pg_sql 'SELECT 1' failed"
[ "$got" = 1 ] || fail "pg_sql 'SELECT 1' gave '$got'"
got=$(pg_sql "SHOW listen_addresses") || fail "pg_sql SHOW failed"
[ -z "$got" ] || fail "PostgreSQL listens on '$got'"
pg_sql "CREATE TABLE commits (id text PRIMARY KEY, n int)"
pg_sql "INSERT INTO commits VALUES ('c1', 1)"
pg_kill
pg_start
# A crash indeed: the server recovered from its WAL.
grep -q "not properly shut down" "$T/pg/log" ||
	fail "no crash recovery after pg_kill: $(tail -n 5 "$T/pg/log")"
[ "$(pg_sql "SELECT id, n FROM commits")" = "c1|1" ] ||
	fail "the row did not outlive the kill"
pg_restart
[ "$(pg_sql "SELECT count(*) FROM commits")" = 1 ] ||
	fail "the row did not outlive the restart"

# ---- everything stops --------------------------------------------------------
pg_all=$(pg_pids)
[ "$(echo "$pg_all" | wc -w)" -gt 1 ] || fail "no postmaster children: $pg_all"
nats_cluster_stop
pg_stop
for p in $NATS_PIDS_ALL $pg_all; do
	! alive "$p" ||
		fail "process $p is left: $(tr '\0' ' ' <"/proc/$p/cmdline")"
done
