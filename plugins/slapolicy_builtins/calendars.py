"""Business calendars for the claim window (§3.2): the public holidays of the ``holidays`` package.

A calendar is named by an ISO 3166 country code (``SG``, ``CN``), optionally with a
subdivision (``US-CA``). A business day is a day the country works: a weekday that is
not a public holiday, or a weekend day declared a make-up working day (China moves
working days onto weekends around its long holidays; ``holidays`` knows them).
``weekdays`` is Monday to Friday with no holidays.

Asking ``holidays`` anything imports every one of its ~250 countries (0.2 s, more than the rest of a
claim's start): its ``holidays.countries`` package imports them all, and it offers no supported way to
load one. So a calendar's answers for a year (which days differ from "Monday to Friday works", and the
name of each holiday) are kept in the user's cache (:mod:`slapolicy.cache`, folder ``calendars``), named
by everything they depend on: the calendar, the year, the installed ``holidays`` (its metadata, so its
version), this module's source, and the locale variables ``holidays`` names its holidays by. A year is computed from ``holidays``
once, then read back by every process that needs it. ``holidays`` fills each year on its own (a holiday
of one year never lands in another), so a year's answers do not depend on which years were asked first.
"""
import datetime as dt
import hashlib
import json
import os
import sys
import threading

from slapolicy.forks import renewed_in_child
from slapolicy.cache import distribution_folders, distribution_name, file_digest, read_record, write_record
from slapolicy.hookspecs import hookimpl

FOLDER = "calendars"
# holidays picks the language of its holiday names from these, in this order (its documentation says so).
LOCALE_VARIABLES = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")

_LOCK = threading.Lock()
_CACHE = {}
_SOURCE_LOCK = threading.Lock()
renewed_in_child(sys.modules[__name__], "_LOCK", "_SOURCE_LOCK")  # as slapolicy's own (slapolicy.forks)
_SOURCE = []  # this module's sha256 and the holidays version, once per process


def _record_key(*question) -> str | None:
    """The name of the record answering ``question``, or None when holidays' version cannot be known."""
    with _SOURCE_LOCK:
        if not _SOURCE:
            try:
                with open(__file__, "rb") as source:
                    _SOURCE.append(hashlib.sha256(source.read()).hexdigest())
                _SOURCE.append(_installed_holidays())
            except OSError:
                _SOURCE[:] = [None, None]
    if None in _SOURCE:
        return None
    named = [2, *_SOURCE, [os.environ.get(name, "") for name in LOCALE_VARIABLES], *question]
    return hashlib.sha256(json.dumps(named).encode("utf-8")).hexdigest()


def _installed_holidays() -> list | None:
    """What names the installed ``holidays``: the metadata of the distribution ``importlib.metadata`` would find
    first (its version is in it), read without importing ``importlib.metadata`` (0.03 s of a claim's start)."""
    folders = distribution_folders()
    if folders is None:  # distributions only importlib.metadata can find
        from importlib import metadata  # only for a zip or egg on sys.path, or a finder of its own

        try:
            return ["version", metadata.version("holidays")]
        except metadata.PackageNotFoundError:
            return None
    for folder in folders:
        if distribution_name(folder) == "holidays":
            found = [file_digest(os.path.join(folder, name)) for name in ("METADATA", "PKG-INFO")] \
                if os.path.isdir(folder) else [file_digest(folder), None]  # an egg-info may be the file itself
            return [folder, *found] if found != [None, None] else None
    return None


class HolidayCalendar:
    """A country's calendar, each year's answers read from the cache or, the first time, from ``holidays``."""

    def __init__(self, name: str, country: str, subdivision: str | None):
        self.name, self._country, self._subdivision = name, country, subdivision
        self._lock = threading.Lock()
        renewed_in_child(self, "_lock")
        self._loaded = None
        self._years = {}  # year -> {date: (works, holiday name or None)} for the days that are not plain

    def _holidays(self):
        if self._loaded is None:
            import holidays

            self._loaded = holidays.country_holidays(self._country, subdiv=self._subdivision)
        return self._loaded

    def _computed(self, year: int) -> dict:
        """The year's days that are not a plain Monday-to-Friday working day, or not a plain weekend day."""
        found, first = {}, dt.date(year, 1, 1)
        for offset in range((dt.date(year, 12, 31) - first).days + 1):  # never a step past 9999-12-31
            day = first + dt.timedelta(days=offset)
            works, name = self._holidays().is_working_day(day), self._holidays().get(day)
            if works != (day.weekday() < 5) or name is not None:
                found[day] = (works, name)
        return found

    def _year(self, year: int) -> dict:
        if year not in self._years:
            key = _record_key("year", self.name, year)
            recorded = _days(read_record(FOLDER, key), year)
            if recorded is None:
                recorded = self._computed(year)
                write_record(FOLDER, key, [[day.isoformat(), works, name] for day, (works, name) in sorted(recorded.items())])
            self._years[year] = recorded
        return self._years[year]

    def is_business_day(self, day: dt.date) -> bool:
        with self._lock:
            return self._year(day.year).get(day, (day.weekday() < 5, None))[0]

    def holiday_name(self, day: dt.date) -> str | None:
        with self._lock:
            return self._year(day.year).get(day, (None, None))[1]


def _days(content, year: int) -> dict | None:
    """A year's recorded days, or None when the record is absent or not one this module wrote."""
    if not isinstance(content, list):
        return None
    found = {}
    for item in content:
        if not (isinstance(item, list) and len(item) == 3 and isinstance(item[0], str) and isinstance(item[1], bool)
                and (item[2] is None or isinstance(item[2], str))):
            return None
        try:
            day = dt.date.fromisoformat(item[0])
        except ValueError:
            return None
        if day.year != year:
            return None
        found[day] = (item[1], item[2])
    return found


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
    named, the subdivision (asked of the country itself). A calendar found once is recorded as known."""
    key = _record_key("known", country, subdivision)
    if read_record(FOLDER, key) is True:
        return True
    from holidays.registry import COUNTRIES

    if not any(entry[1] == country for entry in COUNTRIES.values()):
        return False
    if subdivision:
        import holidays

        try:
            holidays.country_holidays(country, subdiv=subdivision)
        except NotImplementedError:  # holidays' answer for a subdivision it does not know
            return False
    write_record(FOLDER, key, True)
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
