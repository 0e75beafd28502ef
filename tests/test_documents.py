"""Documents for people: the rendered policy (`render`), the redline (`diff --format html`), the replay
report; each opened in headless Chromium, its text and screenshot checked (docs/policy-format.md)."""
import pytest

from conftest import DRAFT, POLICIES, PUBLISHED, REPO
from helpers import chromium, draft_variant, not_blank, open_in_chromium, yaml_data

EXAMPLES = REPO / "examples" / "ccc"
INPUTS = {"minutes": EXAMPLES / "minutes.csv", "incidents": EXAMPLES / "incidents.yaml",
          "notices": EXAMPLES / "notices.yaml", "billing": EXAMPLES / "billing.csv"}
needs_chromium = pytest.mark.skipif(not chromium(), reason="headless Chromium is not installed (.ci/run installs it)")


def test_render_text_is_the_agreement_provision_by_provision_with_settings_readings_and_examples(cli):
    result = cli("render", PUBLISHED)
    assert result.code == 0
    lines = result.out.splitlines()
    contents = lines[lines.index("Contents") + 1: lines.index("Contents") + 5]
    assert [line.split()[0] for line in contents] == ["Preamble", "§1", "§1.1", "§1.2"]
    assert "    §5.12        Notified system maintenance" in lines  # the §5 clauses under §5 in the contents
    heading = lines.index("§2.2  Service Indicator Standard")
    section = lines[heading: lines.index("§3  COMPENSATION PLAN")]
    assert section[2].startswith("  │ ")  # the agreement's own words first
    assert "  • standard: 99.5%, met when at least" in section
    assert "      example: availability 99.5% → meets the standard" in section
    assert "  • gate: below standard (§2.2, §3) [reading]" in section
    assert "  • tier ≥ 95% and < 99%: 25% of the Monthly Service Fee (§3.1)" in lines
    assert "  • applies when: incident.cause = customer_network" in lines
    assert "  example: incident.cause = customer_network → applies" in lines
    assert "  example: incident.cause = provider → does not apply" in lines


def test_every_reading_is_marked_as_a_reading(cli):
    out = cli("render", PUBLISHED).out
    marked = {line.split(":")[0].strip("• ").strip() for line in out.splitlines() if line.endswith("[reading]")}
    raw = yaml_data(PUBLISHED.read_text())
    readings = {key.replace("_", " ") for section in raw.values() if isinstance(section, dict)
                for key, node in section.items() if isinstance(node, dict) and node.get("reading")}
    readings |= {"timezone"} if raw["timezone"].get("reading") else set()
    assert readings and readings <= marked
    assert "reading of the condition" in marked  # §5.7's causation, a reading inside a condition


def test_render_html_is_one_self_contained_page(cli):
    page = cli("render", PUBLISHED, "--format", "html").out
    assert page.startswith("<!DOCTYPE html>")
    for external in ("http://", "https://", "src=", "<link", "@import", "<script"):
        assert external not in page
    assert '<a href="#clause-5.12"><span class="ref">§5.12</span>Notified system maintenance</a>' in page
    assert '<section id="p-3-2-2"><h2><span class="ref">§3.2(2)</span></h2>' in page


def test_a_draft_renders_with_what_it_amends(cli):
    out = cli("render", DRAFT).out
    assert out.splitlines()[1] == "Version 2027-01-01 (draft), effective 2027-01-01, amends 2019-01-01"


@pytest.mark.slow
@needs_chromium
def test_the_rendered_policy_opens_in_chromium(cli, tmp_path):
    page = tmp_path / "policy.html"
    page.write_text(cli("render", PUBLISHED, "--format", "html").out)
    text, image = open_in_chromium(page, tmp_path)
    assert not_blank(image)
    for expected in ("Cloud Contact Center Service Level Agreement", "Contents", "§5.12 Notified system maintenance",
                     "§2.2 Service Indicator Standard", "standard : 99.5%, met when at least", "Causes an incident may name"):
        assert expected in text, expected


@pytest.mark.slow
@needs_chromium
def test_the_redline_opens_in_chromium(cli, tmp_path):
    new = draft_variant(tmp_path, 'value: "99.5%"\n    met_when', 'value: "99.9%"\n    met_when')
    page = tmp_path / "redline.html"
    page.write_text(cli("diff", PUBLISHED, new, "--format", "html").out)
    text, image = open_in_chromium(page, tmp_path, "1000,600")
    assert not_blank(image, most=0.99)  # a short page: a few lines of text on white
    assert "Redline: ccc-sla 2019-01-01 → 2019-01-01" in text and "§2.2" in text
    assert "99.5% 99.9%" in text  # struck, then inserted
    # The struck value is drawn in red on pink: some pixels are the <del> colours.
    assert any(colour == (0xFD, 0xE2, 0xE1) for _, colour in image.getcolors(maxcolors=1 << 20))


@pytest.mark.slow
@needs_chromium
def test_the_replay_report_opens_in_chromium(cli, tmp_path):
    result = cli("replay", POLICIES, "--from", "2019-03", "--to", "2019-03", "--under", DRAFT, "--format", "html",
                 *[x for k, v in INPUTS.items() for x in (f"--{k}", v)])
    page = tmp_path / "replay.html"
    page.write_text(result.out)
    text, image = open_in_chromium(page, tmp_path)
    assert not_blank(image)
    for expected in ("What would have been owed under 2027-01-01?", "Compensation per month", "580.00", "830.00",
                     "acme", "globex", "initech"):
        assert expected in text, expected


def test_a_version_without_the_agreements_provisions_renders_one_provision_per_section(cli):
    # The superseded encoding of 2019-01-01 has no provisions: (the walk-through's drafts, copied from the version
    # published since, have them)
    out = cli("render", REPO / "policies" / "ccc" / "superseded" / "2019-01-01.32cfebe23efd.yaml").out.splitlines()
    contents = out[out.index("Contents") + 1: out.index("Contents") + 4]
    assert [line.split()[0] for line in contents] == ["§1.2", "§1.4,", "§1.7,"]
    assert "  • standard: 99.5%, met when at least (§2.2)" in out
