"""What the uploader reads of a segment: whole frames only, on files tether really wrote."""

from __future__ import annotations

import json
from pathlib import Path

import tether
from tether.store import format as fmt
from tether.sync.progress import UPLOAD_FILE
from tether.sync.run_upload import read_whole_frames, unsent_bytes, writer_id_of


def _segment(run_dir: Path, frames: int = 4) -> tuple[Path, list[int]]:
    """A real segment of ``frames`` or more frames, and where each frame ends."""
    with tether.init(project="p", dir=run_dir, console="off", mode="offline") as run:
        for n in range(frames):
            for i in range(200):
                run.log({"loss": n + i / 1000})
            run.flush()
    [path] = (run.dir / fmt.SEGMENTS_DIR).iterdir()
    data = path.read_bytes()
    ends, pos = [], len(fmt.MAGIC)
    while pos < len(data):
        length, _ = fmt.FRAME_HEADER.unpack_from(data, pos)
        pos += fmt.FRAME_HEADER.size + length
        ends.append(pos)
    assert pos == len(data) and len(ends) >= frames
    return path, ends


def test_whole_file_then_nothing(run_dir: Path) -> None:
    path, ends = _segment(run_dir)
    data = path.read_bytes()
    assert read_whole_frames(path, 0, 1 << 20) == (data, True)
    assert read_whole_frames(path, len(data), 1 << 20) == (b"", True)
    assert read_whole_frames(path, ends[1], 1 << 20) == (data[ends[1] :], True)
    assert writer_id_of(path) == path.stem.split("-")[-1]


def test_torn_or_corrupt_tail_is_not_sent(run_dir: Path) -> None:
    path, ends = _segment(run_dir)
    data = path.read_bytes()
    last = data[ends[-2] :]
    with open(path, "ab") as handle:
        handle.write(last[: len(last) // 2])  # a frame cut by a crash mid-write
    assert read_whole_frames(path, 0, 1 << 20) == (data, True)
    assert read_whole_frames(path, len(data), 1 << 20) == (b"", True)
    flipped = bytearray(data)
    flipped[ends[1] + fmt.FRAME_HEADER.size + 3] ^= 0xFF  # a bad CRC in the third frame
    path.write_bytes(bytes(flipped))
    assert read_whole_frames(path, 0, 1 << 20) == (data[: ends[1]], True)


def test_limit_cuts_at_frame_ends_and_never_splits_a_frame(run_dir: Path) -> None:
    path, ends = _segment(run_dir)
    data = path.read_bytes()
    # A limit inside the second frame: only the first goes, and more is known to follow.
    assert read_whole_frames(path, 0, ends[0] + 10) == (data[: ends[0]], False)
    # A limit smaller than one frame: that frame still goes, whole.
    assert read_whole_frames(path, 0, 12) == (data[: ends[0]], False)
    assert read_whole_frames(path, ends[0], 3) == (data[ends[0] : ends[1]], False)


def test_only_the_magic_is_nothing_to_send(tmp_path: Path) -> None:
    path = tmp_path / "main-1-abc.tseg"
    path.write_bytes(fmt.MAGIC)
    assert read_whole_frames(path, 0, 1 << 20) == (b"", True)
    path.write_bytes(fmt.MAGIC[:5])
    assert read_whole_frames(path, 0, 1 << 20) == (b"", True)


def test_unsent_bytes_leaves_out_a_torn_tail(run_dir: Path) -> None:
    path, _ = _segment(run_dir)
    run_path = path.parent.parent
    size = path.stat().st_size
    assert unsent_bytes(run_path, base_url="http://x") == size
    record = {"base_url": "http://x", "project": "p", "offsets": {path.name: size}}
    (run_path / UPLOAD_FILE).write_text(json.dumps(record))
    with open(path, "ab") as handle:
        handle.write(b"\x10\x00\x00\x00torn")
    assert unsent_bytes(run_path, base_url="http://x") == 0
    assert unsent_bytes(run_path, base_url="http://elsewhere") == size
