"""The activity chart: bars per time bucket, active users or requests stacked by team."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import bqplot as bq
import ipywidgets as widgets
import numpy as np
import pandas as pd

from .colors import OTHER_COLOR, team_colors
from .format import compact, plural
from .lifecycle import close_parts
from .styles import ACCENT, TEXT_MUTED, style_widget

View = Literal["user", "team"]
Granularity = Literal["hour", "day"]

NO_DATA = "No data for this selection"
OTHER = "Other"
MAX_TEAMS = 10  # named series in the team view; the rest are summed as "Other"
MAX_TICKS = 12  # x labels, so that dates never overlap
USER_SERIES = "active users"


@dataclass(frozen=True)
class Series:
    """What the bars show: one row of ``values`` per series, one column per bucket."""

    names: list[str]
    colors: list[str]
    values: np.ndarray
    members: list[list[str]] = field(default_factory=list)  # teams behind each series


def _local_index(activity: pd.DataFrame, tz: str) -> pd.DatetimeIndex:
    index = pd.DatetimeIndex(activity.index)
    if index.tz is None:
        index = index.tz_localize("UTC")
    return index.tz_convert(tz)


def _day_label(ts: pd.Timestamp) -> str:
    return f"{ts:%b} {ts.day}"


def bucket_labels(index: pd.DatetimeIndex, granularity: Granularity) -> list[str]:
    """Short x labels: ``"Nov 3"`` per day; ``"14:00"`` per hour, the date at midnight.

    Examples
    --------
    >>> idx = pd.date_range("2024-11-03 22:00", periods=3, freq="h", tz="UTC")
    >>> bucket_labels(idx, "hour")
    ['22:00', '23:00', 'Nov 4']
    """
    if granularity == "day":
        return [_day_label(ts) for ts in index]
    return [_day_label(ts) if (ts.hour, ts.minute) == (0, 0) else f"{ts:%H:%M}" for ts in index]


def bucket_titles(index: pd.DatetimeIndex, granularity: Granularity) -> list[str]:
    """Full names of the buckets for hover text: ``"Sun, Nov 3"`` or ``"Sun, Nov 3, 14:00 UTC"``."""
    if granularity == "day":
        return [f"{ts:%a}, {_day_label(ts)}" for ts in index]
    return [f"{ts:%a}, {_day_label(ts)}, {ts:%H:%M %Z}" for ts in index]


def _stride(count: int, steps: Sequence[int]) -> int:
    return next((s for s in steps if math.ceil(count / s) <= MAX_TICKS), steps[-1])


def tick_positions(index: pd.DatetimeIndex, granularity: Granularity) -> list[int]:
    """Which buckets get an x label: at most about ``MAX_TICKS``, on round hours, latest day kept.

    Examples
    --------
    >>> idx = pd.date_range("2024-11-01", periods=30, freq="D", tz="UTC")
    >>> tick_positions(idx, "day")[-1], len(tick_positions(idx, "day")) <= MAX_TICKS
    (29, True)
    """
    count = len(index)
    if granularity == "day":
        stride = _stride(count, (1, 2, 3, 7, 14, 28, 56))
        return [i for i in range(count) if (count - 1 - i) % stride == 0]
    stride = _stride(count, (1, 2, 3, 4, 6, 12, 24, 48))
    return [i for i, ts in enumerate(index) if ts.hour % stride == 0]


def nice_ticks(top: float, target: int = 4) -> list[int]:
    """Whole-number y ticks from 0 covering ``top``, about ``target`` steps of 1, 2 or 5 x 10^k.

    Examples
    --------
    >>> nice_ticks(7), nice_ticks(1234)
    ([0, 2, 4, 6, 8], [0, 500, 1000, 1500])
    """
    if top <= 0:
        return [0, 1]
    raw = max(top / target, 1.0)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = int(next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw))
    last = math.ceil(top / step) * step
    return list(range(0, last + step, step))


def user_series(activity: pd.DataFrame) -> Series:
    """The one series of the user view: active users per bucket."""
    column = activity["active_users"] if "active_users" in activity else activity.iloc[:, 0]
    values = column.to_numpy(dtype=float, na_value=0.0)[np.newaxis, :]
    return Series([USER_SERIES], [ACCENT], values, [[]])


def team_series(
    activity: pd.DataFrame, colors: Mapping[str, str], max_teams: int = MAX_TEAMS
) -> Series:
    """Stacked series of the team view: the biggest teams, each named, the rest summed as "Other".

    Columns are taken in the order given (the data layer sorts them by total, descending). All
    teams are named when there is at most one more than ``max_teams``.
    """
    teams = [str(c) for c in activity.columns]
    matrix = activity.to_numpy(dtype=float, na_value=0.0).T
    missing = [t for t in teams if t not in colors]
    palette = {**team_colors(missing), **colors} if missing else dict(colors)
    if len(teams) <= max_teams + 1:
        return Series(teams, [palette[t] for t in teams], matrix, [[t] for t in teams])
    named, rest = teams[:max_teams], teams[max_teams:]
    values = np.vstack([matrix[:max_teams], matrix[max_teams:].sum(axis=0, keepdims=True)])
    return Series(
        [*named, OTHER],
        [*(palette[t] for t in named), OTHER_COLOR],
        values,
        [*([t] for t in named), rest],
    )


def _series_label(name: str, members: list[str]) -> str:
    return name if len(members) <= 1 else f"{name} ({len(members)} teams)"


def _hover_html(
    name: str, color: str, bucket: str, value: float, view: View, members: list[str]
) -> str:
    if view == "user":
        return (
            f'<div class="uw-tooltip"><b>{html.escape(bucket)}</b><br/>'
            f"{html.escape(plural(int(value), 'active user'))}</div>"
        )
    label = _series_label(name, members)
    return (
        f'<div class="uw-tooltip"><span class="uw-swatch" style="background:{html.escape(color)}">'
        f"</span><b>{html.escape(label)}</b><br/>{html.escape(bucket)}<br/>"
        f"{html.escape(plural(int(value), 'request'))}</div>"
    )


def legend_html(series: Series) -> str:
    """A wrapping row of colour swatches and series names, above the plot.

    bqplot draws its own legend inside the plot area, where a dozen teams hide the bars; this
    one sits outside and wraps. "Other" names the teams it stands for on hover.
    """
    items = []
    for name, color, members in zip(series.names, series.colors, series.members, strict=True):
        label = _series_label(name, members)
        hover = ", ".join(members) if len(members) > 1 else name
        items.append(
            f'<span class="uw-legend-item" title="{html.escape(hover)}">'
            f'<span class="uw-swatch" style="background:{html.escape(color)}"></span>'
            f'<span class="uw-legend-label">{html.escape(label)}</span></span>'
        )
    return f'<div class="uw-legend">{"".join(items)}</div>'


def _axes(x_scale: bq.OrdinalScale, y_scale: bq.LinearScale) -> tuple[bq.Axis, bq.Axis]:
    # No colours here: set on an axis they would be inline styles, and the stylesheet
    # (JupyterLab's theme variables, light or dark) could no longer reach the text and lines.
    x_axis = bq.Axis(
        scale=x_scale, grid_lines="none", tick_style={"font-size": "11px"}, label_offset="36px"
    )
    y_axis = bq.Axis(scale=y_scale, side="left", grid_lines="solid", tick_style={"font-size": "11px"})
    return x_axis, y_axis


def _bars(x_scale: bq.OrdinalScale, y_scale: bq.LinearScale, tip: widgets.HTML) -> bq.Bars:
    # The tooltip is our own HTML, filled on hover: bqplot's default tooltip cannot name the
    # series of a stacked segment (Bars send only index, subIndex, x and y).
    return bq.Bars(
        x=np.zeros(0),
        y=np.zeros(0),
        scales={"x": x_scale, "y": y_scale},
        type="stacked",
        padding=0.2,
        colors=[ACCENT],
        labels=[USER_SERIES],
        tooltip=tip,
        tooltip_style={"opacity": 0.95},
    )


def _empty_label() -> bq.Label:
    unit = {"x": bq.LinearScale(min=0.0, max=1.0), "y": bq.LinearScale(min=0.0, max=1.0)}
    return bq.Label(
        x=[0.5],
        y=[0.5],
        scales=unit,
        text=[NO_DATA],
        align="middle",
        default_size=14,
        colors=[TEXT_MUTED],
        enable_hover=False,
        visible=False,
    )


class ActivityChart(widgets.VBox):
    """Bars over the time range, built once; :meth:`show` updates the marks in place.

    A widget (a titled panel holding a bqplot Figure): put it in a box or display it.

    Parameters
    ----------
    height : int
        Height of the plot in pixels.
    max_teams : int
        Teams named in the team view; the others are summed as "Other".
    """

    def __init__(self, height: int = 300, max_teams: int = MAX_TEAMS, **kwargs: Any) -> None:
        x_scale, y_scale = bq.OrdinalScale(), bq.LinearScale(min=0.0, max=1.0)
        x_axis, y_axis = _axes(x_scale, y_scale)
        hover_tip = widgets.HTML()
        bars = _bars(x_scale, y_scale, hover_tip)
        empty_label = _empty_label()
        figure = bq.Figure(
            marks=[bars, empty_label],
            axes=[x_axis, y_axis],
            fig_margin={"top": 12, "bottom": 44, "left": 48, "right": 12},
            padding_y=0.0,
            animation_duration=0,
            display_toolbar=False,
            layout=widgets.Layout(width="100%", height=f"{height}px"),
        )
        figure.add_class("uw-chart")
        title, legend = widgets.HTML(), widgets.HTML()
        super().__init__(children=[style_widget(), title, legend, figure], **kwargs)
        self.add_class("uw-panel")
        self.add_class("uw-root")
        self.max_teams = max_teams
        self.view: View = "user"
        self.series = Series([USER_SERIES], [ACCENT], np.zeros((1, 0)), [[]])
        self.titles: list[str] = []
        self.tz = "UTC"
        self.x_scale, self.y_scale, self.x_axis, self.y_axis = x_scale, y_scale, x_axis, y_axis
        self.hover_tip, self.bars, self.empty_label = hover_tip, bars, empty_label
        self.figure, self.title, self.legend = figure, title, legend
        bars.on_hover(self._on_hover)
        self._set_title("Activity", "")

    @property
    def widget(self) -> ActivityChart:
        """The widget to display: the chart itself."""
        return self

    def close(self) -> None:
        """Close the chart and every widget it is made of."""
        close_parts(self)
        super().close()

    @property
    def is_empty(self) -> bool:
        """Whether the chart shows the no-data message instead of bars."""
        return bool(self.empty_label.visible)

    def show(
        self,
        activity: pd.DataFrame,
        view: View,
        colors: Mapping[str, str],
        granularity: Granularity,
        tz: str,
    ) -> None:
        """Show the activity of a report.

        Parameters
        ----------
        activity : DataFrame
            One row per bucket (tz-aware index of bucket starts). User view: ``active_users``;
            team view: one column of requests per team, biggest first.
        view : {"user", "team"}
        colors : mapping of str to str
            Team -> colour (see :func:`~usage_widgets.views.colors.team_colors`).
        granularity : {"hour", "day"}
        tz : str
            IANA zone the buckets are labelled in.
        """
        if view not in ("user", "team"):
            raise ValueError(f"view must be 'user' or 'team', not {view!r}")
        index = _local_index(activity, tz)
        series = (
            user_series(activity)
            if view == "user"
            else team_series(activity, colors, self.max_teams)
        )
        self.view, self.series, self.tz = view, series, tz
        self.titles = bucket_titles(index, granularity)
        self.x_axis.label = f"{granularity}s in {tz}"
        self._set_title(*self._title_text(view, granularity, tz))
        if len(index) == 0 or not series.values.any():
            self._show_empty()
            return
        self._show_bars(index, granularity)

    def _title_text(self, view: View, granularity: Granularity, tz: str) -> tuple[str, str]:
        what = "Active users" if view == "user" else "Requests by team"
        return f"{what} per {granularity}", f"times in {tz}"

    def _set_title(self, title: str, subtitle: str) -> None:
        sub = f'<span class="uw-panel-subtitle">{html.escape(subtitle)}</span>' if subtitle else ""
        self.title.value = f'<div class="uw-panel-title">{html.escape(title)}{sub}</div>'

    def _show_empty(self) -> None:
        with self.bars.hold_sync():
            self.bars.x, self.bars.y = np.zeros(0), np.zeros(0)
            self.bars.labels = []
        self.legend.value = ""
        for axis in (self.x_axis, self.y_axis):
            axis.visible = False
        self.empty_label.visible = True

    def _show_bars(self, index: pd.DatetimeIndex, granularity: Granularity) -> None:
        series = self.series
        positions = np.arange(len(index))
        labels = bucket_labels(index, granularity)
        ticks = tick_positions(index, granularity)
        top = float(series.values.sum(axis=0).max())
        y_ticks = nice_ticks(top)
        team_view = self.view == "team"
        # An ordinal axis ticks every bucket whatever tick_values says; unlabelled ones get "".
        shown = set(ticks)
        with self.x_axis.hold_sync():
            self.x_axis.tick_labels = {str(i): labels[i] if i in shown else "" for i in positions}
            self.x_axis.visible = True
        with self.y_axis.hold_sync():
            self.y_axis.tick_values = np.array(y_ticks)
            self.y_axis.tick_labels = {str(v): compact(v) for v in y_ticks}
            self.y_axis.visible = True
        self.y_scale.max = float(y_ticks[-1])
        with self.bars.hold_sync():
            self.bars.x = positions
            self.bars.y = series.values if team_view else series.values[0]
            self.bars.colors = list(series.colors)
            self.bars.labels = list(series.names)
            self.bars.color_mode = "element" if team_view else "auto"
        self.legend.value = legend_html(series) if team_view else ""
        self.empty_label.visible = False

    def hover_text(self, index: int, sub_index: int = 0) -> str:
        """The tooltip markup for one bar segment (bucket ``index``, series ``sub_index``)."""
        series = self.series
        if not (0 <= sub_index < len(series.names) and 0 <= index < series.values.shape[1]):
            return ""
        return _hover_html(
            series.names[sub_index],
            series.colors[sub_index],
            self._bucket_name(index),
            float(series.values[sub_index, index]),
            self.view,
            series.members[sub_index] if sub_index < len(series.members) else [],
        )

    def _bucket_name(self, index: int) -> str:
        """The bucket as the hover text names it, with the zone its times are in."""
        title = self.titles[index] if index < len(self.titles) else ""
        return title if title.endswith(f" {self.tz}") else f"{title} · {self.tz}"

    def _on_hover(self, _mark: bq.Bars, content: dict[str, Any]) -> None:
        # What the browser sends is untrusted: accept only whole-number positions.
        # Bars send the hovered segment as "data"; other marks use "point".
        if not isinstance(content, dict):
            return
        point = content.get("data", content.get("point"))
        if not isinstance(point, dict):
            return
        index, sub_index = point.get("index"), point.get("subIndex", 0)
        if isinstance(index, int) and isinstance(sub_index, int):
            self.hover_tip.value = self.hover_text(index, sub_index)
