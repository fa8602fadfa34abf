"""A local run and the same run synced to a real server read their media alike: the same
``MediaItem`` fields, the same bytes, the same keys (one shape for local and remote runs)."""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np

import tether
from tether.api import Api, RemoteRun
from tether.server.testing import LiveServer
from tether.sync import sync_paths


def test_local_and_remote_media_methods_have_one_signature() -> None:
    for name in ("media", "media_keys"):
        local = inspect.signature(getattr(tether.RunData, name))
        remote = inspect.signature(getattr(RemoteRun, name))
        assert [(p.name, p.kind, p.default) for p in local.parameters.values()] == [
            (p.name, p.kind, p.default) for p in remote.parameters.values()
        ], name


def test_local_and_synced_runs_read_the_same_media(live_server: LiveServer, run_dir: Path) -> None:
    pixels = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
    with tether.init(project="proj", dir=run_dir, mode="offline") as run:
        for step in range(3):
            run.log(
                {
                    "loss": 1.0 / (step + 1),
                    "samples": [tether.Image(pixels + step), tether.Image(pixels, caption="c")],
                    "h": tether.Histogram(np.arange(10) * step, bins=4),
                }
            )
        run.log({"t": tether.Table(columns=["i", "im"], rows=[[0, tether.Image(pixels)]])})
        run.log({"md": tether.Text("# hi")})
    report = sync_paths(
        [run_dir], base_url=live_server.base_url, api_key=live_server.api_key, progress=False
    )
    assert report.ok, report.failed
    local = tether.load_run(run.dir)
    with Api(live_server.base_url, live_server.api_key) as api:
        remote = api.run(f"proj/{local.id}")
        assert remote.media_keys() == local.media_keys()
        for key in ("samples", "h", "t", "md"):
            mine, theirs = local.media(key), remote.media(key)
            assert [i.to_dict() for i in theirs] == [i.to_dict() for i in mine]
            for a, b in zip(mine, theirs, strict=True):
                if a.sha256 is not None:
                    assert a.read_bytes() == b.read_bytes()
        assert [i.index for i in remote.media("samples", step=1)] == [0, 1]
        cell = remote.media("t")[0].to_pandas()["im"][0]
        assert (np.asarray(cell.to_pil()) == pixels).all()
        assert remote.media("md")[0].text() == "# hi"
