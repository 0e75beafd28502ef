"""The module-level API for scripts: ``slapolicy.evaluate``, ``slapolicy.decide_claim``, ``slapolicy.replay``.

Each is a thin wrapper over :class:`~slapolicy.engine.Engine`, as httpx's functions are over its
``Client``: it makes an engine for one call (:meth:`Engine.for_one_call`) and calls the method of
the same name, so a script, the CLI and a service run the same code and get the same JSON.
A service that shares state between calls makes one ``Engine`` itself (docs/api.md).
"""
from __future__ import annotations

import datetime as dt

from .engine import Engine, account_list  # noqa: F401 — account_list: where callers found it before


def evaluate(policy_dir, *, minutes, month: str, incidents=None, notices=None, billing=None, accounts=None,
             term_start: dt.date | None = None, term_end: dt.date | None = None, policy_file=None,
             manager=None, workers: int | None = None, dask: str | None = None) -> dict:
    """Evaluate a Service Month for every account (or ``accounts``): ``{"evaluations": [...]}``.

    ``policy_dir`` is a path or a :class:`~slapolicy.policy.PolicyDirectory`; the rest is
    :meth:`Engine.evaluate`'s.
    """
    return Engine.for_one_call(policy_dir, manager=manager).evaluate(
        minutes=minutes, month=month, incidents=incidents, notices=notices, billing=billing, accounts=accounts,
        term_start=term_start, term_end=term_end, policy_file=policy_file, workers=workers, dask=dask)


def decide_claim(policy_dir, claim_data: dict, *, minutes, incidents=None, notices=None, billing=None, ledger=None,
                 now: dt.datetime | None = None, manager=None, where: str = "claim", workers: int | None = None,
                 dask: str | None = None) -> dict:
    """Decide a claim (a dict as read from CLAIM.json) and record it in the ledger (a path or a Ledger):
    :meth:`Engine.decide_claim`."""
    return Engine.for_one_call(policy_dir, manager=manager).decide_claim(
        claim_data, minutes=minutes, incidents=incidents, notices=notices, billing=billing, now=now, ledger=ledger,
        where=where, workers=workers, dask=dask)


def replay(policy_dir, *, minutes, start: str, end: str, under, incidents=None, notices=None, billing=None,
           workers: int | None = None, dask: str | None = None, strips: bool = False, progress=None) -> dict:
    """Replay every account and Service Month from ``start`` to ``end`` (YYYY-MM) under ``under``:
    :meth:`Engine.replay`."""
    return Engine.for_one_call(policy_dir).replay(
        minutes=minutes, start=start, end=end, under=under, incidents=incidents, notices=notices, billing=billing,
        workers=workers, dask=dask, strips=strips, progress=progress)
