"""The policy commands on the shipped family: validate, test, versions, show, diff, schema, lock."""
import json
import shutil

import pytest
from decimal import Decimal

from conftest import DRAFT, POLICIES, PUBLISHED

SHA_PUBLISHED = "1f0e526ad3df6cf7aa6ff04bcbafb26ef5451c9d3fbed69c9f4cef7504da8655"  # policies/ccc/versions.lock


def test_validate_shipped_family_passes_with_the_unreachable_tier_warning(cli):
    result = cli("validate", POLICIES)
    assert result.code == 0, result.out + result.err
    lines = result.out.splitlines()
    assert lines == [
        f"{PUBLISHED}:127:7: warning tier-unreachable tier 1 [99 %, 99.95 %) (§3.1) is unreachable in "
        "[99.5 %, 99.95 %): the gate (§2.2, §3) pays only when availability is below the standard of 99.5 % "
        "(§2.2), so there the tier matches but nothing is owed"]
    assert "2 file(s) checked: 0 error(s), 1 warning(s)" in result.err


TIER_1 = '- {at_least: "99%", below: "99.95%", credit: "10%", ref: "§3.1",'


@pytest.mark.parametrize("low, high, reachable", [
    # In [low, high) ⇔ k unavailable minutes of N = 1,440 d (d = 1..31 days) with k/N in (1 − high, 1 − low].
    # k/N in (0.000005, 0.00001]: k in (0.0072 d, 0.0144 d], below 0.45 for every d, and above 0: no k.
    ("99.999%", "99.9995%", False),
    ("99.9977%", "99.9978%", True),  # k in (0.03168 d, 0.03312 d]: d = 31 holds k = 1 (99.997759… %)
    # k in (1.0008 d, 1.008 d]: k ≥ d + 1 needs d ≥ 125: no month has it.
    ("99.93%", "99.9305%", False),
    ("99.9305%", "99.9306%", True),  # k in (0.99936 d, 1.0008 d]: k = d, one minute a day (99.930555… %)
])
def test_a_tier_no_month_can_fall_in_is_unreachable(cli, tmp_path, low, high, reachable):
    # A tier between two availabilities a month can have (steps of one minute: 1/44,640 of a 31-day month at least)
    # passed validate and publish without a word, and never applied.
    from helpers import draft_variant

    path = draft_variant(tmp_path, TIER_1, f'- {{at_least: "{high}", credit: "1%", ref: "§3.1"}}\n    '
                                           f'- {{at_least: "{low}", below: "{high}", credit: "5%", ref: "§3.1"}}\n    '
                                           + TIER_1.replace('below: "99.95%"', f'below: "{low}"'))
    result = cli("validate", path)
    warning = (f"{path}:128:7: warning tier-unreachable tier 2 [{low[:-1]} %, {high[:-1]} %) (§3.1) holds no "
               "availability a Service Month can have: with 1,440 to 44,640 minutes in a month (§1.6), availability "
               "moves in steps of one minute, at least 0.00224 %, and none falls inside this tier, so it never applies")
    assert result.code == 0, result.out
    assert (warning in result.out.splitlines()) is not reachable


@pytest.mark.parametrize("zone,effective,told", [
    ("America/New_York", "2019-01-01", "in 2019, 60 fewer minutes elapse in 2019-03 and 60 more in 2019-11"),
    ("America/New_York", "2007-01-01", "in 2007, 60 fewer minutes elapse in 2007-03 and 60 more in 2007-11"),
    ("America/New_York", "2006-01-01", "in 2006, 60 fewer minutes elapse in 2006-04 and 60 more in 2006-10"),
    ("Australia/Lord_Howe", "2019-01-01", "in 2019, 30 more minutes elapse in 2019-04 and 30 fewer in 2019-10"),
    ("Europe/London", "2024-01-01", "in 2024, 60 fewer minutes elapse in 2024-03 and 60 more in 2024-10"),
    ("Asia/Singapore", "2019-01-01", None), ("UTC", "2019-01-01", None), ("Etc/GMT+5", "2019-01-01", None),
    ("Europe/Moscow", "2019-01-01", None),  # last changed its clocks in 2014
    ("Europe/Moscow", "2014-01-01", "in 2014, 60 more minutes elapse in 2014-10"),  # back from +04:00 to +03:00
])
@pytest.mark.slow
def test_a_zone_that_changes_its_clocks_is_a_warning_naming_the_months(cli, tmp_path, zone, effective, told):
    """§1.6: Total Minutes stay days × 1,440 while each minute that elapses is a statistics point
    (docs/readings.md), so a month the clocks go back can fall below 0 %; nothing said so when a version named such a
    zone. The months are those of the year the version takes effect."""
    from helpers import draft_variant

    path = draft_variant(tmp_path, "value: Asia/Singapore", f"value: {zone}")
    path.write_text(path.read_text().replace('effective_from: "2019-01-01"', f'effective_from: "{effective}"'))
    result = cli("validate", path)
    warnings = [line.split(" clock-change ")[1] for line in result.out.splitlines() if " clock-change " in line]
    assert warnings == ([] if told is None else [
        f"{zone} changes its clocks: {told} than their Total Minutes, days × 1,440 (§1.6); each minute that elapses is "
        "a statistics point, so in a month with more, availability can fall below 0 %. Keep the zone if that is "
        "agreed, or name one that keeps one UTC offset all year"]), result.out
    assert result.code == 0  # a warning: the version can be validated, published and evaluated under


def test_the_draft_at_99_95_has_no_unreachable_tier(cli):
    result = cli("validate", DRAFT)
    assert result.code == 0
    assert result.out == ""


def test_examples_exercise_all_18_clauses(cli):
    result = cli("test", PUBLISHED)
    assert result.code == 0, result.out
    assert f"{PUBLISHED}: 29 of 29 rules exercised (18 of 18 clauses), 68 passed, 0 failed" in result.out
    assert result.out.splitlines()[-1] == "68 passed, 0 failed"


def test_test_fails_on_an_example_that_gives_another_answer(cli, tmp_path):
    text = PUBLISHED.read_text().replace(
        "- {facts: {incident.cause: provider}, applies: false}\n\n  - id: \"5.2\"",
        "- {facts: {incident.cause: provider}, applies: true}\n\n  - id: \"5.2\"")
    bad = tmp_path / "drafts" / "x.yaml"
    bad.parent.mkdir()
    bad.write_text(text.replace("status: published", "status: draft"))
    result = cli("test", bad)
    assert result.code == 1
    assert (f"{bad}:272:9: error example-failed FAIL clause 5.1 (§5.1) example 2: expected applies: true, "
            "got false (incident.cause=provider)") in result.out
    assert result.out.splitlines()[-1] == "67 passed, 1 failed"


def test_test_fails_when_no_example_ran(cli, tmp_path):
    result = cli("test", tmp_path)
    assert result.code == 1
    assert "no policy files" in result.err


def test_versions_lists_dates_and_sha256(cli):
    result = cli("versions", POLICIES, "--json")
    assert result.code == 0
    rows = result.json()["versions"]
    import hashlib
    assert rows[0] == {"version": "2019-01-01", "effective_from": "2019-01-01", "status": "published",
                       "sha256": hashlib.sha256(PUBLISHED.read_bytes()).hexdigest(), "file": str(PUBLISHED)}
    assert rows[1]["status"] == "draft" and rows[1]["effective_from"] == "2027-01-01"


def test_show_names_the_version_in_force(cli):
    result = cli("show", POLICIES, "--month", "2019-03", "--json")
    assert result.code == 0
    data = result.json()
    assert data["policy"]["version"] == "2019-01-01"
    assert data["standard"] == {"value": "99.5%", "met_when": "at_least", "ref": "§2.2"}
    assert [c["id"] for c in data["clauses"]] == [f"5.{i}" for i in range(1, 19)]


def test_show_text_prints_clause_words_beside_conditions(cli):
    result = cli("show", POLICIES, "--month", "2019-03")
    assert result.code == 0
    assert "  §5.12 Notified system maintenance" in result.out
    assert "      when: (notice.kind = maintenance and notice.published_before_start = true)" in result.out
    assert "  tier 1: availability ≥ 99% and < 99.95% → 10% of the fee  [§3.1]" in result.out


@pytest.mark.parametrize("month", ["2018-12", "1999-01"])
def test_show_before_every_version_is_an_error(cli, month):
    result = cli("show", POLICIES, "--month", month)
    assert result.code == 1
    assert f"no version of {POLICIES} is in force for the Service Month starting {month}-01" in result.err
    assert "earliest version takes effect on 2019-01-01" in result.err


@pytest.mark.parametrize("month", ["2019-13", "2019-3", "march"])
def test_show_refuses_a_month_that_is_not_yyyy_mm(cli, month):
    result = cli("show", POLICIES, "--month", month)
    assert result.code == 2
    assert f"slapolicy show: error: argument --month: {month!r} is not a month written YYYY-MM" in result.err


def test_diff_reports_the_standard_with_its_ref(cli):
    result = cli("diff", PUBLISHED, DRAFT, "--json")
    assert result.code == 0
    changes = result.json()["changes"]
    assert {"kind": "changed", "what": "availability.standard", "ref": "§2.2", "old": "99.5%", "new": "99.95%"} in changes
    assert [c["what"] for c in changes] == ["version", "status", "effective_from", "amends", "description",
                                            "availability.standard", "availability.standard.description",
                                            "provision §2.2"]  # its words: "not be less than 99.95%"


def test_diff_reports_tiers_and_clauses(cli, tmp_path):
    text = PUBLISHED.read_text().replace('credit: "25%"', 'credit: "30%"')
    text = text.replace("Unavailability due to force majeure and accidents.", "Unavailability due to force majeure.")
    start = text.index('  - id: "5.18"')
    text = text[:start]
    new = tmp_path / "new.yaml"
    new.write_text(text)
    result = cli("diff", PUBLISHED, new)
    assert result.code == 0
    assert "  §3.1 ~ compensation tier ≥ 95% and < 99%: credit 25% → credit 30%" in result.out
    assert "  §5.14 ~ clause 5.14 reworded:" in result.out
    assert "  §5.18 - clause 5.18: Phone numbers made unavailable by non-compliance" in result.out


def test_schema_is_printed_and_is_draft_2020_12(cli):
    result = cli("schema")
    assert result.code == 0
    assert json.loads(result.out)["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_lock_records_new_versions_and_refuses_an_edited_one(cli, tmp_path):
    family = tmp_path / "ccc"
    family.mkdir()
    shutil.copy(PUBLISHED, family / "2019-01-01.yaml")
    assert cli("validate", family).code == 1  # not yet locked
    result = cli("lock", family, "--new")  # a family never locked: its lock is started when asked
    assert result.code == 0 and result.out == f"locked 2019-01-01.yaml (version 2019-01-01, sha256 {SHA_PUBLISHED})\n"
    assert cli("validate", family).code == 0
    (family / "2019-01-01.yaml").write_text(PUBLISHED.read_text().replace('credit: "50%"', 'credit: "55%"'))
    result = cli("lock", family)
    assert result.code == 1
    assert "error published-changed published version changed" in result.err


@pytest.mark.slow
def test_lock_without_a_lock_file_records_nothing_unless_asked_to_start_one(cli, tmp_path):
    # `rm versions.lock; slapolicy lock` recorded whatever bytes the published files held: an edited 2019-01-01.yaml,
    # refused by validate as published-changed, came back recorded as published.
    import hashlib

    family = tmp_path / "ccc"
    family.mkdir()
    shutil.copy(PUBLISHED, family / "2019-01-01.yaml")
    assert cli("lock", family, "--new").code == 0
    text = PUBLISHED.read_text()
    assert text.count("Reported indicator; no compensation attached.") == 1
    edited = text.replace("Reported indicator; no compensation attached.", "Reported indicator; compensated.")
    (family / "2019-01-01.yaml").write_text(edited)
    (family / "versions.lock").unlink()
    sha = hashlib.sha256(edited.encode()).hexdigest()
    result = cli("lock", family)
    assert result.code == 1
    assert result.out + result.err == (
        f"{family}/versions.lock:1:1: error no-lock there is no versions.lock in {family}: `lock` would "
        f"record 2019-01-01.yaml (sha256 {sha[:12]}…) as published, as the files are now. If its lock was deleted, "
        "restore it (from version control or a backup): a published file edited since would be recorded as "
        f"published. If this family was never locked, start its lock with `slapolicy lock --new {family}`\n")
    assert sorted(p.name for p in family.iterdir()) == ["2019-01-01.yaml"]
    (family / "2019-01-01.yaml").write_text(PUBLISHED.read_text())
    assert cli("lock", family, "--new").out == f"locked 2019-01-01.yaml (version 2019-01-01, sha256 {SHA_PUBLISHED})\n"
    locked = (family / "versions.lock").read_bytes()
    result = cli("lock", family, "--new")  # --new never starts over a lock that exists
    assert (result.code, result.out + result.err) == (1, f"{family}/versions.lock:1:1: error lock-exists versions.lock "
                                            f"exists: `lock --new` starts the lock of a family that has none; "
                                            f"`slapolicy lock {family}` adds the versions it does not record\n")
    assert (family / "versions.lock").read_bytes() == locked
    assert cli("lock", family).out == "nothing to lock: every published version is recorded\n"


def test_lock_whose_entry_for_the_only_version_was_removed_records_nothing_unless_asked_to_start_one(cli, tmp_path):
    # Deleting one line of the shipped lock (the superseded encoding's entry left) and editing 2019-01-01.yaml:
    # `slapolicy lock` recorded the edit as published, where deleting the whole lock is refused (above).
    import hashlib

    family = tmp_path / "ccc"
    shutil.copytree(POLICIES, family)
    lock = json.loads((family / "versions.lock").read_text())
    del lock["2019-01-01.yaml"]
    (family / "versions.lock").write_text(json.dumps(lock, indent=2))
    edited = PUBLISHED.read_text().replace("Reported indicator; no compensation attached.", "Reported indicator; compensated.")
    (family / "2019-01-01.yaml").write_text(edited)
    sha = hashlib.sha256(edited.encode()).hexdigest()
    before = {p: p.read_bytes() for p in family.rglob("*") if p.is_file()}
    result = cli("lock", family)
    assert (result.code, result.out, result.err) == (1, "", (
        f"{family}/versions.lock:1:1: error no-lock versions.lock in {family} records no published version: `lock` "
        f"would record 2019-01-01.yaml (sha256 {sha[:12]}…) as published, as the files are now. If entries were "
        "removed from it, restore it (from version control or a backup): a published file edited since would be "
        f"recorded as published. If this family was never locked, start its lock with `slapolicy lock --new "
        f"{family}`\n"))
    assert {p: p.read_bytes() for p in family.rglob("*") if p.is_file()} == before
    # Asked to start the lock (a family never locked, or one whose history is knowingly given up), it records them.
    assert cli("lock", "--new", family).out == f"locked 2019-01-01.yaml (version 2019-01-01, sha256 {sha})\n"
    assert json.loads((family / "versions.lock").read_text())["2019-01-01.yaml"] == sha


def test_usage_errors_exit_2(cli):
    assert cli().code == 2
    assert cli("show", POLICIES).code == 2
    assert cli("frobnicate").code == 2


def test_a_setting_amended_without_the_words_of_its_provision_is_warned_of(cli, tmp_path):
    # The 2027 draft raised the standard to 99.95 % under §2.2's words "shall not be less than 99.5%": evaluated by
    # the one, read by legal (show --provision, render) in the other; validate said nothing.
    from helpers import draft_variant

    path = draft_variant(tmp_path, 'value: "99.5%"\n    met_when: at_least', 'value: "99.95%"\n    met_when: at_least')
    path.write_text(path.read_text().replace('{availability: "99.5%", meets: true}', '{availability: "99.95%", meets: true}')
                    .replace('{availability: "99.7%", credit: "0%"}', '{availability: "99.95%", credit: "0%"}'))
    text = path.read_text().splitlines()
    line = text.index('  - ref: "§2.2"') + 3  # the provision's text, after its ref and title
    warning = (f"{path}:{line}:11: warning words-disagree provision §2.2 says 99.5%, but availability.standard, which "
               "applies it (applied_by), is 99.95%: amend the words with the setting, or the setting with the words")
    result = cli("validate", path)
    assert result.code == 0, result.out
    assert warning in result.out.splitlines()
    # The words amended with it, and the setting's own description (lint_descriptions_agree): nothing to say.
    path.write_text(path.read_text().replace("than 99.5% (the", "than 99.95% (the").replace("99.5 % or more", "99.95 % or more"))
    assert "words-disagree" not in cli("validate", path).out


def test_a_clause_amended_in_its_words_or_its_number_alone_is_warned_of(cli, tmp_path):
    # A new user amending §5.7 as docs/policy-format.md says: its words state "5.0QPS", its condition compares with
    # parameters.concurrency_threshold_qps. Raising one and not the other passed validate, test and publish without a
    # word: the words raised to 10.0QPS left 5.0 deciding every minute (its examples, at 5.0, still passing).
    from helpers import draft_variant

    words_only = draft_variant(tmp_path, "concurrent volume of 5.0QPS", "concurrent volume of 10.0QPS", "words.yaml")
    line = words_only.read_text().splitlines().index('      resulting in concurrent volume of 10.0QPS and above.') - 1
    result = cli("validate", words_only)
    assert result.code == 0, result.out
    assert (f"{words_only}:{line}:11: warning words-disagree clause 5.7 says 10.0, but its condition compares "
            "minute.concurrency_qps with 5.0 (parameters.concurrency_threshold_qps): amend the words with the setting, "
            "or the setting with the words") in result.out.splitlines()
    number_only = draft_variant(tmp_path, 'concurrency_threshold_qps: {value: "5.0"', 'concurrency_threshold_qps: {value: "10"',
                                "number.yaml")
    assert ("warning words-disagree clause 5.7 says 5.0, but its condition compares minute.concurrency_qps with 10 "
            "(parameters.concurrency_threshold_qps)") in cli("validate", number_only).out
    # Both amended: 10 is 10.0, nothing to say; nor of the shipped version, whose clause cites §5 numbers elsewhere.
    both = draft_variant(tmp_path, 'concurrency_threshold_qps: {value: "5.0"', 'concurrency_threshold_qps: {value: "10"',
                         "both.yaml")
    both.write_text(both.read_text().replace("concurrent volume of 5.0QPS", "concurrent volume of 10.0QPS"))
    assert "words-disagree" not in cli("validate", both).out
    assert "words-disagree" not in cli("validate", POLICIES).out


@pytest.mark.parametrize("old, new, provision, says, setting", [
    # §6.1's months are counts the agreement states in words, held beside aggregate_cap's value (fees_paid): the
    # lookback shortened alone passed validate, test and publish without a word (its examples amended with it), the
    # words legal reads saying 12 months where 6 decided.
    ("    lookback_months: 12", "    lookback_months: 6", "§6.1", "12",
     "compensation.aggregate_cap.lookback_months, which applies it (applied_by), is 6"),
    ("    after_months_of_use: 12", "    after_months_of_use: 24", "§6.1", "12",
     "compensation.aggregate_cap.after_months_of_use, which applies it (applied_by), is 24"),
])
def test_a_count_of_days_or_months_amended_without_its_provisions_words_is_warned_of(cli, tmp_path, old, new,
                                                                                     provision, says, setting):
    from helpers import draft_variant

    path = draft_variant(tmp_path, old, new)
    line = path.read_text().splitlines().index(f'  - ref: "{provision}"') + 2  # its text: ">-", at column 11
    result = cli("validate", path)
    assert result.code == 0, result.out
    described = path.read_text().splitlines().index("      All compensation together never exceeds the fees paid; once the Services were")
    assert [line for line in result.out.splitlines() if "words-disagree" in line] == [
        f"{path}:{described}:18: warning words-disagree the description of compensation.aggregate_cap says {says}, but "
        f"{setting.split(',')[0]} is {setting.rsplit(' ', 1)[1]}: amend the description with the setting (`render` "
        "prints it beside the setting, as what it means)",
        f"{path}:{line}:11: warning words-disagree provision {provision} says {says}, but {setting}: amend the words "
        "with the setting, or the setting with the words"]


@pytest.mark.parametrize("edits, setting, says, value, described", [
    # The standard raised with §2.2's words, its description left: "met when availability is 99.5 % or more"
    ([('value: "99.5%"\n    met_when: at_least', 'value: "99.9%"\n    met_when: at_least'),
      ("than 99.5% (the", "than 99.9% (the")],
     # quoted as written, "99.5 %": it said "99.5%", which a search of the file for it did not find
     "availability.standard", "99.5 %", "availability.standard is 99.9%", ("99.5 % or more", "99.9 % or more")),
    # The claim window made 90 days with §3.2(2)'s words: "At the end of the 60th calendar day after the Service Month"
    ([("calendar_days_after_end: 60", "calendar_days_after_end: 90"), ("(60) calendar days", "(90) calendar days")],
     "claims.window_closes", "60", "claims.window_closes.calendar_days_after_end is 90", ("60th", "90th")),
])
def test_a_setting_amended_without_its_own_description_is_warned_of(cli, tmp_path, edits, setting, says, value,
                                                                   described):
    # Only provisions' and tiers' words were compared with the settings: a setting's own description, which `render`
    # prints beside it as what it means, kept the old figure after an amendment without a word.
    from helpers import draft_variant

    path = draft_variant(tmp_path, *edits[0])
    text = path.read_text()
    for old, new in edits[1:]:
        assert old in text
        text = text.replace(old, new)
    path.write_text(text)
    lines = text.splitlines()
    line = next(n for n, row in enumerate(lines, 1) if row.strip().startswith("description:") and described[0] in row)
    column = lines[line - 1].index("description:") + len("description: ") + 1
    result = cli("validate", path)
    assert result.code == 0, result.out
    assert [row for row in result.out.splitlines() if "words-disagree" in row] == [
        f"{path}:{line}:{column}: warning words-disagree the description of {setting} says {says}, but {value}: amend "
        "the description with the setting (`render` prints it beside the setting, as what it means)"]
    assert says in lines[line - 1]  # the quote is the file's own words
    # The description amended with it: nothing to say.
    path.write_text(text.replace(*described))
    assert "words-disagree" not in cli("validate", path).out


def test_a_tier_amended_without_its_own_words_is_warned_of(cli, tmp_path):
    # A tier's credit raised from 25 % to 30 % under its words "25% of Monthly Service Fee", its examples amended:
    # validate said nothing, and render printed the words beside a table paying 30 %.
    from helpers import draft_variant

    path = draft_variant(tmp_path, '{at_least: "95%", below: "99%", credit: "25%"', '{at_least: "95%", below: "99%", credit: "30%"')
    text = path.read_text().splitlines()
    line = text.index('       text: "Less than 99% but equal to or higher than 95%: 25% of Monthly Service Fee",') + 1
    assert [row for row in cli("validate", path).out.splitlines() if "words-disagree" in row] == [
        f"{path}:{line}:14: warning words-disagree compensation tier 2 (≥ 95% and < 99%) says 99%, 95% and 25%, but "
        "its credit is 30%: amend the words with the setting, or the setting with the words"]
    # its lower bound moved alone, likewise; the words amended with the credit, nothing to say
    bound = draft_variant(tmp_path, '{at_least: "95%", below: "99%", credit: "25%"', '{at_least: "96%", below: "99%", credit: "25%"',
                          "bound.yaml")
    assert ("warning words-disagree compensation tier 2 (≥ 96% and < 99%) says 99%, 95% and 25%, but its lower bound "
            "is 96%") in cli("validate", bound).out
    path.write_text(path.read_text().replace("higher than 95%: 25% of", "higher than 95%: 30% of"))
    assert "words-disagree" not in cli("validate", path).out


_TIER_TEXTS = ("Less than 99.95% but equal to or higher than 99%: 10% of Monthly Service Fee",
               "Less than 99% but equal to or higher than 95%: 25% of Monthly Service Fee",
               "Less than 95%: 50% of Monthly Service Fee")


@pytest.mark.parametrize("edits, warned", [
    # The credit set to a percentage the words state as a bound: among the percentages they state, so the comparison
    # of percentages alone said nothing, and render printed "25% of Monthly Service Fee" beside a table paying 95 %.
    ([('{at_least: "95%", below: "99%", credit: "25%"', '{at_least: "95%", below: "99%", credit: "95%"')],
     {2: 'compensation tier 2 (≥ 95% and < 99%) says "25% of Monthly Service Fee", but its credit is 95%'}),
    # 95 % moved into the lower tier (above / at_most) under words still saying it belongs to tier 2: the same
    # percentages, and a month at exactly 95 % was paid 50 % where the words pay 25 %.
    pytest.param([('{at_least: "95%", below: "99%", credit: "25%"', '{above: "95%", below: "99%", credit: "25%"'),
                  ('{below: "95%", credit: "50%"', '{at_most: "95%", credit: "50%"')],
                 {2: 'compensation tier 2 (> 95% and < 99%) says "equal to or higher than 95%", but its lower bound is '
                     'above: "95%", which excludes 95% itself: a Service Month at exactly 95% falls in this tier by the '
                     'words and not by the setting',
                  3: 'compensation tier 3 (≤ 95%) says "Less than 95%", but its upper bound is at_most: "95%", which '
                     'includes 95% itself: a Service Month at exactly 95% falls in this tier by the setting and not by '
                     'the words'}, marks=pytest.mark.slow),
    # A bound removed that the words still state: no setting's percentage was missing from the words
    pytest.param([('{at_least: "99%", below: "99.95%", credit: "10%"', '{at_least: "99%", credit: "10%"')],
                 {1: 'compensation tier 1 (≥ 99%) says "Less than 99.95%", but it has no upper bound'},
                 marks=pytest.mark.slow),
])
def test_a_tier_whose_settings_state_its_words_percentages_in_other_roles_is_warned_of(cli, tmp_path, edits, warned):
    from helpers import draft_variant

    path = draft_variant(tmp_path, *edits[0])
    for old, new in edits[1:]:
        assert old in path.read_text()
        path.write_text(path.read_text().replace(old, new))
    text = path.read_text().splitlines()
    lines = {n: next(i for i, row in enumerate(text, 1) if _TIER_TEXTS[n - 1] in row) for n in warned}
    result = cli("validate", path)
    assert [row for row in result.out.splitlines() if "words-disagree" in row] == [
        f"{path}:{lines[n]}:14: warning words-disagree {warned[n]}: amend the words with the setting, or the setting "
        "with the words" for n in sorted(warned)]
    # The words amended with the settings: nothing to say
    words = {1: ("Less than 99.95% but equal", "Equal"), 2: ("equal to or higher than 95%", "higher than 95%"),
             3: ("Less than 95%: 50%", "Equal to or less than 95%: 50%")}
    if edits[0][1].endswith('credit: "95%"'):
        words[2] = ("95%: 25% of Monthly", "95%: 95% of Monthly")
    for n in warned:
        path.write_text(path.read_text().replace(*words[n]))
    assert "words-disagree" not in cli("validate", path).out


def test_a_tiers_words_tell_each_percentages_role():
    from slapolicy.policy.lint import _tier_said

    assert _tier_said(_TIER_TEXTS[1]) == [(Decimal("99"), "Less than 99%", "below"),
                                          (Decimal("95"), "equal to or higher than 95%", "at_least"),
                                          (Decimal("25"), "25% of Monthly Service Fee", "credit")]
    assert [role for *_, role in _tier_said("Not less than 90% and at most 95 %: a credit of 30%")] == \
        ["at_least", "at_most", None]
    assert [role for *_, role in _tier_said("Between 95% and 99%: 25% of the fee")] == [None, None, "credit"]


@pytest.mark.parametrize("text, value, said", [
    ("Fewer than 2,000 seats at a time.", 2000, None),
    ("Fewer than 2,000 seats at a time.", 3000, "2,000"),
    ("Kept 15 days, then deleted.", 15, None),
    ("Kept 15 days, then deleted.", 30, "15"),
    ("No number at all.", 30, None),
])
def test_a_parameters_words_are_compared_as_numbers(text, value, said):
    from slapolicy.policy.lint import _said

    assert _said(str(value), "parameters.x", text) == said


@pytest.mark.parametrize("setting,old,new,provision,said,words,described", [
    # A lawyer's first amendment: the claim deadline of §3.2(2) raised to 90 days, its words left at "sixty (60)":
    # validate said nothing, as it did of a window opening after another business day than §3.2(1)'s fifth (5th).
    ("claims.window_closes.calendar_days_after_end", "calendar_days_after_end: 60", "calendar_days_after_end: 90",
     "§3.2(2)", "60", ("sixty\n      (60) calendar days", "ninety\n      (90) calendar days"), ("60th", "90th")),
    ("claims.window_opens.after_business_days", "after_business_days: 5", "after_business_days: 10",
     "§3.2(1)", "5", ("fifth (5th) business day", "tenth (10th) business day"), ("the 5th", "the 10th")),
])
def test_a_claim_deadline_amended_without_the_words_of_its_provision_is_warned_of(cli, tmp_path, setting, old, new,
                                                                                   provision, said, words, described):
    from helpers import draft_variant

    path = draft_variant(tmp_path, old, new)
    text = path.read_text().splitlines()
    line = text.index(f'  - ref: "{provision}"') + 2  # the provision's text, after its ref
    value = new.split(": ")[1]
    result = cli("validate", path)
    assert result.code == 0, result.out
    # the item's own number, "(2)", is no number it states
    assert (f"{path}:{line}:11: warning words-disagree provision {provision} says {said}, but {setting}, which applies "
            f"it (applied_by), is {value}: amend the words with the setting, or the setting with the words"
            ) in result.out.splitlines()
    assert words[0] in path.read_text()
    path.write_text(path.read_text().replace(*words))
    # the setting's own description says it too (lint_descriptions_agree): amended with it, nothing to say
    assert f"warning words-disagree the description of {setting.rsplit('.', 1)[0]} says {said}," in cli("validate", path).out
    path.write_text(path.read_text().replace(*described))
    assert "words-disagree" not in cli("validate", path).out


def test_words_typed_in_full_width_state_the_numbers_they_show():
    # "95％: 25％ of Monthly Service Fee", typed with a Chinese or Japanese input method: the words check saw no 95 %
    # and no 25 %, and warned that tier 2 'says 99%, but its lower bound is 95%' (and its credit 25 %).
    from slapolicy.policy.lint import _said, _tier_said

    text = "Less than 99% but equal to or higher than 95％: ２５% of Monthly Service Fee"
    assert _said("95%", False, text) is None and _said("25%", False, text) is None
    # quoted as typed, full width and all: a search of the file for "95%" would not find "95％"
    assert _said("30%", False, text) == "99% and 95％ and ２５%"
    assert [(amount, role) for amount, _, role in _tier_said(text)] == [
        (Decimal("99"), "below"), (Decimal("95"), "at_least"), (Decimal("25"), "credit")]


@pytest.mark.parametrize("written", ["99.5 per cent", "99.5 percent", "99.5 Per Cent", "99.5 per-cent", "99.5  %",
                                     "99.5 per centum"])
def test_words_that_write_per_cent_state_the_percentage_they_name(written):
    # "shall not be less than 99.5 per cent": the words checks read a percentage only as "99.5%" or "99.5 %", so
    # words that spell it out stated none, and a standard raised to 99.9 % under them passed without a word.
    from slapolicy.policy.lint import _said, _tier_said

    text = f"shall not be less than {written} (the Service Availability Standard)"
    assert _said("99.9%", False, text) == written  # quoted as written, not as "99.5%", which a search would miss
    assert _said("99.5%", False, text) is None
    tier = f"Less than {written} but equal to or higher than 99 percent: 10 per cent of Monthly Service Fee"
    assert [(amount, role) for amount, _, role in _tier_said(tier)] == [
        (Decimal("99.5"), "below"), (Decimal("99"), "at_least"), (Decimal("10"), "credit")]
    assert _tier_said(tier)[2][1] == "10 per cent of Monthly Service Fee"
    # "per cent" is no number a clause's words state beside its condition's numbers
    from slapolicy.policy.lint import _STATED

    assert _STATED.findall(f"5.0QPS, and {written}") == ["5.0"]


def test_a_tier_and_a_provision_whose_words_write_per_cent_are_warned_of_when_their_figures_differ(cli, tmp_path):
    # A tier's words "Less than 99.5 per cent ..." over a figure of 99.9 %, and §2.2's "not be less than 99.5 percent"
    # over a standard of 99.9 %: validate said nothing of either, the words stating no percentage it could read.
    from helpers import draft_variant

    path = draft_variant(tmp_path, '"Less than 95%: 50% of Monthly Service Fee"',
                         '"Less than 99.5 per cent: 50 per cent of Monthly Service Fee"')
    text = path.read_text()
    for old, new in (('{below: "95%", credit: "50%"', '{below: "99.9%", credit: "50%"'),
                     ("than 99.5% (the", "than 99.5 percent (the")):
        assert old in text
        text = text.replace(old, new)
    path.write_text(text)
    rows = text.splitlines()
    tier = next(i for i, row in enumerate(rows, 1) if "Less than 99.5 per cent: 50 per cent" in row)
    provision = rows.index('  - ref: "§2.2"') + 3
    warned = [row for row in cli("validate", path).out.splitlines() if "words-disagree" in row]
    assert f"{path}:{tier}:14: warning words-disagree compensation tier 3 (< 99.9%) says 99.5 per cent and 50 per cent, " \
           "but its upper bound is 99.9%: amend the words with the setting, or the setting with the words" in warned
    path.write_text(text.replace('value: "99.5%"\n    met_when', 'value: "99.9%"\n    met_when'))
    assert f"{path}:{provision}:11: warning words-disagree provision §2.2 says 99.5 percent, but availability.standard, " \
           "which applies it (applied_by), is 99.9%: amend the words with the setting, or the setting with the words" \
           in cli("validate", path).out.splitlines()


@pytest.mark.parametrize("old, new, warned, amended", [
    # §1.5's threshold lowered to 98 %: §2.1's example still counts its minutes at 98 % as unavailable
    ('minute_unavailable_below:\n    value: "99%"', 'minute_unavailable_below:\n    value: "98%"',
     "counts its minutes at 98% as Service Unavailability Minutes, but under availability.minute_unavailable_below "
     "(§1.5), 98%, a minute at 98% is available: amend the example with the setting, or the setting with the example",
     ("98% (less than 99%)", "97% (less than 98%)")),
    # raised to 99.5 %: its minutes at 98 % are still unavailable, but the threshold its words name is not the version's
    ('minute_unavailable_below:\n    value: "99%"', 'minute_unavailable_below:\n    value: "99.5%"',
     'says its minutes at 98% are "less than 99%", the threshold of a Service Unavailability Minute, but '
     "availability.minute_unavailable_below (§1.5) is 99.5%: amend the example with the setting, or the setting with "
     "the example", ("(less than 99%)", "(less than 99.5%)")),
    # shown with 3 decimals: the example's 99.93 % is no figure this version shows
    ("display_decimals: {value: 2", "display_decimals: {value: 3",
     "shows 1 − 30/(31 × 24 × 60) as 99.93%, but this version shows that availability as 99.933% "
     "(availability.display_decimals 3, display_rounding half_up): amend the example with the settings, or the settings "
     "with the example", ("60))× 100% = 99.93%.", "60))× 100% = 99.933%.")),
])
def test_the_worked_example_of_2_1_is_checked_against_the_versions_threshold_and_display(cli, tmp_path, old, new, warned,
                                                                                         amended):
    # §2.1's words work an example ("the Call Success Rate of each minute is 98% (less than 99%) in 30 minutes ...
    # = 1 -(30/(31 × 24 × 60))× 100% = 99.93%") that no check read: an amendment of §1.5's threshold, or of the
    # decimals shown, left the agreement's own example saying what the version no longer computes, without a word.
    from helpers import draft_variant

    path = draft_variant(tmp_path, old, new)
    line = path.read_text().splitlines().index('  - ref: "§2.1"') + 3  # its text, after its ref and title
    result = cli("validate", path)
    assert result.code == 0, result.out
    assert [row for row in result.out.splitlines() if "worked example" in row] == [
        f"{path}:{line}:11: warning words-disagree provision §2.1's worked example {warned}"]
    # The example amended with the setting: nothing to say of it
    assert amended[0] in path.read_text()
    path.write_text(path.read_text().replace(*amended))
    assert "worked example" not in cli("validate", path).out


def test_the_shipped_worked_example_of_2_1_agrees_with_the_shipped_version(cli):
    from slapolicy.policy.directory import read_policy
    from slapolicy.policy.examples import worked_example_disagrees

    policy, problems = read_policy(PUBLISHED)
    assert problems == [] or all(p.severity == "warning" for p in problems)
    assert worked_example_disagrees(policy) == []
