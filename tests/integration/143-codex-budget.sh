#!/bin/sh
# Budgets with the real Codex CLI, which reports tokens and no cost:
#  1. an agent's max_tokens crossed: the agent fails "token budget
#     exceeded: N of M tokens" and is not restarted, the stop is a change
#     of smithers.budget (spent_tokens, limit_tokens), the execution fails;
#  2. an agent's max_cost_usd, its cost computed from the workflow's
#     prices: "budget exceeded: $X of $Y";
#  3. the workflow's max_tokens crossed by one agent while another is in a
#     long turn: that one is stopped with SIGINT, both fail with the
#     budget's error, the execution fails at once rather than after the
#     long turn.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/codex/lib.sh"

cat >"$T/script.json" <<'JSON'
[
 {"name": "spend", "match": "MARK-SPEND", "replies": [
  {"text": "That took many tokens.",
   "usage": {"input_tokens": 5000, "output_tokens": 10},
   "times": "forever"}]},
 {"name": "slow", "match": "MARK-SLOW", "replies": [
  {"text": "This answer takes its time.", "delay": 60}]}
]
JSON
fakeapi_start "$T/script.json"

# budget_row SCOPE UNIT LIMIT: the stop recorded in smithers.budget.
budget_row() {
	"$PYTHON" - "$T/.smithers/smithers.db" "$@" <<'PY' || fail "budget not recorded"
import json, sqlite3, sys
con = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
scope, unit, limit = sys.argv[2], sys.argv[3], float(sys.argv[4])
rows = con.execute("SELECT new_value, trigger FROM transitions"
                   " WHERE key = 'smithers.budget'").fetchall()
if len(rows) != 1 or rows[0][1] != "budget":
    sys.exit("transitions %r" % rows)
v = json.loads(rows[0][0])
if v["scope"] != scope or v["limit_" + unit] != limit or \
        v["spent_" + unit] < limit:
    sys.exit("budget %r" % v)
e = con.execute("SELECT status FROM executions").fetchone()
if e != ("failed",):
    sys.exit("execution %r" % (e,))
PY
}

# ---- 1. an agent's max_tokens ------------------------------------------------
cat >"$T/flow.ini" <<INI
[phase p]
[agent spend]
phase = p
kind = codex
codex_command = $CODEX
prompt = MARK-SPEND
max_tokens = 1000
restart = on-failure
backoff = 100ms
INI
run "$SMITHERS" --dir "$T" run "$T/flow.ini"
expect_rc 1
sql_is "SELECT status, attempt, error FROM agents" \
	"failed|1|token budget exceeded: 5010 of 1000 tokens"
budget_row agent tokens 1000

# ---- 2. an agent's max_cost_usd, from the prices -----------------------------
rm -rf "$T/.smithers"
cat >"$T/flow.ini" <<INI
[workflow]
price_input = 10
price_cached_input = 1
price_output = 40
[phase p]
[agent spend]
phase = p
kind = codex
codex_command = $CODEX
prompt = MARK-SPEND
max_cost_usd = 0.01
restart = never
INI
run "$SMITHERS" --dir "$T" run "$T/flow.ini"
expect_rc 1
# 5000 input tokens at $10 and 10 output at $40 a million: $0.0504.
sql_is "SELECT status, error, round(cost_usd, 6) FROM agents" \
	"failed|budget exceeded: \$0.0504 of \$0.01|0.0504"
budget_row agent usd 0.01

# ---- 3. the workflow's max_tokens, another agent mid-turn --------------------
rm -rf "$T/.smithers"
cat >"$T/flow.ini" <<INI
[workflow]
max_tokens = 4000
[phase p]
[agent slow]
phase = p
kind = codex
codex_command = $CODEX
prompt = MARK-SLOW
restart = never
stop_grace = 5s
[agent spend]
phase = p
kind = codex
codex_command = $CODEX
prompt = MARK-SPEND
restart = never
INI
start=$(date +%s)
run "$SMITHERS" --dir "$T" run "$T/flow.ini"
expect_rc 1
[ $(($(date +%s) - start)) -lt 40 ] || fail "the slow agent was not stopped"
want="token budget exceeded: 5010 of 4000 tokens (the execution's)"
sql_is "SELECT name, status, error FROM agents ORDER BY name" \
	"slow|failed|$want
spend|failed|$want"
budget_row execution tokens 4000
exit 0
