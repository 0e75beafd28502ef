"""Where in a CSV file pyarrow's reader stopped: its parse errors name no line ("Expected 4 columns, got 5: …",
"In CSV column #0: … invalid UTF8 data", "CSV parser got out of sync with chunker"), and its streaming reader
cannot say which block it was in. On that error path only, the file is read again from the start to find the
first record that breaks the same rule, so that the message names the file, the line and the column.

The search is fast where the text is plain (no quote: a block's fields are counted with
numpy and its bytes decoded at once); from the first block that holds a quote on, the records are read by Python's
``csv`` module, which reads quotes as pyarrow does (double quotes escape a quote; a quoted value may hold a comma or
a line end). Nothing here runs while a file reads without error.
"""
from __future__ import annotations

import csv
import io
import re

import numpy as np

_FIELDS = re.compile(r"Expected (\d+) columns, got (\d+)")
_UTF8 = re.compile(r"In CSV column #(\d+): CSV conversion error to string: invalid UTF8 data")
_OUT_OF_SYNC = "got out of sync with chunker"
_BLOCK = 4 << 20  # bytes searched at a time
_LONE_CR = re.compile(rb"\r(?!\n)")


def no_row(open_stream, message: str) -> bytes | None:
    """A CSV file pyarrow found empty ("Empty CSV file") that is a file of no row, as a header alone with its line
    end is: b"" when it holds nothing but whitespace (no header either: an export of nothing, as an empty JSON Lines
    or incidents file), its header with a line end when that is its one line without one (pyarrow reads that as no
    column at all); None when it is neither (pyarrow's error stands). Read again: an error path only."""
    if "Empty CSV file" not in message:
        return None
    with open_stream() as stream:
        text = stream.read(1 << 20)
    if not text.strip():
        return b""
    if b"\n" in text or b"\r" in text or len(text) >= 1 << 20:
        return None
    return text + b"\n"


def located(open_stream, message: str) -> str | None:
    """:func:`locate` over the text ``open_stream()`` opens again; None when it cannot be read again (removed since
    pyarrow read it, say), or not by the csv module: pyarrow's own words then stand."""
    try:
        with open_stream() as stream:
            return locate(stream, message)
    except OSError:
        return None
    except csv.Error:  # a value beyond the csv module's field size limit (128 KiB): pyarrow's own words stand
        return None


class LineFeeds:
    """A binary ``stream`` read with each line end that is a carriage return alone (a classic Mac export, which
    pyarrow reads as lines) turned into a line feed, and every other byte as it is: the search below counts lines
    by their line feeds, and the csv module refused such a line ("new-line character seen in unquoted field"), so
    the error of a file of such lines named no line. A line's number is the same either way."""

    def __init__(self, stream):
        self._stream, self._held, self._out, self._ended = stream, b"", b"", False

    def read(self, size: int = -1) -> bytes:
        while (size < 0 or len(self._out) < size) and not self._ended:
            block = self._stream.read(size)
            data, self._held = self._held + block, b""
            if not block:
                self._ended = True
            elif data.endswith(b"\r"):  # a line end \r\n may be cut between two reads: held for the next
                data, self._held = data[:-1], b"\r"
            self._out += _LONE_CR.sub(b"\n", data)
        size = len(self._out) if size < 0 else size
        data, self._out = self._out[:size], self._out[size:]
        return data


def locate(stream, message: str) -> str | None:
    """"line L, column …: what is wrong" for pyarrow's ``message`` about the CSV text of ``stream`` (bytes, read
    from the start, the header line included); None when the message is not one of those above, or no record
    breaks its rule (then the caller keeps pyarrow's words)."""
    stream = LineFeeds(stream)
    fields, utf8 = _FIELDS.search(message), _UTF8.search(message)
    if fields is not None:
        expected = int(fields.group(1))
        return _first(stream, lambda record: len(record) != expected, lambda header, record, first, last:
                      _count_message(record, header[:expected], first, last))
    if utf8 is not None:
        index = int(utf8.group(1))
        return _first(stream, lambda record: index < len(record) and _not_utf8(record[index]),
                      lambda header, record, first, last: f"line {first}, column {_column(header, index)}: not "
                                                          f"UTF-8 text (byte 0x{_bad_byte(record[index]):02x})")
    if _OUT_OF_SYNC in message:
        return _first(stream, lambda record: any("\n" in value or "\r" in value for value in record),
                      _spanning_message)
    return None


def _count_message(record: list, header: list, first: int, last: int) -> str:
    """The first value beyond the header's columns, or the first column without a value."""
    names = ", ".join(header)
    counted = f"{len(record)} values where the header names {len(header)} columns ({names})"
    spans = f"; a quoted value runs from line {first} to line {last}" if last > first else ""
    if len(record) > len(header):
        return f"line {first}, column {len(header) + 1}: {counted}{spans} (a value holding a comma needs quotes)"
    quoted = next((i for i, value in enumerate(record) if "," in value or "\n" in value), None)
    unclosed = "" if quoted is None else f" (column {_column(header, quoted)} holds {record[quoted]!r}: is its quote closed?)"
    return f"line {first}, column {_column(header, len(record))}: no value; {counted}{spans}{unclosed}"


def _spanning_message(header: list, record: list, first: int, last: int) -> str:
    index = next(i for i, value in enumerate(record) if "\n" in value or "\r" in value)
    return (f"line {first}, column {_column(header, index)}: a quoted value runs from line {first} to line {last}; "
            "a minute's row is one line")


def _column(header: list, index: int) -> str:
    return repr(header[index]) if index < len(header) else str(index + 1)


def _not_utf8(value: str) -> bool:
    return any("\udc80" <= character <= "\udcff" for character in value)


def _bad_byte(value: str) -> int:
    return next(ord(character) - 0xdc00 for character in value if "\udc80" <= character <= "\udcff")


def _first(stream, broken, describe) -> str | None:
    """``describe(header, record, first line, last line)`` of the first data record for which ``broken(record)``
    holds, records read as pyarrow reads them (blank lines skipped, the first line the header's names)."""
    line, header = 1, None
    for head, chunk, rest in _chunks(stream):
        if head is not None:  # the header's line (a header of names on one line, as every export writes)
            header = next(csv.reader([head.decode("utf-8", "replace").rstrip("\r\n")]), [])
            line += 1
        if b'"' in chunk or not _plain_and_whole(chunk, broken):
            found = _by_records(chunk + rest, stream, line, broken)
            return None if found is None else describe(header, *found)
        line += chunk.count(b"\n")
    return None


def _chunks(stream):
    """(header, chunk, rest) for each chunk of whole lines of a CSV ``stream``, read _BLOCK bytes at a time:
    ``header`` the header's line, with the first chunk only (None after), ``chunk`` the whole lines after it (a
    last line without its line end given one, :func:`_ended`), ``rest`` the bytes read beyond them (the start of a
    line not yet whole). A caller that reads on by records itself reads ``chunk + rest``, then ``stream``."""
    header, rest = None, b""
    while True:
        block = stream.read(_BLOCK)
        data = rest + block
        if not data:
            return
        cut = data.rfind(b"\n") + 1 if block else len(data)
        if not cut:  # no line end yet: read on
            rest = data
            continue
        chunk, rest = _ended(data[:cut], block), data[cut:]
        first = header is None
        if first:
            end = chunk.find(b"\n") + 1
            header, chunk = chunk[:end], chunk[end:]
        yield header if first else None, chunk, rest
        if not block:
            return


def _ended(chunk: bytes, block: bytes) -> bytes:
    """The last chunk of a file (``block`` empty) with a line end after its last line when it has none: a file
    cut short (copied while it was written) ends in part of a row, which the search counted as no line at all."""
    return chunk if block or chunk.endswith(b"\n") else chunk + b"\n"


def _plain_and_whole(chunk: bytes, broken) -> bool:
    """Whether no record of a chunk of plain lines (no quote) can be ``broken``: its bytes are UTF-8 and every
    non-blank line has as many fields as ``broken`` accepts for a line of that many (checked on one example)."""
    try:
        chunk.decode("utf-8")
    except UnicodeDecodeError:
        return False
    codes = np.frombuffer(chunk, np.uint8)
    ends = np.flatnonzero(codes == 10)
    if not len(ends):
        return True
    commas = np.concatenate(([0], np.cumsum(codes == 44)))
    starts = np.concatenate(([0], ends[:-1] + 1))
    fields = commas[ends] - commas[starts] + 1
    lengths = ends - starts - (codes[np.maximum(ends - 1, 0)] == 13)
    counts = np.unique(fields[lengths > 0])
    return not any(broken([""] * int(count)) for count in counts)


def _records(head: bytes, stream, line: int):
    """(record, first line, last line) of each record of ``head`` and of what ``stream`` holds after it (its first
    line numbered ``line``), read by the csv module (line ends within quotes kept in their value); bytes that are
    not UTF-8 kept as surrogates. A blank line is an empty record."""
    text = io.TextIOWrapper(_Joined(head, stream), encoding="utf-8", errors="surrogateescape", newline="")
    reader = csv.reader(text, strict=False)
    before = 0
    for record in reader:
        first, before = line + before, reader.line_num
        yield record, first, line + reader.line_num - 1


def _by_records(head: bytes, stream, line: int, broken) -> tuple | None:
    """(record, first line, last line) of the first record (see ``_records``) for which ``broken(record)`` holds."""
    return next((found for found in _records(head, stream, line) if found[0] and broken(found[0])), None)


class _Joined(io.RawIOBase):
    """``head`` followed by the rest of ``stream``, as one readable binary stream."""

    def __init__(self, head: bytes, stream):
        self._head, self._stream = head, stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._head:
            size = min(len(buffer), len(self._head))
            buffer[:size], self._head = self._head[:size], self._head[size:]
            return size
        data = self._stream.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


def record_lines(stream, rows: set) -> dict:
    """{row: the line it starts on} for the data rows ``rows`` (1-based, as pyarrow counts them: blank lines are no
    row, a quoted value may hold line ends) of the CSV text of ``stream``, header line included. A row's line is
    its number plus one only while no line before it is blank or inside quotes; this is read on the error path
    only, for the rows named."""
    found: dict = {}
    wanted = sorted(rows)
    stream = LineFeeds(stream)
    line, row = 1, 0
    for head, chunk, rest in _chunks(stream) if wanted else ():
        if head is not None:
            line += 1
        if b'"' in chunk:
            _records_from(chunk + rest, stream, line, row, wanted, found)
            break
        codes = np.frombuffer(chunk, np.uint8)
        ends = np.flatnonzero(codes == 10)
        starts = np.concatenate(([0], ends[:-1] + 1))[:len(ends)]
        filled = (ends - starts - (codes[np.maximum(ends - 1, 0)] == 13)) > 0
        numbers = row + np.cumsum(filled)  # the row each line holds (the last one before it when blank)
        for wanted_row in wanted[len(found):]:
            at = int(np.searchsorted(numbers, wanted_row))
            if at >= len(numbers):
                break
            found[wanted_row] = line + at
        line, row = line + len(ends), row + int(filled.sum())
        if len(found) == len(wanted):
            break
    return found


def _records_from(head: bytes, stream, line: int, row: int, wanted: list, found: dict) -> None:
    """The lines of the rows still wanted, read by records from ``head`` and the rest of ``stream`` (see
    ``_records``), after ``row`` rows, ``head`` starting on line ``line``."""
    for record, first, _ in _records(head, stream, line):
        if not record:
            continue
        row += 1
        if row == wanted[len(found)]:
            found[row] = first
            if len(found) == len(wanted):
                return
