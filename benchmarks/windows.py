"""Windows matched to minutes: sorted interval search (the engine) against a dense minutes × windows matrix.

One account, every minute of March 2019 unavailable at 2 QPS, N incidents of 1–29 minutes at random (2 % of them a
customer's network, the rest the provider's). The engine merges the windows of each fact set into disjoint runs and
finds each run's minutes by binary search; the baseline builds the boolean matrix the engine used before (44,640 × N),
which needed 2.2 GB at N = 50,000. Prints the time of each and their ratio, and the engine alone at 50,000.

    python benchmarks/windows.py
"""
import datetime as dt
import time
from zoneinfo import ZoneInfo

import numpy as np

from slapolicy import load_policy
from slapolicy.calendar import calendar_month, minute_bounds
from slapolicy.inputs import Incident
from slapolicy.evaluation import MonthMinutes, classify_minutes

POLICY = load_policy("policies/ccc/2019-01-01.yaml")
MONTH = calendar_month("2019-03")
FIRST, LAST = MONTH.epoch_minutes(POLICY.timezone)
ZONE = ZoneInfo(POLICY.timezone)


def incidents(count: int, seed: int = 10) -> list:
    rng = np.random.default_rng(seed)
    starts, lengths = rng.integers(FIRST, LAST - 30, size=count), rng.integers(1, 30, size=count)
    customer = rng.random(count) < 0.02
    return [Incident(f"I-{i}", dt.datetime.fromtimestamp(int(s) * 60, ZONE), dt.datetime.fromtimestamp(int(s + n) * 60, ZONE),
                     "customer_network" if c else "provider", None) for i, (s, n, c) in enumerate(zip(starts, lengths, customer))]


def rows() -> MonthMinutes:
    size = LAST - FIRST
    return MonthMinutes(np.arange(FIRST, LAST, dtype=np.int64), np.full(size, 120), np.full(size, 12),
                        np.zeros(size, np.int64), np.full(size, np.nan), False)


def engine(windows) -> float:
    began = time.perf_counter()
    classify_minutes(POLICY, MONTH, "a", rows(), incidents=windows)
    return time.perf_counter() - began


def dense_baseline(windows) -> float:
    """The membership matrix alone, as the engine built it before (without asking any rule)."""
    minute = rows().minute
    began = time.perf_counter()
    membership = np.zeros((len(minute), len(windows)), bool)
    for j, window in enumerate(windows):
        first, last = minute_bounds(window.start, window.end, "outward")
        membership[:, j] = (minute >= first) & (minute < last)
    np.unique(membership, axis=0)
    return time.perf_counter() - began


if __name__ == "__main__":
    engine(incidents(10))  # warm up: rules registered, imports done
    for count in (200, 1000):
        windows = incidents(count)
        ours, dense = min(engine(windows) for _ in range(2)), min(dense_baseline(windows) for _ in range(2))
        print(f"{count:>6} incidents: interval search {ours:.3f} s, dense matrix {dense:.3f} s "
              f"(the matrix and its distinct rows, before any rule is asked): {dense / ours:.1f}× faster")
    print(f" 50000 incidents: interval search {engine(incidents(50_000)):.3f} s "
          f"(the dense matrix would hold {44_640 * 50_000 / 1e9:.1f} GB of booleans)")
