#!/bin/sh
# smithers-worker --cgroup DIR: the agent runs in DIR (entered before exec),
# and whatever it starts goes with it, however it left its process group: a
# setsid daemon, a double-forked one, a process that ignores SIGTERM. When
# the agent exits, when the supervisor stops it (SIGTERM: the setsid daemon
# gets the stop signal too, and may clean up) and when the supervisor dies
# (SIGUSR2), none of them is left once the worker exited, the cgroup is
# empty and can be removed. Without --cgroup, the setsid daemon survives the
# same agent: the cgroup is what kills it. Also: a cgroup the agent cannot
# enter is told as such, and the agent never runs; in a test build, the
# same by each way of starting the agent that this kernel never needs.
# (The double fork stays in the agent's process group: without a cgroup it
# goes with the group; it is here for the reparenting.)
. "$top_srcdir/tests/integration/lib.sh"

WORKER="$top_builddir/worker/smithers-worker"

# Our own cgroup v2: the mount point of cgroup2 and our "0::" line.
mnt=$(awk '$0 ~ / - cgroup2 / { print $5; exit }' /proc/self/mountinfo)
own=$(sed -n 's/^0:://p' /proc/self/cgroup)
if [ -z "$mnt" ] || [ -z "$own" ]; then
	echo "SKIP: no cgroup2 file system mounted" >&2
	exit 77
fi
[ "$own" = / ] && own=
base="$mnt$own"
CG=
# Every cgroup made here, and every pid written by the agents, is removed
# or killed on the way out, passed or failed.
cg_cleanup() {
	for f in "$T"/*/*.pid; do
		[ -f "$f" ] || continue
		pid=$(cat "$f")
		[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || :
	done
	for d in $CGS; do
		[ -d "$d" ] || continue
		echo 1 >"$d/cgroup.kill" 2>/dev/null || :
		i=0
		while ! rmdir "$d" 2>/dev/null && [ "$i" -lt 40 ]; do
			i=$((i + 1))
			sleep 0.05
		done
	done
	cleanup
}
CGS=
trap cg_cleanup EXIT

# new_cg NAME: a fresh cgroup under ours, its path in $CG.
new_cg() {
	CG="$base/smithers-test-$$-$1"
	if ! mkdir "$CG" 2>/dev/null; then
		echo "SKIP: cannot make a cgroup under '$base' (not root?)" >&2
		exit 77
	fi
	CGS="$CGS $CG"
}

# The agent: starts the three escapees, each writing its pid to a file in
# the directory $1, then (with $2 = exit) exits once $1/go exists, or stays
# until stopped: on SIGTERM it waits (2 s at most) for the setsid daemon to
# have heard it too, as the agent's grace lasts: once the agent is gone,
# what is left of it is killed outright.
cat >agent.sh <<'SH'
d=$1
# A setsid daemon, out of the agent's group and session. On SIGTERM it
# notes it was told (its chance to clean up) and ends.
setsid sh -c 'trap "echo term >\"$1/setsid.term\"; exit 0" TERM
	echo $$ >"$1/setsid.pid.tmp"; mv "$1/setsid.pid.tmp" "$1/setsid.pid"
	while :; do sleep 0.1; done' x "$d" </dev/null >/dev/null 2>&1 &
# A double fork: its parent is gone before the agent is.
(sh -c 'echo $$ >"$1/double.pid.tmp"; mv "$1/double.pid.tmp" "$1/double.pid"
	exec sleep 1000' x "$d" </dev/null >/dev/null 2>&1 &)
# One that ignores SIGTERM (still in the agent's group).
sh -c 'trap "" TERM; echo $$ >"$1/noterm.pid.tmp"
	mv "$1/noterm.pid.tmp" "$1/noterm.pid"; exec sleep 1000' x "$d" \
	</dev/null >/dev/null 2>&1 &
while [ ! -f "$d/setsid.pid" ] || [ ! -f "$d/double.pid" ] ||
	[ ! -f "$d/noterm.pid" ]; do
	sleep 0.02
done
echo started
if [ "$2" = exit ]; then
	while [ ! -f "$d/go" ]; do
		sleep 0.02
	done
	exit 3
fi
trap 'i=0; while [ ! -f "$d/setsid.term" ] && [ $i -lt 100 ]; do
	sleep 0.02; i=$((i + 1)); done; exit 143' TERM
while :; do
	sleep 0.1
done
SH

# worker NAME MODE [FLAG...]: smithers-worker in the background, fds 3 and
# 4 on /dev/null, its control lines in NAME/ctl, pid in $W; waits until the
# agent has started its three escapees.
worker() {
	name=$1 mode=$2
	shift 2
	mkdir "$T/$name"
	"$WORKER" --log "$T/$name/log" --stop-grace 3000 "$@" -- \
		sh "$T/agent.sh" "$T/$name" "$mode" \
		3>/dev/null 4</dev/null 5>"$T/$name/ctl" 2>"$T/$name/err" &
	W=$!
	BG_PIDS="$BG_PIDS $W"
	wait_until 10 test -f "$T/$name/noterm.pid"
	wait_until 10 test -f "$T/$name/setsid.pid"
	wait_until 10 test -f "$T/$name/double.pid"
}

# wait_worker: wait for $W, its status in $rc.
wait_worker() {
	set +e
	wait "$W"
	rc=$?
	set -e
}

# in_cg NAME: each of the three escapees of NAME is in $CG.
in_cg() {
	for p in setsid double noterm; do
		pid=$(cat "$T/$1/$p.pid")
		grep -qx "$pid" "$CG/cgroup.procs" ||
			fail "$1: the $p process $pid is not in the cgroup"
	done
}

# all_gone NAME: none of the three escapees of NAME is alive, the worker
# said "done", the cgroup is empty and goes away.
all_gone() {
	for p in setsid double noterm; do
		pid=$(cat "$T/$1/$p.pid")
		! alive "$pid" || fail "$1: the $p process $pid survived"
		rm "$T/$1/$p.pid"
	done
	grep -qx done "$T/$1/ctl" || fail "$1: no 'done' on fd 5"
	grep -q '^populated 0$' "$CG/cgroup.events" ||
		fail "$1: the cgroup is still populated"
	[ -z "$(cat "$CG/cgroup.procs")" ] || fail "$1: cgroup.procs not empty"
	rmdir "$CG" || fail "$1: cannot remove the cgroup"
}

# exits NAME: case 1 in a new cgroup, the agent's run named NAME.
exits() {
	new_cg "$1"
	worker "$1" exit --cgroup "$CG"
	in_cg "$1"
	touch "$T/$1/go"
	wait_worker
	[ "$rc" -eq 3 ] || fail "$1: the worker exited $rc, not the agent's 3"
	all_gone "$1"
	grep -qx started "$T/$1/log" || fail "$1: the agent's output is not logged"
}

# cannot_enter NAME: case 4 in a new cgroup, removed at once.
cannot_enter() {
	new_cg "$1"
	rmdir "$CG"
	run "$WORKER" --cgroup "$CG" -- sh -c 'echo ran >"$1/ran"' x "$T" \
		3>/dev/null 4</dev/null 5>"$T/$1.ctl"
	expect_rc 127
	grep -qF "cannot enter cgroup '$CG': No such file or directory" \
		"$T/$1.ctl" || fail "$1: no 'cannot enter cgroup' on fd 5"
	[ ! -f "$T/ran" ] || fail "$1: the agent ran outside its cgroup"
}

# 1. The agent exits (status 3) leaving its escapees behind.
exits exit

# 2. The supervisor stops the agent: SIGTERM to the worker. The setsid
# daemon is told too (it writes setsid.term), the rest is killed.
new_cg term
worker term stay --cgroup "$CG"
in_cg term
kill -TERM "$W"
wait_worker
[ "$rc" -eq 143 ] || fail "the worker exited $rc, not 143 (SIGTERM)"
[ -f "$T/term/setsid.term" ] ||
	fail "the setsid daemon was not given the stop signal"
all_gone term

# 3. The supervisor died: SIGUSR2 to the worker, everything is SIGKILLed.
new_cg usr2
worker usr2 stay --cgroup "$CG"
in_cg usr2
kill -USR2 "$W"
wait_worker
[ "$rc" -eq 137 ] || fail "the worker exited $rc, not 137 (SIGKILL)"
[ ! -f "$T/usr2/setsid.term" ] || fail "SIGUSR2 sent a stop signal"
all_gone usr2

# 4. A cgroup the agent cannot enter (gone): said as such, no agent.
cannot_enter gone

# 5. Without --cgroup: the setsid daemon left the agent's process group and
# survives the agent (killed here); the double fork and the one that ignores
# SIGTERM stayed in the group, and are gone with it.
worker nocg exit
touch "$T/nocg/go"
wait_worker
[ "$rc" -eq 3 ] || fail "the worker exited $rc, not the agent's 3"
grep -qx done "$T/nocg/ctl" || fail "nocg: no 'done' on fd 5"
! alive "$(cat "$T/nocg/noterm.pid")" ||
	fail "without a cgroup, the agent's group was not killed"
! alive "$(cat "$T/nocg/double.pid")" ||
	fail "without a cgroup, the agent's group was not killed"
alive "$(cat "$T/nocg/setsid.pid")" ||
	fail "without a cgroup the setsid daemon died: the test proves nothing"
kill -9 "$(cat "$T/nocg/setsid.pid")"

# 6. The ways of starting the agent that this kernel never needs, taken
# when a test build is told to (SMITHERS_SPAWN): the vfork-style clone
# whose child enters the cgroup itself, a clone3 that copies the worker
# into the cgroup, a plain fork; and the usual way (the vfork-style clone
# into the cgroup), to see it said. Each runs case 1 and case 4 again.
if [ "${failpoints:-no}" = yes ]; then
	for way in into outside clone3 fork; do
		case $way in
		into) said="vfork into" ;; # the usual way, said
		outside) said="vfork outside" ;;
		clone3) said="clone3 into" ;;
		fork) said=fork ;;
		esac
		export SMITHERS_SPAWN=$way
		exits "ex-$way"
		grep -qx "smithers-worker: spawned by $said" "$T/ex-$way/err" ||
			fail "$way: not spawned by $said: $(cat "$T/ex-$way/err")"
		cannot_enter "gone-$way"
		unset SMITHERS_SPAWN
	done
else
	echo "no failpoints in this build: the other ways to spawn not run"
fi
