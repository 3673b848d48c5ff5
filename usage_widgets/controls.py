"""The control bar: view toggle, time range, filters, Live Mode and search, linked to the state."""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as w
import traitlets as t

from .state import DashboardState, time_zones

RANGE_OPTIONS = [("24h", "24h"), ("7d", "7d"), ("14d", "14d"), ("30d", "30d"), ("Custom", "custom")]


def _as_tuple(value: object) -> tuple[str, ...]:
    return tuple(value) if isinstance(value, list | tuple) else ()


def _as_list(value: tuple[str, ...]) -> list[str]:
    return list(value)


class ControlBar(w.VBox):
    """Every control of the page. Each control's ``value`` is linked to one state trait."""

    def __init__(self, state: DashboardState, on_clear: Callable[[], None]) -> None:
        self.view = w.ToggleButtons(
            options=[("By user", "user"), ("By team", "team")],
            tooltips=["One row per user", "One row per team"],
            style={"button_width": "96px"},
        )
        self.view.add_class("uw-view-toggle")
        self.range = w.ToggleButtons(options=RANGE_OPTIONS, style={"button_width": "74px"})
        self.range.add_class("uw-range")
        self.start = w.DatePicker(description="From", layout=w.Layout(width="230px"))
        self.end = w.DatePicker(description="To", layout=w.Layout(width="230px"))
        self.custom = w.HBox([self.start, self.end], layout=w.Layout(display="none"))
        self.api_keys = self._picker("API keys", state.options.get("api_keys", ()))
        self.tags = self._picker("Tags", state.options.get("tags", ()))
        self.teams = self._picker("Teams", state.options.get("teams", ()))
        self.models = self._picker("Models", state.options.get("models", ()))
        self.anomalies_only = w.ToggleButton(
            description="Anomalies only", icon="flag",
            tooltip="Show only the rows whose latest 24 hours jump far above their usual day",
        )  # fmt: skip
        self.anomalies_only.add_class("uw-anomalies-only")
        self.live = w.ToggleButton(description="Live Mode", tooltip="Refresh as new requests arrive")
        self.live.add_class("uw-live")
        self.live_status = w.HTML("", layout=w.Layout(margin="0 0 0 6px"))
        self.code = w.ToggleButton(
            description="Code", icon="code", tooltip="The Python lines that give these numbers"
        )
        self.code.add_class("uw-code-toggle")
        self.clear = w.Button(description="Clear filters", tooltip="Clear all filters")
        self.clear.add_class("uw-clear")
        self.clear.on_click(lambda _: on_clear())
        self.tz = w.Combobox(
            options=sorted(time_zones()),
            ensure_option=True,
            placeholder="Time zone",
            description="Time zone",
            tooltip="Days and hours are counted in this zone",
            layout=w.Layout(width="260px"),
        )
        self.tz.add_class("uw-tz")
        self.search = w.Text(
            placeholder="Search by name or email",
            continuous_update=True,
            layout=w.Layout(width="320px"),
        )
        self.search.add_class("uw-search")

        self.links = [
            t.link((state, "view"), (self.view, "value")),
            t.link((state, "range"), (self.range, "value")),
            t.link((state, "start"), (self.start, "value")),
            t.link((state, "end"), (self.end, "value")),
            t.link((state, "api_keys"), (self.api_keys.children[1], "value"), (_as_list, _as_tuple)),
            t.link((state, "tags"), (self.tags.children[1], "value"), (_as_list, _as_tuple)),
            t.link((state, "teams"), (self.teams.children[1], "value"), (_as_list, _as_tuple)),
            t.link((state, "models"), (self.models.children[1], "value"), (_as_list, _as_tuple)),
            t.link((state, "anomalies_only"), (self.anomalies_only, "value")),
            t.link((state, "live"), (self.live, "value")),
            t.link((state, "search"), (self.search, "value")),
            t.link((state, "tz"), (self.tz, "value")),
        ]
        state.observe(self._show_custom, names="range")
        state.observe(self._search_hint, names="view")
        self._show_custom({"new": state.range})
        self._search_hint({"new": state.view})

        header = w.HBox(
            [w.HTML("<div class='uw-title'>AI Usage</div>"), self.view],
            layout=w.Layout(justify_content="space-between", align_items="center"),
        )
        time_row = w.HBox(
            [self.range, self.custom, w.HBox(layout=w.Layout(flex="1")), self.tz, self.code,
             self.live, self.live_status],
            layout=w.Layout(align_items="center", flex_flow="row wrap"),
        )
        filter_row = w.HBox(
            [self.api_keys, self.tags, self.teams, self.models, self.clear],
            layout=w.Layout(align_items="flex-start", flex_flow="row wrap"),
        )
        super().__init__([header, time_row, filter_row])
        self.add_class("uw-controls")

    @staticmethod
    def _picker(label: str, choices: tuple[str, ...]) -> w.VBox:
        """A searchable multi-select: type to find a choice, only offered choices are kept."""
        tags = w.TagsInput(allowed_tags=list(choices), allow_duplicates=False, value=[])
        tags.add_class("uw-picker-input")
        box = w.VBox([w.Label(label), tags], layout=w.Layout(width="23%", min_width="200px"))
        box.add_class("uw-picker")
        return box

    def _show_custom(self, change: dict) -> None:
        self.custom.layout.display = "flex" if change["new"] == "custom" else "none"

    def _search_hint(self, change: dict) -> None:
        self.search.placeholder = (
            "Search by name or email" if change["new"] == "user" else "Search by team name"
        )

    def set_choices(self, options: dict[str, list[str]]) -> None:
        """Offer new choices (a live log brought new keys, tags or teams)."""
        for name in ("api_keys", "tags", "teams", "models"):
            getattr(self, name).children[1].allowed_tags = list(options.get(name, ()))
