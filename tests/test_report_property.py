"""`report` agrees with the naive reference on random small logs, selections, clocks and zones."""

from __future__ import annotations

import datetime as dt
import math
import warnings
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

import usage_widgets as uw

from .naive import (
    day_start,
    hour_starts,
    local_of,
    naive_report,
    order_problems,
)

SEC = 10**9
HOUR = 3_600 * SEC
DAY = 24 * HOUR

ZONES = (
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "America/St_Johns",
    "America/Santiago",  # spring forward at midnight: the day starts at 01:00
    "Asia/Beirut",  # falls back at midnight: 23:00 happens twice
)
USERS = ("ada", "grace", "linus", "margaret", "edsger")
NAMES = (None, "Ada Lovelace", "ada", "Grace Hopper", "Émile Zola", "Straße Bauer", "  ")
EMAILS = (None, "ada@example.org", "GRACE@corp.example", "ml@x.org", "")
TEAMS = ("Search", "Platform", "ml-infra", None)  # None: "Unassigned"
KEYS = ("key-a", "key-b", "key-c")
MODELS = ("gpt-4o", "gpt-4o-mini", "claude-3-5-sonnet", "mystery-model")  # the last has no price
TAGS = ("env:prod", "env:dev", "proj:x", "proj:y", "tier:1")
SEARCHES = ("", "ada", "ADA", " x.org ", "search", "PLAT", "ml-", "ß", "SS", "é", "zzz", "@", "a")
LO_NOW = pd.Timestamp("2024-02-01", tz="UTC").value
HI_NOW = pd.Timestamp("2026-11-30", tz="UTC").value

# No shrinking: every example loads a log twice, so shrinking a failure would take minutes; the
# failing case is printed as generated (and replayed first from the example database next time).
PHASES = (Phase.explicit, Phase.reuse, Phase.generate)
EQUIVALENCE = settings(
    max_examples=120,
    deadline=None,
    phases=PHASES,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _offset(ns: int, tz: str) -> dt.timedelta:
    return local_of(ns, tz) - local_of(ns, "UTC")


@cache
def transitions(tz: str) -> tuple[int, ...]:
    """Instants (UTC ns) in 2024-2026 where the zone's offset changes (at most once a day)."""
    found = []
    t = LO_NOW
    while t < HI_NOW:
        if _offset(t, tz) != _offset(t + DAY, tz):
            lo, hi = t // SEC, (t + DAY) // SEC
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if _offset(mid * SEC, tz) == _offset(t, tz):
                    lo = mid
                else:
                    hi = mid
            found.append(hi * SEC)
        t += DAY
    return tuple(found)


@dataclass
class Case:
    """One random question: a zone, a clock, raw log rows and a selection."""

    tz: str
    now: int  # UTC ns
    rows: list[dict[str, Any]]
    selection: dict[str, Any] = field(default_factory=dict)
    use_store: bool = True
    now_form: str = "utc"  # how `now` is handed over: utc, local, naive

    def frame(self) -> pd.DataFrame:
        return raw_frame(self.rows)

    def now_arg(self) -> Any:
        ts = pd.Timestamp(self.now, tz="UTC")
        if self.now_form == "local":
            return ts.tz_convert(self.tz)
        if self.now_form == "naive":
            return ts.tz_localize(None)
        return ts


def raw_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    columns = list(uw.CANONICAL)
    frame = pd.DataFrame(rows, columns=columns)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"].astype("int64"), unit="ns", utc=True)
    frame["cost"] = frame["cost"].astype("float64")
    frame["input_tokens"] = frame["input_tokens"].astype("int64")
    frame["output_tokens"] = frame["output_tokens"].astype("int64")
    return frame


def canonical(frame: pd.DataFrame) -> pd.DataFrame:
    """`load_log` of a raw frame, quietly: repeated ids and unknown prices are expected here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", uw.LogWarning)
        return uw.load_log(frame)


# -- strategies ------------------------------------------------------------------------------
@st.composite
def nows(draw: st.DrawFn, tz: str) -> int:
    how = draw(st.sampled_from(["uniform", "transition", "transition", "edge"]))
    if how == "uniform" or (how == "transition" and not transitions(tz)):
        now = draw(st.integers(LO_NOW, HI_NOW))
    elif how == "transition":
        t = draw(st.sampled_from(transitions(tz)))
        now = t + draw(st.integers(-3 * DAY, 3 * DAY))
    else:
        base = draw(st.integers(LO_NOW, HI_NOW))
        near = hour_starts(base - 2 * HOUR, base, tz)
        now = near[-1] + draw(st.sampled_from([0, 0, -1, 1, SEC]))
    return now


@lru_cache(maxsize=256)
def edges_near(tz: str, now: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Local midnights from 38 days before ``now`` to tomorrow, and the hour starts of the last
    30 hours: the instants where a request most easily lands in the wrong bucket."""
    today = local_of(now, tz).date()
    days = tuple(day_start(today - dt.timedelta(days=k), tz) for k in range(-1, 39))
    return days, tuple(hour_starts(now - 30 * HOUR, now + 2 * HOUR, tz))


JITTER = st.sampled_from([0, 0, 0, -1, 1, -SEC, SEC])
HOW = st.sampled_from(["uniform", "uniform", "day_edge", "hour_edge", "now", "after"])


@st.composite
def timestamps(draw: st.DrawFn, tz: str, now: int) -> int:
    how = draw(HOW)
    if how == "uniform":
        return now + draw(st.integers(-38 * DAY, 2 * DAY))
    days, hours = edges_near(tz, now)
    if how == "day_edge":
        return draw(st.sampled_from(days)) + draw(JITTER)
    if how == "hour_edge":
        return draw(st.sampled_from(hours)) + draw(JITTER)
    if how == "now":
        return now + draw(st.sampled_from([0, 0, 1, -1]))
    return now + draw(st.integers(1, 3 * DAY))


S_USER = st.sampled_from(USERS)
S_NAME = st.sampled_from(NAMES)
S_EMAIL = st.sampled_from(EMAILS)
S_TEAM = st.sampled_from(TEAMS)
S_KEY = st.sampled_from(KEYS)
S_MODEL = st.sampled_from(MODELS)
S_TAGS = st.lists(st.sampled_from(TAGS), max_size=3)
S_INPUT = st.integers(0, 5_000) | st.sampled_from([0, 10**9])
S_OUTPUT = st.integers(0, 2_000)
S_COST = st.none() | st.floats(0, 5, allow_nan=False) | st.just(0.0)


@st.composite
def log_rows(draw: st.DrawFn, tz: str, now: int) -> list[dict[str, Any]]:
    n = draw(st.integers(0, 22))
    rows = []
    for i in range(n):
        user = draw(S_USER)
        rows.append(
            {
                # an occasional repeated id (the first one in the input counts)
                "request_id": f"dup{draw(st.integers(0, 2))}"
                if draw(st.integers(0, 9)) == 0
                else f"r{i}",
                "timestamp": draw(timestamps(tz, now)),
                "user_id": user,
                "user_name": draw(S_NAME),
                "user_email": draw(S_EMAIL),
                "team": draw(S_TEAM),
                "api_key": draw(S_KEY),
                "model": draw(S_MODEL),
                "tags": draw(S_TAGS),
                "input_tokens": draw(S_INPUT),
                "output_tokens": draw(S_OUTPUT),
                "cost": draw(S_COST),
            }
        )
    return rows


@st.composite
def selections(draw: st.DrawFn, tz: str, now: int) -> dict[str, Any]:
    sel: dict[str, Any] = {
        "view": draw(st.sampled_from(["user", "team"])),
        "range": draw(st.sampled_from(["24h", "7d", "14d", "30d", "custom"])),
    }
    if sel["range"] == "custom":
        today = local_of(now, tz).date()
        start = today - dt.timedelta(days=draw(st.integers(-3, 40)))
        span = draw(st.sampled_from([0, 1, 2, 3]) | st.integers(-2, 40))
        sel["start"], sel["end"] = start, start + dt.timedelta(days=span)
    sel["api_keys"] = tuple(
        draw(st.lists(st.sampled_from((*KEYS, "key-zzz")), max_size=2, unique=True))
    )
    sel["teams"] = tuple(
        draw(
            st.lists(
                st.sampled_from(("Search", "Platform", "ml-infra", "Unassigned", "Nope")),
                max_size=2,
                unique=True,
            )
        )
    )
    sel["tags"] = tuple(
        draw(st.lists(st.sampled_from((*TAGS, "env:none")), max_size=3, unique=True))
    )
    sel["search"] = draw(st.sampled_from(SEARCHES))
    sel["sort"] = draw(
        st.sampled_from(
            ["name", "team", "users", "requests", "input_tokens", "output_tokens", "cost"]
        )
    )
    sel["descending"] = draw(st.booleans())
    return sel


@st.composite
def cases(draw: st.DrawFn) -> Case:
    tz = draw(st.sampled_from(ZONES))
    now = draw(nows(tz))
    return Case(
        tz=tz,
        now=now,
        rows=draw(log_rows(tz, now)),
        selection=draw(selections(tz, now)),
        use_store=draw(st.booleans()),
        now_form=draw(st.sampled_from(["utc", "utc", "local", "naive"])),
    )


# -- comparison ------------------------------------------------------------------------------
def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def assert_same(rep: uw.Report, log: pd.DataFrame, case: Case, sel: uw.Selection) -> None:
    s = case.selection
    ref = naive_report(
        log,
        view=s["view"],
        range_=s["range"],
        start=s.get("start"),
        end=s.get("end"),
        api_keys=s.get("api_keys", ()),
        tags=s.get("tags", ()),
        teams=s.get("teams", ()),
        search=s.get("search", ""),
        now=pd.Timestamp(case.now, tz="UTC"),
        tz=case.tz,
    )

    # KPI cards
    for name in ("active_users", "requests", "total_tokens", "unpriced_requests"):
        assert rep.kpis[name] == ref.kpis[name], (name, rep.kpis, ref.kpis)
        assert isinstance(rep.kpis[name], int), (name, type(rep.kpis[name]))
    assert close(rep.kpis["cost"], ref.kpis["cost"]), (rep.kpis, ref.kpis)
    if ref.kpis["avg_requests_per_user"] is None:
        assert rep.kpis["avg_requests_per_user"] is None, rep.kpis
    else:
        assert close(rep.kpis["avg_requests_per_user"], ref.kpis["avg_requests_per_user"])
    assert rep.granularity == ref.granularity

    # Activity chart: bucket starts (as instants and in the zone), columns, values
    got, want = rep.activity, ref.activity
    assert str(got.index.tz) == case.tz, got.index.tz
    assert list(got.index.asi8) == list(want.index.asi8), (
        [str(t) for t in got.index],
        [str(t) for t in want.index],
    )
    assert list(got.columns) == list(want.columns), (list(got.columns), list(want.columns))
    for column in want.columns:
        assert got[column].tolist() == want[column].tolist(), column
        assert got[column].dtype.kind == "i", got[column].dtype

    # Breakdown table: same rows (by user or team), same values, sorted by the rule
    table = rep.breakdown
    assert list(table.columns) == list(want_columns := ref.breakdown.columns), (
        list(table.columns),
        list(want_columns),
    )
    key = "user_id" if s["view"] == "user" else "team"
    assert sorted(table[key]) == sorted(ref.breakdown[key]), (
        list(table[key]),
        list(ref.breakdown[key]),
    )
    mine = {r[key]: r for r in table.to_dict("records")}
    for r in ref.breakdown.to_dict("records"):
        g = mine[r[key]]
        for column, value in r.items():
            if column == "cost":
                assert close(g[column], value), (r[key], column, g[column], value)
            elif column == "trend":
                assert [int(v) for v in g[column]] == value, (r[key], g[column], value)
            elif column == "models":
                assert list(g[column]) == value, (r[key], g[column], value)
            else:
                assert g[column] == value, (r[key], column, g[column], value)
    assert not order_problems(table, s["view"], sel.sort, sel.descending), order_problems(
        table, s["view"], sel.sort, sel.descending
    )


def run_case(case: Case) -> None:
    frame = case.frame()
    log = canonical(frame)
    s = case.selection
    sel = uw.Selection(**s)
    source: Any = uw.RequestStore.from_log(log) if case.use_store else log
    if s["range"] == "custom" and s["start"] > s["end"]:
        with pytest.raises(uw.SelectionError):
            uw.report(source, sel, now=case.now_arg(), tz=case.tz)
        return
    rep = uw.report(source, sel, now=case.now_arg(), tz=case.tz)
    assert_same(rep, log, case, sel)
    if case.use_store:  # read again: from the latest day's groups kept by the store (`latest_groups`)
        assert_same(uw.report(source, sel, now=case.now_arg(), tz=case.tz), log, case, sel)


# -- explicit DST examples -------------------------------------------------------------------
def _hourly_rows(tz: str, first: dt.date, last: dt.date) -> list[dict[str, Any]]:
    """A request at every local hour start from ``first`` to ``last`` (and one 1 ns before each),
    users and teams rotating, so every bucket's count is known."""
    hours = hour_starts(day_start(first, tz), day_start(last + dt.timedelta(days=1), tz), tz)
    rows = []
    for i, h in enumerate(hours):
        for j, ts in enumerate((h, h - 1)):
            rows.append(
                {
                    "request_id": f"h{i}-{j}",
                    "timestamp": ts,
                    "user_id": USERS[i % 3],
                    "user_name": NAMES[1 + i % 4],
                    "user_email": EMAILS[1 + i % 3],
                    "team": TEAMS[i % 4],
                    "api_key": KEYS[i % 2],
                    "model": MODELS[i % 4],
                    "tags": [TAGS[i % 5]],
                    "input_tokens": 100 + i,
                    "output_tokens": j,
                    "cost": None,
                }
            )
    return rows


def _dst_case(tz: str, now_local: str, range_: str, view: str, first: str, last: str) -> Case:
    now = pd.Timestamp(now_local).tz_localize(tz).tz_convert("UTC").value
    rows = _hourly_rows(tz, dt.date.fromisoformat(first), dt.date.fromisoformat(last))
    return Case(tz=tz, now=now, rows=rows, selection={"view": view, "range": range_})


# Berlin: 2025-03-30 has 23 hours, 2025-10-26 has 25. New York: 2025-03-09 and 2025-11-02.
DST_EXAMPLES = [
    _dst_case("Europe/Berlin", "2025-04-01 12:30", "7d", "user", "2025-03-24", "2025-04-01"),
    _dst_case("Europe/Berlin", "2025-10-28 12:30", "7d", "team", "2025-10-20", "2025-10-28"),
    _dst_case("America/New_York", "2025-03-11 09:15", "7d", "team", "2025-03-03", "2025-03-11"),
    _dst_case("America/New_York", "2025-11-04 09:15", "7d", "user", "2025-10-27", "2025-11-04"),
    _dst_case("Europe/Berlin", "2025-03-30 12:30", "24h", "team", "2025-03-28", "2025-03-31"),
    _dst_case("Europe/Berlin", "2025-10-26 12:30", "24h", "user", "2025-10-24", "2025-10-27"),
    _dst_case("America/New_York", "2025-03-09 15:00", "24h", "user", "2025-03-07", "2025-03-10"),
    _dst_case("America/New_York", "2025-11-02 15:00", "24h", "team", "2025-10-31", "2025-11-03"),
]


def test_dst_examples_have_23_and_25_hour_days() -> None:
    """The explicit examples really hold the short and long days they claim to."""
    lengths = {
        (tz, d): (
            day_start(dt.date.fromisoformat(d) + dt.timedelta(days=1), tz)
            - day_start(dt.date.fromisoformat(d), tz)
        )
        // HOUR
        for tz, d in [
            ("Europe/Berlin", "2025-03-30"),
            ("Europe/Berlin", "2025-10-26"),
            ("America/New_York", "2025-03-09"),
            ("America/New_York", "2025-11-02"),
        ]
    }
    assert list(lengths.values()) == [23, 25, 23, 25]


def _with_examples(test):
    for case in DST_EXAMPLES:
        test = example(case=case)(test)
    return test


@EQUIVALENCE
@given(case=cases())
@_with_examples
def test_report_matches_naive(case: Case) -> None:
    run_case(case)


@settings(
    max_examples=30, deadline=None, phases=PHASES, suppress_health_check=[HealthCheck.too_slow]
)
@given(case=cases(), data=st.data())
def test_store_built_by_appends_matches_naive(case: Case, data: st.DataObject) -> None:
    """A store fed in two chunks (any order, re-sent rows included) answers like the whole log."""
    # Unique ids here: re-sending an id with another timestamp is a separate rule test.
    rows = [{**row, "request_id": f"r{i}"} for i, row in enumerate(case.rows)]
    cut = data.draw(st.integers(0, len(rows)))
    first, second = rows[:cut], rows[cut:]
    resent = data.draw(st.lists(st.sampled_from(first), max_size=3)) if first else []
    chunks = [first, second + resent]
    if data.draw(st.booleans()):
        chunks.reverse()
    store = uw.RequestStore()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", uw.LogWarning)
        for chunk in chunks:
            if chunk:
                store.append(raw_frame(chunk))
    log = canonical(raw_frame([r for chunk in chunks for r in chunk]))
    s = case.selection
    if s["range"] == "custom" and s["start"] > s["end"]:
        return
    sel = uw.Selection(**s)
    for _ in range(2):  # the second from the latest day's groups the store kept
        assert_same(uw.report(store, sel, now=case.now_arg(), tz=case.tz), log, case, sel)
