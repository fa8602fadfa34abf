"""Run states come from one enum, and the API hands them to the web UI."""

from __future__ import annotations

from pathlib import Path

import httpx

import tether
from tether.server.testing import LiveServer
from tether.store.segment_names import segment_paths, writer_id_of
from tether.store.states import RunState


def _upload(client: httpx.Client, run_id: str, segment: bytes, writer: str) -> None:
    url = f"/api/v1/projects/proj/runs/{run_id}/segments/{writer}"
    response = client.put(url, params={"offset": 0}, content=segment)
    assert response.status_code == 200, response.text


def test_the_api_lists_every_state_and_says_which_runs_are_live(
    live_server: LiveServer, run_dir: Path
) -> None:
    with tether.init(project="proj", dir=run_dir, console="off", mode="offline") as going:
        going.log({"loss": 1.0})
        going.flush()
        [path] = segment_paths(going.dir)
        unfinished = path.read_bytes()  # the segment as it is while the run still runs
    with tether.init(project="proj", dir=run_dir, console="off", mode="offline") as done:
        done.log({"loss": 0.5})
    [done_path] = segment_paths(done.dir)
    with httpx.Client(base_url=live_server.base_url, headers=live_server.headers) as client:
        _upload(client, going.id, unfinished, writer_id_of(path))
        _upload(client, done.id, done_path.read_bytes(), writer_id_of(done_path))
        listed = client.get("/api/v1/projects/proj/runs").json()
        detail = client.get(f"/api/v1/projects/proj/runs/{going.id}").json()
        filtered = client.get("/api/v1/projects/proj/runs", params={"state": "running"}).json()
    assert listed["states"] == [
        {"name": state.value, "terminal": state is not RunState.RUNNING} for state in RunState
    ]
    live = {run["id"]: (run["state"], run["live"]) for run in listed["runs"]}
    assert live == {going.id: ("running", True), done.id: ("finished", False)}
    assert detail["live"] is True and detail["state"] == RunState.RUNNING
    assert [run["id"] for run in filtered["runs"]] == [going.id]
