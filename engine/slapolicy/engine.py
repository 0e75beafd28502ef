"""``Engine``: the one entry point for services that embed slapolicy.

An Engine is made once from a policy directory and shared between threads:

* the published versions are loaded, checked and their rules compiled once, into an
  immutable *snapshot*; every call reads the snapshot it started with, so
  :meth:`Engine.reload` while requests run serves each request from one consistent set
  of versions;
* durable-rules is reached only through :mod:`slapolicy.rules`, which serialises the calls
  on each ruleset and reuses one session per ruleset: the engine's 1024-session limit
  cannot be reached, whatever the load;
* claim decisions go to one SQLite ledger (one connection per call, transactions
  serialised by SQLite), so concurrent decisions never grant twice or exceed §6.1.

Every method returns plain, JSON-serialisable data.
"""
from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

from .errors import SlapolicyError
from .files import path_argument
from .policy import PolicyDirectory, directory_signature
from .versions_lock import family_lock


class Engine:
    def __init__(self, policy_dir: str | Path, *, ledger: str | Path | None = None, manager=None):
        from .plugins import get_manager
        from .rules import check_backend

        check_backend()  # on Python 3.13+, a durable-rules built without its flag is named here, in one line
        self.policy_dir = path_argument(policy_dir, "policy_dir")
        self.ledger_path = path_argument(ledger, "ledger") if ledger is not None else None
        self.manager = manager or get_manager()
        self._lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        self._snapshot, self._signature = self._load()
        self._refused: tuple | None = None  # the directory state a refresh last failed to load
        self.refresh_error: str | None = None

    def _load(self) -> tuple[PolicyDirectory, tuple]:
        from .plugins import check_facts_supplied

        if self.policy_dir.is_dir():
            # Read under a shared lock on the family: `slapolicy publish` holds it exclusively while it
            # writes a version and its lock entry, so a reload never sees half a publication.
            with family_lock(self.policy_dir, shared=True):
                signature = directory_signature(self.policy_dir)
                family = PolicyDirectory(self.policy_dir).check()
        else:
            signature, family = (), PolicyDirectory(self.policy_dir)  # raises: no such policy directory
        for policy in family.versions:
            check_facts_supplied(policy, self.manager)  # a fact no plugin supplies fails at start, not per request
            policy.ruleset  # compile and register now, not under the first request
        return family, signature

    @property
    def family(self) -> PolicyDirectory:
        """The current snapshot of published versions (immutable; replaced whole by reload)."""
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
                 workers: int | None = None, dask: str | None = None) -> dict:
        from .api import evaluate

        return evaluate(self.family, minutes=minutes, month=month, incidents=incidents, notices=notices, billing=billing,
                        accounts=accounts, term_start=term_start, term_end=term_end, policy_file=policy_file,
                        manager=self.manager, workers=workers, dask=dask)

    def decide_claim(self, claim: dict, *, minutes, incidents=None, notices=None, billing=None,
                     now: dt.datetime | None = None, ledger: str | Path | None = None, workers: int | None = None,
                     dask: str | None = None) -> dict:
        from .claims import decide_claim

        return decide_claim(self.family, claim, minutes=minutes, incidents=incidents, notices=notices, billing=billing,
                            ledger=ledger or self.ledger_path, now=now, manager=self.manager, workers=workers, dask=dask)

    def replay(self, *, minutes, start: str, end: str, under, incidents=None, notices=None, billing=None,
               workers: int | None = None, dask: str | None = None) -> dict:
        from .replay import replay

        return replay(self.policy_dir, minutes=minutes, start=start, end=end, under=under, incidents=incidents,
                      notices=notices, billing=billing, workers=workers, dask=dask)
