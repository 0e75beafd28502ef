"""What the minutes path hands upward for one account's Service Month: its candidate rows
(:class:`MonthMinutes`) and the counts over all its rows (:class:`MonthTotals`). They live here, in the layer
that makes them, and the evaluation above takes them: the arrow points up."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class MonthMinutes:
    """The statistics rows of one account inside one Service Month (sorted by minute)."""

    minute: np.ndarray
    requests: np.ndarray
    failures: np.ndarray
    illegal: np.ndarray
    peak_qps: np.ndarray
    has_peak_qps: bool
    # Every row inside the provider incidents' windows is here, though other rows may not be (the minutes
    # path keeps the candidate rows and those): enough to warn about incidents over minutes without data.
    within_incidents: bool = False
    # Or, for one Service Month read with provider incidents: (window start, end) -> (minutes with requests, with
    # normal requests) inside each of the incidents that concern the account, the rows themselves not kept.
    incident_traffic: dict | None = None

    @classmethod
    def empty(cls, within_incidents: bool = False) -> "MonthMinutes":
        zero = np.zeros(0, np.int64)
        return cls(zero, zero, zero, zero, np.zeros(0), False, within_incidents)


@dataclass(frozen=True)
class MonthTotals:
    """Counts over *all* rows of an account's Service Month, so that the evaluation can be given only the
    rows that may be unavailable (replay scans a file once and keeps just those)."""

    with_data: int
    traffic_all: int  # minutes with requests > 0
    traffic_normal: int  # minutes with requests − illegal-number failures > 0
    illegal_failures: int
    illegal_minutes: int
    naive: int = 0  # rows whose minute was written without a UTC offset (read in the policy's timezone)

    @classmethod
    def of(cls, rows: "MonthMinutes") -> "MonthTotals":
        return cls(len(rows.minute), int((rows.requests > 0).sum()), int((rows.requests - rows.illegal > 0).sum()),
                   int(rows.illegal.sum()), int((rows.illegal > 0).sum()))
