"""Service Months of a term (§1.2, §1.6), and the Python API."""
import datetime as dt

import pytest

from conftest import POLICIES


def test_months_of_the_section_1_2_term(cli):
    result = cli("months", "--start", "2024-03-17", "--end", "2024-06-16", "--json")
    assert result.code == 0
    assert result.json() == {"service_months": [
        {"start": "2024-03-17", "end": "2024-03-31", "days": 15, "total_minutes": 21600},
        {"start": "2024-04-01", "end": "2024-04-30", "days": 30, "total_minutes": 43200},
        {"start": "2024-05-01", "end": "2024-05-31", "days": 31, "total_minutes": 44640},
        {"start": "2024-06-01", "end": "2024-06-16", "days": 16, "total_minutes": 23040}]}


def test_months_text(cli):
    result = cli("months", "--start", "2024-02-01", "--end", "2024-02-29")
    assert result.out == "2024-02-01 – 2024-02-29  29 days   41760 minutes\n"


@pytest.mark.parametrize("start,end,message", [
    ("2024-03-17", "2024-03-16", "slapolicy months: --end 2024-03-16 is before --start 2024-03-17"),
    ("2024-02-30", "2024-03-16", "slapolicy months: error: argument --start: '2024-02-30' is not a date written YYYY-MM-DD"),
])
def test_bad_terms(cli, start, end, message):  # usage errors, as replay's --to before --from
    result = cli("months", "--start", start, "--end", end)
    assert result.code == 2
    assert message in result.err


def test_a_one_day_term_is_one_service_month():
    from slapolicy import service_months

    (month,) = service_months(dt.date(2024, 12, 31), dt.date(2024, 12, 31))
    assert (month.days, month.total_minutes) == (1, 1440)


def test_api_loads_a_directory_and_resolves_versions():
    from slapolicy import NoVersionInForce, PolicyDirectory

    family = PolicyDirectory(POLICIES)
    assert [p.version for p in family.versions] == ["2019-01-01"]
    assert family.in_force("2019-03").version == "2019-01-01"
    assert family.in_force(dt.date(2030, 6, 17)).version == "2019-01-01"
    with pytest.raises(NoVersionInForce):
        family.in_force("2018-12")


def test_the_package_exports_the_main_jobs():
    import slapolicy

    for name in ("Engine", "PolicyDirectory", "load_policy", "evaluate", "decide_claim", "replay", "service_months"):
        assert callable(getattr(slapolicy, name)), name


MINUTES = POLICIES.parents[1] / "examples" / "ccc" / "minutes.csv"


@pytest.mark.parametrize("month", ["2019-3", " 2019-03", "2019-03 ", "٢٠١٩-03", "2019-03-01", "201903"])
def test_the_api_reads_a_month_as_the_cli_does(month):
    # Engine.evaluate read '2019-3', ' 2019-03' and '٢٠١٩-03' (Arabic-Indic digits) as March 2019 and evaluated it,
    # while `slapolicy evaluate --month` refused each; replay's start and end alike. One rule now, the CLI's
    # (calendar.month_problem), and its words (evaluate said "is not YYYY-MM").
    from slapolicy import Engine
    from slapolicy.errors import InputError

    engine = Engine(POLICIES)
    with pytest.raises(InputError) as raised:
        engine.evaluate(minutes=MINUTES, month=month)
    # A month a reader can only take for March 2019 is told how to write it (other scripts' digits, or none between,
    # are not read as one).
    meant = {"٢٠١٩-03": "; it holds U+0662 ARABIC-INDIC DIGIT TWO, U+0660 ARABIC-INDIC DIGIT ZERO, U+0661 ARABIC-INDIC "
                       "DIGIT ONE and 1 more, not ASCII, which may look like the character meant: type it again",
             "201903": ""}.get(month, ": write 2019-03")
    assert str(raised.value) == f"month {month!r} is not a month written YYYY-MM{meant}"
    for start, end, name in ((month, "2019-03", "start"), ("2019-03", month, "end")):
        with pytest.raises(InputError) as raised:
            engine.replay(minutes=MINUTES, start=start, end=end, under=POLICIES / "2019-01-01.yaml")
        assert str(raised.value) == f"{name} {month!r} is not a month written YYYY-MM{meant}"
    assert [e["account"] for e in engine.evaluate(minutes=MINUTES, month="2019-03")["evaluations"]] == \
        ["acme", "globex", "initech"]


@pytest.mark.parametrize("field, value", [("filed_at", "2019\u201104-10T10:00+08:00"),
                                          ("unavailability", "2019-03-22T09\u223600+08:00")])
def test_a_claims_timestamp_holding_a_lookalike_character_names_it(field, value):
    """As a month or a date does (calendar.month_problem, errors.lookalike_note): a claim's timestamp written by a word
    processor ('2019‑04-10' with U+2011, '09∶00' with U+2236 RATIO) was told only "is not an ISO 8601 timestamp", the
    text shown looking like one."""
    import json

    from slapolicy.errors import SlapolicyError

    from slapolicy import Engine

    claim = json.loads((POLICIES.parents[1] / "examples" / "ccc" / "claim-globex-2019-03.json").read_text())
    if field == "filed_at":
        claim["filed_at"] = value
    else:
        claim["unavailability"][0]["start"] = value
    name = {"\u2011": "U+2011 NON-BREAKING HYPHEN", "\u2236": "U+2236 RATIO"}[next(c for c in value if not c.isascii())]
    with pytest.raises(SlapolicyError) as raised:
        Engine(POLICIES).decide_claim(claim, minutes=MINUTES, ledger=":memory:")
    assert str(raised.value).endswith(f"{value!r} is not an ISO 8601 timestamp; it holds {name}, not ASCII, which may "
                                      "look like the character meant: type it again"), raised.value
