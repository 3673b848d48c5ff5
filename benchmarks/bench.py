"""`make bench`: the page's costs at 1 and 10 million requests, each against its target.

Usage: python -m benchmarks.bench [--sizes 1000000 10000000] [--repeat 7]

Each size runs in its own process, so its peak memory (RSS) is its own; the log is generated
once and cached as Parquet in benchmarks/.cache. Start-up is measured in processes of its own
too: once with an empty compiled-code cache (the first run on a machine), once with the
package's cache filled (every run after). Figures are medians of repeated runs (wall
clock; our report() also with the process CPU time it used, which moves less when other work
shares the machine).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.data import NOW, log_path

TZ_DEFAULT = "UTC"


def selections() -> list[tuple[str, Any, str]]:
    from usage_widgets import Selection

    base = Selection(range="30d")
    start = (NOW - pd.Timedelta(days=89)).date()
    return [
        ("30d, user view", base, "UTC"),
        ("30d, team view (toggle)", base.replace(view="team"), "UTC"),
        ("24h", base.replace(range="24h"), "UTC"),
        ("7d", base.replace(range="7d"), "UTC"),
        ("90 days (custom)", base.replace(range="custom", start=start, end=NOW.date()), "UTC"),
        ("30d, one team", base.replace(teams=("Search",)), "UTC"),
        ("30d, one tag", base.replace(tags=("env:prod",)), "UTC"),
        ("30d, two tags, two keys", base.replace(tags=("env:prod", "app:experiments")), "UTC"),
        ("30d, one API key", None, "UTC"),  # filled in with a real key
        ("30d, two models", base.replace(models=("gpt-4o", "claude-sonnet-4-0")), "UTC"),
        ("30d, search 'an'", base.replace(search="an"), "UTC"),
        ("30d, America/New_York", base, "America/New_York"),
        ("30d, Asia/Kolkata", base, "Asia/Kolkata"),
    ]


def timed(fn, repeat: int, cpu: list[float] | None = None) -> tuple[float, Any]:
    """Median wall time of ``repeat`` runs (and, into ``cpu``, the median process CPU time)."""
    times, cpus, out = [], [], None
    for _ in range(repeat):
        c, t = time.process_time(), time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    if cpu is not None:
        cpu.append(float(np.median(cpus)))
    return float(np.median(times)), out


def start_up() -> dict[str, float]:
    """What a process waits for before its first page: importing the package, then
    `usage_widgets.warm.warm_up` (a small store, a report of each kind of selection and a Live
    Mode append), which compiles each kernel function the cache does not hold."""
    t = time.perf_counter()
    from usage_widgets.warm import warm_up

    compiled = warm_up()
    return {"seconds": time.perf_counter() - t, "compiled": compiled}


def measure_start_up() -> dict[str, float]:
    """`start_up` with an empty cache, then with the package's (filled first, if stale)."""

    def run(env: dict[str, str]) -> dict[str, float]:
        proc = subprocess.run(
            [sys.executable, "-m", "benchmarks.bench", "--start-up"],
            capture_output=True, text=True, check=False, env={**os.environ, **env},
        )  # fmt: skip
        if proc.returncode:
            sys.exit(f"start-up benchmark failed:\n{proc.stderr[-3000:]}")
        return json.loads(proc.stdout.strip().splitlines()[-1])

    with tempfile.TemporaryDirectory() as empty:
        compiled = run({"NUMBA_CACHE_DIR": empty})
    run({})  # fills the package's cache when the kernel has changed since it was written
    return {"compiled": compiled["seconds"], "cached": run({})["seconds"]}


def peak_rss_gb() -> float:
    """This process's peak resident memory. Linux's ``VmHWM`` (kB), not ``getrusage``'s
    ``ru_maxrss``, which a process started by another keeps from its parent's memory at the
    fork (the parent's, after it generated a log, made a 10M run read 3.96 GB for 2.0)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1e6
    except OSError:  # no /proc (macOS): ru_maxrss, in bytes there
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1e9 if sys.platform == "darwin" else 1e6)


def measure(rows: int, repeat: int) -> dict[str, Any]:
    """Everything for one log size, in this process."""
    from usage_widgets import RequestStore, report
    from usage_widgets.warm import compiled_here

    out: dict[str, Any] = {"rows": rows}
    path = log_path(rows)
    t = time.perf_counter()
    store = RequestStore.from_log(path)
    out["load"] = time.perf_counter() - t
    out["rows"] = len(store)
    sels = selections()
    key = sorted(store.keys.values)[len(store.keys.values) // 2]
    sels = [(n, s if s is not None else sels[0][1].replace(api_keys=(key,)), tz) for n, s, tz in sels]
    t = time.perf_counter()
    report(store, sels[0][1], now=NOW, tz="UTC")
    report(store, sels[1][1], now=NOW, tz="UTC")
    out["first_call"] = time.perf_counter() - t
    out["kernel_cached"] = not compiled_here()
    ours, reports, cpu = {}, {}, {}
    for name, sel, tz in sels:
        spent: list[float] = []
        ours[name], reports[name] = timed(lambda s=sel, z=tz: report(store, s, now=NOW, tz=z), repeat, spent)
        cpu[name] = spent[0]
    out["ours"], out["ours_cpu"] = ours, cpu
    out["parts"] = report_parts(store, sels[0][1], repeat)
    out["tick"] = live_tick(store, path, repeat)
    out["dashboard"] = dashboard_refresh(store, sels, repeat)
    out["peak_rss"] = peak_rss_gb()  # before any other engine is loaded
    from benchmarks.alternatives import ENGINES, Ask, check

    out["engines"] = {}
    alt_repeat = max(1, repeat // 2) if rows < 5_000_000 else 1  # they take seconds a run
    for engine_cls in ENGINES:
        engine = engine_cls()
        t = time.perf_counter()
        engine.prepare(str(path))
        prep = time.perf_counter() - t
        results = {}
        for name, sel, tz in sels:
            ask = Ask.of(sel, NOW, tz)
            median, same = float("nan"), "same"
            try:
                median, answer = timed(lambda a=ask, e=engine: e.run(a), alt_repeat)
                check(reports[name], answer)
            except Exception as exc:  # an engine's failure or a difference: shown in the table
                same = f"DIFFERS: {type(exc).__name__}: {exc}"
            results[name] = (median, same)
        out["engines"][engine.name] = {"prepare": prep, "results": results}
    return out


def report_parts(store, sel, repeat: int) -> dict[str, float]:
    """Where a report() of ``sel`` (UTC) spends its time: the one compiled pass over the window
    (buckets, models, cost by model and the anomaly rule's rolling days together), the lean
    pass over the previous period, and the rest (rows, lists, flags, sort) in Python."""
    import importlib

    from usage_widgets import report
    from usage_widgets.timewindow import window_for

    module = importlib.import_module("usage_widgets.report")
    window = window_for(sel, NOW, "UTC")

    def main_pass():
        module._Pass.over(store, sel, window).view(store, team_view=False)

    whole = timed(lambda: report(store, sel, now=NOW, tz="UTC"), repeat)[0]
    compiled = timed(main_pass, repeat)[0]
    filters = module._filters(store, sel)
    previous = timed(lambda: module._previous(store, sel, window, filters), repeat)[0]
    return {
        "the compiled pass (window and anomaly periods)": compiled,
        "previous-period totals (a lean pass)": previous,
        "the rest: rows, lists, flags, sort (Python)": max(whole - compiled - previous, 0.0),
    }


def live_tick(store, path: Path, repeat: int) -> dict[str, float]:
    """Append 10,000 new requests (already validated, as a live source hands them) + report."""
    import pyarrow.parquet as pq

    from usage_widgets import Selection, load_log, report

    last = pq.ParquetFile(path)
    group = last.read_row_group(last.num_row_groups - 1)
    tail = group.slice(max(group.num_rows - 10_000 * repeat, 0)).to_pandas()
    recent = load_log(tail.reset_index(drop=True))
    appends, reports = [], []
    base = store.watermark
    for i in range(repeat):
        batch = recent.iloc[i * 10_000 : (i + 1) * 10_000].copy()
        shift = base - batch["timestamp"].iloc[0] + pd.Timedelta(seconds=1)
        batch["timestamp"] = batch["timestamp"] + shift
        batch["request_id"] = batch["request_id"].astype(str) + f"-live{i}"
        batch = load_log(batch)
        base = batch["timestamp"].iloc[-1]
        now = base + pd.Timedelta(seconds=1)
        t = time.perf_counter()
        store.append(batch, validated=True)
        appends.append(time.perf_counter() - t)
        t = time.perf_counter()
        report(store, Selection(range="30d"), now=now)
        reports.append(time.perf_counter() - t)
    return {"append": float(np.median(appends)), "report": float(np.median(reports))}


def dashboard_refresh(store, sels, repeat: int) -> dict[str, float]:
    """The page's whole refresh in the kernel (report + widget updates) and bytes it sends."""
    import ipywidgets

    from usage_widgets import UsageDashboard

    sent = [0]
    original = ipywidgets.Widget._send

    def counting(self, msg, buffers=None):
        raw = sum(len(memoryview(b).cast("B")) for b in buffers or ())
        sent[0] += len(json.dumps(msg, default=str)) + raw
        return original(self, msg, buffers)

    ipywidgets.Widget._send = counting
    # comm messages are only sent with a kernel: give every widget's comm one
    from comm.base_comm import BaseComm

    BaseComm.kernel = True  # type: ignore[assignment]
    BaseComm.send = lambda self, *a, **k: None  # type: ignore[method-assign]
    try:
        dash = UsageDashboard(store, now=NOW)
        times, sizes = [], []
        cycle = [sels[0][1], sels[1][1], sels[5][1], sels[3][1]]
        for i in range(max(repeat, 4)):
            sent[0] = 0
            t = time.perf_counter()
            dash.selection = cycle[i % len(cycle)]
            times.append(time.perf_counter() - t)
            sizes.append(sent[0])
        dash.close()
    finally:
        ipywidgets.Widget._send = original
        del BaseComm.kernel
    users = len(store.users.ids)
    return {"refresh": float(np.median(times)), "bytes": float(np.median(sizes)), "users": users}


# -- the table ---------------------------------------------------------------------------------
def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms"


def verdict(value: float, target: float) -> str:
    if value <= target:
        return "ok"
    ratio = value / target
    return f"MISSED by {ratio - 1:.0%}" if ratio < 1.1 else f"MISSED by {ratio:.1f}x"


def print_table(results: list[dict[str, Any]], start: dict[str, float]) -> None:
    big = results[-1]
    print(f"\n## usage-widgets benchmark ({time.strftime('%Y-%m-%d %H:%M')}, "
          f"{sys.platform}, shared 2-core machine: figures move between runs)\n")  # fmt: skip
    sizes = " | ".join(f"{r['rows'] / 1e6:.1f}M requests" for r in results)
    print(f"| figure | {sizes} | target at {big['rows'] / 1e6:.0f}M |")
    print("|---|" + "---|" * len(results) + "---|")

    def row(label: str, values: list[str], target: str) -> None:
        print(f"| {label} | {' | '.join(values)} | {target} |")

    row("load + prep from Parquet (tags incl.)", [f"{r['load']:.1f} s" for r in results],
        f"<= 10 s: {verdict(big['load'], 10)}")  # fmt: skip
    row("peak memory (RSS) after load and reports", [f"{r['peak_rss']:.2f} GB" for r in results],
        f"<= 2 GB: {verdict(big['peak_rss'], 2)}")  # fmt: skip
    row("start-up, first run on a machine (kernel compiled, then cached)",
        [f"{start['compiled']:.1f} s"] * len(results), "")  # fmt: skip
    row("start-up, every run after (kernel cached)", [f"{start['cached']:.1f} s"] * len(results), "")
    row("first two report() calls (kernel " + ("cached" if big["kernel_cached"] else "compiled") + ")",
        [ms(r["first_call"]) for r in results], "")  # fmt: skip
    for name in big["ours"]:
        target = 50 if name.startswith("90") else 20
        row(f"report(): {name}", [f"{ms(r['ours'][name])} (CPU {ms(r['ours_cpu'][name])})" for r in results],
            f"<= {target} ms: {verdict(big['ours'][name] * 1000, target)}")  # fmt: skip
    for name in big["parts"]:
        row(f"of which (30d, user view): {name}", [ms(r["parts"][name]) for r in results], "")
    for engine, res in big["engines"].items():
        need = {"pandas": 20, "Polars": 5}.get(engine)
        for name in big["ours"]:
            values = []
            for r in results:
                theirs, same = r["engines"][engine]["results"][name]
                values.append(f"{ms(theirs)} ({theirs / r['ours'][name]:.0f}x ours, {same})")
            ratio = res["results"][name][0] / big["ours"][name]
            target = f">= {need}x: {'ok' if ratio >= need else f'MISSED ({ratio:.0f}x)'}" if need else ""
            row(f"{engine}: {name}", values, target)
    row("live tick: append 10,000 requests", [ms(r["tick"]["append"]) for r in results],
        f"<= 5 ms: {verdict(big['tick']['append'] * 1000, 5)}")  # fmt: skip
    row("live tick: report() after it (30d)", [ms(r["tick"]["report"]) for r in results], "")
    row(f"dashboard refresh ({big['dashboard']['users']:,} users)",
        [ms(r["dashboard"]["refresh"]) for r in results],
        f"<= 150 ms: {verdict(big['dashboard']['refresh'] * 1000, 150)}")  # fmt: skip
    row("bytes sent to the browser per refresh",
        [f"{r['dashboard']['bytes'] / 1e3:,.0f} kB" for r in results], "")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # run one size, print JSON
    parser.add_argument("--start-up", action="store_true", help=argparse.SUPPRESS)  # print JSON
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, args.repeat)))
        return
    if args.start_up:
        print(json.dumps(start_up()))
        return
    t = time.perf_counter()
    start = measure_start_up()
    print(f"start-up measured in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    results = []
    for rows in args.sizes:
        log_path(rows)  # generated outside the measured process
        t = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "benchmarks.bench", "--one", str(rows), "--repeat", str(args.repeat)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if proc.returncode:
            sys.exit(f"benchmark at {rows:,} rows failed:\n{proc.stderr[-3000:]}")
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        print(f"{rows:,} requests measured in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    print_table(results, start)


if __name__ == "__main__":
    main()
