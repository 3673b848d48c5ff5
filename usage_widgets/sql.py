"""A request log kept in a database (DuckDB, PostgreSQL, Spark, ... through Ibis): every number of
the page is computed where the rows are, and only small results come back."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import SimpleNamespace
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import numpy as np
import pandas as pd

from .errors import LogError
from .report import (
    TEAM_COLUMNS,
    USER_COLUMNS,
    Report,
    _arrange,
    _Columns,
    _flagged,
    _in_label_order,
    _ordered,
)
from .schema import CANONICAL, REQUIRED, TAG_RE, UNASSIGNED
from .selection import Selection
from .timewindow import Window, previous_window, rolling_days, window_for

LITELLM = "litellm"
DEFAULT_TABLE = "requests"
# A request logged after others that started later (LiteLLM writes a row when the request ends)
# is still noticed by Live Mode when it started at most this long before the newest one.
LATE = pd.Timedelta(hours=1)
_MISSING = "(unknown)"  # a required text a database row lacks (a file would be refused)
_TOTALS = ("requests", "input_tokens", "output_tokens", "cost", "unpriced")


def connect(
    url: Any,
    table: str | None = None,
    *,
    columns: Mapping[str, str] | None = None,
    preset: str | None = None,
) -> SqlSource:
    """A request log in a database table, reported on where it is.

    Parameters
    ----------
    url : str or Ibis backend
        ``postgresql://user:password@host:5432/db``, ``duckdb:///path/to/file.duckdb``, any URL
        ``ibis.connect`` accepts, or a connected Ibis backend (``ibis.pyspark.connect(spark)``
        for Apache Spark, BigQuery, Snowflake, ...).
    table : str, optional
        The table (or view) holding one row per request (default ``requests``; with none given
        and no ``requests`` table, a LiteLLM database is recognised by ``LiteLLM_SpendLogs``).
    columns : mapping, optional
        Canonical column name -> the table's column name, for the columns named otherwise
        (``{"timestamp": "created_at", "cost": "spend_usd"}``).
    preset : {"litellm"}, optional
        Read LiteLLM proxy's tables: ``LiteLLM_SpendLogs`` with user, team and key names.

    Returns
    -------
    SqlSource

    Raises
    ------
    LogError
        When the database cannot be reached or the table lacks a required column; the message
        never holds the password.

    Examples
    --------
    >>> import usage_widgets as uw
    >>> log = uw.connect("duckdb://")      # doctest: +SKIP
    """
    backend, shown = _backend(url)
    try:
        tables = backend.list_tables()
        if preset is None and table is None and DEFAULT_TABLE not in tables and "LiteLLM_SpendLogs" in tables:
            preset = LITELLM
        if preset == LITELLM:
            expr = _litellm(backend)
        elif preset is not None:
            raise LogError("(log)", f"unknown preset {preset!r}; known: {LITELLM!r}")
        else:
            name = table or DEFAULT_TABLE
            if name not in backend.list_tables():
                raise LogError("(log)", f"table {name!r} does not exist in {shown}")
            expr = _canonical(backend.table(name), columns or {})
    except LogError:
        raise
    except Exception as exc:
        raise LogError("(log)", f"{shown} cannot be read: {_masked(exc, url)}") from None
    return SqlSource(backend, expr, shown)


def mask_url(url: str) -> str:
    """The URL with its credentials (user name and password) replaced by ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(a database URL)"
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _masked(exc: BaseException, url: Any) -> str:
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if isinstance(url, str):
        password = urlsplit(url).password if "://" in url else None
        if password:  # as written in the URL and as sent to the server
            text = text.replace(password, "***").replace(unquote(password), "***")
        text = text.replace(url, mask_url(url))
    return text or type(exc).__name__


def _backend(url: Any) -> tuple[Any, str]:
    import ibis

    if not isinstance(url, str):
        return url, f"the {getattr(url, 'name', 'database')} database"
    shown = mask_url(url)
    try:
        return ibis.connect(url), shown
    except Exception as exc:
        raise LogError("(log)", f"cannot connect to {shown}: {_masked(exc, url)}") from None


# -- the canonical view of a table --------------------------------------------------------------
def _text(value: Any) -> Any:
    """Blank text as missing."""
    value = value.cast("string")
    return value.strip().nullif("")


def _canonical(table: Any, columns: Mapping[str, str]) -> Any:
    """The table's rows as the canonical columns (spec section 1), still in the database."""
    unknown = sorted(set(columns) - set(CANONICAL))
    if unknown:
        raise LogError(unknown[0], f"is not a column of the request log; known: {', '.join(CANONICAL)}")
    names = {c: columns.get(c, c) for c in CANONICAL}
    present = set(table.columns)
    missing = [c for c in REQUIRED if names[c] not in present]
    if missing:
        raise LogError(
            missing[0],
            f"required column is missing (as {names[missing[0]]!r}); columns found: "
            f"{', '.join(table.columns[:20])}; map it with columns={{{missing[0]!r}: 'its name'}}",
        )
    col = {c: table[names[c]] for c in CANONICAL if names[c] in present}
    return _finish(table, col)


def _finish(table: Any, col: dict[str, Any]) -> Any:
    import ibis

    user_id = _text(col["user_id"]).fill_null(_MISSING)
    null_text = ibis.null().cast("string")
    return table.select(
        request_id=col["request_id"].cast("string"),
        timestamp=col["timestamp"],
        user_id=user_id,
        user_name=_text(col["user_name"]).fill_null(user_id) if "user_name" in col else user_id,
        user_email=_text(col["user_email"]).fill_null("") if "user_email" in col else ibis.literal(""),
        team=_text(col["team"]).fill_null(UNASSIGNED) if "team" in col else ibis.literal(UNASSIGNED),
        api_key=_text(col["api_key"]).fill_null(_MISSING),
        model=_text(col["model"]).fill_null(_MISSING),
        tags=col.get("tags", null_text),
        input_tokens=col["input_tokens"].cast("int64").fill_null(0),
        output_tokens=col["output_tokens"].cast("int64").fill_null(0),
        cost=_unknown_nan(col["cost"].cast("float64")) if "cost" in col else ibis.null().cast("float64"),
    )


def _unknown_nan(cost: Any) -> Any:
    """NaN as an unknown cost: Spark keeps pandas' NaN as a number, which sums to NaN."""
    import ibis

    return ibis.ifelse(cost.isnan(), ibis.null().cast("float64"), cost)


def _litellm(backend: Any) -> Any:
    """LiteLLM proxy's spend log, with user, team and key names from their tables."""
    logs = backend.table("LiteLLM_SpendLogs")
    keys = backend.table("LiteLLM_VerificationToken")
    users = backend.table("LiteLLM_UserTable")
    teams = backend.table("LiteLLM_TeamTable")
    keys = keys.select(k_token=keys.token, k_alias=keys.key_alias, k_name=keys.key_name, k_user=keys.user_id)
    users = users.select(u_id=users.user_id, u_alias=users.user_alias, u_email=users.user_email)
    teams = teams.select(t_id=teams.team_id, t_alias=teams.team_alias)
    j = logs.left_join(keys, logs.api_key == keys.k_token)
    j = j.mutate(
        who=_text(j.user).fill_null(_text(j.k_user)).fill_null(_MISSING),
        team_of=_text(j.team_id),  # the team of the request, not the key's team of today
    )
    j = j.left_join(users, j.who == users.u_id).left_join(teams, j.team_of == teams.t_id)
    col = {
        "request_id": j.request_id,
        "timestamp": j.startTime,
        "user_id": j.who,
        "user_name": _text(j.u_alias),
        "user_email": j.u_email,
        "team": _text(j.t_alias).fill_null(j.team_of),
        "api_key": _text(j.k_alias).fill_null(_text(j.k_name)).fill_null(_text(j.api_key)),
        "model": _text(j.model_group).fill_null(_text(j.model)),
        "tags": j.request_tags,
        "input_tokens": j.prompt_tokens,
        "output_tokens": j.completion_tokens,
        "cost": j.spend,
    }
    return _finish(j, col)


# -- the source ---------------------------------------------------------------------------------
@dataclass
class _Cached:
    key: tuple
    version: int
    end_ns: int
    report: Report


class SqlSource:
    """A request log in a database, reported on there (see `connect`).

    `report()` and `UsageDashboard` accept it in place of a DataFrame. ``table`` is the Ibis
    expression of the canonical columns, for your own queries.
    """

    validated = True

    def __init__(self, backend: Any, table: Any, shown: str) -> None:
        self.backend = backend
        self.table = table
        self.shown = shown
        self.repeats = 0  # not counted in a database (a primary key keeps ids unique)
        self.version = 0  # bumped when a look finds new requests
        self._tags_are_arrays = table.tags.type().is_array()
        self._aware = table.timestamp.type().timezone is not None
        self._options: tuple[int, dict[str, list[str]], dict[str, int]] | None = None
        self._polling = False
        self._mark: int | None = None  # newest request time seen (UTC ns)
        self._recent: tuple[int, int] | None = None  # (since, how many requests at or after it)
        self._cache: _Cached | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SqlSource({self.shown})"

    # -- running queries ---------------------------------------------------------------------
    def _run(self, expr: Any) -> pd.DataFrame:
        try:
            # Live Mode looks from a worker thread while the page may ask for a report: one
            # connection, one query at a time (a DuckDB connection is not safe across threads).
            with self._lock:
                return self.backend.to_pandas(expr)
        except Exception as exc:
            raise ConnectionError(f"{self.shown} cannot be read: {_masked(exc, self.shown)}") from None

    def _at(self, ns: int) -> Any:
        """A timestamp literal comparable with the table's (naive columns hold UTC)."""
        import ibis

        ts = pd.Timestamp(ns - ns % 1_000, tz="UTC")  # databases keep microseconds
        return ibis.literal(ts if self._aware else ts.tz_localize(None), type=self.table.timestamp.type())

    def _ns(self, value: Any) -> int | None:
        if value is None or pd.isna(value):
            return None
        ts = pd.Timestamp(value)
        return int((ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")).value)

    # -- what the controls offer ---------------------------------------------------------------
    def options(self) -> dict[str, list[str]]:
        """The API keys, tags and teams present, sorted, for the filter choices."""
        return self._choices()[0]

    @property
    def teams(self) -> SimpleNamespace:
        """Teams in order of their first request (``.values``), as `RequestStore.teams`."""
        order = self._choices()[1]
        return SimpleNamespace(values=sorted(order, key=order.__getitem__))

    def _choices(self) -> tuple[dict[str, list[str]], dict[str, int]]:
        if self._options is None or self._options[0] != self.version:
            t = self.table
            teams = self._run(t.group_by("team").aggregate(first=t.timestamp.min()))
            keys = self._run(t.select("api_key").distinct())["api_key"].tolist()
            models = self._run(t.select("model").distinct())["model"].tolist()
            tags = self._distinct_tags()
            first = dict(zip(teams["team"], (self._ns(v) for v in teams["first"]), strict=True))
            order = {team: rank for rank, (team, _) in enumerate(
                sorted(first.items(), key=lambda kv: (kv[1], kv[0])))}  # fmt: skip
            options = {
                "api_keys": sorted(keys, key=str.casefold),
                "tags": sorted(tags, key=str.casefold),
                "teams": sorted(first, key=str.casefold),
                "models": sorted(models, key=str.casefold),
            }
            self._options = (self.version, options, order)
        return self._options[1], self._options[2]

    def _distinct_tags(self) -> list[str]:
        t = self.table
        if self._tags_are_arrays:
            found = self._run(t.select(tag=t.tags.unnest()).distinct())["tag"].dropna().tolist()
        else:  # JSON lists: the distinct lists are few
            found = []
            for text in self._run(t.select(tags=t.tags.cast("string")).distinct())["tags"].dropna():
                try:
                    items = json.loads(text)
                except ValueError:
                    continue
                found += [i for i in items if isinstance(i, str)] if isinstance(items, list) else []
        return sorted({tag for tag in found if TAG_RE.match(tag)})

    # -- Live Mode -----------------------------------------------------------------------------
    def read(self) -> int:
        """Start following the table; how many requests it holds since ``LATE`` before the newest."""
        self._polling = True
        t = self.table
        newest = self._ns(self._run(t.aggregate(m=t.timestamp.max()))["m"].iloc[0])
        if newest is None:
            self._mark, self._recent = None, None
            return 0
        since = newest - LATE.value
        recent = t.filter(t.timestamp >= self._at(since))
        count = int(self._run(recent.aggregate(n=recent.count()))["n"].iloc[0])
        self._mark, self._recent = newest, (since, count)
        return self._recent[1]

    def read_new(self) -> int:
        """How many requests arrived since the last look: one query over the newest rows (two
        when the newest moved on)."""
        if self._recent is None:  # the first look, or the table was empty
            first = not self._polling
            found = self.read()
            self.version += 1
            return 0 if first else found
        t = self.table
        since, count = self._recent
        cut = max(since, (self._mark or since) - LATE.value)
        rows = t.filter(t.timestamp >= self._at(since))
        answer = self._run(rows.aggregate(
            n=rows.count(), m=rows.timestamp.max(), fresh=rows.count(where=rows.timestamp >= self._at(cut)),
        ))  # fmt: skip
        arrived = int(answer["n"].iloc[0]) - count
        if arrived:
            self.version += 1
        newest = self._ns(answer["m"].iloc[0])
        self._mark = max(self._mark or 0, newest or 0) or None
        next_since = max(cut, (self._mark or cut) - LATE.value)
        if next_since == cut:
            self._recent = (cut, int(answer["fresh"].iloc[0]))
        else:  # the newest moved on: count from later on, so each look reads few rows
            later = t.filter(t.timestamp >= self._at(next_since))
            self._recent = (next_since, int(self._run(later.aggregate(n=later.count()))["n"].iloc[0]))
        return max(arrived, 0)

    # -- the report ----------------------------------------------------------------------------
    def compute_report(self, selection: Selection, now: pd.Timestamp, tz: str) -> Report:
        """`report()` of this log, computed by the database."""
        window = window_for(selection, now, tz)
        key = (selection, tz, window.edges.tobytes())
        cached = self._cache
        if (
            self._polling and cached is not None and cached.key == key and cached.version == self.version
            and (window.end_ns <= cached.end_ns or (self._mark is not None and self._mark <= cached.end_ns))
        ):  # fmt: skip
            return replace(cached.report, now=now, end=pd.Timestamp(window.end_ns, tz="UTC").tz_convert(tz))
        rows = self._selected(selection, window)
        if selection.view == "user":
            kpis, activity, breakdown = self._user_view(rows, window)
        else:
            kpis, activity, breakdown = self._team_view(rows, window)
        anomalies = self._anomalies(selection, window)
        before = len(breakdown)
        breakdown = _in_label_order(breakdown, selection).reset_index(drop=True)
        plain = {c: breakdown[c].to_numpy() for c in breakdown.columns if c not in ("trend", "models")}
        breakdown = breakdown.take(_arrange(_Columns.of(plain), selection, anomalies)).reset_index(drop=True)
        labels = window.labels
        before_window = previous_window(selection, window)
        rep = Report(
            selection=selection,
            kpis=kpis,
            activity=activity,
            breakdown=breakdown,
            tz=tz,
            now=now,
            granularity=window.granularity,
            rows_before_search=before,
            start=labels[0] if len(labels) else pd.NaT,
            end=pd.Timestamp(window.end_ns, tz="UTC").tz_convert(tz),
            previous_kpis=self._kpis_only(self._selected(selection, before_window, buckets=False)),
            previous_start=pd.Timestamp(before_window.start_ns, tz="UTC").tz_convert(tz),
            previous_end=pd.Timestamp(before_window.end_ns, tz="UTC").tz_convert(tz),
            cost_by_model=self._cost_by_model(selection, window),
            anomalies=anomalies,
        )
        if self._polling:
            self._cache = _Cached(key, self.version, window.end_ns, rep)
        return rep

    def _selected(self, selection: Selection, window: Window, *, buckets: bool = True) -> Any:
        t = self.table
        ts = t.timestamp
        keep = [ts >= self._at(window.start_ns), ts <= self._at(window.end_ns)]
        if selection.api_keys:
            keep.append(t.api_key.isin(list(selection.api_keys)))
        if selection.models:
            keep.append(t.model.isin(list(selection.models)))
        if selection.teams:
            keep.append(t.team.isin(list(selection.teams)))
        by_key: dict[str, list[str]] = {}
        for tag in selection.tags:
            by_key.setdefault(tag.split(":", 1)[0], []).append(tag)
        for tags in by_key.values():
            keep.append(_any_of([self._has_tag(t, tag) for tag in tags]))
        rows = t.filter(keep)
        if not buckets:
            return rows
        return rows.mutate(bucket=self._bucket(rows.timestamp, window.edges, 0, len(window.edges) - 1))

    def _kpis_only(self, rows: Any) -> dict[str, Any]:
        """The KPIs of some rows, in one query."""
        got = self._run(rows.aggregate(
            requests=rows.count(),
            active=rows.user_id.nunique(),
            input_tokens=rows.input_tokens.sum(),
            output_tokens=rows.output_tokens.sum(),
            cost=rows.cost.sum(),
            unpriced=rows.cost.isnull().sum(),
        )).iloc[0]  # fmt: skip
        whole = {k: 0 if pd.isna(got[k]) else int(got[k]) for k in ("requests", "active", "unpriced")}
        tokens = sum(0 if pd.isna(got[k]) else int(got[k]) for k in ("input_tokens", "output_tokens"))
        cost = 0.0 if pd.isna(got["cost"]) else float(got["cost"])
        return self._kpis(whole["requests"], whole["active"], tokens, cost, whole["unpriced"])

    def _cost_by_model(self, selection: Selection, window: Window) -> pd.DataFrame:
        """Requests and cost per model under every filter but the models filter, largest cost
        first (ties by name), as the in-memory engine gives them."""
        rows = self._selected(selection.replace(models=()), window, buckets=False)
        frame = self._totals(rows, ["model"])[["model", "requests", "cost"]]
        frame["model"] = frame["model"].astype(object)
        frame = frame.sort_values("model", kind="stable").sort_values("cost", ascending=False, kind="stable")
        return frame.reset_index(drop=True)

    def _anomalies(self, selection: Selection, window: Window) -> pd.DataFrame:
        """Rows whose latest 24 hours jump far above their days before (`usage_widgets.anomaly`)."""
        from . import anomaly

        days = rolling_days(window.end_ns, anomaly.PERIODS, window.tz)
        key = "user_id" if selection.view == "user" else "team"
        series = self._per_bucket(self._selected(selection, days), key, days)
        names = sorted(series)
        history = np.array([series[n] for n in names], dtype=np.int64).reshape(len(names), days.n_buckets)
        return _flagged(history, names, key)

    def _has_tag(self, t: Any, tag: str) -> Any:
        if self._tags_are_arrays:
            return t.tags.contains(tag).fill_null(False)
        # A JSON list's text holds each tag in double quotes; a tag has no quote or backslash.
        return t.tags.cast("string").contains(json.dumps(tag)).fill_null(False)

    def _bucket(self, ts: Any, edges: np.ndarray, lo: int, hi: int) -> Any:
        """Bucket index of ``ts`` among ``edges[lo] <= ts < edges[hi]``: a balanced tree of
        comparisons with the exact UTC edges, so buckets are right in every zone."""
        import ibis

        if hi - lo <= 1:
            return ibis.literal(lo, type="int32")
        mid = (lo + hi) // 2
        return ibis.ifelse(
            ts < self._at(int(edges[mid])), self._bucket(ts, edges, lo, mid), self._bucket(ts, edges, mid, hi)
        )

    def _totals(self, rows: Any, by: list[str], **extra: Any) -> pd.DataFrame:
        frame = self._run(rows.group_by(by).aggregate(
            requests=rows.count(),
            input_tokens=rows.input_tokens.sum(),
            output_tokens=rows.output_tokens.sum(),
            cost=rows.cost.sum(),
            unpriced=rows.cost.isnull().sum(),
            **extra,
        ))  # fmt: skip
        for name in ("requests", "input_tokens", "output_tokens", "unpriced"):
            frame[name] = frame[name].fillna(0).astype(np.int64)
        frame["cost"] = frame["cost"].astype("float64").fillna(0.0)
        return frame

    def _per_bucket(self, rows: Any, by: str, window: Window) -> dict[Any, list[int]]:
        counts = self._run(rows.group_by([by, "bucket"]).aggregate(n=rows.count()))
        trend: dict[Any, np.ndarray] = {}
        for who, bucket, n in zip(counts[by], counts["bucket"], counts["n"], strict=True):
            trend.setdefault(who, np.zeros(window.n_buckets, dtype=np.int64))[int(bucket)] = int(n)
        return trend

    def _models(self, rows: Any, by: str) -> dict[Any, list[str]]:
        counts = self._run(rows.group_by([by, "model"]).aggregate(n=rows.count()))
        ranked: dict[Any, list[tuple[int, str]]] = {}
        for who, model, n in zip(counts[by], counts["model"], counts["n"], strict=True):
            ranked.setdefault(who, []).append((-int(n), model))
        return {who: [m for _, m in sorted(pairs)] for who, pairs in ranked.items()}

    @staticmethod
    def _kpis(requests: int, active: int, tokens: int, cost: float, unpriced: int) -> dict[str, Any]:
        return {
            "active_users": active,
            "avg_requests_per_user": requests / active if active else None,
            "requests": requests,
            "total_tokens": tokens,
            "cost": cost,
            "unpriced_requests": unpriced,
        }

    def _user_view(self, rows: Any, window: Window) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
        t = self.table
        # Name and email: the user's latest request in the whole log; users listed in order of
        # their first request, as the in-memory engine does.
        known = t.filter(t.user_id.isin(rows.user_id))
        identity = known.group_by("user_id").aggregate(
            name=known.user_name.argmax(known.timestamp),
            email=known.user_email.argmax(known.timestamp),
            first=known.timestamp.min(),
        )
        totals = self._totals(rows, ["user_id"], team=rows.team.argmax(rows.timestamp))
        who = self._run(identity)
        totals = totals.merge(who, on="user_id", how="left")
        totals["first"] = [self._ns(v) for v in totals["first"]]
        totals = totals.sort_values(["first", "user_id"], kind="stable").reset_index(drop=True)
        trend = self._per_bucket(rows, "user_id", window)
        models = self._models(rows, "user_id")
        active = np.zeros(window.n_buckets, dtype=np.int64)
        for series in trend.values():
            active += series > 0
        activity = pd.DataFrame({"active_users": active}, index=window.labels)
        breakdown = pd.DataFrame({
            "user_id": totals["user_id"].tolist(),
            "name": totals["name"].tolist(),
            "email": totals["email"].tolist(),
            "team": totals["team"].tolist(),
            "trend": [trend[u].tolist() for u in totals["user_id"]],
            "models": [models.get(u, []) for u in totals["user_id"]],
            **{c: totals[c].to_numpy() for c in _TOTALS},
        })  # fmt: skip
        kpis = self._kpis(
            int(totals["requests"].sum()), len(totals),
            int(totals["input_tokens"].sum() + totals["output_tokens"].sum()),
            float(totals["cost"].sum()), int(totals["unpriced"].sum()),
        )  # fmt: skip
        return kpis, activity, _ordered(breakdown, USER_COLUMNS)

    def _team_view(self, rows: Any, window: Window) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
        pairs = self._totals(rows, ["team", "user_id"])
        order = self._choices()[1]
        per_team = pairs.groupby("team", sort=False).agg(
            users=("user_id", "size"), requests=("requests", "sum"), input_tokens=("input_tokens", "sum"),
            output_tokens=("output_tokens", "sum"), cost=("cost", "sum"), unpriced=("unpriced", "sum"),
        )  # fmt: skip
        teams = sorted(per_team.index, key=lambda team: (order.get(team, len(order)), team))
        per_team = per_team.loc[teams] if teams else per_team
        trend = self._per_bucket(rows, "team", window)
        models = self._models(rows, "team")
        by_size = sorted(teams, key=lambda team: (-int(per_team.at[team, "requests"]), team))
        activity = pd.DataFrame({team: trend[team] for team in by_size}, index=window.labels, dtype=np.int64)
        activity.columns.name = "team"
        breakdown = pd.DataFrame({
            "team": teams,
            "users": per_team["users"].to_numpy(),
            "trend": [trend[team].tolist() for team in teams],
            "models": [models.get(team, []) for team in teams],
            **{c: per_team[c].to_numpy() for c in _TOTALS},
        })  # fmt: skip
        kpis = self._kpis(
            int(pairs["requests"].sum()), int(pairs["user_id"].nunique()),
            int(pairs["input_tokens"].sum() + pairs["output_tokens"].sum()),
            float(pairs["cost"].sum()), int(pairs["unpriced"].sum()),
        )  # fmt: skip
        return kpis, activity, _ordered(breakdown, TEAM_COLUMNS)


def _any_of(conditions: list[Any]) -> Any:
    out = conditions[0]
    for cond in conditions[1:]:
        out = out | cond
    return out

