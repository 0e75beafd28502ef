"""What a process does before its first row: `import slapolicy` imports each public name on first use, so the CLI
(its console script, `python -m slapolicy` and `python -m slapolicy.cli`) asks numpy's OpenBLAS for one thread
before numpy loads, in its own process and in the workers it starts, and never in a program that only imports the
package or calls main()."""
import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
MONTHS = ["months", "--start", "2024-03-17", "--end", "2024-04-16"]  # loads neither numpy nor the engine
# A command that loads numpy (any that reads data), and the first line it prints.
EVALUATE = ["evaluate", "policies/ccc", "--minutes", "examples/ccc/minutes.csv", "--month", "2019-03", "--format", "text"]
EVALUATED = "Account acme — Service Month 2019-03-01 to 2019-03-31 (44640 minutes), policy ccc-sla 2019-01-01"

# Records, in the process it runs in, the OPENBLAS_NUM_THREADS that numpy saw as it was first imported.
SPY = """
import os, sys
seen = []
class Spy:
    def find_spec(self, name, path=None, target=None):
        if name == "numpy" and not seen:
            seen.append(os.environ.get("OPENBLAS_NUM_THREADS"))
sys.meta_path.insert(0, Spy())
"""


def _python(script: str, **env) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"} | env
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=environment, cwd=REPO)
    assert done.returncode == 0, done.stderr
    return done


def test_import_slapolicy_loads_neither_numpy_nor_pyarrow_nor_yaml_and_sets_nothing():
    done = _python("import os, sys, slapolicy\n"
                   "print(sorted(m for m in ('numpy', 'pyarrow', 'yaml', 'slapolicy.engine') if m in sys.modules))\n"
                   "print(os.environ.get('OPENBLAS_NUM_THREADS'))")
    assert done.stdout == "[]\nNone\n"


def test_every_public_name_resolves_to_its_home():
    import slapolicy
    from slapolicy import api, calendar, engine, errors, policy

    homes = {"decide_claim": api, "evaluate": api, "replay": api, "Engine": engine, "ServiceMonth": calendar,
             "calendar_month": calendar, "service_months": calendar, "Policy": policy, "PolicyDirectory": policy,
             "load_policy": policy, "read_policy": policy, "schema": policy}
    assert len(slapolicy.__all__) == 25
    for name in slapolicy.__all__:
        assert getattr(slapolicy, name) is getattr(homes.get(name, errors), name), name
    assert set(slapolicy.__all__) <= set(dir(slapolicy))
    with pytest.raises(AttributeError, match="module 'slapolicy' has no attribute 'Engin'"):
        slapolicy.Engin  # noqa: B018


@pytest.mark.slow
@pytest.mark.parametrize("first", ["from slapolicy.replay import replay", "from slapolicy import replay"])
def test_slapolicy_replay_is_the_function_whichever_is_imported_first(first):
    # The import system binds the module slapolicy.replay to the package's `replay` as it loads it; the name
    # stays the function, as when the package imported everything at once.
    done = _python(f"{first}\nimport sys, slapolicy, slapolicy.replay, slapolicy.api\n"
                   "print(slapolicy.replay is slapolicy.api.replay, callable(slapolicy.replay))\n"
                   "print(sys.modules['slapolicy.replay'].__name__)")
    assert done.stdout == "True True\nslapolicy.replay\n"


@pytest.mark.slow
def test_a_submodule_is_an_attribute_of_the_package_as_before():
    done = _python("import slapolicy\nprint(slapolicy.engine.Engine is slapolicy.Engine, slapolicy.errors.__name__)")
    assert done.stdout == "True slapolicy.errors\n"


# A command run as its own process ends it with os._exit (cli.command.end_process): what it saw is said there.
ENDING = """
_exit = os._exit
def ending(status):
    print(status, seen, os.environ.get("OPENBLAS_NUM_THREADS"), file=sys.stderr)
    sys.stderr.flush()
    _exit(status)
os._exit = ending
"""


@pytest.mark.slow
@pytest.mark.parametrize("entry", [
    "from slapolicy.cli import main\nsys.argv = ['slapolicy', *ARGS]\nmain()",  # the console script
    "import runpy\nsys.argv = ['slapolicy', *ARGS]\n"                          # python -m slapolicy.cli
    "runpy.run_module('slapolicy.cli', run_name='__main__')",
    "import runpy\nsys.argv = ['slapolicy', *ARGS]\n"                          # python -m slapolicy
    "runpy.run_module('slapolicy', run_name='__main__')",
])
def test_the_command_asks_for_one_blas_thread_before_numpy_loads(entry):
    done = _python(SPY + ENDING + f"ARGS = {EVALUATE!r}\n" + entry)
    assert done.stderr == "0 ['1'] 1\n"
    assert done.stdout.splitlines()[0] == EVALUATED


@pytest.mark.slow
def test_the_users_own_blas_setting_wins():
    done = _python(SPY + ENDING + f"from slapolicy.cli import main\nsys.argv = ['slapolicy', *{EVALUATE!r}]\nmain()\n",
                   OPENBLAS_NUM_THREADS="2")
    assert done.stderr == "0 ['2'] 2\n"


@pytest.mark.slow
def test_main_called_by_a_program_leaves_its_environment_alone():
    done = _python(SPY + f"from slapolicy.cli import main\nstatus = main({EVALUATE!r})\n"
                   "print(status, seen, os.environ.get('OPENBLAS_NUM_THREADS'), file=sys.stderr)")
    assert done.stderr == "0 [None] None\n"


@pytest.mark.slow
@pytest.mark.parametrize("args, status", [(["--version"], 0), (["--help"], 0), (["evaluate", "--help"], 0),
                                          (["claim", "--help"], 0), (MONTHS, 0), (["evaluate"], 2)])
def test_help_version_and_months_load_neither_numpy_nor_pyarrow(args, status):
    # numpy (~0.05 s) came with the parser's modules (cli.data_commands imported claims.materials for `claim`),
    # and a user felt it on every --help: 0.13 s, now 0.07 s (benchmarks/README.md, the eleventh round).
    said = ("import os, runpy, sys\n"
            "def say(status):\n"
            "    print(status, sorted(m for m in ('numpy', 'pyarrow') if m in sys.modules), file=sys.stderr)\n"
            "    sys.stderr.flush()\n"
            "_exit = os._exit\n"
            "os._exit = lambda status: say(status) or _exit(status)\n"  # months ends its process with os._exit
            f"sys.argv = ['slapolicy', *{args!r}]\n"
            "try:\n    runpy.run_module('slapolicy.cli', run_name='__main__')\n"
            "except SystemExit as stop:\n    say(stop.code)\n")
    done = subprocess.run([sys.executable, "-c", said], capture_output=True, text=True, cwd=REPO)
    assert done.stderr.splitlines()[-1] == f"{status} []"


@pytest.mark.slow
@pytest.mark.parametrize("args", [["show", "policies/ccc", "--month", "2019-03"],
                                  ["show", "policies/ccc", "--month", "2019-03", "--provision", "5.7", "--json"],
                                  ["diff", "policies/ccc/2019-01-01.yaml",
                                   "policies/ccc/drafts/2027-01-01-standard-99.95.yaml"]])
def test_show_and_diff_of_checked_versions_load_neither_numpy_nor_yaml(args):
    # numpy came with the plugins' modules (hookspecs and the built-in facts imported it at their top) and with the
    # checks' (policy.lint imported the claim window's, claims.materials with it), though a version whose checks are
    # recorded is read without running them: `show` 0.16 -> 0.09 s (benchmarks/README.md, the eleventh round).
    for _ in range(2):  # the first run records the checks, where none is recorded yet
        done = _python("import sys\nfrom slapolicy.cli import main\n"
                       f"print(main({args!r}), sorted(m for m in ('numpy', 'pyarrow', 'yaml', 'jsonschema') "
                       "if m in sys.modules), file=sys.stderr)")
    assert done.stderr == "0 []\n"


# What only a process's owner may set, as a program has it before and after it calls main().
OWNED = """
import resource, signal, sys, threading
def owned():
    return ([signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)], sys.stdout.encoding,
            sorted(t.name for t in threading.enumerate()), resource.getrlimit(resource.RLIMIT_NOFILE))
signal.signal(signal.SIGTERM, lambda signum, frame: None)
before = owned()
"""


def test_main_called_by_a_program_leaves_its_signals_threads_output_and_limits_alone():
    """The command's own process handles Ctrl-C, SIGTERM and SIGHUP itself (cli.handle_stops) and writes UTF-8, each
    block whole (cli.whole_output); main() called by a program sets none of it."""
    done = _python(OWNED + f"from slapolicy.cli import main\nstatus = main({MONTHS!r})\n"
                   "print(status, owned() == before, before[1:], file=sys.stderr)", PYTHONIOENCODING="utf-8")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert done.stderr == f"0 True ('utf-8', ['MainThread'], ({soft}, {hard}))\n"


# Records whether the garbage collector runs as numpy, then the engine, are first imported (as the command's
# modules load), and says at the command's end whether it runs and what was frozen.
COLLECTOR = """
import gc, os, sys
collecting = []
class CollectorSpy:
    def find_spec(self, name, path=None, target=None):
        if name in ("numpy", "slapolicy.engine"):
            collecting.append((name, gc.isenabled()))
sys.meta_path.insert(0, CollectorSpy())
def said(status):
    print(status, collecting, gc.isenabled(), gc.get_freeze_count() > 0, file=sys.stderr)
    sys.stderr.flush()
_exit = os._exit
os._exit = lambda status: said(status) or _exit(status)
"""
EXAMPLES = REPO / "examples" / "ccc"


@pytest.mark.parametrize("args, loaded", [
    (MONTHS, []),
    (EVALUATE, [("slapolicy.engine", False), ("numpy", False)]),
    (["claim", "policies/ccc", str(EXAMPLES / "claim-globex-2019-03.json"), "--minutes", str(EXAMPLES / "minutes.csv"),
      "--billing", str(EXAMPLES / "billing.csv"), "--now", "2019-04-20T10:00+08:00", "--ledger", "LEDGER"],
     [("numpy", False), ("slapolicy.engine", False)]),
])
@pytest.mark.slow
def test_the_commands_own_process_loads_its_modules_without_collecting_garbage(tmp_path, args, loaded):
    # What loading makes lives as long as the process: the collector is off until the command's modules are in,
    # then on again, with what they made frozen (never walked again).
    args = [str(tmp_path / "ledger.sqlite") if a == "LEDGER" else a for a in args]
    done = _python(COLLECTOR + f"from slapolicy.cli import main\nsys.argv = ['slapolicy', *{args!r}]\nmain()")
    assert done.stderr == f"0 {loaded} True True\n"


@pytest.mark.slow
def test_a_claim_starts_reading_ahead_before_the_billings_module_and_the_merges_shapes_load(tmp_path):
    # The reading ahead loads pyarrow's Parquet reader as it starts (ReadAhead): by then the modules only later
    # steps need (the billing's, the shapes a merge makes, the engine, the policy's package with its checks, the
    # plugins and pluggy, which the claim's document loaded for one function: ~17 ms) are not loaded; they load
    # beside the reading. (pyarrow._parquet, the reader itself: a local file is read without pyarrow.parquet,
    # planning.LocalParquet.)
    later = ("slapolicy.inputs.billing", "slapolicy.minutes.shapes", "slapolicy.engine", "slapolicy.policy", "pluggy")
    spy = f"""
import os, sys
loaded = []
class ParquetSpy:
    def find_spec(self, name, path=None, target=None):
        if name == "pyarrow._parquet" and not loaded:
            loaded.append([m for m in {later!r} if m in sys.modules])
sys.meta_path.insert(0, ParquetSpy())
_exit = os._exit
def ending(status):
    print(status, loaded, [m for m in {later!r} if m in sys.modules], file=sys.stderr)
    sys.stderr.flush()
    _exit(status)
os._exit = ending
"""
    args = ["claim", "policies/ccc", str(EXAMPLES / "claim-globex-2019-03.json"), "--minutes",
            str(EXAMPLES / "minutes.csv"), "--billing", str(EXAMPLES / "billing.csv"), "--now", "2019-04-20T10:00+08:00",
            "--ledger", str(tmp_path / "ledger.sqlite")]
    done = _python(spy + f"from slapolicy.cli import main\nsys.argv = ['slapolicy', *{args!r}]\nmain()")
    assert done.stderr == f"0 [[]] {list(later)}\n"


@pytest.mark.slow
def test_main_called_by_a_program_leaves_its_garbage_collector_alone():
    done = _python(COLLECTOR + f"from slapolicy.cli import main\nstatus = main({EVALUATE!r})\nsaid(status)")
    assert done.stderr == "0 [('slapolicy.engine', True), ('numpy', True)] True False\n"


@pytest.mark.slow
def test_worker_processes_ask_for_one_blas_thread_and_the_caller_keeps_its_environment(monkeypatch):
    from slapolicy.distributed import Runner

    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    with Runner(workers=2) as runner:
        assert runner.map(os.getenv, ["OPENBLAS_NUM_THREADS"] * 2) == ["1", "1"]
    assert "OPENBLAS_NUM_THREADS" not in os.environ
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "3")  # the user's value reaches the workers unchanged
    with Runner(workers=2) as runner:
        assert runner.map(os.getenv, ["OPENBLAS_NUM_THREADS"] * 2) == ["3", "3"]


# ---------------------------------------------------------------------------- the parser of the command invoked

def _parse(parser, argv, capsys):
    try:
        outcome = vars(parser.parse_args(argv))
    except SystemExit as exit:
        outcome = exit.code
    out, err = capsys.readouterr()
    return outcome, out, err


ARGVS = [
    ["claim", "policies/ccc", "claim.json", "--minutes", "m.csv", "--now", "2019-04-20T10:00+08:00", "--workers", "2"],
    ["claim", "policies/ccc", "claim.json"],                      # --minutes missing
    ["claim", "policies/ccc", "claim.json", "--minutes", "m.csv", "--now", "yesterday"],
    ["evaluate", "policies/ccc", "--minutes", "m.csv", "--month", "2019-03", "--format", "text", "--bogus"],
    ["replay", "--help"], ["months", "--start", "2024-03-17", "--end", "2024-06-16", "--json"],
    ["show", "policies/ccc", "--month", "2019-03", "--provision", "5.7"], ["schema"], ["demo", "x"],
    ["clam", "x"], [], ["--help"], ["-x", "claim"], ["claim"],
]


@pytest.mark.slow
def test_the_parser_of_the_command_invoked_parses_and_prints_as_the_whole_one(capsys):
    from slapolicy.cli.command import build_parser, parser_for

    commands = build_parser().commands
    assert len(commands) == 16 and "claim" in commands
    for argv in ARGVS + [[name, "--help"] for name in commands]:
        light = parser_for(argv)
        assert light.commands == ([argv[0]] if argv and argv[0] in commands else commands), argv
        assert _parse(light, argv, capsys) == _parse(build_parser(), argv, capsys), argv


def write_example_minutes(path, layout: str) -> None:
    """examples/ccc/minutes.csv as Parquet: a row group per account (``by-account``), or one row group of every
    account sorted by minute then account (``by-time``)."""
    import csv
    import datetime as dt

    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    with open(REPO / "examples" / "ccc" / "minutes.csv") as handle:
        order = (lambda r: (r["account"], r["minute"])) if layout == "by-account" else (lambda r: (r["minute"], r["account"]))
        rows = sorted(csv.DictReader(handle), key=order)
    # The minutes as timestamps (the file's naive local times, read in the policy's zone), as exports write them.
    columns = {"account": [r["account"] for r in rows],
               "minute": pa.array([dt.datetime.fromisoformat(r["minute"]) for r in rows], pa.timestamp("s"))}
    columns |= {name: [int(r[name] or 0) for r in rows] for name in ("requests", "failures", "illegal_number_failures")}
    table = pa.table(columns)
    with pq.ParquetWriter(path, table.schema) as writer:
        if layout == "by-time":
            writer.write_table(table)
            return
        for account in sorted(set(columns["account"])):
            writer.write_table(table.filter(pc.equal(table["account"], account)))


@pytest.mark.slow
def test_an_evaluation_of_a_file_written_account_by_account_does_not_load_numpy_ma(tmp_path):
    # Each batch's accounts are added to the part's (minutes/reduce.py _add_totals), once by np.union1d. A row group
    # of ~12,000 rows per account, batches of at most 20,000 rows: one account a batch.
    write_example_minutes(tmp_path / "m.parquet", "by-account")
    argv = ["evaluate", str(REPO / "policies" / "ccc"), "--minutes", str(tmp_path / "m.parquet"), "--month", "2019-03"]
    done = _python("import sys\nimport slapolicy.minutes.readers as readers\nreaders.BATCH_ROWS = 20_000\n"
                   "from slapolicy.cli import main\n"
                   f"assert main({argv!r}) == 0\n"
                   "print('numpy.ma' in sys.modules, 'numpy' in sys.modules, file=sys.stderr)")
    assert done.stderr == "False True\n"
    assert [e["account"] for e in json.loads(done.stdout)["evaluations"]] == ["acme", "globex", "initech"]


@pytest.mark.slow
def test_a_data_command_loads_neither_the_policy_commands_modules_nor_the_html_report():
    done = _python("import sys\nfrom slapolicy.cli import main\n"
                   f"assert main({MONTHS!r}) == 0\n"
                   "print(sorted(m for m in ('slapolicy.policy.publish', 'slapolicy.policy.redline', "
                   "'slapolicy.policy.render', 'slapolicy.policy.terms', 'slapolicy.reports.html', 'yaml') "
                   "if m in sys.modules), file=sys.stderr)")
    assert done.stderr == "[]\n"


@pytest.mark.parametrize("claim,decision,minutes,excluded", [
    # Acme's March holds a provider incident (I-1, 10:00-10:30 on the 12th), so the rows inside it are kept along
    # with the failing ones (minutes/reduce.py); the 30 minutes claimed are those 30, all confirmed unavailable.
    ("claim-acme-2019-03-by-email.json", "denied", (30, 30), {}),
    # Globex's exclusions cite the inputs that made them apply (evaluation/classify.py): its customer's trunk
    # (I-2, 45 minutes) and the minute data (8 minutes of high concurrency); 240 of the 270 claimed are confirmed.
    ("claim-globex-2019-03.json", "approved", (270, 240), {"5.1": 45, "5.7": 8}),
])
@pytest.mark.slow
@pytest.mark.parametrize("layout", ["by-account", "by-time"])
def test_a_claim_loads_neither_numpy_ma_nor_the_modules_of_other_commands(tmp_path, claim, decision, minutes, excluded,
                                                                         layout):
    # numpy.ma (0.011 s) comes with the first plain np.unique, np.union1d or pa.array of a numpy array; replay, the
    # diff, the examples' runner, audit and the demo are other commands' modules; pyarrow.parquet loads pyarrow's file
    # systems (pyarrow.fs: ~12 ms of SSL, sockets, S3...), which a local file never uses (planning.LocalParquet). One
    # row group per account, or one row group of every account in minute order (the claim's rows are taken out of
    # it: minutes/reduce.py _take).
    write_example_minutes(tmp_path / "m.parquet", layout)
    examples = REPO / "examples" / "ccc"
    argv = ["claim", str(REPO / "policies" / "ccc"), str(examples / claim),
            "--minutes", str(tmp_path / "m.parquet"), "--ledger", str(tmp_path / "ledger.sqlite"),
            "--now", "2019-04-20T10:00+08:00", "--billing", str(examples / "billing.csv"),
            "--incidents", str(examples / "incidents.yaml")]
    done = _python("import sys\nfrom slapolicy.cli import main\n"
                   f"assert main({argv!r}) == 0\n"
                   "print(sorted(m for m in ('numpy.ma', 'slapolicy.replay', 'slapolicy.policy.diff', "
                   "'slapolicy.policy.examples', 'slapolicy.claims.audit', 'slapolicy.demo', 'pyarrow.parquet', "
                   "'pyarrow.fs') if m in sys.modules), "
                   "'numpy' in sys.modules, file=sys.stderr)")
    assert done.stderr == "[] True\n"
    result = json.loads(done.stdout)
    assert result["decision"] == decision  # acme's: filed too early, by email, without materials; the standard met
    assert (result["reconciliation"]["claimed_minutes"], result["reconciliation"]["confirmed_minutes"]) == minutes
    assert result["evaluation"]["excluded_minutes"] == excluded
    cited = [step["detail"].partition(" (")[2][:22] for step in result["evaluation"]["trace"] if step["step"] == "exclusion"]
    assert cited == ([] if not excluded else ["incident I-2)", "minute data: (minute.c", "§5)"])


# A program that serves by calling main(["serve", ...]): stopped by SIGTERM once it answers, from the main thread or
# from a thread of its own; it says what it had before, while serving and after.
SERVING = OWNED + """
import os, socket, time, urllib.request
from slapolicy.cli import main
probe = socket.socket(); probe.bind(("127.0.0.1", 0)); port = probe.getsockname()[1]; probe.close()
def health():
    for _ in range(300):
        try:
            return json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/health").read())["status"]
        except OSError:
            time.sleep(0.05)
def serve():
    return main(["serve", "policies/ccc", "--port", str(port), "--max-connections", "100"])
"""


@pytest.mark.slow
def test_serve_called_by_a_program_sets_its_signals_and_files_limit_back_as_they_were():
    # serve raised the program's open-files limit (300 + 256 for --max-connections 100: 356) and replaced its
    # SIGINT, SIGTERM and SIGHUP handlers with its own, and left both so after it returned
    script = "import json, resource, sys\nresource.setrlimit(resource.RLIMIT_NOFILE, (300, resource.getrlimit(" \
             "resource.RLIMIT_NOFILE)[1]))\n" + SERVING + """
before = owned()
during = []
def stop():
    during.append((health(), owned()[0] == before[0], owned()[3][0]))
    os.kill(os.getpid(), signal.SIGTERM)
threading.Thread(target=stop, daemon=True).start()
status = serve()
for thread in threading.enumerate():  # the stopping one, and the worker threads told to end as the service stopped
    if thread is not threading.main_thread():
        thread.join(10)
print(status, during, owned() == before, before[3][0], file=sys.stderr)
"""
    done = _python(script)
    assert done.stderr == "0 [('ok', False, 356)] True 300\n"


@pytest.mark.slow
def test_serve_called_from_a_thread_of_a_program_serves_and_leaves_its_signals_alone():
    # Only the main thread may set a signal's handler: serve in another thread was an internal error, exit 3
    # ("ValueError: signal only works in main thread of the main interpreter"), and never listened
    script = "import json, sys\n" + SERVING + """
before = owned()
threading.Thread(target=serve, daemon=True).start()
print(health(), owned()[0] == before[0], file=sys.stderr)
"""
    done = _python(script)
    assert done.stderr == "ok True\n"
