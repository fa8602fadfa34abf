"""The workspace's charts of many runs (``GET P/runs/lines``): per metric, every run's line on
one shared step axis, ready to draw.

Lines of runs downsampled one by one (``series_batch.cut_many``) keep each run's own steps, so
a browser drawing a thousand of them first joins a thousand x axes, which cost it more than
the drawing. Here all the runs of a metric share the x values:

* when the runs logged at ``points`` distinct steps or fewer, those steps, and every value
  exactly;
* otherwise the step range is cut into ``points // 2`` equal buckets, and each run keeps its
  lowest and highest value of each bucket, in the order the run logged them, at two x values
  per bucket (its start and its middle): peaks and dips survive the cut, as in ``cut_many``.

The values travel as one base64 block of little-endian float64 per metric (runs x steps, NaN
where a run has no point): a million numbers as JSON text cost the server and the browser more
than the queries.
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, Select, func, select

from tether.server.series import F8
from tether.server.series_batch import Flat, read_flat
from tether.server.series_cache import cached_series, project_series
from tether.server.storage.schema import metric_keys, runs, series_chunks

MAX_KEYS: Final = 24  # metrics charted when the request names none (the workspace's grid)


def chosen_keys(connection: Connection, run_pks: Sequence[int], limit: int = MAX_KEYS) -> list[str]:
    """The numeric metrics the runs logged, in natural order (``lr2`` before ``lr10``)."""
    if not run_pks:
        return []
    chunk = series_chunks.c
    names = connection.execute(
        select(metric_keys.c.key)
        .distinct()
        .select_from(series_chunks.join(metric_keys, metric_keys.c.id == chunk.key_id))
        .where(chunk.run_pk.in_(list(run_pks)), chunk.kind == F8)
    ).scalars()
    return sorted(names, key=_natural)[:limit]


def _natural(key: str) -> list[tuple[int, Any]]:
    return [(0, int(part)) if part.isdigit() else (1, part.lower()) for part in _DIGITS.split(key)]


_DIGITS: Final = re.compile(r"(\d+)")


def run_lines(
    connection: Connection,
    project_pk: int,
    run_pks: Sequence[int],
    keys: Sequence[str],
    *,
    points: int,
) -> dict[str, dict[str, Any]]:
    """``{key: {"step": [...], "runs": [run id...], "values": base64}}`` for the runs ``run_pks``
    of the project (in that order; a run without a point of the key is left out of its
    ``runs``)."""
    if not run_pks:
        return {}
    every_run = (
        len(run_pks)
        == connection.execute(
            select(func.count()).select_from(runs).where(runs.c.project_id == project_pk)
        ).scalar_one()
    )
    row_of = {pk: row for row, pk in enumerate(run_pks)}
    run_ids = {
        int(row.id): str(row.run_id)
        for row in connection.execute(
            select(runs.c.id, runs.c.run_id).where(runs.c.id.in_(list(run_pks)))
        )
    }
    chosen = select(runs.c.id).where(runs.c.id.in_(list(run_pks)))
    answer: dict[str, dict[str, Any]] = {}
    for key in keys:
        flat = _series(connection, project_pk, chosen, run_pks, key, points, every_run)
        if not len(flat.steps):
            continue
        steps, matrix = aligned(flat, points)
        rows = np.fromiter((row_of[int(pk)] for pk in flat.pks), dtype=np.int64)
        order = np.argsort(rows, kind="stable")  # the request's order: the table's
        answer[key] = {
            "step": steps.tolist(),
            "runs": [run_ids[int(flat.pks[i])] for i in order],
            "values": base64.b64encode(matrix[order].astype("<f8").tobytes()).decode("ascii"),
        }
    return answer


def _series(
    connection: Connection,
    project_pk: int,
    chosen: Select[Any],
    run_pks: Sequence[int],
    key: str,
    points: int,
    every_run: bool,
) -> Flat:
    """The runs' series of ``key``, shared with the grouped lines (``series_cache``): the
    project's, kept for the next request, when the runs are all of the project's (a project
    of up to 1,000 runs, unfiltered); a slice of the project's when they are kept already (a
    filter after a grouping); otherwise those runs' own."""
    if every_run:
        return project_series(connection, project_pk, key, points=points)
    kept = cached_series(connection, project_pk, key, points=points)
    if kept is not None:
        return kept.of_runs(run_pks)
    return read_flat(connection, chosen, key, points=points)


def aligned(flat: Flat, points: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """The shared steps and a (runs of ``flat``, steps) matrix of values, NaN where none."""
    runs_count = len(flat.pks)
    run_of = np.repeat(np.arange(runs_count, dtype=np.int64), flat.lengths)
    # A run longer than ``points`` needs the buckets: no need to sort a million steps to see.
    if int(flat.lengths.max()) <= points:
        distinct = np.unique(flat.steps)
        if len(distinct) <= points:
            matrix = np.full((runs_count, len(distinct)), np.nan)
            matrix[run_of, np.searchsorted(distinct, flat.steps)] = flat.values
            return distinct, matrix
    buckets = max(1, points // 2)
    low_step = int(flat.steps.min())
    width = max(2, math.ceil((int(flat.steps.max()) - low_step + 1) / buckets))
    bucket = (flat.steps - low_step) // width
    # Each run's steps are sorted and the runs follow each other: equal (run, bucket) cells
    # are adjacent, and reduceat works on each cell's slice.
    cell = run_of * buckets + bucket
    starts = np.flatnonzero(np.r_[True, cell[1:] != cell[:-1]])
    values = flat.values
    finite = np.isfinite(values)
    low = np.where(finite, values, np.inf)
    high = np.where(finite, values, -np.inf)
    lows = np.minimum.reduceat(low, starts)
    highs = np.maximum.reduceat(high, starts)
    # Where in its cell each extreme was first logged: the two keep that order.
    sizes = np.diff(np.r_[starts, len(values)])
    owner = np.repeat(np.arange(len(starts)), sizes)
    position = np.arange(len(values))
    never = len(values)
    first_low = np.minimum.reduceat(np.where(low == lows[owner], position, never), starts)
    first_high = np.minimum.reduceat(np.where(high == highs[owner], position, never), starts)
    low_first = first_low <= first_high
    first = np.where(low_first, lows, highs)
    second = np.where(low_first, highs, lows)
    nothing = ~np.isfinite(lows)  # a cell of NaN and infinities only: no point
    first[nothing] = np.nan
    second[nothing] = np.nan
    matrix = np.full((runs_count, 2 * buckets), np.nan)
    run_row, cell_bucket = cell[starts] // buckets, cell[starts] % buckets
    matrix[run_row, 2 * cell_bucket] = first
    matrix[run_row, 2 * cell_bucket + 1] = second
    steps = low_step + np.repeat(np.arange(buckets, dtype=np.int64) * width, 2)
    steps[1::2] += width // 2
    used = ~np.isnan(matrix).all(axis=0)
    return steps[used], matrix[:, used]
