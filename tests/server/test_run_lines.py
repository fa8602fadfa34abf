"""The workspace's charts in one request, ``GET runs/lines``: the table's first runs (same
filter, order, search, state) and per metric their lines on one shared step axis, exact when
the steps fit and bucketed (each run's lowest and highest value, in logged order) when not;
against the shared sweep server, and the queries on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import numpy as np
import pytest
from sqlalchemy import Engine

import tether
from tests.server.sweep import LRS, STEPS, SweepRun, Workspace, ingest, loss
from tether.server import queries
from tether.server.auth import add_user
from tether.server.run_lines import aligned, chosen_keys, run_lines
from tether.server.runs_order import page_ids
from tether.server.series_batch import Flat

P = "/api/v1/projects/sweep"


def _matrix(line: dict[str, object]) -> np.ndarray:
    runs, steps, values = line["runs"], line["step"], line["values"]
    assert isinstance(runs, list) and isinstance(steps, list) and isinstance(values, str)
    return np.frombuffer(base64.b64decode(values), dtype="<f8").reshape(len(runs), len(steps))


def _lines(http: httpx.Client, **params: object) -> dict[str, object]:
    answer = http.get(f"{P}/runs/lines", params=params)  # type: ignore[arg-type]
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert isinstance(found, dict)
    return found


def test_the_tables_first_runs_share_one_exact_step_axis(workspace: Workspace) -> None:
    http, sweep = workspace.http, workspace.sweep
    table = http.get(f"{P}/runs", params={"order": "name", "limit": 5}).json()["runs"]
    found = _lines(http, order="name", limit=5)
    assert found["keys"] == ["train/loss"]  # the numeric metrics logged; best_acc is a summary
    line = found["lines"]["train/loss"]  # type: ignore[index]
    assert line["runs"] == [run["id"] for run in table]  # the table's order
    assert line["step"] == list(range(STEPS))
    by_id = {run.id: run for run in sweep}
    for run_id, row in zip(line["runs"], _matrix(line), strict=True):
        run = by_id[run_id]
        assert row.tolist() == pytest.approx([loss(run.lr, run.seed, s) for s in range(STEPS)])


def test_the_filter_search_and_chosen_keys_pick_what_is_charted(workspace: Workspace) -> None:
    http, sweep = workspace.http, workspace.sweep
    found = _lines(http, filter="config.lr = 0.01", keys=["train/loss", "absent"])
    assert found["keys"] == ["train/loss", "absent"]
    assert list(found["lines"]) == ["train/loss"]  # type: ignore[call-overload]
    line = found["lines"]["train/loss"]  # type: ignore[index]
    assert sorted(line["runs"]) == sorted(r.id for r in sweep if r.lr == 0.01)
    assert _lines(http, search="no such name")["lines"] == {}


def test_many_steps_keep_each_runs_extremes_in_buckets(workspace: Workspace) -> None:
    http, sweep = workspace.http, workspace.sweep
    line = _lines(http, points=10)["lines"]["train/loss"]  # type: ignore[index]
    steps = line["step"]
    assert len(steps) <= 10 and steps == sorted(set(steps)) and steps[0] == 0
    by_id = {run.id: run for run in sweep}
    for run_id, row in zip(line["runs"], _matrix(line), strict=True):
        run = by_id[run_id]
        full = [loss(run.lr, run.seed, s) for s in range(STEPS)]
        assert max(row) == pytest.approx(max(full)) and min(row) == pytest.approx(min(full))
        assert list(row) == sorted(row, reverse=True)  # the loss falls: highest first


def test_aligned_keeps_order_gaps_and_runs_of_other_lengths() -> None:
    # run 0: 8 steps, falling then rising inside the second bucket, a NaN; run 1: 2 steps
    steps = np.array([0, 1, 2, 3, 4, 5, 6, 7, 0, 6], dtype=np.int64)
    values = np.array([5.0, 4, np.nan, 1, 2, 9, 3, np.inf, 7, 8])
    flat = Flat(np.array([10, 11]), np.array([8, 2]), steps, values)
    exact_steps, exact = aligned(flat, points=8)
    assert exact_steps.tolist() == list(range(8))
    assert np.isnan(exact[1, 1]) and exact[1, 6] == 8 and np.isnan(exact[0, 2])
    cut_steps, cut = aligned(flat, points=4)  # 2 buckets of 4 steps: x at 0, 2, 4, 6
    assert cut_steps.tolist() == [0, 2, 4, 6]
    assert cut[0].tolist() == [5.0, 1.0, 2.0, 9.0]  # high then low; low then high; inf left out
    assert cut[1].tolist() == [7.0, 7.0, 8.0, 8.0]  # one point a bucket: both x hold it


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 2001},
        {"limit": 0},
        {"points": 1},
        {"filter": "config.lr <"},
        {"keys": "a\x00"},
        {"order": "-nope"},
        {"search": "a\x00"},
    ],
)
def test_malformed_requests_are_422(workspace: Workspace, params: dict[str, object]) -> None:
    answer = workspace.http.get(f"{P}/runs/lines", params=params)  # type: ignore[arg-type]
    assert answer.status_code == 422, answer.text


def test_a_project_that_is_not_there_is_404(workspace: Workspace) -> None:
    assert workspace.http.get("/api/v1/projects/absent/runs/lines").status_code == 404


def test_lines_sql_on_both_databases(database_engine: Engine, run_dir: Path) -> None:
    user = add_user(database_engine, "alice")
    made: list[SweepRun] = []
    for lr in LRS:
        with tether.init(
            project="p", dir=run_dir, mode="offline", console="off", system=False,
            config={"lr": lr},
        ) as run:  # fmt: skip
            for step in range(0, 30, 3):
                run.log(
                    {"loss": loss(lr, 1, step), "note": "x", "acc2": 1.0, "acc10": 2.0}, step=step
                )
        ingest(database_engine, user, run, "p")
        made.append(SweepRun(run.id, lr, 1))
    with database_engine.connect() as connection:
        conditions = queries.run_conditions(connection, user, "p")
        page = page_ids(
            conditions, "-start_time", limit=10, offset=0, dialect=connection.dialect.name
        )
        pks = [int(row.id) for row in connection.execute(page)]
        keys = chosen_keys(connection, pks)
        found = run_lines(
            connection, queries.project_pk(connection, user, "p"), pks, keys, points=100
        )
    assert keys == ["acc2", "acc10", "loss"]  # natural order; the text key has no line
    line = found["loss"]
    assert line["runs"] == [run.id for run in reversed(made)]
    assert line["step"] == list(range(0, 30, 3))
    assert _matrix(line)[0].tolist() == pytest.approx(
        [loss(LRS[-1], 1, s) for s in range(0, 30, 3)]
    )
