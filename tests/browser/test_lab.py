"""The dashboard inside JupyterLab: the project's notebook, run in a real JupyterLab, light and dark."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest

import usage_widgets as uw

from .conftest import free_port, launch, stop
from .test_page import card, wait_for

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "usage.ipynb"
WIDGET_ERRORS = ("Error displaying widget", "Failed to load model class", "Error rendering",
                 "model not found", "Loading widget...")  # fmt: skip
DARK = "JupyterLab Dark"
# Each notebook output is shown at most this wide in a 1440 px window with the side bar closed.
VIEWPORT = {"width": 1440, "height": 1900}


def isolated_jupyter(home: Path, log_path: Path) -> dict[str, str]:
    """Environment of a JupyterLab that sees none of the user's settings, workspaces or kernels,
    and whose one Python kernel is this interpreter (the project's environment)."""
    kernel = home / "data" / "kernels" / "python3"
    kernel.mkdir(parents=True)
    (kernel / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (usage-widgets)", "language": "python",
    }))  # fmt: skip
    labconfig = home / "config" / "labconfig"
    labconfig.mkdir(parents=True)
    # The "receive official Jupyter news?" toast would cover the notebook.
    (labconfig / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}})
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "USAGE_"))}
    return {
        **env,
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_DATA_DIR": str(home / "data"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
        "JUPYTER_PLATFORM_DIRS": "1",
        "USAGE_LOG": str(log_path),
    }


@pytest.fixture(scope="module")
def lab(tmp_path_factory, chromium_path):
    home = tmp_path_factory.mktemp("jupyter")
    root = home / "notebooks"
    root.mkdir()
    shutil.copy(NOTEBOOK, root / NOTEBOOK.name)
    log = uw.demo_log(seed=3, users=40, days=20, now=pd.Timestamp.now(tz="UTC") - pd.Timedelta(minutes=5))
    log_path = home / "requests.parquet"
    log.to_parquet(log_path)
    port, token = free_port(), secrets.token_hex(16)
    command = [
        str(Path(sys.executable).with_name("jupyter")), "lab", "--no-browser",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
        "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly", "--allow-root",
    ]  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    process, output = launch(
        command, isolated_jupyter(home, log_path), f"{url}api/status?token={token}", "jupyter lab"
    )
    yield url, token, uw.RequestStore.from_log(log)
    stop(process, output)


def run_notebook(page) -> None:
    """Wait for the kernel, then run every cell, as Run > Run All Cells does."""
    page.locator(".jp-NotebookPanel").first.wait_for(timeout=60_000)
    page.evaluate("() => window.jupyterapp.shell.collapseLeft()")
    kernel_idle = (
        "() => { const w = window.jupyterapp.shell.currentWidget;"
        " return !!(w && w.sessionContext && w.sessionContext.session"
        " && w.sessionContext.session.kernel && w.sessionContext.session.kernel.status === 'idle'); }"
    )
    page.wait_for_function(kernel_idle, timeout=60_000)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")


def widget_errors(page) -> list[str]:
    text = page.locator(".jp-OutputArea").first.inner_text()
    return [e for e in WIDGET_ERRORS if e in text]


def open_dashboard(page):
    """Run the notebook and wait until every part of the dashboard is on the page."""
    run_notebook(page)
    dashboard = page.locator(".jp-OutputArea .uw-dashboard")
    dashboard.locator(".uw-cards").wait_for(timeout=60_000)
    dashboard.locator(".datagrid-container canvas").first.wait_for(timeout=30_000)
    for part in (".uw-controls", ".uw-cards", ".uw-chart", ".datagrid-container", ".uw-table-summary"):
        assert dashboard.locator(part).first.is_visible(), part
    assert dashboard.locator(".uw-card").count() == 5
    assert dashboard.locator(".uw-chart rect.bar").count() > 0
    assert widget_errors(page) == []
    return dashboard


def test_the_notebook_shows_the_dashboard_in_light_and_dark(lab, browser, artifacts) -> None:
    url, token, store = lab
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    try:
        page.goto(f"{url}lab/tree/{NOTEBOOK.name}?reset&token={token}", timeout=60_000)
        dashboard = open_dashboard(page)
        assert page.evaluate("() => document.body.dataset.jpThemeLight") == "true"
        now = pd.Timestamp.now(tz="UTC")
        week = uw.report(store, uw.Selection(), now=now).kpis
        assert card(page, "Requests").get_attribute("title") == f"{week['requests']:,}"
        page.get_by_role("button", name="30d").click()
        month = uw.report(store, uw.Selection(range="30d"), now=now).kpis
        assert month["requests"] > week["requests"]
        assert wait_for(lambda: card(page, "Requests").get_attribute("title") == f"{month['requests']:,}")
        assert card(page, "Active Users").get_attribute("title") == f"{month['active_users']:,}"
        page.wait_for_timeout(1500)  # images in grid cells paint just after the grid
        page.screenshot(path=str(artifacts / "lab-light.png"))

        page.get_by_role("button", name="By team").click()
        dashboard.locator(".uw-legend").wait_for(timeout=60_000)
        teams = uw.report(store, uw.Selection(view="team", range="30d"), now=now).breakdown["team"].tolist()
        assert wait_for(lambda: page.locator(".uw-table-summary li").all_inner_texts() == teams)
        page.wait_for_timeout(2500)
        page.screenshot(path=str(artifacts / "lab-light-by-team.png"))  # looked at, not compared
        page.get_by_role("button", name="By user").click()
        assert wait_for(lambda: page.locator(".uw-search input").get_attribute("placeholder")
                        == "Search by name or email")  # fmt: skip

        # The theme as a user picks it (Settings > Theme), kept in the settings; the page is
        # opened again in it and the notebook run again.
        page.evaluate("t => window.jupyterapp.commands.execute('apputils:change-theme', {theme: t})", DARK)
        page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'", timeout=30_000)
        page.wait_for_timeout(500)  # the setting is saved
        page.reload(timeout=60_000)
        dashboard = open_dashboard(page)
        assert page.evaluate("() => document.body.dataset.jpThemeLight") == "false"
        assert luminance(style(page, ".uw-card", "backgroundColor")) < 0.1  # the cards follow the theme
        assert luminance(style(page, ".uw-card-value", "color")) > 0.6  # their numbers light on it
        assert luminance(style(page, ".uw-chart .tick text", "fill")) > 0.3
        # The grid's light canvas is turned dark (see styles.py).
        assert "invert" in style(page, ".uw-table .datagrid-container canvas", "filter")

        page.wait_for_timeout(1500)
        page.screenshot(path=str(artifacts / "lab-dark.png"))

        page.get_by_role("button", name="Code").click()
        code = dashboard.locator(".uw-code-text")
        code.wait_for(timeout=30_000)
        assert "uw.Selection(view='user', range='7d')" in code.inner_text()
        assert "uw.load_log(" in code.inner_text() and "requests.parquet" in code.inner_text()
        assert widget_errors(page) == []
    finally:
        context.close()


def style(page, selector: str, name: str) -> str:
    return page.evaluate(
        "([s, n]) => getComputedStyle(document.querySelector(s))[n]", [selector, name]
    )


def luminance(css_color: str) -> float:
    """0 (black) .. 1 (white) for an ``rgb(...)``/``rgba(...)`` colour."""
    r, g, b = (int(v) / 255 for v in re.findall(r"[\d.]+", css_color)[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b
