"""A small sweep for the workspace tests: real tether runs (offline), uploaded segment by
segment through the server's API as the uploader sends them; and the one server those tests
share (``workspace``, session-scoped, made available by ``tests/server/conftest.py``)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

import tether
from tests.server.accounts import Account, add_team, add_user
from tether.server.auth import User
from tether.server.ingest import ingest_segment
from tether.server.storage.db import make_engine, migrate
from tether.server.testing import LiveServer
from tether.store import format as fmt

POSTGRES_URL = os.environ.get("TETHER_TEST_POSTGRES_URL")
LRS = (0.001, 0.01, 0.1)
SEEDS = (1, 2, 3)
STEPS = 40


def loss(lr: float, seed: int, step: int) -> float:
    return lr * 100 / (step + 1) + seed * 0.01


def accuracy(lr: float, seed: int) -> float:
    return round(0.5 + lr * 4 + seed * 0.01, 6)


@dataclass(frozen=True)
class SweepRun:
    id: str
    lr: float
    seed: int


def make_sweep(directory: Path, http: httpx.Client, project: str) -> list[SweepRun]:
    """Nine runs (3 learning rates x 3 seeds) in group ``sweep``, the seed-1 runs tagged
    ``baseline``; each logs ``train/loss`` for ``STEPS`` steps and ``best_acc``."""
    made = []
    for lr in LRS:
        for seed in SEEDS:
            with tether.init(
                project=project,
                dir=directory,
                mode="offline",
                console="off",
                system=False,
                group="sweep",
                tags=["baseline"] if seed == 1 else [],
                name=f"lr{lr}-s{seed}",
                config={"lr": lr, "seed": seed, "opt": "adam" if seed < 3 else "sgd"},
            ) as run:
                for step in range(STEPS):
                    run.log({"train/loss": loss(lr, seed, step)}, step=step)
                run.summary["best_acc"] = accuracy(lr, seed)
            upload(http, run, project)
            made.append(SweepRun(run.id, lr, seed))
    return made


def upload(http: httpx.Client, run: tether.Run, project: str, owner: str | None = None) -> None:
    """The run's segments PUT whole, into ``project`` of ``owner`` (None: the key's own)."""
    prefix = "/api/v1" if owner is None else f"/api/v1/owners/{owner}"
    for path in sorted((run.dir / fmt.SEGMENTS_DIR).iterdir()):
        writer = path.stem.rsplit("-", 1)[1]
        answer = http.put(
            f"{prefix}/projects/{project}/runs/{run.id}/segments/{writer}",
            params={"offset": 0},
            content=path.read_bytes(),
        )
        answer.raise_for_status()


def ingest(engine: Engine, user: User, run: tether.Run, project: str) -> None:
    """The run's segments through the server's own ingest, without a server."""
    for path in sorted((run.dir / fmt.SEGMENTS_DIR).iterdir()):
        ingest_segment(
            engine,
            user,
            project=project,
            run_id=run.id,
            writer_id=path.stem.rsplit("-", 1)[1],
            offset=0,
            body=path.read_bytes(),
        )


@dataclass
class Workspace:
    """One server for the workspace tests (they share it: a server takes seconds to start):
    the admin's project ``sweep`` (``make_sweep``), and the team ``lab`` (alice its admin, bob
    a member, carol a viewer) with project ``p`` of four runs (the views and bulk tests')."""

    server: LiveServer
    http: httpx.Client  # the server admin's
    sweep: list[SweepRun]
    accounts: dict[str, Account]
    lab_runs: list[tether.Run]


@pytest.fixture(scope="session")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    root = tmp_path_factory.mktemp("workspace")
    with (
        LiveServer(root / "server") as server,
        httpx.Client(base_url=server.base_url, headers=server.headers, timeout=60) as http,
    ):
        accounts = {n: add_user(server, n) for n in ("alice", "bob", "carol")}
        add_team(server, "lab", {"alice": "admin", "bob": "member", "carol": "viewer"})
        lab_runs = []
        for i in range(4):
            with tether.init(
                project="p", dir=root / "lab", mode="offline", console="off", system=False,
                tags=["old"] if i < 2 else [], config={"i": i},
            ) as run:  # fmt: skip
                run.log({"loss": 1.0 / (i + 1)})
            upload(http, run, "p", owner="lab")
            lab_runs.append(run)
        try:
            yield Workspace(
                server, http, make_sweep(root / "runs", http, "sweep"), accounts, lab_runs
            )
        finally:
            for account in accounts.values():
                account.client.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated database of its own: SQLite, then PostgreSQL (``TETHER_TEST_POSTGRES_URL``)."""
    if request.param == "sqlite":
        made = make_engine(f"sqlite:///{tmp_path / 'tether.db'}")
        migrate(made)
        yield made
        made.dispose()
        return
    if not POSTGRES_URL:
        pytest.skip("TETHER_TEST_POSTGRES_URL not set (scripts/postgres.sh prints one)")
    import psycopg

    name = "tether_ws_" + secrets.token_hex(4)
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    made = make_engine(POSTGRES_URL.rsplit("/", 1)[0] + "/" + name)
    try:
        migrate(made)
        yield made
    finally:
        made.dispose()
        with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
