#!/bin/sh
# smithers emit from shell agents: when it returns, the write is committed
# (another reader sees it at once); many emits of one agent at once never
# interleave frames or steal each other's acks; a tool call started by one
# emit is completed by another.
. "$top_srcdir/tests/integration/lib.sh"

cat >agent.sh <<'SH'
set -eu
for i in $(seq 1 24); do
	(
		smithers emit state.set "k$i" "$i" --trigger "emit-$i"
		# Durable and visible the moment emit returns.
		[ "$(smithers db state "k$i")" = "$i" ] || echo "k$i" >>not-visible
	) &
done
call=$(smithers emit tool.start grep '{"pattern":"x"}')
seq 1 3000 >out.txt
smithers emit tool.complete "$call" --output-file out.txt --summary "3000 lines" &
smithers emit memory.add learning emit-works "emit writes durably" &
wait
smithers emit state.delete k24 --trigger cleanup
smithers emit result "done" --json '{"keys":23}'
SH
cat >flow.ini <<INI
[phase work]
[agent shell]
phase = work
command = sh $T/agent.sh
cwd = $T
INI

run "$SMITHERS" --dir "$T" run flow.ini
expect_rc 0
[ ! -f not-visible ] || fail "emit returned before its write was visible: $(cat not-visible)"
sql_is "SELECT count(*) FROM state" "23"
sql_is "SELECT count(*) FROM transitions" "25"
sql_is "SELECT count(*) FROM transitions WHERE trigger LIKE 'emit-%'
	AND new_value = substr(trigger, 6)" "24"
sql_is "SELECT tool_name, status, output_size, summary FROM tool_calls" \
	"grep|completed|$(wc -c <out.txt | tr -d ' ')|3000 lines"
sql_is "SELECT category, key FROM memories" "learning|emit-works"
sql_is "SELECT status, result, structured_result FROM agents" \
	'completed|done|{"keys":23}'
! grep -q "refused\|protocol error" "$T/.smithers/supervisor.log" ||
	fail "the supervisor refused something: $(grep 'refused\|protocol' "$T/.smithers/supervisor.log")"

# Outside a supervisor, emit says so (exit 3).
run env -u SMITHERS_SOCKET -u SMITHERS_FD "$SMITHERS" emit state.set x 1
expect_rc 3
