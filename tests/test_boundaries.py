"""Boundaries of the money and the minutes, each side of each: the comparisons a mutation pass found untested
(a comparison turned, a bound dropped, and no test failed). Values from docs/readings.md and the SLA's §1.5, §3.1."""
from fractions import Fraction

import pytest

from helpers import draft_variant, minute_rows, write_csv
from test_evaluate import one


@pytest.mark.parametrize("requests,failures,unavailable", [
    (50, 1, 1),   # one failure of 50: 98 %, below 99 %
    (1, 1, 1),    # the one request failed: 0 %
    (101, 1, 0),  # one failure of 101: 99.0099 %, not below
])
def test_a_minute_with_a_single_failure_can_be_unavailable(tmp_path, requests, failures, unavailable):
    # Only rows with failures can be unavailable, so the minutes path keeps those as candidates: a minute with one
    # failed request is one of them (a filter of "more than one failure" passed every test).
    e = one(tmp_path, minute_rows("a", "2019-03-12T10:00", 1, requests, failures), "2019-03")
    assert (e["raw_unavailable_minutes"], e["unavailable_minutes"]) == (unavailable, unavailable)


@pytest.mark.parametrize("requests", [10 ** 17, 9 * 10 ** 18])
@pytest.mark.parametrize("extra,unavailable", [
    (0, 0),  # 1 % of the requests failed: exactly 99 %, not below
    (1, 1),  # one failure more: below
])
def test_the_threshold_is_exact_for_counts_beyond_what_int64_multiplies(tmp_path, requests, extra, unavailable):
    # 10^17 and 9·10^18 requests fit an int64, but 100 × them does not: §1.5's comparison in integers
    # (100·(r − f) < 99·r) is made in Python's integers there, and exactly 99 % stays not below. (A peak of 1 QPS:
    # §5.7 excludes none.)
    failures = requests // 100 + extra
    e = one(tmp_path, minute_rows("a", "2019-03-12T10:00", 1, requests, failures, peak=1), "2019-03")
    assert (e["raw_unavailable_minutes"], e["unavailable_minutes"]) == (unavailable, unavailable)


def test_the_threshold_is_exact_where_one_side_of_the_comparison_passes_int64_and_the_other_does_not(tmp_path):
    # 99·r is 2^63 or more, 100·(r − f) is less: in int64 the first wraps to a negative number and this minute, just
    # below 99 % (f/r = 1.000000000000001 %), was read as available.
    requests, failures = 93_165_374_109_644_201, 931_653_741_096_443
    assert 100 * (requests - failures) < 2 ** 63 <= 99 * requests
    e = one(tmp_path, minute_rows("a", "2019-03-12T10:00", 1, requests, failures, peak=1), "2019-03")
    assert (e["raw_unavailable_minutes"], e["unavailable_minutes"]) == (1, 1)


TIERS = """  tiers:
    - {at_least: "99%", below: "99.95%", credit: "10%", ref: "§3.1",
       text: "Less than 99.95% but equal to or higher than 99%: 10% of Monthly Service Fee",
       examples: [{availability: "99%", credit: "10%"},
                  {availability: "99.49%", credit: "10%"},
                  {availability: "98.99%", credit: "25%"},
                  {availability: "99.95%", credit: "0%"}]}
    - {at_least: "95%", below: "99%", credit: "25%", ref: "§3.1",
       text: "Less than 99% but equal to or higher than 95%: 25% of Monthly Service Fee",
       examples: [{availability: "95%", credit: "25%"},
                  {availability: "98.99%", credit: "25%"},
                  {availability: "94.99%", credit: "50%"}]}
    - {below: "95%", credit: "50%", ref: "§3.1",
       text: "Less than 95%: 50% of Monthly Service Fee",
       examples: [{availability: "94.99%", credit: "50%"},
                  {availability: "0%", credit: "50%"}]}
"""

# The same three tiers with the other bound of each pair inclusive: 99 % and 95 % belong to the tier below them.
UPPER_INCLUSIVE = """  tiers:
    - {above: "99%", below: "99.95%", credit: "10%", ref: "§3.1", text: "Above 99%, below 99.95%: 10%",
       examples: [{availability: "99.01%", credit: "10%"}]}
    - {above: "95%", at_most: "99%", credit: "25%", ref: "§3.1", text: "Above 95%, at most 99%: 25%",
       examples: [{availability: "99%", credit: "25%"}]}
    - {at_most: "95%", credit: "50%", ref: "§3.1", text: "At most 95%: 50%",
       examples: [{availability: "95%", credit: "50%"}]}
"""

# The shipped tiers listed from the lowest: each bound is still the tier's own, whatever the order.
ASCENDING = """  tiers:
    - {below: "95%", credit: "50%", ref: "§3.1", text: "Less than 95%: 50%",
       examples: [{availability: "94.99%", credit: "50%"}]}
    - {at_least: "95%", below: "99%", credit: "25%", ref: "§3.1", text: "Less than 99%, at least 95%: 25%",
       examples: [{availability: "95%", credit: "25%"}]}
    - {at_least: "99%", below: "99.95%", credit: "10%", ref: "§3.1", text: "Less than 99.95%, at least 99%: 10%",
       examples: [{availability: "99%", credit: "10%"}]}
"""


@pytest.mark.parametrize("tiers,credits", [
    # 1 − 432/43,200 = 99 % exactly; 1 − 2,160/43,200 = 95 % exactly (a 30-day month); one minute more is below each.
    (UPPER_INCLUSIVE, {431: ("99.002", 10), 432: ("99.00", 25), 2160: ("95.00", 50), 2159: ("95.002", 25)}),
    (ASCENDING, {432: ("99.00", 10), 433: ("98.998", 25), 2160: ("95.00", 25), 2161: ("94.998", 50)}),
])
def test_each_tier_bound_is_read_as_written(tmp_path, tiers, credits):
    # A tier's `above` (exclusive) and `at_most` (inclusive) bounds: the shipped tiers use only at_least and below, so
    # reading `above` as at_least, or `below` as at_most, passed every test.
    draft = draft_variant(tmp_path, TIERS, tiers)
    found = {}
    for unavailable in credits:
        e = one(tmp_path, minute_rows("a", "2019-04-01T00:00", unavailable, 100, 2), "2019-04", policy_file=draft)
        found[unavailable] = (e["availability_percent"], e["credit_percent"])
    assert found == credits


def test_an_availability_of_exactly_zero_is_shown_without_a_sign(tmp_path):
    # Every minute of April 2019 unavailable (a version reading a minute without requests as unavailable, and no
    # minute of data for the account): 1 − 43,200/43,200 = 0 % exactly, "0.00" in the lowest tier. Only a value below
    # 0 (a month the clocks go back, docs/readings.md §1.6) carries a minus sign; 0 itself showing "-0.00" passed
    # every test.
    from slapolicy.evaluation.compensation import percent_text

    draft = draft_variant(tmp_path, "  no_traffic:\n    value: available", "  no_traffic:\n    value: unavailable")
    billing = write_csv(tmp_path / "billing.csv", [{"account": "a", "month": "2019-04", "monthly_fee": "1000.00",
                                                    "offset": "0.00"}])
    e = one(tmp_path, minute_rows("b", "2019-05-01T00:00", 1, 100, 0), "2019-04", policy_file=draft, billing=billing,
            accounts=["a"])
    assert (e["unavailable_minutes"], e["availability_exact"], e["availability_percent"], e["credit_percent"],
            e["compensation"]) == (43200, "0/43200", "0.00", 50, "500.00")
    assert [percent_text(Fraction(0), 2, rounding) for rounding in ("half_up", "half_even", "down")] == ["0.00"] * 3


def _minutes_step(e) -> str:
    return next(s["detail"] for s in e["trace"] if s["step"] == "minutes")


@pytest.mark.parametrize("rows,with_data,without", [
    # A row of 0 requests is a minute with data and without requests (§1.4): 2 with data, 44,639 without requests.
    ([("2019-03-12T10:00", 100, 2, 0), ("2019-03-12T10:01", 0, 0, 0)], 2, 44639),
    # A row whose 3 requests all failed on illegal numbers has no normal request (§5.10): without requests too.
    ([("2019-03-12T10:00", 100, 2, 0), ("2019-03-12T10:01", 3, 3, 3)], 2, 44639),
])
def test_the_minutes_without_requests_count_rows_without_normal_requests(tmp_path, rows, with_data, without):
    # The minutes path counts, per account and month, the rows with data and those with (normal) requests; counting
    # every row with data as one with requests (a batch whose fewest requests are 0, or one with illegal-number
    # failures) passed every test: the trace's count, what no_traffic reads, was one short.
    e = one(tmp_path, [dict(next(minute_rows("a", start, 1, requests, failures, illegal)))
                       for start, requests, failures, illegal in rows], "2019-03")
    assert (e["minutes_with_data"], e["unavailable_minutes"]) == (with_data, 1)
    assert _minutes_step(e).startswith(f"44640 minutes; {with_data} with data; {without} without requests (available")


@pytest.mark.parametrize("illegal_reading,quiet", [("remove_from_both", 9), ("count_as_failures", 8)])
def test_a_provider_incident_counts_its_minutes_without_requests_as_read(tmp_path, illegal_reading, quiet):
    # A provider incident over 10:00-10:10: 10:00 has 100 requests, 10:01 a row of 0 requests, 10:02 three requests
    # that all failed on illegal numbers (normal requests only when §5.10 removes them). The warning's count of its
    # minutes without (normal) requests is 9, or 8 when illegal-number failures count as failures; counting a row of
    # 0 requests as one with requests passed every test.
    from helpers import write_yaml

    draft = draft_variant(tmp_path, "illegal_number_failures:\n    value: remove_from_both",
                          f"illegal_number_failures:\n    value: {illegal_reading}")
    incidents = write_yaml(tmp_path / "incidents.yaml", [{"id": "P-1", "start": "2019-03-12T10:00",
                                                          "end": "2019-03-12T10:10", "cause": "provider"}])
    rows = [dict(next(minute_rows("a", start, 1, requests, failures, illegal)))
            for start, requests, failures, illegal in (("2019-03-12T10:00", 100, 0, 0), ("2019-03-12T10:01", 0, 0, 0),
                                                        ("2019-03-12T10:02", 3, 3, 3))]
    e = one(tmp_path, rows, "2019-03", policy_file=draft, incidents=incidents)
    assert [(w["code"], w["minutes"]) for w in e["warnings"]] == [("provider_incident_without_data", quiet)]


def test_a_replay_puts_a_month_s_first_minute_in_that_month(tmp_path):
    # Replayed over March and April 2019, an unavailable minute at 00:00 on 1 April (Singapore) is April's first
    # minute (§1.2, §1.5): the minutes path finds each row's month among the months' bounds, and placing a minute on
    # a bound in the month before it passed every test.
    from conftest import DRAFT, POLICIES
    from slapolicy.replay import replay

    minutes = write_csv(tmp_path / "minutes.csv", list(minute_rows("a", "2019-04-01T00:00", 1, 100, 2))
                        + list(minute_rows("a", "2019-03-31T23:58", 1, 100, 0)))
    rows = replay(POLICIES, minutes=minutes, start="2019-03", end="2019-04", under=DRAFT)["rows"]
    assert [(r["month"], r["baseline"]["unavailable_minutes"], r["amended"]["unavailable_minutes"]) for r in rows] == [
        ("2019-03", 0, 0), ("2019-04", 1, 1)]


@pytest.mark.parametrize("peaks", [(4.9, 5.0), (5.0, 4.9)])
def test_a_peak_on_the_concurrency_threshold_is_told_from_one_below_it_in_the_same_month(tmp_path, peaks):
    # Two unavailable minutes of one account, peak_qps 4.9 and exactly 5.0 (§5.7: "5.0QPS and above"), in either order:
    # only the second is excluded. The minutes share one question for the rules when every value answers the
    # conditions alike; a value on the threshold read as one below it made both minutes answer as the first did.
    rows = [dict(next(minute_rows("a", start, 1, 100, 2, peak=peak)))
            for start, peak in zip(("2019-03-12T10:00", "2019-03-12T10:01"), peaks)]
    e = one(tmp_path, rows, "2019-03")
    assert (e["raw_unavailable_minutes"], e["excluded_minutes"], e["unavailable_minutes"]) == (2, {"5.7": 1}, 1)


def test_a_version_governs_the_service_month_beginning_on_its_effective_from(tmp_path):
    # §6.2: the version in force is the latest whose effective_from is on or before the Service Month's first day.
    # Version 2019-01-01 governs January 2019 itself; "before" alone (no version for January 2019) passed every test.
    e = one(tmp_path, minute_rows("a", "2019-01-15T10:00", 1, 100, 2), "2019-01")
    assert (e["policy"]["version"], e["unavailable_minutes"]) == ("2019-01-01", 1)


def test_a_replay_under_a_version_counting_illegal_number_failures_still_removes_them_in_force(tmp_path):
    # 201 requests, 3 failures of which 1 on an illegal number: the version in force removes it (§5.10: 2 of 200,
    # exactly 99 %, available); a draft counting it as a failure reads 3 of 201 (98.51 %, unavailable). The minutes
    # path keeps the row for the draft, so the version in force sees it too and must still remove the failure:
    # removing nothing there passed every test.
    from conftest import POLICIES
    from slapolicy.replay import replay

    draft = draft_variant(tmp_path, "illegal_number_failures:\n    value: remove_from_both",
                          "illegal_number_failures:\n    value: count_as_failures")
    minutes = write_csv(tmp_path / "minutes.csv", list(minute_rows("a", "2019-03-12T10:00", 1, 201, 3, 1)))
    (row,) = replay(POLICIES, minutes=minutes, start="2019-03", end="2019-03", under=draft)["rows"]
    assert (row["baseline"]["unavailable_minutes"], row["amended"]["unavailable_minutes"]) == (0, 1)


def test_a_replay_under_a_version_that_excludes_otherwise_classifies_the_minutes_again(tmp_path):
    # Ten unavailable minutes 10:00-10:10 under a customer_network incident from 10:00:30 (§5.1): the version in force
    # rounds windows outward (all 10 excluded), a draft inward (10:00 is not covered whole: 9 excluded, 1 counted).
    # Two versions that read minutes alike share one classification; reusing it for this draft passed every test.
    from conftest import POLICIES
    from helpers import write_yaml
    from slapolicy.replay import replay

    draft = draft_variant(tmp_path, "window_rounding:\n    value: outward", "window_rounding:\n    value: inward")
    minutes = write_csv(tmp_path / "minutes.csv", list(minute_rows("a", "2019-03-12T10:00", 10, 100, 2)))
    incidents = write_yaml(tmp_path / "incidents.yaml", [{"id": "C-1", "start": "2019-03-12T10:00:30",
                                                          "end": "2019-03-12T10:10", "cause": "customer_network"}])
    (row,) = replay(POLICIES, minutes=minutes, incidents=incidents, start="2019-03", end="2019-03", under=draft)["rows"]
    assert [(side["excluded_minutes"], side["unavailable_minutes"]) for side in (row["baseline"], row["amended"])] == [
        ({"5.1": 10}, 0), ({"5.1": 9}, 1)]
