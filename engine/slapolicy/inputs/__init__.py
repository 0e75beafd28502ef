"""The inputs besides minutes, and the row checks minutes share: problems (every bad row reported with its
file, row, line and column), tables and their column checks, timestamps, incidents and notices, billing
(``tables``), and the JSON Lines reader (``json_lines``)."""
from .tables import (BillingRow, ByAccount, Incident, Notice, Problems, account_name, read_billing, read_incidents,
                     read_notices)

__all__ = ["BillingRow", "ByAccount", "Incident", "Notice", "Problems", "account_name", "read_billing",
           "read_incidents", "read_notices"]
