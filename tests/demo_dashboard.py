"""The demo log, moment and dashboard the widget tests share (import the fixtures to use them)."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest

import usage_widgets as uw

NOW = pd.Timestamp("2026-03-11T15:00:00Z")


@pytest.fixture(name="log", scope="module")
def demo_log_fixture() -> pd.DataFrame:
    return uw.demo_log(seed=5, users=60, days=40, now=NOW)


@pytest.fixture(name="dash")
def dashboard_fixture(log) -> Iterator[uw.UsageDashboard]:
    d = uw.UsageDashboard(log, now=NOW)
    yield d
    d.close()


def expected(log, **selection) -> uw.Report:
    return uw.report(log, uw.Selection(**selection), now=NOW)
