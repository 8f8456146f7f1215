#!/bin/sh
# Faults of agents, of workers and of the system, each beside a healthy
# witness that writes state throughout and must complete with every write.
# For each fault: the agent's row (status, attempt, exit code or signal,
# error), the line in .smithers/supervisor.log, and no process of the agent
# left (found by its environment: SMITHERS_DIR and SMITHERS_AGENT).
#
# 1. One workflow: segfault, abort, non-zero exit, a hang past its timeout,
#    an agent that closes its pipes and runs on, exec failures (a command
#    not found, a cwd that does not exist), its smithers-worker SIGKILLed,
#    a tree of grandchildren that ignore SIGTERM.
# 2. fork() of a worker, then of an agent by its worker, failing for
#    RLIMIT_NPROC (run as an unprivileged uid of its own, so that the count
#    is only ours; root ignores the limit).
# 3. The supervisor out of file descriptors: spawns, accepts, and a spawn
#    with just enough for its pipes.
. "$top_srcdir/tests/integration/lib.sh"

# The supervisor gives its agents the real path of the project dir.
T=$(cd "$T" && pwd -P)

# On failure, the end of each run's log too.
fail() {
	echo "FAIL: $*" >&2
	for log in "$T/.sup.err" "$T"/.smithers/supervisor.log \
		"$T"/*/.smithers/supervisor.log; do
		[ -f "$log" ] || continue
		echo "--- $log:" >&2
		tail -n 40 "$log" >&2
	done
	exit 1
}

# sql_in DIR SQL: like sql, on the database of DIR, read as the owner of DIR.
# (A reader running as root that found no WAL would make it and its index,
# owned by root until SQLite hands them to the database's owner a moment
# later: a supervisor of another uid opening it then could not.)
sql_in() {
	owner=$(stat -c %u "$1")
	as_owner=
	if [ "$owner" != "$(id -u)" ]; then
		as_owner="setpriv --reuid=$owner --regid=$owner --clear-groups"
	fi
	$as_owner "$PYTHON" - "$1/.smithers/smithers.db" "$2" <<'PY'
import sqlite3, sys
con = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
for row in con.execute(sys.argv[2]):
    print("|".join("" if v is None else str(v) for v in row))
PY
}

sql_in_is() {
	got=$(sql_in "$1" "$2") || fail "sql failed: $2"
	[ "$got" = "$3" ] || fail "'$2' gave '$got', not '$3'"
}

# log_has DIR TEXT: the supervisor log of DIR has a line with TEXT.
log_has() {
	grep -qF -- "$2" "$1/.smithers/supervisor.log" ||
		fail "no '$2' in $1/.smithers/supervisor.log"
}

# log_count DIR TEXT: how many lines of that log have TEXT.
log_count() {
	grep -cF -- "$2" "$1/.smithers/supervisor.log" || :
}

# survivors DIR [AGENT]: the live processes (zombies are dead) whose
# environment has SMITHERS_DIR=DIR (and SMITHERS_AGENT=AGENT): a worker
# or anything its agent started, whatever its process group.
survivors() {
	"$PYTHON" - "$@" <<'PY'
import os, sys
want = {b"SMITHERS_DIR=" + sys.argv[1].encode()}
if len(sys.argv) > 2:
    want.add(b"SMITHERS_AGENT=" + sys.argv[2].encode())
for pid in os.listdir("/proc"):
    if not pid.isdigit():
        continue
    try:
        with open("/proc/%s/environ" % pid, "rb") as f:
            env = set(f.read().split(b"\0"))
        with open("/proc/%s/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        continue
    if want <= env and state != "Z":
        print(pid)
PY
}

none_left() {
	[ -z "$(survivors "$@")" ]
}

# expect_none_left DIR AGENT: within 10 s, nothing of AGENT runs.
expect_none_left() {
	wait_until 10 none_left "$@"
}

# final DIR AGENT: the agent's row says it ended for good.
final() {
	case "$(sql_in "$1" "SELECT status FROM agents WHERE name = '$2'")" in
	completed | failed | cancelled) return 0 ;;
	esac
	return 1
}

# has_key DIR KEY: the state of DIR has KEY.
has_key() {
	[ -n "$(sql_in "$1" "SELECT 1 FROM state WHERE key = '$2'")" ]
}

# soft_limit PID NAME [VALUE]: print the soft limit NAME (NPROC, NOFILE;
# -1: none) of PID, or set it to VALUE, its hard limit unchanged.
LIMIT_PY='
import resource, sys
pid, res = int(sys.argv[1]), getattr(resource, "RLIMIT_" + sys.argv[2])
soft, hard = resource.prlimit(pid, res)
if len(sys.argv) > 3:
    resource.prlimit(pid, res, (int(sys.argv[3]), hard))
else:
    print(soft)
'
soft_limit() {
	"$PYTHON" -c "$LIMIT_PY" "$@"
}

# tasks_of UID: how many tasks (threads) of real uid UID there are, what
# RLIMIT_NPROC counts.
tasks_of() {
	"$PYTHON" -c '
import os, sys
n = 0
for pid in os.listdir("/proc"):
    if not pid.isdigit():
        continue
    try:
        for tid in os.listdir("/proc/%s/task" % pid):
            with open("/proc/%s/task/%s/status" % (pid, tid)) as f:
                uid = [l.split()[1] for l in f if l.startswith("Uid:")]
            n += uid == [sys.argv[1]]
    except OSError:
        pass
print(n)' "$1"
}

# witness_ok DIR: the witness completed at its first attempt, and each of
# the writes it made (w.0 ... w.N-1, N in w.count) is there, once.
witness_ok() {
	sql_in_is "$1" "SELECT status, attempt, error FROM agents
		WHERE name = 'witness'" "completed|1|"
	n=$(sql_in "$1" "SELECT value FROM state WHERE key = 'w.count'")
	[ "${n:-0}" -ge 10 ] || fail "the witness wrote ${n:-nothing}"
	sql_in_is "$1" "SELECT count(*), max(CAST(substr(key, 3) AS INTEGER))
		FROM state WHERE key GLOB 'w.[0-9]*'" "$n|$((n - 1))"
	sql_in_is "$1" "SELECT count(*) FROM transitions
		WHERE key GLOB 'w.[0-9]*'" "$n"
	[ "$(log_count "$1" "agent 'witness' ended")" = 1 ] ||
		fail "the witness ended more than once"
	log_has "$1" "agent 'witness' ended: exited with status 0"
}

# ---- 1. agents and workers ---------------------------------------------------
cat >flow.ini <<INI
[phase work]
on_failure = continue

[agent witness]
phase = work
command = exec $AGENT witness w $T/stop

[agent segv]
phase = work
command = ulimit -c 0; exec $PYTHON -c 'import ctypes; ctypes.string_at(0)'
restart = on-failure
max_restarts = 1
backoff = 0..0

[agent abort]
phase = work
command = ulimit -c 0; exec $PYTHON -c 'import os; os.abort()'
restart = never

[agent exit]
phase = work
command = exit 3
restart = on-failure
max_restarts = 2
backoff = 100ms..200ms

[agent hang]
phase = work
command = trap '' TERM; exec sleep 600
timeout = 1s
stop_grace = 300ms
restart = never

[agent mute]
phase = work
command = exec 1>&- 2>&- 3>&- 4>&-
	: >$T/mute.closed
	while [ ! -e $T/mute.go ]; do sleep 0.05; done
	exit 7
restart = never

[agent ghost]
phase = work
command = /nonexistent/agent --flag
restart = on-failure
max_restarts = 1
backoff = 0..0

[agent nocwd]
phase = work
command = true
cwd = $T/missing
restart = never

[agent wkill]
phase = work
command = [ "\$SMITHERS_ATTEMPT" != 1 ] ||
	exec $AGENT grandchild $T/wkill.gc sleep
restart = on-failure
max_restarts = 1
backoff = 0..0

[agent tree]
phase = work
command = exec $AGENT tree $T/tree.pids
timeout = 5s
stop_grace = 300ms
restart = never
INI

start_run flow.ini
wait_until 30 has_key "$T" w.0

# The worker of wkill SIGKILLed: we, its subreaper, kill the agent's group
# (a grandchild that ignores SIGTERM included); the policy restarts it.
wait_until 30 test -s "$T/wkill.gc"
gc=$(cat "$T/wkill.gc")
worker=$(sed -n "s/.*agent 'wkill' started (attempt 1, worker \([0-9]*\)).*/\1/p" \
	"$T/.smithers/supervisor.log")
[ -n "$worker" ] || fail "no worker pid for wkill in the log"
kill -9 "$worker"
gc_gone() { ! alive "$gc"; }
wait_until 10 gc_gone

for a in segv abort exit ghost nocwd wkill; do
	wait_until 60 final "$T" "$a"
	expect_none_left "$T" "$a"
done

# mute closed every pipe it had and runs on: still running, and neither the
# supervisor nor its worker spins on the end of its pipes.
wait_until 30 test -e "$T/mute.closed"
mute_worker=$(sed -n "s/.*agent 'mute' started (attempt 1, worker \([0-9]*\)).*/\1/p" \
	"$T/.smithers/supervisor.log")
sup0=$(cpu_ms "$SUP")
wk0=$(cpu_ms "$mute_worker")
sleep 2 # a window to measure CPU time in, not a condition
sup1=$(cpu_ms "$SUP")
wk1=$(cpu_ms "$mute_worker")
echo "CPU in 2 s beside mute: supervisor $((sup1 - sup0)) ms, worker $((wk1 - wk0)) ms"
[ $((sup1 - sup0)) -lt 600 ] || fail "the supervisor used $((sup1 - sup0)) ms of CPU in 2 s"
[ $((wk1 - wk0)) -lt 300 ] || fail "mute's worker used $((wk1 - wk0)) ms of CPU in 2 s"
sql_is "SELECT status FROM agents WHERE name = 'mute'" "running"
[ -n "$(survivors "$T" mute)" ] || fail "mute is not running any more"
: >"$T/mute.go"

for a in hang mute tree; do
	wait_until 60 final "$T" "$a"
	expect_none_left "$T" "$a"
done
[ "$(wc -l <"$T/tree.pids")" = 7 ] || fail "the tree did not grow: $(cat "$T/tree.pids")"
for pid in $(cat "$T/tree.pids"); do
	! alive "$pid" || fail "process $pid of the tree is alive"
done

: >"$T/stop"
wait_run
expect_rc 1
expect_none_left "$T"

sql_is "SELECT name, status, attempt, exit_code, exit_signal, error
	FROM agents ORDER BY id" \
"witness|completed|1|0||
segv|failed|2||11|killed by signal 11 (Segmentation fault)
abort|failed|1||6|killed by signal 6 (Aborted)
exit|failed|3|3||exited with status 3
hang|failed|1||9|timed out after 1000 ms
mute|failed|1|7||exited with status 7
ghost|failed|2|127||cannot run '/nonexistent/agent' in '$T': No such file or directory
nocwd|failed|1|127||cannot run 'true' in '$T/missing': No such file or directory
wkill|completed|2|0||
tree|failed|1||9|timed out after 5000 ms"
witness_ok "$T"

log_has "$T" "agent 'segv' ended: killed by signal 11 (Segmentation fault)"
log_has "$T" "agent 'segv' restarts in 0 ms (attempt 2)"
log_has "$T" "agent 'segv' failed 2 times: giving up"
log_has "$T" "agent 'abort' ended: killed by signal 6 (Aborted)"
log_has "$T" "agent 'exit' ended: exited with status 3"
log_has "$T" "agent 'exit' restarts in 100 ms (attempt 2)"
log_has "$T" "agent 'exit' restarts in 200 ms (attempt 3)"
log_has "$T" "agent 'exit' failed 3 times: giving up"
log_has "$T" "stopping agent 'hang': timeout"
log_has "$T" "agent 'hang' ended: timed out after 1000 ms"
log_has "$T" "agent 'mute' ended: exited with status 7"
log_has "$T" "agent 'ghost' ended: cannot run '/nonexistent/agent' in '$T': No such file or directory"
log_has "$T" "agent 'nocwd': worker: cannot run 'true' in '$T/missing': No such file or directory"
log_has "$T" "agent 'nocwd' ended: cannot run 'true' in '$T/missing'"
log_has "$T" "agent 'wkill' ended: killed by signal 9 (Killed)"
log_has "$T" "agent 'wkill' started (attempt 2"
log_has "$T" "stopping agent 'tree': timeout"
log_has "$T" "agent 'tree' ended: timed out after 5000 ms"
log_has "$T" "phase 'work' iteration 0 failed"

# ---- 2. fork() fails: RLIMIT_NPROC ------------------------------------------
# The supervisor runs as a uid of its own (3000000 + our pid: no one else's)
# so that the kernel counts only its processes, with max_parallel 2 so that
# 'forker' and 'giveup' start once 'gate' ends: after the test lowers the
# supervisor's soft RLIMIT_NPROC to 1. A start that fails so is retried after
# the backoff, whatever the restart policy, as an attempt toward
# max_restarts. Then the limit lets the worker be forked but not the agent:
# the same. 'forker' starts once the limit is back.
B=$T/b
U=$((3000000 + $$))
as_u() { setpriv --reuid="$U" --regid="$U" --clear-groups "$@"; }
mkdir "$B"
if [ "$(id -u)" = 0 ]; then
	chown "$U:$U" "$B"
	chmod 711 "$T"
fi
if [ "$(id -u)" != 0 ] || ! as_u "$SMITHERS" --version >/dev/null 2>&1 ||
	! as_u test -r "$top_srcdir/tests/integration/agent.py"; then
	echo "not root, no setpriv, or the build is out of reach of uid $U:" \
		"RLIMIT_NPROC not tested"
else
	cat >"$B/flow.ini" <<INI
[workflow]
max_parallel = 2

[phase work]
on_failure = continue

[agent witness]
phase = work
command = exec $AGENT witness w $B/stop

[agent gate]
phase = work
command = exec $AGENT wait $B/gate

[agent forker]
phase = work
command = exec $AGENT set forker 3
restart = never
max_restarts = 100
backoff = 100ms..400ms

[agent giveup]
phase = work
command = exec $AGENT set giveup 3
restart = never
max_restarts = 1
backoff = 100ms
INI
	# A sanitized worker's leak check at exit needs one process more
	# (LeakSanitizer's tracer): none for the workers that end at the limit.
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
		setpriv --reuid="$U" --regid="$U" --clear-groups \
		"$SMITHERS" --dir "$B" run "$B/flow.ini" >"$T/.sup.out" 2>"$T/.sup.err" &
	SUP=$!
	BG_PIDS="$BG_PIDS $SUP"
	two_running() {
		[ "$(sql_in "$B" "SELECT count(*) FROM agents
			WHERE status = 'running' AND pid IS NOT NULL")" = 2 ]
	}
	wait_until 30 two_running
	wait_until 30 has_key "$B" w.1
	nproc=$(as_u "$PYTHON" -c "$LIMIT_PY" "$SUP" NPROC)
	as_u "$PYTHON" -c "$LIMIT_PY" "$SUP" NPROC 1
	: >"$B/gate"
	wait_until 30 final "$B" giveup
	forker_failed() {
		[ "$(log_count "$B" "agent 'forker': cannot fork the worker")" -ge 3 ]
	}
	wait_until 30 forker_failed
	sql_in_is "$B" "SELECT status, error FROM agents WHERE name = 'forker'" \
		"restarting|cannot fork the worker: Resource temporarily unavailable"
	log_has "$B" "agent 'forker': cannot fork the worker: Resource temporarily unavailable; retrying in 100 ms (attempt 2)"
	log_has "$B" "agent 'forker': cannot fork the worker: Resource temporarily unavailable; retrying in 200 ms (attempt 3)"
	log_has "$B" "agent 'forker': cannot fork the worker: Resource temporarily unavailable; retrying in 400 ms (attempt 4)"
	log_has "$B" "agent 'giveup': cannot fork the worker: Resource temporarily unavailable; retrying in 100 ms (attempt 2)"
	log_has "$B" "agent 'giveup': cannot fork the worker: Resource temporarily unavailable; giving up after 2 attempts"

	# One process more: the worker forks, its own fork of the agent fails.
	as_u "$PYTHON" -c "$LIMIT_PY" "$SUP" NPROC $(($(tasks_of "$U") + 1))
	worker_failed() {
		grep -q "agent 'forker': cannot fork the agent: Resource temporarily unavailable; retrying in" \
			"$B/.smithers/supervisor.log"
	}
	wait_until 30 worker_failed
	log_has "$B" "agent 'forker': worker: cannot fork the agent: Resource temporarily unavailable"
	sql_in_is "$B" "SELECT status, exit_code, error FROM agents WHERE name = 'forker'" \
		"restarting|127|cannot fork the agent: Resource temporarily unavailable"
	as_u "$PYTHON" -c "$LIMIT_PY" "$SUP" NPROC "$nproc"
	wait_until 30 final "$B" forker
	: >"$B/stop"
	wait_run
	expect_rc 1
	expect_none_left "$B"
	tries=$(log_count "$B" "agent 'forker': cannot fork the ")
	sql_in_is "$B" "SELECT name, status, attempt, exit_code, exit_signal, error
		FROM agents ORDER BY id" \
"witness|completed|1|0||
gate|completed|1|0||
forker|completed|$((tries + 1))|0||
giveup|failed|2|||cannot fork the worker: Resource temporarily unavailable"
	sql_in_is "$B" "SELECT count(*) FROM state WHERE key GLOB 'forker.*'" 3
	log_has "$B" "agent 'forker' started (attempt $((tries + 1))"
	witness_ok "$B"
fi

# ---- 3. out of file descriptors ---------------------------------------------
# The test lowers the supervisor's soft RLIMIT_NOFILE to 3: with 0, 1 and 2
# open, it cannot get one more fd, whatever it closes. Only then does
# 'witness' write: the acks it waits for need syncs of the WAL, whose
# descriptor the supervisor opened at the start. A client that
# connects waits in the backlog: the supervisor pauses its listener instead
# of spinning on it. 'starved' (pending until 'gate' ends) cannot make its
# pipes and is retried as after a failed fork. Then the limit leaves seven
# free fds: one for the client's connection, six for the pipes of
# 'starved', whose worker must start with none to spare.
C=$T/c
mkdir "$C"
cat >"$C/flow.ini" <<INI
[workflow]
max_parallel = 2

[phase work]
[agent witness]
phase = work
command = exec sh $C/witness.sh

[agent gate]
phase = work
command = exec $AGENT wait $C/gate

[agent starved]
phase = work
command = exec $AGENT set starved 3
max_restarts = 100
backoff = 100ms..200ms
INI
cat >"$C/witness.sh" <<SH
while [ ! -e $C/begin ]; do sleep 0.05; done
exec $AGENT witness w $C/stop
SH
"$SMITHERS" --dir "$C" run "$C/flow.ini" </dev/null >"$T/.sup.out" 2>"$T/.sup.err" &
SUP=$!
BG_PIDS="$BG_PIDS $SUP"
two_running() {
	[ "$(sql_in "$C" "SELECT count(*) FROM agents
		WHERE status = 'running' AND pid IS NOT NULL")" = 2 ]
}
wait_until 30 two_running
nofile=$(soft_limit "$SUP" NOFILE)
soft_limit "$SUP" NOFILE 3
# The witness's first write comes now: the supervisor syncs the WAL for
# its ack with no descriptor to spare (the syncer opened it at the start).
: >"$C/begin"
wait_until 30 has_key "$C" w.1

"$PYTHON" -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
open(sys.argv[2], "w").close()
time.sleep(600)
' "$C/.smithers/supervisor.sock" "$T/connected" &
CLIENT=$!
BG_PIDS="$BG_PIDS $CLIENT"
wait_until 30 test -e "$T/connected"
# A supervisor spinning on accept floods its log: stop waiting then.
paused() {
	[ "$(stat -c %s "$C/.smithers/supervisor.log")" -gt 100000 ] ||
		grep -q "cannot accept connections on" "$C/.smithers/supervisor.log"
}
wait_until 30 paused
[ "$(stat -c %s "$C/.smithers/supervisor.log")" -le 100000 ] ||
	fail "the supervisor logs each failed accept"
log_has "$C" "cannot accept connections on '$C/.smithers/supervisor.sock': Too many open files; trying again every 250 ms"
sup0=$(cpu_ms "$SUP")
sleep 2 # a window to measure CPU time in, not a condition
sup1=$(cpu_ms "$SUP")
echo "CPU in 2 s with a connection waiting: supervisor $((sup1 - sup0)) ms"
[ $((sup1 - sup0)) -lt 600 ] ||
	fail "the supervisor used $((sup1 - sup0)) ms of CPU in 2 s"
[ "$(log_count "$C" "accept")" = 1 ] ||
	fail "the supervisor logs each failed accept"

: >"$C/gate"
starved_failed() {
	[ "$(log_count "$C" "agent 'starved': cannot make the pipes")" -ge 2 ]
}
wait_until 30 starved_failed
log_has "$C" "agent 'starved': cannot make the pipes: Too many open files; retrying in 100 ms (attempt 2)"
log_has "$C" "agent 'starved': cannot make the pipes: Too many open files; retrying in 200 ms (attempt 3)"
sql_in_is "$C" "SELECT status, error FROM agents WHERE name = 'starved'" \
	"restarting|cannot make the pipes: Too many open files"

# The client goes, its connection still waiting; then seven free fds.
kill "$CLIENT"
wait "$CLIENT" 2>/dev/null || :
free7=$("$PYTHON" -c '
import os, sys
used = {int(fd) for fd in os.listdir("/proc/%s/fd" % sys.argv[1])}
print([fd for fd in range(len(used) + 7) if fd not in used][6] + 1)' "$SUP")
soft_limit "$SUP" NOFILE "$free7"
wait_until 30 final "$C" starved
resumed() { grep -q "accepting connections again" "$C/.smithers/supervisor.log"; }
wait_until 30 resumed
soft_limit "$SUP" NOFILE "$nofile"
: >"$C/stop"
wait_run
tries=$(log_count "$C" "agent 'starved': cannot make the pipes")
sql_in_is "$C" "SELECT name, status, attempt, exit_code, exit_signal, error
	FROM agents ORDER BY id" \
"witness|completed|1|0||
gate|completed|1|0||
starved|completed|$((tries + 1))|0||"
expect_rc 0
expect_none_left "$C"
sql_in_is "$C" "SELECT count(*) FROM state WHERE key GLOB 'starved.*'" 3
log_has "$C" "agent 'starved' started (attempt $((tries + 1))"
witness_ok "$C"
