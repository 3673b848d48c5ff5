"""The report's one pass over the selected requests, compiled with numba.

A pass reads a time slice of the store's encoded columns once, keeps a request when its key,
team, tag set and model pass the filter tables, finds its bucket from its quarter hour (exact:
every real zone's day and hour edges fall on quarter hours), and updates every accumulator the
view needs (the per-model totals behind cost by model before the models filter). A long slice
is cut into one chunk per core, each run on its own thread (the compiled code releases the GIL)
with its own accumulators, added up at the end. What one request adds
to its user (or team) sits in one 64-byte row, so a request touches few cache lines: that, not
reading the columns, is what a pass costs. The compiled code is cached on disk
(``cache=True``): only the first run on a machine pays for compiling.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit

# Columns of the per-entity accumulator rows (int64; COST holds float64 bits).
REQUESTS, INPUT, OUTPUT, UNPRICED, LAST_TEAM, COST = range(6)
WIDTH = 8


@njit(cache=True, nogil=True)
def _user_chunk(
    lo, hi, acc, cnt, model_requests, model_cost,
    quarter, user, team, key, model, tagset, inp, out, cost,
    key_ok, team_ok, tag_ok, model_ok, q0, table, per_row, n_buckets,
):  # pragma: no cover - compiled
    spent = acc.view(np.float64)
    by_key, by_team, by_tag = key_ok.shape[0] > 0, team_ok.shape[0] > 0, tag_ok.shape[0] > 0
    by_model, by_row = model_ok.shape[0] > 0, per_row.shape[0] > 0
    for i in range(lo, hi):
        if (by_key and not key_ok[key[i]]) or (by_team and not team_ok[team[i]]) or (
            by_tag and not tag_ok[tagset[i]]
        ):
            continue
        m = model[i]
        c = cost[i]
        model_requests[m] += 1  # cost by model: every filter but the models filter
        if not np.isnan(c):
            model_cost[m] += c
        if by_model and not model_ok[m]:
            continue
        u = user[i]
        b = per_row[i] if by_row else table[quarter[i] - q0]
        cnt[u, b] += 1
        cnt[u, n_buckets + m] += 1
        acc[u, REQUESTS] += 1
        acc[u, INPUT] += inp[i]
        acc[u, OUTPUT] += out[i]
        acc[u, LAST_TEAM] = team[i]  # rows are in time order: the last one wins
        if np.isnan(c):
            acc[u, UNPRICED] += 1
        else:
            spent[u, COST] += c


@njit(cache=True, nogil=True)
def _team_chunk(
    lo, hi, acc, cnt, per_user, model_requests, model_cost,
    quarter, user, team, key, model, tagset, inp, out, cost,
    key_ok, team_ok, tag_ok, model_ok, q0, table, per_row, n_buckets,
):  # pragma: no cover - compiled
    spent = acc.view(np.float64)
    by_key, by_team, by_tag = key_ok.shape[0] > 0, team_ok.shape[0] > 0, tag_ok.shape[0] > 0
    by_model, by_row = model_ok.shape[0] > 0, per_row.shape[0] > 0
    for i in range(lo, hi):
        if (by_key and not key_ok[key[i]]) or (by_team and not team_ok[team[i]]) or (
            by_tag and not tag_ok[tagset[i]]
        ):
            continue
        m = model[i]
        c = cost[i]
        model_requests[m] += 1  # cost by model: every filter but the models filter
        if not np.isnan(c):
            model_cost[m] += c
        if by_model and not model_ok[m]:
            continue
        g = team[i]
        b = per_row[i] if by_row else table[quarter[i] - q0]
        cnt[g, b] += 1
        cnt[g, n_buckets + m] += 1
        per_user[g, user[i]] += 1
        acc[g, REQUESTS] += 1
        acc[g, INPUT] += inp[i]
        acc[g, OUTPUT] += out[i]
        if np.isnan(c):
            acc[g, UNPRICED] += 1
        else:
            spent[g, COST] += c


@njit(cache=True, nogil=True)
def _group_chunk(
    lo, hi, acc, cnt, group,
    quarter, user, team, key, model, tagset, inp, out, cost,
    key_ok, team_ok, tag_ok, model_ok, q0, table, per_row,
):  # pragma: no cover - compiled
    spent = acc.view(np.float64)
    by_key, by_team, by_tag = key_ok.shape[0] > 0, team_ok.shape[0] > 0, tag_ok.shape[0] > 0
    by_model, by_row = model_ok.shape[0] > 0, per_row.shape[0] > 0
    for i in range(lo, hi):
        if (by_key and not key_ok[key[i]]) or (by_team and not team_ok[team[i]]) or (
            by_tag and not tag_ok[tagset[i]]
        ) or (by_model and not model_ok[model[i]]):
            continue
        g = group[i]
        b = per_row[i] if by_row else table[quarter[i] - q0]
        cnt[g, b] += 1
        acc[g, REQUESTS] += 1
        acc[g, INPUT] += inp[i]
        acc[g, OUTPUT] += out[i]
        c = cost[i]
        if np.isnan(c):
            acc[g, UNPRICED] += 1
        else:
            spent[g, COST] += c


_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="usage-widgets-pass")
MIN_CHUNK = 200_000  # below this, a second thread costs more than it saves


def _chunks(n: int) -> list[tuple[int, int]]:
    parts = max(1, min(_POOL._max_workers, n // MIN_CHUNK))
    return [(n * c // parts, n * (c + 1) // parts) for c in range(parts)]


def _run(chunk, bounds, make):
    """Run ``chunk`` over each part, on the pool when there are several; return their arrays."""
    outputs = [make() for _ in bounds]
    if len(bounds) == 1:
        chunk(*bounds[0], *outputs[0])
    else:
        for f in [_POOL.submit(chunk, lo, hi, *out) for (lo, hi), out in zip(bounds, outputs, strict=True)]:
            f.result()
    return outputs


def _merge(parts: list[tuple[np.ndarray, ...]]) -> tuple[np.ndarray, ...]:
    """Parts' accumulators added up; the latest team is that of the last part that saw one."""
    acc, *rest = (np.array(a, copy=True) for a in parts[0])
    for later in parts[1:]:
        part = later[0]
        seen = part[:, REQUESTS] > 0
        for j in (REQUESTS, INPUT, OUTPUT, UNPRICED):
            acc[:, j] += part[:, j]
        acc.view(np.float64)[:, COST] += part.view(np.float64)[:, COST]
        acc[seen, LAST_TEAM] = part[seen, LAST_TEAM]
        for total, extra in zip(rest, later[1:], strict=True):
            total += extra
    return (acc, *rest)


def _model_totals(n_models):
    return np.zeros(n_models, dtype=np.int64), np.zeros(n_models, dtype=np.float64)


def user_pass(columns, filters, buckets, n_buckets, n_users, n_models):
    """Per user: accumulator rows (`WIDTH` columns) and request counts per bucket then per
    model (``counts[u, b]`` and ``counts[u, n_buckets + m]``); then per model, requests and
    cost under every filter but the models filter."""

    def make():
        acc = np.zeros((n_users, WIDTH), dtype=np.int64)
        acc[:, LAST_TEAM] = -1
        return acc, np.zeros((n_users, n_buckets + n_models), dtype=np.int32), *_model_totals(n_models)

    def chunk(lo, hi, acc, counts, model_requests, model_cost):
        _user_chunk(lo, hi, acc, counts, model_requests, model_cost, *columns, *filters, *buckets, n_buckets)

    return _merge(_run(chunk, _chunks(len(columns[0])), make))


def team_pass(columns, filters, buckets, n_buckets, n_teams, n_users, n_models):
    """Per team: accumulator rows, request counts per bucket then per model, and per user;
    then per model, requests and cost under every filter but the models filter."""

    def make():
        return (
            np.zeros((n_teams, WIDTH), dtype=np.int64),
            np.zeros((n_teams, n_buckets + n_models), dtype=np.int32),
            np.zeros((n_teams, n_users), dtype=np.int32),
            *_model_totals(n_models),
        )

    def chunk(lo, hi, acc, counts, users, model_requests, model_cost):
        _team_chunk(
            lo, hi, acc, counts, users, model_requests, model_cost, *columns, *filters, *buckets, n_buckets
        )

    return _merge(_run(chunk, _chunks(len(columns[0])), make))


def group_pass(columns, filters, buckets, n_buckets, group, n_groups):
    """Per code of ``group`` (the slice's user or team column): accumulator rows (without
    ``LAST_TEAM``) and request counts per bucket. The lean pass behind the previous period's
    KPIs and the anomaly rule's daily counts."""

    def make():
        return np.zeros((n_groups, WIDTH), dtype=np.int64), np.zeros((n_groups, n_buckets), dtype=np.int32)

    def chunk(lo, hi, acc, counts):
        _group_chunk(lo, hi, acc, counts, group, *columns, *filters, *buckets)

    return _merge(_run(chunk, _chunks(len(columns[0])), make))


@njit(cache=True, nogil=True)
def hash_strings(offsets, data):  # pragma: no cover - compiled
    """Two independent 64-bit hashes of each string of an Arrow string buffer (FNV-1a, and a
    multiplicative hash from another seed, each finished by splitmix64's mixer)."""
    n = offsets.shape[0] - 1
    h1 = np.empty(n, dtype=np.uint64)
    h2 = np.empty(n, dtype=np.uint64)
    for i in range(n):
        a = np.uint64(0xCBF29CE484222325)
        b = np.uint64(0x243F6A8885A308D3)
        for j in range(offsets[i], offsets[i + 1]):
            byte = np.uint64(data[j])
            a = (a ^ byte) * np.uint64(0x100000001B3)
            b = (b + byte + np.uint64(1)) * np.uint64(0x9E3779B97F4A7C15)
        length = np.uint64(offsets[i + 1] - offsets[i])
        h1[i] = _mix(a ^ length)
        h2[i] = _mix(b ^ (length << np.uint64(32)))
    return h1, h2


@njit(cache=True, nogil=True)
def _mix(z):  # pragma: no cover - compiled
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@njit(cache=True, nogil=True)
def bits_by_row(offsets, codes):  # pragma: no cover - compiled
    """Per row of a list column: its values' codes (each below 64) as the bits of one word."""
    n = offsets.shape[0] - 1
    out = np.zeros(n, dtype=np.uint64)
    for i in range(n):
        word = np.uint64(0)
        for j in range(offsets[i], offsets[i + 1]):
            word |= np.uint64(1) << np.uint64(codes[j])
        out[i] = word
    return out
