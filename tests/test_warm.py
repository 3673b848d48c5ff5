"""The report's compiled code is made at install and when the server starts, not at the first
page: after `usage_widgets.warm.warm_up` with an empty cache, a whole dashboard session (every
view, range, filter, a zone, a custom range, Live Mode) compiles nothing more."""

from __future__ import annotations

import json
import os
import subprocess
import sys

SESSION = """
import datetime as dt, json, warnings
warnings.simplefilter("ignore")
import usage_widgets as uw
from usage_widgets.warm import compiled_here, warm_up

at_warm_up = warm_up()
log = uw.demo_log(users=60, days=40)
dash = uw.UsageDashboard(log.iloc[:-500])
state = dash.state
for change in (
    {"view": "team"}, {"range": "24h"}, {"range": "14d", "tz": "Asia/Kathmandu"}, {"tags": ("env:prod",)},
    {"api_keys": (dash.store.keys.values[1],)}, {"teams": (dash.store.teams.values[2],)},
    {"models": (dash.store.models.values[0],)}, {"search": "a", "view": "user"},
    {"range": "custom", "start": dt.date(2026, 1, 1), "end": dt.date(2026, 1, 2)},
):
    for name, value in change.items():
        setattr(state, name, value)
dash.clear_filters()
state.range = "7d"
dash.store.append(log.iloc[-500:])
dash.refresh()
state.tags = ("env:prod",)
counts = {"at_warm_up": at_warm_up, "after_session": compiled_here()}
print(json.dumps({**counts, "requests": dash.report.kpis["requests"]}))
"""


def test_a_session_after_the_warm_up_compiles_nothing(tmp_path) -> None:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}  # an empty cache: the first run on a machine
    done = subprocess.run(
        [sys.executable, "-c", SESSION], env=env, capture_output=True, text=True, timeout=280, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    counts = json.loads(done.stdout.strip().splitlines()[-1])
    assert counts["at_warm_up"] > 10  # it did compile, into the empty cache
    assert counts["after_session"] == counts["at_warm_up"]
    assert counts["requests"] > 0
    assert any(tmp_path.rglob("*.nbi"))  # and cached it for the next process
