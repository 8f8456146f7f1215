#!/bin/sh
# A restart with no backoff starts the replacement in the turn the agent
# ended, before that turn's commit: SIGKILLed right after the replacement
# started (failpoint restart-before-commit), the supervisor leaves a store
# that still says attempt 1 runs; the next supervisor stops the orphaned
# worker and its agent and runs the agent to its end.
#
# And the supervisor does not spin while a worker that closed its control
# pipe has not been reaped yet: a worker (SMITHERS_WORKER) that closes fd 5
# and then lives 2 s more costs the supervisor next to no CPU over one of
# those seconds (it read the pipe's end in a loop until the worker was
# reaped: a whole core).
#
# And smithers-worker is linked statically (no dynamic loader at each
# start) unless the build is sanitized (configure --disable-static-worker).
. "$top_srcdir/tests/integration/lib.sh"

# The agent: the first start fails at once, the second one runs until it
# is stopped, every later one succeeds.
cat >agent.sh <<'SH'
echo $$ >>"$1/starts"
case $(wc -l <"$1/starts") in
1) exit 3 ;;
2) exec sleep 300 ;;
esac
exit 0
SH
cat >flow.ini <<INI
[workflow]
[phase work]
[agent a]
phase = work
command = sh $T/agent.sh $T
restart = on-failure
backoff = 0..0
startsecs = 0
max_restarts = 5
stop_grace = 200ms
INI

if [ "${failpoints:-no}" = yes ]; then
	# run() fails a run killed by a signal: this one must be.
	set +e
	SMITHERS_FAILPOINT=restart-before-commit \
		"$SMITHERS" --dir "$T" run flow.ini >"$OUT" 2>"$ERR"
	rc=$?
	set -e
	LAST="smithers run (failpoint restart-before-commit)"
	expect_rc 137
	err_has "failpoint restart-before-commit reached"
	err_has "agent 'a' restarts in 0 ms (attempt 2)"
	err_has "agent 'a' started (attempt 2,"
	# The end of attempt 1 and the start of attempt 2 were not committed.
	sql_is "SELECT status, attempt FROM agents" "running|1"
	run "$SMITHERS" --dir "$T" run flow.ini
	expect_rc 0
	sql_is "SELECT status FROM executions" "completed"
	sql_is "SELECT status FROM agents" "completed"
	# Every process of the dead supervisor's generation is gone.
	for pid in $(cat starts); do
		! alive "$pid" || fail "agent $pid of an earlier start is alive"
	done
	if pgrep -f "smithers-worker.*$T/" >/dev/null; then
		fail "a worker of the dead supervisor is alive"
	fi
else
	echo "no failpoints in this build: the crash half is not run"
fi

# A worker that closes its control pipe, then lives 2 s more.
cat >worker.sh <<'SH'
#!/bin/sh
exec 5>&-
sleep 2
exit 0
SH
chmod +x worker.sh
cat >flow2.ini <<INI
[workflow]
[phase work]
[agent b]
phase = work
command = true
INI
mkdir two
# The supervisor's own CPU (not its children's, not its start-up's, which
# under ASan is half a second) is sampled from /proc over a second of the
# worker's life after its start: a spin costs most of a core.
SMITHERS_WORKER=$T/worker.sh "$SMITHERS" --dir "$T/two" run "$T/flow2.ini" \
	>/dev/null 2>"$T/two.err" &
two=$!
BG_PIDS="$BG_PIDS $two"
wait_until 30 grep -q "agent 'b' started" "$T/two.err"
c0=$(cpu_ms "$two")
sleep 1 # a window to measure CPU time in, not a condition
c1=$(cpu_ms "$two")
wait "$two" || fail "smithers run of flow2.ini failed: $(cat "$T/two.err")"
cat "$T/two.err"
echo "CPU of the supervisor in 1 s while its worker ran on: $((c1 - c0)) ms"
[ $((c1 - c0)) -lt 200 ] ||
	fail "the supervisor spun while its worker ran on ($((c1 - c0)) ms in 1 s)"

# The worker is started by vfork with every signal blocked: its agent
# still starts with none blocked and none of the standard ones (1 to 31)
# ignored, even when the supervisor was started with SIGPIPE and SIGHUP
# ignored. (What caught signals grep has is grep's own.)
cat >flow3.ini <<INI
[workflow]
[phase work]
[agent c]
phase = work
command = exec grep -E "^Sig(Blk|Ign)" /proc/self/status
INI
mkdir three
(trap '' PIPE HUP && exec "$SMITHERS" --dir "$T/three" run flow3.ini) \
	>"$OUT" 2>"$ERR" || fail "the signals' run failed"
log="$T/three/.smithers/logs/c.log"
[ -f "$log" ] || log=$(find "$T/three/.smithers" -name 'c.log' | head -n 1)
"$PYTHON" - "$log" <<'PY' || fail "the agent started with $(cat "$log")"
import sys
sig = dict(l.split(":") for l in open(sys.argv[1]).read().split("\n") if l)
assert int(sig["SigBlk"], 16) == 0
assert int(sig["SigIgn"], 16) & 0x7FFFFFFF == 0
PY

# The worker: static where configure made it so, dynamic where not.
worker="$top_builddir/worker/smithers-worker"
if [ "${worker_ldflags:-}" = -all-static ]; then
	if ldd "$worker" >/dev/null 2>&1; then
		fail "smithers-worker is not static: $(ldd "$worker" | head -n 3)"
	fi
else
	ldd "$worker" >/dev/null 2>&1 ||
		fail "smithers-worker is static in a build that did not ask for it"
fi
