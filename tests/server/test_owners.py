"""``GET /api/v1/owners`` (issue 11): the namespaces a caller can read, each one browsable;
and the one credential check (``auth.key_owner``) that API keys and web sessions share."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

import tether
from tether.errors import NotOnServerError
from tether.server.testing import LiveServer
from tether.sync.offline import sync_paths

from .accounts import add_team, add_user, admin_client, database_url, server

__all__ = ["database_url", "server"]  # fixtures, imported for pytest


def _owners(caller: httpx.Client) -> list[dict[str, object]]:
    answer = caller.get("/owners")
    assert answer.status_code == 200, answer.text
    return list(answer.json())


def test_owners_lists_own_namespace_and_teams_with_roles(server: LiveServer) -> None:
    alice, _ = add_user(server, "alice"), add_user(server, "bob")
    add_team(server, "lab", {"alice": "member"})
    add_team(server, "zoo", {"alice": "viewer"})
    add_team(server, "hidden", {"bob": "admin"})
    assert _owners(alice.client) == [
        {"name": "alice", "kind": "user", "role": "admin", "default": True},
        {"name": "lab", "kind": "team", "role": "member", "default": False},
        {"name": "zoo", "kind": "team", "role": "viewer", "default": False},
    ]
    # Every owner listed can be browsed; one not listed answers 404 as if it did not exist.
    for owner in _owners(alice.client):
        assert alice.client.get(f"/owners/{owner['name']}/projects").status_code == 200
    assert alice.client.get("/owners/hidden/projects").status_code == 404

    # Where the user's runs go by default is marked: a default team.
    with admin_client(server) as admin:
        admin.patch("/users/alice", json={"default_owner": "lab"}).raise_for_status()
        # A server admin sees itself and every team.
        assert [(o["name"], o["role"]) for o in _owners(admin)] == [
            ("admin", "admin"),
            ("hidden", "admin"),
            ("lab", "admin"),
            ("zoo", "admin"),
        ]
        team_key = admin.post("/teams/lab/keys", json={}).json()["key"]
    assert [o["name"] for o in _owners(alice.client) if o["default"]] == ["lab"]

    # A team's key acts only in its team.
    with httpx.Client(
        base_url=server.base_url + "/api/v1", headers={"Authorization": f"Bearer {team_key}"}
    ) as team:
        assert _owners(team) == [{"name": "lab", "kind": "team", "role": "member", "default": True}]


def test_owners_needs_a_working_key(server: LiveServer) -> None:
    assert httpx.get(server.base_url + "/api/v1/owners", timeout=30).status_code == 401


def test_a_web_session_is_checked_and_recorded_like_an_api_key(server: LiveServer) -> None:
    """Signing in and browsing with the cookie count as uses of the key (the keys page shows
    when each key was last used), as requests with the key itself do."""
    alice = add_user(server, "alice")
    signed_in = httpx.post(server.base_url + "/api/v1/session", json={"key": alice.key})
    assert signed_in.status_code == 200, signed_in.text
    with httpx.Client(base_url=server.base_url + "/api/v1", cookies=signed_in.cookies) as web:
        [key] = web.get("/keys").json()
        assert key["last_used_at"] is not None
        assert web.get("/owners").json()[0]["name"] == "alice"
        # Disabling the user ends the session at once, as it ends the key's API requests.
        with admin_client(server) as admin:
            admin.patch("/users/alice", json={"disabled": True}).raise_for_status()
        assert web.get("/owners").status_code == 401
        assert alice.client.get("/owners").status_code == 401


def test_api_lists_owners_and_each_owners_projects(server: LiveServer, run_dir: Path) -> None:
    alice = add_user(server, "alice")
    add_team(server, "lab", {"alice": "member"})
    for project in ("lab/vision", "notes"):
        with tether.init(project=project, dir=run_dir, console="off") as run:
            run.log({"loss": 0.5})
        report = sync_paths([run.dir], base_url=server.base_url, api_key=alice.key, progress=False)
        assert not report.failed, report
    api = tether.Api(base_url=server.base_url, api_key=alice.key)
    assert [(o["name"], o["kind"]) for o in api.owners()] == [("alice", "user"), ("lab", "team")]
    assert [p.name for p in api.projects(owner="lab")] == ["vision"]
    assert [p.name for p in api.projects(owner="alice")] == [p.name for p in api.projects()]
    assert [p.name for p in api.projects()] == ["notes"]
    assert len(api.runs("lab/vision")) == 1
    with pytest.raises(ValueError, match=r"owner='lab/vision'.*a user or team name"):
        api.projects(owner="lab/vision")
    with pytest.raises(NotOnServerError, match="nosuchteam"):
        api.projects(owner="nosuchteam")
