"""Hostile text from the log (HTML, script, `&`, `<`, `$...$`, very long, right-to-left, emoji)
is shown as literal text in every place of the page, checked on the widgets' state: HTML
widgets, grid cells (SVG images), chart labels and tooltips, filter choices. Nothing from the
log becomes markup, and no cell is left blank."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import ipywidgets as w
import pandas as pd
import pytest

import usage_widgets as uw
from usage_widgets.views.cells import image_markup
from usage_widgets.views.lifecycle import parts

NOW = pd.Timestamp("2026-03-11T15:00:00Z")
LONG = "Department of Extremely Long Names " * 12
HOSTILE = {
    # user_id -> (name, email, team, api_key, model, tag)
    "u1": ("<img src=x onerror=alert(1)>", "a<b>@x.org", "R&D", "key<script>", "gpt-4o", "env:prod"),
    "u2": ("$x$ and $$y$$ \\(z\\)", "cost$5@x.org", "$team$", "$key$", "m$1$", "price:5.00"),
    "u3": ("</div><script>window.__pwned=1</script>", "q@x.org", "<b>bold</b>", "k&amp;1",
           "<svg onload=alert(1)>", "a.b:c-d"),
    "u4": ("مرحبا بالعالم", "rtl@x.org", "فريق البحث", "مفتاح", "نموذج", "lang:ar"),
    "u5": ("Zoë 🚀👩‍💻", "emoji@x.org", "🔥 Team", "key-🔑", "gpt-4o-mini", "env:dev"),
    "u6": (LONG, "long" * 60 + "@x.org", LONG.upper(), "k" * 300, "model-" + "x" * 300, "t:" + "x" * 64),
    "u7": ("javascript:alert(1)", "\" onmouseover=\"alert(1)", "' or '1'='1", "k7", "m7", "env:qa"),
}  # fmt: skip
TEXTS = {text for row in HOSTILE.values() for text in row}
ACTIVE_TAGS = ("script", "img", "svg", "iframe", "object", "embed", "a", "style", "link")


def hostile_log() -> pd.DataFrame:
    rows = []
    for i, (uid, (name, email, team, key, model, tag)) in enumerate(HOSTILE.items()):
        for j in range(2):
            rows.append({
                "request_id": f"{uid}-{j}", "timestamp": NOW - pd.Timedelta(hours=2 + i + j),
                "user_id": uid, "user_name": name, "user_email": email, "team": team,
                "api_key": key, "model": model, "tags": [tag], "input_tokens": 1000 * (i + 1),
                "output_tokens": 10, "cost": 0.5 * (i + 1),
            })  # fmt: skip
    return uw.load_log(pd.DataFrame(rows))


class _Markup(HTMLParser):
    """Tags, attributes and text of an HTML fragment, as a browser's parser would see them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str | None]] = []
        self.text: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes.extend(attrs)
        if tag == "a":
            self.links.append(dict(attrs).get("href") or "")

    def handle_data(self, data):
        self.text.append(data)


def parse(markup: str) -> _Markup:
    parser = _Markup()
    parser.feed(markup)
    parser.close()
    return parser


def assert_inert(markup: str) -> None:
    """Nothing of the log's text became an element or an attribute."""
    found = parse(markup)
    # The page's own links ("Copy link", "Download CSV") point at the page's query or carry
    # the CSV as data; the log's text only ever sits inside them encoded.
    own_links = all(href.startswith(("?", "data:text/csv;")) for href in found.links)
    active = set(found.tags) & set(ACTIVE_TAGS) - ({"a"} if own_links else set())
    assert not active, found.tags
    assert not [a for a, _ in found.attributes if a.startswith("on")], found.attributes
    assert not [v for _, v in found.attributes if v and "javascript:" in v.lower()], found.attributes


@pytest.fixture(scope="module")
def dash():
    d = uw.UsageDashboard(hostile_log(), now=NOW, selection=uw.Selection(range="24h"))
    yield d
    d.close()


def html_values(root: w.Widget) -> list[str]:
    """The markup of every HTML widget but the page's own style sheet."""
    return [
        p.value for p in parts(root)
        if isinstance(p, w.HTML | w.HTMLMath) and p.value and not p.value.startswith("<style>")
    ]  # fmt: skip


def shown_text(root: w.Widget) -> str:
    return "\n".join("".join(parse(v).text) for v in html_values(root))


def cell_texts(uri: str) -> str:
    root = ET.fromstring(f"<root>{image_markup(uri)}</root>")  # raises when not well-formed XHTML
    for element in root.iter():
        assert not element.tag.endswith(ACTIVE_TAGS[:3]), element.tag
        assert not [a for a in element.attrib if a.startswith("on")]
    return "".join(root.itertext())


@pytest.mark.parametrize("view", ["user", "team"])
def test_every_html_widget_shows_the_log_text_literally(dash, view) -> None:
    dash.state.view = view
    for markup in html_values(dash):
        assert_inert(markup)
    text = shown_text(dash)
    labels = [n for n, *_ in HOSTILE.values()] if view == "user" else [r[2] for r in HOSTILE.values()]
    for label in labels:  # the accessible list of rows holds each label, literally
        assert label in text, label
    if view == "team":  # the legend names each team literally
        legend = "".join(parse(dash.chart.legend.value).text)
        for _, _, team, *_ in HOSTILE.values():
            assert team in legend, team


@pytest.mark.parametrize("view", ["user", "team"])
def test_grid_cells_are_well_formed_and_never_blank(dash, view) -> None:
    dash.state.view = view
    frame = dash.table.grid.data
    assert len(frame) == len(HOSTILE)
    first = "User Name" if view == "user" else "Team"
    for i, uri in enumerate(frame[first]):
        text = cell_texts(uri)
        assert text.strip(), i
        label = dash.table.row_labels[i]
        assert label in text  # name (user view) or team, literally, whole
        if view == "user":
            row = dash.report.breakdown.iloc[i]
            assert row["team"] in text and row["email"] in text
    for uri, models in zip(frame["Models"], dash.report.breakdown["models"], strict=True):
        assert models[0] in cell_texts(uri)


def test_chart_tooltips_and_series_names_are_literal(dash) -> None:
    dash.state.view = "team"
    series = dash.chart.series
    assert set(series.names) == {r[2] for r in HOSTILE.values()}
    assert list(dash.chart.bars.labels) == series.names  # bqplot draws labels as text
    for sub_index, name in enumerate(series.names):
        buckets = [i for i in range(series.values.shape[1]) if series.values[sub_index, i]]
        tip = dash.chart.hover_text(buckets[0], sub_index)
        assert_inert(tip)
        assert name in "".join(parse(tip).text)


def test_filter_choices_are_the_literal_texts(dash) -> None:
    choices = {name: dash.controls.__dict__[name].children[1].allowed_tags
               for name in ("api_keys", "tags", "teams")}  # fmt: skip
    assert set(choices["teams"]) >= {r[2] for r in HOSTILE.values()}
    assert set(choices["api_keys"]) == {r[3] for r in HOSTILE.values()}
    assert set(choices["tags"]) == {r[5] for r in HOSTILE.values()}
    # TagsInput draws its chips and choices as text; nothing from the log is a label or a
    # description, where `$...$` would be typeset as LaTeX.
    for widget in parts(dash):
        assert getattr(widget, "description", None) not in TEXTS
        if isinstance(widget, w.Label):
            assert widget.value not in TEXTS


def test_picking_hostile_choices_filters_by_the_exact_text(dash) -> None:
    dash.clear_filters()
    dash.state.view = "user"
    dash.controls.teams.children[1].value = ["R&D", "$team$"]
    assert sorted(dash.table.row_labels) == sorted([HOSTILE["u1"][0], HOSTILE["u2"][0]])
    dash.controls.api_keys.children[1].value = ["k&amp;1"]  # no user of R&D or $team$ has it
    assert dash.table.row_labels == [] and "No requests" in dash.table.message.value
    dash.clear_filters()
    assert len(dash.table.row_labels) == len(HOSTILE)


def test_the_state_sent_to_the_browser_keeps_hostile_text_as_data(dash) -> None:
    """What goes over the wire is JSON that any browser can decode: no lone surrogates."""
    for widget in parts(dash):
        state = widget.get_state()
        json.dumps(state, default=str).encode("utf-8")


def test_models_detail_escapes_names(dash) -> None:
    dash.state.view = "user"
    row = dash.table.row_labels.index(HOSTILE["u3"][0])
    dash.table._on_cell_click({"region": "body", "column": "Models", "row": row})
    assert_inert(dash.table.detail.value)
    assert HOSTILE["u3"][4] in "".join(parse(dash.table.detail.value).text)
    assert HOSTILE["u3"][0] in "".join(parse(dash.table.detail.value).text)
