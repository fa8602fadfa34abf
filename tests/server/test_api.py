"""The server's HTTP API against a real uvicorn on 127.0.0.1 and a real SQLite database."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

import tether
from tether.server.testing import LiveServer
from tether.store import format as fmt


def _make_run(run_dir: Path, rows: int = 200, **metrics: float) -> tether.Run:
    with tether.init(project="proj", dir=run_dir, config={"lr": 0.1}) as run:
        for i in range(rows):
            run.log({"loss": 1.0 / (i + 1), **metrics})
        print("a console line")
    return run


def _segments(run: tether.Run) -> list[tuple[str, bytes]]:
    files = sorted((run.dir / fmt.SEGMENTS_DIR).iterdir())
    return [(p.stem.rsplit("-", 1)[1], p.read_bytes()) for p in files]


def _upload(client: httpx.Client, run: tether.Run, offset: int = 0) -> list[httpx.Response]:
    return [
        client.put(
            f"/api/v1/projects/proj/runs/{run.id}/segments/{writer}",
            params={"offset": offset},
            content=data[offset:],
        )
        for writer, data in _segments(run)
    ]


@pytest.fixture
def client(live_server: LiveServer) -> httpx.Client:
    return httpx.Client(base_url=live_server.base_url, headers=live_server.headers, timeout=30)


def test_upload_then_read_everything_back(client: httpx.Client, run_dir: Path) -> None:
    run = _make_run(run_dir)
    [response] = _upload(client, run)
    assert response.status_code == 200, response.text
    assert response.json()["duplicates"] == 0
    assert client.get("/api/v1/viewer").json() == {"user": "admin", "admin": True}
    assert client.get("/api/v1/projects").json()[0]["name"] == "proj"
    listed = client.get("/api/v1/projects/proj/runs").json()
    assert listed["total"] == 1
    detail = client.get(f"/api/v1/projects/proj/runs/{run.id}").json()
    assert detail["state"] == "finished" and detail["config"] == {"lr": 0.1}
    assert detail["summary"]["loss"] == 1.0 / 200 and detail["last_step"] == 199
    assert detail["keys"] == ["loss"] and detail["writer_list"][0]["label"] == "main"
    history = client.get(f"/api/v1/projects/proj/runs/{run.id}/history").json()
    [series] = history["series"]
    assert series["steps"] == list(range(200))
    assert series["values"] == [1.0 / (i + 1) for i in range(200)]
    console = client.get(f"/api/v1/projects/proj/runs/{run.id}/console").json()
    assert [line["text"] for line in console["lines"]] == ["a console line"]


def test_upload_is_idempotent_and_resumable(client: httpx.Client, run_dir: Path) -> None:
    run = _make_run(run_dir, rows=5000)
    [(writer, data)] = _segments(run)
    url = f"/api/v1/projects/proj/runs/{run.id}/segments/{writer}"
    frames = fmt.scan_frames(data).frames
    assert len(frames) >= 2
    cut = len(fmt.MAGIC) + len(fmt.encode_frame(frames[0].first_seq, frames[0].records))
    first = client.put(url, params={"offset": 0}, content=data[:cut])
    assert first.json()["offset"] == cut
    ahead = client.put(url, params={"offset": cut + 10}, content=data[cut + 10 :])
    assert ahead.status_code == 409 and ahead.json()["offset"] == cut
    rest = client.put(url, params={"offset": cut}, content=data[cut:])
    assert rest.json()["offset"] == len(data)
    again = client.put(url, params={"offset": 0}, content=data)  # a repeated sync
    assert again.status_code == 200 and again.json()["records"] == 0
    history = client.get(f"/api/v1/projects/proj/runs/{run.id}/history").json()
    assert history["series"][0]["steps"] == list(range(5000))
    state = client.get(f"/api/v1/projects/proj/runs/{run.id}/segments").json()
    assert state[writer]["offset"] == len(data)


def test_auth_matrix(live_server: LiveServer, client: httpx.Client, run_dir: Path) -> None:
    run = _make_run(run_dir)
    _upload(client, run)
    url = f"{live_server.base_url}/api/v1/projects/proj/runs/{run.id}"
    assert httpx.get(url).status_code == 401
    wrong = httpx.get(url, headers={"Authorization": "Bearer tth_wrong"})
    assert wrong.status_code == 401 and "unknown API key" in wrong.json()["detail"]
    bob_key = subprocess.run(
        [sys.executable, "-m", "tether.cli", "server", "--data-dir", str(live_server.data_dir),
         "user", "add", "bob"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout.strip()  # fmt: skip
    bob = {"Authorization": f"Bearer {bob_key}"}
    assert httpx.get(f"{live_server.base_url}/api/v1/viewer", headers=bob).json()["user"] == "bob"
    for path in ("", "/history", "/console", "/segments"):
        denied = httpx.get(url + path, headers=bob)
        assert denied.status_code == 404, path
        assert "loss" not in denied.text
    assert httpx.get(f"{live_server.base_url}/api/v1/projects", headers=bob).json() == []
    # bob uploading the same run id lands in bob's own project, not in admin's
    [(writer, data)] = _segments(run)
    put = httpx.put(f"{url}/segments/{writer}", content=data, headers=bob)
    assert put.status_code == 200
    admin_runs = client.get("/api/v1/projects/proj/runs").json()
    assert admin_runs["total"] == 1


def test_bad_uploads_get_clear_4xx(client: httpx.Client, run_dir: Path) -> None:
    run = _make_run(run_dir)
    [(writer, data)] = _segments(run)
    url = f"/api/v1/projects/proj/runs/{run.id}/segments/{writer}"
    no_magic = client.put(url, content=b"garbage" * 10)
    assert no_magic.status_code == 422 and "magic" in no_magic.json()["detail"]
    corrupt = bytearray(data)
    corrupt[-2] ^= 0xFF
    bad_crc = client.put(url, content=bytes(corrupt))
    assert bad_crc.status_code == 422 and "offset" in bad_crc.json()["detail"]
    torn = client.put(url, content=data[:-3])
    assert torn.status_code == 422
    big = client.put(url, content=b"\0" * (16 * 1024 * 1024 + 1))
    assert big.status_code == 413 and "limit" in big.json()["detail"]
    bad_path = client.put(f"/api/v1/projects/proj/runs/{'x' * 100}/segments/{writer}", content=data)
    assert bad_path.status_code == 422 and "run_id" in bad_path.text
    bad_query = client.get(f"/api/v1/projects/proj/runs/{run.id}/history", params={"samples": 1})
    assert bad_query.status_code == 422 and "samples" in bad_query.text
    shapes: list[tuple[list[object], str]] = [
        ([7], "record"),
        ([[1, {"start_time": 0.0}], [2, 0, ["a"]], [3, 0, "a step", 1.5, 2.5]], "step"),
        ([[1, "not a header"]], "header"),
        ([[2, 0, ["a"]], [11, 0, [0], [0.0], [[1.0], [2.0]]]], "rows"),
    ]
    for records, field in shapes:
        frame = fmt.encode_frame(0, records)
        not_records = client.put(url.replace(writer, "w2"), content=fmt.MAGIC + frame)
        assert not_records.status_code == 422, (records, not_records.text)
        answer = not_records.json()
        assert answer["field"] == field and answer["frame_offset"] == len(fmt.MAGIC), answer
        assert f"{field} " in answer["detail"] and "writer w2" in answer["detail"], answer


def test_downsampled_history_keeps_spikes(client: httpx.Client, run_dir: Path) -> None:
    with tether.init(project="proj", dir=run_dir, console="off") as run:
        for i in range(20_000):
            run.log({"v": 100.0 if i == 12_345 else (-50.0 if i == 777 else float(i % 7))})
    _upload(client, run)
    history = client.get(
        f"/api/v1/projects/proj/runs/{run.id}/history", params={"samples": 200}
    ).json()
    [series] = history["series"]
    assert history["sampled"] and len(series["steps"]) <= 210
    assert 100.0 in series["values"] and -50.0 in series["values"]
    assert series["steps"][0] == 0 and series["steps"][-1] == 19_999
    assert series["steps"] == sorted(series["steps"])


def test_nan_and_text_values_survive_json(client: httpx.Client, run_dir: Path) -> None:
    with tether.init(project="proj", dir=run_dir, console="off") as run:
        run.log({"x": float("nan"), "t": "text", "b": True})
        run.log({"x": float("inf"), "t": None, "b": False})
    _upload(client, run)
    series = {
        s["key"]: s["values"]
        for s in client.get(f"/api/v1/projects/proj/runs/{run.id}/history").json()["series"]
    }
    assert series == {"x": ["NaN", "Infinity"], "t": ["text", None], "b": [True, False]}


def test_two_server_processes_share_one_database(live_server: LiveServer, run_dir: Path) -> None:
    second = LiveServer(live_server.data_dir, api_key=live_server.api_key).start()
    try:
        run = _make_run(run_dir)
        with httpx.Client(base_url=live_server.base_url, headers=live_server.headers) as one:
            _upload(one, run)
        with httpx.Client(base_url=second.base_url, headers=second.headers) as two:
            detail = two.get(f"/api/v1/projects/proj/runs/{run.id}").json()
            assert detail["last_step"] == 199
            again = _upload(two, run)[0].json()
            assert again["records"] == 0 and again["duplicates"] > 0
    finally:
        second.stop()


def test_server_killed_mid_upload_loses_and_doubles_nothing(
    live_server: LiveServer, run_dir: Path
) -> None:
    run = _make_run(run_dir, rows=30_000)
    [(writer, data)] = _segments(run)
    url = f"/api/v1/projects/proj/runs/{run.id}/segments/{writer}"
    # Frame boundaries, so that each request carries whole frames, as the uploader sends.
    ends, position = [], len(fmt.MAGIC)
    for frame in fmt.scan_frames(data).frames:
        position += len(fmt.encode_frame(frame.first_seq, frame.records))
        ends.append(position)
    assert len(ends) >= 6
    client = httpx.Client(base_url=live_server.base_url, headers=live_server.headers)
    offset = 0
    for end in ends[:3]:
        offset = client.put(url, params={"offset": offset}, content=data[offset:end]).json()[
            "offset"
        ]
    live_server.stop(kill=True)  # SIGKILL between two requests of an upload
    live_server.start()
    client = httpx.Client(base_url=live_server.base_url, headers=live_server.headers)
    state = client.get(f"/api/v1/projects/proj/runs/{run.id}/segments").json()
    assert state[writer]["offset"] == offset  # what was acknowledged survived the kill
    for end in ends[3:]:
        offset = client.put(url, params={"offset": offset}, content=data[offset:end]).json()[
            "offset"
        ]
    client.put(url, params={"offset": 0}, content=data)  # and a full retry for good measure
    steps = client.get(f"/api/v1/projects/proj/runs/{run.id}/history").json()["series"][0]["steps"]
    assert steps == list(range(30_000))
