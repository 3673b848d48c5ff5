"""The request log's canonical schema, and `load_log`, which reads and validates a log into it."""

from __future__ import annotations

import json
import os
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from .errors import LogError, LogWarning
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
        aside (`rejected_rows` returns them, with their ``row`` and ``reason``), counted in a
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
    try:
        if path.is_dir() or suffix in (".parquet", ".pq"):
            return pd.read_parquet(path, dtype_backend="pyarrow")
        if suffix in (".csv", ".tsv", ".txt"):
            if path.stat().st_size == 0:
                raise LogError("(log)", f"file {path.name!r} is empty")
            sep = "\t" if suffix == ".tsv" else ","
            return pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, na_values=[""])
        if suffix in (".jsonl", ".ndjson", ".json"):
            return _read_json_lines(path)
    except LogError:
        raise
    except (ValueError, OSError, pa.ArrowException, UnicodeDecodeError) as exc:
        raise LogError("(log)", f"file {path.name!r} cannot be read: {exc}") from None
    raise LogError("(log)", f"unknown file type {suffix!r}: use .csv, .parquet or .jsonl")


def _read_json_lines(path: Path) -> pd.DataFrame:
    records = []
    with path.open(encoding="utf-8", errors="surrogateescape") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise LogError("(log)", f"line {number} is not valid JSON ({exc.msg})") from None
            if not isinstance(record, dict):
                raise LogError("(log)", f"line {number} is not a JSON object")
            records.append(record)
    if not records:
        raise LogError("(log)", f"file {path.name!r} holds no requests")
    return pd.DataFrame.from_records(records)


class _Validator:
    """Checks one rule at a time; strict mode raises on the first, lenient mode collects."""

    def __init__(self, frame: pd.DataFrame, lenient: bool) -> None:
        self.frame = frame.reset_index(drop=True)
        self.lenient = lenient
        self.bad = np.zeros(len(self.frame), dtype=bool)
        self.reasons = pd.Series("", index=self.frame.index, dtype=object)
        self.out: dict[str, Any] = {}

    def run(self) -> pd.DataFrame:
        frame = self.frame
        missing = [c for c in REQUIRED if c not in frame.columns]
        if missing:
            raise LogError(missing[0], "required column is missing")
        ids = self._text("request_id", required=True)
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
        rejected = frame.loc[self.bad].assign(row=np.flatnonzero(self.bad), reason=self.reasons[self.bad])
        result = pd.DataFrame({c: self.out[c] for c in CANONICAL if c != "cost"}).loc[keep]
        result["cost"] = cost[keep]
        extra = [c for c in frame.columns if c not in CANONICAL and c not in ("row", "reason")]
        for column in extra:
            result[column] = frame.loc[keep, column]
        result = self._finish(result)
        if len(rejected):
            warnings.warn(
                f"{len(rejected)} of {len(frame)} rows set aside (see rejected_rows(log)): "
                f"{rejected['reason'].iloc[0]}",
                LogWarning,
                stacklevel=3,
            )
        # attrs must hold plain values: pandas compares them when frames are combined.
        result.attrs["rejected"] = rejected.astype(object).to_dict("records")
        return result

    def _finish(self, result: pd.DataFrame) -> pd.DataFrame:
        dup = result["request_id"].duplicated(keep="first").to_numpy()
        if dup.any():
            warnings.warn(
                f"{int(dup.sum())} repeated request_id values counted once "
                f"(first: {result['request_id'][dup].iloc[0]!r})",
                LogWarning,
                stacklevel=4,
            )
            result = result.loc[~dup]
        result = result.sort_values("timestamp", kind="stable").reset_index(drop=True)
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
            )
        result["priced"] = result["cost"].notna()
        unknown = ~result["priced"].to_numpy() & ~flagged
        if unknown.any():
            models = sorted(set(result["model"].to_numpy(dtype=object)[unknown]))
            warnings.warn(
                f"{int(unknown.sum())} requests have no cost and no known price "
                f"(models: {', '.join(map(repr, models[:5]))}); they are counted and flagged, "
                "their cost is not included in totals",
                LogWarning,
                stacklevel=4,
            )
        for column in ("user_id", "user_name", "user_email", "team", "api_key", "model"):
            result[column] = result[column].cat.remove_unused_categories()
        result["request_id"] = result["request_id"].astype(object).astype(ID_DTYPE)
        result.attrs["duplicates_dropped"] = int(dup.sum())
        return result

    # -- rules ---------------------------------------------------------------------------
    def _fail(self, column: str, rule: str, mask: np.ndarray, values: Any) -> None:
        mask = np.asarray(mask, dtype=bool) & ~self.bad
        if not mask.any():
            return
        if not self.lenient:
            row = int(np.flatnonzero(mask)[0])
            value = values.iloc[row] if hasattr(values, "iloc") else values[row]
            rid = self.frame["request_id"].iloc[row] if column != "request_id" else None
            raise LogError(
                column, rule, row, value, count=int(mask.sum()),
                request_id=rid if isinstance(rid, str) else None,
            )  # fmt: skip
        self.bad |= mask
        self.reasons[mask] = f"{column}: {rule}"

    def _text(self, column: str, *, required: bool = False) -> pd.Series:
        """The column as categorical text; rules are checked once per distinct value."""
        raw = self.frame[column]
        codes, uniques = pd.factorize(raw.astype(object), use_na_sentinel=True)
        uniques = np.asarray(uniques, dtype=object)
        not_text = np.array([not isinstance(u, str) for u in uniques], dtype=bool)
        if not_text.any():
            self._fail(column, "must be text", np.isin(codes, np.flatnonzero(not_text)), raw)
        if required:
            empty = np.array([not isinstance(u, str) or not u.strip() for u in uniques], dtype=bool)
            missing = (codes < 0) | np.isin(codes, np.flatnonzero(empty))
            self._fail(column, "must not be empty", missing, raw)
        cleaned = [_UNSAFE_TEXT.sub("\ufffd", u) if isinstance(u, str) else None for u in uniques]
        return _categorical(codes, cleaned, raw.index)

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
        if isinstance(raw.dtype, pd.DatetimeTZDtype):
            ts = raw.dt.tz_convert("UTC")
        elif pd.api.types.is_datetime64_any_dtype(raw.dtype):
            ts = raw.dt.tz_localize("UTC")
        elif isinstance(raw.dtype, pd.ArrowDtype) and pa.types.is_timestamp(raw.dtype.pyarrow_dtype):
            ts = pd.to_datetime(raw.astype(object), utc=True)
        else:
            values = raw.astype(object)
            is_text = values.map(lambda v: isinstance(v, str) or v is None).to_numpy()
            is_time = values.map(lambda v: isinstance(v, pd.Timestamp | np.datetime64)).to_numpy()
            self._fail("timestamp", "must be a date-time (ISO 8601 text)", ~(is_text | is_time), raw)
            values = values.where(is_text | is_time, None).map(_clean_timestamp_text)
            ts = pd.to_datetime(values, utc=True, errors="coerce", format="ISO8601")
        ts = ts.astype("datetime64[ns, UTC]") if len(ts) else ts.astype("datetime64[ns, UTC]")
        self._fail("timestamp", "must be a valid date-time", ts.isna().to_numpy(), raw)
        return ts

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
        blank = raw.isna().to_numpy() | raw.astype(object).map(
            lambda v: isinstance(v, str) and not v.strip()
        ).to_numpy()
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
        parsed = _parse_tag_column(raw)
        unparseable = np.array([p is None for p in parsed])
        self._fail("tags", "must be a list of 'key:value' strings", unparseable, raw)
        parsed = [p or [] for p in parsed]
        too_many = np.array([len(p) > MAX_TAGS for p in parsed])
        self._fail("tags", f"at most {MAX_TAGS} tags per request", too_many, raw)
        distinct = pd.unique(pd.Series([t for p in parsed for t in p], dtype=object))
        bad_tags = {t for t in distinct if not isinstance(t, str) or not TAG_RE.match(t)}
        if bad_tags:
            malformed = np.array([any(t in bad_tags for t in p) for p in parsed])
            self._fail(
                "tags",
                "each tag is key:value, both 1-64 letters, digits, '-', '_' or '.', "
                "starting and ending with a letter or digit",
                malformed,
                raw,
            )
        clean = [
            [] if self.bad[i] else list(dict.fromkeys(p)) for i, p in enumerate(parsed)
        ]
        return pd.Series(pa.array(clean, type=pa.list_(pa.string())), dtype=TAGS_DTYPE)


def _categorical(codes: np.ndarray, values: list[str | None], index: pd.Index) -> pd.Series:
    """A categorical Series from factorized codes; non-text values become missing."""
    distinct = list(dict.fromkeys(v for v in values if v is not None))
    position = {v: i for i, v in enumerate(distinct)}
    table = np.array([position.get(v, -1) if v is not None else -1 for v in values] + [-1])
    cat = pd.Categorical.from_codes(table[codes], categories=pd.Index(distinct, dtype=object))
    return pd.Series(cat, index=index)


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


def _parse_tag_column(raw: pd.Series) -> list[list[Any] | None]:
    if isinstance(raw.dtype, pd.ArrowDtype) and pa.types.is_list(raw.dtype.pyarrow_dtype):
        return [[] if v is None else v for v in pa.array(raw).to_pylist()]
    return [_parse_tags(v) for v in raw.astype(object)]


def _parse_tags(value: Any) -> list[Any] | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
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
    """The rows a lenient `load_log` set aside: the input's values, ``row`` (position in the
    input) and ``reason``.

    Examples
    --------
    >>> rejected_rows(pd.DataFrame()).empty
    True
    """
    return pd.DataFrame(log.attrs.get("rejected", []))
