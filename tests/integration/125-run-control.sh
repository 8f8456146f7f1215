#!/bin/sh
# The supervisor's socket is its one control channel: a connection whose
# hello has role "control" may ask for a gc (what `smithers db gc
# --via-supervisor` does) and gets a reply; it may send nothing else, an
# unknown role is refused. No
# file is polled for requests any more. A running agent is not disturbed.
. "$top_srcdir/tests/integration/lib.sh"

printf '[phase p]\n[agent w]\nphase = p\ncommand = exec sleep 60\n' >flow.ini
start_run flow.ini
running() {
	[ "$(sql "SELECT count(*) FROM agents WHERE pid > 0")" = 1 ]
}
wait_until 30 running

# speak ROLE MSG...: connect, say hello with ROLE, send each MSG (a Python
# dict literal), print what comes back (one line a frame).
speak() {
	"$PYTHON" - "$T/.smithers/supervisor.sock" "$@" <<'PY'
import socket, struct, sys, msgpack
path, role, msgs = sys.argv[1], sys.argv[2], sys.argv[3:]
s = socket.socket(socket.AF_UNIX)
s.connect(path)
def send(m):
    b = msgpack.packb(m)
    s.sendall(struct.pack(">I", len(b)) + b)
hello = {"t": "hello", "seq": 1, "v": 1}
if role:
    hello["role"] = role
send(hello)
for i, m in enumerate(msgs):
    m = eval(m)
    m["seq"] = i + 2
    send(m)
s.settimeout(30)
buf = b""
want = len(msgs) + 1
seen = 0
while True:
    try:
        got = s.recv(65536)
    except socket.timeout:
        break
    if not got:
        break
    buf += got
    while len(buf) >= 4:
        n = struct.unpack(">I", buf[:4])[0]
        if len(buf) < 4 + n:
            break
        m = msgpack.unpackb(buf[4:4 + n])
        buf = buf[4 + n:]
        print(m)
        if m["t"] in ("reply", "error"):
            sys.exit(0)
PY
}

# A gc through the socket: a reply with the counts, status 0.
run speak control "{'t': 'gc', 'keep': 5, 'older_than': -1, 'dry_run': True}"
expect_rc 0
out_has "'t': 'reply'"
out_has "'text': '0 0 0 0"
grep -q "gc asked for: running it" "$T/.sup.err" || fail "no gc in the log"
[ ! -e "$T/.smithers/gc.request" ] || fail "a request file was written"

# A control connection sends nothing but gc.
run speak control "{'t': 'state.set', 'key': 'k', 'value': 1}"
out_has "a control connection sends only 'gc'"
out_has "'fatal': True"
sql_is "SELECT count(*) FROM state WHERE key = 'k'" 0

# An unknown role is refused.
run speak bogus
out_has "unknown role in hello"
grep -q "connection refused: unknown role in hello" "$T/.sup.err" ||
	fail "the refused role is not in the log"

# The running agent was not disturbed, and the run stops cleanly.
sql_is "SELECT status FROM agents WHERE name = 'w'" running
kill -TERM "$SUP"
wait_run
expect_rc 143
exit 0
