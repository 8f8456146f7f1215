#!/bin/sh
# The worker writes its agent's stdout and stderr to
# .smithers/logs/agents/EXECUTION/AGENT.log, rotated by size: AGENT.log.1 ..
# AGENT.log.KEEP, the oldest dropped.
. "$top_srcdir/tests/integration/lib.sh"

cat >talk.sh <<'SH'
i=0
while [ $i -lt 400 ]; do
	i=$((i + 1))
	echo "out line $i, padded to make it a little longer than it needs to be"
	echo "err line $i" >&2
done
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

run "$SMITHERS" --dir "$T" run flow.ini
expect_rc 0
logs="$T/.smithers/logs/agents/1"
[ -f "$logs/talker.log" ] && [ -f "$logs/talker.log.1" ] &&
	[ -f "$logs/talker.log.2" ] || fail "the log was not rotated: $(ls "$logs")"
[ ! -e "$logs/talker.log.3" ] || fail "more than log_keep rotated logs"
for f in "$logs"/talker.log*; do
	size=$(wc -c <"$f")
	# Only a single read (64 KiB at most) larger than the limit could
	# take a file past it.
	[ "$size" -le 65536 ] || fail "$f is $size bytes"
done
# The newest lines are in the current log, stdout and stderr alike.
grep -q "out line 400," "$logs/talker.log" || fail "the last stdout line is not in talker.log"
grep -q "err line 400" "$logs/talker.log" || fail "the last stderr line is not in talker.log"
! grep -q "out line 1," "$logs"/talker.log* || fail "the oldest lines were kept"
# Nothing of the agent's output went to the supervisor's log.
! grep -q "out line" "$T/.smithers/supervisor.log" || fail "agent output in the supervisor log"
