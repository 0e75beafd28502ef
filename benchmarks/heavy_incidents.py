"""Incidents and notices of many accounts for the 500-account month (benchmarks/data/500-accounts): per account
16 incidents and 3 notices of its own, plus 40 incidents and 30 notices of every account (8,040 incidents and
1,530 notices for 500 accounts). The causes go round the policy's fifteen, so about one incident in fifteen
is the provider's: ~536 account-specific provider incidents that together cover most of the month.

Before each provider incident was scoped to its account, ``evaluate`` kept every account's rows inside any of
them (21.6 M of 22.3 M rows, 3.6 GB); now it counts, per account and incident, the minutes with requests inside
(the §1.4 warning's figure) as it reads. Deterministic (seeded): the same files every run.

    python benchmarks/heavy_incidents.py OUT_DIR [--accounts 500]   # writes OUT_DIR/{incidents,notices}.json
"""
from __future__ import annotations

import argparse
import json
import random
from datetime import datetime, timedelta
from pathlib import Path

CAUSES = ["provider", "customer_network", "customer_credentials", "attack_on_customer", "usage_violation",
          "customer_negligence", "illegal_content", "trial_feature", "authority_control", "third_party_network",
          "force_majeure", "not_provider", "legal_exemption", "customer_law_violation", "number_noncompliance"]
KINDS = ["maintenance", "major_event", "high_concurrency"]
MONTH_START = datetime(2019, 3, 1)
MONTH_MINUTES = 31 * 24 * 60


def _stamp(minute: int) -> str:
    return (MONTH_START + timedelta(minutes=minute)).strftime("%Y-%m-%dT%H:%M+08:00")


def _window(rng: random.Random, shortest: int, longest: int) -> tuple[int, int]:
    length = rng.randint(shortest, longest)
    start = rng.randrange(0, MONTH_MINUTES - length)
    return start, start + length


def incidents(accounts: int, rng: random.Random) -> list:
    found, n = [], 0
    for k in range(-1, accounts):  # -1: those of every account
        for _ in range(40 if k < 0 else 16):
            start, end = _window(rng, 10, 120) if k < 0 else _window(rng, 30, 600)
            entry = {"id": f"I-{n}", "start": _stamp(start), "end": _stamp(end), "cause": CAUSES[n % len(CAUSES)]}
            if k >= 0:
                entry["account"] = f"acct-{k:05d}"
            found.append(entry)
            n += 1
    return found


def notices(accounts: int, rng: random.Random) -> list:
    found, n = [], 0
    for k in range(-1, accounts):
        for _ in range(30 if k < 0 else 3):
            start, end = _window(rng, 10, 240)
            published = start + rng.choice([-2 * 24 * 60, -60, 5])  # before the window begins, or after
            entry = {"id": f"N-{n}", "kind": KINDS[n % len(KINDS)], "published_at": _stamp(published),
                     "start": _stamp(start), "end": _stamp(end)}
            if k >= 0:
                entry["account"] = f"acct-{k:05d}"
            found.append(entry)
            n += 1
    return found


def write(directory: Path, accounts: int = 500) -> tuple[Path, Path]:
    rng = random.Random(11)
    directory.mkdir(parents=True, exist_ok=True)
    paths = directory / "incidents.json", directory / "notices.json"
    paths[0].write_text(json.dumps(incidents(accounts, rng)))
    paths[1].write_text(json.dumps(notices(accounts, rng)))
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--accounts", type=int, default=500)
    args = parser.parse_args()
    for path in write(args.out, args.accounts):
        print(path)


if __name__ == "__main__":
    main()
