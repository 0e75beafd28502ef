"""A real Dask cluster (a scheduler and two worker processes, each its own process): evaluate, claim and
replay give byte-identical JSON to the in-process run on a hive-partitioned dataset, the workers read the
partitions themselves, and the client's peak memory stays under what holding the rows would take."""
import datetime as dt
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import DRAFT, POLICIES, REPO

EXAMPLES = REPO / "examples" / "ccc"

pytestmark = pytest.mark.slow

SGT = dt.timezone(dt.timedelta(hours=8))
ACCOUNTS = 40
MINUTES = 31 * 1440

# Runs the CLI in this process and reports the peak resident memory of this process image (VmHWM: unlike
# ru_maxrss, it does not inherit the parent's high-water mark across fork and exec).
WRAPPER = """
import sys
import threading
from slapolicy.cli import main
code = main(sys.argv[1:])
peak = next(line for line in open("/proc/self/status") if line.startswith("VmHWM")).split()[1]
sys.stderr.write(f"\\nPEAK_KB {peak}\\n")
sys.exit(code)
"""


def write_dataset(root, accounts, minutes):
    """month=2019-03/account=acct-NN/part-0.parquet; every account fails 2 % for 60 minutes on the 10th."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    start = int(dt.datetime(2019, 3, 1, tzinfo=SGT).timestamp())
    offsets = np.arange(minutes, dtype=np.int64)
    for a in range(accounts):
        requests = 50 + (offsets * 7 + a) % 50
        failures = np.where((offsets >= 9 * 1440 + 600 + a) & (offsets < 9 * 1440 + 660 + a), requests // 50 + 1, 0)
        folder = root / "month=2019-03" / f"account=acct-{a:02d}"
        folder.mkdir(parents=True)
        pq.write_table(pa.table({"minute": pa.array((start + offsets * 60), pa.timestamp("s", tz="UTC")),
                                 "requests": requests, "failures": failures}), folder / "part-0.parquet")
    return root


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_scheduler(port, cwd, env=None):
    """`dask scheduler` on ``port``, returned once it listens: what a worker started next needs (its nanny gives up
    when it cannot connect within distributed's connect timeout, 30 s). The scheduler says so itself: it writes its
    --scheduler-file once its listeners are up (a port that merely accepts a connection may be another process's).
    A flat 2 s wait stood here: wasted on a quiet host, and no proof on a loaded one. Its output goes to
    cwd/scheduler.log, quoted if it ends, or has not said it listens within 60 s (the Client's timeout below)."""
    told, logged = Path(cwd) / "scheduler.json", Path(cwd) / "scheduler.log"
    told.unlink(missing_ok=True)  # a scheduler started before in cwd (stopped by SIGKILL, it leaves it)
    with open(logged, "ab") as log:
        process = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "dask"), "scheduler", "--host",
                                    "127.0.0.1", "--port", str(port), "--dashboard-address", ":0", "--scheduler-file",
                                    str(told)], cwd=cwd, env=env, stdout=log, stderr=log)
    deadline = time.monotonic() + 60
    while process.poll() is None and time.monotonic() < deadline:
        try:
            address = json.loads(told.read_text())["address"]
        except (OSError, ValueError):  # not yet written, or written part-way (it is not written atomically)
            time.sleep(0.05)
            continue
        assert address == f"tcp://127.0.0.1:{port}", address
        return process
    process.kill()
    process.wait()
    raise AssertionError(f"dask scheduler on port {port} did not say it listens (exit {process.returncode}): "
                         f"{logged.read_text(errors='replace')[-2000:]}")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """`dask scheduler` and two `dask worker` processes, started in another working directory than ours."""
    elsewhere = tmp_path_factory.mktemp("workers-cwd")
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    bin_dir = os.path.dirname(sys.executable)
    env = dict(os.environ, PYTHONPATH="")
    processes = [start_scheduler(port, elsewhere, env)]
    for _ in range(2):
        processes.append(subprocess.Popen([os.path.join(bin_dir, "dask"), "worker", address, "--nthreads", "1",
                                           "--nworkers", "1", "--no-dashboard"], cwd=elsewhere, env=env,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    from distributed import Client

    with Client(address, timeout="60s") as client:
        client.wait_for_workers(2, timeout=60)
    try:
        yield address
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            process.wait(timeout=30)


def run(*args, cwd=REPO):
    done = subprocess.run([sys.executable, "-c", WRAPPER, *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=600)
    peak = int(done.stderr.rsplit("PEAK_KB", 1)[1].split()[0]) * 1024
    return done.returncode, done.stdout, done.stderr, peak


def commands(data, tmp_path, tag):
    claim = tmp_path / "claim.json"
    claim.write_text(json.dumps({"account": "acct-07", "service_month": "2019-03", "filed_at": "2019-04-10T10:00+08:00",
                                 "channel": "work_order", "event_report": "calls failed",
                                 "unavailability": [{"start": "2019-03-10T10:00+08:00", "end": "2019-03-10T11:30+08:00"}],
                                 "failure_records": ["call-1"]}))
    billing = tmp_path / "billing.csv"
    billing.write_text("account,month,monthly_fee,offset\n" + "".join(f"acct-{a:02d},2019-03,1000.00,0.00\n"
                                                                     for a in range(ACCOUNTS)))
    # Relative policy paths, as in the README: the workers run in another directory and get the content.
    return {
        "evaluate": ["evaluate", "policies/ccc", "--minutes", data, "--month", "2019-03", "--billing", billing],
        "claim": ["claim", "policies/ccc", claim, "--minutes", data, "--billing", billing,
                  "--ledger", tmp_path / f"ledger-{tag}.sqlite", "--now", "2019-04-20T10:00+08:00"],
        "replay": ["replay", "policies/ccc", "--minutes", data, "--from", "2019-03", "--to", "2019-03",
                   "--under", DRAFT.relative_to(REPO), "--billing", billing],
    }


def test_dask_gives_the_same_json_and_the_client_never_holds_the_rows(cluster, tmp_path):
    big = write_dataset(tmp_path / "big", ACCOUNTS, MINUTES)  # 40 × 44,640 = 1,785,600 rows
    small = write_dataset(tmp_path / "small", 1, 1440)
    local = {name: run(*args) for name, args in commands(big, tmp_path, "local").items()}
    remote = {name: run(*args, "--dask", cluster) for name, args in commands(big, tmp_path, "dask").items()}
    for name in local:
        assert local[name][0] == 0 and remote[name][0] == 0, (name, local[name][2][-2000:], remote[name][2][-2000:])
        assert remote[name][1] == local[name][1], name  # byte-identical JSON
    evaluations = json.loads(remote["evaluate"][1])["evaluations"]
    assert len(evaluations) == ACCOUNTS and evaluations[7]["unavailable_minutes"] == 60  # 2 % failed for 60 minutes
    # 60 of 44,640 minutes: 99.87 %, which meets the 99.5 % standard (§2.2)
    claim = json.loads(remote["claim"][1])
    assert (claim["decision"], [r["code"] for r in claim["reasons"]]) == ("denied", ["standard_met"])
    assert json.loads(remote["replay"][1])["rows_read"] == ACCOUNTS * MINUTES
    # The client's fixed cost (imports, the Dask client) from a one-account, one-day dataset; holding the big
    # dataset's rows would add at least 1,785,600 × 28 bytes (minute, requests, failures as int64, account
    # index as int32) = 50 MB. The client's peak may grow by less than half of that.
    fixed = run(*commands(small, tmp_path, "small")["evaluate"], "--dask", cluster)
    assert fixed[0] == 0, fixed[2][-2000:]
    holding = ACCOUNTS * MINUTES * 28
    for name in remote:
        assert remote[name][3] - fixed[3] < holding / 2, (name, remote[name][3], fixed[3])


def test_a_replay_of_months_without_data_on_dask_says_where_the_rows_lie_as_here(cluster, tmp_path):
    # The rows' first and last minute come back from the workers with their counts (PartSummary.seen).
    import pyarrow as pa
    import pyarrow.parquet as pq

    minutes = tmp_path / "m.parquet"  # minutes as text: the row group is read, wherever the tasks run
    pq.write_table(pa.table({"account": ["acme", "acme"], "minute": ["2019-03-12T09:00", "2019-04-02T10:00"],
                             "requests": [5, 5], "failures": [0, 5]}), minutes)
    args = ["replay", "policies/ccc", "--minutes", minutes, "--from", "2019-06", "--to", "2019-07", "--under",
            DRAFT.relative_to(REPO)]
    local, remote = run(*args), run(*args, "--dask", cluster)
    said = ("slapolicy: no account has minutes or billing from 2019-06 to 2019-07: nothing to replay (check the months "
            "replayed, and that the minutes and billing given are the files meant; the minutes' rows run from "
            "2019-03-12 09:00 to 2019-04-02 10:00 (Asia/Singapore): Service Months 2019-03 to 2019-04)\n")
    assert (local[0], local[2].split("\nPEAK_KB")[0]) == (0, said)
    assert (remote[0], remote[1], remote[2].split("\nPEAK_KB")[0]) == (0, local[1], said)
    assert json.loads(remote[1])["rows_read"] == 2


def test_workers_evaluate_the_account_months_of_evaluate_too(tmp_path, monkeypatch):
    """With workers, evaluate sends the account-months to them as it sends the parts (a month of many accounts
    is not evaluated by the client alone), with the same result; an engine with its own plugin manager
    evaluates in this process, since the workers evaluate with the installed plugins."""
    from slapolicy import Engine
    from slapolicy.distributed import Runner
    from slapolicy.plugins import make_manager

    sent = []
    real = Runner.map

    def spy(self, fn, *iterables, **options):
        sent.append(fn.__name__)
        return real(self, fn, *iterables, **options)

    monkeypatch.setattr(Runner, "map", spy)
    inputs = dict(minutes=str(EXAMPLES / "minutes.csv"), month="2019-03", incidents=str(EXAMPLES / "incidents.yaml"),
                  notices=str(EXAMPLES / "notices.yaml"), billing=str(EXAMPLES / "billing.csv"))
    here = Engine(POLICIES).evaluate(**inputs)
    assert sent == ["read_part"]
    sent.clear()
    there = Engine(POLICIES).evaluate(**inputs, workers=2)
    assert sent == ["read_part", "evaluate_chunk"]
    assert json.dumps(there) == json.dumps(here)
    assert [e["account"] for e in there["evaluations"]] == ["acme", "globex", "initech"]
    sent.clear()
    assert json.dumps(Engine(POLICIES, manager=make_manager()).evaluate(**inputs, workers=2)) == json.dumps(here)
    assert sent == ["read_part"]


def scheduler_clients(address):
    """The ids of the clients connected to the scheduler now, but the one asking."""
    from distributed import Client

    with Client(address, timeout="20s", set_as_default=False) as observer:
        return set(observer.run_on_scheduler(lambda dask_scheduler: list(dask_scheduler.clients))) - {observer.id}


def test_an_engine_keeps_one_dask_client_for_all_its_calls_and_threads_and_closes_it(cluster, tmp_path):
    """A service calling evaluate repeatedly on one Engine(dask=...) connects once, not once per call."""
    from concurrent.futures import ThreadPoolExecutor

    from slapolicy import Engine

    inputs = dict(minutes=str(write_dataset(tmp_path / "data", 3, 10 * 1440)), month="2019-03")
    here = json.dumps(Engine(POLICIES).evaluate(**inputs))
    before = scheduler_clients(cluster)
    with Engine(POLICIES, dask=cluster) as engine:
        first = engine.evaluate(**inputs)
        opened = scheduler_clients(cluster) - before
        assert len(opened) == 1  # kept after the call (a client per call was closed at its end)
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(lambda _: engine.evaluate(**inputs), range(4)))
        assert scheduler_clients(cluster) - before == opened  # the same client for every call and thread
    deadline = time.monotonic() + 30
    while scheduler_clients(cluster) - before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert scheduler_clients(cluster) - before == set()  # closed with the engine
    assert [json.dumps(r) for r in [first, *results]] == [here] * 5
    # 3 accounts of 10 days each, over 1 % failed for 60 minutes of the 10th: 60 unavailable each (§1.5)
    assert [e["unavailable_minutes"] for e in first["evaluations"]] == [60, 60, 60]


def test_serve_with_dask_keeps_one_client_for_every_request(cluster, tmp_path):
    """`slapolicy serve --dask ADDRESS`: one client, connected before it listens, for every request."""
    from serving import as_served, serving
    from slapolicy import Engine

    data = write_dataset(tmp_path / "data", 3, 10 * 1440)
    here = as_served(Engine(POLICIES).evaluate(minutes=str(data), month="2019-03"))  # without billing: see as_served
    before = scheduler_clients(cluster)
    with serving(POLICIES, "--minutes", data, "--dask", cluster, "--ledger", tmp_path / "ledger.sqlite") as server:
        connected = scheduler_clients(cluster) - before
        assert len(connected) == 1  # before the first request
        for _ in range(3):
            status, _, body = server.call("POST", "/v1/evaluate", {"month": "2019-03"})
            assert (status, body) == (200, here)
        assert scheduler_clients(cluster) - before == connected
    assert server.process.returncode == 0, server.stderr
    deadline = time.monotonic() + 30
    while scheduler_clients(cluster) - before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert scheduler_clients(cluster) - before == set()  # closed when the server stopped


def test_serve_with_an_unreachable_scheduler_exits_1_before_it_listens(tmp_path):
    address = f"tcp://127.0.0.1:{free_port()}"  # nothing listens there
    done = subprocess.run([sys.executable, "-m", "slapolicy.cli", "serve", str(POLICIES), "--port", "0", "--dask",
                           address], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.startswith(f"slapolicy: cannot reach the Dask scheduler at {address}: ")
    assert done.stderr.count("\n") == 1


def test_an_engine_keeps_one_process_pool_for_its_calls(tmp_path):
    from slapolicy import Engine

    inputs = dict(minutes=str(EXAMPLES / "minutes.csv"), month="2019-03", billing=str(EXAMPLES / "billing.csv"))
    here = json.dumps(Engine(POLICIES).evaluate(**inputs))
    with Engine(POLICIES, workers=2) as engine:
        assert json.dumps(engine.evaluate(**inputs)) == here
        pool = engine._runner._pool
        assert pool is not None
        assert json.dumps(engine.evaluate(**inputs)) == here
        assert engine._runner._pool is pool  # the processes started once
        # A call that names its own runner gets one for that call, closed at its end.
        assert json.dumps(engine.evaluate(**inputs, workers=1)) == here
        assert engine._runner._pool is pool
    assert engine._runner._pool is None


FORKED_ENGINE = """
import json, os, sys, warnings
from slapolicy import Engine

if __name__ == "__main__":
    inputs = dict(minutes=sys.argv[1], month="2019-03", billing=sys.argv[2])
    engine = Engine(sys.argv[3], workers=2)
    before = json.dumps(engine.evaluate(**inputs))
    # Python 3.12+ warns that this fork is of a process with threads (the pool's): the fork is what the test is of.
    warnings.filterwarnings("ignore", "This process .* is multi-threaded", DeprecationWarning)
    child = os.fork()
    if child == 0:  # a server that made its engine before forking its workers (gunicorn --preload, say)
        import signal
        signal.alarm(40)  # never left behind, waiting
        try:
            same = json.dumps(engine.evaluate(**inputs)) == before
            engine.close()
            os.write(1, b"child: same\\n" if same else b"child: differs\\n")
        finally:
            os._exit(0)
    os.waitpid(child, 0)
    print("parent:", "same" if json.dumps(engine.evaluate(**inputs)) == before else "differs")
    engine.close()
"""


# A thread forks the reading's helper while the program's main thread adds a warnings filter: the fork swapped the
# process's filters (warnings.catch_warnings) and put back, after it, those it saw before, and the program's filter
# was lost. The fork waits for the at-fork hooks (here one that waits until the filter is added).
FILTER_DURING_A_FORK = """
import os, threading, warnings
import slapolicy.distributed as distributed
entered, added = threading.Event(), threading.Event()
os.register_at_fork(before=lambda: threading.current_thread() is not threading.main_thread()
                    and (entered.set(), added.wait()))

def fork():
    child = distributed._fork_quietly()
    if child == 0:
        os._exit(0)
    os.waitpid(child, 0)

thread = threading.Thread(target=fork)
thread.start()
entered.wait()
warnings.filterwarnings("error", "the program's own")
added.set()
thread.join()
print([f[1].pattern for f in warnings.filters if f[1] is not None and f[1].pattern == "the program's own"])
"""


def test_a_fork_of_the_helper_keeps_the_filters_another_thread_adds(tmp_path):
    script = tmp_path / "fork.py"
    script.write_text(FILTER_DURING_A_FORK)
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    # the program's filter stays; the fork's own warning (another thread runs) is not shown
    assert (run.returncode, run.stdout, run.stderr) == (0, "[\"the program's own\"]\n", "")


def test_an_engine_with_workers_inherited_by_a_forked_process_starts_its_own_there(tmp_path):
    # The child of a fork (a server's worker forked after the engine was made) used the parent's process pool, whose
    # threads and pipes are the parent's: its first call waited for ever. It now starts a pool of its own, and the
    # parent's pool goes on serving the parent.
    script = tmp_path / "forked.py"
    script.write_text(FORKED_ENGINE)
    run = subprocess.run([sys.executable, str(script), str(EXAMPLES / "minutes.csv"), str(EXAMPLES / "billing.csv"),
                          str(POLICIES)], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert (run.returncode, run.stdout, run.stderr) == (0, "child: same\nparent: same\n", "")


def test_an_engine_connected_with_workers_has_its_processes_running_before_its_first_call(tmp_path):
    """ProcessPoolExecutor starts its processes at the first task: a service would start them at its first request.
    connect() (what serve does before it listens) starts both and waits for them; the first call starts none."""
    import multiprocessing

    from slapolicy import Engine

    inputs = dict(minutes=str(EXAMPLES / "minutes.csv"), month="2019-03", billing=str(EXAMPLES / "billing.csv"))
    here = json.dumps(Engine(POLICIES).evaluate(**inputs))
    before = set(multiprocessing.active_children())
    with Engine(POLICIES, workers=2) as engine:
        assert set(multiprocessing.active_children()) == before  # made, not yet connected: nothing started
        engine.connect()
        started = set(multiprocessing.active_children()) - before
        assert len(started) == 2 and all(process.is_alive() for process in started)
        assert json.dumps(engine.evaluate(**inputs)) == here
        assert set(multiprocessing.active_children()) - before == started  # the first call started none
    assert set(multiprocessing.active_children()) - before == set()  # stopped with the engine


def modules_loaded(_) -> list:
    """A task: which of the modules a reading of local files never needs the worker process running it has loaded."""
    return sorted(m for m in ("pyarrow.parquet", "pyarrow.fs", "pyarrow.dataset") if m in sys.modules)


def test_worker_processes_load_no_module_their_tasks_on_local_files_do_not(tmp_path):
    # A worker's first task (distributed._started) imported pyarrow.parquet, which loads pyarrow's file systems (SSL,
    # S3, GCS, HDFS): 12-20 ms and ~5 MB of every worker, which a reading of local files never uses (LocalParquet).
    from slapolicy import Engine

    inputs = dict(minutes=str(EXAMPLES / "minutes.csv"), start="2019-03", end="2019-03", under=str(DRAFT),
                  billing=str(EXAMPLES / "billing.csv"))
    here = json.dumps(Engine(POLICIES).replay(**inputs))
    with Engine(POLICIES, workers=2) as engine:
        engine.connect()
        assert engine._runner.map(modules_loaded, [0, 1]) == [[], []]
        assert json.dumps(engine.replay(**inputs)) == here
        assert engine._runner.map(modules_loaded, [0, 1]) == [[], []]


def broken_site(tmp_path):
    """A PYTHONPATH whose sitecustomize ends every worker process as it starts (before it can take a task), as a
    broken environment does; the process that starts them is not touched."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        "import os, sys\n"
        "if '--multiprocessing-fork' in sys.argv:\n"
        "    sys.stderr.write('worker: broken environment\\n')\n"
        "    sys.stderr.flush()\n"
        "    os._exit(1)\n")
    return os.pathsep.join([str(site), *filter(None, [os.environ.get("PYTHONPATH")])])


STARTING = ("cannot start 2 worker processes: one ended as it started (what it printed, if anything, is above "
            "this line)")


def test_an_engine_whose_worker_processes_cannot_start_says_so_at_connect(tmp_path, monkeypatch):
    from slapolicy import Engine
    from slapolicy.errors import SlapolicyError

    monkeypatch.setenv("PYTHONPATH", broken_site(tmp_path))  # read by the processes spawned from now on
    with Engine(POLICIES, workers=2) as engine:
        with pytest.raises(SlapolicyError, match=f"^{re.escape(STARTING)}$"):
            engine.connect()
        assert engine._runner._pool is None  # the broken pool is not kept: the next call starts a new one
        monkeypatch.delenv("PYTHONPATH")
        engine.connect()  # the environment mended, the same engine starts its processes
        assert engine._runner._pool is not None


def test_serve_whose_worker_processes_cannot_start_exits_1_before_it_listens(tmp_path):
    env = os.environ | {"PYTHONPATH": broken_site(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "slapolicy.cli", "serve", str(POLICIES), "--port", "0", "--workers",
                           "2"], capture_output=True, text=True, timeout=120, cwd=REPO, env=env)
    assert (done.returncode, done.stdout) == (1, "")  # no banner: it never said it listens
    lines = done.stderr.splitlines()
    assert lines[-1] == f"slapolicy: {STARTING}"
    assert set(lines[:-1]) == {"worker: broken environment"}


def test_an_engine_whose_worker_process_died_starts_a_new_pool_instead_of_failing_every_call(tmp_path):
    """A worker of the kept pool killed between calls (the OOM killer picks the largest process): the pool is
    broken for good, and every later call of a long-running serve failed with BrokenProcessPool. The next call
    gets a fresh pool and the same answer."""
    import signal

    from slapolicy import Engine

    inputs = dict(minutes=str(EXAMPLES / "minutes.csv"), month="2019-03", billing=str(EXAMPLES / "billing.csv"))
    here = json.dumps(Engine(POLICIES).evaluate(**inputs))
    with Engine(POLICIES, workers=2) as engine:
        assert json.dumps(engine.evaluate(**inputs)) == here
        broken = engine._runner._pool
        os.kill(next(iter(broken._processes)), signal.SIGKILL)
        deadline = time.monotonic() + 30
        while not broken._broken and time.monotonic() < deadline:  # the pool notices the death on its own thread
            time.sleep(0.05)
        assert broken._broken
        assert json.dumps(engine.evaluate(**inputs)) == here
        assert engine._runner._pool is not broken and engine._runner._pool is not None
        assert json.dumps(engine.evaluate(**inputs)) == here


def test_a_dask_scheduler_not_reached_leaves_no_thread_behind():
    """A Client that cannot reach its scheduler raises from its constructor, and its event loop's thread ('IO loop')
    ran on for the process's life, one more at each attempt: a service asked again and again kept them all, and the
    suite's tests of the early helper (which forks only with no other thread) and of a lost scheduler failed after
    test_replay's unreachable scheduler, files run in reverse order. Each call is the error, and no thread is left."""
    from slapolicy import Engine
    from slapolicy.errors import SchedulerUnavailable

    inputs = dict(minutes=str(EXAMPLES / "minutes.csv"), month="2019-03", billing=str(EXAMPLES / "billing.csv"))
    before = {thread.name for thread in threading.enumerate()}
    with Engine(POLICIES, dask="tcp://127.0.0.1:9") as engine:
        for _ in range(2):
            with pytest.raises(SchedulerUnavailable, match="^cannot reach the Dask scheduler at tcp://127.0.0.1:9: "):
                engine.evaluate(**inputs)
            assert [t.name for t in threading.enumerate() if t.name not in before] == []


def test_an_engine_whose_dask_scheduler_went_away_connects_again_when_it_is_back(tmp_path):
    """The kept client of a service closes itself when the scheduler is lost, and every later call failed with
    ClosedClientError, the scheduler back or not. A call while it is away is an error that names the scheduler
    (exit 1 on the command line, not a traceback); once it is back, the next call connects again."""
    from slapolicy import Engine
    from slapolicy.errors import SlapolicyError

    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    bin_dir = os.path.dirname(sys.executable)

    def start():
        started = [start_scheduler(port, tmp_path)]
        started.append(subprocess.Popen([os.path.join(bin_dir, "dask"), "worker", address, "--nthreads", "1",
                                         "--no-dashboard"], cwd=tmp_path, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL))
        from distributed import Client

        with Client(address, timeout="60s") as client:
            client.wait_for_workers(1, timeout=60)
        return started

    def stop(started):
        for process in reversed(started):
            process.terminate()
        for process in started:
            process.wait(timeout=30)

    inputs = dict(minutes=str(EXAMPLES / "minutes.csv"), month="2019-03", billing=str(EXAMPLES / "billing.csv"))
    here = json.dumps(Engine(POLICIES).evaluate(**inputs))
    processes = start()
    try:
        with Engine(POLICIES, dask=address) as engine:
            assert json.dumps(engine.evaluate(**inputs)) == here
            stop(processes)
            processes = []
            with pytest.raises(SlapolicyError, match=f"^lost the Dask scheduler at {address}"):
                engine.evaluate(**inputs)
            processes = start()
            assert json.dumps(engine.evaluate(**inputs)) == here
        # the lost client's event loop ended with it: its idle thread was left for the process's life, and the early
        # helper (forked only with no other thread) never forked in this process again (tests/test_early_helper.py)
        assert [t.name for t in threading.enumerate() if t.name == "IO loop"] == []
    finally:
        stop(processes)


def test_dask_workers_open_minutes_named_by_url(cluster, tmp_path):
    """A file:// URL reaches the workers as each part's URL, which they open themselves (as they would s3://)."""
    data = write_dataset(tmp_path / "by-url", 3, 1440)
    args = commands(data, tmp_path, "url")["evaluate"]
    by_path = run(*args)
    by_url = run(*[data.as_uri() if a == data else a for a in args], "--dask", cluster)
    assert by_path[0] == 0 and by_url[0] == 0, (by_path[2][-2000:], by_url[2][-2000:])
    assert by_url[1] == by_path[1]
    evaluations = json.loads(by_url[1])["evaluations"]  # every billed account; three have a day of minutes
    assert [(e["account"], e["minutes_with_data"]) for e in evaluations if e["minutes_with_data"]] == [
        ("acct-00", 1440), ("acct-01", 1440), ("acct-02", 1440)]


BAD_FEE = "account,month,monthly_fee,offset\nacme,2019-03,abc,0.00\n"


def bad_fee(billing) -> str:
    return f"{billing}: row 1 (line 2), column 'monthly_fee': 'abc' is not an amount of money (a decimal like 1000.00)"


def test_a_bad_billing_cancels_the_parts_on_an_engines_process_pool_which_stays_usable(tmp_path, monkeypatch):
    """40 files of acme's minutes, a part (a task) each, on an Engine's two processes; each task leaves a file as it
    starts and holds until the reading is cancelled. The billing's problem is raised alone; the parts not sent
    to a process are cancelled: at most the two running and the one queued behind them (ProcessPoolExecutor
    queues one call more than it has processes) ever start, not 40. The same pool then evaluates the next call."""
    import slapolicy.distributed as distributed
    import slapolicy.minutes.aggregates as aggregates
    from helpers import counted_read_part, many_batches_parquet
    from slapolicy import Engine
    from slapolicy.errors import InputError

    minutes, tasks, billing = tmp_path / "minutes", tmp_path / "tasks", tmp_path / "billing.csv"
    minutes.mkdir()
    tasks.mkdir()
    for k in range(40):  # acme's minutes 10k to 10k + 9
        many_batches_parquet(minutes / f"part-{k:02d}.parquet", groups=1, skip=10 * k)
    billing.write_text(BAD_FEE)
    real_cancel = distributed.Cancellation.cancel

    def cancel(cancellation):
        real_cancel(cancellation)
        (tasks / "cancelled").touch()

    monkeypatch.setenv("SLAPOLICY_TEST_TASKS", str(tasks))  # before the processes start: they inherit it
    monkeypatch.setattr(aggregates, "read_part", counted_read_part)
    monkeypatch.setattr(distributed.Cancellation, "cancel", cancel)

    def count(kind):
        return len(list(tasks.glob(f"{kind}-*")))

    good = dict(minutes=str(minutes), month="2019-03", billing=str(EXAMPLES / "billing.csv"))
    with Engine(POLICIES, workers=2) as engine:
        with pytest.raises(InputError) as raised:
            engine.evaluate(minutes=str(minutes), month="2019-03", billing=str(billing))
        assert str(raised.value).splitlines()[1:] == [bad_fee(billing)]
        assert count("started") <= 3
        pool = engine._runner._pool
        result = engine.evaluate(**good)
        assert engine._runner._pool is pool  # the same processes
        assert 40 <= count("started") <= 43
    monkeypatch.undo()
    # acme's 400 minutes, none failing: 100.00 %, no credit; globex and initech, billed without minutes, too
    assert json.dumps(result) == json.dumps(Engine(POLICIES).evaluate(**good))
    assert [(e["account"], e["availability_percent"], e["compensation"]) for e in result["evaluations"]] == \
        [("acme", "100.00", "0.00"), ("globex", "100.00", "0.00"), ("initech", "100.00", "0.00")]


def test_a_bad_billing_cancels_the_parts_on_dask_and_the_engines_client_stays_usable(cluster, tmp_path, monkeypatch):
    """The reading's futures are cancelled on the cluster and the client stops waiting for them (the reading of
    12 parts ends Cancelled, found in ms, not after its parts): the billing's problem is raised alone, and the
    Engine's client, still connected, gives the next call the in-process JSON."""
    from slapolicy import Engine
    from slapolicy.distributed import Runner
    from slapolicy.errors import InputError

    ended, real = [], Runner._on_dask

    def watched(runner, fn, *args):
        try:
            return real(runner, fn, *args)
        except BaseException as exc:
            ended.append(type(exc).__name__)
            raise
        finally:
            ended.append(fn.__name__)

    monkeypatch.setattr(Runner, "_on_dask", watched)

    billing = tmp_path / "billing.csv"
    billing.write_text(BAD_FEE)
    inputs = dict(minutes=str(write_dataset(tmp_path / "data", 12, 10 * 1440)), month="2019-03")
    here = json.dumps(Engine(POLICIES).evaluate(**inputs))
    with Engine(POLICIES, dask=cluster) as engine:
        with pytest.raises(InputError) as raised:
            engine.evaluate(**inputs, billing=str(billing))
        assert str(raised.value).splitlines()[1:] == [bad_fee(billing)]
        assert ended == ["Cancelled", "read_part"]
        client = engine._runner._client
        assert json.dumps(engine.evaluate(**inputs)) == here
        assert engine._runner._client is client
        assert ended[2:] == ["read_part", "evaluate_chunk"]


def test_a_failing_task_on_dask_cancels_the_tasks_not_started_and_the_client_stays_usable(cluster, tmp_path):
    """12 tasks on the cluster's two one-thread workers; the first fails at once, each other one takes 0.5 s and
    leaves a file as it starts. The map raises the task's error, and the tasks not started are cancelled on the
    cluster then, not when the futures are garbage (the error raised, with its traceback, holds them: a caller
    that keeps the exception would let 11 tasks, 3 s of the workers, run for nothing). The runner's client then
    runs the next map."""
    from slapolicy.distributed import Runner

    def task(k, marks):
        import pathlib
        import time

        pathlib.Path(marks, f"started-{k}").touch()
        if k == 0:
            raise ValueError("task 0 fails")
        time.sleep(0.5)
        return k

    with Runner(dask=cluster) as runner:
        with pytest.raises(ValueError, match="^task 0 fails$") as raised:
            runner.map(task, range(12), [str(tmp_path)] * 12)
        time.sleep(4)  # time for the 11 others to run, two at a time, had they not been cancelled
        started = sorted(int(p.name.split("-")[1]) for p in tmp_path.glob("started-*"))
        # 0 and the ones running as it failed (one a worker); the error is still held here (``raised``)
        assert started[0] == 0 and len(started) <= 4, started
        assert str(raised.value) == "task 0 fails"
        for mark in tmp_path.glob("started-*"):
            mark.unlink()
        assert runner.map(task, [1, 2], [str(tmp_path)] * 2) == [1, 2]


# The CLI as a process of its own, its parts read by a function of __main__ (sent to the Dask workers by value, as
# cloudpickle sends what they cannot import) that leaves a file as it starts, then holds until a file `release`
# is there (or 30 s): Ctrl-C is sent while the parts hold.
HELD_ON_DASK = """
import os, signal, sys, time
import slapolicy.minutes.aggregates as aggregates
from slapolicy.cli import main
signal.signal(signal.SIGINT, signal.default_int_handler)  # as a terminal's foreground job has it
TASKS = sys.argv[1]
def held(part, request, *picked):
    import os, time, uuid
    from slapolicy.minutes.reduce import read_part
    open(os.path.join(TASKS, "started-" + uuid.uuid4().hex), "w").close()
    deadline = time.monotonic() + 30
    while not os.path.exists(os.path.join(TASKS, "release")) and time.monotonic() < deadline:
        time.sleep(0.05)
    return read_part(part, request, *picked)
aggregates.read_part = held
sys.argv = ["slapolicy", *sys.argv[2:]]
sys.exit(main())
"""


def test_ctrl_c_with_dask_cancels_the_tasks_and_ends_without_waiting_for_those_running(cluster, tmp_path):
    """evaluate --dask: both workers hold a part (of 4). Ctrl-C ends the command within seconds with 130 and
    its one line, no output; the tasks not started are cancelled on the cluster (no part starts after it), and
    the two running run on to their end there (Dask cannot stop a running task: docs/cli.md)."""
    data = write_dataset(tmp_path / "data", 4, 1440)
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    command = ["evaluate", POLICIES, "--month", "2019-03", "--minutes", data, "--dask", cluster]
    process = subprocess.Popen([sys.executable, "-c", HELD_ON_DASK, str(tasks), *map(str, command)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while len(list(tasks.glob("started-*"))) < 2 and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(list(tasks.glob("started-*"))) == 2, process.communicate(timeout=60)
        sent = time.monotonic()
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
        took = time.monotonic() - sent
        assert (process.returncode, out, err) == (130, "", "slapolicy: interrupted\n")
        assert took < 10  # the parts hold for 30 s
    finally:
        (tasks / "release").touch()
        if process.poll() is None:
            process.kill()
            process.wait()
    time.sleep(2)  # the two released parts end; a task not cancelled would start now
    assert len(list(tasks.glob("started-*"))) == 2


def test_evaluate_for_accounts_named_by_url_on_dask_as_in_this_process(cluster, tmp_path):
    """`evaluate --account` of minutes named by a file:// URL, on the workers: an account of a percent-escaped
    directory, one written with spaces around it, one of no minute, and a CSV where another account's row is bad
    give what this process gives from the path, byte for byte, with the exact figures and messages."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    root = tmp_path / "by url"  # a space in the path: %20 in its URL
    # 12 March 2019 09:00 and 09:01 (policy time): 5 requests each, 5 failures in the first: 2 minutes with data, 1
    # unavailable (0 % < 99 %, §1.5) for each account.
    for directory in ("account=acme", "account=a%2Fb", "account=%20spaced%20"):
        (root / "month=2019-03" / directory).mkdir(parents=True)
        pq.write_table(pa.table({"minute": ["2019-03-12T09:00", "2019-03-12T09:01"], "requests": [5, 5],
                                 "failures": [5, 0]}), root / "month=2019-03" / directory / "part-0.parquet")
    csv = tmp_path / "other.csv"
    csv.write_text("account,minute,requests,failures\nacme,2019-03-12T09:00,5,5\nglobex,2019-03-12T09:00,x,5\n")

    def evaluate(minutes, account, *dask):
        return run("evaluate", POLICIES, "--minutes", minutes, "--month", "2019-03", "--account", account, *dask)[:3]

    for account, shown in (("acme", "acme"), ("a/b", "a/b"), ("spaced", "spaced"), ("  a/b ", "a/b")):
        there = evaluate(root.as_uri() + "/", account, "--dask", cluster)
        assert there[:2] == evaluate(root, account)[:2], there[2][-2000:]
        (evaluation,) = json.loads(there[1])["evaluations"]
        assert (evaluation["account"], evaluation["minutes_with_data"], evaluation["unavailable_minutes"]) == (shown, 2, 1)
    nobody = evaluate(root.as_uri(), "nobody", "--dask", cluster)
    assert (nobody[0], nobody[1], nobody[2].split("\nPEAK_KB")[0]) == (
        1, "", "slapolicy: account(s) nobody have no minutes or billing for 2019-03\n")
    acme = evaluate(csv.as_uri(), "acme", "--dask", cluster)
    assert acme[:2] == evaluate(csv, "acme")[:2]
    assert [e["minutes_with_data"] for e in json.loads(acme[1])["evaluations"]] == [1]
    globex = evaluate(csv.as_uri(), "globex", "--dask", cluster)
    assert (globex[0], globex[1], globex[2].split("\nPEAK_KB")[0]) == (1, "", (
        f"slapolicy: 1 problem(s) in minutes file {csv.as_uri()}:\n"
        f"{csv.as_uri()}: row 2 (line 3), column 'requests': 'x' is not a whole number\n"))


def test_a_json_lines_file_is_read_in_pieces_by_the_workers_with_the_same_result_and_messages(cluster, tmp_path,
                                                                                               monkeypatch):
    """A JSON Lines file of ~80 KiB in pieces of 4 KiB: each piece is a task the workers read from the file's path
    or URL themselves; the evaluation is this process's whole reading, byte for byte, and a problem in a late piece
    is named by its row and line in the file, as one reading names it (the file is read again whole)."""
    from slapolicy import Engine, InputError
    from slapolicy.minutes import readers

    rows = [{"account": name, "minute": f"2019-03-01T{10 + i // 60:02d}:{i % 60:02d}", "requests": 100,
             "failures": 2 if i % 10 == 0 else 0} for name in ("a", "b", "c") for i in range(300)]
    path = tmp_path / "m.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    here = json.dumps(Engine(POLICIES).evaluate(minutes=path, month="2019-03"))
    monkeypatch.setattr(readers, "JSONL_PIECE_BYTES", 4096)
    for minutes in (path, path.as_uri()):
        assert json.dumps(Engine(POLICIES).evaluate(minutes=minutes, month="2019-03", dask=cluster)) == here
    # 300 minutes each from 10:00, every tenth 2 % failed: 30 unavailable.
    assert [(e["account"], e["unavailable_minutes"]) for e in json.loads(here)["evaluations"]] == [
        ("a", 30), ("b", 30), ("c", 30)]
    rows[800]["failures"] = 101  # row 801, line 801: in the 18th piece or so
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    with pytest.raises(InputError) as refused:
        Engine(POLICIES).evaluate(minutes=path, month="2019-03", dask=cluster)
    assert str(refused.value) == (f"1 problem(s) in minutes file {path}:\n"
                                  f"{path}: row 801 (line 801), column 'failures': 101 failures exceed 100 requests")


def test_dask_without_the_dask_extra_says_how_to_install_it_into_the_python_that_runs_slapolicy(monkeypatch):
    # It said "pip install 'slapolicy[dask]'": a bare pip is whichever is first on PATH, and a user who installed as
    # README.md says (.venv, not activated) put the extra into another Python, as serve's message did (errors.missing_extra).
    import sys

    from slapolicy.distributed import Runner
    from slapolicy.errors import SlapolicyError

    monkeypatch.setitem(sys.modules, "distributed", None)  # importing it fails as if it were not installed
    with pytest.raises(SlapolicyError) as raised:
        Runner(dask="tcp://127.0.0.1:1")._dask_client()
    assert str(raised.value) == (f"--dask needs the dask extra (distributed is missing), in the Python that runs "
                                 f"slapolicy: {sys.executable} -m pip install 'slapolicy[dask]' (from the repository's "
                                 f"root: {sys.executable} -m pip install '.[dask]')")


# A module the worker processes import by name (spawned, they cannot import a function of the test's __main__): its
# read_part kills the process running it (SIGKILL, as the kernel's out-of-memory killer does) while a mark is left in
# KILL_MARKS, each mark one death; then reads as read_part does.
KILLER = """
import os, signal
from slapolicy.minutes.reduce import read_part as _read_part
def read_part(part, request, *picked):
    marks = os.environ["KILL_MARKS"]
    for name in sorted(os.listdir(marks)):
        try:
            os.remove(os.path.join(marks, name))
        except FileNotFoundError:  # another worker took it
            continue
        os.kill(os.getpid(), signal.SIGKILL)
    return _read_part(part, request, *picked)
"""
KILLED_CLI = """
import sys
import killer
import slapolicy.minutes.aggregates as aggregates
from slapolicy.cli import main
aggregates.read_part = killer.read_part
sys.exit(main(sys.argv[1:]))
"""


def killing_site(tmp_path, deaths):
    """A PYTHONPATH holding the module ``killer`` and KILL_MARKS holding ``deaths`` marks: the environment of a
    command whose worker processes die as they read."""
    site, marks = tmp_path / "killer-site", tmp_path / "marks"
    site.mkdir(exist_ok=True)
    marks.mkdir(exist_ok=True)
    (site / "killer.py").write_text(KILLER)
    for k in range(deaths):
        (marks / f"{k:03d}").touch()
    return dict(os.environ, KILL_MARKS=str(marks),
                PYTHONPATH=os.pathsep.join([str(site), *filter(None, [os.environ.get("PYTHONPATH")])])), marks


def test_worker_processes_killed_as_they_read_are_said_as_such_exit_1_and_nothing_is_written(tmp_path):
    """evaluate --workers 2 whose every worker process is killed as it reads (the OOM killer, again and again): it was
    'internal error, please report it: BrokenProcessPool: A process in the process pool was terminated abruptly
    ...', exit 3, as if slapolicy had a bug. Now exit 1, one line saying how the process ended and what to do, and
    --output's file left as it was."""
    data = write_dataset(tmp_path / "data", 4, 1440)
    env, marks = killing_site(tmp_path, 100)
    output = tmp_path / "report.json"
    output.write_text("yesterday's report")
    done = subprocess.run([sys.executable, "-c", KILLED_CLI, "evaluate", str(POLICIES), "--month", "2019-03",
                           "--minutes", str(data), "--workers", "2", "--output", str(output)],
                          capture_output=True, text=True, timeout=300, cwd=REPO, env=env)
    assert (done.returncode, done.stdout, done.stderr) == (1, "", (
        "slapolicy: a worker process ended abruptly as it ran a task (killed by signal 9, SIGKILL), and so did one of "
        "the new processes that ran the tasks again: the kernel's out-of-memory killer ends the largest process when "
        "memory runs out; give the machine more memory, or run fewer --workers processes\n"))
    assert output.read_text() == "yesterday's report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "killer-site", "marks", "report.json"]
    assert len(list(marks.iterdir())) < 100  # the processes did die


def test_a_worker_process_killed_once_as_it_reads_leaves_its_tasks_to_new_processes_and_the_same_json(tmp_path):
    data = write_dataset(tmp_path / "data", 4, 1440)
    command = ["evaluate", str(POLICIES), "--month", "2019-03", "--minutes", str(data)]
    here = subprocess.run([sys.executable, "-m", "slapolicy", *command], capture_output=True, text=True, timeout=300,
                          cwd=REPO)
    env, marks = killing_site(tmp_path, 1)
    done = subprocess.run([sys.executable, "-c", KILLED_CLI, *command, "--workers", "2"], capture_output=True,
                          text=True, timeout=300, cwd=REPO, env=env)
    assert (done.returncode, done.stdout, done.stderr) == (0, here.stdout, "")
    assert list(marks.iterdir()) == []  # one died


def test_an_engine_whose_worker_processes_are_killed_as_they_read_raises_workers_lost_and_mends(tmp_path, monkeypatch):
    """An Engine kept by a service: the call whose processes die twice raises WorkersLost (serve's 503, not a 500
    'internal error'); the next call, the processes no longer killed, starts new ones and answers."""
    from slapolicy import Engine, WorkersLost
    from slapolicy.minutes import aggregates

    data = write_dataset(tmp_path / "data", 4, 1440)
    env, marks = killing_site(tmp_path, 100)
    monkeypatch.setenv("KILL_MARKS", env["KILL_MARKS"])
    monkeypatch.setenv("PYTHONPATH", env["PYTHONPATH"])  # read by the processes spawned from now on
    monkeypatch.syspath_prepend(str(tmp_path / "killer-site"))
    import killer

    here = json.dumps(Engine(POLICIES).evaluate(minutes=str(data), month="2019-03"))
    monkeypatch.setattr(aggregates, "read_part", killer.read_part)
    with Engine(POLICIES, workers=2) as engine:
        with pytest.raises(WorkersLost, match=r"^a worker process ended abruptly as it ran a task \(killed by signal "
                                              r"9, SIGKILL\), and so did one of the new processes"):
            engine.evaluate(minutes=str(data), month="2019-03")
        for mark in marks.iterdir():
            mark.unlink()
        assert json.dumps(engine.evaluate(minutes=str(data), month="2019-03")) == here


# A read_part that kills the process reading the part named in KILL_PART (once, while a mark is in KILL_MARKS), after
# the other parts are read (each leaves its name in KILL_READ): their results are handed on before the death is seen.
KILLER_OF_ONE = """
import os, signal, time
from slapolicy.minutes.reduce import read_part as _read_part
def read_part(part, request, *picked):
    marks, done = os.environ["KILL_MARKS"], os.environ["KILL_READ"]
    if os.environ["KILL_PART"] in part.path and os.listdir(marks):
        deadline = time.monotonic() + 120
        while len(os.listdir(done)) < int(os.environ["KILL_AFTER"]) and time.monotonic() < deadline:
            time.sleep(0.02)
        for name in os.listdir(marks):
            os.remove(os.path.join(marks, name))
            os.kill(os.getpid(), signal.SIGKILL)
    summary = _read_part(part, request, *picked)
    open(os.path.join(done, os.path.basename(os.path.dirname(part.path))), "w").close()
    return summary
"""


def test_a_replays_row_counter_counts_each_part_once_after_a_worker_death(tmp_path, monkeypatch):
    """replay --workers shows 'read N minute rows' as the parts arrive: a worker killed after three of four parts had
    arrived ran the tasks again on new processes, and the counter counted those three again (5,760 + 4 × 1,440 rows
    shown of a month of 5,760). Now the parts read before the death are kept, neither read nor counted again."""
    from slapolicy import Engine
    from slapolicy.minutes import aggregates

    data = write_dataset(tmp_path / "data", 4, 1440)
    site, marks, done = tmp_path / "killer-site", tmp_path / "marks", tmp_path / "read"
    for folder in (site, marks, done):
        folder.mkdir()
    (site / "killer_of_one.py").write_text(KILLER_OF_ONE)
    (marks / "once").touch()
    for name, value in (("KILL_MARKS", marks), ("KILL_READ", done), ("KILL_PART", "account=acct-03"),
                        ("KILL_AFTER", 3)):
        monkeypatch.setenv(name, str(value))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(site), *filter(None, [os.environ.get("PYTHONPATH")])]))
    monkeypatch.syspath_prepend(str(site))
    import killer_of_one

    here = Engine(POLICIES).replay(minutes=str(data), start="2019-03", end="2019-03", under=DRAFT)
    monkeypatch.setattr(aggregates, "read_part", killer_of_one.read_part)
    shown = []
    with Engine(POLICIES, workers=2) as engine:
        there = engine.replay(minutes=str(data), start="2019-03", end="2019-03", under=DRAFT, progress=shown.append)
    assert list(marks.iterdir()) == []  # it died
    assert json.dumps(there) == json.dumps(here)
    assert shown == [1440, 2880, 4320, 5760]
    assert sorted(p.name for p in done.iterdir()) == [f"account=acct-{a:02d}" for a in range(4)]


def test_worker_processes_lost_are_a_503_not_a_bug():
    from starlette.requests import Request

    from slapolicy.errors import WorkersLost
    from slapolicy.service import problem_of

    lost = WorkersLost("a worker process ended abruptly as it ran a task (killed by signal 9, SIGKILL), and so did ...")
    problem = problem_of(lost)
    assert (problem.status, problem.kind, problem.title, problem.detail) == (
        503, "workers-lost", "The worker processes ended", str(lost))
    request = Request({"type": "http", "method": "POST", "path": "/v1/evaluate", "headers": []})
    assert problem.response(request).headers["retry-after"] == "1"


# The CLI as a process of its own whose parts are read by a function of __main__ (sent to the Dask workers by value)
# that kills the worker running it while a mark is left in the directory named first.
KILLED_ON_DASK = """
import sys
import slapolicy.minutes.aggregates as aggregates
from slapolicy.cli import main
MARKS = sys.argv[1]
def killing(part, request, *picked):
    import os, signal
    from slapolicy.minutes.reduce import read_part
    for name in sorted(os.listdir(MARKS)):
        try:
            os.remove(os.path.join(MARKS, name))
        except FileNotFoundError:
            continue
        os.kill(os.getpid(), signal.SIGKILL)
    return read_part(part, request, *picked)
aggregates.read_part = killing
sys.exit(main(sys.argv[2:]))
"""


def test_dask_workers_killed_as_they_read_once_give_the_same_json_and_every_time_exit_1(tmp_path):
    """A scheduler that tries a task again once (allowed-failures 1) and one worker, started again by its nanny. A
    worker killed once as it reads: the task runs again on the worker started again, the same JSON. Killed each time:
    Dask's KilledWorker was 'internal error, please report it', exit 3; now exit 1, what happened and what to do."""
    from distributed import Client

    data = write_dataset(tmp_path / "data", 2, 1440)
    marks = tmp_path / "marks"
    marks.mkdir()
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    bin_dir = os.path.dirname(sys.executable)
    env = dict(os.environ, PYTHONPATH="", DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES="1")
    processes = [start_scheduler(port, tmp_path, env)]
    try:
        processes.append(subprocess.Popen([os.path.join(bin_dir, "dask"), "worker", address, "--nthreads", "1",
                                           "--nworkers", "1", "--no-dashboard"], cwd=tmp_path, env=env,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        with Client(address, timeout="60s") as client:
            client.wait_for_workers(1, timeout=60)
        command = ["evaluate", str(POLICIES), "--month", "2019-03", "--minutes", str(data)]
        here = subprocess.run([sys.executable, "-m", "slapolicy", *command], capture_output=True, text=True,
                              timeout=300, cwd=REPO)
        (marks / "0").touch()
        once = subprocess.run([sys.executable, "-c", KILLED_ON_DASK, str(marks), *command, "--dask", address],
                              capture_output=True, text=True, timeout=300, cwd=REPO)
        assert (once.returncode, once.stdout, once.stderr) == (0, here.stdout, "")
        assert list(marks.iterdir()) == []
        for k in range(100):
            (marks / f"{k:03d}").touch()
        output = tmp_path / "report.json"
        always = subprocess.run([sys.executable, "-c", KILLED_ON_DASK, str(marks), *command, "--dask", address,
                                 "--output", str(output)], capture_output=True, text=True, timeout=300, cwd=REPO)
        assert (always.returncode, always.stdout) == (1, "")
        assert re.fullmatch(r"slapolicy: the Dask workers that ran a task all ended as they ran it \(KilledWorker: "
                            r"Attempted to run task '?killing-[^ ]+'? on 2 different workers, but all those workers "
                            r"died while running it\..*\): a worker above its memory limit is ended and started again "
                            r"by its nanny; give the workers more memory \(dask worker --memory-limit\), or see their "
                            r"logs for why they ended\n", always.stderr), always.stderr
        assert not output.exists()
    finally:
        for process in reversed(processes):  # the worker first, while its scheduler is there to take its leave
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=30)
