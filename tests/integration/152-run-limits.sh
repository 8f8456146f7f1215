#!/bin/sh
# Limits: an agent that allocates past memory_max is killed by the OOM
# killer in its cgroup, reported as such and restarted by its policy while
# its neighbour runs on untouched; a fork bomb under pids_max is contained
# and reported; a limit the host cannot enforce is an error at start.
. "$top_srcdir/tests/integration/lib.sh"
# About cgroups themselves: never without (smithers(1) SMITHERS_CGROUPS).
unset SMITHERS_CGROUPS

HOG="$PYTHON $top_srcdir/tests/integration/hog.py"

# A cgroup v2 controller: whether the host has it on v2.
v2_has() {
	mnt=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
	[ -n "$mnt" ] && grep -qw "$1" "$mnt/cgroup.controllers"
}

cat >flow.ini <<INI
[phase work]
[agent probe]
phase = work
command = true
INI
run "$SMITHERS" --dir "$T" run flow.ini
expect_rc 0
case $(sql "SELECT containment FROM executions") in
cgroup*) ;;
*) echo "SKIP: no cgroups here"; exit 77 ;;
esac

# 1. memory_high: only cgroup v2's memory controller throttles.
cat >flow.ini <<INI
[phase work]
[agent soft]
phase = work
command = true
memory_high = 256M
INI
run "$SMITHERS" --dir "$T" run flow.ini
if v2_has memory; then
	expect_rc 0
else
	expect_rc 2
	err_has "memory_high needs"
fi

# 2. The OOM killer: the hog is killed at each attempt, its neighbour is
# not.
cat >flow.ini <<INI
[phase work]
[agent hog]
phase = work
command = $HOG memory 512
memory_max = 64M
restart = on-failure
max_restarts = 1
backoff = 0..0
[agent neighbour]
phase = work
command = $HOG memory 128
INI
run "$SMITHERS" --dir "$T" run flow.ini
if [ "$rc" -eq 2 ] && grep -q "memory_max needs" "$ERR"; then
	echo "no memory controller here: OOM not shown"
else
	expect_rc 1
	err_has "agent 'hog' ended: killed by the OOM killer (memory_max 64M)"
	err_has "agent 'hog' restarts"
	sql_is "SELECT status, attempt, error FROM agents WHERE name = 'hog'" \
		"failed|2|killed by the OOM killer (memory_max 64M)"
	sql_is "SELECT status FROM agents WHERE name = 'neighbour'" "completed"
	# The peak kept is the hog's whole tree, at most its limit.
	sql_is "SELECT mem_peak > 32 * 1048576 AND mem_peak <= 64 * 1048576
		FROM agents WHERE name = 'hog'" "1"
fi

# 3. A fork bomb under pids_max: contained, reported.
cat >flow.ini <<INI
[phase work]
[agent bomb]
phase = work
command = $HOG forks 200 $T/made
pids_max = 16
restart = never
INI
run "$SMITHERS" --dir "$T" run flow.ini
expect_rc 1
made=$(cat "$T/made")
[ "$made" -lt 16 ] || fail "$made forks under pids_max 16"
err_has "agent 'bomb': pids_max 16 refused"
sql_is "SELECT error LIKE 'failed after pids_max 16 refused % forks'
	FROM agents WHERE name = 'bomb' ORDER BY id DESC LIMIT 1" "1"
