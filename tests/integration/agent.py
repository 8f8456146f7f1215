#!/usr/bin/python3
"""A test agent that speaks the smithers protocol with Debian's
python3-msgpack and nothing of ours: what it needs is in docs/PROTOCOL.md.

usage: agent.py ACTION [ARGS...]   (run by the supervisor)

  set PREFIX N [EVERY]   state.set PREFIX.0 .. PREFIX.N-1 (values 0..N-1),
                         sync every EVERY messages (default N) and at the end
  acklog FILE N          state.set EXECUTION.AGENT.k<seq> one at a time; after each ack,
                         append the seq to FILE and fsync it
  flood N                state.set flood.<i % 1000> N times without waiting,
                         then sync
  incr KEY               read KEY from the database (read-only), set KEY+1
  tools                  tool.start/complete (one output > 1 KiB), memory.add,
                         usage, log, result
  bad KIND [FILE]        send bad input KIND, note in FILE what came back,
                         then wait to be stopped
  noack N                state.set N times, never reading the ack pipe
  probe N FILE           N synced state.set, one every 5 ms; writes the
                         median and worst milliseconds to an ack to FILE,
                         and the five worst (which, when, how long) to
                         FILE.worst
  grandchild PIDFILE THEN  start a grandchild that ignores SIGTERM, write its
                         pid to PIDFILE, then THEN: exit | sleep
  tree PIDFILE           a tree of 7 processes that ignore SIGTERM (the agent,
                         2 children, 4 grandchildren); each appends its pid to
                         PIDFILE; one child exits, orphaning its children;
                         the others sleep
  wait FILE              wait until FILE exists, then exit 0
  witness PREFIX FILE    state.set PREFIX.0, PREFIX.1 ... one at a time, each
                         synced, until FILE exists; then PREFIX.count = how
                         many; exit 1 if any was refused
  exit CODE              exit with CODE
  sleep SECONDS          sleep
  fail TEXT              send fail, then exit 0
  nul KEY                state.set KEY to a string with a NUL in it
"""
import os
import signal
import sqlite3
import struct
import subprocess
import sys
import time

import msgpack


class Conn:
    def __init__(self, version=1):
        self.up = int(os.environ["SMITHERS_FD"])
        self.down = int(os.environ["SMITHERS_ACK_FD"])
        self.seq = 0
        self.acked = 0
        self.buf = b""
        self.errors = []
        self.send("hello", v=version, pid=os.getpid())

    def frame(self, t, **fields):
        self.seq += 1
        body = msgpack.packb(dict(t=t, seq=self.seq, **fields), use_bin_type=True)
        return struct.pack(">I", len(body)) + body

    def raw(self, data):
        view = memoryview(data)
        while view:
            n = os.write(self.up, view)
            view = view[n:]

    def send(self, t, **fields):
        self.raw(self.frame(t, **fields))
        return self.seq

    def read_one(self):
        while True:
            if len(self.buf) >= 4:
                n = struct.unpack(">I", self.buf[:4])[0]
                if len(self.buf) >= 4 + n:
                    m = msgpack.unpackb(self.buf[4 : 4 + n], raw=False)
                    self.buf = self.buf[4 + n :]
                    return m
            chunk = os.read(self.down, 65536)
            if not chunk:
                raise EOFError("the supervisor closed the ack pipe")
            self.buf += chunk

    def sync(self, seq=None):
        seq = seq or self.seq
        while self.acked < seq:
            m = self.read_one()
            if m["t"] == "ack":
                self.acked = m["seq"]
            elif m["t"] == "error":
                self.errors.append(m)
        return self.acked


def note(path, text):
    if path:
        with open(path, "a") as f:
            f.write(text + "\n")


def db_value(key):
    path = os.path.join(os.environ["SMITHERS_DIR"], ".smithers", "smithers.db")
    con = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    try:
        row = con.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
    finally:
        con.close()
    return None if row is None else row[0]


def bad(c, kind, path):
    try:
        send_bad(c, kind, path)
    except BrokenPipeError:
        pass  # it stopped reading after the first bad frame
    if kind == "badjson":
        return
    try:
        while True:
            m = c.read_one()
            if m["t"] == "error":
                note(path, "error %s fatal=%s" % (m["reason"], m.get("fatal")))
    except EOFError:
        note(path, "eof")
    time.sleep(60)


def send_bad(c, kind, path):
    if kind == "version":
        pass  # the hello was enough
    elif kind == "notframe":
        c.raw(b"GET / HTTP/1.1\r\n\r\n")
    elif kind == "truncated":
        c.raw(struct.pack(">I", 100) + b"\x82\xa1t")
        sys.exit(0)
    elif kind == "oversize":
        c.raw(struct.pack(">I", 0x7FFFFFF0))
    elif kind == "no-t":
        body = msgpack.packb({"seq": c.seq + 1, "key": "x", "json": "1"})
        c.raw(struct.pack(">I", len(body)) + body)
    elif kind == "unknown-t":
        c.send("state.frobnicate", key="x")
    elif kind == "wrong-type":
        c.send("state.set", key=5, value=1)
    elif kind == "seq":
        c.seq -= 1
        c.send("state.set", key="dup", value=1)
        c.seq -= 1
        c.send("state.set", key="dup", value=2)
    elif kind == "utf8":
        c.seq += 1
        body = msgpack.packb({"t": "state.set", "seq": c.seq, "key": b"\xff\xfe", "value": 1},
                             use_bin_type=False)
        c.raw(struct.pack(">I", len(body)) + body)
    elif kind == "badjson":
        # Not a protocol error: refused alone, the agent goes on.
        c.send("state.set", key="badjson", json="{not json")
        c.send("state.set", key="goodjson", json='{"ok": true}')
        c.sync()
        note(path, "errors %d" % len(c.errors))
    else:
        sys.exit("unknown bad kind " + kind)


def tree(path, depth, leaves_early=False):
    """One node of the tree: its children first, then its pid in PATH."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    for i in range(2 if depth else 0):
        if os.fork() == 0:
            # The first child leaves once its own children run.
            tree(path, depth - 1, depth == 2 and i == 0)
    with open(path, "a") as f:
        f.write("%d\n" % os.getpid())
    if leaves_early:
        os._exit(0)
    while True:
        time.sleep(60)


def main():
    action, args = sys.argv[1], sys.argv[2:]
    if action == "exit":
        sys.exit(int(args[0]))
    if action == "sleep":
        time.sleep(float(args[0]))
        return
    if action == "grandchild":
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            os.closerange(3, 1024)
            os.execvp("sh", ["sh", "-c", "trap '' TERM; while :; do sleep 1; done"])
        with open(args[0] + ".tmp", "w") as f:
            f.write("%d\n" % pid)
        os.rename(args[0] + ".tmp", args[0])
        if args[1] == "sleep":
            time.sleep(600)
        return
    if action == "tree":
        tree(args[0], 2)
    if action == "wait":
        while not os.path.exists(args[0]):
            time.sleep(0.02)
        return
    if action == "bad":
        # Stay to hear the supervisor out: it stops us right after its
        # error, which may come as soon as the hello.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # A hello of a protocol version the supervisor does not speak.
    c = Conn(99 if action == "bad" and args[:1] == ["version"] else 1)
    if action == "set":
        n = int(args[1])
        every = int(args[2]) if len(args) > 2 else n
        for i in range(n):
            c.send("state.set", key="%s.%d" % (args[0], i), value=i, trigger="test")
            if (i + 1) % every == 0:
                c.sync()
        c.sync()
    elif action == "acklog":
        me = "%s.%s" % (os.environ["SMITHERS_EXECUTION_ID"], os.environ["SMITHERS_AGENT"])
        with open(args[0], "a") as f:
            for _ in range(int(args[1])):
                seq = c.send("state.set", key="%s.k%d" % (me, c.seq + 1),
                             value=c.seq + 1)
                c.sync(seq)
                f.write("%d\n" % seq)
                f.flush()
                os.fsync(f.fileno())
    elif action == "flood":
        for i in range(int(args[0])):
            c.send("state.set", key="flood.%d" % (i % 1000), value=i)
        c.sync()
    elif action == "incr":
        v = db_value(args[0])
        c.send("state.set", key=args[0], value=(int(v) if v else 0) + 1, trigger="incr")
        c.sync()
    elif action == "tools":
        c.send("tool.start", call=1, tool="ls", input={"path": "."})
        c.send("tool.complete", call=1, output="x" * 5000, status="completed")
        c.send("tool.start", call=2, tool="wc")
        c.send("tool.complete", call=2, output=b"12 lines", summary="count")
        c.send("memory.add", category="fact", key="python", content="python agents work")
        c.send("usage", tokens_in=100, tokens_out=7, cost=0.01)
        c.send("log", level="info", message="hello from python")
        c.send("result", text="done", value={"ok": True})
        c.sync()
        if c.errors:
            sys.exit("errors: %r" % c.errors)
    elif action == "bad":
        bad(c, args[0], args[1] if len(args) > 1 else None)
    elif action == "probe":
        # N changes one at a time; note the median and worst ms to an ack.
        waits = []
        start = time.monotonic()
        for i in range(int(args[0])):
            t0 = time.monotonic()
            c.sync(c.send("state.set", key="probe.%d" % i, value=i))
            waits.append(((time.monotonic() - t0) * 1000, i, (t0 - start) * 1000))
            time.sleep(0.005)
        waits.sort()
        note(args[1], "%d %d" % (waits[len(waits) // 2][0], waits[-1][0]))
        for ms, i, at in reversed(waits[-5:]):
            note(args[1] + ".worst", "probe %d, sent %d ms after the first: %d ms" % (i, at, ms))
    elif action == "noack":
        for i in range(int(args[0])):
            c.send("state.set", key="noack.%d" % (i % 100), value=i)
        time.sleep(2)
    elif action == "witness":
        n = 0
        while not os.path.exists(args[1]):
            c.sync(c.send("state.set", key="%s.%d" % (args[0], n), value=n))
            n += 1
            time.sleep(0.02)
        c.send("state.set", key=args[0] + ".count", value=n)
        c.sync()
        if c.errors:
            sys.exit("errors: %r" % c.errors)
    elif action == "fail":
        c.send("fail", error=args[0])
        c.sync()
    elif action == "nul":
        c.send("state.set", key=args[0], value="a\x00b")
        c.sync()
        if c.errors:
            sys.exit("errors: %r" % c.errors)
    else:
        sys.exit("unknown action " + action)


main()
