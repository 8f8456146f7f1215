#!/bin/sh
# Ralph loops: a phase repeats (iteration + 1, from 0) until its 'until'
# condition holds, or fails once max_iterations is reached; phases run in
# file order; the next phase starts only when the loop ended.
. "$top_srcdir/tests/integration/lib.sh"

cat >flow.ini <<INI
[phase loop]
max_iterations = 10
until = counter == 3

[phase after]

[agent counter]
phase = loop
command = $AGENT incr counter

[agent last]
phase = after
command = $AGENT set after 1
INI

run "$SMITHERS" --dir "$T" run flow.ini
expect_rc 0
sql_is "SELECT name, iteration, status, agent_count FROM phases ORDER BY id" \
"loop|0|completed|1
loop|1|completed|1
loop|2|completed|1
after|0|completed|1"
sql_is "SELECT value FROM state WHERE key = 'counter'" "3"
sql_is "SELECT total_iterations, total_agents, status FROM executions" \
	"4|4|completed"
# Each iteration's agent saw its own iteration number.
sql_is "SELECT group_concat(new_value) FROM (SELECT new_value FROM transitions
	WHERE key = 'counter' ORDER BY id)" "1,2,3"

# A loop whose condition never holds fails after max_iterations.
rm -rf "$T/.smithers"
cat >flow.ini <<INI
[phase loop]
max_iterations = 2
until = counter == 100
[agent counter]
phase = loop
command = $AGENT incr counter
INI
run "$SMITHERS" --dir "$T" run flow.ini
expect_rc 1
err_has "phase 'loop': 'counter == 100' still does not hold after 2 iterations"
sql_is "SELECT count(*) FROM phases" "2"
sql_is "SELECT status FROM executions" "failed"
