#!/bin/sh
# A full disk (a small tmpfs holding the state dir, filled up by a ballast
# file): the supervisor says so, stops acking and reading (the agents wait),
# loses and corrupts nothing, and carries on once the ballast is gone.
#  1. agents writing state one acked change at a time: the commit that
#     would not fit waits; every acked change is in the store exactly once;
#  2. a tool output that cannot be written to its object file: the message
#     waits (not refused) and is stored once there is space.
# Needs root for the mount: skipped (77) without it.
. "$top_srcdir/tests/integration/lib.sh"

FS=$T/fs
mkdir "$FS"
if ! mount -t tmpfs -o size=40m tmpfs "$FS" 2>/dev/null; then
	echo "cannot mount a tmpfs here (not root?): skipped"
	exit 77
fi
trap 'umount -l "$FS" 2>/dev/null; cleanup' EXIT

# fill: the ballast takes every free block of the tmpfs. The supervisor
# may free blocks meanwhile (a checkpoint truncates the WAL file), so it
# tops the ballast up until the free space stays under 64 KiB.
avail() { df -P "$FS" | awk 'NR == 2 { print $4 }'; }
fill() {
	n=0
	while :; do
		dd if=/dev/zero bs=64k 2>/dev/null >>"$FS/ballast" || :
		sleep 0.1
		[ "$(avail)" -lt 64 ] && return 0
		n=$((n + 1))
		[ $n -lt 50 ] || fail "the tmpfs is not full: $(avail) KiB free"
	done
}
lines() { cat "$T"/acked.w* 2>/dev/null | wc -l; }
lines_ge() { [ "$(lines)" -ge "$1" ]; }
logged() { grep -q "$1" "$P/.sup.err"; }

# ---- 1. state writers --------------------------------------------------------
P=$FS/p1
mkdir "$P"
cat >"$P/flow.ini" <<INI
[workflow]
name = full
[phase work]
INI
for i in 1 2 3; do
	cat >>"$P/flow.ini" <<INI
[agent w$i]
phase = work
command = $AGENT acklog $T/acked.w$i 1000000
restart = never
INI
done
(cd "$P" && exec "$SMITHERS" run flow.ini >.sup.out 2>.sup.err) &
SUP=$!
BG_PIDS="$BG_PIDS $SUP"
wait_until 30 lines_ge 150
fill
wait_until 60 logged "the disk is full"
fill
# Acks stop: what was acked before is all there is while it is full.
sleep 1
before=$(lines)
sleep 2
[ "$(lines)" = "$before" ] || fail "acked while the disk was full"
alive "$SUP" || fail "the supervisor died"
pgrep -f "acklog $T/acked.w1" >/dev/null || fail "an agent died"
rm "$FS/ballast"
wait_until 60 logged "there is space again"
wait_until 60 lines_ge $((before + 150))
kill -TERM "$SUP"
wait "$SUP" || :
check_acked "$P/.smithers/smithers.db" 1 "$T"/acked.w*
"$PYTHON" - "$P/.smithers/smithers.db" <<'PY' || fail "no record of the full disk"
import sqlite3, sys
con = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
row = con.execute("SELECT trigger, json_extract(new_value, '$.error')"
                  " FROM transitions WHERE key = 'smithers.disk_full'"
                  ).fetchone()
if row != ("storage", "disk full"):
    sys.exit("no record of the full disk: %r" % (row,))
PY

# ---- 2. a tool output with no room for its object file ----------------------
rm -f "$T"/acked.*
P=$FS/p2
mkdir "$P"
head -c 8192 /dev/urandom | od -A n -t x1 >"$T/big.txt"
cat >"$P/tool.sh" <<SH
call=\$(smithers emit tool.start scan)
touch $T/started
while [ ! -e $T/go ]; do sleep 0.05; done
smithers emit tool.complete "\$call" --output-file $T/big.txt
echo "complete: \$?" >$T/done
SH
cat >"$P/flow.ini" <<INI
[workflow]
name = tool
[phase p]
[agent t]
phase = p
command = sh $P/tool.sh
INI
(cd "$P" && exec "$SMITHERS" run flow.ini >.sup.out 2>.sup.err) &
SUP=$!
BG_PIDS="$BG_PIDS $SUP"
wait_until 30 test -e "$T/started"
fill
touch "$T/go"
wait_until 30 logged "No space left on device: the disk is full"
sleep 1
[ ! -e "$T/done" ] || fail "the tool output was not held: $(cat "$T/done")"
rm "$FS/ballast"
wait_until 60 test -e "$T/done"
[ "$(cat "$T/done")" = "complete: 0" ] || fail "emit: $(cat "$T/done")"
wait "$SUP" || fail "the run failed: $(tail -n 5 "$P/.sup.err")"
run "$SMITHERS" --dir "$P" db tools --json
expect_rc 0
json 'len(j) == 1 and j[0]["status"] == "completed" and
      j[0]["output_size"] == '"$(wc -c <"$T/big.txt")"
exit 0
