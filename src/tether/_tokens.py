"""Random identifiers from ``os.urandom``, without importing ``secrets``.

``secrets`` pulls in ``random``, ``hmac``, ``hashlib`` and ``base64``: a cost every spawned
child (each DataLoader worker, each rank) paid at ``import tether``, for three small helpers.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


def token_hex(nbytes: int) -> str:
    """``2 * nbytes`` random hex digits."""
    return os.urandom(nbytes).hex()


def below(n: int) -> int:
    """A uniformly random int in ``[0, n)`` (rejection sampling: no modulo bias)."""
    if n <= 0:
        raise ValueError("below() needs n > 0")
    bits = max(1, (n - 1).bit_length())
    nbytes = (bits + 7) // 8
    while True:
        value = int.from_bytes(os.urandom(nbytes), "little") >> (nbytes * 8 - bits)
        if value < n:
            return value


def choice(items: Sequence[T]) -> T:
    """A uniformly random item of a non-empty sequence."""
    return items[below(len(items))]
