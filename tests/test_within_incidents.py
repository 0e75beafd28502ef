"""The rows the minutes path keeps for the §1.4 warning (a provider incident over minutes without normal
requests): an account's rows inside the provider incidents of every account and inside its own, never inside
another account's (500 accounts' own incidents together cover nearly the whole month: keeping every account's
rows inside any of them kept almost every row)."""
import datetime as dt
import json
import random

import pytest

from conftest import POLICIES, PUBLISHED
from test_scan import SGT, minutes, write_parquet

MONTH = "2019-03"
# a has data 10:00–10:29 on 2019-03-12, b 10:00–10:59 (100 requests, no failure: nothing is unavailable; a's
# 10:27 has 5 requests, all failed illegal-number calls, removed by §5.10: no normal request, still available).
# P-all (every account) 10:20–10:40, P-a (a's) 10:25–10:45, P-b (b's) 10:50–11:10, C-b (b's, not the provider).
INCIDENTS = [
    {"id": "P-all", "start": "2019-03-12T10:20", "end": "2019-03-12T10:40", "cause": "provider"},
    {"id": "P-a", "start": "2019-03-12T10:25", "end": "2019-03-12T10:45", "cause": "provider", "account": "a"},
    {"id": "P-b", "start": "2019-03-12T10:50", "end": "2019-03-12T11:10", "cause": "provider", "account": "b"},
    {"id": "C-b", "start": "2019-03-12T10:00", "end": "2019-03-12T10:30", "cause": "customer_network", "account": "b"},
]
TEN = int(dt.datetime(2019, 3, 12, 10, 0, tzinfo=SGT).timestamp()) // 60  # 10:00 in epoch minutes


def rows_of(order):
    rows = minutes("a", "2019-03-12T10:00", 30) + minutes("b", "2019-03-12T10:00", 60)
    rows[27].update(requests=5, failures=5, illegal_number_failures=5)  # a at 10:27: no normal request (§5.10)
    if order == "time":
        rows.sort(key=lambda r: (r["minute"], r["account"]))
    elif order == "none":
        random.Random(3).shuffle(rows)
    return rows


def sources(tmp_path):
    """The same 90 rows by account, by time and in no order, as Parquet row groups and batches of 7 rows (cut
    inside an account's run and inside a minute), and as CSV."""
    out = {order: write_parquet(tmp_path / f"{order}.parquet", rows_of(order), row_group_size=7)
           for order in ("account", "time", "none")}
    csv = tmp_path / "m.csv"
    csv.write_text("account,minute,requests,failures,illegal_number_failures\n" + "".join(
        f"{r['account']},{r['minute']},{r['requests']},{r['failures']},{r.get('illegal_number_failures', 0)}\n"
        for r in rows_of("time")))
    out["csv"] = csv
    return out


@pytest.fixture
def small_batches(monkeypatch):
    import slapolicy.minutes.readers as readers

    monkeypatch.setattr(readers, "BATCH_ROWS", 7)


def incidents_file(tmp_path):
    path = tmp_path / "incidents.json"
    path.write_text(json.dumps(INCIDENTS))
    return path


def test_the_request_keeps_each_account_s_incidents_apart_and_a_claim_only_its_own(tmp_path):
    from slapolicy.calendar import calendar_month
    from slapolicy.inputs import read_incidents
    from slapolicy.minutes import request_for
    from slapolicy.policy import load_policy

    policy = load_policy(PUBLISHED)
    incidents = read_incidents(incidents_file(tmp_path), policy)
    month = [calendar_month(MONTH)]
    request = request_for(month, policy.timezone, [policy], incidents=incidents)
    assert request.within == ((TEN + 20, TEN + 40),)  # P-all only; C-b is not the provider's
    assert request.own_within == (("a", ((TEN + 25, TEN + 45),)), ("b", ((TEN + 50, TEN + 70),)))
    claim = request_for(month, policy.timezone, [policy], accounts=["b"], incidents=incidents)
    assert (claim.within, claim.own_within) == (((TEN + 20, TEN + 40),), (("b", ((TEN + 50, TEN + 70),)),))


def read(tmp_path, layout, months):
    from slapolicy.inputs import read_incidents
    from slapolicy.minutes import read_minutes
    from slapolicy.policy import load_policy
    from slapolicy.replay import month_range

    policy = load_policy(PUBLISHED)
    incidents = read_incidents(incidents_file(tmp_path), policy)
    return read_minutes(sources(tmp_path)[layout], month_range(*months), [policy], incidents=incidents)


@pytest.mark.parametrize("layout", ["account", "time", "none", "csv"])
def test_one_month_counts_the_minutes_with_requests_inside_each_incident_of_the_account(tmp_path, small_batches,
                                                                                       layout):
    result = read(tmp_path, layout, (MONTH, MONTH))
    a, b = result.cells[("a", MONTH)].rows, result.cells[("b", MONTH)].rows
    assert (len(a.minute), len(b.minute), result.within_incidents) == (0, 0, False)  # no row kept for them
    # a: P-all 10:20–10:39 holds its rows 10:20–10:29 (10 with requests; 10:27's 5 requests are all illegal-number
    # failures: 9 with normal requests); P-a 10:25–10:44 holds 10:25–10:29 (5; 4). P-b is b's: never a's.
    assert a.incident_traffic == {(TEN + 20, TEN + 40): (10, 9), (TEN + 25, TEN + 45): (5, 4)}
    # b: P-all 10:20–10:39 (20 rows) and its own P-b 10:50–11:09 (10:50–10:59: 10); a's P-a is not counted for b.
    assert b.incident_traffic == {(TEN + 20, TEN + 40): (20, 20), (TEN + 50, TEN + 70): (10, 10)}


@pytest.mark.parametrize("layout", ["account", "time", "none", "csv"])
def test_several_months_keep_an_account_s_rows_inside_its_incidents_only(tmp_path, small_batches, layout):
    result = read(tmp_path, layout, (MONTH, "2019-04"))  # replay's reading: the rows are kept, not counted
    a, b = result.cells[("a", MONTH)].rows, result.cells[("b", MONTH)].rows
    assert (a.incident_traffic, b.incident_traffic, result.within_incidents) == (None, None, True)
    # a: inside P-all or P-a (10:20–10:44) it has data 10:20–10:29: 10 rows; P-b is b's, and a has none then.
    assert a.minute.tolist() == list(range(TEN + 20, TEN + 30))
    # b: inside P-all 10:20–10:39 (20 rows) and P-b 10:50–10:59 (10 rows) = 30; never inside a's P-a, which
    # would add 10:40–10:44 (35 rows, as before incidents were scoped to their account).
    assert b.minute.tolist() == list(range(TEN + 20, TEN + 40)) + list(range(TEN + 50, TEN + 60))


@pytest.mark.parametrize("layout", ["account", "time", "none", "csv"])
def test_the_warnings_count_the_minutes_without_data_of_every_account_s_and_its_own_incidents(
        tmp_path, small_batches, layout):
    from slapolicy.api import evaluate

    result = evaluate(POLICIES, minutes=sources(tmp_path)[layout], month=MONTH, incidents=incidents_file(tmp_path))
    warnings = {e["account"]: [(w["incident"], w["minutes"]) for w in e["warnings"]] for e in result["evaluations"]}
    # a: P-all 10:20–10:39 has normal requests 10:20–10:29 but 10:27 (11 of 20 without); P-a 10:25–10:44 has
    # 10:25–10:29 but 10:27 (16 of 20). b: P-all fully covered (no warning); P-b 10:50–11:09 has 10:50–10:59
    # (10 of 20 without); C-b is not the provider's.
    assert warnings == {"a": [("P-all", 11), ("P-a", 16)], "b": [("P-b", 10)]}


@pytest.mark.parametrize("layout", ["account", "time", "none", "csv"])
def test_an_account_s_own_incident_over_the_window_of_every_account_s_is_counted_once(tmp_path, small_batches, layout):
    # An incident of every account and one of a's own over the same minutes, 10:20-10:40: the batch counted a's rows
    # in that window once for each, and the sums made them twice the minutes with requests. Found by the oracle
    # (18 such incidents over one minute with data: "covers -1 of its 1 minute(s) without normal requests"); here
    # P-all's 20 minutes hold 10 rows of a, 10:27's without normal requests: 11 without, not 20 - 2 × 9 = 2.
    from slapolicy.api import evaluate

    incidents = tmp_path / "incidents.json"
    incidents.write_text(json.dumps([INCIDENTS[0], {**INCIDENTS[0], "id": "P-a-too", "account": "a"}]))
    result = evaluate(POLICIES, minutes=sources(tmp_path)[layout], month=MONTH, incidents=incidents)
    warnings = {e["account"]: [(w["incident"], w["minutes"]) for w in e["warnings"]] for e in result["evaluations"]}
    assert warnings == {"a": [("P-all", 11), ("P-a-too", 11)], "b": []}
