"""Benchmark logs: `demo_log` with 5,000 users and 40 teams over 90 days, scaled to a row count and
cached as Parquet under ``benchmarks/.cache`` (git-ignored)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from usage_widgets import demo_log

CACHE = Path(__file__).parent / ".cache"
NOW = pd.Timestamp("2026-03-31T18:00Z")
USERS, TEAMS, DAYS = 5_000, 40, 90


def log_path(rows: int) -> Path:
    """A Parquet log of about ``rows`` requests, generated once and cached."""
    path = CACHE / f"demo-{rows}.parquet"
    if not path.exists():
        CACHE.mkdir(exist_ok=True)
        table = _scaled(rows)
        tmp = path.with_suffix(".tmp")
        pq.write_table(table, tmp, row_group_size=1 << 20)
        tmp.rename(path)
    return path


def _scaled(rows: int) -> pa.Table:
    """The demo log (about 4.2M requests) thinned, or repeated with jittered times and new ids.

    Repeating keeps the people, teams, keys, tags and the daily and weekly rhythm; each copy's
    requests move by up to half an hour, so copies do not stack on the same instants.
    """
    base = demo_log(0, users=USERS, teams=TEAMS, days=DAYS, now=NOW)
    table = pa.Table.from_pandas(base, preserve_index=False).replace_schema_metadata(None)
    rng = np.random.default_rng(1)
    n = table.num_rows
    if rows <= n:
        keep = np.sort(rng.choice(n, size=rows, replace=False))
        return table.take(pa.array(keep))
    parts = [table]
    copy = 1
    while sum(p.num_rows for p in parts) < rows:
        take = min(n, rows - sum(p.num_rows for p in parts))
        rows_of = np.sort(rng.choice(n, size=take, replace=False))
        part = table.take(pa.array(rows_of))
        ts = part["timestamp"].combine_chunks().cast(pa.int64()).to_numpy()
        jitter = rng.integers(-1_800, 1_800, size=take) * 10**9
        lo = int((NOW - pd.Timedelta(days=DAYS)).value) + 1
        moved = np.clip(ts + jitter, lo, int(NOW.value))
        ids = pc.binary_join_element_wise(part["request_id"], pa.scalar(f"c{copy}", pa.large_string()),
                                          pa.scalar("-", pa.large_string()))
        part = part.set_column(part.schema.get_field_index("request_id"), "request_id", ids)
        stamps = pa.array(moved.view("datetime64[ns]"), type=pa.timestamp("ns", tz="UTC"))
        part = part.set_column(part.schema.get_field_index("timestamp"), "timestamp", stamps)
        parts.append(part)
        copy += 1
    merged = pa.concat_tables(parts, promote_options="permissive").combine_chunks()
    order = pc.sort_indices(merged, sort_keys=[("timestamp", "ascending")])
    return merged.take(order)
