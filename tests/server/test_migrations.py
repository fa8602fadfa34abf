"""Upgrading a database made by an older schema keeps its data readable."""

from __future__ import annotations

from pathlib import Path

import httpx
from sqlalchemy import inspect, text

import tether
from tether.server.storage.db import make_engine, migrate
from tether.server.testing import LiveServer
from tether.store import format as fmt

from .alembic_head import head_revision


def test_upgrade_from_0001_keeps_history(tmp_path: Path, run_dir: Path) -> None:
    data_dir = tmp_path / "server"
    with tether.init(project="old", dir=run_dir, console="off") as run:
        for i in range(5000):
            run.log({"v": float(i % 100)})
    [segment] = list((run.dir / fmt.SEGMENTS_DIR).iterdir())
    writer = segment.stem.rsplit("-", 1)[1]
    with LiveServer(data_dir) as server:
        httpx.put(
            f"{server.base_url}/api/v1/projects/old/runs/{run.id}/segments/{writer}",
            content=segment.read_bytes(),
            headers=server.headers,
        ).raise_for_status()
        key = server.api_key
    # Turn the database back into what revision 0001 made before 0002 existed.
    engine = make_engine(f"sqlite:///{data_dir / 'tether.db'}")
    with engine.begin() as connection:
        for column in ("lod_steps", "lod_times", "lod_vals"):
            connection.execute(text(f"ALTER TABLE series_chunks DROP COLUMN {column}"))
        for column in ("skipped_records", "skipped_bytes", "skip_reason"):
            connection.execute(text(f"ALTER TABLE writers DROP COLUMN {column}"))
        connection.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    migrate(engine)
    columns = {c["name"] for c in inspect(engine).get_columns("series_chunks")}
    assert {"lod_steps", "lod_times", "lod_vals"} <= columns
    writer_columns = {c["name"] for c in inspect(engine).get_columns("writers")}
    assert {"skipped_records", "skipped_bytes", "skip_reason"} <= writer_columns
    with engine.connect() as connection:
        version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    assert version == head_revision()
    engine.dispose()
    with LiveServer(data_dir, api_key=key) as server:
        url = f"{server.base_url}/api/v1/projects/old/runs/{run.id}/history"
        whole = httpx.get(url, headers=server.headers).json()["series"][0]
        assert whole["steps"] == list(range(5000))
        sampled = httpx.get(url, params={"samples": 50}, headers=server.headers).json()
        values = sampled["series"][0]["values"]
        assert sampled["sampled"] and min(values) == 0.0 and max(values) == 99.0
        detail = httpx.get(url.rsplit("/", 1)[0], headers=server.headers).json()
        assert detail["skipped"] == {"records": 0, "bytes": 0, "reasons": []}
