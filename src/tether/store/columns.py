"""History columns: values placed at their rows, one numpy array per key, then a DataFrame.

Shared by the local run (``RunData.history()``) and the remote one (``RemoteRun.history()``)
so that both give the same columns with the same dtypes for the same logged values:

* ``_step`` int64, ``_time`` float64 (seconds since the epoch), ``_writer`` categorical (the
  writers' labels: a byte a row, not a string object a row);
* a key whose values are all numbers (ints, floats): float64, NaN where a row did not log
  it (the server keeps numbers as float64, so ints come back as floats from it too; an int
  past 2**53 loses its last digits here, ``rows()`` keeps it exact);
* a key logged as a bool on every row: bool;
* anything else (strings, lists, None, mixed types): object, None where not logged.

Float blocks are written into a NaN-filled float64 array as they are decoded, so a history
of N rows x K float keys costs N x K x 8 bytes, plus the step, time and writer columns.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    import pandas

FIXED_COLUMNS = ("_step", "_time", "_writer")
Positions = slice | npt.NDArray[np.int64]
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


class ColumnBuilder:
    """One key's values, placed at row positions as they are decoded."""

    def __init__(self, length: int) -> None:
        self.length = length
        self._floats: npt.NDArray[np.float64] | None = None
        self._float_positions: list[Positions] = []
        self._pieces: list[tuple[Positions, list[Any]]] = []

    def put_floats(self, positions: Positions, values: npt.NDArray[Any]) -> None:
        if self._floats is None:
            self._floats = np.full(self.length, np.nan)
        self._floats[positions] = values
        self._float_positions.append(positions)

    def put_values(self, positions: Positions, values: list[Any]) -> None:
        self._pieces.append((positions, values))

    def build(self) -> npt.NDArray[Any]:
        # ``length`` may have shrunk since the float array was made (a block not read).
        floats = None if self._floats is None else self._floats[: self.length]
        pieces = self._pieces
        if not pieces:
            return floats if floats is not None else np.full(self.length, np.nan)
        values = [value for _, part in pieces for value in part]
        types = set(map(type, values))
        covered = len(values) + sum(_count(p, self.length) for p in self._float_positions)
        whole = covered == self.length
        if types <= {int, float}:
            target = floats if floats is not None else np.full(self.length, np.nan)
            return self._scatter(target, np.float64)
        if floats is None and whole and types == {bool}:
            return self._scatter(np.empty(self.length, np.bool_), np.bool_)
        column = np.full(self.length, None, dtype=object)
        if floats is not None:
            for positions in self._float_positions:
                column[positions] = floats[positions].astype(object)
        for positions, part in pieces:
            column[positions] = _objects(part)
        return column

    def _scatter(self, target: npt.NDArray[Any], dtype: Any) -> npt.NDArray[Any]:
        for positions, part in self._pieces:
            target[positions] = np.array(part, dtype=dtype)
        return target


def _count(positions: Positions, length: int) -> int:
    if isinstance(positions, slice):
        return len(range(*positions.indices(length)))
    return len(positions)


def _objects(values: list[Any]) -> npt.NDArray[Any]:
    """An object array of ``values`` as they are (lists stay lists, not a second axis)."""
    array = np.empty(len(values), dtype=object)
    for index, value in enumerate(values):
        array[index] = value
    return array


def downsample_rows(
    writers: npt.NDArray[np.int32], columns: dict[str, npt.NDArray[Any]], samples: int
) -> npt.NDArray[np.int64]:
    """Rows to keep for about ``samples`` points per series (a key of one writer).

    As the server does it: a series longer than ``samples`` keeps, per bucket of
    ``samples // 2``, its minimum and its maximum, and its first and last points; a
    non-numeric series keeps every n-th point. A row kept for one series is kept whole.
    """
    keep: list[npt.NDArray[np.int64]] = []
    for writer in np.unique(writers).tolist():
        mine = writers == writer
        for column in columns.values():
            present = mine & _present(column)
            rows = np.flatnonzero(present)
            if len(rows) <= samples:
                keep.append(rows)
            elif column.dtype == object:
                picked = np.linspace(0, len(rows) - 1, samples).astype(np.int64)
                keep.append(rows[picked])
            else:
                keep.append(rows[_extremes(column[rows].astype(np.float64), samples)])
    if not keep:
        return np.arange(0, dtype=np.int64)
    return np.unique(np.concatenate(keep)).astype(np.int64)


def _present(column: npt.NDArray[Any]) -> npt.NDArray[np.bool_]:
    if column.dtype == object:
        return np.array([value is not None for value in column.tolist()], dtype=np.bool_)
    if column.dtype.kind == "f":
        present: npt.NDArray[np.bool_] = ~np.isnan(column)
        return present
    return np.ones(len(column), dtype=np.bool_)


def _extremes(values: npt.NDArray[np.float64], samples: int) -> npt.NDArray[np.int64]:
    """Indices of each bucket's minimum and maximum, and of the ends."""
    count = len(values)
    buckets = max(1, samples // 2)
    starts = np.unique(np.linspace(0, count, buckets, endpoint=False).astype(np.int64))
    low = np.minimum.reduceat(values, starts)
    high = np.maximum.reduceat(values, starts)
    sizes = np.diff(np.append(starts, count))
    bucket_of = np.repeat(np.arange(len(starts)), sizes)
    first_low = np.unique(bucket_of[values == low[bucket_of]], return_index=True)[1]
    first_high = np.unique(bucket_of[values == high[bucket_of]], return_index=True)[1]
    is_low = np.flatnonzero(values == low[bucket_of])
    is_high = np.flatnonzero(values == high[bucket_of])
    return np.concatenate([is_low[first_low], is_high[first_high], [0, count - 1]]).astype(np.int64)


def history_frame(
    steps: npt.NDArray[np.int64],
    times: npt.NDArray[np.float64],
    writers: npt.NDArray[np.int32],
    labels: list[str],
    columns: dict[str, npt.NDArray[Any]],
) -> pandas.DataFrame:
    """The DataFrame of a history, built on the arrays themselves (no copy, no consolidation).

    ``writers`` holds each row's index into ``labels`` (distinct writer labels).
    """
    import pandas

    data: dict[str, Any] = {
        "_step": steps,
        "_time": times,
        "_writer": pandas.Categorical.from_codes(writers, categories=labels),
    }
    data.update(columns)
    return pandas.DataFrame(data, columns=list(data), copy=False)
