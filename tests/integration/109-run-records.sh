#!/bin/sh
# What a Python agent records through the protocol lands where it belongs:
# tool calls (a large output spilled to logs/objects by its git blob id),
# memories, token usage on the agent and the execution, log lines in the
# supervisor log, the result on the agent row; and the environment it runs
# in is the documented one.
. "$top_srcdir/tests/integration/lib.sh"

cat >flow.ini <<INI
[workflow]
name = records
[phase work]
[agent py]
phase = work
command = $AGENT tools && env | grep ^SMITHERS_ | sort >$T/env.txt
model = test-model
prompt = do the thing
env = EXTRA=1
INI

run "$SMITHERS" --dir "$T" run flow.ini
expect_rc 0
sql_is "SELECT tool_name, status, output_size, output_inline IS NULL,
	output_path IS NOT NULL, summary LIKE 'xxxx%... (5000 bytes)',
	summary FROM tool_calls ORDER BY id" \
"ls|completed|5000|1|1|1|$(sql "SELECT summary FROM tool_calls WHERE id = 1")
wc|completed|8|0|0|0|count"
hash=$(sql "SELECT output_hash FROM tool_calls WHERE tool_name = 'ls'")
want=$("$PYTHON" -c 'import sys; sys.stdout.write("x" * 5000)' | "$GIT" hash-object --stdin)
[ "$hash" = "$want" ] || fail "output hash $hash is not git's $want"
[ -f "$T/.smithers/logs/objects/$(echo "$want" | cut -c1-2)/$(echo "$want" | cut -c3-)" ] ||
	fail "the spilled output is not in logs/objects"
sql_is "SELECT category, scope, key, content, source, source_execution_id
	FROM memories" "fact|global|python|python agents work|py|1"
sql_is "SELECT tokens_in, tokens_out, tool_call_count, result,
	structured_result, model, prompt FROM agents" \
	'100|7|2|done|{"ok":true}|test-model|do the thing'
sql_is "SELECT tokens_in, tokens_out, total_tool_calls FROM executions" \
	"100|7|2"
grep -q "agent 'py': info: hello from python" "$T/.smithers/supervisor.log" ||
	fail "the agent's log line is not in the supervisor log"
for var in SMITHERS_AGENT=py SMITHERS_AGENT_ID=1 SMITHERS_ATTEMPT=1 \
	SMITHERS_EXECUTION_ID=1 SMITHERS_FD=3 SMITHERS_ACK_FD=4 \
	SMITHERS_ITERATION=0 SMITHERS_MODEL=test-model SMITHERS_PHASE=work \
	"SMITHERS_PROMPT=do the thing" "SMITHERS_DIR=$T"; do
	grep -qx "$var" "$T/env.txt" || fail "the agent's environment lacks $var"
done
