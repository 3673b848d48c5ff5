"""The request log in memory as integer-coded columns in day blocks, growing in place.

Strings (users, teams, keys, models, tag sets) become small integer codes into dictionaries, so a
filter is a lookup table indexed by code and every aggregation an array indexed by code, filled by
a compiled pass (`usage_widgets.kernel`). Rows are in time order by UTC day; within each finished
day they are sorted by user, then model, then time, which lets a pass add up a user's requests in
runs (`kernel.block_order`). The latest day stays in time order, so new requests are appended into
spare capacity (amortised O(new rows)), which is what Live Mode needs; a day is sorted once, when
a later day begins. A time window is a range of rows found by binary search (`rows_between`).

A finished day's rows fall into groups: runs of one user, team and model, in time order. The
store keeps each group's totals (`groups_between`), so a report reads a group, not a request,
at a time; and those of its subgroups, its requests of one API key and tag set, for a report
under a key or tag filter. The latest day is grouped the same way in a sorted copy, made when
a report first needs it after a change, or merged with requests appended since
(`latest_groups`).
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from . import kernel
from .errors import LogError, LogWarning
from .ids import IdSet, id_hashes
from .schema import ID_DTYPE, TagLists, load_log, load_part, parquet_parts, tag_lists, warn_about_log
from .timewindow import DAY_NS, QUARTER_NS

_COLUMNS: dict[str, type] = {
    "ts": np.int64,
    "quarter": np.int32,  # ts // QUARTER_NS: what a report's pass reads to find a bucket
    "user": np.int32,
    "team": np.int32,
    "key": np.int32,
    "model": np.int32,
    "tagset": np.int32,
    "input_tokens": np.int64,
    "output_tokens": np.int64,
    "cost": np.float64,
    # Among requests of one instant, which came later: in a finished day, its place in the
    # day's time order; in the latest day, its row when it was added.
    "seq": np.int32,
    # In a finished day, a group's rows by subgroup, then time, as offsets from the group's
    # first row (`kernel.subgroup_totals`): what a pass under a key or tag filter reads.
    "pair_order": np.int32,
}


_GROUPED = ("ts", "seq", "user", "team", "model", "input_tokens", "output_tokens", "cost")
_SUBGROUPED = ("key", "tagset", "ts", "seq", "input_tokens", "output_tokens", "cost")
_LATEST = (*_GROUPED, "key", "tagset")  # the columns of the latest day's sorted copy
LATEST_GROUPED_ROWS = 1_000_000  # a larger latest day is read request by request (`latest_groups`)


@dataclass
class Subgroups:
    """The requests of a group of one API key and tag set: group ``k``'s are subgroups
    ``bounds[k]`` to ``bounds[k + 1]``; ``sums[j]`` subgroup ``j``'s key, tag set, requests,
    unpriced requests, input and output tokens and latest request (columns `kernel.S_KEY` ..
    `kernel.S_LAST_SEQ`), ``cost[j]`` its cost."""

    bounds: np.ndarray
    sums: np.ndarray
    cost: np.ndarray


@dataclass
class Groups:
    """Runs of requests of one user, team and model in a finished day, in time order: group
    ``k`` is rows ``bounds[k]`` to ``bounds[k + 1]``; ``sums[k]`` its requests, unpriced
    requests, input and output tokens, user, team, model and first and last times (columns
    `kernel.G_REQUESTS` .. `kernel.G_LAST`), ``cost[k]`` its cost (of the priced requests);
    ``subgroups`` theirs (the finished days' only). All are views of the store's arrays, not
    copies: good until the store next changes."""

    bounds: np.ndarray
    sums: np.ndarray
    cost: np.ndarray
    subgroups: Subgroups | None = None


@dataclass
class LatestGroups:
    """The latest day's groups (as `Groups`, bounds counting from 0) over a copy of its rows
    (the store's rows up to ``end``) sorted by user, model and time: ``rows``, the copy's
    columns by name. Their subgroups, and the rows' order by subgroup, are made when a pass
    under a key or tag filter first asks (`subgroups`)."""

    groups: Groups
    rows: dict[str, np.ndarray]
    end: int
    _by_pair: tuple[Subgroups, np.ndarray] | None = None

    @property
    def columns(self) -> tuple[np.ndarray, ...]:
        """What a pass reads of a group's rows: times, tokens in and out, costs and order of
        one instant's requests."""
        return tuple(self.rows[name] for name in ("ts", "input_tokens", "output_tokens", "cost", "seq"))

    def subgroups(self) -> tuple[Subgroups, np.ndarray]:
        """The groups' subgroups (`Subgroups`) and the copy's rows by subgroup, then time (as
        offsets from their group's first row)."""
        if self._by_pair is None:
            order = np.empty(len(self.rows["key"]), dtype=np.int32)
            found, sums, spent = kernel.subgroup_totals(
                self.groups.bounds, *(self.rows[name] for name in _SUBGROUPED), order
            )
            self._by_pair = Subgroups(found, sums, spent), order
        return self._by_pair


@dataclass
class DayPairs:
    """The requests of finished days by API key and tag set (pairs), a pair's of each day
    apart: ``sums[j]`` pair ``j``'s key, tag set, requests, unpriced requests, input and output
    tokens (columns `kernel.S_KEY` .. `kernel.S_OUTPUT`), ``cost[j]`` its cost, and its users
    (each once): ``users[user_bounds[j] : user_bounds[j + 1]]``. ``start_ns`` and ``end_ns``
    as `WholeDays`."""

    start_ns: int
    end_ns: int
    sums: np.ndarray
    cost: np.ndarray
    user_bounds: np.ndarray
    users: np.ndarray


@dataclass
class WholeDays:
    """The finished UTC days that lie wholly in a span of time (``start_ns`` their first
    instant, ``end_ns`` the one after their last; equal when there are none): what their
    requests add up to (``sums``: requests, unpriced requests, input and output tokens, as
    `kernel.G_REQUESTS` .. `kernel.G_OUTPUT`), their cost, and the users active in them (a
    user once for each day)."""

    start_ns: int
    end_ns: int
    sums: np.ndarray
    cost: float
    users: np.ndarray


_ID_CHECKS = kernel.Threads(1, "usage-widgets-ids")
_TEXT = {"user_id": "user", "team": "team", "api_key": "key", "model": "model"}  # column: the store's


def _day_pairs(
    day: np.ndarray, days: int, user: np.ndarray, sub_bounds: np.ndarray, sub_sums: np.ndarray,
    sub_cost: np.ndarray,
) -> tuple[np.ndarray, ...]:
    """The pairs (`DayPairs`) of ``days`` days' groups (per group its day, from 0, and user;
    its subgroups ``sub_bounds[k]`` to ``sub_bounds[k + 1]``, their sums and costs): where each
    day's pairs begin (and the last day's end), the pairs' sums and costs, where their users
    begin (and the last pair's end) and the users."""
    per_group = np.diff(sub_bounds)
    day, user = np.repeat(day, per_group), np.repeat(user, per_group)
    order = _order_by((day, sub_sums[:, kernel.S_KEY], sub_sums[:, kernel.S_TAGSET], user))
    pair_day, sums, cost, user_bounds, users = kernel.pair_sums(order, day, user, sub_sums, sub_cost)
    day_bounds = np.searchsorted(pair_day, np.arange(days + 1), side="left")
    return day_bounds, sums, cost, user_bounds, users.astype(np.int32)


def _order_by(columns: tuple[np.ndarray, ...]) -> np.ndarray:
    """The order of rows by non-negative integer ``columns``, the first most significant: one
    sort of the columns packed into an int64 when they fit (five times faster than
    `numpy.lexsort` on four columns), else `numpy.lexsort`."""
    widths = [int(column.max()).bit_length() if len(column) else 0 for column in columns]
    if sum(widths) > 62:
        return np.lexsort(columns[::-1])
    packed = np.zeros(len(columns[0]), dtype=np.int64)
    for column, width in zip(columns, widths, strict=True):
        packed <<= width
        packed |= column
    return np.argsort(packed)


def _arrays(frame: pd.DataFrame) -> dict[str, Any]:
    """A frame's columns, as the arrays it holds (to read, not to change). Reading a column by
    name makes a Series and copies the frame's ``attrs`` each time; reading the arrays (with
    pandas' own iterator for them) made a live tick of 10,000 requests 0.4-0.9 ms faster."""
    return dict(zip(frame.columns, frame._iter_column_arrays(), strict=True))


def _numbers(values: Any, dtype: type) -> np.ndarray:
    """A numeric column as ``dtype``, a missing value as NaN."""
    if isinstance(values, pd.api.extensions.ExtensionArray):
        return values.to_numpy(dtype=dtype, na_value=np.nan)
    return np.asarray(values, dtype=dtype)


def _plain_columns(columns: dict[str, Any]) -> dict[str, Any]:
    """What of validated requests (their `_arrays`) the store keeps without its dictionaries:
    times, quarter hours, tokens, cost, and the tags as `TagLists`."""
    raw = columns["tags"]
    arrow = raw.dtype.pyarrow_dtype if isinstance(raw.dtype, pd.ArrowDtype) else None
    if arrow is not None and pa.types.is_list(arrow) and pa.types.is_dictionary(arrow.value_type):
        tags = pa.array(raw)  # dictionary-encoded text (`load_part`), kept so
    else:
        tags = pa.array(raw, type=pa.list_(pa.string()))
    if isinstance(tags, pa.ChunkedArray):
        tags = tags.combine_chunks() if tags.num_chunks else pa.array([], tags.type)
    ts = np.asarray(columns["timestamp"], dtype="datetime64[ns]").view(np.int64)  # UTC
    return {
        "ts": ts,
        "quarter": (ts // QUARTER_NS).astype(np.int32),
        "input_tokens": _numbers(columns["input_tokens"], np.int64),
        "output_tokens": _numbers(columns["output_tokens"], np.int64),
        "cost": _numbers(columns["cost"], np.float64),
        "tags": tag_lists(tags),
    }


def _text_at(array: Any, rows: np.ndarray) -> np.ndarray:
    """The text of a column's array at ``rows``, as Python strings (a categorical's through its
    codes: faster than taking from the categorical itself)."""
    if isinstance(array, pd.Categorical):
        codes = array.codes[rows]
        if not (codes < 0).any():
            return array.categories.to_numpy(dtype=object)[codes]
    return np.asarray(array.take(rows), dtype=object)


class _Growing:
    """Rows of an array that grows in place, into room kept spare (an eighth more), so that
    adding a day's rows seldom copies those held: ``held`` rows, then (for bounds) one more,
    where the last held item ends."""

    def __init__(self, shape: tuple[int, ...], dtype: type) -> None:
        self.data, self.held = np.zeros((1, *shape), dtype=dtype), 0

    def rows(self) -> np.ndarray:
        return self.data[: self.held]

    def bounds(self) -> np.ndarray:
        """The rows and where the last ends (rows of bounds: where each item begins)."""
        return self.data[: self.held + 1]

    def add(self, parts: Sequence[np.ndarray], end: int | None = None) -> None:
        need = self.held + sum(len(part) for part in parts) + 1
        if need > len(self.data):
            grown = np.empty((need + need // 8, *self.data.shape[1:]), dtype=self.data.dtype)
            grown[: self.held + 1] = self.data[: self.held + 1]
            self.data = grown
        for part in parts:
            self.data[self.held : self.held + len(part)] = part
            self.held += len(part)
        self.keep(self.held, end)

    def keep(self, held: int, end: int | None = None) -> None:
        """Keep the first ``held`` rows (then ``end``, for bounds)."""
        self.held = held
        if end is not None:
            self.data[held] = end


class _Dictionary:
    """Distinct strings and their codes, in order of first appearance."""

    _index: pd.Index | None = None  # of ``values``, remade when they grow, to look up many at once

    def __init__(self) -> None:
        self.values: list[str] = []
        self._codes: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self.values)

    def encode(self, array: Any, *, add: bool = True) -> np.ndarray | None:
        """Codes of a column's array (as `_arrays` gives), new values given codes in order of
        appearance; without ``add``, None when the array holds a value not held (nothing added)."""
        if isinstance(array, pd.Categorical) and not (array.codes < 0).any():
            codes, categories = array.codes, array.categories.to_numpy(dtype=object)
        else:
            codes, categories = pd.factorize(np.asarray(array, dtype=object), use_na_sentinel=False)
        if not len(codes):
            return np.zeros(0, dtype=np.int32)
        codes = codes.astype(np.intp, copy=False)
        seen = np.flatnonzero(np.bincount(codes, minlength=len(categories)))
        if self._index is None or len(self._index) != len(self.values):
            self._index = pd.Index(self.values, dtype=object)
        found = self._index.get_indexer(categories[seen]).astype(np.int32)  # -1: not held
        new = np.flatnonzero(found < 0)
        if len(new):  # new values (rare once a log has been read) get codes in order of appearance
            if not add:
                return None
            first = np.full(len(categories), len(codes), dtype=np.intp)
            np.minimum.at(first, codes, np.arange(len(codes)))
            for i in new[np.argsort(first[seen[new]], kind="stable")]:
                found[i] = self.code(str(categories[seen[i]]))
        table = np.zeros(len(categories), dtype=np.int32)
        table[seen] = found
        return table[codes]

    def code(self, value: str) -> int:
        code = self._codes.get(value)
        if code is None:
            code = self._codes[value] = len(self.values)
            self.values.append(value)
        return code

    def lookup(self, values: tuple[str, ...]) -> np.ndarray:
        """A boolean table over codes: True for the given values."""
        table = np.zeros(len(self.values), dtype=bool)
        for value in values:
            code = self._codes.get(value)
            if code is not None:
                table[code] = True
        return table


@dataclass
class Users:
    """Per user code: id, and the name and email of their latest request."""

    ids: _Dictionary
    names: np.ndarray  # of str
    emails: np.ndarray
    last_seen: np.ndarray  # UTC nanoseconds of each user's latest request


class RequestStore:
    """An encoded, time-sorted, appendable request log.

    Build it with `RequestStore.from_log` (any `load_log` source); `report()` accepts it in place
    of a DataFrame, and reuses it across calls, which is what makes repeated reports fast.

    Examples
    --------
    >>> from usage_widgets import demo_log
    >>> store = RequestStore.from_log(demo_log(users=20, days=3, now="2026-01-10"))
    >>> len(store) > 0
    True
    """

    def __init__(self) -> None:
        self._n = 0
        self._cols: dict[str, np.ndarray] = {name: np.zeros(0, dt) for name, dt in _COLUMNS.items()}
        self._ids = IdSet()
        nobody = np.zeros(0, dtype=object)
        self.users = Users(_Dictionary(), nobody.copy(), nobody.copy(), np.zeros(0, np.int64))
        self.teams = _Dictionary()
        self.keys = _Dictionary()
        self.models = _Dictionary()
        self.tags = _Dictionary()
        self.tagset_members: list[tuple[int, ...]] = []  # per tag set code: its tag codes
        self._tagset_codes: dict[tuple[int, ...], int] = {}
        self._set_h1: list[int] = []  # per tag set code: the two hashes of its tag codes
        self._set_h2: list[int] = []
        self._set_index = pd.Index(np.zeros(0, dtype=np.uint64))  # the first hashes, to look up
        self._set_second = np.zeros(0, dtype=np.uint64)  # the second hashes, as an array
        self._open = 0  # rows from here on (the latest day) are in time order
        self._days = np.zeros(0, dtype=np.int64)  # the finished days (UTC days since 1970) ...
        self._starts = np.zeros(0, dtype=np.int64)  # ... and the row each begins at
        # The finished days' groups (see `Groups`): where each begins (and the last one ends),
        # their sums and costs, and those of days finished since they were last put together.
        self._groups = _Growing((), np.int64)
        self._group_sums = _Growing((kernel.G_LAST_SEQ + 1,), np.int64)
        self._group_cost = _Growing((), np.float64)
        self._subgroups = _Growing((), np.int64)  # per group, where its subgroups begin
        self._subgroup_sums = _Growing((kernel.S_LAST_SEQ + 1,), np.int64)
        self._subgroup_cost = _Growing((), np.float64)
        self._new_groups: list[tuple[np.ndarray, ...]] = []
        # The finished days' pairs (see `DayPairs`): per day, where its pairs begin (and the
        # last day's end), then the pairs' sums, costs, where their users begin (and the last
        # pair's end) and the users; and those of days finished since they were last joined.
        self._pairs = (np.zeros(1, np.int64), np.zeros((0, kernel.S_OUTPUT + 1), np.int64),
                       np.zeros(0), np.zeros(1, np.int64), np.zeros(0, np.int32))  # fmt: skip
        self._new_pairs: list[tuple[np.ndarray, ...]] = []
        # Per finished day: its requests, unpriced requests, tokens in and out, cost, users.
        self._day_sums = np.zeros((0, kernel.G_OUTPUT + 1), dtype=np.int64)
        self._day_cost = np.zeros(0, dtype=np.float64)
        self._day_users: list[np.ndarray] = []
        self.version = 0  # bumped on every change, so callers can cache by it
        self.repeats = 0  # requests offered again (same request_id) and counted once

    # -- building ------------------------------------------------------------------------
    @classmethod
    def from_log(cls, source: pd.DataFrame | str, *, lenient: bool = False) -> RequestStore:
        """Load, validate and encode a log (see `load_log`)."""
        store = cls()
        large = None if lenient else parquet_parts(source)
        if large is None:
            store.append(load_log(source, lenient=lenient), validated=True)
            return store
        try:
            store._add_parts(*large)
        except LogError:
            load_log(source)  # the whole file, for the error as it names rows of the file
            raise
        return store

    def _add_parts(self, rows: int, parts: Iterator[pd.DataFrame]) -> None:
        """A large log, a part at a time (`schema.parquet_parts`): room for all ``rows`` first;
        each part is read and validated on a second thread while the one before is added; the
        warnings are those of the whole log."""

        def next_part() -> tuple[pd.DataFrame, tuple[np.ndarray, np.ndarray]] | None:
            part = next(parts, None)
            return None if part is None else load_part(part)

        self._grow(rows)
        self._ids.reserve(rows)
        first: str | None = None
        unpriced, models = 0, set()
        with warnings.catch_warnings(), ThreadPoolExecutor(1, "usage-widgets-load") as pool:
            warnings.simplefilter("ignore", LogWarning)
            checked = pool.submit(next_part)
            while (done := checked.result()) is not None:
                checked = pool.submit(next_part)
                log, hashes = done
                first = first or log.attrs["first_duplicate"]
                unpriced += log.attrs["unpriced"]
                models.update(log.attrs["unpriced_models"])
                self._add(log, self._ids.add(*hashes))
        warn_about_log(duplicates=self.repeats, first_duplicate=first, unpriced=unpriced,
                       unpriced_models=sorted(models), stacklevel=3)  # fmt: skip

    def __len__(self) -> int:
        return self._n

    def column(self, name: str) -> np.ndarray:
        """A read-only view of one encoded column (rows in day blocks, see the module)."""
        view = self._cols[name][: self._n]
        view.flags.writeable = False
        return view

    def rows_between(self, start_ns: int, end_ns: int) -> tuple[int, int]:
        """The range of rows that holds every request with ``start_ns <= ts <= end_ns``: whole
        finished days, and the latest day's rows exactly (a pass leaves out the others)."""
        ts = self._cols["ts"]
        return self._row_at(ts, start_ns, "left"), self._row_at(ts, end_ns, "right")

    def _row_at(self, ts: np.ndarray, at_ns: int, side: str) -> int:
        day = at_ns // DAY_NS
        if not len(self._days) or day > self._days[-1]:
            return self._open + int(np.searchsorted(ts[self._open : self._n], at_ns, side=side))
        k = int(np.searchsorted(self._days, day, side=side))  # left: from its day; right: to its end
        return int(self._starts[k]) if k < len(self._starts) else self._open

    def groups_between(self, lo: int, hi: int) -> Groups:
        """The finished days' groups (runs of one user, team and model, in time order) that
        begin in rows ``lo`` to ``hi``, with their subgroups: they end before ``hi`` when ``lo``
        is where a day begins (as `rows_between` gives)."""
        self._join_groups()
        bounds = self._groups.bounds()
        k0, k1 = np.searchsorted(bounds, [lo, min(hi, self._open)], side="left")
        sums, cost = self._group_sums.rows()[k0:k1], self._group_cost.rows()[k0:k1]
        sub_bounds = self._subgroups.bounds()[k0 : k1 + 1]
        sub = Subgroups(sub_bounds, self._subgroup_sums.rows(), self._subgroup_cost.rows())
        return Groups(bounds[k0 : k1 + 1], sums, cost, sub)

    _latest: tuple[int, LatestGroups | None] | None = None  # the version they were made for
    _latest_grows = False  # since they were made, requests were only appended to the latest day

    def latest_groups(self) -> LatestGroups | None:
        """The latest day's groups (`LatestGroups`): made when first asked for and kept until
        the next change. None when the latest day is empty or has more than
        `LATEST_GROUPED_ROWS` rows. When requests were only appended to the latest day since
        the copy was made, the new ones, sorted, are merged into it: the same copy."""
        if self._latest is None or self._latest[0] != self.version:
            rows, before = self._n - self._open, self._latest[1] if self._latest else None
            if not 0 < rows <= LATEST_GROUPED_ROWS:
                latest = None
            elif before is not None and self._latest_grows:
                latest = self._group_latest(before)
            else:
                latest = self._group_latest()
            self._latest, self._latest_grows = (self.version, latest), True
        return self._latest[1]

    def _group_latest(self, before: LatestGroups | None = None) -> LatestGroups:
        """The latest day's rows sorted by user, model and time (`kernel.block_order`), those
        after ``before``'s merged into its copy; and their groups."""
        rows = slice(self._open if before is None else before.end, self._n)
        user, model = self._cols["user"][rows], self._cols["model"][rows]
        day = np.array([0, len(user)], dtype=np.int64)
        order = kernel.block_order(day, user, model, len(self.users.ids), len(self.models))
        merged = None
        if before is not None:  # new rows go after the copy's of their user and model
            old = before.rows
            merged = kernel.merge_order(old["user"], old["model"], user.take(order), model.take(order))

        def sorted_copy(names: tuple[str, ...]) -> list[np.ndarray]:
            copies = [self._cols[name][rows].take(order) for name in names]
            if merged is None:
                return copies
            pairs = zip(names, copies, strict=True)
            return [np.concatenate([before.rows[name], new]).take(merged) for name, new in pairs]

        n = len(order if merged is None else merged)
        if n < kernel.MIN_CHUNK:  # a second thread would cost more than it saves
            columns = dict(zip(_LATEST, sorted_copy(_LATEST), strict=True))
        else:  # the copies on both cores
            half = kernel.in_background(sorted_copy, _LATEST[::2])
            columns = dict(zip(_LATEST[1::2], sorted_copy(_LATEST[1::2]), strict=True))
            columns.update(zip(_LATEST[::2], half.result(), strict=True))
        starts = np.array([0, n], dtype=np.int64)
        bounds, sums, cost = kernel.group_totals(starts, *(columns[name] for name in _GROUPED))
        return LatestGroups(Groups(np.r_[bounds, starts[-1]], sums, cost), columns, self._n)

    def whole_days(self, start_ns: int, end_ns: int) -> WholeDays:
        """The totals of the finished days wholly inside ``start_ns`` to ``end_ns``."""
        first, last = self._whole_days(start_ns, end_ns)
        if first == last:
            return WholeDays(start_ns, start_ns, self._day_sums[:0].sum(axis=0), 0.0, np.zeros(0, np.int64))
        users = np.concatenate(self._day_users[first:last])
        cost = float(self._day_cost[first:last].sum())
        sums = self._day_sums[first:last].sum(axis=0)
        return WholeDays(*self._span_of(first, last), sums, cost, users)

    def whole_day_pairs(self, start_ns: int, end_ns: int) -> DayPairs:
        """The pairs (`DayPairs`) of the finished days wholly inside ``start_ns`` to ``end_ns``
        (those of `whole_days`): what a key or tag filter reads of them, where it would read
        their subgroups."""
        first, last = self._whole_days(start_ns, end_ns)
        self._join_pairs()
        day_bounds, sums, cost, user_bounds, users = self._pairs
        p0, p1 = day_bounds[first], day_bounds[last]
        span = self._span_of(first, last) if last > first else (start_ns, start_ns)
        return DayPairs(*span, sums[p0:p1], cost[p0:p1], user_bounds[p0 : p1 + 1], users)

    def _whole_days(self, start_ns: int, end_ns: int) -> tuple[int, int]:
        """The finished days (first and after last, as places in ``_days``) wholly inside."""
        first = int(np.searchsorted(self._days, -(-start_ns // DAY_NS), side="left"))
        last = int(np.searchsorted(self._days, (end_ns + 1) // DAY_NS, side="left"))
        return first, max(first, last)

    def _span_of(self, first: int, last: int) -> tuple[int, int]:
        """The first instant of finished day ``first`` and the one after day ``last - 1``
        (days between them without requests are in no group)."""
        return int(self._days[first]) * DAY_NS, (int(self._days[last - 1]) + 1) * DAY_NS

    def _join_groups(self) -> None:
        """Add the groups of the days finished since the last call (one copy, not one a day)."""
        if self._new_groups:
            starts, sums, cost, sub_starts, sub_sums, sub_cost = zip(*self._new_groups, strict=True)
            self._groups.add(starts, end=self._open)
            self._group_sums.add(sums)
            self._group_cost.add(cost)
            ends = self._subgroup_sums.held + np.cumsum([len(found) for found in sub_sums])
            begins = [end - len(found) for end, found in zip(ends, sub_sums, strict=True)]
            self._subgroups.add([at + found for at, found in zip(begins, sub_starts, strict=True)], ends[-1])
            self._subgroup_sums.add(sub_sums)
            self._subgroup_cost.add(sub_cost)
            self._new_groups = []

    def _join_pairs(self) -> None:
        """Add the pairs of the days finished since the last call (one copy, not one a day)."""
        if self._new_pairs:
            parts = [[held] for held in self._pairs]  # day bounds, sums, cost, user bounds, users
            pairs, users = len(self._pairs[1]), len(self._pairs[4])
            for day_bounds, sums, cost, user_bounds, new_users in self._new_pairs:
                new = (pairs + day_bounds[1:], sums, cost, users + user_bounds[1:], new_users)
                for part, more in zip(parts, new, strict=True):
                    part.append(more)
                pairs, users = pairs + len(sums), users + len(new_users)
            self._pairs = tuple(np.concatenate(part) for part in parts)
            self._new_pairs = []

    @property
    def watermark(self) -> pd.Timestamp | None:
        """Time of the newest request held, or None when empty."""
        return pd.Timestamp(int(self._cols["ts"][self._n - 1]), tz="UTC") if self._n else None

    def append(self, log: pd.DataFrame, *, validated: bool = False) -> int:
        """Add requests; those whose ``request_id`` is already held are counted once.

        Parameters
        ----------
        log : DataFrame
            Requests in any form `load_log` accepts (already validated when ``validated``).

        Returns
        -------
        int
            How many requests were new.
        """
        frame = log if validated else load_log(log)
        columns = _arrays(frame)
        ids = columns["request_id"]
        ids = pa.array(ids if ids.dtype == ID_DTYPE else ids.astype(ID_DTYPE))
        # The ids are hashed and looked up on a second thread while this one reads the columns
        # that need no dictionary (random reads of a large id table, mostly waiting on memory).
        checked = _ID_CHECKS.submit(lambda: self._ids.add(*id_hashes(ids)))
        try:
            plain = _plain_columns(columns)
            # Meanwhile, the codes of text the dictionaries hold already (most ticks: all of it).
            held = {name: words.encode(columns[name], add=False) for name, words in self._text.items()}
        finally:
            new = checked.result()
        return self._add(frame, new, (columns, plain, held))

    def _add(
        self, frame: pd.DataFrame, new: np.ndarray, read: tuple[dict[str, Any], ...] | None = None
    ) -> int:
        """Add validated requests, of which ``new`` says which ids were not held before (as
        `IdSet.add` gives; already added to the id set); returns how many were new. ``read``:
        the frame's `_arrays`, `_plain_columns` and the codes of its held text (see `append`),
        when already read."""
        self.repeats += int(frame.attrs.get("duplicates_dropped", 0))
        if not len(frame):
            return 0
        if not new.all():  # requests whose id is already held are dropped
            self.repeats += int((~new).sum())
            frame, read = frame.loc[new], None
        if not len(frame):
            return 0
        if read is None:
            columns = _arrays(frame)
            read = columns, _plain_columns(columns), {}
        columns = read[0]
        encoded = self._encode(*read)
        ts = encoded["ts"]
        self._update_users(columns, encoded["user"], ts)
        earliest = int(ts.min())
        if len(self._days) and earliest // DAY_NS <= self._days[-1]:
            self._reopen(earliest // DAY_NS)  # a request of a finished day: back to time order
        # Where the earliest new request belongs: rows from there on are sorted again (only
        # the new ones, unless some arrive late).
        first = self._open + int(
            np.searchsorted(self._cols["ts"][self._open : self._n], earliest, side="right")
        )
        in_order = first == self._n and not (ts[1:] < ts[:-1]).any()
        self._grow(len(frame))
        open_before = self._open
        lo, hi = self._n, self._n + len(frame)
        for name, values in encoded.items():
            self._cols[name][lo:hi] = values
        self._cols["seq"][lo:hi] = np.arange(lo, hi)
        self._n = hi
        if not in_order:
            self._resort(first)
        self._finish_days()
        self._latest_grows &= in_order and self._open == open_before  # appended to the latest day
        self.version += 1
        return len(frame)

    def _encode(
        self, columns: dict[str, Any], plain: dict[str, Any], held: dict[str, np.ndarray | None]
    ) -> dict[str, np.ndarray]:
        """The store's columns of validated requests (their `_arrays`): ``plain``
        (`_plain_columns`) and the codes of their text in the store's dictionaries (``held``:
        those already found, by column)."""
        codes, tagset_table = self._tagsets(plain.pop("tags"))
        text = {
            _TEXT[name]: found if (found := held.get(name)) is not None else words.encode(columns[name])
            for name, words in self._text.items()
        }
        return {
            **plain,
            **text,
            "tagset": tagset_table[codes] if len(codes) else np.zeros(0, np.int32),
        }

    @property
    def _text(self) -> dict[str, _Dictionary]:
        """The dictionary of each text column (`_TEXT`)."""
        return {"user_id": self.users.ids, "team": self.teams, "api_key": self.keys, "model": self.models}

    def _tagsets(self, tags: TagLists) -> tuple[np.ndarray, np.ndarray]:
        """Per request, which distinct tag set it carries: codes into a table of tag set codes.

        Each request's tags become the store's tag codes, sorted, hashed twice (`kernel.set_hashes`)
        in one compiled pass; only tag sets not met before are named one by one.
        """
        ours = np.array([self.tags.code(t) for t in tags.distinct], dtype=np.int64)
        offsets = tags.offsets
        members = ours[tags.codes] if len(ours) else np.zeros(0, np.int64)
        h1, h2 = kernel.set_hashes(offsets, members)
        codes, uniques = pd.factorize(h1)
        first = np.empty(len(uniques), dtype=np.int64)
        first[codes[::-1]] = np.arange(len(codes))[::-1]  # each distinct set's first request
        if len(self._set_h1) != len(self._set_index):
            self._set_index = pd.Index(np.asarray(self._set_h1, dtype=np.uint64))
            self._set_second = np.asarray(self._set_h2, dtype=np.uint64)
        index = self._set_index  # two sets with one first hash (a 1-in-2**64 event): look all up by name
        found = index.get_indexer(uniques) if index.is_unique else np.full(len(uniques), -1)
        held = found >= 0
        held[held] = self._set_second[found[held]] == h2[first[held]]
        for i in np.flatnonzero(~held):  # sets not met before: rare once a log has been read
            row = first[i]
            tags_of_row = members[offsets[row] : offsets[row + 1]]
            found[i] = self._tagset_code(tags_of_row, int(uniques[i]), int(h2[row]))
        return codes, found.astype(np.int32)

    _member_arrays: tuple[int, np.ndarray, np.ndarray] = (0, np.zeros(0, np.int64), np.zeros(0, np.int64))

    def tagset_member_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """Every tag set's tag codes in one array, and the tag set code of each (kept, and
        extended as tag sets are added)."""
        held, members, sets = self._member_arrays
        if held < len(self.tagset_members):
            added = self.tagset_members[held:]
            sizes = np.fromiter(map(len, added), np.int64, len(added))
            new = np.fromiter(itertools.chain.from_iterable(added), np.int64, int(sizes.sum()))
            members = np.concatenate([members, new])
            sets = np.concatenate([sets, np.repeat(np.arange(held, len(self.tagset_members)), sizes)])
            self._member_arrays = (len(self.tagset_members), members, sets)
        return members, sets

    def _tagset_code(self, tags: np.ndarray, h1: int, h2: int) -> int:
        members = tuple(sorted(set(tags.tolist())))
        code = self._tagset_codes.setdefault(members, len(self.tagset_members))
        if code == len(self.tagset_members):
            self.tagset_members.append(members)
            self._set_h1.append(h1)
            self._set_h2.append(h2)
        return code

    def _update_users(self, columns: dict[str, Any], users: np.ndarray, ts: np.ndarray) -> None:
        """Each user's name and email are those of their latest request."""
        u = self.users
        grow = len(u.ids) - len(u.names)
        if grow:
            u.names = np.concatenate([u.names, np.full(grow, "", dtype=object)])
            u.emails = np.concatenate([u.emails, np.full(grow, "", dtype=object)])
            u.last_seen = np.concatenate([u.last_seen, np.full(grow, np.iinfo(np.int64).min)])
        last = np.full(len(u.ids), -1, dtype=np.intp)
        np.maximum.at(last, users, np.arange(len(users)))  # each user's last row
        codes = np.flatnonzero(last >= 0)
        rows = last[codes]
        newer = ts[rows] >= u.last_seen[codes]
        codes, rows = codes[newer], rows[newer]
        u.last_seen[codes] = ts[rows]
        u.names[codes] = _text_at(columns["user_name"], rows)
        u.emails[codes] = _text_at(columns["user_email"], rows)

    def _grow(self, extra: int) -> None:
        need = self._n + extra
        capacity = len(self._cols["ts"])
        if need <= capacity:
            return
        # Room for an eighth more: a first load leaves space for Live Mode's ticks.
        new_capacity = max(need + need // 8, int(capacity * 1.5) + 1024)
        for name, old in self._cols.items():
            grown = np.empty(new_capacity, dtype=old.dtype)
            grown[: self._n] = old[: self._n]
            self._cols[name] = grown

    def _resort(self, start: int) -> None:
        """Sort rows ``start`` onwards by time (rows of one instant in the order they came)."""
        order = np.lexsort((self._cols["seq"][start : self._n], self._cols["ts"][start : self._n]))
        for col in self._cols.values():
            col[start : self._n] = col[start : self._n][order]

    def _reopen(self, day: int) -> None:
        """Put the finished days from ``day`` on back in time order, as the latest day's rows."""
        self._join_groups()  # while they still end where the latest day began
        k = int(np.searchsorted(self._days, day, side="left"))
        self._open = int(self._starts[k])
        self._days, self._starts = self._days[:k], self._starts[:k]
        g = int(np.searchsorted(self._groups.bounds(), self._open, side="left"))
        j = int(self._subgroups.bounds()[g])
        self._groups.keep(g, end=self._open)
        self._group_sums.keep(g)
        self._group_cost.keep(g)
        self._subgroups.keep(g, end=j)
        self._subgroup_sums.keep(j)
        self._subgroup_cost.keep(j)
        self._day_sums, self._day_cost = self._day_sums[:k], self._day_cost[:k]
        del self._day_users[k:]
        self._join_pairs()
        if len(self._pairs[0]) > k + 1:  # the pairs of the days from ``k`` on
            day_bounds, sums, cost, user_bounds, users = self._pairs
            p = day_bounds[k]
            kept = (day_bounds[: k + 1], sums[:p], cost[:p], user_bounds[: p + 1])
            self._pairs = (*kept, users[: user_bounds[p]])
        self._resort(self._open)

    def _finish_days(self) -> None:
        """Sort each day before the latest by user, model and time (`kernel.block_order`), and
        keep its groups' totals (`kernel.group_totals`) and its subgroups'
        (`kernel.subgroup_totals`)."""
        ts = self._cols["ts"][self._open : self._n]
        if not len(ts):
            return
        latest = int(ts[-1]) // DAY_NS
        cut = int(np.searchsorted(ts, latest * DAY_NS, side="left"))
        if not cut:
            return
        days = ts[:cut] // DAY_NS
        begins = np.flatnonzero(np.r_[True, days[1:] != days[:-1]])
        starts = np.r_[begins, cut].astype(np.int64)
        end = self._open + cut
        self._cols["seq"][self._open : end] = np.arange(cut) - np.repeat(begins, np.diff(starts))
        user, model = self._cols["user"][self._open : end], self._cols["model"][self._open : end]
        order = kernel.block_order(starts, user, model, len(self.users.ids), len(self.models))
        for col in self._cols.values():
            col[self._open : end] = col[self._open : end][order]
        columns = {name: self._cols[name][self._open : end] for name in (*_GROUPED, "key", "tagset")}
        groups, sums, cost = kernel.group_totals(starts, *(columns[name] for name in _GROUPED))
        order = self._cols["pair_order"][self._open : end]  # filled in by subgroup_totals
        found, sub_sums, sub_cost = kernel.subgroup_totals(
            np.r_[groups, cut], *(columns[name] for name in _SUBGROUPED), order
        )
        self._new_groups.append((self._open + groups, sums, cost, found[:-1], sub_sums, sub_cost))
        self._new_pairs.append(_day_pairs(np.searchsorted(begins, groups, side="right") - 1, len(begins),
                                          sums[:, kernel.G_USER], found, sub_sums, sub_cost))  # fmt: skip
        self._keep_day_totals(np.searchsorted(groups, begins), sums, cost)
        self._days = np.r_[self._days, days[begins]].astype(np.int64)
        self._starts = np.r_[self._starts, self._open + begins].astype(np.int64)
        self._open = end

    def _keep_day_totals(self, firsts: np.ndarray, sums: np.ndarray, cost: np.ndarray) -> None:
        """Keep each newly finished day's totals, from its groups (day ``d``'s begin at group
        ``firsts[d]``)."""
        self._day_sums = np.r_[self._day_sums, np.add.reduceat(sums[:, : kernel.G_OUTPUT + 1], firsts)]
        self._day_cost = np.r_[self._day_cost, np.add.reduceat(cost, firsts)]
        ends = np.r_[firsts[1:], len(sums)]
        self._day_users += [np.unique(sums[a:b, kernel.G_USER]) for a, b in zip(firsts, ends, strict=True)]

    # -- what the controls offer -----------------------------------------------------------
    def options(self) -> dict[str, list[str]]:
        """The API keys, tags, teams and models present, sorted, for the filter choices."""
        used_tags = {t for members in self.tagset_members for t in members}
        return {
            "api_keys": sorted(self.keys.values, key=str.casefold),
            "tags": sorted((self.tags.values[t] for t in used_tags), key=str.casefold),
            "teams": sorted(self.teams.values, key=str.casefold),
            "models": sorted(self.models.values, key=str.casefold),
        }
