"""`tether.api.Api` against a real server, and `tether export` of local runs."""

from __future__ import annotations

import csv
import math
import subprocess
import sys
from pathlib import Path

import pytest

import tether
from tether import api as api_module
from tether.api import Api
from tether.errors import RunNotFoundError, UsageError
from tether.server.testing import LiveServer
from tether.sync import AuthError, sync_paths

from .conftest import Cli, make_run


def _upload(server: LiveServer, *paths: Path) -> None:
    report = sync_paths(paths, base_url=server.base_url, api_key=server.api_key, progress=False)
    assert report.ok, report.failed


def test_runs_to_pandas_with_filters_order_and_pages(
    live_server: LiveServer, api: Api, run_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = [make_run(run_dir / str(n), rows=10 * (n + 1), name=f"run{n}") for n in range(5)]
    _upload(live_server, *(run_dir / str(n) for n in range(5)))
    assert [(p.name, p.runs) for p in api.projects()] == [("proj", 5)]
    monkeypatch.setattr(api_module, "PAGE_SIZE", 2)  # five runs come in three pages
    runs = api.runs("proj", order="last_step")
    assert len(runs) == 5
    assert [r.id for r in runs] == [r.id for r in made]
    frame = runs.to_pandas()
    assert list(frame["name"]) == [f"run{n}" for n in range(5)]
    assert list(frame["last_step"]) == [9, 19, 29, 39, 49]
    assert set(frame["config.lr"]) == {0.1}
    assert list(frame["summary.loss"]) == [1 / 10, 1 / 20, 1 / 30, 1 / 40, 1 / 50]
    found = api.runs("proj", filters={"search": "run3"})
    assert [r.name for r in found] == ["run3"]
    assert len(api.runs("proj", filters={"state": "crashed"})) == 0
    with pytest.raises(UsageError, match="unknown filter 'colour'"):
        api.runs("proj", filters={"colour": "red"})
    with pytest.raises(RunNotFoundError, match="no project 'nope'"):
        list(api.runs("nope"))


def test_history_whole_and_sampled(live_server: LiveServer, api: Api, run_dir: Path) -> None:
    with tether.init(project="proj", dir=run_dir, console="off", mode="offline") as local:
        for i in range(5000):
            local.log({"loss": math.sin(i / 50) + (3.0 if i == 1234 else 0.0), "lr": 0.1})
        local.log({"loss": math.nan})
    _upload(live_server, run_dir)
    run = api.run(f"proj/{local.id}")
    whole = run.history()
    assert list(whole.columns) == ["_step", "_time", "_writer", "loss", "lr"]
    assert len(whole) == 5001 and list(whole["_step"]) == list(range(5001))
    assert set(whole["_writer"]) == {"main"}
    assert math.isnan(whole["loss"].iloc[-1])
    sampled = run.history(keys=["loss"], samples=200)
    assert list(sampled.columns) == ["_step", "_time", "_writer", "loss"]
    assert 100 <= len(sampled) <= 600
    assert sampled["loss"].max() == whole["loss"].max()  # the spike survives sampling
    assert sampled["loss"].min() == whole["loss"].min()
    with pytest.raises(UsageError, match="pass a list of keys"):
        run.history(keys="loss")


def test_run_console_config_summary(live_server: LiveServer, api: Api, run_dir: Path) -> None:
    local = make_run(run_dir, rows=20)
    _upload(live_server, run_dir)
    run = api.run(f"proj/{local.id}")
    assert (run.id, run.state, run.config) == (local.id, "finished", {"lr": 0.1})
    assert run.summary["loss"] == 1 / 20
    lines = run.console_lines()
    assert [(line.writer, line.stream, line.text) for line in lines] == [
        ("main", "stdout", "first line"),
        ("main", "stdout", "last line"),
    ]
    assert run.console_lines(stream="stderr") == []


def test_clear_errors(live_server: LiveServer, api: Api, config_home: Path) -> None:
    with pytest.raises(UsageError, match="no API key: run `tether login`"):
        Api()
    with pytest.raises(UsageError, match="give 'project/run_id'"):
        api.run("just-an-id")
    with pytest.raises(RunNotFoundError, match="no run 'zzz' in project 'proj'"):
        api.run("proj/zzz")
    with (
        pytest.raises(AuthError, match="run `tether login`"),
        Api(live_server.base_url, "tth_wrong_key_00000000") as wrong,
    ):
        wrong.projects()


def test_api_defaults_to_the_login(logged_in: Cli, live_server: LiveServer) -> None:
    with Api() as client:
        assert client.base_url == live_server.base_url
        assert client.viewer()["user"] == "admin"


def test_export_csv_and_parquet(cli: Cli, run_dir: Path) -> None:
    with tether.init(project="proj", dir=run_dir, console="off", mode="offline") as local:
        for i in range(30):
            local.log({"loss": 1.0 / (i + 1), **({"val": i} if i % 10 == 0 else {})})
    out = cli("export", local.id, "--format", "csv")
    assert out.returncode == 0, out.stderr
    with open(run_dir / f"{local.id}.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["_step", "_time", "_writer", "loss", "val"]
    assert [float(r["loss"]) for r in rows] == [1.0 / (i + 1) for i in range(30)]
    assert [r["val"] for r in rows[:11]] == ["0", *[""] * 9, "10"]

    pq = pytest.importorskip("pyarrow.parquet")
    target = run_dir / "out" / "h.parquet"
    target.parent.mkdir()
    out = cli("export", "latest", "--format", "parquet", "--output", str(target))
    assert out.returncode == 0, out.stderr
    table = pq.read_table(target).to_pydict()
    assert table["_step"] == list(range(30)) and table["val"][:2] == [0, None]


def test_export_without_pyarrow_says_how_to_get_it(run_dir: Path, cli: Cli) -> None:
    make_run(run_dir, rows=3)
    code = "import sys; sys.modules['pyarrow'] = None; from tether.cli import main; main()"
    out = subprocess.run(
        [sys.executable, "-c", code, "export", "latest", "--format", "parquet"],
        cwd=run_dir,
        env=cli.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 1 and "pip install pyarrow" in out.stderr
    assert "Traceback" not in out.stderr
