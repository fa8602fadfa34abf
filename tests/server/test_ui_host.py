"""`tether ui` (issue 11): only its own database, only loopback Host names with its port, and
no keyless write without the CSRF header."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import tether
from tether.server.testing import LiveServer


@pytest.fixture
def shared_database(tmp_path: Path) -> Path:
    """A shared server's SQLite database holding a run of project `shared`."""
    data = tmp_path / "shared-server"
    with LiveServer(data) as server:
        with tether.init(project="shared", dir=tmp_path / "client", id="secret", console="off"):
            pass
        subprocess.run(
            [sys.executable, "-m", "tether.cli", "sync", str(tmp_path / "client")],
            env={**os.environ, "TETHER_BASE_URL": server.base_url,
                 "TETHER_API_KEY": server.api_key},
            check=True, capture_output=True,
        )  # fmt: skip
    return data / "tether.db"


@pytest.fixture
def ui(tmp_path: Path, shared_database: Path) -> Iterator[tuple[str, int]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TETHER_")}
    env["TETHER_SERVER_DATABASE_URL"] = f"sqlite:///{shared_database}"
    (tmp_path / "local").mkdir()
    process = subprocess.Popen(
        [sys.executable, "-m", "tether.cli", "ui", str(tmp_path / "local"), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)", line)
        assert match, line
        yield match.group(0), int(match.group(1))
    finally:
        process.terminate()
        process.wait(30)


def _keys(database: Path) -> int:
    with sqlite3.connect(database) as connection:
        return int(connection.execute("SELECT count(*) FROM api_keys").fetchone()[0])


def test_ui_never_opens_the_database_the_environment_names(
    tmp_path: Path, shared_database: Path, ui: tuple[str, int]
) -> None:
    # `ui` runs with TETHER_SERVER_DATABASE_URL naming the shared server's database.
    projects = httpx.get(ui[0] + "/api/v1/projects", timeout=30).json()
    assert "shared" not in str(projects)  # the shared server's runs are not served
    assert _keys(shared_database) == 1  # its admin key only: the UI wrote none into it
    assert (tmp_path / "local" / ".ui" / "tether.db").is_file()


def test_ui_answers_only_loopback_names_with_its_port(ui: tuple[str, int]) -> None:
    url, port = ui
    health = url + "/api/v1/health"
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"LOCALHOST:{port}"):
        assert httpx.get(health, headers={"Host": host}).status_code == 200, host
    # A DNS-rebinding page's requests carry its own name (and perhaps another port).
    for host in (f"attacker.example.com:{port}", "attacker.example.com", f"localhost:{port + 1}",
                 "localhost", f"127.0.0.1.nip.io:{port}"):  # fmt: skip
        response = httpx.get(url + "/api/v1/projects", headers={"Host": host})
        assert response.status_code == 400, host
        assert "runs" not in response.text


def test_ui_keyless_writes_need_the_csrf_header(ui: tuple[str, int]) -> None:
    url, _ = ui
    upload = url + "/api/v1/projects/p/runs/r/segments/w"
    assert httpx.put(upload, content=b"").status_code == 403
    assert httpx.put(upload, content=b"", headers={"X-Tether-CSRF": "local"}).status_code == 200
    assert httpx.get(url + "/api/v1/projects").status_code == 200  # reads need nothing
