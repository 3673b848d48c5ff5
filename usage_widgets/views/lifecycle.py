"""Closing a view for good: the view and every widget it is made of, not only the outer box."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

from ipywidgets import Widget


def _widgets_in(value: Any) -> Iterator[Widget]:
    if isinstance(value, Widget):
        yield value
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _widgets_in(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _widgets_in(item)


def parts(root: Widget) -> list[Widget]:
    """Every widget reachable from ``root`` through its traits (children, marks, renderers...).

    Examples
    --------
    >>> import ipywidgets as w
    >>> label = w.Label("x")
    >>> box = w.VBox([label])
    >>> label in parts(box) and box.layout in parts(box)
    True
    """
    seen: dict[int, Widget] = {}
    todo = [root]
    while todo:
        widget = todo.pop()
        if id(widget) in seen:
            continue
        seen[id(widget)] = widget
        for name in widget.trait_names():
            if name.startswith("_"):
                continue
            todo.extend(_widgets_in(getattr(widget, name, None)))
    return list(seen.values())


def close_parts(root: Widget) -> None:
    """Close every widget reachable from ``root`` except ``root`` itself."""
    if sys.is_finalizing():  # widgets closing themselves as the interpreter exits
        return
    for widget in parts(root):
        if widget is not root:
            widget.close()
