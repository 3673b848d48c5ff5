"""The anomaly rule: a row whose latest day jumps far above its own recent days.

The rule, for one row (a user or a team) and its request counts in the 24-hour periods that end
at the selection's end (``history[-1]`` is the latest 24 hours, the others the 28 days before):

    baseline = the earlier periods from the row's first request on (at least MIN_HISTORY of them)
    flagged  <=>  latest >= MIN_REQUESTS
             and  log(1 + latest) > median + K * max(MAD, MIN_SPREAD)

where ``median`` and ``MAD`` (median absolute deviation) are those of ``log(1 + baseline)``.
On the log scale a jump is a ratio: usage is heavy-tailed (a quiet user has days of 2 and of
40), so a rule on raw counts flags every bursty small user, while a script calling thousands
of times a day still stands out by orders of magnitude. Median and MAD are robust: a day or two
of an earlier spike (a script that has already run for a day) moves neither much, and quiet
weekends do not make a weekday look odd. ``MIN_REQUESTS`` keeps a user with a handful of calls
from flagging; ``MIN_SPREAD`` keeps a very regular user from flagging on an ordinary busy day
(with K = 5 and MAD 0.25, the latest day must exceed about 3.5 times the usual one). Days
before a row's first request do not count, so people who just joined are not compared with
the weeks before they came; with less than a week of history a row is not judged.

The periods are rolling 24 hours rather than the chart's buckets, so a flag means the same in
every range: in the 24-hour view, whose own buckets would all be inside a day-old spike, the
latest day is still compared with the days before it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

K = 5.0
MIN_REQUESTS = 50
MIN_SPREAD = 0.25
MIN_HISTORY = 7
PERIODS = 29  # the latest 24 hours and the 28 days before them


@dataclass(frozen=True)
class Flags:
    """The rule applied to rows: per row, flagged or not, and the numbers behind it."""

    flagged: np.ndarray
    latest: np.ndarray
    median: np.ndarray
    threshold: np.ndarray


def flag_rows(
    history: np.ndarray,
    *,
    k: float = K,
    min_requests: int = MIN_REQUESTS,
    min_spread: float = MIN_SPREAD,
    min_history: int = MIN_HISTORY,
) -> Flags:
    """Apply the anomaly rule to each row of ``history``.

    Parameters
    ----------
    history : array of shape (rows, periods)
        Request counts per period, oldest first; the last column is the latest period.
    k, min_requests, min_spread, min_history
        The rule's constants (see the module's docstring).

    Returns
    -------
    Flags
        ``median`` and ``threshold`` are in requests a day (back from the log scale).

    Examples
    --------
    >>> steady = [40, 42, 38, 41, 39, 40, 43, 40]
    >>> flags = flag_rows(np.array([steady, steady[:-1] + [400], [0] * 7 + [300]]))
    >>> flags.flagged.tolist()
    [False, True, False]
    """
    counts = np.asarray(history, dtype=np.float64)
    if counts.ndim != 2:
        raise ValueError(f"history must be a 2-d array (rows, periods), not {counts.ndim}-d")
    rows = counts.shape[0]
    if counts.shape[1] < 2 or rows == 0:
        zeros = np.zeros(rows)
        return Flags(np.zeros(rows, dtype=bool), counts[:, -1] if counts.size else zeros, zeros, zeros)
    baseline, latest = np.log1p(counts[:, :-1]), counts[:, -1]
    started, days = _from_first_request(counts[:, :-1])
    long_enough = days >= min_history
    judged = np.flatnonzero(long_enough)
    median, spread = np.zeros(rows), np.ones(rows)
    if len(judged):
        usual = np.where(started[judged], baseline[judged], np.inf)  # days before the first: last
        median[judged] = _medians(usual, days[judged])
        mad = _medians(np.abs(usual - median[judged, None]), days[judged])
        spread[judged] = np.maximum(mad, min_spread)
    threshold = median + k * spread
    flagged = long_enough & (latest >= min_requests) & (np.log1p(latest) > threshold)
    return Flags(flagged, latest, np.expm1(median), np.expm1(threshold))


def could_flag(
    history: np.ndarray,
    *,
    k: float = K,
    min_requests: int = MIN_REQUESTS,
    min_spread: float = MIN_SPREAD,
    min_history: int = MIN_HISTORY,
) -> np.ndarray:
    """Which rows of ``history`` the rule could flag, found without logarithms, so that only
    these few need judging: at least ``min_requests`` in the latest period, at least
    ``min_history`` days from the first request, and at least half of those days below the
    latest by the rule's least margin (else their median is too high to be beaten, as
    ``log1p(latest) > median + k * spread`` and ``spread >= min_spread``).

    Examples
    --------
    >>> could_flag(np.array([[40] * 8 + [400], [40] * 8 + [60], [0] * 8 + [400]])).tolist()
    [True, False, False]
    """
    history = np.asarray(history)
    if history.shape[1] < 2:  # no earlier day to compare with: the rule flags nothing
        return np.zeros(len(history), dtype=bool)
    latest = history[:, -1]
    maybe = latest >= min_requests
    rows = np.flatnonzero(maybe)
    earlier = history[rows, :-1]
    started, days = _from_first_request(earlier)
    # log1p(c) < log1p(latest) - k * min_spread  <=>  c < (latest + 1) * exp(-k * min_spread) - 1;
    # a hair looser, so that rounding can only let a row through, never leave one out.
    below = (latest[rows] + 1.0) * np.exp(-k * min_spread) * (1 + 1e-9) - 1.0
    low_days = (started & (earlier <= below[:, None])).sum(axis=1)
    maybe[rows] = (days >= min_history) & (low_days >= days // 2)
    return maybe


def _from_first_request(earlier: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which earlier periods count for each row (those from its first request on), and how many."""
    started = np.cumsum(earlier > 0, axis=1) > 0
    return started, started.sum(axis=1)


def _medians(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Per row, the median of its first ``counts`` values once sorted (the rest are +inf)."""
    ordered = np.sort(values, axis=1)
    rows = np.arange(len(values))
    return (ordered[rows, (counts - 1) // 2] + ordered[rows, counts // 2]) / 2


def reason(latest: float, median: float, threshold: float) -> str:
    """The sentence shown on hover for a flagged row.

    Examples
    --------
    >>> reason(1234, 40, 100)
    '1,234 requests in the latest 24 hours, against a usual 40 a day (flagged above 100)'
    """
    return (
        f"{latest:,.0f} requests in the latest 24 hours, against a usual {median:,.0f} a day "
        f"(flagged above {threshold:,.0f})"
    )
