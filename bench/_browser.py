"""The page's own clock for "when did it first show X", shared by the browser benchmarks.

Waiting with Playwright (``page.goto`` then ``wait_for_function``) measures the harness too:
``goto`` returns after the ``load`` event, and the first poll of the condition comes one
DevTools round trip after that. On the 10,000-run workspace the rows were in the DOM at
about 270 ms while the poll first saw them at about 410 ms. So the condition is installed
before the page's first script runs (an init script) and the page stamps the time itself.

The stamp is taken after the frame that first holds the answer: the condition is checked in
``requestAnimationFrame`` after each DOM change, and when it holds, the time is read in a
task queued from that callback, which runs once the frame's style, layout and paint are
done. That is when the user could first see it, not merely when the DOM had it.
"""

from __future__ import annotations

import json
import time
from typing import Any

_WATCH = """
(() => {
  const holds = new Function(`return (${%s})`)();
  window.__firstShown = new Promise((resolve) => {
    let pending = false;
    const check = () => {
      pending = false;
      if (!holds()) return;
      observer.disconnect();
      setTimeout(() => resolve(performance.now()), 0);
    };
    const observer = new MutationObserver(() => {
      if (!pending) { pending = true; requestAnimationFrame(check); }
    });
    observer.observe(document, { subtree: true, childList: true, attributes: true,
                                 characterData: true });
  });
})();
"""


# tether's runs table has its first rows (a row stands for a run once its data came).
FIRST_ROW = "() => document.querySelector('.runs-row[data-run]')"


def watch_first(target: Any, condition: str) -> None:
    """Have ``target`` (a Playwright page or context) stamp when ``condition``, a JavaScript
    function of no arguments, first holds on screen. Call before it navigates."""
    target.add_init_script(_WATCH % json.dumps(condition))


def first_shown_ms(page: Any, timeout_ms: float = 120_000) -> float:
    """Milliseconds from navigation start to the frame that first showed the condition
    given to :func:`watch_first`; raises if it has not shown within ``timeout_ms``."""
    return float(
        page.evaluate(
            """(timeout) => Promise.race([window.__firstShown, new Promise((_, reject) =>
                 setTimeout(() => reject(new Error("Timeout: not shown in time")), timeout))])""",
            timeout_ms,
        )
    )


def settle(
    pid: int, *, window_s: float = 0.25, busy_ms: float = 10.0, limit_s: float = 10.0
) -> None:
    """Wait until process ``pid`` (the server) is idle: it used under ``busy_ms`` of CPU in
    the last ``window_s``. A page closed right after its measurement leaves the server
    answering its later requests (a thousand runs' lines): a fresh tab opened meanwhile
    would be timed against that, which no user opening the workspace sees."""
    import psutil

    process = psutil.Process(pid)

    def cpu_ms() -> float:
        times = process.cpu_times()
        return (times.user + times.system) * 1e3

    deadline = time.monotonic() + limit_s
    before = cpu_ms()
    while time.monotonic() < deadline:
        time.sleep(window_s)
        now = cpu_ms()
        if now - before < busy_ms:
            return
        before = now
