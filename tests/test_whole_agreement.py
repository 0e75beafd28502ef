"""The whole agreement is in the policy: every numbered provision of the published text (policies/ccc/source/)
appears in the shipped version with its own words (whitespace-normalised), findable by its number."""
import re
from pathlib import Path

import pytest

from conftest import POLICIES, PUBLISHED
from helpers import yaml_data

SOURCE = POLICIES / "source" / "cloud-contact-center-sla.txt"
NUMBER = re.compile(r"^(\d+(?:\.\d+)*)\.?(?=\s|[A-Z“])\s*(.*)$")
INLINE = re.compile(r"(?<=\.)\s+(?=\d+\.\d+\s+[A-Z])")  # "... 4.3 Any dispute" runs on in the line of 4.2
ITEM = re.compile(r"(?:(?<=^)|(?<=\s))\((\d)\)\s")  # (1), (2), ... inside a provision


def words(text: str) -> str:
    return " ".join(text.split())


def provisions() -> list[dict]:
    """[{ref, title, text, table}] in the order of the text; items (1), (2) split into refs like §3.2(1)."""
    lines = []
    for line in SOURCE.read_text(encoding="utf-8").splitlines():
        if line.startswith("Was this page helpful?"):  # the web page's residue, no part of the agreement
            break
        lines.extend(INLINE.split(line))
    found = [{"ref": "Preamble", "first": None, "lines": []}]
    for line in lines:
        match = NUMBER.match(line.strip())
        if match and "|" not in line and not re.match(r"^\d+%", line):
            found.append({"ref": "§" + match.group(1), "first": match.group(2), "lines": []})
        else:
            found[-1]["lines"].append(line)
    out = []
    for p in found:
        body = [line for line in p["lines"] if line.strip() and "|" not in line]
        table = [[cell.strip() for cell in line.split("|") if cell.strip()] for line in p["lines"] if "|" in line]
        if p["first"] is None:
            title, text = None, words(" ".join(body))
        elif body:  # a heading line, then the words
            title, text = p["first"], words(" ".join(body))
        elif p["first"].endswith((".", ",", ";", ":")) or len(p["first"]) >= 60:
            title, text = None, words(p["first"])
        else:  # a heading alone (§1, §1.13)
            title, text = p["first"], ""
        parts = ITEM.split(text)
        out.append({"ref": p["ref"], "title": title, "text": parts[0].strip(), "table": [t for t in table if t]})
        for number, item in zip(parts[1::2], parts[2::2]):
            out.append({"ref": f"{p['ref']}({number})", "title": None, "text": f"({number}) {item.strip()}", "table": []})
    return out


DOCUMENT = yaml_data(PUBLISHED.read_text(encoding="utf-8"))


def nodes_stating(ref: str) -> list[dict]:
    found = []

    def walk(node):
        if isinstance(node, dict):
            if ref in [r.strip() for r in str(node.get("ref", "")).split(",")]:
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(DOCUMENT)
    return found


PROVISIONS = provisions()


def test_the_text_has_every_provision_the_agreement_numbers():
    refs = [p["ref"] for p in PROVISIONS]
    assert refs[:3] == ["Preamble", "§1", "§1.1"]
    assert {"§1.11.1", "§3.1(1)", "§3.1(2)", "§3.2(2)", "§3.3(3)", "§4.3", "§5.17", "§6.3", "§7.6", "§8.4"} <= set(refs)
    assert len(refs) == len(set(refs)) == 77  # 8 sections, 58 numbered clauses, 10 sub-items, the preamble


@pytest.mark.parametrize("provision", PROVISIONS, ids=[p["ref"] for p in PROVISIONS])
def test_every_provision_is_in_the_policy_with_its_words(provision):
    stating = nodes_stating(provision["ref"])
    assert stating, f"{provision['ref']} is not in {PUBLISHED.name}"
    if provision["text"]:
        assert any(words(str(node.get("text", ""))) == provision["text"] for node in stating), \
            f"{provision['ref']}: no text in the policy gives its words: {provision['text'][:80]}…"
    if provision["title"]:
        assert any(node.get("title") == provision["title"] for node in stating), provision["ref"]


def test_the_compensation_table_is_in_the_tiers():
    (section,) = [p for p in PROVISIONS if p["ref"] == "§3.1"]
    tiers = [words(t["text"]) for t in DOCUMENT["compensation"]["tiers"]]
    assert [f"{condition}: {credit}" for condition, credit in section["table"]] == tiers


def test_every_applied_by_names_a_setting_of_the_document():
    for entry in DOCUMENT["provisions"]:
        for path in entry.get("applied_by", ()):
            node = DOCUMENT
            for key in path.split("."):
                assert isinstance(node, dict) and key in node, f"{entry['ref']}: applied_by {path} is not in the document"
                node = node[key]


def test_the_gate_quotes_section_3_exactly():
    (section,) = [p for p in PROVISIONS if p["ref"] == "§3"]
    assert words(DOCUMENT["compensation"]["gate"]["text"]) == section["text"]
    assert DOCUMENT["timezone"]["reading"] is True


@pytest.mark.parametrize("number,path,words_start", [
    ("5.7", "disclaimers.6", "Unavailability due to large business concurrent demand"),
    ("3.2(2)", "claims.window_closes", None),
    ("1.11.1", "timezone", None),
    ("7.5", "parameters.data_retention_days", None),
    ("4.3", "provisions.", "Any dispute arising from the third-party software"),
    # The gate, which cites §2.2 and §3, keeps §3's words: §2.2's own came after them
    ("2.2", "provisions.", "The Service Availability of the Services provided by Tencent Cloud shall not be less"),
])
def test_show_prints_any_provision(cli, number, path, words_start):
    result = cli("show", POLICIES, "--month", "2019-03", "--provision", number, "--json")
    assert result.code == 0, result.err
    found = result.json()["found"]
    assert any(f["path"].startswith(path) for f in found), [f["path"] for f in found]
    if words_start:  # the words come first, before the settings that cite them
        assert words(str(found[0]["node"].get("text", ""))).startswith(words_start), [f["path"] for f in found]
    text = cli("show", POLICIES, "--month", "2019-03", "--provision", number)
    assert text.code == 0 and text.out.startswith(f"Cloud Contact Center Service Level Agreement — version 2019-01-01: {number}")


def test_show_prints_a_provision_s_heading_before_its_sub_provisions_and_the_settings(cli):
    # `show --provision 3.1` printed §3.1(1) and §3.1(2), then 110 lines of compensation settings, and only then
    # §3.1's own heading ("Compensation Standard"), at the bottom: a heading without words of its own sorted after
    # every setting that had some. The provision's parts come first, in the agreement's order, then the settings.
    result = cli("show", POLICIES, "--month", "2019-03", "--provision", "3.1", "--json")
    assert result.code == 0, result.err
    found = result.json()["found"]
    refs = [f["node"]["ref"] for f in found if f["path"].startswith("provisions.")]
    assert refs == ["§3.1", "§3.1(1)", "§3.1(2)"]
    assert [f["node"]["ref"] for f in found[:3]] == refs
    assert found[0]["node"]["title"] == "Compensation Standard"
    assert [f["path"] for f in found[3:]] == ["compensation"]
    text = cli("show", POLICIES, "--month", "2019-03", "--provision", "3.1")
    lines = text.out.splitlines()
    assert lines[:5] == ["Cloud Contact Center Service Level Agreement — version 2019-01-01: 3.1", "",
                         "provision §3.1 (Compensation Standard):", "  ref: §3.1", "  title: Compensation Standard"]
    # A provision with words of its own keeps them first (§2.2 before the gate, which cites it with §3).
    two = cli("show", POLICIES, "--month", "2019-03", "--provision", "2.2", "--json").json()["found"]
    assert [f["node"]["ref"] for f in two[:2]] == ["§2.2", "§2.2, §3"]


@pytest.mark.parametrize("number,headings", [
    ("5.7", ["clause 5.7 (Concurrency without prior notice)", "exclusions.notice_lead_minutes",
             "exclusions.concurrency_fallback", "parameters.concurrency_threshold_qps", "fact notice.kind",
             "fact minute.concurrency_qps", "fact minute.customer_prior_notice"]),
    ("3.2(2)", ["provision §3.2(2)", "claims.window_closes"]),
    ("5.1", ["clause 5.1 (Customer's own network, system, software or equipment)",
             "cause customer_network (The customer's own network, system, software or equipment)"]),
    ("3.3(2)", ["provision §3.3(2)", "required material failure_records"]),
    ("Preamble", ["provision Preamble", "source"]),
])
def test_show_names_each_part_by_its_number_or_id_not_its_position(cli, number, headings):
    # Each part was headed by its place in the document's lists, `disclaimers.6:` for §5.7, `provisions.33:` for
    # §3.2(2), `facts.3:`, `causes.1:`: a reader had to count list items to know which. Now by the name the agreement
    # and `diff` give it; --json keeps `path` and adds the same `heading`.
    text = cli("show", POLICIES, "--month", "2019-03", "--provision", number)
    assert text.code == 0, text.err
    assert [line[:-1] for line in text.out.splitlines() if line and not line.startswith(" ")][1:] == headings
    found = cli("show", POLICIES, "--month", "2019-03", "--provision", number, "--json").json()["found"]
    assert [f["heading"] for f in found] == headings


def test_show_names_a_tier_by_its_place_and_range():
    from slapolicy.policy.directory import load_policy
    from slapolicy.policy.terms import heading

    policy = load_policy(PUBLISHED)
    assert heading(policy, ("compensation", "tiers", 0)) == "compensation tier 1 (≥ 99% and < 99.95%)"
    assert heading(policy, ("compensation", "tiers", 2)) == "compensation tier 3 (< 95%)"
    assert heading(policy, ("compensation", "gate")) == "compensation.gate"


@pytest.mark.parametrize("typed,number", [("preamble", "Preamble"), ("PREAMBLE", "Preamble"), ("§ 5.7", "5.7"),
                                          ("§5.7", "5.7")])
def test_show_finds_a_provision_as_a_reader_types_it(cli, typed, number):
    # `--provision preamble` and `--provision "§ 5.7"` were 'provision ... is not in version 2019-01-01'.
    found = cli("show", POLICIES, "--month", "2019-03", "--provision", typed, "--json")
    assert found.code == 0, found.err
    expected = cli("show", POLICIES, "--month", "2019-03", "--provision", number, "--json").json()["found"]
    assert found.json()["found"] == expected


def test_show_refuses_a_provision_the_agreement_does_not_have(cli):
    result = cli("show", POLICIES, "--month", "2019-03", "--provision", "9.9")
    assert result.code == 1 and result.out == ""
    assert "provision '9.9' is not in version 2019-01-01" in result.err
