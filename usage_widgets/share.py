"""A selection as a page link's query string, and back: what "Copy link" gives and a link restores."""

from __future__ import annotations

from urllib.parse import parse_qs, quote, urlencode

from .errors import SelectionError
from .selection import Selection

# Query parameter -> Selection field. Lists repeat their parameter (team=A&team=B).
LISTS = {"key": "api_keys", "tag": "tags", "team": "teams", "model": "models"}
MAX_QUERY = 16_000  # characters; a link longer than any browser keeps is refused, not parsed


def encode(selection: Selection, tz: str | None = None) -> str:
    """The query string (without ``?``) of a selection; defaults are left out.

    Parameters
    ----------
    selection : Selection
    tz : str, optional
        The page's time zone, kept in the link so that it shows the same days.

    Examples
    --------
    >>> encode(Selection(view="team", range="30d", teams=("R&D", "Search")))
    'view=team&range=30d&team=R%26D&team=Search'
    """
    default = Selection()
    pairs: list[tuple[str, str]] = []
    if selection.view != default.view:
        pairs.append(("view", selection.view))
    if selection.range != default.range:
        pairs.append(("range", selection.range))
    for name in ("start", "end"):
        value = getattr(selection, name)
        if value is not None:
            pairs.append((name, value.isoformat()))
    for param, name in LISTS.items():
        pairs += [(param, value) for value in getattr(selection, name)]
    if selection.search:
        pairs.append(("q", selection.search))
    if selection.sort != default.sort:
        pairs.append(("sort", selection.sort))
    if not selection.descending:
        pairs.append(("order", "asc"))
    if selection.anomalies_only:
        pairs.append(("anomalies", "1"))
    if tz:
        pairs.append(("tz", tz))
    return urlencode(pairs, quote_via=quote, safe="")


def decode(query: str) -> tuple[Selection, str | None]:
    """The selection (and time zone, if any) a link's query string asks for.

    Unknown parameters are ignored, so links keep working as the page grows.

    Parameters
    ----------
    query : str
        The part of the URL after ``?`` (a leading ``?`` is allowed).

    Returns
    -------
    (Selection, str or None)

    Raises
    ------
    SelectionError
        When a value cannot be a selection (an unknown view, a date that is not a date), with
        a sentence for the page.

    Examples
    --------
    >>> decode("view=team&range=30d&team=R%26D")
    (Selection(view='team', range='30d', teams=('R&D',)), None)
    """
    if len(query) > MAX_QUERY:
        raise SelectionError("The link is too long to be a page's selection.")
    params = parse_qs(query.removeprefix("?"), keep_blank_values=True, errors="replace")

    def one(name: str) -> str | None:
        values = params.get(name)
        return values[-1] if values else None

    fields: dict[str, object] = {}
    for name in ("view", "range", "start", "end", "sort"):
        value = one(name)
        if value is not None:
            fields[name] = value or None if name in ("start", "end") else value
    for param, name in LISTS.items():
        if param in params:
            fields[name] = tuple(params[param])
    if one("q") is not None:
        fields["search"] = one("q")
    if one("order") is not None:
        fields["descending"] = one("order") != "asc"
    if one("anomalies") is not None:
        fields["anomalies_only"] = one("anomalies") in ("1", "true", "yes")
    try:
        selection = Selection(**fields)  # type: ignore[arg-type]
    except SelectionError as exc:
        raise SelectionError(f"This link's selection cannot be shown: {exc}.") from None
    return selection, one("tz") or None
