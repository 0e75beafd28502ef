"""docs/readings.md says what the shipped policy reads: every setting marked `reading: true` has its row, the rows
of settings the published file leaves unmarked are named as such, and each row's alternatives are exactly the
values the schema allows besides the shipped one."""
import json
import re

from conftest import PUBLISHED, REPO
from helpers import yaml_data

READINGS = (REPO / "docs" / "readings.md").read_text()
SCHEMA = json.loads((REPO / "engine" / "slapolicy" / "policy" / "schema" / "policy.schema.json").read_text())
SHIPPED = yaml_data(PUBLISHED.read_text())

# Readings of version 2019-01-01 that its file does not mark `reading: true` (a published version never changes):
# the doc must say so of each, or its first lines ("each is marked") are wrong for them.
UNMARKED = {"availability.partial_minutes", "claims.window_closes", "compensation.aggregate_cap",
            "disclaimers.5.15.when", "disclaimers.5.16.when", "disclaimers.5.17.when"}


BLOCKS = READINGS.split("\n\n")
TABLE = next(i for i, block in enumerate(BLOCKS) if block.startswith("| Clause |"))


def _rows() -> list[list[str]]:
    table = BLOCKS[TABLE]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in table.splitlines()[2:]]


def _setting(cell: str) -> str:
    """The dotted setting a row names: `timezone.value` is the timezone; 'the `when` of §5.15' is that clause's."""
    when = re.findall(r"`when` of §(5\.\d+)", cell) or re.findall(r"part of §(5\.\d+)'s `when`", cell)
    if when:
        return f"disclaimers.{when[0]}.when"
    return re.search(r"`([a-z_]+\.[a-z_.]+)`", cell).group(1).removesuffix(".value")


def _marked(node, path=()) -> set[str]:
    found = set()
    if isinstance(node, dict):
        if node.get("reading") is True:
            found.add(".".join(path))
        for key, value in node.items():
            found |= _marked(value, path + (str(key),))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found |= _marked(value, path + (str(value.get("id", i)) if isinstance(value, dict) else str(i),))
    return found


def test_every_marked_reading_has_its_row_and_every_unmarked_row_is_said_to_be():
    listed = {_setting(row[3]) for row in _rows()}
    # The §5.7 causation is the third condition of its `all:`; the row names the clause's `when`.
    marked = {re.sub(r"^(disclaimers\.5\.7\.when)\..*", r"\1", path) for path in _marked(SHIPPED)}
    assert marked == {"timezone", "availability.no_traffic", "availability.illegal_number_failures",
                      "availability.display_rounding", "exclusions.window_rounding", "exclusions.attribution",
                      "exclusions.notice_lead_minutes", "exclusions.concurrency_fallback", "compensation.gate",
                      "compensation.rounding", "claims.business_calendar", "disclaimers.5.7.when"}
    assert marked <= listed
    assert listed - marked == UNMARKED
    note = " ".join(BLOCKS[TABLE + 1].split())
    assert note.startswith("Version 2019-01-01 does not mark these readings `reading: true`")
    for setting in UNMARKED - {"disclaimers.5.15.when", "disclaimers.5.16.when", "disclaimers.5.17.when"}:
        assert f"`{setting}`" in note, setting
    assert "the `when` of §5.15, §5.16 and §5.17" in note


def test_each_rows_alternatives_are_the_values_the_schema_allows_besides_the_shipped_one():
    # `compensation.rounding` listed none, though the schema allows half_even and down as it does for the display.
    checked = 0
    for row in _rows():
        setting = _setting(row[3])
        section, _, key = setting.partition(".")
        value = SCHEMA["properties"].get(section, {}).get("properties", {}).get(key, {}) \
            .get("properties", {}).get("value", {})
        if "enum" not in value:
            continue
        after = row[3].split(f"`{setting}`", 1)[1]
        given = re.findall(r"`([a-z_]+)`", after.split(")")[0]) if after.lstrip().startswith("(") else []
        assert sorted(given) == sorted(set(value["enum"]) - {SHIPPED[section][key]["value"]}), setting
        checked += 1
    assert checked == 10
