"""The owner switcher (issue 11): a user signed in to the web UI sees the projects of its own
namespace and of each team it belongs to, with the team named; links go to owner-qualified
pages (/owners/<owner>/projects/...), whose runs and charts load from the owner's API paths."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import httpx

from .conftest import UiServer, screenshot

TEAM = "ui-owners-lab"
# One run in the user's own namespace, one in its team's: a real training, uploaded by sync.
TRAINING = f"""
import tether
for project in ("owners-own", "{TEAM}/owners-team"):
    with tether.init(project=project, name=project.replace("/", "-"), console="off") as run:
        for step in range(30):
            run.log({{"loss": 1.0 / (step + 1)}}, step=step)
"""


def _user_with_runs(ui_server: UiServer, tmp_path: Path) -> str:
    """User ``ui-owner``, a member of TEAM (not of ``ui-owners-other``), with its runs; its key."""
    admin = httpx.Client(
        base_url=ui_server.url + "/api/v1", headers=ui_server.server.headers, timeout=30
    )
    with admin:
        created = admin.post("/users", json={"name": "ui-owner"})
        assert created.status_code == 201, created.text
        for team in (TEAM, "ui-owners-other"):
            admin.post("/teams", json={"name": team}).raise_for_status()
        admin.put(f"/teams/{TEAM}/members/ui-owner", json={"role": "member"}).raise_for_status()
    key = str(created.json()["key"]["key"])
    (tmp_path / "train.py").write_text(textwrap.dedent(TRAINING))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TETHER_")}
    env.update(TETHER_BASE_URL=ui_server.url, TETHER_API_KEY=key, TETHER_MODE="offline")
    for command in (["train.py"], ["-m", "tether.cli", "sync", "-q", "."]):
        subprocess.run(
            [sys.executable, *command], cwd=tmp_path, env=env, check=True, timeout=120,
            capture_output=True,
        )  # fmt: skip
    return key


def test_projects_of_every_owner_and_owner_qualified_pages(
    browser: Any, ui_server: UiServer, tmp_path: Path
) -> None:
    key = _user_with_runs(ui_server, tmp_path)
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(15_000)
    signed_in = context.request.post(
        ui_server.url + "/api/v1/session",
        data=f'{{"key": "{key}"}}',
        headers={"Content-Type": "application/json"},
    )
    assert signed_in.ok, signed_in.text()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(ui_server.url + "/")
        rows = page.locator("table.projects tbody tr")
        page.locator(f'tr[data-owner="{TEAM}"]').wait_for()
        assert sorted(rows.evaluate_all("rs => rs.map(r => r.dataset.owner)")) == [
            "ui-owner",
            TEAM,
        ]
        assert "team" in page.locator(f'tr[data-owner="{TEAM}"] td').first.inner_text()
        switcher = page.get_by_label("owner", exact=True)
        options = switcher.locator("option").evaluate_all("os => os.map(o => o.value)")
        assert options == ["", "ui-owner", TEAM]  # not the team it does not belong to
        screenshot(page, "projects-owners")

        # The switcher narrows the list to one owner, in a URL that can be linked.
        switcher.select_option(TEAM)
        page.wait_for_url(re.compile(f"/projects\\?owner={TEAM}$"))
        page.wait_for_function("document.querySelectorAll('table.projects tbody tr').length === 1")
        page.get_by_role("link", name="owners-team").click()
        page.wait_for_url(re.compile(f"/owners/{TEAM}/projects/owners-team$"))
        page.get_by_role("link", name=f"{TEAM}-owners-team").click()
        page.wait_for_url(re.compile(f"/owners/{TEAM}/projects/owners-team/runs/[^/]+$"))
        page.locator(".panel[data-key='loss'] .chart[data-drawn]").wait_for()

        # An owner-qualified page loads on its own (a reload, a shared link).
        page.reload()
        page.locator(".panel[data-key='loss'] .chart[data-drawn]").wait_for()
        page.goto(ui_server.url + "/owners/ui-owner/projects/owners-own")
        page.locator(".runs-row[data-run]").first.wait_for()
        # A team it cannot see answers as if it did not exist.
        page.goto(ui_server.url + "/owners/ui-owners-other/projects/owners-team")
        page.locator(".error-box[data-status='404']").wait_for()
    finally:
        context.close()
    assert not errors, errors
