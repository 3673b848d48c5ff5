"""Paths taken only by large logs: a pass split among threads, tag sets beyond 63 tags."""

from __future__ import annotations

import sys

import pandas as pd
import pytest

import usage_widgets as uw
from usage_widgets import kernel

report_module = sys.modules["usage_widgets.report"]


@pytest.mark.parametrize(("view", "models"), [("user", ()), ("team", ()), ("user", ("gpt-4o", "o4-mini"))])
def test_split_pass_gives_the_same_report(
    monkeypatch: pytest.MonkeyPatch, view: str, models: tuple[str, ...]
) -> None:
    store = uw.RequestStore.from_log(uw.demo_log(3, users=60, days=20, now="2026-03-10T12:00Z"))
    selection = uw.Selection(view=view, range="14d", models=models)
    whole = uw.report(store, selection, now="2026-03-10T12:00Z", tz="Asia/Kolkata")
    monkeypatch.setattr(kernel, "MIN_CHUNK", 10)
    split = uw.report(store, selection, now="2026-03-10T12:00Z", tz="Asia/Kolkata")
    assert whole.kpis["requests"] > 100
    assert split.kpis == pytest.approx(whole.kpis)
    pd.testing.assert_frame_equal(split.activity, whole.activity)
    pd.testing.assert_frame_equal(split.breakdown, whole.breakdown, check_exact=False, rtol=1e-12)
    assert split.previous_kpis == pytest.approx(whole.previous_kpis)
    assert whole.previous_kpis["requests"] > 100
    pd.testing.assert_frame_equal(split.cost_by_model, whole.cost_by_model, check_exact=False, rtol=1e-12)
    assert len(whole.cost_by_model) > len(models)  # the models filter leaves cost by model whole
    pd.testing.assert_frame_equal(split.anomalies, whole.anomalies)


@pytest.mark.parametrize("distinct_tags", [5, 70])  # bit words up to 63 tags, text beyond
def test_tag_filter_counts_the_requests_carrying_the_tag(distinct_tags: int) -> None:
    n = 140
    tags = [[f"t:v{i % distinct_tags}", f"t:v{(i * 7) % distinct_tags}"] for i in range(n)]
    log = pd.DataFrame({
        "request_id": [f"r{i}" for i in range(n)],
        "timestamp": pd.date_range("2026-03-01", periods=n, freq="h", tz="UTC"),
        "user_id": [f"u{i % 9}" for i in range(n)], "api_key": "k", "model": "gpt-4o",
        "input_tokens": 10, "output_tokens": 5, "tags": tags,
    })  # fmt: skip
    store = uw.RequestStore.from_log(log)
    for tag in ("t:v1", f"t:v{distinct_tags - 1}"):
        rep = uw.report(store, uw.Selection(range="14d", tags=(tag,)), now="2026-03-07T00:00Z")
        expected = sum(tag in t for t in tags)
        assert rep.kpis["requests"] == expected
