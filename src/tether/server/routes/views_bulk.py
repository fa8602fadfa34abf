"""Saved workspace views (``P/views``) and actions on many runs (``POST P/runs/bulk``).

Who may do what: reading views needs a viewer's role in the namespace; saving or deleting a
view, and tagging, untagging or moving runs, a member's; deleting runs an admin's (a user is
the admin of their own namespace). Runs record no uploader, so a team's member cannot be
told apart as a run's author: deleting a team's runs is for the team's admins.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal

import msgspec
from fastapi import APIRouter, HTTPException, Path
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from sqlalchemy.exc import IntegrityError

from tether.server import queries
from tether.server.access import ReadOwner, WriteOwner
from tether.server.deps import ID_PATTERN, PROJECT_PATTERN, EngineDep, UserDep
from tether.server.routes.ingest import ProjectPath
from tether.server.run_bulk import delete_runs, move, retag
from tether.server.saved_views import MAX_STATE_BYTES, delete_view, list_views, save_view
from tether.server.teams import ADMIN, rank, role_in

router = APIRouter()

MAX_BULK_RUNS: Final = 10_000
ViewName = Annotated[
    str,
    Path(
        pattern=r"^[^/\x00]{1,128}$",
        description="A view's name: 1 to 128 characters, no slash.",
    ),
]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=r"^[^\x00]*$")]


@router.get("/projects/{project}/views")
def views(project: ProjectPath, owner: ReadOwner, engine: EngineDep) -> list[dict[str, Any]]:
    """The project's saved views, by name: ``[{"name", "state", "updated"}]``."""
    with engine.connect() as connection:
        return list_views(connection, queries.project_pk(connection, owner, project))


class ViewBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    state: dict[str, Any]


@router.put("/projects/{project}/views/{name}", response_model=None)
def put_view(
    project: ProjectPath,
    name: ViewName,
    body: ViewBody,
    owner: WriteOwner,
    caller: UserDep,
    engine: EngineDep,
) -> dict[str, Any] | JSONResponse:
    """Save (create or replace) the view ``name``: its ``state`` at most 64 KiB of JSON."""
    encoded = msgspec.json.encode(body.state)
    size = len(encoded)
    if size > MAX_STATE_BYTES:
        return JSONResponse(
            {"detail": f"the view's state is {size} bytes of JSON; at most {MAX_STATE_BYTES} "
                       "fit: keep long lists (columns, panels) shorter",
             "limit": MAX_STATE_BYTES},
            status_code=413,
        )  # fmt: skip
    try:
        with engine.begin() as connection:
            pk = queries.project_pk(connection, owner, project)
            # As JSON has it: a NaN that Python's parser let in is null (PostgreSQL's json
            # type refuses NaN).
            state = msgspec.json.decode(encoded)
            return save_view(connection, pk, name, state, caller.id)
    except ValueError as exc:
        raise HTTPException(409, str(exc)) from exc
    except IntegrityError as exc:  # saved at the same moment by another request: retry
        raise HTTPException(409, f"the view {name!r} was saved concurrently; retry") from exc


@router.delete("/projects/{project}/views/{name}")
def remove_view(
    project: ProjectPath, name: ViewName, owner: WriteOwner, engine: EngineDep
) -> dict[str, Any]:
    with engine.begin() as connection:
        if not delete_view(connection, queries.project_pk(connection, owner, project), name):
            raise HTTPException(404, f"no view {name!r} in project {project!r}")
    return {"deleted": name}


class BulkBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: Literal["tag", "untag", "move", "delete"]
    runs: list[Annotated[str, StringConstraints(pattern=ID_PATTERN)]] = Field(
        max_length=MAX_BULK_RUNS
    )
    tag: Tag | None = None
    project: Annotated[str, StringConstraints(pattern=PROJECT_PATTERN)] | None = None

    @model_validator(mode="after")
    def _needs(self) -> BulkBody:
        if self.action in ("tag", "untag") and self.tag is None:
            raise ValueError(f'{self.action} needs "tag": the tag to {self.action}')
        if self.action == "move" and self.project is None:
            raise ValueError('move needs "project": the project (same namespace) to move to')
        return self


@router.post("/projects/{project}/runs/bulk")
def bulk(
    project: ProjectPath, body: BulkBody, owner: WriteOwner, caller: UserDep, engine: EngineDep
) -> dict[str, Any]:
    """``{"changed": n}`` (and ``"skipped"``: ids a move left behind)."""
    with engine.begin() as connection:
        pk = queries.project_pk(connection, owner, project)
        if body.action == "delete":
            if rank(role_in(connection, caller, owner)) < rank(ADMIN):
                raise HTTPException(
                    403,
                    f"deleting runs of {owner.name!r} needs its admin role; a member may tag, "
                    "untag and move them",
                )
            return {"changed": delete_runs(connection, pk, body.runs)}
        if body.action == "move":
            assert body.project is not None
            changed, skipped = move(connection, owner, pk, body.runs, body.project)
            return {"changed": changed, "skipped": skipped}
        assert body.tag is not None
        return {"changed": retag(connection, pk, body.runs, body.tag, add=body.action == "tag")}
