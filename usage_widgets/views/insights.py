"""Markup of what goes beyond the numbers: change against the previous period, anomaly flags,
the share link and the CSV download. Every piece of log text is escaped here."""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import ipywidgets as widgets

from .format import exact, exact_usd
from .styles import TEXT_MUTED, WARN

FLAG = "⚑"
MAX_DOWNLOAD_BYTES = 2_000_000  # the link is sent to the page on every refresh that changes it

CSS = f"""
.uw-card-change {{ font-size: 12px; margin-top: 4px; color: {TEXT_MUTED}; }}
.uw-card-change.uw-up::first-letter, .uw-card-change.uw-new {{ color: {WARN}; }}
.uw-card-change.uw-down::first-letter {{ color: #047857; }}
.uw-flags {{ margin: 4px 0 6px 0; font-size: 12.5px; color: {WARN}; }}
.uw-flags ul {{ margin: 2px 0 0 0; padding-left: 18px; }}
.uw-flags li {{ color: var(--jp-ui-font-color1, #374151); }}
.uw-share {{ display: flex; gap: 14px; align-items: center; font-size: 13px; }}
.uw-share a {{ color: #2563eb; text-decoration: none; white-space: nowrap; }}
.uw-share a:hover {{ text-decoration: underline; }}
.uw-drill {{ font-size: 13px; color: {TEXT_MUTED}; }}
"""


def insights_style() -> widgets.HTML:
    """The CSS of these pieces, as a widget to put anywhere on the page."""
    return widgets.HTML(f"<style>{CSS}</style>", layout=widgets.Layout(display="none"))


_KPI_FORMAT = {
    "Active Users": ("active_users", exact),
    "Avg Requests / User": ("avg_requests_per_user", exact),
    "Requests": ("requests", exact),
    "Total Tokens": ("total_tokens", exact),
    "User Cost": ("cost", exact_usd),
}


def _number(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def change_text(current: Any, previous: Any) -> tuple[str, str]:
    """The change from ``previous`` to ``current``: (text, kind) with kind up/down/flat/new.

    Examples
    --------
    >>> change_text(120, 100), change_text(5, 0), change_text(0, 0), change_text(97.5, 100)
    (('▲ 20%', 'up'), ('new', 'new'), ('no change', 'flat'), ('▼ 2.5%', 'down'))
    """
    cur, prev = _number(current) or 0.0, _number(previous) or 0.0
    if prev == 0:
        return ("new", "new") if cur > 0 else ("no change", "flat")
    pct = (cur - prev) / prev * 100
    if abs(pct) < 0.05:
        return "no change", "flat"
    size = f"{abs(pct):.1f}" if abs(pct) < 10 else f"{abs(pct):,.0f}"
    size = size.removesuffix(".0")
    return (f"▲ {size}%", "up") if pct > 0 else (f"▼ {size}%", "down")


def changes(
    kpis: Mapping[str, Any], previous: Mapping[str, Any], period: str
) -> dict[str, tuple[str, str, str]]:
    """Per card title: (change text, kind, hover text naming the previous period and value)."""
    out = {}
    for title, (key, fmt) in _KPI_FORMAT.items():
        text, kind = change_text(kpis.get(key), previous.get(key))
        before = previous.get(key)
        shown = fmt(before) if before is not None else "—"
        out[title] = (text, kind, f"vs {period}: {shown}")
    return out


def change_html(text: str, kind: str, hover: str) -> str:
    """One card's change line."""
    return (
        f'<div class="uw-card-change uw-{html.escape(kind)}" title="{html.escape(hover)}">'
        f"{html.escape(text)}</div>"
    )


def flags_html(flagged: list[tuple[str, str]], anomalies_only: bool) -> str:
    """The list of flagged rows with the reason of each (also on hover), or nothing."""
    if not flagged:
        none = "<div class='uw-flags uw-no-flags'>No anomalies in this selection.</div>"
        return none if anomalies_only else ""
    items = "".join(
        f'<li title="{html.escape(why)}"><b>{html.escape(who)}</b>: {html.escape(why)}</li>'
        for who, why in flagged
    )
    noun = "row jumps" if len(flagged) == 1 else "rows jump"
    return (
        f"<div class='uw-flags' data-flags='{len(flagged)}'>{FLAG} {len(flagged)} {noun} far above "
        f"their usual day<ul>{items}</ul></div>"
    )


def share_html(query: str) -> str:
    """A link to the page with this selection, made from the encoded query only."""
    href = "?" + quote(query, safe="=&%+-._~")
    return (
        f'<div class="uw-share"><a class="uw-share-link" href="{html.escape(href)}" target="_blank" '
        'rel="noopener" title="Right-click and copy the link address, or open it: '
        'it shows this selection">Copy link</a></div>'
    )


def download_html(csv_text: str, file_name: str, rows: int, cut: bool) -> str:
    """A link that saves the CSV in the browser (a data link: no server round trip)."""
    data = csv_text.encode("utf-8")
    if len(data) > MAX_DOWNLOAD_BYTES:
        return (
            '<div class="uw-share"><span class="uw-download-off" title="Narrow the selection '
            'or search to download it">CSV too large to download</span></div>'
        )
    href = "data:text/csv;charset=utf-8;base64," + base64.b64encode(data).decode("ascii")
    note = f"first {rows:,} rows" if cut else f"{rows:,} rows"
    return (
        f'<div class="uw-share"><a class="uw-download" download="{html.escape(file_name)}" '
        f'href="{href}" title="{html.escape(file_name)} ({note})">⬇ Download CSV</a></div>'
    )
