"""Examples for every rule, not only disclaimers: the standard and gate, each tier and its bounds, the
monthly cap, §6.1, the claim window, the materials (docs/policy-format.md, "Examples for every rule")."""
import re
import shutil

import pytest

from conftest import DRAFT, POLICIES, PUBLISHED
from helpers import draft_variant

STANDARD = 'value: "99.5%"\n    met_when: at_least'


def test_the_shipped_policy_exercises_every_rule_and_every_tier_bound(cli):
    result = cli("test", "--coverage", PUBLISHED)
    assert result.code == 0, result.out
    rules = [line for line in result.out.splitlines() if line.startswith("  §")]
    assert len(rules) == 29 and not [line for line in rules if "NOT EXERCISED" in line or "UNTESTED" in line]
    assert [re.sub(r"\s+", " ", line.strip()) for line in rules[:11]] == [
        "§2.2 standard 2 example(s) exercised",
        "§2.2, §3 gate 2 example(s) exercised",
        "§3.1 tier 1 ≥ 99% and < 99.95% 4 example(s) exercised (bound 99% tested; bound 99.95% tested)",
        "§3.1 tier 2 ≥ 95% and < 99% 3 example(s) exercised (bound 95% tested; bound 99% tested)",
        "§3.1 tier 3 < 95% 2 example(s) exercised (bound 95% tested)",
        "§3.1(2) monthly cap 2 example(s) exercised",
        "§6.1 aggregate cap 3 example(s) exercised",
        "§3.2(1) claim window opens 2 example(s) exercised",
        "§3.2(2) claim window closes 1 example(s) exercised",
        "§3.3(1) material event_report 2 example(s) exercised",
        "§3.3(2) material failure_records 3 example(s) exercised"]


@pytest.mark.slow
def test_an_amended_standard_fails_the_examples_written_for_the_old_one(cli, tmp_path):
    # Before, a new standard reported the same "18 of 18 clauses exercised" as the original.
    draft = draft_variant(tmp_path, STANDARD, 'value: "99.9%"\n    met_when: at_least')
    result = cli("test", draft)
    assert result.code == 1
    # 99.5 % no longer meets 99.9 %; at 99.7 % the gate now opens tier 1: 10 %, not 0 %.
    # Each names its answer's key and the case it gives, as a clause's example does: "expected true, got false" left
    # the reader to find which example, and what it was about.
    assert ("error example-failed FAIL §2.2 standard example 1: expected meets: true, got false (availability=99.5%)"
            in result.out)
    assert ("error example-failed FAIL §2.2, §3 gate example 1: expected credit: 0%, got 10% (availability=99.7%)"
            in result.out)


def test_a_changed_tier_credit_fails_its_examples_at_the_line_of_the_example(cli, tmp_path):
    draft = draft_variant(tmp_path, '{at_least: "95%", below: "99%", credit: "25%"', '{at_least: "95%", below: "99%", credit: "30%"')
    result = cli("test", draft)
    assert result.code == 1
    lines = draft.read_text().splitlines()
    line = next(i for i, text in enumerate(lines, 1) if '{availability: "95%", credit: "25%"}' in text)
    col = lines[line - 1].index("{availability") + 1
    assert (f"{draft}:{line}:{col}: error example-failed FAIL §3.1 tier 2 ≥ 95% and < 99% example 1: "
            "expected credit: 25%, got 30% (availability=95%)") in result.out.splitlines()


@pytest.mark.slow
def test_each_kind_of_rule_example_fails_when_its_answer_is_wrong(cli, tmp_path):
    edits = [('monthly_fee: "100.00", offset: "80.00", compensation: "20.00"',
              'monthly_fee: "100.00", offset: "80.00", compensation: "50.00"', "§3.1(2) monthly cap example 1: expected compensation: 50.00, got 20.00 (availability=90%, "
              "monthly_fee=100.00, offset=80.00)"),
             ('granted: {"2019-02": "25.00"}, room: "5.00"', 'granted: {"2019-02": "25.00"}, room: "30.00"',
              "§6.1 aggregate cap example 1: expected room: 30.00, got 5.00 (month="),
             ('opens: "2019-04-06T00:00:00+08:00"', 'opens: "2019-04-05T00:00:00+08:00"',
              "§3.2(1) claim window opens example 1: expected opens: 2019-04-05T00:00:00+08:00, got "
              "2019-04-06T00:00:00+08:00 (service_month=2019-03)"),
             ('{claim: {event_report: " "}, missing: true}', '{claim: {event_report: " "}, missing: false}',
              "§3.3(1) material event_report example 2: expected missing: false, got true (claim={'event_report': ' '})")]
    for old, new, message in edits:
        draft = draft_variant(tmp_path, old, new)
        result = cli("test", draft)
        assert result.code == 1 and f"FAIL {message}" in result.out, (message, result.out)


@pytest.mark.slow
@pytest.mark.parametrize("written, passes", [
    ("2019-04-06T00:00+08:00", True),  # without seconds, as a claim's times are written
    ("2019-04-05T16:00:00+00:00", True), ("2019-04-05T16:00:00Z", True),  # the same instant, in UTC
    ("2019-04-06T00:00", True),  # no offset: the policy's timezone, as every input's timestamp
    ("2019-04-06T00:00:00Z", False), ("2019-04-06T00:01+08:00", False), ("the 6th", False)])
def test_a_claim_window_example_is_the_instant_it_names_however_written(cli, tmp_path, written, passes):
    # The window's example was compared as text with the time printed: "2019-04-06T00:00+08:00" failed with
    # "expected 2019-04-06T00:00+08:00, got 2019-04-06T00:00:00+08:00", the very instant.
    draft = draft_variant(tmp_path, 'opens: "2019-04-06T00:00:00+08:00"', f'opens: "{written}"')
    result = cli("test", draft)
    failure = (f"FAIL §3.2(1) claim window opens example 1: expected opens: {written}, got 2019-04-06T00:00:00+08:00 "
               "(service_month=2019-03)")
    assert (result.code, failure in result.out) == ((0, False) if passes else (1, True)), result.out


@pytest.mark.slow
def test_validate_warns_for_a_rule_and_a_bound_no_example_exercises(cli, tmp_path):
    # A new tier between 99.95 % and 100 % with no example; the standard's examples removed.
    draft = draft_variant(tmp_path, '  tiers:\n', '  tiers:\n    - {at_least: "99.95%", credit: "5%", ref: "§3.1"}\n')
    text = draft.read_text()
    text = text.replace('    examples:\n      - {availability: "99.5%", meets: true}\n      - {availability: "99.49%", meets: false}\n', "")
    draft.write_text(text)
    result = cli("validate", draft)
    assert result.code == 0  # warnings only
    warnings = [line.split(" ", 3)[2:] for line in result.out.splitlines() if " untested-" in line]
    assert warnings == [
        ["untested-rule", "no example exercises §2.2 standard: `slapolicy test` cannot check it"],
        ["untested-rule", "no example exercises §3.1 tier 1 ≥ 99.95%: `slapolicy test` cannot check it"]]
    assert f"{draft}: 28 of 30 rules exercised (18 of 18 clauses), " in cli("test", draft).out


def test_an_example_missing_what_it_needs_says_what_is_missing(cli, tmp_path):
    draft = draft_variant(tmp_path, '{availability: "99.5%", meets: true}', '{availability: "99.5%", met: true}')
    result = cli("test", draft)
    assert result.code == 1
    assert "FAIL §2.2 standard example 1: needs meets (has availability, met)" in result.out


def test_loading_a_version_to_evaluate_does_not_run_its_examples(monkeypatch, tmp_path):
    """The untested-rule warnings need every example run (and the holiday calendar loaded); evaluation needs
    only the errors, so the engine and load_policy leave them out, and validate still gives them."""
    import slapolicy.policy.examples as examples
    from slapolicy import Engine, PolicyDirectory, load_policy

    monkeypatch.setattr(examples, "run_rule_examples", lambda policy: pytest.fail("the examples were run"))
    assert Engine(POLICIES).in_force("2019-03")["version"] == "2019-01-01"
    assert str(load_policy(DRAFT).standard) == "99.95"
    assert PolicyDirectory(POLICIES, run_examples=False).check().versions
    # A path not read before in this process, and no record of a check passed (docs/cli.md): checked afresh,
    # examples and all.
    monkeypatch.setenv("SLAPOLICY_CACHE_DIR", str(tmp_path / "cache"))
    copy = tmp_path / "ccc"
    shutil.copytree(POLICIES, copy)
    with pytest.raises(pytest.fail.Exception):
        PolicyDirectory(copy)


def test_a_file_is_checked_once_per_content(tmp_path, monkeypatch):
    """read_policy keeps what it checked by path and sha256: the same bytes give the same (immutable) Policy
    without checking again; an edited file is checked again."""
    import slapolicy.policy.directory as directory
    from slapolicy import read_policy

    draft = tmp_path / "2027-01-01.yaml"
    draft.write_text(DRAFT.read_text())
    first, problems = read_policy(draft)
    checked = []
    real = directory._check
    monkeypatch.setattr(directory, "_check", lambda *a: checked.append(a[0]) or real(*a))
    again, same = read_policy(draft)
    assert again is first and same == problems and checked == []
    draft.write_text(DRAFT.read_text().replace('value: "99.95%"', 'value: "99.9%"', 1))
    edited, _ = read_policy(draft)
    assert checked == [str(draft)] and edited is not first and str(edited.standard) == "99.9"
