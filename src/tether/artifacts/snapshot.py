"""Reading a file or a directory once into the run's blobs: what is logged is what was read.

``snapshot(path, run_dir)`` reads each file in chunks (``chunks.CHUNK_BYTES``), hashing the
whole file and each chunk while it writes the chunks as blobs of the run
(``tether.media.blobs.write_blob``: a temporary file linked to its name, an existing blob
kept). The returned ``ArtifactFile``s describe exactly the bytes stored, so training that
overwrites the checkpoint a second later cannot change the logged version.

No hard link or reflink of the user's file is used for chunks: a hard link shares the inode
that ``torch.save`` truncates and rewrites in place (the "snapshot" would change with it),
and a chunk is a byte range, which neither can name. A file that changes while it is read
(its size or modification time moved) is read again, up to ``READ_TRIES`` times.

Logging a folder that holds the run's own ``tether/`` folder (``log_artifact(".")``) leaves
that folder out: its blobs are being written by this very call.

Symlinks: one whose target resolves inside the logged directory is followed (its content is
logged under the link's path); one that points outside is refused with a ``ValueError``
naming it, so that logging a folder never picks up files from elsewhere on the disk.

Errors: the user's path (missing, unreadable, a symlink outside, a fifo) raises at once;
a blob the run's disk refuses raises ``StoreError`` (an ``OSError``), which the caller
reports as our own failure.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO, Final

from tether.artifacts.chunks import CHUNK_BYTES, read_chunks
from tether.artifacts.manifest import MAX_FILES, MAX_PATH_CHARS, ArtifactFile, is_relative_path
from tether.media.blobs import write_blob

READ_TRIES: Final = 3


class StoreError(OSError):
    """The run's blobs folder refused a chunk (disk full, folder gone): our failure."""


def snapshot(source: str | os.PathLike[str], run_dir: Path) -> list[ArtifactFile]:
    """Store the file or the directory tree at ``source`` as blobs of ``run_dir``; returns
    its files sorted by path (a single file is named by its base name)."""
    root = Path(source)
    if not root.exists():
        raise FileNotFoundError(
            f"log_artifact(): {str(source)!r} does not exist (looked in {Path.cwd()}); "
            "pass the path of a file or a directory"
        )
    if root.is_dir():
        found = _walk(root, skip=run_dir.parent.resolve())
        if not found:
            raise ValueError(
                f"log_artifact(): directory {str(source)!r} holds no file; an artifact needs "
                "at least one"
            )
    else:
        _check_regular(root, str(source))
        found = [(root.name, root)]
    if len(found) > MAX_FILES:
        raise ValueError(
            f"log_artifact(): {str(source)!r} holds {len(found):,} files, over the "
            f"{MAX_FILES:,} an artifact version may list; pack them into a few archives "
            "(tar, zip, shards) and log those"
        )
    for rel, path in found:
        # What a record and the server keep: UTF-8, no backslash, 1024 characters at most.
        if not is_relative_path(rel) or not _is_utf8(rel):
            raise ValueError(
                f"log_artifact(): {str(path)!r} cannot be stored under the name {rel!r:.80} "
                f"(a backslash, bytes that are not UTF-8, or over {MAX_PATH_CHARS} "
                "characters); rename it"
            )
    return [_store_file(rel, path, run_dir) for rel, path in sorted(found)]


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a file name's undecodable bytes, as surrogates
        return False
    return True


def _walk(root: Path, *, skip: Path) -> list[tuple[str, Path]]:
    """Files under ``root`` as ``(relative POSIX path, path)``; ``skip`` (the runs folder
    that holds this run, which logging ``.`` would otherwise read while writing) is left out."""
    real_root = root.resolve()
    found: list[tuple[str, Path]] = []
    pending: list[tuple[str, Path, frozenset[Path]]] = [("", root, frozenset({real_root}))]
    while pending:
        prefix, folder, seen = pending.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                rel = f"{prefix}{entry.name}"
                path = Path(entry.path)
                if entry.is_symlink():
                    target = path.resolve()
                    if not target.is_relative_to(real_root):
                        raise ValueError(
                            f"log_artifact(): {str(path)!r} is a symlink to {str(target)!r}, "
                            f"outside {str(root)!r}; copy the file into the directory, or log "
                            "it as an artifact of its own"
                        )
                    if target.is_dir():
                        if target in seen:  # a link to a folder above it: a loop
                            raise ValueError(
                                f"log_artifact(): {str(path)!r} links back to {str(target)!r} "
                                "(a loop); remove the link"
                            )
                        pending.append((f"{rel}/", path, seen | {target}))
                        continue
                    if not target.exists():
                        raise FileNotFoundError(
                            f"log_artifact(): {str(path)!r} is a broken symlink (to "
                            f"{str(target)!r}); fix or remove it"
                        )
                if entry.is_dir():
                    if path.resolve() == skip:
                        continue
                    pending.append((f"{rel}/", path, seen | {path.resolve()}))
                else:
                    _check_regular(path, str(path))
                    found.append((rel, path))
    return found


def _check_regular(path: Path, shown: str) -> None:
    mode = path.stat().st_mode
    if not stat.S_ISREG(mode):
        raise ValueError(
            f"log_artifact(): {shown!r} is not a regular file (a fifo, socket or device); "
            "log regular files only"
        )


def _store_file(rel: str, path: Path, run_dir: Path) -> ArtifactFile:
    for _ in range(READ_TRIES):
        with open(path, "rb") as handle:
            before = os.fstat(handle.fileno())
            stored = _store_chunks(rel, handle, run_dir)
            after = os.fstat(handle.fileno())
        if (before.st_size, before.st_mtime_ns) == (after.st_size, after.st_mtime_ns):
            break  # nobody wrote to it while we read
    return stored  # read again READ_TRIES times: what the last read saw is kept


def _store_chunks(rel: str, handle: BinaryIO, run_dir: Path) -> ArtifactFile:
    import hashlib

    whole = hashlib.sha256()
    chunks: list[str] = []
    size = 0
    for data in read_chunks(handle, CHUNK_BYTES):
        try:
            sha256, _ = write_blob(run_dir, data)
        except OSError as exc:
            raise StoreError(
                exc.errno, f"could not store a chunk of {rel!r} in {run_dir}: {exc.strerror}"
            ) from exc
        chunks.append(sha256)
        size += len(data)
        if len(chunks) > 1 or size == CHUNK_BYTES:
            whole.update(data)
    if len(chunks) == 1:
        return ArtifactFile(rel, size, chunks[0])
    return ArtifactFile(rel, size, whole.hexdigest(), tuple(chunks))
