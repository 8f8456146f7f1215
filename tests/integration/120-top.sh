#!/bin/sh
# smithers-top against a real run: the screen in tmux (agents, sorting,
# inverting, filtering, help, quit), the batch text and the JSON field by
# field, and the last values under "SUPERVISOR NOT RUNNING" once the
# supervisor is SIGKILLed. Also its errors.
. "$top_srcdir/tests/integration/lib.sh"

TOP="$top_builddir/tools/smithers-top"
command -v tmux >/dev/null || fail "tmux is missing (Debian package tmux)"
SESSION="smithers-top-test-$$"
trap 'tmux kill-session -t "$SESSION" 2>/dev/null; rm -f "/dev/shm$(cat "$T/.smithers/shm.name" 2>/dev/null)"; cleanup' EXIT

# No segment: a clear error.
mkdir "$T/empty"
run "$TOP" -b --dir "$T/empty"
expect_rc 1
err_has "no supervisor has run in $T/empty (no shared memory segment)"
run "$TOP" -b -n x
expect_rc 2
err_has "'-n' needs a positive number"

# zeta: a short key, a value over 1 KiB under a key sorting after it, a
# tool call and tokens, then a note, then idles.
cat >zeta.sh <<'SH'
"$SMITHERS" emit state.set aaa.short 1
"$SMITHERS" emit state.set zeta.long "\"$(printf '%02000d' 0)\""
"$SMITHERS" emit tool.start grep >/dev/null
"$SMITHERS" emit usage 1000 234
"$SMITHERS" emit state.set zeta.note '"hello"'
exec sleep 60
SH
export SMITHERS
# Started in this order, so start order and name order differ.
cat >flow.ini <<INI
[workflow]
name = topflow
[phase work]
[agent zeta]
phase = work
command = exec sh "$T/zeta.sh"
[agent alpha]
phase = work
command = exec sleep 60
[agent mid]
phase = work
command = exec sleep 60
INI
start_run flow.ini
running() {
	[ "$(sql "SELECT count(*) FROM agents WHERE status = 'running' AND pid IS NOT NULL")" = 3 ] &&
		"$TOP" --json --dir "$T" 2>/dev/null | grep -q '"zeta.note"'
}
wait_until 20 running

# The screen.
tmux new-session -d -s "$SESSION" -x 160 -y 40 \
	"'$TOP' --dir '$T' -d 0.2; echo TOP-EXITED \$?; sleep 60"
screen() { tmux capture-pane -p -t "$SESSION"; }
# The table's agent names, top to bottom.
order() { screen | awk '$3 == "running" || $3 == "pending" { printf "%s ", $1 }'; }
shows() { screen | grep -q -- "$1"; }
wait_until 10 shows "alpha"
shows "execution topflow (#1) running" || fail "no header: $(screen)"
for a in zeta alpha mid; do
	screen | grep -Eq "^$a +work +running +[0-9]+" ||
		fail "no running row for $a: $(screen)"
done
[ "$(order)" = "alpha mid zeta " ] || fail "not sorted by name: $(order)"
# > three times: PHASE, STATUS, PID. The agents' pids come from forks in
# three workers at once: their order is the database's to say.
by_pid=$(sql "SELECT group_concat(name, ' ') || ' ' FROM
	(SELECT name FROM agents ORDER BY pid)")
by_pid_desc=$(sql "SELECT group_concat(name, ' ') || ' ' FROM
	(SELECT name FROM agents ORDER BY pid DESC)")
tmux send-keys -t "$SESSION" '>' '>' '>'
sorted_by_pid() { [ "$(order)" = "$by_pid" ]; }
wait_until 5 sorted_by_pid
tmux send-keys -t "$SESSION" I
inverted() { [ "$(order)" = "$by_pid_desc" ]; }
wait_until 5 inverted
tmux send-keys -t "$SESSION" '/' m i d Enter
filtered() { [ "$(order)" = "mid " ]; }
wait_until 5 filtered
shows "filter: mid" || fail "the filter is not shown"
tmux send-keys -t "$SESSION" '/' Enter
unfiltered() { [ "$(order)" = "$by_pid_desc" ]; }
wait_until 5 unfiltered
# < three times: back to names, still inverted.
tmux send-keys -t "$SESSION" '<' '<' '<'
by_name_desc() { [ "$(order)" = "zeta mid alpha " ]; }
wait_until 5 by_name_desc
tmux send-keys -t "$SESSION" '?'
wait_until 5 shows "smithers-top: keys"
tmux send-keys -t "$SESSION" x
help_gone() { ! shows "smithers-top: keys"; }
wait_until 5 help_gone
tmux send-keys -t "$SESSION" q
wait_until 5 shows "TOP-EXITED 0"

# Batch text, field by field.
run "$TOP" -b -n 2 -d 0.2 --dir "$T"
expect_rc 0
[ "$(grep -c '^execution topflow (#1) running, phase work, iteration 0' "$OUT")" = 2 ] ||
	fail "not two snapshots: $(cat "$OUT")"
out_has "agents 3: 3 running, 0 done, 0 failed, 0 restarting"
for a in zeta alpha mid; do
	pid=$(sql "SELECT pid FROM agents WHERE name = '$a'")
	grep -Eq "^$a +work +running +$pid +[0-9.]+ +[0-9.]+[KMG]? +0 " "$OUT" ||
		fail "no batch row for $a (pid $pid): $(cat "$OUT")"
done
# TOOLS and TOKENS are two numbers, not one twice.
grep -Eq '^zeta +work +running +[0-9]+ +[0-9.]+ +[0-9.]+[KMG]? +0 +1 +1(234|\.2K) ' "$OUT" ||
	fail "zeta's TOOLS and TOKENS: $(grep '^zeta' "$OUT")"

# JSON, field by field.
run "$TOP" --json --dir "$T"
expect_rc 0
json 'j["alive"] is True and j["execution"] == "topflow" and j["execution_id"] == 1 and j["status"] == "running" and j["phase"] == "work"'
json 'sorted(a["name"] for a in j["agents"]) == ["alpha", "mid", "zeta"]'
json 'all(a["status"] == "running" and a["pid"] > 0 and a["restarts"] == 0 for a in j["agents"])'
json 'j["keys"]["zeta.note"] == "hello"'
# A value over 1 KiB, after a short key in key order: named, not held.
json 'j["keys_truncated"] == ["zeta.long"] and j["keys"]["aaa.short"] == 1'
json '[(a["tool_calls"], a["tokens_in"], a["tokens_out"], a["last_tool"]) for a in j["agents"] if a["name"] == "zeta"] == [(1, 1000, 234, "grep")]'
json '[a["last_key"] for a in j["agents"] if a["name"] == "zeta"] == ["zeta.note"]'
json 'j["agent_counts"] == {"total": 3, "running": 3, "done": 0, "failed": 0, "restarting": 0}'
for a in zeta alpha mid; do
	pid=$(sql "SELECT pid FROM agents WHERE name = '$a'")
	json "[x['pid'] for x in j['agents'] if x['name'] == '$a'] == [$pid]"
done

# The supervisor dies: its last values stay, said to be stale.
kill -9 "$SUP"
wait_run
run "$TOP" --json --dir "$T"
expect_rc 0
json 'j["alive"] is False and j["execution"] == "topflow" and len(j["agents"]) == 3'
run "$TOP" -b --dir "$T"
expect_rc 0
out_has "SUPERVISOR NOT RUNNING"
out_has "zeta"
