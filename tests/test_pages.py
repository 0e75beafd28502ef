"""Parquet column chunks decoded by slapolicy.minutes.pages (the ``minute`` column of a file written account by
account) give exactly the array pyarrow gives -- type, unit, zone, nulls -- or are left to pyarrow: every codec,
v1 and v2 pages, optional and required columns, several pages a chunk, a dictionary that falls back to PLAIN, and
hostile bytes (never a different number, never a traceback)."""
import datetime as dt
import shutil

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

from conftest import DRAFT, PUBLISHED
from slapolicy.errors import InputError
from slapolicy.minutes import pages, read_minutes
from slapolicy.policy import load_policy
from slapolicy.replay import month_range

CODECS = ["snappy", "gzip", "zstd", "lz4", "brotli", "none"]
EVERY_CODEC = tuple(pages.DECOMPRESS)
START = 1_551_369_600_000  # 2019-02-28T16:00:00Z in ms: the first minute of March 2019 in Singapore (UTC+8)
MINUTE = 60_000


def minute_column(rows, unit="ms", tz="UTC", nulls=None, nullable=True, first=START):
    """``rows`` distinct minutes from ``first`` (each row's own, as written account by account), in ``unit``."""
    per = {"ms": 1, "us": 1_000, "ns": 1_000_000, "s": None}[unit]
    values = np.arange(rows, dtype=np.int64) * MINUTE + first
    values = values * per if per else values // 1000
    return pa.field("minute", pa.timestamp(unit, tz=tz), nullable=nullable), pa.array(
        values, pa.int64(), mask=nulls).cast(pa.timestamp(unit, tz=tz))


def write(path, columns: dict, **options):
    """A Parquet file of ``columns`` ({name: (field, array)}), pyarrow's defaults unless ``options`` say."""
    schema = pa.schema([field for field, _ in columns.values()])
    pq.write_table(pa.Table.from_arrays([array for _, array in columns.values()], schema=schema), path, **options)
    return path


def ours(path, name="minute", codecs=EVERY_CODEC, groups=None):
    """The column decoded here, None when left to pyarrow, or "not decodable"."""
    source = pq.ParquetFile(path)
    found = pages.decodable_columns(source, [name])
    if name not in found:
        return "not decodable"
    groups = list(range(source.metadata.num_row_groups)) if groups is None else groups
    with open(path, "rb") as handle:
        return pages.read_column(handle, source.metadata, groups, *found[name], codecs=codecs)


def theirs(path, name="minute", groups=None):
    source = pq.ParquetFile(path)
    groups = list(range(source.metadata.num_row_groups)) if groups is None else groups
    return source.read_row_groups(groups, columns=[name]).column(0).combine_chunks()


def page_kinds(path, group=0, leaf=0):
    """[(page type, encoding)] of a chunk's pages, walked by their headers (Thrift)."""
    chunk = pq.ParquetFile(path).metadata.row_group(group).column(leaf)
    start = chunk.dictionary_page_offset if chunk.has_dictionary_page else chunk.data_page_offset
    with open(path, "rb") as handle:
        handle.seek(start)
        data = memoryview(handle.read(chunk.total_compressed_size))
    kinds, i = [], 0
    while i < len(data):
        header, i = pages._struct(data, i, pages.PAGE_HEADER, 0)
        page = header.get(7) or header.get(5) or header.get(8)
        kinds.append((header[1], page.get(4 if header[1] == pages.DATA_PAGE_V2 else 2)))
        i += header[3]
    return kinds


def assert_same(got, expected):
    assert isinstance(got, pa.Array), got  # decoded here, not left to pyarrow
    assert got.type == expected.type and got.null_count == expected.null_count and len(got) == len(expected)
    assert got.equals(expected)
    assert got.is_null().equals(expected.is_null())


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("version", ["1.0", "2.0"])
@pytest.mark.parametrize("shape", ["required", "optional", "nulls"])
def test_every_codec_page_version_and_null_shape_decodes_to_pyarrows_array(tmp_path, codec, version, shape):
    """3 row groups (1,440, 1,440 and 480 rows), pages of 1 KB: several data pages a chunk, each group's
    dictionary of 1,440 (or 480) distinct minutes; with ``nulls`` every 7th row and the 3 first are null."""
    rows = 3360
    mask = None
    if shape == "nulls":
        mask = np.zeros(rows, bool)
        mask[::7] = mask[:3] = True
    field, array = minute_column(rows, nulls=mask, nullable=shape != "required")
    path = write(tmp_path / "m.parquet", {"minute": (field, array)}, compression=codec, data_page_version=version,
                 row_group_size=1440, data_page_size=1024, write_batch_size=128)
    kinds = page_kinds(path)
    data_page = pages.DATA_PAGE if version == "1.0" else pages.DATA_PAGE_V2
    assert kinds[0] == (pages.DICTIONARY_PAGE, pages.PLAIN) and len(kinds) > 2
    assert {kind for kind, _ in kinds[1:]} == {data_page}
    assert pq.ParquetFile(path).metadata.schema.column(0).max_definition_level == (shape != "required")
    got = ours(path)
    assert_same(got, theirs(path))
    assert got.null_count == (0 if shape != "nulls" else 480 + 2)  # rows 0, 7, ..., 3353 and rows 1 and 2
    assert got[3].as_py() == dt.datetime(2019, 2, 28, 16, 3, tzinfo=dt.timezone.utc)
    assert_same(ours(path, groups=[2, 0]), theirs(path, groups=[2, 0]))


@pytest.mark.parametrize("version", ["1.0", "2.0"])
@pytest.mark.parametrize("codec", ["snappy", "none"])
def test_a_dictionary_that_grows_too_large_falls_back_to_plain_pages_mid_chunk(tmp_path, version, codec):
    """A dictionary page limit of 4 KB (512 minutes): pyarrow writes the first pages as dictionary indices,
    then PLAIN pages of 64-bit values for the rest of the chunk; both are decoded, nulls among them. Row 4,989
    is 4,989 minutes = 3 days 11:09 after 2019-02-28T16:00Z."""
    mask = np.zeros(5000, bool)
    mask[4990:] = mask[100] = True
    field, array = minute_column(5000, nulls=mask)
    path = write(tmp_path / "m.parquet", {"minute": (field, array)}, compression=codec, data_page_version=version,
                 dictionary_pagesize_limit=4096, data_page_size=1024, write_batch_size=128)
    encodings = [encoding for _, encoding in page_kinds(path)[1:]]
    assert pages.RLE_DICTIONARY in encodings and encodings[-1] == pages.PLAIN
    got = ours(path)
    assert_same(got, theirs(path))
    assert got.null_count == 11 and got[4989].as_py() == dt.datetime(2019, 3, 4, 3, 9, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize("unit", ["ms", "us", "ns"])
@pytest.mark.parametrize("tz", ["UTC", "Asia/Singapore", None])
def test_timestamps_keep_their_unit_and_zone(tmp_path, unit, tz):
    field, array = minute_column(2000, unit=unit, tz=tz)
    path = write(tmp_path / "m.parquet", {"minute": (field, array)})
    got = ours(path)
    assert_same(got, theirs(path))
    assert got.type == pa.timestamp(unit, tz=tz)
    assert got[1999].value == (START + 1999 * MINUTE) * {"ms": 1, "us": 10 ** 3, "ns": 10 ** 6}[unit]


def test_what_pyarrow_converts_on_reading_is_not_decoded_here(tmp_path):
    """Durations are 64-bit integers in Parquet that pyarrow gives as another type; unsigned, 32-bit and text
    columns are other types: pyarrow reads each. Seconds are written as milliseconds, and read as such: decoded."""
    seconds_field, seconds = minute_column(3000, unit="s")
    columns = {"minute": (seconds_field, seconds),
               "requests": (pa.field("requests", pa.uint64()), pa.array(np.arange(3000, dtype=np.uint64))),
               "failures": (pa.field("failures", pa.int32()), pa.array(np.arange(3000, dtype=np.int32))),
               "account": (pa.field("account", pa.string()), pa.array([f"a{i}" for i in range(3000)])),
               "wait": (pa.field("wait", pa.duration("ms")), pa.array(np.arange(3000), pa.duration("ms")))}
    path = write(tmp_path / "m.parquet", columns)
    source = pq.ParquetFile(path)
    assert source.schema_arrow.field("minute").type == pa.timestamp("ms", tz="UTC")
    assert list(pages.decodable_columns(source, list(columns))) == ["minute"]
    assert_same(ours(path), theirs(path))


@pytest.mark.parametrize("tail", ["in order", "reversed"])
def test_a_dictionary_of_a_value_for_every_row_in_another_order_than_the_rows(tmp_path, tail):
    """The dictionary of a chunk whose rows are all distinct is decompressed into the rows themselves (pages.
    _Chunk): its first 2,000 rows' indices are their own, in order, and left there; rows 2,000-2,999 point at
    the dictionary's last 1,000 values reversed, which are copied out of the rows before any is overwritten.
    (pyarrow writes an Arrow dictionary column's own dictionary and indices; read here by decode_chunk.)"""
    values = np.arange(3000, dtype=np.int64) * MINUTE + START
    indices = np.arange(3000)
    if tail == "reversed":
        indices[2000:] = indices[2000:][::-1]
    column = pa.DictionaryArray.from_arrays(pa.array(indices, pa.int32()), pa.array(values))
    path = tmp_path / "m.parquet"
    pq.write_table(pa.table({"minute": column}), path, data_page_size=1024, write_batch_size=128)
    kinds = page_kinds(path)
    assert kinds[0] == (pages.DICTIONARY_PAGE, pages.PLAIN) and len(kinds) > 4
    _, data = chunk_bytes(path)
    rows = np.zeros(3000, np.int64)
    pages.decode_chunk(data, pages.DECOMPRESS["SNAPPY"], rows, np.ones(3000, bool))
    assert rows.tolist() == values[indices].tolist()
    assert rows[2000] == START + (2999 if tail == "reversed" else 2000) * MINUTE and rows[1999] == START + 1999 * MINUTE


def test_mostly_distinct_snappy_chunks_only_are_decoded_here_by_default(tmp_path):
    """Decoded here only where it pays (pages.BYTES_A_VALUE, FASTER_HERE): a Snappy chunk of distinct values.
    A column of few distinct values (a minute per 500 rows, as a file written as time goes) or another codec is
    left to pyarrow, unless asked (the tests above ask for every codec)."""
    field, array = minute_column(5000)
    distinct = write(tmp_path / "distinct.parquet", {"minute": (field, array)})
    assert_same(ours(distinct, codecs=pages.FASTER_HERE), theirs(distinct))
    repeated = write(tmp_path / "repeated.parquet", {"minute": (field, array.take(np.arange(5000) // 500))})
    assert ours(repeated, codecs=pages.FASTER_HERE) is None and ours(repeated) is None
    _, data = chunk_bytes(repeated)  # decodable all the same: runs of a repeated index
    values = np.zeros(5000, np.int64)
    pages.decode_chunk(data, pages.DECOMPRESS["SNAPPY"], values, np.ones(5000, bool))
    assert values.tolist() == (np.arange(5000) // 500 * MINUTE + START).tolist()
    lz4 = write(tmp_path / "lz4.parquet", {"minute": (field, array)}, compression="lz4")
    assert ours(lz4, codecs=pages.FASTER_HERE) is None


def aggregates(path):
    """The minutes path over a file for March 2019 under the published version and the draft."""
    return read_minutes(path, month_range("2019-03", "2019-03"), [load_policy(PUBLISHED), load_policy(DRAFT)])


def by_account_table(accounts=3, rows=1440, nulls=False):
    """A month of minutes written account by account: each account's minutes (distinct) in its row group."""
    mask = np.zeros(accounts * rows, bool)
    if nulls:
        mask[5] = True
    field, minute = minute_column(rows)
    schema = pa.schema([pa.field("account", pa.string()), field, pa.field("requests", pa.int64()),
                        pa.field("failures", pa.int64())], metadata={"written by": "test_pages"})
    return pa.Table.from_arrays([
        pa.array([f"acct-{k}" for k in range(accounts) for _ in range(rows)]),
        pa.array(np.tile(minute.cast(pa.int64()).to_numpy(), accounts), mask=mask).cast(field.type),
        pa.array(np.full(accounts * rows, 100)), pa.array(np.arange(accounts * rows) % 3)], schema=schema)


@pytest.mark.parametrize("columns", [["account", "minute", "requests", "failures"], ["minute", "failures"],
                                     ["requests", "minute"], ["minute"]])
def test_a_batch_is_the_table_pyarrow_gives_with_its_schema_and_metadata(tmp_path, columns):
    path = tmp_path / "m.parquet"
    pq.write_table(by_account_table(nulls=True), path, row_group_size=1440)
    source = pq.ParquetFile(path)
    decodable = pages.decodable_columns(source, columns)
    assert decodable["minute"][0] == 1 and decodable["minute"][2] is True
    assert list(decodable) == [name for name in columns if name != "account"]  # requests, failures: few values
    with open(path, "rb") as handle:
        for groups in ([0, 1, 2], [1], [2, 0]):
            got = pages.read_row_groups(source, handle, groups, columns, decodable)
            expected = source.read_row_groups(groups, columns=columns, use_threads=False)
            assert got.schema.equals(expected.schema, check_metadata=True)
            assert got.equals(expected) and got.column("minute").null_count == (1 if 0 in groups else 0)


def test_the_minutes_path_reads_the_minute_column_here_and_gives_the_same_aggregates(tmp_path, monkeypatch):
    """read_part over a file written account by account: each batch's minute column is decoded here (a spy
    counts the arrays made), and the part's summary is the one pyarrow's reading gives (read_column made to
    leave every chunk to pyarrow)."""
    path = tmp_path / "m.parquet"
    pq.write_table(by_account_table(accounts=6), path, row_group_size=1440)  # 8,640 rows: enough to pay
    made = spy_on_read_column(monkeypatch)
    here = aggregates(path)
    assert sorted(set(made)) == [("failures", False), ("minute", True), ("requests", False)]
    monkeypatch.setattr(pages, "read_column", lambda *args, **kwargs: None)
    there = aggregates(path)
    assert {key: cell.totals for key, cell in here.cells.items()} == \
        {key: cell.totals for key, cell in there.cells.items()}
    assert here.rows_read == there.rows_read == 6 * 1440
    assert sorted(here.cells) == [(f"acct-{k}", "2019-03") for k in range(6)]
    assert here.cells[("acct-0", "2019-03")].totals.with_data == 1440


def test_a_page_of_indices_alike_in_every_row_group_is_unpacked_once(tmp_path, monkeypatch):
    """Each row group of a file written account by account holds the same pages of indices 0, 1, ... (only its
    dictionary of minutes differs): a page whose bytes were decoded before is its range again, without decompressing
    and unpacking it; every array is still pyarrow's, and a page of other bytes (a row group of another length) is
    decoded as before. The range kept is checked against each dictionary (a shorter one: left to pyarrow)."""
    path = tmp_path / "m.parquet"
    table = by_account_table(accounts=6, rows=1440)
    pq.write_table(pa.concat_tables([table, by_account_table(accounts=1, rows=1000)]), path, row_group_size=1440,
                   use_dictionary=True)
    unpacked = []
    real = pages._decode_values
    monkeypatch.setattr(pages, "_decode_values", lambda *args: unpacked.append(args[3]) or real(*args))
    monkeypatch.setattr(pages, "_RANGES", {})
    monkeypatch.setattr(pages, "_decoded_before", lambda *args: False)  # every chunk's pages walked (see below)
    for groups in ([0, 1, 2, 3, 4, 5, 6], [6, 2], [3]):
        assert ours(path, groups=groups).equals(theirs(path, groups=groups))
    assert unpacked == [1440, 1000]  # one page of each length, once
    kept = list(pages._RANGES.values())
    assert [found for _, found in kept] == [range(0, 1440), range(0, 1000)]
    key = next(k for k, (_, found) in pages._RANGES.items() if found == range(0, 1440))
    pages._RANGES[key] = (pages._RANGES[key][0], range(1, 1441))  # as if its indices ran past the dictionary
    assert ours(path, groups=[1]) is None


def same_minutes_table(accounts, rows=1440, last=None):
    """Each account's same ``rows`` minutes in its row group, the minute of row 5 of each missing; ``last``: the last
    account's last minute this one instead."""
    field, minute = minute_column(rows)
    values = np.tile(minute.cast(pa.int64()).to_numpy(), accounts)
    if last is not None:
        values[-1] = last
    mask = np.tile(np.arange(rows) == 5, accounts)
    schema = pa.schema([pa.field("account", pa.string()), field])
    return pa.Table.from_arrays([pa.array([f"acct-{k}" for k in range(accounts) for _ in range(rows)]),
                                 pa.array(values, mask=mask).cast(field.type)], schema=schema)


def spy_on_decode_chunk(monkeypatch) -> list:
    """The rows of each chunk whose pages pages.decode_chunk walks from now on."""
    walked = []
    real = pages.decode_chunk
    monkeypatch.setattr(pages, "decode_chunk", lambda data, decompress, values, valid: walked.append(len(values)) or
                        real(data, decompress, values, valid))
    return walked


def test_a_chunk_whose_bytes_were_decoded_before_is_its_values_again(tmp_path, monkeypatch):
    """A file written account by account lists each account's same minutes of the month: every row group's minute
    chunk is the same bytes (the 500-account month: one distinct among 500). Such a chunk's pages are walked when it is
    first seen and when seen again (its values then kept), and after that its values are copied; every array is
    still pyarrow's, nulls included. A chunk of the same size and the same first bytes that differs further on (the
    last account's last minute another) is walked, and is its own values."""
    path = tmp_path / "m.parquet"
    last = START + 5000 * MINUTE
    # Uncompressed (decoded here all the same: ours() allows every codec), so that the chunk with another last minute
    # has the same size and first bytes whatever the Snappy a pyarrow version writes.
    pq.write_table(same_minutes_table(7, last=last), path, row_group_size=1440, compression="none")
    _, first = chunk_bytes(path, 0, 1)
    _, other = chunk_bytes(path, 6, 1)
    assert len(first) == len(other) and first[:pages.CHUNK_KEY_BYTES] == other[:pages.CHUNK_KEY_BYTES] and \
        first != other  # what the key of a kept chunk cannot tell apart
    monkeypatch.setattr(pages, "_CHUNKS", {})
    walked = spy_on_decode_chunk(monkeypatch)
    assert ours(path, groups=[0, 1, 2, 3, 4, 5]).equals(theirs(path, groups=[0, 1, 2, 3, 4, 5]))
    assert walked == [1440, 1440]  # the first two only
    assert ours(path, groups=[3, 6]).equals(theirs(path, groups=[3, 6]))
    assert walked == [1440, 1440, 1440]  # the seventh's
    assert ours(path, groups=[6]).to_pylist()[-1] == dt.datetime.fromtimestamp(last / 1000, dt.timezone.utc)
    assert ours(path, groups=[2]).null_count == 1


def test_chunks_that_all_differ_keep_their_bytes_only(tmp_path, monkeypatch):
    """Where no chunk's bytes come twice (each account's minutes its own), each is walked once and none of their
    values is copied to be kept: a reading of distinct chunks pays a look-up each, nothing more."""
    path = tmp_path / "m.parquet"
    table = pa.concat_tables([by_account_table(accounts=1).select(["account", "minute"]).set_column(
        1, "minute", minute_column(1440, first=START + k * MINUTE)[1]) for k in range(6)])
    pq.write_table(table, path, row_group_size=1440)
    monkeypatch.setattr(pages, "_CHUNKS", {})
    walked = spy_on_decode_chunk(monkeypatch)
    assert ours(path).equals(theirs(path))
    assert walked == [1440] * 6
    assert 0 < len(pages._CHUNKS) <= pages.CHUNKS_KEPT
    assert all(values is None for _, values, _ in pages._CHUNKS.values())


def test_a_chunk_heavier_than_the_bound_is_never_kept(tmp_path, monkeypatch):
    """A process keeps at most CHUNKS_KEPT chunks of at most CHUNK_MOST_BYTES each (bytes, and 9 a row for values and
    validity): a heavier chunk is decoded each time it comes, the same bytes or not, and a lighter one is kept."""
    path = tmp_path / "m.parquet"
    pq.write_table(same_minutes_table(4), path, row_group_size=1440)
    _, data = chunk_bytes(path, 0, 1)
    weight = len(data) + 9 * 1440
    for bound, walks in ((weight - 1, [1440] * 4), (weight, [1440] * 2)):
        monkeypatch.setattr(pages, "CHUNK_MOST_BYTES", bound)
        monkeypatch.setattr(pages, "_CHUNKS", {})
        walked = spy_on_decode_chunk(monkeypatch)
        assert ours(path).equals(theirs(path))
        assert walked == walks
        assert len(pages._CHUNKS) == (0 if bound < weight else 1)


def spy_on_read_column(monkeypatch) -> list:
    """[(column, decoded here)] of each call of pages.read_column from now on."""
    made = []
    real = pages.read_column

    def spy(handle, metadata, groups, leaf, field, optional):
        array = real(handle, metadata, groups, leaf, field, optional)
        made.append((field.name, array is not None))
        return array

    monkeypatch.setattr(pages, "read_column", spy)
    return made


@pytest.mark.parametrize("rows", [pages.FEWEST_ROWS - 1, pages.FEWEST_ROWS])
def test_a_reading_of_fewer_rows_than_pays_leaves_every_column_to_pyarrow(tmp_path, monkeypatch, rows):
    """A file of 50 rows cost 150 µs of Python around its minute chunk where pyarrow reads it in 20: a directory of
    1,000 small files paid it each. Below pages.FEWEST_ROWS, no column is decoded here, nor looked at; from it on,
    the minute column is. The aggregates are the same either way."""
    path = tmp_path / "m.parquet"
    pq.write_table(by_account_table(accounts=1, rows=rows), path)
    made = spy_on_read_column(monkeypatch)
    here = aggregates(path)
    assert sorted(set(made)) == ([] if rows < pages.FEWEST_ROWS else [("failures", False), ("minute", True),
                                                                      ("requests", False)])
    assert here.rows_read == rows and here.cells[("acct-0", "2019-03")].totals.with_data == rows


def chunk_bytes(path, group=0, leaf=0):
    chunk = pq.ParquetFile(path).metadata.row_group(group).column(leaf)
    start = chunk.dictionary_page_offset if chunk.has_dictionary_page else chunk.data_page_offset
    with open(path, "rb") as handle:
        handle.seek(start)
        return start, handle.read(chunk.total_compressed_size)


def test_a_truncated_chunk_is_left_to_pyarrow(tmp_path):
    """Every cut of a chunk (2 data pages) short of its end: Unhandled, never a part of its values."""
    field, array = minute_column(600)
    path = write(tmp_path / "m.parquet", {"minute": (field, array)}, data_page_size=1024, write_batch_size=128)
    _, data = chunk_bytes(path)
    for end in range(len(data)):
        values = np.full(600, -1, np.int64)
        with pytest.raises(pages.Unhandled):
            pages.decode_chunk(data[:end], pages.DECOMPRESS["SNAPPY"], values, np.ones(600, bool))
    values = np.zeros(600, np.int64)
    pages.decode_chunk(data, pages.DECOMPRESS["SNAPPY"], values, np.ones(600, bool))
    assert values.tolist() == (np.arange(600) * MINUTE + START).tolist()


def flipped_file(source, target, at, mask):
    shutil.copyfile(source, target)
    with open(target, "r+b") as handle:
        handle.seek(at)
        byte = handle.read(1)[0]
        handle.seek(at)
        handle.write(bytes([byte ^ mask]))
    return target


@pytest.fixture(scope="module")
def small_files(tmp_path_factory):
    """Small by-account files, one per codec and page version, with nulls: what bytes are flipped in."""
    made = {}
    for codec in ("snappy", "zstd", "none"):
        for version in ("1.0", "2.0"):
            path = tmp_path_factory.mktemp("flips") / f"{codec}-{version}.parquet"
            mask = np.zeros(400, bool)
            mask[[3, 250]] = True
            field, array = minute_column(400, nulls=mask)
            write(path, {"minute": (field, array)}, compression=codec, data_page_version=version,
                  data_page_size=512, write_batch_size=64, row_group_size=200)
            made[codec, version] = path
    return made


@pytest.mark.slow
@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
# Found by this test: the page header's first field made an i16 (pyarrow's Thrift skips a field of another type,
# then refuses the header without it), and a v2 page's count of rows made negative (pyarrow refuses it).
@example(file=("snappy", "1.0"), place=0.0, bit=0, group=0)
@example(file=("zstd", "2.0"), place=0.806640625, bit=0, group=0)
@given(file=st.sampled_from([(c, v) for c in ("snappy", "zstd", "none") for v in ("1.0", "2.0")]),
       place=st.floats(0, 1, exclude_max=True), bit=st.integers(0, 7), group=st.integers(0, 1))
def test_a_flipped_bit_in_a_chunk_gives_pyarrows_values_or_is_left_to_pyarrow(small_files, tmp_path, file, place,
                                                                                 bit, group):
    """A bit flipped anywhere in a chunk (page headers, levels, indices, compressed streams): the column decoded
    here is the one pyarrow reads from the same bytes, or the chunk is left to pyarrow; pyarrow's failure on
    bytes decoded here would be a number where the user got an error today: never."""
    source = small_files[file]
    start, data = chunk_bytes(source, group)
    target = flipped_file(source, tmp_path / "flipped.parquet", start + int(place * len(data)), 1 << bit)
    got = ours(target, groups=[group])
    try:
        expected = theirs(target, groups=[group])
    except (pa.ArrowException, OSError):
        assert got is None
        return
    if got is not None:
        assert_same(got, expected)


def test_a_chunk_pyarrow_cannot_read_gives_its_message_as_before(tmp_path):
    """The dictionary page's Snappy stream broken: cramjam refuses it, the chunk is left to pyarrow, and the
    reading's error is pyarrow's, named by the file (exit 1, as before this module)."""
    field, array = minute_column(1440)
    path = write(tmp_path / "m.parquet", {"minute": (field, array),
                                           "requests": (pa.field("requests", pa.int64()), pa.array(np.full(1440, 9))),
                                           "failures": (pa.field("failures", pa.int64()), pa.array(np.zeros(1440))),
                                           "account": (pa.field("account", pa.string()), pa.array(["a"] * 1440))})
    start, data = chunk_bytes(path)
    broken = flipped_file(path, tmp_path / "broken.parquet", start + 40, 0xFF)
    assert ours(broken) is None
    with pytest.raises((pa.ArrowException, OSError)) as caught:
        theirs(broken)
    with pytest.raises(InputError) as refused:
        aggregates(broken)
    assert str(refused.value) == f"{broken}: cannot be read as PARQUET: {str(caught.value).splitlines()[0]}"


@pytest.mark.parametrize("header", [
    b"\x15\x04\x15\x80\x80\x80\x80\x10\x15\x02\x00",  # a dictionary page of 2 GiB
    b"\x15\x04\x15\x10\x15\x02\x4c\x15\x02\x15\x00\x00\x00",  # 8 bytes of a 16-byte page
    b"\x15\x00\x15\x10\x15\x7f\x00",  # a data page whose stored bytes run past the chunk
    b"\x15\x02" + b"\x1c" * 20 + b"\x00" * 21,  # structs nested 20 deep
    b"\x15\x02\x19\xfc\xff\xff\xff\x0f\x00",  # a list of 4 billion elements
    b"\x15\x02\x1d",  # a Thrift type (13) no page header holds
])
def test_page_headers_that_lie_are_left_to_pyarrow(header):
    values = np.zeros(2, np.int64)
    with pytest.raises(pages.Unhandled):
        pages.decode_chunk(header + bytes(16), pages.DECOMPRESS["UNCOMPRESSED"], values, None)
    assert values.tolist() == [0, 0]


def decoded_chunks(path, codec):
    """Every chunk of a file's first column decoded by decode_chunk (no gate on its shape or codec), joined."""
    metadata = pq.ParquetFile(path).metadata
    optional = metadata.schema.column(0).max_definition_level == 1
    values, valid = [], []
    for group in range(metadata.num_row_groups):
        rows = metadata.row_group(group).num_rows
        _, data = chunk_bytes(path, group)
        values.append(np.full(rows, -1, np.int64))
        valid.append(np.ones(rows, bool))
        pages.decode_chunk(data, pages.DECOMPRESS[{"none": "UNCOMPRESSED"}.get(codec, codec.upper())], values[-1], valid[-1] if optional else None)
    return np.concatenate(values), np.concatenate(valid)


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.integers(1, 3000), distinct=st.integers(1, 3000), seed=st.integers(0, 2 ** 32 - 1),
       nulls=st.sampled_from([0.0, 0.05, 0.5, 1.0]), codec=st.sampled_from(["snappy", "zstd", "none"]),
       version=st.sampled_from(["1.0", "2.0"]), page=st.sampled_from([256, 1024, 1 << 20]))
def test_any_column_of_64_bit_integers_decodes_as_pyarrow_reads_it(tmp_path, rows, distinct, seed, nulls, codec,
                                                                   version, page):
    """Values drawn from ``distinct`` random 64-bit integers (index widths 0 to 12 bits, bit-packed and RLE runs),
    a share of nulls, small or large pages, both page versions: every chunk decodes to pyarrow's values and
    nulls, whatever its shape (decode_chunk, below the gate that keeps such chunks for pyarrow)."""
    rng = np.random.default_rng(seed)
    pool = rng.integers(-2 ** 63, 2 ** 63 - 1, distinct, dtype=np.int64, endpoint=True)
    column = pa.array(pool[rng.integers(0, distinct, rows)], mask=rng.random(rows) < nulls)
    path = tmp_path / "v.parquet"
    pq.write_table(pa.table({"v": column}), path, compression=codec, data_page_version=version,
                   data_page_size=page, write_batch_size=100, row_group_size=1000)
    values, valid = decoded_chunks(path, codec)
    expected = pq.read_table(path).column(0).combine_chunks()
    assert valid.tolist() == expected.is_valid().to_pylist()
    assert values[valid].tolist() == expected.drop_null().to_pylist()
    assert not values[~valid].any()  # a null's value is 0


def test_indices_wider_than_16_bits_are_unpacked(tmp_path):
    """A dictionary of 70,000 values (17-bit indices): the first 70,000 rows take them in order (a range), the
    next 30,000 repeat them in a random order, which only unpacking reads."""
    rng = np.random.default_rng(7)
    order = np.concatenate([np.arange(70_000), rng.integers(0, 70_000, 30_000)])
    values = np.arange(70_000, dtype=np.int64) * 7 - 10 ** 12
    path = tmp_path / "v.parquet"
    pq.write_table(pa.table({"v": values[order]}), path, row_group_size=100_000,
                   dictionary_pagesize_limit=1 << 20)
    assert [encoding for _, encoding in page_kinds(path)][:2] == [pages.PLAIN, pages.RLE_DICTIONARY]
    decoded, _ = decoded_chunks(path, "snappy")
    assert decoded.tolist() == values[order].tolist()
    assert decoded[70_000] == values[order[70_000]] and decoded[99_999] == values[order[99_999]]


def test_a_page_checksum_is_not_checked_here_as_pyarrow_does_not_by_default(tmp_path):
    """Pages written with their CRC: the header's crc field is skipped (pyarrow verifies none unless asked)."""
    field, array = minute_column(2000)
    path = write(tmp_path / "m.parquet", {"minute": (field, array)}, write_page_checksum=True)
    assert_same(ours(path), theirs(path))


class Lying:
    """A footer's metadata whose first row group's chunk says another place or size (a footer that lies)."""

    def __init__(self, metadata, **chunk):
        self.metadata, self.chunk = metadata, chunk

    def row_group(self, group):
        real, chunk = self.metadata.row_group(group), self.chunk

        class Group:
            num_rows = real.num_rows

            def column(self, leaf):
                column = real.column(leaf)
                return type("Chunk", (), {name: chunk.get(name, getattr(column, name)) for name in (
                    "num_values", "total_compressed_size", "total_uncompressed_size", "compression",
                    "dictionary_page_offset", "data_page_offset", "has_dictionary_page")})()

        return Group()


@pytest.mark.parametrize("lie", [{"total_compressed_size": 10 ** 9}, {"total_compressed_size": 100},
                                 {"total_compressed_size": 0}, {"dictionary_page_offset": -4},
                                 {"dictionary_page_offset": 10 ** 9}, {"num_values": 1999},
                                 {"has_dictionary_page": False}])
def test_a_footer_whose_chunk_place_or_size_lies_is_left_to_pyarrow(tmp_path, lie):
    field, array = minute_column(2000)
    path = write(tmp_path / "m.parquet", {"minute": (field, array)})
    source = pq.ParquetFile(path)
    with open(path, "rb") as handle:
        args = ([0], 0, source.schema_arrow.field("minute"), True)
        assert_same(pages.read_column(handle, source.metadata, *args), theirs(path))
        assert pages.read_column(handle, Lying(source.metadata, **lie), *args) is None


# ---------------------------------------------------------------------------- a claim's rows in the account pages


def by_time(path, accounts, minutes, order=None, nulls=None, nullable=True, **options):
    """A file of ``minutes`` × ``accounts`` rows written as time goes: each minute lists every account in the same
    order (``order``: another order of the rows), with a count column beside."""
    names = np.tile(np.array(accounts, object), minutes)
    values = np.repeat(np.arange(minutes, dtype=np.int64) * MINUTE + START, len(accounts))
    if order is not None:
        names, values = names[order], values[order]
    account = pa.array(names.tolist(), pa.string(), mask=nulls)
    minute = pa.array(values, pa.int64()).cast(pa.timestamp("ms", tz="UTC"))
    requests = pa.array(np.arange(len(names)) % 7 + 1, pa.int64())
    return write(path, {"account": (pa.field("account", pa.string(), nullable=nullable), account),
                        "minute": (pa.field("minute", pa.timestamp("ms", tz="UTC")), minute),
                        "requests": (pa.field("requests", pa.int64()), requests)}, **options)


def account_pick(accounts):
    from slapolicy.minutes import readers, reduce

    wanted = frozenset(accounts)
    return readers.Pick(lambda table: reduce._rows_of_accounts(table, wanted), reduce._take,
                        lambda names: reduce._codes_of_accounts(names, wanted))


def picked_both_ways(path, accounts, groups=None):
    """(the rows picked by pyarrow's account column, by its pages) of a file's row groups, as ``_read_picked``
    gives them, and what ``pages.account_rows`` found (None: left to pyarrow)."""
    from slapolicy.minutes import readers

    source = pq.ParquetFile(path, read_dictionary=["account"])
    groups = list(range(source.metadata.num_row_groups)) if groups is None else groups
    columns = source.schema_arrow.names
    pick = account_pick(accounts)
    with open(path, "rb") as handle:
        leaf = columns.index("account")
        optional = source.metadata.schema.column(leaf).max_definition_level == 1
        found = pages.account_rows(handle, source.metadata, groups, leaf, optional, pick.codes)
        here = readers._read_picked(source, groups, columns, pick, handle)
    there = readers._read_picked(source, groups, columns, pick)
    return there, here, found


def assert_same_picked(there, here):
    (expected, (read, positions)), (got, (got_read, got_positions)) = there, here
    assert got_read == read
    assert (positions is None) == (got_positions is None)
    if positions is not None:
        assert got_positions.tolist() == positions.tolist()
    assert (got is None) == (expected is None)
    if expected is not None:
        assert got.equals(expected) and got.schema.equals(expected.schema, check_metadata=True)


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("accounts", [3, 8, 13, 500])
@pytest.mark.parametrize("nullable", [True, False])
def test_a_claims_rows_are_found_in_the_account_pages_of_a_file_written_as_time_goes(tmp_path, codec, accounts,
                                                                                       nullable):
    """Every account in each minute, in one order: the account column's indices repeat with the dictionary's length
    as period (whether or not that period is whole bytes), in pages of any length: its rows are found in the pages
    (not left to pyarrow), and the batch is the one pyarrow's column and ``take`` give, byte for byte."""
    names = [f"acct-{i:05d}" for i in range(accounts)]
    path = by_time(tmp_path / "t.parquet", names, 4000 // accounts + 3, nullable=nullable, compression=codec,
                   data_page_size=700, write_batch_size=97, row_group_size=1500)
    for claimant in (names[0], names[accounts // 2], names[-1]):
        for group in range(pq.ParquetFile(path).metadata.num_row_groups):
            there, here, found = picked_both_ways(path, {claimant}, [group])
            assert found is not None
            assert_same_picked(there, here)
            assert len(found[0]) == len(here[1][1]) > 0


def test_the_rows_of_every_name_a_claimant_is_written_as_are_found(tmp_path):
    """Names trimmed to the claimant's (written with spaces by another system) are the claimant's rows too: each
    row keeps its own name, as pyarrow's column gives it."""
    path = by_time(tmp_path / "t.parquet", ["acct-1", " acct-1", "acct-2", "acct-1 ", "acct-3"], 300,
                   data_page_size=512, write_batch_size=50)
    there, here, found = picked_both_ways(path, {"acct-1"})
    assert found is not None and sorted(set(found[1].tolist())) == [0, 1, 3]
    assert_same_picked(there, here)
    assert sorted(set(here[0].column("account").to_pylist())) == [" acct-1", "acct-1", "acct-1 "]


def test_a_claimant_not_in_a_row_groups_dictionary_decodes_none_of_its_pages(tmp_path, monkeypatch):
    path = by_time(tmp_path / "t.parquet", ["a", "b", "c"], 100)
    monkeypatch.setattr(pages, "_page_rows", None)  # called, it would fail
    there, here, found = picked_both_ways(path, {"z"})
    assert found is not None and len(found[0]) == 0
    assert here[0] is None and here[1][0] == 300 and len(here[1][1]) == 0
    assert there[0] is None and there[1][0] == 300 and len(there[1][1]) == 0


@pytest.mark.slow
def test_a_row_group_without_the_claimant_in_its_dictionary_holds_none_of_its_rows_whatever_its_pages_hold(tmp_path,
                                                                                                   monkeypatch):
    """What a claim checks of a row group whose account dictionary lacks the claimant (benchmarks/README.md, "A
    claim's start without pyarrow's file systems"): its pages' headers, each a page of that dictionary's indices,
    never their bytes. Such indices can only name the dictionary's accounts, so none of the group's rows is the
    claimant's, damaged or not; a claim is not refused for another account's bad row (docs/cli.md), and the record's
    digest covers every byte read.
    Here the middle group holds a and c only (its statistics, a to c, cannot leave it out), and its account page's
    bytes are damaged (Snappy that does not decompress): b's claim reads the rows of the other two groups, as from
    the undamaged file, while a reading of every account (evaluate's) refuses the file, as pyarrow does."""
    from slapolicy.calendar import calendar_month
    from slapolicy.minutes import readers, reduce
    from slapolicy.minutes.planning import Request, plan

    monkeypatch.setattr(readers, "BATCH_ROWS", 150)  # each row group (200 or 300 rows) a batch of its own
    path = tmp_path / "m.parquet"
    schema = pa.schema([pa.field("account", pa.string()), pa.field("minute", pa.timestamp("ms", tz="UTC")),
                        pa.field("requests", pa.int64()), pa.field("failures", pa.int64())])
    with pq.ParquetWriter(path, schema) as writer:
        for group, names in enumerate((["a", "b", "c"], ["a", "c"], ["a", "b", "c"])):
            minutes = np.repeat(START + MINUTE * (100 * group + np.arange(100, dtype=np.int64)), len(names))
            writer.write_table(pa.table({"account": pa.array(names * 100, pa.string()),
                                         "minute": pa.array(minutes, pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
                                         "requests": pa.array(np.arange(len(minutes)) % 7 + 1, pa.int64()),
                                         "failures": pa.array(np.arange(len(minutes)) % 2, pa.int64())},
                                        schema=schema))
    damaged = tmp_path / "damaged.parquet"
    shutil.copyfile(path, damaged)
    start, data = chunk_bytes(path, group=1)
    view, i = memoryview(data), 0
    for _ in range(2):  # the dictionary page, then the data page of its indices, whose bytes are damaged
        header, i = pages._struct(view, i, pages.PAGE_HEADER, 0)
        body, i = i, i + header[3]
    assert header[1] == pages.DATA_PAGE and i == len(data)
    with open(damaged, "r+b") as handle:
        handle.seek(start + body)
        handle.write(b"\xff" * (i - body))
    with pytest.raises(OSError):  # pyarrow: the page does not decompress
        pq.read_table(damaged)

    def claimants_rows(minutes):
        first, end = calendar_month("2019-03").epoch_minutes("Asia/Singapore")
        (part,) = plan(str(minutes), Request("Asia/Singapore", (first, end), None, frozenset({"b"})))
        return [(read, None if table is None else table.to_pylist())
                for piece in readers.batch_parts(part)
                for read, table, *_ in reduce.picked_batches(piece, frozenset({"b"}))]

    rows = claimants_rows(path)
    assert [(read, len(table or [])) for read, table in rows] == [(300, 100), (200, 0), (300, 100)]
    assert claimants_rows(damaged) == rows
    with pytest.raises(InputError, match="damaged.parquet: cannot be read as PARQUET: "):
        read_minutes(str(damaged), month_range("2019-03", "2019-03"), [load_policy(PUBLISHED)])


@pytest.mark.parametrize("version", ["1.0", "2.0"])
def test_a_claimant_past_a_dictionary_that_grew_too_large_is_found_in_its_plain_pages(tmp_path, version):
    """A dictionary that outgrows its page (dictionary_pagesize_limit; 1 MiB by default: some 50,000 accounts)
    holds the names written before, and the later ones are PLAIN in the chunk's later pages: a claimant missing
    from the dictionary may have every one of its minutes there. Its rows are pyarrow's (60 minutes), not none."""
    names = [f"acct-{i:05d}" for i in range(200)]
    path = by_time(tmp_path / "t.parquet", names, 60, dictionary_pagesize_limit=1000, write_batch_size=50,
                   data_page_size=700, data_page_version=version)
    column = pq.read_table(path, columns=["account"]).column(0)
    assert column.to_pylist().count(names[-1]) == 60
    there, here, found = picked_both_ways(path, {names[-1]})
    assert found is None or len(found[0]) == 60
    assert len(there[1][1]) == 60 and there[0].column("account").to_pylist() == [names[-1]] * 60
    assert_same_picked(there, here)
    # The claimant in the dictionary is still found in the pages, or left to pyarrow: the same rows either way.
    there, here, found = picked_both_ways(path, {names[0]})
    assert len(there[1][1]) == 60
    assert_same_picked(there, here)


@pytest.mark.parametrize("case", ["one row out of order", "one account missing a minute", "nulls", "one account",
                                  "v2 pages", "dictionaries that differ", "plain pages"])
def test_account_pages_that_do_not_repeat_are_left_to_pyarrow(tmp_path, case):
    """Anything but every row present in the same order every minute, in v1 dictionary pages: pyarrow reads the
    column, and the batch is the same as before."""
    accounts, options, groups = ["a", "b", "c", "d", "e"], {"data_page_size": 512, "write_batch_size": 50}, None
    order = nulls = None
    rows = 5 * 200
    if case == "one row out of order":
        order = np.arange(rows)
        order[[600, 602]] = order[[602, 600]]
    elif case == "one account missing a minute":
        order = np.delete(np.arange(rows), 777)
    elif case == "nulls":
        nulls = np.zeros(rows, bool)
        nulls[404] = True
    elif case == "one account":
        accounts = ["a"]
    elif case == "v2 pages":
        options["data_page_version"] = "2.0"
    elif case == "plain pages":
        options["use_dictionary"] = False
    path = by_time(tmp_path / "t.parquet", accounts, 200, order=order, nulls=nulls, **options)
    if case == "dictionaries that differ":
        table = pq.read_table(path)
        pq.write_table(pa.concat_tables([table, table.filter(pa.compute.not_equal(table["account"], "e"))]), path,
                       row_group_size=1000)
        groups = [0, 1]
    there, here, found = picked_both_ways(path, {"a" if case == "one account" else "c"}, groups)
    assert found is None or case == "one account" and len(found[0]) == rows
    assert_same_picked(there, here)


def test_row_groups_of_one_dictionary_read_together_give_their_rows_in_turn(tmp_path):
    path = by_time(tmp_path / "t.parquet", ["a", "b", "c"], 500, row_group_size=300, data_page_size=256)
    there, here, found = picked_both_ways(path, {"b"}, [1, 2, 3])
    assert found is not None and found[0].tolist() == list(range(1, 900, 3))
    assert_same_picked(there, here)


@pytest.fixture(scope="module")
def by_time_files(tmp_path_factory):
    made = {}
    for codec in ("snappy", "none"):
        path = tmp_path_factory.mktemp("flips") / f"{codec}.parquet"
        made[codec] = by_time(path, ["a", "b", "c", "d", "e", "f", "g", "h", "i"], 60, compression=codec,
                              data_page_size=128, write_batch_size=40, row_group_size=270)
    return made


@pytest.mark.slow
@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(codec=st.sampled_from(["snappy", "none"]), place=st.floats(0, 1, exclude_max=True), bit=st.integers(0, 7),
       group=st.integers(0, 1))
def test_a_flipped_bit_in_the_account_pages_gives_pyarrows_rows_or_is_left_to_pyarrow(by_time_files, tmp_path, codec,
                                                                                        place, bit, group):
    """A bit flipped anywhere in an account chunk: the rows found in its pages are those pyarrow's column gives,
    or the column is left to pyarrow; never rows where pyarrow refuses the bytes."""
    source = by_time_files[codec]
    start, data = chunk_bytes(source, group)
    target = flipped_file(source, tmp_path / "flipped.parquet", start + int(place * len(data)), 1 << bit)
    file = pq.ParquetFile(target, read_dictionary=["account"])
    pick = account_pick({"c"})
    with open(target, "rb") as handle:
        found = pages.account_rows(handle, file.metadata, [group], 0, True, pick.codes)
    try:
        column = file.read_row_groups([group], columns=["account"]).column(0).combine_chunks()
    except (pa.ArrowException, OSError):
        assert found is None
        return
    if found is not None:
        expected = pick.rows(pa.table({"account": column}))
        assert found[0].tolist() == (list(range(len(column))) if expected is None else expected.tolist())
        assert [found[2][code] for code in found[1].tolist()] == column.take(found[0]).to_pylist()
