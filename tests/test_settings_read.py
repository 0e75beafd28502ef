"""Every setting the policy schema allows is read by the engine: a setting nothing reads would be a silent
no-op for legal, who edit YAML and expect the engine to follow."""
import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((REPO / "engine/slapolicy/policy/schema/policy.schema.json").read_text())
SECTIONS = ("timezone", "service_month", "availability", "exclusions", "compensation", "claims")
NOT_SETTINGS = {"ref", "text", "description", "reading", "value", "title"}  # words and marks, not choices


def _resolve(node):
    if "$ref" in node and len(node) == 1:
        name = node["$ref"].split("/")[-1]
        return SCHEMA["$defs"][name]
    return node


def settings():
    """(section, key path) of every choice a policy can make, nested ones included (rounding.places, ...)."""
    found = []

    def walk(node, path):
        node = _resolve(node)
        for key, child in node.get("properties", {}).items():
            if key in NOT_SETTINGS:
                continue
            found.append(path + (key,))
            child = _resolve(child)
            if child.get("type") == "array":
                walk(_resolve(child.get("items", {})), path + (key,))
            else:
                walk(child, path + (key,))

    for section in SECTIONS:
        walk(SCHEMA["properties"][section], (section,))
    return found


def engine_source() -> str:
    files = list((REPO / "engine/slapolicy").rglob("*.py")) + list((REPO / "plugins").rglob("*.py"))
    return "\n".join(f.read_text() for f in files)


SOURCE = engine_source()


@pytest.mark.parametrize("path", settings(), ids=".".join)
def test_every_setting_has_a_reader(path):
    key = path[-1]
    # A reader names the key as a string: policy.setting("exclusions", "window_rounding"), raw["claims"]["channel"].
    assert re.search(rf"[\"']{re.escape(key)}[\"']", SOURCE), f"nothing in the engine reads {'.'.join(path)}"


def test_the_list_of_settings_is_not_empty():
    names = {".".join(p) for p in settings()}
    assert {"exclusions.window_rounding", "claims.records_prevail", "availability.partial_minutes",
            "claims.required_materials.requires", "compensation.aggregate_cap.lookback_months"} <= names
