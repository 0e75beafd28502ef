"""Engine.refresh: a long-running process sees a published version at its next call, never half of one."""
import shutil

import pytest

from conftest import DRAFT, POLICIES
from helpers import standard_amendment

from slapolicy import Engine
from slapolicy.policy.publish import publish
from slapolicy.replay import replay

EXAMPLES = POLICIES.parent.parent / "examples" / "ccc"


def family_copy(tmp_path):
    family = tmp_path / "ccc"
    family.mkdir()
    for name in ("2019-01-01.yaml", "versions.lock"):
        shutil.copy(POLICIES / name, family / name)
    return family



@pytest.mark.slow
def test_refresh_loads_a_published_version_once(tmp_path):
    family = family_copy(tmp_path)
    engine = Engine(family)
    assert engine.refresh() is False  # nothing changed
    published = publish(family, standard_amendment(family), retroactive=True)
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


@pytest.mark.slow
def test_replay_in_one_process_sees_a_version_published_between_two_calls(tmp_path):
    family = family_copy(tmp_path)
    args = dict(minutes=EXAMPLES / "minutes.csv", start="2019-03", end="2019-03", under=DRAFT,
                billing=EXAMPLES / "billing.csv")
    before = replay(family, **args)
    assert {r["baseline"]["version"] for r in before["rows"]} == {"2019-01-01"}
    publish(family, standard_amendment(family), retroactive=True)
    after = replay(family, **args)
    assert {r["baseline"]["version"] for r in after["rows"]} == {"2019-03-01"}
