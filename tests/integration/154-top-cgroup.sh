#!/bin/sh
# smithers-top with agents in cgroups: the JSON has the whole tree's figures
# (memory now and at peak, CPU time, processes), and `k` signals every
# process of the agent's cgroup - a setsid daemon too, which a signal to
# the agent's process group does not reach.
. "$top_srcdir/tests/integration/lib.sh"
# About cgroups themselves: never without (smithers(1) SMITHERS_CGROUPS).
unset SMITHERS_CGROUPS

TOP="$top_builddir/tools/smithers-top"
command -v tmux >/dev/null || fail "tmux is missing (Debian package tmux)"
tmux() { command tmux -S "$T/tmux.sock" "$@"; }
SESSION="smithers-top-cgroup-$$"
trap 'tmux kill-session -t "$SESSION" 2>/dev/null; [ ! -f "$T/.smithers/shm.name" ] || rm -f "/dev/shm$(cat "$T/.smithers/shm.name")"; cleanup' EXIT

mkdir "$T/p"
cat >flow.ini <<INI
[phase work]
[agent escaper]
phase = work
command = exec sh $top_srcdir/tests/integration/escape.sh $T/p deaf
stop_grace = 200ms
restart = never
INI
start_run flow.ini
wait_until 20 test -f "$T/p/ready"
case $(sql "SELECT containment FROM executions") in
cgroup*) ;;
*)
	kill -TERM "$SUP"
	wait_run
	echo "SKIP: no cgroups here"
	exit 77
	;;
esac

# The figures are read every second: the whole tree, the agent and its
# three daemons at least.
figures() {
	"$TOP" --json --dir "$T" | "$PYTHON" -c '
import json, sys
a = json.load(sys.stdin)["agents"][0]
sys.exit(not (a["tree"] and a["nprocs"] >= 4 and a["mem_bytes"] > 0
              and a["cpu_usec"] >= 0))'
}
wait_until 10 figures

tmux new-session -d -s "$SESSION" -x 190 -y 40 \
	"'$TOP' --dir '$T' -d 0.2; echo TOP-EXITED \$?; sleep 60"
screen() { tmux capture-pane -p -t "$SESSION"; }
shows() { screen | grep -q -- "$1"; }
wait_until 10 shows "escaper"
tmux send-keys -t "$SESSION" k
wait_until 5 shows "signal for agent escaper (cgroup of"
tmux send-keys -t "$SESSION" T E R M Enter
wait_until 5 shows "to every process of cgroup"
tmux send-keys -t "$SESSION" y
# SIGTERM reached the setsid daemon (in a session and group of its own);
# the agent and the process that ignore SIGTERM live on (a signal to the
# agent's process group would have reached neither daemon).
daemons_gone() {
	! alive "$(cat "$T/p/setsid.pid")" && ! alive "$(cat "$T/p/double.pid")"
}
wait_until 5 daemons_gone
alive "$(cat "$T/p/noterm.pid")" || fail "the SIGTERM-ignoring process died"
tmux send-keys -t "$SESSION" q
kill -TERM "$SUP"
wait_run
expect_rc 143
noterm_gone() { ! alive "$(cat "$T/p/noterm.pid")"; }
wait_until 2 noterm_gone
