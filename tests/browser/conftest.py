"""A real Voilà server started with `usage-widgets serve`, and headless Debian Chromium driving it."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync",
]  # fmt: skip
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PAGE_READY_SECONDS = 90  # kernel start + demo log + first render on a busy 2-core machine
# Console messages that are not the page's: the default Voilà template asks a public CDN for
# Font Awesome, which a machine without internet cannot reach.
FOREIGN_CONSOLE = ("cdn.jsdelivr.net", "font-awesome", "net::ERR_", "Failed to load resource")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if Path(CHROMIUM).exists():
        return CHROMIUM
    message = f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium)"
    if os.environ.get("USAGE_WIDGETS_REQUIRE_BROWSER"):
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(command: list[str], env: dict, status_url: str, name: str) -> tuple[subprocess.Popen, IO[str]]:
    """Start a server for the tests and wait until ``status_url`` answers (any HTTP status: a 403
    without a token still answers). It writes to a file, not a pipe: nothing reads a pipe, and
    once full (64 KiB) it would stop the server mid-write. What it wrote is shown if it exits,
    or does not answer within 60 s."""
    output = tempfile.TemporaryFile(mode="w+", prefix="usage-widgets-server-")  # noqa: SIM115 (`stop` closes it)
    process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, text=True, env=env)
    deadline = time.monotonic() + 60
    while process.poll() is None and time.monotonic() < deadline:
        try:
            urllib.request.urlopen(status_url, timeout=2)
        except urllib.error.HTTPError:
            return process, output
        except OSError:
            time.sleep(0.3)
        else:
            return process, output
    why = "exited" if process.poll() is not None else "did not start within 60 s"
    process.kill()
    with output:
        output.seek(0)
        raise RuntimeError(f"{name} {why}: {output.read()}")


def stop(process: subprocess.Popen, output: IO[str]) -> None:
    """End a server from `launch`."""
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
    output.close()


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    output: IO[str]
    log_path: Path | None
    token: str | None = None

    def stop(self) -> None:
        stop(self.process, self.output)


def start_server(
    log_path: Path | None, *, host: str = "127.0.0.1", token: str | None = None, extra_env: dict | None = None
) -> Server:
    port = free_port()
    exe = Path(sys.executable).with_name("usage-widgets")
    command = [str(exe), "serve", "--port", str(port), "--host", host]
    if log_path is not None:
        command += ["--log", str(log_path)]
    if token:
        command += ["--token", token]
    connect = "127.0.0.1" if host in ("0.0.0.0", "127.0.0.1") else host
    url = f"http://{connect}:{port}/"
    process, output = launch(command, {**os.environ, **(extra_env or {})}, url + "api/status", "server")
    return Server(url, process, output, log_path, token)


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator:
    """Playwright's sync API holds an event loop while it runs: kept to the browser tests'
    own modules, so that tests which run their own loop (Live Mode) are not disturbed."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def open_page(browser, request) -> Iterator:
    """Opens a URL in a fresh page; collects console errors; screenshots it at the end."""
    pages = []

    def _open(url: str, *, wait_for_dashboard: bool = True, viewport=(1400, 1000)):
        context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
        page = context.new_page()
        page.console_errors = []  # type: ignore[attr-defined]
        page.dialogs = []  # type: ignore[attr-defined]
        page.on("console", lambda m: m.type == "error" and page.console_errors.append(m.text))
        page.on("pageerror", lambda e: page.console_errors.append(str(e)))
        page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
        pages.append(page)
        page.goto(url, timeout=PAGE_READY_SECONDS * 1000)
        if wait_for_dashboard:
            page.wait_for_selector(".uw-dashboard .uw-cards", timeout=PAGE_READY_SECONDS * 1000)
            page.wait_for_selector(".uw-dashboard canvas", timeout=30_000)  # the grid
        return page

    yield _open
    ARTIFACTS.mkdir(exist_ok=True)
    for i, page in enumerate(pages):
        name = request.node.name.replace("/", "_") + (f"-{i}" if i else "")
        with contextlib.suppress(Exception):  # a crashed page lets the others be taken
            page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        page.context.close()


@pytest.fixture(autouse=True)
def not_at_midnight() -> None:
    """Tests compare the page with numbers they compute at their own "now", and the day ranges
    are calendar days in UTC: a test that would begin within two minutes of midnight waits for
    it to pass (a page takes up to 90 s to open on a busy machine)."""
    left = 86_400 - time.time() % 86_400
    if left < 120:
        time.sleep(left + 2)


def page_errors(page) -> list[str]:
    return [e for e in page.console_errors if not any(f in e for f in FOREIGN_CONSOLE)]


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS

