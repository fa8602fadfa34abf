"""Reading runs back: one shape for local and remote runs, columnar and lazy history reads.

The local run (``tether.load_run``) and the remote one (``tether.Api().run``) answer
``history()`` and ``console()`` with the same DataFrame for the same logged values; the
local one decodes row blocks only when the history is asked for, straight into columns, and
agrees with a plain decode of every record (``format.scan_frames``).
"""

from __future__ import annotations

import csv
import inspect
import json
import math
import multiprocessing
import os
from pathlib import Path
from typing import Any

import msgspec
import pandas as pd
import pytest
from click.testing import CliRunner

import tether
from tether.api import Api
from tether.cli import cli
from tether.server.testing import LiveServer
from tether.store import format as fmt
from tether.store.reader import list_segments
from tether.sync import sync_paths

from .conftest import only_run

BIG = 2**64 - 1  # an unsigned 64-bit value: exact in rows(), a float64 in history()


def _log_mixed(directory: Path) -> tether.Run:
    with tether.init(project="proj", dir=directory, mode="offline") as run:
        print("hello")
        for i in range(3000):
            row: dict[str, Any] = {"a_loss": 1.0 / (i + 1), "b_count": i, "c_flag": i % 2 == 0}
            if i % 100 == 0:
                row["d_epoch"] = i // 100
            if i == 7:
                row["e_note"] = "seven"
            if i == 9:
                row["f_big"] = BIG
            run.log(row)
        run.log({"a_loss": math.nan, "b_count": 3000, "c_flag": True})
        print("bye")
    return run


def _expected_rows(run_dir: Path) -> list[dict[str, Any]]:
    """Every row, by a plain decode of every record of every segment (no columnar code)."""
    rows: list[dict[str, Any]] = []
    for path in list_segments(run_dir):
        header: dict[str, Any] = {}
        layouts: dict[int, list[str]] = {}
        for frame in fmt.scan_frames(path.read_bytes()).frames:
            for record in frame.records:
                if record[0] == fmt.K_HEADER:
                    header.update(record[1])
                elif record[0] == fmt.K_LABEL:
                    header["label"] = record[1]
                elif record[0] == fmt.K_KEYS:
                    layouts[record[1]] = record[2]
                elif record[0] == fmt.K_ROWS:
                    for step, millis, values in zip(record[2], record[3], record[4], strict=True):
                        when = header["start_time"] + millis / 1000.0
                        row = {"_step": step, "_time": when, "_writer": header.get("label")}
                        rows.append({**row, **dict(zip(layouts[record[1]], values, strict=True))})
    return sorted(rows, key=lambda row: row["_time"])


def _as_floats(rows: list[dict[str, Any]]) -> str:
    return json.dumps(
        [{k: float(v) if type(v) is int else v for k, v in row.items()} for row in rows],
        sort_keys=True,
    )


def _same(left: list[dict[str, Any]], right: list[dict[str, Any]]) -> bool:
    return json.dumps(left, default=str) == json.dumps(right, default=str)


def test_local_and_remote_runs_have_one_shape(live_server: LiveServer, run_dir: Path) -> None:
    local_run = _log_mixed(run_dir)
    report = sync_paths(
        [run_dir], base_url=live_server.base_url, api_key=live_server.api_key, progress=False
    )
    assert report.ok, report.failed
    local = tether.load_run(local_run.dir)
    with Api(live_server.base_url, live_server.api_key) as api:
        remote = api.run(f"proj/{local.id}")
        for keys in (None, ["a_loss", "d_epoch"]):
            mine, theirs = local.history(keys), remote.history(keys)
            assert list(mine.columns) == list(theirs.columns)
            assert mine.dtypes.to_dict() == theirs.dtypes.to_dict()
            pd.testing.assert_frame_equal(mine, theirs)
        # Rows too, as numbers (the server keeps numbers as float64).
        assert _as_floats(local.rows()) == _as_floats(remote.rows())
        pd.testing.assert_frame_equal(local.console(), remote.console())
        assert list(local.console().columns) == ["_time", "_writer", "stream", "text"]
        assert list(local.console()["text"]) == ["hello", "bye"]
        assert local.console(stream="stderr").empty and remote.console(stream="stderr").empty
        assert local.keys == remote.keys
    frame = local.history()
    assert list(frame.columns) == [
        *("_step", "_time", "_writer"),
        *("a_loss", "b_count", "c_flag", "d_epoch", "e_note", "f_big"),
    ]
    dtypes = {key: str(dtype) for key, dtype in frame.dtypes.items()}
    assert dtypes["_step"] == "int64" and dtypes["_time"] == "float64"
    # Numbers are float64 (as the server keeps them), NaN where a row did not log the key.
    assert dtypes["a_loss"] == dtypes["b_count"] == dtypes["d_epoch"] == "float64"
    assert dtypes["c_flag"] == "bool" and frame["e_note"].iloc[7] == "seven"
    assert frame["f_big"].iloc[9] == float(BIG) and math.isnan(frame["f_big"].iloc[8])
    assert local.rows()[9]["f_big"] == BIG  # exact as a row
    assert math.isnan(frame["a_loss"].iloc[-1]) and len(frame) == 3001


def test_history_matches_a_plain_decode_of_every_record(run_dir: Path) -> None:
    run = _log_mixed(run_dir)
    expected = _expected_rows(run.dir)
    data = tether.load_run(run.dir)
    assert _same(data.rows(), expected)
    assert _same(list(data.iter_rows()), expected)
    frame = data.history()
    assert list(frame["_step"]) == [row["_step"] for row in expected]
    assert list(frame["_time"]) == [row["_time"] for row in expected]
    assert list(frame["b_count"]) == [float(row["b_count"]) for row in expected]
    assert data.summary["a_loss"] != data.summary["a_loss"]  # the NaN logged last
    assert (data.summary["b_count"], data.summary["e_note"]) == (3000, "seven")
    assert data.last_step == 3000 and data.writers[0].rows == 3001


def test_rows_are_located_not_decoded_until_asked(run_dir: Path) -> None:
    with tether.init(dir=run_dir, console="off") as run:
        for i in range(20_000):
            run.log({"x": i * 0.5, "y": -i * 0.25})
    data = tether.load_run(run.dir)
    (segment,) = data._segments
    # What the walk kept: where each block is, its layout, rows and last step; no values.
    assert sum(block.rows for block in segment.blocks) == 20_000
    assert all(block.row is None for block in segment.blocks)
    assert not hasattr(segment, "rows")
    # Each block is located by its own bytes, read alone when the history is asked for.
    data_bytes = segment.path.read_bytes()
    for block in segment.blocks:
        record = msgspec.msgpack.decode(data_bytes[block.offset : block.offset + block.length])
        assert record[0] == fmt.K_ROWS and len(record[2]) == block.rows
        assert max(record[2]) == block.max_step
    frame = data.history()
    assert list(frame["x"]) == [i * 0.5 for i in range(20_000)]
    assert list(frame["y"]) == [-i * 0.25 for i in range(20_000)]
    assert data.summary == {"x": 19_999 * 0.5, "y": -19_999 * 0.25}


def _child(run: tether.Run, index: int) -> None:
    for i in range(300):
        run.log({"loss": index + i / 1000}, step=i)
    tether.flush()


def test_eight_writers_writer_filter_and_samples(run_dir: Path) -> None:
    run = tether.init(dir=run_dir, console="off")
    fork = multiprocessing.get_context("fork")
    children = [fork.Process(target=_child, args=(run, n)) for n in range(1, 8)]
    for child in children:
        child.start()
    _child(run, 0)
    for child in children:
        child.join(60)
        assert child.exitcode == 0
    run.finish()
    data = only_run(run_dir)
    frame = data.history()
    assert len(frame) == 8 * 300 and len(data.writers) == 8
    assert frame["_time"].is_monotonic_increasing
    assert _same(data.rows(), _expected_rows(data.dir))
    labels = {writer.label for writer in data.writers}
    assert set(frame["_writer"]) == labels
    child_label = sorted(labels - {"main"})[0]
    mine = data.history(writer=child_label)
    assert set(mine["_writer"]) == {child_label} and len(mine) == 300
    assert list(mine["_step"]) == list(range(300))
    assert data.history(writer="nobody").empty
    sampled = data.history(samples=20)
    assert set(sampled["_writer"]) == labels
    # Per writer: about 20 points, its minimum and maximum among them.
    for label, part in sampled.groupby("_writer"):
        whole = frame[frame["_writer"] == label]
        assert 10 <= len(part) <= 24
        assert part["loss"].min() == whole["loss"].min()
        assert part["loss"].max() == whole["loss"].max()


def test_a_damaged_frame_costs_only_itself(run_dir: Path) -> None:
    with tether.init(dir=run_dir, console="off") as run:
        for i in range(5000):
            run.log({"v": float(i)})
            if i % 1000 == 999:
                tether.flush()
    (path,) = list_segments(run.dir)
    (segment,) = tether.load_run(run.dir)._segments
    hit = segment.blocks[len(segment.blocks) // 2]
    data = bytearray(path.read_bytes())
    data[hit.offset + hit.length // 2] ^= 0xFF  # in a row block's values
    path.write_bytes(bytes(data))
    back = tether.load_run(run.dir)
    (writer,) = back.writers
    assert writer.skipped_bytes > 0 and writer.final_state == "finished"
    values = list(back.history()["v"])
    assert 0 < len(values) <= 5000 - hit.rows and values == sorted(values)
    assert values[0] == 0.0 and values[-1] == 4999.0
    assert writer.rows == len(values)


def test_version_1_segments_still_read(run_dir: Path) -> None:
    segments = run_dir / "run-20260101_000000-v1v1v1v1" / fmt.SEGMENTS_DIR
    segments.mkdir(parents=True)
    header = {"run_id": "v1v1v1v1", "writer_id": "w", "label": "main", "main": True}
    records: list[Any] = [
        [fmt.K_HEADER, {**header, "start_time": 1000.0, "pid": 0, "host": "elsewhere"}],
        [fmt.K_KEYS, 0, ["loss", "tag"]],
        [fmt.K_ROW, 0, 0, 0, 0.5, "a"],
        [fmt.K_ROW, 0, 1, 250, 0.25, "b"],
        [fmt.K_CONSOLE, 1000.1, fmt.STREAM_STDOUT, "old line"],
        [fmt.K_FINAL, 1000.5, "finished", 0],
    ]
    path = segments / f"w{fmt.SEGMENT_SUFFIX}"
    path.write_bytes(fmt.MAGIC + fmt.encode_frame(0, records))
    data = tether.load_run(segments.parent)
    frame = data.history()
    assert list(frame["loss"]) == [0.5, 0.25] and list(frame["tag"]) == ["a", "b"]
    assert list(frame["_time"]) == [1000.0, 1000.25]
    assert data.summary == {"loss": 0.25, "tag": "b"} and data.state == "finished"
    assert list(data.console()["text"]) == ["old line"]
    os.utime(path)


def test_history_rejects_a_string_of_keys(run_dir: Path) -> None:
    with tether.init(dir=run_dir, console="off") as run:
        run.log({"loss": 1.0})
    with pytest.raises(tether.UsageError, match=r"pass a list of keys, e.g. \['loss'\]"):
        tether.load_run(run.dir).history("loss")  # type: ignore[arg-type]


def test_export_streams_every_writer_as_rows_has_them(run_dir: Path) -> None:
    run = tether.init(dir=run_dir, console="off")
    fork = multiprocessing.get_context("fork")
    children = [fork.Process(target=_child, args=(run, n)) for n in (1, 2)]
    for child in children:
        child.start()
    for i in range(300):
        run.log({"mixed": i if i % 2 else i + 0.5, **({"val": i} if i % 50 == 0 else {})})
    for child in children:
        child.join(60)
        assert child.exitcode == 0
    run.finish()
    data = tether.load_run(run.dir)
    runner = CliRunner()
    target = run_dir / "out.csv"
    done = runner.invoke(cli, ["export", str(run.dir), "--output", str(target)])
    assert done.exit_code == 0, done.output
    with open(target, newline="") as handle:
        exported = list(csv.DictReader(handle))
    expected = data.rows()
    assert len(exported) == len(expected) == 900
    assert [r["_writer"] for r in exported] == [r["_writer"] for r in expected]
    for key in ("_step", "mixed", "val", "loss"):
        assert [float(r[key]) if r[key] else None for r in exported] == [
            float(r[key]) if key in r else None for r in expected
        ]
    pq = pytest.importorskip("pyarrow.parquet")
    target = run_dir / "out.parquet"
    done = runner.invoke(cli, ["export", str(run.dir), "--format", "parquet", "-o", str(target)])
    assert done.exit_code == 0, done.output
    table = pq.read_table(target)
    assert str(table.schema.field("mixed").type) == "double"  # ints and floats: floats
    assert str(table.schema.field("val").type) == "int64"
    assert table.column("loss").to_pylist() == [r.get("loss") for r in expected]


def test_export_to_parquet_names_a_column_of_mixed_types(run_dir: Path) -> None:
    pytest.importorskip("pyarrow")
    with tether.init(dir=run_dir, console="off") as run:
        run.log({"tag": 1.0})
        run.log({"tag": "one"})
    done = CliRunner().invoke(
        cli, ["export", str(run.dir), "--format", "parquet", "-o", str(run_dir / "x.parquet")]
    )
    assert done.exit_code == 1
    assert "column 'tag' mixes types" in done.output and "--format csv" in done.output


def test_system_samples_as_the_remote_run_takes_them(run_dir: Path) -> None:
    segments = run_dir / "run-20260101_000000-sys0sys0" / fmt.SEGMENTS_DIR
    segments.mkdir(parents=True)
    header = {"run_id": "sys0sys0", "writer_id": "w", "label": "main", "main": True}
    records: list[Any] = [[fmt.K_HEADER, {**header, "start_time": 1000.0, "host": "elsewhere"}]]
    for i in range(1000):
        cpu = 99.0 if i == 517 else float(i % 10)
        records.append([fmt.K_SYSTEM, 1000.0 + i, {"cpu": cpu, "rss": 1e6 + i}])
    (segments / f"w{fmt.SEGMENT_SUFFIX}").write_bytes(fmt.MAGIC + fmt.encode_frame(0, records))
    data = tether.load_run(segments.parent)
    whole = data.system()
    assert len(whole) == 1000 and list(whole.columns) == ["_time", "_writer", "cpu", "rss"]
    sampled = data.system(["cpu"], samples=50)
    assert 20 <= len(sampled) <= 60 and list(sampled.columns) == ["_time", "_writer", "cpu"]
    assert sampled["cpu"].max() == 99.0 and sampled["cpu"].min() == 0.0  # the spike survives
    assert sampled["_time"].is_monotonic_increasing


@pytest.mark.parametrize(
    "steps",
    [
        list(range(300, 400)),  # uint16
        [2**40 + i for i in range(50)],  # uint64
        [5, 300, 70_000, 2**33, 7],  # widths mixed within a block
    ],
)
def test_every_step_width_reads_back(run_dir: Path, steps: list[int]) -> None:
    with tether.init(dir=run_dir, console="off") as run:
        for step in steps:
            run.log({"a": step * 0.5, "b": 1.0}, step=step)
    data = tether.load_run(run.dir)
    assert _same(data.rows(), _expected_rows(run.dir))
    frame = data.history()
    assert list(frame["_step"]) == steps and list(frame["a"]) == [s * 0.5 for s in steps]
    assert data.last_step == max(steps)


def test_values_as_long_as_floats_are_not_read_as_floats(run_dir: Path) -> None:
    # An 8-character string and a uint64 take 9 bytes, as a float64 does: the walk locates
    # such blocks by their rows' lengths, and the decoder still reads them as what they are.
    with tether.init(dir=run_dir, console="off") as run:
        for i in range(3000):
            run.log({"s": f"{i:08d}", "u": 2**63 + i, "f": i * 0.5})
    data = tether.load_run(run.dir)
    assert _same(data.rows(), _expected_rows(run.dir))
    frame = data.history()
    assert list(frame["s"]) == [f"{i:08d}" for i in range(3000)]
    assert list(frame["u"]) == [float(2**63 + i) for i in range(3000)]
    assert list(frame["f"]) == [i * 0.5 for i in range(3000)]


def test_a_segment_started_again_after_the_walk_costs_its_blocks_only(run_dir: Path) -> None:
    # A writer whose file is deleted under it starts the file again: blocks located by an
    # earlier walk are then not there any more. They are left out, the rest is read.
    with tether.init(dir=run_dir, console="off") as run:
        for i in range(3000):
            run.log({"x": i * 0.5})
    data = tether.load_run(run.dir)
    (path,) = list_segments(run.dir)
    path.write_bytes(bytes(path.stat().st_size))  # the same size, none of the same bytes
    frame = data.history()
    assert frame.empty and list(frame.columns) == ["_step", "_time", "_writer", "x"]
    assert data.rows() == [] and "x" not in data.summary


def test_a_run_of_several_writers_reads_the_same_from_the_server(
    live_server: LiveServer, run_dir: Path
) -> None:
    run = tether.init(project="proj", dir=run_dir, console="off", mode="offline")
    fork = multiprocessing.get_context("fork")
    children = [fork.Process(target=_child, args=(run, n)) for n in (1, 2)]
    for child in children:
        child.start()
    _child(run, 0)
    for child in children:
        child.join(60)
        assert child.exitcode == 0
    run.finish()
    report = sync_paths(
        [run_dir], base_url=live_server.base_url, api_key=live_server.api_key, progress=False
    )
    assert report.ok, report.failed
    local = tether.load_run(run.dir)
    with Api(live_server.base_url, live_server.api_key) as api:
        remote = api.run(f"proj/{local.id}")
        child_label = sorted({w.label for w in local.writers} - {"main"})[0]
        for writer in (None, child_label):
            mine, theirs = local.history(writer=writer), remote.history(writer=writer)
            # Rows of equal time: locally in the order written (main first), remotely by step.
            by = ["_time", "_writer", "_step"]
            mine = mine.sort_values(by, kind="stable").reset_index(drop=True)
            theirs = theirs.sort_values(by, kind="stable").reset_index(drop=True)
            pd.testing.assert_frame_equal(mine, theirs)
        assert len(local.history()) == 900
        sampled_local = local.history(samples=20)
        sampled_remote = remote.history(samples=20)
        assert set(sampled_local["_writer"]) == set(sampled_remote["_writer"])


def test_a_segment_larger_than_the_walk_window_reads_whole(run_dir: Path) -> None:
    # ~24 MB of row blocks written as the writer frames them: the walk lets go of what it
    # has walked every 16 MB; a damaged frame past that point still costs only itself.
    segments = run_dir / "run-20260101_000000-big0big0" / fmt.SEGMENTS_DIR
    segments.mkdir(parents=True)
    header = {"run_id": "big0big0", "writer_id": "w", "label": "main", "main": True}
    keys = [f"k{j}" for j in range(10)]
    chunks = [fmt.MAGIC, fmt.encode_frame(0, [[fmt.K_HEADER, header], [fmt.K_KEYS, 0, keys]])]
    seq, step = 2, 0
    for _ in range(40):
        blocks = []
        for _ in range(6):
            steps = list(range(step, step + 1024))
            values = [[s + j / 10 for j in range(10)] for s in steps]
            blocks.append([fmt.K_ROWS, 0, steps, [s // 100 for s in steps], values])
            step += 1024
        chunks.append(fmt.encode_frame(seq, blocks))
        seq += len(blocks)
    data = bytearray(b"".join(chunks))
    assert len(data) > 20 * 1024 * 1024
    damaged = sum(map(len, chunks[:36])) + 1000  # inside frame 35, past the first 16 MB
    data[damaged] ^= 0xFF
    (segments / f"w{fmt.SEGMENT_SUFFIX}").write_bytes(bytes(data))
    run = tether.load_run(segments.parent)
    (writer,) = run.writers
    assert writer.skipped_bytes == len(chunks[35]) and writer.rows == 39 * 6 * 1024
    frame = run.history(["k3"])
    lost = set(range(34 * 6 * 1024, 35 * 6 * 1024))
    expected = [s for s in range(40 * 6 * 1024) if s not in lost]
    assert list(frame["_step"]) == expected
    assert list(frame["k3"]) == [s + 0.3 for s in expected]
    assert run.last_step == 40 * 6 * 1024 - 1


def test_local_and_remote_runs_have_the_same_read_methods() -> None:
    from tether.api import RemoteRun

    def shape(method: Any) -> dict[str, tuple[Any, Any]]:
        parameters = inspect.signature(method).parameters.values()
        return {p.name: (p.kind, p.default) for p in parameters}

    for name in ("history", "rows", "iter_rows", "console", "console_lines", "system"):
        assert shape(getattr(tether.RunData, name)) == shape(getattr(RemoteRun, name)), name
    for name in ("keys", "config", "summary", "environment", "state"):
        assert isinstance(getattr(tether.RunData, name), property), name
        assert isinstance(getattr(RemoteRun, name), property), name
