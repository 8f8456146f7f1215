#!/bin/sh
# Restart policy: on-failure restarts a failing agent max_restarts times
# with exponential backoff between min and max, then fails it (and its
# phase); always reruns a successful one; never does not restart. A restart
# waits for a slot of max_parallel.
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

# A restart takes a slot of max_parallel like any start: 'first' fails, and
# 'second' takes its slot; the restart of 'first' waits until it ends.
cat >slots.ini <<INI
[workflow]
max_parallel = 1
[phase work]
[agent first]
phase = work
command = [ "\$SMITHERS_ATTEMPT" != 1 ]
backoff = 0..0
[agent second]
phase = work
command = exec sleep 1
INI
run "$SMITHERS" --dir "$T" run slots.ini
expect_rc 0
"$PYTHON" - "$T/.smithers/supervisor.log" <<'PY' || fail "the restart did not wait for its slot"
import sys
events = [l.split(": ", 2)[2].strip() for l in open(sys.argv[1])]
events = events[[e.startswith("execution 2 of") for e in events].index(True):]
order = [e.split(" (")[0].split(":")[0] for e in events
         if e.startswith("agent '") and (" started (" in e or " ended:" in e)]
assert order == ["agent 'first' started", "agent 'first' ended",
                 "agent 'second' started", "agent 'second' ended",
                 "agent 'first' started", "agent 'first' ended"], order
PY
