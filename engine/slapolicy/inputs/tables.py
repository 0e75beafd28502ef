"""Tables of minutes and billing: a CSV, JSON Lines or Parquet file (or a table given in memory) read as a
pyarrow Table of the named columns, within the input size limit; and the row checks of minutes, written once
for every reader (``check_minute_table``: the column types, the account names, whole counts, no more failures
than requests, timestamps through ``timestamps``).

Minutes are read column by column (pyarrow for CSV, JSON Lines and Parquet; numpy for
the arithmetic), never row by row in Python. Every bad row is refused, before anything
is computed, with the file, the row and the column: ``minutes.csv: row 3 (line 4),
column 'failures': 7 failures exceed 5 requests``. Up to MAX_REPORTED problems are
listed, then a count of the rest.
"""
from __future__ import annotations

import math
import os
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import numpy as np

from ..distributed import python_handles_ctrl_c
from ..errors import InputError, UsageError
from ..files import (BEYOND_FLOAT, LONE_SURROGATE, FileProblem, regular_file_size, typed_number, valid_unicode,
                     wide_encoding)
from ..limits import exhausted
from .json_lines import TEXT_COLUMNS, UTF8_MARK, as_written, by_line, check_lines, read_json_as_written
from .problems import (IN_MEMORY, INPUT_COLUMNS, MAX_REPORTED, InlineRows, Problems, _line, _report, cell_of,
                       column_names, missing_columns, where_given)
from .timestamps import _one_array, consecutive_minutes, parse_minute_column

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


def account_forms(name: str) -> frozenset:
    """``name`` and the same text in Unicode's two canonical forms (NFC, NFD): 'café' written with é (U+00E9) or
    with e and a combining acute (U+0065 U+0301), as two systems may export one account. A reading asked for one
    of them reads all of them, so that another form in the minutes is found and refused (``refuse_two_forms``)."""
    if name.isascii():
        return frozenset((name,))
    return frozenset((name, unicodedata.normalize("NFC", name), unicodedata.normalize("NFD", name)))


def refuse_two_forms(named) -> None:
    """Refuse two account names that are the same text in two Unicode forms (``account_forms``): read as written,
    they counted as two accounts, each with its own minutes, billing, incidents and money, and summing them would
    decide which form is the account in place of whoever wrote them. ``named``: (where, account names) of each
    input, in the order they are named (docs/cli.md#account-names)."""
    seen: dict = {}
    for where, names in named:
        for name in names:
            if name is None or name.isascii():
                continue
            first = seen.setdefault(unicodedata.normalize("NFC", name), (name, where))
            if first[0] != name:
                at = f"in {first[1]}" if first[1] == where else f"in {first[1]} and {where}"
                raise InputError(f"accounts {ascii(first[0])} and {ascii(name)} {at} are the same name written in two "
                                 "Unicode forms (composed and decomposed accents): they would count as two accounts, "
                                 "each with its own minutes and money; write the name one way (composed, NFC) in every "
                                 "input")


NOT_AN_ACCOUNT = "is not an account name: write the name as text (a whole number is read as its digits)"


def typed_account_problem(value) -> str | None:
    """Why a typed value (JSON, YAML, a row or argument handed in by Python) cannot name an account, or None.

    The one rule of every typed input (docs/cli.md#account-names): a name is text, or a whole number read as its
    digits (1000 is account "1000", as a JSON Lines or Parquet column of whole numbers is read); a number with a
    fraction or an exponent (1000.0, 1e3) or true/false is refused: read as Python writes it ("1000.0", "True")
    it named an account no other input does.
    """
    if isinstance(value, bool):
        return f"{'true' if value else 'false'} {NOT_AN_ACCOUNT}"
    if isinstance(value, (float, Decimal)):
        return f"{value} {NOT_AN_ACCOUNT}"
    return None


def max_input_bytes() -> int:
    """The size limit of minutes and billing files: SLAPOLICY_MAX_INPUT_BYTES, or 64 GiB."""
    text = os.environ.get("SLAPOLICY_MAX_INPUT_BYTES")
    if text is None:
        return DEFAULT_MAX_INPUT_BYTES
    try:
        limit = typed_number(text)
    except ValueError:
        limit = -1
    if limit < 0 or not text.strip().isdigit():  # "+5" and "5_000" are ints too, but not a number of bytes as written
        raise UsageError(f"SLAPOLICY_MAX_INPUT_BYTES={text!r} is not a whole number of bytes (e.g. 1000000000)")
    return limit


def check_input_size(path) -> None:
    """Refuse a local minutes or billing file above the input size limit (:func:`check_size`)."""
    check_size(path, os.path.getsize(path))


def check_size(shown, size: int | None) -> None:
    """Refuse an input of ``size`` bytes (None: its store does not say) above SLAPOLICY_MAX_INPUT_BYTES, naming it
    ``shown`` (its path or URL)."""
    limit = max_input_bytes()
    if size is not None and size > limit:
        raise InputError(f"{shown}: {size} bytes is above the input size limit of {limit} bytes "
                         "(SLAPOLICY_MAX_INPUT_BYTES raises it)")

MINUTE_COLUMNS, OPTIONAL_MINUTE_COLUMNS = INPUT_COLUMNS["minutes"][:2]


# ---------------------------------------------------------------------------- tables

def _format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    if not os.path.lexists(path):  # a file missing is said so, whatever its name (incidents' and notices' alike)
        raise FileProblem(path, "missing", "no such file")
    json = ": JSON Lines, one object a line, is read from a file named .jsonl or .ndjson" if suffix == ".json" else ""
    raise InputError(f"{path}: unknown format {suffix or '(no extension)'}; use .csv, .jsonl or .parquet{json}")


# What a file named .csv or .jsonl holds when it begins with these bytes, and what to do instead.
_NOT_TEXT = (
    (b"\x1f\x8b", "a gzip-compressed file", "decompress it first (gunzip)"),
    (b"PK\x03\x04", "a zip archive (or an Excel workbook)", "extract the file from it, or save the sheet as CSV"),
    (b"PAR1", "a Parquet file", "name it .parquet"),
    (b"BZh", "a bzip2-compressed file", "decompress it first (bunzip2)"),
    (b"\x28\xb5\x2f\xfd", "a zstd-compressed file", "decompress it first (unzstd)"),
    (b"\xfd7zXZ\x00", "an xz-compressed file", "decompress it first (unxz)"),
)
# Text in another encoding than UTF-8 (files.wide_encoding): Windows PowerShell's Export-Csv and Out-File, and Excel's
# "Unicode Text", write UTF-16. With its byte order mark it was an internal error (exit 3) from the reading that names
# a CSV line ("new-line character seen in unquoted field"); without one, "Expected 4 columns, got 1: \x00".
_WIDE_ADVICE = {
    "UTF-16": "slapolicy reads UTF-8: save it as UTF-8 (Excel: CSV UTF-8; PowerShell: -Encoding utf8) or convert it "
              "(iconv -f UTF-16 -t UTF-8)",
    "UTF-32": "slapolicy reads UTF-8: convert it (iconv -f UTF-32 -t UTF-8)",
}


def refuse_binary(path, kind: str) -> None:
    """A local CSV or JSON Lines file that begins as a compressed file, an archive or a Parquet file is refused by
    what it is: it was read as text, and refused in words about its bytes (a header "not UTF-8 (byte 0x8b)", a
    line of 1 value where the header names 4 columns, quoting the binary); so is text in UTF-16 or UTF-32. 32 bytes
    read, once a file."""
    try:
        with open(path, "rb") as handle:
            start = handle.read(32)
    except OSError:  # named by the reading that follows, as before
        return
    text = "CSV" if kind == "csv" else "JSON Lines"
    for magic, what, advice in _NOT_TEXT:
        if start.startswith(magic):
            raise InputError(f"{path}: {what}, not {text} text: {advice}")
    if encoding := wide_encoding(start):
        raise InputError(f"{path}: a {encoding} file, not {text} text: {_WIDE_ADVICE[encoding]}")


def in_memory_table(data, columns: tuple[str, ...], optional: tuple[str, ...] = ()):
    """A pyarrow Table, a pandas DataFrame or a list of dicts given by a caller of the API, as a table."""
    import pyarrow as pa  # heavy (0.2 s): loaded by the commands that read inputs

    where = where_given(data, _input_of_columns(columns))
    if isinstance(data, list):
        if not all(isinstance(row, dict) for row in data):
            raise InputError(f"{where}: expected a list of objects (one per row)")
        found = list(dict.fromkeys(key for row in data for key in row)) if data else list(columns)
        missing = [name for name in columns if name not in found]
        if missing:  # said as a table's or a file's are ('Account' named with the name meant)
            raise InputError(missing_columns(where, missing, [str(name) for name in found]))
        # Only the columns read are made (the others are never looked at, as a CSV file's other columns): each is a
        # pass over every row, and rows of a key each (a request to `slapolicy serve` of 8,000 rows, 0.7 MB) made
        # 8,000 columns of 8,000 rows, 8 s of CPU.
        kept = [name for name in columns + optional if name in found]
        data = pa.table({name: _text_column(data, name, where) for name in kept}) if data else \
            pa.table({name: pa.array([], pa.string()) for name in columns})
    elif not isinstance(data, pa.Table):
        try:
            data = pa.Table.from_pandas(data)
        except (TypeError, AttributeError, pa.ArrowException):
            raise InputError(f"{where}: expected a file path, a pyarrow Table, a DataFrame or a list of rows, "
                             f"not {type(data).__name__}") from None
    names = column_names(data.schema, where)
    missing = [name for name in columns if name not in names]
    if missing:
        raise InputError(missing_columns(where, missing, names))
    return data.select([name for name in columns + optional if name in names]), None


def _text_column(rows: list[dict], name: str, where: str):
    """One column of rows handed in by the API, as text (each value checked as the file's text would be); ``where``:
    where the rows are said to be (:func:`~slapolicy.inputs.problems.where_given`)."""
    import pyarrow as pa  # heavy: loaded by the commands that read inputs

    # Text and plain numbers, nearly every value, are taken inline: a call of _cell_text for each made the rows of an
    # evaluation in memory (300,000 of them) take 0.55 s of CPU to become columns where 0.21 s did before it.
    plain = _WHOLE_NUMBERS if name == "account" else _PLAIN_NUMBERS  # an account's float is refused by _cell_text
    values = [value if value is None or value.__class__ is str else str(value) if value.__class__ in plain and
              value == value else _cell_text(value, i, name, where) for i, row in enumerate(rows, 1) for value in (row.get(name),)]
    try:
        return pa.array(values, pa.string())
    except UnicodeEncodeError:  # a lone surrogate ('\ud800'): a file's text is UTF-8 and cannot hold one
        row = next(i for i, value in enumerate(values, 1) if value is not None and not valid_unicode(value))
        raise InputError(f"{cell_of(where, row, name)} {LONE_SURROGATE}") from None


_PLAIN_NUMBERS = frozenset({int, float})  # exactly these (not bool, an int): their text is str(value), as _cell_text's
_WHOLE_NUMBERS = frozenset({int})


def _cell_text(value, row: int, name: str, where: str) -> str | None:
    """A value of a row handed in by the API (or sent as JSON to ``slapolicy serve``) as a file would hold it: a
    number or text as written, true and false as JSON writes them. An object or a list holds no text or number: it
    was read as Python's repr of it (an account named "{'a': 1}"), and is refused as a file's nested column is."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, float) and math.isnan(value):  # a missing value, as pandas writes one (to_dict): as None
        return None
    if name == "account" and (problem := typed_account_problem(value)):
        raise InputError(f"{cell_of(where, row, 'account')}: {problem}")
    if isinstance(value, bool):
        return "true" if value else "false"  # Python's True is not the word a JSON client wrote
    if isinstance(value, (dict, list, tuple, set, frozenset)):
        kind = "an object" if isinstance(value, dict) else "a list"
        raise InputError(f"{cell_of(where, row, name)} holds {kind}, not text or a number")
    return str(value)


def table_of(source, columns: tuple[str, ...], optional: tuple[str, ...] = ()):
    """(table, line offset, name for messages) of a file path or of data handed in by the API."""
    if isinstance(source, (str, Path)):
        table, line_offset = read_table(source, columns, optional)
        return table, line_offset, str(source)
    table, line_offset = in_memory_table(source, columns, optional)
    return table, line_offset, where_given(source, _input_of_columns(columns))


def _input_of_columns(columns: tuple[str, ...]) -> str:
    """The input (minutes, billing) whose required columns are ``columns``: the argument data of it was handed as."""
    return next(kind for kind, (required, _, _) in INPUT_COLUMNS.items() if tuple(required) == tuple(columns))


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
    if kind != "parquet":
        refuse_binary(path, kind)
    try:
        if kind == "csv":
            import pyarrow.csv as pacsv  # heavy (0.2 s): loaded by the commands that read inputs

            python_handles_ctrl_c()  # read_csv's own SIGINT handler could lose a Ctrl-C
            wanted = {name: pa.string() for name in columns + optional}
            options = pacsv.ConvertOptions(column_types=wanted, strings_can_be_null=True, quoted_strings_can_be_null=False)
            try:
                table = pacsv.read_csv(path, convert_options=options)
            except pa.ArrowInvalid as exc:
                from .csv_lines import no_row  # the error path's own module

                text = no_row(lambda: open(path, "rb"), str(exc))
                if text is None:
                    raise
                # A file of no row, as the minutes' (a header without its line end, or nothing at all).
                table = pacsv.read_csv(pa.BufferReader(text), convert_options=options) if text else _no_rows(columns)
            line_offset = 1
        elif kind == "jsonl":
            import pyarrow.json as pajson  # heavy (0.2 s): loaded by the commands that read inputs

            lines = check_lines(path, shown)  # a line nested thousands deep crashes pyarrow's reader: refused first
            if not len(lines):  # no object (empty, or blank lines): a file of no row, as the minutes'
                return _no_rows(columns), 0
            whole = max(1 << 20, path.stat().st_size + 1)  # one block: pyarrow's "in row K" counts from the file's start
            with open(path, "rb") as stream:
                marked = stream.read(len(UTF8_MARK)) == UTF8_MARK
            # A byte order mark, which pyarrow's reader refuses, is read past as the lines were checked (a small file)
            source = pa.py_buffer(path.read_bytes()[len(UTF8_MARK):]) if marked else str(path)
            try:
                table = read_json_as_written(source, TEXT_COLUMNS, pajson.ReadOptions(block_size=min(whole, 1 << 30)))
            except pa.ArrowInvalid as exc:
                located = by_line(str(exc).splitlines()[0], lines) if whole <= 1 << 30 else None
                if located is None:
                    raise
                raise InputError(f"{shown}: cannot be read as JSONL: {located}") from None
            line_offset = 0
        else:
            import pyarrow.parquet as pq  # heavy (0.2 s): loaded by the commands that read inputs

            table = pq.read_table(path)
            line_offset = None
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError, UnicodeDecodeError) as exc:
        if exhausted(exc):  # the machine's limit (open files), not the file's fault: said as such (slapolicy.limits)
            raise
        message = str(exc).replace("\n", " ")
        if kind == "csv" and isinstance(exc, pa.ArrowInvalid):  # pyarrow names no line: found by reading again
            from .csv_lines import located  # the error path's own module

            message = located(lambda: open(path, "rb"), str(exc)) or message
        raise InputError(f"{shown}: cannot be read as {kind.upper()}: {message}") from None
    names = column_names(table.schema, shown, columns if kind == "csv" else ())
    if kind == "jsonl":
        names = as_written(table, names, columns)
    missing = [name for name in columns if name not in names]
    if missing:
        raise InputError(missing_columns(shown, missing, names, separated=kind == "csv"))
    keep = [name for name in columns + optional if name in table.column_names]
    return table.select(keep), line_offset


def _no_rows(columns: tuple[str, ...]):
    """The table of a text file that holds no row and names no column (an empty file): the columns, no row."""
    import pyarrow as pa  # heavy (0.2 s): loaded by the commands that read inputs

    return pa.table({name: pa.array([], pa.string()) for name in columns})


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
    if pa.types.is_floating(kind) or pa.types.is_decimal(kind):  # decimal: a warehouse's NUMBER(38, 0), say
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
        if name == "account" and whole_decimal(kind):
            continue  # a warehouse's NUMBER(38, 0): whole numbers, read as their digits as integers are
        if _type_family(kind) not in allowed:
            expected = " or ".join(_TYPE_WORDS[a] for a in allowed)
            epoch = ("; a count of seconds or milliseconds since 1970 is not read: write the minute as text with its "
                     "offset (2019-03-12T09:00+08:00), or as timestamps in UTC (pa.timestamp('s', tz='UTC'))"
                     if name == "minute" and _type_family(kind) in ("integer", "decimal") else "")
            raise InputError(f"{path}: column '{name}' holds values of type {kind}; expected {expected}{epoch}")


def whole_decimal(kind) -> bool:
    """Whether a column type is a decimal of whole numbers (scale 0)."""
    import pyarrow as pa  # heavy (0.2 s): loaded by the commands that read inputs

    return pa.types.is_decimal(kind) and kind.scale == 0


def floating_accounts(kind) -> bool:
    """Whether an account column of this type holds numbers that may have a fraction (floats, decimals of scale > 0)."""
    import pyarrow as pa  # heavy (0.2 s): loaded by the commands that read inputs

    return pa.types.is_floating(kind) or (pa.types.is_decimal(kind) and not whole_decimal(kind))


def refuse_floating_accounts(column, path, place) -> None:
    """Refuse an account column of floating-point numbers (or decimals with a fraction) of a typed input (Parquet, JSON
    Lines, a DataFrame), naming the rows that show why, and what to write instead. By the rule of typed accounts
    (``typed_account_problem``) no such value names an account; and the column, refused by its type alone ("holds
    values of type double"), left its reader to find the rows: most often a column of whole numbers with a missing
    value, which pandas and JSON writers make floating-point. ``column``: the pyarrow column; ``place(i)``: 'row N' or
    'row N (line L)' of its i-th value. The billing's account column too: it read 1000.0 as account '1000'."""
    import pyarrow as pa  # heavy (0.2 s): loaded by the commands that read inputs

    kind = column.type
    if not floating_accounts(kind):
        return
    values = (column if pa.types.is_floating(kind) else column.cast(pa.float64())).to_numpy(zero_copy_only=False)
    values = np.asarray(values, np.float64)
    missing = np.isnan(values)
    telling = np.flatnonzero(missing | (~missing & (np.floor(np.where(missing, 0, values)) != values)))
    shown = [f"{place(int(i))} is {'missing' if missing[i] else repr(float(values[i]))}" for i in telling[:3]]
    more = f" and {len(telling) - 3} more" if len(telling) > 3 else ""
    why = f": {', '.join(shown)}{more}" if shown else \
        f", whole numbers read as floats ({place(0)} is {float(values[0])!r})" if len(values) else ""
    raise InputError(f"{path}: column 'account' holds floating-point numbers ({kind}){why}; an account is named by "
                     "text or a whole number: write the column as text or as whole numbers (a column of whole numbers "
                     "with one missing is written as floating point: fill in or drop the rows without an account)")


def _strings(table, name: str) -> np.ndarray:
    """A column as a numpy object array of str (None for missing)."""
    import pyarrow as pa  # heavy (0.2 s): loaded by the commands that read inputs

    column = table.column(name)
    if not pa.types.is_string(column.type) and not pa.types.is_large_string(column.type):
        column = column.cast(pa.string())  # loads pyarrow.compute (see _account_codes): text needs no cast
    return column.to_numpy(zero_copy_only=False)


def _refuse_nested(table, name: str, path) -> None:
    """A column of objects, lists or maps (JSON Lines, Parquet) holds no text or number to read."""
    import pyarrow as pa  # heavy (0.2 s): loaded by the commands that read inputs

    kind = table.schema.field(name).type
    if pa.types.is_nested(kind):
        raise InputError(f"{path}: column '{name}' holds {kind} values, not text or numbers")


_INT_RE = r"^\s*[+-]?[0-9]+\s*$"
_THOUSANDS = re.compile(r"\s*[+-]?[0-9]{1,3}(,[0-9]{3})+\s*")


def _separated(text: str) -> str:
    """': write it without separators (1000)' for a count written with thousands separators, as a spreadsheet
    formats a number ('1,000', quoted in CSV): it was refused as "not a whole number", leaving the reader to guess
    which of its characters was wrong. An error path only."""
    return f": write it without separators ({text.strip().replace(',', '')})" if _THOUSANDS.fullmatch(text) else ""
# A whole number written with a zero fraction: what pandas writes of a column of counts made floating point by one
# missing value (DataFrame.to_csv: 100.0), and a warehouse of a NUMBER(38, 2). Read as the number, in text as in a
# float or decimal column (a JSON Lines 100.0, a Parquet double): '100.0' in a CSV file was refused, 100.0 beside it
# in JSON Lines read.
_ZERO_FRACTION = (r"^(\s*[+-]?[0-9]+)\.0+(\s*)$", r"\1\2")


def _int_column(table, name: str, problems: Problems, line_offset, required: bool = True,
                negatives: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """An integer column, and the mask of its rows refused (None when none is, the common case); bad or missing
    cells reported with their row (negative ones too, unless ``negatives`` is False: the caller has proven there
    are none). A refused row's value is not its count (0, or the negative written): no other check compares it."""
    import pyarrow as pa  # heavy (0.2 s): loaded by the commands that read inputs

    reported = problems.total  # no problem added: no mask gathered (the common case, one comparison)
    refused = []  # masks of the rows refused, kept only to be combined when one was
    column = table.column(name)
    if pa.types.is_integer(column.type):
        nulls = column.is_null().to_numpy(zero_copy_only=False) if column.null_count else None  # None: no pass
        if column.type == pa.uint64():
            unsigned = column.fill_null(0).to_numpy().astype(np.uint64)
            beyond = unsigned > np.uint64(2 ** 63 - 1)
            _report(beyond, problems, name, line_offset, lambda r: f"{unsigned[r]} is beyond the largest count (2^63 − 1)")
            refused.append(beyond)
            values = np.where(beyond, 0, unsigned).astype(np.int64)
        else:
            values = _one_array(column.fill_null(0) if column.null_count else column)
            values = values.cast(pa.int64()).to_numpy() if values.type != pa.int64() else values.to_numpy()
    else:
        if pa.types.is_floating(column.type):
            as_float = column.to_numpy(zero_copy_only=False)
            ok = np.isfinite(as_float) & (np.floor(as_float) == as_float) & (np.abs(as_float) < 2 ** 63)  # as int64 holds
            nulls = np.isnan(as_float) if not required else np.zeros(len(as_float), bool)
            bad = ~ok & ~nulls
            for row in np.flatnonzero(bad)[:MAX_REPORTED]:
                problems.add(int(row) + 1, name, _not_a_count(float(as_float[row])), _line(int(row) + 1, line_offset))
            problems.total += max(0, int(bad.sum()) - MAX_REPORTED)
            return np.where(ok, as_float, 0).astype(np.int64), (bad if problems.total > reported else None)
        import pyarrow.compute as pc  # text only: whole numbers read as they are need none (see _account_codes)

        text = column.cast(pa.string()) if not pa.types.is_string(column.type) else column
        if pa.types.is_decimal(column.type):  # a count of a NUMBER(38, 2) column is written 100.00: a whole number
            text = pc.replace_substring_regex(text, r"\.0+$", "")
        nulls = pc.is_null(text).to_numpy(zero_copy_only=False) | pc.equal(pc.utf8_trim_whitespace(text.fill_null("")), "").to_numpy(zero_copy_only=False)
        good = pc.match_substring_regex(text.fill_null(""), _INT_RE).to_numpy(zero_copy_only=False)
        if not (good | nulls).all():  # only then: the fraction's pass would cost every text column of a CSV file
            text = pc.replace_substring_regex(text, *_ZERO_FRACTION)
            good = pc.match_substring_regex(text.fill_null(""), _INT_RE).to_numpy(zero_copy_only=False)
        bad = ~good & ~nulls
        strings = None
        for row in np.flatnonzero(bad)[:MAX_REPORTED]:
            strings = strings if strings is not None else text.to_numpy(zero_copy_only=False)
            problems.add(int(row) + 1, name, f"{strings[row]!r} is not a whole number{_separated(strings[row])}",
                         _line(int(row) + 1, line_offset))
        problems.total += max(0, int(bad.sum()) - MAX_REPORTED)
        refused.append(bad)
        cleaned = pc.if_else(pa.array(good & ~nulls), pc.utf8_trim_whitespace(text.fill_null("0")), "0")
        try:
            values = pc.cast(cleaned, pa.int64()).to_numpy(zero_copy_only=False)
        except pa.ArrowInvalid:  # beyond 64 bits, or a sign '+' pyarrow's cast refuses (exit 3): those rows are named,
            # the others read (a rare pass in Python)
            cleaned = pc.replace_substring_regex(cleaned, r"^\+", "")
            texts = cleaned.to_numpy(zero_copy_only=False)
            wide = np.array([not -2 ** 63 <= int(t) < 2 ** 63 for t in texts], bool)
            _report(wide, problems, name, line_offset, lambda r: f"{texts[r]} is negative" if texts[r].startswith("-")
                    else f"{texts[r].lstrip('+')} is beyond the largest count (2^63 − 1)")
            values = pc.cast(pc.if_else(pa.array(~wide), cleaned, "0"), pa.int64()).to_numpy(zero_copy_only=False)
            refused.append(wide)
    if required:
        _report(nulls, problems, name, line_offset, lambda r: "missing value")
        refused.append(nulls)
    if negatives and len(values) and values.min() < 0:  # a reduction, not a mask, in the common case
        _report(values < 0, problems, name, line_offset, lambda r: f"{values[r]} is negative")
        refused.append(values < 0)
    if problems.total == reported:
        return values, None
    return values, np.logical_or.reduce([mask for mask in refused if mask is not None] or [np.zeros(len(values), bool)])


def _not_a_count(value: float) -> str:
    """Why a number read as a float is no count: a JSON Lines 18446744073709551616 (beyond 64 bits, so read as a
    float) was "1.8446744073709552e+19 is not a whole number", words its writer never wrote of a whole number."""
    if math.isinf(value):  # pyarrow's reading of a JSON Lines count of 400 digits, say: "inf" was never written
        return BEYOND_FLOAT
    if math.isnan(value):  # a column of floats marks a missing count so: it was "nan is not a whole number"
        return "missing value (NaN)"
    if math.isfinite(value) and value == math.floor(value):
        return f"{value:.0f} is negative" if value < 0 else f"{value:.0f} is beyond the largest count (2^63 − 1)"
    return f"{value!r} is not a whole number"


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
    minute_runs: np.ndarray | None = None  # where each run of one minute begins, when the column was read so
    # How many problems refused a row's account or minute (0: none): those rows' codes and minutes are not what was
    # written, so a minute listed twice can be told only in a table whose account and minute columns were read whole.
    keys_refused: int = 0
    naive_rows: np.ndarray | None = None  # which rows had no UTC offset, when only some had none (else: naive says)
    # Where each account's rows begin, when each account's rows are one run of consecutive whole minutes, the
    # accounts in order (row groups of one account each, written minute by minute: timestamps.consecutive_minutes):
    # the rows are then in account order and list no minute twice, without a pass over them to say so.
    account_runs: np.ndarray | None = None


def check_minute_table(table, timezone: str, problems: Problems, line_offset, account: str | tuple | None = None,
                       bounds: dict | None = None) -> MinuteColumns:
    """Check and convert the columns of a minutes table; problems are recorded, not raised.

    These are the row checks of every reader (:mod:`slapolicy.minutes` calls them on each partition).
    ``account``: the one (trimmed) account every row is known to hold (from the row group's statistics or a
    ``account=`` directory), or (account, rows) of consecutive runs of rows (row groups of one account each):
    its column is not decoded then. ``bounds``: {count column: (least, greatest)} every row's value is known to
    lie within (a Parquet row group's statistics): what they prove is not checked row by row.
    """
    if "account" in table.column_names:
        refuse_floating_accounts(table.column("account"), problems.file, lambda i: _place(problems, i, line_offset))
    check_minute_types(table.schema, problems.file)
    before = problems.total
    runs = None  # the rows of each account in turn, when each account's are one run, the accounts in order
    if isinstance(account, str):
        accounts, account_index = np.array([account]), np.zeros(table.num_rows, np.int32)
        runs = [table.num_rows]
    elif account is not None:
        accounts, rank = np.unique(np.array([name for name, _ in account], str), return_inverse=True)
        rank = rank.reshape(-1)
        account_index = np.repeat(rank.astype(np.int32), [rows for _, rows in account])
        runs = [rows for _, rows in account] if (rank[1:] > rank[:-1]).all() else None
    else:
        accounts, account_index, missing_account = _account_codes(table)
        _report(missing_account, problems, "account", line_offset, lambda r: "missing value")
    minute = consecutive_minutes(table.column("minute"), runs) if runs and "minute" in table.column_names else None
    if minute is not None:
        naive, minute_runs, naive_rows, account_runs = 0, None, None, np.cumsum([0] + runs[:-1])
    else:
        minute, naive, minute_runs, naive_rows = parse_minute_column(table, "minute", timezone, problems, line_offset)
        account_runs = None
    keys_refused = problems.total - before
    ordered = _counts_in_order(table, bounds or {})  # then no count is negative, nor exceeds the one before it
    requests, requests_refused = _int_column(table, "requests", problems, line_offset, negatives=not ordered)
    failures, failures_refused = _int_column(table, "failures", problems, line_offset, negatives=not ordered)
    illegal_refused = None
    if "illegal_number_failures" in table.column_names:
        illegal, illegal_refused = _int_column(table, "illegal_number_failures", problems, line_offset,
                                               required=False, negatives=not ordered)
    else:  # every row 0 (a column left out, or not decoded: see readers._batches): one 0 seen as many
        illegal = np.broadcast_to(np.int64(0), len(requests))
    has_peak = "peak_qps" in table.column_names
    # Without the column, every row's peak is unknown: one NaN seen as many (rows are only ever picked from it).
    peak = _peak_column(table, problems, line_offset) if has_peak else np.broadcast_to(np.nan, len(requests))
    if not ordered:  # a row whose count was refused is not compared: its value is not the count written
        _report(_unless(failures > requests, requests_refused, failures_refused), problems, "failures", line_offset,
                lambda r: f"{failures[r]} failures exceed {requests[r]} requests")
        _report(_unless(illegal > failures, failures_refused, illegal_refused), problems, "illegal_number_failures",
                line_offset, lambda r: f"{illegal[r]} illegal-number failures exceed {failures[r]} failures")
    return MinuteColumns(accounts, account_index, minute, requests, failures, illegal, peak, has_peak, naive,
                         minute_runs, keys_refused, naive_rows, account_runs)


def _place(problems: Problems, index: int, line_offset) -> str:
    """'row N' or 'row N (line L)' in the file of the batch's row ``index`` (from 0), as Problems names rows."""
    row = problems.file_row(index + 1)
    return f"row {row}" if line_offset is None else f"row {row} (line {row + line_offset})"


def _unless(mask: np.ndarray, *refused: np.ndarray | None) -> np.ndarray:
    """``mask`` without the rows of any ``refused`` mask (None: no row refused)."""
    for rows in refused:
        if rows is not None:
            mask = mask & ~rows
    return mask


def _counts_in_order(table, bounds: dict) -> bool:
    """Whether requests ≥ failures ≥ illegal-number failures ≥ 0 in every row, for columns of 64-bit whole
    numbers without missing values (what exports hold). Three passes over the rows prove what five do one by
    one (no count negative, no more failures than requests, no more illegal-number failures than failures);
    when they do not, or the columns are of another kind, each check runs on its own and names the rows.
    A pass is left out when ``bounds`` (see check_minute_table) prove it: the least of the last count is not
    negative, or the greatest of one count is at most the least of the one before it."""
    import pyarrow as pa  # heavy (0.2 s): loaded by the commands that read inputs

    names = [n for n in ("requests", "failures", "illegal_number_failures") if n in table.column_names]
    columns = [table.column(n) for n in names]
    if any(c.type != pa.int64() or c.num_chunks != 1 or c.null_count for c in columns):
        return False
    counts = [c.chunk(0).to_numpy() for c in columns]  # views of the Arrow buffers
    if not len(counts[-1]):
        return True
    if not bounds.get(names[-1], (-1, -1))[0] >= 0 and counts[-1].min() < 0:
        return False
    for (more_name, more), (fewer_name, fewer) in zip(zip(names, counts), zip(names[1:], counts[1:])):
        proven = more_name in bounds and fewer_name in bounds and bounds[fewer_name][1] <= bounds[more_name][0]
        if not proven and (fewer > more).any():
            return False
    return True


def _account_codes(table):
    """(sorted account names, index of each row's account, rows without an account or None when every row has
    one), by hashing not sorting strings.

    A Parquet file's dictionary of names is trimmed in Python (``str.strip``, the rule of ``account_name``):
    it holds a few names, and reading Parquet then never loads ``pyarrow.compute``, whose import alone costs
    0.05 s of every command's start; other tables are trimmed by its ``utf8_trim_whitespace``, which removes
    exactly what ``str.strip`` does."""
    import pyarrow as pa  # heavy (0.2 s): loaded by the commands that read inputs

    column = table.column("account")
    if pa.types.is_dictionary(column.type) and column.num_chunks and \
            (pa.types.is_string(column.type.value_type) or pa.types.is_large_string(column.type.value_type)):
        # A batch's one chunk is taken as it is: combining would copy its indices, and building a new
        # DictionaryArray from them would check every index against the dictionary.
        encoded = column.chunk(0) if column.num_chunks == 1 else column.unify_dictionaries().combine_chunks()
        indices = encoded.indices
        names = [name if name is None else name.strip() for name in encoded.dictionary.to_pylist()]
    else:
        import pyarrow.compute as pc  # heavy (0.05 s): text columns only

        if not pa.types.is_string(column.type):
            column = column.cast(pa.string())
        column = pc.utf8_trim_whitespace(column.fill_null(""))
        encoded = column.combine_chunks().dictionary_encode() if column.num_chunks else pa.array([], pa.string()).dictionary_encode()
        indices, names = encoded.indices, encoded.dictionary.to_pylist()
    empty_names = np.array([name == "" for name in names], bool)
    dictionary = np.array(names, dtype=str)
    if not indices.null_count and not empty_names.any() and pa.types.is_int32(indices.type) and \
            (len(dictionary) < 2 or (dictionary[1:] > dictionary[:-1]).all()):
        # The usual Parquet dictionary: names already distinct and in order, every row named. The indices
        # are the codes: a view of the Arrow buffer, no pass over the rows.
        return dictionary, indices.to_numpy(zero_copy_only=False), None
    indices = indices.fill_null(-1).to_numpy(zero_copy_only=False) if indices.null_count else indices.to_numpy(zero_copy_only=False)
    missing = indices < 0
    if empty_names.any():
        missing |= np.isin(indices, np.flatnonzero(empty_names))
    # Sorting the few distinct names (and merging any that trimming made equal) orders the accounts.
    names, rank = np.unique(dictionary, return_inverse=True)
    index = rank.reshape(-1)[np.maximum(indices, 0)] if len(names) else np.zeros(len(indices), np.int64)
    return names, index.astype(np.int32), missing


def _peak_column(table, problems: Problems, line_offset) -> np.ndarray:
    import pyarrow as pa  # heavy (0.2 s): loaded by the commands that read inputs

    column = table.column("peak_qps")
    strings = None
    if not (pa.types.is_floating(column.type) or pa.types.is_integer(column.type)):
        import pyarrow.compute as pc  # text only (see _account_codes)

        text = column.cast(pa.string())
        blank = pc.equal(pc.utf8_trim_whitespace(text.fill_null("")), "").to_numpy(zero_copy_only=False)
        good = pc.match_substring_regex(text.fill_null(""), r"^\s*\+?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?\s*$").to_numpy(zero_copy_only=False)
        strings = text.to_numpy(zero_copy_only=False)
        _report(~good & ~blank, problems, "peak_qps", line_offset, lambda r: f"{strings[r]!r} is not a non-negative number")
        kept = pc.if_else(pa.array(good), text, None)
        try:
            column = kept.cast(pa.float64())
        except pa.ArrowInvalid:  # ' 5 ' or '+5', as a count may be written (exit 3): read without them, a rare pass
            column = pc.replace_substring_regex(pc.utf8_trim_whitespace(kept), r"^\+", "").cast(pa.float64())
    values = (column if column.type == pa.float64() else column.cast(pa.float64())).to_numpy(zero_copy_only=False)
    values = values.astype(np.float64)
    bad = ~np.isnan(values) & (~np.isfinite(values) | (values < 0))
    _report(bad, problems, "peak_qps", line_offset, lambda r: f"{float(values[r]) if strings is None else strings[r]!r} "
                                                              "is not a non-negative finite number")
    return values
