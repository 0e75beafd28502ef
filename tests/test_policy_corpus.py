"""A corpus of broken policy files: each gives its message at the right line, exit 1."""
import re
from pathlib import Path

import pytest

from conftest import REPO

BROKEN = REPO / "tests" / "broken"
CASES = sorted((BROKEN / "drafts").glob("*.yaml"))


def expectation(path: Path):
    header = path.read_text().splitlines()[0]
    match = re.fullmatch(r"# expect: (\d+):(\d+) (error|warning) (\S+) (.*)", header)
    assert match, f"{path} lacks its # expect: header"
    return match.groups()


@pytest.mark.slow
@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_broken_policy_reports_its_place(cli, path):
    line, col, severity, code, message = expectation(path)
    result = cli("validate", path)
    assert result.code == 1
    prefix = f"{path}:{line}:{col}: {severity} {code} "
    hits = [l for l in result.out.splitlines() if l.startswith(prefix)]
    assert hits, f"expected {prefix}… in:\n{result.out}"
    assert message in hits[0]
    # Every error printed is the one this file was broken for (plus, for the bomb, its aliases).
    codes = {l.split(" ")[2] for l in result.out.splitlines() if " error " in l}
    assert codes <= {code, "yaml-alias"}


def test_the_corpus_covers_every_kind_of_break():
    assert {p.stem for p in CASES} == {
        "alias-bomb", "bad-date", "clause-without-examples", "duplicate-clause-id", "duplicate-key", "missing-clause-condition",
        "overlapping-tiers", "tier-gap", "undeclared-fact", "unknown-key", "unknown-param", "wrong-type"}


def test_an_edited_published_file_fails_validation(cli):
    result = cli("validate", BROKEN / "edited-published")
    assert result.code == 1
    assert result.out.startswith(f"{BROKEN}/edited-published/2019-01-01.yaml:1:1: error published-changed "
                                 "published version changed: sha256 ")


@pytest.mark.slow
def test_two_versions_with_one_effective_date(cli):
    result = cli("validate", BROKEN / "same-date")
    assert result.code == 1
    assert (f"{BROKEN}/same-date/2019-02-01.yaml:16:17: error duplicate-effective effective_from 2019-01-01 is also "
            f"that of {BROKEN}/same-date/2019-01-01.yaml") in result.out


def test_a_file_name_that_differs_from_effective_from(cli):
    result = cli("validate", BROKEN / "misnamed")
    assert result.code == 1
    assert (f"{BROKEN}/misnamed/2019-03-01.yaml:16:17: error file-name file is named 2019-03-01.yaml but "
            "effective_from is 2019-01-01") in result.out


def test_a_mid_month_effective_date_is_a_warning(cli):
    result = cli("validate", BROKEN / "mid-month")
    assert result.code == 0
    assert (f"{BROKEN}/mid-month/2019-01-15.yaml:16:17: warning mid-month effective_from 2019-01-15 is not the "
            "first of a month: the version governs from the next Service Month, 2019-02 (§6.2), and the partial "
            "Service Month of a term that begins between 2019-01-15 and the month's end") in result.out


def test_a_mid_month_version_governs_from_the_next_service_month():
    from slapolicy import NoVersionInForce, PolicyDirectory

    family = PolicyDirectory(BROKEN / "mid-month")
    assert family.in_force("2019-02").effective_from.isoformat() == "2019-01-15"
    with pytest.raises(NoVersionInForce):
        family.in_force("2019-01")


@pytest.mark.parametrize("text,line,col,code,message", [
    ("id: [unclosed\n", 2, 1, "yaml-syntax", "not valid YAML"),
    ("", 1, 1, "empty", "the file is empty"),
    ("- a\n- b\n", 1, 1, "schema", "a policy version is a mapping"),
    ("a: 1\n---\nb: 2\n", 1, 1, "yaml-documents", "2 YAML documents in one file"),
    ("a: !!python/object:os.system x\n", 1, 4, "yaml-tag", "is not allowed in a policy file"),
    ("<<: {a: 1}\n", 1, 1, "yaml-merge", "merge keys (<<) are not allowed"),
])
def test_malformed_yaml_is_reported_with_its_place(cli, tmp_path, text, line, col, code, message):
    path = tmp_path / "p.yaml"
    path.write_text(text)
    result = cli("validate", path)
    assert result.code == 1
    assert result.out.startswith(f"{path}:{line}:{col}: error {code} "), result.out
    assert message in result.out


def test_invalid_utf8_names_line_and_column(cli, tmp_path):
    path = tmp_path / "p.yaml"
    path.write_bytes(b"id: ok\ntitle: caf\xe9\n")
    result = cli("validate", path)
    assert result.code == 1
    assert result.out.startswith(f"{path}:2:11: error encoding not UTF-8: byte 0xe9")


@pytest.mark.parametrize("encoding, said", [
    # Word's "Plain Text" and Notepad's "ANSI" save in Windows-1252, where § is 0xA7 and é 0xE9: "not UTF-8: byte 0xa7
    # cannot be decoded" named a byte, not the editor's setting to change.
    ("cp1252", "2:7: error encoding not UTF-8: byte 0xa7 cannot be decoded; in Windows-1252, which a Windows editor "
               "saves as \"ANSI\", it is '§' (U+00A7 SECTION SIGN): save the file as UTF-8"),
    # Notepad's "Unicode" and Word's "Unicode Text" save in UTF-16, with a byte order mark or (as UTF-16 LE/BE) without.
    ("utf-16", "1:1: error encoding the file is UTF-16 (as Notepad's \"Unicode\" and Word's \"Unicode Text\" save a "
               "file), not UTF-8: save it as UTF-8"),
    ("utf-16-le", "1:1: error encoding the file is UTF-16 (as Notepad's \"Unicode\" and Word's \"Unicode Text\" save a "
                  "file), not UTF-8: save it as UTF-8"),
    ("utf-16-be", "1:1: error encoding the file is UTF-16 (as Notepad's \"Unicode\" and Word's \"Unicode Text\" save a "
                  "file), not UTF-8: save it as UTF-8"),
    # It was told "UTF-16" too (its mark begins as UTF-16's, its zero bytes fall at every other place).
    ("utf-32", "1:1: error encoding the file is UTF-32, not UTF-8: save it as UTF-8 (or convert it: iconv -f UTF-32 -t "
               "UTF-8)"),
    ("utf-32-le", "1:1: error encoding the file is UTF-32, not UTF-8: save it as UTF-8 (or convert it: iconv -f UTF-32 "
                  "-t UTF-8)"),
])
def test_a_draft_saved_by_a_windows_editor_in_another_encoding_says_which_and_what_to_do(cli, tmp_path, encoding, said):
    path = tmp_path / "p.yaml"
    path.write_bytes("id: ccc-sla\nref: \"§5.1\"\n".replace("\n", "\r\n").encode(encoding))
    result = cli("validate", path)
    assert (result.code, result.out) == (1, f"{path}:{said}\n")


def test_a_byte_windows_1252_does_not_define_is_said_as_before(cli, tmp_path):
    path = tmp_path / "p.yaml"
    path.write_bytes(b"id: ok\ntitle: caf\x81\n")
    assert cli("validate", path).out == f"{path}:2:11: error encoding not UTF-8: byte 0x81 cannot be decoded\n"


def test_yaml_1_1_surprises_stay_strings():
    from slapolicy.policy.load import load_yaml

    doc, problems = load_yaml("a: NO\nb: 2024-05-01\nc: 99.95\nd: 0o17\ne: true\nf: 12\n", "x.yaml")
    assert problems == []
    assert doc.data == {"a": "NO", "b": "2024-05-01", "c": "99.95", "d": "0o17", "e": True, "f": 12}
