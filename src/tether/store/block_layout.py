"""Where the parts of a ``K_ROWS`` record lie in its bytes, found without decoding it.

A row block is ``[11, schema, [step...], [ms...], [[v0, v1, ...], ...]]`` in msgpack. In
the blocks ``log()`` writes, each of its three arrays is regular: the steps (and the
milliseconds) of a block mostly share one integer width (0x00-0x7f, or 0xcc/0xcd/0xce/0xcf
and their signed twins followed by 1, 2, 4 or 8 big-endian bytes), and a row of Python
floats is an array header followed by ``0xcb`` + 8 bytes per value. Such a block is
described by offsets and strides: checking that takes a few C-level byte comparisons and
no object per value, and reading it is then a strided numpy view (``row_blocks``).

A block that is not regular (steps crossing 127 or 255 within the block, ints or strings
among the values) gets ``None`` here and is decoded by msgspec instead. Pure Python (no
numpy) so that ``tether show`` walks a segment without importing numpy; it takes ``bytes``,
whose strided slices are copied in C several times faster than a memoryview's.
"""

from __future__ import annotations

import mmap
from dataclasses import dataclass
from typing import Final

# msgpack int codes: (bytes after the code, numpy dtype of those bytes).
INT_CODES: Final = {
    0xCC: (1, "u1"),
    0xCD: (2, ">u2"),
    0xCE: (4, ">u4"),
    0xCF: (8, ">u8"),
    0xD0: (1, "i1"),
    0xD1: (2, ">i2"),
    0xD2: (4, ">i4"),
    0xD3: (8, ">i8"),
}
FLOAT64: Final = 0xCB
_POSITIVE_FIXINTS: Final = bytes(range(0x80))
_NEGATIVE_FIXINTS: Final = bytes(range(0xE0, 0x100))


@dataclass(frozen=True, slots=True)
class IntColumn:
    """``count`` ints at ``offset``, every ``stride`` bytes, of numpy type ``dtype``; or, when
    ``dtype`` is empty (widths mixed), msgpack ints in ``[start, end)`` to decode."""

    offset: int
    stride: int
    dtype: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class BlockLayout:
    rows: int
    # The steps array, header included: [steps_start, steps_end).
    steps_start: int
    steps_end: int
    steps: IntColumn
    millis: IntColumn
    # The first value's 8 bytes; a row every ``row_stride`` bytes, a value every 9 bytes.
    values_offset: int
    row_stride: int
    end: int


def array_head(data: bytes | mmap.mmap, at: int) -> tuple[int, int] | None:
    """(length, offset after the header) of the msgpack array at ``at``."""
    first = data[at]
    if 0x90 <= first <= 0x9F:
        return first & 0x0F, at + 1
    if first == 0xDC:
        return int.from_bytes(data[at + 1 : at + 3], "big"), at + 3
    if first == 0xDD:
        return int.from_bytes(data[at + 1 : at + 5], "big"), at + 5
    return None


def encoded_array_head(length: int) -> bytes:
    if length <= 15:
        return bytes([0x90 | length])
    if length <= 0xFFFF:
        return b"\xdc" + length.to_bytes(2, "big")
    return b"\xdd" + length.to_bytes(4, "big")


def _int_column(data: bytes | mmap.mmap, start: int, count: int) -> IntColumn | None:
    """The array of ``count`` ints whose items start at ``start``."""
    column = _one_width(data, start, count)
    if column is not None:
        return column
    at = start  # widths mixed (steps crossing 127, 255, 65535 in the block): walk them
    for _ in range(count):
        code = data[at]
        if code < 0x80 or code >= 0xE0:
            at += 1
        elif code in INT_CODES:
            at += 1 + INT_CODES[code][0]
        else:
            return None
    return IntColumn(start, 0, "", start, at)


def _one_width(data: bytes | mmap.mmap, at: int, count: int) -> IntColumn | None:
    """``count`` ints of one width from ``at``; None when their widths differ."""
    code = data[at]
    if code < 0x80 or code >= 0xE0:  # fixints: the byte is the value
        part = data[at : at + count]
        if len(part) < count:
            return None
        # translate() deletes the bytes in C: nothing left means they all are fixints.
        if code < 0x80 and not part.translate(None, _POSITIVE_FIXINTS):
            return IntColumn(at, 1, "u1", at, at + count)
        if code >= 0xE0 and not part.translate(None, _NEGATIVE_FIXINTS):
            return IntColumn(at, 1, "i1", at, at + count)
        return None
    known = INT_CODES.get(code)
    if known is None:
        return None
    stride = 1 + known[0]
    end = at + count * stride
    if len(data) < end or data[at:end:stride] != bytes([code]) * count:
        return None
    return IntColumn(at + 1, stride, known[1], at, end)


def block_schema(data: bytes | mmap.mmap, at: int) -> tuple[int, int] | None:
    """(schema id, offset of the steps) of the ``K_ROWS`` record at ``at``."""
    if len(data) < at + 3 or data[at] != 0x95 or data[at + 1] != 11:
        return None
    return read_uint(data, at + 2)


def read_uint(data: bytes | mmap.mmap, at: int) -> tuple[int, int] | None:
    """(value, offset after it) of the non-negative msgpack int at ``at``."""
    code = data[at]
    if code < 0x80:
        return code, at + 1
    if 0xCC <= code <= 0xCF:
        size = INT_CODES[code][0]
        return int.from_bytes(data[at + 1 : at + 1 + size], "big"), at + 1 + size
    return None


def block_layout(
    data: bytes | mmap.mmap, at: int, width: int, *, check_values: bool = True
) -> BlockLayout | None:
    """The layout of the ``K_ROWS`` record at ``at`` whose rows have ``width`` keys.

    ``check_values=False`` leaves the ``0xcb`` before each value to the caller: the walk only
    locates blocks (a row of 9-byte values that are not floats has the same length), and
    ``row_blocks`` checks a whole grid at once with numpy before reading it as floats.
    """
    schema = block_schema(data, at)
    if width == 0 or schema is None:
        return None
    at = schema[1]
    steps_start = at
    head = array_head(data, at)
    if head is None:
        return None
    rows, at = head
    if rows == 0:
        return None
    steps = _int_column(data, at, rows)
    if steps is None:
        return None
    head = array_head(data, steps.end)
    if head is None or head[0] != rows:
        return None
    millis = _int_column(data, head[1], rows)
    if millis is None:
        return None
    head = array_head(data, millis.end)
    if head is None or head[0] != rows:
        return None
    at = head[1]
    row_head = encoded_array_head(width)
    stride = len(row_head) + 9 * width
    end = at + rows * stride
    if len(data) < end:
        return None
    for index, byte in enumerate(row_head):
        if data[at + index : end : stride] != bytes([byte]) * rows:
            return None
    first = at + len(row_head)
    marker = bytes([FLOAT64]) * rows
    for key in range(width if check_values else 0):
        if data[first + 9 * key : end : stride] != marker:
            return None
    return BlockLayout(rows, steps_start, steps.end, steps, millis, first + 1, stride, end)
