"""The settings page for one's own keys and the team page for team admins, in a real browser
(issue 11): a key created there is shown once and works, revoking it ends it; a team admin adds
a member, changes its role and makes a team key."""

from __future__ import annotations

from typing import Any

import httpx

from .conftest import UiServer, screenshot


def _status(ui_server: UiServer, key: str, path: str = "/viewer") -> int:
    headers = {"Authorization": f"Bearer {key}"}
    return httpx.get(ui_server.url + "/api/v1" + path, headers=headers, timeout=30).status_code


def test_keys_page_creates_a_key_shown_once_and_revokes_it(page: Any, ui_server: UiServer) -> None:
    page.goto(ui_server.url + "/settings/keys")
    page.locator("table.keys").wait_for()
    form = page.locator("form.new-key")
    form.get_by_label("description").fill("laptop from the UI")
    form.get_by_role("button", name="Create key").click()
    key = page.locator(".created-key code").inner_text()
    assert key.startswith("tth_") and _status(ui_server, key) == 200
    row = page.locator(f'tr[data-key="{key[:8]}"]')
    row.get_by_text("laptop from the UI").wait_for()
    screenshot(page, "keys-page")
    row.get_by_role("button", name="revoke").click()
    page.locator(f'tr[data-key="{key[:8]}"][data-state="revoked"]').wait_for()
    assert _status(ui_server, key) == 401
    page.reload()  # shown once: a new page knows only the prefix
    page.locator("table.keys").wait_for()
    assert key not in page.content()


def _put_member(response: Any) -> bool:
    return bool(response.request.method == "PUT" and "/members/ui-member" in response.url)


def _role(admin: httpx.Client) -> str:
    members = admin.get("/teams/ui-lab").json()["members"]
    return str(next(m["role"] for m in members if m["user"] == "ui-member"))


def test_team_page_lets_its_admin_manage_members_and_keys(page: Any, ui_server: UiServer) -> None:
    headers = ui_server.server.headers
    with httpx.Client(base_url=ui_server.url + "/api/v1", headers=headers, timeout=30) as admin:
        admin.post("/users", json={"name": "ui-member"}).raise_for_status()
        admin.post("/teams", json={"name": "ui-lab"}).raise_for_status()
        page.goto(ui_server.url + "/teams/ui-lab")
        adding = page.locator("form.add-member")
        adding.get_by_label("user").fill("ui-member")
        adding.get_by_label("role").select_option("viewer")
        with page.expect_response(_put_member) as added:
            adding.get_by_role("button", name="Add member").click()
        assert added.value.ok and _role(admin) == "viewer"
        page.locator('tr[data-member="ui-member"]').wait_for()
        with page.expect_response(_put_member) as changed:
            page.get_by_label("role of ui-member").select_option("member")
        assert changed.value.ok and _role(admin) == "member"
        keys = page.locator("form.new-key")
        keys.get_by_label("description").fill("ci")
        keys.get_by_role("button", name="Create key").click()
        team_key = page.locator(".created-key code").inner_text()
        screenshot(page, "team-page")
    assert _status(ui_server, team_key, "/owners/ui-lab/projects") == 200
    assert _status(ui_server, team_key, "/teams/ui-lab/keys") == 403
