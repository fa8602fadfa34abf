"""Ingestion: the bytes of a segment file in, rows of the database out, idempotently.

Clients upload segment bytes exactly as they are on disk (``docs/format.md``). Every frame's
CRC is checked; every record's ``(writer, seq)`` is compared with the writer's high-water mark
so that a retried or repeated upload stores nothing twice. The high-water mark moves with an
optimistic ``UPDATE ... WHERE last_seq = <what we read>``, so two server processes racing on
one writer cannot both store the same records: the loser answers 409 and the client retries.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, Engine, Table, insert, select, update
from sqlalchemy.exc import IntegrityError

from tether.server.auth import User
from tether.server.series import F8, encode_values, json_safe, min_max_lod
from tether.server.storage.schema import (
    console_lines,
    metric_keys,
    projects,
    row_schemas,
    runs,
    series_chunks,
    writers,
)
from tether.store import format as fmt


class IngestError(Exception):
    """An upload the server refuses; ``status`` and ``detail`` go back to the client."""

    def __init__(self, status: int, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.extra = extra


@dataclass
class IngestResult:
    offset: int
    records: int
    duplicates: int


_Block = tuple[list[Any], list[Any], list[Any]]


@dataclass
class _Batch:
    """What one upload adds, gathered before anything is written."""

    header: dict[str, Any] | None = None
    label: str | None = None
    schemas: dict[int, list[str]] = field(default_factory=dict)
    new_schemas: dict[int, list[str]] = field(default_factory=dict)
    # Per row layout: blocks of (steps, millis, value rows), as K_ROWS records carry them.
    rows: dict[int, list[_Block]] = field(default_factory=lambda: defaultdict(list))
    row_count: int = 0
    config: list[list[Any]] = field(default_factory=list)
    summary: list[list[Any]] = field(default_factory=list)
    console: list[list[Any]] = field(default_factory=list)
    final: list[Any] | None = None
    records: int = 0
    duplicates: int = 0
    last_seq: int = -1


def ingest_segment(
    engine: Engine,
    user: User,
    *,
    project: str,
    run_id: str,
    writer_id: str,
    offset: int,
    body: bytes,
    crashed: bool = False,
) -> IngestResult:
    try:
        frames, malformed = _frames(body, offset), None
    except IngestError as exc:  # said after the offset check: a 409 tells more
        frames, malformed = [], exc
    now = time.time()
    try:
        with engine.begin() as connection:
            project_pk = _project(connection, user, project, now)
            run = _run(connection, project_pk, run_id, now)
            writer = _writer(connection, run.id, writer_id, now)
            received = int(writer.received_bytes)
            if offset > received:
                raise IngestError(
                    409,
                    f"offset {offset} is past the {received} bytes the server has of writer "
                    f"{writer_id}; resume from offset {received}",
                    offset=received,
                )
            if malformed is not None:
                raise malformed
            batch = _Batch(last_seq=int(writer.last_seq))
            batch.schemas = _known_schemas(connection, writer.id)
            try:
                _collect(batch, frames)
                _store(connection, run, writer, batch, now, crashed=crashed)
            except (TypeError, ValueError, IndexError, KeyError, AttributeError) as exc:
                # Frames that check out but hold records of the wrong shape.
                raise IngestError(
                    422, f"a record in this upload is malformed ({exc}); see docs/format.md"
                ) from exc
            new_offset = max(received, offset + len(body))
            changed = connection.execute(
                update(writers)
                .where(writers.c.id == writer.id, writers.c.last_seq == writer.last_seq)
                .values(
                    received_bytes=new_offset,
                    last_seq=batch.last_seq,
                    rows=writers.c.rows + batch.row_count,
                )
            ).rowcount
            if changed != 1:
                raise IngestError(
                    409,
                    "another upload of this writer was stored meanwhile; retry",
                    offset=received,
                )
            connection.execute(
                update(projects).where(projects.c.id == project_pk).values(updated_at=now)
            )
    except IntegrityError as exc:  # a concurrent first upload created the same rows
        raise IngestError(409, "a concurrent upload created this run; retry") from exc
    return IngestResult(offset=new_offset, records=batch.records, duplicates=batch.duplicates)


def _frames(body: bytes, offset: int) -> list[fmt.Frame]:
    if not body:
        return []
    if offset == 0:
        if not body.startswith(fmt.MAGIC):
            raise IngestError(
                422, "an upload from offset 0 must start with the segment magic b'TETHSEG\\x01'"
            )
        data = body
    else:
        data = fmt.MAGIC + body
    scan = fmt.scan_frames(data)
    if scan.torn_bytes or scan.skipped_bytes:  # the client sends whole, valid frames only
        bad = offset + scan.valid_bytes - (0 if offset == 0 else len(fmt.MAGIC))
        raise IngestError(
            422,
            f"segment bytes from offset {bad} are not a whole frame (bad length or CRC); "
            "upload whole frames only",
        )
    return scan.frames


def _project(connection: Connection, user: User, name: str, now: float) -> int:
    row = _get_or_insert(
        connection,
        projects,
        {"owner_id": user.id, "name": name},
        {"created_at": now, "updated_at": now},
    )
    return int(row.id)


def _run(connection: Connection, project_pk: int, run_id: str, now: float) -> Any:
    fresh = {
        "name": run_id,
        "state": "running",
        "tags": [],
        "config": {},
        "summary": {},
        "summary_times": {},
        "user_summary": {},
        "start_time": now,
        "updated_at": now,
        "crashed": False,
    }
    return _get_or_insert(connection, runs, {"project_id": project_pk, "run_id": run_id}, fresh)


def _writer(connection: Connection, run_pk: int, writer_id: str, now: float) -> Any:
    fresh = {
        "label": "?",
        "main": False,
        "start_time": now,
        "received_bytes": 0,
        "last_seq": -1,
        "rows": 0,
    }
    return _get_or_insert(connection, writers, {"run_pk": run_pk, "writer_id": writer_id}, fresh)


def _get_or_insert(
    connection: Connection, table: Table, key: dict[str, Any], fresh: dict[str, Any]
) -> Any:
    """The row of ``table`` with these ``key`` values, inserted with ``fresh`` if missing.

    A concurrent insert of the same key makes this transaction fail on the unique constraint;
    the caller answers 409 and the client retries, finding the row.
    """
    query = select(table).where(*(table.c[name] == value for name, value in key.items()))
    row = connection.execute(query).first()
    if row is not None:
        return row
    connection.execute(insert(table).values(**key, **fresh))
    return connection.execute(query).one()


def _known_schemas(connection: Connection, writer_pk: int) -> dict[int, list[str]]:
    rows = connection.execute(
        select(row_schemas.c.schema_id, row_schemas.c.key_names).where(
            row_schemas.c.writer_pk == writer_pk
        )
    )
    return {int(r.schema_id): list(r.key_names) for r in rows}


def _collect(batch: _Batch, frames: list[fmt.Frame]) -> None:
    high = batch.last_seq
    for frame in frames:
        first = frame.first_seq
        for index, record in enumerate(frame.records):
            if first >= 0:  # frames with a negative first_seq hold idempotent metadata only
                seq = first + index
                if seq <= high:
                    batch.duplicates += 1
                    continue
                batch.last_seq = max(batch.last_seq, seq)
            batch.records += 1
            _take(batch, record)


def _take(batch: _Batch, record: list[Any]) -> None:
    kind = record[0]
    if kind == fmt.K_ROWS:
        steps, millis, values = record[2], record[3], record[4]
        if not len(steps) == len(millis) == len(values):
            raise ValueError(
                f"a rows block has {len(steps)} steps, {len(millis)} times and "
                f"{len(values)} value rows"
            )
        batch.rows[record[1]].append((steps, millis, values))
        batch.row_count += len(steps)
    elif kind == fmt.K_ROW:  # format version 1: one row per record
        batch.rows[record[1]].append(([record[2]], [record[3]], [record[4:]]))
        batch.row_count += 1
    elif kind == fmt.K_KEYS:
        batch.schemas[record[1]] = record[2]
        batch.new_schemas[record[1]] = record[2]
    elif kind == fmt.K_HEADER:
        batch.header = {**(batch.header or {}), **record[1]}
    elif kind == fmt.K_LINES:
        when, stream, lines = record[1], record[2], record[3]
        if not isinstance(lines, list):
            raise TypeError(f"a lines record holds {type(lines).__name__}, not a list of lines")
        batch.console.extend([fmt.K_CONSOLE, when, stream, line] for line in lines)
    elif kind == fmt.K_CONSOLE:
        batch.console.append(record)
    elif kind == fmt.K_CONFIG:
        batch.config.append(record)
    elif kind == fmt.K_SUMMARY:
        batch.summary.append(record)
    elif kind == fmt.K_FINAL:
        batch.final = record
    elif kind == fmt.K_LABEL:
        batch.label = record[1]
    # K_SYSTEM and K_FILE are kept on the client until the server learns to show them.


def _store(
    connection: Connection, run: Any, writer: Any, batch: _Batch, now: float, *, crashed: bool
) -> None:
    writer_values: dict[str, Any] = {}
    run_values: dict[str, Any] = {"updated_at": now}
    start_time = float(writer.start_time)
    header = batch.header
    if header is not None:
        start_time = float(header.get("start_time", start_time))
        writer_values.update(
            label=str(header.get("label", "?"))[:128],
            pid=header.get("pid"),
            host=str(header.get("host", ""))[:256],
            main=bool(header.get("main", False)),
            start_time=start_time,
        )
        if header.get("main"):
            run_values.update(_run_metadata(header, run))
    if batch.label is not None:
        writer_values["label"] = batch.label[:128]
    if batch.new_schemas:
        known = _known_schemas(connection, writer.id)
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
                    "time": float(r[1]),
                    "stream": int(r[2]),
                    "text": str(r[3]),
                }
                for r in batch.console
            ],
        )
    if batch.config:
        run_values["config"] = _apply(dict(run.config), batch.config)
    if batch.summary:
        run_values["user_summary"] = _apply(dict(run.user_summary), batch.summary)
    is_main = bool(writer_values.get("main", writer.main))
    if batch.final is not None:
        _, when, state, exit_code = batch.final
        writer_values.update(final_state=str(state), final_time=float(when), exit_code=exit_code)
        if is_main:
            run_values.update(state=str(state), end_time=float(when))
    elif crashed and is_main and run.state == "running":
        run_values.update(state="crashed", crashed=True)
    if writer_values:
        connection.execute(update(writers).where(writers.c.id == writer.id).values(**writer_values))
    connection.execute(update(runs).where(runs.c.id == run.id).values(**run_values))


def _run_metadata(header: dict[str, Any], run: Any) -> dict[str, Any]:
    tags = header.get("tags") or []
    return {
        "name": str(header.get("name") or run.run_id)[:256],
        "group_name": header.get("group"),
        "job_type": header.get("job_type"),
        "tags": [str(t) for t in tags] if isinstance(tags, list) else [],
        "notes": header.get("notes"),
        "host": str(header.get("host", ""))[:256],
        "start_time": min(float(run.start_time), float(header.get("start_time", run.start_time))),
    }


def _store_rows(
    connection: Connection,
    run: Any,
    writer: Any,
    batch: _Batch,
    start_time: float,
    run_values: dict[str, Any],
) -> None:
    # Per key, the (steps, times, values) of each row layout it appears in: steps and times
    # are built once per layout, as arrays, and shared by that layout's keys.
    columns: dict[str, list[tuple[npt.NDArray[Any], npt.NDArray[Any], tuple[Any, ...]]]] = {}
    for schema, blocks in batch.rows.items():
        keys = batch.schemas.get(schema)
        if keys is None:
            raise IngestError(
                422, f"rows use layout {schema}, which this writer never defined; upload from 0"
            )
        steps = np.fromiter(chain.from_iterable(b[0] for b in blocks), dtype="<i8")
        millis = np.fromiter(chain.from_iterable(b[1] for b in blocks), dtype="<f8")
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
            raise IngestError(422, f"rows of {key!r} hold fewer values than their layout has keys")
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


def _apply(current: dict[str, Any], updates: list[list[Any]]) -> dict[str, Any]:
    for _, _, changed, deleted in sorted(updates, key=lambda u: u[1]):
        current.update(json_safe(changed))
        for key in deleted:
            current.pop(key, None)
    return current
