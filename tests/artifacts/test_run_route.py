"""``GET .../runs/{run_id}/artifacts``: the versions a run logged and used in one answer,
checked against the run's owner as the run itself is, on SQLite and PostgreSQL (a real server;
records uploaded by ``tether sync``)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

import tether
from tether.server.testing import LiveServer
from tether.store import format as fmt

from ..server.accounts import add_user
from .server_helpers import file_entry, log_info, sync_run, write_artifact

PROJECT = "runart"


def _use(run: tether.Run, name: str, ref: str, digest: str) -> None:
    info = {"op": "use", "name": name, "ref": ref, "digest": digest}
    run._writer.append([fmt.RecordKind.ARTIFACT, time.time(), info])


@pytest.fixture(scope="module")
def runs(server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A producer logging model v0, v1 (best) and data v0; a consumer using model:best,
    data:latest and a version the server never committed; an idle run. ``{role: run id}``."""
    where = tmp_path_factory.mktemp("run-route")
    digests: dict[str, str] = {}
    with tether.init(project=PROJECT, dir=where, console="off", mode="offline") as producer:
        for n, aliases in ((0, ("latest",)), (1, ("latest", "best"))):
            entry, blobs = file_entry("w.bin", b"weights %d" % n)
            info = log_info("model", [entry], aliases=aliases, epoch=n)
            write_artifact(producer, info, blobs)
            digests[f"model:v{n}"] = info["digest"]
        entry, blobs = file_entry("rows.csv", b"x,y\n1,2\n")
        info = log_info("data", [entry])
        write_artifact(producer, {**info, "type": "dataset"}, blobs)
        digests["data:v0"] = info["digest"]
    sync_run(server, producer)
    with tether.init(project=PROJECT, dir=where, console="off", mode="offline") as consumer:
        _use(consumer, "model", "best", digests["model:v1"])
        _use(consumer, "data", "latest", digests["data:v0"])
        _use(consumer, "model", "v7", "e" * 64)  # never committed here: left out
    sync_run(server, consumer)
    with tether.init(project=PROJECT, dir=where, console="off", mode="offline") as idle:
        idle.log({"loss": 1.0})
    sync_run(server, idle)
    return {"producer": producer.id, "consumer": consumer.id, "idle": idle.id}


def _refs(entries: list[dict[str, Any]]) -> list[str]:
    return [f"{e['name']}:{e['version']}" for e in entries]


def test_a_runs_logged_and_used_versions_in_one_answer(
    http: httpx.Client, runs: dict[str, str]
) -> None:
    produced = http.get(f"/projects/{PROJECT}/runs/{runs['producer']}/artifacts").json()
    assert _refs(produced["logged"]) == ["model:v0", "model:v1", "data:v0"]
    assert produced["used"] == []
    model_v1 = produced["logged"][1]
    assert model_v1["type"] == "model" and model_v1["aliases"] == ["latest", "best"]
    assert model_v1["metadata"] == {"epoch": 1} and model_v1["files"] == 1
    assert model_v1["run"]["id"] == runs["producer"]
    assert produced["logged"][2]["type"] == "dataset"
    assert produced["logged"][2]["aliases"] == ["latest"]
    assert produced["logged"][0]["aliases"] == []

    consumed = http.get(f"/projects/{PROJECT}/runs/{runs['consumer']}/artifacts").json()
    assert consumed["logged"] == []
    assert _refs(consumed["used"]) == ["model:v1", "data:v0"]
    assert [u["ref"] for u in consumed["used"]] == ["best", "latest"]
    assert consumed["used"][0] == {**model_v1, "ref": "best"}  # the same summary, and the ref

    idle = http.get(f"/projects/{PROJECT}/runs/{runs['idle']}/artifacts").json()
    assert idle == {"logged": [], "used": []}


def test_the_owner_path_answers_the_same_and_others_get_404(
    server: LiveServer, http: httpx.Client, runs: dict[str, str]
) -> None:
    owner = http.get("/viewer").json()["user"]
    path = f"/projects/{PROJECT}/runs/{runs['consumer']}/artifacts"
    assert http.get(f"/owners/{owner}{path}").json() == http.get(path).json()
    stranger = add_user(server, f"stranger{int(time.time() * 1000) % 10**6}")
    with stranger.client as client:
        assert client.get(f"/owners/{owner}{path}").status_code == 404
        assert client.get(path).status_code == 404  # their own namespace has no such run


@pytest.mark.parametrize(
    ("path", "status"),
    [
        (f"/projects/{PROJECT}/runs/no-such-run/artifacts", 404),
        ("/projects/no-such-project/runs/r1/artifacts", 404),
        (f"/projects/{PROJECT}/runs/bad%20id/artifacts", 422),
        (f"/projects/{PROJECT}/runs/{'r' * 65}/artifacts", 422),
        (f"/projects/{PROJECT}/runs/r%00/artifacts", 422),
        ("/projects/.bad/runs/r1/artifacts", 422),
        (f"/owners/bad%20owner/projects/{PROJECT}/runs/r1/artifacts", 422),
        (f"/owners/nobody-at-all/projects/{PROJECT}/runs/r1/artifacts", 404),
    ],
)
def test_malformed_or_unknown_runs_are_4xx_never_500(
    http: httpx.Client, runs: dict[str, str], path: str, status: int
) -> None:
    answer = http.get(path)
    assert answer.status_code == status, answer.text
