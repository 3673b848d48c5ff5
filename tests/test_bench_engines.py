"""The benchmark's pandas, Polars and DuckDB pages agree with `report()` on the whole page, and
its check catches a difference: the ratios `make bench` prints compare the same work."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from benchmarks.alternatives import ENGINES, Ask, check
from usage_widgets import RequestStore, Selection, demo_log, report
from usage_widgets.errors import LogWarning

NOW = pd.Timestamp("2026-03-31T18:00Z")
SELECTIONS = [
    (Selection(range="30d"), "UTC"),
    (Selection(range="7d", view="team"), "America/New_York"),
    (Selection(range="24h"), "Asia/Kolkata"),
    (Selection(range="custom", start=dt.date(2026, 2, 20), end=dt.date(2026, 3, 31)), "Australia/Eucla"),
    (Selection(range="30d", tags=("env:prod",)), "UTC"),
    (Selection(range="14d", view="team", tags=("env:prod", "app:search", "app:batch-eval")), "UTC"),
    (Selection(range="30d", teams=("Search",), models=("gpt-4o", "claude-sonnet-4-0")), "Europe/Berlin"),
    (Selection(range="30d", search="an"), "UTC"),
]


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    """A demo log as a Parquet file (as `make bench` writes its logs) and its store."""
    log = demo_log(3, users=80, days=45, now=NOW, teams=6)
    # requests of unknown price: all of one model's, and all of one user's
    quiet = log["user_id"].value_counts().index[-1]
    unpriced = (log["model"] == "mistral-large-latest") | (log["user_id"] == quiet)
    log["model"] = log["model"].astype(object).where(~unpriced, "in-house-llm")
    log["cost"] = log["cost"].where(~unpriced)
    path = tmp_path_factory.mktemp("bench") / "log.parquet"
    pq.write_table(pa.Table.from_pandas(log, preserve_index=False).replace_schema_metadata(None), path)
    with pytest.warns(LogWarning, match="no known price"):
        store = RequestStore.from_log(path)
    return path, store, log.attrs["anomaly_user_id"]


@pytest.fixture(scope="module", params=ENGINES, ids=lambda e: e.name)
def engine(request, logged):
    engine = request.param()
    engine.prepare(str(logged[0]))
    return engine


@pytest.mark.parametrize(("selection", "tz"), SELECTIONS)
def test_each_engine_gives_our_page(engine, logged, selection, tz):
    _, store, _ = logged
    keyed = selection.replace(api_keys=("search-prod", "ava-dev", "data-science-staging"))
    for sel in (selection, keyed):
        rep = report(store, sel, now=NOW, tz=tz)
        assert rep.kpis["requests"] > 0
        check(rep, engine.run(Ask.of(sel, NOW, tz)))


def test_an_empty_page_is_the_same_page(engine, logged):
    _, store, _ = logged
    for sel in (Selection(api_keys=("no-such-key",)), Selection(view="team", search="zzz")):
        rep = report(store, sel, now=NOW)
        assert rep.breakdown.empty
        check(rep, engine.run(Ask.of(sel, NOW, "UTC")))


def test_the_check_catches_a_difference_anywhere_on_the_page(logged):
    _, store, runaway = logged
    engine = ENGINES[0]()  # pandas
    engine.prepare(str(logged[0]))
    sel = Selection(range="30d")
    rep = report(store, sel, now=NOW)
    assert list(rep.anomalies.index) == [runaway]  # so that the anomaly comparison means something

    def more_requests(answer):
        answer.kpis["requests"] += 1

    def no_kpis_before(answer):
        answer.previous_kpis.clear()

    def one_row_off(answer):
        answer.totals.iloc[0, answer.totals.columns.get_loc("requests")] += 1

    def a_row_more(answer):
        answer.totals.loc["someone-else"] = answer.totals.iloc[0]

    def a_bucket_more(answer):
        answer.activity.loc[pd.Timestamp("2026-01-01")] = 1

    def a_trend_moved(answer):
        answer.trend.iloc[0] += 1

    def models_reordered(answer):
        answer.models.loc[runaway] = answer.models.loc[runaway].to_numpy()[::-1]

    def cheaper_model(answer):
        answer.cost_by_model.iloc[0, answer.cost_by_model.columns.get_loc("cost")] /= 2

    def quiet_runaway(answer):
        answer.history.loc[runaway] = 0

    def busier_before(answer):  # still flagged, against a higher usual day
        answer.history.loc[runaway, answer.history.columns[-8:-1]] *= 2

    for change, message in [
        (more_requests, "^kpi requests"),
        (no_kpis_before, "^previous kpi active_users: missing"),
        (one_row_off, "^requests differs"),
        (a_row_more, "^rows"),
        (a_bucket_more, "^activity: buckets differ"),
        (a_trend_moved, "^trend of "),
        (models_reordered, f"^models of {runaway} differ"),
        (cheaper_model, "^cost by model: cost differs"),
        (quiet_runaway, "^anomalies: ours 1, theirs 0"),
        (busier_before, "^anomalies: median differs"),
    ]:
        answer = engine.run(Ask.of(sel, NOW, "UTC"))
        check(rep, answer)
        change(answer)
        with pytest.raises(AssertionError, match=message):
            check(rep, answer)
