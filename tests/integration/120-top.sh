#!/bin/sh
# smithers-top against a real run: the screen in tmux (agents, sorting,
# inverting, filtering, help, quit), the batch text and the JSON field by
# field, an agent's kind, cost (or none known) and tokens, and the tool
# calls it is running (the one started last, for how long, until none is),
# and the last values under "SUPERVISOR NOT RUNNING" once the supervisor is
# SIGKILLed.
# Also its errors.
. "$top_srcdir/tests/integration/lib.sh"

TOP="$top_builddir/tools/smithers-top"
command -v tmux >/dev/null || fail "tmux is missing (Debian package tmux)"
# A tmux server of this test's own: another test's server ending (its last
# session killed) must not take this one's session with it.
tmux() { command tmux -S "$T/tmux.sock" "$@"; }
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
# tool call, tokens and cost, a second tool call, then a note; it ends
# the second call when the file go.1 appears, the first at go.2, then
# idles.
printf 'GO=%s\n' "$T/go" >zeta.sh
cat >>zeta.sh <<'SH'
"$SMITHERS" emit state.set aaa.short 1
"$SMITHERS" emit state.set zeta.long "\"$(printf '%02000d' 0)\""
grep=$("$SMITHERS" emit tool.start grep)
"$SMITHERS" emit usage 1000 234 --cost 0.25
bash=$("$SMITHERS" emit tool.start Bash)
"$SMITHERS" emit state.set zeta.note '"hello"'
while [ ! -e "$GO.1" ]; do sleep 0.1; done
"$SMITHERS" emit tool.complete "$bash"
while [ ! -e "$GO.2" ]; do sleep 0.1; done
"$SMITHERS" emit tool.complete "$grep"
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
tmux new-session -d -s "$SESSION" -x 190 -y 40 \
	"'$TOP' --dir '$T' -d 0.2; echo TOP-EXITED \$?; sleep 60"
screen() { tmux capture-pane -p -t "$SESSION"; }
# CPU% and MEM are there for a running agent (its cgroup's, else /proc's);
# PEAK and TIME, the tree's peak memory and CPU time, are "-" unless the
# agent runs in a cgroup.
FIGS='(-|[0-9.]+[BKMG]) +(-|[0-9:]+)'
# The table's agent names, top to bottom.
order() { screen | awk '$3 == "running" || $3 == "pending" { printf "%s ", $1 }'; }
shows() { screen | grep -q -- "$1"; }
wait_until 10 shows "alpha"
screen | grep -Eq '^ *AGENT +PHASE +STATUS +KIND +PID +CPU% +MEM +PEAK +TIME +RESTARTS +TOOLS +COST ' ||
	fail "not the columns: $(screen | head -12)"
shows "execution topflow (#1) running" || fail "no header: $(screen)"
for a in zeta alpha mid; do
	screen | grep -Eq "^$a +work +running +command +[0-9]+" ||
		fail "no running row for $a: $(screen)"
done
# The execution's cost and tokens; zeta's: TOOLS 2, COST, IN, OUT, CACHE,
# AGE, then RUNNING: Bash, started last, with its seconds going up, and
# one more call running.
shows "cost \$0.2500, tokens in 1.0k, out 234, cache read 0, cache written 0" ||
	fail "no usage in the header: $(screen)"
row() { screen | grep -E "^zeta +work +running +command +[0-9]+ +[0-9.]+ +[0-9.]+[BKMG]? +$FIGS +0 +2 +\\\$0\\.2500 +1\\.0k +234 +0 +[0-9:]+ +$1"; }
bash_runs() { row 'Bash [1-9][0-9]*s \+1 '; }
wait_until 10 bash_runs
[ "$(order)" = "alpha mid zeta " ] || fail "not sorted by name: $(order)"
# alpha reported no cost: "-".
screen | grep -Eq '^alpha +work +running +command +[0-9]+ +[0-9.]+ +[0-9.]+[BKMG]? +'"$FIGS"' +0 +0 +- +0 +0 +0 ' ||
	fail "alpha's cost is not unknown: $(screen)"
# > four times: PHASE, STATUS, KIND, PID. The agents' pids come from forks in
# three workers at once: their order is the database's to say.
by_pid=$(sql "SELECT group_concat(name, ' ') || ' ' FROM
	(SELECT name FROM agents ORDER BY pid)")
by_pid_desc=$(sql "SELECT group_concat(name, ' ') || ' ' FROM
	(SELECT name FROM agents ORDER BY pid DESC)")
tmux send-keys -t "$SESSION" '>' '>' '>' '>'
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
# < four times: back to names, still inverted.
tmux send-keys -t "$SESSION" '<' '<' '<' '<'
by_name_desc() { [ "$(order)" = "zeta mid alpha " ]; }
wait_until 5 by_name_desc
tmux send-keys -t "$SESSION" '?'
wait_until 5 shows "smithers-top: keys"
tmux send-keys -t "$SESSION" x
help_gone() { ! shows "smithers-top: keys"; }
wait_until 5 help_gone

# Batch text, field by field.
run "$TOP" -b -n 2 -d 0.2 --dir "$T"
expect_rc 0
[ "$(grep -c '^execution topflow (#1) running, phase work, iteration 0' "$OUT")" = 2 ] ||
	fail "not two snapshots: $(cat "$OUT")"
out_has "agents 3: 3 running, 0 done, 0 failed, 0 restarting"
for a in zeta alpha mid; do
	pid=$(sql "SELECT pid FROM agents WHERE name = '$a'")
	grep -Eq "^$a +work +running +command +$pid +[0-9.]+ +[0-9.]+[BKMG]? +$FIGS +0 " "$OUT" ||
		fail "no batch row for $a (pid $pid): $(cat "$OUT")"
done
out_has "cost \$0.2500, tokens in 1.0k, out 234, cache read 0, cache written 0"
# KIND, TOOLS, COST, IN, OUT, CACHE, AGE, RUNNING (two words) and LAST.
grep -Eq '^zeta +work +running +command +[0-9]+ +[0-9.]+ +[0-9.]+[BKMG]? +'"$FIGS"' +0 +2 +\$0\.2500 +1\.0k +234 +0 +[0-9:]+ +Bash [0-9]+s \+1 +Bash$' "$OUT" ||
	fail "zeta's TOOLS to LAST: $(grep '^zeta' "$OUT")"
grep -Eq '^alpha +work +running +command +[0-9]+ +[0-9.]+ +[0-9.]+[BKMG]? +'"$FIGS"' +0 +0 +- +0 +0 +0 +[0-9:]+ +- +-$' "$OUT" ||
	fail "alpha's TOOLS to LAST: $(grep '^alpha' "$OUT")"

# JSON, field by field.
run "$TOP" --json --dir "$T"
expect_rc 0
json 'j["alive"] is True and j["execution"] == "topflow" and j["execution_id"] == 1 and j["status"] == "running" and j["phase"] == "work"'
json 'sorted(a["name"] for a in j["agents"]) == ["alpha", "mid", "zeta"]'
json 'all(a["status"] == "running" and a["pid"] > 0 and a["restarts"] == 0 for a in j["agents"])'
json 'j["keys"]["zeta.note"] == "hello"'
# A value over 1 KiB, after a short key in key order: named, not held.
json 'j["keys_truncated"] == ["zeta.long"] and j["keys"]["aaa.short"] == 1'
json '[(a["tool_calls"], a["tokens_in"], a["tokens_out"], a["last_tool"]) for a in j["agents"] if a["name"] == "zeta"] == [(2, 1000, 234, "Bash")]'
json '[(a["cost_usd"], a["cache_read"], a["cache_write"]) for a in j["agents"] if a["name"] == "zeta"] == [(0.25, 0, 0)]'
json 'j["usage"] == {"tokens_in": 1000, "tokens_out": 234, "reasoning_tokens": 0, "cache_read": 0, "cache_write": 0, "cost_usd": 0.25}'
json 'j["version"] == "1.4" and all(a["kind"] == "command" and a["reasoning_tokens"] == 0 for a in j["agents"])'
json '[(a["running_tool"], a["running_calls"]) for a in j["agents"] if a["name"] == "zeta"] == [("Bash", 2)]'
json 'all(a["running_ms"] >= 0 and a["running_since_ms"] + a["running_ms"] == j["now_ms"] for a in j["agents"] if a["name"] == "zeta")'
json 'all((a["running_tool"], a["running_calls"], a["running_ms"], a["cost_usd"]) == (None, 0, None, None) for a in j["agents"] if a["name"] != "zeta")'
json '[a["last_key"] for a in j["agents"] if a["name"] == "zeta"] == ["zeta.note"]'
# The process tree's figures: the cgroup's where the agent has one, else
# MEM is /proc's RSS of its leader; null when unknown.
json 'all(all(k in a for k in ("mem", "mem_bytes", "mem_peak", "cpu_usec", "nprocs", "tree", "rss")) for a in j["agents"])'
json 'all(a["tree"] or (a["mem"] == a["rss"] and a["mem"] > 0) for a in j["agents"])'
json 'all(a["mem_bytes"] is None or a["tree"] for a in j["agents"])'
json 'j["agent_counts"] == {"total": 3, "running": 3, "done": 0, "failed": 0, "restarting": 0}'
for a in zeta alpha mid; do
	pid=$(sql "SELECT pid FROM agents WHERE name = '$a'")
	json "[x['pid'] for x in j['agents'] if x['name'] == '$a'] == [$pid]"
done

# zeta ends Bash: grep, started before it and still running, shows; then
# grep ends: none runs, LAST still says Bash.
touch "$T/go.1"
grep_runs() { row 'grep [0-9]+s +Bash'; }
wait_until 10 grep_runs
row 'Bash [0-9]' && fail "Bash still running: $(screen)"
run "$TOP" --json --dir "$T"
json '[(a["running_tool"], a["running_calls"]) for a in j["agents"] if a["name"] == "zeta"] == [("grep", 1)]'
touch "$T/go.2"
none_runs() { row 'Bash *$'; }
wait_until 10 none_runs
run "$TOP" --json --dir "$T"
json '[(a["running_tool"], a["running_calls"], a["running_ms"], a["tool_calls"]) for a in j["agents"] if a["name"] == "zeta"] == [(None, 0, None, 2)]'
json 'j["usage"]["cost_usd"] == 0.25'
# A command agent's cost is stored too (the protocol's usage.cost); the
# others' is unknown.
sql_is "SELECT tokens_in, tokens_out, cost_usd FROM agents WHERE name = 'zeta'" \
	"1000|234|0.25"
sql_is "SELECT count(*) FROM agents WHERE cost_usd IS NULL" 2
sql_is "SELECT tokens_in, tokens_out, cost_usd FROM executions" "1000|234|0.25"
tmux send-keys -t "$SESSION" q
wait_until 5 shows "TOP-EXITED 0"

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
