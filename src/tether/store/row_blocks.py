"""Row blocks decoded straight into numpy: steps and times as arrays, float values in place.

A regular block (``block_layout``: steps of one int width, every value a float64, what
``log()`` of Python floats writes) is read as strided big-endian views of the record's own
bytes, with no Python object made per value; any other block (ints, strings, None among the
values) is decoded by msgspec. Imported only when a history is read, so that numpy stays out of
``import tether`` and of the processes that only write.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import msgspec
import numpy as np
import numpy.typing as npt

from tether.store.block_layout import (
    FLOAT64,
    BlockLayout,
    IntColumn,
    block_layout,
    encoded_array_head,
)

_block_decoder: Final = msgspec.msgpack.Decoder(tuple[int, int, list[int], list[int], msgspec.Raw])
_ints_decoder: Final = msgspec.msgpack.Decoder(list[int])
_values_decoder: Final = msgspec.msgpack.Decoder(list[list[Any]])


@dataclass(frozen=True, slots=True)
class DecodedBlock:
    steps: npt.NDArray[np.int64]
    millis: npt.NDArray[np.float64]
    # rows x keys, a view of the record's bytes, when every value is a float64...
    floats: npt.NDArray[np.float64] | None
    # ...otherwise one list of values per row (in the layout's key order).
    rows: list[list[Any]] | None

    def __len__(self) -> int:
        return len(self.steps)


def decode_block(encoded: Any, width: int) -> DecodedBlock:
    """A ``K_ROWS`` record (its bytes, or ``msgspec.Raw``) or a version-1 row tuple."""
    if isinstance(encoded, tuple):
        return DecodedBlock(
            np.array([encoded[0]], dtype=np.int64),
            np.array([encoded[1]], dtype=np.float64),
            None,
            [list(encoded[2:])],
        )
    buffer = encoded if isinstance(encoded, bytes) else bytes(encoded)
    layout = block_layout(buffer, 0, width, check_values=False)
    if layout is not None and _all_floats(buffer, layout, width):
        return DecodedBlock(
            _ints(buffer, layout.steps, layout.rows).astype(np.int64),
            _ints(buffer, layout.millis, layout.rows).astype(np.float64),
            np.ndarray(
                (layout.rows, width), ">f8", buffer, layout.values_offset, (layout.row_stride, 9)
            ),
            None,
        )
    _, _, steps, millis, values = _block_decoder.decode(encoded)
    count = min(len(steps), len(millis))
    return DecodedBlock(
        np.array(steps[:count], dtype=np.int64),
        np.array(millis[:count], dtype=np.float64),
        None,
        _values_decoder.decode(values),
    )


def _all_floats(buffer: bytes, layout: BlockLayout, width: int) -> bool:
    markers = np.ndarray(
        (layout.rows, width), np.uint8, buffer, layout.values_offset - 1, (layout.row_stride, 9)
    )
    return bool((markers == FLOAT64).all())


def _ints(buffer: bytes, column: IntColumn, count: int) -> npt.NDArray[Any]:
    if not column.dtype:  # widths mixed: the items are msgpack ints of several sizes
        items = encoded_array_head(count) + buffer[column.start : column.end]
        return np.array(_ints_decoder.decode(items), np.int64)
    return np.ndarray((count,), column.dtype, buffer, column.offset, (column.stride,))
