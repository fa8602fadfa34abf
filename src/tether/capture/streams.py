"""``StreamProxy``: stands in for ``sys.stdout``/``sys.stderr`` and tees what is written.

It behaves like the stream it wraps, because other code inspects ``sys.stdout`` in many ways:
``prompt_toolkit`` and IPython (``isatty``, ``fileno``, ``encoding``), ``faulthandler`` and
``subprocess`` (``fileno``), tqdm and rich (``isatty``, ``flush``), ``logging`` (``write``).
Every attribute it does not define itself falls through to the wrapped stream.

The write path first writes through to the real stream (that part behaves exactly as the
real stream does), then hands the text to the tee, which only appends it to a list (lines are
assembled later, off the write path): the tee never raises into the caller and never writes,
so it cannot recurse.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from typing import Any, TextIO

TeeFn = Callable[[str], None]


class StreamProxy(io.TextIOBase):
    """A text stream that writes to ``original`` and copies each write to ``tee``."""

    _original: TextIO
    _tee: TeeFn | None

    def __init__(self, original: TextIO, tee: TeeFn | None) -> None:
        # Set through __dict__ so __getattr__ fall-through never sees a half-built proxy.
        self.__dict__["_original"] = original
        self.__dict__["_tee"] = tee

    @property
    def original(self) -> TextIO:
        """The stream this proxy writes through to."""
        return self._original

    def disable(self) -> None:
        """Stop teeing; the proxy becomes a pure pass-through (used when it cannot be removed)."""
        self.__dict__["_tee"] = None

    def set_tee(self, tee: TeeFn | None) -> None:
        self.__dict__["_tee"] = tee

    # -- writing ------------------------------------------------------------------------
    def write(self, text: str) -> int:
        written: int = self._original.write(text)
        tee = self._tee
        if tee is not None and type(text) is str:
            try:
                tee(text)  # an append to a list: it cannot write back into us
            except Exception:
                pass  # the tee is ours: its failure must never reach the caller
        return written

    def writelines(self, lines: Iterable[str]) -> None:  # type: ignore[override]
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self._original.flush()

    # -- what callers inspect ------------------------------------------------------------
    def fileno(self) -> int:
        return self._original.fileno()

    def isatty(self) -> bool:
        return self._original.isatty()

    def readable(self) -> bool:
        return self._original.readable()

    def writable(self) -> bool:
        return self._original.writable()

    def seekable(self) -> bool:
        return self._original.seekable()

    @property
    def closed(self) -> bool:
        return bool(self._original.closed)

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self._original.encoding

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return self._original.errors

    @property
    def newlines(self) -> Any:  # type: ignore[override]
        return self._original.newlines

    @property
    def buffer(self) -> Any:
        # Bytes written to .buffer bypass the tee; fd capture records those.
        return self._original.buffer

    @property
    def line_buffering(self) -> bool:
        return bool(getattr(self._original, "line_buffering", False))

    @property
    def name(self) -> Any:
        return getattr(self._original, "name", "<tether stream proxy>")

    @property
    def mode(self) -> Any:
        return getattr(self._original, "mode", "w")

    def close(self) -> None:
        self._original.close()

    def __del__(self) -> None:
        # IOBase.__del__ would close() the real stdout when a proxy is dropped: never do that.
        pass

    def __getattr__(self, name: str) -> Any:
        if name in ("_original", "_tee"):
            raise AttributeError(name)
        return getattr(self._original, name)

    def __repr__(self) -> str:
        return f"<tether.StreamProxy of {self._original!r}>"
