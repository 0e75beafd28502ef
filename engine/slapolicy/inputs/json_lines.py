"""JSON Lines minutes, read a block at a time with the line of every row.

pyarrow's JSON reader takes a whole file (its memory grows with the file), skips blank lines (so row
i is not always line i), and crashes the process (a segmentation fault) on a value nested some
thousands of levels deep; nested a thousand deep, it spends seconds per line building the type. So
the file is read here in blocks of about :data:`BLOCK_BYTES`, cut at line ends, and each block's lines
are looked at with numpy before pyarrow parses it:

* a line nested more than :data:`MAX_DEPTH` levels is refused, naming the line (a row of minutes is one
  flat object; the bound is far above any export's extra fields and far below pyarrow's limits);
* a line that is neither blank nor holds a ``{`` is refused (one object per line is what JSON Lines is),
  and so is a block whose objects do not match its lines one to one;
* the rows then map to the lines that hold them, blank lines skipped, so that the row checks
  (:func:`slapolicy.inputs.tables.check_minute_table`) name the right line in every block.

Each block's column types are inferred on their own, as the CSV reader reads every block as text; but a value
whose JSON kind changes (a count written 100 on one line and "100" on a later one) is refused by pyarrow within a
block, naming its line, and so it is here across blocks, and across the pieces of a file read in pieces
(:func:`kinds_agree`): one rule, wherever the blocks and pieces are cut (``JSON_KINDS``).
"""
from __future__ import annotations

import re

import numpy as np

from ..errors import InputError
from .problems import column_names, missing_columns

BLOCK_BYTES = 16 << 20  # bytes parsed at once: bounds the memory of a JSON Lines part
MAX_DEPTH = 64  # brackets and braces open at once on one line

_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)  # strings (skipped whole) and brackets


# UTF-8's byte order mark, which Windows PowerShell's `Out-File -Encoding utf8` and Notepad's "UTF-8 with BOM" begin a
# file with: read past at the start of a file (a CSV file's, a claim's and a request's are), never on a later line.
UTF8_MARK = b"\xef\xbb\xbf"


def batches(stream, name: str, columns: tuple, optional: tuple, max_rows: int, check_columns: bool = True,
            check_block=None, kinds: dict | None = None, file_start: bool = True):
    """(table, line offset, rows before it) of a JSON Lines stream, at most ``max_rows`` rows a table.

    Row r (1-based) of a table is on line r + line offset + rows before it, as for the CSV reader.
    ``columns`` must be present in the first block with rows (else the file is refused as missing them);
    a later block without one of them has it as a column of nulls, refused row by row. Not ``check_columns``
    (a piece of a file after its first): every block is such a later block. ``check_block(table, place)``: called
    with each block's table, whose types its rows share, before it is cut into tables; ``place(i)`` gives the row
    and line of its object i (from 0) as (row, line). ``kinds``: the JSON kind of each column so far (``JSON_KINDS``),
    filled in here (a piece of a file returns its own, :func:`kinds_agree`); a block whose value changes kind is
    refused as pyarrow refuses one within a block. ``file_start``: the stream begins at the file's start, where a
    byte order mark (UTF8_MARK) is read past.
    """
    row, names = 0, None if check_columns else ()
    kinds = {} if kinds is None else kinds
    for chunk, line in _blocks(stream, name, [0], file_start):
        lines, at = _object_lines(chunk, name, line)
        if not len(at):
            continue
        table = _parse(chunk, name, line, lines, at)
        changed = _add_kinds(kinds, block_kinds(table))
        if changed is not None:
            column, path, was, now = changed
            valid = table.column(column).is_valid().to_numpy(zero_copy_only=False)
            raise InputError(f"{name}: cannot be read as JSONL: line {line + int(at[int(np.argmax(valid))])}: "
                             f"{changed_kind(path, was, now)}")
        if names is None:
            names = _check_columns(table, name, columns)
        if check_block is not None:
            check_block(table, lambda i, first=row, lines=at, start=line: (first + i + 1, start + int(lines[i])))
        for start, count in _pieces(at, max_rows):
            first = row + start
            yield _select(table.slice(start, count), columns, optional), int(line + at[start] - 1 - first), first
        row += len(at)
    # No object (an empty file, or blank lines): a file of no row, as a CSV header alone and an empty incidents file
    # are; its columns are not asked for, since JSON Lines names them only in its objects.


def check_lines(path, name: str) -> None:
    """Refuse a JSON Lines file with a line too deep, too long or holding no object, before pyarrow reads it
    whole (billing: a small file, read at once); the line of each object."""
    with open(path, "rb") as stream:
        return np.concatenate([line + _object_lines(chunk, name, line)[1] for chunk, line in _blocks(stream, name, [0])]
                              or [np.zeros(0, np.int64)])


def by_line(message: str, lines: np.ndarray) -> str | None:
    """pyarrow's parse error, which ends "in row K" (the K-th object of what it was handed, from 0), as the line
    that holds that object (``lines``: the line of each object); None when it names no row."""
    row = _ROW.search(message)
    if row is None or int(row.group(1)) >= len(lines):
        return None
    return f"line {int(lines[int(row.group(1))])}: {message[:row.start()]}"


def _blocks(stream, name: str, size: list, file_start: bool = True):
    """(bytes ending at a line end, number of its first line), about BLOCK_BYTES each; ``size[0]`` counts bytes.
    ``file_start``: the stream begins at the file's start, whose byte order mark (UTF8_MARK) is left out."""
    line, rest = 1, b""
    while True:
        block = stream.read(BLOCK_BYTES)
        size[0] += len(block)
        if file_start:
            file_start = False
            block = block.removeprefix(UTF8_MARK)
        data = rest + block if rest else block
        if block:
            cut = data.rfind(b"\n") + 1
            if not cut:  # no line end yet: a line longer than a block is read on, up to a bound
                if len(data) > BLOCK_BYTES:
                    raise InputError(f"{name}: line {line} is longer than {BLOCK_BYTES >> 20} MiB; "
                                     "a row is one short line")
                rest = data
                continue
        else:
            cut = len(data)
        chunk, rest = memoryview(data)[:cut], bytes(data[cut:])
        if cut:
            yield chunk, line
            line += _count_lines(chunk)
        if not block:
            return


def _count_lines(chunk) -> int:
    """Lines in a chunk: its line ends, and one more for a last line without one (at the end of the file)."""
    return int(np.count_nonzero(np.frombuffer(chunk, np.uint8) == 10)) + (chunk[-1] != 10)


def _object_lines(chunk, name: str, first_line: int) -> tuple[int, np.ndarray]:
    """(lines in the chunk, the chunk's line indices that hold a row), after refusing deep or stray lines."""
    data = np.frombuffer(chunk, np.uint8)
    starts = np.concatenate([[0], np.flatnonzero(data == 10) + 1])
    if starts[-1] == len(data):  # the chunk ends with a line end: no line starts there
        starts = starts[:-1]
    lines = len(starts)

    def per_line(byte: int) -> np.ndarray:
        return np.bincount(np.searchsorted(starts, np.flatnonzero(data == byte), side="right") - 1, minlength=lines)

    braces = per_line(ord("{"))
    # A line opens at most as many levels as it has brackets: only lines with many are scanned exactly.
    for index in np.flatnonzero(braces + per_line(ord("[")) > MAX_DEPTH):
        if _depth(_line_bytes(chunk, starts, index)) > MAX_DEPTH:
            raise InputError(f"{name}: line {first_line + int(index)}: a value nested more than {MAX_DEPTH} levels "
                             "deep; a row is one flat object")
    for index in np.flatnonzero(braces == 0):
        if _line_bytes(chunk, starts, index).strip():
            raise InputError(f"{name}: line {first_line + int(index)}: not a JSON object; JSON Lines holds "
                             "one object per line")
    # A line of objects that does not begin with one: a JSON array of rows, as json.dump of a list writes a file,
    # was pyarrow's "Column() changed from object to array", which says nothing of what to do.
    for index in np.flatnonzero((braces > 0) & (data[starts] != ord("{"))):
        line = _line_bytes(chunk, starts, index).lstrip()
        if line[:1] != b"{":
            array = ("; a JSON array of objects (as json.dump of a list writes it) is one value, not one object a "
                     "line: write each object on a line of its own") if line[:1] == b"[" else ""
            raise InputError(f"{name}: line {first_line + int(index)}: not a JSON object; JSON Lines holds "
                             "one object per line" + array)
    return lines, np.flatnonzero(braces > 0)


def _line_bytes(chunk, starts: np.ndarray, index: int) -> bytes:
    end = int(starts[index + 1]) if index + 1 < len(starts) else len(chunk)
    return bytes(chunk[int(starts[index]):end])


def _depth(line: bytes) -> int:
    """How many brackets and braces are open at once at most, outside strings."""
    depth = deepest = 0
    for token in _TOKENS.finditer(line):
        kind = token.group()[:1]
        if kind in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        elif kind in (b"]", b"}"):
            depth -= 1
    return deepest


_ROW = re.compile(r" in row ([0-9]+)$")  # how pyarrow ends a parse error: the object's index, from 0


def _parse(chunk, name: str, first_line: int, lines: int, at: np.ndarray):
    """The block's objects as a table; ``at``: the block's line indices that hold one."""
    import pyarrow as pa  # heavy (0.2 s): loaded by the commands that read inputs
    import pyarrow.json as pajson  # heavy (0.2 s): loaded by the commands that read inputs

    objects = len(at)
    # pyarrow parses in blocks that must hold whole lines: one line may be up to BLOCK_BYTES long.
    options = pajson.ReadOptions(block_size=max(1 << 20, min(len(chunk), 2 * BLOCK_BYTES) + 1))
    try:
        table = read_json_as_written(pa.py_buffer(chunk), TEXT_COLUMNS, options)
    except pa.ArrowInvalid as exc:  # "... in row 1": the second object of the block, named by its line
        located = by_line(str(exc).splitlines()[0], first_line + at)
        if located is None:
            raise
        raise InputError(f"{name}: cannot be read as JSONL: {located}") from None
    if table.num_rows != objects:
        where = f"line {first_line}" if lines == 1 else f"lines {first_line}–{first_line + lines - 1}"
        on = "one line" if objects == 1 else f"{objects} lines"
        raise InputError(f"{name}: {where}: {table.num_rows} JSON objects on {on}; JSON Lines holds one object per line")
    return table


# Columns of timestamps and dates, kept as the text written: pyarrow's reader would otherwise take
# "2019-03-31T20:00Z" for a timestamp without its offset (in UTC), which every reader then reads as a local
# time of the policy (a row moved by the offset, into another Service Month), and "2019-01-15" for a
# timestamp that no longer reads as a date written YYYY-MM-DD.
TEXT_COLUMNS = ("minute", "month", "service_start")
_NOT_TEXT = re.compile(r"Column\(/([^)]*)\) changed from string to ")


def as_written(table, names: list, columns: tuple) -> list:
    """The columns of ``names`` a JSON Lines file holds: a column of ``TEXT_COLUMNS`` is made by the reader whether
    a line names it or not, so one null in every row is taken for absent when a key is written otherwise beside it
    ('Minute', ' month'): refused as missing with the name meant, not row by row as 'missing value'. When one of
    ``columns`` is missing, no column null in every row is listed as found (a minutes file "found: month, ...")."""
    unwritten = {n for n in names if n in TEXT_COLUMNS and table.num_rows and table.column(n).null_count == table.num_rows}
    near = {n for n in unwritten if any(o != n and o.strip().lower() == n for o in names)}
    kept = [n for n in names if n not in near]
    if all(n in kept for n in columns):
        return kept
    return [n for n in kept if n not in unwritten]


def read_json_as_written(source, text_columns: tuple, read_options=None):
    """pyarrow's JSON reader (``source``: a path, or a pyarrow Buffer), ``text_columns`` read as text. A column of
    them holding numbers, objects or lists is inferred as before, so that its row checks name what it holds."""
    import pyarrow as pa  # heavy (0.2 s): loaded by the commands that read inputs
    import pyarrow.json as pajson  # heavy (0.2 s): loaded by the commands that read inputs

    text = list(text_columns)
    while True:
        parse = pajson.ParseOptions(explicit_schema=pa.schema([(n, pa.string()) for n in text]))
        try:
            return pajson.read_json(pa.BufferReader(source) if isinstance(source, pa.Buffer) else source,
                                    read_options=read_options, parse_options=parse)
        except pa.ArrowInvalid as exc:
            found = _NOT_TEXT.search(str(exc))
            if found is None or found.group(1) not in text:
                raise
            text.remove(found.group(1))


# The kind of a JSON value, as pyarrow's reader names it when one changes within a block ("Column(/requests) changed
# from number to string"); pyarrow reads integers and fractions alike as numbers (an int64 column becomes double),
# and a text alike whether it infers a timestamp from it or not. A value missing or null has no kind.
JSON_KINDS = (("boolean", "is_boolean"), ("number", "is_integer"), ("number", "is_floating"), ("string", "is_string"),
              ("string", "is_large_string"), ("string", "is_timestamp"), ("string", "is_date"))


def block_kinds(table) -> dict:
    """{column: its kind} of a block pyarrow parsed, each column with a value (a column null in every row has none):
    a kind is a word of ``JSON_KINDS``, ("array", the kind of its items) or ("object", {field: kind})."""
    return {name: _kind(column.type) for name, column in zip(table.column_names, table.columns)
            if column.null_count < len(column)}


def _kind(kind):
    import pyarrow as pa  # heavy (0.2 s): loaded by the commands that read inputs

    if pa.types.is_null(kind):
        return None
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return "array", _kind(kind.value_type)
    if pa.types.is_struct(kind):
        return "object", {kind.field(i).name: _kind(kind.field(i).type) for i in range(kind.num_fields)}
    return next((word for word, test in JSON_KINDS if getattr(pa.types, test)(kind)), str(kind))


def _add_kinds(seen: dict, found: dict, path: str = "") -> tuple | None:
    """Add ``found`` (kinds by name) to ``seen``; the first change of kind as (name, pyarrow's path of the value,
    kind before, kind now), else None."""
    for name, kind in found.items():
        before = seen.get(name)
        where = f"{path}/{name}"
        if before is None or kind is None:
            seen[name] = kind if before is None else before
            continue
        was, now = _word(before), _word(kind)
        if was != now:
            return name, where, was, now
        if was == "array":
            items = {"[]": before[1]}
            changed = _add_kinds(items, {"[]": kind[1]}, where)
            seen[name] = ("array", items["[]"])
        elif was == "object":
            fields = dict(before[1])
            changed = _add_kinds(fields, kind[1], where)
            seen[name] = ("object", fields)
        else:
            changed = None
        if changed is not None:
            return name, *changed[1:]
    return None


def _word(kind) -> str:
    return kind if isinstance(kind, str) else kind[0]


def changed_kind(path: str, was: str, now: str) -> str:
    """A value whose kind changed, in the words pyarrow's reader says it within a block."""
    return f"JSON parse error: Column({path}) changed from {was} to {now}"


def kinds_agree(pieces: list) -> bool:
    """Whether the kinds the pieces of one file found (each a dict of ``batches``' ``kinds``, in file order) agree, as
    one reading of the whole file would find them: if not, the file is read again whole, which names the line."""
    seen: dict = {}
    return all(_add_kinds(seen, kinds) is None for kinds in pieces)


def _check_columns(table, name: str, columns: tuple) -> list:
    names = as_written(table, column_names(table.schema, name), columns)
    missing = [n for n in columns if n not in names]
    if missing:
        raise InputError(missing_columns(name, missing, names))
    return names


def _pieces(at: np.ndarray, max_rows: int):
    """(first row, rows) of each run of rows on consecutive lines, at most max_rows each: within one,
    a row's line is its row plus one offset."""
    breaks = np.flatnonzero(np.diff(at) != 1) + 1
    bounds = [0, *breaks.tolist(), len(at)]
    for lo, hi in zip(bounds, bounds[1:]):
        for start in range(lo, hi, max_rows):
            yield start, min(max_rows, hi - start)


def _select(table, columns: tuple, optional: tuple):
    """The named columns; a required one this block lacks is a column of nulls (refused row by row)."""
    import pyarrow as pa  # heavy (0.2 s): loaded by the commands that read inputs

    names = table.column_names
    for name in columns:
        if name not in names:
            table = table.append_column(name, pa.nulls(table.num_rows))
    return table.select([n for n in columns + optional if n in table.column_names])
