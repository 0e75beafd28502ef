"""The inputs, and the row checks every reader of minutes shares: ``problems`` (a file's header, and every bad
row with its file, row, line and column), ``tables`` (a file or in-memory table of named columns; the row
checks of minutes), ``timestamps``, ``events`` (incidents and notices), ``billing``, and ``json_lines`` (JSON
Lines read a block at a time)."""
from .billing import BillingRow, read_billing
from .events import ByAccount, Incident, Notice, read_incidents, read_notices
from .problems import Problems
from .tables import account_name

__all__ = ["BillingRow", "ByAccount", "Incident", "Notice", "Problems", "account_name", "read_billing",
           "read_incidents", "read_notices"]
