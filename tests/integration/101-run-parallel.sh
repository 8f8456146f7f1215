#!/bin/sh
# N agents in parallel: every state change is in the database exactly once,
# each with its transition; counters and statuses are current.
. "$top_srcdir/tests/integration/lib.sh"

cat >flow.ini <<INI
[workflow]
name = parallel

[phase work]

INI
for i in 1 2 3 4 5 6; do
	cat >>flow.ini <<INI
[agent a$i]
phase = work
command = $AGENT set a$i 200 50
INI
done

run "$SMITHERS" --dir "$T" run flow.ini
expect_rc 0
err_has "execution 1 completed"
sql_is "SELECT status, total_agents, total_iterations FROM executions" \
	"completed|6|1"
sql_is "SELECT count(*), count(DISTINCT status) FROM agents" "6|1"
sql_is "SELECT DISTINCT status FROM agents" "completed"
# 6 x 200 keys, each set once, each with exactly one transition holding it.
sql_is "SELECT count(*) FROM state" "1200"
sql_is "SELECT count(*) FROM transitions" "1200"
sql_is "SELECT count(*) FROM state s JOIN transitions t
	ON t.key = s.key AND t.new_value = s.value AND t.old_value IS NULL
	AND t.agent_id = s.updated_by AND t.trigger = 'test'" "1200"
sql_is "SELECT value FROM state WHERE key = 'a3.199'" "199"
# Every agent's transitions are attributed to it and to the execution.
sql_is "SELECT count(DISTINCT agent_id), min(execution_id), max(execution_id)
	FROM transitions" "6|1|1"
# The agents' output went to their own logs, not to ours.
[ -f "$T/.smithers/logs/agents/1/a1.log" ] || fail "no agent log"
[ -f "$T/.smithers/supervisor.log" ] || fail "no supervisor log"
grep -q "agent 'a6' started" "$T/.smithers/supervisor.log" ||
	fail "supervisor.log lacks the agents"
