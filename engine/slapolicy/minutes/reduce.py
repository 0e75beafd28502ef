"""Reduce one part (:func:`read_part`, a pure function of the part and a small :class:`Request`): each batch's
rows checked with the one set of row checks (:func:`slapolicy.inputs.tables.check_minute_table`), then reduced
to what an evaluation needs (:class:`PartSummary`): per account and Service Month the counts of
:class:`~slapolicy.evaluation.classify.MonthTotals` and the few rows that may be unavailable under any of the
versions asked about.

A minute listed twice is found inside a batch by one sort-free test (rows ordered by account then
minute, or by minute then account, as exports come) or a sort; across batches by comparing each
account's minute ranges (``aggregates``); only when ranges overlap is the input read again for exact row
numbers.
"""
from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import numpy as np

from ..arrays import arrow_of, distinct_sorted
from ..errors import InputError
from ..inputs.problems import MAX_REPORTED, Problems, _report
from ..inputs.tables import account_name, check_minute_table
from ..inputs.timestamps import _one_array
from .planning import Part, Request, _month_span, below_threshold
from .readers import Pick, _batches, problems_of
from .within import rows_inside_own, traffic_inside


# The counts kept per account and Service Month, in the order of MonthTotals' fields (shapes.MonthTotals, not
# imported here: a claim's reading starts before the evaluation's shapes are loaded).
TOTALS = 6


@dataclass
class PartSummary:
    """One part reduced, in arrays named by account (a part may hold thousands of accounts): per account and
    Service Month the counts of a MonthTotals, each batch's first and last minute per account, and the
    candidate rows. The client merges them (:func:`merge`)."""

    rows_read: int = 0
    names: np.ndarray = field(default_factory=lambda: np.zeros(0, str))  # sorted account names of ``totals``
    totals: np.ndarray | None = None  # int64[len(names), months, TOTALS], in the order of MonthTotals' fields
    spans: list = field(default_factory=list)  # per batch: (names, first minute, last minute) inside the span
    candidates: list = field(default_factory=list)  # per batch: (names, cell, minute, r, f, i, peak); see _keep_candidates
    has_peak: bool = False
    problems: Problems | None = None
    # per batch: (names, window start, end, minutes with requests, with normal requests); see traffic_inside
    incident_traffic: list = field(default_factory=list)
    # A piece of a JSON Lines file: the JSON kind of each of its columns (json_lines.batches), which the pieces of one
    # file must agree on, as one reading of it would (else it is read again whole: aggregates.map_parts)
    kinds: dict = field(default_factory=dict)
    # The first and last minute (epoch minutes) of the rows reduced, inside the months asked about or not: what a
    # replay of months holding none of them says the minutes hold (two numbers a batch, known already).
    seen: tuple = ()


# ---------------------------------------------------------------------------- requests


# ---------------------------------------------------------------------------- plan


# ---------------------------------------------------------------------------- read, check, reduce


# Said after a batch's problems when a row's account or minute was refused: its minutes listed twice were not looked for.
REPEATS_LATER = ("minutes listed twice are looked for once every row's account and minute can be read: "
                 "fix these, then run again")


# The modules read_part imports as it runs (inside functions, to keep a command's start light) on a Parquet part, and
# its summary's pickling, and so does a claim's picking of its rows (picked_batches, aggregates.ReadAhead): a forked
# helper has them imported before the fork (distributed._on_thread_and_fork), never in the helper.
# tests/test_forked_helper.py and tests/test_read_ahead.py fail when a task there imports a module not named here.
READ_PART_IMPORTS = ("numpy", "pickle", "pyarrow", "pyarrow.lib", "pyarrow._parquet", "slapolicy.inputs.problems",
                     "slapolicy.minutes.reduce")

# A Parquet file of one row (a column 'requests' of int64, 1; Snappy), as pyarrow 26 writes it: read by
# ready_to_fork. Its bytes rather than a write, which would load pyarrow.parquet, which the reading never loads.
ONE_ROW = bytes.fromhex(
    "504152311504151015144c15021500120000081c01000000000000001500151215162c15021510150615061c000000092002000000"
    "02010102001504192c35001806736368656d611502001504250218087265717565737473001602191c191c26001c15041935000610"
    "1918087265717565737473150216021664166c26382608292c15041500150200150015101502003c29061926000200000016641602"
    "2608166c002820706172717565742d6370702d6172726f772076657273696f6e2032362e302e31191c1c0000009200000050415231"
)
_ready = False  # whether ready_to_fork has read ONE_ROW in this process


def ready_to_fork() -> None:
    """Make, on the thread that forks the reading's helper and before it forks, what pyarrow's C++ makes on its first
    Parquet column read (its tracer, which its thread pools ask for too: a function-local static), by reading
    ONE_ROW once in this process: see distributed._on_thread_and_fork. ~0.3 ms, once."""
    global _ready
    if _ready:
        return
    import pyarrow as pa  # heavy (0.2 s): loaded by the commands that read inputs (READ_PART_IMPORTS)
    from pyarrow._parquet import ParquetReader  # as planning.LocalParquet: pyarrow.parquet is never loaded

    reader = ParquetReader()
    reader.open(pa.BufferReader(ONE_ROW), pre_buffer=False)
    reader.read_row_groups([0], use_threads=False)
    reader.close()
    _ready = True


def read_part(part: Part, request: Request, picked: list | None = None, kinds: dict | None = None) -> PartSummary:
    """Read, check and reduce one part (the pure per-partition function: threads, processes, Dask). ``picked``:
    its batches as :func:`picked_batches` gave them already (a reading started ahead of its policy), and ``kinds``
    the JSON kinds it filled in as it read them.

    A piece of a JSON Lines file (``Part.byte_range``) counts its lines and rows from its own start, so what it
    would say of a problem is not where the file has it: any problem, or an error it would raise, is returned
    as one problem, and the file is read again whole (``aggregates.map_parts``), in file order."""
    if not part.byte_range:
        return _read_part(part, request, picked, kinds)
    try:
        summary = _read_part(part, request, picked, kinds)
    except InputError:
        summary = PartSummary(problems=problems_of(part))
        summary.problems.total = 1
    return summary


def _read_part(part: Part, request: Request, picked: list | None, kinds: dict | None) -> PartSummary:
    summary = PartSummary(problems=problems_of(part), kinds=kinds if picked is not None and kinds is not None else {})
    problems = summary.problems
    for read, c, line_offset in checked_batches(part, request, problems, picked, summary.kinds):
        summary.rows_read += read
        if c is None:
            continue
        _check_directory_keys(part, c, request, problems, line_offset)
        # A minute listed twice is named with the batch's other problems, unless an account or minute of the batch
        # was refused (then its rows' keys are not the ones written); across batches, only once none is left.
        order, stalls = repeats_in_batch(c, problems, line_offset) if not c.keys_refused else (None, None)
        if c.keys_refused and len(c.minute) - c.keys_refused > 1:  # two rows read whole may repeat a minute:
            problems.note = REPEATS_LATER  # "2 problem(s)" read as all there were; fixed, a third came up
        if not problems.total:
            _reduce(c, request, summary, order, stalls)
        del c
    return summary


def joined(summaries: list) -> PartSummary:
    """The summaries of consecutive pieces of one part, without problems, as the part's one summary."""
    whole = PartSummary(problems=summaries[0].problems)
    for summary in summaries:
        whole.rows_read += summary.rows_read
        if summary.totals is not None:
            _add_totals(whole, summary.names, summary.totals)
        whole.spans += summary.spans
        whole.candidates += summary.candidates
        whole.incident_traffic += summary.incident_traffic
        whole.has_peak = whole.has_peak or summary.has_peak
        whole.seen = widened(whole.seen, summary.seen)
    return whole


def widened(seen: tuple, other: tuple) -> tuple:
    """The (first, last) minutes of two spans of rows seen together (() for none)."""
    if not seen or not other:
        return seen or other
    return min(seen[0], other[0]), max(seen[1], other[1])


def checked_batches(part: Part, request: Request, problems: Problems, picked: list | None = None,
                    kinds: dict | None = None):
    """(rows read, the checked columns or None, line offset) of each batch of a part, the requested accounts'
    rows only: a claim is not refused for another account's bad row, nor pays for checking every row of a
    file written as time goes. ``problems`` names the file's rows (the batch's place, the rows kept).
    ``picked``: the part's batches as :func:`picked_batches` gave them already (a reading started ahead);
    ``kinds``: see :func:`picked_batches`."""
    for read, table, line_offset, base, proven, bounds, positions in (
            picked if picked is not None else picked_batches(part, request.accounts, kinds)):
        problems.row_base, problems.positions = base, positions
        if table is None:
            yield read, None, line_offset
            continue
        yield read, check_minute_table(table, request.timezone, problems, line_offset, account=proven,
                                       bounds=bounds), line_offset
        del table  # before the next batch is decoded: two batches of a thread are never held at once
    problems.row_base, problems.positions = 0, None


def picked_batches(part: Part, accounts: frozenset | None, kinds: dict | None = None):
    """(rows read, the rows of ``accounts`` (None: every row) or None when it has none, line offset, rows before
    the batch in its file, account proven for them, bounds of their counts, their positions among the rows read
    or None for all of them) of each batch of a part: what a reading does before it needs the policy, so that a
    claim's reading can start before its policy is loaded (:class:`~slapolicy.minutes.aggregates.ReadAhead`).
    ``kinds``: filled in with the JSON kind of each column of a JSON Lines part, every row's (``readers._batches``)."""
    pick = Pick(functools.partial(_rows_of_accounts, accounts=accounts), _take,
                functools.partial(_codes_of_accounts, accounts=accounts)) if accounts is not None else None
    for table, line_offset, base, proven, bounds, picked in _batches(part, pick, kinds):
        if picked is not None:  # picked as it was read (readers._read_picked)
            read, positions = picked
            yield (read, None, line_offset, base, proven, bounds, None) if table is None else \
                (read, table, line_offset, base, proven, bounds, positions)
            del table
            continue
        if proven is None and "account" not in table.column_names and part.account is not None:
            proven = part.account
        if isinstance(proven, str) and accounts is not None and proven not in accounts:
            continue
        read = table.num_rows
        positions = None
        if accounts is not None and isinstance(proven, tuple):
            positions, proven = _rows_of_runs(proven, accounts)
        elif accounts is not None and proven is None and "account" in table.column_names:
            positions = _rows_of_accounts(table, accounts)
        if positions is not None:
            if not len(positions):
                del table
                yield read, None, line_offset, base, proven, bounds, None
                continue
            table = _take(table, positions)
        yield read, table, line_offset, base, proven, bounds, positions
        del table


def _rows_of_runs(runs: tuple, accounts: frozenset) -> tuple:
    """(positions of the rows of ``accounts``, or None when every row is theirs; the runs kept) of a batch whose
    row groups' accounts are proven, as (account, rows) in turn."""
    if all(account in accounts for account, _ in runs):
        return None, runs
    kept, positions, start = [], [], 0
    for account, rows in runs:
        if account in accounts:
            kept.append((account, rows))
            positions.append(np.arange(start, start + rows))
        start += rows
    return (np.concatenate(positions) if positions else np.zeros(0, np.int64)), tuple(kept)


def _take(table, positions: np.ndarray):
    """The rows at ``positions`` of a batch. Numbers and timestamps without missing values are picked by numpy,
    and a dictionary column by its indices, so that a claim on Parquet never loads ``pyarrow.compute`` (0.05 s
    of its start, for ``Table.take``); a batch with other columns, or some values missing, is left to it."""
    import pyarrow as pa  # heavy (0.2 s): loaded by the commands that read inputs

    taken = []
    for column in table.columns:
        array = _one_array(column)
        kind = array.type
        if array.null_count == len(array):  # an optional column left empty
            taken.append(pa.nulls(len(positions), kind))
        elif array.null_count:
            return table.take(positions)
        elif pa.types.is_dictionary(kind) and pa.types.is_int32(kind.index_type):
            # With the names its rows use only: a claim's account among a by-time batch's 500 names made every check
            # and reduction of the batch's few rows trim, order and total all 500 (half their CPU, after the reading).
            codes = array.indices.to_numpy()[positions]
            used = distinct_sorted(codes)
            names = array.dictionary.to_pylist()
            indices = arrow_of(np.searchsorted(used, codes).astype(np.int32), pa.int32())
            taken.append(pa.DictionaryArray.from_arrays(indices, pa.array([names[code] for code in used.tolist()],
                                                                           array.dictionary.type)))
        elif pa.types.is_timestamp(kind):
            taken.append(arrow_of(array.view(pa.int64()).to_numpy()[positions], pa.int64()).view(kind))
        elif pa.types.is_integer(kind) or pa.types.is_floating(kind):
            taken.append(arrow_of(array.to_numpy()[positions], kind))
        else:
            return table.take(positions)
    return pa.Table.from_arrays(taken, schema=table.schema)


def _rows_of_accounts(table, accounts: frozenset) -> np.ndarray | None:
    """The positions of the rows whose account, trimmed, is one of ``accounts``; None when every row's is."""
    import pyarrow as pa  # heavy (0.2 s): loaded by the commands that read inputs

    column = _one_array(table.column("account"))
    if pa.types.is_dictionary(column.type):  # the names once, the rows by their index
        names = column.dictionary.to_pylist()
        codes = _codes_of_accounts.__wrapped__(names, accounts)
        if len(codes) == len(names) and not column.null_count:
            return None
        indices = column.indices.fill_null(-1) if column.null_count else column.indices
        indices = indices.to_numpy(zero_copy_only=False)
        if len(codes) > 8:  # many accounts: each row's index looked up
            rows = np.isin(indices, codes)
        else:  # a claim's one account: a comparison per row (looking each index up costs eight times as much)
            rows = indices == codes[0] if codes else np.zeros(len(indices), bool)
            for code in codes[1:]:
                rows |= indices == code
    else:
        import pyarrow.compute as pc  # heavy (0.05 s): text only

        text = column if pa.types.is_string(column.type) else column.cast(pa.string())
        rows = pc.is_in(pc.utf8_trim_whitespace(text), value_set=pa.array(sorted(accounts), pa.string()))
        rows = rows.fill_null(False).to_numpy(zero_copy_only=False)
    return None if rows.all() else np.flatnonzero(rows)


@functools.lru_cache(maxsize=8)
def _codes_of_accounts(names: tuple, accounts: frozenset) -> tuple:
    """The indices of the names among ``names`` (a dictionary's) whose trimmed text is one of ``accounts``. Kept
    for a few dictionaries: a file written as time goes repeats one in each of its row groups."""
    return tuple(code for code, n in enumerate(names) if isinstance(n, str) and account_name(n) in accounts)


def _check_directory_keys(part: Part, c, request: Request, problems: Problems, line_offset) -> None:
    """Rows of a ``month=`` or ``account=`` directory belong to that month and account: a directory left out
    of a request because of its key must not have held rows of the request."""
    if part.month is not None:
        start, end = _month_span(part.month, request.timezone, part.name)
        minute = c.minute
        _report((minute < start) | (minute >= end), problems, "minute", line_offset,
                lambda r: f"the minute lies outside Service Month {part.month} of its directory month={part.month}"
                          f"{_where_it_lies(int(minute[r]), request.timezone)}")
    if part.account is not None and (len(c.accounts) != 1 or str(c.accounts[0]) != part.account):
        names = np.array([str(name) != part.account for name in c.accounts], bool)
        _report(names[c.account_index], problems, "account", line_offset,
                lambda r: f"account {str(c.accounts[c.account_index[r]])!r} in the directory account={part.account}")


def _where_it_lies(minute: int, timezone: str) -> str:
    """Where a row of a ``month=`` directory that lies outside its month does lie, for its message: the minute on the
    policy's clock, whose months the directories name, and the directory it belongs in. A dataset partitioned by
    each account's local month (or by UTC's) was told only that its rows lie outside, with nothing to say why (an
    error path only: at most :data:`MAX_REPORTED` rows)."""
    try:
        wall = dt.datetime.fromtimestamp(minute * 60, ZoneInfo(timezone))
    except (OverflowError, OSError, ValueError):  # a minute no datetime holds: said as before
        return ""
    return (f": it is {wall:%Y-%m-%d %H:%M} in {timezone}, the policy's timezone, in which a month= directory's "
            f"Service Month is counted: write it under month={wall.year:04d}-{wall.month:02d}")


def _same_names(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two batches name the same accounts (consecutive batches of a file usually do)."""
    return a is b or (len(a) == len(b) and bool((a == b).all()))


def repeats_in_batch(c, problems: Problems, line_offset) -> tuple:
    """A minute listed twice for an account within one batch, named by its two rows; returns the batch's order
    and, in time order, the rows after which the account code does not increase (see ``_whole_rounds``).

    Rows ordered by account then minute (exports written account by account: "account") or by minute then
    account (exports written as time goes: "minute") are proven free of repeats by a pass over each column
    (the minutes' runs, when the column was read run by run); others (None) are sorted.
    """
    if len(c.minute) < 2 or c.account_runs is not None:  # (each account's minutes one run of consecutive ones)
        return "account", None
    tries = [("account", c.account_index, c.minute, None), ("minute", c.minute, c.account_index, c.minute_runs)]
    if c.minute[0] == c.minute[1]:
        tries.reverse()  # the first two rows share a minute: most likely written as time goes, try that first
    for order, first, second, runs in tries:
        stalls = _increasing(first, second, runs)
        if stalls is not None:
            return order, stalls if order == "minute" else None
    order = np.lexsort((c.minute, c.account_index))  # rows in (account, minute) order
    code, minute = c.account_index[order], c.minute[order]
    repeated = np.flatnonzero((code[1:] == code[:-1]) & (minute[1:] == minute[:-1]))
    for position in repeated[:MAX_REPORTED]:
        first, second = sorted((int(order[position]) + 1, int(order[position + 1]) + 1))
        name = str(c.accounts[c.account_index[order[position]]])
        problems.add(second, "minute", f"minute listed twice for account {name!r} (also {problems.row(problems.file_row(first))})",
                     None if line_offset is None else second + line_offset)
    problems.total += max(0, len(repeated) - MAX_REPORTED)
    return None, None


def _increasing(first: np.ndarray, second: np.ndarray, runs: np.ndarray | None = None) -> np.ndarray | None:
    """Where ``second`` does not increase, if the rows' (first, second) pairs strictly increase (``first``
    never decreases, and where ``second`` does not increase, ``first`` does); None if they do not. Passes over
    the columns as they are, no key built per row (building one costs several times as much: allocations, not
    arithmetic). ``runs``: where each run of equal ``first`` values begins, when known: ``first`` never
    decreases if the runs' values increase."""
    if runs is not None:
        if not (first[runs[1:]] > first[runs[:-1]]).all():
            return None
    elif not (first[1:] >= first[:-1]).all():
        return None
    stalls = np.flatnonzero(second[1:] <= second[:-1])
    return stalls if (first[stalls + 1] > first[stalls]).all() else None


def _reduce(c, request: Request, summary: PartSummary, order: str | None, stalls: np.ndarray | None = None) -> None:
    """Counts per (account, Service Month), each account's first and last minute, and the candidate rows.
    ``stalls``: in time order, the rows after which the account code does not increase."""
    bounds = np.asarray(request.bounds, np.int64)
    first, end = request.span
    if not len(c.minute):
        return
    # Only the requested accounts' rows reach here (read_part leaves the others out): the span is the one cut.
    runs = (_runs(c.account_index) if c.account_runs is None else c.account_runs) if order == "account" else None
    if order == "minute":
        low, high = c.minute[0], c.minute[-1]
    elif order == "account":  # each account's minutes increase along its run
        low, high = c.minute[runs].min(), c.minute[np.append(runs[1:], len(c.minute)) - 1].max()
    else:
        low, high = c.minute.min(), c.minute.max()
    span = int(low), int(high)  # the batch's first and last minute
    summary.seen = widened(summary.seen, span)
    if int(low) >= first and int(high) < end:
        rows = slice(None)  # usually the whole batch is inside the months asked about: views, not copies
    else:
        inside = (c.minute >= first) & (c.minute < end)
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
    starts = None if order != "account" else runs if isinstance(rows, slice) else _runs(code)
    if starts is not None and months == 1:  # each account's rows are one run: its count is the run's length
        with_data = np.zeros(cells, np.int64)
        with_data[code[starts]] = np.diff(np.append(starts, len(code)))
    else:
        with_data = _whole_rounds(code, cells, stalls if isinstance(rows, slice) else None) if months == 1 else None
        with_data = np.bincount(key, minlength=cells) if with_data is None else with_data
    # Each count is skipped when the batch shows it equals another: most minutes have calls and no §5.10 failure.
    traffic_all = with_data if requests.min() > 0 else np.bincount(key[requests > 0], minlength=cells)
    # §5.10 failures are rare: summed over their rows only (none when the column is absent: one 0 seen as many)
    marked = np.flatnonzero(illegal) if illegal.strides != (0,) else np.zeros(0, np.intp)
    if len(marked):
        traffic_normal = np.bincount(key[requests - illegal > 0], minlength=cells)
        illegal_sum = np.zeros(cells, np.int64)
        np.add.at(illegal_sum, key[marked], illegal[marked])
        illegal_minutes = np.bincount(key[marked], minlength=cells)
    else:
        traffic_normal, illegal_sum = traffic_all, np.zeros(cells, np.int64)
        illegal_minutes = illegal_sum
    table = np.stack([with_data, traffic_all, traffic_normal, illegal_sum, illegal_minutes,
                      _naive_cells(c, rows, key, cells, with_data)], axis=1).astype(np.int64)
    _add_totals(summary, c.accounts, table.reshape(len(c.accounts), months, TOTALS))
    present = with_data.reshape(len(c.accounts), months).sum(axis=1) > 0
    slots, low, high = _first_last(code, minute, present, order, starts)
    summary.spans.append((c.accounts[slots], low, high))
    _keep_candidates(c, rows, key, request, summary, (minute, order, starts, span))


def _naive_cells(c, rows, key: np.ndarray, cells: int, with_data: np.ndarray) -> np.ndarray:
    """Rows per cell whose minute had no UTC offset: none, every row (a file written without offsets: the rows
    counted already), or, in a text file mixing both, counted by the rows' mask."""
    if not c.naive:
        return np.zeros(cells, np.int64)
    if c.naive_rows is None:
        return with_data
    return np.bincount(key[c.naive_rows[rows]], minlength=cells)


def _add_totals(summary: PartSummary, names: np.ndarray, table: np.ndarray) -> None:
    """Add one batch's counts (rows named by ``names``, sorted) to the part's."""
    if summary.totals is None:
        summary.names, summary.totals = names, table
    elif _same_names(summary.names, names):
        summary.totals += table
    else:
        union = distinct_sorted(np.concatenate((summary.names, names)))
        merged = np.zeros((len(union),) + table.shape[1:], np.int64)
        merged[np.searchsorted(union, summary.names)] += summary.totals
        merged[np.searchsorted(union, names)] += table
        summary.names, summary.totals = union, merged


def _runs(code: np.ndarray) -> np.ndarray:
    """Where each account's run begins, in a batch ordered by account."""
    return np.concatenate(([0], np.flatnonzero(code[1:] != code[:-1]) + 1))


def _whole_rounds(code: np.ndarray, accounts: int, stalls: np.ndarray | None = None) -> np.ndarray | None:
    """Rows per account of a batch written as time goes, counted by its rounds, or None when it has few.

    Cut the rows where the account code does not increase: a piece as long as the number of accounts holds
    each account once (strictly increasing codes below that number). In a file written minute by minute for
    every account, all pieces but the batch's first and last are such rounds, and counting them costs one
    comparison per row (a count per row costs a conversion of the codes to 64 bits, then the count)."""
    cuts = (np.flatnonzero(code[1:] <= code[:-1]) if stalls is None else stalls) + 1
    starts = np.concatenate(([0], cuts))
    lengths = np.diff(np.append(starts, len(code)))
    whole = lengths == accounts
    rounds = int(np.count_nonzero(whole))
    if rounds * accounts * 2 < len(code) or len(whole) - rounds > 64:
        return None
    counts = np.full(accounts, rounds, np.int64)
    for start, length in zip(starts[~whole].tolist(), lengths[~whole].tolist()):
        counts[code[start:start + length]] += 1  # codes within a piece are distinct
    return counts


def _first_last(code: np.ndarray, minute: np.ndarray, present: np.ndarray, order: str | None, starts=None):
    """(accounts present, each one's first minute, last minute) among rows in the batch's order.

    Ordered batches need no per-row reduction: an account's rows are one run ("account", beginning at
    ``starts``), or its first and last rows lie in the first and last minutes it appears in ("minute")."""
    if order == "account":
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


def _rows_inside(minute: np.ndarray, windows: list, order: str | None, starts) -> np.ndarray:
    """The positions, increasing, of the rows whose minute lies inside one of ``windows`` (sorted, disjoint
    [start, end) minutes: the provider incidents).

    Rows in minute order, or in account order (each account's minutes increase along its run, which begins
    at ``starts``), are found by looking each window's ends up in the minutes: a few binary searches per run,
    not one per row (an incident over the whole month of a file written account by account cost a search per
    row of every batch). Rows in no order, or runs too short for that to pay, are each looked up."""
    if order == "minute":
        return np.concatenate([np.arange(*np.searchsorted(minute, window)) for window in windows])
    if order == "account" and len(starts) * len(windows) * 256 <= len(minute):
        ends = np.append(starts[1:], len(minute))
        return np.concatenate([np.arange(*(a + np.searchsorted(minute[a:b], window)))
                               for a, b in zip(starts.tolist(), ends.tolist()) for window in windows])
    first, last = (np.array(side, np.int64) for side in zip(*windows))
    at = np.searchsorted(first, minute, side="right") - 1
    return np.flatnonzero((at >= 0) & (minute < last[np.maximum(at, 0)]))


def _keep_candidates(c, rows, key, request: Request, summary: PartSummary, ordered: tuple) -> None:
    """The rows unavailable under at least one reading (and every row inside a provider incident of every
    account or of its own), with their cell (account code × months + month index); :func:`merge` groups them
    per account and month.
    ``ordered``: the minutes of ``rows``, their order and runs (see _reduce), and the batch's first and last minute.

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
            hit |= below_threshold(reading.c1, reading.c2, r - removed, f - removed)
        keep = failing[hit]
    minute, order, starts, (low, high) = ordered
    windows = [(start, end) for start, end in request.within if start <= high and end > low]
    none = np.zeros(0, np.int64)
    own = rows_inside_own(c.accounts, c.account_index[rows], minute, dict(request.own_within), order, starts,
                          (low, high)) if request.own_within else none
    if (windows or len(own)) and request.incident_windows:  # one month: counted, not kept
        inside = _rows_inside(minute, windows, order, starts) if windows else none
        if len(own):  # a row inside an incident of every account and one of its own is counted once
            inside = distinct_sorted(np.concatenate((inside, own)))
        found = traffic_inside(c.accounts, c.account_index[rows], minute, c.requests[rows], c.illegal[rows],
                               inside, request.incident_windows, (low, high))
        if found is not None:
            summary.incident_traffic.append(found)
    elif windows or len(own):
        inside = _rows_inside(minute, windows, order, starts) if windows else none
        keep = distinct_sorted(np.concatenate((keep, inside, own)))
    if not len(keep):
        return
    chosen = keep if whole else rows[keep]
    summary.has_peak = summary.has_peak or c.has_peak_qps
    summary.candidates.append((c.accounts, np.asarray(key[keep], np.int64), c.minute[chosen], c.requests[chosen],
                               c.failures[chosen], c.illegal[chosen], c.peak_qps[chosen]))


# ---------------------------------------------------------------------------- merge


# ---------------------------------------------------------------------------- the whole path


# ---------------------------------------------------------------------------- what was read, as a digest


