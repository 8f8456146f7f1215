#!/bin/sh
# smithers-top follows a restarted supervisor: SIGKILL the supervisor and
# the screen (in tmux) and a running batch (-b -n) show its last values
# under "SUPERVISOR NOT RUNNING"; run it again on the same state dir (it
# resumes) and both switch to the new supervisor's segment by themselves:
# its pid, its agents, no banner. A clean exit then leaves the last values
# shown, under the banner.
. "$top_srcdir/tests/integration/lib.sh"

TOP="$top_builddir/tools/smithers-top"
command -v tmux >/dev/null || fail "tmux is missing (Debian package tmux)"
# A tmux server of this test's own: another test's server ending (its last
# session killed) must not take this one's session with it.
tmux() { command tmux -S "$T/tmux.sock" "$@"; }
SESSION="smithers-top-reattach-$$"
trap 'tmux kill-session -t "$SESSION" 2>/dev/null; [ ! -f "$T/.smithers/shm.name" ] || rm -f "/dev/shm$(cat "$T/.smithers/shm.name")"; cleanup' EXIT

cat >flow.ini <<INI
[workflow]
name = again
[phase work]
[agent one]
phase = work
command = exec sleep 60
[agent two]
phase = work
command = exec sleep 60
INI
running() {
	[ "$(sql "SELECT count(*) FROM agents WHERE status = 'running' AND pid IS NOT NULL AND phase_id = (SELECT max(id) FROM phases) AND attempt = $1")" = 2 ]
}
start_run flow.ini
SUP1=$SUP
wait_until 20 running 1

tmux new-session -d -s "$SESSION" -x 160 -y 30 \
	"'$TOP' --dir '$T' -d 0.2; echo TOP-EXITED \$?; sleep 60"
screen() { tmux capture-pane -p -t "$SESSION"; }
shows() { screen | grep -q -- "$1"; }
wait_until 10 shows "supervisor pid $SUP1\$"
shows "SUPERVISOR NOT RUNNING" && fail "a banner while it runs: $(screen)"

# A batch that outlives the first supervisor: one snapshot every 0.1 s.
"$TOP" -b -n 400 -d 0.1 --dir "$T" >batch.out 2>batch.err &
BATCH=$!
BG_PIDS="$BG_PIDS $BATCH"
batch_has() { grep -q -- "$1" batch.out; }
wait_until 10 batch_has "supervisor pid $SUP1\$"

# The supervisor dies: its values stay, said to be stale.
kill -9 "$SUP1"
wait_run
expect_rc 137
wait_until 10 shows "SUPERVISOR NOT RUNNING (pid $SUP1,"
wait_until 10 batch_has "SUPERVISOR NOT RUNNING (pid $SUP1,"

# A new supervisor on the same state dir resumes the execution.
start_run flow.ini
SUP2=$SUP
[ "$SUP2" != "$SUP1" ] || fail "the same pid twice"
wait_until 30 running 2
grep -q "resuming execution 1 of 'again'" "$T/.sup.err" ||
	fail "no resume: $(cat "$T/.sup.err")"

# The screen follows it: the new pid, no banner, the new agents' pids.
wait_until 10 shows "supervisor pid $SUP2\$"
banner_gone() { ! shows "SUPERVISOR NOT RUNNING"; }
wait_until 5 banner_gone
shows "a new supervisor (pid $SUP2) replaced the segment" ||
	fail "the reattach is not said: $(screen)"
for a in one two; do
	pid=$(sql "SELECT pid FROM agents WHERE name = '$a' AND phase_id = (SELECT max(id) FROM phases)")
	row_shows() { screen | grep -Eq "^$a +work +running +command +$pid "; }
	wait_until 5 row_shows ||
		fail "no running row for $a (pid $pid): $(screen)"
done

# So does the batch, in the same process: after the first snapshot of the
# new supervisor, no banner.
wait_until 10 batch_has "supervisor pid $SUP2\$"
sleep 0.5
kill "$BATCH"
wait "$BATCH" 2>/dev/null || :
awk -v new="supervisor pid $SUP2" '
	index($0, new) { seen = 1 }
	seen && /SUPERVISOR NOT RUNNING/ { bad = 1 }
	END { exit !seen || bad }' batch.out ||
	fail "the batch did not follow the new supervisor: $(tail -n 20 batch.out)"
[ ! -s batch.err ] || fail "batch stderr: $(cat batch.err)"

# A new process reads the new segment as well (JSON and batch).
run "$TOP" --json --dir "$T"
expect_rc 0
json "j['alive'] is True and j['writer_pid'] == $SUP2"
json 'sorted(j["counters"]) == ["bytes", "commits", "last_commit_us", "messages", "rejected", "restarts"]'
json 'j["counters"]["commits"] >= 1'
for a in one two; do
	pid=$(sql "SELECT pid FROM agents WHERE name = '$a' AND phase_id = (SELECT max(id) FROM phases)")
	json "[x['pid'] for x in j['agents'] if x['name'] == '$a'] == [$pid]"
done
# Agents that never reported a cost: none is known, here or before the
# resume.
json 'j["usage"]["cost_usd"] is None and j["usage"]["reasoning_tokens"] == 0'
json 'all(x["cost_usd"] is None and x["kind"] == "command" for x in j["agents"])'
run "$TOP" -b --dir "$T"
expect_rc 0
out_has "supervisor pid $SUP2"
out_lacks "SUPERVISOR NOT RUNNING"
out_has "cost -, tokens in 0, out 0, cache read 0, cache written 0"
grep -Eq '^one +work +running +command +[0-9]+ +[0-9.]+ +[0-9.]+[BKMG]? +(-|[0-9.]+[BKMG]) +(-|[0-9:]+) +1 +0 +- +0 +0 +0 ' "$OUT" ||
	fail "no unknown cost in one's row: $(grep '^one' "$OUT")"

# A clean exit removes the segment: nothing to reattach to; the screen
# keeps the last values, under the banner.
kill -TERM "$SUP2"
wait_run
[ ! -f "$T/.smithers/shm.name" ] || fail "the segment is still there"
wait_until 10 shows "SUPERVISOR NOT RUNNING (pid $SUP2,"
shows "execution again (#1)" || fail "the last values are gone: $(screen)"
tmux send-keys -t "$SESSION" q
wait_until 5 shows "TOP-EXITED 0"
