"""The practical uses in the served page: a link restores a selection, the CSV download, the
drill-down from a team and back, the model bars, the anomaly flag and the KPI changes."""

from __future__ import annotations

import io
from pathlib import Path
from urllib.parse import urljoin

import pandas as pd
import pytest

import usage_widgets as uw
from usage_widgets.share import encode
from usage_widgets.views.insights import change_text
from usage_widgets.views.models_chart import MAX_MODELS
from usage_widgets.views.table import HEADER_HEIGHT, ROW_HEIGHT

from .conftest import page_errors, start_server
from .test_page import caption, card, rows, wait_for


@pytest.fixture(scope="module")
def served(tmp_path_factory, chromium_path):
    now = pd.Timestamp.now(tz="UTC")
    log = uw.demo_log(seed=4, users=40, days=40, now=now - pd.Timedelta(minutes=5))
    path = Path(tmp_path_factory.mktemp("log")) / "requests.parquet"
    log.to_parquet(path)
    server = start_server(path)
    yield server, uw.RequestStore.from_log(log), log.attrs["anomaly_user_id"]
    server.stop()


def expected(store, **selection) -> uw.Report:
    return uw.report(store, uw.Selection(**selection), now=pd.Timestamp.now(tz="UTC"))


def requests_card(page) -> str:
    return card(page, "Requests").get_attribute("title")


def test_a_link_restores_its_selection_and_copy_link_gives_the_current_one(served, open_page) -> None:
    server, store, _ = served
    team = expected(store, view="team", range="30d").breakdown["team"].iloc[1]
    chosen = uw.Selection(view="team", range="30d", teams=(team,), sort="requests")
    page = open_page(server.url + "?" + encode(chosen))
    rep = expected(store, **{k: getattr(chosen, k) for k in ("view", "range", "teams", "sort")})
    assert requests_card(page) == f"{rep.kpis['requests']:,}"
    assert rows(page) == [team]
    assert caption(page).get_attribute("data-sort") == "requests:desc"
    assert page.locator(".uw-picker").get_by_text(team, exact=True).count() >= 1
    assert page.locator(".uw-range .mod-active").inner_text() == "30d"

    page.get_by_role("button", name="By user").click()
    link = page.locator("a.uw-share-link")
    assert wait_for(lambda: "view=" not in link.get_attribute("href"))  # user is the default
    href = link.get_attribute("href")
    assert href == "?" + encode(chosen.replace(view="user"), "UTC")
    again = open_page(urljoin(server.url, href))
    users = expected(store, range="30d", teams=(team,), sort="requests").breakdown["name"].tolist()
    assert rows(again) == users[:100]
    assert page_errors(page) == [] and page_errors(again) == []


def test_download_csv_holds_the_breakdown_of_the_selection(served, open_page) -> None:
    server, store, _ = served
    page = open_page(server.url + "?view=team&range=14d")
    with page.expect_download() as info:
        page.locator("a.uw-download").click()
    download = info.value
    assert download.suggested_filename.startswith("usage_by-team_14d_")
    assert download.suggested_filename.endswith("_UTC.csv")
    text = Path(download.path()).read_text()
    got = pd.read_csv(io.StringIO(text), keep_default_na=False, float_precision="round_trip")
    want = expected(store, view="team", range="14d").breakdown
    assert got["team"].tolist() == want["team"].tolist()
    for column in ("users", "requests", "input_tokens", "output_tokens", "unpriced"):
        assert got[column].tolist() == want[column].tolist(), column
    assert got["cost"].tolist() == want["cost"].tolist()  # every digit, not rounded


def test_a_team_row_opens_its_users_and_back_restores_the_team_view(served, open_page) -> None:
    server, store, _ = served
    page = open_page(server.url + "?view=team&range=30d&sort=requests")
    teams = expected(store, view="team", range="30d", sort="requests").breakdown["team"].tolist()
    container = page.locator(".uw-dashboard .datagrid-container").first
    container.scroll_into_view_if_needed()
    grid = container.bounding_box()
    assert grid is not None
    page.mouse.click(grid["x"] + 40, grid["y"] + HEADER_HEIGHT + ROW_HEIGHT / 2)  # first row
    users = expected(store, range="30d", teams=(teams[0],), sort="requests").breakdown["name"].tolist()
    assert wait_for(lambda: rows(page) == users[:100])
    back = page.get_by_role("button", name="← All teams")
    assert back.is_visible()
    assert page.locator(".uw-drill").inner_text() == f"Users of team {teams[0]}"
    back.click()
    assert wait_for(lambda: rows(page) == teams)
    assert caption(page).get_attribute("data-sort") == "requests:desc"
    assert not back.is_visible()
    assert page_errors(page) == []


def test_a_model_bar_click_filters_by_that_model(served, open_page) -> None:
    server, store, _ = served
    page = open_page(server.url + "?range=30d")
    models = expected(store, range="30d").cost_by_model["model"].tolist()
    bars = page.locator(".uw-models-chart rect.bar")
    assert wait_for(lambda: bars.count() == min(len(models), MAX_MODELS))
    fill = "e => getComputedStyle(e).fill"
    assert bars.nth(0).evaluate(fill) == bars.nth(1).evaluate(fill)
    bars.nth(1).click()
    rep = expected(store, range="30d", models=(models[1],))
    assert wait_for(lambda: requests_card(page) == f"{rep.kpis['requests']:,}")
    assert wait_for(lambda: bars.nth(0).evaluate(fill) != bars.nth(1).evaluate(fill))  # it stands out
    picker = page.locator(".uw-picker").filter(has_text="Models")
    assert picker.get_by_text(models[1], exact=True).count() >= 1
    assert page_errors(page) == []


def test_the_runaway_user_is_flagged_and_changes_show_on_the_cards(served, open_page, artifacts) -> None:
    server, store, runaway = served
    page = open_page(server.url + "?range=30d", viewport=(1400, 1800))
    rep = expected(store, range="30d")
    name = rep.breakdown.set_index("user_id").loc[runaway, "name"]
    flags = page.locator(".uw-flags")
    assert flags.get_attribute("data-flags") == "1"
    assert name in flags.inner_text()
    text, _ = change_text(rep.kpis["requests"], rep.previous_kpis["requests"])
    change = page.locator(".uw-card").filter(has_text="Requests").filter(
        has_not_text="Avg").locator(".uw-card-change")  # fmt: skip
    assert change.inner_text() == text
    assert "vs the previous 30 days" in change.get_attribute("title")
    page.wait_for_timeout(1500)  # grid images paint just after the grid
    page.screenshot(path=str(artifacts / "readme-practical-uses.png"), full_page=True)
    page.get_by_role("button", name="Anomalies only").click()
    assert wait_for(lambda: rows(page) == [name])
    assert page_errors(page) == []
