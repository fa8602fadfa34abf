"""Helpers for the sync tests: a private config home, the real CLI, runs made on disk."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import tether
from tether.api import Api
from tether.server.testing import LiveServer
from tether.store import format as fmt


@dataclass
class Cli:
    """``python -m tether.cli`` with a private ``XDG_CONFIG_HOME``, as a user runs it."""

    config_home: Path
    cwd: Path
    extra_env: dict[str, str]

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TETHER_")}
        env["XDG_CONFIG_HOME"] = str(self.config_home)
        env["COLUMNS"] = "200"
        env.update(self.extra_env)
        return env

    def __call__(
        self, *args: str, stdin: str | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "tether.cli", *args],
            cwd=self.cwd,
            env=self.env(),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


@pytest.fixture
def config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``XDG_CONFIG_HOME`` pointing at an empty folder, for this process and the CLI."""
    home = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    return home


@pytest.fixture
def cli(config_home: Path, run_dir: Path) -> Cli:
    return Cli(config_home=config_home, cwd=run_dir, extra_env={})


@pytest.fixture
def logged_in(cli: Cli, live_server: LiveServer) -> Cli:
    """The CLI after ``tether login`` against the live server."""
    done = cli("login", "--host", live_server.base_url, live_server.api_key)
    assert done.returncode == 0, done.stderr
    return cli


@pytest.fixture
def api(live_server: LiveServer) -> Iterator[Api]:
    with Api(live_server.base_url, live_server.api_key) as client:
        yield client


def make_run(
    directory: Path, *, project: str = "proj", rows: int = 100, name: str | None = None
) -> tether.Run:
    """A finished offline run with ``rows`` rows of ``loss`` and ``acc`` and two lines."""
    with tether.init(
        project=project, name=name, dir=directory, config={"lr": 0.1}, mode="offline"
    ) as run:
        print("first line")
        for i in range(rows):
            run.log({"loss": 1.0 / (i + 1), "acc": i / rows})
        print("last line")
    return run


def history_counts(api: Api, project: str, run_id: str) -> dict[tuple[str, str], list[int]]:
    """``(key, writer) -> steps`` as the server has them, every point."""
    answer = api.client.get_json(f"/projects/{project}/runs/{run_id}/history")
    return {(s["key"], s["writer"]): s["steps"] for s in answer["series"]}


def rows_block(schema: int, steps: list[int], values: list[list[object]]) -> list[object]:
    """A ``K_ROWS`` record: rows of one layout, 1 ms apart."""
    return [fmt.K_ROWS, schema, steps, list(range(len(steps))), values]


def crafted_run(
    directory: Path, frames: list[list[list[object]]], *, project: str = "proj"
) -> Path:
    """A finished offline run whose one segment holds exactly ``frames`` (lists of records).

    The header and the final record come from a real run; sequence numbers follow each
    other across the frames. For records that ``log()`` now refuses, but that a segment
    written by an older tether, or damaged, may hold: the upload must cope with them.
    """
    with tether.init(project=project, dir=directory, mode="offline", console="off") as run:
        pass
    [segment] = (run.dir / fmt.SEGMENTS_DIR).iterdir()
    records = [r for f in fmt.scan_frames(segment.read_bytes()).frames for r in f.records]
    header = next(r for r in records if r[0] == fmt.K_HEADER)
    final = next(r for r in records if r[0] == fmt.K_FINAL)
    chunks = [fmt.MAGIC]
    seq = 0
    for index, frame in enumerate(frames):
        body = list(frame)
        if index == 0:
            body.insert(0, header)
        if index == len(frames) - 1:
            body.append(final)
        chunks.append(fmt.encode_frame(seq, body))
        seq += len(body)
    segment.write_bytes(b"".join(chunks))
    return run.dir
