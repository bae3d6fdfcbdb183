#!/usr/bin/env python3
"""A stand-in language server for editor tests: speaks LSP over stdio, answers `initialize` and
`shutdown`, and appends the method (and, for text document notifications, the URI and language id)
of every message it receives to the log file named by its first argument, one JSON object a line.
The editor configuration under test starts it instead of `kflc lsp`."""
import json
import sys

log_path = sys.argv[1]
argv_rest = sys.argv[2:]


def log(entry):
    with open(log_path, "a") as f:
        f.write(json.dumps(entry) + "\n")


def read_message():
    headers = {}
    while True:
        line = sys.stdin.buffer.readline()
        if not line:
            return None
        line = line.strip()
        if not line:
            break
        name, _, value = line.decode().partition(":")
        headers[name.strip().lower()] = value.strip()
    body = sys.stdin.buffer.read(int(headers["content-length"]))
    return json.loads(body)


def send(message):
    body = json.dumps(message).encode()
    sys.stdout.buffer.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    sys.stdout.buffer.flush()


log({"method": "(started)", "args": argv_rest})
while True:
    message = read_message()
    if message is None:
        break
    method = message.get("method")
    entry = {"method": method}
    doc = (message.get("params") or {}).get("textDocument") or {}
    if "uri" in doc:
        entry["uri"] = doc["uri"]
    if "languageId" in doc:
        entry["languageId"] = doc["languageId"]
    if method == "initialize":
        entry["rootUri"] = message["params"].get("rootUri")
    log(entry)
    if method == "initialize":
        send({"jsonrpc": "2.0", "id": message["id"], "result": {
            "capabilities": {"textDocumentSync": 1},
            "serverInfo": {"name": "fake-kflc"},
        }})
    elif method == "shutdown":
        send({"jsonrpc": "2.0", "id": message["id"], "result": None})
    elif method == "exit":
        break
    elif "id" in message:
        send({"jsonrpc": "2.0", "id": message["id"], "result": None})
