"""Cost by model: horizontal bars, largest first; a click on a bar picks that model."""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from typing import Any

import bqplot as bq
import ipywidgets as widgets
import numpy as np
import pandas as pd

from .format import compact_usd, exact_usd, plural
from .lifecycle import close_parts
from .styles import ACCENT, TEXT_MUTED, style_widget

MAX_MODELS = 15  # bars named; the rest are summed into one bar that picks nothing
OTHER = "Other models"
DIM = "#c7d2fe"
BAR_HEIGHT = 26
PickCallback = Callable[[str], None]


def model_bars(
    cost_by_model: pd.DataFrame, max_models: int = MAX_MODELS
) -> tuple[list[str], np.ndarray, list[int]]:
    """Names, costs and request counts of the bars, largest cost first, the tail summed.

    Examples
    --------
    >>> frame = pd.DataFrame({"model": ["a", "b", "c"], "requests": [1, 2, 3], "cost": [3.0, 2.0, 1.0]})
    >>> model_bars(frame, max_models=2)
    (['a', 'Other models'], array([3., 3.]), [1, 5])
    """
    names = [str(m) for m in cost_by_model.get("model", [])]
    costs = pd.to_numeric(cost_by_model.get("cost", pd.Series(dtype=float)), errors="coerce")
    costs = costs.fillna(0.0).to_numpy(dtype=float)
    counts = [int(r) for r in cost_by_model.get("requests", [0] * len(names))]
    if len(names) <= max_models:
        return names, costs, counts
    keep = max_models - 1
    return (
        [*names[:keep], OTHER],
        np.append(costs[:keep], costs[keep:].sum()),
        [*counts[:keep], sum(counts[keep:])],
    )


class ModelCostChart(widgets.VBox):
    """Cost by model for the current selection, built once; :meth:`show` updates it in place.

    Chosen models are drawn in the accent colour, the others dimmed; a click on a bar calls
    the callbacks given to :meth:`on_pick` with the model's name.
    """

    def __init__(self, **kwargs: Any) -> None:
        self.y_names = bq.OrdinalScale(reverse=True)
        self.x_cost = bq.LinearScale(min=0.0)
        self.bars = bq.Bars(
            x=[], y=[], orientation="horizontal", scales={"x": self.y_names, "y": self.x_cost},
            # One bar per group (model): "group" gives each bar its own colour; "element"
            # colours by position inside a group, so every bar would take the first colour.
            colors=[ACCENT], padding=0.25, color_mode="group", tooltip=None,
        )  # fmt: skip
        name_axis = bq.Axis(scale=self.y_names, side="left", color=TEXT_MUTED,
                            grid_lines="none", tick_style={"font-size": "11px"})  # fmt: skip
        cost_axis = bq.Axis(scale=self.x_cost, side="bottom", color=TEXT_MUTED,
                            grid_lines="solid", grid_color="#eef0f3", tick_format="$.2s",
                            tick_style={"font-size": "11px"})  # fmt: skip
        self.figure = bq.Figure(
            marks=[self.bars], axes=[name_axis, cost_axis], animation_duration=0,
            fig_margin={"top": 6, "bottom": 26, "left": 170, "right": 24}, padding_y=0.0,
            display_toolbar=False,
            layout=widgets.Layout(width="100%", height="120px"),
        )  # fmt: skip
        self.figure.add_class("uw-models-chart")
        self.title = widgets.HTML()
        self.hover = widgets.HTML()
        self.hover.add_class("uw-note")
        super().__init__([style_widget(), self.title, self.figure, self.hover], **kwargs)
        self.add_class("uw-panel")
        self.add_class("uw-root")
        self.names: list[str] = []
        self.costs = np.zeros(0)
        self.counts: list[int] = []
        self._callbacks: list[PickCallback] = []
        self.bars.on_element_click(self._clicked)
        self.bars.on_hover(self._hovered)
        self._title(0)

    def close(self) -> None:
        """Close the chart and every widget it is made of."""
        close_parts(self)
        super().close()

    def on_pick(self, callback: PickCallback) -> None:
        """Call ``callback(model)`` when a model's bar is clicked."""
        if callback not in self._callbacks:
            self._callbacks.append(callback)

    def show(self, cost_by_model: pd.DataFrame, chosen: Sequence[str] = ()) -> None:
        """Show a report's ``cost_by_model``; ``chosen`` models (the Models filter) stand out."""
        names, costs, counts = model_bars(cost_by_model)
        self.names, self.costs, self.counts = names, costs, counts
        picked = set(chosen)
        colors = [ACCENT if not picked or n in picked else DIM for n in names]
        with self.bars.hold_sync():
            self.bars.x = np.array(names, dtype=object) if names else np.zeros(0)
            self.bars.y = costs
            self.bars.colors = colors or [ACCENT]
        self.figure.layout.height = f"{max(len(names), 1) * BAR_HEIGHT + 40}px"
        self.figure.layout.display = None if names else "none"
        self.hover.value = ""
        self._title(len(names))

    def _title(self, count: int) -> None:
        hint = "click a bar to filter by its model" if count else "no requests in this selection"
        self.title.value = (
            f'<div class="uw-panel-title">Cost by model'
            f'<span class="uw-panel-subtitle">{html.escape(hint)}</span></div>'
        )

    def pick(self, index: int) -> None:
        """What a click on bar ``index`` does (the "Other" bar picks nothing)."""
        if 0 <= index < len(self.names) and self.names[index] != OTHER:
            for callback in list(self._callbacks):
                callback(self.names[index])

    def hover_text(self, index: int) -> str:
        """The exact figures of bar ``index``."""
        if not 0 <= index < len(self.names):
            return ""
        return (
            f"<div><b>{html.escape(self.names[index])}</b>: {html.escape(exact_usd(self.costs[index]))}"
            f" ({html.escape(compact_usd(self.costs[index]))}) over "
            f"{html.escape(plural(self.counts[index], 'request'))}</div>"
        )

    @staticmethod
    def _index(content: object) -> int | None:
        # What the browser sends is untrusted: only a whole-number bar index is used.
        if not isinstance(content, dict):
            return None
        data = content.get("data")
        index = data.get("index") if isinstance(data, dict) else None
        return index if isinstance(index, int) and not isinstance(index, bool) else None

    def _clicked(self, _mark: bq.Bars, content: dict[str, Any]) -> None:
        index = self._index(content)
        if index is not None:
            self.pick(index)

    def _hovered(self, _mark: bq.Bars, content: dict[str, Any]) -> None:
        index = self._index(content)
        if index is not None:
            self.hover.value = self.hover_text(index)
