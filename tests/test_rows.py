"""History rows as the writer queues and blocks them: layouts, order, summary, old files."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

import tether
from tether.store import format as fmt
from tether.store.rows import MAX_BLOCK_ROWS


def _records(run: tether.Run) -> list[list[Any]]:
    [segment] = (run.dir / fmt.SEGMENTS_DIR).iterdir()
    return [r for f in fmt.scan_frames(segment.read_bytes()).frames for r in f.records]


def test_changing_layouts_keep_every_row_in_order(run_dir: Path) -> None:
    logged: list[dict[str, Any]] = []
    with tether.init(dir=run_dir, console="off") as run:
        for i in range(3 * MAX_BLOCK_ROWS + 7):
            # Runs of one layout longer than a block, single rows of another, ints and None.
            if i % 700 == 699:
                row: dict[str, Any] = {"val/acc": i / 7, "epoch": i // 700}
            elif (i // 1500) % 2:
                row = {"loss": float(i), "lr": None, "tag": f"s{i}"}
            else:
                row = {"loss": float(i), "grad": -i * 0.5}
            run.log(row)
            logged.append(row)
    history = tether.load_run(run.id, dir=run_dir).rows()
    assert [r["_step"] for r in history] == list(range(len(logged)))
    assert [{k: v for k, v in r.items() if not k.startswith("_")} for r in history] == logged
    blocks = [r for r in _records(run) if r[0] == fmt.K_ROWS]
    assert max(len(b[2]) for b in blocks) <= MAX_BLOCK_ROWS
    assert sum(len(b[2]) for b in blocks) == len(logged)
    assert not [r for r in _records(run) if r[0] == fmt.K_ROW]  # version 1's layout


def test_summary_sees_rows_not_yet_on_disk(run_dir: Path) -> None:
    with tether.init(dir=run_dir, console="off") as run:
        for i in range(2000):
            run.log({"loss": float(i), "acc": i / 2000})
            if i % 500 == 0:  # read right after log(), long before the next write
                assert run.summary["loss"] == float(i)
        run.log({"acc": 0.5})
        assert run.summary.as_dict() == {"loss": 1999.0, "acc": 0.5}
        assert "loss" in run.summary and "nope" not in run.summary


def test_a_fork_child_starts_with_the_parents_summary(run_dir: Path) -> None:
    with tether.init(dir=run_dir, console="off") as run:
        run.log({"loss": 0.25})
        pid = os.fork()
        if pid == 0:  # the child: exit code 0 only if it sees the parent's value
            ok = run.summary["loss"] == 0.25
            run.log({"loss": 0.5})
            ok = ok and run.summary["loss"] == 0.5
            os._exit(0 if ok else 1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert run.summary["loss"] == 0.25  # the child's rows are its own


def test_a_bad_row_raises_every_time_even_after_good_ones(run_dir: Path) -> None:
    with tether.init(dir=run_dir, console="off") as run:
        run.log({"a": 1.0, "b": 2.0})
        for _ in range(2):  # a refused layout is never remembered as checked
            with pytest.raises(ValueError, match="'_step' is reserved"):
                run.log({"a": 1.0, "_step": 2.0})
            with pytest.raises(TypeError, match="keys must be strings"):
                run.log({"a": 1.0, 3: 2.0})  # type: ignore[dict-item]
        run.log({"a": 3.0, "b": 4.0})
    assert [r["a"] for r in tether.load_run(run.id, dir=run_dir).rows()] == [1.0, 3.0]


def version_1_segment(run: tether.Run, rows: list[float]) -> bytes:
    """``run``'s segment rewritten as format version 1 wrote it: one K_ROW per row."""
    records = _records(run)
    header = next(r for r in records if r[0] == fmt.K_HEADER)
    header[1]["format_version"] = 1
    final = next(r for r in records if r[0] == fmt.K_FINAL)
    old = [header, [fmt.K_KEYS, 0, ["loss"]]]
    old += [[fmt.K_ROW, 0, step, step * 10, value] for step, value in enumerate(rows)]
    return fmt.MAGIC + fmt.encode_frame(0, old) + fmt.encode_frame(len(old), [final])


def test_version_1_segments_are_still_read(run_dir: Path) -> None:
    with tether.init(dir=run_dir, console="off") as run:
        pass
    [segment] = (run.dir / fmt.SEGMENTS_DIR).iterdir()
    segment.write_bytes(version_1_segment(run, [0.5, 0.25, 0.125]))
    data = tether.load_run(run.id, dir=run_dir)
    assert [(r["_step"], r["loss"]) for r in data.rows()] == [(0, 0.5), (1, 0.25), (2, 0.125)]
    assert data.rows()[2]["_time"] == pytest.approx(data.writers[0].start_time + 0.02)
    assert data.state == "finished"
