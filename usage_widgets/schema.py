"""The request log's canonical schema, and `load_log`, which reads and validates a log into it."""

from __future__ import annotations

import datetime as _dt
import io
import json
import os
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from . import kernel
from .errors import LogError, LogWarning
from .ids import IdSet, id_hashes, string_buffers
from .prices import price_requests

REQUIRED = ("request_id", "timestamp", "user_id", "api_key", "model", "input_tokens", "output_tokens")
OPTIONAL = ("user_name", "user_email", "team", "tags", "cost")
CANONICAL = (
    "request_id", "timestamp", "user_id", "user_name", "user_email", "team", "api_key", "model",
    "tags", "input_tokens", "output_tokens", "cost",
)  # fmt: skip
UNASSIGNED = "Unassigned"
MAX_TAGS = 10
# Far above any real request; keeps every sum exact in float64 and int64.
MAX_TOKENS = 10**12

TAG_PART = r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,62}[A-Za-z0-9])?"
TAG_RE = re.compile(rf"^{TAG_PART}:{TAG_PART}$")
TAGS_DTYPE = pd.ArrowDtype(pa.list_(pa.string()))
ID_DTYPE = pd.StringDtype("pyarrow")

# Lone UTF-16 surrogates cannot be sent to the browser; C0/C1 controls and bidi overrides can
# disguise or reorder what is shown. They are replaced when a log is loaded.
_UNSAFE_RE2 = "[\\x{00}-\\x{08}\\x{0b}-\\x{1f}\\x{7f}-\\x{9f}\\x{202a}-\\x{202e}\\x{2066}-\\x{2069}]"
_UNSAFE_TEXT = re.compile("[\ud800-\udfff]|[\x00-\x08\x0b-\x1f\x7f-\x9f]|[\u202a-\u202e\u2066-\u2069]")

Source = pd.DataFrame | str | os.PathLike


def load_log(source: Source, *, lenient: bool = False) -> pd.DataFrame:
    """Read a request log and return it validated, in the canonical schema.

    Parameters
    ----------
    source : DataFrame or path
        A DataFrame, or a path to a ``.csv``, ``.parquet`` (file or folder) or ``.jsonl`` /
        ``.ndjson`` / ``.json`` (JSON lines) file.
    lenient : bool
        False: the first broken rule raises `LogError`. True: rows that break a rule are set
        aside (`rejected_rows` returns them, with their position and reason), counted in a
        `LogWarning`, and the rest loads.

    Returns
    -------
    DataFrame
        Columns `CANONICAL` first (extra columns kept after them), sorted by time, one row per
        distinct ``request_id``. ``timestamp`` is tz-aware UTC, ``tags`` a list of strings per
        request, ``team`` filled with "Unassigned", ``cost`` filled from the price table where
        missing; ``priced`` is False where a cost is unknown (its ``cost`` is NaN, never 0).

    Raises
    ------
    LogError
        Naming the column, the rule and one offending row.

    Examples
    --------
    >>> log = load_log(pd.DataFrame({
    ...     "request_id": ["r1"], "timestamp": ["2026-01-05T10:00:00Z"], "user_id": ["ada"],
    ...     "api_key": ["k1"], "model": ["gpt-4o"], "input_tokens": [1000], "output_tokens": [0]}))
    >>> log.loc[0, ["team", "cost"]].tolist()
    ['Unassigned', 0.0025]
    """
    frame = _read(source)
    return _Validator(frame, lenient).run()


def _read(source: Source) -> pd.DataFrame:
    if isinstance(source, pd.DataFrame):
        return source.copy(deep=False)
    if not isinstance(source, str | os.PathLike):
        raise LogError("(log)", f"must be a DataFrame or a file path, not {type(source).__name__}")
    path = Path(source)
    if not path.exists():
        raise LogError("(log)", f"file {path.name!r} does not exist")
    suffix = path.suffix.lower()
    if path.is_dir() or suffix in (".parquet", ".pq"):
        try:
            # Columns of few distinct values arrive dictionary-encoded: checked once per value.
            frame = pd.read_parquet(path, dtype_backend="pyarrow", read_dictionary=list(_FEW_VALUES))
        except (ValueError, OSError, pa.ArrowException) as exc:
            raise _unreadable(path.name, exc) from None
        _check_parquet_text(frame, path.name)
        return frame
    if suffix not in TEXT_SUFFIXES:
        raise LogError("(log)", f"unknown file type {suffix!r}: use .csv, .parquet or .jsonl")
    if path.stat().st_size == 0 and suffix in (".csv", ".tsv", ".txt"):
        raise LogError("(log)", f"file {path.name!r} is empty")
    return read_text_log(path.read_bytes(), suffix, path.name)


def _check_parquet_text(frame: pd.DataFrame, name: str) -> None:
    """Parquet readers do not check that text is valid UTF-8; a damaged file can hold bytes
    that fail later, far from here. Checked once, whole, per column."""
    for column in frame.columns:
        dtype = frame[column].dtype
        if isinstance(dtype, pd.ArrowDtype) and (
            pa.types.is_string(dtype.pyarrow_dtype) or pa.types.is_large_string(dtype.pyarrow_dtype)
            or pa.types.is_list(dtype.pyarrow_dtype) or pa.types.is_dictionary(dtype.pyarrow_dtype)
        ):  # fmt: skip
            try:
                pa.array(frame[column]).validate(full=True)
            except pa.ArrowException:
                raise LogError(
                    "(log)", f"file {name!r} cannot be read: column {str(column)!r} holds text that is "
                    "not valid UTF-8 (the file is damaged)",
                ) from None


_FEW_VALUES = ("user_id", "user_name", "user_email", "team", "api_key", "model")
TEXT_SUFFIXES = (".csv", ".tsv", ".txt", ".jsonl", ".ndjson", ".json")


def read_text_log(data: bytes, suffix: str, name: str = "log") -> pd.DataFrame:
    """Parse CSV or JSON-lines bytes (a whole file, or the lines appended to one) as `load_log`
    does, turning every parser complaint into a `LogError`."""
    try:
        if suffix in (".jsonl", ".ndjson", ".json"):
            return _read_json_lines(data, name)
        # The CSV parser ends a field at a NUL byte and drops the rest silently ("a\0b" would be
        # read as "a"): written as the visible escape the loader shows for it anyway.
        data = data.replace(b"\x00", b"\\u0000")
        with warnings.catch_warnings():
            # A row with more fields than the header would otherwise be cut silently.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            return pd.read_csv(
                io.BytesIO(data), sep="\t" if suffix == ".tsv" else ",", dtype=str,
                keep_default_na=False, na_values=[""], index_col=False, on_bad_lines="error",
                # Invalid UTF-8 is kept as lone surrogates, then shown escaped (as in JSON lines):
                # one bad byte does not refuse the whole file.
                encoding="utf-8", encoding_errors="surrogateescape",
            )  # fmt: skip
    except LogError:
        raise
    except (
        ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.ParserWarning,
    ) as exc:  # fmt: skip
        raise _unreadable(name, exc) from None


def _unreadable(name: str, exc: BaseException) -> LogError:
    return LogError("(log)", f"file {name!r} cannot be read: {_first_line(exc)}")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _read_json_lines(data: bytes, name: str) -> pd.DataFrame:
    records = []
    for number, line in enumerate(data.decode("utf-8", errors="surrogateescape").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise LogError(
                "(log)",
                f"line {number} is not valid JSON ({exc.msg} at column {exc.colno}); "
                "the file must hold JSON lines: one request object per line",
            ) from None
        if not isinstance(record, dict):
            raise LogError(
                "(log)", f"line {number} is not a JSON object; the file must hold one request "
                "object per line",
            )  # fmt: skip
        records.append(record)
    if not records:
        raise LogError("(log)", f"file {name!r} holds no requests")
    return pd.DataFrame.from_records(records)


def warn_about_log(
    *,
    duplicates: int = 0,
    first_duplicate: str | None = None,
    unpriced: int = 0,
    unpriced_models: list[str] | None = None,
    stacklevel: int = 2,
) -> None:
    """The `LogWarning`s of a load: repeated request ids counted once; requests of unknown price."""
    if duplicates:
        first = f" (first: {first_duplicate!r})" if first_duplicate is not None else ""
        warnings.warn(f"{duplicates} repeated request_id values counted once{first}", LogWarning,
                      stacklevel=stacklevel + 1)  # fmt: skip
    if unpriced:
        models = ", ".join(map(repr, (unpriced_models or [])[:5]))
        warnings.warn(
            f"{unpriced} requests have no cost and no known price (models: {models}); they are "
            "counted and flagged, their cost is not included in totals",
            LogWarning,
            stacklevel=stacklevel + 1,
        )


def load_part(frame: pd.DataFrame) -> tuple[pd.DataFrame, tuple[np.ndarray, np.ndarray]]:
    """`load_log` (strict) of one part of a log, with its request ids' `id_hashes` (rows in
    the order returned), so a store need not hash them again."""
    validator = _Validator(_read(frame), lenient=False, for_store=True)
    return validator.run(), validator.id_hashes


PART_ROWS = 1 << 18


def parquet_parts(source: Any) -> tuple[int, Iterator[pd.DataFrame]] | None:
    """A single Parquet file of more than `PART_ROWS` requests: how many rows it holds, and its
    parts of at most `PART_ROWS`, each as `load_log` would read the file whole (None for any
    other source). What lets a store load a large log holding only one part of it at a time
    besides its own columns."""
    if not isinstance(source, str | os.PathLike) or Path(source).suffix.lower() not in (".parquet", ".pq"):
        return None
    path = Path(source)
    try:
        file = pq.ParquetFile(path)
        rows, groups = file.metadata.num_rows, file.metadata.num_row_groups
        if rows <= PART_ROWS:
            return None
        # Few distinct values are read dictionary-encoded. So are tags, far quicker to decode,
        # when the row groups are large enough to read one at a time (a part holding two row
        # groups could not join their tags' dictionaries).
        one_group_at_a_time = rows >= groups * PART_ROWS // 4
        paths = [c.path for c in file.schema]
        tags = [p for p in paths if p.split(".")[0] == "tags" and p.count(".") == 2]
        tags = tags[:1] if one_group_at_a_time else []
        file = pq.ParquetFile(path, read_dictionary=[c for c in _FEW_VALUES if c in paths] + tags)
    except (ValueError, OSError, pa.ArrowException):
        return None  # load_log says why

    def parts() -> Iterator[pd.DataFrame]:
        if one_group_at_a_time:
            batches = (b for g in range(groups) for b in file.iter_batches(PART_ROWS, row_groups=[g]))
        else:
            batches = file.iter_batches(batch_size=PART_ROWS)
        try:
            for batch in batches:
                frame = pa.Table.from_batches([batch]).to_pandas(types_mapper=pd.ArrowDtype)
                _check_parquet_text(frame, path.name)
                yield frame
        except (ValueError, OSError, pa.ArrowException) as exc:
            raise _unreadable(path.name, exc) from None

    return file.metadata.num_rows, parts()


def _unsafe_text(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Per value: does it hold a character the text rules repair (`_UNSAFE_RE2`)? A compiled
    scan of the bytes finds the few values that might; the exact check runs on those only."""
    chunks = arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]
    buffers = [string_buffers(c.cast(pa.large_string())) for c in chunks]
    scans = [kernel.may_be_unsafe(offsets, data, kernel.as_words(data)) for offsets, data in buffers]
    maybe = np.concatenate(scans) if scans else np.zeros(0, dtype=bool)
    unsafe = np.zeros(len(arr), dtype=bool)
    if maybe.any():
        candidates = np.flatnonzero(maybe)
        found = pc.match_substring_regex(arr.take(pa.array(candidates)), _UNSAFE_RE2).fill_null(False)
        unsafe[candidates] = found.to_numpy(zero_copy_only=False)
    return pa.array(unsafe)


class _Validator:
    """Checks one rule at a time; strict mode raises on the first, lenient mode collects."""

    def __init__(self, frame: pd.DataFrame, lenient: bool, *, for_store: bool = False) -> None:
        self.frame = frame.reset_index(drop=True)
        self.lenient = lenient
        self.for_store = for_store  # Arrow tags may stay dictionary-encoded (a store reads both)
        self.bad = np.zeros(len(self.frame), dtype=bool)
        self.reasons = pd.Series("", index=self.frame.index, dtype=object)
        self.out: dict[str, Any] = {}
        self.id_hashes: tuple[np.ndarray, np.ndarray] | None = None

    def run(self) -> pd.DataFrame:
        frame = self.frame
        repeated = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
        if repeated:
            raise LogError(repeated[0], f"column names must be unique; repeated: {repeated}")
        missing = [c for c in REQUIRED if c not in frame.columns]
        if missing:
            found = ", ".join(map(str, frame.columns[:20])) or "none"
            others = f" (also missing: {', '.join(missing[1:])})" if len(missing) > 1 else ""
            raise LogError(missing[0], f"required column is missing{others}; columns found: {found}")
        ids = self._text("request_id", required=True, categorical=False)
        self.out["timestamp"] = self._timestamps()
        self.out["user_id"] = self._text("user_id", required=True)
        self.out["api_key"] = self._text("api_key", required=True)
        self.out["model"] = self._text("model", required=True)
        self.out["user_name"] = self._optional_text("user_name", self.out["user_id"])
        self.out["user_email"] = self._optional_text("user_email", "")
        self.out["team"] = self._optional_text("team", UNASSIGNED)
        self.out["input_tokens"] = self._tokens("input_tokens")
        self.out["output_tokens"] = self._tokens("output_tokens")
        self.out["tags"] = self._tags()
        cost = self._cost()
        self.out["request_id"] = ids

        keep = ~self.bad
        rejected = (
            frame.loc[self.bad].assign(
                rejected_row=np.flatnonzero(self.bad), rejected_reason=self.reasons[self.bad]
            )
            if self.bad.any()
            else None
        )
        result = pd.DataFrame({c: self.out[c] for c in CANONICAL if c != "cost"})
        if not keep.all():
            result = result.loc[keep]
        result["cost"] = cost[keep] if not keep.all() else cost
        extra = [c for c in frame.columns if c not in CANONICAL]
        for column in extra:
            result[column] = frame.loc[keep, column]
        result = self._finish(result)
        if rejected is not None:
            counts = rejected["rejected_reason"].value_counts()
            summary = "; ".join(f"{n} × {reason}" for reason, n in counts.items())
            warnings.warn(
                f"{len(rejected)} of {len(frame)} rows set aside (see rejected_rows(log)): {summary}",
                LogWarning,
                stacklevel=3,
            )
        # attrs must hold plain values: pandas compares them when frames are combined.
        result.attrs["rejected"] = [] if rejected is None else rejected.astype(object).to_dict("records")
        return result

    def _finish(self, result: pd.DataFrame) -> pd.DataFrame:
        h1, h2 = id_hashes(pa.array(result["request_id"]))
        dup = ~IdSet().add(h1, h2)  # the first of each stays
        first_repeat = str(result["request_id"][dup].iloc[0]) if dup.any() else None
        warn_about_log(duplicates=int(dup.sum()), first_duplicate=first_repeat, stacklevel=4)
        if dup.any():
            result, h1, h2 = result.loc[~dup], h1[~dup], h2[~dup]
        stamps = result["timestamp"].array.asi8
        if len(stamps) > 1 and (stamps[1:] < stamps[:-1]).any():
            order = np.argsort(stamps, kind="stable")
            result, h1, h2 = result.take(order), h1[order], h2[order]
        elif dup.any() or self.bad.any():
            result = result.copy()  # a selection of rows: own its data before changing it
        result.index = pd.RangeIndex(len(result))
        flagged = (
            ~result["priced"].to_numpy(dtype=bool, na_value=True)
            if "priced" in result and pd.api.types.is_bool_dtype(result["priced"].dtype)
            else np.zeros(len(result), dtype=bool)
        )
        missing_cost = result["cost"].isna().to_numpy() & ~flagged
        if missing_cost.any():
            result.loc[missing_cost, "cost"] = price_requests(
                result["model"].to_numpy(dtype=object)[missing_cost],
                result["input_tokens"].to_numpy()[missing_cost],
                result["output_tokens"].to_numpy()[missing_cost],
                result["timestamp"].array.asi8[missing_cost],
            )
        result["priced"] = result["cost"].notna()
        unknown = ~result["priced"].to_numpy() & ~flagged
        models = sorted(set(result["model"].to_numpy(dtype=object)[unknown])) if unknown.any() else []
        warn_about_log(unpriced=int(unknown.sum()), unpriced_models=models, stacklevel=4)
        if dup.any() or self.bad.any():
            for column in ("user_id", "user_name", "user_email", "team", "api_key", "model"):
                result[column] = result[column].cat.remove_unused_categories()
        self.id_hashes = (h1, h2)  # of the rows kept, in their order: for `load_part`
        result.attrs["duplicates_dropped"] = int(dup.sum())
        result.attrs["first_duplicate"] = first_repeat
        result.attrs["unpriced"], result.attrs["unpriced_models"] = int(unknown.sum()), models
        return result

    # -- rules ---------------------------------------------------------------------------
    def _fail(self, column: str, rule: str, mask: np.ndarray, values: Any) -> None:
        mask = np.asarray(mask, dtype=bool) & ~self.bad
        if not mask.any():
            return
        if not self.lenient:
            row = int(np.flatnonzero(mask)[0])
            value = values.iloc[row] if hasattr(values, "iloc") else values[row]
            if isinstance(value, np.generic):
                value = value.item()
            rid = self.frame["request_id"].iloc[row] if column != "request_id" else None
            raise LogError(
                column, rule, row, value, count=int(mask.sum()),
                request_id=rid if isinstance(rid, str) else None,
            )  # fmt: skip
        self.bad |= mask
        self.reasons[mask] = f"{column}: {rule}"

    def _text(self, column: str, *, required: bool = False, categorical: bool = True) -> pd.Series:
        """The column as text (categorical unless asked otherwise); rules are checked once per
        distinct value, vectorised when the values are all valid text."""
        raw = self.frame[column]
        if not categorical and _is_arrow_text(raw):
            return self._distinct_text(column, raw)
        codes, uniques = _factorize_text(raw)
        if isinstance(uniques, pa.Array):
            if required:
                self._fail(column, "is missing", codes < 0, raw)
                trimmed = pc.utf8_length(pc.utf8_trim_whitespace(uniques)).to_numpy(zero_copy_only=False)
                self._fail(column, "must not be empty", np.isin(codes, np.flatnonzero(trimmed == 0)), raw)
            unsafe = _unsafe_text(uniques).to_numpy(zero_copy_only=False)
            if unsafe.any():
                cleaned = uniques.to_pylist()
                for i in np.flatnonzero(unsafe):
                    cleaned[i] = _repair(cleaned[i])
                uniques = pa.array(cleaned, type=pa.string())
        else:
            not_text = np.array([not isinstance(u, str) for u in uniques], dtype=bool)
            if not_text.any():
                self._fail(column, "must be text", np.isin(codes, np.flatnonzero(not_text)), raw)
            if required:
                self._fail(column, "is missing", codes < 0, raw)
                empty = np.array([isinstance(u, str) and not u.strip() for u in uniques], dtype=bool)
                self._fail(column, "must not be empty", np.isin(codes, np.flatnonzero(empty)), raw)
            uniques = pa.array([_repair(u) if isinstance(u, str) else None for u in uniques], pa.string())
        if not categorical:
            taken = uniques.take(pa.array(np.where(codes < 0, 0, codes), mask=codes < 0)) if len(uniques) \
                else pa.nulls(len(codes), pa.string())
            return pd.Series(taken, dtype=ID_DTYPE, index=raw.index)
        return _categorical(codes, uniques, raw.index)

    def _distinct_text(self, column: str, raw: pd.Series) -> pd.Series:
        """A required text column of mostly distinct values (request ids) held as Arrow text:
        its rules checked on the values themselves, not once per distinct value, and the
        values kept as they are (no copy) unless one needs repairing."""
        arr = pa.array(raw)
        self._fail(column, "is missing", arr.is_null().to_numpy(zero_copy_only=False), raw)
        blank = pc.or_(pc.equal(pc.binary_length(arr), 0), pc.utf8_is_space(arr)).fill_null(False)
        self._fail(column, "must not be empty", blank.to_numpy(zero_copy_only=False), raw)
        unsafe = _unsafe_text(arr)
        if pc.any(unsafe).as_py():
            if isinstance(arr, pa.ChunkedArray):
                arr = arr.combine_chunks()
            repaired = [_repair(v) for v in arr.filter(unsafe).to_pylist()]
            arr = pc.replace_with_mask(arr, unsafe, pa.array(repaired, arr.type))
        return pd.Series(arr, dtype=ID_DTYPE, index=raw.index)

    def _optional_text(self, column: str, fallback: str | pd.Series) -> pd.Series:
        """An optional text column; missing or blank values take the fallback."""
        index = self.frame.index
        values = self._text(column) if column in self.frame else pd.Series(
            pd.Categorical([None] * len(index), categories=pd.Index([], dtype=object)), index=index
        )
        cats = values.cat.categories
        blank = np.array([not c.strip() for c in cats], dtype=bool)
        codes = values.cat.codes.to_numpy()
        use_fallback = (codes < 0) | (blank[codes] if len(cats) else False)
        if not use_fallback.any():
            return values
        filled = values.astype(object).where(~use_fallback, fallback)
        return filled.astype("category")

    def _timestamps(self) -> pd.Series:
        raw = self.frame["timestamp"]
        self._fail("timestamp", "is missing", raw.isna().to_numpy(), raw)
        ns, invalid = _timestamp_ns(raw)
        self._fail("timestamp", "must be a valid date-time (ISO 8601)", invalid & raw.notna().to_numpy(), raw)
        ns = np.where(invalid | raw.isna().to_numpy(), 0, ns)
        return pd.Series(pd.DatetimeIndex(ns.astype("datetime64[ns]"), tz="UTC"), index=raw.index)

    def _tokens(self, column: str) -> pd.Series:
        raw = self.frame[column]
        numbers = _to_number(raw)
        self._fail(column, "must be a number", numbers.isna().to_numpy() & raw.notna().to_numpy(), raw)
        self._fail(column, "is missing", raw.isna().to_numpy(), raw)
        values = numbers.to_numpy(dtype="float64", na_value=np.nan)
        finite = np.isfinite(values)
        self._fail(column, "must be finite", ~finite & ~np.isnan(values), raw)
        whole = finite & (values == np.floor(np.where(finite, values, 0)))
        self._fail(column, "must be a whole number", finite & ~whole, raw)
        self._fail(column, "must be >= 0", whole & (values < 0), raw)
        self._fail(column, f"must be at most {MAX_TOKENS:.0e}", whole & (values > MAX_TOKENS), raw)
        exact = _exact_ints(raw)
        if exact is not None:
            return pd.Series(np.where(whole, exact, 0), index=raw.index, dtype="int64")
        return pd.Series(np.where(whole & (values >= 0), values, 0), index=raw.index).astype("int64")

    def _cost(self) -> pd.Series:
        if "cost" not in self.frame:
            return pd.Series(np.nan, index=self.frame.index)
        raw = self.frame["cost"]
        numbers = _to_number(raw)
        blank = raw.isna().to_numpy()
        if not pd.api.types.is_numeric_dtype(raw.dtype):
            blank |= raw.astype(object).map(lambda v: isinstance(v, str) and not v.strip()).to_numpy(bool)
        self._fail("cost", "must be a number (USD)", numbers.isna().to_numpy() & ~blank, raw)
        values = numbers.to_numpy(dtype="float64", na_value=np.nan)
        self._fail("cost", "must be finite", np.isinf(values), raw)
        self._fail("cost", "must be >= 0", values < 0, raw)
        values = np.where(np.isfinite(values) & (values >= 0), values, np.nan)
        return pd.Series(values, index=raw.index)

    def _tags(self) -> pd.Series:
        n = len(self.frame)
        if "tags" not in self.frame:
            return pd.Series(pa.array([[]] * n, type=pa.list_(pa.string())), dtype=TAGS_DTYPE)
        raw = self.frame["tags"]
        if isinstance(raw.dtype, pd.ArrowDtype) and pa.types.is_list(raw.dtype.pyarrow_dtype):
            return self._arrow_tags(raw)
        parsed = [_parse_tags(v) for v in raw.astype(object)]
        unparseable = np.array([p is None for p in parsed], dtype=bool)
        self._fail("tags", "must be a list of 'key:value' strings", unparseable, raw)
        parsed = [p or [] for p in parsed]
        self._check_tags(parsed, raw)
        clean = [[] if self.bad[i] else list(dict.fromkeys(p)) for i, p in enumerate(parsed)]
        return pd.Series(pa.array(clean, type=pa.list_(pa.string())), dtype=TAGS_DTYPE)

    def _check_tags(self, parsed: list[list[Any]], raw: pd.Series) -> None:
        too_many = np.array([len(p) > MAX_TAGS for p in parsed], dtype=bool)
        self._fail("tags", f"at most {MAX_TAGS} tags per request", too_many, raw)
        verdict: dict[str, bool] = {}

        def bad(tag: Any) -> bool:
            if not isinstance(tag, str):
                return True
            if tag not in verdict:
                verdict[tag] = TAG_RE.match(tag) is None
            return verdict[tag]

        first_bad = [next((t for t in p if bad(t)), None) for p in parsed]
        malformed = np.array([any(bad(t) for t in p) for p in parsed], dtype=bool)
        self._fail("tags", _TAG_RULE, malformed, first_bad)

    def _arrow_tags(self, raw: pd.Series) -> pd.Series:
        """Tags already held as Arrow lists (Parquet): checked once per distinct tag, and kept
        as they are (no copy) unless a row needs mending. Lists of dictionary-encoded text (as
        `parquet_parts` reads them) stay so for a store, and become plain text otherwise."""
        arr = pa.array(raw)
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.chunk(0) if arr.num_chunks == 1 else arr.combine_chunks()
        if arr.type not in (pa.list_(pa.string()), _DICTIONARY_TAGS):
            arr = arr.cast(pa.list_(pa.string()))
        lists = tag_lists(arr)
        distinct, codes, offsets = lists.distinct, lists.codes, lists.offsets
        lengths = np.diff(offsets)
        self._fail("tags", f"at most {MAX_TAGS} tags per request", lengths > MAX_TAGS, raw)
        bad_codes = [i for i, t in enumerate(distinct) if t is None or TAG_RE.match(t) is None]
        hit = (codes < 0) | np.isin(codes, bad_codes)
        if hit.any():
            parent = np.repeat(np.arange(len(lengths)), lengths)
            rows = parent[hit]
            malformed = np.zeros(len(raw), dtype=bool)
            malformed[rows] = True
            first_bad: list[Any] = [None] * len(raw)
            for row, code in zip(rows[::-1], codes[hit][::-1], strict=True):
                first_bad[row] = distinct[code] if code >= 0 else None
            self._fail("tags", _TAG_RULE, malformed, first_bad)
        repeats = kernel.rows_with_repeats(offsets, codes)
        if self.bad.any() or repeats.any():
            lists = arr.to_pylist()
            for row in set(np.flatnonzero(self.bad).tolist()) | set(np.flatnonzero(repeats).tolist()):
                lists[row] = [] if self.bad[row] else list(dict.fromkeys(lists[row] or []))
            arr = pa.array(lists, type=pa.list_(pa.string()))
        if arr.type != pa.list_(pa.string()) and (arr.null_count or not self.for_store):
            arr = arr.cast(pa.list_(pa.string()))
        if arr.null_count:
            arr = pc.if_else(pc.is_null(arr), pa.scalar([], pa.list_(pa.string())), arr)
        return pd.Series(arr, dtype=pd.ArrowDtype(arr.type), index=raw.index)


_DICTIONARY_TAGS = pa.list_(pa.dictionary(pa.int32(), pa.string()))


@dataclass
class TagLists:
    """Each request's tags as places among ``distinct`` (``codes``; request ``i``'s are
    ``codes[offsets[i]:offsets[i + 1]]``, -1 for a missing tag)."""

    distinct: list[str | None]
    codes: np.ndarray
    offsets: np.ndarray


def tag_lists(tags: pa.ListArray) -> TagLists:
    """Arrow lists of tags (plain or dictionary-encoded text; a missing list holds none) as
    `TagLists`."""
    flat = pc.list_flatten(tags)
    if not isinstance(flat, pa.DictionaryArray):
        flat = flat.dictionary_encode()
    elif len(pc.unique(flat.dictionary)) < len(flat.dictionary):  # a dictionary may repeat a text
        flat = flat.dictionary_decode().dictionary_encode()
    codes = flat.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    lengths = pc.list_value_length(tags).fill_null(0).to_numpy(zero_copy_only=False)
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return TagLists(flat.dictionary.to_pylist(), codes, offsets)


_TAG_RULE = (
    "a tag must be key:value, each part 1-64 letters, digits, '-', '_' or '.', "
    "starting and ending with a letter or digit"
)


def _repair(text: str) -> str:
    """Unsafe characters become visible escapes (distinct texts stay distinct)."""
    return _UNSAFE_TEXT.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _is_arrow_text(raw: pd.Series) -> bool:
    dtype = raw.dtype
    if isinstance(dtype, pd.ArrowDtype):
        return pa.types.is_string(dtype.pyarrow_dtype) or pa.types.is_large_string(dtype.pyarrow_dtype)
    return isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow"


def _factorize_text(raw: pd.Series) -> tuple[np.ndarray, pa.Array | list[Any]]:
    """Codes and distinct values of a column, exact even for texts that are not valid Unicode.

    pandas' string hash table merges texts holding lone surrogates, so such texts are repaired
    before they are counted; Arrow refuses them, which is how they are found quickly.
    """
    if isinstance(raw.dtype, pd.CategoricalDtype):
        categories = pd.Series(raw.cat.categories.to_numpy(dtype=object), dtype=object)
        cat_codes, cat_uniques = _factorize_text(categories)
        table = np.append(cat_codes, -1)
        return table[raw.cat.codes.to_numpy()], cat_uniques
    if isinstance(raw.dtype, pd.ArrowDtype) and pa.types.is_dictionary(raw.dtype.pyarrow_dtype):
        # Parquet's dictionary columns: one check per distinct value, codes as they are.
        chunks = pa.chunked_array(pa.array(raw)).unify_dictionaries()
        dictionary = chunks.chunk(0).dictionary if chunks.num_chunks else pa.array([], pa.string())
        if pa.types.is_string(dictionary.type) or pa.types.is_large_string(dictionary.type):
            indices = pa.chunked_array([c.indices for c in chunks.chunks], chunks.type.index_type)
            codes = indices.fill_null(-1).to_numpy().astype(np.int64)
            values = dictionary.cast(pa.string())
            if len(pc.unique(values)) == len(values):
                return codes, values
    if _is_arrow_text(raw):
        encoded = pa.chunked_array(pa.array(raw)).combine_chunks().dictionary_encode()
        codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
        return codes, encoded.dictionary
    values = raw.to_numpy(dtype=object, na_value=None)
    try:
        if pd.api.types.infer_dtype(values, skipna=True) not in ("string", "empty"):
            raise TypeError("not all text")  # bytes, numbers, dicts: counted one by one below
        encoded = pa.array(values, type=pa.string(), from_pandas=True).dictionary_encode()
    except (pa.ArrowException, UnicodeError, TypeError, ValueError):
        pass
    else:
        codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
        return codes, encoded.dictionary
    # Slow path: some values are not text, or not valid Unicode.
    keyed = np.array(
        [
            None if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA
            else _repair(v) if isinstance(v, str)
            else _Opaque(v)
            for v in values
        ],
        dtype=object,
    )  # fmt: skip
    codes, uniques = pd.factorize(keyed, use_na_sentinel=True)
    return codes.astype(np.int64), [u.value if isinstance(u, _Opaque) else u for u in uniques]


class _Opaque:
    """A non-text value, hashable by identity, so dicts and lists can be counted and refused."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return repr(self.value)


_OFFSET_AT_END = r"(?:[Zz]|[+-]\d\d(?::?\d\d)?)$"


def _timestamp_integers(raw: pd.Series) -> tuple[np.ndarray, np.ndarray, str] | None:
    """A date-time column's integers since the epoch (in UTC; naive ones taken as UTC), which
    are missing, and their unit (seconds to nanoseconds); None for other columns. The integers
    are read as such, not through floating point, which would round nanoseconds."""
    if isinstance(raw.dtype, pd.ArrowDtype) and pa.types.is_timestamp(raw.dtype.pyarrow_dtype):
        arr = pa.array(raw)
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        ints = arr.cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False)
        return ints, arr.is_null().to_numpy(zero_copy_only=False), arr.type.unit
    if isinstance(raw.dtype, pd.DatetimeTZDtype):
        return raw.array.asi8, raw.isna().to_numpy(), raw.dtype.unit
    if pd.api.types.is_datetime64_dtype(raw.dtype):
        return raw.array.asi8, raw.isna().to_numpy(), np.datetime_data(raw.dtype)[0]
    return None


def _timestamp_ns(raw: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """UTC nanoseconds of each value, and which values are not valid date-times."""
    n = len(raw)
    stamps = _timestamp_integers(raw)
    if stamps is not None:  # integers in their own unit: scaled to nanoseconds where they fit
        ints, missing, unit = stamps
        factor = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}[unit]
        most = (2**63 - 1) // factor
        ok = ~missing & (ints >= -most) & (ints <= most)
        return np.where(ok, ints, 0) * factor, ~ok
    values = raw.to_numpy(dtype=object, na_value=None)
    ns = np.zeros(n, dtype=np.int64)
    invalid = np.ones(n, dtype=bool)
    is_text = np.array([isinstance(v, str) for v in values], dtype=bool)
    is_time = np.array([isinstance(v, _dt.datetime | np.datetime64) for v in values], dtype=bool)
    if is_text.any():
        texts = pd.Series([_clean_timestamp_text(v) for v in values[is_text]], dtype=object)
        has_offset = texts.str.contains(_OFFSET_AT_END, regex=True, na=False).to_numpy()
        parsed = np.full(len(texts), np.iinfo(np.int64).min, dtype=np.int64)
        for mask, utc in ((has_offset, True), (~has_offset, False)):
            if mask.any():
                stamps = pd.to_datetime(texts[mask], utc=utc, errors="coerce", format="ISO8601")
                if not utc:
                    stamps = stamps.dt.tz_localize("UTC")
                parsed[mask] = stamps.astype("datetime64[ns, UTC]").array.asi8
        ns[is_text] = parsed
        invalid[is_text] = parsed == np.iinfo(np.int64).min
    for i in np.flatnonzero(is_time):
        try:
            stamp = pd.Timestamp(values[i])
            stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
            ns[i], invalid[i] = stamp.value, False
        except (ValueError, OverflowError, pd.errors.OutOfBoundsDatetime):
            pass
    return ns, invalid


def _categorical(codes: np.ndarray, values: pa.Array, index: pd.Index) -> pd.Series:
    """A categorical Series from factorized codes; missing values stay missing."""
    categories = pd.Index(values.to_numpy(zero_copy_only=False), dtype=object)
    valid = values.is_valid().to_numpy(zero_copy_only=False)
    if valid.all() and categories.is_unique:
        table = np.append(np.arange(len(categories)), -1)
        return pd.Series(pd.Categorical.from_codes(table[codes], categories=categories), index=index)
    # Repairs can make two texts equal, and non-text values are missing: recount.
    distinct = pd.Index(categories[valid]).unique()
    position = distinct.get_indexer(categories)
    table = np.append(np.where(valid, position, -1), -1)
    return pd.Series(pd.Categorical.from_codes(table[codes], categories=distinct), index=index)


def _clean_timestamp_text(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        if not value or _UNSAFE_TEXT.search(value):
            return None
    return value


def _to_number(raw: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(raw.dtype):
        return pd.Series(np.nan, index=raw.index)
    if pd.api.types.is_numeric_dtype(raw.dtype):
        return raw.astype("float64")
    values = raw.astype(object).map(lambda v: np.nan if isinstance(v, bool) else v)
    return pd.to_numeric(values, errors="coerce")


def _exact_ints(raw: pd.Series) -> np.ndarray | None:
    """The column as exact int64 when it already is integral (floats would round above 2**53)."""
    if pd.api.types.is_integer_dtype(raw.dtype) and not pd.api.types.is_bool_dtype(raw.dtype):
        return raw.to_numpy(dtype="int64", na_value=0)
    return None


def _parse_tags(value: Any) -> list[Any] | None:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return []
    if isinstance(value, list | tuple | np.ndarray):
        return list(value)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return []
        if text.startswith("["):
            try:
                parsed = json.loads(text)
            except json.JSONDecodeError:
                return None
            return parsed if isinstance(parsed, list) else None
        return [part.strip() for part in re.split(r"[,;|]", text) if part.strip()]
    return None


def rejected_rows(log: pd.DataFrame) -> pd.DataFrame:
    """The rows a lenient `load_log` set aside: the input's values, ``rejected_row`` (position in
    the input) and ``rejected_reason``.

    Examples
    --------
    >>> rejected_rows(pd.DataFrame()).empty
    True
    """
    return pd.DataFrame(log.attrs.get("rejected", []))
