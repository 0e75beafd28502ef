"""Incident windows as facts: ``incident.cause`` during ``[start, end)`` (§5.1–§5.18)."""
from slapolicy.calendar import before_or_at
from slapolicy.hookspecs import FactWindow, hookimpl


@hookimpl
def slapolicy_window_facts(policy, context):
    for incident in context.incidents:
        if incident.account is not None and incident.account != context.account:
            continue
        window = _window(incident, context.month_start, context.month_end)
        if window is not None:
            yield window


# (id(incident), id(month start), id(month end)) -> (the three, the incident's window in that month or None)
_WINDOWS: dict = {}


def _window(incident, month_start, month_end) -> FactWindow | None:
    """The incident's window if it meets the Service Month [month_start, month_end), worked out once for the very
    (frozen) incident and month bounds: every account of a month is handed the incidents of all accounts again."""
    key = (id(incident), id(month_start), id(month_end))
    entry = _WINDOWS.get(key)
    if entry is not None and entry[0] is incident and entry[1] is month_start and entry[2] is month_end:
        return entry[3]
    if len(_WINDOWS) >= 65536:  # a long-running process sees many incidents: start again rather than grow
        _WINDOWS.clear()
    window = None
    if not (before_or_at(incident.end, month_start) or before_or_at(month_end, incident.start)):
        window = FactWindow("incident", incident.id, incident.start, incident.end, incident.account,
                            {"incident.cause": incident.cause})
    _WINDOWS[key] = (incident, month_start, month_end, window)
    return window


@hookimpl
def slapolicy_supplied_facts():
    return ("incident.cause",)
