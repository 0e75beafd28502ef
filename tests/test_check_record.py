"""The record of policy checks passed (docs/cli.md, "Checks passed are recorded"): a second process does not
check again a file whose bytes and checker are unchanged; a changed byte, a failing file, a corrupt record, an
unwritable or disabled cache all mean a full check, with the messages of a full check."""
import dataclasses
import json
import subprocess
import sys
from collections import OrderedDict

import pytest

from conftest import PUBLISHED, REPO
from slapolicy.plugins import get_manager, make_manager
from slapolicy.cache import cache_directory
from slapolicy.policy import check_record, directory
from slapolicy.policy.load import YamlDocument, load_yaml

WARNING = ("2019-01-01.yaml:127:7: warning tier-unreachable tier 1 [99 %, 99.95 %) (§3.1) is unreachable in "
           "[99.5 %, 99.95 %): the gate (§2.2, §3) pays only when availability is below the standard of 99.5 % (§2.2), "
           "so there the tier matches but nothing is owed")


@pytest.fixture
def checks(tmp_path, monkeypatch):
    """Records under tmp_path/cache; the process's own memo emptied; the schema validations counted."""
    monkeypatch.setenv("SLAPOLICY_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(directory, "_CHECKED", OrderedDict())
    validated = []
    schema_diagnostics = directory.schema_diagnostics
    monkeypatch.setattr(directory, "schema_diagnostics", lambda doc: validated.append(doc.filename) or schema_diagnostics(doc))

    def read(path, run_examples=False):
        directory._CHECKED.clear()  # as a new process would
        policy, problems = directory.read_policy(path, run_examples)
        return policy, [str(p) for p in problems]

    read.validated = validated
    return read


def records(tmp_path):
    folder = tmp_path / "cache" / "checks"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def published_copy(tmp_path, text=None):
    path = tmp_path / "ccc" / "2019-01-01.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(PUBLISHED.read_text() if text is None else text)
    return path


@pytest.mark.slow
def test_a_second_process_neither_validates_nor_lints_again(tmp_path):
    """The saving itself: the second process imports neither PyYAML (the parse), jsonschema (the schema
    validation, with importlib.resources for its file) nor holidays (lint's question to the calendars plugin), and
    reports the same warning."""
    script = ("import json, sys\nfrom slapolicy.policy.directory import PolicyDirectory\n"
              f"found = PolicyDirectory({str(REPO / 'policies/ccc')!r}, run_examples=False).diagnostics\n"
              "print(json.dumps(['jsonschema' in sys.modules, 'holidays' in sys.modules, 'yaml' in sys.modules, "
              "'importlib.resources' in sys.modules, [str(d) for d in found]]))\n")
    env = {"PATH": "/usr/bin:/bin", "SLAPOLICY_CACHE_DIR": str(tmp_path)}

    def run():
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=REPO)
        assert (done.returncode, done.stderr) == (0, "")
        return json.loads(done.stdout)

    warning = f"{REPO}/policies/ccc/{WARNING}"
    assert run() == [True, True, True, True, [warning]]
    assert len(list((tmp_path / "checks").glob("*.json"))) == 1
    assert run() == [False, False, False, False, [warning]]  # nor the schema's file


def test_a_pass_is_recorded_once_and_read_back_with_its_warnings(tmp_path, checks):
    path = published_copy(tmp_path)
    first = checks(path)
    assert first[0] is not None and first[1] == [f"{path.parent}/{WARNING}"]
    assert checks.validated == [str(path)] and len(records(tmp_path)) == 1
    second = checks(path)
    assert second[1] == first[1] and second[0].sha256 == first[0].sha256 and second[0].raw == first[0].raw
    assert checks.validated == [str(path)]  # not validated again


def test_a_changed_byte_is_checked_again(tmp_path, checks):
    path = published_copy(tmp_path)
    checks(path)
    path.write_bytes(path.read_bytes() + b"\n")  # one byte more: another sha256
    assert checks(path)[1] == [f"{path.parent}/{WARNING}"]
    assert checks.validated == [str(path), str(path)] and len(records(tmp_path)) == 2


def test_examples_run_or_not_are_two_checks(tmp_path, checks):
    path = published_copy(tmp_path)
    checks(path, run_examples=False)
    checks(path, run_examples=True)
    assert checks.validated == [str(path), str(path)] and len(records(tmp_path)) == 2


def test_a_broken_file_is_refused_every_time_with_the_same_message_and_nothing_recorded(tmp_path, checks):
    path = published_copy(tmp_path, PUBLISHED.read_text().replace('value: "99.5%"', 'value: "99.5"'))
    expected = [f"{path}:73:12: error schema standard must be a percentage like 99.5% — got 99.5"]
    assert checks(path) == (None, expected)
    assert checks(path) == (None, expected)
    assert checks.validated == [str(path), str(path)] and records(tmp_path) == []


@pytest.mark.slow
def test_a_version_with_a_lint_error_is_not_recorded(tmp_path, checks):
    path = published_copy(tmp_path)
    misnamed = path.rename(path.parent / "2019-02-01.yaml")  # lint: a published version is named by its date
    error = (f"{misnamed}:16:17: error file-name file is named 2019-02-01.yaml but effective_from is 2019-01-01: "
             "a published version is named 2019-01-01.yaml; if it is a draft, write status: draft (only `slapolicy "
             "publish` makes a version published)")  # no lock beside it: as likely a draft saying published
    for _ in range(2):
        policy, problems = checks(misnamed)
        assert policy is not None and error in problems
    assert checks.validated == [str(misnamed)] * 2 and records(tmp_path) == []


@pytest.mark.slow
@pytest.mark.parametrize("content", [
    b"not json",
    b'{"key": "another", "content": {"format": 2, "warnings": []}}',  # the record of another check, under this name
    b'{"key": "KEY", "content": {"format": 2, "warnings": [["x", 1, 1, "error", "schema", "an error is never a pass"]]}}',
    b'{"key": "KEY", "content": {"format": 2, "warnings": [["x", "1", 1, "warning", "w", "a line that is no number"]]}}',
    b'{"key": "KEY", "content": {"format": 1, "warnings": []}}',  # a record of the format before documents
    b'{"key": "KEY", "content": {"format": 2, "warnings": [], "document": {"data": [], "positions": []}}}',
    b'{"key": "KEY", "content": {"format": 2, "warnings": [], "document": {"data": {}, "positions": [[["a"], 1]]}}}',
    b'{"key": "KEY", "content": {"format": 2, "warnings": [], "document": {"data": {}, "positions": [[[true], 1, 1]]}}}',
    # positions checked column by column: each wrong in one place, after a good one
    *(b'{"key": "KEY", "content": {"format": 2, "warnings": [], "document": {"data": {}, "positions": [[["a"], 1, 1], '
      + bad + b']}}}' for bad in (b'"abc"', b'[["a"], 1, 1, 1]', b'["a", 1, 1]', b'[["a", 1.5], 1, 1]',
                                  b'[["a", null], 1, 1]', b'[["a"], true, 1]', b'[["a"], 1, "1"]', b'[["a"], 1, 1.0]')),
    b'{"key": "KEY"}',
])
def test_a_corrupt_or_foreign_record_is_ignored_and_replaced(tmp_path, checks, content):
    path = published_copy(tmp_path)
    key = check_record.record_key(path.read_bytes(), str(path), False, get_manager())
    record = tmp_path / "cache" / "checks" / f"{key}.json"
    record.parent.mkdir(parents=True)
    record.write_bytes(content.replace(b"KEY", key.encode()))
    assert checks(path)[1] == [f"{path.parent}/{WARNING}"]
    assert checks.validated == [str(path)]
    parsed, _ = load_yaml(path.read_bytes(), str(path))
    assert json.loads(record.read_text()) == {"key": key, "content": {"format": 2, "warnings": [
        [f"{path.parent}/{WARNING.split(':')[0]}", 127, 7, "warning", "tier-unreachable", WARNING.split(" tier-unreachable ")[1]]],
        "document": parsed.record()}}
    checks(path)
    assert checks.validated == [str(path)]


def test_an_unwritable_cache_means_checking_every_time(tmp_path, checks, monkeypatch):
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("SLAPOLICY_CACHE_DIR", str(tmp_path / "a-file" / "cache"))  # cannot be made
    path = published_copy(tmp_path)
    assert checks(path)[1] == checks(path)[1] == [f"{path.parent}/{WARNING}"]
    assert checks.validated == [str(path), str(path)]


@pytest.mark.slow
def test_off_turns_it_off(tmp_path, checks, monkeypatch):
    monkeypatch.setenv("SLAPOLICY_CACHE_DIR", "off")
    path = published_copy(tmp_path)
    checks(path)
    checks(path)
    assert checks.validated == [str(path), str(path)] and records(tmp_path) == []
    assert cache_directory() is None


def test_where_the_records_live(monkeypatch, tmp_path):
    monkeypatch.delenv("SLAPOLICY_CACHE_DIR")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_directory() == tmp_path / "xdg" / "slapolicy"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")  # ignored, as the XDG specification says
    assert cache_directory() == tmp_path / "home" / ".cache" / "slapolicy"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_directory() == tmp_path / "home" / ".cache" / "slapolicy"
    monkeypatch.setenv("SLAPOLICY_CACHE_DIR", str(tmp_path / "mine"))
    assert cache_directory() == tmp_path / "mine"


def test_the_record_is_named_by_the_path_the_bytes_and_the_checker():
    raw = PUBLISHED.read_bytes()
    key = check_record.record_key(raw, "a.yaml", False, get_manager())
    assert len(key) == 64
    assert check_record.record_key(raw, "a.yaml", False, get_manager()) == key
    assert check_record.record_key(raw, "drafts/a.yaml", False, get_manager()) != key
    assert check_record.record_key(raw + b" ", "a.yaml", False, get_manager()) != key
    assert check_record.record_key(raw, "a.yaml", True, get_manager()) != key

    class Calendar:  # a plugin object, whose behaviour its source does not pin down: never recorded
        @staticmethod
        def slapolicy_supplied_facts():
            return []

    assert check_record.record_key(raw, "a.yaml", False, make_manager(extra=[Calendar()])) is None


def test_a_version_sent_as_content_is_checked_as_its_own_file_and_uses_its_record(tmp_path, checks):
    """replay (and every worker) loads the versions it evaluates under from their bytes (PolicyContent): checked as
    the file they were read from, they use the pass recorded for that file, add no record of their own, and a
    content whose check fails names that file."""
    from slapolicy.distributed import PolicyContent, _policy_by_sha, policy_of
    from slapolicy.errors import PolicyError

    path = published_copy(tmp_path)
    policy, _ = checks(path)
    assert checks.validated == [str(path)] and len(records(tmp_path)) == 1
    _policy_by_sha.cache_clear()
    loaded = policy_of(PolicyContent.of(policy))
    assert (loaded.path, loaded.sha256, loaded.version) == (str(path), policy.sha256, policy.version)
    assert checks.validated == [str(path)] and len(records(tmp_path)) == 1  # the record was used: nothing validated
    broken = PUBLISHED.read_bytes().replace(b'value: "99.5%"', b'value: "99.5"')
    with pytest.raises(PolicyError) as refused:
        policy_of(PolicyContent(__import__("hashlib").sha256(broken).hexdigest(), str(path), broken))
    assert str(refused.value) == f"{path}:73:12: error schema standard must be a percentage like 99.5% — got 99.5"


def test_the_recorded_document_is_the_parsed_one_and_builds_the_same_policy(tmp_path, checks):
    path = published_copy(tmp_path)
    fresh, _ = checks(path)
    parsed, _ = load_yaml(path.read_bytes(), str(path))
    (record,) = (tmp_path / "cache" / "checks").iterdir()
    document = YamlDocument.from_record(json.loads(record.read_text())["content"]["document"], str(path))
    assert (document.data, document.positions, document.filename) == (parsed.data, parsed.positions, str(path))
    where = ("availability", "standard", "value")
    assert document.positions.at(where) == parsed.positions.at(where) == (73, 12)  # the line of value: "99.5%"
    recorded, _ = checks(path)
    assert checks.validated == [str(path)]  # the second read used the record
    fields = [f.name for f in dataclasses.fields(fresh) if f.name != "doc"]  # the document: compared above
    assert recorded is not fresh and [getattr(recorded, f) for f in fields] == [getattr(fresh, f) for f in fields]
    assert (recorded.doc.data, recorded.doc.positions) == (fresh.doc.data, fresh.doc.positions)


@pytest.mark.slow
def test_a_document_too_large_to_record_is_parsed_again(tmp_path, checks, monkeypatch):
    monkeypatch.setattr(check_record, "MAX_RECORD_BYTES", 4096)  # the published version's document is ~140 KB
    path = published_copy(tmp_path)
    checks(path)
    (record,) = (tmp_path / "cache" / "checks").iterdir()
    assert json.loads(record.read_text())["content"]["document"] is None
    parses = []
    monkeypatch.setattr(directory, "load_yaml", lambda raw, name: parses.append(name) or load_yaml(raw, name))
    assert checks(path)[1] == [f"{path.parent}/{WARNING}"]
    assert checks.validated == [str(path)] and parses == [str(path)]  # parsed, but neither validated nor linted


def test_a_copy_named_alike_in_a_folder_named_alike_elsewhere_is_not_checked_again(tmp_path, checks):
    """What a check reads of where the file is: its name, its folder's name (drafts/, superseded/) and whether a
    versions.lock is beside it (lint). A family copied or moved elsewhere (a checkout in a new folder, a copy made
    to try an amendment) reads the records its files passed, and the warnings name the file read."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, moved = published_copy(tmp_path / "a"), published_copy(tmp_path / "b")
    assert checks(first)[1] == [f"{first.parent}/{WARNING}"]
    assert checks(moved)[1] == [f"{moved.parent}/{WARNING}"]
    assert checks.validated == [str(first)] and len(records(tmp_path)) == 1
    # Another folder's name, or a lock beside it: checked again, each its own record.
    other = tmp_path / "c" / "other" / "2019-01-01.yaml"
    other.parent.mkdir(parents=True)
    other.write_bytes(first.read_bytes())
    (tmp_path / "b" / "ccc" / "versions.lock").write_text("{}\n")
    assert checks(other)[1] == [f"{other.parent}/{WARNING}"]
    assert checks(moved)[1] == [f"{moved.parent}/{WARNING}"]
    assert checks.validated == [str(first), str(other), str(moved)] and len(records(tmp_path)) == 3


# ---------------------------------------------------------------------------- the checker's own files

def package(tmp_path, files=None) -> str:
    """A package's folder (as _tree_digest hashes the slapolicy package's and each plugin's), with its bytecode."""
    root = tmp_path / "package"
    for name, text in (files or {"__init__.py": "", "rules.py": "LIMIT = 995\n", "schema/policy.json": "{}"}).items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    (root / "__pycache__").mkdir(exist_ok=True)
    (root / "__pycache__" / "rules.cpython-311.pyc").write_bytes(b"not hashed")
    return str(root)


def content_digest(root: str) -> str:
    """sha256 of a package's files as the records of checks have always been named by it (every file but its
    bytecode, by name and length, then its bytes), so that the records written before stay the ones read."""
    import hashlib
    import os

    digest = hashlib.sha256()
    files = sorted(os.path.join(folder, name) for folder, folders, names in os.walk(root)
                   if "__pycache__" not in folder for name in names)
    for file in files:
        content = open(file, "rb").read()
        digest.update(json.dumps([os.path.relpath(file, root), len(content)]).encode())
        digest.update(content)
    return digest.hexdigest()


@pytest.fixture
def hashed(tmp_path, monkeypatch):
    """_tree_digest as a new process calls it (its memo emptied), with the files of tmp_path it opened."""
    import builtins

    monkeypatch.setenv("SLAPOLICY_CACHE_DIR", str(tmp_path / "cache"))
    opened, real_open = [], builtins.open

    def counting(file, *args, **kwargs):
        if str(file).startswith(str(tmp_path / "package")):
            opened.append(str(file))
        return real_open(file, *args, **kwargs)

    def digest(root: str) -> str:
        monkeypatch.setattr(check_record, "_TREES", {})
        opened.clear()
        monkeypatch.setattr(builtins, "open", counting)
        try:
            return check_record._tree_digest(root)
        finally:
            monkeypatch.setattr(builtins, "open", real_open)

    digest.opened = opened
    return digest


def test_a_package_s_files_are_read_once_then_their_sizes_and_times_name_their_digest(tmp_path, hashed, monkeypatch):
    """Every start hashed the bytes of every file of the slapolicy package (~70 files, 2.7 ms, at each claim's start:
    benchmarks/README.md, the fifteenth round); the digest is now recorded under what stat says of each file, and a
    later process reads none of them. The digest itself is the one checks' records were always named by."""
    monkeypatch.setattr(check_record, "SETTLED_NS", 0, raising=False)  # files written just now count as settled
    root = package(tmp_path)
    assert hashed(root) == content_digest(root)
    assert sorted(hashed.opened) == sorted(f"{root}/{name}" for name in ("__init__.py", "rules.py", "schema/policy.json"))
    assert hashed(root) == content_digest(root) and hashed.opened == []


def test_a_byte_changed_behind_an_unchanged_size_and_modification_time_is_read_again(tmp_path, hashed, monkeypatch):
    """The file's change time (which no program sets back) and inode name the record too: a copy that kept the
    modification time (cp -p, rsync, a checkout tool), a byte edited in place and the time set back, are read."""
    import os

    monkeypatch.setattr(check_record, "SETTLED_NS", 0, raising=False)
    root = package(tmp_path)
    before = hashed(root)
    rules = os.path.join(root, "rules.py")
    kept = os.stat(rules)
    with open(rules, "r+b") as file:
        file.write(b"LIMIT = 999\n")
    os.utime(rules, ns=(kept.st_atime_ns, kept.st_mtime_ns))
    assert (os.stat(rules).st_size, os.stat(rules).st_mtime_ns) == (kept.st_size, kept.st_mtime_ns)
    after = hashed(root)
    assert after == content_digest(root) != before and hashed.opened  # read again
    os.unlink(os.path.join(root, "schema", "policy.json"))  # a file gone: another package
    assert hashed(root) == content_digest(root) != after


def test_files_written_within_the_settling_time_are_hashed_again_and_not_recorded(tmp_path, hashed):
    """As git does with its index's racily clean entries: a file written in the same clock tick as the stat that names
    the record (1-4 ms on Linux) could change again without its times changing, so a package holding one written in
    the last 2 s is hashed at each start until it settles, and nothing is recorded for it."""
    root = package(tmp_path)
    assert hashed(root) == content_digest(root)
    assert hashed(root) == content_digest(root) and len(hashed.opened) == 3
    assert not (tmp_path / "cache" / "packages").exists()


@pytest.mark.parametrize("content", ["not a digest", 12, None, "0" * 63])
def test_a_package_record_that_is_not_a_digest_is_ignored_and_replaced(tmp_path, hashed, monkeypatch, content):
    monkeypatch.setattr(check_record, "SETTLED_NS", 0, raising=False)
    root = package(tmp_path)
    hashed(root)
    (record,) = (tmp_path / "cache" / "packages").iterdir()
    record.write_text(json.dumps({"key": record.stem, "content": content}))
    assert hashed(root) == content_digest(root) and len(hashed.opened) == 3
    assert json.loads(record.read_text())["content"] == content_digest(root)
    assert hashed(root) == content_digest(root) and hashed.opened == []
