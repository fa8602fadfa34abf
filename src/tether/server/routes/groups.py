"""The workspace's reads across runs: groups with aggregated summaries, one line per group
per metric, and the charts' series of many runs in one request.

Mounted before ``routes/runs.py``: ``/runs/groups`` would otherwise be read as a run id.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import select

from tether.server import queries
from tether.server.access import ReadOwner
from tether.server.deps import ID_PATTERN, EngineDep
from tether.server.group_history import AGGREGATES, BANDS, group_history
from tether.server.routes.ingest import ProjectPath
from tether.server.routes.run_query import FilterParam, database_refusals, filter_condition
from tether.server.routes.runs import ORDER_PATTERN
from tether.server.run_filter import FilterError
from tether.server.run_filter.parse import Field as RunField
from tether.server.run_filter.parse import parse_field
from tether.server.run_groups import group_runs, groups_json
from tether.server.run_lines import chosen_keys, run_lines
from tether.server.runs_order import page_ids
from tether.server.series import json_values
from tether.server.series_batch import cut_many, read_series
from tether.server.series_cache import project_series
from tether.server.storage.schema import runs

router = APIRouter()

MAX_BY: Final = 8
MAX_KEYS: Final = 100
MAX_RUNS: Final = 2000
NO_NUL = r"^[^\x00]*$"
ByParam = Annotated[
    list[str],
    Query(
        min_length=1,
        max_length=MAX_BY,
        description="A field to group by (config.lr, group, job_type, tags...); repeat for more.",
    ),
]
MetricKey = Annotated[str, StringConstraints(min_length=1, max_length=512, pattern=NO_NUL)]


def _fields(by: list[str]) -> list[RunField]:
    fields = []
    for index, text in enumerate(by):
        if len(text) > 600 or "\x00" in text:
            raise HTTPException(422, {"message": f"by[{index}] is not a field", "position": 0,
                                      "expected": ["a field"], "by": index})  # fmt: skip
        try:
            fields.append(parse_field(text))
        except FilterError as exc:
            raise HTTPException(422, {**exc.detail(), "by": index}) from exc
    return fields


@router.get("/projects/{project}/runs/groups")
def groups(
    project: ProjectPath,
    owner: ReadOwner,
    engine: EngineDep,
    by: ByParam,
    filter: FilterParam = None,
    keys: Annotated[list[MetricKey] | None, Query(max_length=MAX_KEYS)] = None,
) -> list[dict[str, Any]]:
    """The runs passing ``filter``, grouped by the ``by`` fields: key, label, count, run ids
    (the first 1,000) and per numeric summary key (``keys`` when given) mean, min, max, std
    and count."""
    fields = _fields(by)
    with engine.connect() as connection, database_refusals():
        pk = queries.project_pk(connection, owner, project)
        where = filter_condition(filter, connection, owner)
        found = group_runs(
            connection, owner=owner.name, project_pk=pk, by=fields, where=where, summary_keys=keys
        )
        return groups_json(found)


@router.get("/projects/{project}/runs/groups/history")
def groups_history(
    project: ProjectPath,
    owner: ReadOwner,
    engine: EngineDep,
    by: ByParam,
    keys: Annotated[list[MetricKey], Query(min_length=1, max_length=MAX_KEYS)],
    filter: FilterParam = None,
    agg: Annotated[str, Query(pattern="^(" + "|".join(AGGREGATES) + ")$")] = "mean",
    band: Annotated[str, Query(pattern="^(" + "|".join(BANDS) + ")$")] = "minmax",
    points: Annotated[int, Query(ge=2, le=5000)] = 500,
) -> dict[str, Any]:
    """``{group label: {metric: {step, value, low, high, n}}}``: per group, its runs' series
    aligned by step into at most ``points`` buckets and aggregated (``docs/api.md``)."""
    fields = _fields(by)
    with engine.connect() as connection, database_refusals():
        pk = queries.project_pk(connection, owner, project)
        where = filter_condition(filter, connection, owner)
        found = group_runs(
            connection, owner=owner.name, project_pk=pk, by=fields, where=where, with_summary=False
        )
        # The whole project's series (cached while unchanged): runs in no group are left out.
        series = {key: project_series(connection, pk, key, points=points) for key in keys}
    return group_history(found, series, agg=agg, band=band, points=points)


class HistoryRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    runs: list[Annotated[str, StringConstraints(pattern=ID_PATTERN)]] = Field(max_length=MAX_RUNS)
    keys: list[MetricKey] = Field(min_length=1, max_length=MAX_KEYS)
    points: int = Field(default=300, ge=2, le=5000)


@router.post("/projects/{project}/runs/history")
def runs_history(
    project: ProjectPath, owner: ReadOwner, engine: EngineDep, body: HistoryRequest
) -> dict[str, dict[str, dict[str, list[Any]]]]:
    """``{run id: {key: {step, value}}}`` for up to 2,000 runs: each series reduced on the
    server to about ``points`` points (every bucket's minimum and maximum kept). Runs not in
    the project, and keys a run did not log as numbers, are left out."""
    with engine.connect() as connection:
        pk = queries.project_pk(connection, owner, project)
        chosen = select(runs.c.id).where(runs.c.project_id == pk, runs.c.run_id.in_(body.runs))
        ids = dict(connection.execute(select(runs.c.id, runs.c.run_id).where(
            runs.c.id.in_(chosen.scalar_subquery())
        )).all())  # fmt: skip
        series = read_series(connection, chosen, body.keys, points=body.points)
    named = [(ids[pk], key) for pk, by_key in series.items() for key in by_key]
    cut = cut_many(
        [arrays for by_key in series.values() for arrays in by_key.values()], body.points
    )
    answer: dict[str, dict[str, dict[str, list[Any]]]] = {}
    for (run_id, key), (steps, values) in zip(named, cut, strict=True):
        answer.setdefault(run_id, {})[key] = {"step": steps.tolist(), "value": json_values(values)}
    return answer


@router.get("/projects/{project}/runs/lines", response_model=None)
def lines(
    project: ProjectPath,
    owner: ReadOwner,
    engine: EngineDep,
    filter: FilterParam = None,
    order: Annotated[str, Query(pattern=ORDER_PATTERN)] = "-start_time",
    search: Annotated[str | None, Query(max_length=256, pattern=NO_NUL)] = None,
    state: Annotated[str | None, Query(max_length=16, pattern=NO_NUL)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_RUNS)] = 1000,
    keys: Annotated[list[MetricKey] | None, Query(max_length=MAX_KEYS)] = None,
    points: Annotated[int, Query(ge=2, le=5000)] = 300,
) -> dict[str, Any]:
    """The workspace's charts in one request: the first ``limit`` runs of the table (the same
    filter, order, search and state), and per metric (``keys``, or the numeric metrics those
    runs logged, 24 at most) their lines on one shared step axis: ``{"keys": [...], "lines":
    {key: {step, runs, values}}}``, ``values`` a base64 block of little-endian float64, runs x
    steps, NaN where a run has no point (``docs/api.md``)."""
    with engine.connect() as connection, database_refusals():
        conditions = queries.run_conditions(
            connection,
            owner,
            project,
            state=state,
            search=search,
            where=filter_condition(filter, connection, owner),
        )
        page = page_ids(conditions, order, limit=limit, offset=0, dialect=connection.dialect.name)
        pks = [int(row.id) for row in connection.execute(page)]
        charted = list(keys) if keys else chosen_keys(connection, pks)
        project_pk = queries.project_pk(connection, owner, project)
        lines = run_lines(connection, project_pk, pks, charted, points=points)
        return {"keys": charted, "lines": lines}
