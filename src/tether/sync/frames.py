"""Segment bytes as the upload reads them: whole frames, found by their headers and CRCs.

Frames are found with ``FRAME_HEADER`` and a CRC check, not by decoding them (``scan_frames``
decodes every record and needs the file from its start); the server decodes and checks them
again anyway. A frame still being written (or torn by a crash) is simply not complete yet.
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path
from typing import Any, Final

import msgspec

from tether.store import format as fmt
from tether.store.reader import list_segments
from tether.sync.progress import read_upload_file

EXACT_BELOW_BYTES: Final = 1024 * 1024


def writer_id_of(path: Path) -> str:
    """``<label>-<pid>-<writer id>.tseg`` -> writer id (labels may hold dashes)."""
    return path.stem.rsplit("-", 1)[-1]


def read_whole_frames(path: Path, start: int, limit: int) -> tuple[bytes, bool]:
    """Bytes of ``path`` from ``start`` up to the end of its last whole frame.

    Returns ``(body, complete)``; ``complete`` is False when ``limit`` may have cut the body
    short (more whole frames may follow). A first frame larger than ``limit`` is returned
    whole. From offset 0 the body starts with the file's magic and holds at least one frame,
    or is empty. Raises ``OSError`` if the file cannot be read.
    """
    head = fmt.FRAME_HEADER.size
    with open(path, "rb") as handle:
        handle.seek(start)
        data = handle.read(limit)
        complete = len(data) < limit
        first = 0
        if start == 0:
            if not data.startswith(fmt.MAGIC):
                return b"", True
            first = len(fmt.MAGIC)
        pos = first
        while True:
            if pos + head > len(data):
                if pos == first and not complete:  # a header cut by the limit
                    data += handle.read(pos + head - len(data))
                if pos + head > len(data):
                    break
            length, crc = fmt.FRAME_HEADER.unpack_from(data, pos)
            end = pos + head + length
            if length > fmt.MAX_FRAME_BYTES:
                break
            if end > len(data):
                if pos > first or complete:
                    break
                data += handle.read(end - len(data))  # one frame bigger than the limit
                if end > len(data):
                    break
            if zlib.crc32(memoryview(data)[pos + head : end]) != crc:
                break
            pos = end
    return (data[:pos] if pos > first else b""), complete


def header_is_main(body: bytes) -> bool:
    """Does the first frame of a segment (``body`` from offset 0) carry a main header?"""
    try:
        start = len(fmt.MAGIC)
        length, _ = fmt.FRAME_HEADER.unpack_from(body, start)
        head = fmt.FRAME_HEADER.size
        decoded: Any = msgspec.msgpack.decode(body[start + head : start + head + length])
        record = decoded[1]
        return bool(record[0] == fmt.K_HEADER and record[1].get("main"))
    except Exception:  # an odd header only means it is not chosen for heartbeats
        return False


def size_of(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def first_frame_end(body: bytes, start: int) -> int:
    position = len(fmt.MAGIC) if start == 0 else 0
    if position + fmt.FRAME_HEADER.size > len(body):
        return len(body)
    length, _ = fmt.FRAME_HEADER.unpack_from(body, position)
    return position + fmt.FRAME_HEADER.size + int(length)


def unsent_bytes(run_dir: Path, *, base_url: str) -> int:
    """What ``upload.json`` says is still to send to ``base_url``, without asking the server.

    Small remainders are read to leave out a torn tail (a crash mid-write) that will never
    be sent; large ones are counted by size.
    """
    saved = read_upload_file(run_dir)
    offsets = saved[2] if saved is not None and saved[0] == base_url else {}
    total = 0
    for path in list_segments(run_dir):
        acked = offsets.get(path.name, 0)
        left = size_of(path) - acked
        if 0 < left <= EXACT_BELOW_BYTES:
            try:
                left = len(read_whole_frames(path, acked, EXACT_BELOW_BYTES + 1)[0])
            except OSError:
                left = 0
        total += max(0, left)
    return total
