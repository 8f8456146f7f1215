#!/bin/sh
# `smithers fleet ship` (docs/FLEET.md): what a run left to ship (its NATS
# was away) ships now, without a run, against a real 3-server JetStream
# cluster (fleet-lib.sh):
# - no nats in the workflow nor in fleet.ini: exit status 2, nothing done;
# - NATS still away: exit status 1, the rows left counted, one warning;
# - a supervisor holding the state dir's lock: exit status 3;
# - NATS there (its URL in .smithers/fleet.ini): every transition and every
#   row in the stream, under its message id, once; nothing left; exit 0;
#   --json says so, and what no sink verified;
# - nothing left: exit 0 again, nothing sent twice;
# - bad command lines.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/fleet-lib.sh"
need_nats

nats_cluster_start
wait_until 30 nats_leader

dead=$(free_ports 1)
cat >"$T/flow.ini" <<INI
[workflow]
[fleet]
nats = nats://127.0.0.1:$dead
machine = m1
ship_wait = 1s
[phase work]
[agent a]
phase = work
command = $AGENT set k 30
INI
"$SMITHERS" init "$T" >/dev/null
run "$SMITHERS" --dir "$T" run "$T/flow.ini"
expect_rc 0
err_has "rows not shipped yet"
left=$(sql "SELECT (SELECT count(*) FROM fleet_outbox) +
	(SELECT count(*) FROM transitions)")

# ---- no nats ------------------------------------------------------------------
run "$SMITHERS" --dir "$T" fleet ship
expect_rc 2
err_has "smithers: 'fleet ship' has no NATS to ship to: no nats in '$T/.smithers/fleet.ini'"

# ---- NATS still away -----------------------------------------------------------
run "$SMITHERS" --dir "$T" fleet ship "$T/flow.ini" --wait 2s
expect_rc 1
out_is "$left rows of '$T' are left to ship"
[ "$(grep -c "cannot reach NATS" "$ERR")" -eq 1 ] ||
	fail "not one warning of NATS away: $(cat "$ERR")"
err_has "shipping is retried until it works"
err_has "rows not shipped yet; the next run of this state dir (or fleet ship) ships them"

# ---- a supervisor holds the lock ----------------------------------------------
printf '[fleet]\nnats = %s\nmachine = m1\n' "$NATS_URLS" \
	>"$T/.smithers/fleet.ini"
hold_lock "$T"
run "$SMITHERS" --dir "$T" fleet ship
expect_rc 3
err_has "smithers: cannot ship: a supervisor (pid $HOLDER) holds"
release_lock

# ---- NATS there -----------------------------------------------------------------
run "$SMITHERS" --dir "$T" fleet ship --json
expect_rc 0
json 'j["unshipped"] == 0 and j["unverified"] == '"$left"
err_has "fleet: shipping to $NATS_URLS as 'm1'"
err_has "fleet: no sink answers on smithers-verify.m1"
shipped_all

# ---- nothing left ----------------------------------------------------------------
n=$(wc -l <ids.txt)
run "$SMITHERS" --dir "$T" fleet ship
expect_rc 0
out_is "nothing is left to ship in '$T' ($left rows shipped and not verified yet)"
$NATS "$NATS_URLS" ids SMITHERS >ids.txt ||
	fail "cannot read the stream's message ids"
[ "$(wc -l <ids.txt)" -eq "$n" ] || fail "shipped again: $(wc -l <ids.txt) ids, not $n"

# ---- bad command lines ---------------------------------------------------------------
run "$SMITHERS" --dir "$T" fleet ship --wait soon
expect_rc 2
err_has "smithers: bad --wait 'soon' (want a duration"
run "$SMITHERS" --dir "$T" fleet ship "$T/nope.ini"
expect_rc 2
err_has "cannot open '$T/nope.ini'"
run "$SMITHERS" --dir "$T" fleet ship a b
expect_rc 2
err_has "too many arguments for 'fleet ship'"
run "$SMITHERS" --dir "$T" fleet off --wait 1s
expect_rc 2
err_has "smithers: 'fleet off' takes no --wait"
printf '[fleet]\nnats = nowhere\n' >"$T/.smithers/fleet.ini"
run "$SMITHERS" --dir "$T" fleet ship
expect_rc 2
err_has "fleet.ini:2:"
