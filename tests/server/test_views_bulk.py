"""Saved views and bulk actions against a real server, in a team's namespace with an admin,
a member and a viewer: who may do what, and what each action does; and their SQL on SQLite
and PostgreSQL."""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import Engine, insert, select

import tether
from tests.server.accounts import Account
from tests.server.sweep import Workspace, upload
from tether.server.auth import add_user
from tether.server.run_bulk import delete_runs, move, retag
from tether.server.saved_views import list_views, save_view
from tether.server.storage.schema import metric_keys, projects, runs
from tether.server.testing import LiveServer

P = "/owners/lab/projects/p"


@dataclass
class Lab:
    server: LiveServer
    admin: Account
    member: Account
    viewer: Account
    runs: list[tether.Run]


@pytest.fixture
def lab(workspace: Workspace) -> Lab:
    accounts = workspace.accounts
    return Lab(
        workspace.server,
        accounts["alice"],
        accounts["bob"],
        accounts["carol"],
        workspace.lab_runs,
    )


def _ids(http: httpx.Client, project: str = P, text: str = "") -> list[str]:
    answer = http.get(f"{project}/runs", params={"filter": text, "order": "config.i"})
    assert answer.status_code == 200, answer.text
    return [r["id"] for r in answer.json()["runs"]]


def test_views_are_saved_replaced_listed_and_deleted(lab: Lab) -> None:
    member, viewer = lab.member.client, lab.viewer.client
    assert viewer.get(f"{P}/views").json() == []
    state = {"filter": "config.lr < 0.05", "group": ["config.lr"], "smooth": 0.6, "cols": []}
    saved = member.put(f"{P}/views/lr sweep", json={"state": state})
    assert saved.status_code == 200, saved.text
    assert saved.json()["state"] == state
    member.put(f"{P}/views/a", json={"state": {}}).raise_for_status()
    member.put(f"{P}/views/lr sweep", json={"state": {**state, "smooth": 0}}).raise_for_status()
    listed = viewer.get(f"{P}/views").json()
    assert [v["name"] for v in listed] == ["a", "lr sweep"]
    assert listed[1]["state"]["smooth"] == 0 and isinstance(listed[1]["updated"], float)
    assert viewer.put(f"{P}/views/x", json={"state": {}}).status_code == 403
    assert viewer.delete(f"{P}/views/a").status_code == 403
    assert member.delete(f"{P}/views/a").status_code == 200
    assert member.delete(f"{P}/views/a").status_code == 404
    assert [v["name"] for v in viewer.get(f"{P}/views").json()] == ["lr sweep"]
    assert member.get("/owners/lab/projects/absent/views").status_code == 404


@pytest.mark.parametrize(
    ("name", "body", "status"),
    [
        ("big", {"state": {"cols": ["c" * 100] * 700}}, 413),
        ("list", {"state": [1, 2]}, 422),
        ("extra", {"state": {}, "more": 1}, 422),
        ("x" * 129, {"state": {}}, 422),
        ("nul%00", {"state": {}}, 422),
    ],
)
def test_bad_views_are_refused(lab: Lab, name: str, body: object, status: int) -> None:
    answer = lab.member.client.put(f"{P}/views/{name}", json=body)
    assert answer.status_code == status, answer.text


def test_a_nan_in_a_views_state_is_kept_as_null(lab: Lab) -> None:
    body = b'{"state": {"smooth": NaN, "x": 1}}'  # Python's JSON parser lets NaN in
    answer = lab.member.client.put(
        f"{P}/views/nan", content=body, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 200, answer.text
    saved = {v["name"]: v["state"] for v in lab.viewer.client.get(f"{P}/views").json()}
    assert saved["nan"] == {"smooth": None, "x": 1}


def test_bulk_tag_and_untag_change_only_what_needs_it(lab: Lab) -> None:
    member = lab.member.client
    first, second = lab.runs[0].id, lab.runs[2].id
    body = {"action": "tag", "runs": [first, second, "absent"], "tag": "best"}
    assert member.post(f"{P}/runs/bulk", json=body).json() == {"changed": 2}
    assert member.post(f"{P}/runs/bulk", json=body).json() == {"changed": 0}
    assert _ids(member, text="tags has best") == [first, second]
    untag = {**body, "action": "untag", "tag": "old"}
    assert member.post(f"{P}/runs/bulk", json=untag).json() == {"changed": 1}
    run = member.get(f"{P}/runs/{first}").json()
    assert run["tags"] == ["best"]
    assert lab.viewer.client.post(f"{P}/runs/bulk", json=body).status_code == 403


def test_bulk_move_into_a_new_project_of_the_namespace(lab: Lab) -> None:
    member = lab.member.client
    moving = lab.runs[1]
    body = {"action": "move", "runs": [moving.id], "project": "p2"}
    assert member.post(f"{P}/runs/bulk", json=body).json() == {"changed": 1, "skipped": []}
    assert _ids(member, "/owners/lab/projects/p2") == [moving.id]
    assert moving.id not in _ids(member)
    history = member.get(f"/owners/lab/projects/p2/runs/{moving.id}/history").json()
    assert history["series"][0]["values"] == [0.5]
    # The same run uploaded into p again: p2 holds its id, so it stays.
    with httpx.Client(base_url=lab.server.base_url, headers=lab.server.headers) as http:
        upload(http, moving, "p", owner="lab")
    assert member.post(f"{P}/runs/bulk", json=body).json() == {"changed": 0, "skipped": [moving.id]}


def test_bulk_delete_needs_the_admin_role(lab: Lab) -> None:
    doomed = lab.runs[3].id
    body = {"action": "delete", "runs": [doomed]}
    refused = lab.member.client.post(f"{P}/runs/bulk", json=body)
    assert refused.status_code == 403 and "admin" in refused.json()["detail"]
    assert lab.admin.client.post(f"{P}/runs/bulk", json=body).json() == {"changed": 1}
    assert lab.admin.client.get(f"{P}/runs/{doomed}").status_code == 404
    assert doomed not in _ids(lab.admin.client)
    # A user deletes runs of their own namespace: they are its admin.
    own = lab.member.client.post("/projects/mine/runs/bulk", json=body)
    assert own.status_code == 404  # no such project yet: the role check passed, the project not


@pytest.mark.parametrize(
    "body",
    [
        {"action": "burn", "runs": []},
        {"action": "tag", "runs": ["a"]},
        {"action": "tag", "runs": ["a"], "tag": ""},
        {"action": "move", "runs": ["a"]},
        {"action": "move", "runs": ["a"], "project": "../x"},
        {"action": "delete", "runs": ["a b"]},
        {"action": "delete", "runs": ["a"] * 10_001},
        {"action": "delete", "runs": ["a"], "extra": True},
    ],
)
def test_malformed_bulk_requests_are_422(lab: Lab, body: object) -> None:
    answer = lab.admin.client.post(f"{P}/runs/bulk", json=body)
    assert answer.status_code == 422, answer.text


# -- the same SQL on both databases ------------------------------------------------------------
def test_bulk_and_views_sql_on_both_databases(database_engine: Engine) -> None:
    engine = database_engine
    user = add_user(engine, "alice")
    now = time.time()
    with engine.begin() as connection:
        project = connection.execute(
            insert(projects)
            .values(owner_id=user.id, name="p", created_at=now, updated_at=now)
            .returning(projects.c.id)
        ).scalar_one()
        base = {"project_id": project, "state": "finished", "config": {}, "summary": {},
                "summary_times": {}, "user_summary": {}, "start_time": now, "updated_at": now,
                "crashed": False}  # fmt: skip
        connection.execute(
            insert(runs), [{**base, "run_id": f"r{i}", "name": f"r{i}", "tags": ["t"] * (i % 2)}
                           for i in range(4)]
        )  # fmt: skip
        pks = dict(connection.execute(select(runs.c.run_id, runs.c.id)).all())
        connection.execute(insert(metric_keys), [{"run_pk": pks["r3"], "key": "loss"}])
    with engine.begin() as connection:
        assert retag(connection, project, ["r0", "r1", "r9"], "new", add=True) == 2
        assert retag(connection, project, ["r0", "r1"], "t", add=False) == 1
        assert move(connection, user, project, ["r2"], "q") == (1, [])
        assert delete_runs(connection, project, ["r3"]) == 1
        save_view(connection, project, "v", {"filter": "state = finished"}, user.id)
        save_view(connection, project, "v", {"filter": ""}, user.id)
    with engine.connect() as connection:
        tags = dict(connection.execute(select(runs.c.run_id, runs.c.tags)).all())
        assert tags == {"r0": ["new"], "r1": ["new"], "r2": []}
        moved = connection.execute(
            select(projects.c.name).join(runs, runs.c.project_id == projects.c.id)
            .where(runs.c.run_id == "r2")
        ).scalar()  # fmt: skip
        assert moved == "q"
        assert connection.execute(select(metric_keys)).all() == []  # deleted with its run
        assert [(v["name"], v["state"]) for v in list_views(connection, project)] == [
            ("v", {"filter": ""})
        ]
