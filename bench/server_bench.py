"""The tether server next to an MLflow tracking server: ingestion, history queries, online cost.

    python bench/server_bench.py            # full run (~8 min), rewrites RESULTS.md's section
    python bench/server_bench.py --quick    # small sizes, prints the section only

Everything runs on this machine, on 127.0.0.1, in one command:

1. Ingestion: a local (offline) run of 200,000 steps x 10 keys is made once, then its segment
   file is uploaded (PUT .../segments, ~4 MiB bodies, whole frames) to a fresh tether server,
   3 times per backend (fresh data dir / fresh PostgreSQL database each time); the median
   points/s is reported. MLflow's ingestion is ``MlflowClient.log_batch`` of 1,000 metrics a
   call to an ``mlflow server`` on SQLite.
2. History queries of a 1,000,000-point series (one key logged 1,000,000 times): downsampled
   (``samples=1000``) and whole, ~10 requests each after a warm-up, on SQLite and PostgreSQL.
3. The same series in MLflow: its first 20,000 points through ``log_batch`` (timed), the rest
   written straight into MLflow's SQLite ``metrics`` table (all through ``log_batch`` would
   take ~7 min; ``--mlflow-log-all`` does it anyway); then ``get_metric_history`` (whole; the
   client API has no downsampling, one call only: it takes minutes) and the UI's
   ``get-history-bulk-interval`` endpoint (server-side sampling).
4. The client cost of ``run.log()`` in online mode next to offline mode, if this build has an
   online mode (measured in child processes, alternately).

PostgreSQL comes from ``--postgres-url`` (an admin URL), else ``TETHER_BENCH_POSTGRES_URL``,
else ``scripts/postgres.sh`` (needs root); the benchmark creates and drops its own databases.
Servers are started and stopped by pid; nothing outside the temporary directories is written
except this script's section of ``bench/RESULTS.md`` (not with ``--quick`` or ``--parts``
unless ``--write``). The machine may be shared: besides wall times, the servers' CPU time
(from /proc) is reported, and the tether source measured is fingerprinted.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import json
import math
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _common import fmt_num, machine_lines, make_row, median, table, update_section

SCRIPT = Path(__file__).resolve()
REPO = SCRIPT.parent.parent
SECTION = "server_bench"

# Targets for tether's own figures.
TARGET_INGEST_POINTS_S = 500_000.0
TARGET_DOWNSAMPLED_MS = 100.0
TARGET_ONLINE_RATIO = 1.20

UPLOAD_BODY_BYTES = 4 * 1024 * 1024
SERIES_KEY = "loss"
PROJECT = "bench"
MLFLOW_BATCH = 1000  # MLflow's limit of metrics per log_batch call
PARTS = ("ingest", "queries", "online", "mlflow")


@dataclass
class Sizes:
    steps: int = 200_000  # rows of the ingestion run (x 10 keys)
    series: int = 1_000_000  # points of the single-key series
    repeats: int = 3  # uploads per backend
    queries: int = 10  # requests per history query
    samples: int = 1000
    mlflow_logged: int = 20_000  # points of the series sent through log_batch
    mlflow_bulk_repeats: int = 3
    mlflow_full_repeats: int = 1
    log_calls: int = 120_000  # run.log() calls per online/offline child (a few upload polls)
    log_repeats: int = 5

    @classmethod
    def quick(cls) -> Sizes:
        return cls(
            steps=20_000,
            series=100_000,
            repeats=2,
            queries=3,
            mlflow_logged=5_000,
            mlflow_bulk_repeats=2,
            mlflow_full_repeats=1,
            log_calls=10_000,
            log_repeats=2,
        )


@dataclass
class Results:
    sizes: Sizes
    notes: list[str] = field(default_factory=list)
    ingest: dict[str, dict[str, Any]] = field(default_factory=dict)
    queries: dict[str, dict[str, Any]] = field(default_factory=dict)
    mlflow: dict[str, Any] = field(default_factory=dict)
    online: dict[str, Any] = field(default_factory=dict)
    postgres_version: str | None = None
    wall_s: float = 0.0
    loads: list[tuple[str, float]] = field(default_factory=list)  # (phase, 1-min load average)
    parts: set[str] = field(default_factory=set)
    source: tuple[str, str] = ("", "")  # fingerprint of tether's source at the start, the end

    def mark(self, phase: str) -> None:
        self.loads.append((phase, os.getloadavg()[0]))


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) used so far by ``pid`` and its live descendants.

    The machine is shared: wall times carry other people's load, a server's own CPU time
    much less so. (PostgreSQL's backends are not descendants: their CPU is not counted.)
    """
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
            for task in Path(f"/proc/{current}/task").iterdir():
                children = (task / "children").read_text().split()
                pending.extend(int(child) for child in children)
    return total


def source_fingerprint() -> str:
    """Which tether was measured: the commit, and a hash of the source as it is on disk."""
    digest = hashlib.sha256()
    for path in sorted((REPO / "src" / "tether").rglob("*.py")):
        digest.update(str(path.relative_to(REPO)).encode())
        with contextlib.suppress(OSError):
            digest.update(path.read_bytes())
    try:
        head = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--", "src"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        head, dirty = "unknown commit", ""
    changes = " + uncommitted changes" if dirty else ""
    return f"commit {head}{changes}, src/tether sha256 {digest.hexdigest()[:12]}"


def series_value(i: int) -> float:
    """Point ``i`` of the 1,000,000-point series: a decaying curve with deterministic noise."""
    return 1.0 / (1.0 + i * 1e-4) + 0.05 * ((i * 7919) % 101) / 101.0


# -- children: local runs and client cost -------------------------------------------------------
def child_env(tmp: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TETHER_")}
    env["XDG_CONFIG_HOME"] = str(tmp / ".config")  # no stored login leaks in
    env.update(extra or {})
    return env


def run_child(task: str, spec: dict[str, Any], tmp: Path, extra_env: dict[str, str] | None = None):
    """Run ``server_bench.py --child TASK SPEC RESULT`` in ``tmp``; return its JSON result."""
    result = tmp / f"result-{time.monotonic_ns()}.json"
    log = tmp / f"child-{time.monotonic_ns()}.log"
    command = [sys.executable, str(SCRIPT), "--child", task, json.dumps(spec), str(result)]
    with open(log, "wb") as out:
        proc = subprocess.run(
            command,
            cwd=tmp,
            env=child_env(tmp, extra_env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=600,
            check=False,
        )
    if proc.returncode != 0 or not result.exists():
        tail = log.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"child {task} {spec} exited {proc.returncode}:\n{tail}")
    return json.loads(result.read_text())


def child_main(task: str, spec: dict[str, Any], result_path: str) -> None:
    import tether

    if task == "make-run":
        run = tether.init(project=PROJECT, dir=spec["dir"], console="off")
        if spec["kind"] == "rows":
            for i in range(spec["steps"]):
                run.log(make_row(i))
        else:
            for i in range(spec["steps"]):
                run.log({SERIES_KEY: series_value(i)})
        run.finish()
        out: dict[str, Any] = {"run_id": run.id}
    elif task == "log-cost":
        out = _log_cost(tether, spec)
    else:
        raise SystemExit(f"unknown child task {task}")
    Path(result_path).write_text(json.dumps(out))


def _log_cost(tether: Any, spec: dict[str, Any]) -> dict[str, Any]:
    try:
        run = tether.init(project=PROJECT, dir=spec["dir"], mode=spec["mode"], console="off")
    except Exception as exc:
        return {"available": False, "error": f"{type(exc).__name__}: {exc}"}
    pool = [make_row(i) for i in range(1000)]  # fresh dicts, reused: log() does not keep them
    for row in pool:  # warm-up: first segment write, background threads started
        run.log(row)
    calls = spec["calls"]
    start, thread_cpu, process_cpu = time.perf_counter(), time.thread_time(), time.process_time()
    for i in range(calls):
        run.log(pool[i % 1000])
    logged = time.perf_counter() - start
    thread_cpu = time.thread_time() - thread_cpu
    process_cpu = time.process_time() - process_cpu
    start = time.perf_counter()
    run.finish()
    finished = time.perf_counter() - start
    return {
        "available": True,
        "run_id": run.id,
        "log_us": logged / calls * 1e6,
        "thread_cpu_us": thread_cpu / calls * 1e6,
        "process_cpu_us": process_cpu / calls * 1e6,
        "finish_s": finished,
    }


# -- segment upload -----------------------------------------------------------------------------
@dataclass
class Segment:
    path: Path
    data: bytes
    run_id: str
    writer_id: str
    bodies: list[tuple[int, int]]  # [start, end) byte ranges, whole frames, <= UPLOAD_BODY_BYTES
    records: int


def load_segment(run_root: Path) -> Segment:
    from tether.store import format as fmt

    paths = sorted(run_root.glob("tether/*/segments/*" + fmt.SEGMENT_SUFFIX))
    if len(paths) != 1:
        raise RuntimeError(f"expected one segment under {run_root}, found {paths}")
    path = paths[0]
    data = path.read_bytes()
    scan = fmt.scan_frames(data)
    if scan.torn_bytes:
        raise RuntimeError(f"{path} has {scan.torn_bytes} torn bytes")
    header = scan.frames[0].records[0][1]
    ends, offset = [], len(fmt.MAGIC)
    for frame in scan.frames:
        offset += len(fmt.encode_frame(frame.first_seq, frame.records))
        ends.append(offset)
    if offset != len(data):
        raise RuntimeError(f"re-encoded frames of {path} do not add up ({offset} != {len(data)})")
    bodies: list[tuple[int, int]] = []
    start = previous = 0
    for end in ends:
        if end - start > UPLOAD_BODY_BYTES and previous > start:
            bodies.append((start, previous))
            start = previous
        previous = end
    bodies.append((start, previous))
    if any(end - begin > 16 * 1024 * 1024 for begin, end in bodies):
        raise RuntimeError("a single frame is larger than the server's 16 MiB body limit")
    return Segment(
        path=path,
        data=data,
        run_id=str(header["run_id"]),
        writer_id=path.stem.rsplit("-", 1)[1],
        bodies=bodies,
        records=sum(len(f.records) for f in scan.frames),
    )


def upload(client: Any, segment: Segment) -> float:
    """PUT the whole segment; return the seconds from the first request to the last answer."""
    url = f"/api/v1/projects/{PROJECT}/runs/{segment.run_id}/segments/{segment.writer_id}"
    headers = {"Content-Type": "application/octet-stream"}
    records = 0
    start = time.perf_counter()
    for begin, end in segment.bodies:
        response = client.put(
            url, params={"offset": begin}, content=segment.data[begin:end], headers=headers
        )
        if response.status_code != 200:
            raise RuntimeError(f"upload answered {response.status_code}: {response.text[:500]}")
        records += response.json()["records"]
    elapsed = time.perf_counter() - start
    answer = response.json()
    if answer["offset"] != len(segment.data) or records != segment.records:
        raise RuntimeError(f"upload incomplete: {answer}, {records} of {segment.records} records")
    return elapsed


def history(client: Any, run_id: str, key: str, samples: int | None) -> tuple[float, float, Any]:
    """One history request: (seconds until the body is in, seconds incl. JSON decode, json).

    Decoded with msgspec (what the server encodes with); stdlib ``json`` takes ~5x longer on
    a million points, a cost of the client's choice, not of the server.
    """
    import msgspec

    params: dict[str, Any] = {"keys": key}
    if samples is not None:
        params["samples"] = samples
    start = time.perf_counter()
    response = client.get(f"/api/v1/projects/{PROJECT}/runs/{run_id}/history", params=params)
    received = time.perf_counter() - start
    if response.status_code != 200:
        raise RuntimeError(f"history answered {response.status_code}: {response.text[:500]}")
    body = msgspec.json.decode(response.content)
    decoded = time.perf_counter() - start
    return received, decoded, body


def http_client(server: Any) -> Any:
    import httpx

    return httpx.Client(base_url=server.base_url, headers=server.headers, timeout=600)


# -- PostgreSQL ---------------------------------------------------------------------------------
def postgres_admin_url(explicit: str | None) -> tuple[str | None, str]:
    if explicit:
        return explicit, "--postgres-url"
    if os.environ.get("TETHER_BENCH_POSTGRES_URL"):
        return os.environ["TETHER_BENCH_POSTGRES_URL"], "TETHER_BENCH_POSTGRES_URL"
    if os.geteuid() != 0:
        return None, "not root, so scripts/postgres.sh cannot start PostgreSQL; pass --postgres-url"
    try:
        proc = subprocess.run(
            ["bash", str(REPO / "scripts" / "postgres.sh")],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"scripts/postgres.sh failed: {exc}"
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        return None, f"scripts/postgres.sh exited {proc.returncode}: {proc.stderr[-500:]}"
    return lines[-1].strip(), "scripts/postgres.sh"


@contextlib.contextmanager
def postgres_database(admin_url: str, name: str) -> Iterator[str]:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin_url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postgres_version(admin_url: str) -> str:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as connection:
        row = connection.execute("SHOW server_version").fetchone()
    return str(row[0]).split()[0] if row else "?"


def postgres_backends_cpu(admin_url: str, database: str) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend connected to ``database``."""
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as connection:
        rows = connection.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s", (database,)
        ).fetchall()
    return {int(row[0]): cpu_seconds(int(row[0])) for row in rows}


def cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(spent - before.get(pid, 0.0) for pid, spent in after.items())


@dataclass
class Served:
    """A running tether server, and how to read its database's CPU time (0 for SQLite)."""

    server: Any
    db_cpu: Callable[[], dict[int, float]]

    @property
    def pid(self) -> int:
        return int(self.server.process.pid)


@contextlib.contextmanager
def tether_server(backend: str, tmp: Path, admin_url: str | None, tag: str) -> Iterator[Served]:
    """A fresh tether server on ``backend`` ("sqlite" or "postgresql") with empty storage."""
    from tether.server.testing import LiveServer

    data_dir = tmp / f"server-{backend}-{tag}"
    with contextlib.ExitStack() as stack:
        url = None
        db_cpu: Callable[[], dict[int, float]] = dict
        if backend == "postgresql":
            assert admin_url is not None
            name = f"tether_bench_{os.getpid()}_{tag}"
            url = stack.enter_context(postgres_database(admin_url, name))
            db_cpu = functools.partial(postgres_backends_cpu, admin_url, name)
        server = stack.enter_context(LiveServer(data_dir, database_url=url))
        try:
            yield Served(server, db_cpu)
        except Exception as exc:  # say whether the server is still there, and why not
            raise RuntimeError(f"{type(exc).__name__}: {exc} [{server_state(server)}]") from exc
    shutil.rmtree(data_dir, ignore_errors=True)


def server_state(server: Any) -> str:
    process = server.process
    if process is None:
        return "server already stopped"
    code = process.poll()
    if code is None:
        return f"server pid {process.pid} still running"
    tail = process.stderr.read()[-1500:] if process.stderr is not None else ""
    return f"server pid {process.pid} exited with code {code}; its stderr ends: {tail!r}"


# -- tether measurements ------------------------------------------------------------------------
def bench_ingest(
    results: Results, backend: str, segment: Segment, tmp: Path, admin_url: str | None
) -> None:
    sizes = results.sizes
    points = sizes.steps * 10
    times: list[float] = []
    cpu: list[float] = []
    db_cpu: list[float] = []
    verified = ""
    for i in range(sizes.repeats):
        with (
            tether_server(backend, tmp, admin_url, f"ingest{i}") as served,
            http_client(served.server) as client,
        ):
            before, db_before = cpu_seconds(served.pid), served.db_cpu()
            times.append(upload(client, segment))
            cpu.append(cpu_seconds(served.pid) - before)
            db_cpu.append(cpu_delta(db_before, served.db_cpu()))
            if i == 0:
                verified = verify_rows(client, segment.run_id, sizes.steps)
        say(
            f"  {backend} upload {i + 1}: {times[-1]:.2f} s = {points / times[-1]:,.0f} points/s"
            f" (server CPU {cpu[-1]:.2f} s, PostgreSQL CPU {db_cpu[-1]:.2f} s)"
        )
    results.ingest[backend] = {
        "points": points,
        "bytes": len(segment.data),
        "bodies": len(segment.bodies),
        "times": times,
        "cpu": cpu,
        "db_cpu": db_cpu,
        "points_s": points / median(times),
        "points_cpu_s": points / median(cpu) if median(cpu) > 0 else float("nan"),
        "verified": verified,
    }


def verify_rows(client: Any, run_id: str, steps: int) -> str:
    """Check one key's whole history: every step once, the values logged."""
    _, _, body = history(client, run_id, "metric_3", None)
    (series,) = body["series"]
    expected_steps = list(range(steps))
    expected_values = [make_row(i)["metric_3"] for i in range(steps)]
    if series["steps"] != expected_steps or series["values"] != expected_values:
        raise RuntimeError("history of metric_3 does not match what was logged")
    return f"metric_3: {steps:,} steps and values back, exactly as logged"


def bench_queries(
    results: Results, backend: str, segment: Segment, tmp: Path, admin_url: str | None
) -> None:
    sizes = results.sizes
    with (
        tether_server(backend, tmp, admin_url, "queries") as served,
        http_client(served.server) as client,
    ):
        upload_s = upload(client, segment)
        say(f"  {backend}: {sizes.series:,}-point series uploaded in {upload_s:.2f} s")
        # Warm-up (and checks): the downsampled answer has the first and last points and at
        # most ~samples points; the whole answer has every step.
        _, _, small = history(client, segment.run_id, SERIES_KEY, sizes.samples)
        _, _, whole = history(client, segment.run_id, SERIES_KEY, None)
        small_steps = small["series"][0]["steps"]
        whole_steps = whole["series"][0]["steps"]
        if whole_steps != list(range(sizes.series)):
            raise RuntimeError(f"{backend}: whole history has {len(whole_steps)} points")
        if not small["sampled"] or small_steps[0] != 0 or small_steps[-1] != sizes.series - 1:
            raise RuntimeError(f"{backend}: downsampled history is not what was asked for")
        measured: dict[str, dict[str, list[float]]] = {
            "downsampled": {"received": [], "decoded": []},
            "full": {"received": [], "decoded": []},
        }
        sizes_bytes = {}
        server_cpu = {"downsampled": 0.0, "full": 0.0}
        db_cpu = {"downsampled": 0.0, "full": 0.0}
        for _ in range(sizes.queries):  # interleaved, so that noise hits both alike
            for name, samples in (("downsampled", sizes.samples), ("full", None)):
                before, db_before = cpu_seconds(served.pid), served.db_cpu()
                received, decoded, _ = history(client, segment.run_id, SERIES_KEY, samples)
                server_cpu[name] += cpu_seconds(served.pid) - before
                db_cpu[name] += cpu_delta(db_before, served.db_cpu())
                measured[name]["received"].append(received)
                measured[name]["decoded"].append(decoded)
        for name, samples in (("downsampled", sizes.samples), ("full", None)):
            params: dict[str, Any] = {"keys": SERIES_KEY}
            if samples is not None:
                params["samples"] = samples
            url = f"/api/v1/projects/{PROJECT}/runs/{segment.run_id}/history"
            sizes_bytes[name] = len(client.get(url, params=params).content)
    results.queries[backend] = {
        "upload_s": upload_s,
        "points": {"downsampled": len(small_steps), "full": len(whole_steps)},
        "bytes": sizes_bytes,
        "server_cpu": {name: total / sizes.queries for name, total in server_cpu.items()},
        "db_cpu": {name: total / sizes.queries for name, total in db_cpu.items()},
        **measured,
    }
    for name in ("downsampled", "full"):
        say(
            f"  {backend} {name}: median {median(measured[name]['received']) * 1e3:.1f} ms "
            f"(+ JSON decode {median(measured[name]['decoded']) * 1e3:.1f} ms; server CPU "
            f"{server_cpu[name] / sizes.queries * 1e3:.0f} ms a request, PostgreSQL CPU "
            f"{db_cpu[name] / sizes.queries * 1e3:.0f} ms)"
        )


def bench_online(results: Results, tmp: Path) -> None:
    """Client cost of run.log() offline vs online (online needs a server to stream to)."""
    from tether.server.testing import LiveServer

    sizes = results.sizes
    data_dir = tmp / "server-online"
    with LiveServer(data_dir) as server:
        env = {"TETHER_BASE_URL": server.base_url, "TETHER_API_KEY": server.api_key}
        probe_dir = tmp / "online-probe"
        probe_dir.mkdir()
        probe = run_child(
            "log-cost", {"dir": str(probe_dir), "mode": "online", "calls": 1000}, tmp, env
        )
        if not probe["available"]:
            results.online = {"available": False, "error": probe["error"]}
            say(f"  online mode not available: {probe['error']}")
            return
        per_mode: dict[str, list[dict[str, Any]]] = {"offline": [], "online": []}
        server_start_cpu = cpu_seconds(server.process.pid)
        for i in range(sizes.log_repeats):
            for mode in ("offline", "online"):  # alternated, so that noise hits both alike
                run_dir = tmp / f"log-{mode}-{i}"
                run_dir.mkdir()
                spec = {"dir": str(run_dir), "mode": mode, "calls": sizes.log_calls}
                per_mode[mode].append(run_child("log-cost", spec, tmp, env))
                say(f"  {mode} {i + 1}: {per_mode[mode][-1]['log_us']:.2f} us/log")
        # The online runs must be on the server, whole.
        with http_client(server) as client:
            run_id = per_mode["online"][-1]["run_id"]
            _, _, body = history(client, run_id, "metric_0", None)
            got = len(body["series"][0]["steps"]) if body["series"] else 0
        server_cpu_s = (cpu_seconds(server.process.pid) - server_start_cpu) / sizes.log_repeats
    results.online = {
        "available": True,
        "calls": sizes.log_calls,
        "offline_us": [r["log_us"] for r in per_mode["offline"]],
        "online_us": [r["log_us"] for r in per_mode["online"]],
        "offline_thread_cpu_us": [r["thread_cpu_us"] for r in per_mode["offline"]],
        "online_thread_cpu_us": [r["thread_cpu_us"] for r in per_mode["online"]],
        "offline_process_cpu_us": [r["process_cpu_us"] for r in per_mode["offline"]],
        "online_process_cpu_us": [r["process_cpu_us"] for r in per_mode["online"]],
        "offline_finish_s": [r["finish_s"] for r in per_mode["offline"]],
        "online_finish_s": [r["finish_s"] for r in per_mode["online"]],
        "server_points": got,
        "expected_points": sizes.log_calls + 1000,
        "server_cpu_s": server_cpu_s,
    }


# -- MLflow -------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def mlflow_server(tmp: Path) -> Iterator[tuple[str, Path, int]]:
    """``mlflow server`` on SQLite and 127.0.0.1, in its own process group, stopped by pid."""
    import httpx

    db = tmp / "mlflow.db"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        # The GenAI job runner (7 extra worker processes) is not needed to log metrics and
        # would compete for this machine's cores.
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "true",
    }
    command = [
        str(Path(sys.executable).with_name("mlflow")),
        "server",
        "--backend-store-uri", f"sqlite:///{db}",
        "--host", "127.0.0.1",
        "--port", str(port),
        "--workers", "1",
    ]  # fmt: skip
    log = open(tmp / "mlflow-server.log", "wb")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(
        command, cwd=tmp, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    "mlflow server exited:\n" + (tmp / "mlflow-server.log").read_text()[-2000:]
                )
            try:
                if httpx.get(url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("mlflow server did not answer within 180 s")
            time.sleep(0.5)
        yield url, db, proc.pid
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)  # its group: the server and its uvicorn child
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        log.close()


def bench_mlflow(results: Results, tmp: Path, log_all: bool) -> None:
    import httpx

    sizes = results.sizes
    out = results.mlflow
    start = time.perf_counter()
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    out["import_s"] = time.perf_counter() - start
    start = time.perf_counter()
    with mlflow_server(tmp) as (url, db, pid):
        out["start_s"] = time.perf_counter() - start
        say(f"  mlflow server up in {out['start_s']:.1f} s")
        client = MlflowClient(tracking_uri=url)
        run_id = client.create_run(client.create_experiment("bench")).info.run_id
        t0_ms = int(time.time() * 1000)
        logged = sizes.series if log_all else min(sizes.mlflow_logged, sizes.series)
        calls = []
        cpu_before = cpu_seconds(pid)
        start = time.perf_counter()
        for first in range(0, logged, MLFLOW_BATCH):
            metrics = [
                Metric(SERIES_KEY, series_value(i), t0_ms + i, i)
                for i in range(first, min(first + MLFLOW_BATCH, logged))
            ]
            begin = time.perf_counter()
            client.log_batch(run_id, metrics=metrics)
            calls.append(time.perf_counter() - begin)
        out["log_s"] = time.perf_counter() - start
        out["log_cpu_s"] = cpu_seconds(pid) - cpu_before
        out["logged"] = logged
        out["log_calls"] = calls
        out["points_s"] = logged / out["log_s"]
        say(f"  mlflow log_batch: {logged:,} points in {out['log_s']:.1f} s")
        out["bulk_loaded"] = sizes.series - logged
        if out["bulk_loaded"]:
            start = time.perf_counter()
            bulk_load_mlflow(db, run_id, t0_ms, logged, sizes.series)
            out["bulk_load_s"] = time.perf_counter() - start
            say(f"  mlflow: {out['bulk_loaded']:,} more points written into its SQLite directly")
        # The UI's sampled endpoint (server-side sampling in SQL), then the client's full read.
        bulk_url = url + "/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval"
        params = {"run_ids": run_id, "metric_key": SERIES_KEY, "max_results": sizes.samples}
        bulk: dict[str, list[float]] = {"received": [], "decoded": []}
        bulk_cpu = 0.0
        with httpx.Client(timeout=600) as http:
            for i in range(sizes.mlflow_bulk_repeats + 1):
                cpu_before = cpu_seconds(pid)
                begin = time.perf_counter()
                response = http.get(bulk_url, params=params)
                received = time.perf_counter() - begin
                response.raise_for_status()
                points = response.json()["metrics"]
                if i:  # the first request is the warm-up
                    bulk["received"].append(received)
                    bulk["decoded"].append(time.perf_counter() - begin)
                    bulk_cpu += cpu_seconds(pid) - cpu_before
                say(f"  mlflow bulk-interval: {received:.2f} s, {len(points)} points")
            out["bulk_points"] = len(points)
            out["bulk_bytes"] = len(response.content)
        out["bulk"] = bulk
        out["bulk_server_cpu"] = bulk_cpu / max(1, sizes.mlflow_bulk_repeats)
        full = []
        full_cpu = 0.0
        for _ in range(sizes.mlflow_full_repeats):
            cpu_before = cpu_seconds(pid)
            begin = time.perf_counter()
            metrics = client.get_metric_history(run_id, SERIES_KEY)
            full.append(time.perf_counter() - begin)
            full_cpu += cpu_seconds(pid) - cpu_before
            say(f"  mlflow get_metric_history: {full[-1]:.1f} s, {len(metrics):,} points")
            if len(metrics) != sizes.series:
                raise RuntimeError(f"mlflow returned {len(metrics)} of {sizes.series} points")
        out["full"] = full
        out["full_server_cpu"] = full_cpu / max(1, sizes.mlflow_full_repeats)


def bulk_load_mlflow(db: Path, run_id: str, t0_ms: int, first: int, end: int) -> None:
    """Rows ``first..end`` of the series, written as MLflow's own store writes them.

    Same table, columns and values that ``log_batch`` writes (``metrics`` and the run's
    ``latest_metrics`` row); only the slow path (1,000 points a request) is skipped.
    """
    connection = sqlite3.connect(db, timeout=120)
    try:
        with connection:
            connection.executemany(
                "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) "
                "VALUES (?, ?, ?, ?, ?, 0)",
                ((SERIES_KEY, series_value(i), t0_ms + i, run_id, i) for i in range(first, end)),
            )
            connection.execute(
                "UPDATE latest_metrics SET value = ?, timestamp = ?, step = ? "
                "WHERE run_uuid = ? AND key = ?",
                (series_value(end - 1), t0_ms + end - 1, end - 1, run_id, SERIES_KEY),
            )
    finally:
        connection.close()


# -- report -------------------------------------------------------------------------------------
def ms(values: list[float]) -> str:
    return fmt_num(median(values) * 1e3) if values else "n/a"


def spread(values: list[float], scale: float = 1e3) -> str:
    if not values:
        return "n/a"
    return f"{fmt_num(min(values) * scale)}-{fmt_num(max(values) * scale)}"


def ratio(value: float | None, base: float | None) -> str:
    if not value or not base or math.isnan(value) or math.isnan(base):
        return "n/a"
    return f"x{fmt_num(value / base)}"


def relative_spread(values: list[float]) -> float:
    """(max - min) / median: how far apart the repeats of one measurement are."""
    return (max(values) - min(values)) / median(values) if values else float("nan")


def cpu_ms(server: float, database: float, backend: str) -> str:
    if backend == "sqlite":
        return fmt_num(server * 1e3)
    return f"{fmt_num(server * 1e3)} + {fmt_num(database * 1e3)} PostgreSQL"


def duration(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def verdict(ok: bool | None, detail: str) -> str:
    if ok is None:
        return f"not measured ({detail})"
    return f"**met** ({detail})" if ok else f"**MISSED** ({detail})"


def render(results: Results, argv: list[str]) -> str:
    lines = ["## Server: ingestion and history queries (`server_bench.py`)", ""]
    lines.append(machine_lines("server_bench.py", argv))
    pg = f"PostgreSQL {results.postgres_version}" if results.postgres_version else "no PostgreSQL"
    loads = [load for _, load in results.loads]
    load_text = (
        f"1-minute load average {min(loads):.1f}-{max(loads):.1f} on these "
        f"{len(os.sched_getaffinity(0))} cores while it ran (other jobs shared the machine)"
        if loads
        else "load not recorded"
    )
    lines.append(
        f"SQLite {sqlite3.sqlite_version}, {pg}; everything on 127.0.0.1, one client, one "
        f"request at a time; {load_text}. Whole run: {results.wall_s / 60:.1f} min. "
        "Wall times carry the load; the server's own CPU time (from /proc, tether's server "
        "process or MLflow's process tree; PostgreSQL's backends for this database) much "
        "less so."
    )
    first, last = results.source
    if first.rsplit(" ", 1)[-1] == last.rsplit(" ", 1)[-1]:  # the same source hash
        lines.append(f"Measured tether: {first}.")
    else:
        lines.append(
            f"**tether's source changed while this ran** (from {first} to {last}; others were "
            "editing it): servers started after the change ran the new code."
        )
    lines.append("")
    if "ingest" in results.parts or results.mlflow.get("points_s"):
        lines += render_ingest(results)
    if "queries" in results.parts or results.mlflow.get("bulk"):
        lines += render_queries(results)
    if "online" in results.parts:
        lines += render_online(results)
    lines += render_targets(results)
    if results.notes:
        lines += ["", "### Notes", ""]
        lines += [f"- {note}" for note in results.notes]
    return "\n".join(lines)


def render_ingest(results: Results) -> list[str]:
    sizes = results.sizes
    lines = ["### Ingestion", ""]
    rows = []
    sqlite_rate = results.ingest.get("sqlite", {}).get("points_s")
    for backend, label in (("sqlite", "tether, SQLite"), ("postgresql", "tether, PostgreSQL")):
        entry = results.ingest.get(backend)
        if entry is None:
            continue
        rows.append(
            [
                label,
                f"upload of a {entry['bytes'] / 2**20:.1f} MiB segment in "
                f"{entry['bodies']} PUTs of <= 4 MiB",
                f"{entry['points']:,}",
                " / ".join(f"{t:.2f}" for t in entry["times"]),
                f"**{fmt_num(entry['points_s'])}**",
                " / ".join(f"{t:.2f}" for t in entry["cpu"]),
                "(in the server)"
                if backend == "sqlite"
                else " / ".join(f"{t:.2f}" for t in entry["db_cpu"]),
                fmt_num(entry["points"] / (median(entry["cpu"]) + median(entry["db_cpu"] or [0]))),
                ratio(entry["points_s"], sqlite_rate),
            ]
        )
    m = results.mlflow
    if m.get("points_s"):
        rows.append(
            [
                "MLflow, SQLite",
                f"`log_batch`, {MLFLOW_BATCH:,} metrics a call ({len(m['log_calls'])} calls, "
                f"median {ms(m['log_calls'])} ms each)",
                f"{m['logged']:,}",
                f"{m['log_s']:.1f}",
                f"**{fmt_num(m['points_s'])}**",
                f"{m['log_cpu_s']:.2f}",
                "(in the server)",
                fmt_num(m["logged"] / m["log_cpu_s"]) if m["log_cpu_s"] > 0 else "n/a",
                ratio(m["points_s"], sqlite_rate),
            ]
        )
    header = ["server", "how", "points", "wall s (each run)", "points/s (median)"]
    header += ["server CPU s", "PostgreSQL CPU s", "points per CPU-s (server + db)"]
    header += ["vs tether SQLite"]
    lines += [table(header, rows), ""]
    for backend in ("sqlite", "postgresql"):
        entry = results.ingest.get(backend)
        if entry and entry["verified"]:
            lines.append(f"- Checked on {backend} (first upload): {entry['verified']}.")
    lines.append(
        f"- tether: the segment of one offline run ({sizes.steps:,} steps x 10 float keys), "
        f"uploaded {sizes.repeats} times, each time to a fresh server (fresh data dir, fresh "
        "PostgreSQL database); timed from the first PUT to the last answer, server start "
        "excluded. Every frame's CRC is checked and every record stored before the answer."
    )
    if m.get("points_s"):
        lines.append(
            f"- MLflow: {m['logged']:,} points of one key through `MlflowClient.log_batch` "
            f"into one run, timed once; calls took {spread(m['log_calls'])} ms each (min-max)."
        )
    lines.append("")
    return lines


def render_queries(results: Results) -> list[str]:
    sizes = results.sizes
    lines = [f"### History of one {sizes.series:,}-point series", ""]
    rows = []
    sqlite_queries = results.queries.get("sqlite")
    base = {
        name: median(sqlite_queries[name]["decoded"]) if sqlite_queries else None
        for name in ("downsampled", "full")
    }
    for backend, label in (("sqlite", "tether, SQLite"), ("postgresql", "tether, PostgreSQL")):
        entry = results.queries.get(backend)
        if entry is None:
            continue
        for name, how in (
            ("downsampled", f"`GET .../history?keys={SERIES_KEY}&samples={sizes.samples}`"),
            ("full", f"`GET .../history?keys={SERIES_KEY}`"),
        ):
            rows.append(
                [
                    label,
                    how,
                    f"{entry['points'][name]:,}",
                    f"{entry['bytes'][name] / 1e6:.2f}",
                    len(entry[name]["received"]),
                    ms(entry[name]["received"]),
                    f"**{ms(entry[name]['decoded'])}**",
                    spread(entry[name]["decoded"]),
                    cpu_ms(entry["server_cpu"][name], entry["db_cpu"][name], backend),
                    ratio(median(entry[name]["decoded"]), base[name]),
                ]
            )
    m = results.mlflow
    if m.get("bulk"):
        rows.append(
            [
                "MLflow, SQLite",
                "UI endpoint `GET /ajax-api/2.0/mlflow/metrics/get-history-bulk-interval"
                f"?max_results={sizes.samples}`",
                f"{m['bulk_points']:,}",
                f"{m['bulk_bytes'] / 1e6:.2f}",
                len(m["bulk"]["received"]),
                ms(m["bulk"]["received"]),
                f"**{ms(m['bulk']['decoded'])}**",
                spread(m["bulk"]["decoded"]),
                fmt_num(m["bulk_server_cpu"] * 1e3),
                ratio(median(m["bulk"]["decoded"]), base["downsampled"]),
            ]
        )
    if m.get("full"):
        rows.append(
            [
                "MLflow, SQLite",
                "`MlflowClient().get_metric_history(run_id, key)` (pages of 25,000)",
                f"{sizes.series:,}",
                "n/a",
                len(m["full"]),
                "n/a",
                f"**{ms(m['full'])}**",
                spread(m["full"]),
                fmt_num(m["full_server_cpu"] * 1e3),
                ratio(median(m["full"]), base["full"]),
            ]
        )
    header = ["server", "query", "points back", "MB", "n", "ms to body"]
    header += ["ms incl. JSON decode", "range (ms)", "server CPU ms a request"]
    header += ["vs tether SQLite"]
    lines += [table(header, rows), ""]
    lines.append(
        f"- tether: one key logged {sizes.series:,} times in one offline run, uploaded to a "
        f"fresh server; one warm-up request each, then {sizes.queries} requests of each kind, "
        'interleaved. "ms to body" is until the whole response is in (httpx, keep-alive); '
        "the bold median adds decoding the JSON (msgspec). The downsampled answer keeps each "
        "bucket's minimum and maximum (and the first and last point); checked: every step comes "
        "back whole, and the sampled answer spans the first to the last step."
    )
    for backend in ("sqlite", "postgresql"):
        entry = results.queries.get(backend)
        if entry is not None:
            lines.append(
                f"- Uploading the {sizes.series:,}-point series to {backend} took "
                f"{entry['upload_s']:.2f} s ({fmt_num(sizes.series / entry['upload_s'])} points/s "
                "for a single key)."
            )
    if m:
        lines += mlflow_notes(results)
    lines.append("")
    return lines


def render_online(results: Results) -> list[str]:
    lines = ["### Client cost of `run.log()`: online vs offline", ""]
    online = results.online
    if not online:
        lines.append("Not measured (failed; see the notes).")
    elif not online["available"]:
        lines.append(
            "**Not measured: online mode not available in this build** "
            f'(`tether.init(mode="online")` raised `{online["error"]}`).'
        )
    else:
        rows = [
            [
                mode,
                " / ".join(f"{v:.2f}" for v in online[f"{mode}_us"]),
                f"**{median(online[f'{mode}_us']):.2f}**",
                f"{median(online[f'{mode}_thread_cpu_us']):.2f}",
                f"{median(online[f'{mode}_process_cpu_us']):.2f}",
                f"{median(online[f'{mode}_finish_s']):.2f}",
            ]
            for mode in ("offline", "online")
        ]
        header = ["mode", "wall us per log() (each run)", "median", "main-thread CPU us"]
        header += ["whole-process CPU us", "finish() s"]
        lines += [table(header, rows), ""]
        off, on = median(online["offline_us"]), median(online["online_us"])
        lines.append(
            f"- {online['calls']:,} `run.log()` calls of 10 floats (a pool of 1,000 dicts) per "
            f"child process after 1,000 warm-up calls, {len(online['online_us'])} children per "
            "mode, alternated; online streams to a local tether server (SQLite) on the same "
            f"machine, which used {online['server_cpu_s']:.2f} s of CPU per online run "
            f"(CPU the client could not have). Online/offline wall = {ratio(on, off)}; "
            "CPU columns are per log() call over the same loop (whole-process includes the "
            f"writer and upload threads). The last online run had {online['server_points']:,} "
            f"of {online['expected_points']:,} points of `metric_0` on the server after finish()."
        )
    lines.append("")
    return lines


def render_targets(results: Results) -> list[str]:
    lines = ["### Targets", ""]
    ingest = results.ingest.get("sqlite")
    if ingest:
        rate = ingest["points_s"]
        lines.append(
            f"- Ingestion into SQLite >= {fmt_num(TARGET_INGEST_POINTS_S)} points/s: "
            + verdict(
                rate >= TARGET_INGEST_POINTS_S,
                f"{fmt_num(rate)} points/s wall, x{rate / TARGET_INGEST_POINTS_S:.2f} the "
                f"target; {fmt_num(ingest['points_cpu_s'])} points per server CPU-second",
            )
        )
    for backend in ("sqlite", "postgresql"):
        entry = results.queries.get(backend)
        if entry is None:
            continue
        value = median(entry["downsampled"]["decoded"]) * 1e3
        lines.append(
            f"- Downsampled query under {TARGET_DOWNSAMPLED_MS:.0f} ms ({backend}): "
            + verdict(
                value < TARGET_DOWNSAMPLED_MS,
                f"{value:.0f} ms wall, x{value / TARGET_DOWNSAMPLED_MS:.2f} the budget; server "
                "CPU "
                + cpu_ms(
                    entry["server_cpu"]["downsampled"], entry["db_cpu"]["downsampled"], backend
                )
                + " ms a request",
            )
        )
    online = results.online
    if "online" not in results.parts:
        pass
    elif online.get("available"):
        quotient = median(online["online_us"]) / median(online["offline_us"])
        cpu_quotient = median(online["online_thread_cpu_us"]) / median(
            online["offline_thread_cpu_us"]
        )
        noise = max(relative_spread(online["offline_us"]), relative_spread(online["online_us"]))
        detail = f"online/offline = x{quotient:.2f} wall, x{cpu_quotient:.2f} main-thread CPU"
        text = verdict(quotient <= TARGET_ONLINE_RATIO, detail)
        if noise > TARGET_ONLINE_RATIO - 1:
            text += (
                f"; inconclusive here: the runs of one mode differ by up to {noise:.0%} of their "
                f"median, more than the {TARGET_ONLINE_RATIO - 1:.0%} margin"
            )
        lines.append(f"- Online log() within {TARGET_ONLINE_RATIO - 1:.0%} of offline: {text}")
    elif online:
        lines.append(
            "- Online log() within 20% of offline: "
            + verdict(None, f"online mode not available in this build: {online['error']}")
        )
    else:
        lines.append("- Online log() within 20% of offline: not measured (failed; see the notes)")
    return lines


def mlflow_notes(results: Results) -> list[str]:
    m, sizes = results.mlflow, results.sizes
    notes = [
        "- MLflow: `mlflow server --backend-store-uri sqlite:///... --host 127.0.0.1 --workers 1` "
        "(one worker like the tether server; `MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false` so its "
        "GenAI job runner's 7 extra processes do not compete for the cores), started by the "
        f"benchmark (ready in {m.get('start_s', float('nan')):.0f} s) and stopped by pid.",
    ]
    if m.get("bulk_loaded"):
        full_estimate = sizes.series / m["points_s"]
        notes.append(
            f"- MLflow series: the first {m['logged']:,} points went through `log_batch` "
            f"({m['log_s']:.0f} s); the other {m['bulk_loaded']:,} were written straight into "
            "its SQLite `metrics` table (same rows `log_batch` writes; "
            f"{m.get('bulk_load_s', 0):.0f} s), because logging all {sizes.series:,} through "
            f"`log_batch` would take ~{duration(full_estimate)} at the measured rate, past "
            "this benchmark's time budget. `--mlflow-log-all` logs every point through "
            "`log_batch` instead."
        )
    elif m.get("log_s"):
        notes.append(
            f"- MLflow series: all {m['logged']:,} points logged through `log_batch` in "
            f"{m['log_s']:.0f} s."
        )
    if m.get("full"):
        notes.append(
            "- MLflow's client API has no downsampling: `get_metric_history` returns every "
            f"point, in pages of 25,000 ({math.ceil(sizes.series / 25_000)} requests here). "
            f"Timed {len(m['full'])} time(s) only: one call takes {duration(median(m['full']))}, "
            f"so a median of {sizes.queries} would not fit the time budget."
        )
    if m.get("bulk"):
        notes.append(
            "- MLflow does sample on the server in the endpoint its UI uses, "
            "`get-history-bulk-interval` (`max_results` <= 2,500): evenly spaced rows picked in "
            "SQL with window functions, keeping the first and last point but not each bucket's "
            "minimum and maximum (spikes between picks are lost). It is not in `MlflowClient`; "
            f"timed with httpx, one warm-up then {len(m['bulk']['received'])} requests."
        )
    return notes


# -- main ---------------------------------------------------------------------------------------
def step(results: Results, what: str, action: Callable[[], None], *, tries: int = 1) -> None:
    """Run one part; a failure is reported in the notes instead of ending the benchmark."""
    for attempt in range(1, tries + 1):
        say(what if attempt == 1 else f"{what}: try {attempt} of {tries}")
        results.mark(what)
        try:
            action()
            return
        except Exception as exc:
            outcome = "failed" if attempt == tries else f"try {attempt} failed (tried again)"
            results.notes.append(f"{what}: {outcome}: {type(exc).__name__}: {str(exc)[:900]}")
            say(f"  FAILED: {type(exc).__name__}: {exc}")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child_main(sys.argv[2], json.loads(sys.argv[3]), sys.argv[4])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke test")
    parser.add_argument(
        "--parts",
        default=",".join(PARTS),
        help=f"comma-separated subset of {','.join(PARTS)} (default: all)",
    )
    parser.add_argument(
        "--write", action="store_true", help="write RESULTS.md even with --quick or --parts"
    )
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--postgres-url", help="PostgreSQL admin URL (default: see above)")
    parser.add_argument(
        "--mlflow-log-all",
        action="store_true",
        help="log every point of the MLflow series through log_batch (adds ~6 min)",
    )
    args = parser.parse_args()
    parts = {part.strip() for part in args.parts.split(",") if part.strip()}
    if parts - set(PARTS):
        parser.error(f"--parts: unknown {', '.join(sorted(parts - set(PARTS)))}")
    results = Results(sizes=Sizes.quick() if args.quick else Sizes(), parts=parts)
    started = time.perf_counter()
    first_source = source_fingerprint()
    with tempfile.TemporaryDirectory(prefix="tether-server-bench-") as name:
        run_parts(results, parts, args, Path(name))
    results.mark("end")
    results.source = (first_source, source_fingerprint())
    results.wall_s = time.perf_counter() - started
    body = render(results, sys.argv[1:])
    print()
    print(body)
    if (args.quick or parts != set(PARTS)) and not args.write:
        return
    update_section(SECTION, body)  # re-reads RESULTS.md right before writing
    say(f"wrote the {SECTION} section of {SCRIPT.parent / 'RESULTS.md'}")


def run_parts(results: Results, parts: set[str], args: argparse.Namespace, tmp: Path) -> None:
    sizes = results.sizes
    backends = ["sqlite"]
    admin_url = None
    if not args.no_postgres and parts & {"ingest", "queries"}:
        admin_url, source = postgres_admin_url(args.postgres_url)
        if admin_url is None:
            results.notes.append(f"PostgreSQL not measured: {source}.")
        else:
            try:
                results.postgres_version = postgres_version(admin_url)
                backends.append("postgresql")
            except Exception as exc:
                results.notes.append(f"PostgreSQL not measured ({source}): {exc}")
    say(f"backends: {', '.join(backends)}")
    if "ingest" in parts:
        say(f"making the local run for ingestion ({sizes.steps:,} steps x 10 keys)")
        rows_dir = tmp / "run-rows"
        rows_dir.mkdir()
        run_child("make-run", {"dir": str(rows_dir), "kind": "rows", "steps": sizes.steps}, tmp)
        rows = load_segment(rows_dir)
        for backend in backends:
            step(
                results,
                f"ingestion into {backend}",
                lambda b=backend: bench_ingest(results, b, rows, tmp, admin_url),
                tries=2,
            )
    if "queries" in parts:
        say(f"making the local run for queries ({sizes.series:,} x 1 key)")
        series_dir = tmp / "run-series"
        series_dir.mkdir()
        spec = {"dir": str(series_dir), "kind": "series", "steps": sizes.series}
        run_child("make-run", spec, tmp)
        series = load_segment(series_dir)
        for backend in backends:
            step(
                results,
                f"history queries on {backend}",
                lambda b=backend: bench_queries(results, b, series, tmp, admin_url),
                tries=2,
            )
    if "online" in parts:
        step(results, "online vs offline log()", lambda: bench_online(results, tmp))
    if "mlflow" in parts:
        try:
            import mlflow  # noqa: F401
        except ImportError:
            results.notes.append("MLflow not measured: not installed (`pip install mlflow`).")
        else:
            step(results, "MLflow", lambda: bench_mlflow(results, tmp, args.mlflow_log_all))


if __name__ == "__main__":
    main()
