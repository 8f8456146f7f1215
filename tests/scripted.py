"""scripted.py - the script of a fake API server of the tests
(tests/claude/fakeapi.py, tests/codex/fakeapi.py): conversations, each
matched by a text its requests hold, serving its replies in order.

A script is a list of conversations (or {"conversations": [...]}, or one
conversation object) {"name", "match", "replies": [...]}. A request goes
to the first conversation whose "match" occurs in the request's text (an
empty match takes every request: put it last); each conversation serves
its replies in order, a reply "times" times (1, or "forever"), across
the CLI's runs. Used up, or matched by none: a reply saying so.

serve() is the servers' main: their command line, the port file, the
stop on SIGTERM or SIGINT or after --idle seconds without a request.
"""
import argparse
import http.server
import json
import os
import signal
import threading
import time


class Script:
    def __init__(self, doc):
        if isinstance(doc, dict):
            doc = doc.get("conversations", [doc])
        self.convs = []
        for i, c in enumerate(doc):
            self.convs.append({
                "name": c.get("name", "conv%d" % i),
                "match": c.get("match", ""),
                "replies": list(c.get("replies", [])),
                "next": 0,    # index of the reply served next
                "served": 0,  # times the current reply was served
            })
        self.lock = threading.Lock()

    def pick(self, text):
        """(conversation name, reply index, reply) for a request whose
        text is TEXT."""
        with self.lock:
            for c in self.convs:
                if c["match"] and c["match"] not in text:
                    continue
                if c["next"] >= len(c["replies"]):
                    return c["name"], None, {
                        "text": "fakeapi: the script of %s is used up"
                        % c["name"]}
                idx = c["next"]
                r = c["replies"][idx]
                times = r.get("times", 1)
                c["served"] += 1
                if times != "forever" and c["served"] >= times:
                    c["next"] += 1
                    c["served"] = 0
                return c["name"], idx, r
        return None, None, {"text": "fakeapi: no conversation matches"}


def serve(doc, handler, state):
    """Serve HANDLER (an http.server handler class) on 127.0.0.1, with
    the script and the request log of the command line set on STATE
    (its script, log, and the time of the last request, last). DOC is
    the server's description. Returns the exit status."""
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("--script", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--idle", type=float, default=600,
                    help="exit after this many seconds without a request")
    a = ap.parse_args()
    with open(a.script) as f:
        state.script = Script(json.load(f))
    state.log = open(a.log, "a")
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    srv.daemon_threads = True

    def stop(*_):
        threading.Thread(target=srv.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    def watchdog():
        while True:
            time.sleep(1)
            if time.monotonic() - state.last > a.idle:
                stop()
                return
    threading.Thread(target=watchdog, daemon=True).start()
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, a.port_file)
    srv.serve_forever(poll_interval=0.2)
    srv.server_close()
    return 0
