"""The project's series of a metric kept between requests (``series_cache``): read once while
nothing changed, read again as soon as a chunk is added or a run leaves, on SQLite and
PostgreSQL; and the grouped lines of the shared sweep server follow a run added meanwhile."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, delete, select

import tether
from tests.server.sweep import Workspace, ingest, upload
from tether.server import queries
from tether.server.auth import add_user
from tether.server.run_lines import run_lines
from tether.server.series_cache import cached_series, project_series
from tether.server.storage.schema import runs


def _log(run_dir: Path, values: list[float], project: str = "p") -> tether.Run:
    with tether.init(
        project=project, dir=run_dir, mode="offline", console="off", system=False
    ) as run:
        for step, value in enumerate(values):
            run.log({"loss": value}, step=step)
    return run


def test_a_project_series_is_read_again_only_when_its_chunks_change(
    database_engine: Engine, run_dir: Path
) -> None:
    user = add_user(database_engine, "alice")
    first = _log(run_dir, [3.0, 2.0, 1.0])
    ingest(database_engine, user, first, "p")
    with database_engine.connect() as connection:
        pk = queries.project_pk(connection, user, "p")
        read = project_series(connection, pk, "loss", points=100)
        assert project_series(connection, pk, "loss", points=100) is read  # unchanged: kept
        assert read.values.tolist() == [3.0, 2.0, 1.0]
    second = _log(run_dir, [9.0, 8.0])
    ingest(database_engine, user, second, "p")
    with database_engine.connect() as connection:
        grown = project_series(connection, pk, "loss", points=100)
        assert sorted(grown.values.tolist()) == [1.0, 2.0, 3.0, 8.0, 9.0]
    with database_engine.begin() as connection:
        connection.execute(delete(runs).where(runs.c.run_id == first.id))
    with database_engine.connect() as connection:
        left = project_series(connection, pk, "loss", points=100)
        assert sorted(left.values.tolist()) == [8.0, 9.0]  # a run gone is gone from the lines


def test_the_charts_and_the_grouping_share_one_read_of_the_series(
    database_engine: Engine, run_dir: Path
) -> None:
    user = add_user(database_engine, "alice")
    made = [_log(run_dir, [float(i), float(i) + 0.5, 9.0 - i]) for i in range(3)]
    for run in made:
        ingest(database_engine, user, run, "p")
    with database_engine.connect() as connection:
        pk = queries.project_pk(connection, user, "p")
        pks = {run_id: p for p, run_id in connection.execute(select(runs.c.id, runs.c.run_id))}
        two = [pks[made[2].id], pks[made[0].id]]  # a filter's runs, in the table's order
        # Two of three runs, nothing kept: those two are read, the project's are not.
        alone = run_lines(connection, pk, two, ["loss"], points=100)
        assert cached_series(connection, pk, "loss", points=100) is None
        # Every run of the project (a project of up to 1,000 runs): the project's series are
        # read and kept, and the grouping takes them without reading again.
        every = run_lines(connection, pk, list(pks.values()), ["loss"], points=100)
        kept = cached_series(connection, pk, "loss", points=100)
        assert kept is not None
        assert project_series(connection, pk, "loss", points=100) is kept
        assert sorted(every["loss"]["runs"]) == sorted(run.id for run in made)
        # The two runs again, now cut from what is kept: the same answer as read alone.
        assert run_lines(connection, pk, two, ["loss"], points=100) == alone
        assert alone["loss"]["runs"] == [made[2].id, made[0].id]


def test_grouped_lines_follow_a_run_added_after_the_first_grouping(
    workspace: Workspace, run_dir: Path
) -> None:
    http: httpx.Client = workspace.http
    params = {"by": "config.opt", "keys": "loss"}
    path = "/api/v1/projects/cache-check/runs/groups/history"
    upload(http, _log(run_dir, [1.0, 1.0], project="cache-check"), "cache-check")
    before = http.get(path, params=params).json()
    assert before["config.opt=null"]["loss"]["high"] == [1.0, 1.0]
    upload(http, _log(run_dir, [5.0, 7.0], project="cache-check"), "cache-check")
    after = http.get(path, params=params).json()
    assert after["config.opt=null"]["loss"]["high"] == [5.0, 7.0]
    assert after["config.opt=null"]["loss"]["n"] == [2, 2]


def test_a_budget_of_nothing_keeps_nothing_and_a_bad_size_is_refused(
    tmp_path: Path, run_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tether.server.config import server_settings
    from tether.server.series_cache import budget
    from tether.server.storage.db import make_engine, migrate

    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    migrate(engine)
    budget(engine, 0)  # TETHER_SERVER_SERIES_CACHE_MB=0
    user = add_user(engine, "alice")
    ingest(engine, user, _log(run_dir, [1.0, 2.0]), "p")
    with engine.connect() as connection:
        pk = queries.project_pk(connection, user, "p")
        once = project_series(connection, pk, "loss", points=100)
        assert project_series(connection, pk, "loss", points=100) is not once
    monkeypatch.setenv("TETHER_SERVER_SERIES_CACHE_MB", "8")
    assert server_settings(tmp_path).series_cache_bytes == 8 * 2**20
    monkeypatch.setenv("TETHER_SERVER_SERIES_CACHE_MB", "lots")
    with pytest.raises(ValueError, match="TETHER_SERVER_SERIES_CACHE_MB='lots'"):
        server_settings(tmp_path)
