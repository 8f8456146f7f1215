#!/bin/sh
# Resume, not restart, with the real Codex CLI:
#  1. the CLI SIGKILLed mid-turn is restarted by its policy and continues
#     its thread (`codex exec resume`): the next request the API server
#     receives carries the earlier function output and the resume prompt,
#     the agent row keeps its session (the thread id), records the
#     attempt's resume, and no call is twice;
#  2. the supervisor SIGKILLed mid-thread: the next `smithers run` resumes
#     the execution, and the agent continues the same thread.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/codex/lib.sh"

cat >"$T/script.json" <<'JSON'
[{"name": "main", "match": "", "replies": [
  {"text": "First, step one.",
   "calls": [{"call_id": "call_step1", "name": "exec_command",
              "arguments": {"cmd": "echo step-one-done"}}],
   "usage": {"input_tokens": 100, "output_tokens": 10}},
  {"text": "This answer never comes.", "delay": 60},
  {"text": "Resumed: all done.",
   "usage": {"input_tokens": 300, "cached_tokens": 200, "output_tokens": 5}}
]}]
JSON
fakeapi_start "$T/script.json"
requests_ge() { [ "$(fakeapi_count)" -ge "$1" ]; }

# check_resumed: the request after the kill carries the thread so far and
# the resume prompt; the row kept its session and says it resumed.
check_resumed() {
	"$PYTHON" - "$(fakeapi_requests)" "$T/.smithers/smithers.db" "$1" <<'PY' || fail "not resumed"
import json, sqlite3, sys
reqs = [json.loads(l) for l in open(sys.argv[1])]
reqs = [r for r in reqs if r.get("path", "").endswith("/responses")]
con = sqlite3.connect("file:%s?mode=ro" % sys.argv[2], uri=True)
con.row_factory = sqlite3.Row
a = con.execute("SELECT * FROM agents WHERE name = 'worker'").fetchone()
if len(reqs) != 3:
    sys.exit("%d requests" % len(reqs))
text = json.dumps(reqs[2]["body"]["input"])
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
# Every thread.started of the log (both runs) names the session of the row.
threads = set()
for l in open(a["log_path"], errors="replace"):
    if '"thread.started"' in l:
        threads.add(json.loads(l)["thread_id"])
if threads != {a["session_id"]} or len(a["session_id"]) != 36:
    sys.exit("threads %r, row %r" % (threads, a["session_id"]))
calls = [tuple(r) for r in con.execute(
    "SELECT tool_name, status, trim(output_inline, char(10))"
    " FROM tool_calls")]
if calls != [("shell", "completed", "step-one-done")]:
    sys.exit("calls %r" % (calls,))
# The thread's totals of the resumed run replace the first run's: the row
# holds the thread's, as its last turn.completed says.
u = [json.loads(l)["usage"] for l in open(a["log_path"], errors="replace")
     if '"turn.completed"' in l][-1]
if (a["tokens_in"], a["tokens_out"]) != (u["input_tokens"], u["output_tokens"]):
    sys.exit("tokens %r %r, thread %r" % (a["tokens_in"], a["tokens_out"], u))
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
kind = codex
codex_command = $CODEX
prompt = MARK-RESUME: do the steps.
restart = on-failure
backoff = 100ms
INI

# ---- 1. the CLI killed mid-turn ---------------------------------------------
start_run "$T/flow.ini"
wait_until 60 requests_ge 2
pid=$(sql "SELECT pid FROM agents WHERE name = 'worker'")
[ -n "$pid" ] || fail "no pid recorded"
# The CLI is a node wrapper and its native binary: the whole group.
kill -KILL "-$pid"
wait_run
expect_rc 0
check_resumed restarted

# ---- 2. the supervisor killed mid-thread -------------------------------------
kill "$FAKEAPI_PID"
wait "$FAKEAPI_PID" 2>/dev/null || :
rm -rf "$T/.smithers" "$CODEX_HOME"
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
