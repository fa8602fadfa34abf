"""Reading: who am I, projects, runs, history, console."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from tether.server import queries
from tether.server.access import ReadOwner
from tether.server.deps import EngineDep
from tether.server.routes.ingest import ProjectPath, RunPath
from tether.server.routes.run_query import FilterParam, database_refusals, filter_condition
from tether.server.run_keys import run_keys

router = APIRouter()

ORDER_PATTERN = (
    r"^-?(start_time|name|state|duration|last_step|(summary|config|environment)\.[^\s]{1,256})$"
)
# Free text goes into SQL parameters, and PostgreSQL refuses a NUL in any text: say so (422).
NO_NUL = r"^[^\x00]*$"


@router.get("/projects")
def projects(owner: ReadOwner, engine: EngineDep) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        return queries.list_projects(connection, owner)


@router.get("/projects/{project}/runs")
def runs(
    project: ProjectPath,
    owner: ReadOwner,
    engine: EngineDep,
    state: Annotated[str | None, Query(max_length=16, pattern=NO_NUL)] = None,
    group: Annotated[str | None, Query(max_length=256, pattern=NO_NUL)] = None,
    tag: Annotated[str | None, Query(max_length=256, pattern=NO_NUL)] = None,
    search: Annotated[str | None, Query(max_length=256, pattern=NO_NUL)] = None,
    order: Annotated[str, Query(pattern=ORDER_PATTERN)] = "-start_time",
    limit: Annotated[int, Query(ge=1, le=10_000)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
    filter: FilterParam = None,
) -> dict[str, Any]:
    with engine.connect() as connection, database_refusals():
        return queries.list_runs(
            connection,
            owner,
            project,
            state=state,
            group=group,
            tag=tag,
            search=search,
            order=order,
            limit=limit,
            offset=offset,
            where=filter_condition(filter, connection, owner),
        )


# Before /runs/{run_id}, which would take "keys" for a run id.
@router.get("/projects/{project}/runs/keys")
def keys(project: ProjectPath, owner: ReadOwner, engine: EngineDep) -> dict[str, list[Any]]:
    """The config, summary and environment keys, tags, groups, job types, users and hosts of
    the project's runs: for completing a filter and picking columns."""
    with engine.connect() as connection:
        return run_keys(connection, owner, queries.project_pk(connection, owner, project))


@router.get("/projects/{project}/runs/{run_id}")
def run(
    project: ProjectPath, run_id: RunPath, owner: ReadOwner, engine: EngineDep
) -> dict[str, Any]:
    with engine.connect() as connection:
        return queries.run_detail(connection, owner, project, run_id)


@router.get("/projects/{project}/runs/{run_id}/history")
def history(
    project: ProjectPath,
    run_id: RunPath,
    owner: ReadOwner,
    engine: EngineDep,
    keys: Annotated[
        str | None, Query(max_length=65536, pattern=NO_NUL, description="Comma-separated keys.")
    ] = None,
    writer: Annotated[str | None, Query(max_length=128, pattern=NO_NUL)] = None,
    samples: Annotated[int | None, Query(ge=2, le=1_000_000)] = None,
) -> dict[str, Any]:
    wanted = [k for k in keys.split(",") if k] if keys else None
    with engine.connect() as connection:
        return queries.history(
            connection, owner, project, run_id, keys=wanted, writer=writer, samples=samples
        )


@router.get("/projects/{project}/runs/{run_id}/console")
def console(
    project: ProjectPath,
    run_id: RunPath,
    owner: ReadOwner,
    engine: EngineDep,
    writer: Annotated[str | None, Query(max_length=128, pattern=NO_NUL)] = None,
    stream: Annotated[str | None, Query(pattern="^(stdout|stderr)$")] = None,
    after: Annotated[int, Query(ge=0, le=2**53)] = 0,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 1000,
) -> dict[str, Any]:
    with engine.connect() as connection:
        return queries.console(
            connection,
            owner,
            project,
            run_id,
            writer=writer,
            stream=stream,
            after=after,
            limit=limit,
        )
