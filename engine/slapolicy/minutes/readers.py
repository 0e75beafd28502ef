"""The readers of a part, one per format, a batch at a time (Parquet row groups, CSV blocks, JSON Lines
blocks), so memory is bounded by a batch, never by the input; and the digest of the bytes a reading
depended on (``read_digest``), which a claim's record names."""
from __future__ import annotations

import functools
import hashlib
import io
import os
from dataclasses import replace
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np

from . import pages, storage
from ..arrays import arrow_of, distinct_sorted
from ..distributed import python_handles_ctrl_c
from ..errors import InputError
from ..inputs import json_lines
from ..inputs.problems import Problems, column_names, missing_columns
from ..inputs.tables import MINUTE_COLUMNS, OPTIONAL_MINUTE_COLUMNS, refuse_floating_accounts
from ..limits import exhausted, reserve_address_space
from .planning import LocalParquet, Part, footer_bytes, local_metadata, parquet_footer


BATCH_ROWS = 1 << 19  # rows decoded at once: bounds the memory of a part (and of each thread)
# (a Parquet row group of up to twice as many rows is read whole: see _batches)


# CSV bytes decoded at once: about BATCH_ROWS rows of an export (~32 bytes a row). 64 MiB blocks (2 M rows)
# peaked at 731 MiB on a 4.5 M-row file, 16 MiB at 403 MiB, for the same CPU time (benchmarks/README.md).
CSV_BLOCK_BYTES = 16 << 20


class Pick(NamedTuple):
    """How a reading of some accounts' rows only (a claim's, ``--account``) keeps their rows of a batch (see
    ``_batches``)."""

    rows: Callable  # (a table with its account column) -> the positions of their rows, None when every row is theirs
    take: Callable  # (a table, positions) -> its rows at those positions
    codes: Callable  # (a tuple of names: a column's dictionary) -> the indices of theirs among them


def _batches(part: Part, pick: Pick | None = None, kinds: dict | None = None):
    """(table, line offset, rows before it in its file, account proven for it, bounds of its counts proven by
    statistics (``_count_bounds``), picked) of a part, a batch at a time. ``picked`` is None and the table every
    row read, but for a Parquet batch whose account column is decoded when ``pick`` is given: that batch is read
    for the picked rows only (``_read_picked``), and ``picked`` is (rows read, their positions or None for all);
    the table is None when none is theirs. ``kinds``: filled in with the JSON kind of each column of a JSON Lines
    part (``json_lines.batches``), which the pieces of one file must agree on (``json_lines.kinds_agree``)."""
    import pyarrow as pa  # heavy (0.2 s): loaded by the commands that read inputs

    wanted = list(MINUTE_COLUMNS + OPTIONAL_MINUTE_COLUMNS)
    if part.kind == "memory":
        for start in range(0, max(part.table.num_rows, 1), BATCH_ROWS):
            yield part.table.slice(start, BATCH_ROWS), None, start, None, {}, None
        return
    try:
        if part.kind == "parquet":
            dictionary = [] if part.account is not None else ["account"]  # account= directories may omit it
            remote = storage.is_url(part.path)  # a worker opens the URL itself; far reads are fetched together
            if remote:
                import pyarrow.parquet as pq  # heavy (0.2 s): loaded by the commands that read inputs

                source = pq.ParquetFile(storage.open_input(part.path, random_access=True), read_dictionary=dictionary,
                                        pre_buffer=True)
            else:
                source = LocalParquet(part.path, metadata=parquet_footer(part.path), read_dictionary=dictionary)
            # Its columns of mostly distinct 64-bit integers (``minute``, written account by account) are decoded
            # by pages.read_row_groups where that is faster than pyarrow, and read by pyarrow otherwise.
            handle = None
            try:
                names = [n for n in wanted if n in source.schema_arrow.names]
                # Nor a part of fewer rows than pays (pages.FEWEST_ROWS): not even its columns are looked at.
                decodable = {} if remote or part.rows < pages.FEWEST_ROWS else pages.decodable_columns(source, names)
                # A claim's account column is also read from its pages (pages.account_rows).
                handle = open(part.path, "rb") if decodable or (pick is not None and not remote) else None
                metadata = source.metadata
                leaves = {metadata.schema.column(i).path: i for i in range(metadata.num_columns)}
                counts = [n for n in COUNT_COLUMNS if n in names and source.schema_arrow.field(n).type == pa.int64()]
                sizes = _planned_sizes(part, metadata)
                for groups, base, proven in _group_runs(part, sizes):
                    bounds = _count_bounds(metadata, groups, leaves, counts)
                    # A column proven 0 in every row is not decoded: the reading of a file without it (zeros).
                    columns = [n for n in names if not (n == "account" and proven is not None) and
                               not (n in OPTIONAL_MINUTE_COLUMNS and bounds.get(n) == (0, 0))]
                    if len(groups) > 1 or metadata.row_group(groups[0]).num_rows <= 2 * BATCH_ROWS:
                        # Small row groups next to each other in the file, or one row group of up to twice the
                        # batch bound (exports written as time goes come in 1 M-row groups): one batch, read
                        # whole. iter_batches cuts a row group at a cost of its own: over a 1 M-row group's five
                        # columns, 15.5 ns a row in 512 K-row batches against 12.7 read whole (one thread's CPU).
                        if pick is not None and proven is None and columns[0] == "account":
                            table, picked = _read_picked(source, groups, columns, pick, handle)
                            yield table, None, base, proven, bounds, picked
                            del table  # not held while the next batch is decoded (see reduce.checked_batches)
                            continue
                        rows = sum(metadata.row_group(group).num_rows for group in groups)
                        here = decodable if rows >= pages.FEWEST_ROWS else {}  # only where it pays (see above)
                        yield pages.read_row_groups(source, handle, groups, columns, here), None, base, proven, bounds, None
                        continue
                    offset = 0
                    for batch in source.iter_batches(batch_size=BATCH_ROWS, row_groups=groups, columns=columns,
                                                     use_threads=False):
                        yield pa.Table.from_batches([batch]), None, base + offset, proven, bounds, None
                        offset += batch.num_rows
                        del batch  # not held while the next one is decoded (see reduce.checked_batches)
            finally:
                source.close()
                if handle is not None:
                    handle.close()
        elif part.kind == "csv":
            reader = _open_csv(part, wanted)
            names = _csv_columns(part, reader.schema)
            keep = [n for n in wanted if n in names]
            if len(keep) < len(names):  # a column not read (a note) is not converted: a later block's text in
                reader = _open_csv(part, keep, only=True)  # a column of numbers refused the file
            base = 0
            for batch in reader:
                yield pa.Table.from_batches([batch]).select(keep), 1, base, None, {}, None
                base += batch.num_rows
                del batch
        else:  # JSON Lines: a block of lines at a time, each row with its line (see json_lines)
            with _open_stream(part.path, random_access=bool(part.byte_range)) as stream:
                lines = LineRange(stream, *part.byte_range) if part.byte_range else stream
                # A piece after the first takes its columns as they come: one it lacks is refused row by row, and
                # the file is then read again whole (map_parts), which names what one reading names.
                for table, line_offset, base in json_lines.batches(lines, part.name, MINUTE_COLUMNS,
                                                                   OPTIONAL_MINUTE_COLUMNS, BATCH_ROWS,
                                                                   check_columns=not part.byte_range or
                                                                   not part.byte_range[0],
                                                                   check_block=functools.partial(_block_accounts,
                                                                                                 part.name),
                                                                   kinds=kinds,
                                                                   file_start=not part.byte_range or
                                                                   not part.byte_range[0]):
                    yield table, line_offset, base, None, {}, None
                    del table
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError, UnicodeDecodeError) as exc:
        if exhausted(exc):  # the machine's limit (open files), not the file's fault: said as such (slapolicy.limits)
            raise
        if part.kind == "csv" and _header_alone(part, exc):
            return  # no row, as a header with its line end
        changed = _changed_since_planned(part)
        if changed:
            raise InputError(f"{part.name}: {changed}; read it again once the files are written") from None
        located = _csv_line(part, exc) if part.kind == "csv" and isinstance(exc, pa.ArrowInvalid) else None
        raise InputError(f"{part.name}: cannot be read as CSV: {located}" if located else
                         f"{part.name}: cannot be read as {part.kind.upper()}: {str(exc).splitlines()[0]}") from None


def _changed_since_planned(part: Part) -> str | None:
    """Why a local file the plan listed cannot be read now, when that is not the file's fault as it was written:
    removed since the plan listed it, or, a Parquet file, no longer ending in the footer the plan read (cut short,
    or being rewritten). A file that appears after the plan is not read: the plan lists a directory once. None
    otherwise (and for a URL): the reader's words then stand. An error path only."""
    if storage.is_url(part.path):
        return None
    if not os.path.lexists(part.path):
        return "the file was removed while the minutes were read (it was listed when the reading began)"
    if part.kind == "parquet" and footer_bytes(part.path) is None:
        return ("the file changed while it was read (it ended in a Parquet footer when the reading began, and no "
                "longer does: cut short, or being written)")
    return None


def _block_accounts(name: str, table, place) -> None:
    """A JSON Lines block's account column of floats refused, naming its rows (``refuse_floating_accounts``): one
    object written 1001.5 makes the block's whole column floats, and the table of its rows on the lines before a blank
    one held only its whole numbers."""
    if "account" in table.column_names:
        refuse_floating_accounts(table.column("account"), name, lambda i: "row {} (line {})".format(*place(i)))


def _read_picked(source, groups: list, columns: list, pick: Pick, handle=None) -> tuple:
    """(the rows picked or None, (rows read, their positions or None for all)) of the row groups ``groups`` of a
    Parquet file read for some accounts' rows (a claim's, ``--account``): the account column first, then each other
    column cut to those rows before the next is decoded. A claim on a file written as time goes decodes every 1 M-row
    group for a few thousand rows; read whole and then cut, the two threads held up to 73 MB of decoded columns at
    once (pyarrow's pool), whose fresh pages the kernel zeroes, 2 MB at a time: a column at a time, 21 MB, and the
    claim's peak memory went from ~250 to ~190 MB (benchmarks/README.md). ``handle``: the file's bytes, whose
    account column's pages may say where the rows are without pyarrow decoding it (``_account_rows``)."""
    import pyarrow as pa  # heavy (0.2 s): loaded by the commands that read inputs

    found = _account_rows(source, handle, groups, pick) if handle is not None else None
    if found is not None:
        read, positions, account = found
        if not len(positions):
            return None, (read, positions)
        taken = [account]
    else:
        accounts = source.read_row_groups(groups, columns=columns[:1], use_threads=False)
        read, positions = accounts.num_rows, pick.rows(accounts)
        if positions is not None and not len(positions):
            return None, (read, positions)
        taken = [accounts if positions is None else pick.take(accounts, positions)]
        del accounts
    for name in columns[1:]:
        column = source.read_row_groups(groups, columns=[name], use_threads=False)
        taken.append(column if positions is None else pick.take(column, positions))
        del column  # not held while the next column is decoded
    schema = pa.schema([table.schema.field(0) for table in taken], metadata=taken[0].schema.metadata)
    return pa.Table.from_arrays([table.column(0) for table in taken], schema=schema), (read, positions)


def _account_rows(source, handle, groups: list, pick: Pick) -> tuple | None:
    """(rows read, positions of the picked rows, their account column as pyarrow's reading then ``pick.take`` give
    it) of the row groups ``groups``, found in the account column's pages (``pages.account_rows``); None when that
    column is not one found so, or every row is picked: pyarrow reads it."""
    import pyarrow as pa  # heavy (0.2 s): loaded by the commands that read inputs

    metadata, arrow = source.metadata, source.schema_arrow
    leaf = next((i for i in range(metadata.num_columns) if metadata.schema.column(i).path == "account"), None)
    kind = pa.dictionary(pa.int32(), pa.string())  # as pyarrow reads it (read_dictionary)
    if leaf is None or arrow.field("account").type not in (kind, pa.string()):
        return None
    column = metadata.schema.column(leaf)
    if column.physical_type != "BYTE_ARRAY" or column.max_repetition_level or column.max_definition_level > 1:
        return None
    found = pages.account_rows(handle, metadata, groups, leaf, column.max_definition_level == 1, pick.codes)
    if found is None:
        return None
    positions, codes, names = found
    read = sum(metadata.row_group(g).num_rows for g in groups)
    if len(positions) == read:  # every row theirs (one account's file): pyarrow's column as read, whole
        return None
    used = distinct_sorted(codes)  # the names its rows use only, as pick.take keeps them (reduce._take)
    account = pa.DictionaryArray.from_arrays(arrow_of(np.searchsorted(used, codes).astype(np.int32), pa.int32()),
                                             pa.array([names[code] for code in used.tolist()], pa.string()))
    field = arrow.field("account").with_type(kind)
    return read, positions, pa.table([account], schema=pa.schema([field]))


def _planned_sizes(part: Part, metadata) -> list:
    """The rows of each row group of a Parquet part, when its file still holds the row groups it was planned by;
    else an InputError: a file rewritten (an export landing) between the plan and the reading ended in exit 3
    (IndexError), or was read by another file's row groups and statistics. Once a part, not per batch."""
    if part.row_groups and max(part.row_groups) < metadata.num_row_groups:
        sizes = [metadata.row_group(group).num_rows for group in part.row_groups]
        if sum(sizes) == part.rows:
            return sizes
    raise InputError(f"{part.name}: the file changed while it was read (its row groups are not those it held when "
                     "the reading began); read it again once it is written")


def _open_csv(part: Part, columns: list, only: bool = False):
    """pyarrow's streaming reader of a CSV part, ``columns`` read as text; with ``only``, no other column
    (``include_columns``: the others are parsed but never converted)."""
    import pyarrow as pa  # heavy (0.2 s): loaded by the commands that read inputs
    import pyarrow.csv as pacsv  # heavy (0.2 s): loaded by the commands that read inputs

    source = storage.open_input(part.path) if storage.is_url(part.path) else part.path
    included = {"include_columns": columns} if only else {}
    reserve_address_space(2 * CSV_BLOCK_BYTES, "pyarrow's CSV reader (a block read and one read ahead)")
    return pacsv.open_csv(source, read_options=pacsv.ReadOptions(block_size=CSV_BLOCK_BYTES),
                          convert_options=pacsv.ConvertOptions(column_types={name: pa.string() for name in columns},
                                                               strings_can_be_null=True,
                                                               quoted_strings_can_be_null=False, **included))


def csv_record_lines(path: str, rows: set) -> dict:
    """{row: its first line} of a CSV part's ``rows``, read again (an error path only: see ``Problems.lines``)."""
    from ..inputs.csv_lines import record_lines  # the error path's own module

    with _open_stream(path) as stream:
        return record_lines(stream, rows)


def problems_of(part: Part):
    """The Problems of a part, told how to find its rows' lines when its text may not be one row a line (CSV)."""
    return Problems(part.name or part.path, "minutes",
                    lines=functools.partial(csv_record_lines, part.path) if part.kind == "csv" else None)


def _header_alone(part: Part, exc) -> bool:
    """Whether a CSV part pyarrow found empty ("Empty CSV file or block") is a file of no row: empty, or a header
    without a line end, which pyarrow reads as no column at all but as no row once the line ends (its columns are
    checked as they would be then). An error path only."""
    from ..inputs.csv_lines import no_row  # the error path's own module

    text = no_row(lambda: _open_stream(part.path), str(exc))
    if text is None:
        return False
    if text:  # a header: its columns are checked (an empty file names none, and holds no row to miss them)
        import pyarrow as pa  # heavy (0.2 s): loaded by the commands that read inputs
        import pyarrow.csv as pacsv  # heavy (0.2 s): loaded by the commands that read inputs

        python_handles_ctrl_c()  # read_csv's own SIGINT handler could lose a Ctrl-C
        _csv_columns(part, pacsv.read_csv(pa.BufferReader(text)).schema)
    return True


def _csv_columns(part: Part, schema) -> list:
    """The column names of a CSV part's header, every minutes column there (else an InputError naming those missing)."""
    names = column_names(schema, part.name, MINUTE_COLUMNS)
    missing = [n for n in MINUTE_COLUMNS if n not in names]
    if missing:
        raise InputError(missing_columns(part.name, missing, names, separated=True))
    return names


def _csv_line(part: Part, exc) -> str | None:
    """The line and column of a CSV part that pyarrow's error names neither of (an error path only: the part is
    read again from the start, :func:`slapolicy.inputs.csv_lines.locate`)."""
    from ..inputs.csv_lines import located  # the error path's own module

    return located(lambda: _open_stream(part.path), str(exc))


def _open_stream(path: str, random_access: bool = False):
    """A text part's bytes, read front to back (``random_access``: from any place): a local file, or the URL a
    part carries."""
    return storage.open_input(path, random_access) if storage.is_url(path) else open(path, "rb")


# A JSON Lines file larger than this is read in pieces of about this many bytes, each a task of its own (threads,
# --workers, Dask): a file of several GB was read by one task. Four of BLOCK_BYTES (json_lines), the bytes
# parsed at once.
JSONL_PIECE_BYTES = 64 << 20


def text_pieces(part: Part) -> list[Part]:
    """A JSON Lines part as pieces of about JSONL_PIECE_BYTES, each the lines that start in its byte range
    (:class:`LineRange`); any other part, or a smaller file, whole. Cut by byte count alone, from the plan's size:
    nothing is read here, and each piece finds its lines' ends where it is read. The last piece reads to the
    file's end, however long it has grown since the plan. Only JSON Lines: a line end there always ends a row (a
    JSON string writes a line end as \\n), whereas a CSV value in quotes may hold one."""
    if part.kind != "jsonl" or part.byte_range or part.size <= JSONL_PIECE_BYTES:
        return [part]
    starts = list(range(0, part.size, JSONL_PIECE_BYTES))
    return [replace(part, byte_range=(start, end)) for start, end in zip(starts, starts[1:] + [None])]


class LineRange(io.RawIOBase):
    """The lines of a file that start in its bytes [start, end) (``end`` None: to the file's end), as a stream
    read front to back: from the first line start at or after ``start`` to the first at or after ``end``. So
    consecutive ranges read every line once, the line across a cut in the range it starts in."""

    def __init__(self, stream, start: int, end: int | None):
        self._stream = stream
        self._at = _line_start(stream, start)
        self._end = None if end is None else max(self._at, _line_start(stream, end))
        stream.seek(self._at)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self._end is not None:
            left = self._end - self._at
            size = left if size is None or size < 0 else min(size, left)
            if size <= 0:
                return b""
        data = self._stream.read(size) if size is not None and size >= 0 else self._stream.read()
        self._at += len(data)
        return data


def _line_start(stream, offset: int) -> int:
    """The first place at or after ``offset`` where a line starts (0, or just after a line end), or the file's
    end: the line end is looked for from ``offset`` - 1, a line at a time."""
    if offset <= 0:
        return 0
    stream.seek(offset - 1)
    at = offset - 1
    while True:
        block = stream.read(1 << 16)
        if not block:
            return at
        found = block.find(b"\n")
        if found >= 0:
            return at + found + 1
        at += len(block)


def batch_parts(part: Part, ready=()) -> list[Part]:
    """A part of a local Parquet file as parts of one batch each (see ``_batches``), so that threads share the
    work out finely; a large JSON Lines file as its pieces (``text_pieces``); any other part whole. ``ready``: batch parts read already (by a ReadAhead, whose plan may
    hold more row groups, and so gather them otherwise): each that is the batch part of some of this part's row
    groups is one of its batches, and its other row groups are gathered around them."""
    if part.kind == "jsonl":
        return text_pieces(part)
    if part.kind != "parquet" or storage.is_url(part.path) or len(part.row_groups) < 2:
        return [part]
    metadata = parquet_footer(part.path)
    if metadata is None:
        return [part]
    sizes = dict(zip(part.row_groups, _planned_sizes(part, metadata)))
    index = {group: at for at, group in enumerate(part.row_groups)}
    pieces = [piece for piece in ready if set(piece.row_groups) <= index.keys() and piece == _piece(
        part, [index[g] for g in piece.row_groups], sizes)]
    taken = {group for piece in pieces for group in piece.row_groups}
    rest = [at for at, group in enumerate(part.row_groups) if group not in taken]
    left = _piece(part, rest, sizes) if rest else None
    at = 0
    for groups, _, _ in _group_runs(left, [sizes[g] for g in left.row_groups]) if left else ():
        pieces.append(_piece(left, range(at, at + len(groups)), sizes))
        at += len(groups)
    return sorted(pieces, key=lambda piece: piece.row_groups[0])


def _piece(part: Part, places, sizes: dict) -> Part:
    """The part of the row groups of ``part`` at ``places``."""
    places = list(places)
    groups = tuple(part.row_groups[at] for at in places)
    return replace(part, row_groups=groups, row_bases=tuple(part.row_bases[at] for at in places),
                   proven=tuple(part.proven[at] for at in places), rows=sum(sizes[g] for g in groups))


def _group_runs(part: Part, sizes: list):
    """([row groups], rows before them, the accounts proven for them) of consecutive row groups of the file
    gathered up to BATCH_ROWS rows, so that small row groups (one account each, say) cost one batch, not one
    each. ``sizes``: the rows of each row group of the part. The accounts proven: None when a row group's
    statistics prove none (its column is decoded), the one account of them all, or (account, rows) of each
    row group in turn (see ``accounts_of_runs``)."""
    run, base, proven, rows = [], 0, [], 0
    for group, start, account, size in zip(part.row_groups, part.row_bases, part.proven, sizes):
        if run and (start != base + rows or rows + size > BATCH_ROWS):
            yield run, base, _one_or_runs(proven)
            run = []
        if not run:
            run, base, proven, rows = [group], start, [(account, size)], size
        else:
            run.append(group)
            proven.append((account, size))
            rows += size
    if run:
        yield run, base, _one_or_runs(proven)


COUNT_COLUMNS = ("requests", "failures", "illegal_number_failures")


def _count_bounds(metadata, groups: list, leaves: dict, counts: list) -> dict:
    """{column: (least, greatest)} of the count columns (``counts``: of 64-bit integers) whose statistics give
    both, and no missing value, in every row group of ``groups``. What they prove for every row of the batch is
    not checked again row by row (``tables.check_minute_table``), as a row group's statistics already decide
    which row groups are read and which account a row group holds."""
    bounds = {}
    for name in counts:
        least = greatest = None
        for group in groups:
            statistics = metadata.row_group(group).column(leaves[name]).statistics
            if statistics is None or not statistics.has_min_max or not statistics.has_null_count or \
                    statistics.null_count or statistics.physical_type != "INT64":
                break
            least = statistics.min if least is None else min(least, statistics.min)
            greatest = statistics.max if greatest is None else max(greatest, statistics.max)
        else:
            if least is not None:
                bounds[name] = (least, greatest)
    return bounds


def _one_or_runs(proven: list):
    """None when a row group has no account proven, the account when they share one, else the (account, rows)."""
    if any(account is None for account, _ in proven):
        return None
    if all(account == proven[0][0] for account, _ in proven):
        return proven[0][0]
    return tuple(proven)


READ_DIGEST = "the bytes read"  # how a claim's record names the digest of its minutes (docs/ledger.md)


def read_digest(source, parts: list, cancel=None) -> str:
    """sha256 of the bytes a reading of ``source`` depended on: of each Parquet file read, its footer (the
    metadata every plan is made from) and the row groups read; of a text file, all of it; each under its
    path relative to the source. A claim for one account so never hashes the whole dataset, and the digest
    changes with any byte the decision could have seen. ``cancel`` (a Cancellation) stops it between blocks."""
    remote = storage.is_url(source)
    root = Path(source) if not remote else None
    digest = hashlib.sha256(b"slapolicy minutes read digest 1\n")
    for path, kind, groups in digest_input(parts):
        if remote:  # a part's URL is the source's URL with the file's path added (storage.Store.url_of)
            name = path.partition("?")[0][len(source.partition("?")[0].rstrip("/")):].lstrip("/") or \
                source.partition("?")[0].rstrip("/").rsplit("/", 1)[-1]
        else:
            name = Path(path).relative_to(root.resolve()).as_posix() if root.is_dir() else root.name
        digest.update(f"{name}\t{kind}\t{groups}\n".encode())
        with (storage.open_input(path, random_access=True) if remote else open(path, "rb")) as handle:
            for start, length in _runs(_byte_ranges(path, kind, groups, handle)):
                handle.seek(start)
                while length > 0:
                    if cancel is not None:
                        cancel.check()
                    block = handle.read(min(length, DIGEST_BLOCK))
                    if not block:
                        break
                    digest.update(block)
                    length -= len(block)
    return digest.hexdigest()


# The most bytes read_digest reads (and hashes) at a time; the cancellation is looked at between two.
DIGEST_BLOCK = 1 << 20


def _runs(ranges: list) -> list:
    """``ranges`` ((start, length), in the order they are hashed) with each range that starts where the one before
    it ends joined to it: the same bytes in the same order, in fewer reads. A row group's column chunks lie one after
    the other (and so do the row groups of a file read whole), and a chunk read alone gave up the GIL twice, for its
    read and for its hash, and waited to take it back from the claim's command thread, which loads the engine and the
    policy meanwhile: the 500-account month by time, 24 MB, was 117 reads of 4 KB to 0.9 MB, now 26
    (benchmarks/README.md, the fourteenth round)."""
    runs: list = []
    for start, length in ranges:
        if runs and runs[-1][0] + runs[-1][1] == start:
            runs[-1] = (runs[-1][0], runs[-1][1] + length)
        else:
            runs.append((start, length))
    return runs


def digest_input(parts: list) -> list:
    """What :func:`read_digest` hashes of ``parts``: (path, kind, the row groups read, sorted) of each file, in the
    order the parts first name them. Two plans that give the same make the same digest of the same files: a claim's
    reading ahead hashes its own plan's bytes while it reads them (``aggregates.ReadAhead.hashing``)."""
    by_file: dict = {}
    for part in parts:
        by_file.setdefault(part.path, []).append(part)
    return [(path, file_parts[0].kind, sorted(g for part in file_parts for g in part.row_groups))
            for path, file_parts in by_file.items()]


def _byte_ranges(path: str, kind: str, groups: list, handle) -> list:
    """(start, length) of the footer and of every column chunk of ``groups``; a text file whole."""
    remote = storage.is_url(path)  # a pyarrow file opened by its URL
    size = handle.size() if remote else os.fstat(handle.fileno()).st_size
    if kind != "parquet":
        return [(0, size)]
    handle.seek(size - 8)
    footer = int.from_bytes(handle.read(4), "little") + 8
    if remote:
        import pyarrow.parquet as pq  # heavy (0.2 s): loaded by the commands that read inputs

        metadata = pq.read_metadata(handle)
    else:
        metadata = parquet_footer(path) or local_metadata(path)
    ranges = [(size - footer, footer)]
    for index in groups:
        group = metadata.row_group(index)
        for c in range(group.num_columns):
            column = group.column(c)
            start = column.dictionary_page_offset if column.has_dictionary_page else column.data_page_offset
            ranges.append((start, column.total_compressed_size))
    return ranges


def account_names(parts: list, most: int = 10_000, most_bytes: int = 64 << 20) -> set:
    """The account names a Parquet file's row groups among ``parts`` hold, as their statistics prove them (one account
    a row group) or their ``account`` column's dictionary page lists them (``pages.dictionary_names``), at most
    ``most`` row groups and ``most_bytes`` of dictionary pages looked at (a page of 100,000 names is ~1 MiB); local
    files only, text files not read: what an account asked about and not found is compared with, for a name nearest
    in spelling. An error path only: a row group costs one read of its dictionary page, never its rows."""
    names: set = set()
    seen = spent = 0
    for part in parts:
        if part.kind != "parquet" or storage.is_url(part.path):
            continue
        metadata = parquet_footer(part.path)
        if metadata is None:
            continue
        leaf = next((i for i in range(metadata.num_columns) if metadata.schema.column(i).path == "account"), None)
        try:
            with open(part.path, "rb") as handle:
                for group, proven in zip(part.row_groups, part.proven or [None] * len(part.row_groups)):
                    seen += 1
                    if proven is None and leaf is not None:  # the dictionary page's bytes, before the data pages'
                        chunk = metadata.row_group(group).column(leaf)
                        if chunk.has_dictionary_page:
                            spent += max(chunk.data_page_offset - chunk.dictionary_page_offset, 0)
                    if seen > most or spent > most_bytes:
                        return names
                    found = (proven,) if proven is not None else \
                        pages.dictionary_names(handle, metadata, group, leaf) if leaf is not None else None
                    names.update(name.strip() for name in found or () if name.strip())
        except OSError:  # gone or unreadable since: named when its rows are read
            continue
    return names
