"""The report's compiled code, made ready before the first page.

The kernel (`usage_widgets.kernel`) is compiled by numba at its first call and cached on disk,
next to the package (or in numba's user cache when that folder cannot be written). The first
run on a machine compiles it: about half a minute on a 2-core machine, which the first page
would otherwise spend blank. `warm_up` builds a small store and reports every kind of
selection the page offers, so that each kernel function is compiled (and cached) or read from
the cache. ``python -m usage_widgets.warm`` does it at install (`make`); `usage-widgets serve`
does it before it starts the server.
"""

from __future__ import annotations

import sys
import time
import warnings

import pandas as pd

from . import kernel
from .demo import demo_log
from .errors import LogWarning
from .report import report
from .selection import Selection
from .store import RequestStore

NOW = pd.Timestamp("2026-03-31 18:00", tz="UTC")


def compiled_here() -> int:
    """How many kernel functions this process compiled rather than read from the cache."""
    return sum(sum(f.stats.cache_misses.values()) for f in vars(kernel).values() if hasattr(f, "stats"))


def warm_up() -> int:
    """Compile (or read from the cache) every kernel function a page calls: a small store
    (`demo_log`, 40 users), a report of each kind of selection (views, ranges, filters of each
    kind, a zone), a Live Mode append and the report after it. Returns how many functions
    were compiled."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LogWarning)  # the demo's unpriced requests
        log = demo_log(users=40, days=35, now=NOW)
        later = log["timestamp"] >= NOW - pd.Timedelta(hours=1)
        store = RequestStore.from_log(log[~later])
    key, team, model = store.keys.values[0], store.teams.values[0], store.models.values[0]
    base, tag = Selection(range="30d"), ("env:prod",)
    for selection, tz in (
        (base, "UTC"), (base.replace(view="team"), "UTC"), (base.replace(range="24h"), "Asia/Kolkata"),
        (base.replace(range="custom", start="2026-01-01", end="2026-03-31"), "America/New_York"),
        (base.replace(teams=(team,), models=(model,)), "UTC"), (base.replace(api_keys=(key,)), "UTC"),
        (base.replace(tags=tag, search="a"), "UTC"), (base.replace(view="team", tags=tag), "UTC"),
    ):  # fmt: skip
        report(store, selection, now=NOW, tz=tz)
    store.append(log[later], validated=True)
    report(store, base.replace(range="24h", tags=tag), now=NOW)
    report(store, base, now=NOW)
    return compiled_here()


def main() -> int:
    print("usage-widgets: preparing the report's compiled code (the first time: about half a minute)",
          file=sys.stderr, flush=True)  # fmt: skip
    t = time.perf_counter()
    compiled = warm_up()
    if compiled:
        print(f"usage-widgets: compiled {compiled} kernel functions in {time.perf_counter() - t:.0f} s "
              "(cached for later runs)", file=sys.stderr, flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
