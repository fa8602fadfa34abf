"""Values a database column cannot hold are a 422 naming the field, on SQLite and PostgreSQL.

Before, a step of 2**63 made the server answer 500 (an OverflowError from the driver), which
clients retry forever. Integers the server stores in 64 bits (steps, sequence numbers) or 32
(pids, exit codes, layout ids) or 16 (console streams) are checked before anything is written;
metric *values* are msgpack and JSON on the server, so any 64-bit integer, unsigned ones up
to 2**64-1 included, is stored exactly.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tether.server.testing import LiveServer
from tether.store import format as fmt

POSTGRES = os.environ.get("TETHER_TEST_POSTGRES_URL")
HEADER = {"start_time": 1_700_000_000.0, "pid": 42, "main": True, "label": "main"}
KEYS = [fmt.K_KEYS, 0, ["loss"]]


@pytest.fixture(params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LiveServer]:
    if request.param == "sqlite":
        with LiveServer(tmp_path / "srv") as live:
            yield live
        return
    if not POSTGRES:
        pytest.skip("TETHER_TEST_POSTGRES_URL not set (scripts/postgres.sh prints one)")
    import psycopg

    name = "tether_test_" + secrets.token_hex(4)
    with psycopg.connect(POSTGRES, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        url = POSTGRES.rsplit("/", 1)[0] + "/" + name
        with LiveServer(tmp_path / "srv", database_url=url) as live:
            yield live
    finally:
        with psycopg.connect(POSTGRES, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _put(server: LiveServer, writer: str, first_seq: int, records: list[Any]) -> httpx.Response:
    body = fmt.MAGIC + fmt.encode_frame(first_seq, records)
    return httpx.put(
        f"{server.base_url}/api/v1/projects/limits/runs/r1/segments/{writer}",
        content=body,
        headers=server.headers,
        timeout=60,
    )


# (field, first_seq, records): one value out of what the server stores in each. (msgpack has
# no integer below -2**63, so only the top of the 64-bit range can be overstepped.)
OUT_OF_RANGE: list[tuple[str, int, list[Any]]] = [
    ("step", 0, [[fmt.K_HEADER, HEADER], KEYS, [fmt.K_ROWS, 0, [2**63], [0], [[1.0]]]]),
    ("step", 0, [[fmt.K_HEADER, HEADER], KEYS, [fmt.K_ROWS, 0, [2**64 - 1], [0], [[1.0]]]]),
    ("step", 0, [[fmt.K_HEADER, HEADER], KEYS, [fmt.K_ROW, 0, 2**63, 0, 1.0]]),
    ("first_seq", 2**63, [[fmt.K_HEADER, HEADER]]),
    ("first_seq", 2**63 - 1, [[fmt.K_HEADER, HEADER], KEYS]),
    ("pid", 0, [[fmt.K_HEADER, {**HEADER, "pid": 2**63}]]),
    ("pid", 0, [[fmt.K_HEADER, {**HEADER, "pid": 2**31}]]),
    ("exit_code", 0, [[fmt.K_HEADER, HEADER], [fmt.K_FINAL, 1.0, "finished", 2**63]]),
    ("exit_code", 0, [[fmt.K_HEADER, HEADER], [fmt.K_FINAL, 1.0, "failed", -(2**31) - 1]]),
    ("stream", 0, [[fmt.K_HEADER, HEADER], [fmt.K_LINES, 1.0, 2**63, ["a line"]]]),
    ("stream", 0, [[fmt.K_HEADER, HEADER], [fmt.K_CONSOLE, 1.0, 2**15, "a line"]]),
    ("schema id", 0, [[fmt.K_HEADER, HEADER], [fmt.K_KEYS, 2**63, ["loss"]]]),
    ("schema id", 0, [[fmt.K_HEADER, HEADER], [fmt.K_KEYS, 2**31, ["loss"]]]),
    ("key", 0, [[fmt.K_HEADER, HEADER], [fmt.K_KEYS, 0, ["k" * 513]]]),
]


def test_values_the_database_cannot_hold_are_a_422_naming_the_field(server: LiveServer) -> None:
    for index, (field, first_seq, records) in enumerate(OUT_OF_RANGE):
        answer = _put(server, f"w{index}", first_seq, records)
        assert answer.status_code == 422, (field, records, answer.text)
        body = answer.json()
        assert body["field"] == field, body
        assert f"writer w{index}" in body["detail"] and field in body["detail"], body
        assert body["frame_offset"] == len(fmt.MAGIC)
    # Nothing was stored, and the server still takes a good upload of the same run.
    good = _put(
        server, "good", 0, [[fmt.K_HEADER, HEADER], KEYS, [fmt.K_ROW, 0, 2**63 - 1, 0, 1.0]]
    )
    assert good.status_code == 200, good.text
    detail = httpx.get(
        f"{server.base_url}/api/v1/projects/limits/runs/r1", headers=server.headers
    ).json()
    assert detail["last_step"] == 2**63 - 1 and detail["keys"] == ["loss"]


def test_a_refused_row_is_named_by_its_record_and_row(server: LiveServer) -> None:
    records = [
        [fmt.K_HEADER, HEADER],
        KEYS,
        [fmt.K_ROWS, 0, [0, 1], [0, 1], [[0.0], [1.0]]],
        [fmt.K_ROWS, 0, [2, 2**63, 4], [2, 3, 4], [[2.0], [3.0], [4.0]]],
    ]
    body = _put(server, "rows", 10, records).json()
    assert (body["seq"], body["row"], body["field"]) == (13, 1, "step"), body
    assert "record 13 (rows), row 1: step 9223372036854775808" in body["detail"]


def test_unsigned_64_bit_values_are_stored_exactly(server: LiveServer) -> None:
    values = [2**63, 2**64 - 1, -(2**63), 2**53 + 1, 1.5]
    records = [
        [fmt.K_HEADER, HEADER],
        KEYS,
        [fmt.K_ROWS, 0, list(range(len(values))), list(range(len(values))), [[v] for v in values]],
    ]
    answer = _put(server, "u64", 0, records)
    assert answer.status_code == 200, answer.text
    base = f"{server.base_url}/api/v1/projects/limits/runs/r1"
    [series] = httpx.get(f"{base}/history", headers=server.headers).json()["series"]
    assert series["values"] == values
    assert httpx.get(base, headers=server.headers).json()["summary"]["loss"] == 1.5
    last = _put(
        server, "u64-last", 0, [[fmt.K_HEADER, HEADER], KEYS, [fmt.K_ROW, 0, 0, 9, 2**64 - 1]]
    )
    assert last.status_code == 200, last.text
    assert httpx.get(base, headers=server.headers).json()["summary"]["loss"] == 2**64 - 1
