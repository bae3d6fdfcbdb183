"""Usage: python3 lsp_smoke.py KFLC

Starts `KFLC lsp` over stdio as an editor would and checks one round trip: `initialize` answers with
capabilities, a document with a type error opened with `didOpen` gets a diagnostic with code
E0201, and `shutdown` + `exit` end the process with status 0. Prints one line per step; exits 1 on
a failure. Standard library only (it runs in venvs that hold nothing but kflc)."""

import json
import subprocess
import sys
import threading
import time

BAD = """component count_to {
    image = "busybox:1.36"
    input n: Int
    sh "seq $n"
}

pipeline counting() {
    count_to(n: "three")
}
"""


def send(proc, message):
    body = json.dumps(message).encode()
    proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    proc.stdin.flush()


def reader(proc, messages):
    while True:
        length = None
        while True:
            line = proc.stdout.readline()
            if not line:
                return
            line = line.strip()
            if not line:
                break
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        if length is None:
            return
        messages.append(json.loads(proc.stdout.read(length)))


def wait_for(messages, predicate, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        for m in list(messages):
            if predicate(m):
                return m
        time.sleep(0.02)
    return None


def main():
    kflc = sys.argv[1]
    start = time.time()
    proc = subprocess.Popen([kflc, "lsp"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    messages = []
    threading.Thread(target=reader, args=(proc, messages), daemon=True).start()
    failures = 0

    def check(ok, what):
        nonlocal failures
        print(("ok   " if ok else "FAIL ") + what)
        failures += 0 if ok else 1

    send(proc, {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                "params": {"processId": None, "rootUri": None, "capabilities": {}}})
    reply = wait_for(messages, lambda m: m.get("id") == 1)
    caps = (reply or {}).get("result", {}).get("capabilities", {})
    check(bool(caps), "initialize answered in %.2f s with capabilities: %s"
          % (time.time() - start, ", ".join(sorted(caps))[:120]))
    send(proc, {"jsonrpc": "2.0", "method": "initialized", "params": {}})
    uri = "file:///tmp/kfl-lsp-smoke/bad.kfl"
    send(proc, {"jsonrpc": "2.0", "method": "textDocument/didOpen",
                "params": {"textDocument": {"uri": uri, "languageId": "kfl", "version": 1, "text": BAD}}})
    diag = wait_for(messages, lambda m: m.get("method") == "textDocument/publishDiagnostics"
                    and m["params"]["uri"] == uri and m["params"]["diagnostics"])
    codes = sorted({str(d.get("code")) for d in (diag or {}).get("params", {}).get("diagnostics", [])})
    check("E0201" in codes, "didOpen of a file with a type error published %s" % (codes or "nothing"))
    send(proc, {"jsonrpc": "2.0", "id": 2, "method": "shutdown", "params": None})
    check(wait_for(messages, lambda m: m.get("id") == 2) is not None, "shutdown answered")
    send(proc, {"jsonrpc": "2.0", "method": "exit", "params": None})
    try:
        status = proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        status = "killed after 10 s"
    check(status == 0, "exit ended the server with status %s" % status)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
