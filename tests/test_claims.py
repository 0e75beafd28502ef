"""Claims: windows on real business calendars, materials, reconciliation, ledger, §6.1 cap."""
import datetime as dt
import hashlib
import json
from decimal import Decimal
import threading

import pytest

from conftest import POLICIES
from helpers import draft_variant, minute_rows, published_variant, write_csv
from slapolicy.calendar import ServiceMonth
from slapolicy.claims import business_calendar, claim_window, decide_claim
from slapolicy.errors import InputError
from slapolicy.errors import InputError, SlapolicyError
from slapolicy.ledger import Ledger

SGT = dt.timezone(dt.timedelta(hours=8))


def window_of(policy, start, end):
    return claim_window(policy, ServiceMonth(start, end), business_calendar(policy))


def test_singapore_window_for_march_2024(policy):
    window = window_of(policy, dt.date(2024, 3, 1), dt.date(2024, 3, 31))
    assert window.opens.isoformat() == "2024-04-06T00:00:00+08:00"
    assert window.last_day == dt.date(2024, 5, 30)
    assert window.closes.isoformat() == "2024-05-31T00:00:00+08:00"  # the window is [opens, closes)
    assert window.business_day == dt.date(2024, 4, 5)


def test_a_claim_window_is_an_immutable_value(policy):
    # A record of the window (a NamedTuple, cheaper to make than a dataclass): equal and hashed by its values,
    # never changed, shown with its fields' names.
    window = window_of(policy, dt.date(2024, 3, 1), dt.date(2024, 3, 31))
    again = window_of(policy, dt.date(2024, 3, 1), dt.date(2024, 3, 31))
    assert window == again and hash(window) == hash(again) and len({window, again}) == 1
    assert window != window_of(policy, dt.date(2024, 2, 1), dt.date(2024, 2, 29))
    with pytest.raises(AttributeError):
        window.opens = window.closes
    assert repr(window).startswith("ClaimWindow(opens=datetime.datetime(2024, 4, 6, 0, 0, tzinfo=")


def test_partial_last_service_month_closes_60_days_after_its_end(policy):
    window = window_of(policy, dt.date(2024, 6, 1), dt.date(2024, 6, 16))
    assert window.last_day == dt.date(2024, 8, 15)
    assert window.opens.isoformat() == "2024-07-06T00:00:00+08:00"  # Jul 1–5 are business days in Singapore


def test_a_public_holiday_shifts_the_opening(policy):
    # January 2024 in Singapore: Monday Jan 1 is New Year's Day, so the 5th business day is Mon Jan 8.
    window = window_of(policy, dt.date(2023, 12, 1), dt.date(2023, 12, 31))
    assert window.business_day == dt.date(2024, 1, 8)
    assert window.opens.isoformat() == "2024-01-09T00:00:00+08:00"
    assert window.as_dict()["holidays_skipped"] == [{"date": "2024-01-01", "name": "New Year's Day"}]


def test_a_holiday_on_a_weekend_is_not_among_the_days_skipped(policy):
    # January 2023 in Singapore: Sunday Jan 1 is New Year's Day, observed on Monday Jan 2, so the 5th business day is
    # Mon Jan 9. Only the observed Monday was a business day passed over; a Sunday is never one, holiday or not, and
    # listing it passed every test.
    window = window_of(policy, dt.date(2022, 12, 1), dt.date(2022, 12, 31))
    assert (window.business_day, window.opens.isoformat()) == (dt.date(2023, 1, 9), "2023-01-10T00:00:00+08:00")
    assert window.as_dict()["holidays_skipped"] == [{"date": "2023-01-02", "name": "New Year's Day (observed)"}]


def _variant(tmp_path, old, new):
    from slapolicy import load_policy

    return load_policy(draft_variant(tmp_path, old, new))


def test_a_chinese_make_up_working_day_counts(tmp_path):
    # February 2024 in China: Sunday Feb 4 was a make-up working day before the Spring Festival.
    china = _variant(tmp_path, "    value: SG\n", "    value: CN\n")
    window = window_of(china, dt.date(2024, 1, 1), dt.date(2024, 1, 31))
    assert window.business_day == dt.date(2024, 2, 6)  # Feb 1, 2, 4 (Sunday), 5, 6
    weekdays = _variant(tmp_path, "    value: SG\n", "    value: weekdays\n")
    assert window_of(weekdays, dt.date(2024, 1, 1), dt.date(2024, 1, 31)).business_day == dt.date(2024, 2, 7)


def test_the_fifth_business_day_can_be_a_saturday_worked_and_the_last_day_a_public_holiday(tmp_path, policy):
    # September 2024 in China: October 1-7 are the National Day holidays (Oct 4 and 7 days off for the Saturdays
    # worked); Oct 8, 9, 10, 11 and Saturday Oct 12, a make-up working day, are the five business days, so the window
    # opens on Sunday Oct 13, not on Tuesday Oct 15 (weekdays alone would count Oct 14).
    china = _variant(tmp_path, "    value: SG\n", "    value: CN\n")
    window = window_of(china, dt.date(2024, 9, 1), dt.date(2024, 9, 30))
    assert (window.business_day, window.opens.isoformat()) == (dt.date(2024, 10, 12), "2024-10-13T00:00:00+08:00")
    assert [h["date"] for h in window.as_dict()["holidays_skipped"]] == [
        "2024-10-01", "2024-10-02", "2024-10-03", "2024-10-04", "2024-10-07"]
    # November 2024 in Singapore: the 60th calendar day after it is Wed 2025-01-29, the first day of the Chinese New
    # Year, a public holiday: §3.2(2) counts calendar days, so the window still closes at its end, not a day later.
    window = window_of(policy, dt.date(2024, 11, 1), dt.date(2024, 11, 30))
    assert (window.last_day, window.closes.isoformat()) == (dt.date(2025, 1, 29), "2025-01-30T00:00:00+08:00")
    assert business_calendar(policy).is_business_day(dt.date(2025, 1, 29)) is False


def test_an_unknown_calendar_is_a_clear_error(tmp_path):
    # Found when the version is loaded (validate, lint), not first at a claim; a version loaded
    # leniently still gets the same message from the claim path.
    from slapolicy import load_policy

    path = draft_variant(tmp_path, "    value: SG\n", "    value: XX\n")
    message = "business calendar 'XX' \\(§3.2\\(1\\)\\) is not provided by any plugin"
    with pytest.raises(SlapolicyError, match=message):
        load_policy(path)
    with pytest.raises(SlapolicyError, match=message):
        business_calendar(load_policy(path, strict=False))


# ---------------------------------------------------------------------------- decisions

@pytest.fixture(scope="module")
def claim_files(tmp_path_factory):
    """Account 'small': outages of 3000 minutes (50 %) in Jan, Feb and Mar 2024; 'fine': a good March. Written once
    for the module (9,010 rows, row by row: ~40 ms a test) and only read."""
    folder = tmp_path_factory.mktemp("claims")
    rows = []
    for month in ("2024-01", "2024-02", "2024-03"):
        rows += minute_rows("small", f"{month}-10T00:00", 3000, 100, 2)
    rows += minute_rows("fine", "2024-03-10T00:00", 10, 100, 2)
    minutes = write_csv(folder / "minutes.csv", rows)
    billing_rows = [{"account": "small", "month": f"2023-{m:02d}", "monthly_fee": "1.00", "offset": "0.00"}
                    for m in range(1, 13)]
    billing_rows += [{"account": "small", "month": "2024-01", "monthly_fee": "4.00", "offset": "0.00"},
                     {"account": "small", "month": "2024-02", "monthly_fee": "4.00", "offset": "0.00"},
                     {"account": "small", "month": "2024-03", "monthly_fee": "100.00", "offset": "0.00"},
                     {"account": "fine", "month": "2024-03", "monthly_fee": "50.00", "offset": "0.00"}]
    billing = write_csv(folder / "billing.csv", billing_rows)
    return {"minutes": minutes, "billing": billing}


@pytest.fixture
def inputs(claim_files, tmp_path):
    """The module's minutes and billing (claim_files), and a ledger of the test's own."""
    return {**claim_files, "ledger": tmp_path / "ledger.sqlite"}


def claim(month="2024-03", account="small", filed_at="2024-04-08T10:00+08:00", **changes):
    data = {"account": account, "service_month": month, "filed_at": filed_at, "channel": "work_order",
            "event_report": "Calls failed for two days.", "failure_records": ["c-1"],
            "unavailability": [{"start": f"{month}-10T00:00+08:00", "end": f"{month}-12T02:00+08:00"}]}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def decide(inputs, data, now="2024-09-01T00:00+00:00"):
    return decide_claim(POLICIES, data, now=dt.datetime.fromisoformat(now), **inputs)


def codes(result):
    return [r["code"] for r in result["reasons"]]


def test_a_claim_filed_at_the_instant_it_is_decided_is_decided(inputs):
    # A claim may be filed no later than now: one filed at the very instant is decided (refusing it as "in the
    # future" passed every test), as is one decided as its Service Month begins (denied: the month has not ended).
    begins = "2024-03-01T00:00+08:00"
    result = decide(inputs, claim(filed_at=begins), now=begins)
    assert (result["decision"], codes(result)) == ("denied", ["month_not_ended", "filed_too_early"])
    at = "2024-04-08T10:00+08:00"
    assert decide(inputs, claim(filed_at=at), now=at)["decision"] == "approved"


def test_below_the_standard_with_nothing_paid_nothing_is_owed(inputs, tmp_path):
    # March 2024 below the standard (3000 minutes at 98 %: 93.28 %, 50 %), billed 100.00 with an offset of 100.00:
    # §3.1(2) caps it at the fee paid, 0.00. The claim is denied, nothing owed; approving "compensation of 0.00"
    # passed every test.
    billing = write_csv(tmp_path / "zero.csv", [{"account": "small", "month": "2024-03", "monthly_fee": "100.00",
                                                 "offset": "100.00"}])
    result = decide(dict(inputs, billing=billing), claim())
    assert (result["decision"], codes(result), result["compensation"], result["evaluation"]["compensation"]) == (
        "denied", ["nothing_owed"], None, "0.00")
    assert result["reasons"][0]["message"] == ("Availability was below the standard, but nothing is owed: the "
                                               "compensation after exclusions and the cap of the fee paid is 0.00.")


def nothing_owed_above_tier_1(shown):
    return [{"code": "nothing_owed", "clause": "§3, §3.1",
             "message": f"Availability was {shown}%, which meets the standard (the tiers alone pay: §2.2, §3 tiers_only), "
                        f"but nothing is owed: no tier of §3, §3.1 covers {shown}%: credit 0%."}]


@pytest.mark.parametrize("bad, decision, reasons, compensation", [
    (0, "denied", nothing_owed_above_tier_1("100.00"), None),  # no tier covers 100 %
    (22, "denied", nothing_owed_above_tier_1("99.95"), None),  # 99.95069 %: tier 1 is below 99.95 %
    (23, "approved", [], "10.00")])  # 99.94847 %: tier 1's 10 % of 100.00
def test_under_the_tiers_only_gate_a_month_no_tier_covers_is_owed_nothing_by_the_tiers(tmp_path, bad, decision, reasons,
                                                                                      compensation):
    # Under compensation.gate tiers_only a month that meets the standard is paid what its tier says (docs/readings.md);
    # one above every tier was denied "the compensation after exclusions and the cap of the fee paid is 0.00", citing
    # §3.1(2), though the fee paid was 100.00: it is the tiers that pay nothing.
    family = published_variant(tmp_path, "    value: below_standard\n", "    value: tiers_only\n")
    minutes = write_csv(tmp_path / "m.csv", [*minute_rows("small", "2024-03-10T00:00", 30, 100, 0),
                                                     *minute_rows("small", "2024-03-11T00:00", bad, 100, 2)])
    billing = write_csv(tmp_path / "b.csv", [{"account": "small", "month": "2024-03", "monthly_fee": "100.00",
                                              "offset": "0.00"}])
    result = decide_claim(family, claim(), now=dt.datetime.fromisoformat("2024-09-01T00:00+00:00"), minutes=minutes,
                          billing=billing, ledger=tmp_path / "ledger.sqlite")
    assert (result["decision"], result["reasons"], result["compensation"]) == (decision, reasons, compensation)


@pytest.mark.parametrize("filed_at,decision,reasons", [
    ("2024-04-05T23:59+08:00", "denied", ["filed_too_early"]),
    ("2024-04-06T00:00+08:00", "approved", []),
    ("2024-04-08T10:00+08:00", "approved", []),
    ("2024-05-30T23:59+08:00", "approved", []),
    ("2024-05-31T00:00+08:00", "denied", ["filed_too_late"]),
])
def test_filing_window_boundaries(inputs, filed_at, decision, reasons):
    result = decide(inputs, claim(filed_at=filed_at))
    assert (result["decision"], codes(result)) == (decision, reasons)
    assert result["window"]["opens"] == "2024-04-06T00:00:00+08:00"
    if reasons == ["filed_too_late"]:
        assert result["reasons"][0]["clause"] == "§3.2(2)"
        assert "after the claim window closed at the end of 2024-05-30" in result["reasons"][0]["message"]


EARLY = ("before the claim window opened on 2024-04-06T00:00+08:00 (after the 5th business day, 2024-04-05, of the month "
         "after the Service Month).")
LATE = ("after the claim window closed at the end of 2024-05-30 (60 calendar days after the Service Month ended); the "
        "right to compensation is waived.")


@pytest.mark.parametrize("filed_at,said,reasons", [
    # Each side of each bound, to the second: the message said 23:59 for 23:59:59, and 00:00 for 30 s after the close,
    # which read as a claim filed at the very instant the window closed.
    ("2024-03-31T23:59:59+08:00", "2024-03-31T23:59:59+08:00", ["month_not_ended", "filed_too_early"]),
    ("2024-04-05T23:59:59+08:00", "2024-04-05T23:59:59+08:00", ["filed_too_early"]),
    ("2024-04-05T23:59:59.250+08:00", "2024-04-05T23:59:59.250+08:00", ["filed_too_early"]),
    ("2024-04-05T23:59:59.999999+08:00", "2024-04-05T23:59:59.999999+08:00", ["filed_too_early"]),
    ("2024-04-06T00:00:00+08:00", None, []),
    ("2024-05-30T23:59:59+08:00", None, []),
    ("2024-05-31T00:00:00+08:00", "2024-05-31T00:00+08:00", ["filed_too_late"]),
    ("2024-05-31T00:00:30+08:00", "2024-05-31T00:00:30+08:00", ["filed_too_late"]),
    ("2024-05-31T00:00:30", "2024-05-31T00:00:30+08:00", ["filed_too_late"]),  # no offset: the policy's clock
    # another offset: on the policy's clock too, which the bounds are on
    ("2024-04-05T15:59:59Z", "2024-04-05T15:59:59+00:00 (2024-04-05T23:59:59+08:00 in Asia/Singapore)",
     ["filed_too_early"]),
    ("2024-04-05T16:00:00Z", None, []),
])
def test_a_claim_is_told_when_it_was_filed_to_the_second(policy, filed_at, said, reasons):
    from types import SimpleNamespace

    from slapolicy.claims.window import timing_reasons
    from slapolicy.inputs.timestamps import parse_timestamp

    month = ServiceMonth(dt.date(2024, 3, 1), dt.date(2024, 3, 31))
    filed = SimpleNamespace(filed_at=parse_timestamp(filed_at, policy.timezone)[0], channel="work_order")
    found = timing_reasons(policy, filed, month, window_of(policy, month.start, month.end))
    assert [r["code"] for r in found] == reasons
    words = {"month_not_ended": "before Service Month 2024-03 ended (2024-03-31): a month can be claimed only after it "
                                "ends.", "filed_too_early": EARLY, "filed_too_late": LATE}
    assert [r["message"] for r in found] == [f"The claim was filed on {said}, {words[code]}" for code in reasons]


def test_a_claim_filed_seconds_late_is_decided_and_told_so(inputs):
    result = decide(inputs, claim(filed_at="2024-05-31T00:00:30+08:00"))
    assert (result["decision"], result["reasons"]) == ("denied", [{
        "code": "filed_too_late", "clause": "§3.2(2)",
        "message": f"The claim was filed on 2024-05-31T00:00:30+08:00, {LATE}"}])


def test_null_for_an_optional_field_of_a_claim_means_the_same_as_leaving_it_out(inputs, tmp_path):
    """JSON clients send null for a field they do not set. small, March 2024: 3000 of 44640 minutes unavailable,
    93.28 % < 95 %: tier 50 % of 100.00 = 50.00, with or without the nulls."""
    plain = decide(inputs, claim())
    nulls = decide(inputs | {"ledger": tmp_path / "other.sqlite"},
                   dict(claim(), term_start=None, term_end=None, claim_id=None, contact=None))
    assert (nulls["decision"], nulls["compensation"], nulls["reasons"]) == ("approved", "50.00", [])
    # The same claim: the same digest, so the same decision id and inputs digest (recorded in two ledgers here).
    assert {k: v for k, v in nulls.items() if k != "decided_at"} == {k: v for k, v in plain.items() if k != "decided_at"}
    # term_start null with a term_end is a term_end alone, refused as one; a required field is never null.
    with pytest.raises(InputError, match="^claim: fields 'term_start' and 'term_end' go together$"):
        decide(inputs, dict(claim(), term_start=None, term_end="2024-03-31"))
    with pytest.raises(InputError, match="^claim: field 'filed_at' must be a string, not null$"):
        decide(inputs, dict(claim(), filed_at=None))
    # event_report null: the claim lacks the report (§3.3), decided incomplete, not refused.
    lacking = decide(inputs | {"ledger": tmp_path / "third.sqlite"}, dict(claim(), event_report=None))
    assert (lacking["decision"], codes(lacking)) == ("incomplete", ["missing_materials"])


def test_a_claim_filed_again_with_nulls_is_answered_from_a_ledger_written_before(inputs):
    """A null optional field is the field left out for the ledger too: the claim's digest is the sha256 of its
    canonical JSON (sorted keys) without its nulls, so a claim without nulls keeps the digest it always had and a
    ledger written before still recognises it."""
    plain = claim()
    first = decide(inputs, plain)
    # The digest as it has always been computed, over the claim as filed: old records carry it.
    recorded = hashlib.sha256(json.dumps(plain, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    assert first["decision_id"] == "D-" + recorded[:20]
    with Ledger(inputs["ledger"]) as ledger:
        assert ledger.counts() == (1, 1)
        assert ledger.find(recorded)["decision_id"] == first["decision_id"]
    nulls = dict(plain, term_start=None, term_end=None, claim_id=None, contact=None)
    again = decide(inputs, nulls, now="2024-09-02T00:00+00:00")
    assert (again["repeated"], again["decision_id"], again["decided_at"]) == (
        True, first["decision_id"], "2024-09-01T00:00:00+00:00")
    assert {k: v for k, v in again.items() if k != "repeated"} == {k: v for k, v in first.items() if k != "repeated"}
    with Ledger(inputs["ledger"]) as ledger:
        assert ledger.counts() == (1, 1)  # nothing appended
        assert ledger.inputs(first["decision_id"])["claim"] == plain  # recorded without nulls
    # Filed first with its nulls, a claim is recorded without them (what audit decides again is the claim left out).
    other = dict(claim(account="fine"), contact=None, event_report=None)
    decided = decide(inputs, other)
    with Ledger(inputs["ledger"]) as ledger:
        assert ledger.inputs(decided["decision_id"])["claim"] == claim(account="fine", event_report=None)
    assert decide(inputs, claim(account="fine", event_report=None))["repeated"] is True


def test_a_claim_with_nulls_recorded_before_they_were_left_out_is_still_recognised(inputs, monkeypatch):
    """Before, a claim's digest was over the claim as sent, its nulls included: a ledger written then holds that
    digest for a claim sent with nulls, and the same claim sent again is answered from it, not decided twice."""
    from slapolicy.claims import materials

    plain = claim()
    nulls = dict(plain, contact=None, claim_id=None)
    as_sent = hashlib.sha256(json.dumps(nulls, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    real = materials.claim_digest
    with monkeypatch.context() as before:  # the digest as it was: over the claim as sent
        before.setattr(materials, "claim_digest", lambda data: as_sent if data == plain else real(data))
        first = decide(inputs, nulls)
    assert (first["repeated"], first["decision_id"]) == (False, "D-" + as_sent[:20])
    again = decide(inputs, nulls, now="2024-09-02T00:00+00:00")
    assert (again["repeated"], again["decision_id"], again["decided_at"]) == (
        True, first["decision_id"], "2024-09-01T00:00:00+00:00")
    with Ledger(inputs["ledger"]) as ledger:
        assert ledger.counts() == (1, 1)  # nothing appended


@pytest.fixture
def numbered(tmp_path):
    """Account '1000', named by digits: March 2024 as 'small''s (3000 of 44640 minutes unavailable, 93.28 % < 95 %:
    tier 50 % of 100.00 = 50.00)."""
    minutes = write_csv(tmp_path / "minutes.csv", minute_rows("1000", "2024-03-10T00:00", 3000, 100, 2))
    billing = write_csv(tmp_path / "billing.csv", [{"account": "1000", "month": "2024-03", "monthly_fee": "100.00",
                                                    "offset": "0.00"}])
    return {"minutes": minutes, "billing": billing, "ledger": tmp_path / "ledger.sqlite"}


def test_a_claim_naming_its_account_1000_or_1000_as_text_is_one_claim(numbered):
    # 1000 is the account "1000" everywhere (docs/cli.md, "Account names"), but the ledger recognised a claim by the
    # digest of the claim as sent: sent again naming "1000" it was decided again, and denied (the month already paid)
    first = decide(numbered, claim(account=1000))
    assert (first["decision"], first["compensation"], first["account"]) == ("approved", "50.00", "1000")
    for same in ("1000", " 1000 "):  # trimmed, as every input's account names are
        again = decide(numbered, claim(account=same), now="2024-09-02T00:00+00:00")
        assert (again["repeated"], again["decision_id"], again["decided_at"]) == (
            True, first["decision_id"], "2024-09-01T00:00:00+00:00")
    with Ledger(numbered["ledger"]) as ledger:
        assert ledger.counts() == (1, 1)  # nothing appended
        assert ledger.inputs(first["decision_id"])["claim"] == claim(account=1000)  # recorded as filed
    # The digest is of the claim with its account as its name: the same decision id, whichever way it was written
    named = hashlib.sha256(json.dumps(claim(account="1000"), sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    assert first["decision_id"] == "D-" + named[:20]


def test_a_claim_naming_its_account_by_a_number_recorded_before_is_still_recognised(numbered, monkeypatch):
    # A ledger written before recorded the claim naming 1000 under the digest of the claim as sent
    from slapolicy.claims import materials

    as_sent = hashlib.sha256(json.dumps(claim(account=1000), sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    real = materials.claim_digest
    with monkeypatch.context() as before:  # the digest as it was: over the claim as sent, its account a number
        before.setattr(materials, "claim_digest", lambda data: as_sent if data["account"] in (1000, "1000") else real(data))
        first = decide(numbered, claim(account=1000))
    assert (first["repeated"], first["decision_id"]) == (False, "D-" + as_sent[:20])
    again = decide(numbered, claim(account=1000), now="2024-09-02T00:00+00:00")
    assert (again["repeated"], again["decision_id"], again["decided_at"]) == (
        True, first["decision_id"], "2024-09-01T00:00:00+00:00")
    with Ledger(numbered["ledger"]) as ledger:
        assert ledger.counts() == (1, 1)  # nothing appended


def test_no_event_report_is_incomplete_citing_3_3_1(inputs):
    # The reason named no field of the claim: "The claim lacks a detailed event description report." (an incomplete
    # claim is filed again with what it lacks)
    result = decide(inputs, claim(event_report=None))
    assert result["decision"] == "incomplete"
    assert result["reasons"] == [{"code": "missing_materials", "clause": "§3.3(1)", "field": "event_report",
                                  "message": "The claim lacks a detailed event description report: write it in the "
                                             "claim's field 'event_report'."}]
    assert result["compensation"] is None


@pytest.mark.parametrize("report", ["\u200b", "\ufeff", "\u202e", "\x00", " \u2060\u00ad\n"])
def test_an_event_report_that_shows_nothing_is_no_report_citing_3_3_1(inputs, report):
    # A zero-width space, a byte order mark, a right-to-left override, a NUL or a word joiner with a soft hyphen: a report
    # nobody can read was the detailed event description report of §3.3(1), and the claim approved (blank text, " ",
    # was refused). What shows nothing is the policy's one rule (a fact's value, a diff's words: policy.load.invisible)
    result = decide(inputs, claim(event_report=report))
    assert (result["decision"], result["reasons"]) == ("incomplete", [{
        "code": "missing_materials", "clause": "§3.3(1)", "field": "event_report",
        "message": "The claim lacks a detailed event description report: write it in the claim's field 'event_report'."}])
    assert decide(inputs, claim(event_report="\u200bCalls failed\u200b"))["decision"] != "incomplete"


def test_a_failure_record_that_shows_nothing_is_refused_as_a_blank_one(inputs):
    for records in (["call-1", " "], ["call-1", "\u200b"]):
        with pytest.raises(InputError, match=r"field 'failure_records' must be a list of service records of failed "
                                             r"calls, each a record id \(text\) or a record \(an object\)"):
            decide(inputs, claim(failure_records=records))


def test_each_missing_item_is_named(inputs):
    result = decide(inputs, claim(event_report="", unavailability=[], failure_records=None))
    assert [(r["code"], r["clause"], r["field"]) for r in result["reasons"]] == [
        ("missing_materials", "§3.3(1)", "event_report"), ("missing_materials", "§3.3(2)", "unavailability"),
        ("missing_materials", "§3.3(2)", "failure_records")]
    assert [r["message"] for r in result["reasons"][1:]] == [
        "The claim does not give the date, time and duration of the unavailability: give each period in the claim's "
        'field \'unavailability\', as {"start": …, "end": …}.',
        "The claim lacks the service records of the failed incoming or outgoing calls: list them in the claim's field "
        "'failure_records'."]


def test_a_claim_by_email_is_denied(inputs):
    result = decide(inputs, claim(channel="email"))
    assert (result["decision"], codes(result)) == ("denied", ["wrong_channel"])
    assert result["reasons"][0]["clause"] == "§3.2(1)"
    assert result["reasons"][0]["message"] == ("Claims are accepted only through the work order system of your "
                                               "account; this one came by 'email'.")


@pytest.mark.parametrize("channel,said", [
    ("work_order\u200b", "'work_order\\u200b': it holds U+200B ZERO WIDTH SPACE, which shows nothing."),
    ("\u200bwork_order", "'\\u200bwork_order': it holds U+200B ZERO WIDTH SPACE, which shows nothing."),
    ("w\u043erk_order", "'w\u043erk_order': it mixes letters of two scripts (U+043E CYRILLIC SMALL LETTER O among Latin "
                        "letters), so it looks like a value it is not."),
    # read as a contradiction: 'only through the work order system ...; this one came by 'Work Order''
    ("Work Order", "'Work Order': it is the channel's name written otherwise: claims come by 'work_order'."),
    ("work-order", "'work-order': it is the channel's name written otherwise: claims come by 'work_order'."),
    ("WORK_ORDER", "'WORK_ORDER': it is the channel's name written otherwise: claims come by 'work_order'."),
])
def test_a_channel_that_looks_like_the_one_accepted_is_told_what_makes_it_another(inputs, channel, said):
    # 'work_order' with a zero-width space copied with it was denied wrong_channel as 'email' is, and the reader saw
    # work_order: nothing said why (a Cyrillic о likewise)
    result = decide(inputs, claim(channel=channel))
    assert (result["decision"], result["reasons"]) == ("denied", [{
        "code": "wrong_channel", "clause": "§3.2(1)",
        "message": "Claims are accepted only through the work order system of your account; this one came by " + said}])


def test_all_reasons_are_reported(inputs):
    result = decide(inputs, claim(channel="email", event_report=None, filed_at="2024-06-02T00:00+08:00"))
    assert result["decision"] == "denied"
    assert codes(result) == ["filed_too_late", "wrong_channel", "missing_materials"]


def test_a_month_that_met_the_standard_is_denied(inputs):
    result = decide(inputs, claim(account="fine"))
    assert (result["decision"], codes(result)) == ("denied", ["standard_met"])
    assert result["reasons"][0]["clause"] == "§2.2"
    assert "was 99.98%, which meets the Service Availability Standard of 99.5%" in result["reasons"][0]["message"]


def test_a_claim_before_the_month_ended(inputs):
    result = decide(inputs, claim(filed_at="2024-03-20T10:00+08:00"), now="2024-03-21T00:00+00:00")
    assert codes(result)[:2] == ["month_not_ended", "filed_too_early"]
    assert result["decision"] == "denied"


def test_aggregate_cap_of_6_1_counts_the_damaged_month_and_cannot_bind_under_the_monthly_cap(inputs):
    january = decide(inputs, claim("2024-01", filed_at="2024-02-08T10:00+08:00"))
    february = decide(inputs, claim("2024-02", filed_at="2024-03-08T10:00+08:00"))
    march = decide(inputs, claim("2024-03", filed_at="2024-04-08T10:00+08:00"))
    # 50 % of 4.00, 4.00 and 100.00: each within its own fee paid (§3.1(2)), so §6.1 cannot bind.
    assert [r["compensation"] for r in (january, february, march)] == ["2.00", "2.00", "50.00"]
    assert [r["compensation_detail"]["capped"] for r in (january, february, march)] == [False, False, False]
    cap = march["compensation_detail"]["aggregate_cap"]
    # First billed 2023-01: March 2024 is the 15th month of use, W(2024-03) = 2023-04..2024-03 (the damaged month
    # included): 9 × 1.00 + 4.00 + 4.00 + 100.00 = 117.00 paid, 2.00 + 2.00 granted for January and February.
    assert (cap["first_month_of_use"], cap["months_of_use"], cap["window"]) == \
        ("2023-01", 15, {"from": "2023-04", "to": "2024-03"})
    assert (cap["fees_paid"], cap["already_granted"], cap["grants_counted"]) == \
        ("117.00", "4.00", {"2024-01": "2.00", "2024-02": "2.00"})
    # The tightest later window, W(2025-02) = 2024-03..2025-02, holds only March's 100.00 so far.
    assert cap["tightest_window"] == {"month": "2025-02", "from": "2024-03", "to": "2025-02", "fees_paid": "100.00",
                                      "granted": "0.00", "room": "100.00"}
    assert march["message"] == "Compensation of 50.00 is granted as vouchers."


@pytest.mark.slow
@pytest.mark.parametrize("setting,claimed", [("whole_minutes_only", 2), ("touched", 3)])
def test_a_claimed_window_counts_minutes_as_partial_minutes_says(tmp_path, inputs, setting, claimed):
    # 00:00:30–00:03:00 covers 00:01 and 00:02 whole (§1.5: less than 1 minute is not counted) and touches 00:00.
    family = published_variant(tmp_path, "    value: whole_minutes_only\n", f"    value: {setting}\n")
    data = claim(unavailability=[{"start": "2024-03-10T00:00:30+08:00", "end": "2024-03-10T00:03:00+08:00"}])
    result = decide_claim(family, data, now=dt.datetime(2024, 9, 1, tzinfo=dt.timezone.utc), **inputs)
    rec = result["reconciliation"]
    assert (rec["claimed_minutes"], rec["confirmed_minutes"], rec["records_prevail"]) == (claimed, claimed, "provider")


def test_the_materials_a_claim_needs_are_the_policys(tmp_path, inputs):
    # A version whose §3.3(2) material asks only for the unavailability: a claim without failure records is complete.
    family = published_variant(tmp_path, "requires: [unavailability, failure_records]", "requires: [unavailability]")
    result = decide_claim(family, claim(failure_records=None), now=dt.datetime(2024, 9, 1, tzinfo=dt.timezone.utc),
                          **inputs)
    assert (result["decision"], codes(result)) == ("approved", [])
    shipped = decide(dict(inputs, ledger=tmp_path / "shipped.sqlite"), claim(failure_records=None))
    assert (shipped["decision"], codes(shipped)) == ("incomplete", ["missing_materials"])


def test_the_same_claim_twice_grants_once(inputs):
    first = decide(inputs, claim())
    second = decide(inputs, claim())
    assert second["repeated"] is True and first["repeated"] is False
    assert {k: v for k, v in second.items() if k != "repeated"} == {k: v for k, v in first.items() if k != "repeated"}
    with Ledger(inputs["ledger"]) as ledger:
        assert ledger.counts() == (1, 1)


def test_a_second_claim_for_a_compensated_month_is_denied(inputs):
    first = decide(inputs, claim())
    other = decide(inputs, claim(event_report="Another report."))
    assert (other["decision"], codes(other)) == ("denied", ["already_compensated"])
    assert first["decision_id"] in other["reasons"][0]["message"]
    with Ledger(inputs["ledger"]) as ledger:
        assert ledger.counts() == (2, 1)


def test_reconciliation_lists_disagreements_as_ranges(inputs):
    data = claim(unavailability=[{"start": "2024-03-09T23:00+08:00", "end": "2024-03-10T01:00+08:00"}])
    rec = decide(inputs, data)["reconciliation"]
    assert (rec["claimed_minutes"], rec["confirmed_minutes"]) == (120, 60)
    assert rec["claimed_not_unavailable_in_records"] == [
        {"start": "2024-03-09T23:00:00+08:00", "end": "2024-03-10T00:00:00+08:00", "minutes": 60}]
    assert rec["unavailable_not_claimed"] == [
        {"start": "2024-03-10T01:00:00+08:00", "end": "2024-03-12T02:00:00+08:00", "minutes": 2940}]


def test_overlapping_claimed_windows_count_each_minute_once(inputs):
    # 23:00-00:30 and 00:00-01:00 overlap for 30 minutes: 90 + 60 - 30 = 120 distinct minutes, as one window
    # 23:00-01:00 claims (above); the records hold 60 of them (00:00-01:00) unavailable.
    data = claim(unavailability=[{"start": "2024-03-10T00:00+08:00", "end": "2024-03-10T01:00+08:00"},
                                 {"start": "2024-03-09T23:00+08:00", "end": "2024-03-10T00:30+08:00"}])
    rec = decide(inputs, data)["reconciliation"]
    assert (rec["claimed_minutes"], rec["confirmed_minutes"]) == (120, 60)
    assert rec["claimed_not_unavailable_in_records"] == [
        {"start": "2024-03-09T23:00:00+08:00", "end": "2024-03-10T00:00:00+08:00", "minutes": 60}]


MARCH_2024 = "Service Month 2024-03 (2024-03-01T00:00:00+08:00 to 2024-04-01T00:00:00+08:00)"
OWN_MONTH = ("a claim states the unavailability of its own Service Month (§3.3(2)): correct the window or "
             "service_month, or claim that time for the Service Month it lies in")


@pytest.mark.parametrize("start, end", [
    ("2024-02-29T23:00+08:00", "2024-03-01T00:00+08:00"),  # ends exactly at March's first minute: names none of it
    ("2024-04-01T00:00+08:00", "2024-04-01T01:00+08:00"),  # starts exactly at March's end
    ("2024-02-29T15:00+00:00", "2024-02-29T16:00+00:00"),  # 23:00-24:00 of 29 February in Singapore, written in UTC
])
def test_a_claim_stating_no_minute_of_its_month_is_refused_and_nothing_is_recorded(cli, inputs, tmp_path, start, end):
    # A claim for March whose only window lay in February was approved (the decision is the records', whatever the
    # claim states) for a month whose unavailability it never stated: a mistyped month or date (docs/readings.md).
    path = tmp_path / "claim.json"
    path.write_text(json.dumps(claim(unavailability=[{"start": start, "end": end}])))
    result = cli("claim", POLICIES, path, "--minutes", inputs["minutes"], "--billing", inputs["billing"],
                 "--ledger", inputs["ledger"], "--now", "2024-09-01T00:00+00:00")
    assert (result.code, result.out, result.err) == (1, "", f"slapolicy: {path}: field 'unavailability[0]': {start} "
                                                            f"to {end} lies wholly outside {MARCH_2024}; {OWN_MONTH}\n")
    assert not inputs["ledger"].exists()


def test_a_window_outside_the_month_among_others_is_refused_by_its_index(inputs):
    inside = {"start": "2024-03-10T00:00+08:00", "end": "2024-03-10T01:00+08:00"}
    april = {"start": "2024-04-02T10:00+08:00", "end": "2024-04-02T11:00+08:00"}
    with pytest.raises(InputError) as refused:
        decide(inputs, claim(unavailability=[inside, april, dict(april, note="again")]))
    assert str(refused.value) == (f"claim: field 'unavailability[1]': 2024-04-02T10:00+08:00 to 2024-04-02T11:00+08:00 "
                                  f"lies wholly outside {MARCH_2024}; field 'unavailability[2]': 2024-04-02T10:00+08:00 "
                                  f"to 2024-04-02T11:00+08:00 lies wholly outside {MARCH_2024}; {OWN_MONTH}")
    assert not inputs["ledger"].exists()


@pytest.mark.parametrize("start, end, claimed", [
    ("2024-03-31T23:59+08:00", "2024-04-01T00:10+08:00", 1),  # starts at March's last minute: that minute is claimed
    ("2024-02-29T23:50+08:00", "2024-03-01T00:01+08:00", 1),  # ends one minute into March: 00:00 is claimed
    ("2024-03-31T23:59:30+08:00", "2024-04-01T00:10+08:00", 0),  # half of the last minute: stated, counts none (§1.5)
])
def test_a_window_naming_a_minute_of_its_month_is_decided_on_its_part_inside(inputs, start, end, claimed):
    result = decide(inputs, claim(unavailability=[{"start": start, "end": end}]))
    rec = result["reconciliation"]
    # 'small' was unavailable 2024-03-10 00:00 to 2024-03-12 02:00 only: none of these minutes is in the records.
    assert (result["decision"], rec["claimed_minutes"], rec["confirmed_minutes"]) == ("approved", claimed, 0)


def test_a_claim_already_decided_is_answered_from_the_ledger_before_its_windows_are_checked(inputs, monkeypatch):
    # Decided before windows outside the month were refused: the same claim sent again gets the recorded decision.
    import slapolicy.engine as engine

    data = claim(unavailability=[{"start": "2024-04-02T10:00+08:00", "end": "2024-04-02T11:00+08:00"}])
    with monkeypatch.context() as before:
        before.setattr(engine, "check_claimed_windows", lambda *args: None)
        first = decide(inputs, data)
    again = decide(inputs, data)
    assert (first["decision"], again["repeated"], again["decision_id"]) == ("approved", True, first["decision_id"])


def test_the_decision_hook_receives_each_new_decision(inputs):
    from slapolicy.hookspecs import hookimpl
    from slapolicy.plugins import make_manager

    seen = []

    class Forwarder:
        @hookimpl
        def slapolicy_decision_made(self, decision):
            seen.append(decision["decision_id"])

    manager = make_manager(extra=[Forwarder()])
    result = decide_claim(POLICIES, claim(), now=dt.datetime(2024, 9, 1, tzinfo=dt.timezone.utc), manager=manager, **inputs)
    decide_claim(POLICIES, claim(), now=dt.datetime(2024, 9, 1, tzinfo=dt.timezone.utc), manager=manager, **inputs)
    assert seen == [result["decision_id"]]


def test_a_crash_mid_decision_leaves_no_partial_record(inputs, monkeypatch):
    import slapolicy.ledger as ledger_module

    real = ledger_module.Ledger.decide

    def crashing(self, digest, account, build):
        def exploding(grants):
            decision, inputs_, amount = build(grants)
            return decision, inputs_, "not a number"  # the grant insert fails after the decision insert
        return real(self, digest, account, exploding)

    monkeypatch.setattr(ledger_module.Ledger, "decide", crashing)
    with pytest.raises(Exception):
        decide(inputs, claim())
    monkeypatch.undo()
    with Ledger(inputs["ledger"]) as ledger:
        assert ledger.counts() == (0, 0)


@pytest.mark.slow
def test_many_threads_one_ledger(inputs):
    """16 threads decide the three months of 'small' (each claim four times) and 'fine': no decision lost
    or duplicated, each month granted once, the cap never exceeded."""
    claims = [claim("2024-01", filed_at="2024-02-08T10:00+08:00"), claim("2024-02", filed_at="2024-03-08T10:00+08:00"),
              claim("2024-03", filed_at="2024-04-08T10:00+08:00"), claim(account="fine")]
    results, errors = [], []

    def work(i):
        try:
            ledger = Ledger(inputs["ledger"])
            try:
                results.append(decide_claim(POLICIES, claims[i % 4], minutes=inputs["minutes"], billing=inputs["billing"],
                                            ledger=ledger, now=dt.datetime(2024, 9, 1, tzinfo=dt.timezone.utc)))
            finally:
                ledger.close()
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(results) == 16
    assert sum(not r["repeated"] for r in results) == 4
    with Ledger(inputs["ledger"]) as ledger:
        decisions, grants = ledger.counts()
        granted = ledger.grants("small")
    assert decisions == 4 and grants == 3  # each claim decided once; 'fine' met the standard
    # No cap binds (each month within its own fee paid, §3.1(2)), so whatever order the threads decided in,
    # every month gets its own 50 %: 2.00, 2.00 and 50.00.
    assert {month: amount for month, (amount, _) in granted.items()} == \
        {"2024-01": Decimal("2.00"), "2024-02": Decimal("2.00"), "2024-03": Decimal("50.00")}


# ---------------------------------------------------------------------------- bad claim files

@pytest.mark.parametrize("change,message", [
    ({"account": None}, "field 'account' is missing"),
    ({"service_month": "March"}, "field 'service_month': 'March' is not a month written YYYY-MM"),
    # A claim's month written as a date (the first of it, or the day the outage began) is told how to write it.
    ({"service_month": "2024-03-05"}, "field 'service_month': '2024-03-05' is not a month written YYYY-MM: write 2024-03"),
    ({"filed_at": "the 8th"}, "field 'filed_at': 'the 8th' is not an ISO 8601 timestamp"),
    ({"unavailability": [{"start": "x", "end": "y"}]}, "field 'unavailability[0]': 'x' is not an ISO 8601 timestamp"),
    ({"filed_at": "2024-08-01T00:00+15:00"}, "field 'filed_at': '2024-08-01T00:00+15:00' has a UTC offset beyond ±14:00"),
    ({"unavailability": [{"start": "2024-07-01T10:00+08:00", "end": "2024-07-01T11:00-14:30"}]},
     "field 'unavailability[0]': '2024-07-01T11:00-14:30' has a UTC offset beyond ±14:00"),
    ({"account": "nobody"}, "field 'account': unknown account 'nobody' (not in the minutes or billing of 2024-03)"),
    ({"service_month": "2025-01", "filed_at": "2024-08-01T00:00+08:00"}, "field 'service_month': 2025-01 has not begun yet"),
    ({"filed_at": "2024-10-01T00:00+08:00"}, "field 'filed_at': 2024-10-01T00:00:00+08:00 is in the future"),
    ({"colour": "red"}, "field 'colour' is unknown"),
    # A field of the wrong JSON type is the claim's problem (exit 1, as serve's 422), named in JSON's words.
    ({"account": 7.5}, "field 'account': 7.5 is not an account name: write the name as text (a whole number is read as its digits)"),  # 7 is account "7" (test_account_rule)
    ({"account": ["acme"]}, "field 'account' must be a string or a whole number, not a list"),
    ({"channel": ["work_order"]}, "field 'channel' must be a string, not a list"),
    ({"event_report": 1.5}, "field 'event_report' must be a string or null, not a number"),
    ({"unavailability": [{"start": 1, "end": "2024-03-05T11:00+08:00"}]},
     "field 'unavailability[0].start' must be a string, not a number"),
    # A number was read as a date (date.fromisoformat(str(20240301)) is 2024-03-01).
    ({"term_start": 20240301, "term_end": "2024-03-31"}, "field 'term_start' must be a string or null, not a number"),
    ({"term_start": "2024-03-01"}, "fields 'term_start' and 'term_end' go together"),
    # Each was accepted and approved: a text, or a list of nothing, is not a service record of a failed call.
    ({"failure_records": "x"}, 'field \'failure_records\' must be a list or null, not a string: write "failure_records": ["x"]'),
    ({"failure_records": [1, None, {}]}, "field 'failure_records' must be a list of service records of failed calls"),
    ({"failure_records": [" "]}, "field 'failure_records' must be a list of service records of failed calls"),
    ({"contact": [1]}, "field 'contact' must be a string or null, not a list"),
    ({"claim_id": {}}, "field 'claim_id' must be a string or null, not an object"),
])
def test_bad_claim_files(cli, inputs, tmp_path, change, message):
    path = tmp_path / "claim.json"
    path.write_text(json.dumps(claim(**change)) if None not in change.values() else
                    json.dumps({k: v for k, v in claim().items() if k not in change}))
    result = cli("claim", POLICIES, path, "--minutes", inputs["minutes"], "--billing", inputs["billing"],
                 "--ledger", inputs["ledger"], "--now", "2024-09-01T00:00+00:00")
    assert result.code == 1
    assert f"{path}: " in result.err and message in result.err
    assert not inputs["ledger"].exists()


def test_a_required_field_missing_says_what_to_write_in_it(cli, inputs, tmp_path):
    # A new user writing a first claim from docs/cli.md's list of fields was told "field 'channel' is missing", and
    # nothing of what a channel is or how it is written; likewise the three others. Each names what it holds.
    path = tmp_path / "claim.json"
    path.write_text(json.dumps({"contact": "ops@example.com"}))
    result = cli("claim", POLICIES, path, "--minutes", inputs["minutes"], "--ledger", inputs["ledger"])
    assert (result.code, result.out) == (1, "")
    assert result.err == (
        f"slapolicy: {path}: field 'account' is missing (the account claiming, as the minutes and billing name it); "
        "field 'service_month' is missing (the Service Month claimed, written YYYY-MM, e.g. \"2019-03\"); "
        "field 'filed_at' is missing (when the claim was filed: an ISO 8601 timestamp, e.g. \"2019-04-10T10:00+08:00\"; "
        "one without a UTC offset is read in the policy's timezone); field 'channel' is missing (how the claim was filed, e.g. \"work_order\": "
        "the policy's claims.channel names the one accepted)\n")
    assert not inputs["ledger"].exists()


def test_a_claim_that_is_not_json(cli, inputs, tmp_path):
    path = tmp_path / "claim.json"
    path.write_text("{account: x}")
    result = cli("claim", POLICIES, path, "--minutes", inputs["minutes"], "--ledger", inputs["ledger"])
    assert result.code == 1
    assert f"{path}:1:2: not valid JSON: Expecting property name enclosed in double quotes" in result.err
    assert not inputs["ledger"].exists()


def test_missing_billing_for_an_owed_month_writes_nothing(cli, inputs, tmp_path):
    path = tmp_path / "claim.json"
    path.write_text(json.dumps(claim()))
    result = cli("claim", POLICIES, path, "--minutes", inputs["minutes"], "--ledger", inputs["ledger"],
                 "--now", "2024-09-01T00:00+00:00")
    assert result.code == 1
    assert result.err == ("slapolicy: billing for account 'small', 2024-03 is needed to compute the compensation: give "
                          "--billing FILE (in Python, billing=)\n")
    assert not inputs["ledger"].exists()  # refused before the decision: no ledger file either
    # A billing given without the account's month is told so, not to give --billing (it was: '(--billing)' alike).
    other = write_csv(tmp_path / "other.csv", [{"account": "fine", "month": "2024-03", "monthly_fee": "50.00",
                                                "offset": "0.00"}])
    result = cli("claim", POLICIES, path, "--minutes", inputs["minutes"], "--billing", other, "--ledger",
                 inputs["ledger"], "--now", "2024-09-01T00:00+00:00")
    assert (result.code, result.out) == (1, "")
    assert result.err == ("slapolicy: billing for account 'small', 2024-03 is needed to compute the compensation: the "
                          "billing given has no row for this account and month\n")
    assert not inputs["ledger"].exists()
    # The error is made again as it was in another process (pickled by its fields, not its message).
    import pickle

    from slapolicy.errors import BillingNeeded

    again = pickle.loads(pickle.dumps(BillingNeeded("small", "2024-03", True)))
    assert (type(again), again.given, str(again)) == (BillingNeeded, True, result.err.removeprefix("slapolicy: ")[:-1])


def test_claim_text_for_a_support_agent(cli, inputs, tmp_path):
    path = tmp_path / "claim.json"
    path.write_text(json.dumps(claim(channel="email")))
    result = cli("claim", POLICIES, path, "--minutes", inputs["minutes"], "--billing", inputs["billing"],
                 "--ledger", inputs["ledger"], "--now", "2024-09-01T00:00+00:00", "--format", "text")
    assert result.code == 0
    lines = result.out.splitlines()
    assert lines[0].endswith("account small, Service Month 2024-03: DENIED")
    assert lines[1] == "Reasons:"
    assert lines[2] == ("  - [§3.2(1)] Claims are accepted only through the work order system of your account; "
                        "this one came by 'email'.")
    assert "Claim window: opens 2024-04-06T00:00:00+08:00, closes at the end of 2024-05-30." in lines


def test_a_claim_too_early_is_told_the_public_holiday_that_moved_the_window(cli, inputs, tmp_path):
    # December 2023 in Singapore: Monday Jan 1 is New Year's Day, so the 5th business day is Mon Jan 8, not Fri Jan 5.
    # A customer counting five weekdays from Jan 1 filed on Jan 8 and was told only 'after the 5th business day,
    # 2024-01-08', with nothing saying why the 8th is the 5th; the reply they are pasted names the holiday.
    path = tmp_path / "claim.json"
    path.write_text(json.dumps(claim(month="2023-12", filed_at="2024-01-08T10:00+08:00")))
    result = cli("claim", POLICIES, path, "--minutes", inputs["minutes"], "--billing", inputs["billing"],
                 "--ledger", inputs["ledger"], "--now", "2024-01-08T10:00+08:00", "--format", "text")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[2] == ("  - [§3.2(1)] The claim was filed on 2024-01-08T10:00+08:00, before the claim window opened on "
                        "2024-01-09T00:00+08:00 (after the 5th business day, 2024-01-08, of the month after the Service "
                        "Month; a public holiday is not a business day: 2024-01-01 New Year's Day).")
    assert ("Claim window: opens 2024-01-09T00:00:00+08:00 (a public holiday is not a business day: 2024-01-01 New "
            "Year's Day), closes at the end of 2024-02-29.") in lines
    # A window that passed over no holiday says nothing of them (test_claim_text_for_a_support_agent); several are
    # listed in order: China's National Day week of October 2024.
    from slapolicy.calendar import holidays_note

    assert holidays_note([]) == ""
    assert holidays_note([("2024-10-01", "National Day"), ("2024-10-02", "National Day")]) == (
        "public holidays are not business days: 2024-10-01 National Day, 2024-10-02 National Day")


def test_a_python_value_that_json_has_no_type_for_is_named_as_what_it_is_not_as_a_number(inputs):
    """decide_claim takes a claim as read from CLAIM.json; a caller who hands it a datetime, a tuple or a set is told
    what it handed, not 'a number' (what JSON calls int and float); nothing is written."""
    when = dt.datetime(2024, 4, 8, 10, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    for change, message in (({"filed_at": when}, "field 'filed_at' must be a string, not a Python datetime"),
                            ({"unavailability": ({"start": "2024-03-10T00:00+08:00", "end": "2024-03-12T02:00+08:00"},)},
                             "field 'unavailability' must be a list or null, not a Python tuple"),
                            ({"failure_records": {"c-1"}}, "field 'failure_records' must be a list or null, not a Python set")):
        with pytest.raises(InputError) as refused:
            decide(inputs, claim(**change))
        assert str(refused.value) == f"claim: {message}"
    assert not inputs["ledger"].exists()


def test_claimed_windows_are_merged_before_their_minutes_are_counted():
    # 2,000 copies of a whole-month window (a 140 kB claim) took 2.2 GB and 6 s: one array of 44,640 minutes per
    # window, concatenated, then made distinct. Merged first, the minutes are those of the union, within the month.
    from slapolicy.claims.decision import claimed_minutes

    def at(day, hour, minute=0):
        return dt.datetime(2019, 3, day, hour, minute, tzinfo=SGT)

    march = ServiceMonth(dt.date(2019, 3, 1), dt.date(2019, 3, 31)).epoch_minutes("Asia/Singapore")
    whole = (dt.datetime(2019, 2, 20, tzinfo=SGT), dt.datetime(2019, 4, 20, tzinfo=SGT))  # clipped to March
    minutes = claimed_minutes([whole] * 2000, "inward", *march)
    assert (len(minutes), int(minutes[0]), int(minutes[-1]) + 1) == (44640, *march)  # 31 days x 1440
    # [09:00, 10:00) and [09:30, 11:00) overlap, [11:00, 11:30) touches them: 150 minutes; [12:00:30, 12:02:00)
    # covers 12:01 only, inward (§1.5: less than a minute is not counted), 12:00 too outward; [13:00, 13:00) none.
    windows = [(at(11, 11), at(11, 11, 30)), (at(11, 9, 30), at(11, 11)), (at(11, 9), at(11, 10)),
               (dt.datetime(2019, 3, 11, 12, 0, 30, tzinfo=SGT), at(11, 12, 2)), (at(11, 13), at(11, 13))]
    inward, outward = (claimed_minutes(windows, rounding, *march) for rounding in ("inward", "outward"))
    nine = int(at(11, 9).timestamp()) // 60
    assert (inward - nine).tolist() == list(range(150)) + [181]
    assert (outward - nine).tolist() == list(range(150)) + [180, 181]


@pytest.mark.slow
def test_a_claims_times_without_offset_are_read_on_the_clock_of_the_version_governing_its_service_month(tmp_path):
    """§6.2 with a term starting mid-month: a version taking effect on 2024-03-10 in Tokyo governs the Service Month
    2024-03-17 to 2024-03-31 of a term starting on the 17th. The claim's filed_at and unavailability, written without
    an offset, were read in Singapore, the zone of the version in force on March 1st: the hour it states,
    10:00-11:00 in Tokyo (01:00-02:00 UTC, every minute failing), was 11:00-12:00 in Tokyo, none of it confirmed."""
    from conftest import run_cli
    from helpers import PUBLISHED

    family = tmp_path / "family"
    family.mkdir()
    text = PUBLISHED.read_text()
    (family / "2019-01-01.yaml").write_text(text)
    for old, new in (("value: Asia/Singapore", "value: Asia/Tokyo"), ('version: "2019-01-01"', 'version: "2024-03-10"'),
                     ('effective_from: "2019-01-01"', 'effective_from: "2024-03-10"\namends: "2019-01-01"'),
                     *((f'{stamp}+08:00"', f'{stamp}+09:00"') for stamp in (  # the claim window's examples
                         "2019-04-06T00:00:00", "2019-02-12T00:00:00", "2019-05-31T00:00:00"))):
        assert old in text
        text = text.replace(old, new)
    (family / "2024-03-10.yaml").write_text(text)
    assert run_cli("lock", "--new", family).code == 0
    first = dt.datetime(2024, 3, 20, 1, 0, tzinfo=dt.timezone.utc)
    minutes = write_csv(tmp_path / "minutes.csv", [
        {"account": "a", "minute": (first + dt.timedelta(minutes=i)).isoformat(), "requests": 100, "failures": 50}
        for i in range(60)])
    claim = {"account": "a", "service_month": "2024-03", "term_start": "2024-03-17", "term_end": "2025-03-16",
             "filed_at": "2024-04-20T10:00", "channel": "work_order", "event_report": "Calls failed.",
             "failure_records": ["r-1"], "unavailability": [{"start": "2024-03-20T10:00", "end": "2024-03-20T11:00"}]}
    decided = decide_claim(family, claim, minutes=minutes, ledger=tmp_path / "ledger.sqlite",
                           now=dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc))
    reconciled = decided["reconciliation"]
    assert (decided["policy"]["version"], decided["filed_at"], decided["evaluation"]["service_month"]["days"],
            reconciled["claimed_minutes"], reconciled["confirmed_minutes"],
            reconciled["claimed_not_unavailable_in_records"]) == (
        "2024-03-10", "2024-04-20T10:00:00+09:00", 15, 60, 60, [])
    # 60 of 21,600 minutes: 99.72 %, the standard met.
    assert (decided["evaluation"]["availability_percent"], decided["decision"]) == ("99.72", "denied")


def test_a_claim_for_a_month_outside_the_term_it_states_names_the_claim_and_its_field(cli, tmp_path):
    # The message named neither the claim file nor the field ("2019-08 is outside the service term ..."), as every
    # other problem of a claim does; still exit 1, and no ledger is made.
    claim = tmp_path / "claim.json"
    claim.write_text(json.dumps({"account": "a", "service_month": "2019-08", "term_start": "2019-03-17",
                                 "term_end": "2019-06-16", "filed_at": "2019-09-20T10:00+08:00",
                                 "channel": "work_order", "event_report": "Calls failed."}))
    minutes = write_csv(tmp_path / "minutes.csv", minute_rows("a", "2019-08-01T00:00", 1, 100, 0))
    result = cli("claim", POLICIES, claim, "--minutes", minutes, "--ledger", tmp_path / "ledger.sqlite",
                 "--now", "2019-10-01T00:00+08:00")
    assert (result.code, result.out) == (1, "")
    assert result.err == (f"slapolicy: {claim}: field 'service_month': 2019-08 is outside the service term 2019-03-17 "
                          "to 2019-06-16 (fields 'term_start' and 'term_end')\n")
    assert not (tmp_path / "ledger.sqlite").exists()


def test_a_term_opened_on_29_february_has_a_service_month_of_one_day(cli, tmp_path):
    """§1.2 and §1.6 at a leap day: a year's term from 2024-02-29 gives a first Service Month of that day alone
    (1,440 minutes) and a last one of 2025-02-01 to 2025-02-28. 15 unavailable minutes in it: 1 − 15/1,440 =
    98.958 % → tier 2, 25 % of 100.00. Its window opens after Thu 2024-03-07 (March 1, 4, 5, 6, 7) and closes at
    the end of the 60th day after it, 2024-04-29."""
    months = cli("months", "--start", "2024-02-29", "--end", "2025-02-28").out.splitlines()
    assert (months[0], months[-1], len(months)) == ("2024-02-29 – 2024-02-29   1 days    1440 minutes",
                                                    "2025-02-01 – 2025-02-28  28 days   40320 minutes", 13)
    minutes = write_csv(tmp_path / "minutes.csv", list(minute_rows("a", "2024-02-28T23:50", 10, 100, 50))
                        + list(minute_rows("a", "2024-02-29T23:45", 15, 100, 50)))
    billing = write_csv(tmp_path / "billing.csv", [{"account": "a", "month": "2024-02", "monthly_fee": "100.00",
                                                    "offset": "0.00"}])
    claim = {"account": "a", "service_month": "2024-02", "term_start": "2024-02-29", "term_end": "2025-02-28",
             "filed_at": "2024-04-29T23:59+08:00", "channel": "work_order", "event_report": "Calls failed.",
             "failure_records": ["r-1"], "unavailability": [{"start": "2024-02-29T23:45", "end": "2024-03-01T00:00"}]}
    decided = decide_claim(POLICIES, claim, minutes=minutes, billing=billing, ledger=tmp_path / "ledger.sqlite",
                           now=dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc))
    e = decided["evaluation"]
    assert (e["service_month"], e["unavailable_minutes"], e["availability_percent"], e["credit_percent"]) == (
        {"start": "2024-02-29", "end": "2024-02-29", "days": 1, "total_minutes": 1440}, 15, "98.96", 25)
    assert (decided["window"]["opens"], decided["window"]["closes"], decided["decision"], decided["compensation"]) == (
        "2024-03-08T00:00:00+08:00", "2024-04-30T00:00:00+08:00", "approved", "25.00")
    assert decided["reconciliation"]["confirmed_minutes"] == 15


@pytest.mark.parametrize("term_start,answer", [
    ("2024-03-17", "denied"),  # decided under 2024-03-10: 60 of 21,600 minutes, 99.72 %, the standard met
    ("2024-03-05", "no version of {family} is in force for the Service Month starting 2024-03-05: the earliest "
                   "version takes effect on 2024-03-10"),
])
def test_a_claim_for_a_term_beginning_after_the_first_version_took_effect_mid_month_is_decided(
        tmp_path, term_start, answer):
    """A family whose first version takes effect on 2024-03-10: evaluate decided the Service Month March 17-31 of a
    term from the 17th under it (§6.2), but a claim for that month was refused, 'no version ... is in force for the
    Service Month starting 2024-03-01', a day that is no Service Month of the term. A term from the 5th still is."""
    from conftest import run_cli
    from helpers import PUBLISHED

    family = tmp_path / "family"
    family.mkdir()
    text = PUBLISHED.read_text()
    for old, new in (('version: "2019-01-01"', 'version: "2024-03-10"'),
                     ('effective_from: "2019-01-01"', 'effective_from: "2024-03-10"')):
        text = text.replace(old, new)
    (family / "2024-03-10.yaml").write_text(text)
    assert run_cli("lock", "--new", family).code == 0
    minutes = write_csv(tmp_path / "minutes.csv", minute_rows("a", "2024-03-20T10:00", 60, 100, 50))
    claim = {"account": "a", "service_month": "2024-03", "term_start": term_start, "term_end": "2025-03-16",
             "filed_at": "2024-04-20T10:00", "channel": "work_order", "event_report": "Calls failed.",
             "failure_records": ["r-1"], "unavailability": [{"start": "2024-03-20T10:00", "end": "2024-03-20T11:00"}]}
    now = dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc)
    if answer == "denied":
        decided = decide_claim(family, claim, minutes=minutes, ledger=tmp_path / "ledger.sqlite", now=now)
        assert (decided["policy"]["version"], decided["evaluation"]["service_month"]["start"],
                decided["reconciliation"]["confirmed_minutes"], decided["decision"]) == (
            "2024-03-10", "2024-03-17", 60, "denied")
    else:
        from slapolicy.errors import NoVersionInForce

        with pytest.raises(NoVersionInForce) as refused:
            decide_claim(family, claim, minutes=minutes, ledger=tmp_path / "ledger.sqlite", now=now)
        assert str(refused.value) == answer.format(family=family)
        assert not (tmp_path / "ledger.sqlite").exists()
