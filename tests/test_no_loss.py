"""Nothing accepted is ever lost: what log() accepts can be written and read back, what it
cannot keep is refused at the call, and what the disk refuses is counted and said."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import tether
from tether._values import MAX_TEXT_BYTES
from tether.store import format as fmt
from tether.store import layout
from tether.store.writer import FRAME_SPLIT_BYTES

from .conftest import only_run, run_script, write_script

BAD_ROWS: list[tuple[str, dict[str, Any], str]] = [
    ("surrogate value", {"name": "bad\udc80"}, "lone surrogate"),
    ("surrogate key", {"bad\udc80": 1.0}, "lone surrogate"),
    ("surrogate in a nested key", {"a": {"b\ud800": 1.0}}, "lone surrogate"),
    ("flat and nested collide", {"x/y": 1.0, "x": {"y": 2.0}}, "given twice"),
    ("nested and flat collide", {"x": {"y": 2.0}, "x/y": 1.0}, "given twice"),
    ("a string over the cap", {"text": "x" * (MAX_TEXT_BYTES + 1)}, "cap"),
    ("strings over the cap together", {f"t{i}": "é" * 100_000 for i in range(3)}, "cap"),
    ("a key over the cap", {"k" * 600: 1.0}, "at most"),
    ("an int over 64 bits", {"big": 2**64}, "64 bits"),
]


@pytest.mark.parametrize(("case", "row", "message"), BAD_ROWS, ids=[c[0] for c in BAD_ROWS])
def test_a_refused_row_costs_no_other_row(
    run_dir: Path, case: str, row: dict[str, Any], message: str
) -> None:
    """The bad row raises at the call, naming the problem; the rows around it, logged in the
    same flush with the same keys and strings, are all written and read back."""
    with tether.init(dir=run_dir, console="off") as run:
        run.log({"seq": 0, "name": "before", "x/y": 0.5})
        with pytest.raises((ValueError, TypeError), match=message):
            run.log(row)
        run.log({"seq": 1, "name": "after", "x/y": 1.5})
        for key in ("name", "text", "x/y"):  # the same keys, logged alone, still read back
            run.log({"seq": 2, key: "fine"})
        assert run.flush()
    history = tether.load_run(run.dir).rows()
    assert [r["seq"] for r in history] == [0, 1, 2, 2, 2]
    assert history[0]["name"] == "before" and history[1]["x/y"] == 1.5
    assert [r.get("name") or r.get("text") or r.get("x/y") for r in history[2:]] == ["fine"] * 3


def test_the_error_names_the_key(run_dir: Path) -> None:
    with tether.init(dir=run_dir, console="off") as run:
        with pytest.raises(ValueError, match=r"key 'model/name'.*index 3"):
            run.log({"model": {"name": "abc\udc80"}})
        with pytest.raises(ValueError, match=r"key 'model/lr' is given twice"):
            run.log({"model/lr": 1.0, "model": {"lr": 2.0}})


def test_config_and_summary_refuse_what_cannot_be_stored(run_dir: Path) -> None:
    with tether.init(dir=run_dir, console="off", config={"ok": "yes"}) as run:
        with pytest.raises(ValueError, match="lone surrogate"):
            run.config["path"] = "/data/\udcff.png"
        with pytest.raises(ValueError, match="lone surrogate"):
            run.summary.update({"k\udc80": 1})
        with pytest.raises(ValueError, match="cap"):
            run.config.update({f"note{i}": "x" * 200_000 for i in range(3)})
        run.config["after"] = 1
    back = tether.load_run(run.dir)
    assert back.config == {"ok": "yes", "after": 1}


def test_a_string_at_the_cap_is_written_in_frames_that_fit_an_upload(run_dir: Path) -> None:
    text = "y" * MAX_TEXT_BYTES
    with tether.init(dir=run_dir, console="off") as run:
        for i in range(8):
            run.log({"i": i, "text": text})
    back = tether.load_run(run.dir)
    assert [r["i"] for r in back.rows()] == list(range(8))
    assert all(r["text"] == text for r in back.rows())
    frames = fmt.scan_frames((back.writers[0].path).read_bytes()).frames
    sizes = [len(fmt.encode_frame(f.first_seq, f.records)) for f in frames]
    assert max(sizes) <= FRAME_SPLIT_BYTES, sizes


@pytest.mark.parametrize("step", [2**63, 2**64, 2**70])
def test_a_step_the_store_cannot_keep_is_refused(run_dir: Path, step: int) -> None:
    with tether.init(dir=run_dir, console="off") as run:
        run.log({"a": 1.0})
        with pytest.raises(ValueError, match="largest step"):
            run.log({"a": 2.0}, step=step)
        run.log({"a": 3.0})  # automatic steps go on as if the bad call never happened
        assert run.flush()
    assert [(r["_step"], r["a"]) for r in tether.load_run(run.dir).rows()] == [
        (0, 1.0),
        (1, 3.0),
    ]


def test_automatic_steps_never_pass_the_largest_step(run_dir: Path) -> None:
    last = 2**63 - 1
    with tether.init(dir=run_dir, console="off") as run:
        run.log({"a": 1.0}, step=last)
        with pytest.raises(ValueError, match="next automatic step"):
            run.log({"a": 2.0})
        run.log({"a": 3.0}, step=5)
        assert run.flush()
    assert [r["_step"] for r in tether.load_run(run.dir).rows()] == [last, 5]


@pytest.mark.parametrize("code", [2**63, 2**31, -(2**31) - 1])
def test_finish_refuses_an_exit_code_the_server_cannot_keep(run_dir: Path, code: int) -> None:
    run = tether.init(dir=run_dir, console="off")
    run.log({"a": 1.0})
    with pytest.raises(ValueError, match="exit_code"):
        run.finish(exit_code=code)
    with pytest.raises(ValueError, match="state 'done'"):
        run.finish(state="done")
    run.finish(exit_code=3)
    back = tether.load_run(run.dir)
    assert (back.state, back.exit_code, len(back.rows())) == ("failed", 3, 1)


# -- a damaged frame costs only itself -------------------------------------------------------
def test_a_flipped_byte_mid_segment_costs_only_its_frame(run_dir: Path) -> None:
    with tether.init(dir=run_dir, console="off") as run:
        for i in range(1000):
            run.log({"i": i})
            if i % 100 == 99:
                run.flush()  # ten frames of 100 rows
    segment = tether.load_run(run.dir).writers[0].path
    data = segment.read_bytes()
    frames = fmt.scan_frames(data).frames
    assert len(frames) >= 10
    # Damage the middle of the fifth frame's payload (frame offsets from re-encoding).
    offsets = [len(fmt.MAGIC)]
    for frame in frames:
        offsets.append(offsets[-1] + len(fmt.encode_frame(frame.first_seq, frame.records)))
    damaged = bytearray(data)
    damaged[(offsets[4] + offsets[5]) // 2] ^= 0xFF
    segment.write_bytes(bytes(damaged))
    back = tether.load_run(run.dir)
    seen = [r["i"] for r in back.rows()]
    lost = [i for i in range(1000) if i not in set(seen)]
    assert len(lost) <= 100 and seen == sorted(seen)
    assert seen[-1] == 999  # everything after the damage is read
    writer = back.writers[0]
    assert writer.skipped_bytes == offsets[5] - offsets[4]
    assert writer.torn_bytes == 0 and back.state == "finished"
    shown = subprocess.run(
        [sys.executable, "-m", "tether.cli", "show", str(run.dir)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "damaged bytes skipped" in shown.stdout


def test_garbage_between_frames_is_stepped_over(run_dir: Path) -> None:
    with tether.init(dir=run_dir, console="off") as run:
        run.log({"i": 0})
        run.flush()
        run.log({"i": 1})
    segment = tether.load_run(run.dir).writers[0].path
    data = segment.read_bytes()
    frames = fmt.scan_frames(data).frames
    cut = len(fmt.MAGIC) + len(fmt.encode_frame(frames[0].first_seq, frames[0].records))
    junk = bytes(range(256)) * 4  # looks like anything, including frame starts
    segment.write_bytes(data[:cut] + junk + data[cut:])
    back = tether.load_run(run.dir)
    assert [r["i"] for r in back.rows()] == [0, 1]
    assert back.writers[0].skipped_bytes == len(junk)


# -- a run cut down during init() ------------------------------------------------------------
def test_a_run_folder_without_segments_is_listed_as_crashed(run_dir: Path) -> None:
    # What a kill -9 between making the run's folder and its segments/ left before.
    folder = run_dir / "tether" / layout.run_dir_name("cutdown1", time.time())
    folder.mkdir(parents=True)
    assert layout.list_run_dirs(run_dir) == [folder]
    back = tether.load_run("cutdown1", dir=run_dir)
    assert back.state == "crashed" and back.writers == []
    listed = subprocess.run(
        [sys.executable, "-m", "tether.cli", "ls", str(run_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "cutdown1" in listed.stdout and "crashed" in listed.stdout


def test_init_makes_the_run_folder_whole_in_one_step(run_dir: Path) -> None:
    target = run_dir / "tether" / "run-20260101_000000-abcdefgh"
    layout.make_run_dir(target)
    assert (target / fmt.SEGMENTS_DIR).is_dir()
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]  # no staging left
    layout.make_run_dir(target)  # again (a resume): nothing changes
    shutil.rmtree(target / fmt.SEGMENTS_DIR)
    layout.make_run_dir(target)  # a folder without segments/ gets one
    assert (target / fmt.SEGMENTS_DIR).is_dir()


# -- SIGTERM to the whole process group --------------------------------------------------------
FORK_CHILDREN = """
import multiprocessing as mp, os, sys, time, tether

def child(run, n):
    for i in range(50):
        run.log({"child": n, "i": i})
    run.flush()
    os.write(1, b"child-ready\\n")  # one write: lines from three processes share the pipe
    time.sleep(60)

if __name__ == "__main__":
    os.setpgrp()
    run = tether.init(dir=".", console="off")
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=child, args=(run, n)) for n in range(2)]
    for p in procs:
        p.start()
    run.log({"main": 1})
    run.flush()
    os.write(1, b"main-ready\\n")
    time.sleep(60)
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_to_the_process_group_marks_fork_children_killed(
    run_dir: Path, signum: signal.Signals
) -> None:
    """A scheduler's SIGTERM, or Ctrl-C in a terminal: every process's segment says killed."""
    script = write_script(run_dir, FORK_CHILDREN)
    proc = subprocess.Popen(
        [sys.executable, str(script)], cwd=run_dir, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        # Signal only once all three have logged: a row not yet logged is not lost.
        ready = sorted(proc.stdout.readline().strip() for _ in range(3))
        assert ready == ["child-ready", "child-ready", "main-ready"]
        os.killpg(proc.pid, signum)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    deadline = time.monotonic() + 30
    while True:  # the children die on their own schedule once signalled
        data = only_run(run_dir)
        states = sorted((w.label, w.final_state) for w in data.writers)
        if all(state for _, state in states) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert data.state == "killed"
    assert [state for _, state in states] == ["killed"] * 3, states
    assert len(data.rows()) == 101


# -- a disk that fills up and never frees ------------------------------------------------------
@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs (needs root, as CI has): a disk that fills up for real."""
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
        capture_output=True,
        timeout=30,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], timeout=30, check=False)


FILL_THE_DISK = """
import tether
run = tether.init(dir=".", console="off")
acked = 0
for i in range(200_000):
    run.log({"i": i, "a": float(i), "s": "row %d" % i})
    if i % 10_000 == 9_999 and run.flush():
        acked = i + 1
print("acked", acked, flush=True)
run.finish()
"""


def test_a_full_disk_is_reported_at_exit_and_the_run_ends_truthfully(small_disk: Path) -> None:
    result = run_script(small_disk, FILL_THE_DISK, timeout=300)
    acked = int(result.stdout.split()[-1])
    data = only_run(small_disk)
    assert data.state == "finished" and data.exit_code == 0  # not "crashed"
    read = [r["i"] for r in data.rows()]
    assert read[:acked] == list(range(acked))  # every acknowledged row is there
    lost = data.summary["_tether/unwritten/main"]
    assert lost["rows"] == 200_000 - len(read) > 0
    assert "No space left" in lost["reason"]
    # One clear line at exit, although the one-a-minute warning was spent long before.
    said = [line for line in result.stderr.splitlines() if "are lost" in line]
    assert len(said) == 1 and f"{lost['rows']} row(s)" in said[0], result.stderr


# -- fd capture: what is still in the pipes when the run ends ------------------------------------
@pytest.mark.skipif(sys.platform != "linux", reason="fd capture test uses Linux fds")
def test_fd_capture_keeps_what_is_still_in_the_pipe_at_finish(run_dir: Path) -> None:
    """A subprocess that holds the captured stderr writes its line while the run finishes:
    the line was read from the pipe after the run had stopped collecting, and dropped."""
    run_script(
        run_dir,
        """
        import subprocess, tether
        run = tether.init(dir=".", console="fd")
        subprocess.Popen(["sh", "-c", "sleep 0.3; echo late line >&2"])
        run.finish()
        """,
    )
    texts = {(line.stream, line.text) for line in only_run(run_dir).console_lines()}
    assert ("stderr", "late line") in texts


SIGTERM_WHILE_HOLDING_A_LOCK = """
import os, signal, tether
run = tether.init(dir=".", console="off")
run.log({"i": 1})
assert run.flush()
with run._writer._lock:  # as if SIGTERM came while log() or a drain held the writer's lock
    os.kill(os.getpid(), signal.SIGTERM)
    print("survived", flush=True)
"""


def test_sigterm_while_the_main_thread_holds_a_writer_lock_still_ends_the_process(
    run_dir: Path,
) -> None:
    """The handler runs on the main thread, which holds the lock the run's end needs: done
    there, the end waited for itself forever (a Pool's terminate() hung on such a worker)."""
    result = run_script(run_dir, SIGTERM_WHILE_HOLDING_A_LOCK, timeout=60, check=False)
    assert result.returncode == -signal.SIGTERM and "survived" not in result.stdout
    assert [r["i"] for r in only_run(run_dir).rows()] == [1]


def test_the_traceback_that_ended_the_run_is_in_its_console(run_dir: Path) -> None:
    result = run_script(
        run_dir,
        """
        import tether
        tether.init(dir=".")
        print("training")
        raise SystemError("boom")
        """,
        check=False,
    )
    assert result.returncode == 1 and "SystemError: boom" in result.stderr
    data = only_run(run_dir)
    assert data.state == "failed"
    texts = [(line.stream, line.text) for line in data.console_lines()]
    assert ("stdout", "training") in texts and ("stderr", "SystemError: boom") in texts


BIG_DRAINS = """
import tether
from tether.store import writer
writer.MAX_UNWRITTEN_BYTES = 64 * 1024  # drains far bigger than this, with a healthy disk
run = tether.init(dir=".", console="off")
for i in range(200_000):
    run.log({"i": i, "x": 0.5})
run.finish()
"""


def test_a_large_drain_on_a_healthy_disk_gives_up_nothing(run_dir: Path) -> None:
    """The in-memory cap is for a disk that refuses writes, not for a big backlog."""
    run_script(run_dir, BIG_DRAINS)
    data = only_run(run_dir)
    assert [r["i"] for r in data.rows()] == list(range(200_000))
    assert not any(key.startswith("_tether/unwritten") for key in data.summary)
