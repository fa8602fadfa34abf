"""The streams that stand in for ``sys.stdout``/``sys.stderr`` and copy what is written.

``tee_stream()`` builds a real ``io.TextIOWrapper`` (so ``print()`` stays in C) over
``TeeBuffer``, a binary layer that passes each encoded chunk on to the real stream and
appends a copy to a list. The wrapper buffers exactly as the stream it replaces does
(``line_buffering``, ``write_through``), so Python code runs once per flushed chunk, not once
per ``write()``: a line at a time on a terminal or on stderr, 8 KiB at a time when stdout is a
file or a pipe. Lines are assembled later, off the write path (``tether.capture.lines``).

It behaves like the stream it wraps, because other code inspects ``sys.stdout`` in many ways:
``prompt_toolkit`` and IPython (``isatty``, ``fileno``, ``encoding``), ``faulthandler`` and
``subprocess`` (``fileno``), tqdm and rich (``isatty``, ``flush``), ``logging`` (``write``).
When the real stream is a plain ``TextIOWrapper`` (a terminal, a file, a pipe), ours is one
too, with the same encoding, errors, buffering, name and mode; ``fileno``/``isatty`` answer
for the real stream, and bytes written to ``.buffer`` are copied as well. Any other stream
(a notebook's, a test runner's) gets ``FallThroughTeeStream``, which writes text through
and lets every attribute it does not define fall through to the real stream. The copy is
only a list append: it never raises into the caller and never writes, so it cannot recurse.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from typing import Any, TextIO

# What the tee appends to: ``(time, chunk)``, the chunk as bytes in ``TeeBuffer.encoding``.
Sink = list[tuple[float, Any]]

_now = time.time


class TeeBuffer(io.BufferedIOBase):
    """The binary layer under our stream: each chunk to the real stream, and to ``sink``."""

    # A class attribute, not a property: TextIOWrapper asks on every write() whether its
    # buffer is closed, and a property would run Python code each time. Ours never closes.
    closed = False

    def __init__(self, original: TextIO, sink: Sink | None) -> None:
        super().__init__()
        self.original = original
        self.sink = sink
        # Called once, on the first chunk that ends a line (the console starts its writer).
        self.wake: Callable[[], None] | None = None
        # A real TextIOWrapper gets bytes in its own encoding, straight into its binary layer.
        # Anything else (StringIO, notebook streams) gets text: we encode UTF-8 losslessly
        # and decode it again.
        plain = isinstance(original, io.TextIOWrapper)
        self._target: Any = getattr(original, "buffer", None) if plain else None
        self.encoding = encoding_of(original) if self._target is not None else "utf-8"
        self.errors = (original.errors or "strict") if self._target is not None else "surrogatepass"

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        target = self._target
        if target is not None:
            view = memoryview(chunk)
            while view:  # an unbuffered raw file (python -u) may take part of it
                written = target.write(view)
                if written is None:  # a non-blocking raw file that took nothing
                    break
                view = view[written:]
        else:
            self.original.write(chunk.decode("utf-8", "surrogatepass"))
        sink = self.sink
        if sink is not None:
            sink.append((_now(), chunk))
            if self.wake is not None and b"\n" in chunk:
                wake, self.wake = self.wake, None
                wake()
        return len(chunk)

    def flush(self) -> None:
        self.original.flush()

    def readable(self) -> bool:
        return False

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def fileno(self) -> int:
        return self.original.fileno()

    def isatty(self) -> bool:
        return self.original.isatty()

    @property
    def name(self) -> Any:
        return getattr(self.original, "name", "<tether stream>")

    @property
    def raw(self) -> Any:
        return getattr(self._target, "raw", self._target)

    def close(self) -> None:
        pass  # closing our layer must never close the real stream

    def __del__(self) -> None:
        pass


class FallThroughTeeStream(io.TextIOWrapper):
    """Our stream over a real stream that is not a plain ``TextIOWrapper``."""

    def __init__(self, tee: TeeBuffer, **options: Any) -> None:
        super().__init__(tee, **options)
        self.__dict__["_tee"] = tee

    @property
    def buffer(self) -> Any:
        return getattr(self.__dict__["_tee"].original, "buffer", self.__dict__["_tee"])

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return encoding_of(self.__dict__["_tee"].original)

    @property
    def errors(self) -> str:  # type: ignore[override]
        return str(getattr(self.__dict__["_tee"].original, "errors", None) or "strict")

    @property
    def name(self) -> Any:
        return getattr(self.__dict__["_tee"].original, "name", "<tether stream>")

    def __del__(self) -> None:
        # IOBase's finaliser would close(): write out what is buffered, close nothing.
        try:
            self.flush()
        except Exception:
            pass

    def __getattr__(self, name: str) -> Any:
        if name == "_tee":
            raise AttributeError(name)
        return getattr(self.__dict__["_tee"].original, name)


def tee_stream(original: TextIO, sink: Sink) -> io.TextIOWrapper:
    """A stream to put in place of ``original`` that copies what reaches it into ``sink``."""
    tee = TeeBuffer(original, sink)
    options: dict[str, Any] = {
        "encoding": tee.encoding,
        "errors": tee.errors,
        "newline": "\n",  # the real stream translates newlines (if it does) on its side
        "line_buffering": bool(getattr(original, "line_buffering", False)),
        "write_through": bool(getattr(original, "write_through", False)),
    }
    if type(original) is io.TextIOWrapper:
        stream = io.TextIOWrapper(tee, **options)
        stream.mode = getattr(original, "mode", "w")  # type: ignore[misc]  # as open() sets it
        return stream
    # Unknown streams got every write at once before we came: so they still do.
    options["write_through"] = True
    return FallThroughTeeStream(tee, **options)


def tee_of(stream: io.TextIOWrapper) -> TeeBuffer:
    """The ``TeeBuffer`` under a stream made by ``tee_stream``."""
    tee = stream.__dict__.get("_tee") or stream.buffer
    if not isinstance(tee, TeeBuffer):
        raise TypeError(f"{stream!r} is not a tether stream")
    return tee


def stop_copying(stream: io.TextIOWrapper) -> None:
    """Make one of our streams a pure pass-through, for whoever still holds it."""
    tee = tee_of(stream)
    tee.sink = None
    tee.wake = None
    try:
        stream.flush()
        stream.reconfigure(write_through=True)
    except Exception:
        pass


def encoding_of(stream: TextIO) -> str:
    return str(getattr(stream, "encoding", None) or "utf-8")
