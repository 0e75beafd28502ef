"""Notices as facts.

* Every notice is a window with ``notice.kind`` and ``notice.published_before_start``
  (§5.11 major events, §5.12 maintenance: excluded only when announced in advance).
* The customer's ``high_concurrency`` notices give the minute fact
  ``minute.customer_prior_notice`` (§5.7): a prior notice covers the minute.

A notice is *prior* when it was published before its window began, by at least the
policy's ``exclusions.notice_lead_minutes`` (0: any time before).
"""

import numpy as np

from slapolicy.calendar import before_or_at, epoch_seconds, minute_bounds
from slapolicy.hookspecs import FactWindow, MinuteFact, hookimpl


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
        if _for_account(notice, context):
            yield FactWindow("notice", notice.id, notice.start, notice.end, notice.account,
                             {"notice.kind": notice.kind, "notice.published_before_start": is_prior(notice, policy)})


@hookimpl
def slapolicy_minute_facts(policy, context, minutes):
    covered = np.zeros(len(minutes.minute), bool)
    used = []
    for notice in context.notices:
        if notice.kind != "high_concurrency" or not _for_account(notice, context) or not is_prior(notice, policy):
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
