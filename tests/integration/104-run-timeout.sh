#!/bin/sh
# timeout: a hung agent gets its stop signal, then SIGKILL after stop_grace;
# it fails with the reason on its row, and nothing of it is left.
. "$top_srcdir/tests/integration/lib.sh"

cat >flow.ini <<INI
[phase work]
[agent hung]
phase = work
command = trap '' TERM; echo \$\$ >$T/hung.pid; exec sleep 60
timeout = 300ms
stop_grace = 300ms
restart = never
INI

start=$(date +%s)
run "$SMITHERS" --dir "$T" run flow.ini
expect_rc 1
[ $(($(date +%s) - start)) -lt 10 ] || fail "the timeout took too long"
# It ignored SIGTERM, so SIGKILL ended it.
sql_is "SELECT status, error, exit_signal FROM agents" \
	"failed|timed out after 300 ms|9"
pid=$(cat "$T/hung.pid")
! alive "$pid" || fail "the hung agent is still alive"
