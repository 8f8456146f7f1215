#!/bin/sh
# Workers are forked by the zygote (worker/ctl.h): each is the supervisor's
# own child, with the zygote's command line (which recovery knows as this
# state dir's), and runs its agent as an exec'd one would. A zygote that
# dies is noticed and workers are exec'd from then on; a spawn too big for
# it is exec'd too. By hand: the zygote refuses what is not a spawn, forks
# a worker that is its parent's child, and exits at its socket's end.
. "$top_srcdir/tests/integration/lib.sh"
WORKER="$top_builddir/worker/smithers-worker"

# ---- 1. under the supervisor ------------------------------------------------
# Phase one: three agents note their worker and wait; phase two: one more,
# started after the test killed the zygote.
cat >agent.sh <<SH
echo "\$PPID" >"$T/worker.\$1"
while [ ! -e "$T/go" ]; do sleep 0.05; done
SH
cat >flow.ini <<INI
[workflow]
[phase one]
[agent a]
phase = one
command = sh $T/agent.sh a
[agent b]
phase = one
command = sh $T/agent.sh b
[agent c]
phase = one
command = sh $T/agent.sh c
[phase two]
[agent d]
phase = two
command = sh $T/agent.sh d
INI
start_run flow.ini
for n in a b c; do
	wait_until 30 test -s "$T/worker.$n"
done
zygote=$(pgrep -f -- "smithers-worker --zygote $T/.smithers/logs/agents/ " |
	while read -r p; do
		# the zygote, not a worker forked from it: it has no child
		[ -n "$(pgrep -P "$p")" ] || echo "$p"
	done)
[ "$(echo "$zygote" | wc -w)" = 1 ] || fail "not one zygote: '$zygote'"
[ "$(ps -o ppid= -p "$zygote" | tr -d ' ')" = "$SUP" ] ||
	fail "the zygote is not the supervisor's child"
for n in a b c; do
	w=$(cat "$T/worker.$n")
	[ "$w" != "$zygote" ] || fail "agent $n runs under the zygote itself"
	[ "$(ps -o ppid= -p "$w" | tr -d ' ')" = "$SUP" ] ||
		fail "worker $w of $n is not the supervisor's child"
	cmd=$(tr '\0' ' ' <"/proc/$w/cmdline")
	case $cmd in
	*"smithers-worker --zygote $T/.smithers/logs/agents/ $SUP ") ;;
	*) fail "worker $w of $n was not forked by the zygote: $cmd" ;;
	esac
	# Its own group, as an exec'd worker's.
	[ "$(ps -o pgid= -p "$w" | tr -d ' ')" = "$w" ] ||
		fail "worker $w is not in a group of its own"
done
sql_is "SELECT count(*) FROM agents WHERE worker_pid IN
	($(cat "$T/worker.a"), $(cat "$T/worker.b"), $(cat "$T/worker.c"))" 3
kill -9 "$zygote"
wait_until 30 grep -q "the zygote (pid $zygote) died; workers are exec'd" \
	"$T/.sup.err"
: >"$T/go"
wait_until 30 test -s "$T/worker.d"
wait_run
expect_rc 0
sql_is "SELECT group_concat(status) FROM agents" \
	"completed,completed,completed,completed"
# d's worker was exec'd: its command line is its own, with its log.
grep -q "agent 'd' started" "$T/.sup.err" || fail "d did not start"
if pgrep -f -- "$T/" >/dev/null; then
	fail "left behind: $(pgrep -af -- "$T/")"
fi

# ---- 2. big spawns ----------------------------------------------------------
# Three variables of 120 000 bytes: more than a socket's buffer takes at
# once, yet one spawn, sent whole to the zygote. Ten: past what a spawn
# holds (1 MiB), within what an exec takes: exec'd, the zygote kept.
B=$T/big
mkdir "$B"
cat >"$B/note.sh" <<SH
tr '\\0' ' ' </proc/\$PPID/cmdline >"$B/cmdline"
SH
cat >"$B/flow.ini" <<INI
[workflow]
[phase one]
[agent e]
phase = one
command = sh $B/note.sh
INI
big=$("$PYTHON" -c 'print("x" * 120000)')
# big_run N PATTERN HOW: the flow run with N variables of $big; its worker's
# command line has PATTERN (it was not started HOW, if not), and the zygote
# was not let go.
big_run() {
	(
		i=0
		while [ "$i" -lt "$1" ]; do
			export "BIG$i=$big"
			i=$((i + 1))
		done
		exec "$SMITHERS" --dir "$B" run "$B/flow.ini" >"$T/.out" 2>"$T/.err"
	) || fail "the run with a big environment failed: $(tail -n 5 "$T/.err")"
	grep -q -- "$2" "$B/cmdline" ||
		fail "e's worker was not $3: $(cat "$B/cmdline")"
	if grep -q "zygote" "$T/.err"; then
		fail "the zygote was let go for a big spawn: $(grep zygote "$T/.err")"
	fi
}
big_run 3 "--zygote $B/.smithers/logs/agents/" "forked by the zygote"
big_run 10 "--log $B/.smithers/logs/agents/" "exec'd"

# ---- 3. the zygote by hand ---------------------------------------------------
"$PYTHON" - "$WORKER" "$T" <<'PY' || fail "the zygote by hand"
import os, socket, struct, subprocess, sys

worker, tmp = sys.argv[1], sys.argv[2]
MAGIC = 0x534D5A53  # WRK_CTL_SPAWN_MAGIC


def zygote(parent=None):
    a, b = socket.socketpair()
    # The shell puts its end at fd 5 and becomes the zygote (exec).
    argv = ["sh", "-c", 'exec "$@" 5>&%d' % b.fileno(), "sh", worker,
            "--zygote", tmp + "/.smithers/logs/agents/",
            str(parent or os.getpid())]
    p = subprocess.Popen(argv, pass_fds=(b.fileno(),),
                         stderr=subprocess.DEVNULL)
    b.close()
    return p, a


def line(sock):
    out = b""
    while not out.endswith(b"\n"):
        c = sock.recv(1)
        if not c:
            break
        out += c
    return out.decode()


def spawn_msg(argv, env):
    strings = b"".join(s.encode() + b"\0" for s in argv + env)
    return struct.pack("=IIII", MAGIC, len(argv), len(env),
                       len(strings)) + strings


# Not a spawn: said, and exit 127.
p, s = zygote()
s.sendall(b"garbage, not a spawn message")
said = line(s)
assert said.startswith("cannot read a spawn"), said
assert p.wait(10) == 127, p.returncode

# Its socket's end: exit 0.
p, s = zygote()
s.close()
assert p.wait(10) == 0, p.returncode

# Started by another parent than it was told: exit 127 at once.
p, s = zygote(parent=1)
assert p.wait(10) == 127, p.returncode

# A spawn: the worker is our child (CLONE_PARENT), runs its agent with the
# spawn's environment, says so on its own socket, and exits as it did.
p, s = zygote()
up_r, up_w = os.pipe()
down_r, down_w = os.pipe()
ctl, ctl_w = socket.socketpair()
argv = [worker, "--parent", str(os.getpid()), "--",
        "sh", "-c", 'echo "$ZYGOTE_TEST" >' + tmp + "/hand.out; exit 3"]
s.sendmsg([spawn_msg(argv, ["ZYGOTE_TEST=from the spawn", "PATH=/bin:/usr/bin"])],
          [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
            struct.pack("=iii", up_w, down_r, ctl_w.fileno()))])
for fd in (up_w, down_r):
    os.close(fd)
ctl_w.close()
said = line(s)
assert said.startswith("worker "), said
pid = int(said.split()[1])
assert pid != p.pid
assert line(ctl).startswith("agent "), "no agent line"
assert line(ctl) == "done\n"
got, status = os.waitpid(pid, 0)  # ours to reap
assert got == pid and os.WIFEXITED(status) and \
    os.WEXITSTATUS(status) == 3, status
assert open(tmp + "/hand.out").read() == "from the spawn\n"
s.close()
assert p.wait(10) == 0, p.returncode
PY
