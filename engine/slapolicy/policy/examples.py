"""``slapolicy test``: run the examples written inside each rule through the engine.

Like ``opa test``, a run that tests nothing fails: a clause without an example is a
failure, and so is a file with no clauses.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from types import SimpleNamespace

from ..calendar import calendar_month
from ..claims.decision import aggregate_cap, month_index, month_label
from ..claims.materials import material_reasons
from ..claims.window import business_calendar, claim_window
from ..inputs.billing import BillingRow
from ..inputs.timestamps import parse_timestamp
from ..errors import Diagnostic, SlapolicyError
from ..evaluation.compensation import compensation_for, shown_availability
from ..evaluation.month import availability_of
from .lint import PERCENT_SIGN, as_digits
from .model import percent


@dataclass
class ExampleReport:
    passed: int = 0
    failed: int = 0
    failures: list[Diagnostic] = field(default_factory=list)
    clauses_exercised: set = field(default_factory=set)
    rules: list = field(default_factory=list)  # RuleCoverage of every rule, disclaimers included

    def add(self, other: "ExampleReport") -> None:
        self.passed += other.passed
        self.failed += other.failed
        self.failures.extend(other.failures)
        self.clauses_exercised |= other.clauses_exercised
        self.rules.extend(other.rules)

    @property
    def rules_exercised(self) -> int:
        return sum(rule.exercised for rule in self.rules)

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.passed > 0


def _show_facts(facts: dict) -> str:
    return ", ".join(f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in facts.items()) or "defaults only"


def run_examples(policy) -> ExampleReport:
    """Run every example of the version: the disclaimers' and those of every other rule."""
    report = ExampleReport()
    doc = policy.doc
    coverage, failures = run_rule_examples(policy)
    for clause in policy.clauses:
        where = ("disclaimers", clause.index)
        rule = RuleCoverage(f"{clause.ref} {clause.title}", where)
        report.rules.append(rule)
        if not clause.examples:
            report.failed += 1
            report.failures.append(doc.diagnostic(where + ("id",), "no-examples",
                                                  f"FAIL clause {clause.id} ({clause.ref}) has no examples"))
            continue
        for number, example in enumerate(clause.examples, start=1):
            facts = policy.complete_facts(example.facts)
            applies = clause.id in policy.ruleset.match(facts)
            if applies == example.applies:
                report.passed += 1
                rule.passed += 1
                report.clauses_exercised.add(clause.id)
            else:
                report.failed += 1
                rule.failed += 1
                report.failures.append(doc.diagnostic(
                    example.path, "example-failed",
                    f"FAIL clause {clause.id} ({clause.ref}) example {number}: expected applies: "
                    f"{str(example.applies).lower()}, got {str(applies).lower()} ({_show_facts(example.facts)})"))
    report.rules = coverage + report.rules
    report.passed += sum(rule.passed for rule in coverage)
    report.failed += sum(rule.failed for rule in coverage)
    report.failures.extend(failures)
    return report


# ---------------------------------------------------------------------------- examples for every rule
#
# Disclaimers are not the only rules an amendment changes. The standard, the gate, each tier,
# the monthly cap, §6.1, the claim window and the materials carry ``examples:`` beside their
# settings; each example is a small case and the answer the engine must give, computed by the
# same functions that evaluate months and decide claims.


@dataclass
class RuleCoverage:
    """One rule of a version, its examples' results, and (for tiers) which bounds an example sits on."""

    rule: str  # e.g. "§3.1 tier 1 ≥ 99% and < 99.95%"
    path: tuple
    passed: int = 0
    failed: int = 0
    bounds: dict = field(default_factory=dict)  # bound text -> tested (tiers only)

    @property
    def exercised(self) -> bool:
        return self.passed + self.failed > 0

    def line(self) -> str:
        state = "exercised" if self.exercised else "NOT EXERCISED"
        if self.failed:
            state = f"{self.failed} FAILED"
        bounds = "; ".join(f"bound {b} {'tested' if ok else 'UNTESTED'}" for b, ok in self.bounds.items())
        return f"  {self.rule:<52} {self.passed + self.failed:>2} example(s)  {state}" + (f"  ({bounds})" if bounds else "")


def _pct(text):
    return Fraction(percent(str(text)))


def _money(text) -> Decimal:
    return Decimal(str(text))


def _compensation_of(policy, example: dict, billing=None) -> dict:
    return compensation_for(policy, _pct(example["availability"]), billing, [], "example", None)


def _billing_row(example: dict):
    return BillingRow("example", "example", _money(example["monthly_fee"]), _money(example.get("offset", "0")))


def _check_standard(policy, example):
    return str(_compensation_of(policy, example)["meets_standard"]).lower(), str(example["meets"]).lower()


def _check_credit(policy, example):
    credit = _compensation_of(policy, example)["credit_percent"]
    return f"{credit}%", f"{percent_text(example['credit'])}%"


def _check_monthly_cap(policy, example):
    return _compensation_of(policy, example, _billing_row(example))["compensation"], str(example["compensation"])


def _check_aggregate_cap(policy, example):
    # Every month from billed_from to billed_to (default: the month) is billed at fee_paid_each_month;
    # §6.1 also weighs the windows after the month, so an example bills them when it wants them counted.
    month, first, last = example["month"], example["billed_from"], example.get("billed_to", example["month"])
    billing = {}
    for index in range(month_index(first), month_index(last) + 1):
        label = month_label(index)
        billing[("example", label)] = BillingRow("example", label, _money(example["fee_paid_each_month"]), Decimal(0))
    grants = {m: (_money(amount), None) for m, amount in (example.get("granted") or {}).items()}
    cap = aggregate_cap(policy, "example", month, billing, grants)
    return cap.get("room", "no cap"), str(example["room"])


def _check_window(side):
    def check(policy, example):
        window = claim_window(policy, calendar_month(example["service_month"]), business_calendar(policy))
        got, expected = getattr(window, side), str(example[side])
        try:  # the instant, as every timestamp is read: "…T00:00+08:00", "…T16:00:00Z", no offset: the policy's zone
            same = parse_timestamp(expected, policy.timezone)[0] == got
        except SlapolicyError:
            same = False  # not a timestamp: it fails, showing what was written
        return got.isoformat(), got.isoformat() if same else expected
    return check


def _check_material(item):
    def check(policy, example):
        claim = example.get("claim") or {}
        given = SimpleNamespace(event_report=claim.get("event_report"), unavailability=tuple(claim.get("unavailability") or ()),
                                failure_records=claim.get("failure_records"))
        missing = any(r["clause"] == item["ref"] for r in material_reasons(policy, given))
        return str(missing).lower(), str(example["missing"]).lower()
    return check


_MONTH = (r"[0-9]{4}-(0[1-9]|1[0-2])", "a month written YYYY-MM, like 2019-03")
_MONEY = (r"[0-9]{1,15}(\.[0-9]{1,2})?", 'an amount like "100.00" (at most 15 digits before the point, 2 after)')
_PERCENT = (r"(100(\.0+)?|[0-9]{1,2}(\.[0-9]+)?)%", 'a percentage like "99.5%", at most 100%')
# What each value an example gives must look like: a month "2019-13" or a fee "1e2" was computed with all the
# same (as month 1 of 2020, as 100), and the example checked something its author did not write.
_SHAPES = {"availability": _PERCENT, "credit": _PERCENT, "monthly_fee": _MONEY, "offset": _MONEY,
           "compensation": _MONEY, "fee_paid_each_month": _MONEY, "month": _MONTH,
           "room": (_MONEY[0] + "|no cap", 'an amount like "5.00", or "no cap"'),
           "billed_from": _MONTH, "billed_to": _MONTH, "service_month": _MONTH}


def _misshapen(example: dict) -> str | None:
    """What is wrong with the first value of ``example`` that is not written as its key needs, if any."""
    values = [(key, example[key], _SHAPES[key]) for key in _SHAPES if key in example]
    granted = example.get("granted")
    if isinstance(granted, dict):
        values += [(f"granted {month!r}", month, _MONTH) for month in granted]
        values += [(f"granted[{month!r}]", amount, _MONEY) for month, amount in granted.items()]
    elif granted is not None:
        return f"granted must be a mapping of month to amount, like {{\"2019-02\": \"25.00\"}} — got {granted!r}"
    for key, value, (pattern, phrase) in values:
        if isinstance(value, bool) or not isinstance(value, (str, int)) or not re.fullmatch(pattern, str(value), re.ASCII):
            return f"{key} must be {phrase} — got {value!r}"
    return None


# The key of each rule's example that gives the answer the engine must give; the others give the case.
_ANSWERS = frozenset({"meets", "credit", "compensation", "room", "opens", "closes", "missing"})


def percent_text(text) -> str:
    return str(text).rstrip("%").strip()


def _rules(policy) -> list[tuple[str, tuple, list, object, set]]:
    """(name, path, examples, check, keys an example needs) for every rule other than the disclaimers."""
    raw = policy.raw
    comp, claims = raw["compensation"], raw["claims"]
    rules = [(f"{raw['availability']['standard']['ref']} standard", ("availability", "standard"),
              raw["availability"]["standard"].get("examples", []), _check_standard, {"availability", "meets"}),
             (f"{comp['gate']['ref']} gate", ("compensation", "gate"), comp["gate"].get("examples", []), _check_credit,
              {"availability", "credit"})]
    for tier, entry in zip(policy.tiers, comp["tiers"]):
        rules.append((f"{tier.ref} tier {tier.index + 1} {tier.describe()}", ("compensation", "tiers", tier.index),
                      entry.get("examples", []), _check_credit, {"availability", "credit"}))
    rules += [(f"{comp['monthly_cap']['ref']} monthly cap", ("compensation", "monthly_cap"),
               comp["monthly_cap"].get("examples", []), _check_monthly_cap, {"availability", "monthly_fee", "compensation"}),
              (f"{comp['aggregate_cap']['ref']} aggregate cap", ("compensation", "aggregate_cap"),
               comp["aggregate_cap"].get("examples", []), _check_aggregate_cap,
               {"month", "billed_from", "fee_paid_each_month", "room"}),
              (f"{claims['window_opens']['ref']} claim window opens", ("claims", "window_opens"),
               claims["window_opens"].get("examples", []), _check_window("opens"), {"service_month", "opens"}),
              (f"{claims['window_closes']['ref']} claim window closes", ("claims", "window_closes"),
               claims["window_closes"].get("examples", []), _check_window("closes"), {"service_month", "closes"})]
    for i, item in enumerate(claims["required_materials"]):
        rules.append((f"{item['ref']} material {item['id']}", ("claims", "required_materials", i),
                      item.get("examples", []), _check_material(item), {"missing"}))
    return rules


def _availability_examples(policy) -> set:
    """Every availability an example anywhere in the version is written at (for boundary coverage)."""
    found = set()
    for _, _, examples, _, needs in _rules(policy):
        if "availability" in needs:
            for example in examples:
                try:
                    found.add(_pct(example["availability"]))
                except (KeyError, ArithmeticError, ValueError):
                    continue
    return found


def run_rule_examples(policy) -> tuple[list[RuleCoverage], list[Diagnostic]]:
    """Run the examples of every rule that is not a disclaimer: (coverage rule by rule, failures)."""
    doc, coverage, failures = policy.doc, [], []
    tested = _availability_examples(policy)
    for name, path, examples, check, needs in _rules(policy):
        rule = RuleCoverage(name, path)
        for number, example in enumerate(examples, start=1):
            where = path + ("examples", number - 1)
            missing = sorted(needs - set(example))
            if missing:
                rule.failed += 1
                failures.append(doc.diagnostic(where, "example-failed", f"FAIL {name} example {number}: needs "
                                               f"{', '.join(missing)} (has {', '.join(map(str, example)) or 'nothing'})"))
                continue
            wrong = _misshapen(example)
            if wrong:
                rule.failed += 1
                failures.append(doc.diagnostic(where, "example-failed", f"FAIL {name} example {number}: {wrong}"))
                continue
            try:
                got, expected = check(policy, example)
            except (ArithmeticError, ValueError, KeyError, TypeError, SlapolicyError) as exc:
                got, expected = f"an error ({exc})", "an answer"
            if got == expected:
                rule.passed += 1
            else:
                rule.failed += 1
                # said as a clause's example is: the answer by its key, then what the example gives
                answer, = needs & _ANSWERS
                given = _show_facts({key: value for key, value in example.items() if key != answer})
                failures.append(doc.diagnostic(where, "example-failed", f"FAIL {name} example {number}: expected "
                                               f"{answer}: {expected}, got {got} ({given})"))
        if path[:2] == ("compensation", "tiers"):
            tier = policy.tiers[path[2]]
            for bound in (tier.lower, tier.upper):
                if bound is not None:
                    rule.bounds[f"{bound}%"] = Fraction(bound) in tested
        coverage.append(rule)
    return coverage, failures


# The agreement's own worked example of Service Availability (§2.1): "if the Call Success Rate of each minute is 98%
# (less than 99%) in 30 minutes ... = 1 -(30/(31 × 24 × 60))× 100% = 99.93%".
_NUMBER = r"[0-9]+(?:\.[0-9]+)?"
_TIMES = r"\s*[×xX*·]\s*"
_WORKED = re.compile(rf"1\s*[-−–]\s*\(\s*(?P<minutes>[0-9]+)\s*/\s*\(\s*(?P<days>[0-9]+){_TIMES}24{_TIMES}60\s*\)\s*\)"
                     rf"{_TIMES}100{PERCENT_SIGN}\s*=\s*(?P<shown>{_NUMBER}){PERCENT_SIGN}", re.IGNORECASE)
_MINUTES_AT = re.compile(rf"(?P<rate>{_NUMBER}){PERCENT_SIGN}\s*\(\s*(?P<said>(?:less|lower) than|below|under)\s*"
                         rf"(?P<threshold>{_NUMBER}){PERCENT_SIGN}\s*\)", re.IGNORECASE)


def worked_example_disagrees(policy) -> list[Diagnostic]:
    """``words-disagree``, a warning at the words of a provision that works an example of Service Availability (§2.1's:
    minutes at 98 % "(less than 99%)", 1 − 30/(31 × 24 × 60) = 99.93 %) where the version decides it otherwise: its
    minutes are not Service Unavailability Minutes under the version's threshold (§1.5), the threshold its words name
    is not the version's, or the version shows the availability otherwise (its decimals and rounding, §2.1). An
    amendment of §1.5's threshold to 98 %, or of the decimals to 3, left the agreement's own example saying what the
    version no longer computes, and validate said nothing: its words apply no setting (``applied_by``) it compares."""
    provisions = policy.raw.get("provisions")
    found = []
    for i, entry in enumerate(provisions if isinstance(provisions, list) else []):
        text = as_digits(entry.get("text") or "") if isinstance(entry, dict) else ""
        worked = _WORKED.search(text)
        if worked is None:
            continue

        def disagree(says: str, remedy: str = "the setting") -> None:
            found.append(policy.doc.diagnostic(
                ("provisions", i, "text"), "words-disagree",
                f"provision {entry.get('ref')}'s worked example {says}: amend the example with {remedy}, or "
                f"{remedy} with the example", severity="warning"))

        threshold, ref = policy.unavailable_below, policy.ref("availability", "minute_unavailable_below")
        for minutes in _MINUTES_AT.finditer(text):
            rate = Decimal(minutes["rate"])
            if rate >= threshold:
                disagree(f"counts its minutes at {rate}% as Service Unavailability Minutes, but under "
                         f"availability.minute_unavailable_below ({ref}), {threshold}%, a minute at {rate}% is available")
            elif Decimal(minutes["threshold"]) != threshold:
                disagree(f"says its minutes at {rate}% are \"{minutes['said']} {minutes['threshold']}%\", the threshold of "
                         f"a Service Unavailability Minute, but availability.minute_unavailable_below ({ref}) is "
                         f"{threshold}%")
        counted, days = int(worked["minutes"]), int(worked["days"])
        if days and counted <= days * 1440:
            shown = shown_availability(policy, availability_of(days * 1440, counted))
            if shown != worked["shown"]:
                disagree(f"shows 1 − {counted}/({days} × 24 × 60) as {worked['shown']}%, but this version shows that "
                         f"availability as {shown}% (availability.display_decimals {policy.display_decimals}, "
                         f"display_rounding {policy.setting('availability', 'display_rounding')})", "the settings")
    return found


def untested_rules(policy) -> list[Diagnostic]:
    """A warning for each rule (not a disclaimer) no example exercises, and each tier bound no example sits on."""
    found = []
    for rule in run_rule_examples(policy)[0]:
        if not rule.exercised:
            found.append(policy.doc.diagnostic(rule.path, "untested-rule",
                                               f"no example exercises {rule.rule}: `slapolicy test` cannot check it",
                                               severity="warning"))
        for bound, ok in rule.bounds.items():
            if rule.exercised and not ok:
                found.append(policy.doc.diagnostic(rule.path, "untested-bound",
                                                   f"no example sits on the bound {bound} of {rule.rule}", severity="warning"))
    return found
