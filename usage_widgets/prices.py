"""Prices of requests whose log gives no cost, from the genai-prices package's offline table."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd
from genai_prices import Usage, calc_price

_PROBE_TOKENS = 1_000  # small enough to stay in every model's first price tier


@lru_cache(maxsize=4096)
def _model_prices(model: str) -> tuple[float, float, bool] | None:
    """Per-token (input, output) USD prices of a model's first tier, and whether it has tiers.

    None when the price table does not know the model.
    """
    try:
        calc_in = calc_price(Usage(input_tokens=_PROBE_TOKENS, output_tokens=0), model_ref=model)
        calc_out = calc_price(Usage(input_tokens=0, output_tokens=_PROBE_TOKENS), model_ref=model)
    except LookupError:
        return None
    mp = calc_in.model_price
    tiered = any(
        type(getattr(mp, name, None)).__name__ == "TieredPrices"
        for name in ("input_mtok", "output_mtok")
    )
    return (
        float(calc_in.total_price) / _PROBE_TOKENS,
        float(calc_out.total_price) / _PROBE_TOKENS,
        tiered,
    )


@lru_cache(maxsize=65536)
def _exact_price(model: str, input_tokens: int, output_tokens: int) -> float:
    usage = Usage(input_tokens=input_tokens, output_tokens=output_tokens)
    return float(calc_price(usage, model_ref=model).total_price)


def is_priced(model: str) -> bool:
    """Whether the price table knows ``model``.

    Examples
    --------
    >>> is_priced("gpt-4o"), is_priced("no-such-model")
    (True, False)
    """
    return _model_prices(model) is not None


def price_requests(
    model: pd.Series | np.ndarray,
    input_tokens: pd.Series | np.ndarray,
    output_tokens: pd.Series | np.ndarray,
) -> np.ndarray:
    """USD cost of each request from its model and token counts.

    Linear prices are applied per model in one vectorised step; models whose price has tiers
    (a higher rate above a prompt size) are priced request by request, exactly.

    Parameters
    ----------
    model, input_tokens, output_tokens
        Aligned columns of the requests.

    Returns
    -------
    numpy.ndarray
        float64 costs; NaN where the model's price is unknown (never 0).

    Examples
    --------
    >>> price_requests(["gpt-4o", "mystery"], [1_000_000, 10], [0, 10]).tolist()
    [2.5, nan]
    """
    codes, models = pd.factorize(pd.Series(model, dtype="object"), use_na_sentinel=True)
    inp = np.asarray(input_tokens, dtype="float64")
    out = np.asarray(output_tokens, dtype="float64")
    per_in = np.full(len(models) + 1, np.nan)
    per_out = np.full(len(models) + 1, np.nan)
    tiered_codes = []
    for code, name in enumerate(models):
        prices = _model_prices(str(name))
        if prices is None:
            continue
        per_in[code], per_out[code], tiered = prices
        if tiered:
            tiered_codes.append(code)
    codes = np.where(codes < 0, len(models), codes)
    cost = inp * per_in[codes] + out * per_out[codes]
    for code in tiered_codes:
        rows = np.flatnonzero(codes == code)
        name = str(models[code])
        cost[rows] = [
            _exact_price(name, int(i), int(o)) for i, o in zip(inp[rows], out[rows], strict=True)
        ]
    return cost
