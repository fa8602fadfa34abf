"""Where a run directory's upload stands: ``<run dir>/upload.json``.

``{"base_url": ..., "project": ..., "offsets": {"<segment file name>": bytes acknowledged}}``.
The server stays the authority (``GET .../segments`` says what it has); this file lets an
upload resume without asking, and lets ``tether status`` count what is still to send while
offline. It is replaced atomically, so a crash mid-write leaves the previous version.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Final

UPLOAD_FILE: Final = "upload.json"


class UploadState:
    """Acknowledged offsets per segment file, for one server and project."""

    def __init__(self, run_dir: Path, *, base_url: str, project: str) -> None:
        self.path = run_dir / UPLOAD_FILE
        self.base_url = base_url
        self.project = project
        self.offsets: dict[str, int] = {}
        self._dirty = False

    @classmethod
    def load(cls, run_dir: Path, *, base_url: str, project: str) -> UploadState:
        """The saved state, or a fresh one when none was saved for this server and project."""
        state = cls(run_dir, base_url=base_url, project=project)
        saved = read_upload_file(run_dir)
        if saved is not None and saved[0] == base_url and saved[1] == project:
            state.offsets = dict(saved[2])
        return state

    def get(self, name: str) -> int:
        return self.offsets.get(name, 0)

    def set(self, name: str, offset: int) -> None:
        if self.offsets.get(name) != offset:
            self.offsets[name] = offset
            self._dirty = True

    def save(self) -> None:
        """Write the file if something changed; raises ``OSError`` if it cannot be written."""
        if not self._dirty:
            return
        data = {"base_url": self.base_url, "project": self.project, "offsets": self.offsets}
        fd, tmp = tempfile.mkstemp(prefix=".upload-", suffix=".json", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle, sort_keys=True)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._dirty = False


def read_upload_file(run_dir: Path) -> tuple[str, str, dict[str, int]] | None:
    """``(base_url, project, offsets)`` from ``upload.json``; None if absent or unreadable.

    An unreadable file only means the upload starts again from what the server says it has.
    """
    try:
        data = json.loads((run_dir / UPLOAD_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    offsets = data.get("offsets")
    if not isinstance(offsets, dict):
        return None
    clean = {str(k): v for k, v in offsets.items() if isinstance(v, int) and v >= 0}
    return str(data.get("base_url", "")), str(data.get("project", "")), clean
