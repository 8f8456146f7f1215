#!/bin/sh
# A worker that no row names: a supervisor that dies between forking a
# worker and committing its pid leaves one nobody knows of. Had it been
# able to run, it would have stopped itself and its agent when its parent
# died; a wedged one is found by the next supervisor from its command line
# (a smithers-worker whose log is in this state dir) and killed, its agent
# and the agent's group with it. A smithers-worker of another state dir is
# left alone.
. "$top_srcdir/tests/integration/lib.sh"

WORKER="$top_builddir/worker/smithers-worker"

cat >flow.ini <<INI
[workflow]
name = strays
[phase work]
[agent a]
phase = work
command = test -e $T/go || exec sleep 300
INI

start_run flow.ini
running() { [ "$(sql "SELECT status FROM agents WHERE name = 'a'")" = running ]; }
wait_until 30 running
kill -9 "$SUP"
wait_run
expect_rc 137

# The stray: a worker of this state dir (its agent runs a child of its own
# in the agent's group), and one of another state dir. Their parent is this
# shell, alive all along: nothing but the supervisor stops them.
mkdir -p "$T/other/.smithers/logs/agents/1"
"$WORKER" --log "$T/.smithers/logs/agents/1/lost.log" -- \
	/bin/sh -c 'sleep 300 & exec sleep 301' 3</dev/null 4</dev/null 5>/dev/null &
STRAY=$!
"$WORKER" --log "$T/other/.smithers/logs/agents/1/b.log" -- \
	/bin/sh -c 'exec sleep 302' 3</dev/null 4</dev/null 5>/dev/null &
OTHER=$!
BG_PIDS="$BG_PIDS $STRAY $OTHER"
agent_of() { pgrep -P "$1" | head -n 1; }
wait_until 10 agent_of "$STRAY"
wait_until 10 agent_of "$OTHER"
agent=$(agent_of "$STRAY")
other_agent=$(agent_of "$OTHER")
child_of_agent() { pgrep -P "$agent" | head -n 1; }
wait_until 10 child_of_agent
grandchild=$(child_of_agent)

touch "$T/go"
run "$SMITHERS" --dir "$T" run flow.ini
expect_rc 0
err_has "killed worker $STRAY (log '$T/.smithers/logs/agents/1/lost.log') and its agent, left unrecorded by a supervisor that died"
! alive "$STRAY" || fail "the stray worker is alive"
! alive "$agent" || fail "the stray worker's agent is alive"
! alive "$grandchild" || fail "the stray agent's child is alive"
alive "$OTHER" || fail "the worker of another state dir was killed"
alive "$other_agent" || fail "the agent of another state dir was killed"
err_has "resuming execution 1 of 'strays'"
sql_is "SELECT status FROM executions" "completed"
