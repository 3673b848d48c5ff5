"""Stable team colours: one colour per team name, the same in every place and every session."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

# Tableau 20 without its two greys (grey is kept for "Other"): ten hues, each in a strong and a
# light tone. Badges pick white or dark text per colour (``text_color_for``).
PALETTE: tuple[str, ...] = (
    "#4e79a7",  # blue
    "#f28e2b",  # orange
    "#e15759",  # red
    "#76b7b2",  # teal
    "#59a14f",  # green
    "#edc948",  # yellow
    "#b07aa1",  # purple
    "#ff9da7",  # pink
    "#9c755f",  # brown
    "#a0cbe8",  # light blue
    "#ffbe7d",  # light orange
    "#8cd17d",  # light green
    "#b6992d",  # olive
    "#499894",  # dark teal
    "#86bcb6",  # light teal
    "#ff9d9a",  # light red
    "#d37295",  # rose
    "#fabfd2",  # light pink
    "#d4a6c8",  # light purple
    "#d7b5a6",  # light brown
)

# For a series that stands for several teams ("Other"); not in the palette on purpose.
OTHER_COLOR = "#bab0ac"

_DARK_TEXT = "#111111"
_LIGHT_TEXT = "#ffffff"


def _home_slot(team: str, size: int) -> int:
    """Where a team's colour lives in the palette unless a neighbour took it first.

    sha256 and not ``hash()``: Python salts ``hash`` of a str per process.
    """
    digest = hashlib.sha256(team.encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") % size


def team_colors(teams: Iterable[str], palette: tuple[str, ...] = PALETTE) -> dict[str, str]:
    """A colour per team, stable across sessions and independent of the order given.

    Each team starts at a slot chosen by a hash of its name; a taken slot moves it to the next
    free one (open addressing, teams visited in name order). Once the palette is full, colours
    repeat. Pass every team the page may show (all teams of the log), not only the filtered
    ones, so that a filter never shifts a colour.

    Parameters
    ----------
    teams : iterable of str
        Team names; repeats are ignored.
    palette : tuple of str
        CSS hex colours to draw from.

    Returns
    -------
    dict of str to str
        Team name -> ``"#rrggbb"``.

    Examples
    --------
    >>> colors = team_colors(["Search", "R&D"])
    >>> colors == team_colors(["R&D", "Search", "R&D"])
    True
    >>> len(set(colors.values()))
    2
    """
    size = len(palette)
    taken: set[int] = set()
    result: dict[str, str] = {}
    for team in sorted(set(teams)):
        slot = _home_slot(team, size)
        if len(taken) < size:
            while slot in taken:
                slot = (slot + 1) % size
            taken.add(slot)
        result[team] = palette[slot]
    return result


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4


def relative_luminance(color: str) -> float:
    """WCAG relative luminance of a ``#rgb`` or ``#rrggbb`` colour (0 black .. 1 white).

    Examples
    --------
    >>> relative_luminance("#ffffff"), relative_luminance("#000")
    (1.0, 0.0)
    """
    hex_digits = color.lstrip("#")
    if len(hex_digits) == 3:
        hex_digits = "".join(d * 2 for d in hex_digits)
    if len(hex_digits) != 6:
        raise ValueError(f"not a hex colour: {color!r}")
    r, g, b = (int(hex_digits[i : i + 2], 16) for i in (0, 2, 4))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast_ratio(first: str, second: str) -> float:
    """WCAG contrast ratio between two hex colours (1 .. 21).

    Examples
    --------
    >>> round(contrast_ratio("#000000", "#ffffff"))
    21
    """
    lighter, darker = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def text_color_for(background: str) -> str:
    """White or near-black, whichever reads better on ``background``.

    Examples
    --------
    >>> text_color_for("#1d4ed8"), text_color_for("#edc948")
    ('#ffffff', '#111111')
    """
    on_light = contrast_ratio(background, _LIGHT_TEXT)
    on_dark = contrast_ratio(background, _DARK_TEXT)
    return _LIGHT_TEXT if on_light >= on_dark else _DARK_TEXT


def _lab(color: str) -> tuple[float, float, float]:
    """CIE L*a*b* (D65) of a hex colour, for telling how far apart two colours look."""
    r, g, b = (_srgb_to_linear(int(color.lstrip("#")[i : i + 2], 16)) for i in (0, 2, 4))
    x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116

    fx, fy, fz = f(x), f(y), f(z)
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


def _srgb_to_linear(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def color_distance(first: str, second: str) -> float:
    """How different two colours look (CIE76 delta E: about 2 is barely visible, 10 clear).

    Examples
    --------
    >>> color_distance("#000000", "#000000"), round(color_distance("#000000", "#ffffff"))
    (0.0, 100)
    """
    return sum((p - q) ** 2 for p, q in zip(_lab(first), _lab(second), strict=True)) ** 0.5


MIN_DISTANCE = 10.0  # series shown side by side must differ at least this much


def distinct_colors(
    shown: list[str], colors: dict[str, str], palette: tuple[str, ...] = PALETTE
) -> dict[str, str]:
    """``colors`` where the teams ``shown`` together (biggest first) look different.

    While every team has a palette colour of its own (at most ``len(palette)`` teams) nothing
    changes: colours stay stable across filters. Beyond that colours repeat, and a shown team
    whose colour repeats (or nearly) one shown before it takes the palette colour farthest from
    those already shown, and from the grey of "Other".

    Examples
    --------
    >>> many = team_colors(f"team {i}" for i in range(100))
    >>> top = [f"team {i}" for i in range(10)]
    >>> len({distinct_colors(top, many)[t] for t in top})
    10
    """
    if len(set(colors.values())) >= len(colors):
        return colors
    result = dict(colors)
    used = [OTHER_COLOR]
    for team in shown:
        color = result.get(team)
        if color is None or min(color_distance(color, u) for u in used) < MIN_DISTANCE:
            free = [c for c in palette if c not in used] or list(palette)
            color = max(free, key=lambda c: min(color_distance(c, u) for u in used))
            result[team] = color
        used.append(color)
    return result
