#!/bin/sh
# kind = claude, with the real Claude Code CLI against the scripted
# Messages API (tests/claude/): four agents side by side, each its own
# conversation of the server. What their streams say is recorded with no
# instrumentation: the session (id drawn by smithers, model, version,
# tools), every tool call once with its input, output and status, matched
# by id when several run at once and end out of order, a failing tool, a
# permission denial, the result; tokens and cost equal to the CLI's own
# result line, per agent and totalled per execution.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/claude/lib.sh"

P=$T/p
mkdir "$P"
echo "a note to read" >"$P/notes.txt"
cat >"$T/script.json" <<'JSON'
[
 {"name": "one", "match": "MARK-ONE", "replies": [
  {"text": "I will run it.",
   "tool_uses": [{"id": "toolu_one", "name": "Bash",
                  "input": {"command": "echo hi", "description": "Print hi"}}],
   "usage": {"input_tokens": 100, "output_tokens": 20,
             "cache_read_input_tokens": 40, "cache_creation_input_tokens": 7}},
  {"text": "The command printed hi.",
   "usage": {"input_tokens": 150, "output_tokens": 7}}]},
 {"name": "par", "match": "MARK-PAR", "replies": [
  {"tool_uses": [
     {"id": "toolu_slow", "name": "Bash",
      "input": {"command": "sleep 0.5; echo from-slow", "description": "Slow"}},
     {"id": "toolu_read", "name": "Read", "input": {"file_path": "NOTES"}},
     {"id": "toolu_fast", "name": "Bash",
      "input": {"command": "echo from-fast", "description": "Fast"}}],
   "usage": {"input_tokens": 100, "output_tokens": 40}},
  {"text": "All three ran.", "usage": {"input_tokens": 300, "output_tokens": 6}}]},
 {"name": "err", "match": "MARK-ERR", "replies": [
  {"tool_uses": [{"id": "toolu_fail", "name": "Bash",
                  "input": {"command": "echo oops >&2; exit 3",
                            "description": "Fail"}}]},
  {"text": "It failed with status 3."}]},
 {"name": "deny", "match": "MARK-DENY", "replies": [
  {"tool_uses": [{"id": "toolu_write", "name": "Write",
                  "input": {"file_path": "out.txt", "content": "data\n"}}]},
  {"text": "I was not allowed to write."}]}
]
JSON
sed -i "s|NOTES|$P/notes.txt|" "$T/script.json"
fakeapi_start "$T/script.json"

cat >"$P/flow.ini" <<INI
[workflow]
name = claude-record
[phase work]
INI
for a in one:Bash par:Bash,Read err:Bash deny:Read; do
	cat >>"$P/flow.ini" <<INI
[agent ${a%%:*}]
phase = work
kind = claude
claude_command = $CLAUDE
prompt = MARK-$(echo "${a%%:*}" | tr a-z A-Z): do what you are told.
allowed_tools = ${a#*:}
restart = never
INI
done
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
check(sorted(agents) == ["deny", "err", "one", "par"], "agents %r" % agents)
calls = {}
for r in con.execute("SELECT t.*, a.name AS agent FROM tool_calls t"
                     " JOIN agents a ON a.id = t.agent_id ORDER BY t.id"):
    calls.setdefault(r["agent"], []).append(r)
uuid4 = re.compile("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
                   "[0-9a-f]{12}$")
for name, a in agents.items():
    check(a["status"] == "completed", "%s: %s %s" % (name, a["status"], a["error"]))
    check(a["kind"] == "claude", name + " kind")
    check(uuid4.match(a["session_id"] or ""), name + " session " + str(a["session_id"]))
    check(a["cli_version"] == "2.1.332", name + " version")
    check(a["model"], name + " model")
    check("Bash" in json.loads(a["tools"]), name + " tools")
    check(a["tool_call_count"] == len(calls.get(name, [])), name + " count")
    res = json.loads(a["structured_result"])
    check(res.get("subtype") == "success", name + " result " + str(res))
    # The raw stream stays in the log; its result line is the reference.
    lines = [json.loads(l) for l in open(a["log_path"]) if l.startswith("{")]
    last = [l for l in lines if l.get("type") == "result"][-1]
    check(last["session_id"] == a["session_id"], name + " log session")
    mu = last["modelUsage"].values()
    check(a["tokens_in"] == sum(m["inputTokens"] for m in mu), name + " in")
    check(a["tokens_out"] == sum(m["outputTokens"] for m in mu), name + " out")
    check(a["cache_read_tokens"] == sum(m["cacheReadInputTokens"] for m in mu),
          name + " cache read")
    check(a["cache_write_tokens"] == sum(m["cacheCreationInputTokens"] for m in mu),
          name + " cache write")
    check(abs(a["cost_usd"] - last["total_cost_usd"]) < 1e-9,
          "%s cost %r != %r" % (name, a["cost_usd"], last["total_cost_usd"]))
    check(res.get("num_turns") == last["num_turns"], name + " turns")
one = calls["one"]
check(len(one) == 1 and one[0]["tool_name"] == "Bash", "one: %r" % one)
check(one[0]["status"] == "completed" and one[0]["output_inline"] == "hi",
      "one output %r" % one[0]["output_inline"])
check(one[0]["external_id"] == "toolu_one", "one ref")
check(json.loads(one[0]["input"])["command"] == "echo hi", "one input")
check(agents["one"]["cache_read_tokens"] == 40, "one cache read")
check(agents["one"]["result"] == "The command printed hi.", "one result text")
par = {c["external_id"]: c for c in calls["par"]}
check(sorted(par) == ["toolu_fast", "toolu_read", "toolu_slow"], "par %r" % par)
check(par["toolu_slow"]["output_inline"] == "from-slow", "par slow")
check(par["toolu_fast"]["output_inline"] == "from-fast", "par fast")
check("a note to read" in par["toolu_read"]["output_inline"], "par read")
check(all(c["status"] == "completed" for c in par.values()), "par status")
check(par["toolu_fast"]["ended_at"] <= par["toolu_slow"]["ended_at"], "par order")
err = calls["err"]
check(len(err) == 1 and err[0]["status"] == "failed", "err %r" % err)
check("oops" in (err[0]["output_inline"] or ""), "err output")
check(err[0]["error"], "err error")
deny = calls["deny"]
check(len(deny) == 1 and deny[0]["tool_name"] == "Write" and
      deny[0]["status"] == "failed", "deny %r" % deny)
den = json.loads(agents["deny"]["structured_result"])["permission_denials"]
check(len(den) == 1 and den[0]["tool_name"] == "Write", "denials %r" % den)
e = con.execute("SELECT * FROM executions").fetchone()
check(e["status"] == "completed", "execution")
for col in ("tokens_in", "tokens_out", "cache_read_tokens",
            "cache_write_tokens"):
    check(e[col] == sum(a[col] for a in agents.values()), "execution " + col)
check(abs(e["cost_usd"] - sum(a["cost_usd"] for a in agents.values())) < 1e-9,
      "execution cost")
check(e["total_tool_calls"] == 6, "execution calls %r" % e["total_tool_calls"])
PY

# The same through smithers db, as people read it.
run "$SMITHERS" --dir "$P" db agents
expect_rc 0
out_has "claude"
out_has "completed"
run "$SMITHERS" --dir "$P" db agents --json
expect_rc 0
json 'len(j) == 4 and all(a["cost_usd"] > 0 and a["turns"] for a in j)'
exit 0
