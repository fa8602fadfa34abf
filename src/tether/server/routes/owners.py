"""``/api/v1/owners``: the namespaces the caller can read, so that a page can browse them all.

A namespace is a user's own or a team's (``tether.server.teams``). The list holds the caller
itself (unless it is a team's key), then each team it can see with its role there (a server
admin: every team, as ``admin``); ``default`` marks where ``/api/v1/projects/...`` acts.
Every owner listed answers ``/api/v1/owners/{name}/projects``; no other owner does.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from tether.server import teams
from tether.server.deps import EngineDep, UserDep

router = APIRouter()


@router.get("/owners")
def list_owners(caller: UserDep, engine: EngineDep) -> list[dict[str, Any]]:
    """``[{"name", "kind": "user"|"team", "role", "default": bool}]``, the caller's own
    namespace first, then teams by name."""
    with engine.connect() as connection:
        default = teams.default_owner(connection, caller).name
        owners: list[dict[str, Any]] = []
        if not caller.is_team:
            owners.append({"name": caller.name, "kind": "user", "role": teams.ADMIN})
        owners += [
            {"name": team["name"], "kind": "team", "role": team["role"]}
            for team in teams.teams_of(connection, caller)
        ]
    return [{**owner, "default": owner["name"] == default} for owner in owners]
