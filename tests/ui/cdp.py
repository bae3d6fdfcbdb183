"""A minimal Chrome DevTools Protocol client over --remote-debugging-pipe (file descriptors 3 and
4, messages as JSON ended by NUL): no websocket library, nothing to install beyond Chromium."""

import fcntl
import json
import os
import subprocess
import time


class Browser:
    def __init__(self, profile):
        to_chrome_r, self.to_chrome = os.pipe()
        self.from_chrome, from_chrome_w = os.pipe()
        # The child sees our pipes as its fds 3 (reads commands) and 4 (writes answers): moved out
        # of the way first (either may already be 3 or 4), then into place; kept open by pass_fds.
        def child():
            read_end = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD, 10)
            write_end = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD, 10)
            os.dup2(read_end, 3)
            os.dup2(write_end, 4)
        self.process = subprocess.Popen(
            ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
             f"--user-data-dir={profile}", "--window-size=1400,900", "about:blank"],
            preexec_fn=child, pass_fds=(3, 4),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self.buffer = b""
        self.next_id = 0
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]

    def call(self, method, session=None, **params):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self.to_chrome, json.dumps(message).encode() + b"\0")
        while True:
            while b"\0" not in self.buffer:
                chunk = os.read(self.from_chrome, 1 << 16)
                if not chunk:
                    raise RuntimeError("chromium closed the pipe")
                self.buffer += chunk
            raw, self.buffer = self.buffer.split(b"\0", 1)
            answer = json.loads(raw)
            if answer.get("id") == self.next_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer.get("result", {})

    def page(self, method, **params):
        return self.call(method, session=self.session, **params)

    def goto(self, url):
        self.page("Page.navigate", url=url)

    def eval(self, expression):
        result = self.page("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait(self, expression, timeout=20.0):
        """Polls `expression` until it is truthy; returns its value and the seconds it took."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            try:
                value = self.eval(expression)
            except RuntimeError:
                value = None
            if value:
                return value, time.monotonic() - started
            time.sleep(0.02)
        raise TimeoutError(expression)

    def close(self):
        self.process.kill()
        self.process.wait()
