"""Logs of every size: empty, a single request, 50,000 users, 500 teams, numbers beyond 10^12
tokens and $10^9. The page stays honest (0 and "—", "no data", a reason for an empty table) and
what is sent to the browser stays small."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

import usage_widgets as uw
from usage_widgets.dashboard import MAX_TABLE_ROWS
from usage_widgets.views.chart import NO_DATA, OTHER
from usage_widgets.views.colors import MIN_DISTANCE, OTHER_COLOR, color_distance, team_colors
from usage_widgets.views.lifecycle import parts

NOW = pd.Timestamp("2026-03-11T15:00:00Z")


def log_of(n: int, *, users: int | None = None, teams: int | list[str] = 3, tokens: int = 100,
           cost: float = 0.01, spread_hours: int = 20) -> pd.DataFrame:  # fmt: skip
    """``n`` requests in the last ``spread_hours`` hours, users and teams (a number of teams, or
    names to cycle through) in turn."""
    users = users or n
    i = np.arange(n)
    names = [f"team-{k:03d}" for k in range(teams)] if isinstance(teams, int) else teams
    return uw.load_log(pd.DataFrame({
        "request_id": [f"r{k}" for k in i],
        "timestamp": NOW - pd.to_timedelta((i % (spread_hours * 60)) + 1, unit="min"),
        "user_id": [f"user-{k % users:05d}" for k in i],
        "user_email": [f"user-{k % users:05d}@corp.example" for k in i],
        "team": [names[k % len(names)] for k in i],
        "api_key": "key-1", "model": "gpt-4o",
        "input_tokens": tokens, "output_tokens": 0, "cost": cost,
    }))  # fmt: skip


def sent_bytes(root) -> int:
    """Bytes of widget state the page receives: every widget's state as JSON, plus buffers."""
    total = 0
    for widget in parts(root):
        state = widget.get_state()
        buffers = [v for v in state.values() if isinstance(v, bytes | memoryview)]
        total += sum(len(bytes(b)) for b in buffers)
        total += len(json.dumps({k: v for k, v in state.items() if not isinstance(v, bytes | memoryview)},
                                default=lambda o: len(bytes(o)) * "x" if isinstance(o, bytes | memoryview)
                                else str(o)))  # fmt: skip
    return total


def cards(d) -> dict[str, str]:
    return {title: shown.text for title, shown in d.cards.shown.items()}


@pytest.fixture
def close_after():
    made = []
    yield made.append
    for d in made:
        d.close()


def test_an_empty_log_shows_zeros_a_dash_and_says_why(close_after) -> None:
    empty = pd.DataFrame({c: pd.Series(dtype=object) for c in uw.CANONICAL})
    d = uw.UsageDashboard(empty, now=NOW)
    close_after(d)
    assert cards(d) == {"Active Users": "0", "Avg Requests / User": "—", "Requests": "0",
                        "Total Tokens": "0", "User Cost": "$0.00"}  # fmt: skip
    assert d.chart.is_empty and list(d.chart.empty_label.text) == [NO_DATA]
    assert d.table.is_empty and "No requests in the last 7 days." in d.table.message.value
    d.state.view = "team"
    assert d.chart.is_empty and d.table.is_empty
    assert d.controls.teams.children[1].allowed_tags == []


def test_a_selection_without_requests_says_which_filters(close_after) -> None:
    d = uw.UsageDashboard(log_of(10), now=NOW)
    close_after(d)
    d.state.teams = ("team-001",)
    d.state.range = "custom"
    d.state.start = d.state.end = (NOW - pd.Timedelta(days=30)).date()
    assert cards(d)["Requests"] == "0" and cards(d)["Avg Requests / User"] == "—"
    assert d.chart.is_empty
    assert "No requests in this date range match these filters." in d.table.message.value


def test_a_single_request(close_after) -> None:
    d = uw.UsageDashboard(log_of(1, tokens=1234, cost=0.004), now=NOW)
    close_after(d)
    assert cards(d) == {"Active Users": "1", "Avg Requests / User": "1", "Requests": "1",
                        "Total Tokens": "1.2K", "User Cost": "<$0.01"}  # fmt: skip
    assert d.cards.shown["User Cost"].hover == "$0.004"
    assert not d.chart.is_empty and d.chart.series.values.sum() == 1
    assert d.table.row_labels == ["user-00000"] and len(d.table.grid.data) == 1


def test_fifty_thousand_users_send_a_small_page(close_after) -> None:
    d = uw.UsageDashboard(log_of(50_000), now=NOW, selection=uw.Selection(range="24h"))
    close_after(d)
    assert d.report.kpis["active_users"] == 50_000 and cards(d)["Active Users"] == "50K"
    assert len(d.report.breakdown) == 50_000
    assert len(d.table.grid.data) == MAX_TABLE_ROWS
    assert "50,000 users" in d.summary.value
    size = sent_bytes(d)
    assert size < 4_000_000, size  # a few MB at most, whatever the number of users
    d.state.search = "user-49999"  # search reaches every user, not only the first 500
    assert d.table.row_labels == ["user-49999"]


def test_five_hundred_teams_keep_a_readable_legend_and_distinct_colours(close_after) -> None:
    names = [f"team-{k:03d}" for k in range(500)]
    # The ten biggest teams are ones whose own colours clash: five share one colour, five another.
    by_color: dict[str, list[str]] = {}
    for team, color in team_colors(names).items():
        by_color.setdefault(color, []).append(team)
    crowded = sorted(by_color.values(), key=len, reverse=True)
    big = crowded[0][:5] + crowded[1][:5]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        log = log_of(6_000, users=1_000, teams=names + big * 10)  # big teams: 11 times the rest
    d = uw.UsageDashboard(log, now=NOW, selection=uw.Selection(view="team", range="24h"))
    close_after(d)
    series = d.chart.series
    assert series.names[-1] == OTHER and sorted(series.names[:-1]) == sorted(big)
    assert len(series.members[-1]) == 490
    assert "Other (490 teams)" in d.chart.legend.value
    assert d.chart.legend.value.count("uw-legend-item") == 11
    colors = series.colors
    assert colors[-1] == OTHER_COLOR
    for i, first in enumerate(colors):
        for second in colors[i + 1 :]:
            assert color_distance(first, second) >= MIN_DISTANCE, (first, second)
    # a named team's badge in the table has the colour of its bars
    for name, color in zip(series.names[:-1], colors[:-1], strict=True):
        row = d.table.row_labels.index(name)
        assert color.lstrip("#") in d.table.grid.data["Team"].iloc[row].replace("%23", "#")
    assert len(d.controls.teams.children[1].allowed_tags) == 500


def test_numbers_beyond_a_trillion_tokens_and_a_billion_dollars(close_after) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        log = log_of(40, users=4, tokens=10**12, cost=3e8)  # 4 * 10^13 tokens, $12 billion
    d = uw.UsageDashboard(log, now=NOW)
    close_after(d)
    assert d.report.kpis["total_tokens"] == 40 * 10**12
    assert cards(d)["Total Tokens"] == "40T"
    assert d.cards.shown["Total Tokens"].hover == "40,000,000,000,000"
    assert cards(d)["User Cost"] == "$12B"
    assert d.cards.shown["User Cost"].hover == "$12,000,000,000.00"
    assert d.table.grid.data["Input"].tolist() == [10 * 10**12] * 4  # exact, not rounded
    assert d.table.grid.data["Cost"].tolist() == [3e9] * 4
