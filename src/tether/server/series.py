"""History series on the server: packed chunks in, whole or downsampled arrays out.

A chunk holds one upload's points of one (writer, key): steps (int64), times (float64) and
values, float64 when every value is a number that float64 holds exactly, msgpack otherwise.
Downsampling keeps, per bucket, the points with the minimum and the maximum value (plus the
first and last point), so a chart of a million points still shows every spike.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt

_FLOAT_EXACT = 2**53
# A chunk's coarse copy keeps the minimum and maximum point of each block of this many points.
LOD_BLOCK = 64

F8 = "f8"
_FLOAT_ONLY = frozenset({float})
_FLOAT_OR_INT = frozenset({float, int})
MSGPACK = "mp"


def encode_values(values: Sequence[Any]) -> tuple[str, bytes]:
    kinds = set(map(type, values))  # in C: the common all-float chunk needs no Python loop
    numeric = kinds <= _FLOAT_ONLY or (
        kinds <= _FLOAT_OR_INT
        and all(-_FLOAT_EXACT <= v <= _FLOAT_EXACT for v in values if type(v) is int)
    )
    if numeric:
        return F8, np.asarray(values, dtype="<f8").tobytes()
    return MSGPACK, msgspec.msgpack.encode(values)


def decode_values(kind: str, blob: bytes) -> npt.NDArray[Any]:
    if kind == F8:
        return np.frombuffer(blob, dtype="<f8")
    return np.asarray(msgspec.msgpack.decode(blob), dtype=object)


def min_max_lod(
    steps: npt.NDArray[np.int64], times: npt.NDArray[np.float64], values: npt.NDArray[np.float64]
) -> tuple[bytes, bytes, bytes] | None:
    """The coarse copy of one numeric chunk: per block, its minimum and maximum point."""
    count = len(values)
    if count < 4 * LOD_BLOCK:
        return None
    starts = np.arange(0, count, LOD_BLOCK)
    picked = np.concatenate([_extreme_indices(values, starts, count), [0, count - 1]])
    keep = np.unique(picked)
    return (
        steps[keep].astype("<i8").tobytes(),
        times[keep].astype("<f8").tobytes(),
        values[keep].astype("<f8").tobytes(),
    )


def _extreme_indices(
    values: npt.NDArray[np.float64], starts: npt.NDArray[np.int64], count: int
) -> npt.NDArray[np.int64]:
    """For each block ``[starts[i], starts[i+1])``: the index of its minimum and maximum."""
    low = np.where(np.isnan(values), np.inf, values)
    high = np.where(np.isnan(values), -np.inf, values)
    mins = np.minimum.reduceat(low, starts)
    maxs = np.maximum.reduceat(high, starts)
    ends = np.append(starts[1:], count)
    sizes = ends - starts
    block_of = np.repeat(np.arange(len(starts)), sizes)
    # The first position in each block where the value equals the block's extreme.
    is_min = np.flatnonzero(low == mins[block_of])
    is_max = np.flatnonzero(high == maxs[block_of])
    first_min = is_min[np.unique(block_of[is_min], return_index=True)[1]]
    first_max = is_max[np.unique(block_of[is_max], return_index=True)[1]]
    return np.concatenate([first_min, first_max]).astype(np.int64)


@dataclass
class Series:
    key: str
    writer: str
    steps: npt.NDArray[np.int64]
    times: npt.NDArray[np.float64]
    values: npt.NDArray[Any]

    def sorted_by_step(self) -> Series:
        if len(self.steps) < 2 or bool(np.all(self.steps[1:] >= self.steps[:-1])):
            return self  # the usual case: logged in order, and a check is far cheaper than a sort
        order = np.argsort(self.steps, kind="stable")
        return Series(
            self.key, self.writer, self.steps[order], self.times[order], self.values[order]
        )

    def downsampled(self, samples: int) -> Series:
        """About ``samples`` points: per bucket, the minimum and the maximum (and the ends)."""
        count = len(self.steps)
        if count <= samples:
            return self
        if self.values.dtype == object:
            return self._every_nth(samples)
        buckets = max(1, samples // 2)
        starts = np.unique(np.linspace(0, count, buckets, endpoint=False).astype(np.int64))
        values = self.values.astype(np.float64)
        picked = np.concatenate([_extreme_indices(values, starts, count), [0, count - 1]])
        keep = np.unique(picked)
        return Series(self.key, self.writer, self.steps[keep], self.times[keep], self.values[keep])

    def _every_nth(self, samples: int) -> Series:
        keep = np.unique(np.linspace(0, len(self.steps) - 1, samples).astype(np.int64))
        return Series(self.key, self.writer, self.steps[keep], self.times[keep], self.values[keep])

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "writer": self.writer,
            "steps": self.steps.tolist(),
            "times": self.times.tolist(),
            "values": json_values(self.values),
        }


def json_values(values: npt.NDArray[Any]) -> list[Any]:
    """Values for JSON: NaN and infinities as the strings "NaN", "Infinity", "-Infinity"."""
    if values.dtype == object:
        return [json_safe(v) for v in values.tolist()]
    as_list: list[Any] = values.tolist()
    if not np.isfinite(values).all():
        as_list = [json_safe(v) for v in as_list]
    return as_list


def json_safe(value: Any) -> Any:
    """A value JSON can carry: non-finite floats and non-JSON types become strings."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if value is None or isinstance(value, str | int | float):
        return value
    # msgpack can carry what JSON cannot (bytes, extension types): kept as text, not refused.
    return repr(value)[:1000]
