"""What every evaluation says beside its numbers: a displayed availability that never contradicts the decision,
the exact value, that its amount is before §6.1, and a warning for a provider incident over minutes without data."""
import pytest

from conftest import POLICIES
from helpers import minute_rows, write_csv, write_yaml
from slapolicy.api import evaluate

FIELDS = ["account", "minute", "requests", "failures", "illegal_number_failures", "peak_qps"]


def one(tmp_path, rows, month, **kwargs):
    minutes = write_csv(tmp_path / "minutes.csv", rows, fields=FIELDS)
    (evaluation,) = evaluate(POLICIES, minutes=minutes, month=month, **kwargs)["evaluations"]
    return evaluation


def test_the_exact_value_and_the_shown_one(tmp_path):
    e = one(tmp_path, minute_rows("a", "2019-04-01T00:00", 217, 100, 2), "2019-04")
    # 1 − 217/43,200 = 42,983/43,200 = 99.497685…%: below the 99.5 % standard, shown with a third decimal.
    assert (e["availability_percent"], e["availability_exact"], e["meets_standard"]) == ("99.498", "42983/43200", False)
    step = next(s for s in e["trace"] if s["step"] == "availability")
    assert step["detail"] == "(1 − 217/43200) × 100% = 99.498% (exact 42983/43200 = 99.497685%)"


def test_the_cli_text_says_what_the_json_says(cli, tmp_path):
    minutes = write_csv(tmp_path / "minutes.csv", minute_rows("a", "2019-04-01T00:00", 217, 100, 2), fields=FIELDS)
    result = cli("evaluate", POLICIES, "--minutes", minutes, "--month", "2019-04", "--format", "text")
    assert result.code == 0
    lines = result.out.splitlines()
    assert "  availability 99.498%: standard NOT met; credit 10%" in lines
    assert ("  the compensation is before the §6.1 aggregate cap, which a claim applies against the compensation "
            "already granted (slapolicy claim)") in lines


def test_every_evaluation_says_its_amount_is_before_6_1(tmp_path):
    e = one(tmp_path, minute_rows("a", "2019-04-01T00:00", 1, 100, 2), "2019-04")
    assert e["before_aggregate_cap"] == ("the compensation is before the §6.1 aggregate cap, which a claim applies "
                                         "against the compensation already granted (slapolicy claim)")


def incident(cause, start="2019-03-12T10:00", end="2019-03-12T10:30"):
    return [{"id": "I-1", "start": start, "end": end, "cause": cause}]


def test_a_provider_incident_over_minutes_without_data_is_a_warning(tmp_path):
    # Data for 10:00–10:19 only (100 requests, 2 failed: unavailable); the incident covers 10:00–10:29.
    # 10 of its 30 minutes have no requests: available (§1.4), but someone should look.
    incidents = write_yaml(tmp_path / "incidents.yaml", incident("provider"))
    e = one(tmp_path, minute_rows("a", "2019-03-12T10:00", 20, 100, 2), "2019-03", incidents=incidents)
    message = ("provider incident I-1 covers 10 of its 30 minute(s) without normal requests in the data: they count "
               "as available (§1.4); check that monitoring did not lose them")
    assert e["warnings"] == [{"code": "provider_incident_without_data", "clause": "§1.4", "incident": "I-1",
                              "minutes": 10, "message": message}]
    assert {"step": "warning", "clause": "§1.4", "detail": message} in e["trace"]
    assert e["unavailable_minutes"] == 20


def test_the_window_is_rounded_outward_and_illegal_only_minutes_have_no_normal_requests(tmp_path):
    # 10:00:30–10:30:10 touches 10:00 … 10:30: 31 minutes. 10:00–10:19 have traffic, 10:20 only illegal-number
    # failures (no normal request): 31 − 20 = 11 minutes without normal requests.
    incidents = write_yaml(tmp_path / "incidents.yaml", incident("provider", "2019-03-12T10:00:30", "2019-03-12T10:30:10"))
    rows = list(minute_rows("a", "2019-03-12T10:00", 20, 100, 2)) + list(minute_rows("a", "2019-03-12T10:20", 1, 5, 5, 5))
    e = one(tmp_path, rows, "2019-03", incidents=incidents)
    assert [(w["incident"], w["minutes"]) for w in e["warnings"]] == [("I-1", 11)]


@pytest.mark.slow
@pytest.mark.parametrize("rounding,excluded", [("outward", 31), ("inward", 29)])
def test_the_warning_counts_every_minute_its_window_touches_whatever_the_exclusions_window_rounding(
        tmp_path, rounding, excluded):
    """docs/readings.md, §1.4: the warning's window is rounded outward under either exclusions.window_rounding, which
    says which minutes a window *excludes* (§5): a minute a provider incident touches may be one that failed and that
    monitoring lost. 10:00:30–10:30:10 touches 31 minutes (10:00 … 10:30) and covers 29 whole (10:01 … 10:29); data
    for 10:00–10:19 (unavailable): 11 touched minutes without normal requests under both roundings. The same window
    as a customer_network incident excludes the 31 or the 29 minutes (every minute 10:00–10:30 unavailable)."""
    from helpers import draft_variant

    version = draft_variant(tmp_path, "window_rounding:\n    value: outward", f"window_rounding:\n    value: {rounding}")
    window = ("2019-03-12T10:00:30", "2019-03-12T10:30:10")
    provider = write_yaml(tmp_path / "provider.yaml", incident("provider", *window))
    e = one(tmp_path, minute_rows("a", "2019-03-12T10:00", 20, 100, 2), "2019-03", incidents=provider,
            policy_file=version)
    assert [(w["incident"], w["minutes"], w["message"].split(" without")[0]) for w in e["warnings"]] == [
        ("I-1", 11, "provider incident I-1 covers 11 of its 31 minute(s)")]
    customer = write_yaml(tmp_path / "customer.yaml", incident("customer_network", *window))
    e = one(tmp_path, minute_rows("a", "2019-03-12T10:00", 31, 100, 2), "2019-03", incidents=customer,
            policy_file=version)
    assert (e["unavailable_minutes"], e["excluded_minutes"], e["warnings"]) == (31 - excluded, {"5.1": excluded}, [])


@pytest.mark.parametrize("cause,count", [("provider", 0), ("customer_network", 30)])
def test_no_warning_when_every_minute_has_data_or_the_cause_is_not_the_provider(tmp_path, cause, count):
    incidents = write_yaml(tmp_path / "incidents.yaml", incident(cause))
    rows = minute_rows("a", "2019-03-12T10:00", 30 - count, 100, 2)
    e = one(tmp_path, list(rows) or list(minute_rows("a", "2019-03-01T00:00", 1, 1, 0)), "2019-03", incidents=incidents)
    assert e["warnings"] == []


def test_replay_says_its_amounts_are_before_6_1(tmp_path):
    from conftest import DRAFT
    from slapolicy.replay import replay

    minutes = write_csv(tmp_path / "minutes.csv", minute_rows("a", "2019-03-12T10:00", 30, 100, 2), fields=FIELDS)
    result = replay(POLICIES, minutes=minutes, start="2019-03", end="2019-03", under=DRAFT)
    assert result["before_aggregate_cap"] == ("every compensation here is before the §6.1 aggregate cap, which only "
                                              "a claim applies against the compensation already granted (slapolicy claim)")
