#!/bin/sh
# Shipping to a fleet (docs/FLEET.md), against a real 3-server JetStream
# cluster (fleet-lib.sh):
# - a run with [fleet] ships every row it commits: once it ends, nothing is
#   left to ship, every transition and every row is in the stream under its
#   message id, and no id is there twice;
# - a supervisor SIGKILLed while it ships, then run again: it goes on from
#   its cursor; still every transition in the stream, no id twice;
# - NATS unreachable from the start: the run completes as fast as without,
#   says so once (not once per retry), leaves the rows to ship (db stats
#   counts them), and gc keeps them; the next run of the state dir, with NATS there, ships them,
#   and gc may drop them then;
# - a stream of ours with other settings: one clear error naming the
#   difference, and the run goes on;
# - a row the stream refuses (larger than its messages may be): the rows
#   before it in its batch ship all the same, and the cursor stops right
#   before it (a failed batch is sent again from its first refused row).
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/fleet-lib.sh"
need_nats

nats_cluster_start
wait_until 30 nats_leader

# flow NAME URLS N SLEEP: a workflow whose agent sets N keys, SLEEP s apart.
flow() {
	cat >"$1" <<INI
[workflow]
[fleet]
nats = $2
machine = m1
ship_wait = 20s
[phase work]
[agent setter]
phase = work
command = i=0; while [ \$i -lt $3 ]; do i=\$((i + 1)); $SMITHERS emit state.set k\$i \$i || exit 1; sleep $4; done
INI
}

# unshipped: the outbox's entries above the cursor (those below it stay
# until a sink verifies them, and none answers here).
unshipped="SELECT count(*) FROM fleet_outbox WHERE id > (SELECT shipped
	FROM fleet_cursor WHERE name = 'outbox')"
# shipped_all (fleet-lib.sh): nothing left to ship, all in the stream.

# ---- a run ships all it commits -----------------------------------------
flow flow.ini "$NATS_URLS" 40 0
run "$SMITHERS" --dir "$T" run flow.ini
expect_rc 0
err_has "fleet: shipping to $NATS_URLS as 'm1'"
err_has "created the JetStream stream 'SMITHERS'"
sql_is "SELECT count(*) FROM state WHERE key LIKE 'k%'" 40
shipped_all
run $NATS "$NATS_URLS" stream-info SMITHERS
json 'j["config"]["num_replicas"] == 3 and
	j["config"]["subjects"] == ["smithers.>"] and
	j["config"]["storage"] == "file"'

# ---- killed while it ships, run again ----------------------------------------
flow slow.ini "$NATS_URLS" 200 0.02
"$SMITHERS" --dir "$T" run slow.ini >slow.out 2>slow.err &
pid=$!
some_shipped() {
	[ "$(sql "SELECT shipped FROM fleet_cursor
		WHERE name = 'transitions'")" -gt 60 ]
}
wait_until 60 some_shipped
kill -9 "$pid"
wait "$pid" || :
run "$SMITHERS" --dir "$T" run slow.ini
expect_rc 0
shipped_all

# ---- NATS unreachable from the start ---------------------------------------
D=$T/m2
mkdir "$D"
dead=$(free_ports 1)
flow "$D/flow.ini" "nats://127.0.0.1:$dead" 40 0
sed -i 's/^ship_wait = 20s/ship_wait = 1s/' "$D/flow.ini"
run "$SMITHERS" --dir "$D" run "$D/flow.ini"
expect_rc 0
[ "$(grep -c "cannot reach NATS" "$ERR")" -eq 1 ] ||
	fail "not one warning of NATS unreachable: $(cat "$ERR")"
err_has "rows not shipped yet; the next run of this state dir ships them"
[ "$(sqlite3 "$D/.smithers/smithers.db" "SELECT count(*) FROM
	transitions WHERE id > (SELECT shipped FROM fleet_cursor
	WHERE name = 'transitions')")" -eq 40 ] ||
	fail "the transitions are not all left to ship"
# db stats says what waits, and for how long.
run "$SMITHERS" --dir "$D" db stats --json
expect_rc 0
json 'j["fleet_unshipped"] >= 40 and j["fleet_lag_s"] >= 0'
# gc keeps what is not shipped, and says so.
run "$SMITHERS" --dir "$D" db gc --keep 0 --json
expect_rc 0
json 'j["held"] == 1 and j["executions"] == 0'
# NATS there now: the next run ships all, the old rows with its own.
flow "$D/flow.ini" "$NATS_URLS" 3 0
run "$SMITHERS" --dir "$D" run "$D/flow.ini"
expect_rc 0
[ "$(sqlite3 "$D/.smithers/smithers.db" "$unshipped")" -eq 0 ] ||
	fail "rows of m2 not shipped"
[ "$(sqlite3 "$D/.smithers/smithers.db" "SELECT max(id) = (SELECT
	shipped FROM fleet_cursor WHERE name = 'transitions')
	FROM transitions")" -eq 1 ] || fail "transitions of m2 not shipped"
run "$SMITHERS" --dir "$D" db stats --json
json 'j["fleet_unshipped"] == 0 and j["fleet_lag_s"] is None'
run "$SMITHERS" --dir "$D" db gc --keep 0
expect_rc 0
out_lacks "not shipped"
[ "$(sqlite3 "$D/.smithers/smithers.db" "SELECT count(*) FROM
	executions")" -eq 0 ] || fail "gc kept executions of m2 once shipped"

# ---- a stream with other settings --------------------------------------------
wait_until 30 $NATS "$NATS_URLS" stream-add OTHER 'other.>' 1
D=$T/m3
mkdir "$D"
flow "$D/flow.ini" "$NATS_URLS" 3 0
sed -i 's/^machine = m1/machine = m3\nstream = OTHER/' "$D/flow.ini"
run "$SMITHERS" --dir "$D" run "$D/flow.ini"
expect_rc 0
err_has "fleet: the JetStream stream 'OTHER' has other settings than ours: its subjects do not include ours"
[ "$(grep -c "other settings than ours" "$ERR")" -eq 1 ] ||
	fail "the stream's settings said more than once"

# ---- a row the stream refuses ----------------------------------------------
# Written while NATS is out of reach, so that the rows before the big one
# and after it ship in one batch with it.
wait_until 30 $NATS "$NATS_URLS" stream-add SMALL 'small.>' 3 2000
D=$T/m4
mkdir "$D"
big=$(head -c 3000 /dev/zero | tr '\0' x)
cat >"$D/big.sh" <<SH
for i in 1 2 3 4 5; do $SMITHERS emit state.set a\$i \$i || exit 1; done
$SMITHERS emit state.set big '"$big"' || exit 1
for i in 1 2 3; do $SMITHERS emit state.set b\$i \$i || exit 1; done
SH
write_big_flow() {
	cat >"$D/flow.ini" <<INI
[workflow]
[fleet]
nats = $1
machine = m4
stream = SMALL
subject_prefix = small
duplicate_window = 1m
ship_wait = $2
[phase work]
[agent setter]
phase = work
command = $3
INI
}
write_big_flow "nats://127.0.0.1:$dead" 1s "sh $D/big.sh"
run "$SMITHERS" --dir "$D" run "$D/flow.ini"
expect_rc 0
err_has "rows not shipped yet"
m4sql() { sqlite3 "$D/.smithers/smithers.db" "$1"; }
bigid=$(m4sql "SELECT id FROM transitions WHERE key = 'big'")
[ -n "$bigid" ] || fail "no transition of the big value"
write_big_flow "$NATS_URLS" 3s true
run "$SMITHERS" --dir "$D" run "$D/flow.ini"
expect_rc 0
err_has "fleet: JetStream did not take what was published"
[ "$(m4sql "SELECT shipped FROM fleet_cursor WHERE name = 'transitions'")" \
	-eq "$(m4sql "SELECT max(id) FROM transitions WHERE id < $bigid")" ] ||
	fail "the transitions cursor is not right before the refused row:" \
		"$(m4sql "SELECT * FROM fleet_cursor")"
[ "$(m4sql "$unshipped")" -eq 0 ] ||
	fail "rows shipped with the refused one are left to ship"
$NATS "$NATS_URLS" ids SMALL >small-ids.txt ||
	fail "cannot read the stream's message ids"
for k in $(m4sql "SELECT id FROM transitions WHERE id < $bigid"); do
	grep -qx "m4:transitions:$k:1" small-ids.txt ||
		fail "transition $k, before the refused one, is not in the stream"
done
! grep -q "m4:transitions:$bigid:" small-ids.txt ||
	fail "the refused row is in the stream"
