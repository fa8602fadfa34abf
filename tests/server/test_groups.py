"""Groups across runs against a real server holding a 3 x 3 sweep: ``runs/groups`` (counts,
run ids, aggregated summaries), ``runs/groups/history`` (one line per group, aligned by step,
with its band) and ``POST runs/history`` (the charts' series of many runs in one request)."""

from __future__ import annotations

import statistics
from pathlib import Path

import httpx
import numpy as np
import pytest
from sqlalchemy import Engine, select

import tether
from tests.server.sweep import (
    LRS,
    SEEDS,
    STEPS,
    SweepRun,
    Workspace,
    accuracy,
    ingest,
    loss,
)
from tether.server import queries
from tether.server.auth import add_user
from tether.server.group_history import group_history
from tether.server.run_filter import parse, to_sql
from tether.server.run_filter.parse import parse_field
from tether.server.run_groups import group_runs, groups_json
from tether.server.series import Series
from tether.server.series_batch import cut_many, read_flat, read_series
from tether.server.storage.schema import runs

P = "/api/v1/projects/sweep"


@pytest.fixture
def served(workspace: Workspace) -> tuple[httpx.Client, list[SweepRun]]:
    return workspace.http, workspace.sweep


@pytest.fixture
def http(workspace: Workspace) -> httpx.Client:
    return workspace.http


def _ok(answer: httpx.Response) -> object:
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_groups_by_a_config_key_count_runs_and_aggregate_summaries(
    served: tuple[httpx.Client, list[SweepRun]],
) -> None:
    http, sweep = served
    found = _ok(http.get(f"{P}/runs/groups", params={"by": "config.lr"}))
    assert isinstance(found, list)
    assert [g["key"] for g in found] == [{"config.lr": lr} for lr in LRS]  # by number
    assert [g["label"] for g in found] == [f"config.lr={lr}" for lr in LRS]
    for group, lr in zip(found, LRS, strict=True):
        assert group["count"] == 3
        assert sorted(group["runs"]) == sorted(r.id for r in sweep if r.lr == lr)
        accs = [accuracy(lr, seed) for seed in SEEDS]
        stats = group["summary"]["best_acc"]
        assert stats["count"] == 3
        assert stats["mean"] == pytest.approx(statistics.fmean(accs))
        assert stats["std"] == pytest.approx(statistics.pstdev(accs))
        assert (stats["min"], stats["max"]) == (min(accs), max(accs))


def test_groups_by_several_fields_with_a_filter_and_chosen_keys(http: httpx.Client) -> None:
    params = {"by": ["config.opt", "tags"], "filter": "config.lr > 0.005", "keys": "best_acc"}
    found = _ok(http.get(f"{P}/runs/groups", params=params))
    assert isinstance(found, list)
    # Keys in order, field by field; lists by their JSON text.
    assert [(g["key"], g["count"]) for g in found] == [
        ({"config.opt": "adam", "tags": ["baseline"]}, 2),
        ({"config.opt": "adam", "tags": []}, 2),
        ({"config.opt": "sgd", "tags": []}, 2),
    ]
    assert found[0]["label"] == 'config.opt=adam, tags=["baseline"]'
    assert all(set(g["summary"]) == {"best_acc"} for g in found)


def test_a_field_the_runs_lack_is_one_group_of_null(http: httpx.Client) -> None:
    found = _ok(http.get(f"{P}/runs/groups", params={"by": ["config.nope", "group"]}))
    assert isinstance(found, list) and len(found) == 1
    assert found[0]["key"] == {"config.nope": None, "group": "sweep"}
    assert found[0]["label"] == "config.nope=null, group=sweep"
    assert found[0]["count"] == 9 and len(found[0]["runs"]) == 9
    assert found[0]["summary"]["best_acc"]["count"] == 9


def test_group_history_is_the_mean_and_band_of_each_groups_runs(http: httpx.Client) -> None:
    answer = _ok(
        http.get(
            f"{P}/runs/groups/history",
            params={"by": "config.lr", "keys": "train/loss", "agg": "mean", "band": "minmax"},
        )
    )
    assert isinstance(answer, dict)
    assert list(answer) == [f"config.lr={lr}" for lr in LRS]
    for lr in LRS:
        line = answer[f"config.lr={lr}"]["train/loss"]
        assert line["step"] == list(range(STEPS))
        assert line["n"] == [3] * STEPS
        for step in (0, 7, STEPS - 1):
            values = [loss(lr, seed, step) for seed in SEEDS]
            assert line["value"][step] == pytest.approx(statistics.fmean(values))
            assert line["low"][step] == pytest.approx(min(values))
            assert line["high"][step] == pytest.approx(max(values))


def test_group_history_median_std_and_buckets(http: httpx.Client) -> None:
    params = {"by": "config.opt", "keys": ["train/loss", "nope"], "agg": "median", "band": "std"}
    answer = _ok(http.get(f"{P}/runs/groups/history", params={**params, "points": 10}))
    assert isinstance(answer, dict)
    line = answer["config.opt=sgd"]["train/loss"]  # the three seed-3 runs
    assert line["step"] == list(range(0, STEPS, 4))  # 40 steps into 10 buckets of 4
    assert "nope" not in answer["config.opt=sgd"]
    per_run = [statistics.fmean(loss(lr, 3, s) for s in range(4)) for lr in LRS]
    assert line["value"][0] == pytest.approx(statistics.median(per_run))
    mean, spread = statistics.fmean(per_run), statistics.pstdev(per_run)
    assert line["low"][0] == pytest.approx(mean - spread)
    assert line["high"][0] == pytest.approx(mean + spread)
    none = _ok(
        http.get(f"{P}/runs/groups/history", params={**params, "band": "none", "agg": "max"})
    )
    assert isinstance(none, dict)
    adam = none["config.opt=adam"]["train/loss"]
    assert adam["low"] is None and adam["n"][0] == 6
    assert adam["value"][0] == pytest.approx(max(loss(lr, s, 0) for lr in LRS for s in (1, 2)))


def test_batch_history_of_many_runs_in_one_request(
    served: tuple[httpx.Client, list[SweepRun]],
) -> None:
    http, sweep = served
    ids = [r.id for r in sweep]
    body = {"runs": [*ids, "not-a-run"], "keys": ["train/loss"], "points": 300}
    answer = _ok(http.post(f"{P}/runs/history", json=body))
    assert isinstance(answer, dict)
    assert sorted(answer) == sorted(ids)
    for run in sweep:
        line = answer[run.id]["train/loss"]
        assert line["step"] == list(range(STEPS))
        assert line["value"] == pytest.approx([loss(run.lr, run.seed, s) for s in range(STEPS)])
    cut = _ok(http.post(f"{P}/runs/history", json={**body, "points": 10}))
    assert isinstance(cut, dict)
    line = cut[ids[0]]["train/loss"]
    assert len(line["step"]) <= 12 and line["step"][0] == 0 and line["step"][-1] == STEPS - 1
    full = answer[ids[0]]["train/loss"]["value"]
    assert max(line["value"]) == max(full) and min(line["value"]) == min(full)


@pytest.mark.parametrize(
    ("method", "path", "params", "body"),
    [
        ("GET", "/runs/groups", {}, None),  # by is required
        ("GET", "/runs/groups", {"by": "lr"}, None),  # not a field
        ("GET", "/runs/groups", {"by": "config.lr", "filter": "config.lr <"}, None),
        ("GET", "/runs/groups", {"by": ["state"] * 9}, None),
        ("GET", "/runs/groups/history", {"by": "state"}, None),  # keys are required
        ("GET", "/runs/groups/history", {"by": "state", "keys": "a", "agg": "sum"}, None),
        ("GET", "/runs/groups/history", {"by": "state", "keys": "a", "points": 1}, None),
        ("GET", "/runs/groups/history", {"by": "state", "keys": "a\x00"}, None),
        ("POST", "/runs/history", {}, {"runs": ["a"] * 2001, "keys": ["x"]}),
        ("POST", "/runs/history", {}, {"runs": ["a b"], "keys": ["x"]}),
        ("POST", "/runs/history", {}, {"runs": ["a"], "keys": []}),
        ("POST", "/runs/history", {}, {"runs": ["a"], "keys": ["x"], "points": 10**6}),
        ("POST", "/runs/history", {}, {"runs": ["a"], "keys": ["x"], "extra": 1}),
    ],
)
def test_malformed_requests_are_422(
    http: httpx.Client, method: str, path: str, params: dict[str, object], body: object
) -> None:
    answer = http.request(method, P + path, params=params, json=body)  # type: ignore[arg-type]
    assert answer.status_code == 422, answer.text


def test_bad_group_field_names_its_position(http: httpx.Client) -> None:
    answer = http.get(f"{P}/runs/groups", params={"by": ["config.lr", "nope"]})
    assert answer.status_code == 422
    assert answer.json()["detail"]["by"] == 1
    assert "unknown field" in answer.json()["detail"]["message"]
    assert (
        http.get("/api/v1/projects/absent/runs/groups", params={"by": "state"}).status_code == 404
    )


def test_groups_and_series_sql_on_both_databases(database_engine: Engine, run_dir: Path) -> None:
    """The queries behind the three routes, on SQLite and PostgreSQL, after the real ingest."""
    user = add_user(database_engine, "alice")
    for lr, seed in [(0.1, 1), (0.1, 2), (0.2, 1)]:
        with tether.init(
            project="p", dir=run_dir, mode="offline", console="off", system=False,
            config={"lr": lr}, tags=[f"s{seed}"],
        ) as run:  # fmt: skip
            for step in range(5):
                run.log({"loss": loss(lr, seed, step), "note": "x"}, step=step)
            run.summary["acc"] = seed
        ingest(database_engine, user, run, "p")
    with database_engine.connect() as connection:
        pk = queries.project_pk(connection, user, "p")
        where = to_sql(parse("tags ~ '^s'"), dialect=connection.dialect.name, owner="alice")
        found = group_runs(
            connection, owner="alice", project_pk=pk, by=[parse_field("config.lr")], where=where
        )
        assert [(g.label, len(g.pks)) for g in found] == [
            ("config.lr=0.1", 2),
            ("config.lr=0.2", 1),
        ]
        assert groups_json(found)[0]["summary"]["acc"]["mean"] == 1.5
        chosen = select(runs.c.id).where(runs.c.project_id == pk)
        series = read_series(connection, chosen, ["loss", "note"], points=100)
        flat = {key: read_flat(connection, chosen, key, points=100) for key in ("loss", "note")}
    assert all(set(by_key) == {"loss"} for by_key in series.values())  # text has no line
    assert len(flat["note"].steps) == 0 and list(flat["loss"].lengths) == [5, 5, 5]
    lines = group_history(found, flat, agg="mean", band="minmax", points=100)
    assert "note" not in lines["config.lr=0.1"]
    line = lines["config.lr=0.1"]["loss"]
    assert line["step"] == [0, 1, 2, 3, 4] and line["n"] == [2] * 5
    assert line["value"][2] == pytest.approx((loss(0.1, 1, 2) + loss(0.1, 2, 2)) / 2)


def test_cut_many_keeps_what_one_series_downsampled_keeps() -> None:
    """The batch's min/max reduction, all series of a length at once, equals the single-run
    history's (``Series.downsampled``), NaN included."""
    rng = np.random.default_rng(0)
    made = []
    for length in (1000, 1000, 77, 5000, 3):
        values = rng.normal(size=length)
        values[rng.integers(0, length, size=length // 10)] = np.nan
        made.append((np.arange(length, dtype=np.int64), values))
    for points in (500, 10, 2):
        for (steps, values), (got_steps, got_values) in zip(
            made, cut_many(made, points), strict=True
        ):
            expected = Series("k", "", steps, np.zeros(len(steps)), values).downsampled(points)
            assert np.array_equal(got_steps, expected.steps)
            assert np.array_equal(got_values, expected.values, equal_nan=True)
