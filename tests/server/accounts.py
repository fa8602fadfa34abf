"""Helpers for the team and key tests: a live server on SQLite or PostgreSQL, and accounts
made through its admin API (a real server, a real database; nothing mocked)."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tether.server.testing import LiveServer

POSTGRES_URL = os.environ.get("TETHER_TEST_POSTGRES_URL")


@contextlib.contextmanager
def fresh_database(kind: str) -> Iterator[str | None]:
    """None for ``"sqlite"`` (SQLite in the server's data dir), or for ``"postgresql"`` the
    URL of a fresh PostgreSQL database, dropped after (skips the test without one)."""
    if kind == "sqlite":
        yield None
        return
    if not POSTGRES_URL:
        pytest.skip("TETHER_TEST_POSTGRES_URL not set (scripts/postgres.sh prints one)")
    import psycopg

    name = "tether_test_" + secrets.token_hex(4)
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def server_on(kind: str, data_dir: Path) -> Iterator[LiveServer]:
    """A live server in ``data_dir`` on ``kind``'s database (``fresh_database``), stopped and
    its database dropped after: the body of a server fixture parametrised by database."""
    with fresh_database(kind) as url:
        live = LiveServer(data_dir, database_url=url).start()
        try:
            yield live
        finally:
            live.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str | None]:
    """None (SQLite in the server's data dir), or a fresh PostgreSQL database, dropped after."""
    with fresh_database(request.param) as url:
        yield url


@pytest.fixture
def server(tmp_path: Path, database_url: str | None) -> Iterator[LiveServer]:
    """A live server on each database; ``.api_key`` is the server admin's."""
    live = LiveServer(tmp_path / "server-data", database_url=database_url).start()
    try:
        yield live
    finally:
        live.stop()


@dataclass
class Account:
    name: str
    key: str
    client: httpx.Client


def client(server: LiveServer, key: str | None) -> httpx.Client:
    headers = {} if key is None else {"Authorization": f"Bearer {key}"}
    return httpx.Client(base_url=server.base_url + "/api/v1", headers=headers, timeout=60)


def admin_client(server: LiveServer) -> httpx.Client:
    return client(server, server.api_key)


def add_user(server: LiveServer, name: str) -> Account:
    with admin_client(server) as admin:
        answer = admin.post("/users", json={"name": name})
    assert answer.status_code == 201, answer.text
    key = answer.json()["key"]["key"]
    return Account(name, key, client(server, key))


def add_team(server: LiveServer, name: str, roles: dict[str, str]) -> None:
    with admin_client(server) as admin:
        created = admin.post("/teams", json={"name": name})
        assert created.status_code == 201, created.text
        for user, role in roles.items():
            added = admin.put(f"/teams/{name}/members/{user}", json={"role": role})
            assert added.status_code == 200, added.text
