"""The ledger's hash chain: every edit, deletion and insertion found by `slapolicy audit`, which names
the first broken entry; decisions refused on a damaged ledger; other files refused untouched."""
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import POLICIES, REPO, run_cli
from helpers import minute_rows, read_only, write_csv
from slapolicy.ledger import COLUMNS, GENESIS, GUARD, TABLES, Chain, Entry, Ledger
from slapolicy.claims.audit import GUARD_NOTE
from slapolicy.errors import InputError

EXAMPLES = REPO / "examples" / "ccc"
INPUTS = ["--minutes", EXAMPLES / "minutes.csv", "--incidents", EXAMPLES / "incidents.yaml",
          "--notices", EXAMPLES / "notices.yaml", "--billing", EXAMPLES / "billing.csv"]
NOW = ["--now", "2019-04-10T12:00+00:00"]
GLOBEX = "D-e67e91136ec38743702c"  # the decision ids are the first 20 hex digits of the claim's sha256
ACME = "D-22bf5cd1684353abd440"
INITECH = "D-afc1e9b25ceb452fb2fb"


def claim_files(tmp_path):
    """globex: approved 180.00 (§3.1 10 % of 1800.00); acme by e-mail: denied; initech: approved 400.00."""
    globex = json.loads((EXAMPLES / "claim-globex-2019-03.json").read_text())
    initech = tmp_path / "claim-initech.json"
    initech.write_text(json.dumps(dict(globex, account="initech")))
    return [EXAMPLES / "claim-globex-2019-03.json", EXAMPLES / "claim-acme-2019-03-by-email.json", initech]


def claim_again(tmp_path, which: int, claim_id: str, name: str):
    """Claim ``which`` of :func:`claim_files` filed anew under another claim id (the same account and month), as
    the file ``name``."""
    again = tmp_path / name
    again.write_text(json.dumps(dict(json.loads(claim_files(tmp_path)[which].read_text()), claim_id=claim_id)))
    return again


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    """Entries #1 decision globex, #2 its grant 180.00, #3 decision acme (denied), #4 decision initech,
    #5 its grant 400.00."""
    folder = tmp_path_factory.mktemp("history")
    ledger = folder / "ledger.sqlite"
    for claim in claim_files(folder):
        result = run_cli("claim", POLICIES, claim, "--ledger", ledger, *NOW, *INPUTS)
        assert result.code == 0, result.err
    with sqlite3.connect(ledger) as db:
        assert db.execute("SELECT seq, decision_id, decision FROM decisions ORDER BY seq").fetchall() == [
            (1, GLOBEX, "approved"), (3, ACME, "denied"), (4, INITECH, "approved")]
        assert db.execute("SELECT seq, decision_id, amount FROM grants ORDER BY seq").fetchall() == [
            (2, GLOBEX, "180.00"), (5, INITECH, "400.00")]
    return ledger


@pytest.fixture
def ledger(history, tmp_path):
    copy = tmp_path / "ledger.sqlite"
    shutil.copy(history, copy)
    return copy


def unguard(db):
    """Remove the append-only guard, as whoever means to edit entries must first (the shell refuses the edit else)."""
    for name in GUARD:
        db.execute(f"DROP TRIGGER IF EXISTS {name}")


def edit(path, *statements):
    """What anyone with the sqlite3 shell can do once the guard is removed (foreign keys off, as the shell has them)."""
    db = sqlite3.connect(path)
    unguard(db)
    for statement in statements:
        db.execute(statement)
    db.commit()
    db.close()


def entries(path):
    db = sqlite3.connect(path)
    out = []
    for kind, columns in COLUMNS.items():
        for row in db.execute(f"SELECT {', '.join(columns)} FROM {TABLES[kind]}"):
            out.append(Entry(kind, dict(zip(columns, row)), ""))
    db.close()
    return sorted(out, key=lambda e: e.seq)


def rechain(path, key=None):
    """An attacker who knows the algorithm (it is public) recomputes every hash and the head after an edit."""
    chain, head = Chain(key), GENESIS
    db = sqlite3.connect(path)
    unguard(db)
    for entry in entries(path):
        head = chain.link(head, entry)
        db.execute(f"UPDATE {TABLES[entry.kind]} SET entry_hash = ? WHERE seq = ?", (head, entry.seq))
    db.execute("UPDATE meta SET value = ? WHERE key = 'head'", (head,))
    db.execute("UPDATE meta SET value = ? WHERE key = 'entries'", (str(len(entries(path))),))
    db.commit()
    db.close()


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def label(seq, kind, decision_id, account):
    return f"entry #{seq} ({kind} {decision_id}, {account} 2019-03)"


EDITED = "does not match its hash: it was edited, or an entry before it was replaced"
GRANT_OF_ACME = (f"INSERT INTO grants VALUES (6, 'acme', '2019-03', '{ACME}', '50.00', '2019-04-10T12:00:00+00:00', "
                 f"'{'ab' * 32}')")


@pytest.mark.parametrize("statements,problem", [
    (["UPDATE grants SET amount = '999.00' WHERE seq = 2"], f"{label(2, 'grant', GLOBEX, 'globex')} {EDITED}"),
    (["UPDATE decisions SET decision = 'approved' WHERE seq = 3"], f"{label(3, 'decision', ACME, 'acme')} {EDITED}"),
    (["UPDATE decisions SET result_json = replace(result_json, 'Compensation of 180.00', 'Compensation of 1800.00') "
      "WHERE seq = 1"], f"{label(1, 'decision', GLOBEX, 'globex')} {EDITED}"),
    (["UPDATE decisions SET result_json = replace(result_json, 'filed_too_early', 'filed_in_time') WHERE seq = 3"],
     f"{label(3, 'decision', ACME, 'acme')} {EDITED}"),
    (["UPDATE decisions SET policy_sha256 = '" + "0" * 64 + "' WHERE seq = 4"],
     f"{label(4, 'decision', INITECH, 'initech')} {EDITED}"),
    (["DELETE FROM grants WHERE seq = 2"],
     f"entry #2 is missing (deleted): the chain goes from #1 to {label(3, 'decision', ACME, 'acme')}"),
    ([GRANT_OF_ACME], f"{label(6, 'grant', ACME, 'acme')} {EDITED}"),
    (["DELETE FROM grants WHERE seq = 2", "DELETE FROM decisions WHERE seq = 1"],
     f"entry #1 is missing (deleted): the chain starts at {label(3, 'decision', ACME, 'acme')}"),
    ([GRANT_OF_ACME.replace("(6,", "(3,")],
     f"{label(3, 'grant', ACME, 'acme')} repeats the number of the entry before it: it was inserted"),
    (["DELETE FROM grants WHERE seq = 5"],
     "entry #5 is missing: the chain ends at #4 but its head records 5 entries, so the last 1 entry was deleted"),
    (["DELETE FROM grants WHERE seq = 5", "DELETE FROM decisions WHERE seq = 4"],
     "entry #4 is missing: the chain ends at #3 but its head records 5 entries, so the last 2 entries were deleted"),
    (["UPDATE meta SET value = '" + "1" * 64 + "' WHERE key = 'head'"],
     "the head hash recorded in the meta table does not match the last entry"),
], ids=["grant-amount", "decision", "message", "reason-code", "policy-sha256", "grant-deleted", "grant-forged",
        "decision-and-grant-deleted", "entry-inserted", "last-entry-deleted", "last-two-deleted", "head-edited"])
def test_each_edit_is_found_and_the_first_broken_entry_named(ledger, statements, problem):
    with Ledger(ledger, readonly=True) as book:  # the untouched copy holds (and is audited clean further down)
        assert book.verify()["intact"]
    edit(ledger, *statements)
    result = run_cli("audit", ledger)
    assert result.code == 1
    assert result.out.splitlines() == [  # the guard was dropped to make the edit: the note says so
        GUARD_NOTE, f"chain: BROKEN: {problem}",
        "decisions not re-checked while the chain is broken: restore the ledger from a backup"]
    assert run_cli("audit", ledger, "--format", "json").json()["chain"]["first_broken"]["problem"] == problem


def test_a_forged_entry_with_a_recomputed_hash_is_still_out_of_place(ledger):
    """Without a key the chain can be recomputed, but a grant that follows no approved decision stands out."""
    edit(ledger, GRANT_OF_ACME)
    rechain(ledger)
    result = run_cli("audit", ledger)
    assert result.code == 1
    assert (f"chain: BROKEN: {label(6, 'grant', ACME, 'acme')} follows no approved decision that pays it: it was "
            "inserted or its decision deleted") in result.out


def test_an_entry_appended_behind_the_heads_back(ledger):
    """A denied decision appended with a correct hash, the head left alone."""
    edit(ledger, "INSERT INTO decisions SELECT 6, 'D-forged', 'forged', decided_at, account, service_month, decision, "
                 "policy_version, policy_sha256, inputs_digest, inputs_json, result_json, '' FROM decisions WHERE seq = 3")
    (forged,) = [e for e in entries(ledger) if e.seq == 6]
    with sqlite3.connect(ledger) as db:
        stored = db.execute("SELECT entry_hash FROM grants WHERE seq = 5").fetchone()[0]
        db.execute("UPDATE decisions SET entry_hash = ? WHERE seq = 6", (Chain(None).link(stored, forged),))
    db.close()
    result = run_cli("audit", ledger)
    assert result.code == 1
    assert result.out.splitlines()[:2] == [
        GUARD_NOTE, "chain: BROKEN: entry #6 is beyond the head, which records 5 entries: it was inserted"]


def test_a_consistent_forgery_of_an_unkeyed_chain_is_caught_by_deciding_again(ledger):
    """The limit of a plain hash chain: whoever can write the file can recompute it. Deciding again
    from the recorded inputs still shows the forged amount."""
    edit(ledger, "UPDATE grants SET amount = '999.00' WHERE seq = 2",
         "UPDATE decisions SET result_json = replace(result_json, '\"compensation\": \"180.00\"', "
         "'\"compensation\": \"999.00\"') WHERE seq = 1")
    rechain(ledger)
    result = run_cli("audit", ledger)
    assert result.code == 1
    assert result.out.splitlines()[-2].startswith("chain: 5 entries intact (SHA-256 chain); head ")
    assert "    compensation: recorded 999.00, now 180.00" in result.out
    assert result.out.splitlines()[-1] == "3 decision(s) checked: 2 same, 1 differ, 0 unverifiable"


@pytest.mark.slow
def test_a_consistent_forgery_of_what_the_customer_was_told_is_caught_by_deciding_again(ledger):
    """The words a decision gave (its message, each reason's) are compared too when the same slapolicy decides
    again: a chain recomputed over "granted in cash" was audited "same" (only the decision, amount, reason codes,
    version and availability were compared)."""
    from slapolicy import __version__

    edit(ledger, "UPDATE decisions SET result_json = replace(result_json, 'is granted as vouchers', 'is granted in cash') "
                 "WHERE seq = 1")
    rechain(ledger)
    result = run_cli("audit", ledger)
    assert result.code == 1
    assert f"{GLOBEX} globex 2019-03: differs\n    message: recorded Compensation of 180.00 is granted in cash., " \
           "now Compensation of 180.00 is granted as vouchers.\n" in result.out
    assert result.out.splitlines()[-1] == "3 decision(s) checked: 2 same, 1 differ, 0 unverifiable"
    # Decided by another slapolicy, whose words may differ: the words are not compared, and the note says by which.
    edit(ledger, f"UPDATE decisions SET inputs_json = replace(inputs_json, '\"engine\": \"{__version__}\"', "
                 "'\"engine\": \"0.0.1\"') WHERE seq = 1")
    rechain(ledger)
    result = run_cli("audit", ledger)
    assert result.code == 0
    assert f"{GLOBEX} globex 2019-03: same\n    note: decided by slapolicy 0.0.1, re-checked by {__version__}\n" \
           in result.out


def chain_line(entries: int, head: str, chain: str = "SHA-256") -> str:
    """The line of ``slapolicy audit`` that says an intact chain's head, written as --checkpoint takes it back."""
    return (f"chain: {entries} entries intact ({chain} chain); head {entries}:{head} (keep it: a later audit given it "
            "as --checkpoint checks that the ledger still extends it)")


@pytest.mark.slow
def test_the_head_audit_prints_is_given_back_to_audit_as_it_is(ledger):
    # audit printed "5 entries intact (…); head 801c…" (and JSON chain.entries, chain.head) but --checkpoint takes
    # 5:801c…: the user had to put the two together. The head is printed as the option takes it, in text and JSON.
    text = run_cli("audit", ledger)
    printed = text.out.splitlines()[-2].split("; head ")[1].split(" ")[0]
    assert printed == f"5:{stored_hash(ledger, 5)}"
    result = run_cli("audit", ledger, "--checkpoint", printed)
    assert (result.code, result.out.splitlines()[-2]) == (
        0, f"checkpoint {printed}: holds (entries #1 to #5 hash to it; the head is the checkpoint)")
    from_json = run_cli("audit", ledger, "--format", "json").json()["chain"]["head_checkpoint"]
    assert from_json == printed
    assert run_cli("audit", ledger, "--checkpoint", from_json).code == 0


def test_a_ledger_of_no_decision_has_no_head_to_keep(tmp_path):
    # entries 0 and the hash of no entry (64 zeros) is no checkpoint --checkpoint takes (it names entry #1 or later)
    from slapolicy.ledger import Ledger

    Ledger(tmp_path / "ledger.sqlite").close()
    result = run_cli("audit", tmp_path / "ledger.sqlite")
    assert (result.code, result.out, result.err) == (0, "chain: no entries (SHA-256 chain): no decision recorded "
                                                        "yet\n0 decision(s) checked: 0 same, 0 differ, 0 unverifiable\n", "")
    chain = run_cli("audit", tmp_path / "ledger.sqlite", "--format", "json").json()["chain"]
    assert (chain["entries"], chain["head"], chain["head_checkpoint"]) == (0, "0" * 64, None)


@pytest.mark.slow
def test_a_clean_audit_prints_the_head_to_record_elsewhere(ledger):
    result = run_cli("audit", ledger, "--format", "json")
    assert result.code == 0, result.err
    chain = result.json()["chain"]
    (head,) = [e for e in entries(ledger) if e.seq == 5]
    with sqlite3.connect(ledger) as db:
        stored = db.execute("SELECT entry_hash FROM grants WHERE seq = 5").fetchone()[0]
    assert chain == {"entries": 5, "head": stored, "keyed": False, "intact": True, "first_broken": None,
                     "head_checkpoint": f"5:{stored}"}
    assert head.kind == "grant"
    assert [d["seq"] for d in result.json()["decisions"]] == [1, 3, 4]
    text = run_cli("audit", ledger).out.splitlines()
    assert text[-2] == chain_line(5, stored)
    assert text[-1] == "3 decision(s) checked: 3 same, 0 differ, 0 unverifiable"


@pytest.mark.slow
def test_the_audit_says_when_the_append_only_guard_is_not_in_place(ledger):
    # Whoever edits an entry with the sqlite3 shell drops the guard first; with the chain intact the audit said
    # nothing of it. It is a note, not a failure: a ledger guarded by an earlier slapolicy lacks part of it too.
    assert run_cli("audit", ledger, "--format", "json").json()["append_only_guard"] is True
    with sqlite3.connect(ledger) as db:
        db.execute("DROP TRIGGER grants_append_only_update")
    result = run_cli("audit", ledger, "--format", "json")
    assert (result.code, result.json()["append_only_guard"], result.json()["chain"]["intact"]) == (0, False, True)
    text = run_cli("audit", ledger).out.splitlines()
    assert text[-3:-1] == [GUARD_NOTE, chain_line(5, result.json()['chain']['head'])]
    assert GUARD_NOTE == ("note: the ledger's append-only guard is not as this slapolicy writes it (its triggers were "
                          "removed or altered, or it comes from an earlier slapolicy); the next decision walks the whole "
                          "chain before it puts the guard back (docs/ledger.md)")


# ---------------------------------------------------------------------------- deciding on a damaged ledger

def test_after_a_grant_is_deleted_no_claim_is_decided(ledger, tmp_path):
    edit(ledger, "DELETE FROM grants WHERE seq = 2")
    before = digest(ledger)
    again = claim_again(tmp_path, 0, "second try", "again.json")
    damaged = (f"{ledger}: the ledger is damaged (its head records 5 entries, but it holds 4 numbered up to #5: entries "
               f"were deleted or inserted); no decision is recorded until it is restored from a backup "
               f"(`slapolicy audit {ledger}` names the first broken entry)")
    for claim in (claim_files(tmp_path)[0], again):  # the same claim, and the same month claimed anew
        result = run_cli("claim", POLICIES, claim, "--ledger", ledger, *NOW, *INPUTS)
        assert result.code == 1
        assert result.err == f"slapolicy: {damaged}\n"
        assert result.out == ""
    assert digest(ledger) == before


def test_an_edited_entry_of_the_claimant_refuses_the_claim(ledger, tmp_path):
    edit(ledger, "UPDATE grants SET amount = '1.00' WHERE seq = 5")  # initech's grant: the cap would see room
    claim = claim_again(tmp_path, 2, "another", "initech-april.json")
    result = run_cli("claim", POLICIES, claim, "--ledger", ledger, *NOW, *INPUTS)
    assert result.code == 1
    assert f"the ledger is damaged ({label(5, 'grant', INITECH, 'initech')} does not match its hash: it was edited)" \
        in result.err


def damaged(ledger, problem):
    return (f"slapolicy: {ledger}: the ledger is damaged ({problem}); no decision is recorded until it is restored from "
            f"a backup (`slapolicy audit {ledger}` names the first broken entry)\n")


def test_a_grant_deleted_and_the_chain_recomputed_refuses_the_next_claim_of_that_account(ledger, tmp_path):
    """initech's approved decision is the last but one entry: its grant (#5, the last) deleted and the chain
    recomputed leaves a consistent chain of 4 entries, but an approved decision owes its grant."""
    edit(ledger, "DELETE FROM grants WHERE seq = 5")
    rechain(ledger)
    before = digest(ledger)
    claim = claim_again(tmp_path, 2, "second try", "initech-again.json")
    result = run_cli("claim", POLICIES, claim, "--ledger", ledger, *NOW, *INPUTS)
    assert (result.code, result.out) == (1, "")
    assert result.err == damaged(ledger, f"the grant of {label(4, 'decision', INITECH, 'initech')} is missing: it was deleted")
    assert digest(ledger) == before


def test_a_forged_grant_with_a_recomputed_chain_refuses_the_next_claim_of_that_account(ledger, tmp_path):
    edit(ledger, GRANT_OF_ACME)
    rechain(ledger)
    before = digest(ledger)
    claim = claim_again(tmp_path, 1, "second try", "acme-again.json")
    result = run_cli("claim", POLICIES, claim, "--ledger", ledger, *NOW, *INPUTS)
    assert (result.code, result.out) == (1, "")
    assert result.err == damaged(ledger, f"{label(6, 'grant', ACME, 'acme')} follows no approved decision that pays it: "
                                         "it was inserted or its decision deleted")
    assert digest(ledger) == before


def test_an_edited_decision_is_not_answered_again(ledger, tmp_path):
    """acme's denial (#3) edited: filing the same claim again does not answer the edited decision."""
    edit(ledger, "UPDATE decisions SET result_json = replace(result_json, 'filed_too_early', 'filed_in_time') WHERE seq = 3")
    before = digest(ledger)
    result = run_cli("claim", POLICIES, claim_files(tmp_path)[1], "--ledger", ledger, *NOW, *INPUTS)
    assert (result.code, result.out) == (1, "")
    assert result.err == damaged(ledger, f"{label(3, 'decision', ACME, 'acme')} does not match its hash: it was edited")
    assert digest(ledger) == before


# ---------------------------------------------------------------------------- the append-only guard

def triggers(path):
    with sqlite3.connect(path) as db:
        found = dict(db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'"))
    db.close()
    return found


@pytest.mark.slow
@pytest.mark.parametrize("statement", ["UPDATE decisions SET decision = 'approved' WHERE seq = 3",
                                       "DELETE FROM decisions WHERE seq = 3", "UPDATE grants SET amount = '999.00'",
                                       "DELETE FROM grants WHERE seq = 5",
                                       # REPLACE deletes the row it conflicts with without firing DELETE triggers
                                       # (SQLite fires them only with recursive_triggers on): an edit all the same
                                       "REPLACE INTO decisions SELECT * FROM decisions WHERE seq = 3",
                                       "INSERT OR REPLACE INTO grants SELECT * FROM grants WHERE seq = 5",
                                       "INSERT OR REPLACE INTO grants (rowid, seq, account, service_month, decision_id, "
                                       "amount, granted_at, entry_hash) SELECT rowid, 99, 'x', 'x', decision_id, '999.00', "
                                       "granted_at, entry_hash FROM grants WHERE seq = 5"])
def test_the_sqlite3_shell_cannot_change_or_delete_an_entry(ledger, statement):
    """A denial is read by no later decision, so no append reads it back: an edit of it is refused where it is made."""
    before = digest(ledger)
    db = sqlite3.connect(ledger)
    with pytest.raises(sqlite3.IntegrityError, match="^a slapolicy ledger is append-only: its entries are never changed "
                                                     r"or deleted \(docs/ledger.md\)$"):
        db.execute(statement)
    db.rollback()
    db.close()
    assert digest(ledger) == before
    assert run_cli("audit", ledger).code == 0


def test_an_edited_denial_of_another_account_refuses_the_next_append(ledger, tmp_path):
    """acme's denial (#3) edited after removing the guard: globex's new claim reads nothing of acme, but the missing
    guard makes the append walk the whole chain, which names #3; nothing is written."""
    edit(ledger, "UPDATE decisions SET result_json = replace(result_json, 'filed_too_early', 'filed_in_time') WHERE seq = 3")
    before = digest(ledger)
    claim = claim_again(tmp_path, 0, "second try", "globex-again.json")
    result = run_cli("claim", POLICIES, claim, "--ledger", ledger, *NOW, *INPUTS)
    assert (result.code, result.out) == (1, "")
    assert result.err == damaged(ledger, f"{label(3, 'decision', ACME, 'acme')} {EDITED}; the ledger's append-only guard "
                                         "was removed or altered")
    assert digest(ledger) == before
    # So does a guard put back in another form (a trigger of the same name that refuses nothing).
    with sqlite3.connect(ledger) as db:
        db.execute("CREATE TRIGGER decisions_append_only_update BEFORE UPDATE ON decisions BEGIN SELECT 1; END")
    db.close()
    result = run_cli("claim", POLICIES, claim, "--ledger", ledger, *NOW, *INPUTS)
    assert result.code == 1 and "#3" in result.err and "append-only guard was removed or altered" in result.err


@pytest.mark.slow
def test_a_denial_edited_by_replace_is_refused_not_left_for_the_audit(ledger, tmp_path):
    """INSERT OR REPLACE changes acme's denial (#3) with the UPDATE and DELETE triggers still in place: the guard
    refuses it, so the ledger stays as it was and the next append (globex's, which reads nothing of acme) is
    recorded on a chain that holds."""
    db = sqlite3.connect(ledger)
    columns = [c[1] for c in db.execute("PRAGMA table_info(decisions)")]
    row = dict(zip(columns, db.execute("SELECT * FROM decisions WHERE seq = 3").fetchone()))
    row["result_json"] = row["result_json"].replace("filed_too_early", "filed_in_time")
    assert "filed_in_time" in row["result_json"]
    before = digest(ledger)
    with pytest.raises(sqlite3.IntegrityError, match="^a slapolicy ledger is append-only"):
        db.execute(f"INSERT OR REPLACE INTO decisions ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                   list(row.values()))
    db.rollback()
    db.close()
    assert digest(ledger) == before
    claim = claim_again(tmp_path, 0, "second try", "globex-again.json")
    assert run_cli("claim", POLICIES, claim, "--ledger", ledger, *NOW, *INPUTS).code == 0
    assert run_cli("audit", ledger).code == 0


def test_a_ledger_guarded_by_an_earlier_slapolicy_is_walked_once_and_guarded_anew(ledger, tmp_path):
    """A ledger with only the UPDATE and DELETE triggers (slapolicy before the INSERT ones): the next append walks it,
    finds it intact and installs the whole guard."""
    with sqlite3.connect(ledger) as db:
        for name in GUARD:
            if name.endswith("_insert"):
                db.execute(f"DROP TRIGGER {name}")
    db.close()
    assert set(triggers(ledger)) == {name for name in GUARD if not name.endswith("_insert")}
    claim = claim_again(tmp_path, 0, "second try", "globex-again.json")
    assert run_cli("claim", POLICIES, claim, "--ledger", ledger, *NOW, *INPUTS).code == 0
    assert triggers(ledger) == GUARD


@pytest.mark.slow
def test_a_ledger_without_the_guard_is_walked_once_and_guarded_again(ledger, tmp_path):
    """A ledger written before the guard (or whose guard was dropped without an edit) holds: the next append walks it,
    finds it intact, records the decision and puts the guard back, so the appends after it cost what they did."""
    guard = triggers(ledger)
    assert guard == GUARD
    edit(ledger)  # the guard removed, nothing edited
    assert triggers(ledger) == {}
    claim = claim_again(tmp_path, 0, "second try", "globex-again.json")
    result = run_cli("claim", POLICIES, claim, "--ledger", ledger, *NOW, *INPUTS)
    assert result.code == 0, result.err
    assert result.json()["decision"] == "denied"  # March 2019 of globex was granted by #1–#2 (already_compensated)
    assert triggers(ledger) == GUARD
    assert run_cli("audit", ledger).out.splitlines()[-1] == "4 decision(s) checked: 4 same, 0 differ, 0 unverifiable"


def test_an_edited_meta_table_is_refused(ledger):
    edit(ledger, "DELETE FROM meta WHERE key = 'head'")
    for result in (run_cli("audit", ledger), run_cli("claim", POLICIES, claim_files(ledger.parent)[0], "--ledger", ledger,
                                                     *NOW, *INPUTS)):
        assert result.code == 1
        assert result.err == (f"slapolicy: {ledger}: the ledger's meta table was edited (its format, chain, entries or "
                              "head is missing or not as slapolicy writes it); restore the ledger from a backup\n")


# ---------------------------------------------------------------------------- a key

def keyed_ledger_of_the_claims(tmp_path, monkeypatch):
    """A ledger keyed "s3cret" (the key left set) holding the decisions of ``claim_files``."""
    monkeypatch.setenv("SLAPOLICY_LEDGER_KEY", "s3cret")
    ledger = tmp_path / "keyed.sqlite"
    for claim in claim_files(tmp_path):
        assert run_cli("claim", POLICIES, claim, "--ledger", ledger, *NOW, *INPUTS).code == 0
    return ledger


@pytest.mark.slow
def test_a_keyed_chain_needs_the_key_to_forge(tmp_path, monkeypatch):
    ledger = keyed_ledger_of_the_claims(tmp_path, monkeypatch)
    result = run_cli("audit", ledger)
    assert result.code == 0, result.out + result.err
    assert result.out.splitlines()[-2].startswith("chain: 5 entries intact (HMAC-SHA-256 chain); head ")
    # The consistent forgery that passes on a plain chain does not pass here.
    edit(ledger, "UPDATE grants SET amount = '999.00' WHERE seq = 2")
    rechain(ledger)
    result = run_cli("audit", ledger)
    assert result.code == 1
    assert result.out.splitlines()[:2] == [GUARD_NOTE, f"chain: BROKEN: {label(1, 'decision', GLOBEX, 'globex')} {EDITED}"]
    monkeypatch.setenv("SLAPOLICY_LEDGER_KEY", "guess")
    result = run_cli("audit", ledger)
    assert (result.code, result.err) == (1, f"slapolicy: {ledger}: SLAPOLICY_LEDGER_KEY is not the key this ledger was "
                                            "created with\n")
    monkeypatch.delenv("SLAPOLICY_LEDGER_KEY")
    result = run_cli("audit", ledger)
    assert (result.code, result.err) == (1, f"slapolicy: {ledger}: the ledger is sealed with a key: set "
                                            "SLAPOLICY_LEDGER_KEY to the key it was created with\n")


def test_a_key_is_not_taken_by_an_unkeyed_ledger(ledger, monkeypatch, tmp_path):
    monkeypatch.setenv("SLAPOLICY_LEDGER_KEY", "s3cret")
    before = digest(ledger)
    claim = claim_again(tmp_path, 0, "again", "again.json")
    result = run_cli("claim", POLICIES, claim, "--ledger", ledger, *NOW, *INPUTS)
    assert result.code == 1
    unkeyed = (f"slapolicy: {ledger}: SLAPOLICY_LEDGER_KEY is set, but this ledger has no key: it was created without "
               "one (unset the variable, or record new decisions in a new ledger), or its meta table was edited to drop "
               "the key\n")
    assert result.err == unkeyed
    assert (run_cli("audit", ledger).code, run_cli("audit", ledger).err) == (1, unkeyed)
    assert digest(ledger) == before


def test_a_keyed_ledger_marked_unkeyed_and_rechained_is_refused_with_the_key(tmp_path, monkeypatch):
    """The downgrade a forger without the key would try: mark the ledger unkeyed, recompute a plain chain."""
    monkeypatch.setenv("SLAPOLICY_LEDGER_KEY", "s3cret")
    ledger = tmp_path / "keyed.sqlite"
    assert run_cli("claim", POLICIES, claim_files(tmp_path)[0], "--ledger", ledger, *NOW, *INPUTS).code == 0
    edit(ledger, "UPDATE grants SET amount = '999.00' WHERE seq = 2", "UPDATE meta SET value = 'sha256' WHERE key = 'chain'",
         "DELETE FROM meta WHERE key = 'key_check'")
    rechain(ledger)
    result = run_cli("audit", ledger)
    assert result.code == 1
    assert "SLAPOLICY_LEDGER_KEY is set, but this ledger has no key" in result.err


# ---------------------------------------------------------------------------- concurrency

@pytest.mark.slow
def test_eight_claim_processes_with_the_real_clock_then_a_clean_audit(tmp_path):
    """Eight processes decide claims whose outcome ('approved' or 'already compensated') depends on their
    order; the audit decides them again in commit order and finds every decision the same."""
    from test_claims import claim as small_claim

    rows = []
    for month in ("2024-01", "2024-02", "2024-03"):  # as test_claims' 'small': 3000 minutes of failures each month
        rows += minute_rows("small", f"{month}-10T00:00", 3000, 100, 2)
    minutes = write_csv(tmp_path / "minutes.csv", rows)
    billing = tmp_path / "billing.csv"
    billing.write_text("account,month,monthly_fee,offset\n" + "".join(f"small,2023-{m:02d},1.00,0.00\n" for m in range(1, 13))
                       + "small,2024-01,4.00,0.00\nsmall,2024-02,4.00,0.00\nsmall,2024-03,100.00,0.00\n")
    ledger = tmp_path / "ledger.sqlite"
    claims = []
    for i, (month, filed) in enumerate([("2024-01", "2024-02-08"), ("2024-02", "2024-03-08"), ("2024-03", "2024-04-08")] * 2
                                       + [("2024-03", "2024-04-09"), ("2024-01", "2024-02-09")]):
        path = tmp_path / f"claim-{i}.json"
        path.write_text(json.dumps(small_claim(month, filed_at=f"{filed}T10:00+08:00", claim_id=f"c-{i}")))
        claims.append(path)
    env = dict(os.environ, PYTHONPATH=str(REPO / "tests"))
    processes = [subprocess.Popen([sys.executable, "-m", "slapolicy.cli", "claim", str(POLICIES), str(path),
                                   "--minutes", str(minutes), "--billing", str(billing), "--ledger", str(ledger)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
                 for path in claims]
    outcomes = [(p.wait(timeout=300), p.stdout.read(), p.stderr.read()) for p in processes]
    assert [code for code, _, err in outcomes] == [0] * 8, [err for _, _, err in outcomes]
    decisions = [json.loads(out) for _, out, _ in outcomes]
    # Each month is claimed two or three times: which claim comes first, and is approved, depends on the order
    # of commit; the others are denied as already compensated.
    approved = sorted(d["service_month"] for d in decisions if d["decision"] == "approved")
    assert approved == ["2024-01", "2024-02", "2024-03"]
    assert sorted(r["code"] for d in decisions if d["decision"] == "denied" for r in d["reasons"]) == \
        ["already_compensated"] * 5
    with Ledger(ledger) as book:
        granted = {month: str(amount) for month, (amount, _) in book.grants("small").items()}
        assert book.counts() == (8, 3)
    # 50 % of each month's fee (§3.1 tier 3; within each §6.1 window): 4.00 → 2.00, 4.00 → 2.00, 100.00 → 50.00.
    assert granted == {"2024-01": "2.00", "2024-02": "2.00", "2024-03": "50.00"}
    result = run_cli("audit", ledger)
    assert result.code == 0, result.out
    assert result.out.splitlines()[-1] == "8 decision(s) checked: 8 same, 0 differ, 0 unverifiable"


# ---------------------------------------------------------------------------- other files

def test_another_applications_database_is_left_byte_identical(tmp_path, ledger):
    foreign = tmp_path / "crm.db"
    with sqlite3.connect(foreign) as db:
        db.execute("CREATE TABLE customers (name TEXT)")
        db.execute("INSERT INTO customers VALUES ('acme')")
    db.close()
    tagged = tmp_path / "tagged.db"
    shutil.copy(foreign, tagged)
    edit(tagged, "PRAGMA application_id = 1234")
    for path, owner in ((foreign, ""), (tagged, " (application_id 0x4d2)")):
        before = digest(path)
        for result in (run_cli("claim", POLICIES, claim_files(tmp_path)[0], "--ledger", path, *NOW, *INPUTS),
                       run_cli("audit", path)):
            assert result.code == 1
            assert result.err == (f"slapolicy: {path}: not a slapolicy ledger but another SQLite database{owner}; "
                                  "nothing was written to it\n")
        assert digest(path) == before
        assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(path.name)) == [path.name]  # no -wal, -shm


def damaged_copies(ledger, tmp_path):
    data = ledger.read_bytes()
    assert data[16:18] == b"\x10\x00" and len(data) > 6 * 4096  # pages of 4096 bytes, more than six of them
    text = tmp_path / "notes.txt"
    text.write_text("not a database\n" * 100)
    empty = tmp_path / "empty.sqlite"
    empty.write_bytes(b"")
    header = tmp_path / "header.sqlite"
    header.write_bytes(data[:60])
    half = tmp_path / "half.sqlite"
    half.write_bytes(data[:3 * 4096])
    scrambled = tmp_path / "scrambled.sqlite"
    scrambled.write_bytes(data[:4096] + bytes(range(256)) * ((len(data) - 4096) // 256))  # page 1 kept, the rest noise
    return [(text, "not a slapolicy ledger, or a damaged one (file is not a database)"),
            (empty, "an empty file, not a slapolicy ledger"),
            (header, "not a slapolicy ledger, or a damaged one (database disk image is malformed)"),
            (half, "not a slapolicy ledger, or a damaged one (database disk image is malformed)"),
            (scrambled, "the ledger cannot be read or written (database disk image is malformed); if the file is damaged, "
                        "restore it from a backup"),
            (tmp_path, "not a file, so not a slapolicy ledger")]


def test_damaged_truncated_and_non_database_files_are_refused_untouched(ledger, tmp_path):
    for path, message in damaged_copies(ledger, tmp_path):
        before = digest(path) if path.is_file() else None
        for result in (run_cli("claim", POLICIES, claim_files(tmp_path)[0], "--ledger", path, *NOW, *INPUTS),
                       run_cli("audit", path)):
            assert (result.code, result.err) == (1, f"slapolicy: {path}: {message}\n"), path
        assert (digest(path) if path.is_file() else None) == before


@pytest.mark.slow
def test_a_read_only_ledger_is_audited_but_takes_no_decision(ledger, tmp_path):
    ledger.chmod(0o444)
    immutable = subprocess.run(["chattr", "+i", str(ledger)], capture_output=True).returncode == 0 if os.geteuid() == 0 \
        else False
    try:
        try:
            open(ledger, "r+b").close()
            pytest.skip("this user can write a read-only file (root without chattr)")
        except PermissionError:
            pass
        before = digest(ledger)
        claim = claim_again(tmp_path, 0, "again", "again.json")
        result = run_cli("claim", POLICIES, claim, "--ledger", ledger, *NOW, *INPUTS)
        assert result.code == 1
        assert result.err.startswith(f"slapolicy: {ledger}: the ledger cannot be written (")
        assert result.err.endswith("); no decision can be recorded in it\n")
        result = run_cli("audit", ledger)
        assert result.code == 0, result.err
        assert result.out.splitlines()[-1] == "3 decision(s) checked: 3 same, 0 differ, 0 unverifiable"
        result = run_cli("claim", POLICIES, claim_files(tmp_path)[0], "--ledger", ledger, *NOW, *INPUTS)
        assert result.code == 0, result.err  # a claim decided before is answered from the ledger: nothing to write
        assert (result.json()["repeated"], result.json()["compensation"]) == (True, "180.00")
        assert digest(ledger) == before
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(ledger)], check=True)
        ledger.chmod(0o644)


def audited_whole(head: str) -> list:
    """The last three lines of ``audit --checkpoint 5:HEAD`` of the fixture's ledger, untouched."""
    return [chain_line(5, head),
            f"checkpoint 5:{head}: holds (entries #1 to #5 hash to it; the head is the checkpoint)",
            "3 decision(s) checked: 3 same, 0 differ, 0 unverifiable"]


@pytest.mark.slow
def test_a_ledger_in_a_read_only_directory_is_audited_without_a_file_written(ledger, tmp_path):
    # The audit opens the ledger read-only: in a directory it may not write (a read-only mount, a backup), where
    # SQLite cannot make the -shm index beside a WAL ledger, it reads the file as it is on disk (docs/ledger.md,
    # "Reading a ledger that cannot be written"), checkpoint included, and leaves nothing beside it.
    head = stored_hash(ledger, 5)
    before = digest(ledger)
    with read_only(ledger, ledger.parent):
        result = run_cli("audit", ledger, "--checkpoint", f"5:{head}")
        assert result.code == 0, result.out + result.err
        assert result.out.splitlines()[-3:] == audited_whole(head)
        assert run_cli("audit", ledger, "--format", "json").json()["summary"] == {
            "checked": 3, "same": 3, "differs": 0, "unverifiable": 0}
    assert digest(ledger) == before
    assert sorted(p.name for p in ledger.parent.iterdir()) == ["ledger.sqlite"]


def beside(ledger) -> list:
    return sorted(p.name for p in ledger.parent.iterdir() if p.name.startswith(ledger.name))


def test_reading_a_ledger_leaves_nothing_beside_it_that_it_did_not_find(ledger, tmp_path):
    # An audit, or a claim answered again from its record, opens the ledger read-only; SQLite made its -shm index
    # and an empty -wal beside it for the reading, and a read-only connection cannot remove them: they stayed until
    # the next writer came, after every audit
    before = digest(ledger)
    assert beside(ledger) == ["ledger.sqlite"]
    result = run_cli("audit", ledger)
    assert (result.code, result.out.splitlines()[-1]) == (0, "3 decision(s) checked: 3 same, 0 differ, 0 unverifiable")
    assert beside(ledger) == ["ledger.sqlite"]
    result = run_cli("claim", POLICIES, claim_files(tmp_path)[0], "--ledger", ledger, *NOW, *INPUTS)
    assert (result.code, result.json()["repeated"], result.json()["compensation"]) == (0, True, "180.00")
    assert beside(ledger) == ["ledger.sqlite"]
    assert digest(ledger) == before


def test_reading_a_ledger_another_connection_has_open_leaves_its_files_and_its_decisions(ledger, tmp_path):
    # The -wal and -shm are the open connection's: they stay, and what it appends meanwhile is read by the next
    # reading, as SQLite does for readers and writers alike
    with Ledger(ledger) as open_one:
        assert open_one.counts() == (3, 2)
        assert beside(ledger) == ["ledger.sqlite", "ledger.sqlite-shm", "ledger.sqlite-wal"]
        with Ledger(ledger, create=False, readonly=True) as reader:
            assert reader.counts() == (3, 2)
        assert beside(ledger) == ["ledger.sqlite", "ledger.sqlite-shm", "ledger.sqlite-wal"]
        assert open_one.counts() == (3, 2)
    assert beside(ledger) == ["ledger.sqlite"]  # the writer, the last to close, removed them


def test_a_ledger_shared_between_threads_is_refused_as_the_programs_mistake_not_the_files(ledger, tmp_path):
    # SQLite's refusal came out as "the ledger cannot be read or written (SQLite objects created in a thread can only
    # be used in that same thread. …); if the file is damaged, restore it from a backup": a program sharing one
    # Ledger between its threads was told to restore a sound ledger from a backup
    import datetime as dt
    import threading

    from slapolicy import ArgumentError, decide_claim

    before = digest(ledger)
    claim = json.loads((EXAMPLES / "claim-globex-2019-03.json").read_text()) | {"claim_id": "from-a-thread"}
    book = Ledger(ledger)
    raised = []

    def in_another_thread():
        for call in (book.counts, book.decisions, lambda: book.snapshot().__enter__(),
                     lambda: decide_claim(POLICIES, claim, minutes=EXAMPLES / "minutes.csv",
                                          billing=EXAMPLES / "billing.csv", ledger=book,
                                          now=dt.datetime(2019, 4, 12, tzinfo=dt.timezone.utc))):
            try:
                call()
            except Exception as exc:  # noqa: BLE001 — what each call raised, asserted below
                raised.append(exc)

    thread = threading.Thread(target=in_another_thread)
    thread.start()
    thread.join()
    assert [type(exc) for exc in raised] == [ArgumentError] * 4
    assert {str(exc) for exc in raised} == {
        f"{ledger}: this Ledger was opened by another thread, and its SQLite connection serves only the thread that "
        "opened it: open a Ledger in each thread, or give the ledger's path (each call then opens its own); nothing was "
        "read or written"}
    assert book.counts() == (3, 2)  # its own thread's, as ever
    book.close()
    assert digest(ledger) == before


# ---------------------------------------------------------------------------- nothing written on refusal

def test_a_claim_refused_before_its_decision_creates_no_ledger(tmp_path):
    ledger = tmp_path / "new" / "ledger.sqlite"
    bad = tmp_path / "bad.json"
    bad.write_text('{"account": "globex"')
    no_billing = [a for a in INPUTS if a not in ("--billing", EXAMPLES / "billing.csv")]
    for argv, message in ((["claim", POLICIES, bad, "--ledger", ledger, *NOW, *INPUTS], "not valid JSON"),
                          (["claim", POLICIES, claim_files(tmp_path)[0], "--ledger", ledger, *NOW, *no_billing],
                           "billing for account 'globex', 2019-03 is needed to compute the compensation: give --billing FILE")):
        result = run_cli(*argv)
        assert result.code == 1
        assert message in result.err
        assert not ledger.parent.exists()


# ---------------------------------------------------------------------------- format 1

FORMAT_1 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE decisions (decision_id TEXT PRIMARY KEY, claim_digest TEXT NOT NULL UNIQUE, decided_at TEXT NOT NULL,
    account TEXT NOT NULL, service_month TEXT NOT NULL, decision TEXT NOT NULL, policy_version TEXT NOT NULL,
    policy_sha256 TEXT NOT NULL, inputs_digest TEXT NOT NULL, inputs_json TEXT NOT NULL, result_json TEXT NOT NULL);
CREATE TABLE grants (account TEXT NOT NULL, service_month TEXT NOT NULL,
    decision_id TEXT NOT NULL REFERENCES decisions (decision_id), amount TEXT NOT NULL, granted_at TEXT NOT NULL,
    PRIMARY KEY (account, service_month));
INSERT INTO meta VALUES ('schema_version', '1');
"""


def test_a_ledger_of_format_1_is_refused_then_upgraded_in_commit_order(ledger, tmp_path):
    old = tmp_path / "old.sqlite"
    db = sqlite3.connect(old)
    db.execute("PRAGMA journal_mode = WAL")  # as format 1 opened every ledger
    db.executescript(FORMAT_1)
    for entry in entries(ledger):  # in commit order, as the rowids of format 1 recorded it
        columns = [c for c in COLUMNS[entry.kind] if c != "seq"]
        db.execute(f"INSERT INTO {TABLES[entry.kind]} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                   [entry.fields[c] for c in columns])
    db.commit()
    db.close()
    before = digest(old)
    result = run_cli("claim", POLICIES, claim_files(tmp_path)[0], "--ledger", old, *NOW, *INPUTS)
    assert result.code == 1
    assert result.err == (f"slapolicy: {old}: a ledger of an earlier slapolicy (format 1, without a hash chain); upgrade "
                          f"it once with `slapolicy audit --upgrade {old}` (keep a copy first)\n")
    assert digest(old) == before
    result = run_cli("audit", "--upgrade", old)
    assert result.code == 0, result.out + result.err
    with Ledger(ledger) as original, Ledger(old) as upgraded:
        assert upgraded.head == original.head  # the same entries in the same order: the same chain
        assert upgraded.head["entries"] == 5
    # the new head as --checkpoint takes it back, as the audit's own line says it
    assert result.err == f"{old}: upgraded to a chained ledger of 5 entries; head 5:{upgraded.head['hash']}\n"
    assert triggers(old) == GUARD  # upgraded with the append-only guard
    assert result.out.splitlines()[-1] == "3 decision(s) checked: 3 same, 0 differ, 0 unverifiable"
    again = run_cli("audit", "--upgrade", old)
    assert (again.code, again.err) == (1, f"slapolicy: {old}: already a ledger of format 2: nothing to upgrade\n")


# ---------------------------------------------------------------------------- values slapolicy never writes

def cell(path, table, column, where):
    with sqlite3.connect(path) as db:
        row = db.execute(f"SELECT {column} FROM {table} WHERE {where}").fetchone()
    db.close()
    return row[0] if row else None


TARGETS = [("decisions", c, f"seq = {s}") for c in COLUMNS["decision"] + ("entry_hash",) for s in (1, 3)] + \
          [("grants", c, "seq = 2") for c in COLUMNS["grant"] + ("entry_hash",)] + \
          [("meta", "value", f"key = '{k}'") for k in ("format", "chain", "entries", "head")]
ODD_VALUES = st.one_of(st.none(), st.integers(-3, 10), st.floats(allow_nan=False), st.text(max_size=12), st.binary(max_size=6),
                       st.sampled_from(["{}", "[]", "\"x\"", "{\"files\": 1}", "2.0", "approved", "999.00"]))


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(TARGETS), ODD_VALUES, st.booleans())
def test_any_value_in_any_cell_ends_in_exit_0_or_1(history, tmp_path, target, value, recompute):
    """Whatever lands in a cell (bytes, a float sequence number, JSON of another shape), with or without the chain
    recomputed afterwards: audit and claim answer 0 or 1, never an internal error, and an edit is never passed
    over in silence."""
    ledger = tmp_path / f"fuzz-{abs(hash((target, repr(value), recompute)))}.sqlite"
    shutil.copy(history, ledger)
    table, column, where = target
    before = cell(ledger, table, column, where)
    db = sqlite3.connect(ledger)
    try:
        with db:
            db.execute(f"UPDATE {table} SET {column} = ? WHERE {where}", (value,))
    except sqlite3.IntegrityError:
        return  # a NOT NULL or UNIQUE constraint refused the edit: nothing changed
    finally:
        db.close()
    changed = cell(ledger, table, column, where) != before
    if recompute and table != "meta":
        try:
            rechain(ledger)
        except (TypeError, ValueError):  # the attacker's own script trips over the odd value: nothing to test
            return
    audit = run_cli("audit", ledger)
    assert audit.code in (0, 1) and "internal error" not in audit.err, audit.err
    if changed and not recompute:
        assert audit.code == 1
    claim = run_cli("claim", POLICIES, EXAMPLES / "claim-globex-2019-03.json", "--ledger", ledger, *NOW, *INPUTS)
    assert claim.code in (0, 1) and "internal error" not in claim.err, claim.err


@pytest.mark.parametrize("statement,problem", [
    ("UPDATE grants SET seq = 'two' WHERE seq = 2",  # SQLite sorts text after numbers: the gap is met first
     f"entry #2 is missing (deleted): the chain goes from #1 to {label(3, 'decision', ACME, 'acme')}"),
    ("UPDATE grants SET seq = 2.5 WHERE seq = 2", "the grants table holds an entry numbered 2.5, not a whole number: "
                                                  "it was edited"),
    ("UPDATE decisions SET result_json = X'00ff' WHERE seq = 1", f"{label(1, 'decision', GLOBEX, 'globex')} {EDITED}"),
    ("UPDATE meta SET value = 'many' WHERE key = 'entries'", "the ledger's meta table was edited (its format, chain, "
                                                             "entries or head is missing or not as slapolicy writes it)"),
])
def test_odd_values_are_reported_not_crashed_on(ledger, statement, problem):
    edit(ledger, statement)
    result = run_cli("audit", ledger)
    assert result.code == 1
    assert problem in result.out + result.err


def test_a_recomputed_chain_over_a_result_that_is_not_json(ledger):
    edit(ledger, "UPDATE decisions SET result_json = '[1, 2]' WHERE seq = 3")
    rechain(ledger)
    result = run_cli("audit", ledger)
    assert result.code == 1
    assert result.err == (f"slapolicy: {ledger}: {label(3, 'decision', ACME, 'acme')}: its result_json is not the JSON "
                          "object slapolicy wrote: it was edited; restore the ledger from a backup\n")


def test_paths_that_cannot_hold_a_ledger(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    (tmp_path / "afile").write_text("")
    cases = [(Path("/dev/null"), "not a file, so not a slapolicy ledger"), (fifo, "not a file, so not a slapolicy ledger"),
             (loop, "not a file, so not a slapolicy ledger"),
             (tmp_path / "afile" / "ledger.sqlite", f"the ledger cannot be created ({tmp_path / 'afile'} is not a directory)"),
             (tmp_path / "afile" / "sub" / "ledger.sqlite", "the ledger cannot be created (Not a directory)")]
    for path, message in cases:
        result = run_cli("claim", POLICIES, claim_files(tmp_path)[0], "--ledger", path, *NOW, *INPUTS)
        assert (result.code, result.err) == (1, f"slapolicy: {path}: {message}\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "claim-initech.json", "fifo", "loop"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="names the synced file through /proc/self/fd")
def test_a_new_ledger_is_synced_once_whole_before_it_is_linked_into_place(tmp_path, monkeypatch):
    """Built where nobody else looks, without a journal: one sync of the finished file, then the link that makes it the
    ledger (nine syncs when it was built in WAL mode), then a sync of the directory, without which a power loss can
    take the link, and the ledger with a decision already reported, away. The ledger is as before: WAL, the schema
    and guard, the meta."""
    from helpers import record_placing

    steps = record_placing(monkeypatch)
    path = tmp_path / "new.sqlite"
    Ledger(path).close()
    (sync, scratch), (linked, source, target), directory = steps
    assert (sync, linked, source, target, directory) == ("sync file", "link", scratch, str(path),
                                                         ("sync directory", str(tmp_path)))
    assert Path(scratch).parent == tmp_path and not Path(scratch).exists()  # the scratch name is gone, the file stays
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert dict(db.execute("SELECT key, value FROM meta")) == {"format": "2", "chain": "sha256", "entries": "0",
                                                                "head": GENESIS}
    assert {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")} == set(GUARD)
    db.close()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="names the synced file through /proc/self/fd")
def test_the_directories_made_for_a_new_ledger_are_synced_into_their_parents(tmp_path, monkeypatch):
    """The default ledger's folder (~/.local/share/slapolicy) is often made by the first claim: each folder made is
    synced into the one holding it before the ledger is linked into the last, so that a power loss cannot take
    the folder, and the ledger in it, away."""
    from helpers import record_placing

    steps = record_placing(monkeypatch)
    path = tmp_path / "data" / "slapolicy" / "ledger.sqlite"
    Ledger(path).close()
    scratch = steps[2][1]
    assert steps == [("sync directory", str(tmp_path)), ("sync directory", str(tmp_path / "data")),
                     ("sync file", scratch), ("link", scratch, str(path)), ("sync directory", str(path.parent))]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="names the synced file through /proc/self/fd")
def test_a_claim_that_creates_its_ledger_links_it_with_the_decision_in(tmp_path, monkeypatch):
    """The first decision of a new ledger is made in its scratch file, which is then synced once and linked: once
    named, the file holds the decision (an empty ledger linked first, the decision then appended through a new
    WAL and checkpointed at close, took five more syncs, SQLite's, after the minutes were read). Its bytes are
    those of the old order: the same claim appended to an empty ledger."""
    from helpers import record_placing

    steps = record_placing(monkeypatch)
    held, link = [], os.link

    def link_looking(source, target):  # what the file holds as it is named
        db = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        held.append(db.execute("SELECT seq, decision_id FROM decisions").fetchall())
        db.close()
        return link(source, target)

    monkeypatch.setattr(os, "link", link_looking)
    made = tmp_path / "made.sqlite"
    result = run_cli("claim", POLICIES, claim_files(tmp_path)[0], "--ledger", made, *NOW, *INPUTS)
    assert result.code == 0, result.err
    assert (result.json()["decision_id"], result.json()["compensation"], result.json()["repeated"]) == \
        (GLOBEX, "180.00", False)  # §3.1: 10 % of the 1800.00 fee
    scratch = steps[0][1]
    assert steps == [("sync file", scratch), ("link", scratch, str(made)), ("sync directory", str(tmp_path))]
    assert held == [[(1, GLOBEX)]]
    appended = tmp_path / "appended.sqlite"
    Ledger(appended).close()
    again = run_cli("claim", POLICIES, claim_files(tmp_path)[0], "--ledger", appended, *NOW, *INPUTS)
    assert (again.code, again.out) == (0, result.out)
    assert made.read_bytes() == appended.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["appended.sqlite", "claim-initech.json", "made.sqlite"]


@pytest.mark.slow
def test_a_ledger_made_first_by_another_claim_takes_the_decision_made_in_a_scratch_file(tmp_path, monkeypatch):
    """Two claims creating the same ledger at once: the one that links second finds the other's ledger in place,
    drops its scratch file with its decision, and decides again in that ledger, after the other's decision."""
    path = tmp_path / "ledger.sqlite"
    link = os.link

    def another_first(source, target):
        monkeypatch.setattr(os, "link", link)  # the other claim links its own ledger as ever
        other = run_cli("claim", POLICIES, claim_files(tmp_path)[2], "--ledger", path, *NOW, *INPUTS)
        assert (other.code, other.json()["decision_id"]) == (0, INITECH), other.err
        return link(source, target)

    monkeypatch.setattr(os, "link", another_first)
    result = run_cli("claim", POLICIES, claim_files(tmp_path)[0], "--ledger", path, *NOW, *INPUTS)
    assert result.code == 0, result.err
    assert (result.json()["decision_id"], result.json()["compensation"], result.json()["repeated"]) == \
        (GLOBEX, "180.00", False)
    db = sqlite3.connect(path)
    assert db.execute("SELECT seq, decision_id FROM decisions ORDER BY seq").fetchall() == [(1, INITECH), (3, GLOBEX)]
    assert db.execute("SELECT seq, decision_id, amount FROM grants ORDER BY seq").fetchall() == [
        (2, INITECH, "400.00"), (4, GLOBEX, "180.00")]
    db.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["claim-initech.json", "ledger.sqlite"]
    audit = run_cli("audit", path, "--format", "json")
    assert (audit.code, audit.json()["chain"]["entries"], audit.json()["chain"]["intact"]) == (0, 4, True)


def test_a_first_decision_that_fails_leaves_neither_a_ledger_nor_its_scratch_file(tmp_path):
    def build(grants):
        assert grants == {}
        raise InputError("billing for account 'x', 2019-03 is needed to compute the compensation (--billing)")

    with pytest.raises(InputError, match=r"^billing for account 'x', 2019-03 is needed"):
        Ledger(tmp_path / "ledger.sqlite", first_decision=("digest", "x", build))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="names the synced file through /proc/self/fd")
def test_the_audit_s_scratch_ledger_is_not_synced_and_the_ledgers_decisions_are_reported_from_still_are(
        ledger, tmp_path, monkeypatch):
    """The audit decides every claim again into a scratch ledger in a temporary directory that it deletes: syncing
    it (the file, then its directory: two fsyncs at its making, and one at each decision's commit) made nothing
    durable that anyone reads. A ledger a decision is reported from is synced as before."""
    from helpers import record_placing
    from slapolicy.claims.audit import audit_ledger

    steps = record_placing(monkeypatch)
    result = audit_ledger(ledger)
    assert result["summary"] == {"checked": 3, "same": 3, "differs": 0, "unverifiable": 0}
    # before: ("sync file", its scratch name), then ("sync directory", the audit's temporary directory)
    assert [step for step in steps if step[0].startswith("sync")] == []
    steps.clear()
    scratch = Ledger(tmp_path / "scratch.sqlite", durable=False)
    assert scratch._db.execute("PRAGMA synchronous").fetchone() == (0,)  # OFF: its decisions' commits are not synced
    scratch.close()
    kept = Ledger(tmp_path / "kept.sqlite")
    assert kept._db.execute("PRAGMA synchronous").fetchone() != (0,)
    kept.close()
    scratch_link, kept_sync, kept_link, kept_directory = steps
    assert (scratch_link[0], kept_sync[0], kept_link[0], kept_directory) == (
        "link", "sync file", "link", ("sync directory", str(tmp_path)))


# ---------------------------------------------------------------------------- a checkpoint recorded elsewhere

def stored_hash(path, seq):
    db = sqlite3.connect(path)  # closed, not only committed: an open reader keeps the next edit in the -wal file
    try:
        (row,) = db.execute("SELECT entry_hash FROM decisions WHERE seq = ? UNION ALL SELECT entry_hash FROM grants "
                            "WHERE seq = ?", (seq, seq)).fetchall()
    finally:
        db.close()
    return row[0]


def checkpoint_line(result):
    (line,) = [line for line in result.out.splitlines() if line.startswith("checkpoint ")]
    return line


@pytest.mark.slow
def test_a_checkpoint_of_the_ledger_or_of_an_earlier_head_holds(ledger):
    head, second = stored_hash(ledger, 5), stored_hash(ledger, 2)
    result = run_cli("audit", ledger, "--checkpoint", f"5:{head}")
    assert result.code == 0, result.out + result.err
    assert result.out.splitlines()[-3:] == audited_whole(head)
    # a head recorded when the ledger held entries #1 (globex's approval) and #2 (its grant): it grew by 3 since
    result = run_cli("audit", ledger, "--checkpoint", f"2:{second.upper()}", "--format", "json")
    assert result.code == 0, result.err
    assert result.json()["chain"]["checkpoint"] == {"entries": 2, "hash": second, "holds": True, "problem": None}
    assert checkpoint_line(run_cli("audit", ledger, "--checkpoint", f"2:{second}")) == (
        f"checkpoint 2:{second}: holds (entries #1 to #2 hash to it; 3 entries appended since)")
    # the head printed without a checkpoint is what a checkpoint is recorded from: nothing more is said without one
    assert "checkpoint" not in run_cli("audit", ledger, "--format", "json").json()["chain"]


@pytest.mark.slow
def test_a_tail_cut_with_its_head_rewritten_passes_alone_and_fails_against_the_checkpoint(ledger):
    # The truncation docs/ledger.md describes: entries #4 (initech's approval) and #5 (its grant 400.00) deleted, and
    # the head rewritten to #3's hash: a chain consistent in itself, which the audit alone passes.
    head = stored_hash(ledger, 5)
    edit(ledger, "DELETE FROM grants WHERE seq = 5", "DELETE FROM decisions WHERE seq = 4")
    rechain(ledger)
    alone = run_cli("audit", ledger)
    assert alone.code == 0, alone.out
    assert alone.out.splitlines()[-2:] == [chain_line(3, stored_hash(ledger, 3)),
                                           "2 decision(s) checked: 2 same, 0 differ, 0 unverifiable"]
    before = digest(ledger)
    result = run_cli("audit", ledger, "--checkpoint", f"5:{head}")
    assert result.code == 1
    problem = ("the ledger holds 3 entries, not the checkpoint's entry #5: entries #4 to #5 were deleted (its tail cut "
               "and its head rewritten to match), or the ledger was replaced by an older copy")
    assert checkpoint_line(result) == f"checkpoint 5:{head}: FAILS: {problem}"
    assert result.out.splitlines()[-1] == "2 decision(s) checked: 2 same, 0 differ, 0 unverifiable"
    answer = run_cli("audit", ledger, "--checkpoint", f"5:{head}", "--format", "json")
    assert answer.code == 1
    assert answer.json()["chain"]["checkpoint"] == {"entries": 5, "hash": head, "holds": False, "problem": problem}
    one = run_cli("audit", ledger, "--checkpoint", f"4:{head}")
    assert checkpoint_line(one).endswith(": FAILS: the ledger holds 3 entries, not the checkpoint's entry #4: entry #4 "
                                         "was deleted (its tail cut and its head rewritten to match), or the ledger was "
                                         "replaced by an older copy")
    assert digest(ledger) == before  # the audit only reads


@pytest.mark.slow
def test_a_prefix_rewritten_and_rechained_fails_against_the_checkpoint_naming_both_hashes(ledger):
    # acme's denial (#3) deleted and the entries after it renumbered, the chain recomputed: every check of the ledger
    # alone holds (the chain, and the two approvals decided again), but #3 is now initech's decision.
    third = stored_hash(ledger, 3)
    edit(ledger, "DELETE FROM decisions WHERE seq = 3", "UPDATE decisions SET seq = 3 WHERE seq = 4",
         "UPDATE grants SET seq = 4 WHERE seq = 5")
    rechain(ledger)
    assert run_cli("audit", ledger).code == 0
    result = run_cli("audit", ledger, "--checkpoint", f"3:{third}")
    assert result.code == 1
    assert checkpoint_line(result) == (
        f"checkpoint 3:{third}: FAILS: entries #1 to #3 hash to {stored_hash(ledger, 3)}, not to the checkpoint's "
        f"{third}: the ledger was rewritten up to entry #3 (an entry edited, deleted or inserted and the chain "
        "recomputed), or it is another ledger")
    # the entries before the rewrite are as they were: a checkpoint of them still holds
    assert run_cli("audit", ledger, "--checkpoint", f"2:{stored_hash(ledger, 2)}").code == 0


def test_a_checkpoint_behind_a_broken_chain_is_not_vouched_for(ledger):
    head = stored_hash(ledger, 5)
    edit(ledger, "UPDATE grants SET amount = '999.00' WHERE seq = 2")  # #5 still stores the hash recorded
    result = run_cli("audit", ledger, "--checkpoint", f"5:{head}", "--format", "json")
    assert result.code == 1
    assert result.json()["chain"]["checkpoint"] == {
        "entries": 5, "hash": head, "holds": False,
        "problem": "the chain is broken at entry #2, not after the checkpoint's entry #5: entries #1 to #5 cannot be "
                   "vouched for (the chain's line says what is wrong)"}


@pytest.mark.slow
def test_a_ledger_that_grew_since_its_checkpoint_still_extends_it(ledger, tmp_path):
    head = stored_hash(ledger, 5)
    again = claim_again(tmp_path, 1, "acme-again", "acme-again.json")  # acme once more: denied, one entry (#6)
    assert run_cli("claim", POLICIES, again, "--ledger", ledger, *NOW, *INPUTS).code == 0
    result = run_cli("audit", ledger, "--checkpoint", f"5:{head}")
    assert result.code == 0, result.out
    assert checkpoint_line(result) == f"checkpoint 5:{head}: holds (entries #1 to #5 hash to it; 1 entry appended since)"


@pytest.mark.parametrize("given,why", [
    ("5", "'5' is not ENTRIES:HASH (e.g. 5:801c…, 64 hexadecimal digits: the entries and head that slapolicy audit "
          "prints)"),
    (f"five:{'a' * 64}", f"'five:{'a' * 64}' is not ENTRIES:HASH (e.g. 5:801c…, 64 hexadecimal digits: the entries "
                         "and head that slapolicy audit prints)"),
    (f"0:{'a' * 64}", f"'0:{'a' * 64}': a checkpoint names entry #1 or later (the ledger's first decision is entry #1)"),
    ("5:801c", "'5:801c': its hash must be 64 hexadecimal digits (the head audit prints), not 4 character(s)"),
    (f"5:{'g' * 64}", f"'5:{'g' * 64}': its hash must be 64 hexadecimal digits (the head audit prints), not 64 "
                      "character(s) with others among them"),
], ids=["no-colon", "entries-not-a-number", "entry-0", "hash-cut", "hash-not-hex"])
def test_a_checkpoint_not_written_entries_colon_hash_is_a_usage_error(ledger, tmp_path, given, why):
    before = digest(ledger)
    result = run_cli("audit", ledger, "--checkpoint", given)
    assert result.code == 2
    assert result.err.splitlines()[-1] == f"slapolicy audit: error: argument --checkpoint: {why}"
    assert (result.out, digest(ledger)) == ("", before)
    assert sorted(p.name for p in ledger.parent.iterdir()) == ["ledger.sqlite"]
    missing = tmp_path / "none.sqlite"  # refused before any file is looked at
    assert run_cli("audit", missing, "--checkpoint", given).code == 2 and not missing.exists()


def test_a_checkpoint_from_python_is_the_head_as_ledger_head_gives_it(ledger):
    from slapolicy import ArgumentError
    from slapolicy.claims.audit import audit_ledger

    with Ledger(ledger, create=False, readonly=True) as book:
        recorded = book.head
        assert book.verify(checkpoint=recorded)["checkpoint"] == recorded | {"holds": True, "problem": None}
        assert book.verify(f"5:{recorded['hash']}")["checkpoint"]["holds"] is True
    assert audit_ledger(ledger, checkpoint=recorded)["chain"]["checkpoint"]["holds"] is True
    for bad, message in [
            ({"entries": "5", "hash": recorded["hash"]},
             f"checkpoint {{'entries': '5', 'hash': '{recorded['hash']}'}}: entries must be a whole number and hash a "
             "string"),
            (5, "checkpoint must be ENTRIES:HASH (e.g. 5:801c…, 64 hexadecimal digits: the entries and head that "
                "slapolicy audit prints) or a dict {'entries': N, 'hash': H} (as Ledger.head gives), not int")]:
        with pytest.raises(ArgumentError) as refused:
            audit_ledger(ledger, checkpoint=bad)
        assert str(refused.value) == message


@pytest.mark.slow
def test_a_keyed_ledger_s_checkpoint_is_checked_under_its_key(tmp_path, monkeypatch):
    ledger = keyed_ledger_of_the_claims(tmp_path, monkeypatch)
    head = stored_hash(ledger, 5)
    plain = GENESIS
    for entry in entries(ledger):
        plain = Chain(None).link(plain, entry)
    assert head != plain  # the head of an HMAC chain: a SHA-256 checkpoint of the same entries would not hold
    result = run_cli("audit", ledger, "--checkpoint", f"5:{head}")
    assert result.code == 0, result.out + result.err
    assert checkpoint_line(result) == f"checkpoint 5:{head}: holds (entries #1 to #5 hash to it; the head is the checkpoint)"
    # a forger without the key cuts the tail and rechains with SHA-256: refused as the chain is, checkpoint or not
    edit(ledger, "DELETE FROM grants WHERE seq = 5", "DELETE FROM decisions WHERE seq = 4")
    rechain(ledger)
    result = run_cli("audit", ledger, "--checkpoint", f"5:{head}")
    assert result.code == 1
    assert checkpoint_line(result).startswith(f"checkpoint 5:{head}: FAILS: the ledger holds 3 entries, not the "
                                              "checkpoint's entry #5")
    monkeypatch.delenv("SLAPOLICY_LEDGER_KEY")
    result = run_cli("audit", ledger, "--checkpoint", f"5:{head}")
    assert (result.code, result.err) == (1, f"slapolicy: {ledger}: the ledger is sealed with a key: set "
                                            "SLAPOLICY_LEDGER_KEY to the key it was created with\n")


# ---------------------------------------------------------------------------- a key set but empty

EMPTY_KEY = ("SLAPOLICY_LEDGER_KEY is set but empty: set it to the ledger's key, or unset it for a ledger without one "
             "(docs/ledger.md)")


def test_a_key_set_but_empty_is_refused_not_read_as_no_key(ledger, tmp_path, monkeypatch):
    # It was read as no key: a claim created an unkeyed ledger where a key was meant, and a keyed one was refused as
    # "sealed with a key" although the variable was set.
    monkeypatch.setenv("SLAPOLICY_LEDGER_KEY", "")
    before = digest(ledger)
    new = tmp_path / "new" / "ledger.sqlite"
    result = run_cli("claim", POLICIES, claim_files(tmp_path)[0], "--ledger", new, *NOW, *INPUTS)
    assert (result.code, result.out, result.err) == (2, "", f"slapolicy claim: {EMPTY_KEY}\n")
    assert not new.exists() and not new.parent.exists()
    again = claim_again(tmp_path, 0, "again", "again.json")
    result = run_cli("claim", POLICIES, again, "--ledger", ledger, *NOW, *INPUTS)
    assert (result.code, result.err) == (2, f"slapolicy claim: {EMPTY_KEY}\n")
    result = run_cli("audit", ledger)
    assert (result.code, result.out, result.err) == (2, "", f"slapolicy audit: {EMPTY_KEY}\n")
    assert digest(ledger) == before
    from slapolicy import UsageError

    with pytest.raises(UsageError) as refused:
        Ledger(ledger, create=False, readonly=True)
    assert str(refused.value) == EMPTY_KEY


def test_a_second_ledger_opened_in_a_process_leaves_the_first_ones_locks_and_wal_alone(tmp_path):
    # Each Ledger checked that its file was writable by opening and closing it, and closing any descriptor of a file
    # drops every POSIX lock the process holds on it: the first Ledger's connection lost its shared lock, so another
    # process closing its own last connection took the file as its own and removed the -wal under the first one
    # (two services on one ledger answered 'disk I/O error' now and then, under sixteen concurrent claims).
    ledger = tmp_path / "ledger.sqlite"
    Ledger(ledger).close()
    with Ledger(ledger) as first:
        assert first.counts() == (0, 0)  # in use: its connection reads the file through the -wal beside it
        assert (tmp_path / "ledger.sqlite-wal").exists()
        Ledger(ledger).close()  # another thread's ledger, say
        subprocess.run([sys.executable, "-c", "import sqlite3, sys; db = sqlite3.connect(sys.argv[1]); "
                        "db.execute('SELECT count(*) FROM sqlite_master').fetchone(); db.close()", str(ledger)],
                       check=True)
        assert (tmp_path / "ledger.sqlite-wal").exists()  # the other process saw the first connection: not the last
        assert first.counts() == (0, 0)


def test_the_audit_prints_differences_as_the_decision_shows_them_not_as_python_does():
    """Before: 'reasons: recorded ['filed_too_early', 'standard_met'], now ['filed_too_early']', 'compensation:
    recorded 180.00, now None', and each side's reason messages as one Python list of sentences."""
    from slapolicy.claims.audit import render_audit

    told = "Service Availability in 2019-03 was 99.90%, which meets the Service Availability Standard of 99.5%."
    early = "The claim was filed before the claim window opened."
    entry = {"decision_id": "D-1", "account": "acme", "service_month": "2019-03", "status": "differs", "notes": [],
             "differences": {"reasons": {"recorded": ["filed_too_early", "standard_met"], "now": ["filed_too_early"]},
                             "compensation": {"recorded": "180.00", "now": None},
                             "reason_messages": {"recorded": [early, told], "now": [early, "Owed: 10 %."]}}}
    chain = {"intact": True, "entries": 1, "head_checkpoint": "1:" + "ab" * 32, "keyed": False}
    text = render_audit({"decisions": [entry], "chain": chain,
                         "summary": {"checked": 1, "same": 0, "differs": 1, "unverifiable": 0}})
    assert text.splitlines()[:6] == [
        "D-1 acme 2019-03: differs",
        "    reasons: recorded filed_too_early, standard_met, now filed_too_early",
        "    compensation: recorded 180.00, now (none)",
        "    reason_messages: recorded 2, now 2",
        f"      - recorded only: {told}",
        "      + now only: Owed: 10 %."]


def _audit_lines(differences: dict) -> list[str]:
    """The lines `audit --format text` prints for one decision that differs in ``differences``."""
    from slapolicy.claims.audit import render_audit

    entry = {"decision_id": "D-1", "account": "acme", "service_month": "2019-03", "status": "differs", "notes": [],
             "differences": differences}
    chain = {"intact": True, "entries": 1, "head_checkpoint": "1:" + "ab" * 32, "keyed": False}
    text = render_audit({"decisions": [entry], "chain": chain,
                         "summary": {"checked": 1, "same": 0, "differs": 1, "unverifiable": 0}})
    return text.splitlines()[1:-2]  # after the decision's head line, before the chain and the summary


def test_the_audit_says_what_differs_when_the_same_reason_messages_come_in_another_order():
    """Before: only 'reason_messages: recorded 2, now 2', which names no difference at all."""
    assert _audit_lines({"reason_messages": {"recorded": ["A.", "B."], "now": ["B.", "A."]}}) == [
        "    reason_messages: recorded 2, now 2: the same messages in another order",
        "      recorded 1st, now 2nd: A.",
        "      recorded 2nd, now 1st: B."]
    # what stayed in place is not listed; only those moved
    assert _audit_lines({"reason_messages": {"recorded": ["A.", "B.", "C."], "now": ["C.", "B.", "A."]}}) == [
        "    reason_messages: recorded 3, now 3: the same messages in another order",
        "      recorded 1st, now 3rd: A.",
        "      recorded 3rd, now 1st: C."]


def test_the_audit_says_a_reason_message_recorded_twice_is_given_once_now():
    """Before: only 'reason_messages: recorded 2, now 1'; the message on both sides was listed on neither."""
    assert _audit_lines({"reason_messages": {"recorded": ["A.", "A."], "now": ["A."]}}) == [
        "    reason_messages: recorded 2, now 1",
        "      ~ recorded 2 times, now once: A."]
    assert _audit_lines({"reason_messages": {"recorded": ["A.", "B."], "now": ["B.", "A.", "B.", "C."]}}) == [
        "    reason_messages: recorded 2, now 4",
        "      ~ recorded once, now 2 times: B.",
        "      + now only: C.",
        "      recorded 1st, now 2nd: A.",
        "      recorded 2nd, now 1st: B."]
    assert _audit_lines({"reason_messages": {"recorded": ["A.", "A.", "B."], "now": ["B."]}}) == [
        "    reason_messages: recorded 3, now 1",
        "      - recorded only (2 times): A."]


def test_the_audit_shows_values_that_print_alike_as_the_ledger_holds_them():
    """A forged entry whose minutes are the text "42" where the claim decided again gives the number 42 (or nothing
    where an empty list is now) printed 'recorded 42, now 42': a difference that named none."""
    assert _audit_lines({"unavailable_minutes": {"recorded": "42", "now": 42},
                         "reasons": {"recorded": None, "now": []},
                         "compensation": {"recorded": "180.00", "now": "180.01"}}) == [
        '    unavailable_minutes: recorded "42", now 42 (as the ledger\'s JSON holds them: they print alike)',
        "    reasons: recorded null, now [] (as the ledger's JSON holds them: they print alike)",
        "    compensation: recorded 180.00, now 180.01"]
