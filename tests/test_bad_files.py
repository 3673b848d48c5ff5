"""`load_log` on damaged FILES: random messy logs written as CSV, JSON lines or Parquet, then
truncated, emptied, salted with NUL, control bytes, lone surrogates and invalid UTF-8, or given
repeated lines. The only outcomes are a valid log or a `LogError` that names a column and a rule
(and the row or line when one is to blame); lenient mode accounts for every row it read."""

from __future__ import annotations

import io
import json
import math
import re
import warnings
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st

import usage_widgets as uw

from .test_load_log import check_log_shape, messy_frames

SUFFIX = {"csv": ".csv", "jsonl": ".jsonl", "parquet": ".parquet"}
# Damage that leaves every line (row) where it was: the rows read are the rows written.
IN_PLACE = ("none", "nul-in-text", "control-in-text", "surrogate-in-text", "surrogate-escape-in-json")


def _cell(value):
    """A value as a CSV cell: lists as JSON text (the documented form), the rest as str."""
    if isinstance(value, list):
        return json.dumps(value, default=str)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def encode(df: pd.DataFrame, fmt: str) -> bytes:
    """The frame as the bytes of a file (lone surrogates written as their raw, invalid bytes)."""
    if fmt == "csv":
        text = df.map(_cell).to_csv(index=False, lineterminator="\n")
        return text.encode("utf-8", "surrogatepass")
    if fmt == "jsonl":
        lines = (json.dumps(r, default=str) for r in df.to_dict("records"))
        return "".join(line + "\n" for line in lines).encode("utf-8", "surrogatepass")
    try:
        table = pa.Table.from_pandas(df, preserve_index=False)
    except (pa.ArrowException, TypeError, ValueError):  # mixed types: write every column as text
        table = pa.Table.from_pandas(df.map(_cell).map(_valid_utf8), preserve_index=False)
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def _valid_utf8(text: str) -> str:
    return text.encode("utf-8", "replace").decode("utf-8")


# Bytes put inside a value, and how the loaded log must show them (never dropped or merged).
IN_TEXT = {
    "nul-in-text": (b"\x00", "\\u0000"),
    "control-in-text": (b"\x1b", "\\u001b"),
    "surrogate-in-text": (b"\xed\xa0\x80", "\\udced\\udca0\\udc80"),
    "surrogate-escape-in-json": (b"\\ud800", "\\ud800"),
}


@st.composite
def damaged(draw, data: bytes, fmt: str) -> tuple[str, bytes, int | None]:
    """Damaged bytes, the kind of damage, and the row whose value got bytes put inside it."""
    kinds = ["none", "truncated", "empty", "nul", "control", "surrogate", "invalid-utf8",
             "repeated-line", "nul-in-text", "control-in-text", "surrogate-in-text"]  # fmt: skip
    if fmt == "jsonl":
        kinds.append("surrogate-escape-in-json")
    if fmt == "parquet":
        kinds = ["none", "truncated", "empty", "flipped-byte"]
    kind = draw(st.sampled_from(kinds))
    at = draw(st.integers(0, max(len(data) - 1, 0)))
    if kind == "truncated":
        return kind, data[:at], None
    if kind == "empty":
        return kind, b"", None
    insert = {"nul": b"\x00", "control": bytes([draw(st.sampled_from([1, 8, 11, 12, 27, 127]))]),
              "surrogate": b"\xed\xa0\x80", "invalid-utf8": b"\xff\xfe"}  # fmt: skip
    if kind in insert:
        return kind, data[:at] + insert[kind] + data[at:], None
    if kind == "flipped-byte":
        return kind, (data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :] if data else data), None
    lines = data.split(b"\n")
    first = 1 if fmt == "csv" else 0
    body = [i for i in range(first, len(lines)) if lines[i]]
    if kind == "repeated-line" and body:
        i = draw(st.sampled_from(body))
        return kind, b"\n".join([*lines[: i + 1], lines[i], *lines[i + 1 :]]), None
    # Inside a value: after the first letter of a cell (CSV) or of a string value (JSON) that
    # starts with two letters, such as a user id "ada".
    start = rb"(?<=,)" if fmt == "csv" else rb'(?<=": ")'
    pattern = start + rb"([A-Za-z])(?=[A-Za-z])"
    candidates = [i for i in body if re.search(pattern, lines[i])]
    if kind in IN_TEXT and candidates:
        i = draw(st.sampled_from(candidates))
        lines[i] = re.sub(pattern, lambda m: m.group(1) + IN_TEXT[kind][0], lines[i], count=1)
        return kind, b"\n".join(lines), i - first
    return "none", data, None


def load_recording(path: Path, **kwargs) -> pd.DataFrame:
    """`load_log` failing on any warning but the package's own `LogWarning`."""
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        log = uw.load_log(path, **kwargs)
    others = [w for w in record if not issubclass(w.category, uw.LogWarning)]
    assert not others, [f"{w.category.__name__}: {w.message}" for w in others]
    return log


def check_error(err: uw.LogError, n_rows: int) -> None:
    message = str(err)
    assert isinstance(err.column, str) and err.column, message
    assert isinstance(err.rule, str) and err.rule.strip(), message
    assert repr(err.column) in message and err.rule in message, message
    assert "Traceback" not in message and "/tmp" not in message and "site-packages" not in message
    if err.column == "(log)":  # the file as a whole: it says which line, or why it is not a log
        return
    assert err.column in uw.CANONICAL, message
    if err.row is not None:
        assert 0 <= err.row < n_rows and f"row {err.row}" in message, message


def rows_in_file(fmt: str, data: bytes, n_written: int, kind: str) -> int | None:
    """How many rows the file holds, told from how it was written (None: not known)."""
    if kind in IN_PLACE:
        return n_written
    if kind == "repeated-line":
        return n_written + 1
    return None


FUZZ = settings(
    max_examples=40,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.mark.parametrize("fmt", list(SUFFIX))
@FUZZ
@given(data=st.data())
def test_damaged_files_load_validly_or_raise_a_named_log_error(fmt, data, tmp_path) -> None:
    df = data.draw(messy_frames())
    kind, raw, hit_row = data.draw(damaged(encode(df, fmt), fmt))
    note(f"{kind}: {raw[:2000]!r}")
    path = tmp_path / f"log{SUFFIX[fmt]}"
    path.write_bytes(raw)
    expected_rows = rows_in_file(fmt, raw, len(df), kind)
    bound = expected_rows if expected_rows is not None else len(df) + 2

    strict_error = None
    try:
        log = load_recording(path)
    except uw.LogError as err:
        strict_error = err
        check_error(err, bound)
    else:
        check_log_shape(log)
        if expected_rows is not None:
            assert len(log) + log.attrs["duplicates_dropped"] == expected_rows

    try:
        lenient = load_recording(path, lenient=True)
    except uw.LogError as err:  # only a file that cannot be read as a table at all
        check_error(err, bound)
        assert err.column == "(log)" or err.row is None, str(err)
        assert strict_error is not None
        return
    check_log_shape(lenient)
    rejected = uw.rejected_rows(lenient)
    total = len(lenient) + len(rejected) + lenient.attrs["duplicates_dropped"]
    if expected_rows is not None:
        assert total == expected_rows, (total, expected_rows)
    if len(rejected):
        assert rejected["rejected_row"].is_unique
        assert all(isinstance(r, str) and ":" in r for r in rejected["rejected_reason"])
    if strict_error is None:
        assert rejected.empty
    elif strict_error.row is not None:
        assert strict_error.row in set(rejected["rejected_row"])
    if hit_row is not None:
        # the value that got bytes inside it is loaded with them shown escaped, or set aside
        loaded = lenient[lenient["input_position"].astype(str) == str(hit_row)]
        if len(loaded):
            texts = [str(v) for v in loaded.iloc[0].to_numpy()]
            assert any(IN_TEXT[kind][1] in t for t in texts), texts
        else:
            set_aside = set(rejected["rejected_row"]) if len(rejected) else set()
            assert hit_row in set_aside or lenient.attrs["duplicates_dropped"]
    if kind in IN_PLACE and "input_position" in rejected:
        # each set-aside row is reported at the position it holds in the file
        positions = pd.to_numeric(rejected["input_position"].astype(str), errors="coerce")
        assert (positions == rejected["rejected_row"]).all()


# -- explicit examples of what the fuzz covers ------------------------------------------------
GOOD = (
    "request_id,timestamp,user_id,api_key,model,input_tokens,output_tokens,cost,tags\n"
    'r1,2026-01-05T10:00:00Z,ada,k1,gpt-4o,100,10,0.5,"[""env:prod""]"\n'
    "r2,2026-01-05T11:00:00+05:30,bob,k1,gpt-4o,100,10,0.25,\n"
)


def test_an_empty_file_of_each_kind_is_a_log_error(tmp_path) -> None:
    for suffix, wording in ((".csv", "is empty"), (".jsonl", "holds no requests"), (".parquet", "0 bytes")):
        path = tmp_path / f"empty{suffix}"
        path.write_bytes(b"")
        for lenient in (False, True):
            with pytest.raises(uw.LogError) as info:
                uw.load_log(path, lenient=lenient)
            assert info.value.column == "(log)" and wording in str(info.value), str(info.value)


def test_a_truncated_last_csv_line_is_named_and_set_aside(tmp_path) -> None:
    path = tmp_path / "log.csv"
    path.write_text(GOOD + "r3,2026-01-05T12:00:00Z,cy,k1")
    with pytest.raises(uw.LogError) as info:
        uw.load_log(path)
    assert (info.value.column, info.value.rule, info.value.row) == ("model", "is missing", 2)
    assert "'r3'" in str(info.value)
    log = load_recording(path, lenient=True)
    rejected = uw.rejected_rows(log)
    assert list(log["request_id"]) == ["r2", "r1"] and list(rejected["rejected_row"]) == [2]


def test_costs_as_strings_in_csv_and_json(tmp_path) -> None:
    csv = tmp_path / "log.csv"
    csv.write_text(GOOD.replace(",0.25,", ",twenty cents,"))
    with pytest.raises(uw.LogError) as info:
        uw.load_log(csv)
    assert (info.value.column, info.value.row) == ("cost", 1) and "number" in info.value.rule
    jsonl = tmp_path / "log.jsonl"
    record = {"request_id": "r1", "timestamp": "2026-01-05T10:00:00Z", "user_id": "ada", "api_key": "k",
              "model": "gpt-4o", "input_tokens": "100", "output_tokens": 1, "cost": "0.5"}  # fmt: skip
    bad = {**record, "request_id": "r2", "cost": "x"}
    jsonl.write_text(json.dumps(record) + "\n" + json.dumps(bad) + "\n")
    log = load_recording(jsonl, lenient=True)
    assert log["cost"].tolist() == [0.5] and log["input_tokens"].tolist() == [100]
    assert uw.rejected_rows(log)["rejected_reason"].str.startswith("cost").all()


def test_nul_bad_utf8_and_lone_surrogates_in_a_csv_are_shown_escaped(tmp_path) -> None:
    path = tmp_path / "log.csv"
    raw = GOOD.encode().replace(b"ada", b"a\x00da").replace(b"bob", b"b\xed\xa0\x80ob")
    path.write_bytes(raw + b"r3,2026-01-05T12:00:00Z,a\x00db,k\xff,gpt-4o,1,1,0.1,\n")
    log = load_recording(path)
    # "a\0da" and "a\0db" stay two users; nothing is cut at the NUL
    assert sorted(log["user_id"]) == ["a\\u0000da", "a\\u0000db", "b\\udced\\udca0\\udc80ob"]
    assert log.set_index("request_id").loc["r3", "api_key"] == "k\\udcff"
    for name in [*log["user_id"], *log["api_key"]]:
        name.encode("utf-8")  # sendable to a browser


def test_mixed_time_zones_in_one_file_become_utc(tmp_path) -> None:
    path = tmp_path / "log.csv"
    path.write_text(GOOD)
    log = load_recording(path)
    assert log["timestamp"].tolist() == [
        pd.Timestamp("2026-01-05T05:30:00Z"), pd.Timestamp("2026-01-05T10:00:00Z"),
    ]  # fmt: skip


def test_repeated_lines_are_counted_once(tmp_path) -> None:
    path = tmp_path / "log.jsonl"
    line = json.dumps({"request_id": "r1", "timestamp": "2026-01-05T10:00:00Z", "user_id": "ada",
                       "api_key": "k", "model": "gpt-4o", "input_tokens": 1, "output_tokens": 1})  # fmt: skip
    path.write_text((line + "\n") * 3)
    with pytest.warns(uw.LogWarning, match="2 repeated"):
        log = uw.load_log(path)
    assert len(log) == 1 and log.attrs["duplicates_dropped"] == 2


def test_bad_tags_in_a_parquet_file_are_named(tmp_path) -> None:
    path = tmp_path / "log.parquet"
    frame = pd.read_csv(io.StringIO(GOOD), dtype=str, keep_default_na=False)
    frame["tags"] = [["env:prod"], ["not a tag"]]
    frame.to_parquet(path)
    with pytest.raises(uw.LogError) as info:
        uw.load_log(path)
    assert (info.value.column, info.value.row) == ("tags", 1)
    log = load_recording(path, lenient=True)
    assert list(log["request_id"]) == ["r1"] and list(uw.rejected_rows(log)["rejected_row"]) == [1]


def test_a_parquet_file_with_damaged_text_is_named(tmp_path) -> None:
    path = tmp_path / "log.parquet"
    pd.read_csv(io.StringIO(GOOD), dtype=str, keep_default_na=False).to_parquet(path, compression=None)
    raw = path.read_bytes()
    at = raw.index(b"ada")
    path.write_bytes(raw[:at] + b"\xff" + raw[at + 1 :])  # not UTF-8 any more
    for lenient in (False, True):
        with pytest.raises(uw.LogError) as info:
            uw.load_log(path, lenient=lenient)
        assert info.value.column == "(log)"
        assert "column 'user_id' holds text that is not valid UTF-8" in str(info.value)
