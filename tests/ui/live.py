"""kflc ui follows a run live in headless Chromium (DevTools protocol over a pipe): the run page is
opened while `kflc run` runs tests/ui/slow.kfl; the nodes change state from the server's events,
the running task's log grows, and the page is never reloaded.

usage: live.py <kflc> <ui url> <kfl root> <profile dir>"""

import subprocess
import sys
import time

from cdp import Browser

kflc, url, root, profile = sys.argv[1:5]
here = sys.path[0]
failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


run = subprocess.Popen([kflc, "run", f"{here}/slow.kfl", "--isolation", "host", "--root", root, "--param", "seconds=2.5"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
browser = Browser(profile)
try:
    # Wait for the run to appear in the list, then open its page with the first task selected.
    browser.goto(url)
    run_id, _ = browser.wait("document.querySelector('tr[data-run]')?.getAttribute('data-run')")
    browser.goto(f"{url}#/run/{run_id}/first")
    status = "document.querySelector('g.node[data-task=\"%s\"]')?.getAttribute('data-status')"
    browser.wait(status % "first")
    browser.eval("window.kflMarker = 'not reloaded'")
    browser.wait(f"({status % 'first'}) === 'running'", timeout=10)
    check(True, "the first task shows running")
    browser.wait("document.getElementById('log-stdout')?.textContent.includes('starting first') && "
                 f"({status % 'first'}) === 'running'", timeout=10)
    check(True, "its log shows what it printed so far, while it runs")
    _, took = browser.wait(f"({status % 'first'}) === 'succeeded' && ({status % 'second'}) === 'running'", timeout=15)
    check(True, f"the first task turned succeeded and the second running, live ({took:.1f}s)")
    _, _ = browser.wait("document.getElementById('log-stdout')?.textContent.includes('first done')", timeout=10)
    check(True, "the open task's log grew to its end")
    _, _ = browser.wait(f"({status % 'second'}) === 'succeeded' && "
                        "document.querySelector('#run-status [data-status]')?.getAttribute('data-status') === 'succeeded'",
                        timeout=15)
    check(True, "the second task and the run turned succeeded")
    check(browser.eval("window.kflMarker") == "not reloaded", "the page was updated in place, not reloaded")
except TimeoutError as e:
    seen = browser.eval("JSON.stringify([...document.querySelectorAll('g.node')].map(g => [g.dataset.task, g.dataset.status]))")
    check(False, f"timed out waiting for {e}; the page shows {seen}")
finally:
    browser.close()
    run.wait(timeout=60)
sys.exit(1 if failures else 0)
