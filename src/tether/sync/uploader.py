"""The online run's uploader: one daemon thread in the process that created the run.

It tails every segment file of the run directory (the main process's and every child's; the
file system is the only channel between processes), sends the new whole frames, and records
what the server acknowledged in ``upload.json``. It never touches the writers, so ``log()``
pays nothing for it. When the server is away it retries with capped exponential backoff; the
data waits on disk, and ``tether sync`` can finish the job later. Its failures become one
rate-limited ``TetherWarning``; nothing it does raises into user code or blocks it, except
``wait()``, for as long as the caller asks.

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
from tether.sync.http import AuthError, HttpClient
from tether.sync.run_upload import RunUpload

POLL_S: Final = 1.0
HEARTBEAT_S: Final = 30.0
BACKOFF_MIN_S: Final = 0.5
BACKOFF_MAX_S: Final = 30.0
STOP_JOIN_S: Final = 2.0


def backoff_delay(failures: int) -> float:
    """Exponential, capped, with jitter so that many clients do not retry in step."""
    delay = min(BACKOFF_MAX_S, BACKOFF_MIN_S * 2 ** max(0, failures - 1))
    return float(delay * random.uniform(0.8, 1.2))


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
        self._pid = os.getpid()
        # Reentrant: a signal handler that finishes the run may call wait() inside wait().
        self._lock = threading.RLock()
        self._done = threading.Condition(self._lock)
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._requested = 0  # wait() calls so far
        self._completed = 0  # the last request a whole pass has answered

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
            self._thread.start()
        except RuntimeError as exc:  # interpreter shutting down
            warn_failure("upload", f"could not start the upload thread ({exc}); run `tether sync`")

    def wait(self, timeout: float) -> bool:
        """Send everything on disk now; True once the server acknowledged all of it.

        False when ``timeout`` seconds pass first, or when the server refused some segment
        (the data stays on disk for ``tether sync``). In a forked child: True at once, as the
        creating process uploads the child's segment.
        """
        if not self._mine():
            return True
        deadline = time.monotonic() + max(0.0, timeout)
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                return False
            self._requested += 1
            wanted = self._requested
        self._wake.set()
        with self._done:
            while self._completed < wanted:
                left = deadline - time.monotonic()
                if left <= 0 or not self._done.wait(left):
                    return self._completed >= wanted and not self._upload.broken
        return not self._upload.broken

    def stop(self) -> None:
        """End the thread (after the request in flight, at most ``STOP_JOIN_S`` waited)."""
        if not self._mine():
            return
        self._stopping.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=STOP_JOIN_S)

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
                sent = self._upload.send_pending(client, should_stop=self._stopping.is_set)
                now = time.monotonic()
                if sent:
                    last_contact = now
                elif now - last_contact >= HEARTBEAT_S:
                    self._upload.heartbeat(client)
                    last_contact = now
                self._warn_rejected()
                failures = 0
                with self._done:
                    self._completed = max(self._completed, request)
                    self._done.notify_all()
            except Exception as exc:  # ours, never the user's: warn, back off, try again
                failures += 1
                delay = BACKOFF_MAX_S * 2 if isinstance(exc, AuthError) else backoff_delay(failures)
                self._failed(exc, delay)
            finally:
                self._save()
            self._wake.wait(delay)
            self._wake.clear()
        if client is not None:
            try:
                client.close()
            except Exception:
                pass

    def _failed(self, exc: Exception, delay: float) -> None:
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
