"""Reading operations data: minutes, incidents, notices, billing.

Minutes are read column by column (pyarrow for CSV, JSON Lines and Parquet; numpy for
the arithmetic), never row by row in Python. Every bad row is refused, before anything
is computed, with the file, the row and the column: ``minutes.csv: row 3 (line 4),
column 'failures': 7 failures exceed 5 requests``. Up to MAX_REPORTED problems are
listed, then a count of the rest.

Timestamps without an offset are local time of the policy's timezone (§1.5, §1.11.1);
minute timestamps must have zero seconds (a statistics point is a whole minute).
"""
from __future__ import annotations

import datetime as dt
import json
import os
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import yaml

from ..errors import InputError, UsageError
from ..files import load_json, read_limited, regular_file_size, yaml_syntax_diagnostic
from .json_lines import check_lines
from .problems import MAX_REPORTED, Problems, column_names

MAX_LIST_BYTES = 64 * 1024 * 1024  # incidents / notices / claims are small documents
# Minutes and billing files: far beyond any real month (52 M minute rows of CSV are ~2.5 GB),
# low enough to refuse a runaway file before reading it. SLAPOLICY_MAX_INPUT_BYTES overrides.
DEFAULT_MAX_INPUT_BYTES = 64 * 1024 ** 3


def account_name(raw) -> str | None:
    """The account-name rule of every input (minutes, billing, incidents, notices, claims): the text with
    leading and trailing whitespace removed; None when nothing is left, which every reader refuses.

    The columnar readers apply the same rule with pyarrow's ``utf8_trim_whitespace``, which removes exactly
    the characters ``str.strip`` does (a test checks every code point).
    """
    if raw is None:
        return None
    name = str(raw).strip()
    return name or None


def max_input_bytes() -> int:
    """The size limit of minutes and billing files: SLAPOLICY_MAX_INPUT_BYTES, or 64 GiB."""
    text = os.environ.get("SLAPOLICY_MAX_INPUT_BYTES")
    if text is None:
        return DEFAULT_MAX_INPUT_BYTES
    if not text.strip().isdigit():
        raise UsageError(f"SLAPOLICY_MAX_INPUT_BYTES={text!r} is not a whole number of bytes (e.g. 1000000000)")
    return int(text)


def check_input_size(path) -> None:
    limit = max_input_bytes()
    size = os.path.getsize(path)
    if size > limit:
        raise InputError(f"{path}: {size} bytes is above the input size limit of {limit} bytes "
                         "(SLAPOLICY_MAX_INPUT_BYTES raises it)")

MINUTE_COLUMNS = ("account", "minute", "requests", "failures")
OPTIONAL_MINUTE_COLUMNS = ("illegal_number_failures", "peak_qps")
BILLING_COLUMNS = ("account", "month", "monthly_fee", "offset")
OPTIONAL_BILLING_COLUMNS = ("service_start",)
NOTICE_KINDS = ("maintenance", "major_event", "high_concurrency")


# ---------------------------------------------------------------------------- tables

def _format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    raise InputError(f"{path}: unknown format {suffix or '(no extension)'}; use .csv, .jsonl or .parquet")


IN_MEMORY = "(in memory)"


def in_memory_table(data, columns: tuple[str, ...], optional: tuple[str, ...] = ()):
    """A pyarrow Table, a pandas DataFrame or a list of dicts given by a caller of the API, as a table."""
    import pyarrow as pa  # heavy (0.2 s): loaded by the commands that read inputs

    if isinstance(data, list):
        if not all(isinstance(row, dict) for row in data):
            raise InputError(f"{IN_MEMORY}: expected a list of objects (one per row)")
        names = list(dict.fromkeys(key for row in data for key in row))
        data = pa.table({name: pa.array([None if row.get(name) is None else str(row[name]) for row in data], pa.string())
                         for name in names}) if data else pa.table({name: pa.array([], pa.string()) for name in columns})
    elif not isinstance(data, pa.Table):
        try:
            data = pa.Table.from_pandas(data)
        except (TypeError, AttributeError, pa.ArrowException):
            raise InputError(f"{IN_MEMORY}: expected a file path, a pyarrow Table, a DataFrame or a list of rows, "
                             f"not {type(data).__name__}") from None
    names = column_names(data.schema, IN_MEMORY)
    missing = [name for name in columns if name not in names]
    if missing:
        raise InputError(f"{IN_MEMORY}: missing column(s) {', '.join(missing)} (found: {', '.join(names) or 'none'})")
    return data.select([name for name in columns + optional if name in names]), None


def table_of(source, columns: tuple[str, ...], optional: tuple[str, ...] = ()):
    """(table, line offset, name for messages) of a file path or of data handed in by the API."""
    if isinstance(source, (str, Path)):
        table, line_offset = read_table(source, columns, optional)
        return table, line_offset, str(source)
    table, line_offset = in_memory_table(source, columns, optional)
    return table, line_offset, IN_MEMORY


def read_table(path: str | Path, columns: tuple[str, ...], optional: tuple[str, ...] = (), name: str | None = None):
    """Read a CSV / JSON Lines / Parquet file as a pyarrow Table of the named columns.

    Returns (table, line_offset): data row i (1-based) is on line i + line_offset of a
    text file (CSV has a header line; JSON Lines none), or None for Parquet.
    """
    import pyarrow as pa  # heavy (0.2 s): loaded by the commands that read inputs

    path = Path(path)
    kind = _format(path)
    shown = name or str(path)
    regular_file_size(path, f"{kind.upper()} file")
    check_input_size(path)
    try:
        if kind == "csv":
            import pyarrow.csv as pacsv  # heavy (0.2 s): loaded by the commands that read inputs

            wanted = {name: pa.string() for name in columns + optional}
            table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
                column_types=wanted, strings_can_be_null=True, quoted_strings_can_be_null=False))
            line_offset = 1
        elif kind == "jsonl":
            import pyarrow.json as pajson  # heavy (0.2 s): loaded by the commands that read inputs

            check_lines(path, shown)  # a line nested thousands deep crashes pyarrow's reader: refused first
            table = pajson.read_json(path)
            line_offset = 0
        else:
            import pyarrow.parquet as pq  # heavy (0.2 s): loaded by the commands that read inputs

            table = pq.read_table(path)
            line_offset = None
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError, UnicodeDecodeError) as exc:
        message = str(exc).replace("\n", " ")
        raise InputError(f"{shown}: cannot be read as {kind.upper()}: {message}") from None
    names = column_names(table.schema, shown)
    missing = [name for name in columns if name not in names]
    if missing:
        raise InputError(f"{shown}: missing column(s) {', '.join(missing)} (found: {', '.join(names) or 'none'})")
    keep = [name for name in columns + optional if name in table.column_names]
    return table.select(keep), line_offset


# What each minutes column may hold; anything else (lists, structs, bytes, dates) is refused by name.
_MINUTE_TYPES = {"account": ("text", "integer"), "minute": ("text", "timestamp"), "requests": ("integer", "decimal", "text"),
                 "failures": ("integer", "decimal", "text"), "illegal_number_failures": ("integer", "decimal", "text"),
                 "peak_qps": ("integer", "decimal", "text")}
_TYPE_WORDS = {"text": "text", "integer": "whole numbers", "decimal": "numbers", "timestamp": "timestamps"}


def _type_family(kind) -> str | None:
    import pyarrow as pa  # heavy (0.2 s): loaded by the commands that read inputs

    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_null(kind):
        return "text"
    if pa.types.is_integer(kind):
        return "integer"
    if pa.types.is_floating(kind):
        return "decimal"
    if pa.types.is_timestamp(kind):
        return "timestamp"
    return None


def check_minute_types(schema, path) -> None:
    """Refuse, naming the column, a minutes column of a type no reader can take (a list, a struct, bytes, a date)."""
    for name, allowed in _MINUTE_TYPES.items():
        if name not in schema.names:
            continue
        kind = schema.field(name).type
        if _type_family(kind) not in allowed:
            expected = " or ".join(_TYPE_WORDS[a] for a in allowed)
            raise InputError(f"{path}: column '{name}' holds values of type {kind}; expected {expected}")


def _strings(table, name: str) -> np.ndarray:
    """A column as a numpy object array of str (None for missing)."""
    import pyarrow as pa  # heavy (0.2 s): loaded by the commands that read inputs
    import pyarrow.compute as pc  # heavy (0.2 s): loaded by the commands that read inputs

    column = table.column(name)
    if not pa.types.is_string(column.type) and not pa.types.is_large_string(column.type):
        column = pc.cast(column, pa.string())
    return column.to_numpy(zero_copy_only=False)


def _refuse_nested(table, name: str, path) -> None:
    """A column of objects, lists or maps (JSON Lines, Parquet) holds no text or number to read."""
    import pyarrow as pa  # heavy (0.2 s): loaded by the commands that read inputs

    kind = table.schema.field(name).type
    if pa.types.is_nested(kind):
        raise InputError(f"{path}: column '{name}' holds {kind} values, not text or numbers")


def _line(row: int, line_offset: int | None) -> int | None:
    return None if line_offset is None else row + line_offset


_INT_RE = r"^\s*[+-]?[0-9]+\s*$"


def _int_column(table, name: str, problems: Problems, line_offset, required: bool = True) -> np.ndarray:
    """An integer column; bad or missing cells reported with their row."""
    import pyarrow as pa  # heavy (0.2 s): loaded by the commands that read inputs
    import pyarrow.compute as pc  # heavy (0.2 s): loaded by the commands that read inputs

    column = table.column(name)
    if pa.types.is_integer(column.type):
        nulls = column.is_null().to_numpy(zero_copy_only=False) if column.null_count else np.zeros(len(column), bool)
        if column.type == pa.uint64():
            unsigned = column.fill_null(0).to_numpy().astype(np.uint64)
            beyond = unsigned > np.uint64(2 ** 63 - 1)
            _report(beyond, problems, name, line_offset, lambda r: f"{unsigned[r]} is beyond the largest count (2^63 − 1)")
            values = np.where(beyond, 0, unsigned).astype(np.int64)
        else:
            values = _one_array(column.fill_null(0) if column.null_count else column)
            values = values.cast(pa.int64()).to_numpy() if values.type != pa.int64() else values.to_numpy()
    else:
        if pa.types.is_floating(column.type):
            as_float = column.to_numpy(zero_copy_only=False)
            ok = np.isfinite(as_float) & (np.floor(as_float) == as_float) & (np.abs(as_float) < 2 ** 62)
            nulls = np.isnan(as_float) if not required else np.zeros(len(as_float), bool)
            bad = ~ok & ~nulls
            for row in np.flatnonzero(bad)[:MAX_REPORTED]:
                problems.add(int(row) + 1, name, f"{as_float[row]!r} is not a whole number", _line(int(row) + 1, line_offset))
            problems.total += max(0, int(bad.sum()) - MAX_REPORTED)
            return np.where(ok, as_float, 0).astype(np.int64)
        text = column.cast(pa.string()) if not pa.types.is_string(column.type) else column
        nulls = pc.is_null(text).to_numpy(zero_copy_only=False) | pc.equal(pc.utf8_trim_whitespace(text.fill_null("")), "").to_numpy(zero_copy_only=False)
        good = pc.match_substring_regex(text.fill_null(""), _INT_RE).to_numpy(zero_copy_only=False)
        bad = ~good & ~nulls
        strings = None
        for row in np.flatnonzero(bad)[:MAX_REPORTED]:
            strings = strings if strings is not None else text.to_numpy(zero_copy_only=False)
            problems.add(int(row) + 1, name, f"{strings[row]!r} is not a whole number", _line(int(row) + 1, line_offset))
        problems.total += max(0, int(bad.sum()) - MAX_REPORTED)
        cleaned = pc.if_else(pa.array(good & ~nulls), pc.utf8_trim_whitespace(text.fill_null("0")), "0")
        try:
            values = pc.cast(cleaned, pa.int64()).to_numpy(zero_copy_only=False)
        except pa.ArrowInvalid:  # beyond 64 bits
            values = np.zeros(len(good), np.int64)
            problems.add(None, name, "a value does not fit in 64 bits")
    if required:
        for row in np.flatnonzero(nulls)[:MAX_REPORTED]:
            problems.add(int(row) + 1, name, "missing value", _line(int(row) + 1, line_offset))
        problems.total += max(0, int(nulls.sum()) - MAX_REPORTED)
    if len(values) and values.min() < 0:  # a reduction, not a mask, in the common case
        _report(values < 0, problems, name, line_offset, lambda r: f"{values[r]} is negative")
    return values


# ---------------------------------------------------------------------------- timestamps

_STAMP = (r"^(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})[T ](?P<hm>[0-9]{2}:[0-9]{2})"
          r"(?::(?P<sec>[0-9]{2}(?:\.[0-9]+)?))?(?P<off>Z|[+-][0-9]{2}:?[0-9]{2})?$")


def _offset(wall: dt.datetime, zone, fold: int) -> int:
    return int(wall.replace(tzinfo=zone, fold=fold).utcoffset().total_seconds()) // 60


def local_to_utc_minutes(local_minutes: np.ndarray, timezone: str):
    """Wall-clock minutes (as if UTC) of ``timezone`` → (true UTC epoch minutes, wall times that do not
    exist — clocks moved forward —, wall times that exist twice — clocks moved back).

    The offset is looked up once per distinct local hour (a month has at most 745); only an hour
    with a clock change is looked at minute by minute.
    """
    empty = np.zeros(len(local_minutes), bool)
    if len(local_minutes) == 0:
        return local_minutes, empty, empty.copy()
    zone = ZoneInfo(timezone)
    epoch = dt.datetime(1970, 1, 1)
    hours, inverse = np.unique(local_minutes // 60, return_inverse=True)
    inverse = inverse.reshape(-1)
    offsets = np.empty(len(hours), np.int64)
    changing = []
    for i, hour in enumerate(hours):
        start = epoch + dt.timedelta(hours=int(hour))
        seen = {_offset(wall, zone, fold) for wall in (start, start + dt.timedelta(minutes=59)) for fold in (0, 1)}
        if len(seen) == 1:
            offsets[i] = seen.pop()
        else:  # the clocks change within this hour
            offsets[i] = 0
            changing.append(i)
    shift = offsets[inverse]
    missing, twice = empty, empty.copy()
    if changing:
        missing = empty.copy()
        for i in changing:
            rows = np.flatnonzero(inverse == i)
            for minute in np.unique(local_minutes[rows]):
                wall = epoch + dt.timedelta(minutes=int(minute))
                first, second = _offset(wall, zone, 0), _offset(wall, zone, 1)
                at = rows[local_minutes[rows] == minute]
                shift[at] = first
                if first != second:
                    utc = wall - dt.timedelta(minutes=first)
                    back = utc + dt.timedelta(minutes=_offset_at_utc(utc, zone))
                    (missing if back != wall else twice)[at] = True
    return local_minutes - shift, missing, twice


def _offset_at_utc(utc: dt.datetime, zone) -> int:
    return int(utc.replace(tzinfo=dt.timezone.utc).astimezone(zone).utcoffset().total_seconds()) // 60


def parse_minute_column(table, name: str, timezone: str, problems: Problems, line_offset):
    """ISO 8601 minute timestamps → UTC epoch minutes; (values, how many had no offset)."""
    import pyarrow as pa  # heavy (0.2 s): loaded by the commands that read inputs
    import pyarrow.compute as pc  # heavy (0.2 s): loaded by the commands that read inputs

    column = table.column(name)
    if pa.types.is_timestamp(column.type):
        # Seconds and fractions of a second must be zero, whatever the unit: checked on the integers
        # of the column's own unit, never by a cast that would fail or round them away.
        per_minute = UNITS_PER_MINUTE[column.type.unit]
        ticks = _timestamp_ticks(column)
        if column.null_count:
            _report(column.is_null().to_numpy(zero_copy_only=False), problems, name, line_offset, lambda r: "missing value")
        local = ticks // per_minute
        # A multiplication back is several times faster than ``ticks % per_minute`` (numpy divides by a
        # constant quickly, but has no fast remainder).
        _report(local * per_minute != ticks, problems, name, line_offset,
                lambda r: f"{_tick_text(ticks[r], column.type.unit, column.type.tz is not None)} has seconds; a statistics point starts at :00 (§1.5)")
        if column.type.tz is None:  # naive Parquet timestamps are local time of the policy
            utc, missing, twice = local_to_utc_minutes(local, timezone)
            _report_wall_times(missing, twice, local, timezone, name, problems, line_offset)
            return utc, len(local)
        return local, 0
    text = column.cast(pa.string()).fill_null("")
    parts = pc.extract_regex(text, _STAMP)
    matched = pc.is_valid(parts).to_numpy(zero_copy_only=False)
    parts = parts.fill_null({"date": "1970-01-01", "hm": "00:00", "sec": "", "off": ""})
    local = pc.binary_join_element_wise(pc.struct_field(parts, "date"), pc.struct_field(parts, "hm"), "T")
    stamps = pc.strptime(local, format="%Y-%m-%dT%H:%M", unit="s", error_is_null=True)
    # strptime rolls 2019-02-30 over to March 2: a date is valid only if its day survives the parse (a rolled
    # date lands on a smaller day of a later month). Printing each stamp back to compare the text cost 1.4 µs a
    # row (pc.strftime), twenty times the rest of this function.
    day = pc.cast(pc.utf8_slice_codeunits(pc.struct_field(parts, "date"), 8, 10), pa.int64())
    valid_date = pc.fill_null(pc.equal(pc.day(stamps), day), False).to_numpy(zero_copy_only=False)
    local_minutes = stamps.fill_null(0).cast(pa.int64()).to_numpy(zero_copy_only=False) // 60
    # The seconds and offsets written take few distinct values: each is read once, from Arrow's dictionary of
    # them, and the rows keep only its index (sorting the texts of every row cost more than parsing them).
    seconds, second_texts = _distinct_texts(pc.struct_field(parts, "sec"))
    offsets, offset_texts = _distinct_texts(pc.struct_field(parts, "off"))
    raw = None
    for row in np.flatnonzero(~matched | ~valid_date)[:MAX_REPORTED]:
        raw = raw if raw is not None else text.to_numpy(zero_copy_only=False)
        problems.add(int(row) + 1, name, f"{raw[row]!r} is not an ISO 8601 minute (YYYY-MM-DDTHH:MM[:00][offset])",
                     _line(int(row) + 1, line_offset))
    problems.total += max(0, int((~matched | ~valid_date).sum()) - MAX_REPORTED)
    nonzero = np.array([bool(t) and Decimal(t) != 0 for t in second_texts] + [False], bool)[seconds]
    for row in np.flatnonzero(nonzero)[:MAX_REPORTED]:
        raw = raw if raw is not None else text.to_numpy(zero_copy_only=False)
        problems.add(int(row) + 1, name, f"{raw[row]!r} has seconds; a statistics point starts at :00 (§1.5)",
                     _line(int(row) + 1, line_offset))
    problems.total += max(0, int(nonzero.sum()) - MAX_REPORTED)
    naive = np.array([t == "" for t in offset_texts] + [True], bool)[offsets]
    result = np.empty(len(local_minutes), np.int64)
    utc, missing, twice = local_to_utc_minutes(local_minutes[naive], timezone)
    result[naive] = utc
    rows = np.flatnonzero(naive)
    _report_wall_times(np.isin(np.arange(len(result)), rows[missing]), np.isin(np.arange(len(result)), rows[twice]),
                       local_minutes, timezone, name, problems, line_offset)
    if not naive.all():
        shift = np.array([_offset_minutes(t) if t else 0 for t in offset_texts] + [0], np.int64)
        # UTC offsets in use run from −12:00 to +14:00; +25:00 would land the row a day away.
        beyond = (np.abs(shift) > MAX_OFFSET_MINUTES)[offsets] & ~naive
        raw = text.to_numpy(zero_copy_only=False) if beyond.any() else raw
        _report(beyond & matched & valid_date, problems, name, line_offset,
                lambda r: f"{raw[r]!r} has a UTC offset beyond ±14:00")
        result[~naive] = (local_minutes - shift[offsets])[~naive]
    return result, int(naive.sum())


def _distinct_texts(column) -> tuple[np.ndarray, list]:
    """(each row's index into the distinct texts, the distinct texts); a missing text has the last index."""
    import pyarrow as pa  # heavy (0.2 s): loaded by the commands that read inputs

    encoded = column.dictionary_encode()
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    texts = encoded.dictionary.to_pylist()
    return encoded.indices.fill_null(len(texts)).to_numpy(zero_copy_only=False).astype(np.intp), texts


def _report_wall_times(missing, twice, local_minutes, timezone, name, problems, line_offset) -> None:
    """Local times the clock skipped or showed twice cannot be placed without an offset."""
    for mask, why in ((missing, "does not exist (the clocks moved forward)"),
                      (twice, "happens twice (the clocks moved back)")):
        for row in np.flatnonzero(mask)[:MAX_REPORTED]:
            wall = dt.datetime(1970, 1, 1) + dt.timedelta(minutes=int(local_minutes[row]))
            problems.add(int(row) + 1, name, f"{wall:%Y-%m-%dT%H:%M} {why} in {timezone}: give it a UTC offset",
                         _line(int(row) + 1, line_offset))
        problems.total += max(0, int(np.sum(mask)) - MAX_REPORTED)


MAX_OFFSET_MINUTES = 14 * 60


def _offset_minutes(text: str) -> int:
    """'Z', '+08:00', '-0530' → minutes east of UTC (an offset whose minutes exceed 59 reads as beyond ±14:00)."""
    if text == "Z":
        return 0
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:4])
    if minutes > 59:
        return 10 ** 6
    return (-1 if text[0] == "-" else 1) * (hours * 60 + minutes)


UNITS_PER_MINUTE = {"s": 60, "ms": 60_000, "us": 60_000_000, "ns": 60_000_000_000}


def _one_array(column):
    """A column as one Arrow array: its only chunk when it has one, so that ``to_numpy`` is a view of the
    buffer (a chunked column's ``to_numpy`` always copies)."""
    import pyarrow as pa  # heavy (0.2 s): loaded by the commands that read inputs

    if isinstance(column, pa.ChunkedArray):
        return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
    return column


def _timestamp_ticks(column) -> np.ndarray:
    """A timestamp column as int64 counts of its own unit (nulls as 0: the caller reports them)."""
    import pyarrow as pa  # heavy (0.2 s): loaded by the commands that read inputs

    ticks = _one_array(column).view(pa.int64())
    return np.asarray((ticks.fill_null(0) if ticks.null_count else ticks).to_numpy(zero_copy_only=False), np.int64)


def _tick_text(value, unit: str, aware: bool) -> str:
    """A timestamp of the column's unit as ISO 8601 text, with its fraction of a second when there is one."""
    seconds, rest = divmod(int(value), UNITS_PER_MINUTE[unit] // 60)
    text = (dt.datetime(1970, 1, 1) + dt.timedelta(seconds=seconds)).isoformat()
    digits = {"s": 0, "ms": 3, "us": 6, "ns": 9}[unit]
    return text + (f".{rest:0{digits}d}".rstrip("0") if rest else "") + ("Z" if aware else "")


def parse_timestamp(value, timezone: str, where: str = "") -> tuple[dt.datetime, bool]:
    """One ISO 8601 timestamp → (aware datetime, whether the policy timezone was assumed).

    The message of the InputError names ``where`` when given, else only the value and what is wrong with it."""
    def refuse(why: str):
        raise InputError(f"{where}: {value!r} {why}" if where else f"{value!r} {why}")

    if isinstance(value, dt.datetime):
        stamp = value
    elif isinstance(value, str):
        try:
            stamp = dt.datetime.fromisoformat(value.strip().replace("z", "Z"))
        except ValueError:
            refuse("is not an ISO 8601 timestamp")
    else:
        refuse("is not an ISO 8601 timestamp")
    if stamp.tzinfo is None:
        return stamp.replace(tzinfo=ZoneInfo(timezone)), True
    check_offset(stamp.utcoffset(), refuse)
    return stamp, False


def check_offset(offset: dt.timedelta | None, refuse) -> None:
    """UTC offsets in use run from −12:00 to +14:00; Python accepts up to ±23:59, which lands a time a day away."""
    if offset is not None and abs(offset) > dt.timedelta(minutes=MAX_OFFSET_MINUTES):
        refuse("has a UTC offset beyond ±14:00")


# ---------------------------------------------------------------------------- minutes

@dataclass
class MinuteColumns:
    """The checked columns of one table (a whole file, or one batch of it)."""

    accounts: np.ndarray  # sorted distinct account names of this table
    account_index: np.ndarray
    minute: np.ndarray
    requests: np.ndarray
    failures: np.ndarray
    illegal: np.ndarray
    peak_qps: np.ndarray
    has_peak_qps: bool
    naive: int


def check_minute_table(table, timezone: str, problems: Problems, line_offset, account: str | None = None) -> MinuteColumns:
    """Check and convert the columns of a minutes table; problems are recorded, not raised.

    These are the row checks of every reader (:mod:`slapolicy.minutes` calls them on each partition).
    ``account``: the one (trimmed) account every row is known to hold (from the row group's statistics or a
    ``account=`` directory): its column is not decoded then.
    """
    check_minute_types(table.schema, problems.file)
    if account is not None:
        accounts, account_index = np.array([account]), np.zeros(table.num_rows, np.int32)
    else:
        accounts, account_index, missing_account = _account_codes(table)
        _report(missing_account, problems, "account", line_offset, lambda r: "missing value")
    minute, naive = parse_minute_column(table, "minute", timezone, problems, line_offset)
    requests = _int_column(table, "requests", problems, line_offset)
    failures = _int_column(table, "failures", problems, line_offset)
    if "illegal_number_failures" in table.column_names:
        illegal = _int_column(table, "illegal_number_failures", problems, line_offset, required=False)
    else:
        illegal = np.zeros(len(requests), np.int64)
    has_peak = "peak_qps" in table.column_names
    peak = _peak_column(table, problems, line_offset) if has_peak else np.full(len(requests), np.nan)
    _report(failures > requests, problems, "failures", line_offset,
            lambda r: f"{failures[r]} failures exceed {requests[r]} requests")
    _report(illegal > failures, problems, "illegal_number_failures", line_offset,
            lambda r: f"{illegal[r]} illegal-number failures exceed {failures[r]} failures")
    return MinuteColumns(accounts, account_index, minute, requests, failures, illegal, peak, has_peak, naive)


def _account_codes(table):
    """(sorted account names, index of each row's account, rows without an account or None when every row has
    one), by hashing not sorting strings."""
    import pyarrow as pa  # heavy (0.2 s): loaded by the commands that read inputs
    import pyarrow.compute as pc  # heavy (0.2 s): loaded by the commands that read inputs

    column = table.column("account")
    if pa.types.is_dictionary(column.type):  # Parquet usually stores it so: work on the dictionary only
        encoded = column.unify_dictionaries().combine_chunks() if column.num_chunks else None
        if encoded is not None:
            encoded = pa.DictionaryArray.from_arrays(encoded.indices, pc.utf8_trim_whitespace(encoded.dictionary.cast(pa.string())))
            column = None
    if column is not None:
        if not pa.types.is_string(column.type):
            column = column.cast(pa.string())
        column = pc.utf8_trim_whitespace(column.fill_null(""))
        encoded = column.combine_chunks().dictionary_encode() if column.num_chunks else pa.array([], pa.string()).dictionary_encode()
    empty_names = pc.equal(encoded.dictionary, "").to_numpy(zero_copy_only=False)
    dictionary = np.array(encoded.dictionary.to_pylist(), dtype=str)
    if not encoded.null_count and not empty_names.any() and pa.types.is_int32(encoded.indices.type) and \
            (len(dictionary) < 2 or (dictionary[1:] > dictionary[:-1]).all()):
        # The usual Parquet dictionary: names already distinct and in order, every row named. The indices
        # are the codes: a view of the Arrow buffer, no pass over the rows.
        return dictionary, encoded.indices.to_numpy(zero_copy_only=False), None
    indices = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False) if encoded.null_count else encoded.indices.to_numpy(zero_copy_only=False)
    missing = indices < 0
    if empty_names.any():
        missing |= np.isin(indices, np.flatnonzero(empty_names))
    # Sorting the few distinct names (and merging any that trimming made equal) orders the accounts.
    names, rank = np.unique(dictionary, return_inverse=True)
    index = rank.reshape(-1)[np.maximum(indices, 0)] if len(names) else np.zeros(len(indices), np.int64)
    return names, index.astype(np.int32), missing


def _report(mask: np.ndarray | None, problems: Problems, column: str, line_offset, message) -> None:
    if mask is None or not mask.any():  # the common case: one fast pass, no row positions gathered
        return
    for row in np.flatnonzero(mask)[:MAX_REPORTED]:
        problems.add(int(row) + 1, column, message(int(row)), _line(int(row) + 1, line_offset))
    problems.total += max(0, int(mask.sum()) - MAX_REPORTED)


def _peak_column(table, problems: Problems, line_offset) -> np.ndarray:
    import pyarrow as pa  # heavy (0.2 s): loaded by the commands that read inputs
    import pyarrow.compute as pc  # heavy (0.2 s): loaded by the commands that read inputs

    column = table.column("peak_qps")
    if not (pa.types.is_floating(column.type) or pa.types.is_integer(column.type)):
        text = column.cast(pa.string())
        blank = pc.equal(pc.utf8_trim_whitespace(text.fill_null("")), "").to_numpy(zero_copy_only=False)
        good = pc.match_substring_regex(text.fill_null(""), r"^\s*[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?\s*$").to_numpy(zero_copy_only=False)
        strings = text.to_numpy(zero_copy_only=False)
        _report(~good & ~blank, problems, "peak_qps", line_offset, lambda r: f"{strings[r]!r} is not a non-negative number")
        column = pc.if_else(pa.array(good), text, None).cast(pa.float64())
    values = column.cast(pa.float64()).to_numpy(zero_copy_only=False).astype(np.float64)
    bad = ~np.isnan(values) & (~np.isfinite(values) | (values < 0))
    _report(bad, problems, "peak_qps", line_offset, lambda r: f"{values[r]!r} is not a non-negative finite number")
    return values


# ---------------------------------------------------------------------------- incidents and notices

@dataclass(frozen=True)
class Incident:
    id: str
    start: dt.datetime
    end: dt.datetime
    cause: str
    account: str | None
    description: str | None = None


@dataclass(frozen=True)
class Notice:
    id: str
    kind: str
    published_at: dt.datetime
    start: dt.datetime
    end: dt.datetime
    account: str | None


class ByAccount:
    """Incidents or notices indexed by account: an account's evaluation sees its own and those of every account
    (no ``account``), in the order given, never another account's, which can never apply to it. Built once
    for a month of many accounts, so each account's cost does not grow with the other accounts' incidents."""

    def __init__(self, items):
        self.items = tuple(items)
        self._common = [(k, item) for k, item in enumerate(self.items) if item.account is None]
        self._own: dict = {}
        for k, item in enumerate(self.items):
            if item.account is not None:
                self._own.setdefault(item.account, []).append((k, item))

    def of(self, account: str) -> tuple:
        own = self._own.get(account)
        if not own:
            return tuple(item for _, item in self._common)
        return tuple(item for _, item in sorted(self._common + own, key=lambda pair: pair[0]))


def for_account(items, account: str) -> tuple:
    """The incidents or notices (a list, or a :class:`ByAccount`) that concern ``account``."""
    if isinstance(items, ByAccount):
        return items.of(account)
    return tuple(item for item in items if item.account is None or item.account == account)


def read_document(path: Path, what: str) -> str:
    """The text of a small document (incidents, notices, a claim): size-checked, UTF-8 (a BOM is dropped)."""
    raw = read_limited(path, what, MAX_LIST_BYTES)
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError(f"{path}: UTF-16 (it starts with a UTF-16 byte-order mark); save the {what} as UTF-8")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 (byte {exc.start})") from None


def read_list(path: str | Path, kind: str) -> list:
    """A YAML or JSON list of objects (incidents, notices)."""
    path = Path(path)
    text = read_document(path, f"{kind} file")
    suffix = path.suffix.lower()
    if suffix == ".json":
        data = load_json(text, path, parse_float=Decimal)
    elif suffix in (".yaml", ".yml"):
        try:
            data = yaml.load(text, Loader=_StringDatesLoader)
        except yaml.YAMLError as exc:
            found = yaml_syntax_diagnostic(str(path), exc, text)
            raise InputError(f"{path}:{found.line}:{found.col}: {found.message}") from None
        except ValueError as exc:
            raise InputError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None
        except RecursionError:
            raise InputError(f"{path}: nested too deeply") from None
    else:
        raise InputError(f"{path}: unknown format {suffix or '(no extension)'}; use .yaml, .yml or .json")
    if data is None:
        return []
    if not isinstance(data, list):
        raise InputError(f"{path}: expected a list of {kind}, found {type(data).__name__}")
    return data


class _StringDatesLoader(yaml.SafeLoader):
    """SafeLoader that leaves timestamps as strings, so offsets and naive times are ours to read,
    and refuses a key given twice in one mapping (PyYAML would keep the last one silently)."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                try:
                    duplicate = key in seen
                    seen.add(key)
                except TypeError:  # an unhashable key: SafeLoader reports it
                    break
                if duplicate:
                    raise yaml.constructor.ConstructorError(None, None, f"key {key!r} appears twice in one mapping",
                                                            key_node.start_mark)
        return super().construct_mapping(node, deep)


_StringDatesLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in __import__("yaml").SafeLoader.yaml_implicit_resolvers.items()}


def _check_keys(entry, required: tuple, optional: tuple, where: str, problems: Problems, index: int) -> bool:
    if not isinstance(entry, dict):
        problems.add(index, None, f"expected an object with {', '.join(required)}, found {type(entry).__name__}")
        return False
    ok = True
    for key in required:
        if entry.get(key) in (None, ""):
            problems.add(index, key, "missing")
            ok = False
    for key in entry:
        if key not in required + optional:
            problems.add(index, str(key), f"unknown field (expected: {', '.join(required + optional)})")
            ok = False
    return ok


def _window(entry, timezone: str, problems: Problems, index: int):
    """The [start, end) of an incident or notice, or None with the problem recorded."""
    stamps = {}
    for key in ("start", "end"):
        try:
            stamps[key], _ = parse_timestamp(entry[key], timezone)
        except InputError as error:
            problems.add(index, key, str(error))
    if len(stamps) < 2:
        return None
    if stamps["end"] <= stamps["start"]:
        problems.add(index, "end", f"end {entry['end']} is not after start {entry['start']}")
        return None
    return stamps["start"], stamps["end"]


def _ids(entries, problems: Problems) -> None:
    seen = {}
    for index, entry in enumerate(entries, start=1):
        if isinstance(entry, dict) and "id" in entry:
            key = str(entry["id"])
            if key in seen:
                problems.add(index, "id", f"id {key!r} also used in row {seen[key]}")
            seen.setdefault(key, index)


def _entries(source, kind: str) -> tuple[list, str]:
    """The entries of a YAML/JSON list file, or a list handed in by the API."""
    if isinstance(source, (str, Path)):
        return read_list(source, kind), str(source)
    if not isinstance(source, (list, tuple)):
        raise InputError(f"{IN_MEMORY}: {kind} must be a file path or a list of objects, not {type(source).__name__}")
    return list(source), IN_MEMORY


def read_incidents(path, policy, causes=None) -> list[Incident]:
    """Incidents whose causes are those the policy declares (or ``causes``, for several versions at once)."""
    causes = tuple(causes or policy.causes)
    entries, path = _entries(path, "incidents")
    problems = Problems(path, "incidents")
    incidents = []
    for index, entry in enumerate(entries, start=1):
        if not _check_keys(entry, ("id", "start", "end", "cause"), ("account", "description"), str(path), problems, index):
            continue
        if entry["cause"] not in causes:
            problems.add(index, "cause", f"unknown cause {entry['cause']!r}; policy {policy.version} declares: "
                                         f"{', '.join(causes)}")
            continue
        window = _window(entry, policy.timezone, problems, index)
        if window and _event_account(entry, problems, index):
            account = account_name(entry.get("account"))
            incidents.append(Incident(str(entry["id"]), *window, entry["cause"], account, entry.get("description")))
    _ids(entries, problems)
    problems.raise_if_any()
    return incidents


def _event_account(entry, problems: Problems, index: int) -> bool:
    """An incident or notice without ``account`` concerns every account; a blank one is refused, not read as all."""
    if "account" in entry and account_name(entry["account"]) is None:
        problems.add(index, "account", f"{entry['account']!r} is blank; leave the key out to mean every account")
        return False
    return True


def read_notices(path, timezone: str) -> list[Notice]:
    entries, path = _entries(path, "notices")
    problems = Problems(path, "notices")
    notices = []
    for index, entry in enumerate(entries, start=1):
        if not _check_keys(entry, ("id", "kind", "published_at", "start", "end"), ("account", "description"),
                           str(path), problems, index):
            continue
        if entry["kind"] not in NOTICE_KINDS:
            problems.add(index, "kind", f"unknown kind {entry['kind']!r} (one of: {', '.join(NOTICE_KINDS)})")
            continue
        try:
            published, _ = parse_timestamp(entry["published_at"], timezone)
        except InputError as error:
            problems.add(index, "published_at", str(error))
            continue
        window = _window(entry, timezone, problems, index)
        if window and _event_account(entry, problems, index):
            notices.append(Notice(str(entry["id"]), entry["kind"], published, *window, account_name(entry.get("account"))))
    _ids(entries, problems)
    problems.raise_if_any()
    return notices


# ---------------------------------------------------------------------------- billing

_MONTH = re.compile(r"^[0-9]{4}-(0[1-9]|1[0-2])$")
_MONEY = re.compile(r"^[0-9]+(\.[0-9]{1,2})?$")
# Fees are computed with 28 significant digits (Python's decimal default); 15 digits before the point
# (under a thousand trillion) leave room for every product and sum an evaluation makes.
MAX_MONEY_DIGITS = 15


@dataclass(frozen=True)
class BillingRow:
    account: str
    month: str
    monthly_fee: Decimal  # the fee consumed in the Service Month (§1.3)
    offset: Decimal  # the part paid by vouchers, coupons, deductions (§3.1(2))
    service_start: dt.date | None = None  # the account's first day of use, when the billing gives it (§6.1)

    @property
    def fee_paid(self) -> Decimal:
        return self.monthly_fee - self.offset


def read_billing(path) -> dict[tuple[str, str], BillingRow]:
    table, line_offset, name = table_of(path, BILLING_COLUMNS, OPTIONAL_BILLING_COLUMNS)
    problems = Problems(name, "billing")
    for column in BILLING_COLUMNS + OPTIONAL_BILLING_COLUMNS:
        if column in table.column_names:
            _refuse_nested(table, column, name)
    columns = {name: _strings(table, name) for name in BILLING_COLUMNS + OPTIONAL_BILLING_COLUMNS
               if name in table.column_names}
    starts = _service_starts(columns, problems, line_offset)
    rows: dict[tuple[str, str], BillingRow] = {}
    first_row: dict[tuple[str, str], int] = {}
    for i in range(table.num_rows):
        row, line = i + 1, _line(i + 1, line_offset)
        account = columns["account"][i]
        month = columns["month"][i]
        values = {}
        for name in ("monthly_fee", "offset"):
            text = columns[name][i]
            if text is None:  # an empty cell, or one the CSV reader takes for missing (NaN, NA, null)
                problems.add(row, name, "missing value (empty, or NaN, NA or null): an amount of money is needed", line)
                continue
            text = str(text).strip()
            if not _MONEY.match(text):
                problems.add(row, name, f"{text!r} is not an amount of money (a decimal like 1000.00)", line)
                continue
            if len(text.split(".")[0].lstrip("0")) > MAX_MONEY_DIGITS:
                problems.add(row, name, f"{text!r} has more than {MAX_MONEY_DIGITS} digits before the point: "
                                        "not a monthly fee", line)
                continue
            values[name] = Decimal(text)
        account = account_name(account)
        if account is None:
            problems.add(row, "account", "missing value", line)
            continue
        if month is None or not _MONTH.match(str(month).strip()):
            problems.add(row, "month", f"{month!r} is not a month written YYYY-MM", line)
            continue
        if len(values) < 2:
            continue
        if values["offset"] > values["monthly_fee"]:
            problems.add(row, "offset", f"offset {values['offset']} exceeds the monthly fee {values['monthly_fee']}", line)
            continue
        key = (account, str(month).strip())
        if key in rows:
            problems.add(row, "month", f"account {key[0]!r} month {key[1]} also billed in row {first_row[key]}", line)
            continue
        start = starts.get(account)
        if start is not None and key[1] < f"{start.year:04d}-{start.month:02d}":
            problems.add(row, "month", f"{key[1]} is billed before the account's service_start {start.isoformat()}", line)
            continue
        first_row[key] = row
        rows[key] = BillingRow(key[0], key[1], values["monthly_fee"], values["offset"], start)
    problems.raise_if_any()
    return rows


def _service_starts(columns: dict, problems: Problems, line_offset) -> dict:
    """account → its service_start date (§6.1's first month of use); every row that gives one must agree."""
    if "service_start" not in columns:
        return {}
    starts, first_row = {}, {}
    for i, (raw_account, text) in enumerate(zip(columns["account"], columns["service_start"])):
        account = account_name(raw_account)
        text = "" if text is None else str(text).strip()
        if account is None or not text:
            continue
        row, line = i + 1, _line(i + 1, line_offset)
        try:
            day = dt.date.fromisoformat(text) if len(text) == 10 else None
        except ValueError:
            day = None
        if day is None:
            problems.add(row, "service_start", f"{text!r} is not a date written YYYY-MM-DD", line)
        elif account in starts and starts[account] != day:
            problems.add(row, "service_start", f"account {account!r} starts on {day.isoformat()} here but on "
                                               f"{starts[account].isoformat()} in row {first_row[account]}", line)
        else:
            starts.setdefault(account, day)
            first_row.setdefault(account, row)
    return starts

