#!/bin/sh
# `smithers fleet off` (docs/FLEET.md, "The outbox"): a state dir that
# once shipped stops keeping what it would ship. No NATS is needed: a run
# whose NATS is unreachable leaves its rows to ship.
# - rows not shipped: refused without --force, and nothing changes (gc
#   still holds them);
# - a supervisor holding the state dir's lock: refused, exit status 3;
# - --force: the triggers, the outbox and the cursors are gone, gc holds
#   nothing for shipping, a later run without [fleet] keeps no outbox;
#   --json says what was dropped;
# - off already: says so, exit status 0;
# - rows shipped but not verified only: off without --force;
# - .smithers/fleet.ini there: a note that a run turns shipping on again;
# - bad command lines: options of other subcommands, no state dir.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/fleet-lib.sh"

port=$(free_ports 1)
# flow FILE [fleet]: a workflow whose agent sets 5 keys; with "fleet", it
# ships to a NATS nobody listens on.
flow() {
	{
		echo "[workflow]"
		if [ "${2:-}" = fleet ]; then
			printf '[fleet]\nnats = nats://127.0.0.1:%s\n' "$port"
			printf 'machine = m1\nship_wait = 1s\n'
		fi
		printf '[phase work]\n[agent a]\nphase = work\n'
		echo "command = $AGENT set k 5"
	} >"$1"
}
triggers="SELECT count(*) FROM sqlite_master WHERE type = 'trigger'
	AND name LIKE 'fleet_%'"

"$SMITHERS" init "$T" >/dev/null
flow "$T/flow.ini" fleet
run "$SMITHERS" --dir "$T" run "$T/flow.ini"
expect_rc 0
err_has "rows not shipped yet"
sql_is "$triggers" 12
outbox=$(sql "SELECT count(*) FROM fleet_outbox")
[ "$outbox" -gt 0 ] || fail "nothing in the outbox"
ntr=$(sql "SELECT count(*) FROM transitions")

# ---- not shipped: refused -----------------------------------------------------
run "$SMITHERS" --dir "$T" fleet off
expect_rc 1
err_has "smithers: cannot turn shipping off: $((outbox + ntr)) rows of '$T' are not shipped yet"
err_has "'smithers fleet ship', or a run with [fleet] nats, ships them; --force drops them"
sql_is "$triggers" 12
sql_is "SELECT count(*) FROM fleet_outbox" "$outbox"
run "$SMITHERS" --dir "$T" db gc --keep 0 --dry-run --json
expect_rc 0
json 'j["held"] == 1 and j["executions"] == 0'

# ---- a supervisor holds the lock ----------------------------------------------
hold_lock "$T"
run "$SMITHERS" --dir "$T" fleet off --force
expect_rc 3
err_has "smithers: cannot turn shipping off: a supervisor (pid $HOLDER) holds"
release_lock
sql_is "$triggers" 12

# ---- --force ------------------------------------------------------------------
run "$SMITHERS" --dir "$T" fleet off --force --json
expect_rc 0
json 'j == {"was_on": True, "unshipped": '$((outbox + ntr))', "unverified": 0}'
sql_is "$triggers" 0
sql_is "SELECT count(*) FROM fleet_outbox" 0
sql_is "SELECT count(*) FROM fleet_cursor" 0
run "$SMITHERS" --dir "$T" db stats --json
json 'j["fleet_unshipped"] in (None, 0)'
run "$SMITHERS" --dir "$T" db gc --keep 0 --json
expect_rc 0
json 'j["held"] == 0 and j["executions"] == 1'
# A run without [fleet] keeps no outbox now.
flow "$T/plain.ini"
run "$SMITHERS" --dir "$T" run "$T/plain.ini"
expect_rc 0
sql_is "SELECT count(*) FROM fleet_outbox" 0

# ---- off already ----------------------------------------------------------------
run "$SMITHERS" --dir "$T" fleet off
expect_rc 0
out_is "shipping is off for '$T' already: nothing to do"
run "$SMITHERS" --dir "$T" fleet off --json
expect_rc 0
json 'j == {"was_on": False, "unshipped": 0, "unverified": 0}'

# ---- shipped, not verified: no --force needed -------------------------------------
# What a run with no sink leaves (164): every row shipped, none verified.
# The cursors are moved here by hand, as a shipper would have.
run "$SMITHERS" --dir "$T" run "$T/flow.ini"
expect_rc 0
sqlite3 "$T/.smithers/smithers.db" "UPDATE fleet_cursor SET shipped =
	CASE name WHEN 'outbox' THEN (SELECT max(id) FROM fleet_outbox)
	ELSE (SELECT max(id) FROM transitions) END"
n=$(sql "SELECT (SELECT count(*) FROM fleet_outbox) +
	(SELECT count(*) FROM transitions)")
run "$SMITHERS" --dir "$T" fleet off
expect_rc 0
out_is "shipping is off for '$T': the outbox and the cursors are gone (0 rows not shipped and $n not verified were dropped); gc holds nothing for shipping"
sql_is "$triggers" 0

# ---- .smithers/fleet.ini turns it on again ----------------------------------------
printf '[fleet]\nnats = nats://127.0.0.1:%s\nship_wait = 1s\n' "$port" \
	>"$T/.smithers/fleet.ini"
run "$SMITHERS" --dir "$T" run "$T/plain.ini"
expect_rc 0
sql_is "$triggers" 12
run "$SMITHERS" --dir "$T" fleet off --force
expect_rc 0
err_has "smithers: note: '$T/.smithers/fleet.ini' is there: a run that finds nats in it turns shipping on again"
sql_is "$triggers" 0

# ---- bad command lines --------------------------------------------------------------
run "$SMITHERS" --dir "$T" fleet off --nats nats://127.0.0.1:1
expect_rc 2
err_has "smithers: 'fleet off' takes no --nats"
run "$SMITHERS" --dir "$T" fleet off extra
expect_rc 2
err_has "too many arguments for 'fleet off'"
run "$SMITHERS" fleet executions --force
expect_rc 2
err_has "smithers: 'fleet executions' takes no --force"
run "$SMITHERS" fleet executions --dir "$T"
expect_rc 2
err_has "reads no state dir"
run "$SMITHERS" --dir "$T/nowhere" fleet off
expect_rc 2
err_has "no smithers state in '$T/nowhere'"
run "$SMITHERS" fleet off --help
expect_rc 0
out_has "usage: smithers fleet off [--dir DIR] [--force] [--json]"
