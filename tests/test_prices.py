"""Prices of requests whose log gives no cost (genai-prices' offline table), alone and through
`load_log`: known models priced exactly, tiers respected, unknown models NaN and flagged,
never 0."""

from __future__ import annotations

import datetime as dt
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from genai_prices import Usage, calc_price

import usage_widgets as uw
from usage_widgets.prices import is_priced, price_requests

TIER_START = 200_000  # gemini-2.5-pro: a higher rate for prompts above 200k tokens


def reference(model: str, input_tokens: int, output_tokens: int, when=None) -> float:
    """genai-prices' own answer, or NaN when it does not know the model."""
    try:
        calc = calc_price(
            Usage(input_tokens=int(input_tokens), output_tokens=int(output_tokens)),
            model_ref=model,
            genai_request_timestamp=when,
        )
    except LookupError:
        return math.nan
    return float(calc.total_price)


def log_of(models, input_tokens, output_tokens, timestamps=None, **extra) -> pd.DataFrame:
    n = len(models)
    return pd.DataFrame({
        "request_id": [f"r{i}" for i in range(n)],
        "timestamp": timestamps or [f"2026-01-05T{10 + i % 10:02d}:00:00Z" for i in range(n)],
        "user_id": ["ada"] * n,
        "api_key": ["k1"] * n,
        "model": models,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        **extra,
    })  # fmt: skip


def load_quiet(df: pd.DataFrame) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return uw.load_log(df)


# -- a known, linear model --------------------------------------------------------------------
def test_gpt_4o_is_priced_exactly():
    cost = price_requests(["gpt-4o", "gpt-4o", "gpt-4o"], [1_000_000, 0, 1_000_000],
                          [0, 1_000_000, 1_000_000])  # fmt: skip
    assert cost.tolist() == [2.5, 10.0, 12.5]
    assert cost.dtype == np.float64


def test_gpt_4o_through_load_log():
    log = load_quiet(log_of(["gpt-4o"] * 3, [1_000_000, 0, 1000], [0, 1_000_000, 0]))
    assert log["cost"].tolist() == [2.5, 10.0, 0.0025]
    assert log["priced"].all()


def test_zero_tokens_cost_zero_for_a_known_model():
    assert price_requests(["gpt-4o"], [0], [0]).tolist() == [0.0]


def test_model_name_case_is_ignored_like_genai_prices():
    assert price_requests(["GPT-4o"], [1_000_000], [0]).tolist() == [2.5]
    assert is_priced("GPT-4o")


def test_is_priced():
    assert is_priced("gpt-4o") and is_priced("gemini-2.5-pro")
    for unknown in ("no-such-model", "", " ", "\ufffd"):
        assert not is_priced(unknown)


# -- a tiered model ---------------------------------------------------------------------------
@pytest.mark.parametrize("input_tokens", [0, 1, 1000, TIER_START - 1, TIER_START, TIER_START + 1,
                                          500_000, 1_000_000])  # fmt: skip
@pytest.mark.parametrize("output_tokens", [0, 1, 8_000, 1_000_000])
def test_gemini_2_5_pro_is_priced_exactly_on_both_sides_of_its_tier(input_tokens, output_tokens):
    got = price_requests(["gemini-2.5-pro"], [input_tokens], [output_tokens])[0]
    assert got == reference("gemini-2.5-pro", input_tokens, output_tokens)


def test_gemini_tier_rate_applies_above_the_boundary_only():
    at, above = price_requests(["gemini-2.5-pro"] * 2, [TIER_START, TIER_START + 1], [0, 0])
    assert above / (TIER_START + 1) > 1.5 * at / TIER_START  # the whole prompt at the higher rate
    out_below, out_above = price_requests(["gemini-2.5-pro"] * 2, [TIER_START, TIER_START + 1],
                                          [1_000_000, 1_000_000])  # fmt: skip
    assert out_above - above > out_below - at  # output is dearer above the tier too


def test_tiered_and_linear_rows_mixed_in_one_call():
    models = ["gemini-2.5-pro", "gpt-4o", "gemini-2.5-pro", "mystery", "gemini-2.5-pro"]
    inp = [TIER_START - 1, 300_000, TIER_START + 1, 5, 1_000_000]
    out = [10, 10, 10, 5, 50_000]
    got = price_requests(models, inp, out)
    expected = [reference(m, i, o) for m, i, o in zip(models, inp, out, strict=True)]
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=0)
    assert math.isnan(got[3])


def test_tiered_model_through_load_log():
    inp = [TIER_START - 1, TIER_START, TIER_START + 1, 900_000]
    log = load_quiet(log_of(["gemini-2.5-pro"] * 4, inp, [1000] * 4))
    assert log["cost"].tolist() == [reference("gemini-2.5-pro", i, 1000) for i in inp]


# -- unknown models: NaN, flagged, never 0 ----------------------------------------------------
def test_unknown_model_is_nan_never_zero():
    cost = price_requests(["mystery", "mystery", None, math.nan], [0, 10, 10, 10], [0, 10, 10, 10])
    assert np.isnan(cost).all()


def test_unknown_model_in_a_log_is_flagged_and_warned():
    df = log_of(["gpt-4o", "mystery-1", "mystery-2", "mystery-1"], [1_000_000, 0, 5, 5], [0] * 4)
    with pytest.warns(uw.LogWarning, match=r"3 requests .*mystery-1.*mystery-2"):
        log = uw.load_log(df)
    assert log["priced"].tolist() == [True, False, False, False]
    assert log["cost"].iloc[0] == 2.5
    assert log["cost"].iloc[1:].isna().all()  # not 0
    assert len(log) == 4  # counted
    assert log["cost"].sum() == 2.5  # totals leave the unknown costs out


def test_a_given_cost_is_kept_and_makes_a_request_priced():
    df = log_of(["mystery", "gpt-4o", "gpt-4o"], [10, 1_000_000, 1_000_000], [10, 0, 0],
                cost=[0.75, 0.0, None])  # fmt: skip
    log = load_quiet(df)
    assert log["cost"].tolist() == [0.75, 0.0, 2.5]  # an explicit 0 stays 0, a gap is priced
    assert log["priced"].all()


def test_given_cost_missing_for_an_unknown_model_is_nan():
    df = log_of(["mystery", "gpt-4o"], [10, 10], [10, 10], cost=[None, 1.0])
    with pytest.warns(uw.LogWarning, match="mystery"):
        log = uw.load_log(df)
    assert log["priced"].tolist() == [False, True]
    assert math.isnan(log["cost"].iloc[0])


# -- vectorised == per request ----------------------------------------------------------------
MODELS = [
    "gpt-4o", "gpt-4o-mini", "o3", "gpt-4.1", "gpt-5", "claude-sonnet-4-5", "claude-opus-4-1",
    "claude-3-5-haiku-latest", "gemini-2.5-pro", "gemini-2.5-flash", "gemini-2.0-flash",
    "mistral-large-latest", "GPT-4o", "not-a-model", "llama-3.3-70b-versatile",
]  # fmt: skip


def test_vectorised_price_equals_calc_price_per_request():
    rng = np.random.default_rng(20260105)
    n = 300
    models = rng.choice(MODELS, n).tolist()
    inp = rng.choice(
        [0, 1, 999, 1000, 1001, TIER_START - 1, TIER_START, TIER_START + 1, 10**6],
        n,
    ) + rng.integers(0, 3, n) * rng.integers(0, 400_000, n)
    out = rng.integers(0, 100_000, n)
    got = price_requests(pd.Series(models, index=np.arange(n) * 7), pd.Series(inp), out)
    expected = np.array([reference(m, i, o) for m, i, o in zip(models, inp, out, strict=True)])
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=0)


def test_empty_input():
    assert price_requests([], [], []).tolist() == []


# -- the price in force when the request was made ---------------------------------------------
def test_cost_uses_the_price_in_force_at_the_request_time():
    """genai-prices has prices that change over time (a new price from a start date): a log's
    missing cost is the price of the request's own time, not of the moment the log is loaded."""
    when = "2026-01-05T12:00:00Z"  # before the 2026-03-13 price of claude-sonnet-4-6
    log = load_quiet(log_of(["claude-sonnet-4-6"], [300_000], [1000], timestamps=[when]))
    expected = reference("claude-sonnet-4-6", 300_000, 1000, when=dt.datetime.fromisoformat(when))
    assert log["cost"].iloc[0] == pytest.approx(expected, rel=1e-12)


def test_cost_uses_the_time_of_day_price_of_the_request():
    """deepseek-chat is cheaper off-peak (16:30-00:30 UTC): the same request costs what it cost
    at its own time of day, whatever the clock says when the log is loaded."""
    times = ["2026-01-05T03:00:00Z", "2026-01-05T20:00:00Z"]
    log = load_quiet(log_of(["deepseek-chat"] * 2, [1_000_000] * 2, [0, 0], timestamps=times))
    expected = [reference("deepseek-chat", 1_000_000, 0, when=dt.datetime.fromisoformat(t))
                for t in times]  # fmt: skip
    assert expected[0] != expected[1]
    assert log["cost"].tolist() == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("unit", ["s", "us", "ns"])
def test_price_requests_reads_date_times_of_any_resolution(unit):
    """Date-times in seconds or microseconds (as pandas keeps them) are the same instants as
    in nanoseconds: off-peak at 20:00 UTC, not at the epoch."""
    times = pd.DatetimeIndex(["2026-01-05T03:00:00", "2026-01-05T20:00:00"], tz="UTC").as_unit(unit)
    utc = times.tz_localize(None).to_numpy()  # numpy date-times in UTC, in their own unit
    got = price_requests(["deepseek-chat"] * 2, [1_000_000] * 2, [0, 0], timestamps=utc)
    expected = [reference("deepseek-chat", 1_000_000, 0, when=t.to_pydatetime()) for t in times]
    assert expected[0] != expected[1]
    assert got.tolist() == pytest.approx(expected, rel=1e-12)
