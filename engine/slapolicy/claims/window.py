"""The filing window (§3.2): when a claim for a Service Month may be filed, counted in business days of
the policy's calendar, and the reasons a claim filed outside it, too early or by the wrong channel is denied."""
from __future__ import annotations

import datetime as dt
from typing import NamedTuple
from zoneinfo import ZoneInfo

from ..calendar import ServiceMonth, holidays_note
from ..errors import SlapolicyError, lookalike_note
from ..plugins import get_manager
from ..policy.load import unseen_problem
from .materials import Claim, claim_reason


class ClaimWindow(NamedTuple):  # a NamedTuple: a quarter of a dataclass's making at every start
    """``[opens, closes)`` in the policy's timezone; ``last_day`` is the last day a claim may be filed."""

    opens: dt.datetime
    closes: dt.datetime
    last_day: dt.date
    business_day: dt.date  # the 5th business day (or as the policy says) after which the window opens; after 0, the
    # day before the month counted in
    skipped: tuple  # (date, holiday name) of public holidays passed over while counting

    def as_dict(self) -> dict:
        return {"opens": self.opens.isoformat(), "closes": self.closes.isoformat(), "last_day": self.last_day.isoformat(),
                "after_business_day": self.business_day.isoformat(),
                "holidays_skipped": [{"date": d.isoformat(), "name": n} for d, n in self.skipped]}


def business_calendar(policy, manager=None):
    manager = manager or get_manager()
    name = policy.setting("claims", "business_calendar")
    calendar = manager.hook.slapolicy_business_calendar(name=name)
    if calendar is None:
        raise SlapolicyError(
            f"business calendar {name!r} ({policy.ref('claims', 'business_calendar')}) is not provided by any plugin; "
            "the built-in calendars plugin knows ISO country codes of the holidays package (SG, CN, US-CA, ...) and 'weekdays'"
            + lookalike_note(name))
    return calendar


# claims.window_opens.of: where the business days are counted from, given the Service Month's last day.
COUNTED_FROM = {"month_following_service_month_end": lambda end: dt.date(end.year + end.month // 12, end.month % 12 + 1, 1)}


def claim_window(policy, service_month: ServiceMonth, calendar) -> ClaimWindow:
    """§3.2: opens after the Nth business day of the month following the Service Month's end;
    closes at the end of the Mth calendar day after that end."""
    zone = ZoneInfo(policy.timezone)
    rule = policy.raw["claims"]["window_opens"]
    end = service_month.end
    day = COUNTED_FROM[rule["of"]](end) - dt.timedelta(days=1)  # the day before the count's first day
    counted, skipped = 0, []
    # After 0 business days the window opens as the month counted in begins: the loop counts none.
    while counted < rule["after_business_days"]:
        day += dt.timedelta(days=1)
        if calendar.is_business_day(day):
            counted += 1
        elif day.weekday() < 5 and getattr(calendar, "holiday_name", None) and calendar.holiday_name(day):
            skipped.append((day, calendar.holiday_name(day)))
    hour, minute = (int(part) for part in rule["at"].split(":"))
    opens = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(hour, minute), tzinfo=zone)
    last_day = end + dt.timedelta(days=policy.raw["claims"]["window_closes"]["calendar_days_after_end"])
    closes = dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time(0), tzinfo=zone)
    return ClaimWindow(opens, closes, last_day, day, tuple(skipped))


def _stamp(moment: dt.datetime) -> str:
    """A time as exactly as it is known: to the minute when it falls on one (the window's bounds always do), else to
    the second, the millisecond or the microsecond. A claim's filed_at was shown to the minute: filed at 23:59:59 it
    read 23:59, and one filed 30 seconds after the window closed read as filed at its very close."""
    if not moment.second and not moment.microsecond:
        return moment.isoformat(timespec="minutes")
    if not moment.microsecond:
        return moment.isoformat(timespec="seconds")
    return moment.isoformat(timespec="milliseconds" if not moment.microsecond % 1000 else "microseconds")


def _filed(policy, claim: Claim) -> str:
    """When the claim was filed, as it was given, and on the policy's clock too when it was given with another
    offset: the bounds it is judged against are on that clock (15:59:59+00:00 is 23:59:59+08:00, a second early)."""
    filed = claim.filed_at
    local = filed.astimezone(ZoneInfo(policy.timezone))
    if local.utcoffset() == filed.utcoffset():
        return _stamp(filed)
    return f"{_stamp(filed)} ({_stamp(local)} in {policy.timezone})"


def timing_reasons(policy, claim: Claim, service_month: ServiceMonth, window: ClaimWindow) -> list[dict]:
    reasons = []
    month_end = service_month.bounds(policy.timezone)[1]
    opens_ref = policy.ref("claims", "window_opens")
    if claim.filed_at < month_end:
        reasons.append(claim_reason("month_not_ended", opens_ref,
                               f"The claim was filed on {_filed(policy, claim)}, before Service Month {service_month.label} "
                               f"ended ({service_month.end}): a month can be claimed only after it ends."))
    if claim.filed_at < window.opens:
        days = policy.raw["claims"]["window_opens"]["after_business_days"]
        when = (f"after the {ordinal(days)} business day, {window.business_day}, of the month after the Service Month"
                + (f"; {holidays_note(window.skipped)}" if window.skipped else "")
                if days else "as the month after the Service Month begins")
        reasons.append(claim_reason("filed_too_early", opens_ref,
                               f"The claim was filed on {_filed(policy, claim)}, before the claim window opened on "
                               f"{_stamp(window.opens)} ({when})."))
    if claim.filed_at >= window.closes:
        days = policy.raw["claims"]["window_closes"]["calendar_days_after_end"]
        reasons.append(claim_reason("filed_too_late", policy.ref("claims", "window_closes"),
                               f"The claim was filed on {_filed(policy, claim)}, after the claim window closed at the end of "
                               f"{window.last_day} ({days} calendar days after the Service Month ended); the right to "
                               "compensation is waived."))
    channel = policy.setting("claims", "channel")
    if claim.channel != channel:
        # A channel that looks like the one accepted (a zero-width space copied with it, a Cyrillic о) is told what
        # makes it another: 'work_order\u200b' was denied as 'email' is, and the reader saw work_order
        unseen = unseen_problem(claim.channel) if isinstance(claim.channel, str) else None
        if not unseen and written_otherwise(claim.channel, channel):
            # 'Work Order' was told only 'through the work order system ...; this one came by 'Work Order'', which
            # reads as a contradiction: the channel is the setting's value, as written
            unseen = f"is the channel's name written otherwise: claims come by {channel!r}"
        reasons.append(claim_reason("wrong_channel", policy.ref("claims", "channel"),
                               f"Claims are accepted only through the {channel.replace('_', ' ')} system of your account; "
                               f"this one came by {claim.channel!r}" + (f": it {unseen}." if unseen else ".")))
    return reasons


def written_otherwise(given, channel: str) -> bool:
    """Whether ``given`` is ``channel`` in other capitals, or with spaces or hyphens for its underscores."""
    def plain(text):
        return "_".join(text.casefold().replace("-", " ").replace("_", " ").split())
    return isinstance(given, str) and given != channel and plain(given) == plain(channel)


def ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"
