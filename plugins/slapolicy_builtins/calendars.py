"""Business calendars for the claim window (§3.2): the public holidays of the ``holidays`` package.

A calendar is named by an ISO 3166 country code (``SG``, ``CN``), optionally with a
subdivision (``US-CA``). A business day is a day the country works: a weekday that is
not a public holiday, or a weekend day declared a make-up working day (China moves
working days onto weekends around its long holidays; ``holidays`` knows them).
``weekdays`` is Monday to Friday with no holidays.
"""
import datetime as dt
import threading

from slapolicy.hookspecs import hookimpl

_LOCK = threading.Lock()
_CACHE = {}


class HolidayCalendar:
    def __init__(self, name: str, country: str, subdivision: str | None):
        import holidays

        self.name = name
        self._lock = threading.Lock()
        self._holidays = holidays.country_holidays(country, subdiv=subdivision)

    def is_business_day(self, day: dt.date) -> bool:
        with self._lock:  # the holidays object fills in years lazily
            return self._holidays.is_working_day(day)

    def holiday_name(self, day: dt.date) -> str | None:
        with self._lock:
            return self._holidays.get(day)


class Weekdays:
    name = "weekdays"

    @staticmethod
    def is_business_day(day: dt.date) -> bool:
        return day.weekday() < 5

    @staticmethod
    def holiday_name(day: dt.date):
        return None


@hookimpl
def slapolicy_business_calendar(name):
    if name == "weekdays":
        return Weekdays()
    country, _, subdivision = name.partition("-")
    with _LOCK:
        if name not in _CACHE:
            try:
                _CACHE[name] = HolidayCalendar(name, country, subdivision or None)
            except NotImplementedError:  # holidays' answer for a country or subdivision it does not know
                # (asked directly: listing every supported country imports all 250 of them, 0.15 s)
                _CACHE[name] = None
        return _CACHE[name]
