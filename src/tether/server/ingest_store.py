"""Ingestion, second half: one upload's gathered records written to the database.

``ingest`` checks and gathers (``Batch``); this writes the rows as packed chunks per key,
the console lines, the run's metadata, config and summary, and the writer's end.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, insert, select, update

from tether.server import environment, system
from tether.server.artifact_store import store_ops
from tether.server.artifacts import ArtifactOp
from tether.server.ingest_checks import STATE_CHARS, text
from tether.server.media import MediaEntry, store_media
from tether.server.series import F8, encode_values, json_safe, min_max_lod
from tether.server.storage.schema import (
    console_lines,
    metric_keys,
    row_schemas,
    runs,
    series_chunks,
    writers,
)
from tether.store.records import FinalState, apply_updates
from tether.store.states import RunState


class RowsError(ValueError):
    """Rows that cannot be stored as their layout says (the caller answers 422)."""


Update = tuple[float, dict[str, Any], list[Any]]
_Block = tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], list[Any]]


@dataclass
class Batch:
    """What one upload adds, gathered before anything is written."""

    header: dict[str, Any] | None = None
    label: str | None = None
    schemas: dict[int, list[str]] = field(default_factory=dict)
    new_schemas: dict[int, list[str]] = field(default_factory=dict)
    # Per row layout: blocks of (steps, millis, value rows), as K_ROWS records carry them.
    rows: dict[int, list[_Block]] = field(default_factory=lambda: defaultdict(list))
    row_count: int = 0
    # (time, changed, deleted keys) of config and summary records, as records.apply_updates
    # takes them; (time, stream, text) console lines.
    config: list[Update] = field(default_factory=list)
    summary: list[Update] = field(default_factory=list)
    console: list[tuple[float, int, Any]] = field(default_factory=list)
    final: FinalState | None = None
    samples: list[system.Sample] = field(default_factory=list)
    environments: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    media: list[MediaEntry] = field(default_factory=list)
    artifacts: list[ArtifactOp] = field(default_factory=list)
    records: int = 0
    duplicates: int = 0
    last_seq: int = -1


def known_schemas(connection: Connection, writer_pk: int) -> dict[int, list[str]]:
    rows = connection.execute(
        select(row_schemas.c.schema_id, row_schemas.c.key_names).where(
            row_schemas.c.writer_pk == writer_pk
        )
    )
    return {int(r.schema_id): list(r.key_names) for r in rows}


def store_batch(
    connection: Connection, run: Any, writer: Any, batch: Batch, now: float, *, crashed: bool
) -> None:
    writer_values: dict[str, Any] = {}
    run_values: dict[str, Any] = {"updated_at": now}
    start_time = float(writer.start_time)
    header = batch.header
    if header is not None:
        start_time = float(header.get("start_time", start_time))
        writer_values.update(
            label=text(header.get("label", "?"), 128),
            pid=header.get("pid"),
            host=text(header.get("host", ""), 256),
            main=bool(header.get("main", False)),
            start_time=start_time,
        )
        if header.get("main"):
            run_values.update(_run_metadata(header, run))
    if batch.label is not None:
        writer_values["label"] = text(batch.label, 128)
    if batch.new_schemas:
        known = known_schemas(connection, writer.id)
        fresh = [
            {"writer_pk": writer.id, "schema_id": sid, "key_names": keys}
            for sid, keys in batch.new_schemas.items()
            if sid not in known
        ]
        if fresh:
            connection.execute(insert(row_schemas), fresh)
    if batch.rows:
        _store_rows(connection, run, writer, batch, start_time, run_values)
    if batch.console:
        connection.execute(
            insert(console_lines),
            [
                {
                    "run_pk": run.id,
                    "writer_pk": writer.id,
                    "time": float(when),
                    "stream": int(stream),
                    "text": text(line),
                }
                for when, stream, line in batch.console
            ],
        )
    if batch.config:
        run_values["config"] = _apply(dict(run.config), batch.config)
    if batch.samples:
        system.store_samples(connection, run.id, writer.id, batch.samples)
    if batch.media:
        store_media(connection, run.id, writer.id, batch.media)
    if batch.artifacts:
        store_ops(connection, run, batch.artifacts, now)
    if batch.environments:
        run_values["environment_summary"] = environment.store(
            connection, run.id, batch.environments, now
        )
    if batch.summary:
        run_values["user_summary"] = _apply(dict(run.user_summary), batch.summary)
    is_main = bool(writer_values.get("main", writer.main))
    if batch.final is not None:
        final = batch.final
        when, state, exit_code = float(final.time), text(final.state), final.exit_code
        writer_values.update(final_state=state, final_time=when, exit_code=exit_code)
        if is_main:
            run_values.update(state=state[:STATE_CHARS], end_time=when)
    elif crashed and is_main and run.state == RunState.RUNNING:
        run_values.update(state=RunState.CRASHED.value, crashed=True)
    if writer_values:
        connection.execute(update(writers).where(writers.c.id == writer.id).values(**writer_values))
    connection.execute(update(runs).where(runs.c.id == run.id).values(**run_values))


def _run_metadata(header: dict[str, Any], run: Any) -> dict[str, Any]:
    tags = header.get("tags") or []
    return {
        "name": text(header.get("name") or run.run_id, 256),
        "group_name": _optional_text(header.get("group"), 256),
        "job_type": _optional_text(header.get("job_type"), 256),
        "tags": [str(t) for t in tags] if isinstance(tags, list) else [],
        "notes": _optional_text(header.get("notes")),
        "host": text(header.get("host", ""), 256),
        "start_time": min(float(run.start_time), float(header.get("start_time", run.start_time))),
    }


def _optional_text(value: Any, limit: int | None = None) -> str | None:
    return None if value is None else text(value, limit)


def _store_rows(
    connection: Connection,
    run: Any,
    writer: Any,
    batch: Batch,
    start_time: float,
    run_values: dict[str, Any],
) -> None:
    # Per key, the (steps, times, values) of each row layout it appears in: steps and times
    # are built once per layout, as arrays, and shared by that layout's keys.
    columns: dict[str, list[tuple[npt.NDArray[Any], npt.NDArray[Any], tuple[Any, ...]]]] = {}
    for schema, blocks in batch.rows.items():
        keys = batch.schemas.get(schema)
        if keys is None:
            raise RowsError(f"rows use layout {schema}, which this writer never defined")
        steps = blocks[0][0] if len(blocks) == 1 else np.concatenate([b[0] for b in blocks])
        millis = blocks[0][1] if len(blocks) == 1 else np.concatenate([b[1] for b in blocks])
        times = start_time + millis / 1000.0
        value_rows = list(chain.from_iterable(b[2] for b in blocks))
        for key, values in zip(keys, zip(*value_rows, strict=False), strict=False):
            columns.setdefault(key, []).append((steps, times, values))
    key_ids = _metric_key_ids(connection, run.id, list(columns))
    chunks = []
    summary = dict(run.summary)
    summary_times = dict(run.summary_times)
    last_step = run.last_step
    for key, parts in columns.items():
        if len(parts) == 1:
            steps_array, times_array, key_values = parts[0]
        else:
            steps_array = np.concatenate([part[0] for part in parts])
            times_array = np.concatenate([part[1] for part in parts])
            key_values = tuple(chain.from_iterable(part[2] for part in parts))
        if len(steps_array) != len(key_values):
            raise RowsError(f"rows of {key!r} hold fewer values than their layout has keys")
        kind, blob = encode_values(key_values)
        lod = (
            min_max_lod(steps_array, times_array, np.frombuffer(blob, dtype="<f8"))
            if kind == F8
            else None
        )
        chunks.append(
            {
                "run_pk": run.id,
                "writer_pk": writer.id,
                "key_id": key_ids[key],
                "count": len(key_values),
                "kind": kind,
                "steps": steps_array.tobytes(),
                "times": times_array.tobytes(),
                "vals": blob,
                "lod_steps": lod[0] if lod else None,
                "lod_times": lod[1] if lod else None,
                "lod_vals": lod[2] if lod else None,
            }
        )
        # The newest point (the last one logged at that time): one pass in numpy.
        latest = len(times_array) - 1 - int(np.argmax(times_array[::-1]))
        newest = float(times_array[latest])
        if newest >= summary_times.get(key, float("-inf")):
            summary[key] = json_safe(key_values[latest])
            summary_times[key] = newest
        top = int(steps_array.max())
        last_step = top if last_step is None else max(int(last_step), top)
    connection.execute(insert(series_chunks), chunks)
    run_values.update(summary=summary, summary_times=summary_times, last_step=last_step)


def _metric_key_ids(connection: Connection, run_pk: int, keys: list[str]) -> dict[str, int]:
    rows = connection.execute(
        select(metric_keys.c.key, metric_keys.c.id).where(
            metric_keys.c.run_pk == run_pk, metric_keys.c.key.in_(keys)
        )
    )
    found = {r.key: int(r.id) for r in rows}
    missing = [k for k in keys if k not in found]
    if missing:
        connection.execute(insert(metric_keys), [{"run_pk": run_pk, "key": k} for k in missing])
        rows = connection.execute(
            select(metric_keys.c.key, metric_keys.c.id).where(
                metric_keys.c.run_pk == run_pk, metric_keys.c.key.in_(missing)
            )
        )
        found.update({r.key: int(r.id) for r in rows})
    return found


def _apply(current: dict[str, Any], updates: list[Update]) -> dict[str, Any]:
    return apply_updates(current, ((when, json_safe(new), gone) for when, new, gone in updates))
