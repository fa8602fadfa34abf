"""The ``git`` section of the environment: commit, branch, remote, dirty flag and diff.

Git runs as a subprocess (never a library), from a background thread, each call bounded by
``GIT_TIMEOUT_S``; a machine without git, or a directory outside a repository, simply has no
``git`` section. ``GIT_OPTIONAL_LOCKS=0`` keeps our ``git diff`` from taking the index lock
that the user's own git commands may want at that moment.

The remote keeps no credentials (``redact.strip_credentials``). The uncommitted diff of
tracked files against ``HEAD`` (untracked files are not in it) is stored twice: in the record,
cut to ``RECORD_DIFF_BYTES`` so that one record stays far inside one upload request, and as
the file ``git.diff`` in the run folder, cut to ``FILE_DIFF_BYTES`` with a last line saying so.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Final

from tether._values import MAX_TEXT_BYTES
from tether.system.forks import no_fork
from tether.system.redact import strip_credentials

GIT_TIMEOUT_S: Final = 5.0
_POLL_S: Final = 0.02
FILE_DIFF_BYTES: Final = 1024 * 1024
# The per-call text cap of log()/config: the same bound every other record keeps.
RECORD_DIFF_BYTES: Final = MAX_TEXT_BYTES
DIFF_FILE: Final = "git.diff"
CUT_NOTE: Final = "\n# tether: the diff was cut here, at {limit:,} bytes; it is longer\n"


def git_section(cwd: Path, run_dir: Path | None = None) -> dict[str, Any] | None:
    """The repository holding ``cwd``, or None outside one (or without git).

    With ``run_dir``, the diff is also written there as ``git.diff``.
    """
    head = _git(cwd, "rev-parse", "--show-toplevel", "HEAD", "--abbrev-ref", "HEAD")
    if head is None:
        root = _git(cwd, "rev-parse", "--show-toplevel")
        return None if root is None else {"root": root.strip(), "commit": None, "dirty": None}
    lines = head.splitlines()
    if len(lines) < 3:
        return None
    section: dict[str, Any] = {
        "root": lines[0],
        "commit": lines[1],
        "branch": None if lines[2] == "HEAD" else lines[2],  # HEAD: detached
        "remote": _remote(cwd),
    }
    diff, complete = _diff(cwd)
    if diff is None:
        section["dirty"] = None
        return section
    section["dirty"] = bool(diff)
    # Bytes that are not UTF-8 become U+FFFD (3 bytes each): cut again after decoding.
    decoded = diff[:RECORD_DIFF_BYTES].decode("utf-8", "replace")
    text = decoded.encode()[:RECORD_DIFF_BYTES].decode("utf-8", "ignore")
    section["diff"] = text
    section["diff_truncated"] = (
        not complete or len(diff) > RECORD_DIFF_BYTES or len(text) < len(decoded)
    )
    if run_dir is not None and diff:
        _write_diff_file(run_dir / DIFF_FILE, diff, complete)
    return section


def _remote(cwd: Path) -> str | None:
    found = _git(cwd, "config", "--get-regexp", r"^remote\..*\.url$")
    if not found:
        return None
    urls: dict[str, str] = {}
    for line in found.splitlines():
        key, _, url = line.partition(" ")
        urls[key[len("remote.") : -len(".url")]] = url
    url = urls.get("origin") or next(iter(urls.values()), "")
    return strip_credentials(url) if url else None


def _diff(cwd: Path) -> tuple[bytes | None, bool]:
    """The diff's first ``FILE_DIFF_BYTES`` bytes, and whether that is all of it."""
    command = ("diff", "HEAD", "--no-color", "--no-ext-diff", "--no-textconv")
    return _run(cwd, command, limit=FILE_DIFF_BYTES)


def _write_diff_file(path: Path, diff: bytes, complete: bool) -> None:
    try:
        with open(path, "wb") as handle:
            handle.write(diff)
            if not complete:
                handle.write(CUT_NOTE.format(limit=FILE_DIFF_BYTES).encode())
    except OSError:
        pass  # the record still has the diff (up to its own cap)


def _git(cwd: Path, *args: str) -> str | None:
    output, complete = _run(cwd, args, limit=64 * 1024)
    if output is None or not complete:
        return None
    return output.decode("utf-8", "replace").rstrip("\n")


def _run(cwd: Path, args: tuple[str, ...], *, limit: int) -> tuple[bytes | None, bool]:
    """git's output (None if it failed) up to ``limit`` bytes, and whether that is all.

    The output goes to an unnamed temporary file, not a pipe: a fork of the user's (a
    DataLoader worker started at this moment) would inherit the pipe's writing end and keep
    a read from ever ending. git is ended when its output passes ``limit`` or it runs past
    ``GIT_TIMEOUT_S``; only ``wait`` is needed, which no other process can hold up.
    """
    try:
        with ExitStack() as stack:
            with no_fork():  # see tether.system.forks: tempfile's lock, the exec pipe
                output = stack.enter_context(tempfile.TemporaryFile())
                process = subprocess.Popen(
                    ["git", *args],
                    cwd=cwd,
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=subprocess.DEVNULL,
                    env=_environment(),
                )
            complete = _wait(process, output.fileno(), limit)
            if complete is None:
                return None, False
            output.seek(0)
            data = output.read(limit + 1)
    except OSError:  # no git on this machine, or no temporary file
        return None, False
    return data[:limit], complete and len(data) <= limit


def _wait(process: subprocess.Popen[bytes], output: int, limit: int) -> bool | None:
    """Wait for git; False if it was ended for writing past ``limit``, None if it failed."""
    deadline = time.monotonic() + GIT_TIMEOUT_S
    while True:
        try:
            code = process.wait(timeout=_POLL_S)
        except subprocess.TimeoutExpired:
            if os.fstat(output).st_size > limit:
                process.kill()  # the rest is not wanted
                process.wait()
                return False
            if time.monotonic() > deadline:
                process.kill()
                process.wait()
                return None
            continue
        return True if code == 0 else None


def _environment() -> dict[str, str]:
    return {
        **os.environ,
        "GIT_OPTIONAL_LOCKS": "0",
        "GIT_TERMINAL_PROMPT": "0",
        "LC_ALL": "C",
    }
