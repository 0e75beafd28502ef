"""How a clause sees a minute: every unavailable minute is asked once per pair of covering incident and
covering provider notice, with its own facts alongside ("none" for a kind only when no window of that kind
covers it). §5.7 reads "due to" as causation: a provider incident over the minute names the cause."""
import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from conftest import POLICIES
from helpers import minute_rows, write_csv, write_yaml
from slapolicy.api import evaluate
from slapolicy.errors import InputError

# March 2019: 31 days × 1440 = 44,640 minutes. The outage: 300 minutes from 2019-03-15 16:00 (to 21:00),
# 600 requests a minute (10 QPS, peak_qps 10) of which 60 fail: 90 % success, every minute unavailable.
OUTAGE = dict(start="2019-03-15T16:00", count=300, requests=600, failures=60, peak="10")


def outage_rows(account="a", start=OUTAGE["start"], count=OUTAGE["count"]):
    return minute_rows(account, start, count, OUTAGE["requests"], OUTAGE["failures"], peak=OUTAGE["peak"])


def evaluate_outage(tmp_path, incidents=None, notices=None, rows=None):
    minutes = write_csv(tmp_path / "minutes.csv", rows or outage_rows(),
                        fields=["account", "minute", "requests", "failures", "illegal_number_failures", "peak_qps"])
    billing = write_csv(tmp_path / "billing.csv", [{"account": "a", "month": "2019-03", "monthly_fee": "1000.00",
                                                    "offset": "0.00"}])
    kwargs = {"billing": billing}
    if incidents is not None:
        kwargs["incidents"] = write_yaml(tmp_path / "incidents.yaml", incidents)
    if notices is not None:
        kwargs["notices"] = write_yaml(tmp_path / "notices.yaml", notices)
    (evaluation,) = evaluate(POLICIES, minutes=minutes, month="2019-03", **kwargs)["evaluations"]
    return evaluation


def incident(cause, start="2019-03-15T16:00", end="2019-03-15T21:00", id="I-1"):
    return {"id": id, "start": start, "end": end, "cause": cause}


def exclusion_details(evaluation):
    return {s["clause"]: s["detail"] for s in evaluation["trace"] if s["step"] == "exclusion"}


def test_a_provider_outage_at_10_qps_counts_against_the_provider(tmp_path):
    e = evaluate_outage(tmp_path, incidents=[incident("provider")])
    # 1 − 300/44,640 = 44,340/44,640 = 99.3279…% → 99.33 %, below the 99.5 % standard; tier [99 %, 99.95 %): 10 %.
    assert (e["raw_unavailable_minutes"], e["unavailable_minutes"], e["excluded_minutes"]) == (300, 300, {})
    assert (e["availability_percent"], e["meets_standard"], e["credit_percent"]) == ("99.33", False, 10)
    assert e["compensation"] == "100.00"  # 10 % of 1000.00
    assert exclusion_details(e) == {}  # §5.7 was asked with incident.cause = provider and did not apply


def test_the_same_minutes_without_an_incident_are_excluded_under_5_7(tmp_path):
    e = evaluate_outage(tmp_path)
    assert (e["unavailable_minutes"], e["excluded_minutes"]) == (0, {"5.7": 300})
    assert (e["availability_percent"], e["meets_standard"], e["credit_percent"], e["compensation"]) == \
        ("100.00", True, 0, "0.00")


def test_a_customer_network_incident_excludes_them_under_5_1(tmp_path):
    e = evaluate_outage(tmp_path, incidents=[incident("customer_network")])
    assert (e["unavailable_minutes"], e["excluded_minutes"]) == (0, {"5.1": 300})
    details = exclusion_details(e)
    assert details["§5.1"] == "300 minute(s) excluded (incident I-1)"
    # §5.7 (10 QPS, no notice, not the provider's fault) and §5.15 applied too: attributed to §5.1, listed first.
    assert details["§5.7"] == "applied to 300 minute(s), each attributed to another clause (§5)"
    assert details["§5.15"] == "applied to 300 minute(s), each attributed to another clause (§5)"


def test_a_prior_customer_notice_keeps_them_against_the_provider(tmp_path):
    notices = [{"id": "C-1", "kind": "high_concurrency", "published_at": "2019-03-10T09:00",
                "start": "2019-03-15T16:00", "end": "2019-03-15T21:00", "account": "a"}]
    e = evaluate_outage(tmp_path, notices=notices)
    assert (e["unavailable_minutes"], e["excluded_minutes"], e["availability_percent"]) == (300, {}, "99.33")


def test_a_provider_incident_over_part_of_the_outage(tmp_path):
    e = evaluate_outage(tmp_path, incidents=[incident("provider", end="2019-03-15T17:40")])
    # 16:00–17:40 is 100 minutes named the provider's fault; the other 200 are excluded under §5.7.
    # 1 − 100/44,640 = 99.7759…% → 99.78 %, standard met.
    assert (e["unavailable_minutes"], e["excluded_minutes"], e["availability_percent"], e["meets_standard"]) == \
        (100, {"5.7": 200}, "99.78", True)
    assert exclusion_details(e)["§5.7"].startswith("200 minute(s) excluded (minute data: ")


def test_a_provider_incident_and_a_late_maintenance_notice_count_against_the_provider(tmp_path):
    # One minute (16:00), asked once: incident.cause = provider with the notice published after its start.
    # Neither §5.7 (the provider named the cause) nor §5.12 (not announced in advance) applies.
    notices = [{"id": "N-late", "kind": "maintenance", "published_at": "2019-03-15T16:30",
                "start": "2019-03-15T16:00", "end": "2019-03-15T17:00"}]
    e = evaluate_outage(tmp_path, incidents=[incident("provider")], notices=notices, rows=outage_rows(count=1))
    assert (e["raw_unavailable_minutes"], e["unavailable_minutes"], e["excluded_minutes"]) == (1, 1, {})


def test_a_minute_is_excluded_when_any_of_its_questions_applies(tmp_path):
    # 16:00–16:59 is covered by a provider incident and a customer_network one: asked twice, §5.1 applies in
    # the second question. 17:00–20:59 only by the provider incident: counted. 240 counted, 60 excluded.
    incidents = [incident("provider"), incident("customer_network", end="2019-03-15T17:00", id="I-2")]
    e = evaluate_outage(tmp_path, incidents=incidents)
    assert (e["unavailable_minutes"], e["excluded_minutes"]) == (240, {"5.1": 60})
    assert exclusion_details(e)["§5.1"] == "60 minute(s) excluded (incident I-2)"


def test_notified_maintenance_under_a_provider_incident_is_excluded_under_5_12(tmp_path):
    # A maintenance notice published a day ahead covers 16:00–16:29: §5.12 applies with the provider incident as
    # the other half of the pair (the maintenance is the provider's own announced work). 30 excluded, 270 counted.
    notices = [{"id": "N-1", "kind": "maintenance", "published_at": "2019-03-14T09:00",
                "start": "2019-03-15T16:00", "end": "2019-03-15T16:30"}]
    e = evaluate_outage(tmp_path, incidents=[incident("provider")], notices=notices)
    assert (e["unavailable_minutes"], e["excluded_minutes"]) == (270, {"5.12": 30})
    assert exclusion_details(e)["§5.12"] == "30 minute(s) excluded (notice N-1)"


def _coverage_by_difference_array(first, last, grid_first, size):
    """Independent reference: how many windows cover each minute of the grid (prefix sums, no search)."""
    delta = np.zeros(size + 1, np.int64)
    np.add.at(delta, np.clip(first - grid_first, 0, size), 1)
    np.add.at(delta, np.clip(last - grid_first, 0, size), -1)
    return np.cumsum(delta)[:size]


@pytest.mark.slow  # 2–4 s: 50,000 window objects are built in Python
def test_fifty_thousand_incidents_are_matched_by_interval_search(policy):
    from slapolicy.calendar import calendar_month
    from slapolicy.inputs import Incident
    from slapolicy.evaluation import MonthMinutes, classify_minutes

    zone = ZoneInfo(policy.timezone)
    month = calendar_month("2019-03")
    first, last = month.epoch_minutes(policy.timezone)
    size = last - first
    rng = np.random.default_rng(10)
    # Every minute of March unavailable at 2 QPS (120 requests, 12 failures): §5.7 never applies.
    minute = np.arange(first, last, dtype=np.int64)
    rows = MonthMinutes(minute, np.full(size, 120), np.full(size, 12), np.zeros(size, np.int64),
                        np.full(size, np.nan), False)
    starts = rng.integers(first, last - 30, size=50_000)
    lengths = rng.integers(1, 30, size=50_000)
    customer = rng.random(50_000) < 0.02
    incidents = [Incident(f"I-{i}", dt.datetime.fromtimestamp(int(s) * 60, zone),
                          dt.datetime.fromtimestamp(int(s + n) * 60, zone),
                          "customer_network" if c else "provider", None)
                 for i, (s, n, c) in enumerate(zip(starts, lengths, customer))]
    # A dense minutes × windows matrix would be 44,640 × 50,000 booleans (2.2 GB): this ran out of memory.
    outcome = classify_minutes(policy, month, "a", rows, incidents=incidents)
    covered = _coverage_by_difference_array(starts[customer], (starts + lengths)[customer], first, size) > 0
    assert outcome.raw_unavailable == 44_640
    assert outcome.excluded_by == {"5.1": int(covered.sum())}
    assert outcome.counted == 44_640 - int(covered.sum())


def test_incidents_an_hour_apart_at_the_same_wall_clock_time_of_a_repeated_hour(tmp_path):
    """Python compares two datetimes of one zone by their wall clock, fold ignored: 01:00 EDT (fold 0) and 01:00 EST
    (fold 1) of 2019-11-03 in New York are "equal" and hash alike, though an hour apart. Each incident keeps its own
    minutes. The outage: 120 minutes from 13:00 Singapore time (05:00Z to 07:00Z), 10 QPS, no notice.
    I-1 01:00–01:30 EDT = 05:00Z–05:30Z, I-2 01:00–01:30 EST = 06:00Z–06:30Z: 30 + 30 minutes under §5.1 (the
    customer's network); the other 60 under §5.7. (Sharing I-1's minutes, I-2 would leave 5.1: 30, 5.7: 90.)"""
    new_york = ZoneInfo("America/New_York")
    first, second = (dt.datetime(2019, 11, 3, 1, 0, tzinfo=new_york, fold=f) for f in (0, 1))
    # (replace, not + timedelta: Python's arithmetic is on the wall clock too, and would give the end fold 0)
    incidents = [{"id": f"I-{i}", "start": start, "end": start.replace(minute=30), "cause": "customer_network"}
                 for i, start in enumerate((first, second), start=1)]
    assert first == second and second.timestamp() - first.timestamp() == 3600
    minutes = write_csv(tmp_path / "minutes.csv", outage_rows(start="2019-11-03T13:00", count=120),
                        fields=["account", "minute", "requests", "failures", "illegal_number_failures", "peak_qps"])
    (e,) = evaluate(POLICIES, minutes=minutes, month="2019-11", incidents=incidents)["evaluations"]
    assert (e["raw_unavailable_minutes"], e["unavailable_minutes"], e["excluded_minutes"]) == (120, 0, {"5.1": 60, "5.7": 60})


def test_an_incident_across_a_repeated_hour_is_judged_by_its_instants_not_its_wall_clock(tmp_path):
    """01:50 EDT to 01:10 EST of 2019-11-03 in New York (05:50Z to 06:10Z) lasts 20 minutes though its end reads
    earlier on the clock: it is taken, and excludes 20 of the outage's minutes under §5.1 (the other 100: §5.7).
    Its mirror, 01:10 EST to 01:50 EDT (06:10Z to 05:50Z), ends before it starts: refused, naming its end."""
    new_york = ZoneInfo("America/New_York")
    start, end = dt.datetime(2019, 11, 3, 1, 50, tzinfo=new_york), dt.datetime(2019, 11, 3, 1, 10, tzinfo=new_york, fold=1)
    minutes = write_csv(tmp_path / "minutes.csv", outage_rows(start="2019-11-03T13:00", count=120),
                        fields=["account", "minute", "requests", "failures", "illegal_number_failures", "peak_qps"])
    incident = {"id": "I-1", "start": start, "end": end, "cause": "customer_network"}
    (e,) = evaluate(POLICIES, minutes=minutes, month="2019-11", incidents=[incident])["evaluations"]
    assert (e["unavailable_minutes"], e["excluded_minutes"]) == (0, {"5.1": 20, "5.7": 100})
    mirror = {"id": "I-1", "start": end, "end": start, "cause": "customer_network"}
    with pytest.raises(InputError) as refused:
        evaluate(POLICIES, minutes=minutes, month="2019-11", incidents=[mirror])
    assert str(refused.value) == ("1 problem(s) in argument 'incidents':\nargument 'incidents': row 1, column 'end': "
                                  "end 2019-11-03 01:50:00-04:00 is not after start 2019-11-03 01:10:00-05:00")


def test_before_or_at_compares_as_python_does_within_a_zone_and_across_zones():
    """calendar.before_or_at, which the built-in window plugins ask for every account: across two tzinfo objects,
    the instants (remembered timestamps); within one, the wall clock, fold ignored, as Python compares them."""
    from zoneinfo import ZoneInfo

    from slapolicy.calendar import before_or_at, epoch_seconds

    singapore = ZoneInfo("Asia/Singapore")
    month_start = dt.datetime(2019, 3, 1, 0, 0, tzinfo=singapore)
    at = dt.datetime(2019, 2, 28, 16, 0, tzinfo=dt.timezone.utc)  # the same instant: 00:00 +08:00 is 16:00Z
    after = dt.datetime(2019, 2, 28, 16, 0, 0, 1, tzinfo=dt.timezone.utc)  # one microsecond later
    assert before_or_at(at, month_start) and before_or_at(month_start, at)
    assert not before_or_at(after, month_start) and before_or_at(month_start, after)
    assert epoch_seconds(at) == 1551369600.0 == epoch_seconds(at)  # 2019-02-28T16:00Z, asked twice
    # New York's repeated hour, 2019-11-03: 01:30 EST (fold 1, 06:30Z) is 50 minutes after 01:40 EDT (fold 0, 05:40Z) ...
    new_york = ZoneInfo("America/New_York")
    est, edt = dt.datetime(2019, 11, 3, 1, 30, tzinfo=new_york, fold=1), dt.datetime(2019, 11, 3, 1, 40, tzinfo=new_york)
    assert epoch_seconds(est) - epoch_seconds(edt) == 50 * 60
    # ... yet within one zone Python compares the wall clock (01:30 before 01:40), and so does before_or_at;
    assert (est <= edt) and before_or_at(est, edt) and not before_or_at(edt, est)
    # across zones it compares the instants: 01:40 EDT is 05:40Z, before 01:30 EST (06:30Z).
    edt_utc = edt.astimezone(dt.timezone.utc)
    assert before_or_at(edt_utc, est) and not before_or_at(est, edt_utc)
