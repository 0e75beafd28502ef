"""Compensation (§3): the availability shown, the tier it falls in, the gate of the service standard, the
rounding and the caps, each step written to the trace."""
from __future__ import annotations

import functools
from typing import NamedTuple
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from fractions import Fraction

from .classify import trace_step


ROUNDING = {"half_up": ROUND_HALF_UP, "half_even": ROUND_HALF_EVEN, "down": ROUND_DOWN}


def percent_text(value: Fraction, places: int, rounding: str = "half_up") -> str:
    """An exact percentage (a Fraction of 100) rounded for display only."""
    quantum = Decimal(1).scaleb(-places)
    exact = Decimal(value.numerator) / Decimal(value.denominator) if value.denominator != 1 else Decimal(value.numerator)
    if rounding == "half_up":  # exact half-up on the rational, no double rounding
        # Away from 0 on a tie, as Decimal's ROUND_HALF_UP (compensation.rounding, and half_even and down here) is:
        # a negative availability (a month the clocks go back, §1.6) mirrors its positive, −0.125 % → −0.13.
        scaled = abs(value) * 10 ** places
        whole, rest = divmod(scaled.numerator, scaled.denominator)
        if 2 * rest >= scaled.denominator:
            whole += 1
        shown = (Decimal(whole) * quantum).quantize(quantum)
        return str(shown.copy_negate() if value < 0 else shown)  # −0.002 % is "-0.00", as Decimal shows it
    return str(exact.quantize(quantum, rounding=ROUNDING[rounding]))


@functools.lru_cache(maxsize=4096)  # accounts of a month share few counts of minutes, so few availabilities
def shown_availability(policy, availability: Fraction) -> str:
    """The availability as displayed (§2.1): rounded as the policy says, with as many more decimals as needed so
    that the shown figure lies on the same side as the exact value of the standard and of every tier boundary.
    217 unavailable minutes in a 30-day month are 99.4977 %: "99.498", never "99.50" beside "standard not met"."""
    return shown_under(display_terms(policy), availability)


class DisplayTerms(NamedTuple):
    """What decides how a version shows an availability (§2.1): its decimals, its rounding, and the thresholds the
    figure shown must stay on the same side of (the standard, then every tier's bounds). A replay asks which of them
    moved a row's figure (slapolicy.replay)."""

    display_decimals: int
    display_rounding: str
    standard: tuple  # ((numerator, denominator, inclusive), None): the standard as a tier with no upper bound
    tiers: tuple  # ((lower, upper), ...), each bound (numerator, denominator, inclusive) or None


@functools.lru_cache(maxsize=64)
def display_terms(policy) -> DisplayTerms:
    thresholds = _thresholds(policy)
    return DisplayTerms(policy.display_decimals, policy.setting("availability", "display_rounding"), thresholds[0],
                        thresholds[1:])


@functools.lru_cache(maxsize=4096)
def shown_under(terms: DisplayTerms, availability: Fraction) -> str:
    """:func:`shown_availability` under ``terms``, which a replay may mix from two versions."""
    places, rounding, thresholds = terms.display_decimals, terms.display_rounding, (terms.standard, *terms.tiers)
    exact = _sides(thresholds, availability.numerator, availability.denominator)
    for extra in range(40):  # a value ≠ a threshold is told apart from it within a few more places
        text = percent_text(availability, places + extra, rounding)
        if _sides(thresholds, *Decimal(text).as_integer_ratio()) == exact:
            return text
    return text


@functools.lru_cache(maxsize=64)
def _thresholds(policy) -> tuple:
    """The standard, then every tier's bounds, in integers: ((numerator, denominator, inclusive) or None, ...).
    The sides :func:`shown_availability` compares, without Fractions (they compare through the numbers ABCs,
    many times slower, and each availability asks a few dozen times)."""
    def bound(value, inclusive: bool):
        return None if value is None else (*Decimal(value).as_integer_ratio(), inclusive)

    standard = bound(policy.standard, policy.standard_met_when == "at_least")
    return (standard, None), *((bound(t.lower, t.lower_inclusive), bound(t.upper, t.upper_inclusive)) for t in policy.tiers)


def _sides(thresholds: tuple, numerator: int, denominator: int) -> tuple:
    """Whether the value numerator/denominator (denominator > 0) meets the standard, then whether each tier
    contains it (as ``Tier.contains``): above (or on, when inclusive) the lower bound, below (or on) the upper."""
    sides = []
    for low, high in thresholds:
        inside = True
        if low is not None:
            n, d, inclusive = low
            difference = numerator * d - n * denominator  # the sign of value − bound
            inside = difference > 0 or (difference == 0 and inclusive)
        if inside and high is not None:
            n, d, inclusive = high
            difference = numerator * d - n * denominator
            inside = difference < 0 or (difference == 0 and inclusive)
        sides.append(inside)
    return tuple(sides)


def _meets_standard(policy, availability: Fraction) -> bool:
    standard = policy.exact_standard
    return availability >= standard if policy.standard_met_when == "at_least" else availability > standard


@functools.lru_cache(maxsize=4096)
def tier_of(policy, availability: Fraction):
    """The tier of §3.1 the exact availability falls in, or None."""
    return next((t for t in policy.tiers if t.contains(availability)), None)


def percent_number(value: Decimal):
    """A Decimal percentage as a JSON number (int when whole)."""
    return int(value) if value == value.to_integral_value() else float(value)


BASE = {"monthly_service_fee": lambda billing: billing.monthly_fee}  # compensation.base (§1.3)


@functools.lru_cache(maxsize=64)
def before_aggregate_cap_note(policy) -> str:
    """Said by every evaluation: its amount is the month's own; only a claim applies §6.1 against the grants."""
    clause = policy.raw["compensation"]["aggregate_cap"]["ref"]
    return (f"the compensation is before the {clause} aggregate cap, which a claim applies against the "
            "compensation already granted (slapolicy claim)")


@functools.lru_cache(maxsize=4096)
def standard_and_credit(policy, availability: Fraction) -> tuple[bool, Decimal, tuple]:
    """Whether the availability meets the standard (§2.2), the credit its tier pays through the gate (§3.1),
    and the trace steps that say so: the same for every account with this availability."""
    steps: list = []
    met = _meets_standard(policy, availability)
    standard_ref = policy.ref("availability", "standard")
    trace_step(steps, "standard", standard_ref,
          f"availability {'meets' if met else 'is below'} the standard of {policy.standard}% "
          f"({'met when at least' if policy.standard_met_when == 'at_least' else 'met when above'})")
    tier = tier_of(policy, availability)
    gate_open = policy.gate == "tiers_only" or not met
    if tier is None:
        credit = Decimal(0)
        trace_step(steps, "tier", policy.ref("compensation"), "no tier covers this availability: credit 0%")
    elif not gate_open:
        credit = Decimal(0)
        trace_step(steps, "tier", tier.ref, f"tier {tier.index + 1} ({tier.describe()}) matches, but the gate "
                                       f"({policy.ref('compensation', 'gate')}) pays only below the standard: credit 0%")
    else:
        credit = tier.credit
        trace_step(steps, "tier", tier.ref, f"tier {tier.index + 1} ({tier.describe()}): credit {tier.credit}% of the Monthly Service Fee")
    return met, credit, tuple(steps)


class MoneyTerms(NamedTuple):  # a NamedTuple: a quarter of a dataclass's making at every start
    """How a version turns a credit into money (§3.1(2), compensation.*), read once per version."""

    quantum: Decimal  # compensation.rounding.places
    rounding: str  # compensation.rounding
    base: object  # compensation.base: billing -> the fee the credit is a percentage of
    capped: bool  # compensation.monthly_cap is fee_paid
    cap_ref: str
    rounding_ref: str
    form: str


@functools.lru_cache(maxsize=64)
def money_terms(policy) -> MoneyTerms:
    rounding = policy.raw["compensation"]["rounding"]
    capped = policy.setting("compensation", "monthly_cap") == "fee_paid"
    return MoneyTerms(Decimal(1).scaleb(-rounding["places"]), ROUNDING[rounding["value"]],
                       BASE[policy.setting("compensation", "base")], capped,
                       policy.ref("compensation", "monthly_cap") if capped else "",
                       policy.ref("compensation", "rounding"), policy.setting("compensation", "form"))


# What the trace of a month without an amount says, by whether any billing was given (the credit is a percentage of
# the Monthly Service Fee, which only the billing gives, §1.3). The words of the first name the CLI's option and the
# API's argument; `slapolicy serve` puts its own in their place (service.py), since its client sends "billing" rows.
NO_BILLING_GIVEN = ("no billing was given: no amount computed (the credit is a percentage of the Monthly Service Fee, "
                    "which the billing gives: give --billing FILE, in Python billing=)")
NO_BILLING_ROW = "the billing given has no row for this account and month: no amount computed"


def no_billing_step(policy, trace: list, given: bool = True) -> None:
    """The compensation step of a month whose account has no billing for it: the fee is the billing's (§1.3).
    ``given``: whether billing was given at all (an evaluation without it said "no billing for this account and
    month", with nothing of how to give it)."""
    trace_step(trace, "compensation", policy.ref("compensation", "base"), NO_BILLING_ROW if given else NO_BILLING_GIVEN)


def compensation_for(policy, availability: Fraction, billing, trace: list, account: str, service_month) -> dict:
    """What an availability pays on a bill (or without one): the standard met, the credit, the fee and the
    compensation, each step written to ``trace``. The rule examples of the standard, gate, tiers and monthly cap
    run through it (policy/examples.py); a month's evaluation uses the same steps, remembered per count of
    minutes (evaluation/month.py)."""
    met, credit, steps = standard_and_credit(policy, availability)
    trace.extend(dict(step) for step in steps)  # each result owns its trace
    out = {"meets_standard": met, "credit_percent": percent_number(credit), "monthly_fee": None, "compensation": None}
    if billing is None:
        no_billing_step(policy, trace)
        return out
    fee, amount, detail = compensation_on_bill(policy, credit, billing)
    trace_step(trace, "compensation", money_terms(policy).rounding_ref, detail)
    out.update({"monthly_fee": fee, "compensation": amount})
    return out


def compensation_on_bill(policy, credit: Decimal, billing) -> tuple[str, str, str]:
    """The fee, the compensation a credit pays on a bill (§3.1(2)) and the trace's words for it."""
    terms = money_terms(policy)
    quantum, rounding = terms.quantum, terms.rounding
    fee = terms.base(billing)
    owed = fee * credit / 100
    detail = f"fee {fee} × {credit}% = {owed.quantize(quantum, rounding=rounding)}"
    if terms.capped:
        cap = billing.fee_paid
        if owed > cap:
            detail += f"; capped at the fee paid {fee} − {billing.offset} offset = {cap} ({terms.cap_ref})"
            owed = cap
        else:
            detail += f"; within the fee paid {cap} ({terms.cap_ref})"
    amount = owed.quantize(quantum, rounding=rounding)
    if terms.capped:
        # The cap is a ceiling: rounding (to whole units, say) never lifts the amount above the fee paid.
        amount = min(amount, billing.fee_paid.quantize(quantum, rounding=ROUND_DOWN))
    return money_text(fee, quantum), str(amount), f"{detail}: compensation {amount} as {terms.form}"


def money_text(value: Decimal, quantum: Decimal) -> str:
    """An amount billed, at the policy's places (compensation.rounding.places) when that loses nothing; otherwise as
    billed: 1000.50 under whole units is "1000.50", never "1000" (a bill it is not)."""
    shown = value.quantize(quantum)
    return str(shown if shown == value else value)
