"""Embedding: one Engine shared by threads, reloads, plugins from entry points, the audit."""
import datetime as dt
import json
import shutil
import sys
import threading
import time

import pytest

from conftest import POLICIES, PUBLISHED, REPO
from helpers import minute_rows, with_carrier_clause, write_csv, write_yaml
from slapolicy import Engine
from slapolicy.rules import session_stats

UTC = dt.timezone.utc


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Ten accounts with bad minutes in 2024-03 (acct-0..3 meet the standard, acct-4..9 are owed 10 %), bills."""
    folder = tmp_path_factory.mktemp("load")
    rows, bills = [], []
    for a in range(10):
        rows += minute_rows(f"acct-{a}", "2024-03-05T10:00", 50 * (a + 1), 100, 2 + a % 3)
        rows += minute_rows(f"acct-{a}", "2024-03-20T12:00", 15, 100, 50)
        bills.append({"account": f"acct-{a}", "month": "2024-03", "monthly_fee": f"{100 + a}.00", "offset": "0.00"})
    notices = [{"id": "N-1", "kind": "maintenance", "published_at": "2024-03-01T00:00",
                "start": "2024-03-20T12:00", "end": "2024-03-20T12:10"}]
    return {"minutes": write_csv(folder / "minutes.csv", rows), "billing": write_csv(folder / "billing.csv", bills),
            "notices": write_yaml(folder / "notices.yaml", notices), "folder": folder}


def claim_of(account):
    return {"account": account, "service_month": "2024-03", "filed_at": "2024-04-10T10:00+08:00",
            "channel": "work_order", "event_report": "Calls failed.", "failure_records": ["c"],
            "unavailability": [{"start": "2024-03-05T10:00+08:00", "end": "2024-03-05T11:00+08:00"}]}


def work(engine, data, i, ledger):
    """Operation i: an evaluation of one account, or a claim decision (repeated claims are idempotent)."""
    account = f"acct-{i % 10}"
    if i % 2:
        result = engine.evaluate(minutes=data["minutes"], month="2024-03", notices=data["notices"],
                                 billing=data["billing"], accounts=[account])
    else:
        result = engine.decide_claim(claim_of(account), minutes=data["minutes"], notices=data["notices"],
                                     billing=data["billing"], ledger=ledger, now=dt.datetime(2024, 5, 1, tzinfo=UTC))
        result = {k: v for k, v in result.items() if k != "repeated"}
    return json.dumps(result, sort_keys=True)


def on_threads(count: int, body) -> list:
    """Run ``body(t)`` on ``count`` threads at once; the repr of what each raised (none: [])."""
    failures = []

    def guarded(t):
        try:
            body(t)
        except Exception as exc:  # noqa: BLE001 -- any exception of a thread is a failure the test reports
            failures.append(repr(exc))

    threads = [threading.Thread(target=guarded, args=(t,)) for t in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return failures


@pytest.mark.slow
@pytest.mark.load
def test_16_threads_x_500_operations_match_sequential_work(data, tmp_path):
    engine = Engine(POLICIES)
    operations = 500
    sequential_ledger = tmp_path / "sequential.sqlite"
    expected = {i: work(engine, data, i, sequential_ledger) for i in range(20)}  # every distinct operation
    before = session_stats()
    shared_ledger = tmp_path / "shared.sqlite"
    failures, mismatches = [], []

    def thread(t):
        for n in range(operations):
            i = (t * operations + n) % 20
            if work(engine, data, i, shared_ledger) != expected[i]:
                mismatches.append(i)

    failures.extend(on_threads(16, thread))
    assert failures == [] and mismatches == []
    after = session_stats()
    assert after["facts_held"] == 0 and before["facts_held"] == 0
    assert after["sessions"] == before["sessions"] <= after["rulesets"]
    from slapolicy.ledger import Ledger

    with Ledger(shared_ledger) as ledger:
        # claims are operations 0, 2, …, 18: accounts 0, 2, 4, 6, 8, of which 4, 6 and 8 are owed
        assert ledger.counts() == (5, 3)
    assert [json.loads(expected[i])["decision"] for i in range(0, 10, 2)] == ["denied", "denied", "approved", "approved",
                                                                             "approved"]


EXAMPLES = REPO / "examples" / "ccc"
DRAFT_99_95 = POLICIES / "drafts" / "2027-01-01-standard-99.95.yaml"


def mixed_operations(engine, ledger):
    """Every kind of call a service makes, on the shipped examples: evaluations (all accounts, one, under a draft,
    from rows in memory), claims of two accounts, a replay."""
    files = {name: EXAMPLES / f"{name}.{ext}" for name, ext in
             (("minutes", "csv"), ("incidents", "yaml"), ("notices", "yaml"), ("billing", "csv"))}
    claim = json.loads((EXAMPLES / "claim-globex-2019-03.json").read_text())
    now = dt.datetime(2019, 4, 10, 12, tzinfo=UTC)

    def decided(account):
        decision = engine.decide_claim(dict(claim, account=account), now=now, ledger=ledger, **files)
        return {key: value for key, value in decision.items() if key != "repeated"}

    rows = [{"account": "a", "minute": f"2019-03-12T10:{m:02d}", "requests": 100, "failures": 2} for m in range(30)]
    return {
        "evaluate": lambda: engine.evaluate(month="2019-03", **files),
        "one account": lambda: engine.evaluate(month="2019-03", accounts=["initech"], **files),
        "under a draft": lambda: engine.evaluate(month="2019-03", policy_file=DRAFT_99_95, **files),
        "in memory": lambda: engine.evaluate(month="2019-03", minutes=rows, billing=[
            {"account": "a", "month": "2019-03", "monthly_fee": "1000.00", "offset": "0.00"}]),
        "claim globex": lambda: decided("globex"),
        "claim initech": lambda: decided("initech"),
        "replay": lambda: engine.replay(start="2019-03", end="2019-03", under=DRAFT_99_95, **files),
    }


@pytest.mark.slow
def test_evaluations_claims_and_replays_on_threads_of_one_engine_answer_as_one_after_another(tmp_path):
    engine = Engine(POLICIES)
    alone = {name: json.dumps(call(), sort_keys=True)
             for name, call in mixed_operations(engine, tmp_path / "alone.sqlite").items()}
    # globex 180.00 (10 % of 1800.00), initech 400.00 (50 % of 1000.00, capped at the 400.00 paid), replay +250.00
    assert [json.loads(alone[name])["compensation"] for name in ("claim globex", "claim initech")] == ["180.00", "400.00"]
    assert json.loads(alone["replay"])["totals"]["overall"]["delta"] == "250.00"
    calls = mixed_operations(engine, tmp_path / "shared.sqlite")
    names = sorted(calls)
    differ, failures = [], []

    def thread(t):
        for n in range(14):  # each kind twice per thread, in an order shifted by thread
            name = names[(t + n) % len(names)]
            if json.dumps(calls[name](), sort_keys=True) != alone[name]:
                differ.append(name)

    failures.extend(on_threads(8, thread))
    assert (failures, differ) == ([], [])
    from slapolicy.ledger import Ledger

    with Ledger(tmp_path / "shared.sqlite", create=False, readonly=True) as ledger:
        assert ledger.counts() == (2, 2)  # each claim decided once, 16 times asked; each granted once
        assert ledger.verify()["intact"] is True


@pytest.mark.slow
def test_reload_while_requests_run_serves_each_from_one_snapshot(data, tmp_path):
    family = tmp_path / "ccc"
    family.mkdir()
    shutil.copy(PUBLISHED, family / "2019-01-01.yaml")
    shutil.copy(POLICIES / "versions.lock", family / "versions.lock")
    engine = Engine(family)
    results, errors, stop = [], [], threading.Event()

    def evaluate():
        try:
            while not stop.is_set():
                results.append(engine.evaluate(minutes=data["minutes"], month="2024-03",
                                               accounts=["acct-9"])["evaluations"][0])
        except Exception as exc:  # noqa: BLE001
            errors.append(repr(exc))

    # The new version's standard, and its own examples of the standard and of the gate with it (lock runs them).
    amended = PUBLISHED.read_text().replace('effective_from: "2019-01-01"', 'effective_from: "2024-01-01"\namends: "2019-01-01"').replace(
        'version: "2019-01-01"', 'version: "2024-01-01"').replace('value: "99.5%"\n    met_when', 'value: "99.999%"\n    met_when')
    for before, after in (('{availability: "99.5%", meets: true}', '{availability: "99.999%", meets: true}'),
                          ('{availability: "99.49%", meets: false}', '{availability: "99.998%", meets: false}'),
                          ('{availability: "99.7%", credit: "0%"}', '{availability: "100%", credit: "0%"}')):
        assert before in amended, before
        amended = amended.replace(before, after, 1)
    from slapolicy.cli import main

    threads = [threading.Thread(target=evaluate) for _ in range(4)]
    for t in threads:
        t.start()
    try:  # the threads are stopped whatever fails here: left running, they would evaluate under later tests
        (family / "2024-01-01.yaml").write_text(amended)
        assert main(["lock", "--retroactive", str(family)]) == 0
        engine.reload()
        deadline = time.monotonic() + 60
        while not any(r["policy"]["version"] == "2024-01-01" for r in results[-4:]) and not errors \
                and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert errors == []
    versions = {r["policy"]["version"] for r in results}
    assert versions == {"2019-01-01", "2024-01-01"}
    for r in results:  # the standard applied is the one of the version reported
        standard = next(s["detail"] for s in r["trace"] if s["step"] == "standard")
        assert ("99.999%" in standard) == (r["policy"]["version"] == "2024-01-01")


def test_a_broken_reload_keeps_the_current_snapshot(tmp_path):
    family = tmp_path / "ccc"
    family.mkdir()
    shutil.copy(PUBLISHED, family / "2019-01-01.yaml")
    shutil.copy(POLICIES / "versions.lock", family / "versions.lock")
    engine = Engine(family)
    (family / "2019-01-01.yaml").write_text(PUBLISHED.read_text().replace('credit: "50%"', 'credit: "55%"'))
    from slapolicy import PolicyError

    with pytest.raises(PolicyError, match="published-changed"):
        engine.reload()
    assert engine.in_force("2019-03")["sha256"] == json.loads((POLICIES / "versions.lock").read_text())["2019-01-01.yaml"]


def test_a_misspelt_hook_fails_at_start():
    from slapolicy.errors import PluginError
    from slapolicy.hookspecs import hookimpl
    from slapolicy.plugins import make_manager

    class Typo:
        @hookimpl
        def slapolicy_windw_facts(self, policy, context):
            return []

    with pytest.raises(PluginError, match="^plugin 'Typo' implements slapolicy_windw_facts, which is not a slapolicy "
                                          "hook; did you mean slapolicy_window_facts\\?$"):
        make_manager(load_entrypoints=False, extra=[Typo()])


PLUGIN = '''
import datetime as dt
from slapolicy.hookspecs import FactWindow, hookimpl

@hookimpl
def slapolicy_window_facts(policy, context):
    """A planned carrier window every Sunday 03:00-04:00 local time."""
    day = context.month_start
    while day < context.month_end:
        if day.weekday() == 6:
            start = day.replace(hour=3, minute=0)
            yield FactWindow("carrier", f"carrier-{start:%m%d}", start, start + dt.timedelta(hours=1), None,
                             {"carrier.planned_window": True})
        day += dt.timedelta(days=1)


@hookimpl
def slapolicy_supplied_facts():
    return ["carrier.planned_window"]
'''


def test_a_third_party_plugin_from_an_entry_point_adds_a_fact_that_excludes_minutes(tmp_path, monkeypatch):
    site = tmp_path / "site"
    (site / "carrier_plugin-1.0.dist-info").mkdir(parents=True)
    (site / "carrier_plugin.py").write_text(PLUGIN)
    (site / "carrier_plugin-1.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: carrier-plugin\nVersion: 1.0\n")
    (site / "carrier_plugin-1.0.dist-info" / "entry_points.txt").write_text("[slapolicy]\ncarrier = carrier_plugin\n")
    monkeypatch.syspath_prepend(str(site))
    text = with_carrier_clause(PUBLISHED.read_text().replace("status: published", "status: draft"))
    draft = tmp_path / "drafts" / "carrier.yaml"
    draft.parent.mkdir()
    draft.write_text(text)
    minutes = write_csv(tmp_path / "m.csv", list(minute_rows("a", "2024-03-03T02:50", 30, 100, 50)))  # Sunday
    from slapolicy.api import evaluate
    from slapolicy.plugins import make_manager

    manager = make_manager()
    assert "carrier" in dict(manager.list_name_plugin())
    (e,) = evaluate(POLICIES, minutes=minutes, month="2024-03", policy_file=draft, manager=manager)["evaluations"]
    assert e["excluded_minutes"] == {"5.19": 20}  # 03:00-03:19 of the 30 bad minutes from 02:50
    assert {"step": "exclusion", "clause": "§5.13", "detail": "20 minute(s) excluded (carrier carrier-0303)"} in e["trace"]
    sys.modules.pop("carrier_plugin", None)


# ---------------------------------------------------------------------------- audit

@pytest.mark.slow
def test_audit_finds_nothing_when_nothing_changed_and_reports_an_edited_policy(data, tmp_path, cli):
    family = tmp_path / "ccc"
    family.mkdir()
    shutil.copy(PUBLISHED, family / "2019-01-01.yaml")
    shutil.copy(POLICIES / "versions.lock", family / "versions.lock")
    ledger = tmp_path / "ledger.sqlite"
    engine = Engine(family, ledger=ledger)
    for a in (7, 8, 9):
        engine.decide_claim(claim_of(f"acct-{a}"), minutes=data["minutes"], notices=data["notices"],
                            billing=data["billing"], now=dt.datetime(2024, 5, 1, tzinfo=UTC))
    result = cli("audit", ledger)
    assert result.code == 0, result.out + result.err
    assert result.out.splitlines()[-1] == "3 decision(s) checked: 3 same, 0 differ, 0 unverifiable"
    # A published file edited after the fact: the tiers pay more now.
    (family / "2019-01-01.yaml").write_text(PUBLISHED.read_text().replace('credit: "10%"', 'credit: "12%"'))
    (family / "versions.lock").write_text(json.dumps({"2019-01-01.yaml": __import__("hashlib").sha256(
        (family / "2019-01-01.yaml").read_bytes()).hexdigest()}))
    result = cli("audit", ledger)
    assert result.code == 1
    assert "policy_sha256: recorded" in result.out
    assert "    compensation: recorded 10.70, now 12.84" in result.out  # acct-7: 10 % → 12 % of 107.00
    assert result.out.splitlines()[-1] == "3 decision(s) checked: 0 same, 3 differ, 0 unverifiable"


def test_audit_reports_changed_inputs(data, tmp_path, cli):
    minutes = tmp_path / "m.csv"
    shutil.copy(data["minutes"], minutes)
    ledger = tmp_path / "ledger.sqlite"
    Engine(POLICIES, ledger=ledger).decide_claim(claim_of("acct-4"), minutes=minutes, billing=data["billing"],
                                                 now=dt.datetime(2024, 5, 1, tzinfo=UTC))
    minutes.write_text(minutes.read_text().replace(",100,3", ",100,1"))  # the records were rewritten
    result = cli("audit", ledger)
    assert result.code == 1
    assert "changed since the decision" in result.out
    assert "    decision: recorded approved, now denied" in result.out  # acct-4's records now meet the standard


def test_audit_of_a_missing_ledger(cli, tmp_path):
    result = cli("audit", tmp_path / "none.sqlite")
    assert result.code == 1
    assert "no such ledger" in result.err


def test_services_can_hand_in_data_instead_of_files(data, tmp_path):
    import pyarrow.csv as pacsv

    engine = Engine(POLICIES, ledger=tmp_path / "ledger.sqlite")
    from_files = engine.evaluate(minutes=data["minutes"], month="2024-03", notices=data["notices"], billing=data["billing"])
    table = pacsv.read_csv(data["minutes"])  # minute typed as a naive timestamp: read in the policy's timezone
    bills = [{"account": f"acct-{a}", "month": "2024-03", "monthly_fee": f"{100 + a}.00", "offset": "0.00"} for a in range(10)]
    notices = [{"id": "N-1", "kind": "maintenance", "published_at": "2024-03-01T00:00",
                "start": "2024-03-20T12:00", "end": "2024-03-20T12:10"}]
    from_memory = engine.evaluate(minutes=table, month="2024-03", notices=notices, billing=bills)
    strip = lambda result: [{k: v for k, v in e.items() if k != "trace"} for e in result["evaluations"]]  # noqa: E731
    assert strip(from_memory) == strip(from_files)
    rows = [{"account": "acct-1", "minute": "2024-03-05T10:00", "requests": 100, "failures": 120}]
    with pytest.raises(Exception, match=r"argument 'minutes': row 1, column 'failures': 120 failures exceed 100 requests"):
        engine.evaluate(minutes=rows, month="2024-03")
    decision = engine.decide_claim(claim_of("acct-9"), minutes=table, billing=bills, now=dt.datetime(2024, 5, 1, tzinfo=UTC))
    assert decision["decision"] == "approved"
    from slapolicy.claims.audit import audit_ledger

    (entry,) = audit_ledger(tmp_path / "ledger.sqlite")["decisions"]
    assert entry["status"] == "unverifiable"
    assert "input minutes was handed in memory, not as a file: it cannot be read again" in entry["notes"]
