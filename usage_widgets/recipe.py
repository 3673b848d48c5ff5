"""The few lines of Python that give the page's numbers: the view handed over as code."""

from __future__ import annotations

from typing import Any

import pandas as pd

from .selection import Selection
from .sources import DemoSource, FileSource

# What the lines call the log when it cannot be named (a DataFrame or store handed over).
GIVEN_LOG = "# log: the request log given to the dashboard (a DataFrame, path or RequestStore)"


def _iso(ts: pd.Timestamp) -> str:
    return ts.tz_convert("UTC").isoformat()


def log_lines(source: Any) -> list[str]:
    """The lines that give ``log`` for a source: reading its file, regenerating the demo.

    Examples
    --------
    >>> log_lines(FileSource("requests.csv"))
    ["log = uw.load_log('requests.csv')"]
    """
    if isinstance(source, FileSource):
        return [f"log = uw.load_log({str(source.path)!r})"]
    if isinstance(source, DemoSource):
        made = source.made_with
        args = ", ".join(f"{k}={v!r}" for k, v in made.items() if k != "now")
        return [
            f"log = uw.demo_log({args}, now={_iso(made['now'])!r})",
            f"log = log[log['timestamp'] <= {_iso(source.served_until)!r}]  # what the page has read",
        ]
    return [GIVEN_LOG]


def report_code(selection: Selection, tz: str, now: pd.Timestamp, log: list[str] | None = None) -> str:
    """Python that reproduces a report: import, the log, then ``uw.report(...)``.

    Parameters
    ----------
    selection : Selection
        What the page shows.
    tz : str
        The page's time zone.
    now : Timestamp
        The moment the numbers are of (a page's report is of the moment it was made).
    log : list of str, optional
        Lines that define ``log`` (see `log_lines`); by default a comment saying ``log`` is the
        request log at hand.

    Examples
    --------
    >>> print(report_code(Selection(view="team"), "UTC", pd.Timestamp("2026-03-01", tz="UTC")))
    import usage_widgets as uw
    <BLANKLINE>
    # log: the request log given to the dashboard (a DataFrame, path or RequestStore)
    rep = uw.report(log, uw.Selection(view='team', range='7d'), tz='UTC',
                    now='2026-03-01T00:00:00+00:00')
    rep.kpis, rep.activity, rep.breakdown
    """
    lines = ["import usage_widgets as uw", "", *(log if log is not None else [GIVEN_LOG])]
    lines += [
        f"rep = uw.report(log, uw.{selection!r}, tz={tz!r},",
        f"                now={_iso(pd.Timestamp(now))!r})",
        "rep.kpis, rep.activity, rep.breakdown",
    ]
    return "\n".join(lines)
