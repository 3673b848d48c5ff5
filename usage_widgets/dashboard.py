"""`UsageDashboard`: the control bar, KPI cards, activity chart and breakdown table, composed."""

from __future__ import annotations

import contextlib
import html
from collections.abc import Iterator
from typing import Any

import ipywidgets as w
import pandas as pd

from .controls import ControlBar
from .errors import SelectionError
from .report import Report, report
from .selection import Selection
from .state import DashboardState
from .store import RequestStore
from .views import ActivityChart, BreakdownTable, KpiCards, page_style, team_colors

_RANGE_WORDS = {"24h": "the last 24 hours", "7d": "the last 7 days", "14d": "the last 14 days",
                "30d": "the last 30 days", "custom": "this date range"}  # fmt: skip


class UsageDashboard(w.VBox):
    """Who consumes AI resources and what it costs, by user or by team.

    Parameters
    ----------
    log : DataFrame, path or RequestStore
        The request log (see `load_log`).
    tz : str
        IANA time zone of days and hours.
    now : timestamp, optional
        Fix the present (for reports of a past moment and for tests); default: the clock.
    selection : Selection, optional
        What to show first.

    Examples
    --------
    >>> import usage_widgets as uw
    >>> dash = uw.UsageDashboard(uw.demo_log(users=20, days=5))
    >>> dash.state.view = "team"          # the controls follow
    >>> dash.report.breakdown.columns[0]
    'team'
    """

    def __init__(
        self,
        log: pd.DataFrame | str | RequestStore,
        *,
        tz: str = "UTC",
        now: Any = None,
        selection: Selection | None = None,
    ) -> None:
        self.store = log if isinstance(log, RequestStore) else RequestStore.from_log(log)
        self.tz = tz
        self.now = None if now is None else pd.Timestamp(now)
        self.report: Report | None = None
        self._hold = 0
        self.state = DashboardState(self.store.options())
        if selection is not None:
            self.state.selection = selection
        self.colors = team_colors(self.store.teams.values)
        self.controls = ControlBar(self.state, on_clear=self.clear_filters)
        self.cards = KpiCards()
        self.chart = ActivityChart()
        self.table = BreakdownTable()
        self.table.on_sort(self._sort_clicked)
        self.message = w.HTML(layout=w.Layout(display="none"))
        self.message.add_class("uw-message")
        self.results = w.VBox([self.cards, self.chart, self._table_header(), self.table])
        super().__init__([page_style(), self.controls, self.message, self.results])
        self.add_class("uw-dashboard")
        self.state.observe(self._state_changed, names=[n for n in self.state.trait_names() if n != "live"])
        self.refresh()

    # -- for data scientists ---------------------------------------------------------------
    @property
    def selection(self) -> Selection:
        """The current selection; set it to move every control at once."""
        return self.state.selection

    @selection.setter
    def selection(self, value: Selection) -> None:
        with self._one_refresh():
            self.state.selection = value

    def clear_filters(self) -> None:
        """Drop key, tag and team filters and the search text."""
        with self._one_refresh():
            self.state.clear_filters()

    # -- the one refresh path ----------------------------------------------------------------
    def refresh(self) -> None:
        """Recompute the report for the current selection and hand it to every view."""
        selection = self.state.selection
        try:
            rep = report(self.store, selection, now=self.now, tz=self.tz)
        except SelectionError as exc:
            self._show_message(str(exc))
            return
        self.report = rep
        self._show_message(None)
        with self.hold_sync():
            self.cards.show(rep.kpis)
            self.chart.show(rep.activity, selection.view, self.colors, rep.granularity, rep.tz)
            self.table.set_sort(selection.sort, selection.descending)
            self.table.show(rep.breakdown, selection.view, self.colors, empty_reason=self._empty_reason(rep))

    def _state_changed(self, _change: dict) -> None:
        if not self._hold:
            self.refresh()

    @contextlib.contextmanager
    def _one_refresh(self) -> Iterator[None]:
        self._hold += 1
        try:
            yield
        finally:
            self._hold -= 1
        if not self._hold:
            self.refresh()

    def _sort_clicked(self, column: str) -> None:
        with self._one_refresh():
            self.state.sort_by(column)

    def _show_message(self, text: str | None) -> None:
        if text is None:
            self.message.layout.display = "none"
            self.results.layout.display = "flex"
            return
        self.message.value = f"<div class='uw-message-text'>{html.escape(text)}</div>"
        self.message.layout.display = "block"
        self.results.layout.display = "none"

    def _empty_reason(self, rep: Report) -> str | None:
        if len(rep.breakdown):
            return None
        sel = rep.selection
        what = "user" if sel.view == "user" else "team"
        if rep.rows_before_search:
            return f"No {what} matches “{sel.search.strip()}”."
        filtered = sel.api_keys or sel.tags or sel.teams
        when = _RANGE_WORDS[sel.range]
        if filtered:
            return f"No requests in {when} match these filters."
        return f"No requests in {when}."

    def _table_header(self) -> w.HBox:
        title = w.HTML("<div class='uw-section-title'>Breakdown</div>")
        return w.HBox(
            [title, self.controls.search],
            layout=w.Layout(justify_content="space-between", align_items="center", margin="8px 0 4px 0"),
        )
