#!/bin/sh
# No orphans, ever: an agent starts a grandchild that ignores SIGTERM. It is
# gone after the agent is stopped, after the agent's own exit, and within one
# second of a SIGKILL of the supervisor.
. "$top_srcdir/tests/integration/lib.sh"

flow() {
	cat >flow.ini <<INI
[phase work]
[agent parent]
phase = work
command = $AGENT grandchild $T/gc.pid $1
restart = never
stop_grace = 200ms
INI
	rm -f "$T/gc.pid"
}

gc_gone() {
	! alive "$(cat "$T/gc.pid")"
}

# 1. The agent exits by itself: its worker kills the rest of its group.
flow exit
run "$SMITHERS" --dir "$T" run flow.ini
expect_rc 0
[ -f "$T/gc.pid" ] || fail "no grandchild was started"
wait_until 1 gc_gone

# 2. The agent is stopped (the supervisor gets SIGTERM).
flow sleep
start_run flow.ini
wait_until 20 test -f "$T/gc.pid"
alive "$(cat "$T/gc.pid")" || fail "the grandchild did not start"
kill -TERM "$SUP"
wait_run
expect_rc 143
wait_until 1 gc_gone

# 3. The supervisor is SIGKILLed: the workers kill their agents' groups.
flow sleep
start_run flow.ini
wait_until 20 test -f "$T/gc.pid"
kill -9 "$SUP"
wait_run
wait_until 1 gc_gone
