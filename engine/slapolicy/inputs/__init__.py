"""The inputs, and the row checks every reader of minutes shares: ``problems`` (a file's header, and every bad
row with its file, row, line and column), ``tables`` (a file or in-memory table of named columns; the row
checks of minutes), ``timestamps``, ``events`` (incidents and notices), ``billing``, and ``json_lines`` (JSON
Lines read a block at a time).

Each name below is imported from its module on first use (PEP 562), as ``slapolicy``'s own are: a claim starts
reading its minutes (``tables``, ``timestamps``, ``problems``) before it needs the billing's module, which then
loads beside the reading instead of before its first row (~2 ms, a dataclass among it)."""
import importlib as _importlib

# Where each name lives.
_HOMES = {"BillingRow": "billing", "read_billing": "billing", "ByAccount": "events", "Incident": "events",
          "Notice": "events", "read_incidents": "events", "read_notices": "events", "Problems": "problems",
          "account_name": "tables"}

__all__ = ["BillingRow", "ByAccount", "Incident", "Notice", "Problems", "account_name", "read_billing",
           "read_incidents", "read_notices"]


def __getattr__(name: str):
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # asked once: the next use is an ordinary attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
