"""The built-in calendars keep each year's answers in the user's cache (docs/plugins.md, "Business calendars"):
a second process answers §3.2's business days without importing holidays, with the very answers holidays gives."""
import datetime as dt
import json

import holidays
import pytest

from conftest import REPO
from helpers import second_process
from slapolicy_builtins import calendars


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SLAPOLICY_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(calendars, "_CACHE", {})
    return tmp_path / "calendars"


def fresh(name):
    country, _, subdivision = name.partition("-")
    return calendars.HolidayCalendar(name, country, subdivision or None)


@pytest.mark.parametrize("name", ["SG", "CN", "US-CA"])
def test_recorded_years_answer_as_holidays_does_for_every_day(cache, name):
    country, _, subdivision = name.partition("-")
    truth = holidays.country_holidays(country, subdiv=subdivision or None)
    fresh(name).is_business_day(dt.date(2023, 6, 1))  # computes and records 2023
    fresh(name).is_business_day(dt.date(2024, 6, 1))  # and 2024
    recorded = fresh(name)  # reads both back
    day = dt.date(2023, 1, 1)
    while day.year < 2025:
        assert (recorded.is_business_day(day), recorded.holiday_name(day)) == (truth.is_working_day(day), truth.get(day))
        day += dt.timedelta(days=1)
    assert recorded._loaded is None  # holidays was never asked


def test_what_a_year_record_holds(cache):
    fresh("CN").is_business_day(dt.date(2024, 2, 4))
    (record,) = [json.loads(p.read_text()) for p in cache.iterdir() if json.loads(p.read_text())["content"] is not True]
    days = {day: (works, name) for day, works, name in record["content"]}
    assert days["2024-02-04"] == (True, None)  # a Sunday worked: the make-up day before the Spring Festival
    # A Saturday, named as holidays names it: "Chinese New Year (Spring Festival)" or "春节", by the locale
    # (the language holidays picks from the environment differs between Python 3.11 and 3.13 here).
    spring_festival = holidays.country_holidays("CN").get(dt.date(2024, 2, 10))
    assert spring_festival in ("Chinese New Year (Spring Festival)", "春节")
    assert days["2024-02-10"] == (False, spring_festival)
    assert "2024-02-05" not in days  # a plain Monday at work is not recorded


@pytest.mark.slow
def test_a_second_process_answers_without_importing_holidays(tmp_path):
    script = ("import datetime as dt, json, sys\nfrom slapolicy import load_policy\n"
              "from slapolicy.claims import business_calendar, claim_window\nfrom slapolicy.calendar import ServiceMonth\n"
              f"policy = load_policy({str(REPO / 'policies/ccc/2019-01-01.yaml')!r})\n"
              "window = claim_window(policy, ServiceMonth(dt.date(2023, 12, 1), dt.date(2023, 12, 31)), business_calendar(policy))\n"
              "print(json.dumps(['holidays' in sys.modules, window.as_dict()]))\n")

    def run():
        return json.loads(second_process(script, tmp_path))

    # January 2024 in Singapore: Monday the 1st is New Year's Day, so the 5th business day is Monday the 8th.
    window = {"opens": "2024-01-09T00:00:00+08:00", "closes": "2024-03-01T00:00:00+08:00", "last_day": "2024-02-29",
              "after_business_day": "2024-01-08", "holidays_skipped": [{"date": "2024-01-01", "name": "New Year's Day"}]}
    assert run() == [True, window]
    assert run() == [False, window]


@pytest.mark.parametrize("content", ['not json', '{"key": "KEY", "content": [["2024-01-01", "no", null]]}',
                                     '{"key": "KEY", "content": [["2025-01-01", false, null]]}',
                                     '{"key": "another", "content": []}'])
def test_a_corrupt_year_record_is_ignored_and_replaced(cache, content):
    key = calendars._record_key("year", "SG", 2024)
    cache.mkdir(parents=True)
    (cache / f"{key}.json").write_text(content.replace("KEY", key))
    calendar = fresh("SG")
    assert (calendar.is_business_day(dt.date(2024, 1, 1)), calendar.holiday_name(dt.date(2024, 1, 1))) == (False, "New Year's Day")
    assert calendar._loaded is not None  # asked holidays
    assert json.loads((cache / f"{key}.json").read_text())["content"][0] == ["2024-01-01", False, "New Year's Day"]


def test_the_locale_holidays_names_holidays_by_is_part_of_the_name(cache, monkeypatch):
    monkeypatch.setenv("LANG", "C.UTF-8")
    english = calendars._record_key("year", "SG", 2024)
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    assert calendars._record_key("year", "SG", 2024) != english


def test_unknown_calendars_are_never_recorded_as_known(cache):
    assert calendars.slapolicy_business_calendar(name="XX") is None
    assert calendars.slapolicy_business_calendar(name="US-XX") is None
    assert not cache.exists() or list(cache.iterdir()) == []
    assert calendars.slapolicy_business_calendar(name="US-CA").name == "US-CA"
    assert [json.loads(p.read_text())["content"] for p in cache.iterdir()] == [True]


def test_the_last_year_a_claim_window_reaches_is_computed_and_recorded_like_any_other(cache):
    """A claim for 9998-12, the last Service Month slapolicy evaluates, counts business days of January 9999: its
    year is computed day by day up to 9999-12-31, past which no date exists (the walk once stepped beyond it)."""
    truth = holidays.country_holidays("SG")
    fresh("SG").is_business_day(dt.date(9999, 1, 4))  # computes and records 9999
    recorded = fresh("SG")
    for day in (dt.date(9999, 1, 1), dt.date(9999, 1, 2), dt.date(9999, 1, 4), dt.date(9999, 12, 31)):
        assert (recorded.is_business_day(day), recorded.holiday_name(day)) == (truth.is_working_day(day), truth.get(day))
    assert recorded._loaded is None  # read back, holidays never asked


def test_the_installed_holidays_is_part_of_the_name(cache, monkeypatch, tmp_path):
    from importlib import metadata

    monkeypatch.setattr(calendars, "_SOURCE", [])
    installed = calendars._record_key("year", "SG", 2024)
    assert calendars._installed_holidays()[0] == str(metadata.distribution("holidays")._path)
    site = tmp_path / "site"
    (site / "holidays-99.0.dist-info").mkdir(parents=True)  # another version, found first
    (site / "holidays-99.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: holidays\nVersion: 99.0\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setattr(calendars, "_SOURCE", [])
    assert metadata.version("holidays") == "99.0"
    assert calendars._installed_holidays()[0] == str(site / "holidays-99.0.dist-info")
    assert calendars._record_key("year", "SG", 2024) != installed
