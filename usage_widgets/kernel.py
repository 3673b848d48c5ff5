"""The report's compiled passes over the selected requests (numba), the order rows are kept in
for them, and the hashing behind request ids and tag sets.

The store keeps each finished UTC day's requests sorted by user, then model, then time
(`block_order`), and only the latest day in time order. A finished day's rows fall into
groups, runs of one user, team and model, whose totals the store keeps (`group_totals`), and
a group's requests of one API key and tag set form a subgroup, whose totals it keeps too,
with the group's rows in order of subgroup (`subgroup_totals`).

A view's pass covers the UTC days from the earlier of the window's start and the anomaly
rule's 29 rolling days to the window's end, cut into segments: the spans between consecutive
edges of the buckets and the rolling days, each with its bucket and its rolling day. It updates
every accumulator the view needs: totals, requests per bucket, per model and per rolling day,
and the per-model totals behind cost by model (before the models filter).

- A finished day is read a group at a time (`_groups_view_chunk`): its stored totals, and a
  binary search on its times only where an edge falls inside it. So is the latest day when
  the store has grouped a sorted copy of it (`usage_widgets.store.RequestStore.latest_groups`,
  made at the first report after a change).
- Under a key or tag filter (those vary inside a group), a group is read a subgroup at a time
  (`_filtered_groups_view_chunk`): the totals of the subgroups that pass, and where an edge
  cuts the group, a binary search for it on the group's times, then on each subgroup's rows.
  A group none of whose subgroups passes is left before any search (most groups, under a
  narrow filter).
  The latest day's copy gets its subgroups when such a pass first reads it.
- Otherwise (the latest day without the copy), requests are read one by one (`_view_chunk`):
  a request's segment comes from its quarter hour (`usage_widgets.timewindow.quarter_table`,
  exact, with the request's own time deciding in the few quarters an edge splits), and a
  user's requests of one model and segment are added up in registers before they touch the
  user's counters.

A lean pass gives the previous period's totals, the same three ways, where the store's totals
of its finished days cannot (`pair_totals` reads them per API key and tag set under key and tag
filters, `pair_sums` makes them when a day is finished). The work is cut into one
part per core (each an equal share of the groups and of the rows), each run on its own thread
(the compiled code releases the GIL) with its own accumulators, added up at the end.
Scattered updates to per-user counters are what costs most. The compiled code is cached on
disk (``cache=True``): only the first run on a machine pays for compiling.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from .timewindow import OUTSIDE, QUARTER_NS, SPLIT

# Columns of the per-entity accumulator rows (int64; COST holds float64 bits; LAST_TEAM is the
# team of the latest request, at time LAST_TS, the later of one instant's by LAST_SEQ).
REQUESTS, INPUT, OUTPUT, UNPRICED, LAST_TEAM, COST, LAST_TS, LAST_SEQ = range(8)
WIDTH = 8
# Columns of a group's row (`group_totals`; int64): what its rows add up to, what they share,
# and the times of its first and last request.
G_REQUESTS, G_UNPRICED, G_INPUT, G_OUTPUT, G_USER, G_TEAM, G_MODEL, G_FIRST, G_LAST, G_LAST_SEQ = range(10)
# Columns of a subgroup's row (`subgroup_totals`; int64): the API key and tag set its requests
# share, what they add up to, and the time and order of the latest of them.
S_KEY, S_TAGSET, S_REQUESTS, S_UNPRICED, S_INPUT, S_OUTPUT, S_LAST, S_LAST_SEQ = range(8)


@njit(cache=True, nogil=True)
def block_order(starts, user, model, n_users, n_models):  # pragma: no cover - compiled
    """The order that sorts each day's rows (``starts``: where each day begins, and where the
    last ends; rows given in time order) by user, then model, then time: per day, two stable
    counting sorts, by model and then by user."""
    order = np.arange(user.shape[0])
    by_model = np.empty_like(order)
    for d in range(starts.shape[0] - 1):
        _counting_sort(model, n_models, order, by_model, starts[d], starts[d + 1])
        _counting_sort(user, n_users, by_model, order, starts[d], starts[d + 1])
    return order


@njit(cache=True, nogil=True)
def _counting_sort(keys, size, source, target, lo, hi):  # pragma: no cover - compiled
    """``target[lo:hi]``: the rows ``source[lo:hi]`` stably sorted by ``keys[row]`` (< size)."""
    at = np.zeros(size + 1, dtype=np.int64)
    for i in range(lo, hi):
        at[keys[source[i]] + 1] += 1
    at[0] = lo
    for k in range(size):
        at[k + 1] += at[k]
    for i in range(lo, hi):
        row = source[i]
        k = keys[row]
        target[at[k]] = row
        at[k] += 1


@njit(cache=True, nogil=True)
def _view_chunk(
    lo, hi, acc, cnt, per_user, model_requests, model_cost, team_view,
    ts, quarter, user, team, key, model, tagset, inp, out, cost, seq,
    key_ok, team_ok, tag_ok, model_ok, q0, table, edges, seg_bucket, seg_period, n_buckets, n_models,
):  # pragma: no cover - compiled
    """Requests one by one (see the module): the latest day without its sorted copy."""
    spent = acc.view(np.float64)
    by_key, by_team, by_tag = key_ok.shape[0] > 0, team_ok.shape[0] > 0, tag_ok.shape[0] > 0
    by_model = model_ok.shape[0] > 0
    n_segments = edges.shape[0] - 1
    cu, ct, cm, cs, last = -1, -1, -1, -1, -1  # the run: user, team, model, segment, last row
    requests, tokens_in, tokens_out, unpriced, total = 0, 0, 0, 0, 0.0
    for i in range(lo, hi + 1):
        end = i == hi
        if not end:
            if (
                (by_key and not key_ok[key[i]])
                or (by_team and not team_ok[team[i]])
                or (by_tag and not tag_ok[tagset[i]])
            ):
                continue
            s = table[quarter[i] - q0]
            if s == SPLIT:  # an edge falls inside this quarter hour: the request's own time decides
                s = np.searchsorted(edges, ts[i], side="right") - 1
                if s >= n_segments:
                    s = OUTSIDE
            if s < 0:
                continue
            u, t, m = user[i], team[i], model[i]
        else:
            s, u, t, m = -1, -1, -1, -1
        if end or u != cu or t != ct or m != cm or s != cs:
            if cu >= 0:  # the run ends: its totals go to the accumulators
                b, p = seg_bucket[cs], seg_period[cs]
                if b >= 0:  # cost by model: every filter but the models filter
                    model_requests[cm] += requests
                    model_cost[cm] += total
                if not by_model or model_ok[cm]:
                    g = ct if team_view else cu
                    if p >= 0:
                        cnt[g, n_buckets + n_models + p] += requests
                    if b >= 0:
                        cnt[g, b] += requests
                        cnt[g, n_buckets + cm] += requests
                        if team_view:
                            per_user[g, cu] += requests
                        acc[g, REQUESTS] += requests
                        acc[g, INPUT] += tokens_in
                        acc[g, OUTPUT] += tokens_out
                        acc[g, UNPRICED] += unpriced
                        spent[g, COST] += total
                        _latest_team(acc, g, ts[last], seq[last], ct)
            if end:
                break
            cu, ct, cm, cs = u, t, m, s
            requests, tokens_in, tokens_out, unpriced, total = 0, 0, 0, 0, 0.0
        requests += 1
        unpriced, tokens_in, tokens_out, total = _with_row(
            i, inp, out, cost, unpriced, tokens_in, tokens_out, total
        )
        last = i


@njit(cache=True, nogil=True)
def merge_order(user_a, model_a, user_b, model_b):  # pragma: no cover - compiled
    """How to merge rows ``a`` and then ``b``, each sorted by user, then model: positions into
    their concatenation, ``a``'s first among rows of one user and model."""
    na, nb = user_a.shape[0], user_b.shape[0]
    order = np.empty(na + nb, dtype=np.int64)
    i, j = 0, 0
    for p in range(na + nb):
        if j == nb:
            first = True
        elif i == na:
            first = False
        else:
            first = user_a[i] < user_b[j] or (user_a[i] == user_b[j] and model_a[i] <= model_b[j])
        if first:
            order[p] = i
            i += 1
        else:
            order[p] = na + j
            j += 1
    return order


@njit(cache=True, nogil=True)
def group_totals(starts, ts, seq, user, team, model, inp, out, cost):  # pragma: no cover - compiled
    """The groups of finished days (rows sorted by `block_order`; ``starts``: where each day
    begins, and where the last ends): runs of one user, team and model. Returns where each
    begins, per group its row of `G_REQUESTS` .. `G_LAST`, and its cost."""
    n = user.shape[0]
    begins = np.empty(n, dtype=np.int64)
    g, d = 0, 0
    for i in range(n):
        if i == starts[d]:
            d += 1
            begins[g] = i
            g += 1
        elif user[i] != user[i - 1] or team[i] != team[i - 1] or model[i] != model[i - 1]:
            begins[g] = i
            g += 1
    begins = begins[:g]
    sums = np.zeros((g, G_LAST_SEQ + 1), dtype=np.int64)
    spent = np.zeros(g, dtype=np.float64)
    for k in range(g):
        a, b = begins[k], begins[k + 1] if k + 1 < g else n
        sums[k, G_USER], sums[k, G_TEAM], sums[k, G_MODEL] = user[a], team[a], model[a]
        sums[k, G_FIRST], sums[k, G_LAST], sums[k, G_LAST_SEQ] = ts[a], ts[b - 1], seq[b - 1]
        requests, unpriced, tokens_in, tokens_out, spent[k] = _row_sums(a, b, inp, out, cost)
        sums[k, G_REQUESTS], sums[k, G_UNPRICED] = requests, unpriced
        sums[k, G_INPUT], sums[k, G_OUTPUT] = tokens_in, tokens_out
    return begins, sums, spent


SMALL_GROUP = 32  # up to this many subgroups, a group's are found by comparing, not sorting


@njit(cache=True, nogil=True)
def subgroup_totals(begins, key, tagset, ts, seq, inp, out, cost, order):  # pragma: no cover - compiled
    """The subgroups of groups (``begins``: where each begins, and where the last ends; a
    group's rows in time order): a group's requests of one API key and tag set. Returns where
    each group's subgroups begin (and the last ends), per subgroup its row of `S_KEY` ..
    `S_LAST_SEQ`, and its cost; fills ``order`` with each group's rows by subgroup, then time
    (as offsets from the group's first row), so that a subgroup's rows follow its group's
    subgroups before it. A subgroup adds up its requests in time order."""
    n_groups = begins.shape[0] - 1
    found = np.zeros(n_groups + 1, dtype=np.int64)
    keys, sets = np.empty(SMALL_GROUP, dtype=np.int64), np.empty(SMALL_GROUP, dtype=np.int64)
    for k in range(n_groups):  # how many each group has
        a, b = begins[k], begins[k + 1]
        e = _few_pairs(a, b, key, tagset, keys, sets)
        if e < 0:
            rows = _pair_order(a, b, key, tagset)
            e = 1
            for r in range(1, rows.shape[0]):
                e += _new_pair(rows[r - 1], rows[r], key, tagset)
        found[k + 1] = found[k] + e
    sums = np.zeros((found[n_groups], S_LAST_SEQ + 1), dtype=np.int64)
    spent = np.zeros(found[n_groups], dtype=np.float64)
    which = np.empty(key.shape[0], dtype=np.int8)  # a row's subgroup in its group
    place = np.empty(SMALL_GROUP, dtype=np.int64)
    for k in range(n_groups):
        a, b, j0 = begins[k], begins[k + 1], found[k]
        e = _few_pairs(a, b, key, tagset, keys, sets)
        if e >= 0:  # found by comparing
            for j in range(e):
                sums[j0 + j, S_KEY], sums[j0 + j, S_TAGSET] = keys[j], sets[j]
            for i in range(a, b):
                j = 0
                while keys[j] != key[i] or sets[j] != tagset[i]:
                    j += 1
                which[i] = j
                _add_request(sums, spent, j0 + j, i, ts, seq, inp, out, cost)
            place[0] = a
            for j in range(1, e):
                place[j] = place[j - 1] + sums[j0 + j - 1, S_REQUESTS]
            for i in range(a, b):
                order[place[which[i]]] = i - a
                place[which[i]] += 1
        else:  # by sorting
            rows = _pair_order(a, b, key, tagset)
            j = j0 - 1
            for r in range(rows.shape[0]):
                i = rows[r]
                if r == 0 or _new_pair(rows[r - 1], i, key, tagset):
                    j += 1
                    sums[j, S_KEY], sums[j, S_TAGSET] = key[i], tagset[i]
                _add_request(sums, spent, j, i, ts, seq, inp, out, cost)
                order[a + r] = i - a
    return found, sums, spent


@njit(cache=True, nogil=True, inline="always")
def _few_pairs(a, b, key, tagset, keys, sets):  # pragma: no cover - compiled
    """How many distinct key and tag set pairs rows ``a:b`` have, put in ``keys`` and ``sets``
    in order of first appearance; -1 when there are more than `SMALL_GROUP`."""
    e = 0
    for i in range(a, b):
        j = 0
        while j < e and (keys[j] != key[i] or sets[j] != tagset[i]):
            j += 1
        if j == e:
            if e == SMALL_GROUP:
                return -1
            keys[e], sets[e] = key[i], tagset[i]
            e += 1
    return e


@njit(cache=True, nogil=True)
def _pair_order(a, b, key, tagset):  # pragma: no cover - compiled
    """Rows ``a:b`` sorted by key and tag set, stably (so in time order within each pair)."""
    pairs = (key[a:b].astype(np.int64) << 32) | tagset[a:b].astype(np.int64)
    return np.argsort(pairs, kind="mergesort") + a


@njit(cache=True, nogil=True, inline="always")
def _new_pair(before, row, key, tagset):  # pragma: no cover - compiled
    return key[row] != key[before] or tagset[row] != tagset[before]


@njit(cache=True, nogil=True, inline="always")
def _add_request(sums, spent, j, i, ts, seq, inp, out, cost):  # pragma: no cover - compiled
    """Add request ``i`` (later than those added before) to subgroup ``j``."""
    c = cost[i]
    if np.isnan(c):
        sums[j, S_UNPRICED] += 1
    else:
        spent[j] += c
    sums[j, S_REQUESTS] += 1
    sums[j, S_INPUT] += inp[i]
    sums[j, S_OUTPUT] += out[i]
    sums[j, S_LAST], sums[j, S_LAST_SEQ] = ts[i], seq[i]


@njit(cache=True, nogil=True, inline="always")
def _with_row(i, inp, out, cost, unpriced, tokens_in, tokens_out, total):  # pragma: no cover - compiled
    """Running sums (unpriced requests, input and output tokens, cost) with request ``i``
    added: a request of unknown price counts as unpriced, its cost not at all."""
    c = cost[i]
    if np.isnan(c):
        return unpriced + 1, tokens_in + inp[i], tokens_out + out[i], total
    return unpriced, tokens_in + inp[i], tokens_out + out[i], total + c


@njit(cache=True, nogil=True, inline="always")
def _row_sums(a, b, inp, out, cost):  # pragma: no cover - compiled
    """Requests, unpriced requests, input and output tokens and cost of rows ``a:b``."""
    unpriced, tokens_in, tokens_out, total = 0, 0, 0, 0.0
    for i in range(a, b):
        unpriced, tokens_in, tokens_out, total = _with_row(
            i, inp, out, cost, unpriced, tokens_in, tokens_out, total
        )
    return b - a, unpriced, tokens_in, tokens_out, total


@njit(cache=True, nogil=True, inline="always")
def _part_sums(k, a, b, wa, wb, sums, spent, inp, out, cost):  # pragma: no cover - compiled
    """Requests, unpriced requests, input and output tokens and cost of rows ``wa:wb`` of
    group ``k`` (rows ``a:b``): its totals when that is the whole group, else added up."""
    if wa == a and wb == b:
        return sums[k, G_REQUESTS], sums[k, G_UNPRICED], sums[k, G_INPUT], sums[k, G_OUTPUT], spent[k]
    return _row_sums(wa, wb, inp, out, cost)


SCAN_ROWS = 24  # up to this many rows, `_rows_from` counts rather than searches


@njit(cache=True, nogil=True, inline="always")
def _rows_from(ts, a, b, first, last, at):  # pragma: no cover - compiled
    """The first row of ``a:b`` (in time order, from ``first`` to ``last``) at or after ``at``."""
    if first >= at:
        return a
    if last < at:
        return b
    if b - a <= SCAN_ROWS:
        before = 0  # a few rows: counted without branches, faster than a binary search
        for i in range(a, b):
            before += ts[i] < at
        return a + before
    base, n = a, b - a  # a binary search whose steps are selects, not branches to mispredict
    while n > 1:
        half = n >> 1
        base = base + half if ts[base + half - 1] < at else base
        n -= half
    return base + (ts[base] < at)


@njit(cache=True, nogil=True)
def _groups_view_chunk(
    k_lo, k_hi, acc, cnt, per_user, model_requests, model_cost, team_view,
    bounds, offset, sums, spent, ts, inp, out, cost, seq, team_ok, model_ok,
    q0, table, edges, seg_bucket, seg_period, window_lo, window_hi, n_buckets, n_models,
):  # pragma: no cover - compiled
    """`_view_chunk` for groups of finished days (no key or tag filter): each group's rows
    per segment are counted on their times (`_rows_from`) from the segment of its first
    request on, and its totals are its stored sums unless the window cuts it."""
    by_team, by_model = team_ok.shape[0] > 0, model_ok.shape[0] > 0
    n_segments = edges.shape[0] - 1
    total_spent = acc.view(np.float64)
    for k in range(k_lo, k_hi):
        t = sums[k, G_TEAM]
        if by_team and not team_ok[t]:
            continue
        first, last = sums[k, G_FIRST], sums[k, G_LAST]
        if last < edges[0] or first >= edges[n_segments]:
            continue
        a, b = bounds[k] - offset, bounds[k + 1] - offset
        u, m = sums[k, G_USER], sums[k, G_MODEL]
        g = t if team_view else u
        keep = not by_model or model_ok[m]
        if keep:  # requests per segment: per bucket, per model and per rolling day
            i, s = a, 0
            if first < edges[0]:
                i = _rows_from(ts, a, b, first, last, edges[0])
            else:
                s = _segment(table, q0, edges, first)
            whole = i == a and last < edges[s + 1]  # most groups lie in one segment
            while i < b and s < n_segments:
                j = b if whole else _rows_from(ts, i, b, first, last, edges[s + 1])
                c = j - i
                if c:  # as `_count`, written out: through it this loop took 35% longer
                    bucket, period = seg_bucket[s], seg_period[s]
                    if period >= 0:
                        cnt[g, n_buckets + n_models + period] += c
                    if bucket >= 0:
                        cnt[g, bucket] += c
                        cnt[g, n_buckets + m] += c
                        if team_view:
                            per_user[g, u] += c
                i = j
                s += 1
        # Wholly inside the window: its sums. (Written out here: the same test through a
        # returned tuple, as `_part_sums` gives the totals pass, made this loop 40% slower.)
        if first >= window_lo and last < window_hi:
            wb = b
            requests, unpriced = sums[k, G_REQUESTS], sums[k, G_UNPRICED]
            tokens_in, tokens_out, total = sums[k, G_INPUT], sums[k, G_OUTPUT], spent[k]
        else:
            wa = _rows_from(ts, a, b, first, last, window_lo)
            wb = _rows_from(ts, a, b, first, last, window_hi)
            if wb <= wa:
                continue
            requests, unpriced, tokens_in, tokens_out, total = _row_sums(wa, wb, inp, out, cost)
        model_requests[m] += requests  # cost by model: every filter but the models filter
        model_cost[m] += total
        if not keep:
            continue
        acc[g, REQUESTS] += requests
        acc[g, INPUT] += tokens_in
        acc[g, OUTPUT] += tokens_out
        acc[g, UNPRICED] += unpriced
        total_spent[g, COST] += total
        if wb == b:
            _latest_team(acc, g, last, sums[k, G_LAST_SEQ], t)
        else:
            _latest_team(acc, g, ts[wb - 1], seq[wb - 1], t)


@njit(cache=True, nogil=True)
def _groups_totals_chunk(
    k_lo, k_hi, seen, totals, spent_out, bounds, offset, sums, spent, ts, inp, out, cost, seq,
    team_ok, model_ok, lo_ns, hi_ns,
):  # pragma: no cover - compiled
    """`_totals_chunk` for groups of finished days (no key or tag filter), from their sums."""
    by_team, by_model = team_ok.shape[0] > 0, model_ok.shape[0] > 0
    for k in range(k_lo, k_hi):
        a, b = bounds[k] - offset, bounds[k + 1] - offset
        if (by_team and not team_ok[sums[k, G_TEAM]]) or (by_model and not model_ok[sums[k, G_MODEL]]):
            continue
        first, last = sums[k, G_FIRST], sums[k, G_LAST]
        wa = _rows_from(ts, a, b, first, last, lo_ns)
        wb = _rows_from(ts, a, b, first, last, hi_ns)
        if wb <= wa:
            continue
        part = _part_sums(k, a, b, wa, wb, sums, spent, inp, out, cost)
        requests, unpriced, tokens_in, tokens_out, total = part
        seen[sums[k, G_USER]] = 1
        totals[REQUESTS] += requests
        totals[INPUT] += tokens_in
        totals[OUTPUT] += tokens_out
        totals[UNPRICED] += unpriced
        spent_out[0] += total


@njit(cache=True, nogil=True)
def _filtered_groups_view_chunk(
    k_lo, k_hi, acc, cnt, per_user, model_requests, model_cost, team_view,
    bounds, offset, sums, spent, sub_bounds, sub_sums, sub_cost, order, ts, inp, out, cost, seq,
    key_ok, team_ok, tag_ok, model_ok, q0, table, edges, seg_bucket, seg_period, window_lo, window_hi,
    n_buckets, n_models,
):  # pragma: no cover - compiled
    """`_groups_view_chunk` under a key or tag filter, a subgroup at a time (`subgroup_totals`).
    A group's rows per segment, and in the window, are found on its times (`_rows_from`) as
    spans of its rows; a subgroup's rows in a span are counted on ``order`` (the group's rows
    by subgroup, each subgroup's in time order), and its totals are its sums when the window
    holds the group whole."""
    by_key, by_team, by_tag, by_model = (
        key_ok.shape[0] > 0, team_ok.shape[0] > 0, tag_ok.shape[0] > 0, model_ok.shape[0] > 0
    )
    n_segments = edges.shape[0] - 1
    total_spent = acc.view(np.float64)
    span_segment = np.empty(n_segments, dtype=np.int64)  # per span of a group's rows: its segment,
    span_end = np.empty(n_segments, dtype=np.int64)  # where it ends (from the group's first row),
    span_count = np.zeros(n_segments, dtype=np.int64)  # and how many of its requests pass
    for k in range(k_lo, k_hi):
        t = sums[k, G_TEAM]
        if by_team and not team_ok[t]:
            continue
        first, last = sums[k, G_FIRST], sums[k, G_LAST]
        if last < edges[0] or first >= edges[n_segments]:
            continue
        a, b = bounds[k] - offset, bounds[k + 1] - offset
        j0, rb = sub_bounds[k], a  # its first subgroup that passes, where its rows begin (below)
        while j0 < sub_bounds[k + 1] and (
            (by_key and not key_ok[sub_sums[j0, S_KEY]]) or (by_tag and not tag_ok[sub_sums[j0, S_TAGSET]])
        ):
            rb += sub_sums[j0, S_REQUESTS]
            j0 += 1
        if j0 == sub_bounds[k + 1]:
            continue  # none passes
        u, m = sums[k, G_USER], sums[k, G_MODEL]
        g = t if team_view else u
        keep = not by_model or model_ok[m]
        i, s = a, 0
        if first < edges[0]:
            i = _rows_from(ts, a, b, first, last, edges[0])
        else:
            s = _segment(table, q0, edges, first)
        start, spans = i - a, 0
        while i < b and s < n_segments:
            j = b if last < edges[s + 1] else _rows_from(ts, i, b, first, last, edges[s + 1])
            if j > i:
                span_segment[spans], span_end[spans] = s, j - a
                spans += 1
            i = j
            s += 1
        whole = first >= window_lo and last < window_hi
        wa, wb = 0, b - a
        if not whole:
            wa = _rows_from(ts, a, b, first, last, window_lo) - a
            wb = _rows_from(ts, a, b, first, last, window_hi) - a
        requests, unpriced, tokens_in, tokens_out, total = 0, 0, 0, 0, 0.0
        latest, latest_seq = np.iinfo(np.int64).min, 0
        for j in range(j0, sub_bounds[k + 1]):  # the group's rows by subgroup are ``a + order[a:b]``
            ra = rb
            rb = ra + sub_sums[j, S_REQUESTS]
            if (by_key and not key_ok[sub_sums[j, S_KEY]]) or (by_tag and not tag_ok[sub_sums[j, S_TAGSET]]):
                continue
            if spans == 1 and start == 0 and span_end[0] == b - a:  # as most groups: in one segment
                span_count[0] += rb - ra
            else:  # the spans from that of its first row to that of its last
                first_at, last_at = order[ra], order[rb - 1]
                p = ra if first_at >= start else _offset_from(order, ra, rb, start)
                for x in range(spans):
                    if span_end[x] <= first_at:
                        continue
                    q = rb if span_end[x] > last_at else _offset_from(order, p, rb, span_end[x])
                    span_count[x] += q - p
                    p = q
                    if q == rb:
                        break
            if whole:
                requests += sub_sums[j, S_REQUESTS]
                unpriced += sub_sums[j, S_UNPRICED]
                tokens_in += sub_sums[j, S_INPUT]
                tokens_out += sub_sums[j, S_OUTPUT]
                total += sub_cost[j]
                at, at_seq = sub_sums[j, S_LAST], sub_sums[j, S_LAST_SEQ]
            else:
                pa = _offset_from(order, ra, rb, wa)
                pb = _offset_from(order, pa, rb, wb)
                if pb == pa:
                    continue
                for r in range(pa, pb):
                    unpriced, tokens_in, tokens_out, total = _with_row(
                        a + order[r], inp, out, cost, unpriced, tokens_in, tokens_out, total
                    )
                requests += pb - pa
                at, at_seq = ts[a + order[pb - 1]], seq[a + order[pb - 1]]
            if at > latest or (at == latest and at_seq > latest_seq):
                latest, latest_seq = at, at_seq
        for x in range(spans):
            if span_count[x] and keep:
                _count(cnt, per_user, g, u, m, span_segment[x], span_count[x], seg_bucket, seg_period,
                       n_buckets, n_models, team_view)  # fmt: skip
            span_count[x] = 0
        if not requests:
            continue
        model_requests[m] += requests  # cost by model: every filter but the models filter
        model_cost[m] += total
        if not keep:
            continue
        acc[g, REQUESTS] += requests
        acc[g, INPUT] += tokens_in
        acc[g, OUTPUT] += tokens_out
        acc[g, UNPRICED] += unpriced
        total_spent[g, COST] += total
        _latest_team(acc, g, latest, latest_seq, t)


@njit(cache=True, nogil=True, inline="always")
def _segment(table, q0, edges, at):  # pragma: no cover - compiled
    """The segment of instant ``at`` (between the first and last edges)."""
    s = table[at // QUARTER_NS - q0]
    if s < 0:  # an edge splits its quarter hour
        s = np.searchsorted(edges, at, side="right") - 1
    return s


@njit(cache=True, nogil=True, inline="always")
def _offset_from(order, lo, hi, at):  # pragma: no cover - compiled
    """The first of positions ``lo:hi`` (of a subgroup, whose ``order`` rises) whose row is
    ``at`` or later in its group."""
    return lo if hi <= lo else _rows_from(order, lo, hi, order[lo], order[hi - 1], at)


@njit(cache=True, nogil=True, inline="always")
def _count(
    cnt, per_user, g, u, m, s, c, seg_bucket, seg_period, n_buckets, n_models, team_view
):  # pragma: no cover - compiled
    """Add ``c`` requests of user ``u`` and model ``m`` in segment ``s`` to row ``g``'s counts."""
    bucket, period = seg_bucket[s], seg_period[s]
    if period >= 0:
        cnt[g, n_buckets + n_models + period] += c
    if bucket >= 0:
        cnt[g, bucket] += c
        cnt[g, n_buckets + m] += c
        if team_view:
            per_user[g, u] += c


@njit(cache=True, nogil=True)
def _filtered_groups_totals_chunk(
    k_lo, k_hi, seen, totals, spent_out, bounds, offset, sums, spent, sub_bounds, sub_sums, sub_cost,
    order, ts, inp, out, cost, seq, key_ok, team_ok, tag_ok, model_ok, lo_ns, hi_ns,
):  # pragma: no cover - compiled
    """`_groups_totals_chunk` under a key or tag filter, a subgroup at a time: its sums when the
    period holds its group whole, else those of its requests in the period's span of the
    group's rows (as `_filtered_groups_view_chunk` finds them)."""
    by_key, by_team, by_tag, by_model = (
        key_ok.shape[0] > 0, team_ok.shape[0] > 0, tag_ok.shape[0] > 0, model_ok.shape[0] > 0
    )
    for k in range(k_lo, k_hi):
        if (by_team and not team_ok[sums[k, G_TEAM]]) or (by_model and not model_ok[sums[k, G_MODEL]]):
            continue
        first, last = sums[k, G_FIRST], sums[k, G_LAST]
        if last < lo_ns or first >= hi_ns:
            continue
        a, b = bounds[k] - offset, bounds[k + 1] - offset
        j0, rb = sub_bounds[k], a  # its first subgroup that passes, where its rows begin (below)
        while j0 < sub_bounds[k + 1] and (
            (by_key and not key_ok[sub_sums[j0, S_KEY]]) or (by_tag and not tag_ok[sub_sums[j0, S_TAGSET]])
        ):
            rb += sub_sums[j0, S_REQUESTS]
            j0 += 1
        if j0 == sub_bounds[k + 1]:
            continue  # none passes
        whole = first >= lo_ns and last < hi_ns
        wa = _rows_from(ts, a, b, first, last, lo_ns) - a
        wb = _rows_from(ts, a, b, first, last, hi_ns) - a
        requests, unpriced, tokens_in, tokens_out, total = 0, 0, 0, 0, 0.0
        for j in range(j0, sub_bounds[k + 1]):  # the group's rows by subgroup are ``a + order[a:b]``
            ra = rb
            rb = ra + sub_sums[j, S_REQUESTS]
            if (by_key and not key_ok[sub_sums[j, S_KEY]]) or (by_tag and not tag_ok[sub_sums[j, S_TAGSET]]):
                continue
            if whole:
                requests += sub_sums[j, S_REQUESTS]
                unpriced += sub_sums[j, S_UNPRICED]
                tokens_in += sub_sums[j, S_INPUT]
                tokens_out += sub_sums[j, S_OUTPUT]
                total += sub_cost[j]
            else:
                pa = _offset_from(order, ra, rb, wa)
                pb = _offset_from(order, pa, rb, wb)
                for r in range(pa, pb):
                    unpriced, tokens_in, tokens_out, total = _with_row(
                        a + order[r], inp, out, cost, unpriced, tokens_in, tokens_out, total
                    )
                requests += pb - pa
        if not requests:
            continue
        seen[sums[k, G_USER]] = 1
        totals[REQUESTS] += requests
        totals[INPUT] += tokens_in
        totals[OUTPUT] += tokens_out
        totals[UNPRICED] += unpriced
        spent_out[0] += total


@njit(cache=True, nogil=True)
def pair_sums(order, day, user, sub_sums, sub_cost):  # pragma: no cover - compiled
    """Subgroups (``sub_sums``, ``sub_cost``, each of a user and a day), read in ``order`` (by
    day, key, tag set and user), added up by day, key and tag set (pairs): per pair its day,
    its row of `S_KEY` .. `S_OUTPUT`, its cost, and where its users begin among the users
    kept (each once per pair; the last place is where the last pair's end), and the users."""
    n = order.shape[0]
    pair_day = np.empty(n, np.int64)
    sums = np.zeros((n, S_OUTPUT + 1), np.int64)
    cost = np.zeros(n, np.float64)
    places = np.empty(n + 1, np.int64)
    users = np.empty(n, np.int64)
    p, u = -1, 0
    for r in range(n):
        j = order[r]
        if p < 0 or day[j] != pair_day[p] or sub_sums[j, S_KEY] != sums[p, S_KEY] or (
            sub_sums[j, S_TAGSET] != sums[p, S_TAGSET]
        ):
            p += 1
            pair_day[p], sums[p, S_KEY], sums[p, S_TAGSET] = day[j], sub_sums[j, S_KEY], sub_sums[j, S_TAGSET]
            places[p] = u
            users[u] = user[j]
            u += 1
        elif user[j] != users[u - 1]:
            users[u] = user[j]
            u += 1
        for c in range(S_REQUESTS, S_OUTPUT + 1):
            sums[p, c] += sub_sums[j, c]
        cost[p] += sub_cost[j]
    places[p + 1] = u
    n = p + 1  # copies: the arrays above are as long as the subgroups
    return pair_day[:n].copy(), sums[:n].copy(), cost[:n].copy(), places[: n + 1].copy(), users[:u].copy()


@njit(cache=True, nogil=True)
def pair_totals(sums, cost, user_bounds, users, key_ok, tag_ok, seen):  # pragma: no cover - compiled
    """Requests, unpriced requests, input and output tokens (int64 array indexed like the
    accumulator rows) and cost of the finished days' pairs (`usage_widgets.store.DayPairs`:
    ``sums``, ``cost``, ``user_bounds``, ``users``) that pass the key and tag filters; their
    users are marked in ``seen``."""
    by_key, by_tag = key_ok.shape[0] > 0, tag_ok.shape[0] > 0
    totals, spent = np.zeros(WIDTH, np.int64), 0.0
    for j in range(sums.shape[0]):
        if (by_key and not key_ok[sums[j, S_KEY]]) or (by_tag and not tag_ok[sums[j, S_TAGSET]]):
            continue
        totals[REQUESTS] += sums[j, S_REQUESTS]
        totals[UNPRICED] += sums[j, S_UNPRICED]
        totals[INPUT] += sums[j, S_INPUT]
        totals[OUTPUT] += sums[j, S_OUTPUT]
        spent += cost[j]
        for i in range(user_bounds[j], user_bounds[j + 1]):
            seen[users[i]] = True
    return totals, spent


@njit(cache=True, nogil=True, inline="always")
def _latest_team(acc, g, ts, seq, team):  # pragma: no cover - compiled
    """Keep ``team`` as row ``g``'s latest team when its request (at ``ts``, ``seq``) is the
    latest yet: of one instant's, the one that came later."""
    if ts > acc[g, LAST_TS] or (ts == acc[g, LAST_TS] and seq >= acc[g, LAST_SEQ]):
        acc[g, LAST_TS], acc[g, LAST_SEQ], acc[g, LAST_TEAM] = ts, seq, team


@njit(cache=True, nogil=True)
def _totals_chunk(
    lo, hi, seen, sums, spent, ts, quarter, user, team, key, model, tagset, inp, out, cost, seq,
    key_ok, team_ok, tag_ok, model_ok, q0, table, edges,
):  # pragma: no cover - compiled
    """Requests one by one for `totals_pass`: a request counts when its filters pass and its
    quarter hour (its own time, where an edge splits the quarter) lies in the period."""
    by_key, by_team, by_tag = key_ok.shape[0] > 0, team_ok.shape[0] > 0, tag_ok.shape[0] > 0
    by_model = model_ok.shape[0] > 0
    requests, tokens_in, tokens_out, unpriced, total = 0, 0, 0, 0, 0.0
    for i in range(lo, hi):
        if (
            (by_key and not key_ok[key[i]])
            or (by_team and not team_ok[team[i]])
            or (by_tag and not tag_ok[tagset[i]])
            or (by_model and not model_ok[model[i]])
        ):
            continue
        inside = table[quarter[i] - q0]
        if inside == SPLIT:
            inside = 0 if edges[0] <= ts[i] < edges[1] else OUTSIDE
        if inside < 0:
            continue
        seen[user[i]] = 1
        requests += 1
        unpriced, tokens_in, tokens_out, total = _with_row(
            i, inp, out, cost, unpriced, tokens_in, tokens_out, total
        )
    sums[REQUESTS] += requests
    sums[INPUT] += tokens_in
    sums[OUTPUT] += tokens_out
    sums[UNPRICED] += unpriced
    spent[0] += total


class Threads:
    """A pool of ``workers`` threads, made again in a process forked from this one (a forked
    child inherits the pool but not its threads: work handed to it would wait forever). Work
    handed to it from one of its own threads, or while the interpreter shuts down, runs in the
    caller's thread (a worker waiting on work queued behind it could wait forever)."""

    def __init__(self, workers: int, name: str) -> None:
        self.workers, self.name = workers, name
        self._start()
        os.register_at_fork(after_in_child=self._start)

    def _start(self) -> None:
        self._executor = ThreadPoolExecutor(
            self.workers, thread_name_prefix=self.name, initializer=self._mark
        )

    def _mark(self) -> None:
        _PLACE.pool = self

    def submit(self, function, *args) -> Future:
        if getattr(_PLACE, "pool", None) is self:
            return _inline(function, *args)
        try:
            return self._executor.submit(function, *args)
        except RuntimeError:  # no new threads at shutdown
            return _inline(function, *args)


_PLACE = threading.local()  # the `Threads` a thread belongs to


def _inline(function, *args) -> Future:
    """``function(*args)`` run now, as a finished Future."""
    done: Future = Future()
    try:
        done.set_result(function(*args))
    except Exception as error:
        done.set_exception(error)
    return done


_POOL = Threads(2, "usage-widgets-pass")
MIN_CHUNK = 50_000  # below this (in rows, `GROUP_ROWS` to a group), a second thread costs more than it saves


def in_background(function, *args) -> Future:
    """Run ``function(*args)`` on the pass's threads (idle between passes), while the caller
    goes on with other work."""
    return _POOL.submit(function, *args)


def _parts(weight: int) -> int:
    """How many parts (one per core at most) work of this weight is cut into."""
    return max(1, min(_POOL.workers, weight // MIN_CHUNK))


GROUP_ROWS = 3  # what reading a group costs, in rows read one by one


def _run(chunk, bounds, make):
    """Run ``chunk`` over each part (``chunk(*bounds[c], *outputs[c])``), on the pool when there
    are several; return their arrays."""
    outputs = [make() for _ in bounds]
    if len(bounds) == 1:
        chunk(*bounds[0], *outputs[0])
    else:
        for f in [_POOL.submit(chunk, *part, *out) for part, out in zip(bounds, outputs, strict=True)]:
            f.result()
    return outputs


def _merge(parts: list[tuple[np.ndarray, ...]]) -> tuple[np.ndarray, ...]:
    """Parts' accumulators added up; the latest team is that of the latest request of any part."""
    acc, *rest = parts[0]  # the first part's arrays are its own: add the others into them
    for later in parts[1:]:
        _merge_rows(acc, later[0])
        for total, extra in zip(rest, later[1:], strict=True):
            total += extra
    return (acc, *rest)


@njit(cache=True, nogil=True)
def _merge_rows(acc, part):  # pragma: no cover - compiled
    """Add accumulator rows ``part`` into ``acc``, keeping the team of the later request."""
    spent, extra = acc.view(np.float64), part.view(np.float64)
    for g in range(acc.shape[0]):
        for j in (REQUESTS, INPUT, OUTPUT, UNPRICED):
            acc[g, j] += part[g, j]
        spent[g, COST] += extra[g, COST]
        _latest_team(acc, g, part[g, LAST_TS], part[g, LAST_SEQ], part[g, LAST_TEAM])


def _model_totals(n_models):
    return np.zeros(n_models, dtype=np.int64), np.zeros(n_models, dtype=np.float64)


def view_pass(columns, filters, segments, shape, team_view=False, groups=None, window=(0, 0), latest=None):
    """Per user (per team with ``team_view``): accumulator rows (`WIDTH` columns), request
    counts per bucket, then per model, then per rolling day (``counts[g, b]``,
    ``counts[g, n_buckets + m]``, ``counts[g, n_buckets + n_models + p]``), and in the team view
    requests per user (``per_user[g, u]``; empty otherwise); then per model, requests and cost
    under every filter but the models filter. ``segments`` is ``(q0, table, edges, bucket,
    period)``: the segments' quarter table and edges, and each segment's bucket and rolling
    day (`OUTSIDE` when in none); ``shape`` is ``(n_groups, n_buckets, n_models, n_periods,
    n_users)``. With ``groups`` (the finished days' groups at the start of the rows: their
    bounds, the row the bounds count from, their sums and costs, and their subgroups' bounds,
    sums and costs, as `subgroup_totals` gives), those rows are read a group at a time (under
    a key or tag filter, a subgroup at a time), and ``window`` (its first instant and the one
    after its last) says which of them count in totals. With ``latest`` (the latest day's
    groups, as ``groups``, and the columns of its sorted copy, as `_group_columns` gives; see
    `usage_widgets.store.RequestStore.latest_groups`), the rows after the groups are read from
    those instead."""
    n_groups, n_buckets, n_models, n_periods, n_users = shape

    def make():
        acc = np.zeros((n_groups, WIDTH), dtype=np.int64)
        acc[:, LAST_TEAM] = -1
        acc[:, LAST_TS] = np.iinfo(np.int64).min
        counts = np.zeros((n_groups, n_buckets + n_models + n_periods), dtype=np.int32)
        per_user = np.zeros((n_groups, n_users) if team_view else (0, 0), dtype=np.int32)
        return acc, counts, per_user, *_model_totals(n_models)

    def rows(lo, hi, acc, counts, per_user, model_requests, model_cost):
        _view_chunk(
            lo, hi, acc, counts, per_user, model_requests, model_cost, team_view,
            *columns, *filters, *segments, n_buckets, n_models,
        )  # fmt: skip

    def grouped(these, read):
        def run(lo, hi, acc, counts, per_user, model_requests, model_cost):
            _groups_view_chunk(
                lo, hi, acc, counts, per_user, model_requests, model_cost, team_view, *these[:4],
                *read, filters[1], filters[3], *segments, *window, n_buckets, n_models,
            )  # fmt: skip

        def by_pair(lo, hi, acc, counts, per_user, model_requests, model_cost):
            _filtered_groups_view_chunk(
                lo, hi, acc, counts, per_user, model_requests, model_cost, team_view, *these,
                *read, *filters, *segments, *window, n_buckets, n_models,
            )  # fmt: skip

        return len(these[2]), GROUP_ROWS, by_pair if by_key_or_tag(filters) else run

    works = [grouped(groups, _group_columns(columns))] if groups is not None else []
    works.append(grouped(*latest) if latest is not None else _rows_after(len(columns[0]), groups, rows))
    return _merge(_shared(works, make))


def by_key_or_tag(filters) -> bool:
    """Whether a key or tag filter is on (filters: key, team, tag set and model tables)."""
    return len(filters[0]) > 0 or len(filters[2]) > 0


def _group_columns(columns):
    """What a pass over groups reads of the rows: times (where a group is cut), tokens, cost,
    and the order of requests of one instant."""
    return columns[0], *columns[7:]




def first_ungrouped(groups) -> int:
    """The first of a pass's rows after ``groups`` (as `view_pass` takes them): 0 without any."""
    return int(groups[0][-1] - groups[1]) if groups is not None and len(groups[2]) else 0


def _rows_after(n_rows, groups, rows):
    """The work (see `_shared`) of reading one by one, by ``rows``, the rows after the groups
    (all the rows without ``groups``)."""
    first = first_ungrouped(groups)
    return n_rows - first, 1, lambda lo, hi, *out: rows(first + lo, first + hi, *out)


def _shared(works, make):
    """Run each work (``(n, weight of one, function(lo, hi, *outputs))``, over ``0 .. n``) cut
    into one part per core when there is enough in all: each part gets an equal share of
    each work, since groups' and rows' costs change differently when both cores run (they
    share caches); the parts' outputs (``make()`` each), to be merged."""
    parts = _parts(sum(n * weight for n, weight, _ in works))

    def job(c, *out):
        for n, _, function in works:
            lo, hi = n * c // parts, n * (c + 1) // parts
            if hi > lo:
                function(lo, hi, *out)

    return _run(job, [(c,) for c in range(parts)], make)


def totals_pass(columns, filters, period, n_users, groups=None):
    """Requests, input and output tokens, unpriced requests (int64 array indexed like the
    accumulator rows), cost, and which users (a boolean per user), of the requests in ``period``
    (``(q0, table, edges)``: its quarter table and its two edges): the previous period's KPIs.
    ``groups`` as for `view_pass`."""

    def make():
        return np.zeros(n_users, np.uint8), np.zeros(WIDTH, np.int64), np.zeros(1, np.float64)

    def rows(lo, hi, seen, sums, spent):
        _totals_chunk(lo, hi, seen, sums, spent, *columns, *filters, *period)

    def grouped(lo, hi, seen, sums, spent):
        _groups_totals_chunk(
            lo, hi, seen, sums, spent, *groups[:4], *_group_columns(columns), filters[1], filters[3],
            period[2][0], period[2][1],
        )  # fmt: skip

    def filtered(lo, hi, seen, sums, spent):
        _filtered_groups_totals_chunk(
            lo, hi, seen, sums, spent, *groups, *_group_columns(columns), *filters,
            period[2][0], period[2][1],
        )  # fmt: skip

    chunk = filtered if by_key_or_tag(filters) else grouped
    works = [] if groups is None else [(len(groups[2]), GROUP_ROWS, chunk)]
    parts = _shared([*works, _rows_after(len(columns[0]), groups, rows)], make)
    seen = np.logical_or.reduce([p[0] > 0 for p in parts])
    sums = np.sum([p[1] for p in parts], axis=0)
    return sums, float(sum(p[2][0] for p in parts)), seen


_LOW = np.uint64(0x0101010101010101)
_HIGH = np.uint64(0x8080808080808080)


@njit(cache=True, nogil=True, inline="always")
def _word_at(words, data, j, end):  # pragma: no cover - compiled
    """The bytes ``data[j:min(j + 8, end)]`` as one little-endian word, zero-padded: read from
    the aligned ``words`` (the buffer as uint64) with a shift, byte by byte at the buffer's end."""
    q, r = j >> 3, j & 7
    k = min(8, end - j)
    if q + 1 < words.shape[0]:
        w = words[q] >> np.uint64(8 * r) if r == 0 else (words[q] >> np.uint64(8 * r)) | (
            words[q + 1] << np.uint64(64 - 8 * r)
        )
        return w if k == 8 else w & ((np.uint64(1) << np.uint64(8 * k)) - np.uint64(1))
    w = np.uint64(0)
    for t in range(k):
        w |= np.uint64(data[j + t]) << np.uint64(8 * t)
    return w


def as_words(data):
    """A byte buffer's whole eight-byte words, as uint64 (no copy), for `_word_at`."""
    return data[: len(data) // 8 * 8].view(np.uint64)


@njit(cache=True, nogil=True)
def hash_strings(offsets, data, words):  # pragma: no cover - compiled
    """Two independent 64-bit hashes of each string of an Arrow string buffer (``words``: the
    buffer as `as_words`), eight bytes at a time (one chain through splitmix64's mixer, one
    multiplicative from another seed), each finished with the length."""
    n = offsets.shape[0] - 1
    h1 = np.empty(n, dtype=np.uint64)
    h2 = np.empty(n, dtype=np.uint64)
    for i in range(n):
        a = np.uint64(0xCBF29CE484222325)
        b = np.uint64(0x243F6A8885A308D3)
        j, end = offsets[i], offsets[i + 1]
        while j < end:
            word = _word_at(words, data, j, end)
            a = _mix(a ^ word)
            b = (b + word + np.uint64(1)) * np.uint64(0x9E3779B97F4A7C15)
            b ^= b >> np.uint64(29)
            j += 8
        length = np.uint64(end - offsets[i])
        h1[i] = _mix(a ^ length)
        h2[i] = _mix(b ^ (length << np.uint64(32)))
    return h1, h2


@njit(cache=True, nogil=True, inline="always")
def _has_byte(word, byte):  # pragma: no cover - compiled
    v = word ^ (_LOW * np.uint64(byte))
    return ((v - _LOW) & ~v & _HIGH) != 0


@njit(cache=True, nogil=True)
def may_be_unsafe(offsets, data, words):  # pragma: no cover - compiled
    """Per string of an Arrow string buffer (``words``: as `as_words`): does it hold a byte
    that could start a character the text rules refuse (a control character other than tab
    and newline, DEL, a C1 control's lead byte 0xC2, or 0xE2, the lead byte of the
    bidirectional controls)? A quick scan of the whole buffer, eight bytes at a time, so that
    only these few strings go through the exact check."""
    n = offsets.shape[0] - 1
    out = np.zeros(n, dtype=np.bool_)
    lo, hi = offsets[0], offsets[n]
    for q in range(lo >> 3, (hi + 7) >> 3):
        if q < words.shape[0]:
            word = words[q]
            low = ((word - _LOW * np.uint64(0x20)) & ~word & _HIGH) != 0  # a byte below 0x20
            if not (low or _has_byte(word, 0x7F) or _has_byte(word, 0xC2) or _has_byte(word, 0xE2)):
                continue
        for t in range(max(q * 8, lo), min(q * 8 + 8, hi)):  # which byte: tab and newline are fine
            c = data[t]
            if (c < 0x20 and c != 0x09 and c != 0x0A) or c == 0x7F or c == 0xC2 or c == 0xE2:
                out[np.searchsorted(offsets, t, side="right") - 1] = True
    return out


@intrinsic
def _prefetch_row(typingctx, rows, row):  # pragma: no cover - compiled
    """Ask the CPU to bring row ``row`` of a 2-d array into its cache (LLVM's prefetch, for a
    write, kept in all cache levels), so that random reads of a large table overlap."""

    def codegen(context, builder, signature, args):
        array = context.make_array(signature.args[0])(context, builder, args[0])
        zero = context.get_constant(types.intp, 0)
        pointer = cgutils.get_item_pointer(context, builder, signature.args[0], array, [args[1], zero])
        byte_pointer = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        prefetch = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [byte_pointer, i32, i32, i32]), "llvm.prefetch.p0"
        )
        flags = [ir.Constant(i32, 1), ir.Constant(i32, 3), ir.Constant(i32, 1)]
        builder.call(prefetch, [builder.bitcast(pointer, byte_pointer), *flags])
        return context.get_dummy_value()

    return types.void(rows, row), codegen


AHEAD = 8  # how many ids ahead `id_probe` and `id_insert` ask for their slots


@njit(cache=True, nogil=True)
def id_probe(slots, h1, h2):  # pragma: no cover - compiled
    """Per id (its two hashes): whether the open-addressing table (`id_insert`) holds it."""
    mask = np.uint64(slots.shape[0] - 1)
    found = np.zeros(h1.shape[0], dtype=np.bool_)
    for i in range(h1.shape[0]):
        if i + AHEAD < h1.shape[0]:
            _prefetch_row(slots, np.intp(h2[i + AHEAD] & mask))
        a, b = h1[i] | np.uint64(1), h2[i]  # h1 | 1 is never 0, which marks a free slot
        s = b & mask
        while slots[s, 0] != 0:
            if slots[s, 0] == a and slots[s, 1] == b:
                found[i] = True
                break
            s = (s + np.uint64(1)) & mask
    return found


@njit(cache=True, nogil=True)
def id_insert(slots, h1, h2):  # pragma: no cover - compiled
    """Add ids (their two hashes) to an open-addressing table with linear probing (one row of
    ``slots`` per slot, a power of two of them, kept under three quarters full by the caller);
    returns which were new. Each id's slot is asked for `AHEAD` ids before it is read."""
    mask = np.uint64(slots.shape[0] - 1)
    new = np.zeros(h1.shape[0], dtype=np.bool_)
    for i in range(h1.shape[0]):
        if i + AHEAD < h1.shape[0]:
            _prefetch_row(slots, np.intp(h2[i + AHEAD] & mask))
        a, b = h1[i] | np.uint64(1), h2[i]
        s = b & mask
        while True:
            if slots[s, 0] == 0:
                slots[s, 0], slots[s, 1] = a, b
                new[i] = True
                break
            if slots[s, 0] == a and slots[s, 1] == b:
                break
            s = (s + np.uint64(1)) & mask
    return new


@njit(cache=True, nogil=True)
def _mix(z):  # pragma: no cover - compiled
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@njit(cache=True, nogil=True)
def row_lists(counts, rows, first, width):  # pragma: no cover - compiled
    """Columns ``first .. first + width`` of the given ``rows`` of a count matrix, as the
    offsets and values (int64) of one list per row."""
    n = rows.shape[0]
    offsets = (np.arange(n + 1) * width).astype(np.int32)
    values = np.empty(n * width, dtype=np.int64)
    for r in range(n):
        for j in range(width):
            values[r * width + j] = counts[rows[r], first + j]
    return offsets, values


@njit(cache=True, nogil=True)
def ranked(counts, rows, first, alphabetical):  # pragma: no cover - compiled
    """Per row of ``rows`` of a count matrix whose columns ``first ..`` count requests per
    model: the models used, most used first, ties in ``alphabetical`` order (each model's
    place by name), as offsets and model codes."""
    n = alphabetical.shape[0]
    offsets = np.zeros(rows.shape[0] + 1, dtype=np.int32)
    for r in range(rows.shape[0]):
        row = counts[rows[r], first : first + n]
        used = 0
        for m in range(n):
            used += row[m] > 0
        offsets[r + 1] = offsets[r] + used
    codes = np.empty(offsets[rows.shape[0]], dtype=np.int64)
    for r in range(rows.shape[0]):
        row = counts[rows[r], first : first + n]
        start, k = offsets[r], 0
        for m in range(n):
            c = row[m]
            if c <= 0:
                continue
            j = start + k  # insertion: more requests first, then by name
            while j > start and (
                row[codes[j - 1]] < c
                or (row[codes[j - 1]] == c and alphabetical[codes[j - 1]] > alphabetical[m])
            ):
                codes[j] = codes[j - 1]
                j -= 1
            codes[j] = m
            k += 1
    return offsets, codes


@njit(cache=True, nogil=True)
def rows_with_repeats(offsets, codes):  # pragma: no cover - compiled
    """Per row of a list column (``codes[offsets[i]:offsets[i + 1]]``): does a value repeat?"""
    n = offsets.shape[0] - 1
    out = np.zeros(n, dtype=np.bool_)
    for i in range(n):
        for j in range(offsets[i] + 1, offsets[i + 1]):
            for k in range(offsets[i], j):
                if codes[j] == codes[k]:
                    out[i] = True
    return out


@njit(cache=True, nogil=True)
def set_hashes(offsets, codes):  # pragma: no cover - compiled
    """Two independent 64-bit hashes of each row's set of codes (``codes[offsets[i]:offsets[i +
    1]]``), the same whatever their order or repeats."""
    n = offsets.shape[0] - 1
    h1 = np.empty(n, dtype=np.uint64)
    h2 = np.empty(n, dtype=np.uint64)
    buffer = np.empty(16, dtype=codes.dtype)
    for i in range(n):
        k = offsets[i + 1] - offsets[i]
        if k > buffer.shape[0]:
            row = np.sort(codes[offsets[i] : offsets[i + 1]])
        else:  # a few tags: insertion sort, without allocating
            row = buffer[:k]
            for j in range(k):
                value = codes[offsets[i] + j]
                m = j
                while m and row[m - 1] > value:
                    row[m] = row[m - 1]
                    m -= 1
                row[m] = value
        a = np.uint64(0xCBF29CE484222325)
        b = np.uint64(0x243F6A8885A308D3)
        size = np.uint64(0)
        for j in range(row.shape[0]):
            if j and row[j] == row[j - 1]:
                continue
            value = np.uint64(row[j]) + np.uint64(1)
            a = _mix(a ^ value)
            b = (b + value) * np.uint64(0x9E3779B97F4A7C15)
            size += np.uint64(1)
        h1[i] = _mix(a ^ size)
        h2[i] = _mix(b ^ (size << np.uint64(32)))
    return h1, h2
