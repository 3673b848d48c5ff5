"""`load_log`: the request-log schema of spec section 1, every kind of bad input, and the files.

A refused log raises `uw.LogError` naming the column, the rule and one offending row; a lenient
load sets bad rows aside and accounts for every input row.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import warnings

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st

import usage_widgets as uw

REQUIRED = (
    "request_id",
    "timestamp",
    "user_id",
    "api_key",
    "model",
    "input_tokens",
    "output_tokens",
)
TEXT_COLUMNS = ("user_id", "user_name", "user_email", "team", "api_key", "model")
# Spec 1.1, written independently of the package's own regular expression.
TAG_PART = r"[A-Za-z0-9]([A-Za-z0-9._-]{0,62}[A-Za-z0-9])?"
TAG_RE = re.compile(rf"{TAG_PART}:{TAG_PART}")
UNSAFE = re.compile("[\ud800-\udfff\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


# -- helpers ----------------------------------------------------------------------------------
def frame(n: int = 3, **columns) -> pd.DataFrame:
    """A valid log of ``n`` requests, one hour apart; keyword arguments replace or add columns."""
    data = {
        "request_id": [f"r{i}" for i in range(n)],
        "timestamp": [f"2026-01-05T{10 + i:02d}:00:00Z" for i in range(n)],
        "user_id": ["ada"] * n,
        "api_key": ["k1"] * n,
        "model": ["gpt-4o"] * n,
        "input_tokens": [1000] * n,
        "output_tokens": [10] * n,
    }
    data.update(columns)
    return pd.DataFrame(data)


def with_value(column: str, value, n: int = 3, row: int = 1, **columns) -> pd.DataFrame:
    """A valid log whose ``column`` holds ``value`` at position ``row`` (object column)."""
    df = frame(n, **columns)
    values = list(df[column]) if column in df else [None] * n
    values[row] = value
    df[column] = pd.Series(values, dtype=object)
    return df


def load_quiet(source, **kwargs) -> pd.DataFrame:
    """`load_log` that fails on any warning (a clean log loads silently)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return uw.load_log(source, **kwargs)


def refused(source, **kwargs) -> uw.LogError:
    with pytest.raises(uw.LogError) as info:
        uw.load_log(source, **kwargs)
    return info.value


def assert_names(err: uw.LogError, column: str, rule: str, row: int | None, request_id=None):
    """The error names the column, the rule (a fragment of its wording) and the offending row."""
    message = str(err)
    assert err.column == column, message
    assert rule in err.rule, message
    assert err.row == row, message
    assert repr(column) in message and err.rule in message, message
    if row is not None:
        assert f"row {row}" in message, message
    if request_id is not None:
        assert repr(request_id) in message, message


def write_jsonl(path, records) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


# -- required columns -------------------------------------------------------------------------
@pytest.mark.parametrize("column", REQUIRED)
def test_missing_required_column_is_refused(column):
    err = refused(frame().drop(columns=column))
    assert_names(err, column, "required column is missing", None)


@pytest.mark.parametrize("column", ["user_name", "user_email", "team", "tags", "cost"])
def test_optional_columns_may_be_absent(column):
    log = load_quiet(
        frame(team=["a", "b", "c"], tags=[["a:b"]] * 3).drop(columns=column, errors="ignore")
    )
    assert list(log.columns[: len(uw.CANONICAL)]) == list(uw.CANONICAL)
    assert len(log) == 3


# -- wrong types and values, each named with column, rule and row -----------------------------
@pytest.mark.parametrize(
    ("column", "value", "rule"),
    [
        ("input_tokens", "abc", "must be a number"),
        ("output_tokens", "12 tokens", "must be a number"),
        ("input_tokens", True, "must be a number"),
        ("cost", "x", "must be a number"),
        ("cost", True, "must be a number"),
        ("user_id", 5, "must be text"),
        ("api_key", 3.5, "must be text"),
        ("model", True, "must be text"),
        ("team", 7, "must be text"),
        ("user_name", 1.0, "must be text"),
        ("request_id", 42, "must be text"),
        ("input_tokens", -1, ">= 0"),
        ("output_tokens", -5, ">= 0"),
        ("input_tokens", 1.5, "whole number"),
        ("output_tokens", "2.25", "whole number"),
        ("input_tokens", math.nan, "missing"),
        ("output_tokens", None, "missing"),
        ("input_tokens", math.inf, "finite"),
        ("output_tokens", -math.inf, "finite"),
        ("input_tokens", 2e12, "at most"),
        ("output_tokens", 10**12 + 1, "at most"),
        ("input_tokens", 10**30, "at most"),
        ("cost", -0.5, ">= 0"),
        ("cost", math.inf, "finite"),
        ("request_id", "", "must not be empty"),
        ("user_id", "", "must not be empty"),
        ("api_key", "   ", "must not be empty"),
        ("model", None, "is missing"),
        ("timestamp", "yesterday", "valid date-time"),
        ("timestamp", "2026-13-01T00:00:00Z", "valid date-time"),
        ("timestamp", "9999-01-01T00:00:00Z", "valid date-time"),  # beyond the ns range
        ("timestamp", "", "date-time"),
        ("timestamp", 1767225600, "date-time"),
    ],
)
def test_bad_value_names_column_rule_and_row(column, value, rule):
    err = refused(with_value(column, value))
    assert_names(err, column, rule, 1, request_id=None if column == "request_id" else "r1")


def test_error_counts_the_other_offending_rows():
    df = frame(5, input_tokens=[1, -1, 2, -3, -4])
    err = refused(df)
    assert_names(err, "input_tokens", ">= 0", 1, request_id="r1")
    assert err.count == 3
    assert "2 more rows" in str(err)


def test_error_row_is_the_input_position_not_the_index_label():
    df = frame(3, input_tokens=[1, 2, -1])
    df.index = [30, 20, 10]
    assert_names(refused(df), "input_tokens", ">= 0", 2, request_id="r2")


def test_token_limit_is_inclusive_and_exact():
    log = load_quiet(
        frame(
            2, input_tokens=[10**12, 0], output_tokens=[0, 10**12], model=["x"] * 2, cost=[0.0, 0.0]
        )
    )
    assert log["input_tokens"].tolist() == [10**12, 0]
    assert log["output_tokens"].tolist() == [0, 10**12]


def test_whole_floats_and_numeric_text_are_accepted_as_tokens():
    log = load_quiet(frame(3, input_tokens=[1.0, "2", " 3 "], output_tokens=["1e3", 0.0, -0.0]))
    assert log["input_tokens"].tolist() == [1, 2, 3]
    assert log["output_tokens"].tolist() == [1000, 0, 0]
    assert log["input_tokens"].dtype == np.int64


# -- tags -------------------------------------------------------------------------------------
TAG_RULE = "a tag must be key:value"


@pytest.mark.parametrize(
    "tags",
    [
        ["team:a b"],  # a space
        ["env:prod!"],  # a bad character
        ["emoji:🙂"],
        ["envprod"],  # no colon
        [":prod"],  # empty key
        ["env:"],  # empty value
        ["-env:prod"],  # starts with a dash
        ["env:prod."],  # ends with a dot
        ["a:b:c"],  # two colons
        ["env:" + "x" * 65],  # value over 64 characters
        ["k" * 65 + ":v"],  # key over 64 characters
        ["env:pro\ud800d"],  # a lone surrogate
        ["env:pro\x00d"],
        [5],
        [None],
        ["ok:1", ""],
    ],
)
def test_malformed_tag_is_refused(tags):
    err = refused(with_value("tags", tags, tags=[["ok:1"]] * 3))
    assert_names(err, "tags", TAG_RULE, 1, request_id="r1")


def test_more_than_ten_tags_is_refused():
    eleven = [f"k{i}:v" for i in range(11)]
    err = refused(with_value("tags", eleven, tags=[[]] * 3))
    assert_names(err, "tags", "at most 10 tags", 1, request_id="r1")


@pytest.mark.parametrize("value", [{"env": "prod"}, 17, 2.5, "[not json", '{"env": "prod"}'])
def test_tags_that_are_not_a_list_are_refused(value):
    err = refused(with_value("tags", value, tags=[[]] * 3))
    assert err.column == "tags" and err.row == 1, str(err)
    assert "row 1" in str(err) and "'r1'" in str(err)


def test_tag_limits_are_inclusive():
    ten = [f"k{i}:v" for i in range(10)]
    longest = "k" * 64 + ":" + "v" * 64
    log = load_quiet(frame(3, tags=[ten, [longest], ["a:b", "a.b-c_d:E9"]]))
    assert log["tags"].tolist() == [ten, [longest], ["a:b", "a.b-c_d:E9"]]


def test_tags_forms_json_text_comma_text_python_lists_and_none():
    df = frame(
        8,
        tags=[
            '["env:prod", "team:ml"]',  # JSON list text
            "env:prod, team:ml",  # comma-separated text
            ["env:prod", "team:ml"],  # Python list
            ("env:prod", "team:ml"),  # tuple
            np.array(["env:prod", "team:ml"]),  # numpy array (as Parquet yields)
            None,
            math.nan,
            "",
        ],
    )
    log = load_quiet(df)
    both = ["env:prod", "team:ml"]
    assert log["tags"].tolist() == [both] * 5 + [[]] * 3
    assert log["tags"].dtype == pd.ArrowDtype(pa.list_(pa.string()))


def test_repeated_tags_on_a_request_are_deduplicated():
    log = load_quiet(frame(1, tags=[["env:prod", "team:ml", "env:prod"]]))
    assert log["tags"].tolist() == [["env:prod", "team:ml"]]


def test_missing_tags_in_a_string_column_mean_no_tags():
    """A text column of tags with a missing value (pd.NA, as a pyarrow string column or a Parquet
    file gives) means "no tags", like None and NaN do."""
    tags = pd.Series(["env:prod", None, "team:ml"], dtype="string[pyarrow]")
    log = load_quiet(frame(3, tags=tags))
    assert log["tags"].tolist() == [["env:prod"], [], ["team:ml"]]


def test_pd_na_tags_mean_no_tags():
    log = load_quiet(with_value("tags", pd.NA, tags=[["env:prod"]] * 3))
    assert log["tags"].tolist() == [["env:prod"], [], ["env:prod"]]


# -- unhashable values (nested JSON) ----------------------------------------------------------
@pytest.mark.parametrize("column", ["user_id", "api_key", "model", "team", "request_id"])
@pytest.mark.parametrize("value", [{"id": 1}, ["ada"]])
def test_nested_value_in_a_text_column_is_a_log_error(column, value):
    """JSON lines can hold an object or a list where text is expected: a LogError, not a crash."""
    err = refused(with_value(column, value))
    assert err.column == column and err.row == 1, str(err)
    assert "must be text" in err.rule


def test_nested_list_inside_tags_is_a_log_error():
    err = refused(with_value("tags", ["env:prod", ["nested"]], tags=[[]] * 3))
    assert_names(err, "tags", TAG_RULE, 1, request_id="r1")


def test_nested_json_list_text_inside_tags_is_a_log_error():
    err = refused(with_value("tags", '[["env:prod"]]', tags=[[]] * 3))
    assert err.column == "tags" and err.row == 1, str(err)


def test_duplicate_column_names_are_a_log_error():
    df = frame()
    df = pd.concat([df, df[["input_tokens"]]], axis=1)
    with pytest.raises(uw.LogError) as info:
        uw.load_log(df)
    assert "input_tokens" in str(info.value)


# -- timestamps -------------------------------------------------------------------------------
def test_mixed_offsets_in_iso_text_are_converted_to_utc():
    df = frame(
        4,
        timestamp=[
            "2026-01-05T10:00:00+02:00",  # 08:00Z
            "2026-01-05T10:00:00-05:00",  # 15:00Z
            "2026-01-05T09:30:00Z",  # 09:30Z
            "2026-01-05 12:00:00+05:30",  # 06:30Z
        ],
    )
    log = load_quiet(df)
    assert str(log["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert log["request_id"].tolist() == ["r3", "r0", "r2", "r1"]
    assert [t.strftime("%H:%M") for t in log["timestamp"]] == ["06:30", "08:00", "09:30", "15:00"]


def test_naive_iso_text_is_utc_even_after_an_offset():
    """Naive timestamps are UTC (spec 1) wherever they sit in the column."""
    df = frame(
        3,
        timestamp=["2026-01-05T10:00:00+02:00", "2026-01-05T10:00:00-05:00", "2026-01-05T10:00:00"],
    )
    log = load_quiet(df)
    got = dict(zip(log["request_id"], log["timestamp"], strict=True))
    assert got["r0"] == pd.Timestamp("2026-01-05T08:00:00Z")
    assert got["r1"] == pd.Timestamp("2026-01-05T15:00:00Z")
    assert got["r2"] == pd.Timestamp("2026-01-05T10:00:00Z")


def test_naive_datetimes_are_utc_and_aware_ones_converted():
    naive = pd.to_datetime(["2026-01-05 10:00", "2026-01-05 09:00", "2026-01-05 11:00"])
    log = load_quiet(frame(3, timestamp=naive))
    assert log["timestamp"].tolist() == [
        pd.Timestamp("2026-01-05 09:00Z"), pd.Timestamp("2026-01-05 10:00Z"),
        pd.Timestamp("2026-01-05 11:00Z"),
    ]  # fmt: skip
    paris = naive.tz_localize("Europe/Paris")
    log = load_quiet(frame(3, timestamp=paris))
    assert str(log["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert log["timestamp"].iloc[0] == pd.Timestamp("2026-01-05 08:00Z")


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
@pytest.mark.parametrize("zone", [None, "UTC", "Asia/Tokyo"])
def test_timestamps_of_any_resolution_and_zone_become_the_same_instants_in_ns_utc(unit, zone):
    """pandas keeps date-times in seconds, milliseconds, microseconds or nanoseconds, with or
    without a zone: each is read as the instant it is (a naive one as UTC)."""
    utc = pd.DatetimeIndex(["2026-01-05 10:00:01.5", "2026-01-05 11:00", "2026-01-05 12:00"], tz="UTC")
    ts = (utc.tz_localize(None) if zone is None else utc.tz_convert(zone)).as_unit(unit)
    log = load_quiet(frame(3, timestamp=ts))
    assert str(log["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert log["timestamp"].tolist() == list(utc.floor("1s") if unit == "s" else utc)


@pytest.mark.parametrize("zone", [None, "UTC"])
def test_a_second_resolution_timestamp_beyond_the_ns_range_is_a_log_error(zone):
    seconds = pd.DatetimeIndex(np.array(["2026-01-05T10:00", "2500-01-01T00:00"], dtype="datetime64[s]"))
    err = refused(frame(2, timestamp=seconds if zone is None else seconds.tz_localize(zone)))
    assert err.column == "timestamp" and err.row == 1 and "valid date-time" in str(err), str(err)


def test_arrow_timestamps_naive_and_aware():
    naive = pd.Series(pd.to_datetime(["2026-01-05 10:00", "2026-01-05 11:00"])).astype(
        "timestamp[us][pyarrow]"
    )
    log = load_quiet(frame(2, timestamp=naive))
    assert log["timestamp"].iloc[0] == pd.Timestamp("2026-01-05 10:00Z")
    aware = naive.astype(pd.ArrowDtype(pa.timestamp("us", tz="Europe/Paris")))
    log = load_quiet(frame(2, timestamp=aware))
    assert str(log["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert log["timestamp"].iloc[0] == naive.iloc[0].tz_localize("UTC")


@pytest.mark.parametrize("zone", [None, "UTC"])
def test_arrow_nanosecond_timestamps_keep_every_nanosecond(zone):
    """A request one nanosecond before midnight (as pandas writes Parquet) stays in its day."""
    last = pd.Timestamp("2026-01-05T23:59:59.999999999")
    stamps = pa.array([last.value, last.value - 1], type=pa.timestamp("ns", tz=zone))
    log = load_quiet(frame(2, timestamp=pd.Series(stamps, dtype=pd.ArrowDtype(stamps.type))))
    assert sorted(log["timestamp"].array.asi8.tolist()) == [last.value - 1, last.value]


def test_python_datetimes_with_mixed_offsets_are_timestamps():
    """Aware `datetime` objects with different offsets make an object column: they are
    date-times, not "must be a date-time"."""
    plus2 = dt.timezone(dt.timedelta(hours=2))
    df = frame(2, timestamp=pd.Series(
        [dt.datetime(2026, 1, 5, 10, tzinfo=dt.UTC), dt.datetime(2026, 1, 5, 10, tzinfo=plus2)],
        dtype=object,
    ))  # fmt: skip
    log = load_quiet(df)
    assert log["timestamp"].tolist() == [
        pd.Timestamp("2026-01-05 08:00Z"), pd.Timestamp("2026-01-05 10:00Z"),
    ]  # fmt: skip


def test_out_of_range_arrow_timestamp_is_a_log_error():
    """A Parquet/Arrow timestamp beyond pandas' nanosecond range (year 3000) is a bad value."""
    ts = pd.Series(
        pa.array([dt.datetime(2026, 1, 5), dt.datetime(3000, 1, 1)], type=pa.timestamp("us")),
        dtype=pd.ArrowDtype(pa.timestamp("us")),
    )
    err = refused(frame(2, timestamp=ts))
    assert err.column == "timestamp" and err.row == 1, str(err)


def test_missing_timestamp_is_refused():
    for missing in (None, math.nan, pd.NaT):
        err = refused(with_value("timestamp", missing))
        assert err.column == "timestamp" and err.row == 1, str(err)


def test_output_is_sorted_by_time_stably():
    df = frame(
        5,
        timestamp=[
            "2026-01-05T12:00Z",
            "2026-01-05T10:00Z",
            "2026-01-05T12:00Z",
            "2026-01-04T23:00Z",
            "2026-01-05T10:00Z",
        ],
    )
    log = load_quiet(df)
    assert log["timestamp"].is_monotonic_increasing
    assert log["request_id"].tolist() == ["r3", "r1", "r4", "r0", "r2"]
    assert log.index.tolist() == list(range(5))


# -- unsafe text ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        "ad\ud800a",
        "ad\udfffa",
        "ad\x00a",
        "ad\x1ba",
        "ad\x7fa",
        "ad\x85a",
        "ad\u202ea",
        "ad\u2066a",
    ],
)
@pytest.mark.parametrize(
    "column", ["user_name", "user_email", "team", "user_id", "api_key", "model"]
)
def test_surrogates_and_control_characters_are_repaired(column, text):
    log = load_quiet(with_value(column, text, model=["x"] * 3, cost=[0.0] * 3))
    repaired = log.loc[log["request_id"] == "r1", column].iloc[0]
    assert repaired == "ad" + f"\\u{ord(text[2]):04x}" + "a"  # a visible escape, never lost
    for col in TEXT_COLUMNS:
        for value in log[col].astype(str):
            value.encode("utf-8")  # sendable to the browser
            assert not UNSAFE.search(value)


@pytest.mark.parametrize("dtype", [pd.ArrowDtype(pa.string()), pd.ArrowDtype(pa.large_string())])
def test_request_ids_held_as_arrow_text_are_repaired_and_the_rest_kept_as_they_are(dtype):
    """Ids read from Parquet arrive as Arrow text and are checked without leaving it: only the
    values with a refused character change, each to a visible escape, and stay distinct."""
    ids = ["r\x00", "r\x1b[31m", "r\u202e", "r\x85", "r\u2066", "Zoë", "r—x", "r\t\n", "plain", "r\x7f"]
    log = load_quiet(frame(len(ids)).assign(request_id=pd.Series(ids, dtype=dtype)))
    got = sorted(log["request_id"].tolist())
    assert got == sorted([
        "r\\u0000", "r\\u001b[31m", "r\\u202e", "r\\u0085", "r\\u2066", "Zoë", "r—x", "r\t\n", "plain",
        "r\\u007f",
    ])  # fmt: skip


def test_tabs_and_newlines_in_names_are_kept():
    log = load_quiet(with_value("user_name", "Ada\tLovelace\n"))
    assert "Ada\tLovelace\n" in log["user_name"].tolist()


def test_distinct_texts_with_surrogates_stay_distinct():
    """Each value is repaired on its own: texts that differ apart from a surrogate keep their
    own identity (users are not merged, request ids are not counted as repeats)."""
    df = frame(
        3,
        request_id=["ra\ud800", "rb\udc00", "rc"],
        user_id=["ada\ud800", "bob\udfff", "cy"],
        user_name=["Ada \ud83d", "Bob \ude00", None],
    )
    log = load_quiet(df)
    assert log["request_id"].tolist() == ["ra\\ud800", "rb\\udc00", "rc"]
    assert log["user_id"].tolist() == ["ada\\ud800", "bob\\udfff", "cy"]
    assert log["user_name"].tolist() == ["Ada \\ud83d", "Bob \\ude00", "cy"]


# -- optional columns: fallbacks --------------------------------------------------------------
def test_team_and_user_name_fallbacks():
    df = frame(
        4,
        user_id=["ada", "bob", "cy", "di"],
        user_name=["Ada L.", None, "", "  "],
        team=["ml", None, "", " "],
    )
    log = load_quiet(df).set_index("request_id")
    assert log["user_name"].tolist() == ["Ada L.", "bob", "cy", "di"]
    assert log["team"].tolist() == ["ml", "Unassigned", "Unassigned", "Unassigned"]
    assert log["user_email"].tolist() == ["", "", "", ""]


def test_absent_team_and_user_name_columns():
    log = load_quiet(frame(2, user_id=["ada", "bob"]))
    assert log["team"].tolist() == ["Unassigned", "Unassigned"]
    assert log["user_name"].tolist() == ["ada", "bob"]


def test_extra_columns_are_kept_unchanged():
    extras = {"latency_ms": [12, 30, 7], "status": ["ok", "error", "ok"],
              "reason": ["stop", "length", "stop"], "row": [7, 8, 9]}  # fmt: skip
    log = load_quiet(frame(3, **extras))
    assert list(log.columns[: len(uw.CANONICAL)]) == list(uw.CANONICAL)
    for name, values in extras.items():
        assert name in log.columns, f"extra column {name!r} was dropped"
        assert log[name].tolist() == values


def test_dtypes():
    df = frame(3, tags=[["a:b"], [], None], cost=[0.5, None, None], team=["ml", None, "ops"],
               model=["gpt-4o", "gpt-4o", "mystery"])  # fmt: skip
    with pytest.warns(uw.LogWarning, match="mystery"):
        log = uw.load_log(df)
    assert str(log["request_id"].dtype) in ("string", "string[pyarrow]")
    assert str(log["timestamp"].dtype) == "datetime64[ns, UTC]"
    for column in TEXT_COLUMNS:
        assert isinstance(log[column].dtype, pd.CategoricalDtype | pd.StringDtype) or (
            log[column].dtype == object
        ), column
        assert log[column].notna().all()
    assert log["tags"].dtype == pd.ArrowDtype(pa.list_(pa.string()))
    assert log["input_tokens"].dtype == np.int64 and log["output_tokens"].dtype == np.int64
    assert log["cost"].dtype == np.float64
    assert log["priced"].dtype == bool
    assert log["priced"].tolist() == [True, True, False]
    assert log["cost"].iloc[0] == 0.5
    assert math.isnan(log["cost"].iloc[2])


def test_reloading_a_loaded_log_is_identity():
    with pytest.warns(uw.LogWarning):
        log = uw.load_log(frame(3, model=["gpt-4o", "mystery", "gpt-4o"], tags=[["a:b"], [], None]))
    again = load_quiet(log)  # the unknown price is already flagged: no second warning
    pd.testing.assert_frame_equal(again, log)


def test_empty_frame_with_the_columns_loads_empty():
    log = load_quiet(frame(0))
    assert len(log) == 0
    assert str(log["timestamp"].dtype) == "datetime64[ns, UTC]"


# -- duplicates -------------------------------------------------------------------------------
def test_repeated_request_id_counted_once_with_a_warning():
    df = frame(5, request_id=["a", "b", "a", "a", "c"], input_tokens=[1, 2, 3, 4, 5])
    with pytest.warns(uw.LogWarning, match=r"\b2 repeated request_id"):
        log = uw.load_log(df)
    assert sorted(log["request_id"]) == ["a", "b", "c"]
    assert log.attrs["duplicates_dropped"] == 2
    assert log.set_index("request_id").loc["a", "input_tokens"] == 1  # the first one is kept


# -- lenient mode -----------------------------------------------------------------------------
def test_lenient_accounts_for_every_row():
    df = frame(
        12,
        request_id=["r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r0", "r9", "r10", "r0"],
        input_tokens=[1, -1, 2, "abc", 3, 4, 5, 6, 7, 1.5, 8, 9],
        timestamp=["2026-01-05T10:00Z"] * 4 + ["nope"] + ["2026-01-05T11:00Z"] * 7,
        user_id=["ada"] * 5 + ["", "bob", "bob", "bob", "bob", 5, "bob"],
        tags=[[]] * 6 + [["bad tag"]] + [[]] * 5,
    )
    with pytest.warns(uw.LogWarning) as record:
        log = uw.load_log(df, lenient=True)
    rejected = uw.rejected_rows(log)
    assert sorted(rejected["rejected_row"]) == [1, 3, 4, 5, 6, 9, 10]
    reasons = dict(zip(rejected["rejected_row"], rejected["rejected_reason"], strict=True))
    assert reasons[1].startswith("input_tokens") and ">= 0" in reasons[1]
    assert reasons[3].startswith("input_tokens") and "number" in reasons[3]
    assert reasons[4].startswith("timestamp")
    assert reasons[5].startswith("user_id") and "empty" in reasons[5]
    assert reasons[6].startswith("tags")
    assert reasons[9].startswith("input_tokens") and "whole" in reasons[9]
    assert reasons[10].startswith("user_id") and "text" in reasons[10]
    # the set-aside rows carry the input's values
    assert rejected.set_index("rejected_row").loc[3, "input_tokens"] == "abc"
    assert log.attrs["duplicates_dropped"] == 2  # rows 8 and 11 repeat r0
    assert len(log) + len(rejected) + log.attrs["duplicates_dropped"] == len(df)
    messages = " ".join(str(w.message) for w in record)
    assert "7 of 12 rows set aside" in messages and "2 repeated" in messages
    assert set(log["request_id"]) == {"r0", "r2", "r7"}


def test_lenient_on_a_clean_log_sets_nothing_aside():
    log = load_quiet(frame(), lenient=True)
    assert uw.rejected_rows(log).empty and len(log) == 3


def test_lenient_still_refuses_a_missing_column():
    assert_names(
        refused(frame().drop(columns="model"), lenient=True),
        "model",
        "required column is missing",
        None,
    )


def test_lenient_all_rows_bad_gives_an_empty_log():
    with pytest.warns(uw.LogWarning, match="3 of 3"):
        log = uw.load_log(frame(3, input_tokens=[-1, -2, -3]), lenient=True)
    assert len(log) == 0 and len(uw.rejected_rows(log)) == 3


# -- files ------------------------------------------------------------------------------------
def file_frame() -> pd.DataFrame:
    return frame(
        3,
        # the naive one first: a naive time after an offset is a separate bug (see above)
        timestamp=["2026-01-05T12:00:00", "2026-01-05T10:00:00+02:00", "2026-01-05T11:00:00Z"],
        team=["ml", None, "ops"],
        user_name=["Ada", None, "Cy"],
        tags=[["env:prod"], [], ["env:dev", "team:ml"]],
        cost=[0.25, None, None],
        latency_ms=[5, 6, 7],
    )


def check_file_log(log):
    assert log["request_id"].tolist() == ["r1", "r2", "r0"]
    assert log["timestamp"].tolist() == [
        pd.Timestamp("2026-01-05T08:00Z"), pd.Timestamp("2026-01-05T11:00Z"),
        pd.Timestamp("2026-01-05T12:00Z"),
    ]  # fmt: skip
    assert log["tags"].tolist() == [[], ["env:dev", "team:ml"], ["env:prod"]]
    assert log["team"].tolist() == ["Unassigned", "ops", "ml"]
    assert log["user_name"].tolist() == ["ada", "Cy", "Ada"]
    assert log["cost"].iloc[2] == 0.25 and log["cost"].iloc[0] == pytest.approx(0.0026)
    assert "latency_ms" in log.columns
    assert log["input_tokens"].dtype == np.int64


def test_csv_file(tmp_path):
    df = file_frame()
    df["tags"] = [json.dumps(t) for t in df["tags"]]
    df.to_csv(tmp_path / "log.csv", index=False)
    check_file_log(load_quiet(tmp_path / "log.csv"))
    check_file_log(load_quiet(str(tmp_path / "log.csv")))


def test_csv_keeps_na_like_text(tmp_path):
    (tmp_path / "log.csv").write_text(
        "request_id,timestamp,user_id,api_key,model,input_tokens,output_tokens,cost\n"
        "r1,2026-01-05T10:00:00Z,NA,None,null,1,2,0.1\n"
    )
    log = load_quiet(tmp_path / "log.csv")
    assert log[["user_id", "api_key", "model"]].iloc[0].tolist() == ["NA", "None", "null"]


def test_parquet_file(tmp_path):
    file_frame().to_parquet(tmp_path / "log.parquet")
    check_file_log(load_quiet(tmp_path / "log.parquet"))


def test_parquet_with_datetime_timestamps(tmp_path):
    """Parquet stores real timestamps, usually tz-aware: they load like ISO text does."""
    df = file_frame()
    df["timestamp"] = pd.to_datetime(df["timestamp"], utc=True, format="ISO8601")
    df.to_parquet(tmp_path / "utc.parquet")
    check_file_log(load_quiet(tmp_path / "utc.parquet"))
    df["timestamp"] = df["timestamp"].dt.tz_convert("America/New_York")
    df.to_parquet(tmp_path / "ny.parquet")
    check_file_log(load_quiet(tmp_path / "ny.parquet"))
    df["timestamp"] = df["timestamp"].dt.tz_convert("UTC").dt.tz_localize(None)
    df.to_parquet(tmp_path / "naive.parquet")
    check_file_log(load_quiet(tmp_path / "naive.parquet"))


def test_parquet_with_text_tags_and_nulls(tmp_path):
    df = frame(3, tags=["env:prod", None, "env:dev,team:ml"])
    df.to_parquet(tmp_path / "log.parquet")
    log = load_quiet(tmp_path / "log.parquet")
    assert log["tags"].tolist() == [["env:prod"], [], ["env:dev", "team:ml"]]


def test_parquet_folder(tmp_path):
    folder = tmp_path / "logs"
    folder.mkdir()
    file_frame().iloc[:2].to_parquet(folder / "a.parquet")
    file_frame().iloc[2:].to_parquet(folder / "b.parquet")
    check_file_log(load_quiet(folder))


def test_jsonl_file(tmp_path):
    records = file_frame().astype(object).where(file_frame().notna(), None).to_dict("records")
    for suffix in (".jsonl", ".ndjson", ".json"):
        write_jsonl(tmp_path / f"log{suffix}", records)
        check_file_log(load_quiet(tmp_path / f"log{suffix}"))


def test_jsonl_blank_lines_are_skipped(tmp_path):
    records = frame(2).to_dict("records")
    (tmp_path / "log.jsonl").write_text(
        "\n" + json.dumps(records[0]) + "\n\n  \n" + json.dumps(records[1]) + "\n"
    )
    assert len(load_quiet(tmp_path / "log.jsonl")) == 2


def test_jsonl_escaped_surrogate_and_invalid_utf8_are_repaired(tmp_path):
    good = frame(2).to_dict("records")
    line1 = json.dumps(good[0] | {"user_name": "a\ud800b"})  # written as the escape \ud800
    line2 = json.dumps(good[1] | {"user_name": "XX"}).encode().replace(b"XX", b"\xff\xfe")
    (tmp_path / "log.jsonl").write_bytes(line1.encode() + b"\n" + line2 + b"\n")
    log = load_quiet(tmp_path / "log.jsonl")
    assert log["user_name"].tolist() == ["a\\ud800b", "\\udcff\\udcfe"]


def test_jsonl_wrong_types_are_named(tmp_path):
    records = frame(2).to_dict("records")
    records[1]["user_id"] = 5
    write_jsonl(tmp_path / "log.jsonl", records)
    assert_names(refused(tmp_path / "log.jsonl"), "user_id", "must be text", 1, "r1")


@pytest.mark.parametrize(
    ("name", "content", "wording"),
    [
        ("empty.csv", b"", "empty"),
        ("empty.jsonl", b"", "no requests"),
        ("blank.jsonl", b"\n \n", "no requests"),
        ("empty.parquet", b"", "cannot be read"),
        ("garbage.parquet", b"not a parquet file at all", "cannot be read"),
        ("log.xlsx", b"PK\x03\x04", "unknown file type"),
        ("log", b"request_id\n", "unknown file type"),
        ("array.json", b'[{"request_id": "r1"}]\n', "line 1"),
        ("scalar.jsonl", b'{"request_id": "r0"}\n42\n', "line 2"),
    ],
)
def test_unreadable_files_are_log_errors(tmp_path, name, content, wording):
    (tmp_path / name).write_bytes(content)
    err = refused(tmp_path / name)
    assert err.column == "(log)" and err.row is None, str(err)
    assert wording in str(err)


def test_truncated_json_line_is_named(tmp_path):
    records = frame(3).to_dict("records")
    text = "".join(json.dumps(r) + "\n" for r in records)
    cut = text[: text.rindex("output_tokens")]  # the third line stops mid-object
    (tmp_path / "log.jsonl").write_text(cut + "\n")
    err = refused(tmp_path / "log.jsonl")
    assert err.column == "(log)" and "line 3" in str(err) and "not valid JSON" in str(err)


def test_csv_with_header_only_is_an_empty_log(tmp_path):
    (tmp_path / "log.csv").write_text(",".join(REQUIRED) + "\n")
    assert len(load_quiet(tmp_path / "log.csv")) == 0


def test_csv_missing_column_named(tmp_path):
    frame().drop(columns="api_key").to_csv(tmp_path / "log.csv", index=False)
    assert_names(refused(tmp_path / "log.csv"), "api_key", "required column is missing", None)


def test_csv_row_with_too_many_fields_is_not_misattributed(tmp_path):
    """A CSV line with more fields than the header is refused without blaming the wrong column
    or quoting a user id as the request_id."""
    (tmp_path / "log.csv").write_text(
        ",".join(REQUIRED) + "\n" + "r1,2026-01-05T10:00:00Z,ada,k1,gpt-4o,10,20,surplus,more\n"
    )
    err = refused(tmp_path / "log.csv")
    assert "request_id 'ada'" not in str(err), str(err)


def test_csv_empty_cells(tmp_path):
    (tmp_path / "log.csv").write_text(
        ",".join(REQUIRED) + ",team\n" + "r1,2026-01-05T10:00:00Z,ada,k1,gpt-4o,10,,ml\n"
    )
    assert_names(refused(tmp_path / "log.csv"), "output_tokens", "missing", 0, "r1")


def test_missing_file(tmp_path):
    err = refused(tmp_path / "nope.csv")
    assert err.column == "(log)" and "does not exist" in str(err) and "nope.csv" in str(err)


def test_not_a_frame_or_path():
    err = refused([{"request_id": "r1"}])
    assert err.column == "(log)" and "DataFrame" in str(err)


# -- property: only a valid log or a LogError -------------------------------------------------
GOOD_TEXT = st.sampled_from(["ada", "Bob Smith", "ops-team", "R&D <b>", "Zoë", "k1", "$5 or $6"])
UNSAFE_TEXT = st.sampled_from(
    ["a\ud800", "\udfffb", "c\x00", "\x1b[31md", "e\u202ef", "\x85", "\u2066", "f\ud83d"]
)
WRONG_TYPE = st.sampled_from([5, 2.5, True, math.nan, math.inf, None, b"bytes", {"a": 1}, ["x"]])
GOOD_TS = st.builds(
    lambda d, offset: d.strftime("%Y-%m-%dT%H:%M:%S") + offset,
    st.datetimes(min_value=dt.datetime(2020, 1, 1), max_value=dt.datetime(2030, 1, 1)),
    st.sampled_from(["Z", "+00:00", "+02:00", "-05:00", "+05:30", ""]),  # "" is naive = UTC
)
BAD_TS = st.one_of(
    st.sampled_from(["", " ", "yesterday", "2026-02-30T00:00:00Z", "2026-01-05T25:00Z",
                     "\ud800", "2026-01-05\x00", "9999-12-31T00:00:00Z"]),
    WRONG_TYPE,
)  # fmt: skip
GOOD_TAG = st.from_regex(
    re.compile(r"[a-z0-9]{1,3}:[A-Za-z0-9]([a-z._-]{0,2}[0-9])?"), fullmatch=True
)
BAD_TAG = st.one_of(
    st.sampled_from(["nocolon", "a b:c", ":v", "k:", "-k:v", "k:v.", "a:b:c", "k:" + "x" * 65,
                     "k:\ud800", "k:\x00", ""]),
    st.integers(), st.none(),
)  # fmt: skip
GOOD_TAGS = st.lists(GOOD_TAG, max_size=10)
BAD_TAGS = st.one_of(
    st.lists(GOOD_TAG, min_size=11, max_size=14),
    st.builds(lambda good, bad: [*good, bad], st.lists(GOOD_TAG, max_size=3), BAD_TAG),
    st.sampled_from(["[bad json", '{"k": "v"}', "a b:c", 17, 2.5, {"k": "v"}, [["k:v"]]]),
)
GOOD_TOKENS = st.one_of(st.integers(0, 10**7), st.integers(0, 10**7).map(str),
                        st.integers(0, 10**7).map(float), st.just(10**12))  # fmt: skip
BAD_TOKENS = st.one_of(
    st.sampled_from([-1, 1.5, "1.5", "abc", "", math.nan, math.inf, -math.inf, None, True,
                     10**12 + 1, 1e15, "1e400", " "]),
    st.integers(max_value=-1),
)  # fmt: skip
GOOD_COST = st.one_of(st.none(), st.floats(0, 1e4), st.just(math.nan))
BAD_COST = st.sampled_from([-0.01, math.inf, "x", True, "-1"])

COLUMN_VALUES = {
    # column: (good values, bad values)
    "request_id": (st.sampled_from(["q0", "q1", "q2", "q3", "q\ud800", "q\udc00"]),
                   st.one_of(WRONG_TYPE, st.just(""))),
    "timestamp": (GOOD_TS, BAD_TS),
    "user_id": (st.one_of(GOOD_TEXT, UNSAFE_TEXT),
                st.one_of(WRONG_TYPE, st.sampled_from(["", " "]))),
    "user_name": (st.one_of(GOOD_TEXT, UNSAFE_TEXT, st.none(), st.just("")), WRONG_TYPE),
    "user_email": (st.one_of(GOOD_TEXT, UNSAFE_TEXT, st.none()), WRONG_TYPE),
    "team": (st.one_of(GOOD_TEXT, UNSAFE_TEXT, st.none(), st.just(" ")), WRONG_TYPE),
    "api_key": (st.one_of(GOOD_TEXT, UNSAFE_TEXT), st.one_of(WRONG_TYPE, st.just(""))),
    "model": (st.sampled_from(["gpt-4o", "gemini-2.5-pro", "mystery-model", "x\ud800"]),
              st.one_of(WRONG_TYPE, st.just("\t"))),
    "tags": (GOOD_TAGS, BAD_TAGS),
    "input_tokens": (GOOD_TOKENS, BAD_TOKENS),
    "output_tokens": (GOOD_TOKENS, BAD_TOKENS),
    "cost": (GOOD_COST, BAD_COST),
}  # fmt: skip


@st.composite
def messy_frames(draw):
    n = draw(st.integers(1, 8))
    rows = []
    for _ in range(n):
        row = {}
        bad_columns = draw(st.sets(st.sampled_from(sorted(COLUMN_VALUES)), max_size=2))
        for column, (good, bad) in COLUMN_VALUES.items():
            row[column] = draw(bad if column in bad_columns and draw(st.booleans()) else good)
        rows.append(row)
    df = pd.DataFrame({c: pd.Series([r[c] for r in rows], dtype=object) for c in COLUMN_VALUES})
    dropped = draw(st.sets(st.sampled_from(["user_name", "user_email", "team", "tags", "cost"])))
    df = df.drop(columns=sorted(dropped))
    df["input_position"] = range(n)  # an extra column: kept, and tells where each row came from
    return df


def repaired(text: str) -> str:
    return UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def check_log_shape(log: pd.DataFrame) -> None:
    """What every loaded log holds, whatever its input: the canonical schema, every rule kept."""
    assert list(log.columns[: len(uw.CANONICAL)]) == list(uw.CANONICAL)
    assert log["request_id"].is_unique
    assert str(log["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert log["timestamp"].notna().all() and log["timestamp"].is_monotonic_increasing
    for column in ("input_tokens", "output_tokens"):
        assert log[column].dtype == np.int64
        assert ((log[column] >= 0) & (log[column] <= 10**12)).all()
    assert log["tags"].dtype == pd.ArrowDtype(pa.list_(pa.string()))
    for tags in log["tags"]:
        assert len(tags) <= 10 and len(set(tags)) == len(tags)
        assert all(isinstance(t, str) and TAG_RE.fullmatch(t) for t in tags), tags
    for column in ("request_id", *TEXT_COLUMNS):
        for value in log[column]:
            assert isinstance(value, str) and not UNSAFE.search(value), (column, value)
            value.encode("utf-8")
    for column in ("request_id", "user_id", "user_name", "team", "api_key", "model"):
        assert all(v.strip() for v in log[column]), column
    assert log["cost"].dtype == np.float64 and log["priced"].dtype == bool
    assert (log["priced"] == log["cost"].notna()).all()
    assert (log["cost"].dropna() >= 0).all() and np.isfinite(log["cost"].dropna()).all()


def check_valid_log(log: pd.DataFrame, df: pd.DataFrame) -> None:
    """Invariants of a loaded log, and each output row against the input row it came from."""
    check_log_shape(log)
    assert len(log) <= len(df)
    # every output row is its input row, repaired
    assert log["input_position"].is_unique
    for out in log.to_dict("records"):
        src = df.iloc[out["input_position"]]
        for column in ("request_id", "user_id", "api_key", "model"):
            assert out[column] == repaired(src[column]), (column, src[column], out[column])
        team = src.get("team")
        if isinstance(team, str) and repaired(team).strip():
            assert out["team"] == repaired(team)
        else:
            assert out["team"] == "Unassigned"
        name = src.get("user_name")
        expected_name = name if isinstance(name, str) and repaired(name).strip() else src["user_id"]
        assert out["user_name"] == repaired(expected_name)
        for column in ("input_tokens", "output_tokens"):
            assert out[column] == int(float(src[column]))
        ts = pd.Timestamp(src["timestamp"])
        assert out["timestamp"] == (ts.tz_localize("UTC") if ts.tzinfo is None else ts), (
            src["timestamp"], out["timestamp"])  # fmt: skip
        if isinstance(src.get("tags"), list):
            assert list(out["tags"]) == list(dict.fromkeys(src["tags"]))
        cost = src.get("cost")
        if isinstance(cost, float) and math.isfinite(cost):
            assert out["cost"] == cost and out["priced"]


def load_recording(df, **kwargs):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        log = uw.load_log(df, **kwargs)
    others = [w for w in record if not issubclass(w.category, uw.LogWarning)]
    assert not others, [str(w.message) for w in others]
    return log


# No shrink phase: shrinking a failing frame can take minutes; the note shows the input instead.
@settings(
    max_examples=80,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow],
)
@given(messy_frames())
def test_messy_frames_load_validly_or_raise_a_named_log_error(df):
    note(f"input: {df.to_dict('list')!r}")
    n = len(df)
    strict_error = None
    try:
        log = load_recording(df)
    except uw.LogError as err:
        strict_error = err
        assert err.column in uw.CANONICAL, str(err)
        assert isinstance(err.rule, str) and err.rule, str(err)
        assert err.row is not None and 0 <= err.row < n, str(err)
        assert (
            repr(err.column) in str(err) and err.rule in str(err) and f"row {err.row}" in str(err)
        )
    else:
        check_valid_log(log, df)
        assert log.attrs["duplicates_dropped"] + len(log) == n

    lenient = load_recording(df, lenient=True)
    check_valid_log(lenient, df)
    rejected = uw.rejected_rows(lenient)
    assert len(lenient) + len(rejected) + lenient.attrs["duplicates_dropped"] == n
    if len(rejected):
        assert rejected["rejected_row"].is_unique and rejected["rejected_row"].between(0, n - 1).all()
        assert (rejected["rejected_row"] == rejected["input_position"]).all()
        assert all(isinstance(r, str) and ":" in r for r in rejected["rejected_reason"])
        assert not set(rejected["rejected_row"]) & set(lenient["input_position"])
    if strict_error is None:
        assert rejected.empty
    else:
        assert strict_error.row in set(rejected["rejected_row"])
