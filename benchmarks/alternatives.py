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
from usage_widgets.timewindow import previous_window, window_for

TOTALS = ["requests", "input_tokens", "output_tokens", "cost", "unpriced"]
DAY_NS = 86_400 * 10**9
PERIODS = anomaly.PERIODS


@dataclass(frozen=True)
class Ask:
    """A selection in a zone, with the instants `report()` computes for it (UTC ns, both ends
    inclusive): the window, the period of the same length before it, and the start of the
    anomaly rule's rolling days (`PERIODS` spans of 24 hours ending at the window's end)."""

    sel: Selection
    tz: str
    start: int
    end: int
    previous_start: int
    previous_end: int
    hourly: bool

    @classmethod
    def of(cls, sel: Selection, now: pd.Timestamp, tz: str) -> Ask:
        window = window_for(sel, now, tz)
        before = previous_window(sel, window)
        hourly = window.granularity == "hour"
        return cls(sel, tz, window.start_ns, window.end_ns, before.start_ns, before.end_ns, hourly)

    @property
    def history_start(self) -> int:
        return self.end + 1 - PERIODS * DAY_NS

    @property
    def entity(self) -> str:
        return "user_id" if self.sel.view == "user" else "team"


@dataclass
class Answer:
    kpis: dict[str, Any]
    activity: pd.DataFrame  # index: local bucket start (naive); user: active_users; team: per team
    totals: pd.DataFrame  # index: user_id or team; TOTALS (+ users in the team view)
    previous_kpis: dict[str, Any]
    cost_by_model: pd.DataFrame  # index: model; requests, cost
    history: pd.DataFrame  # index: user_id or team; columns 0 .. PERIODS - 1 (oldest first)


def _tag_groups(tags: tuple[str, ...]) -> list[list[str]]:
    groups: dict[str, list[str]] = {}
    for tag in tags:
        groups.setdefault(tag.split(":", 1)[0], []).append(tag)
    return list(groups.values())


def _history(rows: pd.DataFrame, value: str = "n") -> pd.DataFrame:
    """Long (entity, period, value) rows as a wide frame: one column per rolling day."""
    wide = rows.pivot_table(index=rows.columns[0], columns="period", values=value, fill_value=0,
                            observed=True, aggfunc="sum")  # fmt: skip
    wide.index = wide.index.astype(str)
    return wide.reindex(columns=range(PERIODS), fill_value=0).astype(np.int64)


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
            rows = self.tag_rows.loc[self.tag_rows["tag"].isin(group), "row"].unique()
            chosen &= np.isin(np.arange(len(log)), rows)
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
        df.groupby([entity, "bucket"], observed=True).size()  # the trend column
        df.groupby([entity, "model"], observed=True).size()  # the models column
        if sel.view == "user":
            activity = df.groupby("bucket")["user_id"].nunique().to_frame("active_users")
            totals = _search_users(totals, self.people, sel.search)
        else:
            activity = df.groupby(["bucket", "team"], observed=True).size().unstack(fill_value=0)
            totals["users"] = df.groupby("team", observed=True)["user_id"].nunique()
            totals = totals[totals.index.astype(str).str.contains(sel.search.strip(), case=False,
                                                                  regex=False)]  # fmt: skip
        before = log.loc[(ts >= ask.previous_start) & (ts <= ask.previous_end) & kept]
        by_model = log.loc[inside & chosen].groupby("model", observed=True).agg(
            requests=("request_id", "size"), cost=("cost", "sum"))  # fmt: skip
        by_model.index = by_model.index.astype(str)
        recent = log.loc[(ts >= ask.history_start) & (ts <= ask.end) & kept, [entity, "ts_ns"]]
        period = PERIODS - 1 - (ask.end - recent["ts_ns"]) // DAY_NS
        history = recent.groupby([recent[entity], period.rename("period")], observed=True).size()
        history = _history(history.rename("n").reset_index())
        return Answer(_kpis(df), activity, totals, _kpis(before), by_model, history)


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
            chosen = chosen.filter(pl.col("api_key").cast(pl.String).is_in(list(sel.api_keys)))
        if sel.teams:
            chosen = chosen.filter(pl.col("team").cast(pl.String).is_in(list(sel.teams)))
        for group in _tag_groups(sel.tags):
            chosen = chosen.filter(pl.col("tags").list.eval(pl.element().is_in(group)).list.any())
        kept = chosen
        if sel.models:
            kept = kept.filter(pl.col("model").cast(pl.String).is_in(list(sel.models)))
        q = kept.filter(pl.col("ts_ns").is_between(ask.start, ask.end))
        local = pl.col("timestamp").dt.convert_time_zone(ask.tz)
        truncated = local.dt.truncate("1h") if ask.hourly else local.dt.truncate("1d")
        q = q.with_columns(truncated.dt.replace_time_zone(None).alias("bucket"),
                           pl.col("cost").is_null().alias("unknown"))  # fmt: skip
        totals = q.group_by(entity).agg(
            pl.len().alias("requests"), pl.col("input_tokens").sum(), pl.col("output_tokens").sum(),
            pl.col("cost").sum(), pl.col("unknown").sum().alias("unpriced"),
            pl.col("user_id").n_unique().alias("users"),
        )  # fmt: skip
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
        by_model = chosen.filter(pl.col("ts_ns").is_between(ask.start, ask.end)).group_by("model").agg(
            pl.len().alias("requests"), pl.col("cost").sum())  # fmt: skip
        period = (PERIODS - 1 - (ask.end - pl.col("ts_ns")) // DAY_NS).alias("period")
        history = kept.filter(pl.col("ts_ns").is_between(ask.history_start, ask.end)).group_by(
            entity, period).len(name="n")  # fmt: skip
        found = pl.collect_all(
            [totals, trend, models, activity, q.select(kpis), before.select(kpis), by_model, history]
        )
        totals, _, _, activity, now, then, by_model, history = found
        page = (now.to_dicts()[0], then.to_dicts()[0], by_model.to_pandas(), history.to_pandas())
        return _answer(sel, totals.to_pandas(), activity.to_pandas(), page, self.people)


def _answer(sel: Selection, totals: pd.DataFrame, activity: pd.DataFrame, page: tuple[Any, ...],
            people: pd.DataFrame) -> Answer:  # fmt: skip
    """An answer from frames: ``page`` holds the KPIs and previous KPIs (dicts), cost by model
    and the history's (entity, period, n) rows."""
    kpis, previous, by_model, history = page
    entity = "user_id" if sel.view == "user" else "team"
    totals = totals.astype({entity: str}).set_index(entity)
    if sel.view == "user":
        activity = activity.set_index("bucket").sort_index()
        totals = _search_users(totals.drop(columns=["users"]), people, sel.search)
    else:
        activity = activity.astype({"team": str}).pivot_table(
            index="bucket", columns="team", values=activity.columns[-1], fill_value=0)
        totals = totals[totals.index.str.contains(sel.search.strip(), case=False, regex=False)]
    by_model = by_model.astype({"model": str}).set_index("model")
    return Answer(_numbers(kpis), activity, totals, _numbers(previous), by_model, _history(history))


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
            f"CREATE OR REPLACE TEMP TABLE sel AS SELECT *, "
            f"date_trunc('{unit}', timezone($tz, timestamp)) AS bucket "
            f"FROM log WHERE ts_ns BETWEEN $start AND $end AND {kept_sql}",
        )  # fmt: skip
        totals = run(
            f"SELECT {entity}, count(*) AS requests, sum(input_tokens) AS input_tokens, "
            "sum(output_tokens) AS output_tokens, sum(cost) AS cost, "
            "count(*) - count(cost) AS unpriced, count(DISTINCT user_id) AS users "
            f"FROM sel GROUP BY {entity}"
        ).df()
        run(f"SELECT {entity}, bucket, count(*) FROM sel GROUP BY ALL").fetchall()
        run(f"SELECT {entity}, model, count(*) FROM sel GROUP BY ALL").fetchall()
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
        by_model = run(
            "SELECT model, count(*) AS requests, coalesce(sum(cost), 0) AS cost FROM log "
            f"WHERE ts_ns BETWEEN $start AND $end AND {chosen_sql} GROUP BY model"
        ).df()
        history = run(
            f"SELECT {entity}, {PERIODS - 1} - ($end - ts_ns) // {DAY_NS} AS period, count(*) AS n "
            f"FROM log WHERE ts_ns BETWEEN $first AND $end AND {kept_sql} GROUP BY ALL",
            first=ask.history_start,
        ).df()
        return _answer(sel, totals, activity, (now, before, by_model, history), self.people)


ENGINES = (Pandas, Polars, DuckDB)


# -- the check ---------------------------------------------------------------------------------
def check(rep: Report, answer: Answer) -> None:
    """Raise AssertionError naming the first number where ``answer`` differs from ``rep``."""
    _same_kpis("kpi", rep.kpis, answer.kpis)
    _same_kpis("previous kpi", rep.previous_kpis, answer.previous_kpis)
    ours = rep.activity.copy()
    ours.index = ours.index.tz_localize(None)
    ours = ours.loc[ours.sum(axis=1) > 0]
    theirs = answer.activity.reindex(columns=ours.columns).fillna(0).astype(np.int64)
    theirs.index = pd.DatetimeIndex(theirs.index).astype("datetime64[ns]")
    ours.index = ours.index.astype("datetime64[ns]")
    pd.testing.assert_frame_equal(ours, theirs.loc[ours.index], check_names=False, check_freq=False)
    key = "user_id" if rep.selection.view == "user" else "team"
    mine = rep.breakdown.set_index(key)
    columns = [*TOTALS, *(["users"] if key == "team" else [])]
    assert len(answer.totals) == len(mine), f"rows: ours {len(mine)}, theirs {len(answer.totals)}"
    _same_columns("", mine, answer.totals.reindex(mine.index), columns)
    mine = rep.cost_by_model.set_index("model")
    assert set(answer.cost_by_model.index) == set(mine.index), "cost by model: models differ"
    _same_columns("cost by model: ", mine, answer.cost_by_model.reindex(mine.index), ["requests", "cost"])
    flags = anomaly.flag_rows(answer.history.to_numpy())
    theirs = pd.Series(flags.latest[flags.flagged], index=answer.history.index[flags.flagged])
    ours = rep.anomalies["latest"]
    assert set(theirs.index) == set(ours.index), f"anomalies: ours {len(ours)}, theirs {len(theirs)}"
    assert np.array_equal(theirs.reindex(ours.index).to_numpy(), ours.to_numpy()), "anomalies: latest differs"


def _same_kpis(what: str, mine: dict[str, Any], theirs: dict[str, Any]) -> None:
    for name, value in theirs.items():
        ours = mine[name]
        same = math.isclose(ours, value, rel_tol=1e-9, abs_tol=1e-9) if name == "cost" else ours == value
        assert same, f"{what} {name}: ours {ours}, theirs {value}"


def _same_columns(what: str, mine: pd.DataFrame, theirs: pd.DataFrame, columns: list[str]) -> None:
    for column in columns:
        a, b = mine[column].to_numpy(dtype=float), theirs[column].to_numpy(dtype=float)
        assert np.allclose(a, b, rtol=1e-9, atol=1e-9), f"{what}{column} differs"
