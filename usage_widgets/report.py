"""Every number the page shows, computed from a request log and a `Selection`."""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from . import kernel
from .selection import Selection
from .store import RequestStore
from .timewindow import Window, previous_window, rolling_days, window_for


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
        When the selection cannot be answered (a custom start after its end).

    Examples
    --------
    >>> from usage_widgets import demo_log, Selection
    >>> rep = report(demo_log(users=30, days=10, now="2026-02-01"), Selection(view="team"),
    ...              now="2026-02-01")
    >>> list(rep.kpis)
    ['active_users', 'avg_requests_per_user', 'requests', 'total_tokens', 'cost', 'unpriced_requests']
    """
    if hasattr(log, "compute_report"):  # a log in a database reports there (usage_widgets.sql)
        return log.compute_report(selection or Selection(), _as_utc(now), tz)
    store = log if isinstance(log, RequestStore) else RequestStore.from_log(log)
    selection = selection or Selection()
    now_ts = _as_utc(now)
    window = window_for(selection, now_ts, tz)
    view = _user_view if selection.view == "user" else _team_view
    kpis, activity, breakdown, cost_by_model = view(store, selection, window)
    anomalies = _anomalies(store, selection, window)
    before = len(breakdown)
    breakdown = _anomalous_only(_search(breakdown, selection), selection, anomalies)
    breakdown = _sort(breakdown, selection)
    labels = window.labels
    return Report(
        selection=selection,
        kpis=kpis,
        activity=activity,
        breakdown=breakdown.reset_index(drop=True),
        tz=tz,
        now=now_ts,
        granularity=window.granularity,
        rows_before_search=before,
        start=labels[0] if len(labels) else pd.NaT,
        end=pd.Timestamp(window.end_ns, tz="UTC").tz_convert(tz),
        **_previous(store, selection, window),
        cost_by_model=cost_by_model,
        anomalies=anomalies,
    )


def _as_utc(now: Any) -> pd.Timestamp:
    ts = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


@dataclass
class _Pass:
    """What one compiled pass over the window's requests needs: the slice, the filter tables
    (key, team, tag set, model; empty when a filter is off) and each request's bucket (a
    quarter-hour table, exact in every zone)."""

    columns: tuple[np.ndarray, ...]
    filters: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
    buckets: tuple[int, np.ndarray, np.ndarray]
    n_buckets: int

    @classmethod
    def over(cls, store: RequestStore, selection: Selection, window: Window) -> _Pass:
        ts = store.column("ts")
        lo = int(np.searchsorted(ts, window.start_ns, side="left"))
        hi = int(np.searchsorted(ts, window.end_ns, side="right"))
        columns = tuple(store.column(name)[lo:hi] for name in _PASS_COLUMNS)
        buckets = window.bucket_table(ts[lo:hi])
        off = np.zeros(0, dtype=np.bool_)
        filters = (
            store.keys.lookup(selection.api_keys) if selection.api_keys else off,
            store.teams.lookup(selection.teams) if selection.teams else off,
            _tagset_table(store, selection.tags) if selection.tags else off,
            store.models.lookup(selection.models) if selection.models else off,
        )
        return cls(columns, filters, buckets, window.n_buckets)

    def column(self, name: str) -> np.ndarray:
        return self.columns[_PASS_COLUMNS.index(name)]


_PASS_COLUMNS = ("quarter", "user", "team", "key", "model", "tagset", "input_tokens", "output_tokens", "cost")


def _kpis(acc: np.ndarray, active_users: int) -> dict[str, Any]:
    requests = int(acc[:, kernel.REQUESTS].sum())
    spent = acc.view(np.float64)[:, kernel.COST]
    return {
        "active_users": active_users,
        "avg_requests_per_user": requests / active_users if active_users else None,
        "requests": requests,
        "total_tokens": int(acc[:, kernel.INPUT].sum() + acc[:, kernel.OUTPUT].sum()),
        "cost": float(spent.sum()),
        "unpriced_requests": int(acc[:, kernel.UNPRICED].sum()),
    }


def _totals(acc: np.ndarray, rows: np.ndarray) -> dict[str, np.ndarray]:
    spent = acc.view(np.float64)[:, kernel.COST]
    return {
        "requests": acc[rows, kernel.REQUESTS],
        "input_tokens": acc[rows, kernel.INPUT],
        "output_tokens": acc[rows, kernel.OUTPUT],
        "cost": spent[rows],
        "unpriced": acc[rows, kernel.UNPRICED],
    }


def _tagset_table(store: RequestStore, tags: tuple[str, ...]) -> np.ndarray:
    """Per tag set: does it satisfy the tag filter (OR within a key, AND across keys)?"""
    wanted: dict[str, set[int]] = {}
    for tag in tags:
        key = tag.split(":", 1)[0]
        code = store.tags.lookup((tag,))
        wanted.setdefault(key, set()).update(np.flatnonzero(code).tolist())
    table = np.ones(len(store.tagset_members), dtype=bool)
    for codes in wanted.values():
        table &= np.array([bool(codes.intersection(m)) for m in store.tagset_members], dtype=bool)
    return table


def _ranked_models(counts: np.ndarray, names: list[str]) -> list[list[str]]:
    """Per row of a (rows, models) count matrix: models used, most first, ties alphabetical."""
    if not counts.size:
        return [[] for _ in range(counts.shape[0])]
    alpha = np.argsort(np.argsort(np.array(names, dtype=object)))
    n = len(names)
    score = counts.astype(np.int64) * n + (n - 1 - alpha)[None, :]
    order = np.argsort(-score, axis=1, kind="stable")
    used = np.take_along_axis(counts, order, axis=1) > 0
    name_arr = np.array(names, dtype=object)
    width = int(used.sum(axis=1).max())
    if n >= 255 or width > 8:
        return [name_arr[o[u]].tolist() for o, u in zip(order, used, strict=True)]
    # Few distinct rankings among many rows: key each by its models (a byte each), name it once.
    ranked = np.where(used[:, :width], order[:, :width] + 1, 0).astype(np.uint64)
    keys = (ranked << (np.arange(width, dtype=np.uint64) * np.uint64(8))).sum(axis=1, dtype=np.uint64)
    which = pd.factorize(keys)[0]
    first = np.unique(which, return_index=True)[1]
    lists = [tuple(name_arr[o[u]]) for o, u in zip(order[first], used[first], strict=True)]
    return [list(lists[i]) for i in which]


_View = tuple[dict[str, Any], pd.DataFrame, pd.DataFrame, pd.DataFrame]


def _user_view(store: RequestStore, selection: Selection, window: Window) -> _View:
    """KPIs, activity, breakdown and cost by model of the user view, from one pass."""
    part = _Pass.over(store, selection, window)
    acc, counts, model_requests, model_cost = kernel.user_pass(
        part.columns, part.filters, part.buckets, part.n_buckets, len(store.users.ids), len(store.models)
    )
    per_bucket = counts[:, : part.n_buckets]
    per_model = counts[:, part.n_buckets :]
    active = _by_label(np.flatnonzero(acc[:, kernel.REQUESTS]), _ranks(store).users)
    activity = pd.DataFrame(
        {"active_users": np.count_nonzero(per_bucket, axis=0).astype(np.int64)},
        index=window.labels,
    )
    users = store.users
    ids, names, emails = users.ids.values, users.names, users.emails
    teams = store.teams.values
    breakdown = pd.DataFrame(
        {
            "user_id": [ids[u] for u in active],
            "name": [names[u] for u in active],
            "email": [emails[u] for u in active],
            "team": [teams[t] for t in acc[active, kernel.LAST_TEAM]],
            "trend": per_bucket[active].tolist(),
            "models": _ranked_models(per_model[active], store.models.values),
            **_totals(acc, active),
        }
    )
    by_model = _cost_by_model(store, model_requests, model_cost)
    return _kpis(acc, len(active)), activity, _ordered(breakdown, USER_COLUMNS), by_model


def _team_view(store: RequestStore, selection: Selection, window: Window) -> _View:
    """KPIs, activity, breakdown and cost by model of the team view, from one pass."""
    part = _Pass.over(store, selection, window)
    acc, counts, per_user, model_requests, model_cost = kernel.team_pass(
        part.columns, part.filters, part.buckets, part.n_buckets,
        len(store.teams), len(store.users.ids), len(store.models),
    )
    per_bucket = counts[:, : part.n_buckets]
    per_model = counts[:, part.n_buckets :]
    requests = acc[:, kernel.REQUESTS]
    active = _by_label(np.flatnonzero(requests), _ranks(store).teams)
    names = [store.teams.values[t] for t in active]
    by_size = np.lexsort((np.array(names, dtype=object), -requests[active]))
    activity = pd.DataFrame(
        {names[i]: per_bucket[active[i]] for i in by_size}, index=window.labels, dtype=np.int64
    )
    activity.columns.name = "team"
    breakdown = pd.DataFrame(
        {
            "team": names,
            "users": np.count_nonzero(per_user[active], axis=1).astype(np.int64),
            "trend": per_bucket[active].tolist(),
            "models": _ranked_models(per_model[active], store.models.values),
            **_totals(acc, active),
        }
    )
    active_users = int(np.count_nonzero(per_user.any(axis=0)))
    by_model = _cost_by_model(store, model_requests, model_cost)
    return _kpis(acc, active_users), activity, _ordered(breakdown, TEAM_COLUMNS), by_model


def _cost_by_model(store: RequestStore, requests: np.ndarray, cost: np.ndarray) -> pd.DataFrame:
    """Requests and cost per model called, largest cost first (ties by name). The pass counts
    them under every filter but the models filter, so the models not chosen stay choosable."""
    used = np.flatnonzero(requests)
    frame = pd.DataFrame({
        "model": pd.Series([store.models.values[m] for m in used], dtype=object),
        "requests": requests[used].astype(np.int64),
        "cost": cost[used].astype(np.float64),
    })  # fmt: skip
    frame = frame.sort_values("model", kind="stable").sort_values("cost", ascending=False, kind="stable")
    return frame.reset_index(drop=True)


def _previous(store: RequestStore, selection: Selection, window: Window) -> dict[str, Any]:
    """KPIs of the period of the same length right before the window (a KPIs-only pass)."""
    before = previous_window(selection, window)
    part = _Pass.over(store, selection, before)
    acc, _ = kernel.group_pass(
        part.columns, part.filters, part.buckets, part.n_buckets, part.column("user"), len(store.users.ids)
    )
    return {
        "previous_kpis": _kpis(acc, int(np.count_nonzero(acc[:, kernel.REQUESTS]))),
        "previous_start": pd.Timestamp(before.start_ns, tz="UTC").tz_convert(window.tz),
        "previous_end": pd.Timestamp(before.end_ns, tz="UTC").tz_convert(window.tz),
    }


def _anomalies(store: RequestStore, selection: Selection, window: Window) -> pd.DataFrame:
    """Rows whose latest 24 hours jump far above their days before (`usage_widgets.anomaly`):
    a pass counting each row's requests per rolling day."""
    from . import anomaly

    days = rolling_days(window.end_ns, anomaly.PERIODS, window.tz)
    part = _Pass.over(store, selection, days)
    if selection.view == "user":
        group, size, names, key = part.column("user"), len(store.users.ids), store.users.ids.values, "user_id"
    else:
        group, size, names, key = part.column("team"), len(store.teams), store.teams.values, "team"
    _, history = kernel.group_pass(part.columns, part.filters, part.buckets, part.n_buckets, group, size)
    return _flagged(history, names, key)


def _flagged(history: np.ndarray, names: Any, key: str) -> pd.DataFrame:
    """The rows of ``history`` (requests per rolling day, one row per name) the anomaly rule
    flags: ``latest``, ``median``, ``threshold`` and the ``reason`` in words, by name."""
    from . import anomaly

    flags = anomaly.flag_rows(history)
    hit = np.flatnonzero(flags.flagged)
    return pd.DataFrame(
        {
            "latest": flags.latest[hit].astype(np.int64),
            "median": flags.median[hit],
            "threshold": flags.threshold[hit],
            "reason": [anomaly.reason(flags.latest[i], flags.median[i], flags.threshold[i]) for i in hit],
        },
        index=pd.Index([names[i] for i in hit], dtype=object, name=key),
    )


def _anomalous_only(breakdown: pd.DataFrame, selection: Selection, anomalies: pd.DataFrame) -> pd.DataFrame:
    """The rows flagged, when the selection asks for "Anomalies only"; else every row."""
    if not selection.anomalies_only:
        return breakdown
    key = "user_id" if selection.view == "user" else "team"
    return breakdown.loc[breakdown[key].isin(anomalies.index).to_numpy(dtype=bool)]


USER_COLUMNS = (
    "user_id", "name", "email", "team", "trend", "models",
    "requests", "input_tokens", "output_tokens", "cost", "unpriced",
)  # fmt: skip
TEAM_COLUMNS = (
    "team", "users", "trend", "models",
    "requests", "input_tokens", "output_tokens", "cost", "unpriced",
)  # fmt: skip
_DTYPES = {
    "user_id": object, "name": object, "email": object, "team": object, "trend": object,
    "models": object, "users": np.int64, "requests": np.int64, "input_tokens": np.int64,
    "output_tokens": np.int64, "cost": np.float64, "unpriced": np.int64,
}  # fmt: skip


def _ordered(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    return frame.reindex(columns=list(columns)).astype({c: _DTYPES[c] for c in columns})


def _search(breakdown: pd.DataFrame, selection: Selection) -> pd.DataFrame:
    text = selection.search.strip()
    if not text or breakdown.empty:
        return breakdown
    if selection.view == "user":
        hit = breakdown["name"].str.contains(text, case=False, regex=False) | breakdown[
            "email"
        ].str.contains(text, case=False, regex=False)
    else:
        hit = breakdown["team"].str.contains(text, case=False, regex=False)
    return breakdown.loc[hit.to_numpy(dtype=bool)]


def _in_label_order(breakdown: pd.DataFrame, selection: Selection) -> pd.DataFrame:
    """Rows by name (team in the team view), case-insensitive, ties as they come: the order
    `_sort` expects, for rows computed elsewhere (`usage_widgets.sql`)."""
    label = "name" if selection.view == "user" else "team"
    return breakdown.sort_values(label, key=lambda s: s.str.casefold(), kind="stable")


def _sort(breakdown: pd.DataFrame, selection: Selection) -> pd.DataFrame:
    """Rows arrive in label order (name or team, case-insensitive; see `_in_label_order`),
    which is how ties stay."""
    label = "name" if selection.view == "user" else "team"
    column = selection.sort
    if column == "name":
        column = label
    if column not in breakdown.columns:
        column = "cost"
    if column == label:
        return breakdown.iloc[::-1] if selection.descending else breakdown
    values = breakdown[column].to_numpy()
    if values.dtype == object:
        return breakdown.sort_values(column, ascending=not selection.descending, kind="stable")
    order = np.argsort(-values if selection.descending else values, kind="stable")
    return breakdown.iloc[order]


@dataclass
class _Ranks:
    version: int
    users: np.ndarray
    teams: np.ndarray


_RANKS: weakref.WeakKeyDictionary[RequestStore, _Ranks] = weakref.WeakKeyDictionary()


def _ranks(store: RequestStore) -> _Ranks:
    """Each user's and team's place in case-insensitive name order, kept until the store changes."""
    ranks = _RANKS.get(store)
    if ranks is None or ranks.version != store.version:
        ranks = _RANKS[store] = _Ranks(store.version, _rank(store.users.names), _rank(store.teams.values))
    return ranks


def _rank(names: list[str]) -> np.ndarray:
    folded = [n.casefold() for n in names]
    rank = np.empty(len(names), dtype=np.int64)
    rank[sorted(range(len(names)), key=folded.__getitem__)] = np.arange(len(names))
    return rank


def _by_label(codes: np.ndarray, rank: np.ndarray) -> np.ndarray:
    return codes[np.argsort(rank[codes], kind="stable")]
