"""Parquet column chunks of mostly distinct 64-bit integers, decoded here rather than by pyarrow: the ``minute``
column of a file written account by account. Each row's timestamp is distinct there, so each row group's chunk
is a dictionary page of every value, whose compressed stream is Snappy's slowest shape: pyarrow decompresses it
at 17.6 ns a row, cramjam (the Rust ``snap`` crate) at 8.1 (benchmarks/README.md, "The minute column's pages are
decoded by slapolicy").

Read here: a chunk's bytes (at the offsets its footer gives), its Thrift page headers, a PLAIN dictionary page
and data pages (v1 and v2) of dictionary indices or PLAIN values, decompressed by cramjam (Snappy, GZIP, ZSTD,
LZ4_RAW, Brotli, or none), the RLE/bit-packed indices and definition levels (a flat column, optional or
required), then one take from the dictionary. Anything else -- another type, encoding or codec, a nested
column, a size or index out of bounds, bytes that do not parse -- is :class:`Unhandled`, and pyarrow reads that
column of the batch as before: the result is always the array pyarrow gives, or pyarrow's own error.

Also here (:func:`account_rows`): where the rows of some accounts are in a column of names written as time goes,
found from its packed dictionary indices without unpacking them."""
from __future__ import annotations

import functools
import json
import math

import numpy as np

from ..parquet_footer import BOOL, I32, Unhandled  # noqa: F401 -- Unhandled: this module's too (pyarrow reads it)
from ..parquet_footer import read_struct as _struct, read_varint as _varint

try:
    import cramjam
except ImportError:  # an environment installed before cramjam was a dependency: pyarrow reads every column
    cramjam = None


# Parquet's codecs, by the names pyarrow's metadata gives them -> cramjam's decompression into a buffer. pyarrow
# names LZ4_RAW "LZ4" (its Compression::LZ4), and the deprecated Hadoop-framed LZ4 "UNKNOWN", as LZO is not here:
# pyarrow reads those.
DECOMPRESS = {"SNAPPY": cramjam.snappy.decompress_raw_into, "GZIP": cramjam.gzip.decompress_into,
              "ZSTD": cramjam.zstd.decompress_into, "LZ4": cramjam.lz4.decompress_block_into,
              "BROTLI": cramjam.brotli.decompress_into, "UNCOMPRESSED": None} if cramjam else {}

DATA_PAGE, DICTIONARY_PAGE, DATA_PAGE_V2 = 0, 2, 3  # PageType
PLAIN, PLAIN_DICTIONARY, RLE, RLE_DICTIONARY = 0, 2, 3, 8  # Encoding
UNITS = {"milliseconds": "ms", "microseconds": "us", "nanoseconds": "ns"}  # a TIMESTAMP's timeUnit -> Arrow's

# Decoded here only where it pays (benchmarks/README.md): a chunk of at least this many uncompressed bytes a value
# holds a dictionary of nearly every value (or PLAIN values), whose decompression is most of pyarrow's cost; a
# chunk of few distinct values is mostly narrow indices, which pyarrow unpacks faster than numpy can. And only
# Snappy's: LZ4 and uncompressed chunks of the same column are read faster by pyarrow (measured); GZIP, ZSTD and
# Brotli, decoded here all the same in the tests, were not measured, and are left to pyarrow too.
BYTES_A_VALUE = 8
FASTER_HERE = ("SNAPPY",)
# Nor in a read of fewer rows than this (minutes.readers): the Python around each chunk costs more than pyarrow's
# whole reading of a small one (a minute and a count column, one thread's CPU: 50 rows 150 µs against 20, 1,000 rows
# 140 against 50, 4,000 about even, 16,000 440-590 against 560-770); a directory of 1,000 small files paid it each.
FEWEST_ROWS = 8192


def decodable(column, field) -> bool:
    """Whether a Parquet column (``ColumnSchema``) is one this module reads into the Arrow ``field`` pyarrow
    gives it: flat INT64, read as int64 (no logical type, or a signed 64-bit INT), or as a timestamp of the unit
    it was written in; a column pyarrow converts on reading (another unit, a duration, unsigned) is left to it."""
    import pyarrow as pa  # heavy (0.2 s): loaded by the commands that read inputs

    if column.physical_type != "INT64" or column.max_repetition_level != 0 or column.max_definition_level > 1:
        return False
    logical = column.logical_type
    if logical.type not in ("NONE", "INT", "TIMESTAMP"):
        return False
    details = json.loads(logical.to_json())  # pyarrow gives a logical type's parameters in this form only
    if pa.types.is_timestamp(field.type):
        return logical.type == "TIMESTAMP" and UNITS.get(details.get("timeUnit")) == field.type.unit
    return field.type == pa.int64() and (logical.type == "NONE" or logical.type == "INT" and
                                         details.get("isSigned") is True and details.get("bitWidth") == 64)


def decodable_columns(source, names: list) -> dict:
    """{name: (its leaf, its Arrow field, whether optional)} of the columns ``names`` of a Parquet file
    (``source``, a ``ParquetFile``) that :func:`read_column` may decode (see :func:`decodable`)."""
    schema, arrow = source.metadata.schema, source.schema_arrow
    leaves = {schema.column(i).path: i for i in range(len(schema))}
    found = {}
    for name in names:
        if name in leaves and decodable(schema.column(leaves[name]), arrow.field(name)):
            found[name] = (leaves[name], arrow.field(name), schema.column(leaves[name]).max_definition_level == 1)
    return found


def read_row_groups(source, handle, groups: list, columns: list, decodable: dict):
    """The table pyarrow's ``source.read_row_groups(groups, columns=columns)`` gives, with the ``decodable``
    columns (:func:`decodable_columns`) whose chunks :func:`read_column` takes decoded here, and the others by
    pyarrow. ``handle``: the file's bytes."""
    import pyarrow as pa  # heavy (0.2 s): loaded by the commands that read inputs

    decoded = {}
    for name in columns:
        if name in decodable:
            array = read_column(handle, source.metadata, groups, *decodable[name])
            if array is not None:
                decoded[name] = array
    if not decoded:
        return source.read_row_groups(groups, columns=columns, use_threads=False)
    rest = [name for name in columns if name not in decoded]
    if not rest:
        return pa.Table.from_arrays([decoded[name] for name in columns], schema=pa.schema(
            [decodable[name][1] for name in columns], metadata=source.schema_arrow.metadata))
    table = source.read_row_groups(groups, columns=rest, use_threads=False)
    for at, name in enumerate(columns):
        if name in decoded:
            table = table.add_column(at, decodable[name][1], [decoded[name]])
    return table


def read_column(handle, metadata, groups: list, leaf: int, field, optional: bool, codecs=FASTER_HERE):
    """The Arrow array of column ``leaf`` over the row groups ``groups`` of a Parquet file (its ``metadata``,
    its bytes read through ``handle``), or None when any chunk is not one this module decodes, or one it leaves
    to pyarrow (:data:`BYTES_A_VALUE`, ``codecs``). ``field``: the Arrow field pyarrow reads it as (see
    :func:`decodable`); ``optional``: whether it has definition levels."""
    import pyarrow as pa  # heavy (0.2 s): loaded by the commands that read inputs

    chunks = [metadata.row_group(g).column(leaf) for g in groups]
    rows = [metadata.row_group(g).num_rows for g in groups]
    if any(c.total_uncompressed_size < BYTES_A_VALUE * c.num_values or c.compression not in codecs or
           c.compression not in DECOMPRESS for c in chunks):
        return None
    values = np.empty(sum(rows), np.int64)
    valid = np.ones(len(values), bool) if optional else None
    at = 0
    try:
        for chunk, count in zip(chunks, rows):
            if chunk.num_values != count:
                raise Unhandled("values and rows differ")
            start = chunk.dictionary_page_offset if chunk.has_dictionary_page else chunk.data_page_offset
            data = _read(handle, start, chunk.total_compressed_size)
            here, present = values[at:at + count], None if valid is None else valid[at:at + count]
            if not _decoded_before(data, chunk.compression, here, present):
                decode_chunk(data, DECOMPRESS[chunk.compression], here, present)
                _kept_if_seen(data, chunk.compression, here, present)
            at += count
    except Unhandled:
        return None
    nulls = 0 if valid is None else len(valid) - int(np.count_nonzero(valid))
    bitmap = pa.py_buffer(np.packbits(valid, bitorder="little")) if nulls else None
    return pa.Array.from_buffers(field.type, len(values), [bitmap, pa.py_buffer(values)], null_count=nulls)


# Whole column chunks decoded before, by their bytes. A file written account by account lists every minute of the
# month for each account, so each row group's `minute` chunk is the same bytes, its dictionary page and all (the
# 500-account month: one distinct chunk among 500); a chunk whose bytes are those of one decoded before is its values
# again, copied (~0.01-0.03 ms for 44,640 rows), without Snappy (~0.33 ms) nor its pages walked in Python
# (benchmarks/README.md, "The fifteenth round"). A chunk's bytes are kept (a reference: nothing copied) when first
# seen; its values only once the same bytes come again, so that a file whose chunks all differ pays nothing but a
# look-up. (codec, rows, optional, stored size, its first bytes) -> (the chunk's bytes, its values and validity,
# None until seen twice); a few kept per process, each of at most CHUNK_MOST_BYTES (its bytes and 9 a row for its
# values and validity: a month's 44,640 rows, ~0.75 MB), so that a process holds at most 16 MiB for them (a chunk of
# up to 2 * readers.BATCH_ROWS rows is decoded here: 8 MiB of values, and its bytes).
_CHUNKS: dict = {}
CHUNKS_KEPT = 4
CHUNK_KEY_BYTES = 64
CHUNK_MOST_BYTES = 4 << 20


def _decoded_before(data: bytes, codec: str, values: np.ndarray, valid: np.ndarray | None) -> bool:
    """Whether the chunk of bytes ``data`` was decoded before and kept (:data:`_CHUNKS`): its values (and validity)
    then filled in from there."""
    kept = _CHUNKS.get((codec, len(values), valid is not None, len(data), data[:CHUNK_KEY_BYTES]))
    if kept is None or kept[1] is None or kept[0] != data:
        return False
    values[:] = kept[1]
    if valid is not None:
        valid[:] = kept[2]
    return True


def _kept_if_seen(data: bytes, codec: str, values: np.ndarray, valid: np.ndarray | None) -> None:
    """Keep the chunk just decoded from ``data`` (:data:`_CHUNKS`): its bytes when first seen, its values (copies)
    when the same bytes were seen before."""
    if len(data) + 9 * len(values) > CHUNK_MOST_BYTES:
        return
    key = (codec, len(values), valid is not None, len(data), data[:CHUNK_KEY_BYTES])
    kept = _CHUNKS.get(key)
    if kept is not None and kept[0] == data:
        _CHUNKS[key] = data, values.copy(), None if valid is None else valid.copy()
        return
    if len(_CHUNKS) >= CHUNKS_KEPT:
        _CHUNKS.clear()
    _CHUNKS[key] = data, None, None


def _read(handle, start: int, size: int) -> bytes:
    """The ``size`` bytes at ``start`` of a file (a chunk's, as its footer says), or Unhandled."""
    if start < 0 or size <= 0:
        raise Unhandled("a chunk's place")
    handle.seek(start)
    data = handle.read(size)
    if len(data) != size:
        raise Unhandled("a chunk beyond the file's end")
    return data


def decode_chunk(data: bytes, decompress, values: np.ndarray, valid: np.ndarray | None) -> None:
    """Decode a column chunk's pages (``data``) into ``values`` (one per row) and, for an optional column,
    ``valid`` (False at each null, whose value is set to 0); Unhandled for anything else."""
    try:
        _decode_pages(memoryview(data), decompress, values, valid)
    except (IndexError, ValueError, OverflowError, cramjam.DecompressionError) as exc:
        raise Unhandled(str(exc)) from None  # bytes that do not parse, or sizes that lie


def _decode_pages(data: memoryview, decompress, values: np.ndarray, valid: np.ndarray | None) -> None:
    chunk = _Chunk(decompress, values, valid)
    i = 0
    while chunk.at < len(values):
        header, i = _struct(data, i, PAGE_HEADER, 0)
        kind, size, stored = header[1], header[2], header[3]
        if not 0 <= stored <= len(data) - i or size < 0:
            raise Unhandled("a page's sizes")
        body, i = data[i:i + stored], i + stored
        if kind == DICTIONARY_PAGE and 7 in header:
            chunk.dictionary_page(body, size, header[7])
        elif kind == DATA_PAGE and 5 in header:
            if header[5][3] != RLE and valid is not None:
                raise Unhandled("definition levels not RLE")
            chunk.data_page(body, size, header[5][1], header[5][2], None, decompress)
        elif kind == DATA_PAGE_V2 and 8 in header and 7 in header[8] and header[8][3] >= 0:
            # pyarrow refuses a negative count of rows, and reads a page without is_compressed as not compressed
            # (the format says compressed): such pages are its own to read. A v2 page's levels are never
            # compressed, and come first; its values may be stored uncompressed in a compressed chunk.
            page = header[8]
            levels, body = _levels_v2(body, page, valid is not None)
            if size < len(levels or b""):
                raise Unhandled("a v2 page's levels beyond its size")
            chunk.data_page(body, size - len(levels or b""), page[1], page[4], levels,
                            decompress if page[7] else None)
        else:
            raise Unhandled("a page of another type, or without its header")
    if i != len(data):
        raise Unhandled("bytes after the chunk's last page")


class _Chunk:
    """One chunk's decoding: its dictionary, and the rows its pages fill in turn (``at``, the next one). A
    dictionary of a value for every row is decompressed into the rows themselves: where the pages' indices are
    those rows' own, in order (each row's distinct minute, written account by account), nothing more is
    copied; at the first page whose indices are not, the dictionary is copied out before a row is written."""

    def __init__(self, decompress, values: np.ndarray, valid: np.ndarray | None):
        self.decompress, self.values, self.valid = decompress, values, valid
        self.dictionary, self.in_place, self.at = None, False, 0
        self.scratch = np.empty(0, np.uint8)

    def dictionary_page(self, body: memoryview, size: int, page: dict) -> None:
        if self.dictionary is not None or self.at or page[2] not in (PLAIN, PLAIN_DICTIONARY) or \
                not 0 <= page[1] <= len(self.values) or size != 8 * page[1]:
            raise Unhandled("a dictionary page")
        self.in_place = page[1] == len(self.values)
        into = self.values.view(np.uint8) if self.in_place else np.empty(size, np.uint8)
        if self.decompress is None:
            into[:] = _inflate(body, size, None, into)
        else:
            _inflate(body, size, self.decompress, into)
        self.dictionary = into.view("<i8")

    def data_page(self, body: memoryview, size: int, count: int, encoding: int, levels, decompress) -> None:
        at = self.at
        if not 0 < count <= len(self.values) - at or size > 10 * count + 64:
            raise Unhandled("a page's count")
        key = (decompress, size, count, encoding, self.valid is not None, None if levels is None else bytes(levels))
        kept = _RANGES.get(key) if self.dictionary is not None and encoding in (RLE_DICTIONARY, PLAIN_DICTIONARY) \
            else None
        if kept is not None and len(kept[0]) == len(body) and kept[0] == bytes(body):
            found, present = kept[1], None
            if found.stop > len(self.dictionary):
                raise Unhandled("an index beyond the dictionary")
        else:
            if len(self.scratch) < size:
                self.scratch = np.empty(max(size, 2 * len(self.scratch)), np.uint8)
            raw = _inflate(body, size, decompress, self.scratch[:size])
            found, present = _decode_values(raw, levels, encoding, count, self.dictionary, self.valid is not None)
            if present is None and isinstance(found, range) and encoding in (RLE_DICTIONARY, PLAIN_DICTIONARY):
                if len(_RANGES) >= RANGES_KEPT:
                    _RANGES.clear()
                _RANGES[key] = bytes(body), found
        if self.in_place and present is None and isinstance(found, range) and found == range(at, at + count):
            self.at += count  # the dictionary holds these rows' values where they go
            return
        if self.in_place:
            self.dictionary, self.in_place = self.dictionary.copy(), False
        if isinstance(found, range):
            found = self.dictionary[found.start:found.stop]
        elif encoding != PLAIN:
            found = self.dictionary.take(found)  # IndexError (Unhandled) for an index beyond it
        rows = self.values[at:at + count]
        if present is None:
            rows[:] = found
        else:
            rows[:] = 0
            rows[present] = found
            self.valid[at:at + count] = present
        self.at += count


# The data pages of indices that were consecutive, by their bytes: each row group of a file written account by account
# holds the same pages of indices 0, 1, ... (one a row, its dictionary a minute a row: only the dictionary page
# differs), decompressed and unpacked ~20 us a page. A page whose bytes are those of one kept is its range again,
# without either (benchmarks/README.md, "The fourteenth round"). (codec, uncompressed size, values, encoding,
# optional, a v2 page's levels) -> (the page's bytes as stored, the range of its indices); a few kept per process.
_RANGES: dict = {}
RANGES_KEPT = 16


def _inflate(body: memoryview, size: int, decompress, into: np.ndarray) -> np.ndarray:
    """A page's ``size`` bytes, decompressed into ``into`` (of that size: a stream longer than its page says is
    refused by each codec, a shorter one is found by its length), or Unhandled."""
    if decompress is None:
        if len(body) != size:
            raise Unhandled("an uncompressed page's sizes")
        return np.frombuffer(body, np.uint8)
    if decompress(body, into) != size:
        raise Unhandled("a page's size")
    return into


def _levels_v2(body: memoryview, page: dict, optional: bool) -> tuple:
    """(the definition levels' bytes or None, the values' bytes) of a v2 data page (its levels come before its
    values)."""
    repeated, defined = page[6], page[5]
    if repeated or defined < 0 or defined > len(body) or (defined > 0) != optional:
        raise Unhandled("a v2 page's levels")
    return body[:defined] if optional else None, body[defined:]


def _decode_values(raw: np.ndarray, levels, encoding, count: int, dictionary, optional: bool) -> tuple:
    """(the values of a data page's rows that have one -- an array, or a range of indices into the dictionary
    when they are consecutive --, which rows have one: None for all) of a page of ``count`` rows: ``raw`` its
    decompressed bytes (of a v1 page, the definition levels first), ``levels`` a v2 page's."""
    i = 0
    present = None
    if optional:
        if levels is None:  # v1: the levels' length, then the levels
            if len(raw) < 4:
                raise Unhandled("a page's levels")
            length = int.from_bytes(raw[:4].tobytes(), "little")
            if length > len(raw) - 4:
                raise Unhandled("a page's levels")
            levels, i = raw[4:4 + length], 4 + length
        present = _definitions(levels, count)
    stored = count if present is None else int(np.count_nonzero(present))
    if encoding in (RLE_DICTIONARY, PLAIN_DICTIONARY):
        if dictionary is None or i >= len(raw) or raw[i] > 32:
            raise Unhandled("dictionary indices")
        found = _hybrid(raw, i + 1, int(raw[i]), stored, ranges=True)
        if isinstance(found, range) and found.stop > len(dictionary):
            raise Unhandled("an index beyond the dictionary")
        return found, present
    if encoding == PLAIN:
        if len(raw) - i != 8 * stored:
            raise Unhandled("PLAIN values' size")
        return raw[i:].view("<i8"), present
    raise Unhandled("another encoding")


def _definitions(levels, count: int) -> np.ndarray | None:
    """Whether each of ``count`` rows has a value, from their definition levels (of a flat optional column:
    0 null, 1 a value); None when every row has one, as one run of 1s says (a column without nulls)."""
    run, i = _varint(memoryview(levels), 0)
    if run == count << 1 and i < len(levels) and levels[i] == 1:
        return None
    present = _hybrid(np.frombuffer(levels, np.uint8), 0, 1, count, ranges=False)
    if present.max(initial=0) > 1:
        raise Unhandled("a definition level above 1")
    return present.astype(bool)


def _hybrid(raw: np.ndarray, i: int, width: int, count: int, ranges: bool):
    """``count`` values of ``width`` bits in Parquet's RLE/bit-packed hybrid from ``raw[i:]``: an intp array,
    or, with ``ranges``, a range when they are consecutive (the indices of a dictionary of distinct values)."""
    if not count:
        return np.zeros(0, np.intp)
    if width == 0:
        return np.zeros(count, np.intp)
    view = memoryview(raw)
    pieces, got, end = [], 0, len(raw)
    while got < count:
        head = i
        run, i = _varint(view, i)
        if run & 1:  # bit-packed: run >> 1 groups of 8 values, in width bytes each
            if not run >> 1:
                raise Unhandled("an empty run")
            packed, values, i = _bit_packed(raw, head, i, run >> 1, width, count - got)
            pieces.append(_unpack(packed, width, values, ranges))
            got += values
        else:  # a value repeated run >> 1 times
            if not run >> 1:
                raise Unhandled("an empty run")
            size = (width + 7) // 8
            if i + size > end:
                raise Unhandled("a run beyond the page")
            pieces.append(np.full(run >> 1, int.from_bytes(view[i:i + size], "little"), np.intp))
            got, i = got + (run >> 1), i + size
    if all(isinstance(p, range) for p in pieces) and all(a.stop == b.start for a, b in zip(pieces, pieces[1:])):
        return range(pieces[0].start, pieces[0].start + count)
    found = np.concatenate([np.arange(p.start, p.stop, dtype=np.intp) if isinstance(p, range) else p
                            for p in pieces])
    return found[:count]


def _unpack(packed: np.ndarray, width: int, count: int, ranges: bool):
    """The ``count`` values of ``width`` bits packed in ``packed`` (rows of whole groups of 8, least significant
    bit first); with ``ranges``, a range when they are consecutive, found by comparing the bytes with the
    range's: one comparison instead of unpacking and taking."""
    first = int.from_bytes(packed[0, :8].tobytes(), "little") & ((1 << width) - 1)
    if ranges and first + count <= 1 << width and packed.tobytes() == _packed_range(width, first, count):
        return range(first, first + count)
    data = packed.reshape(-1)
    if width in (8, 16, 32):
        return data.view(f"<u{width // 8}").astype(np.intp)
    return _unpack_bits(data, width)


@functools.lru_cache(maxsize=64)
def _packed_range(width: int, first: int, count: int) -> bytes:
    """The bytes of range(first, first + count) bit-packed at ``width`` bits (the few shapes a file's pages take,
    once each)."""
    bits = (np.arange(first, first + count, dtype=np.uint64)[:, None] >> np.arange(width, dtype=np.uint64)) & 1
    return np.packbits(bits.astype(np.uint8).reshape(-1), bitorder="little").tobytes()


def _unpack_bits(data: np.ndarray, width: int) -> np.ndarray:
    """Values of ``width`` (up to 32) bits packed least significant bit first, 8 in every ``width`` bytes: each
    group copied into 64-bit words, then value ``v`` of every group shifted out of the word(s) it spans."""
    groups = len(data) // width
    wide = np.zeros((groups, (width + 7) // 8 * 8), np.uint8)
    wide[:, :width] = data[:groups * width].reshape(groups, width)
    words = wide.view("<u8")
    out = np.empty((groups, 8), np.uint64)
    mask = np.uint64((1 << width) - 1)
    for v in range(8):
        bit = v * width
        word, shift, column = bit >> 6, bit & 63, out[:, v]
        np.right_shift(words[:, word], np.uint64(shift), out=column)
        if shift + width > 64:
            np.bitwise_or(column, np.left_shift(words[:, word + 1], np.uint64(64 - shift)), out=column)
        np.bitwise_and(column, mask, out=column)
    return out.reshape(-1).view(np.intp)



# ---------------------------------------------------------------------------- the rows of some accounts
# A claim on a file written as time goes (every row group holds every account, one row a minute each) needs the
# rows of one account of each 1 M-row group: pyarrow decodes the whole ``account`` column to find them, 3.5 ns a
# row, most of it building the dictionary array of names (benchmarks/README.md, "A claim finds its rows in the
# account column's pages"). Such an export lists the same accounts in the same order every minute, so the
# column's dictionary indices repeat with the dictionary's length as their period: once a page's packed bytes are
# proven to repeat (one comparison of its bytes with themselves shifted by a period), the first period says where
# every row of the account is, and nothing else is unpacked. Any other page (nulls, indices that do not repeat,
# runs of one value, a v2 page) is :class:`Unhandled`, and pyarrow reads that batch's column as before.

def account_rows(handle, metadata, groups: list, leaf: int, optional: bool, codes_of) -> tuple | None:
    """(positions, their dictionary codes, the dictionary's names) of the rows whose names ``codes_of`` picks
    (``codes_of(names) -> codes``: the indices of the wanted names among a chunk's dictionary) over the row groups
    ``groups`` of a Parquet file (its ``metadata``, its bytes read through ``handle``), column ``leaf``; positions
    count from the first row of the first group, and the codes index the names returned (one list of names for
    every group), ``optional``: whether the column has definition levels. None when any page is not one this
    module reads so (see above), or the groups' dictionaries differ: the caller reads the column with pyarrow."""
    if cramjam is None:
        return None
    try:
        found, codes, names, at = [], [], None, 0
        for group in groups:
            chunk = metadata.row_group(group).column(leaf)
            rows = metadata.row_group(group).num_rows
            if chunk.num_values != rows or chunk.compression not in DECOMPRESS or not chunk.has_dictionary_page:
                return None
            data = _read(handle, chunk.dictionary_page_offset, chunk.total_compressed_size)
            chunk_names, where, which = _chunk_rows(memoryview(data), chunk.compression, rows, optional, codes_of)
            if names is not None and chunk_names != names:
                return None
            names = chunk_names
            found.append(where + at)
            codes.append(which)
            at += rows
    except (Unhandled, IndexError, ValueError, OverflowError, UnicodeDecodeError, cramjam.DecompressionError):
        return None  # bytes that do not parse, or sizes that lie: pyarrow reads them, or names what is wrong
    return np.concatenate(found), np.concatenate(codes), names


def _chunk_rows(data: memoryview, codec: str, rows: int, optional: bool, codes_of) -> tuple:
    """(the dictionary's names, positions, their codes) of one chunk's rows picked by ``codes_of``."""
    decompress = DECOMPRESS[codec]
    i, at, names, wanted, scratch = 0, 0, None, None, np.empty(0, np.uint8)
    known, found, codes = _Headers(), [], []
    firsts: dict = {}  # a period's packed bytes -> (positions in it, their codes): the same in every page
    same: dict = {}  # (a page's header, its bytes) -> (positions in it, their codes)
    while at < rows:
        head = i
        header, i = known.parse(data, i)
        kind, size, stored = header[1], header[2], header[3]
        if not 0 <= stored <= len(data) - i or size < 0:
            raise Unhandled("a page's sizes")
        body, i = data[i:i + stored], i + stored
        if names is None:
            if kind != DICTIONARY_PAGE or 7 not in header or header[7][2] not in (PLAIN, PLAIN_DICTIONARY):
                raise Unhandled("a chunk that does not start with its dictionary")
            names = _names(bytes(body), codec, size, header[7][1])
            wanted = np.asarray(codes_of(names), np.intp)
            continue
        # Every page of the dictionary's indices: a dictionary that outgrew its page (dictionary_pagesize_limit)
        # leaves the names after it PLAIN in the chunk's later pages, where a claimant missing from it may be.
        if kind != DATA_PAGE or 5 not in header or header[5][2] not in (RLE_DICTIONARY, PLAIN_DICTIONARY) or \
                (optional and header[5][3] != RLE):
            raise Unhandled("a page of another type or encoding")
        count = header[5][1]
        if not 0 < count <= rows - at or size > 10 * count + 64:
            raise Unhandled("a page's count")
        if not len(wanted):  # none of its rows: its pages' headers are read, none is decompressed
            at += count
            continue
        # A page whose header and bytes are those of one before it holds the same indices: not decompressed again
        # (each decompression gives up the GIL, and on two cores taking it back waits for the command's thread,
        # which loads its modules meanwhile: benchmarks/README.md).
        key = (known.last, bytes(body))
        kept = same.get(key)
        if kept is None:
            if len(scratch) < size:
                scratch = np.empty(max(size, 2 * len(scratch)), np.uint8)
            raw = _inflate(body, size, decompress, scratch[:size])
            kept = same[key] = _page_rows(raw, count, optional, len(names), wanted, known, firsts)
        where, which = kept
        # The pages right after it that are the same bytes, header and all (a file written as time goes: every page
        # of a row group alike), found by one comparison rather than one page at a time (~5 us each, in Python).
        stride = i - head
        most = min((len(data) - head) // stride, (rows - at) // count)
        repeats = 1
        if most > 1:
            pages = np.ndarray((most, stride), np.uint8, data, head, (stride, 1))
            alike = (pages[1:] == pages[0]).all(axis=1)
            repeats = 1 + (len(alike) if alike.all() else int(np.argmin(alike)))
        found.append((where[None, :] + (at + count * np.arange(repeats))[:, None]).reshape(-1))
        codes.append(np.tile(which, repeats))
        at += count * repeats
        i = head + stride * repeats
    if i != len(data):
        raise Unhandled("bytes after the chunk's last page")
    if not found:
        return names, np.zeros(0, np.int64), np.zeros(0, np.intp)
    return names, np.concatenate(found), np.concatenate(codes)


def _page_rows(raw: np.ndarray, count: int, optional: bool, size: int, wanted: np.ndarray, known: "_Headers",
               firsts: dict) -> tuple:
    """(positions in the page, their codes) of the rows whose index is one of ``wanted``, in a v1 data page of
    ``count`` rows of dictionary indices (of a dictionary of ``size`` names) whose packed bytes repeat with a
    period of ``size`` rows; Unhandled for any other."""
    i = 0
    if optional:  # the definition levels' length, then the levels: every row present, or Unhandled
        length = int.from_bytes(raw[:4].tobytes(), "little")
        if length > len(raw) - 5:
            raise Unhandled("a page's levels")
        levels = raw[4:4 + length].tobytes()
        if levels != known.present.get(count):
            if _definitions(levels, count) is not None:
                raise Unhandled("a page with nulls")
            known.present[count] = levels
        i = 4 + length
    width = int(raw[i])
    if not 0 < width <= 32:
        raise Unhandled("an index width")
    packed = _packed_runs(raw, i + 1, width, count)
    # A period of whole groups of 8 indices (whole bytes): the dictionary's length, times what makes it so.
    period = size * 8 // math.gcd(size, 8)
    span = period * width // 8
    whole, tail = divmod(count * width, 8)  # the bytes of whole indices, and the bits of the page's last byte
    if period < count and (bytes(packed[span:whole]) != bytes(packed[:whole - span]) or
                           tail and (packed[whole] ^ packed[whole - span]) & ((1 << tail) - 1)):
        raise Unhandled("indices that do not repeat")  # (the bits after the last index pad its group of 8)
    first = bytes(packed[:min(span, len(packed))])
    key = (width, min(period, count), first)
    kept = firsts.get(key)
    if kept is None:
        indices = _unpack_bits(np.frombuffer(first, np.uint8), width)[:min(period, count)]
        if indices.max(initial=0) >= size:
            raise Unhandled("an index beyond the dictionary")
        picked = np.zeros(size, bool)
        picked[wanted] = True
        where = np.flatnonzero(picked[indices])
        kept = firsts[key] = (where, indices[where])
    where, which = kept
    if period >= count:
        keep = where < count
        return where[keep], which[keep]
    rounds = -(-count // period)
    where = (where[None, :] + period * np.arange(rounds)[:, None]).reshape(-1)
    which = np.tile(which, rounds)
    keep = where < count
    return where[keep], which[keep]


def _packed_runs(raw: np.ndarray, i: int, width: int, count: int) -> np.ndarray:
    """The packed bytes of ``count`` values of ``width`` bits at ``raw[i:]`` written in bit-packed runs only (a
    dictionary's indices that never repeat a value 8 times), without their runs' headers; Unhandled for a run of
    one value."""
    view = memoryview(raw)
    pieces, got = [], 0
    while got < count:
        head = i
        run, i = _varint(view, i)
        if not run & 1 or not run >> 1:
            raise Unhandled("a run of one value")
        packed, values, i = _bit_packed(raw, head, i, run >> 1, width, count - got)
        pieces.append(packed.reshape(-1))
        got += values
    return pieces[0] if len(pieces) == 1 else np.concatenate(pieces)


def _bit_packed(raw: np.ndarray, head: int, i: int, groups: int, width: int, left: int) -> tuple[np.ndarray, int, int]:
    """The bit-packed run whose header is ``raw[head:i]`` (``groups`` groups of 8 values of ``width`` bits) with the
    runs of the same header that follow it, as many as ``left`` values need: runs of the same length follow one
    another (the writer's longest), so their headers are checked at once. (Their packed bytes, a row a run, without
    the headers; how many values they hold; the index after them.)"""
    end, stride = len(raw), (i - head) + groups * width
    repeats = max(1, min((end - head) // stride, -(-left // (groups * 8))))
    if repeats > 1:
        heads = np.ndarray((repeats, i - head), np.uint8, raw, head, (stride, 1))
        same = (heads == raw[head:i]).all(axis=1)
        repeats = repeats if same.all() else int(np.argmin(same))
    if head + repeats * stride > end:
        raise Unhandled("a run beyond the page")
    return (np.ndarray((repeats, groups * width), np.uint8, raw, i, (stride, 1)), repeats * groups * 8,
            head + repeats * stride)


@functools.lru_cache(maxsize=8)
def _names(body: bytes, codec: str, size: int, count: int) -> tuple:
    """The ``count`` strings of a dictionary page of byte arrays (``body``, compressed by ``codec``, ``size``
    bytes once not: each value its 4-byte length, then its UTF-8 bytes). Once per page's bytes: a file written as
    time goes repeats one dictionary in each row group, whose 500 names cost ~0.15 ms to decode."""
    data, names, i = _inflate(memoryview(body), size, DECOMPRESS[codec], np.empty(size, np.uint8)).tobytes(), [], 0
    for _ in range(count):
        length = int.from_bytes(data[i:i + 4], "little")
        if i + 4 + length > len(data):
            raise Unhandled("a name beyond the page")
        names.append(data[i + 4:i + 4 + length].decode())
        i += 4 + length
    if i != len(data):
        raise Unhandled("bytes after the dictionary's names")
    if len(set(names)) != len(names):  # pyarrow merges them, and its indices then name other rows' names
        raise Unhandled("a dictionary that repeats a name")
    return tuple(names)


class _Headers:
    """A chunk's page headers, each parsed once: a file written as time goes repeats one data page's header in
    each of a chunk's pages (their sizes and statistics alike), whose parse costs ~19 us in Python."""

    def __init__(self):
        self.last, self.parsed = b"", None
        self.present: dict = {}  # rows -> the definition levels of that many rows, every one present

    def parse(self, data: memoryview, i: int) -> tuple:
        last = self.last
        if last and bytes(data[i:i + len(last)]) == last:
            return self.parsed, i + len(last)
        header, end = _struct(data, i, PAGE_HEADER, 0)
        self.last, self.parsed = bytes(data[i:end]), header
        return header, end

# The fields of a PageHeader read here (parquet_footer's shapes of Thrift's compact protocol): 1 type, 2
# uncompressed size, 3 compressed size, 5 DataPageHeader (1 values, 2 encoding, 3 and 4 the levels' encodings), 7
# DictionaryPageHeader (1 values, 2 encoding), 8 DataPageHeaderV2 (1 values, 2 nulls, 3 rows, 4 encoding, 5 and 6 the
# definition and repetition levels' bytes, 7 whether compressed).
PAGE_HEADER = ({1: I32, 2: I32, 3: I32, 5: ({1: I32, 2: I32, 3: I32, 4: I32}, {1, 2, 3, 4}),
                7: ({1: I32, 2: I32, 3: BOOL}, {1, 2}),
                8: ({1: I32, 2: I32, 3: I32, 4: I32, 5: I32, 6: I32, 7: BOOL}, {1, 2, 3, 4, 5, 6})}, {1, 2, 3})


def dictionary_names(handle, metadata, group: int, leaf: int) -> tuple | None:
    """The names of row group ``group``'s dictionary page of column ``leaf`` (a column of names written with a
    dictionary, as pyarrow writes them), read from that page alone: a few KiB where the column's indices are
    megabytes. None when the chunk has no dictionary page this module reads. A dictionary that outgrew its page
    leaves later names PLAIN in the data pages, which are not read: the names of the page only."""
    if cramjam is None:
        return None
    try:
        chunk = metadata.row_group(group).column(leaf)
        if not chunk.has_dictionary_page or chunk.compression not in DECOMPRESS:
            return None
        start = chunk.dictionary_page_offset
        head = memoryview(_read(handle, start, min(chunk.total_compressed_size, 1024)))  # a page header is smaller
        header, i = _Headers().parse(head, 0)
        if header[1] != DICTIONARY_PAGE or 7 not in header or header[7][2] not in (PLAIN, PLAIN_DICTIONARY):
            return None
        return _names(_read(handle, start + i, header[3]), chunk.compression, header[2], header[7][1])
    except (Unhandled, IndexError, ValueError, OverflowError, UnicodeDecodeError, cramjam.DecompressionError):
        return None
