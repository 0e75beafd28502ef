"""The Python API for services and scripts: paths or loaded data in, plain JSON-serialisable results out."""
from __future__ import annotations

import datetime as dt

from .calendar import service_month_in
from .errors import ArgumentError
from .files import path_argument
from .data import account_name, read_billing, read_incidents, read_notices
from .evaluate import evaluate_month, version_reason
from .plugins import check_facts_supplied, get_manager
from .policy import PolicyDirectory, load_policy


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
    bad = [a for a in accounts if not isinstance(a, str)]
    if bad:
        raise ArgumentError(f"accounts must be names (strings); {bad[0]!r} is a {type(bad[0]).__name__}")
    names = [account_name(a) for a in accounts]  # trimmed as every input's names are
    if None in names:
        raise ArgumentError(f"account name {accounts[names.index(None)]!r} is blank: name an account")
    return names


def _family(policy_dir) -> PolicyDirectory:
    return policy_dir if isinstance(policy_dir, PolicyDirectory) else PolicyDirectory(policy_dir)


def evaluate(policy_dir, *, minutes, month: str, incidents=None, notices=None, billing=None, accounts=None,
             term_start: dt.date | None = None, term_end: dt.date | None = None, policy_file=None,
             manager=None, workers: int | None = None, dask: str | None = None) -> dict:
    """Evaluate a Service Month for every account (or ``accounts``): ``{"evaluations": [...]}``.

    ``minutes`` is a file, a directory of Parquet files (hive-partitioned or not) or data in memory;
    ``incidents``, ``notices`` and ``billing`` are file paths or data. The version in force for the
    Service Month is used unless ``policy_file`` names another (a draft, say). ``workers`` or ``dask``
    read the minutes' partitions in local processes or on a Dask cluster.
    """
    from .distributed import Runner
    from .minutes import read_minutes

    accounts = account_list(accounts)
    family = _family(policy_dir)
    service_month = service_month_in(month, term_start, term_end)
    in_force = family.in_force(service_month.start)
    if policy_file is not None:
        policy = load_policy(path_argument(policy_file, "policy_file"))
        reason = version_reason(policy, service_month, forced=True, in_force=in_force)
    else:
        policy, reason = in_force, version_reason(in_force, service_month)
    check_facts_supplied(policy, manager or get_manager())  # before a large minutes file is read
    loaded_incidents = read_incidents(incidents, policy) if incidents else []
    with Runner(workers, dask) as runner:
        loaded_minutes = read_minutes(minutes, [service_month], [policy], accounts=accounts, incidents=loaded_incidents,
                                      runner=runner)
    loaded_notices = read_notices(notices, policy.timezone) if notices else []
    loaded_billing = read_billing(billing) if billing else None
    evaluations = evaluate_month(policy, service_month, loaded_minutes, incidents=loaded_incidents,
                                 notices=loaded_notices, billing=loaded_billing, accounts=accounts, reason=reason,
                                 manager=manager)
    return {"evaluations": evaluations}

