"""The breakdown of a report as a CSV file: exact numbers, and a file name that says what it holds."""

from __future__ import annotations

import re

import pandas as pd

from .report import Report

MAX_ROWS = 20_000  # a file for a person to open; the page says when it is cut
_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_DOTS = re.compile(r"\.{2,}")
_NAME_LENGTH = 150


def breakdown_csv(rep: Report, max_rows: int = MAX_ROWS) -> str:
    """The report's breakdown rows (search and sort applied) as CSV text.

    Models are joined by ``|``, most used first; the trend sparkline is left out. Costs are
    written with every digit (Python's shortest exact repr), so the file adds up to the page.
    Text that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``)
    gets a leading ``'``.

    Examples
    --------
    >>> from usage_widgets import demo_log, report, Selection
    >>> rep = report(demo_log(users=20, days=5, now="2026-02-01"), Selection(view="team"),
    ...              now="2026-02-01")
    >>> breakdown_csv(rep).splitlines()[0]
    'team,users,models,requests,input_tokens,output_tokens,cost,unpriced'
    """
    frame = rep.breakdown.drop(columns=["trend"]).head(max_rows).copy()
    frame["models"] = ["|".join(map(str, m)) for m in frame["models"].tolist()]
    for column in ("user_id", "name", "email", "team", "models"):
        if column in frame:
            frame[column] = [_inert(v) for v in frame[column]]
    return frame.to_csv(index=False, lineterminator="\n")


def _inert(value: object) -> object:
    """Text a spreadsheet will not take for a formula."""
    if isinstance(value, str) and value[:1] in _FORMULA_START:
        return "'" + value
    return value


def csv_name(rep: Report) -> str:
    """A file name naming the view, range, filters and time zone, made of safe characters only.

    Examples
    --------
    >>> from usage_widgets import demo_log, report, Selection
    >>> rep = report(demo_log(users=20, days=5, now="2026-02-01"),
    ...              Selection(view="team", range="30d", teams=("R&D",)), now="2026-02-01",
    ...              tz="Europe/Paris")
    >>> csv_name(rep)
    'usage_by-team_30d_2026-01-03_to_2026-02-01_teams-R-D_Europe-Paris.csv'
    """
    sel = rep.selection
    parts = [f"by-{sel.view}", sel.range]
    if pd.notna(rep.start) and pd.notna(rep.end):
        parts.append(f"{rep.start.date()}_to_{rep.end.date()}")
    for label, values in (("keys", sel.api_keys), ("tags", sel.tags), ("teams", sel.teams),
                          ("models", sel.models)):  # fmt: skip
        if values:
            parts.append(f"{label}-" + "+".join(values))
    if sel.search.strip():
        parts.append("search-" + sel.search.strip())
    if sel.anomalies_only:
        parts.append("anomalies")
    parts.append(rep.tz)
    name = "_".join(_DOTS.sub(".", _UNSAFE.sub("-", p)).strip("-") or "-" for p in parts)
    return f"usage_{name[:_NAME_LENGTH]}.csv"
