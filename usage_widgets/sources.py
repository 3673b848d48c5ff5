"""Where requests come from: a fixed log, or one that grows and can be asked what is new."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd

from .errors import LogError, LogWarning
from .schema import load_log, read_text_log


@runtime_checkable
class Source(Protocol):
    """A request log the dashboard reads from.

    ``read()`` gives everything there is now; ``read_new()`` what arrived since the previous
    call (possibly requests already seen: the store counts each ``request_id`` once).
    """

    def read(self) -> pd.DataFrame: ...

    def read_new(self) -> pd.DataFrame: ...


class FrameSource:
    """A fixed log: a DataFrame or a file read once. Nothing new ever arrives."""

    validated = True  # what it returns has been through load_log

    def __init__(self, log: pd.DataFrame | str | os.PathLike) -> None:
        self._log = log

    def read(self) -> pd.DataFrame:
        return load_log(self._log)

    def read_new(self) -> pd.DataFrame:
        return _empty()


class FileSource:
    """A log file that grows: rows appended to a CSV / JSON-lines file, or new files in a
    Parquet folder. Only complete lines are read; a half-written last line waits for the next
    call."""

    validated = True  # what it returns has been through load_log

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._offset = 0
        self._header = b""
        self._seen_files: set[str] = set()
        self._stamp: tuple[int, int] | None = None
        self.set_aside = 0  # appended rows refused by the schema, for the page to report

    def read(self) -> pd.DataFrame:
        self._offset, self._seen_files, self._stamp = 0, set(), None
        return self.read_new()

    def read_new(self) -> pd.DataFrame:
        if self.path.is_dir():
            return self._new_parquet_files()
        if self.path.suffix.lower() in (".parquet", ".pq"):
            return self._rewritten_file()
        return self._appended_lines()

    def _rewritten_file(self) -> pd.DataFrame:
        """A single Parquet file cannot be appended to: it is read again when it changes (the
        store counts the requests it already holds once)."""
        stat = self.path.stat()
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp == self._stamp:
            return _empty()
        self._stamp = stamp
        return load_log(self.path)

    def _new_parquet_files(self) -> pd.DataFrame:
        files = sorted(p for p in self.path.glob("*.parquet") if p.name not in self._seen_files)
        frames = [pd.read_parquet(p, dtype_backend="pyarrow") for p in files]
        self._seen_files.update(p.name for p in files)
        return load_log(pd.concat(frames, ignore_index=True)) if frames else _empty()

    def _appended_lines(self) -> pd.DataFrame:
        if not self.path.exists():
            raise LogError("(log)", f"file {self.path.name!r} does not exist")
        size = self.path.stat().st_size
        if size < self._offset:  # the file was replaced or truncated: start over
            self._offset = 0
        first = self._offset == 0
        with self.path.open("rb") as fh:
            fh.seek(self._offset)
            chunk = fh.read(size - self._offset)
        complete = chunk[: chunk.rfind(b"\n") + 1]
        # On the first read the last line counts even without its newline; it is read again
        # once complete (the store counts a request_id once).
        body = chunk if first else complete
        if not body.strip():
            return _empty()
        suffix = self.path.suffix.lower()
        is_csv = suffix not in (".jsonl", ".ndjson", ".json")
        if is_csv and first:
            self._header = body.partition(b"\n")[0]
        elif is_csv:
            body = self._header + b"\n" + body
        frame = read_text_log(body, suffix, self.path.name)
        if first:
            log = load_log(frame)
        else:  # a bad appended row is set aside and counted, the good ones still arrive
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", LogWarning)
                log = load_log(frame, lenient=True)
            self.set_aside += len(log.attrs.get("rejected", []))
        self._offset += len(complete)
        return log


_A_DAY = pd.Timedelta(days=1)


class DemoSource:
    """The demo log, growing in real time: requests "arrive" as the clock passes their time.

    The log is generated once from `demo_log`'s model up to a day ahead of the start (so the
    running anomaly goes on), and served up to the present on every read.
    """

    validated = True  # what it returns has been through load_log

    def __init__(
        self,
        seed: int = 0,
        users: int = 250,
        days: int = 90,
        *,
        clock: Callable[[], pd.Timestamp] | None = None,
        ahead: pd.Timedelta = _A_DAY,
    ) -> None:
        from .demo import demo_log

        self.clock = clock or (lambda: pd.Timestamp.now(tz="UTC"))
        start = self.clock()
        self.made_with = {"seed": seed, "users": users, "days": days, "now": start + ahead}
        self._log = demo_log(**self.made_with)
        self._ts = self._log["timestamp"].array.asi8
        self._served = start.value
        self.anomaly_user_id = self._log.attrs.get("anomaly_user_id")

    @property
    def served_until(self) -> pd.Timestamp:
        """The latest moment whose requests have been handed out."""
        return pd.Timestamp(self._served, tz="UTC")

    def read(self) -> pd.DataFrame:
        return self._log.iloc[: int(np.searchsorted(self._ts, self._served, side="right"))]

    def read_new(self) -> pd.DataFrame:
        now = max(self.clock().value, self._served)
        lo = int(np.searchsorted(self._ts, self._served, side="right"))
        hi = int(np.searchsorted(self._ts, now, side="right"))
        self._served = now
        return self._log.iloc[lo:hi]


class CallableSource:
    """Adapts two functions (``read()``, ``read_new()``) to a `Source`; handy in tests."""

    def __init__(self, read: Callable[[], pd.DataFrame], read_new: Callable[[], pd.DataFrame]) -> None:
        self.read, self.read_new = read, read_new  # type: ignore[method-assign]


def _empty() -> pd.DataFrame:
    return load_log(
        pd.DataFrame(columns=["request_id", "timestamp", "user_id", "api_key", "model",
                              "input_tokens", "output_tokens"])
    )
