"""slapolicy: SLA terms as versioned YAML policies, evaluated against operations data.

The Python API (every result is plain, JSON-serialisable data)::

    from slapolicy import PolicyDirectory, load_policy
    policies = PolicyDirectory("policies/ccc")
    policy = policies.in_force("2019-03")          # the version in force for a Service Month
    result = evaluate("policies/ccc", minutes="minutes.csv", month="2019-03", billing="billing.csv")
    decision = decide_claim("policies/ccc", claim_dict, minutes="minutes.csv", billing="billing.csv")
    report = replay("policies/ccc", minutes="minutes.csv", start="2019-01", end="2019-06", under="draft.yaml")

The three functions are thin wrappers over :class:`Engine`, the one orchestrator; services that
share one instance between threads make an Engine themselves (docs/api.md).
"""
__version__ = "0.1.0"  # before the imports: claims and audit, which they load, record it in each decision

from .api import decide_claim, evaluate, replay
from .engine import Engine
from .calendar import ServiceMonth, calendar_month, service_months
from .errors import (ArgumentError, Diagnostic, InputError, LedgerError, LedgerIntegrityError, NoVersionInForce,
                     PluginError, PolicyError, RulesBackendUnavailable, SchedulerUnavailable, SlapolicyError,
                     UsageError)
from .policy import Policy, PolicyDirectory, load_policy, read_policy, schema

__all__ = [
    "ArgumentError", "PluginError", "RulesBackendUnavailable", "SchedulerUnavailable", "UsageError",
    "Diagnostic", "Engine", "InputError", "LedgerError", "LedgerIntegrityError", "NoVersionInForce", "Policy", "PolicyDirectory", "PolicyError", "ServiceMonth",
    "SlapolicyError", "calendar_month", "decide_claim", "evaluate", "load_policy", "replay", "read_policy", "schema", "service_months",
]
