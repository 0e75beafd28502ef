"""Each clause's reading applied as docs/readings.md writes it, under every value the policy schema allows for its
setting: both sides of each boundary, with the minutes, percentages, money and dates worked out by hand."""
import datetime as dt

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


@pytest.mark.parametrize("days,filed_at,words", [
    (0, "2019-03-31T23:59:00+08:00", "before the claim window opened on 2019-04-01T00:00+08:00 (as the month after the "
                                     "Service Month begins)."),
    (5, "2019-04-05T23:59:00+08:00", "before the claim window opened on 2019-04-06T00:00+08:00 (after the 5th business "
                                     "day, 2019-04-05, of the month after the Service Month)."),
])
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

