"""The helper of evaluate's and replay's reading forked as the command begins (distributed.fork_helper_early): it
loads the reading's modules while the command loads the engine's, plans the reading itself from the request the
command sends it, and starts on the tasks; the reading adopts it only when both sides planned the same tasks (each
takes tasks by their index), and refuses loudly when they did not. One no reading adopts is ended, and one whose
command ends before it sends a request ends itself."""
import json
import os
import subprocess
import sys
import threading
import time

import pytest

from conftest import DRAFT, POLICIES
from test_settled import INPUTS, by_account_parquet, evaluations, replayed, small_batches  # noqa: F401

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the helper is forked on Linux only")

PARENT = os.getpid()


def where(index):
    time.sleep(0.005)
    return index, os.getpid()


def twenty():
    """The plan of twenty tasks of ``where``, as the reading below gives them to Runner.map."""
    return where, [(index,) for index in range(20)]


def nineteen():
    return where, [(index,) for index in range(19)]


def others():
    return where, [(index + 1,) for index in range(20)]


def nothing_to_share():
    return None


def fails():
    raise OSError("the file went away as the helper planned")


@pytest.fixture
def early(monkeypatch):
    """slapolicy.distributed, where this process may fork a reading's helper (as the CLI's evaluate and replay allow
    in their own), counting the forks made after the early one (``early.forks``); any early helper left is ended."""
    from slapolicy import distributed

    monkeypatch.setattr(distributed, "forked_helper_allowed", lambda: True)
    monkeypatch.setattr(distributed, "forks", [], raising=False)
    yield distributed
    distributed.end_early_helper()


def started(distributed) -> int:
    """Fork the early helper (no module to load: this process has them), and count the forks made from now on."""
    # It forks only with no other thread running: a thread an earlier test of this process left winding down (a
    # cancelled reading's, a pool's) may take seconds to end on a loaded host. Waited for; one left for good (a lost
    # Dask client's event loop did) is named.
    deadline = time.monotonic() + 30
    while threading.active_count() > 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    distributed.fork_helper_early(())
    assert distributed._early is not None, f"other threads running: {[t.name for t in threading.enumerate()]}"
    real = os.fork

    def fork():
        pid = real()
        if pid:
            distributed.forks.append(pid)
        return pid

    os.fork = fork
    return distributed._early.pid


@pytest.fixture(autouse=True)
def real_fork():
    fork = os.fork
    yield
    os.fork = fork


def gone(pid, within: float = 10.0) -> bool:
    """Whether a child process has ended and been waited for (not a zombie), waiting ``within`` seconds for it."""
    until = time.monotonic() + within
    while True:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return True
        if done or time.monotonic() > until:
            return bool(done)
        time.sleep(0.01)


def test_the_reading_adopts_the_helper_that_planned_its_tasks(early):
    pid = started(early)
    early.plan_in_early_helper(twenty)
    results = early.Runner().map(where, range(20), threads=True, helper=True)
    assert [index for index, _ in results] == list(range(20))
    assert {process for _, process in results} <= {PARENT, pid}
    assert pid in {process for _, process in results}  # it started on them before this process planned
    assert early.forks == []  # no second helper
    assert gone(pid)


@pytest.mark.parametrize("planner", [nineteen, others], ids=["fewer tasks", "other arguments"])
def test_a_helper_that_planned_other_tasks_is_ended_and_the_reading_refused(early, planner):
    """Each side takes the tasks by their index in its own plan: with two plans, a result would be taken for
    another task. Never used, and said as a bug (the CLI's internal error, exit 3)."""
    pid = started(early)
    early.plan_in_early_helper(planner)
    with pytest.raises(RuntimeError, match="the reading's helper, forked as the command began, planned other tasks "
                                           r"than this process \(20 tasks here\): its results cannot be used"):
        early.Runner().map(where, range(20), threads=True, helper=True)
    assert gone(pid)
    assert early.forks == []


@pytest.mark.parametrize("planner", [nothing_to_share, fails], ids=["nothing to share", "its plan failed"])
def test_a_helper_with_nothing_to_share_ends_and_the_reading_forks_its_own(early, planner):
    pid = started(early)
    early.plan_in_early_helper(planner)
    results = early.Runner().map(where, range(20), threads=True, helper=True)
    assert [index for index, _ in results] == list(range(20))
    assert pid not in {process for _, process in results}
    assert gone(pid)
    assert len(early.forks) == 1 and gone(early.forks[0])


def test_a_reading_on_threads_ends_the_helper_it_did_not_adopt(early):
    pid = started(early)
    early.plan_in_early_helper(twenty)
    early.end_early_helper()  # as read_minutes does when it returns
    assert gone(pid)
    assert early._early is None


def test_a_helper_whose_command_ends_before_its_request_ends_itself(early):
    """The command failed before it read (a policy refused, Ctrl-C) and ended: its end of the request's pipe closed."""
    pid = started(early)
    helper, early._early = early._early, None
    os.close(helper.requests)
    try:
        assert gone(pid)
    finally:
        for end in (helper.tokens, helper.answers):
            os.close(end)


def test_only_one_early_helper_and_none_beside_another_thread(early):
    pid = started(early)
    early.fork_helper_early(())
    assert early._early.pid == pid
    early.end_early_helper()
    assert gone(pid)
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        early.fork_helper_early(())  # a fork beside another thread copies locks it may hold: none is made
        assert early._early is None
    finally:
        stop.set()
        thread.join()


@pytest.mark.slow
def test_evaluate_and_replay_give_the_same_json_with_the_early_helper(small_batches, tmp_path, early):  # noqa: F811
    """Ten tasks (the file's ten row groups): the helper forked early plans them from the request, and the reading
    adopts it; the JSON is the threads'."""
    path = str(by_account_parquet(tmp_path / "by-account.parquet"))
    expected = evaluations(True, path, **INPUTS), replayed(True, path, **INPUTS)
    adopted = []
    real = early._adopt_early_helper

    def adopt(fn, arguments):
        got = real(fn, arguments)
        adopted.append(got is not None and len(arguments))
        return got

    early._adopt_early_helper = adopt
    try:
        for run in (evaluations, replayed):
            early.fork_helper_early(("slapolicy.minutes.aggregates",))
            assert run(True, path, **INPUTS) == expected[run is replayed]
    finally:
        early._adopt_early_helper = real
    assert adopted == [10, 10]


COMMAND = """
import sys
from slapolicy import distributed
from slapolicy.minutes import readers

readers.BATCH_ROWS = 4000  # each row group a batch, a task of its own
real = distributed._adopt_early_helper

def adopt(fn, arguments):
    got = real(fn, arguments)
    sys.stderr.write(f"adopted: {{got is not None}}, {{len(arguments)}} tasks\\n")
    return got

distributed._adopt_early_helper = adopt
sys.argv = ["slapolicy"] + {args!r}
from slapolicy.cli import main
sys.exit(main())
"""


def command(args: list, tmp_path) -> subprocess.CompletedProcess:
    """The CLI run as a process of its own (its helper allowed), in a session of its own, saying whether its reading
    adopted the helper forked as it began; once it has exited, no process of its session is left."""
    script = tmp_path / "command.py"
    script.write_text(COMMAND.format(args=[str(arg) for arg in args]))
    process = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, start_new_session=True)
    out, err = process.communicate(timeout=120)
    with pytest.raises(ProcessLookupError):  # the helper was ended and waited for before the command exited
        os.killpg(process.pid, 0)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


@pytest.mark.slow
def test_the_commands_own_process_adopts_its_early_helper(tmp_path):
    """evaluate and replay as commands: their reading adopts the helper forked as they began, and their JSON is the
    one main() called by a program gives (which forks no helper)."""
    from slapolicy.cli import main

    path = by_account_parquet(tmp_path / "by-account.parquet")
    inputs = ["--incidents", INPUTS["incidents"], "--notices", INPUTS["notices"], "--billing", INPUTS["billing"]]
    for args in (["evaluate", POLICIES, "--minutes", path, "--month", "2019-03"] + inputs,
                 ["replay", POLICIES, "--minutes", path, "--from", "2019-03", "--to", "2019-03", "--under", DRAFT]
                 + inputs):
        done = command(args, tmp_path)
        assert done.returncode == 0, done.stderr
        assert done.stderr == "adopted: True, 10 tasks\n"
        with pytest.MonkeyPatch.context() as patch:
            from slapolicy.minutes import readers

            patch.setattr(readers, "BATCH_ROWS", 4000)
            out = tmp_path / "in-process.json"
            assert main([str(arg) for arg in args] + ["--output", str(out)]) == 0
        assert done.stdout == out.read_text()


@pytest.mark.slow
def test_a_command_that_fails_before_it_reads_leaves_no_helper(tmp_path):
    path = by_account_parquet(tmp_path / "by-account.parquet")
    bad = tmp_path / "incidents.yaml"
    bad.write_text("- {id: i1, start: 2019-03-02T00:00:00+08:00, end: nope, cause: provider}\n")
    done = command(["evaluate", POLICIES, "--minutes", path, "--month", "2019-03", "--incidents", bad], tmp_path)
    assert done.returncode == 1, done.stderr
    assert "adopted" not in done.stderr


def test_a_request_pickles_alike_after_a_round_trip():
    """The early helper's plan is checked against the command's by the digest of their pickles (distributed.
    _plan_digest), and the helper plans from the request the command pickled to it. A frozenset's pickle follows its
    iteration order, which a copy made from the pickle need not keep (names whose hashes collide sit where they were
    put in): the request's accounts (--account) gave the two sides other digests, and `evaluate` an internal error."""
    import pickle

    from slapolicy.distributed import _plan_digest
    from slapolicy.minutes.planning import Part, Request
    from slapolicy.minutes.reduce import read_part

    # Forty-one names whose set a round trip reorders, under this process's hash seed (most sets of 41 are).
    names = next(names for names in (frozenset(f"acct-{n}-{i:03d}" for i in range(41)) for n in range(1000))
                 if list(names) != list(pickle.loads(pickle.dumps(names))))
    request = Request("Asia/Singapore", (25_000_000, 25_044_640), None, names)
    copy = pickle.loads(pickle.dumps(request))
    assert (copy, type(copy.accounts)) == (request, frozenset)
    assert pickle.dumps(copy) == pickle.dumps(request)
    task = Part("/data/m.parquet", "parquet", "m.parquet", (0,), (0,), ("acct-0-000",))
    assert _plan_digest(read_part, [(task, copy)] * 4) == _plan_digest(read_part, [(task, request)] * 4)
    assert pickle.loads(pickle.dumps(Request("UTC", (0, 1), None))).accounts is None


@pytest.mark.slow
@pytest.mark.parametrize("seed", ["0", "2", "3"])
def test_evaluate_of_many_accounts_asked_about_adopts_its_early_helper(tmp_path, monkeypatch, seed):
    """`evaluate --account` forty-one times over a Parquet file written account by account (a row group each): under
    these hash seeds the command's and the helper's plans had other digests (the request's accounts pickled in
    another order), and the command stopped, exit 3: 'internal error, please report it: RuntimeError: the reading's
    helper, forked as the command began, planned other tasks than this process (41 tasks here)'."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    accounts = [f"acct-{i:05d}" for i in range(0, 492, 12)]
    path = tmp_path / "by-account.parquet"
    minutes = pa.array([1551369600 + 60 * k for k in range(4000)], pa.timestamp("s", tz="UTC"))  # 2019-03-01 00:00+08
    schema = pa.schema([("account", pa.string()), ("minute", minutes.type), ("requests", pa.int64()),
                        ("failures", pa.int64())])
    with pq.ParquetWriter(path, schema) as writer:
        for at, account in enumerate(accounts):
            writer.write_table(pa.table({"account": [account] * 4000, "minute": minutes, "requests": [100] * 4000,
                                         "failures": [at % 3] * 4000}, schema=schema))
    monkeypatch.setenv("PYTHONHASHSEED", seed)
    done = command(["evaluate", POLICIES, "--minutes", path, "--month", "2019-03"]
                   + [arg for account in accounts for arg in ("--account", account)], tmp_path)
    assert (done.returncode, done.stderr) == (0, "adopted: True, 41 tasks\n")
    found = json.loads(done.stdout)["evaluations"]
    assert [(e["account"], e["unavailable_minutes"]) for e in found] == [(a, 4000 if at % 3 == 2 else 0)
                                                                         for at, a in enumerate(accounts)]
