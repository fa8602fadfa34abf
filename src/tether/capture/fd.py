"""Opt-in capture at the file-descriptor level (``console="fd"``).

File descriptors 1 and 2 are pointed (``dup2``) at pipes; a reader thread per pipe writes
every byte through to the real terminal and tees the decoded text. This records what Python
never sees: C extensions, ``os.write(1, ...)``, subprocesses that inherit the descriptors.

Spawned children inherit the pipes too; ``TETHER_CAPTURE_PIPES`` names them so such a child
knows its output is already recorded by the parent and does not record it twice.
"""

from __future__ import annotations

import codecs
import os
import sys
import threading
from collections.abc import Callable
from typing import Final

from tether import _env_vars
from tether._threads import start_without_signals
from tether.store import format as fmt

_READ_CHUNK: Final = 65536


def _inode(fd: int) -> str | None:
    try:
        info = os.fstat(fd)
    except OSError:
        return None
    return f"{info.st_dev}:{info.st_ino}"


def inherited_capture_pipe() -> bool:
    """Is this process's stdout a pipe that a parent's fd capture reads?"""
    exported = _env_vars.get(_env_vars.CAPTURE_PIPES)
    if not exported:
        return False
    return _inode(1) in exported.split(",")


class _PipeReader:
    def __init__(self, target_fd: int, feed: Callable[[str], None]) -> None:
        self.target_fd = target_fd
        self.saved_fd = os.dup(target_fd)
        self.read_fd, self.write_fd = os.pipe()
        self._feed = feed
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.thread = threading.Thread(target=self._pump, name="tether-fd-capture", daemon=True)

    def _pump(self) -> None:
        while True:
            try:
                data = os.read(self.read_fd, _READ_CHUNK)
            except OSError:
                return
            if not data:
                return
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(self.saved_fd, view) :]
            except OSError:
                pass  # a closed terminal must not stop the recording
            try:
                self._feed(self._decoder.decode(data))
            except Exception:
                pass

    def close_quietly(self, *fds: int) -> None:
        for fd in fds:
            try:
                os.close(fd)
            except OSError:
                pass


class FdCapture:
    """Pipes under fds 1 and 2 of this process; ``stop()`` puts the originals back."""

    def __init__(self, readers: list[_PipeReader]) -> None:
        self._readers = readers

    @classmethod
    def start(cls, feeds: dict[int, Callable[[str], None]]) -> FdCapture:
        _flush_python_streams()
        readers = [_PipeReader(fd, feeds[fd]) for fd in (fmt.STREAM_STDOUT, fmt.STREAM_STDERR)]
        for reader in readers:
            os.dup2(reader.write_fd, reader.target_fd)
            start_without_signals(reader.thread)
        os.environ[_env_vars.CAPTURE_PIPES.name] = ",".join(
            inode for inode in (_inode(r.read_fd) for r in readers) if inode
        )
        return cls(readers)

    def stop(self) -> None:
        _flush_python_streams()
        for reader in self._readers:
            os.dup2(reader.saved_fd, reader.target_fd)
            reader.close_quietly(reader.write_fd)
        for reader in self._readers:
            # Children that inherited the pipe may keep it open: wait a little, not forever.
            reader.thread.join(timeout=1.0)
            if not reader.thread.is_alive():
                reader.close_quietly(reader.read_fd, reader.saved_fd)
        os.environ.pop(_env_vars.CAPTURE_PIPES.name, None)

    def detach_in_child(self) -> None:
        """In a fork child: fds back on the real terminal; the parent's pipes are not ours."""
        for reader in self._readers:
            os.dup2(reader.saved_fd, reader.target_fd)
            reader.close_quietly(reader.write_fd, reader.read_fd, reader.saved_fd)
        os.environ.pop(_env_vars.CAPTURE_PIPES.name, None)


def _flush_python_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except Exception:
            pass
