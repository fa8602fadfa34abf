"""What every answer carries and every request must pass (issue 11): security headers, no
Swagger UI from a CDN, no 500 for a NUL in a path, allowed Host names, private file modes."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tether.server.app import STATIC_DIR
from tether.server.testing import LiveServer


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with LiveServer(tmp_path_factory.mktemp("headers") / "srv") as live:
        yield live


@pytest.mark.parametrize(
    ("path", "keyed"),
    [
        ("/", False),
        ("/projects/p", False),
        ("/api/v1/health", False),
        ("/api/v1/projects", True),
        ("/api/v1/projects", False),  # 401
        ("/api/v1/projects/nope/runs/none", True),  # 404
        ("/api/openapi.json", False),
    ],
)
def test_every_answer_has_the_security_headers(server: LiveServer, path: str, keyed: bool) -> None:
    response = httpx.get(server.base_url + path, headers=server.headers if keyed else {})
    policy = response.headers["content-security-policy"]
    assert "script-src 'self';" in policy and "unsafe-inline" not in policy.split("style-src")[0]
    assert "frame-ancestors 'none'" in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"


def test_api_docs_load_nothing_from_a_cdn(server: LiveServer) -> None:
    response = httpx.get(server.base_url + "/api/docs")
    assert response.status_code == 404
    assert "cdn" not in response.text.lower()
    assert httpx.get(server.base_url + "/api/openapi.json").status_code == 200


def test_the_built_page_has_no_inline_script() -> None:
    index = STATIC_DIR / "index.html"
    if not index.is_file():
        pytest.skip("the web UI is not built (scripts/build-web.sh)")
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", index.read_text(), re.S)
    assert scripts, "index.html loads no script at all"
    for attributes, body in scripts:
        assert "src=" in attributes and not body.strip(), f"inline script: {body[:80]!r}"


@pytest.mark.parametrize("path", ["/%00", "/a%00b", "/projects/%00", "/api/v1/projects/%00"])
def test_a_nul_in_a_path_is_a_4xx(server: LiveServer, path: str) -> None:
    response = httpx.get(server.base_url + path, headers=server.headers)
    assert 400 <= response.status_code < 500, response.text
    assert "internal error" not in response.text


@pytest.mark.parametrize(
    "path",
    [
        "/" + "a" * 300,  # longer than a file name may be: ENAMETOOLONG was a 500
        "/projects/" + "b" * 5000,
        "/api/v1/owners/bad!name/projects",
        "/api/v1/owners/%00/projects",  # reached PostgreSQL, which refuses a NUL: a 500
        "/api/v1/owners/" + "c" * 300 + "/projects",
    ],
)
def test_odd_paths_are_never_a_500(server: LiveServer, path: str) -> None:
    response = httpx.get(server.base_url + path, headers=server.headers)
    assert response.status_code < 500, response.text
    if "/owners/" in path:
        assert response.status_code == 422 and "owner" in response.text, response.text


def test_server_answers_only_its_allowed_host_names(tmp_path: Path) -> None:
    command = [
        sys.executable, "-m", "tether.cli", "server", "--port", "0", "--data-dir",
        str(tmp_path / "srv"), "--allowed-host", "tether.example.org",
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("TETHER_")}
    server = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert server.stderr is not None
        line = ""
        while "listening on" not in line:
            line = server.stderr.readline()
            assert line, "the server exited"
        url = line.split("listening on ")[1].split()[0] + "/api/v1/health"
        assert httpx.get(url, headers={"Host": "tether.example.org"}).status_code == 200
        assert httpx.get(url, headers={"Host": "tether.example.org:443"}).status_code == 200
        assert httpx.get(url).status_code == 200  # loopback names always
        refused = httpx.get(url, headers={"Host": "attacker.example.com"})
        assert refused.status_code == 400
        assert "--allowed-host" in refused.json()["detail"]
    finally:
        server.terminate()
        server.wait(30)


def test_allowed_hosts_also_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TETHER_SERVER_ALLOWED_HOSTS", "a.example.org, b.example.org:8443")
    with LiveServer(tmp_path / "srv") as server:
        url = server.base_url + "/api/v1/health"
        assert httpx.get(url, headers={"Host": "a.example.org"}).status_code == 200
        assert httpx.get(url, headers={"Host": "b.example.org:8443"}).status_code == 200
        assert httpx.get(url, headers={"Host": "b.example.org:9999"}).status_code == 400
        assert httpx.get(url, headers={"Host": "c.example.org"}).status_code == 400


def test_data_directory_and_database_are_private(server: LiveServer) -> None:
    data = server.data_dir
    httpx.get(server.base_url + "/api/v1/projects", headers=server.headers).raise_for_status()
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    files = [data / "tether.db", data / "session.secret", *data.glob("tether.db-*")]
    assert len(files) >= 3, files  # the database, the secret, WAL files
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
