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
    """A country's calendar, its holidays loaded at the first question: loading them imports every country the
    package knows (0.1 s), which a policy check that only names the calendar should not pay."""

    def __init__(self, name: str, country: str, subdivision: str | None):
        self.name, self._country, self._subdivision = name, country, subdivision
        self._lock = threading.Lock()
        self._loaded = None

    def _holidays(self):
        if self._loaded is None:
            import holidays

            self._loaded = holidays.country_holidays(self._country, subdiv=self._subdivision)
        return self._loaded

    def is_business_day(self, day: dt.date) -> bool:
        with self._lock:  # the holidays object fills in years lazily
            return self._holidays().is_working_day(day)

    def holiday_name(self, day: dt.date) -> str | None:
        with self._lock:
            return self._holidays().get(day)


class Weekdays:
    name = "weekdays"

    @staticmethod
    def is_business_day(day: dt.date) -> bool:
        return day.weekday() < 5

    @staticmethod
    def holiday_name(day: dt.date):
        return None


def _known(country: str, subdivision: str) -> bool:
    """Whether ``holidays`` has the country (from its registry of codes, no country imported) and, when one is
    named, the subdivision (asked of the country itself)."""
    from holidays.registry import COUNTRIES

    if not any(entry[1] == country for entry in COUNTRIES.values()):
        return False
    if not subdivision:
        return True
    import holidays

    try:
        holidays.country_holidays(country, subdiv=subdivision)
    except NotImplementedError:  # holidays' answer for a subdivision it does not know
        return False
    return True


@hookimpl
def slapolicy_business_calendar(name):
    if name == "weekdays":
        return Weekdays()
    country, _, subdivision = name.partition("-")
    with _LOCK:
        if name not in _CACHE:
            _CACHE[name] = HolidayCalendar(name, country, subdivision or None) if _known(country, subdivision) else None
        return _CACHE[name]
