"""The ledger: an embedded SQLite database of every claim decision and the compensation granted.

Each decision is written in one ``BEGIN IMMEDIATE`` transaction together with its grant,
after the §6.1 aggregate cap was computed from the grants already in the ledger *inside*
that transaction: two processes deciding at once cannot both spend the same room under
the cap, and a crash mid-decision leaves no partial record.

The same claim (same canonical JSON) decided twice returns the first decision and grants
nothing again; a month is compensated at most once per account.
"""
from __future__ import annotations

import json
import os
import sqlite3
import time
from decimal import Decimal
from pathlib import Path

OPEN_TIMEOUT_SECONDS = 60

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS decisions (
    decision_id    TEXT PRIMARY KEY,
    claim_digest   TEXT NOT NULL UNIQUE,
    decided_at     TEXT NOT NULL,
    account        TEXT NOT NULL,
    service_month  TEXT NOT NULL,
    decision       TEXT NOT NULL,
    policy_version TEXT NOT NULL,
    policy_sha256  TEXT NOT NULL,
    inputs_digest  TEXT NOT NULL,
    inputs_json    TEXT NOT NULL,
    result_json    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS grants (
    account       TEXT NOT NULL,
    service_month TEXT NOT NULL,
    decision_id   TEXT NOT NULL REFERENCES decisions (decision_id),
    amount        TEXT NOT NULL,
    granted_at    TEXT NOT NULL,
    PRIMARY KEY (account, service_month)
);
"""
SCHEMA_VERSION = "1"


def default_ledger_path() -> Path:
    """``$XDG_DATA_HOME/slapolicy/ledger.sqlite`` (``~/.local/share/...`` when unset)."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "slapolicy" / "ledger.sqlite"


class LedgerError(Exception):
    pass


class Ledger:
    """One connection per Ledger object; make one per thread (SQLite connections are not shared)."""

    def __init__(self, path: str | os.PathLike, create: bool = True):
        self.path = Path(path)
        if not create and not self.path.exists():
            raise LedgerError(f"{self.path}: no such ledger")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + OPEN_TIMEOUT_SECONDS
        while True:
            try:
                self._db = self._open()
                return
            except sqlite3.OperationalError as exc:
                # Switching a new file to WAL needs a moment alone with it, and SQLite answers "locked" at once
                # (no busy wait) while another connection opens the same new ledger: wait and try again.
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise LedgerError(f"{self.path}: not a slapolicy ledger ({exc})") from None
                time.sleep(0.01)
            except sqlite3.DatabaseError as exc:
                raise LedgerError(f"{self.path}: not a slapolicy ledger ({exc})") from None

    def _open(self):
        db = sqlite3.connect(self.path, timeout=OPEN_TIMEOUT_SECONDS, isolation_level=None)
        try:
            db.execute(f"PRAGMA busy_timeout = {OPEN_TIMEOUT_SECONDS * 1000}")
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA foreign_keys = ON")
            db.executescript(SCHEMA)
            db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def close(self) -> None:
        self._db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- reading

    def find(self, claim_digest: str) -> dict | None:
        row = self._db.execute("SELECT result_json FROM decisions WHERE claim_digest = ?", (claim_digest,)).fetchone()
        return json.loads(row[0]) if row else None

    def grants(self, account: str) -> dict[str, tuple[Decimal, str]]:
        """Service month → (amount granted, decision id) for one account."""
        rows = self._db.execute("SELECT service_month, amount, decision_id FROM grants WHERE account = ?", (account,))
        return {month: (Decimal(amount), decision_id) for month, amount, decision_id in rows}

    def decisions(self) -> list[dict]:
        rows = self._db.execute(
            "SELECT decision_id, decided_at, account, service_month, decision, policy_version, policy_sha256, "
            "inputs_digest, inputs_json, result_json FROM decisions ORDER BY decided_at, decision_id")
        keys = ("decision_id", "decided_at", "account", "service_month", "decision", "policy_version", "policy_sha256",
                "inputs_digest", "inputs", "result")
        out = []
        for row in rows:
            record = dict(zip(keys, row))
            record["inputs"], record["result"] = json.loads(record["inputs"]), json.loads(record["result"])
            out.append(record)
        return out

    def counts(self) -> tuple[int, int]:
        decisions = self._db.execute("SELECT count(*) FROM decisions").fetchone()[0]
        grants = self._db.execute("SELECT count(*) FROM grants").fetchone()[0]
        return decisions, grants

    # -- writing

    def decide(self, claim_digest: str, account: str, build) -> tuple[dict, bool]:
        """Record a decision atomically; (decision, whether it is new).

        ``build(grants)`` receives the account's grants so far (read inside the transaction)
        and returns ``(decision, inputs, grant_amount or None)``.
        """
        self._db.execute("BEGIN IMMEDIATE")
        try:
            existing = self.find(claim_digest)
            if existing is not None:
                self._db.execute("ROLLBACK")
                return existing, False
            decision, inputs, amount = build(self.grants(account))
            self._db.execute(
                "INSERT INTO decisions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (decision["decision_id"], claim_digest, decision["decided_at"], account, decision["service_month"],
                 decision["decision"], decision["policy"]["version"], decision["policy"]["sha256"], decision["inputs_digest"],
                 json.dumps(inputs, sort_keys=True), json.dumps(decision, sort_keys=True)))
            if amount is not None and amount > 0:
                self._db.execute("INSERT INTO grants VALUES (?, ?, ?, ?, ?)",
                                 (account, decision["service_month"], decision["decision_id"], str(amount),
                                  decision["decided_at"]))
            self._db.execute("COMMIT")
            return decision, True
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
