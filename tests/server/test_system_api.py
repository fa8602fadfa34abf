"""System metrics and the environment: written by real runs, uploaded by the real ``tether sync``
path and the online uploader, stored by a real server (SQLite, and PostgreSQL when
``TETHER_TEST_POSTGRES_URL`` is set), read back over HTTP and through ``tether.Api``."""

from __future__ import annotations

import math
import multiprocessing as mp
import os
import secrets
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import tether
from tether.server.testing import LiveServer
from tether.store import format as fmt
from tether.sync.offline import sync_paths

from ..conftest import only_run, run_script
from .alembic_head import head_revision

K_ENVIRONMENT = fmt.K_ENVIRONMENT
PG_URL = os.environ.get("TETHER_TEST_POSTGRES_URL")
T0 = 1_790_000_000.0
# The environment a run's own capture writes at init() is "now": ours comes later and wins.
LATER = time.time() + 3600

ENVIRONMENT = {
    "python": {"version": "3.11.9", "executable": "/usr/bin/python3", "implementation": "CPython"},
    "platform": {"system": "Linux", "release": "6.1.0", "machine": "x86_64", "hostname": "box"},
    "cpu": {"model": "AMD EPYC 9654", "count": 16},
    "memory": {"total_bytes": 128 * 2**30},
    "gpu": {
        "devices": [
            {"index": 0, "name": "NVIDIA H200", "memory_total_bytes": 141 * 2**30},
            {"index": 1, "name": "NVIDIA H200", "memory_total_bytes": 141 * 2**30},
        ],
        "driver_version": "550.54.15",
        "cuda_version": "12.4",
    },
    "torch": {"version": "2.4.0", "cuda_available": True},
    "packages": {"numpy": "2.1.0", "torch": "2.4.0", "tether": "0.1.0"},
    "command": {"argv": ["train.py", "--lr", "0.1"], "cwd": "/work", "executable": "python"},
    "launcher": {"RANK": "0", "WORLD_SIZE": "1"},
    "git": {"root": "/work", "commit": "a" * 40, "branch": "main", "dirty": False},
}


def sample(i: int, gpus: int = 2) -> dict[str, float]:
    """Sample ``i`` of a made-up but realistic machine: ints and floats, as psutil gives them."""
    metrics: dict[str, float] = {
        "proc.cpu_percent": float(i % 7) * 10.0,
        "proc.rss_bytes": 1_000_000 + i * 4096,
        "proc.threads": 12,
        "proc.count": 3,
        "host.cpu_percent": 50.0 + i % 5,
        "host.mem_used_bytes": 2**33 + i,
        "host.net_recv_bps": 1000.5 * i,
    }
    for gpu in range(gpus):
        metrics[f"gpu.{gpu}.util_percent"] = float((i * (gpu + 3)) % 101)
        metrics[f"gpu.{gpu}.power_w"] = 300.0 + gpu
        metrics[f"gpu.{gpu}.power_limit_w"] = 700.0
    return metrics


@pytest.fixture(autouse=True)
def _made_up_samples_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests write samples of their own: the run's sampler stays off."""
    monkeypatch.setenv("TETHER_SYSTEM_INTERVAL_S", "0")


@pytest.fixture(params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LiveServer]:
    """A real server on SQLite, or on a fresh PostgreSQL database of its own."""
    if request.param == "sqlite":
        live = LiveServer(tmp_path / "server").start()
        try:
            yield live
        finally:
            live.stop()
        return
    if not PG_URL:
        pytest.skip("TETHER_TEST_POSTGRES_URL not set (scripts/postgres.sh prints one)")
    import psycopg

    name = "tether_test_" + secrets.token_hex(4)
    with psycopg.connect(PG_URL, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    live = LiveServer(tmp_path / "server", database_url=PG_URL.rsplit("/", 1)[0] + "/" + name)
    try:
        yield live.start()
    finally:
        live.stop()
        with psycopg.connect(PG_URL, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _sync(server: LiveServer, run: tether.Run) -> None:
    report = sync_paths([run.dir], base_url=server.base_url, api_key=server.api_key, progress=False)
    assert report.ok, report


def _client(server: LiveServer) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, headers=server.headers, timeout=60)


def _append_samples(run: tether.Run, indices: range, **options: int) -> None:
    for i in indices:
        run._writer.append([fmt.K_SYSTEM, T0 + 10.0 * i, sample(i, **options)])


def test_samples_uploaded_piece_by_piece_read_back_whole(server: LiveServer, run_dir: Path) -> None:
    """A live run synced after every few samples (as the uploader sends them) keeps every
    sample exactly, in order, including a GPU that appears halfway and a value not measured."""
    with tether.init(project="sys", dir=run_dir, console="off", mode="offline") as run:
        expected: dict[str, list[tuple[float, float]]] = {}
        for start in range(0, 100, 10):
            for i in range(start, start + 10):
                metrics: dict[str, Any] = sample(i, gpus=1 if i < 50 else 2)
                if i == 33:
                    metrics["host.cpu_percent"] = None  # not measured this time
                run._writer.append([fmt.K_SYSTEM, T0 + 10.0 * i, metrics])
                for name, value in metrics.items():
                    if value is not None:
                        expected.setdefault(name, []).append((T0 + 10.0 * i, float(value)))
            run.flush()
            _sync(server, run)
        run.log({"loss": 1.0})
    _sync(server, run)
    with _client(server) as client:
        url = f"/api/v1/projects/sys/runs/{run.id}/system"
        answer = client.get(url).json()
        assert answer["sampled"] is False
        got = {
            s["metric"]: list(zip(s["times"], s["values"], strict=True)) for s in answer["series"]
        }
        assert got == expected
        assert {s["writer"] for s in answer["series"]} == {"main"}
        assert answer["metrics"] == list(expected)  # in the order they first arrived
        assert len(got["gpu.1.util_percent"]) == 50 and len(got["host.cpu_percent"]) == 99
        detail = client.get(f"/api/v1/projects/sys/runs/{run.id}").json()
        assert detail["system_metrics"] == list(expected)
        assert detail["keys"] == ["loss"]  # system metrics are not history keys
        # A repeated upload of the whole segment stores nothing twice.
        [segment] = (run.dir / fmt.SEGMENTS_DIR).iterdir()
        writer = segment.stem.rsplit("-", 1)[1]
        again = client.put(
            f"/api/v1/projects/sys/runs/{run.id}/segments/{writer}", content=segment.read_bytes()
        )
        assert again.status_code == 200 and again.json()["records"] == 0
        assert client.get(url).json()["series"] == answer["series"]
    if server.database_url is None:
        # Ten uploads of ten samples: appended to the writer's last chunk, not a row each.
        with sqlite3.connect(server.data_dir / "tether.db") as db:
            counts = [n for (n,) in db.execute("SELECT count FROM system_chunks ORDER BY id")]
        assert counts == [60, 40], counts


def test_filters_downsampling_and_other_writers(server: LiveServer, run_dir: Path) -> None:
    """``metrics``, ``writer`` and ``samples`` on the server; a fork child samples as a writer
    of its own; ``RemoteRun.system`` builds the same DataFrame."""
    with tether.init(project="sys", dir=run_dir, console="off", mode="offline") as run:
        _append_samples(run, range(5000))
        spike = sample(2500)
        spike["gpu.0.util_percent"] = 1000.0
        run._writer.append([fmt.K_SYSTEM, T0 + 10.0 * 2500 + 5.0, spike])
        child = mp.get_context("fork").Process(target=_child_samples, args=(run,))
        child.start()
        child.join(60)
        assert child.exitcode == 0
    _sync(server, run)
    base = f"/api/v1/projects/sys/runs/{run.id}/system"
    with _client(server) as client:
        labels = {s["writer"] for s in client.get(base).json()["series"]}
        assert len(labels) == 2 and "main" in labels
        [other] = labels - {"main"}
        picked = client.get(
            base, params={"metrics": "gpu.0.util_percent,nope", "writer": "main", "samples": 200}
        ).json()
        [series] = picked["series"]
        assert picked["sampled"] and series["metric"] == "gpu.0.util_percent"
        assert len(series["times"]) <= 210 and series["times"] == sorted(series["times"])
        assert 1000.0 in series["values"] and 0.0 in series["values"]  # spike and floor kept
        assert series["times"][0] == T0 and series["times"][-1] == T0 + 10.0 * 4999
        child_only = client.get(base, params={"writer": other}).json()["series"]
        assert {s["metric"] for s in child_only} == {"proc.cpu_percent", "host.cpu_percent"}
        assert child_only[0]["values"] == [1.0, 2.0, 3.0]
        assert client.get(base, params={"metrics": ""}).json()["series"] == []
    with tether.Api(server.base_url, server.api_key) as api:
        remote = api.run(f"sys/{run.id}")
        frame = remote.system(["host.cpu_percent", "gpu.0.util_percent"], writer="main")
        assert list(frame.columns) == ["_time", "_writer", "host.cpu_percent", "gpu.0.util_percent"]
        assert len(frame) == 5001 and frame["_time"].is_monotonic_increasing
        assert frame["gpu.0.util_percent"].max() == 1000.0
        every = remote.system()
        assert set(every["_writer"]) == {"main", other}
        assert len(every.columns) == 2 + len(sample(0))
        assert math.isnan(every[every["_writer"] == other]["gpu.0.util_percent"].iloc[0])
        few = remote.system(["proc.rss_bytes"], samples=50)
        assert 2 < len(few) <= 60
        assert list(remote.system("proc.threads").columns) == ["_time", "_writer", "proc.threads"]
        assert list(every.columns[2:]) == sorted(sample(0))  # as RunData.system() orders them


def _child_samples(run: tether.Run) -> None:
    # A fork child has a writer of its own (another segment, another label).
    for i in range(3):
        run._writer.append(
            [fmt.K_SYSTEM, T0 + i, {"proc.cpu_percent": float(i + 1), "host.cpu_percent": i + 1}]
        )
    run.flush()


def test_environment_merges_by_section_and_feeds_the_runs_table(
    server: LiveServer, run_dir: Path
) -> None:
    """Sections merge across records, the later record winning; the run shows a flat summary
    that the runs list can sort by; ``RemoteRun.environment`` returns the whole of it."""
    diff = "diff --git a/train.py b/train.py\n+print('changed')\n" * 2000
    with tether.init(project="sys", dir=run_dir, console="off", mode="offline") as first:
        first._writer.append([K_ENVIRONMENT, LATER, ENVIRONMENT])
        # Git arrives later (it is run off the calling thread), dirty with a diff.
        git = {**ENVIRONMENT["git"], "dirty": True, "diff": diff, "diff_truncated": False}
        first._writer.append([K_ENVIRONMENT, LATER + 2.0, {"git": git}])
        # An older record uploaded after the newer one does not undo it.
        first.flush()
        _sync(server, first)
        first._writer.append([K_ENVIRONMENT, LATER + 1.0, {"git": {"commit": "stale"}}])
    _sync(server, first)
    with tether.init(project="sys", dir=run_dir, console="off", mode="offline") as second:
        other = {**ENVIRONMENT, "git": {**ENVIRONMENT["git"], "commit": "b" * 40}}
        second._writer.append([K_ENVIRONMENT, LATER, {**other, "gpu": {"devices": []}}])
    _sync(server, second)
    bare = _run_without_environment(server)
    with _client(server) as client:
        runs_url = "/api/v1/projects/sys/runs"
        whole = client.get(f"{runs_url}/{first.id}/environment").json()
        assert whole["environment"]["git"] == git
        assert whole["environment"]["packages"] == ENVIRONMENT["packages"]
        assert whole["environment"]["python"] == ENVIRONMENT["python"]
        assert isinstance(whole["updated_at"], float)
        summary = client.get(f"{runs_url}/{first.id}").json()["environment"]
        assert summary["git.commit"] == "a" * 40 and summary["git.dirty"] is True
        assert summary["gpu.name"] == "NVIDIA H200" and summary["gpu.count"] == 2
        assert summary["python.version"] == "3.11.9" and summary["torch.version"] == "2.4.0"
        assert "git.diff" not in summary and not any(k.startswith("packages") for k in summary)
        assert client.get(f"{runs_url}/{bare}/environment").json() == {
            "environment": {},
            "updated_at": None,
        }
        listed = client.get(runs_url, params={"order": "environment.git.commit"}).json()["runs"]
        assert [r["id"] for r in listed] == [first.id, second.id, bare]  # missing: last
        assert listed[0]["environment"]["git.commit"] == "a" * 40 and listed[2]["environment"] == {}
        down = client.get(runs_url, params={"order": "-environment.git.commit"}).json()["runs"]
        assert [r["id"] for r in down] == [second.id, first.id, bare]
    with tether.Api(server.base_url, server.api_key) as api:
        remote = api.run(f"sys/{first.id}")
        assert remote.environment["git"]["diff"] == diff
        assert remote.environment["gpu"]["devices"][1]["name"] == "NVIDIA H200"
        assert api.run(f"sys/{bare}").environment == {}


def _run_without_environment(server: LiveServer) -> str:
    """A run of a client that records no environment (an older tether): segment bytes."""
    records = [
        [fmt.K_HEADER, {"main": True, "label": "main", "name": "bare", "start_time": T0}],
        [fmt.K_FINAL, T0 + 1.0, "finished", 0],
    ]
    with _client(server) as client:
        url = "/api/v1/projects/sys/runs/bare0001/segments/w0"
        client.put(url, content=fmt.MAGIC + fmt.encode_frame(0, records)).raise_for_status()
    return "bare0001"


def test_online_run_streams_samples_and_environment(server: LiveServer, run_dir: Path) -> None:
    """The online uploader (a real thread of the run) carries both kinds while the run lives."""
    os.environ.update(TETHER_BASE_URL=server.base_url, TETHER_API_KEY=server.api_key)
    with tether.init(project="sys", dir=run_dir, console="off", mode="online") as run:
        run._writer.append([K_ENVIRONMENT, LATER, ENVIRONMENT])
        _append_samples(run, range(20))
    with _client(server) as client:
        base = f"/api/v1/projects/sys/runs/{run.id}"
        series = client.get(f"{base}/system", params={"metrics": "proc.rss_bytes"}).json()["series"]
        assert series[0]["values"] == [float(sample(i)["proc.rss_bytes"]) for i in range(20)]
        assert client.get(f"{base}/environment").json()["environment"]["cpu"]["count"] == 16


def test_bad_requests_and_records_answer_4xx(server: LiveServer, run_dir: Path) -> None:
    """Malformed parameters name the field; another user's key sees nothing (404); a record
    the server cannot store is a 422 naming it, which the client then skips."""
    with tether.init(project="sys", dir=run_dir, console="off", mode="offline") as run:
        _append_samples(run, range(3))
        run._writer.append([K_ENVIRONMENT, LATER, ENVIRONMENT])
    _sync(server, run)
    base = f"/api/v1/projects/sys/runs/{run.id}"
    with _client(server) as client:
        for params, field in [
            ({"samples": 1}, "samples"),
            ({"samples": "many"}, "samples"),
            ({"samples": 10**9}, "samples"),
            ({"metrics": "a\x00b"}, "metrics"),
            ({"metrics": "x" * 600}, "metrics"),
            ({"writer": "w" * 200}, "writer"),
            ({"writer": "a\x00b"}, "writer"),
        ]:
            response = client.get(f"{base}/system", params=params)
            assert response.status_code == 422, (params, response.text)
            assert field in response.text, (params, response.text)
        assert client.get("/api/v1/projects/sys/runs/nope/system").status_code == 404
        assert client.get("/api/v1/projects/sys/runs/nope/environment").status_code == 404
        assert client.get("/api/v1/projects/sys/runs", params={"order": "environment."}).is_error
        # Records the server cannot hold: refused with the field named, never a 500.
        url = f"{base}/segments/bad"
        for record, field in [
            ([fmt.K_SYSTEM, "noon", {"a.b": 1.0}], "time"),
            ([fmt.K_SYSTEM, T0, [1.0]], "metrics"),
            ([fmt.K_SYSTEM, T0, {"a.b": "high"}], "metric value"),
            ([fmt.K_SYSTEM, T0, {"a.b": True}], "metric value"),
            ([fmt.K_SYSTEM, T0, {"x" * 600: 1.0}], "metric"),
            ([fmt.K_SYSTEM, T0], "record"),
            ([K_ENVIRONMENT, T0, ["python"]], "environment"),
            ([K_ENVIRONMENT, None, {}], "time"),
        ]:
            body = fmt.MAGIC + fmt.encode_frame(0, [[fmt.K_HEADER, {"label": "x"}], record])
            refused = client.put(url, content=body)
            assert refused.status_code == 422, (record, refused.text)
            assert refused.json()["field"] == field, (record, refused.json())
    bob_key = subprocess.run(
        [sys.executable, "-m", "tether.cli", "server", "--data-dir", str(server.data_dir),
         *(["--database-url", server.database_url] if server.database_url else []),
         "user", "add", "bob"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout.strip()  # fmt: skip
    bob = {"Authorization": f"Bearer {bob_key}"}
    for path in ("/system", "/environment"):
        denied = httpx.get(server.base_url + base + path, headers=bob)
        assert denied.status_code == 404, path
        assert "cpu" not in denied.text
    assert httpx.get(server.base_url + base + "/system").status_code == 401


def test_migration_0005_on_a_database_of_0004(server: LiveServer, run_dir: Path) -> None:
    """A database that revision 0004 made gets the tables and the column, keeps its runs, and
    then stores samples and environments."""
    from sqlalchemy import inspect, text

    from tether.server.storage.db import make_engine, migrate

    with tether.init(project="sys", dir=run_dir, console="off", mode="offline") as old:
        old.log({"loss": 0.5})
    _sync(server, old)
    server.stop()
    url = server.database_url or f"sqlite:///{server.data_dir / 'tether.db'}"
    engine = make_engine(url)
    with engine.begin() as connection:
        for table in ("system_chunks", "system_metrics", "run_environments"):
            connection.execute(text(f"DROP TABLE {table}"))
        connection.execute(text("ALTER TABLE runs DROP COLUMN environment_summary"))
        connection.execute(text("UPDATE alembic_version SET version_num = '0004'"))
    migrate(engine)
    tables = set(inspect(engine).get_table_names())
    assert {"system_chunks", "system_metrics", "run_environments"} <= tables
    assert "environment_summary" in {c["name"] for c in inspect(engine).get_columns("runs")}
    with engine.connect() as connection:
        version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    assert version == head_revision()
    engine.dispose()
    server.start()
    with tether.init(project="sys", dir=run_dir, console="off", mode="offline") as new:
        _append_samples(new, range(5))
        new._writer.append([K_ENVIRONMENT, LATER, ENVIRONMENT])
    _sync(server, new)
    with _client(server) as client:
        runs = client.get("/api/v1/projects/sys/runs", params={"order": "name"}).json()["runs"]
        summaries = {r["id"]: r["environment"] for r in runs}
        assert summaries[old.id] == {} and summaries[new.id]["cpu.model"] == "AMD EPYC 9654"
        series = client.get(f"/api/v1/projects/sys/runs/{new.id}/system").json()["series"]
        assert len(series) == len(sample(0)) and len(series[0]["times"]) == 5


REAL_SAMPLER = """
import multiprocessing as mp, sys, time
import tether

def burn(seconds):
    end = time.time() + seconds
    while time.time() < end:
        sum(range(10_000))

if __name__ == "__main__":
    run = tether.init(project="sys", id=sys.argv[1])
    workers = [mp.get_context("spawn").Process(target=burn, args=(2.5,)) for _ in range(2)]
    for worker in workers:
        worker.start()
    for step in range(40):
        run.log({"loss": 1.0 / (step + 1)})
        time.sleep(0.1)
    for worker in workers:
        worker.join(60)
    run.finish()
"""


def test_the_real_sampler_end_to_end(server: LiveServer, tmp_path: Path) -> None:
    """A real training (two worker processes) with the real sampler every 0.2 s, online: the
    server has the tree's processes and the host's metrics, and the API answers what the
    local run directory holds."""
    env = {
        "TETHER_BASE_URL": server.base_url,
        "TETHER_API_KEY": server.api_key,
        "TETHER_SYSTEM_INTERVAL_S": "0.2",
    }
    run_script(tmp_path, REAL_SAMPLER, env=env, args=["realsampler"], timeout=180)
    local = only_run(tmp_path)
    with tether.Api(server.base_url, server.api_key) as api:
        remote = api.run("sys/realsampler")
        frame = remote.system()
        assert {"proc.cpu_percent", "proc.rss_bytes", "proc.count", "host.cpu_percent"} <= set(
            frame.columns
        )
        assert len(frame) >= 5 and set(frame["_writer"]) == {"main"}
        assert frame["proc.count"].max() >= 3  # the training and its two workers
        mine = local.system()
        assert list(frame.columns) == list(mine.columns)
        assert frame["_time"].tolist() == mine["_time"].tolist()
        for column in mine.columns[2:]:
            assert frame[column].astype(float).equals(mine[column].astype(float)), column
        assert remote.environment == local.environment
        assert remote.environment["python"]["version"] == "{}.{}.{}".format(*sys.version_info[:3])
        assert (
            remote.data["environment"]["python.version"] == remote.environment["python"]["version"]
        )
