"""Content-addressed blob files: ``<run dir>/blobs/<sha256 hex>``, written once, atomically.

The bytes of a logged image, table or text live beside the run's segments, named by their
sha256 (no extension); the segment carries only a ``FILE`` record naming the hash. The
process that logged the object writes its blob before the record, so a reader (the
uploader, ``RunData.media``) that sees a record always finds its blob.

A blob is written to a temporary file in the same directory and linked to its name: a file
of that name already there is kept (identical content is stored once, whichever process
logged it first), and no reader ever sees a partly written blob.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

from tether import _tokens

BLOBS_DIR: Final = "blobs"
# The largest blob the server takes (413 above); a text over it is refused at the call.
MAX_BLOB_BYTES: Final = 64 * 1024 * 1024
_HEX: Final = frozenset("0123456789abcdef")
_TEMP_PREFIX: Final = ".tmp-"


def is_sha256(text: object) -> bool:
    """Is ``text`` a sha256 as blob names spell it: 64 lowercase hex digits?"""
    return isinstance(text, str) and len(text) == 64 and _HEX.issuperset(text)


def blob_path(run_dir: Path, sha256: str) -> Path:
    """Where the blob with this hash lives in ``run_dir`` (whether it exists or not).

    Raises ``ValueError`` for anything but 64 lowercase hex digits, so a name taken from a
    record or a request can never point outside the blobs folder.
    """
    if not is_sha256(sha256):
        raise ValueError(f"{sha256!r:.80} is not a sha256 (64 lowercase hex digits)")
    return Path(run_dir) / BLOBS_DIR / sha256


def write_blob(run_dir: Path, data: bytes) -> tuple[str, int]:
    """Store ``data`` as a blob of ``run_dir``; returns ``(sha256, size)``.

    Idempotent: a blob already there is left as it is. Raises ``OSError`` when the disk
    refuses (the caller counts and reports it; nothing is left half-written).
    """
    # Here, not at import (the writer imports this module in every process that logs); the
    # flusher calls this, so encode.prepare() imports hashlib first, on the logging thread.
    import hashlib

    sha256 = hashlib.sha256(data).hexdigest()
    path = blob_path(run_dir, sha256)
    if path.exists():
        return sha256, len(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.parent / f"{_TEMP_PREFIX}{os.getpid()}-{_tokens.token_hex(6)}"
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        try:
            os.link(temp, path)  # never replaces: the first writer's file is kept
        except FileExistsError:
            pass
        except OSError:  # a file system without hard links
            if not path.exists():
                os.replace(temp, path)
    finally:
        try:
            os.unlink(temp)
        except OSError:
            pass
    return sha256, len(data)


def read_blob(run_dir: Path, sha256: str) -> bytes:
    """The bytes of a blob of ``run_dir``; ``FileNotFoundError`` when the run lacks it."""
    return blob_path(run_dir, sha256).read_bytes()
