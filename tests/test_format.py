"""The format module: record kinds, their decoding, frame walking and segment names.

Adding a record kind fails ``test_every_kind_has_an_entry_and_an_example`` until the kind has
its entry in ``records.KINDS`` and an example here, and
``test_the_server_handles_every_kind`` until the server's ingest has a handler for it.
"""

from __future__ import annotations

import io
import zlib
from pathlib import Path
from typing import Any

import pytest

import tether
from tether.store import format as fmt
from tether.store import records
from tether.store.format import RecordKind
from tether.store.segment_names import (
    parse_segment_name,
    segment_file_name,
    segment_paths,
    writer_id_of,
)
from tether.store.states import ENDED_STATES, RunState

# One record of every kind, as a writer (of any format version) puts it on disk.
EXAMPLES: dict[RecordKind, tuple[list[Any], records.Record]] = {
    RecordKind.HEADER: ([1, {"label": "main"}], records.Header({"label": "main"})),
    RecordKind.KEYS: ([2, 0, ["loss"]], records.Keys(0, ["loss"])),
    RecordKind.ROW: ([3, 0, 7, 12.5, 0.25], records.RowsBlock(0, [7], [12.5], [[0.25]])),
    RecordKind.CONFIG: ([4, 1.0, {"lr": 1}, ["x"]], records.ConfigUpdate(1.0, {"lr": 1}, ["x"])),
    RecordKind.SUMMARY: ([5, 1.0, {"acc": 1}, []], records.SummaryUpdate(1.0, {"acc": 1}, [])),
    RecordKind.CONSOLE: ([6, 2.0, 1, "hi"], records.Lines(2.0, 1, ["hi"])),
    RecordKind.FINAL: ([7, 3.0, "finished", 0], records.FinalState(3.0, "finished", 0)),
    RecordKind.SYSTEM: (
        [8, 4.0, {"host.cpu_percent": 5}],
        records.SystemSample(4.0, {"host.cpu_percent": 5}),
    ),
    RecordKind.FILE: ([9, 5.0, {"path": "a.png"}], records.FileEntry(5.0, {"path": "a.png"})),
    RecordKind.LABEL: ([10, "rank1"], records.Label("rank1")),
    RecordKind.ROWS: (
        [11, 0, [1, 2], [0.0, 5.0], [[0.5], [0.4]]],
        records.RowsBlock(0, [1, 2], [0.0, 5.0], [[0.5], [0.4]]),
    ),
    RecordKind.LINES: ([12, 6.0, 2, ["a", "b"]], records.Lines(6.0, 2, ["a", "b"])),
    RecordKind.ENVIRONMENT: (
        [13, 7.0, {"cpu": {"count": 2}}],
        records.Environment(7.0, {"cpu": {"count": 2}}),
    ),
    RecordKind.ARTIFACT: (
        [14, 8.0, {"op": "use", "name": "model", "ref": "latest", "digest": "0" * 64}],
        records.ArtifactOp(
            8.0, {"op": "use", "name": "model", "ref": "latest", "digest": "0" * 64}
        ),
    ),
}


def test_every_kind_has_an_entry_and_an_example() -> None:
    assert set(records.KINDS) == set(RecordKind)
    assert set(EXAMPLES) == set(RecordKind), "add an example of the new kind to EXAMPLES"
    for kind, (raw, decoded) in EXAMPLES.items():
        assert raw[0] == kind
        assert records.decode_record(raw) == decoded
        assert records.kind_name(raw) == records.KINDS[kind].name
        assert len(raw) >= records.KINDS[kind].min_items


def test_the_server_handles_every_kind() -> None:
    from tether.server import ingest

    for raw, decoded in EXAMPLES.values():
        assert type(decoded) in ingest._HANDLERS, f"server/ingest.py stores no {raw[0]!r}"


def test_the_k_names_are_the_enum_and_written_as_plain_ints() -> None:
    assert fmt.K_ROWS is RecordKind.ROWS and fmt.K_ROWS == 11
    frame = fmt.frame_at(fmt.MAGIC + fmt.encode_frame(0, [[fmt.K_LABEL, "x"]]), len(fmt.MAGIC))
    assert frame is not None and frame[0].records == [[10, "x"]]
    assert type(frame[0].records[0][0]) is int


def test_unknown_kinds_are_skipped_and_malformed_records_named() -> None:
    assert records.decode_record([99, "from a newer tether"]) is None
    assert records.kind_name([99]) == "kind 99"
    with pytest.raises(records.RecordError, match="malformed final record: 3 items, not 4"):
        records.decode_record([7, 1.0, "finished"])
    with pytest.raises(records.RecordError, match="not a list starting with its kind"):
        records.decode_record([True, 1])
    with pytest.raises(records.RecordError, match="config must be a mapping, not list") as info:
        records.decode_record([4, 1.0, [], []])
    assert info.value.field == "config"


def test_updates_apply_in_time_order_with_deletes() -> None:
    updates = [(2.0, {"a": 2}, ["b"]), (1.0, {"a": 1, "b": 1, "c": 1}, []), (3.0, {}, [5, "c"])]
    assert records.apply_updates({"z": 0}, updates) == {"z": 0, "a": 2}


def test_segment_names_round_trip() -> None:
    name = segment_file_name("rank-0/x y", 4123, "5f1c2e9a7b10")
    assert name == "rank-0_x_y-4123-5f1c2e9a7b10.tseg"
    parsed = parse_segment_name(name)
    assert parsed is not None and parsed == ("rank-0_x_y", 4123, "5f1c2e9a7b10")
    assert writer_id_of(Path(name)) == "5f1c2e9a7b10"
    for other in ("upload.json", "main-x-abc.tseg", "main.tseg", "main-12-.tseg"):
        assert parse_segment_name(other) is None


def test_a_real_segment_is_named_listed_and_walked(run_dir: Path) -> None:
    with tether.init(project="p", dir=run_dir, console="off", mode="offline") as run:
        for i in range(3):
            run.log({"loss": i})
            run.flush()
    [path] = segment_paths(run.dir)
    parsed = parse_segment_name(path.name)
    assert parsed is not None and parsed.label == "main"
    data = path.read_bytes()
    ends = list(fmt.whole_frame_ends(data, len(fmt.MAGIC)))
    assert ends[-1] == len(data) and len(ends) >= 3
    scan = fmt.scan_frames(data)
    assert len(scan.frames) == len(ends) and scan.torn_bytes == 0
    decoded = [records.decode_record(r) for frame in scan.frames for r in frame.records]
    header = decoded[0]
    assert isinstance(header, records.Header) and header.fields["writer_id"] == parsed.writer_id
    assert [d.state for d in decoded if isinstance(d, records.FinalState)] == ["finished"]
    # One frame read from the file, as the uploader reads a refused frame again.
    with open(path, "rb") as handle:
        frame, end = fmt.read_frame(handle, len(fmt.MAGIC))
    assert end == ends[0] and frame.first_seq == 0
    # A torn tail and a damaged frame: the walk stops at them; read_frame says where.
    torn = data + data[len(fmt.MAGIC) : ends[0]][:-3]
    assert list(fmt.whole_frame_ends(torn, len(fmt.MAGIC))) == ends
    damaged = bytearray(data)
    damaged[ends[0] + fmt.FRAME_HEADER.size + 2] ^= 0xFF
    assert list(fmt.whole_frame_ends(bytes(damaged), len(fmt.MAGIC))) == ends[:1]
    with pytest.raises(fmt.FrameError, match=f"no whole, checksummed frame at offset {ends[0]}"):
        fmt.read_frame(io.BytesIO(bytes(damaged)), ends[0])
    not_records = fmt.MAGIC + fmt.FRAME_HEADER.pack(1, zlib.crc32(b"\x01")) + b"\x01"
    with pytest.raises(fmt.FrameError, match="checks out but is not records"):
        fmt.read_frame(io.BytesIO(not_records), len(fmt.MAGIC))
    assert fmt.read_payload(io.BytesIO(not_records), len(fmt.MAGIC)) == (b"\x01", 17)
    with pytest.raises(fmt.FrameError, match="no frame header"):
        fmt.read_frame(io.BytesIO(data), len(data) - 4)
    assert fmt.frame_head(data, len(data) - 4) is None


def test_run_states_are_one_enum() -> None:
    assert [s.value for s in RunState] == ["running", "finished", "failed", "killed", "crashed"]
    assert RunState.RUNNING == "running" and str(RunState.CRASHED) == "crashed"
    assert [s for s in RunState if s.terminal] == [s for s in RunState if s != "running"]
    assert RunState.CRASHED not in ENDED_STATES
