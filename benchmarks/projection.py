"""Measure the per-partition costs of the minutes path and project them onto a large month and replay.

    python benchmarks/projection.py [--accounts 500] [--sample 200]

Uses the month that ``benchmarks/scale.py`` writes (made here if missing). Every figure is CPU time of one
thread (``time.thread_time``), so other work on the machine does not inflate it as it does wall time:

* reading a part (decode, check every row, reduce), per row, in each layout, one part at a time;
* the client's merge of the parts' summaries, per account-month;
* evaluating an account-month (``evaluate``) and replaying one under two versions (``replay``), with the
  month's incidents (one provider incident for all, a customer incident for one account in ten);
* the bytes a part's summary and a chunk of evaluations send back (pickled), per account-month.

It then prints, for one month of 100,000 accounts (4.46 G rows) and a 12-month replay of it, the core-seconds
of each stage and the wall time on W workers: the parts and the account-months divide among the workers;
the client's planning, merge and printing do not (replay prints one row per account-month, a
fraction of an evaluation's trace: its merge is counted, not its printing). What the projection leaves out is printed with it.
"""
from __future__ import annotations

import argparse
import json
import pickle
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scale import DRAFT, MINUTES, POLICIES, generate  # noqa: E402

TARGET_ACCOUNTS = 100_000
REPLAY_MONTHS = 12


def cpu(fn, *args):
    began = time.thread_time()
    result = fn(*args)
    return time.thread_time() - began, result


def reading_costs(path: Path, month, policies) -> dict:
    """CPU per row of reading each part, and of merging the summaries per account-month."""
    from slapolicy import minutes

    request = minutes.request_for([month], policies[0].timezone, policies)
    parts = minutes.plan(str(path), request)
    spent, summaries = 0.0, []
    for part in parts:
        seconds, summary = cpu(minutes.read_part, part, request)
        spent += seconds
        summaries.append(summary)
    rows = sum(s.rows_read for s in summaries)
    merge_seconds, merged = cpu(minutes.merge, summaries, [month], parts, request)
    summary_bytes = sum(len(pickle.dumps(s)) for s in summaries)
    return {"rows": rows, "parts": len(parts), "per_row": spent / rows, "merge_per_cell": merge_seconds / len(merged.cells),
            "summary_bytes_per_cell": summary_bytes / len(merged.cells), "merged": merged}


def evaluation_costs(merged, month, policy, amended, incidents: tuple, sample: int) -> dict:
    """CPU per account-month evaluated once (evaluate) and under two versions (replay)."""
    from slapolicy.inputs import ByAccount
    from slapolicy.evaluation import evaluate_account_month
    from slapolicy.replay import replay_chunk, replay_spec

    cells = sorted(merged.cells.values(), key=lambda c: c.account)[:sample]
    indexed = ByAccount(incidents)
    began = time.thread_time()
    results = [evaluate_account_month(policy, month, c.account, c.rows, totals=c.totals, incidents=indexed).result
               for c in cells]
    once = (time.thread_time() - began) / len(cells)
    spec = replay_spec({month.label: policy}, amended, incidents, (), False)
    items = [(c.account, month.label, c.totals, c.rows, None) for c in cells]
    replay_chunk(spec, items[:1])  # the versions are loaded once per worker: not counted per account-month
    seconds, _ = cpu(replay_chunk, spec, items)
    printing, _ = cpu(lambda: json.dumps({"evaluations": results}, indent=2, ensure_ascii=False))
    return {"evaluate": once, "replay": seconds / len(cells), "print": printing / len(cells),
            "result_bytes": len(pickle.dumps(results)) / len(cells), "sample": len(cells)}


def project(label: str, rows: float, cells: float, read_per_row: float, eval_per_cell: float, client_per_cell: float,
            workers: list) -> list[str]:
    reading, evaluating, client = rows * read_per_row, cells * eval_per_cell, cells * client_per_cell
    lines = [f"{label}: {rows / 1e9:.2f} G rows, {cells:,.0f} account-months; reading {reading:,.0f} core-s, "
             f"evaluating {evaluating:,.0f} core-s, the client's merge and output {client:,.0f} s"]
    for count in workers:
        wall = (reading + evaluating) / count + client
        lines.append(f"    {count:>4} workers: {wall / 60:6.1f} min  ({(reading + evaluating) / count:,.0f} s on the "
                     f"workers + {client:,.0f} s on the client)")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=500, help="accounts of the measured month (scale.py's data)")
    parser.add_argument("--sample", type=int, default=200, help="account-months evaluated to time an evaluation")
    args = parser.parse_args()
    from slapolicy.calendar import calendar_month
    from slapolicy.inputs import read_incidents
    from slapolicy.policy import PolicyDirectory, load_policy

    files = generate(args.accounts)
    month = calendar_month("2019-03")
    policy = PolicyDirectory(POLICIES, run_examples=False).in_force(month.start)
    amended = load_policy(DRAFT)
    incidents = tuple(read_incidents(files["incidents"], policy))
    costs = {layout: reading_costs(files[layout], month, [policy, amended]) for layout in ("by-account", "by-time")}
    evaluation = evaluation_costs(costs["by-account"]["merged"], month, policy, amended, incidents, args.sample)
    print(f"measured on {args.accounts} accounts × {MINUTES} minutes (one thread's CPU time):")
    for layout, c in costs.items():
        print(f"  read, check, reduce ({layout}): {c['per_row'] * 1e9:.0f} ns per row over {c['parts']} parts; "
              f"merge {c['merge_per_cell'] * 1e6:.0f} µs and {c['summary_bytes_per_cell']:,.0f} summary bytes "
              "per account-month")
    print(f"  evaluate an account-month: {evaluation['evaluate'] * 1e3:.2f} ms ({evaluation['result_bytes']:,.0f} bytes "
          f"of result, printed as JSON in {evaluation['print'] * 1e6:.0f} µs); replay it under two versions: "
          f"{evaluation['replay'] * 1e3:.2f} ms (sample of {evaluation['sample']})")
    read_per_row = max(c["per_row"] for c in costs.values())
    merge = max(c["merge_per_cell"] for c in costs.values())
    rows = TARGET_ACCOUNTS * MINUTES
    print("\nprojection (the slower layout's reading cost):")
    for line in project("evaluate, one month", rows, TARGET_ACCOUNTS, read_per_row, evaluation["evaluate"],
                        merge + evaluation["print"], [16, 64, 128]):
        print(line)
    for line in project(f"replay, {REPLAY_MONTHS} months × 2 versions", rows * REPLAY_MONTHS,
                        TARGET_ACCOUNTS * REPLAY_MONTHS, read_per_row, evaluation["replay"], merge, [64, 128, 256]):
        print(line)
    print("\nleft out: the scheduler's cost per task (Dask: about a millisecond; parts of 2 M rows make 2,200 tasks a "
          "month), reading from object storage (network bandwidth, not CPU, bounds a worker there), and the client's "
          "memory for the merged summaries and the results "
          f"(~{(costs['by-time']['summary_bytes_per_cell'] + evaluation['result_bytes']) * TARGET_ACCOUNTS / 2**20:,.0f} "
          "MiB a month at these sizes).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
