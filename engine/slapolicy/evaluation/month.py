"""Evaluating a Service Month: its minutes classified (``classify``: availability §1.5, §2.1, exclusions §5),
its compensation (``compensation``: §3), and the month's result with its trace; many accounts at once."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import NamedTuple
from decimal import Decimal
from fractions import Fraction

import numpy as np

from ..calendar import ServiceMonth
from ..errors import quoted_name, shown_name
from ..inputs.events import ByAccount
from ..inputs.problems import MAX_REPORTED
from ..errors import InputError
from ..minutes.shapes import MonthMinutes, MonthTotals
from .classify import (MinutesOutcome, UnavailableRows, classify_minutes, month_frame, trace_step,
                       unavailable_rows)
from .compensation import (before_aggregate_cap_note, compensation_on_bill, money_terms, no_billing_step,
                           percent_number, shown_availability, standard_and_credit)


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
                           outcome: MinutesOutcome | None = None, explain: bool = True,
                           found: UnavailableRows | None = None, billing_given: bool = True) -> MonthEvaluation:
    """Everything the SLA says about one account's Service Month, with a trace citing the clauses.

    ``outcome``: the minutes already classified under a version that reads minutes alike (replay).
    ``explain``: False leaves out what only the trace and the warnings need (replay prints neither): the
    result then has the figures alone, its ``trace`` and ``warnings`` empty. ``found``: the rows' unavailable
    minutes, found with other accounts' (:func:`slapolicy.evaluation.classify.unavailable_rows`).
    ``billing_given``: whether any billing was given, which the trace of a month without ``billing`` says.
    """
    shared = outcome is not None
    if not shared:
        outcome = classify_minutes(policy, service_month, account, rows, incidents=incidents, notices=notices,
                                   manager=manager, naive_timestamps=naive_timestamps, totals=totals, explain=explain,
                                   found=found)
    frame = month_frame(policy, service_month)
    counted = outcome.counted
    figures = _figures(policy, frame.total, counted)
    result = {
        "account": account,
        "service_month": dict(frame.month),
        "policy": policy.summary(),
        "minutes_with_data": outcome.with_data,
        "raw_unavailable_minutes": outcome.raw_unavailable,
        "unavailable_minutes": counted,
        "excluded_minutes": dict(outcome.excluded_by),
        "availability_percent": figures.shown,
        "availability_exact": figures.exact,  # (total − counted) / total, exactly; the percentage is 100 times it
        "meets_standard": figures.met,
        "credit_percent": figures.credit_percent,
        "monthly_fee": None,
        "compensation": None,
    }
    trace: list = []
    if explain:
        trace.append({"step": "version", "clause": "§6.2",
                      "detail": version_reason or f"evaluated under version {policy.version}"})
        trace.extend([dict(step) for step in outcome.steps] if shared else outcome.steps)  # each result owns its trace
        trace.extend([dict(step) for step in figures.steps])
    if billing is None:
        if explain:
            no_billing_step(policy, trace, billing_given)
    else:
        fee, amount, detail = _money(policy, frame.total, counted, str(billing.monthly_fee), str(billing.offset))
        if explain:
            trace.append({"step": "compensation", "clause": money_terms(policy).rounding_ref, "detail": detail})
        result["monthly_fee"], result["compensation"] = fee, amount
    result["before_aggregate_cap"] = before_aggregate_cap_note(policy)
    result["warnings"] = list(outcome.warnings)
    result["trace"] = trace
    return MonthEvaluation(result, outcome.unavailable_minute, outcome.attributed, frame.first)


class _Figures(NamedTuple):  # a NamedTuple: a quarter of a dataclass's making at every start
    """What every account of a Service Month with as many counted minutes shares under one version: the
    availability shown and exact (§2.1), the standard (§2.2), the credit of its tier (§3.1), their trace steps."""

    shown: str
    exact: str
    met: bool
    credit: Decimal
    credit_percent: object  # the credit as a JSON number
    steps: tuple  # availability, standard, tier


@functools.lru_cache(maxsize=4096)  # accounts of a month share few counts of minutes
def _figures(policy, total: int, counted: int) -> _Figures:
    availability = availability_of(total, counted)
    shown = shown_availability(policy, availability)
    exact = f"{total - counted}/{total}"
    steps: list = []
    trace_step(steps, "availability", policy.ref("availability", "display_decimals"),
          f"(1 − {counted}/{total}) × 100% = {shown}% (exact {exact} = {float(availability):.6f}%)")
    met, credit, credit_steps = standard_and_credit(policy, availability)
    return _Figures(shown, exact, met, credit, percent_number(credit), tuple(steps) + credit_steps)


@functools.lru_cache(maxsize=4096)  # and few fees: one computation per credit and fee
def _money(policy, total: int, counted: int, monthly_fee: str, offset: str) -> tuple[str, str, str]:
    """(the fee, the compensation, the trace's detail) for an account's bill (§3.1(2)); the fee and offset by
    their text, which the trace repeats as written."""
    billing = _Bill(Decimal(monthly_fee), Decimal(offset))
    return compensation_on_bill(policy, _figures(policy, total, counted).credit, billing)


class _Bill(NamedTuple):  # a NamedTuple: a quarter of a dataclass's making at every start
    monthly_fee: Decimal
    offset: Decimal

    @property
    def fee_paid(self) -> Decimal:
        return self.monthly_fee - self.offset


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
                   accounts=None, reason: str = "", manager=None, evaluated: dict | None = None) -> list[dict]:
    """Evaluate every account of ``minutes`` (and of billing for the month) in one Service Month.

    ``minutes``: the month's minutes as :func:`slapolicy.minutes.read_minutes` reduces them (counts and
    candidate rows per account), or None. ``evaluated``: account -> its result, already worked out from the same
    minutes, billing and windows (:func:`evaluate_settled`): the other accounts are evaluated, in their place.
    """
    items = month_items(service_month, minutes, billing, accounts)
    incidents, notices = _indexed(incidents), _indexed(notices)
    if not evaluated:
        return evaluate_items(policy, service_month, items, incidents=incidents, notices=notices, reason=reason,
                              manager=manager, billing_given=billing is not None)
    rest = iter(evaluate_items(policy, service_month, [item for item in items if item[0] not in evaluated],
                               incidents=incidents, notices=notices, reason=reason, manager=manager,
                               billing_given=billing is not None))
    return [evaluated[item[0]] if item[0] in evaluated else next(rest) for item in items]


def _indexed(windows) -> ByAccount:
    return windows if isinstance(windows, ByAccount) else ByAccount(windows)


def evaluate_settled(policy, service_month: ServiceMonth, settled, *, incidents, notices, billing=None,
                     reason: str = "", manager=None, on_result=None) -> dict | None:
    """account -> its result, for the account-months of ``settled`` (pieces of the minutes whose accounts' rows
    are all read: :class:`slapolicy.minutes.aggregates.Settled`), evaluated as they come while the rest of the
    minutes are read. Worked out as :func:`evaluate_month` would (each account-month counts its own rows without
    a UTC offset): the caller keeps them only if the whole reading's result says the pieces make it up. None if evaluating one of them failed: the caller evaluates
    them again after the reading, where the problem is raised in its place (after the minutes' own).
    ``on_result``: called with each result as it is worked out."""
    label, given, billing, done = service_month.label, billing is not None, billing or {}, {}
    for piece in settled:
        items = [(account, cell.rows, cell.totals, billing.get((account, label)), cell.totals.naive)
                 for (account, month), cell in sorted(piece.cells.items()) if month == label]
        try:
            results = evaluate_items(policy, service_month, items, incidents=incidents, notices=notices,
                                     reason=reason, manager=manager, billing_given=given)
        except Exception:  # noqa: BLE001 -- raised again by the evaluation after the reading, after its problems
            return None
        done.update(zip([item[0] for item in items], results))
        if on_result is not None:
            for result in results:
                on_result(result)
    return done


def evaluate_items(policy, service_month: ServiceMonth, items: list, *, incidents, notices, reason: str = "",
                   manager=None, billing_given: bool = True) -> list[dict]:
    """The results of :func:`month_items`' account-months, in their order (here, or a chunk on a worker).
    ``billing_given``: whether any billing was given (:func:`evaluate_account_month`)."""
    found = unavailable_rows(policy, service_month, [(rows, totals) for _, rows, totals, _, _ in items])
    return [evaluate_account_month(policy, service_month, account, rows, incidents=incidents, notices=notices,
                                   totals=totals, billing=bill, manager=manager, version_reason=reason,
                                   naive_timestamps=naive, found=unavailable, billing_given=billing_given).result
            for (account, rows, totals, bill, naive), unavailable in zip(items, found)]


def _several_in_one(unknown: list) -> str:
    """'; ...' when an account asked about and not found holds a comma (``--account acme,globex``): its rows are
    read for that one name only, so whether its parts are accounts is not known; the words say how to name
    several. An error path only."""
    for asked in unknown:
        if "," in asked:
            return (f"; {quoted_name(asked)} is one account's name: to name several accounts, give each on its own "
                    "(--account once for each, or one item each of a list)")
    return ""


def month_names(service_month: ServiceMonth, minutes=None, billing=None) -> set:
    """The accounts of the minutes and of the month's billing: those a Service Month is evaluated for."""
    names = set(minutes.accounts if minutes is not None else [])
    return names | {account for (account, month) in (billing or {}) if month == service_month.label}


def refuse_unknown_accounts(service_month: ServiceMonth, names: set, accounts, meant=None) -> None:
    """Refuse the ``accounts`` asked about that are not among ``names`` (:func:`month_names`); ``meant(unknown)``
    gives the words that suggest the names meant (``; did you mean 'acme'?``), looked for on this error path only."""
    unknown = [a for a in accounts or () if a not in names]
    if unknown:
        # The first MAX_REPORTED named, the rest counted, as a file's bad rows are: each named, thousands of accounts
        # asked about made a message whose point ("have no minutes ...") the bound of every message cut off.
        named = unknown[:MAX_REPORTED]
        more = f" and {len(unknown) - len(named)} more" if len(unknown) > len(named) else ""
        # A long name is cut to its first 200 characters, as a quoted one is (errors.shown_name): twenty names of a
        # thousand characters pushed the names meant past the bound of every message.
        raise InputError(f"account(s) {', '.join(map(shown_name, named))}{more} have no minutes or billing for "
                         f"{service_month.label}{_several_in_one(named) or (meant(named) if meant else '')}")


def month_items(service_month: ServiceMonth, minutes=None, billing=None, accounts=None) -> list[tuple]:
    """(account, candidate rows, totals, bill, its rows without a UTC offset) of every account to evaluate, in order:
    each account of the minutes or of the month's billing (or ``accounts``, which must be one of those)."""
    label, billing = service_month.label, billing or {}
    names = month_names(service_month, minutes, billing)
    if accounts is not None:
        refuse_unknown_accounts(service_month, names, accounts)
        names = set(accounts)
    cells = minutes.cells if minutes is not None else {}
    items = []
    for account in sorted(names):
        cell = cells.get((account, label))
        rows, totals = (cell.rows, cell.totals) if cell else (MonthMinutes.empty(), MonthTotals(0, 0, 0, 0, 0))
        items.append((account, rows, totals, billing.get((account, label)), totals.naive))
    return items
