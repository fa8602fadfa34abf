"""The run filter over HTTP and from ``tether.Api``: ``GET P/runs?filter=``, 422 with the
position for a malformed one, ``GET P/runs/keys``; against a real server holding a sweep."""

from __future__ import annotations

import httpx
import pytest

import tether
from tests.server.sweep import Workspace


@pytest.fixture
def http(workspace: Workspace) -> httpx.Client:
    return workspace.http


def _names(answer: httpx.Response) -> list[str]:
    assert answer.status_code == 200, answer.text
    return [run["name"] for run in answer.json()["runs"]]


def test_filter_lists_the_runs_it_names_with_total_and_order(http: httpx.Client) -> None:
    answer = http.get(
        "/api/v1/projects/sweep/runs",
        params={"filter": "config.lr < 0.05 and summary.best_acc > 0.5", "order": "name"},
    )
    assert _names(answer) == ["lr0.001-s1", "lr0.001-s2", "lr0.001-s3", "lr0.01-s1",
                              "lr0.01-s2", "lr0.01-s3"]  # fmt: skip
    assert answer.json()["total"] == 6
    tagged = http.get("/api/v1/projects/sweep/runs", params={"filter": 'tags has "baseline"'})
    assert sorted(_names(tagged)) == ["lr0.001-s1", "lr0.01-s1", "lr0.1-s1"]
    # The other parameters still narrow it; a blank filter is no filter.
    both = http.get(
        "/api/v1/projects/sweep/runs", params={"filter": "name ~ '^lr0.1'", "search": "s2"}
    )
    assert _names(both) == ["lr0.1-s2"]
    assert len(_names(http.get("/api/v1/projects/sweep/runs", params={"filter": "  "}))) == 9


@pytest.mark.parametrize(
    ("text", "position"),
    [("config.lr <", 11), ("lr < 1", 0), ("state = finished)", 16), ("name ~ '('", 7)],
)
def test_malformed_filter_is_422_with_message_position_expected(
    http: httpx.Client, text: str, position: int
) -> None:
    answer = http.get("/api/v1/projects/sweep/runs", params={"filter": text})
    assert answer.status_code == 422, answer.text
    detail = answer.json()["detail"]
    assert detail["position"] == position
    assert detail["message"] and isinstance(detail["expected"], list)


@pytest.mark.parametrize(
    ("route", "params"),
    [
        ("runs", {}),
        ("runs/groups", {"by": "config.lr"}),
        ("runs/groups/history", {"by": "config.lr", "keys": "loss"}),
    ],
)
@pytest.mark.parametrize(
    ("text", "position", "words"),
    [
        ("config.lr > 1" + "0" * 400, 12, "too large"),  # float() overflowed: a 500
        ("name ~ '(.*)*x'", 7, "repetition"),  # would stall SQLite's Python re
        ("name ~ '(a|aa)+$'", 7, "alternation"),
    ],
)
def test_filters_a_database_cannot_run_safely_are_422_on_every_route(
    http: httpx.Client, route: str, params: dict[str, str], text: str, position: int, words: str
) -> None:
    answer = http.get(f"/api/v1/projects/sweep/{route}", params={**params, "filter": text})
    assert answer.status_code == 422, answer.text
    detail = answer.json()["detail"]
    assert detail["position"] == position and words in detail["message"]


def test_filter_with_nul_or_too_long_is_422(http: httpx.Client) -> None:
    for text in ("name = '\x00'", "state = x or " * 400):
        answer = http.get("/api/v1/projects/sweep/runs", params={"filter": text})
        assert answer.status_code == 422, answer.text


def test_keys_lists_what_the_runs_hold(http: httpx.Client) -> None:
    answer = http.get("/api/v1/projects/sweep/runs/keys")
    assert answer.status_code == 200, answer.text
    keys = answer.json()
    assert keys["config"] == ["lr", "opt", "seed"]
    assert "best_acc" in keys["summary"] and "train/loss" in keys["summary"]
    assert keys["tags"] == ["baseline"]
    assert keys["groups"] == ["sweep"]
    assert keys["users"] == ["admin"]
    assert len(keys["hosts"]) == 1
    assert http.get("/api/v1/projects/nope/runs/keys").status_code == 404


def test_api_runs_filter_and_its_value_error(workspace: Workspace) -> None:
    server = workspace.server
    api = tether.Api(server.base_url, server.api_key)
    found = api.runs("sweep", filter="config.opt = sgd", order="config.lr")
    assert [run.name for run in found] == ["lr0.001-s3", "lr0.01-s3", "lr0.1-s3"]
    with pytest.raises(ValueError, match="expected a value") as caught:
        api.runs("sweep", filter="config.lr <")
    assert str(caught.value).splitlines()[1:3] == ["  config.lr <", "             ^"]
    with pytest.raises(TypeError, match="as a string"):
        api.runs("sweep", filter=3)  # type: ignore[arg-type]
