"""Downloads of an artifact version into a folder, every file's sha256 checked.

A file is fetched into a temporary file beside its place, hashed as it arrives, and renamed
into place only when its size and sha256 match the manifest; a mismatch is fetched once more,
then raised (``ArtifactIntegrityError``); temporary files a killed download left are removed
by the next one. What was checked is remembered (size, modification
time, sha256 per file) in ``<cache>/verified/<sha256 of the folder's path>.json``, so a
second download of the same version stats its files and fetches nothing; a file whose size
or modification time changed since (a corrupted or edited cache) is hashed again and, if it
no longer matches, fetched again. Memory holds one piece of one file at a time.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from tether import _tokens
from tether.artifacts.manifest import ArtifactFile
from tether.errors import TetherError

if TYPE_CHECKING:
    from tether.artifacts.artifact import Artifact, Reader

FETCH_TRIES: Final = 2
_READ_BYTES: Final = 1024 * 1024


class ArtifactIntegrityError(TetherError, OSError):
    """A file's bytes did not match its sha256 or size, twice: the store or the network
    damaged it. Nothing wrong was left in place."""


def cache_base() -> Path:
    """``$XDG_CACHE_HOME/tether/artifacts``, else ``~/.cache/tether/artifacts``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tether" / "artifacts"


def default_root(artifact: Artifact) -> Path:
    owner = artifact.owner or "_local"
    return cache_base() / owner / artifact.project / artifact.name / artifact.digest


def download(files: Iterable[ArtifactFile], reader: Reader, target: Path, *, digest: str) -> Path:
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    state_path = cache_base() / "verified" / f"{_path_key(target)}.json"
    state = _load_state(state_path, digest)
    cleaned: set[Path] = set()
    for file in files:
        dest = target / file.path
        if not dest.resolve().is_relative_to(target.resolve()):
            raise ValueError(f"artifact file {file.path!r} would be written outside {target}")
        known = _checked(dest, file, state.get(file.path))
        if known is None:
            if dest.parent not in cleaned:
                _remove_stale_temps(dest.parent)
                cleaned.add(dest.parent)
            _fetch(dest, file, reader)
            known = _stamp(dest, file)
        state[file.path] = known
    _save_state(state_path, digest, state)
    return target


def _checked(dest: Path, file: ArtifactFile, remembered: Any) -> list[Any] | None:
    """The stamp of ``dest`` when it holds ``file`` already, else None."""
    try:
        st = dest.stat()
    except OSError:
        return None
    if st.st_size != file.size:
        return None
    stamp = [st.st_size, st.st_mtime_ns, file.sha256]
    if remembered == stamp:
        return stamp  # checked before and untouched since
    return stamp if _sha256_file(dest) == file.sha256 else None


def _stamp(dest: Path, file: ArtifactFile) -> list[Any]:
    st = dest.stat()
    return [st.st_size, st.st_mtime_ns, file.sha256]


def _fetch(dest: Path, file: ArtifactFile, reader: Reader) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(FETCH_TRIES):
        temp = dest.parent / f".tmp-{os.getpid()}-{_tokens.token_hex(6)}"
        try:
            hasher = hashlib.sha256()
            size = 0
            with open(temp, "wb") as handle:
                for piece in reader(file):
                    hasher.update(piece)
                    size += len(piece)
                    handle.write(piece)
            if size == file.size and hasher.hexdigest() == file.sha256:
                os.replace(temp, dest)
                return
        finally:
            temp.unlink(missing_ok=True)
        if attempt == FETCH_TRIES - 1:
            raise ArtifactIntegrityError(
                f"artifact file {file.path!r} came back as {size:,} bytes with sha256 "
                f"{hasher.hexdigest()[:12]}…, not {file.size:,} bytes with "
                f"{file.sha256[:12]}…, twice; the stored copy is damaged: log the file again "
                "from a good copy (a new version)"
            )


def _remove_stale_temps(folder: Path) -> None:
    """Temporary files a killed download left here (their process is gone)."""
    for temp in folder.glob(".tmp-*-*"):
        pid = temp.name.split("-")[1]
        if pid.isdigit() and not _alive(int(pid)):
            temp.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _sha256_file(path: Path) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as handle:
        while piece := handle.read(_READ_BYTES):
            hasher.update(piece)
    return hasher.hexdigest()


def _path_key(target: Path) -> str:
    return hashlib.sha256(str(target.resolve()).encode("utf-8", "surrogateescape")).hexdigest()


def _load_state(path: Path, digest: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("digest") != digest:
        return {}
    files = data.get("files")
    return files if isinstance(files, dict) else {}


def _save_state(path: Path, digest: str, files: dict[str, Any]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.parent / f".tmp-{os.getpid()}-{_tokens.token_hex(6)}"
        temp.write_text(json.dumps({"digest": digest, "files": files}), encoding="utf-8")
        os.replace(temp, path)
    except OSError:
        pass  # only costs a re-hash next time
