"""One run directory's segment files, sent to the server whole frames at a time.

Both ways of uploading use this: the ``Uploader`` thread of an online run (again and again,
while the run grows) and ``tether sync`` (once, to the end). For each segment file it keeps
the offset the server acknowledged and sends the bytes after it, up to the end of the last
whole frame: a frame still being written (or torn by a crash) is simply not complete yet.

Frames are found by their headers and CRCs (``frames``). Every PUT is its own transaction
on the server, and the offset it acknowledges is saved, so an upload cut short resumes after
the last piece answered.

A piece the server refuses (413 or 422) costs only what it refuses: the frames before the
refused one are sent, the refused frame goes record by record without the refused record or
row (``repair.FrameRepair``), and the skip is counted on the server and reported here once.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from tether.store import format as fmt
from tether.store.segment_names import segment_paths, writer_id_of
from tether.sync.blobs import BlobUpload
from tether.sync.frames import (
    first_frame_end,
    header_is_main,
    is_main_frame,
    read_whole_frames,
    size_of,
    unsent_bytes,
)
from tether.sync.http import (
    HttpClient,
    NotOnServerError,
    OffsetConflictError,
    ServerError,
    describe_detail,
    project_path,
    quote_part,
)
from tether.sync.progress import UploadState
from tether.sync.repair import FrameRepair, Skipped, damaged_until, frame_count

__all__ = [
    "RunUpload",
    "SegmentCursor",
    "Sent",
    "read_whole_frames",
    "unsent_bytes",
    "writer_id_of",
]

# Bytes per PUT: a few MiB keeps requests few and well under the server's 16 MiB limit.
MAX_BODY_BYTES: Final = 4 * 1024 * 1024
MIN_BODY_BYTES: Final = 64 * 1024
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
    # After a refusal: send only up to a refused frame, or one frame a body up to an offset,
    # or the refused frame record by record.
    stop_at: int | None = None
    single_until: int = 0
    repair: FrameRepair | None = None

    @property
    def name(self) -> str:
        return self.path.name


@dataclass(frozen=True)
class Sent:
    """What one PUT did; ``skipped``: what it told the server was left out (refused)."""

    bytes: int
    records: int
    duplicates: int
    writer_id: str = ""
    skipped: Skipped | None = None


class RunUpload:
    """The upload of one run directory to one server, segment by segment."""

    def __init__(self, run_dir: Path, *, project: str, run_id: str, base_url: str) -> None:
        self.run_dir = run_dir
        self.project = project
        self.run_id = run_id
        self.state = UploadState.load(run_dir, base_url=base_url, project=project)
        self.cursors: dict[str, SegmentCursor] = {}
        # Learned from a 413: the most bytes the server takes in one body (None: not known,
        # so a frame larger than our own pieces is still tried whole).
        self.server_limit: int | None = None
        run_path = f"{project_path(project)}/runs/{quote_part(run_id)}"
        self._run_path = f"{run_path}/segments"
        self.blobs = BlobUpload(run_dir, run_path, base_url=base_url, project=project)

    def refresh(self) -> list[SegmentCursor]:
        """Pick up segment files written since the last look (new processes)."""
        for path in segment_paths(self.run_dir):
            if path.name not in self.cursors:
                cursor = SegmentCursor(path, writer_id_of(path), acked=self.state.get(path.name))
                self.cursors[path.name] = cursor
        return list(self.cursors.values())

    def align(self, client: HttpClient) -> None:
        """Take the server's word for what it has of each writer (it may have lost or gained)."""
        try:
            known = client.get_json(self._run_path)
        except NotOnServerError:
            known = {}
        if not known:  # a run the server does not have (yet, or any more) has no blobs there
            self.blobs.forget()
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
        for path in segment_paths(self.run_dir):
            size = size_of(path)
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

        What the server refuses (a record it cannot store, one over its body limit) is left
        out and the rest sent (``Sent.skipped`` says what and why); a segment the server will
        not take at all is marked ``broken`` and left on disk.
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
        attempts = 0
        while attempts < MAX_ATTEMPTS:
            if cursor.repair is not None:
                sent = self._send_repair(client, cursor, cursor.repair)
                if sent is not None:
                    return sent
                continue  # refused again: each refusal leaves out more, so this ends
            attempts += 1
            size = size_of(cursor.path)
            if size < cursor.acked:  # the file was started again (deleted under its writer)
                self._set_acked(cursor, 0)
            if size == cursor.seen_size and cursor.acked >= cursor.whole_end:
                return None
            start = cursor.acked
            if cursor.stop_at is not None and cursor.stop_at <= start:
                self._start_repair(cursor, start, "refused by the server")
                continue
            try:
                body, complete = read_whole_frames(cursor.path, start, cursor.limit)
            except OSError:  # deleted meanwhile; a writer that starts it again is seen later
                return None
            body, complete = self._cut(cursor, start, body, complete)
            cursor.seen_size = size if complete else -1
            cursor.whole_end = start + len(body)
            if not body:
                if self._damage_at(cursor, start, size):
                    continue
                return None
            if start == 0:
                cursor.main = header_is_main(body)
            too_large = self.server_limit is not None and len(body) > self.server_limit
            if too_large and frame_count(body, start) == 1:
                self._start_repair(cursor, start, "over the server's limit for one upload")
                continue
            self.blobs.before_segment(client, body)  # the bytes before the records naming them
            try:
                answer = client.put_bytes(self._writer_path(cursor), body, {"offset": start})
            except OffsetConflictError as exc:
                self._set_acked(cursor, exc.offset if 0 <= exc.offset <= size else 0)
                continue
            except ServerError as exc:
                if exc.status in REJECTED_STATUSES:
                    self._refused(cursor, start, body, exc)
                    continue
                raise
            self._after_put(cursor, start + len(body), answer)
            return Sent(
                bytes=len(body),
                records=_int(answer, "records"),
                duplicates=_int(answer, "duplicates"),
                writer_id=cursor.writer_id,
            )
        return None

    def _writer_path(self, cursor: SegmentCursor) -> str:
        return f"{self._run_path}/{quote_part(cursor.writer_id)}"

    def _cut(
        self, cursor: SegmentCursor, start: int, body: bytes, complete: bool
    ) -> tuple[bytes, bool]:
        """The body cut before a refused frame, or to one frame while narrowing down."""
        keep = len(body)
        if cursor.stop_at is not None:
            keep = min(keep, cursor.stop_at - start)
        if start < cursor.single_until:
            keep = min(keep, first_frame_end(body, start))
        return (body, complete) if keep >= len(body) else (body[:keep], False)

    def _refused(self, cursor: SegmentCursor, start: int, body: bytes, exc: ServerError) -> None:
        """The server will not take ``body`` as it is: find the frame it refuses."""
        frames = frame_count(body, start)
        if exc.status == 413:
            fits = exc.answer_int("limit")
            if fits is not None and fits > 0:
                self.server_limit = fits
                cursor.limit = min(cursor.limit, fits)
            elif frames > 1:
                cursor.limit = max(MIN_BODY_BYTES, cursor.limit // 2)
            if frames > 1 and cursor.limit < len(body):
                return  # smaller pieces fit
            self._start_repair(cursor, start, _reason(exc))
            return
        bad = exc.answer_int("frame_offset")
        if bad is not None and start < bad < start + len(body):
            cursor.stop_at = bad  # the frames before it are good: sent first
        elif bad == start or frames <= 1:
            self._start_repair(cursor, start, _reason(exc))
        else:  # refused without saying where: one frame a body until past these
            cursor.single_until = start + len(body)

    def _start_repair(self, cursor: SegmentCursor, start: int, why: str) -> None:
        cursor.stop_at = None
        try:
            cursor.repair = FrameRepair.of(cursor.path, start, why)
        except (OSError, ValueError, struct.error) as exc:
            cursor.broken = f"{why}, and the frame at {start} could not be read again ({exc})"

    def _damage_at(self, cursor: SegmentCursor, start: int, size: int) -> bool:
        """Damaged bytes at ``start`` with valid frames after them: skip them (as the reader
        does), once the same damage is seen twice (not a frame being written right now)."""
        at = max(start, len(fmt.MAGIC))
        if size - at < fmt.FRAME_HEADER.size:
            return False
        found = damaged_until(cursor.path, at)
        if found is None or found <= at or damaged_until(cursor.path, at) != found:
            return False
        cursor.repair = FrameRepair.damage(start, found)
        return True

    def _send_repair(
        self, client: HttpClient, cursor: SegmentCursor, repair: FrameRepair
    ) -> Sent | None:
        """One body of a refused frame's records (None: refused again, and narrowed down)."""
        body, count, last = repair.next_body(cursor.limit, self.server_limit)
        params: dict[str, Any] = {"offset": repair.start, "end": repair.start}
        skipped = repair.skipped
        if last:
            params["end"] = repair.end
            if skipped.records or skipped.bytes or skipped.reasons:
                params.update(
                    skipped_records=skipped.records,
                    skipped_bytes=skipped.bytes,
                    skip_reason=skipped.reason() or "refused by the server",
                )
        self.blobs.before_segment(client, body)
        try:
            answer = client.put_bytes(self._writer_path(cursor), body, params)
        except OffsetConflictError as exc:  # the server has less than we thought: from there
            cursor.repair = None
            self._set_acked(cursor, exc.offset)
            return None
        except ServerError as exc:
            if exc.status not in REJECTED_STATUSES or count == 0:
                if exc.status in REJECTED_STATUSES:  # even the skip itself: a server bug
                    cursor.repair = None
                    cursor.broken = str(exc)
                raise
            if exc.status == 413:
                fits = exc.answer_int("limit")
                if fits is not None and fits > 0:
                    self.server_limit = fits
                    cursor.limit = min(cursor.limit, fits)
                if count > 1:  # fewer records a body
                    cursor.limit = min(cursor.limit, max(1, len(body) // 2))
                    return None
                repair.refuse(1, repair.records[0][0], None, _reason(exc))
                return None
            repair.refuse(count, exc.answer_int("seq"), exc.answer_int("row"), _reason(exc))
            return None
        repair.sent(count)
        if not last:
            return Sent(
                bytes=0,
                records=_int(answer, "records"),
                duplicates=_int(answer, "duplicates"),
                writer_id=cursor.writer_id,
            )
        cursor.repair = None
        cursor.limit = min(MAX_BODY_BYTES, self.server_limit or MAX_BODY_BYTES)
        self._set_acked(cursor, repair.end)
        return Sent(
            bytes=repair.end - repair.start,
            records=_int(answer, "records"),
            duplicates=_int(answer, "duplicates"),
            writer_id=cursor.writer_id,
            skipped=skipped if skipped.bytes or skipped.records or skipped.reasons else None,
        )

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
                    frame, _ = fmt.read_frame(handle, len(fmt.MAGIC))
                cursor.main = is_main_frame(frame)
            except (OSError, ValueError):  # an odd header only means no heartbeats go there
                cursor.main = False
        return cursor.main

    def save(self) -> None:
        self.state.save()

    def _after_put(self, cursor: SegmentCursor, end: int, answer: Any) -> None:
        offset = answer.get("offset") if isinstance(answer, dict) else None
        if isinstance(offset, int) and end <= offset <= size_of(cursor.path):
            end = offset
        self._set_acked(cursor, end)

    def _set_acked(self, cursor: SegmentCursor, offset: int) -> None:
        cursor.acked = max(0, offset)
        cursor.seen_size = -1
        self.state.set(cursor.name, cursor.acked)


def _reason(exc: ServerError) -> str:
    """Why the server refused, in one line: its ``reason`` (where and what), else its detail."""
    reason = exc.body.get("reason")
    if isinstance(reason, str) and reason:
        return reason
    if exc.status == 413:
        fits = exc.answer_int("limit")
        return f"over the server's {fits:,}-byte limit for one upload" if fits else str(exc)
    return describe_detail(exc.detail)


def _int(answer: Any, key: str) -> int:
    value = answer.get(key, 0) if isinstance(answer, dict) else 0
    return value if isinstance(value, int) else 0
