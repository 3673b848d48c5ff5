"""The errors and warnings the package raises, in one place so callers can catch them."""

from __future__ import annotations

from typing import Any


class LogError(ValueError):
    """A request log that breaks a rule of the schema.

    The message names the column, the rule and one offending row, so the person who exported the
    log can find and fix it.

    Attributes
    ----------
    column : str
        The column that breaks the rule.
    rule : str
        The rule, in words ("must be an integer >= 0").
    row : int or None
        Position (0-based) of an offending row in the input, or None when the rule is about the
        whole column (a missing column).
    value : object
        The offending value, when there is one.
    """

    def __init__(
        self,
        column: str,
        rule: str,
        row: int | None = None,
        value: Any = None,
        *,
        count: int = 1,
        request_id: str | None = None,
    ) -> None:
        self.column = column
        self.rule = rule
        self.row = row
        self.value = value
        self.count = count
        where = ""
        if row is not None:
            ident = f", request_id {request_id!r}" if request_id is not None else ""
            shown = _short_repr(value)
            others = f" ({count - 1} more rows break it too)" if count > 1 else ""
            where = f"; row {row}{ident} has {shown}{others}"
        super().__init__(f"column {column!r}: {rule}{where}")


class SelectionError(ValueError):
    """A filter selection that cannot be answered, such as a custom range whose start is after
    its end. The message is written for the person using the dashboard."""


class LogWarning(UserWarning):
    """Something in a log was handled rather than refused: repeated request ids counted once,
    bad rows set aside in lenient mode, requests whose price is unknown."""


def _short_repr(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
