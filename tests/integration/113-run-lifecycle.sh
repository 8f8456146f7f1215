#!/bin/sh
# max_parallel bounds how many agents run at once; an idle run writes
# nothing to its store (the execution's heartbeat rides the commits that
# happen anyway); SIGHUP reopens the supervisor's log (for logrotate).
. "$top_srcdir/tests/integration/lib.sh"

cat >flow.ini <<INI
[workflow]
max_parallel = 2
[phase work]
INI
for i in 1 2 3 4 5 6; do
	cat >>flow.ini <<INI
[agent p$i]
phase = work
command = exec $AGENT sleep 0.3
INI
done
run "$SMITHERS" --dir "$T" run flow.ini
expect_rc 0
sql_is "SELECT count(*) FROM agents WHERE status = 'completed'" "6"
# Replay the log's starts and ends: never more than 2 at once.
awk '/agent .p[0-9]. started/ { n++; if (n > max) max = n }
	/agent .p[0-9]. ended/ { n-- }
	END { print max }' "$T/.smithers/supervisor.log" >max.txt
[ "$(cat max.txt)" = 2 ] || fail "$(cat max.txt) agents ran at once, not 2"

# Heartbeat and SIGHUP on a run that lasts a few seconds.
rm -rf "$T/.smithers"
cat >flow.ini <<INI
[phase work]
[agent slow]
phase = work
command = exec $AGENT sleep 3
INI
start_run flow.ini
wait_until 20 test -S "$T/.smithers/supervisor.sock"
sql_has_pid() { [ "$(sql "SELECT count(*) FROM agents WHERE pid > 0")" = 1 ]; }
# The agent idles: once its start is committed (and checkpointed), the
# store is not written (no heartbeat, no fdatasync) while nothing changes.
files() {
	for f in smithers.db smithers.db-wal; do
		stat -c '%s %Y.%y' "$T/.smithers/$f" 2>/dev/null || echo none
	done
}
wait_until 20 sql_has_pid
sleep 0.5
before=$(files)
sleep 1.5
[ "$(files)" = "$before" ] ||
	fail "an idle run wrote to its store: $before / $(files)"
# Its heartbeat is the time of its last commit.
sql_is "SELECT heartbeat_at IS NOT NULL FROM executions" "1"
mv "$T/.smithers/supervisor.log" "$T/.smithers/supervisor.log.1"
kill -HUP "$SUP"
wait_until 5 grep -q "log files reopened" "$T/.smithers/supervisor.log"
wait_run
expect_rc 0
grep -q "execution 1 completed" "$T/.smithers/supervisor.log" ||
	fail "the reopened log lacks the end of the run"
