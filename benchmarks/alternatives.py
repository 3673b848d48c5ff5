"""The page's numbers computed as a pandas, Polars or DuckDB user would, to compare with `report()`.

Each engine loads the same Parquet log its own way (`prepare`), then answers a selection
(`run`) with the window's start and end (UTC nanoseconds, as `report()` computes them): KPIs,
activity per bucket, and per user or team totals, plus the (entity, bucket) and (entity,
model) counts the table's trend and models columns need. `check` says where an answer differs
from ours.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from usage_widgets import Report, Selection

TOTALS = ["requests", "input_tokens", "output_tokens", "cost", "unpriced"]


@dataclass
class Answer:
    kpis: dict[str, Any]
    activity: pd.DataFrame  # index: local bucket start (naive); user: active_users; team: per team
    totals: pd.DataFrame  # index: user_id or team; TOTALS (+ users in the team view)


def _tag_groups(tags: tuple[str, ...]) -> list[list[str]]:
    groups: dict[str, list[str]] = {}
    for tag in tags:
        groups.setdefault(tag.split(":", 1)[0], []).append(tag)
    return list(groups.values())



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

    def run(self, sel: Selection, start: int, end: int, tz: str, hourly: bool) -> Answer:
        log = self.log
        mask = (log["ts_ns"] >= start) & (log["ts_ns"] <= end)
        if sel.api_keys:
            mask &= log["api_key"].isin(sel.api_keys)
        if sel.teams:
            mask &= log["team"].isin(sel.teams)
        if sel.models:
            mask &= log["model"].isin(sel.models)
        for group in _tag_groups(sel.tags):
            rows = self.tag_rows.loc[self.tag_rows["tag"].isin(group), "row"].unique()
            mask &= np.isin(np.arange(len(log)), rows)
        df = log.loc[mask]
        local = df["timestamp"].dt.tz_convert(tz)
        bucket = local.dt.floor("h") if hourly else local.dt.normalize()
        df = df.assign(bucket=bucket.dt.tz_localize(None), priced=df["cost"].notna())
        entity = "user_id" if sel.view == "user" else "team"
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
        kpis = {
            "requests": len(df), "active_users": df["user_id"].nunique(),
            "total_tokens": int(df["input_tokens"].sum() + df["output_tokens"].sum()),
            "cost": float(df["cost"].sum()), "unpriced_requests": int((~df["priced"]).sum()),
        }  # fmt: skip
        return Answer(kpis, activity, totals)


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

    def run(self, sel: Selection, start: int, end: int, tz: str, hourly: bool) -> Answer:
        pl = self.pl
        q = self.log.lazy().filter(pl.col("ts_ns").is_between(start, end))
        if sel.api_keys:
            q = q.filter(pl.col("api_key").cast(pl.String).is_in(list(sel.api_keys)))
        if sel.teams:
            q = q.filter(pl.col("team").cast(pl.String).is_in(list(sel.teams)))
        if sel.models:
            q = q.filter(pl.col("model").cast(pl.String).is_in(list(sel.models)))
        for group in _tag_groups(sel.tags):
            q = q.filter(pl.col("tags").list.eval(pl.element().is_in(group)).list.any())
        local = pl.col("timestamp").dt.convert_time_zone(tz)
        bucket = (local.dt.truncate("1h") if hourly else local.dt.truncate("1d")).dt.replace_time_zone(None)
        q = q.with_columns(bucket.alias("bucket"), pl.col("cost").is_null().alias("unknown"))
        entity = "user_id" if sel.view == "user" else "team"
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
        kpis = q.select(
            pl.len().alias("requests"), pl.col("user_id").n_unique().alias("active_users"),
            (pl.col("input_tokens").sum() + pl.col("output_tokens").sum()).alias("total_tokens"),
            pl.col("cost").sum(), pl.col("unknown").sum().alias("unpriced_requests"),
        )  # fmt: skip
        totals, _, _, activity, kpis = pl.collect_all([totals, trend, models, activity, kpis])
        return _answer(sel, totals.to_pandas(), activity.to_pandas(), kpis.to_dicts()[0], self.people)


def _answer(sel: Selection, totals: pd.DataFrame, activity: pd.DataFrame, kpis: dict[str, Any],
            people: pd.DataFrame) -> Answer:  # fmt: skip
    entity = "user_id" if sel.view == "user" else "team"
    totals = totals.astype({entity: str}).set_index(entity)
    if sel.view == "user":
        activity = activity.set_index("bucket").sort_index()
        totals = _search_users(totals.drop(columns=["users"]), people, sel.search)
    else:
        activity = activity.astype({"team": str}).pivot_table(
            index="bucket", columns="team", values=activity.columns[-1], fill_value=0)
        totals = totals[totals.index.str.contains(sel.search.strip(), case=False, regex=False)]
    kpis = {k: (float(v) if k == "cost" else int(v or 0)) for k, v in kpis.items()}
    return Answer(kpis, activity, totals)


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

    def run(self, sel: Selection, start: int, end: int, tz: str, hourly: bool) -> Answer:
        where = ["ts_ns BETWEEN $start AND $end"]
        params: dict[str, Any] = {"start": start, "end": end, "tz": tz}
        if sel.api_keys:
            where.append("api_key IN (SELECT unnest($keys))")
            params["keys"] = list(sel.api_keys)
        if sel.teams:
            where.append("team IN (SELECT unnest($teams))")
            params["teams"] = list(sel.teams)
        if sel.models:
            where.append("model IN (SELECT unnest($models))")
            params["models"] = list(sel.models)
        for i, group in enumerate(_tag_groups(sel.tags)):
            where.append(f"list_has_any(tags, $tags{i})")
            params[f"tags{i}"] = group
        unit = "hour" if hourly else "day"
        self.db.execute(
            f"CREATE OR REPLACE TEMP TABLE sel AS SELECT *, "
            f"date_trunc('{unit}', timezone($tz, timestamp)) AS bucket "
            f"FROM log WHERE {' AND '.join(where)}", params,
        )  # fmt: skip
        entity = "user_id" if sel.view == "user" else "team"
        totals = self.db.execute(
            f"SELECT {entity}, count(*) AS requests, sum(input_tokens) AS input_tokens, "
            "sum(output_tokens) AS output_tokens, sum(cost) AS cost, "
            "count(*) - count(cost) AS unpriced, count(DISTINCT user_id) AS users "
            f"FROM sel GROUP BY {entity}"
        ).df()
        self.db.execute(f"SELECT {entity}, bucket, count(*) FROM sel GROUP BY ALL").fetchall()
        self.db.execute(f"SELECT {entity}, model, count(*) FROM sel GROUP BY ALL").fetchall()
        if sel.view == "user":
            activity = self.db.execute(
                "SELECT bucket, count(DISTINCT user_id) AS active_users FROM sel GROUP BY bucket"
            ).df()
        else:
            activity = self.db.execute("SELECT bucket, team, count(*) AS n FROM sel GROUP BY ALL").df()
        kpis = self.db.execute(
            "SELECT count(*) AS requests, count(DISTINCT user_id) AS active_users, "
            "coalesce(sum(input_tokens) + sum(output_tokens), 0) AS total_tokens, "
            "coalesce(sum(cost), 0) AS cost, count(*) - count(cost) AS unpriced_requests FROM sel"
        ).df().to_dict("records")[0]
        return _answer(sel, totals, activity, kpis, self.people)


ENGINES = (Pandas, Polars, DuckDB)


# -- the check ---------------------------------------------------------------------------------
def check(rep: Report, answer: Answer) -> None:
    """Raise AssertionError naming the first number where ``answer`` differs from ``rep``."""
    for name, value in answer.kpis.items():
        mine = rep.kpis[name]
        same = math.isclose(mine, value, rel_tol=1e-9, abs_tol=1e-9) if name == "cost" else mine == value
        assert same, f"kpi {name}: ours {mine}, theirs {value}"
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
    theirs = answer.totals.reindex(mine.index)[columns]
    assert len(answer.totals) == len(mine), f"rows: ours {len(mine)}, theirs {len(answer.totals)}"
    for column in columns:
        a, b = mine[column].to_numpy(dtype=float), theirs[column].to_numpy(dtype=float)
        assert np.allclose(a, b, rtol=1e-9, atol=1e-9), f"{column} differs"
