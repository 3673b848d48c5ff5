"""Paths taken only by large or growing logs: a pass split among threads, tag sets beyond 63
tags, finished days kept in another order than time, late requests."""

from __future__ import annotations

import concurrent.futures
import itertools
import multiprocessing
import sys

import numpy as np
import pandas as pd
import pytest

import usage_widgets as uw
from usage_widgets import kernel

report_module = sys.modules["usage_widgets.report"]
store_module = sys.modules["usage_widgets.store"]


@pytest.mark.parametrize(("view", "models"), [("user", ()), ("team", ()), ("user", ("gpt-4o", "o4-mini"))])
def test_split_pass_gives_the_same_report(
    monkeypatch: pytest.MonkeyPatch, view: str, models: tuple[str, ...]
) -> None:
    store = uw.RequestStore.from_log(uw.demo_log(3, users=60, days=20, now="2026-03-10T12:00Z"))
    selection = uw.Selection(view=view, range="14d", models=models)
    whole = uw.report(store, selection, now="2026-03-10T12:00Z", tz="Asia/Kolkata")
    monkeypatch.setattr(kernel, "MIN_CHUNK", 10)
    split = uw.report(store, selection, now="2026-03-10T12:00Z", tz="Asia/Kolkata")
    assert whole.kpis["requests"] > 100
    assert split.kpis == pytest.approx(whole.kpis)
    pd.testing.assert_frame_equal(split.activity, whole.activity)
    pd.testing.assert_frame_equal(split.breakdown, whole.breakdown, check_exact=False, rtol=1e-12)
    assert split.previous_kpis == pytest.approx(whole.previous_kpis)
    assert whole.previous_kpis["requests"] > 100
    pd.testing.assert_frame_equal(split.cost_by_model, whole.cost_by_model, check_exact=False, rtol=1e-12)
    assert len(whole.cost_by_model) > len(models)  # the models filter leaves cost by model whole
    pd.testing.assert_frame_equal(split.anomalies, whole.anomalies)


NOW = "2026-03-10T12:00Z"


def _report_parts(rep: uw.Report) -> tuple:
    return rep.kpis, rep.previous_kpis, rep.activity, rep.breakdown, rep.cost_by_model, rep.anomalies


@pytest.mark.parametrize("view", ["user", "team"])
def test_a_log_fed_in_batches_across_midnights_with_late_requests_reports_as_one_loaded_at_once(
    monkeypatch: pytest.MonkeyPatch, view: str
) -> None:
    """Live Mode's way: six-hour batches, each midnight finishing a day (sorted for the pass),
    and some requests arriving days late, which puts finished days back in time order; with
    and without a key or tag filter (which reads the finished days' subgroups)."""
    log = uw.demo_log(5, users=40, days=8, now=NOW)
    late = log.sample(frac=0.03, random_state=2).index
    on_time = log.drop(late)
    grown = uw.RequestStore()
    batches = pd.date_range("2026-03-02", "2026-03-11", freq="6h", tz="UTC")
    for lo, hi in itertools.pairwise(batches):
        grown.append(on_time[(on_time["timestamp"] >= lo) & (on_time["timestamp"] < hi)])
        if lo == pd.Timestamp("2026-03-07", tz="UTC"):  # the late requests of three days and more ago
            grown.append(log.loc[late][log.loc[late, "timestamp"] < lo - pd.Timedelta(days=3)])
    grown.append(log.loc[late])  # and the rest (the ones above are counted once)
    whole = uw.RequestStore.from_log(log)
    assert len(grown) == len(whole) == len(log)
    monkeypatch.setattr(kernel, "MIN_CHUNK", 50)  # runs cut between threads, too
    for selection, now, tz in [
        (uw.Selection(view=view, range="7d"), NOW, "UTC"),
        (uw.Selection(view=view, range="24h"), "2026-03-08T15:37Z", "Asia/Kolkata"),  # now in a finished day
        (uw.Selection(view=view, range="custom", start="2026-03-03", end="2026-03-06"), NOW, "Asia/Tokyo"),
        (uw.Selection(view=view, range="7d", tags=("env:dev",)), "2026-03-09T18:20Z", "America/New_York"),
        (uw.Selection(view=view, range="7d", api_keys=("james-dev",)), NOW, "UTC"),
    ]:
        got = _report_parts(uw.report(grown, selection, now=now, tz=tz))
        want = _report_parts(uw.report(whole, selection, now=now, tz=tz))
        assert got[0]["requests"] > 0 and got[1]["requests"] > 0
        for mine, theirs in zip(got, want, strict=True):
            if isinstance(mine, dict):
                assert mine == pytest.approx(theirs)
            else:
                pd.testing.assert_frame_equal(mine, theirs, check_exact=False, rtol=1e-12)


@pytest.mark.parametrize(
    "filters",
    [
        {"tags": ("env:prod",)},
        {"api_keys": ("platform-staging",)},
        {
            "tags": ("env:prod", "env:staging", "feature:classify"),
            "api_keys": ("platform-staging", "security-internal"),
        },
    ],
)
def test_previous_period_under_key_and_tag_filters_counts_late_requests_once(filters: dict) -> None:
    """Under key and tag filters only, the previous period's finished days are read from their
    pairs of API key and tag set (`RequestStore.whole_day_pairs`): requests arriving days late,
    which put finished days back in time order after a report has read them, are counted once,
    with their users, tokens and cost."""
    from tests.naive import _tag_filter_ok

    log = uw.demo_log(7, users=30, days=20, now=NOW)
    days_ago = log["timestamp"].between(*pd.to_datetime(["2026-02-24", "2026-03-01"], utc=True))
    late = log[days_ago].sample(frac=0.2, random_state=3).index  # the days before stay as they were
    grown = uw.RequestStore.from_log(log.drop(late))
    selection = uw.Selection(range="7d", **filters)
    uw.report(grown, selection, now=NOW)  # the days' pairs are read before the late requests come
    grown.append(log.loc[late])
    rep = uw.report(grown, selection, now=NOW)
    kept = log["tags"].map(lambda tags: _tag_filter_ok(list(tags), filters.get("tags", ())))
    kept &= log["api_key"].isin(filters.get("api_keys", log["api_key"].unique()))
    before = log[kept & log["timestamp"].between(rep.previous_start, rep.previous_end)]
    assert before.index.isin(late).sum() > 0  # late requests among them
    assert rep.previous_kpis["requests"] == len(before) > 0
    assert rep.previous_kpis["active_users"] == before["user_id"].nunique()
    tokens = before["input_tokens"].sum() + before["output_tokens"].sum()
    assert rep.previous_kpis["total_tokens"] == int(tokens)
    assert rep.previous_kpis["cost"] == pytest.approx(before["cost"].sum(), rel=1e-12)


def test_the_team_shown_is_that_of_the_latest_request_when_a_day_is_kept_by_model() -> None:
    """A finished day holds a user's requests by model, then time: here the later request comes
    first (its model was seen first), and the badge must still show the team it was made in."""
    log = pd.DataFrame({
        "request_id": ["r1", "r2", "r3", "r4"],
        "timestamp": pd.to_datetime(
            ["2026-03-02 09:00", "2026-03-02 10:00", "2026-03-02 14:00", "2026-03-03 08:00"], utc=True
        ),
        "user_id": ["other", "mover", "mover", "other"], "team": ["alpha", "alpha", "beta", "alpha"],
        "api_key": "k", "model": ["a-model", "z-model", "a-model", "a-model"],
        "input_tokens": 10, "output_tokens": 5, "cost": 0.01,
    })  # fmt: skip
    rep = uw.report(log, uw.Selection(range="7d"), now="2026-03-03T12:00Z")
    assert rep.breakdown.set_index("user_id").loc["mover", "team"] == "beta"


@pytest.mark.parametrize("tz", ["UTC", "Asia/Kolkata"])
def test_busy_days_cut_by_bucket_and_rolling_day_edges_count_as_request_by_request(tz: str) -> None:
    """Users with hundreds of requests a day with one model: their groups are searched, not
    scanned, where an edge cuts them. Read a group at a time (no filter) or request by request
    (a filter on the only key), the trends, totals and anomaly counts agree."""
    rows = []
    for u, (usual, spike) in enumerate([(40, 400), (300, 2000), (60, 60)]):
        for day in range(1, 11):
            n = spike if day >= 9 else usual
            times = pd.date_range(f"2026-03-{day:02d}", periods=n, freq=f"{86_400 // n}s", tz="UTC")
            rows += [
                {"request_id": f"u{u}-{day}-{k}", "timestamp": t, "user_id": f"u{u}", "api_key": "k",
                 "model": "gpt-4o", "input_tokens": k % 7, "output_tokens": 3, "cost": 0.001}
                for k, t in enumerate(times)
            ]  # fmt: skip
    store = uw.RequestStore.from_log(pd.DataFrame(rows))
    now = "2026-03-10T07:31:17Z"  # a rolling day's edge in the middle of each finished day
    by_group = uw.report(store, uw.Selection(range="7d"), now=now, tz=tz)
    by_request = uw.report(store, uw.Selection(range="7d", api_keys=("k",)), now=now, tz=tz)
    pd.testing.assert_frame_equal(by_group.breakdown, by_request.breakdown)
    pd.testing.assert_frame_equal(by_group.anomalies, by_request.anomalies)
    assert by_group.anomalies.index.tolist() == ["u0", "u1"]


@pytest.mark.parametrize("api_keys", [(), ("k",)])  # read a group at a time, or request by request
def test_the_team_shown_is_that_of_the_latest_request_when_the_pass_is_split_among_threads(
    monkeypatch: pytest.MonkeyPatch, api_keys: tuple[str, ...]
) -> None:
    """Each user moves from one team to another at their own hour; the part of the pass that
    holds a user's latest request may be either thread's."""
    stamps = pd.date_range("2026-03-02", "2026-03-07 22:00", freq="2h", tz="UTC")
    users = [f"u{i}" for i in range(30)]
    moves = {u: stamps[5 + 2 * i] for i, u in enumerate(users)}
    log = pd.DataFrame([
        {"request_id": f"{u}-{k}", "timestamp": t, "user_id": u, "api_key": "k", "model": f"m{k % 3}",
         "team": ("beta-" if t >= moves[u] else "alpha-") + u, "input_tokens": 10, "output_tokens": 5,
         "cost": 0.01}
        for u in users for k, t in enumerate(stamps)
    ])  # fmt: skip
    monkeypatch.setattr(kernel, "MIN_CHUNK", 10)
    rep = uw.report(log, uw.Selection(range="7d", api_keys=api_keys), now="2026-03-08T00:00Z")
    assert rep.breakdown.set_index("user_id")["team"].to_dict() == {u: "beta-" + u for u in users}


@pytest.mark.parametrize("api_keys", [(), ("k",)])  # read a group at a time, or request by request
def test_of_one_instant_the_later_request_gives_the_team_in_a_finished_day(api_keys) -> None:
    """Two requests of one user at the same instant, in two teams and with two models: the
    badge shows the team of the one that came later in the log, as while the day was open."""
    log = pd.DataFrame({
        "request_id": ["r0", "r1", "r2", "r3"],
        "timestamp": pd.to_datetime(
            ["2026-03-02 08:00", "2026-03-02 10:00", "2026-03-02 10:00", "2026-03-03 08:00"], utc=True
        ),
        "user_id": "u", "team": ["alpha", "alpha", "beta", "alpha"], "api_key": "k",
        "model": ["m-b", "m-a", "m-b", "m-a"], "input_tokens": 10, "output_tokens": 5, "cost": 0.01,
    })  # fmt: skip
    selection = uw.Selection(range="custom", start="2026-03-02", end="2026-03-02", api_keys=api_keys)
    open_day = uw.report(uw.RequestStore.from_log(log.head(3)), selection, now="2026-03-03T12:00Z")
    finished = uw.report(uw.RequestStore.from_log(log), selection, now="2026-03-03T12:00Z")
    assert open_day.breakdown["team"].tolist() == finished.breakdown["team"].tolist() == ["beta"]


@pytest.mark.parametrize("api_keys", [(), ("k",)])  # read a group, or a subgroup, at a time
def test_the_team_shown_is_that_of_the_latest_request_before_now_in_a_finished_day(api_keys) -> None:
    """A user working in two teams (with two models) in a day finished by a later request, with
    "now" in that day: the badge shows the team of the latest request up to now, although the
    other team's requests began later and the first team's go on after now."""
    stamps = {
        ("alpha", "m-a"): pd.date_range("2026-03-02 08:00", "2026-03-02 18:00", freq="h", tz="UTC"),
        ("beta", "m-b"): pd.date_range("2026-03-02 10:00", "2026-03-02 14:00", freq="h", tz="UTC"),
    }
    rows = [(*group, t) for group, times in stamps.items() for t in times]
    rows.append(("alpha", "m-a", pd.Timestamp("2026-03-04 09:00", tz="UTC")))  # which finishes the day
    log = pd.DataFrame([
        {"request_id": f"r{i}", "timestamp": t, "user_id": "u", "team": team, "api_key": "k",
         "model": model, "input_tokens": 10, "output_tokens": 5, "cost": 0.01}
        for i, (team, model, t) in enumerate(rows)
    ])  # fmt: skip
    rep = uw.report(log, uw.Selection(range="24h", api_keys=api_keys), now="2026-03-02T15:00:30Z")
    assert rep.breakdown["team"].tolist() == ["alpha"]
    assert rep.kpis["requests"] == 8 + 5  # alpha from 08:00 to 15:00, beta from 10:00 to 14:00


def test_of_three_requests_at_one_instant_the_last_gives_the_team_under_a_key_filter() -> None:
    """Three requests of one user at one instant: two in one team and model with two keys (two
    subgroups of one group), one in another team and model between them in the log. The badge
    shows the team of the last, as in the open day."""
    stamps = ["2026-03-02 08:00", *["2026-03-02 10:00"] * 3, "2026-03-03 08:00"]
    log = pd.DataFrame({
        "request_id": ["r0", "r1", "r2", "r3", "r4"], "timestamp": pd.DatetimeIndex(stamps, tz="UTC"),
        "user_id": "u", "team": ["beta", "alpha", "beta", "alpha", "alpha"],
        "api_key": ["k", "k", "k", "k2", "k"],
        "model": ["m-b", "m-a", "m-b", "m-a", "m-a"], "input_tokens": 10, "output_tokens": 5, "cost": 0.01,
    })  # fmt: skip
    selection = uw.Selection(range="custom", start="2026-03-02", end="2026-03-02", api_keys=("k", "k2"))
    open_day = uw.report(uw.RequestStore.from_log(log.head(4)), selection, now="2026-03-03T12:00Z")
    finished = uw.report(uw.RequestStore.from_log(log), selection, now="2026-03-03T12:00Z")
    assert open_day.breakdown["team"].tolist() == finished.breakdown["team"].tolist() == ["alpha"]


@pytest.mark.parametrize("distinct_tags", [5, 70])  # bit words up to 63 tags, text beyond
def test_tag_filter_counts_the_requests_carrying_the_tag(distinct_tags: int) -> None:
    n = 140
    tags = [[f"t:v{i % distinct_tags}", f"t:v{(i * 7) % distinct_tags}"] for i in range(n)]
    log = pd.DataFrame({
        "request_id": [f"r{i}" for i in range(n)],
        "timestamp": pd.date_range("2026-03-01", periods=n, freq="h", tz="UTC"),
        "user_id": [f"u{i % 9}" for i in range(n)], "api_key": "k", "model": "gpt-4o",
        "input_tokens": 10, "output_tokens": 5, "tags": tags,
    })  # fmt: skip
    store = uw.RequestStore.from_log(log)
    for tag in ("t:v1", f"t:v{distinct_tags - 1}"):
        rep = uw.report(store, uw.Selection(range="14d", tags=(tag,)), now="2026-03-07T00:00Z")
        expected = sum(tag in t for t in tags)
        assert rep.kpis["requests"] == expected


@pytest.mark.parametrize("tz", ["UTC", "America/New_York"])
def test_groups_of_many_keys_and_tag_sets_count_under_key_and_tag_filters(tz: str) -> None:
    """A finished day's group (one user and model) under a key or tag filter adds up its
    subgroups that pass (its requests of one key and tag set), or reads its requests where an
    edge cuts it. u0's groups hold 3 keys x 45 tag sets (found by sorting), u1's 2 x 2 (found
    by comparing). Both views, in a zone whose midnights cut every UTC day, and with "now"
    inside a finished day, give what one request at a time gives, and so do the previous
    period's totals."""
    from tests.naive import naive_report

    rows = []
    for day in range(1, 12):
        for u, n, n_tags, n_keys in [("u0", 400, 45, 3), ("u1", 90, 2, 2)]:
            times = pd.date_range(f"2026-03-{day:02d}", periods=n, freq=f"{86_400 // n}s", tz="UTC")
            rows += [
                {"request_id": f"{u}-{day}-{k}", "timestamp": t, "user_id": u, "team": f"team-{u}",
                 "api_key": f"k{k % n_keys}", "model": "gpt-4o", "input_tokens": k % 7, "output_tokens": 3,
                 "cost": 0.001 * (k % 5), "tags": [f"t:v{k % n_tags}", f"env:{'prod' if k % 4 else 'dev'}"]}
                for k, t in enumerate(times)
            ]  # fmt: skip
    log = uw.load_log(pd.DataFrame(rows))
    store = uw.RequestStore.from_log(log)
    cases = itertools.product(
        ["2026-03-11T07:31:17Z", "2026-03-09T13:10:00Z"],  # rolling days' edges inside every day
        [{"tags": ("t:v1",)}, {"api_keys": ("k1",)}, {"tags": ("t:v0", "env:dev"), "api_keys": ("k0",)}],
        [("user", "7d"), ("team", "30d"), ("user", "24h")],
    )
    for now, filters, (view, range_) in cases:
        rep = uw.report(store, uw.Selection(view=view, range=range_, **filters), now=now, tz=tz)
        ref = naive_report(log, view=view, range_=range_, now=now, tz=tz, **filters)
        assert rep.kpis["requests"] == ref.kpis["requests"] > 0
        assert rep.kpis["total_tokens"] == ref.kpis["total_tokens"]
        assert rep.kpis["cost"] == pytest.approx(ref.kpis["cost"], rel=1e-12)
        assert rep.activity.to_numpy().tolist() == ref.activity.to_numpy().tolist()
        key = "user_id" if view == "user" else "team"
        got = rep.breakdown.set_index(key)
        for r in ref.breakdown.to_dict("records"):
            assert got.loc[r[key], "requests"] == r["requests"]
            assert [int(v) for v in got.loc[r[key], "trend"]] == r["trend"]
        kept = log["tags"].map(lambda tags, f=filters: set(f.get("tags", ())) <= set(tags))
        kept &= log["api_key"].isin(filters.get("api_keys", log["api_key"].unique()))
        before = log["timestamp"].between(rep.previous_start, rep.previous_end)
        assert rep.previous_kpis["requests"] == int((kept & before).sum())
        assert range_ == "30d" or rep.previous_kpis["requests"] > 0


def test_tag_sets_stay_right_across_appends_in_other_tag_orders() -> None:
    """Each append numbers its tags in its own order (the second reverses the first's), and the
    store ends up with more tags than fit in one word (70): a tag filter still counts exactly
    the requests carrying it."""
    a = [f"a:v{i}" for i in range(40)]
    vocabularies = [a, a[::-1] + [f"b:v{i}" for i in range(20)], [f"c:v{i}" for i in range(10)] + a[:5]]
    store = uw.RequestStore()
    everything = []
    for b, names in enumerate(vocabularies):
        n = 150
        tags = [[names[i % len(names)], names[(i * 7) % len(names)], "a:v3"] for i in range(n)]
        everything += tags
        store.append(pd.DataFrame({
            "request_id": [f"r{b}-{i}" for i in range(n)],
            "timestamp": pd.date_range(f"2026-03-0{1 + 2 * b}", periods=n, freq="10min", tz="UTC"),
            "user_id": [f"u{i % 9}" for i in range(n)], "api_key": "k", "model": "gpt-4o",
            "input_tokens": 10, "output_tokens": 5, "tags": tags,
        }))  # fmt: skip
    for tag in ("a:v3", "a:v0", "a:v39", "b:v1", "b:v19", "c:v0", "c:v9"):
        rep = uw.report(store, uw.Selection(range="14d", tags=(tag,)), now="2026-03-08T00:00Z")
        assert rep.kpis["requests"] == sum(tag in t for t in everything) > 0, tag
    both = uw.report(store, uw.Selection(range="14d", tags=("a:v24", "b:v5")), now="2026-03-08T00:00Z")
    assert both.kpis["requests"] == sum("a:v24" in t and "b:v5" in t for t in everything) > 0


def _parquet_log(path, n: int = 300, row_group_size: int = 100) -> pd.DataFrame:
    """A log with a repeat inside one part and one across parts, times out of order across
    parts, and requests of a model without a price."""
    log = uw.demo_log(5, users=30, days=6, now="2026-03-10T12:00Z").head(n).copy()
    log = log.sample(frac=1.0, random_state=1).reset_index(drop=True)  # parts overlap in time
    log = log.astype(dict.fromkeys(("request_id", "model"), object))
    log.loc[10, "request_id"] = log.loc[11, "request_id"]  # a repeat inside the first part
    log.loc[250, "request_id"] = log.loc[20, "request_id"]  # and one across parts
    log.loc[[30, 200], "model"] = "house-model-1"
    log.loc[[30, 200], "cost"] = None
    log.to_parquet(path, row_group_size=row_group_size)
    return log


# Row groups of 100 rows are read one at a time, their tags dictionary-encoded; row groups
# of 10 rows, too small for that, are read across, their tags as plain text.
@pytest.mark.parametrize("row_group_size", [100, 10])
def test_a_large_parquet_file_loads_part_by_part_as_it_would_whole(
    monkeypatch: pytest.MonkeyPatch, tmp_path, row_group_size: int
) -> None:
    path = tmp_path / "log.parquet"
    log = _parquet_log(path, row_group_size=row_group_size)
    with pytest.warns(uw.LogWarning) as whole_warnings:
        whole = uw.RequestStore.from_log(path)
    schema = sys.modules["usage_widgets.schema"]
    monkeypatch.setattr(schema, "PART_ROWS", 70)
    rows, parts_of_file = schema.parquet_parts(path)
    sizes = [len(part) for part in parts_of_file]
    assert rows == 300 and len(sizes) > 3 and max(sizes) <= 70 and sum(sizes) == 300
    with pytest.warns(uw.LogWarning) as part_warnings:
        parts = uw.RequestStore.from_log(path)
    assert [str(w.message) for w in part_warnings] == [str(w.message) for w in whole_warnings]
    assert "2 repeated request_id values counted once" in str(whole_warnings[0].message)
    assert "2 requests have no cost and no known price (models: 'house-model-1')" in str(
        whole_warnings[1].message
    )
    assert len(parts) == len(whole) == 298
    tags = log["tags"].explode().value_counts().index
    for view, selected in (("user", ()), ("team", ()), ("user", (tags[0],)), ("team", (tags[0], tags[-1]))):
        selection = uw.Selection(view=view, range="7d", tags=selected)
        got = uw.report(parts, selection, now="2026-03-10T12:00Z")
        want = uw.report(whole, selection, now="2026-03-10T12:00Z")
        assert want.kpis["requests"] > 0
        assert got.kpis == pytest.approx(want.kpis)  # the same sums, perhaps in another order
        pd.testing.assert_frame_equal(got.breakdown, want.breakdown, check_exact=False, rtol=1e-12)


def test_a_broken_row_in_a_later_part_is_named_as_in_the_whole_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    path = tmp_path / "log.parquet"
    log = _parquet_log(tmp_path / "first.parquet")
    log.loc[[233, 280], "input_tokens"] = -5
    log.to_parquet(path, row_group_size=100)
    with pytest.raises(uw.LogError) as whole:
        uw.load_log(path)
    monkeypatch.setattr(sys.modules["usage_widgets.schema"], "PART_ROWS", 70)
    with pytest.raises(uw.LogError) as parts:
        uw.RequestStore.from_log(path)
    assert str(parts.value) == str(whole.value)
    assert "row 233" in str(parts.value) and "1 more rows break it too" in str(parts.value)


def test_a_large_parquet_file_without_the_optional_columns_loads_part_by_part(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    path = tmp_path / "log.parquet"
    log = _parquet_log(tmp_path / "first.parquet").drop(columns=["team", "user_name", "user_email", "tags"])
    log.to_parquet(path, row_group_size=100)
    monkeypatch.setattr(sys.modules["usage_widgets.schema"], "PART_ROWS", 70)
    assert sys.modules["usage_widgets.schema"].parquet_parts(path)[0] == 300
    with pytest.warns(uw.LogWarning):
        store = uw.RequestStore.from_log(path)
    rep = uw.report(store, uw.Selection(view="team", range="7d"), now="2026-03-10T12:00Z")
    assert len(store) == 298 and rep.breakdown["team"].tolist() == ["Unassigned"]


def test_a_forked_process_appends_and_reports_with_threads_of_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A child forked after this process used its thread pools (as multiprocessing does on
    Linux) appends and reports, with a pass split between threads, instead of waiting forever."""
    log = uw.load_log(uw.demo_log(users=20, days=5, now=NOW))
    monkeypatch.setattr(kernel, "MIN_CHUNK", 10)
    parent = uw.RequestStore()
    parent.append(log, validated=True)
    want = uw.report(parent, uw.Selection(range="7d"), now=NOW).kpis["requests"]
    context = multiprocessing.get_context("fork")
    results = context.Queue()

    def child(queue) -> None:
        store = uw.RequestStore()
        store.append(log, validated=True)
        queue.put(uw.report(store, uw.Selection(range="7d"), now=NOW).kpis["requests"])

    process = context.Process(target=child, args=(results,))
    process.start()
    process.join(60)
    if process.is_alive():
        process.kill()
        pytest.fail("the forked process waited forever")
    assert results.get(timeout=5) == want > 0


def test_reports_run_on_the_pass_threads_themselves_finish(monkeypatch: pytest.MonkeyPatch) -> None:
    """Work the pass's own threads hand to their pool (split passes, the latest day's copy)
    runs where it is, instead of waiting forever behind the work that waits for it."""
    log = uw.demo_log(3, users=60, days=5, now=NOW)
    store = uw.RequestStore.from_log(log)
    monkeypatch.setattr(kernel, "MIN_CHUNK", 10)  # both the pass and the copy use the pool
    want = uw.report(store, uw.Selection(range="24h"), now=NOW)
    store.append(log.tail(1).assign(request_id="late", timestamp=pd.Timestamp(NOW) - pd.Timedelta(minutes=1)))
    selection = uw.Selection(range="24h")
    runs = [kernel.in_background(lambda: uw.report(store, selection, now=NOW)) for _ in range(2)]
    done, waiting = concurrent.futures.wait(runs, timeout=60)
    assert not waiting, "a report on a pool thread waited forever"
    for run in done:
        assert run.result().kpis["requests"] == want.kpis["requests"] + 1


def test_a_validated_frame_whose_tags_are_all_missing_is_appended_without_tags() -> None:
    log = uw.load_log(uw.demo_log(users=5, days=2, now=NOW))
    store = uw.RequestStore()
    untagged = log.assign(tags=pd.Series([None] * len(log), dtype=object))
    assert store.append(untagged, validated=True) == len(log)
    assert uw.report(store, uw.Selection(range="7d"), now=NOW).kpis["requests"] == len(log)
    assert store.options()["tags"] == []


def test_a_validated_frame_of_plain_text_and_nullable_numbers_appends_as_its_categorical_twin() -> None:
    """The store reads a frame's columns as the arrays it holds: text that is not categorical,
    and numbers with a missing value (an unpriced request), give the same report and names."""
    log = uw.load_log(uw.demo_log(users=30, days=3, now=NOW))
    plain = log.astype({"user_id": object, "user_name": object, "user_email": "string[pyarrow]",
                        "team": object, "api_key": "string[pyarrow]", "model": object,
                        "input_tokens": "Int64", "cost": "Float64"})  # fmt: skip
    plain.loc[3, "cost"] = pd.NA
    twin, store = uw.RequestStore(), uw.RequestStore()
    twin.append(log.assign(cost=log["cost"].where(log.index != 3)), validated=True)
    for rows in (slice(0, 500), slice(500, None)):
        store.append(plain.iloc[rows], validated=True)
    for view in ("user", "team"):
        want, got = (uw.report(s, uw.Selection(view=view, range="7d"), now=NOW) for s in (twin, store))
        assert got.kpis == want.kpis and got.kpis["unpriced_requests"] == 1
        pd.testing.assert_frame_equal(got.breakdown, want.breakdown)


def test_the_latest_day_read_by_groups_gives_the_numbers_of_reading_it_request_by_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A report reads the latest day from a sorted copy of it in groups
    (`RequestStore.latest_groups`, kept until the store changes), and under a key or tag filter
    in their subgroups: the same numbers as reading its requests one by one, also with
    requests after "now", a window inside the latest day, a 45-minute zone, and after an
    append changes the latest day."""
    log = uw.demo_log(7, users=40, days=6, now="2026-03-10T20:00Z")
    early = log[log["timestamp"] < pd.Timestamp("2026-03-10T13:00Z")]
    store = uw.RequestStore.from_log(early)
    cases = [
        (uw.Selection(view="user", range="7d"), "2026-03-10T11:20Z", "UTC"),  # requests after now
        (uw.Selection(view="team", range="24h"), "2026-03-10T12:59Z", "Asia/Kathmandu"),
        (uw.Selection(view="user", range="custom", start="2026-03-10", end="2026-03-10"), NOW, "UTC"),
        (uw.Selection(view="team", range="7d", tags=("env:dev",)), "2026-03-10T11:20Z", "America/New_York"),
        (uw.Selection(view="user", range="24h", api_keys=("research-prod",)), "2026-03-10T12:59Z", "UTC"),
    ]
    for grown in (False, True):
        if grown:  # Live Mode: the latest day changes, and is grouped again
            store.append(log[log["timestamp"] >= pd.Timestamp("2026-03-10T13:00Z")])
        one_by_one = uw.RequestStore.from_log(log if grown else early)
        for selection, now, tz in cases:
            with monkeypatch.context() as m:
                m.setattr(store_module, "LATEST_GROUPED_ROWS", 0)  # not grouped: read one by one
                want = _report_parts(uw.report(one_by_one, selection, now=now, tz=tz))
            assert one_by_one.latest_groups() is None
            for _ in range(2):  # made, then kept
                got = _report_parts(uw.report(store, selection, now=now, tz=tz))
                assert got[0]["requests"] > 0
                for mine, theirs in zip(got, want, strict=True):
                    if isinstance(mine, dict):
                        assert mine == pytest.approx(theirs)
                    else:
                        pd.testing.assert_frame_equal(mine, theirs, check_exact=False, rtol=1e-12)
        latest = store.latest_groups()
        assert latest is not None
        day = (log if grown else early)["timestamp"] >= pd.Timestamp("2026-03-10", tz="UTC")
        assert int(latest.groups.sums[:, kernel.G_REQUESTS].sum()) == int(day.sum())


def test_a_latest_day_grown_by_appends_is_merged_into_the_copy_as_a_fresh_copy_would_be() -> None:
    """Live Mode's ticks append to the latest day in time order, with a report after each: the
    new requests are merged into the latest day's sorted copy. Copy, groups and subgroups are
    those of a store that read the whole day at once, to the last bit; so are the reports. A
    late request (back in time order) and a new day make a fresh copy."""
    log = uw.load_log(uw.demo_log(8, users=30, days=3, now="2026-03-10T23:00Z"))
    today = log[log["timestamp"] >= pd.Timestamp("2026-03-10", tz="UTC")]
    ticks = np.array_split(np.arange(len(today)), 6)
    store = uw.RequestStore.from_log(log[log["timestamp"] < pd.Timestamp("2026-03-10", tz="UTC")])
    selection = uw.Selection(range="7d", tags=("env:dev",))
    for rows in ticks:
        store.append(today.iloc[rows], validated=True)
        grown = store.latest_groups()
        whole = uw.RequestStore.from_log(log[log["timestamp"] <= today["timestamp"].iloc[rows[-1]]])
        fresh = whole.latest_groups()
        assert grown.end == len(store) and set(grown.rows) == set(fresh.rows)
        for name in fresh.rows:
            np.testing.assert_array_equal(grown.rows[name], fresh.rows[name], err_msg=name)
        def tables(latest: store_module.LatestGroups) -> list[np.ndarray]:
            sub, order = latest.subgroups()
            groups = latest.groups
            return [groups.bounds, groups.sums, groups.cost, sub.bounds, sub.sums, sub.cost, order]

        for mine, theirs in zip(tables(grown), tables(fresh), strict=True):
            np.testing.assert_array_equal(mine, theirs)
        now = today["timestamp"].iloc[rows[-1]]
        got, want = uw.report(store, selection, now=now), uw.report(whole, selection, now=now)
        assert got.kpis == want.kpis
        pd.testing.assert_frame_equal(got.breakdown, want.breakdown)
    late = log.iloc[[0]].assign(request_id="late", timestamp=pd.Timestamp("2026-03-10T01:00Z"))
    store.append(late)
    assert store.latest_groups().rows["ts"].size == len(today) + 1
    assert (np.diff(store.latest_groups().rows["user"]) >= 0).all()
    store.append(late.assign(request_id="next day", timestamp=pd.Timestamp("2026-03-11T00:30Z")))
    assert store.latest_groups().rows["ts"].tolist() == [pd.Timestamp("2026-03-11T00:30Z").value]


def test_a_tick_that_renames_a_user_or_adds_a_team_reorders_the_table_by_name() -> None:
    """Names in label order are kept from one version of a store to the next while nobody is
    renamed; a live tick that renames a user, or brings a new team, puts them in their place."""
    log = uw.demo_log(11, users=12, teams=3, days=3, now=NOW)
    store = uw.RequestStore.from_log(log)
    by_name = uw.Selection(range="7d", sort="name", descending=False)
    first = uw.report(store, by_name, now=NOW).breakdown
    assert first["name"].str.casefold().is_monotonic_increasing
    last_user = first["user_id"].iloc[-1]
    one = log[log["user_id"] == last_user].tail(1).copy()
    one["request_id"] = "renamed"
    one["timestamp"] = pd.Timestamp(NOW) - pd.Timedelta(minutes=1)
    store.append(one.assign(user_name="aaron first"))  # still the same user
    renamed = uw.report(store, by_name, now=NOW).breakdown
    assert renamed["user_id"].iloc[0] == last_user and renamed["name"].iloc[0] == "aaron first"
    assert renamed["name"].str.casefold().is_monotonic_increasing
    one["request_id"] = "new-team"
    store.append(one.assign(team="AAA team"))
    teams = uw.report(store, by_name.replace(view="team"), now=NOW).breakdown
    assert teams["team"].iloc[0] == "AAA team"
    assert teams["team"].str.casefold().is_monotonic_increasing
