"""`UsageDashboard`: the control bar, KPI cards, activity chart and breakdown table, composed."""

from __future__ import annotations

import asyncio
import contextlib
import html
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any

import ipywidgets as w
import pandas as pd

from .controls import ControlBar
from .errors import LogError, SelectionError
from .page_tools import PageTools, flagged_rows, previous_period
from .recipe import log_lines, report_code
from .report import Report, report
from .selection import Selection
from .sources import FileSource, FrameSource, Source
from .state import DashboardState
from .store import RequestStore
from .views import ActivityChart, BreakdownTable, KpiCards, style_widget, team_colors
from .views.colors import distinct_colors
from .views.lifecycle import close_parts

_RANGE_WORDS = {"24h": "the last 24 hours", "7d": "the last 7 days", "14d": "the last 14 days",
                "30d": "the last 30 days", "custom": "this date range"}  # fmt: skip


class UsageDashboard(w.VBox):
    """Who consumes AI resources and what it costs, by user or by team.

    Parameters
    ----------
    log : DataFrame, path, RequestStore or SqlSource
        The request log (see `load_log`; `connect` for a database).
    tz : str
        IANA time zone of days and hours.
    now : timestamp, optional
        Fix the present (for reports of a past moment and for tests); default: the clock.
    selection : Selection, optional
        What to show first.
    live_interval : float
        Seconds between two looks for new requests while Live Mode is on.
    clock : callable, optional
        Returns the present as a UTC timestamp (default: the system clock); tests pass their own.

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
        log: pd.DataFrame | str | os.PathLike | RequestStore | Source,
        *,
        tz: str = "UTC",
        now: Any = None,
        selection: Selection | None = None,
        live_interval: float = 5.0,
        clock: Callable[[], pd.Timestamp] | None = None,
    ) -> None:
        self._live_task: asyncio.Task | None = None
        self._reading: asyncio.Future | None = None  # the source read under way, if any
        self.source, self.store = _open(log)
        fixed = None if now is None else _utc(now)
        self.clock = clock or ((lambda: fixed) if fixed is not None else _system_clock)
        self.live_interval = float(live_interval)
        self.report: Report | None = None
        self._now = self.clock()  # the moment the page's numbers are of
        self.live_error: str | None = None
        self.last_update: pd.Timestamp | None = None
        self._hold = 0
        self.state = DashboardState(self.store.options(), tz=tz)
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
        self.code_view = w.HTML(layout=w.Layout(display="none"))
        self.code_view.add_class("uw-code")
        self.controls.code.observe(self._show_code, names="value")
        self.summary = w.HTML()
        self.summary.add_class("uw-table-summary")
        self.tools = PageTools(self)
        self.results = w.VBox([self.cards, self.chart, self.tools.models_chart, self._table_header(),
                               self.tools.flags, self.table, self.summary])  # fmt: skip
        super().__init__([style_widget(), self.tools.style, self.controls, self.code_view,
                          self.tools.notice, self.tools.drill_bar, self.message,
                          self.results])  # fmt: skip
        self.add_class("uw-dashboard")
        self.state.observe(self._state_changed, names=[n for n in self.state.trait_names() if n != "live"])
        self.state.observe(self._live_switched, names="live")
        self._closed = False
        self.refresh()

    @property
    def tz(self) -> str:
        """The page's time zone (the picker's value)."""
        return self.state.tz

    # -- for data scientists ---------------------------------------------------------------
    @property
    def selection(self) -> Selection:
        """The current selection; set it to move every control at once."""
        return self.state.selection

    @selection.setter
    def selection(self, value: Selection) -> None:
        with self._one_refresh():
            self.state.selection = value

    @property
    def code(self) -> str:
        """Python that reproduces the page's numbers (what the "Code" control shows)."""
        return report_code(self.state.selection, self.tz, self._now, log_lines(self.source))

    def clear_filters(self) -> None:
        """Drop key, tag and team filters and the search text."""
        with self._one_refresh():
            self.state.clear_filters()

    # -- the one refresh path ----------------------------------------------------------------
    def refresh(self) -> None:
        """Recompute the report for the current selection and hand it to every view.

        A failure shows a sentence on the page, never a traceback (which would go to the
        kernel's log, leaving the page stale or blank).
        """
        try:
            self._refresh()
        except Exception as exc:
            self._show_message(
                f"This selection could not be shown ({type(exc).__name__}). "
                "Try another selection, or reload the page."
            )

    def _refresh(self) -> None:
        selection = self.state.selection
        self._now = self.clock().floor("s")  # whole seconds: the Code control shows this moment
        self._show_code()
        try:
            rep = report(self.store, selection, now=self._now, tz=self.tz)
        except SelectionError as exc:
            self._show_message(str(exc))
            return
        self.report = rep
        self._show_message(None)
        # Teams named side by side in the chart get colours that differ, in the table too.
        colors = (
            distinct_colors([str(t) for t in rep.activity.columns[: self.chart.max_teams]], self.colors)
            if selection.view == "team" else self.colors
        )  # fmt: skip
        with self.hold_sync():
            self.cards.show(rep.kpis, rep.previous_kpis, previous_period(rep))
            self.chart.show(rep.activity, selection.view, colors, rep.granularity, rep.tz)
            self.table.set_sort(selection.sort, selection.descending)
            self.table.show(rep.breakdown.head(MAX_TABLE_ROWS), selection.view, colors,
                            empty_reason=self._empty_reason(rep),
                            flagged=flagged_rows(rep)[:MAX_TABLE_ROWS])  # fmt: skip
            self.tools.show(rep)
            self.summary.value = table_summary(rep) + self._data_notes()

    # -- Live Mode -------------------------------------------------------------------------
    def _absorb(self, fresh: pd.DataFrame) -> int:
        """Add new requests (each request_id once) and refresh every view."""
        if isinstance(fresh, int):  # a database source counts what arrived; it reports there
            added = fresh
        else:
            added = self.store.append(fresh, validated=getattr(self.source, "validated", False))
        if added:
            options = self.store.options()
            self.state.options = {name: tuple(values) for name, values in options.items()}
            self.controls.set_choices(options)
            self.colors = _keep_colors(self.colors, team_colors(self.store.teams.values))
        self.refresh()
        self.last_update = self.clock()
        return added

    async def live_tick(self, timeout: float | None = None) -> bool:
        """One look for new requests; False (and a warning on the page) when the source fails.

        A read that outlives its timeout is not abandoned: the next look waits for the same
        read, so what it brings is never lost and two reads of one source never overlap.
        """
        loop = asyncio.get_running_loop()
        if self._reading is None:
            self._reading = loop.run_in_executor(None, self.source.read_new)
        try:
            fresh = await asyncio.wait_for(
                asyncio.shield(self._reading), timeout or max(self.live_interval * 4, 10)
            )
            self._reading = None
            self._absorb(fresh)
        except Exception as exc:  # any failure keeps the last good data on the page
            if self._reading is not None and self._reading.done():
                self._reading = None  # it failed: the next look reads again
            self.live_error = _reason(exc)
            self._show_live_status()
            return False
        self.live_error = None
        self._show_live_status()
        return True

    async def _live_loop(self) -> None:
        delay = self.live_interval
        while self.state.live:
            ok = await self.live_tick()
            delay = self.live_interval if ok else min(max(delay * 2, self.live_interval), 60.0)
            if not ok:
                self._show_live_status(retry_in=delay)
            await asyncio.sleep(delay)

    def _live_switched(self, change: dict) -> None:
        if change["new"]:
            self._start_live()
        else:
            self._stop_live()
        self._show_live_status()

    def _start_live(self) -> None:
        if self._live_task is not None and not self._live_task.done():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = asyncio.get_event_loop_policy().get_event_loop()
        self._live_task = loop.create_task(self._live_loop())

    def _stop_live(self) -> None:
        if self._live_task is not None:
            self._live_task.cancel()
            self._live_task = None

    def _show_live_status(self, retry_in: float | None = None) -> None:
        status = self.controls.live_status
        if not self.state.live:
            status.value = ""
            return
        if self.live_error:
            again = f" · retrying in {retry_in:.0f} s" if retry_in else ""
            status.value = (
                "<span class='uw-live-warn' title='The last good data stays on screen'>"
                f"⚠ Log unavailable: {html.escape(self.live_error)}{again}</span>"
            )
            return
        when = self.last_update.tz_convert(self.tz).strftime("%H:%M:%S") if self.last_update else "…"
        aside = getattr(self.source, "set_aside", 0)
        note = f" · {aside:,} bad rows set aside" if aside else ""
        status.value = f"<span class='uw-live-on'>● Live · updated {when}{note}</span>"

    def close(self) -> None:
        """Stop Live Mode's task and close every widget of the dashboard."""
        self._stop_live()
        if getattr(self, "_closed", True):  # closed already, or never finished building
            return super().close()
        self._closed = True
        if not sys.is_finalizing():
            for link in self.controls.links:
                link.unlink()
            self.state.unobserve_all()
            close_parts(self)
        super().close()

    def _data_notes(self) -> str:
        """What was handled rather than shown: repeated ids, rows set aside (spec §1)."""
        notes = []
        if self.store.repeats:
            notes.append(f"{self.store.repeats:,} repeated request ids counted once")
        aside = getattr(self.source, "set_aside", 0)
        if aside:
            notes.append(f"{aside:,} rows that break the log's rules set aside")
        return f"<div class='uw-caption uw-data-notes'>{' · '.join(notes)}</div>" if notes else ""

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

    def _show_code(self, _change: dict | None = None) -> None:
        if not self.controls.code.value:
            self.code_view.layout.display = "none"
            return
        self.code_view.value = (
            "<div class='uw-code-box'><div class='uw-caption'>These lines give the numbers below "
            f"(click to select them):</div><pre class='uw-code-text'>{html.escape(self.code)}</pre></div>"
        )
        self.code_view.layout.display = "block"

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
        if sel.anomalies_only and rep.rows_before_search:
            text = sel.search.strip()
            matching = f" that matches “{text}”" if text else ""
            return f"No {what}{matching} is flagged as an anomaly in {_RANGE_WORDS[sel.range]}."
        if rep.rows_before_search:
            return f"No {what} matches “{sel.search.strip()}”."
        filtered = sel.api_keys or sel.tags or sel.teams or sel.models
        when = _RANGE_WORDS[sel.range]
        if filtered:
            return f"No requests in {when} match these filters."
        return f"No requests in {when}."

    def _table_header(self) -> w.HBox:
        title = w.HTML("<div class='uw-section-title'>Breakdown</div>")
        return w.HBox(
            [title, w.HBox(layout=w.Layout(flex="1")), *self.tools.header_widgets(),
             self.controls.anomalies_only, self.controls.search],
            layout=w.Layout(justify_content="space-between", align_items="center", margin="8px 0 4px 0"),
        )


_SORT_WORDS = {"name": "name", "team": "team", "users": "users", "requests": "requests",
               "input_tokens": "input tokens", "output_tokens": "output tokens", "cost": "cost"}  # fmt: skip
_SUMMARY_ROWS = 100
# Rows handed to the grid: the grid sends all it holds to the browser, and nobody reads past a
# few hundred rows; search reaches the others.
MAX_TABLE_ROWS = 500


def table_summary(rep: Report) -> str:
    """A caption under the table (rows shown, sort order) and, for screen readers, the rows in
    order as a list: the grid itself is drawn on a canvas that assistive technology cannot read."""
    sel = rep.selection
    noun = "user" if sel.view == "user" else "team"
    shown, total = len(rep.breakdown), rep.rows_before_search
    plural = "" if total == 1 else "s"
    order = "highest first" if sel.descending else "lowest first"
    if sel.sort in ("name", "team"):
        order = "Z to A" if sel.descending else "A to Z"
    label = "name" if sel.view == "user" else "team"
    column = sel.sort if sel.sort != "name" else label
    words = _SORT_WORDS.get(column, column)
    caption = (
        f"Showing {shown:,} of {total:,} {noun}{plural}" if shown != total
        else f"{total:,} {noun}{plural}"
    )  # fmt: skip
    if shown > MAX_TABLE_ROWS:
        caption += f" (the first {MAX_TABLE_ROWS:,} are listed; search to find the others)"
    items = "".join(
        f"<li>{html.escape(str(v))}</li>" for v in rep.breakdown[label].head(_SUMMARY_ROWS)
    )
    return (
        f"<div class='uw-caption' data-rows='{shown}' data-sort='{html.escape(column)}:"
        f"{'desc' if sel.descending else 'asc'}'>{caption} · sorted by {words}, {order}</div>"
        f"<ol class='uw-sr-only' aria-label='Rows of the table, in order'>{items}</ol>"
    )


def _open(log: Any) -> tuple[Source, RequestStore]:
    """The source to follow and the store built from what it has now."""
    if isinstance(log, RequestStore):
        return FrameSource(pd.DataFrame()), log
    if hasattr(log, "compute_report"):  # a SqlSource: reported on in its database, never pulled
        return log, log
    if isinstance(log, Source) and not isinstance(log, pd.DataFrame):
        source: Source = log
    elif isinstance(log, str | os.PathLike):
        source = FileSource(log)
    else:
        source = FrameSource(log)
    store = RequestStore()
    store.append(source.read(), validated=getattr(source, "validated", False))
    return source, store


def _keep_colors(old: dict[str, str], new: dict[str, str]) -> dict[str, str]:
    """Colours for a grown set of teams: a team keeps the colour it has; a new team takes its
    own colour when free, else the first colour no team uses yet."""
    kept = {team: old[team] for team in new if team in old}
    used = set(kept.values())
    free = [c for c in dict.fromkeys(new.values()) if c not in used]
    for team, color in new.items():
        if team in kept:
            continue
        pick = color if color not in used else (free[0] if free else color)
        kept[team] = pick
        used.add(pick)
        if pick in free:
            free.remove(pick)
    return kept


def _utc(value: Any) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _system_clock() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC")


def _reason(exc: BaseException) -> str:
    """A short, safe description of a failure: never a traceback, path or connection string."""
    if isinstance(exc, asyncio.TimeoutError | TimeoutError):
        return "the log did not answer in time"
    if isinstance(exc, ConnectionError):
        return "the database cannot be reached"
    if isinstance(exc, FileNotFoundError | OSError):
        return "the log file cannot be read"
    if isinstance(exc, LogError):
        return f"bad rows in the log ({exc.rule})"
    return f"{type(exc).__name__}"
