"""The one way minutes are read, for ``evaluate``, ``claim`` and ``replay``: plan, read, check, reduce.

1. **Plan** (:func:`plan`, from metadata only): the input — a file (CSV, JSON Lines, Parquet), a
   directory of Parquet files, or a hive-partitioned directory (``month=2024-03/``,
   ``account=acme/``) — becomes a list of :class:`Part` s: a Parquet file's row groups, or a text
   file. Directories whose ``month=`` or ``account=`` key lies outside the request, and row groups
   whose statistics (``minute`` min/max, ``account`` min/max) do, are left out: never opened.
2. **Read** each part (:func:`read_part`, a pure function of the part and a small
   :class:`Request`; it runs in a thread, a local process or a Dask worker), one row group or
   batch at a time, so memory is bounded by a batch, never by the input.
3. **Check** every row with the one set of row checks (:func:`slapolicy.data.check_minute_table`);
   problems name the file, its row and line.
4. **Reduce** to what an evaluation needs (:class:`PartSummary`): per account and Service Month the
   counts of :class:`~slapolicy.evaluate.MonthTotals` and the few rows that may be unavailable under
   any of the versions asked about; the client merges these (:func:`merge`).

A minute listed twice is found inside a batch by one sort-free test (rows ordered by account then
minute, or by minute then account, as exports come) or a sort; across batches by comparing each
account's minute ranges; only when ranges overlap is the input read again for exact row numbers.
"""
from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

import numpy as np

from . import storage
from ..calendar import calendar_month, minute_bounds
from ..distributed import Runner
from ..errors import InputError, SlapolicyError
from ..evaluation.classify import MonthMinutes, MonthTotals, _removes_illegal, unavailable_coefficients
from ..files import regular_file_size
from ..inputs import json_lines
from ..inputs.problems import MAX_REPORTED, Problems, _report, column_names
from ..inputs.tables import (IN_MEMORY, MINUTE_COLUMNS, OPTIONAL_MINUTE_COLUMNS, _format, account_name, check_input_size,
                              check_minute_table, check_minute_types, in_memory_table, max_input_bytes)
from ..inputs.timestamps import UNITS_PER_MINUTE, _one_array

BATCH_ROWS = 1 << 19  # rows decoded at once: bounds the memory of a part (and of each thread)
# CSV bytes decoded at once: about BATCH_ROWS rows of an export (~32 bytes a row). 64 MiB blocks (2 M rows)
# peaked at 731 MiB on a 4.5 M-row file, 16 MiB at 403 MiB, for the same CPU time (benchmarks/README.md).
CSV_BLOCK_BYTES = 16 << 20
PART_ROWS = 1 << 21  # row groups are grouped into parts of about this many rows (one task each)
WIDEN_MINUTES = 15 * 60  # naive (local) timestamps and month= keys may be up to ±14:00 from UTC


@dataclass(frozen=True)
class Reading:
    """One way of reading a minute as unavailable (§1.5), in integers: c1·(r − f) < c2·r, r > 0."""

    c1: int
    c2: int
    removes_illegal: bool  # §5.10 failures removed from requests and failures first


@dataclass(frozen=True)
class Request:
    """What every part's task needs to know (small and picklable)."""

    timezone: str
    bounds: tuple  # epoch minutes: the first minute of each Service Month, then the end of the last
    readings: tuple | None  # None: every row is a candidate (a version counts quiet minutes as unavailable)
    accounts: frozenset | None = None  # only these (trimmed) account names; None: every account
    # Sorted, disjoint [start, end) epoch minutes inside which every row is kept, not only the candidates
    # (the provider incidents: evaluate warns when one covers minutes without data).
    within: tuple = ()

    @property
    def span(self) -> tuple[int, int]:
        return self.bounds[0], self.bounds[-1]


@dataclass(frozen=True)
class Part:
    """One unit of work: a Parquet file's row groups, or a whole text file (read in batches)."""

    path: str  # absolute, or the file's URL: a worker's working directory (or machine) may differ
    kind: str  # "parquet", "csv", "jsonl" or "memory"
    name: str = ""  # as the user gave it, for messages
    row_groups: tuple = ()  # Parquet: the row groups to read
    row_bases: tuple = ()  # rows of the file before each of them (for messages)
    proven: tuple = ()  # per row group: the one (trimmed) account its statistics prove, or None
    account: str | None = None  # the account of an account= directory, for files without the column
    month: str | None = None  # the Service Month of a month= directory
    rows: int = 0  # rows it holds, from metadata
    table: object = field(default=None, compare=False, repr=False)  # kind "memory" only: never shipped


@dataclass
class PartSummary:
    """One part reduced, in arrays named by account (a part may hold thousands of accounts): per account and
    Service Month the counts of a MonthTotals, each batch's first and last minute per account, and the
    candidate rows. The client merges them (:func:`merge`)."""

    rows_read: int = 0
    naive: int = 0
    accounts: set = field(default_factory=set)  # every account seen in the rows read
    names: np.ndarray = field(default_factory=lambda: np.zeros(0, str))  # sorted account names of ``totals``
    totals: np.ndarray | None = None  # int64[len(names), months, 5], in the order of MonthTotals' fields
    spans: list = field(default_factory=list)  # per batch: (names, first minute, last minute) inside the span
    candidates: list = field(default_factory=list)  # per batch: (names, cell, minute, r, f, i, peak); see _keep_candidates
    has_peak: bool = False
    problems: Problems | None = None


# ---------------------------------------------------------------------------- requests

def readings_of(policies) -> tuple | None:
    """The distinct ways the versions read a minute, as integers; None when one of them counts quiet
    minutes as unavailable (then every row is a candidate)."""
    if any(p.setting("availability", "no_traffic") == "unavailable" for p in policies):
        return None
    return tuple(dict.fromkeys(Reading(*unavailable_coefficients(p), _removes_illegal(p)) for p in policies))


def request_for(months: list, timezone: str, policies: list, accounts=None, incidents=()) -> Request:
    bounds = [m.epoch_minutes(timezone)[0] for m in months] + [months[-1].epoch_minutes(timezone)[1]]
    wanted = None if accounts is None else frozenset(account_name(a) or "" for a in accounts)
    windows = sorted(minute_bounds(i.start, i.end, "outward") for i in incidents if i.cause == "provider")
    merged = []
    for lo, hi in windows:
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return Request(timezone, tuple(int(b) for b in bounds), readings_of(policies), wanted, tuple(merged))


# ---------------------------------------------------------------------------- plan

def plan(source, request: Request) -> list[Part]:
    """The parts of ``source`` that can hold rows of the request, from metadata only."""
    if not isinstance(source, (str, Path)):
        table, _ = in_memory_table(source, MINUTE_COLUMNS, OPTIONAL_MINUTE_COLUMNS)
        return [Part(IN_MEMORY, "memory", name=IN_MEMORY, rows=table.num_rows, table=table)]
    if storage.is_url(source):
        return _plan_url(source, request)
    path = Path(source)
    if path.is_dir():
        return _plan_directory(path, request)
    kind = _format(path)
    regular_file_size(path, f"{kind.upper()} file")  # says what a FIFO, a device or a looping link is
    check_input_size(path)
    if kind == "parquet":
        return _plan_parquet(str(path), request, str(path))
    return [Part(str(path.resolve()), kind, name=str(path), rows=-1)]


def _plan_url(url: str, request: Request) -> list[Part]:
    """The parts of minutes named by a URL: planned from the store's listing and Parquet footers; each part
    carries its file's URL, which the process that reads it opens itself."""
    import pyarrow.fs as pafs  # heavy (0.2 s): loaded by the commands that read inputs

    store = storage.Store.of(url)
    info = store.info()
    if info.type == pafs.FileType.Directory:
        return _plan_directory(Path(store.root), request, store)
    try:
        kind = _format(Path(store.root))
    except InputError as exc:  # named by the URL, not by the path inside its filesystem
        raise InputError(f"{url}: {str(exc)[len(str(Path(store.root))) + 2:]}") from None
    _check_size(url, info.size)
    if kind == "parquet":
        return _plan_parquet(store.root, request, url, store=store)
    return [Part(url, kind, name=url, rows=-1)]


def _check_size(shown: str, size) -> None:
    limit = max_input_bytes()
    if size is not None and size > limit:
        raise InputError(f"{shown}: {size} bytes is above the input size limit of {limit} bytes "
                         "(SLAPOLICY_MAX_INPUT_BYTES raises it)")


def _directory_keys(path: Path, root: Path) -> dict:
    """The hive keys (``month=2024-03``) of the directories between ``root`` and ``path``."""
    keys = {}
    for segment in path.relative_to(root).parts[:-1]:
        if "=" in segment:
            key, value = segment.split("=", 1)
            keys[key] = unquote(value)
    return keys


def _plan_directory(root: Path, request: Request, store=None) -> list[Part]:
    """A directory of Parquet files, hive-partitioned or not; ``store``: the URL it was named by, if any."""
    import pyarrow as pa  # heavy (0.2 s): loaded by the commands that read inputs
    import pyarrow.dataset as ds  # heavy (0.2 s): loaded by the commands that read inputs

    shown = (lambda name: store.url_of(name)) if store is not None else str
    try:  # pyarrow.dataset lists the files, leaving out hidden ones and _SUCCESS markers; given a schema, it
        # opens none of them (files outside the request are never opened)
        files = sorted(ds.dataset(str(root), format="parquet", schema=pa.schema([]),
                                  filesystem=None if store is None else store.fs).files)
    except (OSError, ValueError) as exc:
        if store is not None:
            raise storage.failure(store.url, exc) from None
        raise InputError(f"{root}: cannot list the Parquet files of the directory: {exc}") from None
    others = [f for f in files if f.lower().endswith((".csv", ".jsonl", ".json"))]
    if others:  # minutes beside the Parquet files that would silently not be read (or be read twice, if copies)
        raise InputError(f"{shown(others[0])}: a directory of minutes is read as Parquet files only; this file would not "
                         "be read: move it out of the directory, or give it as --minutes on its own")
    files = [f for f in files if f.lower().endswith((".parquet", ".pq"))]
    if not files:
        raise InputError(f"{shown(str(root))}: no Parquet files (*.parquet) in the directory")
    parts = []
    for name in files:
        keys = _directory_keys(Path(name), root)
        account = account_name(keys.get("account"))
        if account is not None and request.accounts is not None and account not in request.accounts:
            continue  # an account= directory of another account: never opened
        month = keys.get("month")
        if month is not None:
            start, end = _month_span(month, request.timezone, shown(name))
            if end <= request.span[0] or start >= request.span[1]:
                continue  # a month= directory outside the months asked about
        if store is None:
            check_input_size(name)
        else:
            _check_size(shown(name), store.sizes().get(name))
        parts.extend(_plan_parquet(name, request, shown(name), account, month, store))
    return parts


def _month_span(label: str, timezone: str, where: str) -> tuple[int, int]:
    """[first, end) epoch minutes of the Service Month a ``month=YYYY-MM`` directory holds (policy's timezone)."""
    if not re.fullmatch(r"[0-9]{4}-(0[1-9]|1[0-2])", label):
        raise InputError(f"{where}: directory key month={label} is not a month written YYYY-MM")
    return calendar_month(label).epoch_minutes(timezone)


def _plan_parquet(path: str, request: Request, shown: str, account: str | None = None,
                  month: str | None = None, store=None) -> list[Part]:
    """The parts of one Parquet file (``path`` inside ``store``'s filesystem when the minutes are a URL)."""
    import pyarrow as pa  # heavy (0.2 s): loaded by the commands that read inputs
    import pyarrow.parquet as pq  # heavy (0.2 s): loaded by the commands that read inputs

    try:
        if store is None:
            metadata = pq.read_metadata(path)
        else:
            with store.fs.open_input_file(path) as footer:
                metadata = pq.read_metadata(footer)
        schema = metadata.schema.to_arrow_schema()
    except FileNotFoundError as exc:
        raise storage.failure(shown, exc) from None
    except (pa.ArrowException, OSError) as exc:
        if store is not None and not isinstance(exc, pa.ArrowException):
            raise storage.failure(shown, exc) from None
        raise InputError(f"{shown}: cannot be read as PARQUET: {str(exc).splitlines()[0]}") from None
    names = column_names(schema, shown)
    check_minute_types(schema, shown)  # before any row group is read (a struct's columns have other names)
    required = [n for n in MINUTE_COLUMNS if not (n == "account" and account is not None)]
    missing = [n for n in required if n not in names]
    if missing:
        raise InputError(f"{shown}: missing column(s) {', '.join(missing)} (found: {', '.join(names) or 'none'})")
    minute_at = names.index("minute")
    account_at = names.index("account") if "account" in names else None
    minute_type = schema.field("minute").type
    chosen, bases, proven, base, sizes = [], [], [], 0, []
    for index in range(metadata.num_row_groups):
        group = metadata.row_group(index)
        if group.num_rows and _group_may_hold(group, minute_at, minute_type, account_at, request):
            chosen.append(index)
            bases.append(base)
            # A file with its own account column is judged by it, so that a row that disagrees with its
            # account= directory is refused rather than counted for the directory's account.
            proven.append(_proven_account(group, account_at) if account_at is not None else account)
            sizes.append(group.num_rows)
        base += group.num_rows
    parts, start, rows = [], 0, 0
    for k in range(len(chosen)):  # consecutive row groups of about PART_ROWS rows make one part
        rows += sizes[k]
        if rows >= PART_ROWS or k == len(chosen) - 1:
            parts.append(Part(str(Path(path).resolve()) if store is None else shown, "parquet", shown, tuple(chosen[start:k + 1]),
                              tuple(bases[start:k + 1]), tuple(proven[start:k + 1]), account, month, rows))
            start, rows = k + 1, 0
    return parts


def _statistics(group, column):
    if column is None:
        return None
    statistics = group.column(column).statistics
    if statistics is None or not statistics.has_min_max:
        return None
    return statistics


def _group_may_hold(group, minute_at: int, minute_type, account_at, request: Request) -> bool:
    """Whether a row group's statistics allow rows of the requested span and accounts."""
    import pyarrow as pa  # heavy (0.2 s): loaded by the commands that read inputs

    statistics = _statistics(group, minute_at)
    if statistics is not None and pa.types.is_timestamp(minute_type) and statistics.physical_type == "INT64":
        per_minute = UNITS_PER_MINUTE[minute_type.unit]
        lo, hi = statistics.min_raw // per_minute, statistics.max_raw // per_minute
        widen = WIDEN_MINUTES if minute_type.tz is None else 0  # naive: local wall times
        first, end = request.span
        if hi + widen < first or lo - widen >= end:
            return False
    if request.accounts is not None:
        statistics = _statistics(group, account_at)
        if statistics is not None and isinstance(statistics.min, str) and isinstance(statistics.max, str):
            low, high = statistics.min, statistics.max
            # A name trims to itself or shorter: with no leading blank in min, every value v of the row group
            # has v.strip() within [min.rstrip(), max].
            if low[:1] > " " and not any(low.rstrip() <= name <= high for name in request.accounts):
                return False
    return True


def _proven_account(group, column) -> str | None:
    """The one account of a row group whose statistics say min = max and no nulls (its column is not read)."""
    statistics = _statistics(group, column)
    if statistics is None or not statistics.has_null_count or statistics.null_count:
        return None
    if statistics.min != statistics.max or not isinstance(statistics.min, str):
        return None
    return account_name(statistics.min)  # None for a blank name: decoded then, and refused row by row


# ---------------------------------------------------------------------------- read, check, reduce

def _batches(part: Part):
    """(table, line offset, rows before it in its file, account proven for it) of a part, a batch at a time."""
    import pyarrow as pa  # heavy (0.2 s): loaded by the commands that read inputs

    wanted = list(MINUTE_COLUMNS + OPTIONAL_MINUTE_COLUMNS)
    if part.kind == "memory":
        for start in range(0, max(part.table.num_rows, 1), BATCH_ROWS):
            yield part.table.slice(start, BATCH_ROWS), None, start, None
        return
    try:
        if part.kind == "parquet":
            import pyarrow.parquet as pq  # heavy (0.2 s): loaded by the commands that read inputs

            dictionary = [] if part.account is not None else ["account"]  # account= directories may omit it
            remote = storage.is_url(part.path)  # a worker opens the URL itself; far reads are fetched together
            source = pq.ParquetFile(storage.open_input(part.path, random_access=True) if remote else part.path,
                                    read_dictionary=dictionary, pre_buffer=remote)
            try:
                names = [n for n in wanted if n in source.schema_arrow.names]
                for groups, base, proven in _group_runs(part, source.metadata):
                    columns = [n for n in names if not (n == "account" and proven is not None)]
                    if len(groups) > 1:  # small row groups, next to each other in the file: read as one batch
                        yield source.read_row_groups(groups, columns=columns, use_threads=False), None, base, proven
                        continue
                    offset = 0
                    for batch in source.iter_batches(batch_size=BATCH_ROWS, row_groups=groups, columns=columns,
                                                     use_threads=False):
                        yield pa.Table.from_batches([batch]), None, base + offset, proven
                        offset += batch.num_rows
            finally:
                source.close()
        elif part.kind == "csv":
            import pyarrow.csv as pacsv  # heavy (0.2 s): loaded by the commands that read inputs

            types = {name: pa.string() for name in wanted}
            source = storage.open_input(part.path) if storage.is_url(part.path) else part.path
            reader = pacsv.open_csv(source, read_options=pacsv.ReadOptions(block_size=CSV_BLOCK_BYTES),
                                    convert_options=pacsv.ConvertOptions(column_types=types, strings_can_be_null=True,
                                                                         quoted_strings_can_be_null=False))
            names = column_names(reader.schema, part.name)
            missing = [n for n in MINUTE_COLUMNS if n not in names]
            if missing:
                raise InputError(f"{part.name}: missing column(s) {', '.join(missing)} (found: {', '.join(names)})")
            keep = [n for n in wanted if n in names]
            base = 0
            for batch in reader:
                yield pa.Table.from_batches([batch]).select(keep), 1, base, None
                base += batch.num_rows
        else:  # JSON Lines: a block of lines at a time, each row with its line (see json_lines)
            with _open_stream(part.path) as stream:
                for table, line_offset, base in json_lines.batches(stream, part.name, MINUTE_COLUMNS,
                                                                   OPTIONAL_MINUTE_COLUMNS, BATCH_ROWS):
                    yield table, line_offset, base, None
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{part.name}: cannot be read as {part.kind.upper()}: {str(exc).splitlines()[0]}") from None


def _open_stream(path: str):
    """A text part's bytes, read front to back: a local file, or the URL a part carries."""
    return storage.open_input(path) if storage.is_url(path) else open(path, "rb")


def _group_runs(part: Part, metadata):
    """([row groups], rows before them, the account they all hold or None): consecutive row groups of the file
    gathered up to BATCH_ROWS rows, so that small row groups (one account each, say) cost one batch, not one each."""
    run, base, proven, rows = [], 0, None, 0
    for group, start, account in zip(part.row_groups, part.row_bases, part.proven):
        size = metadata.row_group(group).num_rows
        if run and (start != base + rows or rows + size > BATCH_ROWS):
            yield run, base, proven
            run = []
        if not run:
            run, base, proven, rows = [group], start, account, size
        else:
            run.append(group)
            proven = proven if proven == account else None
            rows += size
    if run:
        yield run, base, proven


def read_part(part: Part, request: Request) -> PartSummary:
    """Read, check and reduce one part (the pure per-partition function: threads, processes, Dask)."""
    summary = PartSummary(problems=Problems(part.name or part.path, "minutes"))
    problems, seen = summary.problems, None
    for table, line_offset, base, proven in _batches(part):
        if proven is None and "account" not in table.column_names and part.account is not None:
            proven = part.account
        if proven is not None and request.accounts is not None and proven not in request.accounts:
            continue
        problems.row_base, problems.positions = base, None
        summary.rows_read += table.num_rows
        if request.accounts is not None and proven is None and "account" in table.column_names:
            # Only the requested accounts' rows are checked and kept: a claim is not refused for another
            # account's bad row, nor pays for checking every row of a file written as time goes.
            positions = _rows_of_accounts(table, request.accounts)
            if positions is not None:
                if not len(positions):
                    continue
                table, problems.positions = table.take(positions), positions
        c = check_minute_table(table, request.timezone, problems, line_offset, account=proven)
        summary.naive += c.naive
        if table.num_rows and (seen is None or not _same_names(seen, c.accounts)):
            summary.accounts.update(c.accounts.tolist())
            seen = c.accounts
        _check_directory_keys(part, c, request, problems, line_offset)
        order = _repeats_in_batch(c, problems, line_offset) if not problems.total else None
        if not problems.total:
            _reduce(c, request, summary, order)
        del table, c
    problems.row_base, problems.positions = 0, None
    return summary


def _rows_of_accounts(table, accounts: frozenset) -> np.ndarray | None:
    """The positions of the rows whose account, trimmed, is one of ``accounts``; None when every row's is."""
    import pyarrow as pa  # heavy (0.2 s): loaded by the commands that read inputs
    import pyarrow.compute as pc  # heavy (0.2 s): loaded by the commands that read inputs

    column = _one_array(table.column("account"))
    if pa.types.is_dictionary(column.type):  # the names once, the rows by their index
        names = column.dictionary.to_pylist()
        wanted = np.array([account_name(n) in accounts if isinstance(n, str) else False for n in names] + [False])
        rows = wanted[column.indices.fill_null(-1).to_numpy(zero_copy_only=False)]
    else:
        text = column if pa.types.is_string(column.type) else column.cast(pa.string())
        rows = pc.is_in(pc.utf8_trim_whitespace(text), value_set=pa.array(sorted(accounts), pa.string()))
        rows = rows.fill_null(False).to_numpy(zero_copy_only=False)
    return None if rows.all() else np.flatnonzero(rows)


def _check_directory_keys(part: Part, c, request: Request, problems: Problems, line_offset) -> None:
    """Rows of a ``month=`` or ``account=`` directory belong to that month and account: a directory left out
    of a request because of its key must not have held rows of the request."""
    if part.month is not None:
        start, end = _month_span(part.month, request.timezone, part.name)
        minute = c.minute
        _report((minute < start) | (minute >= end), problems, "minute", line_offset,
                lambda r: f"the minute lies outside Service Month {part.month} of its directory month={part.month}")
    if part.account is not None and (len(c.accounts) != 1 or str(c.accounts[0]) != part.account):
        names = np.array([str(name) != part.account for name in c.accounts], bool)
        _report(names[c.account_index], problems, "account", line_offset,
                lambda r: f"account {str(c.accounts[c.account_index[r]])!r} in the directory account={part.account}")


def _same_names(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two batches name the same accounts (consecutive batches of a file usually do)."""
    return a is b or (len(a) == len(b) and bool((a == b).all()))


def _repeats_in_batch(c, problems: Problems, line_offset) -> str | None:
    """A minute listed twice for an account within one batch, named by its two rows; returns the batch's order.

    Rows ordered by account then minute (exports written account by account: "account") or by minute then
    account (exports written as time goes: "minute") are proven free of repeats by a pass over each column;
    others (None) are sorted.
    """
    if len(c.minute) < 2:
        return "account"
    tries = [("account", c.account_index, c.minute), ("minute", c.minute, c.account_index)]
    if c.minute[0] == c.minute[1]:
        tries.reverse()  # the first two rows share a minute: most likely written as time goes, try that first
    for order, first, second in tries:
        if _increasing(first, second):
            return order
    order = np.lexsort((c.minute, c.account_index))  # rows in (account, minute) order
    code, minute = c.account_index[order], c.minute[order]
    repeated = np.flatnonzero((code[1:] == code[:-1]) & (minute[1:] == minute[:-1]))
    for position in repeated[:MAX_REPORTED]:
        first, second = sorted((int(order[position]) + 1, int(order[position + 1]) + 1))
        name = str(c.accounts[c.account_index[order[position]]])
        problems.add(second, "minute", f"minute listed twice for account {name!r} (also row {problems.file_row(first)})",
                     None if line_offset is None else second + line_offset)
    problems.total += max(0, len(repeated) - MAX_REPORTED)
    return None


def _increasing(first: np.ndarray, second: np.ndarray) -> bool:
    """Whether the rows' (first, second) pairs strictly increase: ``first`` never decreases, and where ``second``
    does not increase, ``first`` does. Passes over the columns as they are, no key built per row (building one
    costs several times as much: allocations, not arithmetic)."""
    if not (first[1:] >= first[:-1]).all():
        return False
    stalls = np.flatnonzero(second[1:] <= second[:-1])
    return bool((first[stalls + 1] > first[stalls]).all())


def _reduce(c, request: Request, summary: PartSummary, order: str | None) -> None:
    """Counts per (account, Service Month), each account's first and last minute, and the candidate rows."""
    bounds = np.asarray(request.bounds, np.int64)
    first, end = request.span
    if not len(c.minute):
        return
    wanted = _wanted_accounts(c, request)
    if int(c.minute.min()) >= first and int(c.minute.max()) < end and (wanted is None or wanted.all()):
        rows = slice(None)  # usually the whole batch is inside the months asked about: views, not copies
    else:
        inside = (c.minute >= first) & (c.minute < end)
        if wanted is not None:
            inside &= wanted[c.account_index]
        rows = slice(None) if inside.all() else np.flatnonzero(inside)
    minute = c.minute[rows]
    if not len(minute):
        return
    months = len(bounds) - 1
    code = c.account_index[rows]
    if months > 1:
        key = code.astype(np.int64) * months + (np.searchsorted(bounds, minute, side="right") - 1)
    else:
        key = code
    cells = len(c.accounts) * months
    requests, illegal = c.requests[rows], c.illegal[rows]
    if order == "account" and months == 1:  # each account's rows are one run: its count is the run's length
        starts = np.concatenate(([0], np.flatnonzero(code[1:] != code[:-1]) + 1))
        with_data = np.zeros(cells, np.int64)
        with_data[code[starts]] = np.diff(np.append(starts, len(code)))
    else:
        with_data = np.bincount(key, minlength=cells)
    # Each count is skipped when the batch shows it equals another: most minutes have calls and no §5.10 failure.
    traffic_all = with_data if requests.min() > 0 else np.bincount(key[requests > 0], minlength=cells)
    marked = np.flatnonzero(illegal)  # §5.10 failures are rare: summed over their rows only
    if len(marked):
        traffic_normal = np.bincount(key[requests - illegal > 0], minlength=cells)
        illegal_sum = np.zeros(cells, np.int64)
        np.add.at(illegal_sum, key[marked], illegal[marked])
        illegal_minutes = np.bincount(key[marked], minlength=cells)
    else:
        traffic_normal, illegal_sum = traffic_all, np.zeros(cells, np.int64)
        illegal_minutes = illegal_sum
    table = np.stack([with_data, traffic_all, traffic_normal, illegal_sum, illegal_minutes], axis=1).astype(np.int64)
    _add_totals(summary, c.accounts, table.reshape(len(c.accounts), months, 5))
    present = with_data.reshape(len(c.accounts), months).sum(axis=1) > 0
    slots, low, high = _first_last(code, minute, present, order)
    summary.spans.append((c.accounts[slots], low, high))
    _keep_candidates(c, rows, key, request, summary)


def _add_totals(summary: PartSummary, names: np.ndarray, table: np.ndarray) -> None:
    """Add one batch's counts (rows named by ``names``, sorted) to the part's."""
    if summary.totals is None:
        summary.names, summary.totals = names, table
    elif _same_names(summary.names, names):
        summary.totals += table
    else:
        union = np.union1d(summary.names, names)
        merged = np.zeros((len(union),) + table.shape[1:], np.int64)
        merged[np.searchsorted(union, summary.names)] += summary.totals
        merged[np.searchsorted(union, names)] += table
        summary.names, summary.totals = union, merged


def _first_last(code: np.ndarray, minute: np.ndarray, present: np.ndarray, order: str | None):
    """(accounts present, each one's first minute, last minute) among rows in the batch's order.

    Ordered batches need no per-row reduction: an account's rows are one run ("account"), or its first
    and last rows lie in the first and last minutes it appears in ("minute")."""
    if order == "account":
        starts = np.concatenate(([0], np.flatnonzero(code[1:] != code[:-1]) + 1))
        ends = np.concatenate((starts[1:], [len(code)])) - 1
        return code[starts], minute[starts], minute[ends]
    low = np.full(len(present), np.iinfo(np.int64).max)
    high = np.full(len(present), np.iinfo(np.int64).min)
    if order == "minute":
        # A batch may begin and end inside a minute: the first two and last two minutes name every account
        # that appears in every minute; any other account is reduced over its own rows.
        one = np.searchsorted(minute, minute[0], side="right")
        two = np.searchsorted(minute, minute[min(one, len(minute) - 1)], side="right")
        low[code[one:two]] = minute[min(one, len(minute) - 1)]
        low[code[:one]] = minute[0]
        last = np.searchsorted(minute, minute[-1], side="left")
        before = np.searchsorted(minute, minute[max(last - 1, 0)], side="left")
        high[code[before:last]] = minute[max(last - 1, 0)]
        high[code[last:]] = minute[-1]
        rest = present & ((low == np.iinfo(np.int64).max) | (high == np.iinfo(np.int64).min))
        pick = np.flatnonzero(rest[code]) if rest.any() else np.zeros(0, np.int64)
    else:
        pick = slice(None)
    np.minimum.at(low, code[pick], minute[pick])
    np.maximum.at(high, code[pick], minute[pick])
    slots = np.flatnonzero(present)
    return slots, low[slots], high[slots]


def _wanted_accounts(c, request: Request):
    if request.accounts is None:
        return None
    return np.array([str(name) in request.accounts for name in c.accounts], bool)


def _touches(windows: tuple, first: int, last: int) -> bool:
    """Whether any [start, end) window meets the minutes first..last."""
    return any(start <= last and end > first for start, end in windows)


def _keep_candidates(c, rows, key, request: Request, summary: PartSummary) -> None:
    """The rows unavailable under at least one reading (and every row inside a provider incident), with
    their cell (account code × months + month index); :func:`merge` groups them per account and month.

    With c1 > c2 > 0, c1·(r − f) < c2·r is (c1 − c2)·r < c1·f: only rows with failures can be unavailable.
    """
    whole = isinstance(rows, slice)  # every row of the batch: positions are rows
    if request.readings is None:
        keep = np.arange(len(key))
    else:
        failing = np.flatnonzero(c.failures[rows] > 0)
        picked = failing if whole else rows[failing]
        r, f, i = c.requests[picked], c.failures[picked], c.illegal[picked]
        hit = np.zeros(len(picked), bool)
        for reading in request.readings:
            removed = i if reading.removes_illegal else 0
            normal, failed = r - removed, f - removed
            if len(normal) and int(normal.max()) * reading.c1 >= 2 ** 62:  # beyond int64: exact integers
                hit |= np.array([reading.c1 * (int(n) - int(x)) < reading.c2 * int(n) and n > 0
                                 for n, x in zip(normal, failed)], bool)
            else:
                hit |= (reading.c1 * (normal - failed) < reading.c2 * normal) & (normal > 0)
        keep = failing[hit]
    minute = c.minute[rows]
    if request.within and _touches(request.within, int(minute.min()), int(minute.max())):
        starts, ends = (np.array(side, np.int64) for side in zip(*request.within))
        at = np.searchsorted(starts, minute, side="right") - 1
        inside = (at >= 0) & (minute < ends[np.maximum(at, 0)])
        keep = np.union1d(keep, np.flatnonzero(inside))
    if not len(keep):
        return
    chosen = keep if whole else rows[keep]
    summary.has_peak = summary.has_peak or c.has_peak_qps
    summary.candidates.append((c.accounts, np.asarray(key[keep], np.int64), c.minute[chosen], c.requests[chosen],
                               c.failures[chosen], c.illegal[chosen], c.peak_qps[chosen]))


# ---------------------------------------------------------------------------- merge

@dataclass
class AccountMonth:
    """What the evaluation of one account's Service Month needs: its counts and its candidate rows."""

    account: str
    month: str
    totals: object  # MonthTotals
    rows: object  # MonthMinutes


@dataclass
class MinuteAggregates:
    """The minutes of a request, reduced: per account and Service Month, counts and candidate rows."""

    months: list  # ServiceMonth, in order
    cells: dict = field(default_factory=dict)  # (account, month label) -> AccountMonth
    accounts: set = field(default_factory=set)  # every account seen in the rows read
    rows_read: int = 0
    naive_timestamps: int = 0
    parts: int = 0
    within_incidents: bool = False  # every row inside the provider incidents is kept (MonthMinutes says so too)
    plan: list = field(default_factory=list, repr=False)  # the Parts read


def merge(summaries: list, months: list, parts: list, request: Request) -> MinuteAggregates:
    """The parts' summaries as one result; raises with every problem found (in file order)."""
    _raise_problems([s.problems for s in summaries])
    result = MinuteAggregates(months, parts=len(parts))
    count = len(months)
    names = np.unique(np.concatenate([s.names for s in summaries] + [np.zeros(0, str)]))
    totals = np.zeros((len(names), count, 5), np.int64)
    spans, candidates = [], []
    for summary in summaries:
        result.rows_read += summary.rows_read
        result.naive_timestamps += summary.naive
        result.accounts |= summary.accounts
        if summary.totals is not None:
            totals[np.searchsorted(names, summary.names)] += summary.totals
        spans += [(np.searchsorted(names, batch), low, high) for batch, low, high in summary.spans]
        for batch, cell, *columns in summary.candidates:  # cells renamed from the batch's accounts to all of them
            at = np.searchsorted(names, batch)[cell // count] * count + cell % count
            candidates.append((at, *columns))
    if spans and _overlap(*(np.concatenate(column) for column in zip(*spans))):
        _repeats_across_batches(parts, request)  # raises with the rows, or finds the ranges only interleave
    has_peak = any(s.has_peak for s in summaries)
    result.within_incidents = bool(request.within)
    pieces = _group_candidates(candidates)
    for cell in np.flatnonzero(totals[:, :, 0].reshape(-1)):
        name, index = str(names[cell // count]), int(cell % count)
        columns = pieces.get(int(cell))
        rows = MonthMinutes(*columns, has_peak, result.within_incidents) if columns else \
            MonthMinutes.empty(result.within_incidents)
        label = months[index].label
        result.cells[(name, label)] = AccountMonth(name, label, MonthTotals(*(int(x) for x in totals[cell // count, index])),
                                                  rows)
    return result


def _group_candidates(candidates: list) -> dict:
    """cell -> [minute, requests, failures, illegal, peak], each in minute order."""
    if not candidates:
        return {}
    cell, *columns = (np.concatenate(column) for column in zip(*candidates))
    order = np.lexsort((columns[0], cell))
    cell, columns = cell[order], [column[order] for column in columns]
    starts = np.concatenate(([0], np.flatnonzero(cell[1:] != cell[:-1]) + 1))
    ends = np.concatenate((starts[1:], [len(cell)]))
    return {int(cell[a]): [column[a:b] for column in columns] for a, b in zip(starts, ends)}


def _overlap(account: np.ndarray, low: np.ndarray, high: np.ndarray) -> bool:
    """Whether two batches' minute ranges of one account overlap (sorted by account then first minute, any
    overlap shows between neighbours)."""
    order = np.lexsort((low, account))
    account, low, high = account[order], low[order], high[order]
    return bool(((account[1:] == account[:-1]) & (low[1:] <= high[:-1])).any())


def _raise_problems(all_problems: list) -> None:
    found = [p for p in all_problems if p is not None and p.total]
    if not found:
        return
    if len(found) == 1:
        found[0].raise_if_any()
    messages = []
    for problems in found:
        try:
            problems.raise_if_any()
        except InputError as exc:
            messages.append(str(exc))
    raise InputError("\n".join(messages))


def _repeats_across_batches(parts: list, request: Request) -> None:
    """Read the parts again, in order, marking each account's minutes: name every minute listed twice.

    Only needed when two batches' minute ranges of one account overlap (rows in no order at all).
    """
    first, end = request.span
    listed: dict[str, np.ndarray] = {}
    for part in parts:
        problems = Problems(part.name or part.path, "minutes")
        for table, line_offset, base, proven in _batches(part):
            if proven is None and "account" not in table.column_names and part.account is not None:
                proven = part.account
            problems.row_base = base
            c = check_minute_table(table, request.timezone, problems, line_offset, account=proven)
            inside = (c.minute >= first) & (c.minute < end)
            wanted = _wanted_accounts(c, request)
            if wanted is not None:
                inside &= wanted[c.account_index]
            for code in np.unique(c.account_index[inside]):
                name = str(c.accounts[code])
                rows = np.flatnonzero(inside & (c.account_index == code))
                seen = listed.setdefault(name, np.zeros(end - first, bool))
                offsets = c.minute[rows] - first
                before = np.flatnonzero(seen[offsets])
                for row in before[:MAX_REPORTED]:
                    problems.add(int(rows[row]) + 1, "minute",
                                 f"minute listed twice for account {name!r} (also in an earlier row)",
                                 None if line_offset is None else int(rows[row]) + 1 + line_offset)
                problems.total += max(0, len(before) - MAX_REPORTED)
                seen[offsets] = True
        problems.row_base = 0
        problems.raise_if_any()


# ---------------------------------------------------------------------------- the whole path

def read_minutes(source, months: list, policies: list, *, accounts=None, incidents=(), runner=None,
                 progress=None) -> MinuteAggregates:
    """Plan, read, check and reduce the minutes of ``months`` (and ``accounts``) for ``policies``.

    In this process the parts run on every core (pyarrow and numpy release the GIL); a
    :class:`~slapolicy.distributed.Runner` with workers or a Dask address runs them there, and the
    workers read the files themselves: this process then holds only metadata and the reduced result.
    """
    request = request_for(months, policies[0].timezone, policies, accounts, incidents)
    parts = plan(source, request)
    summaries = map_parts(parts, request, runner, progress)
    result = merge(summaries, months, parts, request)
    result.plan = parts
    return result


def map_parts(parts: list, request: Request, runner: Runner | None = None, progress=None) -> list:
    """Each part read, checked and reduced where the runner runs tasks (parts held in memory stay here)."""
    runner = runner or Runner()
    if runner.remote and any(part.kind == "memory" for part in parts):
        raise SlapolicyError("minutes handed in as data are read in this process: give a file path to use "
                             "workers or Dask")
    seen = [0]

    def show(summary):
        seen[0] += summary.rows_read
        progress(seen[0])

    return runner.map(read_part, parts, [request] * len(parts), threads=True, progress=show if progress else None)


# ---------------------------------------------------------------------------- what was read, as a digest

READ_DIGEST = "the bytes read"  # how a claim's record names the digest of its minutes (docs/ledger.md)


def read_digest(source, parts: list) -> str:
    """sha256 of the bytes a reading of ``source`` depended on: of each Parquet file read, its footer (the
    metadata every plan is made from) and the row groups read; of a text file, all of it; each under its
    path relative to the source. A claim for one account so never hashes the whole dataset, and the digest
    changes with any byte the decision could have seen."""
    remote = storage.is_url(source)
    root = Path(source) if not remote else None
    digest = hashlib.sha256(b"slapolicy minutes read digest 1\n")
    by_file: dict = {}
    for part in parts:
        by_file.setdefault(part.path, []).append(part)
    for path, file_parts in by_file.items():
        if remote:  # a part's URL is the source's URL with the file's path added (storage.Store.url_of)
            name = path.partition("?")[0][len(source.partition("?")[0].rstrip("/")):].lstrip("/") or \
                source.partition("?")[0].rstrip("/").rsplit("/", 1)[-1]
        else:
            name = Path(path).relative_to(root.resolve()).as_posix() if root.is_dir() else root.name
        groups = sorted(g for part in file_parts for g in part.row_groups)
        digest.update(f"{name}\t{file_parts[0].kind}\t{groups}\n".encode())
        with (storage.open_input(path, random_access=True) if remote else open(path, "rb")) as handle:
            for start, length in _byte_ranges(path, file_parts[0].kind, groups, handle):
                handle.seek(start)
                while length > 0:
                    block = handle.read(min(length, 1 << 20))
                    if not block:
                        break
                    digest.update(block)
                    length -= len(block)
    return digest.hexdigest()


def _byte_ranges(path: str, kind: str, groups: list, handle) -> list:
    """(start, length) of the footer and of every column chunk of ``groups``; a text file whole."""
    remote = storage.is_url(path)  # a pyarrow file opened by its URL
    size = handle.size() if remote else os.fstat(handle.fileno()).st_size
    if kind != "parquet":
        return [(0, size)]
    import pyarrow.parquet as pq  # heavy (0.2 s): loaded by the commands that read inputs

    handle.seek(size - 8)
    footer = int.from_bytes(handle.read(4), "little") + 8
    metadata = pq.read_metadata(handle if remote else path)
    ranges = [(size - footer, footer)]
    for index in groups:
        group = metadata.row_group(index)
        for c in range(group.num_columns):
            column = group.column(c)
            start = column.dictionary_page_offset if column.has_dictionary_page else column.data_page_offset
            ranges.append((start, column.total_compressed_size))
    return ranges
