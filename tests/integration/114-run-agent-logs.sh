#!/bin/sh
# The worker writes its agent's stdout and stderr to
# .smithers/logs/agents/EXECUTION/AGENT.log, rotated by size: AGENT.log.1 ..
# AGENT.log.KEEP, the oldest dropped, at line boundaries.
. "$top_srcdir/tests/integration/lib.sh"

cat >talk.sh <<'SH'
i=0
while [ $i -lt 400 ]; do
	i=$((i + 1))
	echo "out line $i, padded to make it a little longer than it needs to be"
	echo "err line $i" >&2
done
SH
# The same lines again, written all at once: one read of the worker holds
# several files' worth.
cat >burst.sh <<'SH'
out=$(sh talk.sh 2>&1)
printf '%s\n' "$out"
SH
cat >flow.ini <<INI
[workflow]
log_max_bytes = 4K
log_keep = 2
[phase work]
[agent talker]
phase = work
command = sh $T/talk.sh
INI

for script in talk.sh burst.sh; do
rm -rf "$T/.smithers"
sed -i "s|^command = .*|command = sh $T/$script|" flow.ini
run "$SMITHERS" --dir "$T" run flow.ini
expect_rc 0
logs="$T/.smithers/logs/agents/1"
[ -f "$logs/talker.log" ] && [ -f "$logs/talker.log.1" ] &&
	[ -f "$logs/talker.log.2" ] || fail "the log was not rotated: $(ls "$logs")"
[ ! -e "$logs/talker.log.3" ] || fail "more than log_keep rotated logs"
for f in "$logs"/talker.log*; do
	size=$(wc -c <"$f")
	# Past the size only by the end of a line.
	[ "$size" -le $((4096 + 80)) ] || fail "$f is $size bytes"
done
# The newest lines are in the current log, stdout and stderr alike.
grep -q "out line 400," "$logs/talker.log" || fail "the last stdout line is not in talker.log"
grep -q "err line 400" "$logs/talker.log" || fail "the last stderr line is not in talker.log"
! grep -q "out line 1," "$logs"/talker.log* || fail "the oldest lines were kept"
# Lines are not cut in two at a rotation.
for f in "$logs"/talker.log*; do
	grep -qv '^\(out line [0-9]*, padded to make it a little longer than it needs to be\|err line [0-9]*\)$' "$f" &&
		fail "$f has a cut line: $(grep -v '^\(out\|err\) line' "$f" | head -n 1)"
done
# Nothing of the agent's output went to the supervisor's log.
! grep -q "out line" "$T/.smithers/supervisor.log" || fail "agent output in the supervisor log"
done
