#!/bin/sh
# smithers-top shows how far shipping to a fleet is behind (docs/FLEET.md),
# from the shared-memory mirror, in --json, in the batch text and on the
# screen (tmux):
# - without [fleet]: "fleet" is null, and no "ship:" line anywhere;
# - NATS unreachable (a closed loopback port): the rows not shipped grow
#   while the run commits, the oldest of them ages, the state is
#   "failing", and the screen and the batch text say so;
# - the same state dir run again with a real 3-server JetStream cluster
#   (fleet-lib.sh): everything ships, and the figures reach 0 ("ship: up
#   to date") while the run still goes on.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/fleet-lib.sh"
need_nats
command -v tmux >/dev/null || fail "tmux is missing (Debian package tmux)"

TOP="$top_builddir/tools/smithers-top"
export SMITHERS
# A tmux server of this test's own (see 120-top.sh).
tmux() { command tmux -S "$T/tmux.sock" "$@"; }
SESSION="smithers-top-fleet-$$"
trap 'tmux kill-server 2>/dev/null || :; fleet_cleanup' EXIT

# flow FILE NATS N KEY: a workflow whose agent sets N keys KEY1.., 0.05 s
# apart, then idles (the run goes on until stopped); with [fleet] when
# NATS is set.
flow() {
	{
		echo "[workflow]"
		echo "name = lagflow"
		if [ -n "$2" ]; then
			echo "[fleet]"
			echo "nats = $2"
			echo "machine = m1"
			echo "ship_wait = 1s"
		fi
		echo "[phase work]"
		echo "[agent setter]"
		echo "phase = work"
		echo "command = i=0; while [ \$i -lt $3 ]; do i=\$((i + 1));" \
			"\"\$SMITHERS\" emit state.set $4\$i \$i || exit 1;" \
			"sleep 0.05; done; exec sleep 60"
	} >"$1"
}

# top_json DIR: smithers-top --json of DIR in $OUT.
top_json() {
	run "$TOP" --json --dir "$1"
	expect_rc 0
}

# holds DIR EXPR: smithers-top --json of DIR satisfies EXPR (for
# wait_until: no fail, no exit).
holds() {
	"$TOP" --json --dir "$1" >"$T/.poll" 2>/dev/null || return 1
	"$PYTHON" -c '
import json, sys
j = json.load(open(sys.argv[1]))
sys.exit(0 if eval("(" + sys.argv[2] + "\n)", {"j": j}) else 1)
' "$T/.poll" "$2"
}

# unshipped DIR: the rows not shipped, as smithers-top says.
unshipped() {
	"$TOP" --json --dir "$1" | "$PYTHON" -c '
import json, sys
print(json.load(sys.stdin)["fleet"]["unshipped"])'
}

# ui DIR: smithers-top's screen of DIR in the tmux session.
ui() {
	tmux kill-session -t "$SESSION" 2>/dev/null || :
	tmux new-session -d -s "$SESSION" -x 160 -y 30 \
		"'$TOP' --dir '$1' -d 0.2; echo TOP-EXITED \$?; sleep 60"
}
screen() { tmux capture-pane -p -t "$SESSION"; }
shows() { screen | grep -q -- "$1"; }

# start DIR FLOW: a run of DIR in the background, pid in $SUP.
start() {
	"$SMITHERS" --dir "$1" run "$2" >"$1/.sup.out" 2>"$1/.sup.err" &
	SUP=$!
	BG_PIDS="$BG_PIDS $SUP"
}

# stop DIR: SIGTERM the run and wait for it (a clean exit takes its
# segment with it).
stop() {
	kill -TERM "$SUP"
	set +e
	wait "$SUP"
	set -e
	if grep -Eq 'Sanitizer|runtime error:' "$1/.sup.err"; then
		cat "$1/.sup.err" >&2
		fail "sanitizer report from smithers run"
	fi
}

# ---- without [fleet]: nothing said of shipping ------------------------------
P=$T/plain
mkdir "$P"
flow "$P/flow.ini" "" 5 k
start "$P" "$P/flow.ini"
wait_until 20 holds "$P" 'j["status"] == "running" and len(j["agents"]) == 1'
top_json "$P"
json '"fleet" in j and j["fleet"] is None and j["version"] == "1.4"'
run "$TOP" -b --dir "$P"
expect_rc 0
out_has "execution lagflow"
out_lacks "ship:"
ui "$P"
wait_until 10 shows "execution lagflow"
shows "ship:" && fail "a ship line without [fleet]: $(screen)"
stop "$P"

# ---- NATS unreachable: the rows not shipped grow ----------------------------
dead=$(free_ports 1)
flow "$T/dead.ini" "nats://127.0.0.1:$dead" 100 k
start "$T" "$T/dead.ini"
wait_until 20 holds "$T" 'j["fleet"] is not None and
	j["fleet"]["state"] == "failing" and
	(j["fleet"]["unshipped"] or 0) > 0'
first=$(unshipped "$T")
# Counted once a second while the agent commits a key every 0.05 s.
wait_until 10 holds "$T" "j['fleet']['unshipped'] > $first"
# The oldest row not shipped ages.
wait_until 10 holds "$T" 'j["fleet"]["lag_s"] >= 1'
top_json "$T"
json 'j["fleet"]["state"] == "failing" and
	0 < j["fleet"]["oldest_ms"] <= j["now_ms"] and
	j["fleet"]["lag_s"] == (j["now_ms"] - j["fleet"]["oldest_ms"]) // 1000'
run "$TOP" -b --dir "$T"
expect_rc 0
grep -Eq '^ship: [0-9]+ rows, [0-9]+s behind; NATS failing, retrying$' \
	"$OUT" || fail "no ship line in the batch text"
ui "$T"
wait_until 10 shows "ship: [0-9]* rows, [0-9]*s behind; NATS failing"
# The store agrees there is that much to ship (the thread counts from it).
[ "$(sql "SELECT count(*) FROM fleet_outbox")" -gt 0 ] ||
	fail "the outbox is empty"
stop "$T"
grep -q "cannot reach NATS" "$T/.sup.err" ||
	fail "no warning of NATS unreachable: $(cat "$T/.sup.err")"

# ---- NATS there: the same state dir ships all, and says so ------------------
nats_cluster_start
wait_until 30 nats_leader
flow "$T/up.ini" "$NATS_URLS" 5 u
start "$T" "$T/up.ini"
wait_until 20 holds "$T" 'j["fleet"] is not None and
	j["fleet"]["state"] == "shipping" and
	j["fleet"]["unshipped"] == 0 and j["fleet"]["lag_s"] == 0 and
	j["fleet"]["oldest_ms"] is None and
	j["keys"].get("u5") == 5'
run "$TOP" -b --dir "$T"
expect_rc 0
out_has "ship: up to date"
ui "$T"
wait_until 10 shows "ship: up to date"
# What the mirror says is what the store says (once the loop committed
# the cursors).
# (Entries below the cursor stay until a sink verifies them: none here.)
outbox_shipped() {
	[ "$(sql "SELECT count(*) FROM fleet_outbox WHERE id > (SELECT shipped
		FROM fleet_cursor WHERE name = 'outbox')")" = 0 ]
}
wait_until 10 outbox_shipped
stop "$T"
