"""A local run's history, read from its segments' row blocks only when it is asked for.

Two readers over the same blocks (``reader.BlockRef``), for three needs:

* ``history_frame``: the history as a DataFrame, decoded block by block straight into one
  numpy array per key (``columns``), then put in time order across writers;
* ``iter_rows``: one dict per row as it was logged, merged across writers by time, a block
  at a time per writer (``tether export`` streams a run through it).

(The newest value of each key, for the summary, is ``reader.last_values``: numpy-free.)
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import msgspec
import numpy as np
import numpy.typing as npt

from tether.store.columns import ColumnBuilder, downsample_rows, history_frame
from tether.store.reader import BlockRef, Segment, read_block_records
from tether.store.row_blocks import DecodedBlock, decode_block

if TYPE_CHECKING:
    import pandas


def _wanted_blocks(segment: Segment, keys: set[str] | None) -> list[BlockRef]:
    if keys is None:
        return segment.blocks
    layouts = segment.layouts
    return [b for b in segment.blocks if not keys.isdisjoint(layouts.get(b.schema, ()))]


def _decoded(
    segment: Segment, blocks: list[BlockRef]
) -> Iterator[tuple[BlockRef, DecodedBlock, list[str]]]:
    for block, encoded in read_block_records(segment.path, blocks):
        layout = segment.layouts[block.schema]
        try:
            decoded = decode_block(encoded, len(layout))
        except (msgspec.DecodeError, ValueError, TypeError):
            # Not the block the walk found: the file was started again since (deleted under
            # its writer). What the other blocks hold is still read.
            continue
        yield block, decoded, layout


def history_frame_of(
    segments: Sequence[Segment],
    all_keys: list[str],
    keys: Sequence[str] | None = None,
    *,
    writer: str | None = None,
    samples: int | None = None,
) -> pandas.DataFrame:
    """``_step``, ``_time``, ``_writer`` and a column per key (``keys``, or every key)."""
    chosen = [s for s in segments if writer is None or s.label == writer]
    wanted = set(keys) if keys else None  # [] as None: every key, as the server has it
    columns_of = list(dict.fromkeys(keys)) if keys else all_keys
    plans = [(s, _wanted_blocks(s, wanted)) for s in chosen]
    total = sum(block.rows for _, blocks in plans for block in blocks)
    steps = np.empty(total, np.int64)
    times = np.empty(total, np.float64)
    writer_of = np.empty(total, np.int32)
    builders = {key: ColumnBuilder(total) for key in columns_of}
    position = 0
    for index, (segment, blocks) in enumerate(plans):
        for _, decoded, layout in _decoded(segment, blocks):
            count = len(decoded)
            rows = slice(position, position + count)
            steps[rows] = decoded.steps
            times[rows] = segment.start_time + decoded.millis / 1000.0
            writer_of[rows] = index
            _place(decoded, layout, builders, position)
            position += count
    if position != total:  # a block whose lists disagreed in length: what was read is kept
        steps, times, writer_of = steps[:position], times[:position], writer_of[:position]
        for builder in builders.values():
            builder.length = position
    order = _time_order(times)
    scratch = np.empty(len(times) if order is not None else 0)
    if order is not None:
        steps, times, writer_of = steps[order], times[order], writer_of[order]
    labels = sorted({s.label for s in chosen})  # as the remote run has them; each label once
    codes = np.array([labels.index(s.label) for s in chosen] or [0], dtype=np.int32)
    writer_of = codes[writer_of]
    columns: dict[str, npt.NDArray[Any]] = {}
    for key in list(builders):
        column = builders.pop(key).build()
        columns[key] = column if order is None else _reordered(column, order, scratch)
    if samples is not None:
        keep = downsample_rows(writer_of, columns, samples)
        steps, times, writer_of = steps[keep], times[keep], writer_of[keep]
        columns = {key: column[keep] for key, column in columns.items()}
    return history_frame(steps, times, writer_of, labels, columns)


def _place(
    decoded: DecodedBlock, layout: list[str], builders: dict[str, ColumnBuilder], at: int
) -> None:
    if decoded.floats is not None:
        rows = slice(at, at + len(decoded))
        for index, key in enumerate(layout):
            builder = builders.get(key)
            if builder is not None:
                builder.put_floats(rows, decoded.floats[:, index])
        return
    values = decoded.rows or []
    for index, key in enumerate(layout):
        builder = builders.get(key)
        if builder is None:
            continue
        # A short row (a malformed block) leaves the key out of that row only.
        present = [(row, line[index]) for row, line in enumerate(values) if index < len(line)]
        if len(present) == len(values):
            builder.put_values(slice(at, at + len(values)), [value for _, value in present])
        elif present:
            where = np.array([at + row for row, _ in present], dtype=np.int64)
            builder.put_values(where, [value for _, value in present])


def _reordered(
    column: npt.NDArray[Any], order: npt.NDArray[np.intp], scratch: npt.NDArray[np.float64]
) -> npt.NDArray[Any]:
    """``column[order]``; a float column in place, through one scratch array shared by all
    columns: fresh memory is what a first read pays most for (each new page is a fault)."""
    if column.dtype != np.float64:
        return column[order]
    np.take(column, order, out=scratch)
    column[:] = scratch
    return column


def _time_order(times: npt.NDArray[np.float64]) -> npt.NDArray[np.intp] | None:
    """The stable time order of the rows, or None when they already are in it."""
    if len(times) < 2 or bool(np.all(times[1:] >= times[:-1])):
        return None
    return np.argsort(times, kind="stable")


def iter_rows(
    segments: Sequence[Segment], keys: Sequence[str] | None = None, *, writer: str | None = None
) -> Iterator[dict[str, Any]]:
    """Every row as logged (``_step``, ``_time``, ``_writer``, then its keys), by time.

    Writers are merged as they are read, a block at a time each; rows of equal time keep
    the writers' order. With ``keys``, only rows that logged one of them, with only those.
    """
    wanted = set(keys) if keys else None  # [] as None: every key, as the server has it
    streams = [
        _segment_rows(s, _wanted_blocks(s, wanted), wanted)
        for s in segments
        if writer is None or s.label == writer
    ]
    for _, row in heapq.merge(*streams, key=lambda pair: pair[0]):
        yield row


def _segment_rows(
    segment: Segment, blocks: list[BlockRef], wanted: set[str] | None
) -> Iterator[tuple[float, dict[str, Any]]]:
    start, label = segment.start_time, segment.label
    for _, decoded, layout in _decoded(segment, blocks):
        lines: Iterable[list[Any]] = (
            decoded.floats.tolist() if decoded.floats is not None else decoded.rows or []
        )
        for step, millis, values in zip(
            decoded.steps.tolist(), decoded.millis.tolist(), lines, strict=False
        ):
            when = start + millis / 1000.0
            row = {"_step": step, "_time": when, "_writer": label}
            if wanted is None:
                row.update(zip(layout, values, strict=False))
            else:
                row.update((k, v) for k, v in zip(layout, values, strict=False) if k in wanted)
            yield when, row
