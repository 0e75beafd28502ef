"""Each clause's reading applied as docs/readings.md writes it, under every value the policy schema allows for its
setting: both sides of each boundary, with the minutes, percentages, money and dates worked out by hand."""
import datetime as dt
import json

import pytest

from helpers import draft_variant
from slapolicy import load_policy
from slapolicy.calendar import ServiceMonth
from slapolicy.claims.window import business_calendar, claim_window


def variant(tmp_path, old: str, new: str, name: str = "variant.yaml"):
    return load_policy(draft_variant(tmp_path, old, new, name))


# ---------------------------------------------------------------------------- §3.2(1) the window opens

@pytest.mark.parametrize("days,business_day,opens", [
    # March 2019 in Singapore. April 2019: Mon 1 to Fri 5 are business days (Good Friday is the 19th).
    (0, "2019-03-31", "2019-04-01T00:00:00+08:00"),  # after no business day: as soon as April begins
    (1, "2019-04-01", "2019-04-02T00:00:00+08:00"),  # after Mon Apr 1
    (5, "2019-04-05", "2019-04-06T00:00:00+08:00"),  # the shipped 5: after Fri Apr 5
    (6, "2019-04-08", "2019-04-09T00:00:00+08:00"),  # Sat 6 and Sun 7 are not business days
])
@pytest.mark.slow
def test_the_window_opens_after_the_business_days_the_policy_counts(tmp_path, days, business_day, opens):
    # after_business_days: 0 opened after the first business day, as 1 does: 0 was counted as 1.
    policy = variant(tmp_path, "after_business_days: 5", f"after_business_days: {days}")
    window = claim_window(policy, ServiceMonth(dt.date(2019, 3, 1), dt.date(2019, 3, 31)), business_calendar(policy))
    assert (window.business_day.isoformat(), window.opens.isoformat()) == (business_day, opens)


def test_after_no_business_day_a_partial_last_month_opens_when_the_month_after_it_begins(tmp_path):
    # A term ending on Sun 2024-06-16: its window opens when July begins, not on Jun 17 (the count is of the month
    # following, §3.2(1)); the day before that month is the day the count is after.
    policy = variant(tmp_path, "after_business_days: 5", "after_business_days: 0")
    window = claim_window(policy, ServiceMonth(dt.date(2024, 6, 1), dt.date(2024, 6, 16)), business_calendar(policy))
    assert (window.business_day.isoformat(), window.opens.isoformat()) == ("2024-06-30", "2024-07-01T00:00:00+08:00")



@pytest.mark.parametrize("at,calendar,opens", [
    # March 2019: April's 5th business day is Fri Apr 5 in Singapore and in "weekdays" alike.
    ("00:00", "SG", "2019-04-06T00:00:00+08:00"),
    ("09:30", "SG", "2019-04-06T09:30:00+08:00"),  # at 09:30 on the day after, not at midnight
    ("23:59", "weekdays", "2019-04-06T23:59:00+08:00"),
])
def test_the_window_opens_at_the_time_the_policy_says_on_the_day_after(tmp_path, at, calendar, opens):
    policy = _window_variant(tmp_path, at, calendar)
    window = claim_window(policy, ServiceMonth(dt.date(2019, 3, 1), dt.date(2019, 3, 31)), business_calendar(policy))
    assert window.opens.isoformat() == opens
    assert window.closes.isoformat() == "2019-05-31T00:00:00+08:00"  # the end of May 30, whatever the opening time


def _window_variant(tmp_path, at: str, calendar: str):
    path = draft_variant(tmp_path, 'at: "00:00"', f'at: "{at}"')
    path.write_text(path.read_text().replace("    value: SG\n", f"    value: {calendar}\n")
                    .replace('opens: "2019-04-06T00:00:00+08:00"', f'opens: "2019-04-06T{at}:00+08:00"'))
    return load_policy(path)


def test_weekdays_count_no_public_holiday(tmp_path):
    # December 2023: January 2024's 5th business day is Mon Jan 8 in Singapore (Jan 1 is New Year's Day), Fri Jan 5
    # with weekdays alone; January 2019 (Chinese New Year on Feb 5 and 6 in Singapore): Mon Feb 11, and Thu Feb 7.
    singapore, weekdays = _window_variant(tmp_path, "00:00", "SG"), _window_variant(tmp_path, "00:00", "weekdays")
    for start, end, in_singapore, on_weekdays in ((dt.date(2023, 12, 1), dt.date(2023, 12, 31), "2024-01-08", "2024-01-05"),
                                                  (dt.date(2019, 1, 1), dt.date(2019, 1, 31), "2019-02-11", "2019-02-07")):
        month = ServiceMonth(start, end)
        assert claim_window(singapore, month, business_calendar(singapore)).business_day.isoformat() == in_singapore
        assert claim_window(weekdays, month, business_calendar(weekdays)).business_day.isoformat() == on_weekdays


@pytest.mark.parametrize("days,filed_at,words", [
    (0, "2019-03-31T23:59:00+08:00", "before the claim window opened on 2019-04-01T00:00+08:00 (as the month after the "
                                     "Service Month begins)."),
    (5, "2019-04-05T23:59:00+08:00", "before the claim window opened on 2019-04-06T00:00+08:00 (after the 5th business "
                                     "day, 2019-04-05, of the month after the Service Month)."),
])
@pytest.mark.slow
def test_a_claim_filed_a_minute_before_the_window_opens_is_told_when_it_opens(tmp_path, days, filed_at, words):
    from types import SimpleNamespace

    from slapolicy.claims.window import timing_reasons

    policy = variant(tmp_path, "after_business_days: 5", f"after_business_days: {days}")
    month = ServiceMonth(dt.date(2019, 3, 1), dt.date(2019, 3, 31))
    window = claim_window(policy, month, business_calendar(policy))
    claim = SimpleNamespace(filed_at=dt.datetime.fromisoformat(filed_at), channel="work_order")
    early = [r for r in timing_reasons(policy, claim, month, window) if r["code"] == "filed_too_early"]
    assert [r["message"] for r in early] == [f"The claim was filed on {filed_at[:16]}+08:00, {words}"]
    on_time = SimpleNamespace(filed_at=window.opens, channel="work_order")
    assert timing_reasons(policy, on_time, month, window) == []




@pytest.mark.parametrize("filed_at,codes", [
    ("2019-03-31T23:59:59+08:00", ["month_not_ended", "filed_too_early"]),  # the month's last second
    ("2019-03-31T15:59:59+00:00", ["month_not_ended", "filed_too_early"]),  # the same instant, in UTC
    ("2019-04-01T00:00:00+08:00", []),  # as the month ends, the window opens (after 0 business days)
    ("2019-03-31T16:00:00+00:00", []),
])
@pytest.mark.slow
def test_a_claim_filed_before_its_month_ended_is_told_so_to_the_second(tmp_path, filed_at, codes):
    # §3.2(1) counts from the end of the Service Month: March 2019 ends at 2019-04-01T00:00+08:00. Under a version
    # whose window opens after 0 business days, a claim filed that instant is in time, one filed a second before is
    # not, and both reasons say why; no test held the month's end to the second.
    from types import SimpleNamespace

    from slapolicy.claims.window import timing_reasons

    policy = variant(tmp_path, "after_business_days: 5", "after_business_days: 0")
    month = ServiceMonth(dt.date(2019, 3, 1), dt.date(2019, 3, 31))
    window = claim_window(policy, month, business_calendar(policy))
    claim = SimpleNamespace(filed_at=dt.datetime.fromisoformat(filed_at), channel="work_order")
    assert [r["code"] for r in timing_reasons(policy, claim, month, window)] == codes


@pytest.mark.parametrize("written,why", [
    ("2024-11-03T01:30", "happens twice (the clocks moved back)"),   # 05:30Z (EDT) or 06:30Z (EST)
    ("2024-03-10T02:30", "does not exist (the clocks moved forward)"),
])
def test_a_wall_time_without_offset_that_the_clocks_skip_or_repeat_is_refused_in_every_input(tmp_path, written, why):
    """Minutes at such a wall time were refused by name; an incident's, a notice's or a claim's were placed at the
    first of the two instants (or an hour past a skipped one) without a word: an incident an hour off excludes other
    minutes, a notice an hour off is prior or not."""
    from slapolicy.claims.materials import parse_claim
    from slapolicy.errors import InputError
    from slapolicy.inputs.events import read_incidents, read_notices

    policy = variant(tmp_path, "value: Asia/Singapore", "value: America/New_York")
    words = f"{written!r} {why} in America/New_York: give it a UTC offset"
    with pytest.raises(InputError) as refused:
        read_incidents([{"id": "I-1", "start": written, "end": "2024-11-03T04:00-05:00", "cause": "provider"}], policy)
    assert str(refused.value) == \
        f"1 problem(s) in argument 'incidents':\nargument 'incidents': row 1, column 'start': {words}"
    with pytest.raises(InputError) as refused:
        read_notices([{"id": "N-1", "kind": "maintenance", "published_at": written, "start": "2024-11-05T00:00-05:00",
                       "end": "2024-11-05T01:00-05:00"}], policy.timezone)
    assert str(refused.value) == \
        f"1 problem(s) in argument 'notices':\nargument 'notices': row 1, column 'published_at': {words}"
    claim = {"account": "a", "service_month": written[:7], "filed_at": "2024-12-10T10:00-05:00", "channel": "work_order",
             "event_report": "x", "unavailability": [{"start": written, "end": f"{written[:10]}T05:00-05:00"}]}
    with pytest.raises(InputError) as refused:
        parse_claim(claim, policy.timezone)
    assert str(refused.value) == f"claim: field 'unavailability[0]': {words}"
    # With its offset, the same wall time is one instant, and is taken.
    (incident,) = read_incidents([{"id": "I-1", "start": f"{written}-05:00", "end": "2024-11-03T04:00-05:00",
                                   "cause": "provider"}], policy)
    assert incident.start.isoformat() == f"{written}:00-05:00"


# ---------------------------------------------------------------------------- one account's month, as evaluated

def _month(tmp_path, rows, month, policy_file=None, billing=None, notices=None, incidents=None):
    from conftest import POLICIES
    from helpers import write_csv, write_yaml
    from slapolicy.api import evaluate

    minutes = write_csv(tmp_path / "minutes.csv", rows,
                        fields=["account", "minute", "requests", "failures", "illegal_number_failures", "peak_qps"])
    options = {"policy_file": policy_file} if policy_file else {}
    if billing is not None:
        options["billing"] = write_csv(tmp_path / "billing.csv", [
            {"account": "a", "month": month, "monthly_fee": billing[0], "offset": billing[1]}])
    if notices is not None:
        options["notices"] = write_yaml(tmp_path / "notices.yaml", notices)
    if incidents is not None:
        options["incidents"] = write_yaml(tmp_path / "incidents.yaml", incidents)
    (e,) = evaluate(POLICIES, minutes=minutes, month=month, **options)["evaluations"]
    return e


def _april(tmp_path, unavailable, policy_file=None, billing=None):
    """``unavailable`` minutes at 98 % from 2019-04-01 00:00; April 2019 has 30 × 1440 = 43,200 Total Minutes."""
    from helpers import minute_rows

    return _month(tmp_path, minute_rows("a", "2019-04-01T00:00", unavailable, 100, 2), "2019-04", policy_file, billing)


def _file(tmp_path, old, new):
    return draft_variant(tmp_path, old, new)


@pytest.mark.parametrize("reading,requests,failures,illegal,unavailable", [
    # remove_from_both (shipped): 1 failure of 96 normal requests, 98.96 % < 99 %; 0 of 99, 100 %; 0 of 0, no traffic.
    ("remove_from_both", 100, 5, 4, 1), ("remove_from_both", 100, 1, 1, 0), ("remove_from_both", 3, 3, 3, 0),
    # count_as_failures: 5 of 100, 95 %; 1 of 100, exactly 99 %, not below; 3 of 3, 0 %.
    ("count_as_failures", 100, 5, 4, 1), ("count_as_failures", 100, 1, 1, 0), ("count_as_failures", 3, 3, 3, 1),
])
def test_illegal_number_failures_leave_the_rate_as_the_policy_reads_them(tmp_path, reading, requests, failures,
                                                                        illegal, unavailable):
    from helpers import minute_rows

    policy = _file(tmp_path, "    value: remove_from_both", f"    value: {reading}")
    e = _month(tmp_path, minute_rows("a", "2019-04-01T00:00", 1, requests, failures, illegal), "2019-04", policy)
    assert e["unavailable_minutes"] == unavailable
    steps = [s["detail"] for s in e["trace"] if s["step"] == "illegal_numbers"]
    assert steps == ([f"{illegal} illegal-number failure(s) counted as failures (count_as_failures)"]
                     if reading == "count_as_failures" else
                     [f"{illegal} illegal-number failure(s) in 1 minute(s) removed from both requests and failures (§1.4, §5.10)"])


@pytest.mark.parametrize("unavailable,half_up,half_even,down", [
    (9, "99.98", "99.98", "99.97"),    # 1 − 9/43,200 = 99.979166…%
    (54, "99.88", "99.88", "99.87"),   # 1 − 54/43,200 = 99.875 % exactly: a tie, 7 odd
    (162, "99.63", "99.62", "99.62"),  # 1 − 162/43,200 = 99.625 % exactly: a tie, 2 even
    (217, "99.498", "99.498", "99.49"),  # 99.49768…%: "99.50" would read as the standard met
])
@pytest.mark.slow
def test_availability_is_shown_rounded_as_the_policy_says(tmp_path, unavailable, half_up, half_even, down):
    for rounding, shown in (("half_up", half_up), ("half_even", half_even), ("down", down)):
        policy = _file(tmp_path, "display_rounding: {value: half_up", f"display_rounding: {{value: {rounding}")
        assert _april(tmp_path, unavailable, policy)["availability_percent"] == shown, rounding


@pytest.mark.parametrize("fee,half_up,half_even,down", [
    ("0.15", "0.02", "0.02", "0.01"),  # 10 % = 0.015: a tie, 1 odd
    ("0.25", "0.03", "0.02", "0.02"),  # 10 % = 0.025: a tie, 2 even
    ("0.99", "0.10", "0.10", "0.09"),  # 10 % = 0.099
])
@pytest.mark.slow
def test_compensation_is_rounded_to_the_cent_as_the_policy_says(tmp_path, fee, half_up, half_even, down):
    # 217 unavailable minutes: 99.4977 %, below the standard, tier 1 (10 %).
    for rounding, amount in (("half_up", half_up), ("half_even", half_even), ("down", down)):
        policy = _file(tmp_path, "rounding: {value: half_up, places: 2", f"rounding: {{value: {rounding}, places: 2")
        assert _april(tmp_path, 217, policy, billing=(fee, "0.00"))["compensation"] == amount, rounding



@pytest.mark.parametrize("fee,offset,shown,compensation", [
    ("1000.00", "0.00", "1000", "100"),    # whole units lose nothing: shown at the policy's places
    ("1000.50", "0.00", "1000.50", "100"),  # 10 % = 100.05 → 100; the fee was shown "1000", a bill it is not
    ("1001.50", "0.00", "1001.50", "100"),  # was "1002"
    ("1000.50", "998.75", "1000.50", "1"),  # capped at the fee paid 1.75, never rounded above it: 1
])
@pytest.mark.slow
def test_a_fee_is_shown_as_billed_where_the_policys_places_would_change_it(tmp_path, fee, offset, shown, compensation):
    # A version paying whole units (compensation.rounding.places: 0, which the schema allows); 217 minutes: 10 %.
    policy = _file(tmp_path, "rounding: {value: half_up, places: 2,", "rounding: {value: half_up, places: 0,")
    e = _april(tmp_path, 217, policy, billing=(fee, offset))
    assert (e["monthly_fee"], e["compensation"]) == (shown, compensation)


@pytest.mark.parametrize("gate,unavailable,shown,meets,credit,compensation", [
    ("below_standard", 22, "99.949", True, 0, "0.00"),    # 99.94907 %: tier 1, but the standard is met
    ("tiers_only", 21, "99.95", True, 0, "0.00"),         # 99.95138 %: above tier 1 (below 99.95 %)
    ("tiers_only", 22, "99.949", True, 10, "100.00"),     # 99.94907 %: tier 1 pays without the gate
    ("tiers_only", 216, "99.50", True, 10, "100.00"),     # 99.5 % exactly
])
def test_the_gate_pays_tier_1_above_the_standard_only_when_the_policy_opens_it(tmp_path, gate, unavailable, shown, meets,
                                                                               credit, compensation):
    policy = _file(tmp_path, "    value: below_standard", f"    value: {gate}")
    e = _april(tmp_path, unavailable, policy, billing=("1000.00", "0.00"))
    assert (e["availability_percent"], e["meets_standard"], e["credit_percent"], e["compensation"]) == \
        (shown, meets, credit, compensation)


@pytest.mark.parametrize("met_when,unavailable,shown,meets,credit", [
    ("at_least", 216, "99.50", True, 0),   # 99.5 % exactly meets "not less than 99.5 %"
    ("above", 215, "99.502", True, 0),     # 99.50231 %: "99.50" would read as not above 99.5
    ("above", 216, "99.50", False, 10),    # 99.5 % exactly is not above it
])
def test_the_standard_is_met_at_or_above_it_as_the_policy_says(tmp_path, met_when, unavailable, shown, meets, credit):
    policy = _file(tmp_path, "    met_when: at_least", f"    met_when: {met_when}")
    e = _april(tmp_path, unavailable, policy)
    assert (e["availability_percent"], e["meets_standard"], e["credit_percent"]) == (shown, meets, credit)


@pytest.mark.parametrize("cap,compensation", [("fee_paid", "400.00"), ("none", "500.00")])
def test_the_monthly_cap_is_the_fee_paid_or_none(tmp_path, cap, compensation):
    # 2,161 unavailable minutes: 94.998 %, 50 % of 1000.00 = 500.00; the fee paid is 1000.00 − 600.00 = 400.00.
    policy = _file(tmp_path, "  monthly_cap: {value: fee_paid", f"  monthly_cap: {{value: {cap}")
    e = _april(tmp_path, 2161, policy, billing=("1000.00", "600.00"))
    assert (e["credit_percent"], e["monthly_fee"], e["compensation"]) == (50, "1000.00", compensation)


@pytest.mark.parametrize("causes,excluded", [
    (["not_provider"], {"5.15": 10}),
    (["not_provider", "legal_exemption"], {"5.16": 10}),  # §5.15 is listed first, but is the fallback
    (["legal_exemption", "not_provider"], {"5.16": 10}),
    (["not_provider", "customer_law_violation"], {"5.17": 10}),
])
def test_5_15_takes_a_minute_only_when_no_other_clause_applies_even_one_listed_after_it(tmp_path, causes, excluded):
    # docs/readings.md, §5.15 to §5.17: "attributed to it only when no other clause applies (attribution: fallback)".
    # The clauses listed before §5.15 would take the minute anyway as first listed; only §5.16 and §5.17, listed
    # after it, tell the fallback from first-listed, and no test had a minute covered by §5.15 and one of them.
    from helpers import minute_rows

    incidents = [{"id": f"I-{i}", "start": "2019-03-12T10:00", "end": "2019-03-12T10:10", "cause": cause}
                 for i, cause in enumerate(causes)]
    e = _month(tmp_path, minute_rows("a", "2019-03-12T10:00", 10, 100, 2), "2019-03", incidents=incidents)
    assert (e["raw_unavailable_minutes"], e["excluded_minutes"], e["unavailable_minutes"]) == (10, excluded, 0)


@pytest.mark.parametrize("requests,excluded,counted", [(300, {"5.7": 1}, 0), (299, {}, 1)])
def test_the_concurrency_fallback_counts_the_illegal_number_requests_too(tmp_path, requests, excluded, counted):
    # §5.7 concerns the demand the customer sent: all requests of the minute / 60, illegal-number ones included,
    # though they leave the success rate (§5.10). 300 requests with 10 illegal-number failures (140 other failures of
    # 290 normal requests: unavailable) are 5.0 QPS, excluded; 299 are 4.98 QPS, counted. Normal requests alone
    # (290 / 60 = 4.83 QPS) would count both; no test told the two apart.
    from helpers import minute_rows

    e = _month(tmp_path, minute_rows("a", "2019-03-15T16:00", 1, requests, 150, 10), "2019-03")
    assert (e["raw_unavailable_minutes"], e["excluded_minutes"], e["unavailable_minutes"]) == (1, excluded, counted)


@pytest.mark.parametrize("fallback,excluded,counted", [("requests_per_60", {"5.7": 1}, 1), ("none", {}, 2)])
def test_without_the_concurrency_fallback_a_minute_without_peak_qps_has_no_concurrency(tmp_path, fallback, excluded,
                                                                                     counted):
    # exclusions.concurrency_fallback: none reads a minute without peak_qps as concurrency 0, so §5.7 cannot take it:
    # 600 requests (10 QPS by the fallback) with 20 failures is counted; a minute whose peak_qps is 4.9 is counted
    # either way (below 5.0). Reading the missing peak as anything at or above 5.0 passed every test.
    from helpers import draft_variant, minute_rows

    draft = draft_variant(tmp_path, "concurrency_fallback:\n    value: requests_per_60",
                          f"concurrency_fallback:\n    value: {fallback}")
    rows = [dict(row, peak_qps="") for row in minute_rows("a", "2019-03-15T16:00", 1, 600, 20)]
    rows += list(minute_rows("a", "2019-03-15T17:00", 1, 600, 20, peak=4.9))
    e = _month(tmp_path, rows, "2019-03", policy_file=draft)
    assert (e["raw_unavailable_minutes"], e["excluded_minutes"], e["unavailable_minutes"]) == (2, excluded, counted)


@pytest.mark.parametrize("offset,compensation,words", [
    # 217 minutes: 99.498 %, tier 1: 10 % of 100.00 = 10.00, against the fee paid 100.00 − offset.
    ("90.01", "9.99", "fee 100.00 × 10% = 10.00; capped at the fee paid 100.00 − 90.01 offset = 9.99 (§3.1(2))"),
    ("90.00", "10.00", "fee 100.00 × 10% = 10.00; within the fee paid 10.00 (§3.1(2))"),  # exactly the fee paid
    ("89.99", "10.00", "fee 100.00 × 10% = 10.00; within the fee paid 10.01 (§3.1(2))"),
])
def test_the_trace_says_whether_the_fee_paid_capped_the_amount_to_the_cent(tmp_path, offset, compensation, words):
    # The amount was right either way (rounding is followed by the cap of the fee paid); the trace's words, which
    # a customer's reply quotes, were pinned only far from the boundary.
    e = _april(tmp_path, 217, billing=("100.00", offset))
    step = next(s for s in e["trace"] if s["step"] == "compensation")
    assert (e["compensation"], step["detail"]) == (compensation, f"{words}: compensation {compensation} as vouchers")


@pytest.mark.parametrize("fallback,requests,excluded,counted,note", [
    ("requests_per_60", 300, {"5.7": 10}, 0, "no peak_qps for 10 minute(s): concurrency = requests / 60 (fallback)"),
    ("requests_per_60", 299, {}, 10, "no peak_qps for 10 minute(s): concurrency = requests / 60 (fallback)"),
    ("none", 300, {}, 10, "no peak_qps for 10 minute(s): concurrency 0"),
])
@pytest.mark.slow
def test_concurrency_without_peak_qps_is_requests_over_60_or_none(tmp_path, fallback, requests, excluded, counted, note):
    # 10 minutes at 90 % (requests // 10 failed); 300 / 60 = 5.0 QPS reaches §5.7's 5.0, 299 / 60 = 4.98 does not.
    from helpers import minute_rows

    policy = _file(tmp_path, "    value: requests_per_60", f"    value: {fallback}")
    e = _month(tmp_path, minute_rows("a", "2019-03-15T16:00", 10, requests, requests // 10), "2019-03", policy)
    assert (e["excluded_minutes"], e["unavailable_minutes"]) == (excluded, counted)
    assert [s["detail"] for s in e["trace"] if s["step"] == "facts"] == [f"minute.concurrency_qps: {note}"]


@pytest.mark.parametrize("lead,published_at,account,excluded", [
    # The customer's notice covers 16:00-16:05 of ten minutes at 7 QPS: when prior, 16:05-16:09 alone are §5.7's.
    (0, "2019-03-15T15:59", "a", 5),    # a minute before the window: prior
    (0, "2019-03-15T16:00", "a", 10),   # as the window begins: not prior, so every minute is §5.7's
    (0, "2019-03-15T15:00", "b", 10),   # another account's notice says nothing of this one's demand
    (0, "2019-03-15T15:00", None, 5),   # a notice naming no account covers every account
    (60, "2019-03-15T15:00", "a", 5),   # 60 minutes before, with a lead of 60: prior
    (60, "2019-03-15T15:01", "a", 10),  # 59 minutes before: not
])
def test_a_customer_notice_of_concurrency_is_prior_when_published_the_lead_before_its_window(tmp_path, lead,
                                                                                             published_at, account,
                                                                                             excluded):
    from helpers import minute_rows

    policy = _file(tmp_path, "notice_lead_minutes:\n    value: 0", f"notice_lead_minutes:\n    value: {lead}")
    notice = {"id": "C-1", "kind": "high_concurrency", "published_at": published_at, "start": "2019-03-15T16:00",
              "end": "2019-03-15T16:05"} | ({"account": account} if account else {})
    e = _month(tmp_path, minute_rows("a", "2019-03-15T16:00", 10, 420, 42), "2019-03", policy, notices=[notice])
    assert (e["excluded_minutes"], e["unavailable_minutes"]) == ({"5.7": excluded}, 10 - excluded)


@pytest.mark.parametrize("published_at,excluded", [("2019-03-15T15:59", {"5.11": 5}), ("2019-03-15T16:00", {})])
def test_a_major_event_is_excluded_only_when_announced_before_it_began(tmp_path, published_at, excluded):
    # §5.11: ten minutes at 58 %, 1.67 QPS (no §5.7); the event announced for 16:00-16:05.
    from helpers import minute_rows

    notice = {"id": "E-1", "kind": "major_event", "published_at": published_at, "start": "2019-03-15T16:00",
              "end": "2019-03-15T16:05"}
    e = _month(tmp_path, minute_rows("a", "2019-03-15T16:00", 10, 100, 42), "2019-03", notices=[notice])
    assert (e["excluded_minutes"], e["unavailable_minutes"]) == (excluded, 10 - sum(excluded.values()))


# ---------------------------------------------------------------------------- §1.6 months in which the clocks change

def _new_york_family(tmp_path):
    """The shipped version in New York's time (its claim-window examples at New York's offsets), published and
    locked, with a draft that moves the standard to 99.9 %."""
    from conftest import run_cli
    from helpers import PUBLISHED

    text = PUBLISHED.read_text().replace("value: Asia/Singapore", "value: America/New_York")
    text = text.replace('"2019-04-06T00:00:00+08:00"', '"2019-04-06T00:00:00-04:00"')
    text = text.replace('"2019-02-12T00:00:00+08:00"', '"2019-02-12T00:00:00-05:00"')
    text = text.replace('"2019-05-31T00:00:00+08:00"', '"2019-05-31T00:00:00-04:00"')
    family = tmp_path / "ny"
    (family / "drafts").mkdir(parents=True)
    (family / "2019-01-01.yaml").write_text(text)
    draft = family / "drafts" / "99.9.yaml"
    draft.write_text(text.replace("status: published", "status: draft").replace('value: "99.5%"', 'value: "99.9%"'))
    locked = run_cli("lock", "--new", family)
    assert locked.code == 0, locked.err
    return family, draft


def _utc_rows(start: str, count: int, requests: int, failures: int) -> list:
    first = dt.datetime.fromisoformat(start)
    return [{"account": "a", "minute": (first + dt.timedelta(minutes=i)).isoformat(), "requests": requests,
             "failures": failures} for i in range(count)]


@pytest.mark.slow
def test_minutes_a_clock_change_adds_or_removes_are_counted_alike_by_evaluate_replay_and_a_claim(tmp_path):
    """New York. 2024-11-03: clocks go back at 02:00 EDT (06:00Z); 05:00Z-07:00Z is 01:00-02:00 twice on the wall, 120
    minutes that elapse. 2024-03-10: clocks go forward at 02:00 EST (07:00Z); 06:30Z-07:30Z is 01:30 EST to 03:30 EDT,
    60 minutes. Each is unavailable (50 of 100 failed). The Total Minutes stay days × 1440 (§1.6): November 30 × 1440
    = 43,200, though 43,260 elapse; March 31 × 1440 = 44,640, though 44,580 elapse."""
    from helpers import write_csv
    from slapolicy import decide_claim
    from slapolicy.api import evaluate
    from slapolicy.replay import replay

    family, draft = _new_york_family(tmp_path)
    minutes = write_csv(tmp_path / "minutes.csv", _utc_rows("2024-11-03T05:00+00:00", 120, 100, 50)
                        + _utc_rows("2024-03-10T06:30+00:00", 60, 100, 50))
    billing = write_csv(tmp_path / "billing.csv", [{"account": "a", "month": month, "monthly_fee": "1000.00",
                                                    "offset": "0.00"} for month in ("2024-03", "2024-11")])
    figures = {}
    for month in ("2024-03", "2024-11"):
        (e,) = evaluate(family, minutes=minutes, month=month, billing=billing)["evaluations"]
        figures[month] = (e["service_month"]["total_minutes"], e["unavailable_minutes"], e["availability_exact"],
                          e["availability_percent"], e["credit_percent"], e["compensation"], e["trace"][1]["detail"])
    assert figures == {
        # 1 − 60/44,640 = 99.8656 % → 99.87, met
        "2024-03": (44640, 60, "44580/44640", "99.87", 0, "0.00",
                    "2024-03-01 to 2024-03-31: 31 days × 1440 = 44640 minutes; America/New_York changes its clocks in "
                    "it: 44580 minutes elapse (60 fewer), each a statistics point, while the Total Minutes stay days × "
                    "1440 (§1.6)"),
        # 1 − 120/43,200 = 99.7222 % → 99.72, met
        "2024-11": (43200, 120, "43080/43200", "99.72", 0, "0.00",
                    "2024-11-01 to 2024-11-30: 30 days × 1440 = 43200 minutes; America/New_York changes its clocks in "
                    "it: 43260 minutes elapse (60 more), each a statistics point, while the Total Minutes stay days × "
                    "1440 (§1.6)")}
    # Replayed under 99.9 %: the same minutes, below the standard, tier 1 (10 % of 1000.00 = 100.00).
    rows = replay(family, minutes=minutes, start="2024-03", end="2024-11", under=draft, billing=billing)["rows"]
    assert [(r["month"], r["baseline"]["unavailable_minutes"], r["baseline"]["availability_percent"],
             r["amended"]["unavailable_minutes"], r["amended"]["compensation"]) for r in rows] == [
        ("2024-03", 60, "99.87", 60, "100.00"), ("2024-11", 120, "99.72", 120, "100.00")]
    # A claim stating both wall-clock hours of 3 November, at their offsets: 120 minutes claimed, all confirmed.
    claim = {"account": "a", "service_month": "2024-11", "filed_at": "2024-12-10T10:00-05:00", "channel": "work_order",
             "event_report": "Calls failed from 01:00 EDT to 02:00 EST on 3 November.", "failure_records": ["calls.csv"],
             "unavailability": [{"start": "2024-11-03T01:00-04:00", "end": "2024-11-03T01:00-05:00"},
                                {"start": "2024-11-03T01:00-05:00", "end": "2024-11-03T02:00-05:00"}]}
    decided = decide_claim(family, claim, minutes=minutes, billing=billing, ledger=tmp_path / "ledger.db",
                           now=dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc))
    assert (decided["evaluation"]["unavailable_minutes"], decided["evaluation"]["availability_percent"],
            decided["reconciliation"]["claimed_minutes"], decided["reconciliation"]["confirmed_minutes"],
            decided["reconciliation"]["unavailable_not_claimed"], decided["decision"]) == (
        120, "99.72", 120, 120, [], "denied")
    assert [r["code"] for r in decided["reasons"]] == ["standard_met"]


def test_when_the_clocks_go_back_every_minute_unavailable_is_more_than_the_total_minutes(tmp_path):
    """§1.6 read as written: November 2024 in New York has 43,260 minutes on the grid and 43,200 Total Minutes. With
    every minute unavailable (a version reading a minute without requests as unavailable, one minute of data that is
    available), 43,259 are counted: 1 − 43,259/43,200 = −0.1366 % → −0.14 %, the lowest tier (50 %)."""
    from helpers import write_csv
    from slapolicy.api import evaluate

    family, _ = _new_york_family(tmp_path)
    quiet = draft_variant(family, "    value: available\n    reading: true", "    value: unavailable\n    reading: true")
    quiet.write_text(quiet.read_text().replace("value: Asia/Singapore", "value: America/New_York"))
    minutes = write_csv(tmp_path / "minutes.csv", _utc_rows("2024-11-01T04:00+00:00", 1, 100, 0))
    (e,) = evaluate(family, minutes=minutes, month="2024-11", policy_file=quiet)["evaluations"]
    assert (e["minutes_with_data"], e["unavailable_minutes"], e["availability_exact"], e["availability_percent"],
            e["meets_standard"], e["credit_percent"]) == (1, 43259, "-59/43200", "-0.14", False, 50)


@pytest.mark.parametrize("month,elapsed,total,minutes_step", [
    ("2024-11", 43260, 43200, "43200 Total Minutes (43260 elapse); 0 with data; 43260 without requests"),
    ("2024-03", 44580, 44640, "44640 Total Minutes (44580 elapse); 0 with data; 44580 without requests"),
])
def test_a_month_without_data_in_which_the_clocks_change_counts_the_minutes_that_elapse(
        tmp_path, month, elapsed, total, minutes_step):
    """An account billed without a minute of data in New York's November 2024 (clocks back: 43,260 minutes elapse,
    43,200 Total Minutes) or March 2024 (forward: 44,580 and 44,640). The warning and the trace said "the Service
    Month's 43260 minutes" and "43200 minutes; 0 with data; 43260 without requests" beside a result whose
    total_minutes is 43,200: which minutes the counts are of, and why they exceed the month's, went unsaid."""
    from helpers import write_csv
    from slapolicy.api import evaluate

    family, _ = _new_york_family(tmp_path)
    minutes = write_csv(tmp_path / "minutes.csv", _utc_rows("2024-07-01T12:00+00:00", 1, 100, 0))  # another month
    billing = write_csv(tmp_path / "billing.csv", [{"account": "a", "month": month, "monthly_fee": "1000.00",
                                                    "offset": "0.00"}])
    (e,) = evaluate(family, minutes=minutes, month=month, billing=billing)["evaluations"]
    message = (f"none of the {elapsed} minutes that elapse in the Service Month (its Total Minutes are {total}, days × "
               "1440, §1.6; its clocks change in it) has data for this account: they all count as available (§1.4); "
               "check that its minutes were not lost (by monitoring, or left out of the file or request)")
    assert (e["service_month"]["total_minutes"], e["minutes_with_data"], e["availability_percent"]) == (total, 0, "100.00")
    assert e["warnings"] == [{"code": "no_minutes_with_data", "clause": "§1.4", "minutes": elapsed, "message": message}]
    assert next(s["detail"] for s in e["trace"] if s["step"] == "minutes").startswith(minutes_step + " (available: §1.4)")


@pytest.mark.parametrize("zone,gap", [("America/New_York", True), ("Asia/Singapore", False)])
def test_a_lowest_tier_starting_at_zero_leaves_a_gap_where_the_clocks_go_back(tmp_path, zone, gap):
    """A version whose lowest tier is written "at least 0 %" (50 %, below 95 %) in New York's time: November 2024 with
    every one of its 43,260 elapsed minutes unavailable is −0.14 %, in no tier, and paid credit 0 %, compensation 0.00
    of the fee, validated with no word but the clock-change warning. In Singapore (one offset all year) availability
    never falls below 0 %, and the same tier leaves no gap."""
    from conftest import run_cli
    from helpers import draft_variant

    draft = draft_variant(tmp_path, '- {below: "95%", credit: "50%"', '- {at_least: "0%", below: "95%", credit: "50%"')
    draft.write_text(draft.read_text().replace("value: Asia/Singapore", f"value: {zone}"))
    line = next(i for i, text in enumerate(draft.read_text().splitlines(), 1) if 'at_least: "0%"' in text)
    result = run_cli("validate", draft)
    error = (f"{draft}:{line}:7: error tier-gap no tier covers availability below 0 % (§3.1), which a Service Month can "
             f"have: {zone} changes its clocks, and in the month they go back more minutes elapse, each of which can be "
             "unavailable, than its Total Minutes (§1.6); there this version would pay no credit. Remove the tier's "
             "lower bound")
    assert (result.code, error in result.out.splitlines()) == ((1, True) if gap else (0, False)), result.out
    assert ("tier-gap" in result.out) is gap


def test_a_published_version_whose_lowest_tier_starts_at_zero_in_a_zone_that_moves_its_clocks_is_still_served(
        tmp_path):
    """The tier-gap of a lowest tier written "at least 0 %" in New York's time is an error for a draft (above), but a
    version published and locked before the check came in is what was agreed: an error there stopped the whole family
    (validate exit 1, versions, evaluate of every month, an Engine, serve), although nothing in it had changed. It is
    a warning there, saying what the version pays and that an amendment changes it."""
    import hashlib

    from conftest import run_cli
    from helpers import PUBLISHED
    from slapolicy import Engine

    text = PUBLISHED.read_text().replace("value: Asia/Singapore", "value: America/New_York")
    for day, offset in (("2019-04-06", "-04:00"), ("2019-02-12", "-05:00"), ("2019-05-31", "-04:00")):
        text = text.replace(f'"{day}T00:00:00+08:00"', f'"{day}T00:00:00{offset}"')
    assert '- {below: "95%", credit: "50%"' in text
    text = text.replace('- {below: "95%", credit: "50%"', '- {at_least: "0%", below: "95%", credit: "50%"')
    family = tmp_path / "ny"
    family.mkdir()
    version = family / "2019-01-01.yaml"
    version.write_text(text)
    # the lock an earlier slapolicy wrote for it
    (family / "versions.lock").write_text(json.dumps({"2019-01-01.yaml": hashlib.sha256(version.read_bytes()).hexdigest()}))
    line = next(i for i, row in enumerate(text.splitlines(), 1) if 'at_least: "0%"' in row)
    result = run_cli("validate", family)
    warning = (f"{version}:{line}:7: warning tier-gap no tier covers availability below 0 % (§3.1), which a Service "
               "Month can have: America/New_York changes its clocks, and in the month they go back more minutes "
               "elapse, each of which can be unavailable, than its Total Minutes (§1.6); there this version pays no "
               "credit. Amend it with a version whose lowest tier has no lower bound")
    assert (result.code, warning in result.out.splitlines()) == (0, True), result.out
    assert [v["version"] for v in Engine(family).versions()] == ["2019-01-01"]
    # the same terms as a draft of that family are still refused
    draft = family / "drafts" / "2020-01-01.yaml"
    draft.parent.mkdir()
    draft.write_text(text.replace("status: published", "status: draft").replace('"2019-01-01"', '"2020-01-01"'))
    result = run_cli("validate", draft)
    assert result.code == 1 and "error tier-gap no tier covers availability below 0 %" in result.out, result.out


@pytest.mark.parametrize("rounding,shown", [("half_up", "-0.13"),  # the other two (0.2-0.5 s each) in the whole suite
                                            pytest.param("half_even", "-0.12", marks=pytest.mark.slow),
                                            pytest.param("down", "-0.12", marks=pytest.mark.slow)])
def test_a_negative_availability_is_rounded_as_its_positive_mirror(tmp_path, rounding, shown):
    """November 2024 in New York, 43,260 minutes elapsed and 43,200 Total Minutes: 6 minutes with data available,
    43,254 unavailable (a version reading minutes without requests as unavailable): 1 − 43,254/43,200 = −0.125 %
    exactly, a tie. Each rounding is the same on both sides of 0, as compensation.rounding's (Python's Decimal):
    half_up away from 0, −0.13 as +0.125 gives 0.13 (it gave −0.12, rounding half toward +∞); half_even to the even
    −0.12; down toward 0, −0.12."""
    from helpers import write_csv
    from slapolicy.api import evaluate

    family, _ = _new_york_family(tmp_path)
    quiet = draft_variant(family, "    value: available\n    reading: true", "    value: unavailable\n    reading: true")
    quiet.write_text(quiet.read_text().replace("value: Asia/Singapore", "value: America/New_York")
                     .replace("display_rounding: {value: half_up", f"display_rounding: {{value: {rounding}"))
    minutes = write_csv(tmp_path / "minutes.csv", _utc_rows("2024-11-01T04:00+00:00", 6, 100, 0))
    (e,) = evaluate(family, minutes=minutes, month="2024-11", policy_file=quiet)["evaluations"]
    assert (e["minutes_with_data"], e["unavailable_minutes"], e["availability_exact"], e["availability_percent"],
            e["meets_standard"], e["credit_percent"]) == (6, 43254, "-54/43200", shown, False, 50)


def test_every_rounding_shows_a_negative_availability_as_its_positive_with_a_minus_sign():
    """Availabilities of months the clocks go back (1 − k/N with k up to N + 60, §1.6): −1/44,640 (a 31-day month,
    one minute beyond its Total Minutes) rounds to 0 and keeps its sign, −0.00, in every rounding (half_up showed
    0.00 beside the others' −0.00); ties and others mirror the positive figure."""
    from fractions import Fraction

    from slapolicy.evaluation.compensation import percent_text

    for total in (1440, 41760, 43200, 44640):
        for k in range(0, 61):
            exact = Fraction(-100 * k, total)
            for rounding in ("half_up", "half_even", "down"):
                positive = percent_text(-exact, 2, rounding)
                assert percent_text(exact, 2, rounding) == ("-" + positive if k else positive), (total, k, rounding)
    assert [percent_text(Fraction(-100, 44640), 2, r) for r in ("half_up", "half_even", "down")] == ["-0.00"] * 3


# ---------------------------------------------------------------------------- what `slapolicy show` says of them

@pytest.mark.parametrize("days,line", [
    (5, "  window opens at 00:00 after business day 5 of the following month  [§3.2(1)]"),
    (0, "  window opens at 00:00 on the first day of the following month  [§3.2(1)]"),
])
@pytest.mark.slow
def test_show_says_when_the_window_opens_and_the_numbers_of_the_aggregate_cap(tmp_path, days, line):
    # The §6.1 cap's lookback_months and after_months_of_use were shown nowhere: `show` printed "fees_paid" alone.
    from slapolicy.policy.terms import render_terms

    policy = variant(tmp_path, "after_business_days: 5", f"after_business_days: {days}")
    lines = render_terms(policy).splitlines()
    assert line in lines
    assert lines[lines.index("  tier 3: availability < 95% → 50% of the fee  [§3.1]") + 1] == (
        "  aggregate cap: the fees paid since the first month of use, or once used more than 12 months, the fees paid "
        "in the 12 months ending with the damaged month  [§6.1]")


# ---------------------------------------------------------------------------- replay names the term that moved a row

def test_a_replayed_row_whose_availability_is_only_shown_otherwise_names_the_display_setting(tmp_path):
    # 217 minutes of April 2019: 99.49768 %, shown 99.498 (half_up, with the decimal that keeps it below the
    # standard) and 99.49 (down). Nothing else differs; the row said "no single term of the policy explains it".
    from conftest import POLICIES
    from helpers import minute_rows, write_csv
    from slapolicy.replay import replay

    minutes = write_csv(tmp_path / "minutes.csv", minute_rows("a", "2019-04-01T00:00", 217, 100, 2))
    under = _file(tmp_path, "display_rounding: {value: half_up", "display_rounding: {value: down")
    (row,) = replay(POLICIES, minutes=minutes, start="2019-04", end="2019-04", under=under)["rows"]
    assert (row["baseline"]["availability_percent"], row["amended"]["availability_percent"]) == ("99.498", "99.49")
    assert row["clauses_changed"] == [{"what": "availability.display_rounding", "ref": "§2.1", "kind": "changed",
                                       "old": "half_up", "new": "down", "why": "the availability is shown otherwise"}]


def _replayed_april(tmp_path, unavailable, under):
    from conftest import POLICIES
    from helpers import minute_rows, write_csv
    from slapolicy.replay import replay

    minutes = write_csv(tmp_path / "minutes.csv", minute_rows("a", "2019-04-01T00:00", unavailable, 100, 2))
    (row,) = replay(POLICIES, minutes=minutes, start="2019-04", end="2019-04", under=under)["rows"]
    return row


@pytest.mark.parametrize("unavailable,amended", [(217, "100.00"), (30, "100.00")])
def test_a_replayed_row_names_the_display_rounding_only_where_it_moved_the_figure(tmp_path, unavailable, amended):
    # An amendment of §1.5's threshold (99 % → 97 %: 2 failures of 100 are 98 %, available) and of the display's
    # rounding (half_up → half_even): the row's figure moved because its minutes did, 99.498 (or 99.93) → 100.00, which
    # half_up and half_even show alike. The row cited display_rounding as well ("the availability is shown otherwise").
    under = _file(tmp_path, "display_rounding: {value: half_up", "display_rounding: {value: half_even")
    under.write_text(under.read_text().replace('minute_unavailable_below:\n    value: "99%"',
                                               'minute_unavailable_below:\n    value: "97%"'))
    row = _replayed_april(tmp_path, unavailable, under)
    assert (row["baseline"]["availability_percent"], row["amended"]["availability_percent"]) == (
        {217: "99.498", 30: "99.93"}[unavailable], amended)
    assert (row["baseline"]["unavailable_minutes"], row["amended"]["unavailable_minutes"]) == (unavailable, 0)
    assert [(c["what"], c["why"]) for c in row["clauses_changed"]] == [
        ("availability.minute_unavailable_below", "unavailable minutes differ")]


def test_a_replayed_row_whose_minutes_below_the_threshold_moved_but_not_those_counted_says_so(tmp_path):
    # 30 minutes at 98 % within the customer's own outage (§5.1): the baseline's 99 % makes them unavailable and
    # excludes them all, the amendment's 97 % leaves them available; 0 counted on both sides, 100.00 %, nothing owed.
    # The row differs in what it excludes and cited §1.5 with 'unavailable minutes differ' beside 0 and 0.
    from conftest import POLICIES
    from helpers import minute_rows, write_csv
    from slapolicy.replay import replay

    under = _file(tmp_path, 'minute_unavailable_below:\n    value: "99%"', 'minute_unavailable_below:\n    value: "97%"')
    minutes = write_csv(tmp_path / "minutes.csv", minute_rows("a", "2019-04-01T10:00", 30, 100, 2))
    outage = [{"id": "N-1", "start": "2019-04-01T10:00", "end": "2019-04-01T10:30", "cause": "customer_network"}]
    (row,) = replay(POLICIES, minutes=minutes, start="2019-04", end="2019-04", under=under, incidents=outage)["rows"]
    assert [(side["unavailable_minutes"], side["excluded_minutes"], side["availability_percent"])
            for side in (row["baseline"], row["amended"])] == [(0, {"5.1": 30}, "100.00"), (0, {}, "100.00")]
    assert [(c["what"], c["why"]) for c in row["clauses_changed"]] == [
        ("availability.minute_unavailable_below",
         "unavailable minutes before the exclusions differ; those counted against the provider do not")]


def test_a_replayed_row_whose_figure_the_rounding_moves_with_its_minutes_names_both(tmp_path):
    # 43 unavailable minutes under the amendment (§1.5 at 97 % leaves the 43 of 98 % failing at 96 %): 1 − 43/43200 =
    # 99.90046 %, shown 99.90 by half_up and by down; 44 minutes: 99.89815 %, 99.90 half_up, 99.89 down. The rounding
    # is named where it moved the figure, and only there.
    from conftest import POLICIES
    from helpers import minute_rows, write_csv
    from slapolicy.replay import replay

    under = _file(tmp_path, "display_rounding: {value: half_up", "display_rounding: {value: down")
    under.write_text(under.read_text().replace('minute_unavailable_below:\n    value: "99%"',
                                               'minute_unavailable_below:\n    value: "97%"'))
    for count, shown, rounding in ((43, "99.90", False), (44, "99.89", True)):
        rows = [*minute_rows("a", "2019-04-01T00:00", count, 100, 4), *minute_rows("a", "2019-04-02T00:00", 30, 100, 2)]
        minutes = write_csv(tmp_path / f"minutes-{count}.csv", rows)
        (row,) = replay(POLICIES, minutes=minutes, start="2019-04", end="2019-04", under=under)["rows"]
        assert (row["baseline"]["unavailable_minutes"], row["amended"]["unavailable_minutes"]) == (count + 30, count)
        assert row["amended"]["availability_percent"] == shown
        assert [c["what"] for c in row["clauses_changed"]] == ["availability.minute_unavailable_below"] + (
            ["availability.display_rounding"] if rounding else []), count


def test_a_replayed_row_whose_figure_a_new_standard_shows_otherwise_names_the_standard(tmp_path):
    # 217 minutes of April: 99.49768 %, below both standards; the baseline shows 99.498 (99.50 would read as meeting its
    # 99.5 %), the draft 99.50 (below its 99.95 %, and on the same side of every tier's bound). Nothing else of the row
    # differs: it said "the results differ; no single term of the policy explains it".
    from conftest import POLICIES

    row = _replayed_april(tmp_path, 217, f"{POLICIES}/drafts/2027-01-01-standard-99.95.yaml")
    assert (row["baseline"]["availability_percent"], row["amended"]["availability_percent"]) == ("99.498", "99.50")
    assert (row["baseline"]["credit_percent"], row["amended"]["credit_percent"]) == (10, 10)
    assert row["clauses_changed"] == [{"what": "availability.standard", "ref": "§2.2", "kind": "changed", "old": "99.5%",
                                       "new": "99.95%", "why": "the availability is shown with other decimals: a figure "
                                                               "shown stays on its side of the standard (§2.1)"}]
    # 216 minutes are 99.5 % exactly: met under the baseline, not under the draft, shown 99.50 by both; the standard is
    # named once, for the decision it moved
    row = _replayed_april(tmp_path, 216, f"{POLICIES}/drafts/2027-01-01-standard-99.95.yaml")
    assert (row["baseline"]["availability_percent"], row["amended"]["availability_percent"]) == ("99.50", "99.50")
    assert [(c["what"], c["why"]) for c in row["clauses_changed"]] == [
        ("availability.standard", "the standard is met in one and not the other")]


def test_a_replayed_row_whose_figure_a_moved_tier_bound_shows_otherwise_names_the_tiers(tmp_path):
    # 433 minutes of April: 98.99769 %, tier 2 (25 %) under both; the baseline shows 98.998 (99.00 would sit on its
    # tier bound of 99 %), the amendment, whose bound is 99.1 %, 99.00. It said "no single term of the policy explains it".
    under = _file(tmp_path, '{at_least: "99%", below: "99.95%"', '{at_least: "99.1%", below: "99.95%"')
    under.write_text(under.read_text().replace('{at_least: "95%", below: "99%"', '{at_least: "95%", below: "99.1%"'))
    row = _replayed_april(tmp_path, 433, under)
    assert (row["baseline"]["availability_percent"], row["amended"]["availability_percent"]) == ("98.998", "99.00")
    assert (row["baseline"]["credit_percent"], row["amended"]["credit_percent"]) == (25, 25)
    why = "the availability is shown with other decimals: a figure shown stays on its side of every tier's bound (§2.1)"
    assert [(c["what"], c["old"], c["new"], c["why"]) for c in row["clauses_changed"]] == [
        ("compensation tier paying 10%", "≥ 99% and < 99.95%", "≥ 99.1% and < 99.95%", why),
        ("compensation tier paying 25%", "≥ 95% and < 99%", "≥ 95% and < 99.1%", why)]


# ---------------------------------------------------------------------------- §2.1 the figure shown never contradicts

@pytest.fixture(scope="module")
def display_variants(tmp_path_factory):
    """The shipped version under each display rounding, 0 or 2 decimals, the standard met at or above 99.5 %."""
    found = []
    for rounding in ("half_up", "half_even", "down"):
        for places in (0, 2):
            for met_when in ("at_least", "above"):
                folder = tmp_path_factory.mktemp(f"{rounding}-{places}-{met_when}")
                path = draft_variant(folder, "display_decimals: {value: 2", f"display_decimals: {{value: {places}")
                text = path.read_text().replace("display_rounding: {value: half_up",
                                                f"display_rounding: {{value: {rounding}")
                path.write_text(text.replace("    met_when: at_least", f"    met_when: {met_when}"))
                found.append(load_policy(path))
    return found


@pytest.mark.slow
def test_the_availability_shown_lies_on_the_side_of_every_threshold_its_exact_value_lies_on(display_variants):
    """Service Months of 1, 2, 15 and 28 to 31 days, each count of minutes near a threshold (the standard, 99 %, 95 %,
    99.95 %) and each display setting: the figure shown meets the standard, and falls in each tier, exactly when the
    exact availability does."""
    from decimal import Decimal
    from fractions import Fraction

    from slapolicy.evaluation.compensation import shown_availability
    from slapolicy.evaluation.month import availability_of

    checked = 0
    for policy in display_variants:
        for days in (1, 2, 15, 28, 29, 30, 31):
            total = days * 1440
            for threshold in (Fraction(995, 10), Fraction(99), Fraction(95), Fraction(9995, 100)):
                near = int(total * (100 - threshold) / 100)
                for counted in range(max(near - 2, 0), min(near + 3, total + 1)):
                    exact = availability_of(total, counted)
                    shown = Fraction(Decimal(shown_availability(policy, exact)))
                    met = exact >= policy.exact_standard if policy.standard_met_when == "at_least" \
                        else exact > policy.exact_standard
                    shown_met = shown >= policy.exact_standard if policy.standard_met_when == "at_least" \
                        else shown > policy.exact_standard
                    assert shown_met == met, (policy.setting("availability", "display_rounding"), total, counted)
                    assert [t.contains(shown) for t in policy.tiers] == [t.contains(exact) for t in policy.tiers]
                    checked += 1
    # 12 versions × 7 months × 4 thresholds × 5 counts, less those below 0 minutes: 99.95 % is within 2 minutes of
    # 100 % in months of 1, 2 and 15 days (0.72, 1.44 and 10.8 minutes), where 2, 1 and 0 counts are left out.
    assert checked == 12 * 7 * 4 * 5 - 12 * (2 + 1)


# ---------------------------------------------------------------------------- §3.2 a window no claim can be filed in

@pytest.mark.parametrize("days,message", [
    # 2019 in Singapore: each window opens after the 5th business day of the month after. February's opens Fri Mar
    # 8 (after Mar 1, 4, 5, 6, 7); January's, past Chinese New Year (Feb 5 and 6), opens Tue Feb 12, 12 days on.
    (60, None),
    (12, None),  # January's closes at the end of Feb 12: a day to file in
    # January's closes at the end of Feb 11 (00:00 on the 12th), as it opens: no time to file; the others have some
    (11, "the claim window of Service Month 2019-01 closes at the end of the 11th calendar day after the month "
         "(§3.2(2)), 2019-02-11, no later than it opens at 2019-02-12T00:00:00+08:00 (§3.2(1)): no claim for that "
         "month can be filed in time (1 of the 12 Service Months of 2019)"),
    # every month's closes before it opens; January's is named
    (3, "the claim window of Service Month 2019-01 closes at the end of the 3rd calendar day after the month "
        "(§3.2(2)), 2019-02-03, no later than it opens at 2019-02-12T00:00:00+08:00 (§3.2(1)): no claim for that "
        "month can be filed in time (12 of the 12 Service Months of 2019)"),
])
def test_a_claim_window_that_closes_before_it_opens_is_a_warning(tmp_path, days, message):
    # calendar_days_after_end: 3 passed validate, and every claim of the version was denied as too early or too late.
    from slapolicy.policy.lint import lint_policy

    old = 'calendar_days_after_end: 60\n    ref: "§3.2(2)"\n    examples:\n      - {service_month: "2019-03", closes: "2019-05-31T00:00:00+08:00"}\n'
    policy = variant(tmp_path, old, f'calendar_days_after_end: {days}\n    ref: "§3.2(2)"\n')
    found = [(d.severity, d.message) for d in lint_policy(policy) if d.code == "claim-window-empty"]
    assert found == ([("warning", message)] if message else [])



# ---------------------------------------------------------------------------- §6.1 the aggregate cap, or none

@pytest.mark.parametrize("cap,granted,capped", [("fees_paid", "10.00", True), ("none", "500.00", False)])
def test_a_claim_is_capped_by_the_fees_paid_or_by_nothing_as_the_policy_says(tmp_path, cap, granted, capped):
    """March 2024: 3,000 minutes at 50 %, 1 − 3000/44,640 = 93.28 %, the 50 % tier: 500.00 of a 1000.00 fee, of
    which 990.00 was offset (10.00 paid). Without §3.1(2)'s monthly cap, §6.1 (fees_paid) grants the 10.00 paid
    since the first month of use; a version with aggregate_cap: none grants the 500.00."""
    from helpers import minute_rows, write_csv
    from test_aggregate_cap import MARCH, decide_in_order, published_without_monthly_cap

    family = published_without_monthly_cap(tmp_path)
    version = family / "2019-01-01.yaml"
    text = version.read_text()
    assert "  aggregate_cap:\n    value: fees_paid\n" in text
    if cap == "none":  # the file and its lock line, rewritten together: a family of its own for the test
        import hashlib
        import json

        version.write_text(text.replace("  aggregate_cap:\n    value: fees_paid\n", "  aggregate_cap:\n    value: none\n"))
        (family / "versions.lock").write_text(json.dumps({version.name: hashlib.sha256(version.read_bytes()).hexdigest()}))
    minutes = write_csv(tmp_path / "minutes.csv", minute_rows("acme", "2024-03-10T00:00", 3000, 100, 50))
    billing = write_csv(tmp_path / "billing.csv", [
        {"account": "acme", "month": "2024-03", "monthly_fee": "1000.00", "offset": "990.00"}])
    (march,) = decide_in_order(family, {"minutes": minutes, "billing": billing}, tmp_path / "l.sqlite", MARCH)
    assert (march["decision"], march["evaluation"]["compensation"], march["compensation"]) == ("approved", "500.00", granted)
    assert march["compensation_detail"]["capped"] is capped
    assert march["compensation_detail"]["aggregate_cap"]["applies"] is (cap != "none")
