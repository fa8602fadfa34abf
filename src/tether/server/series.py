"""History series on the server: packed chunks in, whole or downsampled arrays out.

A chunk holds one upload's points of one (writer, key): steps (int64), times (float64) and
values, float64 when every value is a number that float64 holds exactly, msgpack otherwise.
Downsampling keeps, per bucket, the points with the minimum and the maximum value (plus the
first and last point), so a chart of a million points still shows every spike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt

_FLOAT_EXACT = 2**53

F8 = "f8"
MSGPACK = "mp"


def encode_values(values: list[Any]) -> tuple[str, bytes]:
    numeric = all(
        (type(v) is float) or (type(v) is int and -_FLOAT_EXACT <= v <= _FLOAT_EXACT)
        for v in values
    )
    if numeric:
        return F8, np.asarray(values, dtype="<f8").tobytes()
    return MSGPACK, msgspec.msgpack.encode(values)


def decode_values(kind: str, blob: bytes) -> npt.NDArray[Any]:
    if kind == F8:
        return np.frombuffer(blob, dtype="<f8")
    return np.asarray(msgspec.msgpack.decode(blob), dtype=object)


@dataclass
class Series:
    key: str
    writer: str
    steps: npt.NDArray[np.int64]
    times: npt.NDArray[np.float64]
    values: npt.NDArray[Any]

    def sorted_by_step(self) -> Series:
        order = np.argsort(self.steps, kind="stable")
        return Series(
            self.key, self.writer, self.steps[order], self.times[order], self.values[order]
        )

    def downsampled(self, samples: int) -> Series:
        """About ``samples`` points: per bucket, the minimum and the maximum (and the ends)."""
        count = len(self.steps)
        if count <= samples or self.values.dtype == object:
            return self if count <= samples else self._every_nth(samples)
        buckets = max(1, samples // 2)
        edges = np.linspace(0, count, buckets + 1).astype(np.int64)
        values = self.values.astype(np.float64)
        low = np.where(np.isnan(values), np.inf, values)
        high = np.where(np.isnan(values), -np.inf, values)
        starts = edges[:-1]
        mins = np.minimum.reduceat(low, starts)
        maxs = np.maximum.reduceat(high, starts)
        picked = [0, count - 1]
        for index, start in enumerate(starts):
            end = edges[index + 1]
            if end <= start:
                continue
            window = low[start:end]
            picked.append(int(start + np.argmax(window == mins[index])))
            window = high[start:end]
            picked.append(int(start + np.argmax(window == maxs[index])))
        keep = np.unique(np.asarray(picked, dtype=np.int64))
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
    """A value JSON can carry: non-finite floats become strings, containers recurse."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value
