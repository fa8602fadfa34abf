"""One run directory's segment files, sent to the server whole frames at a time.

Both ways of uploading use this: the ``Uploader`` thread of an online run (again and again,
while the run grows) and ``tether sync`` (once, to the end). For each segment file it keeps
the offset the server acknowledged and sends the bytes after it, up to the end of the last
whole frame: a frame still being written (or torn by a crash) is simply not complete yet.

The frames are found with ``FRAME_HEADER`` and a CRC check, not by decoding them
(``scan_frames`` decodes every record and needs the file from its start); the server decodes
and checks them again anyway.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import msgspec

from tether.store import format as fmt
from tether.store.reader import list_segments
from tether.sync.http import HttpClient, NotFoundError, OffsetConflictError, ServerError, quote_part
from tether.sync.progress import UploadState, read_upload_file

# Bytes per PUT: a few MiB keeps requests few and well under the server's 16 MiB limit.
MAX_BODY_BYTES: Final = 4 * 1024 * 1024
MIN_BODY_BYTES: Final = 64 * 1024
EXACT_BELOW_BYTES: Final = 1024 * 1024
# Answers that move the offset or shrink the body (409, 413) before giving up for this pass.
MAX_ATTEMPTS: Final = 8
# The server will never take these bytes as they are: bad request, too large, malformed.
REJECTED_STATUSES: Final = frozenset({400, 413, 422})


@dataclass
class SegmentCursor:
    """Where one segment file's upload stands."""

    path: Path
    writer_id: str
    acked: int = 0
    # File size at the last read, and where its whole frames ended then: unchanged size
    # means nothing new to send. -1: read again.
    seen_size: int = -1
    whole_end: int = 0
    main: bool | None = None  # does its header say it is the run's main writer?
    limit: int = MAX_BODY_BYTES
    # Why the server will not take this segment's bytes; left on disk for later.
    broken: str | None = None

    @property
    def name(self) -> str:
        return self.path.name


@dataclass(frozen=True)
class Sent:
    """What one PUT did."""

    bytes: int
    records: int
    duplicates: int


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


def _header_is_main(body: bytes) -> bool:
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


class RunUpload:
    """The upload of one run directory to one server, segment by segment."""

    def __init__(self, run_dir: Path, *, project: str, run_id: str, base_url: str) -> None:
        self.run_dir = run_dir
        self.project = project
        self.run_id = run_id
        self.state = UploadState.load(run_dir, base_url=base_url, project=project)
        self.cursors: dict[str, SegmentCursor] = {}
        self._run_path = f"/projects/{quote_part(project)}/runs/{quote_part(run_id)}/segments"

    def refresh(self) -> list[SegmentCursor]:
        """Pick up segment files written since the last look (new processes)."""
        for path in list_segments(self.run_dir):
            if path.name not in self.cursors:
                cursor = SegmentCursor(path, writer_id_of(path), acked=self.state.get(path.name))
                self.cursors[path.name] = cursor
        return list(self.cursors.values())

    def align(self, client: HttpClient) -> None:
        """Take the server's word for what it has of each writer (it may have lost or gained)."""
        try:
            known = client.get_json(self._run_path)
        except NotFoundError:
            known = {}
        if not isinstance(known, dict):
            raise ServerError(
                f"GET {self._run_path}: expected an object of writers, got {known!r}", status=200
            )
        for cursor in self.refresh():
            entry = known.get(cursor.writer_id)
            offset = entry.get("offset", 0) if isinstance(entry, dict) else 0
            self._set_acked(cursor, int(offset) if isinstance(offset, int) else 0)

    def pending_bytes(self) -> int:
        """Bytes on disk the server has not acknowledged (a torn tail left out once read).

        Reads only: safe to call from another thread while an upload runs.
        """
        total = 0
        for path in list_segments(self.run_dir):
            size = _size(path)
            cursor = self.cursors.get(path.name)
            if cursor is None:
                total += max(0, size - self.state.get(path.name))
            elif size == cursor.seen_size:
                total += max(0, cursor.whole_end - cursor.acked)
            else:
                total += max(0, size - cursor.acked)
        return total

    @property
    def broken(self) -> list[SegmentCursor]:
        return [c for c in self.cursors.values() if c.broken is not None]

    def send_pending(
        self,
        client: HttpClient,
        *,
        should_stop: Callable[[], bool] = lambda: False,
        on_sent: Callable[[Sent], None] | None = None,
    ) -> list[Sent]:
        """Send every whole frame on disk now; raises ``ServerError``/``ServerUnreachableError``.

        A segment whose bytes the server rejects (422, or a frame over its size limit) is
        marked ``broken`` and skipped; everything else is sent.
        """
        done: list[Sent] = []
        for cursor in self.refresh():
            while cursor.broken is None and not should_stop():
                sent = self.send_next(client, cursor)
                if sent is None:
                    break
                done.append(sent)
                if on_sent is not None:
                    on_sent(sent)
        return done

    def send_next(self, client: HttpClient, cursor: SegmentCursor) -> Sent | None:
        """Send the next whole frames of one segment; None when there is nothing new."""
        for _ in range(MAX_ATTEMPTS):
            size = _size(cursor.path)
            if size < cursor.acked:  # the file was started again (deleted under its writer)
                self._set_acked(cursor, 0)
            if size == cursor.seen_size and cursor.acked >= cursor.whole_end:
                return None
            start = cursor.acked
            try:
                body, complete = read_whole_frames(cursor.path, start, cursor.limit)
            except OSError:  # deleted meanwhile; a writer that starts it again is seen later
                return None
            cursor.seen_size = size if complete else -1
            cursor.whole_end = start + len(body)
            if not body:
                return None
            if start == 0:
                cursor.main = _header_is_main(body)
            try:
                answer = client.put_bytes(
                    f"{self._run_path}/{quote_part(cursor.writer_id)}", body, {"offset": start}
                )
            except OffsetConflictError as exc:
                self._set_acked(cursor, exc.offset if 0 <= exc.offset <= size else 0)
                continue
            except ServerError as exc:
                if exc.status == 413 and cursor.limit > MIN_BODY_BYTES:
                    cursor.limit //= 2  # a frame smaller than the limit still fits
                    continue
                if exc.status in REJECTED_STATUSES:
                    cursor.broken = str(exc)
                    return None
                raise
            self._after_put(cursor, start + len(body), answer)
            return Sent(
                bytes=len(body),
                records=_int(answer, "records"),
                duplicates=_int(answer, "duplicates"),
            )
        return None

    def heartbeat(self, client: HttpClient, *, state: str | None = None) -> bool:
        """An empty PUT for the main writer (else any sent one): the run is alive, or crashed.

        False when nothing was sent yet, or when the server turns out to have less of the
        writer than acknowledged (it lost data): the next ``send_pending`` sends it again.
        """
        cursors = [c for c in self.refresh() if c.acked > 0]
        if not cursors:
            return False
        cursor = next((c for c in cursors if self._is_main(c)), cursors[0])
        params: dict[str, Any] = {"offset": cursor.acked}
        if state is not None:
            params["state"] = state
        try:
            client.put_bytes(f"{self._run_path}/{quote_part(cursor.writer_id)}", b"", params)
        except OffsetConflictError as exc:
            self._set_acked(cursor, exc.offset)
            return False
        return True

    def _is_main(self, cursor: SegmentCursor) -> bool:
        if cursor.main is None:
            try:
                with open(cursor.path, "rb") as handle:
                    start = handle.read(len(fmt.MAGIC) + fmt.FRAME_HEADER.size)
                    length, _ = fmt.FRAME_HEADER.unpack_from(start, len(fmt.MAGIC))
                    cursor.main = _header_is_main(start + handle.read(min(length, 1 << 20)))
            except (OSError, ValueError, struct.error):
                cursor.main = False
        return cursor.main

    def save(self) -> None:
        self.state.save()

    def _after_put(self, cursor: SegmentCursor, end: int, answer: Any) -> None:
        offset = answer.get("offset") if isinstance(answer, dict) else None
        if isinstance(offset, int) and end <= offset <= _size(cursor.path):
            end = offset
        self._set_acked(cursor, end)

    def _set_acked(self, cursor: SegmentCursor, offset: int) -> None:
        cursor.acked = max(0, offset)
        cursor.seen_size = -1
        self.state.set(cursor.name, cursor.acked)


def _size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def _int(answer: Any, key: str) -> int:
    value = answer.get(key, 0) if isinstance(answer, dict) else 0
    return value if isinstance(value, int) else 0


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
        left = _size(path) - acked
        if 0 < left <= EXACT_BELOW_BYTES:
            try:
                left = len(read_whole_frames(path, acked, EXACT_BELOW_BYTES + 1)[0])
            except OSError:
                left = 0
        total += max(0, left)
    return total
