#!/bin/sh
# bench-claude.sh - how fast a kind = claude agent's worker parses the
# CLI's stream and records it, commits included: a stream of at least 50 MB
# made of the shapes the real CLI prints (tests/fixtures/claude/: tool calls
# with their results, text, usage on every assistant line), replayed by a
# stand-in CLI (`cat`) under a real supervisor, from the start of the run to
# the execution's end. Against `jq -c . >/dev/null` on the same file, in the
# same run (target: at least 5x jq). Also the worker's peak RSS while it
# works. Run from the build dir: tests/bench/bench-claude.sh
# (make bench-claude). MB=N sets the stream's size.
set -eu
BUILD=${BUILD:-$(cd "$(dirname "$0")/../.." && pwd)}
SMITHERS="$BUILD/tools/smithers"
MB=${MB:-50}
command -v jq >/dev/null || { echo "bench-claude: jq is needed (apt-get install jq)" >&2; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/smithers-bench-claude.XXXXXX")
trap 'rm -rf "$T"' EXIT

# The stream: an init line, rounds of (assistant tool_use, user
# tool_result of 2 KiB, assistant text), a result line.
/usr/bin/python3 - "$T/stream.jsonl" "$MB" <<'PY'
import json, sys
path, mb = sys.argv[1], int(sys.argv[2])
sid = "0b7e6a3c-2f4d-4b8e-9a1c-5d6e7f8a9b0c"
usage = {"input_tokens": 1200, "output_tokens": 80,
         "cache_read_input_tokens": 30000, "cache_creation_input_tokens": 500}
out = open(path, "w")
def w(o):
    out.write(json.dumps(o, separators=(",", ":")) + "\n")
w({"type": "system", "subtype": "init", "session_id": sid, "model": "claude-x",
   "claude_code_version": "2.1.332", "tools": ["Bash", "Read", "Task"],
   "cwd": "/tmp"})
body = ("line of tool output with some words in it, " * 48)[:2040] + "\n"
i = 0
while out.tell() < mb * 1000 * 1000:
    i += 1
    tid = "toolu_%020d" % i
    w({"type": "assistant", "message": {"id": "msg_%da" % i, "model": "claude-x",
       "role": "assistant", "content": [{"type": "tool_use", "id": tid,
       "name": "Bash", "input": {"command": "cat file%d.txt" % i,
       "description": "Read a file"}}], "usage": usage},
       "parent_tool_use_id": None, "session_id": sid})
    w({"type": "user", "message": {"role": "user", "content": [{"type":
       "tool_result", "tool_use_id": tid, "content": body * 1,
       "is_error": False}]}, "parent_tool_use_id": None, "session_id": sid})
    w({"type": "assistant", "message": {"id": "msg_%db" % i, "model": "claude-x",
       "role": "assistant", "content": [{"type": "text", "text":
       "The file %d holds what I expected; on to the next one." % i}],
       "usage": usage}, "parent_tool_use_id": None, "session_id": sid})
w({"type": "result", "subtype": "success", "is_error": False, "num_turns": i,
   "result": "done", "session_id": sid, "total_cost_usd": 12.5,
   "usage": usage, "duration_ms": 1000, "duration_api_ms": 900,
   "permission_denials": [], "terminal_reason": "completed"})
out.close()
PY
BYTES=$(wc -c <"$T/stream.jsonl")
LINES=$(wc -l <"$T/stream.jsonl")

cat >"$T/flow.ini" <<INI
[workflow]
name = claudebench
[phase p]
[agent replay]
phase = p
kind = claude
prompt = replay
claude_command = sh -c 'exec cat "\$0"' $T/stream.jsonl
restart = never
INI

now() { /usr/bin/python3 -c 'import time; print(time.monotonic())'; }
# jq first, then smithers, then jq again: the best of each.
jq_s() {
	t0=$(now)
	jq -c . "$T/stream.jsonl" >/dev/null
	t1=$(now)
	/usr/bin/python3 -c "print($t1 - $t0)"
}
J1=$(jq_s)
rm -rf "$T/.smithers"
t0=$(now)
"$SMITHERS" --dir "$T" run "$T/flow.ini" >"$T/sup.out" 2>"$T/sup.err" &
SUP=$!
PEAK=0
while kill -0 "$SUP" 2>/dev/null; do
	for w in $(pgrep -P "$SUP" 2>/dev/null); do
		r=$(awk '/^VmHWM/ { print $2 }' "/proc/$w/status" 2>/dev/null || echo 0)
		[ "${r:-0}" -gt "$PEAK" ] && PEAK=$r
	done
	sleep 0.05
done
wait "$SUP" || { echo "bench-claude: the run failed:" >&2; tail -n 5 "$T/sup.err" >&2; exit 1; }
t1=$(now)
S=$(/usr/bin/python3 -c "print($t1 - $t0)")
J2=$(jq_s)
CALLS=$("$SMITHERS" --dir "$T" db query "SELECT count(*) FROM tool_calls" --json |
	/usr/bin/python3 -c 'import json,sys; print(list(json.load(sys.stdin)[0].values())[0])')
/usr/bin/python3 - "$BYTES" "$LINES" "$S" "$J1" "$J2" "$PEAK" "$CALLS" <<'PY'
import sys
b, lines, s, j1, j2, peak, calls = (float(x) for x in sys.argv[1:])
j = min(j1, j2)
print("stream: %.1f MB, %d lines, %d tool calls recorded" % (b / 1e6, lines, calls))
print("smithers (parse + record + commit): %.2f s, %.1f MB/s, %.0f lines/s"
      % (s, b / 1e6 / s, lines / s))
print("jq -c . >/dev/null:                 %.2f s, %.1f MB/s, %.0f lines/s"
      % (j, b / 1e6 / j, lines / j))
print("ratio: smithers is %.1fx jq (target: at least 5x)" % (j / s))
print("worker peak RSS: %.1f MiB" % (peak / 1024))
PY
