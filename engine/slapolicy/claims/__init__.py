"""Claims (§3): the window a claim must be filed in (§3.2), the materials it must carry (§3.3), the decision
and its ledger record (``decision``), and the audit of a ledger (``audit``: import it as ``slapolicy.claims.audit``;
it drives the Engine, which builds on this package)."""
from .materials import load_claim_document, material_reasons

__all__ = ["aggregate_cap", "business_calendar", "cap_window", "claim_window", "decide_claim", "load_claim_document",
           "material_reasons", "month_index", "month_label"]

_WINDOW = ("business_calendar", "claim_window")
_DECISION = ("aggregate_cap", "cap_window", "month_index", "month_label")


def __getattr__(name: str):
    # The window's and the decision's names resolve on first use: the CLI reads a claim's document (materials)
    # and starts reading its minutes before the decision's modules (numpy's evaluation, the ledger's sqlite3) and
    # the plugins load, which then load while the minutes are read (cli/data_commands.py cmd_claim).
    if name in _WINDOW:
        from . import window as module  # first use: see above
    elif name in _DECISION:
        from . import decision as module  # first use: see above
    else:
        module = None
    if module is not None:
        return getattr(module, name)
    # decide_claim(policy_dir, claim, ...) is named slapolicy.claims.decide_claim in earlier docs. It is a thin
    # wrapper over Engine (slapolicy.api), which builds on this package: importing it at the top would be a cycle.
    if name == "decide_claim":
        from ..api import decide_claim  # api -> engine -> claims: at the top, a cycle

        return decide_claim
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
