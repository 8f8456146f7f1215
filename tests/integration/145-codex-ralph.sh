#!/bin/sh
# A Ralph loop of Codex agents (the real CLI): each iteration starts
# a new thread by default; with session = continue, the next iteration
# resumes the previous one's (codex exec resume), with the agent's prompt,
# and the API server sees the earlier conversation.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/codex/lib.sh"

cat >"$T/script.json" <<'JSON'
[
 {"name": "fresh", "match": "MARK-FRESH", "replies": [
  {"text": "Fresh answer.", "times": "forever"}]},
 {"name": "cont", "match": "MARK-CONT", "replies": [
  {"text": "First iteration's answer."},
  {"text": "Second iteration's answer."}]}
]
JSON
fakeapi_start "$T/script.json"
cat >"$T/flow.ini" <<INI
[workflow]
name = ralph-codex
[phase loop]
max_iterations = 2
until = loop.done == true
on_failure = continue
[agent fresh]
phase = loop
kind = codex
codex_command = $CODEX
prompt = MARK-FRESH: go.
restart = never
[agent cont]
phase = loop
kind = codex
codex_command = $CODEX
prompt = MARK-CONT: go on.
session = continue
restart = never
INI
start_run "$T/flow.ini"
wait_run
expect_rc 1 # 'until' never held

"$PYTHON" - "$T/.smithers/smithers.db" "$(fakeapi_requests)" <<'PY' || fail "sessions wrong"
import json, sqlite3, sys
con = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
rows = {}
for name, it, sid, resumes, prompt, status in con.execute(
        "SELECT a.name, p.iteration, a.session_id, a.resumes,"
        " a.resume_prompt, a.status FROM agents a JOIN phases p"
        " ON p.id = a.phase_id ORDER BY a.id"):
    rows.setdefault(name, []).append((it, sid, resumes, prompt, status))
f, c = rows["fresh"], rows["cont"]
if [r[0] for r in f] != [0, 1] or [r[0] for r in c] != [0, 1]:
    sys.exit("iterations %r" % rows)
if any(r[4] != "completed" for r in f + c):
    sys.exit("statuses %r" % rows)
if f[0][1] == f[1][1] or f[1][2] != 0 or f[1][3] is not None:
    sys.exit("fresh: %r" % f)
if c[0][1] != c[1][1] or c[0][2] != 0 or c[1][2] != 1 or \
        c[1][3] != "MARK-CONT: go on.":
    sys.exit("continue: %r" % c)
reqs = [json.loads(l) for l in open(sys.argv[2])]
cont = [r for r in reqs if r["conversation"] == "cont"]
if len(cont) != 2:
    sys.exit("%d requests of cont" % len(cont))
if "First iteration's answer." not in json.dumps(cont[1]["body"]["input"]):
    sys.exit("the second iteration did not carry the first one")
fresh = [r for r in reqs if r["conversation"] == "fresh"]
if "Fresh answer." in json.dumps(fresh[-1]["body"]["input"]):
    sys.exit("a fresh iteration carried the last one")
PY
exit 0
