#!/bin/sh
# smithers-worker --claude: an unmodified Claude Code CLI (here `cat` of a
# stream-json transcript) becomes an agent with no instrumentation. The
# worker parses the agent's stdout and speaks the protocol itself on fds 3
# and 4, which the agent does not get; the log keeps the raw stream. Also:
# the SIGINT stop path (SIGINT, then the stop signal, then SIGKILL) and
# frames that wait for a slow supervisor.
. "$top_srcdir/tests/integration/lib.sh"

WORKER="$top_builddir/worker/smithers-worker"

# The supervisor's side: pipes at fds 3, 4 and 5 of the worker, every frame
# decoded (python3-msgpack) and acked; prints one JSON line per message, the
# control lines and the worker's exit status.
cat >drive.py <<'PY'
import json, os, select, signal, struct, subprocess, sys, time
import msgpack

args = sys.argv[1:]
delay = sigint = 0.0
while args[0].startswith("--drive-"):
    opt, val = args[0], float(args[1])
    args = args[2:]
    if opt == "--drive-delay":
        delay = val
    else:
        sigint = val
up_r, up_w = os.pipe()
down_r, down_w = os.pipe()
ctl_r, ctl_w = os.pipe()

def child():
    fds = [os.dup(up_w), os.dup(down_r), os.dup(ctl_w)]
    for i, fd in enumerate(fds):
        os.dup2(fd, 3 + i)

err = open("worker.err", "wb")
start = time.monotonic()
p = subprocess.Popen(args, preexec_fn=child, close_fds=False, stderr=err)
for fd in (up_w, down_r, ctl_w):
    os.close(fd)
time.sleep(delay)
buf, ctl, out, biggest = b"", b"", [], 0
open_fds = [up_r, ctl_r]
while open_fds:
    timeout = None
    if sigint:
        timeout = max(0.0, start + sigint - time.monotonic())
    ready, _, _ = select.select(open_fds, [], [], timeout)
    if sigint and time.monotonic() >= start + sigint:
        p.send_signal(signal.SIGINT)
        out.append({"sigint_at": time.monotonic() - start})
        sigint = 0.0
    for fd in ready:
        data = os.read(fd, 65536)
        if not data:
            open_fds.remove(fd)
        elif fd == ctl_r:
            ctl += data
        else:
            buf += data
    while len(buf) >= 4:
        n = struct.unpack(">I", buf[:4])[0]
        if len(buf) < 4 + n:
            break
        biggest = max(biggest, n)
        m = msgpack.unpackb(buf[4 : 4 + n], raw=False)
        buf = buf[4 + n :]
        if isinstance(m.get("output"), bytes):
            m["output"] = m["output"].decode("utf-8", "replace")
        out.append(m)
        ack = msgpack.packb({"t": "ack", "seq": m["seq"]})
        try:
            os.write(down_w, struct.pack(">I", len(ack)) + ack)
        except BrokenPipeError:
            pass
rc = p.wait()
for m in out:
    print(json.dumps(m))
for line in ctl.decode().splitlines():
    print(json.dumps({"ctl": line}))
print(json.dumps({"exit": rc, "left": len(buf), "biggest": biggest,
                  "elapsed": time.monotonic() - start}))
PY

# A transcript as the CLI 2.1 prints it: init, a call and its result, a
# Task whose subagent makes a call, the usage of one message on two lines,
# a line of stderr, the result.
cat >stream.jsonl <<'JSONL'
{"type":"system","subtype":"init","cwd":"/w","session_id":"sess-9","tools":["Bash","Read","Task"],"model":"claude-sonnet-4-5","permissionMode":"default","claude_code_version":"2.1.332"}
{"type":"assistant","message":{"id":"msg_1","model":"claude-sonnet-4-5","content":[{"type":"text","text":"Looking."}],"usage":{"input_tokens":10,"output_tokens":5,"cache_read_input_tokens":100,"cache_creation_input_tokens":7}},"parent_tool_use_id":null,"session_id":"sess-9"}
{"type":"assistant","message":{"id":"msg_1","model":"claude-sonnet-4-5","content":[{"type":"tool_use","id":"toolu_1","name":"Bash","input":{"command":"ls"}}],"usage":{"input_tokens":10,"output_tokens":5,"cache_read_input_tokens":100,"cache_creation_input_tokens":7}},"parent_tool_use_id":null,"session_id":"sess-9"}
{"type":"user","message":{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"README\nsrc","is_error":false}]},"parent_tool_use_id":null,"session_id":"sess-9"}
{"type":"assistant","message":{"id":"msg_2","model":"claude-sonnet-4-5","content":[{"type":"tool_use","id":"toolu_2","name":"Task","input":{"description":"survey","prompt":"look around"}}],"usage":{"input_tokens":20,"output_tokens":8}},"parent_tool_use_id":null,"session_id":"sess-9"}
{"type":"assistant","message":{"id":"msg_3","model":"claude-haiku-4-5","content":[{"type":"tool_use","id":"toolu_3","name":"Read","input":{"file_path":"README"}}],"usage":{"input_tokens":30,"output_tokens":9}},"parent_tool_use_id":"toolu_2","session_id":"sess-9"}
{"type":"user","message":{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_3","content":[{"type":"text","text":"no such file"}],"is_error":true}]},"parent_tool_use_id":"toolu_2","session_id":"sess-9"}
{"type":"user","message":{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_2","content":[{"type":"text","text":"nothing there"}]}]},"parent_tool_use_id":null,"session_id":"sess-9"}
warning: something on stderr
{"type":"result","subtype":"success","is_error":false,"num_turns":3,"result":"Surveyed.","session_id":"sess-9","total_cost_usd":0.0123,"usage":{"input_tokens":30,"output_tokens":13,"cache_read_input_tokens":100,"cache_creation_input_tokens":7},"modelUsage":{"claude-sonnet-4-5":{"inputTokens":30,"outputTokens":13,"cacheReadInputTokens":100,"cacheCreationInputTokens":7,"costUSD":0.01},"claude-haiku-4-5":{"inputTokens":30,"outputTokens":9,"cacheReadInputTokens":0,"cacheCreationInputTokens":0,"costUSD":0.0023}},"permission_denials":[],"terminal_reason":"completed","api_error_status":null,"duration_ms":5000,"duration_api_ms":4000,"stop_reason":"end_turn"}
JSONL

# Does the agent hold fds 3 or 4, or their names in its environment? Its
# answers would be lines of stdout, logged by the parser as not JSON.
agent='cat stream.jsonl; for fd in 3 4; do [ -e /proc/$$/fd/$fd ] && echo "fd $fd is open"; done; env | grep "^SMITHERS_.*FD="; exit 0'
SMITHERS_FD=3 SMITHERS_ACK_FD=4 \
	run "$PYTHON" drive.py "$WORKER" --claude --log agent.log -- /bin/sh -c "$agent"
expect_rc 0
check() {
	"$PYTHON" -c '
import json, sys
msgs = [json.loads(l) for l in open(sys.argv[1])]
exit_ = msgs[-1]
ctl = [m["ctl"] for m in msgs if "ctl" in m]
m = [x for x in msgs if "t" in x]
def of(t): return [x for x in m if x["t"] == t]
if not eval("(" + sys.argv[2] + "\n)"):
    print(json.dumps(msgs, indent=1)[:6000], file=sys.stderr)
    sys.exit(1)
' "$OUT" "$1" || fail "frames fail: $1"
}
check 'exit_["exit"] == 0 and exit_["left"] == 0'
check 'ctl[0].startswith("agent ") and ctl[-1] == "done"'
check '[x["seq"] for x in m] == list(range(1, len(m) + 1))'
check 'm[0]["t"] == "hello" and m[0]["v"] == 1 and m[0]["pid"] == int(ctl[0].split()[1])'
check 'of("session") == [{"t": "session", "seq": 2, "id": "sess-9", "model": "claude-sonnet-4-5", "version": "2.1.332", "tools_json": "[\"Bash\",\"Read\",\"Task\"]"}]'
check '[(x["call"], x["tool"], x["ref"], x.get("parent", 0)) for x in of("tool.start")] == [(1, "Bash", "toolu_1", 0), (2, "Task", "toolu_2", 0), (3, "Read", "toolu_3", 2)]'
check 'of("tool.start")[0]["input_json"] == "{\"command\":\"ls\"}"'
check '[(x["call"], x["status"], x.get("output"), x.get("error")) for x in of("tool.complete")] == [(1, "completed", "README\nsrc", None), (3, "failed", "no such file", "no such file"), (2, "completed", "nothing there", None)]'
# Three increments (msg_1 once), then the totals of modelUsage, with cost.
check '[(x.get("tokens_in"), x.get("tokens_out"), x.get("total", False)) for x in of("usage")] == [(10, 5, False), (20, 8, False), (30, 9, False), (60, 22, True)]'
check 'of("usage")[0]["cache_read"] == 100 and of("usage")[0]["cache_write"] == 7'
check 'of("usage")[-1]["cost"] == 0.0123 and of("usage")[-1]["cache_read"] == 100'
check 'of("result")[0]["text"] == "Surveyed." and json.loads(of("result")[0]["json"])["num_turns"] == 3'
check 'of("fail") == []'
check '[x["message"] for x in of("log")] == ["not JSON: warning: something on stderr"]'
# The log holds the raw stream, unchanged.
cmp stream.jsonl agent.log || fail "the log is not the agent's output"

# Without a result line, killed by the stop path: SIGINT first (the agent
# ignores it), its stop signal after the grace, SIGKILL after another.
head -n 3 stream.jsonl >cut.jsonl
agent='trap "" INT TERM; cat cut.jsonl; exec sleep 60'
run "$PYTHON" drive.py --drive-sigint 0.5 "$WORKER" --claude --stop-grace 400 \
	--log agent.log -- /bin/sh -c "$agent"
expect_rc 0
check 'exit_["exit"] == -9 and exit_["elapsed"] >= 1.2'
check '[(x["call"], x["status"], x["error"]) for x in of("tool.complete")] == [(1, "failed", "interrupted")]'
check '[x["error"] for x in of("fail")] == ["ended without a result (killed by signal KILL)"]'

# An agent that ends on SIGINT ends at once, with its own status.
agent='trap "echo got-INT; exit 3" INT; cat cut.jsonl; while :; do sleep 0.1; done'
run "$PYTHON" drive.py --drive-sigint 0.5 "$WORKER" --claude --stop-grace 5000 \
	--log agent.log -- /bin/sh -c "$agent"
expect_rc 0
check 'exit_["exit"] == 3 and exit_["elapsed"] < 4'
check '"not JSON: got-INT" in [x["message"] for x in of("log")]'
check '[x["error"] for x in of("fail")] == ["ended without a result (exit status 3): got-INT"]'

# A slow supervisor: 6 MB of frames wait for it (the agent waits past
# 4 MB), and every one arrives, in order, the longest outputs cut to fit
# --frame-max.
"$PYTHON" -c '
import json
big = "x" * 3000
for i in range(2000):
    ref = "t%d" % i
    print(json.dumps({"type": "assistant", "message": {"id": "m%d" % i, "content": [{"type": "tool_use", "id": ref, "name": "Bash", "input": {"i": i}}]}}))
    print(json.dumps({"type": "user", "message": {"content": [{"type": "tool_result", "tool_use_id": ref, "content": big if i % 100 else "y" * 70000}]}}))
' >big.jsonl
run "$PYTHON" drive.py --drive-delay 1 "$WORKER" --claude --frame-max 65536 \
	--log agent.log -- /bin/cat big.jsonl
expect_rc 0
check 'exit_["exit"] == 0 and exit_["left"] == 0 and 65000 < exit_["biggest"] <= 65536'
check 'len(of("tool.start")) == 2000 and [x["call"] for x in of("tool.complete")] == list(range(1, 2001))'
check 'all(len(x["output"]) == 3000 for x in of("tool.complete") if x["call"] % 100 != 1)'
check 'all("[smithers: output truncated: " in x["output"] for x in of("tool.complete") if x["call"] % 100 == 1)'
check '[x["error"] for x in of("fail")] == ["ended without a result (exit status 0)"]'

# Without --claude, the agent has fds 3 and 4 as before.
agent='for fd in 3 4; do [ -e /proc/$$/fd/$fd ] && echo "fd $fd is open"; done; exit 0'
run "$PYTHON" drive.py "$WORKER" --log plain.log -- /bin/sh -c "$agent"
check 'exit_["exit"] == 0 and m == []'
grep -q "fd 3 is open" plain.log || fail "the agent lost fd 3 without --claude"
grep -q "fd 4 is open" plain.log || fail "the agent lost fd 4 without --claude"
