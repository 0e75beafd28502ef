"""Incident windows as facts: ``incident.cause`` during ``[start, end)`` (§5.1–§5.18)."""
from slapolicy.calendar import before_or_at
from slapolicy.hookspecs import FactWindow, hookimpl

from .remembered import Windows


@hookimpl
def slapolicy_window_facts(policy, context):
    for incident in context.incidents:
        if incident.account is not None and incident.account != context.account:
            continue
        window = _window(incident, context.month_start, context.month_end)
        if window is not None:
            yield window


_WINDOWS = Windows()


def _window(incident, month_start, month_end) -> FactWindow | None:
    """The incident's window if it meets the Service Month [month_start, month_end), worked out once per incident
    and month (:class:`~slapolicy_builtins.remembered.Windows`)."""
    def make():
        if before_or_at(incident.end, month_start) or before_or_at(month_end, incident.start):
            return None
        return FactWindow("incident", incident.id, incident.start, incident.end, incident.account,
                          {"incident.cause": incident.cause})
    return _WINDOWS.get(incident, month_start, month_end, None, make)


@hookimpl
def slapolicy_supplied_facts():
    return ("incident.cause",)
