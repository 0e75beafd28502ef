"""The durable-rules adapter: clause conditions compiled to one ruleset per policy version.

durable-rules 2.0.28 is unmaintained and has sharp edges (listed below). Everything
that touches it is in this module:

* one ``durable.engine.Host`` per process, without the timer threads a host starts
  (they race with our calls on the same ruleset and corrupt the C heap);
  ``durable.lang`` globals are never used;
* a ruleset is registered once, as JSON, under a name that includes the version's
  sha256, under a lock;
* every match asserts exactly one fact with an explicit id (facts are deduplicated by
  a 32-bit hash, so several facts at once could collide) and retracts it in
  ``finally``. Each ruleset uses one session id, reused: ``delete_state`` crashed the
  C engine here after a few hundred sessions ("free(): invalid pointer": a session no action
  had run on, see RuleSet._free), and one
  reused session can never reach the 1024-session limit;
* the clauses that apply are collected by the rules' actions into a set (a rule whose
  ``$or`` holds on two branches fires twice); the session state is never read, since
  it keeps what earlier facts wrote;
* calls on one ruleset are serialised by a per-ruleset lock (the engine is not
  thread-safe);
* ``MessageNotHandledException`` means "no clause applies", a normal answer;
* a call that fails inside durable-rules (a MemoryError, in an action or in durable-rules' own Python) leaves its
  session as it was at that moment, and the next call on it crashed the process (a segmentation fault): the session
  is abandoned for a new one, and the error raised. The session abandoned is freed (``delete_state``) when it is
  whole: an action has run on it (each session is opened by one), and the error did not come out of the C engine
  itself (see RuleSet._free); left, each
  kept ~0.1 MB for the process's life, and a service that met 20,000 such failures held ~2 GB. A session left is
  kept: a ruleset holds 1,024 sessions at most (the next raises MemoryError for ever), so once they are all used its
  clauses are registered again, a new ruleset of the same clauses, whose sessions are new; the one left, with its
  abandoned sessions, is dropped. durable-rules also catches whatever a rule's action raises and
  answers without that clause: the adapter raises it instead (never an answer missing a clause). It logs the errors it
  raises: its logger drops them, the caller reports them;
* in the main thread, the Python handlers of signals (Ctrl-C's KeyboardInterrupt, SIGTERM's, SIGHUP's, SIGALRM's,
  SIGUSR1's and SIGUSR2's: a program's own) run once the call is done, never inside it: raised there, durable-rules caught the Ctrl-C as an action's error, or left the session
  to crash the process;
* a fork waits for the calls in progress (its locks are taken before it and given back after it, in both
  processes): the child copies the session as it is at that moment, and a fact asserted and not yet retracted
  there would stay in the child's session, whose first call on the ruleset waited for ever on a lock held by a
  thread the child does not have. (The engine's other locks are made anew in the child: :mod:`slapolicy.forks`.)
  The fork takes them before logging's lock, as a call that logs does (see _FORK_HOOKS).

Numeric facts are canonicalised before they reach the engine: each value is replaced
by a representative of its cell between the constants the conditions compare it
with. The answer cannot change (every comparison gives the same result on a whole
cell), binary floats never decide a boundary, and the distinct situations of a month
stay few enough to cache.
"""
from __future__ import annotations

import os
import signal
import sys
import threading
import warnings
from collections import OrderedDict
from decimal import Decimal

from .conditions import All, Any_, Condition, matches, negation_normal_form, numeric_constants
from ..errors import RulesBackendUnavailable

_HOST = None
_HOST_LOCK = threading.Lock()
_REGISTERED: dict[str, "RuleSet"] = {}

CACHE_SIZE = 65536
SESSION = "slapolicy"  # the one session (sid) each ruleset uses; see the module docstring
# The sessions a ruleset of durable-rules holds at most: the next one raises MemoryError, at every call (its C engine's
# bound). A failed call abandons its session (RuleSet._abandon_session); once all are used, the next call registers the
# clauses anew (RuleSet._renew).
SESSIONS_PER_RULESET = 1024
# The fact that opens each session: it holds under the one rule that is not a clause's, whose action marks the session
# as one an action has run on, so that it can be freed (RuleSet._free). Its key is no fact's (those begin "f_").
OPENING = {"id": "opened", "slapolicy_session": 1}


REBUILD = ("CPPFLAGS=-DPyEval_CallObject=PyObject_CallObject "
           "pip install --no-cache-dir --force-reinstall durable-rules==2.0.28")


def _quiet_durable() -> None:
    """durable-rules calls a C API that Python 3.12 deprecates, and each call warns (DeprecationWarning from
    durable.engine): a program run with -W error would have every match fail. One filter, of durable's own modules'
    DeprecationWarnings, added once as it loads, not warnings.catch_warnings() around each call: that swaps the
    process's whole list of filters and puts back what it saw as it began, so a match in one thread undid a filter
    another thread added meanwhile (a program's, or the one the first match added) and could leave durable's filter
    on every module's DeprecationWarnings after two matches overlapped (the warnings module says it is not
    thread-safe)."""
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"durable(\.|$)")


def _import_durable():
    """``durable.engine``, or one line that says what to do instead of an ImportError about a C symbol.

    Python 3.13 removed ``PyEval_CallObject``, which durable-rules' C extension calls; built with
    the macro above it calls ``PyObject_CallObject`` instead (its setup.py overwrites CFLAGS, not
    CPPFLAGS). pip caches built wheels, so a wheel built without the flag is reused unless
    ``--no-cache-dir`` and ``--force-reinstall`` are given.
    """
    _quiet_durable()
    try:
        import durable.engine  # the C extension: only commands that match conditions load it
    except ImportError as exc:
        if "PyEval_CallObject" in str(exc):
            raise RulesBackendUnavailable(
                f"durable-rules was built without the flag Python {sys.version_info[0]}.{sys.version_info[1]} "
                f"needs; reinstall it: {REBUILD}") from None
        raise RulesBackendUnavailable(f"durable-rules cannot be imported ({exc}); install it: {REBUILD}") from None
    return durable.engine


def check_backend() -> None:
    """Raise :class:`RulesBackendUnavailable` now, at start, if durable-rules cannot be used."""
    _host()


def _host():
    global _HOST
    # durable-rules is loaded before the host's lock is taken, never under it: its package loads logging and asks for
    # its logger (logging's lock), and a fork meanwhile (a claim's reading ahead forks its helper as this loads)
    # takes logging's lock in logging's fork hook, then this lock in _before_fork: under this lock, each waited
    # for the other for ever. (Loading a module twice at once is safe: Python's import lock.)
    durable_engine = _import_durable() if _HOST is None else None
    with _HOST_LOCK:
        if _HOST is None:
            durable_engine = durable_engine or _import_durable()  # loaded already, if not by this call

            class SynchronousHost(durable_engine.Host):
                """A host without the background dispatch threads.

                ``Host.__init__`` starts timer threads that call ``dispatch`` on every
                registered ruleset forever, concurrently with our own calls on the same
                ruleset handle; the C engine is not thread-safe, and the race corrupts its
                heap ("free(): invalid pointer"). Our actions run synchronously inside
                ``assert_fact`` and we use no timers, so the threads have nothing to do.
                """

                def _run(self):
                    pass

            _HOST = SynchronousHost()
            # Each record durable-rules logs is an error it then raises to the call that met it (an action's, in
            # action_callback; its dispatch threads, which log too, this host never starts), which reports it:
            # logged as well, it was a traceback on the standard error of a service that answers it (a 503).
            durable_engine.logger.addFilter(_raised_to_the_caller)
            # durable-rules loaded logging, whose fork hook runs before the adapter's, registered earlier: registered
            # again, the adapter's now runs first (see _FORK_HOOKS)
            _register_fork_hooks()
        return _HOST


def _raised_to_the_caller(record) -> bool:
    return False


def _key(fact_name: str) -> str:
    return "f_" + fact_name.replace(".", "__")


def _json_value(value):
    if isinstance(value, Decimal):
        return float(value)
    return value


def to_durable(condition: Condition) -> dict:
    """The durable-rules JSON expression of a condition (after pushing negation down)."""

    def expr(node):
        if isinstance(node, All):
            return {"$and": [expr(item) for item in node.items]}
        if isinstance(node, Any_):
            return {"$or": [expr(item) for item in node.items]}
        key, op, value = _key(node.fact), node.op, node.value
        if op == "equals":
            return {key: _json_value(value)}
        if op == "not_equals":
            return {"$neq": {key: _json_value(value)}}
        if op == "in":
            return {"$or": [{key: _json_value(v)} for v in value]}
        if op == "not_in":
            return {"$and": [{"$neq": {key: _json_value(v)}} for v in value]}
        durable_op = {"at_least": "$gte", "above": "$gt", "below": "$lt", "at_most": "$lte"}[op]
        return {durable_op: {key: _json_value(value)}}

    return expr(negation_normal_form(condition))


def canonical_cells(conditions) -> dict[str, tuple[Decimal, ...]]:
    constants: dict[str, set[Decimal]] = {}
    for condition in conditions:
        for fact, values in numeric_constants(condition).items():
            constants.setdefault(fact, set()).update(values)
    return {fact: tuple(sorted(values)) for fact, values in constants.items()}


def canonical_number(value: Decimal, cuts: tuple[Decimal, ...]) -> Decimal:
    """A representative of the cell of ``value`` among ``cuts``: same answer to every comparison."""
    if not cuts:
        return Decimal(0)
    if value < cuts[0]:
        return cuts[0] - 1
    if value > cuts[-1]:
        return cuts[-1] + 1
    for low, high in zip(cuts, cuts[1:] + (None,)):
        if value == low:
            return low
        if high is not None and low < value < high:
            return (low + high) / 2
    return value  # unreachable: value lies in one of the cells


class RuleSet:
    """The clauses of one policy version, registered once in the process-wide host."""

    def __init__(self, name: str, clauses: list[tuple[str, Condition]]):
        self.name = name
        self.clause_ids = [clause_id for clause_id, _ in clauses]
        self.conditions = dict(clauses)
        self.cells = canonical_cells(self.conditions.values())
        self._lock = threading.Lock()
        self._cache: OrderedDict = OrderedDict()
        self.matches_run = 0  # calls that reached durable-rules (for tests and benchmarks)
        self._hits: set[int] = set()  # filled by the actions of the call in progress (under _lock)
        self._session = SESSION  # the session the calls use; another once one is abandoned (_abandon_session)
        self.sessions_abandoned = 0
        self.sessions_freed = 0  # of the sessions abandoned, those freed in durable-rules (_abandon_session)
        self._acted = False  # an action has run on the session in use (see _free)
        self.registrations = 0  # how many times the clauses were registered in the host (_register)
        self._names = 0  # the names a registration was tried under: a failed one may have left its name taken
        self._registered_as = name  # the host's name of the ruleset the calls use now
        self._clauses = clauses

    def _definition(self) -> dict:
        """The ruleset as durable-rules registers it. Made anew for each registration: durable-rules deletes each
        rule's ``run`` from the definition it is given."""
        rules = {f"r{index}": {"all": [{"m": to_durable(condition)}], "run": self._action(index)}
                 for index, (_, condition) in enumerate(self._clauses)}
        rules["opened"] = {"all": [{"m": {"slapolicy_session": 1}}], "run": self._opened}
        return rules

    def _opened(self, c) -> None:
        self._acted = True

    def _register(self, host) -> None:
        """Register the clauses in ``host`` (the host's lock held), under the ruleset's name the first time, and
        under that name and the attempt's number later (:meth:`_renew`), with its first session."""
        name = self.name if not self._names else f"{self.name}#{self._names}"
        self._names += 1  # before: a registration that fails half done may hold its name in durable-rules
        host.register_rulesets({name: self._definition()})
        self.registrations += 1
        self._registered_as, self._session, self._sessions_used = name, SESSION, 1
        self._acted = False

    def _action(self, index: int):
        def record(c):
            self._acted = True  # first: storing True allocates nothing, so it cannot fail where the add can
            self._hits.add(index)
        return record

    def canonical(self, facts: dict) -> tuple:
        """The facts as a hashable, canonical situation."""
        items = []
        for name in sorted(facts):
            value = facts[name]
            if isinstance(value, Decimal):
                value = canonical_number(value, self.cells.get(name, ()))
            items.append((name, value))
        return tuple(items)

    def match(self, facts: dict) -> tuple[str, ...]:
        """Ids of the clauses whose condition holds for this complete set of facts, in policy order."""
        situation = self.canonical(facts)
        with self._lock:
            cached = self._cache.get(situation)
            if cached is not None:
                self._cache.move_to_end(situation)
                return cached
            result = self._run(situation)
            self._cache[situation] = result
            if len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
            return result

    def _run(self, situation: tuple) -> tuple[str, ...]:
        import durable.engine as engine  # loaded by _import_durable at the first session

        host = _host()
        self.matches_run += 1
        self._hits = set()
        held = _hold_signals()
        try:
            if self._session is None:  # every session of the registration used (_abandon_session)
                self._renew(host)
            fact = {"sid": self._session, "id": "situation"}
            fact.update({_key(name): _json_value(value) for name, value in situation})
            # A session new to this call is opened first: an action run on it, it can be freed if a call fails on it
            # (_free); otherwise one whose facts no clause held so far could not be.
            facts = [fact] if self._acted else [{"sid": self._session} | OPENING, fact]
            failed = None
            try:
                for asserted in facts:
                    try:
                        state = host.assert_fact(self._registered_as, asserted)
                    except engine.MessageNotHandledException:
                        state = None  # no clause applies: a normal answer
                    failed = state.get("exception") if isinstance(state, dict) else None
                    if failed is not None:
                        break
                    try:
                        host.retract_fact(self._registered_as, asserted)
                    except engine.MessageNotHandledException:
                        pass
            except BaseException as error:
                self._abandon_session(host, error)
                raise
            if failed is not None:
                # durable-rules caught what the action raised, and went on without its clause. The action adds an
                # index to a set, and signals' handlers do not run meanwhile (_hold_signals): only memory can fail it.
                self._abandon_session(host, None)
                raise MemoryError(f"a rule's action failed inside durable-rules: {failed.splitlines()[0][:200]}")
        finally:
            _release_signals(held)
        # A rule whose $or holds on two branches fires twice: hits is a set.
        return tuple(self.clause_ids[i] for i in sorted(self._hits))

    def _abandon_session(self, host, error: BaseException | None) -> None:
        """Use a new session from the next call on: durable-rules leaves the session of a call that failed inside it
        as it was then (an action begun and abandoned, the fact asserted), and the next call on it (the fact's
        retraction) crashed the process. The session abandoned is freed if it can be (:meth:`_free`), each new
        session under a name of its own, never one freed: a session whose freeing failed half done is never reached
        again. One left takes one of the SESSIONS_PER_RULESET a ruleset holds: after 1,024 failures every later call
        raised MemoryError, for the process's life (a service answered each 503, "try again"). So once the last is
        used, the next call registers the clauses again (:meth:`_renew`)."""
        self.sessions_abandoned += 1
        freed = self._free(host, error)
        self._acted = False
        if freed:
            self.sessions_freed += 1  # its place among the ruleset's sessions is free again: the next takes it
            self._session = f"{SESSION}-{self.sessions_abandoned}"
        elif self._sessions_used < SESSIONS_PER_RULESET:
            self._sessions_used += 1
            self._session = f"{SESSION}-{self.sessions_abandoned}"
        else:
            self._session = None

    def _free(self, host, error: BaseException | None) -> bool:
        """Free the session of a call that failed (``error``, or None for an action's error durable-rules caught),
        if it is whole; True if it was freed. Each session durable-rules makes holds ~0.1 MB (its tables of facts
        and of partial matches), and dropping a ruleset frees none of them: a process that failed 20,000 matches
        held ~2 GB. ``delete_state`` frees them, but also the text of the session's action in progress, which
        durable-rules leaves unset (whatever the memory held) until an action first runs on the session: freed
        before that, it crashed the C engine ("free(): invalid pointer"). So a session is freed only once an action
        has run on it (``_acted``), and only when the error did not come out of the C engine itself: a copy it failed
        to make may leave a pointer unset there too (_from_the_c_engine). Each session is opened by an action
        (OPENING) before its first fact, so only a call that fails as it opens one leaves it."""
        if not self._acted or (error is not None and _from_the_c_engine(error)):
            return False
        try:
            host.delete_state(self._registered_as, self._session)
        except Exception:  # memory short still, or the session already gone: left, as one never freed
            return False
        return True

    def _renew(self, host) -> None:
        """Register the clauses again, with new sessions, and drop the ruleset left, whole (the caller holds this
        ruleset's lock and the signals). Done by the call after the last session was abandoned, not by the failed
        call: a registration that fails too (memory used up, as the failures were) raises, and leaves the ruleset
        without a session, for the next call to register again. Done by the failed call, it left the session just
        abandoned in use, and the next call on it raised durable-rules' MessageObservedException (on a session left
        in the middle of an action, the process crashed)."""
        left = self._registered_as
        with _HOST_LOCK:  # after this ruleset's lock, held by the caller: the order of every call (_before_fork)
            self._register(host)
            _drop(host, left)

    def match_reference(self, facts: dict) -> tuple[str, ...]:
        """The same answer from the pure-Python matcher (for tests, and Python 3.13 if ever needed)."""
        return tuple(cid for cid, condition in self.conditions.items() if matches(condition, facts))


def ruleset_for(name: str, clauses: list[tuple[str, Condition]]) -> RuleSet:
    """The ruleset registered under ``name`` (which includes the policy's sha256), made once per process."""
    with _HOST_LOCK:
        existing = _REGISTERED.get(name)
    if existing is not None:
        return existing
    host = _host()
    with _HOST_LOCK:
        existing = _REGISTERED.get(name)
        if existing is not None:
            return existing
        ruleset = RuleSet(name, clauses)
        ruleset._register(host)
        _REGISTERED[name] = ruleset
        return ruleset


def _from_the_c_engine(error: BaseException) -> bool:
    """Whether ``error`` was raised by durable-rules' C engine (or a builtin durable-rules called), not by Python code
    it called (json, an action, a program's wrapper): its innermost frame is durable-rules' own Python, which calls
    the C engine. The C engine may have failed half way through a change of the session."""
    tb = error.__traceback__
    if tb is None:
        return True  # nothing to tell by: as unsafe as the worst
    while tb.tb_next is not None:
        tb = tb.tb_next
    return tb.tb_frame.f_globals.get("__name__") == "durable.engine"


def _drop(host, name: str) -> None:
    """Take the ruleset registered as ``name`` out of ``host`` and free it, its sessions with it (the host's lock
    held). durable-rules' Host has no call for it: its directory and list are its own."""
    ruleset = host._ruleset_directory.pop(name)
    host._ruleset_list.remove(ruleset)
    import durable.engine as engine  # loaded by _import_durable at the first session; its C extension is its own

    engine.durable_rules_engine.delete_ruleset(ruleset._handle)



# The Python handlers of signals, run in the main thread wherever it is: by a call into durable-rules, they would run
# inside it. Each is put off for the call (_hold_signals) and run after it (_release_signals). The signals whose
# handlers raise, in the CLI and in programs: the stops (Ctrl-C, SIGTERM, SIGHUP), the alarm of a timeout, the user's
# two. Looking at each of the 62 the system has cost ~0.1 ms a match on a loaded host; these six, a fifth of it.
_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGALRM", "SIGUSR1", "SIGUSR2")
                 if hasattr(signal, name))


class _Hold:
    """The Python handlers of signals put off for one call into durable-rules (:func:`_hold_signals`), and the handler
    that stands in for each of them meanwhile: called with a signal, it notes it, to be handled once the call is over
    (:func:`_release_signals`). Once the hold is over (``over``), it hands a signal on to the handler it stood in for
    at once: one left in place by a signal that landed as the handlers were swapped, its handler raising there (a
    Ctrl-C's KeyboardInterrupt), noted that signal for ever, never acted on (every later Ctrl-C of the process)."""

    __slots__ = ("found", "noted", "over")

    def __init__(self) -> None:
        self.found, self.noted, self.over = {}, [], False

    def __call__(self, signum, frame) -> None:
        if self.over:
            self.found[signum](signum, frame)
        elif signum not in self.noted:
            self.noted.append(signum)


def _hold_signals() -> _Hold | None:
    """In the main thread (the only one where Python runs signals' handlers), replace each Python handler with a
    :class:`_Hold` that notes the signal; None in another thread. A handler not yet replaced that raises meanwhile (its
    signal landed) puts back those already replaced before its error goes on: none is left noting."""
    if threading.current_thread() is not threading.main_thread():
        return None
    hold = _Hold()
    try:
        for signum in _SIGNALS:
            handler = signal.getsignal(signum)
            while isinstance(handler, _Hold) and handler.over:  # one left in place: the handler it stands in for
                handler = handler.found[signum]
            if callable(handler):  # not SIG_DFL, SIG_IGN, or a handler set outside Python (None)
                hold.found[signum] = handler
                signal.signal(signum, hold)
    except BaseException:
        _release_signals(hold)
        raise
    return hold


def _release_signals(held: _Hold | None) -> None:
    """Put the handlers back, then run the handler of each signal noted meanwhile, as Python would have: now, in the
    caller (a Ctrl-C's KeyboardInterrupt raised from the match, once durable-rules is done). Called, not raised again:
    an event loop told of signals through its wakeup file (asyncio's add_signal_handler) was told once already. A
    handler put back that raises meanwhile (its signal landed again) neither keeps the others from being put back nor
    the noted ones from being run."""
    if held is None:
        return
    held.over = True  # first: a stand-in that is not put back hands its signal on from now on
    try:
        _put_back(list(held.found.items()))
    finally:
        _run_handlers(held.found, held.noted)


def _put_back(handlers: list) -> None:
    """``signal.signal`` for each (signal, handler), each also when one before it raised."""
    if handlers:
        try:
            signal.signal(*handlers[0])
        finally:
            _put_back(handlers[1:])


def _run_handlers(found: dict, noted: list) -> None:
    """Call the handler of each signal ``noted``, in turn, each also when one before it raised (a Ctrl-C's
    KeyboardInterrupt): Python runs the others of signals that came together at its next check, and a handler called
    after a raising one here was never called."""
    if noted:
        try:
            found[noted[0]](noted[0], sys._getframe())
        finally:
            _run_handlers(found, noted[1:])


def _before_fork(hooks: int) -> None:
    """Wait for the calls in progress and hold every lock of the adapter, in the order its calls take them (a
    ruleset's, then the host's), so that the fork copies no half-made call. Done by the hooks registered last."""
    global _FORKING_BY
    if hooks != _FORK_HOOKS[-1]:
        return
    while True:
        with _HOST_LOCK:
            rulesets = list(_REGISTERED.values())
        for ruleset in rulesets:
            ruleset._lock.acquire()
        _HOST_LOCK.acquire()
        if len(_REGISTERED) == len(rulesets):  # none registered (and used) between the list and the host's lock
            _FORKING.extend(rulesets)
            _FORKING_BY = hooks
            return
        _HOST_LOCK.release()
        for ruleset in rulesets:
            ruleset._lock.release()


def _after_fork(hooks: int) -> None:
    """In the parent and in the child: let the calls go on (if these hooks' _before_fork holds the locks)."""
    global _FORKING_BY
    if hooks != _FORKING_BY:
        return
    _FORKING_BY = None
    _HOST_LOCK.release()
    for ruleset in _FORKING:
        ruleset._lock.release()
    _FORKING.clear()


_FORKING: list = []  # the rulesets whose locks _before_fork holds
_FORKING_BY = None  # the hooks whose _before_fork holds them
# The fork hooks registered: the last ones act. Hooks run before a fork in the reverse order of their registration, so
# logging's (which takes logging's lock), registered when durable-rules loads logging, ran before the adapter's,
# registered at its import: a fork took logging's lock, then waited for a ruleset's lock, held by a call that
# durable-rules was logging an error of, waiting for logging's lock. Registered again once durable-rules is loaded
# (_host), the adapter's hooks run first: every thread takes the adapter's locks before logging's.
_FORK_HOOKS: list[int] = []


def _register_fork_hooks() -> None:
    if not hasattr(os, "register_at_fork"):  # Windows has no fork
        return
    hooks = len(_FORK_HOOKS) + 1
    os.register_at_fork(before=lambda: _before_fork(hooks), after_in_parent=lambda: _after_fork(hooks),
                        after_in_child=lambda: _after_fork(hooks))
    _FORK_HOOKS.append(hooks)  # after the registration: a fork meanwhile is held by the hooks registered before


_register_fork_hooks()


def session_stats() -> dict:
    """Sessions and facts durable-rules holds for our rulesets: one session per ruleset used, and no fact
    left behind between calls (a fact still held would be a leak)."""
    with _HOST_LOCK:
        rulesets = list(_REGISTERED.values())
    stats = {"rulesets": len(rulesets), "sessions": 0, "facts_held": 0}
    if not rulesets:
        return stats
    host = _host()
    for ruleset in rulesets:
        with ruleset._lock:
            if not ruleset.matches_run or ruleset._session is None:  # None: registered again at its next call
                continue
            stats["sessions"] += 1
            stats["facts_held"] += len(host.get_facts(ruleset._registered_as, ruleset._session))
    return stats
