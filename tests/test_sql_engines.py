"""The same random logs and selections through the in-memory engine and each database engine
(DuckDB file, PostgreSQL server, Spark): the reports must be identical (costs to 1e-9)."""

from __future__ import annotations

import datetime as dt
import random
import warnings
from typing import Any

import pandas as pd
import pytest

import usage_widgets as uw

ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Asia/Kathmandu", "America/Santiago")
USERS = ("ada", "grace", "linus", "margaret", "edsger", "barbara", "ken")
NAMES = (None, "Ada Lovelace", "ada", "Grace Hopper", "Émile Zola", "Straße Bauer", "  ", "R&D <b>lead</b>")
EMAILS = (None, "ada@example.org", "GRACE@corp.example", "ml@x.org", "")
TEAMS = ("Search", "Platform", "ml-infra", "R&D", None, "")
KEYS = ("key-a", "key-b", "key-c", "key-d")
MODELS = ("gpt-4o", "gpt-4o-mini", "claude-3-5-sonnet", "mystery-model")
TAGS = ("env:prod", "env:dev", "proj:x", "proj:y", "tier:1")
SEARCHES = ("", "ada", "ADA", "x.org", "search", "PLAT", "r&d", "ß", "zzz", "@")
SORTS = ("name", "team", "users", "requests", "input_tokens", "output_tokens", "cost")
US = 1_000  # ns
HOUR = 3_600 * 10**9
DAY = 24 * HOUR


def random_log(seed: int, now: pd.Timestamp, n: int = 160) -> pd.DataFrame:
    """A raw log around ``now``: requests in the last 40 days, near midnights and hours, after
    ``now``; distinct timestamps (microseconds, as databases keep them)."""
    rng = random.Random(seed)
    now_ns = now.value
    stamps: set[int] = set()
    while len(stamps) < n:
        how = rng.random()
        if how < 0.6:
            ns = now_ns - rng.randrange(40 * DAY)
        elif how < 0.85:  # at or next to a UTC hour (every zone's day and hour edges are on one)
            quarter = HOUR // 4
            ns = (now_ns // quarter - rng.randrange(40 * 24 * 4)) * quarter + rng.choice(
                (0, 0, US, -US, 10**9)
            )
        else:
            ns = now_ns + rng.randrange(-2 * 10**9, 2 * DAY)
        stamps.add(ns - ns % US)
    rows = []
    for i, ns in enumerate(sorted(stamps)):
        rows.append({
            "request_id": f"r{seed}-{i}",
            "timestamp": pd.Timestamp(ns, tz="UTC"),
            "user_id": rng.choice(USERS),
            "user_name": rng.choice(NAMES),
            "user_email": rng.choice(EMAILS),
            "team": rng.choice(TEAMS),
            "api_key": rng.choice(KEYS),
            "model": rng.choice(MODELS),
            "tags": rng.sample(TAGS, rng.choice((0, 0, 1, 2, 3))),
            "input_tokens": rng.choice((0, rng.randrange(5_000), 10**9)),
            "output_tokens": rng.randrange(2_000),
            "cost": None if rng.random() < 0.15 else round(rng.uniform(0, 5), 6),
        })  # fmt: skip
    rng.shuffle(rows)  # a table has no order
    frame = pd.DataFrame(rows)
    frame["cost"] = frame["cost"].astype("float64")
    return frame


def in_memory(frame: pd.DataFrame) -> uw.RequestStore:
    """The in-memory engine's store; a missing cost stays unknown, as in a database."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", uw.LogWarning)
        return uw.RequestStore.from_log(frame.assign(priced=frame["cost"].notna()))


def random_selection(rng: random.Random, now: pd.Timestamp) -> tuple[uw.Selection, str]:
    range_ = rng.choice(("24h", "7d", "14d", "30d", "custom"))
    extra: dict[str, Any] = {}
    if range_ == "custom":
        first = (now - pd.Timedelta(days=rng.randrange(40))).date()
        extra = {"start": first, "end": first + dt.timedelta(days=rng.choice((0, 1, 2, 5, 20)))}
    pick = lambda values, most: tuple(rng.sample(values, rng.choice(range(most + 1))))  # noqa: E731
    teams = [t for t in TEAMS if t] + ["Unassigned"]
    selection = uw.Selection(
        view=rng.choice(("user", "team")),
        range=range_,
        api_keys=pick(KEYS, 2) if rng.random() < 0.4 else (),
        tags=pick(TAGS, 3) if rng.random() < 0.4 else (),
        teams=pick(teams, 2) if rng.random() < 0.3 else (),
        models=pick(list(MODELS), 2) if rng.random() < 0.3 else (),
        anomalies_only=rng.random() < 0.1,
        search=rng.choice(SEARCHES) if rng.random() < 0.3 else "",
        sort=rng.choice(SORTS),
        descending=rng.random() < 0.7,
        **extra,
    )
    return selection, rng.choice(ZONES)


def assert_same(got: uw.Report, want: uw.Report) -> None:
    """Identical reports: every number exactly, costs to 1e-9."""
    where = f"{want.selection!r} tz={want.tz}"
    assert got.granularity == want.granularity, where
    assert (got.start, got.end, got.rows_before_search) == (want.start, want.end, want.rows_before_search), (
        where
    )
    for got_kpis, want_kpis in ((got.kpis, want.kpis), (got.previous_kpis, want.previous_kpis)):
        assert got_kpis.keys() == want_kpis.keys()
        for name, value in want_kpis.items():
            if isinstance(value, float):
                assert got_kpis[name] == pytest.approx(value, rel=1e-9, abs=1e-9), (name, where)
            else:
                assert got_kpis[name] == value, (name, where)
    pd.testing.assert_frame_equal(got.activity, want.activity, obj=f"activity {where}")
    pd.testing.assert_frame_equal(
        got.breakdown, want.breakdown, check_exact=False, rtol=1e-9, atol=1e-9, obj=f"breakdown {where}"
    )
    assert (got.previous_start, got.previous_end) == (want.previous_start, want.previous_end), where
    pd.testing.assert_frame_equal(
        got.cost_by_model, want.cost_by_model, check_exact=False, rtol=1e-9, atol=1e-9,
        obj=f"cost by model {where}",
    )  # fmt: skip
    pd.testing.assert_frame_equal(
        got.anomalies.sort_index(), want.anomalies.sort_index(), obj=f"anomalies {where}"
    )


NOW = pd.Timestamp("2026-03-29 14:37:12.345678", tz="UTC")  # days after Europe's spring change


def check_engine(
    source: uw.SqlSource, store: uw.RequestStore, seed: int, count: int, now: pd.Timestamp
) -> int:
    rng = random.Random(seed)
    nonempty = 0
    assert source.options() == store.options()
    for _ in range(count):
        selection, tz = random_selection(rng, now)
        want = uw.report(store, selection, now=now, tz=tz)
        got = uw.report(source, selection, now=now, tz=tz)
        assert_same(got, want)
        nonempty += bool(len(want.breakdown))
    return nonempty


FIXED = [  # the page's first look, each view, a tag filter across keys, a one-day custom range
    (uw.Selection(), "UTC"),
    (uw.Selection(view="team", range="30d"), "Europe/Berlin"),
    (uw.Selection(range="24h", tags=("env:prod", "env:dev", "proj:x")), "Asia/Kathmandu"),
    (uw.Selection(view="team", range="custom", start=dt.date(2026, 3, 29), end=dt.date(2026, 3, 29),
                  search="r&d"), "Europe/Berlin"),
]  # fmt: skip


def load(con: Any, frame: pd.DataFrame, name: str) -> None:
    con.create_table(name, frame, overwrite=True)


# -- DuckDB: a database file --------------------------------------------------------------------
@pytest.fixture(scope="module")
def duck_logs(
    tmp_path_factory: pytest.TempPathFactory,
) -> list[tuple[uw.SqlSource, uw.RequestStore, pd.Timestamp]]:
    import ibis

    path = tmp_path_factory.mktemp("duck") / "requests.duckdb"
    con = ibis.duckdb.connect(str(path))
    out = []
    for seed, now in ((1, NOW), (2, pd.Timestamp("2025-11-02 06:59:59.999999", tz="UTC"))):
        frame = random_log(seed, now)
        load(con, frame, f"log{seed}")
        out.append((uw.connect(f"duckdb://{path}", table=f"log{seed}"), in_memory(frame), now))
    con.disconnect()
    return out


def test_duckdb_file_answers_as_the_in_memory_engine(duck_logs) -> None:
    nonempty = 0
    for seed, (source, store, now) in enumerate(duck_logs):
        for selection, tz in FIXED:
            assert_same(
                uw.report(source, selection, now=now, tz=tz), uw.report(store, selection, now=now, tz=tz)
            )
        nonempty += check_engine(source, store, seed=seed, count=16, now=now)
    assert nonempty > 16  # most selections hold requests: the comparison is not of empty pages


def test_duckdb_report_of_an_empty_window_and_of_an_empty_table(tmp_path) -> None:
    import ibis

    frame = random_log(7, NOW, n=20)
    con = ibis.duckdb.connect(str(tmp_path / "x.duckdb"))
    load(con, frame, "requests")
    con.create_table("nothing", schema=con.table("requests").schema())
    con.disconnect()
    source = uw.connect(f"duckdb://{tmp_path / 'x.duckdb'}")
    far = uw.Selection(range="custom", start="2020-01-01", end="2020-01-05", view="team")
    assert_same(uw.report(source, far, now=NOW), uw.report(in_memory(frame), far, now=NOW))
    empty = uw.connect(f"duckdb://{tmp_path / 'x.duckdb'}", table="nothing")
    rep = uw.report(empty, uw.Selection(), now=NOW)
    assert rep.kpis["requests"] == 0 and rep.kpis["avg_requests_per_user"] is None
    assert empty.options() == {"api_keys": [], "tags": [], "teams": [], "models": []}


# -- PostgreSQL: a throw-away server -------------------------------------------------------------
def test_postgresql_answers_as_the_in_memory_engine(pg) -> None:
    import ibis

    con = ibis.connect(pg.url)
    logs = []
    for seed in (11,):
        frame = random_log(seed, NOW)
        load(con, frame, f"log{seed}")
        logs.append((uw.connect(pg.url, table=f"log{seed}"), in_memory(frame)))
    con.disconnect()
    nonempty = 0
    for seed, (source, store) in enumerate(logs):
        for selection, tz in FIXED:
            assert_same(
                uw.report(source, selection, now=NOW, tz=tz), uw.report(store, selection, now=NOW, tz=tz)
            )
        nonempty += check_engine(source, store, seed=100 + seed, count=14, now=NOW)
    assert nonempty > 8


def test_postgresql_naive_timestamps_are_utc(pg) -> None:
    """A ``timestamp without time zone`` column holds UTC, as a naive timestamp in a file does."""
    import ibis

    frame = random_log(13, NOW, n=60)
    con = ibis.connect(pg.url)
    load(con, frame.assign(timestamp=frame["timestamp"].dt.tz_localize(None)), "naive_log")
    con.disconnect()
    source = uw.connect(pg.url, table="naive_log")
    assert not source.table.timestamp.type().timezone
    store = in_memory(frame)
    for selection, tz in FIXED:
        assert_same(uw.report(source, selection, now=NOW, tz=tz), uw.report(store, selection, now=NOW, tz=tz))


# -- Spark: the distributed engine, in local mode ----------------------------------------------------
def test_spark_answers_as_the_in_memory_engine(spark) -> None:
    import ibis

    frame = random_log(21, NOW, n=120)
    spark.createDataFrame(frame).createOrReplaceTempView("spark_log")  # no files written
    con = ibis.pyspark.connect(spark)
    source = uw.connect(con, table="spark_log")
    store = in_memory(frame)
    assert source.options() == store.options()
    # Each Spark query takes seconds on two cores: one report, the one using the most (hourly
    # buckets in a quarter-hour zone, tags across keys, latest team, names from the whole log).
    for selection, tz in FIXED[2:3]:
        assert_same(uw.report(source, selection, now=NOW, tz=tz), uw.report(store, selection, now=NOW, tz=tz))


def test_duckdb_flags_the_same_runaway_rows(tmp_path) -> None:
    """A steady user and one whose last day jumps far above their own month: flagged alike."""
    rng = random.Random(7)
    rows = []
    for day in range(29):
        for _ in range(20):  # steady: 20 a day
            rows.append(("steady", "Search", NOW - pd.Timedelta(days=day, minutes=rng.randrange(1, 1400))))
        burst = 400 if day == 0 else 3
        for _ in range(burst):
            rows.append(("runaway", "R&D", NOW - pd.Timedelta(days=day, minutes=rng.randrange(1, 1400))))
    frame = pd.DataFrame({
        "request_id": [f"r{i}" for i in range(len(rows))],
        "timestamp": [r[2] for r in rows],
        "user_id": [r[0] for r in rows], "user_name": [r[0] for r in rows],
        "user_email": [f"{r[0]}@example.org" for r in rows],
        "team": [r[1] for r in rows], "api_key": "key-a", "model": "gpt-4o",
        "tags": [["env:prod"] for _ in rows], "input_tokens": 10, "output_tokens": 5, "cost": 0.001,
    })  # fmt: skip
    import ibis

    con = ibis.duckdb.connect(str(tmp_path / "burst.duckdb"))
    load(con, frame, "requests")
    source = uw.connect(con, table="requests")
    store = in_memory(frame)
    for selection in (uw.Selection(range="7d"), uw.Selection(view="team", range="30d", anomalies_only=True)):
        got, want = uw.report(source, selection, now=NOW), uw.report(store, selection, now=NOW)
        assert_same(got, want)
        assert list(want.anomalies.index) == (["runaway"] if selection.view == "user" else ["R&D"])


def test_columns_named_otherwise_are_mapped(tmp_path) -> None:
    import ibis

    frame = random_log(31, NOW, n=40)
    renamed = frame.rename(columns={"timestamp": "created_at", "cost": "spend_usd", "user_id": "who"})
    con = ibis.duckdb.connect(str(tmp_path / "m.duckdb"))
    load(con, renamed.drop(columns=["user_email"]), "calls")
    con.disconnect()
    url = f"duckdb://{tmp_path / 'm.duckdb'}"
    source = uw.connect(
        url, table="calls", columns={"timestamp": "created_at", "cost": "spend_usd", "user_id": "who"}
    )
    store = in_memory(frame.assign(user_email=None))
    for selection, tz in FIXED:
        assert_same(uw.report(source, selection, now=NOW, tz=tz), uw.report(store, selection, now=NOW, tz=tz))
    with pytest.raises(uw.LogError, match=r"'timestamp'.*created_at"):
        uw.connect(url, table="calls")
    with pytest.raises(uw.LogError, match="table 'nope' does not exist"):
        uw.connect(url, table="nope")
