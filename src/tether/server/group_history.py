"""One line per group for each metric (``GET P/runs/groups/history``): the runs' series
aligned by step into at most ``points`` buckets, then aggregated across the group's runs.

Per metric, the step range of all the groups' runs is cut into equal buckets (one step each
when the range is short), so every group's line shares the same x values. A run counts once
per bucket (the mean of its points there); the group's value in a bucket is the ``agg``
(mean, median, min or max) of its runs' values, with a band (``minmax``: the lowest and
highest run; ``std``: mean -/+ the population standard deviation; ``none``) and ``n``, the
runs that had a point there. NaN and infinities are left out. All of it is numpy over the
concatenated series: no Python loop per point.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from tether.server.run_groups import Group
from tether.server.series_batch import Flat

AGGREGATES: Final = ("mean", "median", "min", "max")
BANDS: Final = ("minmax", "std", "none")


def group_history(
    groups: Sequence[Group],
    series: dict[str, Flat],
    *,
    agg: str,
    band: str,
    points: int,
) -> dict[str, dict[str, dict[str, Any]]]:
    """``{label: {key: line}}`` for each key of ``series`` (``series_batch.read_flat``)."""
    answer: dict[str, dict[str, dict[str, Any]]] = {g.label: {} for g in groups}
    group_of_pk = {pk: index for index, group in enumerate(groups) for pk in group.pks}
    for key, flat in series.items():
        lines = _lines(groups, group_of_pk, flat, agg=agg, band=band, points=points)
        for label, line in lines.items():
            answer[label][key] = line
    return answer


def _lines(
    groups: Sequence[Group],
    group_of_pk: dict[int, int],
    flat: Flat,
    *,
    agg: str,
    band: str,
    points: int,
) -> dict[str, dict[str, Any]]:
    run_group = np.fromiter(
        (group_of_pk.get(int(pk), -1) for pk in flat.pks), dtype=np.int64, count=len(flat.pks)
    )
    runs = np.repeat(np.arange(len(flat.pks), dtype=np.int64), flat.lengths)
    steps, values = flat.steps, flat.values
    # NaN and infinities are left out, and so are runs in no group (made meanwhile).
    wanted = np.isfinite(values) & (run_group[runs] >= 0)
    if not wanted.all():
        steps, values, runs = steps[wanted], values[wanted], runs[wanted]
    if not len(steps):
        return {}
    low_step = int(steps.min())
    width = max(1, math.ceil((int(steps.max()) - low_step + 1) / points))
    buckets = (steps - low_step) // width
    count = int(buckets.max()) + 1
    # One value per (run, bucket): the mean of the run's points there. Each run's steps are
    # sorted and the runs follow each other, so equal (run, bucket) pairs are adjacent.
    pairs = runs * count + buckets
    pair_starts = np.flatnonzero(np.r_[True, pairs[1:] != pairs[:-1]])
    per_run = np.add.reduceat(values, pair_starts) / np.diff(np.r_[pair_starts, len(pairs)])
    pairs = pairs[pair_starts]
    pair_group = run_group[pairs // count]
    cells = pair_group * count + pairs % count
    # A median needs each cell's values in order; the other statistics only the cells.
    order = np.lexsort((per_run, cells)) if agg == "median" else np.argsort(cells, kind="stable")
    cells, per_run = cells[order], per_run[order]
    starts = np.flatnonzero(np.r_[True, cells[1:] != cells[:-1]])
    sizes = np.diff(np.r_[starts, len(cells)])
    stats = _stats(per_run, starts, sizes, median=agg == "median")
    cell = cells[starts]
    lines: dict[str, dict[str, Any]] = {}
    for group_index, group in enumerate(groups):
        mine = slice(*np.searchsorted(cell // count, [group_index, group_index + 1]))
        if mine.start == mine.stop:
            continue
        line: dict[str, Any] = {
            "step": (low_step + (cell[mine] % count) * width).tolist(),
            "value": stats[agg][mine].tolist(),
            "n": sizes[mine].tolist(),
        }
        if band == "minmax":
            line["low"], line["high"] = stats["min"][mine].tolist(), stats["max"][mine].tolist()
        elif band == "std":
            mean, spread = stats["mean"][mine], stats["std"][mine]
            line["low"], line["high"] = (mean - spread).tolist(), (mean + spread).tolist()
        else:
            line["low"] = line["high"] = None
        lines[group.label] = line
    return lines


def _stats(
    values: npt.NDArray[np.float64],
    starts: npt.NDArray[np.intp],
    sizes: npt.NDArray[np.intp],
    *,
    median: bool,
) -> dict[str, npt.NDArray[np.float64]]:
    """Per cell (a run of values from ``starts``, ``sizes`` long; sorted when ``median``)."""
    mean = np.add.reduceat(values, starts) / sizes
    squares = np.add.reduceat(values * values, starts) / sizes
    stats = {
        "mean": mean,
        "min": np.minimum.reduceat(values, starts),
        "max": np.maximum.reduceat(values, starts),
        "std": np.sqrt(np.maximum(squares - mean * mean, 0.0)),
    }
    if median:
        stats["median"] = (values[starts + (sizes - 1) // 2] + values[starts + sizes // 2]) / 2
    return stats
