"""Behaviour of the synthetic demo request log."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from usage_widgets.demo import ANOMALY_ATTR, DOMAIN, _in_time_order, anomaly_user, demo_log
from usage_widgets.prices import price_requests

NOW = pd.Timestamp("2025-06-30T15:00:00Z")  # a Monday afternoon
DAYS = 90
TAG_PART = r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,62}[A-Za-z0-9])?"
TAG_RE = re.compile(rf"^{TAG_PART}:{TAG_PART}$")
COLUMNS = [
    "request_id", "timestamp", "user_id", "user_name", "user_email", "team", "api_key",
    "model", "tags", "input_tokens", "output_tokens", "cost",
]  # fmt: skip


@pytest.fixture(scope="module")
def log() -> pd.DataFrame:
    return demo_log(seed=0, now=NOW)


def _assert_same(left: pd.DataFrame, right: pd.DataFrame) -> None:
    """Identical frames (column by column: assert_frame_equal is slow on list columns)."""
    assert left.columns.tolist() == right.columns.tolist()
    assert left.index.equals(right.index)
    for col in left.columns:
        assert left[col].dtype == right[col].dtype, col
        assert left[col].equals(right[col]), col
    assert left.attrs == right.attrs


def _anomaly_counts(log: pd.DataFrame) -> tuple[float, int, pd.Timestamp]:
    """Median daily requests of the anomaly user before the anomaly, and in the last 48 hours."""
    uid = log.attrs[ANOMALY_ATTR]
    mine = log.loc[log["user_id"] == uid, "timestamp"]
    start = pd.Timestamp(log.attrs["anomaly_start"])
    first_day = (NOW - pd.Timedelta(days=DAYS)).normalize() + pd.Timedelta(days=1)
    days = pd.date_range(first_day, start.normalize() - pd.Timedelta(days=1), freq="D")
    before = mine[(mine >= days[0]) & (mine < days[-1] + pd.Timedelta(days=1))]
    daily = before.dt.floor("D").value_counts().reindex(days, fill_value=0)
    last_two = int((mine > NOW - pd.Timedelta(days=2)).sum())
    return float(daily.median()), last_two, start


def test_schema_columns_and_dtypes(log: pd.DataFrame) -> None:
    assert log.columns.tolist() == COLUMNS
    assert log["request_id"].dtype == pd.StringDtype("pyarrow")
    assert log["timestamp"].dtype == pd.DatetimeTZDtype("ns", "UTC")
    for col in ("user_id", "user_name", "user_email", "team", "api_key", "model"):
        assert isinstance(log[col].dtype, pd.CategoricalDtype), col
        assert not log[col].isna().any(), col
    assert log["tags"].dtype == pd.ArrowDtype(pa.list_(pa.string()))
    assert log["input_tokens"].dtype == np.int64
    assert log["output_tokens"].dtype == np.int64
    assert log["cost"].dtype == np.float64
    assert isinstance(log.index, pd.RangeIndex)
    assert log.index.equals(pd.RangeIndex(len(log)))


def test_default_size_is_believable(log: pd.DataFrame) -> None:
    assert 100_000 <= len(log) <= 400_000
    assert log["user_id"].nunique() >= 240  # a handful of late joiners may never show up


def test_same_seed_same_frame_other_seed_other_frame(log: pd.DataFrame) -> None:
    _assert_same(demo_log(seed=0, now=NOW), log)
    other = demo_log(seed=1, now=NOW)
    assert len(other) != len(log) or not other["request_id"].equals(log["request_id"])
    assert set(other["user_name"]) != set(log["user_name"])


def test_now_accepts_timestamps_datetimes_and_strings() -> None:
    small = {"seed": 3, "users": 20, "days": 10}
    reference = demo_log(**small, now=NOW)
    for now in (
        "2025-06-30T15:00:00",  # naive: UTC
        "2025-06-30T17:00:00+02:00",
        datetime(2025, 6, 30, 15, tzinfo=UTC),
        datetime(2025, 6, 30, 15),
        NOW.tz_convert("America/New_York"),
    ):
        _assert_same(demo_log(**small, now=now), reference)


def test_now_none_is_the_current_time() -> None:
    before = pd.Timestamp.now(tz="UTC")
    log = demo_log(seed=0, users=10, days=5)
    after = pd.Timestamp.now(tz="UTC")
    assert log["timestamp"].max() <= after
    assert log["timestamp"].min() > before - pd.Timedelta(days=5)


def test_timestamps_sorted_and_inside_the_window(log: pd.DataFrame) -> None:
    ts = log["timestamp"]
    assert ts.is_monotonic_increasing
    assert ts.max() <= NOW
    assert ts.min() > NOW - pd.Timedelta(days=DAYS)
    # the whole window is used, up to the last hours
    assert ts.min() < NOW - pd.Timedelta(days=DAYS - 1)
    assert ts.max() > NOW - pd.Timedelta(hours=1)


def test_request_ids_unique_and_well_formed(log: pd.DataFrame) -> None:
    assert log["request_id"].is_unique
    assert log["request_id"].str.fullmatch(r"req_[0-9a-f]{16}").all()


def test_tags_follow_the_spec(log: pd.DataFrame) -> None:
    lengths = log["tags"].list.len()
    assert lengths.max() <= 10
    assert (lengths == 0).mean() > 0.01  # some requests carry no tags
    assert lengths.between(1, 3).mean() > 0.7  # most carry 1-3
    flat = log["tags"].explode().dropna()
    distinct = flat.unique()
    assert all(TAG_RE.match(t) for t in distinct), [t for t in distinct if not TAG_RE.match(t)]
    # no duplicates within a request: exploded (row, tag) pairs are unique
    assert not flat.reset_index().duplicated().any()
    keys = {t.split(":")[0] for t in distinct}
    assert {"env", "app", "feature"} <= keys
    assert {"env:prod", "env:staging", "env:dev", "app:batch-eval"} <= set(distinct)


def test_costs_priced_from_the_price_table(log: pd.DataFrame) -> None:
    cost = log["cost"].to_numpy()
    assert np.isfinite(cost).all()
    assert (cost >= 0).all()
    tokens = log["input_tokens"] + log["output_tokens"]
    assert (cost[tokens.to_numpy() > 0] > 0).all()
    assert (log["input_tokens"] >= 0).all() and (log["output_tokens"] >= 0).all()
    expected = price_requests(log["model"], log["input_tokens"], log["output_tokens"], log["timestamp"])
    np.testing.assert_array_equal(cost, expected)  # exactly what the price table says, then


def test_models_are_real_and_users_have_favourites(log: pd.DataFrame) -> None:
    models = log["model"].cat.categories
    assert 10 <= len(models) <= 15
    assert {"gpt-4o", "gpt-4o-mini", "claude-sonnet-4-0"} <= set(models)
    per_user = log.groupby("user_id", observed=True)["model"].nunique()
    assert per_user.max() <= 5  # 2-4 favourites (the anomaly may add one)
    assert per_user.median() >= 2


def test_people_have_names_emails_and_one_team(log: pd.DataFrame) -> None:
    people = log[["user_id", "user_name", "user_email", "team"]].drop_duplicates()
    assert people["user_id"].is_unique  # one name, email and team per user
    assert people["user_name"].is_unique
    assert people["user_email"].is_unique
    assert people["user_name"].astype(str).str.fullmatch(r"\S+( [A-Z]\.)? \S+").all()
    email = rf"[a-z-]+(\.[a-z])?\.[a-z-]+@{re.escape(DOMAIN)}"
    assert people["user_email"].astype(str).str.fullmatch(email).all()


def test_about_a_dozen_teams_of_uneven_size(log: pd.DataFrame) -> None:
    sizes = log.groupby("team", observed=True)["user_id"].nunique()
    assert 10 <= len(sizes) <= 14
    assert {"Platform", "Search", "Data Science", "Support Automation"} <= set(sizes.index)
    assert sizes.max() >= 3 * sizes.min()


def test_teams_parameter_generates_more_team_names() -> None:
    log = demo_log(seed=2, users=400, days=7, now=NOW, teams=40)
    teams = log["team"].cat.categories
    assert len(teams) >= 36  # a one-person team may be quiet that week
    assert {"Platform", "Search"} <= set(teams)
    beyond = demo_log(seed=2, users=600, days=7, now=NOW, teams=70)["team"].cat.categories
    assert len(beyond) >= 60  # more than the built-in and extra names: generated, distinct
    few = demo_log(seed=2, users=50, days=3, now=NOW, teams=3)
    assert few["team"].nunique() == 3


def test_api_keys_are_names_that_belong_to_teams(log: pd.DataFrame) -> None:
    keys = log["api_key"].cat.categories.astype(str)
    assert pd.Series(keys).str.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*").all()
    assert "search-prod" in keys
    assert any(k.endswith("-dev") for k in keys)  # personal keys
    service = [k for k in keys if not k.endswith("-dev")]
    assert all(k.rsplit("-", 1)[1] in {"prod", "staging", "internal"} for k in service)
    # most requests use a key of the caller's own team or the caller's personal key
    slug = log["team"].astype(str).str.lower().str.replace(" ", "-", regex=False)
    key = log["api_key"].astype(str)
    pairs = pd.DataFrame({"key": key, "slug": slug}).value_counts().reset_index()
    own = [
        k.startswith(s + "-") or k.endswith("-dev")
        for k, s in zip(pairs["key"], pairs["slug"], strict=True)
    ]
    assert pairs.loc[own, "count"].sum() > 0.85 * len(log)


def test_token_counts_depend_on_the_kind_of_work(log: pd.DataFrame) -> None:
    exploded = log[["tags", "output_tokens", "input_tokens"]].explode("tags")
    by_feature = exploded.groupby("tags")[["input_tokens", "output_tokens"]].median()
    # classification-like work answers in a few tokens, chat and code write paragraphs
    assert by_feature.loc["feature:classify", "output_tokens"] < 20
    assert by_feature.loc["feature:chat", "output_tokens"] > 100
    assert (
        by_feature.loc["feature:summarize", "input_tokens"]
        > 5 * by_feature.loc["feature:summarize", "output_tokens"]
    )
    spread = log["input_tokens"].quantile([0.5, 0.99])
    assert spread[0.99] > 5 * spread[0.5]  # long-tailed, not uniform


def test_usage_is_heavy_tailed(log: pd.DataFrame) -> None:
    per_user = log.groupby("user_id", observed=True).size().sort_values(ascending=False)
    top = int(np.ceil(0.05 * len(per_user)))
    assert per_user.iloc[:top].sum() > 0.25 * per_user.sum()
    assert per_user.iloc[0] > 10 * per_user.median()


def test_weekly_and_daily_rhythm(log: pd.DataFrame) -> None:
    ordinary = log[log["user_id"] != log.attrs[ANOMALY_ATTR]]
    ts = ordinary["timestamp"]
    weekend = ts.dt.dayofweek >= 5
    weekday_rate = (~weekend).sum() / 5
    weekend_rate = weekend.sum() / 2
    assert weekday_rate > 3 * weekend_rate
    by_hour = ts.dt.hour.value_counts().reindex(range(24), fill_value=0)
    assert by_hour.max() > 5 * by_hour.min()


def test_some_people_join_later(log: pd.DataFrame) -> None:
    start = NOW - pd.Timedelta(days=DAYS)
    first = log.groupby("user_id", observed=True)["timestamp"].min()
    late = first > start + pd.Timedelta(days=20)
    assert 0.05 * len(first) <= late.sum() <= 0.4 * len(first)


def test_anomaly_user_runs_away_at_the_end(log: pd.DataFrame) -> None:
    uid = log.attrs[ANOMALY_ATTR]
    assert uid == anomaly_user(0)
    assert uid in set(log["user_id"])
    median, last_two, start = _anomaly_counts(log)
    assert NOW - pd.Timedelta(days=3) <= start <= NOW - pd.Timedelta(days=2)
    assert last_two >= 10 * max(median, 1.0)
    # a batch job: one model, one key, tagged app:batch-eval
    burst = log[(log["user_id"] == uid) & (log["timestamp"] >= start)]
    tagged = burst[burst["tags"].apply(lambda tags: "app:batch-eval" in tags)]
    assert len(tagged) >= 0.8 * len(burst)
    assert tagged["model"].nunique() == 1 and tagged["api_key"].nunique() == 1


def test_anomaly_user_is_ordinary_before_and_near_the_top_after(log: pd.DataFrame) -> None:
    uid = log.attrs[ANOMALY_ATTR]
    before = log[log["timestamp"] < pd.Timestamp(log.attrs["anomaly_start"])]
    by_requests = before.groupby("user_id", observed=True).size().rank(ascending=False)
    assert by_requests[uid] > 0.2 * len(by_requests)  # not a power user
    week = log[log["timestamp"] > NOW - pd.Timedelta(days=7)]
    by_cost = week.groupby("user_id", observed=True)["cost"].sum().rank(ascending=False)
    assert by_cost[uid] <= 3


@pytest.mark.parametrize("seed", [1, 7])
def test_anomaly_holds_for_other_seeds(seed: int) -> None:
    log = demo_log(seed=seed, now=NOW)
    median, last_two, _ = _anomaly_counts(log)
    assert last_two >= 10 * max(median, 1.0)


def test_packed_time_sort_matches_a_lexicographic_sort() -> None:
    rng = np.random.default_rng(0)
    t = rng.integers(0, 10**12, 20_000)
    t[:500] = t[500:1000]  # ties in time are ordered by workload
    workload = rng.integers(0, 5_000, 20_000).astype(np.int32)
    sorted_t, sorted_w = _in_time_order(t, workload)
    order = np.lexsort((workload, t))
    np.testing.assert_array_equal(sorted_t, t[order])
    np.testing.assert_array_equal(sorted_w, workload[order])
    wide_t, wide_w = _in_time_order(t + 2**62, workload)  # too wide to pack: the fallback
    np.testing.assert_array_equal(wide_t, t[order] + 2**62)
    np.testing.assert_array_equal(wide_w, workload[order])


def test_can_be_written_to_parquet(tmp_path) -> None:
    log = demo_log(seed=6, users=30, days=7, now=NOW)
    assert log.attrs["now"] == NOW.isoformat()  # attrs are JSON-friendly, so Parquet keeps them
    log.to_parquet(tmp_path / "log.parquet")
    # pd.read_parquet cannot restore Arrow list columns from pandas metadata (pandas #57411)
    table = pq.read_table(tmp_path / "log.parquet")
    back = table.to_pandas(types_mapper=lambda t: pd.ArrowDtype(t) if pa.types.is_list(t) else None)
    assert back.attrs == log.attrs
    assert back["request_id"].tolist() == log["request_id"].tolist()
    assert back["tags"].tolist() == log["tags"].tolist()
    assert back["cost"].equals(log["cost"])


def test_tiny_configurations_work() -> None:
    log = demo_log(seed=5, users=1, days=1, now=NOW)
    assert len(log) > 0
    assert log["user_id"].nunique() == 1
    assert log["timestamp"].min() > NOW - pd.Timedelta(days=1)
    with pytest.raises(ValueError):
        demo_log(users=0)
    with pytest.raises(ValueError):
        demo_log(days=0)


def test_default_size_is_fast() -> None:
    start = time.perf_counter()
    log = demo_log(seed=4, now=NOW)
    elapsed = time.perf_counter() - start
    print(f"demo_log() default: {len(log):,} rows in {elapsed:.2f} s")
    assert elapsed < 10  # loose: speed targets live in the benchmarks
