"""Odd calendars, as explicit examples checked against the naive reference: half- and
quarter-hour zones, 23- and 25-hour days, the turn of a year, custom ranges of one day and of
366 days. Every example has a request exactly on each local hour edge and one 1 ns before it,
so a bucket edge off by any amount changes a count."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

import usage_widgets as uw

from .naive import day_start
from .test_report_property import HOUR, Case, _hourly_rows, canonical, run_case


def case(
    tz: str, now_local: str, first: str, last: str, view: str = "user", **selection
) -> Case:
    """Requests on every local hour edge (and 1 ns before it) from ``first`` to ``last``."""
    now = pd.Timestamp(now_local).tz_localize(tz).tz_convert("UTC").value
    rows = _hourly_rows(tz, dt.date.fromisoformat(first), dt.date.fromisoformat(last))
    return Case(tz=tz, now=now, rows=rows, selection={"view": view, **selection})


def days(first: str, last: str) -> dict[str, dt.date]:
    return {"range": "custom", "start": dt.date.fromisoformat(first), "end": dt.date.fromisoformat(last)}


EXAMPLES = {
    # UTC+05:30 and UTC+05:45: local hours start at :30 and :15 UTC.
    "kolkata-24h": case("Asia/Kolkata", "2026-03-10 20:10", "2026-03-08", "2026-03-11", range="24h"),
    "kolkata-7d": case("Asia/Kolkata", "2026-03-10 00:00", "2026-03-02", "2026-03-11", "team", range="7d"),
    "kathmandu-24h": case("Asia/Kathmandu", "2026-03-10 05:45", "2026-03-08", "2026-03-11", "team",
                          range="24h"),
    "kathmandu-14d": case("Asia/Kathmandu", "2026-03-10 23:59", "2026-02-24", "2026-03-11", range="14d"),
    "kathmandu-one-day": case("Asia/Kathmandu", "2026-03-12 08:00", "2026-03-09", "2026-03-11",
                              **days("2026-03-10", "2026-03-10")),
    # The turn of a year, daily and hourly, east and west of Greenwich.
    "new-year-7d-tokyo": case("Asia/Tokyo", "2026-01-03 10:00", "2025-12-26", "2026-01-03", range="7d"),
    "new-year-24h-la": case("America/Los_Angeles", "2026-01-01 06:00", "2025-12-30", "2026-01-01",
                            "team", range="24h"),
    "new-year-two-days-kolkata": case("Asia/Kolkata", "2026-01-05 12:00", "2025-12-30", "2026-01-02",
                                      **days("2025-12-31", "2026-01-01")),
    "new-year-30d-berlin": case("Europe/Berlin", "2026-01-10 00:00", "2025-12-10", "2026-01-10",
                                "team", range="30d"),
    # One custom day that is 23 hours long, one that is 25 (Berlin), and a 366-day range
    # holding a leap day, two DST changes and a new year.
    "one-day-of-23h": case("Europe/Berlin", "2025-04-02 12:00", "2025-03-29", "2025-03-31",
                           **days("2025-03-30", "2025-03-30")),
    "one-day-of-25h": case("Europe/Berlin", "2025-10-30 12:00", "2025-10-25", "2025-10-27", "team",
                           **days("2025-10-26", "2025-10-26")),
    "366-days": case("America/New_York", "2028-06-01 12:00", "2027-05-30", "2028-05-31", "team",
                     **days("2027-06-01", "2028-05-31")),
    # The first and last dates a custom range may hold (`Selection.check`).
    "first-dates-new-york": case("America/New_York", "1970-01-03 12:00", "1969-12-30", "1970-01-03",
                                 **days("1970-01-01", "1970-01-02")),
    "last-dates-kathmandu": case("Asia/Kathmandu", "2200-12-31 23:00", "2200-12-29", "2200-12-31",
                                 "team", **days("2200-12-30", "2200-12-31")),
    # Monrovia's clocks were 44 minutes 30 seconds off UTC until Jan 07, 1972: later, whole hours.
    "monrovia-after-1972": case("Africa/Monrovia", "1972-03-10 12:00", "1972-03-01", "1972-03-10",
                                range="7d"),
}  # fmt: skip


@pytest.mark.parametrize("example", list(EXAMPLES.values()), ids=list(EXAMPLES))
def test_buckets_and_counts_match_the_naive_reference(example: Case) -> None:
    run_case(example)


def test_the_examples_hold_what_they_claim() -> None:
    """Bucket counts a person can check by hand: 23 and 25 hourly buckets on the DST days, 366
    daily buckets, Kathmandu's hours at :15 UTC."""

    def report(name: str) -> uw.Report:
        ex = EXAMPLES[name]
        return uw.report(
            uw.RequestStore.from_log(canonical(ex.frame())),
            uw.Selection(**ex.selection),
            now=pd.Timestamp(ex.now, tz="UTC"),
            tz=ex.tz,
        )

    assert len(report("one-day-of-23h").activity) == 23
    assert len(report("one-day-of-25h").activity) == 25
    year = report("366-days")
    assert len(year.activity) == 366 and year.granularity == "day"
    assert pd.Timestamp("2028-02-29", tz="America/New_York") in year.activity.index
    kathmandu = report("kathmandu-24h").activity.index.tz_convert("UTC")
    assert set(kathmandu.minute) == {15} and len(kathmandu) == 24
    new_year = report("new-year-two-days-kolkata")
    assert len(new_year.activity) == 48 and new_year.activity.index[24].month == 1
    # two requests per hour of the day: on each hour's edge and 1 ns before the next edge
    day = report("one-day-of-23h")
    assert day.kpis["requests"] == 2 * 23
    span = day_start(dt.date(2025, 3, 31), "Europe/Berlin") - day_start(dt.date(2025, 3, 30), "Europe/Berlin")
    assert span == 23 * HOUR
