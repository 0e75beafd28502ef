"""Evaluating a Service Month: its minutes classified (``classify``: availability §1.5, §2.1, exclusions §5),
its compensation (``compensation``: §3), and the month's result with its trace; many accounts at once."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ..calendar import ServiceMonth
from ..inputs.events import ByAccount
from ..errors import InputError
from ..minutes.shapes import MonthMinutes, MonthTotals
from .classify import MinutesOutcome, _step, classify_minutes, month_frame
from .compensation import _before_aggregate_cap, _compensation, shown_availability


@dataclass(frozen=True)
class MonthEvaluation:
    """One account's Service Month evaluated: ``result``, the plain JSON every door prints, and beside it
    (never inside it) the unavailable minutes as arrays, which a claim reconciles with the claimed
    windows (§3.2(1)) and replay draws as a strip."""

    result: dict
    unavailable_minute: np.ndarray  # epoch minutes, sorted
    attributed: np.ndarray  # per unavailable minute: index into policy.minute_clauses, or -1 (counted)
    first_minute: int  # the Service Month's first epoch minute

    @property
    def counted_minutes(self) -> np.ndarray:
        """Epoch minutes counted against the provider (unavailable and excluded by no clause)."""
        return self.unavailable_minute[self.attributed < 0]

    @property
    def excluded_minutes(self) -> np.ndarray:
        """Epoch minutes unavailable but excluded by a clause of §5."""
        return self.unavailable_minute[self.attributed >= 0]


def evaluate_account_month(policy, service_month: ServiceMonth, account: str, rows: MonthMinutes, *,
                           incidents=(), notices=(), billing=None, manager=None, version_reason: str = "",
                           naive_timestamps: int = 0, totals: MonthTotals | None = None,
                           outcome: MinutesOutcome | None = None) -> MonthEvaluation:
    """Everything the SLA says about one account's Service Month, with a trace citing the clauses.

    ``outcome``: the minutes already classified under a version that reads minutes alike (replay).
    """
    trace: list = []
    _step(trace, "version", "§6.2", version_reason or f"evaluated under version {policy.version}")
    if outcome is None:
        outcome = classify_minutes(policy, service_month, account, rows, incidents=incidents, notices=notices,
                                   manager=manager, naive_timestamps=naive_timestamps, totals=totals)
    trace.extend(dict(step) for step in outcome.steps)
    total, counted = service_month.total_minutes, outcome.counted
    availability = availability_of(total, counted)
    shown = shown_availability(policy, availability)
    exact = f"{total - counted}/{total}"
    _step(trace, "availability", policy.ref("availability", "display_decimals"),
          f"(1 − {counted}/{total}) × 100% = {shown}% (exact {exact} = {float(availability):.6f}%)")
    result = {
        "account": account,
        "service_month": service_month.as_dict(),
        "policy": policy.summary(),
        "minutes_with_data": outcome.with_data,
        "raw_unavailable_minutes": outcome.raw_unavailable,
        "unavailable_minutes": counted,
        "excluded_minutes": dict(outcome.excluded_by),
        "availability_percent": shown,
        "availability_exact": exact,  # (total − counted) / total, exactly; the percentage is 100 times it
    }
    result.update(_compensation(policy, availability, billing, trace, account, service_month))
    result["before_aggregate_cap"] = _before_aggregate_cap(policy)
    result["warnings"] = list(outcome.warnings)
    result["trace"] = trace
    return MonthEvaluation(result, outcome.unavailable_minute, outcome.attributed, month_frame(policy, service_month).first)


@functools.lru_cache(maxsize=4096)
def availability_of(total: int, counted: int) -> Fraction:
    """Service Availability (§2.1), exactly: (1 − counted / total) × 100 %, from a month's Total Minutes and its
    unavailable minutes counted. One object per count, so the caches keyed on it find it at once."""
    return Fraction(100 * (total - counted), total)


# ---------------------------------------------------------------------------- many accounts

def version_reason(policy, service_month: ServiceMonth, forced: bool = False, in_force=None) -> str:
    if forced:
        base = f"evaluated under {policy.version} ({policy.path}) as asked"
        return base + (f", instead of {in_force.version}, the version in force" if in_force is not None else "")
    return (f"version {policy.version} in force: the latest effective_from ({policy.effective_from}) on or before "
            f"the Service Month's first day {service_month.start}")


def evaluate_month(policy, service_month: ServiceMonth, minutes=None, *, incidents=(), notices=(), billing=None,
                   accounts=None, reason: str = "", manager=None) -> list[dict]:
    """Evaluate every account of ``minutes`` (and of billing for the month) in one Service Month.

    ``minutes``: the month's minutes as :func:`slapolicy.minutes.read_minutes` reduces them (counts and
    candidate rows per account), or None.
    """
    return evaluate_items(policy, service_month, month_items(service_month, minutes, billing, accounts),
                          incidents=ByAccount(incidents), notices=ByAccount(notices), reason=reason, manager=manager)


def evaluate_items(policy, service_month: ServiceMonth, items: list, *, incidents, notices, reason: str = "",
                   manager=None) -> list[dict]:
    """The results of :func:`month_items`' account-months, in their order (here, or a chunk on a worker)."""
    return [evaluate_account_month(policy, service_month, account, rows, incidents=incidents, notices=notices,
                                   totals=totals, billing=bill, manager=manager, version_reason=reason,
                                   naive_timestamps=naive).result
            for account, rows, totals, bill, naive in items]


def month_items(service_month: ServiceMonth, minutes=None, billing=None, accounts=None) -> list[tuple]:
    """(account, candidate rows, totals, bill, naive timestamps) of every account to evaluate, in account order:
    each account of the minutes or of the month's billing (or ``accounts``, which must be one of those)."""
    names = set(minutes.accounts if minutes is not None else [])
    names |= {account for (account, month) in (billing or {}) if month == service_month.label}
    if accounts is not None:
        unknown = [a for a in accounts if a not in names]
        if unknown:
            raise InputError(f"account(s) {', '.join(unknown)} have no minutes or billing for {service_month.label}")
        names = set(accounts)
    cells = minutes.cells if minutes is not None else {}
    items = []
    for account in sorted(names):
        cell = cells.get((account, service_month.label))
        rows, totals = (cell.rows, cell.totals) if cell else (MonthMinutes.empty(), MonthTotals(0, 0, 0, 0, 0))
        items.append((account, rows, totals, (billing or {}).get((account, service_month.label)),
                      minutes.naive_timestamps if cell is not None else 0))
    return items
