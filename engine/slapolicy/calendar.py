"""Service Months (§1.2), their minutes (§1.5, §1.6) in the policy's timezone."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from .errors import ArgumentError, InputError, SlapolicyError, lookalike_note

MINUTES_PER_DAY = 24 * 60  # §1.6
# A wall time without a UTC offset (a naive timestamp, a month= directory) lies within ±14:00 of UTC: the minutes of
# a Service Month are looked for this much either side of its UTC bounds before its policy's timezone is known.
WIDEN_MINUTES = 15 * 60

# Python's dates end with year 9999 and begin with year 1. A Service Month needs room on both sides:
# its first minute in a time zone east of UTC falls in the year before, and its claim window (§3.2)
# closes up to two months after it. So the months we can reason about lie in these years.
FIRST_YEAR, LAST_YEAR = 2, 9998
# What every date or time a user gives outside them is told, after the value as written.
OUTSIDE_YEARS = f"is outside the years {FIRST_YEAR:04d} to {LAST_YEAR} that slapolicy can evaluate"


def in_supported_years(moment: dt.date) -> bool:
    """Whether ``moment`` (a date, or a time by its year as written) lies in the years Service Months are evaluated in."""
    return FIRST_YEAR <= moment.year <= LAST_YEAR


@dataclass(frozen=True)
class ServiceMonth:
    """A Service Month: the part of one natural month inside the service term (§1.2), dates inclusive."""

    start: dt.date
    end: dt.date  # last day, inclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def total_minutes(self) -> int:
        """Total Minutes within the Service Month = days × 24 × 60 (§1.6)."""
        return self.days * MINUTES_PER_DAY

    @property
    def label(self) -> str:
        return f"{self.start.year:04d}-{self.start.month:02d}"

    def as_dict(self) -> dict:
        return {"start": self.start.isoformat(), "end": self.end.isoformat(), "days": self.days,
                "total_minutes": self.total_minutes}

    def bounds(self, timezone: str) -> tuple[dt.datetime, dt.datetime]:
        """[start, end) of the Service Month as aware datetimes in the policy's timezone."""
        zone = ZoneInfo(timezone)
        begin = dt.datetime.combine(self.start, dt.time(0), tzinfo=zone)
        finish = dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time(0), tzinfo=zone)
        return begin, finish

    def epoch_minutes(self, timezone: str) -> tuple[int, int]:
        """[first, last + 1) as minutes since the Unix epoch (UTC)."""
        begin, finish = self.bounds(timezone)
        return int(begin.timestamp()) // 60, int(finish.timestamp()) // 60


def _last_day(year: int, month: int) -> dt.date:
    following = dt.date(year + month // 12, month % 12 + 1, 1)
    return following - dt.timedelta(days=1)


def written_date(text: str) -> dt.date:
    """A date written YYYY-MM-DD, as every input and option documents it; ValueError for anything else, including
    what ``date.fromisoformat`` also takes (20190301, 2019-W09-5): a number in a JSON field must not pass as one."""
    if not isinstance(text, str) or not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
        raise ValueError(f"{text!r} is not a date written YYYY-MM-DD")
    return dt.date.fromisoformat(text)


def check_supported(day: dt.date, what: str, written: str | None = None) -> dt.date:
    """``day`` if it lies in the years a Service Month can be evaluated in; else an error naming ``what``
    and the value as the user ``written`` it (a month YYYY-MM, say)."""
    if not in_supported_years(day):
        raise InputError(f"{what} {written or day.isoformat()} {OUTSIDE_YEARS}")
    return day


# A month written YYYY-MM, its month 01 to 12: the one shape of a month option, a request's field, a billing row's
# month and a month= directory's key. [0-9]: \d would take other scripts' digits for a month's.
MONTH_WRITTEN = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")


def written_as_month(text) -> bool:
    """Whether ``text`` is a month written YYYY-MM (:data:`MONTH_WRITTEN`), whatever its year."""
    return isinstance(text, str) and MONTH_WRITTEN.fullmatch(text) is not None


def month_problem(text, what: str) -> str | None:
    """What is wrong with ``text`` as a month written YYYY-MM in the years slapolicy evaluates, after ``what``
    (``field 'service_month':``; "" for an option, which argparse names) and the value; None when nothing is."""
    named = f"{what} " if what else ""
    if not written_as_month(text):
        # a character that looks like a digit or a hyphen (U+2011, a word processor's) is named: the text looked right
        return f"{named}{text!r} is not a month written YYYY-MM{month_meant(text) or lookalike_note(text)}"
    if not FIRST_YEAR <= int(text[:4]) <= LAST_YEAR:
        return f"{named}{text} {OUTSIDE_YEARS}"
    return None


def month_meant(text) -> str:
    """': write 2019-03' for a month written another way a reader can only take for that one: a day of it
    ('2019-03-01', a claim's service_month written as a date), its month without the zero ('2019-3'), '/' or '.'
    between ('2019/03'), spaces around it; "" for anything else ('2019-13', '19-03', 'March')."""
    meant = month_written(text)
    return f": write {meant}" if meant else ""


def month_written(text, days: bool = True) -> str | None:
    """The month YYYY-MM that ``text``, a month written another way, can only mean (see :func:`month_meant`), or
    None. ``days=False`` leaves out a day of the month ('2019-03-05'): a ``month=`` directory of a day is one of
    several, which one month's name would make one."""
    day = r"(?:[-/.]([0-9]{1,2}))?" if days else ""
    found = re.fullmatch(rf"\s*([0-9]{{4}})[-/.]([0-9]{{1,2}}){day}\s*", text) if isinstance(text, str) else None
    if found is None or not 1 <= int(found[2]) <= 12 or not FIRST_YEAR <= int(found[1]) <= LAST_YEAR:
        return None
    # A day that is none of the month's ('2019-03-99', '2019-02-29') is a mistake somewhere, not that month's day:
    # it was told "write 2019-03" as though the rest were right.
    if days and found[3] is not None and not 1 <= int(found[3]) <= _last_day(int(found[1]), int(found[2])).day:
        return None
    return f"{found[1]}-{int(found[2]):02d}"


def supported_date(text: str) -> dt.date:
    """A date written YYYY-MM-DD in the years a Service Month can be evaluated in (an option, a request's field),
    or ValueError saying why, without naming what holds it."""
    try:
        day = written_date(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a date written YYYY-MM-DD{lookalike_note(text)}") from None
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise ValueError(f"{text} {OUTSIDE_YEARS}")
    return day


def calendar_month(month: str) -> ServiceMonth:
    """The whole calendar month YYYY-MM (a Service Month when no term is given)."""
    if not isinstance(month, str):
        raise ArgumentError(f"month must be a string written YYYY-MM, not {type(month).__name__}")
    try:
        year, mon = (int(part) for part in month.split("-"))
        start = dt.date(year, mon, 1)
    except ValueError:
        raise InputError(f"month {month!r} is not YYYY-MM") from None
    check_supported(start, "month", month)
    return ServiceMonth(start, _last_day(year, mon))


def written_month(month: str, what: str = "month") -> ServiceMonth:
    """The calendar month of ``month`` as a caller gave it, checked as the CLI's --month and a claim's service_month
    are (:func:`month_problem`; an InputError naming ``what``): calendar_month alone read '2019-3', ' 2019-03' and
    other scripts' digits as March 2019, which Engine.in_force and the CLI refuse."""
    problem = month_problem(month, what) if isinstance(month, str) else None
    if problem:
        raise InputError(problem)
    return calendar_month(month)


def service_months(term_start: dt.date, term_end: dt.date) -> list[ServiceMonth]:
    """Each natural month inside the term [term_start, term_end] (both inclusive) is its own Service Month.

    §1.2: a three-month term opened on March 17 gives Mar 17–31, Apr 1–30, May 1–31 and
    Jun 1–16.
    """
    for day, what in ((term_start, "term_start"), (term_end, "term_end")):
        if not isinstance(day, dt.date) or isinstance(day, dt.datetime):
            raise ArgumentError(f"{what} must be a datetime.date, not {type(day).__name__}")
        check_supported(day, what)
    if term_end < term_start:
        raise SlapolicyError(f"the term ends ({term_end}) before it starts ({term_start})")
    months, start = [], term_start
    while start <= term_end:
        end = min(_last_day(start.year, start.month), term_end)
        months.append(ServiceMonth(start, end))
        start = end + dt.timedelta(days=1)
    return months


def service_month_in(month: str, term_start: dt.date | None, term_end: dt.date | None) -> ServiceMonth:
    """The Service Month of ``month`` (YYYY-MM), cut to the term when one is given."""
    whole = written_month(month)
    if term_start is None and term_end is None:
        return whole
    if term_start is None or term_end is None:
        raise ArgumentError("term_start and term_end go together: give both or neither")
    for candidate in service_months(term_start, term_end):
        if candidate.label == month:
            return candidate
    raise SlapolicyError(f"{month} is outside the service term {term_start} to {term_end}")


# id of an aware datetime -> (the datetime, its POSIX timestamp). Keyed by identity, checked by identity: hashing
# or comparing two aware datetimes of different tzinfo objects asks both for their UTC offset (over a microsecond),
# and the same incident's and notice's times are asked about again for every account of a month.
_SECONDS: dict = {}
_SECONDS_KEPT = 65536


def epoch_seconds(moment: dt.datetime) -> float:
    """``moment.timestamp()``, remembered for the very object."""
    entry = _SECONDS.get(id(moment))
    if entry is not None and entry[0] is moment:
        return entry[1]
    if len(_SECONDS) >= _SECONDS_KEPT:  # a long-running process sees many windows: start again rather than grow
        _SECONDS.clear()
    seconds = moment.timestamp()
    _SECONDS[id(moment)] = (moment, seconds)
    return seconds


def before_or_at(one: dt.datetime, other: dt.datetime) -> bool:
    """``one <= other`` for aware datetimes, as Python compares them: on the wall clock within one tzinfo object,
    as instants (:func:`epoch_seconds`, which keep their order) across two."""
    if one.tzinfo is other.tzinfo:
        return one <= other
    return epoch_seconds(one) <= epoch_seconds(other)


def minute_bounds(start: dt.datetime, end: dt.datetime, rounding: str) -> tuple[int, int]:
    """[first, last) epoch minutes of the window [start, end) on the minute grid (§1.5).

    ``outward``: every minute the window touches; ``inward``: only the minutes it covers whole
    (the policy's ``exclusions.window_rounding``, the same for incidents and notices).
    """
    begin, finish = epoch_seconds(start), epoch_seconds(end)
    if rounding == "outward":
        return int(begin // 60), int(-(-finish // 60))
    return int(-(-begin // 60)), int(finish // 60)


def holidays_note(skipped) -> str:
    """The public holidays a window's count of business days passed over, ``(date, name)`` pairs in order: a customer
    counting weekdays would otherwise find the window opening a day late with nothing saying why. "" for none."""
    if not skipped:
        return ""
    days = ", ".join(f"{day} {name}" for day, name in skipped)
    return (f"a public holiday is not a business day: {days}" if len(skipped) == 1
            else f"public holidays are not business days: {days}")
