"""The evaluation of a Service Month: ``classify`` (minutes -> facts -> the clauses that exclude them;
availability, §1.5, §2.1, §5), ``compensation`` (tiers, the gate, rounding and caps, §3) and ``month`` (the
month's result with its trace, for one account or many)."""
from ..minutes.shapes import MonthMinutes, MonthTotals  # the shapes the minutes path hands up
from .classify import classify_minutes
from .month import MonthEvaluation, evaluate_account_month, evaluate_month

__all__ = ["MonthEvaluation", "MonthMinutes", "MonthTotals", "classify_minutes", "evaluate_account_month",
           "evaluate_month"]
