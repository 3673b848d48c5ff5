"""What the page offers beyond the numbers: cost by model, anomaly flags, drill-down from a team
to its users, a link to the current selection and its breakdown as CSV."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

import ipywidgets as w

from .export import MAX_ROWS, breakdown_csv, csv_name
from .report import Report
from .selection import Selection
from .share import encode
from .views.insights import download_html, flags_html, insights_style, share_html
from .views.models_chart import ModelCostChart

if TYPE_CHECKING:
    from .dashboard import UsageDashboard


def previous_period(rep: Report) -> str:
    """The period the KPI changes compare with, in words: ``"Oct 2 – Oct 31"``.

    Examples
    --------
    >>> from usage_widgets import demo_log, report
    >>> previous_period(report(demo_log(users=10, days=20, now="2026-02-01 10:00"),
    ...                        now="2026-02-01 10:00"))
    'the previous 7 days (Jan 19 – Jan 25)'
    """
    start, end = rep.previous_start, rep.previous_end
    if start is None or end is None or str(start) == "NaT":
        return "the previous period"
    sel = rep.selection
    if sel.range == "24h":
        return f"the 24 hours before ({start:%b} {start.day}, {start:%H:%M} – {end:%H:%M})"
    days = (end.normalize() - start.normalize()).days + 1
    return f"the previous {days} days ({start:%b} {start.day} – {end:%b} {end.day})"


def flagged_rows(rep: Report) -> list[bool]:
    """Per breakdown row: is it flagged as an anomaly?"""
    key = "user_id" if rep.selection.view == "user" else "team"
    if rep.breakdown.empty or key not in rep.breakdown:
        return []
    return [bool(v) for v in rep.breakdown[key].isin(rep.anomalies.index)]


class PageTools:
    """The dashboard's extra parts and what their clicks do.

    Built by `UsageDashboard`; ``show(report)`` is called from its one refresh path.
    """

    def __init__(self, dashboard: UsageDashboard) -> None:
        self.dashboard = dashboard
        self.models_chart = ModelCostChart()
        self.models_chart.on_pick(self.pick_model)
        self.flags = w.HTML()
        self.share = w.HTML()
        self.download = w.HTML()
        self.notice = w.HTML(layout=w.Layout(display="none"))
        self.notice.add_class("uw-link-notice")
        self.back = w.Button(description="← All teams", tooltip="Back to the team view as it was")
        self.back.add_class("uw-drill-back")
        self.back.on_click(lambda _: self.go_back())
        self.drill_text = w.HTML()
        self.drill_text.add_class("uw-drill")
        self.drill_bar = w.HBox(
            [self.back, self.drill_text],
            layout=w.Layout(display="none", align_items="center", margin="4px 0"),
        )
        self.drilled_from: Selection | None = None
        self.style = insights_style()
        dashboard.table.on_row_click(self.drill)
        dashboard.state.observe(self._view_changed, names="view")

    def show(self, rep: Report) -> None:
        """Update every part for a new report."""
        sel = rep.selection
        self.models_chart.show(rep.cost_by_model, sel.models)
        key, label = ("user_id", "name") if sel.view == "user" else ("team", "team")
        names = dict(zip(rep.breakdown[key], rep.breakdown[label], strict=True)) if len(rep.breakdown) else {}
        flagged = [(str(names[k]), str(r)) for k, r in rep.anomalies["reason"].items() if k in names] \
            if len(rep.anomalies) else []  # fmt: skip
        self.flags.value = flags_html(flagged, sel.anomalies_only)
        self.share.value = share_html(encode(sel, rep.tz))
        rows = len(rep.breakdown)
        self.download.value = download_html(
            breakdown_csv(rep), csv_name(rep), min(rows, MAX_ROWS), rows > MAX_ROWS
        )

    def header_widgets(self) -> list[w.Widget]:
        """The tools that sit beside the table's title."""
        return [self.share, self.download]

    # -- clicks -------------------------------------------------------------------------------
    def pick_model(self, model: str) -> None:
        """A model bar click: filter to that model; a click on the only chosen model clears it."""
        state = self.dashboard.state
        state.models = () if state.models == (model,) else (model,)

    def drill(self, team: str) -> None:
        """A team row click in the team view: the users of that team, other filters kept."""
        state = self.dashboard.state
        if state.view != "team":
            return
        before = state.selection
        sort = before.sort if before.sort != "users" else "cost"
        self.dashboard.selection = before.replace(
            view="user", teams=(team,), search="", sort=sort, anomalies_only=False
        )
        self.drilled_from = before
        self.drill_text.value = f"Users of team <b>{html.escape(team)}</b>"
        self.drill_bar.layout.display = "flex"

    def go_back(self) -> None:
        """Back to the team view exactly as it was before the drill-down."""
        before, self.drilled_from = self.drilled_from, None
        self.drill_bar.layout.display = "none"
        if before is not None:
            self.dashboard.selection = before

    def _view_changed(self, change: dict) -> None:
        if change["new"] == "team" and self.drilled_from is not None:
            self.drilled_from = None
            self.drill_bar.layout.display = "none"

    def show_notice(self, text: str | None) -> None:
        """A line about the page's link (a link that could not be followed), or nothing."""
        self.notice.value = f"<div class='uw-message-text'>{html.escape(text)}</div>" if text else ""
        self.notice.layout.display = "block" if text else "none"
