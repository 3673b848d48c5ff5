"""A database URL as the served page's log: `serve --log postgresql://...` and ``USAGE_LOG``; the
password never shows on the page, in logs or in error messages."""

from __future__ import annotations

import logging

import ipywidgets as w
import pandas as pd
import pytest

import usage_widgets as uw
from usage_widgets import cli

from .engines import PG_PASSWORD, free_port
from .test_sql_engines import load, random_log


def page_text(widget: w.Widget) -> str:
    """Every text a widget tree sends to the page."""
    parts = []
    for name in ("value", "description", "placeholder", "tooltip", "options"):
        value = getattr(widget, name, None)
        if isinstance(value, str | tuple):
            parts.append(str(value))
    for child in getattr(widget, "children", ()):
        parts.append(page_text(child))
    return "\n".join(parts)


def test_a_wrong_password_is_refused_with_the_password_masked(pg, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = pg.url.replace(PG_PASSWORD, "Wr0ng-Guess-42")
    with pytest.raises(uw.LogError) as refused:
        uw.connect(wrong)
    message = str(refused.value)
    assert "password authentication failed" in message
    assert "postgresql://***@127.0.0.1" in message
    assert "Wr0ng-Guess-42" not in message and "Wr0ng-Guess-42" not in caplog.text


def test_an_unreachable_server_names_the_address_not_the_password() -> None:
    url = f"postgresql://usage:Hidden-Pa55@127.0.0.1:{free_port()}/usage"
    page = uw.dashboard_from_env({"USAGE_LOG": url})
    assert isinstance(page, w.HTML)
    assert "The request log could not be opened" in page.value
    assert "127.0.0.1" in page.value and "***" in page.value
    assert "Hidden-Pa55" not in page.value


def test_usage_log_url_serves_the_database_without_its_password(pg, caplog) -> None:
    import ibis

    caplog.set_level(logging.DEBUG)
    con = ibis.connect(pg.url)
    load(con, random_log(41, pd.Timestamp.now(tz="UTC").floor("s"), n=30), "served_log")
    con.disconnect()
    dash = uw.dashboard_from_env({"USAGE_LOG": pg.url, "USAGE_TABLE": "served_log"})
    try:
        assert isinstance(dash, uw.UsageDashboard)
        assert isinstance(dash.store, uw.SqlSource)  # reported on in the database, never pulled
        dash.selection = uw.Selection(range="30d")
        assert dash.report.kpis["requests"] > 0
        text = page_text(dash)
        assert "served_log" not in text
        assert PG_PASSWORD not in text and PG_PASSWORD not in repr(dash.store)
        assert PG_PASSWORD not in caplog.text
    finally:
        dash.close()


def test_serve_passes_a_database_url_table_and_preset_to_the_kernel(monkeypatch, capsys) -> None:
    calls = []
    monkeypatch.setattr(cli.os, "execve", lambda exe, argv, env: calls.append((argv, env)))
    url = "postgresql://usage:Top-Secret@db.example:5432/litellm"
    cli.main(["serve", "--log", url, "--preset", "litellm"])
    argv, env = calls[0]
    assert env["USAGE_LOG"] == url and env["USAGE_PRESET"] == "litellm" and "USAGE_TABLE" not in env
    assert not any("Top-Secret" in a for a in argv)  # the command line is visible to every user
    assert "Top-Secret" not in capsys.readouterr().out
    cli.main(["serve", "--log", "duckdb:///srv/requests.duckdb", "--table", "calls"])
    assert calls[1][1]["USAGE_TABLE"] == "calls" and "USAGE_PRESET" not in calls[1][1]


def test_mask_url() -> None:
    assert uw.sql.mask_url("postgresql://me:p%40ss@h:5432/db") == "postgresql://***@h:5432/db"
    assert uw.sql.mask_url("duckdb:///x.duckdb") == "duckdb:///x.duckdb"
