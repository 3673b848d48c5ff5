"""The dashboard's views: KPI cards, activity chart and breakdown table, each fed plain data."""

from __future__ import annotations

from .cards import KpiCards
from .chart import ActivityChart
from .colors import PALETTE, team_colors, text_color_for
from .format import compact, compact_usd, exact, exact_usd
from .styles import page_style, style_widget
from .table import SORT_KEYS, BreakdownTable

__all__ = [
    "PALETTE",
    "SORT_KEYS",
    "ActivityChart",
    "BreakdownTable",
    "KpiCards",
    "compact",
    "compact_usd",
    "exact",
    "exact_usd",
    "page_style",
    "style_widget",
    "team_colors",
    "text_color_for",
]
