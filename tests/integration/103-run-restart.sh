#!/bin/sh
# Restart policy: on-failure restarts a failing agent max_restarts times
# with exponential backoff between min and max, then fails it (and its
# phase); always reruns a successful one; never does not restart.
. "$top_srcdir/tests/integration/lib.sh"

cat >flow.ini <<INI
[phase work]
on_failure = continue

[agent flaky]
phase = work
command = $AGENT exit 3
restart = on-failure
max_restarts = 3
backoff = 200ms..400ms
startsecs = 10s

[agent again]
phase = work
command = $AGENT exit 0
restart = always
max_restarts = 2
backoff = 0..0

[agent once]
phase = work
command = $AGENT exit 4
restart = never
INI

run "$SMITHERS" --dir "$T" run flow.ini
expect_rc 1
sql_is "SELECT name, status, attempt, exit_code, error FROM agents ORDER BY id" \
"flaky|failed|4|3|exited with status 3
again|completed|3|0|
once|failed|1|4|exited with status 4"
err_has "agent 'flaky' failed 4 times: giving up"

# The delays between the starts of 'flaky': 200, 400 (doubled), 400 (cap)
# ms, each within [delay, delay + 1 s].
"$PYTHON" - "$T/.smithers/supervisor.log" <<'PY' || fail "backoff out of bounds"
import datetime, re, sys
starts = []
for line in open(sys.argv[1]):
    if "agent 'flaky' started" in line:
        stamp = line.split(" ", 1)[0].rstrip("Z")
        starts.append(datetime.datetime.fromisoformat(stamp))
assert len(starts) == 4, starts
gaps = [(b - a).total_seconds() * 1000 for a, b in zip(starts, starts[1:])]
for gap, want in zip(gaps, [200, 400, 400]):
    assert want <= gap <= want + 1000, (gaps, want)
print("gaps", gaps)
PY
