"""The time window of a selection and its bucket edges, exact in any IANA time zone."""

from __future__ import annotations

import datetime as _dt
import zoneinfo
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Literal

import numpy as np
import pandas as pd

from .errors import SelectionError
from .selection import Selection

HOUR_NS = 3_600 * 10**9
QUARTER_NS = 900 * 10**9  # every zone's offset is a multiple of 15 minutes (since 1980: below)
DAY_NS = 24 * HOUR_NS
DAY = _dt.timedelta(days=1)
# From 1980 on, every zone's offset from UTC is a whole number of quarter hours (in tzdata, the
# last exceptions are Africa/Monrovia, -0:44:30 until 1972, and Pacific/Kiritimati, -10:40
# until 1979); a window reaching earlier is checked (`_check_offsets`).
WHOLE_QUARTERS_NS = int(pd.Timestamp("1980-01-01", tz="UTC").value)
EPOCH = _dt.date(1970, 1, 1)


@cache
def time_zones() -> frozenset[str]:
    """The IANA zone names this machine knows."""
    return frozenset(zoneinfo.available_timezones() | {"UTC"})


def check_zone(tz: object) -> None:
    """`SelectionError` unless ``tz`` names a time zone that pandas, which converts the times,
    knows (quicker at a first report than listing `time_zones`)."""
    try:
        if not isinstance(tz, str) or not tz:
            raise TypeError(tz)
        _EPOCH_UTC.tz_convert(tz)
    except (KeyError, ValueError, TypeError):  # pytz's unknown zone is a KeyError
        raise SelectionError(
            f"unknown time zone {tz!r}: use an IANA name such as 'Europe/Berlin' or 'UTC'"
        ) from None


_EPOCH_UTC = pd.Timestamp(0, tz="UTC")


@dataclass(frozen=True)
class Window:
    """Where a selection looks: requests with ``start_ns <= ts <= end_ns``, in buckets.

    ``edges`` are UTC nanoseconds; bucket ``i`` is ``[edges[i], edges[i + 1])``.
    """

    edges: np.ndarray
    stop_ns: int
    granularity: Literal["hour", "day"]
    tz: str

    @property
    def start_ns(self) -> int:
        return int(self.edges[0])

    @property
    def end_ns(self) -> int:
        """Last instant a request may have: the window's end, but never after ``now``."""
        return min(self.stop_ns, int(self.edges[-1]) - 1)

    @property
    def n_buckets(self) -> int:
        return len(self.edges) - 1

    @property
    def labels(self) -> pd.DatetimeIndex:
        """Bucket starts, tz-aware in the window's zone (an index of its own: a caller may rename it)."""
        return _labels(self.edges[:-1].tobytes(), self.tz).copy(name="bucket", deep=True)


@lru_cache(maxsize=64)
def _labels(starts: bytes, tz: str) -> pd.DatetimeIndex:
    """Bucket starts (UTC ns, as bytes) as a DatetimeIndex in ``tz``: remembered, since a
    dashboard asks for the same buckets at every refresh of a day."""
    return pd.DatetimeIndex(np.frombuffer(starts, dtype=np.int64), tz="UTC").tz_convert(tz)


OUTSIDE, SPLIT = -1, -2  # a quarter hour in no bucket; one an edge falls inside


def quarter_table(edges: np.ndarray, q0: int, q1: int) -> np.ndarray:
    """Per quarter hour ``q0 .. q1`` (``ts // QUARTER_NS``): the bucket of ``edges`` it lies
    in (bucket ``i`` is ``[edges[i], edges[i + 1])``), `OUTSIDE` when it lies in none, `SPLIT`
    when an edge falls inside it, where a request's own time decides. Real zones' day and hour
    edges fall on quarter hours, so only edges such as "now minus 24 hours" split one.

    Examples
    --------
    >>> q = QUARTER_NS
    >>> quarter_table(np.array([q, 3 * q, 3 * q + 5]), 0, 4).tolist()
    [-1, 0, 0, -2, -1]
    """
    starts = np.arange(q0, q1 + 1, dtype=np.int64) * QUARTER_NS
    first = np.searchsorted(edges, starts, side="right") - 1
    last = np.searchsorted(edges, starts + (QUARTER_NS - 1), side="right") - 1
    return np.where(first == last, spans_of(edges, starts), SPLIT).astype(np.int32)


def spans_of(edges: np.ndarray, instants: np.ndarray) -> np.ndarray:
    """Per instant, the span ``i`` of ``edges`` it lies in (``[edges[i], edges[i + 1])``), or
    `OUTSIDE`.

    Examples
    --------
    >>> spans_of(np.array([10, 20, 30]), np.array([5, 10, 25, 30])).tolist()
    [-1, 0, 1, -1]
    """
    span = np.searchsorted(edges, instants, side="right") - 1
    return np.where(span < len(edges) - 1, span, OUTSIDE).astype(np.int64)


def window_for(selection: Selection, now: pd.Timestamp, tz: str) -> Window:
    """The window a selection covers at ``now`` (UTC) in zone ``tz``.

    Examples
    --------
    >>> w = window_for(Selection(range="7d"), pd.Timestamp("2026-03-10 15:00", tz="UTC"), "UTC")
    >>> w.n_buckets, str(w.labels[0].date())
    (7, '2026-03-04')
    """
    selection.check()
    now_ns = int(now.value)
    local_today = now.tz_convert(tz).date()
    custom = selection.range == "custom"  # then `check` has made sure of both dates
    first, last = (selection.start, selection.end) if custom else (local_today, local_today)
    _check_offsets(tz, first - 40 * DAY, last + 2 * DAY)  # type: ignore[operator]
    if selection.range == "24h":
        edges = _hour_edges_around(now_ns, tz)
        return Window(edges, now_ns, "hour", tz)
    if selection.range == "custom":
        assert selection.start is not None and selection.end is not None
        first, last = selection.start, selection.end
        if (last - first).days + 1 <= 2:
            lo, hi = _midnights([first, last + DAY], tz)
            edges = _hour_edges_between(lo, hi, tz)
            return Window(edges, now_ns, "hour", tz)
    else:
        days = int(selection.range.removesuffix("d"))
        first, last = local_today - (days - 1) * DAY, local_today
    edges = _midnights([first + i * DAY for i in range((last - first).days + 2)], tz)
    return Window(edges, now_ns, "day", tz)


def _check_offsets(tz: str, first: _dt.date, last: _dt.date) -> None:
    """`SelectionError` when, in the UTC days ``first`` to ``last`` (around a window and the
    anomaly rule's days before it), the zone's offset from UTC is not a whole number of
    quarter hours: its days and hours would not begin on quarter hours, which the report's
    buckets rely on."""
    lo_ns = (first - EPOCH).days * DAY_NS
    if lo_ns >= WHOLE_QUARTERS_NS:
        return
    hi_ns = (last - EPOCH).days * DAY_NS
    instants = np.arange(lo_ns, max(lo_ns, min(hi_ns, WHOLE_QUARTERS_NS)) + HOUR_NS, HOUR_NS)
    wall = pd.DatetimeIndex(instants, tz="UTC").tz_convert(tz).tz_localize(None).asi8
    odd = np.flatnonzero((wall - instants) % QUARTER_NS)
    if len(odd):
        day = pd.Timestamp(instants[odd[-1]], tz="UTC").tz_convert(tz)
        raise SelectionError(
            f"In {tz}, clocks on {day:%b %d, %Y} were off UTC by a part of a quarter hour, so its "
            "hours and days cannot be shown exactly: pick dates from 1980 on, or another time zone."
        )


def _midnights(dates: list[_dt.date], tz: str) -> np.ndarray:
    """The instants (UTC ns) at which each local date begins."""
    return _midnights_of(tuple(dates), tz).copy()


@lru_cache(maxsize=256)
def _midnights_of(dates: tuple[_dt.date, ...], tz: str) -> np.ndarray:
    naive = pd.DatetimeIndex(np.array(dates, dtype="datetime64[D]").astype("datetime64[ns]"))
    local = naive.tz_localize(tz, ambiguous=np.ones(len(naive), dtype=bool), nonexistent="shift_forward")
    return local.tz_convert("UTC").asi8.astype(np.int64)


def _local_hour_starts(lo_ns: int, hi_ns: int, tz: str) -> np.ndarray:
    """Instants in ``[lo_ns, hi_ns]`` at which a local clock hour begins (each on a quarter
    hour: the quarters from the first at or after ``lo_ns`` to the last at or before ``hi_ns``)."""
    return _hour_starts_of(-(-lo_ns // QUARTER_NS), hi_ns // QUARTER_NS, tz).copy()


@lru_cache(maxsize=256)
def _hour_starts_of(first_quarter: int, last_quarter: int, tz: str) -> np.ndarray:
    """Kept for reports within the same quarter hour: the zone's conversion is a tenth of a
    24-hour report's time."""
    grid = np.arange(first_quarter, last_quarter + 1, dtype=np.int64) * QUARTER_NS
    return grid[pd.DatetimeIndex(grid, tz="UTC").tz_convert(tz).minute == 0]


def _hour_edges_around(now_ns: int, tz: str) -> np.ndarray:
    """25 edges of the 24 clock hours that end with the one holding ``now``."""
    starts = _local_hour_starts(now_ns - 27 * HOUR_NS, now_ns + 2 * HOUR_NS, tz)
    current = int(np.searchsorted(starts, now_ns, side="right")) - 1
    return starts[current - 23 : current + 2]


def _hour_edges_between(lo_ns: int, hi_ns: int, tz: str) -> np.ndarray:
    return _local_hour_starts(int(lo_ns), int(hi_ns), tz)


def previous_window(selection: Selection, window: Window) -> Window:
    """The period of the same length right before ``window`` (for "what changed").

    24h: the 24 clock hours before its first hour. Nd: the N local calendar days before its
    first day. Custom: as many days before its start as it holds. One bucket: only totals are
    compared.

    Examples
    --------
    >>> now = pd.Timestamp("2026-03-10 15:00", tz="UTC")
    >>> prev = previous_window(Selection(range="7d"), window_for(Selection(range="7d"), now, "UTC"))
    >>> [str(pd.Timestamp(e, tz="UTC").date()) for e in prev.edges]
    ['2026-02-25', '2026-03-04']
    """
    start = int(window.edges[0])
    if selection.range == "24h":
        hours = _hour_edges_around(start - 1, window.tz)
        edges = np.array([hours[0], start], dtype=np.int64)
    else:
        if selection.range == "custom":
            assert selection.start is not None and selection.end is not None
            days = (selection.end - selection.start).days + 1
        else:
            days = int(selection.range.removesuffix("d"))
        first = pd.Timestamp(start, tz="UTC").tz_convert(window.tz).date()
        edges = _midnights([first - days * DAY, first], window.tz)
    return Window(edges, start - 1, window.granularity, window.tz)


def rolling_days(end_ns: int, periods: int, tz: str) -> Window:
    """``periods`` spans of 24 hours ending at ``end_ns`` (inclusive), oldest first."""
    last = end_ns + 1
    edges = np.array([last - (periods - i) * 24 * HOUR_NS for i in range(periods + 1)], dtype=np.int64)
    return Window(edges, end_ns, "hour", tz)
