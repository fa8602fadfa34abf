"""Read one segment file back into its records, surviving a torn tail.

A segment belongs to one writer (one process). ``read_segment`` decodes its frames, resolves
row schemas back to key names, and returns plain lists that ``RunData`` merges across writers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tether.store import format as fmt


@dataclass
class Segment:
    """Everything one writer put on disk, in the order it wrote it."""

    path: Path
    header: dict[str, Any]
    # (step, time, {key: value}) in write order.
    rows: list[tuple[int, float, dict[str, Any]]] = field(default_factory=list)
    config: list[tuple[float, dict[str, Any], list[str]]] = field(default_factory=list)
    summary: list[tuple[float, dict[str, Any], list[str]]] = field(default_factory=list)
    console: list[tuple[float, int, str]] = field(default_factory=list)
    # (time, {metric: number}) system samples, and (time, {section: value}) environment
    # records, in write order.
    system: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    environment: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    final: tuple[float, str, int] | None = None
    last_seq: int = -1
    torn_bytes: int = 0
    # Damaged bytes in the middle of the file that the reader stepped over.
    skipped_bytes: int = 0
    mtime: float = 0.0

    @property
    def writer_id(self) -> str:
        return str(self.header.get("writer_id", self.path.stem))

    @property
    def label(self) -> str:
        return str(self.header.get("label", "?"))

    @property
    def is_main(self) -> bool:
        return bool(self.header.get("main", False))

    @property
    def start_time(self) -> float:
        return float(self.header.get("start_time", 0.0))


def list_segments(run_dir: Path) -> list[Path]:
    directory = run_dir / fmt.SEGMENTS_DIR
    try:
        names = sorted(os.listdir(directory))
    except FileNotFoundError:
        return []
    return [directory / name for name in names if name.endswith(fmt.SEGMENT_SUFFIX)]


def read_segment(path: Path) -> Segment | None:
    """Decode one segment; None when it holds no whole header frame yet."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
        mtime = os.stat(path).st_mtime
    except OSError:
        return None
    scan = fmt.scan_frames(data)
    segment: Segment | None = None
    keys_by_schema: dict[int, list[str]] = {}
    for frame in scan.frames:
        for record in frame.records:
            kind = record[0]
            if kind == fmt.K_ROWS:
                if segment is None:
                    continue
                keys = keys_by_schema.get(record[1])
                if keys is None:
                    continue
                start = segment.start_time
                segment.rows.extend(
                    (step, start + millis / 1000.0, dict(zip(keys, values, strict=False)))
                    for step, millis, values in zip(record[2], record[3], record[4], strict=False)
                )
            elif kind == fmt.K_ROW:
                if segment is None:
                    continue
                keys = keys_by_schema.get(record[1])
                if keys is None:
                    continue
                when = segment.start_time + record[3] / 1000.0
                segment.rows.append((record[2], when, dict(zip(keys, record[4:], strict=False))))
            elif kind == fmt.K_KEYS:
                keys_by_schema[record[1]] = record[2]
            elif kind == fmt.K_HEADER:
                if segment is None:
                    segment = Segment(path=path, header=dict(record[1]))
                else:  # repeated after the writer had to start its file again
                    segment.header.update(record[1])
            elif segment is None:
                continue
            elif kind == fmt.K_LINES:
                when, stream = record[1], record[2]
                segment.console.extend((when, stream, line) for line in record[3])
            elif kind == fmt.K_CONSOLE:
                segment.console.append((record[1], record[2], record[3]))
            elif kind == fmt.K_CONFIG:
                segment.config.append((record[1], record[2], record[3]))
            elif kind == fmt.K_SUMMARY:
                segment.summary.append((record[1], record[2], record[3]))
            elif kind == fmt.K_FINAL:
                segment.final = (record[1], record[2], record[3])
            elif kind == fmt.K_SYSTEM:
                segment.system.append((record[1], record[2]))
            elif kind == fmt.K_ENVIRONMENT:
                segment.environment.append((record[1], record[2]))
            elif kind == fmt.K_LABEL:
                segment.header["label"] = record[1]
        if segment is not None:
            segment.last_seq = frame.first_seq + len(frame.records) - 1
    if segment is not None:
        segment.torn_bytes = scan.torn_bytes
        segment.skipped_bytes = scan.skipped_bytes
        segment.mtime = mtime
    return segment
