"""The progress bar ``tether sync`` shows on stderr while it uploads."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from tether.sync.run_upload import Sent

if TYPE_CHECKING:  # offline.py imports this module: a type only, so no import cycle
    from tether.sync.offline import RunSync


class RichProgress:
    """One bar over the bytes every run still has to send, named after the current run."""

    def __init__(self, console: Console | None = None) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=console or Console(stderr=True),
            transient=False,
        )
        self._task = self._progress.add_task("checking", total=None)
        self._progress.start()

    def planned(self, total_bytes: int) -> None:
        self._progress.update(self._task, total=total_bytes, description="uploading")

    def advance(self, run: RunSync, sent: Sent) -> None:
        self._progress.update(self._task, advance=sent.bytes, description=run.run_id)

    def close(self) -> None:
        self._progress.update(self._task, description="done")
        self._progress.stop()
