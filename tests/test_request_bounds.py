"""Requests refused before any work starts because of their size: more local worker processes than the machine
runs (``--workers``, ``workers=``), a replay over more than 100 years (or backwards). Each is refused with its bound
and why, as a usage error (exit 2) from the command line and an ``ArgumentError`` from the API; nothing is
written. Within the bounds, a replay's cost follows its data, not its months."""
import json

import pytest

from conftest import POLICIES, PUBLISHED, run_cli

MINUTES = "account,minute,requests,failures\na,2019-03-12T10:00,100,2\n"
CLAIM = {"account": "a", "service_month": "2019-03", "filed_at": "2019-04-10T10:00+08:00", "channel": "work_order",
         "event_report": "x", "unavailability": [{"start": "2019-03-12T10:00+08:00", "end": "2019-03-12T11:00+08:00"}],
         "failure_records": ["c"]}
# On two cores (the bound is 4 per core): 8 processes are allowed, 9 are not.
BEYOND = ("9 is above 8, the most this machine runs (4 per core, 2 cores): each worker is a process that loads the "
          "engine, and more only wait for a core; --dask spreads the work over more machines")


@pytest.fixture
def two_cores(monkeypatch):
    from slapolicy import distributed

    monkeypatch.setattr(distributed, "usable_cores", lambda: 2)


@pytest.fixture
def inputs(tmp_path):
    minutes, claim = tmp_path / "m.csv", tmp_path / "claim.json"
    minutes.write_text(MINUTES)
    claim.write_text(json.dumps(CLAIM))
    return {"{minutes}": minutes, "{claim}": claim, "{ledger}": tmp_path / "ledger.sqlite"}


@pytest.mark.parametrize("args", [
    ["evaluate", POLICIES, "--minutes", "{minutes}", "--month", "2019-03"],
    ["claim", POLICIES, "{claim}", "--minutes", "{minutes}", "--ledger", "{ledger}", "--now", "2019-04-20T10:00+08:00"],
    ["replay", POLICIES, "--minutes", "{minutes}", "--from", "2019-03", "--to", "2019-03", "--under", PUBLISHED],
    ["serve", POLICIES, "--ledger", "{ledger}", "--port", "0"],
])
@pytest.mark.parametrize("count", ["9", "100000"])
def test_more_worker_processes_than_the_machine_runs_is_a_usage_error(two_cores, inputs, tmp_path, args, count):
    # --workers 100000 started processes until the machine ran out of memory.
    result = run_cli(*[inputs.get(str(a), a) for a in args], "--workers", count)
    assert (result.code, result.out) == (2, "")
    assert result.err.splitlines()[-1] == \
        f"slapolicy {args[0]}: error: argument --workers: {BEYOND.replace('9 is', f'{count} is', 1)}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["claim.json", "m.csv"]  # no ledger


def test_the_bound_of_worker_processes_is_4_per_core(two_cores):
    from slapolicy.cli.data_commands import _workers
    from slapolicy.distributed import too_many_workers

    assert (_workers("8"), too_many_workers(8), too_many_workers(9)) == (8, None, BEYOND)


@pytest.mark.parametrize("call", [
    lambda engine, minutes: engine.evaluate(minutes=minutes, month="2019-03", workers=9),
    lambda engine, minutes: engine.replay(minutes=minutes, start="2019-03", end="2019-03", under=PUBLISHED, workers=9),
    lambda engine, minutes: engine.decide_claim(CLAIM, minutes=minutes, workers=9),
    lambda engine, minutes: __import__("slapolicy").Engine(POLICIES, workers=9),
])
def test_the_api_refuses_more_worker_processes_than_the_machine_runs(two_cores, tmp_path, call):
    from slapolicy import Engine
    from slapolicy.errors import ArgumentError

    minutes, ledger = tmp_path / "m.csv", tmp_path / "ledger.sqlite"
    minutes.write_text(MINUTES)
    engine = Engine(POLICIES, ledger=ledger)
    with pytest.raises(ArgumentError) as caught:
        call(engine, minutes)
    assert str(caught.value) == f"workers {BEYOND}"
    assert not ledger.exists()


# ---------------------------------------------------------------------------- replay's range of months

# Each range as both doors word it: {start} and {end} are the CLI's --from and --to, the API's start and end.
BEYOND_100_YEARS = ("Service Months; a replay covers at most 1,200 (100 years), as its report has a line for every "
                    "month of the range: check the years, or replay the range in parts")
REPLAY_RANGES = [
    # the CLI: exit 1 before, as if an input were wrong
    ("2019-04", "2019-03", "{end} 2019-03 is before {start} 2019-04"),
    # (9998 − 2019) × 12 + 12 = 95,760 months: 85 s here, and a report of 22 MB of empty months
    ("2019-01", "9998-12", "{start} 2019-01 {end} 9998-12 is 95,760 " + BEYOND_100_YEARS),
    # 100 years and one month: 1,201
    ("2019-01", "2119-01", "{start} 2019-01 {end} 2119-01 is 1,201 " + BEYOND_100_YEARS),
]


@pytest.mark.parametrize("start,end,message", REPLAY_RANGES)
def test_a_replay_range_backwards_or_beyond_100_years_is_a_usage_error(tmp_path, start, end, message):
    minutes = tmp_path / "m.csv"
    minutes.write_text(MINUTES)
    result = run_cli("replay", POLICIES, "--minutes", minutes, "--from", start, "--to", end, "--under", PUBLISHED)
    said = message.format(start="--from", end="--to")
    assert (result.code, result.out, result.err) == (2, "", f"slapolicy replay: {said}\n")
    assert [p.name for p in tmp_path.iterdir()] == ["m.csv"]


def test_a_replay_of_100_years_reads_each_version_once(tmp_path, monkeypatch):
    # 2019-01 to 2118-12: 1,200 months, the most a replay covers. One row (a, 2019-03) and 1,199 empty months. The
    # version in force was read (and hashed) once per month: 95,760 reads for --to 9998-12; now once per version.
    from slapolicy import Engine
    from slapolicy.distributed import PolicyContent

    minutes = tmp_path / "m.csv"
    minutes.write_text(MINUTES)
    reads = []
    of = PolicyContent.of.__func__
    monkeypatch.setattr(PolicyContent, "of", classmethod(lambda cls, policy: reads.append(policy.sha256) or of(cls, policy)))
    result = Engine(POLICIES).replay(minutes=minutes, start="2019-01", end="2118-12", under=PUBLISHED)
    assert (len(result["months"]), result["months"][0], result["months"][-1]) == (1200, "2019-01", "2118-12")
    assert [(row["account"], row["month"]) for row in result["rows"]] == [("a", "2019-03")]
    assert len(result["totals"]["per_month"]) == 1200
    assert result["totals"]["per_month"]["2118-12"] == {
        "account_months": 0, "changed": 0, "baseline_compensation": "0.00", "amended_compensation": "0.00",
        "delta": "0.00", "without_billing": 0}
    assert result["totals"]["per_month"]["2019-03"]["account_months"] == 1
    assert len(reads) == 1  # the one version is both the baseline and the amended (--under the published file)


@pytest.mark.parametrize("start,end,message", REPLAY_RANGES)
def test_the_api_refuses_a_replay_range_backwards_or_beyond_100_years(tmp_path, start, end, message):
    from slapolicy import Engine
    from slapolicy.errors import ArgumentError

    minutes = tmp_path / "m.csv"
    minutes.write_text(MINUTES)
    with pytest.raises(ArgumentError) as caught:
        Engine(POLICIES).replay(minutes=minutes, start=start, end=end, under=PUBLISHED)
    assert str(caught.value) == message.format(start="start", end="end")
