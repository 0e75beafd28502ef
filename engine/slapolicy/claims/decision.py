"""The decision on a claim for compensation: reconciliation with the provider's records (§3.2(1)), the
aggregate cap (§6.1), and the decision with its ledger record; the window (§3.2) is ``window``'s, the
claim and its materials (§3.3) ``materials``'.

Every reason found is reported, each with its clause and a sentence a customer
understands. The decision is ``denied`` when any reason denies, else ``incomplete`` when
materials are missing, else ``approved`` with the compensation.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from .. import __version__
from ..calendar import ServiceMonth, minute_bounds, month_problem, service_month_in
from ..evaluation.classify import consecutive_runs
from ..evaluation.compensation import money_text
from ..evaluation.month import MonthEvaluation
from ..minutes import READ_DIGEST, read_digest
from ..minutes.storage import is_url, listing_digest
from ..errors import ArgumentError, BillingNeeded, InputError, NoVersionInForce, SlapolicyError
from ..ledger import Ledger, default_ledger_path
from .materials import REQUIRES_BY_ID, Claim, claim_reason, material_reasons, parse_claim
from .window import ClaimWindow, timing_reasons


DENYING = {"filed_too_early", "filed_too_late", "wrong_channel", "month_not_ended", "standard_met", "nothing_owed",
           "already_compensated"}


# ---------------------------------------------------------------------------- reconciliation

def minute_ranges(minutes: np.ndarray, timezone: str) -> list[dict]:
    """Sorted epoch minutes as compact [start, end) ranges in the policy's timezone."""
    zone = ZoneInfo(timezone)
    return [{"start": dt.datetime.fromtimestamp(s * 60, zone).isoformat(),
             "end": dt.datetime.fromtimestamp(e * 60, zone).isoformat(), "minutes": e - s}
            for s, e in consecutive_runs(minutes)]


def claimed_minutes(windows, rounding: str, first_minute: int, last_minute: int) -> np.ndarray:
    """The distinct minutes of the month [first_minute, last_minute) the claimed windows cover, sorted. The windows
    are merged first, so the work and memory are bounded by the month, not by how many windows overlap it: 2,000
    copies of a whole-month window (a 140 kB claim) took 2.2 GB as one array of minutes per window."""
    spans = sorted((max(lo, first_minute), min(hi, last_minute))
                   for lo, hi in (minute_bounds(start, end, rounding) for start, end in windows))
    merged: list[list[int]] = []
    for lo, hi in spans:
        if hi <= lo:
            continue
        if merged and lo <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    if not merged:
        return np.zeros(0, np.int64)
    return np.concatenate([np.arange(lo, hi, dtype=np.int64) for lo, hi in merged])


def reconcile(policy, claim: Claim, month: MonthEvaluation, first_minute: int, last_minute: int) -> dict:
    """§3.2(1): the provider's backend records prevail; list every disagreement with the claim."""
    # §1.5 "less than 1 minute is not counted": a claimed window counts the minutes it covers whole (or, with
    # partial_minutes: touched, every minute it touches).
    rounding = "inward" if policy.setting("availability", "partial_minutes") == "whole_minutes_only" else "outward"
    claimed = claimed_minutes(claim.unavailability, rounding, first_minute, last_minute)
    unavailable, counted, excluded = month.unavailable_minute, month.counted_minutes, month.excluded_minutes
    not_in_records = np.setdiff1d(claimed, unavailable, assume_unique=True)
    claimed_but_excluded = np.intersect1d(claimed, excluded, assume_unique=True)
    missed = np.setdiff1d(counted, claimed, assume_unique=True)
    tz = policy.timezone
    return {
        "clause": policy.ref("claims", "records_prevail"),
        "records_prevail": policy.setting("claims", "records_prevail"),  # the decision is computed from them
        "claimed_minutes": int(len(claimed)),
        "confirmed_minutes": int(len(np.intersect1d(claimed, counted, assume_unique=True))),
        "claimed_not_unavailable_in_records": minute_ranges(not_in_records, tz),
        "claimed_but_excluded": minute_ranges(claimed_but_excluded, tz),
        "unavailable_not_claimed": minute_ranges(missed, tz),
    }


# ---------------------------------------------------------------------------- §6.1

def month_index(month: str) -> int:
    return int(month[:4]) * 12 + int(month[5:]) - 1


def month_label(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def first_month_of_use(account: str, billing: dict) -> tuple[str | None, str]:
    """The account's first month of use and where it comes from: the billing's ``service_start`` when it gives
    one, else the first billed month (said in the decision, so a short billing history is visible)."""
    rows = [row for (a, _), row in billing.items() if a == account]
    starts = {row.service_start for row in rows if getattr(row, "service_start", None) is not None}
    if starts:
        start = min(starts)
        return f"{start.year:04d}-{start.month:02d}", f"service_start {start.isoformat()} in the billing"
    if not rows:
        return None, "no billing for the account"
    return min(row.month for row in rows), "the first billed month: the billing gives no service_start"


def cap_window(rule: dict, first_use: int, n: int) -> tuple[int, int]:
    """W(N), inclusive month indexes: every month of use through N while the months of use are at most
    ``after_months_of_use``; after that the ``lookback_months`` months ending with N."""
    if n - first_use + 1 <= rule["after_months_of_use"]:
        return first_use, n
    return max(first_use, n - rule["lookback_months"] + 1), n


def aggregate_cap(policy, account: str, month: str, billing: dict, grants: dict) -> dict:
    """§6.1 for a decision on ``month``: the room, the largest grant that keeps every constraint
    "grants for the months of W(N) ≤ fees paid in W(N)" true for every N ≥ month whose window W(N) contains
    the month, counting every grant already recorded (``grants``: month → (amount, decision id), whatever month
    it is for). Grants and fees are counted over the same months, so the answer does not depend on the order in
    which claims are decided unless a cap binds; when one binds, every constraint still holds."""
    rule = policy.raw["compensation"]["aggregate_cap"]
    if rule["value"] == "none":
        return {"applies": False, "clause": rule["ref"]}
    first, source = first_month_of_use(account, billing)
    m = month_index(month)
    f = month_index(first) if first is not None else m
    if m < f:
        raise InputError(f"billing: account {account!r} starts using the Services in {first} ({source}), after the "
                         f"claimed Service Month {month}")
    paid = {month_index(k): row.fee_paid for (a, k), row in billing.items() if a == account}
    granted = {month_index(k): amount for k, (amount, _) in grants.items()}
    constraints = []
    # W(N) contains the month for N from the month itself until the window has moved past it.
    for n in range(m, max(m + rule["lookback_months"], f + rule["after_months_of_use"])):
        lo, hi = cap_window(rule, f, n)
        if not lo <= m <= hi:
            continue
        fees = sum((paid.get(k, Decimal(0)) for k in range(lo, hi + 1)), Decimal(0))
        counted = sum((granted.get(k, Decimal(0)) for k in range(lo, hi + 1) if k != m), Decimal(0))
        constraints.append((fees - counted, n, lo, hi, fees, counted))
    room, n, lo, hi, fees, counted = min(constraints, key=lambda c: (c[0], c[1]))
    own_lo, own_hi = cap_window(rule, f, m)
    own_fees = sum((paid.get(k, Decimal(0)) for k in range(own_lo, own_hi + 1)), Decimal(0))
    own_granted = sum((granted.get(k, Decimal(0)) for k in range(own_lo, own_hi + 1) if k != m), Decimal(0))
    months_of_use = m - f + 1
    places = Decimal(1).scaleb(-policy.raw["compensation"]["rounding"]["places"])
    # The room is a ceiling: rounded down to the policy's money quantum, so a grant never exceeds the fees.
    room = max(room, Decimal(0)).quantize(places, rounding=ROUND_DOWN)

    def money(value: Decimal) -> str:  # 1.50 under whole units stays 1.50
        return money_text(value, places)

    months = [month_label(k) for k in range(own_lo, own_hi + 1)]
    if months_of_use > rule["after_months_of_use"]:
        rule_text = (f"used {months_of_use} months (more than {rule['after_months_of_use']}): fees paid in the "
                     f"{rule['lookback_months']} months ending with the damaged month ({months[0]} to {months[-1]})")
    else:
        rule_text = f"used {months_of_use} month(s): all fees paid since the first month of use ({months[0]} to {months[-1]})"
    return {
        "applies": True, "clause": rule["ref"],
        "first_month_of_use": first or month, "first_month_of_use_from": source, "months_of_use": months_of_use,
        "months": months, "window": {"from": months[0], "to": months[-1]},
        "fees_paid": money(own_fees), "already_granted": money(own_granted),
        "grants_counted": {month_label(k): money(a) for k, a in sorted(granted.items()) if own_lo <= k <= own_hi and k != m},
        "room": money(room),
        "tightest_window": {"month": month_label(n), "from": month_label(lo), "to": month_label(hi),
                            "fees_paid": money(fees), "granted": money(counted), "room": money(room)},
        "rule": rule_text,
    }


# ---------------------------------------------------------------------------- the decision

def input_record(source) -> dict | None:
    """What the ledger keeps of an input: its path and sha256, or for data handed in memory only a digest."""
    if source is None:
        return None
    if is_url(source):  # minutes named by URL: the listing's digest (see storage.listing_digest)
        return {"path": source, "sha256": file_digest(source)}
    if isinstance(source, (str, Path)):
        return {"path": str(Path(source).resolve()), "sha256": file_digest(source)}
    import pyarrow as pa  # heavy (0.2 s): loaded by the commands that read inputs

    if isinstance(source, (list, tuple)):
        payload = json.dumps(list(source), sort_keys=True, default=str).encode()
    else:
        table = source if isinstance(source, pa.Table) else pa.Table.from_pandas(source)
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        payload = sink.getvalue().to_pybytes()
    return {"path": None, "sha256": hashlib.sha256(payload).hexdigest()}


def minutes_record(source, plan: list, digest=None) -> dict:
    """The ledger's record of the minutes: the sha256 of the bytes read (only what could hold the claim's
    account and month: a claim never hashes a whole dataset), or of data handed in memory. ``digest``: a call
    that gives the sha256 already worked out while the minutes were read (``read_minutes(digest=True)``)."""
    if not isinstance(source, (str, Path)):
        return input_record(source)
    path = source if is_url(source) else str(Path(source).resolve())
    return {"path": path, "sha256": digest() if digest is not None else read_digest(source, plan),
            "sha256_of": READ_DIGEST}


def file_digest(path) -> str | None:
    """sha256 of a file; of a directory of minutes, over each file's relative path and sha256, in order."""
    if path is None:
        return None
    if is_url(path):
        return listing_digest(path)
    if Path(path).is_dir():
        files = sorted(p for p in Path(path).rglob("*") if p.is_file())
        listing = "".join(f"{p.relative_to(path).as_posix()}\t{file_digest(p)}\n" for p in files)
        return hashlib.sha256(listing.encode()).hexdigest()
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def claim_in_force(family, claim_data: dict, where: str = "claim") -> tuple:
    """The claim read (every field problem reported), its Service Month and the version in force for it (§6.2).
    ``claim_data``: a dict (the Engine, which calls this, refuses anything else first)."""
    month = claim_data.get("service_month")
    if not isinstance(month, str) or month_problem(month, "service_month"):
        parse_claim(claim_data, family.versions[0].timezone, where)  # reports every field problem
    try:
        probe = family.in_force(month)
    except NoVersionInForce:
        if not family.versions:
            raise
        # The month's 1st may precede every version while a term beginning later in the month is governed (§6.2):
        # the claim is read on the first version's clock, then on that of the version governing its Service Month.
        probe = family.versions[0]
    claim = parse_claim(claim_data, probe.timezone, where)
    try:
        service_month = service_month_in(claim.service_month, claim.term_start, claim.term_end)
    except SlapolicyError as exc:  # a month outside the term the claim states: named as every field problem is
        raise InputError(f"{where}: field 'service_month': {exc} (fields 'term_start' and 'term_end')") from None
    policy = family.in_force(service_month.start)
    if policy.timezone != probe.timezone:
        # A term starting mid-month begins its Service Month after the 1st, where a version taking effect between
        # the two governs it (§6.2): its times without an offset are on that version's clock, not the one of the 1st.
        claim = parse_claim(claim_data, policy.timezone, where)
    return claim, service_month, policy


def check_claim_time(policy, claim: Claim, service_month: ServiceMonth, now: dt.datetime, where: str = "claim") -> None:
    """A claim is decided at ``now``: for a Service Month that has begun, filed no later than now."""
    if now.tzinfo is None:
        raise ArgumentError("now must have a UTC offset (an aware datetime)")
    if service_month.bounds(policy.timezone)[0] > now:
        raise InputError(f"{where}: field 'service_month': {claim.service_month} has not begun yet (now is {now.isoformat()})")
    if claim.filed_at > now:
        raise InputError(f"{where}: field 'filed_at': {claim.filed_at.isoformat()} is in the future (now is {now.isoformat()})")


def check_claimed_windows(policy, claim: Claim, service_month: ServiceMonth, where: str = "claim") -> None:
    """§3.3: each window of unavailability a claim states names at least one minute of its Service Month, or the claim
    is refused (nothing recorded). A window wholly outside it ([start, end) ending at or before the month's first
    minute, or starting at or after its end) is not this claim's: decided anyway, it was left out of the
    reconciliation without a word, and a claim whose every window lay elsewhere (a service_month or a date mistyped)
    was approved for a month whose unavailability it never stated (docs/readings.md, "§3.3 The unavailability a claim
    states")."""
    begin, finish = service_month.bounds(policy.timezone)
    outside = [i for i, (start, end) in enumerate(claim.unavailability) if end <= begin or start >= finish]
    if not outside:
        return
    spans, month = claim.raw["unavailability"], f"{service_month.label} ({begin.isoformat()} to {finish.isoformat()})"
    stated = "; ".join(f"field 'unavailability[{i}]': {spans[i]['start']} to {spans[i]['end']} lies wholly outside "
                       f"Service Month {month}" for i in outside)
    raise InputError(f"{where}: {stated}; a claim states the unavailability of its own Service Month "
                     f"({_unavailability_ref(policy)}): correct the window or service_month, or claim that time for "
                     "the Service Month it lies in")


def _unavailability_ref(policy) -> str:
    """The clause of the material that asks for the date, time and duration of the unavailability (§3.3(2))."""
    return next((item["ref"] for item in policy.raw["claims"]["required_materials"]
                 if "unavailability" in (item.get("requires") or REQUIRES_BY_ID.get(item["id"], ()))), "§3.3")


def recorded_decision(ledger, claim: Claim) -> dict | None:
    """The decision already recorded for this very claim (answered from the ledger, whatever the inputs say now)."""
    own = not isinstance(ledger, Ledger)
    if own and not Path(ledger or default_ledger_path()).exists():
        return None
    book = ledger if not own else Ledger(ledger or default_ledger_path(), readonly=True)
    try:
        recorded = book.find(claim.digest)
        for earlier in claim.earlier_digests if recorded is None else ():  # as an earlier slapolicy recorded it
            recorded = book.find(earlier)
            if recorded is not None:
                break
    finally:
        if own:
            book.close()
    return None if recorded is None else dict(recorded, repeated=True)


def decision_inputs(claim: Claim, family, now: dt.datetime, files: dict, minutes_plan: list,
                    minutes_digest=None) -> dict:
    """What the ledger keeps to decide the claim again (slapolicy audit): the claim, the directory, the engine's
    version, the time and each input's path and sha256 (``files``: name → path or data; for the minutes, of
    the bytes read by ``minutes_plan``: see :func:`minutes_record`)."""
    records = {name: minutes_record(source, minutes_plan, minutes_digest) if name == "minutes" else input_record(source)
               for name, source in files.items()}
    return {"claim": claim.raw, "policy_dir": str(family.path.resolve()), "engine": __version__,
            "now": now.isoformat(), "files": records}


def gate_shut(policy, evaluation: dict) -> bool:
    """Whether the gate of §2.2 and §3 leaves the month nothing to claim: the standard met under `below_standard`.
    Under `tiers_only` the tiers pay as written above the standard too, as evaluate and replay say (a claim there
    was denied standard_met for a month evaluate owed 10 %)."""
    return evaluation["meets_standard"] and policy.gate != "tiers_only"


def decide(policy, claim: Claim, service_month: ServiceMonth, window: ClaimWindow, month: MonthEvaluation, *,
           billing: dict, ledger, inputs: dict, now: dt.datetime, manager) -> dict:
    """The decision on a claim whose Service Month is evaluated (``month``), recorded in the ledger (a path or a
    :class:`~slapolicy.ledger.Ledger`) once: every reason found (§3.2, §3.3), the reconciliation with the
    provider's records (§3.2(1)), and the amount within the §6.1 aggregate cap."""
    reasons = timing_reasons(policy, claim, service_month, window)
    reasons += material_reasons(policy, claim)
    first, last = service_month.epoch_minutes(policy.timezone)
    evaluation = month.result
    reconciliation = reconcile(policy, claim, month, first, last)
    inputs_digest = hashlib.sha256(json.dumps([policy.sha256, inputs["files"], claim.digest], sort_keys=True,
                                              default=str).encode()).hexdigest()
    decided_at = now.astimezone(dt.timezone.utc).isoformat()

    def billing_needed() -> InputError:
        return BillingNeeded(claim.account, service_month.label, bool(billing))

    def build(grants: dict):
        found = list(reasons)
        amount = None
        detail = None
        if gate_shut(policy, evaluation):
            found.append(claim_reason("standard_met", policy.ref("availability", "standard"),
                                 f"Service Availability in {service_month.label} was {evaluation['availability_percent']}%, "
                                 f"which meets the Service Availability Standard of {policy.standard}%: no compensation "
                                 "is owed."))
        elif service_month.label in grants:
            previous_amount, previous_id = grants[service_month.label]
            found.append(claim_reason("already_compensated", policy.ref("compensation", "monthly_cap"),
                                 f"Compensation of {previous_amount} for {service_month.label} was already granted "
                                 f"(decision {previous_id}); a Service Month is compensated once."))
        elif evaluation["compensation"] is None:
            raise billing_needed()
        else:
            monthly = Decimal(evaluation["compensation"])
            cap = aggregate_cap(policy, claim.account, service_month.label, billing, grants)
            amount = min(monthly, Decimal(cap["room"])) if cap["applies"] else monthly
            detail = {"monthly": str(monthly), "aggregate_cap": cap, "capped": amount < monthly}
            if amount <= 0:
                # Why, with the clause that makes it nothing: the §6.1 room spent, no tier covering the month (under
                # tiers_only a month above every tier, which said "the cap of the fee paid is 0.00", citing §3.1(2),
                # of a fee paid in full), or the month's own amount 0.00 (the fee paid is 0).
                if monthly > 0:
                    clause, why = cap["clause"], "the §6.1 aggregate cap is reached"
                elif evaluation["credit_percent"] == 0:
                    clause = policy.ref("compensation")
                    why = f"no tier of {clause} covers {evaluation['availability_percent']}%: credit 0%"
                else:
                    clause = policy.ref("compensation", "monthly_cap")
                    why = "the compensation after exclusions and the cap of the fee paid is 0.00"
                standing = ("below the standard" if not evaluation["meets_standard"] else
                            f"{evaluation['availability_percent']}%, which meets the standard (the tiers alone pay: "
                            f"{policy.ref('compensation', 'gate')} tiers_only)")
                found.append(claim_reason("nothing_owed", clause, f"Availability was {standing}, but nothing is owed: "
                                                                  f"{why}."))
        codes = {r["code"] for r in found}
        decision = "denied" if codes & DENYING else "incomplete" if codes else "approved"
        granted = amount if decision == "approved" else None
        message = None
        if decision == "approved":
            message = f"Compensation of {granted} is granted as {policy.setting('compensation', 'form')}."
            if detail["capped"]:
                tight = detail["aggregate_cap"]["tightest_window"]
                message += (f" It is capped by §6.1 at {granted} (of {detail['monthly']}): the fees paid from "
                            f"{tight['from']} to {tight['to']} are {tight['fees_paid']}, of which {tight['granted']} "
                            "were already granted for other months of that window.")
        result = {
            "decision_id": "D-" + claim.digest[:20],
            "decision": decision,
            "reasons": found,
            "message": message,
            "account": claim.account,
            "service_month": service_month.label,
            "filed_at": claim.filed_at.isoformat(),
            "decided_at": decided_at,
            "window": window.as_dict(),
            "policy": policy.summary(),
            "evaluation": evaluation,
            "compensation": str(granted) if granted is not None else None,
            "compensation_detail": detail,
            "reconciliation": reconciliation,
            "inputs_digest": inputs_digest,
        }
        return result, inputs, granted

    own = not isinstance(ledger, Ledger)
    if own and not gate_shut(policy, evaluation) and evaluation["compensation"] is None \
            and not Path(ledger or default_ledger_path()).exists():
        raise billing_needed()  # refused before the decision: no ledger file is created for it
    # A ledger this decision creates is made with the decision in it (Ledger's first_decision: two syncs, not seven).
    book = Ledger(ledger or default_ledger_path(), first_decision=(claim.digest, claim.account, build)) if own \
        else ledger
    try:
        result, new = book.decided_first or book.decide(claim.digest, claim.account, build)
    finally:
        if own:
            book.close()
    result = dict(result, repeated=not new)
    if new:
        try:
            manager.hook.slapolicy_decision_made(decision=result)
        except Exception as exc:  # noqa: BLE001 — the decision is recorded; forwarding is best effort
            result["forwarding_error"] = f"{type(exc).__name__}: {exc}"
    return result

