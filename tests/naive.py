"""A deliberately naive reference for `usage_widgets.report`, row by row from a canonical log.

Nothing here imports the package's time-window or report code: bucket edges come from `zoneinfo`
by the definitions in the spec (a day begins at the first instant of its local date; an hour
begins at every instant whose local wall clock reads HH:00), and each request is placed by
converting its timestamp to the zone and comparing it with those edges. Slow on purpose, so that
it can be read and believed.
"""

from __future__ import annotations

import datetime as dt
import importlib.resources
from collections import Counter, defaultdict
from dataclasses import dataclass
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

UTC = dt.UTC
USER_COLUMNS = [
    "user_id",
    "name",
    "email",
    "team",
    "trend",
    "models",
    "requests",
    "input_tokens",
    "output_tokens",
    "cost",
    "unpriced",
]
TEAM_COLUMNS = [
    "team",
    "users",
    "trend",
    "models",
    "requests",
    "input_tokens",
    "output_tokens",
    "cost",
    "unpriced",
]


@cache
def zone(name: str) -> dt.tzinfo:
    """The zone from the `tzdata` package (the same IANA release pandas' pytz carries), so the
    reference and the package never disagree only because the system's tz database is older."""
    if name == "UTC":
        return UTC
    try:
        source = importlib.resources.files("tzdata.zoneinfo").joinpath(*name.split("/"))
        with source.open("rb") as fh:
            return ZoneInfo.from_file(fh, key=name)
    except (ModuleNotFoundError, FileNotFoundError):
        return ZoneInfo(name)


def to_utc_ns(moment: dt.datetime) -> int:
    """Nanoseconds since the epoch of an aware datetime (whole seconds here, so exact)."""
    delta = moment.astimezone(UTC) - dt.datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 10**9 + delta.microseconds * 1_000


def from_ns(ns: int) -> dt.datetime:
    """An aware UTC datetime (microsecond precision) of nanoseconds since the epoch."""
    return dt.datetime(1970, 1, 1, tzinfo=UTC) + dt.timedelta(microseconds=ns // 1_000)


def local_of(ns: int, tz: str) -> dt.datetime:
    """Local wall time (naive) of an instant; nanoseconds below a microsecond never matter here
    because every edge is a whole second."""
    return from_ns(ns).astimezone(zone(tz)).replace(tzinfo=None)


def instants_of_wall_time(wall: dt.datetime, tz: str) -> list[int]:
    """Every instant whose local wall clock reads ``wall``: none in a gap, two in a repeat."""
    found = set()
    for fold in (0, 1):
        aware = wall.replace(tzinfo=zone(tz), fold=fold)
        ns = to_utc_ns(aware)
        if local_of(ns, tz) == wall:
            found.add(ns)
    return sorted(found)


def day_start(day: dt.date, tz: str) -> int:
    """The first instant whose local date is ``day`` (midnight, or the end of a gap over it)."""
    lo = to_utc_ns(dt.datetime.combine(day, dt.time(), tzinfo=UTC)) - 16 * 3_600 * 10**9
    hi = lo + 32 * 3_600 * 10**9
    sec = 10**9
    lo //= sec
    hi //= sec
    assert local_of(lo * sec, tz).date() < day <= local_of(hi * sec, tz).date()
    while hi - lo > 1:  # first whole second with local date >= day
        mid = (lo + hi) // 2
        if local_of(mid * sec, tz).date() >= day:
            hi = mid
        else:
            lo = mid
    return hi * sec


def hour_starts(lo_ns: int, hi_ns: int, tz: str) -> list[int]:
    """Instants in ``[lo_ns, hi_ns]`` at which the local wall clock reads HH:00."""
    first = local_of(lo_ns, tz).date() - dt.timedelta(days=1)
    last = local_of(hi_ns, tz).date() + dt.timedelta(days=1)
    found: set[int] = set()
    day = first
    while day <= last:
        for hour in range(24):
            found.update(instants_of_wall_time(dt.datetime.combine(day, dt.time(hour)), tz))
        day += dt.timedelta(days=1)
    return sorted(ns for ns in found if lo_ns <= ns <= hi_ns)


@dataclass(frozen=True)
class NaiveWindow:
    edges: list[int]  # UTC ns; bucket i is [edges[i], edges[i + 1])
    last_ns: int  # the latest instant a request may have (inclusive)
    granularity: str

    def bucket(self, ns: int) -> int | None:
        if ns < self.edges[0] or ns > self.last_ns or ns >= self.edges[-1]:
            return None
        found = None
        for i in range(len(self.edges) - 1):
            if self.edges[i] <= ns < self.edges[i + 1]:
                found = i
        return found


def window(
    range_: str, start: dt.date | None, end: dt.date | None, now_ns: int, tz: str
) -> NaiveWindow:
    """Bucket edges of a range at ``now`` in ``tz``, by the spec's words."""
    today = local_of(now_ns, tz).date()
    if range_ == "24h":
        hours = hour_starts(now_ns - 30 * 3_600 * 10**9, now_ns + 3 * 3_600 * 10**9, tz)
        current = max(i for i, h in enumerate(hours) if h <= now_ns)
        edges = hours[current - 23 : current + 2]
        assert len(edges) == 25
        return NaiveWindow(edges, min(now_ns, edges[-1] - 1), "hour")
    if range_ == "custom":
        assert start is not None and end is not None and start <= end
        first, last = start, end
        if (last - first).days + 1 <= 2:
            lo, hi = day_start(first, tz), day_start(last + dt.timedelta(days=1), tz)
            edges = hour_starts(lo, hi, tz)
            return NaiveWindow(edges, min(now_ns, edges[-1] - 1), "hour")
    else:
        n = int(range_.removesuffix("d"))
        first, last = today - dt.timedelta(days=n - 1), today
    days = [first + dt.timedelta(days=i) for i in range((last - first).days + 2)]
    edges = [day_start(d, tz) for d in days]
    return NaiveWindow(edges, min(now_ns, edges[-1] - 1), "day")


@dataclass
class NaiveReport:
    kpis: dict[str, Any]
    activity: pd.DataFrame
    breakdown: pd.DataFrame  # searched but NOT sorted: the order is checked separately
    granularity: str


def _tag_filter_ok(tags: list[str], wanted: tuple[str, ...]) -> bool:
    by_key: dict[str, set[str]] = defaultdict(set)
    for tag in wanted:
        by_key[tag.split(":", 1)[0]].add(tag)
    return all(any(t in alternatives for t in tags) for alternatives in by_key.values())


def _models_ranked(models: list[str]) -> list[str]:
    counts = Counter(models)
    return sorted(counts, key=lambda m: (-counts[m], m))


def _known_cost_sum(costs: list[float]) -> float:
    return float(sum(c for c in costs if c == c))


def _unpriced(costs: list[float]) -> int:
    return sum(1 for c in costs if c != c)


def naive_report(
    log: pd.DataFrame,
    *,
    view: str = "user",
    range_: str = "7d",
    start: dt.date | None = None,
    end: dt.date | None = None,
    api_keys: tuple[str, ...] = (),
    tags: tuple[str, ...] = (),
    teams: tuple[str, ...] = (),
    search: str = "",
    now: Any,
    tz: str = "UTC",
) -> NaiveReport:
    """The report of a canonical (``load_log``) frame, one request at a time."""
    now_ns = (
        int(pd.Timestamp(now).tz_convert("UTC").value)
        if pd.Timestamp(now).tzinfo
        else int(pd.Timestamp(now).tz_localize("UTC").value)
    )
    win = window(range_, start, end, now_ns, tz)
    n_buckets = len(win.edges) - 1
    records = log.to_dict("records")

    # Name and email: the user's latest request in the whole log (later rows win ties).
    latest_identity: dict[str, tuple[int, str, str]] = {}
    for r in records:
        ns = int(r["timestamp"].value)
        held = latest_identity.get(r["user_id"])
        if held is None or ns >= held[0]:
            latest_identity[r["user_id"]] = (ns, r["user_name"], r["user_email"])

    chosen = []
    for r in records:
        b = win.bucket(int(r["timestamp"].value))
        if b is None:
            continue
        if api_keys and r["api_key"] not in api_keys:
            continue
        if teams and r["team"] not in teams:
            continue
        if tags and not _tag_filter_ok(list(r["tags"]), tags):
            continue
        chosen.append((b, r))

    users = {r["user_id"] for _, r in chosen}
    costs = [float(r["cost"]) for _, r in chosen]
    kpis = {
        "active_users": len(users),
        "avg_requests_per_user": len(chosen) / len(users) if users else None,
        "requests": len(chosen),
        "total_tokens": sum(int(r["input_tokens"]) + int(r["output_tokens"]) for _, r in chosen),
        "cost": _known_cost_sum(costs),
        "unpriced_requests": _unpriced(costs),
    }
    labels = pd.DatetimeIndex(
        [pd.Timestamp(e, tz="UTC").tz_convert(tz) for e in win.edges[:-1]], name="bucket"
    )

    group_key = "user_id" if view == "user" else "team"
    groups: dict[str, list[tuple[int, dict]]] = defaultdict(list)
    for b, r in chosen:
        groups[r[group_key]].append((b, r))

    rows = []
    for key, members in groups.items():
        trend = [0] * n_buckets
        for b, _ in members:
            trend[b] += 1
        member_costs = [float(r["cost"]) for _, r in members]
        row: dict[str, Any] = {}
        if view == "user":
            _, name, email = latest_identity[key]
            latest_in_selection = members[-1][1]  # `chosen` keeps the log's time order
            for _, r in members:
                if r["timestamp"] >= latest_in_selection["timestamp"]:
                    latest_in_selection = r
            row.update(user_id=key, name=name, email=email, team=latest_in_selection["team"])
        else:
            row.update(team=key, users=len({r["user_id"] for _, r in members}))
        row.update(
            trend=trend,
            models=_models_ranked([r["model"] for _, r in members]),
            requests=len(members),
            input_tokens=sum(int(r["input_tokens"]) for _, r in members),
            output_tokens=sum(int(r["output_tokens"]) for _, r in members),
            cost=_known_cost_sum(member_costs),
            unpriced=_unpriced(member_costs),
        )
        rows.append(row)
    columns = USER_COLUMNS if view == "user" else TEAM_COLUMNS
    breakdown = pd.DataFrame(rows, columns=columns)

    if view == "user":
        counts = {
            "active_users": [
                len({r["user_id"] for b, r in chosen if b == i}) for i in range(n_buckets)
            ]
        }
    else:
        totals = {team: len(members) for team, members in groups.items()}
        order = sorted(totals, key=lambda t: (-totals[t], t))
        counts = {
            team: [sum(1 for b, r in groups[team] if b == i) for i in range(n_buckets)]
            for team in order
        }
    activity = pd.DataFrame(counts, index=labels, columns=list(counts))

    text = search.strip().casefold()
    if text:
        if view == "user":
            keep = [
                text in str(n).casefold() or text in str(e).casefold()
                for n, e in zip(breakdown["name"], breakdown["email"], strict=True)
            ]
        else:
            keep = [text in str(t).casefold() for t in breakdown["team"]]
        breakdown = breakdown.loc[keep].reset_index(drop=True)
    return NaiveReport(kpis, activity, breakdown, win.granularity)


def sort_key_column(view: str, sort: str, columns: list[str]) -> str:
    """The breakdown column a sort choice orders by ("name" is the label column of the view)."""
    label = "name" if view == "user" else "team"
    column = label if sort == "name" else sort
    return column if column in columns else "cost"


def order_problems(breakdown: pd.DataFrame, view: str, sort: str, descending: bool) -> list[str]:
    """Where a breakdown's row order breaks the sort rule: by the column, descending or
    ascending as asked; equal values by name ascending (case-insensitive)."""
    label = "name" if view == "user" else "team"
    column = sort_key_column(view, sort, list(breakdown.columns))
    problems = []
    rows = breakdown.to_dict("records")
    for i in range(len(rows) - 1):
        a, b = rows[i], rows[i + 1]
        if column == label:
            ka, kb = str(a[label]).casefold(), str(b[label]).casefold()
            ok = ka >= kb if descending else ka <= kb
        else:
            ka, kb = a[column], b[column]
            if ka == kb:
                ok = str(a[label]).casefold() <= str(b[label]).casefold()
            else:
                ok = ka > kb if descending else ka < kb
        if not ok:
            problems.append(
                f"rows {i} and {i + 1}: {column} {ka!r} then {kb!r} ({a[label]!r}, {b[label]!r})"
            )
    return problems
