"""Benchmark: peak memory of `slapolicy evaluate` on JSON Lines minutes, against the same rows as CSV.

    python benchmarks/json_lines.py [--accounts 50] [--keep]

Generates one 31-day Service Month of minutes (fixed seed) for ``--accounts`` accounts, writes the same rows
as JSON Lines and as CSV, and runs ``slapolicy evaluate`` on each as a whole process, printing each one's
peak resident memory, wall time and the JSON Lines / CSV ratios. The CSV reader streams in blocks: the
JSON Lines reader should cost about as much, whatever the size of the file.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
SEED = 20190301
MEASURE = """
import resource, sys
from slapolicy.cli import main
code = main(sys.argv[1:])
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
sys.exit(code)
"""

def generate(directory: Path, accounts: int) -> tuple[Path, Path, int]:
    rng = np.random.default_rng(SEED)
    first = dt.datetime(2019, 3, 1)
    stamps = [(first + dt.timedelta(minutes=m)).strftime("%Y-%m-%dT%H:%M") for m in range(31 * 1440)]
    jsonl, csv = directory / "minutes.jsonl", directory / "minutes.csv"
    rows = 0
    with jsonl.open("w") as j, csv.open("w") as c:
        c.write("account,minute,requests,failures\n")
        for a in range(accounts):
            requests = rng.integers(0, 80, size=len(stamps))
            failures = np.where(rng.random(len(stamps)) < 0.01, requests // 5, 0)
            name = f"acct-{a:04d}"
            j.writelines(json.dumps({"account": name, "minute": s, "requests": int(r), "failures": int(f)}) + "\n"
                         for s, r, f in zip(stamps, requests, failures))
            c.writelines(f"{name},{s},{r},{f}\n" for s, r, f in zip(stamps, requests, failures))
            rows += len(stamps)
    return jsonl, csv, rows


def run(minutes: Path) -> tuple[float, float, str]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", MEASURE, "evaluate", str(REPO / "policies" / "ccc"),
                           "--minutes", str(minutes), "--month", "2019-03"], capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"evaluate {minutes} failed ({done.returncode}): {done.stderr[-2000:]}")
    peak_kb = int(done.stderr.strip().splitlines()[-1])
    return peak_kb / 1024, seconds, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=50)
    parser.add_argument("--keep", action="store_true", help="keep the generated files (printed)")
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="slapolicy-jsonl-"))
    jsonl, csv, rows = generate(directory, args.accounts)
    print(f"{rows:,} minute rows: JSON Lines {jsonl.stat().st_size / 2**20:,.0f} MiB, "
          f"CSV {csv.stat().st_size / 2**20:,.0f} MiB")
    measured = {}
    for name, path in (("csv", csv), ("jsonl", jsonl)):
        measured[name] = run(path)
        print(f"{name:>6}: peak {measured[name][0]:7.0f} MiB, {measured[name][1]:6.2f} s")
    assert measured["csv"][2] == measured["jsonl"][2], "JSON Lines and CSV evaluations differ"
    print(f"JSON Lines / CSV: peak memory {measured['jsonl'][0] / measured['csv'][0]:.2f}×, "
          f"time {measured['jsonl'][1] / measured['csv'][1]:.2f}×")
    if args.keep:
        print(f"files kept in {directory}")
    else:
        for path in (jsonl, csv):
            path.unlink()
        directory.rmdir()


if __name__ == "__main__":
    main()
