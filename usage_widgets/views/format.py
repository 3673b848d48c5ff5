"""Number and money formatting for display: compact text for the eye, exact text for hover."""

from __future__ import annotations

import math
from numbers import Real

DASH = "—"

# Ascending, so the first unit whose rounded value stays below 1000 wins.
_UNITS: tuple[tuple[float, str], ...] = ((1.0, ""), (1e3, "K"), (1e6, "M"), (1e9, "B"), (1e12, "T"))


def _missing(value: object) -> bool:
    if value is None:
        return True
    return isinstance(value, Real) and math.isnan(float(value))


def _trim(text: str) -> str:
    """Drop a useless trailing ``.0`` (``"2.0"`` -> ``"2"``)."""
    return text[:-2] if text.endswith(".0") else text


def _small(magnitude: float) -> str:
    """A magnitude below 1000, with at most one decimal (two significant digits when below 0.1)."""
    if magnitude == int(magnitude):
        return str(int(magnitude))
    if magnitude < 0.095:
        return f"{magnitude:.2g}"
    return _trim(f"{magnitude:.1f}")


def _compact_magnitude(magnitude: float) -> str:
    for unit, suffix in _UNITS:
        scaled = round(magnitude / unit, 1)
        if scaled < 1000 or suffix == "T":
            if not suffix:
                return _small(magnitude)
            if scaled >= 1000:  # beyond 10**15: keep T, group the digits
                return f"{scaled:,.0f}T"
            return _trim(f"{scaled:.1f}") + suffix
    raise AssertionError("unreachable")  # pragma: no cover


def compact(value: float | None) -> str:
    """Short form of a count for a card or an axis.

    Parameters
    ----------
    value : float or None
        The number; None or NaN means unknown.

    Returns
    -------
    str
        ``"12.3K"``, ``"1.2M"``, ``"3.4B"``, ``"1.2T"``; plain below 1000; ``"—"`` when unknown.

    Examples
    --------
    >>> compact(12345), compact(999), compact(1000), compact(None)
    ('12.3K', '999', '1K', '—')
    """
    if _missing(value):
        return DASH
    number = float(value)  # type: ignore[arg-type]
    sign = "-" if number < 0 else ""
    return sign + _compact_magnitude(abs(number))


def exact(value: float | None) -> str:
    """Exact form of a count for hover text: thousands separators, at most two decimals.

    Examples
    --------
    >>> exact(1234567), exact(12.345), exact(None)
    ('1,234,567', '12.35', '—')
    """
    if _missing(value):
        return DASH
    number = float(value)  # type: ignore[arg-type]
    if number == int(number):
        return f"{int(number):,}"
    return f"{number:,.2f}"


def compact_usd(value: float | None) -> str:
    """Short form of an amount in US dollars.

    Parameters
    ----------
    value : float or None
        Dollars; None or NaN means unknown.

    Returns
    -------
    str
        ``"$3.4K"`` from 1000 up, cents below (``"$0.42"``), ``"<$0.01"`` for a positive amount
        under a cent, ``"$0.00"`` for zero, ``"—"`` when unknown.

    Examples
    --------
    >>> compact_usd(3412.5), compact_usd(0.42), compact_usd(0.0031), compact_usd(1.5e9)
    ('$3.4K', '$0.42', '<$0.01', '$1.5B')
    """
    if _missing(value):
        return DASH
    number = float(value)  # type: ignore[arg-type]
    sign = "-" if number < 0 else ""
    magnitude = abs(number)
    if 0 < magnitude < 0.005:
        return f"{sign}<$0.01"
    if round(magnitude, 2) < 1000:
        return f"{sign}${magnitude:.2f}"
    return f"{sign}${_compact_magnitude(magnitude)}"


def exact_usd(value: float | None) -> str:
    """Exact form of an amount in US dollars for hover text.

    Cents with thousands separators; an amount under a cent keeps two significant digits.

    Examples
    --------
    >>> exact_usd(3412.5), exact_usd(0.0031), exact_usd(0), exact_usd(None)
    ('$3,412.50', '$0.0031', '$0.00', '—')
    """
    if _missing(value):
        return DASH
    number = float(value)  # type: ignore[arg-type]
    sign = "-" if number < 0 else ""
    magnitude = abs(number)
    if 0 < magnitude < 0.005:
        decimals = 1 - math.floor(math.log10(magnitude))
        return f"{sign}${magnitude:.{decimals}f}".rstrip("0")
    return f"{sign}${magnitude:,.2f}"


def plural(count: int, noun: str) -> str:
    """``"1 request"``, ``"2 requests"``, with the count's thousands separated.

    Examples
    --------
    >>> plural(1, "request"), plural(1200, "request")
    ('1 request', '1,200 requests')
    """
    return f"{count:,} {noun}{'' if count == 1 else 's'}"
