"""Benchmark: evaluate 200 accounts × one 31-day Service Month, against DuckDB's bare availability.

    python benchmarks/evaluate.py [--accounts 200] [--keep]

Generates the minutes (fixed seed) as Parquet, then in the same run times

* slapolicy's full evaluation (read, classify, exclusions through the rules, tiers,
  compensation, trace) of every account, and
* DuckDB computing only availability per account (count of minutes with
  100 × failures > requests) over the same file,

and prints minute-rows per second of each and their ratio: the figure to quote. Then the evaluation
alone: the account-months evaluated (classify, exclusions, compensation, trace) once their minutes are
read and merged, in CPU time per account-month and as a fraction of DuckDB's whole query.
"""
from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
SEED = 20190301


def generate(path: Path, accounts: int) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(SEED)
    start = int(dt.datetime(2019, 3, 1, tzinfo=dt.timezone(dt.timedelta(hours=8))).timestamp()) // 60
    minutes_per_account = 31 * 1440
    minute = np.tile(np.arange(start, start + minutes_per_account, dtype=np.int64), accounts)
    account = np.repeat(np.array([f"acct-{i:04d}" for i in range(accounts)]), minutes_per_account)
    requests = rng.integers(0, 80, size=len(minute))
    failures = np.zeros(len(minute), np.int64)
    # Each account: one provider outage and a few bad minutes at random.
    for a in range(accounts):
        base = a * minutes_per_account
        outage = rng.integers(0, minutes_per_account - 400)
        length = rng.integers(10, 400)
        failures[base + outage: base + outage + length] = requests[base + outage: base + outage + length] // 5
        scattered = rng.integers(0, minutes_per_account, size=20)
        failures[base + scattered] = np.maximum(requests[base + scattered] // 50, 1)
    failures = np.minimum(failures, requests)
    illegal = np.where(rng.random(len(minute)) < 0.001, np.minimum(failures, 1), 0)
    table = pa.table({
        "account": pa.array(account).dictionary_encode(),
        "minute": pa.array(minute * 60, pa.timestamp("s", tz="UTC")),
        "requests": requests, "failures": failures, "illegal_number_failures": illegal,
    })
    pq.write_table(table, path)
    return len(minute)


def incidents_file(path: Path, accounts: int) -> Path:
    import yaml

    entries = [{"id": f"I-{i}", "start": f"2019-03-{(i % 28) + 1:02d}T10:00", "end": f"2019-03-{(i % 28) + 1:02d}T11:00",
                "cause": "customer_network", "account": f"acct-{i:04d}"} for i in range(0, accounts, 3)]
    entries.append({"id": "N-all", "start": "2019-03-15T02:00", "end": "2019-03-15T03:00", "cause": "force_majeure"})
    path.write_text(yaml.safe_dump(entries))
    return path


def run_slapolicy(minutes: Path, incidents: Path) -> float:
    from slapolicy.api import evaluate

    began = time.perf_counter()
    result = evaluate(REPO / "policies" / "ccc", minutes=minutes, month="2019-03", incidents=incidents)
    elapsed = time.perf_counter() - began
    assert result["evaluations"], "no evaluation"
    return elapsed


def run_evaluation_alone(minutes: Path, incidents: Path) -> tuple[float, int]:
    """CPU seconds of ``evaluate_month`` alone on the minutes already read and merged, and the account-months.

    One run, as a process does it: the caches an evaluation fills (the month's frame, each availability's
    credit and text, the rules' answers) start empty, as they do in ``slapolicy evaluate``."""
    from slapolicy.calendar import calendar_month
    from slapolicy.evaluation import evaluate_month
    from slapolicy.inputs import read_incidents
    from slapolicy.minutes import read_minutes
    from slapolicy.policy import PolicyDirectory

    month = calendar_month("2019-03")
    policy = PolicyDirectory(REPO / "policies" / "ccc", run_examples=False).in_force(month.start)
    windows = read_incidents(incidents, policy)
    loaded = read_minutes(str(minutes), [month], [policy], incidents=windows)
    began = time.process_time()
    results = evaluate_month(policy, month, loaded, incidents=windows)
    return time.process_time() - began, len(results)


def run_duckdb(minutes: Path) -> float:
    import duckdb

    began = time.perf_counter()
    rows = duckdb.sql(f"""
        SELECT account, 1 - count(*) FILTER (WHERE 100 * failures > requests) / 44640.0 AS availability
        FROM read_parquet('{minutes}') GROUP BY account""").fetchall()
    elapsed = time.perf_counter() - began
    assert rows
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--keep", action="store_true", help="keep the generated files (printed path)")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="slapolicy-bench-"))
    minutes = workdir / "minutes.parquet"
    began = time.perf_counter()
    rows = generate(minutes, args.accounts)
    incidents = incidents_file(workdir / "incidents.yaml", args.accounts)
    print(f"generated {rows:,} minute rows ({args.accounts} accounts × 44,640) in {time.perf_counter() - began:.1f} s")
    run_duckdb(minutes)  # warm the file cache and DuckDB's import for both
    duck = min(run_duckdb(minutes) for _ in range(3))
    ours = min(run_slapolicy(minutes, incidents) for _ in range(2))
    print(f"DuckDB, bare availability per account: {duck:7.3f} s  {rows / duck:14,.0f} minute-rows/s")
    print(f"slapolicy, full evaluation:            {ours:7.3f} s  {rows / ours:14,.0f} minute-rows/s")
    print(f"ratio slapolicy / DuckDB time: {ours / duck:.1f}×")
    alone, months = run_evaluation_alone(minutes, incidents)
    print(f"of which evaluating the {months} account-months once read (CPU): {alone:.3f} s, "
          f"{alone / months * 1e3:.3f} ms per account-month, {alone / duck:.2f}× DuckDB's whole query")
    if not args.keep:
        for file in workdir.iterdir():
            file.unlink()
        workdir.rmdir()
    else:
        print(f"files kept in {workdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
