"""Media through ``run.log()`` in one process: steps, keys, records, blobs and reading back."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import tether
from tether import _diagnostics
from tether.media.blobs import BLOBS_DIR, blob_path
from tether.store import format as fmt
from tether.store.reader import list_segments


def _file_records(run_dir: Path) -> list[list[Any]]:
    found = []
    for path in list_segments(run_dir):
        for frame in fmt.scan_frames(path.read_bytes()).frames:
            found += [r for r in frame.records if r[0] == fmt.K_FILE]
    return found


def test_media_and_scalars_share_the_row_step(run_dir: Path) -> None:
    image = np.zeros((4, 5, 3), dtype=np.uint8)
    with tether.init(project="m", dir=run_dir, mode="offline") as run:
        run.log({"loss": 0.5, "samples": [tether.Image(image), tether.Image(image + 1)]})
        run.log({"val": {"img": tether.Image(image), "acc": 0.9}}, step=7)
        run.log({"note": tether.Text("only media")})  # takes a step as a row would
        assert run.step == 9
        run.log({"loss": 0.25})
    data = tether.load_run(run.dir)
    history = data.history()
    assert history["_step"].tolist() == [0, 7, 9]  # media alone add no row
    assert history["val/acc"].dropna().tolist() == [0.9]
    assert [(i.step, i.index) for i in data.media("samples")] == [(0, 0), (0, 1)]
    assert [i.step for i in data.media("val/img")] == [7]
    assert data.media("note")[0].step == 8 and data.media("note")[0].text() == "only media"
    assert data.media_keys() == [
        {"key": "note", "kind": "text", "count": 1, "min_step": 8, "max_step": 8},
        {"key": "samples", "kind": "image", "count": 2, "min_step": 0, "max_step": 0},
        {"key": "val/img", "kind": "image", "count": 1, "min_step": 7, "max_step": 7},
    ]
    assert data.media("samples", step=1) == [] and len(data.media("samples", step=0)) == 2


def test_file_records_have_the_contract_layout(run_dir: Path) -> None:
    with tether.init(project="m", dir=run_dir, mode="offline") as run:
        run.log({"img": tether.Image(np.ones((2, 3), dtype=np.uint8), caption="c")}, step=12)
        run.log({"h": tether.Histogram([1.0, math.nan])}, step=12)
    (image, histogram) = _file_records(run.dir)
    assert image[0] == 9 and isinstance(image[1], float)
    info = image[2]
    assert set(info) == {"key", "step", "index", "kind", "sha256", "size", "media_type", "meta"}
    assert (info["key"], info["step"], info["index"], info["kind"]) == ("img", 12, 0, "image")
    assert info["meta"] == {"width": 3, "height": 2, "channels": 1, "format": "png", "caption": "c"}
    assert blob_path(run.dir, info["sha256"]).stat().st_size == info["size"]
    assert set(histogram[2]) == {"key", "step", "index", "kind", "meta"}  # no blob
    assert histogram[2]["meta"]["nan"] == 1 and histogram[2]["meta"]["total"] == 2


def test_the_caller_may_change_its_array_right_after_log(run_dir: Path) -> None:
    pixels = np.full((6, 6, 3), 50, dtype=np.uint8)
    values = np.array([1.0, 2.0, 3.0])
    with tether.init(project="m", dir=run_dir, mode="offline") as run:
        run.log({"img": tether.Image(pixels), "h": tether.Histogram(values)})
        pixels[:] = 255
        values[:] = 100.0
        tensor = torch.zeros(3, 4, 4)
        run.log({"tensor": tether.Image(tensor)})
        tensor += 1.0
        rows = [[1, "a"]]
        table = tether.Table(columns=["n", "s"], rows=rows)
        rows[0][0] = 99
        run.log({"t": table})
    data = tether.load_run(run.dir)
    assert (np.asarray(data.media("img")[0].to_pil()) == 50).all()
    assert data.media("h")[0].meta["max"] == 3.0
    assert (np.asarray(data.media("tensor")[0].to_pil()) == 0).all()
    assert data.media("t")[0].to_pandas()["n"].tolist() == [1]


def test_identical_images_are_stored_once(run_dir: Path) -> None:
    pixels = np.arange(48, dtype=np.uint8).reshape(4, 4, 3)
    reference = tether.Image(pixels)
    with tether.init(project="m", dir=run_dir, mode="offline") as run:
        for _ in range(3):
            run.log({"same": tether.Image(pixels), "reference": reference})
        run.log({"other": tether.Image(pixels + 1)})
    items = tether.load_run(run.dir).media("same")
    assert len(items) == 3 and len({i.sha256 for i in items}) == 1
    again = tether.load_run(run.dir).media("reference")
    assert [i.sha256 for i in again] == [items[0].sha256] * 3
    assert len(list((run.dir / BLOBS_DIR).iterdir())) == 2


def test_reading_back_every_kind(run_dir: Path) -> None:
    pixels = np.random.default_rng(1).integers(0, 255, (16, 12, 3), dtype=np.uint8)
    with tether.init(project="m", dir=run_dir, mode="offline") as run:
        run.log(
            {
                "img": tether.Image(pixels),
                "h": tether.Histogram(np.arange(10), bins=2),
                "t": tether.Table(columns=["i", "im"], rows=[[0, tether.Image(pixels)]]),
                "md": tether.Text("**bold**"),
            }
        )
    data = tether.load_run(run.dir)
    assert (np.asarray(data.media("img")[0].to_pil()) == pixels).all()
    counts, edges = data.media("h")[0].histogram()
    assert counts.tolist() == [5, 5] and edges.tolist() == [0.0, 4.5, 9.0]
    frame = data.media("t")[0].to_pandas()
    assert (np.asarray(frame["im"][0].to_pil()) == pixels).all()
    assert data.media("md")[0].text() == "**bold**"
    assert data.media("img")[0].writer == "main"


@pytest.mark.parametrize(
    ("payload", "error", "words"),
    [
        (
            {"imgs": [tether.Image(np.zeros((2, 2))), 3.0]},
            TypeError,
            "key 'imgs' holds a list of media whose item 1 is a float",
        ),
        ({"x": [1.0, 2.0]}, TypeError, "key 'x' has a value of type list"),
        ({"a/b": tether.Text("x"), "a": {"b": 1.0}}, ValueError, "key 'a/b' is given twice"),
        ({"_step": tether.Text("x")}, ValueError, "key '_step' is reserved"),
    ],
)
def test_bad_media_calls_name_the_key_and_write_nothing(
    run_dir: Path, payload: dict[str, Any], error: type, words: str
) -> None:
    with tether.init(project="m", dir=run_dir, mode="offline") as run:
        with pytest.raises(error) as caught:
            run.log(payload)
        assert words in str(caught.value)
        assert run.step == 0
    assert _file_records(run.dir) == [] and not (run.dir / BLOBS_DIR).exists()


def test_a_bad_queue_cap_is_refused_before_anything_is_written(
    run_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TETHER_MEDIA_QUEUE_BYTES", "10")
    with tether.init(project="m", dir=run_dir, mode="offline") as run:
        with pytest.raises(tether.UsageError, match="TETHER_MEDIA_QUEUE_BYTES='10' is not"):
            run.log({"loss": 1.0, "img": tether.Image(np.zeros((2, 2)))})
        assert run.step == 0
    assert tether.load_run(run.dir).history().empty


def test_a_blob_the_disk_refuses_waits_in_memory_and_is_written_later(run_dir: Path) -> None:
    _diagnostics.reset_after_fork()  # rate limits of earlier tests must not hide a warning
    with tether.init(project="m", dir=run_dir, mode="offline") as run:
        blocker = run.dir / BLOBS_DIR
        blocker.write_text("a file where the blobs folder goes")  # every blob write fails
        with pytest.warns(tether.TetherWarning, match="kept in memory and tried again"):
            run.log({"img": tether.Image(np.zeros((2, 2))), "loss": 1.0})
            run.flush()
        assert tether.load_run(run.dir).media("img") == []
        blocker.unlink()  # the disk takes blobs again: finish() writes it
    data = tether.load_run(run.dir)
    assert [item.step for item in data.media("img")] == [0]
    assert "_tether/media_dropped/main" not in data.summary


def test_a_blob_still_refused_at_the_end_is_counted_and_never_raised(run_dir: Path) -> None:
    _diagnostics.reset_after_fork()
    with tether.init(project="m", dir=run_dir, mode="offline") as run:
        (run.dir / BLOBS_DIR).write_text("a file where the blobs folder goes")
        with pytest.warns(tether.TetherWarning, match="kept in memory and tried again"):
            run.log({"img": tether.Image(np.zeros((2, 2))), "loss": 1.0})
            run.flush()
        run.log({"h": tether.Histogram([1.0])})  # needs no blob: still stored
        with pytest.warns(tether.TetherWarning, match="'img' .step 0. could not be stored"):
            run.finish()
    data = tether.load_run(run.dir)
    assert data.media("img") == [] and len(data.media("h")) == 1
    assert data.history()["loss"].tolist() == [1.0]
    lost = data.summary["_tether/media_dropped/main"]
    assert lost["failed"] == 1 and lost["queue_full"] == 0 and lost["reason"]
