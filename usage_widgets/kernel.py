"""The report's one pass over the selected requests, compiled with numba.

Each pass reads a time slice of the store's encoded columns once, keeps a request when its key,
team and tag set pass the filter tables, finds its bucket in a quarter-hour table, and updates
every accumulator the view needs. The compiled code is cached on disk (``cache=True``), so only
the first run on a machine pays for compiling.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# Per-entity integer accumulators, one row per user (or team): what a request adds to its entity.
REQUESTS, INPUT, OUTPUT, UNPRICED, LAST_TEAM = range(5)
N_ACC = 5


@njit(cache=True, nogil=True)
def _bucket(t, edge0, step, table, per_row, i):  # pragma: no cover - compiled
    if per_row.shape[0]:
        return per_row[i]
    return table[(t - edge0) // step]


@njit(cache=True, nogil=True)
def user_pass(
    ts, user, team, key, model, tagset, inp, out, cost,
    key_ok, team_ok, tag_ok, edge0, step, table, per_row,
    n_buckets, n_users, n_models,
):  # pragma: no cover - compiled
    """Per user: totals (`acc`), cost, (bucket, user) and (user, model) request counts."""
    acc = np.zeros((n_users, N_ACC), dtype=np.int64)
    acc[:, LAST_TEAM] = -1
    spent = np.zeros(n_users, dtype=np.float64)
    per_bucket = np.zeros((n_buckets, n_users), dtype=np.int32)
    per_model = np.zeros((n_users, n_models), dtype=np.int32)
    check_key, check_team, check_tag = key_ok.shape[0] > 0, team_ok.shape[0] > 0, tag_ok.shape[0] > 0
    for i in range(ts.shape[0]):
        if check_key and not key_ok[key[i]]:
            continue
        if check_team and not team_ok[team[i]]:
            continue
        if check_tag and not tag_ok[tagset[i]]:
            continue
        u = user[i]
        b = _bucket(ts[i], edge0, step, table, per_row, i)
        per_bucket[b, u] += 1
        per_model[u, model[i]] += 1
        row = acc[u]
        row[REQUESTS] += 1
        row[INPUT] += inp[i]
        row[OUTPUT] += out[i]
        row[LAST_TEAM] = team[i]  # rows are in time order: the last one wins
        c = cost[i]
        if np.isnan(c):
            row[UNPRICED] += 1
        else:
            spent[u] += c
    return acc, spent, per_bucket, per_model


@njit(cache=True, nogil=True)
def team_pass(
    ts, user, team, key, model, tagset, inp, out, cost,
    key_ok, team_ok, tag_ok, edge0, step, table, per_row,
    n_buckets, n_teams, n_users, n_models,
):  # pragma: no cover - compiled
    """Per team: totals, cost, (bucket, team), (team, model) and (team, user) request counts."""
    acc = np.zeros((n_teams, N_ACC), dtype=np.int64)
    spent = np.zeros(n_teams, dtype=np.float64)
    per_bucket = np.zeros((n_buckets, n_teams), dtype=np.int32)
    per_model = np.zeros((n_teams, n_models), dtype=np.int32)
    per_user = np.zeros((n_teams, n_users), dtype=np.int32)
    check_key, check_team, check_tag = key_ok.shape[0] > 0, team_ok.shape[0] > 0, tag_ok.shape[0] > 0
    for i in range(ts.shape[0]):
        if check_key and not key_ok[key[i]]:
            continue
        if check_team and not team_ok[team[i]]:
            continue
        if check_tag and not tag_ok[tagset[i]]:
            continue
        g = team[i]
        b = _bucket(ts[i], edge0, step, table, per_row, i)
        per_bucket[b, g] += 1
        per_model[g, model[i]] += 1
        per_user[g, user[i]] += 1
        row = acc[g]
        row[REQUESTS] += 1
        row[INPUT] += inp[i]
        row[OUTPUT] += out[i]
        c = cost[i]
        if np.isnan(c):
            row[UNPRICED] += 1
        else:
            spent[g] += c
    return acc, spent, per_bucket, per_model, per_user
