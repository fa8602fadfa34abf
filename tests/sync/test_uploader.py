"""The online uploader: live runs of several processes streamed to a real server.

The scripts run in online mode (``TETHER_BASE_URL`` and ``TETHER_API_KEY``), as users do;
``init()`` starts the ``Uploader`` and ``finish()`` waits for it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import tether
from tether.api import Api
from tether.server.testing import LiveServer
from tether.sync import Uploader, uploader

from ..conftest import run_script
from .conftest import history_counts

LIVE_RUN = """
import json, multiprocessing as mp, os, sys, threading, time
import tether
from tether.api import Api

def child(n):
    for i in range(200):
        tether.log({"child_loss": i * n})
    threads = threading.active_count()
    up = run._uploader  # the parent's uploader, inherited by fork: it must do nothing here
    up.start()
    facts = [up.wait(0.1), up.pending_bytes(), threading.active_count() - threads]
    with open(f"child-{n}.json", "w") as out:
        json.dump(facts, out)

run = tether.init(project="live", console="off")
assert run._uploader is not None, "not online"
for i in range(100):
    run.log({"loss": 1.0 / (i + 1)})
api = Api()
deadline = time.monotonic() + 30
while time.monotonic() < deadline:  # streamed while the run is still running
    try:
        remote = api.run(f"live/{run.id}")
        if len(remote.history(keys=["loss"])) == 100 and remote.state == "running":
            break
    except tether.RunNotFoundError:
        pass
    time.sleep(0.05)
else:
    sys.exit("the rows never reached the server while the run was live")
children = [mp.get_context("fork").Process(target=child, args=(n,)) for n in range(3)]
for p in children:
    p.start()
for p in children:
    p.join(timeout=60)
assert [p.exitcode for p in children] == [0, 0, 0]
run.finish()
print(json.dumps({"id": run.id}))
"""


def _online(server: LiveServer) -> dict[str, str]:
    return {"TETHER_BASE_URL": server.base_url, "TETHER_API_KEY": server.api_key}


def test_live_multiprocess_run_is_streamed(
    live_server: LiveServer, api: Api, run_dir: Path
) -> None:
    done = run_script(run_dir, LIVE_RUN, env=_online(live_server), timeout=120)
    assert "TetherWarning" not in done.stderr, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    for n in range(3):
        # In each fork child: wait() says the parent uploads, nothing pending, no thread.
        assert json.loads((run_dir / f"child-{n}.json").read_text()) == [True, 0, 0]
    counts = history_counts(api, "live", result["id"])
    assert counts.pop(("loss", "main")) == list(range(100))
    assert {key for key, _ in counts} == {"child_loss"}
    assert len(counts) == 3 and all(steps == list(range(200)) for steps in counts.values())
    remote = api.run(f"live/{result['id']}")
    assert remote.state == "finished" and remote.data["writers"] == 4
    [run_path] = (run_dir / "tether").iterdir()
    offsets = json.loads((run_path / "upload.json").read_text())["offsets"]
    assert offsets == {p.name: p.stat().st_size for p in (run_path / "segments").iterdir()}


KILLED_SERVER_RUN = """
import json, os, time
import tether

run = tether.init(project="flaky", console="off")
rows = 0
def batch():
    global rows
    for _ in range(500):
        run.log({"loss": rows * 0.5, "acc": rows % 7})
        rows += 1
    run.flush()
    time.sleep(0.02)
batch()
open("started", "w").close()
deadline = time.monotonic() + 90
while not os.path.exists("restarted") and time.monotonic() < deadline:
    batch()
for _ in range(10):
    batch()
run.finish()
print(json.dumps({"id": run.id, "rows": rows}))
"""


def test_server_killed_mid_upload_loses_nothing_doubles_nothing(
    live_server: LiveServer, api: Api, run_dir: Path
) -> None:
    script = run_dir / "flaky.py"
    script.write_text(textwrap.dedent(KILLED_SERVER_RUN))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TETHER_")}
    env.update(_online(live_server))
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        cwd=run_dir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not (run_dir / "started").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)  # uploads under way
        live_server.stop(kill=True)
        time.sleep(1.5)  # the run goes on logging while the server is away
        live_server.start()
        (run_dir / "restarted").touch()
        stdout, stderr = proc.communicate(timeout=150)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    result = json.loads(stdout.strip().splitlines()[-1])
    assert "The data is safe on disk" in stderr  # the outage was noticed, and only warned
    assert "not on the server yet" not in stderr and "Traceback" not in stderr
    counts = history_counts(api, "flaky", result["id"])
    assert counts[("loss", "main")] == list(range(result["rows"]))
    assert counts[("acc", "main")] == list(range(result["rows"]))
    assert api.run(f"flaky/{result['id']}").state == "finished"


@pytest.fixture
def local_run(run_dir: Path) -> tether.Run:
    run = tether.init(project="here", dir=run_dir, console="off", mode="offline")
    for i in range(20):
        run.log({"loss": float(i)})
    run.flush()
    return run


@pytest.mark.filterwarnings("ignore::tether.TetherWarning")
def test_unreachable_server_never_raises_and_data_waits(local_run: tether.Run) -> None:
    up = Uploader(
        local_run.dir,
        project="here",
        run_id=local_run.id,
        base_url="http://127.0.0.1:9",
        api_key="tth_nobody_000000000",
    )
    up.start()
    started = time.monotonic()
    assert up.wait(1.5) is False
    assert time.monotonic() - started < 3
    assert up.pending_bytes() > 0
    local_run.log({"loss": 99.0})  # logging goes on, untouched
    local_run.finish()
    up.stop()
    assert up.wait(0.1) is False  # stopped: nothing more will be sent


def test_heartbeat_when_idle(
    live_server: LiveServer, api: Api, local_run: tether.Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(uploader, "UPLOAD_HEARTBEAT_S", 0.2)
    monkeypatch.setattr(uploader, "POLL_S", 0.1)
    up = Uploader(
        local_run.dir,
        project="here",
        run_id=local_run.id,
        base_url=live_server.base_url,
        api_key=live_server.api_key,
    )
    up.start()
    try:
        assert up.wait(20) is True
        first = api.run(f"here/{local_run.id}").data["updated_at"]
        deadline = time.monotonic() + 10
        while api.run(f"here/{local_run.id}").data["updated_at"] == first:
            assert time.monotonic() < deadline, "no heartbeat reached the server"
            time.sleep(0.1)
    finally:
        up.stop()
    assert up.pending_bytes() == 0
