"""tether's threads leave SIGTERM and SIGINT to the main thread (``tether._threads``).

Before, a signal sent to the process could land on tether's flusher or sampler thread; Python
then ran the handler only when the main thread next ran bytecode, so a script sleeping in its
main thread ignored SIGTERM until the sleep ended (the process-group test in test_no_loss.py
hung for 30 s about once in 50 tries under load).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tether.server.testing import LiveServer

from .conftest import only_run, run_script, write_script

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/task").is_dir(), reason="reads thread signal masks from /proc"
)

THREAD_MASKS = """
import json, signal, threading, time
import tether

def blocked(native_id):
    with open(f"/proc/self/task/{native_id}/status") as status:
        for line in status:
            if line.startswith("SigBlk:"):
                mask = int(line.split()[1], 16)
    return {name: bool(mask >> (sig - 1) & 1) for name, sig in
            (("SIGTERM", signal.SIGTERM), ("SIGINT", signal.SIGINT), ("SIGSEGV", signal.SIGSEGV))}

run = tether.init(dir=".", console="fd", system=0.05)
for step in range(100):
    run.log({"loss": 1.0 / (step + 1)})
    print("step", step)
run.flush()
expected = {"tether-flusher", "tether-system", "tether-fd-capture", "tether-uploader"}
deadline = time.monotonic() + 30
while not expected <= {t.name for t in threading.enumerate()} and time.monotonic() < deadline:
    time.sleep(0.05)  # the uploader starts with the first upload
masks = {t.name: blocked(t.native_id) for t in threading.enumerate()}
print("MASKS " + json.dumps(masks))
run.finish()
"""


def _thread_masks(output: str) -> dict[str, dict[str, bool]]:
    line = next(line for line in output.splitlines() if line.startswith("MASKS "))
    masks: dict[str, dict[str, bool]] = json.loads(line.removeprefix("MASKS "))
    return masks


def test_tethers_threads_block_the_signals_meant_for_the_process(
    live_server: LiveServer, run_dir: Path
) -> None:
    env = {"TETHER_BASE_URL": live_server.base_url, "TETHER_API_KEY": live_server.api_key}
    done = run_script(run_dir, THREAD_MASKS, env={**env, "TETHER_MODE": "online"})
    masks = _thread_masks(done.stdout)
    ours = {name: mask for name, mask in masks.items() if name.startswith("tether-")}
    expected = {"tether-flusher", "tether-system", "tether-fd-capture", "tether-uploader"}
    assert expected <= set(ours), masks
    for name, mask in ours.items():
        assert mask["SIGTERM"] and mask["SIGINT"], (name, mask)
        assert not mask["SIGSEGV"], (name, mask)  # its own faults still reach it
    # The mask was borrowed only to start them: the main thread takes signals as before.
    assert masks["MainThread"] == {"SIGTERM": False, "SIGINT": False, "SIGSEGV": False}


# The main thread holds SIGTERM back for a moment, so only tether's threads could take it. The
# signal must stay pending for the main thread instead: taken by a tether thread, it would run
# the handlers (tether's, then the script's, which prints "handled") before "pending".
SIGTERM_WAITS_FOR_MAIN = """
import os, signal, sys, time
import tether

def handled(signum, frame):
    os.write(1, b"handled\\n")
    os._exit(143)

signal.signal(signal.SIGTERM, handled)
run = tether.init(dir=".", console="off", system=0.05)
run.log({"loss": 1.0})
run.flush()
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
os.write(1, b"ready\\n")
while signal.SIGTERM not in signal.sigpending():
    time.sleep(0.01)
os.write(1, b"pending\\n")
signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
time.sleep(60)
"""


def test_sigterm_waits_for_the_main_thread_rather_than_landing_on_ours(run_dir: Path) -> None:
    script = write_script(run_dir, SIGTERM_WAITS_FOR_MAIN)
    proc = subprocess.Popen(
        [sys.executable, str(script)], cwd=run_dir, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        os.kill(proc.pid, signal.SIGTERM)
        lines = [line.strip() for line in proc.stdout]
        assert proc.wait(timeout=30) == 143
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    assert lines == ["pending", "handled"], "a tether thread took the main thread's SIGTERM"
    data = only_run(run_dir)
    assert data.state == "killed"
    assert [row["loss"] for row in data.rows()] == [1.0]


def test_a_flag_is_set_even_while_another_thread_holds_its_lock() -> None:
    # What a SIGTERM handler's helper meets when the handler interrupted the main thread
    # inside set(): threading.Event.set waited for that lock; Flag.set does not.
    import threading

    from tether._threads import Flag

    flag = Flag()
    with flag._cond:
        setter = threading.Thread(target=flag.set)
        setter.start()
        setter.join(5)
        assert not setter.is_alive()
    assert flag.is_set() and flag.wait(0)
    flag.clear()
    assert not flag.wait(0.01)


SIGTERM_INSIDE_THE_EXIT_HOOK = """
import os, signal, sys, threading
import tether

def hook(frame, event, arg):
    # SIGTERM exactly while the writer's exit hook wakes the flusher (lock held), as a Pool's
    # terminate() once met a worker that was leaving anyway
    if event == "call" and frame.f_code.co_name == "notify_all":
        caller = frame.f_back
        while caller is not None and caller.f_code.co_name != "_leaving":
            caller = caller.f_back
        if caller is not None:
            sys.setprofile(None)
            os.kill(os.getpid(), signal.SIGTERM)

run = tether.init(dir=".", console="off", system=0)
for i in range(50):
    run.log({"i": i})
sys.setprofile(hook)
threading.setprofile(None)
"""


def test_sigterm_inside_the_writers_exit_hook_still_writes_everything(run_dir: Path) -> None:
    result = run_script(run_dir, SIGTERM_INSIDE_THE_EXIT_HOOK, check=False, timeout=60)
    assert result.returncode == -signal.SIGTERM, result.stderr
    data = only_run(run_dir)
    assert [r["i"] for r in data.rows()] == list(range(50))
    assert data.state == "killed"  # the handler ended the run; before, it waited 10 s and gave up
