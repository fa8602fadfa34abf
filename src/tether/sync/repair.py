"""A frame the server will not take whole, sent record by record without what it refuses.

Segments go up as the bytes on disk, whole frames at a time (``run_upload``). When the server
refuses one frame (413: larger than its body limit; 422: a record it cannot store, such as a
step past 64 bits), the good records of that frame must still arrive. ``FrameRepair`` decodes
the frame into its records and sends them as frames of their own, ``[seq, record]``, packed
into bodies under the limit, with ``end`` at the frame's start (the server stores them but does
not move its offset; records are deduplicated by sequence number, so a repair cut short and
started again stores nothing twice). What the server refuses is left out: a single row of a
block of rows, or the whole record. The last body carries ``end`` at the frame's end and the
skip counts with the reason, so the run shows what was left out and why.

Damaged bytes on disk (a bad CRC followed by valid frames: the reader steps over them too)
are skipped the same way, with an empty body.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import msgspec

from tether.store import format as fmt
from tether.store.records import kind_name

# Bytes of one record's frame beyond the record itself: header, array and seq.
_FRAME_OVERHEAD: Final = fmt.FRAME_HEADER.size + 16


@dataclass
class Skipped:
    """What one writer's upload left out, and why (said once, then counted on the server)."""

    records: int = 0
    bytes: int = 0
    reasons: list[str] = field(default_factory=list)

    def add(self, records: int, size: int, reason: str) -> None:
        self.records += records
        self.bytes += size
        if reason not in self.reasons:
            self.reasons.append(reason)

    def reason(self) -> str:
        text = "; ".join(self.reasons)
        return text if len(text) <= 1000 else text[:997] + "..."


@dataclass
class FrameRepair:
    """One refused frame ``[start, end)`` of a segment, being sent without what is refused."""

    start: int
    end: int
    records: list[tuple[int, Any]]  # (seq, record) still to send
    skipped: Skipped = field(default_factory=Skipped)
    one_by_one: bool = False  # the server refused without saying which record: narrow down

    @classmethod
    def of(cls, path: Path, start: int, why: str) -> FrameRepair:
        """The frame at ``start`` of ``path`` (from 0: the first, after the magic); one that
        checks out but cannot be decoded is skipped whole for ``why``. Raises ``ValueError``
        when no whole, checksummed frame is there (nothing is skipped on a guess)."""
        at = max(start, len(fmt.MAGIC))
        with open(path, "rb") as handle:
            try:
                payload, end = fmt.read_payload(handle, at)
            except fmt.FrameError as exc:
                raise ValueError(f"{exc} of {path}") from exc
        frame = fmt.decode_payload(payload)
        if frame is None:  # checked by CRC, yet not records: nothing in it is usable
            repair = cls(start, end, [])
            repair.skipped.add(0, end - start, f"{why}; the frame cannot be decoded")
            return repair
        first = frame.first_seq
        records = [(first + i if first >= 0 else first, r) for i, r in enumerate(frame.records)]
        return cls(start, end, records)

    @classmethod
    def damage(cls, start: int, end: int) -> FrameRepair:
        repair = cls(start, end, [])
        repair.skipped.add(
            0,
            end - start,
            f"{end - start} damaged bytes on disk at offset {start} (bad length or CRC; "
            "the frames around them are intact)",
        )
        return repair

    def next_body(self, limit: int, server_limit: int | None) -> tuple[bytes, int, bool]:
        """The next body (``MAGIC`` first at offset 0), how many records it holds, and whether
        it is the last one: records packed up to ``limit`` bytes, a larger one alone. Records
        over ``server_limit`` (when known) are skipped here: the server can never take them."""
        parts: list[bytes] = [fmt.MAGIC] if self.start == 0 else []
        size = sum(map(len, parts))
        count = 0
        index = 0
        while index < len(self.records):
            seq, record = self.records[index]
            frame = fmt.encode_frame(seq, [record])
            if server_limit is not None and size + len(frame) > server_limit and count == 0:
                del self.records[index]
                self.skipped.add(
                    _rows(record),
                    len(frame),
                    f"record {seq} ({kind_name(record)}) is {len(frame):,} bytes, over the "
                    f"server's {server_limit:,}-byte limit for one upload",
                )
                continue
            if count and size + len(frame) > limit:
                break
            parts.append(frame)
            size += len(frame)
            count += 1
            index += 1
            if self.one_by_one:
                break
        return b"".join(parts) if count else b"", count, count == len(self.records)

    def refuse(self, count: int, seq: int | None, row: int | None, reason: str) -> None:
        """The server refused the body of the first ``count`` records: leave out what it named
        (a row of a block, or a record), or narrow down to one record a body."""
        named = [i for i, (s, _) in enumerate(self.records[:count]) if s == seq]
        if not named:
            if count > 1:
                self.one_by_one = True
                return
            named = [0]
        index = named[0]
        seq_, record = self.records[index]
        if (
            row is not None
            and kind_name(record) == "rows"
            and _rows(record) > 1
            and row < _rows(record)
        ):
            kept = [part[:row] + part[row + 1 :] for part in record[2:5]]
            dropped = [part[row] for part in record[2:5]]
            self.records[index] = (seq_, [record[0], record[1], *kept, *record[5:]])
            self.skipped.add(1, len(msgspec.msgpack.encode(dropped)), reason)
            return
        del self.records[index]
        self.skipped.add(_rows(record), len(fmt.encode_frame(seq_, [record])), reason)

    def sent(self, count: int) -> None:
        del self.records[:count]


def _rows(record: Any) -> int:
    """A record counts as one; a block of rows as its rows."""
    if kind_name(record) == "rows" and isinstance(record[2], list):
        return max(1, len(record[2]))
    return 1


def frame_count(body: bytes, start: int) -> int:
    """How many frames ``body`` (whole frames read from ``start``) holds."""
    position = len(fmt.MAGIC) if start == 0 else 0
    return sum(1 for _ in fmt.whole_frame_ends(body, position))


def damaged_until(path: Path, start: int) -> int | None:
    """Where the next valid frame after damage at ``start`` begins; None when nothing valid
    follows (a frame still being written, or a torn tail: not damage, just not there yet)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(start)
            rest = handle.read()
    except OSError:
        return None
    if len(rest) < fmt.FRAME_HEADER.size:
        return None
    found = fmt.next_frame_offset(fmt.MAGIC + rest, len(fmt.MAGIC) + 1)
    return None if found is None else start + found - len(fmt.MAGIC)
