"""Which namespace a request acts in, and whether its key may: FastAPI dependencies.

Every project route exists twice: ``/api/v1/projects/...`` acts in the caller's default
namespace (its own, or the default team an admin set for it), and
``/api/v1/owners/{owner}/projects/...`` in the namespace ``owner``, a user or a team. Routes
take ``ReadOwner`` or ``WriteOwner``: the owner's ``User``, once the caller's role there allows
it (``tether.server.teams``: 404 when it has none, 403 when it is too low).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from contextlib import suppress
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Request

from tether.server.auth import NAME_PATTERN, User
from tether.server.deps import EngineDep, UserDep
from tether.server.teams import MEMBER, VIEWER, AccessError, create_team, require

OWNER_PREFIX = "/owners/{owner}"


def _owner_path(
    owner: Annotated[str, Path(pattern=NAME_PATTERN, description="A user or team name.")],
) -> None:
    """Declares (and validates) ``owner`` for the owner-qualified copies of the routes; the
    access dependencies read it from the request's path parameters."""


def _access(need: str) -> Callable[..., User]:
    def owner_of_request(request: Request, caller: UserDep, engine: EngineDep) -> User:
        owner_name = request.path_params.get("owner")
        if owner_name is not None and not re.fullmatch(NAME_PATTERN, owner_name):
            # FastAPI runs this dependency even when the path's own validation failed.
            raise HTTPException(
                422, f"owner {owner_name[:80]!r} is not a user or team name ({NAME_PATTERN})"
            )
        try:
            with engine.connect() as connection:
                return require(connection, caller, owner_name, need)
        except AccessError as exc:
            if not (exc.status == 404 and need == MEMBER and owner_name is not None):
                raise HTTPException(exc.status, exc.detail) from exc
            if request.app.state.settings.local_user is None or not caller.admin:
                raise HTTPException(exc.status, exc.detail) from exc
        # `tether ui` imports runs logged as "team/project": on that one-person server the
        # team is made on its first run, as a project is on a shared one.
        with suppress(ValueError):  # made meanwhile by a concurrent upload, or a bad name
            create_team(engine, owner_name)
        try:
            with engine.connect() as connection:
                return require(connection, caller, owner_name, need)
        except AccessError as exc:
            raise HTTPException(exc.status, exc.detail) from exc

    return owner_of_request


ReadOwner = Annotated[User, Depends(_access(VIEWER))]
WriteOwner = Annotated[User, Depends(_access(MEMBER))]


def include_project_routes(app: FastAPI, routers: Sequence[APIRouter], *, prefix: str) -> None:
    """Mount the project routers at ``prefix`` (the caller's default namespace) and at
    ``prefix/owners/{owner}`` (a named one)."""
    owner_dependencies: list[Any] = [Depends(_owner_path)]
    for router in routers:
        app.include_router(router, prefix=prefix)
        app.include_router(router, prefix=prefix + OWNER_PREFIX, dependencies=owner_dependencies)
