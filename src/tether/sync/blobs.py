"""A run's blobs, sent before the segment bytes that name them.

Media bytes live beside the segments as ``<run dir>/blobs/<sha256>`` (``tether.media.blobs``);
a ``K_FILE`` record names each by its hash. Before ``RunUpload`` sends a body of segment
bytes, ``BlobUpload.before_segment`` finds the hashes its file records name (a table's image
cells too), asks the server which of them the run lacks (``POST .../blobs/missing``, up to
1,000 at a time) and PUTs each missing one, so the web UI never shows a record whose bytes
are not there yet.

What the server acknowledged is appended to ``<run dir>/upload-blobs.txt`` (one hash a line,
after a first line naming the server and project), so a restarted upload does not ask again
for everything; the server stays the authority (a run it does not know has no blobs).

A blob the server will not take (over its size limit, or a file that no longer hashes to
its name) is skipped with one warning and the rest goes on; so is one missing on disk (the
disk was full when it was logged). A busy or failing server raises, and the caller retries
as it does for segments.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final, TypeGuard

from tether._diagnostics import warn_failure
from tether._threads import start_without_signals
from tether.media.blobs import blob_path
from tether.store import format as fmt
from tether.sync.http import (
    CONNECT_TIMEOUT_S,
    READ_TIMEOUT_S,
    HttpClient,
    ServerError,
    ServerUnreachableError,
)

ACKED_FILE: Final = "upload-blobs.txt"
MISSING_BATCH: Final = 1000
# Blob PUTs in flight at once (the server takes 4 uploads per user at a time by default; a
# segment PUT of another writer may hold one).
PARALLEL_PUTS: Final = 3
# The server's cap on one blob (tether.server.media_blobs.MAX_BLOB_BYTES): larger ones are
# not even tried.
MAX_BLOB_BYTES: Final = 64 * 1024 * 1024
_FILE_KIND: Final = fmt.K_FILE
_ARTIFACT_KIND: Final = fmt.RecordKind.ARTIFACT
OCTET_STREAM: Final = "application/octet-stream"


def named_blobs(body: bytes) -> dict[str, str]:
    """``{sha256: media type}`` of the blobs the file records of ``body`` name (whole frames,
    with or without the segment's magic), in order."""
    found: dict[str, str] = {}
    if b"sha256" not in body:  # the common case: no file record at all, nothing decoded
        return found
    view = memoryview(body)
    position = len(fmt.MAGIC) if body.startswith(fmt.MAGIC) else 0
    while position < len(body):
        located = fmt.frame_at(view, position)
        if located is None:
            break
        frame, position = located
        for record in frame.records:
            if isinstance(record, list) and len(record) >= 3:
                if record[0] == _FILE_KIND:
                    _add_named(found, record[2])
                elif record[0] == _ARTIFACT_KIND:
                    _add_artifact(found, record[2])
    return found


def _add_artifact(found: dict[str, str], info: Any) -> None:
    """An artifact ``log`` names each file's blob, or each of its chunks in order."""
    if (
        not isinstance(info, dict)
        or info.get("op") != "log"
        or not isinstance(info.get("files"), list)
    ):
        return
    for entry in info["files"]:
        if not isinstance(entry, dict):
            continue
        chunks = entry.get("chunks")
        for sha in chunks if isinstance(chunks, list) else [entry.get("sha256")]:
            if _is_sha256(sha):
                found.setdefault(sha, OCTET_STREAM)


def _add_named(found: dict[str, str], info: Any) -> None:
    if not isinstance(info, dict):
        return
    sha = info.get("sha256")
    media_type = info.get("media_type")
    if _is_sha256(sha):
        found.setdefault(sha, media_type if isinstance(media_type, str) else "")
    meta = info.get("meta")
    refs = meta.get("refs") if isinstance(meta, dict) else None
    for ref in refs if isinstance(refs, list) else ():
        if _is_sha256(ref):
            found.setdefault(ref, "")  # an image cell: its type is in the table's blob


def _is_sha256(value: Any) -> TypeGuard[str]:
    return (
        isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)
    )


class BlobUpload:
    """The blobs of one run directory, sent to one server and project."""

    def __init__(self, run_dir: Path, run_path: str, *, base_url: str, project: str) -> None:
        self.run_dir = run_dir
        self._run_path = run_path
        self._identity = json.dumps({"base_url": base_url, "project": project}, sort_keys=True)
        self._acked: set[str] | None = None  # read when first needed (most passes send none)
        self.skipped: dict[str, str] = {}  # sha256: why it is not sent
        # Called after each answer from the server (the uploader's finish() waits while
        # answers come, and a body may name many blobs).
        self.on_answer: Callable[[], None] | None = None
        self._lock = threading.Lock()
        # Presigned PUT URLs the server gave for missing blobs (an S3 store), and the ids of
        # the staging objects they write, by hash.
        self._direct: dict[str, Any] = {}
        self._staging: dict[str, Any] = {}

    # -- what the server has -----------------------------------------------------------------
    def _path(self) -> Path:
        return self.run_dir / ACKED_FILE

    @property
    def acked(self) -> set[str]:
        """The hashes the server acknowledged for this run (from the file, once)."""
        if self._acked is None:
            self._acked = self._load()
        return self._acked

    def _load(self) -> set[str]:
        try:
            lines = self._path().read_text(encoding="utf-8").splitlines()
        except (OSError, ValueError):
            return set()
        if not lines or lines[0] != self._identity:
            return set()  # another server or project: start again from what the server says
        return {line for line in lines[1:] if _is_sha256(line)}

    def forget(self) -> None:
        """The server has nothing of this run (new, or its data was lost): ask afresh."""
        self._acked = set()
        try:
            self._path().unlink(missing_ok=True)
        except OSError:  # only costs a question to the server
            pass

    def _acknowledge(self, hashes: list[str]) -> None:
        with self._lock:  # PUTs run in parallel: one appender at a time
            self._append_acked(hashes)

    def _append_acked(self, hashes: list[str]) -> None:
        fresh = [sha for sha in hashes if sha not in self.acked]
        if not fresh:
            return
        self.acked.update(fresh)
        path = self._path()
        try:
            new = not path.exists()
            with open(path, "a", encoding="utf-8") as handle:
                if new:
                    handle.write(self._identity + "\n")
                handle.write("".join(sha + "\n" for sha in fresh))
        except OSError as exc:  # only costs a question to the server next time
            warn_failure(
                "upload-state",
                f"could not write {path} ({exc.strerror or exc}); the upload goes on",
            )

    # -- sending ------------------------------------------------------------------------------
    def before_segment(self, client: HttpClient, body: bytes) -> int:
        """Send the blobs that ``body`` names and the server lacks; returns how many were
        sent. Raises ``ServerError``/``ServerUnreachableError`` as any request does."""
        named = named_blobs(body)
        todo = [sha for sha in named if sha not in self.acked and sha not in self.skipped]
        sent = 0
        for batch in _batches(todo, MISSING_BATCH):
            answer = client.post_json(f"{self._run_path}/blobs/missing", {"sha256": batch})
            listed = answer.get("missing") if isinstance(answer, dict) else None
            missing = [sha for sha in listed if sha in named] if isinstance(listed, list) else batch
            urls = answer.get("upload_urls") if isinstance(answer, dict) else None
            staging = answer.get("upload_staging") if isinstance(answer, dict) else None
            self._direct = urls if isinstance(urls, dict) else {}
            self._staging = staging if isinstance(staging, dict) else {}
            self._answered()
            self._acknowledge([sha for sha in batch if sha not in set(missing)])
            sent += self._put_all(client, [(sha, named[sha]) for sha in missing])
        return sent

    def _put_all(self, client: HttpClient, blobs: list[tuple[str, str]]) -> int:
        """PUT ``(sha256, media type)`` pairs, ``PARALLEL_PUTS`` at a time (each a round trip
        and, on the server, a sync to disk); the first error is raised once all stopped."""
        if len(blobs) <= 1:
            return sum(self._put(client, sha, kind) for sha, kind in blobs)
        pending = list(reversed(blobs))
        results: list[bool] = []
        errors: list[BaseException] = []
        lock = threading.Lock()

        def work() -> None:
            while True:
                with lock:
                    if errors or not pending:
                        return
                    sha, kind = pending.pop()
                try:
                    done = self._put(client, sha, kind)
                except BaseException as exc:  # raised in the caller's thread below
                    with lock:
                        errors.append(exc)
                    return
                with lock:
                    results.append(done)

        workers = [
            threading.Thread(target=work, name="tether-blob-upload", daemon=True)
            for _ in range(min(PARALLEL_PUTS, len(blobs)))
        ]
        for worker in workers:
            start_without_signals(worker)
        for worker in workers:
            worker.join()
        if errors:
            raise errors[0]
        return sum(results)

    def _put(self, client: HttpClient, sha256: str, media_type: str) -> bool:
        path = blob_path(self.run_dir, sha256)
        try:
            size = os.stat(path).st_size
        except OSError as exc:
            self._skip(sha256, f"its file {path} cannot be read ({exc.strerror or exc})")
            return False
        if size > MAX_BLOB_BYTES:
            self._skip(sha256, f"{size:,} bytes is over the server's {MAX_BLOB_BYTES:,}-byte limit")
            return False
        try:
            with open(path, "rb") as handle:
                if not media_type:  # a table's image cell: PNG or JPEG, as its bytes say
                    media_type = _sniffed(handle.read(8))
                    handle.seek(0)
                url, staging = self._direct.get(sha256), self._staging.get(sha256)
                if not (
                    isinstance(url, str)
                    and isinstance(staging, str)
                    and self._put_direct(client, (url, staging), sha256, handle, size, media_type)
                ):
                    client.put_stream(
                        f"{self._run_path}/blobs/{sha256}",
                        _chunks(handle),
                        content_type=media_type,
                        size=size,
                    )
        except OSError as exc:
            self._skip(sha256, f"its file {path} cannot be read ({exc.strerror or exc})")
            return False
        except ServerError as exc:
            if exc.status in (413, 422):  # too large for this server, or damaged on disk
                self._skip(sha256, f"the server refused it ({exc})")
                return False
            raise
        self._answered()
        self._acknowledge([sha256])
        return True

    def _put_direct(
        self,
        client: HttpClient,
        target: tuple[str, str],
        sha256: str,
        handle: Any,
        size: int,
        media_type: str,
    ) -> bool:
        """PUT the blob straight into the server's object store (``target``: a presigned URL
        and the id of the staging object it writes), then tell the server, which checks it
        and links it. False when the server wants the bytes through itself after all (it held
        the blob meanwhile); raises as a request does."""
        import httpx

        url, staging = target
        try:
            answer = httpx.put(
                url,
                content=_chunks(handle),
                headers={"Content-Length": str(size)},
                timeout=httpx.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S),
            )
        except httpx.HTTPError as exc:
            raise ServerUnreachableError(
                f"the object store did not take blob {sha256}: {exc}"
            ) from exc
        if answer.status_code >= 300:
            raise ServerError(
                f"the object store refused blob {sha256} ({answer.status_code}: "
                f"{answer.text[:200]}); retrying",
                status=503,
            )
        try:
            client.post_json(
                f"{self._run_path}/blobs/{sha256}/uploaded",
                {"media_type": media_type, "staging": staging},
            )
        except ServerError as exc:
            if exc.status == 409:
                handle.seek(0)
                return False
            raise
        return True

    def _answered(self) -> None:
        if self.on_answer is not None:
            self.on_answer()

    def _skip(self, sha256: str, why: str) -> None:
        with self._lock:
            self.skipped[sha256] = why
            first = len(self.skipped) == 1
        if first:
            warn_failure(
                "upload-blob-skipped",
                f"{self.run_dir.name}: blob {sha256[:12]}... is not uploaded: {why}. The rest of "
                "the run goes on; the media that names it shows without its bytes",
                always=True,
            )


def _sniffed(head: bytes) -> str:
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    return "application/octet-stream"


def _batches(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _chunks(handle: Any, size: int = 1024 * 1024) -> Iterator[bytes]:
    while chunk := handle.read(size):
        yield chunk
