"""The evaluation of a Service Month: minutes classified into facts and clauses (§1.4-§1.5, §5), availability,
compensation (tiers, gate, caps: §2) and the month's result with its trace (``month``)."""
from .month import (MonthEvaluation, MonthMinutes, MonthTotals, classify_minutes, evaluate_account_month,
                    evaluate_month)

__all__ = ["MonthEvaluation", "MonthMinutes", "MonthTotals", "classify_minutes", "evaluate_account_month",
           "evaluate_month"]
