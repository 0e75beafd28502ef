"""Incident windows as facts: ``incident.cause`` during ``[start, end)`` (§5.1–§5.18)."""
from slapolicy.calendar import before_or_at
from slapolicy.hookspecs import FactWindow, hookimpl


@hookimpl
def slapolicy_window_facts(policy, context):
    for incident in context.incidents:
        # Asked for every account: the times compared as remembered instants (before_or_at), not through their
        # zones' UTC offsets again.
        if before_or_at(incident.end, context.month_start) or before_or_at(context.month_end, incident.start):
            continue
        if incident.account is not None and incident.account != context.account:
            continue
        yield FactWindow("incident", incident.id, incident.start, incident.end, incident.account,
                         {"incident.cause": incident.cause})


@hookimpl
def slapolicy_supplied_facts():
    return ("incident.cause",)
