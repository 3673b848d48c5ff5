"""Markup of the breakdown table's rich cells: name with team badge, sparkline, models list."""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable, Sequence
from urllib.parse import quote, unquote

from .colors import text_color_for
from .styles import ACCENT, FONT_STACK, TEXT_MUTED, TEXT_STRONG, WARN

# Characters XML 1.0 forbids (C0 controls but tab/newline/return, lone surrogates, U+FFFE/F):
# any of them makes a grid cell's XHTML ill-formed and the cell blank.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# Bidi controls would let a name reorder the text around it.
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")

MODELS_SHOWN = 3


def xml_text(value: object) -> str:
    """Text made safe for a grid cell's XHTML: escaped, with characters XML forbids replaced.

    Examples
    --------
    >>> xml_text("R&D <b>")
    'R&amp;D &lt;b&gt;'
    """
    text = "" if value is None else str(value)
    text = _BIDI.sub("", _NOT_XML.sub("\ufffd", text))
    return html.escape(text, quote=True)


def _ellipsis() -> str:
    return "overflow:hidden;text-overflow:ellipsis;white-space:nowrap"


def badge(team: str, color: str, max_width: int = 160) -> str:
    """A pill with the team name on the team colour, text colour chosen for contrast."""
    return (
        f'<span style="flex:none;display:inline-block;max-width:{max_width}px;{_ellipsis()};'
        f"padding:0 8px;border-radius:8px;background:{html.escape(color)};"
        f"color:{text_color_for(color)};font-size:10px;font-weight:600;line-height:16px;"
        f'vertical-align:middle">{xml_text(team)}</span>'
    )


def unpriced_note(unpriced: int, short: bool = True) -> str:
    """A warning that some requests of the row have no known price (their cost is not included)."""
    if unpriced <= 0:
        return ""
    text = f"{unpriced:,} unpriced" if short else f"+ {unpriced:,} requests without a known price"
    return f'<span style="color:{WARN}">{xml_text(text)}</span>'


def flag_chip(flagged: bool) -> str:
    """A small warning flag before the name of a row the anomaly rule flags."""
    if not flagged:
        return ""
    return (
        f'<span style="flex:none;color:#ffffff;background:{WARN};border-radius:8px;padding:0 6px;'
        'font-size:10px;font-weight:700;line-height:16px">⚑ anomaly</span>'
    )


def user_cell(
    name: str, email: str, team: str, color: str, width: int, unpriced: int = 0, flagged: bool = False
) -> str:
    """Name on top with the team badge beside it, email (and an unpriced note) under it.

    Parameters
    ----------
    name, email, team : str
        Text from the log; escaped here.
    color : str
        The team's colour.
    width : int
        Column width in pixels, so long text ends in an ellipsis instead of overflowing.
    unpriced : int
        Requests of the user without a known price.
    """
    inner = width - 14
    note = unpriced_note(unpriced)
    second = xml_text(email) + (" · " + note if email and note else note)
    return (
        f'<div style="width:{inner}px;padding-left:6px;line-height:17px;'
        f'font-family:{FONT_STACK}">'
        f'<div style="display:flex;align-items:center;gap:8px;white-space:nowrap">'
        f'<span style="font-weight:600;font-size:12.5px;color:{TEXT_STRONG};{_ellipsis()}">'
        f"{xml_text(name)}</span>{badge(team, color, max_width=inner // 2)}{flag_chip(flagged)}</div>"
        f'<div style="font-size:11px;color:{TEXT_MUTED};{_ellipsis()}">{second}</div>'
        "</div>"
    )


def team_cell(team: str, color: str, width: int, unpriced: int = 0, flagged: bool = False) -> str:
    """The team badge, with an unpriced note under it when needed."""
    inner = width - 14
    note = unpriced_note(unpriced, short=False)
    second = (
        f'<div style="font-size:11px;margin-top:3px;{_ellipsis()}">{note}</div>' if note else ""
    )
    return (
        f'<div style="width:{inner}px;padding-left:6px;line-height:17px;'
        f'font-family:{FONT_STACK}">{badge(team, color, max_width=inner - 80 if flagged else inner)}'
        f"{' ' + flag_chip(flagged) if flagged else ''}{second}</div>"
    )


def _numbers(values: Iterable[object]) -> list[float]:
    out = []
    for v in values:
        try:
            number = float(v)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            number = 0.0
        out.append(number if math.isfinite(number) and number > 0 else 0.0)
    return out


def sparkline(
    values: Sequence[object], width: int = 120, height: int = 30, color: str = ACCENT
) -> str:
    """An inline SVG line of the counts, scaled to the row's own peak, last point marked.

    A spike in the last bucket reaches the top right corner with a dot on it, so a runaway
    script shows at a glance.

    Examples
    --------
    >>> svg = sparkline([0, 0, 5])
    >>> svg.startswith("<svg") and "polyline" in svg
    True
    """
    counts = _numbers(values)
    if not counts:
        return ""
    pad = 3.0
    peak = max(counts)
    span_x, span_y = width - 2 * pad, height - 2 * pad
    step = span_x / (len(counts) - 1) if len(counts) > 1 else 0.0
    xs = [pad + i * step for i in range(len(counts))] if len(counts) > 1 else [pad, width - pad]
    ys = [height - pad - (span_y * c / peak if peak else 0.0) for c in counts]
    if len(counts) == 1:
        ys = ys * 2
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys, strict=True))
    base = height - pad
    area = f"{xs[0]:.1f},{base:.1f} {line} {xs[-1]:.1f},{base:.1f}"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">'
        f'<polygon points="{area}" fill="{color}" fill-opacity="0.12" stroke="none"/>'
        f'<polyline points="{line}" fill="none" stroke="{color}" stroke-width="1.6" '
        'stroke-linejoin="round" stroke-linecap="round"/>'
        f'<circle cx="{xs[-1]:.1f}" cy="{ys[-1]:.1f}" r="2.4" fill="{color}"/>'
        "</svg>"
    )


def trend_cell(values: Sequence[object], width: int) -> str:
    """The sparkline sized to its column."""
    svg = sparkline(values, width=width - 20, height=30)
    return f'<div style="padding-left:6px;line-height:0">{svg}</div>'


def models_cell(models: Sequence[object], width: int, shown: int = MODELS_SHOWN) -> str:
    """The first ``shown`` model names, then a grey ``+N`` chip that never gets cut off.

    Examples
    --------
    >>> cell = models_cell(["a", "b", "c", "d", "e"], width=200)
    >>> "a, b, c</span>" in cell and ">+2</span>" in cell
    True
    """
    names = [str(m) for m in models]
    rest = len(names) - shown
    chip = (
        f'<span style="flex:none;padding:0 6px;border-radius:8px;background:#f3f4f6;'
        f'color:{TEXT_MUTED};font-size:11px;font-weight:600;line-height:16px">+{rest}</span>'
        if rest > 0
        else ""
    )
    return (
        f'<div style="width:{width - 14}px;padding-left:6px;display:flex;align-items:center;'
        f'gap:6px;font-family:{FONT_STACK};font-size:12px;color:#374151">'
        f'<span style="{_ellipsis()}">{xml_text(", ".join(names[:shown]))}</span>{chip}</div>'
    )


# Everything printable but "%" and "#" may stay as it is in a data URI set from script.
_URI_SAFE = "".join(chr(c) for c in range(32, 127) if chr(c) not in "%#")


def as_image(markup: str, width: int, height: int) -> str:
    """A cell's XHTML as an SVG image (a data URI) for the grid's ImageRenderer.

    ipydatagrid's HtmlRenderer re-creates itself for every image it loads, so a page of them
    takes minutes to settle; the grid's own image renderer caches and paints each one once.
    The markup stays inert: an image runs no script and loads nothing.
    """
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">'
        f'<foreignObject width="{width}" height="{height}">'
        f'<div xmlns="http://www.w3.org/1999/xhtml" style="display:table-cell;'
        f'vertical-align:middle;width:{width}px;height:{height}px">{markup}</div>'
        "</foreignObject></svg>"
    )
    if svg.isascii() and svg.isprintable():  # the usual case, what quote() gives, at C speed
        return "data:image/svg+xml," + svg.replace("%", "%25").replace("#", "%23")
    return "data:image/svg+xml," + quote(svg, safe=_URI_SAFE)


def image_markup(uri: str) -> str:
    """The XHTML inside an `as_image` data URI (for tests and debugging)."""
    svg = unquote(uri.removeprefix("data:image/svg+xml,"))
    start = svg.index(">", svg.index("<div")) + 1
    return svg[start : svg.rindex("</div>")]
