"""What a served page must withstand: any value a browser can send, a failure while the page
updates, and how the server is started (idle kernels culled, no request to other servers)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest

import usage_widgets as uw
from usage_widgets import cli
from usage_widgets import dashboard as dashboard_module

NOW = pd.Timestamp("2026-03-11T15:00:00Z")


@pytest.fixture(scope="module")
def log() -> pd.DataFrame:
    return uw.demo_log(seed=11, users=30, days=20, now=NOW)


@pytest.fixture
def dash(log):
    d = uw.UsageDashboard(log, now=NOW)
    yield d
    d.close()


def from_browser(widget, method: str = "update", **content) -> list[Exception]:
    """Deliver a comm message as the browser would; what the kernel's comm manager would log
    (it catches any exception of a handler) is returned instead."""
    data = {"method": "update", "state": content, "buffer_paths": []} if method == "update" else {
        "method": "custom", "content": content}  # fmt: skip
    logged = []
    try:
        widget._handle_msg({"content": {"data": data}, "buffers": []})
    except Exception as exc:
        logged.append(exc)
    return logged


def page(d) -> tuple:
    """What the page shows: the cards, the rows and the message."""
    return (d.report.kpis, list(d.table.row_labels), d.message.value, d.message.layout.display)


def picker(d, name: str):
    return getattr(d.controls, name).children[1]


# -- values from the browser ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("control", "state"),
    [
        ("teams", {"value": ["no such team"]}),
        ("api_keys", {"value": ["<script>", 5]}),
        ("tags", {"value": {"env:prod": 1}}),
        ("view", {"index": 7}),
        ("range", {"index": -1}),
        ("tz", {"value": "Mars/Olympus_Mons"}),
        ("end", {"value": {"year": 99999, "month": 0, "date": 1}}),  # not a date in Python
    ],
)
def test_values_that_are_not_choices_change_nothing(dash, control, state) -> None:
    dash.state.range = "custom" if control in ("start", "end") else dash.state.range
    before, selection = page(dash), dash.selection
    is_picker = control in ("teams", "api_keys", "tags")
    widget = picker(dash, control) if is_picker else getattr(dash.controls, control)
    from_browser(widget, **state)
    assert dash.selection == selection
    assert page(dash) == before


def test_a_date_beyond_the_calendar_from_the_browser_gets_a_sentence(dash) -> None:
    dash.state.range, dash.state.end = "custom", dt.date(2026, 3, 1)
    assert from_browser(dash.controls.start, value={"year": 1000, "month": 0, "date": 1}) == []
    assert dash.message.layout.display == "block" and dash.results.layout.display == "none"
    assert "(Jan 01, 1000) cannot be shown: pick dates from 1970 to 2200" in dash.message.value


def test_a_legitimate_pick_from_the_browser_still_works(dash, log) -> None:
    team = sorted(set(log["team"]))[0]
    assert from_browser(picker(dash, "teams"), value=[team]) == []
    assert dash.selection.teams == (team,)
    assert set(dash.report.breakdown["team"]) == {team}


def test_a_huge_search_text_says_no_match(dash) -> None:
    assert from_browser(dash.controls.search, value="x" * 1_000_000) == []
    assert dash.table.is_empty and "No user matches" in dash.table.message.value
    assert dash.report.kpis["requests"] > 0  # the search filters the table only


def test_grid_edits_from_the_browser_are_ignored(dash) -> None:
    grid = dash.table.grid
    shown = grid.data.copy()
    cost = dash.report.kpis["cost"]
    edits = [
        {"event_type": "cell-changed", "row": 0, "column_index": 4, "value": 10**9},
        {"event_type": "cell-changed", "row": 10**6, "column_index": 99, "value": "<b>"},
        {"event_type": "cell-click"},  # incomplete: dropped, not a KeyError in the kernel log
        {"nonsense": True},
    ]
    for content in edits:
        assert from_browser(grid, method="custom", **content) == []
    from_browser(grid, editable=True)
    assert grid.editable is False
    pd.testing.assert_frame_equal(grid.data, shown)
    assert dash.report.kpis["cost"] == cost


def test_header_clicks_still_sort(dash) -> None:
    click = {"event_type": "cell-click", "region": "column-header", "column": "Requests",
             "column_index": 3, "row": 0, "primary_key_row": 0, "cell_value": "Requests"}  # fmt: skip
    assert from_browser(dash.table.grid, method="custom", **click) == []
    assert dash.selection.sort == "requests"
    requests = list(dash.report.breakdown["requests"])
    assert requests == sorted(requests, reverse=True)


# -- failures while the page updates ---------------------------------------------------------
def test_a_failure_in_a_refresh_becomes_a_sentence_and_the_page_recovers(dash, monkeypatch) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("cannot reach postgres://admin:hunter2@10.0.0.5/usage at /srv/secret/log.csv")

    real = dashboard_module.report
    monkeypatch.setattr(dashboard_module, "report", broken)
    dash.state.view = "team"
    assert dash.message.layout.display == "block" and dash.results.layout.display == "none"
    assert "could not be shown (RuntimeError)" in dash.message.value
    for secret in ("postgres", "hunter2", "/srv", "Traceback"):
        assert secret not in dash.message.value
    monkeypatch.setattr(dashboard_module, "report", real)
    dash.state.view = "user"
    assert dash.message.layout.display == "none" and dash.results.layout.display == "flex"
    assert dash.report.selection.view == "user" and len(dash.table.row_labels) > 0


def test_a_failing_view_also_becomes_a_sentence(dash, monkeypatch) -> None:
    monkeypatch.setattr(dash.chart, "show", lambda *a, **k: 1 / 0)
    dash.state.range = "30d"
    assert "could not be shown (ZeroDivisionError)" in dash.message.value


@pytest.mark.parametrize(
    "env",
    [
        {"USAGE_LOG": "/srv/private/requests.csv"},
        {"USAGE_LOG": "postgres://admin:hunter2@db.internal/usage"},
        {"USAGE_TZ": "Not/AZone"},
    ],
)
def test_a_bad_environment_gives_a_message_without_secrets(env, tmp_path) -> None:
    widget = uw.dashboard_from_env(env)
    text = widget.value
    assert text.startswith('<div class="uw-message-text">') and len(text) > 60
    for secret in ("hunter2", "admin", "/srv/private", "Traceback"):
        assert secret not in text


# -- how the server is started ---------------------------------------------------------------
@pytest.fixture
def launched(monkeypatch):
    calls = []
    monkeypatch.setattr(cli.os, "execve", lambda exe, argv, env: calls.append((argv, env)))
    monkeypatch.setattr(cli, "warm_up", lambda: None)  # tests/test_cli.py checks it runs
    return calls


def option(argv: list[str], name: str) -> str | None:
    values = [a.split("=", 1)[1] for a in argv if a.startswith(name + "=")]
    return values[-1] if values else None


def test_kernels_of_closed_pages_are_culled_after_fifteen_minutes(launched) -> None:
    cli.main(["serve"])
    argv, _ = launched[0]
    assert option(argv, "--MappingKernelManager.cull_idle_timeout") == str(15 * 60)
    assert option(argv, "--MappingKernelManager.cull_interval") == "60"
    # a page still open keeps its kernel: culling it would leave a dead page on screen
    assert option(argv, "--MappingKernelManager.cull_connected") == "False"


def test_the_page_template_requests_nothing_from_other_servers(launched) -> None:
    cli.main(["serve"])
    argv, env = launched[0]
    assert option(argv, "--template") == cli.TEMPLATE
    root = Path(env["JUPYTER_PATH"].split(":")[0])
    folder = root / "voila" / "templates" / cli.TEMPLATE
    assert json.loads((folder / "conf.json").read_text())["base_template"] == "lab"
    assert "https://" not in (folder / "page.html").read_text()  # error pages: no CDN link
