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

Each public name is imported on first use (PEP 562), so ``import slapolicy`` loads neither numpy nor pyarrow:
the CLI sets its process's environment before numpy reads it (``slapolicy.cli.main``), and a program that
only needs the errors or the calendar does not pay for the engine.
"""
import importlib as _importlib
import importlib.util as _importlib_util
import sys as _sys
import types as _types
import typing as _typing

__version__ = "0.3.0"  # claims and audit, which import it from here, record it in each decision

# Where each public name lives.
_HOMES = {
    "decide_claim": "api", "evaluate": "api", "replay": "api",
    "Engine": "engine",
    "ServiceMonth": "calendar", "calendar_month": "calendar", "service_months": "calendar",
    "Policy": "policy", "PolicyDirectory": "policy", "load_policy": "policy", "read_policy": "policy", "schema": "policy",
    **dict.fromkeys(("ArgumentError", "Diagnostic", "InputError", "LedgerError", "LedgerIntegrityError",
                     "NoVersionInForce", "PluginError", "PolicyError", "RulesBackendUnavailable", "SchedulerUnavailable",
                     "SlapolicyError", "UsageError", "WorkersLost"), "errors"),
}

if _typing.TYPE_CHECKING:  # what type checkers and editors read; at run time each name is imported by __getattr__ below
    from .api import decide_claim, evaluate, replay
    from .calendar import ServiceMonth, calendar_month, service_months
    from .engine import Engine
    from .errors import (ArgumentError, Diagnostic, InputError, LedgerError, LedgerIntegrityError, NoVersionInForce,
                         PluginError, PolicyError, RulesBackendUnavailable, SchedulerUnavailable, SlapolicyError,
                         UsageError, WorkersLost)
    from .policy import Policy, PolicyDirectory, load_policy, read_policy, schema

__all__ = [
    "ArgumentError", "PluginError", "RulesBackendUnavailable", "SchedulerUnavailable", "UsageError", "WorkersLost",
    "Diagnostic", "Engine", "InputError", "LedgerError", "LedgerIntegrityError", "NoVersionInForce", "Policy", "PolicyDirectory", "PolicyError", "ServiceMonth",
    "SlapolicyError", "calendar_month", "decide_claim", "evaluate", "load_policy", "replay", "read_policy", "schema", "service_months",
]


def __getattr__(name: str):
    """A public name, imported from its home the first time it is asked for; or a submodule (``slapolicy.engine``
    was an attribute after ``import slapolicy`` when the package imported it eagerly, and still is)."""
    home = _HOMES.get(name)
    if home is not None:
        value = getattr(_importlib.import_module(f"{__name__}.{home}"), name)
    elif not name.startswith("_") and _importlib_util.find_spec(f"{__name__}.{name}") is not None:
        value = _importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # asked once: the next use is an ordinary attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _Package(_types.ModuleType):
    """The package itself. The import system binds each submodule to its name on the package as it first loads
    it, which would hide the function ``slapolicy.replay`` under the module ``slapolicy.replay`` (loaded by the
    engine): a public name keeps what it names, as when the package imported everything eagerly, and the module
    stays importable by its dotted name (``from slapolicy.replay import replay``)."""

    def __setattr__(self, name, value):
        if name in _HOMES and isinstance(value, _types.ModuleType):
            return
        super().__setattr__(name, value)


_sys.modules[__name__].__class__ = _Package
