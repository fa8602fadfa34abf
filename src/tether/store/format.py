"""The on-disk format of a run: segment files made of framed, checksummed records.

Documented for people in ``docs/format.md``; this module is the one place that knows it.

A segment file starts with ``MAGIC`` and is followed by frames::

    [u32 little-endian payload length][u32 little-endian crc32(payload)][payload]

A payload is a msgpack array ``[first_seq, record, record, ...]``: record ``i`` of the frame
has sequence number ``first_seq + i`` within its writer. A record is a msgpack array whose
first item is its kind (the ``K_*`` constants below). Frames are written whole with one
``write`` call and a failed write is truncated away, so a reader only ever meets a torn frame
at the very end of a file (a crash mid-write), where it stops and keeps everything before.
A frame damaged in the middle of a file (a flipped bit on disk, a bad copy) costs only
itself: the reader looks for the next frame whose length and CRC check out and goes on from
there, and reports the bytes it skipped.
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Iterator
from typing import Any, Final

import msgspec

# 2: rows are written as K_ROWS blocks and console lines as K_LINES (version 1 wrote one
# K_ROW per row and one K_CONSOLE per line; both still read).
FORMAT_VERSION: Final = 2
MAGIC: Final = b"TETHSEG\x01"
SEGMENT_SUFFIX: Final = ".tseg"
SEGMENTS_DIR: Final = "segments"

FRAME_HEADER: Final = struct.Struct("<II")
# A frame larger than this is treated as corruption by readers (a torn length field).
MAX_FRAME_BYTES: Final = 256 * 1024 * 1024

# Record kinds. Records are positional arrays to keep the store compact.
K_HEADER: Final = 1  # [1, {writer and run metadata}]
K_KEYS: Final = 2  # [2, schema_id, [key, ...]]          a row layout, defined once per segment
K_ROW: Final = 3  # [3, schema_id, step, ms, v0, v1, ...]  ms since the segment's start time (v1)
K_CONFIG: Final = 4  # [4, time, {key: value}, [deleted key, ...]]
K_SUMMARY: Final = 5  # [5, time, {key: value}, [deleted key, ...]]
K_CONSOLE: Final = 6  # [6, time, stream, text]  one line, stream 1 = stdout, 2 = stderr (v1)
K_FINAL: Final = 7  # [7, time, state, exit_code]
K_SYSTEM: Final = 8  # [8, time, {metric: number}]  one sample of the system sampler
K_FILE: Final = 9  # [9, time, {path, kind, ...}]         reserved for media and artifacts
K_LABEL: Final = 10  # [10, label]  the writer learned a better label (its rank) after starting
# [11, schema_id, [step, ...], [ms, ...], [[v0, v1, ...], ...]]  consecutive rows of one layout
K_ROWS: Final = 11
K_LINES: Final = 12  # [12, time, stream, [line, ...]]  console lines that arrived together
# [13, time, {section: value}]  the run's environment; sections merge by key, later wins
K_ENVIRONMENT: Final = 13

STREAM_STDOUT: Final = 1
STREAM_STDERR: Final = 2
STREAM_NAMES: Final = {STREAM_STDOUT: "stdout", STREAM_STDERR: "stderr"}

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder()


def encode_frame(first_seq: int, records: list[Any]) -> bytes:
    """Frame ``records`` (the sequence numbers from ``first_seq`` on) as bytes to append."""
    payload = _encoder.encode([first_seq, *records])
    return FRAME_HEADER.pack(len(payload), zlib.crc32(payload)) + payload


class Frame(msgspec.Struct, frozen=True):
    first_seq: int
    records: list[Any]


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


def iter_frames(data: bytes) -> Iterator[Frame]:
    """Yield whole, checksummed frames; stop quietly at the first torn or corrupt one."""
    yield from scan_frames(data).frames


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


def frame_at(data: bytes | memoryview, offset: int) -> tuple[Frame, int] | None:
    """The valid frame starting at ``offset`` and the offset after it, or None.

    Valid: its length fits, its CRC-32 checks out, and its payload is a msgpack array that
    starts with an int (the first sequence number).
    """
    if offset + FRAME_HEADER.size > len(data):
        return None
    length, crc = FRAME_HEADER.unpack_from(data, offset)
    start = offset + FRAME_HEADER.size
    end = start + length
    if length == 0 or length > MAX_FRAME_BYTES or end > len(data):
        return None
    payload = memoryview(data)[start:end]
    if zlib.crc32(payload) != crc:
        return None
    try:
        decoded = _decoder.decode(payload)
    except msgspec.DecodeError:
        return None
    if not isinstance(decoded, list) or not decoded or type(decoded[0]) is not int:
        return None
    return Frame(first_seq=decoded[0], records=decoded[1:]), end
