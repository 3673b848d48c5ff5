"""The five KPI cards: a compact value each, the exact value on hover."""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import ipywidgets as widgets

from .format import DASH, compact, compact_usd, exact, exact_usd, plural
from .insights import change_html, changes
from .lifecycle import close_parts
from .styles import style_widget

TITLES: tuple[str, ...] = (
    "Active Users",
    "Avg Requests / User",
    "Requests",
    "Total Tokens",
    "User Cost",
)


@dataclass(frozen=True)
class Shown:
    """What one card shows: the big text, its hover text and an optional small line under it."""

    text: str
    hover: str
    note: str = ""


def _count(value: Any) -> Shown:
    return Shown(compact(value), exact(value))


def _average(value: Any) -> Shown:
    if value is None:
        return Shown(DASH, "No active users")
    return Shown(compact(value), exact(value))


def _cost(value: Any, unpriced: int) -> Shown:
    if not unpriced:
        return Shown(compact_usd(value), exact_usd(value))
    missing = plural(unpriced, "request")
    return Shown(
        compact_usd(value),
        f"{exact_usd(value)}, not counting {missing} without a known price",
        f"+ {missing} without a known price",
    )


def summarize(kpis: Mapping[str, Any]) -> dict[str, Shown]:
    """What each card shows for a report's ``kpis``.

    Parameters
    ----------
    kpis : mapping
        ``active_users``, ``avg_requests_per_user`` (None without users), ``requests``,
        ``total_tokens``, ``cost`` (USD) and ``unpriced_requests``.

    Returns
    -------
    dict of str to Shown
        Card title -> its text, hover text and note.

    Examples
    --------
    >>> summarize({"active_users": 0, "avg_requests_per_user": None, "requests": 0,
    ...            "total_tokens": 1234567, "cost": 0.0, "unpriced_requests": 0})["Total Tokens"]
    Shown(text='1.2M', hover='1,234,567', note='')
    """
    unpriced = int(kpis.get("unpriced_requests") or 0)
    return {
        "Active Users": _count(kpis.get("active_users")),
        "Avg Requests / User": _average(kpis.get("avg_requests_per_user")),
        "Requests": _count(kpis.get("requests")),
        "Total Tokens": _count(kpis.get("total_tokens")),
        "User Cost": _cost(kpis.get("cost"), unpriced),
    }


def card_html(title: str, shown: Shown, change: str = "") -> str:
    """The markup of one card, every piece of text escaped (``change``: `change_html` markup)."""
    note = f'<div class="uw-card-note">{html.escape(shown.note)}</div>' if shown.note else ""
    return (
        '<div class="uw-card">'
        f'<div class="uw-card-title">{html.escape(title)}</div>'
        f'<div class="uw-card-value" title="{html.escape(shown.hover)}">'
        f"{html.escape(shown.text)}</div>"
        f"{note}{change}</div>"
    )


class KpiCards(widgets.Box):
    """A row of five KPI cards, built once and updated in place by :meth:`show`.

    A widget: put it in a box or display it.

    Examples
    --------
    >>> cards = KpiCards()
    >>> cards.show({"active_users": 3, "avg_requests_per_user": 2.5, "requests": 1234567,
    ...             "total_tokens": 9, "cost": 3412.5, "unpriced_requests": 0})
    >>> cards.shown["Requests"].text, cards.shown["Requests"].hover
    ('1.2M', '1,234,567')
    """

    def __init__(self, **kwargs: Any) -> None:
        shown = {title: Shown(DASH, "") for title in TITLES}
        cards = {title: widgets.HTML(value=card_html(title, shown[title])) for title in TITLES}
        super().__init__(children=[style_widget(), *cards.values()], **kwargs)
        self.cards: dict[str, widgets.HTML] = cards
        self.shown: dict[str, Shown] = shown
        self.changes: dict[str, tuple[str, str, str]] = {}
        self.add_class("uw-cards")
        self.add_class("uw-root")

    @property
    def widget(self) -> KpiCards:
        """The widget to display: the cards themselves."""
        return self

    def show(
        self, kpis: Mapping[str, Any], previous: Mapping[str, Any] | None = None, period: str = ""
    ) -> None:
        """Show a report's KPIs; only cards whose content changed are sent to the page.

        With ``previous`` (the KPIs of the period before, named by ``period``), each card also
        shows the change: an arrow and a percentage, or "new" when the previous was zero.
        """
        self.shown = summarize(kpis)
        self.changes = changes(kpis, previous, period) if previous else {}
        for title, shown in self.shown.items():
            change = change_html(*self.changes[title]) if title in self.changes else ""
            self.cards[title].value = card_html(title, shown, change)

    def close(self) -> None:
        """Close the cards and every widget they are made of."""
        close_parts(self)
        super().close()
