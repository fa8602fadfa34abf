"""Segment file names: ``segments/<label>-<pid>-<writer id>.tseg``, built and parsed here.

The name lets a process find the writers of a run without opening their files: the pid tells
``procs`` which of them are its children, the writer id keys the upload. Labels may hold
dashes (``rank-0``), so a name is parsed from its end; any other character than letters,
digits, ``-`` and ``_`` becomes ``_`` so the name stays a plain file name.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

from tether.store.format import SEGMENT_SUFFIX, SEGMENTS_DIR


class SegmentName(NamedTuple):
    label: str
    pid: int
    writer_id: str


def segment_file_name(label: str, pid: int, writer_id: str) -> str:
    """The file name of a writer's segment (the label made safe for a file name)."""
    safe_label = "".join(c if c.isalnum() or c in "-_" else "_" for c in label)
    return f"{safe_label}-{pid}-{writer_id}{SEGMENT_SUFFIX}"


def parse_segment_name(name: str) -> SegmentName | None:
    """The label, pid and writer id in a segment's file name; None for any other file."""
    if not name.endswith(SEGMENT_SUFFIX):
        return None
    parts = name[: -len(SEGMENT_SUFFIX)].rsplit("-", 2)
    if len(parts) != 3 or not parts[1].isdigit() or not parts[2]:
        return None
    return SegmentName(label=parts[0], pid=int(parts[1]), writer_id=parts[2])


def writer_id_of(path: Path) -> str:
    """The writer id of a segment file (its name's last part; the whole stem if odd)."""
    parsed = parse_segment_name(path.name)
    return parsed.writer_id if parsed is not None else path.stem.rsplit("-", 1)[-1]


def segments_dir(run_dir: Path) -> Path:
    return run_dir / SEGMENTS_DIR


def segment_paths(run_dir: Path) -> list[Path]:
    """Every segment file of a run, sorted by name (none when ``segments/`` is missing)."""
    directory = segments_dir(run_dir)
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return []
    return [directory / name for name in names if name.endswith(SEGMENT_SUFFIX)]
