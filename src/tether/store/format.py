"""The on-disk format of a run: segment files made of framed, checksummed records.

Documented for people in ``docs/format.md``. This module owns the framing and the record
kinds; ``segment_names`` owns the file names and ``records`` the layout of each kind.

A segment file starts with ``MAGIC`` and is followed by frames::

    [u32 little-endian payload length][u32 little-endian crc32(payload)][payload]

A payload is a msgpack array ``[first_seq, record, record, ...]``: record ``i`` of the frame
has sequence number ``first_seq + i`` within its writer. A record is a msgpack array whose
first item is its kind (``RecordKind``). Frames are written whole with one ``write`` call and
a failed write is truncated away, so a reader only ever meets a torn frame at the very end of
a file (a crash mid-write), where it stops and keeps everything before. A frame damaged in
the middle of a file (a flipped bit on disk, a bad copy) costs only itself: the reader looks
for the next frame whose length and CRC check out and goes on from there, and reports the
bytes it skipped.

Every walk over frames goes through ``frame_head`` (the header alone), ``frame_at`` (header,
CRC and payload), ``whole_frame_ends`` (consecutive checked frames, not decoded),
``scan_frames`` (everything, stepping over damage) or ``read_frame`` (one frame of a file).
"""

from __future__ import annotations

import enum
import re
import struct
import zlib
from collections.abc import Iterator
from typing import Any, BinaryIO, Final, NamedTuple

import msgspec

# 2: rows are written as ROWS blocks and console lines as LINES (version 1 wrote one ROW per
# row and one CONSOLE per line; both still read).
FORMAT_VERSION: Final = 2
MAGIC: Final = b"TETHSEG\x01"
SEGMENTS_DIR: Final = "segments"
SEGMENT_SUFFIX: Final = ".tseg"

FRAME_HEADER: Final = struct.Struct("<II")
# A frame larger than this is treated as corruption by readers (a torn length field).
MAX_FRAME_BYTES: Final = 256 * 1024 * 1024


class RecordKind(enum.IntEnum):
    """The first item of every record. Positional arrays keep the store compact; the layout
    of each kind is in ``tether.store.records`` (one entry there per kind)."""

    HEADER = 1  # [1, {writer and run metadata}]
    KEYS = 2  # [2, schema_id, [key, ...]]  a row layout, defined once per segment
    ROW = 3  # [3, schema_id, step, ms, v0, v1, ...]  ms since the header's start time (v1)
    CONFIG = 4  # [4, time, {key: value}, [deleted key, ...]]
    SUMMARY = 5  # [5, time, {key: value}, [deleted key, ...]]
    CONSOLE = 6  # [6, time, stream, text]  one line, stream 1 = stdout, 2 = stderr (v1)
    FINAL = 7  # [7, time, state, exit_code]
    SYSTEM = 8  # [8, time, {metric: number}]  one sample of the system sampler
    FILE = 9  # [9, time, {key, step, index, kind, sha256, ...}]  one logged media object
    LABEL = 10  # [10, label]  the writer learned a better label (its rank) after starting
    ROWS = 11  # [11, schema_id, [step, ...], [ms, ...], [[v0, v1, ...], ...]]  one layout
    LINES = 12  # [12, time, stream, [line, ...]]  console lines that arrived together
    ENVIRONMENT = 13  # [13, time, {section: value}]  sections merge by key, later wins
    ARTIFACT = 14  # [14, time, {"op": "log" | "use" | "alias", "name", ...}]  docs/artifacts.md


# The names most of the code base uses (``fmt.K_ROWS``); each is the enum member itself.
K_HEADER: Final = RecordKind.HEADER
K_KEYS: Final = RecordKind.KEYS
K_ROW: Final = RecordKind.ROW
K_CONFIG: Final = RecordKind.CONFIG
K_SUMMARY: Final = RecordKind.SUMMARY
K_CONSOLE: Final = RecordKind.CONSOLE
K_FINAL: Final = RecordKind.FINAL
K_SYSTEM: Final = RecordKind.SYSTEM
K_FILE: Final = RecordKind.FILE
K_LABEL: Final = RecordKind.LABEL
K_ROWS: Final = RecordKind.ROWS
K_LINES: Final = RecordKind.LINES
K_ENVIRONMENT: Final = RecordKind.ENVIRONMENT
K_ARTIFACT: Final = RecordKind.ARTIFACT

STREAM_STDOUT: Final = 1
STREAM_STDERR: Final = 2
STREAM_NAMES: Final = {STREAM_STDOUT: "stdout", STREAM_STDERR: "stderr"}

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder()


class FrameError(ValueError):
    """No whole, checksummed frame of records where one was expected."""


def encode_frame(first_seq: int, records: list[Any]) -> bytes:
    """Frame ``records`` (the sequence numbers from ``first_seq`` on) as bytes to append."""
    payload = _encoder.encode([first_seq, *records])
    return FRAME_HEADER.pack(len(payload), zlib.crc32(payload)) + payload


class Frame(msgspec.Struct, frozen=True):
    first_seq: int
    records: list[Any]


class FrameHead(NamedTuple):
    """What a frame's 8 header bytes say: where its payload starts and ends, and its CRC.

    ``end`` may lie past the bytes at hand (a frame still being written, or read in part)."""

    payload_start: int
    end: int
    crc: int


class ScanResult(msgspec.Struct):
    frames: list[Frame]
    # Bytes at the end of the file that did not form a whole, valid frame (a torn tail).
    torn_bytes: int
    # Where the torn tail starts: everything before it is whole frames or skipped damage.
    valid_bytes: int
    # Bytes before the tail that did not check out (damage) and were stepped over.
    skipped_bytes: int = 0


# Where a frame may start: 8 header bytes, then a payload that is a msgpack array (a fixarray
# 0x90-0x9f, or array16/array32). Candidates are found in C; each is then CRC-checked.
_FRAME_START = re.compile(rb"(?=.{8}[\x90-\x9f\xdc\xdd])", re.DOTALL)


def frame_head(data: bytes | memoryview, offset: int) -> FrameHead | None:
    """The header of the frame at ``offset``; None when its 8 bytes are not all there or its
    length cannot be a frame's (0, or over ``MAX_FRAME_BYTES``: a torn or damaged header)."""
    if offset + FRAME_HEADER.size > len(data):
        return None
    length, crc = FRAME_HEADER.unpack_from(data, offset)
    if length == 0 or length > MAX_FRAME_BYTES:
        return None
    start = offset + FRAME_HEADER.size
    return FrameHead(start, start + length, crc)


def checks_out(data: bytes | memoryview, head: FrameHead) -> bool:
    """Is the frame of ``head`` whole in ``data`` and its CRC-32 right?"""
    return (
        head.end <= len(data)
        and zlib.crc32(memoryview(data)[head.payload_start : head.end]) == head.crc
    )


def decode_payload(payload: bytes | memoryview) -> Frame | None:
    """A checked payload as a frame; None when it is not ``[first_seq: int, record, ...]``."""
    try:
        decoded = _decoder.decode(payload)
    except msgspec.DecodeError:
        return None
    if not isinstance(decoded, list) or not decoded or type(decoded[0]) is not int:
        return None
    return Frame(first_seq=decoded[0], records=decoded[1:])


def frame_at(data: bytes | memoryview, offset: int) -> tuple[Frame, int] | None:
    """The valid frame starting at ``offset`` and the offset after it, or None.

    Valid: its length fits, its CRC-32 checks out, and its payload is a msgpack array that
    starts with an int (the first sequence number).
    """
    head = frame_head(data, offset)
    if head is None or not checks_out(data, head):
        return None
    frame = decode_payload(memoryview(data)[head.payload_start : head.end])
    return None if frame is None else (frame, head.end)


def whole_frame_ends(data: bytes | memoryview, offset: int) -> Iterator[int]:
    """The end of each whole, checksummed frame from ``offset`` on, one after another (not
    decoded: an upload only needs to know where whole frames end); stops at the first that
    is not whole or does not check out."""
    while True:
        head = frame_head(data, offset)
        if head is None or not checks_out(data, head):
            return
        offset = head.end
        yield offset


def scan_frames(data: bytes) -> ScanResult:
    """Split a segment's bytes into its valid frames, stepping over damaged ones.

    A frame that does not check out is skipped up to the next one that does (its bytes count
    as ``skipped_bytes``); when none follows, what is left is a torn tail (``torn_bytes``).
    """
    if not data.startswith(MAGIC):
        return ScanResult(frames=[], torn_bytes=len(data), valid_bytes=0)
    frames: list[Frame] = []
    offset = len(MAGIC)
    size = len(data)
    skipped = 0
    while offset + FRAME_HEADER.size <= size:
        frame = frame_at(data, offset)
        if frame is None:
            found = next_frame_offset(data, offset + 1)
            if found is None:
                break
            skipped += found - offset
            offset = found
            continue
        frames.append(frame[0])
        offset = frame[1]
    return ScanResult(
        frames=frames, torn_bytes=size - offset, valid_bytes=offset, skipped_bytes=skipped
    )


def next_frame_offset(data: bytes, start: int) -> int | None:
    """The offset of the first valid frame at or after ``start``, or None."""
    for match in _FRAME_START.finditer(data, start):
        offset = match.start()
        if frame_at(data, offset) is not None:
            return offset
    return None


def read_payload(handle: BinaryIO, offset: int) -> tuple[bytes, int]:
    """The checked payload of the frame at ``offset`` of an open segment file and the offset
    after the frame, reading only that frame; raises ``FrameError`` when no whole frame with
    a right CRC-32 is there."""
    handle.seek(offset)
    head = frame_head(handle.read(FRAME_HEADER.size), 0)
    if head is None:
        raise FrameError(f"no frame header at offset {offset}")
    length = head.end - head.payload_start
    payload = handle.read(length)
    if len(payload) != length or zlib.crc32(payload) != head.crc:
        raise FrameError(f"no whole, checksummed frame at offset {offset}")
    return payload, offset + head.end


def read_frame(handle: BinaryIO, offset: int) -> tuple[Frame, int]:
    """The frame at ``offset`` of an open segment file and the offset after it (see
    ``read_payload``); raises ``FrameError`` when it is not there or not records."""
    payload, end = read_payload(handle, offset)
    frame = decode_payload(payload)
    if frame is None:
        raise FrameError(f"the frame at offset {offset} checks out but is not records")
    return frame, end
