#!/bin/sh
# Resuming an execution whose supervisor died:
#  - in the interrupted Ralph iteration, the completed agent is not run
#    again, the other restarts with SMITHERS_RESUME=1 and attempt + 1, the
#    iteration counters are kept, and the recovery is recorded on the
#    execution row and as a transition with trigger "recovery";
#  - what the dead supervisor left running is killed first, each pid only
#    while its start time matches: an agent whose worker died with it, the
#    grandchild of an agent that is gone itself; a recorded pid now used by
#    another process is left alone;
#  - --no-resume marks the execution, its phase and agents interrupted and
#    starts afresh; another workflow is refused, changing nothing.
. "$top_srcdir/tests/integration/lib.sh"

# Each start of an agent: NAME ITERATION ATTEMPT RESUME, one line. 'slow'
# hangs in iteration 1 unless resumed.
cat >agent.sh <<'SH'
echo "$1 $SMITHERS_ITERATION $SMITHERS_ATTEMPT ${SMITHERS_RESUME:-0}" >>starts
if [ "$1" = slow ] && [ "$SMITHERS_ITERATION" = 1 ] &&
	[ -z "${SMITHERS_RESUME:-}" ]; then
	exec sleep 300
fi
exec smithers emit state.set "$1.$SMITHERS_ITERATION" true
SH
cat >flow.ini <<INI
[workflow]
name = loop
[phase build]
max_iterations = 2
[agent quick]
phase = build
command = sh $T/agent.sh quick
[agent slow]
phase = build
command = sh $T/agent.sh slow
INI

slow_waits() { grep -q '^slow 1 1 0$' "$T/starts" && grep -q '^quick 1 ' "$T/starts"; }
quick_done() {
	[ "$(sql "SELECT status FROM agents WHERE name = 'quick' AND phase_id = (SELECT max(id) FROM phases)")" = completed ]
}

start_run flow.ini
wait_until 30 slow_waits
wait_until 30 quick_done
kill -9 "$SUP"
wait_run
expect_rc 137

# What a restart would do.
run "$SMITHERS" db recovery --json
expect_rc 0
json '[(r["agent"], r["iteration"], r["action"]) for r in j] ==
      [("quick", 1, "skip"), ("slow", 1, "resume")]'

run "$SMITHERS" run flow.ini
expect_rc 0
err_has "resuming execution 1 of 'loop'"
err_has "resuming phase 'build' iteration 1: 1 agents resumed, 1 completed ones skipped"
# (The agents of an iteration start in any order.)
[ "$(sort "$T/starts")" = "quick 0 1 0
quick 1 1 0
slow 0 1 0
slow 1 1 0
slow 1 2 1" ] || fail "unexpected starts: $(cat "$T/starts")"
sql_is "SELECT id, status, recoveries, recovered_at IS NOT NULL,
               total_iterations, total_agents FROM executions" \
	"1|completed|1|1|2|4"
sql_is "SELECT iteration, status FROM phases ORDER BY id" "0|completed
1|completed"
sql_is "SELECT name, attempt, status FROM agents
        WHERE phase_id = (SELECT max(id) FROM phases) ORDER BY id" \
	"quick|1|completed
slow|2|completed"
sql_is "SELECT trigger, execution_id,
               json_extract(new_value, '\$.iteration'),
               json_extract(new_value, '\$.resumed'),
               json_extract(new_value, '\$.skipped')
        FROM transitions WHERE key = 'smithers.recovery'" \
	'recovery|1|1|["slow"]|["quick"]'
sql_is "SELECT value FROM state WHERE key = 'slow.1'" "true"

# ---- the old generation's processes --------------------------------------
rm -rf .smithers "$T/starts"
cat >stale.ini <<INI
[workflow]
name = stale
[phase p]
[agent lone]
phase = p
command = exec sleep 300
[agent parent]
phase = p
command = $AGENT grandchild $T/gc.pid sleep
[agent other]
phase = p
command = exec sleep 300
INI
both_running() {
	[ "$(sql "SELECT count(*) FROM agents WHERE status = 'running' AND pid_start > 0 AND worker_start > 0")" = 3 ] &&
		test -f "$T/gc.pid"
}
start_run stale.ini
wait_until 30 both_running
lone=$(sql "SELECT pid FROM agents WHERE name = 'lone'")
parent=$(sql "SELECT pid FROM agents WHERE name = 'parent'")
gc=$(cat "$T/gc.pid")
# Freeze the supervisor, kill the workers: nobody is left to stop the
# agents, as when a whole process tree dies at once but for them.
kill -STOP "$SUP"
for w in $(sql "SELECT worker_pid FROM agents"); do
	kill -9 "$w"
done
kill -9 "$parent" # the grandchild is left in its group, alone
kill -9 "$SUP"
kill -CONT "$SUP" 2>/dev/null || :
wait_run
alive "$lone" || fail "the agent 'lone' died with its worker"
alive "$gc" || fail "the grandchild died with its parent"
# 'other' is recorded with the pid of a bystander that started later.
sleep 300 &
bystander=$!
BG_PIDS="$BG_PIDS $bystander"
"$PYTHON" - "$T/.smithers/smithers.db" "$bystander" <<'PY'
import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
con.execute("UPDATE agents SET pid = ?, pid_start = pid_start - 1"
            " WHERE name = 'other'", (int(sys.argv[2]),))
con.commit()
PY
start_run stale.ini --no-resume
took_over() { grep -q "marked interrupted" "$T/.sup.err"; }
wait_until 30 took_over
! alive "$lone" || fail "the agent left by its dead worker was not killed"
! alive "$gc" || fail "the orphaned grandchild was not killed"
alive "$bystander" || fail "a recycled pid was signalled"
grep -q "killed the agent of agent 'lone' (group $lone)" "$T/.sup.err" ||
	fail "the kill of 'lone' is not logged"
grep -q "killed the agent of agent 'parent' (group $parent)" "$T/.sup.err" ||
	fail "the grandchild's group kill is not logged"
kill -TERM "$SUP"
wait_run
sql_is "SELECT status FROM executions ORDER BY id" "interrupted
cancelled"
sql_is "SELECT status FROM phases WHERE execution_id = 1" "interrupted"
sql_is "SELECT count(*) FROM agents WHERE execution_id = 1
        AND status = 'interrupted'" 3

# ---- another workflow: refused, nothing changed -------------------------
rm -rf .smithers
start_run flow.ini
wait_until 30 slow_waits
kill -9 "$SUP"
wait_run
cat >other.ini <<INI
[workflow]
name = other
[phase p]
[agent a]
phase = p
command = true
INI
run "$SMITHERS" run other.ini
expect_rc 2
err_has "execution 1 of workflow 'loop' was interrupted: run that workflow to resume it, or pass --no-resume"
sql_is "SELECT id, status, recoveries FROM executions" "1|running|0"
exit 0
