"""The served page's entry point: the dashboard for the log named by the environment, or a
readable message when that log cannot be opened."""

from __future__ import annotations

import html
import os
import warnings
from collections.abc import Mapping

import ipywidgets as w

from .errors import LogError, LogWarning, SelectionError
from .selection import Selection
from .share import decode
from .sources import DemoSource
from .sql import connect
from .state import time_zones


def dashboard_from_env(environ: Mapping[str, str] | None = None) -> w.Widget:
    """`UsageDashboard` of ``$USAGE_LOG`` (a file, a database URL, or the demo log when unset),
    in zone ``$USAGE_TZ``.

    Served by Voilà, the page's URL query (``$QUERY_STRING``, which Voilà gives the kernel it
    starts for the page) sets the first selection: a link made by "Copy link" opens the same
    selection. A link that cannot be followed opens the default page and says why.

    A log that cannot be read gives a message on the page naming the problem, never a
    traceback or a blank page.

    Examples
    --------
    >>> dashboard_from_env({"USAGE_LOG": "/no/such/file.csv"}).value[:40]
    '<div class="uw-message-text">The reques'
    """
    from .dashboard import UsageDashboard

    env = os.environ if environ is None else environ
    source = env.get("USAGE_LOG") or None
    tz = env.get("USAGE_TZ") or "UTC"
    selection, link_tz, link_problem = _from_link(env.get("QUERY_STRING") or "")
    if link_tz is not None:
        tz = link_tz
    try:
        # What a LogWarning says is shown on the page itself (notes under the table, the
        # cost card); printed, it would land on the page as raw text with a file path.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", LogWarning)
            if source and "://" in source:  # a database: ``$USAGE_TABLE`` or ``$USAGE_PRESET``
                log = connect(source, env.get("USAGE_TABLE") or None, preset=env.get("USAGE_PRESET") or None)
                dash = UsageDashboard(log, tz=tz, selection=selection)
            else:
                dash = UsageDashboard(source if source else DemoSource(), tz=tz, selection=selection)
        dash.tools.show_notice(link_problem)
        return dash
    except LogError as exc:
        return _message(f"The request log could not be opened: {exc}")
    except Exception as exc:  # the page must say something rather than go blank
        return _message(f"The dashboard could not start ({type(exc).__name__}).")


def _message(text: str) -> w.HTML:
    return w.HTML(f'<div class="uw-message-text">{html.escape(text)}</div>')


def _from_link(query: str) -> tuple[Selection | None, str | None, str | None]:
    """The selection and zone a page link asks for, and why it cannot be followed (if so)."""
    if not query:
        return None, None, None
    try:
        selection, tz = decode(query)
    except SelectionError as exc:
        return None, None, f"{exc} Showing the default view."
    if tz is not None and tz not in time_zones():
        return selection, None, f"This link's time zone {tz!r} is unknown: the default zone is used."
    return selection, tz, None
