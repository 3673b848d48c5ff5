"""Every number the page shows, computed from a request log and a `Selection`."""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from . import kernel
from .errors import SelectionError
from .selection import FIRST_DATE, LAST_DATE, Selection
from .store import DayPairs, RequestStore, WholeDays
from .timewindow import (
    DAY_NS,
    QUARTER_NS,
    Window,
    check_zone,
    previous_window,
    quarter_table,
    rolling_days,
    spans_of,
    window_for,
)


@dataclass(frozen=True)
class Report:
    """The page's numbers for one selection.

    Attributes
    ----------
    kpis : dict
        ``active_users``, ``avg_requests_per_user`` (None without users), ``requests``,
        ``total_tokens``, ``cost`` (USD, requests of unknown price excluded) and
        ``unpriced_requests`` (how many requests have an unknown price).
    activity : DataFrame
        One row per bucket (index: bucket start in ``tz``); user view: ``active_users``; team
        view: requests per team, one column per team, largest first.
    breakdown : DataFrame
        One row per user or team, filtered by the search text, sorted as the selection asks.
        ``trend`` (requests per bucket) and ``models`` (most used first) are Arrow list columns:
        each cell reads as a Python list.
    previous_kpis : dict
        The same KPIs over the period of the same length right before (``previous_start`` to
        ``previous_end``, see `previous_window`), for "what changed".
    cost_by_model : DataFrame
        ``model``, ``requests``, ``cost`` per model called, largest cost first, under every
        filter but the models filter (so the models not chosen can still be picked).
    anomalies : DataFrame
        The breakdown's rows flagged by `usage_widgets.anomaly` (index: ``user_id`` or
        ``team``): ``latest``, ``median``, ``threshold`` and the ``reason`` in words.
    """

    selection: Selection
    kpis: dict[str, Any]
    activity: pd.DataFrame
    breakdown: pd.DataFrame
    tz: str
    now: pd.Timestamp
    granularity: str
    rows_before_search: int = 0
    start: pd.Timestamp = field(default=pd.NaT)
    end: pd.Timestamp = field(default=pd.NaT)
    previous_kpis: dict[str, Any] = field(default_factory=dict)
    previous_start: pd.Timestamp = field(default=pd.NaT)
    previous_end: pd.Timestamp = field(default=pd.NaT)
    cost_by_model: pd.DataFrame = field(default_factory=pd.DataFrame)
    anomalies: pd.DataFrame = field(default_factory=pd.DataFrame)


def report(
    log: pd.DataFrame | RequestStore | str,
    selection: Selection | None = None,
    *,
    now: Any = None,
    tz: str = "UTC",
) -> Report:
    """Compute the page for a selection.

    Parameters
    ----------
    log : DataFrame, RequestStore, SqlSource or path
        The request log. A `RequestStore` is reused as is; a `SqlSource` (`connect`) computes
        the report in its database; anything else is loaded with `load_log` first (build a
        store once when reporting repeatedly).
    selection : Selection
        View, range and filters (default: user view, 7 days).
    now : timestamp, optional
        The present (default: the current time). Requests after it are ignored.
    tz : str
        IANA time zone of days and hours.

    Returns
    -------
    Report

    Raises
    ------
    SelectionError
        When the selection cannot be answered (a custom start after its end, or a date
        outside 1970-2200), or is not a `Selection`; when ``now`` is not a moment from 1970 to
        2200, or ``tz`` not a known time zone.

    Examples
    --------
    >>> from usage_widgets import demo_log, Selection
    >>> rep = report(demo_log(users=30, days=10, now="2026-02-01"), Selection(view="team"),
    ...              now="2026-02-01")
    >>> list(rep.kpis)
    ['active_users', 'avg_requests_per_user', 'requests', 'total_tokens', 'cost', 'unpriced_requests']
    """
    if selection is not None and not isinstance(selection, Selection):
        raise SelectionError(f"selection must be a Selection, like Selection(range='7d'), not {selection!r}")
    check_zone(tz)
    if hasattr(log, "compute_report"):  # a log in a database reports there (usage_widgets.sql)
        return log.compute_report(selection or Selection(), _as_utc(now), tz)
    store = log if isinstance(log, RequestStore) else RequestStore.from_log(log)
    selection = selection or Selection()
    now_ts = _as_utc(now)
    window = window_for(selection, now_ts, tz)
    view = _user_view if selection.view == "user" else _team_view
    part = _Pass.over(store, selection, window)
    kpis, activity, table, cost_by_model, anomalies = view(store, part, window)
    before = len(table.columns.codes)
    labels = window.labels
    return Report(
        selection=selection,
        kpis=kpis,
        activity=activity,
        breakdown=table.shown(_arrange(table.columns, selection, anomalies)),
        tz=tz,
        now=now_ts,
        granularity=window.granularity,
        rows_before_search=before,
        start=labels[0] if len(labels) else pd.NaT,
        end=pd.Timestamp(window.end_ns, tz="UTC").tz_convert(tz),
        **_previous(store, selection, window, part.filters),
        cost_by_model=cost_by_model,
        anomalies=anomalies,
    )


def _as_utc(now: Any) -> pd.Timestamp:
    """``now`` as a UTC timestamp (naive: UTC); `SelectionError` when it is not a moment the
    calendar holds (as `Selection.check` for dates)."""
    try:
        ts = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now)
        ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    except (ValueError, TypeError, OverflowError):  # OutOfBoundsDatetime is a ValueError
        ts = pd.NaT
    if ts is pd.NaT or not FIRST_DATE <= ts.date() <= LAST_DATE:
        raise SelectionError(f"now must be a moment from {FIRST_DATE.year} to {LAST_DATE.year}, not {now!r}")
    return ts


_PASS_COLUMNS = (
    "ts", "quarter", "user", "team", "key", "model", "tagset", "input_tokens", "output_tokens", "cost", "seq",
)  # fmt: skip


@dataclass
class _Pass:
    """What one compiled pass needs: the rows that hold the requests from the earlier of the
    window's and the anomaly periods' starts to the window's end, the filter tables (key, team,
    tag set, model; empty when a filter is off), and the segments: the spans between
    consecutive edges of the buckets and periods, each with its bucket and its period, found
    per quarter hour (`quarter_table`: exact in every zone; requests outside are left out)."""

    columns: tuple[np.ndarray, ...]
    filters: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
    segments: tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]
    n_buckets: int
    n_periods: int
    groups: tuple[np.ndarray, ...]  # see `_rows`
    window: tuple[int, int]  # the window's first instant and the one after its last
    latest: tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]] | None  # see `_latest`

    @classmethod
    def over(cls, store: RequestStore, selection: Selection, window: Window) -> _Pass:
        from . import anomaly

        periods = rolling_days(window.end_ns, anomaly.PERIODS, window.tz)
        edges = np.union1d(window.edges[window.edges <= window.end_ns], periods.edges)
        starts = edges[:-1]
        q0, q1 = _quarters(int(edges[0]), window.end_ns)
        segments = (
            q0, quarter_table(edges, q0, q1), edges,
            spans_of(window.edges, starts), spans_of(periods.edges, starts),
        )  # fmt: skip
        filters = _filters(store, selection)
        columns, groups = _rows(store, int(edges[0]), window.end_ns)
        inside = (int(window.edges[0]), min(int(window.edges[-1]), window.end_ns + 1))
        latest = _latest(store, columns, groups, kernel.by_key_or_tag(filters))
        return cls(columns, filters, segments, window.n_buckets, periods.n_buckets, groups, inside, latest)

    def view(self, store: RequestStore, team_view: bool) -> tuple[np.ndarray, ...]:
        """The compiled pass of the user view (the team view with ``team_view``)."""
        n_groups = len(store.teams) if team_view else len(store.users.ids)
        users = len(store.users.ids) if team_view else 0
        shape = (n_groups, self.n_buckets, len(store.models), self.n_periods, users)
        return kernel.view_pass(
            self.columns, self.filters, self.segments, shape, team_view, self.groups, self.window, self.latest
        )


def _quarters(start_ns: int, end_ns: int) -> tuple[int, int]:
    """The first and last quarter hours of the UTC days from ``start_ns`` to ``end_ns``: those
    of every row `RequestStore.rows_between` may give."""
    per_day = DAY_NS // QUARTER_NS
    return start_ns // DAY_NS * per_day, (end_ns // DAY_NS + 1) * per_day - 1


def _rows(
    store: RequestStore, start_ns: int, end_ns: int
) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
    """The columns of the rows that hold the requests from ``start_ns`` to ``end_ns``, and the
    finished days' groups among them with their subgroups (`RequestStore.groups_between`, the
    first row, where their bounds count from, and the rows' order by subgroup), which a pass
    reads a group at a time."""
    lo, hi = store.rows_between(start_ns, end_ns)
    columns = tuple(store.column(name)[lo:hi] for name in _PASS_COLUMNS)
    groups = store.groups_between(lo, hi)
    sub, order = groups.subgroups, store.column("pair_order")[lo:hi]
    return columns, (groups.bounds, lo, groups.sums, groups.cost, sub.bounds, sub.sums, sub.cost, order)


def _latest(
    store: RequestStore, columns: tuple[np.ndarray, ...], groups: tuple[np.ndarray, ...], by_pair: bool
) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]] | None:
    """The latest day's groups (with their subgroups, ``by_pair``: under a key or tag filter)
    and the columns of its sorted copy, for a pass to read instead of the rows after
    ``groups`` (the latest day's, in time order), when the store has them
    (`RequestStore.latest_groups`). Its requests outside the pass's edges are left out as a
    finished day's are."""
    if kernel.first_ungrouped(groups) >= len(columns[0]):
        return None  # no request of the latest day among the rows
    latest = store.latest_groups()
    if latest is None:
        return None
    found = latest.groups
    groups = (found.bounds, 0, found.sums, found.cost)
    if by_pair:
        sub, order = latest.subgroups()
        groups += (sub.bounds, sub.sums, sub.cost, order)
    return groups, latest.columns


def _filters(store: RequestStore, selection: Selection) -> tuple[np.ndarray, ...]:
    off = np.zeros(0, dtype=np.bool_)
    return (
        store.keys.lookup(selection.api_keys) if selection.api_keys else off,
        store.teams.lookup(selection.teams) if selection.teams else off,
        _tagset_table(store, selection.tags) if selection.tags else off,
        store.models.lookup(selection.models) if selection.models else off,
    )


def _kpis(acc: np.ndarray, active_users: int) -> dict[str, Any]:
    totals = acc[:, : kernel.UNPRICED + 1].sum(axis=0)  # the counts: requests, tokens, unpriced
    return _kpis_of(totals, float(acc.view(np.float64)[:, kernel.COST].sum()), active_users)


def _kpis_of(totals: np.ndarray, cost: float, active_users: int) -> dict[str, Any]:
    requests = int(totals[kernel.REQUESTS])
    return {
        "active_users": active_users,
        "avg_requests_per_user": requests / active_users if active_users else None,
        "requests": requests,
        "total_tokens": int(totals[kernel.INPUT] + totals[kernel.OUTPUT]),
        "cost": cost,
        "unpriced_requests": int(totals[kernel.UNPRICED]),
    }


def _totals(acc: np.ndarray) -> dict[str, Any]:
    """The totals columns of a view, as `_Columns` sources (rows of ``acc`` by code)."""
    spent = acc.view(np.float64)[:, kernel.COST]
    return {
        "requests": lambda codes: acc[codes, kernel.REQUESTS],
        "input_tokens": lambda codes: acc[codes, kernel.INPUT],
        "output_tokens": lambda codes: acc[codes, kernel.OUTPUT],
        "cost": spent.take,
        "unpriced": lambda codes: acc[codes, kernel.UNPRICED],
    }


def _tagset_table(store: RequestStore, tags: tuple[str, ...]) -> np.ndarray:
    """Per tag set: does it satisfy the tag filter (OR within a key, AND across keys)?"""
    by_key: dict[str, list[str]] = {}
    for tag in tags:
        by_key.setdefault(tag.split(":", 1)[0], []).append(tag)
    members, sets = store.tagset_member_arrays()
    table = np.ones(len(store.tagset_members), dtype=bool)
    for wanted in by_key.values():  # per tag code: wanted?
        table &= np.bincount(sets[store.tags.lookup(tuple(wanted))[members]], minlength=len(table)) > 0
    return table


class _Columns(Mapping):
    """A view's plain columns for the rows ``codes`` (which user or team, in order): each
    gathered from its source (a function of codes) only when read, so that a column is
    gathered once, for the rows shown, unless a search or a sort reads it first. ``upper``,
    when given, has the text columns a search reads in upper case, by code (`_Labels.upper`)."""

    def __init__(self, sources: Mapping[str, Any], codes: np.ndarray, upper: Any = None) -> None:
        self._sources, self.codes, self.upper = sources, codes, upper

    @classmethod
    def of(cls, columns: Mapping[str, np.ndarray]) -> _Columns:
        """Columns already gathered (rows computed elsewhere, `usage_widgets.sql`)."""
        rows = len(next(iter(columns.values()), ()))
        return cls({name: values.take for name, values in columns.items()}, np.arange(rows))

    def at(self, positions: np.ndarray) -> _Columns:
        return _Columns(self._sources, self.codes[positions], self.upper)

    def __getitem__(self, name: str) -> np.ndarray:
        return self._sources[name](self.codes)

    def __contains__(self, name: object) -> bool:  # without gathering the column
        return name in self._sources

    def __iter__(self):
        return iter(self._sources)

    def __len__(self) -> int:
        return len(self._sources)


@dataclass
class _Table:
    """A view's rows in label order (`_Columns`); `shown` picks and orders rows, and adds the
    trend and models columns for them only, from the pass's ``counts`` (per code: requests
    per bucket in columns ``0 .. n_buckets``, then per model)."""

    columns: _Columns
    order: tuple[str, ...]
    counts: np.ndarray
    n_buckets: int
    labels: _Labels

    def shown(self, positions: np.ndarray) -> pd.DataFrame:
        rows = self.columns.at(positions)
        labels, nb = self.labels, self.n_buckets
        trend = kernel.row_lists(self.counts, rows.codes, 0, nb)
        offsets, models = kernel.ranked(self.counts, rows.codes, nb, labels.model_alpha)
        lists = {
            "trend": pa.ListArray.from_arrays(pa.array(trend[0]), pa.array(trend[1])),
            "models": pa.ListArray.from_arrays(pa.array(offsets), labels.models.take(pa.array(models))),
        }
        columns = {c: _arrow_column(lists[c]) if c in lists else rows[c] for c in self.order}
        return pd.DataFrame(columns, copy=False)  # fresh arrays: no need to copy them again


def _arrow_column(values: pa.Array) -> pd.arrays.ArrowExtensionArray:
    return pd.arrays.ArrowExtensionArray(values)


_View = tuple[dict[str, Any], pd.DataFrame, _Table, pd.DataFrame, pd.DataFrame]


def _user_view(store: RequestStore, part: _Pass, window: Window) -> _View:
    """KPIs, activity, rows, cost by model and anomalies of the user view, from one pass."""
    nb, nm = part.n_buckets, len(store.models)
    acc, counts, _, model_requests, model_cost = part.view(store, team_view=False)
    labels = _labels(store)
    active = _active(acc, labels.user_order)
    activity = pd.DataFrame(
        {"active_users": np.count_nonzero(counts[:, :nb], axis=0).astype(np.int64)}, index=window.labels
    )
    sources = {
        "user_id": labels.user_ids.take,
        "name": labels.names.take,
        "email": labels.emails.take,
        "team": lambda codes: labels.teams[acc[codes, kernel.LAST_TEAM]],
        **_totals(acc),
    }
    table = _Table(_Columns(sources, active, labels.upper), USER_COLUMNS, counts, nb, labels)
    anomalies = _flagged(counts[:, nb + nm :], labels.user_ids, "user_id")
    by_model = _cost_by_model(labels, model_requests, model_cost)
    return _kpis(acc, len(active)), activity, table, by_model, anomalies


def _team_view(store: RequestStore, part: _Pass, window: Window) -> _View:
    """KPIs, activity, rows, cost by model and anomalies of the team view, from one pass."""
    nb, nm = part.n_buckets, len(store.models)
    acc, counts, per_user, model_requests, model_cost = part.view(store, team_view=True)
    labels = _labels(store)
    requests = acc[:, kernel.REQUESTS]
    active = _active(acc, labels.team_order)
    names = labels.teams[active]
    by_size = np.lexsort((names, -requests[active]))
    columns = {names[i]: counts[active[i], :nb] for i in by_size}
    activity = pd.DataFrame(columns, index=window.labels, dtype=np.int64)
    activity.columns.name = "team"
    sources = {
        "team": labels.teams.take,
        "users": lambda codes: np.count_nonzero(per_user[codes], axis=1).astype(np.int64),
        **_totals(acc),
    }
    table = _Table(_Columns(sources, active, labels.upper), TEAM_COLUMNS, counts, nb, labels)
    anomalies = _flagged(counts[:, nb + nm :], labels.teams, "team")
    active_users = int(np.count_nonzero(per_user.any(axis=0)))
    by_model = _cost_by_model(labels, model_requests, model_cost)
    return _kpis(acc, active_users), activity, table, by_model, anomalies


def _cost_by_model(labels: _Labels, requests: np.ndarray, cost: np.ndarray) -> pd.DataFrame:
    """Requests and cost per model called, largest cost first (ties by name). The pass counts
    them under every filter but the models filter, so the models not chosen stay choosable."""
    used = np.flatnonzero(requests)
    order = used[np.lexsort((labels.model_alpha[used], -cost[used]))]
    return pd.DataFrame({
        "model": labels.model_names[order],
        "requests": requests[order].astype(np.int64),
        "cost": cost[order].astype(np.float64),
    })  # fmt: skip


def _previous(
    store: RequestStore, selection: Selection, window: Window, filters: tuple[np.ndarray, ...]
) -> dict[str, Any]:
    """KPIs of the period of the same length right before the window: of the finished days
    wholly inside it, the store's totals of each day (without filters) or of each day's API key
    and tag set pairs (under key and tag filters only), and a totals-only pass over the rest
    (all of it under a team or model filter, with the same filter tables)."""
    before = previous_window(selection, window)
    q0, q1 = _quarters(before.start_ns, before.end_ns)
    edges = np.array([before.start_ns, before.end_ns + 1], dtype=np.int64)
    period = (q0, quarter_table(edges, q0, q1), edges)
    totals = np.zeros(kernel.WIDTH, dtype=np.int64)
    cost, seen = 0.0, np.zeros(len(store.users.ids), dtype=bool)
    days: WholeDays | DayPairs | None = None
    if not any(len(table) for table in filters):
        days = store.whole_days(before.start_ns, before.end_ns)
        totals[_KPI_SUMS] = days.sums[_GROUP_SUMS]
        cost, seen[days.users] = days.cost, True
    elif not len(filters[1]) and not len(filters[3]):  # key and tag filters only
        days = store.whole_day_pairs(before.start_ns, before.end_ns)
        pairs = (days.sums, days.cost, days.user_bounds, days.users)
        totals, cost = kernel.pair_totals(*pairs, filters[0], filters[2], seen)
    spans = [(before.start_ns, before.end_ns)]
    if days is not None and days.end_ns > days.start_ns:
        spans = [(before.start_ns, days.start_ns - 1), (days.end_ns, before.end_ns)]
    for start_ns, end_ns in spans:
        if start_ns <= end_ns:
            columns, groups = _rows(store, start_ns, end_ns)
            part = kernel.totals_pass(columns, filters, period, len(store.users.ids), groups)
            totals, cost, seen = totals + part[0], cost + part[1], seen | part[2]
    return {
        "previous_kpis": _kpis_of(totals, cost, int(np.count_nonzero(seen))),
        "previous_start": pd.Timestamp(before.start_ns, tz="UTC").tz_convert(window.tz),
        "previous_end": pd.Timestamp(before.end_ns, tz="UTC").tz_convert(window.tz),
    }


_KPI_SUMS = [kernel.REQUESTS, kernel.UNPRICED, kernel.INPUT, kernel.OUTPUT]
_GROUP_SUMS = [kernel.G_REQUESTS, kernel.G_UNPRICED, kernel.G_INPUT, kernel.G_OUTPUT]


def _flagged(history: np.ndarray, names: Any, key: str) -> pd.DataFrame:
    """The rows of ``history`` (requests per rolling day, one row per name) the anomaly rule
    flags: ``latest``, ``median``, ``threshold`` and the ``reason`` in words, by name."""
    from . import anomaly

    seen = np.flatnonzero(anomaly.could_flag(history))
    flags = anomaly.flag_rows(history[seen])
    hit = np.flatnonzero(flags.flagged)
    return pd.DataFrame(
        {
            "latest": flags.latest[hit].astype(np.int64),
            "median": flags.median[hit],
            "threshold": flags.threshold[hit],
            "reason": [anomaly.reason(flags.latest[i], flags.median[i], flags.threshold[i]) for i in hit],
        },
        index=pd.Index([names[i] for i in seen[hit]], dtype=object, name=key),
    )


USER_COLUMNS = (
    "user_id", "name", "email", "team", "trend", "models",
    "requests", "input_tokens", "output_tokens", "cost", "unpriced",
)  # fmt: skip
TEAM_COLUMNS = (
    "team", "users", "trend", "models",
    "requests", "input_tokens", "output_tokens", "cost", "unpriced",
)  # fmt: skip
_DTYPES = {
    "user_id": object, "name": object, "email": object, "team": object,
    "trend": pd.ArrowDtype(pa.list_(pa.int64())), "models": pd.ArrowDtype(pa.list_(pa.string())),
    "users": np.int64, "requests": np.int64, "input_tokens": np.int64,
    "output_tokens": np.int64, "cost": np.float64, "unpriced": np.int64,
}  # fmt: skip


def _ordered(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """The columns in order and of the in-memory engine's types (for rows computed elsewhere,
    `usage_widgets.sql`): trend and models as Arrow lists."""
    frame = frame.reindex(columns=list(columns))
    for name in ("trend", "models"):
        if name in frame and not isinstance(frame[name].dtype, pd.ArrowDtype):
            values = pa.array([list(v) for v in frame[name]], type=_DTYPES[name].pyarrow_dtype)
            frame[name] = pd.Series(values, dtype=_DTYPES[name], index=frame.index)
    return frame.astype({c: _DTYPES[c] for c in columns})


def _arrange(columns: _Columns, selection: Selection, anomalies: pd.DataFrame) -> np.ndarray:
    """Which rows the table shows, in order: those the search text and "Anomalies only" keep,
    sorted as the selection asks. ``columns`` hold the rows in label order (name or team,
    case-insensitive; see `_in_label_order`), which is how ties stay."""
    keep = _searched(columns, selection)
    if selection.anomalies_only:
        key = columns["user_id" if selection.view == "user" else "team"]
        keep &= pd.Index(anomalies.index).get_indexer(key) >= 0
    positions = np.flatnonzero(keep)
    return positions[_sort_order(columns.at(positions), selection)]


def _searched(columns: _Columns, selection: Selection) -> np.ndarray:
    """The rows whose name or email (team, in the team view) holds the search text, in any case."""
    rows = len(columns.codes)
    text = selection.search.strip().upper()
    if not text:
        return np.ones(rows, dtype=bool)
    hit = np.zeros(rows, dtype=bool)
    if not text.isascii() and not _encodes(text):
        return hit  # a lone surrogate: no text held has one (`load_log` writes them out escaped)
    for name in ("name", "email") if selection.view == "user" else ("team",):
        if columns.upper is None:
            hit |= np.fromiter((isinstance(v, str) and text in v.upper() for v in columns[name]), bool, rows)
        else:  # the same test, on text put in upper case once per store version
            found = pc.match_substring(columns.upper(name).take(columns.codes), text)
            hit |= pc.fill_null(found, False).to_numpy(zero_copy_only=False)
    return hit


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _in_label_order(breakdown: pd.DataFrame, selection: Selection) -> pd.DataFrame:
    """Rows by name (team in the team view), case-insensitive, ties as they come: the order
    `_sort` expects, for rows computed elsewhere (`usage_widgets.sql`)."""
    label = "name" if selection.view == "user" else "team"
    return breakdown.sort_values(label, key=lambda s: s.str.casefold(), kind="stable")


def _sort_order(columns: Mapping[str, np.ndarray], selection: Selection) -> np.ndarray:
    """Positions of rows in label order, sorted by the selection's column (stable: ties stay
    in label order, also when descending; a descending label sort is label order reversed)."""
    label = "name" if selection.view == "user" else "team"
    column = label if selection.sort == "name" else selection.sort
    if column not in columns:
        column = "cost"
    values = columns[column]
    n = len(values)
    if column == label:
        return np.arange(n)[::-1] if selection.descending else np.arange(n)
    if values.dtype != object:
        return np.argsort(-values if selection.descending else values, kind="stable")
    if not selection.descending:
        return np.argsort(values, kind="stable")
    return n - 1 - np.argsort(values[::-1], kind="stable")[::-1]


@dataclass
class _Labels:
    """Per store version: names by code, as arrays to gather from, and the users' and teams'
    codes in case-insensitive name order."""

    version: int
    user_ids: np.ndarray
    names: np.ndarray
    emails: np.ndarray
    user_order: np.ndarray
    teams: np.ndarray
    team_order: np.ndarray
    models: pa.Array
    model_names: np.ndarray
    model_alpha: np.ndarray
    _upper: dict[str, pa.Array] = field(default_factory=dict)

    def upper(self, name: str) -> pa.Array:
        """Names, emails or teams (``name``) by code, in upper case: what a search looks in,
        made when a search first asks."""
        if name not in self._upper:
            values = {"name": self.names, "email": self.emails, "team": self.teams}[name]
            upper = [v.upper() if isinstance(v, str) else None for v in values]
            self._upper[name] = pa.array(upper, type=pa.string())
        return self._upper[name]


_LABELS: weakref.WeakKeyDictionary[RequestStore, _Labels] = weakref.WeakKeyDictionary()


def _labels(store: RequestStore) -> _Labels:
    labels = _LABELS.get(store)
    if labels is None or labels.version != store.version:
        users, models = store.users, store.models.values
        names = _objects(users.names)
        before = labels  # the last version's: a live tick seldom renames anyone, nor adds a team
        same_names = before is not None and np.array_equal(before.names, names)
        same_teams = before is not None and len(before.teams) == len(store.teams)  # never renamed
        labels = _LABELS[store] = _Labels(
            version=store.version,
            user_ids=_objects(users.ids.values),
            names=names,
            emails=_objects(users.emails),
            user_order=before.user_order if same_names else _label_order(names),
            teams=_objects(store.teams.values),
            team_order=before.team_order if same_teams else _label_order(store.teams.values),
            models=pa.array(models, type=pa.string()),
            model_names=_objects(models),
            model_alpha=np.argsort(np.argsort(_objects(models), kind="stable"), kind="stable"),
        )
    return labels


def _objects(values: list[str]) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _label_order(names: list[str] | np.ndarray) -> np.ndarray:
    """Codes in case-insensitive order of their names (ties by code; a stable sort of text
    in code point order, as Python compares it: UTF-8 keeps that order)."""
    folded = pa.array([n.casefold() for n in names], type=pa.string())
    return pc.sort_indices(folded).to_numpy().astype(np.int64)


def _active(acc: np.ndarray, order: np.ndarray) -> np.ndarray:
    """The codes with requests (rows of ``acc``), in ``order``."""
    return order[acc[order, kernel.REQUESTS] > 0]
