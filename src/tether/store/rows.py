"""Queued history rows into ``K_KEYS`` and ``K_ROWS`` records, column by column.

A queued row is ``(keys, step, time, values)``: the key tuple and the values in the same
order, as ``log()`` took them from the user's dict. The flusher turns a whole drain of rows
into a few block records: consecutive rows with the same keys share one ``K_ROWS`` record
(steps, times and value lists side by side). The per-row work is done by ``map``/``zip`` in
C, which matters twice: the flusher competes with the training thread for the GIL, and
``log()`` at a million points a second leaves it a few microseconds per row.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import repeat
from operator import mul, sub
from typing import Any, Final

from tether.store import format as fmt

QueuedRow = tuple[tuple[str, ...], int, float, list[Any]]

# Rows per block record: bounds a frame (and an upload request) after a long pause.
MAX_BLOCK_ROWS: Final = 1024


def encode_rows(
    rows: Sequence[QueuedRow],
    schemas: dict[tuple[str, ...], int],
    start_time: float,
    latest: dict[str, Any],
) -> list[list[Any]]:
    """Block records for ``rows``; new key layouts are added to ``schemas`` (``K_KEYS`` first).

    ``latest`` is updated with the newest value of every key in ``rows``.
    """
    keys, steps, times, values = zip(*rows, strict=True)
    ids: list[int | None] = list(map(schemas.get, keys))
    records: list[list[Any]] = []
    if None in ids:
        for index, known in enumerate(ids):
            if known is None:
                layout = keys[index]
                schema = schemas.get(layout)
                if schema is None:
                    schema = len(schemas)
                    schemas[layout] = schema
                    records.append([fmt.K_KEYS, schema, list(layout)])
                ids[index] = schema
    # Milliseconds since the segment started: small ints pack into a few bytes.
    millis = list(map(round, map(mul, map(sub, times, repeat(start_time)), repeat(1000.0))))
    for first, end in _runs(ids):
        # The newest value of each key: the last row of each run, runs in order.
        latest.update(zip(keys[end - 1], values[end - 1], strict=True))
        for start in range(first, end, MAX_BLOCK_ROWS):
            stop = min(start + MAX_BLOCK_ROWS, end)
            records.append(
                [fmt.K_ROWS, ids[start], steps[start:stop], millis[start:stop], values[start:stop]]
            )
    return records


def fold_latest(latest: dict[str, Any], rows: Sequence[QueuedRow]) -> None:
    """Update ``latest`` with the values of ``rows`` (not yet encoded), in order."""
    for keys, _step, _time, values in rows:
        latest.update(zip(keys, values, strict=True))


def _runs(ids: Sequence[Any]) -> list[tuple[int, int]]:
    """``[start, end)`` ranges of consecutive equal ids."""
    count = len(ids)
    if ids.count(ids[0]) == count:  # one layout throughout: the common case, in C
        return [(0, count)]
    runs: list[tuple[int, int]] = []
    start = 0
    for index in range(1, count):
        if ids[index] != ids[start]:
            runs.append((start, index))
            start = index
    runs.append((start, count))
    return runs
