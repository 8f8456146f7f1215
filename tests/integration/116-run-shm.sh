#!/bin/sh
# The shared-memory mirror: agents read each acked write back from the
# segment (the database's value), find themselves running and the execution
# in the header; a clean exit removes the segment and shm.name.
. "$top_srcdir/tests/integration/lib.sh"

SHM_AGENT="$top_builddir/tests/integration/shm-agent"
cat >flow.ini <<INI
[workflow]
name = mirror

[shm]
keys = a*

[phase work]
INI
for i in 1 2 3 4; do
	cat >>flow.ini <<INI
[agent a$i]
phase = work
command = $SHM_AGENT 300
INI
done

start_run flow.ini
wait_until 20 test -f "$T/.smithers/shm.name"
name=$(cat "$T/.smithers/shm.name")
case "$name" in
/smithers-*) ;;
*) fail "unexpected segment name '$name'" ;;
esac
[ -e "/dev/shm$name" ] || fail "no /dev/shm$name while running"
mode=$(stat -c %a "/dev/shm$name")
[ "$mode" = 600 ] || fail "segment mode $mode, not 600"
wait_run
[ "$rc" = 0 ] || { cat "$T/.sup.err" >&2; fail "run failed ($rc)"; }
sql_is "SELECT count(*) FROM agents WHERE status = 'completed'" "4"
# A clean exit takes the segment away.
[ ! -e "/dev/shm$name" ] || fail "/dev/shm$name left after a clean exit"
[ ! -e "$T/.smithers/shm.name" ] || fail "shm.name left after a clean exit"

# [shm] enabled = no: no segment at all while the agent runs.
cat >off.ini <<'INI'
[workflow]
name = nomirror
[shm]
enabled = no
[phase p]
[agent a]
phase = p
command = test ! -e "$SMITHERS_DIR/.smithers/shm.name"
INI
run "$SMITHERS" --dir "$T" run off.ini
expect_rc 0
