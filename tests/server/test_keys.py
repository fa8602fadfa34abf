"""API keys: create (shown once), list, revoke, expiry, last use, stored as hashes; the admin
key from the environment replaces the previous one, and a short one is refused; a disabled
user's keys stop working; the `tether server user|team|key` commands."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import Engine, select

from tether.server.auth import create_key
from tether.server.config import server_settings
from tether.server.storage.db import make_engine
from tether.server.storage.schema import api_keys
from tether.server.testing import LiveServer

from .accounts import add_user, admin_client, client, database_url, server

__all__ = ["database_url", "server"]  # fixtures, imported for pytest


def _engine(server: LiveServer) -> Engine:
    """The live server's own database (the tests' environment has no TETHER_* variables)."""
    return make_engine(server_settings(server.data_dir, server.database_url).database_url)


def test_create_list_revoke_and_last_use(server: LiveServer) -> None:
    alice = add_user(server, "alice")
    made = alice.client.post("/keys", json={"description": "ci runner"})
    assert made.status_code == 201, made.text
    new = made.json()
    assert new["key"].startswith("tth_") and len(new["key"]) >= 32
    listed = {k["id"]: k for k in alice.client.get("/keys").json()}
    entry = listed[new["id"]]
    # Listed with its prefix and description, never the key; not used yet.
    assert entry["prefix"] == new["key"][:8] and "key" not in entry
    assert entry["description"] == "ci runner" and entry["last_used_at"] is None
    assert entry["state"] == "active" and entry["expires_at"] is None
    with client(server, new["key"]) as second:
        assert second.get("/viewer").json()["user"] == "alice"
        entry = {k["id"]: k for k in alice.client.get("/keys").json()}[new["id"]]
        assert entry["last_used_at"] is not None
        # Revoked: its very next request is refused; the other key still works.
        assert alice.client.delete(f"/keys/{new['id']}").json()["state"] == "revoked"
        assert second.get("/viewer").status_code == 401
    assert alice.client.get("/viewer").status_code == 200
    entry = {k["id"]: k for k in alice.client.get("/keys").json()}[new["id"]]
    assert entry["state"] == "revoked" and entry["revoked_at"] is not None
    # Nobody revokes someone else's key (404: not even its existence is told).
    bob = add_user(server, "bob")
    [bobs] = bob.client.get("/keys").json()
    assert alice.client.delete(f"/keys/{bobs['id']}").status_code == 404
    assert bob.client.get("/viewer").status_code == 200
    # The database holds digests and 8-character prefixes, no key in clear.
    engine = _engine(server)
    with engine.connect() as connection:
        stored = [tuple(row) for row in connection.execute(select(api_keys))]
    engine.dispose()
    assert not any(new["key"] in str(row) or alice.key in str(row) for row in stored)


def test_expiry(server: LiveServer) -> None:
    alice = add_user(server, "alice")
    later = time.time() + 3600
    made = alice.client.post("/keys", json={"expires_at": later}).json()
    assert made["expires_at"] == later
    with client(server, made["key"]) as expiring:
        assert expiring.get("/viewer").status_code == 200
    past = alice.client.post("/keys", json={"expires_at": time.time() - 1})
    assert past.status_code == 422 and "expires_at" in past.text
    # A key whose expiry has passed (made so in the server's database) stops working.
    engine = _engine(server)
    expired = create_key(engine, "alice", expires_at=time.time() - 1)
    engine.dispose()
    with client(server, expired) as old:
        answer = old.get("/viewer")
    assert answer.status_code == 401
    states = {k["prefix"]: k["state"] for k in alice.client.get("/keys").json()}
    assert states[expired[:8]] == "expired"


def test_disabled_user_keys_stop_at_once_and_work_again_when_enabled(
    server: LiveServer,
) -> None:
    alice = add_user(server, "alice")
    with admin_client(server) as admin:
        assert admin.patch("/users/alice", json={"disabled": True}).status_code == 200
        assert alice.client.get("/viewer").status_code == 401
        assert alice.client.get("/projects").status_code == 401
        users = {u["name"]: u for u in admin.get("/users").json()}
        assert users["alice"]["disabled"] is True
        assert admin.patch("/users/alice", json={"disabled": False}).status_code == 200
        assert alice.client.get("/viewer").status_code == 200
        # The admin cannot lock itself out.
        assert admin.patch("/users/admin", json={"disabled": True}).status_code == 409
        assert admin.patch("/users/admin", json={"admin": False}).status_code == 409
        assert admin.get("/users").status_code == 200


def test_env_admin_key_rotation_revokes_the_previous_one(tmp_path: Path) -> None:
    first = "tth_" + secrets.token_urlsafe(32)
    second = "tth_" + secrets.token_urlsafe(32)
    data = tmp_path / "server"
    with LiveServer(data, api_key=first) as server, admin_client(server) as admin:
        assert admin.get("/viewer").status_code == 200
    with LiveServer(data, api_key=second) as server:
        with client(server, first) as old:
            assert old.get("/viewer").status_code == 401
        with admin_client(server) as admin:
            assert admin.get("/viewer").json() == {"user": "admin", "admin": True}
            keys = {k["prefix"]: k for k in admin.get("/keys").json()}
            # The environment's key is revoked by changing the variable, not through the API
            # (which would lock the operator out until a restart).
            refused = admin.delete(f"/keys/{keys[second[:8]]['id']}")
            assert refused.status_code == 409 and "TETHER_SERVER_ADMIN_KEY" in refused.text
            assert admin.get("/viewer").status_code == 200
    assert keys[first[:8]]["state"] == "revoked" and keys[first[:8]]["from_env"]
    assert keys[second[:8]]["state"] == "active"
    # Restarting with the same key keeps it (and does not bring the old one back).
    with (
        LiveServer(data, api_key=second) as server,
        admin_client(server) as admin,
        client(server, first) as old,
    ):
        assert admin.get("/viewer").status_code == 200
        assert old.get("/viewer").status_code == 401


def test_env_admin_key_set_back_to_an_earlier_one_works_again(tmp_path: Path) -> None:
    """A -> B -> A: the variable is the operator's way in; it must never lock them out."""
    first = "tth_" + secrets.token_urlsafe(32)
    second = "tth_" + secrets.token_urlsafe(32)
    data = tmp_path / "server"
    with LiveServer(data, api_key=first):
        pass
    with LiveServer(data, api_key=second) as server, admin_client(server) as admin:
        # Another admin disables the env key's user and takes its admin right.
        made = admin.post("/users", json={"name": "bob", "admin": True})
        assert made.status_code == 201, made.text
        bob_key = made.json()["key"]["key"]
    with LiveServer(data, api_key=second) as server, client(server, bob_key) as bob:
        assert bob.patch("/users/admin", json={"disabled": True}).status_code == 200
    with LiveServer(data, api_key=first) as server:
        with admin_client(server) as admin:
            assert admin.get("/viewer").json() == {"user": "admin", "admin": True}
        with client(server, second) as old:
            assert old.get("/viewer").status_code == 401


def test_short_env_admin_key_is_refused_with_how_to_make_one(tmp_path: Path) -> None:
    env = {**os.environ, "TETHER_SERVER_ADMIN_KEY": "x" * 31}
    command = [sys.executable, "-m", "tether.cli", "server", "--port", "0"]
    finished = subprocess.run(
        [*command, "--data-dir", str(tmp_path / "s")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert finished.returncode != 0
    assert "TETHER_SERVER_ADMIN_KEY has 31 characters" in finished.stderr
    assert "secrets.token_urlsafe(32)" in finished.stderr
    assert "Traceback" not in finished.stderr


def _cli(server: LiveServer, *args: str) -> subprocess.CompletedProcess[str]:
    where = ["--data-dir", str(server.data_dir)]
    if server.database_url:
        where += ["--database-url", server.database_url]
    return subprocess.run(
        [sys.executable, "-m", "tether.cli", "server", *where, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("TETHER_")},
    )


def test_cli_manages_users_teams_and_keys(server: LiveServer) -> None:
    added = _cli(server, "user", "add", "dana")
    assert added.returncode == 0, added.stderr
    dana_key = added.stdout.strip()
    assert _cli(server, "user", "add", "dana").returncode != 0  # exists: a message, no trace
    assert _cli(server, "team", "add", "lab", "--admin", "dana").returncode == 0
    made = _cli(server, "key", "create", "dana", "--description", "laptop", "--expires-in", "7")
    laptop_key = made.stdout.strip()
    with client(server, dana_key) as dana, client(server, laptop_key) as laptop:
        assert laptop.get("/viewer").json()["user"] == "dana"
        assert dana.get("/teams").json() == [{"name": "lab", "role": "admin"}]
        listing = _cli(server, "key", "list", "dana").stdout
        assert "laptop" in listing and laptop_key[:8] in listing and laptop_key not in listing
        key_id = next(k["id"] for k in dana.get("/keys").json() if k["description"] == "laptop")
        revoked = _cli(server, "key", "revoke", str(key_id))
        assert revoked.returncode == 0 and laptop.get("/viewer").status_code == 401
        assert _cli(server, "user", "disable", "dana").returncode == 0
        assert dana.get("/viewer").status_code == 401
        assert _cli(server, "user", "enable", "dana").returncode == 0
        assert dana.get("/viewer").status_code == 200
    # A team's key acts as a member of the team: it writes there, and manages nothing.
    team_key = _cli(server, "key", "create", "lab").stdout.strip()
    with client(server, team_key) as ci:
        assert ci.get("/owners/lab/projects").status_code == 200
        assert ci.get("/teams/lab/keys").status_code == 403
        assert ci.post("/keys", json={}).status_code == 403
    assert "dana" in _cli(server, "team", "members", "lab").stdout
    assert _cli(server, "team", "set-role", "lab", "dana", "viewer").returncode == 0
    assert "viewer" in _cli(server, "team", "members", "lab").stdout
    missing = _cli(server, "key", "create", "nobody")
    assert missing.returncode != 0 and "no user 'nobody'" in missing.stderr
