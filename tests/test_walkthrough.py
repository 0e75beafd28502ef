"""docs/policy-format.md, "Walk-through: an amendment": every command of the walk-through runs on a copy
of policies/ccc with the drafts of docs/walkthrough/ in its drafts/, and prints what the page shows."""
import re
import shlex
import shutil

import pytest

from conftest import POLICIES, REPO, run_cli

DOC = REPO / "docs" / "policy-format.md"
DRAFTS = sorted((REPO / "docs" / "walkthrough").glob("*.yaml"))


def section() -> str:
    text = DOC.read_text(encoding="utf-8")
    start = text.index("### Walk-through: an amendment, from draft to publish")
    return text[start: text.index("\n### ", start + 10)]


@pytest.fixture
def copy(tmp_path, monkeypatch):
    family = tmp_path / "policies" / "ccc"
    shutil.copytree(POLICIES, family)
    for draft in DRAFTS:
        shutil.copy(draft, family / "drafts" / draft.name)
    monkeypatch.chdir(tmp_path)
    return family


@pytest.mark.slow
def test_the_walk_through_runs_from_draft_to_publish(copy):
    sessions = re.findall(r"```session\n(.*?)```", section(), flags=re.S)
    assert len(sessions) == 2
    commands = 0
    for block in sessions:
        for session in re.split(r"^\$ ", block, flags=re.M)[1:]:
            command, *expected = session.rstrip("\n").split("\n")
            argv = shlex.split(command)
            assert argv[0] == "slapolicy"
            result = run_cli(*argv[1:])
            assert result.code == 0, (command, result.out, result.err)
            printed = result.out.splitlines()
            for line in expected:
                assert line in printed, f"`{command}` did not print:\n{line}\n---\n{result.out}"
            if argv[1] == "diff":  # every change in the terms is shown: the drafts make no change the page hides
                changes = [line for line in printed if re.match(r"  (§|\+ |- )", line)]
                assert changes == expected, f"`{command}` printed changes the page does not show:\n{result.out}"
            commands += 1
    assert commands == 9
    assert sorted(p.name for p in copy.glob("*.yaml")) == ["2019-01-01.yaml", "2020-01-01.yaml", "2021-01-01.yaml"]
    assert run_cli("validate", copy).code == 0
    # The version in force moves with the months (§6.2).
    assert run_cli("show", copy, "--month", "2019-12", "--json").json()["policy"]["version"] == "2019-01-01"
    assert run_cli("show", copy, "--month", "2021-06", "--json").json()["policy"]["version"] == "2021-01-01"


def test_the_yaml_the_walk_through_shows_is_in_the_drafts():
    drafts = "\n".join(d.read_text(encoding="utf-8") for d in DRAFTS).splitlines()
    blocks = re.findall(r"```yaml\n(.*?)```", section(), flags=re.S)
    assert len(blocks) == 5
    for block in blocks:
        for line in block.splitlines():
            assert line in drafts, line


@pytest.mark.slow
def test_without_updated_examples_the_amendment_is_not_published(copy):
    draft = copy / "drafts" / "2020-01-01-standard-99.9.yaml"
    draft.write_text(draft.read_text(encoding="utf-8").replace('{availability: "99.9%", meets: true}',
                                                               '{availability: "99.5%", meets: true}'), encoding="utf-8")
    result = run_cli("publish", "--retroactive", copy, draft)
    assert result.code == 1
    assert "FAIL §2.2 standard example 1: expected meets: true, got false (availability=99.5%)" in result.out
    assert not (copy / "2020-01-01.yaml").exists()
