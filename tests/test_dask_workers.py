"""`--dask ADDRESS` on a cluster that cannot run slapolicy's tasks says so at once, rather than waiting for ever.

Found by a new user following docs/cli.md with `dask scheduler` and `dask worker` started by hand: a worker started
from an environment without slapolicy ended as the first task reached it (distributed could not unpickle the task's
function), and the command then waited for ever for a worker, saying nothing; so did a scheduler no worker had joined
yet. Each is now exit 1 (`SchedulerUnavailable`) naming the worker and what it lacks, or the scheduler without one."""
import os
import socket
import subprocess
import sys
import sysconfig
import time

import pytest

from conftest import POLICIES, REPO

pytestmark = pytest.mark.slow

EXAMPLES = REPO / "examples" / "ccc"
VERSION_0_2_0 = "import slapolicy\nslapolicy.__version__ = '0.2.0'  # as a worker with slapolicy 0.2.0 installed reports it\n"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scheduler(tmp_path):
    port = free_port()
    process = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "dask"), "scheduler", "--host",
                                "127.0.0.1", "--port", str(port), "--dashboard-address", ":0"], cwd=tmp_path,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    address = f"tcp://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # listening: a connection is accepted
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process, address
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError("the scheduler did not listen within 60 s")


def worker(tmp_path, address, *, without_slapolicy=False, preload=None):
    """One `dask worker` (no nanny). ``without_slapolicy``: started with `python -S` and the site-packages on
    PYTHONPATH, so distributed imports but the editable install of slapolicy (a .pth file, which -S skips) does not,
    as on a worker whose environment lacks it."""
    env = dict(os.environ, PYTHONPATH="")
    command = [sys.executable, "-c", "from distributed.cli.dask_worker import main; main()", address, "--nthreads",
               "1", "--no-nanny", "--no-dashboard"]
    if without_slapolicy:
        command.insert(1, "-S")
        env["PYTHONPATH"] = sysconfig.get_paths()["purelib"]
    if preload is not None:
        command += ["--preload", str(preload)]
    return subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def joined(address, count):
    from distributed import Client

    with Client(address, timeout="60s") as client:
        client.wait_for_workers(count, timeout=60)


def stop(processes):
    for process in reversed(processes):
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def evaluate(address, tmp_path):
    return subprocess.run([sys.executable, "-m", "slapolicy", "evaluate", str(POLICIES), "--minutes",
                           str(EXAMPLES / "minutes.csv"), "--month", "2019-03", "--dask", address], cwd=tmp_path,
                          capture_output=True, text=True, timeout=90)


def test_a_worker_without_slapolicy_is_named_and_nothing_waits_for_ever(tmp_path):
    processes = []
    try:
        process, address = scheduler(tmp_path)
        processes.append(process)
        processes.append(worker(tmp_path, address, without_slapolicy=True))
        joined(address, 1)
        started = time.monotonic()
        done = evaluate(address, tmp_path)
        assert time.monotonic() - started < 60  # it waited for ever (90 s: the timeout above)
        assert (done.returncode, done.stdout) == (1, "")
        line = done.stderr.strip().splitlines()[-1]
        assert line.startswith(f"slapolicy: the Dask workers at {address} cannot run slapolicy's tasks: tcp://127.0.0.1:")
        assert ": slapolicy is not installed there (ModuleNotFoundError: No module named 'slapolicy'); install " \
               f"slapolicy {_version()} (this one) where each worker runs, with the plugins installed here, and start " \
               "the workers again" in line
    finally:
        stop(processes)


def test_a_worker_with_another_version_of_slapolicy_is_named(tmp_path):
    """A worker of another version would evaluate by its own code, and the answers would not be this version's."""
    preload = tmp_path / "slapolicy_0_2_0.py"
    preload.write_text(VERSION_0_2_0)
    processes = []
    try:
        process, address = scheduler(tmp_path)
        processes.append(process)
        processes.append(worker(tmp_path, address))
        processes.append(worker(tmp_path, address, preload=preload))
        joined(address, 2)
        done = evaluate(address, tmp_path)
        assert (done.returncode, done.stdout) == (1, "")
        line = done.stderr.strip().splitlines()[-1]
        assert line.startswith(f"slapolicy: the Dask workers at {address} cannot run slapolicy's tasks: tcp://127.0.0.1:")
        assert line.count("tcp://127.0.0.1:") == 2  # the scheduler's, and the one worker of another version
        assert f": slapolicy 0.2.0, not {_version()}; install slapolicy {_version()} (this one)" in line
    finally:
        stop(processes)


def test_a_scheduler_without_workers_is_said_after_a_bounded_wait(tmp_path, monkeypatch):
    from slapolicy import Engine, SchedulerUnavailable
    from slapolicy import distributed

    monkeypatch.setattr(distributed, "WORKERS_AWAITED_SECONDS", 1)
    processes = []
    try:
        process, address = scheduler(tmp_path)
        processes.append(process)
        started = time.monotonic()
        with pytest.raises(SchedulerUnavailable) as raised:
            Engine(POLICIES).evaluate(minutes=str(EXAMPLES / "minutes.csv"), month="2019-03", dask=address)
        assert time.monotonic() - started < 30
        assert str(raised.value) == (
            f"the Dask scheduler at {address} has no worker (none joined in 1 s): start workers on it (dask worker "
            f"{address}), where slapolicy {_version()} is installed")
        # and once a worker joins, the same call runs
        processes.append(worker(tmp_path, address))
        joined(address, 1)
        here = Engine(POLICIES).evaluate(minutes=str(EXAMPLES / "minutes.csv"), month="2019-03")
        assert Engine(POLICIES).evaluate(minutes=str(EXAMPLES / "minutes.csv"), month="2019-03", dask=address) == here
    finally:
        stop(processes)


def _version():
    import slapolicy

    return slapolicy.__version__
