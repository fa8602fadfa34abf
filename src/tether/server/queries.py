"""Reading runs back out of the database: what the API and the UI ask for."""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, Connection, case, false, func, select, tuple_

from tether.server import system
from tether.server.auth import User
from tether.server.runs_order import has_tag, page_ids
from tether.server.series import LOD_BLOCK, Series, decode_values
from tether.server.storage.schema import (
    console_lines,
    metric_keys,
    projects,
    runs,
    series_chunks,
    writers,
)
from tether.store.states import is_live, states_json


class NotFoundError(Exception):
    """The project or run does not exist for this owner (or belongs to someone else)."""


def list_projects(connection: Connection, owner: User) -> list[dict[str, Any]]:
    counts = (
        select(runs.c.project_id, func.count().label("runs")).group_by(runs.c.project_id).subquery()
    )
    rows = connection.execute(
        select(projects.c.name, projects.c.updated_at, counts.c.runs)
        .outerjoin(counts, counts.c.project_id == projects.c.id)
        .where(projects.c.owner_id == owner.id)
        .order_by(projects.c.name)
    )
    return [{"name": r.name, "runs": int(r.runs or 0), "updated_at": r.updated_at} for r in rows]


def project_pk(connection: Connection, owner: User, name: str) -> int:
    found = connection.execute(
        select(projects.c.id).where(projects.c.owner_id == owner.id, projects.c.name == name)
    ).scalar()
    if found is None:
        raise NotFoundError(f"no project {name!r} in namespace {owner.name!r}")
    return int(found)


def run_row(connection: Connection, owner: User, project: str, run_id: str) -> Any:
    pk = project_pk(connection, owner, project)
    row = connection.execute(
        select(runs).where(runs.c.project_id == pk, runs.c.run_id == run_id)
    ).first()
    if row is None:
        raise NotFoundError(f"no run {run_id!r} in project {project!r}")
    return row


def run_json(row: Any, project: str, owner: User, writer_count: int) -> dict[str, Any]:
    summary = {**dict(row.summary), **dict(row.user_summary)}
    end = row.end_time
    return {
        "id": row.run_id,
        "name": row.name,
        "project": project,
        "user": owner.name,  # the owner (kept under its first name)
        "owner": owner.name,
        "state": row.state,
        "live": is_live(row.state),  # the web UI polls while true (states: see list_runs)
        "group": row.group_name,
        "job_type": row.job_type,
        "tags": list(row.tags),
        "notes": row.notes,
        "config": dict(row.config),
        "summary": summary,
        "start_time": row.start_time,
        "end_time": end,
        "duration": (end if end is not None else row.updated_at) - row.start_time,
        "last_step": row.last_step,
        "host": row.host,
        "writers": writer_count,
        "updated_at": row.updated_at,
        "environment": dict(row.environment_summary or {}),
    }


def run_conditions(
    connection: Connection,
    owner: User,
    project: str,
    *,
    state: str | None = None,
    group: str | None = None,
    tag: str | None = None,
    search: str | None = None,
    where: ColumnElement[bool] | None = None,
) -> list[ColumnElement[bool]]:
    """The conditions on ``runs`` that the runs list applies: the project (404 if the owner
    has none of that name), a run filter's ``where``, and the table's state, group, tag and
    name search."""
    conditions = [runs.c.project_id == project_pk(connection, owner, project)]
    if where is not None:
        conditions.append(where)
    if state:
        conditions.append(runs.c.state == state)
    if group:
        conditions.append(runs.c.group_name == group)
    if search:
        conditions.append(runs.c.name.contains(search, autoescape=True))
    if tag:
        conditions.append(has_tag(tag, dialect=connection.dialect.name))
    return conditions


def list_runs(
    connection: Connection,
    owner: User,
    project: str,
    *,
    state: str | None,
    group: str | None,
    tag: str | None,
    search: str | None,
    order: str,
    limit: int,
    offset: int,
    where: ColumnElement[bool] | None = None,
) -> dict[str, Any]:
    """One page of a project's runs, filtered, sorted and cut in SQL (``runs_order``); the
    full rows, their JSON and their writer counts are built for that page only. ``where``:
    a run filter's condition (``tether.server.run_filter``)."""
    dialect = connection.dialect.name
    conditions = run_conditions(
        connection, owner, project, state=state, group=group, tag=tag, search=search, where=where
    )
    page = page_ids(conditions, order, limit=limit, offset=offset, dialect=dialect)
    ids = [int(row.id) for row in connection.execute(page)]
    total = connection.execute(select(func.count()).select_from(runs).where(*conditions)).scalar()
    return {
        "runs": _runs_json(connection, ids, project, owner),
        "total": int(total or 0),
        # Every state a run can have (the filter's choices), with which of them are final.
        "states": states_json(),
    }


def _runs_json(
    connection: Connection, ids: list[int], project: str, owner: User
) -> list[dict[str, Any]]:
    if not ids:
        return []
    rows = {r.id: r for r in connection.execute(select(runs).where(runs.c.id.in_(ids)))}
    counts: dict[int, int] = dict(
        connection.execute(
            select(writers.c.run_pk, func.count())
            .where(writers.c.run_pk.in_(ids))
            .group_by(writers.c.run_pk)
        ).all()
    )
    return [run_json(rows[i], project, owner, int(counts.get(i, 0))) for i in ids]


def run_detail(connection: Connection, owner: User, project: str, run_id: str) -> dict[str, Any]:
    row = run_row(connection, owner, project, run_id)
    writer_rows = list(connection.execute(select(writers).where(writers.c.run_pk == row.id)))
    keys = [
        r.key
        for r in connection.execute(
            select(metric_keys.c.key)
            .where(metric_keys.c.run_pk == row.id)
            .order_by(metric_keys.c.id)
        )
    ]
    detail = run_json(row, project, owner, len(writer_rows))
    detail["keys"] = keys
    detail["system_metrics"] = system.metric_names(connection, row.id)
    detail["writer_list"] = [
        {
            "id": w.writer_id,
            "label": w.label,
            "pid": w.pid,
            "host": w.host,
            "main": bool(w.main),
            "rows": int(w.rows),
            "state": w.final_state,
            "skipped_records": int(w.skipped_records),
            "skipped_bytes": int(w.skipped_bytes),
            "skip_reason": w.skip_reason,
        }
        for w in writer_rows
    ]
    # What the clients left out because this server refused it: never silent.
    detail["skipped"] = {
        "records": sum(int(w.skipped_records) for w in writer_rows),
        "bytes": sum(int(w.skipped_bytes) for w in writer_rows),
        "reasons": [w.skip_reason for w in writer_rows if w.skip_reason],
    }
    return detail


def segment_offsets(
    connection: Connection, owner: User, project: str, run_id: str
) -> dict[str, dict[str, int]]:
    row = run_row(connection, owner, project, run_id)
    return {
        w.writer_id: {"offset": int(w.received_bytes), "last_seq": int(w.last_seq)}
        for w in connection.execute(select(writers).where(writers.c.run_pk == row.id))
    }


def history(
    connection: Connection,
    owner: User,
    project: str,
    run_id: str,
    *,
    keys: list[str] | None,
    writer: str | None,
    samples: int | None,
) -> dict[str, Any]:
    row = run_row(connection, owner, project, run_id)
    conditions = [series_chunks.c.run_pk == row.id]
    if keys:
        conditions.append(metric_keys.c.key.in_(keys))
    if writer:
        conditions.append(writers.c.label == writer)
    joined = series_chunks.join(metric_keys, metric_keys.c.id == series_chunks.c.key_id).join(
        writers, writers.c.id == series_chunks.c.writer_pk
    )
    coarse: set[tuple[int, int]] = set()
    if samples is not None:
        # Series long enough read only each chunk's coarse min/max copy (32x smaller).
        counts = connection.execute(
            select(
                series_chunks.c.key_id, series_chunks.c.writer_pk, func.sum(series_chunks.c.count)
            )
            .select_from(joined)
            .where(*conditions)
            .group_by(series_chunks.c.key_id, series_chunks.c.writer_pk)
        )
        coarse = {(k, w) for k, w, n in counts if int(n) >= samples * LOD_BLOCK}
    full = (series_chunks.c.steps, series_chunks.c.times, series_chunks.c.vals)
    lod = (series_chunks.c.lod_steps, series_chunks.c.lod_times, series_chunks.c.lod_vals)
    wants_lod = (
        tuple_(series_chunks.c.key_id, series_chunks.c.writer_pk).in_(sorted(coarse))
        if coarse
        else false()
    )
    query = (
        select(
            series_chunks.c.id,
            series_chunks.c.key_id,
            series_chunks.c.writer_pk,
            metric_keys.c.key,
            writers.c.label,
            series_chunks.c.kind,
            # Full arrays only where the coarse copy is not wanted or does not exist.
            *(
                case((wants_lod & lod_column.is_not(None), None), else_=full_column).label(
                    f"full_{full_column.name}"
                )
                for full_column, lod_column in zip(full, lod, strict=True)
            ),
            *(case((wants_lod, c), else_=None).label(c.name) for c in lod),
        )
        .select_from(joined)
        .where(*conditions)
    )
    parts: dict[tuple[str, str], list[Any]] = {}
    # Upload order, sorted here: an ORDER BY would make SQLite copy every blob into a sort.
    for chunk in sorted(connection.execute(query), key=lambda c: int(c.id)):
        parts.setdefault((chunk.key, chunk.label), []).append(chunk)
    series = []
    sampled = False
    for (key, label), chunks in parts.items():
        use_lod = (chunks[0].key_id, chunks[0].writer_pk) in coarse
        whole = Series(
            key=key,
            writer=label,
            steps=np.concatenate([_blob(c, "steps", use_lod, "<i8") for c in chunks]),
            times=np.concatenate([_blob(c, "times", use_lod, "<f8") for c in chunks]),
            values=_concat_values(chunks, use_lod),
        ).sorted_by_step()
        if samples is not None and len(whole.steps) > samples:
            whole = whole.downsampled(samples)
            sampled = True
        elif use_lod:
            sampled = True
        series.append(whole.to_json())
    return {"series": series, "sampled": sampled}


def _blob(chunk: Any, name: str, use_lod: bool, dtype: str) -> Any:
    coarse = getattr(chunk, f"lod_{name}", None) if use_lod else None
    blob = coarse if coarse is not None else getattr(chunk, f"full_{name}")
    return np.frombuffer(blob, dtype=dtype)


def _concat_values(chunks: list[Any], use_lod: bool) -> Any:
    arrays = [
        np.frombuffer(c.lod_vals, dtype="<f8")
        if use_lod and getattr(c, "lod_vals", None) is not None
        else decode_values(c.kind, c.full_vals)
        for c in chunks
    ]
    if all(a.dtype != object for a in arrays):
        return np.concatenate(arrays)
    return np.concatenate([a.astype(object) for a in arrays])


def console(
    connection: Connection,
    owner: User,
    project: str,
    run_id: str,
    *,
    writer: str | None,
    stream: str | None,
    after: int,
    limit: int,
) -> dict[str, Any]:
    row = run_row(connection, owner, project, run_id)
    query = (
        select(
            console_lines.c.id,
            writers.c.label,
            console_lines.c.stream,
            console_lines.c.text,
            console_lines.c.time,
        )
        .join(writers, writers.c.id == console_lines.c.writer_pk)
        .where(console_lines.c.run_pk == row.id, console_lines.c.id > after)
        .order_by(console_lines.c.id)
        .limit(limit)
    )
    if writer:
        query = query.where(writers.c.label == writer)
    if stream:
        query = query.where(console_lines.c.stream == (1 if stream == "stdout" else 2))
    lines = [
        {
            "id": r.id,
            "writer": r.label,
            "stream": "stdout" if r.stream == 1 else "stderr",
            "text": r.text,
            "time": r.time,
        }
        for r in connection.execute(query)
    ]
    return {"lines": lines, "next": lines[-1]["id"] if lines else after}
