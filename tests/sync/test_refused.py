"""A record the server refuses costs only itself.

The rest of the run arrives, the skip is said once (which run, which writer, why) and
counted on the server's run, and nothing retries it forever or holds ``finish()``. The
segments are crafted: ``log()`` refuses these values now, but a segment written by an older
tether (or by another client) may still hold them.
"""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path

import pytest

from tether import TetherWarning
from tether.api import Api
from tether.server.testing import LiveServer
from tether.store import format as fmt
from tether.store import layout
from tether.sync import Uploader

from .conftest import Cli, crafted_run, history_counts, rows_block

BIG = 20 * 1024 * 1024  # over the server's 16 MiB body limit


def _loss_rows(steps: range | list[int]) -> list[object]:
    return rows_block(0, list(steps), [[float(s)] for s in steps])


def _step_past_64_bits() -> list[list[list[object]]]:
    """Rows 0-1999 of ``loss``, and step 2**63 in the middle of a block with good rows."""
    return [
        [[fmt.K_KEYS, 0, ["loss"]], _loss_rows(range(1000))],
        [rows_block(0, [1000, 2**63, 1001], [[1000.0], [-1.0], [1001.0]])],
        [_loss_rows(range(1002, 2000))],
    ]


def _twenty_megabytes(shared_frame: bool) -> list[list[list[object]]]:
    """Rows 0-999 and 1001-2000 of ``loss``; at step 1000, a 20 MB string ``big``."""
    before = [[fmt.K_KEYS, 0, ["loss"]], _loss_rows(range(1000))]
    big = [[fmt.K_KEYS, 1, ["big"]], rows_block(1, [1000], [["x" * BIG]])]
    after = [_loss_rows(range(1001, 2001))]
    return [before + big + after] if shared_frame else [before, big, after]


def _run_id(run_path: Path) -> str:
    return layout.run_id_of(run_path)


def _writer(run_path: Path) -> str:
    [segment] = (run_path / fmt.SEGMENTS_DIR).iterdir()
    return segment.stem.rsplit("-", 1)[1]


def test_a_step_past_64_bits_costs_only_its_row(logged_in: Cli, api: Api, run_dir: Path) -> None:
    run_path = crafted_run(run_dir, _step_past_64_bits())
    run_id = _run_id(run_path)
    started = time.monotonic()
    done = logged_in("sync", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    assert time.monotonic() - started < 60
    report = json.loads(done.stdout)
    [entry] = report["runs"]
    assert report["ok"] and entry["error"] is None
    [skip] = entry["skipped"]
    assert skip["writer"] == _writer(run_path) and skip["records"] == 1
    assert "step 9223372036854775808" in skip["reason"] and "64-bit" in skip["reason"]
    # Every other row arrived, the rows beside it in the same block included.
    assert history_counts(api, "proj", run_id) == {("loss", "main"): list(range(2000))}
    detail = api.client.get_json(f"/projects/proj/runs/{run_id}")
    assert detail["state"] == "finished"
    assert detail["skipped"]["records"] == 1 and "step" in detail["skipped"]["reasons"][0]
    [writer] = detail["writer_list"]
    assert writer["skipped_records"] == 1 and writer["rows"] == 2000

    again = json.loads(logged_in("sync", "--json").stdout)
    assert again["ok"] and again["bytes"] == 0 and again["runs"][0]["skipped"] == []
    assert api.client.get_json(f"/projects/proj/runs/{run_id}")["skipped"]["records"] == 1


@pytest.mark.parametrize("shared_frame", [False, True], ids=["own frame", "shared frame"])
def test_a_record_over_the_body_limit_costs_only_itself(
    logged_in: Cli, api: Api, run_dir: Path, shared_frame: bool
) -> None:
    run_path = crafted_run(run_dir, _twenty_megabytes(shared_frame))
    run_id = _run_id(run_path)
    done = logged_in("sync")
    assert done.returncode == 0, done.stdout + done.stderr
    # Said once, clearly: which run, which writer, why; and nothing says to retry.
    out = done.stdout
    assert out.count("skipped: run") == 1 and run_id in out and _writer(run_path) in out
    assert "limit" in out and "again" not in out + done.stderr
    counts = history_counts(api, "proj", run_id)
    assert counts == {("loss", "main"): [*range(1000), *range(1001, 2001)]}
    detail = api.client.get_json(f"/projects/proj/runs/{run_id}")
    assert detail["state"] == "finished"
    assert detail["skipped"]["records"] == 1 and detail["skipped"]["bytes"] > BIG
    assert "16,777,216-byte limit" in detail["skipped"]["reasons"][0]

    again = json.loads(logged_in("sync", "--json").stdout)
    assert again["ok"] and again["bytes"] == 0


@pytest.mark.parametrize("bad", ["step past 64 bits", "20 MB string"])
def test_the_online_uploader_skips_a_refused_record_once_and_is_done(
    live_server: LiveServer, api: Api, run_dir: Path, bad: str
) -> None:
    frames = _step_past_64_bits() if bad == "step past 64 bits" else _twenty_megabytes(True)
    run_path = crafted_run(run_dir, frames)
    run_id = _run_id(run_path)
    up = Uploader(
        run_path,
        project="proj",
        run_id=run_id,
        base_url=live_server.base_url,
        api_key=live_server.api_key,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        up.start()
        started = time.monotonic()
        try:
            assert up.wait(60.0), up.last_error
            took = time.monotonic() - started
            time.sleep(1.5)  # more passes of the thread: the skip is not said again
        finally:
            up.stop()
    assert took < 20  # not the upload timeout, nor retries
    said = [str(w.message) for w in caught if issubclass(w.category, TetherWarning)]
    assert len(said) == 1, said
    assert run_id in said[0] and _writer(run_path) in said[0] and "refused" in said[0]
    detail = api.client.get_json(f"/projects/proj/runs/{run_id}")
    assert detail["state"] == "finished" and detail["skipped"]["records"] == 1
    wanted = list(range(2000)) if bad == "step past 64 bits" else [*range(1000), *range(1001, 2001)]
    assert history_counts(api, "proj", run_id) == {("loss", "main"): wanted}


def test_damaged_bytes_in_the_middle_cost_only_their_frame(
    logged_in: Cli, api: Api, run_dir: Path
) -> None:
    frames = [[[fmt.K_KEYS, 0, ["loss"]], _loss_rows(range(100))]]
    frames += [[_loss_rows(range(start, start + 100))] for start in range(100, 1000, 100)]
    run_path = crafted_run(run_dir, frames)
    [segment] = (run_path / fmt.SEGMENTS_DIR).iterdir()
    data = bytearray(segment.read_bytes())
    starts = [len(fmt.MAGIC)]
    while starts[-1] < len(data):
        length, _ = fmt.FRAME_HEADER.unpack_from(data, starts[-1])
        starts.append(starts[-1] + fmt.FRAME_HEADER.size + length)
    data[starts[4] + 20] ^= 0xFF  # a flipped byte in the frame of rows 400-499
    segment.write_bytes(bytes(data))
    done = logged_in("sync", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    [entry] = json.loads(done.stdout)["runs"]
    [skip] = entry["skipped"]
    assert skip["bytes"] == starts[5] - starts[4] and "damaged" in skip["reason"]
    run_id = _run_id(run_path)
    steps = history_counts(api, "proj", run_id)[("loss", "main")]
    assert steps == [*range(400), *range(500, 1000)]
    assert api.client.get_json(f"/projects/proj/runs/{run_id}")["state"] == "finished"
