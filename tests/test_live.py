"""Live Mode: sources that grow, the refresh task on the event loop, faults and recovery."""

from __future__ import annotations

import asyncio
import json

import pandas as pd
import pytest

import usage_widgets as uw
from usage_widgets.sources import CallableSource, DemoSource, FileSource

T0 = pd.Timestamp("2026-03-10T12:00:00Z")


def requests(ids: list[str], at: pd.Timestamp, user: str = "ada", team: str = "R&D") -> pd.DataFrame:
    return pd.DataFrame({
        "request_id": ids,
        "timestamp": [at] * len(ids),
        "user_id": [user] * len(ids),
        "team": [team] * len(ids),
        "api_key": ["k1"] * len(ids),
        "model": ["gpt-4o"] * len(ids),
        "input_tokens": [100] * len(ids),
        "output_tokens": [10] * len(ids),
        "cost": [0.01] * len(ids),
    })  # fmt: skip


class Clock:
    def __init__(self, now: pd.Timestamp) -> None:
        self.now = now

    def __call__(self) -> pd.Timestamp:
        return self.now


class QueueSource:
    """A growing log under test control: what `read_new` returns next, or the error it raises."""

    def __init__(self, first: pd.DataFrame) -> None:
        self.first, self.pending, self.error, self.calls = first, [], None, 0

    def read(self) -> pd.DataFrame:
        return uw.load_log(self.first)

    def read_new(self) -> pd.DataFrame:
        self.calls += 1
        if self.error is not None:
            raise self.error
        batch, self.pending = self.pending, []
        return uw.load_log(pd.concat(batch) if batch else requests([], T0).iloc[:0])


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def source() -> QueueSource:
    return QueueSource(requests(["r1", "r2"], T0 - pd.Timedelta(hours=1)))


@pytest.fixture
def dash(source: QueueSource, clock: Clock):
    d = uw.UsageDashboard(source, clock=clock, live_interval=0.01)
    yield d
    d.close()


def requests_card(d) -> str:
    return d.cards.shown["Requests"].hover


def test_arrivals_change_the_cards_by_exactly_the_new_requests(dash, source, clock) -> None:
    assert dash.report.kpis["requests"] == 2
    source.pending.append(requests(["r3", "r4", "r5"], T0 + pd.Timedelta(seconds=5), user="bob"))
    clock.now = T0 + pd.Timedelta(seconds=10)
    assert asyncio.run(dash.live_tick()) is True
    assert dash.report.kpis["requests"] == 5
    assert dash.report.kpis["active_users"] == 2
    assert requests_card(dash) == "5"
    assert "Live" in dash.controls.live_status.value or not dash.state.live


def test_a_request_seen_twice_counts_once(dash, source, clock) -> None:
    source.pending.append(requests(["r2", "r3"], T0 - pd.Timedelta(hours=1)))
    asyncio.run(dash.live_tick())
    assert dash.report.kpis["requests"] == 3


def test_a_failing_source_keeps_the_last_good_numbers_and_warns(dash, source, clock) -> None:
    async def scenario() -> None:
        dash.live_interval = 1000  # the loop's own first look is the only one it makes here
        source.error = OSError("disk gone /secret/path/log.csv")
        source.pending.append(requests(["r3"], T0))
        dash.state.live = True
        for _ in range(100):
            await asyncio.sleep(0.01)
            if dash.live_error:
                break
        assert dash.report.kpis["requests"] == 2
        status = dash.controls.live_status.value
        assert "unavailable" in status and "/secret/path" not in status
        assert "retrying in 60 s" in status  # backed off
        source.error = None  # back: nothing missed, nothing counted twice
        assert await dash.live_tick() is True
        assert dash.report.kpis["requests"] == 3
        assert "⚠" not in dash.controls.live_status.value
        dash.state.live = False

    asyncio.run(scenario())


def test_a_source_that_hangs_times_out(dash, source) -> None:
    import threading

    release = threading.Event()
    source.read_new = lambda: (release.wait(5), requests([], T0).iloc[:0])[1]  # type: ignore[method-assign]

    async def scenario() -> bool:
        dash.state.live = True
        try:
            return await dash.live_tick(timeout=0.05)
        finally:
            release.set()
            dash.state.live = False

    assert asyncio.run(scenario()) is False
    assert dash.live_error == "the log did not answer in time"


def test_live_mode_runs_on_the_event_loop_and_stops_when_switched_off(dash, source, clock) -> None:
    async def scenario() -> None:
        dash.state.live = True
        task = dash._live_task
        assert task is not None and not task.done()
        source.pending.append(requests(["r3"], T0))
        for _ in range(200):
            await asyncio.sleep(0.01)
            if dash.report.kpis["requests"] == 3:
                break
        assert dash.report.kpis["requests"] == 3
        assert "● Live" in dash.controls.live_status.value
        dash.state.live = False
        await asyncio.sleep(0.02)
        assert task.done() and dash._live_task is None
        if dash._reading is not None:  # a read handed to a thread before the switch ends there
            await asyncio.wait([dash._reading], timeout=5)
        calls = source.calls
        source.pending.append(requests(["r4"], T0))
        await asyncio.sleep(0.1)
        assert source.calls == calls  # off: nothing is read, nothing on the page moves
        assert dash.report.kpis["requests"] == 3
        assert dash.controls.live_status.value == ""
        dash.state.live = True  # on again: catches up at once
        for _ in range(200):
            await asyncio.sleep(0.01)
            if dash.report.kpis["requests"] == 4:
                break
        assert dash.report.kpis["requests"] == 4
        dash.close()
        await asyncio.sleep(0.02)
        assert all(t.done() for t in asyncio.all_tasks() if t is not asyncio.current_task())

    asyncio.run(scenario())


def test_two_dashboards_each_have_their_own_task(source, clock) -> None:
    async def scenario() -> None:
        a = uw.UsageDashboard(source, clock=clock, live_interval=0.01)
        b = uw.UsageDashboard(QueueSource(requests(["x1"], T0)), clock=clock, live_interval=0.01)
        a.state.live = True
        b.state.live = True
        assert a._live_task is not b._live_task
        a.state.live = False
        await asyncio.sleep(0.03)
        assert a._live_task is None and not b._live_task.done()
        b.close()
        a.close()

    asyncio.run(scenario())


def test_live_keeps_view_filters_sort_and_search(dash, source, clock) -> None:
    dash.state.view = "team"
    dash.state.search = "r&d"
    dash.state.sort_by("requests")
    source.pending.append(requests(["r3"], T0, user="cy", team="Search"))
    asyncio.run(dash.live_tick())
    sel = dash.selection
    assert (sel.view, sel.search, sel.sort, sel.descending) == ("team", "r&d", "requests", True)
    assert dash.report.breakdown["team"].tolist() == ["R&D"]
    assert "Search" in dash.state.options["teams"]  # the new team is offered as a choice


def test_the_window_slides_with_the_clock(dash, source, clock) -> None:
    dash.state.range = "24h"
    assert dash.report.kpis["requests"] == 2
    clock.now = T0 + pd.Timedelta(hours=30)
    asyncio.run(dash.live_tick())
    assert dash.report.kpis["requests"] == 0


# -- file sources ------------------------------------------------------------------------------
def test_csv_source_picks_up_appended_complete_lines(tmp_path) -> None:
    path = tmp_path / "log.csv"
    requests(["r1"], T0).to_csv(path, index=False)
    src = FileSource(path)
    assert src.read()["request_id"].tolist() == ["r1"]
    line = requests(["r2"], T0).to_csv(index=False, header=False)
    with path.open("a") as fh:
        fh.write(line + line.replace("r2", "r3").rstrip("\n")[:20])  # r3 is still being written
    assert src.read_new()["request_id"].tolist() == ["r2"]
    with path.open("a") as fh:
        fh.write(line.replace("r2", "r3")[20:])
    assert src.read_new()["request_id"].tolist() == ["r3"]
    assert src.read_new().empty


def test_json_lines_source_picks_up_appended_lines(tmp_path) -> None:
    path = tmp_path / "log.jsonl"
    rows = requests(["r1", "r2"], T0).assign(timestamp=T0.isoformat()).to_dict("records")
    path.write_text(json.dumps(rows[0]) + "\n")
    src = FileSource(path)
    assert len(src.read()) == 1
    with path.open("a") as fh:
        fh.write(json.dumps(rows[1]) + "\n")
    assert src.read_new()["request_id"].tolist() == ["r2"]


def test_parquet_folder_source_reads_new_files(tmp_path) -> None:
    requests(["r1"], T0).to_parquet(tmp_path / "part-1.parquet")
    src = FileSource(tmp_path)
    assert len(src.read()) == 1
    assert src.read_new().empty
    requests(["r2", "r3"], T0).to_parquet(tmp_path / "part-2.parquet")
    assert sorted(src.read_new()["request_id"]) == ["r2", "r3"]


def test_demo_source_serves_requests_as_the_clock_passes_them() -> None:
    clock = Clock(pd.Timestamp("2026-03-11T14:00:00Z"))  # a working day, the anomaly running
    src = DemoSource(users=40, days=10, clock=clock)
    first = src.read()
    assert first["timestamp"].max() <= clock.now
    clock.now += pd.Timedelta(minutes=10)
    new = src.read_new()
    assert len(new) > 10  # the runaway script calls every few seconds
    assert new["timestamp"].min() > first["timestamp"].max()
    assert (new["timestamp"] <= clock.now).all()
    assert src.anomaly_user_id in set(new["user_id"])
    assert src.read_new().empty  # the clock did not move


def test_callable_source_adapts_functions() -> None:
    src = CallableSource(lambda: uw.load_log(requests(["a"], T0)), lambda: uw.load_log(requests(["b"], T0)))
    dash = uw.UsageDashboard(src, now=T0)
    assert asyncio.run(dash.live_tick())
    assert dash.report.kpis["requests"] == 2
    dash.close()


def test_parquet_file_source_reads_the_file_again_when_it_changes(tmp_path) -> None:
    path = tmp_path / "log.parquet"
    requests(["r1"], T0).to_parquet(path)
    src = FileSource(path)
    assert src.read()["request_id"].tolist() == ["r1"]
    assert src.read_new().empty
    import os

    requests(["r1", "r2"], T0).to_parquet(path)
    os.utime(path, ns=(T0.value + 10**9, T0.value + 10**9))
    store = uw.RequestStore()
    store.append(src.read(), validated=True)
    requests(["r1", "r2", "r3"], T0).to_parquet(path)
    os.utime(path, ns=(T0.value + 2 * 10**9, T0.value + 2 * 10**9))
    assert store.append(src.read_new(), validated=True) == 1  # only r3 is new


# -- regressions found in review ---------------------------------------------------------------
def test_a_bad_appended_row_is_set_aside_and_the_good_ones_arrive(tmp_path) -> None:
    path = tmp_path / "log.csv"
    requests(["r1"], T0).to_csv(path, index=False)
    dash = uw.UsageDashboard(path, now=T0 + pd.Timedelta(minutes=1))
    good = requests(["r2", "r3"], T0)
    bad = requests(["r4"], T0).assign(input_tokens=-5)
    with path.open("a") as fh:
        fh.write(pd.concat([good, bad]).to_csv(index=False, header=False))
    dash.state.live = False
    assert asyncio.run(dash.live_tick()) is True
    assert dash.report.kpis["requests"] == 3
    assert dash.source.set_aside == 1
    dash.close()


def test_a_read_that_times_out_is_not_lost(dash, source) -> None:
    import threading

    release = threading.Event()
    pending = requests(["r3", "r4"], T0)

    def slow_read():
        release.wait(5)
        return uw.load_log(pending)

    source.read_new = slow_read  # type: ignore[method-assign]

    async def scenario() -> None:
        assert await dash.live_tick(timeout=0.05) is False
        release.set()
        assert await dash.live_tick(timeout=5) is True  # the same read, now finished

    asyncio.run(scenario())
    assert dash.report.kpis["requests"] == 4


def test_a_last_line_without_newline_counts(tmp_path) -> None:
    path = tmp_path / "log.csv"
    path.write_text(requests(["r1", "r2"], T0).to_csv(index=False).rstrip("\n"))
    dash = uw.UsageDashboard(path, now=T0 + pd.Timedelta(minutes=1))
    assert dash.report.kpis["requests"] == 2
    with path.open("a") as fh:  # the line is finished later: still counted once
        fh.write("\n" + requests(["r3"], T0).to_csv(index=False, header=False))
    asyncio.run(dash.live_tick())
    assert dash.report.kpis["requests"] == 3
    dash.close()


def test_a_header_only_log_opens_empty(tmp_path) -> None:
    path = tmp_path / "log.csv"
    path.write_text(requests([], T0).to_csv(index=False))
    dash = uw.UsageDashboard(path, now=T0)
    assert dash.report.kpis["requests"] == 0
    assert "No requests" in dash.table.message.value
    dash.close()


def test_a_new_team_does_not_recolour_the_others(dash, source) -> None:
    before = dict(dash.colors)
    source.pending.append(requests(["r9"], T0, user="zed", team="Aa1"))
    asyncio.run(dash.live_tick())
    assert {t: dash.colors[t] for t in before} == before
    assert "Aa1" in dash.colors


def test_repeated_ids_are_reported_on_the_page(dash, source) -> None:
    source.pending.append(requests(["r1", "r2", "r3"], T0 - pd.Timedelta(hours=1)))
    asyncio.run(dash.live_tick())
    assert dash.report.kpis["requests"] == 3
    assert "2 repeated request ids counted once" in dash.summary.value


def test_a_custom_source_may_return_raw_frames() -> None:
    raw = requests(["a"], T0).drop(columns=["team"]).assign(timestamp=str(T0))
    src = CallableSource(lambda: raw, lambda: raw.assign(request_id="b"))
    dash = uw.UsageDashboard(src, now=T0)
    assert asyncio.run(dash.live_tick())
    assert dash.report.kpis["requests"] == 2
    assert dash.report.breakdown["team"].tolist() == ["Unassigned"]
    dash.close()
