"""Ingestion: the bytes of a segment file in, rows of the database out, idempotently.

Clients upload segment bytes exactly as they are on disk (``docs/format.md``). Every frame's
CRC is checked; every record's ``(writer, seq)`` is compared with the writer's high-water mark
so that a retried or repeated upload stores nothing twice. The high-water mark moves with an
optimistic ``UPDATE ... WHERE last_seq = <what we read>``, so two server processes racing on
one writer cannot both store the same records: the loser answers 409 and the client retries.

Each upload is one transaction: a piece the client has been answered for is kept whatever
happens to the next one. A record the database cannot hold is a 422 naming its frame, record
and field (``ingest_checks``), never a 500; the client then uploads the rest without it and
says so with ``skip`` (``end`` and the skip counts), which the run shows.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import Connection, Engine, Table, insert, select, update
from sqlalchemy.exc import DataError, IntegrityError, OperationalError, StatementError

from tether.server import artifacts, environment, media, system
from tether.server.artifact_store import VersionRaceError
from tether.server.auth import User
from tether.server.ingest_checks import (
    BadRecordError,
    check_first_seq,
    check_record,
    rows_arrays,
    text,
)
from tether.server.ingest_store import Batch, known_schemas, store_batch
from tether.server.storage.schema import (
    projects,
    runs,
    writers,
)
from tether.store import format as fmt
from tether.store import records
from tether.store.records import kind_name
from tether.store.states import RunState


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


@dataclass(frozen=True)
class Skip:
    """What the client left out of the bytes up to ``end``, and why (the server refused it)."""

    records: int
    bytes: int
    reason: str


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
    end: int | None = None,
    skip: Skip | None = None,
) -> IngestResult:
    """Store the records of ``body`` (segment bytes from ``offset``, or with ``end``: records
    standing for the file's bytes up to ``end``); raises ``IngestError`` with what to say."""
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
            batch = Batch(last_seq=int(writer.last_seq))
            batch.schemas = known_schemas(connection, writer.id)
            _collect(batch, frames, writer_id)
            try:
                store_batch(connection, run, writer, batch, now, crashed=crashed)
            except (
                TypeError,
                ValueError,
                IndexError,
                KeyError,
                AttributeError,
                RecursionError,
            ) as exc:
                # Records that pass the checks but still do not fit together, or nest deeper
                # than the server's JSON walk goes.
                raise IngestError(
                    422, f"a record in this upload is malformed ({exc}); see docs/format.md"
                ) from exc
            stands_for = offset + len(body) if end is None else end
            new_offset = max(received, stands_for)
            skipped: dict[str, Any] = {}
            if skip is not None and stands_for > received:  # counted once, however often sent
                skipped = {
                    "skipped_records": writers.c.skipped_records + skip.records,
                    "skipped_bytes": writers.c.skipped_bytes + skip.bytes,
                    "skip_reason": text(skip.reason, 1000),
                }
            changed = connection.execute(
                update(writers)
                .where(writers.c.id == writer.id, writers.c.last_seq == writer.last_seq)
                .values(
                    received_bytes=new_offset,
                    last_seq=batch.last_seq,
                    rows=writers.c.rows + batch.row_count,
                    **skipped,
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
    except VersionRaceError as exc:  # another process numbered a version of the artifact
        raise IngestError(409, f"{exc}; retry", offset=offset) from exc
    except OperationalError as exc:  # locked, deadlocked, or the database went away: retry
        raise IngestError(503, f"the database is busy or away ({exc.orig}); retry") from exc
    except (DataError, StatementError) as exc:
        if isinstance(exc, DataError) or isinstance(
            exc.orig, TypeError | ValueError | OverflowError
        ):
            # A value no check above foresaw: refused (the client skips it), never a 500.
            raise IngestError(
                422,
                f"the database refused a value of this upload to writer {writer_id} "
                f"({_first_line(exc.orig)})",
            ) from exc
        raise
    except OverflowError as exc:  # a number past what the database holds: never a 500
        raise IngestError(
            422,
            f"a number of this upload to writer {writer_id} is too large to store ({exc})",
        ) from exc
    return IngestResult(offset=new_offset, records=batch.records, duplicates=batch.duplicates)


def _first_line(error: BaseException | None) -> str:
    return str(error).strip().splitlines()[0][:300] if str(error).strip() else repr(error)


def _frames(body: bytes, offset: int) -> list[tuple[int, fmt.Frame]]:
    """The frames of ``body``, each with the file offset it starts at."""
    if not body:
        return []
    if offset == 0:
        if not body.startswith(fmt.MAGIC):
            raise IngestError(
                422, "an upload from offset 0 must start with the segment magic b'TETHSEG\\x01'"
            )
        data, base = body, 0
    else:
        data, base = fmt.MAGIC + body, offset - len(fmt.MAGIC)
    located = []
    position = len(fmt.MAGIC)
    view = memoryview(data)
    while position < len(data):
        # Unlike a reader, an upload must be whole frames: damage is the client's to skip.
        try:
            frame = fmt.frame_at(view, position)
        except RecursionError:  # nested deeper than msgpack decodes (~1,000 levels)
            raise IngestError(
                422,
                f"the frame at byte {base + position} nests lists or maps deeper than the "
                "server decodes (about 1,000 levels); tether never writes such a record",
                frame_offset=base + position,
                field="frame",
            ) from None
        if frame is None:
            raise IngestError(
                422,
                f"segment bytes from offset {base + position} are not a whole frame (bad "
                "length or CRC); upload whole frames only",
                frame_offset=base + position,
            )
        located.append((base + position, frame[0]))
        position = frame[1]
    return located


def upload_run(connection: Connection, user: User, project: str, run_id: str, now: float) -> Any:
    """The run a client uploads to (its project and run made if new): the runs row."""
    return _run(connection, _project(connection, user, project, now), run_id, now)


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
        "state": RunState.RUNNING.value,
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


def _collect(batch: Batch, frames: list[tuple[int, fmt.Frame]], writer_id: str) -> None:
    high = batch.last_seq
    for frame_offset, frame in frames:
        first = frame.first_seq
        try:
            check_first_seq(first, len(frame.records))
        except BadRecordError as exc:
            raise _refused(exc, writer_id, frame_offset, None, "frame") from exc
        for index, record in enumerate(frame.records):
            seq = first + index if first >= 0 else None
            # Frames with a negative first_seq hold idempotent metadata, never deduplicated.
            if seq is not None and seq <= high:
                batch.duplicates += 1
                continue
            try:
                check_record(record)
                _take(batch, record)
            except BadRecordError as exc:
                raise _refused(exc, writer_id, frame_offset, seq, kind_name(record)) from exc
            except (TypeError, ValueError, IndexError, KeyError, AttributeError) as exc:
                bad = BadRecordError(
                    "record", f"the record is malformed ({exc}); see docs/format.md"
                )
                raise _refused(bad, writer_id, frame_offset, seq, kind_name(record)) from exc
            if seq is not None:
                batch.last_seq = max(batch.last_seq, seq)
            batch.records += 1


def _refused(
    exc: BadRecordError, writer_id: str, frame_offset: int, seq: int | None, kind: str
) -> IngestError:
    where = f"writer {writer_id}, frame at byte {frame_offset}"
    if seq is not None:
        where += f", record {seq} ({kind})"
    if exc.row is not None:
        where += f", row {exc.row}"
    return IngestError(
        422,
        f"{where}: {exc.message}. The server cannot store this record as it is; tether uploads "
        "the rest without it and counts it as skipped on the run",
        frame_offset=frame_offset,
        seq=seq,
        row=exc.row,
        field=exc.field,
        reason=f"{where}: {exc.message}",
    )


def _take(batch: Batch, raw: list[Any]) -> None:
    try:
        record = records.decode_record(raw)
    except records.RecordError as exc:
        raise BadRecordError(exc.field, exc.message) from exc
    if record is not None:  # a kind from a newer client: kept on its disk, not stored here
        _HANDLERS[type(record)](batch, record)


def _rows(batch: Batch, block: records.RowsBlock) -> None:
    if block.schema_id not in batch.schemas:
        raise BadRecordError(
            "schema id",
            f"rows use layout {block.schema_id}, which this writer never defined (its keys "
            "record is missing)",
        )
    steps, millis, values = rows_arrays(block.steps, block.millis, block.values)
    batch.rows[block.schema_id].append((steps, millis, values))
    batch.row_count += len(steps)


def _keys(batch: Batch, record: records.Keys) -> None:
    keys = [text(key) for key in record.keys]
    batch.schemas[record.schema_id] = keys
    batch.new_schemas[record.schema_id] = keys


def _header(batch: Batch, record: records.Header) -> None:
    batch.header = {**(batch.header or {}), **record.fields}


def _lines(batch: Batch, record: records.Lines) -> None:
    batch.console.extend((record.time, record.stream, line) for line in record.lines)


def _system(batch: Batch, record: records.SystemSample) -> None:
    batch.samples.append(system.sample_of([fmt.K_SYSTEM, record.time, record.metrics]))


def _environment(batch: Batch, record: records.Environment) -> None:
    batch.environments.append(
        environment.update_of([fmt.K_ENVIRONMENT, record.time, record.sections])
    )


def _file(batch: Batch, record: records.FileEntry) -> None:
    entry = media.entry_of(record)
    if entry is not None:  # artifacts (a newer client's) stay on the client for now
        batch.media.append(entry)


def _artifact(batch: Batch, record: records.ArtifactOp) -> None:
    batch.artifacts.append(artifacts.op_of(record.time, record.info))


# One handler per decoded record type (``tests/test_format.py`` checks that every kind has one).
_HANDLERS: Final[dict[type[Any], Callable[[Batch, Any], None]]] = {
    records.Header: _header,
    records.Keys: _keys,
    records.RowsBlock: _rows,
    records.ConfigUpdate: lambda batch, r: batch.config.append((r.time, r.changed, r.deleted)),
    records.SummaryUpdate: lambda batch, r: batch.summary.append((r.time, r.changed, r.deleted)),
    records.Lines: _lines,
    records.FinalState: lambda batch, r: setattr(batch, "final", r),
    records.SystemSample: _system,
    records.FileEntry: _file,
    records.Label: lambda batch, r: setattr(batch, "label", r.label),
    records.Environment: _environment,
    # Read but not stored yet: artifacts-server's ingest of artifact versions replaces this.
    records.ArtifactOp: _artifact,
}
