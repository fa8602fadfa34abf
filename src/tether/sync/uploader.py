"""The online run's uploader: one daemon thread in the process that created the run.

It tails every segment file of the run directory (the main process's and every child's; the
file system is the only channel between processes), sends the new whole frames, and records
what the server acknowledged in ``upload.json``. It never touches the writers, so ``log()``
pays nothing for it. When the server is away it retries with capped exponential backoff; the
data waits on disk, and ``tether sync`` can finish the job later. Its failures become one
rate-limited ``TetherWarning``; nothing it does raises into user code or blocks it, except
``wait()``: while the upload makes progress, up to the caller's timeout, and not at all when
uploads have been failing or the server stops answering (``STALL_S``). A server with too many
uploads in flight answers 429 and says when to come back (``Retry-After``): that wait is used,
and counts as an answer, not a failure. A record the server refuses is skipped so that the
rest arrives, and said once (``repair``).

A fork child inherits the object but not the thread: every method checks the process id and
does nothing in another process. The creating process uploads the child's segment too.
"""

from __future__ import annotations

import os
import random
import threading
import time
from pathlib import Path
from typing import Final

from tether._diagnostics import warn_failure
from tether._threads import Flag, start_without_signals
from tether.sync.http import AuthError, HttpClient, ServerError
from tether.sync.run_upload import RunUpload, Sent

POLL_S: Final = 1.0
# Seconds without any exchange after which the uploader sends one, so the server sees it alive.
UPLOAD_HEARTBEAT_S: Final = 30.0
BACKOFF_MIN_S: Final = 0.5
BACKOFF_MAX_S: Final = 30.0
STOP_JOIN_S: Final = 2.0
# wait() gives up when no answer came from the server for this long: a server that accepts
# connections and never answers must not hold finish() for the 60 s read timeout. A healthy
# server answers a 4 MiB piece in well under a second, even loaded.
STALL_S: Final = 3.0
# Skips are said one by one (each is rare and matters), up to this many per run.
MAX_SKIP_WARNINGS: Final = 20


def backoff_delay(failures: int) -> float:
    """Exponential, capped, with jitter so that many clients do not retry in step."""
    delay = min(BACKOFF_MAX_S, BACKOFF_MIN_S * 2 ** max(0, failures - 1))
    return float(delay * random.uniform(0.8, 1.2))


def retry_delay(exc: Exception, failures: int) -> float:
    """How long to wait before the next try: what a busy server asks for (429, or 503, with
    ``retry_after``), long for a refused key, else the backoff."""
    if isinstance(exc, ServerError) and exc.status in (429, 503):
        asked = exc.answer_int("retry_after")
        if asked is not None:
            return float(min(max(asked, 0), BACKOFF_MAX_S)) * random.uniform(1.0, 1.2)
    if isinstance(exc, AuthError):
        return BACKOFF_MAX_S * 2
    return backoff_delay(failures)


def _busy(exc: Exception) -> bool:
    """A server that answered and asked to come back: finish() keeps waiting for it. (A 503,
    the database or blob store away, is waited as asked too, but fails a wait().)"""
    return isinstance(exc, ServerError) and exc.status == 429


class Uploader:
    """Streams a run directory's segments to the server while the run is written.

    >>> uploader = Uploader(run.dir, project="mnist", run_id=run.id,    # doctest: +SKIP
    ...                     base_url="http://127.0.0.1:8080", api_key=key)
    >>> uploader.start()                                                # doctest: +SKIP
    >>> uploader.wait(timeout=30.0)  # True once the server has it all  # doctest: +SKIP
    >>> uploader.stop()                                                 # doctest: +SKIP
    """

    def __init__(
        self, run_dir: Path, *, project: str, run_id: str, base_url: str, api_key: str
    ) -> None:
        self.run_dir = Path(run_dir)
        self._base_url = base_url
        self._api_key = api_key
        self._upload = RunUpload(self.run_dir, project=project, run_id=run_id, base_url=base_url)
        self._upload.blobs.on_answer = self._answered  # blobs before a body count as answers
        self._pid = os.getpid()
        # Reentrant: a signal handler that finishes the run may call wait() inside wait().
        self._lock = threading.RLock()
        self._done = threading.Condition(self._lock)
        self._wake = Flag()
        self._stopping = Flag()
        self._thread: threading.Thread | None = None
        self._requested = 0  # wait() calls so far
        self._completed = 0  # the last request a whole pass has answered
        # The last request a pass failed on (-1: the last pass did not fail), and why.
        self._failed = -1
        self.last_error: str | None = None
        self._last_answer = time.monotonic()  # when the server last answered a request
        self._skip_warnings = 0

    def _mine(self) -> bool:
        return os.getpid() == self._pid

    def start(self) -> None:
        """Start the upload thread; idempotent. Does nothing in a forked child."""
        if not self._mine():
            return
        with self._lock:
            if self._thread is not None or self._stopping.is_set():
                return
            self._thread = threading.Thread(target=self._run, name="tether-uploader", daemon=True)
        try:
            start_without_signals(self._thread)
        except RuntimeError as exc:  # interpreter shutting down
            warn_failure("upload", f"could not start the upload thread ({exc}); run `tether sync`")

    def wait(self, timeout: float) -> bool:
        """Send everything on disk now; True once the server acknowledged all of it.

        Waits while the upload makes progress, up to ``timeout`` seconds. False as soon as a
        try fails (uploads that have been failing get one more, at once), when the server has
        not answered for ``STALL_S``, when ``timeout`` passes, or when the server refused some
        segment; ``last_error`` says why. The data stays on disk for
        ``tether sync``. In a forked child: True at once, as the creating process uploads the
        child's segment.
        """
        if not self._mine():
            return True
        started = time.monotonic()
        deadline = started + max(0.0, timeout)
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self.last_error = self.last_error or "the upload thread is not running"
                return False
            # Uploads that have been failing get one more try, now (not after the backoff):
            # a server that is back is used, one still down answers False at once.
            self._requested += 1
            wanted = self._requested
        self._wake.set()
        with self._done:
            while self._completed < wanted:
                if self._failed >= wanted:
                    return False
                now = time.monotonic()
                quiet_since = max(started, self._last_answer)
                if now - quiet_since >= STALL_S:
                    self.last_error = f"the server has not answered for {now - quiet_since:.1f} s"
                    return False
                if now >= deadline:
                    self.last_error = f"not done after the {timeout:.0f} s upload timeout"
                    return False
                self._done.wait(min(deadline, quiet_since + STALL_S) - now)
        return not self._upload.broken

    def stop(self, join_s: float = STOP_JOIN_S) -> None:
        """End the thread (after the request in flight, at most ``join_s`` waited: a thread
        stuck on a server that does not answer is a daemon, and is left behind)."""
        if not self._mine():
            return
        self._stopping.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=join_s)

    def pending_bytes(self) -> int:
        """Bytes on disk that the server has not acknowledged yet (0 in a forked child)."""
        if not self._mine():
            return 0
        try:
            return self._upload.pending_bytes()
        except Exception:
            return 0

    # -- the thread --------------------------------------------------------------------------
    def _run(self) -> None:
        client: HttpClient | None = None
        failures = 0
        aligned = False
        last_contact = time.monotonic()
        while not self._stopping.is_set():
            with self._lock:
                request = self._requested
            delay = POLL_S
            try:
                if client is None:
                    client = HttpClient(self._base_url, self._api_key)
                if not aligned:
                    self._upload.align(client)
                    aligned = True
                    self._answered()
                sent = self._upload.send_pending(
                    client, should_stop=self._stopping.is_set, on_sent=self._on_sent
                )
                now = time.monotonic()
                if sent:
                    last_contact = now
                elif now - last_contact >= UPLOAD_HEARTBEAT_S:
                    self._upload.heartbeat(client)
                    last_contact = now
                self._warn_rejected()
                failures = 0
                with self._done:
                    self._completed = max(self._completed, request)
                    self._failed = -1
                    self._last_answer = time.monotonic()
                    self._done.notify_all()
            except Exception as exc:  # ours, never the user's: warn, back off, try again
                failures += 1
                delay = retry_delay(exc, failures)
                with self._done:
                    if _busy(exc):  # answered, and asked to come back: wait() keeps waiting
                        self._last_answer = time.monotonic()
                    else:
                        self._failed = request
                    self.last_error = f"uploads are failing: {exc}"
                    self._done.notify_all()
                if not _busy(exc):
                    self._warn_failed(exc, delay)
            finally:
                self._save()
            self._wake.wait(delay)
            self._wake.clear()
        if client is not None:
            try:
                client.close()
            except Exception:
                pass

    def _answered(self) -> None:
        with self._done:
            self._last_answer = time.monotonic()
            self._done.notify_all()

    def _on_sent(self, sent: Sent) -> None:
        self._answered()
        if sent.skipped is None:
            return
        self._skip_warnings += 1
        if self._skip_warnings > MAX_SKIP_WARNINGS:
            return
        skip = sent.skipped
        warn_failure(
            f"upload-skip-{self._skip_warnings}",
            f"run {self._upload.run_id}, writer {sent.writer_id}: the server refused "
            f"{skip.records:,} record(s) ({skip.bytes:,} bytes), skipped so that the rest of "
            f"the run arrives (the run on the server counts them): {skip.reason()}",
            always=True,
        )

    def _warn_failed(self, exc: Exception, delay: float) -> None:
        warn_failure(
            "upload",
            f"upload of {self.run_dir.name} to {self._base_url} failed ({exc}); retrying in "
            f"{delay:.1f} s. The data is safe on disk; `tether sync` uploads it later",
        )

    def _warn_rejected(self) -> None:
        for cursor in self._upload.broken:
            warn_failure(
                "upload-rejected",
                f"the server refused {cursor.path} ({cursor.broken}); it stays on disk",
            )

    def _save(self) -> None:
        try:
            self._upload.save()
        except OSError as exc:
            warn_failure(
                "upload-state",
                f"could not write {self._upload.state.path} ({exc.strerror or exc}); "
                "the upload goes on, but a later `tether sync` may resend some data",
            )
