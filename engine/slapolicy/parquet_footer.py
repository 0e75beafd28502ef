"""A Parquet file's Thrift, read in pure Python without pyarrow: Thrift's compact protocol (the encoding of its page
headers and footer), the footer's bytes, and the few fields of the footer that say how the file was written.

Two readers use it. ``minutes.pages`` parses the page headers of the column chunks it decodes itself. And the CLI's
``evaluate`` and ``replay`` ask, before they fork the helper of their reading as they begin (``distributed.
fork_helper_early``), whether the file is written account by account (:func:`one_account_each`): the helper is used
only there, and this module loads nothing but the standard library and the calendar, so the answer costs well under a
millisecond where pyarrow would take ~0.03 s to load (benchmarks/README.md, "The thirteenth round"). Anything not
understood here is :class:`Unhandled`, and the caller does what it did without this module."""
from __future__ import annotations

import os

from .calendar import WIDEN_MINUTES


class Unhandled(Exception):
    """Bytes of a Parquet file this module does not understand, or a chunk ``minutes.pages`` does not decode:
    pyarrow reads it."""


def footer_bytes(path: str, most: int | None = None) -> bytes | None:
    """The footer a Parquet file ends with (its metadata, their length and the magic), or None when it has none;
    given ``most``, only the first ``most`` bytes of its metadata (all of them when shorter)."""
    try:
        with open(path, "rb", buffering=0) as file:
            size = file.seek(0, os.SEEK_END)
            if size < 12:
                return None
            file.seek(size - 8)
            tail = file.read(8)
            length = int.from_bytes(tail[:4], "little")
            if tail[4:] != b"PAR1" or length > size - 12:
                return None
            file.seek(size - 8 - length)
            return file.read(length + 8 if most is None else min(length, most))
    except OSError:
        return None


# Thrift's compact protocol: a struct is read by its shape, ({field id: what is read of it}, the fields it
# requires): a type (I32, I64, BOOL, BINARY), a struct's own shape, or [its elements' type or shape] for a list.
# Every other field is skipped, as is a field of another type than its own, as Thrift does (a required field so
# lost is then missing: Unhandled, where pyarrow's reader refuses the bytes).
BOOL, I32, I64, BINARY, LIST, STRUCT = 1, 5, 6, 8, 9, 12
DEEPEST = 8  # structs nested deeper than this are not the headers or footer read here: Unhandled, not a RecursionError


def read_varint(data: memoryview, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, i
        shift += 7
        if shift > 63:
            raise Unhandled("a varint too long")


def read_struct(data: memoryview, i: int, shape: tuple | None, depth: int) -> tuple[dict, int]:
    """({field id: value} of the fields ``shape`` (its fields, its required ones) reads, the place after the
    struct) of a compact-protocol struct at ``i``; every other field is skipped."""
    if depth > DEEPEST:
        raise Unhandled("structs nested too deep")
    wanted, required = shape or ({}, frozenset())
    fields, field = {}, 0
    while True:
        head = data[i]
        i += 1
        if not head:
            if not fields.keys() >= required:
                raise Unhandled("a required field missing")
            return fields, i
        kind, delta = head & 15, head >> 4
        if delta:
            field += delta
        else:
            field, i = read_varint(data, i)
            if field >> 16:
                raise Unhandled("a field id beyond 16 bits")
            field = (field >> 1) ^ -(field & 1)
        want = wanted.get(field)
        if kind in (1, 2):  # a boolean, in the header itself
            if want == BOOL:
                fields[field] = kind == 1
        elif kind in (4, 5, 6):  # i16, i32, i64: zigzag varints
            value = data[i]
            if value < 0x80:  # one byte, as most are: no call
                i += 1
            else:
                value, i = read_varint(data, i)
            if want == kind:
                if kind != I64:
                    value &= 0xFFFFFFFF  # Thrift reads an i32's varint as 64 bits and keeps the low 32
                fields[field] = (value >> 1) ^ -(value & 1)
        elif kind == STRUCT:
            value, i = read_struct(data, i, want if isinstance(want, tuple) else None, depth + 1)
            if isinstance(want, tuple):
                fields[field] = value
        elif want is None:
            i = _skip(data, i, kind, depth)
        elif kind == BINARY and want == BINARY:
            fields[field], i = _binary(data, i)
        elif kind == LIST and isinstance(want, list):
            fields[field], i = _list(data, i, want[0], depth)
        else:
            i = _skip(data, i, kind, depth)


def _binary(data: memoryview, i: int) -> tuple[bytes, int]:
    size, i = read_varint(data, i)
    if i + size > len(data):
        raise Unhandled("a binary beyond the bytes read")
    return bytes(data[i:i + size]), i + size


def _list_head(data: memoryview, i: int) -> tuple[int, int, int]:
    """(elements, their type, the place after the header) of a list or set at ``i``."""
    head = data[i]
    i += 1
    size, element = head >> 4, head & 15
    if size == 15:
        size, i = read_varint(data, i)
    if size > len(data) - i:  # each element takes a byte at least (bar booleans, never many here)
        raise Unhandled("a collection beyond the bytes read")
    return size, element, i


def _list(data: memoryview, i: int, want, depth: int) -> tuple[list, int]:
    """The elements of a list whose elements are ``want`` (a struct's shape, BINARY or an integer type)."""
    size, element, i = _list_head(data, i)
    found = []
    for _ in range(size):
        if element == STRUCT and isinstance(want, tuple):
            value, i = read_struct(data, i, want, depth + 1)
        elif element == BINARY == want:
            value, i = _binary(data, i)
        elif element in (4, 5, 6) and element == want:
            value, i = read_varint(data, i)
            value = (value >> 1) ^ -(value & 1)
        else:
            raise Unhandled("a list of another type")
        found.append(value)
    return found, i


def _skip(data: memoryview, i: int, kind: int, depth: int) -> int:
    """The place after a value of compact type ``kind`` (not a struct's field of those read) at ``i``."""
    if kind == 3:  # byte
        return i + 1
    if kind == 7:  # double
        return i + 8
    if kind == 8:  # binary
        size, i = read_varint(data, i)
        if i + size > len(data):
            raise Unhandled("a binary beyond the bytes read")
        return i + size
    if kind in (9, 10):  # list, set: size and element type, then the elements
        size, element, i = _list_head(data, i)
        return _skip_many(data, i, [element] * size, size, depth)
    if kind == 11:  # map
        size, i = read_varint(data, i)
        if not size:
            return i
        types = data[i]
        i += 1
        return _skip_many(data, i, [types >> 4, types & 15] * min(size, len(data)), size, depth)
    raise Unhandled("a Thrift type not known")


def _skip_many(data: memoryview, i: int, kinds: list, size: int, depth: int) -> int:
    """The place after the elements of a list, set or map (``kinds``: their types in turn) at ``i``."""
    if depth > DEEPEST:
        raise Unhandled("collections nested too deep")
    if size > len(data) - i:  # each element takes a byte at least (bar booleans, never many in a page header)
        raise Unhandled("a collection beyond the bytes read")
    for kind in kinds:
        if kind == 12:
            _, i = read_struct(data, i, None, depth + 1)
        elif kind in (1, 2):
            i += 1  # a boolean element is a byte
        elif kind in (4, 5, 6):
            _, i = read_varint(data, i)
        else:
            i = _skip(data, i, kind, depth + 1)
    return i


# What the footer (FileMetaData) says of how a file was written, read by its shape: 2 its schema (a SchemaElement's
# 4 name, 6 converted type, 10 logical type: 8 TIMESTAMP, its 1 isAdjustedToUTC and 2 unit, 1 MILLIS, 2 MICROS or 3 NANOS), 4 its row
# groups (a RowGroup's 1 column chunks and 3 rows; a ColumnChunk's 3 ColumnMetaData: 1 physical type, 3 path in the
# schema, 12 Statistics: 1 max and 2 min as written before min_value and max_value were, 3 null count, 5 max_value,
# 6 min_value).
_TIMESTAMP = ({1: BOOL, 2: ({1: ({}, set()), 2: ({}, set()), 3: ({}, set())}, set())}, set())
SCHEMA_ELEMENT = ({4: BINARY, 6: I32, 10: ({8: _TIMESTAMP}, set())}, {4})
STATISTICS = ({1: BINARY, 2: BINARY, 3: I64, 5: BINARY, 6: BINARY}, set())
ROW_GROUP = ({1: [({3: ({1: I32, 3: [BINARY], 12: STATISTICS}, {1, 3})}, set())], 3: I64}, {1, 3})
INT64 = 2  # the physical type
TIMESTAMP_MILLIS, TIMESTAMP_MICROS = 9, 10  # converted types
UNITS_PER_MINUTE = {1: 60_000, 2: 60_000_000, 3: 60_000_000_000}  # a TIMESTAMP's unit -> its units in a minute


def _minute_units(schema: list) -> tuple[int, int] | None:
    """(units a minute holds, minutes its statistics are widened by) of the ``minute`` column (its SchemaElement in
    ``schema``), when it is a timestamp: a naive one's wall times are widened by ±15:00, as the plan widens them
    (``minutes.planning._group_may_hold``); one adjusted to UTC not, nor a legacy converted type (TIMESTAMP_MILLIS,
    TIMESTAMP_MICROS: if pyarrow reads it naive, this look is the narrower, and says no less often than the plan)."""
    for element in schema:
        if element[4] == b"minute":
            timestamp = element.get(10, {}).get(8)
            if timestamp and timestamp.get(2):
                units = UNITS_PER_MINUTE.get(min(timestamp[2]))
                return (units, 0 if timestamp.get(1, True) else WIDEN_MINUTES) if units else None
            units = {TIMESTAMP_MILLIS: 60_000, TIMESTAMP_MICROS: 60_000_000}.get(element.get(6))
            return (units, 0) if units else None
    return None


def _bounds(statistics: dict) -> tuple[int, int] | None:
    """(least, greatest) of an INT64 column's statistics, None when they give no both."""
    least, greatest = statistics.get(6, statistics.get(2)), statistics.get(5, statistics.get(1))
    if least is None or greatest is None or len(least) != 8 or len(greatest) != 8:
        return None
    return int.from_bytes(least, "little", signed=True), int.from_bytes(greatest, "little", signed=True)


def one_account_each(path: str, span: tuple[int, int], most: int = 2) -> tuple[int, bool] | None:
    """(row groups, whether they prove one account each) of a local Parquet file, told from its footer: the first
    ``most`` row groups with rows that may hold a minute of ``span`` ([start, end) epoch minutes, widened by the
    caller for the zone it does not know yet; a naive minute's statistics are widened as the plan widens them) say
    whether each holds one account (its ``account`` statistics: the same least and greatest, no null) or several (a
    file written as time goes, each row group holding every account: False at the first such row group). A first
    look, as sure as its False: that row group is read however the reading plans, and its account is not proven.
    None when the footer does not say (no footer, no ``account`` column, bytes not understood here)."""
    metadata = footer_bytes(path, FOOTER_START)
    if metadata is None:
        return None
    try:
        return _one_account_each(memoryview(metadata), span, most)
    except (Unhandled, IndexError, KeyError, ValueError):  # IndexError: the row groups asked about lie beyond
        return None


# The first bytes of a footer read to tell how its file was written: its schema and first row groups (~600 bytes
# each of a file of five columns), where the whole footer of a 500-row-group file is 0.3 MB (0.25 ms to read).
FOOTER_START = 64 << 10


def accounts_in_span(path: str, span: tuple[int, int], most: int = 2) -> tuple[int, int, bool] | None:
    """What :func:`one_account_each` looks at, told apart: (the file's row groups, how many of the first ``most``
    with a minute of ``span`` hold one account each, whether one of them holds several). A file none of whose row
    groups lies in ``span`` is (row groups, 0, False): nothing of it is read, which a directory's look needs to tell
    from a file written as time goes. None when the footer does not say."""
    metadata = footer_bytes(path, FOOTER_START)
    if metadata is None:
        return None
    try:
        return _accounts_in_span(memoryview(metadata), span, most)
    except (Unhandled, IndexError, KeyError, ValueError):
        return None


def _one_account_each(data: memoryview, span: tuple[int, int], most: int) -> tuple[int, bool] | None:
    told = _accounts_in_span(data, span, most)
    return None if told is None else (told[0], told[1] > 0 and not told[2])


def _accounts_in_span(data: memoryview, span: tuple[int, int], most: int) -> tuple[int, int, bool] | None:
    i, field, units = 0, 0, None
    while True:  # FileMetaData's fields, in the order written (the schema before the row groups)
        head = data[i]
        i += 1
        if not head:
            return None
        kind, delta = head & 15, head >> 4
        if delta:
            field += delta
        else:
            field, i = read_varint(data, i)
            field = (field >> 1) ^ -(field & 1)
        if field == 2 and kind == LIST:
            schema, i = _list(data, i, SCHEMA_ELEMENT, 0)
            units = _minute_units(schema)
        elif field == 4 and kind == LIST:
            break
        elif kind in (4, 5, 6):
            _, i = read_varint(data, i)
        elif kind not in (1, 2):
            i = _skip(data, i, kind, 0)
    groups, element, i = _list_head(data, i)
    if groups and element != STRUCT:
        raise Unhandled("row groups that are not structs")
    seen = 0
    for _ in range(groups):
        group, i = read_struct(data, i, ROW_GROUP, 1)
        if not group[3]:
            continue
        chunks = {tuple(chunk[3][3]): chunk[3] for chunk in group[1] if 3 in chunk}
        minute = chunks.get((b"minute",))
        bounds = _bounds(minute.get(12, {})) if units and minute and minute[1] == INT64 else None
        if bounds is not None and (bounds[1] // units[0] + units[1] < span[0] or
                                   bounds[0] // units[0] - units[1] >= span[1]):
            continue  # a row group no minute of the span is in
        account = chunks.get((b"account",))
        if account is None:
            return None  # an account= directory's file, or one the plan refuses
        statistics = account.get(12)
        if statistics is None or statistics.get(3) != 0:
            return groups, seen, True  # pyarrow's statistics then prove no account (without a null count either)
        if 5 in statistics and 6 in statistics and statistics[5] != statistics[6]:
            return groups, seen, True
        seen += 1
        if seen == most:
            break
    return groups, seen, False
