"""The run filter: the grammar's tree, its malformed inputs (message, position, expected),
and its meaning in SQL, the same on SQLite and PostgreSQL (injection attempts included)."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import HTTPException
from sqlalchemy import Engine, insert, select

from tether.server.auth import add_user
from tether.server.routes.run_query import database_refusals
from tether.server.run_filter import FilterError, parse, to_sql
from tether.server.run_filter.parse import And, Compare, Exists, Field, Has, In, Match, Not, Or
from tether.server.storage.db import make_engine, migrate
from tether.server.storage.schema import projects, runs

POSTGRES_URL = os.environ.get("TETHER_TEST_POSTGRES_URL")


# -- the tree -------------------------------------------------------------------------------
def test_precedence_not_over_and_over_or() -> None:
    tree = parse("not state = failed and config.lr < 0.05 or tags has 'x'")
    assert isinstance(tree, Or)
    left, right = tree.items
    assert isinstance(left, And) and isinstance(left.items[0], Not)
    assert isinstance(right, Has) and right.value.value == "x"


def test_literals_fields_and_keywords_in_any_case() -> None:
    tree = parse(
        'config.lr >= 1e-3 AND summary."val acc" != -2 And state = finished '
        "and config.flag = TRUE and config.x = null and environment.gpu.count exists "
        'and group in (\'a\', "b", 3) and name ~ "^lr\\\\d"'
    )
    assert isinstance(tree, And)
    lr, acc, state, flag, x, gpu, group, name = tree.items
    assert lr == Compare(Field("config", "lr"), ">=", lr.value) and lr.value.value == 1e-3
    assert isinstance(acc, Compare) and acc.field == Field("summary", "val acc")
    assert acc.value.value == -2 and isinstance(acc.value.value, int)
    assert isinstance(state, Compare) and state.value.value == "finished"
    assert isinstance(flag, Compare) and flag.value.value is True
    assert isinstance(x, Compare) and x.value.value is None
    assert gpu == Exists(Field("environment", "gpu.count"))
    assert isinstance(group, In) and [v.value for v in group.values] == ["a", "b", 3]
    assert isinstance(name, Match) and name.pattern.value == "^lr\\d"


def test_slashed_and_dotted_keys_are_one_field() -> None:
    tree = parse("summary.train/loss < 0.5 and config.model.depth = 4")
    assert isinstance(tree, And)
    assert [c.field for c in tree.items] == [  # type: ignore[union-attr]
        Field("summary", "train/loss"),
        Field("config", "model.depth"),
    ]


MALFORMED = [
    # (filter, position, a word of the message, one of the expected)
    ("", 0, "empty", "a field"),
    ("config.lr <", 11, "expected a value", "a number"),
    ("config.lr 0.1", 10, "expected an operator", "="),
    ("lr < 0.1", 0, "unknown field", "config.<key>"),
    ("config. = 1", 8, "needs a key", "a key"),
    ("state = finished and", 20, "expected a field", "state"),
    ("(state = finished", 17, "expected )", ")"),
    ("state = finished)", 16, "expected and", "and"),
    ("name = 'unclosed", 7, "no closing", "'"),
    ("name ~ abc", 7, "quoted regular expression", "a quoted string"),
    ("name ~ '('", 7, "not a valid regular expression", "a regular expression"),
    ("name ~ '(a+)+$'", 7, "repeated group", ""),
    # Shapes that make Python's re (SQLite's ~) backtrack for exponential time.
    ("name ~ '(.*)*x'", 7, "repetition", "a regular expression"),
    ("name ~ '(a|aa)+$'", 7, "alternation", "a regular expression"),
    ("name ~ '(ab|a)*c'", 7, "alternation", "a regular expression"),
    ("name ~ '(\\w+\\s?)*$'", 7, "repetition", "a regular expression"),
    ("name ~ '(?:x{2,}y?)+z'", 7, "repetition", "a regular expression"),
    ("name = a or name ~ '(x)\\1'", 19, "backreference", "a regular expression"),
    ("name ~ '(?P<n>x)(?P=n)'", 7, "backreference", "a regular expression"),
    ("name ~ '(?=(a+)+)b'", 7, "repetition", "a regular expression"),
    # An integer float() cannot hold (the SQL compares numbers as floats): not a 500.
    ("config.lr > 1" + "0" * 400, 12, "too large", "a number"),
    ("state = x or config.lr in (1, 1" + "0" * 400 + ")", 30, "too large", "a number"),
    ("config.x in 1", 12, "in takes a list", "("),
    ("config.x in (1 2)", 15, "expected , or )", ")"),
    ("config.x = and", 11, "keyword", "a number"),
    ("state = #", 8, "unexpected character", "a value"),
    ("name = 'x'' or 1=1 --'", 10, "expected and", "or"),
    ("not", 3, "expected a field", "("),
    ("(" * 70 + "state = x" + ")" * 70, 64, "deeper", ""),
]


@pytest.mark.parametrize(("text", "position", "words", "expected"), MALFORMED)
def test_malformed_filters_say_where_and_what(
    text: str, position: int, words: str, expected: str
) -> None:
    with pytest.raises(FilterError) as caught:
        parse(text)
    error = caught.value
    assert isinstance(error, ValueError)
    assert words in error.message
    assert error.position == position, error.pointed()
    if expected:
        assert expected in error.expected
    lines = str(error).splitlines()
    assert lines[0] == error.message and lines[1].strip() == text.strip()
    assert lines[2].index("^") - 2 == position


def test_overlong_filters_and_nul_are_refused() -> None:
    with pytest.raises(FilterError, match="at most 4096"):
        parse("state = x or " * 400)
    with pytest.raises(FilterError, match="NUL") as caught:
        parse("name = 'a\x00'")
    assert caught.value.position == 9
    with pytest.raises(TypeError, match="string"):
        parse(3)  # type: ignore[arg-type]


# -- the SQL, on both databases ---------------------------------------------------------------
RUNS: list[dict[str, Any]] = [
    # r0..r7: a sweep over lr and seed, with the odd value kinds a config holds
    {"config": {"lr": 0.01, "seed": 1, "opt": "adam", "flag": True, "model.depth": 4},
     "summary": {"best_acc": 0.95, "train/loss": 0.1}, "tags": ["baseline"], "state": "finished",
     "group_name": "a"},
    {"config": {"lr": 0.01, "seed": 2, "opt": "sgd", "flag": False},
     "summary": {"best_acc": 0.85}, "user_summary": {"best_acc": 0.91}, "tags": ["baseline", "x"],
     "state": "finished", "group_name": "a"},
    {"config": {"lr": 0.1, "seed": 1, "opt": "adam", "flag": None, "λ": 2},
     "summary": {"best_acc": 0.5}, "state": "failed", "group_name": "b", "name": "lr-high"},
    {"config": {"lr": "0.1", "seed": 2}, "summary": {"best_acc": "n/a"}, "state": "crashed",
     "name": "lr-text", "job_type": "eval"},
    {"config": {"lr": 0.001, "a \"quoted\" key": 1}, "summary": {"best_acc": 0.99},
     "user_summary": {"best_acc": None}, "state": "running", "host": "gpu1"},
    {"config": {"lr": [0.1, 0.2]}, "tags": [], "state": "killed", "last_step": 100},
    {"config": {}, "summary": {}, "state": "finished", "name": "O'Brien; DROP TABLE runs;--",
     "last_step": 5},
    {"config": {"lr": 10**20}, "summary": {"best_acc": True}, "state": "finished",
     "name": "Ünïcode", "environment_summary": {"gpu.count": 2}},
]  # fmt: skip


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Engine, int]]:
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('filter') / 'tether.db'}")
        migrate(engine)
        yield engine, _add(engine)
        engine.dispose()
        return
    if not POSTGRES_URL:
        pytest.skip("TETHER_TEST_POSTGRES_URL not set (scripts/postgres.sh prints one)")
    import psycopg

    name = "tether_filter_" + secrets.token_hex(4)
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    engine = make_engine(POSTGRES_URL.rsplit("/", 1)[0] + "/" + name)
    try:
        migrate(engine)
        yield engine, _add(engine)
    finally:
        engine.dispose()
        with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _add(engine: Engine) -> int:
    user = add_user(engine, "alice")
    now = time.time()
    with engine.begin() as connection:
        project = connection.execute(
            insert(projects)
            .values(owner_id=user.id, name="p", created_at=now, updated_at=now)
            .returning(projects.c.id)
        ).scalar_one()
        base = {
            "project_id": project, "tags": [], "config": {}, "summary": {}, "summary_times": {},
            "user_summary": {}, "start_time": now, "updated_at": now + 5, "crashed": False,
            "group_name": None, "job_type": None, "host": None, "last_step": None,
            "environment_summary": None,
        }  # fmt: skip
        rows = [
            {**base, "run_id": f"r{i}", "name": f"r{i}", "start_time": now + i, **row}
            for i, row in enumerate(RUNS)
        ]
        for row in rows:
            row["end_time"] = row["start_time"] + 10 * (int(row["run_id"][1:]) + 1)
        connection.execute(insert(runs), rows)
    return int(project)


def _ids(database: tuple[Engine, int], text: str) -> set[str]:
    engine, project = database
    condition = to_sql(parse(text), dialect=engine.dialect.name, owner="alice", text=text)
    with engine.connect() as connection:
        found = connection.execute(
            select(runs.c.run_id).where(runs.c.project_id == project, condition)
        )
        return {r for (r,) in found}


ALL = {f"r{i}" for i in range(len(RUNS))}
CASES = [
    ("config.lr < 0.05", {"r0", "r1", "r4"}),  # numbers only: "0.1", a list, 1e20 are not
    ("config.lr >= 0.1", {"r2", "r7"}),
    ("config.lr = 0.1", {"r2"}),
    ("config.lr = '0.1'", {"r3"}),  # a string matches strings only
    ("config.lr != 0.01", {"r2", "r3", "r4", "r5", "r7"}),  # only runs that have lr
    ("not config.lr = 0.01", ALL - {"r0", "r1"}),  # not: runs without lr too
    ("config.lr > 1e19", {"r7"}),
    ("config.lr exists", ALL - {"r6"}),
    ("config.flag exists", {"r0", "r1"}),  # a JSON null does not exist
    ("config.flag = null", ALL - {"r0", "r1"}),
    ("config.flag != null", {"r0", "r1"}),
    ("config.flag = true", {"r0"}),
    ("config.flag = false", {"r1"}),
    ("config.seed = 1 and config.opt = adam", {"r0", "r2"}),
    ("config.opt in (sgd, 'adam')", {"r0", "r1", "r2"}),
    ("config.opt > 'b'", {"r1"}),
    ("config.model.depth = 4", {"r0"}),
    ("config.λ = 2", {"r2"}),
    ('config."a \\"quoted\\" key" = 1', {"r4"}),
    ("summary.best_acc > 0.9", {"r1", "r7"} - {"r7"} | {"r0"}),  # user's 0.91 wins; r4's null
    ("summary.best_acc exists", {"r0", "r1", "r2", "r3", "r7"}),
    ("summary.train/loss < 0.5", {"r0"}),
    ("summary.best_acc ~ '^n/'", {"r3"}),
    ("environment.gpu.count = 2", {"r7"}),
    ("state = finished", {"r0", "r1", "r6", "r7"}),
    ("state in (failed, crashed, killed)", {"r2", "r3", "r5"}),
    ("state != finished and not state = running", {"r2", "r3", "r5"}),
    ("name ~ '^lr'", {"r2", "r3"}),
    ("name ~ 'ü'", set()),  # case-sensitive
    # Patterns without catastrophic shapes run alike on both databases.
    ("name ~ '^lr-[a-h]+'", {"r2"}),
    ("name ~ '^lr-(h|t)'", {"r2", "r3"}),
    ("name ~ '^r(1|2)$'", {"r1"}),
    ("name ~ '(te|hi)+'", {"r2", "r3"}),  # each branch starts with its own letter
    ("name ~ '^r[0-5]\\d*$'", {"r0", "r1", "r4", "r5"}),
    ("name ~ 'Ü'", {"r7"}),
    ("name > 'r'", {"r0", "r1", "r4", "r5", "r7"}),  # by code point: Ü after r
    ("group = a", {"r0", "r1"}),
    ("group exists", {"r0", "r1", "r2"}),
    ("group = null", ALL - {"r0", "r1", "r2"}),
    ("job_type = eval", {"r3"}),
    ("host = gpu1", {"r4"}),
    ("id in (r1, r3)", {"r1", "r3"}),
    ("user = alice", ALL),
    ("user = bob", set()),
    ("tags has baseline", {"r0", "r1"}),
    ("tags has 'x' or tags has 'nope'", {"r1"}),
    ("tags in ('x', 'y')", {"r1"}),
    ("tags != x", ALL - {"r1"}),
    ("tags ~ '^base'", {"r0", "r1"}),
    ("tags exists", {"r0", "r1"}),
    ("last_step >= 5", {"r5", "r6"}),
    ("last_step exists", {"r5", "r6"}),
    ("last_step < 99999999999999999999999", {"r5", "r6"}),  # past 64 bits: still a number
    ("duration > 55", {"r5", "r6", "r7"}),
    ("start_time > 0 and duration <= 20", {"r0", "r1"}),
    ("(state = failed or state = crashed) and config.seed = 2", {"r3"}),
    ("not (config.lr exists)", {"r6"}),
    # Injection attempts are values like any other.
    ('name = "O\'Brien; DROP TABLE runs;--"', {"r6"}),
    ('name = "x\' or 1=1 --"', set()),
    ('config."lr\') or 1=1 --" exists', set()),
    ("name ~ \"' or '1'='1\"", set()),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_filters_mean_the_same_on_both_databases(
    database: tuple[Engine, int], text: str, expected: set[str]
) -> None:
    assert _ids(database, text) == expected
    # The table is still there and whole after every injection attempt.
    assert _ids(database, "id exists") == ALL


@pytest.mark.parametrize(
    ("text", "words", "position"),
    [
        ("start_time > 'yesterday'", "holds a number", 13),
        ("config.lr > true", "true and false", 12),
        ("config.lr < null", "null can only", 12),
        ("state has 'x'", "has works on tags", 0),
        ("config.tags has 'x'", "has works on tags", 0),
        ("duration ~ '1'", "is a number", 0),
        ("tags > 'a'", "tags are a list", 7),
        ("name = true", "holds text", 7),
    ],
)
def test_fields_and_operators_that_do_not_go_together(
    database: tuple[Engine, int], text: str, words: str, position: int
) -> None:
    with pytest.raises(FilterError, match=words) as caught:
        _ids(database, text)
    assert caught.value.position == position


def test_a_pattern_only_python_accepts_is_a_422_on_postgresql(
    database: tuple[Engine, int],
) -> None:
    """``(?P<x>...)`` is Python's syntax: SQLite (Python's re) runs it, PostgreSQL refuses it,
    and the routes turn that refusal into a 422 rather than a 500."""
    engine, _ = database
    text = "name ~ '(?P<x>lr)-high'"
    if engine.dialect.name == "sqlite":
        assert _ids(database, text) == {"r2"}
        return
    with pytest.raises(HTTPException) as caught, database_refusals():
        _ids(database, text)
    assert caught.value.status_code == 422
    assert "refused the filter" in caught.value.detail["message"]  # type: ignore[index]
