"""Property-based fuzzing of what clients upload (issue 11): segment frames whose records are
valid ones with one item replaced by anything msgpack can carry (huge and negative integers,
NaN, bytes, NULs, lists and maps where scalars belong, deep nesting), posted to a real
server. No answer is a 500; a refused record is a 4xx whose answer says where and which field.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from typing import Any

import httpx
import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tether.server.testing import LiveServer
from tether.store import format as fmt

HEADER = {"start_time": 1_700_000_000.0, "pid": 42, "main": True, "label": "main", "tags": []}
VALID: dict[str, list[Any]] = {
    "header": [fmt.K_HEADER, HEADER],
    "keys": [fmt.K_KEYS, 0, ["loss", "acc"]],
    "row": [fmt.K_ROW, 0, 3, 1000, 0.5, 1],
    "rows": [fmt.K_ROWS, 0, [4, 5], [1000, 1001], [[0.5, 1], [0.25, 2]]],
    "config": [fmt.K_CONFIG, 1_700_000_001.0, {"lr": 0.1}, []],
    "summary": [fmt.K_SUMMARY, 1_700_000_001.0, {"best": 1.0}, ["old"]],
    "console": [fmt.K_CONSOLE, 1_700_000_001.0, 1, "hello"],
    "lines": [fmt.K_LINES, 1_700_000_001.0, 2, ["a", "b"]],
    "final": [fmt.K_FINAL, 1_700_000_002.0, "finished", 0],
    "system": [fmt.K_SYSTEM, 1_700_000_001.0, {"cpu.percent": 12.5}],
    "label": [fmt.K_LABEL, "rank 0"],
    "environment": [fmt.K_ENVIRONMENT, 1_700_000_001.0, {"python": {"version": "3.11"}}],
    "file": [
        fmt.K_FILE,
        1_700_000_001.0,
        {
            "key": "img",
            "step": 3,
            "index": 0,
            "kind": "image",
            "sha256": "ab" * 32,
            "size": 9,
            "media_type": "image/png",
            "meta": {"width": 2, "height": 1, "format": "png"},
        },
    ],
    "histogram": [
        fmt.K_FILE,
        1_700_000_001.0,
        {
            "key": "h",
            "step": 3,
            "kind": "histogram",
            "meta": {"counts": [1, 2], "edges": [0.0, 0.5, 1.0], "min": 0.0, "max": 1.0},
        },
    ],
}
BIG = st.sampled_from(
    [2**31, 2**32, 2**53 + 1, 2**63 - 1, 2**63, 2**64 - 1, -(2**63), -(2**31) - 1]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    BIG,
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -math.inf, -0.0]),
    st.text(max_size=40),
    st.sampled_from(["", "\x00", "a\x00b", "x" * 600, "\u202e", "\ufffd"]),
    st.binary(max_size=20),
)
KEYS = st.one_of(st.text(max_size=10), st.integers(-(2**63), 2**64 - 1), st.binary(max_size=4))
ANYTHING = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(KEYS, inner, max_size=4),
    ),
    max_leaves=12,
)


class Deep:
    """Lists nested ``levels`` deep, made only when encoded (so Hypothesis prints it short)."""

    def __init__(self, levels: int) -> None:
        self.levels = levels

    def __repr__(self) -> str:
        return f"Deep({self.levels})"


def _built(value: Any) -> Any:
    if isinstance(value, Deep):  # pre-encoded: the encoder itself stops at ~1,000 levels
        return msgspec.Raw(b"\x91" * value.levels + b"\x01")
    if isinstance(value, list):
        return [_built(item) for item in value]
    if isinstance(value, dict):
        return {key: _built(item) for key, item in value.items()}
    return value


@st.composite
def mutated_record(draw: st.DrawFn) -> list[Any]:
    """A valid record with one item (or one item of a nested list or map) replaced."""
    record = list(VALID[draw(st.sampled_from(sorted(VALID)))])
    position = draw(st.integers(min_value=1, max_value=len(record)))
    value = draw(st.one_of(ANYTHING, st.sampled_from([Deep(600), Deep(5000)])))
    if position == len(record):
        return [*record, value]  # an extra item
    target = record[position]
    if isinstance(target, dict) and target and draw(st.booleans()):
        key = draw(st.sampled_from(sorted(target)))
        record[position] = {**target, key: value}
    elif isinstance(target, list) and target and draw(st.booleans()):
        index = draw(st.integers(min_value=0, max_value=len(target) - 1))
        record[position] = [*target[:index], value, *target[index + 1 :]]
    else:
        record[position] = value
    return record


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with LiveServer(tmp_path_factory.mktemp("fuzz-segments") / "srv") as live:
        yield live


_writers = itertools.count()


@given(
    first_seq=st.one_of(st.integers(min_value=-5, max_value=10), BIG.filter(lambda n: n > 0)),
    prefix=st.sampled_from([[], ["header"], ["header", "keys"]]),
    records=st.lists(mutated_record(), min_size=1, max_size=3),
)
@settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_record_makes_the_server_fail(
    server: LiveServer, first_seq: int, prefix: list[str], records: list[list[Any]]
) -> None:
    body = fmt.MAGIC + fmt.encode_frame(first_seq, _built([*(VALID[p] for p in prefix), *records]))
    writer = f"w{next(_writers)}"
    response = httpx.put(
        f"{server.base_url}/api/v1/projects/fuzz/runs/r/segments/{writer}",
        content=body,
        headers=server.headers,
        timeout=60,
    )
    assert response.status_code < 500, response.text + "".join(server.stderr_tail[-30:])
    answer = response.json()
    if response.status_code >= 400:
        assert answer["detail"], answer
    if response.status_code == 422 and "seq" in answer and answer["seq"] is not None:
        assert answer["field"], answer  # a refused record: its field, for the client's skip
    if response.status_code == 200:  # what was stored reads back
        run = httpx.get(
            f"{server.base_url}/api/v1/projects/fuzz/runs/r", headers=server.headers, timeout=60
        )
        assert run.status_code == 200, run.text + "".join(server.stderr_tail[-30:])
        media = f"{server.base_url}/api/v1/projects/fuzz/runs/r/media"
        keys = httpx.get(f"{media}/keys", headers=server.headers, timeout=60)
        assert keys.status_code == 200, keys.text + "".join(server.stderr_tail[-30:])
        for entry in keys.json()[:3]:
            items = httpx.get(media, params={"key": entry["key"]}, headers=server.headers)
            assert items.status_code == 200, items.text + "".join(server.stderr_tail[-30:])


@pytest.mark.parametrize(
    ("record", "field"),
    [
        ([fmt.K_HEADER, {**HEADER, "start_time": math.nan}], "start_time"),
        ([fmt.K_HEADER, {**HEADER, "pid": 2**63}], "pid"),
        ([fmt.K_FINAL, 1.0, "failed", 2**63], "exit_code"),
        ([fmt.K_CONSOLE, math.inf, 1, "x"], "time"),
        ([fmt.K_CONSOLE, 1.0, 2**63, "x"], "stream"),
        ([fmt.K_KEYS, 2**63, ["a"]], "schema id"),
        ([fmt.K_ROW, 0, 2**63, 1000, 1.0], "step"),
    ],
)
def test_the_issue_cases_are_422_naming_the_field(
    server: LiveServer, record: list[Any], field: str
) -> None:
    body = fmt.MAGIC + fmt.encode_frame(0, [record])
    response = httpx.put(
        f"{server.base_url}/api/v1/projects/fuzz/runs/named/segments/w{next(_writers)}",
        content=body,
        headers=server.headers,
    )
    assert response.status_code == 422, response.text
    assert field in response.json()["field"], response.json()


def test_a_first_seq_past_64_bits_is_a_422(server: LiveServer) -> None:
    body = fmt.MAGIC + fmt.encode_frame(2**64 - 1, [VALID["header"]])
    response = httpx.put(
        f"{server.base_url}/api/v1/projects/fuzz/runs/named/segments/w{next(_writers)}",
        content=body,
        headers=server.headers,
    )
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "first_seq"


def test_a_nul_path_logs_no_traceback(server: LiveServer) -> None:
    assert httpx.get(server.base_url + "/%00").status_code == 404
    health = httpx.get(server.base_url + "/api/v1/health")  # a request after it, to sync logs
    assert health.status_code == 200
    assert "Traceback" not in "".join(server.stderr_tail)
