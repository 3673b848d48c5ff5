"""Every number the page shows, computed from a request log and a `Selection`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .selection import Selection
from .store import RequestStore
from .timewindow import Window, previous_window, rolling_days, window_for

# Above this many cells a dense (bucket x user) count matrix is replaced by a sparse count.
_DENSE_LIMIT = 20_000_000


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
    rows = _Rows.select(store, selection, window)
    if selection.view == "user":
        activity, breakdown = _user_view(store, rows, window)
    else:
        activity, breakdown = _team_view(store, rows, window)
    anomalies = _anomalies(store, selection, window)
    before = len(breakdown)
    breakdown = _search(breakdown, selection)
    if selection.anomalies_only:
        key = "user_id" if selection.view == "user" else "team"
        breakdown = breakdown.loc[breakdown[key].isin(anomalies.index).to_numpy(dtype=bool)]
    breakdown = _sort(breakdown, selection)
    labels = window.labels
    return Report(
        selection=selection,
        kpis=rows.kpis(),
        activity=activity,
        breakdown=breakdown.reset_index(drop=True),
        tz=tz,
        now=now_ts,
        granularity=window.granularity,
        rows_before_search=before,
        start=labels[0] if len(labels) else pd.NaT,
        end=pd.Timestamp(window.end_ns, tz="UTC").tz_convert(tz),
        **_previous(store, selection, window),
        cost_by_model=_cost_by_model(store, selection, window, rows),
        anomalies=anomalies,
    )


def _as_utc(now: Any) -> pd.Timestamp:
    ts = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


@dataclass
class _Rows:
    """The selected requests: encoded columns, and each one's bucket."""

    user: np.ndarray
    team: np.ndarray
    model: np.ndarray
    bucket: np.ndarray
    input_tokens: np.ndarray
    output_tokens: np.ndarray
    cost: np.ndarray
    n_users: int
    n_teams: int
    n_models: int

    @classmethod
    def select(cls, store: RequestStore, selection: Selection, window: Window) -> _Rows:
        ts = store.column("ts")
        lo = int(np.searchsorted(ts, window.start_ns, side="left"))
        hi = int(np.searchsorted(ts, window.end_ns, side="right"))
        part = {name: store.column(name)[lo:hi] for name in
                ("ts", "user", "team", "key", "model", "tagset",
                 "input_tokens", "output_tokens", "cost")}  # fmt: skip
        keep = _filter_mask(store, selection, part)
        if keep is not None:
            part = {name: values[keep] for name, values in part.items()}
        return cls(
            user=part["user"],
            team=part["team"],
            model=part["model"],
            bucket=window.bucket_of(part["ts"]),
            input_tokens=part["input_tokens"],
            output_tokens=part["output_tokens"],
            cost=part["cost"],
            n_users=len(store.users.ids),
            n_teams=len(store.teams),
            n_models=len(store.models),
        )

    def kpis(self) -> dict[str, Any]:
        requests = len(self.user)
        active = int(np.count_nonzero(np.bincount(self.user, minlength=self.n_users)))
        unknown = np.isnan(self.cost)
        return {
            "active_users": active,
            "avg_requests_per_user": requests / active if active else None,
            "requests": requests,
            "total_tokens": int(self.input_tokens.sum() + self.output_tokens.sum()),
            "cost": float(self.cost[~unknown].sum()) if requests else 0.0,
            "unpriced_requests": int(unknown.sum()),
        }

    def totals_by(self, group: np.ndarray, size: int) -> dict[str, np.ndarray]:
        unknown = np.isnan(self.cost)
        return {
            "requests": np.bincount(group, minlength=size),
            "input_tokens": _int_sums(group, self.input_tokens, size),
            "output_tokens": _int_sums(group, self.output_tokens, size),
            "cost": np.bincount(group, weights=np.where(unknown, 0.0, self.cost), minlength=size),
            "unpriced": np.bincount(group, weights=unknown, minlength=size).astype(np.int64),
        }


def _filter_mask(
    store: RequestStore, selection: Selection, part: dict[str, np.ndarray]
) -> np.ndarray | None:
    keep: np.ndarray | None = None

    def narrow(ok: np.ndarray) -> None:
        nonlocal keep
        keep = ok if keep is None else keep & ok

    if selection.api_keys:
        narrow(store.keys.lookup(selection.api_keys)[part["key"]])
    if selection.teams:
        narrow(store.teams.lookup(selection.teams)[part["team"]])
    if selection.tags:
        narrow(_tagset_table(store, selection.tags)[part["tagset"]])
    if selection.models:
        narrow(store.models.lookup(selection.models)[part["model"]])
    return keep


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


def _int_sums(group: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    """Exact integer sums per group (bincount's float weights would round above 2**53)."""
    sums = np.bincount(group, weights=values, minlength=size)
    if sums.max(initial=0) < 2**53:
        return sums.astype(np.int64)
    exact = np.zeros(size, dtype=np.int64)
    np.add.at(exact, group, values)
    return exact


def _counts(major: np.ndarray, n_major: int, minor: np.ndarray, n_minor: int) -> np.ndarray:
    """A dense (n_major, n_minor) matrix of pair counts."""
    if n_major * n_minor <= _DENSE_LIMIT:
        flat = np.bincount(major.astype(np.int64) * n_minor + minor, minlength=n_major * n_minor)
        return flat.reshape(n_major, n_minor)
    pairs, counts = np.unique(major.astype(np.int64) * n_minor + minor, return_counts=True)
    dense = np.zeros((n_major, n_minor), dtype=np.int64)
    dense[pairs // n_minor, pairs % n_minor] = counts
    return dense


def _ranked_models(counts: np.ndarray, names: list[str]) -> list[list[str]]:
    """Per row of a (rows, models) count matrix: models used, most first, ties alphabetical."""
    if not counts.size:
        return [[] for _ in range(counts.shape[0])]
    alpha = np.argsort(np.argsort(np.array(names, dtype=object)))
    n = len(names)
    score = counts * n + (n - 1 - alpha)[None, :]
    order = np.argsort(-score, axis=1, kind="stable")
    used = np.take_along_axis(counts, order, axis=1) > 0
    name_arr = np.array(names, dtype=object)
    return [name_arr[o[u]].tolist() for o, u in zip(order, used, strict=True)]


def _latest_team(rows: _Rows) -> np.ndarray:
    """Per user code: team of their latest request in the selection (-1 without any)."""
    last = np.full(rows.n_users, -1, dtype=np.int64)
    if not len(rows.user):
        return last
    np.maximum.at(last, rows.user, np.arange(len(rows.user)))
    return np.where(last >= 0, rows.team[np.maximum(last, 0)], -1)


def _user_view(store: RequestStore, rows: _Rows, window: Window) -> tuple[pd.DataFrame, pd.DataFrame]:
    n_buckets = window.n_buckets
    per_bucket = _counts(rows.bucket, n_buckets, rows.user, rows.n_users)
    activity = pd.DataFrame(
        {"active_users": np.count_nonzero(per_bucket, axis=1).astype(np.int64)},
        index=window.labels,
    )
    totals = rows.totals_by(rows.user, rows.n_users)
    active = np.flatnonzero(totals["requests"])
    team_of = _latest_team(rows)[active]
    models = _counts(rows.user, rows.n_users, rows.model, rows.n_models)[active]
    users = store.users
    breakdown = pd.DataFrame(
        {
            "user_id": [users.ids.values[u] for u in active],
            "name": [users.names[u] for u in active],
            "email": [users.emails[u] for u in active],
            "team": [store.teams.values[t] for t in team_of],
            "trend": per_bucket[:, active].T.tolist(),
            "models": _ranked_models(models, store.models.values),
            **{name: values[active] for name, values in totals.items()},
        }
    )
    return activity, _ordered(breakdown, USER_COLUMNS)


def _team_view(store: RequestStore, rows: _Rows, window: Window) -> tuple[pd.DataFrame, pd.DataFrame]:
    n_buckets = window.n_buckets
    per_bucket = _counts(rows.bucket, n_buckets, rows.team, rows.n_teams)
    totals = rows.totals_by(rows.team, rows.n_teams)
    active = np.flatnonzero(totals["requests"])
    names = [store.teams.values[t] for t in active]
    by_size = np.lexsort((np.array(names, dtype=object), -totals["requests"][active]))
    activity = pd.DataFrame(
        {names[i]: per_bucket[:, active[i]] for i in by_size}, index=window.labels, dtype=np.int64
    )
    activity.columns.name = "team"
    users_per_team = np.count_nonzero(_counts(rows.team, rows.n_teams, rows.user, rows.n_users), axis=1)
    models = _counts(rows.team, rows.n_teams, rows.model, rows.n_models)[active]
    breakdown = pd.DataFrame(
        {
            "team": names,
            "users": users_per_team[active].astype(np.int64),
            "trend": per_bucket[:, active].T.tolist(),
            "models": _ranked_models(models, store.models.values),
            **{name: values[active] for name, values in totals.items()},
        }
    )
    return activity, _ordered(breakdown, TEAM_COLUMNS)


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


def _sort(breakdown: pd.DataFrame, selection: Selection) -> pd.DataFrame:
    label = "name" if selection.view == "user" else "team"
    column = selection.sort
    if column == "name":
        column = label
    if column not in breakdown.columns:
        column = "cost"
    # Ties keep a stable, readable order: by name.
    by_label = breakdown.sort_values(label, key=lambda s: s.str.casefold(), kind="stable")
    if column == label:
        return by_label.iloc[::-1] if selection.descending else by_label
    return by_label.sort_values(column, ascending=not selection.descending, kind="stable")


def _previous(store: RequestStore, selection: Selection, window: Window) -> dict[str, Any]:
    """KPIs of the period of the same length right before the window."""
    before = previous_window(selection, window)
    return {
        "previous_kpis": _Rows.select(store, selection, before).kpis(),
        "previous_start": pd.Timestamp(before.start_ns, tz="UTC").tz_convert(window.tz),
        "previous_end": pd.Timestamp(before.end_ns, tz="UTC").tz_convert(window.tz),
    }


def _cost_by_model(store: RequestStore, selection: Selection, window: Window, rows: _Rows) -> pd.DataFrame:
    """Requests and cost per model, largest cost first (ties by name)."""
    if selection.models:
        rows = _Rows.select(store, selection.replace(models=()), window)
    totals = rows.totals_by(rows.model, rows.n_models)
    used = np.flatnonzero(totals["requests"])
    frame = pd.DataFrame({
        "model": pd.Series([store.models.values[m] for m in used], dtype=object),
        "requests": totals["requests"][used].astype(np.int64),
        "cost": totals["cost"][used].astype(np.float64),
    })  # fmt: skip
    frame = frame.sort_values("model", kind="stable").sort_values("cost", ascending=False, kind="stable")
    return frame.reset_index(drop=True)


def _anomalies(store: RequestStore, selection: Selection, window: Window) -> pd.DataFrame:
    """Rows whose latest 24 hours jump far above their days before (`usage_widgets.anomaly`)."""
    from . import anomaly

    days = rolling_days(window.end_ns, anomaly.PERIODS, window.tz)
    rows = _Rows.select(store, selection, days)
    if selection.view == "user":
        group, size, names = rows.user, rows.n_users, store.users.ids.values
    else:
        group, size, names = rows.team, rows.n_teams, store.teams.values
    history = _counts(group, size, rows.bucket, days.n_buckets)
    flags = anomaly.flag_rows(history)
    hit = np.flatnonzero(flags.flagged)
    key = "user_id" if selection.view == "user" else "team"
    return pd.DataFrame(
        {
            "latest": flags.latest[hit].astype(np.int64),
            "median": flags.median[hit],
            "threshold": flags.threshold[hit],
            "reason": [anomaly.reason(flags.latest[i], flags.median[i], flags.threshold[i]) for i in hit],
        },
        index=pd.Index([names[i] for i in hit], dtype=object, name=key),
    )
