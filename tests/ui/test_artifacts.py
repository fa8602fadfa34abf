"""The artifacts page, its lineage graph and the run page's artifacts tab, in Chromium against a
real server holding runs that real tether processes wrote (offline: artifacts logged and used)
and ``tether sync`` uploaded."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tether.server.app import STATIC_DIR
from tether.server.testing import LiveServer

from .conftest import client_env, screenshot, sign_in

PROJECT = "uiart"

# "producer" logs a dataset (a folder: two files, one nested), two versions of "model" (the
# second with the alias best and metadata), two of "scratch" (for the delete test) and
# "vocab"; "reader-a" uses model:best and dataset:latest and logs "report", "reader-b"
# model:v1, thirteen "fan" runs vocab; "idle" touches nothing.
TRAINING = """
import os
from pathlib import Path
import tether

Path("data/sub").mkdir(parents=True)
Path("data/train.csv").write_text("x,y\\n" + "".join(f"{i},{i * i}\\n" for i in range(500)))
Path("data/sub/labels.txt").write_text("cat\\ndog\\n")

run = tether.init(project="uiart", name="producer", id="producer")
run.log({"loss": 1.0})
run.log_artifact("data", "dataset", type="dataset", metadata={"rows": 500})
Path("model.pt").write_bytes(b"weights-0" * 1000)
run.log_artifact("model.pt", "model", metadata={"score": 0.81, "epoch": 1})
Path("model.pt").write_bytes(b"weights-1" * 3000)
run.log_artifact("model.pt", "model", metadata={"score": 0.93, "epoch": 3,
                 "optimizer": {"name": "adam", "lr": 0.001}}, aliases=("latest", "best"))
for i in range(2):
    Path("scratch.bin").write_bytes(bytes([i]) * 100)
    run.log_artifact("scratch.bin", "scratch", type="tmp")
Path("vocab.txt").write_text("a b c")
run.log_artifact("vocab.txt", "vocab", type="dataset")
run.finish()

for i in range(13):  # more runs than the lineage graph draws
    fan = tether.init(project="uiart", name=f"fan-{i:02d}", id=f"fan-{i:02d}")
    fan.use_artifact("vocab:latest")
    fan.finish()

for name, refs in (("reader-a", ["model:best", "dataset:latest"]), ("reader-b", ["model:v1"])):
    reader = tether.init(project="uiart", name=name, id=name)
    for ref in refs:
        reader.use_artifact(ref)
    if name == "reader-a":  # a run that both used and logged
        Path("report.md").write_text("# eval")
        reader.log_artifact("report.md", "report", type="report")
    reader.finish()

tether.init(project="uiart", name="idle", id="idle").finish()
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    if not (STATIC_DIR / "index.html").is_file():
        pytest.skip("the web UI is not built: run scripts/build-web.sh")
    live = LiveServer(tmp_path_factory.mktemp("ui-artifacts-server")).start()
    try:
        directory = tmp_path_factory.mktemp("ui-artifacts-runs")
        (directory / "train.py").write_text(textwrap.dedent(TRAINING))
        env = client_env(live, TETHER_MODE="offline", TETHER_SYSTEM_INTERVAL_S="0")
        for command in (["train.py"], ["-m", "tether.cli", "sync", "-q", "."]):
            done = subprocess.run(
                [sys.executable, *command], cwd=directory, env=env, timeout=180,
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            assert done.returncode == 0, done.stderr
        yield live
    finally:
        live.stop()


@pytest.fixture
def page(browser: Any, server: LiveServer) -> Iterator[Any]:
    """A signed-in page; page errors fail the test."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    sign_in(context, server)
    context.set_default_timeout(15_000)
    new_page = context.new_page()
    errors: list[str] = []
    new_page.on("pageerror", lambda error: errors.append(str(error)))
    yield new_page
    context.close()
    assert not errors, errors


def _api(server: LiveServer, path: str) -> Any:
    url = f"{server.base_url}/api/v1/projects/{PROJECT}{path}"
    response = httpx.get(url, headers=server.headers, timeout=30)
    response.raise_for_status()
    return response.json()


def _owners(server: LiveServer) -> Any:
    response = httpx.get(f"{server.base_url}/api/v1/owners", headers=server.headers, timeout=30)
    response.raise_for_status()
    return response.json()


def _url(server: LiveServer, path: str = "") -> str:
    return f"{server.base_url}/projects/{PROJECT}/artifacts{path}"


def test_artifact_versions_files_metadata_lineage_and_download(
    page: Any, server: LiveServer
) -> None:
    page.goto(f"{server.base_url}/projects/{PROJECT}")
    # The header's link beside the project leads to its artifacts.
    page.locator("header .project-nav").click()
    page.locator(".artifact-list li").first.wait_for()
    names = page.locator(".artifact-list li").evaluate_all("l => l.map(x => x.dataset.artifact)")
    assert names[:2] == ["dataset", "model"] and names[-1] == "vocab"  # scratch may be gone
    page.locator('.artifact-list li[data-artifact="model"] a').click()
    versions = page.locator('table[data-table="versions"] tbody tr')
    versions.first.wait_for()
    assert versions.evaluate_all("r => r.map(x => x.dataset.version)") == ["v1", "v0"]
    assert sorted(versions.nth(0).locator(".alias").all_inner_texts()) == ["best", "latest"]
    # Without a version in the URL, the latest is shown.
    view = page.locator('.artifact-version[data-version="v1"]')
    view.wait_for()
    assert page.url.endswith("/artifacts/model")
    files = view.locator('table[data-table="files"] tbody tr')
    assert files.evaluate_all("r => r.map(x => x.dataset.path)") == ["model.pt"]
    assert files.locator("td[data-bytes]").get_attribute("data-bytes") == str(9 * 3000)
    metadata = dict(
        zip(
            view.locator('table[data-table="metadata"] th').all_inner_texts(),
            view.locator('table[data-table="metadata"] td').all_inner_texts(),
            strict=True,
        )
    )
    assert metadata["score"] == "0.93" and metadata["optimizer.name"] == "adam"
    # Lineage: the producing run, the version, both runs that used v1 (best is v1).
    lineage = view.locator("svg.lineage")
    assert lineage.locator('[data-node="producer"]').count() == 1
    assert lineage.locator('[data-node="version"] text').text_content() == "model:v1"
    consumers = lineage.locator('[data-node="consumer"] text').all_text_contents()
    assert sorted(consumers) == ["reader-a", "reader-b"]
    assert lineage.locator("path.lineage-edge").count() == 3
    screenshot(page, "artifacts-page", full_page=True)

    # The download link gives the logged bytes, whole.
    with page.expect_download() as caught:
        files.locator("a[download]").click()
    download = caught.value
    assert download.suggested_filename == "model.pt"
    with open(download.path(), "rb") as handle:
        assert handle.read() == b"weights-1" * 3000

    # A click on a consumer in the graph opens that run.
    lineage.locator('a:has([data-node="consumer"])').first.click()
    page.locator(".run-page").wait_for()
    assert "/runs/reader-" in page.url


def test_a_folder_artifact_older_versions_and_the_type_filter(
    page: Any, server: LiveServer
) -> None:
    page.goto(_url(server, "/dataset"))
    view = page.locator('.artifact-version[data-version="v0"]')
    view.wait_for()
    paths = view.locator('table[data-table="files"] tbody tr').evaluate_all(
        "r => r.map(x => x.dataset.path)"
    )
    assert paths == ["sub/labels.txt", "train.csv"]
    # A nested path downloads through its own URL (slashes kept).
    href = view.locator('tr[data-path="sub/labels.txt"] a[download]').get_attribute("href")
    body = page.request.get(server.base_url + href)
    assert body.ok and body.body() == b"cat\ndog\n"
    assert view.locator('[data-node="consumer"] text').all_text_contents() == ["reader-a"]
    # An older version by its row: v0 of model, no alias but its number, used by nobody.
    page.goto(_url(server, "/model"))
    page.locator('table[data-table="versions"] tr[data-version="v0"] td').nth(2).click()
    old = page.locator('.artifact-version[data-version="v0"]')
    old.wait_for()
    assert page.url.endswith("/artifacts/model/v0")
    assert old.locator('[data-node="none"] text').text_content() == "no run used it yet"
    # The type filter keeps only that type's artifacts.
    page.locator('select[aria-label="type"]').select_option("dataset")
    page.wait_for_function("() => document.querySelectorAll('.artifact-list li').length === 2")
    listed = page.locator(".artifact-list li").evaluate_all("l => l.map(x => x.dataset.artifact)")
    assert listed == ["dataset", "vocab"]
    # Thirteen runs used vocab:v0: twelve are drawn, the last node counts the rest.
    page.goto(_url(server, "/vocab"))
    lineage = page.locator('.artifact-version[data-version="v0"] svg.lineage')
    lineage.wait_for()
    drawn = lineage.locator('[data-node="consumer"] text').all_text_contents()
    assert drawn == [f"fan-{i:02d}" for i in range(12)]
    assert lineage.locator('[data-node="none"] text').text_content() == "+1 more runs"
    assert lineage.locator("path.lineage-edge").count() == 1 + 13
    screenshot(page, "artifacts-lineage-many", full_page=True)
    # The same pages under the owner's path (/owners/<owner>/projects/...) ask the owner's API.
    owner = next(o["name"] for o in _owners(server) if o["default"])
    page.goto(f"{server.base_url}/owners/{owner}/projects/{PROJECT}/artifacts/dataset/v0")
    link = page.locator('tr[data-path="sub/labels.txt"] a[download]')
    link.wait_for()
    href = link.get_attribute("href")
    assert href.startswith(f"/api/v1/owners/{owner}/projects/{PROJECT}/artifacts/dataset/v0/")
    assert page.request.get(server.base_url + href).body() == b"cat\ndog\n"
    # A version that does not exist says which do.
    page.goto(_url(server, "/model/v99"))
    error = page.locator(".error-box")
    error.wait_for()
    assert "v99" in error.inner_text() and "v0, v1" in error.inner_text()


def test_aliases_set_and_removed_and_a_version_deleted(page: Any, server: LiveServer) -> None:
    page.goto(_url(server, "/scratch/v0"))
    view = page.locator('.artifact-version[data-version="v0"]')
    view.wait_for()
    view.locator('input[name="alias"]').fill("prod")
    view.locator(".alias-form button").click()
    view.locator('.alias[data-alias="prod"]').wait_for()
    assert _api(server, "/artifacts/scratch/prod")["version"] == "v0"
    # The versions table follows.
    page.locator('table[data-table="versions"] tr[data-version="v0"] .alias').wait_for()
    # 'latest' cannot be set by hand: the server's refusal is shown.
    view.locator('input[name="alias"]').fill("latest")
    view.locator(".alias-form button").click()
    assert "latest" in view.locator(".error-text").inner_text()
    view.locator('.alias[data-alias="prod"] button').click()
    view.locator('.alias[data-alias="prod"]').wait_for(state="detached")
    listed = {a["name"]: a for a in _api(server, "/artifacts")}
    assert "prod" not in listed["scratch"]["aliases"]

    # Deleting the newest version (confirmed) from the artifact's page (shown as latest, so
    # the URL stays) shows v0, now the latest.
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(_url(server, "/scratch"))
    page.locator('.artifact-version[data-version="v1"]').wait_for()
    page.locator(".artifact-version button.danger").click()
    page.locator('.artifact-version[data-version="v0"]').wait_for()
    page.wait_for_function(
        "() => document.querySelectorAll('table[data-table=\"versions\"] tbody tr').length === 1"
    )
    assert [v["version"] for v in _api(server, "/artifacts/scratch/versions")] == ["v0"]
    # Deleting the last version takes the artifact away: back to the project's artifacts.
    page.locator(".artifact-version button.danger").click()
    page.wait_for_url(_url(server))
    page.wait_for_function(
        "() => !document.querySelector('.artifact-list li[data-artifact=\"scratch\"]')"
    )
    assert "scratch" not in {a["name"] for a in _api(server, "/artifacts")}


def test_run_page_artifacts_tab(page: Any, server: LiveServer) -> None:
    page.goto(f"{server.base_url}/projects/{PROJECT}/runs/producer")
    page.locator('.tabs a:text-is("artifacts")').click()
    logged = page.locator('table[data-table="logged"] tbody tr')
    logged.first.wait_for()
    refs = logged.evaluate_all("r => r.map(x => x.dataset.artifact)")
    assert {"dataset:v0", "model:v0", "model:v1", "vocab:v0"} <= set(refs)  # scratch: deleted?
    assert page.locator('[data-section="used"] .muted').first.inner_text() == "0"
    screenshot(page, "run-artifacts-tab", full_page=True)

    # Both lists of a run that used and logged, from one request (not one per version).
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/api/v1/" in r.url else None)
    page.goto(f"{server.base_url}/projects/{PROJECT}/runs/reader-a/artifacts")
    used = page.locator('table[data-table="used"] tbody tr')
    used.first.wait_for()
    assert sorted(used.evaluate_all("r => r.map(x => x.dataset.artifact)")) == [
        "dataset:v0",
        "model:v1",
    ]
    logged = page.locator('table[data-table="logged"] tbody tr')
    assert logged.evaluate_all("r => r.map(x => x.dataset.artifact)") == ["report:v0"]
    assert page.locator('[data-section="used"] h2 .muted').inner_text() == "2"
    assert used.locator('a:text-is("producer")').count() == 2  # who logged what it used
    artifact_requests = [url for url in asked if "artifacts" in url.split("/api/v1/", 1)[1]]
    assert artifact_requests == [
        f"{server.base_url}/api/v1/projects/{PROJECT}/runs/reader-a/artifacts"
    ]
    screenshot(page, "run-artifacts-both", full_page=True)
    # Each row links to the version's page.
    used.locator('a:text-is("model:v1")').click()
    page.locator('.artifact-version[data-version="v1"]').wait_for()

    page.goto(f"{server.base_url}/projects/{PROJECT}/runs/idle/artifacts")
    assert "logged and used no artifacts" in page.locator(".empty").inner_text()
