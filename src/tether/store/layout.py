"""Where runs live on disk and how a run is found by id, name or path.

``<dir>/tether/run-<YYYYmmdd_HHMMSS>-<id>/segments/*.tseg``: the run directory's name carries
the start time (so ``ls`` sorts naturally) and the id (so lookups need no index).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Final

from tether import _tokens
from tether.errors import RunNotFoundError
from tether.store import format as fmt

RUNS_DIRNAME: Final = "tether"
RUN_PREFIX: Final = "run-"
_ID_ALPHABET: Final = "abcdefghijklmnopqrstuvwxyz0123456789"


def new_run_id() -> str:
    return "".join(_tokens.choice(_ID_ALPHABET) for _ in range(8))


def run_dir_name(run_id: str, start: float) -> str:
    stamp = time.strftime("%Y%m%d_%H%M%S", time.localtime(start))
    return f"{RUN_PREFIX}{stamp}-{run_id}"


def run_id_of(run_dir: Path) -> str:
    """The id a run directory's name carries (the part after the timestamp)."""
    name = run_dir.name
    if name.startswith(RUN_PREFIX):
        parts = name[len(RUN_PREFIX) :].split("-", 1)
        if len(parts) == 2:
            return parts[1]
    return name


def is_run_dir(path: Path) -> bool:
    """A run's folder: it has ``segments/``, or a run folder's name (a run cut down while
    starting, before any segment was made, is still a run: ``crashed``, with no writers)."""
    if (path / fmt.SEGMENTS_DIR).is_dir():
        return True
    return (
        path.name.startswith(RUN_PREFIX) and "-" in path.name[len(RUN_PREFIX) :] and path.is_dir()
    )


def make_run_dir(run_dir: Path) -> None:
    """Create ``run_dir`` with its ``segments/`` folder in one step.

    The two folders are made under a hidden name and renamed into place, so a process killed
    here leaves either nothing visible or a whole run folder. A folder that exists already
    (a resumed run, a rank that came first) just gets ``segments/`` if it lacks it.
    """
    segments = run_dir / fmt.SEGMENTS_DIR
    if segments.is_dir():
        return
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = run_dir.parent / f".{run_dir.name}.{_tokens.token_hex(4)}"
    (staging / fmt.SEGMENTS_DIR).mkdir(parents=True)
    try:
        os.rename(staging, run_dir)  # replaces an empty folder; fails on a non-empty one
    except OSError:
        for leftover in (staging / fmt.SEGMENTS_DIR, staging):
            try:
                leftover.rmdir()
            except OSError:
                pass
        segments.mkdir(parents=True, exist_ok=True)


def runs_root(directory: Path) -> Path:
    """Accept either ``<dir>`` or ``<dir>/tether`` and return the folder holding run dirs."""
    nested = directory / RUNS_DIRNAME
    if nested.is_dir():
        return nested
    return directory


def list_run_dirs(directory: Path) -> list[Path]:
    """Run directories under ``directory`` (or ``directory/tether``), oldest first."""
    if not directory.exists():
        raise RunNotFoundError(
            f"no such directory: {directory}; pass the directory you ran training in "
            "(the one holding ./tether)"
        )
    root = runs_root(directory)
    try:
        entries = sorted(os.listdir(root))
    except NotADirectoryError:
        raise RunNotFoundError(f"{directory} is a file, not a directory of runs") from None
    return [root / e for e in entries if e.startswith(RUN_PREFIX) and is_run_dir(root / e)]


def find_run_dir(ref: str | os.PathLike[str], *, directory: Path | None = None) -> Path:
    """Resolve a run from a path, a full id, a unique id prefix, or ``latest``."""
    as_path = Path(ref)
    if is_run_dir(as_path):
        return as_path.absolute()
    base = (directory or Path.cwd()).absolute()
    candidates = list_run_dirs(base) if base.exists() else []
    text = str(ref)
    if text == "latest" and candidates:
        return candidates[-1]
    exact = [p for p in candidates if run_id_of(p) == text or p.name == text]
    if len(exact) == 1:
        return exact[0]
    prefixed = [p for p in candidates if run_id_of(p).startswith(text)]
    if len(prefixed) == 1:
        return prefixed[0]
    if len(prefixed) > 1:
        ids = ", ".join(run_id_of(p) for p in prefixed[:5])
        raise RunNotFoundError(f"run {text!r} is ambiguous ({ids}); give more of the id")
    raise RunNotFoundError(
        f"no run {text!r} in {runs_root(base)}; `tether ls {base}` lists the runs there, "
        "or pass the run directory's path"
    )


def find_run_by_id(runs_dir: Path, run_id: str) -> Path | None:
    """The directory of run ``run_id`` under ``runs_dir``, if it exists."""
    try:
        entries = os.listdir(runs_dir)
    except OSError:
        return None
    for entry in entries:
        path = runs_dir / entry
        if entry.startswith(RUN_PREFIX) and run_id_of(path) == run_id:
            return path
    return None
