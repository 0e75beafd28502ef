"""The replay scan done by DuckDB, for clean Parquet files: one aggregate query and one filter query.

DuckDB does the per-minute work on every core — checks, Service Month buckets, counts,
duplicate detection, the candidate rows — and hands Python only the small result, the
same :class:`~slapolicy.scan.ScanResult` the pyarrow scan builds. It answers None (and
the pyarrow scan runs, naming every bad row) when DuckDB is not installed, the file is not
Parquet with zone-aware timestamps and integer counts, or any row is wrong.
"""
from __future__ import annotations

import numpy as np

from .evaluate import unavailable_coefficients

INTEGER_TYPES = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER"}
NUMBER_TYPES = INTEGER_TYPES | {"FLOAT", "DOUBLE"}


def _columns(connection, path: str) -> dict | None:
    described = connection.execute("DESCRIBE SELECT * FROM read_parquet(?)", [path]).fetchall()
    types = {name: kind for name, kind, *_ in described}
    if types.get("account") != "VARCHAR" or types.get("minute") != "TIMESTAMP WITH TIME ZONE":
        return None
    if types.get("requests") not in INTEGER_TYPES or types.get("failures") not in INTEGER_TYPES:
        return None
    if "illegal_number_failures" in types and types["illegal_number_failures"] not in INTEGER_TYPES:
        return None
    if "peak_qps" in types and types["peak_qps"] not in NUMBER_TYPES:
        return None
    return types


def _unavailable_sql(policy, removes_illegal: bool) -> str:
    """The integer test of unavailable_mask in SQL: c1·(r − f) < c2·r and r > 0, on normal requests."""
    c1, c2 = unavailable_coefficients(policy)
    r, f = ("(r - i)", "(f - i)") if removes_illegal else ("r", "f")
    return f"({r} > 0 AND {c1} * ({r} - {f}) < {c2} * {r})"


def scan_with_duckdb(path: str, timezone: str, months: list, policies: list):
    try:
        import duckdb
    except ImportError:
        return None
    if not path.lower().endswith((".parquet", ".pq")):
        return None
    from .scan import ScanResult, _assemble, minute_readings, trimmed_names

    connection = duckdb.connect()
    try:
        types = _columns(connection, path)
        if types is None:
            return None
        bounds = [m.epoch_minutes(timezone)[0] for m in months] + [months[-1].epoch_minutes(timezone)[1]]
        first, last = bounds[0], bounds[-1]
        illegal = "coalesce(illegal_number_failures, 0)" if "illegal_number_failures" in types else "0"
        peak = "peak_qps::DOUBLE" if "peak_qps" in types else "NULL::DOUBLE"
        month_case = "CASE " + " ".join(f"WHEN m < {b} THEN {k}" for k, b in enumerate(bounds[1:])) + " END"
        rows = f"""
            SELECT account AS a, epoch(minute)::BIGINT AS s, epoch(minute)::BIGINT // 60 AS m,
                   requests::BIGINT AS r, failures::BIGINT AS f, {illegal}::BIGINT AS i, {peak} AS q
            FROM read_parquet(?)"""
        inside = f"m >= {first} AND m < {last}"
        # Checks as aggregates of plain columns (vectorised), not a filter evaluated per row.
        aggregate = connection.execute(f"""
            WITH t AS ({rows})
            SELECT a, CASE WHEN {inside} THEN {month_case} END AS k, count(*),
                   count(*) FILTER (r > 0), count(*) FILTER (r - i > 0), coalesce(sum(i), 0), count(*) FILTER (i > 0),
                   count(*) - least(count(a), count(s), count(r), count(f)) > 0
                     OR least(min(r), min(f), min(i)) < 0 OR greatest(max(f - r), max(i - f)) > 0
                     OR max(abs(s % 60)) > 0 OR min(q) < 0 OR bool_or(isnan(q) OR isinf(q)),
                   bit_count(bitstring_agg(CASE WHEN {inside} THEN m - {first} END, 0, {last - first - 1}))
            FROM t GROUP BY ALL""", [path]).fetchall()
        if any(bad for *_, bad, _ in aggregate):
            return None  # the pyarrow scan will name every bad row
        readings = minute_readings(policies)
        wanted = "TRUE" if readings is None else " OR ".join(
            _unavailable_sql(policy, removes) for (_, removes), policy in readings.items())
        candidates = connection.execute(f"""
            WITH t AS ({rows})
            SELECT a, {month_case} AS k, m, r, f, i, q FROM t WHERE {inside} AND ({wanted})""", [path]).fetchnumpy()
    except duckdb.Error:
        return None  # an overflow, an unreadable file: the pyarrow scan says what is wrong
    finally:
        connection.close()
    trimmed = trimmed_names({row[0] for row in aggregate})
    if trimmed is None:
        return None
    result = ScanResult(months, scanner="duckdb")
    totals = {}
    for account, index, n, traffic_all, traffic_normal, illegal_sum, illegal_minutes, _, distinct in aggregate:
        result.rows_read += n
        if index is None:
            continue
        if distinct != n:
            return None  # a minute listed twice: the pyarrow scan names the rows
        totals[(trimmed[account], int(index))] = np.array([n, traffic_all, traffic_normal, int(illegal_sum),
                                                           illegal_minutes])
    peak = candidates["q"]
    peak = peak.filled(np.nan) if isinstance(peak, np.ma.MaskedArray) else np.asarray(peak, np.float64)
    names = np.asarray(candidates["a"], dtype=object)
    if len(names):
        distinct, inverse = np.unique(names.astype(str), return_inverse=True)
        names = np.array([trimmed[name] for name in distinct], dtype=str)[inverse.reshape(-1)]
    piece = (names.astype(str), *(
        np.asarray(candidates[key], np.int64) for key in ("k", "m", "r", "f", "i")), peak.astype(np.float64),
        "peak_qps" in types)
    _assemble(result, totals, [piece] if len(piece[0]) else [], months)
    return result
