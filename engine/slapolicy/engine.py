"""``Engine``: the one orchestrator. The CLI, the module-level functions (:mod:`slapolicy.api`, thin
wrappers in the manner of httpx's over its ``Client``), ``slapolicy serve`` and the audit all go through it.

Each call reads its inputs, plans the minutes' partitions and sends them to where the work runs (this
process, ``workers`` local processes, a Dask cluster: :mod:`slapolicy.distributed`), then hands the
aggregates to the month evaluation (:mod:`slapolicy.evaluation`), the claim decision
(:mod:`slapolicy.claims`) or the replay (:mod:`slapolicy.replay`).

A service makes one Engine from a policy directory and shares it between threads:

* the published versions are loaded, checked and their rules compiled once, into an
  immutable *snapshot*; every call reads the snapshot it started with, so
  :meth:`Engine.reload` while requests run serves each request from one consistent set
  of versions;
* durable-rules is reached only through :mod:`slapolicy.rules.durable`, which serialises the calls
  on each ruleset and reuses one session per ruleset: the engine's 1024-session limit
  cannot be reached, whatever the load;
* claim decisions go to one SQLite ledger (one connection per call, transactions
  serialised by SQLite), so concurrent decisions never grant twice or exceed §6.1.

A script's single call uses :meth:`Engine.for_one_call`, which reads the directory only when the call
needs it, as the functions always did. Every method returns plain, JSON-serialisable data.
"""
from __future__ import annotations

import contextlib
import os
import datetime as dt
import threading
from typing import NamedTuple
from pathlib import Path

from .calendar import OUTSIDE_YEARS, calendar_month, in_supported_years, service_month_in
from .claims.decision import (check_claim_time, check_claimed_windows, claim_in_force, decide, decision_inputs,
                              recorded_decision)
from .claims.window import business_calendar, claim_window
from .inputs.billing import read_billing
from .inputs.events import ByAccount, read_incidents, read_notices
from .inputs.problems import where_given
from .inputs.tables import account_name, refuse_two_forms, typed_account_problem
from .distributed import Background, Cancellation, PolicyContent, Relay, Runner, check_runner_arguments, policy_of
from .errors import ArgumentError, InputError, LedgerError, NoVersionInForce, SlapolicyError, quoted_name
from .ledger import Ledger, default_ledger_path, ledger_file
from .minutes.shapes import MonthMinutes, MonthTotals
from .evaluation.month import (evaluate_account_month, evaluate_items, evaluate_month, evaluate_settled, month_items,
                               month_names, refuse_unknown_accounts,
                               version_reason)
from .forks import renewed_in_child
from .files import not_utf8, not_utf8_account, not_utf8_path, path_argument
from .minutes.aggregates import Settled, read_minutes
from .minutes.planning import held_in_memory, held_minutes_note, held_months_note, plan, request_for
from .minutes.readers import account_names
from .plugins import check_facts_supplied, get_manager
from .policy.directory import PolicyDirectory, directory_signature, load_policy
from .rules.durable import check_backend
from .policy.lock import family_lock


def account_list(accounts) -> list[str] | None:
    """``accounts`` as a list of names: a single string would be read letter by letter, so it is refused."""
    if accounts is None:
        return None
    if isinstance(accounts, (str, bytes)) or not isinstance(accounts, (list, tuple, set, frozenset)):
        raise ArgumentError(f"accounts must be a list of account names (e.g. [{accounts!r}]), not {type(accounts).__name__}"
                            if isinstance(accounts, str) else
                            f"accounts must be a list of account names, not {type(accounts).__name__}")
    if not accounts:
        # An empty list would select no minutes and show every billed account as fully available.
        raise ArgumentError("accounts is empty: name at least one account, or leave it out (None) for every account")
    for given in accounts:  # 1000 is account "1000"; 1000.0 and True are refused, as in every input
        if problem := typed_account_problem(given):
            raise ArgumentError(f"accounts: {problem}")
    bad = [a for a in accounts if not isinstance(a, (str, int))]
    if bad:
        raise ArgumentError(f"accounts must be names (strings, or whole numbers read as their digits); {bad[0]!r} is "
                            f"a {type(bad[0]).__name__}")
    undecodable = [a for a in accounts if isinstance(a, str) and not_utf8(a)]
    if undecodable:
        raise ArgumentError(f"account name {not_utf8_account(undecodable[0])}")
    names = [account_name(a) for a in accounts]  # trimmed as every input's names are
    if None in names:
        raise ArgumentError(f"account name {accounts[names.index(None)]!r} is blank: name an account")
    return names


def check_inputs_given(**inputs) -> None:
    """An input named by an empty string (an unset variable, say) is an error, not the input left out: a blank
    billing, incidents or notices path was taken for none given (no money, no exclusions), and a blank minutes
    path for the working directory."""
    for name, value in inputs.items():
        if isinstance(value, str) and not value.strip():
            raise ArgumentError(f"{name} is an empty string: give a path, or None to go without")
        if isinstance(value, (str, os.PathLike)) and not_utf8(str(value)):
            raise ArgumentError(f"{name} {not_utf8_path(value)}")


class Engine:
    def __init__(self, policy_dir: str | Path, *, ledger: str | Path | None = None, manager=None,
                 workers: int | None = None, dask: str | None = None):
        """``workers`` or ``dask``: where this engine's calls run their tasks unless a call names its own. The
        process pool or the Dask client is opened at the first call that needs it and kept for the next ones
        (a service would otherwise pay a connection, or the start of its processes, per request) until
        :meth:`close` (or the end of a ``with`` block)."""
        check_backend()  # on Python 3.13+, a durable-rules built without its flag is named here, in one line
        check_runner_arguments(workers, dask)
        self._given = path_argument(policy_dir, "policy_dir")
        self._setup(ledger, manager)
        # The directory meant is the one of the working directory now, as for the ledger below: a relative one was read
        # again from each refresh's, so after an os.chdir a long-lived engine served its old snapshot for good, never
        # loading a version published since (docs/api.md).
        self._root = self._given.absolute()
        if self.ledger_path is not None:
            # The file meant is the one of the working directory now: a long-lived engine read a relative path from
            # each call's, so after an os.chdir its ledger was "gone" (refused), or, before its first decision, a new
            # one was begun wherever the process then was, knowing none of the grants (docs/api.md).
            self.ledger_path = self.ledger_path.absolute()
        self._runner = Runner(workers, dask, kept=True) if workers is not None or dask is not None else None
        self._snapshot, self._signature = self._load()

    def __reduce__(self):
        """An engine sent to another process (a process pool's task; Dask or joblib pickling it) is made there again
        from its settings: the policy directory (loaded and checked there), the ledger (absolute: the same file) and
        where its calls run their tasks. Its locks, snapshot and open pool or client cannot go: pickle raised Python's
        own TypeError for a lock, which named nothing of the embedder's."""
        if self._manager is not None:
            raise ArgumentError("an Engine made with a plugin manager of its own (manager=) cannot be sent to another "
                                "process: its plugins would have to go with it. Make the engine in that process "
                                "(Engine(policy_dir, manager=...)), or leave manager out, and the process's installed "
                                "plugins are used there")
        if self._root is None:  # an engine for one call: the directory as given, read there when the call needs it
            given = self._given.path if isinstance(self._given, PolicyDirectory) else self._given
            return _engine_for_one_call, (given, self.ledger_path)
        runner = (self._runner.workers, self._runner.address) if self._runner is not None else (None, None)
        return _engine_again, (self._given, self._root, self.ledger_path, *runner)

    @classmethod
    def for_one_call(cls, policy_dir, *, ledger: str | Path | None = None, manager=None) -> "Engine":
        """An engine for a single call (the module-level functions, the CLI): ``policy_dir`` (a path, or a
        :class:`~slapolicy.policy.PolicyDirectory` already read) is read and checked when the call needs it, and
        only the versions the call uses are prepared, so a bad argument is named before any file is read."""
        engine = cls.__new__(cls)
        engine._given = policy_dir
        engine._setup(ledger, manager)
        engine._root = None  # read once, for one call: as given
        engine._snapshot = engine._signature = None
        return engine

    def _setup(self, ledger, manager) -> None:
        self.ledger_path = path_argument(ledger, "ledger") if ledger is not None else None
        self._manager = manager
        self._lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        renewed_in_child(self, "_lock", "_refresh_lock")  # a fork's child, where no thread holds them
        self._refused: tuple | None = None  # the directory state a refresh last failed to load
        self.refresh_error: str | None = None
        self._runner: Runner | None = None
        self._ledger_file: tuple | None = None  # (path, (device, inode)) of the engine's ledger once it decided in it

    def _runner_for(self, workers, dask, minutes):
        """The engine's own runner, kept open between calls, when the call names none; else one for this call.
        Minutes handed in as data are read where they are held: a call that names no runner then runs in this
        process, as without the engine's (a service started with --workers or --dask answered each request sending
        its rows inline 422, telling an HTTP client to give a file path); one naming its own is refused."""
        if workers is None and dask is None and self._runner is not None:
            return contextlib.nullcontext(Runner() if held_in_memory(minutes) else self._runner)
        return Runner(workers, dask)

    def connect(self) -> None:
        """Start the engine's process pool (every process, waiting until each is ready) or connect its Dask client
        now, not at the first call that needs it: ``slapolicy serve`` does, so that an unreachable scheduler or a
        worker process that cannot start is an error before it listens."""
        if self._runner is not None:
            self._runner.open()

    def close(self) -> None:
        """Close the engine's process pool or Dask client, if it opened one (a later call opens it again)."""
        if self._runner is not None:
            self._runner.close()

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def manager(self):
        """The plugin manager: the one given, else the process-wide one (built at its first use)."""
        return self._manager if self._manager is not None else get_manager()

    @property
    def policy_dir(self) -> Path:
        """The policy directory: named as given (its messages and answers name it so) while that name leads to the
        directory the engine was made in; by its absolute path once the process changed directory."""
        if isinstance(self._given, PolicyDirectory):
            return self._given.path
        given = path_argument(self._given, "policy_dir")
        if self._root is None:
            return given
        try:
            moved = given.absolute() != self._root
        except OSError:  # the working directory was removed (os.getcwd fails): the name given leads nowhere
            moved = True
        return self._root if moved else given

    def _load(self) -> tuple[PolicyDirectory, tuple]:
        path = self.policy_dir  # one name for the whole load, whatever the working directory does meanwhile
        if path.is_dir():
            # Read under a shared lock on the family: `slapolicy publish` holds it exclusively while it
            # writes a version and its lock entry, so a reload never sees half a publication.
            with family_lock(path, shared=True):
                signature = directory_signature(path)
                family = PolicyDirectory(path, run_examples=False).check()
        else:
            signature, family = (), PolicyDirectory(path)  # raises: no such policy directory
        for policy in family.versions:
            check_facts_supplied(policy, self.manager)  # a fact no plugin supplies fails at start, not per request
            policy.ruleset  # compile and register now, not under the first request
        return family, signature

    @property
    def family(self) -> PolicyDirectory:
        """The current snapshot of published versions (immutable; replaced whole by reload). An engine for one
        call reads the directory at the first call that needs it."""
        if self._snapshot is None:
            with self._lock:
                if self._snapshot is None:
                    given = self._given
                    self._snapshot = given if isinstance(given, PolicyDirectory) else \
                        PolicyDirectory(given, run_examples=False)
        return self._snapshot

    def reload(self) -> PolicyDirectory:
        """Load the directory again; requests already running keep the snapshot they started with.
        A directory with errors raises and leaves the current snapshot in place."""
        fresh, signature = self._load()
        with self._lock:
            self._snapshot, self._signature = fresh, signature
        return fresh

    def refresh(self) -> bool:
        """Reload if a version was published since the snapshot was read; True when it reloaded.

        Cheap when nothing changed (one ``stat`` per file of the directory), so a service may ask
        before every request. A directory that fails to load keeps the current snapshot, sets
        :attr:`refresh_error`, and is not read again until it changes again."""
        signature = directory_signature(self.policy_dir)
        if signature == self._signature and self.refresh_error is not None:
            with self._refresh_lock:  # the directory is back to the state loaded: the error no longer holds
                self._refused = self.refresh_error = None
        if signature in (self._signature, self._refused):
            return False
        with self._refresh_lock:
            signature = directory_signature(self.policy_dir)
            if signature in (self._signature, self._refused):
                return False  # another thread reloaded (or failed to) while this one waited
            try:
                self.reload()
            except SlapolicyError as exc:
                # The state seen before the attempt: one changed meanwhile differs from it and is tried again.
                self._refused, self.refresh_error = signature, str(exc)
                return False
            self._refused = self.refresh_error = None
            return True

    def versions(self) -> list[dict]:
        return [{"version": p.version, "effective_from": p.effective_from.isoformat(), "sha256": p.sha256,
                 "file": p.path} for p in self.family.versions]

    def in_force(self, month: str) -> dict:
        policy = self.family.in_force(month)
        return policy.summary() | {"effective_from": policy.effective_from.isoformat()}

    def evaluate(self, *, minutes, month: str, incidents=None, notices=None, billing=None, accounts=None,
                 term_start: dt.date | None = None, term_end: dt.date | None = None, policy_file=None,
                 workers: int | None = None, dask: str | None = None, on_settled=None, on_nothing=None) -> dict:
        """Evaluate a Service Month for every account (or ``accounts``): ``{"evaluations": [...]}``.

        ``minutes`` is a file, a directory of Parquet files (hive-partitioned or not) or data in memory;
        ``incidents``, ``notices`` and ``billing`` are file paths or data. The version in force for the
        Service Month is used unless ``policy_file`` names another (a draft, say). ``workers`` or ``dask``
        read the minutes' partitions in local processes or on a Dask cluster. ``on_settled``: called on this
        thread with each account's result worked out while the minutes are still read (in this process, for a
        file whose row groups prove their accounts); the results returned are those same dicts, unless the whole
        reading made them be worked out again (the CLI writes their JSON meanwhile). ``on_nothing``: called, when no
        account has minutes or billing in the month, with what the minutes hold instead (``planning.held_minutes_note``:
        where the rows read and the row groups left unread lie; "" when nothing is known), which the CLI adds to its
        "nothing to evaluate": a CSV or JSON Lines file is read whole, and is not read again to say it.
        """
        check_inputs_given(minutes=minutes, incidents=incidents, notices=notices, billing=billing)
        accounts = account_list(accounts)
        family = self.family
        service_month = service_month_in(month, term_start, term_end)
        in_force = family.in_force(service_month.start)
        if policy_file is not None:
            policy = family.check_member(load_policy(path_argument(policy_file, "policy_file")), "evaluate")
            reason = version_reason(policy, service_month, forced=True, in_force=in_force)
        else:
            policy, reason = in_force, version_reason(in_force, service_month)
        check_facts_supplied(policy, self.manager)  # before a large minutes file is read
        loaded_incidents = read_incidents(incidents, policy) if incidents else []
        with self._runner_for(workers, dask, minutes) as runner:
            # In this process, the accounts whose rows are all read are evaluated while the others are read (the
            # reading leaves a core idle at its end, and the evaluation of a month is serial).
            settled = Settled() if accounts is None and not runner.remote else None
            # The minutes are read while the notices and billing are; their problems come first, as they did
            # when they were read first, and cancel the reading (Background) rather than wait for all of it.
            with Background(read_minutes, minutes, [service_month], [policy], accounts=accounts,
                            incidents=loaded_incidents, runner=runner, cancel=Cancellation(),
                            settled=settled) as reading:
                loaded_notices = read_notices(notices, policy.timezone) if notices else []
                loaded_billing = read_billing(billing) if billing else None
                windows = ByAccount(loaded_incidents), ByAccount(loaded_notices)
                evaluated = evaluate_settled(policy, service_month, settled, incidents=windows[0],
                                             notices=windows[1], billing=loaded_billing, reason=reason,
                                             manager=self.manager, on_result=on_settled) \
                    if settled is not None else None
            loaded_minutes = reading.result()
            if not loaded_minutes.settled:
                evaluated = None  # worked out from pieces the result is not made of
            one_form_each(accounts and ("the accounts asked for", accounts), minutes=(minutes, loaded_minutes),
                          billing=billing and (billing, loaded_billing), incidents=(incidents, loaded_incidents),
                          notices=(notices, loaded_notices))
            refuse_unknown_accounts(service_month, month_names(service_month, loaded_minutes, loaded_billing),
                                    accounts, lambda unknown: accounts_meant(unknown, minutes, service_month, policy,
                                                                             loaded_billing) + held_months_note(minutes, service_month.label))
            if runner.remote and self._manager is None:
                # The account-months go to the workers too (they evaluate with the installed plugins, so an
                # engine made with its own plugin manager evaluates here): a month of many accounts is not
                # evaluated by one process. The order of the chunks is the order of the results.
                from .replay import chunks_of  # replay's module: a claim never loads it

                spec = MonthSpec(PolicyContent.of(policy), service_month, ByAccount(loaded_incidents),
                                 ByAccount(loaded_notices), reason, loaded_billing is not None)
                chunks = chunks_of(month_items(service_month, loaded_minutes, loaded_billing, accounts))
                evaluations = [r for part in runner.map(evaluate_chunk, [spec] * len(chunks), chunks) for r in part]
                return _evaluated(evaluations, minutes, service_month, loaded_minutes, policy, on_nothing)
        evaluations = evaluate_month(policy, service_month, loaded_minutes, incidents=windows[0], notices=windows[1],
                                     billing=loaded_billing, accounts=accounts, reason=reason, manager=self.manager,
                                     evaluated=evaluated)
        return _evaluated(evaluations, minutes, service_month, loaded_minutes, policy, on_nothing)

    def decide_claim(self, claim: dict, *, minutes, incidents=None, notices=None, billing=None,
                     now: dt.datetime | None = None, ledger: str | Path | None = None, where: str = "claim",
                     workers: int | None = None, dask: str | None = None) -> dict:
        """Decide a claim (a dict as read from CLAIM.json) and record it in the ledger (a path or a Ledger;
        by default the engine's). ``where`` names the claim in messages (the CLI gives its file).

        Only the minutes that can hold the claim's account and Service Month are read (:mod:`slapolicy.minutes`).
        """
        check_inputs_given(minutes=minutes, incidents=incidents, notices=notices, billing=billing)
        if not isinstance(claim, dict):
            raise ArgumentError(f"claim_data must be a dict (the claim as read from CLAIM.json), not {type(claim).__name__}")
        if now is not None and not isinstance(now, dt.datetime):
            raise ArgumentError(f"now must be an aware datetime.datetime, not {type(now).__name__}")
        if now is not None and not in_supported_years(now):  # year 9999 west of UTC overflowed
            raise ArgumentError(f"now {now.isoformat()} {OUTSIDE_YEARS}")
        family = self.family.check()
        parsed, service_month, policy = claim_in_force(family, claim, where)
        now = now or dt.datetime.now(dt.timezone.utc)
        check_claim_time(policy, parsed, service_month, now, where)
        own = ledger is None  # the engine's own ledger, which it keeps track of
        if own:
            self._check_ledger_kept()
        ledger = ledger or self.ledger_path
        found = ledger_file(ledger)
        recorded = recorded_decision(ledger, parsed)
        if recorded is not None:
            if own:
                self._remember_ledger()
            return recorded
        check_claimed_windows(policy, parsed, service_month, where)  # after: a ledger's answer stands as decided
        loaded_incidents = read_incidents(incidents, policy) if incidents else []
        with self._runner_for(workers, dask, minutes) as runner:
            # The minutes are read while the billing and notices are; each problem is raised in the order they
            # were read in before: the minutes', the billing's, an unknown account, the notices'. Only Ctrl-C
            # leaves the block early, and cancels the reading (Background).
            with Background(read_minutes, minutes, [service_month], [policy], accounts=[parsed.account],
                            incidents=loaded_incidents, runner=runner, digest=True, cancel=Cancellation()) as reading:
                loaded_billing = outcome(read_billing, billing) if billing else outcome(dict)
                loaded_notices = outcome(read_notices, notices, policy.timezone) if notices else outcome(list)
                # Nor does the claim's window need them (its business days: ~1.5 ms, after the reading before).
                window = outcome(lambda: claim_window(policy, service_month, business_calendar(policy, self.manager)))
            loaded_minutes = reading.result()
        loaded_billing = loaded_billing()
        read = dict(minutes=(minutes, loaded_minutes), billing=billing and (billing, loaded_billing),
                    incidents=(incidents, loaded_incidents))
        one_form_each((where, [parsed.account]), **read)  # before: its other form in the minutes is no unknown account
        if parsed.account not in loaded_minutes.accounts and not any(a == parsed.account for a, _ in loaded_billing):
            raise InputError(f"{where}: field 'account': unknown account {parsed.account!r} (not in the minutes or billing "
                             f"of {service_month.label}){accounts_meant([parsed.account], minutes, service_month, policy, loaded_billing)}"
                             f"{held_months_note(minutes, service_month.label)}")
        loaded_notices = loaded_notices()
        one_form_each((where, [parsed.account]), **read, notices=(notices, loaded_notices))
        window = window()
        cell = loaded_minutes.cells.get((parsed.account, service_month.label))
        rows, totals = (cell.rows, cell.totals) if cell else (MonthMinutes.empty(), MonthTotals(0, 0, 0, 0, 0))
        month = evaluate_account_month(
            policy, service_month, parsed.account, rows, incidents=loaded_incidents, notices=loaded_notices,
            totals=totals, billing=loaded_billing.get((parsed.account, service_month.label)), manager=self.manager,
            version_reason=version_reason(policy, service_month), billing_given=billing is not None)
        inputs = decision_inputs(parsed, family, now, {"minutes": minutes, "incidents": incidents, "notices": notices,
                                                        "billing": billing}, loaded_minutes.plan,
                                  loaded_minutes.digest)
        if own and self._ledger_file is not None:  # a ledger it used: never made again, even if it goes meanwhile
            try:
                book = Ledger(self._ledger_file[0], create=False)
            except LedgerError:
                self._check_ledger_kept()  # gone or replaced since the check above: said so
                raise
            with book:
                self._check_ledger_kept()  # a copy put in its place while the inputs were read opens as well
                return decide(policy, parsed, service_month, window, month, billing=loaded_billing, ledger=book,
                              inputs=inputs, now=now, manager=self.manager)
        if found is not None and ledger_file(ledger) != found:
            raise LedgerError(f"{ledger or default_ledger_path()}: the ledger was removed, moved or replaced while the "
                              "claim was decided; nothing was recorded: put it back and decide the claim again")
        decision = decide(policy, parsed, service_month, window, month, billing=loaded_billing, ledger=ledger,
                          inputs=inputs, now=now, manager=self.manager)
        if own:
            self._remember_ledger()
        return decision

    def _check_ledger_kept(self) -> None:
        """LedgerError when the ledger this engine recorded (or found) a decision in is gone since (deleted, moved)
        or is another file (a copy put in its place), before anything is read. A claim decided into a new ledger
        would not see the old one's grants, and pay a month again: a long-lived engine (``slapolicy serve``) made
        one silently, as a first claim does (docs/ledger.md)."""
        if self._ledger_file is None:
            return
        path, identity = self._ledger_file
        if path != (self.ledger_path or default_ledger_path()):
            return  # the default ledger's directory moved with $XDG_DATA_HOME: another ledger, not this one
        try:
            now = os.stat(path)
        except FileNotFoundError:
            raise LedgerError(f"{path}: the ledger this engine recorded decisions in is gone (deleted or moved): a new "
                              "one would not know its grants and could pay a month twice; nothing was decided. Put it "
                              "back, or start the service (the engine) again to begin a new ledger") from None
        if (now.st_dev, now.st_ino) != identity:
            raise LedgerError(f"{path}: the ledger this engine recorded decisions in was replaced by another file (a "
                              "copy put in its place?): decisions recorded since that copy was made would be unknown to "
                              "it; nothing was decided. Start the service (the engine) again to use it")

    def _remember_ledger(self) -> None:
        path = self.ledger_path or default_ledger_path()
        with contextlib.suppress(OSError):
            identity = os.stat(path)
            self._ledger_file = (path, (identity.st_dev, identity.st_ino))

    def replay(self, *, minutes, start: str, end: str, under, incidents=None, notices=None, billing=None,
               workers: int | None = None, dask: str | None = None, strips: bool = False, progress=None,
               on_settled=None) -> dict:
        """Replay every account and Service Month from ``start`` to ``end`` (YYYY-MM) under ``under``.

        The minutes are read once; each account-month is evaluated under the version then in force and under
        ``under`` by :func:`slapolicy.replay.replay_chunk`, here or on the workers, which receive the versions
        as content. ``strips`` adds the minute strips the HTML report draws; ``progress`` is called with the
        number of minute rows read so far, on this (the caller's) thread: the reading's own relays it (Relay).
        ``on_settled``: called on this thread with each row replayed while the minutes are still read (as
        ``Engine.evaluate``'s); the rows returned are those same dicts unless the reading made them be redone."""
        # replay's module (and the diff it reports with): loaded by replay, never by evaluate or a claim
        from .replay import (chunks_of, common_timezone, month_range, replay_chunk, replay_policies, replay_report,
                             replay_settled, replay_spec, work_items)

        check_inputs_given(minutes=minutes, incidents=incidents, notices=notices, billing=billing)
        check_runner_arguments(workers, dask)
        spec_dir, spec_under = str(self.policy_dir), str(path_argument(under, "under"))
        # Read through replay's cache of the directory's state, not the snapshot, as replay always was.
        family, amended = replay_policies(spec_dir, spec_under)
        months = month_range(start, end)
        try:
            baselines = {m.label: family.in_force(m.start) for m in months}
        except NoVersionInForce as exc:  # the month to start from was left to work out from the version's date
            earliest = family.versions[0].effective_from
            # Mid-month, it governs from the next Service Month (§6.2), as lint's mid-month warning says.
            first = earliest if earliest.day == 1 else calendar_month(f"{earliest:%Y-%m}").end + dt.timedelta(days=1)
            raise NoVersionInForce(f"{exc}: each month replayed needs the version then in force as its baseline; "
                                   f"replay from {first:%Y-%m} on") from None
        timezone = common_timezone(baselines, amended)
        policies = list({p.sha256: p for p in [*baselines.values(), amended]}.values())
        for policy in policies:  # before the minutes are scanned; the tasks evaluate with the installed plugins
            check_facts_supplied(policy, get_manager())
        causes = sorted({c for p in policies for c in p.causes})
        loaded_incidents = tuple(read_incidents(incidents, amended, causes=causes)) if incidents else ()
        with self._runner_for(workers, dask, minutes) as runner:
            # In this process, the accounts whose rows are all read are replayed while the others are read.
            relay = Relay(progress) if progress else None  # called on this thread, while it waits or replays
            settled = Settled(relay) if not runner.remote else None
            # The minutes are read while the notices and billing are; their problems come first, as they did
            # when they were read first, and cancel the reading (Background) rather than wait for all of it.
            with Background(read_minutes, minutes, months, policies, runner=runner, progress=relay,
                            cancel=Cancellation(), settled=settled) as reading:
                loaded_notices = tuple(read_notices(notices, timezone)) if notices else ()
                loaded_billing = read_billing(billing) if billing else {}
                # Its problem (a version's file changed meanwhile) is raised after the minutes', as before.
                spec = outcome(replay_spec, baselines, amended, loaded_incidents, loaded_notices, strips)
                replayed = replay_settled(spec, settled, months, loaded_billing, on_row=on_settled) \
                    if settled is not None else None
            scan = reading.result()
            one_form_each(None, minutes=(minutes, scan), billing=billing and (billing, loaded_billing),
                          incidents=(incidents, loaded_incidents), notices=(notices, loaded_notices))
            spec = spec()
            if not scan.settled:
                replayed = None  # worked out from pieces the result is not made of
            items = work_items(scan, months, loaded_billing)
            chunks = chunks_of([item for item in items if (item[0], item[1]) not in replayed] if replayed else items)
            rows = [row for part in runner.map(replay_chunk, [spec] * len(chunks), chunks) for row in part]
            rows += replayed.values() if replayed else ()
        return replay_report(amended, spec_under, months, scan, rows, minutes, baselines.values())


def _engine_again(given: Path, root: Path, ledger, workers, dask) -> Engine:
    """An :class:`Engine` unpickled (``Engine.__reduce__``): its directory named as given if that name leads to the
    same directory in this process, else by its absolute path."""
    try:
        same = given.absolute() == root
    except OSError:  # no working directory
        same = False
    return Engine(given if same else root, ledger=ledger, workers=workers, dask=dask)


def _engine_for_one_call(given, ledger) -> Engine:
    return Engine.for_one_call(given, ledger=ledger)


# How many names the accounts asked about are compared with in spelling, all of them together (difflib: ~1.5 µs a
# name of ten letters): the first accounts asked about get their suggestion while the bound allows, the others none.
# Unbounded, 20 misspelt accounts against a file of 100,000 accounts took 3 CPU-s of an error path a service answers.
SPELLING_COMPARISONS = 200_000


def _evaluated(evaluations: list, minutes, service_month, loaded_minutes, policy, on_nothing=None) -> dict:
    """``{"evaluations": [...]}``; with none, ``on_nothing`` told what the minutes hold instead (the rows read, whatever
    their format, and the Parquet row groups their statistics left unread: :meth:`Engine.evaluate`)."""
    if not evaluations and on_nothing is not None:
        on_nothing(held_minutes_note(minutes, [service_month.label], loaded_minutes.seen, loaded_minutes.rows_read,
                                     policy.timezone))
    return {"evaluations": evaluations}


def accounts_meant(unknown: list, minutes, service_month, policy, billing) -> str:
    """'; did you mean 'acme'?' for accounts asked about and not found (``--account ACME`` where the data says
    acme), or "". An error path only: the minutes are read again for the names the asked ones are in other capitals
    (lower, upper, title case: the same quick reading of a few accounts' rows), and the month's billing (read whole)
    gives those too, or the one name nearest in spelling (within SPELLING_COMPARISONS). A name is suggested only
    where it was found."""
    import difflib  # the error path's own

    billed = sorted({account for account, month in (billing or {}) if month == service_month.label})
    forms = {unknown_name: {form for form in (unknown_name.lower(), unknown_name.upper(), unknown_name.title(),
                                              unknown_name.capitalize(), unknown_name.casefold()) if form != unknown_name}
             for unknown_name in unknown}
    found, spelled = set(billed), set(billed)
    # Minutes handed over in memory (a list of rows, a table; a request's inline rows) are at hand, and bounded by the
    # caller's memory (serve's by --max-body): read whole, their names of the month are compared in spelling too, as
    # a Parquet file's row groups' are. A file of text is not read whole again for it.
    in_memory = minutes is not None and held_in_memory(minutes)
    if minutes is not None:
        try:
            read = read_minutes(minutes, [service_month], [policy], accounts=None if in_memory else
                                sorted({form for each in forms.values() for form in each})).accounts
            found |= read
            if in_memory:
                spelled |= read
        except Exception:  # noqa: BLE001 -- a problem in those rows is said when they are asked for; no suggestion
            pass
    if minutes is not None and not in_memory:
        try:  # the names a Parquet file's row groups of the month hold, from their statistics or dictionary pages
            spelled |= account_names(plan(minutes, request_for([service_month], policy.timezone, [policy])))
        except Exception:  # noqa: BLE001 -- as above
            pass
    meant, names, room = [], sorted(spelled), SPELLING_COMPARISONS
    for unknown_name in unknown:
        near = sorted(name for name in found if name.casefold() == unknown_name.casefold() and name != unknown_name)
        if not near and len(names) <= room:
            room -= len(names)
            near = difflib.get_close_matches(unknown_name, names, n=1, cutoff=0.8)
        if near:
            meant.append((unknown_name, near[0]))
    if not meant:
        return ""
    if len(unknown) == 1:
        return f"; did you mean {quoted_name(meant[0][1])}?"
    return "; did you mean " + ", ".join(f"{quoted_name(name)} for {quoted_name(asked)}" for asked, name in meant) + "?"


def one_form_each(asked, **inputs) -> None:
    """Refuse an account named in two Unicode forms across the inputs of a call (``tables.refuse_two_forms``).
    ``asked``: (where, the accounts a call names) or None; ``inputs``: {kind: (the input as given, as read)}, each
    left out when not given."""
    named = [asked] if asked else []
    for kind, given in inputs.items():
        if not given or given[0] is None:
            continue
        source, read = given
        where = f"the {kind} {source}" if isinstance(source, (str, Path)) else where_given(source, kind)
        if kind == "minutes":
            names = sorted(read.accounts)
        elif kind == "billing":
            names = [account for account, _ in read]
        else:
            names = [item.account for item in read]
        named.append((where, names))
    refuse_two_forms(named)


def outcome(fn, *args):
    """``fn(*args)`` as a call that returns its result or raises its exception: run now, its problem raised
    later, where it was raised before the work it now runs beside."""
    try:
        result = fn(*args)
    except Exception as exc:
        error = exc  # ``exc`` is unbound when the except clause ends

        def fail():
            raise error
        return fail
    return lambda: result


class MonthSpec(NamedTuple):  # a NamedTuple: a quarter of a dataclass's making at every start
    """What a worker needs to evaluate account-months of one Service Month (small and picklable): the version
    as content, the month, the windows and the reason the version applies."""

    policy: PolicyContent
    service_month: object  # ServiceMonth
    incidents: ByAccount
    notices: ByAccount
    reason: str
    billing_given: bool = True  # whether any billing was given, which a month without a bill's trace says


def evaluate_chunk(spec: MonthSpec, items: list) -> list[dict]:
    """The pure per-chunk function of ``evaluate`` on workers: :func:`slapolicy.evaluation.month.month_items` → results."""
    return evaluate_items(policy_of(spec.policy), spec.service_month, items, incidents=spec.incidents,
                          notices=spec.notices, reason=spec.reason, billing_given=spec.billing_given)
