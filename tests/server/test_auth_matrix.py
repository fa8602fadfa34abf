"""Every route of the OpenAPI schema, against every kind of caller: each answer is the one its
role allows (2xx), or the designed refusal (401 no working key, 403 a role too low, 404 a
namespace it cannot see); never a 2xx where not allowed, never a 500.

A route missing from ``RULES`` fails the test: a new route must say who may call it.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

import tether
from tether.server.auth import create_key
from tether.server.blobs.local import LocalBlobStore
from tether.server.config import server_settings
from tether.server.storage.db import make_engine
from tether.server.testing import LiveServer

from .accounts import add_team, add_user, admin_client, client, database_url, server

__all__ = ["database_url", "server"]  # fixtures, imported for pytest

INVALID = ("no key", "wrong key", "revoked key", "expired key")
USERS = ("viewer", "member", "team admin", "outsider", "server admin")
CALLERS = (*INVALID, *USERS, "other team's key")

# Who may call a route, as the answer each caller gets: 2xx where allowed.
OK, DENIED, HIDDEN = 200, 403, 404
_TEAM_ROLES = {"viewer": 0, "member": 1, "team admin": 2, "server admin": 2}


def expected(rule: str, caller: str) -> int:
    if caller in INVALID:
        return 401
    team_key = caller == "other team's key"
    if rule in ("any", "own namespace", "sign in"):
        return OK
    if rule == "users only":
        return DENIED if team_key else OK
    if rule == "server admin":
        return OK if caller == "server admin" else DENIED
    need = {"team read": 0, "team write": 1, "team admin": 2}[rule]
    role = _TEAM_ROLES.get(caller)
    if role is None:
        return HIDDEN  # outsiders and other teams' keys: as if team and project did not exist
    return OK if role >= need else DENIED


RULES: dict[tuple[str, str], str] = {
    ("get", "/api/v1/viewer"): "any",
    ("get", "/api/v1/session"): "any",
    ("post", "/api/v1/session"): "sign in",
    ("delete", "/api/v1/session"): "any",
    ("get", "/api/v1/users"): "server admin",
    ("post", "/api/v1/users"): "server admin",
    ("patch", "/api/v1/users/{name}"): "server admin",
    ("get", "/api/v1/users/{name}/keys"): "server admin",
    ("post", "/api/v1/users/{name}/keys"): "server admin",
    ("get", "/api/v1/teams"): "any",
    ("get", "/api/v1/owners"): "any",
    ("post", "/api/v1/teams"): "server admin",
    ("get", "/api/v1/teams/{team}"): "team read",
    ("put", "/api/v1/teams/{team}/members/{user}"): "team admin",
    ("delete", "/api/v1/teams/{team}/members/{user}"): "team admin",
    ("get", "/api/v1/teams/{team}/keys"): "team admin",
    ("post", "/api/v1/teams/{team}/keys"): "team admin",
    ("delete", "/api/v1/teams/{team}/keys/{key_id}"): "team admin",
    ("get", "/api/v1/keys"): "users only",
    ("post", "/api/v1/keys"): "users only",
    ("delete", "/api/v1/keys/{key_id}"): "users only",
}
_PROJECT_ROUTES = (
    ("get", "/projects"),
    ("get", "/projects/{project}/runs"),
    ("get", "/projects/{project}/runs/{run_id}"),
    ("get", "/projects/{project}/runs/{run_id}/history"),
    ("get", "/projects/{project}/runs/{run_id}/console"),
    ("get", "/projects/{project}/runs/{run_id}/system"),
    ("get", "/projects/{project}/runs/{run_id}/environment"),
    ("get", "/projects/{project}/runs/{run_id}/segments"),
    ("put", "/projects/{project}/runs/{run_id}/segments/{writer_id}"),
    ("post", "/projects/{project}/runs/{run_id}/blobs/missing"),
    ("put", "/projects/{project}/runs/{run_id}/blobs/{sha256}"),
    ("get", "/projects/{project}/runs/{run_id}/blobs/{sha256}"),
    ("get", "/projects/{project}/runs/{run_id}/media/keys"),
    ("get", "/projects/{project}/runs/{run_id}/media"),
    ("get", "/projects/{project}/runs/{run_id}/media/steps"),
    ("post", "/projects/{project}/runs/{run_id}/blobs/{sha256}/uploaded"),
    ("get", "/projects/{project}/runs/{run_id}/artifacts"),
    ("get", "/projects/{project}/artifacts"),
    ("get", "/projects/{project}/artifacts/{name}/versions"),
    ("get", "/projects/{project}/artifacts/{name}/{ref}"),
    ("get", "/projects/{project}/artifacts/{name}/{ref}/files/{path}"),
    ("put", "/projects/{project}/artifacts/{name}/aliases/{alias}"),
    ("delete", "/projects/{project}/artifacts/{name}/aliases/{alias}"),
    ("delete", "/projects/{project}/artifacts/{name}/{version}"),
    ("get", "/projects/{project}/runs/keys"),
    ("get", "/projects/{project}/runs/groups"),
    ("get", "/projects/{project}/runs/groups/history"),
    ("get", "/projects/{project}/runs/lines"),
    ("get", "/projects/{project}/views"),
    ("put", "/projects/{project}/views/{name}"),
    ("delete", "/projects/{project}/views/{name}"),
)
# Reads sent as a POST (a body too long for a URL): a viewer's role.
_PROJECT_READS = {("post", "/projects/{project}/runs/history")}
for _method, _path in (*_PROJECT_ROUTES, *_PROJECT_READS):
    RULES[(_method, "/api/v1" + _path)] = "own namespace"
    RULES[(_method, "/api/v1/owners/{owner}" + _path)] = (
        "team write"
        if _method in ("put", "post", "delete") and (_method, _path) not in _PROJECT_READS
        else "team read"
    )
# Called with its strongest action, "delete": the namespace's admin role (a user is the admin
# of their own namespace; a team's key is a member of its team). Tag, untag and move need a
# member's role: tests/server/test_views_bulk.py.
RULES[("post", "/api/v1/projects/{project}/runs/bulk")] = "users only"
RULES[("post", "/api/v1/owners/{owner}/projects/{project}/runs/bulk")] = "team admin"
# Versions of artifact "extra" the run logs: enough for every allowed DELETE of one.
ARTIFACT_VERSIONS = 5


class World:
    """A live server with team ``lab`` (a viewer, a member, an admin), team ``other`` (whose
    admin is the outsider, and which has a key of its own), and one run everywhere."""

    def __init__(self, server: LiveServer, run_dir: Path) -> None:
        self.server = server
        self.names = itertools.count()
        from tests.artifacts.server_helpers import file_entry, log_info, write_artifact

        self.artifact_blobs: dict[str, bytes] = {}
        with tether.init(project="proj", dir=run_dir, console="off") as run:
            run.log({"loss": 0.5})
            for number in range(ARTIFACT_VERSIONS):
                entry, blobs = file_entry("w.bin", b"weights %d" % number)
                write_artifact(run, log_info("extra", [entry]), blobs)
                self.artifact_blobs.update(blobs)
        # The newest version each namespace has left to delete.
        self.newest: dict[str, int] = {}
        [segment] = list((run.dir / "segments").iterdir())
        self.run_id = run.id
        self.writer_id = segment.stem.rsplit("-", 1)[1]
        self.segment = segment.read_bytes()
        self.sha256 = hashlib.sha256(self.segment).hexdigest()
        accounts = {role: add_user(server, role.replace(" ", "-")) for role in USERS[:-1]}
        add_team(server, "lab", {"viewer": "viewer", "member": "member", "team-admin": "admin"})
        add_team(server, "other", {"outsider": "admin"})
        add_user(server, "extra")
        self.keys: dict[str, str | None] = {role: a.key for role, a in accounts.items()}
        self.keys["server admin"] = server.api_key
        with admin_client(server) as admin:
            self.keys["other team's key"] = admin.post("/teams/other/keys", json={}).json()["key"]
            revoked = admin.post("/users/member/keys", json={}).json()
            admin.delete(f"/keys/{revoked['id']}").raise_for_status()
        engine = make_engine(server_settings(server.data_dir, server.database_url).database_url)
        expired = create_key(engine, "member", expires_at=time.time() - 1)
        engine.dispose()
        self.keys.update(
            {
                "no key": None,
                "wrong key": "tth_" + secrets.token_urlsafe(32),
                "revoked key": revoked["key"],
                "expired key": expired,
            }
        )
        # The run in lab/proj, and in every caller's own namespace (its default).
        self.upload(server.api_key, "/owners/lab")
        for caller in (*USERS, "other team's key"):
            self.upload(self.keys[caller], "")

    def upload(self, key: str | None, prefix: str) -> None:
        path = f"{prefix}/projects/proj/runs/{self.run_id}/segments/{self.writer_id}"
        with client(self.server, key) as caller:
            caller.put(path, content=self.segment).raise_for_status()
            # The segment's bytes as a blob too, so that reading it back is allowed.
            blob = f"{prefix}/projects/proj/runs/{self.run_id}/blobs/{self.sha256}"
            caller.put(blob, content=self.segment).raise_for_status()
            for sha, data in self.artifact_blobs.items():  # the versions commit
                path = f"{prefix}/projects/proj/runs/{self.run_id}/blobs/{sha}"
                caller.put(path, content=data).raise_for_status()

    def admin(self, method: str, path: str, **body: Any) -> Any:
        with admin_client(self.server) as admin:
            sends_body = method in ("post", "put", "patch")
            answer = admin.request(method, path, json=body if sends_body else None)
            answer.raise_for_status()
            return answer.json()

    def fill(self, method: str, template: str, caller: str) -> tuple[str, dict[str, Any]]:
        """The route's URL for one call, with real targets (made afresh where the call may
        consume them), and its body."""
        values = {
            "owner": "lab",
            "project": "proj",
            "run_id": self.run_id,
            "writer_id": self.writer_id,
            "team": "lab",
            "user": "extra",
            "name": "extra",
            "sha256": self.sha256,
        }
        if "{key_id}" in template:
            if "/teams/" in template:
                values["key_id"] = self.admin("post", "/teams/lab/keys")["id"]
            elif caller == "server admin":
                values["key_id"] = self.admin("post", "/keys")["id"]
            else:
                holder = caller.replace(" ", "-") if caller in USERS else "member"
                values["key_id"] = self.admin("post", f"/users/{holder}/keys")["id"]
        if method == "delete" and template.endswith("/members/{user}"):
            self.admin("put", "/teams/lab/members/extra", role="viewer")
        values.update(ref="latest", path="w.bin", alias="best")
        namespace = "lab" if "{owner}" in template else caller
        allowed = expected(RULES[(method, template)], caller) == OK
        if "{version}" in template:
            newest = self.newest.get(namespace, ARTIFACT_VERSIONS - 1)
            values["version"] = f"v{newest}"
            if allowed:
                self.newest[namespace] = newest - 1
        if template.endswith("/uploaded"):  # bytes a client put straight into the store
            data = b"direct %d" % next(self.names)
            values["sha256"] = hashlib.sha256(data).hexdigest()
            self.staging = f"{next(self.names):032x}"  # the staging object of a presigned PUT
            staged = LocalBlobStore(self.server.data_dir / "blobs").staging_path(self.staging)
            staged.parent.mkdir(exist_ok=True)
            staged.write_bytes(data)
        url = re.sub(r"\{(\w+)\}", lambda m: str(values[m.group(1)]), template)
        if method == "delete" and template.endswith("/aliases/{alias}"):
            key = self.keys[caller]
            with client(self.server, key) as own:  # refused alike when the DELETE is
                own.put(url.removeprefix("/api/v1"), json={"version": "v0"})
        if method == "delete" and template.endswith("/views/{name}"):
            key = self.keys[caller]
            with client(self.server, key) as own:  # refused alike when the DELETE is
                own.put(url.removeprefix("/api/v1"), json={"state": {}})
        if template.endswith(("/media", "/media/steps")):
            url += "?key=loss"
        elif template.endswith("/runs/groups"):
            url += "?by=group"
        elif template.endswith("/runs/groups/history"):
            url += "?by=group&keys=loss"
        return url, self.body(method, template, caller)

    def body(self, method: str, template: str, caller: str) -> dict[str, Any]:
        fresh = f"n{next(self.names)}"
        bodies: dict[str, Callable[[], dict[str, Any]]] = {
            "/api/v1/users": lambda: {"json": {"name": fresh}},
            "/api/v1/teams": lambda: {"json": {"name": fresh}},
            "/api/v1/users/{name}": lambda: {"json": {"disabled": False}},
            "/api/v1/teams/{team}/members/{user}": lambda: {"json": {"role": "viewer"}},
            "/api/v1/session": lambda: {"json": {"key": self.keys[caller] or "tth_none"}},
        }
        if template in bodies and method != "delete":
            return bodies[template]()
        if template.endswith("/keys") and method == "post":
            return {"json": {"description": "matrix"}}
        if template.endswith("/blobs/missing"):
            return {"json": {"sha256": [self.sha256]}}
        if template.endswith("/uploaded"):
            return {"json": {"staging": self.staging}}
        if template.endswith("/aliases/{alias}") and method == "put":
            return {"json": {"version": "v0"}}
        if template.endswith("/views/{name}") and method == "put":
            return {"json": {"state": {"filter": "state = 'finished'"}}}
        if template.endswith("/runs/history"):
            return {"json": {"runs": [self.run_id], "keys": ["loss"]}}
        if template.endswith("/runs/bulk"):  # no run of this id: the world's run stays
            return {"json": {"action": "delete", "runs": ["absent0"]}}
        if method == "put":
            return {"content": self.segment}
        return {}


def test_every_route_answers_every_caller_as_its_role_allows(
    server: LiveServer, run_dir: Path
) -> None:
    world = World(server, run_dir)
    schema = httpx.get(server.base_url + "/api/openapi.json").json()
    operations = {
        (method, path)
        for path, item in schema["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    }
    assert operations == set(RULES), (
        f"routes without a rule: {sorted(operations - set(RULES))}; "
        f"rules without a route: {sorted(set(RULES) - operations)}"
    )
    wrong = []
    for (method, template), rule in sorted(RULES.items()):
        for caller in CALLERS:
            url, body = world.fill(method, template, caller)
            key = world.keys[caller]
            headers = {} if key is None else {"Authorization": f"Bearer {key}"}
            answer = httpx.request(method, server.base_url + url, headers=headers, **body)
            want = expected(rule, caller)
            if want == OK:
                as_designed = 200 <= answer.status_code < 300
            else:
                as_designed = answer.status_code == want
            if not as_designed:
                said = answer.text[:120]
                wrong.append(f"{method.upper()} {url} as {caller}: {answer.status_code} {said}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("caller", ["viewer", "outsider"])
def test_refusals_change_nothing(server: LiveServer, run_dir: Path, caller: str) -> None:
    """A refused write leaves no trace: the run has the same rows, the team the same members."""
    world = World(server, run_dir)
    key = world.keys[caller]
    with client(server, key) as refused:
        refused.put("/teams/lab/members/extra", json={"role": "admin"})
        refused.put(
            f"/owners/lab/projects/new/runs/{world.run_id}/segments/{world.writer_id}",
            content=world.segment,
        )
    members = {m["user"]: m["role"] for m in world.admin("get", "/teams/lab")["members"]}
    assert "extra" not in members
    assert [p["name"] for p in world.admin("get", "/owners/lab/projects")] == ["proj"]
