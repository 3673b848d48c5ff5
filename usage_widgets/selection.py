"""The filter selection of the page as one immutable value: view, time range, filters, search, sort."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal

from .errors import SelectionError

View = Literal["user", "team"]
RangeName = Literal["24h", "7d", "14d", "30d", "custom"]

VIEWS: tuple[str, ...] = ("user", "team")
RANGES: tuple[str, ...] = ("24h", "7d", "14d", "30d", "custom")
MAX_CUSTOM_DAYS = 366  # a year, leap day included; more would send thousands of buckets a row
# The dates a custom range may hold: nanosecond instants reach from 1677 to 2262, and a date
# outside them would wrap around silently in NumPy's conversions.
FIRST_DATE, LAST_DATE = _dt.date(1970, 1, 1), _dt.date(2200, 12, 31)
SORT_COLUMNS: tuple[str, ...] = (
    "name", "team", "users", "requests", "input_tokens", "output_tokens", "cost",
)  # fmt: skip


def _as_date(value: Any, name: str) -> _dt.date | None:
    if value is None:
        return None
    if isinstance(value, _dt.datetime):
        return value.date()
    if isinstance(value, _dt.date):
        return value
    if isinstance(value, str):
        try:
            return _dt.date.fromisoformat(value)
        except ValueError:
            raise SelectionError(f"{name} date {value!r} is not a date (YYYY-MM-DD)") from None
    if hasattr(value, "date") and callable(value.date):  # pandas Timestamp
        return value.date()
    raise SelectionError(f"{name} date {value!r} is not a date")


def _as_strings(value: Any, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = (value,)
    try:
        items = tuple(value)
    except TypeError:
        raise SelectionError(f"{name} must be a list of names, not {value!r}") from None
    bad = [v for v in items if not isinstance(v, str)]
    if bad:
        raise SelectionError(f"{name} must hold text, not {bad[0]!r}")
    return tuple(dict.fromkeys(items))  # drop repeats, keep order


@dataclass(frozen=True)
class Selection:
    """What the page is asked to show.

    Parameters
    ----------
    view : {"user", "team"}
        One row per user, or per team.
    range : {"24h", "7d", "14d", "30d", "custom"}
        24h: the last 24 clock hours, hourly. Nd: the last N calendar days with today (partial),
        daily. custom: ``start`` to ``end``, both inclusive, daily (hourly for 2 days or less).
    start, end : datetime.date, optional
        The custom range's first and last day (required when ``range="custom"``).
    api_keys, tags, teams : tuple of str
        Keep only requests made with these keys / carrying these tags / of these teams. Empty
        means no filter. Tags sharing a key are alternatives; different keys must all hold.
    models : tuple of str
        Keep only requests to these models. Empty means all models.
    search : str
        Case-insensitive text matched against name or email (team name in the team view). It
        filters the breakdown table only.
    sort : str
        Breakdown column to sort by.
    descending : bool
        Sort order.
    anomalies_only : bool
        Keep only the breakdown rows flagged as anomalies (see `usage_widgets.anomaly`); like
        the search, it filters the table only.

    Examples
    --------
    >>> Selection(view="team", range="30d", teams=("Search",))
    Selection(view='team', range='30d', teams=('Search',))
    """

    view: View = "user"
    range: RangeName = "7d"
    start: _dt.date | None = None
    end: _dt.date | None = None
    api_keys: tuple[str, ...] = field(default=())
    tags: tuple[str, ...] = field(default=())
    teams: tuple[str, ...] = field(default=())
    search: str = ""
    sort: str = "cost"
    descending: bool = True
    models: tuple[str, ...] = field(default=())
    anomalies_only: bool = False

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        if self.view not in VIEWS:
            raise SelectionError(f"view must be one of {VIEWS}, not {self.view!r}")
        if self.range not in RANGES:
            raise SelectionError(f"range must be one of {RANGES}, not {self.range!r}")
        set_(self, "start", _as_date(self.start, "start"))
        set_(self, "end", _as_date(self.end, "end"))
        for name in ("api_keys", "tags", "teams", "models"):
            set_(self, name, _as_strings(getattr(self, name), name))
        if not isinstance(self.search, str):
            raise SelectionError(f"search must be text, not {self.search!r}")
        if self.sort not in SORT_COLUMNS:
            raise SelectionError(f"sort must be one of {SORT_COLUMNS}, not {self.sort!r}")
        set_(self, "descending", bool(self.descending))
        set_(self, "anomalies_only", bool(self.anomalies_only))

    def check(self) -> None:
        """Raise `SelectionError` with a sentence for the page when the range cannot be shown."""
        if self.range != "custom":
            return
        if self.start is None or self.end is None:
            raise SelectionError("Pick a start and an end date for the custom range.")
        for name, day in (("start", self.start), ("end", self.end)):
            if not FIRST_DATE <= day <= LAST_DATE:
                raise SelectionError(
                    f"The {name} date ({day:%b %d, %Y}) cannot be shown: pick dates from "
                    f"{FIRST_DATE.year} to {LAST_DATE.year}."
                )
        if self.start > self.end:
            raise SelectionError(
                f"The start date ({self.start:%b %d, %Y}) is after the end date "
                f"({self.end:%b %d, %Y}): pick a start on or before the end."
            )
        if (self.end - self.start).days + 1 > MAX_CUSTOM_DAYS:
            raise SelectionError(
                f"The range holds {(self.end - self.start).days + 1:,} days: pick at most "
                f"{MAX_CUSTOM_DAYS} days."
            )

    def replace(self, **changes: Any) -> Selection:
        """A copy with some fields changed."""
        return replace(self, **changes)

    def __repr__(self) -> str:
        parts = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("view", "range") or value != f.default:
                # Dates as ISO text, which Selection accepts: the repr evaluates with only
                # Selection in scope.
                shown = value.isoformat() if isinstance(value, _dt.date) else value
                parts.append(f"{f.name}={shown!r}")
        return f"Selection({', '.join(parts)})"
