#!/bin/sh
# Acked means committed: agents write state one change at a time and, after
# each ack, append the seq to an fsync'd side file. The supervisor is
# SIGKILLed in the middle; every seq in a side file must be in the database.
. "$top_srcdir/tests/integration/lib.sh"

cat >flow.ini <<INI
[phase work]
INI
for i in 1 2 3 4; do
	cat >>flow.ini <<INI
[agent w$i]
phase = work
command = $AGENT acklog $T/acked.w$i 1000000
restart = never
INI
done

no_agents_left() { ! pgrep -f "agent.py acklog $T" >/dev/null; }

# lines_ge FILE N: FILE has at least N lines.
lines_ge() {
	[ -f "$1" ] && [ "$(wc -l <"$1")" -ge "$2" ]
}

for round in 1 2 3; do
	rm -f "$T"/acked.*
	# Each round a new execution: the killed one is marked interrupted
	# (resuming is tests/crash's and 117-run-resume's).
	start_run flow.ini --no-resume
	for i in 1 2 3 4; do
		wait_until 20 lines_ge "$T/acked.w$i" $((round * 20))
	done
	kill -9 "$SUP"
	wait_run
	expect_rc 137
	# The workers take their agents with them.
	sleep 0.5
	check_acked "$T/.smithers/smithers.db" "$round" "$T"/acked.w*
	# No agent of the killed run is left (in a moment: their workers
	# see the supervisor gone and stop them).
	wait_until 10 no_agents_left
	# The next round starts a new execution over the old one's state,
	# replacing the socket the killed supervisor left behind.
	sql_is "SELECT count(*) FROM executions WHERE status = 'interrupted'" \
		$((round - 1))
done
