"""The replay scan for clean Parquet files written account by account: row groups on every core.

Minute exports are almost always written grouped by account and in minute order. Then a row
group holds one account's (or a few accounts') minutes in order, and the scan needs neither
hashing nor sorting: each row group is decoded by pyarrow in a thread of its own (the decoding
and numpy both run without the GIL), checked with a few numpy passes, and cut into Service
Months by binary search. The result is the same :class:`~slapolicy.scan.ScanResult` the other
scans build.

Whatever this scan cannot prove clean — a bad value, a null, a minute that may be listed
twice, an account whose rows are scattered, a type it does not know — makes it answer None;
the DuckDB scan or the pyarrow scan then takes over, and the pyarrow scan names every bad row.
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
import numpy as np

from .evaluate import unavailable_coefficients

MAX_GROUP_ROWS = 1 << 22  # a bigger row group would be held whole in memory: the streaming scans take it
# More account runs per row group than this means accounts scattered through the file: hashing (DuckDB) is better.
MAX_RUNS = 64
MAX_RUNS_PER_ROWS = 1 / 256
UNITS_PER_MINUTE = {"s": 60, "ms": 60_000, "us": 60_000_000, "ns": 60_000_000_000}


class Unsuitable(Exception):
    """This file is not one the row-group scan can prove clean; another scan takes it."""


@dataclass(frozen=True)
class Reading:
    """One way of reading a minute as unavailable (§1.5), as integer coefficients: c1·(r − f) < c2·r."""

    c1: int
    c2: int
    removes_illegal: bool  # §5.10 failures removed from requests and failures first


@dataclass
class Layout:
    """What every row group's task needs to know about the file and the replay."""

    path: str
    bounds: np.ndarray  # Service Month boundaries in the minute column's own unit
    units_per_minute: int
    readings: list
    has_illegal: bool
    has_peak: bool
    single_account: list  # per row group: the account name its statistics prove, or None


@dataclass
class GroupSummary:
    """One row group reduced: counts per (raw account name, month index), candidate rows, minute ranges."""

    count: int
    totals: dict = field(default_factory=dict)
    ranges: dict = field(default_factory=dict)  # (raw name, month index) -> [(first, last)] minute values
    rows: dict = field(default_factory=dict)  # (raw name, month index) -> candidate rows (minute, r, f, i, peak)


def _layout(source, path: str, months: list, timezone: str, policies: list) -> Layout | None:
    import pyarrow as pa

    from .scan import minute_readings

    schema = source.schema_arrow
    types = {name: schema.field(name).type for name in schema.names}
    account, minute = types.get("account"), types.get("minute")
    if account is None or minute is None or "requests" not in types or "failures" not in types:
        return None
    if pa.types.is_dictionary(account):
        account = account.value_type
    if not (pa.types.is_string(account) or pa.types.is_large_string(account)):
        return None
    if not pa.types.is_timestamp(minute) or minute.tz is None or minute.unit not in UNITS_PER_MINUTE:
        return None  # naive timestamps are local times: the pyarrow scan places them

    def whole(kind):
        return kind is not None and pa.types.is_integer(kind) and kind != pa.uint64()

    if not (whole(types["requests"]) and whole(types["failures"])):
        return None
    if "illegal_number_failures" in types and not whole(types["illegal_number_failures"]):
        return None
    if "peak_qps" in types and not (pa.types.is_integer(types["peak_qps"]) or pa.types.is_floating(types["peak_qps"])):
        return None
    readings = minute_readings(policies)
    if readings is None:
        return None  # quiet minutes count as unavailable: every row is a candidate, nothing to gain
    coefficients = [Reading(*unavailable_coefficients(policy), removes) for (_, removes), policy in readings.items()]
    if any(reading.c2 > reading.c1 for reading in coefficients):
        return None  # above 100 % (the schema forbids it) a minute without failures could be unavailable
    per_minute = UNITS_PER_MINUTE[minute.unit]
    edges = [m.epoch_minutes(timezone)[0] for m in months] + [months[-1].epoch_minutes(timezone)[1]]
    groups = [source.metadata.row_group(g) for g in range(source.metadata.num_row_groups)]
    if any(group.num_rows > MAX_GROUP_ROWS for group in groups):
        return None
    account_column = schema.get_field_index("account")
    return Layout(path, np.array(edges, np.int64) * per_minute, per_minute, coefficients,
                  "illegal_number_failures" in types, "peak_qps" in types,
                  [_proven_account(group, account_column) for group in groups])


def _proven_account(row_group, column: int) -> str | None:
    """The one account of a row group whose statistics say min = max and no nulls (no need to decode it)."""
    statistics = row_group.column(column).statistics
    if statistics is None or not (statistics.has_min_max and statistics.has_null_count):
        return None
    if statistics.null_count or statistics.min != statistics.max or not isinstance(statistics.min, str):
        return None
    return statistics.min


def scan_row_groups(path: str, timezone: str, months: list, policies: list, progress=None):
    """ScanResult of a clean Parquet file, or None when another scan must take it (see the module's doc)."""
    if not path.lower().endswith((".parquet", ".pq")):
        return None
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        source = pq.ParquetFile(path)
        layout = _layout(source, path, months, timezone, policies)
    except (pa.ArrowException, OSError):
        return None
    if layout is None:
        return None
    opened, local = [], threading.local()

    def task(index):
        reader = getattr(local, "reader", None)
        if reader is None:
            # Memory-mapped, and each row group read as it is needed: measured ~5 % faster than buffered.
            reader = local.reader = pq.ParquetFile(path, read_dictionary=["account"], memory_map=True, pre_buffer=False)
            opened.append(reader)
        return _row_group(reader, index, layout)

    summaries = []
    workers = max(1, min(os.cpu_count() or 1, source.metadata.num_row_groups))
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="slapolicy-scan")
    try:
        rows_read = 0
        for summary in pool.map(task, range(source.metadata.num_row_groups)):
            summaries.append(summary)
            rows_read += summary.count
            if progress:
                progress(rows_read)
    except (Unsuitable, pa.ArrowException, OSError):
        return None
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        for reader in opened + [source]:
            reader.close()
    return _merge(summaries, months, layout)


def _column(table, name: str, dtype=np.int64) -> np.ndarray:
    import pyarrow as pa

    column = table.column(name)
    if column.null_count:
        raise Unsuitable(f"{name} has nulls")
    # One chunk (the usual case) is viewed where it lies; ChunkedArray.to_numpy would copy it.
    array = column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
    if pa.types.is_timestamp(array.type):
        array = array.view(pa.int64())
    return np.asarray(array.to_numpy(zero_copy_only=False), dtype)


def _row_group(reader, index: int, layout: Layout) -> GroupSummary:
    """Decode, check and reduce one row group (runs in a worker thread)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    proven = layout.single_account[index]
    names = ["minute", "requests", "failures"] + (["illegal_number_failures"] * layout.has_illegal) + (
        ["peak_qps"] * layout.has_peak) + ([] if proven is not None else ["account"])
    table = reader.read_row_group(index, columns=names, use_threads=False)
    count = table.num_rows
    summary = GroupSummary(count)
    if count == 0:
        return summary
    minute = _column(table, "minute")
    requests, failures = _column(table, "requests"), _column(table, "failures")
    if requests.min() < 0 or failures.min() < 0 or (failures > requests).any():
        raise Unsuitable("a count is negative or failures exceed requests")
    # §5.10 failures are rare: kept as (rows, values), so the counts below look at those rows only.
    illegal, sparse = None, _NO_ILLEGAL
    if layout.has_illegal:
        illegal = _column(table, "illegal_number_failures")
        rows = np.flatnonzero(illegal > 0)
        if illegal.min() < 0 or (illegal[rows] > failures[rows]).any():
            raise Unsuitable("illegal-number failures negative or above failures")
        sparse = (rows, illegal[rows], requests[rows]) if len(rows) else _NO_ILLEGAL
        illegal = illegal if len(rows) else None
    peak = None
    if layout.has_peak:
        peak = pc.cast(table.column("peak_qps"), pa.float64()).to_numpy()
        if (np.isinf(peak) | (peak < 0)).any():
            raise Unsuitable("peak_qps is infinite or negative")
    runs = _account_runs(table, proven, count)
    _check_minutes(minute, runs, layout.units_per_minute)
    candidates = _candidate_rows(requests, failures, illegal, layout)
    columns = (minute, requests, failures, illegal, peak)
    for name, start, end in runs:
        _reduce_run(summary, name, minute[start:end], requests[start:end], start, sparse, layout)
        _keep_rows(summary, name, minute[start:end], start, candidates, columns, layout)
    return summary


_NO_ILLEGAL = (np.zeros(0, np.int64),) * 3


def _account_runs(table, proven: str | None, count: int) -> list:
    """[(raw account name, first row, end row)] of the row group's runs of one account."""
    if proven is not None:
        return [(proven, 0, count)]
    column = table.column("account")
    if column.null_count:
        raise Unsuitable("account has nulls")
    encoded = column.unify_dictionaries().combine_chunks() if column.num_chunks > 1 else column.chunk(0)
    codes = encoded.indices.to_numpy()
    change = np.flatnonzero(codes[1:] != codes[:-1]) + 1
    if len(change) + 1 > max(MAX_RUNS, count * MAX_RUNS_PER_ROWS):
        raise Unsuitable("accounts are scattered")
    dictionary = encoded.dictionary.to_pylist()
    starts = [0, *change.tolist()]
    ends = [*change.tolist(), count]
    return [(dictionary[codes[s]], s, e) for s, e in zip(starts, ends)]


def _check_minutes(minute: np.ndarray, runs: list, units_per_minute: int) -> None:
    """Each run strictly increasing (so no minute listed twice) and every value on a whole minute.

    Consecutive minutes step by exactly one minute; only the other steps (gaps, and the step from
    one account's run to the next) are looked at one by one.
    """
    step = np.subtract(minute[1:], minute[:-1], out=_scratch(len(minute) - 1))
    irregular = np.flatnonzero(step != units_per_minute)
    between_runs = np.array([start - 1 for _, start, _ in runs[1:]], np.int64)
    inside = irregular[~np.isin(irregular, between_runs)] if len(between_runs) else irregular
    if (step[inside] <= 0).any():
        raise Unsuitable("minutes out of order or repeated")
    firsts = minute[[start for _, start, _ in runs]]
    if (firsts % units_per_minute).any() or (step[inside] % units_per_minute).any():
        raise Unsuitable("a minute with seconds")


_thread_scratch = threading.local()


def _scratch(size: int) -> np.ndarray:
    """A per-thread work array, reused: a fresh one per row group costs more in page faults than the work."""
    buffer = getattr(_thread_scratch, "buffer", None)
    if buffer is None or len(buffer) < size:
        buffer = _thread_scratch.buffer = np.empty(max(size, 1), np.int64)
    return buffer[:size]


def _reduce_run(summary: GroupSummary, name: str, minute, requests, offset: int, sparse, layout: Layout) -> None:
    """Counts of MonthTotals per Service Month of one account's run of increasing minutes.

    ``sparse``: the row group's rows with illegal-number failures (sorted), their counts and requests.
    A minute has normal requests unless its illegal-number failures are all of its requests.
    """
    rows, illegal, illegal_requests = sparse
    cuts = np.searchsorted(minute, layout.bounds)
    among = np.searchsorted(rows, cuts + offset)
    for index in range(len(cuts) - 1):
        start, end = int(cuts[index]), int(cuts[index + 1])
        if end <= start:
            continue
        traffic = np.count_nonzero(requests[start:end])
        lo, hi = int(among[index]), int(among[index + 1])
        i = illegal[lo:hi]
        counts = (end - start, traffic, traffic - np.count_nonzero(illegal_requests[lo:hi] <= i), int(i.sum()), hi - lo)
        key = (name, index)
        summary.totals[key] = summary.totals.get(key, 0) + np.array(counts, np.int64)
        summary.ranges.setdefault(key, []).append((int(minute[start]), int(minute[end - 1])))


def _candidate_rows(requests, failures, illegal, layout: Layout) -> np.ndarray:
    """The rows unavailable under at least one reading (sorted).

    With c1 > c2 > 0, c1·(r − f) < c2·r is (c1 − c2)·r < c1·f: only rows with failures can be
    unavailable, and they are few, so the test runs on those rows alone.
    """
    rows = np.flatnonzero(failures > 0)
    r, f = requests[rows], failures[rows]
    i = np.zeros(len(rows), np.int64) if illegal is None else illegal[rows]
    if len(rows) and int(r.max()) * max(reading.c1 for reading in layout.readings) >= 2 ** 62:
        raise Unsuitable("counts too large for 64-bit arithmetic")
    keep = np.zeros(len(rows), bool)
    for reading in layout.readings:
        removed = i if reading.removes_illegal else 0
        keep |= (reading.c1 - reading.c2) * (r - removed) < reading.c1 * (f - removed)
    return rows[keep]


def _keep_rows(summary: GroupSummary, name: str, minute, offset: int, candidates, columns, layout: Layout) -> None:
    """The candidate rows of one account's run, per Service Month, in minute order (the run is increasing)."""
    cuts = np.searchsorted(minute, layout.bounds) + offset
    among = np.searchsorted(candidates, cuts)
    for index in range(len(cuts) - 1):
        lo, hi = int(among[index]), int(among[index + 1])
        if hi > lo:
            rows = candidates[lo:hi]
            minutes, requests, failures, illegal, peak = columns
            summary.rows.setdefault((name, index), []).append((
                minutes[rows] // layout.units_per_minute, requests[rows], failures[rows],
                np.zeros(len(rows), np.int64) if illegal is None else illegal[rows],
                np.full(len(rows), np.nan) if peak is None else peak[rows]))


def _merge(summaries: list, months: list, layout: Layout):
    """The ScanResult of all row groups, or None if a minute may be listed twice or names clash when trimmed."""
    from .evaluate import MonthMinutes, MonthTotals
    from .scan import AccountMonth, ScanResult, trimmed_names

    totals, ranges, kept = {}, {}, {}
    for summary in summaries:
        for key, counts in summary.totals.items():
            totals[key] = totals.get(key, 0) + counts
        for key, spans in summary.ranges.items():
            ranges.setdefault(key, []).extend(spans)
        for key, parts in summary.rows.items():
            kept.setdefault(key, []).extend(parts)
    for spans in ranges.values():  # runs of one account-month from several row groups must not overlap
        spans.sort()
        if any(later[0] <= earlier[1] for earlier, later in zip(spans, spans[1:])):
            return None
    trimmed = trimmed_names({name for name, _ in totals})
    if trimmed is None:
        return None
    result = ScanResult(months, scanner="parquet row groups")
    result.rows_read = sum(summary.count for summary in summaries)
    has_peak = layout.has_peak and bool(kept)  # as the other scans: peak_qps is known when some row was kept
    for (name, index), counts in totals.items():
        parts = sorted(kept.get((name, index), []), key=lambda part: int(part[0][0]))
        if not parts:
            rows = MonthMinutes.empty()
        else:
            columns = parts[0] if len(parts) == 1 else [np.concatenate(c) for c in zip(*parts)]
            rows = MonthMinutes(*columns, has_peak)
        label = months[index].label
        result.cells[(trimmed[name], label)] = AccountMonth(trimmed[name], label, MonthTotals(*(int(x) for x in counts)), rows)
    return result
