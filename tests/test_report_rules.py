"""The rules of the Usage page's numbers (spec sections 1, 3, 5-7), one small log each."""

from __future__ import annotations

import datetime as dt
import math
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field

import pandas as pd
import pytest

import usage_widgets as uw

from .naive import TEAM_COLUMNS, USER_COLUMNS

NOW = pd.Timestamp("2026-03-10 15:20", tz="UTC")  # a Tuesday; Berlin is at +01:00 until Mar 29
BERLIN = "Europe/Berlin"


# -- typed builders --------------------------------------------------------------------------
@dataclass(frozen=True)
class Req:
    """One request of a test log; dull defaults, so a test names only what matters."""

    at: str  # ISO 8601 instant, e.g. "2026-03-10T12:00:00Z"
    user: str = "ada"
    team: str | None = "Search"
    key: str = "key-a"
    model: str = "gpt-4o"
    tags: tuple[str, ...] = ()
    input_tokens: int = 100
    output_tokens: int = 10
    cost: float | None = 1.0
    name: str | None = None
    email: str | None = None
    id: str | None = None


@dataclass
class LogBuilder:
    """Requests in, a raw request-log DataFrame out (ids r0, r1, ... unless given)."""

    requests: list[Req] = field(default_factory=list)

    def add(self, *requests: Req) -> LogBuilder:
        self.requests.extend(requests)
        return self

    def frame(self, first_id: int = 0) -> pd.DataFrame:
        rows = []
        for i, r in enumerate(self.requests, start=first_id):
            rows.append(
                {
                    "request_id": r.id or f"r{i}",
                    "timestamp": pd.Timestamp(r.at),
                    "user_id": r.user,
                    "user_name": r.name if r.name is not None else r.user.title(),
                    "user_email": r.email if r.email is not None else f"{r.user}@example.org",
                    "team": r.team,
                    "api_key": r.key,
                    "model": r.model,
                    "tags": list(r.tags),
                    "input_tokens": r.input_tokens,
                    "output_tokens": r.output_tokens,
                    "cost": r.cost,
                }
            )
        columns = list(uw.CANONICAL)
        frame = pd.DataFrame(rows, columns=columns)
        frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
        frame["cost"] = frame["cost"].astype("float64")
        return frame


def log_of(*requests: Req) -> pd.DataFrame:
    return LogBuilder(list(requests)).frame()


def run(
    requests: Iterable[Req] | pd.DataFrame | uw.RequestStore,
    now: pd.Timestamp | str = NOW,
    tz: str = "UTC",
    **selection: object,
) -> uw.Report:
    source = requests if isinstance(requests, pd.DataFrame | uw.RequestStore) else log_of(*requests)
    return uw.report(source, uw.Selection(**selection), now=now, tz=tz)


def trend_of(rep: uw.Report, key: str) -> list[int]:
    label = "user_id" if "user_id" in rep.breakdown else "team"
    row = rep.breakdown.set_index(label).loc[key]
    return [int(v) for v in row["trend"]]


def bucket_counts(rep: uw.Report) -> dict[str, int]:
    """Non-zero requests per bucket start (local ISO text), summed over the breakdown's trends."""
    totals = [0] * len(rep.activity)
    for trend in rep.breakdown["trend"]:
        totals = [a + int(b) for a, b in zip(totals, trend, strict=True)]
    return {t.isoformat(): n for t, n in zip(rep.activity.index, totals, strict=True) if n}


def at(local: str, tz: str) -> str:
    """The UTC ISO instant of a local wall time (first occurrence when repeated)."""
    return pd.Timestamp(local).tz_localize(tz, ambiguous=True).tz_convert("UTC").isoformat()




# -- time windows ----------------------------------------------------------------------------
class TestLast24Hours:
    def test_24_hourly_buckets_ending_with_the_hour_of_now(self) -> None:
        rep = run([], range="24h")
        assert rep.granularity == "hour"
        assert len(rep.activity) == 24
        assert rep.activity.index[0] == pd.Timestamp("2026-03-09 16:00", tz="UTC")
        assert rep.activity.index[-1] == pd.Timestamp("2026-03-10 15:00", tz="UTC")
        assert str(rep.activity.index.tz) == "UTC"

    def test_edges_now_and_after_now(self) -> None:
        rep = run(
            [
                Req("2026-03-09T15:59:59.999999999Z", user="before"),  # before the first edge
                Req("2026-03-09T16:00:00Z", user="first"),  # exactly the first edge
                Req("2026-03-10T14:59:59.999999999Z", user="late"),  # last ns of bucket 22
                Req("2026-03-10T15:00:00Z", user="edge"),  # an edge: the later bucket
                Req("2026-03-10T15:20:00Z", user="now"),  # exactly now: included
                Req("2026-03-10T15:20:00.000000001Z", user="future"),  # after now: excluded
            ],
            range="24h",
        )
        assert rep.kpis["requests"] == 4
        assert set(rep.breakdown["user_id"]) == {"first", "late", "edge", "now"}
        assert trend_of(rep, "first") == [1] + [0] * 23
        assert trend_of(rep, "late") == [0] * 22 + [1, 0]
        assert trend_of(rep, "edge") == [0] * 23 + [1]
        assert trend_of(rep, "now") == [0] * 23 + [1]

    def test_now_exactly_on_an_hour_edge_opens_a_new_bucket(self) -> None:
        now = pd.Timestamp("2026-03-10 15:00", tz="UTC")
        rep = run(
            [Req("2026-03-10T15:00:00Z"), Req("2026-03-10T14:59:00Z", user="bo")],
            now=now,
            range="24h",
        )
        assert rep.activity.index[-1] == now
        assert rep.activity.index[0] == pd.Timestamp("2026-03-09 16:00", tz="UTC")
        assert trend_of(rep, "ada")[-1] == 1
        assert trend_of(rep, "bo")[-2:] == [1, 0]

    def test_half_hour_zone_buckets_start_at_local_full_hours(self) -> None:
        # Asia/Kolkata is UTC+05:30: local full hours fall at :30 UTC.
        rep = run(
            [Req("2026-03-10T14:29:59Z", user="a"), Req("2026-03-10T14:30:00Z", user="b")],
            tz="Asia/Kolkata",
            range="24h",
        )
        idx = rep.activity.index
        assert idx[-1] == pd.Timestamp("2026-03-10 20:00", tz="Asia/Kolkata")  # 14:30 UTC
        assert all(t.minute == 0 for t in idx)
        assert trend_of(rep, "a")[-2:] == [1, 0]
        assert trend_of(rep, "b")[-1] == 1

    def test_across_the_autumn_change_the_repeated_hour_is_two_buckets(self) -> None:
        # Berlin 2025-10-26: 02:00-03:00 happens twice (+02:00, then +01:00).
        now = pd.Timestamp("2025-10-26 12:30", tz=BERLIN)
        rep = run(
            [
                Req("2025-10-26T00:30:00Z", user="summer"),
                Req("2025-10-26T01:30:00Z", user="winter"),
            ],
            now=now,
            tz=BERLIN,
            range="24h",
        )
        labels = [t.isoformat() for t in rep.activity.index]
        assert len(labels) == 24
        assert "2025-10-26T02:00:00+02:00" in labels and "2025-10-26T02:00:00+01:00" in labels
        assert labels[0] == "2025-10-25T14:00:00+02:00"
        assert bucket_counts(rep) == {
            "2025-10-26T02:00:00+02:00": 1,
            "2025-10-26T02:00:00+01:00": 1,
        }

    def test_across_the_spring_change_the_missing_hour_has_no_bucket(self) -> None:
        now = pd.Timestamp("2026-03-29 12:30", tz=BERLIN)
        rep = run([], now=now, tz=BERLIN, range="24h")
        labels = [t.isoformat() for t in rep.activity.index]
        assert len(labels) == 24
        assert labels[0] == "2026-03-28T12:00:00+01:00"
        assert "2026-03-29T01:00:00+01:00" in labels and "2026-03-29T03:00:00+02:00" in labels
        assert not any(label.startswith("2026-03-29T02:") for label in labels)


class TestLastNDays:
    @pytest.mark.parametrize("days", [7, 14, 30])
    def test_n_daily_buckets_from_local_midnight_today_included(self, days: int) -> None:
        rep = run([], tz=BERLIN, range=f"{days}d")
        assert rep.granularity == "day"
        idx = rep.activity.index
        assert len(idx) == days
        assert idx[-1] == pd.Timestamp("2026-03-10", tz=BERLIN)
        assert idx[0] == pd.Timestamp("2026-03-10", tz=BERLIN) - pd.Timedelta(days=days - 1)
        assert all((t.hour, t.minute) == (0, 0) for t in idx)
        assert rep.activity["active_users"].tolist() == [0] * days

    def test_edges_are_local_midnights(self) -> None:
        # 7d at NOW in Berlin: 2026-03-04 00:00+01:00 (= 03-03 23:00 UTC) to now.
        rep = run(
            [
                Req("2026-03-03T22:59:59.999999999Z", user="before"),
                Req("2026-03-03T23:00:00Z", user="first"),  # local midnight: first bucket
                Req("2026-03-09T23:00:00Z", user="today"),  # local midnight of today
                Req("2026-03-09T22:59:59Z", user="yesterday"),
                Req("2026-03-10T15:20:00Z", user="now"),
                Req("2026-03-10T15:20:01Z", user="future"),
            ],
            tz=BERLIN,
            range="7d",
        )
        assert set(rep.breakdown["user_id"]) == {"first", "today", "yesterday", "now"}
        assert trend_of(rep, "first") == [1, 0, 0, 0, 0, 0, 0]
        assert trend_of(rep, "yesterday") == [0, 0, 0, 0, 0, 1, 0]
        assert trend_of(rep, "today") == [0, 0, 0, 0, 0, 0, 1]
        assert trend_of(rep, "now") == [0, 0, 0, 0, 0, 0, 1]

    def test_a_23_hour_and_a_25_hour_day(self) -> None:
        now = pd.Timestamp("2025-10-27 09:00", tz=BERLIN)  # 7d: Oct 21..27, Oct 26 has 25 hours
        rep = run(
            [
                Req(at("2025-10-26 00:00", BERLIN), user="a"),
                Req(at("2025-10-26 23:59", BERLIN), user="b"),
                Req(at("2025-10-27 00:00", BERLIN), user="c"),
            ],
            now=now,
            tz=BERLIN,
            range="7d",
        )
        idx = rep.activity.index
        assert (idx[-1] - idx[-2]) == pd.Timedelta(hours=25)
        assert trend_of(rep, "a")[-2:] == [1, 0] and trend_of(rep, "b")[-2:] == [1, 0]
        assert trend_of(rep, "c")[-1] == 1
        now = pd.Timestamp("2026-03-30 09:00", tz=BERLIN)  # Mar 29 has 23 hours
        idx = run([], now=now, tz=BERLIN, range="7d").activity.index
        assert (idx[-1] - idx[-2]) == pd.Timedelta(hours=23)


class TestCustomRange:
    def test_start_to_end_inclusive_daily(self) -> None:
        rep = run(
            [
                Req(at("2026-03-01 00:00", BERLIN), user="first"),
                Req(at("2026-02-28 23:59:59", BERLIN), user="before"),
                Req(at("2026-03-05 23:59:59", BERLIN), user="last"),
                Req(at("2026-03-06 00:00", BERLIN), user="after"),
            ],
            tz=BERLIN,
            range="custom",
            start=dt.date(2026, 3, 1),
            end=dt.date(2026, 3, 5),
        )
        assert rep.granularity == "day"
        assert len(rep.activity) == 5
        assert rep.activity.index[0] == pd.Timestamp("2026-03-01", tz=BERLIN)
        assert set(rep.breakdown["user_id"]) == {"first", "last"}
        assert trend_of(rep, "last") == [0, 0, 0, 0, 1]

    @pytest.mark.parametrize(("days", "buckets"), [(1, 24), (2, 48)])
    def test_two_days_or_less_are_hourly(self, days: int, buckets: int) -> None:
        start = dt.date(2026, 3, 2)
        rep = run(
            [Req(at("2026-03-02 05:00", BERLIN))],
            tz=BERLIN,
            range="custom",
            start=start,
            end=start + dt.timedelta(days=days - 1),
        )
        assert rep.granularity == "hour"
        assert len(rep.activity) == buckets
        assert trend_of(rep, "ada")[5] == 1

    def test_three_days_are_daily(self) -> None:
        rep = run([], range="custom", start="2026-03-02", end="2026-03-04")
        assert rep.granularity == "day"
        assert len(rep.activity) == 3

    def test_hourly_custom_day_with_a_dst_change_has_23_buckets(self) -> None:
        rep = run([], tz=BERLIN, range="custom", start="2026-03-29", end="2026-03-29")
        assert len(rep.activity) == 23

    def test_requests_after_now_are_excluded_even_inside_the_range(self) -> None:
        rep = run(
            [Req("2026-03-10T15:20:00Z", user="now"), Req("2026-03-10T18:00:00Z", user="later")],
            range="custom",
            start="2026-03-10",
            end="2026-03-12",
        )
        assert list(rep.breakdown["user_id"]) == ["now"]
        assert len(rep.activity) == 3  # the buckets still cover the whole range

    def test_366_days(self) -> None:
        rep = run(
            [
                Req("2025-03-11T00:00:00Z", user="first"),
                Req("2026-03-10T12:00:00Z", user="last"),
                Req("2025-03-10T23:59:59Z", user="before"),
            ],
            range="custom",
            start="2025-03-11",
            end="2026-03-11",
        )
        assert len(rep.activity) == 366
        assert rep.activity.index[0] == pd.Timestamp("2025-03-11", tz="UTC")
        assert rep.activity.index[-1] == pd.Timestamp("2026-03-11", tz="UTC")
        assert trend_of(rep, "first")[0] == 1
        assert trend_of(rep, "last")[-2] == 1
        assert rep.kpis["requests"] == 2

    def test_start_after_end_is_refused_with_a_readable_message(self) -> None:
        with pytest.raises(uw.SelectionError) as caught:
            run([Req("2026-03-05T12:00:00Z")], range="custom", start="2026-03-05", end="2026-03-01")
        message = str(caught.value)
        assert "start" in message and "end" in message
        assert "2026" in message and "Mar 05" in message and "Mar 01" in message

    @pytest.mark.parametrize(
        ("start", "end", "shown"),
        [("2300-01-01", "2300-01-02", "Jan 01, 2300"), ("1969-12-25", "1970-01-05", "Dec 25, 1969"),
         ("2200-12-01", "2201-01-01", "Jan 01, 2201"), ("0001-01-01", "0001-01-05", "Jan 01, 1")],
    )  # fmt: skip
    def test_dates_beyond_what_the_calendar_holds_are_refused(self, start, end, shown) -> None:
        """Beyond them, NumPy's nanosecond instants wrap around without a word: such a range
        showed an empty page in UTC, and failed in other zones."""
        for tz in ("UTC", "America/New_York"):
            with pytest.raises(uw.SelectionError) as caught:
                run([Req("2026-03-05T12:00:00Z")], range="custom", start=start, end=end, tz=tz)
            assert shown in str(caught.value) and "pick dates from 1970 to 2200" in str(caught.value)

    @pytest.mark.parametrize("now", ["2262-04-12", "1677-09-22", "1969-12-31 23:00", "2201-01-01", "soon"])
    def test_a_now_beyond_the_calendar_is_refused(self, now) -> None:
        with pytest.raises(uw.SelectionError, match="now must be a moment from 1970 to 2200"):
            run([Req("2026-03-05T12:00:00Z")], now=now, range="30d", tz="America/New_York")

    @pytest.mark.parametrize(
        ("tz", "now", "selection", "day"),
        [("Africa/Monrovia", "1971-03-10 12:00", {"range": "7d"}, "Mar 11, 1971"),
         ("Africa/Monrovia", "1972-01-20 12:00", {"range": "30d"}, "Jan 06, 1972"),
         ("Pacific/Kiritimati", "1990-01-01", {"range": "custom", "start": "1975-03-05", "end": "1975-03-06"},
          "Mar 07, 1975")],
    )  # fmt: skip
    def test_zones_whose_clocks_were_off_the_quarter_hour_are_refused(self, tz, now, selection, day) -> None:
        """Monrovia (-0:44:30 until 1972) and Kiritimati (-10:40 until 1979): buckets there
        gave wrong counts, or failed."""
        with pytest.raises(uw.SelectionError) as caught:
            run([Req("1971-03-05T12:00:00Z")], now=now, tz=tz, **selection)
        assert f"In {tz}, clocks on {day} were off UTC by a part of a quarter hour" in str(caught.value)

    @pytest.mark.parametrize("tz", ["Mars/Olympus", "", None, "localtime", "../../etc/passwd"])
    def test_an_unknown_time_zone_is_refused_in_words(self, tz) -> None:
        with pytest.raises(uw.SelectionError, match=r"unknown time zone .*: use an IANA name"):
            run([Req("2026-03-05T12:00:00Z")], tz=tz)

    def test_a_selection_that_is_not_a_selection_is_refused_in_words(self) -> None:
        words = r"selection must be a Selection, like Selection\(range='7d'\), not '7d'"
        with pytest.raises(uw.SelectionError, match=words):
            uw.report(log_of(Req("2026-03-05T12:00:00Z")), "7d", now=NOW)  # type: ignore[arg-type]

    def test_missing_dates_are_refused(self) -> None:
        with pytest.raises(uw.SelectionError, match="start"):
            run([], range="custom", start="2026-03-05")


def test_empty_buckets_are_zero() -> None:
    rep = run([Req("2026-03-05T10:00:00Z"), Req("2026-03-05T11:00:00Z", user="bo")], range="7d")
    assert rep.activity["active_users"].tolist() == [0, 2, 0, 0, 0, 0, 0]
    team = run([Req("2026-03-05T10:00:00Z")], range="7d", view="team")
    assert team.activity["Search"].tolist() == [0, 1, 0, 0, 0, 0, 0]
    assert trend_of(rep, "bo") == [0, 1, 0, 0, 0, 0, 0]


# -- filters ---------------------------------------------------------------------------------
TAGGED = [
    Req("2026-03-10T10:00:00Z", user="prod-x", tags=("env:prod", "proj:x")),
    Req("2026-03-10T10:00:00Z", user="dev-x", tags=("env:dev", "proj:x")),
    Req("2026-03-10T10:00:00Z", user="prod-y", tags=("env:prod", "proj:y")),
    Req("2026-03-10T10:00:00Z", user="untagged"),
    Req("2026-03-10T10:00:00Z", user="stage", tags=("env:stage",)),
]


@pytest.mark.parametrize(
    ("tags", "users"),
    [
        ((), {"prod-x", "dev-x", "prod-y", "untagged", "stage"}),
        (("env:prod",), {"prod-x", "prod-y"}),
        (("env:prod", "env:dev"), {"prod-x", "dev-x", "prod-y"}),  # same key: OR
        (("env:prod", "proj:x"), {"prod-x"}),  # different keys: AND
        (("env:prod", "env:dev", "proj:x"), {"prod-x", "dev-x"}),
        (("env:prod", "proj:none"), set()),  # a tag nobody carries
        (("proj:none",), set()),
    ],
)
def test_tag_filter_or_within_a_key_and_across_keys(tags: tuple[str, ...], users: set[str]) -> None:
    rep = run(TAGGED, range="24h", tags=tags)
    assert set(rep.breakdown["user_id"]) == users
    assert rep.kpis["requests"] == len(users)


def test_api_key_filter() -> None:
    reqs = [
        Req("2026-03-10T10:00:00Z", user="a", key="k1"),
        Req("2026-03-10T10:00:00Z", user="b", key="k2"),
        Req("2026-03-10T10:00:00Z", user="c", key="k3"),
    ]
    assert set(run(reqs, api_keys=("k1", "k3")).breakdown["user_id"]) == {"a", "c"}
    assert set(run(reqs, api_keys=()).breakdown["user_id"]) == {"a", "b", "c"}
    assert run(reqs, api_keys=("nope",)).kpis["requests"] == 0


def test_teams_filter_in_the_user_view_shows_the_users_of_those_teams() -> None:
    reqs = [
        Req("2026-03-09T10:00:00Z", user="ada", team="Search"),
        Req("2026-03-09T10:00:00Z", user="bo", team="Platform"),
        Req("2026-03-09T10:00:00Z", user="cy", team=None),
        # ada later works for Platform: only her Search request counts under a Search filter
        Req("2026-03-10T10:00:00Z", user="ada", team="Platform", input_tokens=7),
    ]
    rep = run(reqs, teams=("Search",))
    assert list(rep.breakdown["user_id"]) == ["ada"]
    assert rep.breakdown.loc[0, "team"] == "Search"
    assert rep.breakdown.loc[0, "requests"] == 1
    assert rep.kpis["requests"] == 1
    unassigned = run(reqs, teams=("Unassigned",))
    assert list(unassigned.breakdown["user_id"]) == ["cy"]
    assert unassigned.breakdown.loc[0, "team"] == "Unassigned"
    both = run(reqs, teams=("Platform", "Search"))
    assert set(both.breakdown["user_id"]) == {"ada", "bo"}


def test_filters_combine() -> None:
    reqs = [
        Req("2026-03-10T10:00:00Z", user="a", key="k1", team="T", tags=("env:prod",)),
        Req("2026-03-10T10:00:00Z", user="b", key="k2", team="T", tags=("env:prod",)),
        Req("2026-03-10T10:00:00Z", user="c", key="k1", team="U", tags=("env:prod",)),
        Req("2026-03-10T10:00:00Z", user="d", key="k1", team="T", tags=("env:dev",)),
    ]
    rep = run(reqs, api_keys=("k1",), teams=("T",), tags=("env:prod",))
    assert list(rep.breakdown["user_id"]) == ["a"]


# -- the user view ---------------------------------------------------------------------------
def test_badge_team_is_the_team_of_the_latest_request_in_the_selection() -> None:
    reqs = [
        Req("2026-03-01T10:00:00Z", team="Search"),  # outside 7d
        Req("2026-03-05T10:00:00Z", team="Search"),
        Req("2026-03-08T10:00:00Z", team="Platform"),
        Req("2026-03-09T10:00:00Z", team="Research", key="old-key"),
        Req("2026-03-11T10:00:00Z", team="Future"),  # after now
    ]
    assert run(reqs).breakdown.loc[0, "team"] == "Research"
    assert run(reqs, api_keys=("key-a",)).breakdown.loc[0, "team"] == "Platform"
    assert (
        run(reqs, range="custom", start="2026-03-01", end="2026-03-06").breakdown.loc[0, "team"]
        == "Search"
    )


def test_team_view_counts_each_request_under_its_own_team() -> None:
    reqs = [
        Req("2026-03-05T10:00:00Z", user="ada", team="Search"),
        Req("2026-03-08T10:00:00Z", user="ada", team="Platform"),
        Req("2026-03-08T11:00:00Z", user="bo", team="Platform"),
        Req("2026-03-08T12:00:00Z", user="bo", team="Platform"),
    ]
    rep = run(reqs, view="team", sort="name", descending=False)
    table = rep.breakdown.set_index("team")
    assert table.loc["Platform", "users"] == 2 and table.loc["Platform", "requests"] == 3
    assert table.loc["Search", "users"] == 1 and table.loc["Search", "requests"] == 1
    assert list(rep.activity.columns) == ["Platform", "Search"]  # largest first
    assert rep.activity["Platform"].tolist() == [0, 0, 0, 0, 3, 0, 0]
    assert rep.activity.sum().sum() == rep.kpis["requests"] == 4


def test_team_chart_ties_are_ordered_by_name() -> None:
    reqs = [Req("2026-03-08T10:00:00Z", team=t) for t in ("Zeta", "Alpha", "Mid", "Mid")]
    rep = run(reqs, view="team")
    assert list(rep.activity.columns) == ["Mid", "Alpha", "Zeta"]


def test_name_and_email_come_from_the_latest_request_in_the_whole_log() -> None:
    reqs = [
        Req("2026-03-09T10:00:00Z", name="Ada L.", email="ada@old.org"),
        Req("2026-03-10T10:00:00Z", name="Ada Lovelace", email="ada@new.org", key="k2"),
        Req("2026-03-08T10:00:00Z", name="A.", email="a@older.org"),
    ]
    rep = run(reqs, api_keys=("key-a",))  # the latest request is filtered out: still its name
    assert rep.breakdown.loc[0, ["name", "email"]].tolist() == ["Ada Lovelace", "ada@new.org"]


def test_name_falls_back_to_the_user_id() -> None:
    frame = log_of(Req("2026-03-10T10:00:00Z", user="u-17"))
    frame["user_name"] = None
    frame["user_email"] = None
    rep = run(frame)
    assert rep.breakdown.loc[0, ["name", "email"]].tolist() == ["u-17", ""]


def test_models_most_used_first_ties_alphabetical() -> None:
    reqs = [
        Req("2026-03-10T10:00:00Z", model=m)
        for m in (
            "gpt-4o",
            "claude-3-5-sonnet",
            "gpt-4o-mini",
            "gpt-4o-mini",
            "gpt-4o",
            "claude-3-5-haiku-latest",
            "gpt-4o-mini",
        )
    ]
    rep = run(reqs)
    assert rep.breakdown.loc[0, "models"] == [
        "gpt-4o-mini",
        "gpt-4o",
        "claude-3-5-haiku-latest",
        "claude-3-5-sonnet",
    ]
    team = run(reqs, view="team")
    assert team.breakdown.loc[0, "models"] == rep.breakdown.loc[0, "models"]


def test_models_only_those_used_in_the_selection() -> None:
    reqs = [
        Req("2026-03-10T10:00:00Z", model="gpt-4o"),
        Req("2026-03-01T10:00:00Z", model="gpt-4o-mini"),
    ]
    assert run(reqs).breakdown.loc[0, "models"] == ["gpt-4o"]


def test_user_activity_counts_distinct_users_per_bucket() -> None:
    reqs = [
        Req("2026-03-09T10:00:00Z"),
        Req("2026-03-09T11:00:00Z"),
        Req("2026-03-09T11:00:00Z", user="bo"),
        Req("2026-03-10T01:00:00Z", user="bo"),
    ]
    rep = run(reqs)
    assert rep.activity["active_users"].tolist() == [0, 0, 0, 0, 0, 2, 1]
    assert rep.kpis["active_users"] == 2
    assert rep.kpis["avg_requests_per_user"] == 2.0


# -- search and sort -------------------------------------------------------------------------
PEOPLE = [
    Req(
        "2026-03-10T10:00:00Z", user="ada", name="Ada Lovelace", email="ada@math.org", team="Search"
    ),
    Req("2026-03-10T10:00:00Z", user="bo", name="Bo Li", email="BO@ACME.COM", team="Platform"),
    Req("2026-03-10T11:00:00Z", user="bo", name="Bo Li", email="BO@ACME.COM", team="Platform"),
    Req("2026-03-10T10:00:00Z", user="cy", name="Cy Twombly", email="cy@art.org", team="Platform"),
]


@pytest.mark.parametrize(
    ("search", "users"),
    [
        ("", {"ada", "bo", "cy"}),
        ("ADA", {"ada"}),
        ("acme", {"bo"}),
        (".org", {"ada", "cy"}),
        ("  bo li ", {"bo"}),
        ("zzz", set()),
    ],
)
def test_search_filters_the_table_only(search: str, users: set[str]) -> None:
    rep = run(PEOPLE, search=search)
    everyone = run(PEOPLE)
    assert set(rep.breakdown["user_id"]) == users
    assert rep.kpis == everyone.kpis
    pd.testing.assert_frame_equal(rep.activity, everyone.activity)
    assert list(rep.breakdown.columns) == USER_COLUMNS


@pytest.mark.parametrize(
    ("search", "users"), [("strasse", {"jo"}), ("straße", {"jo"}), ("ürg", {"jo"}), ("ﬁ", {"fi"})]
)
def test_search_compares_text_in_upper_case_as_python_does(search: str, users: set[str]) -> None:
    """Upper case as Python makes it: "ß" is "SS", and the ligature "ﬁ" is "FI"."""
    people = [
        Req("2026-03-10T09:00:00Z", user="jo", name="Jürgen Straße", email="jo@x.de", team="Platform"),
        Req("2026-03-10T09:30:00Z", user="fi", name="Fiona", email="fi@x.ie", team="Platform"),
    ]
    assert set(run(people, search=search).breakdown["user_id"]) == users


def test_a_search_with_a_lone_surrogate_finds_no_one() -> None:
    """Text a browser can send but no log holds (`load_log` writes lone surrogates out
    escaped): no rows, not an error."""
    for view in ("user", "team"):
        rep = run(PEOPLE, view=view, search="a\ud800")
        assert rep.breakdown.empty and rep.kpis == run(PEOPLE, view=view).kpis


def test_search_in_the_team_view_matches_team_names() -> None:
    rep = run(PEOPLE, view="team", search="plat")
    assert list(rep.breakdown["team"]) == ["Platform"]
    assert rep.kpis["requests"] == 4
    assert list(rep.activity.columns) == ["Platform", "Search"]
    assert run(PEOPLE, view="team", search="ada").breakdown.empty  # names are not searched here


SORTABLE = [
    # name, user_id, requests, input, output, cost, team
    ("Ada", "ada", 3, 300, 30, 3.0, "Alpha"),
    ("bea", "bea", 1, 500, 10, 3.0, "Beta"),  # ties with Ada on cost, lower-case name
    ("Cy", "cy", 2, 300, 20, 1.0, "Alpha"),  # ties with Ada on input
    ("Dee", "dee", 1, 100, 30, 0.5, "Beta"),  # ties with bea on requests, Ada on output
]


def _sortable_log() -> list[Req]:
    reqs = []
    for name, user, n, inp, out, cost, team in SORTABLE:
        for i in range(n):
            reqs.append(
                Req(
                    f"2026-03-10T0{i}:00:00Z",
                    user=user,
                    name=name,
                    team=team,
                    input_tokens=inp // n,
                    output_tokens=out // n,
                    cost=cost / n,
                )
            )
    return reqs


@pytest.mark.parametrize(
    ("sort", "descending", "names"),
    [
        ("cost", True, ["Ada", "bea", "Cy", "Dee"]),
        ("cost", False, ["Dee", "Cy", "Ada", "bea"]),
        ("requests", True, ["Ada", "Cy", "bea", "Dee"]),
        ("requests", False, ["bea", "Dee", "Cy", "Ada"]),
        ("input_tokens", True, ["bea", "Ada", "Cy", "Dee"]),
        ("input_tokens", False, ["Dee", "Ada", "Cy", "bea"]),
        ("output_tokens", True, ["Ada", "Dee", "Cy", "bea"]),
        ("output_tokens", False, ["bea", "Cy", "Ada", "Dee"]),
        ("name", True, ["Dee", "Cy", "bea", "Ada"]),  # case-insensitive
        ("name", False, ["Ada", "bea", "Cy", "Dee"]),
        ("team", True, ["bea", "Dee", "Ada", "Cy"]),
        ("team", False, ["Ada", "Cy", "bea", "Dee"]),
    ],
)
def test_sort_user_view(sort: str, descending: bool, names: list[str]) -> None:
    rep = run(_sortable_log(), sort=sort, descending=descending)
    assert list(rep.breakdown["name"]) == names
    assert rep.breakdown.index.tolist() == [0, 1, 2, 3]


def test_default_sort_is_cost_descending() -> None:
    rep = uw.report(log_of(*_sortable_log()), now=NOW)
    assert list(rep.breakdown["name"]) == ["Ada", "bea", "Cy", "Dee"]


@pytest.mark.parametrize(
    ("sort", "descending", "teams"),
    [
        ("cost", True, ["Alpha", "beta", "Gamma"]),
        ("cost", False, ["Gamma", "Alpha", "beta"]),
        ("users", True, ["Alpha", "beta", "Gamma"]),
        ("users", False, ["Gamma", "Alpha", "beta"]),
        ("requests", True, ["beta", "Alpha", "Gamma"]),
        ("requests", False, ["Gamma", "Alpha", "beta"]),
        ("input_tokens", True, ["Alpha", "beta", "Gamma"]),
        ("input_tokens", False, ["Gamma", "Alpha", "beta"]),
        ("output_tokens", True, ["Gamma", "Alpha", "beta"]),
        ("output_tokens", False, ["Alpha", "beta", "Gamma"]),
        ("name", True, ["Gamma", "beta", "Alpha"]),
        ("name", False, ["Alpha", "beta", "Gamma"]),
        ("team", False, ["Alpha", "beta", "Gamma"]),
    ],
)
def test_sort_team_view(sort: str, descending: bool, teams: list[str]) -> None:
    reqs = [
        Req(
            "2026-03-10T01:00:00Z",
            user="a",
            team="Alpha",
            cost=2.0,
            input_tokens=50,
            output_tokens=1,
        ),
        Req(
            "2026-03-10T01:00:00Z",
            user="b",
            team="Alpha",
            cost=0.0,
            input_tokens=0,
            output_tokens=1,
        ),
        Req(
            "2026-03-10T01:00:00Z",
            user="c",
            team="beta",
            cost=1.0,
            input_tokens=25,
            output_tokens=1,
        ),
        Req(
            "2026-03-10T02:00:00Z",
            user="c",
            team="beta",
            cost=1.0,
            input_tokens=25,
            output_tokens=1,
        ),
        Req(
            "2026-03-10T03:00:00Z", user="d", team="beta", cost=0.0, input_tokens=0, output_tokens=0
        ),
        Req(
            "2026-03-10T01:00:00Z",
            user="e",
            team="Gamma",
            cost=0.5,
            input_tokens=10,
            output_tokens=9,
        ),
    ]
    rep = run(reqs, view="team", sort=sort, descending=descending)
    assert list(rep.breakdown["team"]) == teams


# -- prices ----------------------------------------------------------------------------------
def test_unknown_price_is_counted_flagged_and_left_out_of_cost() -> None:
    frame = log_of(
        Req(
            "2026-03-10T10:00:00Z",
            model="gpt-4o",
            cost=None,
            input_tokens=1_000_000,
            output_tokens=0,
        ),
        Req(
            "2026-03-10T11:00:00Z",
            model="mystery-model",
            cost=None,
            input_tokens=5,
            output_tokens=5,
        ),
        Req("2026-03-10T12:00:00Z", model="mystery-model", cost=0.25),  # a given cost is known
        Req("2026-03-10T12:00:00Z", user="bo", model="mystery-model", cost=None),
    )
    with pytest.warns(uw.LogWarning, match="no known price"):
        rep = run(frame, sort="name", descending=False)
    assert rep.kpis["requests"] == 4
    assert rep.kpis["unpriced_requests"] == 2
    assert rep.kpis["total_tokens"] == 1_000_000 + 10 + 110 + 110
    assert math.isclose(rep.kpis["cost"], 2.5 + 0.25)
    ada, bo = rep.breakdown.to_dict("records")
    assert (ada["requests"], ada["unpriced"]) == (3, 1)
    assert math.isclose(ada["cost"], 2.75)
    assert (bo["requests"], bo["unpriced"], bo["cost"]) == (1, 1, 0.0)
    assert ada["models"] == ["mystery-model", "gpt-4o"]


def test_unknown_price_in_the_team_view() -> None:
    with pytest.warns(uw.LogWarning):
        rep = run([Req("2026-03-10T11:00:00Z", model="mystery-model", cost=None)], view="team")
    assert rep.breakdown.loc[0, ["requests", "unpriced", "cost"]].tolist() == [1, 1, 0.0]


# -- nothing to show -------------------------------------------------------------------------
ZERO_KPIS = {
    "active_users": 0,
    "avg_requests_per_user": None,
    "requests": 0,
    "total_tokens": 0,
    "cost": 0.0,
    "unpriced_requests": 0,
}


def _empty_frame() -> pd.DataFrame:
    return log_of()


@pytest.mark.parametrize("range_", ["24h", "7d", "30d"])
def test_empty_log_user_view(range_: str) -> None:
    rep = run(_empty_frame(), tz=BERLIN, range=range_)
    assert rep.kpis == ZERO_KPIS
    assert list(rep.activity.columns) == ["active_users"]
    assert len(rep.activity) == (24 if range_ == "24h" else int(range_[:-1]))
    assert rep.activity["active_users"].tolist() == [0] * len(rep.activity)
    assert str(rep.activity.index.tz) == BERLIN
    assert rep.breakdown.empty
    assert list(rep.breakdown.columns) == USER_COLUMNS


def test_empty_log_team_view() -> None:
    rep = run(_empty_frame(), tz=BERLIN, view="team")
    assert rep.kpis == ZERO_KPIS
    assert len(rep.activity) == 7 and list(rep.activity.columns) == []
    assert rep.activity.index[0] == pd.Timestamp("2026-03-04", tz=BERLIN)
    assert rep.breakdown.empty
    assert list(rep.breakdown.columns) == TEAM_COLUMNS


@pytest.mark.parametrize("view", ["user", "team"])
@pytest.mark.parametrize(
    "outside",
    [Req("2026-03-10T15:20:00.000000001Z"), Req("2026-02-01T00:00:00Z")],
    ids=["after-now", "before-window"],
)
def test_no_rows_in_the_window(view: str, outside: Req) -> None:
    rep = run([outside], view=view, range="7d")
    assert rep.kpis == ZERO_KPIS
    assert len(rep.activity) == 7
    assert (rep.activity.to_numpy() == 0).all()
    assert rep.breakdown.empty
    assert list(rep.breakdown.columns) == (USER_COLUMNS if view == "user" else TEAM_COLUMNS)


@pytest.mark.parametrize("view", ["user", "team"])
def test_no_rows_left_by_the_filters(view: str) -> None:
    rep = run([Req("2026-03-10T10:00:00Z")], view=view, api_keys=("nope",))
    assert rep.kpis == ZERO_KPIS
    assert rep.breakdown.empty


def test_average_is_none_without_users() -> None:
    assert run([], range="24h").kpis["avg_requests_per_user"] is None


# -- the store -------------------------------------------------------------------------------
def _reports_equal(a: uw.Report, b: uw.Report) -> None:
    assert a.kpis == b.kpis
    pd.testing.assert_frame_equal(a.activity, b.activity)
    pd.testing.assert_frame_equal(a.breakdown, b.breakdown)


STORE_LOG = [
    Req("2026-03-04T10:00:00Z", user="ada", team="Search", tags=("env:prod",)),
    Req("2026-03-08T10:00:00Z", user="bo", team="Platform", key="key-b"),
    Req("2026-03-09T23:30:00Z", user="cy", team=None, model="gpt-4o-mini", cost=None),
    Req("2026-03-10T15:00:00Z", user="ada", team="Platform"),
]
SELECTIONS = [
    {"view": "user", "range": "7d"},
    {"view": "team", "range": "30d", "sort": "requests"},
    {"view": "user", "range": "24h", "tags": ("env:prod",)},
    {"view": "team", "range": "custom", "start": "2026-03-08", "end": "2026-03-09"},
    {"view": "user", "range": "14d", "search": "a", "api_keys": ("key-a",)},
]


def test_a_store_reused_across_reports_answers_like_the_dataframe() -> None:
    frame = log_of(*STORE_LOG)
    store = uw.RequestStore.from_log(frame)
    for tz in ("UTC", BERLIN):
        for sel in SELECTIONS:
            _reports_equal(run(store, tz=tz, **sel), run(frame, tz=tz, **sel))
    # and once more, in the other order: nothing in the store changed
    for sel in reversed(SELECTIONS):
        _reports_equal(run(store, **sel), run(frame, **sel))
    assert len(store) == 4


def test_append_new_rows_changes_the_report_by_exactly_those_rows() -> None:
    old = LogBuilder(list(STORE_LOG))
    new = LogBuilder(
        [
            Req("2026-03-10T15:10:00Z", user="dee", team="Search", cost=2.0),
            Req(
                "2026-03-06T08:00:00Z", user="bo", team="Platform", cost=0.5
            ),  # older than held rows
        ]
    )
    store = uw.RequestStore.from_log(old.frame())
    before = run(store)
    assert store.append(new.frame(first_id=100)) == 2
    after = run(store)
    whole = pd.concat([old.frame(), new.frame(first_id=100)], ignore_index=True)
    _reports_equal(after, run(whole))
    assert after.kpis["requests"] == before.kpis["requests"] + 2
    assert math.isclose(after.kpis["cost"], before.kpis["cost"] + 2.5)
    assert after.kpis["active_users"] == before.kpis["active_users"] + 1
    bo_before = before.breakdown.set_index("user_id").loc["bo"]
    bo_after = after.breakdown.set_index("user_id").loc["bo"]
    assert bo_after["requests"] == bo_before["requests"] + 1
    assert [a - b for a, b in zip(bo_after["trend"], bo_before["trend"], strict=True)] == [
        0,
        0,
        1,
        0,
        0,
        0,
        0,
    ]


def test_append_of_held_request_ids_counts_them_once() -> None:
    frame = log_of(*STORE_LOG)
    store = uw.RequestStore.from_log(frame)
    before = run(store)
    assert store.append(frame.iloc[[1, 3]]) == 0  # the same requests, sent again
    _reports_equal(run(store), before)
    resent = pd.concat(
        [frame.iloc[[0]], log_of(Req("2026-03-10T12:00:00Z", user="eve", id="new-1"))]
    )
    assert store.append(resent) == 1
    after = run(store)
    assert after.kpis["requests"] == before.kpis["requests"] + 1
    assert len(store) == 5


def test_append_of_a_held_request_id_with_another_timestamp_counts_it_once() -> None:
    # Spec 1: "request_id ... unique; a repeated id is counted once". A gateway that re-sends a
    # request with a corrected timestamp must not double it.
    frame = log_of(*STORE_LOG)
    store = uw.RequestStore.from_log(frame)
    before = run(store)
    again = frame.iloc[[1]].copy()  # r1, bo, 2026-03-08 10:00
    again["timestamp"] = pd.Timestamp("2026-03-08T10:00:05Z")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", uw.LogWarning)
        store.append(again)
    after = run(store)
    assert after.kpis["requests"] == before.kpis["requests"]
    assert len(store) == 4


def test_store_and_frame_agree_on_names_after_appends() -> None:
    store = uw.RequestStore.from_log(log_of(Req("2026-03-09T10:00:00Z", name="Old Name")))
    store.append(log_of(Req("2026-03-10T10:00:00Z", name="New Name", id="x1")))
    store.append(log_of(Req("2026-03-08T10:00:00Z", name="Older Name", id="x2")))
    assert run(store).breakdown.loc[0, "name"] == "New Name"


def test_changing_a_reports_activity_index_leaves_the_next_report_as_it_was() -> None:
    log = uw.demo_log(users=10, days=5, now="2026-03-10")
    first = uw.report(log, uw.Selection(range="7d"), now="2026-03-10T12:00Z")
    first.activity.index.name = "day"  # a data scientist's own label and frequency
    first.activity.index.freq = "D"
    again = uw.report(log, uw.Selection(range="7d"), now="2026-03-10T12:00Z")
    assert again.activity.index.name == "bucket" and again.activity.index.freq is None
