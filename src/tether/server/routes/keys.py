"""API keys: one's own (``/keys``), a user's (server admins) and a team's (its admins).

A new key is in the answer once and never again; lists show each key's prefix, description,
creation, last use, expiry and state. A revoked key answers 401 from its next request on.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine

from tether.server import keys, teams
from tether.server.auth import User, create_key, user_by_name
from tether.server.deps import EngineDep, UserDep
from tether.server.keys import MAX_DESCRIPTION_CHARS
from tether.server.routes.admin import AdminDep, NamePath, team_for

router = APIRouter()

KeyIdPath = Annotated[int, Path(ge=1, le=2**53, description="A key's id (from a key list).")]


class NewKey(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: str | None = Field(
        None, max_length=MAX_DESCRIPTION_CHARS, pattern=r"^[^\x00]*$", description="What for."
    )
    expires_at: float | None = Field(
        None, gt=0, lt=2**40, description="Unix time after which the key stops working."
    )


def _create(engine: Engine, owner: str, body: NewKey) -> dict[str, Any]:
    if body.expires_at is not None and body.expires_at <= time.time():
        raise HTTPException(422, "expires_at is in the past: give a Unix time in the future")
    key = create_key(engine, owner, description=body.description, expires_at=body.expires_at)
    with engine.connect() as connection:
        return keys.created_key_json(connection, key)


def _user_caller(engine: Engine, caller: User) -> User:
    with engine.connect() as connection:
        stored = user_by_name(connection, caller.name)
    if caller.is_team or stored is None or stored.is_team:
        raise HTTPException(
            403,
            "a team's key cannot manage keys; a team admin does, at /api/v1/teams/{team}/keys",
        )
    return caller


def _revoke(engine: Engine, owner: User | None, key_id: int) -> dict[str, Any]:
    """Revoke a key of ``owner`` (None: of anyone, for a server admin)."""
    with engine.connect() as connection:
        holder = keys.key_owner_id(connection, key_id)
        from_env = keys.is_from_env(connection, key_id)
    if holder is None or (owner is not None and holder != owner.id):
        raise HTTPException(404, f"no key {key_id}" + (f" of {owner.name!r}" if owner else ""))
    if from_env:
        # Revoking it here would lock the operator out until the next restart: the variable
        # is where this key lives, and changing it (then restarting) revokes this one.
        raise HTTPException(
            409,
            f"key {key_id} is TETHER_SERVER_ADMIN_KEY's: set a new key in that variable and "
            "restart the server, which revokes this one",
        )
    keys.revoke_key(engine, key_id)
    return {"id": key_id, "state": "revoked"}


@router.get("/keys")
def my_keys(caller: UserDep, engine: EngineDep) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        return keys.list_keys(connection, _user_caller(engine, caller))


@router.post("/keys", status_code=201)
def new_key(body: NewKey, caller: UserDep, engine: EngineDep) -> dict[str, Any]:
    """A new key of one's own; the answer's ``key`` is shown this once."""
    return _create(engine, _user_caller(engine, caller).name, body)


@router.delete("/keys/{key_id}")
def revoke_my_key(key_id: KeyIdPath, caller: UserDep, engine: EngineDep) -> dict[str, Any]:
    """Revoke one of one's own keys (a server admin: anyone's)."""
    owner = _user_caller(engine, caller)
    return _revoke(engine, None if owner.admin else owner, key_id)


@router.get("/users/{name}/keys")
def user_keys(name: NamePath, caller: AdminDep, engine: EngineDep) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        user = user_by_name(connection, name)
        if user is None:
            raise HTTPException(404, f"no user or team {name!r}")
        return keys.list_keys(connection, user)


@router.post("/users/{name}/keys", status_code=201)
def new_user_key(
    name: NamePath, body: NewKey, caller: AdminDep, engine: EngineDep
) -> dict[str, Any]:
    with engine.connect() as connection:
        user = user_by_name(connection, name)
    if user is None or user.is_team:
        raise HTTPException(404, f"no user {name!r} (a team's keys: /teams/{name}/keys)")
    return _create(engine, name, body)


@router.get("/teams/{team}/keys")
def team_keys(team: NamePath, caller: UserDep, engine: EngineDep) -> list[dict[str, Any]]:
    found = team_for(engine, caller, team, teams.ADMIN)
    with engine.connect() as connection:
        return keys.list_keys(connection, found)


@router.post("/teams/{team}/keys", status_code=201)
def new_team_key(
    team: NamePath, body: NewKey, caller: UserDep, engine: EngineDep
) -> dict[str, Any]:
    """A key that acts as a member of the team (for CI): reads and writes its runs."""
    found = team_for(engine, caller, team, teams.ADMIN)
    return _create(engine, found.name, body)


@router.delete("/teams/{team}/keys/{key_id}")
def revoke_team_key(
    team: NamePath, key_id: KeyIdPath, caller: UserDep, engine: EngineDep
) -> dict[str, Any]:
    found = team_for(engine, caller, team, teams.ADMIN)
    return _revoke(engine, found, key_id)
