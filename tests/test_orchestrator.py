"""Engine is the one orchestrator: the module-level functions, the CLI and the audit reach it, and every
door prints the same JSON. Results are plain data: no numpy object, no private ("_") key, at any depth."""
import datetime as dt
import json

import numpy as np
import pytest

import slapolicy
from slapolicy.calendar import calendar_month
from slapolicy.inputs import Incident
from slapolicy.engine import Engine
from slapolicy.evaluation import MonthEvaluation, MonthMinutes, evaluate_account_month

from conftest import DRAFT, POLICIES, REPO, run_cli

EXAMPLES = REPO / "examples" / "ccc"
FILES = {"minutes": EXAMPLES / "minutes.csv", "incidents": EXAMPLES / "incidents.yaml",
         "notices": EXAMPLES / "notices.yaml", "billing": EXAMPLES / "billing.csv"}
CLAIM = EXAMPLES / "claim-globex-2019-03.json"
NOW = "2019-04-10T12:00+00:00"
SGT = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture
def spied(monkeypatch):
    """Engine's three methods, each recording its name before it runs."""
    calls = []
    for name in ("evaluate", "decide_claim", "replay"):
        original = getattr(Engine, name)

        def spy(self, *args, _name=name, _original=original, **kwargs):
            calls.append(_name)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(Engine, name, spy)
    return calls


def printed(result) -> str:
    """The JSON exactly as the CLI prints it."""
    return json.dumps(result, indent=2, ensure_ascii=False) + "\n"


def option_args() -> list:
    return [part for name, path in FILES.items() for part in (f"--{name}", path)]


@pytest.mark.slow
def test_evaluate_module_function_engine_and_cli_reach_the_engine_and_agree(spied):
    kwargs = {name: str(path) for name, path in FILES.items()}
    by_function = slapolicy.evaluate(str(POLICIES), month="2019-03", **kwargs)
    by_engine = Engine(POLICIES).evaluate(month="2019-03", **kwargs)
    by_cli = run_cli("evaluate", POLICIES, "--month", "2019-03", *option_args())
    assert by_cli.code == 0, by_cli.err
    assert spied == ["evaluate", "evaluate", "evaluate"]
    assert printed(by_function) == printed(by_engine) == by_cli.out
    initech = next(e for e in by_function["evaluations"] if e["account"] == "initech")
    # 2880 counted minutes of 44,640: (1 − 2880/44640) × 100 = 93.548…% → "93.55", tier 3 (below 95 %): 50 %
    # of the 1000.00 fee, capped at the 400.00 paid after the 600.00 offset.
    assert (initech["availability_percent"], initech["credit_percent"], initech["compensation"]) == ("93.55", 50, "400.00")


def test_claim_module_function_engine_and_cli_reach_the_engine_and_agree(spied, tmp_path):
    claim = json.loads(CLAIM.read_text())
    now = dt.datetime.fromisoformat(NOW)
    kwargs = {name: str(path) for name, path in FILES.items()}
    by_function = slapolicy.decide_claim(str(POLICIES), claim, ledger=tmp_path / "function.sqlite", now=now,
                                         where=str(CLAIM), **kwargs)
    by_engine = Engine(POLICIES, ledger=tmp_path / "engine.sqlite").decide_claim(claim, now=now, where=str(CLAIM),
                                                                                 **kwargs)
    by_cli = run_cli("claim", POLICIES, CLAIM, *option_args(), "--ledger", tmp_path / "cli.sqlite", "--now", NOW)
    assert by_cli.code == 0, by_cli.err
    assert spied == ["decide_claim", "decide_claim", "decide_claim"]
    assert printed(by_function) == printed(by_engine) == by_cli.out
    # globex: 240 counted minutes (09:00–13:00 on 2019-03-22): (1 − 240/44640) × 100 = 99.462…% → "99.46",
    # below the 99.5 % standard: 10 % of the 1800.00 fee = 180.00. Claimed 09:00–13:30: 270 minutes, of which
    # the records confirm 240; the last 30 are not unavailable in them (§3.2(1): the records prevail).
    assert (by_function["decision"], by_function["compensation"], by_function["repeated"]) == ("approved", "180.00", False)
    reconciliation = by_function["reconciliation"]
    assert (reconciliation["claimed_minutes"], reconciliation["confirmed_minutes"]) == (270, 240)
    assert reconciliation["claimed_not_unavailable_in_records"] == [
        {"start": "2019-03-22T13:00:00+08:00", "end": "2019-03-22T13:30:00+08:00", "minutes": 30}]
    assert by_function["window"]["opens"] == "2019-04-06T00:00:00+08:00"


def test_audit_decides_again_through_the_engine(spied, tmp_path):
    ledger = tmp_path / "ledger.sqlite"
    assert run_cli("claim", POLICIES, CLAIM, *option_args(), "--ledger", ledger, "--now", NOW).code == 0
    audit = run_cli("audit", ledger, "--format", "json")
    assert audit.code == 0, audit.err
    assert spied == ["decide_claim", "decide_claim"]  # the claim, then the audit's decision again
    assert audit.json()["summary"] == {"checked": 1, "same": 1, "differs": 0, "unverifiable": 0}


@pytest.mark.slow
def test_replay_module_function_engine_and_cli_reach_the_engine_and_agree(spied):
    kwargs = {name: str(path) for name, path in FILES.items()}
    by_function = slapolicy.replay(str(POLICIES), start="2019-03", end="2019-03", under=str(DRAFT), **kwargs)
    by_engine = Engine(POLICIES).replay(start="2019-03", end="2019-03", under=str(DRAFT), **kwargs)
    by_cli = run_cli("replay", POLICIES, "--from", "2019-03", "--to", "2019-03", "--under", DRAFT, *option_args())
    assert by_cli.code == 0, by_cli.err
    assert spied == ["replay", "replay", "replay"]
    assert printed(by_function) == printed(by_engine) == by_cli.out
    assert by_function["totals"]["overall"]["delta"] == "250.00"  # as docs/api.md shows


def test_the_names_of_earlier_docs_are_the_wrappers():
    from slapolicy.claims import decide_claim
    from slapolicy.replay import replay

    assert (decide_claim, replay) == (slapolicy.decide_claim, slapolicy.replay)
    with pytest.raises(AttributeError, match="no attribute 'decide_claims'"):
        __import__("slapolicy.claims", fromlist=["x"]).decide_claims


# ---------------------------------------------------------------------------- plain results

PLAIN = (str, int, float, bool, type(None))


def not_plain(value, where="$") -> list:
    """Every place in ``value`` that is not plain JSON data: a numpy object (or any other), a private key."""
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str) or key.startswith("_"):
                found.append(f"{where}: key {key!r}")
            found += not_plain(item, f"{where}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += not_plain(item, f"{where}[{i}]")
    elif not isinstance(value, PLAIN) or type(value).__module__ == "numpy":
        found.append(f"{where}: {type(value).__module__}.{type(value).__name__}")
    return found


def test_the_check_finds_numpy_objects_and_private_keys():
    sample = {"a": [1, {"_minutes": {"unavailable": np.arange(2)}}], "b": np.int64(3), "c": (1,), "d": np.float64(0.5)}
    assert not_plain(sample) == ["$.a[1]: key '_minutes'", "$.a[1]._minutes.unavailable: numpy.ndarray",
                                 "$.b: numpy.int64", "$.c: builtins.tuple", "$.d: numpy.float64"]
    assert not_plain({"x": [1, 2.5, "s", None, True]}) == []


@pytest.mark.slow
def test_no_result_holds_a_numpy_object_or_a_private_key(tmp_path):
    engine = Engine(POLICIES, ledger=tmp_path / "ledger.sqlite")
    kwargs = {name: str(path) for name, path in FILES.items()}
    evaluated = engine.evaluate(month="2019-03", **kwargs)
    claimed = engine.decide_claim(json.loads(CLAIM.read_text()), now=dt.datetime.fromisoformat(NOW), **kwargs)
    replayed = engine.replay(start="2019-03", end="2019-03", under=str(DRAFT), strips=True, **kwargs)
    assert len(evaluated["evaluations"]) == 3 and claimed["reconciliation"]["claimed_minutes"] == 270
    assert all("strip" in row for row in replayed["rows"])  # the minute arrays drawn, as lists of runs
    assert not_plain(evaluated) == not_plain(claimed) == not_plain(replayed) == []


def test_a_month_evaluation_keeps_its_minutes_beside_the_result(policy):
    april = calendar_month("2019-04")
    first = april.epoch_minutes("Asia/Singapore")[0]
    # 30 minutes from 2019-04-02 10:00 SGT, every call failing; a customer-network incident covers 10:20–10:30.
    minute = first + 1440 + 600 + np.arange(30, dtype=np.int64)
    rows = MonthMinutes(minute, np.full(30, 10, np.int64), np.full(30, 10, np.int64), np.zeros(30, np.int64),
                        np.full(30, np.nan), False)
    incident = Incident("I-1", dt.datetime(2019, 4, 2, 10, 20, tzinfo=SGT), dt.datetime(2019, 4, 2, 10, 30, tzinfo=SGT),
                        "customer_network", None)
    month = evaluate_account_month(policy, april, "a", rows, incidents=[incident])
    assert isinstance(month, MonthEvaluation)
    assert (month.result["raw_unavailable_minutes"], month.result["unavailable_minutes"],
            month.result["excluded_minutes"]) == (30, 20, {"5.1": 10})
    assert month.first_minute == first
    assert month.counted_minutes.tolist() == minute[:20].tolist()  # 10:00–10:19 count against the provider
    assert month.excluded_minutes.tolist() == minute[20:].tolist()  # 10:20–10:29 excluded by §5.1
    assert not_plain(month.result) == []


def test_a_policy_sent_as_content_leaves_no_copy_behind(tmp_path, monkeypatch):
    """A worker loads a version sent as content from a copy written under its own name (lint reads the name and
    drafts/): the copy is removed once loaded, not left in the temporary directory by every worker of every run."""
    import tempfile

    from slapolicy.distributed import PolicyContent, _policy_by_sha, policy_of
    from slapolicy.policy.directory import load_policy

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    for source in (POLICIES / "2019-01-01.yaml", DRAFT):
        original = load_policy(source, strict=False)
        _policy_by_sha.cache_clear()
        loaded = policy_of(PolicyContent.of(original))
        assert (loaded.path, loaded.sha256, loaded.version) == (str(source), original.sha256, original.version)
        assert list((tmp_path / "tmp").iterdir()) == []


def test_the_minutes_are_read_while_the_billing_is(monkeypatch, tmp_path):
    """Each command's minutes and billing meet at a barrier of two: read one after the other, the first to
    arrive would wait alone and the barrier break after 10 s."""
    import threading

    import slapolicy.engine as engine_module

    barrier = threading.Barrier(2, timeout=10)
    for name in ("read_minutes", "read_billing"):
        real = getattr(engine_module, name)
        monkeypatch.setattr(engine_module, name, lambda *a, _real=real, **k: barrier.wait() is None or _real(*a, **k))
    kwargs = {name: str(path) for name, path in FILES.items()}
    engine = Engine(POLICIES, ledger=tmp_path / "ledger.sqlite")
    assert len(engine.evaluate(month="2019-03", **kwargs)["evaluations"]) == 3
    assert engine.replay(start="2019-03", end="2019-03", under=str(DRAFT), **kwargs)["totals"]["overall"]["delta"] == "250.00"
    claim = json.loads(CLAIM.read_text())
    assert engine.decide_claim(claim, now=dt.datetime.fromisoformat(NOW), **kwargs)["compensation"] == "180.00"


def test_problems_come_in_the_order_the_inputs_were_read_in_before(cli, tmp_path):
    """The minutes are read beside the billing, but a command names the problem it named when it read them one
    after the other: evaluate and replay the billing's (read before the minutes), claim the minutes' (read
    first), then the billing's; nothing is written. The bad minute is globex's 09:03 (60 failures of 54
    requests), the bad fee acme's."""
    minutes, billing, ledger = tmp_path / "minutes.csv", tmp_path / "billing.csv", tmp_path / "ledger.sqlite"
    minutes.write_text("account,minute,requests,failures\nglobex,2019-03-22T09:03,54,60\n")
    billing.write_text("account,month,monthly_fee,offset\nacme,2019-03,abc,0.00\n")
    bad_minutes = f"{minutes}: row 1 (line 2), column 'failures': 60 failures exceed 54 requests"
    bad_billing = (f"{billing}: row 1 (line 2), column 'monthly_fee': 'abc' is not an amount of money "
                   "(a decimal like 1000.00)")
    commands = {"evaluate": ["evaluate", POLICIES, "--month", "2019-03"],
                "replay": ["replay", POLICIES, "--from", "2019-03", "--to", "2019-03", "--under", DRAFT],
                "claim": ["claim", POLICIES, CLAIM, "--ledger", ledger, "--now", NOW]}
    for command, given, named in (("evaluate", (minutes, billing), bad_billing),
                                  ("replay", (minutes, billing), bad_billing),
                                  ("claim", (minutes, billing), bad_minutes),
                                  ("claim", (FILES["minutes"], billing), bad_billing),
                                  ("evaluate", (minutes, FILES["billing"]), bad_minutes)):
        result = cli(*commands[command], "--minutes", given[0], "--billing", given[1])
        assert (command, result.code, result.out, result.err.splitlines()[1:]) == (command, 1, "", [named])
        assert not ledger.exists()


# ----------------------------------------------------- a reading whose result will not be used is cancelled

BAD_FEE = "account,month,monthly_fee,offset\nacme,2019-03,abc,0.00\n"


def bad_fee(billing) -> str:
    return f"{billing}: row 1 (line 2), column 'monthly_fee': 'abc' is not an amount of money (a decimal like 1000.00)"


class Held:
    """Each task reading minutes (read_part), counted as it starts and as it ends, and held until the reading is
    cancelled (the first ones 60 s at most, if it never is: a loaded host can take seconds to read the billing and
    cancel, and a task let go early lets the others start): the tasks started are those already running when the
    command's error came, one a thread at most. ``ran_out``: the holds that ended by the 60 s, not by the
    cancellation (a command that returns only then kept its user waiting a minute for nothing)."""

    def __init__(self, monkeypatch):
        import threading

        import slapolicy.distributed as distributed
        import slapolicy.minutes.aggregates as aggregates

        self.started = self.ended = self.ran_out = 0
        self.hold = True
        self._lock, self.cancelled = threading.Lock(), threading.Event()
        real_part, real_cancel = aggregates.read_part, distributed.Cancellation.cancel

        def part(*args):
            with self._lock:
                self.started += 1
            if self.hold and not self.cancelled.wait(60):
                with self._lock:
                    self.ran_out += 1
                self.cancelled.set()  # never cancelled: the rest run at once (and the counts say so)
            try:
                return real_part(*args)
            finally:
                with self._lock:
                    self.ended += 1

        def cancel(cancellation):
            real_cancel(cancellation)
            self.cancelled.set()

        monkeypatch.setattr(aggregates, "read_part", part)
        monkeypatch.setattr(distributed.Cancellation, "cancel", cancel)

    def reset(self) -> None:
        self.started = self.ended = self.ran_out = 0
        self.cancelled.clear()


@pytest.fixture
def held(monkeypatch):
    from slapolicy.minutes import readers

    monkeypatch.setattr(readers, "BATCH_ROWS", 10)  # each of many_batches_parquet's 40 row groups a task
    return Held(monkeypatch)


def test_a_bad_billing_cancels_the_minutes_being_read(held, cli, tmp_path):
    """40 batches of minutes, one task each, held until the reading is cancelled. evaluate and replay name the
    billing's problem, alone, as soon as it is found: the tasks running then (one a core at most) end their
    batch, none of the others starts, and the command returns once they have ended; nothing is written."""
    import os

    from helpers import many_batches_parquet

    minutes, billing = many_batches_parquet(tmp_path / "minutes.parquet"), tmp_path / "billing.csv"
    billing.write_text(BAD_FEE)
    for command in (["evaluate", POLICIES, "--month", "2019-03"],
                    ["replay", POLICIES, "--from", "2019-03", "--to", "2019-03", "--under", DRAFT]):
        held.reset()
        result = cli(*command, "--minutes", minutes, "--billing", billing)
        assert (result.code, result.out, result.err.splitlines()[1:]) == (1, "", [bad_fee(billing)])
        assert held.started == held.ended <= min(os.cpu_count(), 40) and held.started < 40 and held.ran_out == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["billing.csv", "minutes.parquet"]


def test_ctrl_c_during_a_claim_cancels_its_minutes_and_exits_130(held, cli, tmp_path, monkeypatch):
    """A claim waits for its minutes by design, but Ctrl-C while it reads its billing leaves the block all the
    same: the reading is cancelled, the claim exits 130 with its one line, and no ledger is made."""
    import slapolicy.engine as engine_module
    from helpers import many_batches_parquet

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(engine_module, "read_billing", interrupted)
    minutes, ledger = many_batches_parquet(tmp_path / "minutes.parquet"), tmp_path / "ledger.sqlite"
    claim = tmp_path / "claim.json"
    claim.write_text(CLAIM.read_text().replace('"globex"', '"acme"'))
    result = cli("claim", POLICIES, claim, "--minutes", minutes, "--billing", FILES["billing"], "--ledger", ledger,
                 "--now", NOW)
    assert (result.code, result.out, result.err) == (130, "", "slapolicy: interrupted\n")
    assert held.started == held.ended < 40 and held.ran_out == 0
    assert not ledger.exists()


@pytest.mark.slow
def test_ctrl_c_while_the_minutes_are_read_exits_130_at_once(tmp_path):
    """A real SIGINT, sent to the main thread by the first task of the command's process as it starts (the main
    thread is reading the billing or waiting for the minutes): `slapolicy evaluate` exits 130 with its one line,
    the tasks running end their batch and no other starts. The command runs as a process of its own (``main()``, as
    the console script calls it). Called as ``main(argv)``, as a program embedding the engine calls it, it kept
    pyarrow's own SIGINT handler, which read_csv swaps in for the length of the billing's read (only a process
    slapolicy owns turns it off: ``distributed.python_handles_ctrl_c``), and a SIGINT landing as it swapped was
    lost: the command read on and exited 0 (the script at nice 19 beside two nice-19 CPU hogs: 1 run in 15)."""
    import os
    import subprocess
    import sys

    from helpers import many_batches_parquet

    minutes = many_batches_parquet(tmp_path / "minutes.parquet")
    script = f"""
import os, signal, sys, threading
sys.path.insert(0, {str(REPO / 'tests')!r})
import slapolicy.distributed as distributed, slapolicy.minutes.aggregates as aggregates
from slapolicy.minutes import readers
from slapolicy.cli import main
# Ctrl-C as a terminal's foreground job gets it: a process started in the background (nohup, `&` in a script)
# inherits SIGINT ignored, and Python then leaves it ignored.
signal.signal(signal.SIGINT, signal.default_int_handler)
readers.BATCH_ROWS = 10
lock, cancelled, counts, command = threading.Lock(), threading.Event(), [0, 0, 0], os.getpid()
real_part, real_cancel = aggregates.read_part, distributed.Cancellation.cancel
def part(*args):  # in the command's process (its forked helper, which takes no Ctrl-C, keeps counts of its own)
    with lock:
        counts[0] += 1
        if counts[0] == 1 and os.getpid() == command:
            signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)
    # Held until the reading is cancelled; 60 s at most (a reading never cancelled then runs its other tasks at
    # once, and the counts say so: the third, of the holds that ran out): a loaded machine can take seconds to raise
    # the interruption and cancel.
    if not cancelled.wait(60):
        with lock:
            counts[2] += 1
        cancelled.set()
    try:
        return real_part(*args)
    finally:
        with lock:
            counts[1] += 1
            if os.getpid() == command:  # the command ends with os._exit: its counts are left as each task ends
                with open({str(tmp_path / "counts")!r}, "w") as file:
                    file.write(f"{{counts[0]}} {{counts[1]}} {{counts[2]}}")
def cancel(self):
    real_cancel(self)
    cancelled.set()
aggregates.read_part, distributed.Cancellation.cancel = part, cancel
sys.argv = ["slapolicy", "evaluate", {str(POLICIES)!r}, "--month", "2019-03", "--minutes", {str(minutes)!r},
            "--billing", {str(FILES['billing'])!r}]
sys.exit(main())
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=180)
    assert (done.returncode, done.stdout, done.stderr) == (130, "", "slapolicy: interrupted\n")
    started, ended, ran_out = map(int, (tmp_path / "counts").read_text().split())
    assert started == ended <= min(os.cpu_count(), 40) and started < 40 and ran_out == 0



@pytest.mark.slow
def test_ctrl_c_while_replay_relays_its_progress_cancels_the_reading_at_once(tmp_path):
    """replay's ``progress`` runs on the caller's thread, which waits for the minutes by taking the totals the
    reading posts: a real SIGINT sent there by the first task (no billing to read: the caller is waiting) ends
    the wait at once, cancels the reading (the tasks running end their batch, no other starts) and is raised to
    the caller; a callback that raises does the same with its own exception."""
    import os
    import subprocess
    import sys

    from helpers import many_batches_parquet

    minutes = many_batches_parquet(tmp_path / "minutes.parquet")
    script = f"""
import signal, sys, threading
import slapolicy.distributed as distributed, slapolicy.minutes.aggregates as aggregates
from slapolicy import Engine
from slapolicy.minutes import readers
signal.signal(signal.SIGINT, signal.default_int_handler)  # as a terminal's foreground job has it
readers.BATCH_ROWS = 10
lock, cancelled, counts, shown = threading.Lock(), threading.Event(), [0, 0, 0], []
real_part, real_cancel = aggregates.read_part, distributed.Cancellation.cancel
def part(*args):
    with lock:
        counts[0] += 1
        if counts[0] == 1 and sys.argv[1] == "sigint":
            signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)
    if counts[0] > 1 and not cancelled.wait(60):  # 60 s at most: a loaded host takes seconds to cancel
        with lock:
            counts[2] += 1  # the holds that ran out: the cancellation did not come
        cancelled.set()
    try:
        return real_part(*args)
    finally:
        with lock:
            counts[1] += 1
def cancel(self):
    real_cancel(self)
    cancelled.set()
def progress(rows):
    shown.append(threading.get_ident() == threading.main_thread().ident)
    if sys.argv[1] == "raises":
        raise ValueError("the progress bar was closed")
aggregates.read_part, distributed.Cancellation.cancel = part, cancel
try:
    Engine({str(POLICIES)!r}).replay(minutes={str(minutes)!r}, start="2019-03", end="2019-03", under={str(DRAFT)!r},
                                     progress=progress)
except BaseException as exc:
    print(type(exc).__name__, exc.args, *counts, shown)
"""
    for case, raised in (("sigint", "KeyboardInterrupt ()"), ("raises", "ValueError ('the progress bar was closed',)")):
        done = subprocess.run([sys.executable, "-c", script, case], capture_output=True, text=True, timeout=180)
        *error, started, ended, ran_out, shown = done.stdout.rsplit(" ", 4)
        assert (" ".join(error), done.stderr) == (raised, "")
        assert int(started) == int(ended) <= min(os.cpu_count(), 40) + 1 and int(started) < 40 and ran_out == "0"
        # Told of the first batch or not (it may end before the SIGINT is handled), and if told, on its thread.
        assert shown.strip() in (("[]", "[True]") if case == "sigint" else ("[True]",))

def test_an_engine_with_threads_works_again_after_a_cancelled_reading(held, tmp_path):
    from helpers import many_batches_parquet

    from slapolicy.errors import InputError

    minutes, billing = many_batches_parquet(tmp_path / "minutes.parquet"), tmp_path / "billing.csv"
    billing.write_text(BAD_FEE)
    with Engine(POLICIES, workers=1) as engine:
        with pytest.raises(InputError) as raised:
            engine.evaluate(minutes=minutes, month="2019-03", billing=billing)
        assert str(raised.value).splitlines()[1:] == [bad_fee(billing)]
        assert held.started == held.ended < 40 and held.ran_out == 0
        held.hold = False
        held.reset()
        # acme's 400 minutes, none failing, 100.00 %: no credit; globex and initech, billed without minutes, too
        evaluations = engine.evaluate(minutes=minutes, month="2019-03", billing=FILES["billing"])["evaluations"]
        assert [(e["account"], e["availability_percent"], e["compensation"]) for e in evaluations] == \
            [("acme", "100.00", "0.00"), ("globex", "100.00", "0.00"), ("initech", "100.00", "0.00")]
        assert held.started == held.ended == 40


def test_a_cancelled_map_in_this_process_starts_no_task_after_it():
    """Serial tasks are checked between tasks: the second of five cancels, the third never starts, and the map
    raises Cancelled (which only the reading's own thread sees). A map cancelled before it starts runs none."""
    from slapolicy.distributed import Cancellation, Cancelled, Runner

    cancellation, ran = Cancellation(), []

    def task(k):
        ran.append(k)
        if k == 1:
            cancellation.cancel()
        return k

    with pytest.raises(Cancelled):
        Runner().map(task, range(5), cancel=cancellation)
    assert ran == [0, 1]
    ran.clear()
    for threads in (False, True):
        with pytest.raises(Cancelled):
            Runner().map(task, range(2, 7), threads=threads, cancel=cancellation)
    assert ran == []
    assert Runner().map(task, range(2, 5), cancel=Cancellation()) == [2, 3, 4]


@pytest.mark.parametrize("began", [False, True])
def test_ctrl_c_inside_thread_start_is_raised_at_once_whether_or_not_the_thread_began(monkeypatch, began):
    """Ctrl-C can land inside Thread.start, which a Background's start calls: before the new thread exists (it will
    never run the call, so there is nothing to wait for: waiting for it asked for a second Ctrl-C) or after the
    call began (it is cancelled and waited for, as when the block is left). The primitive Thread.start calls is
    made to raise KeyboardInterrupt there, for the thread under test only; the Background's start raises it at once
    either way, and the call runs whole or not at all."""
    import threading
    import time

    from slapolicy.distributed import Background, Cancellation

    name = "_start_joinable_thread" if hasattr(threading, "_start_joinable_thread") else "_start_new_thread"
    real_start, began_call, ran, raised = getattr(threading, name), threading.Event(), [], []

    def start(*args, **kwargs):
        if threading.current_thread().name != "starter":
            return real_start(*args, **kwargs)
        if began:
            real_start(*args, **kwargs)
            assert began_call.wait(5)  # the call runs: Ctrl-C lands as Thread.start waits for the thread
        raise KeyboardInterrupt

    def call(cancellation):
        ran.append("began")
        began_call.set()
        deadline = time.monotonic() + 5
        while not cancellation.cancelled and time.monotonic() < deadline:
            time.sleep(0.001)
        ran.append("cancelled" if cancellation.cancelled else "never cancelled")

    def starter():
        try:
            Background(call, Cancellation())
        except KeyboardInterrupt:
            raised.append("KeyboardInterrupt")

    monkeypatch.setattr(threading, name, start)
    # A thread whose start was interrupted before it existed stays listed by threading.enumerate() (in its private
    # _limbo) for the life of the process: it goes with the test's own copy of that list.
    monkeypatch.setattr(threading, "_limbo", dict(threading._limbo))
    thread = threading.Thread(target=starter, name="starter", daemon=True)
    thread.start()
    thread.join(10)
    assert (thread.is_alive(), raised) == (False, ["KeyboardInterrupt"])
    assert ran == (["began", "cancelled"] if began else [])
