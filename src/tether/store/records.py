"""Records as typed values: one entry per ``RecordKind`` says its name, its least number of
items and how to decode it.

Readers (``store.reader``, the server's ingest, ``tether sync``) call ``decode_record`` and
handle the decoded types; none of them indexes a raw record. Version 1's one-row ``ROW`` and
one-line ``CONSOLE`` records decode to the same types as version 2's ``ROWS`` blocks and
``LINES``, so a reader handles each concept once and keeps reading old segments.

Adding a record kind: a member of ``RecordKind``, a type and an entry in ``KINDS`` here, a
handler where it is read, and an example in ``tests/test_format.py`` (which fails until all
of these exist).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

from tether.store.format import RecordKind


class RecordError(ValueError):
    """A record that does not have its kind's layout; ``field`` names what is wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class Header:
    fields: dict[str, Any]  # writer and run metadata (docs/format.md, "Header fields")


@dataclass(frozen=True, slots=True)
class Keys:
    schema_id: int
    keys: list[str]


@dataclass(frozen=True, slots=True)
class RowsBlock:
    """Consecutive rows of one layout, column by column (version 1's ``ROW``: one row)."""

    schema_id: int
    steps: list[Any]
    millis: list[Any]  # since the header's start_time
    values: list[Any]  # one list of values a row, in the layout's key order


@dataclass(frozen=True, slots=True)
class ConfigUpdate:
    time: float
    changed: dict[str, Any]
    deleted: list[Any]


@dataclass(frozen=True, slots=True)
class SummaryUpdate:
    time: float
    changed: dict[str, Any]
    deleted: list[Any]


@dataclass(frozen=True, slots=True)
class Lines:
    """Console lines that arrived together (version 1's ``CONSOLE``: one line)."""

    time: float
    stream: int
    lines: list[Any]


@dataclass(frozen=True, slots=True)
class FinalState:
    time: float
    state: str
    exit_code: int | None


@dataclass(frozen=True, slots=True)
class SystemSample:
    time: float
    metrics: dict[str, Any]


@dataclass(frozen=True, slots=True)
class FileEntry:
    time: float
    info: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Label:
    label: str


@dataclass(frozen=True, slots=True)
class Environment:
    time: float
    sections: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ArtifactOp:
    """An artifact logged, used or re-aliased by this run; ``info["op"]`` says which
    (``log``, ``use``, ``alias``) and ``tether.artifacts.manifest`` owns the fields."""

    time: float
    info: dict[str, Any]


Record = (
    Header
    | Keys
    | RowsBlock
    | ConfigUpdate
    | SummaryUpdate
    | Lines
    | FinalState
    | SystemSample
    | FileEntry
    | Label
    | Environment
    | ArtifactOp
)


class KindSpec(NamedTuple):
    name: str
    min_items: int  # the kind included
    decode: Callable[[list[Any]], Record]


def _mapping(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RecordError(field, f"{field} must be a mapping, not {type(value).__name__}")
    return value


def _list(value: Any, field: str) -> list[Any]:
    if not isinstance(value, list):
        raise RecordError(field, f"{field} must be a list, not {type(value).__name__}")
    return value


KINDS: Final[dict[RecordKind, KindSpec]] = {
    RecordKind.HEADER: KindSpec("header", 2, lambda r: Header(_mapping(r[1], "header"))),
    RecordKind.KEYS: KindSpec("keys", 3, lambda r: Keys(r[1], _list(r[2], "keys"))),
    RecordKind.ROW: KindSpec("row", 4, lambda r: RowsBlock(r[1], [r[2]], [r[3]], [r[4:]])),
    RecordKind.CONFIG: KindSpec(
        "config", 4, lambda r: ConfigUpdate(r[1], _mapping(r[2], "config"), _list(r[3], "deleted"))
    ),
    RecordKind.SUMMARY: KindSpec(
        "summary",
        4,
        lambda r: SummaryUpdate(r[1], _mapping(r[2], "summary"), _list(r[3], "deleted")),
    ),
    RecordKind.CONSOLE: KindSpec("console", 4, lambda r: Lines(r[1], r[2], [r[3]])),
    RecordKind.FINAL: KindSpec("final", 4, lambda r: FinalState(r[1], r[2], r[3])),
    RecordKind.SYSTEM: KindSpec(
        "system", 3, lambda r: SystemSample(r[1], _mapping(r[2], "metrics"))
    ),
    RecordKind.FILE: KindSpec("file", 3, lambda r: FileEntry(r[1], _mapping(r[2], "file"))),
    RecordKind.LABEL: KindSpec("label", 2, lambda r: Label(r[1])),
    RecordKind.ROWS: KindSpec(
        "rows",
        5,
        lambda r: RowsBlock(
            r[1], _list(r[2], "steps"), _list(r[3], "times"), _list(r[4], "values")
        ),
    ),
    RecordKind.LINES: KindSpec("lines", 4, lambda r: Lines(r[1], r[2], _list(r[3], "lines"))),
    RecordKind.ENVIRONMENT: KindSpec(
        "environment", 3, lambda r: Environment(r[1], _mapping(r[2], "environment"))
    ),
    RecordKind.ARTIFACT: KindSpec(
        "artifact", 3, lambda r: ArtifactOp(r[1], _mapping(r[2], "artifact"))
    ),
}


def spec_of(record: Any) -> KindSpec | None:
    """The entry of a raw record's kind; None for a kind this version does not know (a reader
    skips those: new kinds are added without a format version bump)."""
    kind = record[0] if isinstance(record, list) and record else None
    if type(kind) is not int and not isinstance(kind, RecordKind):
        raise RecordError(
            "record", f"malformed record {record!r:.60}: not a list starting with its kind"
        )
    try:
        return KINDS[RecordKind(kind)]
    except ValueError:
        return None


def kind_name(record: Any) -> str:
    """A raw record's kind, in words (for messages that say which record is wrong)."""
    try:
        spec = spec_of(record)
    except RecordError:
        return "record"
    return spec.name if spec is not None else f"kind {record[0]!r}"


def decode_record(record: Any) -> Record | None:
    """A raw record (as msgpack decoded it) as its typed value; None for an unknown kind.
    Raises ``RecordError`` when it lacks its kind's items or one of them has the wrong type."""
    spec = spec_of(record)
    if spec is None:
        return None
    if len(record) < spec.min_items:
        raise RecordError(
            "record", f"malformed {spec.name} record: {len(record)} items, not {spec.min_items}"
        )
    return spec.decode(record)


def apply_updates(
    current: dict[str, Any], updates: Iterable[tuple[float, Mapping[str, Any], Sequence[Any]]]
) -> dict[str, Any]:
    """Config or summary updates ``(time, changed, deleted keys)`` applied to ``current`` in
    time order (across writers, whose clocks agree closely enough: the same host, or NTP).
    Returns ``current``; a deleted key that is not a string is ignored (no key can match)."""
    for _, changed, deleted in sorted(updates, key=lambda update: float(update[0])):
        current.update(changed)
        for key in deleted:
            if isinstance(key, str):
                current.pop(key, None)
    return current
