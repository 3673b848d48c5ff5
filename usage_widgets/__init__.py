"""usage-widgets: who consumes AI (LLM) resources and what it costs."""

from __future__ import annotations

from .demo import demo_log
from .errors import LogError, LogWarning, SelectionError
from .report import Report, report
from .schema import CANONICAL, load_log, rejected_rows
from .selection import Selection
from .sql import SqlSource, connect
from .store import RequestStore

__all__ = [
    "CANONICAL",
    "LogError",
    "LogWarning",
    "Report",
    "RequestStore",
    "Selection",
    "SelectionError",
    "SqlSource",
    "UsageDashboard",
    "connect",
    "dashboard_from_env",
    "demo_log",
    "load_log",
    "rejected_rows",
    "report",
]
__version__ = "0.1.0"


def __getattr__(name: str):  # the dashboard pulls in the widget stack only when asked for
    if name == "UsageDashboard":
        from .dashboard import UsageDashboard

        return UsageDashboard
    if name == "dashboard_from_env":
        from .app import dashboard_from_env

        return dashboard_from_env
    raise AttributeError(f"module 'usage_widgets' has no attribute {name!r}")
