#!/bin/sh
# A restart with no backoff is run by the worker of the attempt that ended
# (it waits for it, --await): the agent's parent is the same worker at each
# attempt, yet each attempt has its own token, attempt number, protocol
# pipes (what each sends is committed and acked) and cgroup, and a stop
# reaches the attempt the worker runs now. A worker the supervisor signalled
# (a timeout) is not reused, nor is one whose restart waits for a backoff;
# none of them outlives the run.
. "$top_srcdir/tests/integration/lib.sh"

# Each attempt notes its parent, number, token and v2 cgroup, then sets
# three keys of its own through the protocol; attempts before the third
# fail, the third sleeps when told to (a file), else succeeds.
cat >agent.sh <<SH
echo "\$PPID \$SMITHERS_ATTEMPT \$SMITHERS_TOKEN \$(grep '^0::' /proc/self/cgroup)" >>"\$1"
$AGENT set "k\$SMITHERS_ATTEMPT" 3 || exit 9
[ "\$SMITHERS_ATTEMPT" -ge 3 ] || exit 1
if [ -e "$T/sleep" ]; then
	echo \$\$ >"$T/sleeper"
	exec sleep 300
fi
exit 0
SH
cat >flow.ini <<INI
[workflow]
[phase work]
[agent a]
phase = work
command = sh $T/agent.sh $T/starts
restart = on-failure
backoff = 0..0
startsecs = 0
max_restarts = 5
INI

run "$SMITHERS" --dir "$T" run flow.ini
expect_rc 0
sql_is "SELECT status, attempt FROM agents" "completed|3"
# Every attempt's changes went through its own pipes, and were committed.
sql_is "SELECT count(*) FROM state WHERE key GLOB 'k[123].*'" 9
"$PYTHON" - "$T/starts" <<'PY' || fail "attempts: $(cat "$T/starts")"
import sys
rows = [l.split(" ", 3) for l in open(sys.argv[1]).read().splitlines()]
assert [r[1] for r in rows] == ["1", "2", "3"], rows
# One worker ran them all.
assert len({r[0] for r in rows}) == 1, rows
# A token of its own each.
assert len({r[2] for r in rows}) == 3, rows
# In smithers' cgroups, a cgroup of its own each.
cgs = [r[3] if len(r) > 3 else "" for r in rows]
if all("smithers-" in c for c in cgs):
    assert len(set(cgs)) == 3, cgs
    print("cgroups", cgs)
PY
worker=$(head -n 1 starts | cut -d' ' -f1)
sql_is "SELECT worker_pid FROM agents" "$worker"
err_has "agent 'a' started (attempt 3, worker $worker)"
if pgrep -f "smithers-worker.*$T/" >/dev/null; then
	fail "a worker outlived the run: $(pgrep -af "smithers-worker.*$T/")"
fi

# A stop reaches the attempt a reused worker runs: the third sleeps until
# the supervisor is told to stop, and is cancelled by its stop signal.
rm -f starts
touch sleep
start_run flow.ini
wait_until 20 test -s sleeper
sleeper=$(cat sleeper)
kill -TERM "$SUP"
wait_run
[ "$rc" -eq 143 ] || fail "the stopped run exited $rc: $(cat "$T/.sup.err")"
grep -q "agent 'a' ended: killed by signal 15" "$T/.sup.err" ||
	fail "the sleeping attempt was not stopped by SIGTERM: $(cat "$T/.sup.err")"
! alive "$sleeper" || fail "the stopped attempt $sleeper is alive"
[ "$(cut -d' ' -f1 starts | sort -u | wc -l)" -eq 1 ] ||
	fail "the attempts had different workers: $(cat starts)"
rm -f sleep

# A timeout: the worker was sent a stop, so the next attempt gets a new one.
# A backoff: the worker is let go at once, a new one runs the restart.
cat >slow.sh <<SH
echo "\$PPID \$SMITHERS_ATTEMPT" >>"\$1"
[ "\$SMITHERS_ATTEMPT" -ge 2 ] && exit 0
exec sleep 300
SH
cat >late.sh <<SH
echo "\$PPID \$SMITHERS_ATTEMPT" >>"\$1"
[ "\$SMITHERS_ATTEMPT" -ge 2 ] && exit 0
exit 1
SH
cat >others.ini <<INI
[workflow]
[phase work]
[agent slow]
phase = work
command = sh $T/slow.sh $T/slow
timeout = 300ms
stop_grace = 200ms
restart = on-failure
backoff = 0..0
max_restarts = 1
[agent late]
phase = work
command = sh $T/late.sh $T/late
restart = on-failure
backoff = 100ms..100ms
max_restarts = 1
INI
mkdir three
run "$SMITHERS" --dir "$T/three" run others.ini
expect_rc 0
for f in slow late; do
	[ "$(wc -l <"$f")" -eq 2 ] || fail "$f: $(cat "$f")"
	[ "$(cut -d' ' -f1 "$f" | sort -u | wc -l)" -eq 2 ] ||
		fail "$f: one worker ran both attempts: $(cat "$f")"
done
if pgrep -f "smithers-worker.*$T/" >/dev/null; then
	fail "a worker outlived the run: $(pgrep -af "smithers-worker.*$T/")"
fi
