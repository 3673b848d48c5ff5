"""Live Mode on a database: rows inserted by another process are counted once, found by one
cheap query a look, and the report is computed again only when something changed."""

from __future__ import annotations

import asyncio
import json
import os
import sys

import pandas as pd
import pytest

import usage_widgets as uw

from . import litellm
from .test_live import Clock
from .test_sql_engines import assert_same, in_memory

T0 = pd.Timestamp("2026-03-10 12:00:00", tz="UTC")

INSERTER = """
import json, os, sys
import psycopg
rows = json.loads(sys.stdin.read())
with psycopg.connect(os.environ["LIVE_DB"]) as con, con.cursor() as cur:
    for r in rows:
        columns = ", ".join(f'"{c}"' for c in r)
        cur.execute(f'INSERT INTO "LiteLLM_SpendLogs" ({columns}) VALUES ({", ".join(["%s"] * len(r))})',
                    list(r.values()))
"""


@pytest.fixture(scope="module")
def live_db(pg) -> tuple[str, list[dict]]:
    import psycopg

    with psycopg.connect(pg.url, autocommit=True) as con:
        con.execute("DROP DATABASE IF EXISTS live")
        con.execute("CREATE DATABASE live")
    url = pg.url.rsplit("/", 1)[0] + "/live"
    rows = litellm.requests(seed=9, now=T0, n=40, prefix="old")
    with psycopg.connect(url) as con, con.cursor() as cur:
        litellm.fill(cur)
        litellm.insert(cur, rows)
    return url, rows


async def insert_from_another_process(url: str, rows: list[dict]) -> None:
    plain = [{k: (str(v) if isinstance(v, pd.Timestamp) else v) for k, v in r.items()} for r in rows]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", INSERTER, stdin=asyncio.subprocess.PIPE, env={**os.environ, "LIVE_DB": url}
    )
    await proc.communicate(json.dumps(plain).encode())
    assert proc.returncode == 0


def test_rows_inserted_by_another_process_are_counted_exactly_once(live_db) -> None:
    url, old = live_db
    clock = Clock(T0)
    source = uw.connect(url)
    queries: list[str] = []
    run = source._run
    source._run = lambda expr: (queries.append("query"), run(expr))[1]  # type: ignore[method-assign]
    read_new = source.read_new
    source.read_new = lambda: (queries.append("look"), read_new())[1]  # type: ignore[method-assign]
    dash = uw.UsageDashboard(source, clock=clock, live_interval=0.02, selection=uw.Selection(range="7d"))
    before = dash.report.kpis["requests"]
    expected = uw.report(in_memory(litellm.canonical(old)), uw.Selection(range="7d"), now=T0)
    assert before == expected.kpis["requests"]
    new = litellm.requests(seed=10, now=T0 + pd.Timedelta(minutes=5), n=3, prefix="new")
    for r in new:  # just now
        r["startTime"] = (T0 + pd.Timedelta(seconds=30)).tz_localize(None) - pd.Timedelta(
            milliseconds=int(r["request_id"].rsplit("-", 1)[1])
        )
    late = litellm.requests(seed=11, now=T0, n=1, prefix="late")
    late[0]["startTime"] = (T0 - pd.Timedelta(minutes=10)).tz_localize(None)  # logged after newer ones

    async def wait_for(requests: int) -> None:
        for _ in range(300):
            await asyncio.sleep(0.02)
            clock.now += pd.Timedelta(milliseconds=200)
            if dash.report.kpis["requests"] == requests:
                return
        raise AssertionError(f"the page shows {dash.report.kpis['requests']} requests, not {requests}")

    async def scenario() -> None:
        dash.state.live = True
        await asyncio.sleep(0.1)
        clock.now = T0 + pd.Timedelta(minutes=1)
        await insert_from_another_process(url, new)
        await wait_for(before + 3)
        await insert_from_another_process(url, late)
        await wait_for(before + 4)
        await asyncio.sleep(0.2)
        queries.clear()
        await asyncio.sleep(1.0)  # looks with nothing new
        dash.state.live = False
        await asyncio.sleep(0.2)
        assert dash.report.kpis["requests"] == before + 4  # each counted once
        looks = queries.count("look")
        assert looks >= 2
        assert abs(queries.count("query") - looks) <= 1  # one query a look, no report re-run

    try:
        asyncio.run(scenario())
        want = uw.report(in_memory(litellm.canonical(old + new + late)), dash.selection, now=clock.now)
        assert_same(uw.report(source, dash.selection, now=clock.now), want)
        assert "Live" not in dash.controls.live_status.value
    finally:
        dash.close()


def test_an_idle_look_reuses_the_report_until_the_window_moves(live_db) -> None:
    url, _ = live_db
    source = uw.connect(url)
    source.read_new()  # start following
    selection = uw.Selection(range="24h")
    now = T0 + pd.Timedelta(minutes=30)  # after every request
    first = uw.report(source, selection, now=now)
    assert source.read_new() == 0
    again = uw.report(source, selection, now=now + pd.Timedelta(seconds=20))
    assert again.breakdown is first.breakdown and again.now == now + pd.Timedelta(seconds=20)
    next_hour = uw.report(source, selection, now=now + pd.Timedelta(hours=1))
    assert next_hour.breakdown is not first.breakdown  # new buckets: computed again
