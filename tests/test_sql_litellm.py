"""connect(url, preset="litellm"): LiteLLM proxy's PostgreSQL tables, read where they are."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

import usage_widgets as uw

from . import litellm
from .test_sql_engines import assert_same, in_memory

NOW = pd.Timestamp("2026-03-10 09:30:00", tz="UTC")


@pytest.fixture(scope="module")
def litellm_db(pg) -> tuple[str, list[dict]]:
    """A database named like LiteLLM's, with its tables and 200 requests."""
    import psycopg

    with psycopg.connect(pg.url, autocommit=True) as con:
        con.execute("DROP DATABASE IF EXISTS litellm")
        con.execute("CREATE DATABASE litellm")
    url = pg.url.rsplit("/", 1)[0] + "/litellm"
    rows = litellm.requests(seed=5, now=NOW, n=200)
    with psycopg.connect(url) as con, con.cursor() as cur:
        litellm.fill(cur)
        litellm.insert(cur, rows)
    return url, rows


SELECTIONS = [
    (uw.Selection(), "UTC"),
    (uw.Selection(view="team", range="14d"), "Europe/Berlin"),
    (uw.Selection(range="30d", tags=("env:prod", "proj:x"), sort="requests"), "America/New_York"),
    (uw.Selection(view="team", range="custom", start=dt.date(2026, 3, 9), end=dt.date(2026, 3, 10),
                  api_keys=("prod-backend", "sk-...e5f6")), "Asia/Kolkata"),
    (uw.Selection(range="7d", teams=("R&D", "Unassigned", "t-noalias"), search="example"), "UTC"),
]  # fmt: skip


def test_litellm_tables_give_the_report_of_the_equivalent_log(litellm_db) -> None:
    url, rows = litellm_db
    source = uw.connect(url, preset="litellm")
    store = in_memory(litellm.canonical(rows))
    assert source.options() == store.options()
    for selection, tz in SELECTIONS:
        want = uw.report(store, selection, now=NOW, tz=tz)
        assert len(want.breakdown), selection  # each question has an answer to compare
        assert_same(uw.report(source, selection, now=NOW, tz=tz), want)


def test_names_emails_teams_and_key_aliases_come_from_litellm_tables(litellm_db) -> None:
    url, _ = litellm_db
    source = uw.connect(url)  # no table named: LiteLLM's spend log is recognised
    rep = uw.report(source, uw.Selection(range="30d"), now=NOW)
    users = rep.breakdown.set_index("user_id")
    assert users.loc["u-ada", ["name", "email"]].tolist() == ["Ada Lovelace", "ada@example.org"]
    assert users.loc["u-barbara", "name"] == "u-barbara"  # no alias: the id
    assert users.loc["u-linus", ["name", "email"]].tolist() == ["Linus <T>", ""]
    options = source.options()
    assert "prod-backend" in options["api_keys"] and "sk-...e5f6" in options["api_keys"]
    assert "hash-1" not in options["api_keys"]  # a key with an alias is shown by it
    assert {"R&D", "Search", "Platform", "t-noalias", "Unassigned"} == set(options["teams"])
    assert options["tags"] == ["env:dev", "env:prod", "proj:x", "tier:1"]
