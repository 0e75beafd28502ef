"""The hooks a plugin can implement. Each is documented in docs/plugins.md (a test checks it).

Plugins register through the ``slapolicy`` entry-point group::

    [project.entry-points.slapolicy]
    my_facts = "my_package.my_module"

and implement hooks with ``@slapolicy.hookimpl``. The built-in fact providers in
``plugins/slapolicy_builtins`` have entry points exactly like that (the manager also registers them by
module name first: :data:`slapolicy.plugins.DEFAULT_PLUGINS`).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:  # the arrays' type, in annotations only: the policy commands (show, diff, test) never load numpy
    import numpy as np

hookspec = pluggy.HookspecMarker("slapolicy")
hookimpl = pluggy.HookimplMarker("slapolicy")


@dataclass(frozen=True)
class FactWindow:
    """Facts that hold during ``[start, end)`` for one account (or every account when None).

    ``source`` says what kind of input it came from ("incident", "notice", ...) and ``id``
    which one: the trace cites them for every minute a clause excludes.
    """

    source: str
    id: str
    start: dt.datetime
    end: dt.datetime
    account: str | None
    facts: dict


@dataclass(frozen=True)
class MinuteFact:
    """Values of one fact for each unavailable minute (aligned with ``UnavailableMinutes``)."""

    values: np.ndarray
    note: str | None = None  # said in the trace, e.g. which fallback was used


@dataclass(frozen=True)
class UnavailableMinutes:
    """The unavailable minutes of one account's Service Month, as columns."""

    minute: np.ndarray  # UTC epoch minutes
    requests: np.ndarray  # all requests of the minute, illegal-number ones included
    failures: np.ndarray
    illegal_number_failures: np.ndarray
    peak_qps: np.ndarray  # NaN where the data has none
    has_peak_qps: bool


@dataclass(frozen=True)
class EvaluationContext:
    """What a fact provider may look at: the account, the Service Month and the inputs."""

    account: str
    service_month: object  # slapolicy.calendar.ServiceMonth
    month_start: dt.datetime  # aware, policy timezone
    month_end: dt.datetime  # exclusive
    incidents: tuple = ()
    notices: tuple = ()
    extra: dict = field(default_factory=dict)  # inputs a third-party plugin may need


@hookspec
def slapolicy_window_facts(policy, context: EvaluationContext):
    """Return an iterable of :class:`FactWindow` for ``context.account`` in the Service Month.

    Called once per account and Service Month. The engine widens or narrows each window
    to whole minutes as the policy's ``exclusions.window_rounding`` says, and matches the
    clauses against the facts of every window covering an unavailable minute.
    """


@hookspec
def slapolicy_minute_facts(policy, context: EvaluationContext, minutes: UnavailableMinutes):
    """Return a dict ``{fact name: MinuteFact}`` with one value per unavailable minute.

    Called once per account and Service Month, only when it has unavailable minutes.
    Facts the policy does not declare are ignored; declared facts no plugin supplies take
    the policy's default.
    """


@hookspec
def slapolicy_supplied_facts():
    """Return the names of the facts this plugin supplies (through either fact hook).

    A policy whose clauses test a fact that no plugin names here is refused before it is
    applied: without its plugin, the fact would take its default in every minute and the
    clause would apply always or never, whatever the inputs say.
    """


@hookspec(firstresult=True)
def slapolicy_business_calendar(name: str):
    """Return the business calendar called ``name`` (an object with ``is_business_day(date)``), or None.

    ``firstresult``: the first plugin that knows the name answers. Used for the claim
    window of §3.2 (the policy's ``claims.business_calendar``).
    """


@hookspec
def slapolicy_decision_made(decision: dict):
    """Called after a claim decision is committed to the ledger (not for a repeated claim).

    ``decision`` is the JSON-serialisable result printed by ``slapolicy claim``, with its
    ``decision_id``. A service forwards it (a queue, a ticket); an exception raised here
    is reported but does not undo the decision, which is already recorded.
    """
