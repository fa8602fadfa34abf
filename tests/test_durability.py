"""What survives kill -9, SIGTERM, torn writes and children that leave through os._exit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import tether
from tether.store import format as fmt

from .conftest import only_run, run_script, write_script

LOOP_THEN_WAIT = """
import sys, time, tether
run = tether.init(dir=".", console="off")
for i in range(1000):
    run.log({"i": i})
if sys.argv[1] == "flush":
    tether.flush()
print("ready", flush=True)
time.sleep(60)
"""


def _start_and_kill(run_dir: Path, mode: str, sig: int) -> subprocess.Popen[str]:
    script = write_script(run_dir, LOOP_THEN_WAIT)
    proc = subprocess.Popen(
        [sys.executable, str(script), mode],
        cwd=run_dir,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    if mode == "wait":
        time.sleep(0.3)  # a few flush intervals
    proc.send_signal(sig)
    proc.wait(timeout=30)
    return proc


def test_kill_9_after_flush_loses_nothing(run_dir: Path) -> None:
    _start_and_kill(run_dir, "flush", signal.SIGKILL)
    data = only_run(run_dir)
    assert [r["i"] for r in data.rows()] == list(range(1000))
    assert data.state == "crashed"


def test_kill_9_without_flush_loses_at_most_the_last_interval(run_dir: Path) -> None:
    # The rows were logged more than a flush interval before the kill: all must be there.
    _start_and_kill(run_dir, "wait", signal.SIGKILL)
    assert len(only_run(run_dir).rows()) == 1000


def test_sigterm_marks_killed_and_writes_everything(run_dir: Path) -> None:
    proc = _start_and_kill(run_dir, "nowait", signal.SIGTERM)
    assert proc.returncode == -signal.SIGTERM  # the default handler still ran
    data = only_run(run_dir)
    assert data.state == "killed"
    assert len(data.rows()) == 1000


def test_sigterm_chains_to_the_users_handler(run_dir: Path) -> None:
    result = run_script(
        run_dir,
        """
        import os, signal, tether
        seen = []
        signal.signal(signal.SIGTERM, lambda s, f: seen.append(s))
        run = tether.init(dir=".", console="off")
        run.log({"x": 1})
        os.kill(os.getpid(), signal.SIGTERM)
        print("handler ran:", seen == [signal.SIGTERM])
        """,
    )
    assert "handler ran: True" in result.stdout
    assert only_run(run_dir).state == "killed"


def test_uncaught_exception_marks_failed(run_dir: Path) -> None:
    result = run_script(
        run_dir,
        """
        import tether
        tether.init(dir=".", console="off")
        tether.log({"x": 1})
        raise SystemError("boom")
        """,
        check=False,
    )
    assert result.returncode == 1 and "boom" in result.stderr  # the traceback still prints
    data = only_run(run_dir)
    assert data.state == "failed" and data.rows()[0]["x"] == 1


def test_normal_exit_without_finish_marks_finished(run_dir: Path) -> None:
    run_script(
        run_dir, 'import tether\ntether.init(dir=".", console="off")\ntether.log({"x": 1})\n'
    )
    data = only_run(run_dir)
    assert data.state == "finished" and len(data.rows()) == 1


def test_torn_tail_is_survived(run_dir: Path) -> None:
    with tether.init(dir=run_dir, console="off") as run:
        for i in range(100):
            run.log({"i": i})
            if i == 49:
                run.flush()
    segment = next((run.dir / fmt.SEGMENTS_DIR).iterdir())
    data = segment.read_bytes()
    segment.write_bytes(data[:-7])  # a crash mid-write: the last frame is cut short
    back = tether.load_run(run.dir)
    assert [r["i"] for r in back.rows()][:50] == list(range(50))
    assert back.writers[0].torn_bytes > 0
    # A flipped byte in the last frame fails its CRC: the frames before it still read.
    corrupt = bytearray(data)
    corrupt[-3] ^= 0xFF
    segment.write_bytes(bytes(corrupt))
    assert [r["i"] for r in tether.load_run(run.dir).rows()][:50] == list(range(50))


@pytest.mark.parametrize("method", ["fork", "forkserver", "spawn"])
def test_multiprocessing_child_logging_through_parent_run_loses_none(
    run_dir: Path, method: str
) -> None:
    run_script(
        run_dir,
        f"""
        import multiprocessing as mp
        import tether

        def child(run):
            for i in range(1000):
                run.log({{"child": i}})
            # no flush, no finish: the child leaves through os._exit

        if __name__ == "__main__":
            run = tether.init(dir=".", console="off")
            proc = mp.get_context("{method}").Process(target=child, args=(run,))
            proc.start()
            proc.join(60)
            assert proc.exitcode == 0, proc.exitcode
            run.finish()
        """,
    )
    data = only_run(run_dir)
    rows = [r for r in data.rows() if "child" in r]
    assert [r["child"] for r in rows] == list(range(1000))
    assert len({r["_writer"] for r in rows}) == 1 and rows[0]["_writer"] != "main"
    assert data.state == "finished"


def test_raw_fork_child_gets_its_own_segment(run_dir: Path) -> None:
    with tether.init(dir=run_dir, console="off") as run:
        run.log({"parent": 0})
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            run.log({"child": 1})
            tether.flush()
            os._exit(0)
        os.waitpid(pid, 0)
        run.log({"parent": 1})
    data = tether.load_run(run.dir)
    assert len(data.writers) == 2
    assert {r["_writer"] for r in data.rows()} == {"main", f"pid{pid}"}
    assert data.state == "finished"


def test_keys_stored_once_and_compact(run_dir: Path) -> None:
    with tether.init(dir=run_dir, console="off") as run:
        for i in range(10_000):
            run.log({f"metric_{k}": i * 0.001 + k for k in range(10)})
    size = sum(p.stat().st_size for p in (run.dir / fmt.SEGMENTS_DIR).iterdir())
    assert size / 100_000 <= 16, f"{size / 100_000:.1f} bytes per point"
    raw = next((run.dir / fmt.SEGMENTS_DIR).iterdir()).read_bytes()
    assert raw.count(b"metric_3") == 1


def test_raw_fork_child_leaving_through_os_exit_loses_nothing(run_dir: Path) -> None:
    with tether.init(dir=run_dir, console="off") as run:
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            for i in range(10):
                run.log({"child": i})
            os._exit(0)  # no flush, no atexit, no thread join
        os.waitpid(pid, 0)
    rows = [r["child"] for r in tether.load_run(run.dir).rows() if "child" in r]
    assert rows == list(range(10))


def test_a_child_leaves_without_waiting_for_the_flushers_next_poll(run_dir: Path) -> None:
    # With a flush interval of 60 s, only the wake-up from threading's shutdown lets the
    # child's flusher write its last rows and end before join() gives up.
    run_script(
        run_dir,
        """
        import multiprocessing as mp
        import tether
        from tether.store import writer

        def child(run):
            writer.FLUSH_INTERVAL_S = 60.0
            for i in range(1000):
                run.log({"child": i})

        if __name__ == "__main__":
            run = tether.init(dir=".", console="off")
            proc = mp.get_context("fork").Process(target=child, args=(run,))
            proc.start()
            proc.join(20)
            assert proc.exitcode == 0, "the child was still waiting for its flusher"
            run.finish()
        """,
    )
    rows = [r for r in only_run(run_dir).rows() if "child" in r]
    assert [r["child"] for r in rows] == list(range(1000))
