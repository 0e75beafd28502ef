"""Notices as facts.

* Every notice is a window with ``notice.kind`` and ``notice.published_before_start``
  (§5.11 major events, §5.12 maintenance: excluded only when announced in advance).
* The customer's ``high_concurrency`` notices give the minute fact
  ``minute.customer_prior_notice`` (§5.7): a prior notice covers the minute.

A notice is *prior* when it was published before its window began, by at least the
policy's ``exclusions.notice_lead_minutes`` (0: any time before).
"""

from slapolicy.calendar import before_or_at, epoch_seconds, minute_bounds
from slapolicy.hookspecs import FactWindow, MinuteFact, hookimpl

from .remembered import Windows


def is_prior(notice, policy) -> bool:
    # In seconds that elapse: Python subtracts and compares two times of one zone on the wall clock (a notice
    # published the day before New York skips an hour would otherwise gain that hour of lead).
    lead = 60 * policy.setting("exclusions", "notice_lead_minutes")
    published, start = epoch_seconds(notice.published_at), epoch_seconds(notice.start)
    return published < start and start - published >= lead


def _for_account(notice, context) -> bool:
    if before_or_at(notice.end, context.month_start) or before_or_at(context.month_end, notice.start):
        return False
    return notice.account is None or notice.account == context.account


@hookimpl
def slapolicy_window_facts(policy, context):
    for notice in context.notices:
        window = _window(notice, context, policy)
        if window is not None:
            yield window


_WINDOWS = Windows()


def _window(notice, context, policy) -> FactWindow | None:
    """The notice's window if it concerns the context's account and meets its Service Month (:func:`_for_account`),
    worked out once per notice, month and lead (:class:`~slapolicy_builtins.remembered.Windows`)."""
    if notice.account is not None and notice.account != context.account:
        return None

    def make():
        if not _for_account(notice, context):
            return None
        return FactWindow("notice", notice.id, notice.start, notice.end, notice.account,
                          {"notice.kind": notice.kind, "notice.published_before_start": is_prior(notice, policy)})
    lead = policy.setting("exclusions", "notice_lead_minutes")
    return _WINDOWS.get(notice, context.month_start, context.month_end, lead, make)


@hookimpl
def slapolicy_minute_facts(policy, context, minutes):
    import numpy as np  # loaded by then (the minutes are arrays); not at registration: show, diff, test never need it

    covered = np.zeros(len(minutes.minute), bool)
    used = []
    for notice in context.notices:
        if notice.kind != "high_concurrency":
            continue
        window = _window(notice, context, policy)  # for the account, in the month; prior or not
        if window is None or not window.facts["notice.published_before_start"]:
            continue
        # On the minute grid as every window is: the policy's exclusions.window_rounding.
        first, last = minute_bounds(notice.start, notice.end, policy.setting("exclusions", "window_rounding"))
        hit = (minutes.minute >= first) & (minutes.minute < last)
        if hit.any():
            used.append(notice.id)
            covered |= hit
    note = f"prior high-concurrency notices from the customer: {', '.join(used)}" if used else None
    return {"minute.customer_prior_notice": MinuteFact(covered, note)}


@hookimpl
def slapolicy_supplied_facts():
    return ("notice.kind", "notice.published_before_start", "minute.customer_prior_notice")
