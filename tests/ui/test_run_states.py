"""The web UI takes run states from the API (tether.store.states), spelling none itself."""

from __future__ import annotations

from typing import Any

from tether.store.states import RunState

from .conftest import PROJECT, UiServer


def test_the_state_filter_offers_the_servers_states(page: Any, ui_server: UiServer) -> None:
    page.goto(f"{ui_server.url}/projects/{PROJECT}")
    page.locator(".runs-row[data-run]").first.wait_for()
    options = page.get_by_label("state").locator("option")
    assert options.all_inner_texts() == ["any state", *(state.value for state in RunState)]
    # Finished runs are not live: no pulse on their badges.
    assert page.locator(".runs-row[data-run] .state-finished").count() == 3
    assert page.locator(".runs-row[data-run] .pulse").count() == 0
