"""Reading a run's system metrics and environment (``tether.server.system``, ``environment``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from tether.server import environment, queries, system
from tether.server.access import ReadOwner
from tether.server.deps import EngineDep
from tether.server.ingest_checks import KEY_CHARS
from tether.server.routes.ingest import ProjectPath, RunPath
from tether.server.routes.runs import NO_NUL

router = APIRouter()


@router.get("/projects/{project}/runs/{run_id}/system")
def system_metrics(
    project: ProjectPath,
    run_id: RunPath,
    owner: ReadOwner,
    engine: EngineDep,
    metrics: Annotated[
        str | None,
        Query(
            max_length=65536,
            pattern=NO_NUL,
            description="Comma-separated metric names (`host.cpu_percent,gpu.0.util_percent`); "
            "all of the run's when absent.",
        ),
    ] = None,
    writer: Annotated[str | None, Query(max_length=128, pattern=NO_NUL)] = None,
    samples: Annotated[
        int | None, Query(ge=2, le=1_000_000, description="At most about this many points.")
    ] = None,
) -> dict[str, Any]:
    wanted = None
    if metrics is not None:
        wanted = [name for name in metrics.split(",") if name]
        long = next((name for name in wanted if len(name) > KEY_CHARS), None)
        if long is not None:
            raise HTTPException(
                422,
                f"metrics: {long[:40]!r}... has {len(long)} characters; a system metric name "
                f"has at most {KEY_CHARS}",
            )
    with engine.connect() as connection:
        row = queries.run_row(connection, owner, project, run_id)
        answer = system.read_series(
            connection, row.id, metrics=wanted, writer=writer, samples=samples
        )
        answer["metrics"] = system.metric_names(connection, row.id)
        return answer


@router.get("/projects/{project}/runs/{run_id}/environment")
def run_environment(
    project: ProjectPath, run_id: RunPath, owner: ReadOwner, engine: EngineDep
) -> dict[str, Any]:
    with engine.connect() as connection:
        row = queries.run_row(connection, owner, project, run_id)
        return environment.read(connection, row.id)
