"""The numeric series of many runs at once, for the workspace's charts: one query for every
(run, key) asked, each series merged across the run's writers, sorted by step.

A series long enough to be cut to ``points`` anyway is read from its chunks' coarse min/max
copy (``series.LOD_BLOCK`` times smaller), chosen per (run, key) by the sum of its points
(a first query, without blobs), so 1,000 runs x 1,000,000 points never read the full arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, Select, case, func, select, tuple_

from tether.server.series import F8, LOD_BLOCK
from tether.server.storage.schema import metric_keys, series_chunks

Arrays = tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]


def read_series(
    connection: Connection, run_pks: Select[Any], keys: Sequence[str], *, points: int
) -> dict[int, dict[str, Arrays]]:
    """``{run pk: {key: (steps, values)}}`` for the runs ``run_pks`` selects (a ``SELECT
    runs.id``), numeric chunks only (a key logged as text has no line to draw)."""
    if not keys:
        return {}
    parts: dict[tuple[int, str], list[tuple[int, bytes, bytes]]] = {}
    for chunk_id, run_pk, key, steps_blob, vals_blob in _chunk_rows(
        connection, run_pks, keys, points
    ):
        parts.setdefault((run_pk, key), []).append((chunk_id, steps_blob, vals_blob))
    found: dict[int, dict[str, Arrays]] = {}
    for (run_pk, key), chunks in parts.items():
        if len(chunks) == 1:  # the usual case for a run uploaded once: no copy
            steps = np.frombuffer(chunks[0][1], dtype="<i8")
            values = np.frombuffer(chunks[0][2], dtype="<f8")
        else:
            chunks.sort()  # upload order, as the single-run history reads them
            steps = np.concatenate([np.frombuffer(s, dtype="<i8") for _, s, _ in chunks])
            values = np.concatenate([np.frombuffer(v, dtype="<f8") for _, _, v in chunks])
        if len(steps) > 1 and (np.diff(steps) < 0).any():
            order = np.argsort(steps, kind="stable")  # several writers, or steps logged back
            steps, values = steps[order], values[order]
        found.setdefault(run_pk, {})[key] = (steps, values)
    return found


@dataclass
class Flat:
    """One key's series of many runs end to end: run ``pks[i]`` has ``lengths[i]`` points,
    sorted by step, in ``steps`` and ``values`` (no array per run: 10,000 runs are a few
    numpy calls, not 10,000)."""

    pks: npt.NDArray[np.int64]
    lengths: npt.NDArray[np.int64]
    steps: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]

    def of_runs(self, run_pks: Sequence[int]) -> Flat:
        """The series of the runs ``run_pks`` only, as ``read_flat`` of those runs reads them
        (which copy of a long series it takes is decided per run, not per set)."""
        keep = np.isin(self.pks, np.asarray(run_pks, dtype=np.int64))
        points = np.repeat(keep, self.lengths)
        return Flat(self.pks[keep], self.lengths[keep], self.steps[points], self.values[points])


def read_flat(connection: Connection, run_pks: Select[Any], key: str, *, points: int) -> Flat:
    """``key``'s numeric series of the runs ``run_pks`` selects, end to end, by run pk."""
    rows = sorted(_chunk_rows(connection, run_pks, [key], points), key=lambda r: (r[1], r[0]))
    if not rows:
        empty = np.zeros(0, dtype=np.int64)
        return Flat(empty, empty, empty, np.zeros(0, dtype=np.float64))
    steps = np.frombuffer(b"".join(r[3] for r in rows), dtype="<i8")
    values = np.frombuffer(b"".join(r[4] for r in rows), dtype="<f8")
    chunk_pks = np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows))
    chunk_lengths = np.fromiter((len(r[3]) // 8 for r in rows), dtype=np.int64, count=len(rows))
    starts = np.flatnonzero(np.r_[True, chunk_pks[1:] != chunk_pks[:-1]])
    lengths = np.add.reduceat(chunk_lengths, starts)
    run_of = np.repeat(np.arange(len(starts)), lengths)
    if ((np.diff(steps) < 0) & (run_of[1:] == run_of[:-1])).any():
        order = np.lexsort((steps, run_of))  # several writers, or steps logged back
        steps, values = steps[order], values[order]
    return Flat(chunk_pks[starts], lengths, steps, values)


def _chunk_rows(
    connection: Connection, run_pks: Select[Any], keys: Sequence[str], points: int
) -> list[tuple[int, int, str, bytes, bytes]]:
    """(chunk id, run pk, key, steps, values) of every numeric chunk asked for."""
    chunk = series_chunks.c
    conditions = (
        chunk.run_pk.in_(run_pks.scalar_subquery()),
        metric_keys.c.key.in_(list(keys)),
        chunk.kind == F8,
    )
    joined = series_chunks.join(metric_keys, metric_keys.c.id == chunk.key_id)
    # The (run, key) series long enough for the coarse copy: a query without blobs (a window
    # sum in the main query doubled its cost), usually answering none.
    coarse = sorted(
        connection.execute(
            select(chunk.run_pk, chunk.key_id)
            .select_from(joined)
            .where(*conditions)
            .group_by(chunk.run_pk, chunk.key_id)
            .having(func.sum(chunk.count) >= points * LOD_BLOCK)
        ).all()
    )
    steps_column: Any = chunk.steps
    vals_column: Any = chunk.vals
    if coarse:
        pairs = [(int(run), int(key)) for run, key in coarse]
        wants = tuple_(chunk.run_pk, chunk.key_id).in_(pairs) & chunk.lod_vals.is_not(None)
        steps_column = case((wants, chunk.lod_steps), else_=chunk.steps)
        vals_column = case((wants, chunk.lod_vals), else_=chunk.vals)
    query = (
        select(chunk.id, chunk.run_pk, metric_keys.c.key, steps_column, vals_column)
        .select_from(joined)
        .where(*conditions)
    )
    return [(int(r[0]), int(r[1]), str(r[2]), r[3], r[4]) for r in connection.execute(query)]


def cut_many(series: list[Arrays], points: int) -> list[Arrays]:
    """Each series reduced to about ``points`` points: per bucket its minimum and maximum
    point (NaN is neither) and the ends, as ``Series.downsampled`` keeps them, computed for
    all the series of one length at once (a sweep's runs mostly share theirs)."""
    out = list(series)
    by_length: dict[int, list[int]] = {}
    for index, (steps, _) in enumerate(series):
        if len(steps) > points:
            by_length.setdefault(len(steps), []).append(index)
    buckets = max(1, points // 2)
    for length, indices in by_length.items():
        starts = (np.arange(buckets, dtype=np.int64) * length) // buckets
        owner = _owner(starts, length)
        values = np.stack([series[i][1] for i in indices])
        low = np.where(np.isnan(values), np.inf, values)
        high = np.where(np.isnan(values), -np.inf, values)
        mins = np.minimum.reduceat(low, starts, axis=1)[:, owner]
        maxs = np.maximum.reduceat(high, starts, axis=1)[:, owner]
        picked = np.concatenate(
            [_first_in_bucket(low == mins, starts, length),
             _first_in_bucket(high == maxs, starts, length)],
            axis=1,
        )  # fmt: skip
        ends = np.broadcast_to(np.array([0, length - 1]), (len(indices), 2))
        picked = np.sort(np.concatenate([picked, ends], axis=1), axis=1)
        fresh = np.ones(picked.shape, dtype=bool)
        fresh[:, 1:] = picked[:, 1:] != picked[:, :-1]
        for row, index in enumerate(indices):
            keep = picked[row][fresh[row]]
            out[index] = (series[index][0][keep], series[index][1][keep])
    return out


def _owner(starts: npt.NDArray[np.int64], length: int) -> npt.NDArray[np.int64]:
    """The bucket of each position."""
    return np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, length]))


def _first_in_bucket(
    hits: npt.NDArray[np.bool_], starts: npt.NDArray[np.int64], length: int
) -> npt.NDArray[np.int64]:
    """Per row and bucket, the first position where ``hits`` is true."""
    score = np.where(hits, length - np.arange(length), 0)
    return length - np.maximum.reduceat(score, starts, axis=1)
