"""Two server processes on one real PostgreSQL database serve the same runs consistently."""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import tether
from tether.server.testing import LiveServer
from tether.store import format as fmt

ADMIN_URL = os.environ.get("TETHER_TEST_POSTGRES_URL")
pytestmark = pytest.mark.skipif(
    not ADMIN_URL, reason="TETHER_TEST_POSTGRES_URL not set (scripts/test.sh sets it)"
)


@pytest.fixture
def database_url() -> Iterator[str]:
    """A fresh database of our own, dropped afterwards."""
    import psycopg

    assert ADMIN_URL is not None
    name = "tether_test_" + secrets.token_hex(4)
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_two_servers_on_one_postgres(tmp_path: Path, database_url: str, run_dir: Path) -> None:
    key = "tth_" + secrets.token_urlsafe(32)
    one = LiveServer(tmp_path / "one", database_url=database_url, api_key=key)
    two = LiveServer(tmp_path / "two", database_url=database_url, api_key=key)
    # Started together: both migrate the same empty database, and register the same admin
    # key, at once. A thread's exception is lost, so each one's outcome is kept and checked.
    errors: list[BaseException] = []

    def start(server: LiveServer) -> None:
        try:
            server.start()
        except BaseException as exc:
            errors.append(exc)

    starters = [threading.Thread(target=start, args=(server,)) for server in (one, two)]
    for thread in starters:
        thread.start()
    for thread in starters:
        thread.join(120)
    try:
        assert not errors, errors
        with tether.init(project="pg", dir=run_dir, console="off") as run:
            for i in range(20_000):
                run.log({"loss": 1.0 / (i + 1), "acc": i / 20_000})
        [segment] = list((run.dir / fmt.SEGMENTS_DIR).iterdir())
        writer = segment.stem.rsplit("-", 1)[1]
        data = segment.read_bytes()
        url = f"/api/v1/projects/pg/runs/{run.id}/segments/{writer}"
        results: list[int] = []

        def upload(server: LiveServer) -> None:
            headers = server.headers
            try:
                with httpx.Client(base_url=server.base_url, headers=headers, timeout=60) as c:
                    for _ in range(5):  # both servers race on the same writer; losers retry
                        response = c.put(url, content=data)
                        if response.status_code == 200:
                            results.append(response.json()["records"])
                            return
                        assert response.status_code == 409, response.text
            except BaseException as exc:
                errors.append(exc)

        racers = [threading.Thread(target=upload, args=(s,)) for s in (one, two)]
        for thread in racers:
            thread.start()
        for thread in racers:
            thread.join(120)
        assert not errors, errors
        assert len(results) == 2, results  # each server answered 200 within five tries
        assert sorted(results)[0] == 0  # whoever came second stored nothing
        for server in (one, two):
            with httpx.Client(base_url=server.base_url, headers=server.headers) as c:
                history = c.get(f"/api/v1/projects/pg/runs/{run.id}/history").json()
                steps = {s["key"]: s["steps"] for s in history["series"]}
                assert steps["loss"] == list(range(20_000)) == steps["acc"]
                detail = c.get(f"/api/v1/projects/pg/runs/{run.id}").json()
                assert detail["state"] == "finished" and detail["last_step"] == 19_999
    finally:
        one.stop()
        two.stop()


def test_a_nul_in_any_text_parameter_is_a_422_not_a_500(
    tmp_path: Path, database_url: str, run_dir: Path
) -> None:
    server = LiveServer(tmp_path / "srv", database_url=database_url).start()
    try:
        with tether.init(project="pg", dir=run_dir, console="off") as run:
            run.log({"loss": 0.5})
        [segment] = list((run.dir / fmt.SEGMENTS_DIR).iterdir())
        writer = segment.stem.rsplit("-", 1)[1]
        with httpx.Client(base_url=server.base_url, headers=server.headers) as c:
            url = f"/api/v1/projects/pg/runs/{run.id}"
            assert c.put(f"{url}/segments/{writer}", content=segment.read_bytes()).is_success
            for path, name in [
                ("/api/v1/projects/pg/runs", "state"),
                ("/api/v1/projects/pg/runs", "group"),
                ("/api/v1/projects/pg/runs", "tag"),
                ("/api/v1/projects/pg/runs", "search"),
                (f"{url}/history", "keys"),
                (f"{url}/history", "writer"),
                (f"{url}/console", "writer"),
            ]:
                response = c.get(path, params={name: "a\x00b"})
                assert response.status_code == 422, (path, name, response.text)
                assert name in response.text
            assert c.get("/api/v1/projects/pg/runs", params={"search": "a"}).status_code == 200
    finally:
        server.stop()


@pytest.mark.parametrize("holder_inserts", ["user and key", "key"])
def test_servers_starting_together_both_register_the_admin_key(
    database_url: str, holder_inserts: str
) -> None:
    """Deterministically, the race two servers starting at once run: another server's
    transaction has inserted the admin (and) key but not committed when this one looks."""
    from sqlalchemy import insert, select

    from tether.server.auth import bootstrap_admin, digest, user_for_key
    from tether.server.config import server_settings
    from tether.server.storage.db import make_engine, migrate
    from tether.server.storage.schema import api_keys, users

    engine = make_engine(server_settings(database_url=database_url).database_url)
    migrate(engine)
    key = "tth_" + secrets.token_urlsafe(32)
    if holder_inserts == "key":
        with engine.begin() as connection:
            connection.execute(insert(users).values(name="admin", admin=True, created_at=0.0))
    errors: list[BaseException] = []
    try:
        with engine.connect() as holder:
            holder.begin()
            if holder_inserts != "key":
                holder.execute(insert(users).values(name="admin", admin=True, created_at=0.0))
            admin = holder.execute(select(users.c.id).where(users.c.name == "admin")).scalar()
            holder.execute(
                insert(api_keys).values(
                    user_id=admin, prefix=key[:8], digest=digest(key), created_at=0.0
                )
            )

            def other_server() -> None:
                try:
                    bootstrap_admin(engine, key)
                except BaseException as exc:
                    errors.append(exc)

            thread = threading.Thread(target=other_server)
            thread.start()
            thread.join(1.0)  # it is now blocked on the holder's uncommitted unique key
            holder.commit()
        thread.join(60)
        assert not thread.is_alive()
        assert not errors, errors
        with engine.connect() as connection:
            user = user_for_key(connection, key)
            assert user is not None and user.admin
    finally:
        engine.dispose()
