"""Incident windows as facts: ``incident.cause`` during ``[start, end)`` (§5.1–§5.18)."""
from slapolicy.hookspecs import FactWindow, hookimpl


@hookimpl
def slapolicy_window_facts(policy, context):
    for incident in context.incidents:
        if incident.end <= context.month_start or incident.start >= context.month_end:
            continue
        if incident.account is not None and incident.account != context.account:
            continue
        yield FactWindow("incident", incident.id, incident.start, incident.end, incident.account,
                         {"incident.cause": incident.cause})


@hookimpl
def slapolicy_supplied_facts():
    return ("incident.cause",)
