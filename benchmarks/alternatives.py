"""The page's numbers computed as a pandas, Polars or DuckDB user would, to compare with `report()`.

Each engine loads the same Parquet log its own way (`prepare`), then answers a selection
(`run`) given the instants `report()` computes for it (`Ask`: the window, the period before it
and the anomaly rule's rolling days, UTC nanoseconds): the whole page, as the page shows it:
KPIs, activity per bucket, per user or team totals (plus the (entity, bucket) and (entity,
model) counts the table's trend and models columns need), the previous period's KPIs, cost by
model (under every filter but the models filter), and requests per rolling day per user or team,
which the anomaly rule (`usage_widgets.anomaly.flag_rows`, shared) judges. `check` says where an
answer differs from ours.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from usage_widgets import Report, Selection, anomaly
from usage_widgets.timewindow import DAY_NS, previous_window, rolling_days, window_for

TOTALS = ["requests", "input_tokens", "output_tokens", "cost", "unpriced"]
PERIODS = anomaly.PERIODS


def _entity(sel: Selection) -> str:
    """The column a view has one row per."""
    return "user_id" if sel.view == "user" else "team"


@dataclass(frozen=True)
class Ask:
    """A selection in a zone, with the instants `report()` computes for it (UTC ns, both ends
    inclusive): the window, the period of the same length before it, and the start of the
    anomaly rule's rolling days (`rolling_days`: `PERIODS` spans of 24 hours ending at the
    window's end, the engines' ``PERIODS - 1 - (end - ts) // DAY_NS``)."""

    sel: Selection
    tz: str
    start: int
    end: int
    previous_start: int
    previous_end: int
    history_start: int
    hourly: bool

    @classmethod
    def of(cls, sel: Selection, now: pd.Timestamp, tz: str) -> Ask:
        window = window_for(sel, now, tz)
        before = previous_window(sel, window)
        history = int(rolling_days(window.end_ns, PERIODS, tz).edges[0])
        hourly = window.granularity == "hour"
        return cls(sel, tz, window.start_ns, window.end_ns, before.start_ns, before.end_ns, history, hourly)

    @property
    def entity(self) -> str:
        return _entity(self.sel)


@dataclass
class Answer:
    kpis: dict[str, Any]
    activity: pd.DataFrame  # index: local bucket start (naive); user: active_users; team: per team
    totals: pd.DataFrame  # index: user_id or team; TOTALS (+ users in the team view)
    previous_kpis: dict[str, Any]
    cost_by_model: pd.DataFrame  # index: model; requests, cost
    history: pd.DataFrame  # index: user_id or team; columns 0 .. PERIODS - 1 (oldest first)
    trend: pd.Series  # requests by (user_id or team, local bucket start): the trend column
    models: pd.Series  # requests by (user_id or team, model): the models column


def _tag_groups(tags: tuple[str, ...]) -> list[list[str]]:
    groups: dict[str, list[str]] = {}
    for tag in tags:
        groups.setdefault(tag.split(":", 1)[0], []).append(tag)
    return list(groups.values())


def _history(counts: pd.Series) -> pd.DataFrame:
    """Requests by (entity, period) as a wide frame: one column per rolling day."""
    wide = counts.unstack(fill_value=0)
    wide.index = wide.index.astype(str)
    return wide.reindex(columns=range(PERIODS), fill_value=0).astype(np.int64)


def _counts(rows: pd.DataFrame) -> pd.Series:
    """Long (entity, key, n) rows as counts by (entity, key)."""
    return rows.set_index(list(rows.columns[:2]))[rows.columns[2]]


# -- pandas ------------------------------------------------------------------------------------
class Pandas:
    """Boolean masks and groupby over a categorical frame, as a pandas user writes it."""

    name = "pandas"

    def prepare(self, path: str) -> None:
        log = pd.read_parquet(path)
        log["ts_ns"] = log["timestamp"].array.asi8
        lengths = log["tags"].map(len)
        self.tag_rows = pd.DataFrame(
            {"row": np.repeat(np.arange(len(log)), lengths.to_numpy()),
             "tag": pd.Categorical(np.concatenate(log["tags"].to_numpy()))}
        )  # fmt: skip
        self.people = log.groupby("user_id", observed=True)[["user_name", "user_email"]].last()
        self.log = log.drop(columns=["tags"])

    def run(self, ask: Ask) -> Answer:
        sel, log, entity = ask.sel, self.log, ask.entity
        ts = log["ts_ns"].to_numpy()
        chosen = np.ones(len(log), dtype=bool)  # every filter but the models filter
        if sel.api_keys:
            chosen &= log["api_key"].isin(sel.api_keys).to_numpy()
        if sel.teams:
            chosen &= log["team"].isin(sel.teams).to_numpy()
        for group in _tag_groups(sel.tags):
            tagged = np.zeros(len(log), dtype=bool)
            tagged[self.tag_rows.loc[self.tag_rows["tag"].isin(group), "row"].to_numpy()] = True
            chosen &= tagged
        kept = chosen & log["model"].isin(sel.models).to_numpy() if sel.models else chosen
        inside = (ts >= ask.start) & (ts <= ask.end)
        df = log.loc[inside & kept]
        local = df["timestamp"].dt.tz_convert(ask.tz)
        bucket = local.dt.floor("h") if ask.hourly else local.dt.normalize()
        df = df.assign(bucket=bucket.dt.tz_localize(None), priced=df["cost"].notna())
        totals = df.groupby(entity, observed=True).agg(
            requests=("request_id", "size"), input_tokens=("input_tokens", "sum"),
            output_tokens=("output_tokens", "sum"), cost=("cost", "sum"),
            priced=("priced", "sum"),
        )  # fmt: skip
        totals["unpriced"] = totals["requests"] - totals.pop("priced")
        trend = df.groupby([entity, "bucket"], observed=True).size()
        models = df.groupby([entity, "model"], observed=True).size()
        if sel.view == "user":
            activity = df.groupby("bucket")["user_id"].nunique().to_frame("active_users")
            totals = _search_users(totals, self.people, sel.search)
        else:
            activity = df.groupby(["bucket", "team"], observed=True).size().unstack(fill_value=0)
            totals["users"] = df.groupby("team", observed=True)["user_id"].nunique()
            totals = totals[totals.index.astype(str).str.contains(sel.search.strip(), case=False,
                                                                  regex=False)]  # fmt: skip
        used = ["user_id", "model", "input_tokens", "output_tokens", "cost"]
        before = log.loc[(ts >= ask.previous_start) & (ts <= ask.previous_end) & kept, used]
        spent = log.loc[inside & chosen, used] if sel.models else df
        by_model = spent.groupby("model", observed=True).agg(requests=("cost", "size"), cost=("cost", "sum"))
        by_model.index = by_model.index.astype(str)
        recent = log.loc[(ts >= ask.history_start) & (ts <= ask.end) & kept, [entity, "ts_ns"]]
        period = PERIODS - 1 - (ask.end - recent["ts_ns"]) // DAY_NS
        history = _history(recent.groupby([recent[entity], period], observed=True).size())
        return Answer(_kpis(df), activity, totals, _kpis(before), by_model, history, trend, models)


def _kpis(df: pd.DataFrame) -> dict[str, Any]:
    return {
        "requests": len(df), "active_users": df["user_id"].nunique(),
        "total_tokens": int(df["input_tokens"].sum() + df["output_tokens"].sum()),
        "cost": float(df["cost"].sum()), "unpriced_requests": int(df["cost"].isna().sum()),
    }  # fmt: skip


def _search_users(totals: pd.DataFrame, people: pd.DataFrame, text: str) -> pd.DataFrame:
    text = text.strip()
    if not text:
        return totals
    who = people.reindex(totals.index)
    hit = who["user_name"].astype(str).str.contains(text, case=False, regex=False) | who[
        "user_email"
    ].astype(str).str.contains(text, case=False, regex=False)
    return totals[hit.to_numpy()]


# -- Polars ------------------------------------------------------------------------------------
class Polars:
    """A lazy query per selection, its group_bys collected together."""

    name = "Polars"

    def prepare(self, path: str) -> None:
        import polars as pl

        self.pl = pl
        log = pl.read_parquet(path)
        self.log = log.with_columns(pl.col("timestamp").cast(pl.Int64).alias("ts_ns"))
        self.people = (
            self.log.group_by("user_id").agg(pl.col("user_name").last(), pl.col("user_email").last())
        ).to_pandas().set_index("user_id")

    def run(self, ask: Ask) -> Answer:
        pl, sel, entity = self.pl, ask.sel, ask.entity
        chosen = self.log.lazy()  # every filter but the models filter
        if sel.api_keys:
            chosen = chosen.filter(pl.col("api_key").is_in(list(sel.api_keys)))
        if sel.teams:
            chosen = chosen.filter(pl.col("team").is_in(list(sel.teams)))
        for group in _tag_groups(sel.tags):
            chosen = chosen.filter(pl.any_horizontal(pl.col("tags").list.contains(tag) for tag in group))
        kept = chosen.filter(pl.col("model").is_in(list(sel.models))) if sel.models else chosen
        q = kept.filter(pl.col("ts_ns").is_between(ask.start, ask.end))
        local = pl.col("timestamp").dt.convert_time_zone(ask.tz)
        truncated = local.dt.truncate("1h") if ask.hourly else local.dt.truncate("1d")
        q = q.with_columns(truncated.dt.replace_time_zone(None).alias("bucket"),
                           pl.col("cost").is_null().alias("unknown"))  # fmt: skip
        sums = [
            pl.len().alias("requests"), pl.col("input_tokens").sum(), pl.col("output_tokens").sum(),
            pl.col("cost").sum(), pl.col("unknown").sum().alias("unpriced"),
        ]  # fmt: skip
        if sel.view == "team":
            sums.append(pl.col("user_id").n_unique().alias("users"))
        totals = q.group_by(entity).agg(sums)
        trend = q.group_by(entity, "bucket").len()
        models = q.group_by(entity, "model").len()
        if sel.view == "user":
            activity = q.group_by("bucket").agg(pl.col("user_id").n_unique().alias("active_users"))
        else:
            activity = q.group_by("bucket", "team").len()
        kpis = [
            pl.len().alias("requests"), pl.col("user_id").n_unique().alias("active_users"),
            (pl.col("input_tokens").sum() + pl.col("output_tokens").sum()).alias("total_tokens"),
            pl.col("cost").sum(), pl.col("cost").is_null().sum().alias("unpriced_requests"),
        ]  # fmt: skip
        before = kept.filter(pl.col("ts_ns").is_between(ask.previous_start, ask.previous_end))
        spent = chosen.filter(pl.col("ts_ns").is_between(ask.start, ask.end)) if sel.models else q
        by_model = spent.group_by("model").agg(pl.len().alias("requests"), pl.col("cost").sum())
        period = (PERIODS - 1 - (ask.end - pl.col("ts_ns")) // DAY_NS).alias("period")
        history = kept.filter(pl.col("ts_ns").is_between(ask.history_start, ask.end)).group_by(
            entity, period).len(name="n")  # fmt: skip
        found = pl.collect_all(
            [totals, trend, models, activity, q.select(kpis), before.select(kpis), by_model, history]
        )
        totals, trend, models, activity, now, then, by_model, history = (f.to_pandas() for f in found)
        page = (now.iloc[0].to_dict(), then.iloc[0].to_dict(), by_model, history, trend, models)
        return _answer(sel, totals, activity, page, self.people)


def _answer(sel: Selection, totals: pd.DataFrame, activity: pd.DataFrame, page: tuple[Any, ...],
            people: pd.DataFrame) -> Answer:  # fmt: skip
    """An answer from frames: ``page`` holds the KPIs and previous KPIs (dicts), cost by model,
    and the history's (entity, period, n), the trend's (entity, bucket, n) and the models'
    (entity, model, n) rows."""
    kpis, previous, by_model, history, trend, models = page
    entity = _entity(sel)
    totals = totals.astype({entity: str}).set_index(entity)
    if sel.view == "user":
        activity = activity.set_index("bucket").sort_index()
        totals = _search_users(totals, people, sel.search)
    else:
        activity = activity.astype({"team": str}).pivot_table(
            index="bucket", columns="team", values=activity.columns[-1], fill_value=0)
        totals = totals[totals.index.str.contains(sel.search.strip(), case=False, regex=False)]
    by_model = by_model.astype({"model": str}).set_index("model")
    return Answer(_numbers(kpis), activity, totals, _numbers(previous), by_model,
                  _history(_counts(history)), _counts(trend), _counts(models))  # fmt: skip


def _numbers(kpis: dict[str, Any]) -> dict[str, Any]:
    return {k: (float(v or 0) if k == "cost" else int(v or 0)) for k, v in kpis.items()}


# -- DuckDB ------------------------------------------------------------------------------------
class DuckDB:
    """SQL over the log held as a DuckDB table."""

    name = "DuckDB"

    def prepare(self, path: str) -> None:
        import duckdb

        self.db = duckdb.connect()
        self.db.execute("SET TimeZone = 'UTC'")
        self.db.execute(
            f"CREATE TABLE log AS SELECT *, epoch_ns(timestamp) AS ts_ns FROM read_parquet('{path}')"
        )
        self.people = self.db.execute(
            "SELECT user_id, last(user_name ORDER BY ts_ns) AS user_name, "
            "last(user_email ORDER BY ts_ns) AS user_email FROM log GROUP BY user_id"
        ).df().set_index("user_id")

    def run(self, ask: Ask) -> Answer:
        sel, entity = ask.sel, ask.entity
        chosen = ["TRUE"]  # every filter but the models filter
        params: dict[str, Any] = {"start": ask.start, "end": ask.end, "tz": ask.tz}
        if sel.api_keys:
            chosen.append("api_key IN (SELECT unnest($keys))")
            params["keys"] = list(sel.api_keys)
        if sel.teams:
            chosen.append("team IN (SELECT unnest($teams))")
            params["teams"] = list(sel.teams)
        for i, group in enumerate(_tag_groups(sel.tags)):
            chosen.append(f"list_has_any(tags, $tags{i})")
            params[f"tags{i}"] = group
        kept = list(chosen)
        if sel.models:
            kept.append("model IN (SELECT unnest($models))")
            params["models"] = list(sel.models)
        chosen_sql, kept_sql = " AND ".join(chosen), " AND ".join(kept)
        unit = "hour" if ask.hourly else "day"

        def run(sql: str, **more: Any) -> Any:
            names = {k: v for k, v in {**params, **more}.items() if f"${k}" in sql}
            return self.db.execute(sql, names)

        run(
            f"CREATE OR REPLACE TEMP TABLE sel AS SELECT user_id, team, model, input_tokens, "
            f"output_tokens, cost, date_trunc('{unit}', timezone($tz, timestamp)) AS bucket "
            f"FROM log WHERE ts_ns BETWEEN $start AND $end AND {kept_sql}",
        )  # fmt: skip
        users = ", count(DISTINCT user_id) AS users" if sel.view == "team" else ""
        totals = run(
            f"SELECT {entity}, count(*) AS requests, sum(input_tokens) AS input_tokens, "
            "sum(output_tokens) AS output_tokens, coalesce(sum(cost), 0) AS cost, "
            f"count(*) - count(cost) AS unpriced{users} FROM sel GROUP BY {entity}"
        ).df()
        trend = run(f"SELECT {entity}, bucket, count(*) AS n FROM sel GROUP BY ALL").df()
        models = run(f"SELECT {entity}, model, count(*) AS n FROM sel GROUP BY ALL").df()
        if sel.view == "user":
            activity = run("SELECT bucket, count(DISTINCT user_id) AS active_users FROM sel GROUP BY ALL")
            activity = activity.df()
        else:
            activity = run("SELECT bucket, team, count(*) AS n FROM sel GROUP BY ALL").df()
        kpis = (
            "SELECT count(*) AS requests, count(DISTINCT user_id) AS active_users, "
            "coalesce(sum(input_tokens) + sum(output_tokens), 0) AS total_tokens, "
            "coalesce(sum(cost), 0) AS cost, count(*) - count(cost) AS unpriced_requests FROM "
        )
        now = run(kpis + "sel").df().to_dict("records")[0]
        before = run(
            kpis + f"log WHERE ts_ns BETWEEN $first AND $last AND {kept_sql}",
            first=ask.previous_start, last=ask.previous_end,
        ).df().to_dict("records")[0]  # fmt: skip
        spent = f"log WHERE ts_ns BETWEEN $start AND $end AND {chosen_sql}" if sel.models else "sel"
        by_model = run(
            f"SELECT model, count(*) AS requests, coalesce(sum(cost), 0) AS cost FROM {spent} GROUP BY model"
        ).df()
        history = run(
            f"SELECT {entity}, {PERIODS - 1} - ($end - ts_ns) // {DAY_NS} AS period, count(*) AS n "
            f"FROM log WHERE ts_ns BETWEEN $first AND $end AND {kept_sql} GROUP BY ALL",
            first=ask.history_start,
        ).df()
        page = (now, before, by_model, history, trend, models)
        return _answer(sel, totals, activity, page, self.people)


ENGINES = (Pandas, Polars, DuckDB)


# -- the check ---------------------------------------------------------------------------------
KPIS = ("active_users", "requests", "total_tokens", "cost", "unpriced_requests")


def check(rep: Report, answer: Answer) -> None:
    """Raise AssertionError naming the first number where ``answer`` differs from ``rep``."""
    _same_kpis("kpi", rep.kpis, answer.kpis)
    _same_kpis("previous kpi", rep.previous_kpis, answer.previous_kpis)
    buckets = rep.activity.index.tz_localize(None).astype("datetime64[ns]")  # local, as theirs
    ours = _nonzero(rep.activity.set_axis(buckets))
    theirs = answer.activity.set_axis(pd.DatetimeIndex(answer.activity.index).astype("datetime64[ns]"))
    theirs = _nonzero(theirs.astype(np.int64))
    assert set(ours.columns) == set(theirs.columns), "activity: teams differ"
    assert ours.index.equals(theirs.index.sort_values()), "activity: buckets differ"
    same = np.array_equal(ours.to_numpy(), theirs.loc[ours.index, ours.columns].to_numpy())
    assert same, "activity differs"
    key = _entity(rep.selection)
    mine = rep.breakdown.set_index(key)
    columns = [*TOTALS, *(["users"] if key == "team" else [])]
    assert set(answer.totals.index) == set(mine.index), f"rows: ours {len(mine)}, theirs {len(answer.totals)}"
    _same_columns("", mine, answer.totals.reindex(mine.index), columns)
    _same_lists(buckets, mine, answer)
    mine = rep.cost_by_model.set_index("model")
    assert set(answer.cost_by_model.index) == set(mine.index), "cost by model: models differ"
    _same_columns("cost by model: ", mine, answer.cost_by_model.reindex(mine.index), ["requests", "cost"])
    flags = anomaly.flag_rows(answer.history.to_numpy())
    theirs = pd.DataFrame(
        {"latest": flags.latest, "median": flags.median, "threshold": flags.threshold},
        index=answer.history.index,
    )[flags.flagged]
    ours = rep.anomalies
    assert set(theirs.index) == set(ours.index), f"anomalies: ours {len(ours)}, theirs {len(theirs)}"
    _same_columns("anomalies: ", ours, theirs.reindex(ours.index), ["latest", "median", "threshold"])


def _nonzero(frame: pd.DataFrame) -> pd.DataFrame:
    """Activity without its empty buckets and teams."""
    frame = frame.loc[:, (frame != 0).any(axis=0)]
    return frame.loc[(frame != 0).any(axis=1)].sort_index()


def _same_lists(buckets: pd.DatetimeIndex, mine: pd.DataFrame, answer: Answer) -> None:
    """The trend (requests per bucket, ``buckets`` their local starts) and models (most used
    first, ties by name) columns of the rows ``mine``."""
    trend = answer.trend[answer.trend != 0]
    trend.index = pd.MultiIndex.from_arrays(
        [trend.index.get_level_values(0).astype(str),
         pd.DatetimeIndex(trend.index.get_level_values(1)).astype("datetime64[ns]")]
    )  # fmt: skip
    theirs: dict[str, dict[pd.Timestamp, int]] = {}
    for (name, bucket), n in trend.items():
        theirs.setdefault(name, {})[bucket] = int(n)
    models = answer.models[answer.models != 0].reset_index()
    models.columns = ["entity", "model", "n"]
    models = models.astype({"entity": str, "model": str}).sort_values(
        ["entity", "n", "model"], ascending=[True, False, True])  # fmt: skip
    ranked = models.groupby("entity")["model"].agg(list)
    for name, row in mine.iterrows():
        wanted = {b: n for b, n in zip(buckets, row["trend"], strict=True) if n}
        assert theirs.get(name, {}) == wanted, f"trend of {name} differs"
        assert ranked.get(name, []) == list(row["models"]), f"models of {name} differ"


def _same_kpis(what: str, mine: dict[str, Any], theirs: dict[str, Any]) -> None:
    for name in KPIS:
        assert name in theirs, f"{what} {name}: missing"
        ours, value = mine[name], theirs[name]
        same = math.isclose(ours, value, rel_tol=1e-9, abs_tol=1e-9) if name == "cost" else ours == value
        assert same, f"{what} {name}: ours {ours}, theirs {value}"


def _same_columns(what: str, mine: pd.DataFrame, theirs: pd.DataFrame, columns: list[str]) -> None:
    for column in columns:
        assert column in theirs, f"{what}{column} missing"
        a, b = mine[column].to_numpy(dtype=float), theirs[column].to_numpy(dtype=float)
        assert np.allclose(a, b, rtol=1e-9, atol=1e-9, equal_nan=True), f"{what}{column} differs"
