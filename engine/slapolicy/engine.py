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

from .policy import PolicyDirectory


class Engine:
    def __init__(self, policy_dir: str | Path, *, ledger: str | Path | None = None, manager=None):
        from .plugins import get_manager
        from .rules import check_backend

        check_backend()  # on Python 3.13+, a durable-rules built without its flag is named here, in one line
        self.policy_dir = Path(policy_dir)
        self.ledger_path = Path(ledger) if ledger else None
        self.manager = manager or get_manager()
        self._lock = threading.Lock()
        self._snapshot = self._load()

    def _load(self) -> PolicyDirectory:
        from .plugins import check_facts_supplied

        family = PolicyDirectory(self.policy_dir).check()
        for policy in family.versions:
            check_facts_supplied(policy, self.manager)  # a fact no plugin supplies fails at start, not per request
            policy.ruleset  # compile and register now, not under the first request
        return family

    @property
    def family(self) -> PolicyDirectory:
        """The current snapshot of published versions (immutable; replaced whole by reload)."""
        return self._snapshot

    def reload(self) -> PolicyDirectory:
        """Load the directory again; requests already running keep the snapshot they started with.
        A directory with errors raises and leaves the current snapshot in place."""
        fresh = self._load()
        with self._lock:
            self._snapshot = fresh
        return fresh

    def versions(self) -> list[dict]:
        return [{"version": p.version, "effective_from": p.effective_from.isoformat(), "sha256": p.sha256,
                 "file": p.path} for p in self.family.versions]

    def in_force(self, month: str) -> dict:
        policy = self.family.in_force(month)
        return policy.summary() | {"effective_from": policy.effective_from.isoformat()}

    def evaluate(self, *, minutes, month: str, incidents=None, notices=None, billing=None, accounts=None,
                 term_start: dt.date | None = None, term_end: dt.date | None = None, policy_file=None) -> dict:
        from .api import evaluate

        return evaluate(self.family, minutes=minutes, month=month, incidents=incidents, notices=notices, billing=billing,
                        accounts=accounts, term_start=term_start, term_end=term_end, policy_file=policy_file,
                        manager=self.manager)

    def decide_claim(self, claim: dict, *, minutes, incidents=None, notices=None, billing=None,
                     now: dt.datetime | None = None, ledger: str | Path | None = None) -> dict:
        from .claims import decide_claim

        return decide_claim(self.family, claim, minutes=minutes, incidents=incidents, notices=notices, billing=billing,
                            ledger=ledger or self.ledger_path, now=now, manager=self.manager)

    def replay(self, *, minutes, start: str, end: str, under, incidents=None, notices=None, billing=None,
               workers: int | None = None, dask: str | None = None) -> dict:
        from .replay import replay

        return replay(self.policy_dir, minutes=minutes, start=start, end=end, under=under, incidents=incidents,
                      notices=notices, billing=billing, workers=workers, dask=dask)
