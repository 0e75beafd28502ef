"""A published version never changes, whatever legal does to the family by hand (docs/policy-format.md, "When a
published file was edited by mistake"): removing or renaming one, slipping a version in before one already
recorded, a lock edited by hand, a disk that is full or read-only, a value whose text hides a line break.

Every refusal is checked for its exit status, its exact message and that nothing was written (the family is
compared byte for byte, and mode for mode)."""
import errno
import hashlib
import json
import os
from pathlib import Path

import pytest

from conftest import DRAFT, PUBLISHED
from helpers import locked_line, sha256_of
from test_publish import EXAMPLES_99_9, STANDARD_99_9, amendment, family, snapshot  # noqa: F401 (family: a fixture)

SHA_2019 = "1f0e526ad3df6cf7aa6ff04bcbafb26ef5451c9d3fbed69c9f4cef7504da8655"  # the shipped 2019-01-01.yaml


def published_2020(cli, family):
    """Publish the amendment raising the standard to 99.9 % (effective 2020-01-01); its published path."""
    draft = amendment(family, edits=[STANDARD_99_9, *EXAMPLES_99_9])
    assert cli("publish", "--retroactive", family, draft).code == 0
    return family / "2020-01-01.yaml"


def reworded(text: str) -> str:
    """The same agreement, one word of the title changed: examples and lint pass, the text is not the one published."""
    old = "title: Cloud Contact Center Service Level Agreement"
    assert old in text
    return text.replace(old, "title: Cloud Contact Center Service Level Agreement (amended)", 1)


def copied_by_hand(date: str) -> str:
    """The shipped 2019-01-01 text as legal copies it by hand into a version of another date: its version and
    effective_from changed, amends 2019-01-01 (as the recipe says), its status still published."""
    return PUBLISHED.read_text().replace('version: "2019-01-01"', f'version: "{date}"').replace(
        'effective_from: "2019-01-01"', f'effective_from: "{date}"\namends: "2019-01-01"')


def place(text: str, written: str) -> tuple[int, int]:
    """The line and column, from 1, where ``written`` first stands in ``text``."""
    for line, row in enumerate(text.splitlines(), 1):
        if written in row:
            return line, row.index(written) + 1
    raise AssertionError(f"{written!r} is not in the text")


def refused_by_each(cli, family, draft, commands, expected: str) -> None:
    """Each command (``publish`` given the family first) exits 1 and prints ``expected`` as one of its lines, and
    the family is left byte for byte and mode for mode as it was."""
    before = snapshot(family)
    for command in commands:
        result = cli(command, *((family, "--retroactive") if command == "publish" else ()), draft)
        assert result.code == 1
        assert expected in result.out.splitlines()
    assert snapshot(family) == before


# ---------------------------------------------------------------------------- a published version removed

def missing_message(family, name="2020-01-01.yaml", line=3):
    # versions.lock as publish writes it: "{", then one entry a line in name order, the entry at column 3.
    return (f"{family / 'versions.lock'}:{line}:3: error published-missing published version {name} is recorded in versions.lock "
            f"but is not in {family}: a published file is never removed or renamed; restore it from version control "
            f"(git checkout -- {family / name})")


@pytest.mark.parametrize("command", [("validate",), ("versions",), ("show", "--month", "2020-03"), ("lock",)])
@pytest.mark.slow
def test_a_deleted_published_version_stops_every_command(cli, family, command):
    """Before: a warning (lock-stale), and March 2020 was decided under 2019-01-01, the version before it."""
    published_2020(cli, family).unlink()
    before = snapshot(family)
    result = cli(command[0], family, *command[1:])
    assert result.code == 1
    assert missing_message(family) in (result.out + result.err).splitlines()
    assert snapshot(family) == before


@pytest.mark.slow
def test_a_deleted_published_version_cannot_be_published_again_with_another_text(cli, family):
    """Before: publish wrote the new text under the deleted one's name and replaced its sha256 in the lock."""
    path = published_2020(cli, family)
    text = path.read_text()
    path.unlink()
    draft = family / "drafts" / "again.yaml"
    draft.write_text(reworded(text).replace("status: published", "status: draft"))
    before = snapshot(family)
    result = cli("publish", "--retroactive", family, draft)
    assert result.code == 1
    assert result.out.splitlines() == [missing_message(family)]
    assert result.err == "not published: 1 problem(s); nothing was written\n"
    assert snapshot(family) == before


@pytest.mark.slow
def test_a_renamed_published_version_is_named_where_it_is_now(cli, family):
    """Before: the lock's entry said "restore it from version control", and the renamed file "record this file with
    `slapolicy lock`", which would record the version a second time under another name."""
    path = published_2020(cli, family)
    digest = sha256_of(path)
    for moved in (family / "2020-02-01.yaml", family / "drafts" / "2020-01-01.yaml"):
        path.rename(moved)
        result = cli("validate", family)
        assert result.code == 1
        lines = result.out.splitlines()
        assert (f"{family / 'versions.lock'}:3:3: error published-missing published version 2020-01-01.yaml is "
                f"recorded in versions.lock but is not in {family}: a published file is never removed or renamed; it "
                f"is {moved}, renamed or moved (the same bytes): put it back (mv {moved} {path})") in lines
        codes = sorted(line.split(" ")[2] for line in lines if " error " in line)
        if moved.parent == family:
            assert codes == ["file-name", "published-missing", "unlocked"]
            assert (f"{moved}:1:1: error unlocked published version not recorded: it is published version "
                    f"2020-01-01.yaml renamed (its sha256 {digest[:12]}… is the one versions.lock records for "
                    f"2020-01-01.yaml); rename it back (mv {moved} {path}), never record it again under this name") in lines
        else:  # in drafts/, it says it is published
            assert codes == ["draft-status", "published-missing"]
        before = snapshot(family)
        assert cli("lock", family).code == 1
        assert snapshot(family) == before
        moved.rename(path)
    assert cli("validate", family).code == 0


def test_a_removed_superseded_encoding_is_a_warning(cli, family):
    """It governs no month: every command goes on, and audit is what cannot re-check the decisions made under it."""
    name = "superseded/2019-01-01.32cfebe23efd.yaml"
    (family / name).unlink()
    result = cli("validate", family)
    assert result.code == 0
    assert (f"{family / 'versions.lock'}:3:3: warning published-missing superseded encoding {name} is recorded in "
            f"versions.lock but is not in {family}: the decisions made under it cannot be audited; restore it from "
            f"version control (git checkout -- {family / name})") in result.out.splitlines()


# ---------------------------------------------------------------------------- lock never slips a version in

@pytest.mark.slow
def test_lock_refuses_a_version_dated_before_the_latest_recorded_one(cli, family):
    """Before: `lock` recorded a hand-copied 2019-06-01 between 2019-01-01 and 2020-01-01, and June to December
    2019, already decided under 2019-01-01, silently came under it (publish refuses such a draft)."""
    published_2020(cli, family)
    text = copied_by_hand("2019-06-01")
    (family / "2019-06-01.yaml").write_text(text)
    before = snapshot(family)
    result = cli("lock", family)
    assert result.code == 1
    line = next(n for n, row in enumerate(text.splitlines(), 1) if row.startswith("effective_from:"))
    assert result.err.splitlines() == [
        f"{family / '2019-06-01.yaml'}:{line}:17: error not-after-published effective_from 2019-06-01 is not after "
        "published version 2020-01-01 (effective 2020-01-01, recorded in versions.lock): `lock` records only a "
        "version taking effect after every recorded one, since an earlier one would change the version in force "
        "for months already decided"]
    assert snapshot(family) == before
    assert cli("show", family, "--month", "2019-07", "--json").code == 1  # the family stays refused until it goes


@pytest.mark.slow
def test_lock_records_every_version_of_a_family_locked_for_the_first_time(cli, family):
    """Nothing recorded yet (a new family, started with --new): nothing to keep, every clean version is recorded."""
    (family / "versions.lock").unlink()
    text = copied_by_hand("2018-06-01")
    (family / "2018-06-01.yaml").write_text(text)
    assert cli("lock", family).code == 1  # without --new: docs/policy-format.md, test_policy_commands.py
    result = cli("lock", family, "--new")
    assert result.code == 0
    assert result.out == f"{locked_line(family / '2018-06-01.yaml')}\n{locked_line(family / '2019-01-01.yaml')}\n"


# ---------------------------------------------------------------------------- a lock edited by hand

@pytest.mark.slow
@pytest.mark.parametrize("entry, message", [
    ('"2019-01-01.yaml": "' + SHA_2019.upper() + '"',
     'versions.lock: the sha256 of "2019-01-01.yaml" is "' + SHA_2019.upper() + '", not 64 lowercase hex digits as '
     "`publish` and `lock` write it"),
    ('"2019-01-01.yaml": "' + SHA_2019 + ' "',
     'versions.lock: the sha256 of "2019-01-01.yaml" is "' + SHA_2019 + ' ", not 64 lowercase hex digits as '
     "`publish` and `lock` write it"),
    ('"../2019-01-01.yaml": "' + SHA_2019 + '"',
     'versions.lock records "../2019-01-01.yaml": it records files of the family by name (2019-01-01.yaml, '
     "superseded/2019-01-01.32cfebe23efd.yaml), never a path out of it"),
    ('"/etc/passwd.yaml": "' + SHA_2019 + '"',
     'versions.lock records "/etc/passwd.yaml": it records files of the family by name (2019-01-01.yaml, '
     "superseded/2019-01-01.32cfebe23efd.yaml), never a path out of it"),
    ('"2019-01-01.yaml\\u0000": "' + SHA_2019 + '"',
     'versions.lock records "2019-01-01.yaml\\u0000": it records files of the family by name (2019-01-01.yaml, '
     "superseded/2019-01-01.32cfebe23efd.yaml), never a path out of it"),
])
def test_a_lock_entry_edited_by_hand_is_named_at_its_line(cli, family, entry, message):
    """Before: an upper-case digest was "published version changed: sha256 1f0e526ad3df… differs from 1F0E526AD3DF…",
    and a path out of the family (or naming an existing file outside it) was accepted."""
    lock = family / "versions.lock"
    lock.write_text('{\n  "2019-01-01.yaml": "' + SHA_2019 + '",\n  ' + entry + "\n}\n"
                    if not entry.startswith('"2019-01-01.yaml": ') else "{\n  " + entry + "\n}\n")
    line = 3 if not entry.startswith('"2019-01-01.yaml": ') else 2
    before = snapshot(family)
    for command in (("validate",), ("lock",), ("show", "--month", "2019-03")):
        result = cli(command[0], family, *command[1:])
        assert result.code == 1
        assert f"{lock}:{line}:1: error bad-lock {message}" in (result.out + result.err).splitlines()
    assert snapshot(family) == before


# ---------------------------------------------------------------------------- a disk full, a read-only directory

def modes(directory):
    return {str(p.relative_to(directory)): p.stat().st_mode for p in sorted(directory.rglob("*"))}


@pytest.mark.slow
def test_publish_on_a_full_disk_writes_nothing_and_says_why(cli, family, monkeypatch):
    """The version's file is written, then the lock fails: the file is removed again. Before: exit 3."""
    from slapolicy.policy import publish as publishing

    def full(directory, lock):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(publishing, "write_lock", full)
    draft = amendment(family)
    before, mode_before = snapshot(family), modes(family)
    result = cli("publish", "--retroactive", family, draft)
    assert result.code == 1
    assert result.out.splitlines() == [
        f"{family / '2020-01-01.yaml'}:1:1: error cannot-write cannot write 2020-01-01.yaml in {family}: "
        "No space left on device"]
    assert result.err == "not published: 1 problem(s); nothing was written\n"
    assert (snapshot(family), modes(family)) == (before, mode_before)  # no temporary file left either


@pytest.mark.slow
def test_publish_and_lock_in_a_read_only_directory_write_nothing_and_say_why(cli, family, monkeypatch):
    from slapolicy.policy import lock as locking
    from slapolicy.policy import publish as publishing

    def read_only(directory, name):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(publishing, "create_beside", read_only)
    monkeypatch.setattr(locking, "create_beside", read_only)
    before = snapshot(family)
    result = cli("publish", "--retroactive", family, amendment(family))
    assert result.code == 1
    assert result.out.splitlines() == [
        f"{family / '2020-01-01.yaml'}:1:1: error cannot-write cannot write 2020-01-01.yaml in {family}: "
        "Read-only file system"]
    (family / "drafts" / "2020-01-01-standard-99.9.yaml").unlink()
    text = copied_by_hand("2020-01-01")
    (family / "2020-01-01.yaml").write_text(text)
    before = snapshot(family)
    result = cli("lock", "--retroactive", family)
    assert result.code == 1
    assert result.err.splitlines() == [
        f"{family / 'versions.lock'}:1:1: error cannot-write cannot write versions.lock in {family}: Read-only file system"]
    assert snapshot(family) == before


@pytest.mark.slow  # starts a Python process of its own (0.7 s)
def test_publish_killed_before_it_recorded_the_version_says_how_to_finish_it_when_run_again(cli, family):
    # `publish` killed (kill -9, the machine losing power) after the version's file was placed and before versions.lock
    # recorded it: every command stops at the version unrecorded (unlocked), as it must. Run again, publish refused
    # the draft with three errors, two of them advice to rewrite it: 'effective_from 2099-06-01 is not after published
    # version 2099-06-01' and 'amends '2019-01-01', but the latest published version is '2099-06-01'', the draft
    # compared with its own half-done publication. It now says what happened and the two ways out.
    import subprocess
    import sys

    draft = amendment(family, effective="2099-06-01",
                      edits=[("make harassing phone calls", "make friendly phone calls")])
    killed = subprocess.run([sys.executable, "-c", "import os, sys; from slapolicy.policy import publish as p; "
                             "p.write_lock = lambda *a, **k: os.kill(os.getpid(), 9); p.publish(sys.argv[1], sys.argv[2])",
                             str(family), str(draft)], capture_output=True)
    assert killed.returncode == -9
    version = family / "2099-06-01.yaml"
    assert version.is_file() and "2099-06-01.yaml" not in json.loads((family / "versions.lock").read_text())
    before = snapshot(family)
    again = cli("publish", family, draft)
    line = next(n for n, row in enumerate(draft.read_text().splitlines(), 1) if row.startswith("effective_from:"))
    assert (again.code, again.out.splitlines()) == (1, [
        f"{draft}:{line}:17: error publish-unfinished this draft was being published as {version} when that publish "
        "stopped before recording it in versions.lock (its process killed, or the machine losing power): the file holds "
        f"the bytes publish writes of this draft. Finish the publication with `slapolicy lock {family}`, which checks "
        f"it as publish does and records it, or remove the file (rm {version}) and publish again; nothing was written"])
    assert snapshot(family) == before
    # Finished as told: recorded, and the draft is then published already.
    assert cli("lock", family).out == f"{locked_line(version)}\n"
    assert " error already-published this draft is published already, as " in cli("publish", family, draft).out


def test_every_command_says_an_unrecorded_version_is_an_unfinished_publish_of_its_draft(cli, family):
    # The state a publish killed between placing the version's file and recording it leaves (the test above makes it
    # with kill -9): `publish` run again said so (publish-unfinished), but validate, versions, evaluate and render
    # said only "unlocked … publish drafts with `slapolicy publish …`, or record this file with `slapolicy lock …`",
    # neither naming the draft nor the half-done publish, nor that removing the file is the other way out.
    from slapolicy.policy.publish import published_text

    draft = amendment(family, effective="2099-06-01",
                      edits=[("make harassing phone calls", "make friendly phone calls")])
    version = family / "2099-06-01.yaml"
    version.write_bytes(published_text(draft.read_text()).encode())
    (family / "drafts" / "a-draft-of-other-words.yaml").write_text(draft.read_text().replace("friendly", "kind"))
    before = snapshot(family)
    said = (f"{version}:1:1: error unlocked published version not recorded in versions.lock: the draft {draft} was "
            f"being published as this file when that publish stopped before recording it in versions.lock (its process "
            "killed, or the machine losing power): the file holds the bytes publish writes of that draft. Finish the "
            f"publication with `slapolicy lock {family}`, which checks it as publish does and records it, or remove the "
            f"file (rm {version}) and publish again")
    validated = cli("validate", family)
    assert validated.code == 1 and [row for row in validated.out.splitlines() if " error " in row] == [said]
    assert said in cli("validate", version).out.splitlines()
    from conftest import REPO

    for command in (["versions", family], ["render", version],
                    ["evaluate", family, "--month", "2019-03", "--minutes", REPO / "examples" / "ccc" / "minutes.csv"]):
        result = cli(*command)
        assert result.code == 1 and said in result.err.splitlines(), (command, result.err)
    assert snapshot(family) == before
    # A byte more than publish writes of the draft: a file copied in by hand, said as before.
    version.write_bytes(version.read_bytes() + b"# edited\n")
    assert " error unlocked published version not recorded in versions.lock: publish drafts with `slapolicy publish " \
           in cli("validate", family).out
    # Finished as told: recorded, and nothing to say.
    version.write_bytes(published_text(draft.read_text()).encode())
    assert cli("lock", family).out == f"{locked_line(version)}\n"
    assert " error " not in cli("validate", family).out


@pytest.mark.slow
def test_a_published_version_and_its_lock_are_readable_by_everyone_the_umask_allows(cli, family):
    """Before: both were made by tempfile.mkstemp, mode 0600: a service running as another user could not read
    the family any more ("permission denied")."""
    previous = os.umask(0o022)
    try:
        path = published_2020(cli, family)
    finally:
        os.umask(previous)
    assert oct(path.stat().st_mode & 0o777) == "0o644"
    assert oct((family / "versions.lock").stat().st_mode & 0o777) == "0o644"


# ---------------------------------------------------------------------------- values that hide what they are

@pytest.mark.parametrize("old, new, col, message", [
    # Python's `$` matched before a final newline: the percentage passed the schema, and failed as exit 3.
    ('value: "99.5%"\n    met_when', 'value: "99.5%\\n"\n    met_when', 12,
     r"standard must be a percentage like 99.5% — got '99.5%\n'"),
    # ... and this one was silently accepted.
    ('value: "99%"', 'value: "99%\\n"', 12, r"minute_unavailable_below must be a percentage like 99.5% — got '99%\n'"),
    # Python's `\d` took full-width digits for a clause number; the digit is named, since it looks like 1.
    ('ref: "§1.11.1"', 'ref: "§１.11.1"', 8, 'ref must be a clause reference like "§3.1" or "§5.11, §5.12" — got §１.11.1; '
     "it holds U+FF11 FULLWIDTH DIGIT ONE, not ASCII, which may look like the character meant: type it again"),
    ('type: string', 'type: "string\\n"', 11, r"type must be one of: string, boolean, number, cause — got 'string\n'"),
])
def test_a_value_with_a_hidden_line_break_or_foreign_digits_is_refused_at_its_place(cli, family, old, new, col, message):
    draft = amendment(family, edits=[(old, new)])
    line, _ = place(draft.read_text(), new.split("\n")[0])
    refused_by_each(cli, family, draft, ("validate", "publish"), f"{draft}:{line}:{col}: error schema {message}")


@pytest.mark.slow
@pytest.mark.parametrize("character, shown", [("\x00", "U+0000"), ("\x01", "U+0001")])
def test_a_control_character_is_named_at_its_line_and_column(cli, family, character, shown):
    """Before: `1:1: error yaml-syntax not valid YAML: unacceptable character #x0000: ...` and a second line
    `  in "<unicode string>", position 670`, the offset counted in bytes."""
    # "dréft": a character of two bytes before it, so that a byte offset would be read as the wrong column.
    draft = amendment(family, edits=[("status: draft", f"status: dréft{character}")])
    line = next(n for n, row in enumerate(draft.read_text().splitlines(), 1) if row.startswith("status: "))
    before = snapshot(family)
    result = cli("publish", "--retroactive", family, draft)
    assert result.code == 1
    # "status: dréft" is 13 characters: the character is the 14th.
    assert result.out.splitlines() == [f"{draft}:{line}:14: error yaml-character character {shown} is not allowed in "
                                       "a policy file: YAML allows no control characters"]
    assert snapshot(family) == before


# ---------------------------------------------------------------------------- citations of the agreement

@pytest.mark.slow
@pytest.mark.parametrize("old, new, code, message", [
    ('ref: "§1.11.1"', 'ref: "§99.1"', "unknown-ref",
     "timezone cites §99.1, which is not a provision of this agreement (provisions:) nor a clause of §5 (disclaimers:)"),
    # one part of two unknown: only it is named
    ('ref: "§1.11.1"', 'ref: "§1.11.1, §3.7"', "unknown-ref",
     "timezone cites §3.7, which is not a provision of this agreement (provisions:) nor a clause of §5 (disclaimers:)"),
    # a path near one of the document's is named (it said "give its dotted path, like claims.window_closes", a
    # path of another provision), else an example is
    ("applied_by: [compensation.base]", "applied_by: [compensation.bsae]", "unknown-setting",
     "provision §1.3 is applied_by compensation.bsae, which is not a setting of this document: did you mean "
     "compensation.base?"),
    ("applied_by: [compensation.base]", "applied_by: [fees]", "unknown-setting",
     "provision §1.3 is applied_by fees, which is not a setting of this document: give its dotted path, like "
     "claims.window_closes"),
])
def test_a_citation_of_a_provision_or_setting_the_agreement_does_not_have(cli, family, old, new, code, message):
    """Before: accepted; `render` printed §99.1 as cited, and left the misspelt setting out of §1.3 silently."""
    draft = amendment(family, edits=[(old, new)])
    text = draft.read_text()
    line, _ = place(text, new.split(", ")[-1].strip('"]'))  # the line of the part cited, the column of the value
    col = text.splitlines()[line - 1].index(new.split(": ", 1)[1].lstrip("[")) + 1
    refused_by_each(cli, family, draft, ("validate", "publish"), f"{draft}:{line}:{col}: error {code} {message}")


def test_every_citation_of_the_shipped_versions_is_a_provision_of_the_agreement(cli):
    from conftest import DRAFT

    for path in (PUBLISHED, DRAFT):
        result = cli("validate", path)
        assert result.code == 0
        assert " unknown-" not in result.out


# ---------------------------------------------------------------------------- diff shows every change legal makes

@pytest.mark.parametrize("old, new, lines", [
    # The agreement's own words: before, "no changes in the policy's terms".
    ("make harassing phone calls", "make friendly phone calls", [
        "  §8.4 ~ provision §8.4 reworded:",
        "      was: The user shall not cause any harassment or discomfort to other third parties. Do not make harassing "
        "phone calls or provide convenience for harassing phone calls, and the rest time of the called user should be "
        "avoided while using the phone for outgoing calls in compliance. Otherwise, the user shall be solely "
        "responsible for all consequences.",
        "      now: The user shall not cause any harassment or discomfort to other third parties. Do not make friendly "
        "phone calls or provide convenience for harassing phone calls, and the rest time of the called user should be "
        "avoided while using the phone for outgoing calls in compliance. Otherwise, the user shall be solely "
        "responsible for all consequences."]),
    ("applied_by: [compensation.base]", "applied_by: [compensation.monthly_cap]",
     ["  §1.3 ~ provision §1.3 applied_by: compensation.base → compensation.monthly_cap"]),
    # The clause a setting cites, the family, the source: before, none of them was shown.
    ('ref: "§1.11.1"', 'ref: "§1.11.2"', ["  §1.11.2 ~ timezone.ref: §1.11.1 → §1.11.2"]),
    ("family: ccc", "family: other", ["  ~ family: ccc → other"]),
    ("id: ccc-sla", "id: other-sla", [
        "  note: versions of two agreements, ccc-sla and other-sla: neither amends the other, so what follows compares "
        "two texts, not an amendment and the version it changes",
        "  ~ id: ccc-sla → other-sla"]),
    ("document: seed/000_bcc55e94eb86a89b.txt", "document: seed/other.txt",
     ["  Preamble ~ source.document: seed/000_bcc55e94eb86a89b.txt → seed/other.txt"]),
    # A boolean as the file writes it, not as Python prints it ("True").
    ("  ref: \"§1.11.1\"\n  reading: true", "  ref: \"§1.11.1\"\n  reading: false", ["  §1.11.1 ~ timezone.reading: true → false"]),
])
def test_diff_shows_every_change_to_the_words_citations_and_header(cli, tmp_path, old, new, lines):
    text = PUBLISHED.read_text()
    assert old in text
    changed = tmp_path / "changed.yaml"
    changed.write_text(text.replace(old, new, 1))
    result = cli("diff", PUBLISHED, changed)
    assert result.code == 0, result.err
    # the copy says status: published, and no lock records it: noted (test_test_and_diff_of_an_edited_published_...)
    nowhere = f"  note: {changed} says status: published, but no versions.lock records it (published-nowhere)"
    assert nowhere in result.out.splitlines()
    assert [line for line in result.out.splitlines()[1:] if line != nowhere] == lines


def test_diff_says_when_one_version_lacks_the_agreement_s_words(cli):
    from conftest import REPO

    shorter = REPO / "policies" / "ccc" / "superseded" / "2019-01-01.32cfebe23efd.yaml"  # written without provisions:
    result = cli("diff", PUBLISHED, shorter)
    assert result.code == 0
    # 59 provisions in the shipped version: "Preamble", §1 to §8.4 and their sub-items.
    assert result.out.splitlines()[-1] == "  - provisions: the agreement's own words, 59 provision(s), only in the old version"
    assert cli("diff", shorter, PUBLISHED).out.splitlines()[-1] == (
        "  + provisions: the agreement's own words, 59 provision(s), only in the new version")


# ---------------------------------------------------------------------------- time zones of this machine only

@pytest.mark.parametrize("zone", ["localtime", "posixrules", "right/Asia/Singapore", "posix/Asia/Singapore", "Factory"])
@pytest.mark.slow
def test_a_time_zone_that_depends_on_the_machine_is_refused(cli, family, zone):
    """zoneinfo opens these from this machine's files (right/: counting leap seconds, 27 s off): the same version
    would evaluate differently elsewhere, or fail there. Before: accepted wherever the file exists."""
    draft = amendment(family, edits=[("  value: Asia/Singapore", f"  value: {zone}")])
    line, _ = place(draft.read_text(), f"  value: {zone}")
    # (the claim window's examples, at +08:00, fail too where the zone is another: they are listed after it)
    refused_by_each(cli, family, draft, ("publish",), f"{draft}:{line}:10: error bad-timezone '{zone}' is not an IANA "
                                                      "time zone: write a zone's name, like Asia/Singapore or UTC")


@pytest.mark.slow
@pytest.mark.parametrize("zone", ["UTC", "Etc/GMT-8", "America/Argentina/Buenos_Aires"])
def test_iana_zones_are_accepted(cli, family, zone):
    draft = amendment(family, edits=[("  value: Asia/Singapore", f"  value: {zone}")])
    assert " bad-timezone " not in cli("validate", draft).out


# ---------------------------------------------------------------------------- examples written with wrong values

CAP = '{availability: "90%", monthly_fee: "100.00", offset: "80.00", compensation: "20.00"}'
AGGREGATE = '{month: "2019-03", billed_from: "2019-01", billed_to: "2020-12", fee_paid_each_month: "10.00", granted: {"2019-02": "25.00"}, room: "5.00"}'  # noqa: E501


@pytest.mark.parametrize("old, new, rule, message", [
    # Before: "1e2" was 100 and "100.001" a fee of a tenth of a cent: both passed.
    (CAP, CAP.replace('"100.00"', '"1e2"'), "§3.1(2) monthly cap example 1",
     "monthly_fee must be an amount like \"100.00\" (at most 15 digits before the point, 2 after) — got '1e2'"),
    (CAP, CAP.replace('"100.00"', '"100.001"'), "§3.1(2) monthly cap example 1",
     "monthly_fee must be an amount like \"100.00\" (at most 15 digits before the point, 2 after) — got '100.001'"),
    # Before: "expected 20.00, got -180.00", as if a fee could be negative.
    (CAP, CAP.replace('"100.00"', '"-100.00"'), "§3.1(2) monthly cap example 1",
     "monthly_fee must be an amount like \"100.00\" (at most 15 digits before the point, 2 after) — got '-100.00'"),
    # Before: month 13 of 2019 was read as January 2020 ("expected 5.00, got 95.00").
    (AGGREGATE, AGGREGATE.replace('{month: "2019-03"', '{month: "2019-13"'), "§6.1 aggregate cap example 1",
     "month must be a month written YYYY-MM, like 2019-03 — got '2019-13'"),
    # Before: a second grant for "2019-02 " (a space) was counted as another month's.
    (AGGREGATE, AGGREGATE.replace('{"2019-02": "25.00"}', '{"2019-02": "25.00", "2019-02 ": "1.00"}'),
     "§6.1 aggregate cap example 1", "granted '2019-02 ' must be a month written YYYY-MM, like 2019-03 — got '2019-02 '"),
    ('{availability: "99.5%", meets: true}', '{availability: "100.0000001%", meets: true}', "§2.2 standard example 1",
     "availability must be a percentage like \"99.5%\", at most 100% — got '100.0000001%'"),
])
@pytest.mark.slow
def test_an_example_written_with_a_wrong_value_fails_saying_which(cli, family, old, new, rule, message):
    draft = amendment(family, edits=[(old, new)])
    line, col = place(draft.read_text(), new)
    refused_by_each(cli, family, draft, ("test", "publish"),
                    f"{draft}:{line}:{col}: error example-failed FAIL {rule}: {message}")


# ---------------------------------------------------------------------------- a version no listing shows is not read

@pytest.mark.parametrize("name, shown", [("2020-01-01.yaml ", "'.yaml '"), ("2020-01-01.yaml\u200b", "'.yaml\\u200b'")])
def test_a_version_whose_name_ends_in_an_invisible_character_is_reported(cli, family, name, shown):
    """Copied by hand with a trailing space (or a zero-width space from a chat): before, `ls` showed
    2020-01-01.yaml, `validate` passed and `lock` had nothing to lock: the version was silently not read."""
    text = copied_by_hand("2020-01-01")
    (family / name).write_text(text)
    before = snapshot(family)
    for command in ("validate", "lock"):
        result = cli(command, family)
        assert result.code == 1
        assert (f"{family / name}:1:1: error not-read ends in {shown}: only files ending in '.yaml' are read as policy "
                "versions; rename it or move it out of the directory") in (result.out + result.err).splitlines()
    assert snapshot(family) == before


def test_lock_refuses_a_version_whose_own_examples_fail(cli, family):
    """Before: `lock` recorded a hand-copied version whose example says the standard is not met at 99.5 %, which
    `publish` refuses (`test` failed on it, `validate` and `lock` did not run it)."""
    text = copied_by_hand("2020-01-01")
    wrong = '{availability: "99.5%", meets: false}'
    text = text.replace('{availability: "99.5%", meets: true}', wrong, 1)
    (family / "2020-01-01.yaml").write_text(text)
    line, col = place(text, wrong)
    before = snapshot(family)
    result = cli("lock", "--retroactive", family)
    assert result.code == 1
    assert result.err.splitlines() == [f"{family / '2020-01-01.yaml'}:{line}:{col}: error example-failed FAIL §2.2 "
                                       "standard example 1: expected meets: false, got true (availability=99.5%)"]
    assert snapshot(family) == before


@pytest.mark.slow
def test_a_draft_without_amends_is_refused_since_it_could_undo_a_newer_version(cli, family):
    """Before: a warning, and a copy of the 2019 text (standard 99.5 %) published from 2021 silently undid the
    2020 amendment (99.9 %)."""
    published_2020(cli, family)
    draft = amendment(family, name="copied-from-2019.yaml", effective="2021-01-01", amends=None)
    line = next(n for n, row in enumerate(draft.read_text().splitlines(), 1) if row.startswith("version: "))
    before = snapshot(family)
    result = cli("publish", "--retroactive", family, draft)
    assert result.code == 1
    assert result.out.splitlines() == [
        f"{draft}:{line}:10: error amends-missing no amends: say which version this one amends, the text it was "
        'copied from (the latest is 2020-01-01: write amends: "2020-01-01")']
    assert snapshot(family) == before


def test_versions_says_which_draft_it_cannot_list(cli, family):
    """Before: a draft that cannot be read was left out of the list without a word."""
    broken = family / "drafts" / "broken.yaml"
    broken.write_text("id: [\n")
    result = cli("versions", family)
    assert result.code == 0
    assert [line.split()[-1] for line in result.out.splitlines()[1:]] == [str(family / "2019-01-01.yaml")]
    # The YAML ends at line 2 with the list still open.
    assert result.err == (f"{broken}: draft not listed: it cannot be read (1 error(s), the first: yaml-syntax at line 2); "
                          f"`slapolicy validate {broken}` lists them\n")


def test_versions_does_not_list_a_draft_published_already_as_a_draft(cli, family):
    # publish leaves the draft as it was (docs/policy-format.md), and `versions` listed it under the version it became:
    # "2020-01-01 2020-01-01 draft … drafts/2020-01-01-standard-99.9.yaml" below "… published … 2020-01-01.yaml", a
    # draft still waiting, to read the table, of a version in force. It is said once, what it is, and not listed.
    published = published_2020(cli, family)
    draft = family / "drafts" / "2020-01-01-standard-99.9.yaml"
    waiting = amendment(family, name="2021-01-01.yaml", effective="2021-01-01", amends="2020-01-01",
                        edits=[STANDARD_99_9, *EXAMPLES_99_9])
    before = snapshot(family)
    result = cli("versions", family)
    assert result.code == 0
    assert [(line.split()[2], line.split()[-1]) for line in result.out.splitlines()[1:]] == [
        ("published", str(family / "2019-01-01.yaml")), ("published", str(published)), ("draft", str(waiting))]
    assert result.err == (f"{draft}: draft not listed: it is published already, as {published} (version 2020-01-01, "
                          f"sha256 {sha256_of(published)[:16]}…); delete it, or keep it: published again, it is refused "
                          "(already-published)\n")
    as_json = cli("versions", family, "--json")
    assert (as_json.code, as_json.err) == (0, result.err)
    assert [row["file"] for row in as_json.json()["versions"]] == [str(family / "2019-01-01.yaml"), str(published),
                                                                   str(waiting)]
    assert as_json.json()["published_drafts"] == [{"file": str(draft), "published_as": str(published),
                                                   "version": "2020-01-01", "sha256": sha256_of(draft)}]
    # A draft of the same date with another text is a draft still (publish refuses it: not after 2020-01-01).
    draft.write_text(draft.read_text().replace('title: Cloud Contact Center Service Level Agreement',
                                               'title: Cloud Contact Center Service Level Agreement (amended)'))
    assert ("draft", str(draft)) in [(line.split()[2], line.split()[-1]) for line in cli("versions", family).out.splitlines()]
    assert cli("versions", family).err == ""
    assert snapshot(family) == {**before, "drafts/2020-01-01-standard-99.9.yaml": draft.read_bytes()}


# ---------------------------------------------------------------------------- a published version that is a link

@pytest.mark.slow
def test_a_published_version_that_is_a_symbolic_link_is_refused_even_once_recorded(cli, family, tmp_path):
    # A link to a file outside the family was recorded by `lock` and governed from its date: its words lived where
    # version control keeps only the link, and whoever could write there, or point the link elsewhere, chose them.
    outside = tmp_path / "elsewhere.yaml"
    outside.write_text(copied_by_hand("2020-01-01"))
    link = family / "2020-01-01.yaml"
    link.symlink_to(outside)
    message = (f"{link}:1:1: error symlink a published version is a file of the family, not a symbolic link (to "
               f"{outside}): copy the file in its place")
    before = snapshot(family)
    for command in (("validate",), ("lock", "--retroactive"), ("show", "--month", "2020-03")):
        result = cli(command[0], family, *command[1:])
        assert result.code == 1 and message in (result.out + result.err).splitlines(), command
    assert snapshot(family) == before and link.is_symlink()
    # Recorded by hand in the lock, it is refused all the same: the link is the problem, not its bytes.
    lock = json.loads((family / "versions.lock").read_text())
    lock["2020-01-01.yaml"] = __import__("hashlib").sha256(outside.read_bytes()).hexdigest()
    (family / "versions.lock").write_text(json.dumps(lock))
    result = cli("validate", family)
    assert result.code == 1 and [line for line in result.out.splitlines() if " error " in line] == [message]


# ---------------------------------------------------------------------------- a published version rewritten, not edited

def refused_first_line(cli, family) -> str:
    """The first line `validate` prints of ``family``, which it refuses (exit 1) without writing anything."""
    before = snapshot(family)
    result = cli("validate", family)
    assert result.code == 1
    assert snapshot(family) == before
    return result.out.splitlines()[0]


@pytest.mark.parametrize("rewrite, said", [
    (lambda b: b.replace(b"\n", b"\r\n"), "its line endings (CRLF, as Windows editors and git's core.autocrlf write "
                                          "them, where it was published with LF)"),
    (lambda b: b"\xef\xbb\xbf" + b, "a byte order mark added at its start"),
    (lambda b: b + b"\n", "the line breaks at its end"),
    (lambda b: b.rstrip(b"\n"), "the line breaks at its end"),
    (lambda b: b"\xef\xbb\xbf" + b.replace(b"\n", b"\r\n"),
     "a byte order mark added at its start and its line endings (CRLF, as Windows editors and git's core.autocrlf "
     "write them, where it was published with LF)"),
])
def test_a_published_version_rewritten_without_a_word_changed_says_so_and_how_to_restore_it(cli, family, rewrite, said):
    # A checkout with core.autocrlf (or Notepad's BOM) changed no word, yet was told "published version changed ...
    # put the change in a new version": there is no change to put anywhere; the bytes are to be restored.
    import hashlib

    published = family / "2019-01-01.yaml"
    published.write_bytes(rewrite(published.read_bytes()))
    digest = hashlib.sha256(published.read_bytes()).hexdigest()
    assert refused_first_line(cli, family) == (
        f"{published}:1:1: error published-changed published version rewritten: its bytes differ from those recorded "
        f"in versions.lock only in {said}, so nothing it says changed, yet its sha256 {digest[:12]}… is not the "
        f"{SHA_2019[:12]}… every decision made under it records. Restore the published bytes (git checkout -- "
        f"{published}; with git, `*.yaml -text` in .gitattributes keeps a checkout from rewriting them)")


@pytest.mark.parametrize("published_as, said", [
    (lambda b: b.replace(b"\n", b"\r\n"), "its line endings (LF, where it was published with CRLF, as a Windows editor "
                                          "saved it before publish came to write every version with LF)"),
    (lambda b: b.replace(b"\n", b"\r\n")[:-2], "its line endings (LF, where it was published with CRLF, as a Windows "
                                               "editor saved it before publish came to write every version with LF) "
                                               "and the line breaks at its end"),
])
@pytest.mark.slow
def test_a_version_published_with_crlf_then_saved_with_lf_is_said_to_differ_only_in_its_line_endings(
        cli, family, published_as, said):
    # A draft saved by a Windows editor was published with its CRLF before publish wrote LF; an editor or a checkout
    # that later gave the file LF was told "published version changed: sha256 … differs … put the change in a new
    # version", where no word changed and the published bytes are to be restored.
    import hashlib

    published = family / "2019-01-01.yaml"
    lf = published.read_bytes()
    crlf = published_as(lf)
    lock = json.loads((family / "versions.lock").read_text())
    lock["2019-01-01.yaml"] = recorded = hashlib.sha256(crlf).hexdigest()  # as an earlier publish recorded it
    (family / "versions.lock").write_text(json.dumps(lock, indent=2) + "\n")
    published.write_bytes(crlf)
    assert cli("validate", family).code == 0
    published.write_bytes(lf)  # saved again by an editor that writes LF
    assert refused_first_line(cli, family) == (
        f"{published}:1:1: error published-changed published version rewritten: its bytes differ from those recorded "
        f"in versions.lock only in {said}, so nothing it says changed, yet its sha256 {SHA_2019[:12]}… is not the "
        f"{recorded[:12]}… every decision made under it records. Restore the published bytes (save it with CRLF line "
        f"endings again, as a Windows editor does, or git checkout -- {published}; with git, `*.yaml -text` in "
        ".gitattributes keeps a checkout from rewriting them)")


def test_a_published_version_with_a_word_changed_is_still_a_change(cli, family):
    published = family / "2019-01-01.yaml"
    published.write_bytes(published.read_bytes().replace(b"\n", b"\r\n").replace(b'"99.5%"', b'"99.4%"', 1))
    assert refused_first_line(cli, family).startswith(f"{published}:1:1: error published-changed published version "
                                                      "changed: ")


def test_a_published_version_edited_in_place_says_how_to_keep_the_edit_and_restore_the_version(cli, family):
    # A lawyer who edited the published file instead of a draft was told "A published version never changes; put the
    # change in a new version": neither how to keep the edit made, nor how to give the family its version back.
    import hashlib

    published = family / "2019-01-01.yaml"
    published.write_bytes(published.read_bytes().replace(b'"99.5%"', b'"99.4%"', 1))
    digest = hashlib.sha256(published.read_bytes()).hexdigest()
    assert refused_first_line(cli, family) == (
        f"{published}:1:1: error published-changed published version changed: sha256 {digest[:12]}… differs from "
        f"{SHA_2019[:12]}… in versions.lock. A published version never changes: to keep the edit, copy the file into "
        f"{family / 'drafts'} and publish it as an amendment, with its own effective_from; then restore the published "
        f"bytes (git checkout -- {published})")


# ---------------------------------------------------------------------------- a file saying published that nothing records

TIER_WARNING = ("{line}:7: warning tier-unreachable tier 1 [99 %, 99.95 %) (§3.1) is unreachable in [99.5 %, 99.95 %): the gate "
                "(§2.2, §3) pays only when availability is below the standard of 99.5 % (§2.2), so there the tier "
                "matches but nothing is owed")


def tier_warning(text: str) -> str:
    """The shipped tier warning, at the first tier's line in ``text``."""
    return TIER_WARNING.format(line=place(text, '{at_least: "99%"')[0])


ONLY_PUBLISH = "Only `slapolicy publish` makes a version published: if it is a draft, write status: draft"


def status_place(text: str) -> str:
    line, col = place(text, "status: published")
    return f"{line}:{col + len('status: ')}"


def in_review(family, name: str, content: bytes):
    """A file copied by hand into a folder of the family (a review's), not published there: its path."""
    copy = family / "review" / name
    copy.parent.mkdir()
    copy.write_bytes(content)
    return copy


def test_a_copy_saying_published_in_a_folder_of_a_family_is_said_to_be_published_nowhere(cli, family):
    # A published version copied by hand into a folder of the family (a review's, say) and turned into an amendment
    # kept status: published: validate said only the shipped tier warning, and render, show and a redline print
    # "(published)" for a version the family never published. The lock above it is read, and names it.
    text = copied_by_hand("2020-01-01")
    copy = in_review(family, "2020-01-01.yaml", text.encode())
    before = snapshot(family)
    result = cli("validate", copy)
    assert result.code == 0 and snapshot(family) == before
    assert result.out.splitlines() == [
        f"{copy}:{status_place(text)}: warning published-nowhere status is published, but {family}/versions.lock records "
        f"no file with this file's sha256 ({sha256_of(copy)[:12]}…): it is no published version of {family}. "
        f"{ONLY_PUBLISH} and keep it under {family}/drafts",
        f"{copy}:{tier_warning(text)}"]
    assert result.err == "1 file(s) checked: 0 error(s), 2 warning(s)\n"


def test_an_edited_copy_of_a_published_version_names_the_version_published_under_its_label(cli, family):
    text = reworded(PUBLISHED.read_text())
    copy = in_review(family, "2019-01-01.yaml", text.encode())
    (line,) = [line for line in cli("validate", copy).out.splitlines() if "published-nowhere" in line]
    assert line == (f"{copy}:{status_place(text)}: warning published-nowhere status is published, but "
                    f"{family}/versions.lock records no file with this file's sha256 ({sha256_of(copy)[:12]}…): it is no "
                    f"published version of {family}; version 2019-01-01 is published there as {family}/2019-01-01.yaml "
                    f"(sha256 {SHA_2019[:12]}…), with other bytes (`slapolicy diff {family}/2019-01-01.yaml {copy}` "
                    f"shows what differs). {ONLY_PUBLISH} and keep it under {family}/drafts")


def test_a_copy_saying_published_outside_any_family_says_nothing_shows_it_published(cli, tmp_path):
    text = copied_by_hand("2020-01-01")
    copy = tmp_path / "desktop" / "2020-01-01.yaml"
    copy.parent.mkdir()
    copy.write_text(text)
    result = cli("validate", copy)
    assert result.code == 0
    assert result.out.splitlines() == [
        f"{copy}:{status_place(text)}: warning published-nowhere status is published, but no versions.lock beside this "
        f"file or in a folder above it records it, so nothing shows it is a published version (its sha256 is "
        f"{sha256_of(copy)[:12]}…; `slapolicy versions FAMILY` lists each published version's). {ONLY_PUBLISH}",
        f"{copy}:{tier_warning(text)}"]


def test_render_of_a_copy_published_nowhere_says_so_where_it_printed_published(cli, family):
    # render printed "Version 2020-01-01 (published), effective 2020-01-01" for a copy no lock records, the very
    # document sent for review presenting an unpublished amendment as published; validate warned, render said nothing.
    text = copied_by_hand("2020-01-01")
    copy = in_review(family, "2020-01-01.yaml", text.encode())
    before = snapshot(family)
    warning = (f"{copy}:{status_place(text)}: warning published-nowhere status is published, but {family}/versions.lock "
               f"records no file with this file's sha256 ({sha256_of(copy)[:12]}…): it is no published version of "
               f"{family}. {ONLY_PUBLISH} and keep it under {family}/drafts")
    header = ("Version 2020-01-01 (published nowhere: it says status: published, but no versions.lock records it), "
              "effective 2020-01-01, amends 2019-01-01")
    text_page = cli("render", copy)
    assert (text_page.code, text_page.err) == (0, warning + "\n")
    assert text_page.out.splitlines()[1] == header
    assert "(published)" not in text_page.out
    html_page = cli("render", copy, "--format", "html")
    assert (html_page.code, html_page.err) == (0, warning + "\n")
    assert ('<p class="meta">Version 2020-01-01 (published nowhere: it says status: published, but no versions.lock '
            'records it), effective 2020-01-01, amends 2019-01-01.') in html_page.out
    assert "(published)" not in html_page.out
    assert snapshot(family) == before
    # The published version itself, recorded by its lock, is rendered as it always was, without a word on stderr.
    published = cli("render", family / "2019-01-01.yaml")
    assert (published.code, published.err) == (0, "")
    assert published.out.splitlines()[1] == "Version 2019-01-01 (published), effective 2019-01-01"


def test_render_of_a_draft_saying_published_says_it_is_published_nowhere(cli, family):
    # Under drafts/, status: published is validate's error draft-status, which render leaves aside as it renders a
    # draft from anywhere (a placement code): it printed "Version 2020-01-01 (published)" for the draft.
    text = copied_by_hand("2020-01-01")
    draft = family / "drafts" / "2020-01-01.yaml"
    draft.write_text(text)
    before = snapshot(family)
    result = cli("render", draft)
    assert (result.code, result.err) == (0, (
        f"{draft}:{status_place(text)}: warning published-nowhere status is published, but {family}/versions.lock "
        f"records no file with this file's sha256 ({sha256_of(draft)[:12]}…): it is no published version of "
        f"{family}. {ONLY_PUBLISH} and keep it under {family}/drafts\n"))
    assert result.out.splitlines()[1] == ("Version 2020-01-01 (published nowhere: it says status: published, but no "
                                          "versions.lock records it), effective 2020-01-01, amends 2019-01-01")
    # validate says it once, as the error it is there (draft-status), not twice
    assert "published-nowhere" not in cli("validate", draft).out
    assert snapshot(family) == before


@pytest.mark.parametrize("named", ["v3.yaml", "./v3.yaml"])
def test_a_draft_saying_published_named_bare_from_inside_drafts_is_told_draft_status(cli, family, monkeypatch, named):
    # `cd policies/ccc/drafts; slapolicy validate v3.yaml` said `file-name file is named v3.yaml but effective_from is
    # 2020-01-01: a published version is named 2020-01-01.yaml`, advice to rename a draft into a published version's
    # name: lint read the folder from the path as given, whose parent is "." there. Named by its whole path, the same
    # file was told what is really wrong, draft-status, with the family's warnings beside it: so it is now, named bare.
    text = copied_by_hand("2020-01-01")
    draft = family / "drafts" / "v3.yaml"
    draft.write_text(text)
    whole = cli("validate", draft)
    assert whole.code == 1
    assert f"{draft}:{status_place(text)}: error draft-status status is published, but a file under drafts/ is a draft: " \
        "a version is published only by `slapolicy publish`, which writes it among the published versions with status: " \
        "published; write status: draft (a published version moved here goes back among the published versions: " \
        "validate names it)" in whole.out.splitlines()
    before = snapshot(family)
    monkeypatch.chdir(family / "drafts")
    bare = cli("validate", named)
    assert (bare.code, bare.err) == (whole.code, whole.err)
    shown = str(Path(named))  # as every message names it: "./v3.yaml" is "v3.yaml"
    assert bare.out == whole.out.replace(f"{draft}:", f"{shown}:")
    assert "file-name" not in bare.out and "published-nowhere" not in bare.out
    # render leaves draft-status aside, as for the whole path, and says the file is published nowhere
    assert cli("render", named).err == cli("render", draft).err.replace(f"{draft}:", f"{shown}:")
    assert snapshot(family) == before


def test_render_and_validate_of_an_edited_published_version_refuse_it_as_its_family_does(cli, family):
    # `validate policies/ccc/2019-01-01.yaml` of the published file edited in place said only the content's warnings,
    # exit 0, and `render` printed the edited text as "Version 2019-01-01 (published)": the file's own checks never
    # read the lock beside it. Every command reading the family refuses it (published-changed): so do these, alike.
    published = family / "2019-01-01.yaml"
    published.write_text(reworded(published.read_text()))
    family_says = [line for line in cli("validate", family).out.splitlines() if " error " in line]
    assert len(family_says) == 1 and " error published-changed published version changed: sha256 " in family_says[0]
    before = snapshot(family)
    validated = cli("validate", published)
    assert validated.code == 1 and family_says[0] in validated.out.splitlines()
    rendered = cli("render", published)
    assert (rendered.code, rendered.out, rendered.err) == (1, "", family_says[0] + "\n")
    # diff still compares it, judged by its content alone: it is how the edit is seen before it is undone.
    assert cli("diff", PUBLISHED, published).out.splitlines()[-1] == (
        "  ~ title: Cloud Contact Center Service Level Agreement → Cloud Contact Center Service Level Agreement "
        "(amended)")
    assert snapshot(family) == before


def test_test_and_diff_of_an_edited_published_version_say_what_its_lock_says(cli, family):
    # `test policies/ccc/2019-01-01.yaml` of the published file edited in place ran its examples and said "19 passed,
    # 0 failed", exit 0, and `test FAMILY` alike: the examples of a text that is not the version published, passing,
    # read as the published version's. `diff` compared it without a word, under the heading "ccc-sla 2019-01-01 →
    # …", the redline sent for review presenting an edited file as version 2019-01-01. Both now say what the lock
    # says (published-changed, as validate and render do): test fails, exit 1, its examples still run (the edit's
    # effect on them is worth seeing); diff still compares (it is how the edit is seen before it is undone), and says
    # it on standard error and as a note of its output.
    published = family / "2019-01-01.yaml"
    published.write_text(reworded(published.read_text()))
    (family_says,) = [line for line in cli("validate", family).out.splitlines() if " error " in line]
    before = snapshot(family)
    for given in (published, family):
        tested = cli("test", given)
        assert tested.code == 1
        assert tested.out.splitlines()[0] == family_says
        assert tested.out.splitlines()[-1].endswith(" passed, 0 failed")  # the examples ran, and passed
    diffed = cli("diff", PUBLISHED, published)
    assert (diffed.code, diffed.err) == (0, family_says + "\n")
    note = (f"  note: {published} is not the published version 2019-01-01 its name and label say: "
            "its bytes differ from those versions.lock records (published-changed)")
    assert diffed.out.splitlines()[1] == note
    assert diffed.out.splitlines()[-1] == (
        "  ~ title: Cloud Contact Center Service Level Agreement → Cloud Contact Center Service Level Agreement "
        "(amended)")
    assert note[len("  note: "):] in cli("diff", PUBLISHED, published, "--json").json()["notes"]
    assert snapshot(family) == before
    # The published version as recorded: nothing said, by either.
    published.write_bytes(PUBLISHED.read_bytes())
    tested, diffed = cli("test", published), cli("diff", PUBLISHED, published)
    assert (tested.code, diffed.code, diffed.err) == (0, 0, "") and "error" not in tested.out
    assert " note: " not in diffed.out


def test_test_of_a_version_copied_into_the_family_unrecorded_says_it_is_unlocked(cli, family):
    copy = family / "2020-01-01.yaml"
    copy.write_text(copied_by_hand("2020-01-01"))
    (family_says,) = [line for line in cli("validate", family).out.splitlines() if " error " in line]
    tested = cli("test", copy)
    assert tested.code == 1 and tested.out.splitlines()[0] == family_says
    # A copy published nowhere (no lock beside it): a warning, as validate and render say it; the examples decide.
    elsewhere = family.parent / "review" / "2020-01-01.yaml"
    elsewhere.parent.mkdir()
    elsewhere.write_text(copied_by_hand("2020-01-01"))
    tested = cli("test", elsewhere)
    assert tested.code == 0 and " warning published-nowhere " in tested.out.splitlines()[0]


@pytest.mark.parametrize("kept", ["2019-01-01.yaml", "superseded/2019-01-01.32cfebe23efd.yaml"])
@pytest.mark.parametrize("edit", ["yaml", "schema", "too-large"])
def test_an_edit_that_breaks_a_published_file_is_told_both_what_broke_and_that_the_file_never_changes(cli, family,
                                                                                                     kept, edit):
    # A published version (or an encoding a correction kept) edited until its YAML broke: `validate FILE` and `render
    # FILE` said only where the YAML broke (`render` of a superseded encoding too), and legal, mending the YAML, was
    # never told it is a file that never changes. `validate FAMILY` said both; so do they now, alike.
    path = family / kept
    text = path.read_text()
    # too-large: a file of over 2 MB (a log pasted in as a comment) is not read as a policy, and was told only that
    broken = {"yaml": text + "foo: [\n", "schema": text.replace('value: "99.5%"', "value: 99.9", 1),
              "too-large": text + "# " + "x" * (3 << 20) + "\n"}[edit]
    assert broken != text
    path.write_text(broken)
    changed = [line for line in cli("validate", family).out.splitlines() if f"{path}:1:1: error published-changed " in line]
    assert len(changed) == 1
    before = snapshot(family)
    validated = cli("validate", path)
    assert validated.code == 1 and validated.err == "1 file(s) checked: 2 error(s), 0 warning(s)\n"
    lines = validated.out.splitlines()
    assert lines[0] == changed[0]
    assert lines[1].startswith(f"{path}:") and lines[1].split(" ")[2] == {"yaml": "yaml-syntax"}.get(edit, edit)
    rendered = cli("render", path)
    assert (rendered.code, rendered.out, rendered.err.splitlines()) == (1, "", lines)
    assert snapshot(family) == before


def test_a_broken_draft_beside_the_lock_is_told_only_what_broke(cli, family):
    # The lock records no file of its name: what the file is cannot be read, so nothing is said of the record.
    draft = family / "2020-01-01.yaml"
    draft.write_text("status: draft\nfoo: [\n")
    validated = cli("validate", draft)
    assert validated.code == 1
    assert [line.split(" ")[2] for line in validated.out.splitlines()] == ["yaml-syntax"]
    assert [line.split(" ")[2] for line in cli("render", draft).err.splitlines()] == ["yaml-syntax"]


def test_render_and_validate_of_a_version_copied_into_the_family_unrecorded_refuse_it_as_its_family_does(cli, family):
    # A version copied in by hand beside the published ones, its lock not run: validate of the file alone said
    # nothing of the lock, and render printed "(published)"; `validate FAMILY` says unlocked, an error.
    copy = family / "2020-01-01.yaml"
    copy.write_text(copied_by_hand("2020-01-01"))
    family_says = [line for line in cli("validate", family).out.splitlines() if " error " in line]
    assert family_says == [f"{copy}:1:1: error unlocked published version not recorded in versions.lock: publish "
                           f"drafts with `slapolicy publish {family} DRAFT.yaml`, or record this file with "
                           f"`slapolicy lock {family}`"]
    before = snapshot(family)
    validated = cli("validate", copy)
    assert validated.code == 1 and family_says[0] in validated.out.splitlines()
    assert cli("render", copy).code == 1 and family_says[0] in cli("render", copy).err.splitlines()
    assert snapshot(family) == before


def test_a_copy_of_a_published_version_its_family_records_is_said_nothing_of(cli, family):
    # The bytes the lock records, kept beside the family (a backup, a reviewer's copy): it is that published version.
    copy = in_review(family, "2019-01-01.yaml", PUBLISHED.read_bytes())
    result = cli("validate", copy)
    assert result.code == 0 and result.out.splitlines() == [f"{copy}:{tier_warning(PUBLISHED.read_text())}"]
    # A draft, or the family's own versions validated in place, are not asked: said by draft-status and unlocked.
    assert "published-nowhere" not in cli("validate", family).out


def edited_until_read(family, monkeypatch):
    """The family's published 2019-01-01 edited (its title reworded) until it is first read, then restored (by
    version control, say): (the file, its bytes restored, [the bytes that first read read])."""
    from slapolicy.policy import directory as policy_directory

    published = family / "2019-01-01.yaml"
    original = published.read_bytes()
    published.write_text(reworded(published.read_text()))
    read, reads = policy_directory.read_limited, []

    def read_then_restore(path, what, limit):
        content = read(path, what, limit)
        if os.path.samefile(path, published) and not reads:
            reads.append(content)
            published.write_bytes(original)  # restored, by version control say, once read
        return content

    monkeypatch.setattr(policy_directory, "read_limited", read_then_restore)
    return published, original, reads


@pytest.mark.parametrize("command", ["render", "validate"])
def test_a_published_file_edited_and_restored_while_it_is_read_is_judged_by_the_bytes_read(cli, family, monkeypatch,
                                                                                          command):
    # render and validate of a file read it twice: once to check and render it, once to ask the lock about it. Edited
    # (its title reworded) when the first read came, restored before the second, the edited text was rendered as
    # 'Version 2019-01-01 (published)' with exit 0, the lock asked about bytes it never showed.
    published, original, reads = edited_until_read(family, monkeypatch)
    result = cli(command, published)
    assert len(reads) == 1 and reads[0] != original
    assert result.code == 1
    changed = (f"{published}:1:1: error published-changed published version changed: sha256 "
               f"{hashlib.sha256(reads[0]).hexdigest()[:12]}… differs")
    assert (result.err if command == "render" else result.out).startswith(changed)
    assert "(amended)" not in result.out and published.read_bytes() == original


@pytest.mark.parametrize("link", ["hard", "symbolic"])
def test_a_draft_that_is_the_published_version_itself_is_refused_not_told_to_say_draft(cli, family, link):
    # `ln` (or `cp -l`, or `ln -s`) where `cp` was meant: validate told the draft, saying status: published, to
    # 'write status: draft' in it, which wrote it in the published version (one file under two names).
    published = family / "2019-01-01.yaml"
    draft = family / "drafts" / "2020-01-01.yaml"
    if link == "hard":
        os.link(published, draft)
    else:
        draft.symlink_to(os.path.join("..", "2019-01-01.yaml"))
    before = snapshot(family)
    how = "a hard link: one file under two names" if link == "hard" else "a symbolic link to it"
    refused = (f"{draft}:1:1: error draft-is-published this draft is {published} itself, not a copy of it ({how}): "
               "whatever is written in it is written in that file, which never changes. Remove it (rm "
               f"{draft}: {published} stays) and copy the published file instead (cp {published} {draft})")
    for given in (draft, family):
        result = cli("validate", given)
        assert result.code == 1 and refused in result.out.splitlines(), given
        assert "draft-status" not in result.out and "write status: draft" not in result.out
    # versions listed it as a second published row of 2019-01-01
    result = cli("versions", family)
    assert result.code == 0 and len(result.out.splitlines()) == 2 and str(draft) not in result.out
    assert result.err == (f"{draft}: draft not listed: this draft is {published} itself, not a copy of it ({how}); "
                          f"`slapolicy validate {draft}` says how to put it right\n")
    assert snapshot(family) == before


@pytest.mark.parametrize("command", [("validate",), ("evaluate", "--month", "2019-03")])
def test_a_family_whose_version_is_edited_and_restored_while_it_is_read_is_judged_by_the_bytes_read(
        cli, family, monkeypatch, command):
    # The family's reading (every command that reads it: validate FAMILY, evaluate, claim, replay, serve) read each
    # version twice: once to load and check it, once to ask the lock about it (lint_directory). Edited (its title
    # reworded) when the first read came and restored before the second, the edited text was the version evaluated,
    # and the lock was asked about other bytes: validate exit 0, evaluate decided the month under it.
    from conftest import REPO
    published, original, reads = edited_until_read(family, monkeypatch)
    data = ("--minutes", REPO / "examples" / "ccc" / "minutes.csv") if command[0] == "evaluate" else ()
    result = cli(command[0], family, *command[1:], *data)
    assert len(reads) == 1 and reads[0] != original
    changed = (f"{published}:1:1: error published-changed published version changed: sha256 "
               f"{hashlib.sha256(reads[0]).hexdigest()[:12]}… differs")
    assert result.code == 1 and changed in result.out + result.err
    assert '"evaluations"' not in result.out and published.read_bytes() == original


def test_a_draft_copied_from_a_superseded_encoding_is_told_it_undoes_the_correction(cli, family):
    # `cp policies/ccc/superseded/2019-01-01.32cfebe23efd.yaml drafts/x.yaml`, its header made an amendment: validate
    # and publish said only that its rules had no examples, and publish wrote a version taking back, from 2027, the
    # correction of 2019-01-01 (§5.7's causation among its changes): `diff` showed those as the amendment's own.
    kept = family / "superseded" / "2019-01-01.32cfebe23efd.yaml"
    text = kept.read_text()
    for old, new in (("status: published", "status: draft"), ('version: "2019-01-01"', 'version: "2027-01-01"'),
                     ('effective_from: "2019-01-01"', 'effective_from: "2027-01-01"\namends: "2019-01-01"'),
                     ("The whole seed text", "An amendment of the whole seed text")):
        assert old in text
        text = text.replace(old, new, 1)
    draft = family / "drafts" / "from-superseded.yaml"
    draft.write_text(text)
    line, col = place(text, 'amends: "2019-01-01"')
    warning = (f"{draft}:{line}:{col + len('amends: ')}: warning correction-undone where version 2019-01-01 was "
               f"corrected, this draft holds the text the correction replaced, that of {kept}: 10 of the 11 change(s) "
               "of the correction are undone (availability.partial_minutes.description, "
               "claims.required_materials.event_report.requires, claims.required_materials.failure_records.requires, "
               "compensation.gate.description, compensation.gate.text and 5 more). A draft copied from a superseded "
               f"encoding takes the correction back from its effective_from on: copy the published version instead (cp "
               f"{family / '2019-01-01.yaml'} {draft}) and make the amendment's changes again; if a change back is "
               "meant, say so in its description")
    validated = cli("validate", draft)
    assert validated.code == 0 and warning in validated.out.splitlines()
    published = cli("publish", family, draft)
    assert published.code == 0 and warning in published.out.splitlines() + published.err.splitlines()
    # A draft copied from the published file, as the recipe says, is told nothing of it
    assert "correction-undone" not in cli("validate", DRAFT).out


def test_a_command_a_message_gives_to_copy_is_quoted_for_the_shell_where_a_name_holds_a_space(cli, tmp_path):
    # A family kept in "Legal Shared/ccc", a draft saved as "merge key.yaml": `versions` said "`slapolicy validate
    # drafts/merge key.yaml` lists them" and validate "(git checkout -- /…/Legal Shared/ccc/2019-01-01.yaml)", which,
    # pasted, validated drafts/merge and key.yaml and checked out two paths that do not exist.
    import shlex
    import shutil

    family = tmp_path / "Legal Shared" / "ccc"
    shutil.copytree(PUBLISHED.parent, family, ignore=shutil.ignore_patterns("drafts"))
    (family / "drafts").mkdir()
    draft = family / "drafts" / "merge key.yaml"
    draft.write_text("status: draft\nfoo: [\n")
    listed = cli("versions", family)
    command = listed.err.split("`")[1]
    assert shlex.split(command) == ["slapolicy", "validate", str(draft)]
    draft.unlink()
    published = family / "2019-01-01.yaml"
    published.write_text(reworded(published.read_text()))
    before = snapshot(family)
    said = cli("validate", published)
    assert said.code == 1
    changed = next(line for line in said.out.splitlines() if " error published-changed " in line)
    restore = changed.split("git checkout -- ", 1)[1].rsplit(")", 1)[0]
    assert shlex.split(restore) == [str(published)]
    assert snapshot(family) == before


def test_anchors_across_tiers_and_a_merge_key_in_a_tier_are_refused_with_what_to_write_and_nothing_published(cli,
                                                                                                              family):
    # An editor saving typing: the tiers' shared bound as an anchor (&b95 in tier 2, *b95 in tier 3), the credit of a
    # tier merged in (<<). Refused, as before, but told only "policy files may not use anchors or aliases".
    from test_publish import amendment

    draft = amendment(family, effective="2027-01-01", edits=[
        ('{at_least: "95%", below: "99%", credit: "25%"', '{at_least: &b95 "95%", below: "99%", credit: "25%"'),
        ('{below: "95%", credit: "50%"', '{below: *b95, credit: "50%"'),
        ('{at_least: "99%", below: "99.95%", credit: "10%"', '{<<: {credit: "10%"}, at_least: "99%", below: "99.95%"')])
    text = draft.read_text()
    anchor, alias, merge = place(text, "&b95"), place(text, "*b95"), place(text, "<<:")
    expected = [
        f"{draft}:{merge[0]}:{merge[1]}: error yaml-merge merge keys (<<) are not allowed in a policy file: write out "
        "in this mapping each key the merge would bring in, so that it reads whole where it stands",
        f"{draft}:{anchor[0]}:{anchor[1]}: error yaml-anchor anchor &b95 refused: policy files may not use anchors or "
        "aliases; remove &b95 and write its value out wherever *b95 stands",
        f"{draft}:{alias[0]}:{alias[1]}: error yaml-alias alias *b95 refused: policy files may not use anchors or "
        "aliases; write out here the value &b95 names, so that each value reads where it applies"]
    validated = cli("validate", draft)
    assert validated.code == 1
    assert [line for line in validated.out.splitlines() if " yaml-" in line] == expected[1:]
    before = snapshot(family)
    published = cli("publish", family, draft)
    assert published.code == 1 and published.err.endswith("nothing was written\n")
    assert set(expected[1:]) <= set(published.out.splitlines())
    assert snapshot(family) == before
    # the anchors written out, the merge key is told (the anchors are refused before the document is read)
    draft.write_text(text.replace("&b95 ", "").replace("*b95", '"95%"'))
    assert [line for line in cli("validate", draft).out.splitlines() if " yaml-" in line] == expected[:1]
    before = snapshot(family)
    published = cli("publish", family, draft)
    assert published.code == 1 and published.err.endswith("nothing was written\n")
    assert expected[0] in published.out.splitlines()
    assert snapshot(family) == before
