"""Benchmark: replay 200 accounts × 6 Service Months (about 52 million minute rows) under the shipped draft.

    python benchmarks/replay.py            # the full size (needs ~6 GB of memory to generate)
    python benchmarks/replay.py --small    # 20 accounts × 2 months, a quick run

Generates the minutes (fixed seed) as Parquet, then in the same run times

* slapolicy's full replay: one streaming pass, every account-month evaluated under the
  version in force and under policies/ccc/drafts/2027-01-01-standard-99.95.yaml
  (exclusions, tiers, caps, trace), and
* DuckDB computing only baseline availability per account and month over the same file,

and prints minute-rows per second of each and their ratio.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
SEED = 20190601
SGT = dt.timezone(dt.timedelta(hours=8))


def month_starts(months: int) -> list[int]:
    starts = []
    for m in range(months + 1):
        starts.append(int(dt.datetime(2019 + m // 12, m % 12 + 1, 1, tzinfo=SGT).timestamp()) // 60)
    return starts


def generate(path: Path, accounts: int, months: int) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(SEED)
    bounds = month_starts(months)
    per_account = bounds[-1] - bounds[0]
    writer = None
    rows = 0
    for a in range(accounts):  # one account at a time keeps memory small
        minute = np.arange(bounds[0], bounds[-1], dtype=np.int64)
        requests = rng.integers(0, 80, size=per_account)
        failures = np.zeros(per_account, np.int64)
        for m in range(months):
            base = bounds[m] - bounds[0]
            length = int(rng.integers(10, 600))
            start = base + int(rng.integers(0, bounds[m + 1] - bounds[m] - length))
            failures[start:start + length] = requests[start:start + length] // 5
            scattered = base + rng.integers(0, bounds[m + 1] - bounds[m], size=15)
            failures[scattered] = np.maximum(requests[scattered] // 50, 1)
        failures = np.minimum(failures, requests)
        illegal = np.where(rng.random(per_account) < 0.001, np.minimum(failures, 1), 0)
        table = pa.table({"account": pa.array([f"acct-{a:04d}"] * per_account).dictionary_encode(),
                          "minute": pa.array(minute * 60, pa.timestamp("s", tz="UTC")),
                          "requests": requests, "failures": failures, "illegal_number_failures": illegal})
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema)
        writer.write_table(table, row_group_size=1 << 20)
        rows += per_account
    writer.close()
    return rows


def billing_file(path: Path, accounts: int, months: int) -> Path:
    with open(path, "w") as handle:
        handle.write("account,month,monthly_fee,offset\n")
        for a in range(accounts):
            for m in range(months):
                handle.write(f"acct-{a:04d},2019-{m + 1:02d},{100 + a}.00,{a % 7}.00\n")
    return path


def run_duckdb(path: Path, months: int) -> float:
    import duckdb

    bounds = month_starts(months)
    cases = " ".join(f"WHEN m < {b} THEN {i}" for i, b in enumerate(bounds[1:]))
    began = time.perf_counter()
    rows = duckdb.sql(f"""
        WITH t AS (SELECT account, epoch(minute)::BIGINT // 60 AS m, requests, failures FROM read_parquet('{path}'))
        SELECT account, CASE {cases} END AS month,
               1 - count(*) FILTER (WHERE 100 * failures > requests) / 44640.0 AS availability
        FROM t GROUP BY ALL""").fetchall()
    elapsed = time.perf_counter() - began
    assert rows
    return elapsed


def run_replay(path: Path, billing: Path, months: int, workers: int | None) -> tuple[float, dict]:
    from slapolicy.replay import replay

    began = time.perf_counter()
    result = replay(REPO / "policies" / "ccc", minutes=path, billing=billing, start="2019-01", end=f"2019-{months:02d}",
                    under=REPO / "policies" / "ccc" / "drafts" / "2027-01-01-standard-99.95.yaml", workers=workers)
    return time.perf_counter() - began, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", action="store_true", help="20 accounts × 2 months")
    parser.add_argument("--workers", type=int, help="also pass --workers N to the replay")
    args = parser.parse_args()
    accounts, months = (20, 2) if args.small else (200, 6)
    workdir = Path(tempfile.mkdtemp(prefix="slapolicy-replay-bench-"))
    path, billing = workdir / "minutes.parquet", billing_file(workdir / "billing.csv", accounts, months)
    began = time.perf_counter()
    rows = generate(path, accounts, months)
    print(f"generated {rows:,} minute rows ({accounts} accounts × {months} months) in {time.perf_counter() - began:.1f} s")
    try:
        run_duckdb(path, months)  # warm the file cache
        duck = min(run_duckdb(path, months) for _ in range(3))
        # The first replay also imports pyarrow.compute and jsonschema and loads the policies; both sides are
        # then timed as the best of three runs in this process.
        runs = [run_replay(path, billing, months, args.workers) for _ in range(3)]
        first, ours, result = runs[0][0], min(t for t, _ in runs), runs[-1][1]
        assert all(json.dumps(r["rows"]) == json.dumps(result["rows"]) for _, r in runs)
        overall = result["totals"]["overall"]
        print(f"DuckDB, bare baseline availability per account-month: {duck:7.2f} s  {rows / duck:14,.0f} minute-rows/s")
        print(f"slapolicy replay (2 versions, exclusions, tiers, caps): {ours:7.2f} s  {rows / ours:14,.0f} minute-rows/s"
              f"  (first run {first:.2f} s; {result['parts_read']} parts read)")
        print(f"ratio slapolicy / DuckDB time: {ours / duck:.2f}×")
        print(f"({overall['account_months']} account-months, {overall['changed']} changed, compensation "
              f"{overall['baseline_compensation']} → {overall['amended_compensation']})")
    finally:
        for file in workdir.iterdir():
            file.unlink()
        workdir.rmdir()
    return 0


if __name__ == "__main__":
    sys.exit(main())
