"""slapolicy: SLA terms as versioned YAML policies, evaluated against operations data.

The Python API (every result is plain, JSON-serialisable data)::

    from slapolicy import PolicyDirectory, load_policy
    policies = PolicyDirectory("policies/ccc")
    policy = policies.in_force("2019-03")          # the version in force for a Service Month
    result = evaluate("policies/ccc", minutes="minutes.csv", month="2019-03", billing="billing.csv")
"""
from .api import evaluate
from .engine import Engine
from .calendar import ServiceMonth, calendar_month, service_months
from .errors import Diagnostic, InputError, NoVersionInForce, PolicyError, SlapolicyError
from .policy import Policy, PolicyDirectory, load_policy, read_policy, schema

__all__ = [
    "Diagnostic", "Engine", "InputError", "NoVersionInForce", "Policy", "PolicyDirectory", "PolicyError", "ServiceMonth",
    "SlapolicyError", "calendar_month", "evaluate", "load_policy", "read_policy", "schema", "service_months",
]
__version__ = "0.1.0"
