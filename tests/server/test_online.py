"""mode="online": runs stream to a real server while they train, from every process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tether.server.testing import LiveServer

from ..conftest import only_run, run_script

TRAINING = """
import multiprocessing as mp, sys
import tether

def child(run, index):
    for step in range(300):
        run.log({"child/loss": step * 0.5 + index})
    print(f"child {index} done")

if __name__ == "__main__":
    run = tether.init(project="online", id=sys.argv[1], config={"lr": 0.01})
    for step in range(1000):
        run.log({"loss": 1.0 / (step + 1)})
    procs = [mp.get_context(m).Process(target=child, args=(run, i))
             for i, m in enumerate(("fork", "spawn"))]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
    print("main done")
    run.finish()
"""


def _server_view(server: LiveServer, run_id: str) -> dict[str, object]:
    with httpx.Client(base_url=server.base_url, headers=server.headers, timeout=30) as client:
        base = f"/api/v1/projects/online/runs/{run_id}"
        detail = client.get(base).json()
        series = client.get(base + "/history").json()["series"]
        lines = client.get(base + "/console").json()["lines"]
    return {
        "state": detail["state"],
        "config": detail["config"],
        "history": sorted(
            (s["key"], s["writer"].startswith("pid"), tuple(s["steps"]), tuple(s["values"]))
            for s in series
        ),
        "console": sorted(line["text"] for line in lines),
    }


def _env(server: LiveServer) -> dict[str, str]:
    return {"TETHER_BASE_URL": server.base_url, "TETHER_API_KEY": server.api_key}


def test_online_run_streams_every_process_and_matches_a_synced_offline_run(
    live_server: LiveServer, run_dir: Path
) -> None:
    online_dir, offline_dir = run_dir / "online", run_dir / "offline"
    online_dir.mkdir()
    offline_dir.mkdir()
    run_script(online_dir, TRAINING, env=_env(live_server), args=["same-script-on"])
    run_script(
        offline_dir,
        TRAINING,
        env={**_env(live_server), "TETHER_MODE": "offline"},
        args=["same-script-off"],
    )
    offline_view_before = httpx.get(
        f"{live_server.base_url}/api/v1/projects/online/runs/same-script-off",
        headers=live_server.headers,
    )
    assert offline_view_before.status_code == 404  # offline means nothing was sent
    env = {k: v for k, v in os.environ.items() if not k.startswith("TETHER_")}
    subprocess.run(
        [sys.executable, "-m", "tether.cli", "sync", str(offline_dir)],
        env={**env, **_env(live_server)},
        check=True,
        capture_output=True,
        timeout=120,
    )
    online = _server_view(live_server, "same-script-on")
    offline = _server_view(live_server, "same-script-off")
    assert online["state"] == offline["state"] == "finished"
    assert online["config"] == offline["config"] == {"lr": 0.01}
    assert online["history"] == offline["history"]
    assert online["console"] == offline["console"]
    assert {"child 0 done", "child 1 done", "main done"} <= set(online["console"])  # type: ignore[arg-type]
    keys = [entry[0] for entry in online["history"]]  # type: ignore[union-attr]
    assert keys.count("child/loss") == 2 and keys.count("loss") == 1


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_server_down_training_goes_on_and_sync_sends_the_rest(run_dir: Path) -> None:
    port = _free_port()
    server = LiveServer(run_dir / "server-data", port=port)
    env = {
        "TETHER_BASE_URL": f"http://127.0.0.1:{port}",
        "TETHER_API_KEY": server.api_key,
        "TETHER_UPLOAD_TIMEOUT_S": "1",
    }
    started = time.monotonic()
    result = run_script(run_dir, TRAINING, env=env, args=["while-down"])
    assert time.monotonic() - started < 60
    assert "main done" in result.stdout
    assert "tether sync" in result.stderr  # said once, as a warning, not raised
    assert len(only_run(run_dir).rows()) == 1000 + 2 * 300  # everything is on disk
    server.start()
    try:
        cli_env = {k: v for k, v in os.environ.items() if not k.startswith("TETHER_")}
        subprocess.run(
            [sys.executable, "-m", "tether.cli", "sync", str(run_dir)],
            env={**cli_env, **env},
            check=True,
            capture_output=True,
            timeout=120,
        )
        view = _server_view(server, "while-down")
        assert view["state"] == "finished"
        steps = {entry[0]: entry[2] for entry in view["history"]}  # type: ignore[union-attr]
        assert steps["loss"] == tuple(range(1000))
    finally:
        server.stop()


def test_resume_an_online_run_from_the_server(live_server: LiveServer, run_dir: Path) -> None:
    code = """
    import sys, tether
    run = tether.init(project="online", id="resumed", resume="allow")
    start = run.step
    for i in range(5):
        run.log({"x": start + i})
    run.finish()
    print("started at", start)
    """
    first = run_dir / "first"
    second = run_dir / "second"  # another machine: nothing of the run on its disk
    first.mkdir()
    second.mkdir()
    assert "started at 0" in run_script(first, code, env=_env(live_server)).stdout
    assert "started at 5" in run_script(second, code, env=_env(live_server)).stdout
    view = _server_view(live_server, "resumed")
    steps = {entry[0]: entry[2] for entry in view["history"]}  # type: ignore[union-attr]
    assert steps["x"] == tuple(range(10))


def test_online_without_a_key_says_how_to_log_in(run_dir: Path) -> None:
    import tether

    with pytest.raises(tether.UsageError, match="tether login"):
        tether.init(dir=run_dir, mode="online")


RANK_SCRIPT = """
import os, sys
import tether
run = tether.init(project="online", config={"nodes": 2})
rank = int(os.environ["RANK"])
for step in range(200):
    run.log({f"rank{rank}/loss": step + rank * 1000.0})
print(f"rank {rank} on its node")
run.finish()
"""


def test_ranks_on_two_machines_stream_one_run(live_server: LiveServer, tmp_path: Path) -> None:
    # Two "machines": no shared run folder. Rank 0 creates the run on the first; rank 1, on
    # the second node (GROUP_RANK=1), finds no folder, makes its own and uploads it itself.
    nodes = [tmp_path / "node0", tmp_path / "node1"]
    procs = []
    for rank, node in enumerate(nodes):
        node.mkdir()
        env = {
            **_env(live_server),
            "RANK": str(rank),
            "LOCAL_RANK": "0",
            "GROUP_RANK": str(rank),
            "WORLD_SIZE": "2",
            "TETHER_RUN_ID": "job-2-nodes",
        }
        script = node / "rank.py"
        script.write_text(RANK_SCRIPT)
        procs.append(
            subprocess.Popen(
                [sys.executable, str(script)],
                cwd=node,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    outputs = [proc.communicate(timeout=120) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], outputs
    assert all("Traceback" not in err for _, err in outputs), outputs
    with httpx.Client(base_url=live_server.base_url, headers=live_server.headers) as client:
        base = "/api/v1/projects/online/runs/job-2-nodes"
        series = {s["key"]: s for s in client.get(base + "/history").json()["series"]}
        lines = {line["text"] for line in client.get(base + "/console").json()["lines"]}
        detail = client.get(base).json()
    for rank in (0, 1):
        assert series[f"rank{rank}/loss"]["steps"] == list(range(200))
        assert series[f"rank{rank}/loss"]["writer"] == f"rank{rank}"
        assert f"rank {rank} on its node" in lines
    assert detail["config"] == {"nodes": 2} and detail["state"] == "finished"


def test_one_process_per_machine_claims_the_upload(tmp_path: Path) -> None:
    from tether.process.launch import NODE_UPLOAD_CLAIM, claim_node_upload

    assert claim_node_upload(tmp_path) is True
    assert claim_node_upload(tmp_path) is False  # the next rank of this machine
    assert (tmp_path / NODE_UPLOAD_CLAIM).read_text().strip() == str(os.getpid())
