"""The view widgets, fed small hand-built frames and checked through their widget state."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest
from ipydatagrid import ImageRenderer, TextRenderer

from usage_widgets.views import (
    PALETTE,
    ActivityChart,
    BreakdownTable,
    KpiCards,
    compact,
    compact_usd,
    exact,
    exact_usd,
    team_colors,
    text_color_for,
)
from usage_widgets.views.cells import image_markup, sparkline, xml_text
from usage_widgets.views.chart import MAX_TICKS, NO_DATA, OTHER
from usage_widgets.views.colors import OTHER_COLOR, contrast_ratio
from usage_widgets.views.table import MAX_VISIBLE_ROWS, ROW_HEIGHT

XSS = "<img src=x onerror=alert(1)>"


# -- fixtures: small frames shaped like the data layer's Report --------------------------------
def _days(count: int = 7, tz: str = "UTC") -> pd.DatetimeIndex:
    return pd.date_range("2024-11-01", periods=count, freq="D", tz=tz, name="bucket")


def _hours(count: int = 24, tz: str = "UTC") -> pd.DatetimeIndex:
    return pd.date_range("2024-11-03 14:00", periods=count, freq="h", tz=tz, name="bucket")


def _team_activity(teams: list[str], buckets: int = 7) -> pd.DataFrame:
    data = {
        team: [10 * (len(teams) - i) + b for b in range(buckets)] for i, team in enumerate(teams)
    }
    return pd.DataFrame(data, index=_days(buckets))


def _user_activity(values: list[int]) -> pd.DataFrame:
    return pd.DataFrame({"active_users": values}, index=_days(len(values)))


def _user_breakdown(rows: list[dict[str, object]] | None = None) -> pd.DataFrame:
    default: list[dict[str, object]] = [
        {
            "user_id": "u1",
            "name": XSS,
            "email": "evil@example.com",
            "team": "R&D",
            "trend": [0, 1, 0, 9],
            "models": ["gpt-4o", "claude", "llama", "mistral", "o1"],
            "requests": 1234,
            "input_tokens": 98765,
            "output_tokens": 4321,
            "cost": 1234.56,
            "unpriced": 2,
        },
        {
            "user_id": "u2",
            "name": "Bob",
            "email": None,
            "team": "Search",
            "trend": [1, 1, 1, 1],
            "models": ["gpt-4o"],
            "requests": 5,
            "input_tokens": 10,
            "output_tokens": 20,
            "cost": 0.001,
            "unpriced": 0,
        },
    ]
    return pd.DataFrame(rows if rows is not None else default)


def _team_breakdown() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "team": ["R&D", "Search"],
            "users": [3, 1],
            "trend": [[1, 2, 3], [0, 0, 0]],
            "models": [["a", "b"], []],
            "requests": [10, 2],
            "input_tokens": [100, 20],
            "output_tokens": [5, 1],
            "cost": [3.5, 0.0],
            "unpriced": [0, 4],
        }
    )


def _kpis(**changes: object) -> dict[str, object]:
    kpis: dict[str, object] = {
        "active_users": 12,
        "avg_requests_per_user": 102880.58,
        "requests": 1234567,
        "total_tokens": 9_876_543_210,
        "cost": 3412.5,
        "unpriced_requests": 0,
    }
    return {**kpis, **changes}


def _click(table: BreakdownTable, region: str, column: str, row: int | None = None) -> None:
    """A click as ipydatagrid's browser side sends it, through the widget's message path."""
    table.grid._handle_custom_msg(
        {
            "event_type": "cell-click",
            "region": region,
            "column": column,
            "column_index": 0,
            "row": row,
            "primary_key_row": row,
            "cell_value": column,
        },
        [],
    )


RICH = ("User Name", "Team", "Trend", "Models")


def _markup(frame: pd.DataFrame) -> pd.DataFrame:
    """The grid's frame with each rich cell's image turned back into the XHTML it draws."""
    out = frame.copy()
    for column in RICH:
        if column in out:
            assert all(v.startswith("data:image/svg+xml,") for v in out[column])
            assert not any("#" in v for v in out[column])  # would end the URI early
            out[column] = [image_markup(v) for v in out[column]]
    return out


def _well_formed(markup: str) -> ET.Element:
    """Parse as ipydatagrid's HtmlRenderer will: XHTML inside an SVG image (blank if malformed)."""
    return ET.fromstring(f'<div xmlns="http://www.w3.org/1999/xhtml">{markup}</div>')


# -- format -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, "0"),
        (1, "1"),
        (999, "999"),
        (1000, "1K"),
        (1500, "1.5K"),
        (12345, "12.3K"),
        (999_950, "1M"),  # 999.95K rounds up into the next unit, never "1000K"
        (1_234_567, "1.2M"),
        (3.4e9, "3.4B"),
        (1e12, "1T"),
        (1.2e12, "1.2T"),
        (1.5e15, "1,500T"),
        (12.345, "12.3"),
        (-12345, "-12.3K"),
        (None, "—"),
        (float("nan"), "—"),
    ],
)
def test_compact(value: float | None, expected: str) -> None:
    assert compact(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0, "0"), (999, "999"), (1234567, "1,234,567"), (12.345, "12.35"), (None, "—")],
)
def test_exact(value: float | None, expected: str) -> None:
    assert exact(value) == expected


@pytest.mark.parametrize(
    ("value", "short", "long"),
    [
        (0, "$0.00", "$0.00"),
        (0.42, "$0.42", "$0.42"),
        (0.0031, "<$0.01", "$0.0031"),
        (12.5, "$12.50", "$12.50"),
        (999.996, "$1K", "$1,000.00"),
        (3412.5, "$3.4K", "$3,412.50"),
        (1.5e9, "$1.5B", "$1,500,000,000.00"),
        (2e12, "$2T", "$2,000,000,000,000.00"),
        (None, "—", "—"),
    ],
)
def test_usd(value: float | None, short: str, long: str) -> None:
    assert compact_usd(value) == short
    assert exact_usd(value) == long


# -- colours ----------------------------------------------------------------------------------
TWELVE = [f"team-{n}" for n in range(12)]


def test_team_colors_are_order_independent_and_distinct() -> None:
    colors = team_colors(TWELVE)
    shuffled = TWELVE[:]
    random.Random(3).shuffle(shuffled)
    assert team_colors(shuffled) == colors
    assert team_colors([*TWELVE, *TWELVE]) == colors
    assert len(set(colors.values())) == 12
    assert set(colors.values()) <= set(PALETTE)
    assert OTHER_COLOR not in PALETTE


def test_team_colors_fill_the_palette_then_repeat() -> None:
    many = [f"t{n}" for n in range(len(PALETTE) + 5)]
    colors = team_colors(many)
    assert len(colors) == len(many)
    assert len(set(colors.values())) == len(PALETTE)


def test_team_colors_are_the_same_in_another_process() -> None:
    code = (
        "from usage_widgets.views.colors import team_colors;"
        "print(sorted(team_colors(['R&D', 'Search', 'Ads', 'Infra']).items()))"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2")
    }
    assert len(outputs) == 1
    assert outputs.pop().strip() == str(
        sorted(team_colors(["Ads", "Infra", "R&D", "Search"]).items())
    )


def test_badge_text_keeps_contrast() -> None:
    for color in (*PALETTE, OTHER_COLOR):
        assert contrast_ratio(color, text_color_for(color)) >= 4.5, color


# -- cards ------------------------------------------------------------------------------------
def test_cards_show_compact_values_with_exact_hover() -> None:
    cards = KpiCards()
    cards.show(_kpis())
    assert list(cards.cards) == [
        "Active Users",
        "Avg Requests / User",
        "Requests",
        "Total Tokens",
        "User Cost",
    ]
    requests = cards.cards["Requests"].value
    assert '<div class="uw-card-value" title="1,234,567">1.2M</div>' in requests
    assert cards.shown["Total Tokens"].text == "9.9B"
    assert cards.shown["Avg Requests / User"].text == "102.9K"
    assert cards.shown["User Cost"].text == "$3.4K"
    assert 'title="$3,412.50"' in cards.cards["User Cost"].value
    assert "uw-card-note" not in cards.cards["User Cost"].value


def test_cards_update_in_place() -> None:
    cards = KpiCards()
    widgets_before = dict(cards.cards)
    cards.show(_kpis())
    cards.show(_kpis(requests=999))
    assert cards.cards == widgets_before
    assert cards.shown["Requests"].text == "999"


def test_average_without_users_is_a_dash() -> None:
    cards = KpiCards()
    cards.show(_kpis(active_users=0, avg_requests_per_user=None, requests=0))
    assert cards.shown["Avg Requests / User"].text == "—"
    assert ">—</div>" in cards.cards["Avg Requests / User"].value


def test_cost_card_tells_about_unpriced_requests() -> None:
    cards = KpiCards()
    cards.show(_kpis(unpriced_requests=3, cost=0.0031))
    cost = cards.cards["User Cost"].value
    assert cards.shown["User Cost"].text == "<$0.01"
    assert "&lt;$0.01" in cost
    assert "+ 3 requests without a known price" in cost
    assert "not counting 3 requests" in cards.shown["User Cost"].hover
    cards.show(_kpis(unpriced_requests=1))
    assert "+ 1 request without a known price" in cards.cards["User Cost"].value


# -- chart ------------------------------------------------------------------------------------
def test_team_view_stacks_one_series_per_team_in_its_colour() -> None:
    teams = ["Search", "R&D", "Ads"]
    colors = team_colors(teams)
    chart = ActivityChart()
    chart.show(_team_activity(teams), "team", colors, "day", "UTC")
    bars = chart.bars
    assert bars.type == "stacked"
    assert bars.y.shape == (3, 7)
    assert list(bars.y[1]) == list(_team_activity(teams)["R&D"])
    assert bars.labels == teams
    assert bars.colors == [colors[t] for t in teams]
    assert bars.color_mode == "element"
    assert not chart.is_empty
    for team in ("Search", "R&amp;D", "Ads"):
        assert f"<span class=\"uw-legend-label\">{team}</span>" in chart.legend.value
    assert "R&D" not in chart.legend.value


def test_user_view_is_one_series_of_active_users() -> None:
    chart = ActivityChart()
    chart.show(_user_activity([1, 0, 3]), "user", {}, "day", "UTC")
    assert chart.bars.y.ndim == 1
    assert list(chart.bars.y) == [1, 0, 3]
    assert chart.bars.labels == ["active users"]
    assert chart.legend.value == ""
    assert "Active users per day" in chart.title.value


def test_switching_views_updates_the_same_marks() -> None:
    chart = ActivityChart()
    bars, figure = chart.bars, chart.figure
    chart.show(_team_activity(["A", "B"]), "team", team_colors(["A", "B"]), "day", "UTC")
    chart.show(_user_activity([2, 2, 2, 2, 2, 2, 2]), "user", {}, "day", "UTC")
    assert chart.bars is bars and chart.figure is figure
    assert figure.marks[0] is bars
    assert bars.y.ndim == 1


def test_many_teams_fold_into_other() -> None:
    teams = [f"team-{n:02d}" for n in range(15)]
    activity = _team_activity(teams)
    chart = ActivityChart()
    chart.show(activity, "team", team_colors(teams), "day", "UTC")
    assert chart.bars.labels == [*teams[:10], OTHER]
    assert chart.bars.colors[-1] == OTHER_COLOR
    assert list(chart.bars.y[-1]) == list(activity[teams[10:]].sum(axis=1))
    assert "Other (5 teams)" in chart.legend.value


def test_eleven_teams_are_all_named() -> None:
    teams = [f"team-{n:02d}" for n in range(11)]
    chart = ActivityChart()
    chart.show(_team_activity(teams), "team", team_colors(teams), "day", "UTC")
    assert chart.bars.labels == teams


def test_daily_labels_are_dates_and_never_crowd() -> None:
    activity = pd.DataFrame({"active_users": range(30)}, index=_days(30, "Europe/Berlin"))
    chart = ActivityChart()
    chart.show(activity, "user", {}, "day", "Europe/Berlin")
    labels = chart.x_axis.tick_labels
    assert len(labels) == 30  # every bar has an entry, most of them blank
    shown = [text for text in labels.values() if text]
    assert 5 <= len(shown) <= MAX_TICKS
    assert labels["29"] == "Nov 30"  # the latest day is always labelled
    assert all(text.split()[0] in {"Nov"} for text in shown)


def test_hourly_labels_are_times_and_midnight_names_the_day() -> None:
    activity = pd.DataFrame({"active_users": [1] * 24}, index=_hours(24))
    chart = ActivityChart()
    chart.show(activity, "user", {}, "hour", "UTC")
    shown = [t for t in chart.x_axis.tick_labels.values() if t]
    assert "14:00" in shown and "Nov 4" in shown
    assert len(shown) <= MAX_TICKS
    assert "Active users per hour" in chart.title.value


def test_labels_follow_the_dashboard_time_zone() -> None:
    utc_index = pd.date_range("2024-11-03 13:00", periods=3, freq="h", tz="UTC", name="bucket")
    activity = pd.DataFrame({"active_users": [1, 2, 3]}, index=utc_index)
    chart = ActivityChart()
    chart.show(activity, "user", {}, "hour", "Asia/Tokyo")
    assert chart.x_axis.tick_labels["0"] == "22:00"
    assert chart.titles[0].endswith("22:00 JST")


def test_y_ticks_are_whole_and_compact() -> None:
    chart = ActivityChart()
    chart.show(_user_activity([0, 1234, 600]), "user", {}, "day", "UTC")
    assert chart.y_axis.tick_labels == {"0": "0", "500": "500", "1000": "1K", "1500": "1.5K"}
    assert chart.y_scale.max == 1500


@pytest.mark.parametrize("activity", [_user_activity([]), _user_activity([0, 0, 0])])
def test_no_data_shows_a_message(activity: pd.DataFrame) -> None:
    chart = ActivityChart()
    chart.show(_user_activity([1, 2]), "user", {}, "day", "UTC")
    chart.show(activity, "user", {}, "day", "UTC")
    assert chart.is_empty
    assert chart.empty_label.visible and list(chart.empty_label.text) == [NO_DATA]
    assert len(chart.bars.x) == 0
    assert not chart.x_axis.visible and not chart.y_axis.visible
    chart.show(_user_activity([1, 2]), "user", {}, "day", "UTC")
    assert not chart.is_empty and chart.x_axis.visible


def test_empty_team_activity_shows_the_message() -> None:
    chart = ActivityChart()
    empty = pd.DataFrame(index=pd.DatetimeIndex([], tz="UTC", name="bucket"))
    chart.show(empty, "team", {}, "day", "UTC")
    assert chart.is_empty
    assert chart.legend.value == ""


def _hover(chart: ActivityChart, data: object) -> None:
    chart.bars._handle_custom_msgs(None, {"event": "hover", "data": data}, None)


def test_hover_names_team_bucket_and_value() -> None:
    teams = ["Search", "<b>R&D</b>"]
    chart = ActivityChart()
    chart.show(_team_activity(teams), "team", team_colors(teams), "day", "UTC")
    # What bqplot's Bars send for a hovered stacked segment.
    _hover(chart, {"index": 2, "subIndex": 1, "x": 2, "y0": 22, "y1": 34, "y": 12})
    tip = chart.hover_tip.value
    assert "&lt;b&gt;R&amp;D&lt;/b&gt;" in tip and "<b>R&D" not in tip
    assert "Sun, Nov 3" in tip
    assert "12 requests" in tip


def test_hover_in_user_view_counts_users() -> None:
    chart = ActivityChart()
    chart.show(_user_activity([1, 5]), "user", {}, "day", "UTC")
    _hover(chart, {"index": 1, "subIndex": 0, "x": 1, "y": 5})
    assert "Sat, Nov 2" in chart.hover_tip.value and "5 active users" in chart.hover_tip.value


@pytest.mark.parametrize(
    "data", [{"index": 99, "subIndex": 0}, {"index": "1"}, {"index": 0, "subIndex": 7}, None, "x"]
)
def test_hover_ignores_what_does_not_fit(data: object) -> None:
    chart = ActivityChart()
    chart.show(_user_activity([1, 5]), "user", {}, "day", "UTC")
    chart.hover_tip.value = "before"
    _hover(chart, data)
    assert chart.hover_tip.value in {"before", ""}


# -- table ------------------------------------------------------------------------------------
def test_user_table_sends_only_the_shown_columns() -> None:
    table = BreakdownTable()
    table.show(_user_breakdown(), "user", team_colors(["R&D", "Search"]))
    data = table.frame
    assert list(data.columns) == [
        "User Name",
        "Trend",
        "Models",
        "Requests",
        "Input",
        "Output",
        "Cost",
    ]
    assert len(data) == 2
    assert list(data["Requests"]) == [1234, 5]
    assert list(data["Cost"]) == [1234.56, 0.001]
    assert table.grid.header_visibility == "column"


def test_numbers_are_right_aligned_with_separators() -> None:
    table = BreakdownTable()
    renderers = table.grid.renderers
    for name, number_format in [
        ("Requests", ",d"),
        ("Input", ",d"),
        ("Output", ",d"),
        ("Users", ",d"),
        ("Cost", "$,.2f"),
    ]:
        renderer = renderers[name]
        assert isinstance(renderer, TextRenderer)
        assert renderer.horizontal_alignment == "right"
        assert renderer.format == number_format
    assert "'<$0.01'" in renderers["Cost"].text_value.value
    for name in ("User Name", "Team", "Trend", "Models"):
        assert isinstance(renderers[name], ImageRenderer)


def test_name_cell_escapes_log_text() -> None:
    table = BreakdownTable()
    table.show(_user_breakdown(), "user", team_colors(["R&D", "Search"]))
    cell = _markup(table.frame)["User Name"].iloc[0]
    assert "&lt;img" in cell and "R&amp;D" in cell
    assert "<img" not in cell and "R&D" not in cell
    assert "evil@example.com" in cell
    assert "2 unpriced" in cell
    assert team_colors(["R&D", "Search"])["R&D"] in cell
    root = _well_formed(cell)
    assert XSS in "".join(root.itertext())


def test_every_rich_cell_is_well_formed_xhtml() -> None:
    nasty = _user_breakdown(
        [
            {
                "user_id": "u",
                "name": "a\x00b\ud800 & <br>",
                "email": "x&y@example.com",
                "team": "<Team & Co>",
                "trend": [],
                "models": ["m<1>", "m&2"],
                "requests": 1,
                "input_tokens": 1,
                "output_tokens": 1,
                "cost": 1.0,
                "unpriced": 0,
            }
        ]
    )
    table = BreakdownTable()
    table.show(nasty, "user", {})
    row = _markup(table.frame).iloc[0]
    for column in ("User Name", "Trend", "Models"):
        _well_formed(row[column])
    table.show(_team_breakdown(), "team", {})
    for column in ("Team", "Trend", "Models"):
        for markup in _markup(table.frame)[column]:
            _well_formed(markup)


def test_models_show_three_then_a_count() -> None:
    table = BreakdownTable()
    table.show(_user_breakdown(), "user", {})
    first, second = _markup(table.frame)["Models"]
    assert "gpt-4o, claude, llama</span>" in first and ">+2</span>" in first
    assert "mistral" not in first
    assert "+" not in second.replace("'", "")
    # The full list, on click, names every model.
    _click(table, "body", "Models", row=0)
    assert "gpt-4o, claude, llama, mistral, o1" in table.detail.value
    assert "&lt;img" in table.detail.value and "<img" not in table.detail.value


def test_sparkline_shows_a_spike_at_the_end() -> None:
    svg = sparkline([0, 0, 0, 0, 50], width=100, height=30)
    line = ET.fromstring(svg).find("{http://www.w3.org/2000/svg}polyline")
    assert line is not None
    points = [tuple(map(float, p.split(","))) for p in line.get("points", "").split()]
    assert points[-1] == (97.0, 3.0)  # top right corner
    assert all(y == 27.0 for _, y in points[:-1])  # the rest on the baseline
    assert "<circle" in svg


def test_header_click_asks_for_a_sort_by_data_key() -> None:
    table = BreakdownTable()
    table.show(_user_breakdown(), "user", {})
    asked: list[str] = []
    table.on_sort(asked.append)
    _click(table, "column-header", "Cost")
    _click(table, "column-header", "User Name")
    _click(table, "column-header", "Input")
    _click(table, "column-header", "Trend")  # not sortable
    _click(table, "column-header", "Users")  # not a column of the user view
    _click(table, "column-header", "<script>")
    _click(table, "body", "Cost", row=0)
    assert asked == ["cost", "name", "input_tokens"]
    table.on_sort(asked.append, remove=True)
    _click(table, "column-header", "Cost")
    assert asked == ["cost", "name", "input_tokens"]


def test_team_view_columns_and_sort_keys() -> None:
    table = BreakdownTable()
    table.show(_team_breakdown(), "team", team_colors(["R&D", "Search"]))
    assert list(table.frame.columns) == [
        "Team",
        "Users",
        "Trend",
        "Models",
        "Requests",
        "Input",
        "Output",
        "Cost",
    ]
    assert "R&amp;D" in _markup(table.frame)["Team"].iloc[0]
    assert "4 requests without a known price" in _markup(table.frame)["Team"].iloc[1]
    asked: list[str] = []
    table.on_sort(asked.append)
    _click(table, "column-header", "Team")
    _click(table, "column-header", "Users")
    assert asked == ["team", "users"]


def test_set_sort_puts_an_arrow_on_the_header() -> None:
    table = BreakdownTable()
    table.show(_user_breakdown(), "user", {})
    table.set_sort("cost", descending=True)
    assert table.header_label("Cost") == "Cost ▼"
    assert table.header_label("Requests") == "Requests"
    assert "'Cost ▼'" in table.grid.header_renderer.text_value.value
    table.set_sort("name", descending=False)
    assert table.header_label("User Name") == "User Name ▲"
    assert table.header_label("Cost") == "Cost"
    table.set_sort(None)
    assert table.header_label("User Name") == "User Name"


def test_grid_grows_with_rows_then_scrolls() -> None:
    def height(rows: int) -> int:
        frame = pd.concat([_user_breakdown()] * rows, ignore_index=True).iloc[:rows]
        table.show(frame, "user", {})
        return int(table.grid.layout.height.removesuffix("px"))

    table = BreakdownTable()
    grid = table.grid
    assert height(2) - height(1) == ROW_HEIGHT
    assert height(MAX_VISIBLE_ROWS) == height(MAX_VISIBLE_ROWS + 30)
    assert table.grid is grid
    assert len(table.frame) == MAX_VISIBLE_ROWS + 30
    assert grid._row_count == MAX_VISIBLE_ROWS + 30
    assert grid.base_row_size == ROW_HEIGHT


def test_no_rows_hide_the_grid_behind_a_sentence() -> None:
    table = BreakdownTable()
    table.show(_user_breakdown().iloc[0:0], "user", {}, empty_reason="No user matches “<abc>”.")
    assert table.is_empty
    assert table.holder.children == ()
    assert table.message.layout.display is None
    assert "No user matches “&lt;abc&gt;”." in table.message.value
    assert "<abc>" not in table.message.value
    table.show(_user_breakdown(), "user", {})
    assert not table.is_empty
    assert table.message.layout.display == "none"
    assert table.holder.children == (table.grid,)


def test_missing_team_colours_fall_back_to_stable_ones() -> None:
    table = BreakdownTable()
    table.show(_team_breakdown(), "team", {})
    assert team_colors(["R&D"])["R&D"] in _markup(table.frame)["Team"].iloc[0]


def test_xml_text_drops_characters_xml_forbids() -> None:
    assert xml_text("a\x00b\x1fc") == "a\ufffdb\ufffdc"
    assert xml_text("\u202eevil") == "evil"
    assert xml_text(None) == ""


# -- the views as widgets ---------------------------------------------------------------------
def test_views_are_widgets_that_close_every_part() -> None:
    import ipywidgets as w

    from usage_widgets.views.lifecycle import parts

    views = [KpiCards(), ActivityChart(), BreakdownTable()]
    page = w.VBox(views)
    assert list(page.children) == views
    for view in views:
        assert view.widget is view
        inner = parts(view)
        assert len(inner) > 5
        view.close()
        assert all(part.comm is None for part in inner)


def test_new_numbers_reach_the_rows_the_browser_shows_without_resending_the_table() -> None:
    """A live refresh keeps the reader's place: same columns send no new dataset, only a tick,
    and the rows the browser then asks for carry the new numbers."""
    table = BreakdownTable()
    table.show(_user_breakdown(), "user", {})
    grid = table.grid
    sent: list[dict] = []
    datasets: list[object] = []
    grid.send = lambda content, buffers=None: sent.append(content)  # type: ignore[method-assign]
    grid.observe(lambda change: datasets.append(change["new"]), "_data")

    more = _user_breakdown()
    more.loc[0, "requests"] = 999_999
    table.show(more, "user", {})

    assert datasets == []  # nothing the browser would rebuild (and scroll to the top for)
    assert sent == [{"event_type": "tick"}]
    grid._handle_comm_msg(None, {"type": "data-request", "r1": 0, "r2": 0, "c1": 0, "c2": 6}, [])
    reply = sent[-1]
    assert reply["event_type"] == "data-reply"
    assert _served(grid, "Requests", row=0) == 999_999

    table.show(_team_breakdown(), "team", {})  # the team view has a grid of its own
    assert datasets == []
    assert table.holder.children == (table.grids["team"],)


def _served(grid, column: str, row: int) -> float:
    """The number the browser receives for one cell when it asks for that row."""
    sent: list[tuple[dict, list]] = []
    grid.send = lambda content, buffers=None: sent.append((content, buffers))
    index = [next(iter(field)) for field in grid._data["fields"][1:]].index(column)
    grid._handle_comm_msg(None, {"type": "data-request", "r1": row, "r2": row, "c1": index,
                                 "c2": index}, [])
    content, buffers = sent[-1]
    spec = content["value"]["data"][column]
    return float(np.frombuffer(buffers[spec["value"]], dtype=spec["dtype"])[0])


def test_token_counts_beyond_two_billion_reach_the_browser_exactly() -> None:
    table = BreakdownTable()
    huge = _user_breakdown()
    huge.loc[0, "input_tokens"] = 4_294_967_396  # 2**32 + 100: as int32 this would show 100
    huge.loc[0, "output_tokens"] = 3 * 10**12
    table.show(huge, "user", {})
    assert _served(table.grid, "Input", row=0) == 4_294_967_396
    assert _served(table.grid, "Output", row=0) == 3 * 10**12



def test_a_body_click_as_the_streaming_grid_sends_it_reaches_the_row() -> None:
    """The streaming grid's browser side sends no primary_key_row: the row is what counts."""
    table = BreakdownTable()
    table.show(_user_breakdown(), "user", {})
    clicked: list[str] = []
    table.on_row_click(clicked.append)
    message = {"event_type": "cell-click", "region": "body", "column": "User Name", "row": 1}
    table.grid._handle_custom_msg(message, [])
    assert clicked == [table.row_labels[1]]
    table.grid._handle_custom_msg({**message, "row": 99}, [])  # no such row: nothing
    assert clicked == [table.row_labels[1]]
