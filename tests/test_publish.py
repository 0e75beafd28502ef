"""Publishing a draft, and `lock` refusing what `validate` rejects (docs/policy-format.md, "Publishing").

Each family is a copy of the shipped one in a temporary directory: 2019-01-01.yaml and its
versions.lock. "Nothing written" is checked byte for byte on the whole directory."""
import datetime as dt
import json
import shutil
import subprocess
import sys
import threading

import pytest

from conftest import POLICIES, PUBLISHED
from helpers import locked_line, sha256_of, yaml_data


@pytest.fixture
def family(tmp_path):
    path = tmp_path / "ccc"
    path.mkdir()
    shutil.copy(PUBLISHED, path / "2019-01-01.yaml")
    shutil.copy(POLICIES / "versions.lock", path / "versions.lock")
    shutil.copytree(POLICIES / "superseded", path / "superseded")  # the lock records the superseded encoding too
    (path / "drafts").mkdir()
    return path


def snapshot(directory):
    """Every file under ``directory`` with its bytes: equal snapshots mean nothing was written."""
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


# The shipped version's description, which says what it is: an amendment says what it changes (description-unchanged)
COPIED_DESCRIPTION = "The whole seed text of the Cloud Contact Center SLA as the first published version."


def amendment(family, name="2020-01-01-standard-99.9.yaml", effective="2020-01-01", version=None, amends="2019-01-01",
              edits=(), described=True):
    """The shipped text as a draft effective ``effective``, labelled ``version`` (default: the date), with edits;
    its description says it is an amendment, unless not ``described`` (copied unchanged)."""
    text = PUBLISHED.read_text()
    describe = ((COPIED_DESCRIPTION, f"An amendment effective {effective}, written by the tests."),) if described else ()
    for old, new in (("status: published", "status: draft"),
                     ('version: "2019-01-01"', f'version: "{version or effective}"'),
                     ('effective_from: "2019-01-01"', f'effective_from: "{effective}"'
                      + (f'\namends: "{amends}"' if amends else ""))) + describe + tuple(edits):
        assert old in text, old
        text = text.replace(old, new, 1)
    path = family / "drafts" / name
    path.write_text(text)
    return path


STANDARD_99_9 = ('value: "99.5%"\n    met_when: at_least', 'value: "99.9%"\n    met_when: at_least')
# A new standard needs its examples updated too (they are the tests `publish` runs).
EXAMPLES_99_9 = [('{availability: "99.5%", meets: true}', '{availability: "99.9%", meets: true}'),
                 ('{availability: "99.49%", meets: false}', '{availability: "99.89%", meets: false}'),
                 ('{availability: "99.7%", credit: "0%"}', '{availability: "99.92%", credit: "0%"}')]


# ---------------------------------------------------------------------------- publish

@pytest.mark.slow
def test_publish_refuses_a_new_standard_whose_examples_were_not_updated(cli, family):
    draft = amendment(family, edits=[STANDARD_99_9])
    result = cli("publish", "--retroactive", family, draft)
    assert result.code == 1
    assert [line.split(": ", 1)[1] for line in result.out.splitlines()] == [
        "error example-failed FAIL §2.2 standard example 1: expected meets: true, got false (availability=99.5%)",
        "error example-failed FAIL §2.2, §3 gate example 1: expected credit: 0%, got 10% (availability=99.7%)"]


@pytest.mark.slow
def test_publish_writes_the_version_as_published_and_locks_it(cli, family):
    draft = amendment(family, edits=[STANDARD_99_9, *EXAMPLES_99_9])
    result = cli("publish", "--retroactive", family, draft)
    assert result.code == 0, result.out + result.err
    written = family / "2020-01-01.yaml"
    expected = draft.read_text().replace("status: draft", "status: published")
    assert written.read_text() == expected  # comments and layout kept; only the status changed
    # The draft is left as it was, as publish --help and docs/policy-format.md say: a new user wondered whether to
    # delete it, and whether publish had.
    assert "status: draft" in draft.read_text()
    assert "The draft itself is left as it was" in cli("publish", "--help").out
    import hashlib

    digest = hashlib.sha256(written.read_bytes()).hexdigest()
    assert json.loads((family / "versions.lock").read_text())["2020-01-01.yaml"] == digest
    assert result.out.splitlines()[-2] == (
        f"published {draft} as {written} (version 2020-01-01, sha256 {digest[:16]}…), recorded in versions.lock")
    assert result.out.splitlines()[-1].startswith("retroactive: version 2020-01-01 now governs the Service Months "
                                                  "beginning 2020-01-01 to ")  # to yesterday: the test below
    assert cli("validate", family).code == 0
    shown = cli("show", family, "--month", "2020-01", "--json").json()
    assert (shown["policy"]["version"], shown["standard"]["value"]) == ("2020-01-01", "99.9%")
    # December 2019 is still governed by the first version (§6.2).
    assert cli("show", family, "--month", "2019-12", "--json").json()["policy"]["version"] == "2019-01-01"


@pytest.mark.slow
def test_publish_is_a_plain_function_returning_what_it_wrote(family):
    from slapolicy.policy.publish import publish

    draft = amendment(family, effective="2020-02-01")
    published = publish(family, draft, retroactive=True)
    assert published.path == family / "2020-02-01.yaml"
    assert (published.version, published.effective_from) == ("2020-02-01", "2020-02-01")
    # The shipped §3.1 contradiction, and a draft that copies 2019-01-01 and changes nothing but its header.
    assert [w.code for w in published.warnings] == ["no-change", "tier-unreachable"]


def no_change_line(draft, effective="2020-01-01", line=16) -> str:
    return (f"{draft}:{line}:17: warning no-change this draft changes nothing of version 2019-01-01, which it amends, "
            "but its header (version, effective_from, amends, status, description): published, it decides every "
            f"Service Month from {effective} as version 2019-01-01 does. If it was meant to change something, make "
            f"the change in this draft (`slapolicy diff {draft.parent.parent / '2019-01-01.yaml'} {draft}` shows what "
            "it changes)")


@pytest.mark.slow
def test_publish_warns_of_a_draft_that_changes_nothing_of_the_version_it_amends(cli, family):
    """Before: a copy of 2019-01-01 with only its header changed (the change made in another copy, or not saved)
    was published without a word, a second version deciding every month as the first."""
    draft = amendment(family, edits=[("description: >-\n", "description: >-\n  Raises nothing, after all.\n")])
    result = cli("publish", "--retroactive", family, draft)
    assert result.code == 0, result.out
    assert result.out.splitlines()[0] == no_change_line(draft)
    assert (family / "2020-01-01.yaml").is_file()  # a warning: publishing the same terms again may be meant


@pytest.mark.slow
@pytest.mark.parametrize("edits", [
    [STANDARD_99_9, *EXAMPLES_99_9],  # a setting
    [("title: Cloud Contact Center Service Level Agreement", "title: Cloud Contact Center SLA")],  # the title
    [("make harassing phone calls", "make friendly phone calls")],  # a provision's words
])
def test_publish_says_nothing_of_a_draft_that_changes_a_term(cli, family, edits):
    draft = amendment(family, edits=edits)
    result = cli("publish", "--retroactive", family, draft)
    assert result.code == 0, result.out
    assert " no-change " not in result.out


@pytest.mark.slow
def test_a_draft_whose_examples_alone_changed_changes_nothing(cli, family):
    """Examples test the terms (`slapolicy test`), they are none: the draft decides every month as 2019-01-01."""
    draft = amendment(family, edits=[('{availability: "99.7%", credit: "0%"}', '{availability: "99.8%", credit: "0%"}')])
    result = cli("publish", "--retroactive", family, draft)
    assert result.code == 0, result.out
    assert no_change_line(draft) in result.out.splitlines()


# ---------------------------------------------------------------------------- a draft, checked before publishing

@pytest.mark.slow
def test_validate_warns_of_a_draft_label_publish_would_refuse(cli, family):
    """Before: `validate DRAFT` passed it without a word, and only `publish` refused it (version-label)."""
    draft = amendment(family, version="2020-01-01-draft")
    result = cli("validate", draft)
    assert result.code == 0
    assert result.out.splitlines()[0] == (
        f"{draft}:14:10: warning version-label version is '2020-01-01-draft', not its effective_from 2020-01-01: "
        "`slapolicy publish` refuses it, since a published version is labelled by its effective_from; write "
        'version: "2020-01-01" before publishing')
    assert result.err == "1 file(s) checked: 0 error(s), 2 warning(s)\n"  # and the shipped §3.1 contradiction
    assert " version-label " not in cli("validate", amendment(family)).out  # labelled by its date: nothing to say


def test_check_draft_says_the_label_once_as_the_error_publish_refuses(family):
    from slapolicy.policy.publish import check_draft

    content, found = check_draft(family, amendment(family, version="2020-01-01-draft"), retroactive=True)
    assert content is None
    assert [(d.severity, d.code) for d in found if d.code == "version-label"] == [("error", "version-label")]


def test_validate_refuses_a_draft_that_says_it_is_published(cli, family):
    """Before: a file under drafts/ saying `status: published` passed validate, and render, show and a redline
    printed it as "(published)"."""
    draft = amendment(family, edits=[("status: draft", "status: published")])
    result = cli("validate", draft)
    assert result.code == 1
    assert result.out.splitlines()[0] == (
        f"{draft}:15:9: error draft-status status is published, but a file under drafts/ is a draft: a version is "
        "published only by `slapolicy publish`, which writes it among the published versions with status: "
        "published; write status: draft (a published version moved here goes back among the published versions: "
        "validate names it)")
    assert " draft-status " in cli("validate", family).out  # validating the family reads its drafts too
    desk = family.parent / "desk"
    desk.mkdir()
    kept = desk / "2020-01-01.yaml"  # a copy of a published version kept elsewhere is no draft
    kept.write_text(draft.read_text())
    assert " draft-status " not in cli("validate", kept).out
    # Named otherwise, it may be either: it was told only to be renamed by its date.
    named = desk / "my-amendment.yaml"
    named.write_text(draft.read_text())
    assert cli("validate", named).out.splitlines()[0] == (
        f"{named}:16:17: error file-name file is named my-amendment.yaml but effective_from is 2020-01-01: a published "
        "version is named 2020-01-01.yaml; if it is a draft, write status: draft (only `slapolicy publish` makes a "
        "version published)")


@pytest.mark.slow
def test_a_draft_that_says_it_is_published_is_published_all_the_same(cli, family):
    """Where a file sits is validate's to say (as draft-published): publish sets the status itself."""
    draft = amendment(family, edits=[("status: draft", "status: published"), STANDARD_99_9, *EXAMPLES_99_9])
    result = cli("publish", "--retroactive", family, draft)
    assert result.code == 0, result.out
    assert "status: published\n" in (family / "2020-01-01.yaml").read_text()


@pytest.mark.slow
def test_publish_lists_every_reason_and_writes_nothing(cli, family):
    # Labelled like the version it copies, dated before it, and an example that gives another answer.
    draft = amendment(family, effective="2018-06-01", version="2019-01-01", amends="2017-01-01", edits=[(
        "- {facts: {incident.cause: customer_network}, applies: true}",
        "- {facts: {incident.cause: customer_network}, applies: false}")])
    before = snapshot(family)
    result = cli("publish", family, draft)  # no retroactive: dated before a published version, it is refused as that
    assert result.code == 1
    codes = [line.split(" ")[2] for line in result.out.splitlines()]
    assert sorted(codes) == ["amends-not-latest", "example-failed", "not-after-published", "version-label"]
    assert "version is '2019-01-01'; a published version is labelled by its effective_from: " \
           'write version: "2018-06-01"' in result.out
    assert "effective_from 2018-06-01 is not after published version 2019-01-01 (effective 2019-01-01)" in result.out
    assert result.err == "not published: 4 problem(s); nothing was written\n"
    assert snapshot(family) == before


@pytest.mark.slow
def test_publish_refuses_a_draft_the_schema_rejects_with_its_line(cli, family):
    draft = amendment(family, edits=[("effective_from: \"2020-01-01\"", "efective_from: \"2020-01-01\"")])
    before = snapshot(family)
    result = cli("publish", "--retroactive", family, draft)
    assert result.code == 1
    assert f"{draft}:16:1: error schema unknown key 'efective_from'" in result.out
    assert snapshot(family) == before


def test_publish_warns_for_a_date_that_is_not_the_first_of_a_month(cli, family):
    draft = amendment(family, effective="2020-01-15")
    result = cli("publish", "--retroactive", family, draft)
    assert result.code == 0, result.out
    assert "warning mid-month effective_from 2020-01-15 is not the first of a month" in result.out
    assert (family / "2020-01-15.yaml").exists()


@pytest.mark.slow
def test_publish_twice_is_refused_the_second_time(cli, family):
    draft = amendment(family)
    assert cli("publish", "--retroactive", family, draft).code == 0
    before = snapshot(family)
    result = cli("publish", "--retroactive", family, draft)
    assert result.code == 1
    assert f"error already-published this draft is published already, as {family / '2020-01-01.yaml'} " in result.out
    assert snapshot(family) == before


@pytest.mark.slow
def test_publish_from_many_threads_publishes_once_and_keeps_the_lock_whole(family):
    from slapolicy.errors import PolicyError
    from slapolicy.policy.publish import publish

    draft = amendment(family)
    outcomes = []

    def attempt():
        try:
            outcomes.append(publish(family, draft, retroactive=True).version)
        except PolicyError as exc:
            outcomes.append(sorted({d.code for d in exc.diagnostics}))

    threads = [threading.Thread(target=attempt) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("2020-01-01") == 1
    # The losers see the winner's version: the same draft, published already.
    assert sorted(map(str, outcomes)) == ["2020-01-01"] + ["['already-published']"] * 5
    recorded_before = sorted(json.loads((POLICIES / "versions.lock").read_text()))
    assert sorted(json.loads((family / "versions.lock").read_text())) == sorted(recorded_before + ["2020-01-01.yaml"])



def refuse_flock(monkeypatch, refused: list) -> None:
    """The family's filesystem refuses flock, as some network and FUSE filesystems do (ENOLCK); each refusal noted."""
    import errno
    import os

    from slapolicy.policy import lock

    def flock(fd, operation):
        refused.append(operation)
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(lock.fcntl, "flock", flock)


def test_publish_and_lock_on_a_filesystem_refusing_locks_write_nothing_and_say_why(cli, family, monkeypatch):
    import fcntl

    # Before: "internal error, please report it: OSError: [Errno 37] No locks available", exit 3.
    draft = amendment(family)
    copied_in(family, "2020-06-01", '\namends: "2019-01-01"')
    refused = []
    refuse_flock(monkeypatch, refused)
    before = snapshot(family)
    message = (f"{family}:1:1: error cannot-lock cannot lock the family {family} against another publisher writing it "
               "at the same time: its filesystem refuses the lock (flock: No locks available); nothing was written. "
               "Work on a copy of the family on a local disk, shared through version control\n")
    result = cli("publish", "--retroactive", family, draft)
    assert (result.code, result.out, result.err) == (1, message, "not published: 1 problem(s); nothing was written\n")
    result = cli("lock", "--retroactive", family)
    assert (result.code, result.out, result.err) == (1, "", message)
    assert snapshot(family) == before
    assert refused == [fcntl.LOCK_EX, fcntl.LOCK_EX]


def test_a_reader_goes_on_where_the_filesystem_refuses_locks(family, monkeypatch):
    import fcntl

    # A service reloading the family takes a shared lock so as never to read half a publication; where the filesystem
    # refuses it, it reads without (half a publication reads as a version not yet recorded, an error a reload
    # survives), rather than never starting.
    from slapolicy import Engine

    refused = []
    refuse_flock(monkeypatch, refused)
    family_read = Engine(family).reload()
    assert [p.version for p in family_read.versions] == ["2019-01-01"]
    assert refused and set(refused) == {fcntl.LOCK_SH}  # asked for, refused, and read all the same


@pytest.mark.slow
@pytest.mark.parametrize("command", ["publish", "lock"])
def test_publish_and_lock_refuse_to_write_over_a_family_another_machine_wrote_meanwhile(cli, family, monkeypatch,
                                                                                         command):
    # Over NFS the lock excludes the publishers of one machine only. Another machine's publisher wrote 2020-06-01 and
    # its lock entry while this one checked its draft (its examples take a second): the draft, amending 2019-01-01,
    # would have been published after 2020-06-01 undoing it, and the rewritten lock would have lost 2020-06-01's
    # entry. Each now re-reads the family before it writes.
    import hashlib

    from slapolicy.policy import publish
    from slapolicy.policy.lock import write_lock

    draft = amendment(family, effective="2021-01-01")
    if command == "lock":
        copied_in(family, "2021-01-01")  # copied in by hand, to record
    other = PUBLISHED.read_text().replace('version: "2019-01-01"', 'version: "2020-06-01"').replace(
        'effective_from: "2019-01-01"', 'effective_from: "2020-06-01"\namends: "2019-01-01"')
    checking = publish.run_examples

    def meanwhile(policy):
        if not (family / "2020-06-01.yaml").exists():
            (family / "2020-06-01.yaml").write_text(other)
            entries = json.loads((family / "versions.lock").read_text())
            write_lock(family, {**entries, "2020-06-01.yaml": hashlib.sha256(other.encode()).hexdigest()})
        return checking(policy)

    monkeypatch.setattr(publish, "run_examples", meanwhile)
    result = cli(command, "--retroactive", family, *([draft] if command == "publish" else []))
    what = "the draft was checked" if command == "publish" else "its versions were checked"
    message = (f"{family}:1:1: error family-changed {family} changed while {what} (2020-06-01.yaml, versions.lock "
               "written by another process, one the family's lock does not exclude: a publisher on another machine, "
               "over NFS); nothing was written. Run the command again: it checks against the family as it is now\n")
    assert result.code == 1, result.err
    assert (result.out + result.err).startswith(message)
    assert sorted(json.loads((family / "versions.lock").read_text())) == [
        "2019-01-01.yaml", "2020-06-01.yaml", "superseded/2019-01-01.32cfebe23efd.yaml"]  # the other's entry kept
    assert not (family / "2021-01-01.yaml").exists() or command == "lock"
    again = cli(command, "--retroactive", family, *([draft] if command == "publish" else []))
    assert again.code == 1 and "error amends-not-latest amends '2019-01-01', but the latest published version is " \
                               "'2020-06-01'" in again.out + again.err


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="names the synced file through /proc/self/fd")
@pytest.mark.slow
def test_publish_and_lock_sync_the_family_directory_after_the_names_they_place(family, monkeypatch):
    """A version is written beside its name and synced, linked into place; the lock likewise, renamed over the old
    one; then the family's directory is synced, once, for both names: without it a power loss can leave the lock
    (or the version) as it was before a publication that was reported done."""
    from helpers import record_placing
    from slapolicy.policy.directory import PolicyDirectory
    from slapolicy.policy.publish import publish, record_published

    draft = amendment(family, edits=[STANDARD_99_9, *EXAMPLES_99_9])
    steps = record_placing(monkeypatch)
    publish(family, draft, retroactive=True)
    ours = [step for step in steps if step[1].startswith(str(family))]  # not the user cache's records
    version, lock = ours[0][1], ours[2][1]
    assert ours == [("sync file", version), ("link", version, str(family / "2020-01-01.yaml")),
                    ("sync file", lock), ("replace", lock, str(family / "versions.lock")),
                    ("sync directory", str(family))]
    assert sorted(p.name for p in family.iterdir()) == ["2019-01-01.yaml", "2020-01-01.yaml", "drafts", "superseded",
                                                        "versions.lock"]  # neither scratch name is left
    # `lock` records a version copied in by hand the same way.
    (family / "2020-02-01.yaml").write_text((family / "2020-01-01.yaml").read_text().replace(
        '"2020-01-01"', '"2020-02-01"').replace('amends: "2019-01-01"', 'amends: "2020-01-01"'))
    steps.clear()
    assert record_published(PolicyDirectory(family), retroactive=True) == ["2020-02-01.yaml"]
    ours = [step for step in steps if step[1].startswith(str(family))]
    lock = ours[0][1]
    assert ours == [("sync file", lock), ("replace", lock, str(family / "versions.lock")),
                    ("sync directory", str(family))]

@pytest.mark.slow
def test_a_draft_amending_an_older_version_is_refused_once_a_newer_one_is_published(cli, family):
    assert cli("publish", "--retroactive", family, amendment(family)).code == 0
    older_based = amendment(family, name="exclusion.yaml", effective="2021-01-01", amends="2019-01-01")
    result = cli("publish", "--retroactive", family, older_based)
    assert result.code == 1
    # It said "`slapolicy diff` shows what it changed", leaving legal to find which two files to compare.
    assert ("amends '2019-01-01', but the latest published version is '2020-01-01': start from that text "
            f"(`slapolicy diff {family / '2019-01-01.yaml'} {family / '2020-01-01.yaml'}` shows what it changed since "
            "2019-01-01) and write amends: \"2020-01-01\"") in result.out


# ---------------------------------------------------------------------------- lock refuses what validate rejects

BROKEN = {
    "misspelt required key": ("2020-01-01.yaml", [("timezone:\n  value:", "timezon:\n  value:")], "schema"),
    "overlapping tier": ("2020-01-01.yaml", [('{at_least: "95%", below: "99%"', '{at_least: "95%", below: "99.5%"')],
                         "tier-overlap"),
    "150 % credit": ("2020-01-01.yaml", [('credit: "50%"', 'credit: "150%"')], "schema"),
    "status draft": ("2020-01-01.yaml", [("status: published", "status: draft")], "draft-published"),
    "bad file name": ("2020-01-01-amendment.yaml", [], "file-name"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
@pytest.mark.slow
def test_lock_refuses_what_validate_rejects_and_writes_nothing(cli, family, case):
    name, edits, code = BROKEN[case]
    text = PUBLISHED.read_text().replace('version: "2019-01-01"', 'version: "2020-01-01"').replace(
        'effective_from: "2019-01-01"', 'effective_from: "2020-01-01"')
    for old, new in edits:
        assert old in text
        text = text.replace(old, new)
    (family / name).write_text(text)
    validate = cli("validate", family)
    assert validate.code == 1 and f" error {code} " in validate.out
    before = snapshot(family)
    result = cli("lock", family)
    assert result.code == 1
    assert f"{family / name}:" in result.err and f" error {code} " in result.err
    assert " unlocked " not in result.err  # the reason given is the file's problem, not that it is unlocked
    assert snapshot(family) == before


def copied_in(family, effective="2020-01-01", amends='\namends: "2019-01-01"'):
    """The shipped text as a published version effective ``effective``, copied into the family by hand (not
    published), with ``amends`` written under its effective_from."""
    text = PUBLISHED.read_text().replace('version: "2019-01-01"', f'version: "{effective}"').replace(
        'effective_from: "2019-01-01"', f'effective_from: "{effective}"{amends}')
    path = family / f"{effective}.yaml"
    path.write_text(text)
    return path


def test_lock_still_records_a_clean_new_version(cli, family):
    copied_in(family)
    result = cli("lock", "--retroactive", family)
    assert result.code == 0 and result.out.startswith(f"{locked_line(family / '2020-01-01.yaml')}\nretroactive: version 2020-01-01 now ")
    assert cli("validate", family).code == 0


def test_lock_warns_of_a_version_copied_in_that_changes_nothing_but_its_header_as_publish_does(cli, family):
    # A published file copied in by hand that changes nothing of the version it amends but its header (the change
    # made in another copy, or never saved) was recorded without a word, where `publish` warns of such a draft
    # (no-change): a second version deciding every Service Month as the first, recorded for good.
    copied = copied_in(family)
    result = cli("lock", "--retroactive", family)
    assert result.code == 0 and result.out.startswith(f"{locked_line(copied)}\nretroactive: version 2020-01-01 now ")
    line = next(n for n, row in enumerate(copied.read_text().splitlines(), 1) if row.startswith("effective_from:"))
    assert result.err == (
        f"{copied}:{line}:17: warning no-change this version changes nothing of version 2019-01-01, which it amends, "
        "but its header (version, effective_from, amends, status, description): recorded, it decides every Service "
        "Month from 2020-01-01 as version 2019-01-01 does. If it was meant to change something, the file copied in is "
        f"not the one agreed: compare it with that file (`slapolicy diff {family / '2019-01-01.yaml'} {copied}` shows "
        "what it changes) and publish the change as an amendment\n")
    # A version copied in that changes a term is recorded without it, and so is one locked again: nothing to say.
    later = copied_in(family, effective="2021-01-01", amends='\namends: "2020-01-01"')
    later.write_text(later.read_text().replace("make harassing phone calls", "make friendly phone calls"))
    result = cli("lock", "--retroactive", family)
    assert (result.code, result.err) == (0, "") and result.out.startswith(locked_line(later))
    assert (cli("lock", family).out, cli("lock", family).err) == ("nothing to lock: every published version is recorded\n", "")


@pytest.mark.slow
@pytest.mark.parametrize("amends, line", [
    ("", '14:10: error amends-missing no amends: say which version this one amends, the text it was copied from (the '
         'latest is 2019-01-01: write amends: "2019-01-01")'),
    ('\namends: "2018-01-01"', "17:9: error amends-not-latest amends '2018-01-01', but the latest published version is "
                               "'2019-01-01': start from that text (`slapolicy diff` shows what it changed) and write "
                               'amends: "2019-01-01"')])
def test_lock_refuses_a_version_copied_in_that_does_not_amend_the_latest_as_publish_refuses_a_draft(
        cli, family, amends, line):
    # A file copied in by hand was recorded whatever it said it amends: one written from an older text (someone
    # published in between) silently undid the version before it, which `publish` refuses of a draft.
    copied = copied_in(family, amends=amends)
    before = snapshot(family)
    result = cli("lock", "--retroactive", family)
    assert (result.code, result.out, result.err) == (1, "", f"{copied}:{line}\n")
    assert snapshot(family) == before


def test_lock_new_records_a_family_never_locked_whatever_its_versions_amend(cli, family):
    # A family never locked is recorded as it stands: its versions may predate amends.
    copied_in(family, amends="")
    (family / "versions.lock").unlink()
    shutil.rmtree(family / "superseded")
    result = cli("lock", "--new", family)
    assert (result.code, result.out) == (0, f"{locked_line(family / '2019-01-01.yaml')}\n{locked_line(family / '2020-01-01.yaml')}\n")


def test_publish_into_an_empty_family_refuses_amends_naming_a_version_it_does_not_hold(cli, tmp_path):
    # Published as the first version of a family, a draft saying it amends 2018-01-01 was accepted: the family holds
    # no such text, so nothing shows which text the draft was copied from.
    family = tmp_path / "new"
    (family / "drafts").mkdir(parents=True)
    draft = amendment(family, effective="2019-01-01", amends="2018-01-01")
    before = snapshot(family)
    result = cli("publish", family, draft)
    assert (result.code, result.out) == (1, (
        f"{draft}:17:9: error amends-unknown amends '2018-01-01', but {family} holds no published version: a family's "
        "first version amends none of its versions, so nothing can show which text it was copied from. Remove amends "
        "(the description may say what this version replaces)\n"))
    assert result.err == "not published: 1 problem(s); nothing was written\n"
    assert snapshot(family) == before
    first = amendment(family, effective="2019-01-01", amends=None)  # as the recipe says: the first has no amends
    assert cli("publish", family, first).code == 0
    assert sorted(p.name for p in family.iterdir()) == ["2019-01-01.yaml", "drafts", "versions.lock"]


def test_two_published_versions_may_not_share_a_label(cli, family):
    # The old recipe: copy, change only effective_from. Both would be labelled 2019-01-01.
    text = PUBLISHED.read_text().replace('effective_from: "2019-01-01"', 'effective_from: "2020-01-01"')
    (family / "2020-01-01.yaml").write_text(text)
    result = cli("validate", family)
    assert result.code == 1
    assert (f"{family / '2020-01-01.yaml'}:14:10: error version-label version is '2019-01-01'; a published version "
            'is labelled by its effective_from: write version: "2020-01-01"') in result.out
    assert cli("lock", family).code == 1


@pytest.mark.slow
def test_validate_on_a_draft_reports_the_drafts_problems_not_that_it_is_unlocked(cli, family):
    draft = amendment(family, edits=[('{below: "95%", credit: "50%"', '{below: "95%", credit: "150%"')])
    result = cli("validate", draft)
    assert result.code == 1
    assert [line.split(" ")[2] for line in result.out.splitlines()] == ["schema"]
    assert "credit" in result.out and "unlocked" not in result.out
    draft.unlink()  # else two drafts of one day: draft-same-date (test_validate_warns_of_two_drafts_taking_effect_...)
    clean = amendment(family, name="clean.yaml")
    result = cli("validate", clean)
    assert result.code == 0
    assert [line.split(" ")[1:3] for line in result.out.splitlines()] == [["warning", "tier-unreachable"]]


def test_a_draft_whose_description_is_copied_from_the_version_it_amends_is_warned_of(cli, family):
    # The first version copied into a draft and amended (§2.2's standard raised), its description left as it was:
    # validate and publish said nothing, and `versions`, `show` and `render` printed "The whole seed text ... as the
    # first published version" as what the new version is.
    draft = amendment(family, edits=[STANDARD_99_9, *EXAMPLES_99_9], described=False)
    line = draft.read_text().splitlines().index("description: >-") + 1
    warned = (f"{draft}:{line}:14: warning description-unchanged description is word for word that of version "
              "2019-01-01, which this draft amends: it says what 2019-01-01 is, and `versions`, `show` and `render` "
              "would print it as what this version is. Say what this version changes and why (`slapolicy diff "
              f"{family / '2019-01-01.yaml'} {draft}` shows what it changes)")
    result = cli("validate", draft)
    assert result.code == 0 and warned in result.out.splitlines()
    assert warned in cli("validate", family).out.splitlines()
    lock = (family / "versions.lock").read_bytes()
    result = cli("publish", "--retroactive", family, draft)  # a warning: published all the same
    assert result.code == 0 and warned in result.out.splitlines()
    assert (family / "versions.lock").read_bytes() != lock
    # Only the words of it reflowed: the same description
    again = amendment(family, name="reflowed.yaml", effective="2021-01-01", amends="2020-01-01", described=False)
    again.write_text(again.read_text().replace("Center SLA as the first", "Center SLA\n  as the first"))
    assert "description-unchanged" in cli("validate", again).out
    described = amendment(family, name="described.yaml", effective="2021-01-01", amends="2020-01-01")
    assert "description-unchanged" not in cli("validate", described).out


# ---------------------------------------------------------------------------- recovery (docs/policy-format.md)

@pytest.mark.slow
def test_recovering_a_published_file_edited_by_mistake(cli, family):
    """The recovery the docs give: restore the published bytes from version control; the lock agrees again."""
    git = shutil.which("git")
    if git is None:
        pytest.skip("git is not installed")

    def run(*args):
        subprocess.run([git, *args], cwd=family, check=True, capture_output=True)

    run("init", "-q")
    run("-c", "user.name=t", "-c", "user.email=t@example.com", "add", ".")
    run("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "family")
    published = family / "2019-01-01.yaml"
    published.write_text(published.read_text().replace('credit: "50%"', 'credit: "55%"'))
    for command in (("validate", family), ("versions", family), ("lock", family)):
        result = cli(*command)
        assert result.code == 1 and "published-changed" in result.out + result.err
    run("checkout", "--", "2019-01-01.yaml")
    assert cli("validate", family).code == 0
    assert cli("versions", family).code == 0


@pytest.mark.slow
def test_publish_refuses_a_draft_of_more_values_than_an_agreement_holds_and_writes_nothing(cli, family):
    # 30,000 parameters (1.2 MB, within the 2 MiB a policy file may take): the draft's 20,001st value is refused as
    # it is parsed, before the schema would check each of them (~50 µs apiece).
    extra = "".join(f'  p{k}: {{value: {k}, ref: "§7.5"}}\n' for k in range(30_000))
    draft = amendment(family, edits=[STANDARD_99_9, *EXAMPLES_99_9, ("parameters:\n", "parameters:\n" + extra)])
    before = snapshot(family)
    result = cli("publish", "--retroactive", family, draft)
    assert result.code == 1
    (line,) = result.out.splitlines()
    assert line.startswith(f"{draft}:") and line.endswith(
        " error too-large the document holds more than 20,000 values (keys, scalars, mappings and lists), the most a "
        "policy version may hold (the whole Cloud Contact Center SLA holds 1,863); this is value 20,001")
    assert snapshot(family) == before


def test_publish_refuses_a_draft_of_another_agreement_and_lock_a_version_copied_in_with_its_id(cli, family):
    # A draft whose id is not the family's was published, and then governed the family's months from its date:
    # `show --month 2020-03` answered "other-sla 2020-01-01" for policies/ccc.
    draft = amendment(family, edits=[STANDARD_99_9, *EXAMPLES_99_9, ("id: ccc-sla", "id: other-sla")])
    before = snapshot(family)
    result = cli("publish", "--retroactive", family, draft)
    message = ("error family-id id 'other-sla' is not the family's 'ccc-sla' (that of 2019-01-01.yaml, its first "
               "version): a family holds the versions of one agreement; another agreement goes in a directory of its "
               "own")
    assert (result.code, result.out) == (1, f"{draft}:11:5: {message}\n")  # the id is on line 11
    assert snapshot(family) == before
    copied = family / "2020-01-01.yaml"
    copied.write_text(draft.read_text().replace("status: draft", "status: published"))
    before = snapshot(family)
    result = cli("lock", family)
    assert result.code == 1 and f"{copied}:11:5: {message}\n" in result.out + result.err
    assert snapshot(family) == before


@pytest.mark.slow
def test_replay_and_evaluate_refuse_a_draft_of_another_agreement_as_publish_does(cli, family, tmp_path):
    # `replay --under` and `evaluate --policy-file` took a draft whose id was another agreement's and reported what
    # this family "would have owed" under it (exit 0); publish, lock and validate refuse such a version as family-id.
    # One check (PolicyDirectory.check_member), one message, at the draft's id (line 11 of the shipped text).
    from conftest import REPO

    minutes = REPO / "examples" / "ccc" / "minutes.csv"
    # The advice is each command's: "another agreement goes in a directory of its own" (where publish and lock keep
    # versions) read as if evaluate were asked to file the draft somewhere.
    draft = amendment(family, edits=[("id: ccc-sla", "id: other-sla")])
    head = (f"{draft}:11:5: error family-id id 'other-sla' is not the family's 'ccc-sla' (that of 2019-01-01.yaml, "
            "its first version): ")
    before = snapshot(tmp_path)
    replayed = cli("replay", family, "--minutes", minutes, "--from", "2019-03", "--to", "2019-03", "--under", draft)
    evaluated = cli("evaluate", family, "--minutes", minutes, "--month", "2019-03", "--policy-file", draft)
    assert (replayed.code, replayed.out, replayed.err) == (1, "", head + (
        "this family's Service Months are replayed under versions of its own agreement, to show what an amendment of "
        "it changes; give a draft of 'ccc-sla', or replay 'other-sla' with that agreement's own policy directory\n"))
    assert (evaluated.code, evaluated.out, evaluated.err) == (1, "", head + (
        "this family's Service Months are evaluated under versions of its own agreement; give a version of 'ccc-sla', "
        "or evaluate under 'other-sla' with that agreement's own policy directory\n"))
    assert snapshot(tmp_path) == before
    # The same draft with the family's id is replayed: the id alone was refused.
    ours = amendment(family, name="ours.yaml")
    assert cli("replay", family, "--minutes", minutes, "--from", "2019-03", "--to", "2019-03", "--under", ours).code == 0


@pytest.mark.slow
@pytest.mark.parametrize("effective", ["0001-01-01", "9999-01-01"])
def test_an_effective_from_outside_the_supported_years_is_refused_by_validate_and_publish(cli, family, effective):
    # effective_from 9999-01-01 passed validate and was published: a version governing no month slapolicy evaluates,
    # after which no other could ever be published. Said as every other date outside them is (docs/cli.md).
    draft = amendment(family, effective=effective)
    line = (f"{draft}:16:17: error bad-date effective_from {effective} is outside the years 0002 to 9998 that "
            "slapolicy can evaluate")
    validated = cli("validate", draft)
    assert (validated.code, validated.out) == (1, line + "\n")
    before = snapshot(family)
    published = cli("publish", "--retroactive", family, draft)
    assert published.code == 1 and line in published.out.splitlines()
    assert snapshot(family) == before


RETRO = ("error retroactive effective_from {effective} is before today ({today} in Asia/Singapore): {doing} it would "
         "take over the Service Months beginning {effective} to {last} ({months}), governed until now by version "
         "2019-01-01, months already evaluated and claims already decided among them. If the amendment is agreed to "
         "apply to them, give --retroactive; else date it today or later")


def test_publish_refuses_a_draft_taking_effect_before_today_and_writes_nothing(cli, family):
    # A draft effective 2020-01-01 published in 2026 took over six years of Service Months from 2019-01-01, months
    # evaluated and claims decided under it: a silent change of past results. The day is the policy's (Singapore).
    draft = amendment(family, edits=[STANDARD_99_9, *EXAMPLES_99_9])
    before = snapshot(family)
    result = cli("publish", family, draft)
    assert (result.code, result.err) == (1, "not published: 1 problem(s); nothing was written\n")
    (line,) = result.out.splitlines()
    head, today = line.split(" is before today (")
    assert head == f"{draft}:16:17: error retroactive effective_from 2020-01-01"  # at effective_from's value
    today = dt.date.fromisoformat(today[:10])
    last = today - dt.timedelta(days=1)
    assert line == f"{draft}:16:17: " + RETRO.format(effective="2020-01-01", today=today, doing="publishing", last=last,
                                                     months=f"the calendar months 2020-01 to {last:%Y-%m}")
    assert snapshot(family) == before
    # A version taking effect far ahead needs no option.
    ahead = amendment(family, name="ahead.yaml", effective="9998-01-01", edits=[STANDARD_99_9, *EXAMPLES_99_9])
    assert cli("publish", family, ahead).code == 0 and (family / "9998-01-01.yaml").exists()


@pytest.mark.slow
@pytest.mark.parametrize("effective, today, months", [
    ("2020-01-01", "2020-01-02", "the calendar months 2020-01 to 2020-01"),  # the day after: January has begun
    ("2020-01-15", "2020-01-20", "no calendar month: those of terms starting on these days"),
    ("2020-01-15", "2020-02-01", "no calendar month: those of terms starting on these days"),  # February begins today
    ("2020-01-15", "2020-02-02", "the calendar months 2020-02 to 2020-02"),
    ("2020-01-01", "2021-03-10", "the calendar months 2020-01 to 2021-03"),
])
def test_a_retroactive_draft_is_refused_with_the_months_it_would_take_over_or_published_when_asked(
        family, effective, today, months):
    from slapolicy.errors import PolicyError
    from slapolicy.policy.publish import publish

    draft = amendment(family, effective=effective)
    today = dt.date.fromisoformat(today)
    last = today - dt.timedelta(days=1)
    before = snapshot(family)
    with pytest.raises(PolicyError) as refused:
        publish(family, draft, today=today)
    (problem,) = refused.value.diagnostics
    assert str(problem) == f"{draft}:16:17: " + RETRO.format(effective=effective, today=today, doing="publishing",
                                                             last=last, months=months)
    assert snapshot(family) == before
    published = publish(family, draft, retroactive=True, today=today)
    assert published.takes_over == (f"the Service Months beginning {effective} to {last} ({months}), governed until "
                                    "now by version 2019-01-01")


@pytest.mark.slow
def test_a_draft_taking_effect_today_is_not_retroactive(family):
    # Today's Service Months begin today: none that it governs has begun before it is published.
    from slapolicy.policy.publish import publish

    published = publish(family, amendment(family, effective="2020-03-01"), today=dt.date(2020, 3, 1))
    assert (published.path.name, published.takes_over) == ("2020-03-01.yaml", None)


def test_lock_refuses_a_version_copied_in_that_takes_effect_before_today_unless_retroactive(cli, family):
    copied = family / "2020-01-01.yaml"
    copied.write_text(amendment(family).read_text().replace("status: draft", "status: published"))
    before = snapshot(family)
    result = cli("lock", family)
    assert (result.code, result.out) == (1, "")
    (line,) = result.err.splitlines()
    assert line.startswith(f"{copied}:16:17: error retroactive effective_from 2020-01-01 is before today (")
    assert " recording it would take over the Service Months beginning 2020-01-01 to " in line
    assert snapshot(family) == before
    assert cli("lock", "--retroactive", family).out.startswith(f"{locked_line(copied)}\nretroactive: version 2020-01-01 ")


def test_lock_retroactive_names_the_months_it_took_over_as_publish_does(family):
    # `lock --retroactive` printed only "locked 2020-01-01.yaml": the months the version took over, and from which
    # version, went unsaid, where `publish --retroactive` names them. On 2021-03-10 (Singapore), a version effective
    # 2020-01-01 takes over the Service Months beginning 2020-01-01 to yesterday, 2021-03-09: the calendar months
    # 2020-01 to 2021-03, from 2019-01-01; and both commands say it in one sentence.
    from slapolicy.policy.directory import PolicyDirectory
    from slapolicy.policy.publish import Recorded, publish, record_versions, retroactive_note

    copied = family / "2020-01-01.yaml"
    copied.write_text(amendment(family).read_text().replace("status: draft", "status: published"))
    taken = ("the Service Months beginning 2020-01-01 to 2021-03-09 (the calendar months 2020-01 to 2021-03), "
             "governed until now by version 2019-01-01")
    recorded = record_versions(PolicyDirectory(family), retroactive=True, today=dt.date(2021, 3, 10))
    # The copy changes nothing but its header: warned of, as publish warns (no-change)
    assert [[w.code for w in r.warnings] for r in recorded] == [["no-change"]]
    recorded = [r._replace(warnings=()) for r in recorded]
    assert recorded == [Recorded("2020-01-01.yaml", "2020-01-01", taken, sha256_of(copied))]
    assert retroactive_note("2020-01-01", taken) == (
        f"retroactive: version 2020-01-01 now governs {taken}; decisions already recorded for them stay as decided, "
        "and `slapolicy audit` reports them as differing from a decision made now")
    # A version taking effect today takes over nothing: recorded without a word of it (and needs no option).
    (family / "2021-04-01.yaml").write_text(copied.read_text().replace('"2020-01-01"', '"2021-04-01"').replace(
        'amends: "2019-01-01"', 'amends: "2020-01-01"'))
    assert [r._replace(warnings=()) for r in record_versions(PolicyDirectory(family), today=dt.date(2021, 4, 1))] == [
        Recorded("2021-04-01.yaml", "2021-04-01", None, sha256_of(family / "2021-04-01.yaml"))]
    # publish says what it took over in the same words.
    draft = amendment(family, name="later.yaml", effective="2021-05-01", amends="2021-04-01")
    assert publish(family, draft, retroactive=True, today=dt.date(2021, 5, 3)).takes_over == (
        "the Service Months beginning 2021-05-01 to 2021-05-02 (the calendar months 2021-05 to 2021-05), governed "
        "until now by version 2021-04-01")


def test_lock_retroactive_prints_what_it_took_over(cli, family):
    copied = family / "2020-01-01.yaml"
    copied.write_text(amendment(family).read_text().replace("status: draft", "status: published"))
    result = cli("lock", "--retroactive", family)
    locked, said = result.out.splitlines()
    assert (result.code, locked) == (0, locked_line(copied))
    head, tail = said.split(" to ", 1)
    assert head == "retroactive: version 2020-01-01 now governs the Service Months beginning 2020-01-01"
    last = dt.date.fromisoformat(tail[:10])  # yesterday in Singapore
    assert tail == (f"{last} (the calendar months 2020-01 to {last:%Y-%m}), governed until now by version 2019-01-01; "
                    "decisions already recorded for them stay as decided, and `slapolicy audit` reports them as "
                    "differing from a decision made now")


@pytest.mark.slow
def test_publish_writes_the_bytes_it_checked_even_when_the_draft_is_saved_again_meanwhile(cli, family, monkeypatch):
    # publish checked the draft (schema, lint, its examples: ~1 s), then read the file again to write it: a draft
    # saved again in between (an editor's autosave) was published unchecked, here with a standard of 99.9 % and the
    # examples of 99.5 %, which fail (test_publish_refuses_a_new_standard_whose_examples_were_not_updated).
    import hashlib

    import slapolicy.policy.publish as publishing

    draft = amendment(family, edits=[STANDARD_99_9, *EXAMPLES_99_9])
    checked = draft.read_text()
    examples = publishing.run_examples

    def saved_meanwhile(policy):
        draft.write_text(checked.replace('{availability: "99.89%", meets: false}', '{availability: "99.49%", meets: false}'))
        return examples(policy)

    monkeypatch.setattr(publishing, "run_examples", saved_meanwhile)
    result = cli("publish", "--retroactive", family, draft)
    assert result.code == 0, result.out + result.err
    written = (family / "2020-01-01.yaml").read_text()
    assert written == checked.replace("status: draft", "status: published")
    digest = hashlib.sha256(written.encode()).hexdigest()
    assert json.loads((family / "versions.lock").read_text())["2020-01-01.yaml"] == digest
    assert cli("validate", family).code == 0


@pytest.mark.slow
def test_audit_says_a_decision_differs_because_a_version_was_published_retroactively(cli, family, tmp_path):
    # After `publish --retroactive`, audit decided March 2019 again under the new version and noted "a published file
    # was edited?": none was. It now names both versions and why the new one governs the month.
    from conftest import REPO

    examples, ledger = REPO / "examples" / "ccc", tmp_path / "ledger.sqlite"
    decided = cli("claim", family, examples / "claim-globex-2019-03.json", "--minutes", examples / "minutes.csv",
                  "--billing", examples / "billing.csv", "--ledger", ledger, "--now", "2019-04-10T12:00+08:00")
    assert decided.code == 0 and decided.json()["policy"]["version"] == "2019-01-01"
    draft = amendment(family, effective="2019-03-01", edits=[STANDARD_99_9, *EXAMPLES_99_9])
    assert cli("publish", "--retroactive", family, draft).code == 0
    result = cli("audit", ledger, "--policies", family, "--format", "json")
    assert result.code == 1
    (entry,) = [d for d in result.json()["decisions"] if d["status"] == "differs"]
    assert ("decided under version 2019-01-01, still published unchanged; version 2019-03-01, published since with an "
            "earlier effective_from (publish --retroactive), now governs 2019-03") in entry["notes"]
    assert not [note for note in entry["notes"] if "edited" in note]


@pytest.mark.slow
def test_publish_decides_on_one_day_and_one_reading_of_the_family_even_across_midnight(family, monkeypatch):
    # publish asked for today twice (to check the draft, then to say what it took over) and read the family twice
    # under its lock: a run straddling midnight in Singapore checked a draft effective 2020-03-01 on 2020-03-01 (not
    # retroactive: its first Service Month begins today) and then reported it as taking over "the Service Months
    # beginning 2020-03-01 to 2020-03-01", a retroactive publication nobody asked for.
    import slapolicy.policy.publish as publishing

    days = iter([dt.date(2020, 3, 1), dt.date(2020, 3, 2)])  # 23:59:59.9 then 00:00:00.1, Asia/Singapore
    asked, read = [], []
    monkeypatch.setattr(publishing, "policy_today", lambda policy: asked.append(policy.version) or next(days))
    reading = publishing.PolicyDirectory
    monkeypatch.setattr(publishing, "PolicyDirectory", lambda path: read.append(path) or reading(path))
    published = publishing.publish(family, amendment(family, effective="2020-03-01"))
    assert (published.path.name, published.takes_over) == ("2020-03-01.yaml", None)
    assert (asked, read) == (["2020-03-01"], [family])


TOKYO = [("value: Asia/Singapore", "value: Asia/Tokyo")] + [(f'{stamp}+08:00"', f'{stamp}+09:00"') for stamp in (
    "2019-04-06T00:00:00", "2019-02-12T00:00:00", "2019-05-31T00:00:00")]  # the claim window's examples, in Tokyo
NEW_YORK = [("value: Asia/Singapore", "value: America/New_York"), ('2019-04-06T00:00:00+08:00"', '2019-04-06T00:00:00-04:00"'),
            ('2019-02-12T00:00:00+08:00"', '2019-02-12T00:00:00-05:00"'),  # February: winter time in New York
            ('2019-05-31T00:00:00+08:00"', '2019-05-31T00:00:00-04:00"')]


@pytest.mark.slow
@pytest.mark.parametrize("edits, zone, ends, begins, between", [
    # 2030-01-01 00:00 in Singapore is 2029-12-31 16:00 UTC; in New York (UTC-5 in winter), 2030-01-01 05:00 UTC:
    # the 13 hours between, 780 minutes, fall after December's end and before January's start.
    (NEW_YORK, "America/New_York", "2030-01-01T00:00:00+08:00", "2030-01-01T00:00:00-05:00",
     "the 780 minutes between belong to no Service Month: their unavailability is counted in none"),
    # Tokyo's midnight comes an hour before Singapore's: 2029-12-31 15:00 UTC, within December as Singapore counts it.
    (TOKYO, "Asia/Tokyo", "2030-01-01T00:00:00+08:00", "2030-01-01T00:00:00+09:00",
     "the 60 minutes between belong to two Service Months: their unavailability is counted in both"),
])
def test_a_version_moving_the_timezone_is_published_with_the_minutes_its_handover_loses_or_counts_twice(
        cli, family, edits, zone, ends, begins, between):
    # A version in another timezone was published without a word: the minutes between the old December's end and
    # the new January's start were evaluated in neither month (a provider outage then owed nothing).
    draft = amendment(family, effective="2030-01-01", edits=edits)  # the zone's value: line 28 (amends: is line 17)
    warning = (f"{draft}:28:10: warning timezone-change timezone {zone} is not that of version 2019-01-01 "
               f"(Asia/Singapore): the Service Month before 2030-01 ends at {ends}, the first under this version "
               f"begins at {begins}, and {between}")
    result = cli("publish", family, draft)
    assert result.code == 0, result.out
    assert warning in result.out.splitlines()
    published = family / "2030-01-01.yaml"
    assert warning.replace(str(draft), str(published)) in cli("validate", family).out.splitlines()
    # The same timezone in the next version says nothing.
    same = amendment(family, name="same.yaml", effective="2031-01-01", amends="2030-01-01", edits=edits)
    assert "timezone-change" not in cli("publish", family, same).out


def _in_zone(tmp_path, name: str, zone: str, effective: str):
    from helpers import draft_variant
    from slapolicy.policy import load_policy

    path = draft_variant(tmp_path, "value: Asia/Singapore", f"value: {zone}", name=name)
    path.write_text(path.read_text().replace('effective_from: "2019-01-01"', f'effective_from: "{effective}"')
                    .replace('version: "2019-01-01"', f'version: "{effective}"'))
    return load_policy(path)


NO_SERVICE_MONTH = "belong to no Service Month: their unavailability is counted in none"
TWO_SERVICE_MONTHS = "belong to two Service Months: their unavailability is counted in both"
ONE_INSTANT = "the two midnights are one instant: no minute is lost or counted twice"


@pytest.mark.parametrize("zone_before,handover,terms", [
    # Singapore's midnight is 8 hours before London's in winter (480 minutes), 7 in summer time (until Sun 27 October
    # 2030, 01:00 UTC: that day's midnight is still BST).
    ("Asia/Singapore", f"2030-11-01T00:00:00+08:00, the first under this version begins at 2030-11-01T00:00:00+00:00, "
                       f"and the 480 minutes between {NO_SERVICE_MONTH}",
     f"beginning from 2030-10-15 to 2030-10-27, the 420 minutes between {NO_SERVICE_MONTH}; beginning from 2030-10-28 "
     f"to 2030-10-31, the 480 minutes between {NO_SERVICE_MONTH}"),
    # UTC and London agree in November, so the whole months lose nothing; a term beginning in summer time does.
    ("UTC", f"2030-11-01T00:00:00+00:00, the first under this version begins at 2030-11-01T00:00:00+00:00, and "
            f"{ONE_INSTANT}",
     f"beginning from 2030-10-15 to 2030-10-27, the 60 minutes between {TWO_SERVICE_MONTHS}; beginning from 2030-10-28 "
     f"to 2030-10-31, {ONE_INSTANT}"),
])
def test_a_version_moving_the_timezone_mid_month_says_the_handover_of_each_term_it_governs(tmp_path, zone_before,
                                                                                           handover, terms):
    # A version taking effect on 15 October 2030 governs from November's Service Month, and from the partial first
    # Service Month of a term beginning between 15 and 31 October (§6.2): that term's handover is at midnight of its
    # first day, where summer time may still hold. The warning counted 1 November alone (none at all from UTC, where
    # a term beginning on 20 October counted 60 minutes in two Service Months without a word).
    from slapolicy.policy.lint import timezone_handover

    before = _in_zone(tmp_path, "before.yaml", zone_before, "2019-01-01")
    after = _in_zone(tmp_path, "after.yaml", "Europe/London", "2030-10-15")
    found = timezone_handover(before, after)
    assert (found.severity, found.code) == ("warning", "timezone-change")
    assert found.message == (f"timezone Europe/London is not that of version 2019-01-01 ({zone_before}): the Service "
                             f"Month before 2030-11 ends at {handover}. A service term whose first Service Month this "
                             f"version governs from 2030-10-15 to 2030-10-31 (§6.2) hands over at midnight of the day it "
                             f"begins: {terms}")


def test_publish_warns_of_each_clause_renumbered(cli, family):
    # §5.13 and §5.14 swapped numbers: published without a word, though excluded minutes, reports and decisions name
    # clauses by number, so "§5.13" meant force majeure from 2031 and other networks before.
    from test_diff import SWAPPED

    draft = amendment(family, effective="2031-01-01", edits=SWAPPED)
    lines = draft.read_text().splitlines()
    first, second = lines.index('  - id: "5.14"') + 1, lines.index('  - id: "5.13"') + 1  # the swapped ids' lines
    result = cli("publish", family, draft)
    assert result.code == 0, result.out
    said = [line for line in result.out.splitlines() if " clause-renumbered " in line]
    assert said == [
        f"{draft}:{first}:9: warning clause-renumbered clause 5.14 holds the words of clause 5.13 of version 2019-01-01: "
        "excluded minutes, reports and decisions name clauses by number, so §5.14 means another clause before this "
        "version than after it",
        f"{draft}:{second}:9: warning clause-renumbered clause 5.13 holds the words of clause 5.14 of version "
        "2019-01-01: excluded minutes, reports and decisions name clauses by number, so §5.13 means another clause "
        "before this version than after it"]
    assert first < second


def test_lock_warns_of_each_clause_renumbered_in_a_version_copied_in_as_publish_does(cli, family):
    # The same swap in a published file copied in by hand: `lock` recorded it without a word, where publish warns.
    from test_diff import SWAPPED

    draft = amendment(family, effective="2031-01-01", edits=SWAPPED)
    copied = family / "2031-01-01.yaml"
    copied.write_text(draft.read_text().replace("status: draft", "status: published"))
    draft.unlink()
    lines = copied.read_text().splitlines()
    first, second = lines.index('  - id: "5.14"') + 1, lines.index('  - id: "5.13"') + 1
    result = cli("lock", family)
    assert (result.code, result.out) == (0, f"{locked_line(copied)}\n")
    assert result.err.splitlines() == [
        f"{copied}:{first}:9: warning clause-renumbered clause 5.14 holds the words of clause 5.13 of version "
        "2019-01-01: excluded minutes, reports and decisions name clauses by number, so §5.14 means another clause "
        "before this version than after it",
        f"{copied}:{second}:9: warning clause-renumbered clause 5.13 holds the words of clause 5.14 of version "
        "2019-01-01: excluded minutes, reports and decisions name clauses by number, so §5.13 means another clause "
        "before this version than after it"]


def test_validate_warns_of_a_published_version_amending_another_than_the_one_before_it(cli, family):
    # Two publishers at once (on two machines, which one's lock does not exclude: docs/policy-format.md) each checked
    # their draft against the family holding only 2019-01-01; both were published, and 2021-01-01 was written from
    # 2019-01-01's text, not 2020-01-01's: what 2020-01-01 changed silently stopped at the end of 2020.
    copied_in(family, "2020-01-01")
    later = copied_in(family, "2021-01-01")
    (family / "versions.lock").unlink()
    shutil.rmtree(family / "superseded")
    assert cli("lock", "--new", family).code == 0  # as the two publishers' writes left it
    result = cli("validate", family)
    assert result.code == 0
    assert [line for line in result.out.splitlines() if " amends-" in line] == [
        f"{later}:17:9: warning amends-not-previous amends '2019-01-01', but the version before it is '2020-01-01': it "
        "was written from another text than 2020-01-01's, so what 2020-01-01 changed holds from 2021-01-01 on only "
        f"where it was carried over (`slapolicy diff {family / '2020-01-01.yaml'} {later}` shows it); if it was not, publish "
        "an amendment that restores it"]


@pytest.mark.slow
@pytest.mark.parametrize("ends", ["\r\n", "\r"])
def test_a_draft_saved_with_other_line_ends_is_published_with_lf_and_a_rewrite_of_it_is_said_to_be_one(
        cli, family, ends):
    # Before: published with CRLF as saved; an editor giving it LF again then made it "published version changed ...
    # put the change in a new version", where nothing it says changed (the rewrite check knows LF as published).
    lf = amendment(family, name="lf.yaml", effective="2027-01-01")
    draft = family / "drafts" / "windows.yaml"
    draft.write_bytes(lf.read_bytes().replace(b"\n", ends.encode()).rstrip(ends.encode()))  # nor a last line end
    result = cli("publish", family, draft)
    assert result.code == 0, result.out
    written = (family / "2027-01-01.yaml").read_bytes()
    assert written == lf.read_bytes().replace(b"status: draft", b"status: published", 1)
    (family / "2027-01-01.yaml").write_bytes(written.replace(b"\n", b"\r\n"))  # a Windows editor saves it again
    result = cli("validate", family)
    assert result.code == 1
    assert f"{family / '2027-01-01.yaml'}:1:1: error published-changed published version rewritten: its bytes differ " \
           "from those recorded in versions.lock only in its line endings (CRLF" in result.out


@pytest.mark.slow
def test_a_draft_published_again_says_it_is_published_already(cli, family):
    # Run again (or published first by a colleague), it was refused as "not after published version 2027-01-01" and
    # "amends '2019-01-01', but the latest published version is '2027-01-01': start from that text", as if the draft
    # were to be rewritten.
    draft = amendment(family, effective="2027-01-01")
    draft.write_bytes(draft.read_bytes().replace(b"\n", b"\r\n"))  # published with LF, as any draft is
    assert cli("publish", family, draft).code == 0
    published = family / "2027-01-01.yaml"
    before = snapshot(family)
    result = cli("publish", family, draft)
    line = next(n for n, text in enumerate(draft.read_text().splitlines(), 1) if text.startswith("effective_from:"))
    assert (result.code, result.out, result.err) == (
        1, f"{draft}:{line}:17: error already-published this draft is published already, as {published} (version "
           f"2027-01-01, sha256 {sha256_of(published)[:16]}…): nothing was written. A change to it is a new draft, with "
           "its own effective_from\n", "not published: 1 problem(s); nothing was written\n")
    assert snapshot(family) == before
    # Changed since, it is a new draft: refused for what it then is
    draft.write_text(draft.read_text().replace("status: draft", "status: draft  # edited"))
    result = cli("publish", family, draft)
    assert result.code == 1 and " error not-after-published " in result.out and "already-published" not in result.out


def test_publish_given_the_draft_first_says_the_family_comes_first(cli, family):
    # Before: "a file, not a policy directory (give the directory that holds it)", which names neither order.
    draft = amendment(family, effective="2027-01-01")
    before = snapshot(family)
    result = cli("publish", draft, family)
    assert (result.code, result.out, result.err) == (
        1, f"{draft}:1:1: error not-a-directory a file, not a policy directory: the family comes first, then the "
           f"draft (slapolicy publish {family} {draft})\n", "not published: 1 problem(s); nothing was written\n")
    assert snapshot(family) == before


# ---------------------------------------------------------------------------- the claims a retroactive version takes over

def decided_claims_in(cli, family, ledger):
    """The example claims of March 2019 (acme's by e-mail, denied; globex's, approved) decided under 2019-01-01."""
    from conftest import REPO

    examples = REPO / "examples" / "ccc"
    for claim in ("claim-acme-2019-03-by-email.json", "claim-globex-2019-03.json"):
        decided = cli("claim", family, examples / claim, "--minutes", examples / "minutes.csv", "--billing",
                      examples / "billing.csv", "--ledger", ledger, "--now", "2019-04-10T12:00+08:00")
        assert decided.code == 0, decided.err


@pytest.mark.slow
def test_publish_given_the_ledger_names_the_claims_a_retroactive_version_takes_over(cli, family, tmp_path):
    """Before: legal was told "months already evaluated and claims already decided among them", whichever and however
    many there were; the decision to give --retroactive is taken knowing which."""
    from slapolicy.errors import PolicyError
    from slapolicy.policy.publish import publish

    ledger = tmp_path / "ledger.sqlite"
    decided_claims_in(cli, family, ledger)
    draft = amendment(family, effective="2019-03-01", edits=[STANDARD_99_9, *EXAMPLES_99_9])
    claims = (f"2 claim(s) already decided for them are recorded in {ledger}: D-22bf5cd1684353abd440 (acme 2019-03, "
              "denied under version 2019-01-01), D-e67e91136ec38743702c (globex 2019-03, approved under version "
              f"2019-01-01); they stay as decided, and `slapolicy audit {ledger} --policies {family}` shows each against "
              "a decision made now")
    before, ledger_bytes = snapshot(family), ledger.read_bytes()
    with pytest.raises(PolicyError) as refused:
        publish(family, draft, today=dt.date(2019, 5, 1), ledger=ledger)
    (problem,) = refused.value.diagnostics
    assert str(problem) == (
        f"{draft}:16:17: error retroactive effective_from 2019-03-01 is before today (2019-05-01 in Asia/Singapore): "
        "publishing it would take over the Service Months beginning 2019-03-01 to 2019-04-30 (the calendar months "
        f"2019-03 to 2019-04), governed until now by version 2019-01-01; {claims}. If the amendment is agreed to apply "
        "to them, give --retroactive; else date it today or later")
    assert snapshot(family) == before
    published = publish(family, draft, retroactive=True, today=dt.date(2019, 5, 1), ledger=ledger)
    assert published.decided == claims
    assert ledger.read_bytes() == ledger_bytes  # read only
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("ledger")) == ["ledger.sqlite"]


@pytest.mark.slow
def test_publish_given_the_ledger_says_when_it_records_no_claim_for_those_months(cli, family, tmp_path):
    from slapolicy.policy.publish import publish

    ledger = tmp_path / "ledger.sqlite"
    decided_claims_in(cli, family, ledger)
    draft = amendment(family, effective="2019-04-01", edits=[STANDARD_99_9, *EXAMPLES_99_9])  # after March's claims
    published = publish(family, draft, retroactive=True, today=dt.date(2019, 5, 1), ledger=ledger)
    assert published.decided == (f"{ledger} records no claim decided for them (evaluations of months without a "
                                 "claim are not recorded)")


@pytest.mark.slow
def test_publish_given_a_ledger_it_cannot_read_writes_nothing(cli, family, tmp_path):
    draft = amendment(family, edits=[STANDARD_99_9, *EXAMPLES_99_9])
    before = snapshot(family)
    for ledger, said in ((tmp_path / "none.sqlite", "no such ledger"),
                         (PUBLISHED, "not a slapolicy ledger, or a damaged one (file is not a database)")):
        result = cli("publish", "--retroactive", family, draft, "--ledger", ledger)
        assert result.code == 1
        assert result.out.splitlines() == [f"{ledger}:1:1: error ledger {ledger}: {said}"]
        assert snapshot(family) == before
    assert not (tmp_path / "none.sqlite").exists()
    ledger = tmp_path / "ledger.sqlite"
    decided_claims_in(cli, family, ledger)
    result = cli("publish", "--retroactive", family, draft, "--ledger", ledger)
    assert result.code == 0
    lines = result.out.splitlines()  # 2020-01-01 takes over the months from 2020-01 on; the claims are of 2019-03
    assert lines[-2].startswith("retroactive: version 2020-01-01 now governs the Service Months beginning 2020-01-01 ")
    assert lines[-1] == f"{ledger} records no claim decided for them (evaluations of months without a claim are not recorded)"


@pytest.mark.slow
def test_lock_given_the_ledger_names_the_claims_a_version_copied_in_takes_over(cli, family, tmp_path):
    """As publish --ledger: a version copied in by hand, dated before today, is recorded knowing which claims."""
    from slapolicy.errors import PolicyError
    from slapolicy.policy.directory import PolicyDirectory
    from slapolicy.policy.publish import record_versions

    ledger = tmp_path / "ledger.sqlite"
    decided_claims_in(cli, family, ledger)
    copied = family / "2019-03-01.yaml"
    copied.write_text(amendment(family, effective="2019-03-01", edits=[STANDARD_99_9, *EXAMPLES_99_9]).read_text()
                      .replace("status: draft", "status: published"))
    (family / "drafts" / "2020-01-01-standard-99.9.yaml").unlink()
    claims = (f"2 claim(s) already decided for them are recorded in {ledger}: D-22bf5cd1684353abd440 (acme 2019-03, "
              "denied under version 2019-01-01), D-e67e91136ec38743702c (globex 2019-03, approved under version "
              f"2019-01-01); they stay as decided, and `slapolicy audit {ledger} --policies {family}` shows each against "
              "a decision made now")
    before = snapshot(family)
    with pytest.raises(PolicyError) as refused:
        record_versions(PolicyDirectory(family), today=dt.date(2019, 5, 1), ledger=ledger)
    assert f"governed until now by version 2019-01-01; {claims}. If the amendment" in str(refused.value.diagnostics[0])
    with pytest.raises(PolicyError) as unread:
        record_versions(PolicyDirectory(family), today=dt.date(2019, 5, 1), ledger=tmp_path / "none.sqlite")
    assert [str(d) for d in unread.value.diagnostics] == [
        f"{tmp_path / 'none.sqlite'}:1:1: error ledger {tmp_path / 'none.sqlite'}: no such ledger"]
    assert snapshot(family) == before
    result = cli("lock", "--retroactive", family, "--ledger", ledger)  # today: the claims of 2019-03 are among them
    assert result.code == 0
    assert result.out.splitlines()[0] == locked_line(copied)
    assert result.out.splitlines()[2] == claims


def test_validate_warns_of_two_drafts_taking_effect_on_one_day(cli, family):
    # Two lawyers' drafts of one family both effective 2099-06-01 (one version a day: the label is the date) passed
    # validate without a word; the second to publish was then refused, told to rewrite its date and amends.
    first = amendment(family, name="a.yaml", effective="2099-06-01",
                      edits=[("make harassing phone calls", "make friendly phone calls")])
    second = amendment(family, name="b.yaml", effective="2099-06-01",
                       edits=[("make harassing phone calls", "make kind phone calls")])
    said = [line for line in cli("validate", family).out.splitlines() if " draft-same-date " in line]
    assert said == [f"{draft}:16:17: warning draft-same-date effective_from 2099-06-01 is also that of the draft "
                    f"{other}: a family publishes one version a day, so once one of them is published the other is "
                    "refused (not-after-published); give one of them another effective_from, or keep one"
                    for draft, other in ((first, second), (second, first))]
    assert said[0] in cli("validate", first).out.splitlines()  # the draft given alone, in its family's drafts/
    # Once one is published (and kept in drafts/), the other is told what publish refuses instead.
    assert cli("publish", family, first).code == 0
    out = cli("validate", family).out
    assert " draft-same-date " not in out and f"{second}:16:17: warning not-after-published " in out


@pytest.mark.slow
def test_validate_says_what_publish_would_refuse_in_a_draft_because_of_the_family(cli, family):
    """Before: `validate DRAFT` passed a draft copied before a colleague published another version, and only publish
    refused it (amends-not-latest, not-after-published)."""
    old = amendment(family, name="old.yaml", effective="2020-01-01", edits=[STANDARD_99_9, *EXAMPLES_99_9])
    result = cli("validate", old)
    assert (result.code, [line for line in result.out.splitlines() if "refuses this draft" in line]) == (0, [])
    published = amendment(family, name="colleague.yaml", effective="2020-02-01", edits=[STANDARD_99_9, *EXAMPLES_99_9])
    assert cli("publish", "--retroactive", family, published).code == 0
    expected = [
        f"{old}:16:17: warning not-after-published `slapolicy publish` refuses this draft: effective_from 2020-01-01 is "
        "not after published version 2020-02-01 (effective 2020-02-01): a new version takes effect after every "
        "published one",
        f"{old}:17:9: warning amends-not-latest `slapolicy publish` refuses this draft: amends '2019-01-01', but the "
        f"latest published version is '2020-02-01': start from that text (`slapolicy diff {family / '2019-01-01.yaml'} "
        f"{family / '2020-02-01.yaml'}` shows what it changed since 2019-01-01) and write amends: \"2020-02-01\""]
    for given in (old, family):  # the draft, or its family (validate checks its drafts too)
        result = cli("validate", given)
        assert result.code == 0
        assert [line for line in result.out.splitlines() if "refuses this draft" in line] == expected
    # The draft published is kept in drafts/: nothing to say of it.
    assert not [line for line in cli("validate", family).out.splitlines() if line.startswith(f"{published}:")
                and "refuses this draft" in line]


# ---------------------------------------------------------------------------- a draft given from among the published versions

@pytest.mark.parametrize("name,status", [("new-draft.yaml", "draft"),  # the others (0.2-0.4 s each) in the whole suite
                                         pytest.param("2020-01-01.yaml", "draft", marks=pytest.mark.slow),
                                         pytest.param("2020-01-01.yaml", "published", marks=pytest.mark.slow)])
def test_a_draft_given_from_the_family_s_own_folder_is_told_to_move_into_drafts(cli, family, name, status):
    # Saved (or copied) beside the published versions and published from there, a draft was checked as an unrecorded
    # published version dated on and amending itself: 'unlocked ... publish drafts with `slapolicy publish`' (the
    # command just run), 'draft-published', 'not after published version 2020-01-01' and 'the latest published version
    # is '2020-01-01'', four errors about itself where one thing was to be done.
    draft = amendment(family, name=name, edits=[("status: draft", f"status: {status}")])
    draft = draft.rename(family / name)
    before = snapshot(family)
    result = cli("publish", "--retroactive", family, draft)
    lock = (f" (or, if it is a version published elsewhere and copied in by hand, record it with `slapolicy lock "
            f"{family}`)") if status == "published" else ""
    assert (result.code, result.out.splitlines()) == (1, [
        f"{draft}:1:1: error draft-among-versions {name} is in the family's own folder, among its published versions, "
        f"where `publish` writes the version it publishes: move it into {family / 'drafts'} (mv {draft} "
        f"{family / 'drafts'}/) and publish it from there{lock}; nothing was written"])
    assert result.err == "not published: 1 problem(s); nothing was written\n"
    assert snapshot(family) == before
    moved = draft.rename(family / "drafts" / name)  # as told: then it is published
    assert cli("publish", "--retroactive", family, moved).code == 0
    assert sha256_of(family / "2020-01-01.yaml") == json.loads((family / "versions.lock").read_text())["2020-01-01.yaml"]


def test_a_draft_from_the_family_s_folder_keeps_the_family_s_other_errors(cli, family):
    published = family / "2019-01-01.yaml"
    published.write_text(published.read_text().replace("title: Cloud", "title: The Cloud", 1))
    draft = amendment(family).rename(family / "new-draft.yaml")
    result = cli("publish", "--retroactive", family, draft)
    assert result.code == 1
    assert [line.split()[2] for line in result.out.splitlines()] == ["published-changed", "draft-among-versions"]


# ---------------------------------------------------------------------------- the status as a draft may write it

# The block scalar that was published broken runs in the fast loop; the other ways to write it (0.3-0.6 s each: a
# publish, a validate and a show of a family) in the whole suite.
@pytest.mark.parametrize("written", ["status: >-\n  draft\n", *(pytest.param(written, marks=pytest.mark.slow) for written in (
    "status: |-\n  draft\n\n", "status: >-\n  draft\n# set by publish\n", "status:\n  draft\n", "status: 'draft'\n",
    "status: draft   # until published\n"))])
def test_a_draft_whose_status_is_written_any_way_yaml_allows_publishes_a_valid_version(cli, family, written):
    # `status: >-` with `draft` on the next line (a block scalar, as an editor folding long values writes it) was
    # published as 'status: publishedeffective_from: "2020-01-01"': the block's line break went with the value
    # replaced, the file written was no YAML, and every command then refused the whole family (yaml-syntax at the
    # published file), every Service Month of it. The bytes written are now checked to say what the draft said.
    draft = amendment(family, edits=[("status: draft\n", written), STANDARD_99_9, *EXAMPLES_99_9])
    result = cli("publish", "--retroactive", family, draft)
    assert result.code == 0, result.out
    published = yaml_data((family / "2020-01-01.yaml").read_text())
    assert (published["status"], published["effective_from"]) == ("published", "2020-01-01")
    assert cli("validate", family).code == 0
    assert cli("show", family, "--month", "2020-03").out.startswith(
        "Cloud Contact Center Service Level Agreement — version 2020-01-01 (published)")


@pytest.mark.parametrize("slip", [lambda text: text.replace("status: published\n", "status: published", 1),
                                  lambda text: text.replace('credit: "50%"', 'credit: "55%"', 1)])
def test_publish_writes_nothing_whose_bytes_would_not_say_what_the_draft_said(cli, family, monkeypatch, slip):
    # The guard behind published_text: bytes that are no YAML, or that say another thing than the draft checked
    # (here a slip put in published_text's place), are refused before anything is written.
    from slapolicy.policy import publish as publishing

    real = publishing.published_text
    monkeypatch.setattr(publishing, "published_text", lambda text: slip(real(text)))
    draft = amendment(family, edits=[STANDARD_99_9, *EXAMPLES_99_9])
    before = snapshot(family)
    result = cli("publish", "--retroactive", family, draft)
    assert (result.code, result.out) == (1, (
        f"{draft}:1:1: error status-rewrite setting status: published in this draft's text would write a version that "
        "says something else than the draft checked: write its status on one line, `status: draft`, and publish it "
        "again; nothing was written\n"))
    assert snapshot(family) == before
