"""Evaluating a Service Month: the values the SLA and docs/readings.md fix, to the minute and the cent."""
import pytest

from conftest import DRAFT, POLICIES
from helpers import PUBLISHED, draft_variant, minute_rows, write_csv, write_yaml
from slapolicy.api import evaluate


def run(tmp_path, rows, month, **kwargs):
    minutes = write_csv(tmp_path / "minutes.csv", rows,
                        fields=["account", "minute", "requests", "failures", "illegal_number_failures", "peak_qps"])
    result = evaluate(POLICIES, minutes=minutes, month=month, **kwargs)
    return result["evaluations"]


def one(tmp_path, rows, month, **kwargs):
    (evaluation,) = run(tmp_path, rows, month, **kwargs)
    return evaluation


def test_section_2_1_example_under_the_shipped_policy(tmp_path):
    e = one(tmp_path, minute_rows("a", "2019-03-12T10:00", 30, 100, 2), "2019-03")
    assert e["service_month"] == {"start": "2019-03-01", "end": "2019-03-31", "days": 31, "total_minutes": 44640}
    assert e["unavailable_minutes"] == 30
    assert e["availability_percent"] == "99.93"
    assert e["meets_standard"] is True
    assert e["credit_percent"] == 0
    assert e["policy"]["version"] == "2019-01-01"
    assert e["excluded_minutes"] == {}


def test_section_2_1_example_under_the_99_95_draft(tmp_path):
    e = one(tmp_path, minute_rows("a", "2019-03-12T10:00", 30, 100, 2), "2019-03", policy_file=DRAFT)
    assert (e["availability_percent"], e["meets_standard"], e["credit_percent"]) == ("99.93", False, 10)
    assert e["policy"]["version"] == "2027-01-01"
    assert e["trace"][0]["detail"].endswith("as asked, instead of 2019-01-01, the version in force")


@pytest.mark.parametrize("requests,failures,illegal,unavailable", [
    (100, 1, 0, 0),   # exactly 99 %: not below
    (100, 2, 0, 1),   # 98 %
    (0, 0, 0, 0),     # no traffic: available
    (100, 5, 4, 1),   # 1 failure of 96 normal requests: 98.96 %
    (100, 4, 3, 1),   # 1 failure of 97: 98.97 %
    (201, 3, 1, 0),   # 2 failures of 200 normal requests: exactly 99 %, available
])
def test_minute_classification(tmp_path, requests, failures, illegal, unavailable):
    e = one(tmp_path, minute_rows("a", "2019-03-12T10:00", 1, requests, failures, illegal), "2019-03")
    assert e["unavailable_minutes"] == unavailable


def test_illegal_number_failures_alone_leave_a_minute_without_normal_traffic(tmp_path):
    e = one(tmp_path, minute_rows("a", "2019-03-12T10:00", 1, 3, 3, 3), "2019-03")
    assert e["unavailable_minutes"] == 0
    assert "3 illegal-number failure(s) in 1 minute(s) removed from both requests and failures" in \
        next(s["detail"] for s in e["trace"] if s["step"] == "illegal_numbers")


@pytest.mark.parametrize("unavailable,percent,meets,credit", [
    (216, "99.50", True, 0),      # 1 − 216/43,200 = 99.5 % exactly: meets the standard
    (217, "99.498", False, 10),   # 99.49768…%: "99.50" would contradict "standard not met"
    (432, "99.00", False, 10),    # 99 % exactly: tier 1
    (433, "98.998", False, 25),   # 98.99768…%: "99.00" would show tier 1's lower bound
    (2160, "95.00", False, 25),   # 95 % exactly: tier 2
    (2161, "94.998", False, 50),  # 94.99768…%
])
def test_tier_boundaries_in_a_30_day_month(tmp_path, unavailable, percent, meets, credit):
    e = one(tmp_path, minute_rows("a", "2019-04-01T00:00", unavailable, 100, 2), "2019-04")
    assert e["service_month"]["total_minutes"] == 43200
    assert (e["unavailable_minutes"], e["availability_percent"], e["meets_standard"], e["credit_percent"]) == \
        (unavailable, percent, meets, credit)


@pytest.mark.parametrize("offset,compensation", [("300.00", "500.00"), ("600.00", "400.00"), ("500.00", "500.00")])
def test_compensation_is_capped_at_the_fee_paid(tmp_path, offset, compensation):
    billing = write_csv(tmp_path / "billing.csv", [{"account": "a", "month": "2019-04", "monthly_fee": "1000.00",
                                                    "offset": offset}])
    e = one(tmp_path, minute_rows("a", "2019-04-01T00:00", 2161, 100, 2), "2019-04", billing=billing)
    assert (e["credit_percent"], e["monthly_fee"], e["compensation"]) == (50, "1000.00", compensation)


def test_compensation_rounds_half_up_to_the_cent(tmp_path):
    billing = write_csv(tmp_path / "billing.csv", [{"account": "a", "month": "2019-04", "monthly_fee": "0.05",
                                                    "offset": "0"}])
    e = one(tmp_path, minute_rows("a", "2019-04-01T00:00", 217, 100, 2), "2019-04", billing=billing)
    assert e["compensation"] == "0.01"  # 10 % of 0.05 = 0.005 → 0.01


def test_without_billing_the_money_is_null(tmp_path):
    e = one(tmp_path, minute_rows("a", "2019-04-01T00:00", 2161, 100, 2), "2019-04")
    assert (e["monthly_fee"], e["compensation"]) == (None, None)


NO_BILLING_GIVEN = ("no billing was given: no amount computed (the credit is a percentage of the Monthly Service Fee, "
                    "which the billing gives: give --billing FILE, in Python billing=)")
NO_BILLING_ROW = "the billing given has no row for this account and month: no amount computed"


@pytest.mark.parametrize("layout", ["csv", "parquet", pytest.param("workers", marks=pytest.mark.slow)])
def test_the_trace_of_a_month_without_an_amount_says_whether_billing_was_given(tmp_path, layout):
    # 2161 minutes at 98 % in April 2019 (30 days): 94.997685 %, shown 94.998, 50 % of the fee. Without --billing the trace
    # said "no billing for this account and month: no amount computed", as it did for an account the billing given
    # leaves out, and nothing of how to give it. Each way the month is evaluated (here, settled while a Parquet file
    # is read, on workers) says the same.
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [*minute_rows("a", "2019-04-01T00:00", 2161, 100, 2), *minute_rows("b", "2019-04-01T00:00", 2161, 100, 2)]
    if layout == "parquet":  # a row group an account: each is evaluated as soon as its rows are read
        minutes = tmp_path / "minutes.parquet"
        table = pa.Table.from_pylist(rows)
        pq.write_table(table, minutes, row_group_size=2161)
    else:
        minutes = write_csv(tmp_path / "minutes.csv", rows)
    options = {"workers": 2} if layout == "workers" else {}
    billing = write_csv(tmp_path / "billing.csv", [{"account": "b", "month": "2019-04", "monthly_fee": "100.00",
                                                    "offset": "0.00"}])
    for given, expected in ((None, [NO_BILLING_GIVEN, NO_BILLING_GIVEN]), (billing, [NO_BILLING_ROW, None])):
        a, b = evaluate(POLICIES, minutes=minutes, month="2019-04", billing=given, **options)["evaluations"]
        assert (a["availability_percent"], a["credit_percent"], a["compensation"]) == ("94.998", 50, None)
        assert [e["compensation"] for e in (a, b)] == [None, None if given is None else "50.00"]
        steps = [[(s["clause"], s["detail"]) for s in e["trace"] if s["step"] == "compensation"] for e in (a, b)]
        assert steps[0] == [("§1.3", expected[0])]
        assert steps[1] == ([("§1.3", expected[1])] if expected[1] else
                            [("§3.1(2)", "fee 100.00 × 50% = 50.00; within the fee paid 100.00 (§3.1(2)): compensation "
                                         "50.00 as vouchers")])


def maintenance(published_at):
    return [{"id": "N-1", "kind": "maintenance", "published_at": published_at,
             "start": "2019-03-20T12:00", "end": "2019-03-20T12:20"}]


def test_notified_maintenance_is_excluded_under_5_12(tmp_path):
    notices = write_yaml(tmp_path / "notices.yaml", maintenance("2019-03-01T09:00"))
    e = one(tmp_path, minute_rows("a", "2019-03-20T12:00", 20, 100, 50), "2019-03", notices=notices)
    assert e["excluded_minutes"] == {"5.12": 20}
    assert e["unavailable_minutes"] == 0
    assert {"step": "exclusion", "clause": "§5.12", "detail": "20 minute(s) excluded (notice N-1)"} in e["trace"]


@pytest.mark.parametrize("published_at", ["2019-03-20T12:00", "2019-03-20T12:05"])
def test_maintenance_announced_at_or_after_its_start_counts_against_the_provider(tmp_path, published_at):
    notices = write_yaml(tmp_path / "notices.yaml", maintenance(published_at))
    e = one(tmp_path, minute_rows("a", "2019-03-20T12:00", 20, 100, 50), "2019-03", notices=notices)
    assert e["excluded_minutes"] == {}
    assert e["unavailable_minutes"] == 20


def test_one_minute_before_is_prior(tmp_path):
    notices = write_yaml(tmp_path / "notices.yaml", maintenance("2019-03-20T11:59"))
    e = one(tmp_path, minute_rows("a", "2019-03-20T12:00", 20, 100, 50), "2019-03", notices=notices)
    assert e["excluded_minutes"] == {"5.12": 20}


def test_windows_exclude_every_minute_they_touch(tmp_path):
    notices = write_yaml(tmp_path / "notices.yaml", [{
        "id": "N-1", "kind": "maintenance", "published_at": "2019-03-01T09:00",
        "start": "2019-03-20T12:00:30", "end": "2019-03-20T12:02:10"}])
    e = one(tmp_path, minute_rows("a", "2019-03-20T11:59", 5, 100, 50), "2019-03", notices=notices)
    assert e["excluded_minutes"] == {"5.12": 3}  # 12:00, 12:01, 12:02 touched; 11:59 and 12:03 not
    assert e["unavailable_minutes"] == 2


def test_customer_incident_is_excluded_and_incidents_for_other_accounts_are_not(tmp_path):
    incidents = write_yaml(tmp_path / "incidents.yaml", [
        {"id": "I-1", "start": "2019-03-08T14:00", "end": "2019-03-08T14:45", "cause": "customer_network", "account": "a"}])
    rows = list(minute_rows("a", "2019-03-08T14:00", 45, 100, 30)) + list(minute_rows("b", "2019-03-08T14:00", 45, 100, 30))
    a, b = run(tmp_path, rows, "2019-03", incidents=incidents)
    assert (a["account"], a["excluded_minutes"], a["unavailable_minutes"]) == ("a", {"5.1": 45}, 0)
    assert (b["account"], b["excluded_minutes"], b["unavailable_minutes"]) == ("b", {}, 45)
    # §5.15 applied too; the minute is attributed once, to the clause listed first.
    assert {"step": "exclusion", "clause": "§5.15",
            "detail": "applied to 45 minute(s), each attributed to another clause (§5)"} in a["trace"]


def test_catch_all_5_15_takes_minutes_no_other_clause_claims(tmp_path):
    incidents = write_yaml(tmp_path / "incidents.yaml", [
        {"id": "I-9", "start": "2019-03-08T14:00", "end": "2019-03-08T14:10", "cause": "not_provider"}])
    e = one(tmp_path, minute_rows("a", "2019-03-08T14:00", 10, 100, 30), "2019-03", incidents=incidents)
    assert e["excluded_minutes"] == {"5.15": 10}


def test_provider_incident_excludes_nothing(tmp_path):
    incidents = write_yaml(tmp_path / "incidents.yaml", [
        {"id": "I-1", "start": "2019-03-12T10:00:00+08:00", "end": "2019-03-12T10:30:00+08:00", "cause": "provider"}])
    e = one(tmp_path, minute_rows("a", "2019-03-12T10:00", 30, 100, 2), "2019-03", incidents=incidents)
    assert (e["unavailable_minutes"], e["excluded_minutes"]) == (30, {})


@pytest.mark.parametrize("requests,peak,excluded", [
    (300, None, 10),     # 300 / 60 = 5.0 QPS: the fallback reaches the threshold
    (299, None, 0),      # 4.98 QPS
    (100, "5.0", 10),    # peak_qps from the data wins over the fallback
    (600, "4.9", 0),
])
def test_concurrency_5_7(tmp_path, requests, peak, excluded):
    e = one(tmp_path, minute_rows("a", "2019-03-15T16:00", 10, requests, requests // 10, peak=peak), "2019-03")
    assert e["excluded_minutes"] == ({"5.7": excluded} if excluded else {})
    notes = [s["detail"] for s in e["trace"] if s["step"] == "facts"]
    if peak is None:
        assert "no peak_qps for 10 minute(s): concurrency = requests / 60 (fallback)" in notes[0]


def test_a_prior_customer_notice_keeps_concurrency_minutes_against_the_provider(tmp_path):
    notices = write_yaml(tmp_path / "notices.yaml", [{
        "id": "C-1", "kind": "high_concurrency", "published_at": "2019-03-10T09:00",
        "start": "2019-03-15T16:00", "end": "2019-03-15T16:05", "account": "a"}])
    e = one(tmp_path, minute_rows("a", "2019-03-15T16:00", 10, 420, 42), "2019-03", notices=notices)
    assert e["excluded_minutes"] == {"5.7": 5}  # 16:05–16:09 were not announced
    assert e["unavailable_minutes"] == 5


def test_partial_service_months_of_a_term(tmp_path):
    import datetime as dt

    rows = minute_rows("a", "2024-06-01T00:00", 30, 100, 2)
    e = one(tmp_path, rows, "2024-06", term_start=dt.date(2024, 3, 17), term_end=dt.date(2024, 6, 16))
    assert e["service_month"] == {"start": "2024-06-01", "end": "2024-06-16", "days": 16, "total_minutes": 23040}
    assert e["availability_percent"] == "99.87"  # 1 − 30/23040


def test_timestamps_with_offsets_are_placed_in_the_policy_timezone(tmp_path):
    rows = [{"account": "a", "minute": "2019-03-31T15:59:00Z", "requests": 100, "failures": 2},   # 23:59 SGT, March
            {"account": "a", "minute": "2019-03-31T16:00:00+00:00", "requests": 100, "failures": 2}]  # April in SGT
    e = one(tmp_path, rows, "2019-03")
    assert (e["minutes_with_data"], e["unavailable_minutes"]) == (1, 1)
    assert not any(s["step"] == "timezone" for s in e["trace"])


def test_accounts_with_billing_but_no_minutes_are_evaluated(tmp_path):
    billing = write_csv(tmp_path / "billing.csv", [{"account": "quiet", "month": "2019-03", "monthly_fee": "10.00",
                                                    "offset": "0.00"}])
    evaluations = run(tmp_path, minute_rows("a", "2019-03-01T00:00", 1, 1, 0), "2019-03", billing=billing)
    assert [(e["account"], e["availability_percent"], e["compensation"]) for e in evaluations] == \
        [("a", "100.00", None), ("quiet", "100.00", "0.00")]


def test_one_account_only(tmp_path):
    rows = list(minute_rows("a", "2019-03-01T00:00", 1, 1, 0)) + list(minute_rows("b", "2019-03-01T00:00", 1, 1, 0))
    assert [e["account"] for e in run(tmp_path, rows, "2019-03", accounts=["b"])] == ["b"]


def test_the_result_is_json_serialisable(tmp_path):
    import json

    e = one(tmp_path, minute_rows("a", "2019-03-12T10:00", 30, 100, 2), "2019-03")
    assert json.loads(json.dumps(e)) == e
    assert e["trace"][0] == {"step": "version", "clause": "§6.2", "detail":
                             "version 2019-01-01 in force: the latest effective_from (2019-01-01) on or before the "
                             "Service Month's first day 2019-03-01"}


def test_no_traffic_reading_is_a_policy_setting(tmp_path):
    variant = draft_variant(tmp_path, "    value: available\n    reading: true", "    value: unavailable\n    reading: true")
    rows = [{"account": "a", "minute": "2019-04-01T00:00", "requests": 100, "failures": 0}]
    e = one(tmp_path, rows, "2019-04", policy_file=variant)
    assert e["unavailable_minutes"] == 43199  # every minute without requests


def test_no_traffic_error_setting_refuses_gaps(tmp_path):
    from slapolicy.errors import InputError

    variant = draft_variant(tmp_path, "    value: available\n    reading: true", "    value: error\n    reading: true")
    with pytest.raises(InputError, match="43199 minute\\(s\\) without requests, and the policy's no_traffic setting is 'error'"):
        one(tmp_path, [{"account": "a", "minute": "2019-04-01T00:00", "requests": 100, "failures": 0}], "2019-04",
            policy_file=variant)


def test_inward_window_rounding_counts_only_whole_minutes(tmp_path):
    variant = draft_variant(tmp_path, "    value: outward\n", "    value: inward\n")
    notices = write_yaml(tmp_path / "notices.yaml", [{
        "id": "N-1", "kind": "maintenance", "published_at": "2019-03-01T09:00",
        "start": "2019-03-20T12:00:30", "end": "2019-03-20T12:03:00"}])
    e = one(tmp_path, minute_rows("a", "2019-03-20T11:59", 5, 100, 50), "2019-03", notices=notices, policy_file=variant)
    assert e["excluded_minutes"] == {"5.12": 2}  # 12:01 and 12:02


def test_the_month_of_a_version_must_be_in_force(tmp_path):
    from slapolicy import NoVersionInForce

    with pytest.raises(NoVersionInForce, match="Service Month starting 2018-12-01"):
        one(tmp_path, minute_rows("a", "2018-12-01T00:00", 1, 1, 0), "2018-12")


def test_account_names_are_trimmed_and_merged(tmp_path):
    rows = [{"account": " a", "minute": "2019-03-01T10:00", "requests": 100, "failures": 2},
            {"account": "a ", "minute": "2019-03-01T10:01", "requests": 100, "failures": 2}]
    e = one(tmp_path, rows, "2019-03")
    assert (e["account"], e["unavailable_minutes"]) == ("a", 2)


def test_a_window_is_cited_only_when_its_facts_made_the_clause_apply(tmp_path):
    notices = write_yaml(tmp_path / "notices.yaml", [{"id": "N-late", "kind": "maintenance", "published_at": "2019-03-15T16:30",
                                                      "start": "2019-03-15T16:00", "end": "2019-03-15T17:00"}])
    e = one(tmp_path, minute_rows("a", "2019-03-15T16:00", 10, 420, 42), "2019-03", notices=notices)
    assert e["excluded_minutes"] == {"5.7": 10}
    detail = next(s["detail"] for s in e["trace"] if s["clause"] == "§5.7" and s["step"] == "exclusion")
    assert detail == ("10 minute(s) excluded (minute data: (minute.concurrency_qps ≥ 5.0 and "
                      "minute.customer_prior_notice = false and not (incident.cause = provider)))")


@pytest.mark.parametrize("columns", [3, 70])  # 70 windows: 2^70 combinations do not fold into one integer
def test_distinct_fact_combinations_are_those_of_the_rows(columns):
    import numpy as np

    from slapolicy.evaluation.classify import _combinations

    rng = np.random.default_rng(7)
    codes = [rng.integers(0, 3, size=50) for _ in range(columns)]
    combos, inverse = _combinations(codes, 50)
    expected, expected_inverse = np.unique(np.column_stack(codes), axis=0, return_inverse=True)
    assert combos.tolist() == expected.tolist()
    assert inverse.tolist() == expected_inverse.reshape(-1).tolist()
    assert (combos[inverse] == np.column_stack(codes)).all()


@pytest.mark.parametrize("published_at,prior", [("2024-03-09T02:30", True), ("2024-03-09T02:31", False)])
def test_a_notice_lead_is_counted_in_minutes_that_elapse_not_on_the_wall_clock(tmp_path, published_at, prior):
    """A version in New York's time with a lead of 1440 minutes. New York skips 02:00-03:00 on 2024-03-10, so from
    02:30 EST on the 9th (07:30Z) to 03:30 EDT on the 10th (07:30Z) is 1440 minutes (prior), from 02:31 only 1439
    (not prior), though the wall clock shows 25 hours and 24 h 59 min."""
    from slapolicy.inputs.events import read_notices
    from slapolicy.policy.directory import load_policy
    from slapolicy_builtins.notices import is_prior

    text = PUBLISHED.read_text().replace("status: published", "status: draft").replace("value: Asia/Singapore", "value: America/New_York")
    text = text.replace("notice_lead_minutes:\n    value: 0", "notice_lead_minutes:\n    value: 1440")
    (tmp_path / "drafts").mkdir()
    (tmp_path / "drafts" / "variant.yaml").write_text(text)
    policy = load_policy(tmp_path / "drafts" / "variant.yaml")
    assert (policy.timezone, policy.setting("exclusions", "notice_lead_minutes")) == ("America/New_York", 1440)
    (notice,) = read_notices([{"id": "N-1", "kind": "maintenance", "published_at": published_at,
                               "start": "2024-03-10T03:30", "end": "2024-03-10T04:00"}], policy.timezone)
    assert is_prior(notice, policy) is prior


@pytest.mark.slow
def test_the_text_report_of_an_edited_copy_names_the_file_it_was_evaluated_under(tmp_path):
    # An edited copy keeps the id and version of the published version it was copied from: the header said
    # "policy ccc-sla 2019-01-01" as for the version in force, although the standard was another.
    import hashlib

    from conftest import REPO, run_cli

    EXAMPLES = REPO / "examples" / "ccc"

    edited = tmp_path / "2019-01-01.yaml"
    text = PUBLISHED.read_text()
    assert text.count('value: "99.5%"') == 1
    edited.write_text(text.replace('value: "99.5%"', 'value: "99.9%"'))
    sha = hashlib.sha256(edited.read_bytes()).hexdigest()
    data = ["--minutes", EXAMPLES / "minutes.csv", "--billing", EXAMPLES / "billing.csv", "--month", "2019-03",
            "--account", "acme", "--format", "text"]
    result = run_cli("evaluate", POLICIES, *data, "--policy-file", edited)
    assert result.code == 0, result.err
    # acme, March 2019: 65 unavailable minutes of 44640: (1 − 65/44640) × 100 = 99.854 % → 99.85 %, below 99.9 %
    # (met under the 99.5 % in force): tier 1, 10 % of 2500.00 = 250.00
    assert result.out.splitlines()[:2] == [
        "Account acme — Service Month 2019-03-01 to 2019-03-31 (44640 minutes), policy ccc-sla 2019-01-01 of the file "
        f"{edited} (sha256 {sha[:12]}…) as asked",
        "  availability 99.85%: standard NOT met; credit 10%, compensation 250.00 of fee 2500.00"]
    under_force = run_cli("evaluate", POLICIES, *data)
    assert under_force.out.splitlines()[:2] == [
        "Account acme — Service Month 2019-03-01 to 2019-03-31 (44640 minutes), policy ccc-sla 2019-01-01",
        "  availability 99.85%: standard met; credit 0%, compensation 0.00 of fee 2500.00"]
