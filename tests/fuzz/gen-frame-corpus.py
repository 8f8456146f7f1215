#!/usr/bin/python3
"""Write the seed corpus of the frame fuzzer, tests/fuzz/corpus/frame/, and
its dictionary, tests/fuzz/frame.dict, with Debian's python3-msgpack (as an
agent in another language would, from docs/PROTOCOL.md).

usage: tests/fuzz/gen-frame-corpus.py     (rewrites both; commit the result)

Each seed is one stream: a hello, then messages of one kind (an agent's
stream), or acks and errors (the supervisor's); one holds every kind at
once, and a few are broken the ways a confused agent breaks them.
"""
import os
import struct

import msgpack

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus", "frame")


def frame(body):
    if not isinstance(body, bytes):
        body = msgpack.packb(body, use_bin_type=True)
    return struct.pack(">I", len(body)) + body


def hello(seq=1, **extra):
    return frame({"t": "hello", "seq": seq, "v": 1, **extra})


# One message of every agent kind, with its optional fields set.
AGENT = {
    "state-set-value": {"t": "state.set", "key": "review.approved",
                        "value": {"ok": True, "n": [1, -2, 3.5, None],
                                  "why": "l\u00e9ger \"ok\"\n"},
                        "trigger": "review"},
    "state-set-json": {"t": "state.set", "key": "survey.files",
                       "json": "[\"a.c\", \"b.c\"]"},
    "state-delete": {"t": "state.delete", "key": "survey.draft",
                     "trigger": "cleanup"},
    "memory-add": {"t": "memory.add", "category": "fact", "scope": "repo",
                   "key": "build", "content": "make -j2 check",
                   "confidence": 0.75, "source": "README.md"},
    "tool-start": {"t": "tool.start", "call": 7, "tool": "grep",
                   "input": ["-rn", "TODO", "."]},
    "tool-start-json": {"t": "tool.start", "call": 8, "tool": "ls",
                        "input_json": "{\"dir\": \"src\"}"},
    "tool-complete": {"t": "tool.complete", "call": 7,
                      "output": b"a.c:1: TODO\x00\xff binary",
                      "summary": "1 match", "status": "completed"},
    "tool-failed": {"t": "tool.complete", "call": 8, "output": "no such dir",
                    "status": "failed", "error": "exit 2"},
    "artifact-add": {"t": "artifact.add", "name": "report", "path":
                     "out/report.md", "type": "markdown",
                     "summary": "the survey", "metadata": {"pages": 3}},
    "usage": {"t": "usage", "tokens_in": 1200, "tokens_out": 345,
              "cost": 0.0125},
    "log": {"t": "log", "level": "warn", "message": "retrying in 2 s"},
    "result": {"t": "result", "text": "done", "value": {"approved": True}},
    "result-json": {"t": "result", "json": "42"},
    "fail": {"t": "fail", "error": "the repository has no commits"},
    "tool-start-ref": {"t": "tool.start", "call": 9, "tool": "Read",
                       "input": {"file_path": "README"},
                       "ref": "toolu_01ABC", "parent": 7},
    "usage-total": {"t": "usage", "tokens_in": 9, "tokens_out": 800,
                    "cache_read": 70000, "cache_write": 2048, "cost": 0,
                    "total": True},
    "session": {"t": "session", "id": "7f0e1c2a-5b5e-4f7d-9a51-0c5a3d2e1f00",
                "model": "claude-sonnet-4-5", "version": "2.1.332",
                "tools": ["Bash", "Read", "Task"]},
    "session-json": {"t": "session", "id": "s", "tools_json": "[]"},
}


def write(name, data):
    with open(os.path.join(CORPUS, name), "wb") as f:
        f.write(data)


def main():
    os.makedirs(CORPUS, exist_ok=True)
    for old in os.listdir(CORPUS):
        os.unlink(os.path.join(CORPUS, old))

    write("hello", hello(agent=3, token="t0k3n", pid=4121))
    for name, msg in AGENT.items():
        write(name, hello() + frame({**msg, "seq": 2}))

    # Every kind in one stream, seq increasing, one frame cut short.
    stream = hello()
    for seq, msg in enumerate(AGENT.values(), start=2):
        stream += frame({**msg, "seq": seq})
    write("all-kinds", stream)
    write("all-kinds-cut", stream[:-5])

    # The supervisor's stream: acks, then an error.
    write("down", frame({"t": "ack", "seq": 5}) +
          frame({"t": "ack", "seq": 9}) +
          frame({"t": "error", "seq": 0, "reason": "frame too large",
                 "fatal": True}))

    # Values of every msgpack type: float32, negative and large integers,
    # extension (refused), deep nesting.
    odd = msgpack.packb({"t": "state.set", "seq": 2, "key": "k",
                         "value": [2 ** 63, -2 ** 63, 1.5, "", {}]},
                        use_single_float=True)
    write("state-set-float32", hello() + frame(odd))
    write("state-set-ext", hello() + frame(
        {"t": "state.set", "seq": 2, "key": "k",
         "value": msgpack.ExtType(5, b"xyz")}))
    deep = 1
    for _ in range(31):
        deep = [deep]
    write("state-set-deep", hello() + frame(
        {"t": "state.set", "seq": 2, "key": "k", "value": deep}))

    # A tool output larger than the decoder's first buffer (4 KiB), between
    # smaller frames: the buffer grows, and moves what is left to its start.
    # (libFuzzer makes inputs as large as its largest seed.)
    write("tool-complete-large", hello() + frame(
        {"t": "tool.start", "seq": 2, "call": 1, "tool": "cat"}) + frame(
        {"t": "tool.complete", "seq": 3, "call": 1,
         "output": "".join("line %04d of the output\n" % i
                           for i in range(250)),
         "status": "completed"}) + frame(
        {"t": "log", "seq": 4, "message": "read it all"}))

    # Values at the limits: an empty key, a count past INT64_MAX, a float
    # that JSON cannot hold.
    write("state-set-empty-key", hello() + frame(
        {"t": "state.set", "seq": 2, "key": "", "json": "1"}))
    write("usage-too-many", hello() + frame(
        {"t": "usage", "seq": 2, "tokens_in": 2 ** 63}))
    write("usage-nan", hello() + frame(
        {"t": "usage", "seq": 2, "cost": float("nan")}))

    # Broken: text where frames belong, an unknown kind, seq going back.
    write("not-protocol", b"HTTP/1.1 200 OK\r\n\r\n")
    write("unknown-type", hello() + frame({"t": "state.get", "seq": 2}))
    write("seq-backwards", hello(seq=5) + frame(
        {"t": "log", "seq": 3, "message": "late"}))

    # The dictionary: the names on the wire, as msgpack strings.
    words = set()
    for msg in list(AGENT.values()) + [{"t": "hello", "seq": 1, "v": 1,
                                        "agent": 1, "token": "", "pid": 1},
                                       {"t": "ack"},
                                       {"t": "error", "reason": "",
                                        "fatal": False}]:
        for k, v in msg.items():
            words.add(k)
            if k == "t":
                words.add(v)
    words.update(["completed", "failed", "metadata_json"])
    with open(os.path.join(HERE, "frame.dict"), "w") as f:
        f.write("# Names on the wire as msgpack strings; written by "
                "gen-frame-corpus.py.\n")
        for w in sorted(words):
            packed = msgpack.packb(w)
            f.write('"%s"\n' % "".join(
                chr(b) if 0x20 <= b < 0x7f and chr(b) not in '"\\'
                else "\\x%02x" % b for b in packed))


if __name__ == "__main__":
    main()
