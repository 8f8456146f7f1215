#!/bin/sh
# A smithers-worker SIGKILLed under its agent: the supervisor, the agent's
# subreaper, kills what is left of the agent's group (a grandchild that
# ignores SIGTERM included) and applies the restart policy.
. "$top_srcdir/tests/integration/lib.sh"

cat >flow.ini <<INI
[phase work]
[agent victim]
phase = work
command = $AGENT grandchild $T/gc.pid sleep
restart = on-failure
max_restarts = 1
backoff = 0..0
INI

start_run flow.ini
wait_until 20 test -f "$T/gc.pid"
gc=$(cat "$T/gc.pid")
worker=$(sed -n "s/.*agent 'victim' started (attempt 1, worker \([0-9]*\)).*/\1/p" \
	"$T/.sup.err")
[ -n "$worker" ] || fail "no worker pid in the log"
rm "$T/gc.pid"
kill -9 "$worker"
gc_gone() { ! alive "$gc"; }
wait_until 1 gc_gone
# The restart runs a new grandchild; stop the whole run then.
wait_until 20 test -f "$T/gc.pid"
kill -TERM "$SUP"
wait_run
expect_rc 143
grep -q "agent 'victim' ended: killed by signal 9" "$T/.sup.err" ||
	fail "the worker's death was not reported"
grep -q "agent 'victim' started (attempt 2" "$T/.sup.err" ||
	fail "the agent was not restarted"
gc=$(cat "$T/gc.pid")
wait_until 1 gc_gone
