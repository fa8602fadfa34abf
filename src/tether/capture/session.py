"""Console capture for the runs of this process.

One ``_ProcessConsole`` per process installs the capture once (``wrap``: ``tee_stream()`` on
``sys.stdout``/``sys.stderr``; ``fd``: pipes under file descriptors 1 and 2) and sends the
finished lines to the writer of the innermost active run *of this process*. It never looks at
another process: a fork child resets it (``after_fork``) and records into its own writer.

The write path stays in C: our stream buffers like the stream it replaced and only
appends ``(time, chunk)`` to a list when it flushes a chunk. When a writer drains (every flush
interval, on ``flush()``, at finish and at exit) its drain hook flushes the streams, so a
chunk is at most one flush interval old, and turns the chunks into lines, one ``K_LINES``
record per chunk. A line's time is when its chunk was flushed: exact on a terminal and on
stderr (line-buffered), within the flush interval when stdout is a file or a pipe.

``CaptureSession`` is a run's handle on it: ``stop()`` flushes the run's unfinished lines and,
when no run of the process needs capture any more, restores exactly what was replaced, and
only where nobody replaced it since.
"""

from __future__ import annotations

import io
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tether._diagnostics import warn_failure
from tether.capture.fd import FdCapture, inherited_capture_pipe
from tether.capture.lines import LineAssembler
from tether.capture.streams import stop_copying, tee_of, tee_stream
from tether.store import format as fmt
from tether.store.writer import add_drain_hook

if TYPE_CHECKING:
    from tether._run import Run

_STREAMS = ((fmt.STREAM_STDOUT, "stdout"), (fmt.STREAM_STDERR, "stderr"))


class _ProcessConsole:
    """What this process captured, and for which runs."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.targets: list[Run] = []
        self.assemblers = {stream: LineAssembler(self._emitter(stream)) for stream, _ in _STREAMS}
        # Written to by the tees without a lock (list.append is atomic); emptied in place by
        # collect(), so the tees' bound appends stay valid. Chunks are bytes (wrap: in
        # ``encodings[stream]``) or text (fd capture).
        self.chunks: dict[int, list[tuple[float, Any]]] = {stream: [] for stream, _ in _STREAMS}
        self.encodings = {stream: "utf-8" for stream, _ in _STREAMS}
        self.tees = {stream: _Tee(self, stream) for stream, _ in _STREAMS}
        self.collecting = threading.Lock()
        self.writer_started = False
        self.proxies: dict[str, io.TextIOWrapper] = {}
        self.replaced: dict[str, Any] = {}
        self.fd: FdCapture | None = None
        self.lock = threading.Lock()

    # -- installing and removing ------------------------------------------------------------
    def add(self, run: Run, mode: str) -> None:
        self.collect(wait=True)  # what was printed so far belongs to the run that was current
        with self.lock:
            if run not in self.targets:
                self.targets.append(run)
            if mode == "fd" and self.fd is None and not self.proxies:
                self._start_fd()
            elif mode != "fd" and self.fd is None and not self.proxies:
                self._wrap_streams()

    def remove(self, run: Run) -> None:
        with self.lock:
            fd = self.fd if self.targets == [run] else None
            if fd is not None:
                self.fd = None
        if fd is not None:
            # The last run stops capturing: first close the pipes and read them to the end,
            # so what is still in them (a subprocess's last line, not yet read by the pump
            # thread on a busy machine) is collected below for this run, not dropped after.
            fd.stop()
        self.collect(wait=True)  # every line written so far goes to this run, before it ends
        for assembler in self.assemblers.values():
            assembler.flush_partial()
        with self.lock:
            if run in self.targets:
                self.targets.remove(run)
            if self.targets:
                return
            self._unwrap_streams()
            if self.fd is not None:
                self.fd.stop()
                self.fd = None

    def _wrap_streams(self) -> None:
        for stream, attr in _STREAMS:
            current = getattr(sys, attr, None)
            if current is None:
                continue
            proxy = tee_stream(current, self.chunks[stream])
            tee = tee_of(proxy)
            tee.wake = self.wake_writer
            self.encodings[stream] = tee.encoding
            self.replaced[attr] = current
            self.proxies[attr] = proxy
            setattr(sys, attr, proxy)
        _flush_before_fork()

    def _unwrap_streams(self) -> None:
        for attr, proxy in list(self.proxies.items()):
            if getattr(sys, attr, None) is proxy:
                setattr(sys, attr, self.replaced[attr])
            # If someone wrapped us since, their object stays. Either way, whoever still holds
            # ours (a logging handler made during the run) now writes straight through.
            stop_copying(proxy)
        self.proxies.clear()
        self.replaced.clear()

    def _start_fd(self) -> None:
        try:
            self.fd = FdCapture.start({stream: self.tees[stream] for stream, _ in _STREAMS})
        except OSError as exc:
            warn_failure("capture", f"fd capture unavailable ({exc}); capturing sys.stdout instead")
            self._wrap_streams()

    # -- lines --------------------------------------------------------------------------------
    def collect(self, *, wait: bool = False) -> None:
        """Turn the text written since the last call into lines in the current run's writer."""
        if os.getpid() != self.pid or not self.collecting.acquire(blocking=wait):
            return  # another thread is collecting: these chunks go with its batch or the next
        try:
            self.flush_streams()
            for stream, chunks in self.chunks.items():
                count = len(chunks)
                if not count:
                    continue
                batch = chunks[:count]
                del chunks[:count]  # appends made meanwhile stay for the next batch
                encoding = self.encodings[stream]
                self.assemblers[stream].feed_many(
                    [
                        (when, chunk.decode(encoding, "replace") if type(chunk) is bytes else chunk)
                        for when, chunk in batch
                    ]
                )
        finally:
            self.collecting.release()

    def flush_streams(self) -> None:
        """Hand what our streams buffered to the real streams (and to the chunk lists)."""
        for proxy in list(self.proxies.values()):
            try:
                proxy.flush()
            except Exception:
                pass  # the real stream's failure: the user's next write meets it, not us

    def wake_writer(self) -> None:
        """The first text in this process starts the run writer's flusher, which collects."""
        targets = self.targets
        if targets:
            self.writer_started = True
            targets[-1]._writer.ensure_flusher()

    def _emitter(self, stream: int) -> Callable[[list[str], float], None]:
        return lambda lines, when: self._emit(stream, lines, when)

    def _emit(self, stream: int, lines: list[str], when: float) -> None:
        targets = self.targets
        if not targets:
            return
        # The run may be finishing: remove() collects before it takes the run off the targets,
        # so these lines still land before its final record.
        targets[-1]._writer.append([fmt.K_LINES, when, stream, lines])

    # -- fork ---------------------------------------------------------------------------------
    def after_fork(self) -> None:
        """In a fork child: own locks, no inherited partial lines, own capture path."""
        if self.pid == os.getpid():
            return
        self.pid = os.getpid()
        self.lock = threading.Lock()
        self.collecting = threading.Lock()
        self.writer_started = False
        for chunks in self.chunks.values():
            del chunks[:]  # the parent records what it wrote before the fork
        for assembler in self.assemblers.values():
            assembler.reset()
        for proxy in self.proxies.values():
            tee_of(proxy).wake = self.wake_writer
        if self.fd is not None:
            # The parent's pipe readers did not survive the fork: put the child's fds back
            # on the real terminal and capture the child at the Python level instead.
            self.fd.detach_in_child()
            self.fd = None
            self._wrap_streams()


class _Tee:
    """What fd capture's pipe readers call for each chunk: an append, and a wake-up once."""

    __slots__ = ("append", "console")

    def __init__(self, console: _ProcessConsole, stream: int) -> None:
        self.console = console
        self.append = console.chunks[stream].append

    def __call__(self, text: str) -> None:
        self.append((_now(), text))
        if not self.console.writer_started and "\n" in text:
            # Started by a whole line, so the flusher's first drain writes that line at once.
            self.console.wake_writer()


_now = time.time
_console: _ProcessConsole | None = None
_console_lock = threading.Lock()
_fork_hook_installed = False


def _flush_before_fork() -> None:
    # A fork child would inherit our streams' buffered text and print it a second time.
    global _fork_hook_installed
    if not _fork_hook_installed and hasattr(os, "register_at_fork"):
        _fork_hook_installed = True
        os.register_at_fork(before=_flush_streams_of_this_process)


def _flush_streams_of_this_process() -> None:
    console = _console
    if console is not None and console.pid == os.getpid():
        console.flush_streams()


def _process_console() -> _ProcessConsole:
    global _console
    if _console is None:
        with _console_lock:
            if _console is None:
                _console = _ProcessConsole()
                add_drain_hook(_console.collect)
    return _console


class CaptureSession:
    """A run's share of this process's console capture."""

    def __init__(self, run: Run, console: _ProcessConsole) -> None:
        self._run = run
        self._console = console

    @classmethod
    def start(cls, run: Run, *, mode: str) -> CaptureSession | None:
        console = _process_console()
        if console.fd is None and inherited_capture_pipe():
            # A spawned child writing into its parent's fd-capture pipe: the parent records
            # these lines already; a second copy would duplicate them.
            return None
        try:
            console.add(run, mode)
        except Exception as exc:
            warn_failure("capture", f"console capture could not start ({exc!r})")
            return None
        return cls(run, console)

    def stop(self) -> None:
        try:
            self._console.remove(self._run)
        except Exception as exc:
            warn_failure("capture", f"console capture could not stop cleanly ({exc!r})")

    def after_fork(self) -> None:
        self._console.after_fork()
