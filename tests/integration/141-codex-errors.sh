#!/bin/sh
# kind = codex when things go wrong, each with a clear error and nothing
# lost: the real CLI failing its turn on API errors after its retries
# (logged, not fatal while it retries: a turn that then succeeds
# completes); a codex_command that does not exist; a CLI that exits before
# it says its thread (the error shows its stderr); garbage and events of
# unknown types on stdout; an item completed that never started; a stream
# that ends without completing its turn. And the workflow's own mistakes:
# kind = codex without a prompt, with a command, with claude's keys.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/codex/lib.sh"

# ---- the workflow's mistakes, at load time ----------------------------------
printf '[phase p]\n[agent a]\nphase = p\nkind = codex\n' >"$T/bad.ini"
run "$SMITHERS" --dir "$T" run "$T/bad.ini"
[ "$rc" -ne 0 ] || fail "kind = codex without a prompt was taken"
err_has "bad.ini:2: [agent a] has kind = codex but no 'prompt' or 'prompt_file' (required)"
printf '[phase p]\n[agent a]\nphase = p\nkind = codex\nprompt = x\ncommand = codex\n' >"$T/bad.ini"
run "$SMITHERS" --dir "$T" run "$T/bad.ini"
[ "$rc" -ne 0 ] || fail "kind = codex with a command was taken"
err_has "bad.ini:6: [agent a] has kind = codex: smithers runs the CLI itself"
printf '[phase p]\n[agent a]\nphase = p\nkind = codex\nprompt = x\nallowed_tools = Bash\n' >"$T/bad.ini"
run "$SMITHERS" --dir "$T" run "$T/bad.ini"
[ "$rc" -ne 0 ] || fail "kind = codex with allowed_tools was taken"
err_has "bad.ini:6: 'allowed_tools' is for kind = claude only ([agent a] is kind = codex)"

# ---- failures at run time ---------------------------------------------------
P=$T/p
mkdir "$P"
cat >"$T/script.json" <<'JSON'
[
 {"name": "api", "match": "MARK-API", "replies": [
  {"status": 500, "message": "fakeapi: internal error", "times": "forever"}]},
 {"name": "retry", "match": "MARK-RETRY", "replies": [
  {"failed": {"code": "server_error", "message": "fakeapi: the stream failed"}},
  {"text": "Answered on the second attempt.",
   "usage": {"input_tokens": 100, "output_tokens": 6}}]}
]
JSON
fakeapi_start "$T/script.json"
# A stream of our own: garbage, an unknown event, an item completed that
# never started, then the turn.
cat >"$T/odd.jsonl" <<'JSONL'
this is not JSON
{"type":"thread.started","thread_id":"01a241b0-0000-7000-8000-000000000001"}
{"type":"mystery.event","x":1}
{"type":"item.completed","item":{"id":"item_9","type":"command_execution","command":"ls","aggregated_output":"a\nb\n","exit_code":0,"status":"completed"}}
{"type":"item.completed","item":{"id":"item_10","type":"agent_message","text":"Listed."}}
{"type":"turn.completed","usage":{"input_tokens":10,"cached_input_tokens":0,"output_tokens":2,"reasoning_output_tokens":0}}
JSONL
cat >"$P/flow.ini" <<INI
[workflow]
name = codex-errors
[phase p]
[agent api]
phase = p
kind = codex
codex_command = $CODEX
prompt = MARK-API
restart = never
[agent retry]
phase = p
kind = codex
codex_command = $CODEX
prompt = MARK-RETRY
restart = never
[agent missing]
phase = p
kind = codex
codex_command = $T/no-such-codex
prompt = x
restart = never
[agent early]
phase = p
kind = codex
codex_command = sh -c 'echo "Error: unknown provider fakeapi2" >&2; exit 1'
prompt = x
restart = never
[agent odd]
phase = p
kind = codex
codex_command = sh -c 'cat "\$0"' $T/odd.jsonl
prompt = x
restart = never
[agent cut]
phase = p
kind = codex
codex_command = sh -c 'echo "{\\"type\\":\\"thread.started\\",\\"thread_id\\":\\"t\\"}"; printf "{\\"type\\":\\"turn.compl"'
prompt = x
restart = never
INI
run "$SMITHERS" --dir "$P" run "$P/flow.ini"
expect_rc 1
cp "$ERR" "$T/sup.err"

"$PYTHON" - "$P/.smithers/smithers.db" <<'PY' || fail "wrong errors"
import sqlite3, sys
con = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
con.row_factory = sqlite3.Row
agents = {r["name"]: r for r in con.execute("SELECT * FROM agents")}
err = {k: a["error"] for k, a in agents.items() if a["status"] == "failed"}
want = {
    "api": "experiencing high demand",
    "missing": "codex_command '",
    "early": "ended without completing its turn (exit status 1): Error: unknown provider fakeapi2",
    "cut": "ended without completing its turn (exit status 0)",
}
bad = ["%s: %r lacks %r" % (k, err.get(k), v) for k, v in want.items()
       if v not in (err.get(k) or "")]
if "npm install -g @openai/codex" not in (err.get("missing") or ""):
    bad.append("missing: no install hint: %r" % err.get("missing"))
for ok in ("retry", "odd"):
    if agents[ok]["status"] != "completed":
        bad.append("%s: %s %r" % (ok, agents[ok]["status"], agents[ok]["error"]))
if agents["retry"]["result"] != "Answered on the second attempt.":
    bad.append("retry result %r" % agents["retry"]["result"])
if bad:
    sys.exit("\n".join(bad))
# The odd stream: its call recorded once, complete, though it never
# started; its session and result.
rows = con.execute("SELECT t.tool_name, t.status, t.output_inline FROM"
                   " tool_calls t JOIN agents a ON a.id = t.agent_id"
                   " WHERE a.name = 'odd'").fetchall()
rows = [tuple(r) for r in rows]
if rows != [("shell", "completed", "a\nb\n")]:
    sys.exit("odd calls %r" % rows)
o = agents["odd"]
if o["session_id"] != "01a241b0-0000-7000-8000-000000000001" or \
        o["result"] != "Listed." or o["tokens_in"] != 10:
    sys.exit("odd row %r %r %r" % (o["session_id"], o["result"], o["tokens_in"]))
PY
# Garbage is logged, not fatal; so are the CLI's retries; the raw stream
# stays in the agent's log.
grep -q "not JSON: this is not JSON" "$T/sup.err" ||
	fail "no log of the line that is not JSON: $(cat "$T/sup.err")"
grep -q "agent 'retry'.*Reconnecting" "$T/sup.err" ||
	fail "the CLI's retry is not in the log: $(cat "$T/sup.err")"
grep -q '^this is not JSON$' "$P/.smithers/logs/agents/1/odd.log" ||
	fail "the raw stream is not in the agent's log"
exit 0
