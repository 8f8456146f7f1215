#!/bin/sh
# A claude agent's worker SIGKILLed while the CLI runs a tool: the call it
# could not close fails as interrupted, the agent resumes its session, and
# the next run's calls (numbered afresh by the new worker) are recorded.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/claude/lib.sh"

cat >"$T/script.json" <<'JSON'
[{"name": "main", "match": "", "replies": [
  {"tool_uses": [{"id": "toolu_long", "name": "Bash",
                  "input": {"command": "touch STARTED; sleep 60", "description": "Long"}}]},
  {"tool_uses": [{"id": "toolu_again", "name": "Bash",
                  "input": {"command": "echo again", "description": "Again"}}]},
  {"text": "Done at last."}
]}]
JSON
sed -i "s|STARTED|$T/started|" "$T/script.json"
fakeapi_start "$T/script.json"
cat >"$T/flow.ini" <<INI
[workflow]
name = worker-killed
[phase p]
[agent a]
phase = p
kind = claude
claude_command = $CLAUDE
prompt = MARK: work.
allowed_tools = Bash
restart = on-failure
backoff = 100ms
INI
start_run "$T/flow.ini"
wait_until 60 test -e "$T/started"
worker=$(sql "SELECT worker_pid FROM agents")
[ -n "$worker" ] || fail "no worker pid recorded"
kill -KILL "$worker"
wait_run
expect_rc 0
sql_is "SELECT external_id, status, coalesce(error, '') FROM tool_calls ORDER BY id" \
"toolu_long|failed|interrupted
toolu_again|completed|"
sql_is "SELECT status, attempt, resumes, result FROM agents" \
	"completed|2|1|Done at last."
# The CLI runs a Bash tool's command in a process group of its own, which
# the agent's group kill does not reach (containment is cgroups' job).
for p in $(pgrep -f "$T/started"); do
	kill -KILL -- "-$(ps -o pgid= -p "$p" | tr -d ' ')" 2>/dev/null || :
done
exit 0
