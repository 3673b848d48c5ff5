"""The composed dashboard without a browser: set a control's value, assert what the page shows."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

import usage_widgets as uw

from .demo_dashboard import NOW, dashboard_fixture, demo_log_fixture, expected  # noqa: F401


def shown_rows(d) -> list[str]:
    """Row labels as the grid holds them, in order (from the table's own memory of its rows)."""
    return d.table.row_labels


def test_first_page_shows_the_default_report(dash, log) -> None:
    rep = expected(log)
    assert dash.report.kpis == rep.kpis
    assert dash.cards.shown["Requests"].hover == f"{rep.kpis['requests']:,}"
    assert dash.cards.shown["Active Users"].hover == f"{rep.kpis['active_users']:,}"
    assert len(dash.table.frame) == len(rep.breakdown)
    assert shown_rows(dash) == rep.breakdown["name"].tolist()
    assert len(dash.chart.series.names) == 1
    assert dash.chart.series.values[0].tolist() == rep.activity["active_users"].tolist()


def test_view_toggle_turns_chart_and_table_to_teams(dash, log) -> None:
    dash.controls.view.value = "team"
    rep = expected(log, view="team")
    assert dash.state.view == "team"
    assert shown_rows(dash) == rep.breakdown["team"].tolist()
    assert list(dash.table.frame.columns)[:2] == ["Team", "Users"]
    teams_in_chart = [t for t in dash.chart.series.names if not t.startswith("Other")]
    assert teams_in_chart == list(rep.activity.columns[: len(teams_in_chart)])
    assert dash.report.kpis == rep.kpis  # the cards do not depend on the view


def test_a_team_filter_shrinks_rows_and_cards(dash, log) -> None:
    team = expected(log, view="team").breakdown["team"].iloc[1]
    dash.controls.teams.children[1].value = [team]
    rep = expected(log, teams=(team,))
    assert dash.report.kpis == rep.kpis
    assert shown_rows(dash) == rep.breakdown["name"].tolist()
    assert set(dash.report.breakdown["team"]) == {team}
    assert len(shown_rows(dash)) < len(expected(log).breakdown)


def test_search_filters_rows_only(dash, log) -> None:
    before = dash.report.kpis
    first = expected(log).breakdown["name"].iloc[2].split()[0]
    dash.controls.search.value = first.upper()
    assert dash.report.kpis == before
    assert shown_rows(dash) == expected(log, search=first.upper()).breakdown["name"].tolist()
    assert all(first.lower() in (n + e).lower()
               for n, e in zip(dash.report.breakdown["name"], dash.report.breakdown["email"], strict=True))
    assert "Showing" in dash.summary.value


def test_no_match_says_why(dash) -> None:
    dash.controls.search.value = "nobody-has-this-name"
    assert dash.table.is_empty
    assert "No user matches" in dash.table.message.value


def test_header_clicks_sort_descending_then_ascending(dash, log) -> None:
    dash.table._on_cell_click({"region": "column-header", "column": "Requests"})
    assert (dash.state.sort, dash.state.descending) == ("requests", True)
    assert dash.report.breakdown["requests"].is_monotonic_decreasing
    dash.table._on_cell_click({"region": "column-header", "column": "Requests"})
    assert dash.report.breakdown["requests"].is_monotonic_increasing
    assert shown_rows(dash) == expected(log, sort="requests", descending=False).breakdown["name"].tolist()
    assert "requests:asc" in dash.summary.value


def test_custom_range_start_after_end_shows_the_message(dash) -> None:
    dash.controls.range.value = "custom"
    assert dash.controls.custom.layout.display == "flex"
    dash.controls.start.value = dt.date(2026, 3, 9)
    dash.controls.end.value = dt.date(2026, 3, 2)
    assert dash.message.layout.display == "block"
    assert "after the end date" in dash.message.value
    assert dash.results.layout.display == "none"
    dash.controls.end.value = dt.date(2026, 3, 10)
    assert dash.results.layout.display == "flex"
    assert dash.report.granularity == "hour" and len(dash.report.activity) == 48  # 2 days: hourly


def test_dates_the_calendar_cannot_hold_show_the_message_and_a_good_range_comes_back(dash) -> None:
    dash.controls.range.value = "custom"
    dash.controls.start.value = dt.date(2300, 1, 1)
    dash.controls.end.value = dt.date(2300, 1, 2)
    assert dash.message.layout.display == "block"
    assert "Jan 01, 2300" in dash.message.value and "pick dates from 1970 to 2200" in dash.message.value
    assert dash.results.layout.display == "none"
    dash.controls.start.value = dt.date(2026, 3, 2)
    dash.controls.end.value = dt.date(2026, 3, 8)
    assert dash.results.layout.display == "flex" and len(dash.report.activity) == 7


def test_selection_from_code_moves_the_controls(dash, log) -> None:
    sel = uw.Selection(view="team", range="30d", tags=("env:prod",))
    dash.selection = sel
    assert dash.controls.view.value == "team"
    assert dash.controls.range.value == "30d"
    assert dash.controls.tags.children[1].value == ["env:prod"]
    assert dash.report.kpis == expected(log, view="team", range="30d", tags=("env:prod",)).kpis


def test_clear_filters_button(dash, log) -> None:
    dash.state.teams = (expected(log, view="team").breakdown["team"].iloc[0],)
    dash.state.search = "a"
    dash.controls.clear.click()
    assert dash.selection == uw.Selection()
    assert dash.report.kpis == expected(log).kpis


def test_a_bad_log_gives_a_message_not_a_traceback(tmp_path) -> None:
    bad = tmp_path / "log.csv"
    bad.write_text("request_id,timestamp\nr1,2026-01-01\n")
    widget = uw.dashboard_from_env({"USAGE_LOG": str(bad)})
    assert "could not be opened" in widget.value
    assert "user_id" in widget.value and "Traceback" not in widget.value


def test_hostile_names_are_escaped_in_every_html_place(log) -> None:
    hostile = pd.DataFrame({
        "request_id": ["h1"], "timestamp": [NOW - pd.Timedelta(hours=1)], "user_id": ["m"],
        "user_name": ["<img src=x onerror=alert(1)>"], "team": ["R&D <b>"], "api_key": ["k"],
        "model": ["gpt-4o"], "input_tokens": [1], "output_tokens": [1], "cost": [0.01],
    })  # fmt: skip
    d = uw.UsageDashboard(hostile, now=NOW)
    d.state.view = "team"
    html_text = d.summary.value + d.chart.legend.value + d.chart.title.value
    assert "<img" not in html_text and "<b>" not in html_text
    assert "R&amp;D &lt;b&gt;" in html_text
    d.close()


def test_a_custom_range_longer_than_a_year_is_refused(dash) -> None:
    dash.selection = uw.Selection(range="custom", start=dt.date(2024, 1, 1), end=dt.date(2026, 3, 1))
    assert "pick at most 366 days" in dash.message.value
    dash.selection = uw.Selection(range="custom", start=dt.date(2025, 3, 1), end=dt.date(2026, 3, 1))
    assert dash.results.layout.display == "flex" and len(dash.report.activity) == 366


def test_close_leaves_no_widget_open(log) -> None:
    from ipywidgets.widgets.widget import _instances as open_widgets

    before = len(open_widgets)
    d = uw.UsageDashboard(log, now=NOW)
    assert len(open_widgets) > before
    d.close()
    d.close()  # twice is harmless
    assert len(open_widgets) == before


def test_the_served_entry_point_prints_no_warnings_onto_the_page(tmp_path, recwarn) -> None:
    path = tmp_path / "log.csv"
    rows = pd.DataFrame({
        "request_id": ["a", "a", "b"],
        "timestamp": [str(pd.Timestamp.now(tz="UTC") - pd.Timedelta(hours=1))] * 3, "user_id": ["u"] * 3,
        "api_key": ["k"] * 3, "model": ["no-such-model"] * 3, "input_tokens": [1] * 3,
        "output_tokens": [1] * 3,
    })  # fmt: skip
    rows.to_csv(path, index=False)
    widget = uw.dashboard_from_env({"USAGE_LOG": str(path)})
    assert not [w for w in recwarn if issubclass(w.category, uw.LogWarning)]
    assert "1 repeated request ids counted once" in widget.summary.value
    assert "without a known price" in widget.cards.shown["User Cost"].hover
    widget.close()


def test_the_time_zone_picker_rebuckets_everything(dash, log) -> None:
    assert dash.controls.tz.value == "UTC"
    dash.controls.tz.value = "Asia/Kolkata"
    rep = uw.report(log, uw.Selection(), now=NOW, tz="Asia/Kolkata")
    assert dash.report.tz == "Asia/Kolkata"
    assert str(dash.report.activity.index.tz) == "Asia/Kolkata"
    assert dash.report.activity.equals(rep.activity)
    assert dash.report.kpis == rep.kpis
    assert "Asia/Kolkata" in dash.chart.title.value


def test_an_unknown_time_zone_is_refused(dash) -> None:
    import traitlets

    with pytest.raises(traitlets.TraitError):
        dash.state.tz = "Mars/Olympus"
    assert dash.report.tz == "UTC"


def test_selection_from_the_controls_is_dash_selection(dash) -> None:
    dash.controls.view.value = "team"
    dash.controls.range.value = "30d"
    dash.controls.tags.children[1].value = ["env:prod"]
    dash.controls.search.value = "re"
    dash.table._on_cell_click({"region": "column-header", "column": "Requests"})
    want = uw.Selection(view="team", range="30d", tags=("env:prod",), search="re", sort="requests")
    assert dash.selection == want
    assert eval(repr(dash.selection), {"Selection": uw.Selection}) == want


def test_a_dashboard_opens_at_the_selection_given(log) -> None:
    team = expected(log, view="team").breakdown["team"].iloc[0]
    sel = uw.Selection(view="team", range="14d", teams=(team,))
    d = uw.UsageDashboard(log, now=NOW, selection=sel)
    assert d.selection == sel
    assert (d.controls.view.value, d.controls.range.value) == ("team", "14d")
    assert d.controls.teams.children[1].value == list(sel.teams)
    assert d.report.kpis == uw.report(log, sel, now=NOW).kpis
    d.close()


def run_shown_code(d, log) -> uw.Report:
    """Execute the lines the "Code" control shows, with ``log`` as the dashboard's log."""
    import html as html_module
    import re

    shown = re.search(r"<pre class='uw-code-text'>(.*)</pre>", d.code_view.value, re.S)
    assert shown is not None
    code = html_module.unescape(shown.group(1))
    assert code == d.code
    namespace = {"log": log}
    exec(code, namespace)
    return namespace["rep"]


def test_the_code_control_shows_lines_that_give_the_same_numbers(dash, log) -> None:
    assert dash.code_view.layout.display == "none"
    dash.controls.code.value = True
    assert dash.code_view.layout.display == "block"
    assert run_shown_code(dash, log).kpis == dash.report.kpis
    dash.selection = uw.Selection(view="team", range="30d", tags=("env:prod",), search="a",
                                  sort="requests", descending=False)
    dash.controls.tz.value = "America/New_York"
    rep = run_shown_code(dash, log)
    assert "tz='America/New_York'" in dash.code
    assert rep.kpis == dash.report.kpis
    assert rep.breakdown.equals(dash.report.breakdown)
    assert rep.activity.equals(dash.report.activity)
    dash.controls.code.value = False
    assert dash.code_view.layout.display == "none"


def test_the_code_names_the_file_the_page_reads(tmp_path, log) -> None:
    path = tmp_path / "requests.parquet"
    log.to_parquet(path)
    d = uw.UsageDashboard(str(path), now=NOW)
    d.selection = uw.Selection(range="30d", api_keys=(log["api_key"].iloc[0],))
    d.controls.code.value = True
    assert f"log = uw.load_log({str(path)!r})" in d.code
    namespace: dict = {}
    exec(d.code, namespace)
    assert namespace["rep"].kpis == d.report.kpis
    d.close()


def test_the_code_of_the_demo_page_regenerates_what_it_has_read() -> None:
    clock = [pd.Timestamp("2026-03-11T15:00:00Z")]
    from usage_widgets.sources import DemoSource

    source = DemoSource(users=30, days=10, clock=lambda: clock[0])
    d = uw.UsageDashboard(source, clock=lambda: clock[0])
    clock[0] += pd.Timedelta(minutes=30)  # the page has not read the last half hour
    d.refresh()
    namespace: dict = {}
    exec(d.code, namespace)
    assert namespace["rep"].kpis == d.report.kpis
    d.close()


def test_code_in_the_page_is_escaped(log) -> None:
    d = uw.UsageDashboard(log, now=NOW)
    d.controls.code.value = True
    d.state.search = "</pre><img src=x onerror=alert(1)>"
    assert "<img" not in d.code_view.value
    assert "&lt;/pre&gt;&lt;img" in d.code_view.value
    d.close()


def test_the_report_frames_have_readable_columns_and_dtypes(dash) -> None:
    rep = dash.report
    assert list(rep.breakdown.columns) == ["user_id", "name", "email", "team", "trend", "models",
                                           "requests", "input_tokens", "output_tokens", "cost", "unpriced"]
    counts = ["requests", "input_tokens", "output_tokens", "unpriced"]
    assert (rep.breakdown[counts].dtypes == "int64").all()
    assert rep.breakdown["cost"].dtype == "float64"
    assert list(rep.activity.columns) == ["active_users"] and rep.activity["active_users"].dtype == "int64"
    assert rep.activity.index.name == "bucket" and str(rep.activity.index.tz) == "UTC"
    dash.state.view = "team"
    rep = dash.report
    assert list(rep.breakdown.columns) == ["team", "users", "trend", "models", "requests", "input_tokens",
                                           "output_tokens", "cost", "unpriced"]
    assert rep.breakdown["users"].dtype == "int64"
    assert rep.activity.columns.name == "team"
    assert (rep.activity.dtypes == "int64").all()
    assert list(rep.activity.columns) == rep.breakdown.sort_values(
        ["requests", "team"], ascending=[False, True])["team"].tolist()


def test_the_time_zone_is_named_on_the_chart_axis_and_in_hover_texts(dash) -> None:
    dash.controls.tz.value = "Asia/Kolkata"
    assert dash.chart.x_axis.label == "days in Asia/Kolkata"
    assert "Asia/Kolkata" in dash.chart.hover_text(0)
    dash.controls.range.value = "24h"
    assert dash.chart.x_axis.label == "hours in Asia/Kolkata"
    assert dash.chart.hover_text(3).split("<br/>")[0].endswith("IST · Asia/Kolkata</b>")
    dash.controls.view.value = "team"
    assert "Asia/Kolkata" in dash.chart.hover_text(3, 0)


def test_the_time_zone_picker_opens_at_the_dashboards_zone(log) -> None:
    d = uw.UsageDashboard(log, now=NOW, tz="Europe/Berlin")
    assert d.controls.tz.value == "Europe/Berlin"
    assert "Europe/Berlin" in d.controls.tz.options and "Asia/Kathmandu" in d.controls.tz.options
    assert d.report.kpis == uw.report(log, uw.Selection(), now=NOW, tz="Europe/Berlin").kpis
    assert "tz='Europe/Berlin'" in d.code
    d.close()
