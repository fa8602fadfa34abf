"""What ingestion checks in each record before anything reaches the database.

A value the database cannot store (a step past 64 bits, a process id past 32, a metric key
longer than its column) must come back to the client as a 422 that names the field and the
record, never as a 500 from the database driver: the client then skips that record (or that
row of a block) and uploads the rest (``tether.sync.repair``). Text that PostgreSQL refuses
(a NUL character) is not worth refusing a record for; ``text`` replaces it instead.
"""

from __future__ import annotations

import math
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from tether.store import format as fmt
from tether.store import records
from tether.store.records import kind_name

INT64: Final = (-(2**63), 2**63 - 1)
INT32: Final = (-(2**31), 2**31 - 1)
INT16: Final = (-(2**15), 2**15 - 1)
KEY_CHARS: Final = 512  # metric_keys.key
STATE_CHARS: Final = 16  # writers.final_state, runs.state

_RANGE_NAMES: Final = {
    INT64: "a signed 64-bit integer, -2**63 to 2**63-1",
    INT32: "a signed 32-bit integer, -2**31 to 2**31-1",
    INT16: "a signed 16-bit integer, -2**15 to 2**15-1",
}


class BadRecordError(ValueError):
    """One record the server cannot store: which ``field`` (and ``row`` of a block), and why."""

    def __init__(self, field: str, message: str, *, row: int | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.row = row


def text(value: Any, limit: int | None = None) -> str:
    """``value`` as text a database column holds: NUL replaced, cut to ``limit`` characters."""
    result = value if isinstance(value, str) else str(value)
    if "\x00" in result:
        result = result.replace("\x00", "\ufffd")
    return result if limit is None else result[:limit]


def check_int(value: Any, field: str, bounds: tuple[int, int], *, row: int | None = None) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise BadRecordError(field, f"{field} is {_typed(value)}, not an integer", row=row)
    if not bounds[0] <= value <= bounds[1]:
        raise BadRecordError(
            field,
            f"{field} {value} is outside what the server stores "
            f"({_RANGE_NAMES.get(bounds, f'{bounds[0]} to {bounds[1]}')})",
            row=row,
        )
    return value


def check_number(value: Any, field: str, *, row: int | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadRecordError(field, f"{field} is {_typed(value)}, not a number", row=row)
    if isinstance(value, float) and not math.isfinite(value):
        raise BadRecordError(field, f"{field} is {value}, not a finite number", row=row)
    return float(value)


def _typed(value: Any) -> str:
    return f"{type(value).__name__} {repr(value)[:60]}"


def check_first_seq(first_seq: int, count: int) -> None:
    """A frame's sequence numbers are stored as 64-bit integers (``writers.last_seq``)."""
    check_int(first_seq, "first_seq", INT64)
    if count and first_seq >= 0:
        check_int(first_seq + count - 1, "first_seq", INT64)


def check_record(record: Any) -> None:
    """Raise ``BadRecordError`` unless every field of ``record`` that the server stores fits."""
    if not isinstance(record, list) or not record or not isinstance(record[0], int):
        raise BadRecordError(
            "record", f"malformed record {record!r:.60}: not a list starting with its kind"
        )
    kind = record[0]
    spec = records.spec_of(record) if type(kind) is int else None
    if spec is not None and len(record) < spec.min_items:
        raise BadRecordError(
            "record", f"malformed {spec.name} record: {len(record)} items, not {spec.min_items}"
        )
    if kind == fmt.K_HEADER:
        _check_header(record[1])
    elif kind == fmt.K_KEYS:
        check_int(record[1], "schema id", INT32)
        keys = record[2]
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise BadRecordError("keys", "a keys record must hold a list of key names")
        for key in keys:
            if len(key) > KEY_CHARS:
                raise BadRecordError(
                    "key",
                    f"key {key[:40]!r}... has {len(key)} characters; the server stores keys of "
                    f"at most {KEY_CHARS}",
                )
    elif kind == fmt.K_ROW:
        check_int(record[1], "schema id", INT32)
        check_int(record[2], "step", INT64)
        check_number(record[3], "time")
    elif kind in (fmt.K_LINES, fmt.K_CONSOLE):
        check_number(record[1], "time")
        check_int(record[2], "stream", INT16)
        if kind == fmt.K_LINES and not isinstance(record[3], list):
            raise BadRecordError("lines", "a lines record must hold a list of lines")
    elif kind in (fmt.K_CONFIG, fmt.K_SUMMARY):
        check_number(record[1], "time")
        if not isinstance(record[2], dict) or not isinstance(record[3], list):
            raise BadRecordError(kind_name(record), "an update holds a mapping and a list of keys")
    elif kind == fmt.K_FINAL:
        check_number(record[1], "time")
        if not isinstance(record[2], str) or not 0 < len(record[2]) <= STATE_CHARS:
            raise BadRecordError("state", f"state {record[2]!r} is not a run state")
        if record[3] is not None:
            check_int(record[3], "exit_code", INT32)
    elif kind == fmt.K_ROWS:
        check_int(record[1], "schema id", INT32)


def _check_header(header: Any) -> None:
    if not isinstance(header, dict):
        raise BadRecordError("header", f"a header must be a mapping, not {type(header).__name__}")
    if header.get("pid") is not None:
        check_int(header["pid"], "pid", INT32)
    if "start_time" in header:
        check_number(header["start_time"], "start_time")
    tags = header.get("tags")
    if tags is not None and not isinstance(tags, list):
        raise BadRecordError("tags", f"tags must be a list, not {type(tags).__name__}")


def rows_arrays(
    steps: Any, millis: Any, values: Any
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], list[Any]]:
    """A block of rows' steps and times as arrays, each row checked (a ``BadRecordError``
    names the first row that does not fit). Fast in the common case: numpy converts, and only
    a block that fails is walked row by row to say which row."""
    if not isinstance(steps, list) or not isinstance(millis, list) or not isinstance(values, list):
        raise BadRecordError("rows", "a rows block must hold lists of steps, times and value rows")
    if not len(steps) == len(millis) == len(values):
        raise BadRecordError(
            "rows",
            f"a rows block has {len(steps)} steps, {len(millis)} times and "
            f"{len(values)} value rows",
        )
    try:
        step_array = np.fromiter(steps, dtype="<i8", count=len(steps))
        if any(type(s) is not int for s in steps):  # bools and floats would convert quietly
            raise TypeError
    except (OverflowError, TypeError, ValueError):
        for row, step in enumerate(steps):
            check_int(step, "step", INT64, row=row)
        raise
    try:
        ms_array = np.fromiter(millis, dtype="<f8", count=len(millis))
    except (OverflowError, TypeError, ValueError):
        for row, ms in enumerate(millis):
            check_number(ms, "time", row=row)
        raise
    for row, value_row in enumerate(values):
        if not isinstance(value_row, list):
            raise BadRecordError("values", "a row's values must be a list", row=row)
    return step_array, ms_array, values
