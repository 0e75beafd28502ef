"""Engine.refresh: a long-running process sees a published version at its next call, never half of one."""
import shutil

from conftest import DRAFT, POLICIES
from helpers import draft_variant

from slapolicy import Engine
from slapolicy.publish import publish
from slapolicy.replay import replay

EXAMPLES = POLICIES.parent.parent / "examples" / "ccc"


def family_copy(tmp_path):
    family = tmp_path / "ccc"
    family.mkdir()
    for name in ("2019-01-01.yaml", "versions.lock"):
        shutil.copy(POLICIES / name, family / name)
    return family


def amendment(family):
    path = draft_variant(family, 'effective_from: "2019-01-01"', 'effective_from: "2019-03-01"', "2019-03-01.yaml")
    text = (path.read_text().replace('version: "2019-01-01"', 'version: "2019-03-01"')
            .replace('value: "99.5%"', 'value: "99.95%"', 1))
    # The standard's and the gate's examples move with it: publish runs them.
    for before, after in (('{availability: "99.5%", meets: true}', '{availability: "99.95%", meets: true}'),
                          ('{availability: "99.49%", meets: false}', '{availability: "99.94%", meets: false}'),
                          ('{availability: "99.7%", credit: "0%"}', '{availability: "99.96%", credit: "0%"}')):
        text = text.replace(before, after)
    path.write_text(text)
    return path


def test_refresh_loads_a_published_version_once(tmp_path):
    family = family_copy(tmp_path)
    engine = Engine(family)
    assert engine.refresh() is False  # nothing changed
    published = publish(family, amendment(family))
    assert engine.refresh() is True
    assert engine.refresh() is False
    assert [v["sha256"] for v in engine.versions()][1] == published.sha256
    assert engine.in_force("2019-03")["version"] == "2019-03-01"


def test_a_directory_that_fails_to_load_keeps_the_snapshot_until_it_is_repaired(tmp_path):
    family = family_copy(tmp_path)
    engine = Engine(family)
    (family / "2019-06-01.yaml").write_text("id: [unclosed\n")
    assert engine.refresh() is False
    assert "2019-06-01.yaml" in engine.refresh_error
    assert [v["version"] for v in engine.versions()] == ["2019-01-01"]
    (family / "2019-06-01.yaml").unlink()
    assert engine.refresh() is False  # back to the state loaded: nothing to load, and no error any more
    assert engine.refresh_error is None


def test_replay_in_one_process_sees_a_version_published_between_two_calls(tmp_path):
    family = family_copy(tmp_path)
    args = dict(minutes=EXAMPLES / "minutes.csv", start="2019-03", end="2019-03", under=DRAFT,
                billing=EXAMPLES / "billing.csv")
    before = replay(family, **args)
    assert {r["baseline"]["version"] for r in before["rows"]} == {"2019-01-01"}
    publish(family, amendment(family))
    after = replay(family, **args)
    assert {r["baseline"]["version"] for r in after["rows"]} == {"2019-03-01"}
