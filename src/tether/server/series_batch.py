"""The numeric series of many runs at once, for the workspace's charts: one query for every
(run, key) asked, each series merged across the run's writers, sorted by step.

A series long enough to be cut to ``points`` anyway is read from its chunks' coarse min/max
copy (``series.LOD_BLOCK`` times smaller), chosen in SQL per (run, key) by a window sum of
its points, so 1,000 runs x 1,000,000 points never read the full arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, Select, case, func, select

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
    chunk = series_chunks.c
    total = func.sum(chunk.count).over(partition_by=(chunk.run_pk, chunk.key_id))
    coarse = (total >= points * LOD_BLOCK) & chunk.lod_vals.is_not(None)
    query = (
        select(
            chunk.id,
            chunk.run_pk,
            metric_keys.c.key,
            case((coarse, chunk.lod_steps), else_=chunk.steps).label("steps"),
            case((coarse, chunk.lod_vals), else_=chunk.vals).label("vals"),
        )
        .join(metric_keys, metric_keys.c.id == chunk.key_id)
        .where(
            chunk.run_pk.in_(run_pks.scalar_subquery()),
            metric_keys.c.key.in_(list(keys)),
            chunk.kind == F8,
        )
    )
    parts: dict[tuple[int, str], list[tuple[int, bytes, bytes]]] = {}
    for chunk_id, run_pk, key, steps_blob, vals_blob in connection.execute(query).tuples():
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
