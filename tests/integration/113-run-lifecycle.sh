#!/bin/sh
# max_parallel bounds how many agents run at once; the execution's heartbeat
# is never more than about a second old while it runs; SIGHUP reopens the
# supervisor's log (for logrotate).
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
heartbeat_fresh() {
	"$PYTHON" - "$T/.smithers/smithers.db" <<'PY'
import datetime, sqlite3, sys
con = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
beat = con.execute("SELECT heartbeat_at FROM executions").fetchone()[0]
beat = datetime.datetime.strptime(beat, "%Y-%m-%dT%H:%M:%S.%fZ")
age = (datetime.datetime.utcnow() - beat).total_seconds()
sys.exit(0 if age < 1.6 else "heartbeat is %.1f s old" % age)
PY
}
for i in 1 2 3 4; do
	sleep 0.5
	heartbeat_fresh || fail "stale heartbeat"
done
mv "$T/.smithers/supervisor.log" "$T/.smithers/supervisor.log.1"
kill -HUP "$SUP"
wait_until 5 grep -q "log files reopened" "$T/.smithers/supervisor.log"
wait_run
expect_rc 0
grep -q "execution 1 completed" "$T/.smithers/supervisor.log" ||
	fail "the reopened log lacks the end of the run"
