"""The breakdown table: one row per user or team, sorted by the data layer, sortable by header."""

from __future__ import annotations

import asyncio
import html
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal

import ipywidgets as widgets
import numpy as np
import pandas as pd
import traitlets as t
from ipydatagrid import DataGrid, ImageRenderer, StreamingDataGrid, TextRenderer, VegaExpr

from .cells import as_image, models_cell, team_cell, trend_cell, user_cell
from .colors import team_colors
from .lifecycle import close_parts
from .styles import FONT_STACK, TEXT_STRONG, style_widget

View = Literal["user", "team"]
SortCallback = Callable[[str], None]

USER_COLUMNS: tuple[str, ...] = (
    "User Name", "Trend", "Models", "Requests", "Input", "Output", "Cost",
)  # fmt: skip
TEAM_COLUMNS: tuple[str, ...] = (
    "Team", "Users", "Trend", "Models", "Requests", "Input", "Output", "Cost",
)  # fmt: skip

# Shown header -> the data layer's sort key. Trend and Models do not sort.
SORT_KEYS: dict[str, str] = {
    "User Name": "name",
    "Team": "team",
    "Users": "users",
    "Requests": "requests",
    "Input": "input_tokens",
    "Output": "output_tokens",
    "Cost": "cost",
}
HEADER_FOR_KEY: dict[str, dict[str, str]] = {
    "user": {key: h for h, key in SORT_KEYS.items() if h in USER_COLUMNS},
    "team": {key: h for h, key in SORT_KEYS.items() if h in TEAM_COLUMNS},
}
COLUMN_WIDTHS: dict[str, int] = {
    "User Name": 270,
    "Team": 190,
    "Users": 80,
    "Trend": 150,
    "Models": 210,
    "Requests": 120,
    "Input": 120,
    "Output": 120,
    "Cost": 150,
}
SCROLLBAR = 28  # room for the vertical scrollbar, the border and rounding
NUMBER_COLUMNS: tuple[str, ...] = ("Users", "Requests", "Input", "Output")
RIGHT_COLUMNS: tuple[str, ...] = (*NUMBER_COLUMNS, "Cost")
# ipydatagrid paints a filter icon over the right 22px of every header; right-aligned headers
# end two em spaces early to clear it, and the numbers under them do the same to line up.
PAD = "\u2003\u2003"
ROW_HEIGHT = 48
HEADER_HEIGHT = 34
MAX_VISIBLE_ROWS = 12
NO_ROWS = "No rows for this selection."
ARROWS = {True: "▼", False: "▲"}

_TEXT_FONT = f"12px {FONT_STACK}"
_NUMBER_FONT = f"12.5px {FONT_STACK}"
GRID_STYLE: dict[str, str] = {
    "background_color": "#ffffff",
    "void_color": "#ffffff",
    "header_background_color": "#f9fafb",
    "header_grid_line_color": "#e5e7eb",
    "header_vertical_grid_line_color": "#f9fafb",
    "horizontal_grid_line_color": "#eef0f3",
    "vertical_grid_line_color": "#ffffff",
}


def _quote(text: str) -> str:
    """A Vega expression string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _number_renderer(number_format: str, text: str = "default_value") -> TextRenderer:
    return TextRenderer(
        horizontal_alignment="right",
        format=number_format,
        font=_NUMBER_FONT,
        text_color=TEXT_STRONG,
        # Left unset, the cell takes the theme's background when painted, which the dark
        # theme's inverting filter (styles.py) would turn light again.
        background_color=GRID_STYLE["background_color"],
        # Rows the browser has not received yet hold a placeholder: show nothing, not "NaN".
        text_value=VegaExpr(f"cell.value === '...' ? '' : ({text}) + {_quote(PAD)}"),
    )


def _cost_renderer() -> TextRenderer:
    # d3 rounds a tenth of a cent down to "$0.00", which reads as free.
    return _number_renderer(
        "$,.2f", "cell.value > 0 && cell.value < 0.005 ? '<$0.01' : default_value"
    )


def _renderers() -> dict[str, Any]:
    rich = {
        name: ImageRenderer(width="", height="100%", placeholder="")
        for name in ("User Name", "Team", "Trend", "Models")
    }
    numbers = {name: _number_renderer(",d") for name in NUMBER_COLUMNS}
    return {**rich, **numbers, "Cost": _cost_renderer()}


def _is_right() -> str:
    """A Vega expression: is the header cell one of the right-aligned columns?"""
    return "(" + " || ".join(f"cell.value === {_quote(n)}" for n in RIGHT_COLUMNS) + ")"


def _header_expression(header: str | None, descending: bool) -> str:
    label = "cell.value"
    if header is not None:
        shown = f"{header} {ARROWS[descending]}"
        label = f"(cell.value === {_quote(header)} ? {_quote(shown)} : cell.value)"
    return f"{_is_right()} ? {label} + {_quote(PAD)} : {label}"


def _alignment_expression() -> str:
    return f"{_is_right()} ? 'right' : 'left'"


def _header_renderer() -> TextRenderer:
    return TextRenderer(
        font=f"600 12px {FONT_STACK}",
        text_color="#374151",
        text_value=VegaExpr(_header_expression(None, True)),
        horizontal_alignment=VegaExpr(_alignment_expression()),
    )


def _empty_frame(columns: Iterable[str]) -> pd.DataFrame:
    """No rows, with the dtypes the shown frames have (the browser's schema comes from it)."""
    return pd.DataFrame(
        {name: pd.Series(dtype="float64" if name in RIGHT_COLUMNS else object) for name in columns}
    )


def _as_list(value: object) -> list[Any]:
    if value is None or isinstance(value, str | bytes) or np.ndim(value) == 0:
        return []
    return list(value)  # type: ignore[call-overload]


def _ints(column: pd.Series) -> pd.Series:
    return pd.to_numeric(column, errors="coerce").fillna(0).astype("int64")


def _counts(column: pd.Series) -> pd.Series:
    """Whole numbers as the grid can carry them: ipydatagrid casts int64 to int32 on the way to
    the browser (4,294,967,396 tokens would show as 100), float64 is exact up to 2**53."""
    return _ints(column).astype("float64")


def _palette(teams: Iterable[str], colors: Mapping[str, str]) -> dict[str, str]:
    missing = [t for t in set(teams) if t not in colors]
    return {**team_colors(missing), **colors} if missing else dict(colors)


def _flags(flagged: Iterable[bool] | None, count: int) -> list[bool]:
    flags = [bool(f) for f in flagged] if flagged is not None else []
    return (flags + [False] * count)[:count]


def user_frame(
    breakdown: pd.DataFrame, colors: Mapping[str, str], flagged: Iterable[bool] | None = None
) -> pd.DataFrame:
    """The user view's shown columns, in order, from the data layer's breakdown."""
    rows = breakdown.reset_index(drop=True)
    flags = _flags(flagged, len(rows))
    teams = rows["team"].astype(str)
    palette = _palette(teams, colors)
    unpriced = _ints(rows["unpriced"]) if "unpriced" in rows else pd.Series(0, index=rows.index)
    width = COLUMN_WIDTHS["User Name"]
    names = [
        as_image(user_cell(str(n), "" if pd.isna(e) else str(e), t, palette[t], width, int(u), f),
                 width, ROW_HEIGHT)
        for n, e, t, u, f in zip(rows["name"], rows["email"], teams, unpriced, flags, strict=True)
    ]  # fmt: skip
    return pd.DataFrame({"User Name": names, **_common_columns(rows)})


def team_frame(
    breakdown: pd.DataFrame, colors: Mapping[str, str], flagged: Iterable[bool] | None = None
) -> pd.DataFrame:
    """The team view's shown columns, in order, from the data layer's breakdown."""
    rows = breakdown.reset_index(drop=True)
    flags = _flags(flagged, len(rows))
    teams = rows["team"].astype(str)
    palette = _palette(teams, colors)
    unpriced = _ints(rows["unpriced"]) if "unpriced" in rows else pd.Series(0, index=rows.index)
    width = COLUMN_WIDTHS["Team"]
    cells = [
        as_image(team_cell(t, palette[t], width, int(u), f), width, ROW_HEIGHT)
        for t, u, f in zip(teams, unpriced, flags, strict=True)
    ]
    return pd.DataFrame({"Team": cells, "Users": _counts(rows["users"]), **_common_columns(rows)})


def _common_columns(rows: pd.DataFrame) -> dict[str, Any]:
    trend_width, models_width = COLUMN_WIDTHS["Trend"], COLUMN_WIDTHS["Models"]
    return {
        "Trend": [
            as_image(trend_cell(_as_list(t), trend_width), trend_width, ROW_HEIGHT)
            for t in rows["trend"].tolist()  # one conversion of the column, not one per row
        ],
        "Models": [
            as_image(models_cell(_as_list(m), models_width), models_width, ROW_HEIGHT)
            for m in rows["models"].tolist()
        ],
        "Requests": _counts(rows["requests"]),
        "Input": _counts(rows["input_tokens"]),
        "Output": _counts(rows["output_tokens"]),
        "Cost": pd.to_numeric(rows["cost"], errors="coerce").astype("float64"),
    }


def _grid_height(rows: int) -> str:
    # A few pixels of slack: without them the grid shows a scrollbar for a one-pixel overflow.
    return f"{HEADER_HEIGHT + min(max(rows, 1), MAX_VISIBLE_ROWS) * ROW_HEIGHT + 8}px"


def _grid_width(columns: Iterable[str]) -> str:
    return f"{sum(COLUMN_WIDTHS[c] for c in columns) + SCROLLBAR}px"


KEY_COLUMN = "ipydguuid"  # the row key ipydatagrid adds to every frame it serves


class _Grid(StreamingDataGrid):
    """One view's grid: fixed columns, rows read by the browser on demand.

    New rows never re-send the dataset: the row count changes when it must, and a "tick" has
    the browser ask again for the rows it shows, so a reader keeps their place in a table that
    refreshes live. (A plain ``DataGrid`` re-sends everything and scrolls back to the top.)

    ipydatagrid 1.4's browser side fails ("Error setting state") on any dataset or row count
    change once rows have arrived if the dataset it was given holds no columns, and on a reply
    naming columns it does not have: the dataset here is the columns with no rows, sent once,
    and each grid keeps its columns for life.
    """

    def __init__(self, columns: tuple[str, ...], **kwargs: Any) -> None:
        super().__init__(_empty_frame(columns), **kwargs)
        self.columns = columns
        self._data = {**self._data, "data": self._data_object["data"]}  # columns, no rows

    def show_frame(self, frame: pd.DataFrame) -> None:
        if tuple(frame.columns) != self.columns:
            raise ValueError(f"this grid shows {self.columns}, not {tuple(frame.columns)}")
        frame = frame.copy(deep=False)
        frame[KEY_COLUMN] = pd.RangeIndex(len(frame))
        self._StreamingDataGrid__dataframe_reference = frame
        # Sorting or filtering chosen from a header's menu applies to the new rows as well.
        self._transformed_data = (
            self._apply_frontend_transforms(self._transforms, frame) if self._transforms else None
        )
        self._row_count = len(frame if self._transformed_data is None else self._transformed_data)
        self.tick()

    @property
    def frame(self) -> pd.DataFrame:
        """The shown frame, as served to the browser (with its row key)."""
        return self._StreamingDataGrid__dataframe_reference

    def position(self, row: object) -> int | None:
        """The frame's row shown at the browser's row ``row`` (None for anything else).

        The browser's ``primary_key_row`` means nothing in a streaming grid (it keeps no
        keys); its ``row`` is the place on screen, the frame's own under a header-menu sort.
        """
        if not isinstance(row, int) or isinstance(row, bool) or row < 0:
            return None
        shown = self.frame if self._transformed_data is None else self._transformed_data
        return int(shown[KEY_COLUMN].iloc[row]) if row < len(shown) else None

    @property
    def data(self) -> pd.DataFrame:
        """The shown rows (a streaming grid's own ``data`` holds none)."""
        return self.frame.drop(columns=KEY_COLUMN)

    @data.setter
    def data(self, frame: pd.DataFrame) -> None:
        StreamingDataGrid.data.fset(self, frame)  # type: ignore[attr-defined]

    def _handle_comm_msg(self, widget: Any, content: Any, buffers: Any) -> None:
        """Rows asked for by the browser, clamped to the rows and columns there are."""
        if not isinstance(content, dict) or content.get("type") != "data-request":
            return super()._handle_comm_msg(widget, content, buffers)
        bounds = [content.get(k) for k in ("r1", "r2", "c1", "c2")]
        if not all(isinstance(b, int) and not isinstance(b, bool) and b >= 0 for b in bounds):
            return None
        rows = len(self.frame if self._transformed_data is None else self._transformed_data)
        r1, r2, c1, c2 = bounds
        r2, c2 = min(r2, rows - 1), min(c2, len(self.columns) - 1)
        if r1 > r2 or c1 > c2:
            return None
        return super()._handle_comm_msg(widget, {**content, "r2": r2, "c2": c2}, buffers)

    # Read only: ipydatagrid applies a "cell-changed" message from the browser to its data
    # whether or not the grid is editable, and a page's visitor could send one by hand. Such
    # messages (and any other but a well-formed click) are dropped.
    def _DataGrid__handle_custom_msg(self, widget: Any, content: Any, buffers: Any) -> None:
        clicked = (
            isinstance(content, dict)
            and content.get("event_type") == "cell-click"
            and {"region", "column", "row"} <= content.keys()
        )  # fmt: skip
        if clicked:  # (a streaming grid's browser side leaves primary_key_row out)
            content = {"column_index": None, "primary_key_row": None, "cell_value": None, **content}
            DataGrid._DataGrid__handle_custom_msg(self, widget, content, buffers)  # type: ignore[attr-defined]

    @t.validate("editable")
    def _validate_editable(self, _proposal: dict[str, Any]) -> bool:  # the browser may ask
        return False


class BreakdownTable(widgets.VBox):
    """The breakdown grid, built once; :meth:`show` swaps its data in place.

    Sorting belongs to the data layer: a click on a sortable header calls the callbacks given
    to :meth:`on_sort` with the data column's key (``"cost"``, ``"name"``, ...); the caller
    re-sorts, calls :meth:`show` and :meth:`set_sort` to move the arrow.

    A widget (a panel holding an ipydatagrid DataGrid): put it in a box or display it.
    """

    def __init__(self, **kwargs: Any) -> None:
        self.grids: dict[View, _Grid] = {
            "user": self._make_grid(USER_COLUMNS),
            "team": self._make_grid(TEAM_COLUMNS),
        }
        # The shown grid is the holder's only child: a grid's view is built when it is shown,
        # as one made hidden (display: none) paints only fragments once shown.
        self.holder = widgets.Box(children=[self.grids["user"]])
        message = widgets.HTML(layout=widgets.Layout(display="none"))
        detail = widgets.HTML()
        detail.add_class("uw-note")
        super().__init__(children=[style_widget(), self.holder, message, detail], **kwargs)
        self.add_class("uw-panel")
        self.add_class("uw-root")
        self.add_class("uw-table")
        self.message, self.detail = message, detail
        self.view: View = "user"
        self.sort: tuple[str, bool] | None = None
        self.row_labels: list[str] = []
        self.row_models: list[list[str]] = []
        self._sort_callbacks: list[SortCallback] = []
        self._row_callbacks: list[SortCallback] = []

    def _make_grid(self, columns: tuple[str, ...]) -> _Grid:
        grid = _Grid(
            columns,
            editable=False,
            base_row_size=ROW_HEIGHT,
            base_column_header_size=HEADER_HEIGHT,
            base_column_size=100,
            header_visibility="column",
            column_widths={c: COLUMN_WIDTHS[c] for c in columns},
            renderers=_renderers(),
            header_renderer=_header_renderer(),
            selection_mode="none",
            grid_style=dict(GRID_STYLE),
            layout=widgets.Layout(
                width=_grid_width(columns), max_width="100%", height=_grid_height(0)
            ),
        )
        grid.on_cell_click(self._on_cell_click)
        return grid

    @property
    def grid(self) -> _Grid:
        """The grid of the current view."""
        return self.grids[self.view]

    @property
    def columns(self) -> tuple[str, ...]:
        """The current view's shown columns."""
        return self.grid.columns

    @property
    def frame(self) -> pd.DataFrame:
        """The shown columns of the current view's rows, as the grid serves them."""
        return self.grid.frame.drop(columns=KEY_COLUMN)

    @property
    def widget(self) -> BreakdownTable:
        """The widget to display: the table itself."""
        return self

    def close(self) -> None:
        """Close the table, both grids and their renderers, and every other part."""
        for grid in self.grids.values():  # the hidden one is nobody's child
            close_parts(grid)
            grid.close()
        close_parts(self)
        super().close()

    # -- data -----------------------------------------------------------------------------
    def show(
        self,
        breakdown: pd.DataFrame,
        view: View,
        colors: Mapping[str, str],
        empty_reason: str | None = None,
        flagged: Iterable[bool] | None = None,
    ) -> None:
        """Show a report's breakdown, in the order given.

        Parameters
        ----------
        breakdown : DataFrame
            Filtered and sorted rows from the data layer (user or team columns).
        view : {"user", "team"}
        colors : mapping of str to str
            Team -> colour, for the badges.
        empty_reason : str, optional
            The sentence shown instead of the grid when there are no rows (escaped here).
        flagged : iterable of bool, optional
            Per row: does the anomaly rule flag it (a flag is drawn by the name).
        """
        if view not in ("user", "team"):
            raise ValueError(f"view must be 'user' or 'team', not {view!r}")
        self.view = view
        frame = (user_frame if view == "user" else team_frame)(breakdown, colors, flagged)
        self._remember_rows(breakdown, view)
        self.detail.value = ""
        self.grid.show_frame(frame)
        self.grid.layout.height = _grid_height(len(frame))
        self._set_header()
        if len(frame):
            self.message.layout.display = "none"
        else:
            self.message.value = self._message_html(empty_reason or NO_ROWS)
            self.message.layout.display = None
        shown = (self.grid,) if len(frame) else ()
        if self.holder.children != shown:
            self.holder.children = shown
            if shown:
                self._repaint_soon()

    def _repaint_soon(self) -> None:
        """Have the grid just shown fetch its rows again a moment later, and again later still.

        A grid asks for rows once its view has a size, and paints a cell's image only if the
        image has loaded by then: on a slow browser the first paint can miss both. Each fetch
        repaints the rows shown, with the images loaded by then. (No style change: that makes
        JupyterLab rebuild the renderers and leaves cells blank.) Without a running event loop
        (plain Python) there is no browser.
        """
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        for delay in (0.15, 0.4, 0.7, 1.5, 3.0, 6.0):
            loop.call_later(delay, self.grid.tick)

    @property
    def is_empty(self) -> bool:
        """Whether the sentence is shown instead of the grid."""
        return self.message.layout.display != "none"

    @staticmethod
    def _message_html(reason: str) -> str:
        return f'<div class="uw-empty">{html.escape(reason)}</div>'

    def _remember_rows(self, breakdown: pd.DataFrame, view: View) -> None:
        label = "name" if view == "user" else "team"
        self.row_labels = [str(v) for v in breakdown[label]] if label in breakdown else []
        models = breakdown["models"].tolist() if "models" in breakdown else []
        self.row_models = [[str(m) for m in _as_list(v)] for v in models]

    # -- sorting --------------------------------------------------------------------------
    def on_sort(self, callback: SortCallback, remove: bool = False) -> None:
        """Call ``callback(key)`` when a sortable header is clicked (key as in ``SORT_KEYS``)."""
        if remove:
            self._sort_callbacks = [c for c in self._sort_callbacks if c != callback]
        elif callback not in self._sort_callbacks:
            self._sort_callbacks.append(callback)

    def set_sort(self, key: str | None, descending: bool = True) -> None:
        """Mark the sorted column with an arrow (▼ descending, ▲ ascending); None clears it."""
        self.sort = None if key is None else (key, bool(descending))
        self._set_header()

    def header_label(self, header: str) -> str:
        """The header text as shown, arrow included."""
        sorted_header, descending = self._sorted_header()
        return f"{header} {ARROWS[descending]}" if header == sorted_header else header

    def _sorted_header(self) -> tuple[str | None, bool]:
        if self.sort is None:
            return None, True
        key, descending = self.sort
        return HEADER_FOR_KEY[self.view].get(key), descending

    def _set_header(self) -> None:
        header, descending = self._sorted_header()
        expression = self.grid.header_renderer.text_value
        new_value = _header_expression(header, descending)
        if expression.value != new_value:
            expression.value = new_value

    def _on_cell_click(self, cell: dict[str, Any]) -> None:
        # The browser can send anything: accept only known headers and in-range rows.
        if not isinstance(cell, dict):
            return
        region, column = cell.get("region"), cell.get("column")
        if region == "column-header" and isinstance(column, str):
            key = SORT_KEYS.get(column)
            if key is not None and column in self.columns:
                for callback in list(self._sort_callbacks):
                    callback(key)
        elif region == "body" and column == "Models":
            self._show_models(self.grid.position(cell.get("row")))
        elif region == "body":
            self._row_clicked(self.grid.position(cell.get("row")))

    def on_row_click(self, callback: SortCallback) -> None:
        """Call ``callback(label)`` (user name or team) when a row is clicked outside Models."""
        if callback not in self._row_callbacks:
            self._row_callbacks.append(callback)

    def _row_clicked(self, row: object) -> None:
        if isinstance(row, int) and not isinstance(row, bool) and 0 <= row < len(self.row_labels):
            for callback in list(self._row_callbacks):
                callback(self.row_labels[row])

    def _show_models(self, row: object) -> None:
        if not isinstance(row, int) or not 0 <= row < len(self.row_models):
            return
        who = self.row_labels[row] if row < len(self.row_labels) else ""
        models = ", ".join(self.row_models[row]) or "none"
        self.detail.value = (
            f"<div>Models used by <b>{html.escape(who)}</b>, most used first: "
            f"{html.escape(models)}</div>"
        )
