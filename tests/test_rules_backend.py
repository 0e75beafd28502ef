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
import os, sys, threading, time, warnings
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
# Python 3.12 and later warn of a fork beside a thread (the loader's catch_warnings hid it before it stopped swapping
# the process's filters)
warnings.filterwarnings("ignore", "This process .* is multi-threaded", DeprecationWarning)
pid = os.fork()
if pid == 0:
    os._exit(0)
os.waitpid(pid, 0)
loader.join()
print("ok")
"""


def _ends(tmp_path, script: str, waiting: str, *args: str, timeout: float = 60) -> tuple:
    """(exit code, stdout, stderr) of ``script`` run with ``args`` by a Python process of its own; the test fails
    saying ``waiting`` if the process has not ended in ``timeout`` seconds: a fork and a thread waiting for each
    other's lock wait for ever (a run that ends takes ~1.5 s, beside two busy processes too)."""
    path = tmp_path / "script.py"
    path.write_text(script)
    try:
        run = subprocess.run([sys.executable, str(path), *args], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(waiting)
    return run.returncode, run.stdout, run.stderr


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="no fork")
def test_a_fork_while_another_thread_loads_durable_rules_goes_on(tmp_path):
    # A claim's reading ahead forks its helper while the command's thread loads durable-rules (check_backend). The
    # adapter loaded it holding its host's lock; durable-rules' package loads logging and asks for its logger, which
    # takes logging's lock; and a fork first takes logging's lock (logging's fork hook), then the adapter's (its own,
    # so that the child copies no half-made call). Each thread held the lock the other waited for: the claim hung for
    # ever (once in six claims by time on the 500-account month). durable-rules is now loaded before the host's lock.
    assert _ends(tmp_path, FORK_WHILE_DURABLE_LOADS, "the fork and the loading of durable-rules waited for each other") \
        == (0, "ok\n", "")


# durable-rules' C module as a script's process puts it in place of durable.engine.durable_rules_engine (once a first
# match has loaded durable-rules), to fail or wait inside a match; ``real`` is the module itself, put back after.
# StandIn passes every call on to it; Failing's call named ``fails`` raises MemoryError (update_state, unless set: a
# rule's action updating its session).
STAND_IN = """
import durable.engine

real = durable.engine.durable_rules_engine

class StandIn:
    def __getattr__(self, name):
        return getattr(real, name)

class Failing(StandIn):
    fails = "update_state"

    def __getattr__(self, name):
        if name == self.fails:
            def fail(*args):
                raise MemoryError
            return fail
        return super().__getattr__(name)
"""


# A match whose rule's action fails inside durable-rules (a MemoryError in its update_state, here) while another
# thread forks: durable-rules logs the failure (durable/engine.py, action_callback) under the adapter's ruleset lock,
# and its logging takes logging's lock, which the fork took first (logging's fork hook runs before the adapter's
# when logging is loaded after the adapter, as durable-rules loads it).
FORK_WHILE_AN_ACTION_FAILS = """
import os, signal, sys, threading, time, warnings
import slapolicy.rules.durable as adapter  # registers its fork hook before logging is loaded
assert "durable" not in sys.modules and "logging" not in sys.modules  # as at a command's start
from slapolicy.rules.conditions import Compare
ruleset = adapter.ruleset_for("failing_action", [("5.1", Compare("incident.cause", "equals", "customer_network"))])
assert ruleset.match({"incident.cause": "provider"}) == ()  # durable-rules loaded (and logging with it)
""" + STAND_IN + """
inside = threading.Event()

class FailingLate(StandIn):  # its update_state fails a moment after the fork began
    def update_state(self, *args):
        inside.set()
        time.sleep(0.5)
        raise MemoryError

durable.engine.durable_rules_engine = FailingLate()
raised = []

def call():
    try:
        ruleset.match({"incident.cause": "customer_network"})
    except MemoryError:
        raised.append("MemoryError")

thread = threading.Thread(target=call)
thread.start()
inside.wait()
warnings.filterwarnings("ignore", "This process .* is multi-threaded", DeprecationWarning)
pid = os.fork()
if pid == 0:
    os._exit(0)
os.waitpid(pid, 0)
thread.join()
durable.engine.durable_rules_engine = real
print(raised, ruleset.match({"incident.cause": "customer_network"}))
"""


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="no fork")
def test_a_fork_while_a_rule_s_action_fails_goes_on(tmp_path):
    # The fork waited for the adapter's lock, held by the failing match, which waited for logging's lock, held by the
    # fork: the process hung for ever. The adapter's fork hook now runs before logging's (registered again once
    # durable-rules, and so logging, is loaded), so both take the locks in one order: the adapter's, then logging's.
    assert _ends(tmp_path, FORK_WHILE_AN_ACTION_FAILS, "the fork and the failing match waited for each other") \
        == (0, "['MemoryError'] ('5.1',)\n", "")


# A match in one thread while the main thread adds a warnings filter: the match swapped the process's filters
# (warnings.catch_warnings) and put back, as it ended, those it saw as it began. The main thread's filter was lost;
# so was the fork test's above, whose fork waits for the match: its DeprecationWarning reached stderr under Python
# 3.12 and later, in about a third of its runs.
FILTER_DURING_A_MATCH = """
import threading, warnings
every_module = lambda: sum(f[0] == "ignore" and f[2] is DeprecationWarning and f[3] is None for f in warnings.filters)
before = every_module()  # Python's own: DeprecationWarning ignored outside __main__
import slapolicy.rules.durable as adapter
from slapolicy.rules.conditions import Compare
ruleset = adapter.ruleset_for("filters", [("5.1", Compare("incident.cause", "equals", "customer_network"))])
assert ruleset.match({"incident.cause": "provider"}) == ()
""" + STAND_IN + """
inside, added = threading.Event(), threading.Event()

class Waiting(StandIn):  # its assert_fact waits until the main thread has added its filter
    def assert_fact(self, *args):
        inside.set()
        added.wait()
        return real.assert_fact(*args)

durable.engine.durable_rules_engine = Waiting()
thread = threading.Thread(target=lambda: print(ruleset.match({"incident.cause": "customer_network"})))
thread.start()
inside.wait()
warnings.filterwarnings("error", "the program's own")
added.set()
thread.join()
durable.engine.durable_rules_engine = real
print([f[1].pattern for f in warnings.filters if f[1] is not None and f[1].pattern == "the program's own"])
print(every_module() - before)
"""


@pytest.mark.slow
def test_a_match_in_one_thread_keeps_the_filters_another_thread_adds(tmp_path):
    # the filter the main thread added stays, and no filter of every module's DeprecationWarning is left behind
    assert _ends(tmp_path, FILTER_DURING_A_MATCH, "the match waited") == (0, "('5.1',)\n[\"the program's own\"]\n0\n", "")


# A rule's action that fails inside durable-rules (its update_state raises MemoryError), in a process of its own:
# durable-rules abandons the action, logs it and raises it; the session it leaves then crashed the process at the
# next call on it (the adapter's retraction of the fact: a segmentation fault, exit -11).
ACTION_FAILS = """
import sys
from slapolicy.rules.conditions import Compare
from slapolicy.rules.durable import ruleset_for
ruleset = ruleset_for("failing_action", [("5.1", Compare("incident.cause", "equals", "customer_network")),
                                         ("5.2", Compare("incident.cause", "equals", "customer_credentials"))])
assert ruleset.match({"incident.cause": "provider"}) == ()
""" + STAND_IN + """
durable.engine.durable_rules_engine = Failing()
try:
    ruleset.match({"incident.cause": "customer_network"})
except MemoryError:
    print("MemoryError", flush=True)
durable.engine.durable_rules_engine = real
for cause in ("customer_network", "customer_credentials", "provider", "customer_network"):
    print(cause, ruleset.match({"incident.cause": cause}), flush=True)
"""


@pytest.mark.slow
def test_a_rule_s_action_failing_inside_durable_rules_is_raised_and_the_next_matches_answer(tmp_path):
    # raised once, to the caller (as a service's 503 limit-reached), and not also logged by durable-rules (a traceback
    # on the service's standard error for an error it answers); the same question asked again is answered right
    assert _ends(tmp_path, ACTION_FAILS, "the failed action's process did not end") == \
        (0, "MemoryError\ncustomer_network ('5.1',)\ncustomer_credentials ('5.2',)\nprovider ()\n"
            "customer_network ('5.1',)\n", "")


# Many failures inside durable-rules, in a process of their own (each abandons a session of a ruleset that holds 1,024).
# Failing.fails, the script's argument, names the call that fails: update_state, as an action's update of the session fails (the session is whole:
# freed), or assert_fact, before the fact reaches the C engine, on a session no action has run on yet (left: see
# slapolicy.rules.durable.RuleSet._free), whose answers below are the only ones that act on it.
MANY_FAILURES = """
import sys
from slapolicy.rules.conditions import Compare
from slapolicy.rules.durable import ruleset_for, session_stats
ruleset = ruleset_for("failing_often", [("5.1", Compare("incident.cause", "equals", "customer_network")),
                                        ("5.2", Compare("incident.cause", "equals", "customer_credentials"))])
""" + STAND_IN + """
Failing.fails = sys.argv[1]
failed, answers = 0, set()
for attempt in range(2100):
    durable.engine.durable_rules_engine = Failing()
    try:
        ruleset.match({"incident.cause": "customer_network", "attempt": attempt})  # never cached: a new situation
    except MemoryError:
        failed += 1
    durable.engine.durable_rules_engine = real
    if attempt in (1022, 1023, 1024, 2047, 2048, 2099):  # about the 1,024th and the 2,048th
        answers.add(ruleset.match({"incident.cause": "customer_credentials", "attempt": attempt}))
print(failed, answers, ruleset.sessions_abandoned, ruleset.sessions_freed, ruleset.registrations,
      session_stats()["facts_held"])
"""


@pytest.mark.slow
@pytest.mark.parametrize("failing, freed, registrations", [("update_state", 2100, 1), ("assert_fact", 5, 3)])
def test_a_ruleset_answers_after_more_failures_than_it_has_sessions(tmp_path, failing, freed, registrations):
    # Each failed call abandons its session, and a ruleset of durable-rules holds 1,024: after the 1,024th failure every
    # call raised MemoryError, for the process's life (a service answered each 503 limit-reached, "try again"). A
    # session is now freed when it is whole; the clauses are registered again once the sessions left are used up (the
    # 5 freed when failing before the C engine: those an answer below acted on, failing at 1023, 1024, 1025, 2048, 2049).
    assert _ends(tmp_path, MANY_FAILURES, "the failures' process did not end", failing, timeout=120) == \
        (0, f"2100 {{('5.2',)}} 2100 {freed} {registrations} 0\n", "")


# Failed matches, in a process of their own, and what the process holds after them (its resident set, as the kernel
# counts it: durable-rules' C engine allocates with malloc, which tracemalloc does not see).
FAILURES_HELD = """
import gc, os, sys
FAILING, CAUSE = sys.argv[1:]
from slapolicy.rules.conditions import Compare
from slapolicy.rules.durable import ruleset_for
ruleset = ruleset_for("failing_held", [("5.1", Compare("incident.cause", "equals", "customer_network")),
                                       ("5.2", Compare("incident.cause", "equals", "customer_credentials"))])
""" + STAND_IN + """
Failing.fails = FAILING
def resident_mb():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

def fail(attempts):
    for attempt in attempts:
        durable.engine.durable_rules_engine = Failing()
        try:
            ruleset.match({"incident.cause": CAUSE, "attempt": attempt})  # never cached
        except MemoryError:
            pass
        durable.engine.durable_rules_engine = real

fail(range(200))  # the first failures fill what Python keeps once (tracebacks' lines, caches)
gc.collect()
before = resident_mb()
fail(range(200, 3200))
gc.collect()
print(round(resident_mb() - before), ruleset.match({"incident.cause": "customer_credentials", "attempt": -1}))
"""


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="no /proc")
@pytest.mark.parametrize("failing, cause", [("update_state", "customer_network"), ("retract_fact", "provider")],
                         ids=["a-clause-s-action", "no-clause-applies"])
def test_failed_matches_leave_nothing_held(tmp_path, failing, cause):
    # Each failed match left its session in durable-rules, ~0.1 MB that dropping the ruleset did not free either:
    # 3,000 failures held ~290 MB more, and a service that met 20,000 held ~2 GB. Its session is now freed, also when
    # no clause has applied on it (its situations held none): each session is opened by an action first.
    code, out, err = _ends(tmp_path, FAILURES_HELD, "the failures' process did not end", failing, cause, timeout=120)
    assert (code, err) == (0, "")
    grown, answer = out.split(" ", 1)
    assert (int(grown) < 10, answer) == (True, "('5.2',)\n"), out


# The registration again, after a ruleset's sessions are used up, failing too (memory used up, as the failures were):
# durable-rules' create_ruleset raises MemoryError the first time it is called again. A bound of 3 sessions stands for
# durable-rules' 1,024. The failures are of its C engine's assert_fact, which may leave a session half changed: left,
# not freed, each takes one of the 3.
REGISTRATION_FAILS = """
import slapolicy.rules.durable as adapter
from slapolicy.rules.conditions import Compare
adapter.SESSIONS_PER_RULESET = 3
ruleset = adapter.ruleset_for("registered_again", [("5.1", Compare("incident.cause", "equals", "customer_network")),
                                                   ("5.2", Compare("incident.cause", "equals", "customer_credentials"))])
""" + STAND_IN + """
registrations = []
# An error of the C engine, as the adapter sees it: raised where durable-rules' own Python called (a function of
# durable.engine's, innermost)
c_engine = {"__name__": "durable.engine"}
exec("def fails(*args):\\n    raise MemoryError\\n", c_engine)

class Engine(StandIn):
    def __init__(self, matches_fail):
        self.matches_fail = matches_fail

    def create_ruleset(self, *args):
        registrations.append(args)
        if len(registrations) == 1:
            raise MemoryError
        return real.create_ruleset(*args)

    def assert_fact(self, *args):
        if self.matches_fail:
            c_engine["fails"](*args)
        return real.assert_fact(*args)

for attempt in range(7):
    for facts, fails in (({"incident.cause": "customer_network"}, True), ({"incident.cause": "customer_credentials"}, False)):
        durable.engine.durable_rules_engine = Engine(matches_fail=fails)
        try:
            print(attempt, ruleset.match(facts | {"attempt": attempt}))  # never cached: a new situation
        except MemoryError:
            print(attempt, "MemoryError")
        durable.engine.durable_rules_engine = real
print(len(registrations), ruleset.registrations, ruleset.sessions_abandoned, ruleset.sessions_freed,
      adapter.session_stats()["facts_held"])
"""


def test_a_ruleset_whose_registration_again_fails_is_registered_at_its_next_call(tmp_path):
    # When the sessions were used up and the registration again failed (create_ruleset's MemoryError), the ruleset went
    # on with the session just abandoned: the next match, on a session holding the failed call's fact, raised
    # durable-rules' MessageObservedException (a traceback; on a session left mid-action, a segmentation fault). Now no
    # call uses an abandoned session: the call after the third failure registers the clauses again; that failing, it
    # raises MemoryError (503 in a service), and the next call registers them and answers.
    expected = [f"{attempt} MemoryError\n{attempt} ('5.2',)\n" for attempt in range(7)]
    expected[2] = "2 MemoryError\n2 MemoryError\n"  # the registration again failed: this call's
    assert _ends(tmp_path, REGISTRATION_FAILS, "the registrations' process did not end", timeout=120) == \
        (0, "".join(expected) + "3 3 7 0 0\n", "")


def _stop_as_the_action_starts(ruleset, facts, raise_it):
    """``ruleset.match(facts)``, with ``raise_it()`` called as the rule's action starts (at its first instruction,
    where Python runs a signal's handler)."""
    import sys

    done = []

    def profile(frame, event, arg):
        if event == "call" and frame.f_code.co_name == "record" and not done:
            done.append(1)
            raise_it()

    before = sys.getprofile()
    sys.setprofile(profile)
    try:
        return ruleset.match(facts)
    finally:
        sys.setprofile(before)


def test_a_ctrl_c_landing_as_a_rule_s_action_starts_is_raised_after_the_match_not_swallowed_with_its_clause():
    # durable-rules catches whatever a rule's action raises (a KeyboardInterrupt included) and goes on: the Ctrl-C
    # was lost, and the clause whose action it stopped was missing from the answer, cached for the process's life
    # (§5.1 not applied: its minutes unavailable, compensation owed). The signals' handlers now run after the match.
    import signal
    import uuid

    from slapolicy.rules.conditions import Compare
    from slapolicy.rules.durable import ruleset_for

    ruleset = ruleset_for(f"interrupted_{uuid.uuid4().hex}", [
        ("5.1", Compare("incident.cause", "equals", "customer_network")),
        ("5.15", Compare("incident.cause", "not_equals", "provider"))])
    facts = {"incident.cause": "customer_network"}
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            _stop_as_the_action_starts(ruleset, facts, lambda: signal.raise_signal(signal.SIGINT))
    finally:
        signal.signal(signal.SIGINT, before)
    assert ruleset.match(facts) == ("5.1", "5.15") == ruleset.match_reference(facts)


def test_a_rule_s_action_failing_in_a_thread_is_raised_not_answered_without_its_clause():
    # durable-rules catches what an action raises and answers without the clause (cached as the answer); only a
    # MemoryError can come there in another thread than the main one (signals are run in the main thread).
    import threading
    import uuid

    from slapolicy.rules.conditions import Compare
    from slapolicy.rules.durable import ruleset_for

    ruleset = ruleset_for(f"failing_{uuid.uuid4().hex}", [
        ("5.1", Compare("incident.cause", "equals", "customer_network")),
        ("5.15", Compare("incident.cause", "not_equals", "provider"))])
    facts, outcome = {"incident.cause": "customer_network"}, []

    def out_of_memory():
        raise MemoryError

    def call():
        try:
            outcome.append(_stop_as_the_action_starts(ruleset, facts, out_of_memory))
        except MemoryError:
            outcome.append("MemoryError")

    thread = threading.Thread(target=call)
    thread.start()
    thread.join()
    assert outcome == ["MemoryError"]
    assert ruleset.match(facts) == ("5.1", "5.15") == ruleset.match_reference(facts)


def test_a_signal_put_off_during_a_match_reaches_an_event_loop_s_handler_once():
    # An asyncio loop in the main thread is told of a signal through its wakeup file, whatever Python handler runs;
    # the handler put off during the match is called afterwards, not the signal raised again (told twice, a second
    # Ctrl-C: uvicorn's forced exit on the first).
    import asyncio
    import signal
    import uuid

    from slapolicy.rules.conditions import Compare
    from slapolicy.rules.durable import ruleset_for

    ruleset = ruleset_for(f"loop_{uuid.uuid4().hex}", [("5.1", Compare("incident.cause", "equals", "customer_network"))])
    facts, told, answers = {"incident.cause": "customer_network"}, [], []

    async def main():
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGINT, lambda: told.append("SIGINT"))
        try:
            answers.append(_stop_as_the_action_starts(ruleset, facts, lambda: signal.raise_signal(signal.SIGINT)))
            await asyncio.sleep(0.2)
        finally:
            loop.remove_signal_handler(signal.SIGINT)

    before = signal.getsignal(signal.SIGINT)
    try:
        asyncio.run(main())
    finally:
        signal.signal(signal.SIGINT, before)
    assert (answers, told) == ([("5.1",)], ["SIGINT"])


def test_every_signal_put_off_during_a_match_is_handled_when_the_first_handler_raises():
    # A Ctrl-C and a SIGUSR1 landing during one match: the Ctrl-C's handler raises KeyboardInterrupt, and SIGUSR1's
    # handler, called after it, was never called (Python runs the others of signals that came together at its next
    # check: a program's own handler, told of its signal, is never left out).
    import signal
    import uuid

    from slapolicy.rules.conditions import Compare
    from slapolicy.rules.durable import ruleset_for

    ruleset = ruleset_for(f"two_signals_{uuid.uuid4().hex}", [
        ("5.1", Compare("incident.cause", "equals", "customer_network"))])
    facts, told = {"incident.cause": "customer_network"}, []

    def both():
        signal.raise_signal(signal.SIGINT)
        signal.raise_signal(signal.SIGUSR1)

    before = signal.signal(signal.SIGINT, signal.default_int_handler), signal.signal(
        signal.SIGUSR1, lambda signum, frame: told.append(signum))
    try:
        with pytest.raises(KeyboardInterrupt):
            _stop_as_the_action_starts(ruleset, facts, both)
    finally:
        signal.signal(signal.SIGINT, before[0])
        signal.signal(signal.SIGUSR1, before[1])
    assert told == [signal.SIGUSR1]
    assert ruleset.match(facts) == ("5.1",)


# A signal landing as the handlers are swapped for a match, or put back after it: right after one of the swaps, where
# Python runs the handler of a signal that landed meanwhile. ``landing(swaps)`` is durable's ``signal`` module whose
# ``signal()`` calls ``land`` once, with what it is about to set (before it, as signal.signal looks for signals that
# landed before it sets a handler, when ``before``), and the handlers a test sets are put back after it.
@pytest.fixture
def landing(monkeypatch):
    import signal
    import types

    from slapolicy.rules import durable

    found = {signum: signal.getsignal(signum) for signum in durable._SIGNALS}

    def install(land, before=False):
        landed = []

        def swapping(signum, handler):
            if before and not landed and land(signum, handler):
                landed.append(signum)
                signal.raise_signal(land(signum, handler))
            previous = signal.signal(signum, handler)
            if not before and not landed and land(signum, handler):
                landed.append(signum)
                signal.raise_signal(land(signum, handler))
            return previous

        monkeypatch.setattr(durable, "signal", types.SimpleNamespace(**{**vars(signal), "signal": swapping}))
        return landed

    yield install
    for signum, handler in found.items():
        signal.signal(signum, handler)


def _fresh_ruleset(name: str):
    import uuid

    from slapolicy.rules.conditions import Compare
    from slapolicy.rules.durable import ruleset_for

    return ruleset_for(f"{name}_{uuid.uuid4().hex}", [("5.1", Compare("incident.cause", "equals", "customer_network"))])


class Terminated(Exception):
    pass


def _terminated(signum, frame):
    raise Terminated


def test_a_signal_landing_as_the_handlers_are_put_off_leaves_none_put_off(landing):
    # A SIGTERM landing as a match put the handlers off (Ctrl-C's already, SIGTERM's not yet), its handler raising
    # there: Ctrl-C's stand-in was left in place, and noted every later Ctrl-C of the process without acting on one.
    import signal

    from slapolicy.rules import durable

    ruleset = _fresh_ruleset("hold_interrupted")
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _terminated)
    landed = landing(lambda signum, handler: signal.SIGTERM if signum == signal.SIGINT else None)
    with pytest.raises(Terminated):
        ruleset.match({"incident.cause": "customer_network"})
    assert landed == [signal.SIGINT]
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == (signal.default_int_handler,
                                                                                   _terminated)
    durable.signal = signal
    with pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGINT)
    assert ruleset.match({"incident.cause": "customer_network"}) == ("5.1",)


def test_a_signal_landing_as_the_handlers_are_put_back_leaves_none_put_off(landing):
    # A Ctrl-C landing as the handlers were put back after a match (Ctrl-C's already, SIGTERM's not yet): its
    # KeyboardInterrupt left SIGTERM's stand-in in place, noting every later SIGTERM without acting on one.
    import signal

    ruleset = _fresh_ruleset("release_interrupted")
    told = []
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda signum, frame: told.append(signum))
    landed = landing(lambda signum, handler: signal.SIGINT if handler is signal.default_int_handler else None)
    with pytest.raises(KeyboardInterrupt):
        ruleset.match({"incident.cause": "customer_network"})
    assert landed == [signal.SIGINT]
    signal.raise_signal(signal.SIGTERM)
    assert told == [signal.SIGTERM]


def test_a_stand_in_left_in_place_hands_its_signal_on_and_the_next_match_puts_the_handler_back(landing):
    # A Ctrl-C landing just before SIGTERM's handler was put back (signal.signal runs what landed before it sets a
    # handler, and its KeyboardInterrupt keeps it from setting it): SIGTERM's stand-in stays in place. It acts on
    # SIGTERM as the handler it stood in for (it noted it, never acted on), and the next match puts that one back.
    import signal

    from slapolicy.rules import durable

    ruleset = _fresh_ruleset("left_in_place")
    told = []

    def handler(signum, frame):
        told.append(signum)

    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, handler)
    landed = landing(lambda signum, given: signal.SIGINT if given is handler else None, before=True)
    with pytest.raises(KeyboardInterrupt):
        ruleset.match({"incident.cause": "customer_network"})
    assert landed == [signal.SIGTERM]
    assert isinstance(signal.getsignal(signal.SIGTERM), durable._Hold)  # left in place
    signal.raise_signal(signal.SIGTERM)
    assert told == [signal.SIGTERM]
    durable.signal = signal
    assert ruleset.match({"incident.cause": "provider"}) == ()
    assert signal.getsignal(signal.SIGTERM) is handler
