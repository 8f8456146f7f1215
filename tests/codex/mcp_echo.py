#!/usr/bin/python3
"""mcp_echo - a minimal MCP server on stdio for the tests of the Codex CLI.

One JSON-RPC message a line. Tools: `echo` ({"text"} -> "echo: TEXT") and
`fail` (always an error result, isError true). Python standard library
only.
"""

import json
import sys

TOOLS = [
    {"name": "echo", "description": "Echo the text back",
     "inputSchema": {"type": "object",
                     "properties": {"text": {"type": "string"}},
                     "required": ["text"]}},
    {"name": "fail", "description": "Always fails",
     "inputSchema": {"type": "object", "properties": {}}},
]


def answer(mid, result):
    sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": mid,
                                 "result": result}) + "\n")
    sys.stdout.flush()


def main():
    for line in sys.stdin:
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if not isinstance(msg, dict) or msg.get("id") is None:
            continue  # a notification
        method = msg.get("method")
        params = msg.get("params") or {}
        if method == "initialize":
            answer(msg["id"], {
                "protocolVersion": params.get("protocolVersion",
                                              "2025-06-18"),
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "mcp_echo", "version": "1"}})
        elif method == "tools/list":
            answer(msg["id"], {"tools": TOOLS})
        elif method == "tools/call":
            args = params.get("arguments") or {}
            if params.get("name") == "echo":
                answer(msg["id"], {"content": [{
                    "type": "text",
                    "text": "echo: %s" % args.get("text", "")}],
                    "isError": False})
            else:
                answer(msg["id"], {"content": [{
                    "type": "text", "text": "mcp_echo: it failed"}],
                    "isError": True})
        else:
            answer(msg["id"], {})
    return 0


if __name__ == "__main__":
    sys.exit(main())
