"""§6.1, the aggregate cap: fees paid, months of use, the inclusive rolling window W(N), and constraints for
every later month whose window contains the claimed one (docs/readings.md, §6.1). Grants come from the ledger."""
import datetime as dt
import hashlib
import tempfile
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import POLICIES, PUBLISHED
from helpers import draft_variant, minute_rows, write_csv
from slapolicy import load_policy
from slapolicy.claims import aggregate_cap, cap_window, decide_claim, month_index, month_label
from slapolicy.inputs import BillingRow
from slapolicy.ledger import Ledger

NO_MONTHLY_CAP = ("  monthly_cap: {value: fee_paid, ref:", "  monthly_cap: {value: none, ref:")


def published_without_monthly_cap(directory: Path) -> Path:
    """The shipped version with §3.1(2)'s monthly cap removed, as a published family of its own."""
    import json

    text = PUBLISHED.read_text()
    assert NO_MONTHLY_CAP[0] in text
    family = directory / "no-monthly-cap"
    family.mkdir()
    version = family / "2019-01-01.yaml"
    version.write_text(text.replace(*NO_MONTHLY_CAP))
    (family / "versions.lock").write_text(json.dumps({version.name: hashlib.sha256(version.read_bytes()).hexdigest()}))
    return family


# ---------------------------------------------------------------------------- decisions through the ledger

@pytest.fixture
def two_months(tmp_path):
    """March 2024 pays 10.00, April 2024 pays 1000.00; both have 3000 minutes at 50 % success: March
    1 − 3000/44,640 = 93.28 %, April 1 − 3000/43,200 = 93.06 %, both below 95 %: the 50 % tier."""
    rows = list(minute_rows("acme", "2024-03-10T00:00", 3000, 100, 50)) + \
        list(minute_rows("acme", "2024-04-10T00:00", 3000, 100, 50))
    minutes = write_csv(tmp_path / "minutes.csv", rows)
    billing = write_csv(tmp_path / "billing.csv", [
        {"account": "acme", "month": "2024-03", "monthly_fee": "10.00", "offset": "0.00"},
        {"account": "acme", "month": "2024-04", "monthly_fee": "1000.00", "offset": "0.00"}])
    return {"minutes": minutes, "billing": billing}


def claim_for(month, filed_at):
    return {"account": "acme", "service_month": month, "filed_at": filed_at, "channel": "work_order",
            "event_report": "Calls failed.", "failure_records": ["c-1"],
            "unavailability": [{"start": f"{month}-10T00:00+08:00", "end": f"{month}-12T02:00+08:00"}]}


# March's window opens 2024-04-06 (Apr 1–5 are Singapore business days); April's opens 2024-05-09 (May 1 is
# Labour Day: May 2, 3, 6, 7, 8).
MARCH = claim_for("2024-03", "2024-04-08T10:00+08:00")
APRIL = claim_for("2024-04", "2024-05-20T10:00+08:00")


def decide_in_order(policies, inputs, ledger, *claims):
    return [decide_claim(policies, c, ledger=ledger, now=dt.datetime(2024, 9, 1, tzinfo=dt.timezone.utc), **inputs)
            for c in claims]


@pytest.mark.parametrize("order", ["march first", "april first"])
def test_the_issue_example_grants_the_same_in_both_orders(tmp_path, two_months, order):
    claims = (MARCH, APRIL) if order == "march first" else (APRIL, MARCH)
    results = decide_in_order(POLICIES, two_months, tmp_path / "ledger.sqlite", *claims)
    granted = {r["service_month"]: r["compensation"] for r in results}
    assert granted == {"2024-03": "5.00", "2024-04": "500.00"}  # 50 % of 10.00 and of 1000.00
    march = next(r for r in results if r["service_month"] == "2024-03")
    cap = march["compensation_detail"]["aggregate_cap"]
    # March is the first month of use: W(March) = March alone, 10.00 paid. April's grant is for a month
    # outside that window, so it is never counted against March's fees, whichever was decided first.
    assert (cap["first_month_of_use"], cap["months_of_use"], cap["window"]) == \
        ("2024-03", 1, {"from": "2024-03", "to": "2024-03"})
    assert cap["first_month_of_use_from"] == "the first billed month: the billing gives no service_start"
    assert (cap["fees_paid"], cap["already_granted"], cap["grants_counted"], cap["room"]) == ("10.00", "0.00", {}, "10.00")
    # The tightest constraint is March's own window; W(April) = March–April: 1010.00 paid, 500.00 of it granted
    # (April first) or none (March first), room 510.00 or 1010.00.
    assert cap["tightest_window"] == {"month": "2024-03", "from": "2024-03", "to": "2024-03", "fees_paid": "10.00",
                                      "granted": "0.00", "room": "10.00"}


def test_a_cap_that_binds_without_the_monthly_cap(tmp_path):
    # March 2024: fee 1000.00 of which 990.00 offset by vouchers: 10.00 paid. 50 % of the fee is 500.00, and with
    # no §3.1(2) cap only §6.1 limits it: W(March) = March alone, 10.00 paid → 10.00 granted.
    family = published_without_monthly_cap(tmp_path)
    minutes = write_csv(tmp_path / "minutes.csv", minute_rows("acme", "2024-03-10T00:00", 3000, 100, 50))
    billing = write_csv(tmp_path / "billing.csv", [
        {"account": "acme", "month": "2024-03", "monthly_fee": "1000.00", "offset": "990.00"}])
    (march,) = decide_in_order(family, {"minutes": minutes, "billing": billing}, tmp_path / "l.sqlite", MARCH)
    assert (march["decision"], march["compensation"], march["evaluation"]["compensation"]) == \
        ("approved", "10.00", "500.00")
    assert march["compensation_detail"]["capped"] is True
    assert march["message"] == ("Compensation of 10.00 is granted as vouchers. It is capped by §6.1 at 10.00 (of "
                                "500.00): the fees paid from 2024-03 to 2024-03 are 10.00, of which 0.00 were already "
                                "granted for other months of that window.")


def test_a_claims_own_term_start_is_not_the_first_month_of_use(tmp_path):
    """docs/readings.md, §6.1: the first month of use is the billing's (service_start, else the first billed month),
    never the term a claim states: the provider's records prevail (§3.2(1)), and a term (a renewal) may begin long
    after the Services were first used. Billed 2023-06 to 2024-04 (100.00 each, no service_start); a claim for
    2024-04 stating the term 2023-03-17 to 2024-06-16: 11 months of use from 2023-06, not 14 from 2023-03."""
    family = published_without_monthly_cap(tmp_path)
    minutes = write_csv(tmp_path / "minutes.csv", minute_rows("acme", "2024-04-10T00:00", 3000, 100, 50))
    billing = write_csv(tmp_path / "billing.csv", [
        {"account": "acme", "month": month, "monthly_fee": "100.00", "offset": "0.00"}
        for month in months("2023-06", 11)])
    claim = dict(APRIL, term_start="2023-03-17", term_end="2024-06-16")
    (april,) = decide_in_order(family, {"minutes": minutes, "billing": billing}, tmp_path / "l.sqlite", claim)
    cap = april["compensation_detail"]["aggregate_cap"]
    assert (cap["first_month_of_use"], cap["first_month_of_use_from"], cap["months_of_use"], cap["window"],
            cap["fees_paid"]) == ("2023-06", "the first billed month: the billing gives no service_start", 11,
                                  {"from": "2023-06", "to": "2024-04"}, "1100.00")
    assert (april["decision"], april["compensation"]) == ("approved", "50.00")  # 50 % of 100.00, within 1100.00


# ---------------------------------------------------------------------------- the window

def billing_of(fees: dict, start: dt.date | None = None, account="x") -> dict:
    return {(account, month): BillingRow(account, month, Decimal(fee), Decimal(0), start) for month, fee in fees.items()}


def months(first: str, count: int) -> list[str]:
    return [month_label(month_index(first) + k) for k in range(count)]


@pytest.fixture(scope="module")
def shipped():
    return load_policy(PUBLISHED)


def test_the_twelfth_and_thirteenth_months_of_use(shipped):
    # Billed 2023-01 (500.00) to 2024-01 (100.00 each). First month of use: 2023-01.
    fees = dict.fromkeys(months("2023-01", 13), "100.00") | {"2023-01": "500.00"}
    billing = billing_of(fees)
    twelfth = aggregate_cap(shipped, "x", "2023-12", billing, {})
    assert (twelfth["months_of_use"], twelfth["window"], twelfth["fees_paid"]) == \
        (12, {"from": "2023-01", "to": "2023-12"}, "1600.00")  # 500.00 + 11 × 100.00
    thirteenth = aggregate_cap(shipped, "x", "2024-01", billing, {})
    assert (thirteenth["months_of_use"], thirteenth["window"], thirteenth["fees_paid"]) == \
        (13, {"from": "2023-02", "to": "2024-01"}, "1200.00")  # 12 × 100.00: 2023-01 left, 2024-01 itself counts
    # The tightest later window: W(2024-12) = 2024-01..2024-12, where only 2024-01 is billed so far: 100.00.
    assert thirteenth["tightest_window"] == {"month": "2024-12", "from": "2024-01", "to": "2024-12",
                                             "fees_paid": "100.00", "granted": "0.00", "room": "100.00"}
    assert thirteenth["room"] == "100.00"


@pytest.mark.parametrize("months_of_use,window,fees", [
    (12, {"from": "2023-01", "to": "2023-12"}, "1600.00"),  # 12 months of use, not more: every month of use
    (13, {"from": "2023-08", "to": "2024-01"}, "600.00"),   # more than 12: the 6 months ending with N
])
def test_the_months_of_use_and_the_lookback_are_two_settings(tmp_path, months_of_use, window, fees):
    # A version whose lookback (6) differs from the months of use after which it applies (12): under the shipped 12
    # and 12 the two bounds give one window at the 12th month, so no test told "12 months or fewer" from "fewer".
    policy = load_policy(draft_variant(tmp_path, "    lookback_months: 12\n", "    lookback_months: 6\n"))
    billing = billing_of(dict.fromkeys(months("2023-01", 13), "100.00") | {"2023-01": "500.00"})
    cap = aggregate_cap(policy, "x", months("2023-01", months_of_use)[-1], billing, {})
    assert (cap["months_of_use"], cap["window"], cap["fees_paid"]) == (months_of_use, window, fees)


def test_service_start_sets_the_first_month_of_use(shipped):
    billing = billing_of(dict.fromkeys(months("2023-01", 6), "100.00") | {"2023-01": "500.00"}, dt.date(2022, 6, 15))
    at_may = aggregate_cap(shipped, "x", "2023-05", billing, {})
    # Jun 2022 – May 2023 is 12 months of use; only Jan–May 2023 are billed: 500.00 + 4 × 100.00.
    assert (at_may["first_month_of_use"], at_may["first_month_of_use_from"]) == \
        ("2022-06", "service_start 2022-06-15 in the billing")
    assert (at_may["months_of_use"], at_may["window"], at_may["fees_paid"]) == \
        (12, {"from": "2022-06", "to": "2023-05"}, "900.00")
    at_june = aggregate_cap(shipped, "x", "2023-06", billing, {})
    assert (at_june["months_of_use"], at_june["window"], at_june["fees_paid"]) == \
        (13, {"from": "2022-07", "to": "2023-06"}, "1000.00")


def test_a_grant_counts_only_in_windows_that_contain_its_month(shipped):
    billing = billing_of(dict.fromkeys(months("2023-01", 14), "100.00"))
    # A grant for 2024-02 (month 14) is outside W(2023-01) .. W(2023-02)? W(2023-02) = 2023-01..2023-02: no.
    # Deciding 2023-02: constraints N = 2023-02 .. 2024-01 (W(2024-02) = 2023-03..2024-02 no longer holds 2023-02),
    # so the grant for 2024-02 is counted in none of them.
    cap = aggregate_cap(shipped, "x", "2023-02", billing, {"2024-02": (Decimal("100.00"), "D-1")})
    assert cap["already_granted"] == "0.00" and cap["grants_counted"] == {}
    assert cap["room"] == "200.00"  # W(2023-02) = 2023-01..2023-02
    # Deciding 2023-03: W(2024-02) = 2023-03..2024-02 contains both: 1200.00 paid, 100.00 granted → 1100.00;
    # W(2023-03) = 2023-01..2023-03: 300.00 → the room is 300.00.
    assert aggregate_cap(shipped, "x", "2023-03", billing, {"2024-02": (Decimal("100.00"), "D-1")})["room"] == "300.00"


# ---------------------------------------------------------------------------- the property

def _computed(policy, fee: Decimal, offset: Decimal, credit: int) -> Decimal:
    owed = fee * credit / 100
    if policy.setting("compensation", "monthly_cap") == "fee_paid":
        owed = min(owed, fee - offset)
    return owed.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@st.composite
def histories(draw):
    count = draw(st.integers(1, 30))
    fees = [Decimal(draw(st.integers(0, 100_000))) / 100 for _ in range(count)]
    offsets = [Decimal(draw(st.integers(0, int(f * 100)))) / 100 if draw(st.booleans()) else Decimal(0) for f in fees]
    lead = draw(st.one_of(st.none(), st.integers(0, 14)))  # service_start that many months before the first bill
    claimed = draw(st.lists(st.integers(0, count - 1), min_size=1, max_size=count, unique=True))
    credits = {k: draw(st.sampled_from([10, 25, 50])) for k in claimed}
    orders = [draw(st.permutations(claimed)) for _ in range(3)]
    return fees, offsets, lead, credits, orders


def _decide_all(policy, billing, computed, order, ledger_path):
    book = Ledger(ledger_path)
    try:
        for k in order:
            month = month_label(month_index("2020-01") + k)

            def build(grants, month=month, k=k):
                room = Decimal(aggregate_cap(policy, "x", month, billing, grants)["room"])
                amount = min(computed[k], room)
                decision = {"decision_id": f"D-{month}", "decided_at": "2026-01-01T00:00:00+00:00",
                            "service_month": month, "decision": "approved" if amount > 0 else "denied",
                            "policy": policy.summary(), "inputs_digest": "-",
                            "compensation": str(amount) if amount > 0 else None}
                return decision, {}, amount
            book.decide(f"claim-{month}", "x", build)
        return {m: amount for m, (amount, _) in book.grants("x").items()}
    finally:
        book.close()


@pytest.fixture(scope="module")
def versions(tmp_path_factory):
    """The shipped version, and a draft of it without §3.1(2)'s monthly cap (where §6.1 can bind)."""
    return {"shipped": load_policy(PUBLISHED),
            "without the monthly cap": load_policy(draft_variant(tmp_path_factory.mktemp("variant"), *NO_MONTHLY_CAP))}


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["shipped", "without the monthly cap"])
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=histories())
def test_every_order_keeps_every_constraint(versions, variant, history):
    fees, offsets, lead, credits, orders = history
    policy = versions[variant]
    first = month_index("2020-01")
    start = None if lead is None else dt.date(*(int(p) for p in month_label(first - lead).split("-")), 15)
    billing = {("x", month_label(first + k)): BillingRow("x", month_label(first + k), fee, offset, start)
               for k, (fee, offset) in enumerate(zip(fees, offsets))}
    computed = {k: _computed(policy, fees[k], offsets[k], credit) for k, credit in credits.items()}
    rule = policy.raw["compensation"]["aggregate_cap"]
    use = first - (lead or 0)
    paid = {first + k: fees[k] - offsets[k] for k in range(len(fees))}

    def violated(grants: dict) -> list:
        wrong = []
        for n in range(use, first + len(fees) + 24):
            lo, hi = cap_window(rule, use, n)
            if sum(grants.get(m, 0) for m in range(lo, hi + 1)) > sum(paid.get(m, 0) for m in range(lo, hi + 1)):
                wrong.append(month_label(n))
        return wrong

    in_full = {first + k: amount for k, amount in computed.items()}
    outcomes = []
    with tempfile.TemporaryDirectory() as scratch:
        for i, order in enumerate(orders):
            grants = _decide_all(policy, billing, computed, order, Path(scratch) / f"ledger-{i}.sqlite")
            by_index = {month_index(m): a for m, a in grants.items()}
            assert violated(by_index) == [], (order, grants)
            assert all(by_index.get(first + k, 0) <= computed[k] for k in computed)
            outcomes.append(by_index)
    if not violated(in_full):  # no constraint binds: every order grants every computed amount
        expected = {m: a for m, a in in_full.items() if a > 0}
        assert all(outcome == expected for outcome in outcomes), (expected, outcomes)


def test_the_text_reply_shows_the_basis_of_the_cap(cli, tmp_path, two_months):
    import json

    path = tmp_path / "march.json"
    path.write_text(json.dumps(MARCH))
    result = cli("claim", POLICIES, path, "--minutes", two_months["minutes"], "--billing", two_months["billing"],
                 "--ledger", tmp_path / "l.sqlite", "--now", "2024-09-01T00:00+00:00", "--format", "text")
    assert result.code == 0, result.err
    assert ("Aggregate cap (§6.1): first month of use 2024-03 (the first billed month: the billing gives no "
            "service_start), 1 month(s) of use; window 2024-03 to 2024-03: 10.00 paid, 0.00 granted for its other months; "
            "room 10.00 (tightest window 2024-03 to 2024-03).") in result.out.splitlines()


# ---------------------------------------------------------------------------- rounding never lifts a ceiling

WHOLE_UNITS = ("rounding: {value: half_up, places: 2,", "rounding: {value: half_up, places: 0,")


def test_the_room_is_rounded_down_to_the_policy_quantum(tmp_path):
    # A version that pays whole units (places: 0; the schema allows it). Fee 1000.00, offset 998.50: 1.50 paid.
    # Half-up would make the room 2 (more than was paid); the room is a ceiling, so it is 1. The fees are
    # shown as billed (1.50), not rounded to a unit they do not have.
    policy = load_policy(draft_variant(tmp_path, *WHOLE_UNITS))
    billing = {("x", "2019-03"): BillingRow("x", "2019-03", Decimal("1000.00"), Decimal("998.50"), None)}
    cap = aggregate_cap(policy, "x", "2019-03", billing, {})
    assert (cap["fees_paid"], cap["room"]) == ("1.50", "1")
    billing[("x", "2019-03")] = BillingRow("x", "2019-03", Decimal("1000.00"), Decimal("999.50"), None)
    assert aggregate_cap(policy, "x", "2019-03", billing, {})["room"] == "0"  # 0.50 paid: half-even gave 0, half-up 1


def test_the_monthly_cap_is_not_lifted_by_rounding(tmp_path):
    # initech, March 2019: 2880 minutes counted, 93.55 %, tier 3 (50 %). Fee 1000.00 × 50 % = 500.00, capped at
    # the fee paid 1000.00 − 999.50 = 0.50 (§3.1(2)). Whole units half-up would pay 1, twice what was paid: 0.
    from slapolicy import evaluate

    policy = draft_variant(tmp_path, *WHOLE_UNITS)
    billing = write_csv(tmp_path / "billing.csv", [{"account": "initech", "month": "2019-03",
                                                    "monthly_fee": "1000.00", "offset": "999.50"}])
    examples = Path(__file__).resolve().parent.parent / "examples" / "ccc"
    result = evaluate(POLICIES, minutes=examples / "minutes.csv", month="2019-03", billing=billing,
                      accounts=["initech"], policy_file=policy)["evaluations"][0]
    assert (result["credit_percent"], result["monthly_fee"], result["compensation"]) == (50, "1000", "0")


@pytest.mark.parametrize("shipped_family,offset,decision,granted,reason", [
    # The shipped version: 50 % of 1000.00 = 500.00, capped by §3.1(2) at the fee paid, 1000.00 − offset.
    (True, "1000.00", "denied", None, ("nothing_owed", "§3.1(2)", "the compensation after exclusions and the cap of "
                                       "the fee paid is 0.00")),
    (True, "999.99", "approved", "0.01", None),
    # Without §3.1(2)'s cap, §6.1 alone: W(March 2024) is March alone (its first month of use), 1000.00 − offset paid.
    (False, "1000.00", "denied", None, ("nothing_owed", "§6.1", "the §6.1 aggregate cap is reached")),
    (False, "999.99", "approved", "0.01", None),
])
@pytest.mark.slow
def test_nothing_owed_is_a_denial_and_a_cent_is_a_grant(tmp_path, shipped_family, offset, decision, granted, reason):
    # No test decided a claim whose amount came to 0.00 below the standard: had 0.00 been approved, the customer would
    # have been told "Compensation of 0.00 is granted", and the month recorded in the ledger as compensated.
    family = POLICIES if shipped_family else published_without_monthly_cap(tmp_path)
    minutes = write_csv(tmp_path / "minutes.csv", minute_rows("acme", "2024-03-10T00:00", 3000, 100, 50))
    billing = write_csv(tmp_path / "billing.csv", [
        {"account": "acme", "month": "2024-03", "monthly_fee": "1000.00", "offset": offset}])
    (march,) = decide_in_order(family, {"minutes": minutes, "billing": billing}, tmp_path / "l.sqlite", MARCH)
    assert (march["evaluation"]["meets_standard"], march["decision"], march["compensation"]) == (False, decision, granted)
    if reason is None:
        assert march["reasons"] == []
    else:
        code, clause, why = reason
        assert march["reasons"] == [{"code": code, "clause": clause, "message": "Availability was below the standard, "
                                     f"but nothing is owed: {why}."}]
        assert march["message"] is None


def test_the_earliest_service_start_of_an_account_is_its_first_month_of_use(shipped):
    # Billing rows that disagree on service_start (2022-06-15 on January's row, 2022-09-01 on February's): the first
    # month of use is the earliest, 2022-06, so May 2023 is the 12th month of use and June the 13th (§6.1). Taking the
    # latest passed every test. The months of use said in the rule are 12 ("all fees since") and then 13 ("more
    # than 12"), to the month; a claim for a month before the first month of use is refused, the first is not.
    from slapolicy.errors import InputError

    billing = billing_of(dict.fromkeys(months("2023-01", 6), "100.00"), dt.date(2022, 6, 15))
    billing[("x", "2023-02")] = BillingRow("x", "2023-02", Decimal("100.00"), Decimal(0), dt.date(2022, 9, 1))
    at_may, at_june = (aggregate_cap(shipped, "x", month, billing, {}) for month in ("2023-05", "2023-06"))
    assert (at_may["first_month_of_use"], at_may["months_of_use"], at_may["rule"]) == (
        "2022-06", 12, "used 12 month(s): all fees paid since the first month of use (2022-06 to 2023-05)")
    assert (at_june["months_of_use"], at_june["rule"]) == (
        13, "used 13 months (more than 12): fees paid in the 12 months ending with the damaged month (2022-07 to 2023-06)")
    assert aggregate_cap(shipped, "x", "2022-06", billing, {})["months_of_use"] == 1
    with pytest.raises(InputError, match=r"starts using the Services in 2022-06 .*after the claimed Service Month 2022-05"):
        aggregate_cap(shipped, "x", "2022-05", billing, {})
