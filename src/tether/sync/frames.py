"""Segment bytes as the upload reads them: whole frames, found by their headers and CRCs.

Frames are found by their headers and CRCs (``format.whole_frame_ends``), not by decoding
them (``scan_frames`` decodes every record and needs the file from its start); the server
decodes and checks them again anyway. A frame still being written (or torn by a crash) is
simply not complete yet.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

from tether.store import format as fmt
from tether.store import records
from tether.store.segment_names import segment_paths, writer_id_of
from tether.sync.progress import read_upload_file

__all__ = [
    "first_frame_end",
    "header_is_main",
    "is_main_frame",
    "read_whole_frames",
    "size_of",
    "unsent_bytes",
    "writer_id_of",
]

EXACT_BELOW_BYTES: Final = 1024 * 1024


def read_whole_frames(path: Path, start: int, limit: int) -> tuple[bytes, bool]:
    """Bytes of ``path`` from ``start`` up to the end of its last whole frame.

    Returns ``(body, complete)``; ``complete`` is False when ``limit`` may have cut the body
    short (more whole frames may follow). A first frame larger than ``limit`` is returned
    whole. From offset 0 the body starts with the file's magic and holds at least one frame,
    or is empty. Raises ``OSError`` if the file cannot be read.
    """
    with open(path, "rb") as handle:
        handle.seek(start)
        data = handle.read(limit)
        complete = len(data) < limit
        first = 0
        if start == 0:
            if not data.startswith(fmt.MAGIC):
                return b"", True
            first = len(fmt.MAGIC)
        if not complete:  # the first frame goes whole, however far past the limit it ends
            if len(data) < first + fmt.FRAME_HEADER.size:
                data += handle.read(first + fmt.FRAME_HEADER.size - len(data))
            head = fmt.frame_head(data, first)
            if head is not None and head.end > len(data):
                data += handle.read(head.end - len(data))
    end = max(fmt.whole_frame_ends(data, first), default=first)
    return (data[:end] if end > first else b""), complete


def header_is_main(body: bytes) -> bool:
    """Does the first frame of a segment (``body`` from offset 0) carry a main header?"""
    frame = fmt.frame_at(body, len(fmt.MAGIC))
    return frame is not None and is_main_frame(frame[0])


def is_main_frame(frame: fmt.Frame) -> bool:
    """Is ``frame`` (a segment's first) the header of the run's main writer?"""
    try:
        header = records.decode_record(frame.records[0]) if frame.records else None
    except records.RecordError:  # an odd header only means it is not chosen for heartbeats
        return False
    return isinstance(header, records.Header) and bool(header.fields.get("main"))


def size_of(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def first_frame_end(body: bytes, start: int) -> int:
    """Where the first frame of ``body`` (whole frames read from ``start``) ends."""
    position = len(fmt.MAGIC) if start == 0 else 0
    head = fmt.frame_head(body, position)
    return len(body) if head is None else head.end


def unsent_bytes(run_dir: Path, *, base_url: str) -> int:
    """What ``upload.json`` says is still to send to ``base_url``, without asking the server.

    Small remainders are read to leave out a torn tail (a crash mid-write) that will never
    be sent; large ones are counted by size.
    """
    saved = read_upload_file(run_dir)
    offsets = saved[2] if saved is not None and saved[0] == base_url else {}
    total = 0
    for path in segment_paths(run_dir):
        acked = offsets.get(path.name, 0)
        left = size_of(path) - acked
        if 0 < left <= EXACT_BELOW_BYTES:
            try:
                left = len(read_whole_frames(path, acked, EXACT_BELOW_BYTES + 1)[0])
            except OSError:
                left = 0
        total += max(0, left)
    return total
