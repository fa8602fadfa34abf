"""Bounds on what uploads cost the server: how many run at once, and what each holds.

- **Slots**: each user may have ``uploads_per_user`` uploads in flight; one more is answered
  429 with ``Retry-After`` (the uploader waits that long), so one user's many processes cannot
  hold the server's memory.
- **Pieces**: a body is stored in pieces of whole frames of about ``PIECE_BYTES``, each in its
  own transaction, so decoding it never holds more than one piece's records: a request holds
  its body plus a few MiB, not the ~20x its body that decoding 16 MiB of small rows at once
  took. Each piece is idempotent as the client's own pieces are (records carry sequence
  numbers), so a failure in a later piece keeps the earlier ones, as a client's retry would.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Final

from tether.store import format as fmt

PIECE_BYTES: Final = 1024 * 1024
RETRY_AFTER_S: Final = 2


class UploadSlots:
    """Per-user counts of uploads in flight (the event loop's thread is the only user)."""

    def __init__(self, per_user: int) -> None:
        self.per_user = per_user
        self._in_flight: Counter[int] = Counter()

    def take(self, user_id: int) -> bool:
        if self._in_flight[user_id] >= self.per_user:
            return False
        self._in_flight[user_id] += 1
        return True

    def give_back(self, user_id: int) -> None:
        self._in_flight[user_id] -= 1
        if self._in_flight[user_id] <= 0:
            del self._in_flight[user_id]


def pieces(
    body: bytes | bytearray, offset: int, size: int = PIECE_BYTES
) -> Iterator[tuple[int, int]]:
    """``(start, stop)`` ranges of ``body`` (segment bytes from file ``offset``) that end on
    frame boundaries, each about ``size`` bytes or one frame. Only frame lengths are read;
    where they do not add up, the rest is one last piece and ingest says what is wrong."""
    start = 0
    position = len(fmt.MAGIC) if offset == 0 else 0
    if offset == 0 and bytes(body[:position]) != fmt.MAGIC:
        position = len(body)  # refused as a whole
    header = fmt.FRAME_HEADER
    while position < len(body):
        if position + header.size > len(body):
            break
        length = header.unpack_from(body, position)[0]
        following = position + header.size + length
        if length == 0 or following > len(body):
            break
        if following - start > size and position > start:
            yield start, position
            start = position
        position = following
    yield start, len(body)
