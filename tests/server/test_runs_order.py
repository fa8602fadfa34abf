"""The runs list sorts, filters and pages in SQL, on SQLite and PostgreSQL, in the API's order:
numbers (booleans as 0/1) before strings (by code point), missing or null values last in both
directions, ties in insertion order."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, insert

from tether.server import queries
from tether.server.auth import User, add_user
from tether.server.storage.db import make_engine, migrate
from tether.server.storage.schema import projects, runs

POSTGRES_URL = os.environ.get("TETHER_TEST_POSTGRES_URL")

# Values of one key across runs: numbers of both kinds, booleans, strings (some that look like
# numbers, upper and lower case, non-ASCII), a null, containers; runs without the key at all.
VALUES: list[Any] = [
    3, 0.5, -2, 1e-5, True, False, 10**20, "b", "B", "a", "_x", "10", "é", "Zz", None,
    [1, 2], {"k": 1}, 0.5, "b", 2.5, -7.25,
]  # fmt: skip
MISSING = object()


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        made = make_engine(f"sqlite:///{tmp_path / 'tether.db'}")
        migrate(made)
        yield made
        made.dispose()
        return
    if not POSTGRES_URL:
        pytest.skip("TETHER_TEST_POSTGRES_URL not set (scripts/postgres.sh prints one)")
    import psycopg

    name = "tether_test_" + secrets.token_hex(4)
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        try:
            # A language's collation, as production databases often have (en_US.UTF-8): the
            # API's code point order must not depend on it.
            admin.execute(
                f"CREATE DATABASE {name} TEMPLATE template0 LOCALE_PROVIDER icu "
                "ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"
            )
        except psycopg.Error:  # PostgreSQL < 15 or built without ICU
            admin.execute(f"CREATE DATABASE {name}")
    made = make_engine(POSTGRES_URL.rsplit("/", 1)[0] + "/" + name)
    try:
        migrate(made)
        yield made
    finally:
        made.dispose()
        with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _add_runs(engine: Engine, rows: list[dict[str, Any]]) -> User:
    user = add_user(engine, "alice")
    now = time.time()
    with engine.begin() as connection:
        project = connection.execute(
            insert(projects)
            .values(owner_id=user.id, name="p", created_at=now, updated_at=now)
            .returning(projects.c.id)
        ).scalar_one()
        base = {
            "project_id": project,
            "state": "finished",
            "tags": [],
            "config": {},
            "summary": {},
            "summary_times": {},
            "user_summary": {},
            "start_time": now,
            "updated_at": now + 5,
            "crashed": False,
        }
        connection.execute(
            insert(runs),
            [
                {**base, "run_id": f"r{i:03d}", "name": f"r{i:03d}", **row}
                for i, row in enumerate(rows)
            ],
        )
    return user


def _page(engine: Engine, user: User, **options: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "state": None, "group": None, "tag": None, "search": None,
        "order": "-start_time", "limit": 1000, "offset": 0,
    }  # fmt: skip
    arguments.update(options)
    with engine.connect() as connection:
        return queries.list_runs(connection, user, "p", **arguments)


def _ids(engine: Engine, user: User, **options: Any) -> list[str]:
    return [run["id"] for run in _page(engine, user, **options)["runs"]]


def _expected(runs_json: list[dict[str, Any]], order: str) -> list[str]:
    """The API's order, as the Python sort it replaced defined it."""
    field = order.lstrip("-")

    def value(run: dict[str, Any]) -> Any:
        if "." in field:
            section, key = field.split(".", 1)
            return run[section].get(key)
        return run[field]

    present = [r for r in runs_json if value(r) is not None]
    missing = [r["id"] for r in runs_json if value(r) is None]

    def comparable(run: dict[str, Any]) -> tuple[int, Any]:
        v = value(run)
        return (0, float(v)) if isinstance(v, bool | int | float) else (1, str(v))

    present.sort(key=comparable, reverse=order.startswith("-"))
    return [r["id"] for r in present] + missing


def _by_insertion(engine: Engine, user: User) -> list[dict[str, Any]]:
    return sorted(_page(engine, user)["runs"], key=lambda r: r["id"])


def _mixed_rows(key: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for i, v in enumerate([*VALUES, MISSING, MISSING]):
        rows.append({"config": {} if v is MISSING else {key: v, "other": i}})
    return rows


@pytest.mark.parametrize("key", ["lr", "model.depth", "λ", 'a "quoted" key', "back\\slash"])
@pytest.mark.parametrize("descending", [False, True])
def test_config_key_order_numbers_strings_missing_last(
    engine: Engine, key: str, descending: bool
) -> None:
    user = _add_runs(engine, _mixed_rows(key))
    order = f"{'-' if descending else ''}config.{key}"
    got = _ids(engine, user, order=order)
    assert got == _expected(_by_insertion(engine, user), order)
    # The null (run 14) and the two runs without the key come last, in insertion order.
    assert got[-3:] == ["r014", "r021", "r022"]


def test_summary_order_prefers_the_users_value_even_when_null(engine: Engine) -> None:
    user = _add_runs(
        engine,
        [
            {"summary": {"acc": 0.9}},  # logged only
            {"summary": {"acc": 0.1}, "user_summary": {"acc": 0.95}},  # the user's wins
            {"summary": {"acc": 0.99}, "user_summary": {"acc": None}},  # the user's null: missing
            {"user_summary": {"acc": 0.5}},
            {},
            {"summary": {"acc": "n/a"}},
        ],
    )
    assert _ids(engine, user, order="-summary.acc") == [
        "r005",
        "r001",
        "r000",
        "r003",
        "r002",
        "r004",
    ]
    assert _ids(engine, user, order="summary.acc") == [
        "r003",
        "r000",
        "r001",
        "r005",
        "r002",
        "r004",
    ]


def test_columns_order_by_code_point_with_nulls_last_and_ties_by_insertion(engine: Engine) -> None:
    now = time.time()
    user = _add_runs(
        engine,
        [
            {"name": "beta", "last_step": 5, "start_time": now, "end_time": now + 3},
            {"name": "Alpha", "last_step": None, "start_time": now, "end_time": None},
            {"name": "alpha", "last_step": 7, "start_time": now - 1, "end_time": now + 1},
            {"name": "_under", "last_step": 5, "start_time": now + 1, "end_time": now + 2},
            {"name": "alpha", "last_step": None, "start_time": now, "end_time": now + 3},
        ],
    )
    # Code point order: "A" < "_" < "a"; a locale collation would put "_under" first.
    assert _ids(engine, user, order="name") == ["r001", "r003", "r002", "r004", "r000"]
    assert _ids(engine, user, order="-name") == ["r000", "r002", "r004", "r003", "r001"]
    assert _ids(engine, user, order="last_step") == ["r000", "r003", "r002", "r001", "r004"]
    assert _ids(engine, user, order="-last_step") == ["r002", "r000", "r003", "r001", "r004"]
    # Duration: end (or the last update, while running) minus start; ties by insertion.
    assert _ids(engine, user, order="-duration") == ["r001", "r000", "r004", "r002", "r003"]
    assert _ids(engine, user, order="-start_time") == ["r003", "r000", "r001", "r004", "r002"]


def test_pages_filters_and_total_come_from_sql(engine: Engine) -> None:
    user = _add_runs(
        engine,
        [
            {
                "name": f"run-{i}%" if i % 5 == 0 else f"run-{i}",
                "state": "running" if i % 2 else "finished",
                "group_name": f"g{i % 3}",
                "tags": ["even"] if i % 2 == 0 else ["odd", "x"],
                "config": {"lr": (i * 7) % 30} if i % 4 else {},
            }
            for i in range(30)
        ],
    )
    everything = _ids(engine, user, order="config.lr")
    pages = [_ids(engine, user, order="config.lr", limit=7, offset=o) for o in range(0, 30, 7)]
    assert [i for page in pages for i in page] == everything
    assert _page(engine, user, order="config.lr", limit=7, offset=28)["total"] == 30
    odd = _page(engine, user, tag="odd", order="name", limit=3)
    assert odd["total"] == 15 and all("odd" in r["tags"] for r in odd["runs"])
    assert _page(engine, user, tag="od")["total"] == 0  # whole tags only
    both = _page(engine, user, tag="x", state="running", group="g1", limit=100)
    assert {r["id"] for r in both["runs"]} == {f"r{i:03d}" for i in (1, 7, 13, 19, 25)}
    assert both["total"] == 5
    percent = _page(engine, user, search="%")  # LIKE's wildcard searched as a character
    assert percent["total"] == 6
    # PostgreSQL text cannot hold NUL: such a key or tag matches nothing, it is no error.
    assert _ids(engine, user, order="config.l\x00r", limit=3) == ["r000", "r001", "r002"]
    assert _page(engine, user, tag="odd\x00")["total"] == 0


def test_a_page_reads_only_its_rows(engine: Engine) -> None:
    """Every statement that reads the runs table is cut by LIMIT, restricted to the page's
    ids, or a count: no query brings every run back to Python."""
    user = _add_runs(engine, [{"config": {"lr": i / 100}} for i in range(50)])
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(" ".join(args[2].split()).upper())

    event.listen(engine, "before_cursor_execute", record)
    try:
        for order in ("-config.lr", "name", "-duration", "summary.acc"):
            assert len(_page(engine, user, order=order, limit=10)["runs"]) == 10
    finally:
        event.remove(engine, "before_cursor_execute", record)
    reads = [s for s in statements if " FROM RUNS" in s]
    assert reads
    for statement in reads:
        assert "LIMIT" in statement or "RUNS.ID IN" in statement or "COUNT(" in statement, statement
