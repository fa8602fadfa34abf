"""Turn a stream of text chunks into the lines a terminal would show.

``\\n`` ends a line. ``\\r`` (not part of ``\\r\\n``) returns to the start of the line and the
text after it overwrites what was there, so a tqdm bar redrawn ten thousand times is stored
once, as its last state. ANSI escape sequences pass through untouched for the UI to render.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Final

# A line longer than this is cut into pieces: one runaway write must not hold memory forever.
MAX_LINE_CHARS: Final = 64 * 1024

EmitFn = Callable[[str, float], None]


class LineAssembler:
    """Keeps the line being typed on one stream, as a terminal would, and emits each line."""

    def __init__(self, emit: EmitFn) -> None:
        self._emit = emit
        self._line = ""
        self._cursor = 0
        self._when = 0.0
        self._lock = threading.Lock()

    def feed(self, text: str, when: float = 0.0) -> None:
        """Type ``text`` (written at ``when``); each line it ends is emitted with that time."""
        with self._lock:
            self._feed_locked(text, when)

    def _feed_locked(self, text: str, when: float) -> None:
        self._when = when
        pieces = text.split("\n")
        last = len(pieces) - 1
        for index, piece in enumerate(pieces):
            if piece:
                self._type(piece)
            if index < last:
                self._end_line()

    def feed_many(self, batch: list[tuple[float, str]]) -> None:
        """``feed`` for a batch of ``(time, text)`` writes; print()'s text-then-newline pairs
        take a fast path."""
        with self._lock:
            emit = self._emit
            for when, text in batch:
                if text == "\n" and self._cursor == len(self._line):
                    line, self._line, self._cursor = self._line, "", 0
                    emit(line, when)
                elif "\n" not in text and "\r" not in text and self._cursor == len(self._line):
                    self._line += text
                    self._cursor = len(self._line)
                    if self._cursor > MAX_LINE_CHARS:
                        self._when = when
                        self._end_line()
                else:
                    self._feed_locked(text, when)

    def flush_partial(self) -> None:
        """Emit an unfinished line (at the end of capture), if there is one."""
        with self._lock:
            if self._line:
                self._end_line()

    def reset(self) -> None:
        """In a fork child: a fresh lock, and forget the parent's unfinished line."""
        self._lock = threading.Lock()
        self._line = ""
        self._cursor = 0

    def _type(self, piece: str) -> None:
        if "\r" not in piece:
            self._put(piece)
            return
        for index, part in enumerate(piece.split("\r")):
            if index:
                self._cursor = 0
            if part:
                self._put(part)

    def _put(self, text: str) -> None:
        line, cursor = self._line, self._cursor
        if cursor == len(line):
            line += text
        else:
            line = line[:cursor] + text + line[cursor + len(text) :]
        self._line = line
        self._cursor = cursor + len(text)
        if len(line) > MAX_LINE_CHARS:
            self._end_line()

    def _end_line(self) -> None:
        line = self._line
        self._line = ""
        self._cursor = 0
        self._emit(line, self._when)
