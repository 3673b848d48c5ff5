"""`usage-widgets serve --log postgresql://... --preset litellm`: the page reads LiteLLM's tables
in PostgreSQL, shows the database's numbers, and never the password."""

from __future__ import annotations

import pandas as pd
import pytest

import usage_widgets as uw

from ..engines import PG_PASSWORD
from ..litellm import canonical, fill, insert, requests
from ..test_sql_engines import in_memory
from .conftest import page_errors, start_server
from .test_page import caption, card


@pytest.fixture(scope="module")
def served_db(pg):
    import psycopg

    with psycopg.connect(pg.url, autocommit=True) as con:
        con.execute("DROP DATABASE IF EXISTS served")
        con.execute("CREATE DATABASE served")
    url = pg.url.rsplit("/", 1)[0] + "/served"
    rows = requests(seed=3, now=pd.Timestamp.now(tz="UTC").floor("s") - pd.Timedelta(minutes=5), n=120)
    with psycopg.connect(url) as con, con.cursor() as cur:
        fill(cur)
        insert(cur, rows)
    server = start_server(url)  # type: ignore[arg-type]  # --log takes the URL
    yield server, in_memory(canonical(rows))
    server.stop()


def test_litellm_database_page_shows_its_numbers_and_not_the_password(served_db, open_page) -> None:
    server, store = served_db
    page = open_page(server.url)
    kpis = uw.report(store, uw.Selection(), now=pd.Timestamp.now(tz="UTC")).kpis
    assert card(page, "Requests").get_attribute("title") == f"{kpis['requests']:,}"
    assert card(page, "Active Users").get_attribute("title") == f"{kpis['active_users']:,}"
    assert int(caption(page).get_attribute("data-rows")) == kpis["active_users"]
    assert "Ada Lovelace" in page.locator(".uw-table-summary").inner_text()
    assert PG_PASSWORD not in page.content()
    assert page_errors(page) == []
    page.wait_for_timeout(2000)  # images in grid cells paint just after the grid (the screenshot)
