#!/bin/sh
# Eight Claude Code agents at once (the real CLI, one scripted API server):
# every tool call is recorded exactly once, with its agent; a subagent's
# calls (the Agent tool, its own conversation on the server) are linked to
# the call that spawned it; a tool output over 1 MiB is recorded.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/claude/lib.sh"

"$PYTHON" - "$T/script.json" <<'PY'
import json, sys
convs = [{"name": "sub", "match": "SUBAGENT-MARKER", "replies": [
    {"text": "Checking.", "tool_uses": [{"id": "toolu_sub_bash",
     "name": "Bash", "input": {"command": "echo from-subagent",
     "description": "Echo"}}]},
    {"text": "The subagent saw from-subagent."}]}]
for i in range(1, 7):
    convs.append({"name": "a%d" % i, "match": "MARK-A%d:" % i, "replies": [
        {"text": "Two commands.", "tool_uses": [
            {"id": "toolu_a%d_x" % i, "name": "Bash",
             "input": {"command": "echo a%d-x" % i, "description": "x"}},
            {"id": "toolu_a%d_y" % i, "name": "Bash",
             "input": {"command": "echo a%d-y" % i, "description": "y"}}]},
        {"text": "Both ran."}]})
convs.append({"name": "a7", "match": "MARK-A7:", "replies": [
    {"tool_uses": [{"id": "toolu_agent", "name": "Agent", "input": {
        "description": "Run echo",
        "prompt": "SUBAGENT-MARKER: run echo from-subagent and report",
        "subagent_type": "general-purpose", "run_in_background": False}}]},
    {"text": "The subagent reported back."}]})
convs.append({"name": "a8", "match": "MARK-A8:", "replies": [
    {"tool_uses": [{"id": "toolu_big", "name": "Bash", "input": {
        "command": "yes x | head -c 1200000",
        "description": "Big"}}]},
    {"text": "That was a lot."}]})
json.dump(convs, open(sys.argv[1], "w"))
PY
fakeapi_start "$T/script.json"

{
	printf '[workflow]\nname = fleet\n[phase p]\n'
	for i in 1 2 3 4 5 6 7 8; do
		tools=Bash
		[ "$i" = 7 ] && tools=Bash,Agent
		printf '[agent a%d]\nphase = p\nkind = claude\nclaude_command = %s\n' "$i" "$CLAUDE"
		printf 'prompt = MARK-A%d: do what you are told.\nallowed_tools = %s\nrestart = never\n' "$i" "$tools"
	done
} >"$T/flow.ini"
start_run "$T/flow.ini"
wait_run
expect_rc 0

"$PYTHON" - "$T/.smithers/smithers.db" <<'PY' || fail "the fleet's calls are wrong"
import sqlite3, sys
con = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
con.row_factory = sqlite3.Row
def check(cond, what):
    if not cond:
        sys.exit("FAIL: " + what)
agents = {r["name"]: r for r in con.execute("SELECT * FROM agents")}
check(len(agents) == 8, "agents %r" % list(agents))
for a in agents.values():
    check(a["status"] == "completed", "%s %s %s" % (a["name"], a["status"], a["error"]))
calls = con.execute("SELECT t.*, a.name AS agent FROM tool_calls t"
                    " JOIN agents a ON a.id = t.agent_id").fetchall()
refs = [(c["agent"], c["external_id"]) for c in calls]
check(len(refs) == len(set(refs)), "a call recorded twice: %r" % refs)
want = {("a%d" % i, "toolu_a%d_%s" % (i, s)) for i in range(1, 7) for s in "xy"}
want |= {("a7", "toolu_agent"), ("a7", "toolu_sub_bash"), ("a8", "toolu_big")}
check(set(refs) == want, "calls %r" % sorted(refs))
check(all(c["status"] == "completed" for c in calls),
      "statuses %r" % [(c["external_id"], c["status"]) for c in calls])
by = {c["external_id"]: c for c in calls}
for i in range(1, 7):
    for s in "xy":
        c = by["toolu_a%d_%s" % (i, s)]
        check(c["agent"] == "a%d" % i and c["output_inline"] == "a%d-%s" % (i, s),
              "output of %s: %r" % (c["external_id"], c["output_inline"]))
check(by["toolu_sub_bash"]["parent_id"] == by["toolu_agent"]["id"],
      "the subagent's call is not under its Agent call")
check(by["toolu_agent"]["parent_id"] is None, "the Agent call has a parent")
check("from-subagent" in (by["toolu_sub_bash"]["output_inline"] or ""),
      "subagent output")
big = by["toolu_big"]
check(big["output_size"] > 1024 and big["output_path"], "big output %r"
      % dict(big))
for a in agents.values():
    n = sum(1 for c in calls if c["agent"] == a["name"])
    check(a["tool_call_count"] == n, "%s counts %d, has %d" %
          (a["name"], a["tool_call_count"], n))
e = con.execute("SELECT total_tool_calls FROM executions").fetchone()[0]
check(e == len(calls), "execution counts %d, has %d" % (e, len(calls)))
PY

# The tree, as people read it.
run "$SMITHERS" db tools
expect_rc 0
out_has "Agent"
exit 0
