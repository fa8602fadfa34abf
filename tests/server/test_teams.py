"""Namespaces and roles: a member logs into team/project, a viewer reads it, an outsider sees
nothing; a user's default team; a viewer cannot write; team admins manage members."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

import tether
from tether.server import teams
from tether.server.auth import User
from tether.server.storage.db import make_engine, migrate
from tether.server.testing import LiveServer
from tether.sync.http import AuthError
from tether.sync.offline import sync_paths

from ..conftest import run_script
from .accounts import add_team, add_user, admin_client, database_url, server

__all__ = ["database_url", "server"]  # fixtures, imported for pytest


def _log_run(run_dir: Path, project: str) -> tether.Run:
    with tether.init(project=project, dir=run_dir, console="off", config={"lr": 0.1}) as run:
        for step in range(20):
            run.log({"loss": 1.0 / (step + 1)})
    return run


def test_member_logs_into_team_viewer_reads_outsider_gets_404(
    server: LiveServer, run_dir: Path
) -> None:
    alice, bob, carol = (add_user(server, name) for name in ("alice", "bob", "carol"))
    add_team(server, "lab", {"alice": "member", "bob": "viewer"})
    run = _log_run(run_dir, "lab/vision")
    report = sync_paths([run.dir], base_url=server.base_url, api_key=alice.key, progress=False)
    assert not report.failed, report

    # The viewer reads it, through the API client and over HTTP.
    api = tether.Api(base_url=server.base_url, api_key=bob.key)
    [remote] = list(api.runs("lab/vision"))
    assert remote.project == "lab/vision" and remote.data["owner"] == "lab"
    assert remote.history(["loss"])["loss"].iloc[-1] == pytest.approx(1.0 / 20)
    assert api.run(f"lab/vision/{run.id}").config == {"lr": 0.1}
    assert bob.client.get("/owners/lab/projects").json()[0]["name"] == "vision"

    # The run is in the team's namespace, not in alice's own.
    assert alice.client.get(f"/projects/vision/runs/{run.id}").status_code == 404
    # An outsider gets 404 on every read, the same answer as for a team that does not exist.
    base = f"/owners/lab/projects/vision/runs/{run.id}"
    for path in (
        "/owners/lab/projects",
        "/owners/lab/projects/vision/runs",
        base,
        base + "/history",
    ):
        answer = carol.client.get(path)
        assert answer.status_code == 404, (path, answer.text)
        assert carol.client.get(path.replace("/lab/", "/nosuchteam/")).status_code == 404
    assert carol.client.get("/teams/lab").status_code == 404
    # Nor can one user read another's own namespace.
    assert carol.client.get("/owners/alice/projects").status_code == 404


def test_viewer_cannot_write_and_member_can(server: LiveServer, run_dir: Path) -> None:
    add_user(server, "alice")
    bob = add_user(server, "bob")
    add_team(server, "lab", {"alice": "member", "bob": "viewer"})
    run = _log_run(run_dir, "lab/p")
    with pytest.raises(AuthError, match="role in 'lab' is 'viewer'"):
        sync_paths([run.dir], base_url=server.base_url, api_key=bob.key, progress=False)
    segment = next((run.dir / "segments").iterdir())
    writer = segment.stem.rsplit("-", 1)[1]
    answer = bob.client.put(
        f"/owners/lab/projects/p/runs/{run.id}/segments/{writer}", content=segment.read_bytes()
    )
    assert answer.status_code == 403 and "viewer" in answer.json()["detail"]
    # Made a member, the same key writes.
    with admin_client(server) as admin:
        assert admin.put("/teams/lab/members/bob", json={"role": "member"}).status_code == 200
    again = sync_paths([run.dir], base_url=server.base_url, api_key=bob.key, progress=False)
    assert not again.failed
    assert bob.client.get("/owners/lab/projects/p/runs").json()["total"] == 1


def test_online_run_writes_into_the_team(server: LiveServer, run_dir: Path) -> None:
    alice = add_user(server, "alice")
    add_team(server, "lab", {"alice": "member"})
    finished = run_script(
        run_dir,
        """
        import tether
        with tether.init(project="lab/online", mode="online", console="off") as run:
            run.log({"x": 1.0})
        print(run.id)
        """,
        env={"TETHER_BASE_URL": server.base_url, "TETHER_API_KEY": alice.key},
    )
    run_id = finished.stdout.strip().splitlines()[-1]
    detail = alice.client.get(f"/owners/lab/projects/online/runs/{run_id}")
    assert detail.status_code == 200, detail.text
    assert detail.json()["state"] == "finished"


def test_default_team_receives_runs_that_name_no_owner(server: LiveServer, run_dir: Path) -> None:
    alice = add_user(server, "alice")
    bob = add_user(server, "bob")
    add_team(server, "lab", {"alice": "member", "bob": "viewer"})
    with admin_client(server) as admin:
        changed = admin.patch("/users/alice", json={"default_owner": "lab"})
        assert changed.status_code == 200 and changed.json()["default_owner"] == "lab"
    run = _log_run(run_dir, "plain")
    report = sync_paths([run.dir], base_url=server.base_url, api_key=alice.key, progress=False)
    assert not report.failed
    assert bob.client.get("/owners/lab/projects/plain/runs").json()["total"] == 1
    assert alice.client.get("/owners/alice/projects").json() == []


def test_team_admin_manages_members_and_members_do_not(server: LiveServer) -> None:
    add_user(server, "ann")
    bob = add_user(server, "bob")
    add_user(server, "cid")
    with admin_client(server) as admin:
        made = admin.post("/teams", json={"name": "lab", "admin": "ann"})
        assert made.status_code == 201
        assert made.json()["members"] == [
            {"user": "ann", "role": "admin", "added_at": made.json()["members"][0]["added_at"]}
        ]
    ann = httpx.Client(base_url=bob.client.base_url)  # ann's key comes from a new key below
    with admin_client(server) as admin:
        ann_key = admin.post("/users/ann/keys", json={"description": "laptop"}).json()["key"]
    ann.headers["Authorization"] = f"Bearer {ann_key}"
    assert ann.put("/teams/lab/members/bob", json={"role": "member"}).status_code == 200
    # A member cannot manage the team: 403 (it can see the team), and the role must be valid.
    answer = bob.client.put("/teams/lab/members/cid", json={"role": "admin"})
    assert answer.status_code == 403 and "admin" in answer.json()["detail"]
    assert ann.put("/teams/lab/members/cid", json={"role": "owner"}).status_code == 422
    assert ann.put("/teams/lab/members/nobody", json={"role": "viewer"}).status_code == 404
    assert {t["name"] for t in bob.client.get("/teams").json()} == {"lab"}
    assert ann.delete("/teams/lab/members/bob").status_code == 200
    assert bob.client.get("/teams/lab").status_code == 404
    # Only a server admin creates teams and users.
    assert ann.post("/teams", json={"name": "other"}).status_code == 403
    assert ann.post("/users", json={"name": "eve"}).status_code == 403
    ann.close()


def test_bad_names_are_refused_naming_the_field(server: LiveServer) -> None:
    with admin_client(server) as admin:
        for name in ("", "a/b", "-x", "x" * 129, "a b", "é"):
            answer = admin.post("/teams", json={"name": name})
            assert answer.status_code == 422 and "name" in answer.text, (name, answer.text)
            assert admin.post("/users", json={"name": name}).status_code == 422


def test_a_team_key_is_a_member_however_the_caller_was_built(tmp_path: Path) -> None:
    """A caller object made from a session cookie knows no kind; the role comes from the
    namespace as stored, so a team's key never becomes the team's admin."""
    engine = make_engine(f"sqlite:///{tmp_path / 'tether.db'}")
    migrate(engine)
    team = teams.create_team(engine, "lab")
    as_if_user = User(id=team.id, name="lab", admin=False)
    with engine.connect() as connection:
        assert teams.role_in(connection, as_if_user, team) == teams.MEMBER
        with pytest.raises(teams.AccessError) as refused:
            teams.require(connection, as_if_user, "lab", teams.ADMIN)
    assert refused.value.status == 403
    engine.dispose()


def test_tether_ui_shows_runs_logged_into_a_team(run_dir: Path) -> None:
    """`tether ui` is one person's server: a run logged as "lab/p" makes the team "lab" there
    (on a shared server only an admin makes teams, and an unknown owner answers 404)."""
    run = _log_run(run_dir, "lab/p")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TETHER_")}
    ui = subprocess.Popen(
        [sys.executable, "-m", "tether.cli", "ui", str(run_dir), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        assert ui.stdout is not None
        url = re.search(r"(http://127\.0\.0\.1:\d+)", ui.stdout.readline())
        assert url is not None
        runs = f"{url.group(1)}/api/v1/owners/lab/projects/p/runs"
        deadline = time.monotonic() + 120  # a bound on the wait, not a speed assertion
        listed: list[str] = []
        while not listed and time.monotonic() < deadline:
            answer = httpx.get(runs, timeout=10)
            listed = [r["id"] for r in answer.json()["runs"]] if answer.is_success else []
            time.sleep(0.2)
        assert listed == [run.id]
    finally:
        ui.send_signal(signal.SIGINT)
        try:
            ui.wait(timeout=20)
        except subprocess.TimeoutExpired:
            ui.kill()
            ui.wait(timeout=20)
