"""The server reads every on-disk format version a client may still upload."""

from __future__ import annotations

from pathlib import Path

import httpx

import tether
from tether.server.testing import LiveServer
from tether.store import format as fmt

from ..test_rows import version_1_segment


def _empty_run(run_dir: Path) -> tuple[tether.Run, Path, str]:
    """A finished run with no rows: the run, its one segment and that writer's id."""
    with tether.init(project="proj", dir=run_dir, console="off") as run:
        pass
    [segment] = (run.dir / fmt.SEGMENTS_DIR).iterdir()
    return run, segment, segment.stem.rsplit("-", 1)[1]


def test_a_version_1_segment_uploads_like_a_current_one(
    live_server: LiveServer, run_dir: Path
) -> None:
    run, _segment, writer = _empty_run(run_dir)
    body = version_1_segment(run, [1.0, 0.5, 0.25])
    with httpx.Client(base_url=live_server.base_url, headers=live_server.headers) as client:
        url = f"/api/v1/projects/proj/runs/{run.id}/segments/{writer}"
        response = client.put(url, params={"offset": 0}, content=body)
        assert response.status_code == 200, response.text
        history = client.get(f"/api/v1/projects/proj/runs/{run.id}/history").json()
        detail = client.get(f"/api/v1/projects/proj/runs/{run.id}").json()
    [series] = history["series"]
    assert series["steps"] == [0, 1, 2] and series["values"] == [1.0, 0.5, 0.25]
    assert detail["summary"]["loss"] == 0.25 and detail["state"] == "finished"


def test_a_rows_block_with_uneven_columns_is_refused(
    live_server: LiveServer, run_dir: Path
) -> None:
    run, segment, writer = _empty_run(run_dir)
    header = fmt.scan_frames(segment.read_bytes()).frames[0].records[0]
    records = [header, [fmt.K_KEYS, 0, ["loss"]], [fmt.K_ROWS, 0, [0, 1], [0], [[1.0], [2.0]]]]
    body = fmt.MAGIC + fmt.encode_frame(0, records)
    with httpx.Client(base_url=live_server.base_url, headers=live_server.headers) as client:
        url = f"/api/v1/projects/proj/runs/{run.id}/segments/{writer}"
        response = client.put(url, params={"offset": 0}, content=body)
    assert response.status_code == 422
    assert "rows block has 2 steps, 1 times" in response.json()["detail"]


def test_a_key_in_several_row_layouts_keeps_every_point_and_exact_ints(
    live_server: LiveServer, run_dir: Path
) -> None:
    with tether.init(project="proj", dir=run_dir, console="off") as run:
        for step in range(300):
            if step % 3:
                run.log({"loss": step / 10, "epoch": step // 100})
            else:  # another layout holding the same key, and an int float64 cannot hold
                run.log({"loss": step / 10, "big": 2**60 + step})
    [segment] = (run.dir / fmt.SEGMENTS_DIR).iterdir()
    writer = segment.stem.rsplit("-", 1)[1]
    with httpx.Client(base_url=live_server.base_url, headers=live_server.headers) as client:
        url = f"/api/v1/projects/proj/runs/{run.id}/segments/{writer}"
        response = client.put(url, params={"offset": 0}, content=segment.read_bytes())
        assert response.status_code == 200, response.text
        history = client.get(
            f"/api/v1/projects/proj/runs/{run.id}/history", params={"keys": "loss,epoch,big"}
        ).json()
    series = {s["key"]: s for s in history["series"]}
    assert series["loss"]["steps"] == list(range(300))
    assert series["loss"]["values"] == [step / 10 for step in range(300)]
    assert series["epoch"]["values"] == [s // 100 for s in range(300) if s % 3]
    assert series["big"]["values"] == [2**60 + s for s in range(0, 300, 3)]
