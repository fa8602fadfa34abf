"""Read one segment file back, surviving a torn tail and damaged frames, without decoding rows.

A segment belongs to one writer (one process). ``read_segment`` walks its frames once: the
small records (header, config, summary, console, final state, system samples, files) are decoded
there, while each row block (``K_ROWS``, version 1's ``K_ROW``) is only located: its frame,
its place in the frame, its layout and its number of rows. The values stay on disk until
``RunData.history()`` (or ``rows()``) asks for them, and then ``store.row_blocks`` decodes a
block straight into numpy columns. So ``tether show`` of a 10-million-point run reads the
file once and builds no Python object per value, and the history holds no file in memory.
"""

from __future__ import annotations

import contextlib
import mmap
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, cast

import msgspec

from tether.store import format as fmt
from tether.store import records
from tether.store.block_layout import array_head, block_layout, block_schema, read_uint

# A frame as its records, each left encoded: row blocks are never decoded here.
_frame_decoder: Final = msgspec.msgpack.Decoder(list[msgspec.Raw])
_record_decoder: Final = msgspec.msgpack.Decoder()
# The walked part of a mapped segment is unmapped every this many bytes: a walk holds a
# window of the file, not the file (a 1 GB segment would otherwise count 1 GB resident).
_WINDOW: Final = 16 * 1024 * 1024
_steps_decoder: Final = msgspec.msgpack.Decoder(list[int])
# A row block's steps only (the row count and the last step); times and values stay encoded.
_block_steps_decoder: Final = msgspec.msgpack.Decoder(
    tuple[int, int, list[int], msgspec.Raw, msgspec.Raw]
)


@dataclass(frozen=True, slots=True)
class BlockRef:
    """Where one row block is: enough to decode it later without walking the file again."""

    schema: int
    rows: int
    max_step: int
    # Where the record's own bytes are in the file.
    offset: int
    length: int
    # Version 1's one-row records are kept decoded ([step, ms, v0, v1, ...]): old, small runs.
    row: tuple[Any, ...] | None = None


@dataclass
class Segment:
    """Everything one writer put on disk, in the order it wrote it (rows only located)."""

    path: Path
    header: dict[str, Any]
    blocks: list[BlockRef] = field(default_factory=list)
    # schema id -> key names, from the segment's K_KEYS records.
    layouts: dict[int, list[str]] = field(default_factory=dict)
    config: list[tuple[float, dict[str, Any], list[str]]] = field(default_factory=list)
    summary: list[tuple[float, dict[str, Any], list[str]]] = field(default_factory=list)
    console: list[tuple[float, int, str]] = field(default_factory=list)
    # (time, {metric: number}) system samples, and (time, {section: value}) environment
    # records, in write order (RunData.system() and .environment read them).
    system: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    environment: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    # (time, info) of each file record (media: docs/format.md), in write order.
    files: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    final: tuple[float, str, int] | None = None
    last_seq: int = -1
    torn_bytes: int = 0
    # Damaged bytes in the middle of the file that the reader stepped over.
    skipped_bytes: int = 0
    mtime: float = 0.0

    @property
    def writer_id(self) -> str:
        return str(self.header.get("writer_id", self.path.stem))

    @property
    def label(self) -> str:
        return str(self.header.get("label", "?"))

    @property
    def is_main(self) -> bool:
        return bool(self.header.get("main", False))

    @property
    def start_time(self) -> float:
        return float(self.header.get("start_time", 0.0))

    @property
    def row_count(self) -> int:
        return sum(block.rows for block in self.blocks)

    @property
    def max_step(self) -> int | None:
        return max((block.max_step for block in self.blocks if block.rows), default=None)

    def keys(self) -> list[str]:
        """Every key this writer logged, in the order its layouts were first used."""
        seen: dict[str, None] = {}
        used: set[int] = set()
        for block in self.blocks:
            if block.schema not in used:
                used.add(block.schema)
                seen.update(dict.fromkeys(self.layouts.get(block.schema, ())))
        return list(seen)


def list_segments(run_dir: Path) -> list[Path]:
    directory = run_dir / fmt.SEGMENTS_DIR
    try:
        names = sorted(os.listdir(directory))
    except FileNotFoundError:
        return []
    return [directory / name for name in names if name.endswith(fmt.SEGMENT_SUFFIX)]


def read_segment(path: Path) -> Segment | None:
    """Walk one segment; None when it holds no whole header frame yet.

    The file is mapped, not read: a 100 MB segment is walked without a 100 MB copy, and what
    has been walked is let go as the walk goes (``_WINDOW``).
    """
    try:
        with open(path, "rb") as handle:
            stat = os.fstat(handle.fileno())
            if stat.st_size < len(fmt.MAGIC):
                return None
            data = mmap.mmap(handle.fileno(), 0, prot=mmap.PROT_READ)
    except (OSError, ValueError):
        return None
    view = memoryview(data)
    try:
        segment = _walk(path, data, view)
    finally:
        view.release()
        with contextlib.suppress(BufferError):  # a record still held: unmapped when freed
            data.close()
    if segment is not None:
        segment.mtime = stat.st_mtime
    return segment


def _walk(path: Path, data: mmap.mmap, view: memoryview) -> Segment | None:
    if data[: len(fmt.MAGIC)] != fmt.MAGIC:
        return None
    walk = _SegmentWalk(path)
    offset = len(fmt.MAGIC)
    size = len(data)
    skipped = released = 0
    while offset + fmt.FRAME_HEADER.size <= size:
        if offset - released >= _WINDOW:
            released = _let_go(data, released, offset)
        head = fmt.frame_head(view, offset)
        if head is not None and fmt.checks_out(view, head):
            if walk.regular_frame(data, head.payload_start, head.end):
                offset = head.end
                continue
            records = _records_of(view[head.payload_start : head.end])
            array = array_head(data, head.payload_start)
            if records is not None and array is not None:
                walk.frame(records, array[1])
                offset = head.end
                continue
        found = fmt.next_frame_offset(cast(bytes, data), offset + 1)
        if found is None:
            break
        skipped += found - offset
        offset = found
    segment = walk.segment
    if segment is not None:
        segment.torn_bytes = size - offset
        segment.skipped_bytes = skipped
    return segment


def _let_go(data: mmap.mmap, start: int, end: int) -> int:
    """Unmap the pages of ``[start, end)`` (they stay in the page cache; read again, they
    come back); returns where the next release starts, a page boundary."""
    stop = end - end % mmap.PAGESIZE
    with contextlib.suppress(OSError, ValueError, AttributeError):
        data.madvise(mmap.MADV_DONTNEED, start, stop - start)
    return stop


def _records_of(payload: memoryview) -> list[msgspec.Raw] | None:
    """A checked payload's records, each left encoded; None when it is not
    ``[first_seq: int, record, ...]`` (``fmt.decode_payload``'s test, without decoding)."""
    try:
        records = _frame_decoder.decode(payload)
        first_seq = _record_decoder.decode(records[0]) if records else None
    except msgspec.DecodeError:
        return None
    return records if type(first_seq) is int else None


class _SegmentWalk:
    """Turns a segment's frames, in order, into its ``Segment``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.segment: Segment | None = None

    def regular_frame(self, data: mmap.mmap, start: int, end: int) -> bool:
        """Take the frame at ``[start, end)`` when it holds only regular row blocks (what a
        training loop's frames hold), reading their steps only; False to decode it instead."""
        segment = self.segment
        if segment is None:
            return False
        head = array_head(data, start)
        first_seq = None if head is None else read_uint(data, head[1])
        if head is None or first_seq is None:
            return False
        at, blocks = first_seq[1], []
        for _ in range(head[0] - 1):
            schema = block_schema(data, at)
            keys = None if schema is None else segment.layouts.get(schema[0])
            # Values unchecked: the rows' lengths (every row head where the stride puts it)
            # locate the block; row_blocks checks the values when it decodes them.
            found = None if keys is None else block_layout(data, at, len(keys), check_values=False)
            if schema is None or found is None:
                return False
            steps = _steps_decoder.decode(data[found.steps_start : found.steps_end])
            blocks.append(BlockRef(schema[0], found.rows, max(steps), at, found.end - at))
            at = found.end
        if at != end:
            return False
        segment.blocks.extend(blocks)
        segment.last_seq = first_seq[0] + head[0] - 2
        return True

    def frame(self, records: list[msgspec.Raw], offset: int) -> None:
        """Take a frame's records; the first (its first_seq) starts at ``offset`` in the file.

        The items of a msgpack array lie back to back, so each record's place in the file
        is the sum of the sizes before it: a row block is located by its own bytes.
        """
        first_seq = _record_decoder.decode(records[0])
        offset += len(memoryview(records[0]))
        for raw in records[1:]:
            size = len(memoryview(raw))
            try:
                if _kind_of(raw) == fmt.K_ROWS:
                    self._block(raw, offset, size)
                else:
                    self._record(_record_decoder.decode(raw))
            except (msgspec.DecodeError, IndexError, TypeError, ValueError):
                pass  # a record of an unknown shape costs only itself
            offset += size
        if self.segment is not None:
            self.segment.last_seq = first_seq + len(records) - 2

    def _block(self, raw: msgspec.Raw, offset: int, size: int) -> None:
        segment = self.segment
        if segment is None:
            return
        _, schema, steps, _, _ = _block_steps_decoder.decode(raw)
        if schema in segment.layouts and steps:
            segment.blocks.append(BlockRef(schema, len(steps), max(steps), offset, size))

    def _record(self, raw: list[Any]) -> None:
        """A small record, decoded by ``store.records`` (the one owner of record layouts)."""
        record = records.decode_record(raw)
        segment = self.segment
        if isinstance(record, records.Header):
            if segment is None:
                self.segment = Segment(path=self.path, header=dict(record.fields))
            else:  # repeated after the writer had to start its file again
                segment.header.update(record.fields)
        elif segment is None or record is None:
            return
        elif isinstance(record, records.Keys):
            segment.layouts[record.schema_id] = list(record.keys)
        elif isinstance(record, records.RowsBlock):
            # Version 1's one-row ROW (a ROWS block is located by frame(), never decoded here).
            if raw[0] == fmt.K_ROW and record.schema_id in segment.layouts:
                step, millis = record.steps[0], record.millis[0]
                row = (step, millis, *record.values[0])
                segment.blocks.append(BlockRef(record.schema_id, 1, step, 0, 0, row=row))
        elif isinstance(record, records.Lines):
            segment.console.extend((record.time, record.stream, line) for line in record.lines)
        elif isinstance(record, records.ConfigUpdate):
            segment.config.append((record.time, record.changed, record.deleted))
        elif isinstance(record, records.SummaryUpdate):
            segment.summary.append((record.time, record.changed, record.deleted))
        elif isinstance(record, records.FinalState):
            ending = (record.time, record.state, record.exit_code)
            segment.final = ending  # type: ignore[assignment]  # None: no exit code
        elif isinstance(record, records.SystemSample):
            segment.system.append((record.time, record.metrics))
        elif isinstance(record, records.Environment):
            segment.environment.append((record.time, record.sections))
        elif isinstance(record, records.FileEntry):
            segment.files.append((record.time, record.info))
        elif isinstance(record, records.Label):
            segment.header["label"] = record.label


def _kind_of(raw: msgspec.Raw) -> int:
    """A record's kind from its first bytes: an array header, then a small positive int."""
    head = memoryview(raw)[:6]
    first = head[0]
    at = 1 if 0x90 <= first <= 0x9F else 3 if first == 0xDC else 5 if first == 0xDD else -1
    if at < 0 or at >= len(head) or head[at] >= 0x80:
        return -1  # not a record we know: decoded whole, then ignored
    return int(head[at])


def read_block_records(path: Path, blocks: list[BlockRef]) -> Iterator[tuple[BlockRef, Any]]:
    """``blocks`` of the segment at ``path`` as ``(block, record bytes)``, one at a time, in
    the order given; a version-1 row comes as its row tuple ``(step, ms, v0, ...)``."""
    with open(path, "rb") as handle:
        fd = handle.fileno()
        for block in blocks:
            if block.row is not None:
                yield block, block.row
            else:
                yield block, os.pread(fd, block.length, block.offset)


def last_values(segments: list[Segment]) -> dict[str, Any]:
    """The newest logged value of each key across ``segments`` (in their merge order),
    decoding only the last block of each layout of each writer: ``tether show`` and
    ``RunData.summary`` never read the history."""
    newest: dict[str, tuple[tuple[float, int, int], Any]] = {}
    for order, segment in enumerate(segments):
        last_of = {block.schema: index for index, block in enumerate(segment.blocks)}
        picked = [segment.blocks[index] for index in sorted(last_of.values())]
        for position, (block, encoded) in enumerate(read_block_records(segment.path, picked)):
            if block.row is not None:
                millis, values = block.row[1], list(block.row[2:])
            else:
                try:
                    _, _, _, all_millis, rows = _record_decoder.decode(encoded)
                except (msgspec.DecodeError, ValueError):
                    continue  # the file was started again since it was walked
                if not all_millis or not rows:
                    continue
                millis, values = all_millis[len(rows) - 1], rows[-1]
            rank = (segment.start_time + millis / 1000.0, order, position)
            for key, value in zip(segment.layouts[block.schema], values, strict=False):
                if key not in newest or newest[key][0] <= rank:
                    newest[key] = (rank, value)
    return {key: value for key, (_, value) in newest.items()}
