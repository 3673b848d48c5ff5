"""The dashboard's one state object: the user's selection as typed, validated traits."""

from __future__ import annotations

import datetime as _dt
from typing import Any

import traitlets as t

from .errors import SelectionError
from .selection import RANGES, SORT_COLUMNS, VIEWS, Selection
from .timewindow import time_zones

_FIELDS = ("view", "range", "start", "end", "api_keys", "tags", "teams", "search", "sort", "descending",
           "models", "anomalies_only")


class DashboardState(t.HasTraits):
    """What the user selected. Controls link to these traits; the dashboard observes them.

    Values a control (or a browser message) cannot legitimately send are refused or cleaned here:
    unknown keys, tags and teams are dropped, dates must be dates. A date the calendar cannot
    hold is kept, so that the page can say why it shows nothing for it (`Selection.check`).
    """

    view = t.Enum(VIEWS, default_value="user", help="One row per user, or per team.")
    range = t.Enum(RANGES, default_value="7d", help="Time range of the page.")
    start = t.Any(None, allow_none=True, help="First day of the custom range (a date).")
    end = t.Any(None, allow_none=True, help="Last day of the custom range (a date).")
    api_keys = t.Tuple(help="Selected API keys; empty means all.")
    tags = t.Tuple(help="Selected key:value tags; empty means no tag filter.")
    teams = t.Tuple(help="Selected teams; empty means all.")
    models = t.Tuple(help="Selected models; empty means all.")
    anomalies_only = t.Bool(False, help="Show only the table rows flagged as anomalies.")
    search = t.Unicode("", help="Text that filters the table by name, email or team.")
    sort = t.Enum(SORT_COLUMNS, default_value="cost", help="Column the table is sorted by.")
    descending = t.Bool(True, help="Sort order of the table.")
    live = t.Bool(False, help="Live Mode: refresh as new requests arrive.")
    tz = t.Unicode("UTC", help="IANA time zone of days and hours on the page.")

    def __init__(self, options: dict[str, list[str]], **kwargs: Any) -> None:
        self.options = {name: tuple(values) for name, values in options.items()}
        super().__init__(**kwargs)

    @t.validate("start", "end")
    def _valid_date(self, proposal: dict[str, Any]) -> _dt.date | None:
        value = proposal["value"]
        if value is None:
            return None
        if isinstance(value, _dt.datetime):
            value = value.date()
        if not isinstance(value, _dt.date):
            raise t.TraitError(f"{proposal['trait'].name} must be a date, not {value!r}")
        return value

    @t.validate("tz")
    def _known_zone(self, proposal: dict[str, Any]) -> str:
        if proposal["value"] not in time_zones():
            raise t.TraitError(f"unknown time zone {proposal['value']!r}")
        return proposal["value"]

    @t.observe("view")
    def _sort_that_exists(self, change: dict[str, Any]) -> None:
        if self.sort == "users" and change["new"] == "user":
            self.sort, self.descending = "cost", True

    @t.validate("api_keys", "tags", "teams", "models")
    def _known_choices(self, proposal: dict[str, Any]) -> tuple[str, ...]:
        allowed = self.options.get(proposal["trait"].name, ())
        chosen = [v for v in proposal["value"] if isinstance(v, str) and v in allowed]
        return tuple(dict.fromkeys(chosen))

    @property
    def selection(self) -> Selection:
        """The current selection as an immutable value."""
        return Selection(**{name: getattr(self, name) for name in _FIELDS})

    @selection.setter
    def selection(self, value: Selection) -> None:
        if not isinstance(value, Selection):
            raise SelectionError(f"expected a Selection, not {type(value).__name__}")
        with self.hold_trait_notifications():
            for name in _FIELDS:
                setattr(self, name, getattr(value, name))

    def clear_filters(self) -> None:
        """Drop the key, tag, team and model filters and the search text; keep view and range."""
        with self.hold_trait_notifications():
            self.api_keys, self.tags, self.teams, self.search = (), (), (), ""
            self.models, self.anomalies_only = (), False

    def sort_by(self, column: str) -> None:
        """A header click: a new column sorts descending first; the same column flips."""
        with self.hold_trait_notifications():
            if column == self.sort:
                self.descending = not self.descending
            else:
                self.sort, self.descending = column, True
