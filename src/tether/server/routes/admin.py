"""Who am I, users (server admins) and teams (their admins): ``/viewer``, ``/users``, ``/teams``.

Server admins create users and teams and can disable a user; a team's admins manage its
members (``tether.server.teams`` has the roles). Keys are in ``routes.keys``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path
from pydantic import BaseModel, ConfigDict, Field

from tether.server import teams
from tether.server.auth import NAME_PATTERN, User, add_user, create_key
from tether.server.deps import EngineDep, UserDep
from tether.server.keys import created_key_json

router = APIRouter()

NamePath = Annotated[str, Path(pattern=NAME_PATTERN, description="A user or team name.")]
Role = Literal["viewer", "member", "admin"]


def server_admin(caller: UserDep) -> User:
    if not caller.admin:
        raise HTTPException(
            403, "only a server admin may do this (`tether server user add --admin`)"
        )
    return caller


AdminDep = Annotated[User, Depends(server_admin)]


class NewUser(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=NAME_PATTERN, description="The user's name.")
    admin: bool = False


class UserChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    disabled: bool | None = Field(None, description="True: the user's keys stop working.")
    admin: bool | None = None
    default_owner: str | None = Field(
        None, pattern=NAME_PATTERN, description="Where its runs go when the client names none."
    )


class NewTeam(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=NAME_PATTERN, description="The team's name (its namespace).")
    admin: str | None = Field(None, pattern=NAME_PATTERN, description="Its first admin.")


class Membership(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Role


@router.get("/viewer")
def viewer(caller: UserDep) -> dict[str, Any]:
    return {"user": caller.name, "admin": caller.admin}


@router.get("/users")
def list_users(caller: AdminDep, engine: EngineDep) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        return teams.list_users(connection)


@router.post("/users", status_code=201)
def create_user(body: NewUser, caller: AdminDep, engine: EngineDep) -> dict[str, Any]:
    """A new user and its first key (shown once)."""
    try:
        add_user(engine, body.name, admin=body.admin)
    except ValueError as exc:
        raise HTTPException(409, str(exc)) from exc
    key = create_key(engine, body.name, description="first key")
    with engine.connect() as connection:
        return {"name": body.name, "admin": body.admin, "key": created_key_json(connection, key)}


@router.patch("/users/{name}")
def change_user(
    name: NamePath, body: UserChange, caller: AdminDep, engine: EngineDep
) -> dict[str, Any]:
    if name == caller.name and (body.disabled or body.admin is False):
        raise HTTPException(
            409, "a server admin cannot disable itself or drop its own admin role; another can"
        )
    try:
        teams.update_user(
            engine,
            name,
            disabled=body.disabled,
            admin=body.admin,
            default_owner=body.default_owner,
        )
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from exc
    with engine.connect() as connection:
        return next(u for u in teams.list_users(connection) if u["name"] == name)


@router.get("/teams")
def list_teams(caller: UserDep, engine: EngineDep) -> list[dict[str, Any]]:
    """The teams the caller belongs to, with its role (a server admin: all of them)."""
    with engine.connect() as connection:
        return teams.teams_of(connection, caller)


@router.post("/teams", status_code=201)
def create_team(body: NewTeam, caller: AdminDep, engine: EngineDep) -> dict[str, Any]:
    try:
        teams.create_team(engine, body.name, admin=body.admin)
    except ValueError as exc:
        raise HTTPException(409, str(exc)) from exc
    except LookupError as exc:
        raise HTTPException(422, f"admin: {exc}") from exc
    with engine.connect() as connection:
        team = teams.require(connection, caller, body.name, teams.VIEWER)
        return {"name": team.name, "members": teams.members(connection, team)}


def team_for(engine: Any, caller: User, name: str, need: str) -> User:
    """The team ``name`` if the caller's role there is at least ``need`` (404 / 403)."""
    with engine.connect() as connection:
        try:
            team = teams.require(connection, caller, name, need)
        except teams.AccessError as exc:
            raise HTTPException(exc.status, exc.detail) from exc
    if not team.is_team:
        raise HTTPException(404, f"{name!r} is a user, not a team")
    return team


@router.get("/teams/{team}")
def team_detail(team: NamePath, caller: UserDep, engine: EngineDep) -> dict[str, Any]:
    found = team_for(engine, caller, team, teams.VIEWER)
    with engine.connect() as connection:
        return {"name": found.name, "members": teams.members(connection, found)}


@router.put("/teams/{team}/members/{user}")
def set_member(
    team: NamePath, user: NamePath, body: Membership, caller: UserDep, engine: EngineDep
) -> dict[str, Any]:
    """Add ``user`` to the team with ``role``, or change its role (team admins)."""
    found = team_for(engine, caller, team, teams.ADMIN)
    try:
        teams.set_role(engine, found.name, user, body.role)
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from exc
    return {"team": found.name, "user": user, "role": body.role}


@router.delete("/teams/{team}/members/{user}")
def remove_member(
    team: NamePath, user: NamePath, caller: UserDep, engine: EngineDep
) -> dict[str, Any]:
    found = team_for(engine, caller, team, teams.ADMIN)
    try:
        removed = teams.remove_member(engine, found.name, user)
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from exc
    if not removed:
        raise HTTPException(404, f"{user!r} is not a member of {found.name!r}")
    return {"team": found.name, "user": user, "removed": True}
