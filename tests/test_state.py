"""The dashboard state: what a control (or a browser message) may set, and the selection it forms."""

from __future__ import annotations

import datetime as dt

import pytest
import traitlets

import usage_widgets as uw
from usage_widgets.state import DashboardState

OPTIONS = {"api_keys": ["k1", "k2"], "tags": ["env:prod", "env:dev"], "teams": ["R&D", "Search"]}


@pytest.fixture
def state() -> DashboardState:
    return DashboardState(OPTIONS)


def test_defaults_form_the_default_selection(state: DashboardState) -> None:
    assert state.selection == uw.Selection()


def test_unknown_choices_are_dropped(state: DashboardState) -> None:
    state.teams = ("Search", "Nope", "Search")
    state.api_keys = ("k9",)
    state.tags = ("env:prod", 5)  # type: ignore[assignment]
    assert state.teams == ("Search",)
    assert state.api_keys == ()
    assert state.tags == ("env:prod",)


@pytest.mark.parametrize(("name", "value"), [("view", "boss"), ("range", "1y"), ("sort", "secret")])
def test_values_outside_the_options_are_refused(state: DashboardState, name: str, value: str) -> None:
    with pytest.raises(traitlets.TraitError):
        setattr(state, name, value)
    assert state.selection == uw.Selection()


def test_dates_must_be_dates(state: DashboardState) -> None:
    state.start = dt.datetime(2026, 3, 1, 15, 0)
    assert state.start == dt.date(2026, 3, 1)
    with pytest.raises(traitlets.TraitError):
        state.end = "2026-03-05; drop table"


def test_selection_round_trip(state: DashboardState) -> None:
    sel = uw.Selection(view="team", range="custom", start=dt.date(2026, 1, 1), end=dt.date(2026, 1, 9),
                       teams=("R&D",), tags=("env:dev",), search="ada", sort="requests", descending=False)
    seen: list[str] = []
    state.observe(lambda c: seen.append(c["name"]), names=traitlets.All)
    state.selection = sel
    assert state.selection == sel
    assert {"view", "range", "start", "end", "teams", "tags", "search", "sort", "descending"} <= set(seen)


def test_header_clicks_sort_descending_first_then_flip(state: DashboardState) -> None:
    state.sort_by("requests")
    assert (state.sort, state.descending) == ("requests", True)
    state.sort_by("requests")
    assert (state.sort, state.descending) == ("requests", False)
    state.sort_by("cost")
    assert (state.sort, state.descending) == ("cost", True)


def test_clear_filters_keeps_view_and_range(state: DashboardState) -> None:
    state.view, state.range = "team", "30d"
    state.teams, state.tags, state.api_keys, state.search = ("R&D",), ("env:prod",), ("k1",), "x"
    state.clear_filters()
    assert state.selection == uw.Selection(view="team", range="30d")


@pytest.mark.parametrize(
    "sel",
    [
        uw.Selection(),
        uw.Selection(view="team", range="custom", start=dt.date(2026, 2, 28), end=dt.date(2026, 3, 1),
                     api_keys=("k'1",), tags=("env:prod",), teams=("R&D",), search='say "hi"',
                     sort="requests", descending=False),
    ],
)  # fmt: skip
def test_a_selection_repr_is_python_that_rebuilds_it(sel: uw.Selection) -> None:
    assert eval(repr(sel), {"Selection": uw.Selection}) == sel


def test_dates_beyond_the_calendar_are_held_for_the_page_to_explain(state: DashboardState) -> None:
    state.range, state.start, state.end = "custom", dt.date(1, 1, 1), dt.date(2300, 1, 1)
    assert state.selection.start == dt.date(1, 1, 1)
    with pytest.raises(uw.SelectionError, match=r"start date \(Jan 01, 1\) cannot be shown"):
        state.selection.check()


def test_switching_to_the_user_view_drops_a_team_only_sort(state: DashboardState) -> None:
    state.view = "team"
    state.sort_by("users")
    state.view = "user"
    assert (state.sort, state.descending) == ("cost", True)
