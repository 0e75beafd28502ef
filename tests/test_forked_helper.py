"""A reading's tasks shared between one thread and a forked copy of the process (``Runner.map(helper=True)``,
slapolicy.distributed._on_thread_and_fork): results in the tasks' order, the first failure in that order raised
here, whatever the helper does (fails a task, dies, stalls) its tasks are run here, and no helper outlives the call.
Only the CLI's evaluate and replay, in a process of their own, allow it (``allow_forked_helper``)."""
import contextlib
import json
import os
import signal
import sys
import threading
import time

import pytest

from test_settled import ACCOUNTS, INPUTS, by_account_parquet, evaluations, replayed, small_batches  # noqa: F401

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the helper is forked on Linux only")

PARENT = os.getpid()


@pytest.fixture
def helper(monkeypatch):
    """Readings in this process may fork their helper (as the CLI's evaluate and replay allow in their own)."""
    from slapolicy import distributed

    monkeypatch.setattr(distributed, "forked_helper_allowed", lambda: True)


def where(index):
    """(the task, the process that ran it), after a pause that leaves some tasks to each side; within
    ``both_sides``, each side's task waits until the other side has taken one."""
    time.sleep(0.005)
    return met(index)


def met(index):
    """``where`` without its pause: within ``both_sides`` it is the wait alone that shares the tasks, and the tasks
    after each side's first cost nothing (1,024 of them run in ms, not the 0.5 s of a pause each)."""
    folder, until = BOTH_SIDES
    if folder is not None:
        here, there = ("parent", "helper") if os.getpid() == PARENT else ("helper", "parent")
        (folder / here).touch()
        while not (folder / there).exists() and time.monotonic() < until:
            time.sleep(0.002)
    return index, os.getpid()


BOTH_SIDES = (None, 0.0)


@contextlib.contextmanager
def both_sides(folder):
    """Tasks of ``where`` run on each side whatever the host's load: on a starved host one side took every task
    (50 ms of them) before the other took one (once in two runs at nice 19 beside two busy processes; under the
    helpers' load once in a day). Each side waits for the other's first task, 30 s at most in all: a helper that
    never runs, or a thread here that takes nothing, still fails the test."""
    global BOTH_SIDES
    BOTH_SIDES = (folder, time.monotonic() + 30)
    try:
        yield
    finally:
        BOTH_SIDES = (None, 0.0)


def gone(pid) -> bool:
    """Whether a child process has ended and been waited for (not a zombie)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


def test_tasks_run_here_and_in_the_helper_in_order(helper, tmp_path):
    from slapolicy.distributed import Runner

    seen = []
    with both_sides(tmp_path):
        results = Runner().map(where, range(40), threads=True, helper=True, progress=seen.append)
    assert [index for index, _ in results] == list(range(40))
    assert seen == results  # progress called with each result, in the tasks' order
    pids = {pid for _, pid in results}
    assert PARENT in pids and len(pids) == 2
    assert gone((pids - {PARENT}).pop())


def test_without_helper_or_with_few_tasks_nothing_is_forked(helper):
    from slapolicy.distributed import HELPER_TASKS, Runner

    assert {pid for _, pid in Runner().map(where, range(40), threads=True)} == {PARENT}
    assert {pid for _, pid in Runner().map(where, range(HELPER_TASKS - 1), threads=True, helper=True)} == {PARENT}


def test_more_tasks_than_the_pipe_of_their_indices_holds_run_on_threads(helper, monkeypatch, tmp_path):
    from slapolicy import distributed

    monkeypatch.setattr(distributed, "HELPER_MOST", 10)
    assert {pid for _, pid in distributed.Runner().map(where, range(11), threads=True, helper=True)} == {PARENT}
    with both_sides(tmp_path):
        assert len({pid for _, pid in distributed.Runner().map(where, range(10), threads=True, helper=True)}) == 2


def narrow_pipes(monkeypatch, size: int = 4096) -> None:
    """Every pipe made while the test runs holds ``size`` bytes (one page), as the system leaves a user past its
    pipe-user-pages-soft limit, and may not be widened (F_SETPIPE_SZ refused)."""
    import fcntl

    from slapolicy import distributed

    made = os.pipe

    def narrow():
        read, write = made()
        fcntl.fcntl(write, fcntl.F_SETPIPE_SZ, size)
        return read, write

    monkeypatch.setattr(os, "pipe", narrow)
    monkeypatch.setattr(distributed, "_widen", lambda fd: None)


def test_tasks_whose_indices_a_narrow_pipe_cannot_hold_run_on_threads(helper, monkeypatch, tmp_path):
    # The fallback when the pipe of the tasks' indices cannot take them all (4 bytes each: 1,024 in a page): on
    # threads, every result in order, nothing forked; one index fewer, the helper takes its share. The forks are
    # counted (not inferred from the processes that ran the tasks, which needed a pause in each: 1.2 s in the fast loop).
    from slapolicy.distributed import Runner

    narrow_pipes(monkeypatch)
    forks = []
    fork = os.fork

    def counted():
        forks.append(1)
        return fork()

    monkeypatch.setattr(os, "fork", counted)
    results = Runner().map(met, range(1025), threads=True, helper=True)
    assert [index for index, _ in results] == list(range(1025))
    assert {pid for _, pid in results} == {PARENT} and forks == []
    with both_sides(tmp_path):
        results = Runner().map(met, range(1024), threads=True, helper=True)
    assert [index for index, _ in results] == list(range(1024))
    assert len({pid for _, pid in results}) == 2 and forks == [1]


def large(index):
    """A result many times a narrow pipe's size (64 KiB of bytes), after a pause that leaves some tasks to each side."""
    time.sleep(0.005)
    return index, os.getpid(), bytes([index]) * (64 << 10)


def test_results_larger_than_a_pipe_that_cannot_be_widened_come_back_whole(helper, monkeypatch):
    # The helper's results pipe left at one page: each 64 KiB result is written as this process reads it.
    from slapolicy.distributed import Runner

    narrow_pipes(monkeypatch)
    results = Runner().map(large, range(40), threads=True, helper=True)
    assert [(index, data) for index, _, data in results] == [(i, bytes([i]) * (64 << 10)) for i in range(40)]
    pids = {pid for _, pid, _ in results}
    assert PARENT in pids and len(pids) == 2


def test_while_results_wait_for_work_here_the_helper_takes_the_tasks(helper, tmp_path):
    """``pending``: results handed on whose work (the evaluation of the accounts settled) still waits in this process,
    which its GIL does: its thread takes no task while they are BACKLOG or more, and the helper takes them. The tasks
    take no pause (a thread here that took them would take nearly all), and without a backlog each side's waits for
    the other's (``both_sides``): 0.2 s of pauses in the fast loop before."""
    from slapolicy.distributed import BACKLOG, Runner

    results = Runner().map(met, range(20), threads=True, helper=True, pending=lambda: BACKLOG)
    assert [index for index, _ in results] == list(range(20))
    assert PARENT not in {pid for _, pid in results}
    with both_sides(tmp_path):
        results = Runner().map(met, range(20), threads=True, helper=True, pending=lambda: 0)
    assert PARENT in {pid for _, pid in results}


def fails_in_the_helper(index):
    if os.getpid() != PARENT and index % 2:
        raise ValueError(f"task {index} in the helper")
    return where(index)


def test_a_task_the_helper_fails_is_run_here(helper):
    from slapolicy.distributed import Runner

    results = Runner().map(fails_in_the_helper, range(20), threads=True, helper=True)
    assert [index for index, _ in results] == list(range(20))


def fails_everywhere(index):
    time.sleep(0.005)
    if index in (5, 9):
        raise ValueError(f"task {index}")
    return index


def test_the_first_failure_in_the_tasks_order_is_raised_here(helper):
    from slapolicy.distributed import Runner

    with pytest.raises(ValueError, match="^task 5$"):
        Runner().map(fails_everywhere, range(20), threads=True, helper=True)


def dies_in_the_helper(index):
    if os.getpid() != PARENT and index >= 6:
        os.kill(os.getpid(), signal.SIGKILL)  # as the system ends a process for its memory
    return where(index)


def test_tasks_of_a_helper_that_died_are_run_here(helper):
    from slapolicy.distributed import Runner

    results = Runner().map(dies_in_the_helper, range(20), threads=True, helper=True)
    assert [index for index, _ in results] == list(range(20))
    assert {pid for index, pid in results if index >= 6} == {PARENT}


def unpicklable(index):
    time.sleep(0.005)
    return (lambda: index) if os.getpid() != PARENT else index


def test_a_result_that_cannot_be_sent_back_is_worked_out_here(helper):
    from slapolicy.distributed import Runner

    assert Runner().map(unpicklable, range(12), threads=True, helper=True) == list(range(12))


def stalls_in_the_helper(index):
    if os.getpid() != PARENT:
        time.sleep(60)
    return where(index)


@pytest.mark.slow
def test_a_stalled_helper_is_ended_and_its_task_run_here(helper, monkeypatch):
    from slapolicy import distributed

    monkeypatch.setattr(distributed, "HELPER_STALLED", 0.5)
    began = time.monotonic()
    results = distributed.Runner().map(stalls_in_the_helper, range(8), threads=True, helper=True)
    assert time.monotonic() - began < 20
    assert results == [(index, PARENT) for index in range(8)]


def slow(index, log):
    with open(log, "a") as handle:
        handle.write(f"{os.getpid()}\n")
    time.sleep(0.05)
    return index


@pytest.mark.slow
def test_a_cancelled_reading_ends_its_helper(helper, tmp_path):
    from slapolicy.distributed import Cancellation, Cancelled, Runner

    log = tmp_path / "pids"
    cancel = Cancellation()

    def once_both_read():  # cancelled once this process and the helper have each started a task (60 s at most): at
        # a fixed 0.3 s, a loaded host may not have run the helper yet
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (log.exists() and len(set(log.read_text().split())) == 2):
            time.sleep(0.01)
        cancel.cancel()
    threading.Thread(target=once_both_read, daemon=True).start()
    with pytest.raises(Cancelled):
        Runner().map(slow, range(400), [log] * 400, threads=True, helper=True, cancel=cancel)
    started = log.read_text().split()
    assert len(started) < 400  # not every task (10 s of them): was a wall time under 5 s, a benchmark's measure
    pids = set(map(int, started))
    assert len(pids) == 2
    assert gone((pids - {PARENT}).pop())


def test_only_a_process_of_its_own_that_allowed_it_forks(monkeypatch):
    from slapolicy import distributed

    monkeypatch.setattr(distributed, "_helper_allowed", False)
    monkeypatch.setattr(distributed, "_owned", True)
    assert not distributed.forked_helper_allowed()  # a worker process, or `slapolicy serve`
    distributed.allow_forked_helper()
    assert distributed.forked_helper_allowed() == (distributed.usable_cores() > 1)
    monkeypatch.setattr(distributed, "_owned", False)
    assert not distributed.forked_helper_allowed()  # a program embedding the engine (the CLI's main called by it)


@pytest.mark.slow
# the fork this test wraps is its own module's, which the engine's filter of its forks' warning does not name
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_evaluate_and_replay_give_the_same_json_with_the_helper(small_batches, tmp_path, monkeypatch):  # noqa: F811
    """Ten tasks (the file's ten row groups), shared with the helper: evaluate's and replay's JSON are those of the
    threads alone, and a bad row read in the helper is named as the threads name it."""
    from slapolicy import distributed
    from slapolicy.errors import InputError

    path = str(by_account_parquet(tmp_path / "by-account.parquet"))
    bad = str(by_account_parquet(tmp_path / "bad.parquet", bad_row=("globex", 200)))
    expected = evaluations(True, path, **INPUTS), replayed(True, path, **INPUTS)
    with pytest.raises(InputError) as threads_said:
        evaluations(True, bad, **INPUTS)
    forks = []
    real_fork = os.fork

    def fork():
        pid = real_fork()
        if pid:
            forks.append(pid)
        return pid

    monkeypatch.setattr(distributed, "forked_helper_allowed", lambda: True)
    monkeypatch.setattr(os, "fork", fork)
    assert (evaluations(True, path, **INPUTS), replayed(True, path, **INPUTS)) == expected
    assert len(forks) == 2
    with pytest.raises(InputError) as helper_said:
        evaluations(True, bad, **INPUTS)
    assert str(helper_said.value) == str(threads_said.value)
    assert "row 11541, column 'failures': 60 failures exceed 54 requests" in str(helper_said.value)
    assert [e["account"] for e in json.loads(expected[0])["evaluations"]] == list(ACCOUNTS)


@pytest.mark.slow
def test_a_file_whose_row_groups_prove_no_account_is_read_on_threads(small_batches, tmp_path, monkeypatch):  # noqa: F811
    """examples' minutes in row groups of 4,096 rows, one of which holds acme's last rows and globex's first: the
    reading that the GIL did not hold up (pyarrow's, of row groups of several accounts) forks no helper."""
    from slapolicy import distributed
    from test_scan import example_rows, write_parquet

    path = str(write_parquet(tmp_path / "mixed.parquet", example_rows()))
    expected = evaluations(True, path, **INPUTS)
    forks = []
    real_fork = os.fork
    monkeypatch.setattr(distributed, "forked_helper_allowed", lambda: True)
    monkeypatch.setattr(os, "fork", lambda: forks.append(1) or real_fork())
    assert evaluations(True, path, **INPUTS) == expected
    assert forks == []


def run_alone(script: str, tmp_path, timeout: float = 150.0):
    """(exit code, stdout) of ``script`` run by this Python in a session of its own; a run still going after
    ``timeout`` seconds (a wait that never ends) is ended with every process of its session, and is None. The
    scripts take ~1 s alone; the bound is for a hang only, well within the suite's per-test 300 s (pyproject.toml),
    and far beyond a loaded host's seconds (30 s was reached once under the helpers' load, load average 6-10)."""
    import subprocess

    path = tmp_path / "script.py"
    path.write_text(script)
    process = subprocess.Popen([sys.executable, str(path)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, start_new_session=True)
    try:
        out, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        return None, ""
    return process.returncode, out


TALK = """
import os, pickle, sys, time
from slapolicy import distributed

distributed.forked_helper_allowed = lambda: True
PARENT = os.getpid()

def where(index):
    time.sleep(0.01)
    return index, os.getpid()

{setup}
results = distributed.Runner().map(where, range(20), threads=True, helper=True)
assert [index for index, _ in results] == list(range(20)), results
print("ok", len({{pid for _, pid in results}}), flush=True)
"""


@pytest.mark.parametrize("setup", [
    # This process runs out of memory taking the helper's result (ulimit -v): MemoryError in the thread that talks to
    # the helper ended that thread, and the call waited for ever for the task it held.
    "real = pickle.loads\nfailed = []\n"
    "def loads(data, *args, **kwargs):\n"
    "    if not failed:\n        failed.append(1)\n        raise MemoryError()\n"
    "    return real(data, *args, **kwargs)\n"
    "pickle.loads = loads",
    # The helper stops part way through sending a result (SIGSTOP, swapped out): only the wait for a result's first
    # bytes was bounded (HELPER_STALLED), and the call waited for ever for the rest.
    "distributed.HELPER_STALLED = 1.0\nreal = distributed._write_all\n"
    "def halfway(fd, data):\n"
    "    if os.getpid() != PARENT:\n        real(fd, data[:len(data) // 2])\n        time.sleep(600)\n"
    "    real(fd, data)\n"
    "distributed._write_all = halfway"], ids=["memory error", "stalled mid-result"])
@pytest.mark.slow
def test_a_helper_result_not_taken_whole_is_worked_out_here(setup, tmp_path):
    code, out = run_alone(TALK.format(setup=setup), tmp_path)
    assert code == 0, out
    assert out.startswith("ok "), out


@pytest.mark.slow
def test_a_helper_that_died_between_taking_a_task_and_saying_so_leaves_it_here(tmp_path):
    """The tasks' indices wait in a pipe that both sides take from: a helper ended (killed for its memory) after it
    took one and before it said which leaves that task to this process, found as the one nobody has."""
    setup = ("real = distributed._read_exactly\n"
             "def taking(fd, size, *args, **kwargs):\n"
             "    data = real(fd, size, *args, **kwargs)\n"
             "    if os.getpid() != PARENT and size == 4 and len(data) == 4 and int.from_bytes(data, 'little') >= 6:\n"
             "        os.kill(os.getpid(), 9)\n"
             "    return data\n"
             "distributed._read_exactly = taking")
    code, out = run_alone(TALK.format(setup=setup), tmp_path)
    assert code == 0, out
    assert out.startswith("ok "), out


IMPORTS_IN_THE_HELPER = """
import builtins, importlib, json, os, sys
sys.path.insert(0, {tests!r})
from slapolicy import distributed
from slapolicy.minutes import readers
distributed.forked_helper_allowed = lambda: True
readers.BATCH_ROWS = 4000  # each row group a task
real, names = builtins.__import__, []

def recorded(name, globals=None, locals=None, fromlist=(), level=0):
    names.append(importlib._bootstrap._resolve_name(name, globals["__package__"], level) if level else name)
    return real(name, globals, locals, fromlist, level)

def task(*args, **kwargs):  # read_part; what the helper imported so far (the pickling of the results before too)
    try:
        return read_part(*args, **kwargs)
    finally:
        if os.getpid() != parent:
            with open({log!r}, "a") as log:
                log.write(json.dumps(names) + "\\n")

os.register_at_fork(after_in_child=lambda: setattr(builtins, "__import__", recorded))
from slapolicy.minutes import aggregates
read_part, parent, aggregates.read_part = aggregates.read_part, os.getpid(), task
from test_settled import INPUTS, by_account_parquet, evaluations, replayed
evaluations(True, str(by_account_parquet({good!r})), **INPUTS)
replayed(True, str(by_account_parquet({good!r})), **INPUTS)
try:
    evaluations(True, str(by_account_parquet({bad!r}, bad_row=("globex", 200))), **INPUTS)
except Exception as exc:
    print("refused", type(exc).__name__)
from slapolicy.minutes import reduce
print("ready" if reduce._ready else "not ready")  # ready_to_fork ran here, before the helper was forked
"""


@pytest.mark.slow
def test_a_task_in_the_helper_imports_only_modules_imported_before_the_fork(tmp_path):
    """What read_part imports as it runs in the helper (import statements inside functions, and its summary's
    pickling), on a file read account by account and on one with a bad row: only READ_PART_IMPORTS (and the
    modules numpy loads with itself), which the reading imports before it forks."""
    from pathlib import Path

    from slapolicy.minutes.reduce import READ_PART_IMPORTS

    log = tmp_path / "imports.jsonl"
    script = IMPORTS_IN_THE_HELPER.format(tests=str(Path(__file__).parent), log=str(log),
                                          good=str(tmp_path / "good.parquet"), bad=str(tmp_path / "bad.parquet"))
    code, out = run_alone(script, tmp_path)
    assert code == 0 and "refused InputError" in out and out.split()[-1] == "ready", out
    tasks = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(tasks) >= 10  # the helper read some of each reading's ten row groups
    imported = {name for names in tasks for name in names}
    assert "pyarrow._parquet" in imported
    assert {name for name in imported if name not in READ_PART_IMPORTS and not name.startswith("numpy.")} == set()


READY_BEFORE_THE_FORK = """
import os, sys, threading, time
from slapolicy import distributed
from slapolicy.minutes import aggregates, reduce

distributed.forked_helper_allowed = lambda: True
PARENT, said = os.getpid(), []
real_fork = distributed._fork_quietly

def forking():
    said.append(("fork", os.getpid(), threading.get_ident()))
    return real_fork()

def ready():
    said.append(("ready", os.getpid(), threading.get_ident()))

def where(index):
    time.sleep(0.01)
    return index, os.getpid()

distributed._fork_quietly = forking
results = distributed.Runner().map(where, range(20), threads=True, helper=True, ready=ready)
assert [index for index, _ in results] == list(range(20)), results
assert {{pid for _, pid in results}} != {{PARENT}}, "the helper took no task"
assert said == [("ready", PARENT, threading.get_ident()), ("fork", PARENT, threading.get_ident())], said
assert aggregates.ready_to_fork is reduce.ready_to_fork and not reduce._ready
reduce.ready_to_fork()  # pyarrow's first Parquet column read in this process, by this thread
assert reduce._ready and reduce.ONE_ROW.startswith(b"PAR1") and reduce.ONE_ROW.endswith(b"PAR1")
print("ok")
"""


@pytest.mark.slow
def test_what_the_tasks_libraries_make_on_first_use_is_made_before_the_helper_is_forked(tmp_path):
    """pyarrow's C++ makes some of its state on first use (its tracer, a function-local static asked for by its first
    Parquet column read and its thread pools' first task): a helper forked while another thread of this process (the
    billing's CSV reader) was making it was copied with it half made, and waited at its first column read for a thread
    it does not have, until HELPER_STALLED (120 s; seen under gdb in ``__cxa_guard_acquire`` from
    ``arrow::internal::tracing::GetTracer``, ~1 reading in 50 at load 10-20). The reading's ``ready``
    (reduce.ready_to_fork: one Parquet row read) runs on the forking thread, once, before the fork."""
    code, out = run_alone(READY_BEFORE_THE_FORK.format(), tmp_path)
    assert (code, out.strip()) == (0, "ok"), out


IMPORTING_AT_THE_FORK = """
import builtins, importlib, os, sys, threading, time
sys.path.insert(0, {folder!r})
from slapolicy import distributed

distributed.forked_helper_allowed = lambda: True
distributed.HELPER_STALLED = 30.0  # a helper that waits for the lock for ever is ended then; a loaded host's pauses are shorter
PARENT = os.getpid()
builtins.importing = threading.Event()

def task(index):
    import slow_to_import  # noqa: F401 -- as read_part imports pyarrow's modules
    time.sleep(0.01)
    return index, os.getpid()

threading.Thread(target=importlib.import_module, args=("slow_to_import",)).start()
builtins.importing.wait()  # another thread of this process is importing it as the reading forks its helper
began = time.monotonic()
results = distributed.Runner().map(task, range(20), threads=True, helper=True, imports={imports!r})
assert [index for index, _ in results] == list(range(20))
print("helper" if {{pid for _, pid in results}} != {{PARENT}} else "here", round(time.monotonic() - began))
"""


@pytest.mark.slow
def test_a_module_another_thread_imports_as_the_helper_is_forked_is_whole_in_it(tmp_path):
    """The task imports a module that another thread is importing as the helper is forked (the billing's reader
    loading pyarrow.csv beside the minutes' planning): the helper inherited that module's lock held by a thread it
    does not have, waited for it for ever, and was ended after HELPER_STALLED (120 s; 30 here), its tasks run here.
    Named in ``imports``, the module is imported before the fork: the helper finds it whole and takes tasks."""
    (tmp_path / "slow_to_import.py").write_text("import builtins, time\nbuiltins.importing.set()\ntime.sleep(1)\n")
    code, out = run_alone(IMPORTING_AT_THE_FORK.format(folder=str(tmp_path), imports=("slow_to_import",)), tmp_path)
    assert code == 0, out
    where, seconds = out.split()
    assert where == "helper" and int(seconds) < 30, out
