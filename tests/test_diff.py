"""`diff` by meaning (tiers by range and credit, clauses by id, causes by title, words compared), the
redline, and replay's "why" naming only the change that moved a row's money."""
import pytest

from conftest import POLICIES, PUBLISHED
from helpers import draft_variant, minute_rows, write_csv
from slapolicy.replay import replay

TIER_1 = '- {at_least: "99%", below: "99.95%", credit: "10%", ref: "§3.1",'
STANDARD = 'value: "99.5%"\n    met_when: at_least'


def tier_changes(result):
    return [c for c in result.json()["changes"] if c["what"].startswith("compensation tier")]


def test_inserting_one_tier_shows_one_added_tier(cli, tmp_path):
    new = draft_variant(tmp_path, TIER_1, '- {at_least: "99.95%", credit: "5%", ref: "§3.1"}\n    ' + TIER_1)
    result = cli("diff", PUBLISHED, new, "--json")
    assert result.code == 0
    assert tier_changes(result) == [{"kind": "added", "what": "compensation tier ≥ 99.95%", "ref": "§3.1", "old": None,
                                     "new": "≥ 99.95%: 5%", "new_tier": "≥ 99.95%"}]
    assert "  §3.1 + compensation tier ≥ 99.95%: ≥ 99.95%: 5%" in cli("diff", PUBLISHED, new).out


def test_changed_credit_and_changed_range_are_each_one_change(cli, tmp_path):
    new = draft_variant(tmp_path, 'credit: "25%"', 'credit: "30%"')
    new.write_text(new.read_text().replace('{below: "95%", credit: "50%"', '{below: "96%", credit: "50%"').replace(
        '{at_least: "95%", below: "99%", credit: "30%"', '{at_least: "96%", below: "99%", credit: "30%"'))
    changes = tier_changes(cli("diff", PUBLISHED, new, "--json"))
    # [95, 99) at 25 % became [96, 99) at 30 %: neither range nor credit survives, so it is removed and added;
    # < 95 % at 50 % became < 96 % at 50 %: the same credit over another range.
    assert [(c["kind"], c["what"], c["old"], c["new"]) for c in changes] == [
        ("changed", "compensation tier paying 50%", "< 95%", "< 96%"),
        ("removed", "compensation tier ≥ 95% and < 99%", "≥ 95% and < 99%: 25%", None),
        ("added", "compensation tier ≥ 96% and < 99%", None, "≥ 96% and < 99%: 30%")]


@pytest.mark.slow
def test_the_same_terms_written_otherwise_are_no_change(cli, tmp_path):
    # "99.5%" -> "99.50%" was "~ availability.standard: 99.5% → 99.50%", a tier's "95%" -> "95.0%" a changed tier,
    # and `in: [none, provider]` -> `[provider, none]` a changed condition of §5.15: each is the same term (the engine
    # reads the same Decimal, the same set), and a diff for legal that reports them hides the changes that matter.
    new = draft_variant(tmp_path, STANDARD, 'value: "99.50%"\n    met_when: at_least')
    new.write_text(new.read_text().replace('{at_least: "95%", below: "99%"', '{at_least: "95.0%", below: "99.00%"')
                   .replace('concurrency_threshold_qps: {value: "5.0"', 'concurrency_threshold_qps: {value: "5.000"')
                   .replace("in: [none, provider]", "in: [provider, none]"))
    result = cli("diff", PUBLISHED, new, "--json")
    assert [(c["what"], c["old"], c["new"]) for c in result.json()["changes"]] == [("status", "published", "draft")]
    # One digit more is a change, on either side of the boundary.
    for written in ("99.51%", "99.49%"):
        moved = draft_variant(tmp_path, STANDARD, f'value: "{written}"\n    met_when: at_least', name="moved.yaml")
        assert f"  §2.2 ~ availability.standard: 99.5% → {written}" in cli("diff", PUBLISHED, moved).out.splitlines()


def test_a_new_cause_prints_its_title_and_descriptions_are_compared(cli, tmp_path):
    new = draft_variant(tmp_path, '  - {id: force_majeure,',
                        '  - {id: carrier_outage, ref: "§5.13", title: "An outage of a telecom carrier"}\n'
                        '  - {id: force_majeure,')
    new.write_text(new.read_text().replace("Reported indicator; no compensation attached.", "Reported only."))
    out = cli("diff", PUBLISHED, new).out
    assert "  §5.13 + cause carrier_outage: An outage of a telecom carrier" in out.splitlines()
    assert ("  §1.7 ~ parameters.data_storage_durability.description reworded:\n"
            "      was: Reported indicator; no compensation attached.\n      now: Reported only.") in out


def test_the_redline_strikes_and_inserts_and_never_shows_none(cli, tmp_path):
    new = draft_variant(tmp_path, STANDARD, 'value: "99.9%"\n    met_when: at_least')
    new.write_text(new.read_text().replace("Unavailability due to force majeure and accidents.",
                                           "Unavailability due to force majeure, epidemics and accidents."))
    page = cli("diff", PUBLISHED, new, "--format", "html").out
    assert page.startswith("<!DOCTYPE html>") and "None" not in page
    assert "<h1>Redline: ccc-sla 2019-01-01 → 2019-01-01</h1>" in page
    assert "<del>99.5%</del> <ins>99.9%</ins>" in page
    assert "Unavailability due to force <del>majeure</del> <ins>majeure, epidemics</ins> and accidents." in page
    assert page.index("<h2>§2.2</h2>") < page.index("<h2>§5.14</h2>")
    for external in ("http://", "https://", "src=", "<link", "<script"):
        assert external not in page


# ---------------------------------------------------------------------------- replay's why


@pytest.fixture
def amended_rows(tmp_path):
    """March 2019 (44,640 minutes), fee 1000.00 each, under an amendment: standard 99.9 %, tier [95, 99) 25 → 30 %,
    the < 95 % tier split into [90, 95) at 50 % and < 90 % at 60 %.

    a: 60 unavailable minutes: 44,580 / 44,640 = 99.8656 %: meets 99.5 %, misses 99.9 %: 0 → 10 % = 100.00.
    b: 2,000 minutes: 95.5197 %: tier [95, 99) both times: 25 % → 30 %: 250.00 → 300.00.
    c: 5,000 minutes: 88.7993 %: < 95 % (50 %) → < 90 % (60 %): 500.00 → 600.00."""
    rows = (list(minute_rows("a", "2019-03-12T10:00", 60, 100, 2)) + list(minute_rows("b", "2019-03-05T00:00", 2000, 100, 2))
            + list(minute_rows("c", "2019-03-05T00:00", 5000, 100, 2)))
    minutes = write_csv(tmp_path / "m.csv", rows)
    billing = write_csv(tmp_path / "b.csv", [{"account": x, "month": "2019-03", "monthly_fee": "1000.00", "offset": "0.00"}
                                             for x in "abc"])
    under = draft_variant(tmp_path, STANDARD, 'value: "99.9%"\n    met_when: at_least')
    under.write_text(under.read_text().replace('credit: "25%"', 'credit: "30%"').replace(
        '- {below: "95%", credit: "50%", ref: "§3.1",',
        '- {below: "90%", credit: "60%", ref: "§3.1"}\n    - {at_least: "90%", below: "95%", credit: "50%", ref: "§3.1",'))
    return replay(POLICIES, minutes=minutes, billing=billing, start="2019-03", end="2019-03", under=under), minutes, billing, under


def test_a_row_that_now_misses_the_standard_names_the_standard_only(amended_rows):
    row = {r["account"]: r for r in amended_rows[0]["rows"]}["a"]
    assert (row["baseline"]["compensation"], row["amended"]["compensation"]) == ("0.00", "100.00")
    assert row["clauses_changed"] == [{"what": "availability.standard", "ref": "§2.2", "kind": "changed", "old": "99.5%",
                                       "new": "99.9%", "why": "the standard is met in one and not the other"}]


def test_a_row_whose_tier_credit_changed_names_that_tier_only(amended_rows):
    rows = {r["account"]: r for r in amended_rows[0]["rows"]}
    assert (rows["b"]["baseline"]["compensation"], rows["b"]["amended"]["compensation"]) == ("250.00", "300.00")
    assert rows["b"]["clauses_changed"] == [{"what": "compensation tier ≥ 95% and < 99%", "ref": "§3.1", "kind": "changed",
                                             "old": "credit 25%", "new": "credit 30%",
                                             "why": "the credit of this row's tier differs"}]
    assert (rows["c"]["baseline"]["compensation"], rows["c"]["amended"]["compensation"]) == ("500.00", "600.00")
    assert [(c["kind"], c["what"]) for c in rows["c"]["clauses_changed"]] == [
        ("changed", "compensation tier paying 50%"), ("added", "compensation tier < 90%")]


def test_the_html_report_shows_no_python_none(cli, amended_rows):
    _, minutes, billing, under = amended_rows
    page = cli("replay", POLICIES, "--minutes", minutes, "--billing", billing, "--from", "2019-03", "--to", "2019-03",
               "--under", under, "--format", "html").out
    assert "§3.1 + compensation tier &lt; 90%: &lt; 90%: 60%" in page
    assert "None" not in page


@pytest.mark.parametrize("command", [["render", "{gap}", "--format", "html"], ["render", "{gap}"],
                                     ["diff", PUBLISHED, "{gap}"], ["diff", "{gap}", PUBLISHED, "--format", "html"]])
def test_a_version_validate_rejects_is_neither_rendered_nor_diffed(cli, command):
    # tier-gap.yaml leaves [98 %, 99 %) without a tier: a document for review must not present it as sound.
    gap = POLICIES.parent.parent / "tests" / "broken" / "drafts" / "tier-gap.yaml"
    result = cli(*[str(gap) if part == "{gap}" else part for part in command])
    assert result.code == 1 and result.out == ""
    assert f"{gap}:128:7: error tier-gap no tier covers availability in [98 %, 99 %) between tier 2 and tier 1 (§3.1)" \
        in result.err


def test_a_long_rewording_is_redlined_whole_between_its_common_words(monkeypatch):
    # A description reworded over 20,000 words took `diff --format html` 70 s (difflib weighs every pair of words).
    # The words both texts begin and end with are kept as they are; past MAX_WORD_PAIRS pairs between them, the part
    # that differs is struck and inserted whole.
    from slapolicy.policy import redline

    old, new = "The provider shall a b c d pay the fee.", "The provider shall e b f pay the fee."
    assert redline.word_redline(old, new) == ("The provider shall <del>a</del> <ins>e</ins> b <del>c d</del> "
                                              "<ins>f</ins> pay the fee.")  # 4 x 3 = 12 pairs: word by word
    monkeypatch.setattr(redline, "MAX_WORD_PAIRS", 11)
    assert redline.word_redline(old, new) == "The provider shall <del>a b c d</del> <ins>e b f</ins> pay the fee."
    assert redline.word_redline("same words", "same words") == "same words"
    assert redline.word_redline("", "all new") == "<ins>all new</ins>"


# ---------------------------------------------------------------------------- changes a reader cannot see

CLAUSE_5_1 = 'text: "Unavailability due to your own network, system, software or equipment."'


def test_a_lookalike_letter_and_an_invisible_character_are_named_where_the_words_look_the_same(cli, tmp_path):
    # "network" with a Cyrillic е and "soft\u200bware" with a zero-width space were shown as "reworded", the old and new
    # words alike to the eye: a reviewer could not tell what the file now says, nor that it differs at all.
    new = draft_variant(tmp_path, CLAUSE_5_1, CLAUSE_5_1.replace("network", "n\u0435twork").replace(
        "software", "soft\u200bware"))
    assert cli("diff", PUBLISHED, new).out.splitlines()[2:] == [
        "  §5.1 ~ clause 5.1 reworded:",
        "      was: Unavailability due to your own network, system, software or equipment.",
        "      now: Unavailability due to your own n\u0435twork, system, soft\u200bware or equipment.",
        "      unseen: n⟨U+0435⟩twork, (was network,): U+0435 CYRILLIC SMALL LETTER IE in place of U+0065 LATIN SMALL "
        "LETTER E, which look alike",
        "      unseen: soft⟨U+200B⟩ware (was software): U+200B ZERO WIDTH SPACE, which shows nothing"]
    (change,) = [c for c in cli("diff", PUBLISHED, new, "--json").json()["changes"] if c["what"] == "clause 5.1"]
    assert len(change["unseen"]) == 2
    page = cli("diff", PUBLISHED, new, "--format", "html").out
    assert ('<br><span class="meta">unseen: soft⟨U+200B⟩ware (was software): U+200B ZERO WIDTH SPACE, which shows '
            "nothing</span></li>") in page


def test_the_apostrophe_the_corrected_encoding_changed_in_section_5_is_named(cli):
    # Between the superseded encoding and the version that replaced it, §5's words gained a clause and their
    # apostrophe became a typographic one: the second was invisible in was/now.
    from conftest import POLICIES

    out = cli("diff", POLICIES / "superseded" / "2019-01-01.32cfebe23efd.yaml", PUBLISHED).out.splitlines()
    at = out.index("  §5 ~ exclusions.text reworded:")
    assert out[at + 3] == ("      unseen: Cloud⟨U+2019⟩s (was Cloud's): U+2019 RIGHT SINGLE QUOTATION MARK in place of "
                           "U+0027 APOSTROPHE, which look alike")
    assert not out[at + 4].startswith("      unseen:")


@pytest.mark.parametrize("old, new, notes", [
    # a no-break space is a space between words, as any other (seen); a zero-width one standing alone is not
    ("a b", "a \u00a0\u200b b", ["⟨U+200B⟩ added: U+200B ZERO WIDTH SPACE, which shows nothing"]),
    ("pay the fee", "pay the fees", []),  # seen
    ("服务可用性", "服务不可用性", []),  # a rewording in another script: seen, nothing swapped for ASCII
    ("café", "cafe", ["cafe (was caf⟨U+00E9⟩): U+0065 LATIN SMALL LETTER E in place of U+00E9 LATIN SMALL LETTER E "
                      "WITH ACUTE, which look alike"]),
    ("same", "same", []),
])
def test_unseen_changes_between_two_texts(old, new, notes):
    from slapolicy.policy.diff import unseen_changes

    assert unseen_changes(old, new) == notes


# ---------------------------------------------------------------------------- clauses renumbered

SWAPPED = [('  - id: "5.13"\n    ref: "§5.13"', '  - id: "5.XX"\n    ref: "§5.XX"'),
           ('  - id: "5.14"\n    ref: "§5.14"', '  - id: "5.13"\n    ref: "§5.13"'),
           ('  - id: "5.XX"\n    ref: "§5.XX"', '  - id: "5.14"\n    ref: "§5.14"')]


def swapped_variant(tmp_path, *more):
    path = draft_variant(tmp_path, "status: draft", "status: draft")
    text = path.read_text()
    for old, new in SWAPPED + list(more):
        assert old in text
        text = text.replace(old, new)
    path.write_text(text)
    return path


def test_a_clause_renumbered_is_one_change_not_two_clauses_rewritten(cli, tmp_path):
    # §5.13 and §5.14 swapped numbers, each keeping its words: diff said that §5.13 was reworded into force majeure,
    # its condition, title and examples changed, and §5.14 likewise: eight changes, none of them true.
    new = swapped_variant(tmp_path)
    assert cli("diff", PUBLISHED, new).out.splitlines()[2:] == [
        "  §5.14 ~ clause 5.13 renumbered: §5.13 → §5.14 (Networks and equipment other than Tencent Cloud's), its "
        "words unchanged",
        "  §5.13 ~ clause 5.14 renumbered: §5.14 → §5.13 (Force majeure and accidents), its words unchanged"]
    page = cli("diff", PUBLISHED, new, "--format", "html").out
    assert ('<li>§5.13 <span class="kind">renumbered</span><span class="what">clause 5.14</span>: <del>§5.14</del> '
            "<ins>§5.13</ins> (Force majeure and accidents), its words unchanged</li>") in page


def test_a_clause_renumbered_and_changed_shows_its_change_under_its_new_number(cli, tmp_path):
    new = swapped_variant(tmp_path, ("when: {fact: incident.cause, equals: force_majeure}",
                                     "when: {fact: incident.cause, in: [force_majeure, authority_control]}"),
                          ("- {facts: {incident.cause: force_majeure}, applies: true}",
                           "- {facts: {incident.cause: force_majeure}, applies: true}\n"
                           "      - {facts: {incident.cause: authority_control}, applies: true}"))
    assert cli("diff", PUBLISHED, new).out.splitlines()[2:] == [
        "  §5.14 ~ clause 5.13 renumbered: §5.13 → §5.14 (Networks and equipment other than Tencent Cloud's), its "
        "words unchanged",
        "  §5.13 ~ clause 5.14 renumbered: §5.14 → §5.13 (Force majeure and accidents), its words unchanged",
        "  §5.13 ~ clause 5.13: incident.cause = force_majeure → incident.cause in [force_majeure, authority_control]",
        "  §5.13 ~ clause 5.13 examples changed (2 → 3)"]


def test_unseen_changes_past_the_word_pairs_weighed_compare_words_where_they_stand(monkeypatch):
    # Past MAX_WORD_PAIRS the words between the common head and tail are paired where they stand: words alike there
    # are no change (each was reported as "…, which shows nothing" before).
    import slapolicy.policy.diff as diffing

    monkeypatch.setattr(diffing, "MAX_WORD_PAIRS", 4)  # below, no word in common at either end: 6 × 6 pairs
    old = "A one two thr\u00e9e four Z"
    new = "B one two thr\u00e9e f\u043eur Y"
    assert diffing.unseen_changes(old, new) == [
        "f⟨U+043E⟩ur (was four): U+043E CYRILLIC SMALL LETTER O in place of U+006F LATIN SMALL LETTER O, which look alike"]


def test_a_long_text_reworded_is_shown_by_the_words_that_changed(cli, tmp_path):
    # A clause of 250 words with one word changed was printed whole twice, "was" and "now", each one long line: the
    # reviewer was left to find the change. Past 200 words, each change is shown with six words either side.
    words = [f"w{i}" for i in range(1, 251)]
    changed = words[:119] + ["CHANGED"] + words[120:] + ["added"]
    old = draft_variant(tmp_path, CLAUSE_5_1, f'text: "{" ".join(words)}"', name="old.yaml")
    new = draft_variant(tmp_path, CLAUSE_5_1, f'text: "{" ".join(changed)}"', name="new.yaml")
    assert cli("diff", old, new).out.splitlines()[1:] == [
        "  §5.1 ~ clause 5.1 reworded (250 words → 251):",
        "      at word 120: … w114 w115 w116 w117 w118 w119 [-w120-] {+CHANGED+} w121 w122 w123 w124 w125 w126 …",
        "      at word 251: … w245 w246 w247 w248 w249 w250 {+added+}"]


def test_a_list_of_values_reads_as_its_values_not_as_python_prints_it(cli, tmp_path):
    # A fact's values added to, and a material's requires, were shown as "['none', 'illegal_number']" and as one line
    # per position ("requires.0: event_report").
    from conftest import POLICIES

    new = draft_variant(tmp_path, "values: [none, illegal_number]", "values: [none, illegal_number, blocked_number]")
    assert cli("diff", PUBLISHED, new).out.splitlines()[2:] == [
        "  §5.10 ~ fact request.failure_reason values: none, illegal_number → none, illegal_number, blocked_number"]
    assert ("<del>none, illegal_number</del> <ins>none, illegal_number, blocked_number</ins>"
            in cli("diff", PUBLISHED, new, "--format", "html").out)
    corrected = cli("diff", POLICIES / "superseded" / "2019-01-01.32cfebe23efd.yaml", PUBLISHED).out.splitlines()
    assert [line for line in corrected if "requires" in line] == [
        "  §3.3(1) + claims.required_materials.event_report.requires: event_report",
        "  §3.3(2) + claims.required_materials.failure_records.requires: unavailability, failure_records"]


def test_diff_given_the_later_version_first_says_its_changes_read_backwards(cli):
    """Before: `diff DRAFT PUBLISHED` printed the draft's raised standard as 99.95% → 99.5%, a lowering, and no word
    that the order was the wrong way round."""
    result = cli("diff", POLICIES / "drafts" / "2027-01-01-standard-99.95.yaml", PUBLISHED)
    assert result.code == 0
    assert result.out.splitlines()[:3] == [
        "ccc-sla 2027-01-01 → 2019-01-01",
        "  note: the later version is given first: 2027-01-01 takes effect on 2027-01-01, 2019-01-01 on 2019-01-01, so "
        "each change reads from the later text back to the earlier (what 2027-01-01 added shows as removed); give the "
        "earlier version first",
        "  ~ version: 2027-01-01 → 2019-01-01"]
    assert cli("diff", PUBLISHED, POLICIES / "drafts" / "2027-01-01-standard-99.95.yaml", "--json").json()["notes"] == []


def test_diff_of_versions_of_two_agreements_names_both(cli, tmp_path):
    """Before: the heading named the first agreement only (`ccc-sla 2019-01-01 → 2019-01-01`), as if the second
    amended it; the redline's title and heading too."""
    other = tmp_path / "voice.yaml"
    other.write_text(PUBLISHED.read_text().replace("id: ccc-sla", "id: voice-sla", 1))
    note = ("versions of two agreements, ccc-sla and voice-sla: neither amends the other, so what follows compares two "
            "texts, not an amendment and the version it changes")
    # the copy says status: published, and no lock records it: noted too, after (test_policy_tampering.py)
    nowhere = f"{other} says status: published, but no versions.lock records it (published-nowhere)"
    result = cli("diff", PUBLISHED, other)
    assert result.out.splitlines() == ["ccc-sla 2019-01-01 → voice-sla 2019-01-01", f"  note: {note}",
                                       f"  note: {nowhere}", "  ~ id: ccc-sla → voice-sla"]
    assert cli("diff", PUBLISHED, other, "--json").json()["notes"] == [note, nowhere]
    page = cli("diff", PUBLISHED, other, "--format", "html").out
    assert "<h1>Redline: ccc-sla 2019-01-01 → voice-sla 2019-01-01</h1>" in page
    assert f'<p class="note">{note}</p>' in page
