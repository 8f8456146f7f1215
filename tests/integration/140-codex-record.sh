#!/bin/sh
# kind = codex, with the real Codex CLI against the scripted Responses API
# (tests/codex/): four agents side by side, each its own conversation of
# the server. What their event streams say is recorded with no
# instrumentation: the thread as the agent's session, each command once as
# a `shell` call with its input, output and status (several at once, ended
# in any order; a command that exits 3 fails with "exit 3"; an output over
# 1 MiB stored as an object), the last message as the result, the tokens
# equal to the CLI's own turn.completed, per agent and per execution; the
# cost unknown without prices, computed from the tokens with them.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/codex/lib.sh"

P=$T/p
mkdir "$P"
echo "a note to read" >"$P/notes.txt"
cat >"$T/script.json" <<'JSON'
[
 {"name": "one", "match": "MARK-ONE", "replies": [
  {"text": "I will run it.",
   "calls": [{"call_id": "call_one", "name": "exec_command",
              "arguments": {"cmd": "echo hi"}}],
   "usage": {"input_tokens": 100, "cached_tokens": 40, "output_tokens": 20,
             "reasoning_tokens": 5}},
  {"text": "The command printed hi.",
   "usage": {"input_tokens": 150, "cached_tokens": 100, "output_tokens": 7}}]},
 {"name": "par", "match": "MARK-PAR", "replies": [
  {"calls": [
     {"call_id": "call_slow", "name": "exec_command",
      "arguments": {"cmd": "sleep 0.5; echo from-slow"}},
     {"call_id": "call_fast", "name": "exec_command",
      "arguments": {"cmd": "echo from-fast"}},
     {"call_id": "call_cat", "name": "exec_command",
      "arguments": {"cmd": "cat notes.txt"}}],
   "usage": {"input_tokens": 100, "output_tokens": 30}},
  {"text": "All three ran.",
   "usage": {"input_tokens": 300, "cached_tokens": 100, "output_tokens": 6}}]},
 {"name": "err", "match": "MARK-ERR", "replies": [
  {"calls": [{"call_id": "call_fail", "name": "exec_command",
              "arguments": {"cmd": "echo oops >&2; exit 3"}}]},
  {"text": "It failed with status 3."}]},
 {"name": "big", "match": "MARK-BIG", "replies": [
  {"calls": [{"call_id": "call_big", "name": "exec_command",
              "arguments": {"cmd": "seq 1 300000", "yield_time_ms": 30000}}]},
  {"text": "That was long."}]}
]
JSON
fakeapi_start "$T/script.json"

cat >"$P/flow.ini" <<INI
[workflow]
name = codex-record
[phase work]
INI
for a in one par err big; do
	cat >>"$P/flow.ini" <<INI
[agent $a]
phase = work
kind = codex
codex_command = $CODEX
prompt = MARK-$(echo "$a" | tr a-z A-Z): do what you are told.
restart = never
INI
done
# One agent with prices: its cost is computed from its tokens.
cat >>"$P/flow.ini" <<INI
price_input = 2
price_cached_input = 0.5
price_output = 8
INI
run "$SMITHERS" --dir "$P" run "$P/flow.ini"
expect_rc 0

"$PYTHON" - "$P/.smithers/smithers.db" <<'PY' || fail "recorded wrong"
import json, re, sqlite3, sys
con = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
con.row_factory = sqlite3.Row
def check(cond, what):
    if not cond:
        sys.exit("FAIL: " + what)
agents = {r["name"]: r for r in con.execute("SELECT * FROM agents")}
check(sorted(agents) == ["big", "err", "one", "par"], "agents %r" % agents)
calls = {}
for r in con.execute("SELECT t.*, a.name AS agent FROM tool_calls t"
                     " JOIN agents a ON a.id = t.agent_id ORDER BY t.id"):
    calls.setdefault(r["agent"], []).append(r)
uuid = re.compile("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-"
                  "[0-9a-f]{12}$")
for name, a in agents.items():
    check(a["status"] == "completed", "%s: %s %s" % (name, a["status"], a["error"]))
    check(a["kind"] == "codex", name + " kind")
    check(a["tool_call_count"] == len(calls.get(name, [])), name + " count")
    # The raw stream stays in the log: its thread and its usage are the
    # reference.
    lines = []
    for l in open(a["log_path"], errors="replace"):
        if l.startswith("{"):
            try:
                lines.append(json.loads(l))
            except ValueError:
                pass
    started = [l for l in lines if l.get("type") == "thread.started"]
    check(len(started) == 1, name + " thread.started %r" % started)
    check(uuid.match(a["session_id"] or ""), name + " session %r" % a["session_id"])
    check(started[0]["thread_id"] == a["session_id"], name + " log session")
    u = [l for l in lines if l.get("type") == "turn.completed"][-1]["usage"]
    check(a["tokens_in"] == u["input_tokens"], name + " in %r %r" % (a["tokens_in"], u))
    check(a["tokens_out"] == u["output_tokens"], name + " out")
    check(a["cache_read_tokens"] == u["cached_input_tokens"], name + " cached")
    check(a["reasoning_tokens"] == u["reasoning_output_tokens"], name + " reasoning")
    msgs = [l["item"]["text"] for l in lines if l.get("type") == "item.completed"
            and l["item"].get("type") == "agent_message"]
    check(a["result"] == msgs[-1], name + " result %r" % a["result"])
    for c in calls.get(name, []):
        check(c["tool_name"] == "shell", name + " tool " + c["tool_name"])
one = calls["one"]
check(len(one) == 1 and one[0]["status"] == "completed", "one: %r" % one)
check("echo hi" in json.loads(one[0]["input"])["command"], "one input")
check(one[0]["output_inline"].strip() == "hi", "one output %r" % one[0]["output_inline"])
check(agents["one"]["reasoning_tokens"] == 5, "one reasoning")
par = {json.loads(c["input"])["command"]: c for c in calls["par"]}
check(len(par) == 3, "par %r" % list(par))
outs = sorted((c["output_inline"] or "").strip() for c in par.values())
check(outs == ["a note to read", "from-fast", "from-slow"], "par outputs %r" % outs)
check(all(c["status"] == "completed" for c in par.values()), "par status")
err = calls["err"]
check(len(err) == 1 and err[0]["status"] == "failed", "err %r" % err)
check(err[0]["error"] == "exit 3", "err error %r" % err[0]["error"])
check("oops" in (err[0]["output_inline"] or ""), "err output")
big = calls["big"]
check(len(big) == 1 and big[0]["status"] == "completed", "big %r" % big)
check(big[0]["output_path"] and big[0]["output_size"] > 512 * 1024,
      "big output %r %r" % (big[0]["output_path"], big[0]["output_size"]))
# No prices: the cost is unknown, for the agents and their execution.
for name in ("one", "par", "err"):
    check(agents[name]["cost_usd"] is None, name + " cost %r" % agents[name]["cost_usd"])
# big has prices: (input - cached) * 2 + cached * 0.5 + output * 8, per 1M.
b = agents["big"]
want = ((b["tokens_in"] - b["cache_read_tokens"]) * 2 +
        b["cache_read_tokens"] * 0.5 + b["tokens_out"] * 8) / 1e6
check(b["cost_usd"] is not None and abs(b["cost_usd"] - want) < 1e-12,
      "big cost %r != %r" % (b["cost_usd"], want))
e = con.execute("SELECT * FROM executions").fetchone()
check(e["status"] == "completed", "execution")
for col in ("tokens_in", "tokens_out", "cache_read_tokens", "reasoning_tokens"):
    check(e[col] == sum(a[col] for a in agents.values()), "execution " + col)
check(abs(e["cost_usd"] - b["cost_usd"]) < 1e-12, "execution cost %r" % e["cost_usd"])
check(e["total_tool_calls"] == 6, "execution calls %r" % e["total_tool_calls"])
PY

# The same through smithers db, as people read it.
run "$SMITHERS" --dir "$P" db agents
expect_rc 0
out_has "codex"
run "$SMITHERS" --dir "$P" db agents --json
expect_rc 0
json 'len(j) == 4 and sum(a["cost_usd"] is None for a in j) == 3'
exit 0
