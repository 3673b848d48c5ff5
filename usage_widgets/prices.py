"""Prices of requests whose log gives no cost, from the genai-prices package's offline table.

Prices change: a model gets a new price from a start date, and some are cheaper at certain hours
(off-peak). Each request is priced as of its own time. Requests are grouped by price regime
(model, UTC day when dated prices exist, slot of the day when time-of-day prices exist), so the
table is consulted once per regime, not once per request.
"""

from __future__ import annotations

import datetime as _dt
from functools import lru_cache

import numpy as np
import pandas as pd
from genai_prices import Usage, calc_price
from genai_prices.types import ModelPrice, StartDateConstraint, TimeOfDateConstraint

_PROBE_TOKENS = 1_000  # small enough to stay in every model's first price tier
_DAY_NS = 86_400 * 10**9
_UTC = _dt.UTC


def _calc(model: str, inp: int, out: int, when: _dt.datetime):
    return calc_price(
        Usage(input_tokens=inp, output_tokens=out), model_ref=model, genai_request_timestamp=when
    )


@lru_cache(maxsize=4096)
def _regimes(model: str) -> tuple[bool, tuple[int, ...]] | None:
    """How a model's price varies: (by UTC day?, time-of-day boundaries in ns). None: unknown."""
    try:
        info = _calc(model, _PROBE_TOKENS, 0, _dt.datetime.now(_UTC)).model
    except LookupError:
        return None
    if isinstance(info.prices, ModelPrice):
        return False, ()
    dated = any(isinstance(p.constraint, StartDateConstraint) for p in info.prices)
    edges: set[int] = set()
    for p in info.prices:
        if isinstance(p.constraint, TimeOfDateConstraint):
            for t in (p.constraint.start_time, p.constraint.end_time):
                utc = _dt.datetime.combine(_dt.date(2000, 1, 1), t, tzinfo=t.tzinfo or _UTC)
                utc = utc.astimezone(_UTC)
                edges.add(((utc.hour * 60 + utc.minute) * 60 + utc.second) * 10**9)
    return dated, tuple(sorted(edges))


@lru_cache(maxsize=65536)
def _unit_prices(model: str, when_ns: int) -> tuple[float, float, bool]:
    """Per-token (input, output) USD prices of the first tier at a time, and whether tiered."""
    when = pd.Timestamp(when_ns // 1000 * 1000, tz="UTC").to_pydatetime()
    calc_in = _calc(model, _PROBE_TOKENS, 0, when)
    calc_out = _calc(model, 0, _PROBE_TOKENS, when)
    mp = calc_in.model_price
    tiered = any(
        type(getattr(mp, name, None)).__name__ == "TieredPrices" for name in ("input_mtok", "output_mtok")
    )
    return (
        float(calc_in.total_price) / _PROBE_TOKENS,
        float(calc_out.total_price) / _PROBE_TOKENS,
        tiered,
    )


@lru_cache(maxsize=65536)
def _exact_price(model: str, input_tokens: int, output_tokens: int, when_ns: int) -> float:
    when = pd.Timestamp(when_ns // 1000 * 1000, tz="UTC").to_pydatetime()
    return float(_calc(model, input_tokens, output_tokens, when).total_price)


def is_priced(model: str) -> bool:
    """Whether the price table knows ``model``.

    Examples
    --------
    >>> is_priced("gpt-4o"), is_priced("no-such-model")
    (True, False)
    """
    return _regimes(model) is not None


def price_requests(
    model: pd.Series | np.ndarray | list,
    input_tokens: pd.Series | np.ndarray | list,
    output_tokens: pd.Series | np.ndarray | list,
    timestamps: pd.Series | np.ndarray | None = None,
) -> np.ndarray:
    """USD cost of each request from its model, token counts and time.

    Parameters
    ----------
    model, input_tokens, output_tokens
        Aligned columns of the requests.
    timestamps : optional
        When each request was made (UTC datetimes or ns); default: now.

    Returns
    -------
    numpy.ndarray
        float64 costs; NaN where the model's price is unknown (never 0).

    Examples
    --------
    >>> price_requests(["gpt-4o", "mystery"], [1_000_000, 10], [0, 10]).tolist()
    [2.5, nan]
    """
    codes, models = pd.factorize(pd.Series(list(model) if isinstance(model, list) else model,
                                           dtype="object"), use_na_sentinel=True)
    n = len(codes)
    inp = np.asarray(input_tokens, dtype="float64")
    out = np.asarray(output_tokens, dtype="float64")
    ts = _as_ns(timestamps, n)
    cost = np.full(n, np.nan)
    for code, name in enumerate(models):
        rows = np.flatnonzero(codes == code)
        regimes = _regimes(str(name))
        if regimes is None:
            continue
        dated, edges = regimes
        row_ts = ts[rows]
        key = np.searchsorted(np.array(edges, dtype=np.int64), row_ts % _DAY_NS, side="right")
        if dated:
            key = key + (row_ts // _DAY_NS) * (len(edges) + 1)
        order = np.argsort(key, kind="stable")
        bounds = np.flatnonzero(np.diff(key[order])) + 1
        for part in np.split(order, bounds) if len(rows) else []:
            sub = rows[part]
            when = int(ts[sub[0]])
            per_in, per_out, tiered = _unit_prices(str(name), _regime_time(when, dated, edges))
            if tiered:
                cost[sub] = [
                    _exact_price(str(name), int(i), int(o), int(t))
                    for i, o, t in zip(inp[sub], out[sub], ts[sub], strict=True)
                ]
            else:
                cost[sub] = inp[sub] * per_in + out[sub] * per_out
    return cost


def _regime_time(when_ns: int, dated: bool, edges: tuple[int, ...]) -> int:
    """A canonical instant of the regime holding ``when_ns`` (so the price cache is shared)."""
    if not dated and not edges:
        return 0
    day = when_ns // _DAY_NS * _DAY_NS
    tod = when_ns - day
    slot_start = max((e for e in edges if e <= tod), default=0)
    return (day if dated else 0) + slot_start + 1 if edges else (day if dated else 0)


def _as_ns(timestamps: pd.Series | np.ndarray | None, n: int) -> np.ndarray:
    if timestamps is None:
        return np.full(n, pd.Timestamp.now(tz="UTC").value, dtype=np.int64)
    stamps = pd.DatetimeIndex(pd.to_datetime(pd.Series(timestamps).to_numpy(), utc=True))
    return stamps.as_unit("ns").asi8.astype(np.int64)  # the integers are in the index's own unit
