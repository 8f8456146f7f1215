#!/bin/sh
# bench-claude.sh - how fast a kind = claude agent's worker parses the
# CLI's stream and records it, commits included: a stream of at least 50 MB
# made of the shapes the real CLI prints (tests/fixtures/claude/: tool calls
# with their results, text, usage on every assistant line), replayed by a
# stand-in CLI (`cat`) under a real supervisor, from the start of the run to
# the execution's end, in a state dir whose store `smithers init` made
# beforehand (as a user's: created and migrated once, not at every run).
# Against `jq -c . >/dev/null` on the same file, in the
# same run (target: at least 5x jq). Also the worker's peak RSS while it
# works. Run from the build dir: tests/bench/bench-claude.sh
# (make bench-claude). MB=N sets the stream's size, RUNS=N the runs of
# each, UNIQUE=1 makes every tool output distinct (no shared objects),
# KEEP=1 leaves the stream and the state dir in place to look at.
set -eu
BUILD=${BUILD:-$(cd "$(dirname "$0")/../.." && pwd)}
SMITHERS="$BUILD/tools/smithers"
MB=${MB:-50}
command -v jq >/dev/null || { echo "bench-claude: jq is needed (apt-get install jq)" >&2; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/smithers-bench-claude.XXXXXX")
trap 'if [ -n "${KEEP:-}" ]; then echo "bench-claude: kept $T" >&2; else rm -rf "$T"; fi' EXIT

# The stream: the real CLI's own lines (tests/fixtures/claude/: tool calls
# and their results, a 1.2 MB output persisted by the CLI, a subagent, a
# failing tool, a permission denial), round after round with their ids made
# unique, between an init line and a result line.
SRC=${SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
/usr/bin/python3 - "$T/stream.jsonl" "$MB" "$SRC/tests/fixtures/claude" <<'PY'
import json, os, re, sys
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
# UNIQUE=1: every round's outputs differ too (a mark in each tool_result),
# so that no stored output is shared and each one is a new object file.
unique = os.environ.get("UNIQUE") == "1"
mark = re.compile(r'("type":"tool_result","content":")')
out = open(path, "w")
out.write(init)
i = 0
while out.tell() < mb * 1000 * 1000:
    i += 1
    for line in body:
        line = ids.sub(lambda m: '"%s_r%d"' % (m.group(1), i), line)
        if unique:
            line = mark.sub(lambda m: m.group(1) + "round %d: " % i, line)
        out.write(line)
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

# Best of RUNS for each, alternately (the machine is shared): jq, then a
# run of smithers in a fresh state dir, timed in one process around the
# child alone; the worker's peak RSS sampled meanwhile.
RUNS=${RUNS:-5}
/usr/bin/python3 - "$SMITHERS" "$T" "$RUNS" "$BYTES" "$LINES" <<'PY'
import glob, os, shutil, subprocess, sys, threading, time
smithers, t, runs, size, lines = sys.argv[1], sys.argv[2], int(sys.argv[3]), \
    int(sys.argv[4]), int(sys.argv[5])
stream = os.path.join(t, "stream.jsonl")

def peak_of(pid, peak, done):
    """The largest VmHWM among PID's children until DONE is set."""
    while not done.is_set():
        for task in glob.glob("/proc/%d/task/*/children" % pid):
            try:
                kids = open(task).read().split()
            except OSError:
                continue
            for kid in kids:
                try:
                    for line in open("/proc/%s/status" % kid):
                        if line.startswith("VmHWM:"):
                            peak[0] = max(peak[0], int(line.split()[1]))
                except OSError:
                    pass
        time.sleep(0.005)

subprocess.run([smithers, "--dir", os.path.join(t, "made"), "init"],
               stdout=subprocess.DEVNULL, check=True)
best_jq = best_s = None
peak = [0]
calls = 0
for _ in range(runs):
    t0 = time.monotonic()
    subprocess.run(["jq", "-c", ".", stream], stdout=subprocess.DEVNULL,
                   check=True)
    j = time.monotonic() - t0
    best_jq = j if best_jq is None else min(best_jq, j)
    # A state dir as a user's is: made (and its store migrated) by
    # smithers init beforehand, copied in untimed.
    shutil.rmtree(os.path.join(t, ".smithers"), ignore_errors=True)
    shutil.copytree(os.path.join(t, "made", ".smithers"),
                    os.path.join(t, ".smithers"))
    err = open(os.path.join(t, "sup.err"), "w")
    done = threading.Event()
    t0 = time.monotonic()
    p = subprocess.Popen([smithers, "--dir", t, "run",
                          os.path.join(t, "flow.ini")],
                         stdout=subprocess.DEVNULL, stderr=err)
    sampler = threading.Thread(target=peak_of, args=(p.pid, peak, done))
    sampler.start()
    rc = p.wait()
    s = time.monotonic() - t0
    done.set()
    sampler.join()
    if rc != 0:
        sys.exit("bench-claude: the run failed (see %s)" % err.name)
    best_s = s if best_s is None else min(best_s, s)
    out = subprocess.run([smithers, "--dir", t, "db", "query",
                          "SELECT count(*) AS n FROM tool_calls", "--json"],
                         capture_output=True, text=True, check=True).stdout
    calls = int(out.split(":")[1].split("}")[0])
print("stream: %.1f MB, %d lines, %d tool calls recorded" % (size / 1e6, lines, calls))
print("smithers (parse + record + commit), best of %d: %.2f s, %.1f MB/s, "
      "%.0f lines/s" % (runs, best_s, size / 1e6 / best_s, lines / best_s))
print("jq -c . >/dev/null, best of %d:                 %.2f s, %.1f MB/s, "
      "%.0f lines/s" % (runs, best_jq, size / 1e6 / best_jq, lines / best_jq))
print("ratio: smithers is %.1fx jq (target: at least 5x)" % (best_jq / best_s))
print("worker peak RSS: %.1f MiB" % (peak[0] / 1024))
PY
