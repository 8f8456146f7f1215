#!/bin/sh
# Budgets, with the real Claude Code CLI (its cost is its own price table
# times the tokens the scripted API reports):
#  1. an agent's max_cost_usd crossed: the agent fails "budget exceeded:
#     $X of $Y" and is not restarted, the stop is a change of
#     smithers.budget, the execution fails;
#  2. the workflow's max_cost_usd crossed by one agent while another is in
#     a long turn: that one is stopped with SIGINT (the CLI ends its turn
#     and says so), both fail with the budget's error, the execution fails
#     with it, at once rather than after the long turn.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/claude/lib.sh"

# The second spender waits (a Bash call) until the slow agent's request
# is at the server, so that the budget is crossed in the middle of its turn.
cat >"$T/script.json" <<'JSON'
[
 {"name": "spend", "match": "MARK-SPEND1", "replies": [
  {"text": "That was expensive.",
   "usage": {"input_tokens": 100000, "output_tokens": 10},
   "times": "forever"}]},
 {"name": "spend2", "match": "MARK-SPEND2", "replies": [
  {"tool_uses": [{"id": "toolu_wait", "name": "Bash", "input": {
     "command": "until grep -q MARK-SLOW REQUESTS; do sleep 0.1; done",
     "description": "Wait"}}],
   "usage": {"input_tokens": 10, "output_tokens": 10}},
  {"text": "That was expensive.",
   "usage": {"input_tokens": 100000, "output_tokens": 10}}]},
 {"name": "slow", "match": "MARK-SLOW", "replies": [
  {"text": "This answer takes its time.", "delay": 60}]}
]
JSON
sed -i "s|REQUESTS|$T/fakeapi/requests.jsonl|" "$T/script.json"
fakeapi_start "$T/script.json"

budget_row() {
	"$PYTHON" - "$T/.smithers/smithers.db" "$@" <<'PY' || fail "budget not recorded"
import json, sqlite3, sys
con = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
scope, limit = sys.argv[2], float(sys.argv[3])
rows = con.execute("SELECT t.trigger, t.new_value, a.name FROM transitions t"
                   " LEFT JOIN agents a ON a.id = t.agent_id"
                   " WHERE t.key = 'smithers.budget'").fetchall()
if len(rows) != 1:
    sys.exit("smithers.budget: %r" % rows)
trigger, value, agent = rows[0]
v = json.loads(value)
if trigger != "budget" or v["scope"] != scope or v["limit_usd"] != limit \
        or v["spent_usd"] < limit or agent != "spender":
    sys.exit("smithers.budget: %r %r %r" % rows[0])
e = con.execute("SELECT status, error FROM executions").fetchone()
if e[0] != "failed" or "budget exceeded" not in (e[1] or ""):
    sys.exit("execution %r" % (e,))
PY
}

# ---- 1. an agent's budget ------------------------------------------------------
cat >"$T/flow.ini" <<INI
[workflow]
name = budget-agent
[phase p]
on_failure = continue
[phase next]
[agent spender]
phase = p
kind = claude
claude_command = $CLAUDE
prompt = MARK-SPEND1
max_cost_usd = 0.10
restart = always
max_restarts = 3
[agent never]
phase = next
command = true
INI
start_run "$T/flow.ini"
wait_run
expect_rc 1
sql_is "SELECT status, attempt, error FROM agents WHERE name = 'spender'" \
	'failed|1|budget exceeded: $0.4002 of $0.10'
sql_is "SELECT count(*) FROM agents WHERE name = 'never'" 0
budget_row agent 0.1

# ---- 2. the execution's budget -------------------------------------------------
rm -rf "$T/.smithers"
cat >"$T/flow.ini" <<INI
[workflow]
name = budget-execution
max_cost_usd = 0.30
stop_grace = 20s
[phase p]
[agent slow]
phase = p
kind = claude
claude_command = $CLAUDE
prompt = MARK-SLOW
[agent spender]
phase = p
kind = claude
claude_command = $CLAUDE
prompt = MARK-SPEND2
allowed_tools = Bash
INI
started=$(date +%s)
start_run "$T/flow.ini"
wait_run
expect_rc 1
took=$(($(date +%s) - started))
[ "$took" -lt 40 ] || fail "the slow agent was not stopped: ${took}s"
sql_is "SELECT name, status, error LIKE 'budget exceeded: \$0.40__ of \$0.30 (the execution''s)' FROM agents ORDER BY name" \
"slow|failed|1
spender|failed|1"
budget_row execution 0.3
# SIGINT, not the stop signal: the CLI ended its turn and said so (SIGTERM
# ends it without a word). Its result line comes only when the answer had
# begun; the interruption is always in its stream.
log=$(sql "SELECT log_path FROM agents WHERE name = 'slow'")
grep -q 'Request interrupted by user' "$log" ||
	fail "the slow CLI was not interrupted: $(tail -c 600 "$log")
--- the supervisor's log:
$(tail -n 30 "$T/.sup.err")"
sql_is "SELECT max_cost_usd, cost_usd >= 0.4 FROM executions" "0.3|1"
exit 0
