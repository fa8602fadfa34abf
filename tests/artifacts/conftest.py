"""The server the artifacts tests share per module: one on SQLite, one on PostgreSQL (a module
that needs another kind, such as ``test_client_server.py``, defines its own ``server``)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tether.server.testing import LiveServer

from .server_helpers import server_per_database


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    yield from server_per_database(request, tmp_path_factory)


@pytest.fixture
def http(server: LiveServer) -> Iterator[httpx.Client]:
    """The server admin's client, at ``/api/v1``."""
    with httpx.Client(
        base_url=server.base_url + "/api/v1", headers=server.headers, timeout=120
    ) as client:
        yield client
