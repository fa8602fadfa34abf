"""The media a process logged and has not encoded yet, bounded in bytes.

``log()`` puts media here (the objects already hold copies of the user's data) and returns;
the writer's flusher takes them on its next drain and encodes them (``encode.file_info``).
What waits is capped at ``TETHER_MEDIA_QUEUE_BYTES`` (256 MiB by default) per process: past
it a new object is dropped, counted and said in one rate-limited warning; training never
blocks on it. A blob the disk refuses waits in memory (within the same cap) and is tried
again; what still cannot be stored when the writer closes, and what cannot be encoded at all
(an image Pillow refuses), is counted too. The writer records both counts in the run's
summary (``summary_entry``).

One queue per writer, so a fork child, which gets a new writer, gets a new queue.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Final, NamedTuple

from tether import _env_vars
from tether._diagnostics import warn_failure
from tether.errors import UsageError
from tether.media.types import Media

DEFAULT_CAP_BYTES: Final = 256 * 1024 * 1024
# A blob the disk refused is tried again after this long (not at every 50 ms drain).
RETRY_AFTER_S: Final = 1.0
MIN_CAP_BYTES: Final = 1024 * 1024
# The summary key under which a writer records the media it dropped or could not store.
DROPPED_SUMMARY_KEY: Final = "_tether/media_dropped"


class Queued(NamedTuple):
    key: str
    step: int
    position: int  # in a list logged under the key
    time: float
    media: Media
    nbytes: int


def cap_bytes() -> int:
    """``TETHER_MEDIA_QUEUE_BYTES``, checked; the default while unset."""
    raw = _env_vars.get(_env_vars.MEDIA_QUEUE_BYTES)
    if raw is None:
        return DEFAULT_CAP_BYTES
    try:
        value = int(raw.strip().replace("_", ""))
    except ValueError:
        value = -1
    if value < MIN_CAP_BYTES:
        raise UsageError(
            f"{_env_vars.MEDIA_QUEUE_BYTES.name}={raw!r} is not {_env_vars.MEDIA_QUEUE_BYTES.form}"
            f"; set it to e.g. {DEFAULT_CAP_BYTES} (256 MiB) or unset it"
        )
    return value


class MediaQueue:
    """Media waiting for the flusher; ``put`` never blocks and never raises for our reasons."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self._lock = threading.Lock()
        self._items: list[Queued] = []
        self._bytes = 0
        self.dropped = 0  # refused because the queue was full
        self.failed = 0  # taken, but could not be encoded or stored
        self.reason: str | None = None
        self._reported = (0, 0)
        # Items whose blob the disk refused, tried again from _retry_at (monotonic seconds).
        self._retry: list[Queued] = []
        self._retry_at = 0.0

    def put(self, key: str, step: int, index: int, time: float, media: Media) -> bool:
        """Queue one object; False (dropped and counted) when the cap would be passed."""
        size = media.nbytes
        with self._lock:
            if self._bytes + size > self.cap:
                self.dropped += 1
                self.reason = f"over TETHER_MEDIA_QUEUE_BYTES ({self.cap} bytes) waiting"
                dropped = self.dropped
            else:
                self._items.append(Queued(key, step, index, time, media, size))
                self._bytes += size
                return True
        warn_failure(
            "media-dropped",
            f"media {key!r} (step {step}) dropped: {self.cap:,} bytes of media already wait "
            f"to be encoded ({dropped} dropped so far in this process; raise "
            "TETHER_MEDIA_QUEUE_BYTES, or log fewer or smaller images)",
        )
        return False

    def take(self, *, final: bool = False) -> list[Queued]:
        """What to encode now: the new items, and those whose write failed once their retry
        time has come (all of them when ``final``: the writer is closing)."""
        with self._lock:
            items, self._items = self._items, []
            if self._retry and (final or _monotonic() >= self._retry_at):
                items, self._retry = self._retry + items, []
        return items

    def _done(self, item: Queued) -> None:
        """``item`` was stored (or given up): its bytes no longer count against the cap."""
        with self._lock:
            self._bytes -= item.nbytes

    def encode(
        self, run_dir: Path, items: list[Queued], *, final: bool = False
    ) -> list[tuple[float, dict[str, Any]]]:
        """Encode ``items`` and store their blobs: ``(time, info)`` for each file record.

        An item whose blob the disk refuses (full, gone) stays in memory, still counted
        against the cap, and is tried again after ``RETRY_AFTER_S`` (at the latest when the
        writer closes, ``final``, where a second refusal gives it up). An item that cannot be
        encoded is given up at once. Both are counted and said (rate-limited); never raised.
        """
        from tether.media.encode import file_info

        infos: list[tuple[float, dict[str, Any]]] = []
        for item in items:
            try:
                info = file_info(run_dir, item.key, item.step, item.position, item.media)
            except OSError as exc:
                if final:
                    self._give_up(item, exc)
                    continue
                with self._lock:
                    self._retry.append(item)
                    self._retry_at = _monotonic() + RETRY_AFTER_S
                warn_failure(
                    "media-write",
                    f"media {item.key!r} (step {item.step}) could not be written to "
                    f"{run_dir} ({_reason(exc)}); kept in memory and tried again",
                )
            except Exception as exc:  # an image Pillow refuses, a table msgspec cannot encode
                self._give_up(item, exc)
            else:
                infos.append((item.time, info))
                self._done(item)
        return infos

    def _give_up(self, item: Queued, exc: BaseException) -> None:
        with self._lock:
            self.failed += 1
            self.reason = _reason(exc)
        self._done(item)
        warn_failure(
            "media-failed",
            f"media {item.key!r} (step {item.step}) could not be stored ({_reason(exc)}); "
            f"{self.failed} failed so far in this process",
        )

    def summary_entry(self) -> dict[str, Any] | None:
        """What to record in the summary when the counts changed since the last call."""
        counts = (self.dropped, self.failed)
        if counts == self._reported:
            return None
        self._reported = counts
        return {"queue_full": counts[0], "failed": counts[1], "reason": self.reason}


_monotonic = time.monotonic


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return f"{type(exc).__name__}: {exc}"[:200]
