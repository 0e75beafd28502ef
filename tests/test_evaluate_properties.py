"""Invariants of the month evaluation, over random months (hypothesis)."""
import datetime as dt
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slapolicy.calendar import calendar_month
from slapolicy.inputs import BillingRow, Incident
from slapolicy.evaluation import MonthMinutes, evaluate_account_month

APRIL = calendar_month("2019-04")
SGT = dt.timezone(dt.timedelta(hours=8))
FIRST = APRIL.epoch_minutes("Asia/Singapore")[0]

minute_stats = st.lists(st.tuples(st.integers(0, 3000), st.integers(0, 400), st.integers(0, 100)),
                        min_size=1, max_size=60, unique_by=lambda t: t[0])
incidents = st.lists(st.tuples(st.integers(0, 3000), st.integers(1, 300),
                               st.sampled_from(["provider", "customer_network", "force_majeure", "not_provider"])),
                     max_size=4)
fees = st.tuples(st.decimals(0, 10000, places=2), st.decimals(0, 1, places=2))


def rows_of(stats):
    stats = sorted(stats)
    minute = np.array([FIRST + m for m, _, _ in stats], np.int64)
    requests = np.array([r for _, r, _ in stats], np.int64)
    failures = np.minimum(np.array([f for _, _, f in stats], np.int64), requests)
    return MonthMinutes(minute, requests, failures, np.zeros(len(stats), np.int64), np.full(len(stats), np.nan), False)


def incidents_of(spec):
    start = dt.datetime(2019, 4, 1, tzinfo=SGT)
    return [Incident(f"I-{i}", start + dt.timedelta(minutes=s), start + dt.timedelta(minutes=s + n), cause, None)
            for i, (s, n, cause) in enumerate(spec)]


def evaluate(policy, rows, spec=(), billing=None):
    return evaluate_account_month(policy, APRIL, "a", rows, incidents=incidents_of(spec), billing=billing).result


CHECK = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@CHECK
@given(minute_stats, incidents, st.data())
@pytest.mark.slow
def test_availability_never_rises_when_a_minute_gets_worse(policy, stats, spec, data):
    rows = rows_of(stats)
    before = evaluate(policy, rows, spec)
    i = data.draw(st.integers(0, len(stats) - 1))
    worse = MonthMinutes(rows.minute, rows.requests.copy(), rows.failures.copy(), rows.illegal, rows.peak_qps, False)
    worse.requests[i] = max(worse.requests[i], 1)
    worse.failures[i] = min(worse.failures[i] + data.draw(st.integers(1, 50)), worse.requests[i])
    after = evaluate(policy, worse, spec)
    assert Decimal(after["availability_percent"]) <= Decimal(before["availability_percent"])
    assert after["unavailable_minutes"] >= before["unavailable_minutes"]
    assert after["credit_percent"] >= before["credit_percent"]


@pytest.mark.slow
@CHECK
@given(minute_stats, incidents)
def test_excluded_plus_counted_is_raw_unavailable(policy, stats, spec):
    e = evaluate(policy, rows_of(stats), spec)
    assert sum(e["excluded_minutes"].values()) + e["unavailable_minutes"] == e["raw_unavailable_minutes"]


@CHECK
@given(st.integers(0, 43200), fees)
def test_compensation_never_exceeds_the_fee_paid(draft, unavailable, fee_and_share):
    fee, share = fee_and_share
    offset = (fee * share).quantize(Decimal("0.01"))
    rows = MonthMinutes(np.arange(FIRST, FIRST + unavailable, dtype=np.int64), np.full(unavailable, 100, np.int64),
                        np.full(unavailable, 2, np.int64), np.zeros(unavailable, np.int64), np.full(unavailable, np.nan), False)
    e = evaluate(draft, rows, billing=BillingRow("a", "2019-04", fee, offset))
    assert Decimal(e["compensation"]) <= fee - offset
    assert Decimal(e["compensation"]) <= fee * Decimal(e["credit_percent"]) / 100 + Decimal("0.005")


illegal_counts = st.lists(st.integers(0, 3), min_size=1, max_size=60)


@pytest.mark.slow
@CHECK
@given(st.lists(st.tuples(minute_stats, illegal_counts, st.booleans()), min_size=1, max_size=6), incidents)
def test_accounts_evaluated_together_get_what_each_gets_alone(policy, monkeypatch, accounts, spec):
    """evaluate_items finds the unavailable rows of many accounts at once (classify.unavailable_rows): blocks of
    at most BLOCK rows, accounts of at most FEW rows, none with illegal-number failures. Made small here, so
    that blocks split and some accounts are read alone; every result is the one the account gets by itself."""
    from slapolicy.evaluation import classify
    from slapolicy.evaluation.month import evaluate_items
    from slapolicy.inputs import ByAccount
    from slapolicy.minutes.shapes import MonthTotals

    monkeypatch.setattr(classify, "FEW", 20)
    monkeypatch.setattr(classify, "BLOCK", 45)
    items = []
    for k, (stats, illegal, with_illegal) in enumerate(accounts):
        rows = rows_of(stats)
        if with_illegal:  # illegal-number failures (§5.10), no more than the failures of their minute
            counts = np.resize(np.array(illegal, np.int64), len(rows.minute))
            rows = MonthMinutes(rows.minute, rows.requests, rows.failures, np.minimum(counts, rows.failures),
                                rows.peak_qps, False)
        items.append((f"acct-{k}", rows, MonthTotals.of(rows), None, 0))
    windows = incidents_of(spec)
    together = evaluate_items(policy, APRIL, items, incidents=ByAccount(windows), notices=ByAccount([]))
    alone = [evaluate_account_month(policy, APRIL, account, rows, incidents=windows, totals=totals).result
             for account, rows, totals, _, _ in items]
    assert together == alone
