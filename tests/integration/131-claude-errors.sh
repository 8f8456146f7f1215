#!/bin/sh
# kind = claude when things go wrong, each with a clear error and nothing
# lost: the real CLI reaching max turns, the API answering 529 overloaded
# until the CLI gives up; a claude_command that does not exist; a CLI that
# exits non-zero before any output (the error shows its stderr); garbage
# on stdout; a stream cut mid-line. And the workflow's own mistakes: an
# invalid kind, kind = claude without a prompt, with a command.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/claude/lib.sh"

# ---- the workflow's mistakes, at load time ----------------------------------
cat >"$T/bad.ini" <<'INI'
[phase p]
[agent a]
phase = p
kind = claud
INI
run "$SMITHERS" --dir "$T" run "$T/bad.ini"
[ "$rc" -ne 0 ] || fail "an invalid kind was taken"
err_has "bad.ini:4: invalid kind 'claud': expected command, claude or codex"
printf '[phase p]\n[agent a]\nphase = p\nkind = claude\n' >"$T/bad.ini"
run "$SMITHERS" --dir "$T" run "$T/bad.ini"
[ "$rc" -ne 0 ] || fail "kind = claude without a prompt was taken"
err_has "bad.ini:2: [agent a] has kind = claude but no 'prompt' or 'prompt_file' (required)"
printf '[phase p]\n[agent a]\nphase = p\nkind = claude\nprompt = x\ncommand = claude\n' >"$T/bad.ini"
run "$SMITHERS" --dir "$T" run "$T/bad.ini"
[ "$rc" -ne 0 ] || fail "kind = claude with a command was taken"
err_has "bad.ini:6: [agent a] has kind = claude: smithers runs the CLI itself"

# ---- failures at run time ---------------------------------------------------
P=$T/p
mkdir "$P"
cat >"$T/script.json" <<'JSON'
[
 {"name": "turns", "match": "MARK-TURNS", "replies": [
  {"tool_uses": [{"id": "toolu_t1", "name": "Bash",
                  "input": {"command": "echo turn1", "description": "Echo"}}]},
  {"tool_uses": [{"id": "toolu_t2", "name": "Bash",
                  "input": {"command": "echo turn2", "description": "Echo"}}]},
  {"text": "done"}]},
 {"name": "over", "match": "MARK-OVER", "replies": [
  {"status": 529, "times": "forever"}]}
]
JSON
fakeapi_start "$T/script.json"
cat >"$P/flow.ini" <<INI
[workflow]
name = claude-errors
[phase p]
[agent turns]
phase = p
kind = claude
claude_command = $CLAUDE
prompt = MARK-TURNS
allowed_tools = Bash
max_turns = 1
restart = never
[agent over]
phase = p
kind = claude
claude_command = $CLAUDE
prompt = MARK-OVER
env = CLAUDE_CODE_MAX_RETRIES=1
restart = never
[agent missing]
phase = p
kind = claude
claude_command = $T/no-such-claude
prompt = x
restart = never
[agent early]
phase = p
kind = claude
claude_command = sh -c 'echo "Error: unknown option --frobnicate" >&2; exit 3'
prompt = x
restart = never
[agent garbage]
phase = p
kind = claude
claude_command = sh -c 'echo "this is not JSON"; echo "{\\"type\\":\\"mystery\\"}"'
prompt = x
restart = never
[agent cut]
phase = p
kind = claude
claude_command = sh -c 'echo "{\\"type\\":\\"system\\",\\"subtype\\":\\"init\\",\\"session_id\\":\\"s\\",\\"claude_code_version\\":\\"9\\"}"; printf "{\\"type\\":\\"resu"'
prompt = x
restart = never
INI
run "$SMITHERS" --dir "$P" run "$P/flow.ini"
expect_rc 1
cp "$ERR" "$T/sup.err"

"$PYTHON" - "$P/.smithers/smithers.db" <<'PY' || fail "wrong errors"
import sqlite3, sys
con = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
err = dict(con.execute("SELECT name, error FROM agents WHERE status = 'failed'"))
want = {
    "turns": "reached max turns (1)",
    "over": "API error: overloaded (529)",
    "missing": "claude_command '",
    "early": "ended without a result (exit status 3): Error: unknown option --frobnicate",
    "garbage": "ended without a result (exit status 0)",
    "cut": "ended without a result (exit status 0)",
}
bad = ["%s: %r lacks %r" % (k, err.get(k), v) for k, v in want.items()
       if v not in (err.get(k) or "")]
if "npm install" not in (err.get("missing") or ""):
    bad.append("missing: no install hint: %r" % err.get("missing"))
if bad:
    sys.exit("\n".join(bad))
# The cut stream's session was recorded before the cut.
v = con.execute("SELECT cli_version FROM agents WHERE name = 'cut'").fetchone()
if v != ("9",):
    sys.exit("cut: %r" % (v,))
# The call that max turns left open is not; the first one ran.
rows = con.execute("SELECT t.external_id, t.status FROM tool_calls t JOIN"
                   " agents a ON a.id = t.agent_id WHERE a.name = 'turns'"
                   " ORDER BY t.id").fetchall()
if not rows or rows[0] != ("toolu_t1", "completed") or \
        any(s == "running" for _, s in rows):
    sys.exit("turns calls: %r" % rows)
PY
# Garbage is logged, not fatal; the raw stream stays in the agent's log.
grep -q "not JSON: this is not JSON" "$T/sup.err" ||
	fail "no log of the line that is not JSON: $(cat "$T/sup.err")"
grep -q '^this is not JSON$' "$P/.smithers/logs/agents/1/garbage.log" ||
	fail "the raw stream is not in the agent's log"
exit 0
