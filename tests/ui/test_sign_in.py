"""Sign-in in a real browser (issue 11): the key is typed once and traded for an HttpOnly,
SameSite=Strict session cookie; no storage of the page holds the key, and the page runs under
the server's CSP without a violation."""

from __future__ import annotations

from typing import Any

from .conftest import PROJECT, UiServer, screenshot


def test_sign_in_with_a_key_keeps_a_session_not_the_key(browser: Any, ui_server: UiServer) -> None:
    key = ui_server.server.api_key
    context = browser.new_context()
    violations: list[str] = []
    try:
        page = context.new_page()
        page.on(
            "console",
            lambda message: (
                violations.append(message.text)
                if "Content Security Policy" in message.text
                else None
            ),
        )
        page.goto(ui_server.url + f"/projects/{PROJECT}")
        form = page.locator("form.key-form")
        form.locator("input").fill("tth_" + "not-a-key" * 4)
        form.get_by_role("button", name="Sign in").click()
        form.get_by_text("refused").wait_for()  # a wrong key: said, and the form stays
        form.locator("input").fill(key)
        form.get_by_role("button", name="Sign in").click()
        page.locator(".runs-row[data-run]").first.wait_for()
        screenshot(page, "signed-in")

        stored = page.evaluate(
            """() => [localStorage, sessionStorage].flatMap((storage) =>
                Object.keys(storage).map((name) => name + "=" + storage.getItem(name)))"""
        )
        assert not any(key in item for item in stored), stored
        assert key not in page.evaluate("document.cookie")  # the session is not readable
        assert "tether_session" not in page.evaluate("document.cookie")
        cookies = {cookie["name"]: cookie for cookie in context.cookies()}
        session = cookies["tether_session"]
        assert session["httpOnly"] and session["sameSite"] == "Strict"
        assert key not in session["value"]

        page.reload()  # the session outlives the page
        page.locator(".runs-row[data-run]").first.wait_for()
        assert page.locator("form.key-form").count() == 0
        # Charts and the console (a worker) run under the CSP too.
        run = next(iter(ui_server.runs.values()))
        page.goto(f"{ui_server.url}/projects/{PROJECT}/runs/{run}")
        page.wait_for_function("() => document.querySelector('.panel .chart')?.dataset.drawn")
        page.goto(f"{ui_server.url}/projects/{PROJECT}/runs/{run}/console")
        page.get_by_text("finished").first.wait_for()
        assert not violations, violations
    finally:
        context.close()
