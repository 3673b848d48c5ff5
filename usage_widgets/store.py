"""The request log in memory as integer-coded columns sorted by time, growing in place.

Strings (users, teams, keys, models, tag sets) become small integer codes into dictionaries, so a
filter is a lookup table indexed by code and every aggregation an array indexed by code, filled by
a compiled pass (`usage_widgets.kernel`). Rows stay sorted by time, so a time window is a slice
found by binary search. New requests are appended into spare capacity (amortised O(new rows)),
which is what Live Mode needs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from . import kernel
from .schema import ID_DTYPE, load_log
from .timewindow import QUARTER_NS

_TAG_SEP = "\x1f"  # cannot occur inside a valid tag

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
}


class _IdIndex:
    """Which request ids are held: two independent 64-bit hashes per id, sorted by the first.

    Two hashes make a false match between different ids a 1-in-2**128 event, so ids need not be
    kept as strings. New ids gather in a small sorted run merged into the main run now and then,
    so adding a live tick's ids costs O(new ids), not a re-sort of everything.
    """

    def __init__(self) -> None:
        empty = np.zeros(0, dtype=np.uint64)
        self._runs: list[tuple[np.ndarray, np.ndarray]] = [(empty, empty), (empty, empty)]

    @classmethod
    def hashes(cls, ids: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        """Hashes of the ids' UTF-8 bytes, read straight from Arrow's buffers."""
        arr = pa.array(ids.astype(ID_DTYPE) if ids.dtype != ID_DTYPE else ids)
        chunks = arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]
        parts = [_chunk_hashes(chunk.cast(pa.large_string())) for chunk in chunks]
        if not parts:
            empty = np.zeros(0, dtype=np.uint64)
            return empty, empty
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def contains(self, h1: np.ndarray, h2: np.ndarray) -> np.ndarray:
        found = np.zeros(len(h1), dtype=bool)
        for run1, run2 in self._runs:
            if not len(run1):
                continue
            lo = np.searchsorted(run1, h1, side="left")
            hi = np.searchsorted(run1, h1, side="right")
            for i in np.flatnonzero(hi > lo):  # first hashes equal: rare unless the id is held
                found[i] |= bool((run2[lo[i] : hi[i]] == h2[i]).any())
        return found

    def add(self, h1: np.ndarray, h2: np.ndarray) -> None:
        (main1, main2), (new1, new2) = self._runs
        new1, new2 = _merge(new1, new2, h1, h2)
        if len(new1) > max(65_536, len(main1) // 16):
            self._runs = [_merge(main1, main2, new1, new2), (new1[:0], new2[:0])]
        else:
            self._runs[1] = (new1, new2)


def _chunk_hashes(chunk: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    _, offsets, data = chunk.buffers()
    offsets = np.frombuffer(offsets, dtype=np.int64)[chunk.offset : chunk.offset + len(chunk) + 1]
    data = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, np.uint8)
    return kernel.hash_strings(offsets, data)


def _merge(a1: np.ndarray, a2: np.ndarray, b1: np.ndarray, b2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    keys = np.concatenate([a1, b1])
    order = np.argsort(keys, kind="stable")  # two sorted runs: linear for timsort
    return keys[order], np.concatenate([a2, b2])[order]


class _Dictionary:
    """Distinct strings and their codes, in order of first appearance."""

    def __init__(self) -> None:
        self.values: list[str] = []
        self._codes: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self.values)

    def encode(self, values: pd.Series) -> np.ndarray:
        if isinstance(values.dtype, pd.CategoricalDtype) and not values.isna().any():
            codes = values.cat.codes.to_numpy()
            seen = pd.unique(codes)  # in order of first appearance, as codes are given
            table = np.zeros(len(values.cat.categories), dtype=np.int32)
            categories = values.cat.categories
            table[seen] = [self.code(str(categories[c])) for c in seen]
            return table[codes]
        codes, uniques = pd.factorize(values.astype(object), use_na_sentinel=False)
        table = np.array([self.code(str(u)) for u in uniques], dtype=np.int32)
        return table[codes] if len(codes) else np.zeros(0, dtype=np.int32)

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
    names: list[str]
    emails: list[str]
    last_seen: list[int]


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
        self._ids: _IdIndex | None = None  # built when the first requests are appended
        self.users = Users(_Dictionary(), [], [], [])
        self.teams = _Dictionary()
        self.keys = _Dictionary()
        self.models = _Dictionary()
        self.tags = _Dictionary()
        self.tagsets = _Dictionary()  # tag codes joined by _TAG_SEP
        self.tagset_members: list[tuple[int, ...]] = []
        self.version = 0  # bumped on every change, so callers can cache by it
        self.repeats = 0  # requests offered again (same request_id) and counted once

    # -- building ------------------------------------------------------------------------
    @classmethod
    def from_log(cls, source: pd.DataFrame | str, *, lenient: bool = False) -> RequestStore:
        """Load, validate and encode a log (see `load_log`)."""
        store = cls()
        store.append(load_log(source, lenient=lenient), validated=True)
        return store

    def __len__(self) -> int:
        return self._n

    def column(self, name: str) -> np.ndarray:
        """A read-only view of one encoded column (rows sorted by time)."""
        view = self._cols[name][: self._n]
        view.flags.writeable = False
        return view

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
        self.repeats += int(frame.attrs.get("duplicates_dropped", 0))
        if not len(frame):
            return 0
        offered = len(frame)
        frame = self._drop_known(frame)
        self.repeats += offered - len(frame)
        if not len(frame):
            return 0
        encoded = self._encode(frame)
        self._update_users(frame, encoded["user"], encoded["ts"])
        out_of_order = self._n and encoded["ts"][0] < self._cols["ts"][self._n - 1]
        self._grow(len(frame))
        lo, hi = self._n, self._n + len(frame)
        for name, values in encoded.items():
            self._cols[name][lo:hi] = values
        self._n = hi
        if out_of_order:
            self._resort()
        self.version += 1
        return len(frame)

    def _drop_known(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Requests whose id is already held are dropped (the log itself has no repeats)."""
        h1, h2 = _IdIndex.hashes(frame["request_id"])
        if self._ids is None:
            self._ids = _IdIndex()
        known = self._ids.contains(h1, h2)
        if known.any():
            frame, h1, h2 = frame.loc[~known], h1[~known], h2[~known]
        self._ids.add(h1, h2)
        return frame

    def _encode(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        codes, tagset_table = self._tagsets(pa.array(frame["tags"], type=pa.list_(pa.string())))
        cost = frame["cost"].to_numpy(dtype="float64", na_value=np.nan)
        ts = frame["timestamp"].to_numpy(dtype="datetime64[ns]").view(np.int64)
        return {
            "ts": ts,
            "quarter": (ts // QUARTER_NS).astype(np.int32),
            "user": self.users.ids.encode(frame["user_id"]),
            "team": self.teams.encode(frame["team"]),
            "key": self.keys.encode(frame["api_key"]),
            "model": self.models.encode(frame["model"]),
            "tagset": tagset_table[codes] if len(codes) else np.zeros(0, np.int32),
            "input_tokens": frame["input_tokens"].to_numpy(dtype=np.int64),
            "output_tokens": frame["output_tokens"].to_numpy(dtype=np.int64),
            "cost": cost,
        }

    def _tagsets(self, tags: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
        """Per request, which distinct tag set it carries: codes into a table of tag set codes."""
        if isinstance(tags, pa.ChunkedArray):
            tags = tags.combine_chunks() if tags.num_chunks else pa.array([], tags.type)
        flat = pc.list_flatten(tags).dictionary_encode()
        vocabulary = flat.dictionary.to_pylist()
        if len(vocabulary) <= 63:  # few distinct tags: a row's set is the bits of one word
            lengths = pc.list_value_length(tags).fill_null(0).to_numpy(zero_copy_only=False)
            offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
            words = kernel.bits_by_row(offsets, flat.indices.to_numpy(zero_copy_only=False))
            codes, uniques = pd.factorize(words)
            joined = [
                _TAG_SEP.join(vocabulary[b] for b in range(64) if int(u) >> b & 1) for u in uniques
            ]
        else:
            text = pc.binary_join(tags, _TAG_SEP).fill_null("")
            codes, joined = pd.factorize(np.asarray(text.to_numpy(zero_copy_only=False), dtype=object))
        return codes, np.array([self._tagset_code(j) for j in joined], dtype=np.int32)

    def _tagset_code(self, joined: str) -> int:
        members = tuple(sorted({self.tags.code(t) for t in joined.split(_TAG_SEP) if t}))
        key = _TAG_SEP.join(map(str, members))
        code = self.tagsets.code(key)
        if code == len(self.tagset_members):
            self.tagset_members.append(members)
        return code

    def _update_users(self, frame: pd.DataFrame, users: np.ndarray, ts: np.ndarray) -> None:
        u = self.users
        grow = len(u.ids) - len(u.names)
        u.names.extend([""] * grow)
        u.emails.extend([""] * grow)
        u.last_seen.extend([np.iinfo(np.int64).min] * grow)
        last = pd.Series(np.arange(len(users))).groupby(users).last()
        names = frame["user_name"].to_numpy(dtype=object)
        emails = frame["user_email"].to_numpy(dtype=object)
        for code, row in zip(last.index.to_numpy(), last.to_numpy(), strict=True):
            if ts[row] >= u.last_seen[code]:
                u.names[code], u.emails[code], u.last_seen[code] = names[row], emails[row], ts[row]

    def _grow(self, extra: int) -> None:
        need = self._n + extra
        capacity = len(self._cols["ts"])
        if need <= capacity:
            return
        new_capacity = max(need, int(capacity * 1.5) + 1024) if capacity else need
        for name, old in self._cols.items():
            grown = np.empty(new_capacity, dtype=old.dtype)
            grown[: self._n] = old[: self._n]
            self._cols[name] = grown

    def _resort(self) -> None:
        order = np.argsort(self._cols["ts"][: self._n], kind="stable")
        for col in self._cols.values():
            col[: self._n] = col[: self._n][order]

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
