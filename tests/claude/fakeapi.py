#!/usr/bin/python3
"""fakeapi - a scripted Anthropic Messages API server for the Claude Code CLI.

    fakeapi.py --script SCRIPT.json --port-file F --log REQS.jsonl [--idle S]

Binds 127.0.0.1 on a free port, writes the port (and a newline) to F once
it listens, and serves until SIGTERM/SIGINT or until no request came for
--idle seconds (600). Every POST body is appended to the log as one JSON
line: {"n": N, "path": ..., "conversation": NAME or null, "reply": INDEX or
null, "body": <the request as sent>}. The script format is in README.md
next to this file. Python standard library only.
"""

import http.server
import json
import os
import sys
import threading
import time

# The script, shared with the other fake API (no .pyc in the source tree).
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
from scripted import serve  # noqa: E402

OVERLOADED = {"type": "error",
              "error": {"type": "overloaded_error", "message": "Overloaded"}}
ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error",
               403: "permission_error", 404: "not_found_error",
               413: "request_too_large", 429: "rate_limit_error",
               500: "api_error", 529: "overloaded_error"}


def block_text(content):
    """The text of a message's content (a string or a list of blocks)."""
    if isinstance(content, str):
        return content
    parts = []
    for b in content or []:
        if isinstance(b, dict):
            if isinstance(b.get("text"), str):
                parts.append(b["text"])
            elif "content" in b:
                parts.append(block_text(b["content"]))
    return "\n".join(parts)


def match_text(req):
    """What a conversation's `match` is looked for in: the system prompt
    (the top-level field and any role "system" messages) and the first
    user message."""
    parts = [block_text(req.get("system"))]
    first_user = None
    for m in req.get("messages") or []:
        if m.get("role") == "system":
            parts.append(block_text(m.get("content")))
        elif m.get("role") == "user" and first_user is None:
            first_user = block_text(m.get("content"))
    parts.append(first_user or "")
    return "\n".join(parts)


class State:
    script = None
    log = None
    log_lock = threading.Lock()
    n = 0
    msg_n = 0
    last = time.monotonic()


def chunks(s, n=3):
    """s cut into up to n pieces (at least one, possibly empty)."""
    if len(s) < n:
        return [s]
    size = (len(s) + n - 1) // n
    return [s[i:i + size] for i in range(0, len(s), size)]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fakeapi/1"

    def log_message(self, *args):
        pass

    def send_json(self, status, obj, extra=()):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("request-id", "req_fake_%06d" % State.n)
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_HEAD(self):
        State.last = time.monotonic()
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        State.last = time.monotonic()
        self.send_json(200, {})

    def do_POST(self):
        State.last = time.monotonic()
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n)
        try:
            req = json.loads(raw)
        except ValueError:
            req = None
        path = self.path.split("?", 1)[0]
        conv = idx = None
        reply = None
        if (path == "/v1/messages" and isinstance(req, dict)
                and req.get("stream")):
            conv, idx, reply = State.script.pick(match_text(req))
        with State.log_lock:
            State.n += 1
            State.log.write(json.dumps({
                "n": State.n, "path": self.path, "conversation": conv,
                "reply": idx,
                "body": req if req is not None
                else raw.decode("utf-8", "replace")}) + "\n")
            State.log.flush()
        if path == "/v1/messages/count_tokens":
            size = len(raw) // 4
            self.send_json(200, {"input_tokens": size})
            return
        if path != "/v1/messages" or not isinstance(req, dict):
            self.send_json(200, {})
            return
        if not req.get("stream"):
            # A side request (a title, a summary): a short plain answer.
            self.send_json(200, self.message(req, {"text": "ok"}, False))
            return
        try:
            self.answer(req, reply)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the CLI went away (killed mid-turn)
        State.last = time.monotonic()

    def message(self, req, reply, stream):
        with State.log_lock:
            State.msg_n += 1
            mid = "msg_fake_%04d" % State.msg_n
        u = reply.get("usage", {})
        usage = {
            "input_tokens": u.get("input_tokens", 100),
            "cache_creation_input_tokens":
                u.get("cache_creation_input_tokens", 0),
            "cache_read_input_tokens": u.get("cache_read_input_tokens", 0),
            "output_tokens": u.get("output_tokens", 10) if not stream else 1,
        }
        msg = {"id": mid, "type": "message", "role": "assistant",
               "model": req.get("model", "claude-fake"), "content": [],
               "stop_reason": None, "stop_sequence": None, "usage": usage}
        if not stream:
            msg["content"] = [{"type": "text", "text": reply["text"]}]
            msg["stop_reason"] = "end_turn"
        return msg

    def answer(self, req, reply):
        status = reply.get("status", 200)
        if status != 200:
            if reply.get("delay"):
                time.sleep(reply["delay"])
            body = reply.get("body") or {
                "type": "error",
                "error": {"type": ERROR_TYPES.get(status, "api_error"),
                          "message": reply.get("message", "Overloaded"
                                               if status == 529
                                               else "fakeapi error")}}
            extra = []
            if "retry_after" in reply:
                extra.append(("retry-after", str(reply["retry_after"])))
            if status == 529 and "x-should-retry" in reply:
                extra.append(("x-should-retry",
                              "true" if reply["x-should-retry"]
                              else "false"))
            self.send_json(status, body, extra)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("request-id", "req_fake_%06d" % State.n)
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

        def event(kind, data):
            data = dict(type=kind, **data)
            self.wfile.write(("event: %s\ndata: %s\n\n"
                              % (kind, json.dumps(data))).encode())
            self.wfile.flush()

        msg = self.message(req, reply, True)
        event("message_start", {"message": msg})
        event("ping", {})
        if reply.get("delay"):
            time.sleep(reply["delay"])
        i = 0
        if "thinking" in reply:
            event("content_block_start", {"index": i, "content_block": {
                "type": "thinking", "thinking": "", "signature": ""}})
            for c in chunks(reply["thinking"]):
                event("content_block_delta", {"index": i, "delta": {
                    "type": "thinking_delta", "thinking": c}})
            event("content_block_delta", {"index": i, "delta": {
                "type": "signature_delta",
                "signature": "ZmFrZWFwaQ=="}})
            event("content_block_stop", {"index": i})
            i += 1
        if "text" in reply:
            event("content_block_start", {"index": i, "content_block": {
                "type": "text", "text": ""}})
            for c in chunks(reply["text"]):
                event("content_block_delta", {"index": i, "delta": {
                    "type": "text_delta", "text": c}})
            event("content_block_stop", {"index": i})
            i += 1
        for k, t in enumerate(reply.get("tool_uses", [])):
            tid = t.get("id") or "toolu_%s_%d" % (msg["id"][4:], k)
            event("content_block_start", {"index": i, "content_block": {
                "type": "tool_use", "id": tid, "name": t["name"],
                "input": {}}})
            for c in chunks(json.dumps(t.get("input", {}))):
                event("content_block_delta", {"index": i, "delta": {
                    "type": "input_json_delta", "partial_json": c}})
            event("content_block_stop", {"index": i})
            i += 1
        stop = reply.get("stop_reason") or (
            "tool_use" if reply.get("tool_uses") else "end_turn")
        u = reply.get("usage", {})
        event("message_delta", {
            "delta": {"stop_reason": stop, "stop_sequence": None},
            "usage": {"output_tokens": u.get("output_tokens", 10)}})
        event("message_stop", {})


def main():
    return serve(__doc__, Handler, State)


if __name__ == "__main__":
    sys.exit(main())
