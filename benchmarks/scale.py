"""Benchmark: one Service Month of many accounts, each command as a whole process against DuckDB.

    python benchmarks/scale.py [--accounts 500] [--runs 3] [--only evaluate,replay,claim] [--codec snappy]

One Service Month (March 2019, 31 days, Asia/Singapore) of N accounts × 44,640 minutes
(500 accounts: 22,320,000 rows), written once under benchmarks/data/ (git-ignored) in two
layouts:

* ``by-account``: one row group per account (how an export written account by account looks);
* ``by-time``: sorted by minute then account, row groups of about 1 M rows, every account in
  each (how monitoring exports arrive).

For each layout, each command runs as its own process (`slapolicy evaluate`, `slapolicy replay`
of two versions, `slapolicy claim` for one account) and so does DuckDB's bare query on the same
file in the same run (availability per account; for the claim, that account's availability).
The best of ``--runs`` wall times, the largest peak resident memory and the least CPU time (user +
system, from GNU time) are printed, then ("tree MB") the peak of the resident memory summed over the command's
processes in one more run (`evaluate` and `replay` read with a forked copy of their process: GNU time gives the
larger of the two, not their sum), with the ratios to DuckDB; last, DuckDB's time when it reads and reduces
the same columns as slapolicy (``DUCKDB_SAME_COLUMNS``: the bare query never decodes ``minute``) and that ratio.

``--codec lz4`` (``zstd``, ``none``) runs the same on copies of the two files written with that compression
instead of Snappy, pyarrow's default and the files' (row groups alike; written once beside them): how much of the
time is the decompression of the pages.

The minutes are a deterministic function of (account, minute): a provider outage per account,
scattered bad minutes, a few illegal-number failures; one provider incident for every account
and a customer incident for one account in ten; billing for every account.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "benchmarks" / "data"
SGT = dt.timezone(dt.timedelta(hours=8))
MONTH_START = int(dt.datetime(2019, 3, 1, tzinfo=SGT).timestamp()) // 60
MINUTES = 31 * 1440
POLICIES = REPO / "policies" / "ccc"
DRAFT = POLICIES / "drafts" / "2027-01-01-standard-99.95.yaml"
ROW_GROUP_BY_TIME = 1_000_000


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64: a counter-based hash, so any slice of the month is generated alone and alike."""
    x = (x + np.uint64(0x9E3779B97F4A7C15)).astype(np.uint64)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def rows_of(account: np.ndarray, offset: np.ndarray) -> dict:
    """Requests, failures and illegal-number failures of (account, minute offset) pairs."""
    key = account.astype(np.uint64) * np.uint64(MINUTES) + offset.astype(np.uint64)
    h = _mix(key)
    requests = (20 + h % np.uint64(80)).astype(np.int64)
    outage_at = (account * 7919) % (MINUTES - 400)
    in_outage = (offset >= outage_at) & (offset < outage_at + 30 + account % 90)
    scattered = (h >> np.uint64(20)) % np.uint64(4000) == 0
    failures = np.where(in_outage, requests // 5, np.where(scattered, requests // 20 + 1, 0)).astype(np.int64)
    illegal = np.where(((h >> np.uint64(40)) % np.uint64(20000) == 0) & (failures > 0), 1, 0).astype(np.int64)
    return {"requests": requests, "failures": failures, "illegal_number_failures": illegal}


def _table(account: np.ndarray, offset: np.ndarray):
    import pyarrow as pa

    names = np.array([f"acct-{i:05d}" for i in range(int(account.max()) + 1)])
    return pa.table({"account": pa.array(names[account]), "minute": pa.array((MONTH_START + offset) * 60,
                                                                            pa.timestamp("s", tz="UTC")),
                     **rows_of(account, offset)})


def generate(accounts: int) -> dict:
    """The two layouts' files (made once), billing, incidents and a claim; returns their paths."""
    import pyarrow.parquet as pq

    folder = DATA / f"{accounts}-accounts"
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"by-account": folder / "by-account.parquet", "by-time": folder / "by-time.parquet"}
    if not paths["by-account"].exists():
        began = time.perf_counter()
        schema = _table(np.array([accounts - 1]), np.array([0])).schema
        with pq.ParquetWriter(str(paths["by-account"]) + ".tmp", schema) as writer:
            for a in range(accounts):
                offset = np.arange(MINUTES)
                writer.write_table(_table(np.full(MINUTES, a), offset).cast(schema), row_group_size=MINUTES)
        os.replace(str(paths["by-account"]) + ".tmp", paths["by-account"])
        print(f"wrote {paths['by-account']} in {time.perf_counter() - began:.0f} s", flush=True)
    if not paths["by-time"].exists():
        began = time.perf_counter()
        schema = _table(np.array([accounts - 1]), np.array([0])).schema
        per_group = max(1, ROW_GROUP_BY_TIME // accounts)  # minutes per row group
        with pq.ParquetWriter(str(paths["by-time"]) + ".tmp", schema) as writer:
            for first in range(0, MINUTES, per_group):
                count = min(per_group, MINUTES - first)
                offset = np.repeat(np.arange(first, first + count), accounts)
                account = np.tile(np.arange(accounts), count)
                writer.write_table(_table(account, offset).cast(schema), row_group_size=len(offset))
        os.replace(str(paths["by-time"]) + ".tmp", paths["by-time"])
        print(f"wrote {paths['by-time']} in {time.perf_counter() - began:.0f} s", flush=True)
    billing = folder / "billing.csv"
    billing.write_text("account,month,monthly_fee,offset\n" + "".join(
        f"acct-{a:05d},2019-03,1000.00,0.00\n" for a in range(accounts)))
    incidents = [{"id": "P-1", "start": "2019-03-20T02:00+08:00", "end": "2019-03-20T03:00+08:00", "cause": "provider"}]
    incidents += [{"id": f"C-{a}", "start": "2019-03-05T10:00+08:00", "end": "2019-03-05T12:00+08:00",
                   "cause": "customer_network", "account": f"acct-{a:05d}"} for a in range(0, accounts, 10)]
    (folder / "incidents.json").write_text(json.dumps(incidents))
    claimant = f"acct-{accounts // 2:05d}"
    (folder / "claim.json").write_text(json.dumps({
        "account": claimant, "service_month": "2019-03", "filed_at": "2019-04-10T10:00+08:00", "channel": "work_order",
        "event_report": "calls failed", "unavailability": [{"start": "2019-03-10T10:00+08:00", "end": "2019-03-10T11:00+08:00"}],
        "failure_records": ["call-1"]}))
    return {**paths, "billing": billing, "incidents": folder / "incidents.json", "claim": folder / "claim.json",
            "claimant": claimant, "folder": folder}


DUCKDB_QUERY = """
import sys, duckdb
path, account = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else None)
where = "minute >= TIMESTAMPTZ '2019-03-01 00:00:00+08' AND minute < TIMESTAMPTZ '2019-04-01 00:00:00+08'"
if account:
    where += f" AND account = '{account}'"
rows = duckdb.sql(f'''SELECT account, 100 * (1 - count(*) FILTER (WHERE requests > 0 AND 100 * (requests - failures)
                      < 99 * requests) / 44640.0) AS availability FROM read_parquet('{path}') WHERE {where}
                      GROUP BY account''').fetchall()
print(len(rows))
"""


# The baseline above never decodes the `minute` column: every row group's statistics prove its WHERE,
# so DuckDB drops the filter and reads account, requests and failures only. Any evaluation must read every
# minute (to count an account's minutes with data, check each is a whole minute listed once, and place the
# unavailable ones), and in a file written account by account that column is the dearest to decode (a distinct
# timestamp per row). This second query reads the same columns as slapolicy and reduces them alike (minutes
# with data, first and last minute, unavailable minutes, §5.10 failures per account): the like-for-like
# ratio, printed beside the issue's.
DUCKDB_SAME_COLUMNS = """
import sys, duckdb
path, account = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else None)
where = "minute >= TIMESTAMPTZ '2019-03-01 00:00:00+08' AND minute < TIMESTAMPTZ '2019-04-01 00:00:00+08'"
if account:
    where += f" AND account = '{account}'"
rows = duckdb.sql(f'''SELECT account, count(*), min(minute), max(minute), count(*) FILTER (WHERE requests > 0 AND
                      100 * (requests - failures) < 99 * requests), sum(illegal_number_failures)
                      FROM read_parquet('{path}') WHERE {where} GROUP BY account''').fetchall()
print(len(rows))
"""


def timed(command: list, runs: int) -> tuple[float, int, float]:
    """Best wall time, largest peak resident memory and least CPU time (user + system) over ``runs``.

    Memory and CPU come from /usr/bin/time (GNU time's %M %U %S): a child forked straight from this process
    would inherit this process's own high-water mark in its ru_maxrss. CPU time moves far less than wall time
    when other work shares the machine.
    """
    best, peak, least = float("inf"), 0, float("inf")
    report = DATA / "time.txt"
    for _ in range(runs):
        began = time.perf_counter()
        done = subprocess.run(["/usr/bin/time", "-f", "%M %U %S", "-o", str(report), *map(str, command)], cwd=REPO,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wall = time.perf_counter() - began
        if done.returncode:
            raise SystemExit(f"{' '.join(map(str, command))} failed: {done.stderr.decode()[-2000:]}")
        memory, user, system = report.read_text().split()[-3:]
        best, peak = min(best, wall), max(peak, int(memory) * 1024)
        least = min(least, float(user) + float(system))
    return best, peak, least


def tree_peak(command: list, before=None) -> int:
    """Peak resident memory, in bytes, summed over ``command``'s process and every process under it, sampled every
    5 ms in one run (``before()`` first). GNU time's %M is the larger of a process and the children it waited for, not
    their sum: `evaluate` and `replay` share their reading with a forked copy of their process (docs/cli.md), and
    each holds its own batches. A sum of resident sizes counts twice the pages the two still share since the fork,
    so this is an upper bound; a peak shorter than 5 ms may be missed (the table shows the larger of the two)."""
    if before:
        before()
    page = os.sysconf("SC_PAGE_SIZE")

    def tree(pid: int) -> list:
        children = []
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                children += map(int, Path(f"/proc/{pid}/task/{task}/children").read_text().split())
        except OSError:  # it ended between two reads
            pass
        return [pid] + [below for child in children for below in tree(child)]

    def resident(pid: int) -> int:
        try:
            return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * page
        except (OSError, IndexError, ValueError):
            return 0

    process = subprocess.Popen([*map(str, command)], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    while process.poll() is None:
        peak = max(peak, sum(resident(pid) for pid in tree(process.pid)))
        time.sleep(0.005)
    if process.returncode:
        raise SystemExit(f"{' '.join(map(str, command))} failed: {process.stderr.read().decode()[-2000:]}")
    return peak


def with_codec(files: dict, codec: str) -> dict:
    """``files`` with its two layouts' files written again with ``codec`` (once: the same row groups)."""
    import pyarrow.parquet as pq

    if codec == "snappy":
        return files
    files = dict(files)
    for layout in ("by-account", "by-time"):
        path = files[layout].with_name(f"{layout}-{codec}.parquet")
        if not path.exists():
            source = pq.ParquetFile(files[layout])
            with pq.ParquetWriter(str(path) + ".tmp", source.schema_arrow, compression=codec) as writer:
                for group in range(source.num_row_groups):
                    writer.write_table(source.read_row_group(group))
            os.replace(str(path) + ".tmp", path)
            print(f"wrote {path}", flush=True)
        files[layout] = path
    return files


def commands(files: dict, layout: str, python: str, ledger: Path) -> dict:
    minutes = str(files[layout])
    slapolicy = [python, "-m", "slapolicy.cli"]
    common = ["--billing", str(files["billing"]), "--incidents", str(files["incidents"])]
    return {
        "evaluate": (slapolicy + ["evaluate", str(POLICIES), "--minutes", minutes, "--month", "2019-03"] + common,
                     [python, "-c", DUCKDB_QUERY, minutes]),
        "replay": (slapolicy + ["replay", str(POLICIES), "--minutes", minutes, "--from", "2019-03", "--to", "2019-03",
                                "--under", str(DRAFT)] + common,
                   [python, "-c", DUCKDB_QUERY, minutes]),
        "claim": (slapolicy + ["claim", str(POLICIES), str(files["claim"]), "--minutes", minutes, "--ledger", str(ledger),
                               "--now", "2019-04-20T10:00+08:00"] + common,
                  [python, "-c", DUCKDB_QUERY, minutes, files["claimant"]]),
    }


def same_columns(files: dict, layout: str, python: str, name: str) -> list:
    """DuckDB reading and reducing the columns slapolicy reads (see DUCKDB_SAME_COLUMNS)."""
    return [python, "-c", DUCKDB_SAME_COLUMNS, str(files[layout])] + ([files["claimant"]] if name == "claim" else [])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3, help="runs of each process; the best time is kept")
    parser.add_argument("--only", default="evaluate,replay,claim")
    parser.add_argument("--layouts", default="by-account,by-time")
    parser.add_argument("--codec", default="snappy", choices=["snappy", "lz4", "zstd", "none"],
                        help="the Parquet files' compression (snappy: the files as generated)")
    args = parser.parse_args()
    files = with_codec(generate(args.accounts), args.codec)
    python = sys.executable
    # Bytecode as an installed package has it (pip compiles at install): a process that compiles the engine's
    # modules from source (an editable install where PYTHONDONTWRITEBYTECODE is set, as here) pays ~0.1 s more.
    subprocess.run([python, "-m", "compileall", "-q", str(REPO / "engine"), str(REPO / "plugins")], check=True)
    print(f"{args.accounts} accounts × {MINUTES} minutes = {args.accounts * MINUTES:,} rows; best of {args.runs} runs; "
          f"{os.cpu_count()} cores; {args.codec} pages")
    print(f"{'layout':<11}{'command':<10}{'slapolicy':>10}{'DuckDB':>9}{'ratio':>8}{'peak MB':>9}{'DuckDB MB':>11}"
          f"{'tree MB':>9}{'CPU s':>8}{'DuckDB':>8}{'ratio':>7}{'same cols':>11}{'ratio':>7}")
    alike: dict = {}  # (layout, accounts queried) -> DuckDB's like-for-like time: evaluate and replay share one
    for layout in args.layouts.split(","):
        for name in args.only.split(","):
            ledger = files["folder"] / "ledger.sqlite"
            ours, theirs = commands(files, layout, python, ledger)[name]

            def fresh_ledger() -> None:  # a claim's second run would be answered from the first's record
                for suffix in ("", "-wal", "-shm"):
                    Path(str(ledger) + suffix).unlink(missing_ok=True)

            if name == "claim":
                best, peak, least = float("inf"), 0, float("inf")
                for _ in range(args.runs):
                    fresh_ledger()
                    wall, memory, used = timed(ours, 1)
                    best, peak, least = min(best, wall), max(peak, memory), min(least, used)
            else:
                best, peak, least = timed(ours, args.runs)
            tree = max(peak, tree_peak(ours, fresh_ledger if name == "claim" else None))
            duck, duck_peak, duck_cpu = timed(theirs, args.runs)
            key = (layout, name == "claim")
            if key not in alike:
                alike[key] = timed(same_columns(files, layout, python, name), args.runs)[0]
            print(f"{layout:<11}{name:<10}{best:>9.2f}s{duck:>8.2f}s{best / duck:>7.2f}×{peak / 2**20:>9.0f}"
                  f"{duck_peak / 2**20:>11.0f}{tree / 2**20:>9.0f}{least:>7.2f}s{duck_cpu:>7.2f}s{least / duck_cpu:>6.2f}×"
                  f"{alike[key]:>10.2f}s{best / alike[key]:>6.2f}×", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
