"""``tether sync``: upload runs after the fact (offline, interrupted, crashed), resumably.

For each run it asks the server what it already has (``GET .../segments``), sends the rest,
and records progress in ``upload.json``; running it twice sends nothing twice (the server is
idempotent by writer and sequence number anyway). A run whose process died without a final
record is marked ``crashed`` on the server by a closing empty PUT with ``state=crashed``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Protocol

from tether._settings import DEFAULT_PROJECT
from tether.errors import RunNotFoundError
from tether.store import layout
from tether.store.states import RunState
from tether.sync.http import AuthError, HttpClient, ServerError, ServerUnreachableError
from tether.sync.repair import Skipped
from tether.sync.run_meta import read_run_meta
from tether.sync.run_upload import RunUpload, Sent

# Tries per run for errors worth retrying (the server restarting, a dropped connection).
ATTEMPTS: Final = 4
RETRY_BASE_S: Final = 0.5
# A busy server (429) or a proxy (503) that says when to come back (Retry-After) is waited
# for, not counted as a failed try: each wait at most BUSY_WAIT_MAX_S, all of one step's
# waits at most BUSY_TOTAL_S; after that, its answers count as failures again.
BUSY_WAIT_MAX_S: Final = 30.0
BUSY_TOTAL_S: Final = 300.0
UNREACHABLE: Final = "unreachable: "


@dataclass
class RunSync:
    """What ``sync_paths`` did for one run."""

    run_dir: Path
    project: str
    run_id: str
    state: str
    bytes: int = 0
    records: int = 0
    duplicates: int = 0
    error: str | None = None
    # (writer id, what was left out): records the server refused, skipped so that the rest
    # arrives; retrying cannot send them, so they are reported, not failed on.
    skipped: list[tuple[str, Skipped]] = field(default_factory=list)

    def add(self, sent: Sent) -> None:
        self.bytes += sent.bytes
        self.records += sent.records
        self.duplicates += sent.duplicates
        if sent.skipped is not None:
            self.skipped.append((sent.writer_id, sent.skipped))

    def skip_lines(self) -> list[str]:
        """One line per skip: which run, which writer, how much, why."""
        return [
            f"run {self.run_id} ({self.run_dir}), writer {writer}: the server refused "
            f"{skip.records:,} record(s) ({skip.bytes:,} bytes), skipped so that the rest "
            f"arrived: {skip.reason()}"
            for writer, skip in self.skipped
        ]


@dataclass
class SyncReport:
    """What ``sync_paths`` sent, run by run; ``ok`` is False if anything could not be sent."""

    runs: list[RunSync] = field(default_factory=list)

    @property
    def bytes(self) -> int:
        return sum(r.bytes for r in self.runs)

    @property
    def records(self) -> int:
        return sum(r.records for r in self.runs)

    @property
    def duplicates(self) -> int:
        return sum(r.duplicates for r in self.runs)

    @property
    def failed(self) -> list[RunSync]:
        return [r for r in self.runs if r.error is not None]

    @property
    def ok(self) -> bool:
        return not self.failed


class Progress(Protocol):
    """What ``sync_paths`` tells a progress display (see ``tether.sync.display``)."""

    def planned(self, total_bytes: int) -> None: ...
    def advance(self, run: RunSync, sent: Sent) -> None: ...
    def close(self) -> None: ...


def find_run_dirs(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Run directories named by ``paths``: a run directory, or a folder holding ``./tether``."""
    found: dict[Path, None] = {}
    for raw in paths:
        path = Path(raw).expanduser().absolute()
        if layout.is_run_dir(path):
            found[path] = None
            continue
        runs = layout.list_run_dirs(path)
        if not runs and not path.is_dir():
            raise RunNotFoundError(f"{path} is not a run directory nor a folder of runs")
        found.update(dict.fromkeys(runs))
    return list(found)


def sync_paths(
    paths: Iterable[str | os.PathLike[str]],
    *,
    base_url: str,
    api_key: str,
    progress: bool | Progress = True,
) -> SyncReport:
    """Upload the runs under ``paths``; returns what was sent.

    Raises ``RunNotFoundError`` for a path that holds no run and ``AuthError`` when the
    server refuses the key; every other failure is reported per run in the result.

    >>> report = sync_paths(["."], base_url=url, api_key=key)   # doctest: +SKIP
    >>> report.ok, report.records, report.duplicates             # doctest: +SKIP
    """
    run_dirs = find_run_dirs(paths)
    display: Progress | None = None
    if progress is True:
        from tether.sync.display import RichProgress

        display = RichProgress()
    elif not isinstance(progress, bool):
        display = progress
    report = SyncReport()
    try:
        with HttpClient(base_url, api_key) as client:
            # Once the server is out of reach, the other runs are not tried (nor waited for).
            unreachable: str | None = None
            plans: list[RunUpload | None] = []
            for run_dir in run_dirs:
                plans.append(_plan(run_dir, client, base_url, report, unreachable))
                unreachable = unreachable or _unreachable(report.runs[-1])
            if display is not None:
                display.planned(sum(u.pending_bytes() for u in plans if u is not None))
            for run, upload in zip(report.runs, plans, strict=True):
                if upload is None:
                    continue
                if unreachable is not None:
                    run.error = unreachable
                    continue
                _send(run, upload, client, display)
                unreachable = _unreachable(run)
    finally:
        if display is not None:
            display.close()
    return report


def _plan(
    run_dir: Path, client: HttpClient, base_url: str, report: SyncReport, unreachable: str | None
) -> RunUpload | None:
    """What the server already has of one run; None (and the run's error) if unknown."""
    data = read_run_meta(run_dir)  # not the history: the upload starts within a second
    run = RunSync(run_dir, data.project or DEFAULT_PROJECT, data.id, data.state)
    report.runs.append(run)
    if unreachable is not None:
        run.error = unreachable
        return None
    upload = RunUpload(run_dir, project=run.project, run_id=run.run_id, base_url=base_url)
    try:
        _retrying(lambda: upload.align(client))
    except AuthError:
        raise
    except (ServerError, ServerUnreachableError) as exc:
        run.error = _describe(exc)
        return None
    return upload


def _send(run: RunSync, upload: RunUpload, client: HttpClient, display: Progress | None) -> None:
    def sent(one: Sent) -> None:
        run.add(one)
        try:
            upload.save()  # a sync killed now resumes after this batch
        except OSError:
            pass  # said once, by the save at the end
        if display is not None:
            display.advance(run, one)

    try:
        for _ in range(3):  # again only if the server turned out to miss some bytes
            _retrying(lambda: upload.send_pending(client, on_sent=sent))
            if run.state != RunState.CRASHED or upload.broken or _crashed(upload, client):
                break
    except AuthError:
        raise
    except (ServerError, ServerUnreachableError) as exc:
        run.error = _describe(exc)
    finally:
        try:
            upload.save()
        except OSError as exc:
            run.error = run.error or f"could not write {upload.state.path}: {exc.strerror}"
    if run.error is None and upload.broken:
        run.error = "; ".join(f"{c.path.name}: {c.broken}" for c in upload.broken)


def _crashed(upload: RunUpload, client: HttpClient) -> bool:
    """Mark the run crashed on the server (after its last bytes); False if it needs more."""
    marked = False

    def mark() -> None:
        nonlocal marked
        marked = upload.heartbeat(client, state=RunState.CRASHED.value)

    _retrying(mark)
    return marked


def busy_wait(exc: Exception) -> float | None:
    """Seconds a 429 or 503 asked to wait (``Retry-After``), within [RETRY_BASE_S,
    BUSY_WAIT_MAX_S]; None for any other error."""
    if not isinstance(exc, ServerError) or exc.status not in (429, 503):
        return None
    asked = exc.answer_int("retry_after")
    return None if asked is None else float(min(max(asked, RETRY_BASE_S), BUSY_WAIT_MAX_S))


def _retrying(action: Callable[[], object]) -> None:
    failures = 0
    waited = 0.0
    while True:
        try:
            action()
            return
        except (ServerError, ServerUnreachableError) as exc:
            asked = busy_wait(exc)
            if asked is not None and waited + asked <= BUSY_TOTAL_S:
                waited += asked
                time.sleep(asked)
                continue
            failures += 1
            if not exc.retryable or failures == ATTEMPTS:
                raise
            time.sleep(RETRY_BASE_S * 2 ** (failures - 1))


def _unreachable(run: RunSync) -> str | None:
    return run.error if run.error is not None and run.error.startswith(UNREACHABLE) else None


def _describe(exc: Exception) -> str:
    prefix = UNREACHABLE if isinstance(exc, ServerUnreachableError) else ""
    return prefix + str(exc)
