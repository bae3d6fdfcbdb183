"""kflc ui follows a run live in headless Chromium (DevTools protocol over a pipe): the run page is
opened while `kflc run` runs tests/ui/slow.kfl; the nodes change state from the server's events,
the running task's log grows, and the page is never reloaded. Then a run killed with SIGKILL while a
task runs: the open page turns it (and the task) "lost", live, and so does the runs list.

usage: live.py <kflc> <ui url> <kfl root> <profile dir>"""

import os
import signal
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


def descendants(pid):
    """The processes below `pid` (its tasks), from /proc: they outlive a SIGKILL of kflc run."""
    children = {}
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as f:
                parent = int(f.read().rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(entry))
        except (ValueError, OSError, IndexError):
            continue
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


run = subprocess.Popen([kflc, "run", f"{here}/slow.kfl", "--isolation", "host", "--root", root, "--param", "seconds=30"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
browser = Browser(profile + "-killed")
tasks = []
try:
    browser.goto(url)
    # The row of the run that is running: the run lost just before may have started in the same
    # second, and runs of the same second are listed by their ids' random part.
    running_row = ("[...document.querySelectorAll('tr[data-run]')]"
                   ".find(row => row.querySelector('.status')?.textContent === 'running')")
    run_id, _ = browser.wait(f"{running_row}?.getAttribute('data-run')", timeout=20)
    browser.goto(f"{url}#/run/{run_id}/first")
    browser.wait(f"({status % 'first'}) === 'running'", timeout=15)
    tasks = descendants(run.pid)
    run.send_signal(signal.SIGKILL)
    run.wait(timeout=10)
    _, took = browser.wait(f"({status % 'first'}) === 'lost' && "
                           "document.querySelector('#run-status [data-status]')?.getAttribute('data-status') === 'lost' && "
                           "document.querySelector('p.note.lost')?.textContent.includes('run.lock')", timeout=15)
    check(True, f"a run killed with SIGKILL turned lost on its open page, with its running task ({took:.1f}s)")
    browser.goto(url)
    _, _ = browser.wait(f"document.querySelector('tr[data-run=\"{run_id}\"] .status')?.textContent === 'lost'", timeout=10)
    check(True, "the runs list shows it lost")
except TimeoutError as e:
    seen = browser.eval("JSON.stringify([...document.querySelectorAll('g.node, #run-status')].map(g => [g.dataset.task, g.textContent]))")
    check(False, f"timed out waiting for {e}; the page shows {seen}")
finally:
    browser.close()
    if run.poll() is None:
        run.kill()
        run.wait(timeout=10)
    for pid in tasks:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

# Cancelled from the page: the button sends the one state-changing request (with the server's
# token); kflc run gets SIGTERM, stops its task and records the run as interrupted (exit 143).
run = subprocess.Popen([kflc, "run", f"{here}/slow.kfl", "--isolation", "host", "--root", root, "--param", "seconds=30"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
browser = Browser(profile + "-cancel")
try:
    browser.goto(url)
    # The row of the run that is running: the run lost just before may have started in the same
    # second, and runs of the same second are listed by their ids' random part.
    running_row = ("[...document.querySelectorAll('tr[data-run]')]"
                   ".find(row => row.querySelector('.status')?.textContent === 'running')")
    run_id, _ = browser.wait(f"{running_row}?.getAttribute('data-run')", timeout=20)
    browser.goto(f"{url}#/run/{run_id}")
    browser.wait(f"({status % 'first'}) === 'running' && document.getElementById('cancel-run') !== null", timeout=15)
    browser.eval("document.getElementById('cancel-run').click()")
    _, took = browser.wait("document.querySelector('#run-status [data-status]')?.getAttribute('data-status') === 'interrupted'",
                           timeout=20)
    check(True, f"the cancel button stopped the run; it shows interrupted ({took:.1f}s)")
    check(run.wait(timeout=20) == 143, f"kflc run ended as on SIGTERM: exit {run.returncode}")
    check(browser.eval("document.getElementById('cancel-run') === null"), "the button is gone once the run ended")
except TimeoutError as e:
    note = browser.eval("document.getElementById('cancel-note')?.textContent || ''")
    check(False, f"timed out waiting for {e}; {note}")
finally:
    browser.close()
    if run.poll() is None:
        run.kill()
        run.wait(timeout=10)
sys.exit(1 if failures else 0)
