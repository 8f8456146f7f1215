#!/bin/sh
# A Claude Code agent and a Codex agent side by side in one phase, each the
# real CLI against its own scripted API: both recorded through the same
# layer (a session each, their calls, tokens, results), the execution's
# totals the sum of both, the Codex agent's cost unknown and the
# execution's the Claude agent's; smithers db and smithers-top show each
# kind, and the unknown cost as such.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/claude/lib.sh"

cat >"$T/claude.json" <<'JSON'
[{"name": "main", "match": "", "replies": [
  {"tool_uses": [{"id": "toolu_c", "name": "Bash",
                  "input": {"command": "echo from-claude", "description": "Echo"}}],
   "usage": {"input_tokens": 100, "output_tokens": 20}},
  {"text": "Claude is done.", "usage": {"input_tokens": 150, "output_tokens": 5}}]}]
JSON
fakeapi_start "$T/claude.json"
CLAUDE_REQUESTS=$(fakeapi_requests)

# The Codex side has a server of its own.
. "$top_srcdir/tests/codex/lib.sh"
FAKEAPI_DIR=$T/fakeapi-codex
cat >"$T/codex.json" <<'JSON'
[{"name": "main", "match": "", "replies": [
  {"calls": [{"call_id": "call_x", "name": "exec_command",
              "arguments": {"cmd": "until [ -e GO ]; do sleep 0.1; done; echo from-codex",
                            "yield_time_ms": 120000}}],
   "usage": {"input_tokens": 100, "output_tokens": 20}},
  {"text": "Codex is done.", "usage": {"input_tokens": 200, "output_tokens": 7}}]}]
JSON
sed -i "s|GO|$T/go|" "$T/codex.json"
fakeapi_start "$T/codex.json"

cat >"$T/flow.ini" <<INI
[workflow]
name = both
[phase p]
[agent c]
phase = p
kind = claude
claude_command = $CLAUDE
prompt = Run the command.
allowed_tools = Bash
restart = never
[agent x]
phase = p
kind = codex
codex_command = $CODEX
prompt = Run the command.
restart = never
INI
start_run "$T/flow.ini"
# While the Codex agent's command waits for the file go, smithers-top
# shows each agent's kind, the Claude agent's cost, the Codex agent's
# unknown.
claude_done() {
	[ "$(sql "SELECT status FROM agents WHERE name = 'c'")" = completed ]
}
codex_waits() {
	[ "$(sql "SELECT count(*) FROM tool_calls WHERE tool_name = 'shell'")" = 1 ]
}
wait_until 60 claude_done
wait_until 60 codex_waits
run "$top_builddir/tools/smithers-top" -b --json --dir "$T"
expect_rc 0
json 'sorted((a["name"], a["kind"], a["cost_usd"] is None) for a in j["agents"]) == [("c", "claude", False), ("x", "codex", True)]'
run "$top_builddir/tools/smithers-top" -b --dir "$T"
expect_rc 0
out_has "codex"
touch "$T/go"
wait_run
expect_rc 0
[ -s "$CLAUDE_REQUESTS" ] || fail "the Claude CLI sent nothing"
[ "$(fakeapi_count)" -ge 2 ] || fail "the Codex CLI sent nothing"

"$PYTHON" - "$T/.smithers/smithers.db" <<'PY' || fail "recorded wrong"
import sqlite3, sys
con = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
con.row_factory = sqlite3.Row
a = {r["name"]: r for r in con.execute("SELECT * FROM agents")}
def check(cond, what):
    if not cond:
        sys.exit("FAIL: " + what)
check(a["c"]["kind"] == "claude" and a["x"]["kind"] == "codex", "kinds")
for n, text in (("c", "Claude is done."), ("x", "Codex is done.")):
    check(a[n]["status"] == "completed", "%s %s %r" % (n, a[n]["status"], a[n]["error"]))
    check(a[n]["result"] == text, "%s result %r" % (n, a[n]["result"]))
    check(a[n]["session_id"] and len(a[n]["session_id"]) == 36, n + " session")
    check(a[n]["tool_call_count"] == 1, n + " calls")
calls = dict((r[0], r[1].strip()) for r in con.execute(
    "SELECT a.name, t.output_inline FROM tool_calls t"
    " JOIN agents a ON a.id = t.agent_id"))
check(calls == {"c": "from-claude", "x": "from-codex"}, "calls %r" % calls)
check(a["c"]["cost_usd"] is not None and a["c"]["cost_usd"] > 0, "claude cost")
check(a["x"]["cost_usd"] is None, "codex cost %r" % a["x"]["cost_usd"])
e = con.execute("SELECT * FROM executions").fetchone()
check(e["tokens_in"] == a["c"]["tokens_in"] + a["x"]["tokens_in"], "tokens in")
check(e["tokens_out"] == a["c"]["tokens_out"] + a["x"]["tokens_out"], "tokens out")
check(abs(e["cost_usd"] - a["c"]["cost_usd"]) < 1e-12, "execution cost")
PY
run "$SMITHERS" --dir "$T" db agents
expect_rc 0
out_has "claude"
out_has "codex"
exit 0
