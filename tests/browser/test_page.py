"""The served Voilà page, driven the way a manager uses it, in headless Debian Chromium."""

from __future__ import annotations

import re
import time
import urllib.error
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

import usage_widgets as uw
from usage_widgets.views.table import COLUMN_WIDTHS, HEADER_HEIGHT

from .conftest import page_errors, start_server

HOSTILE_NAME = "<img src=x onerror=alert(1)>"
HOSTILE_TEAM = "<b>x</b>"
RENDER_SECONDS = 90  # what "the page renders within a stated time" states


def build_log() -> pd.DataFrame:
    now = pd.Timestamp.now(tz="UTC")
    log = uw.demo_log(seed=3, users=40, days=20, now=now - pd.Timedelta(minutes=5))
    hostile = pd.DataFrame({
        "request_id": ["hostile-1", "hostile-2"],
        "timestamp": [now - pd.Timedelta(hours=2), now - pd.Timedelta(hours=1)],
        "user_id": ["mallory", "mallory"],
        "user_name": [HOSTILE_NAME] * 2,
        "user_email": ["mallory@example.com"] * 2,
        "team": [HOSTILE_TEAM] * 2,
        "api_key": ["mallory-key"] * 2,
        "model": ["gpt-4o"] * 2,
        "tags": [["env:prod"], ["env:prod"]],
        "input_tokens": [1200, 800],
        "output_tokens": [300, 200],
        "cost": [0.0045, 0.003],
    })  # fmt: skip
    return uw.load_log(pd.concat([log.astype({"tags": object}), hostile], ignore_index=True))


@pytest.fixture(scope="module")
def served(tmp_path_factory, chromium_path):
    log = build_log()
    path = Path(tmp_path_factory.mktemp("log")) / "requests.parquet"
    log.to_parquet(path)
    server = start_server(path)
    yield server, uw.RequestStore.from_log(log)
    server.stop()


def expected(store, **selection) -> uw.Report:
    return uw.report(store, uw.Selection(**selection), now=pd.Timestamp.now(tz="UTC"))


def card(page, title: str):
    return page.locator(".uw-card").filter(
        has=page.locator(".uw-card-title", has_text=re.compile(rf"^{re.escape(title)}$"))
    ).locator(".uw-card-value")


def card_values(page) -> dict[str, str]:
    return {t: card(page, t).get_attribute("title") for t in ("Active Users", "Requests", "Total Tokens")}


def caption(page):
    return page.locator(".uw-table-summary .uw-caption")


def rows(page) -> list[str]:
    return page.locator(".uw-table-summary li").all_inner_texts()


def wait_for(predicate, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


def click_header(page, column: str, columns: list[str]) -> None:
    grid = page.locator(".uw-dashboard .datagrid-container").first
    grid.scroll_into_view_if_needed()  # mouse clicks land only inside the viewport
    box = grid.bounding_box()
    assert box is not None
    left = sum(COLUMN_WIDTHS[c] for c in columns[: columns.index(column)])
    page.mouse.click(box["x"] + left + 30, box["y"] + HEADER_HEIGHT / 2)


USER_COLUMNS = ["User Name", "Trend", "Models", "Requests", "Input", "Output", "Cost"]


def test_page_renders_every_part_without_errors(served, open_page) -> None:
    server, _ = served
    started = time.monotonic()
    page = open_page(server.url)
    assert time.monotonic() - started < RENDER_SECONDS
    for selector in (".uw-controls", ".uw-cards", ".uw-chart", ".datagrid-container", ".uw-table-summary"):
        assert page.locator(selector).first.is_visible(), selector
    assert page.locator(".uw-card").count() == 5
    assert page.get_by_role("button", name="By user").is_visible()
    assert page.locator("text=Traceback").count() == 0
    assert page_errors(page) == []


def test_cards_show_the_report_for_the_default_selection(served, open_page) -> None:
    server, store = served
    page = open_page(server.url)
    kpis = expected(store).kpis
    assert card(page, "Active Users").get_attribute("title") == f"{kpis['active_users']:,}"
    assert card(page, "Requests").get_attribute("title") == f"{kpis['requests']:,}"
    assert card(page, "Total Tokens").get_attribute("title") == f"{kpis['total_tokens']:,}"
    assert card(page, "User Cost").get_attribute("title").startswith(f"${kpis['cost']:,.2f}")
    assert int(caption(page).get_attribute("data-rows")) == kpis["active_users"]


def test_by_team_turns_chart_into_stacked_bars_and_rows_into_teams(served, open_page) -> None:
    server, store = served
    page = open_page(server.url)
    page.get_by_role("button", name="By team").click()
    teams = expected(store, view="team").breakdown["team"].tolist()
    assert wait_for(lambda: caption(page).get_attribute("data-rows") == str(len(teams)))
    assert rows(page) == teams
    legend = page.locator(".uw-legend")
    assert legend.is_visible()
    for team in teams[:5]:
        assert legend.get_by_text(team, exact=True).count() >= 1
    assert page.locator(".uw-chart rect.bar").count() > len(teams)  # one rect per team and day


def test_picking_a_team_changes_cards_and_rows(served, open_page) -> None:
    server, store = served
    page = open_page(server.url)
    team = expected(store, view="team").breakdown["team"].iloc[0]
    before = card_values(page)
    teams_input = page.locator(".uw-picker").filter(has_text="Teams").locator("input")
    teams_input.fill(team)
    teams_input.press("Enter")
    rep = expected(store, teams=(team,))
    assert wait_for(lambda: card(page, "Requests").get_attribute("title") == f"{rep.kpis['requests']:,}")
    assert card_values(page) != before
    assert wait_for(lambda: rows(page) == rep.breakdown["name"].tolist()[:100])


def test_cost_header_sorts_and_a_second_click_reverses(served, open_page) -> None:
    server, store = served
    page = open_page(server.url)
    by_cost = expected(store).breakdown["name"].tolist()
    assert rows(page) == by_cost[:100]
    click_header(page, "Requests", USER_COLUMNS)
    by_requests = expected(store, sort="requests").breakdown["name"].tolist()
    assert wait_for(lambda: caption(page).get_attribute("data-sort") == "requests:desc")
    assert rows(page) == by_requests[:100]
    click_header(page, "Cost", USER_COLUMNS)
    assert wait_for(lambda: caption(page).get_attribute("data-sort") == "cost:desc")
    click_header(page, "Cost", USER_COLUMNS)
    assert wait_for(lambda: caption(page).get_attribute("data-sort") == "cost:asc")
    ascending = expected(store, descending=False).breakdown["name"].tolist()
    assert rows(page) == ascending[:100]


def test_search_filters_rows_and_leaves_the_cards_alone(served, open_page) -> None:
    server, store = served
    page = open_page(server.url)
    before = card_values(page)
    name = expected(store).breakdown["name"].iloc[3]
    page.locator(".uw-search input").fill(name.split()[0].lower())
    want = expected(store, search=name.split()[0].lower()).breakdown["name"].tolist()
    assert wait_for(lambda: rows(page) == want)
    assert "Showing" in caption(page).inner_text()
    assert card_values(page) == before


def test_custom_range_with_start_after_end_shows_the_message(served, open_page) -> None:
    server, _ = served
    page = open_page(server.url)
    page.get_by_role("button", name="Custom").click()
    dates = page.locator(".uw-controls input[type=date]")
    assert wait_for(lambda: dates.first.is_visible())
    dates.nth(0).fill("2026-11-20")
    dates.nth(0).dispatch_event("change")
    dates.nth(1).fill("2026-11-10")
    dates.nth(1).dispatch_event("change")
    message = page.locator(".uw-message-text")
    assert wait_for(lambda: message.is_visible() and "after the end date" in message.inner_text())
    assert not page.locator(".uw-cards").is_visible()


def test_hostile_names_are_shown_as_literal_text(served, open_page) -> None:
    server, _ = served
    page = open_page(server.url)
    page.locator(".uw-search input").fill("mallory")
    assert wait_for(lambda: rows(page) == [HOSTILE_NAME])
    page.get_by_role("button", name="By team").click()
    page.locator(".uw-search input").fill("x")
    assert wait_for(lambda: HOSTILE_TEAM in rows(page))
    teams_input = page.locator(".uw-picker").filter(has_text="Teams").locator("input")
    teams_input.fill(HOSTILE_TEAM)
    teams_input.press("Enter")
    legend = page.locator(".uw-legend")
    assert wait_for(lambda: legend.get_by_text(HOSTILE_TEAM, exact=True).count() >= 1)
    assert page.locator(".uw-picker").get_by_text(HOSTILE_TEAM, exact=True).count() >= 1
    assert page.dialogs == []
    assert page.locator(".uw-dashboard img[src='x']").count() == 0
    assert page.evaluate(
        "() => [...document.querySelectorAll('.uw-dashboard b')].filter(b => b.textContent === 'x').length"
    ) == 0


def test_a_non_loopback_server_refuses_requests_without_the_token(tmp_path, chromium_path) -> None:
    server = start_server(None, host="0.0.0.0", token="test-token-0123456789abcdef")
    try:
        status = None
        try:
            urllib.request.urlopen(server.url.rstrip("/") + "/voila/render/usage.ipynb", timeout=30)
        except urllib.error.HTTPError as exc:
            status = exc.code
        assert status == 403
        with urllib.request.urlopen(server.url + "?token=test-token-0123456789abcdef", timeout=120) as ok:
            assert ok.status == 200
    finally:
        server.stop()
