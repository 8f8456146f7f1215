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

# The stream: the real CLI's own lines (tests/fixtures/claude/: tool calls
# and their results, a 1.2 MB output persisted by the CLI, a subagent, a
# failing tool, a permission denial), round after round with their ids made
# unique, between an init line and a result line.
SRC=${SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
/usr/bin/python3 - "$T/stream.jsonl" "$MB" "$SRC/tests/fixtures/claude" <<'PY'
import json, re, sys
path, mb, fixtures = sys.argv[1], int(sys.argv[2]), sys.argv[3]
names = ["one-tool", "parallel-tools", "tool-error", "permission-denied",
         "subagent", "big-output"]
init = result = None
body = []
for n in names:
    for line in open("%s/%s.jsonl" % (fixtures, n)):
        j = json.loads(line)
        if j.get("type") == "system" and j.get("subtype") == "init":
            init = init or line
        elif j.get("type") == "result":
            result = line
        else:
            body.append(line)
ids = re.compile(r'"(toolu_[A-Za-z0-9_]+|msg_[A-Za-z0-9_]+)"')
out = open(path, "w")
out.write(init)
i = 0
while out.tell() < mb * 1000 * 1000:
    i += 1
    for line in body:
        out.write(ids.sub(lambda m: '"%s_r%d"' % (m.group(1), i), line))
out.write(result)
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
