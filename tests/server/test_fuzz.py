"""Schemathesis fuzzes every operation of the OpenAPI schema: no input may answer 500."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

import tether
from tether.server.testing import LiveServer
from tether.store import format as fmt


@pytest.fixture(scope="module")
def fuzzed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    base = tmp_path_factory.mktemp("fuzz")
    server = LiveServer(base / "data").start()
    # A run to find, so that reads reach past the 404s.
    with tether.init(project="proj", dir=base, id="run1", console="off") as run:
        for i in range(100):
            run.log({"loss": float(i), "text": str(i)})
    [segment] = list((run.dir / fmt.SEGMENTS_DIR).iterdir())
    writer = segment.stem.rsplit("-", 1)[1]
    httpx.put(
        f"{server.base_url}/api/v1/projects/proj/runs/run1/segments/{writer}",
        content=segment.read_bytes(),
        headers=server.headers,
    ).raise_for_status()
    yield server
    server.stop()


def test_no_input_makes_the_server_fail(fuzzed_server: LiveServer) -> None:
    # Schemathesis generates the cases from the served schema; Hypothesis drives them (the
    # plugin's own pytest integration does not run under pytest 9, so we drive it here).
    schema = schemathesis.openapi.from_url(f"{fuzzed_server.base_url}/api/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 7
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=30,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: schemathesis.Case) -> None:
            for headers in (fuzzed_server.headers, {}):
                response = case.call(headers=headers)
                case.validate_response(response, checks=[not_a_server_error])
                if response.status_code >= 400:
                    assert "detail" in response.json(), response.text

        check()


def test_openapi_lists_the_v1_api(fuzzed_server: LiveServer) -> None:
    paths = httpx.get(f"{fuzzed_server.base_url}/api/openapi.json").json()["paths"]
    assert "/api/v1/projects" in paths
    assert "/api/v1/projects/{project}/runs/{run_id}/segments/{writer_id}" in paths
    assert all(path.startswith("/api/v1/") for path in paths)
