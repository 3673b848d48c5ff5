"""The served demo: Live Mode follows new requests and holds still when off; screenshots."""

from __future__ import annotations

import re
import time

import pytest

from .conftest import page_errors, start_server
from .test_page import card


@pytest.fixture(scope="module")
def demo_server(chromium_path):
    server = start_server(None)  # the demo log, growing in real time
    yield server
    server.stop()


def requests_shown(page) -> int:
    return int(card(page, "Requests").get_attribute("title").replace(",", ""))


SCROLL_THUMB = "() => document.querySelector('.uw-dashboard .lm-ScrollBar[data-orientation=vertical] "\
    ".lm-ScrollBar-thumb').style.top"


def scroll_table(page, pixels: int) -> str:
    """Scroll the breakdown table with the mouse wheel; the vertical scrollbar's thumb position."""
    box = page.locator(".uw-dashboard .lm-DataGrid").first.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 3, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, pixels)
    page.wait_for_timeout(800)
    return page.evaluate(SCROLL_THUMB)


def thumb_percent(top: str) -> float:
    return float(top.removesuffix("%"))


@pytest.mark.timeout(480)  # it may first wait out the end of an hour
def test_live_mode_follows_new_requests_and_off_holds_still(demo_server, open_page) -> None:
    page = open_page(demo_server.url, viewport=(1280, 1700))  # the whole table in view
    # 24 hours are the clock hours ending with the current one: when a new hour begins, the
    # oldest (about a thousand requests) leaves the window. The steps below take about 80 s:
    # they begin where no hour ends before they do.
    left = 3600 - time.time() % 3600
    if left < 120:
        time.sleep(left + 2)
    week = requests_shown(page)
    page.get_by_role("button", name="24h").click()  # the window that moves fastest
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and requests_shown(page) == week:
        time.sleep(0.3)
    still = requests_shown(page)
    assert still < week
    place = scroll_table(page, 900)  # a reader halfway down the table
    assert place not in ("", "0%")
    time.sleep(15)  # off: nothing on the page moves
    assert requests_shown(page) == still

    page.get_by_role("button", name="Live Mode").click()
    status = page.locator(".uw-live-on")
    status.wait_for(timeout=15_000)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and requests_shown(page) <= still:
        time.sleep(0.5)
    assert requests_shown(page) > still
    # The time of the update, sent just after the numbers ("…" until the first look).
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not re.search(r"updated \d\d:\d\d:\d\d", status.inner_text()):
        time.sleep(0.2)
    assert re.search(r"updated \d\d:\d\d:\d\d", status.inner_text())
    # New numbers, same place in the table. Users come and go in the 24h window, which moves the
    # thumb a little (9.57% became 9.52% once); the table jumping back to its top reads 0%.
    assert thumb_percent(page.evaluate(SCROLL_THUMB)) == pytest.approx(thumb_percent(place), rel=0.05)

    page.get_by_role("button", name="Live Mode").click()  # off again
    # The status goes once Live Mode has stopped (a tick under way may still land before it).
    page.locator(".uw-live-on").wait_for(state="detached", timeout=15_000)
    frozen = requests_shown(page)
    time.sleep(15)
    assert requests_shown(page) == frozen
    assert page_errors(page) == []


def test_screenshots_of_both_views(demo_server, open_page, artifacts) -> None:
    """What the README shows: the demo in each view (the runaway script at the top)."""
    page = open_page(demo_server.url, viewport=(1280, 1700))
    page.wait_for_timeout(1500)  # images in grid cells paint just after the grid
    page.screenshot(path=str(artifacts / "readme-by-user.png"), full_page=True)
    page.get_by_role("button", name="By team").click()
    page.locator(".uw-legend").wait_for()
    page.wait_for_timeout(5000)  # the grid gives no sign it has painted; under load 2.5 s was short
    page.screenshot(path=str(artifacts / "readme-by-team.png"), full_page=True)
    assert (artifacts / "readme-by-team.png").stat().st_size > 20_000
    assert page_errors(page) == []
