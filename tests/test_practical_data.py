"""The data behind the practical uses: previous-period KPIs, the anomaly rule, cost by model and
the Models filter, the link query and the CSV export."""

from __future__ import annotations

import datetime as dt
import io
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import usage_widgets as uw
from usage_widgets import anomaly
from usage_widgets.errors import SelectionError
from usage_widgets.export import breakdown_csv, csv_name
from usage_widgets.share import decode, encode
from usage_widgets.state import DashboardState

from .naive import day_start, hour_starts, local_of
from .test_report_property import ZONES, canonical, log_rows, nows, raw_frame

HOUR = 3_600 * 10**9
DAY_D = dt.timedelta(days=1)


# -- previous period -------------------------------------------------------------------------
def naive_previous(range_: str, start: dt.date | None, end: dt.date | None, now: int, tz: str):
    """[lo, hi) of the period before, by the words: the 24 clock hours before the first hour;
    the N local days before the first day; as many days before a custom start as it holds."""
    today = local_of(now, tz).date()
    if range_ == "24h":
        hours = hour_starts(now - 30 * HOUR, now + 2 * HOUR, tz)
        current = max(i for i, h in enumerate(hours) if h <= now)
        first = hours[current - 23]
        before = [h for h in hour_starts(first - 30 * HOUR, first, tz) if h < first]
        return before[-24], first
    if range_ == "custom":
        assert start is not None and end is not None
        first, days = start, (end - start).days + 1
    else:
        days = int(range_.removesuffix("d"))
        first = today - (days - 1) * DAY_D
    return day_start(first - days * DAY_D, tz), day_start(first, tz)


@st.composite
def previous_cases(draw):
    tz = draw(st.sampled_from(ZONES))
    now = draw(nows(tz))
    rows = draw(log_rows(tz, now))
    range_ = draw(st.sampled_from(["24h", "7d", "14d", "30d", "custom"]))
    start = end = None
    if range_ == "custom":
        start = local_of(now, tz).date() - dt.timedelta(days=draw(st.integers(0, 12)))
        end = start + dt.timedelta(days=draw(st.integers(0, 5)))
    return tz, now, rows, range_, start, end


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(previous_cases())
def test_previous_kpis_count_the_period_of_the_same_length_right_before(case) -> None:
    tz, now, rows, range_, start, end = case
    log = canonical(raw_frame(rows))
    rep = uw.report(log, uw.Selection(range=range_, start=start, end=end),
                    now=pd.Timestamp(now, tz="UTC"), tz=tz)  # fmt: skip
    lo, hi = naive_previous(range_, start, end, now, tz)
    ts = log["timestamp"].array.asi8 if len(log) else np.zeros(0, dtype=np.int64)
    inside = log[(ts >= lo) & (ts < hi)]
    prev = rep.previous_kpis
    assert prev["requests"] == len(inside)
    assert prev["active_users"] == inside["user_id"].nunique()
    assert prev["total_tokens"] == int(inside["input_tokens"].sum() + inside["output_tokens"].sum())
    assert prev["cost"] == pytest.approx(float(inside["cost"].sum(skipna=True)), rel=1e-12, abs=1e-12)
    assert rep.previous_start.value == lo and rep.previous_end.value == hi - 1


def test_previous_30_days_in_local_time_across_a_clock_change() -> None:
    # New York's clocks go back on 2025-11-02: the 30 days before Nov 5 start at local midnight.
    log = uw.demo_log(users=20, days=80, now="2025-12-04 15:00Z")
    rep = uw.report(log, uw.Selection(range="30d"), now="2025-12-04 15:00Z", tz="America/New_York")
    assert str(rep.previous_start) == "2025-10-06 00:00:00-04:00"
    assert rep.previous_end.tz_convert("America/New_York").strftime("%F %T") == "2025-11-04 23:59:59"


# -- anomaly rule on constructed series ------------------------------------------------------
WEEK = [60, 64, 58, 70, 66, 9, 7]  # a power user's working week, quiet weekends


@st.composite
def usage_histories(draw) -> list[int]:
    """A row's 28 days and its latest: quiet or busy, steady or bursty, joined lately or not,
    the latest day anywhere from calm to a far jump."""
    usual = draw(st.floats(0.5, 3000))
    spread = draw(st.sampled_from([0.05, 0.3, 1.0, 3.0]))
    first = draw(st.integers(0, 27))
    active = [draw(st.sampled_from([1, 1, 1, 0])) for _ in range(28 - first)]  # some days off
    days = [0] * first + [round(usual * draw(st.floats(1 / (1 + spread), 1 + spread))) * on for on in active]
    return [*days, round(usual * draw(st.floats(0.5, 60)))]


@settings(max_examples=400, deadline=None)
@given(st.lists(usage_histories(), min_size=1, max_size=30))
def test_the_quick_preselection_never_leaves_out_a_row_the_rule_flags(rows: list[list[int]]) -> None:
    history = np.array(rows)
    flagged = anomaly.flag_rows(history).flagged
    assert not (flagged & ~anomaly.could_flag(history)).any()


def test_the_quick_preselection_leaves_out_steady_and_new_users_and_keeps_a_bare_jump() -> None:
    steady, spike, new = [*WEEK * 4, 70], [*WEEK * 4, 3000], [0] * 25 + [60, 70, 65, 80]
    # 100 a day, every day: flagged above exp(log(101) + 5 * 0.25) - 1 = 351.6 requests
    just_over, just_under = [100] * 28 + [352], [100] * 28 + [351]
    rows = np.array([steady, spike, new, just_over, just_under])
    assert anomaly.flag_rows(rows).flagged.tolist() == [False, True, False, True, False]
    assert anomaly.could_flag(rows).tolist() == [False, True, False, True, False]


def flags(*rows: list[int]) -> list[bool]:
    return anomaly.flag_rows(np.array(rows)).flagged.tolist()


def test_a_jump_far_above_the_rows_own_days_is_flagged() -> None:
    baseline = WEEK * 4
    assert flags([*baseline, 3000]) == [True]
    assert flags([*baseline, 66]) == [False]  # an ordinary weekday
    assert flags([*baseline, 150]) == [False]  # a busy day, not a runaway


def test_steady_heavy_users_are_not_flagged_on_their_busiest_days() -> None:
    rng = np.random.default_rng(1)
    heavy = [rng.poisson(np.tile([900, 950, 1000, 980, 940, 200, 150], 5)).tolist() for _ in range(50)]
    assert not any(flags(*heavy))


def test_tiny_users_new_users_and_short_histories_do_not_flag() -> None:
    assert flags([0, 1, 0, 0, 2, 1, 0, 1, 0, 0, 1, 0, 0, 1, 40]) == [False]  # under the floor
    assert flags([0] * 20 + [500]) == [False]  # no history at all
    assert flags([0] * 20 + [5, 8, 3, 500]) == [False]  # three days of history
    # A newcomer is compared with the days since they came, not the weeks before.
    assert flags([0] * 14 + [30, 25, 40, 35, 28, 31, 33, 45, 60]) == [False]
    assert flags([0] * 14 + [30, 25, 40, 35, 28, 31, 33, 45, 5000]) == [True]


def test_a_spike_already_running_for_a_day_or_two_is_still_flagged() -> None:
    assert flags(WEEK * 4 + [9000, 21000, 21000]) == [True]


def test_the_threshold_and_reason_say_what_was_compared() -> None:
    result = anomaly.flag_rows(np.array([[40] * 28 + [4000]]))
    assert result.median[0] == pytest.approx(40)
    assert 40 < result.threshold[0] < 4000
    text = anomaly.reason(result.latest[0], result.median[0], result.threshold[0])
    assert text.startswith("4,000 requests in the latest 24 hours, against a usual 40 a day")


def test_the_rule_refuses_a_history_that_is_not_a_table() -> None:
    with pytest.raises(ValueError, match="2-d"):
        anomaly.flag_rows(np.array([1, 2, 3]))
    assert anomaly.flag_rows(np.zeros((0, 29))).flagged.tolist() == []


@pytest.fixture(scope="module")
def demo():
    now = "2026-03-04 16:00Z"
    log = uw.demo_log(seed=1, users=80, days=45, now=now)
    return uw.RequestStore.from_log(log), log.attrs["anomaly_user_id"], now


@pytest.mark.parametrize("range_", ["30d", "7d", "24h"])
def test_the_demos_runaway_script_is_flagged_and_no_one_else(demo, range_) -> None:
    store, runaway, now = demo
    rep = uw.report(store, uw.Selection(range=range_), now=now)
    assert rep.anomalies.index.tolist() == [runaway]
    heavy = rep.breakdown.sort_values("requests").user_id.tolist()[-10:]
    assert set(heavy) - {runaway} and not (set(heavy) - {runaway}) & set(rep.anomalies.index)
    team = rep.breakdown.set_index("user_id").loc[runaway, "team"]
    teams = uw.report(store, uw.Selection(range=range_, view="team"), now=now).anomalies
    assert teams.index.tolist() == [team]


def test_anomalies_only_keeps_the_flagged_rows_of_the_table_not_the_cards(demo) -> None:
    store, runaway, now = demo
    rep = uw.report(store, uw.Selection(range="7d", anomalies_only=True), now=now)
    assert rep.breakdown["user_id"].tolist() == [runaway]
    assert rep.kpis == uw.report(store, uw.Selection(range="7d"), now=now).kpis


# -- cost by model and the Models filter ------------------------------------------------------
def test_cost_by_model_sums_the_selection_largest_first(demo) -> None:
    store, _, now = demo
    sel = uw.Selection(range="14d", teams=("Search", "Platform"))
    rep = uw.report(store, sel, now=now)
    log = uw.demo_log(seed=1, users=80, days=45, now=now)
    lo = rep.start
    part = log[(log["timestamp"] >= lo) & log["team"].isin(sel.teams)]
    want = part.groupby("model", observed=True).agg(requests=("cost", "size"), cost=("cost", "sum"))
    got = rep.cost_by_model.set_index("model")
    assert got["requests"].to_dict() == want["requests"].to_dict()
    assert got["cost"].to_numpy() == pytest.approx(want.loc[got.index, "cost"].to_numpy(), rel=1e-12)
    assert list(rep.cost_by_model["cost"]) == sorted(rep.cost_by_model["cost"], reverse=True)


def test_the_models_filter_narrows_everything_but_the_model_bars(demo) -> None:
    store, _, now = demo
    everything = uw.report(store, uw.Selection(range="30d"), now=now)
    model = everything.cost_by_model["model"].iloc[1]
    rep = uw.report(store, uw.Selection(range="30d", models=(model,)), now=now)
    by_model = everything.cost_by_model.set_index("model")
    assert rep.kpis["requests"] == by_model.loc[model, "requests"]
    assert rep.kpis["cost"] == pytest.approx(by_model.loc[model, "cost"], rel=1e-12)
    assert all(models == [model] for models in rep.breakdown["models"])
    assert rep.cost_by_model.equals(everything.cost_by_model)  # the other bars stay pickable
    nothing = uw.report(store, uw.Selection(range="30d", models=("no-such-model",)), now=now)
    assert nothing.kpis["requests"] == 0 and nothing.breakdown.empty


def test_selection_and_state_take_models() -> None:
    sel = uw.Selection(models=["gpt-4o", "gpt-4o"], anomalies_only=1)
    assert sel.models == ("gpt-4o",) and sel.anomalies_only is True
    assert eval(repr(sel), {"Selection": uw.Selection}) == sel
    with pytest.raises(SelectionError, match="models"):
        uw.Selection(models=[3])
    state = DashboardState({"models": ["gpt-4o", "o4-mini"]})
    state.models = ("o4-mini", "made-up", "gpt-4o")
    assert state.models == ("o4-mini", "gpt-4o")


# -- link query ----------------------------------------------------------------------------
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
DATES = st.none() | st.dates(dt.date(1990, 1, 1), dt.date(2100, 12, 31))


@st.composite
def any_selection(draw) -> uw.Selection:
    return uw.Selection(
        view=draw(st.sampled_from(uw.selection.VIEWS)),
        range=draw(st.sampled_from(uw.selection.RANGES)),
        start=draw(DATES),
        end=draw(DATES),
        api_keys=tuple(draw(st.lists(TEXT, max_size=3))),
        tags=tuple(draw(st.lists(TEXT, max_size=3))),
        teams=tuple(draw(st.lists(TEXT, max_size=3))),
        models=tuple(draw(st.lists(TEXT, max_size=3))),
        search=draw(TEXT),
        sort=draw(st.sampled_from(uw.selection.SORT_COLUMNS)),
        descending=draw(st.booleans()),
        anomalies_only=draw(st.booleans()),
    )


@settings(max_examples=300, deadline=None)
@given(any_selection(), st.none() | st.sampled_from(["UTC", "Europe/Paris", "America/St_Johns"]))
def test_a_selection_survives_the_link_query(sel, tz) -> None:
    query = encode(sel, tz)
    assert re.fullmatch(r"[A-Za-z0-9%=&._~-]*", query)  # nothing to escape in an href
    assert decode(query) == (sel, tz)
    assert decode("?" + query + "&token=secret&utm_source=x") == (sel, tz)


def test_the_default_selection_has_an_empty_query_and_a_readable_one_otherwise() -> None:
    assert encode(uw.Selection()) == ""
    assert decode("") == (uw.Selection(), None)
    query = encode(uw.Selection(view="team", range="custom", start="2026-01-02", end="2026-01-09",
                                teams=("R&D",), sort="requests", descending=False))  # fmt: skip
    assert query == (
        "view=team&range=custom&start=2026-01-02&end=2026-01-09&team=R%26D&sort=requests&order=asc"
    )


@pytest.mark.parametrize(
    ("query", "words"),
    [("view=admin", "view must be one of"), ("start=yesterday", "not a date"),
     ("sort=password", "sort must be one of"), ("range=99d", "range must be one of")],
)  # fmt: skip
def test_a_bad_link_is_refused_with_a_sentence(query, words) -> None:
    with pytest.raises(SelectionError, match=words) as info:
        decode(query)
    assert str(info.value).startswith("This link's selection cannot be shown")


def test_an_absurdly_long_link_is_refused_unparsed() -> None:
    with pytest.raises(SelectionError, match="too long"):
        decode("team=x&" * 5000)


# -- CSV -----------------------------------------------------------------------------------
HOSTILE = '=HYPERLINK("x"),<b>"R&D"</b>'


def test_the_csv_holds_the_breakdown_exactly(demo) -> None:
    store, _, now = demo
    for view in ("user", "team"):
        rep = uw.report(store, uw.Selection(view=view, range="30d", sort="requests"), now=now)
        got = pd.read_csv(io.StringIO(breakdown_csv(rep)), keep_default_na=False,
                          float_precision="round_trip")  # fmt: skip
        want = rep.breakdown.drop(columns=["trend"])
        assert list(got.columns) == list(want.columns)
        for column in ("requests", "input_tokens", "output_tokens", "cost", "unpriced"):
            assert got[column].tolist() == want[column].tolist()
        assert got["models"].tolist() == ["|".join(m) for m in want["models"]]


def test_the_file_name_names_the_selection_and_zone_in_safe_characters() -> None:
    log = uw.load_log(pd.DataFrame({
        "request_id": ["a"], "timestamp": [pd.Timestamp("2026-01-05 10:00Z")], "user_id": ["u"],
        "team": [HOSTILE], "api_key": ["k/../../etc"], "model": ["m"], "input_tokens": [1],
        "output_tokens": [1], "cost": [0.5],
    }))  # fmt: skip
    sel = uw.Selection(view="team", range="7d", teams=(HOSTILE,), api_keys=("k/../../etc",),
                       search="a b", anomalies_only=True)  # fmt: skip
    rep = uw.report(log, sel, now="2026-01-06", tz="Asia/Kolkata")
    name = csv_name(rep)
    assert re.fullmatch(r"usage_[A-Za-z0-9._+-]+\.csv", name)
    assert ".." not in name
    assert name.startswith("usage_by-team_7d_2025-12-31_to_2026-01-06_keys-k-")
    assert name.endswith("_anomalies_Asia-Kolkata.csv")
    whole = uw.report(log, sel.replace(search="", anomalies_only=False), now="2026-01-06", tz="Asia/Kolkata")
    rows = pd.read_csv(io.StringIO(breakdown_csv(whole)), keep_default_na=False)
    assert rows["team"].tolist() == ["'" + HOSTILE]  # a spreadsheet shows it, does not run it
