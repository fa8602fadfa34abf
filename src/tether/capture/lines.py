"""Turn a stream of text chunks into the lines a terminal would show.

``\\n`` ends a line. ``\\r`` (not part of ``\\r\\n``) returns to the start of the line and the
text after it overwrites what was there, so a tqdm bar redrawn ten thousand times is stored
once, as its last state. ANSI escape sequences pass through untouched for the UI to render.

Lines are emitted in lists, one list per chunk of text (all its lines share the chunk's
time): a chunk of plain lines, the common case, is split in C with no per-line Python work.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Final

# A line longer than this is cut into pieces: one runaway write must not hold memory forever.
MAX_LINE_CHARS: Final = 64 * 1024

EmitFn = Callable[[list[str], float], None]


class LineAssembler:
    """Keeps the line being typed on one stream, as a terminal would, and emits each line."""

    def __init__(self, emit: EmitFn) -> None:
        self._emit = emit
        self._line = ""
        self._cursor = 0
        self._when = 0.0
        self._done: list[str] = []  # lines ended by the chunk being fed
        self._lock = threading.Lock()

    def feed(self, text: str, when: float = 0.0) -> None:
        """Type ``text`` (written at ``when``); the lines it ends are emitted with that time."""
        self.feed_many([(when, text)])

    def feed_many(self, batch: list[tuple[float, str]]) -> None:
        """``feed`` for a batch of ``(time, text)`` chunks, one ``emit`` per chunk with lines."""
        with self._lock:
            for when, text in batch:
                self._when = when
                if "\r" in text or self._cursor != len(self._line):
                    self._feed_slow(text)
                else:
                    self._feed_plain(text)
                if self._done:
                    done, self._done = self._done, []
                    self._emit(done, when)

    def _feed_plain(self, text: str) -> None:
        # No carriage return and the cursor at the end: lines are what split() finds.
        pieces = text.split("\n")
        rest = pieces.pop()
        if pieces:
            pieces[0] = self._line + pieces[0]
            self._line, self._cursor = "", 0
            if max(map(len, pieces)) > MAX_LINE_CHARS:
                for piece in pieces:
                    self._put(piece)
                    self._end_line()
            else:
                self._done += pieces
        if rest:
            self._put(rest)

    def _feed_slow(self, text: str) -> None:
        pieces = text.split("\n")
        last = len(pieces) - 1
        for index, piece in enumerate(pieces):
            if piece:
                self._type(piece)
            if index < last:
                self._end_line()

    def flush_partial(self) -> None:
        """Emit an unfinished line (at the end of capture), if there is one."""
        with self._lock:
            if self._line:
                self._end_line()
                done, self._done = self._done, []
                self._emit(done, self._when)

    def reset(self) -> None:
        """In a fork child: a fresh lock, and forget the parent's unfinished line."""
        self._lock = threading.Lock()
        self._line = ""
        self._cursor = 0
        self._done = []

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
        while len(self._line) > MAX_LINE_CHARS:  # a runaway line: cut it into pieces
            self._done.append(self._line[:MAX_LINE_CHARS])
            self._line = self._line[MAX_LINE_CHARS:]
            self._cursor = max(0, self._cursor - MAX_LINE_CHARS)

    def _end_line(self) -> None:
        self._done.append(self._line)
        self._line = ""
        self._cursor = 0
