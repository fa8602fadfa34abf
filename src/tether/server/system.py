"""System metrics on the server: ``K_SYSTEM`` samples in, per-metric time series out.

A sample is ``[8, time, {metric: number}]`` (``docs/format.md``), one every few seconds per
host. The online uploader sends about one sample per upload, so a row per upload would make a
week-long run 60,000 rows; instead a writer's samples are kept as chunks of up to
``CHUNK_SAMPLES`` rows of a float64 matrix (a column per metric, NaN where a sample lacks the
metric), and a small upload is appended to the writer's last chunk. Reading one metric is then
a ``frombuffer`` and a column slice per chunk, and a week of samples is about a thousand rows
(``bench/RESULTS.md``). The writer's high-water mark (``ingest``) is moved in the same
transaction, so a chunk is never appended to twice for one record.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, insert, select, update

from tether.server.ingest_checks import KEY_CHARS, BadRecordError, check_number
from tether.server.series import Series, json_values
from tether.server.storage.schema import system_chunks, system_metrics, writers

# A chunk that an upload may still append to holds at most this many samples (about ten
# minutes at the sampler's default 10 s); a larger upload is a chunk of its own.
CHUNK_SAMPLES: Final = 64

Sample = tuple[float, dict[str, float]]


def sample_of(record: list[Any]) -> Sample:
    """The ``(time, {metric: value})`` of a ``K_SYSTEM`` record; ``BadRecordError`` names what
    does not fit. A value of None means "not measured this time" and is left out."""
    if len(record) < 3:
        raise BadRecordError("record", f"malformed system record: {len(record)} items, not 3")
    when = check_number(record[1], "time")
    metrics = record[2]
    if not isinstance(metrics, dict):
        raise BadRecordError(
            "metrics", f"a system sample holds a mapping of metrics, not {type(metrics).__name__}"
        )
    values: dict[str, float] = {}
    for name, value in metrics.items():
        if not isinstance(name, str) or not name or len(name) > KEY_CHARS:
            raise BadRecordError(
                "metric",
                f"system metric name {str(name)[:40]!r} must be text of 1 to {KEY_CHARS} "
                "characters",
            )
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise BadRecordError(
                "metric value",
                f"system metric {name[:80]!r} is {type(value).__name__} {repr(value)[:40]}, "
                "not a number",
            )
        values[name] = float(value)
    return when, values


def store_samples(
    connection: Connection, run_pk: int, writer_pk: int, samples: Sequence[Sample]
) -> None:
    """Add one upload's samples of one writer: appended to its last chunk while that is small."""
    names: dict[str, None] = {}
    for _, metrics in samples:
        names.update(dict.fromkeys(metrics))
    if not names:
        return
    ids = _metric_ids(connection, run_pk, list(names))
    column = {name: index for index, name in enumerate(names)}
    matrix = np.full((len(samples), len(names)), np.nan, dtype="<f8")
    for row, (_, metrics) in enumerate(samples):
        for name, value in metrics.items():
            matrix[row, column[name]] = value
    layout = np.array([ids[name] for name in names], dtype="<i4")
    times = np.array([when for when, _ in samples], dtype="<f8")
    last = connection.execute(
        select(
            system_chunks.c.id,
            system_chunks.c.count.label("samples"),  # not "count": a Row has a count() method
            system_chunks.c.metric_ids,
            system_chunks.c.times,
            system_chunks.c.vals,
        )
        .where(system_chunks.c.writer_pk == writer_pk)
        .order_by(system_chunks.c.id.desc())
        .limit(1)
    ).first()
    if last is not None and int(last.samples) + len(samples) <= CHUNK_SAMPLES:
        old_layout = np.frombuffer(last.metric_ids, dtype="<i4")
        old = np.frombuffer(last.vals, dtype="<f8").reshape(int(last.samples), len(old_layout))
        layout, matrix = _stacked(old_layout, old, layout, matrix)
        times = np.concatenate([np.frombuffer(last.times, dtype="<f8"), times])
        connection.execute(
            update(system_chunks)
            .where(system_chunks.c.id == last.id)
            .values(
                count=len(times),
                metric_ids=layout.tobytes(),
                times=times.tobytes(),
                vals=matrix.tobytes(),
            )
        )
        return
    connection.execute(
        insert(system_chunks).values(
            run_pk=run_pk,
            writer_pk=writer_pk,
            count=len(times),
            metric_ids=layout.tobytes(),
            times=times.tobytes(),
            vals=matrix.tobytes(),
        )
    )


def _stacked(
    old_layout: npt.NDArray[np.int32],
    old: npt.NDArray[np.float64],
    layout: npt.NDArray[np.int32],
    matrix: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.float64]]:
    """The rows of ``old`` then those of ``matrix``, under the union of their metric layouts."""
    if np.array_equal(old_layout, layout):
        return layout, np.vstack([old, matrix])
    known = {int(metric): index for index, metric in enumerate(old_layout)}
    extra = [int(metric) for metric in layout if int(metric) not in known]
    union = np.concatenate([old_layout, np.array(extra, dtype="<i4")]).astype("<i4")
    for offset, metric in enumerate(extra):
        known[metric] = len(old_layout) + offset
    merged = np.full((len(old) + len(matrix), len(union)), np.nan, dtype="<f8")
    merged[: len(old), : len(old_layout)] = old
    merged[len(old) :, [known[int(metric)] for metric in layout]] = matrix
    return union, merged


def _metric_ids(connection: Connection, run_pk: int, names: list[str]) -> dict[str, int]:
    query = select(system_metrics.c.name, system_metrics.c.id).where(
        system_metrics.c.run_pk == run_pk, system_metrics.c.name.in_(names)
    )
    found = {row.name: int(row.id) for row in connection.execute(query)}
    missing = [name for name in names if name not in found]
    if missing:
        connection.execute(
            insert(system_metrics), [{"run_pk": run_pk, "name": name} for name in missing]
        )
        found.update({row.name: int(row.id) for row in connection.execute(query)})
    return found


def metric_names(connection: Connection, run_pk: int) -> list[str]:
    """The run's system metrics, in the order they first arrived."""
    return list(
        connection.execute(
            select(system_metrics.c.name)
            .where(system_metrics.c.run_pk == run_pk)
            .order_by(system_metrics.c.id)
        ).scalars()
    )


def read_series(
    connection: Connection,
    run_pk: int,
    *,
    metrics: list[str] | None,
    writer: str | None,
    samples: int | None,
) -> dict[str, Any]:
    """``{"series": [{"metric", "writer", "times", "values"}], "sampled"}``: one series per
    (metric, writer), by time, missing samples left out; with ``samples``, about that many
    points each, every bucket's minimum and maximum kept."""
    query = select(system_metrics.c.id, system_metrics.c.name).where(
        system_metrics.c.run_pk == run_pk
    )
    if metrics is not None:
        query = query.where(system_metrics.c.name.in_(metrics))
    wanted = {int(row.id): row.name for row in connection.execute(query.order_by("id"))}
    if not wanted:
        return {"series": [], "sampled": False}
    chunks = (
        select(
            system_chunks.c.id,
            writers.c.label,
            system_chunks.c.count.label("samples"),
            system_chunks.c.metric_ids,
            system_chunks.c.times,
            system_chunks.c.vals,
        )
        .join(writers, writers.c.id == system_chunks.c.writer_pk)
        .where(system_chunks.c.run_pk == run_pk)
    )
    if writer:
        chunks = chunks.where(writers.c.label == writer)
    by_writer: dict[str, list[Any]] = {}
    # Upload order, sorted here: an ORDER BY would make SQLite copy every blob into a sort.
    for chunk in sorted(connection.execute(chunks), key=lambda c: int(c.id)):
        by_writer.setdefault(chunk.label, []).append(chunk)
    found: list[Series] = []
    for label, writer_chunks in by_writer.items():
        found.extend(_writer_series(label, writer_chunks, wanted))
    order = {metric_id: index for index, metric_id in enumerate(wanted)}
    names = {name: order[metric_id] for metric_id, name in wanted.items()}
    found.sort(key=lambda s: (names[s.key], s.writer))
    sampled = False
    series = []
    for whole in found:
        shown = whole
        if samples is not None and len(whole.times) > samples:
            shown = whole.downsampled(samples)
            sampled = True
        series.append(
            {
                "metric": shown.key,
                "writer": shown.writer,
                "times": shown.times.tolist(),
                "values": json_values(shown.values),
            }
        )
    return {"series": series, "sampled": sampled}


def _writer_series(label: str, chunks: list[Any], wanted: dict[int, str]) -> list[Series]:
    """Each wanted metric of one writer's chunks, as a series sorted by time."""
    times: list[npt.NDArray[np.float64]] = []
    columns: dict[int, list[npt.NDArray[np.float64]]] = {metric: [] for metric in wanted}
    # Consecutive chunks of one layout (the usual case) are read as one matrix.
    for layout_bytes, group in itertools.groupby(chunks, key=lambda c: bytes(c.metric_ids)):
        same = list(group)
        layout = np.frombuffer(layout_bytes, dtype="<i4")
        count = sum(int(c.samples) for c in same)
        vals = b"".join(bytes(c.vals) for c in same)
        matrix = np.frombuffer(vals, dtype="<f8").reshape(count, len(layout))
        times.append(np.frombuffer(b"".join(bytes(c.times) for c in same), dtype="<f8"))
        position = {int(metric): index for index, metric in enumerate(layout)}
        for metric, parts in columns.items():
            index = position.get(metric)
            parts.append(matrix[:, index] if index is not None else np.full(count, np.nan))
    all_times = np.concatenate(times)
    order = None
    if len(all_times) > 1 and not bool(np.all(all_times[1:] >= all_times[:-1])):
        order = np.argsort(all_times, kind="stable")
    result = []
    for metric, parts in columns.items():
        values = np.concatenate(parts)
        series_times = all_times
        if order is not None:
            values, series_times = values[order], all_times[order]
        present = ~np.isnan(values)
        if not present.any():
            continue
        if not present.all():
            values, series_times = values[present], series_times[present]
        steps = np.arange(len(values), dtype=np.int64)
        result.append(Series(wanted[metric], label, steps, series_times, values))
    return result
