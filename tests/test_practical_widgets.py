"""The practical uses on the dashboard without a browser: KPI changes, anomaly flags and the
"Anomalies only" switch, the model bars and the Models filter, drill-down and back, the link
and the CSV download."""

from __future__ import annotations

import base64
import html
import io

import numpy as np
import pandas as pd
import pytest

import usage_widgets as uw
from usage_widgets.app import dashboard_from_env
from usage_widgets.share import decode
from usage_widgets.views.cells import image_markup
from usage_widgets.views.insights import change_text, download_html
from usage_widgets.views.models_chart import MAX_MODELS, OTHER, ModelCostChart

from .demo_dashboard import NOW, dashboard_fixture, demo_log_fixture, expected  # noqa: F401


# -- what changed ----------------------------------------------------------------------------
def test_each_card_shows_the_change_against_the_previous_period(dash, log) -> None:
    dash.controls.range.value = "30d"
    rep = expected(log, range="30d")
    text, kind = change_text(rep.kpis["requests"], rep.previous_kpis["requests"])
    shown, shown_kind, hover = dash.cards.changes["Requests"]
    assert (shown, shown_kind) == (text, kind)
    assert hover.startswith("vs the previous 30 days (")
    assert hover.endswith(f"{rep.previous_kpis['requests']:,}")
    assert f">{text}</div>" in dash.cards.cards["Requests"].value
    assert len(dash.cards.changes) == 5


def test_change_words_for_growth_drop_new_and_nothing() -> None:
    assert change_text(150, 100) == ("▲ 50%", "up")
    assert change_text(1, 3) == ("▼ 67%", "down")
    assert change_text(103.25, 100) == ("▲ 3.2%", "up")
    assert change_text(12.5, 0) == ("new", "new")
    assert change_text(None, None) == ("no change", "flat")
    assert change_text(100, 100) == ("no change", "flat")


def test_a_period_before_the_log_began_reads_new(log) -> None:
    first_day = log["timestamp"].min().date()
    first = uw.Selection(range="custom", start=first_day, end=first_day + pd.Timedelta(days=3))
    d = uw.UsageDashboard(log, now=NOW, selection=first)
    try:
        assert d.cards.changes["Requests"][:2] == ("new", "new")
        assert d.cards.changes["Avg Requests / User"][2].endswith("—")
    finally:
        d.close()


# -- what is odd -----------------------------------------------------------------------------
def test_the_runaway_user_carries_a_flag_with_its_reason(dash, log) -> None:
    runaway = log.attrs["anomaly_user_id"]
    rep = dash.report
    row = rep.breakdown["user_id"].tolist().index(runaway)
    name = rep.breakdown["name"].iloc[row]
    cell = image_markup(dash.table.frame["User Name"].iloc[row])
    assert "⚑ anomaly" in cell
    others = [image_markup(v) for i, v in enumerate(dash.table.frame["User Name"]) if i != row]
    assert not any("⚑" in c for c in others)
    reason = rep.anomalies.loc[runaway, "reason"]
    assert f'title="{html.escape(reason)}"' in dash.tools.flags.value
    assert f"<b>{html.escape(name)}</b>" in dash.tools.flags.value


def test_anomalies_only_shows_just_the_flagged_rows_and_clear_drops_it(dash, log) -> None:
    cards = dash.report.kpis
    dash.controls.anomalies_only.value = True
    assert dash.table.row_labels == [dash.report.breakdown["name"].iloc[0]]
    assert dash.report.breakdown["user_id"].tolist() == [log.attrs["anomaly_user_id"]]
    assert dash.report.kpis == cards
    dash.controls.view.value = "team"
    assert len(dash.table.row_labels) == 1
    dash.controls.clear.click()
    assert dash.state.anomalies_only is False and not dash.controls.anomalies_only.value


def test_anomalies_only_without_any_says_so(log) -> None:
    quiet = log[log["user_id"] != log.attrs["anomaly_user_id"]]
    d = uw.UsageDashboard(quiet, now=NOW, selection=uw.Selection(anomalies_only=True))
    try:
        assert d.table.is_empty
        assert "No user is flagged as an anomaly" in d.table.message.value
        assert "No anomalies in this selection" in d.tools.flags.value
    finally:
        d.close()


# -- which models ----------------------------------------------------------------------------
def test_the_model_chart_shows_cost_by_model_largest_first(dash, log) -> None:
    rep = expected(log)
    chart = dash.tools.models_chart
    assert chart.names == rep.cost_by_model["model"].tolist()  # 13 models: no "Other" bar
    assert list(chart.bars.x) == chart.names
    assert np.allclose(chart.bars.y, rep.cost_by_model["cost"][: len(chart.names)])
    assert list(chart.costs) == sorted(chart.costs, reverse=True)


def test_a_bar_click_filters_by_its_model_and_a_second_click_clears(dash, log) -> None:
    chart = dash.tools.models_chart
    model = chart.names[1]
    chart._clicked(chart.bars, {"data": {"index": 1}})  # what bqplot sends for a click
    assert dash.state.models == (model,)
    assert dash.controls.models.children[1].value == [model]
    assert dash.report.kpis == expected(log, models=(model,)).kpis
    assert chart.bars.colors[1] != chart.bars.colors[0]  # the chosen bar stands out
    chart._clicked(chart.bars, {"data": {"index": 1}})
    assert dash.state.models == ()


def test_bar_clicks_from_the_browser_are_checked() -> None:
    chart = ModelCostChart()
    picked: list[str] = []
    chart.on_pick(picked.append)
    frame = pd.DataFrame({"model": [f"m{i}" for i in range(20)], "requests": [1] * 20,
                          "cost": np.arange(20, 0, -1.0)})  # fmt: skip
    chart.show(frame)
    assert len(chart.names) == MAX_MODELS and chart.names[-1] == OTHER
    assert chart.costs[-1] == pytest.approx(sum(range(1, 20 - MAX_MODELS + 2)))
    for content in ({"data": {"index": MAX_MODELS - 1}}, {"data": {"index": 99}}, {"data": {"index": True}},
                    {"data": "x"}, None, {"data": {"index": -1}}):  # fmt: skip
        chart._clicked(chart.bars, content)
    assert picked == []
    chart._clicked(chart.bars, {"data": {"index": 2}})
    assert picked == ["m2"]
    chart.close()


def test_the_models_picker_offers_the_logs_models(dash, log) -> None:
    assert dash.controls.models.children[1].allowed_tags == sorted(log["model"].unique(), key=str.casefold)
    dash.state.models = ("not-a-model", "gpt-4o")  # a browser message may claim anything
    assert dash.state.models == ("gpt-4o",)
    assert dash.controls.models.children[1].value == ["gpt-4o"]


# -- drill-down --------------------------------------------------------------------------------
def test_a_team_row_click_opens_its_users_and_back_restores_the_team_view(dash, log) -> None:
    dash.selection = uw.Selection(view="team", range="14d", sort="users", search="a")
    before = dash.selection
    team = dash.table.row_labels[0]
    dash.table._on_cell_click({"region": "body", "column": "Team", "row": 0})
    assert dash.state.view == "user" and dash.state.teams == (team,)
    assert dash.controls.teams.children[1].value == [team]
    assert dash.table.row_labels == expected(log, range="14d", teams=(team,)).breakdown["name"].tolist()
    assert dash.tools.drill_bar.layout.display == "flex"
    assert html.escape(team) in dash.tools.drill_text.value
    dash.tools.back.click()
    assert dash.selection == before
    assert dash.tools.drill_bar.layout.display == "none"


def test_row_clicks_in_the_user_view_and_bad_rows_do_not_drill(dash) -> None:
    dash.table._on_cell_click({"region": "body", "column": "User Name", "row": 0})
    assert dash.state.view == "user" and dash.state.teams == ()
    dash.controls.view.value = "team"
    for bad in (99_999, -1, "0", None, True):
        dash.table._on_cell_click({"region": "body", "column": "Team", "row": bad})
    assert dash.state.view == "team"


def test_switching_back_to_teams_by_hand_ends_the_drill_down(dash) -> None:
    dash.controls.view.value = "team"
    dash.table._on_cell_click({"region": "body", "column": "Team", "row": 0})
    dash.controls.view.value = "team"
    assert dash.tools.drill_bar.layout.display == "none" and dash.tools.drilled_from is None


# -- share and report ------------------------------------------------------------------------
def share_href(d) -> str:
    value = d.tools.share.value
    return html.unescape(value.split('href="', 1)[1].split('"', 1)[0])


def test_copy_link_gives_the_link_of_the_current_selection(dash) -> None:
    dash.selection = uw.Selection(view="team", range="30d", teams=("R&D",), search="plat",
                                  sort="requests", descending=False)  # fmt: skip
    href = share_href(dash)
    assert href.startswith("?")
    assert decode(href) == (dash.selection, "UTC")


def test_a_link_query_opens_the_page_on_its_selection(monkeypatch) -> None:
    d = dashboard_from_env({"QUERY_STRING": "view=team&range=14d&sort=requests&order=asc&tz=Asia%2FTokyo"})
    try:
        assert d.selection == uw.Selection(view="team", range="14d", sort="requests", descending=False)
        assert d.tz == "Asia/Tokyo" and d.controls.view.value == "team"
        assert d.tools.notice.layout.display == "none"
    finally:
        d.close()


@pytest.mark.parametrize(
    ("query", "words"),
    [("view=<script>", "view must be one of"), ("tz=Mars%2FOlympus", "time zone")],
)
def test_a_link_that_cannot_be_followed_opens_the_default_page_and_says_why(query, words) -> None:
    d = dashboard_from_env({"QUERY_STRING": query})
    try:
        assert words in html.unescape(d.tools.notice.value)
        assert "<script>" not in d.tools.notice.value
        assert d.tools.notice.layout.display == "block"
        assert d.tz == "UTC"
    finally:
        d.close()


def download_parts(d) -> tuple[str, str]:
    value = d.tools.download.value
    name = html.unescape(value.split('download="', 1)[1].split('"', 1)[0])
    href = value.split('href="', 1)[1].split('"', 1)[0]
    prefix = "data:text/csv;charset=utf-8;base64,"
    assert href.startswith(prefix)
    return name, base64.b64decode(href[len(prefix):]).decode("utf-8")


def test_download_csv_holds_the_current_breakdown_and_names_it(dash, log) -> None:
    dash.selection = uw.Selection(view="team", range="7d", sort="requests")
    name, text = download_parts(dash)
    assert name.startswith("usage_by-team_7d_") and name.endswith("_UTC.csv")
    got = pd.read_csv(io.StringIO(text), keep_default_na=False, float_precision="round_trip")
    want = expected(log, view="team", range="7d", sort="requests").breakdown
    assert got["team"].tolist() == want["team"].tolist()
    assert got["requests"].tolist() == want["requests"].tolist()
    assert got["cost"].tolist() == want["cost"].tolist()
    dash.controls.search.value = "zzz-nobody"
    _, empty = download_parts(dash)
    assert empty.strip() == "team,users,models,requests,input_tokens,output_tokens,cost,unpriced"


def test_a_download_too_big_to_send_says_so() -> None:
    assert "too large" in download_html("x" * 3_000_001, "a.csv", 10, False)
    link = download_html("a,b\n1,2\n", 'x"><img src=x onerror=alert(1)>.csv', 1, False)
    assert "<img" not in link and "&quot;&gt;&lt;img" in link
