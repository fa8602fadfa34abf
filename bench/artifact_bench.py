"""Artifacts: a 1 GiB checkpoint up and down, the client's peak memory, and deduplication over
10 versions, for tether (local blob store and SeaweedFS S3), MLflow and wandb, in one run.

    python bench/artifact_bench.py            # rewrites RESULTS.md's artifact_bench section
    python bench/artifact_bench.py --quick    # 256 MiB, 1 round, prints the section only
    python bench/artifact_bench.py --mlflow-python /tmp/mlflow-venv/bin/python

- **tether**: ``run.log_artifact`` in an offline run (the file is read once, hashed and stored
  as 16 MiB chunk blobs in the run folder), then ``tether sync`` to ``tether server`` on
  127.0.0.1; download with ``tether.Api().artifact(...).download()`` (every file's hash
  checked). Once with the server's local blob store (the bytes go through the server), once
  with SeaweedFS (``scripts/seaweedfs.sh``: the bytes go straight to the store through
  presigned URLs).
- **MLflow**: ``mlflow server`` on 127.0.0.1 (``--serve-artifacts``: proxied uploads, as
  tether's local store); ``mlflow.log_artifact`` and ``mlflow.artifacts.download_artifacts``.
  MLflow runs under its own interpreter (``--mlflow-python``, a virtual environment of its
  own; skipped and said when absent).
- **wandb**: there is no wandb server here: its *offline* ``run.log_artifact`` is measured
  (the file is hashed and staged into wandb's cache; nothing is uploaded), and said so.

Each client is a fresh child process; "peak RSS" is its ``VmHWM``. Dedup: 10 versions of a
folder with a 96 MiB backbone that never changes and a 4 MiB head that does; the ratio is the
logical bytes of the 10 versions over the bytes the tracker stored (tether: the server's blob
store; MLflow: its artifact folder; wandb: its offline cache and run folder).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _common import (
    dir_bytes,
    machine_lines,
    max_rss_mib,
    median,
    run_child,
    scratch,
    table,
    update_section,
    write_result,
)

REPO = Path(__file__).resolve().parent.parent
MIB = 1024 * 1024
SCRIPT = Path(__file__).resolve()
WANDB = "wandb (offline, no upload)"


# -- children --------------------------------------------------------------------------------
def _child(spec: dict[str, Any], result_path: str) -> None:
    kind = spec["kind"]
    start = time.perf_counter()
    result: dict[str, Any] = {}
    if kind == "tether-up":
        result = _tether_up(spec)
    elif kind == "tether-down":
        result = _tether_down(spec)
    elif kind == "mlflow-up":
        result = _mlflow_up(spec)
    elif kind == "mlflow-down":
        result = _mlflow_down(spec)
    elif kind == "wandb-up":
        result = _wandb_up(spec)
    result.setdefault("seconds", time.perf_counter() - start)
    result["rss_mib"] = max_rss_mib()
    write_result(result_path, result)


def _tether_up(spec: dict[str, Any]) -> dict[str, Any]:
    sys.path.insert(0, str(REPO / "src"))
    import tether
    from tether.sync.offline import sync_paths

    start = time.perf_counter()
    with tether.init(
        project=spec["project"], dir=spec["dir"], console="off", mode="offline"
    ) as run:
        for path in spec["paths"]:
            run.log_artifact(path, name=spec["name"])
    logged = time.perf_counter() - start
    retries = 0
    while True:  # a store that refuses for a moment: sync again, as a user would (resumes)
        report = sync_paths(
            [run.dir], base_url=spec["base_url"], api_key=spec["api_key"], progress=False
        )
        if report.ok or retries == 3:
            break
        retries += 1
    assert report.ok, report
    return {"log_s": logged, "seconds": time.perf_counter() - start, "retries": retries}


def _tether_down(spec: dict[str, Any]) -> dict[str, Any]:
    sys.path.insert(0, str(REPO / "src"))
    import tether

    api = tether.Api(spec["base_url"], spec["api_key"])
    target = api.artifact(f"{spec['project']}/{spec['name']}:latest").download(spec["target"])
    return {"bytes": dir_bytes(target)}


def _mlflow_up(spec: dict[str, Any]) -> dict[str, Any]:
    import mlflow

    mlflow.set_tracking_uri(spec["url"])
    mlflow.set_experiment(spec["project"])
    run_ids = []
    with mlflow.start_run() as run:
        for number, path in enumerate(spec["paths"]):
            if Path(path).is_dir():
                mlflow.log_artifacts(path, artifact_path=f"v{number}")
            else:
                mlflow.log_artifact(path, artifact_path=f"v{number}")
        run_ids.append(run.info.run_id)
    return {"run_id": run_ids[0]}


def _mlflow_down(spec: dict[str, Any]) -> dict[str, Any]:
    import mlflow

    mlflow.set_tracking_uri(spec["url"])
    target = mlflow.artifacts.download_artifacts(
        run_id=spec["run_id"], artifact_path="v0", dst_path=spec["target"]
    )
    return {"bytes": dir_bytes(Path(target))}


def _wandb_up(spec: dict[str, Any]) -> dict[str, Any]:
    import wandb

    run = wandb.init(project=spec["project"], mode="offline")
    for path in spec["paths"]:
        artifact = wandb.Artifact(spec["name"], type="model")
        if Path(path).is_dir():
            artifact.add_dir(path)
        else:
            artifact.add_file(path)
        run.log_artifact(artifact)
    run.finish()
    return {}


# -- the driver ------------------------------------------------------------------------------
def _checkpoint(path: Path, size: int) -> Path:
    with open(path, "wb") as handle:
        for _ in range(size // (16 * MIB)):
            handle.write(os.urandom(16 * MIB))
    return path


def _versions(root: Path, count: int) -> list[str]:
    """``count`` folders: the same 96 MiB backbone, a new 4 MiB head each."""
    backbone = os.urandom(96 * MIB)
    folders = []
    for number in range(count):
        folder = root / f"v{number}"
        folder.mkdir(parents=True)
        (folder / "backbone.bin").write_bytes(backbone)
        (folder / "head.bin").write_bytes(os.urandom(4 * MIB))
        folders.append(str(folder))
    return folders


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class MlflowServer:
    def __init__(self, python: str, root: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        mlflow = str(Path(python).parent / "mlflow")
        self.artifacts = root / "mlartifacts"
        root.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [mlflow, "server", "--host", "127.0.0.1", "--port", str(self.port),
             "--backend-store-uri", f"sqlite:///{root}/mlflow.db",
             "--artifacts-destination", str(self.artifacts), "--workers", "1"],
            cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        import httpx

        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("mlflow server did not start")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)


def _seaweedfs(state: Path, *args: str) -> str:
    """``scripts/seaweedfs.sh`` for an instance of the benchmark's own (in ``state``, with
    volumes big enough for 1 GiB files; the tests' instance holds 512 MB)."""
    env = {**os.environ, "TETHER_SEAWEEDFS_DIR": str(state), "TETHER_SEAWEEDFS_VOLUME_MB": "4096"}
    return subprocess.run(
        ["bash", str(REPO / "scripts" / "seaweedfs.sh"), *args],
        capture_output=True, text=True, timeout=120, check=True, env=env,
    ).stdout.strip()  # fmt: skip


def _s3_environ(state: Path) -> dict[str, str] | None:
    from urllib.parse import urlsplit

    try:
        url = _seaweedfs(state)
    except (subprocess.SubprocessError, OSError):
        return None
    parts = urlsplit(url)
    return {
        "AWS_ENDPOINT_URL": f"http://{parts.hostname}:{parts.port}",
        "AWS_ACCESS_KEY_ID": parts.username or "",
        "AWS_SECRET_ACCESS_KEY": parts.password or "",
        "AWS_REGION": "us-east-1",
        "TETHER_SERVER_BLOB_URL": f"s3://{parts.path.strip('/')}/bench-{os.getpid()}",
    }


def _tether_server(data_dir: Path, env: dict[str, str] | None) -> Any:
    sys.path.insert(0, str(REPO / "src"))
    from tether.server.testing import LiveServer

    saved = dict(os.environ)
    os.environ.update(env or {})
    try:
        return LiveServer(data_dir).start()
    finally:
        os.environ.clear()
        os.environ.update(saved)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(json.loads(sys.argv[2]), sys.argv[3])
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="256 MiB, 1 round")
    parser.add_argument("--write", action="store_true", help="write RESULTS.md with --quick")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--print-only", action="store_true", help="never write RESULTS.md")
    parser.add_argument("--mlflow-python", default=os.environ.get("MLFLOW_PYTHON"))
    args = parser.parse_args()
    size = (256 if args.quick else 1024) * MIB
    rounds = args.rounds or (1 if args.quick else 3)
    load_at_start = os.getloadavg()[0]
    up: dict[str, list[float]] = {}
    down: dict[str, list[float]] = {}
    rss: dict[str, list[float]] = {}
    stored: dict[str, float] = {}
    snapshot: dict[str, list[float]] = {}  # tether: seconds in log_artifact (of "up")
    notes: list[str] = []
    with scratch("artifacts") as tmp:
        checkpoint = tmp / "ckpt.pt"
        folders = _versions(tmp / "versions", 10)
        logical = 10 * 100 * MIB
        servers: dict[str, Any] = {}
        mlflow_server = None
        s3 = None
        try:
            servers["tether (local store)"] = _tether_server(tmp / "srv-local", None)
            s3 = _s3_environ(tmp / "seaweedfs")
            if s3 is None:
                notes.append("SeaweedFS could not be started: no S3 row.")
            else:
                servers["tether (SeaweedFS S3)"] = _tether_server(tmp / "srv-s3", s3)
            if args.mlflow_python and Path(args.mlflow_python).exists():
                mlflow_server = MlflowServer(args.mlflow_python, tmp / "mlflow")
            else:
                notes.append("MLflow was not measured: no --mlflow-python with mlflow.")
            for round_number in range(rounds):
                # New bytes each round: the servers would rightly not take the same twice.
                _checkpoint(checkpoint, size)
                for label, server in servers.items():
                    project = f"p{round_number}"
                    spec = {"kind": "tether-up", "project": project, "name": "ckpt",
                            "paths": [str(checkpoint)], "dir": str(tmp / f"runs-{label[:8]}"),
                            "base_url": server.base_url, "api_key": server.api_key}  # fmt: skip
                    result, _ = run_child(SCRIPT, spec, tmp, timeout=1800)
                    up.setdefault(label, []).append(size / MIB / result["seconds"])
                    snapshot.setdefault(label, []).append(result["log_s"])
                    rss.setdefault(f"{label} up", []).append(result["rss_mib"])
                    target = tmp / f"down-{round_number}-{label[:8]}"
                    spec = {"kind": "tether-down", "project": project, "name": "ckpt",
                            "target": str(target), "base_url": server.base_url,
                            "api_key": server.api_key}  # fmt: skip
                    result, _ = run_child(SCRIPT, spec, tmp, timeout=1800)
                    down.setdefault(label, []).append(size / MIB / result["seconds"])
                    rss.setdefault(f"{label} down", []).append(result["rss_mib"])
                    shutil.rmtree(target, ignore_errors=True)
                if mlflow_server is not None:
                    spec = {"kind": "mlflow-up", "project": f"p{round_number}",
                            "paths": [str(checkpoint)], "url": mlflow_server.url}  # fmt: skip
                    result, _ = run_child(
                        SCRIPT, spec, tmp, timeout=1800, python=args.mlflow_python
                    )
                    up.setdefault("MLflow", []).append(size / MIB / result["seconds"])
                    rss.setdefault("MLflow up", []).append(result["rss_mib"])
                    target = tmp / f"down-{round_number}-mlflow"
                    spec = {"kind": "mlflow-down", "run_id": result["run_id"],
                            "target": str(target), "url": mlflow_server.url}  # fmt: skip
                    result, _ = run_child(
                        SCRIPT, spec, tmp, timeout=1800, python=args.mlflow_python
                    )
                    down.setdefault("MLflow", []).append(size / MIB / result["seconds"])
                    rss.setdefault("MLflow down", []).append(result["rss_mib"])
                    shutil.rmtree(target, ignore_errors=True)
                spec = {"kind": "wandb-up", "project": f"p{round_number}", "name": "ckpt",
                        "paths": [str(checkpoint)]}  # fmt: skip
                wandb_tmp = tmp / f"wandb-{round_number}"
                wandb_tmp.mkdir()
                result, _ = run_child(SCRIPT, spec, wandb_tmp, timeout=1800)
                up.setdefault(WANDB, []).append(size / MIB / result["seconds"])
                rss.setdefault(f"{WANDB} up", []).append(result["rss_mib"])
                shutil.rmtree(wandb_tmp, ignore_errors=True)
            # Deduplication over 10 versions, once each.
            local = servers["tether (local store)"]
            before = dir_bytes(local.data_dir / "blobs")
            spec = {"kind": "tether-up", "project": "dedup", "name": "ft", "paths": folders,
                    "dir": str(tmp / "runs-dedup"), "base_url": local.base_url,
                    "api_key": local.api_key}  # fmt: skip
            run_child(SCRIPT, spec, tmp, timeout=1800)
            stored["tether"] = dir_bytes(local.data_dir / "blobs") - before
            if mlflow_server is not None:
                before = dir_bytes(mlflow_server.artifacts)
                spec = {"kind": "mlflow-up", "project": "dedup", "paths": folders,
                        "url": mlflow_server.url}  # fmt: skip
                run_child(SCRIPT, spec, tmp, timeout=1800, python=args.mlflow_python)
                stored["MLflow"] = dir_bytes(mlflow_server.artifacts) - before
            wandb_tmp = tmp / "wandb-dedup"
            wandb_tmp.mkdir()
            spec = {"kind": "wandb-up", "project": "dedup", "name": "ft", "paths": folders}
            run_child(SCRIPT, spec, wandb_tmp, timeout=1800)
            stored["wandb (offline)"] = dir_bytes(wandb_tmp)
        finally:
            for server in servers.values():
                server.stop()
            if mlflow_server is not None:
                mlflow_server.stop()
            if s3 is not None:
                _seaweedfs(tmp / "seaweedfs", "stop")
    tether_up = median(up["tether (local store)"])
    rows = []
    for label, rates in up.items():
        rows.append(
            [
                label,
                f"{median(rates):.0f}",
                f"{median(rates) / tether_up:.2f}x",
                f"{median(snapshot[label]):.1f}" if label in snapshot else "-",
                f"{median(down[label]):.0f}" if label in down else "-",
                f"{median(rss[label + ' up']):.0f}",
                f"{median(rss[label + ' down']):.0f}" if label + " down" in rss else "-",
            ]
        )  # fmt: skip
    dedup_rows = [
        [label, f"{value / MIB:.0f}", f"{logical / value:.1f}x" if value else "-"]
        for label, value in stored.items()
    ]
    argv = ["--quick"] if args.quick else []
    body = "\n".join(
        [
            "## Artifacts (`artifact_bench.py`)",
            "",
            machine_lines("artifact_bench.py", argv, load_at_start),
            "",
            f"A {size // MIB} MiB checkpoint of random bytes, {rounds} round(s), medians. Up: "
            "from the call to the end of the upload (tether: `log_artifact` offline, then "
            "`tether sync`; MLflow: `log_artifact` to `mlflow server`; wandb: offline "
            "`log_artifact` to the end of `finish()`, **no upload**: there is no wandb server "
            "here). Down: to the last byte on disk, hashes checked (tether).",
            "",
            table(
                [
                    "tracker",
                    "up MiB/s",
                    "up vs tether local",
                    "of which log_artifact s",
                    "down MiB/s",
                    "client peak RSS up (MiB)",
                    "client peak RSS down (MiB)",
                ],
                rows,
            ),
            "",
            "Deduplication: 10 versions of a folder with the same 96 MiB backbone and a new "
            "4 MiB head (1,000 MiB logged):",
            "",
            table(["tracker", "MiB stored", "dedup ratio"], dedup_rows),
            "",
            *notes,
        ]
    )
    print(body)
    if (args.write or not args.quick) and not args.print_only:
        update_section("artifact_bench", body)


if __name__ == "__main__":
    main()
