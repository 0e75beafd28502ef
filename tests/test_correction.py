"""A correction keeps old decisions auditable: a decision recorded under a superseded encoding is decided again
under that encoding, which the family keeps (docs/policy-format.md, "Correcting an encoding")."""
import datetime as dt
import json
import shutil

import pytest

from conftest import POLICIES
from helpers import minute_rows, write_csv, write_yaml
from slapolicy.claims.audit import audit_ledger
from slapolicy.claims import decide_claim

ORIGINAL = POLICIES / "superseded" / "2019-01-01.32cfebe23efd.yaml"  # before §5.7 read "due to" as causation


def test_the_lock_records_every_superseded_encoding_and_each_still_matches(cli):
    import hashlib

    lock = json.loads((POLICIES / "versions.lock").read_text())
    kept = sorted(p.name for p in (POLICIES / "superseded").glob("*.yaml"))
    assert sorted(name.split("/", 1)[1] for name in lock if name.startswith("superseded/")) == kept
    for name in kept:
        digest = hashlib.sha256((POLICIES / "superseded" / name).read_bytes()).hexdigest()
        assert lock[f"superseded/{name}"] == digest and name.split(".")[1] == digest[:12]
    assert cli("validate", POLICIES).code == 0


@pytest.mark.slow
def test_a_decision_under_the_superseded_encoding_is_audited_under_it(tmp_path):
    # March 2024: 3000 minutes at 10 QPS, 10 % failing, during a provider incident. The original encoding excluded
    # them under §5.7 (100 %, standard met: denied); the corrected one counts them (93.28 %: 50 % of 10.00).
    minutes = write_csv(tmp_path / "minutes.csv", minute_rows("acme", "2024-03-10T00:00", 3000, 600, 60, peak="10"),
                        fields=["account", "minute", "requests", "failures", "illegal_number_failures", "peak_qps"])
    incidents = write_yaml(tmp_path / "incidents.yaml", [{"id": "I-1", "start": "2024-03-10T00:00",
                                                          "end": "2024-03-12T02:00", "cause": "provider"}])
    billing = write_csv(tmp_path / "billing.csv", [{"account": "acme", "month": "2024-03", "monthly_fee": "10.00",
                                                    "offset": "0.00"}])
    family = tmp_path / "ccc"
    family.mkdir()
    shutil.copy(ORIGINAL, family / "2019-01-01.yaml")
    (family / "versions.lock").write_text(json.dumps({"2019-01-01.yaml": ORIGINAL.name.split(".")[1] and
                                                      __import__("hashlib").sha256(ORIGINAL.read_bytes()).hexdigest()}))
    claim = {"account": "acme", "service_month": "2024-03", "filed_at": "2024-04-08T10:00+08:00", "channel": "work_order",
             "event_report": "Calls failed.", "failure_records": ["c-1"],
             "unavailability": [{"start": "2024-03-10T00:00+08:00", "end": "2024-03-12T02:00+08:00"}]}
    ledger = tmp_path / "ledger.sqlite"
    before = decide_claim(family, claim, minutes=minutes, incidents=incidents, billing=billing, ledger=ledger,
                          now=dt.datetime(2024, 9, 1, tzinfo=dt.timezone.utc))
    assert (before["decision"], [r["code"] for r in before["reasons"]]) == ("denied", ["standard_met"])
    # The correction, as the procedure says: the corrected file in place, the superseded ones kept, the lock as shipped.
    shutil.copy(POLICIES / "2019-01-01.yaml", family / "2019-01-01.yaml")
    shutil.copytree(POLICIES / "superseded", family / "superseded")
    shutil.copy(POLICIES / "versions.lock", family / "versions.lock")
    result = audit_ledger(ledger, family)
    (entry,) = result["decisions"]
    assert entry["status"] == "same", entry
    assert ("decided under superseded/2019-01-01.32cfebe23efd.yaml, an encoding a correction has since replaced: "
            "decided again under it (docs/policy-format.md, \"Correcting an encoding\")") in entry["notes"]
    # Under the corrected encoding the same claim is approved: 1 − 3000/44,640 = 93.28 %, 50 % of 10.00.
    after = decide_claim(family, claim, minutes=minutes, incidents=incidents, billing=billing,
                         ledger=tmp_path / "other.sqlite", now=dt.datetime(2024, 9, 1, tzinfo=dt.timezone.utc))
    assert (after["decision"], after["compensation"]) == ("approved", "5.00")


def test_every_superseded_encoding_still_loads():
    from slapolicy import load_policy

    for path in sorted((POLICIES / "superseded").glob("*.yaml")):
        assert load_policy(path, strict=False).version == "2019-01-01", path  # strict: its name is not its date


def test_an_edited_superseded_encoding_fails_validation_and_nothing_else_is_touched(cli, tmp_path):
    family = tmp_path / "ccc"
    shutil.copytree(POLICIES, family, ignore=shutil.ignore_patterns("drafts", "source"))
    kept = family / "superseded" / ORIGINAL.name
    kept.write_text(kept.read_text().replace('value: "99.5%"', 'value: "99%"'))
    result = cli("validate", family)
    assert result.code == 1
    assert (f"{kept}:1:1: error published-changed superseded encoding changed: its sha256 differs from 32cfebe23efd… "
            "in versions.lock; it is kept unchanged so that decisions made under it can be audited") in result.out


@pytest.mark.slow
def test_a_version_published_ahead_of_its_date_is_corrected_as_an_encoding_is(cli, tmp_path):
    """docs/policy-format.md: a mistake found before the version takes effect is put right keeping its date; a new
    version could only take effect after it."""
    import hashlib

    from test_publish import amendment
    from slapolicy.policy.publish import publish

    family = tmp_path / "ccc"
    family.mkdir()
    shutil.copy(POLICIES / "2019-01-01.yaml", family / "2019-01-01.yaml")
    shutil.copy(POLICIES / "versions.lock", family / "versions.lock")
    shutil.copytree(POLICIES / "superseded", family / "superseded")
    (family / "drafts").mkdir()
    draft = amendment(family, edits=[("title: Cloud Contact Center Service Level Agreement",
                                      "title: Cloud Contact Centre Service Levle Agreement")])
    published = publish(family, draft, today=dt.date(2019, 11, 1))  # in November, for 1 January: no option needed
    kept = family / "superseded" / f"2020-01-01.{published.sha256[:12]}.yaml"
    shutil.copy(published.path, kept)
    published.path.write_text(published.path.read_text().replace("Service Levle", "Service Level"))
    lock = json.loads((family / "versions.lock").read_text())
    lock |= {"2020-01-01.yaml": hashlib.sha256(published.path.read_bytes()).hexdigest(),
             f"superseded/{kept.name}": published.sha256}
    (family / "versions.lock").write_text(json.dumps(lock, indent=2))
    assert cli("validate", family).code == 0
    shown = cli("show", family, "--month", "2020-01").out.splitlines()[0]
    assert shown == "Cloud Contact Centre Service Level Agreement — version 2020-01-01 (published), effective 2020-01-01"


def test_a_superseded_encoding_validated_alone_is_no_misnamed_version(cli, tmp_path):
    # `slapolicy validate policies/ccc/superseded/2019-01-01.32cfebe23efd.yaml`, the shipped encoding kept as recorded,
    # was exit 1: 'error file-name file is named 2019-01-01.32cfebe23efd.yaml but effective_from is 2019-01-01: a
    # published version is named 2019-01-01.yaml; if it is a draft, write status: draft'. Its name is the one a
    # correction gives it (docs/policy-format.md, "Correcting an encoding"); its old examples' gaps stay warnings.
    result = cli("validate", ORIGINAL)
    assert result.code == 0 and " error " not in result.out
    assert result.err == "1 file(s) checked: 0 error(s), 12 warning(s)\n"
    # A name that is not the date and the first 12 hex digits of its sha256 is still misnamed.
    renamed = tmp_path / "superseded" / "2019-01-01.aaaaaaaaaaaa.yaml"
    renamed.parent.mkdir()
    shutil.copy(ORIGINAL, renamed)
    result = cli("validate", renamed)
    assert result.code == 1 and f"{renamed}:16:17: error file-name file is named 2019-01-01.aaaaaaaaaaaa.yaml but " \
        "effective_from is 2019-01-01: a published version is named 2019-01-01.yaml" in result.out


def _family_copy(tmp_path):
    family = tmp_path / "ccc"
    shutil.copytree(POLICIES, family, ignore=shutil.ignore_patterns("drafts", "source"))
    return family, family / "superseded" / ORIGINAL.name


def test_an_edited_superseded_encoding_validated_or_rendered_alone_is_checked_against_the_lock(cli, tmp_path, monkeypatch):
    # Edited in place (its §2.2 standard lowered), `validate FILE` said 'error file-name file is named
    # 2019-01-01.32cfebe23efd.yaml but effective_from is 2019-01-01: a published version is named 2019-01-01.yaml',
    # advice to rename it, and only `validate FAMILY` said it had changed.
    family, kept = _family_copy(tmp_path)
    before = {p: p.read_bytes() for p in family.rglob("*") if p.is_file()}
    kept.write_text(kept.read_text().replace('value: "99.5%"', 'value: "99%"'))
    edited = kept.read_bytes()
    changed = (f"{kept}:1:1: error published-changed superseded encoding changed: its sha256 differs from "
               "32cfebe23efd… in versions.lock; it is kept unchanged so that decisions made under it can be audited. "
               f"Restore its bytes (git checkout -- {kept}): a correction changes the published version, never an "
               "encoding it superseded")
    result = cli("validate", kept)
    assert result.code == 1 and changed in result.out.splitlines() and "file-name" not in result.out
    # 13 warnings: the standard's own description still says 99.5 % (words-disagree) among them
    assert result.err == "1 file(s) checked: 1 error(s), 13 warning(s)\n"
    assert changed in cli("validate", family).out.splitlines()  # the family says it alike
    result = cli("render", kept)
    assert (result.code, result.out, result.err) == (1, "", changed + "\n")
    # Given from inside superseded/, by its name alone
    monkeypatch.chdir(kept.parent)
    result = cli("validate", kept.name)
    assert result.code == 1 and changed.replace(str(kept), kept.name) in result.out.splitlines()
    assert {p: p.read_bytes() for p in family.rglob("*") if p.is_file()} == before | {kept: edited}  # nothing written
    # Its effective_from edited too: still the lock's to say, not a name to change
    kept.write_text(kept.read_text().replace('effective_from: "2019-01-01"', 'effective_from: "2019-02-01"'))
    result = cli("validate", kept)
    assert result.code == 1 and "file-name" not in result.out
    assert f"{kept}:1:1: error published-changed superseded encoding changed" in result.out
    # Restored, it passes again, by either path
    kept.write_bytes(ORIGINAL.read_bytes())
    assert cli("validate", kept.name).code == 0 and cli("validate", kept).code == 0
    assert cli("render", kept).out.splitlines()[1] == "Version 2019-01-01 (published), effective 2019-01-01"


def test_an_unrecorded_superseded_encoding_validated_alone_is_warned_of_as_its_family_warns(cli, tmp_path):
    family, kept = _family_copy(tmp_path)
    lock = json.loads((family / "versions.lock").read_text())
    del lock[f"superseded/{ORIGINAL.name}"]
    (family / "versions.lock").write_text(json.dumps(lock, indent=2) + "\n")
    unlocked = (f"{kept}:1:1: warning unlocked superseded encoding not recorded in versions.lock: a correction records "
                "each encoding it keeps, so that it is checked against its sha256 and the decisions made under it "
                f"can be audited; restore the lock's entry for superseded/{ORIGINAL.name} (git checkout -- "
                f"{family / 'versions.lock'})")
    for given in (kept, family):
        result = cli("validate", given)
        assert result.code == 0 and unlocked in result.out.splitlines(), given
    result = cli("render", kept)  # rendered as what it says, with the warning: it is no copy published nowhere
    assert result.code == 0 and result.err == unlocked + "\n"
    assert result.out.splitlines()[1] == "Version 2019-01-01 (published), effective 2019-01-01"


def test_a_superseded_encoding_whose_lock_entry_was_removed_is_warned_of(cli, tmp_path):
    # Its entry removed from versions.lock by hand, the encoding could be edited and validate said nothing: only
    # entries the lock holds were checked. The decisions made under it could no longer be audited either.
    family = tmp_path / "ccc"
    shutil.copytree(POLICIES, family, ignore=shutil.ignore_patterns("drafts", "source"))
    lock = json.loads((family / "versions.lock").read_text())
    del lock[f"superseded/{ORIGINAL.name}"]
    (family / "versions.lock").write_text(json.dumps(lock, indent=2) + "\n")
    kept = family / "superseded" / ORIGINAL.name
    kept.write_text(kept.read_text() + "# edited\n")
    result = cli("validate", family)
    assert result.code == 0
    assert (f"{kept}:1:1: warning unlocked superseded encoding not recorded in versions.lock: a correction records each "
            "encoding it keeps, so that it is checked against its sha256 and the decisions made under it can be "
            f"audited; restore the lock's entry for superseded/{ORIGINAL.name} (git checkout -- "
            f"{family / 'versions.lock'})") in result.out.splitlines()
    assert "superseded" not in cli("validate", POLICIES).out  # the shipped lock records it


def test_a_superseded_encoding_replaced_by_a_symbolic_link_is_warned_of(cli, tmp_path):
    # A link to nothing in its place (a clone of a family whose encoding was linked in, say) passed validate with
    # exit 0 and nothing said: the lock's check of a file gone saw a name that exists, and the decisions made under
    # it could no longer be audited. A published version that is a link is an error (symlink); this governs no month.
    family, kept = _family_copy(tmp_path)
    elsewhere = tmp_path / "elsewhere.yaml"
    kept.rename(elsewhere)
    kept.symlink_to(tmp_path / "nowhere.yaml")
    before = sorted((p, p.is_symlink()) for p in family.rglob("*"))
    result = cli("validate", family)
    assert result.code == 0
    assert (f"{kept}:1:1: warning symlink a superseded encoding is a file of the family, not a symbolic link (to "
            f"{tmp_path / 'nowhere.yaml'}, which does not exist: the decisions made under it cannot be audited): copy "
            f"the encoding it kept in its place (git checkout -- {kept} restores it where version control holds it)"
            ) in result.out.splitlines()
    assert sorted((p, p.is_symlink()) for p in family.rglob("*")) == before  # nothing written
    kept.unlink()
    kept.symlink_to(elsewhere)  # its bytes, living elsewhere: said by the family and by the file alone
    linked = (f"{kept}:1:1: warning symlink a superseded encoding is a file of the family, not a symbolic link (to "
              f"{elsewhere}): copy the encoding it kept in its place (git checkout -- {kept} restores it where version "
              "control holds it)")
    for given in (family, kept):
        result = cli("validate", given)
        assert result.code == 0 and linked in result.out.splitlines(), given


def test_a_superseded_encoding_replaced_by_a_link_to_an_edited_copy_is_told_its_encoding_changed(cli, tmp_path):
    # aad5b77 warned of a link (symlink) in place of the file and no longer asked the lock about the bytes it leads to:
    # a link to a copy with §2.2's standard lowered passed validate FAMILY and validate FILE with exit 0 and the one
    # warning, where the same edit in the file itself (and in a link before aad5b77) is the error published-changed.
    family, kept = _family_copy(tmp_path)
    elsewhere = tmp_path / "elsewhere.yaml"
    elsewhere.write_text(kept.read_text().replace('value: "99.5%"', 'value: "99%"'))
    kept.unlink()
    kept.symlink_to(elsewhere)
    before = sorted((p, p.is_symlink(), p.read_bytes() if p.is_file() else None) for p in tmp_path.rglob("*"))
    linked = (f"{kept}:1:1: warning symlink a superseded encoding is a file of the family, not a symbolic link (to "
              f"{elsewhere}): copy the encoding it kept in its place (git checkout -- {kept} restores it where version "
              "control holds it)")
    changed = (f"{kept}:1:1: error published-changed superseded encoding changed: its sha256 differs from "
               "32cfebe23efd… in versions.lock; it is kept unchanged so that decisions made under it can be audited. "
               f"Restore its bytes (git checkout -- {kept}): a correction changes the published version, never an "
               "encoding it superseded")
    result = cli("validate", family)
    assert result.code == 1 and {linked, changed} <= set(result.out.splitlines())
    result = cli("validate", kept)  # the file alone: the error, whose restoring mends the link too
    assert result.code == 1 and changed in result.out.splitlines()
    assert sorted((p, p.is_symlink(), p.read_bytes() if p.is_file() else None)
                  for p in tmp_path.rglob("*")) == before  # nothing written
