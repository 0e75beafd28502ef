"""A ledger that goes away or changes while a claim is decided (its minutes read): nothing is recorded, and nothing
made in its place; a ledger on a read-only filesystem (docs/ledger.md, "When the ledger cannot be written")."""
import os
import shutil

import pytest

from conftest import POLICIES, run_cli
from slapolicy.ledger import Ledger

EXAMPLES = POLICIES.parent.parent / "examples" / "ccc"


def claim(ledger, document="claim-globex-2019-03.json"):
    return run_cli("claim", POLICIES, EXAMPLES / document, "--minutes", EXAMPLES / "minutes.csv", "--billing",
                   EXAMPLES / "billing.csv", "--ledger", ledger, "--now", "2019-04-10T12:00+00:00")


def while_read(monkeypatch, change):
    """``change`` done as the claim's billing is read, after the ledger was looked into for the claim."""
    import slapolicy.engine as engine

    real = engine.read_billing

    def changed(path):
        change()
        return real(path)
    monkeypatch.setattr(engine, "read_billing", changed)


def kept_with_a_grant(tmp_path):
    """A ledger holding acme's decision (one entry: the claim by email is denied, so no grant)."""
    books = tmp_path / "books"
    books.mkdir()
    first = claim(books / "ledger.sqlite", "claim-acme-2019-03-by-email.json")
    assert first.code == 0, first.err
    return books / "ledger.sqlite"


@pytest.mark.parametrize("change", ["directory removed", "ledger moved", "replaced by a copy",
                                    "replaced by a directory"])
def test_a_ledger_gone_or_replaced_while_the_claim_is_decided_records_nothing(tmp_path, monkeypatch, change):
    """The ledger was there when the claim started (looked into for a decision already made): gone when the
    decision is to be recorded, a new empty one was made in its place (its directory made again), which knows none of
    the grants before (§6.1's cap counts them). Now: exit 1, what happened, and nothing made or changed."""
    path = kept_with_a_grant(tmp_path)
    with Ledger(path) as ledger:
        before = ledger.counts()
    books = path.parent
    changes = {"directory removed": lambda: shutil.move(books, tmp_path / "elsewhere"),
               "ledger moved": lambda: os.rename(path, books / "moved.sqlite"),
               "replaced by a copy": lambda: (shutil.copy(path, books / "copy"), os.replace(books / "copy", path)),
               "replaced by a directory": lambda: (os.rename(path, books / "moved.sqlite"), path.mkdir())}
    while_read(monkeypatch, changes[change])
    result = claim(path)
    assert (result.code, result.out) == (1, "")
    assert result.err == (f"slapolicy: {path}: the ledger was removed, moved or replaced while the claim was decided; "
                          "nothing was recorded: put it back and decide the claim again\n")
    kept = {"directory removed": tmp_path / "elsewhere" / "ledger.sqlite", "ledger moved": books / "moved.sqlite",
            "replaced by a copy": path, "replaced by a directory": books / "moved.sqlite"}[change]
    with Ledger(kept) as ledger:
        assert ledger.counts() == before
    assert os.path.isdir(books) == (change != "directory removed")


@pytest.mark.parametrize("change, said", [
    ("replaced by a copy", "was replaced by another file (a copy put in its place?): decisions recorded since that "
                           "copy was made would be unknown to it; nothing was decided. Start the service (the engine) "
                           "again to use it"),
    ("ledger moved", "is gone (deleted or moved): a new one would not know its grants and could pay a month twice; "
                     "nothing was decided. Put it back, or start the service (the engine) again to begin a new ledger"),
])
def test_a_long_lived_engine_s_ledger_changed_while_a_claim_is_decided_records_nothing(tmp_path, monkeypatch, change,
                                                                                       said):
    """An engine that decided in its ledger (``slapolicy serve``'s) checks it when the next claim starts and again
    before it records: a copy put in its place while that claim's inputs were read opened as well as the ledger, and
    the decision was recorded in the copy (globex approved in a file that was not the service's ledger)."""
    import datetime as dt
    import json

    from slapolicy import Engine, LedgerError

    path = kept_with_a_grant(tmp_path)  # acme's decision, recorded by the CLI
    engine = Engine(POLICIES, ledger=path)
    inputs = {"minutes": str(EXAMPLES / "minutes.csv"), "billing": str(EXAMPLES / "billing.csv"),
              "now": dt.datetime(2019, 4, 10, 12, tzinfo=dt.timezone.utc)}
    acme = json.loads((EXAMPLES / "claim-acme-2019-03-by-email.json").read_text())
    assert engine.decide_claim(acme, **inputs)["decision"] == "denied"  # answered from the ledger: the engine's now
    books = path.parent
    while_read(monkeypatch, {"replaced by a copy": lambda: (shutil.copy(path, books / "copy"),
                                                            os.replace(books / "copy", path)),
                             "ledger moved": lambda: os.rename(path, books / "moved.sqlite")}[change])
    globex = json.loads((EXAMPLES / "claim-globex-2019-03.json").read_text())
    with pytest.raises(LedgerError) as raised:
        engine.decide_claim(globex, **inputs)
    assert str(raised.value) == f"{path}: the ledger this engine recorded decisions in {said}"
    with Ledger(path if change == "replaced by a copy" else books / "moved.sqlite") as ledger:
        assert ledger.counts() == (1, 0)  # acme's decision alone (denied: no grant)
    assert path.exists() == (change == "replaced by a copy")  # none made in place of the one moved


def test_a_ledger_made_by_another_process_while_the_claim_is_decided_is_used(tmp_path, monkeypatch):
    """None when the claim started, one when its decision is recorded (another claim made it): recorded in that one."""
    path = tmp_path / "ledger.sqlite"
    while_read(monkeypatch, lambda: Ledger(path).close())
    result = claim(path)
    assert (result.code, result.json()["decision"]) == (0, "approved")
    with Ledger(path) as ledger:
        assert ledger.counts() == (1, 1)


@pytest.fixture
def mounted(tmp_path):
    """A small filesystem of its own (tmpfs), remounted read-only by ``remount``; skipped where this user cannot
    mount one."""
    import subprocess

    point = tmp_path / "mnt"
    point.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(point)], capture_output=True).returncode:
        pytest.skip("this user cannot mount a filesystem")

    def remount(mode: str):
        subprocess.run(["mount", "-o", f"remount,{mode}", str(point)], check=True)
    try:
        yield point, remount
    finally:
        subprocess.run(["umount", str(point)], check=True)


@pytest.mark.slow
def test_a_ledger_on_a_read_only_filesystem_is_refused_with_nothing_written(mounted):
    """Remounted read-only (a backup, a volume gone read-only after errors): a new claim is refused before its
    decision, naming why (exit 1); a new ledger there is not made; the claim already decided is answered from it
    (nothing to write); the audit reads it."""
    point, remount = mounted
    path = point / "ledger.sqlite"
    assert claim(path).code == 0
    remount("ro")
    result = claim(path, "claim-acme-2019-03-by-email.json")
    assert (result.code, result.out, result.err) == (1, "", f"slapolicy: {path}: the ledger cannot be written "
                                                           "(Read-only file system); no decision can be recorded in it\n")
    result = claim(point / "new.sqlite")
    assert (result.code, result.out, result.err) == (1, "", f"slapolicy: {point / 'new.sqlite'}: the ledger cannot be "
                                                           "created (Read-only file system)\n")
    again = claim(path)
    assert (again.code, again.json()["repeated"]) == (0, True)
    assert run_cli("audit", path).code == 0
    remount("rw")
    assert sorted(p.name for p in point.iterdir()) == ["ledger.sqlite"]
    with Ledger(path) as ledger:
        assert ledger.counts() == (1, 1)
