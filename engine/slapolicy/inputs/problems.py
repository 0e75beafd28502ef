"""What is wrong with an input file, said once for every reader: its header (``column_names``: not UTF-8, a
column named twice) and its rows (``Problems``: each with its file, row, line and column, up to MAX_REPORTED,
then a count of the rest)."""
from __future__ import annotations

import re

import numpy as np

from ..errors import InputError

MAX_REPORTED = 20
IN_MEMORY = "(in memory)"  # the path of a part of minutes handed in by the API (its messages say InMemory's words)


class InlineRows(list):
    """Rows a request to ``slapolicy serve`` sent inline, as its field ``field`` (``minutes``, ``billing``,
    ``incidents``, ``notices``): their messages name that field, and a row's value by its place in it
    (``field 'minutes[0].requests'``), as the service's 400s name a field. They said "(in memory): row 1, column
    'requests'", words for a program that handed a table to the API, shown to an HTTP client whose JSON has no rows,
    and which of its four lists was meant it had to guess."""

    def __init__(self, rows, field: str):
        super().__init__(rows)
        self.field = field


class InlineField(str):
    """Where :class:`InlineRows` are said to be, in messages: ``field 'minutes'``."""

    def __new__(cls, field: str):
        where = super().__new__(cls, f"field {field!r}")
        where.field = field
        return where

    def __reduce__(self):
        return InlineField, (self.field,)

    def cell(self, row: int | None, column: str | None = None) -> str:
        """A row (1-based) and column of these rows, as a field of the request: ``field 'minutes[0].requests'``."""
        at = self.field + (f"[{row - 1}]" if row is not None else "") + (f".{column}" if column is not None else "")
        return f"field {at!r}"


class InMemory(str):
    """Where data a program handed the Python API (a table, a DataFrame, a list of rows or entries) is said to be: the
    argument that took it, ``argument 'minutes'``, as the service names a request's field. "(in memory)" named none,
    and a call given minutes, billing, incidents and notices so left the program to guess which was meant."""

    def __new__(cls, argument: str):
        where = super().__new__(cls, f"argument {argument!r}")
        where.argument = argument
        return where

    def __reduce__(self):
        return InMemory, (self.argument,)


def where_given(source, kind: str) -> str:
    """Where a table or list handed in (not a file) as input ``kind`` (minutes, billing, incidents, notices) is said to
    be in messages: the request's field, or the API's argument."""
    return InlineField(source.field) if isinstance(source, InlineRows) else InMemory(kind)


def cell_of(where: str, row: int, column: str) -> str:
    """A row's value of data handed in: "argument 'minutes': row 1, column 'requests'", or the request's field."""
    return where.cell(row, column) if isinstance(where, InlineField) else f"{where}: row {row}, column {column!r}"

# Which columns make which input: (required, optional) and the option that takes it, read by every reader of a
# table (``tables``, ``billing``, the minutes' readers). A file of exactly another input's columns was given to the
# wrong option, and is told which (``missing_columns``): "missing column(s) minute, requests, failures (found:
# account, month, monthly_fee, offset)" left the reader to see that the file was the billing.
INPUT_COLUMNS = {
    "minutes": (("account", "minute", "requests", "failures"), ("illegal_number_failures", "peak_qps"), "--minutes"),
    "billing": (("account", "month", "monthly_fee", "offset"), ("service_start",), "--billing"),
}
# The same of the lists' entries (``events``): notices given as --incidents were told field by field, three lines an
# entry ("column 'kind': unknown field", ...), where one line says what the file is.
INPUT_FIELDS = {
    "incidents": (("id", "start", "end", "cause"), ("account", "description"), "--incidents"),
    "notices": (("id", "kind", "published_at", "start", "end"), ("account", "description"), "--notices"),
}


class Problems:
    """Collects row problems of one file; raises them together."""

    def __init__(self, file: str, kind: str, lines=None):
        self.file, self.kind, self.items = file, kind, []
        self.total = 0
        # Text whose rows may not be one line each (CSV: blank lines are no row, a quoted value may hold line
        # ends): ``lines(rows)`` gives {row: its first line}, read when the problems are raised (picklable).
        self.lines, self.places = lines, []
        self.row_base = 0  # rows before the current batch, when a file is read in batches
        self.positions = None  # the batch's rows' places among the rows read, when only some are checked
        self.note = ""  # said after the problems: what could not be checked because of them

    def file_row(self, row: int) -> int:
        """The row of the file that row ``row`` (1-based) of the current batch is."""
        return (row if self.positions is None else int(self.positions[row - 1]) + 1) + self.row_base

    def add(self, row: int | None, column: str | None, message: str, line: int | None = None) -> None:
        self.total += 1
        if row is not None:
            shift = self.file_row(row) - row  # a line is its row plus a constant within a batch: shifted alike
            row += shift
            line = None if line is None else line + shift
        if len(self.items) < MAX_REPORTED and isinstance(self.file, InlineField):
            self.items.append(f"{self.file.cell(row, column)}: {message}")
            self.places.append((row, None))
        elif len(self.items) < MAX_REPORTED:
            where = ""
            if row is not None:
                where = f" row {row}" + (f" (line {line})" if line is not None else "")
            if column is not None:
                where += ("," if where else "") + f" column '{column}'"
            self.items.append(f"{self.file}:{where}: {message}" if where else f"{self.file}: {message}")
            self.places.append((row, line))

    def row(self, row: int) -> str:
        """A row as a message names another: ``row 1``, or the request's field of rows sent inline."""
        return self.file.cell(row) if isinstance(self.file, InlineField) else f"row {row}"

    def raise_if_any(self) -> None:
        if self.total and self.lines is not None:
            self._lines_as_read()
        if self.total:
            more = f"\n... and {self.total - len(self.items)} more" if self.total > len(self.items) else ""
            note = f"\n({self.note})" if self.note else ""
            source = self.file if isinstance(self.file, (InlineField, InMemory)) else f"{self.kind} file {self.file}"
            raise InputError(f"{self.total} problem(s) in {source}:\n" + "\n".join(self.items) + more + note)

    def _lines_as_read(self) -> None:
        """Each item's line as the file has it, where a row is not its line after the header (see ``lines``)."""
        rows = {row for row, line in self.places if row is not None and line is not None}
        try:
            actual = self.lines(rows) if rows else {}
        except OSError:  # the file is gone or unreadable since: the lines as counted stand
            return
        self.items = [_moved(item, self.file, row, line, actual[row]) if line is not None and row in actual else item
                      for item, (row, line) in zip(self.items, self.places)]
        self.lines = None


def _moved(item: str, file: str, row: int, line: int, actual: int) -> str:
    before = f"{file}: row {row} (line {line})"
    return f"{file}: row {row} (line {actual})" + item[len(before):] if item.startswith(before) else item


def column_names(schema, path, header_of: tuple[str, ...] = ()) -> list[str]:
    """The column names of a file, or a message when its header is not UTF-8 or names a column twice
    (which of the two would be read is anyone's guess). ``header_of``: the columns a CSV file's header names, said
    when its first line is a row of values (``no_header``)."""
    try:
        names = list(schema.names)
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: the header is not UTF-8 (byte 0x{exc.object[exc.start]:02x})") from None
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:  # which of the two would be read is a guess: refuse rather than pick one
        raise InputError(f"{path}: column(s) {', '.join(repr(n) for n in repeated)} appear more than once in the header"
                         + no_header(names, header_of))
    return names


def missing_columns(where: str, missing: list, names: list, separated: bool = False) -> str:
    """The message of a file without some columns: those missing, those found, and, an error path only, why a
    found one was not taken for one missing: a name written with spaces or capitals (' minute ', 'Account', as a
    spreadsheet heads its columns), or (``separated``: CSV) a header of names separated by another character."""
    message = f"{where}: missing column(s) {', '.join(missing)} (found: {', '.join(names) or 'none'})"
    near = [(name, name.strip().lower()) for name in names if name.strip().lower() in missing]
    if near:
        message += ("; columns are named in lower case without spaces: rename " +
                    ", ".join(f"{name!r} to {meant!r}" for name, meant in near))
    header = no_header(names, missing) if separated else ""
    otherwise = "" if header else named_otherwise(names, missing)
    return (message + (other_separator(names) if separated else "") + another_input(where, names) + header
            + (otherwise or ("" if header else named_like(names, missing))))


# The words a column's name holds when it holds what a column slapolicy reads holds, under an export's name
# ('timestamp', 'minute_utc', 'customer', 'total_requests'): a name with the column's own name among its words, or
# one of these. An error path only (``named_like``).
COLUMN_LIKENESSES = {
    "account": ("account", "accounts", "customer", "tenant", "client"),
    "minute": ("minute", "minutes", "timestamp", "time", "ts", "datetime"),
    "requests": ("requests", "request", "calls"),
    "failures": ("failures", "failure", "failed", "errors"),
    "monthly_fee": ("fee", "fees"),
}


def named_like(names: list, missing: list) -> str:
    """"; is 'timestamp' the column minute? rename it 'minute'" for each missing column beside which exactly one
    column that no input reads is named like it (its words, :data:`COLUMN_LIKENESSES`), and is named like no other
    missing column: "missing column(s) minute (found: account, timestamp, ...)" left the reader to see which column
    was meant. Two such columns ('start_time', 'end_time'), or one like two ('failed_requests'), say nothing: which is
    meant is a guess. An error path only."""
    read = {name for kind in INPUT_COLUMNS.values() for name in kind[0] + kind[1]}

    def words(name: str) -> set:
        spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)  # minuteStart: minute, start
        return set(re.split(r"[^a-z0-9]+", spaced.lower())) - {""}

    like = {name: [column for column in missing if words(name) & set(COLUMN_LIKENESSES.get(column, (column,)))]
            for name in names if name.strip().lower() not in read}
    told = ""
    for column in missing:
        candidates = [name for name, columns in like.items() if columns == [column]]
        if len(candidates) == 1 and sum(column in columns for columns in like.values()) == 1:
            name = candidates[0]
            told += f"; is {name!r} the column {column}? rename it {column!r}"
            if column == "minute" and "utc" in words(name):  # its minutes written without an offset mean UTC
                told += (" (a minute without an offset is read in the policy's timezone: write its offset, "
                         "2019-03-12T01:00Z)")
    return told


# What each input's columns hold, in the words of docs/cli.md, for a file whose every column is named otherwise.
COLUMN_WORDS = {
    "minutes": "account (the account's name), minute (the minute's start, 2019-03-12T09:00), requests and failures "
               "(the minute's counts)",
    "billing": "account (the account's name), month (the Service Month, 2019-03), monthly_fee and offset (amounts, "
               "1000.00)",
}


def named_otherwise(names: list, missing: list) -> str:
    """'; no column here is one slapolicy reads: a minutes file's are ...' when every column of several is named
    otherwise (an export's 'customer, timestamp, calls, failed'): the message listed the names missing and found,
    and said nothing of which holds what. An error path only."""
    read = {name for kind in INPUT_COLUMNS.values() for name in kind[0] + kind[1]}
    kind = next((kind for kind, (required, _, _) in INPUT_COLUMNS.items() if list(required) == list(missing)), None)
    if kind is None or len(names) < 2 or any(name.strip().lower() in read for name in names):
        return ""
    return (f"; no column here is one slapolicy reads: a {kind} file's are {COLUMN_WORDS[kind]}: rename the columns "
            "that hold them")


_VALUE = re.compile(r"\s*[+-]?[0-9]")  # a number, a date or a minute: never a column's name


def no_header(names: list, required: tuple | list) -> str:
    """'; its first line holds values, not column names: ...' when a CSV file's first line, which pyarrow takes for
    its header, is a row of values (a file exported without its header line): "missing column(s) account, minute
    ... (found: acme, 2019-03-12T09:00, 100, 2)", or "column(s) '0' appear more than once in the header" of a row
    of two zero counts, left the reader to see that the header was missing. Not when a name is one some input reads
    (a header with a column misnamed). An error path only."""
    read = {name for kind in INPUT_COLUMNS.values() for name in kind[0] + kind[1]}
    if (not required or not any(_VALUE.match(name) for name in names)
            or any(name.strip().lower() in read for name in names)):
        return ""
    return ("; its first line holds values, not column names: a CSV file begins with a header line naming its "
            f"columns; add one, {','.join(required)}, with the names in the order of the values")


def another_input(where: str, names: list) -> str:
    """'; these are a billing file's columns: give it as --billing' when the columns found are exactly another
    input's: the file was surely meant as that input. An error path only.

    A file of every column another input requires and columns that no input reads besides (a billing export's own
    ``currency``) is said to be that input too, naming what it holds besides ('; besides currency, these are a
    billing file's columns: give it as --billing'): the exact match alone left such an export without a pointer.
    Not when a column besides is one an input reads (``requests`` beside the billing's columns): which input the
    file was meant as is then anyone's guess."""
    kind = input_of([names], INPUT_COLUMNS)
    if kind is not None:
        return f"; these are {given_as(where, kind, INPUT_COLUMNS, 'columns')}"
    read = {name for required, optional, _ in INPUT_COLUMNS.values() for name in required + optional}
    kinds = [kind for kind, (required, _, _) in INPUT_COLUMNS.items() if set(required) <= set(names)]
    besides = [name for name in names if name not in read]
    if len(kinds) != 1 or not besides or any(name in read and name not in INPUT_COLUMNS[kinds[0]][0] +
                                             INPUT_COLUMNS[kinds[0]][1] for name in names):
        return ""
    shown = ", ".join(repr(name) if not name.strip() or name != name.strip() else name for name in besides[:5])
    more = f" and {len(besides) - 5} more" if len(besides) > 5 else ""
    return f"; besides {shown}{more}, these are {given_as(where, kinds[0], INPUT_COLUMNS, 'columns')}"


def input_of(rows: list, inputs: dict) -> str | None:
    """The input of ``inputs`` whose names (columns, fields) every one of ``rows`` has exactly: each it requires,
    none it does not read. None when no input's are."""
    for kind, (required, optional, _) in inputs.items():
        if rows and all(set(required) <= set(names) <= set(required + optional) for names in rows):
            return kind
    return None


def given_as(where: str, kind: str, inputs: dict, what: str) -> str:
    """The words "a billing file's columns: give it as --billing"; rows handed in by the API or the service are told the name
    they take there (``billing=``, "billing")."""
    if isinstance(where, (InMemory, InlineField)):
        return f"{kind} {what}: give them as {kind}"
    return f"{'an' if kind[0] in 'aeiou' else 'a'} {kind} file's {what}: give it as {inputs[kind][2]}"


def other_separator(names: list) -> str:
    """' (...)' when a CSV header read as one column holds the names separated by another character (a
    spreadsheet set to a locale whose lists use ';', a tab-separated export): "missing column(s) account, minute
    ... (found: account;minute;...)" left the reader to spot why. An error path only."""
    if len(names) != 1:
        return ""
    for separator, called in ((";", "';'"), ("\t", "tabs"), ("|", "'|'")):
        if separator in names[0]:
            return f"; its values are separated by {called}: a CSV file's are separated by commas"
    return ""


def _line(row: int, line_offset: int | None) -> int | None:
    return None if line_offset is None else row + line_offset


def _report(mask: np.ndarray | None, problems: Problems, column: str, line_offset, message) -> None:
    if mask is None or not mask.any():  # the common case: one fast pass, no row positions gathered
        return
    for row in np.flatnonzero(mask)[:MAX_REPORTED]:
        problems.add(int(row) + 1, column, message(int(row)), _line(int(row) + 1, line_offset))
    problems.total += max(0, int(mask.sum()) - MAX_REPORTED)
