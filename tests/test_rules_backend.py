"""A durable-rules built without its Python 3.13 flag is named at start, in one line, with what to do."""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# The error Python 3.13 gives when durable-rules 2.0.28 was compiled without the macro.
SYMBOL_ERROR = ("/venv/lib/python3.13/site-packages/durable_rules_engine.cpython-313-x86_64-linux-gnu.so: "
                "undefined symbol: PyEval_CallObject")
REBUILD = ("CPPFLAGS=-DPyEval_CallObject=PyObject_CallObject "
           "pip install --no-cache-dir --force-reinstall durable-rules==2.0.28")


def _broken_durable(tmp_path) -> dict:
    """An environment whose durable.engine fails to import exactly as an unflagged build does on 3.13."""
    package = tmp_path / "durable"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "engine.py").write_text(f"raise ImportError({SYMBOL_ERROR!r})\n")
    return {"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin", "SLAPOLICY_CACHE_DIR": "off"}  # no ~/.cache written


@pytest.mark.slow
def test_the_cli_says_in_one_line_how_to_rebuild_durable_rules_and_exits_1(tmp_path):
    ledger = tmp_path / "ledger.sqlite"
    run = subprocess.run([sys.executable, "-m", "slapolicy.cli", "claim", str(ROOT / "policies/ccc"),
                          str(ROOT / "examples/ccc/claim-globex-2019-03.json"), "--minutes",
                          str(ROOT / "examples/ccc/minutes.csv"), "--ledger", str(ledger)],
                         capture_output=True, text=True, env=_broken_durable(tmp_path))
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert (run.returncode, run.stdout) == (1, "")
    assert run.stderr == f"slapolicy: durable-rules was built without the flag Python {version} needs; reinstall it: {REBUILD}\n"
    assert not ledger.exists()  # nothing written


def test_commands_that_need_no_rules_still_work_without_durable_rules(tmp_path):
    run = subprocess.run([sys.executable, "-m", "slapolicy.cli", "months", "--start", "2024-03-17", "--end", "2024-04-16"],
                         capture_output=True, text=True, env=_broken_durable(tmp_path))
    assert (run.returncode, run.stderr) == (0, "")
    assert run.stdout.splitlines()[0] == "2024-03-17 – 2024-03-31  15 days   21600 minutes"


@pytest.mark.slow
def test_the_engine_raises_the_documented_error_at_start(tmp_path):
    script = ("from slapolicy import Engine, RulesBackendUnavailable, SlapolicyError\n"
              f"try:\n    Engine({str(ROOT / 'policies/ccc')!r})\n"
              "except RulesBackendUnavailable as error:\n"
              "    assert isinstance(error, SlapolicyError)\n    print(error)\n")
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=_broken_durable(tmp_path))
    assert (run.returncode, run.stderr) == (0, "")
    assert run.stdout.endswith(f"needs; reinstall it: {REBUILD}\n") and run.stdout.count("\n") == 1


FORK_WHILE_DURABLE_LOADS = """
import os, sys, threading, time
import slapolicy.rules.durable as adapter  # registers its fork hook (which waits for the adapter's locks)
assert "durable" not in sys.modules and "logging" not in sys.modules  # as at a claim's start
import logging  # loaded here, after the adapter: its fork hook (which holds logging's lock) runs before the adapter's

loading, real = threading.Event(), logging.getLogger

def get_logger(name=None):  # durable-rules' package asks for its logger as it loads
    loading.set()
    time.sleep(0.5)  # meanwhile another thread forks
    return real(name)

logging.getLogger = get_logger
loader = threading.Thread(target=adapter.check_backend)
loader.start()
loading.wait()
pid = os.fork()
if pid == 0:
    os._exit(0)
os.waitpid(pid, 0)
loader.join()
print("ok")
"""


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="no fork")
def test_a_fork_while_another_thread_loads_durable_rules_goes_on(tmp_path):
    # A claim's reading ahead forks its helper while the command's thread loads durable-rules (check_backend). The
    # adapter loaded it holding its host's lock; durable-rules' package loads logging and asks for its logger, which
    # takes logging's lock; and a fork first takes logging's lock (logging's fork hook), then the adapter's (its own,
    # so that the child copies no half-made call). Each thread held the lock the other waited for: the claim hung for
    # ever (once in six claims by time on the 500-account month). durable-rules is now loaded before the host's lock.
    script = tmp_path / "fork.py"
    script.write_text(FORK_WHILE_DURABLE_LOADS)
    try:
        run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        pytest.fail("the fork and the loading of durable-rules waited for each other")
    assert (run.returncode, run.stdout, run.stderr) == (0, "ok\n", "")
