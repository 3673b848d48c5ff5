"""A long window is split among threads; the split parts add up to the same page."""

from __future__ import annotations

import sys

import pandas as pd
import pytest

import usage_widgets as uw
from usage_widgets import kernel

report_module = sys.modules["usage_widgets.report"]


@pytest.mark.parametrize("view", ["user", "team"])
def test_split_pass_gives_the_same_report(monkeypatch: pytest.MonkeyPatch, view: str) -> None:
    store = uw.RequestStore.from_log(uw.demo_log(3, users=60, days=20, now="2026-03-10T12:00Z"))
    selection = uw.Selection(view=view, range="14d")
    whole = uw.report(store, selection, now="2026-03-10T12:00Z", tz="Asia/Kolkata")
    monkeypatch.setattr(kernel, "MIN_CHUNK", 10)
    split = uw.report(store, selection, now="2026-03-10T12:00Z", tz="Asia/Kolkata")
    assert whole.kpis["requests"] > 100
    assert split.kpis == pytest.approx(whole.kpis)
    pd.testing.assert_frame_equal(split.activity, whole.activity)
    pd.testing.assert_frame_equal(split.breakdown, whole.breakdown, check_exact=False, rtol=1e-12)
