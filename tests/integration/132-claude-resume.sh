#!/bin/sh
# Resume, not restart, with the real Claude Code CLI:
#  1. the CLI SIGKILLed mid-turn is restarted by its policy and continues
#     its conversation: the next request the API server receives carries
#     the earlier one and the resume prompt, the agent row keeps its
#     session id, records the attempt's resume, and no call is twice;
#  2. the supervisor SIGKILLed mid-session: the next `smithers run` resumes
#     the execution, and the agent continues the same session.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/claude/lib.sh"

cat >"$T/script.json" <<'JSON'
[{"name": "main", "match": "", "replies": [
  {"text": "First, step one.",
   "tool_uses": [{"id": "toolu_step1", "name": "Bash",
                  "input": {"command": "echo step-one-done", "description": "Step"}}]},
  {"text": "This answer never comes.", "delay": 60},
  {"text": "Resumed: all done."}
]}]
JSON
fakeapi_start "$T/script.json"
requests_ge() { [ "$(fakeapi_count)" -ge "$1" ]; }

# check_resumed: the request after the kill carries the conversation so
# far and the resume prompt; the row kept its session and says it resumed.
check_resumed() {
	"$PYTHON" - "$(fakeapi_requests)" "$T/.smithers/smithers.db" "$1" <<'PY' || fail "not resumed"
import json, sqlite3, sys
reqs = [json.loads(l) for l in open(sys.argv[1])]
con = sqlite3.connect("file:%s?mode=ro" % sys.argv[2], uri=True)
con.row_factory = sqlite3.Row
a = con.execute("SELECT * FROM agents WHERE name = 'worker'").fetchone()
if len(reqs) != 3:
    sys.exit("%d requests" % len(reqs))
text = json.dumps(reqs[2]["body"]["messages"])
for want in ("MARK-RESUME", "step-one-done", "First, step one.",
             "Continue where you left off."):
    if want not in text:
        sys.exit("the resumed request lacks %r: %s" % (want, text[:3000]))
if a["status"] != "completed" or a["result"] != "Resumed: all done.":
    sys.exit("agent %s %r %r" % (a["status"], a["error"], a["result"]))
if a["attempt"] != 2 or a["resumes"] != 1 or \
        a["resume_prompt"] != "Continue where you left off.":
    sys.exit("attempt %r resumes %r prompt %r" % (a["attempt"], a["resumes"],
             a["resume_prompt"]))
# Every init line of the log (both runs) names the session of the row.
sessions = {json.loads(l)["session_id"] for l in open(a["log_path"])
            if '"subtype":"init"' in l}
if sessions != {a["session_id"]}:
    sys.exit("sessions %r, row %r" % (sessions, a["session_id"]))
calls = [tuple(r) for r in con.execute(
    "SELECT external_id, status FROM tool_calls")]
if calls != [("toolu_step1", "completed")]:
    sys.exit("calls %r" % (calls,))
if sys.argv[3] == "recovered":
    v = con.execute("SELECT recoveries FROM executions").fetchone()[0]
    if v != 1:
        sys.exit("recoveries %r" % v)
PY
}

cat >"$T/flow.ini" <<INI
[workflow]
name = resume
[phase p]
[agent worker]
phase = p
kind = claude
claude_command = $CLAUDE
prompt = MARK-RESUME: do the steps.
allowed_tools = Bash
restart = on-failure
backoff = 100ms
INI

# ---- 1. the CLI killed mid-turn ---------------------------------------------
start_run "$T/flow.ini"
wait_until 60 requests_ge 2
pid=$(sql "SELECT pid FROM agents WHERE name = 'worker'")
[ -n "$pid" ] || fail "no pid recorded"
kill -KILL "$pid"
wait_run
expect_rc 0
check_resumed restarted

# ---- 2. the supervisor killed mid-session ------------------------------------
kill "$FAKEAPI_PID"
wait "$FAKEAPI_PID" 2>/dev/null || :
rm -rf "$T/.smithers" "$T/claude-home"
fakeapi_start "$T/script.json"
start_run "$T/flow.ini"
wait_until 60 requests_ge 2
kill -KILL "$SUP"
wait "$SUP" 2>/dev/null || :
# The worker takes its agent with it (it had the supervisor's death
# signal); the next run finds what is left.
start_run "$T/flow.ini"
wait_run
expect_rc 0
check_resumed recovered
exit 0
