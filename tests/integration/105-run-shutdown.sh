#!/bin/sh
# SIGTERM to the supervisor: every agent's group is signalled, what they
# sent is committed, the execution is cancelled, exit 143; nothing is left.
# SIGINT does the same with 130.
. "$top_srcdir/tests/integration/lib.sh"

cat >flow.ini <<INI
[phase work]
INI
for i in 1 2 3; do
	cat >>flow.ini <<INI
[agent s$i]
phase = work
command = $AGENT set s$i 5 && exec sleep 60
INI
done

running3() {
	[ "$(sql "SELECT count(*) FROM state")" = 15 ] &&
		[ "$(sql "SELECT count(*) FROM agents WHERE pid IS NOT NULL")" = 3 ]
}

for sig in TERM INT; do
	rm -rf "$T/.smithers"
	start_run flow.ini
	wait_until 20 running3
	pids=$(sql "SELECT pid FROM agents")
	kill -$sig "$SUP"
	wait_run
	if [ $sig = TERM ]; then want=143; else want=130; fi
	expect_rc $want
	sql_is "SELECT status FROM executions" "cancelled"
	sql_is "SELECT DISTINCT status FROM agents" "cancelled"
	sql_is "SELECT count(*) FROM state" "15"
	for pid in $pids; do
		! alive "$pid" || fail "agent $pid outlived the shutdown"
	done
	grep -q "stopping" "$T/.sup.err" || fail "no word of stopping"
done
