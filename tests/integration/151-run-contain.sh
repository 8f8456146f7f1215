#!/bin/sh
# Nothing escapes: an agent starts a setsid daemon, a double-forked daemon
# and a process that ignores SIGTERM (escape.sh). With cgroups, all three
# are gone when the agent exits, at its timeout, at SIGTERM of the
# supervisor, and - SIGKILL of the supervisor with its workers - once the
# next supervisor of the state dir starts. With cgroups = off, the setsid
# daemon survives its agent: the cgroup is what kills it.
. "$top_srcdir/tests/integration/lib.sh"
# About cgroups themselves: never without (smithers(1) SMITHERS_CGROUPS).
unset SMITHERS_CGROUPS

ESCAPE="sh $top_srcdir/tests/integration/escape.sh $T/p"

# flow CGROUPS MODE [KEY=VALUE]: one agent running escape.sh.
flow() {
	cat >flow.ini <<INI
[workflow]
cgroups = $1
[phase work]
[agent escaper]
phase = work
command = $ESCAPE $2
restart = never
stop_grace = 200ms
${3:-}
INI
	rm -rf "$T/p"
	mkdir "$T/p"
}

pids() {
	cat "$T/p/setsid.pid" "$T/p/double.pid" "$T/p/noterm.pid"
}

all_gone() {
	for p in $(pids); do
		! alive "$p" || return 1
	done
}

kill_all() {
	for p in $(pids); do
		kill -9 "$p" 2>/dev/null || :
	done
}

# Where cgroups cannot be made, this test has nothing to show.
flow auto exit
run "$SMITHERS" --dir "$T" run flow.ini
expect_rc 0
containment=$(sql "SELECT containment FROM executions ORDER BY id DESC LIMIT 1")
case $containment in
cgroup*) ;;
*)
	kill_all
	echo "SKIP: no cgroups here: $containment"
	exit 77
	;;
esac

# 1. The agent exits by itself.
wait_until 2 all_gone
[ ! -e "$T/.smithers/cgroups" ] || fail "the cgroups file outlived the run"
# Its CPU time is in its row (its peak memory too where the host counts
# it: 152, with memory_max).
sql_is "SELECT cpu_usec IS NOT NULL FROM agents" "1"

# 2. Its timeout.
flow auto sleep "timeout = 1s"
start_run flow.ini
wait_until 20 test -f "$T/p/ready"
base=$(head -n 1 "$T/.smithers/cgroups")
[ -d "$base" ] || fail "no state dir cgroup '$base'"
ls -d "$base"/agent-* >/dev/null 2>&1 || fail "no agent cgroup in '$base'"
wait_run
expect_rc 1
wait_until 2 all_gone
[ ! -d "$base" ] || fail "'$base' outlived the run"

# 3. SIGTERM to the supervisor.
flow auto sleep
start_run flow.ini
wait_until 20 test -f "$T/p/ready"
kill -TERM "$SUP"
wait_run
expect_rc 143
wait_until 2 all_gone

# 4. SIGKILL to the workers and the supervisor (stopped first, so that
# nobody kills the agent's cgroup): the daemons live on in it until the
# next supervisor of the state dir starts - with cgroups or without.
left_behind() {
	flow auto sleep
	start_run flow.ini
	wait_until 20 test -f "$T/p/ready"
	workers=$(pgrep -P "$SUP" -f smithers-worker)
	[ -n "$workers" ] || fail "no worker under the supervisor"
	kill -STOP "$SUP"
	kill -9 $workers
	kill -9 "$SUP"
	wait_run
	sleep 0.2
	for p in $(pids); do
		alive "$p" ||
			fail "process $p died without its cgroup being killed"
	done
	left=$(head -n 1 "$T/.smithers/cgroups")
	cat >flow2.ini <<INI
[workflow]
cgroups = $1
[phase other]
[agent quick]
phase = other
command = true
INI
	run "$SMITHERS" --dir "$T" run --no-resume flow2.ini
	expect_rc 0
	err_has "killed and removed 1 agent cgroup left by a supervisor that died"
	wait_until 2 all_gone
	[ ! -d "$left" ] || fail "'$left' was not removed"
	[ ! -e "$T/.smithers/cgroups" ] || fail "the cgroups file is left"
}
left_behind auto
left_behind off

# 5. cgroups = off: the process group is all there is, and the setsid
# daemon leaves it.
flow off exit
run "$SMITHERS" --dir "$T" run flow.ini
expect_rc 0
sql_is "SELECT containment FROM executions ORDER BY id DESC LIMIT 1" \
	"process groups (cgroups = off)"
sleep 0.3
alive "$(cat "$T/p/setsid.pid")" ||
	fail "the setsid daemon died without a cgroup: the test shows nothing"
kill_all
