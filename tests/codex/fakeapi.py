#!/usr/bin/python3
"""fakeapi - a scripted OpenAI Responses API server for the Codex CLI.

    fakeapi.py --script SCRIPT.json --port-file F --log REQS.jsonl [--idle S]

Binds 127.0.0.1 on a free port, writes the port (and a newline) to F once
it listens, and serves until SIGTERM/SIGINT or until no request came for
--idle seconds (600). Every POST is appended to the log as one JSON line:
{"n": N, "path": ..., "kind": the request_kind the CLI put in its
x-codex-turn-metadata header or null, "conversation": NAME or null,
"reply": INDEX or null, "status": the HTTP status answered, "body": <the
request as sent>}. The script format is in README.md next to this file.
Python standard library only.
"""

import gzip
import http.server
import json
import os
import re
import sys
import threading
import time

# The script, shared with the other fake API (no .pyc in the source tree).
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
from scripted import serve  # noqa: E402

ERROR_TYPES = {400: ("invalid_request_error", None),
               401: ("invalid_request_error", "invalid_api_key"),
               403: ("invalid_request_error", None),
               404: ("invalid_request_error", "model_not_found"),
               429: ("requests", "rate_limit_exceeded"),
               500: ("server_error", None),
               502: ("server_error", None),
               503: ("server_error", None)}


def content_text(content):
    """The text of a message's content (a string or a list of parts)."""
    if isinstance(content, str):
        return content
    parts = []
    for p in content or []:
        if isinstance(p, dict) and isinstance(p.get("text"), str):
            parts.append(p["text"])
    return "\n".join(parts)


def match_text(req):
    """What a conversation's `match` is looked for in: the instructions,
    and the text of every message of the input (developer, system and
    user; not the tool calls and their outputs)."""
    parts = [req.get("instructions") or ""]
    for item in req.get("input") or []:
        if not isinstance(item, dict):
            continue
        if item.get("type", "message") == "message" and \
                item.get("role") in ("developer", "system", "user"):
            parts.append(content_text(item.get("content")))
    return "\n".join(parts)


class State:
    script = None
    log = None
    lock = threading.Lock()
    n = 0       # requests
    resp_n = 0  # responses streamed (the ids)
    last = time.monotonic()


def chunks(s, n=3):
    """s cut into up to n pieces (at least one, possibly empty)."""
    if len(s) < n:
        return [s]
    size = (len(s) + n - 1) // n
    return [s[i:i + size] for i in range(0, len(s), size)]


def usage_of(reply):
    u = reply.get("usage", {})
    inp = u.get("input_tokens", 100)
    out = u.get("output_tokens", 10)
    return {
        "input_tokens": inp,
        "input_tokens_details": {"cached_tokens": u.get("cached_tokens", 0)},
        "output_tokens": out,
        "output_tokens_details": {
            "reasoning_tokens": u.get("reasoning_tokens", 0)},
        "total_tokens": u.get("total_tokens", inp + out),
    }


def last_session_id(req):
    """The id in the last "Process running with session ID N" of the
    tool outputs in a request (a command still running after its
    yield_time_ms), or None."""
    found = None
    for item in req.get("input") or []:
        if isinstance(item, dict) and isinstance(item.get("output"), str):
            for m in re.finditer(r"session ID (\d+)", item["output"]):
                found = m.group(1)
    return found


def request_kind(headers):
    meta = headers.get("x-codex-turn-metadata")
    if not meta:
        return None
    try:
        return json.loads(meta).get("request_kind")
    except (ValueError, AttributeError):
        return None


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
        self.send_header("x-request-id", "req_fake_%06d" % State.n)
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
        if self.path.split("?", 1)[0].endswith("/models"):
            self.send_json(200, {"object": "list", "data": []})
        else:
            self.send_json(200, {})

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            raw = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    break
                raw += self.rfile.read(size)
                self.rfile.readline()
        else:
            raw = self.rfile.read(int(self.headers.get("Content-Length")
                                      or 0))
        if self.headers.get("Content-Encoding", "").lower() == "gzip":
            raw = gzip.decompress(raw)
        return raw

    def do_POST(self):
        State.last = time.monotonic()
        raw = self.read_body()
        try:
            req = json.loads(raw)
        except ValueError:
            req = None
        path = self.path.split("?", 1)[0]
        conv = idx = None
        reply = None
        turn = (path.endswith("/responses") and isinstance(req, dict)
                and req.get("stream"))
        if turn:
            conv, idx, reply = State.script.pick(match_text(req))
        status = reply.get("status", 200) if reply else 200
        with State.lock:
            State.n += 1
            State.log.write(json.dumps({
                "n": State.n, "path": self.path,
                "kind": request_kind(self.headers),
                "conversation": conv, "reply": idx, "status": status,
                "body": req if req is not None
                else raw.decode("utf-8", "replace")}) + "\n")
            State.log.flush()
        if not turn:
            # Nothing else is scripted: an empty object.
            self.send_json(200, {})
            return
        try:
            self.answer(req, reply)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the CLI went away (killed mid-turn)
        State.last = time.monotonic()

    def error_answer(self, reply):
        status = reply["status"]
        if reply.get("delay"):
            time.sleep(reply["delay"])
        etype, code = ERROR_TYPES.get(status, ("server_error", None))
        body = reply.get("body") or {"error": {
            "message": reply.get("message", "fakeapi error %d" % status),
            "type": etype, "param": None, "code": code}}
        extra = []
        if "retry_after" in reply:
            extra.append(("retry-after", str(reply["retry_after"])))
        self.send_json(status, body, extra)

    def answer(self, req, reply):
        if reply.get("status", 200) != 200:
            self.error_answer(reply)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("x-request-id", "req_fake_%06d" % State.n)
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        seq = [0]

        def event(kind, data):
            data = dict(type=kind, sequence_number=seq[0], **data)
            seq[0] += 1
            self.wfile.write(("event: %s\ndata: %s\n\n"
                              % (kind, json.dumps(data))).encode())
            self.wfile.flush()

        with State.lock:
            State.resp_n += 1
            rn = State.resp_n
        rid = "resp_fake_%04d" % rn
        resp = {"id": rid, "object": "response",
                "created_at": int(time.time()), "status": "in_progress",
                "model": req.get("model", "gpt-fake"), "output": [],
                "usage": None, "error": None}
        event("response.created", {"response": dict(resp)})
        event("response.in_progress", {"response": dict(resp)})
        if reply.get("delay"):
            time.sleep(reply["delay"])
        if "failed" in reply:
            # An error inside the stream, after a 200.
            f = reply["failed"]
            resp.update(status="failed", error={
                "code": f.get("code", "server_error"),
                "message": f.get("message", "fakeapi failure")})
            event("response.failed", {"response": resp})
            return
        if reply.get("drop"):
            return  # the stream ends without response.completed
        output = []
        k = 0
        if "reasoning" in reply:
            item = {"id": "rs_fake_%04d_%d" % (rn, k), "type": "reasoning",
                    "summary": []}
            event("response.output_item.added",
                  {"output_index": k, "item": item})
            part = {"type": "summary_text", "text": ""}
            event("response.reasoning_summary_part.added", {
                "item_id": item["id"], "output_index": k,
                "summary_index": 0, "part": part})
            for c in chunks(reply["reasoning"]):
                event("response.reasoning_summary_text.delta", {
                    "item_id": item["id"], "output_index": k,
                    "summary_index": 0, "delta": c})
            event("response.reasoning_summary_text.done", {
                "item_id": item["id"], "output_index": k,
                "summary_index": 0, "text": reply["reasoning"]})
            part = {"type": "summary_text", "text": reply["reasoning"]}
            event("response.reasoning_summary_part.done", {
                "item_id": item["id"], "output_index": k,
                "summary_index": 0, "part": part})
            item = dict(item, summary=[part],
                        encrypted_content="ZmFrZWFwaQ==")
            event("response.output_item.done",
                  {"output_index": k, "item": item})
            output.append(item)
            k += 1
        if "text" in reply:
            mid = "msg_fake_%04d_%d" % (rn, k)
            item = {"id": mid, "type": "message", "status": "in_progress",
                    "role": "assistant", "content": []}
            event("response.output_item.added",
                  {"output_index": k, "item": item})
            part = {"type": "output_text", "text": "", "annotations": []}
            event("response.content_part.added", {
                "item_id": mid, "output_index": k, "content_index": 0,
                "part": part})
            for c in chunks(reply["text"]):
                event("response.output_text.delta", {
                    "item_id": mid, "output_index": k, "content_index": 0,
                    "delta": c})
            event("response.output_text.done", {
                "item_id": mid, "output_index": k, "content_index": 0,
                "text": reply["text"]})
            part = dict(part, text=reply["text"])
            event("response.content_part.done", {
                "item_id": mid, "output_index": k, "content_index": 0,
                "part": part})
            item = dict(item, status="completed", content=[part])
            event("response.output_item.done",
                  {"output_index": k, "item": item})
            output.append(item)
            k += 1
        for j, call in enumerate(reply.get("calls", [])):
            call_id = call.get("call_id") or "call_fake_%04d_%d" % (rn, j)
            if "input" in call:
                # A freeform (custom) tool, e.g. apply_patch.
                iid = call.get("id") or "ctc_fake_%04d_%d" % (rn, j)
                item = {"id": iid, "type": "custom_tool_call",
                        "status": "in_progress", "call_id": call_id,
                        "name": call["name"], "input": ""}
                event("response.output_item.added",
                      {"output_index": k, "item": item})
                for c in chunks(call["input"]):
                    event("response.custom_tool_call_input.delta", {
                        "item_id": iid, "output_index": k, "delta": c})
                event("response.custom_tool_call_input.done", {
                    "item_id": iid, "output_index": k,
                    "input": call["input"]})
                item = dict(item, status="completed", input=call["input"])
            else:
                args = call.get("arguments", {})
                if not isinstance(args, str):
                    args = json.dumps(args)
                if '"{{session_id}}"' in args:
                    args = args.replace('"{{session_id}}"',
                                        last_session_id(req) or "0")
                iid = call.get("id") or "fc_fake_%04d_%d" % (rn, j)
                item = {"id": iid, "type": "function_call",
                        "status": "in_progress", "call_id": call_id,
                        "name": call["name"], "arguments": ""}
                if "namespace" in call:
                    # A deferred tool found by tool_search (MCP tools).
                    item["namespace"] = call["namespace"]
                event("response.output_item.added",
                      {"output_index": k, "item": item})
                for c in chunks(args):
                    event("response.function_call_arguments.delta", {
                        "item_id": iid, "output_index": k, "delta": c})
                event("response.function_call_arguments.done", {
                    "item_id": iid, "output_index": k, "arguments": args})
                item = dict(item, status="completed", arguments=args)
            event("response.output_item.done",
                  {"output_index": k, "item": item})
            output.append(item)
            k += 1
        for item in reply.get("items", []):
            # Any other output item, as given (e.g. a web_search_call).
            event("response.output_item.added",
                  {"output_index": k, "item": item})
            event("response.output_item.done",
                  {"output_index": k, "item": item})
            output.append(item)
            k += 1
        resp.update(status="completed", output=output, usage=usage_of(reply))
        event("response.completed", {"response": resp})


def main():
    return serve(__doc__, Handler, State)


if __name__ == "__main__":
    sys.exit(main())
