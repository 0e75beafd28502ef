"""One streaming pass over a minutes file for many accounts and Service Months.

The file is read in record batches (pyarrow), never whole. Each batch is checked like
any minutes file (problems name the file's own rows and lines), then reduced to what an
evaluation needs: per account and Service Month, the counts of
:class:`~slapolicy.evaluate.MonthTotals`, and the few rows that may be unavailable under
any of the policies being compared. A month of 44,640 rows becomes a handful.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .data import (account_name, MINUTE_COLUMNS, OPTIONAL_MINUTE_COLUMNS, MAX_REPORTED, InputError, Problems, _format,
                   check_input_size, check_minute_table, column_names)
from .evaluate import MonthMinutes, MonthTotals, _removes_illegal, unavailable_mask

BATCH_ROWS = 1 << 20
SCANS = ("auto", "duckdb", "arrow")  # values of SLAPOLICY_SCAN


@dataclass
class AccountMonth:
    """What the evaluation of one account's Service Month needs: its counts and its candidate rows."""

    account: str
    month: str
    totals: MonthTotals
    rows: MonthMinutes


@dataclass
class ScanResult:
    months: list  # ServiceMonth, in order
    cells: dict = field(default_factory=dict)  # (account, month label) -> AccountMonth
    rows_read: int = 0
    naive_timestamps: int = 0
    scanner: str = "pyarrow"  # or "duckdb", "parquet row groups"


def _batches(path, problems: Problems):
    """(pyarrow Table of one batch, line offset) in file order."""
    import pyarrow as pa
    from pathlib import Path

    kind = _format(Path(path))
    try:
        if kind == "parquet":
            import pyarrow.parquet as pq

            source = pq.ParquetFile(path)
            names = [n for n in MINUTE_COLUMNS + OPTIONAL_MINUTE_COLUMNS if n in column_names(source.schema_arrow, path)]
            missing = [n for n in MINUTE_COLUMNS if n not in names]
            if missing:
                raise InputError(f"{path}: missing column(s) {', '.join(missing)}")
            for batch in source.iter_batches(batch_size=BATCH_ROWS, columns=names):
                yield pa.Table.from_batches([batch]), None
        elif kind == "csv":
            import pyarrow.csv as pacsv

            wanted = {name: pa.string() for name in MINUTE_COLUMNS + OPTIONAL_MINUTE_COLUMNS}
            reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=64 << 20),
                                    convert_options=pacsv.ConvertOptions(column_types=wanted, strings_can_be_null=True,
                                                                         quoted_strings_can_be_null=False))
            names = column_names(reader.schema, path)
            missing = [n for n in MINUTE_COLUMNS if n not in names]
            if missing:
                raise InputError(f"{path}: missing column(s) {', '.join(missing)} (found: {', '.join(names)})")
            keep = [n for n in MINUTE_COLUMNS + OPTIONAL_MINUTE_COLUMNS if n in names]
            for batch in reader:
                yield pa.Table.from_batches([batch]).select(keep), 1
        else:  # JSON Lines has no streaming reader in pyarrow: read whole
            from .data import read_table

            yield read_table(path, MINUTE_COLUMNS, OPTIONAL_MINUTE_COLUMNS)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"{path}: cannot be read as {kind.upper()}: {str(exc).splitlines()[0]}") from None


def trimmed_names(raw_names) -> dict | None:
    """raw account name → the name every reader uses (trimmed); None when a name is missing or blank, or two
    names trim alike: the fast scans then step aside, and the pyarrow scan refuses or merges them row by row."""
    if None in raw_names:
        return None
    trimmed = {name: account_name(name) or "" for name in raw_names}
    if "" in trimmed.values() or len(set(trimmed.values())) < len(trimmed):
        return None
    return trimmed


def minute_readings(policies) -> dict | None:
    """The distinct ways the versions read a minute: (threshold, removes §5.10 failures) → a policy;
    None when one of them counts quiet minutes as unavailable (then every row is a candidate)."""
    if any(p.setting("availability", "no_traffic") == "unavailable" for p in policies):
        return None
    return {(p.unavailable_below, _removes_illegal(p)): p for p in policies}


def candidate_mask(policies, requests, failures, illegal) -> np.ndarray:
    """Rows that are unavailable under at least one of the policies (all rows if one counts quiet minutes)."""
    readings = minute_readings(policies)
    if readings is None:
        return np.ones(len(requests), bool)
    keep = np.zeros(len(requests), bool)
    for (_, removes), policy in readings.items():  # versions that read minutes alike share one pass
        removed = illegal if removes else 0
        keep |= unavailable_mask(policy, requests - removed, failures - removed)
    return keep


def scan_minutes(path, timezone: str, months: list, policies: list, progress=None) -> ScanResult:
    """Stream ``path`` once; keep, per account and Service Month in ``months``, totals and candidate rows.

    Three scans give the same result; the fastest that can take the file does. A clean Parquet file
    written account by account goes row group by row group on every core (:mod:`.scan_parquet`);
    other clean Parquet files with zone-aware timestamps go to DuckDB when it is installed
    (:mod:`.scan_duckdb`); anything either finds wrong, and every other file, goes through the
    pyarrow reader, whose messages name each bad row. ``SLAPOLICY_SCAN=duckdb`` skips the first,
    ``SLAPOLICY_SCAN=arrow`` the first two (to compare them, or to get the messages at once).
    """
    import os
    from pathlib import Path

    if not isinstance(path, (str, Path)):
        raise InputError("replay streams its minutes from a file (CSV, JSON Lines or Parquet), not from data in memory")
    path = str(path)
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such file")
    check_input_size(path)
    choice = os.environ.get("SLAPOLICY_SCAN", "auto")
    if choice not in SCANS:
        raise InputError(f"SLAPOLICY_SCAN={choice!r} is not one of {', '.join(SCANS)}")
    if choice == "auto":
        from .scan_parquet import scan_row_groups

        fast = scan_row_groups(path, timezone, months, policies, progress)
        if fast is not None:
            return fast
    if choice in ("auto", "duckdb"):
        from .scan_duckdb import scan_with_duckdb

        fast = scan_with_duckdb(path, timezone, months, policies)
        if fast is not None:
            return fast
    bounds = np.array([m.epoch_minutes(timezone)[0] for m in months] + [months[-1].epoch_minutes(timezone)[1]], np.int64)
    span_start, span_end = int(bounds[0]), int(bounds[-1])
    problems = Problems(path, "minutes")
    result = ScanResult(months)
    seen: dict[str, np.ndarray] = {}  # account -> minutes already listed (duplicates across batches)
    totals: dict[tuple[str, int], np.ndarray] = {}
    pieces: list = []
    for table, line_offset in _batches(path, problems):
        problems.row_base = result.rows_read
        c = check_minute_table(table, timezone, problems, line_offset)
        result.rows_read += table.num_rows
        result.naive_timestamps += c.naive
        if problems.total:
            continue  # keep checking the rest of the file, so every problem is reported
        inside = (c.minute >= span_start) & (c.minute < span_end)
        month_of = np.searchsorted(bounds, c.minute, side="right") - 1
        for code in np.unique(c.account_index[inside]):
            name = str(c.accounts[code])
            rows = np.flatnonzero(inside & (c.account_index == code))
            _check_duplicates(name, rows, c.minute, seen, span_start, span_end, problems, line_offset)
            for index in np.unique(month_of[rows]):
                here = rows[month_of[rows] == index]
                r, i = c.requests[here], c.illegal[here]
                counts = np.array([len(here), (r > 0).sum(), (r - i > 0).sum(), i.sum(), (i > 0).sum()], np.int64)
                key = (name, int(index))
                totals[key] = totals.get(key, 0) + counts
        keep = inside & candidate_mask(policies, c.requests, c.failures, c.illegal)
        if keep.any():
            names = c.accounts[c.account_index[keep]]
            pieces.append((names, month_of[keep], c.minute[keep], c.requests[keep], c.failures[keep], c.illegal[keep],
                           c.peak_qps[keep], c.has_peak_qps))
        if progress:
            progress(result.rows_read)
    problems.row_base = 0
    problems.raise_if_any()
    _assemble(result, totals, pieces, months)
    return result


def _check_duplicates(name, rows, minute, seen, span_start, span_end, problems, line_offset) -> None:
    listed = seen.get(name)
    if listed is None:
        listed = seen[name] = np.zeros(span_end - span_start, bool)
    offsets = minute[rows] - span_start
    order = np.argsort(offsets, kind="stable")
    repeated_here = np.flatnonzero(np.diff(offsets[order]) == 0)
    for position in repeated_here[:MAX_REPORTED]:
        first, second = sorted((int(rows[order[position]]) + 1, int(rows[order[position + 1]]) + 1))
        problems.add(second, "minute", f"minute listed twice for account {name!r} (also row {first + problems.row_base})",
                     None if line_offset is None else second + line_offset)
    before = np.flatnonzero(listed[offsets])
    for row in before[:MAX_REPORTED]:
        problems.add(int(rows[row]) + 1, "minute", f"minute listed twice for account {name!r} (also in an earlier row)",
                     None if line_offset is None else int(rows[row]) + 1 + line_offset)
    listed[offsets] = True


def _assemble(result: ScanResult, totals: dict, pieces: list, months: list) -> None:
    has_peak = any(piece[-1] for piece in pieces)
    if pieces:
        names, month_index, minute, requests, failures, illegal, peak = (
            np.concatenate([piece[k] for piece in pieces]) for k in range(7))
    else:
        names = np.zeros(0, str)
        month_index = minute = requests = failures = illegal = np.zeros(0, np.int64)
        peak = np.zeros(0)
    order = np.lexsort((minute, month_index, names)) if len(names) else np.zeros(0, np.int64)
    names, month_index, minute, requests, failures, illegal, peak = (
        column[order] for column in (names, month_index, minute, requests, failures, illegal, peak))
    empty = MonthMinutes.empty()
    groups = {}
    if len(names):
        change = np.flatnonzero((names[1:] != names[:-1]) | (month_index[1:] != month_index[:-1])) + 1
        starts = np.concatenate([[0], change])
        ends = np.concatenate([change, [len(names)]])
        for s, e in zip(starts, ends):
            groups[(str(names[s]), int(month_index[s]))] = slice(int(s), int(e))
    for (name, index), counts in totals.items():
        part = groups.get((name, index))
        rows = empty if part is None else MonthMinutes(minute[part], requests[part], failures[part], illegal[part],
                                                       peak[part], has_peak)
        label = months[index].label
        result.cells[(name, label)] = AccountMonth(name, label, MonthTotals(*(int(x) for x in counts)), rows)
